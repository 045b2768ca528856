"""Recordings over the upload limit: split on silence, transcribe the parts, merge them back.

The service takes files up to 25 MB. A longer recording is decoded with PyAV (the optional
``audio`` extra: ``pip install 'compactifai-integrations[audio]'``), cut where it is quietest
near each part's size limit, and every part is sent as a 16 kHz mono WAV (what Whisper hears
anyway; its size is exact, ``44 + 32,000`` bytes a second, so every part is under the limit).
The parts are transcribed with bounded concurrency and merged into one transcript of the whole
file: segment ids run on from part to part and every timestamp is offset by where its part
starts, so a timestamp points at the moment in the original recording.

Only :func:`split_audio` needs PyAV and numpy; :func:`find_cuts` and
:func:`merge_transcriptions` are plain Python and tested on their own.

Example:
    >>> from compactifai._audio_split import find_cuts
    >>> energy = [5.0] * 10 + [0.0] + [5.0] * 9   # one quiet frame at index 10
    >>> find_cuts(energy, max_frames=12, search_frames=6)
    [10]
"""

from __future__ import annotations

import asyncio
import io
import itertools
import os
import wave
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._checks import MAX_AUDIO_BYTES, AudioFileError, AudioInput, check_audio_name

if TYPE_CHECKING:
    from ._client import AsyncCompactifAIClient, CompactifAIClient
    from .types import Transcription, TranscriptionText

__all__ = [
    "AudioPart",
    "PartTimeline",
    "atranscribe_long",
    "atranscribe_parts",
    "find_cuts",
    "merge_transcriptions",
    "probe_audio",
    "read_audio",
    "split_audio",
    "transcribe_long",
    "transcribe_parts",
]

#: Parts are sent as 16 kHz, mono, 16-bit WAV.
SAMPLE_RATE = 16_000
_BYTES_PER_SAMPLE = 2
_WAV_HEADER_BYTES = 44
#: Energy is measured over 20 ms frames, smoothed over 100 ms to find pauses, not clicks.
_FRAME = SAMPLE_RATE // 50
_SMOOTH_FRAMES = 5
#: A cut is looked for in the last 30% of a part, and at most the last 30 s of it.
_SEARCH_SHARE = 0.3
_MAX_SEARCH_FRAMES = 30 * 50
#: The shortest part worth a request (a limit smaller than this is refused).
_MIN_PART_SECONDS = 1.0
_INSTALL_HINT = "pip install 'compactifai-integrations[audio]'"


@dataclass(frozen=True)
class AudioPart:
    """One part of a split recording: a WAV file and where it sits in the whole.

    Example:
        >>> part = AudioPart(1, "talk.part1.wav", b"RIFF...", start=612.5, duration=598.2)
        >>> part.end
        1210.7
    """

    index: int
    filename: str
    data: bytes = field(repr=False)
    #: Seconds from the start of the whole recording.
    start: float
    duration: float

    @property
    def end(self) -> float:
        return round(self.start + self.duration, 3)


# ---------------------------------------------------------------- cutting


def find_cuts(energies: Sequence[float], max_frames: int, search_frames: int) -> list[int]:
    """Frame indexes where to cut so that no part is longer than ``max_frames`` frames.

    Each cut is the quietest frame (the lowest ``energies`` value; the latest of equals, so
    parts stay long) among the last ``search_frames`` frames a part may hold. Pure Python:
    ``energies`` is any sequence of numbers.
    """
    if max_frames < 1:
        raise ValueError("max_frames must be at least 1")
    search_frames = max(1, min(search_frames, max_frames))
    cuts: list[int] = []
    start = 0
    total = len(energies)
    while total - start > max_frames:
        low = start + max_frames - search_frames + 1
        high = start + max_frames  # a part may end at `high` (exclusive of its frame)
        best = high
        best_energy = energies[high]
        for index in range(high - 1, low - 1, -1):
            if energies[index] < best_energy:
                best, best_energy = index, energies[index]
        cuts.append(best)
        start = best
    return cuts


def _frame_energies(samples: Any) -> Any:
    """Mean square per 20 ms frame, smoothed over 100 ms (numpy array in, array out)."""
    import numpy as np

    frames = len(samples) // _FRAME
    if frames == 0:
        return np.zeros(1)
    body = samples[: frames * _FRAME].astype(np.float32).reshape(frames, _FRAME)
    energy = (body * body).mean(axis=1)
    kernel = np.ones(_SMOOTH_FRAMES, dtype=np.float32) / _SMOOTH_FRAMES
    return np.convolve(energy, kernel, mode="same")


