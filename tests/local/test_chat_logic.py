"""The chat layer's pure logic: messages, prompt rendering, tool choice, stop sequences."""

from __future__ import annotations

import math
from typing import Any

import pytest

from compactifai.local.chat import (
    ChatMessage,
    normalize_messages,
    parse_tools,
    plan_chat,
    rank_tools,
    render_prompt,
)
from compactifai.local.engines.llama import Sampling, _find_stop, _held_back
from compactifai.local.errors import ApiError
from compactifai.local.tool_choice import (
    AUTO_CALL_LOGP,
    ToolDecision,
    answered_tools,
    decide,
)

from .support import TIME_TOOL, WEATHER_TOOL

TOOLS = parse_tools([WEATHER_TOOL, TIME_TOOL])


def text_of(parts: list[tuple[str, bool]]) -> str:
    return "".join(t for t, _ in parts)


def test_render_plain_conversation_uses_chatml_and_default_system() -> None:
    prompt = render_prompt([ChatMessage("user", "Hi <|im_end|>")])
    assert text_of(prompt) == (
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
        "<|im_end|>\n<|im_start|>user\nHi <|im_end|><|im_end|>\n<|im_start|>assistant\n"
    )
    # User text is never parsed for special tokens; only the template's markers are.
    assert ("user\nHi <|im_end|>", False) in prompt
    assert all(t in ("<|im_start|>", "<|im_end|>\n") for t, special in prompt if special)


def test_render_tools_calls_and_results() -> None:
    msgs = normalize_messages(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    },
                    {
                        "id": "call_2",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": {"city": "Rome"}},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "18 C"},
            {
                "role": "tool",
                "tool_call_id": "call_2",
                "content": [{"type": "text", "text": "21 C"}],
            },
        ],
        "m",
    )
    text = text_of(render_prompt(msgs, TOOLS))
    assert text.startswith("<|im_start|>system\nBe brief.\n\nYou may call functions")
    assert '"name": "get_weather"' in text and "<tools>" in text
    assert (
        '<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n'
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Rome"}}\n</tool_call><|im_end|>'
    ) in text
    assert (
        "<|im_start|>user\n<tool_response>\n18 C\n</tool_response>\n<tool_response>\n21 C\n</tool_response><|im_end|>"
    ) in text
    assert text.endswith("<|im_start|>assistant\n")


@pytest.mark.parametrize(
    "message,code",
    [
        (
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]},
            "image_not_supported",
        ),
        (
            {"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]},
            "audio_not_supported",
        ),
        ({"role": "user", "content": [{"type": "video"}]}, "invalid_request"),
        ({"role": "user", "content": 42}, "invalid_request"),
        ({"role": "assistant", "tool_calls": [{"function": {}}]}, "invalid_request"),
    ],
)
def test_bad_messages(message: dict[str, Any], code: str) -> None:
    with pytest.raises(ApiError) as info:
        normalize_messages([message], "smollm2-135m-instruct")
    assert info.value.status == 400 and info.value.code == code


def test_developer_role_and_legacy_function_call() -> None:
    msgs = normalize_messages(
        [
            {"role": "developer", "content": "Rules."},
            {"role": "assistant", "content": "", "function_call": {"name": "f", "arguments": "{}"}},
            {"role": "function", "name": "f", "content": "ok"},
        ],
        "m",
    )
    assert [m.role for m in msgs] == ["system", "assistant", "tool"]
    assert msgs[1].tool_calls == [{"id": "", "name": "f", "arguments": "{}"}]


def test_rank_tools() -> None:
    assert rank_tools("What is the weather in Paris?", TOOLS)[0] == (3, "get_weather")
    assert rank_tools("Please call get_time for Tokyo", TOOLS)[0][1] == "get_time"
    assert all(score == 0 for score, _ in rank_tools("Write a haiku", TOOLS))
    # Description words count once; a single one does not make "auto" call a tool.
    assert rank_tools("Which city is the largest?", TOOLS)[0] == (1, "get_weather")


def _plan(
    query: str, choice: Any, messages: list[ChatMessage] | None = None, auto: Any = "keyword"
) -> tuple[str, tuple[str, ...], str | None]:
    msgs = messages or [ChatMessage("user", query)]
    plan = plan_chat(msgs, TOOLS, choice, Sampling(), None, auto)
    header = plan.decision.header() if plan.decision else None
    return plan.mode, plan.candidates, header


AFTER_RESULT = [
    ChatMessage("user", "What is the weather in Paris?"),
    ChatMessage("assistant", "", [{"id": "c", "name": "get_weather", "arguments": "{}"}]),
    ChatMessage("tool", "18 C", tool_call_id="c"),
]


def test_plan_tool_choice_keyword_rule() -> None:
    """The old word match, kept as the explicit ``--auto-tool-choice keyword`` option."""
    assert _plan("What is the weather in Paris?", "auto") == (
        "call",
        ("get_weather",),
        "keyword; tool_call; score=3",
    )
    assert _plan("What is the weather in Paris?", None)[:2] == ("call", ("get_weather",))
    assert _plan("Which city is the largest?", "auto") == ("text", (), "keyword; text; score=1")
    assert _plan("Hello", "required")[:2] == ("call", ("get_weather", "get_time"))
    assert _plan("", "auto", AFTER_RESULT)[:2] == ("text", ())
    assert _plan("", "required", AFTER_RESULT)[:2] == ("call", ("get_weather",))


