"""CompactifAI LLM: every public call, sync and async, on a MockTransport (no network)."""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import httpx
import pytest
from llama_index.core.base.llms.types import ChatMessage, ThinkingBlock
from llama_index.core.constants import DEFAULT_NUM_OUTPUTS

from compactifai import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    InternalServerError,
    InvalidRequestError,
    RateLimitError,
)
from compactifai._catalogue import DEFAULT_CONTEXT_WINDOW
from llama_index_compactifai import CompactifAI
from tests.helpers import Recorder, json_response, sse, sse_response
from tests.llama_index.unit.support import (
    API_KEY,
    USAGE,
    chunk,
    completion,
    make_llm,
    text_chunks,
)

HI = [ChatMessage(role="user", content="Hi")]
TOKENS = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}


def _completions_answer(text: str = " Paris.") -> dict[str, Any]:
    return {
        "id": "cmpl-1",
        "object": "text_completion",
        "created": 1749600000,
        "model": "hypernova-60b",
        "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": "stop"}],
        "usage": TOKENS,
    }


def _completion_chunks(*pieces: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"id": "c", "object": "text_completion", "created": 1, "model": "m",
         "choices": [{"text": p, "index": 0, "finish_reason": None}]}
        for p in pieces
    ]
    out.append({"id": "c", "object": "text_completion", "created": 1, "model": "m",
                "choices": [], "usage": USAGE})
    return out


# ---------------------------------------------------------------- chat


def test_chat_sends_the_conversation_and_returns_text_and_usage() -> None:
    rec = Recorder(json_response(completion("Hello!")))
    llm = make_llm(rec, max_tokens=20)
    response = llm.chat(
        [ChatMessage(role="system", content="Be brief."), ChatMessage(role="user", content="Hi")]
    )
    assert response.message.role == "assistant"
    assert response.message.content == "Hello!"
    assert response.additional_kwargs == TOKENS
    assert response.raw.usage.total_tokens == 10
    request = rec.requests[0]
    assert request.url.path == "/v1/chat/completions"
    assert rec.body() == {
        "model": "hypernova-60b",
        "temperature": 0,
        "max_tokens": 20,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
        ],
    }
    assert request.headers["authorization"] == f"Bearer {API_KEY}"


async def test_achat() -> None:
    rec = Recorder(json_response(completion("Hello async!")))
    response = await make_llm(rec).achat(HI)
    assert response.message.content == "Hello async!"
    assert response.additional_kwargs == TOKENS
    assert rec.body()["messages"] == [{"role": "user", "content": "Hi"}]


def test_stream_chat_yields_cumulative_message_delta_and_usage() -> None:
    rec = Recorder(sse_response(sse(*text_chunks("Hel", "lo", "!"))))
    responses = list(make_llm(rec).stream_chat(HI))
    assert [r.delta for r in responses] == ["", "Hel", "lo", "!", "", ""]
    assert [r.message.content for r in responses] == ["", "Hel", "Hello", "Hello!", "Hello!",
                                                       "Hello!"]
    assert all(r.message.role == "assistant" for r in responses)
    assert responses[-1].additional_kwargs == USAGE
    assert responses[-1].raw["usage"] == USAGE
    assert all(r.additional_kwargs == {} for r in responses[:-1])
    body = rec.body()
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


async def test_astream_chat() -> None:
    rec = Recorder(sse_response(sse(*text_chunks("a", "b"))))
    gen = await make_llm(rec).astream_chat(HI)
    responses = [r async for r in gen]
    assert [r.delta for r in responses] == ["", "a", "b", "", ""]
    assert responses[-1].message.content == "ab"
    assert responses[-1].additional_kwargs == USAGE
    assert rec.body()["stream_options"] == {"include_usage": True}


def test_stream_without_usage_chunk_still_ends_cleanly() -> None:
    rec = Recorder(sse_response(sse(*text_chunks("x", usage=False))))
    responses = list(make_llm(rec).stream_chat(HI))
    assert responses[-1].message.content == "x"
    assert responses[-1].additional_kwargs == {}


