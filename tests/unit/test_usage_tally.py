"""The client-side usage tally: aggregation, windows, cost, bounds, threads, asyncio, and the
client option that fills it from every chat/text completion answer and stream."""

from __future__ import annotations

import asyncio
import pickle
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from compactifai import (
    PUBLISHED_PRICES,
    CompactifAIClient,
    ConfigurationError,
    ModelPrice,
    PriceTable,
    UsageTally,
)
from tests.helpers import Recorder, async_client, json_response, sse, sse_response, sync_client

HOUR = 3600
DAY = 86400
T0 = 1_780_000_000 // DAY * DAY  # a UTC midnight in 2026


def usage(prompt: int, completion: int, reasoning: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if reasoning is not None:
        out["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return out


PRICES = PriceTable(
    {"a": (1.0, 2.0), "b": {"prompt": 10.0, "completion": 20.0}},
    as_of="2026-09-01",
    source="a test table",
    currency="EUR",
)


# ---------------------------------------------------------------- aggregation and windows


def test_per_model_totals_add_up_and_keep_reasoning_tokens() -> None:
    tally = UsageTally()
    tally.record("a", usage(10, 5), at=T0)
    tally.record("a", usage(1, 2, reasoning=2), at=T0 + 10)
    tally.record("b", usage(100, 50), at=T0 + 20)
    rows = {row.model: row for row in tally.summary().rows}
    assert set(rows) == {"a", "b"}
    assert (
        rows["a"].requests,
        rows["a"].prompt_tokens,
        rows["a"].completion_tokens,
        rows["a"].total_tokens,
        rows["a"].reasoning_tokens,
    ) == (2, 11, 7, 18, 2)
    assert (rows["b"].requests, rows["b"].total_tokens, rows["b"].reasoning_tokens) == (1, 150, 0)
    total = tally.summary().total
    assert (total.requests, total.prompt_tokens, total.completion_tokens) == (3, 111, 57)
    assert total.model is None and total.cost is None  # no price table


def test_missing_usage_counts_as_unreported_and_adds_no_tokens() -> None:
    tally = UsageTally()
    assert tally.record("a", None, at=T0) is False
    tally.record_unreported("a", at=T0)
    assert tally.record("a", usage(3, 4), at=T0) is True
    row = tally.summary().rows[0]
    assert (row.requests, row.unreported, row.total_tokens) == (1, 2, 7)
    assert "unreported" in str(tally.summary())


def test_record_answer_prefers_the_answers_own_model() -> None:
    tally = UsageTally()
    assert (
        tally.record_answer(
            {"model": "served", "usage": usage(1, 1)},
            "asked",
        )
        is True
    )
    assert tally.record_answer({"usage": usage(2, 2)}, "asked") is True
    assert tally.record_answer({"model": "served", "usage": None}, "asked") is False
    assert tally.record_answer(["not", "a", "dict"], "asked") is False
    rows = {r.model: r for r in tally.summary().rows}
    assert (rows["served"].requests, rows["served"].unreported) == (1, 1)
    assert rows["asked"].total_tokens == 4


def test_hour_and_day_windows_and_combined_grouping() -> None:
    tally = UsageTally()
    tally.record("a", usage(1, 0), at=T0 + 5)
    tally.record("a", usage(2, 0), at=T0 + HOUR + 5)
    tally.record("b", usage(4, 0), at=T0 + HOUR + 6)
    tally.record("a", usage(8, 0), at=T0 + DAY + 5)
    by_hour = tally.summary(by="hour").rows
    assert [(r.start.timestamp() - T0, r.prompt_tokens) for r in by_hour] == [  # type: ignore[union-attr]
        (0, 1),
        (HOUR, 6),
        (DAY, 8),
    ]
    assert by_hour[0].end == by_hour[0].start + timedelta(hours=1)  # type: ignore[operator]
    by_day = tally.summary(by="day").rows
    assert [r.prompt_tokens for r in by_day] == [7, 8]
    assert by_day[0].start == datetime.fromtimestamp(T0, tz=timezone.utc)
    both = tally.summary(by=("model", "day")).rows
    assert [(r.model, r.prompt_tokens) for r in both] == [("a", 3), ("b", 4), ("a", 8)]
    assert tally.summary(by="total").rows[0].prompt_tokens == 15


def test_since_and_until_select_windows_overlapping_the_range() -> None:
    tally = UsageTally()
    for hour in range(5):
        tally.record("a", usage(10**hour, 0), at=T0 + hour * HOUR + 60)
    assert tally.summary(since=T0 + 2 * HOUR).total.prompt_tokens == 100 + 1000 + 10000
    assert tally.summary(until=T0 + 2 * HOUR).total.prompt_tokens == 1 + 10
    # bounds inside a window widen to it, and the summary says so
    mid = tally.summary(since=T0 + HOUR + 1800, until=T0 + 2 * HOUR + 1)
    assert mid.total.prompt_tokens == 10 + 100
    assert mid.since == datetime.fromtimestamp(T0 + HOUR, tz=timezone.utc)
    assert mid.until == datetime.fromtimestamp(T0 + 3 * HOUR, tz=timezone.utc)
    # datetimes (naive is UTC) and a timedelta back from now
    naive = datetime.fromtimestamp(T0 + 4 * HOUR, tz=timezone.utc).replace(tzinfo=None)
    assert tally.summary(since=naive).total.prompt_tokens == 10000
    clocked = UsageTally(clock=lambda: T0 + 4 * HOUR + 100)
    clocked.merge(tally)
    assert clocked.summary(since=timedelta(hours=1)).total.prompt_tokens == 1000 + 10000


def test_default_time_is_the_clock() -> None:
    now = [T0 + 7 * HOUR + 1.5]
    tally = UsageTally(clock=lambda: now[0])
    tally.record("a", usage(1, 1))
    now[0] += DAY
    tally.record("a", usage(2, 2))
    starts = [r.start.timestamp() for r in tally.summary(by="hour").rows]  # type: ignore[union-attr]
    assert starts == [T0 + 7 * HOUR, T0 + DAY + 7 * HOUR]


def test_resolution_limits_the_finest_grouping() -> None:
    coarse = UsageTally(resolution="day")
    coarse.record("a", usage(1, 1), at=T0 + 5 * HOUR)
    with pytest.raises(ConfigurationError, match="finer than this tally's resolution"):
        coarse.summary(by="hour")
    fine = UsageTally(resolution="minute")
    fine.record("a", usage(1, 0), at=T0 + 30)
    fine.record("a", usage(2, 0), at=T0 + 90)
    assert [r.prompt_tokens for r in fine.summary(by="minute").rows] == [1, 2]
    assert [r.prompt_tokens for r in fine.summary(by="hour").rows] == [3]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"resolution": "week"}, "resolution"),
        ({"max_windows": 0}, "max_windows"),
        ({"price_table": {"a": (1, 2)}}, "PriceTable"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        UsageTally(**kwargs)


def test_bad_grouping_is_refused() -> None:
    tally = UsageTally()
    with pytest.raises(ConfigurationError, match="by must be one of"):
        tally.summary(by="week")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="one time window"):
        tally.summary(by=("hour", "day"))
    with pytest.raises(ConfigurationError, match="timedelta"):
        tally.summary(until=timedelta(hours=1))


