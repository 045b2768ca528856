"""Files, batches, the resumable batch job and responses, replayed from the local server.

Recorded against the local server (real SmolLM2) with ``python scripts/record_cassettes.py
tests/transport/test_jobs_recorded.py``. A poll is a ``GET /batches/{id}`` like any other: the
cassette holds each one in the order it was made, and the replay makes the same polls because it
sees the same answers (short poll intervals keep the replay quick). In replay a request the
cassette lacks fails the test, so "no second upload or create" is checked by the cassette too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from compactifai import AsyncCompactifAIClient, CompactifAIClient, NotFoundError
from compactifai._errors import CompactifAIError
from compactifai.batch_jobs import (
    AsyncBatchJob,
    BatchJob,
    arun_batch_job,
    chat_request,
    completion_request,
    response_request,
    run_batch_job,
)
from tests.conftest import RECORDING

pytestmark = pytest.mark.usefixtures("cassette")

CHAT_MODEL = "smollm2-135m-instruct"
#: Polls are short while recording; a replay needs no wait at all (the answers are recorded).
FAST: dict[str, Any] = {
    "poll_interval": 0.1 if RECORDING else 0.0,
    "max_poll_interval": 0.4 if RECORDING else 0.0,
}


def _questions(n: int, **params: object) -> list[dict[str, object]]:
    return [
        chat_request(
            CHAT_MODEL,
            [{"role": "user", "content": f"What is {i} plus {i}?"}],
            max_tokens=12,
            temperature=0,
            **params,
        )
        for i in range(n)
    ]


@pytest.fixture
def client() -> CompactifAIClient:
    return CompactifAIClient(max_retries=0)


def test_file_upload_and_download(client: CompactifAIClient, tmp_path: Path) -> None:
    content = b'{"custom_id": "a", "method": "POST", "url": "/v1/completions", "body": {}}\n'
    uploaded = client.upload_file(content, purpose="batch", filename="one.jsonl")
    assert (uploaded.filename, uploaded.bytes, uploaded.purpose) == (
        "one.jsonl",
        len(content),
        "batch",
    )
    assert client.file_content(uploaded.id) == content
    saved = client.download_file(uploaded.id, tmp_path / "copy.jsonl")
    assert saved.read_bytes() == content
    with pytest.raises(NotFoundError):
        client.file_content("file-does-not-exist")


def test_batch_job_keeps_input_order_and_reports_each_row(
    client: CompactifAIClient, tmp_path: Path
) -> None:
    requests = _questions(6)
    requests[2] = chat_request("no-such-model", [{"role": "user", "content": "Hi"}])
    result = run_batch_job(client, requests, state_path=tmp_path / "job.json", **FAST)
    assert [r.custom_id for r in result] == [f"request-{i}" for i in range(6)]
    assert [r.outcome for r in result] == ["succeeded"] * 2 + ["failed"] + ["succeeded"] * 3
    assert isinstance(result[2].error, CompactifAIError)
    assert "no-such-model" in str(result[2].error)
    for row in result:
        if row.ok:
            assert row.body is not None and row.body["object"] == "chat.completion"
    (batch_id,) = result.batch_ids
    batch = client.retrieve_batch(batch_id)
    assert batch.status == "completed" and batch.request_counts is not None
    assert (batch.request_counts.completed, batch.request_counts.failed) == (5, 1)
    assert batch.usage is not None
    assert result.usage.prompt_tokens == batch.usage.input_tokens
    assert result.usage.completion_tokens == batch.usage.output_tokens
    state = json.loads((tmp_path / "job.json").read_text())
    assert state["chunks"][0]["batch_id"] == batch_id


def test_a_job_resumes_from_its_state_file(client: CompactifAIClient, tmp_path: Path) -> None:
    state = tmp_path / "job.json"
    requests = _questions(3)
    first = BatchJob(client, requests, state_path=state, **FAST)
    ids = first.submit()  # the process "dies" here: uploaded and created, never polled
    again = BatchJob(client, requests, state_path=state, **FAST)
    assert again.submit() == ids  # nothing uploaded or created twice (the cassette agrees)
    assert again.wait() is True
    result = again.collect()
    assert result.batch_ids == ids
    assert [r.outcome for r in result] == ["succeeded"] * 3


def test_splitting_over_several_batches(client: CompactifAIClient) -> None:
    result = run_batch_job(client, _questions(5), max_requests_per_batch=2, **FAST)
    assert len(result.batch_ids) == 3
    assert [r.custom_id for r in result] == [f"request-{i}" for i in range(5)]
    assert result.all_succeeded
    metadata = [client.retrieve_batch(b).metadata for b in result.batch_ids]
    assert [m["compactifai_part"] for m in metadata if m] == ["1/3", "2/3", "3/3"]


def test_cancel_mid_job(client: CompactifAIClient) -> None:
    long = [
        chat_request(
            CHAT_MODEL,
            [{"role": "user", "content": "Tell a long story."}],
            max_tokens=400,
            temperature=0,
        )
        for _ in range(4)
    ]
    job = BatchJob(client, long, **FAST)
    (batch_id,) = job.submit()
    job.cancel()
    assert job.wait() is True
    result = job.collect()
    batch = client.retrieve_batch(batch_id)
    assert batch.status == "cancelled" and batch.cancelled_at is not None
    outcomes = [r.outcome for r in result]
    assert "cancelled" in outcomes and set(outcomes) <= {"succeeded", "cancelled"}
    assert len(outcomes) == 4


def test_list_pages_and_cancel_errors(client: CompactifAIClient) -> None:
    line = json.dumps(completion_request(CHAT_MODEL, "1, 2, 3,", max_tokens=2))
    content = (
        '{"custom_id": "only", "method": "POST", "url": "/v1/completions", "body": ' + line + "}\n"
    ).encode()
    file = client.upload_file(content, purpose="batch", filename="list.jsonl")
    created = [
        client.create_batch(input_file_id=file.id, endpoint="/v1/completions") for _ in range(3)
    ]
    page = client.list_batches(limit=2)
    assert page.has_more and [b.id for b in page.data] == [created[2].id, created[1].id]
    following = client.list_batches(limit=2, after=page.last_id)
    assert following.data[0].id == created[0].id
    seen = [b.id for b in client.iter_batches(limit=2)]
    assert seen[:3] == [c.id for c in reversed(created)]
    with pytest.raises(NotFoundError):
        client.retrieve_batch("batch_does_not_exist")
    with pytest.raises(CompactifAIError, match="input_file_id"):
        client.create_batch(input_file_id="file-nope", endpoint="/v1/completions")


async def test_async_job_on_completions_and_responses() -> None:
    async with AsyncCompactifAIClient(max_retries=0) as client:
        completions = await arun_batch_job(
            client,
            [
                completion_request(CHAT_MODEL, f"{i}, {i + 1},", max_tokens=4, temperature=0)
                for i in range(3)
            ],
            endpoint="/v1/completions",
            custom_ids=["a", "b", "c"],
            **FAST,
        )
        job = AsyncBatchJob(
            client,
            [response_request(CHAT_MODEL, f"Say {w}.", max_output_tokens=8) for w in ("hi", "yo")],
            endpoint="/v1/responses",
            **FAST,
        )
        responses = await job.run()
    assert [r.custom_id for r in completions] == ["a", "b", "c"] and completions.all_succeeded
    assert all(r.body and r.body["object"] == "text_completion" for r in completions)
    assert responses.all_succeeded
    assert all(r.body and r.body["object"] == "response" for r in responses)


def test_responses_plain_stored_and_streamed(client: CompactifAIClient) -> None:
    answer = client.create_response(
        model=CHAT_MODEL, input="Say hello.", max_output_tokens=12, temperature=0, store=True
    )
    assert answer.output_text and answer.usage is not None and answer.usage.output_tokens > 0
    assert client.retrieve_response(answer.id).output_text == answer.output_text
    events = list(
        client.create_response_stream(
            model=CHAT_MODEL, input="Say hello.", max_output_tokens=12, temperature=0
        )
    )
    kinds = [e["type"] for e in events]
    assert kinds[0] == "response.created" and kinds[-1] in (
        "response.completed",
        "response.incomplete",
    )
    text = "".join(e.get("delta", "") for e in events if e["type"] == "response.output_text.delta")
    assert text == answer.output_text  # temperature 0: the same words, streamed
    with pytest.raises(NotFoundError):
        client.retrieve_response("resp_not_stored")
