"""Files, batches and stored responses, kept in the same SQLite file as usage.

Everything ``/v1/files``, ``/v1/batches`` and ``/v1/responses`` keep lives here, so a
restarted server finds its files, its batches (and how far each got, line by line) and its
stored responses where it left them. Rows are scoped by the caller's user id: a key never sees
another key's objects.

Example:
    >>> store = JobStore(":memory:")
    >>> f = store.add_file("local-1", "in.jsonl", "batch", b'{"a": 1}\\n')
    >>> f["object"], f["bytes"], store.file_content("local-1", f["id"])
    ('file', 9, b'{"a": 1}\\n')
    >>> store.file("local-2", f["id"]) is None  # another key's file is not found
    True
    >>> store.close()
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ._sqlite import SQLiteStore

__all__ = ["OPEN_BATCH_STATUSES", "BatchLine", "JobStore"]

#: Statuses in which the worker still has something to do.
OPEN_BATCH_STATUSES = ("validating", "in_progress", "finalizing", "cancelling")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    filename TEXT NOT NULL,
    purpose TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    content BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS batches (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    owner TEXT NOT NULL,
    status TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS batches_owner ON batches (owner, seq);
CREATE TABLE IF NOT EXISTS batch_lines (
    batch_id TEXT NOT NULL,
    line INTEGER NOT NULL,
    custom_id TEXT NOT NULL,
    request TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    ok INTEGER,
    result TEXT,
    PRIMARY KEY (batch_id, line)
);
CREATE TABLE IF NOT EXISTS responses (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    doc TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class BatchLine:
    """One request of a batch: its 1-based line in the input file, custom id and body."""

    line: int
    custom_id: str
    url: str
    body: dict[str, Any]


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


class JobStore(SQLiteStore):
    """SQLite tables of files, batches (with their lines) and stored responses; thread safe."""

    SCHEMA = _SCHEMA

    # ------------------------------------------------------------ files

    def add_file(
        self, owner: str, filename: str, purpose: str, content: bytes, file_id: str | None = None
    ) -> dict[str, Any]:
        """Keep ``content``; returns its FileObject."""
        fid = file_id or "file-" + uuid.uuid4().hex[:24]
        now = int(time.time())
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO files (id, owner, created_at, filename, purpose, bytes, content) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (fid, owner, now, filename, purpose, len(content), content),
            )
        return _file_object(fid, now, filename, purpose, len(content))

    def file(self, owner: str, file_id: str) -> dict[str, Any] | None:
        """The FileObject of one of ``owner``'s files, or ``None``."""
        with self._lock:
            row = self._conn.execute(
                "SELECT id, created_at, filename, purpose, bytes FROM files "
                "WHERE id = ? AND owner = ?",
                (file_id, owner),
            ).fetchone()
        return None if row is None else _file_object(*row)

    def file_content(self, owner: str, file_id: str) -> bytes | None:
        """The bytes of one of ``owner``'s files, or ``None``."""
        with self._lock:
            row = self._conn.execute(
                "SELECT content FROM files WHERE id = ? AND owner = ?", (file_id, owner)
            ).fetchone()
        return None if row is None else bytes(row[0])

    def count_files(self, owner: str, purpose: str | None = None) -> int:
        """How many files ``owner`` has (of one purpose)."""
        sql = "SELECT COUNT(*) FROM files WHERE owner = ?"
        params: list[Any] = [owner]
        if purpose is not None:
            sql += " AND purpose = ?"
            params.append(purpose)
        with self._lock:
            return int(self._conn.execute(sql, params).fetchone()[0])

    # ------------------------------------------------------------ batches

    def add_batch(self, owner: str, doc: dict[str, Any]) -> None:
        """Keep a new batch object."""
        with self._lock:
            self._conn.execute(
                "INSERT INTO batches (id, owner, status, doc) VALUES (?, ?, ?, ?)",
                (doc["id"], owner, doc["status"], _dumps(doc)),
            )

    def batch(self, owner: str | None, batch_id: str) -> dict[str, Any] | None:
        """One batch object (``owner=None``: whoever owns it), or ``None``."""
        sql = "SELECT doc FROM batches WHERE id = ?"
        params: list[Any] = [batch_id]
        if owner is not None:
            sql += " AND owner = ?"
            params.append(owner)
        with self._lock:
            row = self._conn.execute(sql, params).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def batch_owner(self, batch_id: str) -> str | None:
        """Who owns a batch."""
        with self._lock:
            row = self._conn.execute(
                "SELECT owner FROM batches WHERE id = ?", (batch_id,)
            ).fetchone()
        return None if row is None else str(row[0])

    def batch_seq(self, owner: str, batch_id: str) -> int | None:
        """The creation order of one of ``owner``'s batches (the list cursor)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT seq FROM batches WHERE id = ? AND owner = ?", (batch_id, owner)
            ).fetchone()
        return None if row is None else int(row[0])

    def list_batches(
        self, owner: str, limit: int, before_seq: int | None = None
    ) -> tuple[list[dict[str, Any]], bool]:
        """``owner``'s batches, newest first, created before ``before_seq``; and whether more."""
        sql = "SELECT doc FROM batches WHERE owner = ?"
        params: list[Any] = [owner]
        if before_seq is not None:
            sql += " AND seq < ?"
            params.append(before_seq)
        sql += " ORDER BY seq DESC LIMIT ?"
        params.append(limit + 1)
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        docs = [dict(json.loads(r[0])) for r in rows]
        return docs[:limit], len(docs) > limit

    def open_batch_ids(self) -> list[str]:
        """Batches the worker has not finished: those being cancelled, then oldest first."""
        marks = ",".join("?" * len(OPEN_BATCH_STATUSES))
        with self._lock:
            rows = self._conn.execute(
                f"SELECT id FROM batches WHERE status IN ({marks}) "
                "ORDER BY status != 'cancelling', seq",
                OPEN_BATCH_STATUSES,
            ).fetchall()
        return [str(r[0]) for r in rows]

    # ------------------------------------------------------------ batch lines

    def add_lines(self, batch_id: str, lines: Iterable[BatchLine]) -> None:
        """Keep the parsed requests of a batch (replacing any from an interrupted validation)."""
        rows = [
            (batch_id, ln.line, ln.custom_id, _dumps({"url": ln.url, "body": ln.body}))
            for ln in lines
        ]
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                self._conn.execute("DELETE FROM batch_lines WHERE batch_id = ?", (batch_id,))
                self._conn.executemany(
                    "INSERT INTO batch_lines (batch_id, line, custom_id, request) "
                    "VALUES (?, ?, ?, ?)",
                    rows,
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def pending_lines(self, batch_id: str, limit: int = 64) -> list[BatchLine]:
        """The next requests of a batch that have no result yet, in input order."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT line, custom_id, request FROM batch_lines "
                "WHERE batch_id = ? AND done = 0 ORDER BY line LIMIT ?",
                (batch_id, limit),
            ).fetchall()
        out: list[BatchLine] = []
        for line, custom_id, request in rows:
            req = json.loads(request)
            out.append(BatchLine(int(line), str(custom_id), str(req["url"]), dict(req["body"])))
        return out

    def update_batch(
        self,
        batch_id: str,
        changes: dict[str, Any],
        only_if: Sequence[str] | None = None,
    ) -> dict[str, Any] | None:
        """Apply ``changes`` to a batch atomically; with ``only_if``, only from those statuses.

        Returns the new batch object, or ``None`` when the batch is missing or its status is
        not one of ``only_if`` (nothing is changed then).
        """
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                doc = self._read_doc(batch_id)
                if doc is None or (only_if is not None and doc["status"] not in only_if):
                    self._conn.execute("COMMIT")
                    return None
                doc.update(changes)
                self._write_doc(doc)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return doc

    def finish_line(
        self,
        batch_id: str,
        line: int,
        ok: bool,
        result: dict[str, Any],
        tokens: tuple[int, int] | None,
    ) -> dict[str, Any] | None:
        """Record one request's output row, and add it to the batch's counts and usage."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute(
                    "UPDATE batch_lines SET done = 1, ok = ?, result = ? "
                    "WHERE batch_id = ? AND line = ?",
                    (int(ok), _dumps(result), batch_id, line),
                )
                doc = self._read_doc(batch_id)
                if doc is not None:
                    counts = doc.setdefault(
                        "request_counts", {"total": 0, "completed": 0, "failed": 0}
                    )
                    counts["completed" if ok else "failed"] += 1
                    if tokens is not None:
                        usage = doc["usage"]
                        usage["input_tokens"] += tokens[0]
                        usage["output_tokens"] += tokens[1]
                        usage["total_tokens"] += tokens[0] + tokens[1]
                    self._write_doc(doc)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return doc

    def _read_doc(self, batch_id: str) -> dict[str, Any] | None:
        row = self._conn.execute("SELECT doc FROM batches WHERE id = ?", (batch_id,)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def _write_doc(self, doc: dict[str, Any]) -> None:
        self._conn.execute(
            "UPDATE batches SET status = ?, doc = ? WHERE id = ?",
            (doc["status"], _dumps(doc), doc["id"]),
        )

    def line_results(self, batch_id: str) -> list[tuple[int, str, bool | None, str | None]]:
        """Every line of a batch in input order: ``(line, custom_id, ok, result json)``."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT line, custom_id, ok, result FROM batch_lines "
                "WHERE batch_id = ? ORDER BY line",
                (batch_id,),
            ).fetchall()
        return [(int(a), str(b), None if c is None else bool(c), d) for a, b, c, d in rows]

    def line_count(self, batch_id: str) -> int:
        """How many requests a batch has."""
        with self._lock:
            row = self._conn.execute(
                "SELECT COUNT(*) FROM batch_lines WHERE batch_id = ?", (batch_id,)
            ).fetchone()
        return int(row[0])

    # ------------------------------------------------------------ responses

    def add_response(self, owner: str, doc: dict[str, Any]) -> None:
        """Keep a response created with ``store: true``."""
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO responses (id, owner, doc) VALUES (?, ?, ?)",
                (doc["id"], owner, _dumps(doc)),
            )

    def response(self, owner: str, response_id: str) -> dict[str, Any] | None:
        """One of ``owner``'s stored responses, or ``None``."""
        with self._lock:
            row = self._conn.execute(
                "SELECT doc FROM responses WHERE id = ? AND owner = ?", (response_id, owner)
            ).fetchone()
        return None if row is None else dict(json.loads(row[0]))


def _file_object(
    file_id: str, created_at: int, filename: str, purpose: str, size: int
) -> dict[str, Any]:
    return {
        "id": file_id,
        "object": "file",
        "bytes": int(size),
        "created_at": int(created_at),
        "filename": filename,
        "purpose": purpose,
        "status": "uploaded",
        "owner_id": None,
        "ttl": None,
        "updated_at": int(created_at),
    }


def joined_lines(rows: Sequence[str]) -> bytes:
    """JSONL bytes of already-encoded rows."""
    return "".join(r + "\n" for r in rows).encode("utf-8")
