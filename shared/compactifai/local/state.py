"""What every handler shares: settings, usage store, engines, fault counter, API keys."""

from __future__ import annotations

import contextlib

from ._settings import ServerSettings, user_id_for_key
from .batch_store import JobStore
from .batch_worker import BatchWorker
from .dispatch import ASGIApp
from .engines.llama import LlamaEngine
from .engines.whisper import WhisperEngine
from .faults import FaultCounter
from .usage_store import UsageStore

__all__ = ["LocalState"]


class LocalState:
    """Everything the handlers share; models load on first use.

    Example:
        >>> from pathlib import Path
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     state = LocalState(ServerSettings(usage_db=Path(tmp) / "u.db"))
        ...     print(state.settings.auto_tool_choice, sorted(state.keys.values()))
        ...     state.close()
        model ['local-...']
    """

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.store = UsageStore(settings.usage_db_path())
        self.llama = LlamaEngine(
            settings.chat_model_path, n_ctx=settings.n_ctx, n_threads=settings.n_threads
        )
        self.whisper = WhisperEngine(settings.whisper_dir(), cpu_threads=settings.n_threads)
        self.faults = FaultCounter()
        self.keys = {key: user_id_for_key(key) for key in settings.api_keys}
        #: Files, batches and stored responses (the same SQLite file as usage).
        self.jobs = JobStore(settings.usage_db_path())
        self._batch_worker: BatchWorker | None = None

    def serve_batches(self, app: ASGIApp) -> BatchWorker:
        """Create the batch worker, which runs lines through ``app`` (the routes)."""
        self._batch_worker = BatchWorker(self.jobs, app)
        return self._batch_worker

    @property
    def batch_worker(self) -> BatchWorker:
        """The batch worker (see :meth:`serve_batches`)."""
        if self._batch_worker is None:
            raise RuntimeError("the batch worker is created by create_app()")
        return self._batch_worker

    def close(self) -> None:
        """Release models and the database."""
        for engine in (self.llama, self.whisper):
            with contextlib.suppress(Exception):
                engine.close()
        self.store.close()
        self.jobs.close()
