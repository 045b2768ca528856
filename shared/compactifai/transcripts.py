"""Audio in, transcript records out: the framework-free half of the transcript loaders.

``langchain_compactifai.CompactifAITranscriptLoader`` and
``llama_index_compactifai.CompactifAITranscriptReader`` share everything here and only turn
:class:`TranscriptRecord` objects into their framework's documents:

- :func:`plan_sources` expands the inputs (paths, folders with a glob, bytes with a filename,
  ``(filename, bytes)`` tuples) into :class:`AudioSource` objects and checks every one of them
  *before anything is uploaded* (extension, existence, emptiness, the 25 MB limit);
- :func:`iter_transcripts` / :func:`aiter_transcripts` send them to ``POST
  /audio/transcriptions`` (the async one with bounded concurrency) and apply the
  ``on_error`` policy;
- :func:`transcript_records` turns one :class:`~compactifai.types.Transcription` into records:
  one per file (``mode="file"``) or one per timestamped segment (``mode="segment"``), and
  reports a file without speech (:class:`NoSpeechWarning`).

Upload limit: the service takes files up to 25 MB (26,214,400 bytes; raised from 1 MB on
2026-02-16). A longer recording is split on silence into parts under the limit, transcribed
part by part and merged with its timestamps offset to the whole file
(:func:`transcribe_long`, in ``compactifai._audio_split``; the ``audio`` extra). In mode
``"segment"`` the sync path yields such a recording's segments part by part, as each part
is transcribed.

Streamed transcription (``transcribe_stream``) is not used here on purpose: a Document needs
the whole text, and its metadata the detected language and the timestamps, which the stream's
``transcript.text.delta`` events do not carry. What a lazy load can gain is delivering long
recordings part by part, which it does.

Example:
    >>> from compactifai.transcripts import transcript_records
    >>> from compactifai.types import Transcription
    >>> t = Transcription.model_validate({"text": " Hello. Bye.", "language": "en",
    ...     "duration": 2.0, "segments": [
    ...         {"id": 0, "start": 0.0, "end": 1.0, "text": " Hello."},
    ...         {"id": 1, "start": 1.0, "end": 2.0, "text": " Bye."}]})
    >>> [(r.text, r.metadata["start"]) for r in transcript_records(
    ...     t, source="call.wav", model="cai-whisper-large-v3-turbo-slim", mode="segment")]
    [('Hello.', 0.0), ('Bye.', 1.0)]
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import warnings
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Union, cast

from ._audio_split import (
    AudioPart,
    PartTimeline,
    atranscribe_long,
    atranscribe_parts,
    merge_transcriptions,
    probe_audio,
    read_audio,
    split_audio,
    transcribe_long,
    transcribe_parts,
)
from ._checks import (
    AUDIO_EXTENSIONS,
    MAX_AUDIO_BYTES,
    AudioFileError,
    AudioFileNotFoundError,
    _check_size,
    check_audio_name,
    check_range,
)
from ._config import Secret, SecretLike, TimeoutTypes
from ._errors import (
    AuthenticationError,
    CompactifAIError,
    ConfigurationError,
    NotFoundError,
    PermissionDeniedError,
)
from ._requests import DEFAULT_TRANSCRIPTION_MODEL
from ._subtitles import render_subtitles

if TYPE_CHECKING:
    from ._client import AsyncCompactifAIClient, CompactifAIClient
    from .types import Transcription

__all__ = [
    "DEFAULT_TRANSCRIPTION_MODEL",
    "AudioInputs",
    "AudioPart",
    "AudioSkippedWarning",
    "AudioSource",
    "AudioTranscriptionError",
    "LazyClients",
    "Mode",
    "NoSpeechWarning",
    "OnError",
    "OutputFormat",
    "TranscriptOptions",
    "TranscriptRecord",
    "aiter_transcripts",
    "atranscribe_long",
    "has_no_speech",
    "iter_transcripts",
    "merge_transcriptions",
    "plan_sources",
    "split_audio",
    "transcribe_long",
    "transcript_records",
]

logger = logging.getLogger("compactifai.transcripts")

Mode = Literal["file", "segment"]
OnError = Literal["raise", "skip"]
#: What a file's Document holds: the transcript's text, or SubRip / WebVTT subtitles.
OutputFormat = Literal["text", "srt", "vtt"]
PathInput = Union[str, "os.PathLike[str]"]
#: One input: a path (file or folder), ``(filename, bytes)``, or an :class:`AudioSource`.
SingleInput = Union[PathInput, tuple[str, bytes], "AudioSource"]
#: What the loaders take: one input, bytes (with ``filename=``), or a list of inputs.
AudioInputs = Union[SingleInput, bytes, Sequence[SingleInput]]  # noqa: UP007 - run time

#: Errors that would fail every file alike (bad key, no permission, wrong URL or model):
#: raised even with ``on_error="skip"``, since skipping would only repeat them per file.
_FATAL = (AuthenticationError, PermissionDeniedError, NotFoundError, ConfigurationError)
_MIME_EXTENSIONS = {
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/mpga": "mpga",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/vnd.wave": "wav",
    "audio/mp4": "mp4",
    "video/mp4": "mp4",
    "audio/webm": "webm",
    "video/webm": "webm",
    "video/mpeg": "mpeg",
}
_SEGMENT_KEYS = ("id", "start", "end", "text")


class AudioSkippedWarning(UserWarning):
    """An audio input was left out because ``on_error="skip"``; the message says why.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings():  # make skips fatal in this block
        ...     warnings.simplefilter("error", AudioSkippedWarning)
    """


class NoSpeechWarning(UserWarning):
    """A file holds no speech: its transcript is empty (or only what Whisper says of silence).

    The Document is still returned (mode ``"file"``) with ``metadata["no_speech"] = True``;
    mode ``"segment"`` gives no Document for that file.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings():  # leave silent files out without a word
        ...     warnings.simplefilter("ignore", NoSpeechWarning)
    """


class AudioTranscriptionError(CompactifAIError):
    """Transcribing one input failed; ``source`` names it and ``error`` is the cause.

    Raised (with ``on_error="raise"``) for failures after the checks: the server refused the
    file, the connection broke, and so on. Bad inputs found before any upload raise
    :class:`~compactifai.AudioFileError` itself, which names the file too.

    Example:
        >>> err = AudioTranscriptionError("call.wav", TimeoutError("no answer"))
        >>> str(err), err.source
        ("transcribing 'call.wav' failed: no answer", 'call.wav')
    """

    def __init__(self, source: str, error: BaseException) -> None:
        super().__init__(f"transcribing {source!r} failed: {error}")
        self.source = source
        self.error = error

    def __reduce__(self) -> Any:
        return (type(self), (self.source, self.error))


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True)
class AudioSource:
    """One audio file to transcribe: a path on disk, or bytes with a filename.

    ``source`` is what the documents' ``metadata["source"]`` shows; ``filename`` is the name
    sent with the upload (its extension tells the server the format); ``metadata`` is added to
    every record of this source (the framework's own, for example a LangChain Blob's).

    Example:
        >>> AudioSource.from_bytes(b"RIFF...", filename="call.wav").source
        'call.wav'
        >>> AudioSource.from_bytes(b"RIFF...", mimetype="audio/mpeg").filename
        'audio.mp3'
    """

    source: str
    filename: str
    path: Path | None = None
    data: bytes | None = field(default=None, repr=False)
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_path(
        cls,
        path: PathInput,
        *,
        source: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> AudioSource:
        """A file on disk; it is read only when uploaded."""
        p = Path(path)
        return cls(source or str(path), p.name, path=p, metadata=dict(metadata or {}))

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        filename: str | None = None,
        *,
        source: str | None = None,
        mimetype: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> AudioSource:
        """Audio in memory. The name comes from ``filename``, else ``source``, else ``mimetype``."""
        name = filename or (os.path.basename(source) if source else "")
        if not Path(name).suffix and mimetype:
            ext = _MIME_EXTENSIONS.get(mimetype.split(";")[0].strip().lower())
            if ext:
                name = f"{Path(name).stem or 'audio'}.{ext}"
        if not name:
            raise AudioFileError(
                "audio given as bytes needs filename=... (for example 'call.wav') so the "
                "server knows its format"
            )
        return cls(source or name, name, data=bytes(data), metadata=dict(metadata or {}))

    def check(self, max_bytes: int = MAX_AUDIO_BYTES, *, split_long: bool = False) -> None:
        """Raise :class:`~compactifai.AudioFileError` if this cannot be transcribed.

        A file over ``max_bytes`` is refused, unless ``split_long`` (then it will be split,
        which needs the ``audio`` extra: its absence is reported now, before any upload).
        """
        check_audio_name(self.filename)
        size = self.size()
        if split_long and size > max_bytes:
            # It will be split: PyAV must be there and able to open it (its header only).
            probe_audio(self.data if self.data is not None else self.path, self.source)  # type: ignore[arg-type]
            return
        _check_size(self.source if self.data is None else self.filename, size, max_bytes)

    def size(self) -> int:
        """The size in bytes (an error naming the file if there is none at the path)."""
        if self.data is not None:
            return len(self.data)
        assert self.path is not None
        if not self.path.is_file():
            raise AudioFileNotFoundError(
                f"no audio file at {str(self.path)!r}: check the path", filename=self.source
            )
        return self.path.stat().st_size

    def upload(self) -> tuple[Any, str | None]:
        """``(file, filename)`` arguments for the client's ``transcribe``."""
        if self.data is not None:
            return (self.filename, self.data), None
        return self.path, None


