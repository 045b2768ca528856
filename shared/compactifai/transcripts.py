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
  one per file (``mode="file"``) or one per timestamped segment (``mode="segment"``).

Upload limit: the API reference documents none; 25 MB (26,214,400 bytes) is what
Whisper-compatible APIs take, so larger files are refused here rather than after the upload.

Example:
    >>> from compactifai.transcripts import transcript_records
    >>> from compactifai.types import Transcription
    >>> t = Transcription.model_validate({"text": " Hello. Bye.", "language": "en",
    ...     "duration": 2.0, "segments": [
    ...         {"id": 0, "start": 0.0, "end": 1.0, "text": " Hello."},
    ...         {"id": 1, "start": 1.0, "end": 2.0, "text": " Bye."}]})
    >>> [(r.text, r.metadata["start"]) for r in transcript_records(
    ...     t, source="call.wav", model="whisper-large-v3", mode="segment")]
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
from typing import TYPE_CHECKING, Any, Literal, Union

from ._checks import (
    AUDIO_EXTENSIONS,
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

if TYPE_CHECKING:
    from ._client import AsyncCompactifAIClient, CompactifAIClient
    from .types import Transcription

__all__ = [
    "DEFAULT_TRANSCRIPTION_MODEL",
    "AudioInputs",
    "AudioSkippedWarning",
    "AudioSource",
    "AudioTranscriptionError",
    "LazyClients",
    "Mode",
    "OnError",
    "TranscriptOptions",
    "TranscriptRecord",
    "aiter_transcripts",
    "iter_transcripts",
    "plan_sources",
    "transcript_records",
]

logger = logging.getLogger("compactifai.transcripts")

Mode = Literal["file", "segment"]
OnError = Literal["raise", "skip"]
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

    def check(self) -> None:
        """Raise :class:`~compactifai.AudioFileError` if this cannot be uploaded as it is."""
        check_audio_name(self.filename)
        if self.data is not None:
            _check_size(self.filename, len(self.data))
            return
        assert self.path is not None
        if not self.path.is_file():
            raise AudioFileNotFoundError(
                f"no audio file at {str(self.path)!r}: check the path", filename=self.source
            )
        _check_size(self.source, self.path.stat().st_size)

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


def _skip(source: str, err: BaseException) -> None:
    message = f"skipped {source!r}: {err}"
    logger.warning(message)
    warnings.warn(message, AudioSkippedWarning, stacklevel=3)


def plan_sources(
    inputs: AudioInputs,
    *,
    glob: str | None = None,
    filename: str | None = None,
    on_error: OnError = "raise",
) -> list[AudioSource]:
    """Expand ``inputs`` into audio sources and check every one before any upload.

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
                found.check()
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
    reference documents. ``max_concurrency`` bounds the uploads in flight of the async path.

    Example:
        >>> TranscriptOptions(language="en", mode="segment").form()["language"]
        'en'
    """

    model: str = DEFAULT_TRANSCRIPTION_MODEL
    language: str | None = None
    prompt: str | None = None
    temperature: float | None = None
    mode: Mode = "file"
    on_error: OnError = "raise"
    max_concurrency: int = 4
    show_progress: bool = False

    def __post_init__(self) -> None:
        if self.mode not in ("file", "segment"):
            raise ValueError(f"mode must be 'file' or 'segment', not {self.mode!r}")
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


def transcript_records(
    transcription: Transcription,
    *,
    source: str,
    model: str,
    mode: Mode = "file",
    metadata: Mapping[str, Any] | None = None,
) -> list[TranscriptRecord]:
    """Turn one transcription into records.

    ``mode="file"``: one record; metadata ``source``, ``model``, ``language``, ``duration``
    and ``segments`` (``[{"id", "start", "end", "text"}, ...]``).
    ``mode="segment"``: one record per non-blank segment; metadata ``source``, ``model``,
    ``language``, ``segment_id``, ``start``, ``end`` (seconds), ``avg_logprob``,
    ``no_speech_prob``. A server that sends no segments gives one record without timestamps
    (with a warning). Keys whose value the server did not send are left out.
    """
    common = {
        **dict(metadata or {}),
        **_compact({"source": source, "model": model, "language": transcription.language}),
    }
    segments = transcription.segments
    if mode == "file":
        return [
            TranscriptRecord(
                transcription.text.strip(),
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


def _failed(source: AudioSource, err: Exception, on_error: OnError) -> list[TranscriptRecord]:
    """Apply the policy to a failure: raise it (naming the file) or report and go on."""
    if isinstance(err, _FATAL):
        raise err
    if on_error == "skip":
        _skip(source.source, err)
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
    )


def iter_transcripts(
    client: CompactifAIClient,
    sources: Sequence[AudioSource],
    options: TranscriptOptions,
) -> Iterator[TranscriptRecord]:
    """Transcribe ``sources`` one after another, yielding records in input order."""
    progress = _progress(len(sources), options)
    form = options.form()
    try:
        for source in sources:
            file, name = source.upload()
            try:
                result = client.transcribe(file, filename=name, **form)
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

    At most ``options.max_concurrency`` uploads are in flight (each file is read only when its
    turn comes). Later files keep being transcribed while an earlier one is still on its way;
    their records wait for it, so the order is the same as the sync path's. Stopping early
    cancels what is still running.
    """
    progress = _progress(len(sources), options)
    form = options.form()
    limit = asyncio.Semaphore(options.max_concurrency)

    async def one(source: AudioSource) -> list[TranscriptRecord]:
        async with limit:
            file, name = source.upload()
            try:
                result = await client.transcribe(file, filename=name, **form)
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
