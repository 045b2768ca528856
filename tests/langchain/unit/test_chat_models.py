"""ChatCompactifAI against canned answers (httpx.MockTransport): no network."""

from __future__ import annotations

import json
import pickle
import warnings
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from langchain_core.load import dumpd, dumps, load, loads
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from pydantic import BaseModel, SecretStr, ValidationError

from compactifai import (
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    InvalidRequestError,
    RateLimitError,
)
from langchain_compactifai import ChatCompactifAI, ModelCapabilityError

from .wire import (
    USAGE,
    bodies,
    chunk,
    completion,
    failing,
    model_list,
    route,
    streamed,
    text_stream,
    tool_call,
)

MakeChat = Callable[..., ChatCompactifAI]


def aggregate(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    full = chunks[0]
    for c in chunks[1:]:
        full = full + c
    return full


# ---------------------------------------------------------------- construction


def test_defaults_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPACTIFAI_API_KEY", "sk-env-key-999")
    monkeypatch.setenv("COMPACTIFAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.delenv("COMPACTIFAI_MODEL", raising=False)
    llm = ChatCompactifAI()
    assert llm.model_name == "smollm2-135m-instruct"  # a URL on this machine: the local model
    assert ChatCompactifAI(base_url="https://api.compactif.ai/v1").model_name == "hypernova-60b"
    monkeypatch.setenv("COMPACTIFAI_MODEL", "glm-5-1")
    assert ChatCompactifAI().model_name == "glm-5-1"
    assert isinstance(llm.api_key, SecretStr)
    assert llm.api_key.get_secret_value() == "sk-env-key-999"
    assert llm.base_url == "http://127.0.0.1:9/v1"
    assert llm.stream_usage is True


def test_default_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMPACTIFAI_BASE_URL", raising=False)
    assert ChatCompactifAI(api_key="k").base_url == "https://api.compactif.ai/v1"


def test_aliases() -> None:
    llm = ChatCompactifAI(model_name="glm-5-1", api_key="k")
    assert llm.model_name == "glm-5-1"
    assert ChatCompactifAI(model="x", api_key="k").model_name == "x"


def test_missing_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMPACTIFAI_API_KEY", raising=False)
    with pytest.raises(ValidationError, match="COMPACTIFAI_API_KEY"):
        ChatCompactifAI()


def test_no_request_at_construction() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request may be sent at construction")

    llm = ChatCompactifAI(
        api_key="k", http_client=httpx.Client(transport=httpx.MockTransport(handler))
    )
    assert llm._client is None and llm._async_client is None


def test_clients_are_built_once() -> None:
    llm = ChatCompactifAI(api_key="k")
    assert llm.client is llm.client
    assert llm.async_client is llm.async_client


def test_n_other_than_one_is_refused() -> None:
    with pytest.raises(ValidationError, match="n=2 is not supported"):
        ChatCompactifAI(api_key="k", n=2)
    assert ChatCompactifAI(api_key="k", n=1).n == 1


def test_n_per_call_is_refused_before_sending(make_chat: MakeChat) -> None:
    handler = route(chat=completion())
    with pytest.raises(InvalidRequestError, match="n=3"):
        make_chat(handler).invoke("hi", n=3)
    assert handler.requests == []


def test_key_never_shown() -> None:
    llm = ChatCompactifAI(api_key="sk-super-secret-123")
    for text in (repr(llm), str(llm), json.dumps(dumpd(llm)), dumps(llm), str(llm.asdict())):
        assert "sk-super-secret-123" not in text


def test_unknown_constructor_argument_goes_to_model_kwargs() -> None:
    with pytest.warns(UserWarning, match="top_k"):
        llm = ChatCompactifAI(api_key="k", top_k=5)
    assert llm.model_kwargs == {"top_k": 5}


def test_model_kwargs_cannot_hold_a_field() -> None:
    with pytest.raises(ValidationError, match="temperature"):
        ChatCompactifAI(api_key="k", model_kwargs={"temperature": 0.2})


# ---------------------------------------------------------------- invoke


def test_invoke_sends_parameters_and_returns_message(make_chat: MakeChat) -> None:
    handler = route(chat=completion("Paris."))
    llm = make_chat(
        handler,
        temperature=0.3,
        max_tokens=50,
        max_completion_tokens=40,
        top_p=0.9,
        frequency_penalty=0.1,
        presence_penalty=0.2,
        seed=7,
        stop=["\n\n"],
    )
    message = llm.invoke([HumanMessage("Capital of France?")])
    assert isinstance(message, AIMessage)
    assert message.content == "Paris."
    assert message.usage_metadata == {"input_tokens": 11, "output_tokens": 7, "total_tokens": 18}
    assert message.response_metadata["model_name"] == "hypernova-60b"
    (body,) = bodies(handler)
    assert body == {
        "model": "hypernova-60b",
        "messages": [{"role": "user", "content": "Capital of France?"}],
        "temperature": 0.3,
        "max_tokens": 50,
        "max_completion_tokens": 40,
        "top_p": 0.9,
        "frequency_penalty": 0.1,
        "presence_penalty": 0.2,
        "seed": 7,
        "stop": ["\n\n"],
    }
    assert "authorization" in handler.requests[0].headers


def test_call_stop_overrides_and_empty_stop_is_not_sent(make_chat: MakeChat) -> None:
    handler = route(chat=completion())
    llm = make_chat(handler, stop=[])
    llm.invoke("hi")
    llm.invoke("hi", stop=["you"])
    first, second = bodies(handler)
    assert "stop" not in first
    assert second["stop"] == ["you"]


def test_model_kwargs_and_call_kwargs_are_sent_never_dropped(make_chat: MakeChat) -> None:
    handler = route(chat=completion())
    llm = make_chat(handler, model_kwargs={"top_k": 20, "user": "u-1"})
    llm.invoke("hi", repetition_penalty=1.1, extra_body={"min_p": 0.05}, presence_penalty=0.5)
    (body,) = bodies(handler)
    assert body["top_k"] == 20
    assert body["user"] == "u-1"
    assert body["repetition_penalty"] == 1.1
    assert body["min_p"] == 0.05
    assert body["presence_penalty"] == 0.5


def test_model_override_per_call(make_chat: MakeChat) -> None:
    handler = route(chat=completion(model="glm-5-1"))
    message = make_chat(handler).invoke("hi", model="glm-5-1")
    assert bodies(handler)[0]["model"] == "glm-5-1"
    assert message.response_metadata["model_name"] == "glm-5-1"


def test_default_headers_and_per_call_headers(make_chat: MakeChat) -> None:
    handler = route(chat=completion())
    llm = make_chat(handler, default_headers={"X-Team": "ml"})
    llm.invoke("hi", extra_headers={"X-Trace": "t1"})
    headers = handler.requests[0].headers
    assert headers["x-team"] == "ml"
    assert headers["x-trace"] == "t1"


def test_batch(make_chat: MakeChat) -> None:
    handler = route(chat=[completion("one"), completion("two")])
    out = make_chat(handler).batch(["a", "b"], config={"max_concurrency": 1})
    assert [m.content for m in out] == ["one", "two"]


async def test_ainvoke_and_abatch(make_chat: MakeChat) -> None:
    handler = route(chat=completion("async hello"))
    llm = make_chat(handler)
    message = await llm.ainvoke("hi")
    assert message.content == "async hello"
    assert message.usage_metadata is not None
    out = await llm.abatch(["a", "b", "c"])
    assert [m.content for m in out] == ["async hello"] * 3


def test_generate_combines_token_usage(make_chat: MakeChat) -> None:
    handler = route(chat=completion())
    result = make_chat(handler).generate([[HumanMessage("a")], [HumanMessage("b")]])
    assert result.llm_output is not None
    assert result.llm_output["token_usage"] == {
        "prompt_tokens": 22,
        "completion_tokens": 14,
        "total_tokens": 36,
    }


def test_ls_params() -> None:
    llm = ChatCompactifAI(
        model="hypernova-60b", api_key="k", temperature=0.5, max_tokens=10, stop="END"
    )
    params = llm._get_ls_params()
    assert params == {
        "ls_provider": "compactifai",
        "ls_model_name": "hypernova-60b",
        "ls_model_type": "chat",
        "ls_temperature": 0.5,
        "ls_max_tokens": 10,
        "ls_stop": ["END"],
    }
    assert llm._get_ls_params(model="other")["ls_model_name"] == "other"


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (429, RateLimitError),
        (500, InternalServerError),
    ],
)
def test_errors_surface_as_transport_types(
    make_chat: MakeChat, status: int, error: type[Exception]
) -> None:
    handler = route(chat=failing(status, {"error": {"message": "nope", "type": "x"}}))
    with pytest.raises(error, match="nope"):
        make_chat(handler).invoke("hi")