def _decode(data: bytes, name: str) -> Any:
    """The recording as 16 kHz mono int16 samples (a numpy array), decoded by PyAV."""
    try:
        import av
        import numpy as np
    except ImportError as exc:
        raise AudioFileError(
            f"{name!r} is over the upload limit; splitting it needs PyAV and numpy: "
            f"{_INSTALL_HINT}",
            filename=name,
        ) from exc
    chunks: list[Any] = []
    try:
        with av.open(io.BytesIO(data)) as container:
            if not container.streams.audio:
                raise AudioFileError(f"{name!r} holds no audio stream to split", filename=name)
            resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            for frame in container.decode(container.streams.audio[0]):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except AudioFileError:
        raise
    except Exception as exc:  # PyAV's errors (av.error.*) and numpy's
        raise AudioFileError(
            f"{name!r} could not be decoded to split it ({type(exc).__name__}: {exc}); "
            "convert it (for example `ffmpeg -i in.m4a out.mp3`) or split it yourself",
            filename=name,
        ) from exc
    if not chunks:
        raise AudioFileError(f"{name!r} decodes to no audio samples", filename=name)
    return np.concatenate(chunks).astype(np.int16, copy=False)


def probe_audio(file: str | os.PathLike[str] | bytes, name: str) -> None:
    """Check, reading only its header, that PyAV can split this file (before any upload).

    Raises :class:`~compactifai.AudioFileError` naming the file when PyAV or numpy is
    missing, or when the file is not audio PyAV can open.
    """
    try:
        import av
        import numpy  # noqa: F401 - needed by the split itself
    except ImportError as exc:
        raise AudioFileError(
            f"{name!r} is over the upload limit and splitting it needs PyAV and numpy: "
            f"{_INSTALL_HINT} (or pass split_long=False to refuse such files)",
            filename=name,
        ) from exc
    source: Any = io.BytesIO(file) if isinstance(file, bytes) else os.fspath(file)
    try:
        with av.open(source) as container:
            if not container.streams.audio:
                raise AudioFileError(f"{name!r} holds no audio stream to split", filename=name)
    except AudioFileError:
        raise
    except Exception as exc:
        raise AudioFileError(
            f"{name!r} is over the upload limit and could not be opened to split it "
            f"({type(exc).__name__}: {exc}): check that it is audio",
            filename=name,
        ) from exc


def _wav(samples: Any) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(_BYTES_PER_SAMPLE)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


def split_audio(data: bytes, filename: str, *, max_bytes: int = MAX_AUDIO_BYTES) -> list[AudioPart]:
    """Cut a recording into WAV parts of at most ``max_bytes`` each, on silence where possible.

    Needs PyAV and numpy (``pip install 'compactifai-integrations[audio]'``). Every part is
    16 kHz mono 16-bit PCM; parts follow each other without overlap or gap, so
    ``parts[i + 1].start == parts[i].end``. Parts are named ``<stem>.part<i>.wav``.
    """
    per_part = (max_bytes - _WAV_HEADER_BYTES) // _BYTES_PER_SAMPLE
    if per_part < _MIN_PART_SECONDS * SAMPLE_RATE:
        raise ValueError(
            f"max_bytes={max_bytes} leaves less than {_MIN_PART_SECONDS:g} s of audio a part; "
            f"use at least {int(_WAV_HEADER_BYTES + _MIN_PART_SECONDS * SAMPLE_RATE * 2)}"
        )
    samples = _decode(data, filename)
    # One frame of room: the tail after the last cut may hold a partial frame too.
    max_frames = per_part // _FRAME - 1
    search = min(max(1, int(max_frames * _SEARCH_SHARE)), _MAX_SEARCH_FRAMES)
    energies = _frame_energies(samples)
    # find_cuts on the numpy array: indexing and comparison work the same.
    bounds = [0, *(cut * _FRAME for cut in find_cuts(energies, max_frames, search))]
    bounds.append(len(samples))
    stem = Path(filename).stem or "audio"
    parts: list[AudioPart] = []
    for begin, end in itertools.pairwise(bounds):
        if end <= begin:
            continue
        parts.append(
            AudioPart(
                index=len(parts),
                filename=f"{stem}.part{len(parts)}.wav",
                data=_wav(samples[begin:end]),
                start=round(begin / SAMPLE_RATE, 3),
                duration=round((end - begin) / SAMPLE_RATE, 3),
            )
        )
    return parts


