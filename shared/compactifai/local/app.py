"""The ASGI app of the local CompactifAI-compatible server (Starlette).

``create_app(settings)`` returns the app: a thin gate (server headers, API keys, faults) in
front of the Starlette routes under ``/v1``. Models load on first use; generation runs on one
thread per model (see :class:`compactifai.local.engines.SerialRunner`), so ``/v1/models`` and
``/v1/usage/completions`` answer while a model is busy.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from datetime import datetime, timezone
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from .._version import __version__
from ..types import (
    AUDIO_EXTENSIONS,
    ChatCompletion,
    ChatCompletionChoice,
    ChatCompletionMessage,
    ChatCompletionRequest,
    Completion,
    CompletionChoice,
    CompletionRequest,
    FunctionCall,
    ToolCall,
    Transcription,
    Usage,
    UsageStatisticsRequest,
)
from ._settings import ServerSettings, user_id_for_key
from .catalogue import CHAT_MODEL_ID, MODELS, WHISPER_MODEL_ID, LocalModel, find_model
from .chat import (
    ChatOutcome,
    normalize_messages,
    parse_tools,
    plan_chat,
    request_error,
    run_chat,
)
from .engines import EngineUnavailable
from .engines.llama import GenerationResult, LlamaEngine, PromptTooLong, Sampling
from .engines.whisper import WhisperEngine
from .errors import ApiError, bad_request, engine_unavailable, error_body, validation_message
from .faults import AbortHook, FaultCounter, inject
from .streaming import DONE, ThreadStream, dumps, sse
from .usage_store import UsageStore, format_rfc3339

__all__ = ["SERVER_HEADER", "LocalState", "create_app"]

log = logging.getLogger("compactifai.local")

SERVER_HEADER = f"compactifai-local/{__version__}"
#: Chat answers stop here when the request sets no limit (SmolLM2 can ramble to the end of its
#: 4096-token context, which takes a minute on two cores).
DEFAULT_CHAT_MAX_TOKENS = 512
#: The largest audio upload the transcription endpoint takes.
MAX_AUDIO_BYTES = 25 * 1024 * 1024
_MULTIPART_SLACK = 1024 * 1024
#: The documented key order of a transcript.
_TRANSCRIPT_ORDER = ("task", "language", "duration", "text", "segments")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
M = TypeVar("M", bound=BaseModel)


class LocalState:
    """Everything the handlers share: settings, usage store, engines, fault counter."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.store = UsageStore(settings.usage_db_path())
        self.llama = LlamaEngine(
            settings.chat_model_path, n_ctx=settings.n_ctx, n_threads=settings.n_threads
        )
        self.whisper = WhisperEngine(settings.whisper_dir(), cpu_threads=settings.n_threads)
        self.faults = FaultCounter()
        self.keys = {key: user_id_for_key(key) for key in settings.api_keys}

    def close(self) -> None:
        """Release models and the database."""
        for engine in (self.llama, self.whisper):
            with contextlib.suppress(Exception):
                engine.close()
        self.store.close()


# ---------------------------------------------------------------- helpers


def _json(payload: Any, status: int = 200) -> Response:
    return Response(dumps(payload), status_code=status, media_type="application/json")