async def test_async_errors_are_typed(make_chat: MakeChat) -> None:
    handler = route(chat=failing(401, {"error": {"message": "bad key"}}))
    with pytest.raises(AuthenticationError):
        await make_chat(handler).ainvoke("hi")


def test_stream_errors_are_typed(make_chat: MakeChat) -> None:
    handler = route(chat=failing(400, {"error": {"message": "bad stream"}}))
    with pytest.raises(BadRequestError, match="bad stream"):
        list(make_chat(handler).stream("hi"))


def test_connection_error_is_typed(make_chat: MakeChat) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(APIConnectionError):
        make_chat(handler).invoke("hi")


def test_retries_then_succeeds(make_chat: MakeChat) -> None:
    handler = route(chat=[failing(503, {"error": {"message": "busy"}}), completion("ok")])
    llm = make_chat(handler, max_retries=1)
    llm.client._pipeline._sleep = lambda s: None
    assert llm.invoke("hi").content == "ok"
    assert len(handler.requests) == 2


# ---------------------------------------------------------------- streaming


def test_stream_text_usage_once_and_last_chunk(make_chat: MakeChat) -> None:
    handler = route(chat=streamed(text_stream("Hel", "lo", "!")))
    chunks = list(make_chat(handler).stream("hi"))
    assert "".join(str(c.content) for c in chunks) == "Hello!"
    assert [c for c in chunks if c.usage_metadata] == [chunks[-1]]
    assert chunks[-1].chunk_position == "last"
    assert all(c.chunk_position is None for c in chunks[:-1])
    full = aggregate(chunks)
    assert full.usage_metadata == {"input_tokens": 11, "output_tokens": 7, "total_tokens": 18}
    assert full.response_metadata["model_name"] == "hypernova-60b"
    assert full.response_metadata["finish_reason"] == "stop"
    assert full.response_metadata["id"] == "chatcmpl-123"
    assert full.response_metadata["model_provider"] == "compactifai"
    (body,) = bodies(handler)
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