# ---------------------------------------------------------------- merging


def _offset_words(words: Any, offset: float) -> Any:
    if not isinstance(words, list):
        return words
    moved = []
    for word in words:
        if isinstance(word, Mapping) and "start" in word and "end" in word:
            word = {
                **word,
                "start": round(float(word["start"]) + offset, 3),
                "end": round(float(word["end"]) + offset, 3),
            }
        moved.append(word)
    return moved


class PartTimeline:
    """Places the transcripts of consecutive parts on the timeline of the whole recording.

    Give it the parts in order: each part's segments get the next ids and their times (and
    their words' times) offset by the part's start; a segment never starts before the one
    before it, nor ends after its part (Whisper may round past either).

    Example:
        >>> from compactifai.types import Transcription
        >>> timeline = PartTimeline()
        >>> seg = {"id": 0, "start": 1.0, "end": 2.5, "text": " Hi."}
        >>> first = timeline.place(AudioPart(0, "a", b"", start=0.0, duration=10.0),
        ...                        Transcription(text=" Hi.", segments=[seg]))
        >>> second = timeline.place(AudioPart(1, "b", b"", start=10.0, duration=5.0),
        ...                         Transcription(text=" Hi.", segments=[seg]))
        >>> [(s.id, s.start, s.end) for s in second.segments]
        [(1, 11.0, 12.5)]
    """

    __slots__ = ("last_start", "next_id")

    def __init__(self) -> None:
        self.next_id = 0
        self.last_start = 0.0

    def place(self, part: AudioPart, transcript: Transcription) -> Transcription:
        """A copy of ``transcript`` on the whole recording's timeline."""
        segments: list[Any] = []
        for segment in transcript.segments:
            start = max(round(part.start + segment.start, 3), self.last_start)
            end = min(round(part.start + segment.end, 3), part.end)
            self.last_start = start
            update: dict[str, Any] = {"id": self.next_id, "start": start, "end": max(end, start)}
            self.next_id += 1
            words = (segment.model_extra or {}).get("words")
            if words is not None:
                update["words"] = _offset_words(words, part.start)
            segments.append(segment.model_copy(update=update))
        placed: dict[str, Any] = {"segments": segments}
        words = (transcript.model_extra or {}).get("words")
        if isinstance(words, list):
            placed["words"] = _offset_words(words, part.start)
        return transcript.model_copy(update=placed)


def merge_transcriptions(
    results: Sequence[tuple[AudioPart, Transcription]], duration: float | None = None
) -> Transcription:
    """One transcript of the whole recording from the transcripts of its parts.

    Segment ids run on from 0 across the parts; ``start``/``end`` (and words' times, when the
    server sent words) are offset by each part's start (:class:`PartTimeline`).
    ``language`` is the one most parts detected; ``duration`` the whole recording's (the sum
    of the parts' when not given). The merged transcript also carries ``parts``:
    ``[{"start", "end", "language"}, ...]``.

    Example:
        >>> from compactifai.types import Transcription
        >>> a = AudioPart(0, "t.part0.wav", b"", start=0.0, duration=10.0)
        >>> b = AudioPart(1, "t.part1.wav", b"", start=10.0, duration=5.0)
        >>> seg = {"id": 0, "start": 1.0, "end": 2.5, "text": " Hi."}
        >>> merged = merge_transcriptions([
        ...     (a, Transcription(text=" Hi.", language="en", segments=[seg])),
        ...     (b, Transcription(text=" Hi.", language="en", segments=[seg]))])
        >>> [(s.id, s.start, s.end) for s in merged.segments], merged.duration
        ([(0, 1.0, 2.5), (1, 11.0, 12.5)], 15.0)
    """
    from .types import Transcription

    timeline = PartTimeline()
    segments: list[Any] = []
    texts: list[str] = []
    languages: Counter[str] = Counter()
    described: list[dict[str, Any]] = []
    words: list[Any] = []
    for part, transcript in sorted(results, key=lambda pair: pair[0].start):
        placed = timeline.place(part, transcript)
        text = placed.text.strip()
        if text:
            texts.append(text)
        if placed.language:
            languages[placed.language] += 1
        described.append({"start": part.start, "end": part.end, "language": placed.language})
        segments.extend(placed.segments)
        part_words = (placed.model_extra or {}).get("words")
        if isinstance(part_words, list):
            words.extend(part_words)
    total = duration
    if total is None and results:
        total = round(sum(part.duration for part, _ in results), 3)
    extra: dict[str, Any] = {"parts": described}
    if words:
        extra["words"] = words
    return Transcription(
        text=" ".join(texts),
        language=languages.most_common(1)[0][0] if languages else None,
        duration=total,
        segments=segments,
        **extra,
    )


