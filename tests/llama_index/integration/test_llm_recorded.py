"""CompactifAI against the local server's SmolLM2-135M, replayed from cassettes.

The model is tiny: prompts are simple and the assertions check the integration (shapes, usage,
tool calls parsed, agent loop closed), not the wisdom of the answers.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest
from llama_index.core.agent.workflow import AgentWorkflow, FunctionAgent
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, CompletionResponse
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel

from compactifai import AuthenticationError
from llama_index_compactifai import CompactifAI

QUESTION = [
    ChatMessage(role="system", content="You are a helpful assistant. Answer in one sentence."),
    ChatMessage(role="user", content="What is the capital of France?"),
]


def get_weather(city: str) -> str:
    """Get the current weather of a city."""
    return f"It is sunny and 22 degrees in {city}."


WEATHER = FunctionTool.from_defaults(get_weather)
WEATHER_QUESTION = "What is the weather in Paris?"


class City(BaseModel):
    """A city and the country it is in."""

    name: str
    country: str


def _usage(response: ChatResponse | CompletionResponse) -> None:
    usage = response.additional_kwargs
    assert usage["prompt_tokens"] > 0
    assert usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


# ---------------------------------------------------------------- chat and complete


def test_chat(llm: CompactifAI) -> None:
    response = llm.chat(QUESTION)
    assert "Paris" in (response.message.content or "")
    _usage(response)
    assert response.raw.model == "smollm2-135m-instruct"


async def test_achat(llm: CompactifAI) -> None:
    response = await llm.achat(QUESTION)
    assert "Paris" in (response.message.content or "")
    _usage(response)


def test_stream_chat(llm: CompactifAI) -> None:
    responses = list(llm.stream_chat(QUESTION))
    assert len(responses) > 3
    text = "".join(r.delta or "" for r in responses)
    assert responses[-1].message.content == text
    assert "Paris" in text
    _usage(responses[-1])


async def test_astream_chat(llm: CompactifAI) -> None:
    responses = [r async for r in await llm.astream_chat(QUESTION)]
    text = "".join(r.delta or "" for r in responses)
    assert responses[-1].message.content == text and "Paris" in text
    _usage(responses[-1])


def test_complete(llm: CompactifAI) -> None:
    response = llm.complete("Say hello.")
    assert response.text
    _usage(response)


async def test_acomplete(llm: CompactifAI) -> None:
    response = await llm.acomplete("Say hello.")
    assert response.text
    _usage(response)


def test_stream_complete(llm: CompactifAI) -> None:
    responses = list(llm.stream_complete("Say hello."))
    assert responses[-1].text == "".join(r.delta or "" for r in responses)
    _usage(responses[-1])


async def test_astream_complete(llm: CompactifAI) -> None:
    responses = [r async for r in await llm.astream_complete("Say hello.")]
    assert responses[-1].text == "".join(r.delta or "" for r in responses)
    _usage(responses[-1])


# ---------------------------------------------------------------- the /completions endpoint


@pytest.fixture
def raw_llm(make_llm: Callable[..., CompactifAI]) -> CompactifAI:
    return make_llm(use_completions_endpoint=True, max_tokens=8)


def test_completions_endpoint(raw_llm: CompactifAI) -> None:
    response = raw_llm.complete("The capital of France is")
    assert "Paris" in response.text
    _usage(response)


async def test_acompletions_endpoint(raw_llm: CompactifAI) -> None:
    response = await raw_llm.acomplete("The capital of France is")
    assert "Paris" in response.text
    _usage(response)


def test_stream_completions_endpoint(raw_llm: CompactifAI) -> None:
    responses = list(raw_llm.stream_complete("The capital of France is"))
    assert "Paris" in responses[-1].text
    _usage(responses[-1])


async def test_astream_completions_endpoint(raw_llm: CompactifAI) -> None:
    responses = [r async for r in await raw_llm.astream_complete("The capital of France is")]
    assert "Paris" in responses[-1].text
    _usage(responses[-1])


# ---------------------------------------------------------------- tools


def _assert_weather_call(llm: CompactifAI, response: ChatResponse) -> None:
    (call,) = llm.get_tool_calls_from_response(response)
    assert call.tool_name == "get_weather"
    assert call.tool_kwargs == {"city": "Paris"}
    assert call.tool_id


def test_chat_with_tools(llm: CompactifAI) -> None:
    response = llm.chat_with_tools([WEATHER], user_msg=WEATHER_QUESTION)
    _assert_weather_call(llm, response)
    _usage(response)


async def test_achat_with_tools_required(llm: CompactifAI) -> None:
    response = await llm.achat_with_tools([WEATHER], user_msg=WEATHER_QUESTION,
                                          tool_required=True)
    _assert_weather_call(llm, response)


def test_stream_chat_with_tools(llm: CompactifAI) -> None:
    responses = list(llm.stream_chat_with_tools([WEATHER], user_msg=WEATHER_QUESTION,
                                                tool_required=True))
    for response in responses:  # every chunk parses (partial arguments included)
        llm.get_tool_calls_from_response(response, error_on_no_tool_call=False)
    _assert_weather_call(llm, responses[-1])
    _usage(responses[-1])


async def test_astream_chat_with_tools(llm: CompactifAI) -> None:
    gen = await llm.astream_chat_with_tools([WEATHER], user_msg=WEATHER_QUESTION,
                                            tool_choice="get_weather")
    responses = [r async for r in gen]
    _assert_weather_call(llm, responses[-1])


@pytest.mark.parametrize("streaming", [True, False])
async def test_function_agent_calls_the_tool_and_answers(
    llm: CompactifAI, streaming: bool
) -> None:
    agent = FunctionAgent(
        tools=[get_weather],
        llm=llm,
        streaming=streaming,
        system_prompt="You answer questions about the weather with the get_weather tool.",
        initial_tool_choice="get_weather",  # the 135M model needs the first call forced
    )
    result = await agent.run(WEATHER_QUESTION)
    assert [c.tool_name for c in result.tool_calls] == ["get_weather"]
    assert result.tool_calls[0].tool_kwargs == {"city": "Paris"}
    answer = str(result.response.content)
    assert "sunny" in answer.lower() or "22" in answer


async def test_agent_workflow(llm: CompactifAI) -> None:
    workflow = AgentWorkflow(agents=[FunctionAgent(
        name="weather",
        description="Answers weather questions.",
        tools=[get_weather],
        llm=llm,
        system_prompt="You answer questions about the weather with the get_weather tool.",
        initial_tool_choice="get_weather",
    )])
    result = await workflow.run(WEATHER_QUESTION)
    assert [c.tool_name for c in result.tool_calls] == ["get_weather"]


# ---------------------------------------------------------------- structured output

EXTRACT = PromptTemplate("Extract the city and its country from this text: {text}")


def test_structured_predict(llm: CompactifAI) -> None:
    city = llm.structured_predict(City, EXTRACT, text="Paris is the capital of France.")
    assert city == City(name="Paris", country="France")


async def test_astructured_predict(llm: CompactifAI) -> None:
    city = await llm.astructured_predict(City, EXTRACT, text="Paris is the capital of France.")
    assert city == City(name="Paris", country="France")


def test_as_structured_llm(llm: CompactifAI) -> None:
    response = llm.as_structured_llm(City).chat(
        [ChatMessage(role="user", content="Paris is the capital of France.")]
    )
    assert response.raw == City(name="Paris", country="France")


# ---------------------------------------------------------------- errors


def _counting_client(sent: list[str]) -> httpx.Client:
    """An httpx client that notes every request it sends (recorded or replayed alike)."""
    return httpx.Client(event_hooks={"request": [lambda r: sent.append(r.url.path)]})


def test_a_wrong_key_fails_once_without_retries(make_llm: Callable[..., CompactifAI]) -> None:
    sent: list[str] = []
    llm = make_llm(api_key="wrong-key-000", max_retries=3, http_client=_counting_client(sent))
    with pytest.raises(AuthenticationError):
        llm.chat(QUESTION)
    assert sent == ["/v1/chat/completions"]


def test_a_server_error_is_retried(make_llm: Callable[..., CompactifAI]) -> None:
    sent: list[str] = []
    llm = make_llm(
        max_retries=1,
        default_headers={"X-Fault": "503", "X-Fault-Times": "1",
                         "X-Fault-Id": f"llama-index-retry-{uuid.uuid4()}"},
        http_client=_counting_client(sent),
    )
    llm._sync_client()._pipeline._sleep = lambda _s: None
    response = llm.chat(QUESTION)
    assert "Paris" in (response.message.content or "")
    assert len(sent) == 2
