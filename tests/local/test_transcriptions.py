"""Audio transcriptions: the real Whisper base on spoken fixtures, every format, and checks."""

from __future__ import annotations

import io
import itertools
import json
import wave
from collections.abc import Iterator

import httpx
import pytest

from compactifai import CompactifAIClient
from compactifai.local import LocalServer
from compactifai.transcripts import AudioPart, has_no_speech, transcribe_long
from compactifai.types import Transcription, TranscriptionText

from .support import FIXTURES


def transcribe(
    client: httpx.Client, audio: bytes, filename: str = "speech.wav", **fields: str
) -> httpx.Response:
    data = {"model": "whisper-base", **fields}
    return client.post(
        "/audio/transcriptions", data=data, files={"file": (filename, audio, "audio/wav")}
    )


@pytest.mark.local_models
def test_transcribes_the_speech_fixture(client: httpx.Client, speech_wav: bytes) -> None:
    resp = transcribe(client, speech_wav, language="en", temperature="0")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert list(body) == ["task", "language", "duration", "text", "segments"]
    transcript = Transcription.model_validate(body)
    assert transcript.task == "transcribe" and transcript.language == "en"
    assert transcript.duration == pytest.approx(6.6, abs=0.3)
    text = transcript.text.lower()
    for words in ("welcome", "quarterly planning meeting", "agenda", "budget", "friday"):
        assert words in text
    assert transcript.segments
    for i, seg in enumerate(body["segments"]):
        assert set(seg) == {
            "id",
            "start",
            "end",
            "text",
            "temperature",
            "avg_logprob",
            "no_speech_prob",
        }
        assert seg["id"] == i and 0 <= seg["start"] < seg["end"] <= transcript.duration + 0.5
        assert (
            seg["temperature"] == 0 and seg["avg_logprob"] < 0 and 0 <= seg["no_speech_prob"] <= 1
        )


