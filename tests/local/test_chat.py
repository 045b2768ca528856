"""Chat completions on the real SmolLM2 model: text, streams, tools, JSON output."""

from __future__ import annotations

import json
import re
import threading
import time
from typing import Any

import httpx
import pytest

from compactifai.types import ChatCompletion

from .support import CHAT_MODEL, TIME_TOOL, WEATHER_TOOL

pytestmark = pytest.mark.local_models

WEATHER_Q = [{"role": "user", "content": "What is the weather in Paris?"}]


def chat(client: httpx.Client, **body: Any) -> dict[str, Any]:
    body.setdefault("model", CHAT_MODEL)
    body.setdefault("temperature", 0)
    resp = client.post("/chat/completions", json=body)
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()
    ChatCompletion.model_validate(data)
    return data


def stream_events(client: httpx.Client, **body: Any) -> list[dict[str, Any]]:
    """The decoded events of a stream; checks the SSE framing and the final [DONE]."""
    body.setdefault("model", CHAT_MODEL)
    body.setdefault("temperature", 0)
    body["stream"] = True
    with client.stream("POST", "/chat/completions", json=body) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        raw = resp.read().decode()
    blocks = raw.split("\n\n")
    assert blocks[-1] == "" and blocks[-2] == "data: [DONE]"
    events = []
    for block in blocks[:-2]:
        assert block.startswith("data: "), block
        events.append(json.loads(block[len("data: ") :]))
    return events


def test_plain_answer(client: httpx.Client) -> None:
    data = chat(
        client,
        messages=[
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "What is the capital of France?"},
        ],
        max_tokens=40,
    )
    assert data["object"] == "chat.completion"
    assert data["id"].startswith("chatcmpl-")
    assert data["model"] == CHAT_MODEL
    choice = data["choices"][0]
    assert choice["index"] == 0 and choice["message"]["role"] == "assistant"
    assert "Paris" in choice["message"]["content"]
    assert choice["finish_reason"] in ("stop", "length")
    usage = data["usage"]
    assert usage["prompt_tokens"] > 5 and usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_temperature_zero_and_seed_repeat_exactly(client: httpx.Client) -> None:
    msgs = [{"role": "user", "content": "Write one sentence about the sea."}]
    first = chat(client, messages=msgs, max_tokens=30)
    again = chat(client, messages=msgs, max_tokens=30)
    assert first["choices"][0]["message"] == again["choices"][0]["message"]
    hot = [chat(client, messages=msgs, max_tokens=30, temperature=1.2, seed=7) for _ in range(2)]
    assert hot[0]["choices"][0]["message"] == hot[1]["choices"][0]["message"]


def test_without_a_seed_sampling_varies(client: httpx.Client) -> None:
    msgs = [{"role": "user", "content": "Write one sentence about the sea."}]
    texts = [
        chat(client, messages=msgs, max_tokens=20, temperature=1.0)["choices"][0]["message"][
            "content"
        ]
        for _ in range(5)
    ]
    assert len(set(texts)) > 1, texts  # all five equal would be a pinned seed
    seeded = {
        chat(client, messages=msgs, max_tokens=20, temperature=1.0, seed=11)["choices"][0][
            "message"
        ]["content"]
        for _ in range(3)
    }
    assert len(seeded) == 1


def test_max_tokens_and_max_completion_tokens(client: httpx.Client) -> None:
    msgs = [{"role": "user", "content": "Tell me a long story about a dragon."}]
    data = chat(client, messages=msgs, max_tokens=5)
    assert data["usage"]["completion_tokens"] == 5
    assert data["choices"][0]["finish_reason"] == "length"
    data = chat(client, messages=msgs, max_tokens=50, max_completion_tokens=3)
    assert data["usage"]["completion_tokens"] == 3


def test_min_tokens_and_ignore_eos_hold_off_the_end(client: httpx.Client) -> None:
    """Today's service's length controls, honoured by holding off the end-of-generation
    token (a logits processor on llama.cpp)."""
    msgs = [{"role": "user", "content": "Hi"}]  # answered in a few tokens, then the end
    short = chat(client, messages=msgs, max_tokens=40, seed=1)
    natural = short["usage"]["completion_tokens"]
    assert short["choices"][0]["finish_reason"] == "stop" and natural < 12, short
    held = chat(client, messages=msgs, max_tokens=40, min_tokens=natural + 6, seed=1)
    assert held["usage"]["completion_tokens"] >= natural + 6
    endless = chat(client, messages=msgs, max_tokens=natural + 8, ignore_eos=True, seed=1)
    assert endless["usage"]["completion_tokens"] == natural + 8
    assert endless["choices"][0]["finish_reason"] == "length"
    assert "<|im_end|>" not in endless["choices"][0]["message"]["content"]


