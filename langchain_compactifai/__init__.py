"""LangChain integration for CompactifAI (by Multiverse Computing).

- :class:`ChatCompactifAI`: chat model (invoke/stream/batch, tools, structured output).
- :class:`CompactifAI`: text-completion LLM over ``/completions``.
- :func:`list_compactifai_models` / :func:`get_compactifai_model_profile`: the catalogue.
- :class:`CompactifAITranscriptLoader` / :class:`CompactifAITranscriptParser`: audio
  transcripts as Documents.

Names are imported on first use, so ``import langchain_compactifai`` stays cheap.

Example:
    .. code-block:: python

        from langchain_compactifai import ChatCompactifAI

        llm = ChatCompactifAI(model="cai-llama-3-1-8b-slim")  # key from COMPACTIFAI_API_KEY
        print(llm.invoke("Hello!").content)
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._common import ModelCapabilityError
    from .chat_models import ChatCompactifAI
    from .document_loaders import CompactifAITranscriptLoader, CompactifAITranscriptParser
    from .llms import CompactifAI
    from .models import get_compactifai_model_profile, list_compactifai_models

__all__ = [
    "ChatCompactifAI",
    "CompactifAI",
    "CompactifAITranscriptLoader",
    "CompactifAITranscriptParser",
    "ModelCapabilityError",
    "get_compactifai_model_profile",
    "list_compactifai_models",
]

#: public name -> module that defines it (imported when the name is first used).
_EXPORTS = {
    "ChatCompactifAI": ".chat_models",
    "CompactifAI": ".llms",
    "ModelCapabilityError": "._common",
    "get_compactifai_model_profile": ".models",
    "list_compactifai_models": ".models",
    "CompactifAITranscriptLoader": ".document_loaders",
    "CompactifAITranscriptParser": ".document_loaders",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
