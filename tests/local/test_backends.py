"""The async pipeline's promises on both HTTP backends, over real sockets.

``http_backend="aiohttp"`` swaps what carries the bytes (httpx-aiohttp) under the same
pipeline, so each promise is checked on both against the local server's fault injection:
retries end in the healthy answer, timeouts hold per answer and per chunk, broken streams are
typed, unreadable answers are not sent again, one pool per event loop, pickling.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import pickle
import time
import uuid

import pytest

from compactifai import (
    APIConnectionError,
    APITimeoutError,
    AsyncCompactifAIClient,
    ConfigurationError,
    InternalServerError,
    ResponseDecodeError,
    StreamInterruptedError,
)
from compactifai.local import LocalServer

pytestmark = pytest.mark.local_models
MODEL = "smollm2-135m-instruct"
MESSAGES = [{"role": "user", "content": "Say hi."}]
BACKENDS = [
    "httpx",
    pytest.param("aiohttp", marks=pytest.mark.skipif(
        importlib.util.find_spec("httpx_aiohttp") is None,
        reason="the aiohttp extra is not installed")),
]


def fault(name: str, times: int | None = 1, seconds: float | None = None) -> dict[str, str]:
    headers = {"X-Fault": name, "X-Fault-Id": uuid.uuid4().hex}
    if times is not None:
        headers["X-Fault-Times"] = str(times)
    if seconds is not None:
        headers["X-Fault-Seconds"] = str(seconds)
    return headers


def make(server: LocalServer, backend: str, **kwargs: object) -> AsyncCompactifAIClient:
    kwargs.setdefault("max_retries", 2)
    kwargs.setdefault("max_retry_delay", 0.5)
    return AsyncCompactifAIClient(
        api_key=server.api_key, base_url=server.base_url, http_backend=backend, **kwargs
    )


def retries(caplog: pytest.LogCaptureFixture) -> int:
    return sum("; retry " in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["429", "500", "503", "drop"])
async def test_transient_faults_heal_to_the_healthy_answer(
    local_server: LocalServer, backend: str, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with make(local_server, backend) as client:
        healthy = await client.chat_completion(
            model=MODEL, messages=MESSAGES, max_tokens=4, temperature=0)
        with caplog.at_level(logging.INFO, logger="compactifai"):
            answer = await client.chat_completion(
                model=MODEL, messages=MESSAGES, max_tokens=4, temperature=0,
                extra_headers=fault(name))
        assert retries(caplog) == 1
        assert answer.choices[0].message.content == healthy.choices[0].message.content


@pytest.mark.parametrize("backend", BACKENDS)
async def test_persistent_fault_and_unreadable_answer(
    local_server: LocalServer, backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with make(local_server, backend, max_retries=1) as client:
        with caplog.at_level(logging.INFO, logger="compactifai"):
            with pytest.raises(InternalServerError):
                await client.chat_completion(model=MODEL, messages=MESSAGES, max_tokens=4,
                                             extra_headers=fault("503", times=None))
            assert retries(caplog) == 1
            with pytest.raises(ResponseDecodeError):
                await client.chat_completion(model=MODEL, messages=MESSAGES, max_tokens=4,
                                             extra_headers=fault("malformed-json"))
            assert retries(caplog) == 1  # the unreadable answer was not asked for again


@pytest.mark.parametrize("backend", BACKENDS)
async def test_stalls_end_within_their_deadlines(local_server: LocalServer, backend: str) -> None:
    async with make(local_server, backend, timeout=0.5, max_retries=1) as client:
        started = time.monotonic()
        with pytest.raises(APITimeoutError):
            await client.chat_completion(model=MODEL, messages=MESSAGES, max_tokens=4,
                                         extra_headers=fault("stall", times=None, seconds=5))
        assert time.monotonic() - started < 4  # two attempts of 0.5 s and one short backoff
        received = []
        started = time.monotonic()
        with pytest.raises(StreamInterruptedError) as info:
            async for chunk in client.chat_completion_stream(
                model=MODEL, messages=MESSAGES, max_tokens=8, temperature=0, timeout=1.0,
                extra_headers=fault("stall-stream", times=None, seconds=10),
            ):
                received.append(chunk)
        assert received and info.value.events_received == len(received)
        assert time.monotonic() - started < 8


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["drop-mid-stream", "malformed-sse"])
async def test_broken_streams_are_typed(local_server: LocalServer, backend: str, name: str) -> None:
    async with make(local_server, backend) as client:
        with pytest.raises((StreamInterruptedError, ResponseDecodeError, APIConnectionError)):
            async for _ in client.chat_completion_stream(
                model=MODEL, messages=MESSAGES, max_tokens=8, temperature=0,
                extra_headers=fault(name, times=None)):
                pass


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_pool_per_event_loop_and_pickling(local_server: LocalServer, backend: str) -> None:
    client = make(local_server, backend)

    async def ask(c: AsyncCompactifAIClient) -> str:
        answer = await c.chat_completion(model=MODEL, messages=MESSAGES, max_tokens=4,
                                         temperature=0)
        return answer.choices[0].message.content or ""

    first = asyncio.run(ask(client))
    assert asyncio.run(ask(client)) == first  # a second loop: no "Event loop is closed"
    copy = pickle.loads(pickle.dumps(client))
    assert copy.config.http_backend == backend
    assert asyncio.run(ask(copy)) == first


def test_an_unknown_backend_says_what_to_choose() -> None:
    with pytest.raises(ConfigurationError, match="httpx, aiohttp"):
        AsyncCompactifAIClient(api_key="sk-test", http_backend="curl")
