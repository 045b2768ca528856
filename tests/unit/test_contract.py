"""Every example response of the API reference, served verbatim and parsed by the client."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from compactifai.types import ChatCompletion
from tests.helpers import Recorder, async_client, json_response, sse_response, sync_client
from tests.unit import reference_examples as ref

# The first reference's own examples name models the service has withdrawn since: the
# ModelWithdrawnWarning they raise is expected here (tests/unit/test_catalogue.py checks it).
pytestmark = pytest.mark.filterwarnings("ignore::compactifai.ModelWithdrawnWarning")


def test_list_models_every_documented_field() -> None:
    rec = Recorder(json_response(ref.MODELS_LIST))
    models = sync_client(rec).list_models()
    assert rec.requests[0].method == "GET"
    assert rec.requests[0].url.path == "/v1/models"
    assert models.object == "list"
    assert [m.id for m in models.data] == [
        "llama-4-scout", "cai-llama-4-scout-slim", "cai-llama-3-1-8b-slim", "llama-3-1-8b",
        "cai-llama-3-3-70b-slim", "llama-3-3-70b", "mistral-small-3-1",
        "cai-mistral-small-3-1-slim",
    ]
    slim = models.data[2]
    assert (slim.created, slim.object, slim.owned_by, slim.parameters_number) == (
        1749600000, "model", "multiverse_computing", "3.28B"
    )
    assert slim.capabilities.supports_function_calling is True
    assert slim.capabilities.supports_image is False
    assert slim.capabilities.supports_audio is False
    mistral = models.data[6]
    assert mistral.capabilities.supports_image is True
    assert mistral.capabilities.supports_function_calling is False


def test_retrieve_model() -> None:
    rec = Recorder(json_response(ref.MODEL_RETRIEVE))
    model = sync_client(rec).retrieve_model("cai-llama-3-1-8b-slim")
    assert rec.requests[0].url.path == "/v1/models/cai-llama-3-1-8b-slim"
    assert model.id == "cai-llama-3-1-8b-slim"
    assert model.parameters_number == "3.28B"
    assert model.capabilities.supports_function_calling


def test_chat_completion_default_example() -> None:
    rec = Recorder(json_response(ref.CHAT_COMPLETION))
    answer = sync_client(rec).chat_completion(
        model="cai-llama-3-1-8b-slim",
        messages=[
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "What is artificial intelligence?"},
        ],
        temperature=0.7,
        max_tokens=150,
    )
    assert rec.body() == {
        "model": "cai-llama-3-1-8b-slim",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "What is artificial intelligence?"},
        ],
        "temperature": 0.7,
        "max_tokens": 150,
    }
    assert answer.id == "chatcmpl-123XYZ"
    assert answer.object == "chat.completion"
    assert answer.created == 1749600000
    assert answer.model == "cai-llama-3-1-8b-slim"
    choice = answer.choices[0]
    assert (choice.index, choice.finish_reason, choice.message.role) == (0, "stop", "assistant")
    assert choice.message.content.startswith("Artificial intelligence (AI) refers")
    assert answer.usage is not None
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens,
            answer.usage.total_tokens) == (29, 58, 87)


def test_chat_completion_image_example_keeps_unknown_fields() -> None:
    rec = Recorder(json_response(ref.CHAT_COMPLETION_IMAGE))
    answer = sync_client(rec).chat_completion(
        model="mistral-small-3-1",
        messages=[{"role": "user", "content": [
            {"type": "text", "text": "What is in this image?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
        ]}],
    )
    assert rec.body()["messages"][0]["content"][1]["type"] == "image_url"
    msg = answer.choices[0].message
    assert msg.content.startswith("The image depicts a serene")
    assert msg.tool_calls == []
    assert msg.reasoning_content is None
    assert msg.refusal is None
    extra = answer.model_extra or {}
    assert {"prompt_logprobs", "kv_transfer_params", "service_tier"} <= set(extra)
    assert answer.choices[0].model_extra == {"stop_reason": None}
    assert answer.usage is not None and answer.usage.prompt_tokens == 2199
    dumped = answer.model_dump()
    assert "kv_transfer_params" in dumped and "annotations" in dumped["choices"][0]["message"]


def test_chat_stream_documented_chunks() -> None:
    rec = Recorder(sse_response(ref.CHAT_STREAM.replace("\n", "\n\n").encode() + b"\n\n"))
    chunks = list(sync_client(rec).chat_completion_stream(
        model="cai-llama-3-1-8b-slim",
        messages=[{"role": "user", "content": "What is artificial intelligence?"}],
    ))
    body = rec.body()
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert rec.requests[0].headers["accept"] == "text/event-stream"
    assert [c["choices"][0]["delta"]["content"] for c in chunks] == ["Hello", " there"]
    assert chunks[0]["id"] == "chatcmpl-123"
    assert chunks[0]["object"] == "chat.completion.chunk"
    assert chunks[0]["model"] == "cai-llama-3-1-8b-slim"
    assert chunks[0]["choices"][0]["finish_reason"] is None


async def test_chat_stream_documented_chunks_async() -> None:
    rec = Recorder(sse_response(ref.CHAT_STREAM.replace("\n", "\n\n").encode() + b"\n\n"))
    client = async_client(rec)
    texts = [
        c["choices"][0]["delta"]["content"]
        async for c in client.chat_completion_stream(
            model="cai-llama-3-1-8b-slim", messages=[{"role": "user", "content": "Hi"}]
        )
    ]
    assert texts == ["Hello", " there"]


def test_completion_example_string_and_list_prompt() -> None:
    rec = Recorder(json_response(ref.COMPLETION))
    client = sync_client(rec)
    answer = client.completion(
        model="cai-llama-3-1-8b-slim",
        prompt="Write a poem about artificial intelligence",
        temperature=0.7,
        max_tokens=150,
    )
    assert rec.body() == {
        "model": "cai-llama-3-1-8b-slim",
        "prompt": "Write a poem about artificial intelligence",
        "temperature": 0.7,
        "max_tokens": 150,
    }
    assert answer.id == "cmpl-uqkvlQyYK7bGYrRHQ0eXlWi7"
    assert answer.object == "text_completion"
    assert answer.choices[0].text.startswith("\n\nSilicon dreams")
    assert answer.choices[0].finish_reason == "stop"
    assert answer.choices[0].logprobs is None
    assert answer.usage is not None and answer.usage.total_tokens == 107
    client.completion(model="m", prompt=("a", "b"), top_p=0.5, stop="\n")
    assert rec.body() == {"model": "m", "prompt": ["a", "b"], "top_p": 0.5, "stop": "\n"}


def test_transcription_example(tmp_path) -> None:
    audio = tmp_path / "meeting_minutes.mp3"
    audio.write_bytes(b"ID3fake-mp3-bytes")
    rec = Recorder(json_response(ref.TRANSCRIPTION))
    result = sync_client(rec).transcribe(audio, language="en", temperature=0, prompt="Agenda")
    request = rec.requests[0]
    assert request.url.path == "/v1/audio/transcriptions"
    ctype = request.headers["content-type"]
    assert ctype.startswith("multipart/form-data; boundary=")
    content = request.content
    assert b'name="file"; filename="meeting_minutes.mp3"' in content
    assert b"Content-Type: audio/mpeg" in content
    assert b"ID3fake-mp3-bytes" in content
    for field, value in (("model", b"whisper-large-v3"), ("language", b"en"),
                         ("temperature", b"0"), ("prompt", b"Agenda")):
        assert f'name="{field}"'.encode() in content and value in content
    assert result.task == "transcribe"
    assert result.language == "en"
    assert result.duration == 12.6
    assert result.text == "Welcome to the quarterly planning meeting. Let's review the agenda."
    first, second = result.segments
    assert (first.id, first.start, first.end) == (0, 0.0, 7.5)
    assert first.text == "Welcome to the quarterly planning meeting."
    assert (first.temperature, first.avg_logprob, first.no_speech_prob) == (0, -0.12, 0.01)
    assert (second.id, second.start, second.end, second.no_speech_prob) == (1, 7.5, 12.6, 0.02)


def test_usage_statistics_example() -> None:
    rec = Recorder(json_response(ref.USAGE_STATISTICS))
    stats = sync_client(rec).usage_statistics(
        start_time="2025-04-08T00:00:00Z",
        end_time=datetime(2025, 5, 9, tzinfo=timezone.utc),
        window_size="hour",
        window_timezone="UTC",
        group_by=["model"],
        filter_group_by={"model": ["cai-llama-3-1-8b-slim"]},
    )
    assert rec.requests[0].url.path == "/v1/usage/completions"
    assert rec.body() == {
        "start_time": "2025-04-08T00:00:00Z",
        "end_time": "2025-05-09T00:00:00Z",
        "window_size": "HOUR",
        "window_timezone": "UTC",
        "group_by": ["model"],
        "filter_group_by": {"model": ["cai-llama-3-1-8b-slim"]},
    }
    assert stats.window_size == "HOUR"
    assert stats.start_time == datetime(2025, 4, 8, tzinfo=timezone.utc)
    assert stats.end_time == datetime(2025, 5, 9, tzinfo=timezone.utc)
    first = stats.data[0]
    assert first.group_by == {"model": "cai-llama-3-1-8b-slim"}
    assert (first.user_id, first.input_token, first.output_token) == ("customer-1", 123, 456)
    assert first.window_start == datetime(2025, 5, 7, 14, tzinfo=timezone.utc)
    assert first.window_end == datetime(2025, 5, 7, 15, tzinfo=timezone.utc)
    assert stats.data[1].window_start == datetime(2025, 5, 7, 15, tzinfo=timezone.utc)
    # The camelCase wire names survive a round trip for servers that emit them.
    assert "windowStart" in first.model_dump(by_alias=True)


@pytest.mark.parametrize("name", ["CHAT_COMPLETION", "CHAT_COMPLETION_IMAGE"])
def test_chat_examples_round_trip(name: str) -> None:
    raw = json.loads(getattr(ref, name))
    parsed = ChatCompletion.model_validate(raw)
    assert json.loads(parsed.model_dump_json(exclude_unset=True)) == raw