# ---------------------------------------------------------------- complete


def test_complete_goes_through_chat() -> None:
    rec = Recorder(json_response(completion("Paris")))
    response = make_llm(rec).complete("Capital of France?")
    assert response.text == "Paris"
    assert response.additional_kwargs == TOKENS
    assert rec.requests[0].url.path == "/v1/chat/completions"
    assert rec.body()["messages"] == [{"role": "user", "content": "Capital of France?"}]


async def test_acomplete_goes_through_chat() -> None:
    rec = Recorder(json_response(completion("Paris")))
    response = await make_llm(rec).acomplete("Capital of France?")
    assert (response.text, response.additional_kwargs) == ("Paris", TOKENS)
    assert rec.requests[0].url.path == "/v1/chat/completions"


def test_stream_complete_through_chat() -> None:
    rec = Recorder(sse_response(sse(*text_chunks("Pa", "ris"))))
    responses = list(make_llm(rec).stream_complete("Capital?"))
    assert [r.text for r in responses] == ["", "Pa", "Paris", "Paris", "Paris"]
    assert [r.delta for r in responses] == ["", "Pa", "ris", "", ""]
    assert responses[-1].additional_kwargs == USAGE


async def test_astream_complete_through_chat() -> None:
    rec = Recorder(sse_response(sse(*text_chunks("Pa", "ris"))))
    gen = await make_llm(rec).astream_complete("Capital?")
    responses = [r async for r in gen]
    assert responses[-1].text == "Paris"
    assert responses[-1].additional_kwargs == USAGE


def test_complete_on_the_completions_endpoint() -> None:
    rec = Recorder(json_response(_completions_answer()))
    llm = make_llm(rec, use_completions_endpoint=True, max_tokens=8)
    response = llm.complete("The capital of France is")
    assert (response.text, response.additional_kwargs) == (" Paris.", TOKENS)
    assert rec.requests[0].url.path == "/v1/completions"
    assert rec.body() == {
        "model": "hypernova-60b",
        "temperature": 0,
        "max_tokens": 8,
        "prompt": "The capital of France is",
    }


async def test_acomplete_on_the_completions_endpoint() -> None:
    rec = Recorder(json_response(_completions_answer()))
    response = await make_llm(rec, use_completions_endpoint=True).acomplete("Capital:")
    assert response.text == " Paris."
    assert rec.requests[0].url.path == "/v1/completions"


def test_stream_complete_on_the_completions_endpoint() -> None:
    rec = Recorder(sse_response(sse(*_completion_chunks(" Pa", "ris"))))
    responses = list(make_llm(rec, use_completions_endpoint=True).stream_complete("Capital:"))
    assert [r.delta for r in responses] == [" Pa", "ris", ""]
    assert responses[-1].text == " Paris"
    assert responses[-1].additional_kwargs == USAGE
    assert rec.requests[0].url.path == "/v1/completions"
    assert rec.body()["stream_options"] == {"include_usage": True}


async def test_astream_complete_on_the_completions_endpoint() -> None:
    rec = Recorder(sse_response(sse(*_completion_chunks("a", "b"))))
    gen = await make_llm(rec, use_completions_endpoint=True).astream_complete("x")
    responses = [r async for r in gen]
    assert responses[-1].text == "ab"
    assert responses[-1].additional_kwargs == USAGE


# ---------------------------------------------------------------- reasoning


def test_reasoning_content_becomes_a_thinking_block() -> None:
    rec = Recorder(json_response(completion("42", reasoning_content="6 times 7")))
    message = make_llm(rec).chat(HI).message
    assert isinstance(message.blocks[0], ThinkingBlock)
    assert message.blocks[0].content == "6 times 7"
    assert message.content == "42"


