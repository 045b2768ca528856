"""The exception hierarchy, and the one function that maps an HTTP failure to it.

Every error the package raises derives from :class:`CompactifAIError`. Errors that come from an
HTTP answer carry ``status_code``, the server's ``message``, and ``request_id`` where the server
sent one. No error ever carries the API key: messages are built from the server's answer and from
our own words only.

Example:
    >>> from compactifai import CompactifAIError, RateLimitError
    >>> err = RateLimitError("slow down", status_code=429, request_id="req-1")
    >>> isinstance(err, CompactifAIError), err.status_code, err.retryable
    (True, 429, True)
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "CompactifAIError",
    "ConfigurationError",
    "ConflictError",
    "InternalServerError",
    "InvalidRequestError",
    "ModelCapabilityError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTimeoutError",
    "ResponseDecodeError",
    "StreamInterruptedError",
    "UnprocessableEntityError",
    "error_from_response",
]

_BODY_PREVIEW = 500


class CompactifAIError(Exception):
    """Base of every error raised by the CompactifAI packages.

    Example:
        >>> from compactifai import CompactifAIClient, CompactifAIError, RateLimitError
        >>> try:  # doctest: +SKIP
        ...     CompactifAIClient().list_models()
        ... except RateLimitError as err:      # 429, after the retries
        ...     print("slow down:", err.status_code, err.request_id)
        ... except CompactifAIError as err:    # anything else the package raises
        ...     print(type(err).__name__, err)
    """

    #: Whether the request pipeline may send the request again after this error.
    retryable: bool = False


class ConfigurationError(CompactifAIError, ValueError):
    """The client cannot be built as configured (for example, no API key)."""


class InvalidRequestError(CompactifAIError, ValueError):
    """A request was refused before it was sent: ``param`` names the argument to change."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class ModelCapabilityError(InvalidRequestError):
    """A request needs a capability the model's profile says it lacks (refused before sending).

    ``capability`` is ``"image"`` or ``"function_calling"``; ``model`` is the model id.

    Example:
        >>> from compactifai import check_capabilities, profile_from_table
        >>> check_capabilities(profile_from_table("cai-llama-3-1-8b-slim"), has_image=True,
        ...                    has_tools=False)
        Traceback (most recent call last):
        ...
        compactifai._errors.ModelCapabilityError: model 'cai-llama-3-1-8b-slim' does not take image input...
    """

    def __init__(self, message: str, *, model: str, capability: str) -> None:
        super().__init__(message, param="model")
        self.model = model
        self.capability = capability

    def __reduce__(self) -> Any:
        return (_rebuild_capability_error, (str(self), self.model, self.capability))


def _rebuild_capability_error(message: str, model: str, capability: str) -> ModelCapabilityError:
    return ModelCapabilityError(message, model=model, capability=capability)


class APIError(CompactifAIError):
    """An error tied to an exchange with the server."""

    #: True when the server sent this error as an event inside a stream.
    from_stream_event: bool = False
    #: For an error raised mid-stream: how many events had already reached the caller.
    events_received: int | None = None

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        request_id: str | None = None,
        body: Any = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.request_id = request_id
        self.body = body
        self.code = code

    def __str__(self) -> str:
        parts = [self.message]
        if self.status_code is not None:
            parts.append(f"(HTTP {self.status_code}")
            parts[-1] += f", request id {self.request_id})" if self.request_id else ")"
        elif self.request_id:
            parts.append(f"(request id {self.request_id})")
        return " ".join(parts)

    def __reduce__(self) -> Any:
        # Exceptions with keyword-only arguments do not pickle by default; workers need them to.
        state = {
            "status_code": self.status_code,
            "request_id": self.request_id,
            "body": self.body,
            "code": self.code,
        }
        return (_rebuild_error, (type(self), self.message, state))


def _rebuild_error(cls: type[APIError], message: str, state: dict[str, Any]) -> APIError:
    return cls(message, **state)


class APIConnectionError(APIError):
    """The server could not be reached, or the connection broke before an answer."""

    retryable = True


class APITimeoutError(APIConnectionError):
    """No answer (or no next stream chunk) came within the configured timeout."""


