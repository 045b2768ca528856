"""The local server's SQLite files: one way to open them, shared by usage and jobs.

Example:
    >>> from compactifai.local._sqlite import SQLiteStore
    >>> class Notes(SQLiteStore):
    ...     SCHEMA = "CREATE TABLE IF NOT EXISTS notes (text TEXT)"
    >>> notes = Notes(":memory:")
    >>> with notes._lock:
    ...     _ = notes._conn.execute("INSERT INTO notes VALUES ('hi')")
    ...     notes._conn.execute("SELECT text FROM notes").fetchall()
    [('hi',)]
    >>> notes.close()
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import ClassVar

__all__ = ["SQLiteStore"]


class SQLiteStore:
    """A SQLite file (WAL, autocommit) behind one lock, its tables made from ``SCHEMA``."""

    SCHEMA: ClassVar[str] = ""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        with self._lock:
            if self.path != ":memory:":
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(self.SCHEMA)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._conn.close()
