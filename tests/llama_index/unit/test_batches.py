"""CompactifAI (LlamaIndex) provider-side batches against the in-memory fake service."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from llama_index.core.base.llms.types import ChatMessage, ChatResponse
from llama_index.core.tools import FunctionTool

from compactifai import InvalidRequestError
from compactifai.batch_jobs import BatchCancelledError, BatchIncompleteError
from llama_index_compactifai import CompactifAI
from tests.fake_jobs import FakeJobsServer, echo_answer
from tests.helpers import BASE_URL


def make_llm(fake: FakeJobsServer, **kwargs: Any) -> CompactifAI:
    return CompactifAI(
        model="hypernova-60b",
        api_key="sk-test-123456",
        base_url=BASE_URL,
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(fake)),
        async_http_client=httpx.AsyncClient(transport=httpx.MockTransport(fake)),
        **kwargs,
    )


def inputs(n: int) -> list[list[ChatMessage]]:
    return [
        [ChatMessage(role="system", content="Be brief."), ChatMessage(role="user", content=f"q{i}")]
        for i in range(n)
    ]


def test_twelve_rows_in_input_order_as_chat_responses() -> None:
    fake = FakeJobsServer(hold_polls=2)
    llm = make_llm(fake, temperature=0.2, max_tokens=30)
    batch_id = llm.batch_create(inputs(12), description="eval")
    assert fake.batches[batch_id]["metadata"] == {"description": "eval"}
    responses = llm.batch_retrieve(batch_id, poll_interval=0)
    assert all(isinstance(r, ChatResponse) for r in responses)
    assert [r.message.content for r in responses] == [f"echo: q{i}" for i in range(12)]


def test_a_row_is_the_body_chat_sends_and_converts_like_chat() -> None:
    fake = FakeJobsServer()
    llm = make_llm(fake, temperature=0.2, max_tokens=30)
    direct = llm.chat(inputs(1)[0], top_p=0.5)
    (response,) = llm.batch_retrieve(llm.batch_create(inputs(1), top_p=0.5), poll_interval=0)
    assert fake.line_bodies() == fake.direct_bodies
    assert response.message == direct.message and response.raw == direct.raw


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def test_tools_make_each_row_what_chat_with_tools_sends() -> None:
    def answer(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        status, out = echo_answer(body)
        out["choices"][0]["message"] = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "add", "arguments": '{"a": 1, "b": 2}'},
                }
            ],
        }
        return status, out

    fake = FakeJobsServer(answer)
    llm = make_llm(fake)
    tool = FunctionTool.from_defaults(fn=add)
    direct = llm.chat_with_tools([tool], chat_history=inputs(1)[0], tool_required=True)
    batch_id = llm.batch_create(inputs(1), tools=[tool], tool_required=True)
    assert fake.line_bodies() == fake.direct_bodies
    assert fake.line_bodies()[0]["tools"][0]["function"]["name"] == "add"
    (response,) = llm.batch_retrieve(batch_id, poll_interval=0)
    calls = llm.get_tool_calls_from_response(response)
    assert [(c.tool_name, c.tool_kwargs) for c in calls] == [("add", {"a": 1, "b": 2})]
    assert calls == llm.get_tool_calls_from_response(direct)


def test_failed_and_cancelled_rows_are_reported_in_place() -> None:
    def answer(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if body["messages"][-1]["content"] == "q0":
            return 500, {"error": {"message": "engine died", "type": "server_error"}}
        return echo_answer(body)

    fake = FakeJobsServer(answer, hold_polls=5, answered_before_end=2)
    llm = make_llm(fake)
    batch_id = llm.batch_create(inputs(4))
    llm._sync_client().cancel_batch(batch_id)
    responses = llm.batch_retrieve(batch_id, poll_interval=0, return_exceptions=True)
    assert "engine died" in str(responses[0]) and responses[1].message.content == "echo: q1"
    assert all(isinstance(r, BatchCancelledError) for r in responses[2:])
    with pytest.raises(BatchIncompleteError, match="3 of 4"):
        llm.batch_retrieve(batch_id, poll_interval=0)


def test_strings_are_user_messages_and_bad_input_is_refused() -> None:
    fake = FakeJobsServer()
    llm = make_llm(fake)
    llm.batch_create(["hello"])
    assert fake.line_bodies()[0]["messages"] == [{"role": "user", "content": "hello"}]
    with pytest.raises(InvalidRequestError, match="messages_list"):
        llm.batch_create([])


def test_async_twins_and_the_resumable_job(tmp_path: Path) -> None:
    fake = FakeJobsServer(hold_polls=1)
    llm = make_llm(fake)

    async def go() -> list[ChatResponse]:
        return await llm.abatch_retrieve(await llm.abatch_create(inputs(10)), poll_interval=0)

    assert [r.message.content for r in asyncio.run(go())] == [f"echo: q{i}" for i in range(10)]
    state = tmp_path / "job.json"
    done = llm.run_batch_job(
        inputs(12), state_path=state, max_requests_per_batch=5, poll_interval=0
    )
    assert [r.message.content for r in done.responses] == [  # type: ignore[union-attr]
        f"echo: q{i}" for i in range(12)
    ]
    assert done.usage.total_tokens == 60 and not done.errors
    uploads = fake.uploads
    again = asyncio.run(
        llm.arun_batch_job(inputs(12), state_path=state, max_requests_per_batch=5, poll_interval=0)
    )
    assert len(again.responses) == 12 and fake.uploads == uploads
