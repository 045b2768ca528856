"""``llama_index.llms.compactifai``: where LlamaIndex users look for the CompactifAI LLM.

The class is :class:`llama_index_compactifai.CompactifAI`, re-exported under LlamaIndex's own
import convention (this folder is a PEP 420 namespace portion of ``llama_index.llms``).

Example:
    >>> from llama_index.llms.compactifai import CompactifAI
    >>> CompactifAI(model="cai-llama-3-1-8b-slim", api_key="sk-...").metadata.model_name
    'cai-llama-3-1-8b-slim'
"""

from llama_index_compactifai.llm import CompactifAI

__all__ = ["CompactifAI"]
