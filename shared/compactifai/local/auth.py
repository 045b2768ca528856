"""The gate in front of every route: server headers, API keys, injected faults, body limits.

Every answer, errors included, carries ``x-compactifai-server`` and a fresh ``x-request-id``.
A request without a valid ``Authorization: Bearer <key>`` is answered 401 before anything
else; with ``--enable-faults`` the ``X-Fault`` header is honoured next
(:mod:`compactifai.local.faults`); then :class:`~compactifai.local.limits.BodyLimit` refuses
oversized bodies before the routes read them.

Example:
    >>> import asyncio
    >>> from compactifai.local._settings import ServerSettings
    >>> class _State:  # what the gate reads of LocalState
    ...     settings = ServerSettings()
    ...     keys = {"k": "local-1"}
    >>> async def app(scope, receive, send): raise AssertionError("not reached")
    >>> sent = []
    >>> async def send(message): sent.append(message)
    >>> async def receive(): return {"type": "http.request", "body": b""}
    >>> scope = {"type": "http", "path": "/v1/models", "headers": []}
    >>> asyncio.run(Gate(app, _State())(scope, receive, send))  # type: ignore[arg-type]
    >>> sent[0]["status"], dict(sent[0]["headers"])[b"x-compactifai-server"][:17]
    (401, b'compactifai-local')
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from .._version import __version__
from .errors import ApiError
from .faults import AbortHook, inject
from .limits import BodyLimit, send_error

if TYPE_CHECKING:
    from .state import LocalState

__all__ = ["SERVER_HEADER", "Gate", "authenticate"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SERVER_HEADER = f"compactifai-local/{__version__}"


def authenticate(scope: Scope, keys: dict[str, str]) -> str | ApiError:
    """The user id of the request's API key, or the 401 to send."""
    auth = ""
    for name, value in scope["headers"]:
        if name == b"authorization":
            auth = value.decode("latin-1").strip()
            break
    if not auth:
        return ApiError(
            401,
            "missing API key: send the header 'Authorization: Bearer <key>' "
            "(the local server prints its key when it starts)",
            code="missing_api_key",
        )
    scheme, _, key = auth.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        return ApiError(
            401,
            "malformed Authorization header: expected 'Bearer <key>'",
            code="invalid_api_key",
        )
    found: str | None = None
    for known, user_id in keys.items():
        if hmac.compare_digest(known.encode(), key.encode()):
            found = user_id
    if found is not None:
        return found
    return ApiError(401, "invalid API key for this local server", code="invalid_api_key")


class Gate:
    """Outermost layer: server headers on every answer, API keys, faults, then body limits."""

    def __init__(self, app: ASGIApp, state: LocalState) -> None:
        self.app = BodyLimit(app)
        self.state = state
        #: Set by the runner (``__main__``) so the ``drop`` faults can abort a connection.
        self.abort_hook: AbortHook | None = None
        self._server = SERVER_HEADER.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = "req_" + uuid.uuid4().hex
        extra = [(b"x-compactifai-server", self._server), (b"x-request-id", request_id.encode())]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        user_id = authenticate(scope, self.state.keys)
        if isinstance(user_id, ApiError):
            await send_error(send_with_headers, user_id)
            return
        scope.setdefault("state", {})
        scope["state"]["user_id"] = user_id
        scope["state"]["request_id"] = request_id
        if self.state.settings.enable_faults and await inject(
            scope, receive, send_with_headers, self.state.faults, self.abort_hook
        ):
            return
        await self.app(scope, receive, send_with_headers)
