"""A client-side usage tally: tokens per model and per time window, from every answer's ``usage``.

The CompactifAI service withdrew its usage statistics endpoint on 2026-03-24 (usage is shown in
its dashboard). A :class:`UsageTally` gives the same view from the client's side: it adds up the
``usage`` each chat or text completion answer reports, per model and per minute, hour or day,
and prices it with a :class:`PriceTable` when one is given.

Fill it in one of three ways (use one per tally, or the same answers are counted twice):

- the transport: ``CompactifAIClient(usage_tally=tally)`` records every answer and every
  stream's usage chunk of that client;
- LangChain: ``langchain_compactifai.CompactifAIUsageCallbackHandler`` (or the
  ``get_compactifai_callback()`` context manager);
- LlamaIndex: ``llama_index_compactifai.CompactifAIUsageCallbackHandler`` in a
  ``CallbackManager``.

An answer without usage (the service does not promise a stream's usage chunk) records no tokens
and is counted as ``unreported``.

Memory is bounded: the tally keeps one counter set per (model, window), never the answers. When
more than ``max_windows`` windows exist, the oldest are dropped and counted in
``UsageSummary.dropped_windows`` (their tokens leave every later summary).

No per-token prices are published in the provider's machine-readable material (harvested
2026-08-26; the pricing page is https://docs.compactif.ai/pricing/), so the package ships none:
:data:`PUBLISHED_PRICES` is an empty, dated table, and costs come from the table you give.

Example:
    >>> from compactifai.usage_tally import PriceTable, UsageTally
    >>> prices = PriceTable({"my-model": (0.20, 0.60)}, as_of="2026-09-01",
    ...                     source="my contract", currency="EUR")
    >>> tally = UsageTally(price_table=prices)
    >>> tally.record("my-model", {"prompt_tokens": 1000, "completion_tokens": 500}, at=0)
    True
    >>> tally.record("my-model", None, at=10)  # a stream without a usage chunk
    False
    >>> total = tally.summary().total
    >>> total.requests, total.unreported, total.prompt_tokens, total.completion_tokens
    (1, 1, 1000, 500)
    >>> round(total.cost, 6)
    0.0005
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Literal, Union

from ._errors import ConfigurationError
from ._wire import token_usage

__all__ = [
    "PUBLISHED_PRICES",
    "ModelPrice",
    "PriceTable",
    "UsageRow",
    "UsageSummary",
    "UsageTally",
]

Resolution = Literal["minute", "hour", "day"]
#: What rows are grouped by: one key or several (``("model", "day")``); "total" is one row.
GroupKey = Literal["model", "minute", "hour", "day", "total"]
#: A point in time: a datetime (naive means UTC), seconds since the epoch, or, for ``since``,
#: a timedelta counted back from now.
TimeLike = Union[datetime, float, int, timedelta, None]  # noqa: UP007 - used at run time

_SECONDS: dict[str, int] = {"minute": 60, "hour": 3600, "day": 86400}
_GROUP_KEYS = ("model", "minute", "hour", "day", "total")
_UNKNOWN_MODEL = "unknown"

# Counter positions in a window's list (a list, not an object: one record = a few int adds).
_REQUESTS, _UNREPORTED, _PROMPT, _COMPLETION, _TOTAL, _REASONING, _CACHED = range(7)
_FIELDS = 7


# ---------------------------------------------------------------- prices


@dataclass(frozen=True)
class ModelPrice:
    """A model's price per million prompt (input) and completion (output) tokens.

    Reasoning tokens are part of the completion tokens (the OpenAI convention the service
    follows), so they are priced as completion tokens.

    Example:
        >>> ModelPrice(prompt=0.2, completion=0.6).cost(1_000_000, 500_000)
        0.5
    """

    prompt: float
    completion: float

    def __post_init__(self) -> None:
        for name in ("prompt", "completion"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
                or value < 0
            ):
                raise ConfigurationError(
                    f"a price per million {name} tokens must be a number >= 0, not {value!r}"
                )

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """What these tokens cost, in the table's currency."""
        return (prompt_tokens * self.prompt + completion_tokens * self.completion) / 1_000_000