def _error_response(err: ApiError) -> Response:
    return Response(
        err.body(), status_code=err.status, media_type="application/json", headers=err.headers
    )


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        raise bad_request("the request body is empty; send a JSON object")
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise bad_request(f"the request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    return body


def _validate(model: type[M], body: dict[str, Any]) -> M:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        message, field = validation_message(exc.errors())  # type: ignore[arg-type]
        raise bad_request(message, param=field) from exc


def _state(request: Request) -> LocalState:
    state: LocalState = request.app.state.local
    return state


def _user_id(request: Request) -> str:
    return str(request.scope["state"]["user_id"])


def _chat_model(model_id: str) -> LocalModel:
    model = find_model(model_id)
    if model is None:
        raise ApiError(
            404,
            f"model '{model_id}' does not exist on this local server; "
            f"its chat model is '{CHAT_MODEL_ID}'",
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


def _stops(stop: str | list[str] | None) -> list[str]:
    if stop is None:
        return []
    return [stop] if isinstance(stop, str) else [s for s in stop if s]


def _check(engine: LlamaEngine | WhisperEngine, what: str) -> None:
    try:
        engine.check()
    except EngineUnavailable as exc:
        raise engine_unavailable(what, str(exc)) from exc


def _new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def _noop(*_: Any) -> None:
    return None


def _job_error(exc: BaseException, what: str) -> ApiError:
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, PromptTooLong):
        return request_error(str(exc))
    if isinstance(exc, EngineUnavailable):
        return engine_unavailable(what, str(exc))
    log.exception("engine failure", exc_info=exc)
    return ApiError(500, f"the local {what} engine failed: {exc}", code="engine_error")


def _error_event(err: ApiError) -> bytes:
    payload = json.loads(err.body())
    payload["error"]["code"] = err.code or str(err.status)
    return sse(payload)


# ---------------------------------------------------------------- models


async def list_models(request: Request) -> Response:
    """GET /v1/models."""
    return _json({"object": "list", "data": [m.to_wire() for m in MODELS]})


async def retrieve_model(request: Request) -> Response:
    """GET /v1/models/{model_id}."""
    model_id = request.path_params["model_id"]
    model = find_model(model_id)
    if model is None:
        raise ApiError(404, f"model '{model_id}' not found", code="model_not_found")
    return _json(model.to_wire())


# ---------------------------------------------------------------- chat


def _chat_payload(
    out: ChatOutcome, completion_id: str, created: int, model_id: str
) -> dict[str, Any]:
    tool_calls = None
    if out.tool_call is not None:
        call = out.tool_call
        tool_calls = [
            ToolCall(
                id=call["id"],
                type="function",
                function=FunctionCall(name=call["name"], arguments=call["arguments"]),
            )
        ]
    message = ChatCompletionMessage(role="assistant", content=out.content, tool_calls=tool_calls)
    completion = ChatCompletion(
        id=completion_id,
        created=created,
        model=model_id,
        choices=[ChatCompletionChoice(index=0, message=message, finish_reason=out.finish_reason)],
        usage=Usage(
            prompt_tokens=out.prompt_tokens,
            completion_tokens=out.completion_tokens,
            total_tokens=out.prompt_tokens + out.completion_tokens,
        ),
    )
    payload = completion.model_dump(exclude_none=True)
    choice = payload["choices"][0]
    choice["message"]["content"] = out.content
    choice["logprobs"] = None
    return payload


async def chat_completions(request: Request) -> Response:
    """POST /v1/chat/completions."""
    state = _state(request)
    body = await _json_body(request)
    n = body.get("n")
    if isinstance(n, int) and not isinstance(n, bool) and n > 1:
        raise bad_request("n must be 1: this server generates one choice per request", param="n")
    req = _validate(ChatCompletionRequest, body)
    model = _chat_model(req.model)
    messages = normalize_messages(req.messages, model.id)
    tools = parse_tools(req.tools)
    sampling = Sampling(
        temperature=1.0 if req.temperature is None else req.temperature,
        top_p=1.0 if req.top_p is None else req.top_p,
        max_tokens=req.max_completion_tokens or req.max_tokens or DEFAULT_CHAT_MAX_TOKENS,
        stop=_stops(req.stop),
        frequency_penalty=req.frequency_penalty or 0.0,
        presence_penalty=req.presence_penalty or 0.0,
        seed=0 if req.seed is None else req.seed,
    )
    plan = plan_chat(messages, tools, req.tool_choice, sampling, req.response_format)
    engine = state.llama
    _check(engine, "chat")
    user_id = _user_id(request)
    completion_id = _new_id("chatcmpl")
    created = int(time.time())
    stream_text = req.stream and not plan.calls_tool

    def job(
        emit: Callable[[Any], None], ready: Callable[[], None], cancel: threading.Event
    ) -> ChatOutcome:
        out = run_chat(
            engine,
            plan,
            on_piece=emit if stream_text else None,
            on_ready=lambda _n: ready(),
            cancel=cancel,
        )
        state.store.record(user_id, model.id, out.prompt_tokens, out.completion_tokens)
        return out

    if not req.stream:
        try:
            out = await engine.runner.run(job, _noop, _noop, threading.Event())
        except Exception as exc:
            raise _job_error(exc, "chat") from exc
        return _json(_chat_payload(out, completion_id, created, model.id))

    stream: ThreadStream[ChatOutcome] = ThreadStream(engine.runner, job)
    try:
        await stream.started()
    except Exception as exc:
        raise _job_error(exc, "chat") from exc
    include_usage = bool((req.stream_options or {}).get("include_usage"))
    return StreamingResponse(
        _chat_events(stream, completion_id, created, model.id, include_usage),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache"},
    )


async def _chat_events(
    stream: ThreadStream[ChatOutcome],
    completion_id: str,
    created: int,
    model_id: str,
    include_usage: bool,
) -> AsyncIterator[bytes]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return sse(
            {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model_id,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
        )

    try:
        yield chunk({"role": "assistant", "content": ""})
        async for piece in stream.pieces():
            yield chunk({"content": piece})
        try:
            out = await stream.result()
        except Exception as exc:
            yield _error_event(_job_error(exc, "chat"))
            return
        if out.tool_call is not None:
            call = out.tool_call
            yield chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": call["id"],
                            "type": "function",
                            "function": {"name": call["name"], "arguments": ""},
                        }
                    ]
                }
            )
            for piece in out.argument_pieces:
                yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
        yield chunk({}, out.finish_reason)
        if include_usage:
            yield sse(
                {
                    "id": completion_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model_id,
                    "choices": [],
                    "usage": {
                        "prompt_tokens": out.prompt_tokens,
                        "completion_tokens": out.completion_tokens,
                        "total_tokens": out.prompt_tokens + out.completion_tokens,
                    },
                }
            )
        yield DONE
    finally:
        stream.close()


