"""The background worker of ``/v1/batches``: each line through the server's own routes.

A batch moves ``validating -> in_progress -> finalizing -> completed``; or ``failed`` (its
input file is not valid), ``cancelling -> cancelled``, or ``expired`` (the 24 h window passed).

- **validating**: the input file is read line by line (a JSON object with a unique
  ``custom_id``, ``method`` ``POST``, ``url`` equal to the batch's endpoint and an object
  ``body`` that does not ask to stream); every problem is listed in ``errors`` with its line.
- **in_progress**: the lines run one at a time, in input order, through the handler that serves
  the endpoint over HTTP (:class:`~compactifai.local.dispatch.InProcessCall`), as the batch's
  owner: same validation, errors, engine queue and usage records as a direct request. The
  model runs one generation at a time anyway, so an interactive request waits for at most one
  batch line. Each answer is stored with the batch's counts and usage in one transaction.
- **finalizing**: the output file (2xx answers) and error file (other answers, and lines that
  never ran) are written in OpenAI's row shape, in input order.

A cancel interrupts the line being generated (it is told its client left) and the batch ends
``cancelled`` with what had finished. Everything lives in the SQLite file of usage, so a
restarted server picks up its open batches where they stopped (a line that was mid-way when the
server died runs again).

Example:
    >>> rows = parse_input(b'{"custom_id": "a", "method": "POST", "url": "/v1/completions",'
    ...                    b' "body": {"model": "m", "prompt": "Hi"}}\\n', "/v1/completions")
    >>> [(r.line, r.custom_id) for r in rows.lines], rows.errors
    ([(1, 'a')], [])
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from .batch_store import BatchLine, JobStore, joined_lines
from .dispatch import ASGIApp, InProcessCall

__all__ = [
    "BATCH_ENDPOINTS",
    "COMPLETION_WINDOW_SECONDS",
    "MAX_BATCH_REQUESTS",
    "BatchWorker",
    "ParsedInput",
    "new_batch",
    "parse_input",
]

log = logging.getLogger("compactifai.local")

#: The endpoints whose requests a batch may hold (the service has no embeddings route).
BATCH_ENDPOINTS = ("/v1/chat/completions", "/v1/completions", "/v1/responses")
#: The only completion window the service offers ("24h").
COMPLETION_WINDOW_SECONDS = 24 * 3600
#: The most requests one batch may hold (OpenAI's limit).
MAX_BATCH_REQUESTS = 50_000
#: At most this many validation problems are listed.
MAX_LISTED_ERRORS = 100


def new_batch(
    input_file_id: str,
    endpoint: str,
    metadata: dict[str, str] | None,
    now: int | None = None,
) -> dict[str, Any]:
    """A new batch object (status ``validating``)."""
    created = int(time.time()) if now is None else now
    return {
        "id": "batch_" + uuid.uuid4().hex[:24],
        "object": "batch",
        "endpoint": endpoint,
        "errors": None,
        "input_file_id": input_file_id,
        "completion_window": "24h",
        "status": "validating",
        "output_file_id": None,
        "error_file_id": None,
        "created_at": created,
        "in_progress_at": None,
        "expires_at": created + COMPLETION_WINDOW_SECONDS,
        "finalizing_at": None,
        "completed_at": None,
        "failed_at": None,
        "expired_at": None,
        "cancelling_at": None,
        "cancelled_at": None,
        "request_counts": {"total": 0, "completed": 0, "failed": 0},
        "usage": {
            "input_tokens": 0,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 0,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 0,
        },
        "metadata": metadata,
        "model": None,
    }


@dataclass
class ParsedInput:
    """The requests of an input file, or the problems that make it unusable."""

    lines: list[BatchLine] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    model: str | None = None


def parse_input(content: bytes, endpoint: str) -> ParsedInput:
    """Check a batch input file (JSONL) against the batch's endpoint."""
    out = ParsedInput()
    seen: set[str] = set()

    def problem(line: int | None, code: str, message: str, param: str | None = None) -> None:
        if len(out.errors) < MAX_LISTED_ERRORS:
            out.errors.append({"code": code, "message": message, "param": param, "line": line})

    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problem(None, "invalid_file", f"the input file is not UTF-8 text: {exc}")
        return out
    count = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        count += 1
        try:
            item = json.loads(raw)
        except ValueError as exc:
            problem(number, "invalid_json_line", f"line {number} is not valid JSON: {exc}")
            continue
        if not isinstance(item, dict):
            problem(number, "invalid_json_line", f"line {number} is not a JSON object")
            continue
        custom_id = item.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id:
            problem(number, "missing_custom_id", "every line needs a string custom_id", "custom_id")
            continue
        if custom_id in seen:
            problem(
                number, "duplicate_custom_id", f"custom_id {custom_id!r} is used twice", "custom_id"
            )
            continue
        seen.add(custom_id)
        if item.get("method") != "POST":
            problem(number, "invalid_method", "method must be 'POST'", "method")
            continue
        if item.get("url") != endpoint:
            problem(
                number,
                "mismatched_endpoint",
                f"url {item.get('url')!r} differs from the batch's endpoint {endpoint!r}",
                "url",
            )
            continue
        body = item.get("body")
        if not isinstance(body, dict):
            problem(number, "invalid_body", "body must be a JSON object", "body")
            continue
        if body.get("stream"):
            problem(number, "invalid_body", "a batch request cannot stream", "body.stream")
            continue
        if out.model is None and isinstance(body.get("model"), str):
            out.model = body["model"]
        out.lines.append(BatchLine(number, custom_id, endpoint, body))
    if count == 0:
        problem(None, "empty_file", "the input file holds no requests")
    elif count > MAX_BATCH_REQUESTS:
        problem(
            None,
            "too_many_requests",
            f"the input file holds {count} requests; a batch takes at most "
            f"{MAX_BATCH_REQUESTS} (split it into several batches)",
        )
    return out


