"""``/v1/files`` and ``/v1/batches`` on the local server.

Without a model: the wire shapes and errors of every route (the lines of those batches name an
unknown model, so the chat route answers them without loading SmolLM2), and the worker's state
machine against a scripted ASGI app (cancel mid-line, stop and resume, expiry). With the real
model (``local_models``): a batch through the chat route, a cancel that interrupts a generation,
and a server killed mid-batch that finishes the same batch when it starts again.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from compactifai.local import LocalServer
from compactifai.local.batch_store import JobStore
from compactifai.local.batch_worker import BatchWorker, new_batch, parse_input
from compactifai.types_jobs import Batch, BatchList, FileObject

from .jobs_support import chat_line, create, jsonl, rows, served, upload, wait_for
from .support import API_KEY, CHAT_MODEL, OTHER_KEY

# ---------------------------------------------------------------- files


async def test_upload_retrieve_and_download_a_file(tmp_path: Path) -> None:
    content = jsonl([chat_line(0, "nope")])
    async with served(tmp_path / "u.db") as (_, http):
        r = await http.post(
            "/files", files={"file": ("mine.jsonl", content)}, data={"purpose": "batch"}
        )
        assert r.status_code == 200
        obj = FileObject.model_validate(r.json())
        assert (obj.object, obj.bytes, obj.filename, obj.purpose) == (
            "file",
            len(content),
            "mine.jsonl",
            "batch",
        )
        assert obj.id.startswith("file-")
        assert (await http.get(f"/files/{obj.id}")).json() == r.json()
        got = await http.get(f"/files/{obj.id}/content")
        assert got.content == content
        assert got.headers["content-type"] == "application/octet-stream"


async def test_file_errors_use_the_service_shapes(tmp_path: Path) -> None:
    async with served(tmp_path / "u.db") as (_, http):
        missing = await http.post("/files", data={"purpose": "batch"}, files={"x": ("a", b"1")})
        assert missing.status_code == 422
        assert [d["loc"] for d in missing.json()["detail"]] == [["body", "file"]]
        not_form = await http.post("/files", json={"purpose": "batch"})
        assert not_form.status_code == 422
        assert {tuple(d["loc"]) for d in not_form.json()["detail"]} == {
            ("body", "file"),
            ("body", "purpose"),
        }
        bad_purpose = await http.post(
            "/files", files={"file": ("a.jsonl", b"{}")}, data={"purpose": "nonsense"}
        )
        assert bad_purpose.status_code == 400
        assert bad_purpose.json()["error"]["param"] == "purpose"
        empty = await http.post(
            "/files", files={"file": ("a.jsonl", b"")}, data={"purpose": "batch"}
        )
        assert empty.status_code == 400 and "empty" in empty.json()["error"]["message"]
        for path in ("/files/file-nope", "/files/file-nope/content"):
            r = await http.get(path)
            assert r.status_code == 404
            assert isinstance(r.json()["detail"], str) and "file-nope" in r.json()["detail"]


async def test_a_file_is_visible_only_to_its_key(tmp_path: Path) -> None:
    async with served(tmp_path / "u.db") as (app, http):
        file_id = await upload(http, b'{"a": 1}\n')
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://local/v1",
            headers={"Authorization": f"Bearer {OTHER_KEY}"},
        ) as other:
            assert (await other.get(f"/files/{file_id}/content")).status_code == 404
            r = await other.post(
                "/batches",
                json={
                    "input_file_id": file_id,
                    "endpoint": "/v1/completions",
                    "completion_window": "24h",
                },
            )
            assert r.status_code == 400 and r.json()["error"]["param"] == "input_file_id"


async def test_an_upload_over_the_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    async with served(tmp_path / "u.db") as (_, http):
        r = await http.post(
            "/files",
            content=b"x",
            headers={
                "content-type": "multipart/form-data; boundary=b",
                "content-length": str(300 * 1024 * 1024),
            },
        )
        assert r.status_code == 413
        assert r.json()["error"]["code"] == "file_too_large"


# ---------------------------------------------------------------- batch create / list / errors


async def test_create_errors_use_the_service_shapes(tmp_path: Path) -> None:
    async with served(tmp_path / "u.db") as (_, http):
        r = await http.post("/batches", json={"endpoint": "/v1/chat/completions"})
        assert r.status_code == 422
        locs = {tuple(d["loc"]) for d in r.json()["detail"]}
        assert locs == {("body", "input_file_id"), ("body", "completion_window")}
        r = await http.post(
            "/batches",
            json={
                "input_file_id": "f",
                "endpoint": "/v1/chat/completions",
                "completion_window": "1h",
            },
        )
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == [
            "body",
            "completion_window",
        ]
        r = await http.post(
            "/batches", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert r.status_code == 422 and r.json()["detail"][0]["type"] == "json_invalid"
        r = await http.post(
            "/batches",
            json={
                "input_file_id": "file-x",
                "endpoint": "/v1/embeddings",
                "completion_window": "24h",
            },
        )
        assert r.status_code == 400 and r.json()["error"]["param"] == "endpoint"
        r = await http.post(
            "/batches",
            json={
                "input_file_id": "file-x",
                "endpoint": "/v1/completions",
                "completion_window": "24h",
            },
        )
        assert r.status_code == 400 and r.json()["error"]["code"] == "file_not_found"
        not_batch = await upload(http, b'{"a": 1}\n', purpose="user_data")
        r = await http.post(
            "/batches",
            json={
                "input_file_id": not_batch,
                "endpoint": "/v1/completions",
                "completion_window": "24h",
            },
        )
        assert r.status_code == 400 and "purpose 'batch'" in r.json()["error"]["message"]
        for method, path in (
            ("GET", "/batches/batch_nope"),
            ("POST", "/batches/batch_nope/cancel"),
        ):
            r = await http.request(method, path)
            assert r.status_code == 404 and "batch_nope" in r.json()["detail"]
        for query, loc in (("limit=0", "limit"), ("limit=101", "limit"), ("limit=x", "limit")):
            r = await http.get(f"/batches?{query}")
            assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", loc]
        r = await http.post(
            "/batches",
            json={
                "input_file_id": "file-x",
                "endpoint": "/v1/completions",
                "completion_window": "24h",
                "priority": "high",
            },
        )
        assert r.status_code == 400 and r.json()["error"]["param"] == "priority"
        r = await http.get("/batches?after=batch_unknown")
        assert r.status_code == 400 and r.json()["error"]["param"] == "after"


async def test_an_invalid_input_file_fails_with_every_problem_and_its_line(tmp_path: Path) -> None:
    good = chat_line(0, "nope")
    lines = [
        json.dumps(good),
        "not json",
        json.dumps({**good, "custom_id": "request-0"}),  # duplicate
        json.dumps({**good, "custom_id": "x", "url": "/v1/completions"}),
        json.dumps({**good, "custom_id": "y", "method": "GET"}),
        json.dumps({**good, "custom_id": "z", "body": {**good["body"], "stream": True}}),
        json.dumps({"method": "POST", "url": "/v1/chat/completions", "body": {}}),
    ]
    async with served(tmp_path / "u.db") as (_, http):
        file_id = await upload(http, "\n".join(lines).encode())
        doc = await wait_for(http, (await create(http, file_id))["id"])
    batch = Batch.model_validate(doc)
    assert batch.status == "failed" and batch.failed_at is not None
    assert batch.errors is not None
    got = [(e.line, e.code) for e in batch.errors.data]
    assert got == [
        (2, "invalid_json_line"),
        (3, "duplicate_custom_id"),
        (4, "mismatched_endpoint"),
        (5, "invalid_method"),
        (6, "invalid_body"),
        (7, "missing_custom_id"),
    ]
    assert batch.output_file_id is None and batch.error_file_id is None


def test_parse_input_refuses_an_empty_file_and_too_many_requests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert [e["code"] for e in parse_input(b"\n\n", "/v1/completions").errors] == ["empty_file"]
    assert parse_input(b"\xff\xfe", "/v1/completions").errors[0]["code"] == "invalid_file"
    monkeypatch.setattr("compactifai.local.batch_worker.MAX_BATCH_REQUESTS", 2)
    three = jsonl(
        [
            {"custom_id": str(i), "method": "POST", "url": "/v1/completions", "body": {}}
            for i in range(3)
        ]
    )
    assert parse_input(three, "/v1/completions").errors[-1]["code"] == "too_many_requests"


async def test_a_batch_runs_its_lines_through_the_chat_route(tmp_path: Path) -> None:
    """Lines naming an unknown model get the chat route's own 404, row by row, in order."""
    async with served(tmp_path / "u.db") as (_, http):
        file_id = await upload(http, jsonl([chat_line(i, "nope") for i in range(12)]))
        r = await http.post(
            "/batches",
            json={
                "input_file_id": file_id,
                "endpoint": "/v1/chat/completions",
                "completion_window": "24h",
                "output_expires_after": {"anchor": "created_at", "seconds": 3600},
            },
        )
        created = r.json()
        assert r.status_code == 201 and created["status"] == "validating"
        assert created["output_expires_after"] == {"anchor": "created_at", "seconds": 3600}
        assert created["expires_at"] - created["created_at"] == 24 * 3600
        doc = await wait_for(http, created["id"])
        errors = await rows(http, doc["error_file_id"])
        direct = await http.post("/chat/completions", json=chat_line(0, "nope")["body"])
    batch = Batch.model_validate(doc)
    assert batch.status == "completed"
    assert batch.request_counts is not None
    assert (
        batch.request_counts.total,
        batch.request_counts.completed,
        batch.request_counts.failed,
    ) == (12, 0, 12)
    assert batch.output_file_id is None
    assert [r["custom_id"] for r in errors] == [f"request-{i}" for i in range(12)]
    first = errors[0]
    assert first["id"].startswith("batch_req_") and first["error"] is None
    assert first["response"]["status_code"] == direct.status_code in (400, 404)
    assert first["response"]["body"] == direct.json()
    assert first["response"]["request_id"].startswith("req_")
    timestamps = [doc[k] for k in ("created_at", "in_progress_at", "finalizing_at", "completed_at")]
    assert timestamps == sorted(timestamps)


