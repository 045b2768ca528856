"""Helpers for tests that serve canned answers through ``httpx.MockTransport``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import httpx

from compactifai import AsyncCompactifAIClient, CompactifAIClient

Handler = Callable[[httpx.Request], httpx.Response]
BASE_URL = "https://compactifai.test/v1"


def sse(*events: Any, done: bool = True) -> bytes:
    """Encode payloads as an SSE body (dicts are JSON-encoded; strings sent as they are)."""
    out = []
    for event in events:
        data = event if isinstance(event, str) else json.dumps(event)
        out.append(f"data: {data}\n\n")
    if done:
        out.append("data: [DONE]\n\n")
    return "".join(out).encode()


def sse_response(body: bytes | Iterable[bytes], status: int = 200) -> httpx.Response:
    headers = {"content-type": "text/event-stream"}
    if isinstance(body, bytes):
        return httpx.Response(status, headers=headers, content=body)
    return httpx.Response(status, headers=headers, stream=_Chunks(list(body)))


class _Chunks(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body delivered in the given pieces (to test reads split anywhere)."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.closed = False

    def __iter__(self):  # type: ignore[override]
        yield from self.chunks

    async def __aiter__(self):  # type: ignore[override]
        for chunk in self.chunks:
            yield chunk

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


def json_response(payload: Any, status: int = 200, **headers: str) -> httpx.Response:
    content = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
    return httpx.Response(
        status, content=content, headers={"content-type": "application/json", **headers}
    )


class Recorder:
    """A MockTransport handler that answers from a list (one per request) and keeps requests."""

    def __init__(self, *answers: httpx.Response | Exception | Handler) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if not self.answers:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer) and not isinstance(answer, httpx.Response):
            return answer(request)
        return answer

    def body(self, i: int = -1) -> Any:
        return json.loads(self.requests[i].content)


def sync_client(handler: Handler, **kwargs: Any) -> CompactifAIClient:
    kwargs.setdefault("max_retries", 0)
    client = CompactifAIClient(api_key="sk-test-123456", base_url=BASE_URL, **kwargs)
    client._pipeline._client = httpx.Client(
        transport=httpx.MockTransport(handler), headers=client._pipeline._base_headers
    )
    client._pipeline._sleep = lambda s: None
    return client


def async_client(handler: Handler, **kwargs: Any) -> AsyncCompactifAIClient:
    kwargs.setdefault("max_retries", 0)
    client = AsyncCompactifAIClient(
        api_key="sk-test-123456",
        base_url=BASE_URL,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        **kwargs,
    )

    async def no_sleep(_: float) -> None:
        return None

    client._pipeline._sleep = no_sleep
    return client
