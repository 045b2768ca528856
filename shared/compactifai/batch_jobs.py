"""Resumable provider-side batch jobs: many requests through ``/files`` and ``/batches``.

:class:`BatchJob` (and its async twin :class:`AsyncBatchJob`) takes chat or completion request
bodies and does the whole round trip on the service's own engine:

1. builds the JSONL input (one line per request, with a stable ``custom_id``: the caller's, or
   ``request-<index>``), split into several files when one would exceed ``max_requests_per_batch``
   lines or ``max_bytes_per_file`` bytes;
2. uploads each file and creates one batch per file;
3. polls with backoff (an optional ``tqdm`` progress bar) until every batch has ended, or
   ``timeout`` passes;
4. downloads the output and error files and returns one :class:`BatchRowResult` per request, in
   INPUT order: the response body, or a typed error saying why not (``failed``, ``expired``,
   ``cancelled``, ``timed_out``, ``missing``). No row is ever silently absent.

With ``state_path`` the job's state (input fingerprint, custom ids, file and batch ids) is saved
atomically after every step, so a process that dies and starts again with the same inputs and
the same state file picks up the same batches: nothing is uploaded or created twice. A crash
between sending ``POST /batches`` and saving its answer is reconciled on restart by looking for
a batch of the same input file (``GET /batches``) before creating one.

Client-side fan-out on Ray or threads (:mod:`compactifai.batch`) suits pipelines that need the
answers now; this module suits large jobs that may wait for the service's batch window.

Example:
    >>> from compactifai import CompactifAIClient
    >>> from compactifai.batch_jobs import chat_request, run_batch_job
    >>> client = CompactifAIClient()  # doctest: +SKIP
    >>> requests = [chat_request("hypernova-60b", [{"role": "user", "content": q}],
    ...                          max_tokens=50) for q in ["Hi", "What is a tensor?"]]
    >>> result = run_batch_job(client, requests, state_path="job.json",  # doctest: +SKIP
    ...                        progress=True)
    >>> for row in result:  # doctest: +SKIP
    ...     print(row.custom_id, row.outcome, row.body if row.ok else row.error)
    >>> result.usage.total_tokens  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from typing_extensions import Self

from ._errors import (
    APIError,
    CompactifAIError,
    InvalidRequestError,
    error_from_response,
)
from ._requests import _chat_body, _completion_body, _response_body

if TYPE_CHECKING:
    from ._client import AsyncCompactifAIClient, CompactifAIClient
    from .types import ChatCompletion
    from .types_jobs import Batch

__all__ = [
    "DEFAULT_MAX_BYTES_PER_FILE",
    "DEFAULT_MAX_REQUESTS_PER_BATCH",
    "AsyncBatchJob",
    "BatchCancelledError",
    "BatchExpiredError",
    "BatchFailedError",
    "BatchIncompleteError",
    "BatchJob",
    "BatchJobError",
    "BatchJobResult",
    "BatchRowError",
    "BatchRowMissingError",
    "BatchRowResult",
    "BatchTimeoutError",
    "JobUsage",
    "Outcome",
    "PriceTableLike",
    "acollect_batches",
    "arun_batch_job",
    "build_batch_lines",
    "chat_answers",
    "chat_request",
    "collect_batches",
    "completion_request",
    "failed_rows",
    "incomplete_error",
    "response_request",
    "results_or_raise",
    "run_batch_job",
]

logger = logging.getLogger("compactifai")

#: OpenAI's limits for one batch (the service publishes none of its own).
DEFAULT_MAX_REQUESTS_PER_BATCH = 50_000
DEFAULT_MAX_BYTES_PER_FILE = 200 * 1024 * 1024
STATE_VERSION = 1

Outcome = Literal["succeeded", "failed", "expired", "cancelled", "timed_out", "missing"]
_TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
_ROW_CODES: dict[str, Outcome] = {
    "batch_expired": "expired",
    "batch_cancelled": "cancelled",
}
#: How far back ``GET /batches`` is searched for a batch whose creation was not saved.
_RECONCILE_LIMIT = 1000

_AnswerT = TypeVar("_AnswerT")


# ---------------------------------------------------------------- errors


class BatchJobError(APIError):
    """Why a batch row has no answer, when the service gave no HTTP error for it.

    ``custom_id`` and ``batch_id`` say which row of which batch.
    """

    outcome: Outcome = "failed"

    def __init__(
        self,
        message: str,
        *,
        custom_id: str | None = None,
        batch_id: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.custom_id = custom_id
        self.batch_id = batch_id

    def __reduce__(self) -> Any:
        return (
            _rebuild_job_error,
            (type(self), self.message, self.custom_id, self.batch_id, self.code),
        )


def _rebuild_job_error(
    cls: type[BatchJobError],
    message: str,
    custom_id: str | None,
    batch_id: str | None,
    code: str | None,
) -> BatchJobError:
    return cls(message, custom_id=custom_id, batch_id=batch_id, code=code)


class BatchRowError(BatchJobError):
    """The service reported this row failed (a line of the error file, with its code)."""


class BatchFailedError(BatchJobError):
    """The whole batch failed (its input was refused); the row did not run."""


class BatchExpiredError(BatchJobError):
    """The batch's 24 h window ended before this row ran."""

    outcome: Outcome = "expired"


class BatchCancelledError(BatchJobError):
    """The batch was cancelled before this row ran."""

    outcome: Outcome = "cancelled"


class BatchTimeoutError(BatchJobError):
    """The job's ``timeout`` passed while the row's batch was still running.

    The batch goes on (unless ``cancel_on_timeout``): run the job again with the same
    ``state_path`` to collect it.
    """

    outcome: Outcome = "timed_out"


class BatchRowMissingError(BatchJobError):
    """The batch ended but neither its output nor its error file has this row."""

    outcome: Outcome = "missing"


class BatchIncompleteError(CompactifAIError):
    """Some rows of a batch did not succeed; ``results`` holds every row, in input order.

    ``results`` items are each row's answer, or its error (an exception); ``errors`` maps the
    failed rows' indexes to their errors. Raised only after every row was collected, so
    nothing is lost by raising.
    """

    def __init__(self, message: str, results: Sequence[Any], errors: Mapping[int, BaseException]):
        super().__init__(message)
        self.results = list(results)
        self.errors = dict(errors)

    def __reduce__(self) -> Any:
        return (type(self), (str(self), self.results, self.errors))