def test_stream_usage_off(make_chat: MakeChat) -> None:
    handler = route(chat=streamed(text_stream("a", usage=None)))
    chunks = list(make_chat(handler, stream_usage=False).stream("hi"))
    assert "stream_options" not in bodies(handler)[0]
    assert all(c.usage_metadata is None for c in chunks)
    assert chunks[-1].chunk_position == "last"


def test_stream_usage_per_call(make_chat: MakeChat) -> None:
    handler = route(chat=streamed(text_stream("a", usage=None)))
    list(make_chat(handler).stream("hi", stream_usage=False))
    assert "stream_options" not in bodies(handler)[0]


def test_stream_without_usage_from_server(make_chat: MakeChat) -> None:
    handler = route(chat=streamed(text_stream("a", "b", usage=None)))
    chunks = list(make_chat(handler).stream("hi"))
    assert aggregate(chunks).usage_metadata is None
    assert chunks[-1].chunk_position == "last"


def test_stream_fingerprint_kept(make_chat: MakeChat) -> None:
    chunks_in = text_stream("a")
    chunks_in[-2]["system_fingerprint"] = "fp_9"
    handler = route(chat=streamed(chunks_in))
    full = aggregate(list(make_chat(handler).stream("hi")))
    assert full.response_metadata["system_fingerprint"] == "fp_9"


def test_invoke_with_streaming_true_aggregates(make_chat: MakeChat) -> None:
    handler = route(chat=streamed(text_stream("He", "llo")))
    message = make_chat(handler, streaming=True).invoke("hi")
    assert message.content == "Hello"
    assert message.usage_metadata is not None
    assert message.response_metadata["model_name"] == "hypernova-60b"
    assert bodies(handler)[0]["stream"] is True


async def test_astream(make_chat: MakeChat) -> None:
    handler = route(chat=streamed(text_stream("as", "ync")))
    chunks = [c async for c in make_chat(handler).astream("hi")]
    assert "".join(str(c.content) for c in chunks) == "async"
    assert sum(1 for c in chunks if c.usage_metadata) == 1
    assert chunks[-1].chunk_position == "last"


def test_stream_reasoning_content(make_chat: MakeChat) -> None:
    stream = [
        chunk({"role": "assistant", "reasoning_content": "Let me "}),
        chunk({"reasoning_content": "think."}),
        chunk({"content": "42"}),
        chunk(finish_reason="stop"),
    ]
    handler = route(chat=streamed(stream))
    full = aggregate(list(make_chat(handler).stream("hi")))
    assert full.additional_kwargs["reasoning_content"] == "Let me think."
    assert full.content == "42"
    assert full.content_blocks[0] == {"type": "reasoning", "reasoning": "Let me think."}


def test_stream_output_version_v1(make_chat: MakeChat) -> None:
    handler = route(chat=streamed(text_stream("a", "b")))
    chunks = list(make_chat(handler, output_version="v1").stream("hi"))
    full = aggregate(chunks)
    assert [b["type"] for b in full.content_blocks] == ["text"]
    assert full.text == "ab"


def test_early_break_closes_the_stream(make_chat: MakeChat) -> None:
    from tests.helpers import _Chunks, sse

    body = _Chunks([sse(*text_stream("a", "b", "c"), done=True)])

    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=body)

    for _ in make_chat(handler).stream("hi"):
        break
    assert body.closed


# ---------------------------------------------------------------- streamed tool calls


def call_delta(index: int, *, call_id: str | None = None, name: str | None = None,
               args: str | None = None) -> dict[str, Any]:
    fn: dict[str, Any] = {}
    if name is not None:
        fn["name"] = name
    fn["arguments"] = args
    call: dict[str, Any] = {"index": index, "type": "function", "function": fn}
    if call_id is not None:
        call["id"] = call_id
    return {"tool_calls": [call]}


def stream_tool_calls(make_chat: MakeChat, deltas: list[dict[str, Any]]) -> AIMessageChunk:
    events = [chunk({"role": "assistant", "content": None})]
    events += [chunk(d) for d in deltas]
    events.append(chunk(finish_reason="tool_calls"))
    events.append(chunk(choices=False, usage=USAGE))
    handler = route(chat=streamed(events))
    chunks = list(make_chat(handler).stream("weather?"))
    assert chunks[-1].chunk_position == "last"
    return aggregate(chunks)


def test_tool_call_id_and_name_sent_once(make_chat: MakeChat) -> None:
    full = stream_tool_calls(
        make_chat,
        [
            call_delta(0, call_id="call_a", name="get_weather", args=""),
            call_delta(0, args='{"city": '),
            call_delta(0, args='"Paris"}'),
        ],
    )
    assert full.tool_calls == [
        {"name": "get_weather", "args": {"city": "Paris"}, "id": "call_a", "type": "tool_call"}
    ]
    assert full.response_metadata["finish_reason"] == "tool_calls"


