"""Token usage through LangChain's callbacks: CompactifAIUsageCallbackHandler and
get_compactifai_callback, fed by ChatCompactifAI and CompactifAI over MockTransport."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, Generation, LLMResult

from compactifai import ConfigurationError, PriceTable, UsageTally
from langchain_compactifai import (
    ChatCompactifAI,
    CompactifAI,
    CompactifAIUsageCallbackHandler,
    get_compactifai_callback,
)
from tests.helpers import Recorder, json_response

from .wire import chunk, stream_response
from .wire import completion as wire_completion

MODEL = "hypernova-60b"  # a current model: no withdrawn-model warning

MakeChat = Callable[..., ChatCompactifAI]
MakeLLM = Callable[..., CompactifAI]

PRICES = PriceTable({MODEL: (1.0, 3.0)}, as_of="2026-09-01", source="test", currency="EUR")


def usage(prompt: int, completion_tokens: int, reasoning: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt + completion_tokens,
    }
    if reasoning is not None:
        out["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return out


def completion(content: str, *, usage: dict[str, Any]) -> dict[str, Any]:
    return wire_completion(content, usage=usage, model=MODEL)


def text_stream(*pieces: str, usage: dict[str, Any] | None) -> list[dict[str, Any]]:
    """A streamed chat answer: pieces, finish, then (when given) the usage chunk."""
    out = [chunk({"content": p}, model=MODEL) for p in pieces]
    out.append(chunk(finish_reason="stop", model=MODEL))
    if usage is not None:
        out.append(chunk(choices=False, usage=usage, model=MODEL))
    return out


def text_answer(*texts: str, u: dict[str, Any] | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "cmpl-1",
        "object": "text_completion",
        "created": 1,
        "model": MODEL,
        "choices": [{"text": t, "index": i, "finish_reason": "stop"} for i, t in enumerate(texts)],
    }
    if u is not None:
        body["usage"] = u
    return body


def test_invoke_and_stream_are_counted_per_model(make_chat: MakeChat) -> None:
    rec = Recorder(
        json_response(completion("Hi", usage=usage(10, 2, reasoning=1))),
        stream_response(text_stream("He", "llo", usage=usage(4, 3))),
    )
    llm = make_chat(rec, model=MODEL)
    handler = CompactifAIUsageCallbackHandler(price_table=PRICES)
    llm.invoke("Hello", config={"callbacks": [handler]})
    assert "".join(str(c.content) for c in llm.stream("Hi", config={"callbacks": [handler]}))
    assert (handler.prompt_tokens, handler.completion_tokens, handler.total_tokens) == (14, 5, 19)
    assert handler.reasoning_tokens == 1 and handler.successful_requests == 2
    assert handler.total_cost == pytest.approx((14 * 1.0 + 5 * 3.0) / 1e6)
    assert handler.summary().rows[0].model == MODEL
    assert "prices as of 2026-09-01" in str(handler)


def test_a_stream_without_usage_is_unreported(make_chat: MakeChat) -> None:
    rec = Recorder(stream_response(text_stream("Hi", usage=None)))
    llm = make_chat(rec, model=MODEL)
    with get_compactifai_callback() as cb:
        list(llm.stream("Hello"))
    total = cb.summary().total
    assert (total.requests, total.unreported, total.total_tokens) == (0, 1, 0)
    assert cb.summary().rows[0].model == MODEL  # the model is known without usage


def test_the_with_block_counts_nested_runs_and_only_inside_it(make_chat: MakeChat) -> None:
    from langchain_core.runnables import RunnableLambda

    rec = Recorder(json_response(completion("Hi", usage=usage(5, 5))))
    llm = make_chat(rec, model=MODEL)
    chain = RunnableLambda(lambda text: text) | llm
    tally = UsageTally()
    with get_compactifai_callback(tally) as cb:
        chain.invoke("a")
        llm.batch(["b", "c"])
        assert cb.tally is tally
    llm.invoke("outside")  # not counted
    assert tally.summary().total.requests == 3
    assert cb.total_tokens == 30


def test_inner_blocks_count_for_themselves(make_chat: MakeChat) -> None:
    rec = Recorder(json_response(completion("Hi", usage=usage(1, 1))))
    llm = make_chat(rec, model=MODEL)
    with get_compactifai_callback() as outer:
        llm.invoke("a")
        with get_compactifai_callback() as inner:
            llm.invoke("b")
        llm.invoke("c")
    assert (outer.successful_requests, inner.successful_requests) == (2, 1)


async def test_async_runs_are_counted(make_chat: MakeChat) -> None:
    rec = Recorder(
        lambda request: (
            stream_response(text_stream("x", usage=usage(2, 1)))
            if b'"stream":true' in request.content
            else json_response(completion("Hi", usage=usage(3, 4)))
        )
    )
    llm = make_chat(rec, model=MODEL)
    with get_compactifai_callback() as cb:
        await asyncio.gather(*(llm.ainvoke("a") for _ in range(10)))
        async for _ in llm.astream("b"):
            pass
    total = cb.summary().total
    assert (total.requests, total.prompt_tokens, total.completion_tokens) == (11, 32, 41)


def test_text_llm_batches_are_counted_once(make_llm: MakeLLM) -> None:
    rec = Recorder(json_response(text_answer("1", "2", u=usage(6, 10))))
    llm = make_llm(rec, model=MODEL)
    with get_compactifai_callback() as cb:
        assert llm.batch(["a", "b"]) == ["1", "2"]
    total = cb.summary().total
    # LangChain reports the batch's usage on the first prompt's run only
    assert (total.requests, total.unreported, total.total_tokens) == (1, 0, 16)


def test_text_llm_streams_are_counted(make_llm: MakeLLM) -> None:
    events = [
        text_answer("Once", u=None),
        text_answer(" upon", u=None),
        {**text_answer(u=usage(3, 2)), "choices": []},
    ]
    rec = Recorder(stream_response(events), stream_response(events[:2]))
    llm = make_llm(rec, model=MODEL)
    with get_compactifai_callback() as cb:
        assert "".join(llm.stream("a")) == "Once upon"
        assert "".join(llm.stream("b")) == "Once upon"  # no usage chunk
    total = cb.summary().total
    assert (total.requests, total.unreported, total.total_tokens) == (1, 1, 5)
    assert cb.tally.models() == [MODEL]


def test_results_read_as_langchain_hands_them() -> None:
    """The shapes of on_llm_end, checked without a model: n>1 choices share one usage."""
    handler = CompactifAIUsageCallbackHandler()
    meta = {"model_name": "m"}
    um = {
        "input_tokens": 2,
        "output_tokens": 3,
        "total_tokens": 5,
        "input_token_details": {"cache_read": 1},
        "output_token_details": {"reasoning": 2},
    }
    two = [
        ChatGeneration(message=AIMessage("a", response_metadata=meta, usage_metadata=um)),
        ChatGeneration(message=AIMessage("b", response_metadata=meta, usage_metadata=um)),
    ]
    handler.on_llm_end(LLMResult(generations=[two]))
    handler.on_llm_end(
        LLMResult(
            generations=[[Generation(text="x")]], llm_output={"token_usage": {}, "model_name": "m"}
        )
    )
    handler.on_llm_end(LLMResult(generations=[[]]))
    row = handler.summary().total
    assert (row.requests, row.unreported, row.total_tokens) == (1, 0, 5)
    assert (row.reasoning_tokens, row.cached_tokens) == (2, 1)


def test_a_tally_and_a_price_table_together_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="not both"):
        CompactifAIUsageCallbackHandler(UsageTally(), price_table=PRICES)


def test_chunks_with_usage_null_still_count_once(make_chat: MakeChat) -> None:
    events = [
        {**chunk({"content": "x"}, model=MODEL), "usage": None},
        {**chunk(finish_reason="stop", model=MODEL), "usage": None},
        chunk(choices=False, usage=usage(1, 1), model=MODEL),
    ]
    rec = Recorder(stream_response(events))
    llm = make_chat(rec, model=MODEL)
    with get_compactifai_callback() as cb:
        list(llm.stream("a"))
    assert (cb.successful_requests, cb.total_tokens) == (1, 2)


def test_the_docstring_examples_run() -> None:
    import doctest

    from langchain_compactifai import callbacks

    result = doctest.testmod(callbacks)
    assert result.failed == 0 and result.attempted > 0