def incomplete_error(
    results: Sequence[Any], errors: Mapping[int, BaseException]
) -> BatchIncompleteError:
    """The :class:`BatchIncompleteError` for rows ``errors`` of ``results`` (counts by kind)."""
    kinds: dict[str, int] = {}
    for err in errors.values():
        kind = getattr(err, "outcome", None) or type(err).__name__
        kinds[kind] = kinds.get(kind, 0) + 1
    first = min(errors)
    summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    return BatchIncompleteError(
        f"{len(errors)} of {len(results)} batch rows did not succeed ({summary}); the first, "
        f"row {first}: {errors[first]}. Every row is on .results (answers and errors, in "
        "input order)",
        results,
        errors,
    )


# ---------------------------------------------------------------- results


class PriceTableLike(Protocol):
    """What prices a job's usage: :class:`compactifai.usage_tally.PriceTable` fits."""

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float | None: ...


@dataclass(frozen=True)
class JobUsage:
    """Token totals of a job's answered rows, and their cost when a price table was given.

    ``cost`` covers the models the table prices; ``unpriced_models`` lists the others (cost is
    None when no table was given or no model had a price).
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    rows_with_usage: int = 0
    by_model: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    cost: float | None = None
    currency: str | None = None
    unpriced_models: tuple[str, ...] = ()


@dataclass
class BatchRowResult:
    """One request's outcome: ``body`` (the answer's JSON) when ``outcome == "succeeded"``,
    else ``error`` (a :class:`compactifai.CompactifAIError` saying why)."""

    index: int
    custom_id: str
    outcome: Outcome
    body: dict[str, Any] | None = None
    error: CompactifAIError | None = None
    batch_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "succeeded"


@dataclass
class BatchJobResult:
    """Every row of a job in input order, the batches' last states and the usage totals.

    Example:
        >>> result = BatchJobResult(rows=[BatchRowResult(0, "request-0", "succeeded", {})])
        >>> result.counts, [row.custom_id for row in result]
        ({'succeeded': 1}, ['request-0'])
    """

    rows: list[BatchRowResult]
    batches: list[Batch] = field(default_factory=list)
    usage: JobUsage = field(default_factory=JobUsage)
    state_path: Path | None = None

    def __iter__(self) -> Any:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> BatchRowResult:
        return self.rows[index]

    @property
    def batch_ids(self) -> list[str]:
        return [b.id for b in self.batches]

    @property
    def counts(self) -> dict[str, int]:
        """How many rows ended each way (``{"succeeded": 98, "failed": 2}``)."""
        found: dict[str, int] = {}
        for row in self.rows:
            found[row.outcome] = found.get(row.outcome, 0) + 1
        return found

    @property
    def all_succeeded(self) -> bool:
        return all(row.ok for row in self.rows)

    def raise_for_failures(self) -> None:
        """Raise :class:`BatchIncompleteError` (carrying every row) if any row did not succeed."""
        errors = {row.index: row.error for row in self.rows if row.error is not None}
        if errors:
            raise incomplete_error([row.body if row.ok else row.error for row in self.rows], errors)


# ---------------------------------------------------------------- request bodies


def _strip_options(body: dict[str, Any], options: Mapping[str, Any], kind: str) -> dict[str, Any]:
    extra = sorted(k for k in ("timeout", "extra_headers") if options.get(k) is not None)
    if extra:
        raise InvalidRequestError(
            f"{', '.join(extra)} cannot be set per row of a batch ({kind}): a batch line is "
            "only a body",
            param=extra[0],
        )
    return body


def chat_request(
    model: str, messages: Sequence[Mapping[str, Any]], **params: Any
) -> dict[str, Any]:
    """A chat completion body, built and checked exactly as ``client.chat_completion`` does.

    Example:
        >>> chat_request("m", [{"role": "user", "content": "Hi"}], max_tokens=5)
        {'model': 'm', 'max_tokens': 5, 'messages': [{'role': 'user', 'content': 'Hi'}]}
    """
    body, options = _chat_body(model, messages, params)
    return _strip_options(body, options, "chat")


def completion_request(model: str, prompt: str | Sequence[str], **params: Any) -> dict[str, Any]:
    """A text completion body, built and checked exactly as ``client.completion`` does."""
    body, options = _completion_body(model, prompt, params)
    return _strip_options(body, options, "completion")


def response_request(model: str, input: str | Sequence[Any], **params: Any) -> dict[str, Any]:
    """A ``/responses`` body, built and checked exactly as ``client.create_response`` does."""
    body, options = _response_body(model, input, params)
    return _strip_options(body, options, "response")


_NEEDS = {"/v1/chat/completions": "messages", "/v1/completions": "prompt", "/v1/responses": "input"}


def _check_request(index: int, request: Any, endpoint: str) -> None:
    where = f"request {index}"
    if not isinstance(request, Mapping):
        raise InvalidRequestError(
            f"{where} is a {type(request).__name__}: each request is a body dict such as "
            "chat_request(model, messages, ...)",
            param="requests",
        )
    model = request.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequestError(f"{where} has no model", param="requests")
    needed = _NEEDS[endpoint]
    if not request.get(needed):
        raise InvalidRequestError(
            f"{where} has no {needed!r}: a batch for {endpoint} needs it in every body",
            param="requests",
        )
    if request.get("stream"):
        raise InvalidRequestError(
            f"{where} asks for stream: batch answers are never streamed", param="requests"
        )


def _custom_ids(count: int, given: Sequence[str] | None) -> list[str]:
    if given is None:
        return [f"request-{i}" for i in range(count)]
    ids = list(given)
    if len(ids) != count:
        raise InvalidRequestError(
            f"custom_ids has {len(ids)} ids for {count} requests: give one per request",
            param="custom_ids",
        )
    seen: set[str] = set()
    for cid in ids:
        if not isinstance(cid, str) or not cid:
            raise InvalidRequestError(
                f"custom id {cid!r} is not a non-empty string", param="custom_ids"
            )
        if cid in seen:
            raise InvalidRequestError(
                f"custom id {cid!r} is used twice: ids must be unique", param="custom_ids"
            )
        seen.add(cid)
    return ids


def build_batch_lines(
    requests: Sequence[Mapping[str, Any]],
    *,
    endpoint: str = "/v1/chat/completions",
    custom_ids: Sequence[str] | None = None,
) -> tuple[list[str], list[bytes]]:
    """The custom ids and the JSONL lines (without newline) of a batch input file.

    Example:
        >>> ids, lines = build_batch_lines([{"model": "m", "messages": [{"role": "user",
        ...     "content": "Hi"}]}])
        >>> ids, lines[0][:46]
        (['request-0'], b'{"custom_id":"request-0","method":"POST","url"')
    """
    if endpoint not in _NEEDS:
        raise InvalidRequestError(
            f"endpoint={endpoint!r}: a batch job targets one of {', '.join(_NEEDS)}",
            param="endpoint",
        )
    if isinstance(requests, (str, bytes, Mapping)) or not isinstance(requests, Sequence):
        raise InvalidRequestError("requests must be a list of request body dicts", param="requests")
    if not requests:
        raise InvalidRequestError("requests is empty: there is nothing to run", param="requests")
    ids = _custom_ids(len(requests), custom_ids)
    lines: list[bytes] = []
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    for index, (cid, request) in enumerate(zip(ids, requests, strict=True)):
        _check_request(index, request, endpoint)
        line = {"custom_id": cid, "method": "POST", "url": endpoint, "body": dict(request)}
        try:
            lines.append(encode(line).encode("utf-8"))
        except (TypeError, ValueError) as exc:
            raise InvalidRequestError(
                f"request {index} is not JSON: {exc}", param="requests"
            ) from None
    return ids, lines


def _split(lines: Sequence[bytes], max_requests: int, max_bytes: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of each file: at most ``max_requests`` lines and ``max_bytes`` bytes."""
    if max_requests < 1:
        raise InvalidRequestError(
            "max_requests_per_batch must be at least 1", param="max_requests_per_batch"
        )
    spans: list[tuple[int, int]] = []
    start, size = 0, 0
    for index, line in enumerate(lines):
        need = len(line) + 1
        if need > max_bytes:
            raise InvalidRequestError(
                f"request {index} alone is {need} bytes, more than max_bytes_per_file="
                f"{max_bytes}: shorten it or raise the limit",
                param="max_bytes_per_file",
            )
        if index > start and (index - start >= max_requests or size + need > max_bytes):
            spans.append((start, index))
            start, size = index, 0
        size += need
    spans.append((start, len(lines)))
    return spans


