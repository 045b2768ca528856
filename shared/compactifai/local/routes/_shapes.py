"""The service's framework-level error shapes, for the routes the real service serves by FastAPI.

``/v1/files``, ``/v1/batches`` and ``/v1/responses`` answer as the real service does:

- a request that breaks the documented schema: **422** ``{"detail": [{"type", "loc", "msg",
  "input"}]}`` (FastAPI's ``HTTPValidationError``, ``loc`` starting with ``body``, ``query``
  or ``path``);
- an unknown id: **404** ``{"detail": "<what is missing>"}``;
- a well-formed request the server cannot serve: **400** ``{"error": {...}}`` (raise
  :class:`~compactifai.local.errors.ApiError` as the other routes do).

Example:
    >>> err = DetailError.invalid([{"type": "missing", "loc": ["body", "input_file_id"],
    ...                             "msg": "Field required", "input": {}}])
    >>> err.status, err.payload["detail"][0]["loc"]
    (422, ['body', 'input_file_id'])
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from ..streaming import dumps

__all__ = ["DetailError", "detail_errors", "parse_body", "parse_model"]

M = TypeVar("M", bound=BaseModel)


class DetailError(Exception):
    """A framework-level answer: ``{"detail": ...}`` with a status (422 or 404)."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(str(detail))
        self.status = status
        self.payload = {"detail": detail}

    @classmethod
    def invalid(cls, errors: list[dict[str, Any]]) -> DetailError:
        """A 422 with FastAPI's list of problems."""
        return cls(422, errors)

    @classmethod
    def not_found(cls, what: str) -> DetailError:
        """A 404 naming what is missing."""
        return cls(404, what)

    def response(self) -> Response:
        """The JSON answer."""
        return Response(dumps(self.payload), status_code=self.status, media_type="application/json")


Handler = Callable[[Request], Awaitable[Response]]


def detail_errors(handler: Handler) -> Handler:
    """Turn a :class:`DetailError` raised by ``handler`` into its answer."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except DetailError as err:
            return err.response()

    return wrapped


def _problems(exc: ValidationError, where: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for err in json.loads(exc.json(include_url=False)):
        item = {
            "type": err.get("type"),
            "loc": [where, *err.get("loc", [])],
            "msg": err.get("msg"),
            "input": err.get("input"),
        }
        if err.get("ctx"):
            item["ctx"] = err["ctx"]
        out.append(item)
    return out


async def parse_body(request: Request) -> Any:
    """The JSON body, or FastAPI's 422 for an empty or malformed one."""
    raw = await request.body()
    if not raw.strip():
        raise DetailError.invalid(
            [{"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}]
        )
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deeply
        pos = getattr(exc, "pos", 0)
        raise DetailError.invalid(
            [
                {
                    "type": "json_invalid",
                    "loc": ["body", pos],
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": getattr(exc, "msg", str(exc))},
                }
            ]
        ) from exc


def parse_model(model: type[M], data: Any, where: str = "body") -> M:
    """``data`` as ``model``, or FastAPI's 422 listing every problem."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise DetailError.invalid(_problems(exc, where)) from exc
