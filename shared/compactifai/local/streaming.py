"""Server-sent events, and the bridge from an engine thread to an async stream."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any, Generic, TypeVar

from .engines import SerialRunner

__all__ = ["DONE", "ThreadStream", "dumps", "sse"]

T = TypeVar("T")
DONE = b"data: [DONE]\n\n"
_END = object()


def dumps(obj: Any) -> bytes:
    """Compact JSON bytes."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sse(obj: Any) -> bytes:
    """One SSE event: ``data: {json}`` and a blank line."""
    return b"data: " + dumps(obj) + b"\n\n"


class ThreadStream(Generic[T]):
    """Run a job on a model's thread; read the pieces it emits as an async iterator.

    The job is called as ``job(emit, ready, cancel)``: it calls ``ready(info)`` once the request
    is known to be servable (so errors found before that become proper HTTP errors; ``info``
    is what :meth:`started` returns), ``emit(x)`` for each piece, and checks ``cancel`` (set
    when the client goes away). A job still queued when ``cancel`` is set should not start.

    Example:
        >>> import asyncio
        >>> from compactifai.local.engines import SerialRunner
        >>> def job(emit, ready, cancel):
        ...     ready("go")
        ...     emit("a"); emit("b")
        ...     return 2
        >>> async def main():
        ...     stream = ThreadStream(SerialRunner("doc"), job)
        ...     info = await stream.started()
        ...     return info, [p async for p in stream.pieces()], await stream.result()
        >>> asyncio.run(main())
        ('go', ['a', 'b'], 2)
    """

    def __init__(
        self,
        runner: SerialRunner,
        job: Callable[[Callable[[Any], None], Callable[[Any], None], threading.Event], T],
        cancel: threading.Event | None = None,
    ) -> None:
        loop = asyncio.get_running_loop()
        self.cancel = cancel if cancel is not None else threading.Event()
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._ready: asyncio.Future[Any] = loop.create_future()

        def set_ready(info: Any = None) -> None:
            if not self._ready.done():
                self._ready.set_result(info)

        def emit(item: Any) -> None:
            loop.call_soon_threadsafe(self._queue.put_nowait, item)

        def ready(info: Any = None) -> None:
            loop.call_soon_threadsafe(set_ready, info)

        def finished(_: object) -> None:
            self._queue.put_nowait(_END)
            set_ready()

        self._task: asyncio.Future[T] = asyncio.ensure_future(
            runner.run(job, emit, ready, self.cancel)
        )
        self._task.add_done_callback(finished)

    async def started(self) -> Any:
        """Wait until the job is ready to stream (its ``ready`` info); raise its early error."""
        waiters: set[asyncio.Future[Any]] = {self._ready, self._task}
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        if self._task.done() and self._task.exception() is not None:
            raise self._task.exception()  # type: ignore[misc]
        return self._ready.result() if self._ready.done() else None

    async def pieces(self) -> AsyncIterator[Any]:
        """The emitted pieces, until the job ends."""
        while True:
            item = await self._queue.get()
            if item is _END:
                return
            yield item

    async def result(self) -> T:
        """The job's return value (or its exception)."""
        return await self._task

    def close(self) -> None:
        """Ask the job to stop early (the client left)."""
        if not self._task.done():
            self.cancel.set()