def _fingerprint(endpoint: str, lines: Iterable[bytes]) -> str:
    digest = hashlib.sha256(endpoint.encode())
    for line in lines:
        digest.update(line)
        digest.update(b"\n")
    return digest.hexdigest()


# ---------------------------------------------------------------- state


@dataclass
class _Chunk:
    """One batch of the job: its rows ``[start, stop)`` and what the service said of it."""

    start: int
    stop: int
    input_file_id: str | None = None
    batch_id: str | None = None
    creating_since: float | None = None
    status: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    done: int = 0

    @property
    def terminal(self) -> bool:
        return self.status in _TERMINAL

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _save_json(path: Path, data: Any) -> None:
    """Write ``data`` to ``path`` atomically: a reader sees the old file or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, separators=(",", ":"))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


class _JobCore:
    """What both job classes share: the rows, the chunks, the state file and the results."""

    def __init__(
        self,
        requests: Sequence[Mapping[str, Any]] | None,
        *,
        endpoint: str,
        custom_ids: Sequence[str] | None,
        state_path: str | os.PathLike[str] | None,
        max_requests_per_batch: int,
        max_bytes_per_file: int,
        poll_interval: float,
        max_poll_interval: float,
        timeout: float | None,
        cancel_on_timeout: bool,
        progress: bool,
        metadata: Mapping[str, str] | None,
        price_table: PriceTableLike | None,
    ) -> None:
        if poll_interval < 0 or max_poll_interval < 0:
            raise InvalidRequestError("poll intervals must be >= 0", param="poll_interval")
        self.endpoint = endpoint
        self.state_path = None if state_path is None else Path(state_path)
        self.poll_interval = poll_interval
        self.max_poll_interval = max(max_poll_interval, poll_interval)
        self.timeout = timeout
        self.cancel_on_timeout = cancel_on_timeout
        self.progress = progress
        self.metadata = dict(metadata or {})
        self.price_table = price_table
        self.cancel_requested = False
        self.timed_out = False
        self.batches: dict[str, Batch] = {}
        self._tallied: set[int] = set()
        self._clock: Callable[[], float] = time.monotonic
        self.lines: list[bytes] = []
        if requests is None:  # attached to existing batches (collect_batches)
            self.custom_ids: list[str] = []
            self.chunks: list[_Chunk] = []
            self.fingerprint = ""
            return
        self.custom_ids, self.lines = build_batch_lines(
            requests, endpoint=endpoint, custom_ids=custom_ids
        )
        self.fingerprint = _fingerprint(endpoint, self.lines)
        spans = _split(self.lines, max_requests_per_batch, max_bytes_per_file)
        self.chunks = [_Chunk(start, stop) for start, stop in spans]
        if self.state_path is not None and self.state_path.exists():
            self._load()

    # -- state file

    def _load(self) -> None:
        assert self.state_path is not None
        try:
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidRequestError(
                f"the state file {str(self.state_path)!r} cannot be read ({exc}): restore it, "
                "or delete it to start a new job",
                param="state_path",
            ) from None
        if state.get("version") != STATE_VERSION or state.get("fingerprint") != self.fingerprint:
            raise InvalidRequestError(
                f"the state file {str(self.state_path)!r} belongs to another job (other "
                "requests, custom ids or endpoint): pass the same inputs to resume it, or "
                "another state_path to start a new job",
                param="state_path",
            )
        try:
            self.chunks = [_Chunk(**c) for c in state["chunks"]]
        except (KeyError, TypeError) as exc:
            raise InvalidRequestError(
                f"the state file {str(self.state_path)!r} is damaged ({exc!r}): restore it, or "
                "delete it to start a new job",
                param="state_path",
            ) from None
        self.cancel_requested = bool(state.get("cancel_requested"))
        logger.info(
            "resuming batch job from %s: %d batch(es), %d created",
            self.state_path,
            len(self.chunks),
            sum(1 for c in self.chunks if c.batch_id),
        )

    def _save(self) -> None:
        if self.state_path is None:
            return
        _save_json(
            self.state_path,
            {
                "version": STATE_VERSION,
                "fingerprint": self.fingerprint,
                "endpoint": self.endpoint,
                "rows": len(self.custom_ids),
                "custom_ids": self.custom_ids,
                "cancel_requested": self.cancel_requested,
                "chunks": [c.as_dict() for c in self.chunks],
            },
        )

    # -- steps shared by both drivers

    def _file_bytes(self, chunk: _Chunk) -> bytes:
        return b"\n".join(self.lines[chunk.start : chunk.stop]) + b"\n"

    def _batch_metadata(self, number: int) -> dict[str, str]:
        meta = dict(self.metadata)
        if len(self.chunks) > 1:
            meta.setdefault("compactifai_part", f"{number + 1}/{len(self.chunks)}")
        return meta

    def _record(self, chunk: _Chunk, batch: Batch) -> bool:
        """Take a batch's latest state; True when something the state file keeps changed."""
        self.batches[batch.id] = batch
        counts = batch.request_counts
        chunk.done = (counts.completed + counts.failed) if counts is not None else chunk.done
        changed = (chunk.status, chunk.output_file_id, chunk.error_file_id) != (
            batch.status,
            batch.output_file_id,
            batch.error_file_id,
        )
        if changed and chunk.status != batch.status:
            logger.info("batch %s: %s", batch.id, batch.status)
        chunk.status = batch.status
        chunk.output_file_id = batch.output_file_id
        chunk.error_file_id = batch.error_file_id
        if batch.errors is not None and batch.errors.data:
            chunk.errors = [e.model_dump(exclude_none=True) for e in batch.errors.data]
        return changed

    def _adopt(self, chunk: _Chunk, batch: Batch) -> None:
        chunk.batch_id = batch.id
        chunk.creating_since = None
        self._record(chunk, batch)
        self._save()

    def _matches(self, chunk: _Chunk, batch: Batch) -> bool:
        return batch.input_file_id == chunk.input_file_id

    def _pending(self) -> list[_Chunk]:
        return [c for c in self.chunks if c.batch_id is not None and not c.terminal]

    def _done_rows(self) -> int:
        return sum(
            (c.stop - c.start) if c.terminal else min(c.done, c.stop - c.start) for c in self.chunks
        )

    def _progress_bar(self) -> Any:
        if not self.progress:
            return None
        try:
            from tqdm.auto import tqdm
        except ImportError:
            logger.info("progress=True but tqdm is not installed: no progress bar")
            return None
        return tqdm(total=len(self.custom_ids), desc="batch job", unit="req")

    def _show(self, bar: Any) -> None:
        if bar is not None:
            bar.n = self._done_rows()
            bar.refresh()

    def _next_wait(self, interval: float, started: float) -> float | None:
        """Seconds to sleep before the next poll, or None when the timeout has passed."""
        if self.timeout is None:
            return interval
        left = started + self.timeout - self._clock()
        if left <= 0:
            return None
        return min(interval, left)

    # -- results

    def _tally(self, result: BatchJobResult, config: Any) -> None:
        """Add the answered rows' usage to the client's ``usage_tally`` (once per row)."""
        tally = getattr(config, "usage_tally", None)
        if tally is None or self.endpoint == "/v1/responses":
            return
        for row in result.rows:
            if row.ok and row.index not in self._tallied:
                self._tallied.add(row.index)
                tally.record_answer(row.body)

    def _results(self, files: Mapping[str, bytes]) -> BatchJobResult:
        rows: list[BatchRowResult | None] = [None] * len(self.custom_ids)
        position = {cid: i for i, cid in enumerate(self.custom_ids)}
        for chunk in self.chunks:
            for file_id in (chunk.output_file_id, chunk.error_file_id):
                content = files.get(file_id) if file_id else None
                if content:
                    self._read_rows(content, chunk, position, rows)
        for chunk in self.chunks:
            for index in range(chunk.start, chunk.stop):
                if rows[index] is None:
                    rows[index] = self._unanswered(index, chunk)
        done = [row for row in rows if row is not None]
        assert len(done) == len(self.custom_ids)
        return BatchJobResult(
            rows=done,
            batches=[self._last_state(c) for c in self.chunks if c.batch_id is not None],
            usage=self._usage(done),
            state_path=self.state_path,
        )

    def _read_rows(
        self,
        content: bytes,
        chunk: _Chunk,
        position: Mapping[str, int],
        rows: list[BatchRowResult | None],
    ) -> None:
        for number, raw in enumerate(content.splitlines(), 1):
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
                cid = line["custom_id"]
            except (ValueError, KeyError, TypeError):
                logger.warning(
                    "batch %s: unreadable result line %d skipped: %r",
                    chunk.batch_id,
                    number,
                    raw[:200],
                )
                continue
            index = position.get(cid)
            if index is None or not chunk.start <= index < chunk.stop:
                logger.warning(
                    "batch %s: result for unknown custom_id %r skipped", chunk.batch_id, cid
                )
                continue
            found = rows[index]
            row = _row_from_line(index, cid, line, chunk.batch_id)
            if found is None or (not found.ok and row.ok):
                rows[index] = row

    def _unanswered(self, index: int, chunk: _Chunk) -> BatchRowResult:
        cid = self.custom_ids[index]
        status = chunk.status
        batch = chunk.batch_id
        error: BatchJobError
        if batch is None:
            if self.cancel_requested:
                error = BatchCancelledError(
                    "the job was cancelled before this row's batch was created", custom_id=cid
                )
            elif self.timed_out:
                error = BatchTimeoutError(
                    "the job timed out before this row's batch was created", custom_id=cid
                )
            else:
                error = BatchRowMissingError("this row's batch was never created", custom_id=cid)
        elif status == "expired":
            error = BatchExpiredError(
                f"batch {batch} expired (its 24h window ended) before this row ran",
                custom_id=cid,
                batch_id=batch,
                code="batch_expired",
            )
        elif status == "cancelled":
            error = BatchCancelledError(
                f"batch {batch} was cancelled before this row ran",
                custom_id=cid,
                batch_id=batch,
                code="batch_cancelled",
            )
        elif status == "failed":
            line = index - chunk.start + 1
            said = [e for e in chunk.errors if e.get("line") in (None, line)]
            detail = (
                "; ".join(
                    f"{e.get('code') or 'error'}: {e.get('message') or ''}"
                    + (f" (line {e['line']})" if e.get("line") else "")
                    for e in said
                )
                or "no reason given"
            )
            error = BatchFailedError(
                f"batch {batch} failed, so this row did not run: {detail}",
                custom_id=cid,
                batch_id=batch,
                code="batch_failed",
            )
        elif status == "completed":
            error = BatchRowMissingError(
                f"batch {batch} completed but its output and error files have no line for "
                f"custom_id {cid!r}",
                custom_id=cid,
                batch_id=batch,
            )
        else:
            how = "cancel was requested" if self.cancel_requested else "the job's timeout passed"
            error = BatchTimeoutError(
                f"batch {batch} was still {status or 'pending'} when {how}: run the job again "
                "with the same state_path to collect it, or cancel it",
                custom_id=cid,
                batch_id=batch,
            )
        return BatchRowResult(index, cid, error.outcome, None, error, batch)

    def _last_state(self, chunk: _Chunk) -> Batch:
        """The batch as last seen: polled in this process, else as the state file keeps it
        (a resumed job whose batches had ended: no request needed)."""
        assert chunk.batch_id is not None
        found = self.batches.get(chunk.batch_id)
        if found is not None:
            return found
        from .types_jobs import Batch

        return Batch(
            id=chunk.batch_id,
            status=chunk.status or "unknown",
            endpoint=self.endpoint,
            input_file_id=chunk.input_file_id,
            output_file_id=chunk.output_file_id,
            error_file_id=chunk.error_file_id,
        )

    def _usage(self, rows: Sequence[BatchRowResult]) -> JobUsage:
        by_model: dict[str, list[int]] = {}
        counted = 0
        for row in rows:
            body = row.body
            usage = body.get("usage") if isinstance(body, dict) else None
            if not isinstance(usage, dict):
                continue
            prompt = usage.get("prompt_tokens", usage.get("input_tokens"))
            completion = usage.get("completion_tokens", usage.get("output_tokens"))
            if not isinstance(prompt, int) or not isinstance(completion, int):
                continue
            counted += 1
            assert body is not None
            model = str(body.get("model") or "unknown")
            totals = by_model.setdefault(model, [0, 0])
            totals[0] += prompt
            totals[1] += completion
        prompt_total = sum(t[0] for t in by_model.values())
        completion_total = sum(t[1] for t in by_model.values())
        cost: float | None = None
        unpriced: list[str] = []
        if self.price_table is not None:
            for model, (p, c) in sorted(by_model.items()):
                priced = self.price_table.cost(model, p, c)
                if priced is None:
                    unpriced.append(model)
                else:
                    cost = (cost or 0.0) + priced
        return JobUsage(
            prompt_tokens=prompt_total,
            completion_tokens=completion_total,
            total_tokens=prompt_total + completion_total,
            rows_with_usage=counted,
            by_model={m: (t[0], t[1]) for m, t in by_model.items()},
            cost=cost,
            currency=getattr(self.price_table, "currency", None),
            unpriced_models=tuple(unpriced),
        )

    # -- attaching to existing batches

    def _attach(self, batch: Batch, input_file: bytes) -> None:
        """Add an existing batch: its rows are its input file's lines, in order."""
        start = len(self.custom_ids)
        for number, raw in enumerate(input_file.splitlines(), 1):
            if not raw.strip():
                continue
            try:
                cid = json.loads(raw)["custom_id"]
            except (ValueError, KeyError, TypeError):
                raise InvalidRequestError(
                    f"line {number} of batch {batch.id}'s input file has no custom_id",
                    param="batch_id",
                ) from None
            self.custom_ids.append(str(cid))
        chunk = _Chunk(
            start, len(self.custom_ids), input_file_id=batch.input_file_id, batch_id=batch.id
        )
        self._record(chunk, batch)
        self.chunks.append(chunk)


