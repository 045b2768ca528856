"""Client-side cost of a provider batch vs LangChain ``abatch`` for N short chat requests.

For N requests (default 1,000) this measures, in a fresh process per run, the CPU seconds
(user + system) and the peak RSS of the CLIENT for:

- ``abatch``: ``ChatCompactifAI.abatch`` sending N chat completions concurrently;
- ``run_batch_job`` (LangChain): ``ChatCompactifAI.run_batch_job``: build the JSONL, upload it,
  create the batch, poll, download the output and convert every row to a ``ChatResult``;
- ``run_batch_job`` (transport): :func:`compactifai.batch_jobs.run_batch_job` on the same
  request bodies (no LangChain conversion either way).

The server is a stub in its own process (defined here: the shared ``stub_server`` has no
``/files`` or ``/batches``): chat answers are pre-built; a batch turns ``completed`` on its
second poll, its output file holding one pre-built answer per line. Nothing is computed per
request, so what is measured is the client. Run: ``python -m benchmarks.provider_batch``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "provider_batch.md"
MODEL = "bench-model"

_COMPLETION = {
    "id": "chatcmpl-bench",
    "object": "chat.completion",
    "created": 1749600000,
    "model": MODEL,
    "choices": [
        {
            "index": 0,
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": "Hello! How can I help you today?"},
        }
    ],
    "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21},
}
_COMPLETION_BYTES = json.dumps(_COMPLETION).encode()
_MODELS = json.dumps(
    {
        "object": "list",
        "data": [
            {
                "id": MODEL,
                "object": "model",
                "created": 1749600000,
                "owned_by": "bench",
                "capabilities": {"supports_function_calling": True},
            }
        ],
    }
).encode()


# ---------------------------------------------------------------- the stub server


class _Stub:
    """The routes: chat completions, files (upload, content), batches (create, get)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes, str]:
        if method == "POST" and path == "/v1/chat/completions":
            return 200, _COMPLETION_BYTES, "application/json"
        if method == "GET" and path == "/v1/models":
            return 200, _MODELS, "application/json"
        if method == "POST" and path == "/v1/files":
            content = _file_part(headers["content-type"], body)
            file_id = f"file-{len(self.files) + 1}"
            self.files[file_id] = content
            return (
                200,
                json.dumps(
                    {
                        "id": file_id,
                        "object": "file",
                        "bytes": len(content),
                        "created_at": 1,
                        "filename": "in.jsonl",
                        "purpose": "batch",
                    }
                ).encode(),
                "application/json",
            )
        match = re.fullmatch(r"/v1/files/([^/]+)/content", path)
        if method == "GET" and match:
            return 200, self.files[match[1]], "application/octet-stream"
        if method == "POST" and path == "/v1/batches":
            params = json.loads(body)
            batch_id = f"batch_{len(self.batches) + 1}"
            batch = {
                "id": batch_id,
                "object": "batch",
                "endpoint": params["endpoint"],
                "input_file_id": params["input_file_id"],
                "completion_window": "24h",
                "status": "validating",
                "created_at": 1,
                "output_file_id": None,
                "error_file_id": None,
            }
            self.batches[batch_id] = batch
            return 200, json.dumps(batch).encode(), "application/json"
        match = re.fullmatch(r"/v1/batches/([^/]+)", path)
        if method == "GET" and match:
            batch = self.batches[match[1]]
            if batch["status"] == "validating":
                batch["status"] = "in_progress"
            elif batch["status"] == "in_progress":
                self._complete(batch)
            return 200, json.dumps(batch).encode(), "application/json"
        return 404, b'{"detail": "Not Found"}', "application/json"

    def _complete(self, batch: dict[str, Any]) -> None:
        rows = []
        for n, line in enumerate(self.files[batch["input_file_id"]].splitlines()):
            cid = json.loads(line)["custom_id"]
            rows.append(
                b'{"id":"br_%d","custom_id":%s,"response":{"status_code":200,'
                b'"request_id":"r","body":%s},"error":null}'
                % (n, json.dumps(cid).encode(), _COMPLETION_BYTES)
            )
        file_id = f"file-{len(self.files) + 1}"
        self.files[file_id] = b"\n".join(rows) + b"\n"
        total = len(rows)
        batch.update(
            status="completed",
            output_file_id=file_id,
            request_counts={"total": total, "completed": total, "failed": 0},
        )


