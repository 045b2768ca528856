"""Cassette tests of the LlamaIndex integration, recorded from the local server (SmolLM2-135M).

Every test runs inside its own cassette (the root conftest's ``cassette`` fixture): CI replays
them offline; ``COMPACTIFAI_RECORD=1`` with ``COMPACTIFAI_BASE_URL``/``COMPACTIFAI_API_KEY``
pointing at ``compactifai-local`` records them again (``scripts/record_cassettes.py``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from llama_index_compactifai import CompactifAI

MODEL = "smollm2-135m-instruct"


@pytest.fixture(autouse=True)
def _every_test_in_a_cassette(cassette: Any) -> Any:
    """Every test here runs inside its own cassette (the root conftest's one policy)."""
    return cassette


@pytest.fixture
def make_llm() -> Callable[..., CompactifAI]:
    """An LLM on the local server's chat model, deterministic (temperature 0), no retries."""

    def build(**kwargs: Any) -> CompactifAI:
        kwargs.setdefault("model", MODEL)
        kwargs.setdefault("temperature", 0)
        kwargs.setdefault("max_tokens", 48)
        kwargs.setdefault("max_retries", 0)
        return CompactifAI(
            api_key=kwargs.pop("api_key", os.environ["COMPACTIFAI_API_KEY"]),
            base_url=os.environ["COMPACTIFAI_BASE_URL"],
            **kwargs,
        )

    return build


@pytest.fixture
def llm(make_llm: Callable[..., CompactifAI]) -> CompactifAI:
    return make_llm()