def test_no_thinking_block_when_reasoning_is_null() -> None:
    rec = Recorder(json_response(completion("42", reasoning_content=None)))
    message = make_llm(rec).chat(HI).message
    assert not any(isinstance(b, ThinkingBlock) for b in message.blocks)


async def test_streamed_reasoning_accumulates_into_a_thinking_block() -> None:
    chunks = [
        chunk({"reasoning_content": "6 times "}),
        chunk({"reasoning_content": "7"}),
        chunk({"content": "42"}),
        chunk(usage=USAGE),
    ]
    rec = Recorder(sse_response(sse(*chunks)))
    gen = await make_llm(rec).astream_chat(HI)
    responses = [r async for r in gen]
    assert responses[1].additional_kwargs["thinking_delta"] == "7"
    last = responses[-1].message
    assert isinstance(last.blocks[0], ThinkingBlock)
    assert last.blocks[0].content == "6 times 7"
    assert last.content == "42"


# ---------------------------------------------------------------- parameters


def test_additional_kwargs_and_call_kwargs_are_all_sent() -> None:
    rec = Recorder(json_response(completion()))
    llm = make_llm(rec, additional_kwargs={"top_p": 0.5, "top_k": 20, "seed": 1})
    llm.chat(HI, stop=["\n"], repetition_penalty=1.1, ignored_none=None)
    body = rec.body()
    assert body["top_p"] == 0.5
    assert body["seed"] == 1
    assert body["stop"] == ["\n"]
    assert body["top_k"] == 20  # not a named API field: sent through extra_body
    assert body["repetition_penalty"] == 1.1
    assert "ignored_none" not in body


def test_call_kwargs_override_settings() -> None:
    rec = Recorder(json_response(completion()))
    make_llm(rec, temperature=0.2, additional_kwargs={"top_p": 0.5}).chat(
        HI, temperature=0.9, top_p=0.1
    )
    assert (rec.body()["temperature"], rec.body()["top_p"]) == (0.9, 0.1)


def test_temperature_none_sends_none() -> None:
    rec = Recorder(json_response(completion()))
    make_llm(rec, temperature=None).chat(HI)
    assert "temperature" not in rec.body()


def test_out_of_range_argument_is_refused_before_sending() -> None:
    rec = Recorder(json_response(completion()))
    with pytest.raises(InvalidRequestError):
        make_llm(rec, additional_kwargs={"top_p": 3.0}).chat(HI)
    assert rec.requests == []


def test_default_headers_and_per_call_headers() -> None:
    rec = Recorder(json_response(completion()), json_response(completion()))
    llm = make_llm(rec, default_headers={"X-Team": "a"})
    llm.chat(HI)
    llm.chat(HI, extra_headers={"X-Trace": "t1"})
    assert rec.requests[0].headers["x-team"] == "a"
    assert rec.requests[1].headers["x-trace"] == "t1"


# ---------------------------------------------------------------- metadata


def test_metadata_from_the_catalogue_without_a_request() -> None:
    rec = Recorder()
    meta = make_llm(rec, max_tokens=128).metadata
    assert meta.context_window == 131072
    assert meta.num_output == 128
    assert meta.is_chat_model is True
    assert meta.is_function_calling_model is True
    assert meta.model_name == "hypernova-60b"
    assert rec.requests == []


def test_metadata_of_other_models() -> None:
    rec = Recorder()
    mistral = make_llm(rec, model="mistral-small-3-1").metadata
    assert mistral.is_function_calling_model is False
    local = make_llm(rec, model="smollm2-135m-instruct").metadata
    assert (local.context_window, local.is_function_calling_model) == (2048, True)
    unknown = make_llm(rec, model="brand-new-model").metadata
    assert unknown.context_window == DEFAULT_CONTEXT_WINDOW
    assert unknown.is_function_calling_model is True  # unknown: the server decides
    assert unknown.num_output == DEFAULT_NUM_OUTPUTS
    assert rec.requests == []