def test_tool_call_id_and_name_repeated_in_every_chunk(make_chat: MakeChat) -> None:
    # llama.cpp repeats id, type and name in every chunk: a naive merge gives
    # "get_weatherget_weather".
    full = stream_tool_calls(
        make_chat,
        [
            call_delta(0, call_id="call_a", name="get_weather", args='{"city": '),
            call_delta(0, call_id="call_a", name="get_weather", args='"Paris"'),
            call_delta(0, call_id="call_a", name="get_weather", args="}"),
        ],
    )
    assert full.tool_calls == [
        {"name": "get_weather", "args": {"city": "Paris"}, "id": "call_a", "type": "tool_call"}
    ]
    assert full.invalid_tool_calls == []


@pytest.mark.parametrize("args", ["", None])
def test_streamed_tool_without_arguments(make_chat: MakeChat, args: str | None) -> None:
    full = stream_tool_calls(
        make_chat,
        [call_delta(0, call_id="call_n", name="now", args=args),
         call_delta(0, args=args)],
    )
    assert full.tool_calls == [{"name": "now", "args": {}, "id": "call_n", "type": "tool_call"}]


def test_interleaved_tool_calls_by_index(make_chat: MakeChat) -> None:
    full = stream_tool_calls(
        make_chat,
        [
            call_delta(0, call_id="c0", name="add", args=""),
            call_delta(1, call_id="c1", name="mul", args='{"a"'),
            call_delta(0, args='{"a": 1, '),
            call_delta(1, args=": 2, "),
            call_delta(0, args='"b": 2}'),
            call_delta(1, args='"b": 3}'),
        ],
    )
    assert full.tool_calls == [
        {"name": "add", "args": {"a": 1, "b": 2}, "id": "c0", "type": "tool_call"},
        {"name": "mul", "args": {"a": 2, "b": 3}, "id": "c1", "type": "tool_call"},
    ]


def test_interleaved_tool_calls_with_repeated_names(make_chat: MakeChat) -> None:
    full = stream_tool_calls(
        make_chat,
        [
            call_delta(0, call_id="c0", name="add", args="{"),
            call_delta(1, call_id="c1", name="mul", args="{"),
            call_delta(1, call_id="c1", name="mul", args="}"),
            call_delta(0, call_id="c0", name="add", args="}"),
        ],
    )
    assert [(c["name"], c["id"], c["args"]) for c in full.tool_calls] == [
        ("add", "c0", {}),
        ("mul", "c1", {}),
    ]


def test_streamed_tool_call_without_id_gets_one(make_chat: MakeChat) -> None:
    full = stream_tool_calls(make_chat, [call_delta(0, name="now", args="{}")])
    assert full.tool_calls[0]["id"]
    assert full.tool_calls[0]["name"] == "now"


def test_streamed_tool_call_chunks_are_visible_while_streaming(make_chat: MakeChat) -> None:
    events = [chunk(call_delta(0, call_id="c", name="f", args='{"x": 1}')),
              chunk(finish_reason="tool_calls")]
    handler = route(chat=streamed(events))
    first = next(iter(make_chat(handler).stream("hi")))
    assert first.tool_call_chunks == [
        {"name": "f", "args": '{"x": 1}', "id": "c", "index": 0, "type": "tool_call_chunk"}
    ]


# ---------------------------------------------------------------- tools


def get_weather(city: str) -> str:
    """Get the weather in a city."""
    return "sunny"


class Multiply(BaseModel):
    """Multiply two integers."""

    a: int
    b: int


TOOLS_OK = {"hypernova-60b": {"supports_function_calling": True}}


def test_bind_tools_formats_every_kind(make_chat: MakeChat) -> None:
    from langchain_core.tools import tool

    @tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    raw_dict = {
        "type": "function",
        "function": {"name": "noop", "description": "Nothing.", "parameters": {"type": "object", "properties": {}}},
    }
    handler = route(chat=completion("ok"), models=model_list(**TOOLS_OK))
    make_chat(handler).bind_tools([add, Multiply, get_weather, raw_dict]).invoke("hi")
    (body,) = bodies(handler)
    assert [t["function"]["name"] for t in body["tools"]] == ["add", "Multiply", "get_weather", "noop"]
    assert body["tools"][1]["function"]["parameters"]["required"] == ["a", "b"]
    assert body["tool_choice"] == "auto"  # said explicitly: some servers ignore tools otherwise
    assert all("strict" not in t["function"] for t in body["tools"])


@pytest.mark.parametrize(
    ("choice", "sent"),
    [
        ("auto", "auto"),
        ("none", "none"),
        # "required" with one tool: that tool by name (servers without "required" obey it)
        ("required", {"type": "function", "function": {"name": "get_weather"}}),
        ("any", {"type": "function", "function": {"name": "get_weather"}}),
        (True, {"type": "function", "function": {"name": "get_weather"}}),
        ("get_weather", {"type": "function", "function": {"name": "get_weather"}}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"type": "function", "function": {"name": "get_weather"}},
        ),
    ],
)
def test_tool_choice_values(make_chat: MakeChat, choice: Any, sent: Any) -> None:
    handler = route(chat=completion("ok"), models=model_list(**TOOLS_OK))
    make_chat(handler).bind_tools([get_weather], tool_choice=choice).invoke("hi")
    assert bodies(handler)[0]["tool_choice"] == sent


