"""The transport against recorded answers of a real server (the local server's real models).

Replayed from ``tests/cassettes/transport/``; re-record with ``scripts/record_cassettes.py``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from compactifai import AsyncCompactifAIClient, CompactifAIClient, NotFoundError
from compactifai.types import TranscriptionText

pytestmark = pytest.mark.usefixtures("cassette")

CHAT_MODEL = "smollm2-135m-instruct"
SPEECH = Path(__file__).parent.parent / "fixtures" / "speech.wav"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "The city name"}},
            "required": ["city"],
        },
    },
}
QUESTION = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]


@pytest.fixture
def client() -> CompactifAIClient:
    return CompactifAIClient(max_retries=0)


def test_models(client: CompactifAIClient) -> None:
    models = client.list_models()
    ids = [m.id for m in models.data]
    assert CHAT_MODEL in ids
    chat = client.retrieve_model(CHAT_MODEL)
    assert chat.capabilities.supports_function_calling is True
    assert chat.capabilities.supports_image is False
    assert chat.parameters_number
    # today's service's model fields (issue 12 §6): the local server sends them too
    assert chat.capabilities.support_chat_completion is True
    assert chat.capabilities.supports_responses is False
    assert chat.parameter_count == 135_000_000  # "135M"
    with pytest.raises(NotFoundError) as missing:
        client.retrieve_model("no-such-model")
    assert isinstance(missing.value.body, dict) and set(missing.value.body) == {"detail"}


def test_chat_completion(client: CompactifAIClient) -> None:
    answer = client.chat_completion(model=CHAT_MODEL, messages=QUESTION, temperature=0,
                                    max_tokens=20)
    assert "paris" in (answer.choices[0].message.content or "").lower()
    assert answer.choices[0].finish_reason in ("stop", "length")
    assert answer.usage is not None and answer.usage.completion_tokens > 0
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens


def test_chat_stream_with_usage(client: CompactifAIClient) -> None:
    chunks = list(client.chat_completion_stream(model=CHAT_MODEL, messages=QUESTION,
                                                temperature=0, max_tokens=20))
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert "paris" in text.lower()
    usage = [c["usage"] for c in chunks if c.get("usage")]
    assert len(usage) == 1 and usage[0]["completion_tokens"] > 0
    finishes = [c["choices"][0].get("finish_reason") for c in chunks if c["choices"]]
    assert finishes[-1] in ("stop", "length")


def test_chat_tool_call(client: CompactifAIClient) -> None:
    answer = client.chat_completion(
        model=CHAT_MODEL,
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=[WEATHER_TOOL],
        tool_choice="required",
        temperature=0,
    )
    call = (answer.choices[0].message.tool_calls or [])[0]
    assert call.function.name == "get_weather"
    assert call.id
    assert answer.choices[0].finish_reason == "tool_calls"


def test_completion_prompt_list(client: CompactifAIClient) -> None:
    answer = client.completion(model=CHAT_MODEL, prompt=["The sky is", "Water is"],
                               temperature=0, max_tokens=8)
    assert [c.index for c in answer.choices] == [0, 1]
    assert all(c.text for c in answer.choices)


def test_completion_stream(client: CompactifAIClient) -> None:
    chunks = list(client.completion_stream(model=CHAT_MODEL, prompt="Once upon a time",
                                           temperature=0, max_tokens=10))
    assert "".join(c["choices"][0]["text"] for c in chunks if c["choices"])


def test_transcription(client: CompactifAIClient) -> None:
    result = client.transcribe(SPEECH, model="whisper-base", language="en", temperature=0)
    assert "quarterly planning meeting" in result.text.lower()
    assert result.duration and result.duration > 3
    starts = [s.start for s in result.segments]
    assert starts == sorted(starts)
    assert all(0 <= s.start < s.end <= result.duration + 0.5 for s in result.segments)


def test_transcription_formats_stream_and_detected_language(client: CompactifAIClient) -> None:
    detected = client.transcribe(SPEECH, model="whisper-base", temperature=0,
                                 response_format="verbose_json")
    assert detected.language == "en"  # none was sent: the server detected it
    # (text and vtt: tests/local/test_transcriptions.py; one text format here keeps it small)
    subtitles = client.transcribe(SPEECH, model="whisper-base", temperature=0,
                                  response_format="srt")
    assert isinstance(subtitles, TranscriptionText) and subtitles.format == "srt"
    cues = subtitles.segments()
    assert [c.start for c in cues] == pytest.approx([s.start for s in detected.segments])
    assert [c.end for c in cues] == pytest.approx([s.end for s in detected.segments])
    assert "agenda" in subtitles.text.lower()
    with client.transcribe_stream(SPEECH, model="whisper-base", temperature=0) as stream:
        events = list(stream)
    assert events[-1]["type"] == "transcript.text.done"
    assert "".join(e["delta"] for e in events[:-1]) == events[-1]["text"]


def test_usage_statistics(client: CompactifAIClient) -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    stats = client.usage_statistics(start_time=now - timedelta(days=3650),
                                     end_time=now + timedelta(days=3650),
                                     window_size="DAY", group_by=["model"])
    assert stats.window_size == "DAY"
    for window in stats.data:
        assert window.window_end > window.window_start


async def test_async_chat_and_stream() -> None:
    client = AsyncCompactifAIClient(max_retries=0)
    answer = await client.chat_completion(model=CHAT_MODEL, messages=QUESTION, temperature=0,
                                          max_tokens=20)
    assert "paris" in (answer.choices[0].message.content or "").lower()
    text = ""
    async for chunk in client.chat_completion_stream(model=CHAT_MODEL, messages=QUESTION,
                                                     temperature=0, max_tokens=20):
        if chunk["choices"]:
            text += chunk["choices"][0]["delta"].get("content") or ""
    assert "paris" in text.lower()
    await client.aclose()