# ---------------------------------------------------------------- completions


async def completions(request: Request) -> Response:
    """POST /v1/completions (one choice per prompt, in order)."""
    state = _state(request)
    body = await _json_body(request)
    n = body.get("n")
    if isinstance(n, int) and not isinstance(n, bool) and n > 1:
        raise bad_request("n must be 1: send a list of prompts for several choices", param="n")
    req = _validate(CompletionRequest, body)
    model = _chat_model(req.model)
    prompts = [req.prompt] if isinstance(req.prompt, str) else list(req.prompt)
    if not prompts:
        raise bad_request("prompt must be a string or a non-empty list of strings", param="prompt")
    sampling = Sampling(
        temperature=1.0 if req.temperature is None else req.temperature,
        top_p=1.0 if req.top_p is None else req.top_p,
        max_tokens=16 if req.max_tokens is None else req.max_tokens,
        stop=_stops(req.stop),
        seed=0 if req.seed is None else req.seed,
    )
    engine = state.llama
    _check(engine, "completions")
    user_id = _user_id(request)
    completion_id = _new_id("cmpl")
    created = int(time.time())
    streaming = req.stream

    def job(
        emit: Callable[[Any], None], ready: Callable[[], None], cancel: threading.Event
    ) -> list[GenerationResult]:
        parts = [[(p, True)] for p in prompts]
        for part in parts:
            engine.check_prompt(part)
        ready()
        results: list[GenerationResult] = []
        try:
            for i, part in enumerate(parts):
                if cancel.is_set():
                    break
                on_piece = (lambda s, i=i: emit((i, s, None))) if streaming else None
                res = engine.generate(part, sampling, on_piece=on_piece, cancel=cancel)
                results.append(res)
                if streaming:
                    emit((i, "", "length" if res.finish_reason == "length" else "stop"))
        finally:
            state.store.record(
                user_id,
                model.id,
                sum(r.prompt_tokens for r in results),
                sum(r.completion_tokens for r in results),
            )
        return results

    if not streaming:
        try:
            results = await engine.runner.run(job, _noop, _noop, threading.Event())
        except Exception as exc:
            raise _job_error(exc, "completions") from exc
        n_in = sum(r.prompt_tokens for r in results)
        n_out = sum(r.completion_tokens for r in results)
        completion = Completion(
            id=completion_id,
            created=created,
            model=model.id,
            choices=[
                CompletionChoice(
                    text=r.text,
                    index=i,
                    finish_reason="length" if r.finish_reason == "length" else "stop",
                )
                for i, r in enumerate(results)
            ],
            usage=Usage(prompt_tokens=n_in, completion_tokens=n_out, total_tokens=n_in + n_out),
        )
        return _json(completion.model_dump())

    stream: ThreadStream[list[GenerationResult]] = ThreadStream(engine.runner, job)
    try:
        await stream.started()
    except Exception as exc:
        raise _job_error(exc, "completions") from exc
    include_usage = bool((req.stream_options or {}).get("include_usage"))
    return StreamingResponse(
        _completion_events(stream, completion_id, created, model.id, include_usage),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache"},
    )


