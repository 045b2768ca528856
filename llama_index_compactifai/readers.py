"""Audio transcripts as LlamaIndex documents, with timestamps to cite.

:class:`CompactifAITranscriptReader` sends audio to CompactifAI's ``POST
/audio/transcriptions`` through the ``compactifai`` transport and converts the answers to
``Document`` objects; inputs, checks, the error policy and the metadata are shared with
LangChain in :mod:`compactifai.transcripts`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from llama_index.core.bridge.pydantic import SecretStr
from llama_index.core.readers.base import BaseReader
from llama_index.core.schema import Document

from compactifai import MAX_AUDIO_BYTES
from compactifai._closing import ClosingLazyClients
from compactifai._config import from_environment
from compactifai.transcripts import (
    DEFAULT_TRANSCRIPTION_MODEL,
    AudioInputs,
    AudioSource,
    LazyClients,
    Mode,
    OnError,
    OutputFormat,
    TranscriptOptions,
    TranscriptRecord,
    aiter_transcripts,
    iter_transcripts,
    plan_sources,
)

if TYPE_CHECKING:
    from compactifai import AsyncCompactifAIClient, CompactifAIClient

__all__ = ["CompactifAITranscriptReader"]

# LlamaIndex writes metadata into the text it embeds and shows the LLM. Keep the text clean:
# the segment list and the numbers that say nothing about the content stay out of both
# (or out of the embedding only, where the LLM needs them to cite a time).
_EXCLUDED = {
    "file": (
        ["segments", "model", "language", "duration", "parts", "no_speech", "format"],  # embed
        ["segments", "model", "parts", "format"],  # llm
    ),
    "segment": (
        ["segment_id", "start", "end", "avg_logprob", "no_speech_prob", "model", "language",
         "parts", "part"],
        ["avg_logprob", "no_speech_prob", "model", "segment_id", "parts", "part"],
    ),
}


class CompactifAITranscriptReader(BaseReader, ClosingLazyClients):
    """Read audio (meetings, calls, lectures) into transcript Documents with timestamps.

    ``load_data(file)`` takes one path, a list of paths, a folder (every
    flac/m4a/mp3/mp4/mpeg/mpga/ogg/wav/webm file below it, or the files ``glob`` matches), bytes (with
    ``filename=``), a ``(filename, bytes)`` tuple, or a list mixing these.

    Modes: ``"file"`` gives one Document per file, its metadata holding ``source``,
    ``model``, ``language``, ``duration`` and the ``segments`` (``[{"id", "start", "end",
    "text"}, ...]``; excluded from the embedded and LLM text); ``"segment"`` gives one
    Document per segment with ``source``, ``model``, ``language``, ``segment_id``,
    ``start`` and ``end`` (seconds), ``avg_logprob`` and ``no_speech_prob`` (``source``,
    ``start`` and ``end`` are shown to the LLM so it can cite the moment; none of the
    numbers is embedded).

    ``language`` is the one the service detected (none is sent unless you give one).
    ``output_format="srt"`` or ``"vtt"`` makes each file's Document hold its subtitles
    (rendered from the segments; mode ``"file"``), for players and subtitle editors.

    Long recordings: a file over the service's 25 MB (``max_upload_bytes``) is split on
    silence into parts under the limit (``pip install 'compactifai-integrations[audio]'``),
    the parts are transcribed ``max_concurrency`` at a time and merged: segment ids run on
    and every timestamp is offset to the whole recording (``metadata["parts"]`` says how
    many). In mode ``"segment"``, ``lazy_load_data`` yields a long recording's segments part by
    part, each part's as soon as it is transcribed (``metadata["part"]``, from 0), and a
    silent part gives none (with a warning). ``split_long=False`` refuses such files
    instead. A file without speech gives a
    :class:`compactifai.transcripts.NoSpeechWarning` and ``metadata["no_speech"] = True``
    (mode ``"segment"``: no Document).

    Bad inputs: every input is checked before anything is uploaded. An unsupported type, a
    missing or empty file (or, with ``split_long=False``, one over the limit) raises
    :class:`compactifai.AudioFileError` (:class:`compactifai.AudioFileNotFoundError` for a
    missing one). With ``on_error="skip"`` a bad or failed file is reported (``AudioSkippedWarning`` and the
    ``compactifai.transcripts`` logger) and the others are still read; with ``"raise"`` (the
    default) a failed upload raises :class:`compactifai.transcripts.AudioTranscriptionError`
    naming the file. A wrong key, URL or model raises in both modes.

    ``load_data``/``lazy_load_data`` transcribe one file after another; ``aload_data`` runs up
    to ``max_concurrency`` uploads at once and returns the Documents **in input order**.
    ``show_progress=True`` shows a tqdm bar (``pip install
    'compactifai-integrations[progress]'``). The reader pickles (its clients are rebuilt).

    ``close()`` / ``aclose()``, or ``with`` / ``async with``, close the HTTP clients the
    reader built (clients passed in as ``client``/``async_client`` stay open).

    Example:
        .. code-block:: python

            from llama_index_compactifai import CompactifAITranscriptReader

            with CompactifAITranscriptReader(mode="segment") as reader:  # language detected
                docs = reader.load_data("recordings/", glob="*.mp3")
            for doc in docs:
                print(doc.metadata["source"], doc.metadata["start"], doc.text)

            async with CompactifAITranscriptReader() as reader:
                docs = await reader.aload_data(["call-1.wav", "call-2.wav"])

            # a 3-hour lecture: split in parts under 25 MB, subtitles on one timeline
            with CompactifAITranscriptReader(output_format="vtt") as reader:
                [doc] = reader.load_data("lecture.mp3")
            Path("lecture.vtt").write_text(doc.text)
    """

    def __init__(
        self,
        *,
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
        """Set the transcription fields, the mode, the error policy and the connection.

        Args:
            mode: ``"file"`` (one Document per file) or ``"segment"`` (one per segment).
            model: Transcription model (default ``cai-whisper-large-v3-turbo-slim``).
            language: ISO code of the spoken language (none: the service detects it).
            prompt: Text to guide the transcription (names, jargon).
            temperature: Sampling temperature, 0 to 1.
            on_error: ``"raise"`` or ``"skip"`` a file that cannot be transcribed.
            max_concurrency: Uploads in flight at once in ``aload_data`` (and parts of a
                split recording).
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
        self.options = TranscriptOptions(
            model=model,
            language=language,
            prompt=prompt,
            temperature=temperature,
            mode=mode,
            on_error=on_error,
            max_concurrency=max_concurrency,
            show_progress=show_progress,
            output_format=output_format,
            max_upload_bytes=max_upload_bytes,
            split_long=split_long,
        )
        key = api_key if api_key is not None else from_environment("api_key")
        self.api_key: SecretStr | None = SecretStr(key) if isinstance(key, str) else key
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

    def _document(
        self, record: TranscriptRecord, extra_info: Mapping[str, Any] | None
    ) -> Document:
        embed, llm = _EXCLUDED[self.options.mode]
        return Document(
            text=record.text,
            metadata={**dict(extra_info or {}), **record.metadata},
            excluded_embed_metadata_keys=list(embed),
            excluded_llm_metadata_keys=list(llm),
        )

    def _sources(self, file: AudioInputs, glob: str | None, filename: str | None) -> list[
        AudioSource
    ]:
        return plan_sources(
            file,
            glob=glob,
            filename=filename,
            on_error=self.options.on_error,
            max_bytes=self.options.max_upload_bytes,
            split_long=self.options.split_long,
        )

    def lazy_load_data(
        self,
        file: AudioInputs,
        *,
        glob: str | None = None,
        filename: str | None = None,
        extra_info: Mapping[str, Any] | None = None,
    ) -> Iterable[Document]:
        """Check every input, then transcribe them one by one, yielding Documents.

        Args:
            file: The audio: see the class docstring for the forms taken.
            glob: For folders: the files to take (``"*.mp3"``, ``"**/*.wav"``).
            filename: The name (and so the format) of audio given as bytes.
            extra_info: Metadata added to every Document.
        """
        sources = self._sources(file, glob, filename)
        if not sources:
            return
        for record in iter_transcripts(self.clients.sync(), sources, self.options):
            yield self._document(record, extra_info)

    def load_data(
        self,
        file: AudioInputs,
        *,
        glob: str | None = None,
        filename: str | None = None,
        extra_info: Mapping[str, Any] | None = None,
    ) -> list[Document]:
        """Transcribe ``file`` (see :meth:`lazy_load_data`) and return all Documents."""
        return list(
            self.lazy_load_data(file, glob=glob, filename=filename, extra_info=extra_info)
        )

    async def aload_data(
        self,
        file: AudioInputs,
        *,
        glob: str | None = None,
        filename: str | None = None,
        extra_info: Mapping[str, Any] | None = None,
    ) -> list[Document]:
        """Check every input, then transcribe up to ``max_concurrency`` at once.

        Documents come in input order, as from :meth:`load_data`.
        """
        sources = self._sources(file, glob, filename)
        if not sources:
            return []
        return [
            self._document(record, extra_info)
            async for record in aiter_transcripts(self.clients.aio(), sources, self.options)
        ]

    async def alazy_load_data(
        self,
        file: AudioInputs,
        *,
        glob: str | None = None,
        filename: str | None = None,
        extra_info: Mapping[str, Any] | None = None,
    ) -> Iterable[Document]:
        """As :meth:`aload_data` (LlamaIndex's ``alazy_load_data`` returns an iterable)."""
        return await self.aload_data(file, glob=glob, filename=filename, extra_info=extra_info)
