"""Tool calling: tool specs, tool_choice, streamed tool-call assembly, agents, structured output."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from llama_index.core.agent.workflow import AgentWorkflow, FunctionAgent
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    TextBlock,
    ToolCallBlock,
)
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel

from tests.helpers import Recorder, json_response, sse, sse_response
from tests.llama_index.unit.support import (
    USAGE,
    chunk,
    completion,
    make_llm,
    text_chunks,
    tool_delta,
)


def get_weather(city: str) -> str:
    """Current weather of a city."""
    return f"Sunny in {city}"


def get_time() -> str:
    """The current time (no arguments)."""
    return "12:00"


WEATHER = FunctionTool.from_defaults(get_weather)
TIME = FunctionTool.from_defaults(get_time)


def _call(name: str, arguments: str, id: str = "call_1") -> dict[str, Any]:
    return {"id": id, "type": "function", "function": {"name": name, "arguments": arguments}}


# ---------------------------------------------------------------- request side


def test_tools_are_sent_without_strict_and_with_auto_tool_choice_by_default() -> None:
    rec = Recorder(json_response(completion("ok")))
    make_llm(rec).chat_with_tools([WEATHER], user_msg="Weather in Paris?")
    body = rec.body()
    assert body["tool_choice"] == "auto"  # said explicitly: some servers ignore tools otherwise
    assert "parallel_tool_calls" not in body
    (tool,) = body["tools"]
    assert tool["type"] == "function"
    assert tool["function"]["name"] == "get_weather"
    assert tool["function"]["parameters"]["properties"]["city"]["type"] == "string"
    assert "strict" not in json.dumps(body)
    assert "additionalProperties" not in json.dumps(body)


def test_a_stream_with_tools_sends_no_implicit_auto() -> None:
    # The API's default is "auto" anyway; llama-cpp-python answers a streamed "auto" with a 500.
    rec = Recorder(lambda _request: sse_response(sse(*text_chunks("ok"))))
    llm = make_llm(rec)
    list(llm.stream_chat_with_tools([WEATHER], user_msg="Weather in Paris?"))
    assert "tool_choice" not in rec.body() and rec.body()["tools"]
    list(llm.stream_chat_with_tools([WEATHER], user_msg="x", tool_required=True))
    assert rec.body()["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}


def test_strict_is_sent_only_when_asked() -> None:
    rec = Recorder(json_response(completion("ok")))
    llm = make_llm(rec)
    llm.chat_with_tools([WEATHER], user_msg="x", strict=True)
    fn = rec.body()["tools"][0]["function"]
    assert fn["strict"] is True
    assert fn["parameters"]["additionalProperties"] is False
    make_llm(rec, strict=True).chat_with_tools([WEATHER], user_msg="x")
    assert rec.body()["tools"][0]["function"]["strict"] is True


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        # "required" with exactly one tool: that tool by name (same meaning, more servers)
        ({"tool_required": True}, {"type": "function", "function": {"name": "get_weather"}}),
        ({"tool_choice": "required"}, {"type": "function", "function": {"name": "get_weather"}}),
        ({"tool_choice": "none"}, "none"),
        ({"tool_choice": "auto", "tool_required": True}, "auto"),
        ({"tool_choice": "get_weather"}, {"type": "function", "function": {"name": "get_weather"}}),
        ({"tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
         {"type": "function", "function": {"name": "get_weather"}}),
    ],
)
def test_tool_choice(kwargs: dict[str, Any], expected: Any) -> None:
    rec = Recorder(json_response(completion("ok")))
    make_llm(rec).chat_with_tools([WEATHER], user_msg="x", **kwargs)
    assert rec.body()["tool_choice"] == expected


def test_prepare_does_not_mutate_the_callers_history() -> None:
    history = [ChatMessage(role="user", content="first")]
    prepared = make_llm(Recorder())._prepare_chat_with_tools(
        [WEATHER], user_msg="second", chat_history=history
    )
    assert len(history) == 1
    assert [m.content for m in prepared["messages"]] == ["first", "second"]


def test_no_tools_sends_no_tool_fields() -> None:
    rec = Recorder(json_response(completion("ok")))
    make_llm(rec).chat_with_tools([], user_msg="x", tool_required=True)
    assert "tools" not in rec.body() and "tool_choice" not in rec.body()


def test_assistant_tool_calls_and_tool_results_go_out_in_openai_shape() -> None:
    rec = Recorder(json_response(completion("It is sunny.")))
    history = [
        ChatMessage(role="user", content="Weather in Paris?"),
        ChatMessage(role="assistant", blocks=[
            ToolCallBlock(tool_call_id="call_1", tool_name="get_weather",
                          tool_kwargs={"city": "Paris"}),
            ToolCallBlock(tool_call_id="call_2", tool_name="get_time", tool_kwargs={}),
        ]),
        ChatMessage(role="tool", content="Sunny in Paris",
                    additional_kwargs={"tool_call_id": "call_1"}),
        ChatMessage(role="tool", blocks=[TextBlock(text="12:00")],
                    additional_kwargs={"tool_call_id": "call_2"}),
    ]
    make_llm(rec).chat(history)
    messages = rec.body()["messages"]
    assert messages[1] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {"type": "function", "id": "call_1",
             "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
            {"type": "function", "id": "call_2",
             "function": {"name": "get_time", "arguments": "{}"}},
        ],
    }
    assert messages[2] == {"role": "tool", "content": "Sunny in Paris", "tool_call_id": "call_1"}
    assert messages[3] == {"role": "tool", "content": "12:00", "tool_call_id": "call_2"}


def test_legacy_tool_calls_in_additional_kwargs_are_sent() -> None:
    rec = Recorder(json_response(completion("ok")))
    legacy_object = SimpleNamespace(
        model_dump=lambda: _call("get_time", "", id="call_9")
    )
    history = [
        ChatMessage(role="user", content="x"),
        ChatMessage(role="assistant", content=None,
                    additional_kwargs={"tool_calls": [_call("get_weather", '{"city":"Rome"}'),
                                                      legacy_object]}),
    ]
    make_llm(rec).chat(history)
    sent = rec.body()["messages"][1]
    assert sent["content"] == ""
    assert [c["function"]["name"] for c in sent["tool_calls"]] == ["get_weather", "get_time"]
    assert sent["tool_calls"][1]["function"]["arguments"] == "{}"


# ---------------------------------------------------------------- response side


def test_tool_calls_come_back_as_blocks_and_additional_kwargs() -> None:
    answer = completion(None, tool_calls=[_call("get_weather", '{"city": "Paris"}')])
    rec = Recorder(json_response(answer))
    llm = make_llm(rec)
    response = llm.chat_with_tools([WEATHER], user_msg="Weather in Paris?")
    blocks = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
    assert blocks[0].tool_kwargs == {"city": "Paris"}
    assert response.message.additional_kwargs["tool_calls"][0]["id"] == "call_1"
    (selection,) = llm.get_tool_calls_from_response(response)
    assert (selection.tool_id, selection.tool_name, selection.tool_kwargs) == (
        "call_1", "get_weather", {"city": "Paris"}
    )
    assert response.additional_kwargs == {
        "prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10
    }


@pytest.mark.parametrize("arguments", ["", None, "{}"])
def test_tool_without_arguments(arguments: str | None) -> None:
    call = {"id": "call_1", "type": "function",
            "function": {"name": "get_time", "arguments": arguments}}
    rec = Recorder(json_response(completion(None, tool_calls=[call])))
    llm = make_llm(rec)
    (selection,) = llm.get_tool_calls_from_response(llm.chat_with_tools([TIME], user_msg="t?"))
    assert (selection.tool_name, selection.tool_kwargs) == ("get_time", {})


def test_no_tool_call_error_semantics() -> None:
    rec = Recorder(json_response(completion("no tools needed")))
    llm = make_llm(rec)
    response = llm.chat_with_tools([WEATHER], user_msg="hi")
    with pytest.raises(ValueError, match="Expected at least one tool call"):
        llm.get_tool_calls_from_response(response)
    assert llm.get_tool_calls_from_response(response, error_on_no_tool_call=False) == []


def test_tool_calls_read_from_additional_kwargs_only() -> None:
    llm = make_llm(Recorder())
    message = ChatMessage(role="assistant", content="", additional_kwargs={"tool_calls": [
        _call("get_weather", '{"city": "Oslo"}'),
        SimpleNamespace(id="call_2", type="function",
                        function=SimpleNamespace(name="get_time", arguments=None)),
    ]})
    selections = llm.get_tool_calls_from_response(ChatResponse(message=message))
    assert [(s.tool_id, s.tool_name, s.tool_kwargs) for s in selections] == [
        ("call_1", "get_weather", {"city": "Oslo"}), ("call_2", "get_time", {})
    ]


def test_only_the_first_call_is_kept_unless_parallel_calls_are_allowed() -> None:
    calls = [_call("get_weather", '{"city": "Paris"}'),
             _call("get_weather", '{"city": "Rome"}', id="call_2")]
    rec = Recorder(json_response(completion(None, tool_calls=calls)))
    llm = make_llm(rec)
    single = llm.chat_with_tools([WEATHER], user_msg="x")
    assert len(llm.get_tool_calls_from_response(single)) == 1
    assert len(single.message.additional_kwargs["tool_calls"]) == 1
    both = llm.chat_with_tools([WEATHER], user_msg="x", allow_parallel_tool_calls=True)
    assert [s.tool_kwargs["city"] for s in llm.get_tool_calls_from_response(both)] == [
        "Paris", "Rome"
    ]


async def test_achat_with_tools() -> None:
    rec = Recorder(json_response(completion(None, tool_calls=[_call("get_weather",
                                                                    '{"city":"Paris"}')])))
    llm = make_llm(rec)
    response = await llm.achat_with_tools([WEATHER, TIME], user_msg="x", tool_required=True)
    assert llm.get_tool_calls_from_response(response)[0].tool_kwargs == {"city": "Paris"}
    assert rec.body()["tool_choice"] == "required"  # two tools: "required" stays


async def test_achat_with_one_tool_required_names_it() -> None:
    rec = Recorder(json_response(completion(None, tool_calls=[_call("get_weather",
                                                                    '{"city":"Paris"}')])))
    await make_llm(rec).achat_with_tools([WEATHER], user_msg="x", tool_required=True)
    assert rec.body()["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}


# ---------------------------------------------------------------- streamed tool calls


def _stream_selections(chunks: list[dict[str, Any]]) -> list[list[tuple[str, str, Any]]]:
    """The tool selections seen after every chunk of a streamed answer."""
    llm = make_llm(Recorder(sse_response(sse(*chunks))))
    seen = []
    for response in llm.stream_chat_with_tools([WEATHER, TIME], user_msg="x",
                                               allow_parallel_tool_calls=True):
        selections = llm.get_tool_calls_from_response(response, error_on_no_tool_call=False)
        seen.append([(s.tool_id, s.tool_name, s.tool_kwargs) for s in selections])
    return seen


def test_streamed_tool_call_with_id_and_name_once() -> None:
    seen = _stream_selections([
        tool_delta(0, id="call_1", name="get_weather", arguments=""),
        tool_delta(0, arguments='{"ci'),
        tool_delta(0, arguments='ty": "Pa'),
        tool_delta(0, arguments='ris"}'),
        chunk(usage=USAGE),
    ])
    assert seen[0] == [("call_1", "get_weather", {})]
    assert seen[1] == [("call_1", "get_weather", {})]  # a partial key is not a key yet
    # parse_partial_json keeps keys whose value is still arriving, without the partial value
    assert seen[2] == [("call_1", "get_weather", {"city": None})]
    assert seen[-1] == [("call_1", "get_weather", {"city": "Paris"})]


def test_streamed_tool_call_with_id_and_name_repeated_in_every_chunk() -> None:
    seen = _stream_selections([
        tool_delta(0, id="call_1", name="get_weather", arguments='{"city"'),
        tool_delta(0, id="call_1", name="get_weather", arguments=': "Paris"'),
        tool_delta(0, id="call_1", name="get_weather", arguments='}'),
    ])
    assert seen[1] == [("call_1", "get_weather", {"city": "Paris"})]
    assert seen[-1] == [("call_1", "get_weather", {"city": "Paris"})]


def test_streamed_tool_name_split_over_chunks_is_joined() -> None:
    seen = _stream_selections([
        tool_delta(0, id="call_1", name="get_", arguments=""),
        tool_delta(0, name="weather", arguments='{"city": "Rome"}'),
    ])
    assert seen[-1] == [("call_1", "get_weather", {"city": "Rome"})]


@pytest.mark.parametrize("arguments", ["", None])
def test_streamed_tool_call_without_arguments(arguments: str | None) -> None:
    seen = _stream_selections([
        tool_delta(0, id="call_1", name="get_time", arguments=arguments),
        chunk({}, finish="tool_calls"),
    ])
    assert seen[-1] == [("call_1", "get_time", {})]


def test_parallel_streamed_tool_calls_by_index() -> None:
    seen = _stream_selections([
        tool_delta(0, id="call_a", name="get_weather", arguments=""),
        tool_delta(1, id="call_b", name="get_time", arguments=""),
        tool_delta(0, arguments='{"city": "Oslo"}'),
        tool_delta(1, arguments="{}"),
    ])
    assert seen[-1] == [("call_a", "get_weather", {"city": "Oslo"}),
                        ("call_b", "get_time", {})]


def test_streamed_tool_calls_without_index_use_ids() -> None:
    seen = _stream_selections([
        tool_delta(None, id="call_a", name="get_weather", arguments='{"city": "Oslo"}'),
        tool_delta(None, arguments=""),
        tool_delta(None, id="call_b", name="get_time", arguments=""),
    ])
    assert seen[-1] == [("call_a", "get_weather", {"city": "Oslo"}),
                        ("call_b", "get_time", {})]


def test_streamed_tool_calls_also_fill_additional_kwargs() -> None:
    rec = Recorder(sse_response(sse(
        tool_delta(0, id="call_1", name="get_weather", arguments='{"city": '),
        tool_delta(0, id="call_1", name="get_weather", arguments='"Paris"}'),
        chunk(usage=USAGE),
    )))
    responses = list(make_llm(rec).stream_chat_with_tools([WEATHER], user_msg="x"))
    first, last = responses[0].message, responses[-1].message
    assert first.additional_kwargs["tool_calls"][0]["function"]["arguments"] == '{"city": '
    assert last.additional_kwargs["tool_calls"] == [
        {"id": "call_1", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    ]
    assert last.content == ""
    assert responses[-1].additional_kwargs == USAGE


async def test_astream_chat_with_tools() -> None:
    rec = Recorder(sse_response(sse(
        tool_delta(0, id="call_1", name="get_weather", arguments='{"city": "Paris"}'),
        chunk(usage=USAGE),
    )))
    llm = make_llm(rec)
    gen = await llm.astream_chat_with_tools([WEATHER], user_msg="x", tool_choice="get_weather")
    responses = [r async for r in gen]
    assert llm.get_tool_calls_from_response(responses[-1])[0].tool_kwargs == {"city": "Paris"}
    assert rec.body()["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}


# ---------------------------------------------------------------- agents and structured output


class _Conversation:
    """Answers a tool call first, then a text answer; keeps every request body."""

    def __init__(self, stream: bool) -> None:
        self.stream = stream
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.read())
        self.bodies.append(body)
        first = len(self.bodies) == 1
        if not self.stream:
            if first:
                return json_response(completion(
                    None, tool_calls=[_call("get_weather", '{"city": "Paris"}')]))
            return json_response(completion("It is sunny in Paris."))
        if first:
            return sse_response(sse(
                tool_delta(0, id="call_1", name="get_weather", arguments='{"city": '),
                tool_delta(0, arguments='"Paris"}'),
                chunk(usage=USAGE),
            ))
        return sse_response(sse(*text_chunks("It is sunny", " in Paris.")))


@pytest.mark.parametrize("streaming", [True, False])
async def test_function_agent_calls_the_tool_and_answers(streaming: bool) -> None:
    conversation = _Conversation(stream=streaming)
    llm = make_llm(Recorder(conversation))
    agent = FunctionAgent(tools=[get_weather], llm=llm, streaming=streaming,
                          system_prompt="Use tools.")
    result = await agent.run("Weather in Paris?")
    assert str(result) == "It is sunny in Paris."
    assert [c.tool_name for c in result.tool_calls] == ["get_weather"]
    assert result.tool_calls[0].tool_output.content == "Sunny in Paris"
    second = conversation.bodies[1]["messages"]
    assert second[-2]["role"] == "assistant"
    assert second[-2]["content"] == ""
    assert second[-2]["tool_calls"][0]["id"] == "call_1"
    assert second[-1] == {"role": "tool", "content": "Sunny in Paris", "tool_call_id": "call_1"}


async def test_agent_workflow() -> None:
    llm = make_llm(Recorder(_Conversation(stream=True)))
    workflow = AgentWorkflow(agents=[FunctionAgent(
        name="weather", description="Weather.", tools=[get_weather], llm=llm
    )])
    assert str(await workflow.run("Weather in Paris?")) == "It is sunny in Paris."


class City(BaseModel):
    """A city and its country."""

    name: str
    country: str


def _city_call() -> Any:
    return json_response(completion(None, tool_calls=[
        _call("City", '{"name": "Paris", "country": "France"}')
    ]))


def test_structured_predict_goes_through_function_calling() -> None:
    rec = Recorder(_city_call())
    llm = make_llm(rec)
    city = llm.structured_predict(City, PromptTemplate("Extract: {text}"), text="Paris, France")
    assert city == City(name="Paris", country="France")
    body = rec.body()
    assert body["tools"][0]["function"]["name"] == "City"
    # LlamaIndex asks for "required"; with the one tool it is sent by name
    assert body["tool_choice"] == {"type": "function", "function": {"name": "City"}}


async def test_astructured_predict_and_structured_llm() -> None:
    rec = Recorder(_city_call(), _city_call())
    llm = make_llm(rec)
    city = await llm.astructured_predict(City, PromptTemplate("Extract: {text}"), text="x")
    assert city.country == "France"
    response = llm.as_structured_llm(City).chat([ChatMessage(role="user", content="Paris")])
    assert response.raw == City(name="Paris", country="France")