async def _completion_events(
    stream: ThreadStream[list[GenerationResult]],
    completion_id: str,
    created: int,
    model_id: str,
    include_usage: bool,
) -> AsyncIterator[bytes]:
    def chunk(choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> bytes:
        payload: dict[str, Any] = {
            "id": completion_id,
            "object": "text_completion",
            "created": created,
            "model": model_id,
            "choices": choices,
        }
        if usage is not None:
            payload["usage"] = usage
        return sse(payload)

    try:
        async for index, text, finish in stream.pieces():
            yield chunk([{"text": text, "index": index, "logprobs": None, "finish_reason": finish}])
        try:
            results = await stream.result()
        except Exception as exc:
            yield _error_event(_job_error(exc, "completions"))
            return
        if include_usage:
            n_in = sum(r.prompt_tokens for r in results)
            n_out = sum(r.completion_tokens for r in results)
            yield chunk(
                [],
                {"prompt_tokens": n_in, "completion_tokens": n_out, "total_tokens": n_in + n_out},
            )
        yield DONE
    finally:
        stream.close()


# ---------------------------------------------------------------- audio


def _form_text(form: Any, name: str) -> str | None:
    value = form.get(name)
    if value is None or isinstance(value, UploadFile):
        return None
    text = str(value).strip()
    return text or None


async def transcriptions(request: Request) -> Response:
    """POST /v1/audio/transcriptions (multipart); the answer is always the documented JSON."""
    state = _state(request)
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_AUDIO_BYTES + _MULTIPART_SLACK:
        async for _ in request.stream():  # read it all, so the client sees the answer
            pass
        raise ApiError(413, _too_large_message(int(length)), code="file_too_large", param="file")
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise bad_request("send the audio as multipart/form-data with a 'file' field", param="file")
    try:
        form = await request.form(max_files=1, max_fields=100)
    except HTTPException as exc:
        raise bad_request(f"the multipart body could not be read: {exc.detail}") from exc
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise bad_request(
                "missing required field 'file' (the audio to transcribe)", param="file"
            )
        filename = upload.filename or ""
        ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        if ext not in AUDIO_EXTENSIONS:
            raise bad_request(
                f"unsupported audio file type {('.' + ext) if ext else '(no extension)'!r} "
                f"for {filename!r}: send one of "
                + ", ".join(f".{e}" for e in sorted(AUDIO_EXTENSIONS)),
                param="file",
                code="unsupported_file_type",
            )
        audio = await upload.read()
    finally:
        await form.close()
    if len(audio) > MAX_AUDIO_BYTES:
        raise ApiError(413, _too_large_message(len(audio)), code="file_too_large", param="file")
    if not audio:
        raise bad_request(f"the uploaded file {filename!r} is empty", param="file")
    model_id = _form_text(form, "model")
    if model_id is None:
        raise bad_request("missing required field 'model'", param="model")
    model = find_model(model_id, transcription=True)
    if model is None:
        raise ApiError(
            404,
            f"model '{model_id}' does not exist on this local server; its transcription model "
            f"is '{WHISPER_MODEL_ID}' (also accepted as 'whisper-large-v3')",
            code="model_not_found",
            param="model",
        )
    if model.kind != "transcription":
        raise bad_request(
            f"model '{model_id}' does not take audio; use '{WHISPER_MODEL_ID}'",
            param="model",
            code="model_not_supported",
        )
    temperature: float | None = None
    raw_temp = _form_text(form, "temperature")
    if raw_temp is not None:
        try:
            temperature = float(raw_temp)
        except ValueError as exc:
            raise bad_request("temperature must be a number", param="temperature") from exc
        if not 0.0 <= temperature <= 1.0:
            raise bad_request("temperature must be between 0 and 1", param="temperature")
    language = _form_text(form, "language") or "en"
    prompt = _form_text(form, "prompt")
    engine = state.whisper
    _check(engine, "transcription")
    try:
        result = await engine.runner.run(
            lambda: engine.transcribe(
                audio, language=language, prompt=prompt, temperature=temperature
            )
        )
    except ValueError as exc:
        raise bad_request(str(exc), param="file", code="invalid_audio") from exc
    except Exception as exc:
        raise _job_error(exc, "transcription") from exc
    transcript = Transcription.model_validate(result.payload).model_dump(exclude_none=True)
    ordered = {key: transcript.pop(key) for key in _TRANSCRIPT_ORDER if key in transcript}
    return _json({**ordered, **transcript})


def _too_large_message(size: int) -> str:
    return (
        f"the upload is {size / 1e6:.1f} MB; the largest audio file this endpoint takes is "
        f"{MAX_AUDIO_BYTES // (1024 * 1024)} MB"
    )


# ---------------------------------------------------------------- usage


def _timestamp(value: datetime, tz: ZoneInfo) -> float:
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.timestamp()


async def usage_completions(request: Request) -> Response:
    """POST /v1/usage/completions: token totals per window (and model) for the caller's key."""
    state = _state(request)
    body = await _json_body(request)
    req = _validate(UsageStatisticsRequest, body)
    try:
        tz = ZoneInfo(req.window_timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise bad_request(
            f"window_timezone {req.window_timezone!r} is not an IANA time zone",
            param="window_timezone",
        ) from exc
    group_by = req.group_by or []
    unknown = [g for g in group_by if g != "model"]
    if unknown:
        raise bad_request(f"group_by supports only 'model' (got {unknown})", param="group_by")
    models: list[str] | None = None
    if req.filter_group_by:
        unknown = [k for k in req.filter_group_by if k != "model"]
        if unknown:
            raise bad_request(
                f"filter_group_by supports only 'model' (got {unknown})", param="filter_group_by"
            )
        models = req.filter_group_by.get("model")
    start = _timestamp(req.start_time, tz)
    now = time.time()
    end = _timestamp(req.end_time, tz) if req.end_time is not None else now
    if end <= start:
        raise bad_request("end_time must be later than start_time", param="end_time")
    windows = state.store.windows(
        _user_id(request), start, end, req.window_size, tz, "model" in group_by, models
    )
    end_text = body.get("end_time") or format_rfc3339(now, timezone.utc)
    return _json(
        {
            "data": windows,
            "start_time": body.get("start_time"),
            "end_time": end_text,
            "window_size": req.window_size,
        }
    )


# ---------------------------------------------------------------- gate and app


class Gate:
    """Outermost layer: server headers on every answer, API keys, then injected faults."""

    def __init__(self, app: ASGIApp, state: LocalState) -> None:
        self.app = app
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

        user_id = self._authenticate(scope)
        if isinstance(user_id, ApiError):
            await _send_error(send_with_headers, user_id)
            return
        scope.setdefault("state", {})
        scope["state"]["user_id"] = user_id
        scope["state"]["request_id"] = request_id
        if self.state.settings.enable_faults and await inject(
            scope, receive, send_with_headers, self.state.faults, self.abort_hook
        ):
            return
        await self.app(scope, receive, send_with_headers)

    def _authenticate(self, scope: Scope) -> str | ApiError:
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
        for known, user_id in self.state.keys.items():
            if hmac.compare_digest(known.encode(), key.encode()):
                return user_id
        return ApiError(
            401,
            "invalid API key for this local server",
            code="invalid_api_key",
        )


async def _send_error(send: Send, err: ApiError) -> None:
    body = err.body()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in err.headers.items()]
    await send({"type": "http.response.start", "status": err.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


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
        err = ApiError(405, f"method {request.method} is not allowed on {request.url.path}")
    else:
        err = ApiError(exc.status_code, str(exc.detail))
    return _error_response(err)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    return Response(
        error_body(500, f"internal error: {type(exc).__name__}: {exc}", code="internal_error"),
        status_code=500,
        media_type="application/json",
    )


def create_app(settings: ServerSettings | None = None) -> Gate:
    """Build the server's ASGI app (models load on first use)."""
    state = LocalState(settings or ServerSettings())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            state.close()

    routes = [
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/models/{model_id}", retrieve_model, methods=["GET"]),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/completions", completions, methods=["POST"]),
        Route("/v1/audio/transcriptions", transcriptions, methods=["POST"]),
        Route("/v1/usage/completions", usage_completions, methods=["POST"]),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            Exception: _server_error,
        },
    )
    app.state.local = state
    return Gate(app, state)
