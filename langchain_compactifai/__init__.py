"""LangChain integration for CompactifAI (by Multiverse Computing).

- :class:`ChatCompactifAI`: chat model (invoke/stream/batch, tools, structured output).
- :class:`CompactifAI`: text-completion LLM over ``/completions``.
- :func:`list_compactifai_models` / :func:`get_compactifai_model_profile`: the catalogue.
- :class:`CompactifAITranscriptLoader` / :class:`CompactifAITranscriptParser`: audio
  transcripts as Documents.
- :class:`CompactifAIUsageCallbackHandler` / :func:`get_compactifai_callback`: token usage
  per model and time window, optionally priced (``compactifai.UsageTally``).

Names are imported on first use, so ``import langchain_compactifai`` stays cheap.

Example:
    .. code-block:: python

        from langchain_compactifai import ChatCompactifAI

        llm = ChatCompactifAI()  # COMPACTIFAI_API_KEY; the model: COMPACTIFAI_MODEL or a default
        print(llm.invoke("Hello!").content)
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._common import ModelCapabilityError
    from .callbacks import CompactifAIUsageCallbackHandler, get_compactifai_callback
    from .chat_models import ChatCompactifAI
    from .document_loaders import CompactifAITranscriptLoader, CompactifAITranscriptParser
    from .llms import CompactifAI
    from .models import get_compactifai_model_profile, list_compactifai_models

__all__ = [
    "ChatCompactifAI",
    "CompactifAI",
    "CompactifAITranscriptLoader",
    "CompactifAITranscriptParser",
    "CompactifAIUsageCallbackHandler",
    "ModelCapabilityError",
    "get_compactifai_callback",
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
    "CompactifAIUsageCallbackHandler": ".callbacks",
    "get_compactifai_callback": ".callbacks",
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
