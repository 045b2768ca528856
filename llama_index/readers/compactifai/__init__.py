"""``llama_index.readers.compactifai``: where LlamaIndex users look for the CompactifAI reader.

The class is :class:`llama_index_compactifai.CompactifAITranscriptReader`, re-exported under
LlamaIndex's own import convention (a PEP 420 namespace portion of ``llama_index.readers``).

Example:
    >>> from llama_index.readers.compactifai import CompactifAITranscriptReader
    >>> CompactifAITranscriptReader.__name__
    'CompactifAITranscriptReader'
"""

from llama_index_compactifai.readers import CompactifAITranscriptReader

__all__ = ["CompactifAITranscriptReader"]
