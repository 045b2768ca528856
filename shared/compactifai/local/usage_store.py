"""Token usage kept in SQLite, and the window arithmetic of ``POST /v1/usage/completions``.

Every chat or completion request the server answers adds one row (time, user id, model,
prompt and completion tokens). Queries sum the rows into windows (MINUTE, HOUR, DAY) whose
boundaries are *local* boundaries of the requested IANA time zone: a DAY window in
``Europe/Madrid`` runs from local midnight to the next local midnight (23 or 25 hours on
daylight-saving days), and an HOUR window in ``Asia/Kolkata`` starts at a local full hour,
which is half past in UTC. Output times are RFC 3339 with the zone's offset (``Z`` for UTC).

Example:
    >>> from datetime import datetime, timezone
    >>> from zoneinfo import ZoneInfo
    >>> start, end = window_bounds(datetime(2025, 5, 7, 22, 30, tzinfo=timezone.utc).timestamp(),
    ...                            "DAY", ZoneInfo("Europe/Madrid"))
    >>> format_rfc3339(start, ZoneInfo("Europe/Madrid")), format_rfc3339(end, ZoneInfo("Europe/Madrid"))
    ('2025-05-08T00:00:00+02:00', '2025-05-09T00:00:00+02:00')
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any, Literal

from ._sqlite import SQLiteStore

__all__ = [
    "UsageRecord",
    "UsageStore",
    "WindowSize",
    "format_rfc3339",
    "window_bounds",
]

WindowSize = Literal["MINUTE", "HOUR", "DAY"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS usage (
    ts REAL NOT NULL,
    user_id TEXT NOT NULL,
    model TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS usage_user_ts ON usage (user_id, ts);
"""


@dataclass(frozen=True)
class UsageRecord:
    """One served request's token counts."""

    ts: float
    user_id: str
    model: str
    input_tokens: int
    output_tokens: int


def _floor_local(ts: float, size: WindowSize, tz: tzinfo) -> datetime:
    """The local wall-clock start of the window holding ``ts`` (fold kept for repeated hours)."""
    local = datetime.fromtimestamp(ts, tz)
    if size == "MINUTE":
        return local.replace(second=0, microsecond=0)
    if size == "HOUR":
        return local.replace(minute=0, second=0, microsecond=0)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def window_bounds(ts: float, size: WindowSize, tz: tzinfo) -> tuple[float, float]:
    """Start and end (UNIX seconds) of the ``size`` window of zone ``tz`` that holds ``ts``."""
    start_local = _floor_local(ts, size, tz)
    start = start_local.timestamp()
    if start > ts:  # the local boundary fell in a daylight-saving gap: start at the gap's end
        start = ts
    if size == "DAY":
        next_day = start_local.date() + timedelta(days=1)
        end = datetime(next_day.year, next_day.month, next_day.day, tzinfo=tz).timestamp()
    else:
        step = 60.0 if size == "MINUTE" else 3600.0
        end = _floor_local(start + step, size, tz).timestamp()
        if end <= start:  # offset changes that are not whole windows (e.g. 30 min shifts)
            end = start + step
    return start, end


def format_rfc3339(ts: float, tz: tzinfo) -> str:
    """RFC 3339 with the zone's offset, ``Z`` for UTC (whole seconds)."""
    local = datetime.fromtimestamp(round(ts), tz)
    offset = local.utcoffset()
    if offset is not None and offset == timedelta(0) and _is_utc(tz):
        return local.strftime("%Y-%m-%dT%H:%M:%SZ")
    return local.isoformat(timespec="seconds")


def _is_utc(tz: tzinfo) -> bool:
    return tz is timezone.utc or str(tz) in {"UTC", "Etc/UTC", "Etc/Universal", "Universal", "Zulu"}


class UsageStore(SQLiteStore):
    """A small SQLite table of usage records; safe to use from several threads."""

    SCHEMA = _SCHEMA

    def record(
        self,
        user_id: str,
        model: str,
        input_tokens: int,
        output_tokens: int,
        ts: float | None = None,
    ) -> None:
        """Add one served request."""
        when = time.time() if ts is None else ts
        with self._lock:
            self._conn.execute(
                "INSERT INTO usage (ts, user_id, model, input_tokens, output_tokens) "
                "VALUES (?, ?, ?, ?, ?)",
                (when, user_id, model, int(input_tokens), int(output_tokens)),
            )

    def records(
        self,
        user_id: str,
        start: float,
        end: float,
        models: Sequence[str] | None = None,
    ) -> list[UsageRecord]:
        """The user's records with ``start <= ts < end`` (optionally only these models)."""
        sql = (
            "SELECT ts, user_id, model, input_tokens, output_tokens FROM usage "
            "WHERE user_id = ? AND ts >= ? AND ts < ?"
        )
        params: list[Any] = [user_id, start, end]
        if models is not None:
            if not models:
                return []
            sql += f" AND model IN ({','.join('?' * len(models))})"
            params.extend(models)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY ts", params).fetchall()
        return [UsageRecord(*row) for row in rows]

    def windows(
        self,
        user_id: str,
        start: float,
        end: float,
        size: WindowSize,
        tz: tzinfo,
        group_by_model: bool,
        models: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Sum the user's usage into windows; only windows with usage are returned, in order."""
        return aggregate(self.records(user_id, start, end, models), size, tz, group_by_model)


def aggregate(
    records: Iterable[UsageRecord], size: WindowSize, tz: tzinfo, group_by_model: bool
) -> list[dict[str, Any]]:
    """Sum records into wire-shaped windows (``groupBy``, ``windowStart``, ``windowEnd``...)."""
    sums: dict[tuple[float, float, str, str], list[int]] = {}
    for rec in records:
        lo, hi = window_bounds(rec.ts, size, tz)
        key = (lo, hi, rec.model if group_by_model else "", rec.user_id)
        acc = sums.setdefault(key, [0, 0])
        acc[0] += rec.input_tokens
        acc[1] += rec.output_tokens
    out: list[dict[str, Any]] = []
    for (lo, hi, model, user_id), (tokens_in, tokens_out) in sorted(sums.items()):
        out.append(
            {
                "groupBy": {"model": model} if group_by_model else {},
                "user_id": user_id,
                "input_token": tokens_in,
                "output_token": tokens_out,
                "windowStart": format_rfc3339(lo, tz),
                "windowEnd": format_rfc3339(hi, tz),
            }
        )
    return out