class StreamInterruptedError(APIError):
    """A stream broke after some of it had reached the caller; it is never retried.

    ``events_received`` says how many events the caller already got: what it holds is partial.

    Example:
        >>> err = StreamInterruptedError("connection reset", events_received=12)
        >>> err.events_received, err.retryable
        (12, False)
    """

    def __init__(self, message: str, *, events_received: int, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.events_received = events_received

    def __reduce__(self) -> Any:
        return (
            _rebuild_interrupted,
            (self.message, self.events_received, self.status_code, self.request_id),
        )


def _rebuild_interrupted(
    message: str, events: int, status: int | None, request_id: str | None
) -> StreamInterruptedError:
    return StreamInterruptedError(
        message, events_received=events, status_code=status, request_id=request_id
    )


class ResponseDecodeError(APIError):
    """The server answered with a body that is not the JSON (or SSE) the API documents."""

    retryable = True


class APIStatusError(APIError):
    """The server answered with an error status."""


class BadRequestError(APIStatusError):
    """HTTP 400: the server refused the request's parameters."""


class UnprocessableEntityError(BadRequestError):
    """HTTP 422: the request body was well formed but not valid."""


class AuthenticationError(APIStatusError):
    """HTTP 401: the API key is missing, wrong or revoked."""


class PermissionDeniedError(APIStatusError):
    """HTTP 403: the key may not use this model or endpoint."""


class NotFoundError(APIStatusError):
    """HTTP 404: no such model or endpoint."""


class RequestTimeoutError(APIStatusError):
    """HTTP 408: the server gave up waiting for the request."""

    retryable = True


class ConflictError(APIStatusError):
    """HTTP 409: the request conflicts with the server's state; retried."""

    retryable = True


class PayloadTooLargeError(BadRequestError):
    """HTTP 413: the upload is larger than the server takes."""


class RateLimitError(APIStatusError):
    """HTTP 429: too many requests or tokens; retried after the server's Retry-After."""

    retryable = True


class InternalServerError(APIStatusError):
    """HTTP 5xx: the server failed; retried."""

    retryable = True


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    408: RequestTimeoutError,
    409: ConflictError,
    413: PayloadTooLargeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def _message_from_body(body: Any, text: str) -> tuple[str, str | None]:
    """Find the human message (and code) in an OpenAI-style, FastAPI-style or plain body."""
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            msg = err.get("message") or err.get("detail") or err.get("msg")
            code = err.get("code") or err.get("type")
            if msg:
                return str(msg), None if code is None else str(code)
        elif isinstance(err, str):
            return err, None
        detail = body.get("detail")
        if detail:
            return detail if isinstance(detail, str) else json.dumps(detail), None
    text = text.strip()
    if len(text) > _BODY_PREVIEW:
        text = text[:_BODY_PREVIEW] + "..."
    return text or "(empty body)", None


def error_class_for_status(status: int) -> type[APIStatusError]:
    """The exception class for an HTTP status code."""
    if status >= 500:
        return InternalServerError
    return _BY_STATUS.get(status, APIStatusError)


def error_from_response(
    status: int, content: bytes, request_id: str | None = None
) -> APIStatusError:
    """Build the typed error for an error answer, whatever its body looks like."""
    text = content.decode("utf-8", errors="replace")
    body: Any
    try:
        body = json.loads(content) if content else None
    except ValueError:
        body = text
    message, code = _message_from_body(body, text)
    cls = error_class_for_status(status)
    return cls(message, status_code=status, request_id=request_id, body=body, code=code)


def error_from_stream_payload(payload: Any, request_id: str | None = None) -> APIError:
    """Build the typed error for an ``error`` event sent in the middle of a stream."""
    message, code = _message_from_body(payload, json.dumps(payload, default=str))
    err = payload.get("error", payload) if isinstance(payload, dict) else {}
    status = err.get("code") if isinstance(err, dict) else None
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if isinstance(status, int) and 400 <= status < 600:
        cls: type[APIError] = error_class_for_status(status)
    else:
        cls, status = APIError, None
    err = cls(
        f"the server reported an error in the stream: {message}",
        status_code=status,
        request_id=request_id,
        body=payload,
        code=code,
    )
    err.from_stream_event = True
    return err
