"""The transport against the local server's injected faults: real sockets, real time.

Each fault ends in success after retries or in the documented typed error, within the
configured timeout and retry budget (measured, with generous slack for a busy machine).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

import pytest

from compactifai import (
    APITimeoutError,
    AsyncCompactifAIClient,
    CompactifAIClient,
    InternalServerError,
    ResponseDecodeError,
    StreamInterruptedError,
)
from compactifai.local import LocalServer

pytestmark = pytest.mark.local_models
MODEL = "smollm2-135m-instruct"
MESSAGES = [{"role": "user", "content": "Say hi."}]


def fault(name: str, times: int | None = 1, seconds: float | None = None) -> dict[str, str]:
    headers = {"X-Fault": name, "X-Fault-Id": uuid.uuid4().hex}
    if times is not None:
        headers["X-Fault-Times"] = str(times)
    if seconds is not None:
        headers["X-Fault-Seconds"] = str(seconds)
    return headers


def client(server: LocalServer, **kwargs: object) -> CompactifAIClient:
    kwargs.setdefault("max_retries", 2)
    kwargs.setdefault("max_retry_delay", 1.0)
    return CompactifAIClient(api_key=server.api_key, base_url=server.base_url, **kwargs)


@pytest.mark.parametrize("name", ["429", "429-date", "500", "502", "503", "504", "drop"])
def test_transient_faults_end_in_success(
    local_server: LocalServer, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    with client(local_server) as c:
        healthy = c.chat_completion(model=MODEL, messages=MESSAGES, max_tokens=4, temperature=0)
        started = time.monotonic()
        with caplog.at_level(logging.INFO, logger="compactifai"):
            answer = c.chat_completion(model=MODEL, messages=MESSAGES, max_tokens=4,
                                       temperature=0, extra_headers=fault(name))
        # The fault was met and retried once, and the answer is the healthy one, whole.
        retries = [r for r in caplog.records if "; retry " in r.getMessage()]
        assert len(retries) == 1, [r.getMessage() for r in caplog.records]
        assert answer.choices[0].message.content == healthy.choices[0].message.content
        assert time.monotonic() - started < 30


def test_an_unreadable_answer_is_not_sent_again(
    local_server: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    with client(local_server) as c, caplog.at_level(logging.INFO, logger="compactifai"):
        with pytest.raises(ResponseDecodeError):
            c.chat_completion(model=MODEL, messages=MESSAGES, max_tokens=4,
                              extra_headers=fault("malformed-json"))
        assert not [r for r in caplog.records if "; retry " in r.getMessage()]


def test_persistent_fault_ends_typed_after_the_retries(local_server: LocalServer) -> None:
    with client(local_server, max_retries=1) as c, pytest.raises(InternalServerError):
        c.chat_completion(model=MODEL, messages=MESSAGES, max_tokens=4,
                          extra_headers=fault("503", times=None))


def test_stalled_headers_end_in_a_timeout_within_the_deadline(local_server: LocalServer) -> None:
    with client(local_server, timeout=0.5, max_retries=1) as c:
        started = time.monotonic()
        with pytest.raises(APITimeoutError):
            c.chat_completion(model=MODEL, messages=MESSAGES, max_tokens=4,
                              extra_headers=fault("stall", times=None, seconds=5))
        # two attempts of 0.5 s and one backoff of at most 0.5 s
        assert time.monotonic() - started < 4


def test_stalled_stream_is_cut_by_the_per_chunk_timeout(local_server: LocalServer) -> None:
    with client(local_server, timeout=1.0) as c:
        received = []
        started = time.monotonic()
        with pytest.raises(StreamInterruptedError) as info:
            for chunk in c.chat_completion_stream(
                model=MODEL, messages=MESSAGES, max_tokens=8, temperature=0,
                extra_headers=fault("stall-stream", times=None, seconds=10),
            ):
                received.append(chunk)
        assert received and info.value.events_received == len(received)
        assert time.monotonic() - started < 8


@pytest.mark.parametrize("name", ["drop-mid-stream", "malformed-sse"])
def test_broken_streams_are_never_presented_as_complete(local_server: LocalServer,
                                                        name: str) -> None:
    with client(local_server) as c, pytest.raises((StreamInterruptedError,
                                                   InternalServerError)):
        list(c.chat_completion_stream(model=MODEL, messages=MESSAGES, max_tokens=8,
                                      temperature=0, extra_headers=fault(name, times=None)))


def test_async_transient_fault_and_stall(
    local_server: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    async def run() -> None:
        c = AsyncCompactifAIClient(api_key=local_server.api_key, base_url=local_server.base_url,
                                   max_retries=2, max_retry_delay=1.0, timeout=0.5)
        answer = await c.chat_completion(model=MODEL, messages=MESSAGES, max_tokens=4,
                                         extra_headers=fault("drop"), timeout=60)
        assert answer.choices[0].message.content
        assert sum("; retry " in r.getMessage() for r in caplog.records) == 1
        with pytest.raises(APITimeoutError):
            await c.chat_completion(model=MODEL, messages=MESSAGES, max_tokens=4,
                                    extra_headers=fault("stall", times=None, seconds=5))
        await c.aclose()

    with caplog.at_level(logging.INFO, logger="compactifai"):
        asyncio.run(run())