def _is_named_bytes(value: object) -> bool:
    return (
        isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], (bytes, bytearray, memoryview))
    )


def _expand_one(
    item: object, glob: str | None, filename: str | None
) -> Iterator[AudioSource | AudioFileError]:
    if isinstance(item, AudioSource):
        yield item
    elif isinstance(item, (bytes, bytearray, memoryview)):
        try:
            yield AudioSource.from_bytes(bytes(item), filename)
        except AudioFileError as err:
            yield err
    elif isinstance(item, tuple) and _is_named_bytes(item):
        yield AudioSource.from_bytes(bytes(item[1]), item[0])
    elif isinstance(item, (str, os.PathLike)):
        path = Path(item)
        if path.is_dir():
            yield from _expand_folder(path, glob)
        else:
            yield AudioSource.from_path(item)
    else:
        yield AudioFileError(
            f"cannot transcribe {type(item).__name__}: pass a path, a folder, bytes with "
            "filename=..., a (filename, bytes) tuple, or a list of those"
        )


def _expand_folder(folder: Path, glob: str | None) -> Iterator[AudioSource | AudioFileError]:
    if glob is None:
        # The default: every supported audio file below the folder; hidden files and
        # everything else (notes, images) are ignored.
        found = [
            p for p in folder.glob("**/*")
            if p.is_file()
            and p.suffix.lower().lstrip(".") in AUDIO_EXTENSIONS
            and not any(part.startswith(".") for part in p.relative_to(folder).parts)
        ]
    else:
        # An explicit glob: every match is an input, checked like a named file.
        found = [p for p in folder.glob(glob) if p.is_file()]
    if not found:
        wanted = glob or "any " + "/".join(sorted(AUDIO_EXTENSIONS)) + " file"
        yield AudioFileNotFoundError(
            f"no audio in folder {str(folder)!r} (looked for {wanted})", filename=str(folder)
        )
    for path in sorted(found):
        yield AudioSource.from_path(path)


