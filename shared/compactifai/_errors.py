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

import html
import json
import re
from collections.abc import Mapping
from http import HTTPStatus
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
    "EndpointWithdrawnError",
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
    "error_from_answer",
    "error_from_response",
]

_BODY_PREVIEW = 500
_SUMMARY = 120
_HTML_SCAN = 65536
_HTML_START = re.compile(rb"\s*(<!doctype\s+html|<html|<head|<body)", re.IGNORECASE)
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_HTML_HIDDEN = re.compile(r"<(script|style|head)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_HTML_TAG = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"\s+")
_AVAILABLE = re.compile(r"available(?: models)?\s*:\s*\[([^\]]*)\]", re.IGNORECASE)
#: An error object's ``type`` -> the status it stands for (a 2xx whose body is an error).
_TYPE_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "validation_error": 422,
    "rate_limit_error": 429,
    "server_error": 500,
}


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
        >>> check_capabilities(profile_from_table("mistral-small-3-1"), has_image=False,
        ...                    has_tools=True)
        Traceback (most recent call last):
        ...
        compactifai._errors.ModelCapabilityError: model 'mistral-small-3-1' does not support function calling...
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

    #: The model ids the server listed as available (a 400 for an unknown model), else None.
    available_models: list[str] | None = None
    #: The withdrawn model a 400/404 was about (``compactifai.WITHDRAWN_MODELS``), else None.
    withdrawn_model: str | None = None
    #: When the service withdrew that model (or, for ``EndpointWithdrawnError``, the route).
    withdrawn_on: str | None = None
    #: The request field the server named (a 422's ``loc``, an error's ``param``), else None.
    param: str | None = None

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        request_id: str | None = None,
        body: Any = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.request_id = request_id
        self.body = body
        self.code = code
        #: The response's headers (``x-request-id``, ``x-served-by-region`` ...), or {}.
        self.headers: Mapping[str, str] = headers if headers is not None else {}

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
            "headers": dict(self.headers),
        }
        extra = {"available_models": self.available_models, "param": self.param,
                 "withdrawn_model": self.withdrawn_model, "withdrawn_on": self.withdrawn_on}
        return (_rebuild_error, (type(self), self.message, state, extra))


def _rebuild_error(
    cls: type[APIError], message: str, state: dict[str, Any], extra: dict[str, Any] | None = None
) -> APIError:
    err = cls(message, **state)
    for name, value in (extra or {}).items():
        if value is not None:
            setattr(err, name, value)
    return err


class APIConnectionError(APIError):
    """The server could not be reached, or the connection broke before an answer."""

    retryable = True


class APITimeoutError(APIConnectionError):
    """No answer (or no next stream chunk) came within the configured timeout."""


class StreamInterruptedError(APIError):
    """A stream broke after some of it had reached the caller; it is never retried.

    ``events_received`` says how many events the caller already got: what it holds is partial.
    ``request_id`` is kept as an attribute and shown once, at the end of the message.

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
    """The server answered with a body that is not the JSON (or SSE) the API documents.

    Retryable in general; the pipeline clears ``retryable`` on the instance when the answer
    is a 2xx to a POST, which the server may already have carried out (and billed).
    """

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


class EndpointWithdrawnError(NotFoundError):
    """The service no longer serves this route (it answered 404, 405 or 410).

    Example:
        >>> err = EndpointWithdrawnError("gone", status_code=404, withdrawn_on="2026-03-24")
        >>> isinstance(err, NotFoundError), err.withdrawn_on, err.retryable
        (True, '2026-03-24', False)
    """

    def __init__(self, message: str, *, withdrawn_on: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.withdrawn_on = withdrawn_on

    def __reduce__(self) -> Any:
        state = {"status_code": self.status_code, "request_id": self.request_id,
                 "body": self.body, "code": self.code, "headers": dict(self.headers),
                 "withdrawn_on": self.withdrawn_on}
        return (_rebuild_error, (type(self), self.message, state))


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


def _validation_message(items: list[Any]) -> tuple[str, str | None]:
    """FastAPI's 422 ``{"detail": [{"loc", "msg", "type"}]}``: which field, and why."""
    parts: list[str] = []
    fields: list[str] = []
    for item in items:
        if not isinstance(item, dict):
            parts.append(str(item))
            continue
        loc = item.get("loc") or []
        # ("body", "messages", 0, "role") -> "messages[0].role": the field as the caller sent it
        path = ""
        for step in loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc:
            path += f"[{step}]" if isinstance(step, int) else (f".{step}" if path else str(step))
        fields.append(path)
        why = item.get("msg") or item.get("type") or "invalid"
        parts.append(f"{path}: {why}" if path else str(why))
    return "; ".join(parts) or "the request did not validate", (
        fields[0] if len(set(fields)) == 1 and fields[0] else None
    )


