"""``POST /v1/audio/transcriptions`` (multipart), answered as today's service answers it.

- Formats: flac, mp3, mp4, mpeg, mpga, m4a, ogg, wav, webm (whatever PyAV decodes).
- ``language`` is optional: without it Whisper detects the language, and the answer says
  which (``language`` of the JSON answer).
- ``response_format``: ``json`` (the default) and ``verbose_json`` give the first reference's
  JSON (``task``, ``language``, ``duration``, ``text``, ``segments``); ``text`` gives
  ``text/plain``, ``srt`` SubRip as ``text/plain`` (as OpenAI's API does) and ``vtt``
  WebVTT as ``text/vtt``.
- ``stream=true``: server-sent events as segments are decoded, in OpenAI's shape (the
  service documents none): ``{"type": "transcript.text.delta", "delta"}`` per segment, then
  ``{"type": "transcript.text.done", "text", "usage"}``; no ``[DONE]`` marker.
- ``timestamp_granularities[]``, ``include[]`` and ``chunking_strategy`` are accepted and
  ignored, as the service does.

Errors come in the service's shapes: a form that breaks the schema (no ``file`` or
``model``, a ``response_format`` outside the list, a ``temperature`` that is not a number)
is FastAPI's 422 ``{"detail": [...]}``; an unknown model a 400 listing the available ids;
an unsupported or undecodable file a 400 ``{"error": {...}}``. Uploads larger than
:data:`~compactifai.local.limits.MAX_AUDIO_BYTES` are refused with 413 before the form is
parsed (by :class:`~compactifai.local.limits.BodyLimit`).
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ..._subtitles import render_subtitles
from ...types import AUDIO_EXTENSIONS, Transcription
from ..catalogue import TRANSCRIPTION_ALIASES, WHISPER_MODEL_ID, find_model
from ..errors import bad_request, describe
from ..limits import AUDIO_PATH, MAX_AUDIO_BYTES, too_large
from ..streaming import ThreadStream, sse
from ._common import (
    available_ids,
    check_engine,
    error_event,
    job_error,
    json_response,
    state_of,
    watch_disconnect,
)
from ._shapes import DetailError, detail_errors

__all__ = ["transcriptions"]

#: The documented key order of a transcript.
_TRANSCRIPT_ORDER = ("task", "language", "duration", "text", "segments")
#: ``response_format`` values, in the order the OpenAPI lists them.
_FORMATS = ("json", "text", "srt", "verbose_json", "vtt")
_TEXT_TYPES = {
    "text": "text/plain; charset=utf-8",
    "srt": "text/plain; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
}
_TRUE = frozenset({"true", "1", "yes", "on"})


def _form_text(form: Any, name: str) -> str | None:
    value = form.get(name)
    if value is None or isinstance(value, UploadFile):
        return None
    text = str(value).strip()
    return text or None


def _missing(*names: str) -> DetailError:
    return DetailError.invalid(
        [
            {"type": "missing", "loc": ["body", name], "msg": "Field required", "input": None}
            for name in names
        ]
    )


def _check_form(form: Any) -> tuple[UploadFile, str, str, float | None]:
    """``(file, model, response_format, temperature)``, or FastAPI's 422 for what is wrong."""
    problems: list[dict[str, Any]] = []
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        problems.extend(_missing("file").payload["detail"])
    model_id = _form_text(form, "model")
    if model_id is None:
        problems.extend(_missing("model").payload["detail"])
    response_format = _form_text(form, "response_format") or "json"
    if response_format not in _FORMATS:
        expected = ", ".join(f"'{f}'" for f in _FORMATS[:-1]) + f" or '{_FORMATS[-1]}'"
        problems.append(
            {
                "type": "literal_error",
                "loc": ["body", "response_format"],
                "msg": f"Input should be {expected}",
                "input": response_format,
                "ctx": {"expected": expected},
            }
        )
    temperature: float | None = None
    raw_temp = _form_text(form, "temperature")
    if raw_temp is not None:
        try:
            temperature = float(raw_temp)
        except ValueError:
            problems.append(
                {
                    "type": "float_parsing",
                    "loc": ["body", "temperature"],
                    "msg": "Input should be a valid number, unable to parse string as a number",
                    "input": raw_temp,
                }
            )
    if problems:
        raise DetailError.invalid(problems)
    assert isinstance(upload, UploadFile) and model_id is not None
    return upload, model_id, response_format, temperature


