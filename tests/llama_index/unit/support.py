"""Builders for unit tests: a ``CompactifAI`` whose transport clients answer from a Recorder."""

from __future__ import annotations

from typing import Any

import httpx

from llama_index_compactifai import CompactifAI
from tests.helpers import BASE_URL, Recorder

API_KEY = "sk-unit-test-123456"


def make_llm(rec: Recorder, **kwargs: Any) -> CompactifAI:
    """An LLM on MockTransports served by ``rec`` (sync and async), retries without sleeping."""
    kwargs.setdefault("max_retries", 0)
    kwargs.setdefault("temperature", 0)
    llm = CompactifAI(
        api_key=API_KEY,
        base_url=BASE_URL,
        http_client=httpx.Client(transport=httpx.MockTransport(rec)),
        async_http_client=httpx.AsyncClient(transport=httpx.MockTransport(rec)),
        **kwargs,
    )

    async def no_sleep(_: float) -> None:
        return None

    llm._sync_client()._pipeline._sleep = lambda _s: None
    llm._async_client()._pipeline._sleep = no_sleep
    return llm


def completion(
    content: str | None = "Hello!",
    *,
    tool_calls: list[dict[str, Any]] | None = None,
    usage: dict[str, int] | None = None,
    **message: Any,
) -> dict[str, Any]:
    """A chat completion answer as the API sends it."""
    msg: dict[str, Any] = {"role": "assistant", "content": content, **message}
    if tool_calls is not None:
        msg["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1749600000,
        "model": "hypernova-60b",
        "choices": [{"index": 0, "message": msg, "finish_reason": "stop"}],
        "usage": usage or {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
    }


def chunk(delta: dict[str, Any] | None = None, *, usage: dict[str, int] | None = None,
          finish: str | None = None) -> dict[str, Any]:
    """One ``chat.completion.chunk``; no delta and a usage gives the usage-only last chunk."""
    out: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1749600000,
        "model": "hypernova-60b",
        "choices": [] if delta is None else [
            {"index": 0, "delta": delta, "finish_reason": finish}
        ],
    }
    if usage is not None:
        out["usage"] = usage
    return out


USAGE = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}


def text_chunks(*pieces: str, usage: bool = True) -> list[dict[str, Any]]:
    out = [chunk({"role": "assistant", "content": ""})]
    out += [chunk({"content": p}) for p in pieces]
    out.append(chunk({}, finish="stop"))
    if usage:
        out.append(chunk(usage=USAGE))
    return out


_ABSENT: Any = object()


def tool_delta(index: int | None, *, id: str | None = None, name: str | None = None,
               arguments: Any = _ABSENT) -> dict[str, Any]:
    """A chunk carrying one tool-call delta (``arguments=None`` sends an explicit null)."""
    call: dict[str, Any] = {"function": {}}
    if index is not None:
        call["index"] = index
    if id is not None:
        call["id"] = id
        call["type"] = "function"
    if name is not None:
        call["function"]["name"] = name
    if arguments is not _ABSENT:
        call["function"]["arguments"] = arguments
    return chunk({"tool_calls": [call]})