def _file_part(content_type: str, body: bytes) -> bytes:
    boundary = content_type.split("boundary=", 1)[1].strip('"').encode()
    for part in body.split(b"--" + boundary):
        head, _, content = part.partition(b"\r\n\r\n")
        if b'name="file"' in head:
            return content.removesuffix(b"\r\n")
    raise ValueError("no file part")


async def _serve_connection(
    stub: _Stub, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", 0)))
            status, payload, ctype = stub.handle(method, target.split("?")[0], headers, body)
            writer.write(
                b"HTTP/1.1 %d OK\r\ncontent-type: %s\r\ncontent-length: %d\r\n"
                b"connection: keep-alive\r\n\r\n%s"
                % (status, ctype.encode(), len(payload), payload)
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def _run_stub(port: int, ready: Any) -> None:
    async def main() -> None:
        stub = _Stub()
        server = await asyncio.start_server(
            lambda r, w: _serve_connection(stub, r, w), "127.0.0.1", port, backlog=2048
        )
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(main())


# ---------------------------------------------------------------- contenders (child process)


def _messages(n: int) -> list[list[tuple[str, str]]]:
    return [[("user", f"Give me a one-word answer, number {i}.")] for i in range(n)]


def _contender(kind: str, n: int, base_url: str) -> dict[str, Any]:
    """Run one contender in this (fresh) process; CPU and peak RSS of the work itself."""
    import langchain_compactifai  # noqa: F401  (imports are not what is measured)
    from compactifai import AsyncCompactifAIClient, CompactifAIClient
    from compactifai.batch_jobs import chat_request, run_batch_job
    from langchain_compactifai import ChatCompactifAI

    llm = ChatCompactifAI(
        model=MODEL, api_key="sk-bench", base_url=base_url, max_retries=0, max_tokens=16
    )
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.perf_counter()
    if kind in ("abatch", "abatch_64"):
        config: Any = {"max_concurrency": 64} if kind == "abatch_64" else None
        results: Any = asyncio.run(llm.abatch(_messages(n), config=config))
        ok = sum(1 for r in results if r.content)
    elif kind == "batch_langchain":
        done = llm.run_batch_job(_messages(n), poll_interval=0.05, max_poll_interval=0.05)
        ok = sum(1 for r in done.results if not isinstance(r, BaseException))
    elif kind == "batch_transport":
        client = CompactifAIClient(api_key="sk-bench", base_url=base_url, max_retries=0)
        bodies = [
            chat_request(MODEL, [{"role": "user", "content": m[0][1]}], max_tokens=16)
            for m in _messages(n)
        ]
        done_rows = run_batch_job(client, bodies, poll_interval=0.05, max_poll_interval=0.05)
        ok = done_rows.counts.get("succeeded", 0)
    elif kind == "achat_transport":
        client_a = AsyncCompactifAIClient(api_key="sk-bench", base_url=base_url, max_retries=0)

        async def send_all() -> list[Any]:
            return await asyncio.gather(
                *(
                    client_a.chat_completion(
                        model=MODEL, messages=[{"role": "user", "content": m[0][1]}], max_tokens=16
                    )
                    for m in _messages(n)
                )
            )

        ok = sum(1 for r in asyncio.run(send_all()) if r.choices)
    else:
        raise ValueError(kind)
    wall = time.perf_counter() - wall
    end = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (end.ru_utime - start.ru_utime) + (end.ru_stime - start.ru_stime)
    return {
        "kind": kind,
        "n": n,
        "ok": ok,
        "cpu_s": cpu,
        "wall_s": wall,
        "peak_rss_mb": end.ru_maxrss / 1024,
        "base_rss_mb": base_rss / 1024,
    }


# ---------------------------------------------------------------- driver

LABELS = {
    "abatch": "LangChain `abatch` (N concurrent chat calls, LangChain's default)",
    "abatch_64": "LangChain `abatch`, `max_concurrency=64`",
    "batch_langchain": "LangChain `run_batch_job` (provider batch)",
    "achat_transport": "transport: N concurrent `chat_completion` (asyncio.gather)",
    "batch_transport": "transport: `batch_jobs.run_batch_job` (provider batch)",
}


def _child(kind: str, n: int, base_url: str) -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.provider_batch",
            "--child",
            kind,
            "-n",
            str(n),
            "--base-url",
            base_url,
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _ratio(value: float) -> str:
    return f"{value:.3g}×"


def _table(rows: dict[str, list[dict[str, Any]]], n: int, repeats: int) -> str:
    med = {
        k: {
            f: statistics.median(r[f] for r in runs)
            for f in ("cpu_s", "wall_s", "peak_rss_mb", "base_rss_mb")
        }
        for k, runs in rows.items()
    }
    ref = med["abatch_64"]  # the sensible baseline: LangChain's default (unbounded) is shown too
    lines = [
        f"N = {n:,} short chat requests against a local stub; median of {repeats} runs, each in "
        f"a fresh process; Python {platform.python_version()}, {os.cpu_count()} cores. "
        "CPU = client user+system seconds for the whole job (batch: build JSONL, upload, "
        "create, poll every 0.05 s, download, parse/convert); RSS growth = peak RSS minus RSS "
        "after imports.",
        "",
        "Ratios (×) are to `abatch` with `max_concurrency=64`. The stub finishes a batch at "
        "once: the service's own batch time (up to its 24 h window) is not in the wall time.",
        "",
        "| path | client CPU s | CPU × | wall s | peak RSS MB | RSS growth MB | RSS growth × |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind in LABELS:
        if kind not in med:
            continue
        m = med[kind]
        growth = m["peak_rss_mb"] - m["base_rss_mb"]
        ref_growth = max(ref["peak_rss_mb"] - ref["base_rss_mb"], 1e-9)
        lines.append(
            f"| {LABELS[kind]} | {m['cpu_s']:.3f} | {_ratio(m['cpu_s'] / ref['cpu_s'])} | "
            f"{m['wall_s']:.2f} | {m['peak_rss_mb']:.1f} | {growth:.1f} | "
            f"{_ratio(growth / ref_growth)} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--port", type=int, default=8813)
    parser.add_argument("--child")
    parser.add_argument("--base-url")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_contender(args.child, args.n, args.base_url)))
        return
    ready = multiprocessing.Event()
    server = multiprocessing.Process(target=_run_stub, args=(args.port, ready), daemon=True)
    server.start()
    try:
        if not ready.wait(30):
            raise RuntimeError("the stub server did not start")
        base_url = f"http://127.0.0.1:{args.port}/v1"
        rows: dict[str, list[dict[str, Any]]] = {k: [] for k in LABELS}
        for _ in range(args.repeats):
            for kind in LABELS:  # interleaved, so drift on a shared machine hits all alike
                result = _child(kind, args.n, base_url)
                if result["ok"] != args.n:
                    raise RuntimeError(f"{kind}: {result['ok']} of {args.n} answers")
                rows[kind].append(result)
        table = _table(rows, args.n, args.repeats)
    finally:
        server.terminate()
        server.join(5)
    print(table)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.with_suffix(".json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
    RESULTS.write_text("# Provider batch vs abatch: client-side cost\n\n" + table, encoding="utf-8")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