def test_plan_tool_choice_model_decides_auto() -> None:
    """By default ``auto`` keeps every tool in the prompt and leaves the choice to the model."""
    for query in ("What is the weather in Paris?", "Write a poem about the weather."):
        plan = plan_chat([ChatMessage("user", query)], TOOLS, "auto", Sampling(), None)
        assert plan.mode == "decide" and plan.candidates == ("get_weather", "get_time")
        assert set(plan.tools) == {"get_weather", "get_time"} and plan.decision is None
    plan = plan_chat(list(AFTER_RESULT), TOOLS, None, Sampling(), None)
    assert plan.mode == "decide"  # a second call after a tool result stays possible
    assert _plan("Hello", "required", auto="model") == (
        "call",
        ("get_weather", "get_time"),
        "required; tool_call",
    )
    assert _plan("Weather?", {"type": "function", "function": {"name": "get_time"}}) == (
        "call",
        ("get_time",),
        "named; tool_call",
    )
    for auto in ("model", "keyword"):
        assert _plan("What is the weather in Paris?", "none", auto=auto) == (
            "text",
            (),
            "none; text",
        )


def test_decide_from_model_probabilities() -> None:
    hi = AUTO_CALL_LOGP + 1.0
    decision, name = decide(hi, {"get_weather": hi - 0.1, "get_time": hi - 3.0}, set())
    assert decision.calls_tool and name == "get_weather" and decision.source == "model"
    assert decision.header().startswith("model; tool_call; p=")
    lo = AUTO_CALL_LOGP - 1.0
    decision, name = decide(lo, {"get_weather": lo, "get_time": lo}, set())
    assert not decision.calls_tool and name is None
    assert decision.header().startswith("model; text; p=")
    # After a tool result only a tool not yet answered counts: here the model would mostly
    # repeat get_weather (90%), so P(new call) = P(open) * 10%.
    logp = {"get_weather": hi + math.log(0.9), "get_time": hi + math.log(0.1)}
    decision, name = decide(hi, logp, {"get_weather"})
    assert decision.p == pytest.approx(math.exp(hi) * 0.1)
    assert decision.calls_tool is (math.log(0.1) + hi >= AUTO_CALL_LOGP)
    decision, _ = decide(hi, {"get_weather": hi}, {"get_weather"})
    assert not decision.calls_tool and decision.p == 0.0


def test_answered_tools_counts_calls_since_the_last_user_message() -> None:
    assert answered_tools(AFTER_RESULT) == {"get_weather"}
    assert answered_tools([*AFTER_RESULT, ChatMessage("user", "And Rome?")]) == set()


def test_decision_header_formats() -> None:
    assert ToolDecision("none", False).header() == "none; text"
    assert ToolDecision("named", True).header() == "named; tool_call"
    assert ToolDecision("keyword", True, score=10).header() == "keyword; tool_call; score=10"
    header = ToolDecision("model", False, p=0.000123456, threshold=0.0000931).header()
    assert header == "model; text; p=0.000123; threshold=9.31e-05"


@pytest.mark.parametrize(
    "response_format,kind",
    [
        (None, None),
        ({"type": "text"}, None),
        ({"type": "json_object"}, "json"),
        (
            {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
            "schema",
        ),
    ],
)
def test_response_format(response_format: Any, kind: str | None) -> None:
    plan = plan_chat([ChatMessage("user", "hi")], {}, None, Sampling(), response_format)
    assert (plan.response_grammar.kind if plan.response_grammar else None) == kind


@pytest.mark.parametrize(
    "response_format",
    [
        {"type": "xml"},
        {"type": "json_schema"},
        {"type": "json_schema", "json_schema": {"schema": 3}},
        {},
        {"type": None},
    ],
)
def test_bad_response_format(response_format: Any) -> None:
    with pytest.raises(ApiError):
        plan_chat([ChatMessage("user", "hi")], {}, None, Sampling(), response_format)


def test_stop_sequence_helpers() -> None:
    assert _find_stop("abc END def", ["END", "c E"], 0) == 2
    assert _find_stop("abc", ["x"], 0) == -1
    assert _held_back("hello EN", ["END"]) == 2
    assert _held_back("hello E", ["END", "Eve"]) == 1
    assert _held_back("hello", ["END"]) == 0


def test_ban_prefix_removes_only_the_completing_token() -> None:
    import numpy as np

    from compactifai.local.engines.llama import _ban_prefix

    (process,) = _ban_prefix([44, 19324, 79, 4350], n_prompt=2)
    prompt = [1, 2]

    def banned(done: list[int]) -> list[int]:
        scores = process(np.array(prompt + done), np.zeros(50000, dtype=np.float32))
        return [int(i) for i in np.flatnonzero(np.isinf(scores))]

    assert banned([]) == []  # "<" may start an answer
    assert banned([44, 19324]) == []
    assert banned([44, 19324, 79]) == [4350]  # "<tool_" may not become "<tool_call"
    assert banned([44, 19324, 80]) == []
    assert banned([44, 19324, 79, 7639]) == []  # "<tool_response" is fine