def test_metadata_overrides() -> None:
    meta = make_llm(Recorder(), model="mistral-small-3-1", context_window=4096,
                    is_function_calling_model=True).metadata
    assert (meta.context_window, meta.is_function_calling_model) == (4096, True)


def test_metadata_uses_the_model_list_once_a_client_has_read_it() -> None:
    listing = {"object": "list", "data": [{
        "id": "hypernova-60b", "object": "model",
        "capabilities": {"supports_function_calling": False, "supports_image": True},
    }]}
    rec = Recorder(json_response(listing))
    llm = make_llm(rec)
    assert llm.metadata.is_function_calling_model is True
    llm._sync_client().model_profile("hypernova-60b")
    assert llm.metadata.is_function_calling_model is False


async def test_metadata_uses_the_async_clients_model_list_too() -> None:
    listing = {"object": "list", "data": [{
        "id": "hypernova-60b", "object": "model",
        "capabilities": {"supports_function_calling": False},
    }]}
    llm = make_llm(Recorder(json_response(listing)))  # builds both clients
    await llm._async_client().model_profile("hypernova-60b")
    assert llm.metadata.is_function_calling_model is False


# ---------------------------------------------------------------- configuration


def test_key_and_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPACTIFAI_API_KEY", "sk-from-env-999")
    monkeypatch.setenv("COMPACTIFAI_BASE_URL", "http://127.0.0.1:9/v1")
    llm = CompactifAI()
    assert llm.api_key is not None
    assert llm.api_key.get_secret_value() == "sk-from-env-999"
    assert llm.base_url == "http://127.0.0.1:9/v1"
    assert llm._sync_client().base_url == "http://127.0.0.1:9/v1"


def test_default_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMPACTIFAI_BASE_URL", raising=False)
    assert CompactifAI(api_key="k").base_url == "https://api.compactif.ai/v1"


def test_missing_key_is_a_configuration_error_at_first_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("COMPACTIFAI_API_KEY", raising=False)
    llm = CompactifAI()  # building needs no key: metadata, serialization, Settings
    assert llm.metadata.model_name == "smollm2-135m-instruct"  # the pinned URL is local
    with pytest.raises(ConfigurationError, match="COMPACTIFAI_API_KEY"):
        llm.chat(HI)


def test_key_never_shows() -> None:
    llm = CompactifAI(api_key="sk-very-secret-key-1")
    for text in (repr(llm), str(llm), json.dumps(llm.to_dict()), llm.to_json(),
                 repr(llm.model_dump()), json.dumps(llm.to_payload(), default=str)):
        assert "sk-very-secret-key-1" not in text


def test_clients_are_built_once_and_rebuilt_after_a_connection_setting_changes() -> None:
    llm = CompactifAI(api_key="k", base_url="http://127.0.0.1:9/v1")
    first = llm._sync_client()
    assert llm._sync_client() is first
    assert llm._async_client() is llm._async_client()
    llm.temperature = 0.5
    assert llm._sync_client() is first
    llm.base_url = "http://127.0.0.1:10/v1"
    assert llm._sync_client() is not first
    assert llm._sync_client().base_url == "http://127.0.0.1:10/v1"


def test_pickle_and_copy_rebuild_clients_lazily() -> None:
    rec = Recorder(json_response(completion()))
    llm = make_llm(rec, model="smollm2-135m-instruct", max_tokens=9,
                   additional_kwargs={"seed": 3})
    llm.chat(HI)
    for clone in (pickle.loads(pickle.dumps(llm)), copy.deepcopy(llm)):
        assert isinstance(clone, CompactifAI)
        assert (clone.model, clone.max_tokens, clone.additional_kwargs) == (
            "smollm2-135m-instruct", 9, {"seed": 3}
        )
        assert clone.api_key is not None and clone.api_key.get_secret_value() == API_KEY
        assert clone._clients.sync is None and clone._clients.async_ is None
        assert clone._sync_client().base_url == llm.base_url


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, BadRequestError), (401, AuthenticationError), (429, RateLimitError),
     (500, InternalServerError)],
)
def test_typed_errors_come_through(status: int, error: type[Exception]) -> None:
    rec = Recorder(json_response({"error": {"message": "nope", "type": "x"}}, status=status))
    with pytest.raises(error, match="nope"):
        make_llm(rec).chat(HI)


