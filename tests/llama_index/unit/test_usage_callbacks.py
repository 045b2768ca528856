"""Token usage through LlamaIndex's CallbackManager: CompactifAIUsageCallbackHandler fed by the
CompactifAI LLM over MockTransport (chat, complete, streams, async)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.callbacks import CallbackManager, CBEventType, EventPayload

from compactifai import ConfigurationError, PriceTable, UsageTally
from llama_index_compactifai import CompactifAI, CompactifAIUsageCallbackHandler
from tests.helpers import Recorder, json_response, sse, sse_response

from .support import make_llm

MODEL = "hypernova-60b"
PRICES = PriceTable({MODEL: (2.0, 4.0)}, as_of="2026-09-01", source="test", currency="EUR")
HI = [ChatMessage(role="user", content="Hi")]


def usage(prompt: int, completion: int, reasoning: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if reasoning is not None:
        out["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return out


def answer(u: dict[str, Any] | None, *, model: str = MODEL) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello"},
                "finish_reason": "stop",
            }
        ],
        "usage": u,
    }


def streamed(u: dict[str, Any] | None) -> bytes:
    base = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": MODEL}
    events: list[Any] = [
        {**base, "choices": [{"index": 0, "delta": {"content": "He"}, "finish_reason": None}]},
        {**base, "choices": [{"index": 0, "delta": {"content": "llo"}, "finish_reason": "stop"}]},
    ]
    if u is not None:
        events.append({**base, "choices": [], "usage": u})
    return sse(*events)


def llm_with(rec: Recorder, handler: CompactifAIUsageCallbackHandler, **kw: Any) -> CompactifAI:
    return make_llm(rec, model=MODEL, callback_manager=CallbackManager([handler]), **kw)


def test_chat_complete_and_streams_are_counted_and_priced() -> None:
    rec = Recorder(
        json_response(answer(usage(10, 5, reasoning=3))),
        json_response(answer(usage(1, 1))),
        sse_response(streamed(usage(4, 2))),
        sse_response(streamed(usage(3, 3))),
    )
    handler = CompactifAIUsageCallbackHandler(price_table=PRICES)
    llm = llm_with(rec, handler)
    assert llm.chat(HI).message.content == "Hello"
    assert llm.complete("Hi").text == "Hello"
    assert [r.delta for r in llm.stream_chat(HI)][-1] == ""
    assert "".join(r.delta or "" for r in llm.stream_complete("Hi")) == "Hello"
    total = handler.summary().total
    assert (total.requests, total.unreported) == (4, 0)
    assert (total.prompt_tokens, total.completion_tokens, total.reasoning_tokens) == (18, 11, 3)
    assert handler.total_cost == pytest.approx((18 * 2.0 + 11 * 4.0) / 1e6)
    assert handler.tally.models() == [MODEL]
    assert "prices as of 2026-09-01" in str(handler)


def test_the_text_completions_endpoint_is_counted() -> None:
    text = {
        "id": "cmpl-1",
        "object": "text_completion",
        "created": 1,
        "model": MODEL,
        "choices": [{"index": 0, "text": "yes", "finish_reason": "stop"}],
        "usage": usage(6, 1),
    }
    handler = CompactifAIUsageCallbackHandler()
    llm = llm_with(Recorder(json_response(text)), handler, use_completions_endpoint=True)
    assert llm.complete("ok?").text == "yes"
    assert handler.total_tokens == 7


def test_a_stream_without_usage_is_unreported_under_the_asked_model() -> None:
    handler = CompactifAIUsageCallbackHandler()
    llm = llm_with(Recorder(sse_response(streamed(None))), handler)
    list(llm.stream_chat(HI))
    row = handler.summary().rows[0]
    assert (row.model, row.requests, row.unreported, row.total_tokens) == (MODEL, 0, 1, 0)


def test_a_failed_call_adds_nothing() -> None:
    rec = Recorder(
        json_response({"error": {"message": "no", "type": "invalid_request_error"}}, 400)
    )
    handler = CompactifAIUsageCallbackHandler()
    llm = llm_with(rec, handler)
    with pytest.raises(Exception, match="no"):
        llm.chat(HI)
    assert handler.summary().rows == ()


def test_async_calls_are_counted() -> None:
    rec = Recorder(
        lambda request: (
            sse_response(streamed(usage(2, 2)))
            if b'"stream":true' in request.content
            else json_response(answer(usage(5, 5)))
        )
    )
    handler = CompactifAIUsageCallbackHandler()
    llm = llm_with(rec, handler)

    async def main() -> None:
        await asyncio.gather(*(llm.achat(HI) for _ in range(10)))
        async for _ in await llm.astream_chat(HI):
            pass

    asyncio.run(main())
    total = handler.summary().total
    assert (total.requests, total.total_tokens) == (11, 104)


def test_a_shared_tally_through_settings_style_manager() -> None:
    tally = UsageTally()
    manager = CallbackManager([CompactifAIUsageCallbackHandler(tally)])
    rec = Recorder(json_response(answer(usage(1, 2), model="served-name")))
    llm = make_llm(rec, model=MODEL, callback_manager=manager)
    llm.chat(HI)
    assert tally.models() == ["served-name"]  # the answer's own model wins


def test_events_other_than_llm_and_odd_payloads_are_ignored() -> None:
    handler = CompactifAIUsageCallbackHandler()
    assert handler.event_starts_to_ignore and CBEventType.LLM not in handler.event_ends_to_ignore
    handler.on_event_end(CBEventType.QUERY, {EventPayload.RESPONSE: object()}, event_id="q")
    handler.on_event_end(CBEventType.LLM, None, event_id="x")
    handler.on_event_end(CBEventType.LLM, {EventPayload.COMPLETION: "plain text"}, event_id="y")
    assert handler.summary().rows == ()


def test_the_start_events_model_map_is_bounded() -> None:
    handler = CompactifAIUsageCallbackHandler()
    for i in range(3000):  # streams started and never read never end their event
        handler.on_event_start(
            CBEventType.LLM, {EventPayload.SERIALIZED: {"model": "m"}}, event_id=str(i)
        )
    assert len(handler._models) <= 1024


def test_a_tally_and_a_price_table_together_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="not both"):
        CompactifAIUsageCallbackHandler(UsageTally(), price_table=PRICES)


def test_the_docstring_examples_run() -> None:
    import doctest

    from llama_index_compactifai import callbacks

    result = doctest.testmod(callbacks)
    assert result.failed == 0 and result.attempted > 0
