"""LlamaIndex integration for CompactifAI (Multiverse Computing), on the ``compactifai`` transport.

Example:
    >>> from llama_index_compactifai import CompactifAI
    >>> llm = CompactifAI(model="cai-llama-3-1-8b-slim", api_key="sk-...")
    >>> llm.metadata.model_name
    'cai-llama-3-1-8b-slim'

The transport (``compactifai``, httpx) is imported when the first ``CompactifAI`` is built,
not here.
"""

from __future__ import annotations

from .llm import CompactifAI

__all__ = [
    "CompactifAI",
    # Transcript reader (readers.py, added by a teammate): export it here.
]