# ---------------------------------------------------------------- bounded memory


def test_memory_is_bounded_by_dropping_the_oldest_windows() -> None:
    tally = UsageTally(max_windows=3)
    for hour in (5, 1, 3, 4, 2):  # out of order on purpose
        tally.record("a", usage(hour, 0), at=T0 + hour * HOUR)
    assert len(tally) == 3
    summary = tally.summary(by="hour")
    assert [r.prompt_tokens for r in summary.rows] == [3, 4, 5]
    assert summary.dropped_windows == 2
    assert "2 oldest window(s) were dropped" in str(summary)


def test_many_records_in_one_window_take_one_slot() -> None:
    tally = UsageTally()
    for i in range(10_000):
        tally.record("a", usage(1, 1), at=T0 + i % HOUR)
    assert len(tally) == 1
    assert tally.summary().total.requests == 10_000


# ---------------------------------------------------------------- cost


def test_cost_per_model_from_the_price_table() -> None:
    tally = UsageTally(price_table=PRICES)
    tally.record("a", usage(1_000_000, 500_000), at=T0)
    tally.record("b", usage(100_000, 10_000), at=T0)
    summary = tally.summary()
    rows = {r.model: r for r in summary.rows}
    assert rows["a"].cost == pytest.approx(1.0 + 1.0)
    assert rows["b"].cost == pytest.approx(1.0 + 0.2)
    assert summary.total.cost == pytest.approx(3.2)
    text = str(summary)
    assert "cost (EUR)" in text and "prices as of 2026-09-01 (a test table)" in text


