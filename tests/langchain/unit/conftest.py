"""Fixtures of the LangChain unit tests: models wired to ``httpx.MockTransport`` handlers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from langchain_compactifai import ChatCompactifAI, CompactifAI
from tests.helpers import BASE_URL, Handler

from .wire import MODEL

KEY = "sk-test-123456"


def chat_model(handler: Handler, **kwargs: Any) -> ChatCompactifAI:
    """A chat model whose sync and async clients answer from ``handler``."""
    kwargs.setdefault("max_retries", 0)
    kwargs.setdefault("api_key", KEY)
    kwargs.setdefault("base_url", BASE_URL)
    kwargs.setdefault("model", MODEL)
    return ChatCompactifAI(
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        **kwargs,
    )


def llm_model(handler: Handler, **kwargs: Any) -> CompactifAI:
    """A completions LLM whose sync and async clients answer from ``handler``."""
    kwargs.setdefault("max_retries", 0)
    kwargs.setdefault("api_key", KEY)
    kwargs.setdefault("base_url", BASE_URL)
    kwargs.setdefault("model", MODEL)
    return CompactifAI(
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        **kwargs,
    )


@pytest.fixture
def make_chat() -> Callable[..., ChatCompactifAI]:
    return chat_model


@pytest.fixture
def make_llm() -> Callable[..., CompactifAI]:
    return llm_model
