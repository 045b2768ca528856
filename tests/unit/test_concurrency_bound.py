"""The async client keeps at most ``_MAX_IN_FLIGHT`` requests in flight per pool it owns.

The others wait in line in the client (not in httpcore's pool, whose queue costs O(queue x
connections) per state change). These tests shrink the bound to 3 and count, in the transport
itself, how many requests are in flight: a request from the moment it reaches the transport
until its body is closed. They check the bound, and that every way a call can end gives its
slot back: answered, cancelled while waiting, cancelled while sent, a stream exhausted, closed
early, or abandoned and collected.
"""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest

from compactifai import AsyncCompactifAIClient, AsyncStream
from compactifai import _pipeline as pipeline_module

BOUND = 3
MESSAGES = [{"role": "user", "content": "hi"}]
ANSWER = json.dumps(
    {
        "id": "c",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": "hello"},
            }
        ],
    }
).encode()


def _event(content: str, finish: str | None = None) -> bytes:
    chunk = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish}],
    }
    return f"data: {json.dumps(chunk)}\n\n".encode()


STREAM_EVENTS = [_event("hel"), _event("lo", "stop"), b"data: [DONE]\n\n"]


class _CountedBody(httpx.AsyncByteStream):
    """A body that counts as in flight until it is closed (once)."""

    def __init__(self, transport: GatedTransport, parts: list[bytes]) -> None:
        self._transport = transport
        self._parts = parts
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self._parts:
            await asyncio.sleep(0)
            yield part

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._transport.in_flight -= 1