def _skip(source: str, err: BaseException, rest: str = "") -> None:
    message = f"skipped {source!r}{rest}: {err}"
    logger.warning(message)
    warnings.warn(message, AudioSkippedWarning, stacklevel=3)


def plan_sources(
    inputs: AudioInputs,
    *,
    glob: str | None = None,
    filename: str | None = None,
    on_error: OnError = "raise",
    max_bytes: int = MAX_AUDIO_BYTES,
    split_long: bool = False,
) -> list[AudioSource]:
    """Expand ``inputs`` into audio sources and check every one before any upload.

    A file over ``max_bytes`` is an error unless ``split_long`` (it will then be split).

    ``inputs`` is a path (file or folder), bytes (with ``filename``), a ``(filename, bytes)``
    tuple, an :class:`AudioSource`, or a list of these. A folder gives every supported audio
    file below it, or with ``glob`` (``"*.mp3"``, ``"**/*.wav"``) every file that matches
    (a match of an unsupported type is an error, not silently ignored). ``glob`` applies to
    folders only. Order is kept; a folder's files come sorted.

    With ``on_error="raise"`` the first bad input raises
    :class:`~compactifai.AudioFileError` (or :class:`~compactifai.AudioFileNotFoundError`),
    naming it; with ``"skip"`` each bad input is reported with :class:`AudioSkippedWarning`
    and left out.

    Example:
        >>> plan_sources(("call.aac", b"AAC"))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        compactifai._checks.AudioFileError: 'call.aac': the transcription endpoint takes only ...
    """
    _check_on_error(on_error)
    if isinstance(inputs, (bytes, bytearray, memoryview)) or _is_named_bytes(inputs):
        items: list[object] = [inputs]
    elif isinstance(inputs, (str, os.PathLike, AudioSource)):
        items = [inputs]
    elif isinstance(inputs, Iterable):
        items = list(inputs)
    else:
        items = [inputs]
    planned: list[AudioSource] = []
    for item in items:
        for found in _expand_one(item, glob, filename):
            try:
                if isinstance(found, AudioFileError):
                    raise found
                found.check(max_bytes, split_long=split_long)
            except AudioFileError as err:
                if on_error == "raise":
                    raise
                _skip(err.filename or getattr(found, "source", None) or "input", err)
                continue
            assert isinstance(found, AudioSource)
            planned.append(found)
    return planned


