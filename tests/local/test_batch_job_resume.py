"""The resume proof: a 50-request batch job whose client process is killed half-way.

A child process runs :func:`compactifai.batch_jobs.run_batch_job` with a state file against the
local server (real SmolLM2). It is killed (SIGKILL) once its batch exists and part of it has
run. A second child with the same requests and state file finishes the job. The server then
holds exactly one input file and one batch (nothing was uploaded or created twice), and the
second child got 50 rows in input order, all answered.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from compactifai.local import LocalServer

from .support import API_KEY, CHAT_MODEL

pytestmark = pytest.mark.local_models

N_REQUESTS = 50

JOB_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from compactifai import CompactifAIClient
    from compactifai.batch_jobs import BatchJob, chat_request

    base_url, api_key, state_path, result_path, model, n = sys.argv[1:7]
    requests = [
        chat_request(model, [{"role": "user", "content": f"Count to {i}."}],
                     max_tokens=16, temperature=0)
        for i in range(int(n))
    ]
    client = CompactifAIClient(api_key=api_key, base_url=base_url, max_retries=2)
    job = BatchJob(client, requests, state_path=state_path, poll_interval=0.2,
                   max_poll_interval=0.5)
    result = job.run()
    with open(result_path, "w") as out:
        json.dump({
            "batch_ids": result.batch_ids,
            "rows": [{"index": r.index, "custom_id": r.custom_id, "outcome": r.outcome,
                      "content": (r.body or {}).get("choices", [{}])[0].get("message", {})
                                 .get("content") if r.ok else None}
                     for r in result],
            "usage": [result.usage.prompt_tokens, result.usage.completion_tokens],
        }, out)
    """
)


def _job(server: LocalServer, tmp: Path, state: Path, result: Path) -> subprocess.Popen[bytes]:
    script = tmp / "job.py"
    script.write_text(JOB_SCRIPT)
    args = [server.base_url, server.api_key, str(state), str(result), CHAT_MODEL, str(N_REQUESTS)]
    return subprocess.Popen([sys.executable, str(script), *args], cwd=tmp)


def test_a_killed_client_resumes_the_same_batch(tmp_path: Path) -> None:
    db = tmp_path / "usage.sqlite3"
    state = tmp_path / "job-state.json"
    result = tmp_path / "result.json"
    timings: dict[str, float] = {}
    with LocalServer(api_key=API_KEY, usage_db=db, startup_timeout=90) as server:
        http = httpx.Client(
            base_url=server.base_url, headers={"Authorization": f"Bearer {server.api_key}"}
        )
        started = time.monotonic()
        first = _job(server, tmp_path, state, result)
        try:
            deadline = time.monotonic() + 120
            batch_id = None
            while True:  # wait for the saved batch id, then for part of the batch to run
                assert first.poll() is None, "the first job ended before it was killed"
                if batch_id is None and state.exists():
                    chunks = json.loads(state.read_text())["chunks"]
                    batch_id = chunks[0].get("batch_id")
                if batch_id is not None:
                    counts = http.get(f"/batches/{batch_id}").json()["request_counts"]
                    if counts["completed"] + counts["failed"] >= N_REQUESTS // 2:
                        break
                assert time.monotonic() < deadline, "the batch never started"
                time.sleep(0.05)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        finally:
            if first.poll() is None:
                first.kill()
        timings["killed_after_s"] = time.monotonic() - started
        saved = json.loads(state.read_text())
        killed_at = http.get(f"/batches/{batch_id}").json()
        assert not result.exists()
        assert killed_at["status"] == "in_progress"
        done_at_kill = killed_at["request_counts"]["completed"]
        assert done_at_kill < N_REQUESTS

        second = _job(server, tmp_path, state, result)
        assert second.wait(timeout=300) == 0
        timings["total_s"] = time.monotonic() - started
        listed = http.get("/batches").json()["data"]
        final = http.get(f"/batches/{batch_id}").json()
        http.close()
    with sqlite3.connect(db) as conn:
        uploads = conn.execute("SELECT COUNT(*) FROM files WHERE purpose = 'batch'").fetchone()[0]
    out = json.loads(result.read_text())

    assert out["batch_ids"] == [batch_id] == [c["batch_id"] for c in saved["chunks"]]
    assert [b["id"] for b in listed] == [batch_id]  # no second batch was created
    assert uploads == 1  # and no second upload
    assert final["status"] == "completed"
    assert final["request_counts"] == {"total": N_REQUESTS, "completed": N_REQUESTS, "failed": 0}
    assert [r["index"] for r in out["rows"]] == list(range(N_REQUESTS))
    assert [r["custom_id"] for r in out["rows"]] == [f"request-{i}" for i in range(N_REQUESTS)]
    assert all(r["outcome"] == "succeeded" and r["content"] for r in out["rows"])
    assert out["usage"] == [final["usage"]["input_tokens"], final["usage"]["output_tokens"]]
    print(f"\nresume proof: killed at {done_at_kill}/{N_REQUESTS} rows; timings {timings}")
