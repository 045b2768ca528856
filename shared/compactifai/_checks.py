"""Client-side checks of the limits the API documents, with messages that say what to change.

A request that would certainly be refused is refused here, before it costs a round trip (or an
upload of several megabytes).

Example:
    >>> from compactifai._checks import check_range
    >>> check_range("temperature", 0.7, 0.0, 2.0)
    >>> check_range("temperature", 3, 0.0, 2.0)
    Traceback (most recent call last):
    ...
    compactifai._errors.InvalidRequestError: temperature must be between 0.0 and 2.0, got 3
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Union

from ._errors import InvalidRequestError

__all__ = [
    "AUDIO_EXTENSIONS",
    "MAX_AUDIO_BYTES",
    "AudioFileError",
    "AudioInput",
    "AudioUpload",
    "check_range",
    "merge_extra_body",
    "prepare_audio",
    "rfc3339",
]

#: File extensions the transcription endpoint takes: the first reference's six, and flac, m4a
#: and ogg, which today's service takes too (its documentation, 2026).
AUDIO_EXTENSIONS = frozenset(
    {"flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "ogg", "wav", "webm"}
)
#: The service's upload limit (raised from 1 MB to 25 MB on 2026-02-16).
MAX_AUDIO_BYTES = 25 * 1024 * 1024

AudioInput = Union[str, "os.PathLike[str]", bytes, IO[bytes], tuple[str, bytes]]


class AudioFileError(InvalidRequestError):
    """An audio file cannot be uploaded as it is (missing, empty, too large, wrong type).

    Example:
        >>> from compactifai._checks import prepare_audio
        >>> prepare_audio(("notes.aac", b"AAC"))
        Traceback (most recent call last):
        ...
        compactifai._checks.AudioFileError: 'notes.aac': the transcription endpoint takes only flac, m4a, mp3, mp4, mpeg, mpga, ogg, wav, webm files...
    """

    def __init__(self, message: str, *, filename: str | None = None) -> None:
        super().__init__(message, param="file")
        self.message = message
        self.filename = filename

    def __str__(self) -> str:
        return self.message


class AudioFileNotFoundError(AudioFileError, FileNotFoundError):
    """The audio file named does not exist."""


def check_range(name: str, value: float | None, low: float, high: float) -> None:
    """Refuse a number outside ``[low, high]`` (``None`` means "not sent")."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidRequestError(f"{name} must be a number, got {value!r}", param=name)
    if not low <= value <= high:
        raise InvalidRequestError(
            f"{name} must be between {low} and {high}, got {value}", param=name
        )


def check_positive_int(name: str, value: int | None) -> None:
    """Refuse a token count that is not a whole number of at least 1."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidRequestError(f"{name} must be an integer >= 1, got {value!r}", param=name)


def check_n(n: int | None) -> None:
    """The API generates one choice per request."""
    if n is not None and n != 1:
        raise InvalidRequestError(
            f"n={n} is not supported: CompactifAI generates one choice per request; "
            "send n=1 (or leave it out) and make several requests instead",
            param="n",
        )


#: The reasoning efforts today's service takes (its OpenAPI, 2026); a model may still refuse
#: one it does not implement, and the server's error then names the ones it does.
REASONING_EFFORTS = ("none", "low", "medium", "high", "xhigh", "max")
#: The service's ceiling for token counts (``max_tokens``, ``min_tokens``...).
MAX_TOKENS_CEILING = 150_000


def check_reasoning_effort(effort: str | None) -> None:
    """Refuse a reasoning effort the service does not know, naming the ones it does.

    Example:
        >>> check_reasoning_effort("high")
        >>> check_reasoning_effort("minimal")
        Traceback (most recent call last):
        ...
        compactifai._errors.InvalidRequestError: reasoning_effort='minimal' is not a level CompactifAI takes: use one of 'none', 'low', 'medium', 'high', 'xhigh', 'max' (a model may refuse a level it does not implement)
    """
    if effort is None or (isinstance(effort, str) and effort in REASONING_EFFORTS):
        return
    allowed = ", ".join(repr(e) for e in REASONING_EFFORTS)
    raise InvalidRequestError(
        f"reasoning_effort={effort!r} is not a level CompactifAI takes: use one of {allowed} "
        "(a model may refuse a level it does not implement)",
        param="reasoning_effort",
    )


def check_bool(name: str, value: bool | None) -> None:
    """Refuse a flag that is not ``True``/``False`` (``None`` means "not sent")."""
    if value is not None and not isinstance(value, bool):
        raise InvalidRequestError(f"{name} must be true or false, got {value!r}", param=name)


def check_min_tokens(value: int | None) -> None:
    """``min_tokens``: a whole number from 0 to the service's ceiling."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not (
        0 <= value <= MAX_TOKENS_CEILING
    ):
        raise InvalidRequestError(
            f"min_tokens must be an integer from 0 to {MAX_TOKENS_CEILING}, got {value!r}",
            param="min_tokens",
        )


