"""``CompactifAI`` (LlamaIndex) provider-side batches, replayed from the local server's answers.

``batch_create`` / ``batch_retrieve`` give one ``ChatResponse`` per input in input order, with
tools as ``chat_with_tools`` sends them; the async twins; the resumable job.
Record: ``python scripts/record_cassettes.py tests/llama_index/integration/test_batches_recorded.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from llama_index.core.base.llms.types import ChatMessage, ChatResponse
from llama_index.core.tools import FunctionTool

from llama_index_compactifai import CompactifAI
from tests.conftest import RECORDING

#: Short polls while recording; none in replay (the answers are in the cassette).
POLL = 0.1 if RECORDING else 0.0


def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"sunny in {city}"


def _questions(n: int) -> list[list[ChatMessage]]:
    return [[ChatMessage(role="user", content=f"What is {i} times two?")] for i in range(n)]


def _content(response: ChatResponse | BaseException) -> str | None:
    assert isinstance(response, ChatResponse), response
    return response.message.content


def test_batch_keeps_input_order(make_llm: Callable[..., CompactifAI]) -> None:
    llm = make_llm(max_tokens=12)
    inputs: list[list[ChatMessage] | str] = [*_questions(11), "Say one word."]
    batch_id = llm.batch_create(inputs, description="li-order")
    responses = llm.batch_retrieve(batch_id, poll_interval=POLL)
    assert len(responses) == len(inputs)
    assert all(isinstance(r, ChatResponse) and r.message.content for r in responses)
    # Row i answers input i (temperature 0: the same request alone says the same).
    for i in (2, 10, 11):
        item = inputs[i]
        messages = [ChatMessage(role="user", content=item)] if isinstance(item, str) else item
        assert responses[i].message.content == llm.chat(messages).message.content


def test_batch_with_tools(make_llm: Callable[..., CompactifAI]) -> None:
    llm = make_llm(max_tokens=40)
    tool = FunctionTool.from_defaults(fn=get_weather)
    questions = [[ChatMessage(role="user", content=f"Weather in {c}?")] for c in ("Rome", "Lima")]
    batch_id = llm.batch_create(questions, tools=[tool], tool_required=True)
    responses = llm.batch_retrieve(batch_id, poll_interval=POLL)
    for response in responses:
        calls = llm.get_tool_calls_from_response(response, error_on_no_tool_call=True)
        assert [c.tool_name for c in calls] == ["get_weather"]


async def test_async_twins(make_llm: Callable[..., CompactifAI]) -> None:
    llm = make_llm(max_tokens=8)
    batch_id = await llm.abatch_create(_questions(3))
    responses = await llm.abatch_retrieve(batch_id, poll_interval=POLL)
    assert [bool(r.message.content) for r in responses] == [True, True, True]


def test_resumable_job(make_llm: Callable[..., CompactifAI], tmp_path: Path) -> None:
    llm = make_llm(max_tokens=8)
    state = tmp_path / "job.json"
    first = llm.run_batch_job(
        _questions(3), state_path=state, poll_interval=POLL, max_poll_interval=POLL * 4
    )
    again = llm.run_batch_job(
        _questions(3), state_path=state, poll_interval=POLL, max_poll_interval=POLL * 4
    )
    assert {r.batch_id for r in again.job.rows} == {r.batch_id for r in first.job.rows}
    assert [_content(r) for r in first.responses] == [_content(r) for r in again.responses]
    assert first.usage.total_tokens > 0
