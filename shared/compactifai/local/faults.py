"""Fault injection for retry and stream tests; active only with ``--enable-faults``.

A request chooses its fault with the ``X-Fault`` header:

==================  ===========================================================================
``429``             429 with ``Retry-After: 1``
``429-date``        429 with ``Retry-After`` as an HTTP date 1-2 s ahead
``500`` ... ``504`` that status (500, 502, 503, 504) with an OpenAI-shaped error body
``drop``            the connection is closed before any response byte
``drop-mid-stream`` an SSE stream sends 2 chunks, then the connection is closed (no ``[DONE]``)
``malformed-json``  200 with a body that is not JSON
``malformed-sse``   an SSE stream with a garbage ``data:`` line
``stall``           wait ``X-Fault-Seconds`` (default 30) before the headers, then answer normally
``stall-stream``    send one chunk, then wait ``X-Fault-Seconds`` before the rest
==================  ===========================================================================

``X-Fault-Times: N`` with ``X-Fault-Id: <id>`` applies the fault to the first N requests that
carry that id only, so a test can see "fail, then succeed".
"""

from __future__ import annotations

import asyncio
import email.utils
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .errors import error_body
from .streaming import DONE, sse

__all__ = ["FAULTS", "AbortHook", "FaultCounter", "inject"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]
Receive = Callable[[], Awaitable[Message]]
#: Closes the client connection of a request at once (given the request's ASGI scope).
AbortHook = Callable[[Scope], bool]

FAULTS = frozenset(
    {
        "429",
        "429-date",
        "500",
        "502",
        "503",
        "504",
        "drop",
        "drop-mid-stream",
        "malformed-json",
        "malformed-sse",
        "stall",
        "stall-stream",
    }
)
_STREAMING_FAULTS = frozenset({"drop-mid-stream", "malformed-sse", "stall-stream"})
_MESSAGES = {
    500: "internal server error (injected fault)",
    502: "bad gateway (injected fault)",
    503: "service unavailable (injected fault)",
    504: "gateway timeout (injected fault)",
}


class FaultCounter:
    """How many times each ``X-Fault-Id`` has been served its fault."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, int] = {}

    def should_fire(self, fault_id: str | None, times: int | None) -> bool:
        """Count this request; ``False`` once the id's first ``times`` requests are done."""
        if fault_id is None or times is None:
            return True
        with self._lock:
            n = self._seen.get(fault_id, 0)
            self._seen[fault_id] = n + 1
            if len(self._seen) > 10_000:
                self._seen.clear()
        return n < times


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _float(value: str | None, default: float) -> float:
    try:
        return float(value) if value is not None else default
    except ValueError:
        return default


def _chunk(scope: Scope, n: int) -> dict[str, Any]:
    """A plausible stream chunk for the endpoint that was called."""
    now = int(time.time())
    if scope.get("path", "").endswith("/completions") and "/chat/" not in scope.get("path", ""):
        return {
            "id": "cmpl-fault",
            "object": "text_completion",
            "created": now,
            "model": "fault",
            "choices": [{"text": f"piece{n} ", "index": 0, "finish_reason": None}],
        }
    delta: dict[str, Any] = {"content": f"piece{n} "}
    if n == 0:
        delta = {"role": "assistant", "content": ""}
    return {
        "id": "chatcmpl-fault",
        "object": "chat.completion.chunk",
        "created": now,
        "model": "fault",
        "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
    }


async def _start(
    send: Send, status: int, content_type: bytes, extra: list[Any] | None = None
) -> None:
    headers = [(b"content-type", content_type), (b"cache-control", b"no-cache"), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})


async def _body(send: Send, body: bytes, more: bool = False) -> None:
    await send({"type": "http.response.body", "body": body, "more_body": more})


async def inject(
    scope: Scope,
    receive: Receive,
    send: Send,
    counter: FaultCounter,
    abort: AbortHook | None,
) -> bool:
    """Serve the fault the request asks for; ``False`` when it asks for none (or it is spent).

    ``stall`` waits and then returns ``False``, so the request is answered normally afterwards.
    """
    headers = _headers(scope)
    fault = headers.get("x-fault", "").strip().lower()
    if not fault:
        return False
    if fault not in FAULTS:
        await _start(send, 400, b"application/json")
        await _body(
            send,
            error_body(400, f"unknown X-Fault {fault!r}; known: {', '.join(sorted(FAULTS))}"),
        )
        return True
    if not counter.should_fire(headers.get("x-fault-id"), _int(headers.get("x-fault-times"))):
        return False
    seconds = _float(headers.get("x-fault-seconds"), 30.0)

    if fault in ("429", "429-date"):
        if fault == "429":
            retry_after = "1"
        else:
            retry_after = email.utils.formatdate(time.time() + 2, usegmt=True)
        await _start(send, 429, b"application/json", [(b"retry-after", retry_after.encode())])
        await _body(
            send,
            error_body(429, "rate limit exceeded (injected fault)", code="rate_limit_exceeded"),
        )
        return True
    if fault.isdigit():
        status = int(fault)
        await _start(send, status, b"application/json")
        await _body(send, error_body(status, _MESSAGES[status], code=f"injected_{status}"))
        return True
    if fault == "drop":
        await _drop(scope, abort)
        return True
    if fault == "malformed-json":
        await _start(send, 200, b"application/json")
        await _body(send, b'{"id": "chatcmpl-broken", "choices": [ this is not json')
        return True
    if fault == "stall":
        await asyncio.sleep(seconds)
        return False
    if fault in _STREAMING_FAULTS:
        await _start(send, 200, b"text/event-stream")
        await _body(send, sse(_chunk(scope, 0)), more=True)
        if fault == "malformed-sse":
            await _body(send, b"data: {this is not json\n\n", more=True)
            await _body(send, sse(_chunk(scope, 1)), more=True)
            await _body(send, DONE)
        elif fault == "drop-mid-stream":
            await _body(send, sse(_chunk(scope, 1)), more=True)
            await asyncio.sleep(0.05)
            await _drop(scope, abort)
        else:  # stall-stream
            await asyncio.sleep(seconds)
            await _body(send, sse(_chunk(scope, 1)), more=True)
            await _body(send, DONE)
        return True
    return False  # pragma: no cover - every name in FAULTS is handled above


class ConnectionDropped(Exception):
    """Raised to make the server close a connection when no abort hook is available."""


async def _drop(scope: Scope, abort: AbortHook | None) -> None:
    if abort is not None and abort(scope):
        await asyncio.sleep(0.05)  # let the transport notice before the app returns
        return
    raise ConnectionDropped("connection dropped (injected fault)")
