"""Configuration and client-side checks: refused before any request, saying what to change."""

from __future__ import annotations

import io
import pickle
from datetime import datetime

import httpx
import pytest

from compactifai import (
    MAX_AUDIO_BYTES,
    AsyncCompactifAIClient,
    AudioFileError,
    AudioFileNotFoundError,
    AuthenticationError,
    CompactifAIClient,
    ConfigurationError,
    InvalidRequestError,
)
from tests.helpers import Recorder, json_response, sync_client
from tests.unit import reference_examples as ref

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def rec() -> Recorder:
    return Recorder(json_response({"choices": []}))


def test_missing_key_is_a_clear_error_before_any_request(monkeypatch) -> None:
    monkeypatch.delenv("COMPACTIFAI_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="COMPACTIFAI_API_KEY"):
        CompactifAIClient()
    with pytest.raises(ConfigurationError):
        AsyncCompactifAIClient(api_key="   ")


def test_key_and_url_come_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("COMPACTIFAI_API_KEY", "sk-env")
    monkeypatch.setenv("COMPACTIFAI_BASE_URL", "http://127.0.0.1:9/v1/")
    client = CompactifAIClient()
    assert client.base_url == "http://127.0.0.1:9/v1"
    assert client.config.api_key.get_secret_value() == "sk-env"
    monkeypatch.delenv("COMPACTIFAI_BASE_URL")
    assert CompactifAIClient().base_url == "https://api.compactif.ai/v1"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"base_url": "api.compactif.ai"}, "http"),
        ({"max_retries": -1}, "max_retries"),
        ({"timeout": 0}, "timeout"),
        ({"default_headers": {"Authorization": "Bearer x"}}, "api_key"),
    ],
)
def test_bad_configuration_is_refused(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        CompactifAIClient(api_key="sk-x", **kwargs)


@pytest.mark.parametrize(
    ("params", "param", "match"),
    [
        ({"temperature": 2.5}, "temperature", "between 0.0 and 2.0"),
        ({"temperature": -0.1}, "temperature", "between"),
        ({"top_p": 1.5}, "top_p", "between 0.0 and 1.0"),
        ({"n": 2}, "n", "one choice per request"),
        ({"max_tokens": 0}, "max_tokens", ">= 1"),
        ({"frequency_penalty": 3}, "frequency_penalty", "between"),
        ({"tool_choice": "always"}, "tool_choice", "'auto', 'none', 'required'"),
        ({"logit_bias": {}}, "logit_bias", "extra_body"),
        ({"temperature": 0.5, "extra_body": {"temperature": 1}}, "temperature", "keep one"),
    ],
)
def test_chat_arguments_are_checked_before_sending(rec, params, param, match) -> None:
    client = sync_client(rec)
    with pytest.raises(InvalidRequestError, match=match) as info:
        client.chat_completion(**CHAT, **params)
    assert info.value.param == param
    assert rec.requests == []
    with pytest.raises(InvalidRequestError):
        client.chat_completion_stream(**CHAT, **params)
    assert rec.requests == []


def test_invalid_request_error_is_also_a_value_error() -> None:
    assert issubclass(InvalidRequestError, ValueError)


def test_empty_messages_and_bad_prompts_are_refused(rec) -> None:
    client = sync_client(rec)
    with pytest.raises(InvalidRequestError, match="messages"):
        client.chat_completion(model="m", messages=[])
    with pytest.raises(InvalidRequestError, match="prompt"):
        client.completion(model="m", prompt=[1, 2])  # type: ignore[list-item]
    with pytest.raises(InvalidRequestError, match="model"):
        client.completion(model="", prompt="x")
    assert rec.requests == []


def test_extra_body_and_named_tool_choice_are_sent(rec) -> None:
    client = sync_client(rec)
    choice = {"type": "function", "function": {"name": "get_weather"}}
    client.chat_completion(**CHAT, tool_choice=choice, extra_body={"top_k": 5}, stop=("a", "b"))
    assert rec.body() == {**CHAT, "tool_choice": choice, "top_k": 5, "stop": ["a", "b"]}


# ---------------------------------------------------------------- audio


def test_audio_checks_happen_before_upload(rec, tmp_path) -> None:
    client = sync_client(rec)
    aac = tmp_path / "talk.aac"
    aac.write_bytes(b"x")
    with pytest.raises(AudioFileError, match="flac, m4a, mp3, mp4, mpeg, mpga, ogg, wav, webm"):
        client.transcribe(aac)
    with pytest.raises(AudioFileNotFoundError, match="no audio file"):
        client.transcribe(tmp_path / "missing.wav")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(AudioFileError, match="empty"):
        client.transcribe(empty)
    big = tmp_path / "big.mp3"
    with big.open("wb") as f:
        f.truncate(MAX_AUDIO_BYTES + 1)
    with pytest.raises(AudioFileError, match="25 MB"):
        client.transcribe(big)
    with pytest.raises(AudioFileError, match="filename"):
        client.transcribe(b"RIFF....")
    with pytest.raises(InvalidRequestError, match=r"between 0\.0 and 1\.0"):
        client.transcribe(("a.wav", b"RIFF"), temperature=1.5)
    assert rec.requests == []
    assert issubclass(AudioFileNotFoundError, FileNotFoundError)


def test_audio_inputs_of_every_form_upload(tmp_path) -> None:
    rec = Recorder(json_response(ref.TRANSCRIPTION))
    client = sync_client(rec)
    path = tmp_path / "a.wav"
    path.write_bytes(b"RIFFdata")
    client.transcribe(path)
    client.transcribe(str(path), timestamp_granularities=["segment", "word"])
    client.transcribe(b"RIFFdata", filename="b.wav")
    client.transcribe(("c.webm", b"webmdata"))
    with path.open("rb") as f:
        client.transcribe(f)
    client.transcribe(io.BytesIO(b"mp3"), filename="d.mp3")
    names = [r.content.split(b'filename="')[1].split(b'"')[0] for r in rec.requests]
    assert names == [b"a.wav", b"a.wav", b"b.wav", b"c.webm", b"a.wav", b"d.mp3"]
    assert rec.requests[1].content.count(b'name="timestamp_granularities[]"') == 2


# ---------------------------------------------------------------- usage statistics


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"start_time": datetime(2025, 1, 1)}, "naive"),
        ({"start_time": "yesterday"}, "RFC 3339"),
        ({"start_time": "2025-01-01T00:00:00"}, "offset"),
        ({"start_time": "2025-01-01T00:00:00Z", "window_size": "WEEK"}, "MINUTE"),
        ({"start_time": "2025-01-01T00:00:00Z", "window_timezone": "Mars/Base"}, "IANA"),
    ],
)
def test_usage_arguments_are_checked(rec, kwargs, match) -> None:
    with pytest.raises(InvalidRequestError, match=match):
        sync_client(rec).usage_statistics(**kwargs)
    assert rec.requests == []