def test_tool_choice_true_with_several_tools_is_required(make_chat: MakeChat) -> None:
    handler = route(chat=completion("ok"), models=model_list(**TOOLS_OK))
    make_chat(handler).bind_tools([get_weather, Multiply], tool_choice=True).invoke("hi")
    assert bodies(handler)[0]["tool_choice"] == "required"


@pytest.mark.parametrize("choice", ["required", "any"])
def test_required_with_several_tools_stays_required(make_chat: MakeChat, choice: str) -> None:
    handler = route(chat=completion("ok"), models=model_list(**TOOLS_OK))
    make_chat(handler).bind_tools([get_weather, Multiply], tool_choice=choice).invoke("hi")
    assert bodies(handler)[0]["tool_choice"] == "required"


def test_tool_choice_rule_also_covers_tools_given_as_call_keywords(make_chat: MakeChat) -> None:
    handler = route(chat=completion("ok"), models=model_list(**TOOLS_OK))
    tool = {"type": "function", "function": {"name": "noop", "parameters": {}}}
    llm = make_chat(handler)
    llm.invoke("hi", tools=[tool])
    llm.invoke("hi", tools=[tool], tool_choice="any")
    llm.invoke("hi")
    first, forced, plain = bodies(handler)
    assert first["tool_choice"] == "auto"
    assert forced["tool_choice"] == {"type": "function", "function": {"name": "noop"}}
    assert "tool_choice" not in plain and "tools" not in plain


def test_a_stream_with_tools_sends_auto_only_when_chosen(make_chat: MakeChat) -> None:
    from .wire import stream_response, text_stream

    handler = route(chat=lambda: stream_response(text_stream("ok")),
                    models=model_list(**TOOLS_OK))
    llm = make_chat(handler)
    list(llm.bind_tools([get_weather]).stream("hi"))
    list(llm.bind_tools([get_weather], tool_choice="auto").stream("hi"))
    list(llm.bind_tools([get_weather], tool_choice="any").stream("hi"))
    implicit, chosen, forced = bodies(handler)
    # Nothing chosen: nothing sent on a stream (the API's default is "auto"; llama-cpp-python
    # answers a streamed "auto" with a 500)
    assert "tool_choice" not in implicit and implicit["tools"]
    assert chosen["tool_choice"] == "auto"
    assert forced["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}


def test_tool_choice_unknown_name_is_refused(make_chat: MakeChat) -> None:
    with pytest.raises(InvalidRequestError, match="names no bound tool"):
        make_chat(route()).bind_tools([get_weather], tool_choice="nope")


def test_tool_call_round_trip(make_chat: MakeChat) -> None:
    first = completion(None, tool_calls=[tool_call("get_weather", '{"city": "Paris"}', "call_7")])
    handler = route(chat=[first, completion("It is sunny.")], models=model_list(**TOOLS_OK))
    llm = make_chat(handler).bind_tools([get_weather])
    question = HumanMessage("Weather in Paris?")
    ai = llm.invoke([question])
    assert isinstance(ai, AIMessage)
    answer = llm.invoke([question, ai, ToolMessage("sunny", tool_call_id="call_7")])
    assert answer.content == "It is sunny."
    second = bodies(handler)[1]["messages"]
    assert second[1] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "call_7",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    }
    assert second[2] == {"role": "tool", "tool_call_id": "call_7", "content": "sunny"}


def test_profile_is_read_once_per_client(make_chat: MakeChat) -> None:
    handler = route(chat=completion("ok"), models=model_list(**TOOLS_OK))
    llm = make_chat(handler).bind_tools([get_weather])
    llm.invoke("a")
    llm.invoke("b")
    paths = [r.url.path for r in handler.requests]
    assert paths.count("/v1/models") == 1
    assert paths.count("/v1/chat/completions") == 2


def test_plain_chat_reads_no_profile(make_chat: MakeChat) -> None:
    handler = route(chat=completion("ok"))
    make_chat(handler).invoke("hi")
    assert [r.url.path for r in handler.requests] == ["/v1/chat/completions"]


NO_TOOLS = {"mistral-small-3-1": {"supports_image": True, "supports_function_calling": False}}
NO_IMAGES = {"hypernova-60b": {"supports_image": False, "supports_function_calling": True}}


def test_tools_refused_for_a_model_without_function_calling(make_chat: MakeChat) -> None:
    handler = route(chat=completion("never"), models=model_list(**NO_TOOLS))
    llm = make_chat(handler, model="mistral-small-3-1").bind_tools([get_weather])
    with pytest.raises(ModelCapabilityError, match="does not support function calling") as info:
        llm.invoke("hi")
    assert info.value.capability == "function_calling"
    assert info.value.model == "mistral-small-3-1"
    assert isinstance(info.value, InvalidRequestError)
    assert [r.url.path for r in handler.requests] == ["/v1/models"]  # no chat request


async def test_tools_refused_async(make_chat: MakeChat) -> None:
    handler = route(chat=completion("never"), models=model_list(**NO_TOOLS))
    llm = make_chat(handler, model="mistral-small-3-1").bind_tools([get_weather])
    with pytest.raises(ModelCapabilityError):
        await llm.ainvoke("hi")
    with pytest.raises(ModelCapabilityError):
        [c async for c in llm.astream("hi")]
    assert all(r.url.path == "/v1/models" for r in handler.requests)


