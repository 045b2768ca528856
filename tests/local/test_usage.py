"""Usage statistics: window arithmetic on the store (fixed times), and the HTTP endpoint."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from compactifai.local._settings import user_id_for_key
from compactifai.local.usage_store import UsageStore, format_rfc3339, window_bounds
from compactifai.types import UsageStatistics

from .support import API_KEY, CHAT_MODEL, OTHER_KEY

UTC = timezone.utc
MADRID = ZoneInfo("Europe/Madrid")
KOLKATA = ZoneInfo("Asia/Kolkata")
NEW_YORK = ZoneInfo("America/New_York")


def ts(*args: int, tz: Any = UTC) -> float:
    return datetime(*args, tzinfo=tz).timestamp()


def bounds(t: float, size: str, tz: Any) -> tuple[str, str]:
    lo, hi = window_bounds(t, size, tz)  # type: ignore[arg-type]
    return format_rfc3339(lo, tz), format_rfc3339(hi, tz)


# ---------------------------------------------------------------- window arithmetic


@pytest.mark.parametrize(
    "size,tz,expected",
    [
        ("MINUTE", UTC, ("2025-05-07T14:37:00Z", "2025-05-07T14:38:00Z")),
        ("HOUR", UTC, ("2025-05-07T14:00:00Z", "2025-05-07T15:00:00Z")),
        ("DAY", UTC, ("2025-05-07T00:00:00Z", "2025-05-08T00:00:00Z")),
        ("MINUTE", KOLKATA, ("2025-05-07T20:07:00+05:30", "2025-05-07T20:08:00+05:30")),
        ("HOUR", KOLKATA, ("2025-05-07T20:00:00+05:30", "2025-05-07T21:00:00+05:30")),
        ("DAY", KOLKATA, ("2025-05-07T00:00:00+05:30", "2025-05-08T00:00:00+05:30")),
        ("HOUR", MADRID, ("2025-05-07T16:00:00+02:00", "2025-05-07T17:00:00+02:00")),
        ("DAY", MADRID, ("2025-05-07T00:00:00+02:00", "2025-05-08T00:00:00+02:00")),
    ],
)
def test_window_bounds_are_local_boundaries(size: str, tz: Any, expected: tuple[str, str]) -> None:
    assert bounds(ts(2025, 5, 7, 14, 37, 12), size, tz) == expected


def test_day_windows_differ_by_zone() -> None:
    late = ts(2025, 5, 7, 23, 30)  # 23:30 UTC is already May 8 in Madrid and Kolkata
    assert bounds(late, "DAY", UTC)[0] == "2025-05-07T00:00:00Z"
    assert bounds(late, "DAY", MADRID)[0] == "2025-05-08T00:00:00+02:00"
    assert bounds(late, "DAY", KOLKATA)[0] == "2025-05-08T00:00:00+05:30"


def test_daylight_saving_days_have_23_and_25_hours() -> None:
    spring = window_bounds(ts(2025, 3, 30, 12, 0, tz=MADRID), "DAY", MADRID)
    autumn = window_bounds(ts(2025, 10, 26, 12, 0, tz=MADRID), "DAY", MADRID)
    assert spring[1] - spring[0] == 23 * 3600
    assert autumn[1] - autumn[0] == 25 * 3600
    assert format_rfc3339(autumn[0], MADRID) == "2025-10-26T00:00:00+02:00"
    assert format_rfc3339(autumn[1], MADRID) == "2025-10-27T00:00:00+01:00"


def test_repeated_autumn_hour_is_two_windows() -> None:
    # 01:30 happens twice in New York on 2025-11-02 (EDT, then EST).
    first = ts(2025, 11, 2, 5, 30)
    second = ts(2025, 11, 2, 6, 30)
    w1 = bounds(first, "HOUR", NEW_YORK)
    w2 = bounds(second, "HOUR", NEW_YORK)
    assert w1 == ("2025-11-02T01:00:00-04:00", "2025-11-02T01:00:00-05:00")
    assert w2 == ("2025-11-02T01:00:00-05:00", "2025-11-02T02:00:00-05:00")


@pytest.fixture
def store(tmp_path: Path) -> UsageStore:
    db = UsageStore(tmp_path / "usage.sqlite3")
    rows = [
        (ts(2025, 5, 7, 14, 5), "m1", 10, 1),
        (ts(2025, 5, 7, 14, 5, 30), "m1", 20, 2),
        (ts(2025, 5, 7, 14, 59), "m2", 40, 4),
        (ts(2025, 5, 7, 15, 1), "m1", 80, 8),
        (ts(2025, 5, 7, 22, 30), "m1", 160, 16),
    ]
    for when, model, tokens_in, tokens_out in rows:
        db.record("local-aaaa", model, tokens_in, tokens_out, ts=when)
    db.record("local-bbbb", "m1", 1000, 1000, ts=ts(2025, 5, 7, 14, 5))
    return db


def _summary(windows: list[dict[str, Any]]) -> list[tuple[str, str, int, int]]:
    return [
        (w["windowStart"], w["groupBy"].get("model", "*"), w["input_token"], w["output_token"])
        for w in windows
    ]


def test_store_minute_windows(store: UsageStore) -> None:
    got = store.windows("local-aaaa", ts(2025, 5, 7), ts(2025, 5, 8), "MINUTE", UTC, False)
    assert _summary(got) == [
        ("2025-05-07T14:05:00Z", "*", 30, 3),
        ("2025-05-07T14:59:00Z", "*", 40, 4),
        ("2025-05-07T15:01:00Z", "*", 80, 8),
        ("2025-05-07T22:30:00Z", "*", 160, 16),
    ]


def test_store_hour_windows_grouped_by_model(store: UsageStore) -> None:
    got = store.windows("local-aaaa", ts(2025, 5, 7), ts(2025, 5, 8), "HOUR", UTC, True)
    assert _summary(got) == [
        ("2025-05-07T14:00:00Z", "m1", 30, 3),
        ("2025-05-07T14:00:00Z", "m2", 40, 4),
        ("2025-05-07T15:00:00Z", "m1", 80, 8),
        ("2025-05-07T22:00:00Z", "m1", 160, 16),
    ]
    assert {w["user_id"] for w in got} == {"local-aaaa"}
    assert got[0]["windowEnd"] == "2025-05-07T15:00:00Z"


def test_store_hour_windows_in_kolkata(store: UsageStore) -> None:
    got = store.windows("local-aaaa", ts(2025, 5, 7), ts(2025, 5, 8), "HOUR", KOLKATA, False)
    # Kolkata hours start at :30 UTC: 14:05 and 14:59 UTC fall in different local hours.
    assert _summary(got) == [
        ("2025-05-07T19:00:00+05:30", "*", 30, 3),
        ("2025-05-07T20:00:00+05:30", "*", 120, 12),
        ("2025-05-08T04:00:00+05:30", "*", 160, 16),
    ]


def test_store_day_windows_in_two_zones(store: UsageStore) -> None:
    utc = store.windows("local-aaaa", ts(2025, 5, 6), ts(2025, 5, 9), "DAY", UTC, False)
    assert _summary(utc) == [("2025-05-07T00:00:00Z", "*", 310, 31)]
    madrid = store.windows("local-aaaa", ts(2025, 5, 6), ts(2025, 5, 9), "DAY", MADRID, False)
    assert _summary(madrid) == [
        ("2025-05-07T00:00:00+02:00", "*", 150, 15),
        ("2025-05-08T00:00:00+02:00", "*", 160, 16),
    ]
    assert madrid[1]["windowEnd"] == "2025-05-09T00:00:00+02:00"


def test_store_filters_range_and_models(store: UsageStore) -> None:
    got = store.windows(
        "local-aaaa", ts(2025, 5, 7, 14, 5, 30), ts(2025, 5, 7, 15, 1), "DAY", UTC, True, ["m1"]
    )
    assert _summary(got) == [("2025-05-07T00:00:00Z", "m1", 20, 2)]  # end is exclusive
    assert store.windows("local-aaaa", 0, time.time(), "DAY", UTC, True, []) == []


def test_store_keeps_records_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "kept.sqlite3"
    first = UsageStore(path)
    first.record("local-x", "m", 3, 4, ts=100.0)
    first.close()
    again = UsageStore(path)
    assert [(r.input_tokens, r.output_tokens) for r in again.records("local-x", 0, 200)] == [(3, 4)]


# ---------------------------------------------------------------- the endpoint


def test_user_id_is_derived_not_the_key() -> None:
    uid = user_id_for_key(API_KEY)
    assert uid.startswith("local-") and len(uid) == 14 and API_KEY not in uid
    assert uid == user_id_for_key(API_KEY) != user_id_for_key(OTHER_KEY)


@pytest.mark.parametrize(
    "body,param",
    [
        ({}, "start_time"),
        ({"start_time": "yesterday"}, "start_time"),
        ({"start_time": "2025-01-01T00:00:00Z", "window_size": "WEEK"}, "window_size"),
        (
            {"start_time": "2025-01-01T00:00:00Z", "window_timezone": "Mars/Olympus"},
            "window_timezone",
        ),
        ({"start_time": "2025-01-01T00:00:00Z", "group_by": ["user"]}, "group_by"),
        (
            {"start_time": "2025-01-01T00:00:00Z", "filter_group_by": {"user": ["x"]}},
            "filter_group_by",
        ),
        ({"start_time": "2025-01-02T00:00:00Z", "end_time": "2025-01-01T00:00:00Z"}, "end_time"),
    ],
)
def test_usage_request_errors(client: httpx.Client, body: dict[str, Any], param: str) -> None:
    resp = client.post("/usage/completions", json=body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["param"] == param


@pytest.mark.local_models
def test_usage_counts_the_tokens_served(client: httpx.Client, local_server: Any) -> None:
    start = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    time.sleep(1.0)
    chat = client.post(
        "/chat/completions",
        json={
            "model": CHAT_MODEL,
            "messages": [{"role": "user", "content": "Hi"}],
            "max_tokens": 4,
        },
    ).json()
    comp = client.post(
        "/completions", json={"model": CHAT_MODEL, "prompt": "Hello", "max_tokens": 3}
    ).json()
    with client.stream(
        "POST",
        "/chat/completions",
        json={
            "model": CHAT_MODEL,
            "messages": [{"role": "user", "content": "Hi"}],
            "max_tokens": 2,
            "stream": True,
        },
    ) as resp:
        resp.read()
    streamed_in = chat["usage"]["prompt_tokens"]  # same prompt as the first chat call
    expected_in = chat["usage"]["prompt_tokens"] + comp["usage"]["prompt_tokens"] + streamed_in
    expected_out = chat["usage"]["completion_tokens"] + comp["usage"]["completion_tokens"] + 2

    body = {
        "start_time": start,
        "window_size": "DAY",
        "window_timezone": "Asia/Kolkata",
        "group_by": ["model"],
        "filter_group_by": {"model": [CHAT_MODEL]},
    }
    resp = client.post("/usage/completions", json=body)
    assert resp.status_code == 200
    raw = resp.json()
    stats = UsageStatistics.model_validate(raw)
    assert raw["start_time"] == start and raw["window_size"] == "DAY" and raw["end_time"]
    assert set(raw["data"][0]) == {
        "groupBy",
        "user_id",
        "input_token",
        "output_token",
        "windowStart",
        "windowEnd",
    }
    assert sum(w.input_token for w in stats.data) == expected_in
    assert sum(w.output_token for w in stats.data) == expected_out
    assert {w.group_by["model"] for w in stats.data if w.group_by} == {CHAT_MODEL}
    assert {w.user_id for w in stats.data} == {user_id_for_key(API_KEY)}
    assert all(w["windowStart"].endswith("+05:30") for w in raw["data"])

    minute = client.post(
        "/usage/completions", json={**body, "window_size": "MINUTE", "window_timezone": "UTC"}
    )
    windows = minute.json()["data"]
    assert sum(w["input_token"] for w in windows) == expected_in
    assert all(w["windowStart"].endswith(":00Z") for w in windows)

    other = httpx.post(
        f"{local_server.base_url}/usage/completions",
        json=body,
        headers={"Authorization": f"Bearer {OTHER_KEY}"},
    )
    assert other.json()["data"] == []  # usage is per key
    none = client.post(
        "/usage/completions", json={**body, "filter_group_by": {"model": ["whisper-base"]}}
    )
    assert none.json()["data"] == []