def _row_id() -> str:
    return "batch_req_" + uuid.uuid4().hex[:24]


def _tokens(body: Any) -> tuple[int, int] | None:
    """Input and output tokens of an answer's ``usage`` (chat, completions or responses)."""
    usage = body.get("usage") if isinstance(body, dict) else None
    if not isinstance(usage, dict):
        return None
    n_in = usage.get("prompt_tokens", usage.get("input_tokens"))
    n_out = usage.get("completion_tokens", usage.get("output_tokens"))
    if isinstance(n_in, int) and isinstance(n_out, int):
        return n_in, n_out
    return None


class _Interrupted(Exception):
    """The line was stopped by a cancel; its answer is not kept."""


class BatchWorker:
    """Runs open batches on the server's event loop, one line at a time.

    ``start()`` (the app's startup, or the first new batch) resumes whatever a previous run left
    open; ``notify()`` says there is new work; ``interrupt(batch_id)`` stops the line in flight.
    """

    def __init__(self, store: JobStore, app: ASGIApp) -> None:
        self.store = store
        self.app = app
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._current: tuple[str, asyncio.Event] | None = None

    # ------------------------------------------------------------ control

    def start(self) -> None:
        """Start the worker on the running event loop (no-op when it runs)."""
        if self._task is not None and not self._task.done():
            return
        self._wake = asyncio.Event()
        self._wake.set()
        self._task = asyncio.ensure_future(self._run())

    def notify(self) -> None:
        """New work: a batch was created or cancelled."""
        self.start()
        assert self._wake is not None
        self._wake.set()

    def interrupt(self, batch_id: str) -> None:
        """Stop the line of ``batch_id`` being generated, if any."""
        current = self._current
        if current is not None and current[0] == batch_id:
            current[1].set()

    async def stop(self) -> None:
        """Stop the worker; open batches stay open and resume at the next start."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def running(self) -> bool:
        """Whether the worker task is alive."""
        return self._task is not None and not self._task.done()

    # ------------------------------------------------------------ the loop

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            self._wake.clear()
            ids = self.store.open_batch_ids()
            if not ids:
                await self._wake.wait()
                continue
            try:
                await self._advance(ids[0])
            except asyncio.CancelledError:
                raise
            except Exception:  # never let one batch stop the worker
                log.exception("batch %s: worker failure", ids[0])
                self._fail(ids[0], "server_error", "the local server failed to run this batch")

    def _fail(self, batch_id: str, code: str, message: str) -> None:
        now = int(time.time())
        self.store.update_batch(
            batch_id,
            {
                "status": "failed",
                "failed_at": now,
                "errors": {
                    "object": "list",
                    "data": [{"code": code, "message": message, "param": None, "line": None}],
                },
            },
        )

    async def _advance(self, batch_id: str) -> None:
        doc = self.store.batch(None, batch_id)
        if doc is None:
            return
        status = doc["status"]
        if status == "validating":
            await self._validate(doc)
        elif status == "in_progress":
            await self._run_lines(doc)
        elif status == "cancelling":
            await self._finalize(batch_id, "cancelled")
        elif status == "finalizing":
            await self._finalize(batch_id, "completed")

    async def _validate(self, doc: dict[str, Any]) -> None:
        batch_id = doc["id"]
        owner = self.store.batch_owner(batch_id) or ""
        content = self.store.file_content(owner, doc["input_file_id"])
        if content is None:
            self._fail(batch_id, "file_not_found", f"input file {doc['input_file_id']} is gone")
            return
        parsed = await asyncio.to_thread(parse_input, content, doc["endpoint"])
        if parsed.errors:
            self.store.update_batch(
                batch_id,
                {
                    "status": "failed",
                    "failed_at": int(time.time()),
                    "errors": {"object": "list", "data": parsed.errors},
                },
                only_if=("validating",),
            )
            return
        await asyncio.to_thread(self.store.add_lines, batch_id, parsed.lines)
        total = len(parsed.lines)
        self.store.update_batch(
            batch_id,
            {
                "status": "in_progress",
                "in_progress_at": int(time.time()),
                "model": parsed.model,
                "request_counts": {"total": total, "completed": 0, "failed": 0},
            },
            only_if=("validating",),
        )

    async def _run_lines(self, doc: dict[str, Any]) -> None:
        batch_id = doc["id"]
        owner = self.store.batch_owner(batch_id) or ""
        expires_at = int(doc.get("expires_at") or 0)
        while True:
            pending = self.store.pending_lines(batch_id)
            if not pending:
                break
            for line in pending:
                current = self.store.batch(None, batch_id)
                if current is None or current["status"] != "in_progress":
                    return  # cancelled (the loop finalizes it next)
                if expires_at and time.time() >= expires_at:
                    await self._finalize(batch_id, "expired")
                    return
                await self._finish_cancelled_others(batch_id)
                try:
                    ok, row = await self._run_line(owner, batch_id, line)
                except _Interrupted:
                    return
                self.store.finish_line(batch_id, line.line, ok, row, _tokens(_body(row)))
        moved = self.store.update_batch(
            batch_id,
            {"status": "finalizing", "finalizing_at": int(time.time())},
            only_if=("in_progress",),
        )
        if moved is not None:
            await self._finalize(batch_id, "completed")

    async def _finish_cancelled_others(self, batch_id: str) -> None:
        """Batches cancelled while another runs end at once instead of waiting their turn."""
        for other in self.store.open_batch_ids():
            doc = self.store.batch(None, other)
            if other != batch_id and doc is not None and doc["status"] == "cancelling":
                await self._finalize(other, "cancelled")

    async def _run_line(
        self, owner: str, batch_id: str, line: BatchLine
    ) -> tuple[bool, dict[str, Any]]:
        disconnect = asyncio.Event()
        self._current = (batch_id, disconnect)
        body = json.dumps(line.body).encode("utf-8")
        call = InProcessCall(self.app, "POST", line.url, body, user_id=owner, disconnect=disconnect)
        try:
            try:
                status, _ = await call.start()
                raw = await call.read()
            except Exception as exc:  # the handler died without an answer
                log.exception("batch %s line %d", batch_id, line.line, exc_info=exc)
                status = 500
                raw = json.dumps(
                    {
                        "error": {
                            "message": f"the local server failed: {exc}",
                            "type": "server_error",
                            "code": "internal_error",
                            "param": None,
                        }
                    }
                ).encode()
            interrupted = disconnect.is_set()
        finally:
            self._current = None
            await call.close()
        if interrupted:
            raise _Interrupted
        try:
            answer: Any = json.loads(raw) if raw else None
        except ValueError:
            answer = raw.decode("utf-8", "replace")
        row = {
            "id": _row_id(),
            "custom_id": line.custom_id,
            "response": {"status_code": status, "request_id": call.request_id, "body": answer},
            "error": None,
        }
        return 200 <= status < 300, row

    async def _finalize(self, batch_id: str, outcome: str) -> None:
        """Write the output and error files; end the batch as ``outcome``."""
        doc = self.store.batch(None, batch_id)
        if doc is None:
            return
        owner = self.store.batch_owner(batch_id) or ""
        results = await asyncio.to_thread(self.store.line_results, batch_id)
        reason = {
            "cancelled": ("batch_cancelled", "the batch was cancelled before this request ran"),
            "expired": ("batch_expired", "the 24h completion window ended before this request ran"),
        }.get(outcome, ("batch_failed", "this request did not run"))
        good: list[str] = []
        bad: list[str] = []
        for _, custom_id, ok, result in results:
            if result is None:
                row = {
                    "id": _row_id(),
                    "custom_id": custom_id,
                    "response": None,
                    "error": {"code": reason[0], "message": reason[1]},
                }
                bad.append(json.dumps(row, ensure_ascii=False, separators=(",", ":")))
            elif ok:
                good.append(result)
            else:
                bad.append(result)
        stem = batch_id.removeprefix("batch_")
        output_id = error_id = None
        if good:
            output_id = f"file-{stem}-output"
            self.store.add_file(
                owner, f"{batch_id}_output.jsonl", "batch_output", joined_lines(good), output_id
            )
        if bad:
            error_id = f"file-{stem}-errors"
            self.store.add_file(
                owner, f"{batch_id}_error.jsonl", "batch_output", joined_lines(bad), error_id
            )
        now = int(time.time())
        changes: dict[str, Any] = {
            "status": outcome,
            f"{outcome}_at": now,
            "output_file_id": output_id,
            "error_file_id": error_id,
            "request_counts": {"total": len(results), "completed": len(good), "failed": len(bad)},
        }
        self.store.update_batch(batch_id, changes)


def _body(row: dict[str, Any]) -> Any:
    response = row.get("response")
    return response.get("body") if isinstance(response, dict) else None