PriceLike = Union[ModelPrice, tuple[float, float], Mapping[str, float]]  # noqa: UP007


def _model_price(model: str, value: PriceLike) -> ModelPrice:
    if isinstance(value, ModelPrice):
        return value
    if isinstance(value, Mapping):
        unknown = set(value) - {"prompt", "completion"}
        if unknown or len(value) != 2:
            raise ConfigurationError(
                f"the price of {model!r} must have the keys 'prompt' and 'completion' (per "
                f"million tokens), not {sorted(value)}"
            )
        return ModelPrice(prompt=value["prompt"], completion=value["completion"])
    if isinstance(value, tuple) and len(value) == 2:
        return ModelPrice(prompt=value[0], completion=value[1])
    raise ConfigurationError(
        f"the price of {model!r} must be a ModelPrice, a (prompt, completion) pair or a "
        f"{{'prompt': ..., 'completion': ...}} mapping (per million tokens), not {value!r}"
    )


def _as_date(value: date | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ConfigurationError(
            f"as_of must be a date or an ISO date string such as '2026-09-01', not {value!r}"
        ) from None


class PriceTable:
    """Prices per million tokens by model id, dated and with their source.

    Prices change and the package cannot know yours: build a table from the provider's pricing
    page (https://docs.compactif.ai/pricing/) or your contract, and say when you read it.
    :meth:`with_prices` overrides or adds models of an existing table.

    Example:
        >>> table = PriceTable({"hypernova-60b": (0.2, 0.6)}, as_of="2026-09-01",
        ...                    source="https://docs.compactif.ai/pricing/", currency="EUR")
        >>> table.cost("hypernova-60b", 2_000_000, 1_000_000), table.cost("other", 10, 10)
        (1.0, None)
        >>> newer = table.with_prices({"hypernova-60b": (0.1, 0.3)}, as_of="2026-10-01")
        >>> newer.price("hypernova-60b"), str(newer.as_of)
        (ModelPrice(prompt=0.1, completion=0.3), '2026-10-01')
    """

    __slots__ = ("_prices", "as_of", "currency", "source")

    def __init__(
        self,
        prices: Mapping[str, PriceLike],
        *,
        as_of: date | str,
        source: str,
        currency: str | None = None,
    ) -> None:
        if not isinstance(prices, Mapping):
            raise ConfigurationError(
                f"prices must be a mapping of model id -> price, not {type(prices).__name__}"
            )
        self._prices = {str(model): _model_price(model, p) for model, p in prices.items()}
        #: The day these prices were read.
        self.as_of = _as_date(as_of)
        #: Where they were read (a URL, a contract).
        self.source = source
        #: The currency of the prices (None when the table does not say).
        self.currency = currency

    def price(self, model: str) -> ModelPrice | None:
        """The model's price, or None when the table has none."""
        return self._prices.get(model)

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
        """What the tokens cost, or None when the model has no price here."""
        found = self._prices.get(model)
        return None if found is None else found.cost(prompt_tokens, completion_tokens)

    @property
    def models(self) -> tuple[str, ...]:
        """The model ids that have a price."""
        return tuple(self._prices)

    def with_prices(
        self,
        prices: Mapping[str, PriceLike],
        *,
        as_of: date | str | None = None,
        source: str | None = None,
    ) -> PriceTable:
        """A new table: these prices over this table's (date and source updated when given)."""
        merged: dict[str, PriceLike] = {**self._prices, **prices}
        return PriceTable(
            merged,
            as_of=self.as_of if as_of is None else as_of,
            source=self.source if source is None else source,
            currency=self.currency,
        )

    def __len__(self) -> int:
        return len(self._prices)

    def __repr__(self) -> str:
        return (
            f"PriceTable({len(self._prices)} model(s), as_of={self.as_of.isoformat()}, "
            f"currency={self.currency!r}, source={self.source!r})"
        )


#: The provider's published per-token prices, as far as the package knows them: none. The
#: material harvested on 2026-08-26 (``openapi.json``, ``changelog.yml``, ``conventions.yml``,
#: ``llms.txt``) links a pricing page but states no price. Pass your own :class:`PriceTable`.
PUBLISHED_PRICES = PriceTable(
    {},
    as_of="2026-08-26",
    source="no per-token prices in the provider's published machine-readable material "
    "(harvested 2026-08-26); read https://docs.compactif.ai/pricing/ and build your own table",
)


# ---------------------------------------------------------------- summaries


@dataclass(frozen=True)
class UsageRow:
    """Token counts of one group (a model, a window, or both; ``None`` where not grouped).

    ``requests`` counts answers that reported usage; ``unreported`` those that did not (their
    tokens are unknown). ``cost`` is None when no price table was used or a model in the row
    has no price.
    """

    model: str | None
    start: datetime | None
    end: datetime | None
    requests: int
    unreported: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    reasoning_tokens: int
    cached_tokens: int
    cost: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """The row as a plain dict (for pandas, JSON, a notebook table)."""
        return {
            "model": self.model,
            "start": self.start,
            "end": self.end,
            "requests": self.requests,
            "unreported": self.unreported,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "cached_tokens": self.cached_tokens,
            "cost": self.cost,
        }


@dataclass(frozen=True)
class UsageSummary:
    """What :meth:`UsageTally.summary` returns: rows, their total, and how they were priced.

    ``since``/``until`` are the bounds of the windows counted (aligned to the tally's
    resolution). ``unpriced_models`` lists models the price table had no price for.
    """

    rows: tuple[UsageRow, ...]
    total: UsageRow
    by: tuple[str, ...]
    since: datetime | None
    until: datetime | None
    prices: PriceTable | None = None
    unpriced_models: tuple[str, ...] = ()
    dropped_windows: int = 0
    notes: tuple[str, ...] = field(default=())

    def as_dicts(self) -> list[dict[str, Any]]:
        """The rows as plain dicts."""
        return [row.as_dict() for row in self.rows]

    def __str__(self) -> str:
        return _render(self)


def _fmt_time(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M")


def _fmt_cost(value: float | None) -> str:
    return "-" if value is None else f"{value:.6f}"


def _render(summary: UsageSummary) -> str:
    by_model = "model" in summary.by
    by_time = any(k in _SECONDS for k in summary.by)
    prices = summary.prices
    head = [
        *(["model"] if by_model else []),
        *(["window start (UTC)"] if by_time else []),
        "requests",
        "unreported",
        "prompt",
        "completion",
        "reasoning",
        "total",
    ]
    if prices is not None:
        head.append(f"cost ({prices.currency})" if prices.currency else "cost")
    lines: list[list[str]] = [head]
    for row in (*summary.rows, summary.total):
        is_total = row is summary.total
        cells = []
        if by_model:
            cells.append("TOTAL" if is_total else row.model or "")
        if by_time:
            cells.append("TOTAL" if is_total and not by_model else _fmt_time(row.start))
        if not by_model and not by_time:
            if not is_total:
                continue  # by="total": the total row alone
            head.insert(0, "")
            cells.append("TOTAL")
        cells += [
            str(row.requests),
            str(row.unreported),
            str(row.prompt_tokens),
            str(row.completion_tokens),
            str(row.reasoning_tokens),
            str(row.total_tokens),
        ]
        if prices is not None:
            cells.append(_fmt_cost(row.cost))
        lines.append(cells)
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    text = [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    ]
    if prices is not None:
        text.append(f"prices as of {prices.as_of.isoformat()} ({prices.source})")
    text.extend(summary.notes)
    return "\n".join(text)


# ---------------------------------------------------------------- the tally


def _epoch(value: datetime | float | int) -> float:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.timestamp()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(
            f"a time must be a datetime or seconds since the epoch, not {value!r}"
        )
    return float(value)


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def _group_keys(by: str | Iterable[str]) -> tuple[str, ...]:
    keys = (by,) if isinstance(by, str) else tuple(by)
    bad = [k for k in keys if k not in _GROUP_KEYS]
    if bad or not keys:
        raise ConfigurationError(
            f"by must be one of {', '.join(_GROUP_KEYS)} or a tuple of them (such as "
            f"('model', 'day')), not {by!r}"
        )
    if sum(k in _SECONDS for k in keys) > 1:
        raise ConfigurationError(f"by may hold one time window (minute, hour or day), not {by!r}")
    return keys


class UsageTally:
    """Token usage per model and time window, added up from the answers' ``usage``.

    Thread safe and safe to share between event loops and threads: a record takes a lock for
    a few integer additions and never waits on I/O, so async code calls it directly.

    Args:
        price_table: prices for :meth:`summary`'s cost (a summary may pass its own).
        resolution: the finest window kept: "minute", "hour" (default) or "day" (UTC).
        max_windows: how many (model, window) counter sets are kept at most; past it the
            oldest windows are dropped (and counted in ``UsageSummary.dropped_windows``).
        clock: seconds since the epoch (for tests).

    Example:
        >>> from compactifai import CompactifAIClient
        >>> from compactifai.usage_tally import UsageTally
        >>> tally = UsageTally()
        >>> client = CompactifAIClient(api_key="sk-...", usage_tally=tally)  # doctest: +SKIP
        >>> tally.record_tokens("m", prompt_tokens=12, completion_tokens=30, at=7200)
        >>> tally.record_tokens("m", prompt_tokens=8, completion_tokens=10, at=90000)
        >>> [(r.start.day, r.total_tokens) for r in tally.summary(by="day").rows]
        [(1, 42), (2, 18)]
        >>> tally.summary(since=86400).total.total_tokens  # from the 2nd of January 1970 on
        18
    """

    def __init__(
        self,
        *,
        price_table: PriceTable | None = None,
        resolution: Resolution = "hour",
        max_windows: int = 20_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if resolution not in _SECONDS:
            raise ConfigurationError(
                f"resolution must be 'minute', 'hour' or 'day', not {resolution!r}"
            )
        if isinstance(max_windows, bool) or not isinstance(max_windows, int) or max_windows < 1:
            raise ConfigurationError(f"max_windows must be an integer >= 1, not {max_windows!r}")
        if price_table is not None and not isinstance(price_table, PriceTable):
            raise ConfigurationError(
                f"price_table must be a PriceTable, not {type(price_table).__name__}"
            )
        self.price_table = price_table
        self.resolution: Resolution = resolution
        self.max_windows = max_windows
        self._step = _SECONDS[resolution]
        self._clock = clock
        self._lock = threading.Lock()
        #: (model, window start in epoch seconds) -> counters
        self._windows: dict[tuple[str, int], list[int]] = {}
        self._dropped = 0

    # -- recording

    def record(self, model: str | None, usage: Any, *, at: datetime | float | None = None) -> bool:
        """Add an answer's ``usage`` (a dict or ``compactifai.types.Usage``); True if it had
        token counts. ``None`` (no usage reported) counts the answer as unreported."""
        counts = token_usage(usage) if usage is not None else None
        if counts is None:
            self._add(model, at, None)
            return False
        self._add(
            model,
            at,
            (
                counts.prompt_tokens,
                counts.completion_tokens,
                counts.total_tokens,
                counts.reasoning_tokens or 0,
                counts.cached_tokens or 0,
            ),
        )
        return True

    def record_tokens(
        self,
        model: str | None,
        *,
        prompt_tokens: int,
        completion_tokens: int,
        total_tokens: int | None = None,
        reasoning_tokens: int | None = None,
        cached_tokens: int | None = None,
        at: datetime | float | None = None,
    ) -> None:
        """Add one answer's token counts (the total defaults to prompt + completion)."""
        total = prompt_tokens + completion_tokens if total_tokens is None else total_tokens
        self._add(
            model,
            at,
            (prompt_tokens, completion_tokens, total, reasoning_tokens or 0, cached_tokens or 0),
        )

    def record_unreported(self, model: str | None, *, at: datetime | float | None = None) -> None:
        """Count an answer that reported no usage (a stream without a usage chunk)."""
        self._add(model, at, None)

    def record_answer(self, answer: Any, model: str | None = None) -> bool:
        """Add a chat or text completion answer (a dict as the server sent it, or a stream's
        usage chunk); its own ``model`` wins over ``model`` (the one asked for)."""
        if type(answer) is not dict:
            return False
        named = answer.get("model")
        return self.record(
            named if isinstance(named, str) and named else model, answer.get("usage")
        )

    def _add(
        self,
        model: str | None,
        at: datetime | float | None,
        counts: tuple[int, int, int, int, int] | None,
    ) -> None:
        when = self._clock() if at is None else _epoch(at)
        key = (model or _UNKNOWN_MODEL, int(when // self._step) * self._step)
        with self._lock:
            window = self._windows.get(key)
            if window is None:
                window = self._windows[key] = [0] * _FIELDS
                if len(self._windows) > self.max_windows:
                    self._drop_oldest()
            if counts is None:
                window[_UNREPORTED] += 1
            else:
                window[_REQUESTS] += 1
                window[_PROMPT] += counts[0]
                window[_COMPLETION] += counts[1]
                window[_TOTAL] += counts[2]
                window[_REASONING] += counts[3]
                window[_CACHED] += counts[4]

    def _drop_oldest(self) -> None:
        """Over ``max_windows``: drop the oldest window (under the lock)."""
        oldest = min(self._windows, key=lambda k: (k[1], k[0]))
        del self._windows[oldest]
        self._dropped += 1

    # -- reading

    def summary(
        self,
        *,
        since: TimeLike = None,
        until: TimeLike = None,
        by: GroupKey | tuple[GroupKey, ...] = "model",
        prices: PriceTable | None = None,
    ) -> UsageSummary:
        """Token counts (and cost, with a price table) grouped ``by`` model and/or window.

        ``since``/``until`` take a datetime (naive means UTC), epoch seconds, or for
        ``since`` a timedelta back from now. A window counts when it overlaps
        ``[since, until)``: bounds are widened to the tally's resolution (the summary's
        ``since``/``until`` say by how much).
        """
        keys = _group_keys(by)
        for key in keys:
            if key in _SECONDS and _SECONDS[key] < self._step:
                raise ConfigurationError(
                    f"by={key!r} is finer than this tally's resolution ({self.resolution!r}): "
                    f"build the tally with UsageTally(resolution={key!r})"
                )
        table = prices if prices is not None else self.price_table
        low, high = self._bounds(since, until)
        with self._lock:
            items = [
                (k, list(v))
                for k, v in self._windows.items()
                if (low is None or k[1] >= low) and (high is None or k[1] < high)
            ]
            dropped = self._dropped
        step = next((_SECONDS[k] for k in keys if k in _SECONDS), None)
        groups: dict[tuple[str | None, int | None], list[int]] = {}
        # per group: model -> (prompt, completion), to price each model at its own price
        group_models: dict[tuple[str | None, int | None], dict[str, list[int]]] = {}
        for (model, start), counters in items:
            gkey = (
                model if "model" in keys else None,
                None if step is None else start // step * step,
            )
            into = groups.get(gkey)
            if into is None:
                into = groups[gkey] = [0] * _FIELDS
            for i, value in enumerate(counters):
                into[i] += value
            tokens = group_models.setdefault(gkey, {}).setdefault(model, [0, 0])
            tokens[0] += counters[_PROMPT]
            tokens[1] += counters[_COMPLETION]
        unpriced: set[str] = set()
        rows = []
        for gkey in sorted(groups, key=lambda g: (g[1] or 0, g[0] or "")):
            cost = _cost(table, group_models[gkey], unpriced)
            rows.append(_row(gkey[0], gkey[1], step, groups[gkey], cost))
        total_counts = [sum(row[i] for row in groups.values()) for i in range(_FIELDS)]
        models_total: dict[str, list[int]] = {}
        for per_model in group_models.values():
            for model, (p, c) in per_model.items():
                acc = models_total.setdefault(model, [0, 0])
                acc[0] += p
                acc[1] += c
        total = _row(None, None, None, total_counts, _cost(table, models_total, set()))
        notes = []
        if dropped:
            notes.append(
                f"{dropped} oldest window(s) were dropped (max_windows="
                f"{self.max_windows}): their tokens are not counted"
            )
        if unpriced:
            notes.append(f"no price for: {', '.join(sorted(unpriced))} (cost shown as -)")
        if any(row[_UNREPORTED] for row in groups.values()):
            notes.append("unreported: answers without usage (tokens unknown, not counted)")
        return UsageSummary(
            rows=tuple(rows),
            total=total,
            by=keys,
            since=None if low is None else _utc(low),
            until=None if high is None else _utc(high),
            prices=table,
            unpriced_models=tuple(sorted(unpriced)),
            dropped_windows=dropped,
            notes=tuple(notes),
        )

    def _bounds(self, since: TimeLike, until: TimeLike) -> tuple[int | None, int | None]:
        step = self._step
        low = high = None
        if since is not None:
            start = (
                self._clock() - since.total_seconds()
                if isinstance(since, timedelta)
                else _epoch(since)
            )
            low = int(start // step) * step
        if until is not None:
            if isinstance(until, timedelta):
                raise ConfigurationError("until takes a datetime or epoch seconds, not a timedelta")
            end = _epoch(until)
            high = math.ceil(end / step) * step
        return low, high

    def models(self) -> list[str]:
        """The models seen (in the windows still kept)."""
        with self._lock:
            return sorted({model for model, _ in self._windows})

    def reset(self) -> None:
        """Forget everything counted."""
        with self._lock:
            self._windows.clear()
            self._dropped = 0

    def merge(self, other: UsageTally) -> None:
        """Add another tally's counts (one filled in a worker process, say) to this one."""
        if not isinstance(other, UsageTally):
            raise ConfigurationError(f"merge takes a UsageTally, not {type(other).__name__}")
        if other._step > self._step:
            raise ConfigurationError(
                f"cannot merge a {other.resolution!r} tally into a finer {self.resolution!r} one"
            )
        with other._lock:
            items = [(k, list(v)) for k, v in other._windows.items()]
            dropped = other._dropped
        with self._lock:
            for (model, start), counters in items:
                key = (model, start // self._step * self._step)
                window = self._windows.get(key)
                if window is None:
                    window = self._windows[key] = [0] * _FIELDS
                    if len(self._windows) > self.max_windows:
                        self._drop_oldest()
                for i, value in enumerate(counters):
                    window[i] += value
            self._dropped += dropped

    def __len__(self) -> int:
        """How many (model, window) counter sets are kept."""
        return len(self._windows)

    def __repr__(self) -> str:
        return (
            f"UsageTally(resolution={self.resolution!r}, windows={len(self._windows)}, "
            f"price_table={self.price_table!r})"
        )

    def __getstate__(self) -> dict[str, Any]:
        # A copy (a worker's) keeps the counts so far and counts on its own from then on:
        # merge() it back. Locks do not pickle; the clock does only when it is importable.
        with self._lock:
            return {
                "price_table": self.price_table,
                "resolution": self.resolution,
                "max_windows": self.max_windows,
                "clock": self._clock,
                "windows": {k: list(v) for k, v in self._windows.items()},
                "dropped": self._dropped,
            }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(  # type: ignore[misc]
            price_table=state["price_table"],
            resolution=state["resolution"],
            max_windows=state["max_windows"],
            clock=state["clock"],
        )
        self._windows = state["windows"]
        self._dropped = state["dropped"]


def _cost(
    table: PriceTable | None, per_model: Mapping[str, list[int]], unpriced: set[str]
) -> float | None:
    if table is None:
        return None
    cost = 0.0
    missing = False
    for model, (prompt, completion) in per_model.items():
        found = table.cost(model, prompt, completion)
        if found is None:
            if prompt or completion:
                unpriced.add(model)
                missing = True
            continue
        cost += found
    return None if missing else cost


def _row(
    model: str | None, start: int | None, step: int | None, counts: list[int], cost: float | None
) -> UsageRow:
    return UsageRow(
        model=model,
        start=None if start is None else _utc(start),
        end=None if start is None or step is None else _utc(start + step),
        requests=counts[_REQUESTS],
        unreported=counts[_UNREPORTED],
        prompt_tokens=counts[_PROMPT],
        completion_tokens=counts[_COMPLETION],
        total_tokens=counts[_TOTAL],
        reasoning_tokens=counts[_REASONING],
        cached_tokens=counts[_CACHED],
        cost=cost,
    )