@pytest.mark.local_models
def test_alias_and_ignored_openai_fields(client: httpx.Client, speech_wav: bytes) -> None:
    resp = client.post(
        "/audio/transcriptions",
        data={
            "model": "whisper-large-v3",
            "timestamp_granularities[]": "word",
            "include[]": "logprobs",
            "chunking_strategy": "auto",
            "prompt": "Quarterly planning.",
        },
        files={"file": ("meeting.wav", speech_wav, "audio/wav")},
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    assert "agenda" in resp.json()["text"].lower()


@pytest.mark.local_models
def test_without_language_it_is_detected_and_reported(
    client: httpx.Client, speech_wav: bytes
) -> None:
    resp = transcribe(client, speech_wav, temperature="0")
    assert resp.status_code == 200, resp.text
    assert resp.json()["language"] == "en"
    assert "agenda" in resp.json()["text"].lower()


@pytest.mark.local_models
def test_text_srt_and_vtt_answers_are_text_bodies(
    client: httpx.Client, speech_wav: bytes
) -> None:
    text = transcribe(client, speech_wav, response_format="text", temperature="0")
    assert text.status_code == 200, text.text
    assert text.headers["content-type"].startswith("text/plain")
    assert "quarterly planning meeting" in text.text.lower() and not text.text.startswith("{")

    srt = transcribe(client, speech_wav, response_format="srt", temperature="0")
    assert srt.headers["content-type"].startswith("text/plain")
    cues = TranscriptionText(format="srt", content=srt.text).segments()
    assert srt.text.startswith("1\n00:00:00,000 --> ") and cues
    assert [c.id for c in cues] == list(range(len(cues)))
    assert all(a.end <= b.start + 1e-6 for a, b in itertools.pairwise(cues))

    vtt = transcribe(client, speech_wav, response_format="vtt", temperature="0")
    assert vtt.headers["content-type"].startswith("text/vtt")
    assert vtt.text.startswith("WEBVTT\n\n00:00:00.000 --> ")
    vtt_cues = TranscriptionText(format="vtt", content=vtt.text).segments()
    assert [(c.start, c.end, c.text) for c in vtt_cues] == [
        (c.start, c.end, c.text) for c in cues
    ]

    verbose = transcribe(client, speech_wav, response_format="verbose_json", temperature="0")
    assert verbose.json()["segments"] and verbose.json()["language"] == "en"


@pytest.mark.local_models
def test_stream_sends_text_deltas_then_the_whole_text(
    client: httpx.Client, speech_wav: bytes
) -> None:
    with client.stream(
        "POST",
        "/audio/transcriptions",
        data={"model": "whisper-base", "stream": "true", "temperature": "0"},
        files={"file": ("speech.wav", speech_wav, "audio/wav")},
    ) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        body = resp.read().decode()
    events = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")]
    assert "[DONE]" not in body  # OpenAI's transcript streams end with their done event
    *deltas, done = events
    assert deltas and {e["type"] for e in deltas} == {"transcript.text.delta"}
    assert done["type"] == "transcript.text.done"
    assert "".join(e["delta"] for e in deltas) == done["text"]
    assert "agenda" in done["text"].lower()
    assert done["usage"] == {"type": "duration", "seconds": pytest.approx(6.6, abs=0.3)}


def _encode(wav: bytes, container: str, codec: str, rate: int) -> bytes:
    """The speech fixture re-encoded for real (PyAV), so each format is decoded as itself."""
    import av

    out = io.BytesIO()
    with av.open(io.BytesIO(wav)) as source, av.open(out, "w", format=container) as target:
        stream = target.add_stream(codec, rate=rate)
        stream.layout = "mono"  # type: ignore[union-attr]
        resampler = av.AudioResampler(
            format=stream.codec_context.format.name, layout="mono", rate=rate  # type: ignore[union-attr]
        )
        for frame in source.decode(audio=0):
            for piece in resampler.resample(frame):
                target.mux(stream.encode(piece))  # type: ignore[union-attr]
        for piece in resampler.resample(None):
            target.mux(stream.encode(piece))  # type: ignore[union-attr]
        target.mux(stream.encode(None))  # type: ignore[union-attr]
    return out.getvalue()


@pytest.mark.local_models
@pytest.mark.parametrize(
    ("filename", "container", "codec", "rate"),
    [
        ("speech.flac", "flac", "flac", 16000),
        ("speech.ogg", "ogg", "libopus", 48000),
        ("speech.m4a", "ipod", "aac", 16000),
        ("speech.mp3", "mp3", "libmp3lame", 16000),
    ],
)
def test_every_format_the_service_takes_is_transcribed(
    client: httpx.Client, speech_wav: bytes, filename: str, container: str, codec: str,
    rate: int,
) -> None:
    audio = _encode(speech_wav, container, codec, rate)
    resp = transcribe(client, audio, filename=filename, response_format="text", temperature="0")
    assert resp.status_code == 200, resp.text
    assert "agenda" in resp.text.lower()


@pytest.mark.local_models
def test_undecodable_audio_is_400(client: httpx.Client) -> None:
    resp = transcribe(client, b"this is not audio at all" * 50, filename="noise.mp3")
    assert resp.status_code == 400
    err = resp.json()["error"]
    assert err["code"] == "invalid_audio" and err["param"] == "file"
    assert "[Errno" not in err["message"] and "could not be decoded" in err["message"]


@pytest.mark.parametrize("filename", ["notes.txt", "speech.aac", "speech"])
def test_unsupported_extension_is_400(
    client: httpx.Client, speech_wav: bytes, filename: str
) -> None:
    resp = transcribe(client, speech_wav, filename=filename)
    assert resp.status_code == 400
    err = resp.json()["error"]
    assert err["code"] == "unsupported_file_type" and ".wav" in err["message"]


def test_empty_file_is_400(client: httpx.Client) -> None:
    resp = transcribe(client, b"")
    assert resp.status_code == 400
    assert "empty" in resp.json()["error"]["message"]


def test_file_over_25_mb_is_413(client: httpx.Client) -> None:
    resp = transcribe(client, b"\0" * (25 * 1024 * 1024 + 1))
    assert resp.status_code == 413
    assert resp.json()["error"]["code"] == "file_too_large"


def test_missing_file_or_model_is_fastapis_422(client: httpx.Client, speech_wav: bytes) -> None:
    resp = client.post(
        "/audio/transcriptions", data={"model": "whisper-base"}, files={"other": ("a", b"x")}
    )
    assert resp.status_code == 422
    assert resp.json() == {"detail": [
        {"type": "missing", "loc": ["body", "file"], "msg": "Field required", "input": None}
    ]}
    resp = client.post("/audio/transcriptions", files={"file": ("a.wav", speech_wav, "audio/wav")})
    assert resp.status_code == 422 and resp.json()["detail"][0]["loc"] == ["body", "model"]


def test_a_response_format_outside_the_list_is_422(
    client: httpx.Client, speech_wav: bytes
) -> None:
    resp = transcribe(client, speech_wav, response_format="xml")
    assert resp.status_code == 422
    [problem] = resp.json()["detail"]
    assert problem["loc"] == ["body", "response_format"] and "'vtt'" in problem["msg"]


def test_unknown_or_chat_model_is_refused(client: httpx.Client, speech_wav: bytes) -> None:
    resp = transcribe(client, speech_wav, model="whisper-tiny")
    assert resp.status_code == 400
    message = resp.json()["error"]["message"]
    assert "'whisper-tiny' not found; available: [" in message and "whisper-base" in message
    resp = transcribe(client, speech_wav, model="smollm2-135m-instruct")
    assert resp.status_code == 400


def test_bad_temperature_is_refused(client: httpx.Client, speech_wav: bytes) -> None:
    resp = transcribe(client, speech_wav, temperature="hot")
    assert resp.status_code == 422 and resp.json()["detail"][0]["type"] == "float_parsing"
    assert transcribe(client, speech_wav, temperature="1.5").status_code == 400


# ---------------------------------------------------------------- through the client


def _silent_wav(seconds: float = 3.0) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(b"\0\0" * int(16000 * seconds))
    return buffer.getvalue()


@pytest.fixture
def api(local_server: LocalServer) -> Iterator[CompactifAIClient]:
    with CompactifAIClient(
        api_key=local_server.api_key, base_url=local_server.base_url, timeout=180
    ) as client:
        yield client


@pytest.mark.local_models
def test_a_real_recording_split_in_parts_keeps_its_timestamps(api: CompactifAIClient) -> None:
    lecture = (FIXTURES / "lecture.wav").read_bytes()
    whole = api.transcribe(("lecture.wav", lecture), model="whisper-base",
                           response_format="verbose_json", temperature=0)
    limit = 100_000  # ~3 s of 16 kHz audio a part: the 8.2 s lecture goes in three
    parts: list[AudioPart] = []
    merged = transcribe_long(
        api, ("lecture.wav", lecture), model="whisper-base", temperature=0,
        max_bytes=limit, max_concurrency=2, response_format="verbose_json",
        on_part=lambda part, _: parts.append(part),
    )
    assert isinstance(merged, Transcription)
    parts.sort(key=lambda p: p.start)
    assert len(parts) >= 3 and all(len(p.data) <= limit for p in parts)
    assert [p.start for p in parts[1:]] == [p.end for p in parts[:-1]]  # no gap, no overlap
    duration = whole.duration or 0.0
    assert merged.duration == pytest.approx(duration, abs=0.1)
    assert merged.language == "en"
    segments = merged.segments
    assert [s.id for s in segments] == list(range(len(segments)))  # ids run on across parts
    assert all(s.start <= s.end for s in segments)
    assert all(a.start <= b.start and a.end <= b.start + 0.01
               for a, b in itertools.pairwise(segments))
    # each part's segments are offset to where the part starts in the whole recording
    for part in parts[1:]:
        assert any(part.start <= s.start < part.end for s in segments)
    assert segments[0].start < 1.0 and segments[-1].end >= duration - 1.5
    assert segments[-1].end <= duration + 0.05
    # the split transcript says what the whole one says
    words = {w.strip(".,").lower() for w in whole.text.split()}
    found = {w.strip(".,").lower() for w in merged.text.split()}
    assert len(words & found) >= 0.7 * len(words)


@pytest.mark.local_models
def test_the_stream_through_the_client(api: CompactifAIClient, speech_wav: bytes) -> None:
    with api.transcribe_stream(("speech.wav", speech_wav), model="whisper-base",
                               temperature=0) as stream:
        events = list(stream)
    assert events[-1]["type"] == "transcript.text.done"
    deltas = [e["delta"] for e in events if e["type"] == "transcript.text.delta"]
    assert "".join(deltas) == events[-1]["text"] and "agenda" in events[-1]["text"].lower()


@pytest.mark.local_models
def test_silence_is_reported_as_no_speech(api: CompactifAIClient) -> None:
    transcript = api.transcribe(("silence.wav", _silent_wav()), model="whisper-base",
                                response_format="verbose_json", temperature=0)
    assert has_no_speech(transcript), transcript