# ---------------------------------------------------------------- options and records


def _check_on_error(on_error: str) -> None:
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', not {on_error!r}")


@dataclass(frozen=True)
class TranscriptOptions:
    """What to ask the server for, and what to do with the answers.

    ``model``, ``language``, ``prompt`` and ``temperature`` (0 to 1) are the form fields the
    reference documents; ``language`` is sent only when given (the service detects it).
    ``max_concurrency`` bounds the uploads in flight (files of the async path, and parts of a
    split recording). ``output_format`` ``"srt"``/``"vtt"`` makes each file's Document hold
    subtitles (mode ``"file"`` only). A file over ``max_upload_bytes`` (25 MB) is split on
    silence when ``split_long`` (the default; needs the ``audio`` extra), else refused.

    Example:
        >>> TranscriptOptions(language="en", mode="segment").form()["language"]
        'en'
        >>> "language" in TranscriptOptions().form()  # none given: the service detects it
        False
    """

    model: str = DEFAULT_TRANSCRIPTION_MODEL
    language: str | None = None
    prompt: str | None = None
    temperature: float | None = None
    mode: Mode = "file"
    on_error: OnError = "raise"
    max_concurrency: int = 4
    show_progress: bool = False
    output_format: OutputFormat = "text"
    max_upload_bytes: int = MAX_AUDIO_BYTES
    split_long: bool = True

    def __post_init__(self) -> None:
        if self.mode not in ("file", "segment"):
            raise ValueError(f"mode must be 'file' or 'segment', not {self.mode!r}")
        if self.output_format not in ("text", "srt", "vtt"):
            raise ValueError(
                f"output_format must be 'text', 'srt' or 'vtt', not {self.output_format!r}"
            )
        if self.output_format != "text" and self.mode != "file":
            raise ValueError(
                f"output_format={self.output_format!r} gives one subtitle file per audio file: "
                "use it with mode='file' (each segment is a cue of it)"
            )
        if (
            isinstance(self.max_upload_bytes, bool)
            or not isinstance(self.max_upload_bytes, int)
            or not 0 < self.max_upload_bytes <= MAX_AUDIO_BYTES
        ):
            raise ValueError(
                f"max_upload_bytes must be an integer from 1 to {MAX_AUDIO_BYTES:,} (the "
                f"service's 25 MB), not {self.max_upload_bytes!r}"
            )
        _check_on_error(self.on_error)
        check_range("temperature", self.temperature, 0.0, 1.0)
        if (
            isinstance(self.max_concurrency, bool)
            or not isinstance(self.max_concurrency, int)
            or self.max_concurrency < 1
        ):
            raise ValueError(
                f"max_concurrency must be an integer >= 1, not {self.max_concurrency!r}"
            )

    def form(self) -> dict[str, Any]:
        """Keyword arguments for ``transcribe``: the fields set, and a request for segments."""
        kwargs: dict[str, Any] = {
            "model": self.model,
            # The API always answers JSON with segments; asking for them the OpenAI way keeps
            # other Whisper-compatible servers from answering with the text alone.
            "response_format": "verbose_json",
            "timestamp_granularities": ["segment"],
        }
        for key in ("language", "prompt", "temperature"):
            value = getattr(self, key)
            if value is not None:
                kwargs[key] = value
        return kwargs


