"""ChatCompactifAI's provider-side batches against the in-memory fake service."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.exceptions import ModelInvalidRequestError
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatResult
from pydantic import BaseModel

from compactifai.batch_jobs import BatchExpiredError, BatchIncompleteError
from langchain_compactifai import ChatCompactifAI
from tests.fake_jobs import FakeJobsServer, echo_answer
from tests.helpers import BASE_URL

MODEL = "hypernova-60b"


def make_llm(fake: FakeJobsServer, **kwargs: Any) -> ChatCompactifAI:
    return ChatCompactifAI(
        model=MODEL,
        api_key="sk-test-123456",
        base_url=BASE_URL,
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(fake)),
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(fake)),
        **kwargs,
    )


def questions(n: int) -> list[list[Any]]:
    return [[SystemMessage("Be brief."), HumanMessage(f"q{i}")] for i in range(n)]


def content(result: ChatResult) -> Any:
    return result.generations[0].message.content


def test_twelve_rows_come_back_in_input_order_as_chat_results() -> None:
    fake = FakeJobsServer(hold_polls=1)
    llm = make_llm(fake, temperature=0.1, max_tokens=20)
    batch_id = llm.batch_create(questions(12), description="nightly", metadata={"team": "a"})
    assert fake.batches[batch_id]["metadata"] == {"team": "a", "description": "nightly"}
    results = llm.batch_retrieve(batch_id, poll_interval=0)
    assert all(isinstance(r, ChatResult) for r in results)
    assert [content(r) for r in results] == [f"echo: q{i}" for i in range(12)]
    assert results[0].llm_output["token_usage"]["total_tokens"] == 5  # type: ignore[index]


def test_a_row_is_the_body_generate_sends_and_converts_like_invoke() -> None:
    fake = FakeJobsServer()
    llm = make_llm(fake, temperature=0.1, max_tokens=20)
    expected = llm._generate(questions(1)[0], stop=["END"])
    batch_id = llm.batch_create(questions(1), stop=["END"])
    assert fake.line_bodies() == fake.direct_bodies
    (result,) = llm.batch_retrieve(batch_id, poll_interval=0)
    assert isinstance(result.generations[0].message, AIMessage)
    assert result == expected  # the same ChatResult _generate builds


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def tool_answer(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    status, answer = echo_answer(body)
    if body.get("tools"):
        answer["choices"][0]["message"] = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'},
                }
            ],
        }
        answer["choices"][0]["finish_reason"] = "tool_calls"
    return status, answer


def test_bound_tools_work_in_a_batch() -> None:
    fake = FakeJobsServer(tool_answer)
    llm = make_llm(fake)
    tooled = llm.bind_tools([add], tool_choice="add")
    direct = tooled.invoke("What is 2 + 3?")
    batch_id = llm.batch_create(["What is 2 + 3?"], **tooled.kwargs)  # type: ignore[attr-defined]
    assert fake.line_bodies() == fake.direct_bodies
    assert fake.line_bodies()[0]["tool_choice"] == {"type": "function", "function": {"name": "add"}}
    (result,) = llm.batch_retrieve(batch_id, poll_interval=0)
    assert result.generations[0].message.tool_calls == direct.tool_calls  # type: ignore[attr-defined]
    assert direct.tool_calls[0]["args"] == {"a": 2, "b": 3}  # type: ignore[attr-defined]


def test_a_call_through_a_binding_is_refused_rather_than_losing_its_tools() -> None:
    fake = FakeJobsServer(tool_answer)
    llm = make_llm(fake)
    with pytest.raises(ModelInvalidRequestError, match=r"\*\*binding.kwargs"):
        llm.bind_tools([add]).batch_create(["What is 2 + 3?"])
    assert fake.uploads == 0


class Person(BaseModel):
    name: str
    age: int


def test_structured_output_works_in_a_batch() -> None:
    def answer(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        status, out = echo_answer(body)
        out["choices"][0]["message"]["content"] = json.dumps({"name": "Ada", "age": 36})
        return status, out

    fake = FakeJobsServer(answer)
    llm = make_llm(fake)
    structured = llm.with_structured_output(Person, method="json_schema")
    assert structured.invoke("Ada is 36.") == Person(name="Ada", age=36)
    binding = structured.first  # type: ignore[attr-defined]
    batch_id = llm.batch_create(["Ada is 36.", "Ada is 36."], **binding.kwargs)
    assert fake.line_bodies()[0] == fake.direct_bodies[0]
    assert fake.line_bodies()[0]["response_format"]["type"] == "json_schema"
    parse = structured.last  # type: ignore[attr-defined]
    people = [
        parse.invoke(r.generations[0].message)
        for r in llm.batch_retrieve(batch_id, poll_interval=0)
    ]
    assert people == [Person(name="Ada", age=36)] * 2


def failing_answer(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    if body["messages"][-1]["content"] == "q2":
        return 400, {"error": {"message": "bad request here", "type": "invalid_request_error"}}
    return echo_answer(body)


def test_each_failed_row_is_reported_in_its_place() -> None:
    fake = FakeJobsServer(failing_answer)
    llm = make_llm(fake)
    batch_id = llm.batch_create(questions(4))
    results = llm.batch_retrieve(batch_id, poll_interval=0, return_exceptions=True)
    assert [type(r).__name__ for r in results][:2] == ["ChatResult", "ChatResult"]
    assert isinstance(results[2], ModelInvalidRequestError)  # a LangChain model error too
    assert "bad request here" in str(results[2]) and content(results[3]) == "echo: q3"
    with pytest.raises(BatchIncompleteError, match="1 of 4") as caught:
        llm.batch_retrieve(batch_id, poll_interval=0)
    assert set(caught.value.errors) == {2} and content(caught.value.results[3]) == "echo: q3"


def test_expired_rows_say_so() -> None:
    fake = FakeJobsServer(end_status="expired", answered_before_end=1)
    llm = make_llm(fake)
    results = llm.batch_retrieve(
        llm.batch_create(questions(3)), poll_interval=0, return_exceptions=True
    )
    assert content(results[0]) == "echo: q0"
    assert all(isinstance(r, BatchExpiredError) for r in results[1:])


def test_async_twins() -> None:
    fake = FakeJobsServer(hold_polls=1)
    llm = make_llm(fake)

    async def go() -> list[ChatResult]:
        batch_id = await llm.abatch_create(questions(11))
        return await llm.abatch_retrieve(batch_id, poll_interval=0)

    assert [content(r) for r in asyncio.run(go())] == [f"echo: q{i}" for i in range(11)]


def test_run_batch_job_splits_resumes_and_totals(tmp_path: Path) -> None:
    fake = FakeJobsServer()
    llm = make_llm(fake)
    state = tmp_path / "job.json"
    done = llm.run_batch_job(
        questions(12), state_path=state, max_requests_per_batch=5, poll_interval=0
    )
    assert [content(r) for r in done.results] == [f"echo: q{i}" for i in range(12)]  # type: ignore[arg-type]
    assert done.usage.total_tokens == 60 and not done.errors and len(done.job.batch_ids) == 3
    again = llm.run_batch_job(
        questions(12), state_path=state, max_requests_per_batch=5, poll_interval=0
    )
    assert len(again.results) == 12 and (fake.uploads, fake.creates) == (3, 3)
    later = asyncio.run(
        llm.arun_batch_job(
            questions(12), state_path=state, max_requests_per_batch=5, poll_interval=0
        )
    )
    assert [content(r) for r in later.results] == [content(r) for r in done.results]  # type: ignore[arg-type]
    assert (fake.uploads, fake.creates) == (3, 3)


def test_a_bad_input_is_a_clear_error() -> None:
    llm = make_llm(FakeJobsServer())
    with pytest.raises(ModelInvalidRequestError, match="messages_list"):
        llm.batch_create([])
    with pytest.raises(ModelInvalidRequestError, match="per row"):
        llm.batch_create(["hi"], timeout=5)
    with pytest.raises(ModelInvalidRequestError, match="batch_retrieve"):
        llm.batch_create(["hi"], poll_interval=5)