def _check_model(model_id: str) -> None:
    model = find_model(model_id, transcription=True)
    if model is None:
        aliases = ", ".join(repr(a) for a in sorted(TRANSCRIPTION_ALIASES))
        raise bad_request(
            f"Invalid request: Model '{model_id}' not found; available: [{available_ids()}] "
            f"(this local server's transcription model is '{WHISPER_MODEL_ID}', also "
            f"accepted as {aliases})",
            param="model",
            code="model_not_found",
        )
    if model.kind != "transcription":
        raise bad_request(
            f"model '{model_id}' does not take audio; use '{WHISPER_MODEL_ID}'",
            param="model",
            code="model_not_supported",
        )


@detail_errors
async def transcriptions(request: Request) -> Response:
    """POST /v1/audio/transcriptions."""
    state = state_of(request)
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise _missing("file", "model")
    try:
        form = await request.form(max_files=1, max_fields=100)
    except HTTPException as exc:
        raise bad_request(f"the multipart body could not be read: {exc.detail}") from exc
    try:
        upload, model_id, response_format, temperature = _check_form(form)
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
        raise too_large(AUDIO_PATH, len(audio))
    if not audio:
        raise bad_request(f"the uploaded file {filename!r} is empty", param="file")
    _check_model(model_id)
    if temperature is not None and not 0.0 <= temperature <= 1.0:
        raise bad_request("temperature must be between 0 and 1", param="temperature")
    # No language: Whisper detects it (the service's rule; the first reference said "en").
    language = _form_text(form, "language")
    prompt = _form_text(form, "prompt")
    streaming = (_form_text(form, "stream") or "").lower() in _TRUE
    engine = state.whisper
    check_engine(engine, "transcription")

    def job(
        emit: Callable[[Any], None], ready: Callable[[Any], None], cancel: threading.Event
    ) -> dict[str, Any]:
        if cancel.is_set():
            raise bad_request("the client disconnected before transcription started")
        details, found = engine.segments(
            audio, language=language, prompt=prompt, temperature=temperature
        )
        ready(details)
        segments = _collect(found, emit, cancel)
        return {
            "task": "transcribe",
            **details,
            "text": " ".join(seg["text"] for seg in segments if seg["text"]),
            "segments": segments,
        }

    cancel = threading.Event()
    stream: ThreadStream[dict[str, Any]] = ThreadStream(engine.runner, job, cancel)
    watcher = watch_disconnect(request, cancel)
    try:
        await stream.started()
        if not streaming:
            payload = await stream.result()
    except ValueError as exc:
        raise bad_request(describe(exc), param="file", code="invalid_audio") from exc
    except Exception as exc:
        raise job_error(exc, "transcription", param="file") from exc
    finally:  # a stream's own end (or the client leaving it) stops the job from here on
        watcher.cancel()
    if streaming:
        return StreamingResponse(
            _events(stream), media_type="text/event-stream", headers={"cache-control": "no-cache"}
        )
    return _answer(payload, response_format)


def _collect(
    found: Iterator[dict[str, Any]], emit: Callable[[Any], None], cancel: threading.Event
) -> list[dict[str, Any]]:
    segments: list[dict[str, Any]] = []
    for segment in found:
        segments.append(segment)
        emit(segment)
        if cancel.is_set():
            break
    return segments


def _answer(payload: dict[str, Any], response_format: str) -> Response:
    if response_format in _TEXT_TYPES:
        if response_format == "text":
            body = payload["text"] + "\n"
        else:
            body = render_subtitles(payload["segments"], response_format)  # type: ignore[arg-type]
        return Response(body.encode("utf-8"), media_type=_TEXT_TYPES[response_format])
    transcript = Transcription.model_validate(payload).model_dump(exclude_none=True)
    ordered = {key: transcript.pop(key) for key in _TRANSCRIPT_ORDER if key in transcript}
    return json_response({**ordered, **transcript})


async def _events(stream: ThreadStream[dict[str, Any]]) -> AsyncIterator[bytes]:
    """A delta per decoded segment, then the whole text (OpenAI's transcript events)."""
    try:
        first = True
        async for segment in stream.pieces():
            text = segment["text"]
            if not text:
                continue
            yield sse({"type": "transcript.text.delta", "delta": text if first else " " + text})
            first = False
        try:
            payload = await stream.result()
        except Exception as exc:
            yield error_event(job_error(exc, "transcription", param="file"))
            return
        yield sse(
            {
                "type": "transcript.text.done",
                "text": payload["text"],
                "usage": {"type": "duration", "seconds": payload["duration"]},
            }
        )
    finally:
        stream.close()