# ---------------------------------------------------------------- model profiles


def test_model_profile_reads_the_list_once_and_falls_back_to_the_table() -> None:
    rec = Recorder(json_response(ref.MODELS_LIST))
    client = sync_client(rec)
    assert client.model_profile("mistral-small-3-1").supports_image is True
    assert client.model_profile("cai-llama-3-1-8b-slim").supports_function_calling is True
    assert client.model_profile("cai-llama-3-1-8b-slim").parameters_number == "3.28B"
    assert client.model_profile("cai-llama-3-1-8b-slim").source == "api"
    whisper = client.model_profile("whisper-large-v3")
    assert whisper.source == "table" and whisper.supports_audio is True
    unknown = client.model_profile("brand-new")
    assert unknown.supports_image is None and unknown.context_window == 8192
    assert len(rec.requests) == 1


def test_model_profile_does_not_hide_a_wrong_key() -> None:
    rec = Recorder(json_response({"error": {"message": "bad key"}}, 401))
    with pytest.raises(AuthenticationError):
        sync_client(rec).model_profile("x")


def test_model_profile_falls_back_when_the_list_is_unavailable() -> None:
    rec = Recorder(json_response({"error": {"message": "no"}}, 404))
    profile = sync_client(rec).model_profile("cai-mistral-small-3-1-slim")
    assert profile.supports_image is True and profile.source == "table"


# ---------------------------------------------------------------- pickling


@pytest.mark.parametrize("cls", [CompactifAIClient, AsyncCompactifAIClient])
def test_clients_pickle_without_their_pools_and_keep_config(cls) -> None:
    client = cls(api_key="sk-pickle", base_url="http://127.0.0.1:1/v1", max_retries=5,
                 timeout=7, default_headers={"X-A": "b"})
    if cls is CompactifAIClient:
        _ = client._pipeline.http_client  # a live pool exists
    data = pickle.dumps(client)
    assert b"sk-pickle" in data  # the key travels (as a Secret) ...
    copy = pickle.loads(data)
    assert "sk-pickle" not in repr(copy)  # ... and never shows
    assert copy.config == client.config
    assert copy.config.timeout == httpx.Timeout(7, connect=7)


def test_errors_pickle_with_their_fields() -> None:
    from compactifai import RateLimitError, StreamInterruptedError

    err = pickle.loads(pickle.dumps(RateLimitError("slow", status_code=429, request_id="r")))
    assert (type(err), err.status_code, err.request_id, err.message) == (
        RateLimitError, 429, "r", "slow")
    s = pickle.loads(pickle.dumps(StreamInterruptedError("cut", events_received=3)))
    assert s.events_received == 3


@pytest.mark.parametrize("name", ["talk.flac", "talk.m4a", "talk.ogg", "talk.OGG"])
def test_todays_audio_formats_are_uploaded(name: str) -> None:
    from compactifai._checks import prepare_audio

    upload = prepare_audio((name, b"audio bytes"))
    assert upload.filename == name and upload.content_type.startswith("audio/")
