"""Template markup never reaches a text answer, whole or streamed (tags split over tokens)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from compactifai.local.markup import TAGS, MarkupFilter, strip_markup

from .support import CHAT_MODEL

MARKERS = ("<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>", "<|im_")


@pytest.mark.parametrize(
    "raw,clean",
    [
        ("<tool_response>\nThe weather in Paris is sunny ...", "The weather in Paris is sunny ..."),
        ("Sunny.</tool_response>", "Sunny."),
        ("<tool_call>\n{}\n</tool_call>", "{}\n"),
        ("<|im_start|>assistant\nHi<|im_end|>", "Hi"),
        ("<|im_start|>Hello", "Hello"),
        ("a < b and <b>bold</b> <tool", "a < b and <b>bold</b> <tool"),
        ("x <|im_end|>\n", "x "),
    ],
)
def test_strip_markup(raw: str, clean: str) -> None:
    assert strip_markup(raw) == clean


def _split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({min(c, len(text)) for c in cuts})
    pieces, last = [], 0
    for p in points:
        pieces.append(text[last:p])
        last = p
    pieces.append(text[last:])
    return pieces


def _stream(pieces: list[str]) -> str:
    filt = MarkupFilter()
    return "".join(filt.feed(p) for p in pieces) + filt.flush()


_ALPHABET = st.sampled_from(
    [*TAGS, "<|im_start|>", "user", "assistant", "\n", "<", ">", "|", "tool", "_", "a", " ", "é"]
)


@given(st.lists(_ALPHABET, max_size=30), st.lists(st.integers(0, 400), max_size=12))
def test_stream_filter_equals_whole_text(parts: list[str], cuts: list[int]) -> None:
    text = "".join(parts)
    assert _stream(_split(text, cuts)) == strip_markup(text)
    assert _stream(list(text)) == strip_markup(text)  # one character per piece


def test_stream_filter_holds_back_a_split_tag() -> None:
    filt = MarkupFilter()
    assert filt.feed("The answer <tool") == "The answer "
    assert filt.feed("_resp") == ""
    assert filt.feed("onse>") == ""
    assert filt.feed("\nis 42") == "is 42"
    assert filt.feed(" <b") == " <b"
    assert filt.flush() == ""


# ---------------------------------------------------------------- the demo's agent answer

DEMO_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "get_weather(city: 'str') -> 'str'\nGet the current weather of a city.",
        "parameters": {
            "properties": {"city": {"title": "City", "type": "string"}},
            "required": ["city"],
            "type": "object",
        },
    },
}
#: What scripts/demo.py's LlamaIndex FunctionAgent sends after its tool call; SmolLM2 used to
#: answer it with "<tool_response>\nThe weather in Paris is sunny ...".
DEMO_MESSAGES = [
    {
        "role": "system",
        "content": "You answer questions about the weather with the get_weather tool.",
    },
    {"role": "user", "content": "What is the weather in Paris?"},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "It is sunny and 22 degrees in Paris."},
]


@pytest.mark.local_models
def test_demo_agent_answer_has_no_markup(client: httpx.Client) -> None:
    body: dict[str, Any] = {
        "model": CHAT_MODEL,
        "messages": DEMO_MESSAGES,
        "tools": [DEMO_TOOL],
        "temperature": 0,
        "max_tokens": 64,
    }
    resp = client.post("/chat/completions", json=body)
    assert resp.status_code == 200, resp.text
    message = resp.json()["choices"][0]["message"]
    content = message["content"]
    assert content and not message.get("tool_calls")
    assert not any(marker in content for marker in MARKERS), content
    assert "sunny" in content.lower()
    # The only tool has answered already: the model is not asked to repeat it.
    assert resp.headers["x-compactifai-tool-decision"].startswith("model; text; p=0;")
    with client.stream("POST", "/chat/completions", json={**body, "stream": True}) as stream:
        lines = [line for line in stream.iter_lines() if line.startswith("data: {")]
    deltas = [json.loads(line[6:])["choices"][0]["delta"].get("content") or "" for line in lines]
    assert "".join(deltas) == content
    assert not any(marker in d for d in deltas for marker in MARKERS)


@pytest.mark.local_models
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # llama-index's pydantic models
def test_the_demo_agent_itself(
    local_server: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """scripts/demo.py step 3, as a user runs it: the model calls the tool, then answers."""
    pytest.importorskip("llama_index.core")
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "scripts" / "demo.py"
    spec = importlib.util.spec_from_file_location("demo_script", path)
    assert spec is not None and spec.loader is not None
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    monkeypatch.setenv("COMPACTIFAI_BASE_URL", local_server.base_url)
    monkeypatch.setenv("COMPACTIFAI_API_KEY", local_server.api_key)
    demo.llama_index_agent(CHAT_MODEL)
    out = capsys.readouterr().out
    assert "tool call: get_weather({'city': 'Paris'})" in out
    answer = out.split("answer:", 1)[1]
    assert "sunny" in answer.lower()
    assert not any(marker in answer for marker in MARKERS), answer