def test_developer_role_is_read_as_system(client: httpx.Client) -> None:
    rules = "You answer in one short sentence."
    ask = {"role": "user", "content": "What is the capital of France?"}
    as_system = chat(client, messages=[{"role": "system", "content": rules}, ask], max_tokens=20)
    as_developer = chat(client, messages=[{"role": "developer", "content": rules}, ask],
                        max_tokens=20)
    assert (as_developer["choices"][0]["message"]["content"]
            == as_system["choices"][0]["message"]["content"])


def test_no_reasoning_and_reasoning_sent_back_is_accepted(client: httpx.Client) -> None:
    """The local model does not reason: "none" and reasoning_enabled=false are accepted and
    the answer carries no reasoning_content (other levels are refused: test_errors.py); an
    assistant turn sent back with its reasoning (a tool loop) is read without it."""
    call = {"id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    messages = [
        *WEATHER_Q,
        {"role": "assistant", "content": "", "tool_calls": [call],
         "reasoning_content": "The user wants the weather: call get_weather."},
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny, 21 C"},
    ]
    data = chat(client, messages=messages, tools=[WEATHER_TOOL], tool_choice="none",
                max_tokens=20, reasoning_effort="none", reasoning_enabled=False)
    message = data["choices"][0]["message"]
    assert "reasoning_content" not in message and message["content"]


def test_stop_sequence(client: httpx.Client) -> None:
    msgs = [{"role": "user", "content": "Count from 1 to 10, separated by commas."}]
    full = chat(client, messages=msgs, max_tokens=40)["choices"][0]["message"]["content"]
    assert "5" in full
    data = chat(client, messages=msgs, max_tokens=40, stop=["5"])
    text = data["choices"][0]["message"]["content"]
    assert "5" not in text and full.startswith(text)
    assert data["choices"][0]["finish_reason"] == "stop"


def test_list_of_text_parts(client: httpx.Client) -> None:
    data = chat(
        client,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is the capital"},
                    {"type": "text", "text": "of France?"},
                ],
            }
        ],
        max_tokens=20,
    )
    assert "Paris" in data["choices"][0]["message"]["content"]


def test_stream_with_usage(client: httpx.Client) -> None:
    msgs = [{"role": "user", "content": "What is the capital of France?"}]
    events = stream_events(
        client, messages=msgs, max_tokens=30, stream_options={"include_usage": True}
    )
    assert events[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all(e["object"] == "chat.completion.chunk" for e in events)
    assert len({e["id"] for e in events}) == 1
    usage_event = events[-1]
    assert usage_event["choices"] == []
    finals = [e for e in events[:-1] if e["choices"][0]["finish_reason"]]
    assert len(finals) == 1 and finals[0] is events[-2]
    assert finals[0]["choices"][0]["finish_reason"] in ("stop", "length")
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events[:-1])
    plain = chat(client, messages=msgs, max_tokens=30)
    assert text == plain["choices"][0]["message"]["content"]
    assert usage_event["usage"] == plain["usage"]


def test_stream_without_usage_has_no_usage_chunk(client: httpx.Client) -> None:
    events = stream_events(client, messages=[{"role": "user", "content": "Hi"}], max_tokens=5)
    assert all(e["choices"] for e in events)
    assert "usage" not in events[-1]
    assert events[-1]["choices"][0]["finish_reason"] == "length"


def _only_call(data: dict[str, Any]) -> dict[str, Any]:
    choice = data["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    assert message["content"] is None
    (call,) = message["tool_calls"]
    assert re.fullmatch(r"call_[0-9a-f]{24}", call["id"])
    assert call["type"] == "function"
    assert not call["function"]["name"].endswith(":")
    json.loads(call["function"]["arguments"])
    return dict(call)


def test_tools_auto_calls_the_matching_tool(client: httpx.Client) -> None:
    data = chat(client, messages=WEATHER_Q, tools=[WEATHER_TOOL, TIME_TOOL], tool_choice="auto")
    call = _only_call(data)
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}


def test_tools_auto_answers_in_text_when_no_tool_fits(client: httpx.Client) -> None:
    data = chat(
        client,
        messages=[{"role": "user", "content": "Write a haiku about autumn leaves."}],
        tools=[WEATHER_TOOL, TIME_TOOL],
        max_tokens=40,
    )
    choice = data["choices"][0]
    assert choice["finish_reason"] in ("stop", "length")
    assert choice["message"]["content"] and not choice["message"].get("tool_calls")


def test_tools_required_forces_a_call(client: httpx.Client) -> None:
    data = chat(
        client,
        messages=[{"role": "user", "content": "Hello there!"}],
        tools=[WEATHER_TOOL, TIME_TOOL],
        tool_choice="required",
    )
    call = _only_call(data)
    assert call["function"]["name"] in ("get_weather", "get_time")
    data = chat(client, messages=WEATHER_Q, tools=[TIME_TOOL, WEATHER_TOOL], tool_choice="required")
    assert _only_call(data)["function"]["name"] == "get_weather"


