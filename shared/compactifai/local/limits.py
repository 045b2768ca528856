"""Request size limits, enforced before any parsing or tokenizing.

- A JSON body may be at most :data:`MAX_JSON_BYTES` (8 MiB); an audio upload at most
  :data:`MAX_AUDIO_BYTES` (25 MiB, plus 1 MiB for the multipart framing). A larger
  ``Content-Length`` is answered 413 at once; a chunked body is counted as it arrives and
  refused as soon as it passes the limit. Either way the rest of the body is read and thrown
  away (up to :data:`MAX_DRAIN_BYTES`), so the client, which sends its whole body before it
  reads, sees the 413 instead of a reset connection.
- A prompt is checked against the model's context cheaply first: a text of ``n`` bytes has
  at least ``n / longest-token-bytes`` tokens, so a prompt that cannot fit is refused without
  tokenizing it (:func:`check_prompt_bytes`).

Example:
    >>> body_limit("/v1/chat/completions"), body_limit("/v1/audio/transcriptions")
    (8388608, 27262976)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .errors import ApiError

__all__ = [
    "AUDIO_PATH",
    "FILES_PATH",
    "MAX_AUDIO_BYTES",
    "MAX_DRAIN_BYTES",
    "MAX_FILE_BYTES",
    "MAX_JSON_BYTES",
    "BodyLimit",
    "body_limit",
    "send_error",
    "too_large",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MIB = 1024 * 1024
#: The largest JSON request body (chat, completions, usage).
MAX_JSON_BYTES = 8 * MIB
#: The largest audio file the transcription endpoint takes.
MAX_AUDIO_BYTES = 25 * MIB
#: Room for the multipart framing and form fields around the audio file.
MULTIPART_SLACK = 1 * MIB
#: A refused body is read and dropped up to this size; past it the connection is closed.
MAX_DRAIN_BYTES = 256 * MIB
AUDIO_PATH = "/v1/audio/transcriptions"
#: Uploads of batch input (and other) files, up to :data:`MAX_FILE_BYTES` (OpenAI's batch limit).
FILES_PATH = "/v1/files"
MAX_FILE_BYTES = 200 * MIB


def body_limit(path: str) -> int:
    """The largest request body accepted on ``path``."""
    if path.rstrip("/") == AUDIO_PATH:
        return MAX_AUDIO_BYTES + MULTIPART_SLACK
    if path.rstrip("/") == FILES_PATH:
        return MAX_FILE_BYTES + MULTIPART_SLACK
    return MAX_JSON_BYTES


def too_large(path: str, size: int | None) -> ApiError:
    """The 413 for a body over the limit of ``path`` (``size`` when known)."""
    seen = f"{size / 1e6:.1f} MB" if size is not None else "larger than the limit"
    if path.rstrip("/") == AUDIO_PATH:
        return ApiError(
            413,
            f"the upload is {seen}; the largest audio file this endpoint takes is "
            f"{MAX_AUDIO_BYTES // MIB} MB",
            code="file_too_large",
            param="file",
        )
    if path.rstrip("/") == FILES_PATH:
        return ApiError(
            413,
            f"the upload is {seen}; the largest file this server keeps is "
            f"{MAX_FILE_BYTES // MIB} MiB (split the batch into several files)",
            code="file_too_large",
            param="file",
        )
    return ApiError(
        413,
        f"the request body is {seen}; the largest JSON body this server takes is "
        f"{MAX_JSON_BYTES // MIB} MiB",
        code="request_too_large",
    )


class BodyLimit:
    """ASGI layer: refuse request bodies over :func:`body_limit` before the app reads them.

    Example:
        >>> import asyncio
        >>> async def app(scope, receive, send):  # never reached for a large body
        ...     raise AssertionError
        >>> sent = []
        >>> async def send(message): sent.append(message)
        >>> async def receive(): return {"type": "http.request", "body": b"", "more_body": False}
        >>> scope = {"type": "http", "path": "/v1/chat/completions",
        ...          "headers": [(b"content-length", b"31457280")]}
        >>> asyncio.run(BodyLimit(app)(scope, receive, send))
        >>> sent[0]["status"]
        413
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        limit = body_limit(path)
        length = _content_length(scope)
        if length is not None and length > limit:
            await _drain(receive, 0)
            await send_error(send, too_large(path, length))
            return
        seen = 0
        over = False

        async def counted() -> Message:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    over = True
                    if message.get("more_body", False):
                        await _drain(receive, seen)
                    raise too_large(path, None)
            return message

        started = False

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched_send)
        except Exception:
            if over and not started:  # the app let the 413 (or its own wrapper) escape
                await send_error(send, too_large(path, None))
                return
            raise


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _drain(receive: Receive, seen: int) -> None:
    """Read and drop the rest of a request body (bounded)."""
    while seen <= MAX_DRAIN_BYTES:
        message = await receive()
        if message["type"] != "http.request":
            return
        seen += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


async def send_error(send: Send, err: ApiError) -> None:
    """Send ``err`` as a complete JSON answer."""
    body = err.body()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in err.headers.items()]
    await send({"type": "http.response.start", "status": err.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