@dataclass(frozen=True)
class TranscriptRecord:
    """The text and metadata of one future document (a file, or a segment of one).

    Example:
        >>> TranscriptRecord("Hello.", {"source": "a.wav", "start": 0.0}).metadata["start"]
        0.0
    """

    text: str
    metadata: dict[str, Any]


def _compact(values: Mapping[str, Any]) -> dict[str, Any]:
    # Vector stores refuse None metadata values: what the server did not send is left out.
    return {k: v for k, v in values.items() if v is not None}


#: Whisper's no-speech detector: above this, a segment is likely silence (openai-whisper's
#: ``no_speech_threshold``).
_NO_SPEECH_PROB = 0.6


def has_no_speech(transcription: Transcription) -> bool:
    """Whether a transcript says its audio holds no speech.

    True when the text is blank, or when Whisper's own no-speech detector rates every
    segment as likely silence (``no_speech_prob`` over 0.6): Whisper base answers three
    seconds of digital silence with "You" (``no_speech_prob`` 0.74), which its
    ``avg_logprob`` rule alone would keep.

    Example:
        >>> from compactifai.types import Transcription
        >>> has_no_speech(Transcription(text="  ")), has_no_speech(Transcription(text="Hi."))
        (True, False)
        >>> has_no_speech(Transcription.model_validate({"text": "You", "segments": [
        ...     {"id": 0, "start": 0, "end": 3, "text": "You", "no_speech_prob": 0.74}]}))
        True
    """
    if not transcription.text.strip():
        return True
    segments = transcription.segments
    return bool(segments) and all(
        s.no_speech_prob is not None and s.no_speech_prob > _NO_SPEECH_PROB for s in segments
    )


