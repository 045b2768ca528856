"""The faults of the reliability matrix, as ``httpx.MockTransport`` handlers.

Each fault has a name, a handler factory (``times``: how many requests fail before the server
recovers; ``None``: it never does) and the outcome the package promises for it.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from compactifai import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CompactifAIError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseDecodeError,
    StreamInterruptedError,
)

CHUNK = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
         "choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": None}]}
LAST = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}]}
USAGE = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
         "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}
COMPLETION = {"id": "c", "object": "chat.completion", "created": 1, "model": "m",
              "choices": [{"index": 0, "finish_reason": "stop",
                           "message": {"role": "assistant", "content": "Hello"}}],
              "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}
TEXT_COMPLETION = {"id": "t", "object": "text_completion", "created": 1, "model": "m",
                   "choices": [{"index": 0, "text": "Hello", "finish_reason": "stop"}],
                   "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}
TEXT_CHUNK = {"id": "t", "object": "text_completion", "created": 1, "model": "m",
              "choices": [{"index": 0, "text": "Hel", "finish_reason": None}]}
TEXT_LAST = {"id": "t", "object": "text_completion", "created": 1, "model": "m",
             "choices": [{"index": 0, "text": "lo", "finish_reason": "stop"}]}
TRANSCRIPT = {"task": "transcribe", "language": "en", "duration": 2.0, "text": "Hello",
              "segments": [{"id": 0, "start": 0.0, "end": 2.0, "text": "Hello",
                            "avg_logprob": -0.1, "no_speech_prob": 0.01}]}
MODELS = {"object": "list", "data": [{"id": "m", "object": "model", "created": 1,
                                      "owned_by": "x", "capabilities": {
                                          "supports_function_calling": True}}]}


def _sse(*payloads: Any, done: bool = True) -> bytes:
    out = b"".join(b"data: " + json.dumps(p).encode() + b"\n\n" for p in payloads)
    return out + (b"data: [DONE]\n\n" if done else b"")


def good_answer(request: httpx.Request) -> httpx.Response:
    """What a healthy server says to any request the matrix sends."""
    path = request.url.path
    if path.endswith("/models"):
        return httpx.Response(200, json=MODELS)
    if path.endswith("/audio/transcriptions"):
        return httpx.Response(200, json=TRANSCRIPT)
    text = path.endswith("/completions") and not path.endswith("/chat/completions")
    if _streamed(request):
        events = (TEXT_CHUNK, TEXT_LAST, USAGE) if text else (CHUNK, LAST, USAGE)
        return httpx.Response(200, content=_sse(*events),
                              headers={"content-type": "text/event-stream"})
    return httpx.Response(200, json=TEXT_COMPLETION if text else COMPLETION)


def _error(status: int, **headers: str) -> httpx.Response:
    body = {"error": {"message": f"injected {status}", "type": "server_error", "code": status}}
    return httpx.Response(status, json=body, headers=headers)


class _BreaksAfterFirst(httpx.SyncByteStream, httpx.AsyncByteStream):
    def __init__(self, first: bytes, exc: Exception | None) -> None:
        self.first, self.exc = first, exc

    def __iter__(self):  # type: ignore[override]
        yield self.first
        if self.exc:
            raise self.exc

    async def __aiter__(self):  # type: ignore[override]
        yield self.first
        if self.exc:
            raise self.exc


def _streamed(request: httpx.Request) -> bool:
    return b'"stream":true' in request.content.replace(b" ", b"")


def _mid_stream(request: httpx.Request, exc: Exception | None) -> httpx.Response:
    if not _streamed(request):
        raise httpx.RemoteProtocolError("peer closed connection without response")
    return httpx.Response(200, headers={"content-type": "text/event-stream"},
                          stream=_BreaksAfterFirst(_sse(CHUNK, done=False), exc))


FAULTS: dict[str, Callable[[httpx.Request], httpx.Response]] = {
    "429 retry-after seconds": lambda r: _error(429, **{"retry-after": "1"}),
    "429 retry-after http-date": lambda r: _error(
        429, **{"retry-after": email.utils.formatdate(time.time() + 1, usegmt=True)}),
    "500": lambda r: _error(500),
    "502": lambda r: _error(502),
    "503": lambda r: _error(503),
    "504": lambda r: _error(504),
    "connection refused": lambda r: (_ for _ in ()).throw(httpx.ConnectError("refused")),
    "reset before response": lambda r: (_ for _ in ()).throw(
        httpx.RemoteProtocolError("Server disconnected without sending a response.")),
    "malformed json": lambda r: httpx.Response(200, content=b'{"choices": [',
                                               headers={"content-type": "application/json"}),
    "malformed sse line": lambda r: httpx.Response(
        200, content=b"data: {not json\n\n", headers={"content-type": "text/event-stream"})
    if _streamed(r) else httpx.Response(200, content=b"{not json"),
    "stalled headers": lambda r: (_ for _ in ()).throw(httpx.ReadTimeout("timed out")),
    "401": lambda r: _error(401),
    "403": lambda r: _error(403),
    "404 unknown model": lambda r: _error(404),
    "400 invalid parameters": lambda r: _error(400),
    "reset mid-stream": lambda r: _mid_stream(r, httpx.ReadError("connection reset by peer")),
    "stream cut before [DONE]": lambda r: _mid_stream(r, None),
    "stalled stream": lambda r: _mid_stream(r, httpx.ReadTimeout("timed out")),
}

#: Faults a retry may cure: with ``times=1`` the call succeeds on the second attempt.
TRANSIENT = {
    "429 retry-after seconds": RateLimitError,
    "429 retry-after http-date": RateLimitError,
    "500": InternalServerError,
    "502": InternalServerError,
    "503": InternalServerError,
    "504": InternalServerError,
    "connection refused": APIConnectionError,
    "reset before response": APIConnectionError,
    "stalled headers": APITimeoutError,
}
#: Unreadable answers to a POST: the server may have generated (and billed) the answer, so
#: the request is never sent again: one request, then this error.
NOT_RESENT: dict[str, type[CompactifAIError]] = {
    "malformed json": ResponseDecodeError,
    "malformed sse line": ResponseDecodeError,
}
#: Faults no retry may cure: one request, then this error.
PERMANENT: dict[str, type[CompactifAIError]] = {
    "401": AuthenticationError,
    "403": PermissionDeniedError,
    "404 unknown model": NotFoundError,
    "400 invalid parameters": BadRequestError,
}
#: Faults after the first streamed event: never retried, the caller learns it is partial.
MID_STREAM = {
    "reset mid-stream": StreamInterruptedError,
    "stream cut before [DONE]": StreamInterruptedError,
    "stalled stream": StreamInterruptedError,
}


@dataclass
class FaultyServer:
    """Fails the first ``times`` requests with ``fault`` (always, if ``times`` is None)."""

    fault: str
    times: int | None = 1
    requests: int = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests += 1
        if self.times is None or self.requests <= self.times:
            return FAULTS[self.fault](request)
        return good_answer(request)
