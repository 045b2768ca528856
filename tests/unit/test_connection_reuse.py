"""Streamed calls give their connection back to the pool: against a real server on 127.0.0.1.

The server speaks HTTP/1.1 with chunked bodies, as uvicorn does, and sends the chunked
terminator in a write of its own after ``data: [DONE]``; it counts the TCP connections it
accepts and how many are still open.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from compactifai import AsyncCompactifAIClient, CompactifAIClient

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def _event(payload: Any) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return f"data: {data}\n\n".encode()


def _chunk(content: str, finish: str | None = None) -> bytes:
    return _event({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
                   "choices": [{"index": 0, "delta": {"content": content},
                                "finish_reason": finish}]})


class CountingServer:
    """An SSE server in a thread; ``events`` content chunks per answer, then ``[DONE]``."""

    def __init__(self, events: int = 3) -> None:
        self.events = events
        self.accepted = 0
        self.open = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> CountingServer:
        self._thread.start()
        assert self._ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(5)

    def _run(self) -> None:
        self._loop.run_until_complete(self._main())
        self._loop.close()

    async def _main(self) -> None:
        self._stopping = asyncio.Event()
        self._handlers: set[asyncio.Task[None]] = set()
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        await self._stopping.wait()
        server.close()
        for task in self._handlers:
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.accepted += 1
        self.open += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                             b"transfer-encoding: chunked\r\n\r\n")
                events = [_chunk("tok ") for _ in range(self.events)]
                events += [_chunk("", "stop"), _event("[DONE]")]
                for event in events:
                    writer.write(b"%x\r\n%s\r\n" % (len(event), event))
                    await writer.drain()
                await asyncio.sleep(0.001)  # the terminator comes in a read of its own
                writer.write(b"0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.open -= 1
            writer.close()
            self._handlers.discard(task)

    def wait_closed(self, timeout: float = 5.0) -> None:
        """Wait until the server has seen every connection closed by the client."""
        deadline = time.monotonic() + timeout
        while self.open and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.open == 0


@pytest.fixture
def server() -> Iterator[CountingServer]:
    with CountingServer() as s:
        yield s


def test_sequential_sync_streams_share_one_connection(server: CountingServer) -> None:
    with CompactifAIClient(api_key="sk-test", base_url=server.base_url, max_retries=0) as client:
        for _ in range(100):
            chunks = list(client.chat_completion_stream(**CHAT))
            assert len(chunks) == server.events + 1
    assert server.accepted == 1
    server.wait_closed()


BACKENDS = ["httpx", pytest.param("aiohttp", marks=pytest.mark.skipif(
    importlib.util.find_spec("httpx_aiohttp") is None, reason="the aiohttp extra is not installed"
))]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_sequential_async_streams_share_one_connection(
    server: CountingServer, backend: str
) -> None:
    async with AsyncCompactifAIClient(
        api_key="sk-test", base_url=server.base_url, max_retries=0, http_backend=backend
    ) as client:
        for _ in range(100):
            chunks = [c async for c in client.chat_completion_stream(**CHAT)]
            assert len(chunks) == server.events + 1
    assert server.accepted == 1
    await asyncio.to_thread(server.wait_closed)


def test_an_early_exit_closes_its_connection_and_the_next_call_works() -> None:
    with CountingServer(events=2000) as server, CompactifAIClient(
        api_key="sk-test", base_url=server.base_url, max_retries=0
    ) as client:
        for _ in client.chat_completion_stream(**CHAT):
            break  # a half-read body cannot serve another request: its socket is closed
        server.wait_closed()
        for _ in range(5):
            assert len(list(client.chat_completion_stream(**CHAT))) == 2001
        assert server.accepted == 2  # the broken one, then one for the five whole streams


@pytest.mark.parametrize("backend", BACKENDS)
async def test_an_async_early_exit_closes_its_connection_and_the_next_call_works(
    backend: str,
) -> None:
    with CountingServer(events=2000) as server:
        async with AsyncCompactifAIClient(
            api_key="sk-test", base_url=server.base_url, max_retries=0, http_backend=backend
        ) as client:
            stream = client.chat_completion_stream(**CHAT)
            async for _ in stream:
                break
            await stream.aclose()
            await asyncio.to_thread(server.wait_closed)
            for _ in range(5):
                assert len([c async for c in client.chat_completion_stream(**CHAT)]) == 2001
            assert server.accepted == 2