def test_auth_errors_are_not_retried_sync_and_stream() -> None:
    rec = Recorder(json_response({"error": {"message": "bad key"}}, status=401))
    llm = make_llm(rec, max_retries=3)
    with pytest.raises(AuthenticationError):
        llm.chat(HI)
    with pytest.raises(AuthenticationError):
        list(llm.stream_chat(HI))
    assert len(rec.requests) == 2


async def test_auth_errors_are_not_retried_async() -> None:
    rec = Recorder(json_response({"error": {"message": "bad key"}}, status=401))
    llm = make_llm(rec, max_retries=3)
    with pytest.raises(AuthenticationError):
        await llm.achat(HI)
    with pytest.raises(AuthenticationError):
        await llm.acomplete("x")
    assert len(rec.requests) == 2


def test_server_errors_are_retried_up_to_max_retries() -> None:
    rec = Recorder(
        json_response({"error": {"message": "busy"}}, status=503),
        json_response({"error": {"message": "busy"}}, status=503),
        json_response(completion("finally")),
    )
    assert make_llm(rec, max_retries=2).chat(HI).message.content == "finally"
    assert len(rec.requests) == 3


async def test_async_stream_errors_are_typed() -> None:
    rec = Recorder(json_response({"error": {"message": "no such model"}}, status=404))
    from compactifai import NotFoundError

    gen = await make_llm(rec).astream_chat(HI)
    with pytest.raises(NotFoundError, match="no such model"):
        async for _ in gen:
            pass


def test_per_call_timeout_reaches_the_request() -> None:
    seen: list[Any] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return json_response(completion())

    make_llm(Recorder(answer), timeout=30).chat(HI, timeout=5)
    assert seen[0]["read"] == 5


# ---------------------------------------------------------------- today's chat parameters (issue 12 §5)

_REASONING = __import__("pathlib").Path(__file__).resolve().parents[2] / "fixtures" / "reasoning"


def _reasoning(name: str) -> Any:
    return json.loads((_REASONING / name).read_text(encoding="utf-8"))


def test_todays_parameters_are_sent_with_every_chat() -> None:
    rec = Recorder(json_response(completion()))
    llm = make_llm(rec, reasoning_effort="high", reasoning_enabled=True, min_tokens=8,
                   ignore_eos=True)
    llm.chat(HI)
    body = rec.body()
    assert (body["reasoning_effort"], body["reasoning_enabled"], body["min_tokens"],
            body["ignore_eos"]) == ("high", True, 8, True)
    llm.chat(HI, reasoning_effort="none")  # a call's own value wins
    assert rec.body()["reasoning_effort"] == "none"


def test_todays_parameters_stay_off_the_completions_endpoint() -> None:
    rec = Recorder(json_response(_completions_answer()))
    make_llm(rec, reasoning_effort="low", use_completions_endpoint=True).complete("Hi")
    assert "reasoning_effort" not in rec.body()


def test_an_unknown_effort_is_refused_naming_the_levels() -> None:
    allowed = "'none', 'low', 'medium', 'high', 'xhigh', 'max'"
    with pytest.raises(InvalidRequestError, match=allowed) as info:
        CompactifAI(api_key=API_KEY, reasoning_effort="minimal")
    assert info.value.param == "reasoning_effort"
    rec = Recorder(json_response(completion()))
    with pytest.raises(InvalidRequestError, match=allowed):
        make_llm(rec).chat(HI, reasoning_effort="extreme")
    assert rec.requests == []
    with pytest.raises(InvalidRequestError, match="min_tokens"):
        CompactifAI(api_key=API_KEY, min_tokens=-5)


