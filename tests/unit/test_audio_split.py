"""Long recordings: where to cut, the real split of a fixture, the merge, and the runs."""

from __future__ import annotations

import asyncio
import io
import itertools
import sys
import wave
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compactifai import AudioFileError
from compactifai._audio_split import (
    SAMPLE_RATE,
    AudioPart,
    atranscribe_long,
    find_cuts,
    merge_transcriptions,
    split_audio,
    transcribe_long,
)
from compactifai.types import Transcription, TranscriptionText
from tests.helpers import async_client, json_response, sync_client
from tests.unit.test_transcripts import form_fields

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
LECTURE = (FIXTURES / "lecture.wav").read_bytes()

pytest.importorskip("av")


def wav_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (SAMPLE_RATE, 1, 2)
        return w.getnframes() / w.getframerate()


# ---------------------------------------------------------------- where to cut


def test_cuts_land_on_the_quietest_frame_of_the_search_window() -> None:
    energy = [9.0] * 30
    energy[7], energy[8] = 1.0, 0.5  # a pause inside the window of the first part
    energy[20] = 0.0
    assert find_cuts(energy, max_frames=10, search_frames=4) == [8, 18, 28]


def test_no_cut_when_it_fits_and_equal_energies_keep_parts_long() -> None:
    assert find_cuts([1.0] * 10, max_frames=10, search_frames=3) == []
    assert find_cuts([1.0] * 25, max_frames=10, search_frames=3) == [10, 20]


@settings(max_examples=200, deadline=None)
@given(
    energy=st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=400),
    max_frames=st.integers(1, 60),
    share=st.floats(0.01, 1.0),
)
def test_every_part_fits_and_cuts_move_forward(
    energy: list[float], max_frames: int, share: float
) -> None:
    search = max(1, int(max_frames * share))
    cuts = find_cuts(energy, max_frames, search)
    bounds = [0, *cuts, len(energy)]
    assert all(0 < b - a <= max_frames for a, b in itertools.pairwise(bounds))
    for a, cut in zip(bounds, cuts, strict=False):
        window = energy[a + max_frames - search + 1 : a + max_frames + 1]
        assert energy[cut] == min(window)  # the quietest frame the part could end on


# ---------------------------------------------------------------- the real split