def transcript_records(
    transcription: Transcription,
    *,
    source: str,
    model: str,
    mode: Mode = "file",
    metadata: Mapping[str, Any] | None = None,
    output_format: OutputFormat = "text",
    language: str | None = None,
) -> list[TranscriptRecord]:
    """Turn one transcription into records.

    ``mode="file"``: one record; metadata ``source``, ``model``, ``language``, ``duration``
    and ``segments`` (``[{"id", "start", "end", "text"}, ...]``). With ``output_format``
    ``"srt"`` or ``"vtt"`` its text is the subtitles (rendered from the segments) and
    ``metadata["format"]`` says which.
    ``mode="segment"``: one record per non-blank segment; metadata ``source``, ``model``,
    ``language``, ``segment_id``, ``start``, ``end`` (seconds), ``avg_logprob``,
    ``no_speech_prob``. A server that sends no segments gives one record without timestamps
    (with a warning). Keys whose value the server did not send are left out.

    ``language`` is the language the server detected (or, if it names none, the ``language``
    given here: the caller's hint). Audio without speech (:func:`has_no_speech`) is reported
    with :class:`NoSpeechWarning`: mode ``"file"`` still gives its record, with
    ``metadata["no_speech"] = True``; mode ``"segment"`` gives none. A recording transcribed
    in parts has ``metadata["parts"]``, how many.
    """
    parts = (transcription.model_extra or {}).get("parts")
    common = {
        **dict(metadata or {}),
        **_compact(
            {
                "source": source,
                "model": model,
                "language": transcription.language or language,
                "parts": len(parts) if isinstance(parts, list) and len(parts) > 1 else None,
            }
        ),
    }
    segments = transcription.segments
    silent = has_no_speech(transcription)
    if silent:
        warnings.warn(
            f"{source!r} holds no speech: "
            + (
                "its transcript is empty"
                if not transcription.text.strip()
                else "Whisper rates every segment as likely silence (its text is kept, but is "
                "likely invented)"
            ),
            NoSpeechWarning,
            stacklevel=2,
        )
        common["no_speech"] = True
        if mode == "segment":
            return []
    if mode == "file":
        text = transcription.text.strip()
        if output_format != "text":
            text = render_subtitles(segments, output_format)
            common["format"] = output_format
        return [
            TranscriptRecord(
                text,
                {
                    **common,
                    **_compact({"duration": transcription.duration}),
                    "segments": [
                        {
                            "id": s.id,
                            "start": s.start,
                            "end": s.end,
                            "text": s.text.strip(),
                        }
                        for s in segments
                    ],
                },
            )
        ]
    if not segments and transcription.text.strip():
        warnings.warn(
            f"{source!r}: the server sent no segments, so its transcript has no timestamps",
            stacklevel=2,
        )
        return [TranscriptRecord(transcription.text.strip(), common)]
    return [
        TranscriptRecord(
            s.text.strip(),
            {
                **common,
                **_compact(
                    {
                        "segment_id": s.id,
                        "start": s.start,
                        "end": s.end,
                        "avg_logprob": s.avg_logprob,
                        "no_speech_prob": s.no_speech_prob,
                    }
                ),
            },
        )
        for s in segments
        if s.text.strip()
    ]


# ---------------------------------------------------------------- clients


class LazyClients:
    """Transport clients built once, on first use, from the given settings.

    Pickles without the clients it built (the copy builds its own); clients passed in are
    kept (they pickle as their configuration). :meth:`close` / :meth:`aclose` close only the
    clients built here (a caller's own clients stay open); a later use builds new ones.

    Example:
        >>> clients = LazyClients(api_key="sk-...", base_url="http://127.0.0.1:8765/v1")
        >>> clients.sync().base_url
        'http://127.0.0.1:8765/v1'
        >>> clients.close()
        >>> clients._sync is None
        True
    """

    def __init__(
        self,
        *,
        api_key: SecretLike = None,
        base_url: str | None = None,
        timeout: TimeoutTypes = None,
        max_retries: int | None = None,
        client: CompactifAIClient | None = None,
        async_client: AsyncCompactifAIClient | None = None,
    ) -> None:
        if isinstance(api_key, str):
            api_key = Secret(api_key)  # never shown in a repr or a pickle's text
        self._settings: dict[str, Any] = {
            "api_key": api_key,
            "base_url": base_url,
            "timeout": timeout,
            "max_retries": max_retries,
        }
        self._given = (client, async_client)
        self._sync = client
        self._async = async_client
        self._lock = threading.Lock()

    def sync(self) -> CompactifAIClient:
        """The synchronous client (built on the first call)."""
        if self._sync is None:
            with self._lock:
                if self._sync is None:
                    from ._client import CompactifAIClient

                    self._sync = CompactifAIClient(**self._settings)
        return self._sync

    def aio(self) -> AsyncCompactifAIClient:
        """The asynchronous client (built on the first call)."""
        if self._async is None:
            with self._lock:
                if self._async is None:
                    from ._client import AsyncCompactifAIClient

                    self._async = AsyncCompactifAIClient(**self._settings)
        return self._async

    def close(self) -> None:
        """Close the sync client built here; forget the async one built here.

        An async client's connection pools close with their event loop (or with
        :meth:`aclose`, from inside the loop). Clients passed in are left open.
        """
        with self._lock:
            built = self._sync if self._sync is not self._given[0] else None
            self._sync, self._async = self._given
        if built is not None:
            built.close()

    async def aclose(self) -> None:
        """Close the clients built here (the async one's pool of the running event loop)."""
        built = self._async if self._async is not self._given[1] else None
        self.close()
        if built is not None:
            await built.aclose()

    def __getstate__(self) -> dict[str, Any]:
        return {"_settings": self._settings, "_given": self._given}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._settings = state["_settings"]
        self._given = state["_given"]
        self._sync, self._async = self._given
        self._lock = threading.Lock()


