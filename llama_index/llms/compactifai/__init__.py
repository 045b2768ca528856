"""``llama_index.llms.compactifai``: where LlamaIndex users look for the CompactifAI LLM.

The class is :class:`llama_index_compactifai.CompactifAI`, re-exported under LlamaIndex's own
import convention (this folder is a PEP 420 namespace portion of ``llama_index.llms``).

Example:
    >>> from llama_index.llms.compactifai import CompactifAI
    >>> CompactifAI(model="hypernova-60b", api_key="sk-...").metadata.model_name
    'hypernova-60b'
"""

from llama_index_compactifai.llm import CompactifAI

__all__ = ["CompactifAI"]
