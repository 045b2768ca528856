"""The resumable batch job helper against an in-memory fake of ``/files`` and ``/batches``."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from compactifai import BadRequestError, InvalidRequestError
from compactifai.batch_jobs import (
    AsyncBatchJob,
    BatchCancelledError,
    BatchExpiredError,
    BatchFailedError,
    BatchIncompleteError,
    BatchJob,
    BatchRowError,
    BatchTimeoutError,
    acollect_batches,
    arun_batch_job,
    build_batch_lines,
    chat_request,
    collect_batches,
    completion_request,
    run_batch_job,
)
from compactifai.usage_tally import PriceTable
from tests.fake_jobs import FakeJobsServer, LineError, echo_answer
from tests.helpers import Recorder, json_response, sync_client

MODEL = "hypernova-60b"


def requests(n: int) -> list[dict[str, Any]]:
    return [
        chat_request(MODEL, [{"role": "user", "content": f"q{i}"}], max_tokens=5) for i in range(n)
    ]


def texts(result: Any) -> list[str | None]:
    return [row.body["choices"][0]["message"]["content"] if row.ok else None for row in result]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


# ---------------------------------------------------------------- building the input


def test_chat_request_is_the_body_the_client_sends() -> None:
    handler = Recorder(json_response({"id": "c", "object": "chat.completion", "choices": []}))
    params: dict[str, Any] = {
        "temperature": 0.2,
        "stop": ("x",),
        "tools": [
            {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
        ],
        "tool_choice": "auto",
    }
    messages = [{"role": "user", "content": "Hi"}]
    sync_client(handler).chat_completion(model=MODEL, messages=messages, **params)
    assert chat_request(MODEL, messages, **params) == handler.body()


def test_a_row_cannot_carry_a_timeout_or_headers() -> None:
    with pytest.raises(InvalidRequestError, match="per row"):
        chat_request(MODEL, [{"role": "user", "content": "Hi"}], timeout=3)


def test_lines_carry_generated_or_given_custom_ids() -> None:
    ids, lines = build_batch_lines(requests(3))
    assert ids == ["request-0", "request-1", "request-2"]
    first = json.loads(lines[0])
    assert first == {
        "custom_id": "request-0",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": requests(1)[0],
    }
    ids, lines = build_batch_lines(
        [completion_request(MODEL, "Once")], endpoint="/v1/completions", custom_ids=["mine"]
    )
    assert ids == ["mine"] and json.loads(lines[0])["url"] == "/v1/completions"


@pytest.mark.parametrize(
    "reqs,kwargs,words",
    [
        ([], {}, "empty"),
        ([{"messages": [{"role": "user", "content": "x"}]}], {}, "no model"),
        ([{"model": "m"}], {}, "no 'messages'"),
        ([{"model": "m", "prompt": "x"}], {}, "no 'messages'"),
        ([{"model": "m", "messages": [1], "stream": True}], {}, "stream"),
        ([{"model": "m", "messages": [object()]}], {}, "not JSON"),
        (["hello"], {}, "is a str"),
        ([{"model": "m", "messages": [1]}] * 2, {"custom_ids": ["a", "a"]}, "used twice"),
        ([{"model": "m", "messages": [1]}] * 2, {"custom_ids": ["a"]}, "1 ids for 2"),
        ([{"model": "m", "messages": [1]}], {"endpoint": "/v1/embeddings"}, "endpoint"),
    ],
)
def test_bad_input_is_refused_with_what_to_change(
    reqs: list[Any], kwargs: dict[str, Any], words: str
) -> None:
    with pytest.raises(InvalidRequestError, match=words):
        build_batch_lines(reqs, **kwargs)


def test_a_job_is_split_by_request_count_and_by_bytes() -> None:
    fake = FakeJobsServer()
    job = BatchJob(fake.sync_client(), requests(12), max_requests_per_batch=5)
    assert [(c.start, c.stop) for c in job.chunks] == [(0, 5), (5, 10), (10, 12)]
    same = [chat_request(MODEL, [{"role": "user", "content": f"x{i:02d}"}]) for i in range(12)]
    line = len(build_batch_lines(same)[1][0]) + 1
    job = BatchJob(fake.sync_client(), same, max_bytes_per_file=line * 4 + 3)
    assert [(c.start, c.stop) for c in job.chunks] == [(0, 4), (4, 8), (8, 12)]
    with pytest.raises(InvalidRequestError, match="request 0 alone"):
        BatchJob(fake.sync_client(), requests(2), max_bytes_per_file=line - 1)


# ---------------------------------------------------------------- running


def test_twelve_rows_over_three_batches_come_back_in_input_order() -> None:
    """request-10 is not sorted before request-2; the fake even writes its output reversed."""
    fake = FakeJobsServer(hold_polls=2)
    result = run_batch_job(
        fake.sync_client(), requests(12), max_requests_per_batch=5, poll_interval=0
    )
    assert texts(result) == [f"echo: q{i}" for i in range(12)]
    assert [row.custom_id for row in result] == [f"request-{i}" for i in range(12)]
    assert [row.index for row in result] == list(range(12))
    assert result.counts == {"succeeded": 12} and len(result.batch_ids) == 3
    assert fake.uploads == 3 and fake.creates == 3
    uploaded = [f for f in fake.files.values() if f["purpose"] == "batch"]
    assert [len(f["content"].splitlines()) for f in uploaded] == [5, 5, 2]
    assert result.usage.prompt_tokens == 36 and result.usage.completion_tokens == 24
    assert result.usage.total_tokens == 60 and result.usage.cost is None


def test_caller_custom_ids_keep_input_order_too() -> None:
    ids = [f"row-{i}" for i in (3, 11, 0, 7, 1, 10, 2, 5, 4, 9, 6, 8)]
    result = run_batch_job(
        FakeJobsServer().sync_client(), requests(12), custom_ids=ids, poll_interval=0
    )
    assert [row.custom_id for row in result] == ids
    assert texts(result) == [f"echo: q{i}" for i in range(12)]


def test_each_row_reports_its_own_error() -> None:
    def answer(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        text = body["messages"][-1]["content"]
        if text == "q1":
            return 400, {"error": {"message": "bad role", "type": "invalid_request_error"}}
        if text == "q3":
            raise LineError("invalid_request", "line could not be parsed")
        return echo_answer(body)

    result = run_batch_job(FakeJobsServer(answer).sync_client(), requests(5), poll_interval=0)
    assert [row.outcome for row in result] == [
        "succeeded",
        "failed",
        "succeeded",
        "failed",
        "succeeded",
    ]
    assert isinstance(result[1].error, BadRequestError) and "bad role" in str(result[1].error)
    assert isinstance(result[3].error, BatchRowError)
    assert result[3].error.code == "invalid_request" and result[3].error.custom_id == "request-3"
    with pytest.raises(BatchIncompleteError, match="2 of 5 batch rows") as caught:
        result.raise_for_failures()
    assert set(caught.value.errors) == {1, 3} and caught.value.results[0] == result[0].body


@pytest.mark.parametrize("written", [False, True], ids=["silent", "error-lines"])
def test_an_expired_batch_says_which_rows_ran(written: bool) -> None:
    fake = FakeJobsServer(end_status="expired", answered_before_end=2, write_unanswered=written)
    result = run_batch_job(fake.sync_client(), requests(5), poll_interval=0)
    assert [row.outcome for row in result] == ["succeeded"] * 2 + ["expired"] * 3
    assert all(isinstance(row.error, BatchExpiredError) for row in result.rows[2:])
    assert "expired" in str(result[4].error)


def test_a_failed_batch_gives_each_row_the_reason() -> None:
    fake = FakeJobsServer(
        validation_errors=[
            {"code": "invalid_url", "line": 2, "message": "url must be /v1/chat/completions"}
        ]
    )
    result = run_batch_job(fake.sync_client(), requests(3), poll_interval=0)
    assert [row.outcome for row in result] == ["failed"] * 3
    assert all(isinstance(row.error, BatchFailedError) for row in result)
    assert "invalid_url" in str(result[1].error) and "line 2" in str(result[1].error)
    assert "no reason given" in str(result[0].error)


def test_cancel_stops_the_job_and_rows_say_cancelled() -> None:
    fake = FakeJobsServer(hold_polls=100, answered_before_end=1)
    job = BatchJob(fake.sync_client(), requests(4), max_requests_per_batch=2, poll_interval=0)
    job.submit()
    job.cancel()
    assert job.wait() is True
    result = job.collect()
    assert [row.outcome for row in result] == ["succeeded", "cancelled", "succeeded", "cancelled"]
    assert isinstance(result[1].error, BatchCancelledError)
    assert {b.status for b in result.batches} == {"cancelled"}


def test_a_cancelled_job_creates_no_more_batches(tmp_path: Path) -> None:
    fake = FakeJobsServer(hold_polls=100)
    state = tmp_path / "job.json"
    job = BatchJob(fake.sync_client(), requests(4), state_path=state, poll_interval=0)
    job.cancel()  # before anything was created
    result = job.run()
    assert fake.creates == 0 and [row.outcome for row in result] == ["cancelled"] * 4


def test_a_timeout_leaves_the_batch_running_then_a_rerun_collects_it(tmp_path: Path) -> None:
    fake = FakeJobsServer(hold_polls=10**6)
    state = tmp_path / "job.json"
    clock = Clock()
    job = BatchJob(fake.sync_client(), requests(3), state_path=state, poll_interval=1, timeout=30)
    job._clock, job._sleep = clock, clock.sleep
    result = job.run()
    assert [row.outcome for row in result] == ["timed_out"] * 3
    assert isinstance(result[0].error, BatchTimeoutError)
    assert "same state_path" in str(result[0].error) and clock.now == pytest.approx(30)
    fake.hold_polls = 0
    again = run_batch_job(fake.sync_client(), requests(3), state_path=state, poll_interval=0)
    assert again.counts == {"succeeded": 3}
    assert fake.uploads == 1 and fake.creates == 1


def test_cancel_on_timeout_cancels_the_batches() -> None:
    fake = FakeJobsServer(hold_polls=10**6)
    clock = Clock()
    job = BatchJob(
        fake.sync_client(), requests(2), poll_interval=5, timeout=10, cancel_on_timeout=True
    )
    job._clock, job._sleep = clock, clock.sleep
    result = job.run()
    assert [row.outcome for row in result] == ["timed_out"] * 2
    assert [b["status"] for b in fake.batches.values()] == ["cancelling"]


def test_backoff_grows_to_the_maximum() -> None:
    fake = FakeJobsServer(hold_polls=8)
    slept: list[float] = []
    job = BatchJob(fake.sync_client(), requests(1), poll_interval=2, max_poll_interval=5)
    job._sleep = slept.append
    job.run()
    assert slept[:4] == [2, 3, 4.5, 5] and max(slept) == 5


# ---------------------------------------------------------------- resuming


class Crash(Exception):
    pass


def test_a_crash_right_after_create_resumes_without_a_second_upload_or_batch(
    tmp_path: Path,
) -> None:
    """The batch was created but its id never reached the state file: it is found, not redone."""
    fake = FakeJobsServer()
    state = tmp_path / "job.json"
    client = fake.sync_client()
    real_create = client.create_batch

    def create_then_die(**kwargs: Any) -> Any:
        real_create(**kwargs)
        raise Crash("killed after POST /batches")

    client.create_batch = create_then_die  # type: ignore[method-assign]
    with pytest.raises(Crash):
        run_batch_job(client, requests(12), state_path=state, poll_interval=0)
    saved = json.loads(state.read_text())
    assert saved["chunks"][0]["input_file_id"] == "file-1"
    assert saved["chunks"][0]["batch_id"] is None and saved["chunks"][0]["creating_since"]
    result = run_batch_job(fake.sync_client(), requests(12), state_path=state, poll_interval=0)
    assert texts(result) == [f"echo: q{i}" for i in range(12)]
    assert fake.uploads == 1 and fake.creates == 1
    assert json.loads(state.read_text())["chunks"][0]["batch_id"] == "batch_1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["job.json"]  # no temp files


def test_a_crash_while_polling_resumes_the_same_batches(tmp_path: Path) -> None:
    fake = FakeJobsServer(hold_polls=3)
    state = tmp_path / "job.json"
    polls = 0

    def die_on_second_poll(request: Any) -> Any:
        nonlocal polls
        if request.method == "GET" and request.url.path.startswith("/v1/batches/"):
            polls += 1
            if polls == 2:
                raise Crash("killed while polling")
        return None

    fake.before = die_on_second_poll
    with pytest.raises(Crash):
        run_batch_job(
            fake.sync_client(),
            requests(6),
            state_path=state,
            max_requests_per_batch=3,
            poll_interval=0,
        )
    assert (fake.uploads, fake.creates) == (2, 2)
    fake.before = None
    result = run_batch_job(
        fake.sync_client(), requests(6), state_path=state, max_requests_per_batch=3, poll_interval=0
    )
    assert result.counts == {"succeeded": 6} and (fake.uploads, fake.creates) == (2, 2)


def test_a_state_file_of_other_inputs_is_refused(tmp_path: Path) -> None:
    fake = FakeJobsServer()
    state = tmp_path / "job.json"
    run_batch_job(fake.sync_client(), requests(2), state_path=state, poll_interval=0)
    with pytest.raises(InvalidRequestError, match="belongs to another job"):
        BatchJob(fake.sync_client(), requests(3), state_path=state)
    state.write_text("{not json")
    with pytest.raises(InvalidRequestError, match="cannot be read"):
        BatchJob(fake.sync_client(), requests(2), state_path=state)


def test_a_finished_job_rerun_downloads_again_and_creates_nothing(tmp_path: Path) -> None:
    fake = FakeJobsServer()
    state = tmp_path / "job.json"
    first = run_batch_job(fake.sync_client(), requests(3), state_path=state, poll_interval=0)
    second = run_batch_job(fake.sync_client(), requests(3), state_path=state, poll_interval=0)
    assert texts(first) == texts(second) and (fake.uploads, fake.creates) == (1, 1)
    assert second.batch_ids == first.batch_ids == ["batch_1"]
    assert second.batches[0].status == "completed"


# ---------------------------------------------------------------- usage, progress, attach


def test_usage_is_priced_with_a_price_table() -> None:
    prices = PriceTable({MODEL: (1.0, 2.0)}, as_of="2026-09-01", source="test", currency="EUR")
    result = run_batch_job(
        FakeJobsServer().sync_client(), requests(4), poll_interval=0, price_table=prices
    )
    assert result.usage.cost == pytest.approx((12 * 1.0 + 8 * 2.0) / 1e6)
    assert result.usage.currency == "EUR" and result.usage.by_model == {MODEL: (12, 8)}
    other = PriceTable({"x": (1.0, 1.0)}, as_of="2026-09-01", source="test")
    result = run_batch_job(
        FakeJobsServer().sync_client(), requests(1), poll_interval=0, price_table=other
    )
    assert result.usage.cost is None and result.usage.unpriced_models == (MODEL,)


def test_answered_rows_reach_the_clients_usage_tally_once() -> None:
    from compactifai.usage_tally import UsageTally

    tally = UsageTally()
    fake = FakeJobsServer(end_status="expired", answered_before_end=3)
    job = BatchJob(fake.sync_client(usage_tally=tally), requests(5), poll_interval=0)
    job.run()
    job.collect()  # collecting again counts nothing twice
    total = tally.summary().total
    assert (total.requests, total.prompt_tokens, total.completion_tokens) == (3, 9, 6)


def test_progress_bar_is_optional(monkeypatch: pytest.MonkeyPatch) -> None:
    result = run_batch_job(
        FakeJobsServer(hold_polls=2).sync_client(), requests(3), poll_interval=0, progress=True
    )
    assert result.counts == {"succeeded": 3}
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # tqdm not installed
    result = run_batch_job(
        FakeJobsServer().sync_client(), requests(3), poll_interval=0, progress=True
    )
    assert result.counts == {"succeeded": 3}


def test_collect_batches_reads_rows_in_input_file_order() -> None:
    fake = FakeJobsServer()
    job = BatchJob(fake.sync_client(), requests(11), max_requests_per_batch=6)
    ids = job.submit()
    result = collect_batches(fake.sync_client(), ids, poll_interval=0)
    assert [row.custom_id for row in result] == [f"request-{i}" for i in range(11)]
    assert texts(result) == [f"echo: q{i}" for i in range(11)]


# ---------------------------------------------------------------- async


def test_async_job_runs_in_input_order() -> None:
    fake = FakeJobsServer(hold_polls=1)
    result = asyncio.run(
        arun_batch_job(fake.async_client(), requests(12), max_requests_per_batch=5, poll_interval=0)
    )
    assert texts(result) == [f"echo: q{i}" for i in range(12)]
    ids = [c for c in result.batch_ids]
    again = asyncio.run(acollect_batches(fake.async_client(), ids, poll_interval=0))
    assert texts(again) == texts(result)


def test_async_crash_after_create_resumes_without_a_second_batch(tmp_path: Path) -> None:
    fake = FakeJobsServer()
    state = tmp_path / "job.json"
    client = fake.async_client()
    real_create = client.create_batch

    async def create_then_die(**kwargs: Any) -> Any:
        await real_create(**kwargs)
        raise Crash("killed")

    client.create_batch = create_then_die  # type: ignore[method-assign]
    with pytest.raises(Crash):
        asyncio.run(arun_batch_job(client, requests(3), state_path=state, poll_interval=0))
    result = asyncio.run(
        arun_batch_job(fake.async_client(), requests(3), state_path=state, poll_interval=0)
    )
    assert result.counts == {"succeeded": 3} and (fake.uploads, fake.creates) == (1, 1)


def test_async_cancel_and_timeout() -> None:
    fake = FakeJobsServer(hold_polls=10**6, answered_before_end=0)

    async def go() -> Any:
        job = AsyncBatchJob(fake.async_client(), requests(2), poll_interval=0)
        await job.submit()
        await job.cancel()
        await job.wait()
        return await job.collect()

    assert [row.outcome for row in asyncio.run(go())] == ["cancelled"] * 2
    clock = Clock()

    async def timed() -> Any:
        job = AsyncBatchJob(
            FakeJobsServer(hold_polls=10**6).async_client(), requests(2), poll_interval=1, timeout=3
        )

        async def sleep(seconds: float) -> None:
            clock.sleep(seconds)

        job._clock, job._sleep = clock, sleep
        return await job.run()

    assert [row.outcome for row in asyncio.run(timed())] == ["timed_out"] * 2