def _row_from_line(
    index: int, cid: str, line: Mapping[str, Any], batch_id: str | None
) -> BatchRowResult:
    response = line.get("response")
    error = line.get("error")
    if isinstance(response, dict):
        status = response.get("status_code")
        body = response.get("body")
        if isinstance(status, int) and status < 400 and isinstance(body, dict) and not error:
            return BatchRowResult(index, cid, "succeeded", body, None, batch_id)
        if isinstance(status, int) and status >= 400:
            content = json.dumps(body).encode() if not isinstance(body, str) else body.encode()
            err: CompactifAIError = error_from_response(status, content, response.get("request_id"))
            return BatchRowResult(index, cid, "failed", None, err, batch_id)
    code = error.get("code") if isinstance(error, dict) else None
    message = (error.get("message") if isinstance(error, dict) else None) or (
        "the service returned no answer for this row"
    )
    outcome = _ROW_CODES.get(str(code), "failed")
    kind = {"expired": BatchExpiredError, "cancelled": BatchCancelledError}.get(
        outcome, BatchRowError
    )
    err = kind(
        f"{code or 'error'}: {message}",
        custom_id=cid,
        batch_id=batch_id,
        code=None if code is None else str(code),
    )
    return BatchRowResult(index, cid, outcome, None, err, batch_id)