def test_tools_allowed_when_capability_unknown(make_chat: MakeChat) -> None:
    # A model the API does not list and the built-in table does not know: the server decides.
    handler = route(chat=completion("ok"), models=model_list(**NO_TOOLS))
    make_chat(handler, model="brand-new-model").bind_tools([get_weather]).invoke("hi")
    assert bodies(handler)[0]["model"] == "brand-new-model"


IMAGE = {"type": "image", "url": "https://x.test/cat.png"}


def test_image_refused_for_a_model_without_images(make_chat: MakeChat) -> None:
    handler = route(chat=completion("never"), models=model_list(**NO_IMAGES))
    message = HumanMessage([{"type": "text", "text": "What is this?"}, IMAGE])
    with pytest.raises(ModelCapabilityError, match="does not take image input") as info:
        make_chat(handler).invoke([message])
    assert info.value.capability == "image"
    with pytest.raises(ModelCapabilityError):
        list(make_chat(handler).stream([message]))
    assert all(r.url.path == "/v1/models" for r in handler.requests)


def test_image_sent_to_a_model_with_images(make_chat: MakeChat) -> None:
    handler = route(chat=completion("A cat."), models=model_list(**NO_TOOLS))
    message = HumanMessage([{"type": "text", "text": "What is this?"}, IMAGE])
    answer = make_chat(handler, model="mistral-small-3-1").invoke([message])
    assert answer.content == "A cat."
    assert bodies(handler)[0]["messages"][0]["content"][1] == {
        "type": "image_url",
        "image_url": {"url": "https://x.test/cat.png"},
    }


def test_image_check_falls_back_to_the_table_when_models_fail(make_chat: MakeChat) -> None:
    handler = route(chat=completion("never"), models=failing(404, {"error": {"message": "no"}}))
    message = HumanMessage([IMAGE])
    with pytest.raises(ModelCapabilityError):
        # the table says the local model takes no images
        make_chat(handler, model="smollm2-135m-instruct").invoke([message])


# ---------------------------------------------------------------- structured output


class Person(BaseModel):
    """A person."""

    name: str
    age: int


def test_structured_output_function_calling(make_chat: MakeChat) -> None:
    answer = completion(None, tool_calls=[tool_call("Person", '{"name": "Ada", "age": 36}')])
    handler = route(chat=answer, models=model_list(**TOOLS_OK))
    result = make_chat(handler).with_structured_output(Person).invoke("Ada is 36")
    assert result == Person(name="Ada", age=36)
    (body,) = bodies(handler)
    assert body["tool_choice"] == {"type": "function", "function": {"name": "Person"}}
    assert body["tools"][0]["function"]["name"] == "Person"


def test_structured_output_dict_schema_and_include_raw(make_chat: MakeChat) -> None:
    schema = Person.model_json_schema()
    answer = completion(None, tool_calls=[tool_call("Person", '{"name": "Ada", "age": 36}')])
    handler = route(chat=answer, models=model_list(**TOOLS_OK))
    out = make_chat(handler).with_structured_output(schema, include_raw=True).invoke("x")
    assert out["parsed"] == {"name": "Ada", "age": 36}
    assert out["parsing_error"] is None
    assert isinstance(out["raw"], AIMessage)


def test_structured_output_typed_dict(make_chat: MakeChat) -> None:
    from typing_extensions import TypedDict

    class Pet(TypedDict):
        """A pet."""

        kind: str

    answer = completion(None, tool_calls=[tool_call("Pet", '{"kind": "cat"}')])
    handler = route(chat=answer, models=model_list(**TOOLS_OK))
    assert make_chat(handler).with_structured_output(Pet).invoke("x") == {"kind": "cat"}


def test_structured_output_include_raw_keeps_parsing_errors(make_chat: MakeChat) -> None:
    handler = route(chat=completion("no tool call at all"), models=model_list(**TOOLS_OK))
    out = make_chat(handler).with_structured_output(Person, include_raw=True).invoke("x")
    assert out["parsed"] is None
    assert out["raw"].content == "no tool call at all"


def test_structured_output_streamed(make_chat: MakeChat) -> None:
    events = [
        chunk(call_delta(0, call_id="c", name="Person", args='{"name": "Ada", ')),
        chunk(call_delta(0, call_id="c", name="Person", args='"age": 36}')),
        chunk(finish_reason="tool_calls"),
    ]
    handler = route(chat=streamed(events), models=model_list(**TOOLS_OK))
    out = list(make_chat(handler).with_structured_output(Person).stream("x"))
    assert out[-1] == Person(name="Ada", age=36)


def test_structured_output_json_mode(make_chat: MakeChat) -> None:
    handler = route(chat=completion('{"name": "Ada", "age": 36}'))
    out = make_chat(handler).with_structured_output(Person, method="json_mode").invoke("x")
    assert out == Person(name="Ada", age=36)
    assert bodies(handler)[0]["response_format"] == {"type": "json_object"}