# ---------------------------------------------------------------- transcription


class _Progress:
    """A tqdm bar when asked for (tqdm imported only then), else nothing."""

    def __init__(self, total: int, enabled: bool) -> None:
        self._bar: Any = None
        if enabled:
            try:
                from tqdm.auto import tqdm
            except ImportError as exc:
                raise ImportError(
                    "show_progress=True needs tqdm: pip install "
                    "'compactifai-integrations[progress]'"
                ) from exc
            self._bar = tqdm(total=total, desc="Transcribing", unit="file")

    def update(self) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _failed(
    source: AudioSource, err: Exception, on_error: OnError, rest: str = ""
) -> list[TranscriptRecord]:
    """Apply the policy to a failure: raise it (naming the file) or report and go on.

    ``rest`` says what is skipped when it is not the whole file (" from part 2 of 3 on").
    """
    if isinstance(err, _FATAL) or getattr(err, "available_models", None):
        raise err  # the same for every file (today's 400 for an unknown model lists the ids)
    if on_error == "skip":
        _skip(source.source, err, rest)
        return []
    if isinstance(err, AudioFileError):
        raise err  # already names the file
    raise AudioTranscriptionError(source.source, err) from err


def _records(
    transcription: Transcription, source: AudioSource, options: TranscriptOptions
) -> list[TranscriptRecord]:
    return transcript_records(
        transcription,
        source=source.source,
        model=options.model,
        mode=options.mode,
        metadata=source.metadata,
        output_format=options.output_format,
        language=options.language,
    )


def _long_options(options: TranscriptOptions) -> dict[str, Any]:
    """Arguments of :func:`transcribe_long` for these options (the form, and the limit)."""
    form = options.form()
    return {
        **form,
        # A file over the limit got here only with split_long (plan_sources refuses it else).
        "max_bytes": options.max_upload_bytes,
        "max_concurrency": options.max_concurrency,
    }


def _split_in_segments(source: AudioSource, options: TranscriptOptions) -> bool:
    """Whether ``source`` is split and given segment by segment (its parts one by one)."""
    return (
        options.mode == "segment"
        and options.split_long
        and source.size() > options.max_upload_bytes
    )


def _split(source: AudioSource, options: TranscriptOptions) -> list[AudioPart]:
    file, name = source.upload()
    filename, data = read_audio(file, name)
    return split_audio(data, filename, max_bytes=options.max_upload_bytes)


def _part_records(
    placed: Transcription, part: AudioPart, total: int, source: AudioSource,
    options: TranscriptOptions,
) -> list[TranscriptRecord]:
    """The segment records of one part of a split recording (none, with a warning, if the
    part holds no speech: a silent stretch of a long recording)."""
    if has_no_speech(placed):
        warnings.warn(
            f"{source.source!r}: part {part.index + 1} of {total} "
            f"({part.start:.1f}-{part.end:.1f} s) holds no speech; it gives no segment",
            NoSpeechWarning,
            stacklevel=3,
        )
        return []
    return transcript_records(
        placed,
        source=source.source,
        model=options.model,
        mode="segment",
        metadata={**source.metadata, "parts": total, "part": part.index},
        language=options.language,
    )