async def test_list_pages_newest_first_with_the_after_cursor(tmp_path: Path) -> None:
    async with served(tmp_path / "u.db") as (app, http):
        file_id = await upload(http, jsonl([chat_line(0, "nope")]))
        ids = [(await create(http, file_id))["id"] for _ in range(5)]
        pages: list[list[str]] = []
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 2}
            if after:
                params["after"] = after
            page = BatchList.model_validate((await http.get("/batches", params=params)).json())
            pages.append([b.id for b in page.data])
            assert page.first_id == page.data[0].id and page.last_id == page.data[-1].id
            if not page.has_more:
                break
            after = page.last_id
        default = (await http.get("/batches")).json()
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://local/v1",
            headers={"Authorization": f"Bearer {OTHER_KEY}"},
        ) as other:
            theirs = (await other.get("/batches")).json()
    assert pages == [ids[::-1][0:2], ids[::-1][2:4], ids[::-1][4:5]]
    assert [b["id"] for b in default["data"]] == ids[::-1] and default["has_more"] is False
    assert theirs == {
        "object": "list",
        "data": [],
        "has_more": False,
        "first_id": None,
        "last_id": None,
    }


async def test_cancelling_a_finished_batch_is_refused(tmp_path: Path) -> None:
    async with served(tmp_path / "u.db") as (_, http):
        file_id = await upload(http, jsonl([chat_line(0, "nope")]))
        doc = await wait_for(http, (await create(http, file_id))["id"])
        r = await http.post(f"/batches/{doc['id']}/cancel")
    assert r.status_code == 400 and r.json()["error"]["code"] == "batch_not_cancellable"