def test_a_model_without_a_price_has_no_cost_and_is_named() -> None:
    tally = UsageTally(price_table=PRICES)
    tally.record("a", usage(1_000_000, 0), at=T0)
    tally.record("mystery", usage(5, 5), at=T0)
    summary = tally.summary(by="hour")
    assert summary.unpriced_models == ("mystery",)
    assert summary.rows[0].cost is None and summary.total.cost is None  # never a partial sum
    assert tally.summary(by="model").rows[0].cost == pytest.approx(1.0)
    assert "no price for: mystery" in str(summary)


def test_a_summary_may_use_its_own_prices() -> None:
    tally = UsageTally(price_table=PRICES)
    tally.record("a", usage(1_000_000, 0), at=T0)
    mine = PRICES.with_prices({"a": ModelPrice(prompt=3.0, completion=0)}, as_of="2026-10-01")
    assert tally.summary(prices=mine).total.cost == pytest.approx(3.0)
    assert str(mine.as_of) == "2026-10-01" and mine.source == PRICES.source
    assert PRICES.price("a") == ModelPrice(1.0, 2.0)  # the original is unchanged


def test_the_shipped_table_is_empty_and_dated() -> None:
    """No per-token price is published in the provider's material: none is invented."""
    assert len(PUBLISHED_PRICES) == 0
    assert str(PUBLISHED_PRICES.as_of) == "2026-08-26"
    assert "docs.compactif.ai/pricing" in PUBLISHED_PRICES.source
    tally = UsageTally(price_table=PUBLISHED_PRICES)
    tally.record("hypernova-60b", usage(10, 10), at=T0)
    assert tally.summary().total.cost is None
    assert tally.summary().unpriced_models == ("hypernova-60b",)


@pytest.mark.parametrize(
    ("prices", "kwargs", "match"),
    [
        ({"a": (-1.0, 1.0)}, {}, "must be a number >= 0"),
        ({"a": (float("nan"), 1.0)}, {}, "must be a number >= 0"),
        ({"a": {"input": 1.0, "output": 2.0}}, {}, "'prompt' and 'completion'"),
        ({"a": 1.5}, {}, "ModelPrice"),
        ({}, {"as_of": "last week"}, "ISO date"),
    ],
)
def test_bad_prices_are_refused(prices: Any, kwargs: dict[str, Any], match: str) -> None:
    kwargs.setdefault("as_of", "2026-09-01")
    with pytest.raises(ConfigurationError, match=match):
        PriceTable(prices, source="test", **kwargs)


# ---------------------------------------------------------------- threads, asyncio, copies


def test_threads_recording_at_once_lose_nothing() -> None:
    tally = UsageTally(resolution="minute")
    threads_n, per_thread = 8, 2_000
    barrier = threading.Barrier(threads_n)

    def work(worker: int) -> None:
        barrier.wait()
        for i in range(per_thread):
            # windows are created concurrently too: 50 minutes x 2 models
            tally.record(f"m{worker % 2}", usage(1, 2), at=T0 + (i % 50) * 60)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = tally.summary().total
    assert total.requests == threads_n * per_thread
    assert (total.prompt_tokens, total.completion_tokens) == (
        threads_n * per_thread,
        2 * threads_n * per_thread,
    )
    assert len(tally) == 100


