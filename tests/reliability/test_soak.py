"""Soak: 2,000 async requests at 200 concurrency with 5% injected faults, over real sockets.

Every request is accounted for (an answer or a typed error), no connection or file
descriptor leaks (counted before and after), and memory stays flat.
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from compactifai import AsyncCompactifAIClient, CompactifAIError, StreamInterruptedError

ROOT = Path(__file__).resolve().parents[2]
TOTAL, CONCURRENCY, FAULT_RATE = 2000, 200, 0.05
FAULTS = ["500", "503", "429", "drop", "drop-mid-stream", "stall"]


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.fixture(scope="module")
def stub_url() -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "tests.reliability.fault_stub",
                             "--port", str(port)], cwd=ROOT)
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/v1"
    proc.terminate()
    proc.wait(timeout=10)


async def _soak(url: str) -> tuple[Counter[str], int, int, int]:
    gc.collect()
    fds_before = _open_fds()
    rng = random.Random(20261126)
    client = AsyncCompactifAIClient(api_key="sk-soak", base_url=url, max_retries=2,
                                    max_retry_delay=0.05, timeout=2.0)
    client._pipeline._sleep_rand = lambda: 1.0  # the shortest backoffs: a soak, not a wait
    semaphore = asyncio.Semaphore(CONCURRENCY)
    outcomes: Counter[str] = Counter()

    async def one(i: int) -> None:
        fault = rng.choice(FAULTS) if rng.random() < FAULT_RATE else None
        # Half the faults pass after one failure (retries cure them), half persist.
        headers = {"X-Fault": fault, "X-Fault-Seconds": "5", "X-Fault-Id": f"f{i}",
                   "X-Fault-Times": "1" if i % 4 < 2 else "9"} if fault else {}
        messages = [{"role": "user", "content": f"request {i}"}]
        async with semaphore:
            try:
                if i % 2:
                    async for _ in client.chat_completion_stream(
                        model="m", messages=messages, extra_headers=headers
                    ):
                        pass
                else:
                    await client.chat_completion(model="m", messages=messages,
                                                 extra_headers=headers)
                outcomes["ok"] += 1
            except StreamInterruptedError:
                outcomes["interrupted"] += 1
            except CompactifAIError as err:
                outcomes[type(err).__name__] += 1

    await asyncio.gather(*(one(i) for i in range(200)))  # warm the pool
    outcomes.clear()
    await asyncio.gather(*(one(i) for i in range(TOTAL // 2)))
    gc.collect()
    mid = _rss()
    await asyncio.gather(*(one(i) for i in range(TOTAL // 2, TOTAL)))
    gc.collect()
    end = _rss()
    await client.aclose()
    gc.collect()
    return outcomes, fds_before, end - mid, _open_fds()


def test_soak_accounts_for_every_request_without_leaks(stub_url: str) -> None:
    outcomes, fds_start, growth, fds_end = asyncio.run(_soak(stub_url))
    assert sum(outcomes.values()) == TOTAL, outcomes
    assert outcomes["ok"] >= TOTAL * 0.95, outcomes
    # Every error is typed and expected: persistent faults after 2 retries, drops mid-stream
    # (never retried), stalls past the 2 s timeout.
    assert set(outcomes) <= {"ok", "interrupted", "APITimeoutError", "APIConnectionError",
                             "InternalServerError", "RateLimitError"}, outcomes
    assert fds_end <= fds_start, (fds_start, fds_end)
    assert growth < 8_000_000, f"RSS grew {growth} bytes over the second 1,000 requests"