# ---------------------------------------------------------------- transcribing


def read_audio(file: AudioInput, filename: str | None = None) -> tuple[str, bytes]:
    """``(filename, bytes)`` of a path, bytes (with ``filename``), a binary file or a tuple."""
    if isinstance(file, tuple):
        return filename or file[0], bytes(file[1])
    if isinstance(file, (bytes, bytearray, memoryview)):
        if filename is None:
            raise AudioFileError(
                "audio given as bytes needs filename=... (for example 'call.wav') so the "
                "server knows its format"
            )
        return filename, bytes(file)
    if isinstance(file, (str, os.PathLike)):
        path = Path(file)
        if not path.is_file():
            from ._checks import AudioFileNotFoundError

            raise AudioFileNotFoundError(
                f"no audio file at {str(path)!r}: check the path", filename=str(path)
            )
        return filename or path.name, path.read_bytes()
    if hasattr(file, "read"):
        name = filename or os.path.basename(str(getattr(file, "name", "")))
        content = file.read()
        if not isinstance(content, bytes):
            raise AudioFileError(f"{name!r} was opened in text mode: open it with 'rb'")
        return name, content
    raise AudioFileError(
        f"cannot upload {type(file).__name__}: pass a path, bytes, a binary file object "
        "or a (filename, bytes) tuple"
    )


