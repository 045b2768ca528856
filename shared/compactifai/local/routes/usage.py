"""``POST /v1/usage/completions``: token totals per window (and model) for the caller's key."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.requests import Request
from starlette.responses import Response

from ...types import UsageStatisticsRequest
from ..errors import bad_request
from ..usage_store import format_rfc3339
from ._common import json_body, json_response, state_of, user_id, validate

__all__ = ["usage_completions"]


def _timestamp(value: datetime, tz: ZoneInfo) -> float:
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.timestamp()


async def usage_completions(request: Request) -> Response:
    """POST /v1/usage/completions: token totals per window (and model) for the caller's key."""
    state = state_of(request)
    body = await json_body(request)
    req = validate(UsageStatisticsRequest, body)
    try:
        tz = ZoneInfo(req.window_timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise bad_request(
            f"window_timezone {req.window_timezone!r} is not an IANA time zone",
            param="window_timezone",
        ) from exc
    group_by = req.group_by or []
    unknown = [g for g in group_by if g != "model"]
    if unknown:
        raise bad_request(f"group_by supports only 'model' (got {unknown})", param="group_by")
    models: list[str] | None = None
    if req.filter_group_by:
        unknown = [k for k in req.filter_group_by if k != "model"]
        if unknown:
            raise bad_request(
                f"filter_group_by supports only 'model' (got {unknown})", param="filter_group_by"
            )
        models = req.filter_group_by.get("model")
    start = _timestamp(req.start_time, tz)
    now = time.time()
    end = _timestamp(req.end_time, tz) if req.end_time is not None else now
    if end <= start:
        raise bad_request("end_time must be later than start_time", param="end_time")
    windows = state.store.windows(
        user_id(request), start, end, req.window_size, tz, "model" in group_by, models
    )
    end_text = body.get("end_time") or format_rfc3339(now, timezone.utc)
    return json_response(
        {
            "data": windows,
            "start_time": body.get("start_time"),
            "end_time": end_text,
            "window_size": req.window_size,
        }
    )