def test_structured_output_json_schema(make_chat: MakeChat) -> None:
    handler = route(chat=completion('{"name": "Ada", "age": 36}'))
    chain = make_chat(handler).with_structured_output(Person, method="json_schema", strict=True)
    assert chain.invoke("x") == Person(name="Ada", age=36)
    fmt = bodies(handler)[0]["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "Person"
    assert fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["schema"]["required"] == ["name", "age"]


def test_structured_output_bad_method() -> None:
    with pytest.raises(ValueError, match="method"):
        ChatCompactifAI(api_key="k").with_structured_output(Person, method="xml")  # type: ignore[arg-type]


# ---------------------------------------------------------------- serialization, pickling


@pytest.mark.filterwarnings("ignore::langchain_core._api.beta_decorator.LangChainBetaWarning")
def test_serialization_round_trip_without_the_secret() -> None:
    llm = ChatCompactifAI(
        api_key="sk-serial-secret-1", model="glm-5-1", temperature=0.2, max_tokens=9
    )
    data = dumpd(llm)
    assert data["id"] == ["langchain_compactifai", "chat_models", "ChatCompactifAI"]
    assert data["kwargs"]["api_key"] == {"lc": 1, "type": "secret", "id": ["COMPACTIFAI_API_KEY"]}
    assert "sk-serial-secret-1" not in json.dumps(data)
    back = loads(
        dumps(llm),
        secrets_map={"COMPACTIFAI_API_KEY": "sk-serial-secret-1"},
        valid_namespaces=["langchain_compactifai"],
        allowed_objects=[ChatCompactifAI],
    )
    assert isinstance(back, ChatCompactifAI)
    assert back.model_name == "glm-5-1"
    assert back.temperature == 0.2
    assert back.api_key is not None
    assert back.api_key.get_secret_value() == "sk-serial-secret-1"
    assert load(data, secrets_map={"COMPACTIFAI_API_KEY": "x"},
                valid_namespaces=["langchain_compactifai"],
                allowed_objects=[ChatCompactifAI]).max_tokens == 9


def test_pickle_round_trip(make_chat: MakeChat) -> None:
    handler = route(chat=completion("before"))
    llm = make_chat(handler, temperature=0.1)
    llm.invoke("hi")  # builds the clients
    back = pickle.loads(pickle.dumps(llm))
    assert isinstance(back.api_key, SecretStr)
    assert back.api_key.get_secret_value() == "sk-test-123456"
    assert back.temperature == 0.1
    assert back._client is None and back._async_client is None  # rebuilt lazily
    assert back.http_client is None
    assert back.client is not llm.client
    assert b"sk-test-123456" not in pickle.dumps(repr(back))


def test_pickle_of_a_model_never_used() -> None:
    llm = ChatCompactifAI(api_key="k", model="m")
    back = pickle.loads(pickle.dumps(llm))
    assert back.model_name == "m"
    assert back.client.config.base_url == llm.base_url


def test_capability_error_pickles() -> None:
    err = ModelCapabilityError("no images", model="m", capability="image")
    back = pickle.loads(pickle.dumps(err))
    assert (back.model, back.capability, str(back)) == ("m", "image", "no images")


def test_no_warnings_on_plain_use(make_chat: MakeChat) -> None:
    handler = route(chat=completion("ok"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_chat(handler).invoke("hi")


def test_json_mode_without_schema_gives_dicts(make_chat: MakeChat) -> None:
    handler = route(chat=completion('{"a": 1}'))
    assert make_chat(handler).with_structured_output(method="json_mode").invoke("x") == {"a": 1}



def test_rate_limit_reaches_the_transport_and_survives_pickling() -> None:
    import pickle

    from compactifai import ConfigurationError, RateLimit
    from langchain_compactifai import ChatCompactifAI, CompactifAI

    limit = RateLimit(tokens_per_minute=1000)
    for cls in (ChatCompactifAI, CompactifAI):
        model = cls(model="m", api_key="sk-x", base_url="http://127.0.0.1:1/v1", rate_limit=limit)
        assert model.client.config.rate_limit is limit
        copy = pickle.loads(pickle.dumps(model))
        assert copy.client.config.rate_limit.tokens_per_minute == 1000
    with pytest.raises(ConfigurationError, match="rate_limit"):
        _ = ChatCompactifAI(model="m", api_key="sk-x", rate_limit="fast").client


# ---------------------------------------------------------------- today's chat parameters (issue 12 §5)

_REASONING_FIXTURES = __import__("pathlib").Path(__file__).resolve().parents[2] / "fixtures" / "reasoning"


def _reasoning_fixture(name: str) -> Any:
    return json.loads((_REASONING_FIXTURES / name).read_text(encoding="utf-8"))


def test_todays_parameters_are_fields_sent_with_every_call(make_chat: MakeChat) -> None:
    handler = route(chat=completion("ok"))
    llm = make_chat(handler, reasoning_effort="low", reasoning_enabled=True, min_tokens=4,
                    ignore_eos=False)
    llm.invoke("hi")
    llm.invoke("hi", reasoning_effort="xhigh", min_tokens=0)  # a call's own value wins
    first, second = bodies(handler)
    assert (first["reasoning_effort"], first["reasoning_enabled"], first["min_tokens"],
            first["ignore_eos"]) == ("low", True, 4, False)
    assert second["reasoning_effort"] == "xhigh" and second["min_tokens"] == 0
    assert "extra_body" not in first and "reasoning_effort" not in make_chat(
        handler).invoke("hi").additional_kwargs


def test_an_unknown_effort_is_refused_naming_the_levels(make_chat: MakeChat) -> None:
    allowed = "'none', 'low', 'medium', 'high', 'xhigh', 'max'"
    with pytest.raises(ValidationError, match=allowed):
        ChatCompactifAI(api_key="k", reasoning_effort="minimal")
    with pytest.raises(ValidationError, match="min_tokens"):
        ChatCompactifAI(api_key="k", min_tokens=-1)
    handler = route(chat=completion("never"))
    with pytest.raises(InvalidRequestError, match=allowed) as info:
        make_chat(handler).invoke("hi", reasoning_effort="extreme")
    assert info.value.param == "reasoning_effort" and not handler.requests


def test_a_level_the_model_refuses_surfaces_as_the_servers_typed_error(
    make_chat: MakeChat,
) -> None:
    refusal = {"error": {"message": "Invalid request: model 'hypernova-60b' does not support "
                         "reasoning_effort 'max'; supported: [low, medium, high]",
                         "type": "invalid_request_error", "param": None, "code": None}}
    handler = route(chat=failing(400, refusal))
    with pytest.raises(BadRequestError, match="supported: \\[low, medium, high\\]") as info:
        make_chat(handler, reasoning_effort="max").invoke("hi")
    assert info.value.status_code == 400


def test_reasoning_answer_has_a_standard_reasoning_block(make_chat: MakeChat) -> None:
    handler = route(chat=_reasoning_fixture("final_answer.json"))
    message = make_chat(handler, reasoning_effort="low").invoke("Weather in Bilbao?")
    assert message.additional_kwargs["reasoning_content"] == (
        "The tool says 18 C and cloudy. Answer briefly.")
    assert [b["type"] for b in message.content_blocks] == ["reasoning", "text"]
    v1 = make_chat(handler, output_version="v1").invoke("Weather in Bilbao?")
    assert isinstance(v1.content, list) and v1.content[0]["type"] == "reasoning"


def test_streamed_reasoning_without_a_usage_chunk(make_chat: MakeChat) -> None:
    """hypernova-60b-shaped stream: reasoning deltas, a tool call, no usage chunk (the
    service does not promise one): nothing warns, nothing fails, usage is simply absent."""
    chunks = _reasoning_fixture("stream_without_usage.json")
    handler = route(chat=streamed(chunks))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parts = list(make_chat(handler).stream("Weather in Bilbao?"))
    full = aggregate(parts)
    reasoning = "".join(c["choices"][0]["delta"].get("reasoning_content") or "" for c in chunks)
    assert full.additional_kwargs["reasoning_content"] == reasoning
    assert full.content_blocks[0] == {"type": "reasoning", "reasoning": reasoning}
    assert full.tool_calls == [{"name": "get_weather", "args": {"city": "Bilbao"},
                                "id": "chatcmpl-tool-4b1e9f0c2d7a4c3e", "type": "tool_call"}]
    assert full.usage_metadata is None
    assert full.response_metadata["finish_reason"] == "tool_calls"


async def test_astream_reasoning_without_a_usage_chunk(make_chat: MakeChat) -> None:
    handler = route(chat=streamed(_reasoning_fixture("stream_without_usage.json")))
    parts = [c async for c in make_chat(handler).astream("Weather?")]
    full = aggregate(parts)
    assert full.additional_kwargs["reasoning_content"].startswith("The user asks")
    assert full.usage_metadata is None


def test_tool_loop_sends_the_reasoning_back(make_chat: MakeChat) -> None:
    """The multi-turn tool loop of a reasoning model: the assistant turn that called the
    tool goes back with its reasoning, the next request carries it."""
    handler = route(chat=[_reasoning_fixture("tool_call_answer.json"),
                          _reasoning_fixture("final_answer.json")],
                    models=model_list(**{"hypernova-60b": {"supports_function_calling": True}}))
    llm = make_chat(handler).bind_tools([get_weather])
    question = HumanMessage("Weather in Bilbao?")
    turn = llm.invoke([question])
    result = ToolMessage("18 C, cloudy", tool_call_id=turn.tool_calls[0]["id"])
    final = llm.invoke([question, turn, result])
    assert final.content == "It is 18 °C and cloudy in Bilbao."
    sent = bodies(handler)[1]["messages"][1]
    assert sent["role"] == "assistant"
    assert sent["reasoning_content"] == turn.additional_kwargs["reasoning_content"]
    assert sent["tool_calls"][0]["id"] == "chatcmpl-tool-4b1e9f0c2d7a4c3e"


AUDIO = {"type": "audio", "base64": "UklGRg==", "mime_type": "audio/wav"}


def test_audio_refused_only_when_the_model_says_no(make_chat: MakeChat) -> None:
    no_audio = model_list(**{"hypernova-60b": {"supports_audio": False}})
    handler = route(chat=completion("never"), models=no_audio)
    message = HumanMessage([{"type": "text", "text": "What is said?"}, AUDIO])
    with pytest.raises(ModelCapabilityError, match="does not take audio") as info:
        make_chat(handler).invoke([message])
    assert info.value.capability == "audio"
    assert all(r.url.path == "/v1/models" for r in handler.requests)
    unknown = route(chat=completion("Hello."), models=model_list(**{"hypernova-60b": {}}))
    assert make_chat(unknown).invoke([message]).content == "Hello."  # not stated: allowed
    assert bodies(unknown)[0]["messages"][0]["content"][1]["type"] == "input_audio"
