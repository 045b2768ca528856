"""Connections and event loops: no leaks across asyncio.run calls, streams released early."""

from __future__ import annotations

import asyncio
import gc
import json
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from llama_index.core.base.llms.types import ChatMessage

from compactifai._pipeline import _PipelineBase
from llama_index_compactifai import CompactifAI
from tests.helpers import BASE_URL, Recorder, json_response, sse, sse_response
from tests.llama_index.unit.support import completion, make_llm, text_chunks

HI = [ChatMessage(role="user", content="Hi")]


def _answer(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.read())
    if body.get("stream"):
        return sse_response(sse(*text_chunks("a", "b")))
    return json_response(completion("ok"))


@pytest.fixture
def owned_pools(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Let the transport build its own pools (one per loop), on a MockTransport."""
    built: list[Any] = []
    original = _PipelineBase._new_client_kwargs

    def kwargs(self: _PipelineBase) -> dict[str, Any]:
        out = original(self)
        out["transport"] = httpx.MockTransport(_answer)
        return out

    monkeypatch.setattr(_PipelineBase, "_new_client_kwargs", kwargs)
    yield built


def test_many_achat_calls_across_event_loops_leak_nothing(owned_pools: list[Any]) -> None:
    llm = CompactifAI(api_key="sk-loop-test", base_url=BASE_URL, max_retries=0)
    pools: list[httpx.AsyncClient] = []

    async def burst() -> None:
        results = await asyncio.gather(*(llm.achat(HI) for _ in range(20)))
        assert all(r.message.content == "ok" for r in results)
        responses = [r async for r in await llm.astream_chat(HI)]
        assert responses[-1].message.content == "ab"
        pools.append(await llm._async_client()._pipeline.http_client())

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(5):
            asyncio.run(burst())
        gc.collect()
    assert len(set(map(id, pools))) == 5  # one pool per loop ...
    assert all(pool.is_closed for pool in pools)  # ... closed with its loop
    assert llm._async_client() is llm._async_client()  # one transport client throughout


def test_sync_and_async_calls_share_one_llm(owned_pools: list[Any]) -> None:
    llm = CompactifAI(api_key="sk-loop-test", base_url=BASE_URL, max_retries=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert llm.chat(HI).message.content == "ok"
        assert asyncio.run(llm.achat(HI)).message.content == "ok"
        assert llm.complete("x").text == "ok"
        assert asyncio.run(llm.acomplete("x")).text == "ok"
        gc.collect()


def _chunked_stream() -> tuple[Recorder, list[Any]]:
    pieces = [sse(*text_chunks(*"abcdef"), done=False)[i:i + 40] for i in range(0, 2000, 40)]
    response = sse_response([p for p in pieces if p] + [b"data: [DONE]\n\n"])
    return Recorder(response), [response.stream]


def test_breaking_out_of_a_stream_releases_the_connection() -> None:
    rec, streams = _chunked_stream()
    gen = make_llm(rec).stream_chat(HI)
    next(gen)
    next(gen)
    gen.close()
    assert streams[0].closed


async def test_breaking_out_of_an_async_stream_releases_the_connection() -> None:
    rec, streams = _chunked_stream()
    gen = await make_llm(rec).astream_chat(HI)
    async for _ in gen:
        break
    await gen.aclose()
    # The framework's callback wrapper drops our generator without closing it; the event
    # loop's async-generator finalizer closes it (and so the response) on its next turns.
    gc.collect()
    for _ in range(3):
        await asyncio.sleep(0)
    assert streams[0].closed


def test_rate_limit_reaches_the_transport_and_survives_pickling() -> None:
    import pickle

    from compactifai import ConfigurationError, RateLimit
    from llama_index_compactifai import CompactifAI

    limit = RateLimit(requests_per_second=3)
    llm = CompactifAI(model="m", api_key="sk-x", base_url="http://127.0.0.1:1/v1",
                      rate_limit=limit)
    assert llm._sync_client().config.rate_limit is limit
    copy = pickle.loads(pickle.dumps(llm))
    assert copy._sync_client().config.rate_limit.requests_per_second == 3
    with pytest.raises(ConfigurationError):
        CompactifAI(model="m", api_key="sk-x", rate_limit=5)