def _message_from_body(body: Any, text: str) -> tuple[str, str | None, str | None]:
    """The human message, the code and the field named, from any of the service's shapes.

    ``{"error": {"message", "type", "param", "code"}}`` (OpenAI's), ``{"detail": "..."}``
    (401, 404 and 500 today) and ``{"detail": [{"loc", "msg", "type"}]}`` (422).
    """
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            msg = err.get("message") or err.get("msg")
            detail = err.get("detail")
            if not msg and isinstance(detail, list):
                msg, param = _validation_message(detail)
                return msg, "validation_error", param
            msg = msg or detail
            code = err.get("code") or err.get("type")
            param = err.get("param")
            if msg:
                return (str(msg), None if code is None else str(code),
                        param if isinstance(param, str) else None)
        elif isinstance(err, str):
            return err, None, None
    text = text.strip()
    if len(text) > _BODY_PREVIEW:
        text = text[:_BODY_PREVIEW] + "..."
    return text or "(empty body)", None, None


_NAMED_MODEL = re.compile(r"\bmodel\s+['\"]([^'\"]+)['\"]", re.IGNORECASE)


def note_withdrawn_model(err: APIError, model: str | None = None) -> None:
    """Say on a 400/404 that the model it is about was withdrawn by the service, and when.

    The model is the one the request named (``model``), else the one the server's message
    names (``Model 'x' not found``). Nothing changes for a model that was not withdrawn.

    Example:
        >>> err = BadRequestError("Model 'gpt-oss-20b' not found; available: [glm-5-1]",
        ...                       status_code=400)
        >>> note_withdrawn_model(err)
        >>> err.withdrawn_model, err.withdrawn_on, err.available_models
        ('gpt-oss-20b', '2026-06', None)
        >>> "withdrawn from the CompactifAI service in 2026-06" in str(err)
        True
    """
    from ._catalogue import withdrawn_notice, withdrawn_on

    named = _NAMED_MODEL.search(err.message)
    for candidate in (model, named.group(1) if named else None):
        if candidate and withdrawn_on(candidate) is not None:
            err.withdrawn_model = candidate
            err.withdrawn_on = withdrawn_on(candidate)
            err.message = f"{err.message} -- {withdrawn_notice(candidate)}"
            err.args = (err.message,)
            return


def _available_models(message: str) -> list[str] | None:
    """``... not found; available: [m1, m2]`` -> ``["m1", "m2"]``."""
    found = _AVAILABLE.search(message)
    if found is None:
        return None
    names = [n.strip().strip("'\"") for n in found.group(1).split(",")]
    return [n for n in names if n]


def _html_summary(status: int, content: bytes, content_type: str | None) -> str | None:
    """A short message for an HTML error page (a proxy's 502...), or None if it is not one."""
    if not (content_type and "html" in content_type.lower()) and not _HTML_START.match(content):
        return None
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "error"
    message = f"{status} {phrase}: the server answered with an HTML page"
    text = content[:_HTML_SCAN].decode("utf-8", errors="replace")
    found = _HTML_TITLE.search(text)
    summary = found.group(1) if found else _HTML_TAG.sub(" ", _HTML_HIDDEN.sub(" ", text))
    summary = _SPACES.sub(" ", html.unescape(summary)).strip()
    if len(summary) > _SUMMARY:
        summary = summary[:_SUMMARY] + "..."
    if summary and summary.lower() != f"{status} {phrase}".lower():
        message += f" ({summary})"
    return message


def error_class_for_status(status: int) -> type[APIStatusError]:
    """The exception class for an HTTP status code."""
    if status >= 500:
        return InternalServerError
    return _BY_STATUS.get(status, APIStatusError)


