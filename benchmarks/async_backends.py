"""Async clients against the physical limit: raw aiohttp, raw httpx, ours on both backends.

    python -m benchmarks.async_backends
    python -m benchmarks.async_backends --rounds 5 --out benchmarks/results/async_backends.md

Same stub server as ``benchmarks.run`` (pre-built answers on 127.0.0.1, its own process),
contenders interleaved within each round, medians over rounds:
- async per call: client CPU microseconds for one awaited chat completion (sequential);
- async per chunk: client CPU microseconds per SSE event of a 5,003-event stream;
- 200 concurrent: requests per second for 200 concurrent calls on one event loop.
Ratios are to raw aiohttp + json.loads, the fastest Python client here. After setup the
heap is frozen (``gc.freeze``): without it, the objects the peers' clients keep alive make
every collection during another contender's run slower (ours on aiohttp measured 1,188 req/s
beside them against 3,511 with the freeze, the floor moving far less as it allocates less).
This is a benchmark, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.harness import MESSAGES, MODEL
from benchmarks.run import API_KEY, EVENTS_PER_STREAM, start_stub

BODY = {"model": MODEL, "messages": MESSAGES}
STREAM_BODY = {**BODY, "stream": True}


class AsyncContender:
    name = ""

    async def setup(self, base_url: str) -> None:
        raise NotImplementedError

    async def call(self) -> None:
        raise NotImplementedError

    async def stream(self) -> int:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class RawAiohttp(AsyncContender):
    name = "raw aiohttp + json.loads (floor)"

    async def setup(self, base_url: str) -> None:
        import aiohttp

        self.url = base_url + "/chat/completions"
        self.session = aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {API_KEY}"},
            connector=aiohttp.TCPConnector(limit=512))

    async def call(self) -> None:
        async with self.session.post(self.url, json=BODY) as response:
            assert json.loads(await response.read())["choices"]

    async def stream(self) -> int:
        n = 0
        async with self.session.post(self.url, json=STREAM_BODY) as response:
            async for line in response.content:
                if line.startswith(b"data: ") and line.strip() != b"data: [DONE]":
                    json.loads(line[6:])
                    n += 1
        return n

    async def close(self) -> None:
        await self.session.close()


class RawHttpxAsync(AsyncContender):
    name = "raw httpx.AsyncClient + json.loads"

    async def setup(self, base_url: str) -> None:
        import httpx

        self.url = base_url + "/chat/completions"
        self.client = httpx.AsyncClient(headers={"Authorization": f"Bearer {API_KEY}"})

    async def call(self) -> None:
        response = await self.client.post(self.url, json=BODY)
        assert json.loads(response.content)["choices"]

    async def stream(self) -> int:
        n = 0
        async with self.client.stream("POST", self.url, json=STREAM_BODY) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    json.loads(line[6:])
                    n += 1
        return n

    async def close(self) -> None:
        await self.client.aclose()


class OpenAIAsync(AsyncContender):
    name = "openai AsyncOpenAI"

    async def setup(self, base_url: str) -> None:
        import openai

        self.client = openai.AsyncOpenAI(base_url=base_url, api_key=API_KEY, max_retries=0)

    async def call(self) -> None:
        out = await self.client.chat.completions.create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]
        assert out.choices

    async def stream(self) -> int:
        n = 0
        async for _ in await self.client.chat.completions.create(
                model=MODEL, messages=MESSAGES, stream=True):  # type: ignore[arg-type]
            n += 1
        return n

    async def close(self) -> None:
        await self.client.close()


class Ours(AsyncContender):
    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.name = f"compactifai (ours), http_backend={backend!r}"

    async def setup(self, base_url: str) -> None:
        from compactifai import AsyncCompactifAIClient

        self.client = AsyncCompactifAIClient(
            api_key=API_KEY, base_url=base_url, max_retries=0, http_backend=self.backend)

    async def call(self) -> None:
        out = await self.client.chat_completion(model=MODEL, messages=MESSAGES)
        assert out.choices

    async def stream(self) -> int:
        n = 0
        async for _ in self.client.chat_completion_stream(model=MODEL, messages=MESSAGES):
            n += 1
        return n

    async def close(self) -> None:
        await self.client.aclose()


@dataclass
class Result:
    per_call: list[float] = field(default_factory=list)
    per_chunk: list[float] = field(default_factory=list)
    concurrent: list[float] = field(default_factory=list)


async def cpu_us(fn: Callable[[], Awaitable[Any]], repeat: int) -> float:
    start = time.process_time()
    for _ in range(repeat):
        await fn()
    return (time.process_time() - start) / repeat * 1e6


async def rps(c: AsyncContender, n: int) -> float:
    start = time.perf_counter()
    await asyncio.gather(*(c.call() for _ in range(n)))
    return n / (time.perf_counter() - start)


async def measure(contenders: list[AsyncContender], base_url: str,
                  args: argparse.Namespace) -> dict[str, Result]:
    results = {c.name: Result() for c in contenders}
    for c in contenders:
        await c.setup(base_url)
        for _ in range(20):
            await c.call()
        await c.stream()
        await rps(c, args.concurrency)  # warm the pool to the concurrency
    # What every contender built so far (clients, pools, imported modules) is frozen out of
    # the collector: one contender's heap must not tax another's garbage collections.
    gc.collect()
    gc.freeze()
    for _ in range(args.rounds):
        for c in contenders:
            results[c.name].per_call.append(await cpu_us(c.call, args.calls))
        for c in contenders:
            results[c.name].concurrent.append(await rps(c, args.concurrency))
    for _ in range(args.stream_rounds):
        for c in contenders:
            results[c.name].per_chunk.append(await cpu_us(c.stream, 1) / EVENTS_PER_STREAM)
    for c in contenders:
        await c.close()
    return results


def table(contenders: list[AsyncContender], results: dict[str, Result],
          args: argparse.Namespace) -> str:
    med = statistics.median
    floor = results[contenders[0].name]
    f_call, f_chunk, f_rps = med(floor.per_call), med(floor.per_chunk), med(floor.concurrent)
    lines = [
        f"Python {sys.version.split()[0]}, {os.cpu_count()} cores; {args.rounds} rounds × "
        f"{args.calls} awaited calls, {args.stream_rounds} streams of {EVENTS_PER_STREAM} "
        f"events, {args.concurrency} concurrent calls; ratios to raw aiohttp.",
        "",
        "| contender | async per call µs (× floor) | async per chunk µs (× floor) | "
        f"{args.concurrency} concurrent req/s (× floor) |",
        "|---|---|---|---|",
    ]
    for c in contenders:
        r = results[c.name]
        call, chunk, conc = med(r.per_call), med(r.per_chunk), med(r.concurrent)
        lines.append(f"| {c.name} | {call:.0f} ({call / f_call:.2f}×) | "
                     f"{chunk:.1f} ({chunk / f_chunk:.2f}×) | {conc:.0f} ({conc / f_rps:.2f}×) |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--stream-rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    contenders: list[AsyncContender] = [
        RawAiohttp(), RawHttpxAsync(), OpenAIAsync(), Ours("httpx"), Ours("aiohttp")]
    proc, base_url = start_stub()
    try:
        results = asyncio.run(measure(contenders, base_url, args))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    text = table(contenders, results, args)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
