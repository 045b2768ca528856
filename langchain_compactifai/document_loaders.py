"""Audio transcripts as LangChain documents, with timestamps to cite.

:class:`CompactifAITranscriptLoader` loads meetings, calls and lectures (one file, a list, a
folder, bytes or Blobs); :class:`CompactifAITranscriptParser` is the same as a blob parser.
Both send the audio to CompactifAI's ``POST /audio/transcriptions`` through the
``compactifai`` transport and only convert its answers here; inputs, checks, the error
policy and the metadata are shared with LlamaIndex in :mod:`compactifai.transcripts`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from langchain_core.document_loaders import BaseBlobParser, BaseLoader, Blob
from langchain_core.documents import Document
from pydantic import SecretStr

from compactifai import MAX_AUDIO_BYTES
from compactifai._closing import Closing, ClosingLazyClients
from compactifai._config import from_environment
from compactifai.transcripts import (
    DEFAULT_TRANSCRIPTION_MODEL,
    AudioInputs,
    AudioSource,
    LazyClients,
    Mode,
    OnError,
    OutputFormat,
    SingleInput,
    TranscriptOptions,
    TranscriptRecord,
    aiter_transcripts,
    iter_transcripts,
    plan_sources,
)

from ._common import env_api_key

if TYPE_CHECKING:
    from compactifai import AsyncCompactifAIClient, CompactifAIClient

__all__ = ["CompactifAITranscriptLoader", "CompactifAITranscriptParser"]

#: What the loader takes: everything :func:`compactifai.transcripts.plan_sources` takes,
#: plus LangChain Blobs (alone or in a list).
LoaderInput = Union[AudioInputs, Blob, Sequence[Union[SingleInput, Blob]]]  # noqa: UP007


def _blob_source(blob: Blob) -> AudioSource:
    """A Blob as an audio source: in memory if it holds data, else its path."""
    metadata = dict(blob.metadata or {})
    if blob.data is not None:
        name = Path(str(blob.path)).name if blob.path else None
        return AudioSource.from_bytes(
            blob.as_bytes(),
            name,
            source=blob.source,
            mimetype=blob.mimetype,
            metadata=metadata,
        )
    if blob.path is None:  # pragma: no cover - Blob itself refuses this
        raise ValueError("a Blob needs data or a path")
    return AudioSource.from_path(blob.path, source=blob.source, metadata=metadata)


def _with_blobs(inputs: Any) -> Any:
    if isinstance(inputs, Blob):
        return _blob_source(inputs)
    if isinstance(inputs, list | tuple) and any(isinstance(i, Blob) for i in inputs):
        return [_blob_source(i) if isinstance(i, Blob) else i for i in inputs]
    return inputs


def _document(record: TranscriptRecord) -> Document:
    return Document(page_content=record.text, metadata=record.metadata)


class CompactifAITranscriptParser(BaseBlobParser, ClosingLazyClients):
    """Parse an audio Blob into transcript Documents with CompactifAI's Whisper models.

    ``mode="file"`` gives one Document per blob (metadata ``source``, ``model``,
    ``language``, ``duration`` and ``segments``: ``[{"id", "start", "end", "text"}, ...]``);
    ``mode="segment"`` one per timestamped segment (metadata ``source``, ``model``,
    ``language``, ``segment_id``, ``start``, ``end`` in seconds, ``avg_logprob``,
    ``no_speech_prob``), so an answer can cite a moment in the audio. ``language`` is the
    one the service detected (none is sent unless you give one). ``output_format="srt"`` or
    ``"vtt"`` makes each Document's text the subtitles (mode ``"file"``).

    The blob is checked before it is uploaded: type (flac, m4a, mp3, mp4, mpeg, mpga, ogg,
    wav, webm) and emptiness. A blob over the service's 25 MB (``max_upload_bytes``) is
    split on silence into parts under it, transcribed part by part and merged with its
    timestamps offset to the whole recording (needs ``pip install
    'compactifai-integrations[audio]'``; ``split_long=False`` refuses it instead). Audio
    without speech gives a :class:`compactifai.transcripts.NoSpeechWarning` and
    ``metadata["no_speech"] = True``.

    The key comes from ``api_key`` or ``COMPACTIFAI_API_KEY``, the URL from ``base_url`` or
    ``COMPACTIFAI_BASE_URL``. The HTTP clients are built once, on first use; ``close()`` /
    ``aclose()`` (or ``with`` / ``async with``) close the ones it built (clients passed in as
    ``client``/``async_client`` stay open: they belong to the caller).

    Example:
        .. code-block:: python

            from langchain_core.document_loaders import Blob
            from langchain_compactifai import CompactifAITranscriptParser

            with CompactifAITranscriptParser(mode="segment") as parser:  # language detected
                for doc in parser.lazy_parse(Blob.from_path("meeting.m4a")):
                    print(f"{doc.metadata['start']:7.1f}s  {doc.page_content}")
    """

    def __init__(
        self,
        *,
        model: str = DEFAULT_TRANSCRIPTION_MODEL,
        language: str | None = None,
        prompt: str | None = None,
        temperature: float | None = None,
        mode: Mode = "file",
        output_format: OutputFormat = "text",
        max_upload_bytes: int = MAX_AUDIO_BYTES,
        split_long: bool = True,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        max_retries: int = 2,
        client: CompactifAIClient | None = None,
        async_client: AsyncCompactifAIClient | None = None,
    ) -> None:
        """Set the transcription fields, the mode and the connection.

        Args:
            model: Transcription model (default ``cai-whisper-large-v3-turbo-slim``).
            language: ISO code of the spoken language (none: the service detects it).
            prompt: Text to guide the transcription (names, jargon).
            temperature: Sampling temperature, 0 to 1.
            mode: ``"file"`` (one Document per file) or ``"segment"`` (one per segment).
            output_format: ``"text"``, or ``"srt"``/``"vtt"`` subtitles (mode ``"file"``).
            max_upload_bytes: The largest file sent whole (the service's 25 MB).
            split_long: Split a larger file on silence (else refuse it).
            api_key: Defaults to ``COMPACTIFAI_API_KEY``.
            base_url: Defaults to ``COMPACTIFAI_BASE_URL``, else the public API.
            timeout: Seconds to wait for an answer (default: the transport's, 120 s).
            max_retries: Retries of a failed upload (429, 5xx, broken connections).
            client: An existing sync transport client to use instead of building one.
            async_client: The same for the async methods.
        """
        self.options = TranscriptOptions(
            model=model,
            language=language,
            prompt=prompt,
            temperature=temperature,
            mode=mode,
            output_format=output_format,
            max_upload_bytes=max_upload_bytes,
            split_long=split_long,
        )
        self.api_key: SecretStr | None = (
            SecretStr(api_key) if isinstance(api_key, str) else api_key or env_api_key()
        )
        self.base_url: str | None = base_url or from_environment("base_url")
        self.timeout = timeout
        self.max_retries = max_retries
        self.clients = LazyClients(
            api_key=self.api_key,
            base_url=self.base_url,
            timeout=timeout,
            max_retries=max_retries,
            client=client,
            async_client=async_client,
        )

    def lazy_parse(self, blob: Blob) -> Iterator[Document]:
        """Transcribe one blob; failures raise (naming the blob)."""
        source = _blob_source(blob)
        source.check(self.options.max_upload_bytes, split_long=self.options.split_long)
        for record in iter_transcripts(self.clients.sync(), [source], self.options):
            yield _document(record)

    async def alazy_parse(self, blob: Blob) -> AsyncIterator[Document]:
        """The async twin of :meth:`lazy_parse`."""
        source = _blob_source(blob)
        source.check(self.options.max_upload_bytes, split_long=self.options.split_long)
        async for record in aiter_transcripts(self.clients.aio(), [source], self.options):
            yield _document(record)


class CompactifAITranscriptLoader(BaseLoader, Closing):
    """Load audio (meetings, calls, lectures) as transcript Documents with timestamps.

    ``file_path`` is one path, a list of paths, a folder (every flac/m4a/mp3/mp4/mpeg/mpga/ogg/wav/webm
    file below it, or the files ``glob`` matches), bytes (with ``filename=``), a
    ``(filename, bytes)`` tuple, a ``Blob``, or a list mixing these.

    Modes: ``"file"`` gives one Document per file, its metadata holding ``source``,
    ``model``, ``language``, ``duration`` and the ``segments`` (``[{"id", "start", "end",
    "text"}, ...]``); ``"segment"`` gives one Document per segment with ``source``,
    ``model``, ``language``, ``segment_id``, ``start`` and ``end`` (seconds), ``avg_logprob``
    and ``no_speech_prob``, so a RAG answer can point at a moment in the audio.

    ``language`` is the one the service detected (none is sent unless you give one).
    ``output_format="srt"`` or ``"vtt"`` makes each file's Document hold its subtitles
    (rendered from the segments; mode ``"file"``), for players and subtitle editors.

    Long recordings: a file over the service's 25 MB (``max_upload_bytes``) is split on
    silence into parts under the limit (``pip install 'compactifai-integrations[audio]'``),
    the parts are transcribed ``max_concurrency`` at a time and merged: segment ids run on
    and every timestamp is offset to the whole recording (``metadata["parts"]`` says how
    many). In mode ``"segment"``, ``lazy_load`` yields a long recording's segments part by
    part, each part's as soon as it is transcribed (``metadata["part"]``, from 0), and a
    silent part gives none (with a warning). ``split_long=False`` refuses such files
    instead. A file without speech gives a
    :class:`compactifai.transcripts.NoSpeechWarning` and ``metadata["no_speech"] = True``
    (mode ``"segment"``: no Document).

    Bad inputs: every input is checked before anything is uploaded. An unsupported type, a
    missing or empty file (or, with ``split_long=False``, one over the limit) raises
    :class:`compactifai.AudioFileError` (:class:`compactifai.AudioFileNotFoundError` for a
    missing one). With ``on_error="skip"`` a bad or failed file is reported (``AudioSkippedWarning`` and the
    ``compactifai.transcripts`` logger) and the others are still loaded; with ``"raise"``
    (the default) a failed upload raises :class:`compactifai.transcripts.AudioTranscriptionError`
    naming the file. A wrong key, URL or model raises in both modes.

    ``lazy_load`` transcribes one file after another. ``alazy_load`` runs up to
    ``max_concurrency`` uploads at once and yields the Documents **in input order** (the same
    order as ``lazy_load``). ``show_progress=True`` shows a tqdm bar (``pip install
    'compactifai-integrations[progress]'``). The loader pickles (its clients are rebuilt).

    ``close()`` / ``aclose()``, or ``with`` / ``async with``, close the HTTP clients the
    loader built (clients passed in as ``client``/``async_client`` stay open).

    Example:
        .. code-block:: python

            from langchain_compactifai import CompactifAITranscriptLoader

            with CompactifAITranscriptLoader(
                "recordings/", glob="**/*.mp3", mode="segment",
                on_error="skip", show_progress=True,
            ) as loader:
                for doc in loader.lazy_load():
                    print(doc.metadata["source"], doc.metadata["start"], doc.page_content)

            async with CompactifAITranscriptLoader("recordings/") as loader:
                docs = await loader.aload()  # up to 4 uploads at a time

            # a 3-hour lecture: split in parts under 25 MB, subtitles on one timeline
            with CompactifAITranscriptLoader("lecture.mp3", output_format="srt") as loader:
                [doc] = loader.load()
            Path("lecture.srt").write_text(doc.page_content)
    """

    def __init__(
        self,
        file_path: LoaderInput,
        *,
        glob: str | None = None,
        filename: str | None = None,
        mode: Mode = "file",
        model: str = DEFAULT_TRANSCRIPTION_MODEL,
        language: str | None = None,
        prompt: str | None = None,
        temperature: float | None = None,
        on_error: OnError = "raise",
        max_concurrency: int = 4,
        show_progress: bool = False,
        output_format: OutputFormat = "text",
        max_upload_bytes: int = MAX_AUDIO_BYTES,
        split_long: bool = True,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        max_retries: int = 2,
        client: CompactifAIClient | None = None,
        async_client: AsyncCompactifAIClient | None = None,
    ) -> None:
        """Set the inputs, the transcription fields and the connection.

        Args:
            file_path: The audio: see the class docstring for the forms taken.
            glob: For folders: the files to take (``"*.mp3"``, ``"**/*.wav"``).
            filename: The name (and so the format) of audio given as bytes.
            mode: ``"file"`` or ``"segment"``.
            model: Transcription model (default ``cai-whisper-large-v3-turbo-slim``).
            language: ISO code of the spoken language (none: the service detects it).
            prompt: Text to guide the transcription (names, jargon).
            temperature: Sampling temperature, 0 to 1.
            on_error: ``"raise"`` or ``"skip"`` a file that cannot be transcribed.
            max_concurrency: Uploads in flight at once in ``alazy_load``/``aload`` (and
                parts of a split recording).
            show_progress: Show a progress bar (needs tqdm).
            output_format: ``"text"``, or ``"srt"``/``"vtt"`` subtitles (mode ``"file"``).
            max_upload_bytes: The largest file sent whole (the service's 25 MB).
            split_long: Split a larger file on silence (else refuse it).
            api_key: Defaults to ``COMPACTIFAI_API_KEY``.
            base_url: Defaults to ``COMPACTIFAI_BASE_URL``, else the public API.
            timeout: Seconds to wait for an answer (default: the transport's, 120 s).
            max_retries: Retries of a failed upload (429, 5xx, broken connections).
            client: An existing sync transport client to use instead of building one.
            async_client: The same for the async methods.
        """
        self.file_path = file_path
        self.glob = glob
        self.filename = filename
        self.parser = CompactifAITranscriptParser(
            model=model,
            language=language,
            prompt=prompt,
            temperature=temperature,
            mode=mode,
            output_format=output_format,
            max_upload_bytes=max_upload_bytes,
            split_long=split_long,
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            client=client,
            async_client=async_client,
        )
        self.options = dataclasses.replace(
            self.parser.options,
            on_error=on_error,
            max_concurrency=max_concurrency,
            show_progress=show_progress,
        )

    def close(self) -> None:
        """Close the sync HTTP client built here (a client passed in stays open)."""
        self.parser.close()

    async def aclose(self) -> None:
        """Close the HTTP clients built here (the async one's pool of the running loop)."""
        await self.parser.aclose()

    def _sources(self) -> list[AudioSource]:
        return plan_sources(
            _with_blobs(self.file_path),
            glob=self.glob,
            filename=self.filename,
            on_error=self.options.on_error,
            max_bytes=self.options.max_upload_bytes,
            split_long=self.options.split_long,
        )

    def lazy_load(self) -> Iterator[Document]:
        """Check every input, then transcribe them one by one, yielding Documents."""
        sources = self._sources()
        if not sources:
            return
        for record in iter_transcripts(self.parser.clients.sync(), sources, self.options):
            yield _document(record)

    async def alazy_load(self) -> AsyncIterator[Document]:
        """Check every input, then transcribe up to ``max_concurrency`` at once.

        Documents come in input order, as from :meth:`lazy_load`.
        """
        sources = self._sources()
        if not sources:
            return
        async for record in aiter_transcripts(
            self.parser.clients.aio(), sources, self.options
        ):
            yield _document(record)