def _part_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Every part is asked for verbose_json: the merge needs its segments and language."""
    return {**fields, "response_format": "verbose_json"}


def _as_requested(
    merged: Transcription, response_format: str | None
) -> Transcription | TranscriptionText:
    if response_format in ("text", "srt", "vtt"):
        from ._subtitles import render_subtitles
        from .types import TranscriptionText

        content = (
            merged.text
            if response_format == "text"
            else render_subtitles(merged.segments, response_format)  # type: ignore[arg-type]
        )
        return TranscriptionText(format=response_format, content=content)  # type: ignore[arg-type]
    return merged


def _check_concurrency(max_concurrency: int) -> None:
    if (
        isinstance(max_concurrency, bool)
        or not isinstance(max_concurrency, int)
        or (max_concurrency < 1)
    ):
        raise ValueError(f"max_concurrency must be an integer >= 1, not {max_concurrency!r}")


def _plan(
    file: AudioInput, filename: str | None, max_bytes: int
) -> tuple[str, bytes, list[AudioPart] | None]:
    name, data = read_audio(file, filename)
    check_audio_name(name)
    if not data:
        raise AudioFileError(f"{name!r} is empty: there is nothing to transcribe", filename=name)
    if len(data) <= max_bytes:
        return name, data, None
    return name, data, split_audio(data, name, max_bytes=max_bytes)


def transcribe_long(
    client: CompactifAIClient,
    file: AudioInput,
    *,
    filename: str | None = None,
    max_bytes: int = MAX_AUDIO_BYTES,
    max_concurrency: int = 4,
    response_format: str | None = None,
    on_part: Callable[[AudioPart, Transcription], None] | None = None,
    **fields: Any,
) -> Transcription | TranscriptionText:
    """Transcribe a recording of any length: one request if it fits, else split and merged.

    A file of at most ``max_bytes`` (the service's 25 MB by default) is sent as it is, with
    ``fields`` (``model``, ``language``, ``prompt``, ...) and ``response_format``. A larger
    one is split on silence (:func:`split_audio`, needs the ``audio`` extra), its parts are
    transcribed ``max_concurrency`` at a time as ``verbose_json``, and merged
    (:func:`merge_transcriptions`); the result is then given in ``response_format``
    (``text``/``srt``/``vtt`` rendered from the merged segments). ``on_part`` is called with
    each part's transcript as it arrives.

    Example:
        >>> from compactifai import CompactifAIClient
        >>> client = CompactifAIClient()  # doctest: +SKIP
        >>> t = transcribe_long(client, "lecture-3h.mp3", response_format="verbose_json")  # doctest: +SKIP
        >>> t.segments[-1].end  # seconds into the whole lecture  # doctest: +SKIP
    """
    _check_concurrency(max_concurrency)
    name, data, parts = _plan(file, filename, max_bytes)
    if parts is None:
        whole: Transcription | TranscriptionText = client.transcribe(
            (name, data), response_format=response_format, **fields
        )
        return whole
    results = list(
        transcribe_parts(client, parts, max_concurrency=max_concurrency, on_part=on_part, **fields)
    )
    return _as_requested(merge_transcriptions(results, parts[-1].end), response_format)


def transcribe_parts(
    client: CompactifAIClient,
    parts: Sequence[AudioPart],
    *,
    max_concurrency: int = 4,
    on_part: Callable[[AudioPart, Transcription], None] | None = None,
    **fields: Any,
) -> Iterator[tuple[AudioPart, Transcription]]:
    """``(part, transcript)`` of each part in order, each as soon as it (and those before it)
    is transcribed; ``max_concurrency`` parts in flight on worker threads.

    Each part is asked for as ``verbose_json`` with ``fields``; its transcript is the part's
    own (times from the part's start: :class:`PartTimeline` places it). Stopping early, or a
    failed part, leaves the parts not yet started unsent.
    """
    _check_concurrency(max_concurrency)
    part_fields = _part_fields(fields)

    def one(part: AudioPart) -> Transcription:
        result: Transcription = client.transcribe((part.filename, part.data), **part_fields)
        if on_part is not None:
            on_part(part, result)
        return result

    pool = ThreadPoolExecutor(
        max_workers=max(1, min(max_concurrency, len(parts))),
        thread_name_prefix="compactifai-part",
    )
    try:
        yield from zip(parts, pool.map(one, parts), strict=True)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


async def atranscribe_long(
    client: AsyncCompactifAIClient,
    file: AudioInput,
    *,
    filename: str | None = None,
    max_bytes: int = MAX_AUDIO_BYTES,
    max_concurrency: int = 4,
    response_format: str | None = None,
    on_part: Callable[[AudioPart, Transcription], None] | None = None,
    uploads: asyncio.Semaphore | None = None,
    **fields: Any,
) -> Transcription | TranscriptionText:
    """The async :func:`transcribe_long`: at most ``max_concurrency`` parts in flight.

    Decoding and cutting run on a worker thread, so the event loop stays free. ``uploads``
    (a semaphore shared with other transcriptions) bounds the parts in flight instead, so a
    caller running several files keeps one bound over all their uploads.
    """
    _check_concurrency(max_concurrency)
    name, data, parts = await asyncio.to_thread(_plan, file, filename, max_bytes)
    if parts is None:
        whole: Transcription | TranscriptionText = await client.transcribe(
            (name, data), response_format=response_format, **fields
        )
        return whole
    results = await atranscribe_parts(
        client,
        parts,
        max_concurrency=max_concurrency,
        on_part=on_part,
        uploads=uploads,
        **fields,
    )
    return _as_requested(merge_transcriptions(results, parts[-1].end), response_format)


async def atranscribe_parts(
    client: AsyncCompactifAIClient,
    parts: Sequence[AudioPart],
    *,
    max_concurrency: int = 4,
    on_part: Callable[[AudioPart, Transcription], None] | None = None,
    uploads: asyncio.Semaphore | None = None,
    **fields: Any,
) -> list[tuple[AudioPart, Transcription]]:
    """The async :func:`transcribe_parts`: every part's ``(part, transcript)``, in order.

    At most ``max_concurrency`` parts are in flight (or ``uploads``' bound, when a semaphore
    shared with other transcriptions is given); a failed part cancels the others.
    """
    _check_concurrency(max_concurrency)
    part_fields = _part_fields(fields)
    limit = asyncio.Semaphore(max_concurrency) if uploads is None else uploads

    async def one(part: AudioPart) -> tuple[AudioPart, Transcription]:
        async with limit:
            result: Transcription = await client.transcribe(
                (part.filename, part.data), **part_fields
            )
        if on_part is not None:
            on_part(part, result)
        return part, result

    tasks = [asyncio.ensure_future(one(part)) for part in parts]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        for task in tasks:
            task.cancel()
