"""Beyond the standard suite, against the local server (recorded, replayed offline).

The local server serves SmolLM2-135M-Instruct as ``smollm2-135m-instruct``: it calls functions
(through a grammar) but takes no images.
"""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from langchain_compactifai import (
    ChatCompactifAI,
    CompactifAI,
    ModelCapabilityError,
    get_compactifai_model_profile,
    list_compactifai_models,
)

MODEL = "smollm2-135m-instruct"


def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return "sunny"


def test_list_models_and_profile() -> None:
    models = {m.id: m for m in list_compactifai_models().data}
    assert models[MODEL].capabilities.supports_function_calling is True
    assert models[MODEL].capabilities.supports_image is False
    profile = get_compactifai_model_profile(MODEL)
    assert profile.source == "api"
    assert profile.supports_image is False


def test_image_refused_before_the_chat_request(cassette: object) -> None:
    llm = ChatCompactifAI(model=MODEL, temperature=0)
    message = HumanMessage(
        [{"type": "text", "text": "What is this?"},
         {"type": "image", "url": "https://example.com/cat.png"}]
    )
    with pytest.raises(ModelCapabilityError, match="does not take image input"):
        llm.invoke([message])
    paths = [r.path for r in cassette.requests]  # type: ignore[attr-defined]
    assert paths == ["/v1/models"]


def test_streamed_tool_call_aggregates() -> None:
    llm = ChatCompactifAI(model=MODEL, temperature=0, max_tokens=60)
    bound = llm.bind_tools([get_weather], tool_choice="get_weather")
    full = None
    chunks = list(bound.stream("What is the weather in Paris?"))
    for c in chunks:
        full = c if full is None else full + c
    assert isinstance(full, AIMessage)
    assert [c["name"] for c in full.tool_calls] == ["get_weather"]
    assert isinstance(full.tool_calls[0]["args"].get("city"), str)
    assert full.tool_calls[0]["id"]
    assert chunks[-1].chunk_position == "last"
    assert full.usage_metadata is not None
    assert full.response_metadata["finish_reason"] == "tool_calls"


def test_tool_round_trip_with_auto_choice() -> None:
    llm = ChatCompactifAI(model=MODEL, temperature=0, max_tokens=60).bind_tools([get_weather])
    question = HumanMessage("What is the weather in Paris?")
    ai = llm.invoke([question])
    assert isinstance(ai, AIMessage)
    assert ai.tool_calls and ai.tool_calls[0]["name"] == "get_weather"
    from langchain_core.messages import ToolMessage

    answer = llm.invoke(
        [question, ai, ToolMessage("sunny, 24 C", tool_call_id=ai.tool_calls[0]["id"])]
    )
    assert isinstance(answer, AIMessage)
    assert answer.text


async def test_astream_usage_exactly_once() -> None:
    llm = ChatCompactifAI(model=MODEL, temperature=0, max_tokens=20)
    chunks = [c async for c in llm.astream("Say hello.")]
    assert sum(1 for c in chunks if c.usage_metadata) == 1
    assert chunks[-1].chunk_position == "last"


def test_llm_batch_is_one_request(cassette: object) -> None:
    llm = CompactifAI(model=MODEL, temperature=0, max_tokens=8)
    result = llm.generate(["The capital of France is", "The capital of Spain is"])
    assert len(result.generations) == 2
    assert all(g[0].text for g in result.generations)
    assert result.llm_output is not None
    assert result.llm_output["token_usage"]["total_tokens"] > 0
    assert result.generations[0][0].generation_info is not None
    assert "finish_reason" in result.generations[0][0].generation_info
    completions = [r for r in cassette.requests if r.path == "/v1/completions"]  # type: ignore[attr-defined]
    assert len(completions) == 1


def test_llm_stream() -> None:
    llm = CompactifAI(model=MODEL, temperature=0, max_tokens=12)
    text = "".join(llm.stream("Once upon a time"))
    assert text
