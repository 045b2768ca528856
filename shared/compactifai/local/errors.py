"""Server-side errors in the shapes today's service answers with.

- ``{"error": {"message", "type", "code", "param"}}`` (OpenAI's) for what the application
  refuses: 400 (an unknown model, listing the available ids), 413, 429, 503;
- a bare ``{"detail": "..."}`` on 401, 404, 405 and 500 (:data:`DETAIL_STATUSES`), as the
  service's framework answers them;
- FastAPI's 422 ``{"detail": [{"type", "loc", "msg", "input"}]}`` for a body that breaks the
  request schema (:mod:`compactifai.local.routes._shapes`).

Example:
    >>> ApiError(401, "missing API key").body()
    b'{"detail": "missing API key"}'
    >>> json.loads(ApiError(400, "no", code="x").body())["error"]["code"]
    'x'
"""

from __future__ import annotations

import json
import re
from typing import Any

from ._settings import INSTALL_HINT

__all__ = [
    "DETAIL_STATUSES",
    "ApiError",
    "bad_request",
    "describe",
    "engine_unavailable",
    "error_body",
    "validation_message",
]

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    503: "service_unavailable",
}
#: The ``code`` of an error raised without one: every error answer carries a code.
_DEFAULT_CODES = {
    400: "invalid_request",
    401: "invalid_api_key",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    422: "invalid_request",
    429: "rate_limit_exceeded",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}
_ERRNO = re.compile(r"\[Errno -?\d+\]\s*")
#: Statuses today's service answers with a bare ``{"detail": "..."}`` (its errors guide:
#: observed on 401 and 404, documented on 500; 405 is its framework's as well).
DETAIL_STATUSES = frozenset({401, 404, 405, 500})


class ApiError(Exception):
    """An error answer: raise it anywhere in a handler; the app turns it into JSON."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.headers = headers or {}

    def body(self) -> bytes:
        """The JSON body of this error: ``{"detail": ...}`` on :data:`DETAIL_STATUSES`, the
        ``{"error": {...}}`` envelope otherwise."""
        if self.status in DETAIL_STATUSES:
            return json.dumps({"detail": self.message}).encode("utf-8")
        return self.envelope()

    def envelope(self) -> bytes:
        """This error in the ``{"error": {...}}`` envelope, whatever its status (what a
        stream's error event carries)."""
        return error_body(self.status, self.message, code=self.code, param=self.param)


def error_body(
    status: int, message: str, *, code: str | None = None, param: str | None = None
) -> bytes:
    """Encode an OpenAI-shaped error."""
    err_type = _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    if code is None:
        code = _DEFAULT_CODES.get(status, "server_error" if status >= 500 else "invalid_request")
    payload = {"error": {"message": message, "type": err_type, "code": code, "param": param}}
    return json.dumps(payload).encode("utf-8")


def describe(exc: BaseException) -> str:
    """An exception as a readable sentence, without raw ``[Errno N]`` prefixes.

    Example:
        >>> describe(OSError(2, "No such file or directory"))
        'No such file or directory'
    """
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror + (f": {exc.filename}" if exc.filename else "")
    else:
        text = str(exc) or type(exc).__name__
    return _ERRNO.sub("", text).strip()


def bad_request(
    message: str, *, param: str | None = None, code: str = "invalid_request"
) -> ApiError:
    """A 400 answer."""
    return ApiError(400, message, code=code, param=param)


def engine_unavailable(what: str, detail: str) -> ApiError:
    """A 503 answer for a missing optional dependency or model file, naming the fix."""
    return ApiError(
        503,
        f"the local {what} engine is not available: {detail}. "
        f"Install the local server's extra: {INSTALL_HINT}",
        code="engine_unavailable",
    )


_TYPE_TAGS = frozenset({"str", "int", "float", "bool", "dict", "list", "none", "literal"})


def _is_type_tag(part: str) -> bool:
    """Pydantic adds union member names ("str", "list[str]") to error locations: drop them."""
    return "[" in part or part.lower() in _TYPE_TAGS or part.startswith("function-")


def validation_message(errors: list[dict[str, Any]]) -> tuple[str, str | None]:
    """A readable message (and the field) for pydantic's ``ValidationError.errors()``."""
    if not errors:
        return "invalid request body", None
    first = errors[0]
    loc = [str(p) for p in first.get("loc", ()) if not _is_type_tag(str(p))]
    field = ".".join(loc) or None
    msg = str(first.get("msg", "invalid value"))
    text = f"invalid value for '{field}': {msg}" if field else msg
    if first.get("type") == "missing":
        text = f"missing required field '{field}'"
    if len(errors) > 1:
        text += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return text, field
