"""Errors leave the LangChain models as langchain-core model errors too, as langchain-openai's do.

Code that catches ``compactifai.RateLimitError`` and code that catches langchain-core's
``ModelRateLimitError`` both catch the same raised error; its attributes are unchanged.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from langchain_core.exceptions import (
    ContextOverflowError,
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelError,
    ModelInvalidRequestError,
    ModelNotFoundError,
    ModelPermissionDeniedError,
    ModelRateLimitError,
    ModelTimeoutError,
)

import compactifai
from langchain_compactifai import ChatCompactifAI, CompactifAI, ModelCapabilityError
from langchain_compactifai._errors import langchain_error
from tests.langchain.unit.wire import chunk, failing, model_list, route, stream_response

MakeChat = Callable[..., ChatCompactifAI]
MakeLLM = Callable[..., CompactifAI]

STATUSES = [
    (400, compactifai.BadRequestError, ModelInvalidRequestError),
    (401, compactifai.AuthenticationError, ModelAuthenticationError),
    (403, compactifai.PermissionDeniedError, ModelPermissionDeniedError),
    (404, compactifai.NotFoundError, ModelNotFoundError),
    (408, compactifai.RequestTimeoutError, ModelTimeoutError),
    (413, compactifai.PayloadTooLargeError, ModelInvalidRequestError),
    (422, compactifai.UnprocessableEntityError, ModelInvalidRequestError),
    (429, compactifai.RateLimitError, ModelRateLimitError),
    (500, compactifai.InternalServerError, ModelAPIError),
    (503, compactifai.InternalServerError, ModelAPIError),
]


def _error_body(status: int) -> dict[str, Any]:
    return {"error": {"message": f"failed with {status}", "code": str(status)}}


@pytest.mark.parametrize(("status", "ours", "theirs"), STATUSES)
def test_invoke_raises_both_kinds(
    make_chat: MakeChat, status: int, ours: type[Exception], theirs: type[Exception]
) -> None:
    handler = route(chat=failing(status, _error_body(status)))
    with pytest.raises(theirs) as info:
        make_chat(handler).invoke("hi")
    err = info.value
    assert isinstance(err, ours) and isinstance(err, compactifai.APIStatusError)
    assert err.status_code == status and err.message == f"failed with {status}"
    assert isinstance(err.__cause__, ours) and not isinstance(err.__cause__, ModelError)


@pytest.mark.parametrize(("status", "ours", "theirs"), STATUSES[:4])
async def test_streams_and_async_calls_raise_both_kinds(
    make_chat: MakeChat, status: int, ours: type[Exception], theirs: type[Exception]
) -> None:
    llm = make_chat(route(chat=failing(status, _error_body(status))))
    with pytest.raises(ours) as info:
        list(llm.stream("hi"))
    assert isinstance(info.value, theirs)
    with pytest.raises(theirs):
        await llm.ainvoke("hi")
    with pytest.raises(theirs):
        [c async for c in llm.astream("hi")]


@pytest.mark.parametrize(("status", "ours", "theirs"), STATUSES[::3])
async def test_the_llm_raises_both_kinds(
    make_llm: MakeLLM, status: int, ours: type[Exception], theirs: type[Exception]
) -> None:
    llm = make_llm(route(completions=failing(status, _error_body(status))))
    for call in (lambda: llm.invoke("hi"), lambda: list(llm.stream("hi"))):
        with pytest.raises(ours) as info:
            call()
        assert isinstance(info.value, theirs)
    with pytest.raises(theirs):
        await llm.ainvoke("hi")


@pytest.mark.parametrize(
    "message",
    [
        "This model's maximum context length is 8192 tokens. However, you requested 9000 "
        "tokens (8000 in the messages, 1000 in the completion).",
        "context_length_exceeded",
        "the request exceeds the available context size, try increasing it",
    ],
)
def test_a_prompt_over_the_context_is_a_context_overflow(make_chat: MakeChat,
                                                         message: str) -> None:
    handler = route(chat=failing(400, {"error": {"message": message}}))
    with pytest.raises(ContextOverflowError) as info:
        make_chat(handler).invoke("hi")
    assert isinstance(info.value, compactifai.BadRequestError)
    assert not isinstance(info.value, ModelInvalidRequestError)


def test_connection_failures_and_timeouts(make_chat: MakeChat) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(ModelConnectionError) as info:
        make_chat(refuse).invoke("hi")
    assert isinstance(info.value, compactifai.APIConnectionError)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(ModelTimeoutError) as timeout:
        make_chat(slow).invoke("hi")
    assert isinstance(timeout.value, compactifai.APITimeoutError)


def test_a_stream_broken_midway_is_a_connection_error(make_chat: MakeChat) -> None:
    from tests.helpers import sse

    class Breaks(httpx.SyncByteStream):
        def __iter__(self) -> Any:
            yield sse(chunk({"role": "assistant", "content": "Hel"}), done=False)
            raise httpx.RemoteProtocolError("peer closed connection")

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"},
                              stream=Breaks())

    with pytest.raises(compactifai.StreamInterruptedError) as info:
        list(make_chat(handler).stream("hi"))
    assert isinstance(info.value, ModelConnectionError)
    assert info.value.events_received == 1


def test_refusals_before_sending_are_invalid_requests(make_chat: MakeChat) -> None:
    models = model_list(**{"hypernova-60b": {"supports_image": False}})
    image = {"type": "image_url", "image_url": {"url": "https://x.test/cat.png"}}
    llm = make_chat(route(models=models))
    with pytest.raises(ModelCapabilityError) as info:
        llm.invoke([("user", [{"type": "text", "text": "What is it?"}, image])])
    assert isinstance(info.value, ModelInvalidRequestError)
    assert info.value.capability == "image"
    with pytest.raises(compactifai.InvalidRequestError) as refused:
        llm.bind_tools([{"type": "function", "function": {"name": "f"}}], tool_choice="nope")
    assert isinstance(refused.value, ModelInvalidRequestError)
    assert refused.value.param == "tool_choice"


def test_an_error_without_a_langchain_kind_is_raised_unchanged(make_chat: MakeChat) -> None:
    handler = route(chat=failing(409, _error_body(409)))
    with pytest.raises(compactifai.ConflictError) as info:
        make_chat(handler).invoke("hi")
    assert type(info.value) is compactifai.ConflictError


@pytest.mark.parametrize(
    "err",
    [
        compactifai.RateLimitError("slow down", status_code=429, request_id="req-1"),
        compactifai.StreamInterruptedError("reset", events_received=3, status_code=None),
        compactifai.ModelCapabilityError("no images", model="m", capability="image"),
        compactifai.InvalidRequestError("bad n", param="n"),
    ],
)
def test_converted_errors_keep_their_attributes_and_pickle(err: Exception) -> None:
    converted = langchain_error(err)
    assert isinstance(converted, type(err)) and isinstance(converted, ModelError)
    assert str(converted) == str(err) and vars(converted) == vars(err)
    copy = pickle.loads(pickle.dumps(converted))
    assert type(copy) is type(converted) and vars(copy) == vars(converted)
    assert langchain_error(converted) is converted


def test_stream_of_text_is_unaffected(make_chat: MakeChat) -> None:
    events = [chunk({"role": "assistant", "content": "ok"}), chunk(finish_reason="stop")]
    handler = route(chat=lambda: stream_response(events))
    assert "".join(str(c.content) for c in make_chat(handler).stream("hi")) == "ok"