# ---------------------------------------------------------------- sync


class BatchJob(_JobCore):
    """A provider-side batch job on a :class:`compactifai.CompactifAIClient` (see the module).

    ``run()`` does it all; ``submit()``, ``wait()`` and ``collect()`` are its steps, and
    ``cancel()`` (from another thread, or after ``submit``) cancels every running batch.

    Example:
        >>> from compactifai import CompactifAIClient
        >>> from compactifai.batch_jobs import BatchJob, chat_request
        >>> job = BatchJob(CompactifAIClient(), [chat_request("m", [  # doctest: +SKIP
        ...     {"role": "user", "content": "Hi"}])], state_path="job.json")
        >>> job.submit()  # doctest: +SKIP
        ['batch_abc']
        >>> result = job.run()  # polls, downloads, returns rows in input order  # doctest: +SKIP
    """

    def __init__(
        self,
        client: CompactifAIClient,
        requests: Sequence[Mapping[str, Any]] | None,
        *,
        endpoint: str = "/v1/chat/completions",
        custom_ids: Sequence[str] | None = None,
        state_path: str | os.PathLike[str] | None = None,
        max_requests_per_batch: int = DEFAULT_MAX_REQUESTS_PER_BATCH,
        max_bytes_per_file: int = DEFAULT_MAX_BYTES_PER_FILE,
        poll_interval: float = 5.0,
        max_poll_interval: float = 60.0,
        timeout: float | None = None,
        cancel_on_timeout: bool = False,
        progress: bool = False,
        metadata: Mapping[str, str] | None = None,
        price_table: PriceTableLike | None = None,
    ) -> None:
        super().__init__(
            requests,
            endpoint=endpoint,
            custom_ids=custom_ids,
            state_path=state_path,
            max_requests_per_batch=max_requests_per_batch,
            max_bytes_per_file=max_bytes_per_file,
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
            timeout=timeout,
            cancel_on_timeout=cancel_on_timeout,
            progress=progress,
            metadata=metadata,
            price_table=price_table,
        )
        self.client = client
        self._sleep: Callable[[float], None] = time.sleep

    def submit(self) -> list[str]:
        """Upload and create what is not yet created; the batch ids (none twice, ever)."""
        for number, chunk in enumerate(self.chunks):
            if chunk.batch_id is not None or self.cancel_requested:
                continue
            if chunk.input_file_id is None:
                uploaded = self.client.upload_file(
                    self._file_bytes(chunk),
                    purpose="batch",
                    filename=f"batch-{self.fingerprint[:12]}-{number + 1}.jsonl",
                )
                chunk.input_file_id = uploaded.id
                self._save()
            if chunk.creating_since is not None:
                found = self._reconcile(chunk)
                if found is not None:
                    self._adopt(chunk, found)
                    continue
            chunk.creating_since = time.time()
            self._save()
            assert chunk.input_file_id is not None
            batch = self.client.create_batch(
                input_file_id=chunk.input_file_id,
                endpoint=self.endpoint,
                metadata=self._batch_metadata(number) or None,
            )
            self._adopt(chunk, batch)
        return [c.batch_id for c in self.chunks if c.batch_id is not None]

    def _reconcile(self, chunk: _Chunk) -> Batch | None:
        """A batch created for this chunk's file whose id was not saved (a crash), if any."""
        for seen, batch in enumerate(self.client.iter_batches()):
            if self._matches(chunk, batch):
                logger.info(
                    "batch %s found for file %s: adopted, not created again",
                    batch.id,
                    chunk.input_file_id,
                )
                return batch
            if seen >= _RECONCILE_LIMIT:
                break
        return None

    def wait(self) -> bool:
        """Poll until every batch has ended (True) or the timeout passed (False)."""
        started = self._clock()
        interval = self.poll_interval
        bar = self._progress_bar()
        try:
            while True:
                changed = False
                for chunk in self._pending():
                    assert chunk.batch_id is not None
                    changed |= self._record(chunk, self.client.retrieve_batch(chunk.batch_id))
                if changed:
                    self._save()
                self._show(bar)
                if not self._pending():
                    return True
                wait = self._next_wait(interval, started)
                if wait is None:
                    self.timed_out = True
                    logger.warning("batch job: timeout after %.0fs", self.timeout or 0)
                    if self.cancel_on_timeout:
                        self.cancel()
                    return False
                self._sleep(wait)
                interval = min(interval * 1.5, self.max_poll_interval)
        finally:
            if bar is not None:
                bar.close()

    def cancel(self) -> None:
        """Cancel every batch still running and create no more (rows say ``cancelled``)."""
        self.cancel_requested = True
        self._save()
        for chunk in self._pending():
            assert chunk.batch_id is not None
            self._record(chunk, self.client.cancel_batch(chunk.batch_id))
        self._save()

    def collect(self) -> BatchJobResult:
        """Download the ended batches' files and build every row's result, in input order."""
        files: dict[str, bytes] = {}
        for chunk in self.chunks:
            for file_id in (chunk.output_file_id, chunk.error_file_id):
                if file_id and chunk.terminal and file_id not in files:
                    files[file_id] = self.client.file_content(file_id)
        result = self._results(files)
        self._tally(result, self.client.config)
        return result

    def run(self) -> BatchJobResult:
        """``submit()``, ``wait()`` and ``collect()``."""
        self.submit()
        self.wait()
        return self.collect()

    @classmethod
    def attach(cls, client: CompactifAIClient, batch_ids: Sequence[str], **options: Any) -> Self:
        """A job over batches created elsewhere: rows follow each input file's line order."""
        job = cls(client, None, **options)
        for batch_id in batch_ids:
            batch = client.retrieve_batch(batch_id)
            if batch.input_file_id is None:
                raise InvalidRequestError(f"batch {batch_id} names no input file", param="batch_id")
            job._attach(batch, client.file_content(batch.input_file_id))
        return job


