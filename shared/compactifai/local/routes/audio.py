"""``POST /v1/audio/transcriptions`` (multipart); the answer is always the documented JSON.

Uploads larger than :data:`~compactifai.local.limits.MAX_AUDIO_BYTES` are refused with 413
before the form is parsed (by :class:`~compactifai.local.limits.BodyLimit`).
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ...types import AUDIO_EXTENSIONS, Transcription
from ..catalogue import WHISPER_MODEL_ID, find_model
from ..errors import ApiError, bad_request, describe
from ..limits import AUDIO_PATH, MAX_AUDIO_BYTES, too_large
from ._common import available_ids, check_engine, job_error, json_response, state_of

__all__ = ["transcriptions"]

#: The documented key order of a transcript.
_TRANSCRIPT_ORDER = ("task", "language", "duration", "text", "segments")


def _form_text(form: Any, name: str) -> str | None:
    value = form.get(name)
    if value is None or isinstance(value, UploadFile):
        return None
    text = str(value).strip()
    return text or None


async def transcriptions(request: Request) -> Response:
    """POST /v1/audio/transcriptions."""
    state = state_of(request)
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
        raise too_large(AUDIO_PATH, len(audio))
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
            f"is '{WHISPER_MODEL_ID}' (also accepted as 'whisper-large-v3'; available: "
            f"{available_ids()})",
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
    check_engine(engine, "transcription")
    try:
        result = await engine.runner.run(
            lambda: engine.transcribe(
                audio, language=language, prompt=prompt, temperature=temperature
            )
        )
    except ValueError as exc:
        raise bad_request(describe(exc), param="file", code="invalid_audio") from exc
    except Exception as exc:
        raise job_error(exc, "transcription", param="file") from exc
    transcript = Transcription.model_validate(result.payload).model_dump(exclude_none=True)
    ordered = {key: transcript.pop(key) for key in _TRANSCRIPT_ORDER if key in transcript}
    return json_response({**ordered, **transcript})
