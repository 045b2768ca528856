"""Throughput of a batch job: Ray Data + ``ChatBatch`` against one process's async calls.

    python -m benchmarks.scale_ray                 # 200 rows, max_tokens 4; a Markdown table
    python -m benchmarks.scale_ray --rows 400 --workers 2 --max-concurrency 8
    python -m benchmarks.scale_ray --server stub --rows 5000   # instant answers: client cost

Every contender sends the same prompts (``max_tokens=4``, ``temperature=0``) to the same local
server (SmolLM2-135M, ``compactifai.local``), one after another:

- transport async client, one process: ``asyncio.gather`` bounded by a semaphore;
- ``ChatBatch`` called in one process (no engine): the helper's own overhead;
- Ray Data ``map_batches(ChatBatch)`` on an actor pool (``ray.init`` excluded: a cluster is
  started once; actor start-up is included: every job pays it);
- LangChain ``ChatCompactifAI.abatch`` with the same bound.

The local server generates one answer at a time per model, so every contender is capped by
it: the figure shows what the engine costs, not what it gains (a real API serves many
requests at once; there Ray adds processes and machines). ``--server stub`` uses the
benchmarks' stub server instead (pre-built answers, nothing computed), so what is measured is
the client side: the rows/s one process can drive, and what Ray's actors add or cost on the
same two cores. This is a figure, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compactifai import AsyncCompactifAIClient
from compactifai.batch import ChatBatch
from compactifai.local import LocalServer

ROOT = Path(__file__).resolve().parent.parent
LOCAL_MODEL = "smollm2-135m-instruct"
STUB_MODEL = "bench-model"
PARAMS: dict[str, Any] = {"max_tokens": 4, "temperature": 0}


class _Server(LocalServer):
    """The local server with a chosen number of llama.cpp threads."""

    def __init__(self, threads: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.threads = threads

    def command(self) -> list[str]:
        return [*super().command(), "--threads", str(self.threads)]


@dataclass
class Endpoint:
    base_url: str
    api_key: str


@contextlib.contextmanager
def local_server(threads: int) -> Iterator[Endpoint]:
    with _Server(threads, enable_faults=False, startup_timeout=120) as server:
        yield Endpoint(server.base_url, server.api_key)


@contextlib.contextmanager
def stub_server() -> Iterator[Endpoint]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.stub_server", "--port", str(port)], cwd=ROOT
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield Endpoint(f"http://127.0.0.1:{port}/v1", "bench-key")
    finally:
        proc.terminate()
        proc.wait(10)


@dataclass
class Result:
    name: str
    rows: int
    seconds: list[float]
    errors: int

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def prompts(n: int) -> list[str]:
    return [f"Review {i}: 'arrived quickly, works well'. Positive or negative?" for i in range(n)]


def run_async_client(server: Endpoint, model: str, rows: list[str], bound: int) -> int:
    async def main() -> int:
        client = AsyncCompactifAIClient(api_key=server.api_key, base_url=server.base_url)
        gate = asyncio.Semaphore(bound)

        async def one(prompt: str) -> bool:
            async with gate:
                try:
                    await client.chat_completion(
                        model=model, messages=[{"role": "user", "content": prompt}], **PARAMS
                    )
                    return True
                except Exception:
                    return False

        done = await asyncio.gather(*(one(p) for p in rows))
        await client.aclose()
        return done.count(False)

    return asyncio.run(main())


def run_chat_batch(
    server: Endpoint, model: str, rows: list[str], bound: int, batch_size: int
) -> int:
    import numpy as np

    batch = ChatBatch(
        model=model, api_key=server.api_key, base_url=server.base_url,
        max_concurrency=bound, **PARAMS,
    )
    errors = 0
    for start in range(0, len(rows), batch_size):
        out = batch({"prompt": np.array(rows[start:start + batch_size], dtype=object)})
        errors += int((out["error"] != "").sum())
    return errors


def run_ray(model: str, rows: list[str], bound: int, batch_size: int, workers: int) -> int:
    import ray

    ds = ray.data.from_items([{"prompt": p} for p in rows], override_num_blocks=workers * 4)
    out = ds.map_batches(
        ChatBatch,
        fn_constructor_kwargs={"model": model, "max_concurrency": bound, **PARAMS},
        compute=ray.data.ActorPoolStrategy(size=workers),
        num_cpus=0.5,
        batch_size=batch_size,
    ).to_pandas()
    assert len(out) == len(rows)
    return int((out["error"] != "").sum())


def run_langchain(server: Endpoint, model: str, rows: list[str], bound: int) -> int:
    from pydantic import SecretStr

    from langchain_compactifai import ChatCompactifAI

    llm = ChatCompactifAI(
        model=model, api_key=SecretStr(server.api_key), base_url=server.base_url, **PARAMS
    )
    out = asyncio.run(
        llm.abatch(list(rows), config={"max_concurrency": bound}, return_exceptions=True)
    )
    return sum(isinstance(o, Exception) for o in out)


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    start = time.perf_counter()
    errors = fn()
    return time.perf_counter() - start, errors


def table(results: list[Result], bound: int, workers: int, server: str) -> str:
    lines = [
        f"Server: {server}.",
        "",
        f"| contender ({bound} in flight per process) | rows | wall s (median) | rows/s | errors |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.rows} | {r.median:.1f} | {r.rows / r.median:.2f} | {r.errors} |"
        )
    lines.append("")
    lines.append(
        f"Ray: {workers} actors x {bound} in flight; `ray.init` not timed, actor start-up is."
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="Ray actors")
    parser.add_argument("--max-concurrency", type=int, default=8, help="in flight per process")
    parser.add_argument("--batch-size", type=int, default=25)
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads of the server")
    parser.add_argument("--skip", default="", help="comma-separated: async,batch,ray,langchain")
    parser.add_argument("--server", choices=("local", "stub"), default="local")
    args = parser.parse_args()
    model = STUB_MODEL if args.server == "stub" else LOCAL_MODEL
    skip = set(filter(None, args.skip.split(",")))
    rows = prompts(args.rows)
    bound, size = args.max_concurrency, args.batch_size

    endpoint = stub_server() if args.server == "stub" else local_server(args.threads)
    with endpoint as server:
        run_async_client(server, model, rows[:4], bound)  # load the model before timing anything
        contenders: list[tuple[str, str, Callable[[], int]]] = [
            ("async", "transport async client, one process (bounded gather)",
             lambda: run_async_client(server, model, rows, bound)),
            ("batch", "ChatBatch called in one process (no engine)",
             lambda: run_chat_batch(server, model, rows, bound, size)),
            ("ray", f"Ray Data map_batches(ChatBatch), {args.workers} actors",
             lambda: run_ray(model, rows, bound, size, args.workers)),
            ("langchain", "ChatCompactifAI.abatch, one process",
             lambda: run_langchain(server, model, rows, bound)),
        ]
        contenders = [c for c in contenders if c[0] not in skip]
        if any(key == "ray" for key, _, _ in contenders):
            import ray

            ray.init(
                num_cpus=2, include_dashboard=False, log_to_driver=False,
                runtime_env={"env_vars": {"COMPACTIFAI_API_KEY": server.api_key,
                                          "COMPACTIFAI_BASE_URL": server.base_url}},
            )
            ray.data.DataContext.get_current().enable_progress_bars = False
        results = {key: Result(name, len(rows), [], 0) for key, name, _ in contenders}
        try:
            for _ in range(args.rounds):
                for key, _name, fn in contenders:  # interleaved within each round
                    seconds, errors = timed(fn)
                    results[key].seconds.append(seconds)
                    results[key].errors += errors
        finally:
            if any(key == "ray" for key, _, _ in contenders):
                import ray

                ray.shutdown()
    where = (
        "benchmarks stub server (instant answers)" if args.server == "stub"
        else f"local server, SmolLM2-135M, {args.threads} llama.cpp thread(s), max_tokens 4"
    )
    print(table(list(results.values()), bound, args.workers, where))


if __name__ == "__main__":
    main()
