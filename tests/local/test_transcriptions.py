"""Audio transcriptions: the real Whisper base on a spoken fixture, and upload checks."""

from __future__ import annotations

import httpx
import pytest

from compactifai.types import Transcription


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
            "response_format": "text",
            "timestamp_granularities[]": "word",
            "stream": "true",
            "prompt": "Quarterly planning.",
        },
        files={"file": ("meeting.wav", speech_wav, "audio/wav")},
    )
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json")
    assert "agenda" in resp.json()["text"].lower()


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


def test_missing_file_or_model_is_400(client: httpx.Client, speech_wav: bytes) -> None:
    resp = client.post(
        "/audio/transcriptions", data={"model": "whisper-base"}, files={"other": ("a", b"x")}
    )
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "file"
    resp = client.post("/audio/transcriptions", files={"file": ("a.wav", speech_wav, "audio/wav")})
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "model"


def test_unknown_or_chat_model_is_refused(client: httpx.Client, speech_wav: bytes) -> None:
    resp = transcribe(client, speech_wav, model="whisper-tiny")
    assert resp.status_code == 404
    resp = transcribe(client, speech_wav, model="smollm2-135m-instruct")
    assert resp.status_code == 400


def test_bad_temperature_is_400(client: httpx.Client, speech_wav: bytes) -> None:
    assert transcribe(client, speech_wav, temperature="hot").status_code == 400
    assert transcribe(client, speech_wav, temperature="1.5").status_code == 400