def test_tools_named_function(client: httpx.Client) -> None:
    data = chat(
        client,
        messages=WEATHER_Q,
        tools=[WEATHER_TOOL, TIME_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )
    call = _only_call(data)
    assert call["function"]["name"] == "get_time"
    assert set(json.loads(call["function"]["arguments"])) == {"timezone"}


def test_tools_none_answers_in_text(client: httpx.Client) -> None:
    data = chat(client, messages=WEATHER_Q, tools=[WEATHER_TOOL], tool_choice="none", max_tokens=30)
    message = data["choices"][0]["message"]
    assert message["content"] and not message.get("tool_calls")


@pytest.mark.parametrize("tool_choice", ["auto", "required"])
def test_streamed_tool_call_sends_id_and_name_once(client: httpx.Client, tool_choice: str) -> None:
    events = stream_events(
        client,
        messages=WEATHER_Q,
        tools=[WEATHER_TOOL, TIME_TOOL],
        tool_choice=tool_choice,
        stream_options={"include_usage": True},
    )
    assert events[0]["choices"][0]["delta"]["role"] == "assistant"
    deltas = [
        d for e in events if e["choices"] for d in e["choices"][0]["delta"].get("tool_calls") or []
    ]
    assert len(deltas) >= 2
    assert deltas[0]["id"].startswith("call_") and deltas[0]["function"]["name"] == "get_weather"
    assert deltas[0]["type"] == "function"
    for later in deltas[1:]:
        assert "id" not in later and "name" not in later["function"] and later["index"] == 0
    arguments = "".join(d["function"].get("arguments") or "" for d in deltas)
    assert json.loads(arguments) == {"city": "Paris"}
    assert events[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert events[-1]["choices"] == [] and events[-1]["usage"]["completion_tokens"] > 0


def test_tool_round_trip_with_null_content(client: httpx.Client) -> None:
    first = chat(client, messages=WEATHER_Q, tools=[WEATHER_TOOL])
    call = _only_call(first)
    messages = [
        *WEATHER_Q,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {
            "role": "tool",
            "tool_call_id": call["id"],
            "content": json.dumps({"temperature_c": 18, "conditions": "sunny"}),
        },
    ]
    data = chat(client, messages=messages, tools=[WEATHER_TOOL], max_tokens=60)
    choice = data["choices"][0]
    assert choice["finish_reason"] in ("stop", "length")
    assert choice["message"]["content"]
    assert not choice["message"].get("tool_calls")
    # The assistant's content may also be "" next to tool calls, and a list of parts.
    messages[1]["content"] = ""
    messages[2]["content"] = [{"type": "text", "text": "18 C and sunny"}]
    chat(client, messages=messages, tools=[WEATHER_TOOL], max_tokens=10)


def test_response_format_json_object(client: httpx.Client) -> None:
    data = chat(
        client,
        messages=[{"role": "user", "content": "Give me a JSON object describing a cat."}],
        response_format={"type": "json_object"},
        max_tokens=120,
    )
    assert isinstance(json.loads(data["choices"][0]["message"]["content"]), dict)


def test_response_format_json_schema(client: httpx.Client) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"],
    }
    data = chat(
        client,
        messages=[{"role": "user", "content": "Describe Paris as JSON."}],
        response_format={"type": "json_schema", "json_schema": {"name": "city", "schema": schema}},
        max_tokens=120,
    )
    parsed = json.loads(data["choices"][0]["message"]["content"])
    assert set(parsed) == {"city", "population"} and isinstance(parsed["population"], int)


def test_models_stay_responsive_during_generation(client: httpx.Client) -> None:
    body = {
        "model": CHAT_MODEL,
        "messages": [{"role": "user", "content": "Tell me a long story about a dragon."}],
        "max_tokens": 250,
        "temperature": 0,
    }
    done = threading.Event()

    def generate() -> None:
        with httpx.Client(base_url=client.base_url, headers=client.headers, timeout=120) as other:
            other.post("/chat/completions", json=body)
        done.set()

    worker = threading.Thread(target=generate)
    worker.start()
    try:
        time.sleep(0.5)
        started = time.perf_counter()
        assert client.get("/models").status_code == 200
        usage = client.post("/usage/completions", json={"start_time": "2020-01-01T00:00:00Z"})
        assert usage.status_code == 200
        assert time.perf_counter() - started < 1.0
        assert not done.is_set(), "the generation ended before the check: make it longer"
    finally:
        worker.join()


def test_client_leaving_a_stream_stops_generation(client: httpx.Client) -> None:
    body = {
        "model": CHAT_MODEL,
        "messages": [{"role": "user", "content": "Tell me a very long story about a dragon."}],
        "max_tokens": 1500,
        "temperature": 0,
        "stream": True,
    }
    with client.stream("POST", "/chat/completions", json=body) as resp:
        seen = 0
        for line in resp.iter_lines():
            seen += bool(line)
            if seen >= 3:
                break
        assert seen >= 3
    started = time.perf_counter()
    chat(client, messages=[{"role": "user", "content": "Hi"}], max_tokens=3)
    assert time.perf_counter() - started < 8.0  # not queued behind 1500 tokens
