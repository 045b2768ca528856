"""Calling the server's own routes in-process: batch lines and ``/v1/responses`` use them.

A batch line and a ``/v1/responses`` request are answered by the very handlers that answer
``POST /v1/chat/completions`` and ``POST /v1/completions`` over HTTP (same validation, same
errors, same engine queue, same usage records): :class:`InProcessCall` sends them one ASGI
request, as the caller's user, without a socket. Setting ``disconnect`` tells the handler that
its client went away, which stops a generation mid-way (how a batch cancel interrupts a line).

Example:
    >>> import asyncio, json
    >>> async def app(scope, receive, send):
    ...     body = (await receive())["body"]
    ...     await send({"type": "http.response.start", "status": 200, "headers": []})
    ...     await send({"type": "http.response.body", "body": body[::-1]})
    >>> async def main():
    ...     call = InProcessCall(app, "POST", "/echo", b"abc", user_id="local-1")
    ...     status, _ = await call.start()
    ...     return status, await call.read()
    >>> asyncio.run(main())
    (200, b'cba')
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["ASGIApp", "InProcessCall"]

Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [
        MutableMapping[str, Any],
        Callable[[], Awaitable[Message]],
        Callable[[Message], Awaitable[None]],
    ],
    Awaitable[None],
]
_END = object()


class InProcessCall:
    """One request to an ASGI app in the same process; read its answer as it is sent."""

    def __init__(
        self,
        app: ASGIApp,
        method: str,
        path: str,
        body: bytes,
        *,
        user_id: str,
        request_id: str | None = None,
        disconnect: asyncio.Event | None = None,
    ) -> None:
        self.request_id = request_id or "req_" + uuid.uuid4().hex
        self.disconnect = disconnect if disconnect is not None else asyncio.Event()
        self._app = app
        self._body = body
        self._scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", self.request_id.encode()),
            ],
            "client": None,
            "server": None,
            "state": {"user_id": user_id, "request_id": self.request_id},
        }
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._sent_body = False
        self._task: asyncio.Task[None] | None = None

    async def _receive(self) -> Message:
        if not self._sent_body:
            self._sent_body = True
            return {"type": "http.request", "body": self._body, "more_body": False}
        await self.disconnect.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: Message) -> None:
        await self._queue.put(message)

    async def _run(self) -> None:
        try:
            await self._app(self._scope, self._receive, self._send)
        finally:
            await self._queue.put(_END)

    async def start(self) -> tuple[int, dict[str, str]]:
        """Run the request until its answer starts: status and headers."""
        self._task = asyncio.ensure_future(self._run())
        message = await self._queue.get()
        if message is _END:
            await self._task  # raises the handler's exception
            raise RuntimeError("the route ended without an answer")
        headers = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in message.get("headers", [])
        }
        return int(message["status"]), headers

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as the handler sends it."""
        while True:
            message = await self._queue.get()
            if message is _END:
                return
            if message.get("type") == "http.response.body":
                chunk = message.get("body", b"")
                if chunk:
                    yield bytes(chunk)
                if not message.get("more_body", False):
                    return

    async def read(self) -> bytes:
        """The whole body."""
        return b"".join([c async for c in self.chunks()])

    async def close(self) -> None:
        """Tell the handler its client left, and wait for it to end."""
        self.disconnect.set()
        if self._task is not None and not self._task.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=30.0)
            except (asyncio.TimeoutError, Exception):
                self._task.cancel()
                with contextlib.suppress(BaseException):
                    await self._task