def test_asyncio_tasks_and_threads_share_one_tally() -> None:
    tally = UsageTally()

    async def task(n: int) -> None:
        for _ in range(100):
            tally.record("a", usage(1, 1), at=T0)
            if n % 3 == 0:
                await asyncio.sleep(0)

    async def main() -> None:
        side = threading.Thread(
            target=lambda: [tally.record("a", usage(1, 1), at=T0) for _ in range(1000)]
        )
        side.start()
        await asyncio.gather(*(task(n) for n in range(50)))
        await asyncio.to_thread(side.join)

    asyncio.run(main())
    assert tally.summary().total.requests == 50 * 100 + 1000


def test_a_pickled_copy_keeps_its_counts_and_merges_back() -> None:
    tally = UsageTally(price_table=PRICES)
    tally.record("a", usage(5, 5), at=T0)
    copy = pickle.loads(pickle.dumps(tally))
    copy.record("a", usage(1, 1), at=T0 + DAY)
    assert tally.summary().total.total_tokens == 10  # the original does not see the copy's
    tally.merge(copy)
    assert tally.summary().total.total_tokens == 10 + 10 + 2
    assert copy.price_table is not None and copy.price_table.price("a") == ModelPrice(1.0, 2.0)


def test_reset_and_models() -> None:
    tally = UsageTally()
    tally.record("b", usage(1, 1), at=T0)
    tally.record("a", None, at=T0)
    assert tally.models() == ["a", "b"]
    tally.reset()
    assert len(tally) == 0 and tally.summary().rows == ()


# ---------------------------------------------------------------- the client option


MODEL = "cai-mistral-small-3-1-slim"
MESSAGES = [{"role": "user", "content": "Hi"}]


def chat_answer(u: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello"},
                "finish_reason": "stop",
            }
        ],
        "usage": u,
    }


def text_answer(u: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "cmpl-1",
        "object": "text_completion",
        "created": 1,
        "model": MODEL,
        "choices": [{"index": 0, "text": " there", "finish_reason": "stop"}],
        "usage": u,
    }


def chunks(u: dict[str, Any] | None, *, null_usage: bool = False) -> bytes:
    base = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": MODEL}
    extra = {"usage": None} if null_usage else {}
    events: list[Any] = [
        {
            **base,
            **extra,
            "choices": [{"index": 0, "delta": {"content": "He"}, "finish_reason": None}],
        },
        {
            **base,
            **extra,
            "choices": [{"index": 0, "delta": {"content": "llo"}, "finish_reason": "stop"}],
        },
    ]
    if u is not None:
        events.append({**base, "choices": [], "usage": u})
    return sse(*events)


def test_the_client_records_chat_completion_and_stream_usage() -> None:
    tally = UsageTally()
    rec = Recorder(
        json_response(chat_answer(usage(7, 3))),
        json_response(text_answer(usage(4, 6))),
        sse_response(chunks(usage(5, 5, reasoning=2), null_usage=True)),
        sse_response(chunks(None)),  # no usage chunk: normal, counted as unreported
        json_response({"object": "list", "data": []}),  # not a completion: not counted
    )
    with sync_client(rec, usage_tally=tally) as client:
        client.chat_completion(model=MODEL, messages=MESSAGES)
        client.completion(model=MODEL, prompt="Hi")
        assert len(list(client.chat_completion_stream(model=MODEL, messages=MESSAGES))) == 3
        assert len(list(client.chat_completion_stream(model=MODEL, messages=MESSAGES))) == 2
        client.list_models()
    total = tally.summary().total
    assert (total.requests, total.unreported) == (3, 1)
    assert (total.prompt_tokens, total.completion_tokens, total.reasoning_tokens) == (16, 14, 2)
    assert tally.models() == [MODEL]