class GatedTransport(httpx.AsyncBaseTransport):
    """Holds every request at its door until ``gate`` is set; counts requests in flight."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.gate.set()
        self.entered = 0
        self.in_flight = 0
        self.most = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.entered += 1
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await self.gate.wait()
        except BaseException:
            self.in_flight -= 1
            raise
        if request.headers.get("accept") == "text/event-stream":
            return httpx.Response(
                200,
                headers={"content-type": "text/event-stream"},
                stream=_CountedBody(self, STREAM_EVENTS),
            )
        return httpx.Response(
            200,
            headers={"content-type": "application/json"},
            stream=_CountedBody(self, [ANSWER]),
        )


async def _settle() -> None:
    """Let every runnable task run until it waits (no clock involved)."""
    for _ in range(50):
        await asyncio.sleep(0)


@pytest.fixture(params=["httpx-direct", "httpx-through-client", "aiohttp"])
def bounded(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[AsyncCompactifAIClient, GatedTransport]]:
    """A client whose own pool sends to a GatedTransport, with the bound shrunk to 3.

    ``httpx-through-client`` sends through httpx's client layer (as when proxies are set);
    ``aiohttp`` builds the pool the way the aiohttp backend does.
    """
    monkeypatch.setattr(pipeline_module, "_MAX_IN_FLIGHT", BOUND)
    transport = GatedTransport()
    if request.param == "aiohttp":
        pytest.importorskip("httpx_aiohttp")
        monkeypatch.setattr(pipeline_module, "_aiohttp_transport", lambda: transport)
        backend = "aiohttp"
    else:
        original = pipeline_module._PipelineBase._new_client_kwargs

        def with_transport(self: Any) -> dict[str, Any]:
            return {**original(self), "transport": transport}

        monkeypatch.setattr(pipeline_module.AsyncPipeline, "_new_client_kwargs", with_transport)
        monkeypatch.setattr(pipeline_module, "_PROXIED", request.param == "httpx-through-client")
        backend = "httpx"
    client = AsyncCompactifAIClient(
        api_key="sk-test", base_url="http://bound.test/v1", max_retries=0, http_backend=backend
    )
    yield client, transport


def _ask(client: AsyncCompactifAIClient) -> asyncio.Task[Any]:
    return asyncio.ensure_future(client.chat_completion(model="m", messages=MESSAGES))


async def test_no_more_than_the_bound_are_in_flight_and_the_rest_wait_their_turn(
    bounded: tuple[AsyncCompactifAIClient, GatedTransport],
) -> None:
    client, transport = bounded
    transport.gate.clear()
    calls = [_ask(client) for _ in range(12)]
    await _settle()
    assert transport.entered == BOUND  # the other 9 wait in the client, not in the pool
    transport.gate.set()
    answers = await asyncio.gather(*calls)
    assert [a.choices[0].message.content for a in answers] == ["hello"] * 12
    assert transport.entered == 12
    assert transport.most == BOUND
    assert transport.in_flight == 0
    await client.aclose()


async def test_a_call_cancelled_in_line_or_while_sent_gives_no_slot_away(
    bounded: tuple[AsyncCompactifAIClient, GatedTransport],
) -> None:
    client, transport = bounded
    transport.gate.clear()
    sent = [_ask(client) for _ in range(BOUND)]
    waiting = [_ask(client) for _ in range(2)]
    await _settle()
    assert transport.entered == BOUND
    waiting[0].cancel()  # in line
    sent[0].cancel()  # at the transport's door
    await _settle()
    # The freed slot went to the waiter still in line, not to the cancelled one.
    assert transport.entered == BOUND + 1
    assert transport.in_flight == BOUND
    transport.gate.set()
    results = await asyncio.gather(*sent, *waiting, return_exceptions=True)
    assert isinstance(results[0], asyncio.CancelledError)
    assert isinstance(results[BOUND], asyncio.CancelledError)
    assert transport.in_flight == 0
    # Every slot is free again: BOUND new calls are all let through at once.
    transport.gate.clear()
    again = [_ask(client) for _ in range(BOUND + 1)]
    await _settle()
    assert transport.in_flight == BOUND
    transport.gate.set()
    await asyncio.gather(*again)
    assert transport.most == BOUND
    await client.aclose()


async def test_a_stream_holds_its_slot_until_it_is_exhausted_closed_or_collected(
    bounded: tuple[AsyncCompactifAIClient, GatedTransport],
) -> None:
    client, transport = bounded

    async def open_stream() -> AsyncStream[Any]:
        stream = client.chat_completion_stream(model="m", messages=MESSAGES)
        await stream.__anext__()  # sent; one event read; the body stays open
        return stream

    async def a_call_waits_until(free_one_slot: Callable[[], Awaitable[None]]) -> None:
        call = _ask(client)
        await _settle()
        assert transport.in_flight == BOUND
        assert not call.done()  # every slot is held by an open stream
        await free_one_slot()
        await asyncio.wait_for(call, 10)  # a safety net only: the slot is given back at once

    streams = [await open_stream() for _ in range(BOUND)]

    async def exhaust() -> None:
        assert [chunk async for chunk in streams.pop(0)]

    async def close_early() -> None:  # as when the caller breaks out of its loop
        await streams.pop(0).aclose()

    async def abandon() -> None:  # never closed by the caller: the loop closes it once collected
        streams.pop(0)
        gc.collect()

    for free_one_slot in (exhaust, close_early, abandon):
        await a_call_waits_until(free_one_slot)
        streams.append(await open_stream())

    for stream in streams:
        await stream.aclose()
    await _settle()
    assert transport.in_flight == 0
    assert transport.most == BOUND
    await client.aclose()


async def test_a_callers_own_http_client_keeps_its_own_limits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pipeline_module, "_MAX_IN_FLIGHT", BOUND)
    transport = GatedTransport()
    transport.gate.clear()
    async with httpx.AsyncClient(transport=transport) as http_client:
        client = AsyncCompactifAIClient(
            api_key="sk-test",
            base_url="http://bound.test/v1",
            max_retries=0,
            http_client=http_client,
        )
        calls = [_ask(client) for _ in range(BOUND + 2)]
        await _settle()
        assert transport.entered == BOUND + 2
        transport.gate.set()
        await asyncio.gather(*calls)
