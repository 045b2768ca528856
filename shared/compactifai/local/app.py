"""The ASGI app of the local CompactifAI-compatible server (Starlette).

``create_app(settings)`` returns the app: the :class:`~compactifai.local.auth.Gate` (server
headers, API keys, faults, body limits) in front of the routes of
:mod:`compactifai.local.routes`. Models load on first use; generation runs on one thread per
model (see :class:`compactifai.local.engines.SerialRunner`), so ``/v1/models`` and
``/v1/usage/completions`` answer while a model is busy.

Example:
    >>> import asyncio, tempfile, httpx
    >>> from pathlib import Path
    >>> from compactifai.local import ServerSettings, create_app
    >>> async def main(tmp):
    ...     app = create_app(ServerSettings(api_keys=("k",), usage_db=Path(tmp) / "u.db"))
    ...     async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
    ...                                  base_url="http://local/v1",
    ...                                  headers={"Authorization": "Bearer k"}) as http:
    ...         return (await http.get("/models/nope")).json()  # the service's 404 shape
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     asyncio.run(main(tmp))["detail"].startswith("model 'nope' not found")
    True
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ._settings import ServerSettings
from .auth import SERVER_HEADER, Gate
from .errors import ApiError, describe
from .routes import ROUTES
from .state import LocalState

__all__ = ["SERVER_HEADER", "Gate", "LocalState", "create_app"]

log = logging.getLogger("compactifai.local")


def _error_response(err: ApiError) -> Response:
    return Response(
        err.body(), status_code=err.status, media_type="application/json", headers=err.headers
    )


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return _error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        err = ApiError(
            404, f"no such endpoint: {request.method} {request.url.path}", code="not_found"
        )
    elif exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        err = ApiError(
            405,
            f"method {request.method} is not allowed on {request.url.path}"
            + (f" (allowed: {allowed})" if allowed else ""),
            code="method_not_allowed",
            headers={"Allow": allowed} if allowed else None,
        )
    else:
        err = ApiError(exc.status_code, str(exc.detail))
    return _error_response(err)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    return _error_response(ApiError(500, f"internal error: {describe(exc)}"))


def create_app(settings: ServerSettings | None = None) -> Gate:
    """Build the server's ASGI app (models load on first use)."""
    state = LocalState(settings or ServerSettings())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state.batch_worker.start()  # resumes the batches a previous run left open
        try:
            yield
        finally:
            await state.batch_worker.stop()
            state.close()

    app = Starlette(
        routes=ROUTES,
        lifespan=lifespan,
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            Exception: _server_error,
        },
    )
    app.state.local = state
    state.serve_batches(app)
    return Gate(app, state)