def error_from_response(
    status: int,
    content: bytes,
    request_id: str | None = None,
    *,
    content_type: str | None = None,
    headers: Mapping[str, str] | None = None,
    model: str | None = None,
) -> APIStatusError:
    """Build the typed error for an error answer, whatever its body looks like.

    The message is the server's own words in each of its shapes (for a 422, which field and
    why); a 400 that lists the available models exposes them as ``available_models``. An HTML
    page (what proxies and gateways send) gives a short message, the status with its reason
    phrase and the page's title; the page itself stays on ``body``. A 400 or 404 about a
    model the service withdrew (``model``, or the one the message names) says so, and when.

    Example:
        >>> page = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
        >>> err = error_from_response(502, page, content_type="text/html")
        >>> str(err), err.body == page.decode()
        ('502 Bad Gateway: the server answered with an HTML page (HTTP 502)', True)
        >>> body = b'{"detail": [{"loc": ["body", "messages", 0, "role"], "msg": "bad role"}]}'
        >>> err = error_from_response(422, body)
        >>> err.message, err.param
        ('messages[0].role: bad role', 'messages[0].role')
    """
    text = content.decode("utf-8", errors="replace")
    body: Any
    try:
        body = json.loads(content) if content else None
    except ValueError:
        body = text
    summary = _html_summary(status, content, content_type) if body is text else None
    if summary is not None:
        message, code, param = summary, None, None
    else:
        message, code, param = _message_from_body(body, text)
    cls = error_class_for_status(status)
    err = cls(message, status_code=status, request_id=request_id, body=body, code=code,
              headers=headers)
    err.param = param
    err.available_models = _available_models(message) if status in (400, 404) else None
    if status in (400, 404):
        note_withdrawn_model(err, model)  # ``model``: the one the request named, if known
    return err


def error_from_answer(
    answer: dict[str, Any],
    status: int,
    request_id: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> APIError | None:
    """The typed error a successful (2xx) answer carries instead of a result, or None.

    Some servers answer ``200`` with ``{"error": {...}}``: that is no empty answer, it is the
    error. The class follows the error's numeric ``code`` or its ``type``.

    Example:
        >>> err = error_from_answer({"error": {"message": "no", "type": "invalid_request_error"}}, 200)
        >>> type(err).__name__, err.message
        ('BadRequestError', 'the server answered 200 with an error: no')
        >>> error_from_answer({"choices": [], "error": None}, 200) is None
        True
    """
    err = answer.get("error")
    if not err or any(key in answer for key in ("choices", "data", "object")):
        return None
    message, code, param = _message_from_body(answer, json.dumps(answer, default=str))
    kind = err.get("code") if isinstance(err, dict) else None
    if isinstance(kind, str) and kind.isdigit():
        kind = int(kind)
    if not (isinstance(kind, int) and 400 <= kind < 600):
        kind = _TYPE_STATUS.get(str(err.get("type")) if isinstance(err, dict) else "", 0)
    cls: type[APIError] = error_class_for_status(kind) if kind else APIError
    found = cls(
        f"the server answered {status} with an error: {message}",
        status_code=kind or status, request_id=request_id, body=answer, code=code,
        headers=headers,
    )
    found.param = param
    found.available_models = _available_models(message)
    return found


def error_from_stream_payload(
    payload: Any, request_id: str | None = None, *, in_stream: bool = True
) -> APIError:
    """Build the typed error for an ``error`` payload.

    ``in_stream``: the error came as an event in the middle of a stream (marked
    ``from_stream_event``); otherwise it is the whole answer to a stream request.
    """
    message, code, _ = _message_from_body(payload, json.dumps(payload, default=str))
    err = payload.get("error", payload) if isinstance(payload, dict) else {}
    status = err.get("code") if isinstance(err, dict) else None
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if isinstance(status, int) and 400 <= status < 600:
        cls: type[APIError] = error_class_for_status(status)
    else:
        cls, status = APIError, None
    where = "in the stream" if in_stream else "instead of a stream"
    err = cls(
        f"the server reported an error {where}: {message}",
        status_code=status,
        request_id=request_id,
        body=payload,
        code=code,
    )
    err.from_stream_event = in_stream
    return err
