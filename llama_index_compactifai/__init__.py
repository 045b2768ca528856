"""LlamaIndex integration for CompactifAI (Multiverse Computing), on the ``compactifai`` transport.

- :class:`CompactifAI`: the LLM (chat, completion, streaming, tools).
- :class:`CompactifAITranscriptReader`: audio transcripts as Documents.
- :class:`CompactifAIUsageCallbackHandler`: token usage per model and time window, optionally
  priced, through the ``CallbackManager`` (``compactifai.UsageTally``).

Example:
    >>> from llama_index_compactifai import CompactifAI, CompactifAITranscriptReader
    >>> llm = CompactifAI(model="hypernova-60b", api_key="sk-...")
    >>> llm.metadata.model_name
    'hypernova-60b'

The transport (``compactifai``, httpx) is imported when the first ``CompactifAI`` is built,
or when ``CompactifAITranscriptReader`` is first used, not here.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .llm import CompactifAI

if TYPE_CHECKING:
    from .callbacks import CompactifAIUsageCallbackHandler
    from .readers import CompactifAITranscriptReader

__all__ = ["CompactifAI", "CompactifAITranscriptReader", "CompactifAIUsageCallbackHandler"]

#: public name -> module that defines it (imported when the name is first used).
_LAZY = {
    "CompactifAITranscriptReader": ".readers",
    "CompactifAIUsageCallbackHandler": ".callbacks",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