def test_a_stream_left_early_is_unreported_and_a_failed_request_is_not_counted() -> None:
    tally = UsageTally()
    rec = Recorder(
        sse_response(chunks(usage(5, 5))),
        json_response({"error": {"message": "bad", "type": "invalid_request_error"}}, 400),
    )
    with sync_client(rec, usage_tally=tally) as client:
        stream = client.chat_completion_stream(model=MODEL, messages=MESSAGES)
        next(iter(stream))
        stream.close()  # before the usage chunk
        with pytest.raises(Exception, match="bad"):
            client.chat_completion(model=MODEL, messages=MESSAGES)
    total = tally.summary().total
    assert (total.requests, total.unreported, total.total_tokens) == (0, 1, 0)


def test_a_server_ignoring_stream_true_is_counted_once() -> None:
    tally = UsageTally()
    rec = Recorder(json_response(chat_answer(usage(2, 2))))
    with sync_client(rec, usage_tally=tally) as client:
        list(client.chat_completion_stream(model=MODEL, messages=MESSAGES))
    assert (tally.summary().total.requests, tally.summary().total.total_tokens) == (1, 4)


def test_the_async_client_records_answers_and_streams() -> None:
    tally = UsageTally()
    rec = Recorder(
        lambda request: (
            sse_response(chunks(usage(1, 2)))
            if b'"stream":true' in request.content
            else json_response(chat_answer(usage(3, 4)))
        )
    )
    client = async_client(rec, usage_tally=tally)

    async def one() -> None:
        await client.chat_completion(model=MODEL, messages=MESSAGES)
        async for _ in client.chat_completion_stream(model=MODEL, messages=MESSAGES):
            pass

    async def main() -> None:
        await asyncio.gather(*(one() for _ in range(20)))

    asyncio.run(main())
    total = tally.summary().total
    assert (total.requests, total.prompt_tokens, total.completion_tokens) == (40, 80, 120)


def test_without_a_tally_nothing_is_recorded_and_a_wrong_type_is_refused() -> None:
    rec = Recorder(json_response(chat_answer(usage(7, 3))))
    with sync_client(rec) as client:
        assert client.config.usage_tally is None
        client.chat_completion(model=MODEL, messages=MESSAGES)
    with pytest.raises(ConfigurationError, match="usage_tally must be"):
        CompactifAIClient(api_key="sk-test-123456", usage_tally={})  # type: ignore[arg-type]


def test_a_pickled_client_carries_a_copy_of_its_tally() -> None:
    tally = UsageTally()
    client = CompactifAIClient(api_key="sk-test-123456", usage_tally=tally)
    copy = pickle.loads(pickle.dumps(client))
    assert isinstance(copy.config.usage_tally, UsageTally)
    assert copy.config.usage_tally is not tally


def test_usage_on_the_wire_reaches_the_tally_through_http(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hook sits in the pipeline: an httpx client of the caller's own is counted too."""
    tally = UsageTally()
    transport = httpx.MockTransport(lambda request: json_response(chat_answer(usage(1, 1))))
    client = CompactifAIClient(
        api_key="sk-test-123456",
        base_url="https://compactifai.test/v1",
        usage_tally=tally,
        http_client=httpx.Client(transport=transport),
    )
    client.chat_completion(model=MODEL, messages=MESSAGES)
    assert tally.summary().total.requests == 1


def test_importing_the_transport_loads_no_tally_until_one_is_asked_for() -> None:
    # Import time matters: a client needs the tally's module only when given a tally.
    import subprocess
    import sys

    code = (
        "import sys, compactifai\n"
        "print(sorted(m for m in ('compactifai.usage_tally', 'compactifai.types_jobs') "
        "if m in sys.modules))\n"
        "from compactifai import UsageTally\n"
        "print(UsageTally.__module__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["[]", "compactifai.usage_tally"]