def run_batch_job(
    client: CompactifAIClient, requests: Sequence[Mapping[str, Any]], **options: Any
) -> BatchJobResult:
    """Run ``requests`` as a provider-side batch job: ``BatchJob(client, requests, **options).run()``."""
    return BatchJob(client, requests, **options).run()


def collect_batches(
    client: CompactifAIClient, batch_ids: Sequence[str], **options: Any
) -> BatchJobResult:
    """Wait for batches created elsewhere and return their rows in input-file order."""
    job = BatchJob.attach(client, batch_ids, **options)
    job.wait()
    return job.collect()


# ---------------------------------------------------------------- async


class AsyncBatchJob(_JobCore):
    """The async twin of :class:`BatchJob`, on an :class:`compactifai.AsyncCompactifAIClient`.

    Example:
        >>> async def main(client, requests):
        ...     job = AsyncBatchJob(client, requests, state_path="job.json")
        ...     return await job.run()
    """

    def __init__(
        self,
        client: AsyncCompactifAIClient,
        requests: Sequence[Mapping[str, Any]] | None,
        *,
        endpoint: str = "/v1/chat/completions",
        custom_ids: Sequence[str] | None = None,
        state_path: str | os.PathLike[str] | None = None,
        max_requests_per_batch: int = DEFAULT_MAX_REQUESTS_PER_BATCH,
        max_bytes_per_file: int = DEFAULT_MAX_BYTES_PER_FILE,
        poll_interval: float = 5.0,
        max_poll_interval: float = 60.0,
        timeout: float | None = None,
        cancel_on_timeout: bool = False,
        progress: bool = False,
        metadata: Mapping[str, str] | None = None,
        price_table: PriceTableLike | None = None,
    ) -> None:
        super().__init__(
            requests,
            endpoint=endpoint,
            custom_ids=custom_ids,
            state_path=state_path,
            max_requests_per_batch=max_requests_per_batch,
            max_bytes_per_file=max_bytes_per_file,
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
            timeout=timeout,
            cancel_on_timeout=cancel_on_timeout,
            progress=progress,
            metadata=metadata,
            price_table=price_table,
        )
        self.client = client
        self._sleep: Callable[[float], Any] = asyncio.sleep

    async def submit(self) -> list[str]:
        """Upload and create what is not yet created; the batch ids (none twice, ever)."""
        for number, chunk in enumerate(self.chunks):
            if chunk.batch_id is not None or self.cancel_requested:
                continue
            if chunk.input_file_id is None:
                uploaded = await self.client.upload_file(
                    self._file_bytes(chunk),
                    purpose="batch",
                    filename=f"batch-{self.fingerprint[:12]}-{number + 1}.jsonl",
                )
                chunk.input_file_id = uploaded.id
                self._save()
            if chunk.creating_since is not None:
                found = await self._reconcile(chunk)
                if found is not None:
                    self._adopt(chunk, found)
                    continue
            chunk.creating_since = time.time()
            self._save()
            assert chunk.input_file_id is not None
            batch = await self.client.create_batch(
                input_file_id=chunk.input_file_id,
                endpoint=self.endpoint,
                metadata=self._batch_metadata(number) or None,
            )
            self._adopt(chunk, batch)
        return [c.batch_id for c in self.chunks if c.batch_id is not None]

    async def _reconcile(self, chunk: _Chunk) -> Batch | None:
        seen = 0
        async for batch in self.client.iter_batches():
            if self._matches(chunk, batch):
                logger.info(
                    "batch %s found for file %s: adopted, not created again",
                    batch.id,
                    chunk.input_file_id,
                )
                return batch
            seen += 1
            if seen > _RECONCILE_LIMIT:
                break
        return None

    async def wait(self) -> bool:
        """Poll until every batch has ended (True) or the timeout passed (False)."""
        started = self._clock()
        interval = self.poll_interval
        bar = self._progress_bar()
        try:
            while True:
                changed = False
                for chunk in self._pending():
                    assert chunk.batch_id is not None
                    batch = await self.client.retrieve_batch(chunk.batch_id)
                    changed |= self._record(chunk, batch)
                if changed:
                    self._save()
                self._show(bar)
                if not self._pending():
                    return True
                wait = self._next_wait(interval, started)
                if wait is None:
                    self.timed_out = True
                    logger.warning("batch job: timeout after %.0fs", self.timeout or 0)
                    if self.cancel_on_timeout:
                        await self.cancel()
                    return False
                await self._sleep(wait)
                interval = min(interval * 1.5, self.max_poll_interval)
        finally:
            if bar is not None:
                bar.close()

    async def cancel(self) -> None:
        """Cancel every batch still running and create no more (rows say ``cancelled``)."""
        self.cancel_requested = True
        self._save()
        for chunk in self._pending():
            assert chunk.batch_id is not None
            self._record(chunk, await self.client.cancel_batch(chunk.batch_id))
        self._save()

    async def collect(self) -> BatchJobResult:
        """Download the ended batches' files and build every row's result, in input order."""
        files: dict[str, bytes] = {}
        for chunk in self.chunks:
            for file_id in (chunk.output_file_id, chunk.error_file_id):
                if file_id and chunk.terminal and file_id not in files:
                    files[file_id] = await self.client.file_content(file_id)
        result = self._results(files)
        self._tally(result, self.client.config)
        return result

    async def run(self) -> BatchJobResult:
        """``submit()``, ``wait()`` and ``collect()``."""
        await self.submit()
        await self.wait()
        return await self.collect()

    @classmethod
    async def attach(
        cls, client: AsyncCompactifAIClient, batch_ids: Sequence[str], **options: Any
    ) -> Self:
        """A job over batches created elsewhere: rows follow each input file's line order."""
        job = cls(client, None, **options)
        for batch_id in batch_ids:
            batch = await client.retrieve_batch(batch_id)
            if batch.input_file_id is None:
                raise InvalidRequestError(f"batch {batch_id} names no input file", param="batch_id")
            job._attach(batch, await client.file_content(batch.input_file_id))
        return job


