"""The client-side rate limit: requests/s and tokens/min, on a fake clock."""

from __future__ import annotations

import pickle

import pytest

from compactifai import ConfigurationError, RateLimit
from compactifai._ratelimit import estimate_tokens
from tests.helpers import Recorder, async_client, json_response, sse, sse_response, sync_client


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_requests_per_second_spaces_requests() -> None:
    clock = Clock()
    limit = RateLimit(requests_per_second=2, clock=clock)
    waits = [limit.reserve() for _ in range(6)]
    assert waits == [0.0, 0.0, 0.5, 1.0, 1.5, 2.0]
    clock.now = 10.0  # a long pause refills to the burst of one second, no more
    assert [limit.reserve() for _ in range(3)] == [0.0, 0.0, 0.5]


def test_tokens_per_minute_and_correction() -> None:
    clock = Clock()
    limit = RateLimit(tokens_per_minute=600, clock=clock)  # 10 tokens a second
    assert limit.reserve(500) == 0.0
    assert limit.reserve(200) == pytest.approx(10.0)  # 100 tokens short
    limit.correct(200, 50)  # the answer used fewer tokens than reserved
    assert limit.reserve(0) == 0.0


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ConfigurationError):
        RateLimit()
    with pytest.raises(ConfigurationError):
        RateLimit(requests_per_second=0)


def test_estimate_tokens() -> None:
    body = {"messages": [{"role": "user", "content": "x" * 400}], "max_tokens": 50}
    assert estimate_tokens(body) == (400 + 8) // 4 + 1 + 50
    assert estimate_tokens({"prompt": ["ab" * 10, "cd" * 10], "max_tokens": 5}) == 40 // 4 + 1 + 10


def test_rate_limit_survives_pickling_with_a_full_budget() -> None:
    copy = pickle.loads(pickle.dumps(RateLimit(requests_per_second=3, tokens_per_minute=100)))
    assert (copy.requests_per_second, copy.tokens_per_minute) == (3, 100)


OK = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}],
      "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}}
CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def test_the_pipeline_waits_what_the_limit_says() -> None:
    clock = Clock()
    limit = RateLimit(requests_per_second=1, clock=clock)
    rec = Recorder(json_response(OK))
    client = sync_client(rec, rate_limit=limit)
    sleeps: list[float] = []
    client._pipeline._sleep = sleeps.append
    for _ in range(3):
        client.chat_completion(**CHAT)
    assert sleeps == [1.0, 2.0]
    assert len(rec.requests) == 3


async def test_streams_correct_the_budget_with_reported_usage() -> None:
    clock = Clock()
    limit = RateLimit(tokens_per_minute=60, clock=clock)
    usage_chunk = {"choices": [], "usage": {"total_tokens": 1}}
    rec = Recorder(sse_response(sse({"choices": [{"index": 0, "delta": {"content": "a"}}]},
                                    usage_chunk)))
    client = async_client(rec, rate_limit=limit)
    body = dict(CHAT, max_tokens=40)
    async for _ in client.chat_completion_stream(**body):
        pass
    estimated = estimate_tokens({**body, "messages": CHAT["messages"]})
    assert limit._tokens == pytest.approx(60 - 1)  # reserved `estimated`, then gave back all but 1
    assert estimated > 1
