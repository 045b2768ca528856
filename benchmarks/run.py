"""Run every contender against the same stub server, interleaved, in one run.

    python -m benchmarks.run                 # everything; prints a Markdown table
    python -m benchmarks.run --groups floor,transport --out benchmarks/results/latest.md

Figures (medians over rounds, contenders interleaved within each round):
- per call: client CPU microseconds for one non-streamed chat completion;
- per chunk: client CPU microseconds per SSE event of a 5,000-chunk stream;
- import: wall milliseconds to import the library in a fresh interpreter;
- 200 concurrent: requests per second for 200 concurrent async calls (one event loop);
- peak RSS: a fresh process after setup and 1,000 calls.
Each is also given as a ratio to the floor (raw httpx + json.loads). The heap is frozen after
setup (``gc.freeze``) so that no contender pays for another's objects in its collections. This is a benchmark,
not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib
import json
import os
import pkgutil
import resource
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.harness import Contender
from benchmarks.stub_server import STREAM_CHUNKS

ROOT = Path(__file__).resolve().parent.parent
EVENTS_PER_STREAM = STREAM_CHUNKS + 3  # role chunk, content chunks, finish, usage
API_KEY = "bench-key"


def load_contenders(groups: set[str] | None) -> list[Contender]:
    found: list[Contender] = []
    package = importlib.import_module("benchmarks")
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if not info.name.startswith("contenders_"):
            continue
        try:
            module = importlib.import_module(f"benchmarks.{info.name}")
        except ImportError as exc:
            print(f"skipping {info.name}: {exc}", file=sys.stderr)
            continue
        found.extend(module.CONTENDERS)
    order = {"floor": 0, "transport": 1, "langchain": 2, "llama-index": 3}
    found.sort(key=lambda c: order.get(c.group, 9))
    return [c for c in found if groups is None or c.group in groups or c.group == "floor"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_stub() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.stub_server", "--port", str(port)], cwd=ROOT
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"http://127.0.0.1:{port}/v1"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the stub server did not start")


@dataclass
class Result:
    per_call: list[float] = field(default_factory=list)
    per_chunk: list[float] = field(default_factory=list)
    concurrent: list[float] = field(default_factory=list)
    imports: list[float] = field(default_factory=list)
    rss_mb: float | None = None


def cpu_us(fn: Callable[[], object], repeat: int) -> float:
    start = time.process_time()
    for _ in range(repeat):
        fn()
    return (time.process_time() - start) / repeat * 1e6


def import_ms(statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1]) * 1000


def rss_child(target: str, base_url: str, calls: int) -> None:
    module, _, name = target.partition(":")
    contenders = importlib.import_module(module).CONTENDERS  # only this contender's imports
    contender = next(c for c in contenders if c.name == name)
    contender.setup(base_url, API_KEY)
    for _ in range(calls):
        contender.call()
    print(json.dumps({"rss_mb": _peak_rss_mb()}))


def _peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM). ru_maxrss would also count the parent's RSS at
    fork time, which Linux keeps across exec: every child would report the runner's size."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_rss(contender: Contender, base_url: str, calls: int) -> float:
    target = f"{type(contender).__module__}:{contender.name}"
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--rss-child", target, "--base-url", base_url,
         "--calls", str(calls)],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["rss_mb"])


async def concurrent_rps(contender: Contender, n: int) -> float:
    start = time.perf_counter()
    await asyncio.gather(*(contender.acall() for _ in range(n)))
    return n / (time.perf_counter() - start)


def measure(contenders: list[Contender], base_url: str, args: argparse.Namespace,
            extra: dict[str, list[float]]) -> dict[str, Result]:
    results = {c.name: Result() for c in contenders}
    for _ in range(args.import_rounds):
        for c in contenders:
            results[c.name].imports.append(import_ms(c.import_statement))
        for statement in EXTRA_IMPORTS:
            with contextlib.suppress(subprocess.CalledProcessError):
                extra.setdefault(statement, []).append(import_ms(statement))
    for c in contenders:
        c.setup(base_url, API_KEY)
        for _ in range(20):
            c.call()
        c.stream()
    # Every contender's clients, pools and modules are frozen out of the collector, so one
    # contender's heap does not tax another's collections (see benchmarks/async_backends.py).
    gc.collect()
    gc.freeze()
    for _ in range(args.rounds):
        for c in contenders:
            results[c.name].per_call.append(cpu_us(c.call, args.calls))
    for _ in range(args.stream_rounds):
        for c in contenders:
            results[c.name].per_chunk.append(cpu_us(c.stream, 1) / EVENTS_PER_STREAM)

    async def all_concurrent() -> None:
        for c in contenders:  # warm each pool
            await concurrent_rps(c, args.concurrency)
        for _ in range(args.rounds):
            for c in contenders:
                results[c.name].concurrent.append(await concurrent_rps(c, args.concurrency))

    asyncio.run(all_concurrent())
    for c in contenders:
        c.close()
    if args.rss_calls:
        for c in contenders:
            results[c.name].rss_mb = peak_rss(c, base_url, args.rss_calls)
    return results


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def table(contenders: list[Contender], results: dict[str, Result]) -> str:
    floor = results[contenders[0].name]
    f_call, f_chunk = med(floor.per_call), med(floor.per_chunk)
    f_imp, f_rps, f_rss = med(floor.imports), med(floor.concurrent), floor.rss_mb
    lines = [
        "| contender | group | per call µs (× floor) | per chunk µs (× floor) | import ms "
        "(× floor) | 200 concurrent req/s (× floor) | peak RSS MB (× floor) |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in contenders:
        r = results[c.name]
        call, chunk, imp, rps = med(r.per_call), med(r.per_chunk), med(r.imports), med(
            r.concurrent)
        rss = "n/a" if r.rss_mb is None or not f_rss else f"{r.rss_mb:.0f} ({r.rss_mb / f_rss:.2f}×)"
        lines.append(
            f"| {c.name} | {c.group} | {call:.0f} ({call / f_call:.2f}×) | "
            f"{chunk:.1f} ({chunk / f_chunk:.2f}×) | {imp:.0f} ({imp / f_imp:.2f}×) | "
            f"{rps:.0f} ({rps / f_rps:.2f}×) | {rss} |"
        )
    return "\n".join(lines)


LC, LC_PEER = "langchain-compactifai ChatCompactifAI", "langchain-openai ChatOpenAI"
LI, LI_PEER = "llama-index CompactifAI (ours)", "llama-index OpenAILike"
#: Imports timed alongside the contenders, for targets stated against them.
EXTRA_IMPORTS = ["import llama_index.core", "import langchain_core.language_models"]

#: (description, ours, peer, metric, bound): the targets of the issues, checked on the figures.
TARGETS = [
    ("transport per call ≤ 1.3× floor", "compactifai (ours)", None, "call_ratio", 1.3),
    ("transport per chunk ≤ 1.5× floor", "compactifai (ours)", None, "chunk_ratio", 1.5),
    ("transport import ≤ 150 ms", "compactifai (ours)", None, "import_ms", 150.0),
    ("ChatCompactifAI per-call ratio ≤ 0.5× ChatOpenAI's", LC, LC_PEER, "call_ratio_vs", 0.5),
    ("ChatCompactifAI per-chunk ratio ≤ 0.4× ChatOpenAI's", LC, LC_PEER, "chunk_ratio_vs", 0.4),
    ("langchain_compactifai import ≤ 0.6× langchain_openai", LC, LC_PEER, "import_vs", 0.6),
    ("ChatCompactifAI 200 concurrent ≥ 1.5× ChatOpenAI", LC, LC_PEER, "rps_vs_min", 1.5),
    ("ChatCompactifAI peak RSS ≤ ChatOpenAI's", LC, LC_PEER, "rss_vs", 1.0),
    ("LlamaIndex CompactifAI per-call ratio ≤ 0.5× OpenAILike's", LI, LI_PEER,
     "call_ratio_vs", 0.5),
    ("LlamaIndex CompactifAI per-chunk ratio ≤ 0.4× OpenAILike's", LI, LI_PEER,
     "chunk_ratio_vs", 0.4),
    ("LlamaIndex CompactifAI import ≤ llama_index.core + 100 ms", LI, "import llama_index.core",
     "import_plus_ms", 100.0),
    ("LlamaIndex CompactifAI peak RSS ≤ OpenAILike's", LI, LI_PEER, "rss_vs", 1.0),
]


def targets(contenders: list[Contender], results: dict[str, Result],
            extra: dict[str, list[float]]) -> str:
    floor = results[contenders[0].name]
    f_call, f_chunk = med(floor.per_call), med(floor.per_chunk)
    lines = ["| target | measured | met |", "|---|---|---|"]
    for text, ours, peer, metric, bound in TARGETS:
        if ours not in results or (peer is not None and peer not in results
                                   and peer not in extra):
            continue
        o, p = results[ours], results.get(peer) if peer else None
        if metric == "call_ratio":
            value = med(o.per_call) / f_call
            ok = value <= bound
        elif metric == "chunk_ratio":
            value = med(o.per_chunk) / f_chunk
            ok = value <= bound
        elif metric == "import_ms":
            value = med(o.imports)
            ok = value <= bound
        elif metric == "call_ratio_vs" and p:
            value = med(o.per_call) / med(p.per_call)  # = (ours/floor) / (peer/floor)
            ok = value <= bound
        elif metric == "chunk_ratio_vs" and p:
            value = med(o.per_chunk) / med(p.per_chunk)
            ok = value <= bound
        elif metric == "import_plus_ms" and peer in extra:
            value = med(o.imports) - med(extra[peer])
            ok = value <= bound
        elif metric == "import_vs" and p:
            value = med(o.imports) / med(p.imports)
            ok = value <= bound
        elif metric == "rps_vs_min" and p:
            value = med(o.concurrent) / med(p.concurrent)
            ok = value >= bound
        elif metric == "rss_vs" and p and o.rss_mb and p.rss_mb:
            value = o.rss_mb / p.rss_mb
            ok = value <= bound
        else:
            continue
        lines.append(f"| {text} | {value:.2f} | {'yes' if ok else 'NO'} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--groups", help="comma-separated: transport,langchain,llama-index")
    parser.add_argument("--calls", type=int, default=300, help="calls per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--stream-rounds", type=int, default=3)
    parser.add_argument("--import-rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--rss-calls", type=int, default=1000, help="0 skips the RSS figure")
    parser.add_argument("--out", help="also write the Markdown here")
    parser.add_argument("--rss-child", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(args.rss_child, args.base_url, args.calls)
        return
    groups = set(args.groups.split(",")) if args.groups else None
    contenders = load_contenders(groups)
    proc, base_url = start_stub()
    extra: dict[str, list[float]] = {}
    try:
        results = measure(contenders, base_url, args, extra)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    text = (
        f"Python {sys.version.split()[0]}, {os.cpu_count()} cores; {args.rounds} rounds × "
        f"{args.calls} calls, {args.stream_rounds} streams of {EVENTS_PER_STREAM} events, "
        f"{args.concurrency} concurrent async calls.\n\n"
        + table(contenders, results) + "\n\n"
        + "".join(f"`{k}`: {med(v):.0f} ms. " for k, v in extra.items()) + "\n\n"
        + targets(contenders, results, extra) + "\n"
    )
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