def test_the_lecture_is_split_on_its_pauses_into_parts_under_the_limit() -> None:
    limit = 100_000
    parts = split_audio(LECTURE, "lecture.wav", max_bytes=limit)
    assert len(parts) == 3
    assert [p.filename for p in parts] == [f"lecture.part{i}.wav" for i in range(3)]
    assert all(len(p.data) <= limit for p in parts)
    assert parts[0].start == 0.0
    assert [p.start for p in parts[1:]] == [p.end for p in parts[:-1]]  # contiguous
    assert sum(p.duration for p in parts) == pytest.approx(8.248, abs=0.002)
    assert [wav_seconds(p.data) for p in parts] == pytest.approx(
        [p.duration for p in parts], abs=0.001
    )
    # each cut is in a pause: the samples around it are (digital) silence
    import numpy as np

    for part in parts[1:]:
        with wave.open(io.BytesIO(part.data)) as w:
            head = np.frombuffer(w.readframes(SAMPLE_RATE // 20), dtype=np.int16)
        assert np.abs(head.astype(np.int32)).mean() < 50


def test_a_limit_too_small_for_a_second_of_audio_is_refused() -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        split_audio(LECTURE, "lecture.wav", max_bytes=10_000)


def test_undecodable_audio_says_so_naming_the_file() -> None:
    with pytest.raises(AudioFileError, match=r"'noise\.mp3' could not be decoded"):
        split_audio(b"not audio" * 10_000, "noise.mp3", max_bytes=40_000)


def test_without_pyav_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "av", None)
    with pytest.raises(AudioFileError, match=r"compactifai-integrations\[audio\]"):
        split_audio(LECTURE, "lecture.wav", max_bytes=100_000)


# ---------------------------------------------------------------- the merge


def part(index: int, start: float, duration: float) -> AudioPart:
    return AudioPart(index, f"t.part{index}.wav", b"", start=start, duration=duration)


def seg(i: int, start: float, end: float, text: str, **extra: Any) -> dict[str, Any]:
    return {"id": i, "start": start, "end": end, "text": text, **extra}


def test_merge_runs_ids_on_offsets_times_and_keeps_the_rest() -> None:
    a = Transcription.model_validate(
        {
            "text": " One. Two.",
            "language": "en",
            "segments": [
                seg(0, 0.0, 1.5, " One.", avg_logprob=-0.2),
                seg(1, 1.5, 3.2, " Two."),
            ],  # ends past its part: clamped to 3.0
        }
    )
    b = Transcription.model_validate(
        {
            "text": " Three.",
            "language": "en",
            "segments": [
                seg(0, 0.4, 2.0, " Three.", words=[{"word": "Three", "start": 0.4, "end": 1.0}])
            ],
            "words": [{"word": "Three", "start": 0.4, "end": 1.0}],
        }
    )
    c = Transcription.model_validate({"text": "", "language": "fr", "segments": []})
    merged = merge_transcriptions(
        [(part(1, 3.0, 2.5), b), (part(0, 0.0, 3.0), a), (part(2, 5.5, 1.0), c)]
    )
    assert merged.text == "One. Two. Three."
    assert merged.language == "en" and merged.duration == 6.5
    assert [(s.id, s.start, s.end) for s in merged.segments] == [
        (0, 0.0, 1.5),
        (1, 1.5, 3.0),
        (2, 3.4, 5.0),
    ]
    assert merged.segments[0].avg_logprob == -0.2
    assert merged.segments[2].model_extra["words"] == [{"word": "Three", "start": 3.4, "end": 4.0}]
    assert merged.model_extra["words"] == [{"word": "Three", "start": 3.4, "end": 4.0}]
    assert merged.model_extra["parts"] == [
        {"start": 0.0, "end": 3.0, "language": "en"},
        {"start": 3.0, "end": 5.5, "language": "en"},
        {"start": 5.5, "end": 6.5, "language": "fr"},
    ]


def test_merge_keeps_starts_monotonic() -> None:
    a = Transcription.model_validate({"text": "a", "segments": [seg(0, 0.0, 2.0, "a")]})
    # Whisper put this part's first segment a little before its part started (rounding)
    b = Transcription.model_validate({"text": "b", "segments": [seg(0, -0.3, 1.0, "b")]})
    merged = merge_transcriptions([(part(0, 0.0, 2.0), a), (part(1, 2.0, 2.0), b)], 4.0)
    starts = [s.start for s in merged.segments]
    assert starts == sorted(starts) and merged.duration == 4.0


# ---------------------------------------------------------------- the runs


class PartServer:
    """Answers each uploaded part with one segment naming it; counts parts in flight."""

    def __init__(self, delay: float = 0.0) -> None:
        self.requests: list[httpx.Request] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.delay = delay

    def answer(self, request: httpx.Request) -> httpx.Response:
        fields = form_fields(request)
        name = fields["file"][0]
        if fields.get("response_format") == ["text"]:
            return httpx.Response(
                200, text=f"whole {name}\n", headers={"content-type": "text/plain"}
            )
        return json_response(
            {
                "task": "transcribe",
                "language": "en",
                "duration": 3.0,
                "text": f" {name}",
                "segments": [seg(0, 0.5, 2.5, f" {name}")],
            }
        )

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return self.answer(request)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.requests.append(request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
            return self.answer(request)
        finally:
            self.in_flight -= 1


def test_a_file_under_the_limit_is_one_request_in_the_format_asked() -> None:
    server = PartServer()
    result = transcribe_long(
        sync_client(server), ("lecture.wav", LECTURE), response_format="text", model="m"
    )
    assert isinstance(result, TranscriptionText) and result.content == "whole lecture.wav\n"
    assert len(server.requests) == 1
    assert "language" not in form_fields(server.requests[0])


def test_a_file_over_the_limit_is_sent_in_parts_and_merged() -> None:
    server = PartServer()
    seen: list[int] = []
    result = transcribe_long(
        sync_client(server),
        ("lecture.wav", LECTURE),
        model="m",
        language="en",
        max_bytes=100_000,
        max_concurrency=2,
        on_part=lambda p, _: seen.append(p.index),
    )
    assert isinstance(result, Transcription)
    forms = sorted((form_fields(r) for r in server.requests), key=lambda f: f["file"][0])
    assert [f["file"][0] for f in forms] == [f"lecture.part{i}.wav" for i in range(3)]
    assert all(f["response_format"] == ["verbose_json"] and f["language"] == ["en"] for f in forms)
    assert sorted(seen) == [0, 1, 2]
    assert result.text == "lecture.part0.wav lecture.part1.wav lecture.part2.wav"
    assert [s.id for s in result.segments] == [0, 1, 2]
    assert result.segments[1].start == pytest.approx(2.64 + 0.5)
    assert result.duration == pytest.approx(8.248, abs=0.002)


@pytest.mark.parametrize("fmt", ["srt", "vtt", "text"])
def test_a_split_recording_in_a_text_format_is_rendered_from_the_merge(fmt: str) -> None:
    result = transcribe_long(
        sync_client(PartServer()), ("lecture.wav", LECTURE), response_format=fmt, max_bytes=100_000
    )
    assert isinstance(result, TranscriptionText) and result.format == fmt
    if fmt == "text":
        assert result.content.startswith("lecture.part0.wav lecture.part1.wav")
        return
    cues = result.segments()
    assert [c.text for c in cues] == [f"lecture.part{i}.wav" for i in range(3)]
    assert cues[2].start == pytest.approx(5.66 + 0.5, abs=0.002)


async def test_async_parts_are_bounded_and_merged_in_order() -> None:
    server = PartServer(delay=0.02)
    result = await atranscribe_long(
        async_client(server.handle),
        ("lecture.wav", LECTURE),
        max_bytes=100_000,
        max_concurrency=2,
    )
    assert isinstance(result, Transcription)
    assert server.max_in_flight == 2 and len(server.requests) == 3
    assert [s.text.strip() for s in result.segments] == [f"lecture.part{i}.wav" for i in range(3)]
    starts = [s.start for s in result.segments]
    assert starts == sorted(starts) and starts[-1] > 5.6


def test_a_failed_part_raises_and_bad_options_are_refused() -> None:
    def failing(request: httpx.Request) -> httpx.Response:
        request.read()
        if "part1" in form_fields(request)["file"][0]:
            return json_response({"error": {"message": "no"}}, 400)
        return PartServer().answer(request)

    from compactifai import BadRequestError

    with pytest.raises(BadRequestError):
        transcribe_long(sync_client(failing), ("lecture.wav", LECTURE), max_bytes=100_000)
    with pytest.raises(ValueError, match="max_concurrency"):
        transcribe_long(sync_client(PartServer()), ("lecture.wav", LECTURE), max_concurrency=0)
    with pytest.raises(AudioFileError, match="empty"):
        transcribe_long(sync_client(PartServer()), ("lecture.wav", b""))


def _encode(wav: bytes, container: str, codec: str, rate: int) -> bytes:
    import av

    out = io.BytesIO()
    with av.open(io.BytesIO(wav)) as source, av.open(out, "w", format=container) as target:
        stream: Any = target.add_stream(codec, rate=rate)
        stream.layout = "mono"
        resampler = av.AudioResampler(
            format=stream.codec_context.format.name, layout="mono", rate=rate
        )
        for frame in source.decode(audio=0):
            for piece in resampler.resample(frame):
                target.mux(stream.encode(piece))
        for piece in resampler.resample(None):
            target.mux(stream.encode(piece))
        target.mux(stream.encode(None))
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "container", "codec", "rate"),
    [
        ("talk.mp3", "mp3", "libmp3lame", 44100),
        ("talk.m4a", "ipod", "aac", 22050),
        ("talk.ogg", "ogg", "libopus", 48000),
        ("talk.flac", "flac", "flac", 16000),
    ],
)
def test_compressed_recordings_are_split_into_wav_parts(
    name: str, container: str, codec: str, rate: int
) -> None:
    encoded = _encode(LECTURE, container, codec, rate)
    parts = split_audio(encoded, name, max_bytes=100_000)
    assert len(parts) == 3 and all(p.filename.endswith(".wav") for p in parts)
    assert all(len(p.data) <= 100_000 for p in parts)
    # the whole recording, give or take the codec's padding
    assert sum(p.duration for p in parts) == pytest.approx(8.25, abs=0.1)
    # each cut lies in one of the lecture's two pauses (2.18-3.08 s and 5.04-5.94 s in the
    # WAV; a lossy codec may shift them by its delay)
    pauses = [(2.18, 3.08), (5.04, 5.94)]
    for part, (low, high) in zip(parts[1:], pauses, strict=True):
        assert low - 0.05 <= part.start <= high + 0.05