# ---------------------------------------------------------------- the worker, scripted


class ScriptedApp:
    """An ASGI app standing in for the routes: answers after ``delay`` unless told to stop."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls: list[str] = []
        self.interrupted: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = json.loads((await receive())["body"])
        tag = body["messages"][0]["content"]
        self.calls.append(tag)
        gone = asyncio.ensure_future(receive())
        done, _ = await asyncio.wait({gone}, timeout=self.delay)
        if done:
            self.interrupted.append(tag)
        else:
            gone.cancel()
        status = 400 if "fail" in tag else 200
        answer = {"echo": tag, "usage": {"prompt_tokens": 2, "completion_tokens": 3}}
        if status != 200:
            answer = {"error": {"message": "scripted failure", "type": "invalid_request_error"}}
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": json.dumps(answer).encode()})


def _batch_of(store: JobStore, tags: list[str]) -> str:
    lines = [
        {
            "custom_id": f"c{i}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": "m", "messages": [{"role": "user", "content": tag}]},
        }
        for i, tag in enumerate(tags)
    ]
    file = store.add_file("u", "in.jsonl", "batch", jsonl(lines))
    doc = new_batch(file["id"], "/v1/chat/completions", {"job": "t"})
    store.add_batch("u", doc)
    return str(doc["id"])


async def _until(
    store: JobStore, batch_id: str, pred: Any, timeout: float = 10.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        doc = store.batch(None, batch_id)
        assert doc is not None
        if pred(doc):
            return doc
        assert time.monotonic() < deadline, doc
        await asyncio.sleep(0.01)


def _file_rows(store: JobStore, file_id: str | None) -> list[dict[str, Any]]:
    if file_id is None:
        return []
    content = store.file_content("u", file_id)
    assert content is not None
    return [json.loads(x) for x in content.decode().splitlines()]


async def test_worker_keeps_input_order_counts_and_usage(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "u.db")
    app = ScriptedApp()
    worker = BatchWorker(store, app)
    batch_id = _batch_of(store, ["a", "fail-b", "c", "fail-d", "e"])
    worker.start()
    try:
        doc = await _until(store, batch_id, lambda d: d["status"] == "completed")
    finally:
        await worker.stop()
    assert doc["request_counts"] == {"total": 5, "completed": 3, "failed": 2}
    assert doc["usage"]["input_tokens"] == 6 and doc["usage"]["total_tokens"] == 15
    assert doc["metadata"] == {"job": "t"} and doc["model"] == "m"
    good = _file_rows(store, doc["output_file_id"])
    bad = _file_rows(store, doc["error_file_id"])
    assert [r["custom_id"] for r in good] == ["c0", "c2", "c4"]
    assert [r["response"]["body"]["echo"] for r in good] == ["a", "c", "e"]
    assert [(r["custom_id"], r["response"]["status_code"]) for r in bad] == [
        ("c1", 400),
        ("c3", 400),
    ]
    assert app.calls == ["a", "fail-b", "c", "fail-d", "e"]
    store.close()


async def test_cancel_interrupts_the_line_in_flight(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "u.db")
    app = ScriptedApp(delay=30.0)  # every line would take 30 s unless interrupted
    worker = BatchWorker(store, app)
    batch_id = _batch_of(store, ["a", "b", "c"])
    worker.start()
    try:
        await _until(store, batch_id, lambda d: d["status"] == "in_progress")
        while not app.calls:
            await asyncio.sleep(0.01)
        started = time.monotonic()
        assert store.update_batch(batch_id, {"status": "cancelling"}, only_if=("in_progress",))
        worker.interrupt(batch_id)
        worker.notify()
        doc = await _until(store, batch_id, lambda d: d["status"] == "cancelled")
        elapsed = time.monotonic() - started
    finally:
        await worker.stop()
    assert elapsed < 5.0
    assert app.interrupted == ["a"]
    assert doc["cancelled_at"] is not None and doc["output_file_id"] is None
    bad = _file_rows(store, doc["error_file_id"])
    assert [(r["custom_id"], r["error"]["code"]) for r in bad] == [
        ("c0", "batch_cancelled"),
        ("c1", "batch_cancelled"),
        ("c2", "batch_cancelled"),
    ]
    assert all(r["response"] is None for r in bad)
    assert doc["request_counts"] == {"total": 3, "completed": 0, "failed": 3}
    store.close()


async def test_a_stopped_worker_resumes_where_it_stopped(tmp_path: Path) -> None:
    db = tmp_path / "u.db"
    store = JobStore(db)
    first = ScriptedApp(delay=0.05)
    worker = BatchWorker(store, first)
    tags = [f"t{i}" for i in range(10)]
    batch_id = _batch_of(store, tags)
    worker.start()
    await _until(store, batch_id, lambda d: d["request_counts"]["completed"] >= 3)
    await worker.stop()  # as a server does when it shuts down
    store.close()
    mid = JobStore(db).batch(None, batch_id)
    assert mid is not None and mid["status"] == "in_progress"
    done_before = mid["request_counts"]["completed"]

    store = JobStore(db)  # a new process: new store, new worker, same file
    second = ScriptedApp()
    worker = BatchWorker(store, second)
    worker.start()
    try:
        doc = await _until(store, batch_id, lambda d: d["status"] == "completed")
    finally:
        await worker.stop()
    good = _file_rows(store, doc["output_file_id"])
    assert [r["response"]["body"]["echo"] for r in good] == tags
    # Nothing that had finished ran again; the line in flight at the stop did.
    assert second.calls == tags[done_before:]
    assert set(first.calls) | set(second.calls) == set(tags)
    assert doc["request_counts"] == {"total": 10, "completed": 10, "failed": 0}
    store.close()


async def test_a_batch_past_its_window_expires_with_what_it_finished(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "u.db")
    app = ScriptedApp()
    batch_id = _batch_of(store, ["a", "b", "c"])
    store.update_batch(batch_id, {"expires_at": int(time.time()) - 1})
    worker = BatchWorker(store, app)
    worker.start()
    try:
        doc = await _until(store, batch_id, lambda d: d["status"] == "expired")
    finally:
        await worker.stop()
    assert doc["expired_at"] is not None and app.calls == []
    bad = _file_rows(store, doc["error_file_id"])
    assert [r["error"]["code"] for r in bad] == ["batch_expired"] * 3
    store.close()


async def test_a_batch_cancelled_while_another_runs_ends_at_once(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "u.db")
    app = ScriptedApp(delay=0.05)
    worker = BatchWorker(store, app)
    running = _batch_of(store, [f"r{i}" for i in range(40)])
    queued = _batch_of(store, ["q"])
    worker.start()
    try:
        await _until(store, running, lambda d: d["request_counts"]["completed"] >= 1)
        store.update_batch(queued, {"status": "cancelling"}, only_if=("validating",))
        worker.notify()
        doc = await _until(store, queued, lambda d: d["status"] == "cancelled", timeout=2.0)
        still = store.batch(None, running)
    finally:
        await worker.stop()
    assert still is not None and still["status"] == "in_progress"
    assert doc["request_counts"]["completed"] == 0 and "q" not in app.calls
    store.close()


# ---------------------------------------------------------------- the real model


@pytest.mark.local_models
async def test_chat_batch_with_the_real_model(tmp_path: Path) -> None:
    lines = [chat_line(i, CHAT_MODEL, max_tokens=8, temperature=0) for i in range(6)]
    lines.insert(3, chat_line(99, "nope"))
    async with served(tmp_path / "u.db") as (_, http):
        file_id = await upload(http, jsonl(lines))
        doc = await wait_for(http, (await create(http, file_id))["id"])
        good = await rows(http, doc["output_file_id"])
        bad = await rows(http, doc["error_file_id"])
        usage = await http.post(
            "/usage/completions",
            json={"start_time": "2020-01-01T00:00:00Z", "window_size": "DAY"},
        )
    assert doc["status"] == "completed"
    assert doc["request_counts"] == {"total": 7, "completed": 6, "failed": 1}
    assert [r["custom_id"] for r in good] == [f"request-{i}" for i in range(6)]
    for row in good:
        body = row["response"]["body"]
        assert row["response"]["status_code"] == 200 and body["object"] == "chat.completion"
        assert body["choices"][0]["message"]["content"]
    assert bad[0]["custom_id"] == "request-99" and bad[0]["response"]["status_code"] in (400, 404)
    n_in = sum(r["response"]["body"]["usage"]["prompt_tokens"] for r in good)
    n_out = sum(r["response"]["body"]["usage"]["completion_tokens"] for r in good)
    assert (doc["usage"]["input_tokens"], doc["usage"]["output_tokens"]) == (n_in, n_out)
    # The lines went through the chat route, so they count in the key's usage.
    assert sum(w["output_token"] for w in usage.json()["data"]) == n_out


@pytest.mark.local_models
async def test_cancel_stops_a_generation_mid_way(tmp_path: Path) -> None:
    lines = [chat_line(i, CHAT_MODEL, max_tokens=2000, temperature=1.0) for i in range(3)]
    for line in lines:
        line["body"]["messages"][0]["content"] = "Write a very long story about the sea."
    async with served(tmp_path / "u.db") as (_, http):
        file_id = await upload(http, jsonl(lines))
        batch_id = (await create(http, file_id))["id"]
        await wait_for(http, batch_id, statuses=("in_progress",))
        await asyncio.sleep(1.0)  # the first line is generating
        started = time.monotonic()
        r = await http.post(f"/batches/{batch_id}/cancel")
        assert r.status_code == 200 and r.json()["status"] in ("cancelling", "cancelled")
        assert r.json()["cancelling_at"] is not None
        doc = await wait_for(http, batch_id, timeout=30)
        elapsed = time.monotonic() - started
        again = await http.post(f"/batches/{batch_id}/cancel")
    assert doc["status"] == "cancelled" and elapsed < 5.0
    assert again.status_code == 200 and again.json()["status"] == "cancelled"
    assert doc["request_counts"]["total"] == 3


@pytest.mark.local_models
def test_a_killed_server_finishes_the_same_batch_after_a_restart(tmp_path: Path) -> None:
    """SIGKILL mid-batch; a new server process on the same SQLite file completes it."""
    db = tmp_path / "usage.sqlite3"
    lines = [chat_line(i, CHAT_MODEL, max_tokens=24, temperature=0) for i in range(20)]

    def client(server: LocalServer) -> httpx.Client:
        return httpx.Client(
            base_url=server.base_url,
            headers={"Authorization": f"Bearer {server.api_key}"},
            timeout=60,
        )

    first = LocalServer(api_key=API_KEY, usage_db=db, startup_timeout=90).start()
    try:
        with client(first) as http:
            file_id = http.post(
                "/files", files={"file": ("in.jsonl", jsonl(lines))}, data={"purpose": "batch"}
            ).json()["id"]
            batch_id = http.post(
                "/batches",
                json={
                    "input_file_id": file_id,
                    "endpoint": "/v1/chat/completions",
                    "completion_window": "24h",
                },
            ).json()["id"]
            deadline = time.monotonic() + 120
            while True:
                doc = http.get(f"/batches/{batch_id}").json()
                if doc["request_counts"]["completed"] >= 3:
                    break
                assert time.monotonic() < deadline, doc
                time.sleep(0.05)
        assert first._proc is not None
        os.kill(first._proc.pid, signal.SIGKILL)
        first._proc.wait(timeout=10)
    finally:
        first.stop()
    with sqlite3.connect(db) as conn:
        (status,) = conn.execute("SELECT status FROM batches WHERE id = ?", (batch_id,)).fetchone()
        (done,) = conn.execute(
            "SELECT COUNT(*) FROM batch_lines WHERE batch_id = ? AND done = 1", (batch_id,)
        ).fetchone()
    assert status == "in_progress" and 3 <= done < 20

    with (
        LocalServer(api_key=API_KEY, usage_db=db, startup_timeout=90) as second,
        client(second) as http,
    ):
        deadline = time.monotonic() + 180
        while True:
            doc = http.get(f"/batches/{batch_id}").json()
            if doc["status"] in ("completed", "failed", "cancelled", "expired"):
                break
            assert time.monotonic() < deadline, doc
            time.sleep(0.1)
        out = http.get(f"/files/{doc['output_file_id']}/content").text.splitlines()
        listed = http.get("/batches").json()["data"]
    assert doc["status"] == "completed"
    assert doc["request_counts"] == {"total": 20, "completed": 20, "failed": 0}
    assert [json.loads(x)["custom_id"] for x in out] == [f"request-{i}" for i in range(20)]
    assert [b["id"] for b in listed] == [batch_id]


@pytest.mark.parametrize(
    "name",
    [
        "compactifai.local.batch_store",
        "compactifai.local.batch_worker",
        "compactifai.local.dispatch",
        "compactifai.local.routes._shapes",
    ],
)
def test_docstring_examples_run(name: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