def _iter_split_segments(
    client: CompactifAIClient, source: AudioSource, options: TranscriptOptions
) -> Iterator[TranscriptRecord]:
    """A long recording's segments, part by part: the first come as soon as the first part is
    transcribed, while the next parts are still on their way."""
    done = total = 0
    try:
        parts = _split(source, options)
        total = len(parts)
        timeline = PartTimeline()
        for part, transcript in transcribe_parts(
            client, parts, max_concurrency=options.max_concurrency, **options.form()
        ):
            records = _part_records(timeline.place(part, transcript), part, total, source,
                                    options)
            done += 1
            yield from records
    except Exception as err:
        rest = f" from part {done + 1} of {total} on" if done else ""
        yield from _failed(source, err, options.on_error, rest)


def iter_transcripts(
    client: CompactifAIClient,
    sources: Sequence[AudioSource],
    options: TranscriptOptions,
) -> Iterator[TranscriptRecord]:
    """Transcribe ``sources`` one after another, yielding records in input order.

    In mode ``"segment"`` a recording split in parts gives its segments part by part, each
    part's as soon as it is transcribed (its later parts still on their way).
    """
    progress = _progress(len(sources), options)
    arguments = _long_options(options)
    try:
        for source in sources:
            if _split_in_segments(source, options):
                yield from _iter_split_segments(client, source, options)
                progress.update()
                continue
            file, name = source.upload()
            try:
                # verbose_json is asked for: the answer is a Transcription
                result = cast("Transcription", transcribe_long(
                    client, file, filename=name, **arguments
                ))
            except Exception as err:
                records = _failed(source, err, options.on_error)
            else:
                records = _records(result, source, options)
            progress.update()
            yield from records
    finally:
        progress.close()


async def aiter_transcripts(
    client: AsyncCompactifAIClient,
    sources: Sequence[AudioSource],
    options: TranscriptOptions,
) -> AsyncIterator[TranscriptRecord]:
    """Transcribe ``sources`` concurrently, yielding records in input order.

    At most ``options.max_concurrency`` uploads are in flight, the parts of split recordings
    counted with the files (each file is read only when its turn comes). Later files keep
    being transcribed while an earlier one is still on its way;
    their records wait for it, so the order is the same as the sync path's. Stopping early
    cancels what is still running.
    """
    progress = _progress(len(sources), options)
    arguments = _long_options(options)
    limit = asyncio.Semaphore(options.max_concurrency)

    async def transcribe(source: AudioSource) -> Transcription:
        file, name = source.upload()
        if options.split_long and source.size() > options.max_upload_bytes:
            # Its parts take their places under the same bound, one by one.
            return cast("Transcription", await atranscribe_long(
                client, file, filename=name, uploads=limit, **arguments
            ))
        async with limit:
            return cast("Transcription", await atranscribe_long(
                client, file, filename=name, **arguments
            ))

    async def split_segments(source: AudioSource) -> list[TranscriptRecord]:
        parts = await asyncio.to_thread(_split, source, options)
        results = await atranscribe_parts(
            client, parts, max_concurrency=options.max_concurrency, uploads=limit,
            **options.form(),
        )
        timeline = PartTimeline()
        records: list[TranscriptRecord] = []
        for part, transcript in results:
            records.extend(
                _part_records(timeline.place(part, transcript), part, len(parts), source,
                              options)
            )
        return records

    async def one(source: AudioSource) -> list[TranscriptRecord]:
        try:
            if _split_in_segments(source, options):
                return await split_segments(source)
            result = await transcribe(source)
        except Exception as err:
            return _failed(source, err, options.on_error)
        finally:
            progress.update()
        return _records(result, source, options)

    tasks = [asyncio.ensure_future(one(source)) for source in sources]
    try:
        for task in tasks:
            for record in await task:
                yield record
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        progress.close()


def _progress(total: int, options: TranscriptOptions) -> _Progress:
    return _Progress(total, options.show_progress)
