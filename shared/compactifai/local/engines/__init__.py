"""Model engines of the local server; each loads its model lazily and runs it on one thread.

Nothing here imports ``llama_cpp`` or ``faster_whisper`` until a model is first used.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["EngineUnavailable", "SerialRunner", "module_available"]

T = TypeVar("T")


class EngineUnavailable(RuntimeError):
    """A dependency or model file of an engine is missing; ``str()`` says which."""


def module_available(name: str) -> bool:
    """Whether ``import name`` would find a module, without importing it."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


class SerialRunner:
    """Runs the jobs of one model one at a time on its own worker thread.

    Model objects (llama.cpp contexts, CTranslate2 models) are not thread safe, so every use
    goes through this one thread; requests for other models and the event loop stay free.
    """

    def __init__(self, name: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"engine-{name}")

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """Run ``fn(*args)`` on the model's thread and wait for its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)

    def call(self, fn: Callable[..., T], *args: object, timeout: float = 30.0) -> T:
        """Run ``fn(*args)`` on the model's thread from synchronous code, and wait."""
        return self._executor.submit(fn, *args).result(timeout=timeout)

    def shutdown(self) -> None:
        """Stop the worker thread once its queued jobs are done."""
        self._executor.shutdown(wait=False, cancel_futures=True)