async def arun_batch_job(
    client: AsyncCompactifAIClient, requests: Sequence[Mapping[str, Any]], **options: Any
) -> BatchJobResult:
    """The async :func:`run_batch_job`."""
    return await AsyncBatchJob(client, requests, **options).run()


async def acollect_batches(
    client: AsyncCompactifAIClient, batch_ids: Sequence[str], **options: Any
) -> BatchJobResult:
    """The async :func:`collect_batches`."""
    job = await AsyncBatchJob.attach(client, batch_ids, **options)
    await job.wait()
    return await job.collect()


# ---------------------------------------------------------------- for the framework faces
# What LangChain's and LlamaIndex's ``batch_create`` / ``batch_retrieve`` / ``run_batch_job``
# share, so each face only turns its inputs into request bodies and answers into its types.

#: ``batch_retrieve`` waits at most this many seconds between two polls (unless asked for more).
_RETRIEVE_MAX_POLL_INTERVAL = 60.0


def failed_rows(results: Sequence[Any]) -> dict[int, BaseException]:
    """The rows of ``results`` that are exceptions, by index (answers are left out).

    Example:
        >>> failed_rows(["answer", BatchExpiredError("row request-1 expired"), "answer"])
        {1: BatchExpiredError('row request-1 expired')}
    """
    return {i: r for i, r in enumerate(results) if isinstance(r, BaseException)}