def test_a_level_the_model_refuses_is_the_servers_typed_error() -> None:
    refusal = {"error": {"message": "Invalid request: model 'hypernova-60b' does not support "
                         "reasoning_effort 'max'; supported: [low, medium, high]",
                         "type": "invalid_request_error", "param": None, "code": None}}
    rec = Recorder(json_response(refusal, status=400))
    with pytest.raises(BadRequestError, match="supported: \\[low, medium, high\\]"):
        make_llm(rec, reasoning_effort="max").chat(HI)


def test_reasoning_answer_is_a_thinking_block() -> None:
    rec = Recorder(json_response(_reasoning("tool_call_answer.json")))
    response = make_llm(rec, model="hypernova-60b").chat(HI)
    thinking = [b for b in response.message.blocks if isinstance(b, ThinkingBlock)]
    assert thinking[0].content == _reasoning("tool_call_answer.json")["choices"][0][
        "message"]["reasoning_content"]
    assert response.additional_kwargs["reasoning_tokens"] == 29


def test_streamed_reasoning_without_a_usage_chunk_is_normal() -> None:
    import warnings

    chunks = _reasoning("stream_without_usage.json")
    rec = Recorder(sse_response(sse(*chunks)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        responses = list(make_llm(rec, model="hypernova-60b").stream_chat(HI))
    last = responses[-1]
    reasoning = "".join(c["choices"][0]["delta"].get("reasoning_content") or "" for c in chunks)
    (thinking,) = [b for b in last.message.blocks if isinstance(b, ThinkingBlock)]
    assert thinking.content == reasoning
    assert [r.additional_kwargs.get("thinking_delta") for r in responses if
            r.additional_kwargs.get("thinking_delta")] == [
        c["choices"][0]["delta"]["reasoning_content"] for c in chunks
        if c["choices"][0]["delta"].get("reasoning_content")]
    assert all("prompt_tokens" not in r.additional_kwargs for r in responses)  # no usage: none
    (selection,) = make_llm(rec).get_tool_calls_from_response(last)
    assert (selection.tool_name, selection.tool_kwargs) == ("get_weather", {"city": "Bilbao"})


async def test_astreamed_reasoning_without_a_usage_chunk() -> None:
    rec = Recorder(sse_response(sse(*_reasoning("stream_without_usage.json"))))
    gen = await make_llm(rec, model="hypernova-60b").astream_chat(HI)
    responses = [r async for r in gen]
    assert any(isinstance(b, ThinkingBlock) for b in responses[-1].message.blocks)


def test_tool_loop_sends_the_thinking_back() -> None:
    """A reasoning model's tool loop through chat_with_tools: the turn that called the tool
    is sent back with its reasoning as ``reasoning_content``."""
    from llama_index.core.tools import FunctionTool

    def get_weather(city: str) -> str:
        """The weather in a city."""
        return "18 C, cloudy"

    tool = FunctionTool.from_defaults(get_weather)
    rec = Recorder(json_response(_reasoning("tool_call_answer.json")),
                   json_response(_reasoning("final_answer.json")))
    llm = make_llm(rec, model="hypernova-60b")
    history = [ChatMessage(role="user", content="Weather in Bilbao?")]
    turn = llm.chat_with_tools([tool], chat_history=history)
    (call,) = llm.get_tool_calls_from_response(turn)
    history += [turn.message, ChatMessage(role="tool", content=tool(**call.tool_kwargs).content,
                                          additional_kwargs={"tool_call_id": call.tool_id})]
    final = llm.chat_with_tools([tool], chat_history=history)
    assert final.message.content == "It is 18 °C and cloudy in Bilbao."
    sent = rec.body(1)["messages"]
    assert sent[1]["role"] == "assistant" and sent[1]["tool_calls"][0]["id"] == call.tool_id
    assert sent[1]["reasoning_content"].startswith("The user asks for the weather")
    assert sent[2] == {"role": "tool", "content": "18 C, cloudy", "tool_call_id": call.tool_id}