def merge_extra_body(body: dict[str, Any], extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """Add the caller's extra fields; a field also given as a named argument is an error."""
    if not extra:
        return body
    clash = sorted(k for k in extra if k in body)
    if clash:
        raise InvalidRequestError(
            f"{', '.join(clash)} given both as an argument and in extra_body: keep one",
            param=clash[0],
        )
    body.update(extra)
    return body


@dataclass(frozen=True)
class AudioUpload:
    """An audio file read and checked, ready for a multipart upload."""

    filename: str
    content: bytes
    content_type: str


_CONTENT_TYPES = {
    "flac": "audio/flac",
    "m4a": "audio/mp4",
    "ogg": "audio/ogg",
    "mp3": "audio/mpeg",
    "mpga": "audio/mpeg",
    "mpeg": "audio/mpeg",
    "mp4": "audio/mp4",
    "wav": "audio/wav",
    "webm": "audio/webm",
}


def _extension(filename: str) -> str:
    return Path(filename).suffix.lower().lstrip(".")


def check_audio_name(filename: str) -> str:
    """Return the extension of ``filename`` if the API takes it, else raise."""
    ext = _extension(filename)
    if ext not in AUDIO_EXTENSIONS:
        allowed = ", ".join(sorted(AUDIO_EXTENSIONS))
        raise AudioFileError(
            f"{filename!r}: the transcription endpoint takes only {allowed} files; "
            "convert the audio (for example `ffmpeg -i in.aac out.mp3`) or pass a filename "
            "with the right extension",
            filename=filename,
        )
    return ext


def prepare_audio(file: AudioInput, filename: str | None = None) -> AudioUpload:
    """Read an audio input (path, bytes, binary file object or (name, bytes)) and check it."""
    if isinstance(file, tuple):
        filename, content = filename or file[0], file[1]
    elif isinstance(file, (bytes, bytearray, memoryview)):
        if filename is None:
            raise AudioFileError(
                "audio given as bytes needs filename=... (for example 'call.wav') so the "
                "server knows its format"
            )
        content = bytes(file)
    elif isinstance(file, (str, os.PathLike)):
        path = Path(file)
        filename = filename or path.name
        check_audio_name(filename)
        if not path.is_file():
            raise AudioFileNotFoundError(
                f"no audio file at {str(path)!r}: check the path", filename=str(path)
            )
        size = path.stat().st_size
        _check_size(filename, size)
        content = path.read_bytes()
    elif hasattr(file, "read"):
        name = filename or getattr(file, "name", None)
        if not isinstance(name, str):
            raise AudioFileError(
                "this file object has no name: pass filename=... (for example 'call.wav')"
            )
        filename = os.path.basename(name)
        check_audio_name(filename)
        content = file.read(MAX_AUDIO_BYTES + 1)
        if not isinstance(content, bytes):
            raise AudioFileError(
                f"{filename!r} was opened in text mode: open it with 'rb'", filename=filename
            )
    else:
        raise AudioFileError(
            f"cannot upload {type(file).__name__}: pass a path, bytes, a binary file object "
            "or a (filename, bytes) tuple"
        )
    ext = check_audio_name(filename)
    _check_size(filename, len(content))
    return AudioUpload(filename, content, _CONTENT_TYPES[ext])


def _check_size(filename: str, size: int, limit: int = MAX_AUDIO_BYTES) -> None:
    if size == 0:
        raise AudioFileError(f"{filename!r} is empty: there is nothing to transcribe",
                             filename=filename)
    if size > limit:
        what = (
            "uploads are limited to 25 MB (26,214,400 bytes)"
            if limit == MAX_AUDIO_BYTES
            else f"the limit set is {limit:,} bytes"
        )
        raise AudioFileError(
            f"{filename!r} is {size / 1e6:.1f} MB; {what}: transcribe it with "
            "compactifai.transcripts.transcribe_long (or a transcript loader), which splits "
            "it on silence, or compress it (for example to mp3)",
            filename=filename,
        )


def rfc3339(name: str, value: datetime | str | None) -> str | None:
    """Normalize a time to RFC 3339. A naive ``datetime`` is refused: its zone is unknown."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidRequestError(
                f"{name}={value!r} is not an RFC 3339 time such as '2025-04-08T00:00:00Z'",
                param=name,
            ) from None
        if parsed.tzinfo is None:
            raise InvalidRequestError(
                f"{name}={value!r} has no UTC offset: add 'Z' or '+HH:MM'", param=name
            )
        return text
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidRequestError(
                f"{name} is a naive datetime: give it a tzinfo (for example "
                "datetime(..., tzinfo=timezone.utc))",
                param=name,
            )
        return value.isoformat().replace("+00:00", "Z")
    raise InvalidRequestError(
        f"{name} must be a datetime or an RFC 3339 string, not {type(value).__name__}",
        param=name,
    )
