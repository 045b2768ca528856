"""The async client across event loops: no "Event loop is closed", no unclosed connections.

These tests use real sockets (a tiny keep-alive HTTP server on 127.0.0.1), because the
failure they guard against lives in connection pools, which a mock transport does not have.
"""

from __future__ import annotations

import asyncio
import gc
import json
import threading
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from langchain_compactifai import ChatCompactifAI, CompactifAI

from .wire import completion, text_stream


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: connections stay in the pool between calls

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if body.get("stream"):
            payload = "".join(f"data: {json.dumps(c)}\n\n" for c in text_stream("a", "b"))
            data = (payload + "data: [DONE]\n\n").encode()
            ctype = "text/event-stream"
        elif self.path.endswith("/completions") and "prompt" in body:
            data = json.dumps(
                {
                    "id": "cmpl-1",
                    "object": "text_completion",
                    "created": 1,
                    "model": body["model"],
                    "choices": [{"text": " ok", "index": 0, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }
            ).encode()
            ctype = "application/json"
        else:
            data = json.dumps(completion("pong")).encode()
            ctype = "application/json"
        self.send_response(200)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default backlog of 5 resets a burst of connections
    daemon_threads = True


@pytest.fixture
def server_url() -> Iterator[str]:
    server = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def _bad(caught: list[warnings.WarningMessage]) -> list[str]:
    return [
        f"{w.category.__name__}: {w.message}"
        for w in caught
        if issubclass(w.category, ResourceWarning)
        or "Event loop is closed" in str(w.message)
        or "unclosed" in str(w.message).lower()
    ]


def test_many_ainvoke_calls_across_several_event_loops(server_url: str) -> None:
    llm = ChatCompactifAI(api_key="k", base_url=server_url, max_retries=0)

    async def burst() -> list[str]:
        answers = await asyncio.gather(*(llm.ainvoke("ping") for _ in range(25)))
        return [str(a.content) for a in answers]

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(4):
            assert asyncio.run(burst()) == ["pong"] * 25
        gc.collect()
    assert _bad(caught) == []


def test_astream_across_event_loops_and_early_exit(server_url: str) -> None:
    llm = ChatCompactifAI(api_key="k", base_url=server_url, max_retries=0)

    async def full() -> str:
        return "".join([str(c.content) async for c in llm.astream("hi")])

    async def first_only() -> None:
        async for _ in llm.astream("hi"):
            break

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            assert asyncio.run(full()) == "ab"
            asyncio.run(first_only())
        gc.collect()
    assert _bad(caught) == []


def test_sync_and_async_share_one_model(server_url: str) -> None:
    llm = ChatCompactifAI(api_key="k", base_url=server_url, max_retries=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert llm.invoke("x").content == "pong"
        assert asyncio.run(llm.ainvoke("x")).content == "pong"
        assert llm.invoke("x").content == "pong"
        assert asyncio.run(llm.ainvoke("x")).content == "pong"
        llm.client.close()
        gc.collect()
    assert _bad(caught) == []


def test_llm_agenerate_across_event_loops(server_url: str) -> None:
    llm = CompactifAI(api_key="k", base_url=server_url, max_retries=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            assert asyncio.run(llm.ainvoke("say")) == " ok"
        gc.collect()
    assert _bad(caught) == []
