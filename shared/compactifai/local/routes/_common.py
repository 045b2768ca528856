"""What the route handlers share: JSON in and out, lookups, and jobs on an engine thread."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from ..catalogue import CHAT_MODEL_ID, MODELS, LocalModel, find_model
from ..engines import EngineUnavailable, SerialRunner
from ..engines.llama import LlamaEngine, PromptTooLong
from ..engines.whisper import WhisperEngine
from ..errors import ApiError, bad_request, describe, engine_unavailable, validation_message
from ..state import LocalState
from ..streaming import dumps, sse

__all__ = [
    "available_ids",
    "chat_model",
    "check_engine",
    "error_event",
    "job_error",
    "json_body",
    "json_response",
    "new_id",
    "run_job",
    "state_of",
    "stops",
    "user_id",
    "validate",
    "watch_disconnect",
]

log = logging.getLogger("compactifai.local")
M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
#: Bodies larger than this are parsed on a worker thread, so the event loop stays free.
_PARSE_OFF_LOOP_BYTES = 256 * 1024

Job = Callable[[Callable[[Any], None], Callable[[Any], None], threading.Event], T]


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer (compact)."""
    return Response(
        dumps(payload), status_code=status, media_type="application/json", headers=headers
    )


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object (400 when empty, not JSON, or not an object)."""
    raw = await request.body()
    if not raw:
        raise bad_request("the request body is empty; send a JSON object")
    try:
        if len(raw) > _PARSE_OFF_LOOP_BYTES:
            body = await asyncio.to_thread(json.loads, raw)
        else:
            body = json.loads(raw)
    except ValueError as exc:
        raise bad_request(f"the request body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise bad_request("the request body is nested too deeply") from exc
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    return body


def validate(model: type[M], body: dict[str, Any]) -> M:
    """``body`` as ``model`` (400 naming the first bad field)."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        message, field = validation_message(exc.errors())  # type: ignore[arg-type]
        raise bad_request(message, param=field) from exc


def state_of(request: Request) -> LocalState:
    """The server's shared state."""
    state: LocalState = request.app.state.local
    return state


def user_id(request: Request) -> str:
    """The id of the caller's API key (set by the gate)."""
    return str(request.scope["state"]["user_id"])


def available_ids(kind: str | None = None) -> str:
    """The served model ids, for error messages."""
    return ", ".join(m.id for m in MODELS if kind is None or m.kind == kind)


def chat_model(model_id: Any) -> LocalModel:
    """The chat model named in a request (400 unknown, listing the available ids as the
    service does; 400 not a chat model)."""
    model = find_model(model_id) if isinstance(model_id, str) else None
    if model is None:
        raise bad_request(
            f"Invalid request: Model '{model_id}' not found; available: [{available_ids()}] "
            f"(this local server's chat model is '{CHAT_MODEL_ID}')",
            code="model_not_found",
            param="model",
        )
    if model.kind != "chat":
        raise bad_request(
            f"model '{model_id}' transcribes audio; it does not do chat or text completions "
            f"(use '{CHAT_MODEL_ID}')",
            param="model",
            code="model_not_supported",
        )
    return model


def stops(stop: str | list[str] | None) -> list[str]:
    """The request's stop sequences as a list."""
    if stop is None:
        return []
    return [stop] if isinstance(stop, str) else [s for s in stop if s]


def check_engine(engine: LlamaEngine | WhisperEngine, what: str) -> None:
    """503 naming the fix when the engine's runtime or model is missing."""
    try:
        engine.check()
    except EngineUnavailable as exc:
        raise engine_unavailable(what, str(exc)) from exc


def new_id(prefix: str) -> str:
    """A response id such as ``chatcmpl-<24 hex>``."""
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def job_error(exc: BaseException, what: str, param: str = "messages") -> ApiError:
    """The answer for an exception raised by a job (500 only for real engine failures)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, PromptTooLong):
        return bad_request(str(exc), code="context_length_exceeded", param=param)
    if isinstance(exc, EngineUnavailable):
        return engine_unavailable(what, str(exc))
    log.exception("engine failure", exc_info=exc)
    return ApiError(500, f"the local {what} engine failed: {describe(exc)}", code="engine_error")


def error_event(err: ApiError) -> bytes:
    """An error inside a stream, as one SSE event with the error envelope."""
    payload = json.loads(err.envelope())
    return sse(payload)


def _noop(*_: Any) -> None:
    return None


async def _wait_disconnect(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


def watch_disconnect(request: Request, cancel: threading.Event) -> asyncio.Task[None]:
    """A task that sets ``cancel`` when the client goes away (cancel the task when done)."""

    async def watch() -> None:
        await _wait_disconnect(request)
        cancel.set()

    return asyncio.ensure_future(watch())


async def run_job(request: Request, runner: SerialRunner, job: Job[T]) -> T:
    """Run ``job`` on the engine thread; it is told to stop if the client disconnects."""
    cancel = threading.Event()
    watcher = watch_disconnect(request, cancel)
    try:
        return await runner.run(job, _noop, _noop, cancel)
    finally:
        watcher.cancel()