def results_or_raise(results: list[Any], return_exceptions: bool) -> list[Any]:
    """``results`` as they are, or, unless ``return_exceptions``, a raised
    :class:`BatchIncompleteError` carrying them all when any row is an exception.

    Example:
        >>> results_or_raise(["a", "b"], return_exceptions=False)
        ['a', 'b']
        >>> rows = ["a", BatchExpiredError("row request-1 expired")]
        >>> results_or_raise(rows, return_exceptions=True) is rows
        True
        >>> results_or_raise(rows, return_exceptions=False)
        Traceback (most recent call last):
        ...
        compactifai.batch_jobs.BatchIncompleteError: 1 of 2 batch rows did not succeed (1 expired)...
    """
    if not return_exceptions:
        errors = failed_rows(results)
        if errors:
            raise incomplete_error(results, errors)
    return results


def chat_answers(
    job: BatchJobResult,
    convert: Callable[[ChatCompletion], _AnswerT],
    wrap_error: Callable[[CompactifAIError], BaseException] | None = None,
) -> list[_AnswerT | BaseException]:
    """One entry per row of a chat job, in order: ``convert`` of its parsed answer, or the
    error saying why it has none (an answer that is not a chat completion included), passed
    through ``wrap_error`` when given.

    Example:
        >>> job = BatchJobResult(rows=[
        ...     BatchRowResult(0, "request-0", "succeeded",
        ...                    {"choices": [{"message": {"role": "assistant", "content": "Hi"}}]}),
        ...     BatchRowResult(1, "request-1", "expired",
        ...                    error=BatchExpiredError("row request-1 expired")),
        ... ])
        >>> chat_answers(job, lambda completion: completion.choices[0].message.content)
        ['Hi', BatchExpiredError('row request-1 expired')]
    """
    from ._client import _parse
    from .types import ChatCompletion

    def wrapped(err: CompactifAIError) -> BaseException:
        return err if wrap_error is None else wrap_error(err)

    out: list[_AnswerT | BaseException] = []
    for row in job.rows:
        if row.ok and row.body is not None:
            try:
                out.append(convert(_parse(ChatCompletion, row.body)))
            except CompactifAIError as err:  # an answer that is not a chat completion
                out.append(wrapped(err))
        else:
            assert row.error is not None
            out.append(wrapped(row.error))
    return out


def _refuse_bad_batch_inputs(inputs: Any, request_params: Mapping[str, Any], kinds: str) -> None:
    """A face's ``batch_create(messages_list, **request_params)`` needs a non-empty list of
    inputs (``kinds`` says which), and no ``poll_interval`` among the request's parameters."""
    if "poll_interval" in request_params:  # langchain-openai's batch_create took it (unused)
        raise InvalidRequestError(
            "poll_interval is an argument of batch_retrieve, not of a request",
            param="poll_interval",
        )
    if isinstance(inputs, (str, bytes)) or not inputs:
        raise InvalidRequestError(
            f"messages_list must be a non-empty list of {kinds}, one per request",
            param="messages_list",
        )


def _metadata_with_description(
    description: str | None, metadata: Mapping[str, str] | None
) -> dict[str, str] | None:
    """``metadata`` with ``description`` in it (None when both are empty)."""
    meta = dict(metadata or {})
    if description is not None:
        meta["description"] = description
    return meta or None


def _refuse_several_batches(job: _JobCore) -> None:
    """``batch_create`` makes ONE batch: requests too many or too large for it are refused."""
    if len(job.chunks) > 1:
        raise InvalidRequestError(
            f"{len(job.custom_ids)} requests do not fit one batch (at most "
            f"{DEFAULT_MAX_REQUESTS_PER_BATCH} requests and {DEFAULT_MAX_BYTES_PER_FILE} "
            "bytes): use run_batch_job(), which splits them over several batches",
            param="messages_list",
        )


def _create_one_batch(
    client: CompactifAIClient,
    requests: Sequence[Mapping[str, Any]],
    description: str | None,
    metadata: Mapping[str, str] | None,
) -> str:
    """Upload ``requests`` and create one batch of them (``description`` in its metadata); its id."""
    job = BatchJob(client, requests, metadata=_metadata_with_description(description, metadata))
    _refuse_several_batches(job)
    (batch_id,) = job.submit()
    return batch_id


async def _acreate_one_batch(
    client: AsyncCompactifAIClient,
    requests: Sequence[Mapping[str, Any]],
    description: str | None,
    metadata: Mapping[str, str] | None,
) -> str:
    """The async :func:`_create_one_batch`."""
    job = AsyncBatchJob(
        client, requests, metadata=_metadata_with_description(description, metadata)
    )
    _refuse_several_batches(job)
    (batch_id,) = await job.submit()
    return batch_id


def _retrieve_one_batch(
    client: CompactifAIClient, batch_id: str, poll_interval: float, timeout: float | None
) -> BatchJobResult:
    """Wait for batch ``batch_id`` (polls slowing from ``poll_interval``); its rows."""
    return collect_batches(
        client,
        [batch_id],
        poll_interval=poll_interval,
        max_poll_interval=max(poll_interval, _RETRIEVE_MAX_POLL_INTERVAL),
        timeout=timeout,
    )


async def _aretrieve_one_batch(
    client: AsyncCompactifAIClient, batch_id: str, poll_interval: float, timeout: float | None
) -> BatchJobResult:
    """The async :func:`_retrieve_one_batch`."""
    return await acollect_batches(
        client,
        [batch_id],
        poll_interval=poll_interval,
        max_poll_interval=max(poll_interval, _RETRIEVE_MAX_POLL_INTERVAL),
        timeout=timeout,
    )
