"""LlamaIndex's own import paths reach our classes, beside llama-index-core's namespace."""

from __future__ import annotations

import importlib
import pathlib

import llama_index_compactifai
from llama_index_compactifai.readers import CompactifAITranscriptReader


def test_llama_index_llms_compactifai_is_our_llm() -> None:
    from llama_index.llms.compactifai import CompactifAI

    assert CompactifAI is llama_index_compactifai.CompactifAI


def test_llama_index_readers_compactifai_is_our_reader() -> None:
    from llama_index.readers.compactifai import CompactifAITranscriptReader as Reader

    assert Reader is CompactifAITranscriptReader


def test_the_namespace_still_holds_llama_index_core() -> None:
    core = importlib.import_module("llama_index.core")
    assert core.__file__ is not None
    # Our portion ships no __init__.py at llama_index/ or llama_index/llms/ (PEP 420), so
    # llama-index-core's package and every other integration stay importable beside it.
    root = pathlib.Path(__file__).resolve().parents[3]
    assert not (root / "llama_index" / "__init__.py").exists()
    assert not (root / "llama_index" / "llms" / "__init__.py").exists()
    assert not (root / "llama_index" / "readers" / "__init__.py").exists()
