"""``POST /v1/responses`` and ``GET /v1/responses/{id}`` on the local server.

Without a model: the refusals and error shapes. With SmolLM2 (``local_models``): plain and
streamed answers, ``store``, and a batch of ``/v1/responses`` lines.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from compactifai.types_jobs import ResponsesResult

from .jobs_support import create, jsonl, rows, served, upload, wait_for
from .support import CHAT_MODEL


@pytest.mark.parametrize(
    "body,loc",
    [
        ({"input": "hi"}, ["body", "model"]),
        ({"model": CHAT_MODEL}, ["body", "input"]),
        ({"model": "", "input": "hi"}, ["body", "model"]),
        ({"model": CHAT_MODEL, "input": "hi", "temperature": 3}, ["body", "temperature"]),
        (
            {"model": CHAT_MODEL, "input": "hi", "max_output_tokens": 0},
            ["body", "max_output_tokens"],
        ),
        ({"model": CHAT_MODEL, "input": "hi", "store": "maybe"}, ["body", "store"]),
    ],
)
async def test_schema_violations_are_fastapi_422s(
    tmp_path: Path, body: dict[str, Any], loc: list[str]
) -> None:
    async with served(tmp_path / "u.db") as (_, http):
        r = await http.post("/responses", json=body)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == loc


@pytest.mark.parametrize(
    "extra,param",
    [
        ({"tools": [{"type": "function", "name": "f", "parameters": {}}]}, "tools"),
        ({"file_id": "file-1"}, "file_id"),
        ({"previous_response_id": "resp_1"}, "previous_response_id"),
        ({"reasoning": {"effort": "high"}}, "reasoning"),
        ({"frobnicate": True}, "frobnicate"),
        ({"input": []}, "input"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}]},
            "input[0].content[0]",
        ),
        ({"input": [{"type": "function_call_output", "call_id": "c", "output": "1"}]}, "input[0]"),
        ({"text": {"format": {"type": "yaml"}}}, "text.format"),
    ],
)
async def test_what_the_local_server_cannot_do_is_refused_by_name(
    tmp_path: Path, extra: dict[str, Any], param: str
) -> None:
    body = {"model": CHAT_MODEL, "input": "hi", **extra}
    async with served(tmp_path / "u.db") as (_, http):
        r = await http.post("/responses", json=body)
    assert r.status_code == 400
    assert r.json()["error"]["param"] == param


async def test_chat_route_errors_come_back_as_they_are(tmp_path: Path) -> None:
    async with served(tmp_path / "u.db") as (_, http):
        via_responses = await http.post("/responses", json={"model": "nope", "input": "hi"})
        via_chat = await http.post(
            "/chat/completions",
            json={"model": "nope", "messages": [{"role": "user", "content": "hi"}]},
        )
        streamed = await http.post(
            "/responses", json={"model": "nope", "input": "hi", "stream": True}
        )
    assert via_responses.status_code == via_chat.status_code
    assert via_responses.json() == via_chat.json()
    assert streamed.status_code == via_chat.status_code
    assert streamed.headers["content-type"].startswith("application/json")


async def test_an_unknown_or_unstored_response_is_a_bare_404(tmp_path: Path) -> None:
    async with served(tmp_path / "u.db") as (_, http):
        r = await http.get("/responses/resp_nope")
    assert r.status_code == 404
    assert set(r.json()) == {"detail"} and "resp_nope" in r.json()["detail"]


def _sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    for frame in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in frame.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


@pytest.mark.local_models
async def test_plain_answer_stored_and_retrieved(tmp_path: Path) -> None:
    async with served(tmp_path / "u.db") as (_, http):
        r = await http.post(
            "/responses",
            json={
                "model": CHAT_MODEL,
                "instructions": "Answer in one short sentence.",
                "input": [{"role": "user", "content": [{"type": "input_text", "text": "Hi!"}]}],
                "max_output_tokens": 24,
                "temperature": 0,
                "store": True,
                "metadata": {"run": "t"},
            },
        )
        assert r.status_code == 200
        doc = r.json()
        again = await http.get(f"/responses/{doc['id']}")
        unstored = await http.post(
            "/responses", json={"model": CHAT_MODEL, "input": "Hi", "max_output_tokens": 4}
        )
        missing = await http.get(f"/responses/{unstored.json()['id']}")
    result = ResponsesResult.model_validate(doc)
    assert result.object == "response" and result.id.startswith("resp_")
    assert result.status in ("completed", "incomplete") and result.output_text.strip()
    assert doc["output"][0]["type"] == "message" and doc["output"][0]["role"] == "assistant"
    assert result.usage is not None and result.usage.output_tokens <= 24
    assert result.usage.total_tokens == result.usage.input_tokens + result.usage.output_tokens
    assert doc["metadata"] == {"run": "t"} and doc["instructions"].startswith("Answer")
    assert again.status_code == 200 and again.json() == doc
    assert unstored.json()["status"] == "incomplete"
    assert unstored.json()["incomplete_details"] == {"reason": "max_output_tokens"}
    assert missing.status_code == 404


@pytest.mark.local_models
async def test_streamed_events_in_openai_order(tmp_path: Path) -> None:
    async with served(tmp_path / "u.db") as (_, http):
        r = await http.post(
            "/responses",
            json={
                "model": CHAT_MODEL,
                "input": "Name three colors.",
                "max_output_tokens": 16,
                "stream": True,
                "store": True,
            },
        )
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = _sse(r.text)
        final = events[-1][1]["response"]
        stored = (await http.get(f"/responses/{final['id']}")).json()
    kinds = [kind for kind, _ in events]
    assert all(kind == data["type"] for kind, data in events)
    assert [data["sequence_number"] for _, data in events] == list(range(len(events)))
    deltas = [d for k, d in events if k == "response.output_text.delta"]
    assert deltas and kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:-1] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
    ]
    assert kinds[-1] in ("response.completed", "response.incomplete")
    text = "".join(d["delta"] for d in deltas)
    done = next(d for k, d in events if k == "response.output_text.done")
    assert done["text"] == text == ResponsesResult.model_validate(final).output_text
    assert final["usage"]["output_tokens"] >= 1
    assert stored == final


@pytest.mark.local_models
async def test_a_batch_of_responses_lines(tmp_path: Path) -> None:
    lines = [
        {
            "custom_id": f"r{i}",
            "method": "POST",
            "url": "/v1/responses",
            "body": {"model": CHAT_MODEL, "input": f"Say {i}.", "max_output_tokens": 8},
        }
        for i in range(3)
    ]
    async with served(tmp_path / "u.db") as (_, http):
        file_id = await upload(http, jsonl(lines))
        doc = await wait_for(http, (await create(http, file_id, "/v1/responses"))["id"])
        out = await rows(http, doc["output_file_id"])
    assert doc["status"] == "completed" and doc["request_counts"]["completed"] == 3
    assert [r["custom_id"] for r in out] == ["r0", "r1", "r2"]
    bodies = [ResponsesResult.model_validate(r["response"]["body"]) for r in out]
    assert all(b.output_text for b in bodies)
    assert doc["usage"]["output_tokens"] == sum(b.usage.output_tokens for b in bodies if b.usage)
