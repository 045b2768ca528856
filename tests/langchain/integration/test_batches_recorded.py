"""``ChatCompactifAI`` provider-side batches, replayed from cassettes of the local server.

``batch_create`` / ``batch_retrieve`` (the names of langchain-openai's batch support), their
async twins, a batch with tools, a failed row kept in its place, and the resumable job.
Record: ``python scripts/record_cassettes.py tests/langchain/integration/test_batches_recorded.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatResult
from langchain_core.tools import tool

from compactifai.batch_jobs import BatchIncompleteError
from langchain_compactifai import ChatCompactifAI
from tests.conftest import RECORDING

MODEL = "smollm2-135m-instruct"
#: Short polls while recording; none in replay (the answers are in the cassette).
POLL = 0.1 if RECORDING else 0.0


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"sunny in {city}"


def _questions(n: int) -> list[list[HumanMessage]]:
    return [[HumanMessage(f"What is {i} times two?")] for i in range(n)]


def _text(result: ChatResult | BaseException) -> str:
    assert isinstance(result, ChatResult), result
    return str(result.generations[0].message.content)


def test_batch_create_and_retrieve_keep_input_order() -> None:
    llm = ChatCompactifAI(model=MODEL, temperature=0, max_tokens=12)
    inputs: list[Any] = [
        "Say one word.",
        [SystemMessage("Answer briefly."), HumanMessage("Name a fruit.")],
        *_questions(10),
    ]
    batch_id = llm.batch_create(inputs, description="ordering", metadata={"suite": "lc"})
    assert batch_id.startswith("batch_")
    results = llm.batch_retrieve(batch_id, poll_interval=POLL)
    assert len(results) == len(inputs)
    assert all(isinstance(r, ChatResult) and _text(r) for r in results)
    # Row i answers input i: the same request sent on its own (temperature 0) says the same.
    # Rows 2, 10 and 11 are where sorting "request-N" strings would have mixed them up.
    for i in (0, 1, 2, 10, 11):
        assert _text(results[i]) == str(llm.invoke(inputs[i]).content)
    assert len({_text(r) for r in results}) > 1
    batch = llm.client.retrieve_batch(batch_id)
    assert batch.metadata == {"suite": "lc", "description": "ordering"}


def test_batch_with_tools_calls_the_tool() -> None:
    llm = ChatCompactifAI(model=MODEL, temperature=0, max_tokens=40)
    tooled = llm.bind_tools([get_weather], tool_choice="get_weather")
    questions = [[HumanMessage(f"What is the weather in {city}?")] for city in ("Paris", "Oslo")]
    batch_id = llm.batch_create(questions, **tooled.kwargs)  # type: ignore[attr-defined]
    results = llm.batch_retrieve(batch_id, poll_interval=POLL)
    for result in results:
        message = result.generations[0].message
        assert isinstance(message, AIMessage)
        assert [c["name"] for c in message.tool_calls] == ["get_weather"]
        assert isinstance(message.tool_calls[0]["args"].get("city"), str)


def test_a_failed_row_stays_in_its_place() -> None:
    llm = ChatCompactifAI(model=MODEL, temperature=0, max_tokens=8)
    # The middle prompt cannot fit the model's context: the server refuses that row alone.
    mixed = llm.batch_create(
        [[HumanMessage("Hi")], [HumanMessage("tensor " * 6000)], [HumanMessage("Hello")]]
    )
    rows = llm.batch_retrieve(mixed, poll_interval=POLL, return_exceptions=True)
    assert isinstance(rows[0], ChatResult) and isinstance(rows[2], ChatResult)
    assert isinstance(rows[1], Exception)
    assert "context" in str(rows[1]).lower()
    with pytest.raises(BatchIncompleteError, match="1 of 3 batch rows") as raised:
        llm.batch_retrieve(mixed, poll_interval=POLL)
    assert len(raised.value.results) == 3 and list(raised.value.errors) == [1]


async def test_async_twins() -> None:
    llm = ChatCompactifAI(model=MODEL, temperature=0, max_tokens=8)
    batch_id = await llm.abatch_create(_questions(3))
    results = await llm.abatch_retrieve(batch_id, poll_interval=POLL)
    assert [bool(_text(r)) for r in results] == [True, True, True]


def test_resumable_job_with_state_file(tmp_path: Path) -> None:
    llm = ChatCompactifAI(model=MODEL, temperature=0, max_tokens=8)
    state = tmp_path / "job.json"
    first = llm.run_batch_job(
        _questions(4), state_path=state, poll_interval=POLL, max_poll_interval=POLL * 4
    )
    again = llm.run_batch_job(
        _questions(4), state_path=state, poll_interval=POLL, max_poll_interval=POLL * 4
    )
    # Resumed, not re-created (in replay, a second upload or create would miss the cassette).
    assert {r.batch_id for r in again.job.rows} == {r.batch_id for r in first.job.rows}
    assert len(first.job.batch_ids) == 1
    assert [_text(r) for r in first.results] == [_text(r) for r in again.results]
    assert first.usage.total_tokens > 0
