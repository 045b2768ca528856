"""Batch callables for data engines: a column of prompts (or audio) in, answers out.

:class:`ChatBatch` and :class:`TranscriptionBatch` take a batch of rows (a dict of numpy
arrays, Ray Data's default ``batch_format``, or a pandas DataFrame) and return it with the
answer columns added. They are built for Ray Data's ``map_batches`` but import no engine: any
engine that calls a function on batches (Ray, Daft, a plain ``for`` loop over DataFrame
chunks) can use them.

Inside one worker process the rows of a batch run concurrently (at most ``max_concurrency``
at a time) on the transport's async client. The client is built once per callable (so once
per Ray actor) and the event loop once per process; both are reused across batches. A row
that fails is kept: its ``error`` column says why (``"RateLimitError: ..."``) and the job
goes on. Only a refused key (401/403), which no row could survive, stops the job.

Example (Ray Data; the key reaches the workers through their environment, never the data):

    >>> import ray
    >>> from compactifai.batch import ChatBatch
    >>> ray.init(runtime_env={"env_vars": {"COMPACTIFAI_API_KEY": "sk-..."}})  # doctest: +SKIP
    >>> ds = ray.data.from_items([{"prompt": "Is 'I love it' positive? yes/no"}])  # doctest: +SKIP
    >>> ds = ds.map_batches(  # doctest: +SKIP
    ...     ChatBatch,
    ...     fn_constructor_kwargs={"model": "hypernova-60b", "max_tokens": 8},
    ...     concurrency=4,
    ...     batch_size=64,
    ... )
    >>> ds.take(1)[0]["output"]  # doctest: +SKIP
    'Yes'

See ``docs/scale-out.md`` for the whole recipe (rate limits across workers, clusters).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import math
import os
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar, Union

from ._client import AsyncCompactifAIClient
from ._config import SecretLike, TimeoutTypes
from ._errors import (
    AuthenticationError,
    ConfigurationError,
    InvalidRequestError,
    PermissionDeniedError,
)
from ._ratelimit import RateLimit
from ._requests import DEFAULT_TRANSCRIPTION_MODEL, _chat_body

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from .types import ChatCompletion, Transcription

__all__ = ["Batch", "ChatBatch", "TranscriptionBatch"]

#: What the callables take and give back: Ray's "numpy" batches or pandas DataFrames.
Batch = Union[dict[str, "np.ndarray[Any, Any]"], "pd.DataFrame"]

T = TypeVar("T")

#: Errors that every row would hit: they stop the job instead of filling the error column.
_FATAL = (AuthenticationError, PermissionDeniedError)


# ---------------------------------------------------------------- one event loop per process


class _LoopThread:
    """An event loop on a daemon thread, started on first use and shared by the process.

    A thread (rather than ``run_until_complete`` in the caller's thread) lets the callables
    run where a loop is already running (notebooks, async UDF hosts), and keeps one loop, and
    so one connection pool per client, alive across batches.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid = 0

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            loop = self._loop
            if loop is None or self._pid != os.getpid() or loop.is_closed():
                # First use, or a forked child (the parent's loop thread did not follow).
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="compactifai-batch-loop", daemon=True
                )
                thread.start()
                self._loop, self._thread, self._pid = loop, thread, os.getpid()
            return loop

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the process's loop and wait for its result."""
        loop = self.loop()
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("a batch callable cannot be called from inside its own loop")
        return asyncio.run_coroutine_threadsafe(coro, loop).result()

    def stop(self) -> None:
        """Close the pools (their loop's async generators) and the loop, at process exit."""
        with self._lock:
            loop, thread, self._loop = self._loop, self._thread, None
        if loop is None or thread is None or self._pid != os.getpid() or loop.is_closed():
            return
        # A pool that cannot close cleanly at exit is not worth a traceback.
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(loop.shutdown_asyncgens(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        if not thread.is_alive():
            loop.close()


_LOOP = _LoopThread()
atexit.register(_LOOP.stop)


# ---------------------------------------------------------------- batch <-> rows


def _is_dataframe(batch: Any) -> bool:
    pd = sys.modules.get("pandas")  # a DataFrame cannot exist unless pandas was imported
    return pd is not None and isinstance(batch, pd.DataFrame)


def _column(batch: Any, name: str) -> list[Any]:
    """One column of a batch as a list of Python values."""
    try:
        values = batch[name]
    except KeyError:
        columns = list(batch.columns if _is_dataframe(batch) else batch)
        raise KeyError(f"the batch has no column {name!r}; its columns are {columns}") from None
    return values.tolist() if hasattr(values, "tolist") else list(values)


def _num_rows(batch: Any) -> int:
    if _is_dataframe(batch):
        return len(batch)
    return len(next(iter(batch.values()))) if batch else 0


def _with_columns(batch: Any, columns: Mapping[str, tuple[list[Any], str]]) -> Any:
    """The batch (same type, input columns untouched) with ``columns`` added.

    ``columns`` maps a name to its values and a numpy dtype (``object`` for strings).
    """
    clash = sorted(set(columns) & set(batch.columns if _is_dataframe(batch) else batch))
    if clash:
        raise ValueError(
            f"the batch already has column(s) {clash}: pass output_prefix='...' to name the "
            "answer columns apart"
        )
    import numpy as np

    arrays = {name: np.asarray(values, dtype=dtype) for name, (values, dtype) in columns.items()}
    if _is_dataframe(batch):
        return batch.assign(**arrays)
    out = dict(batch)
    out.update(arrays)
    return out


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _plain(value: Any) -> Any:
    """numpy containers (Ray's list and struct columns) -> Python lists, as deep as needed."""
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _row_headers(value: Any) -> dict[str, str] | None:
    """A per-row headers cell (a mapping, a JSON object string, or empty) -> headers."""
    if _missing(value) or value == "":
        return None
    if isinstance(value, str):
        value = json.loads(value)
    if not isinstance(value, Mapping):
        raise InvalidRequestError(
            f"a headers cell must be a mapping or a JSON object, not {type(value).__name__}",
            param="headers_column",
        )
    # Arrow gives struct columns every key of every row: a key another row set comes as None.
    return {str(k): str(v) for k, v in value.items() if not _missing(v)} or None


def _describe(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"


async def _bounded(
    calls: Sequence[Callable[[], Awaitable[T]]], limit: int
) -> list[T | BaseException]:
    """Run ``calls`` at most ``limit`` at a time; results (or the row's error) in input order.

    A fatal error (a refused key) cancels the rest and is raised.
    """
    gate = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[T]]) -> T | BaseException:
        async with gate:
            try:
                return await call()
            except _FATAL:
                raise
            except Exception as err:  # recorded in the row: one bad row never fails the job
                return err

    tasks = [asyncio.ensure_future(one(call)) for call in calls]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def _build_client(
    client: AsyncCompactifAIClient | None,
    api_key: SecretLike,
    base_url: str | None,
    timeout: TimeoutTypes,
    max_retries: int | None,
    rate_limit: RateLimit | None,
) -> AsyncCompactifAIClient:
    if client is not None:
        if any(v is not None for v in (api_key, base_url, timeout, max_retries, rate_limit)):
            raise ConfigurationError(
                "pass either client=... or the connection settings (api_key, base_url, "
                "timeout, max_retries, rate_limit), not both"
            )
        return client
    return AsyncCompactifAIClient(
        api_key=api_key,
        base_url=base_url,
        timeout=timeout,
        max_retries=max_retries,
        rate_limit=rate_limit,
    )


def _check_concurrency(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"max_concurrency must be an integer >= 1, not {value!r}")
    return value


# ---------------------------------------------------------------- chat


class ChatBatch:
    """Chat completions for a batch of rows; adds the answer columns, keeps every row.

    Each row is a ``prompt`` (a user message, after ``system_prompt`` if given) or, with
    ``messages_column``, a whole conversation (a list of ``{"role", "content"}`` dicts or its
    JSON). Added columns (named with ``output_prefix`` in front):

    - ``output`` (str): the answer's text; ``""`` when the row failed.
    - ``finish_reason`` (str): ``"stop"``, ``"length"``, ...; ``""`` when the row failed.
    - ``prompt_tokens`` / ``completion_tokens`` (int64): the usage reported; 0 on failure.
    - ``error`` (str): ``""`` when the row succeeded, else ``"<ErrorType>: <message>"`` (after
      the transport's retries). A refused key (401/403) raises instead: every row would fail.

    ``headers_column`` names a column of per-row extra headers (a mapping or a JSON string;
    empty for none), for routing or tracing. Other keyword arguments are chat parameters
    (``max_tokens``, ``temperature``, ``response_format``, ``extra_body``, ...), checked at
    construction. ``max_concurrency`` bounds the requests in flight per worker process.
    Give ``client=`` (an :class:`AsyncCompactifAIClient`) or the connection settings; the key
    defaults to ``COMPACTIFAI_API_KEY`` in the worker's environment.

    Example:
        >>> import pandas as pd
        >>> from compactifai.batch import ChatBatch
        >>> classify = ChatBatch(
        ...     model="hypernova-60b", api_key="sk-...",
        ...     system_prompt="Answer 'positive' or 'negative'.", max_tokens=4, temperature=0,
        ... )
        >>> out = classify(pd.DataFrame({"prompt": ["I love it", "Awful."]}))  # doctest: +SKIP
        >>> out[["prompt", "output", "error"]]  # doctest: +SKIP
              prompt    output error
        0  I love it  positive
        1     Awful.  negative
    """

    def __init__(
        self,
        *,
        model: str,
        prompt_column: str = "prompt",
        messages_column: str | None = None,
        system_prompt: str | None = None,
        headers_column: str | None = None,
        output_prefix: str = "",
        max_concurrency: int = 8,
        client: AsyncCompactifAIClient | None = None,
        api_key: SecretLike = None,
        base_url: str | None = None,
        timeout: TimeoutTypes = None,
        max_retries: int | None = None,
        rate_limit: RateLimit | None = None,
        **params: Any,
    ) -> None:
        # Refuse a bad parameter here, once, rather than in every row.
        _chat_body(model, [{"role": "user", "content": "check"}], params)
        self.model = model
        self.prompt_column = prompt_column
        self.messages_column = messages_column
        self.system_prompt = system_prompt
        self.headers_column = headers_column
        self.output_prefix = output_prefix
        self.max_concurrency = _check_concurrency(max_concurrency)
        self.params = params
        self.client = _build_client(client, api_key, base_url, timeout, max_retries, rate_limit)

    def __repr__(self) -> str:
        source = self.messages_column or self.prompt_column
        return (
            f"ChatBatch(model={self.model!r}, column={source!r}, "
            f"max_concurrency={self.max_concurrency}, client={self.client!r})"
        )

    def _messages(self, value: Any) -> list[dict[str, Any]]:
        if self.messages_column is None:
            if not isinstance(value, str):
                raise InvalidRequestError(
                    f"the {self.prompt_column!r} cell holds {value!r}, not a prompt string",
                    param="prompt_column",
                )
            messages: list[dict[str, Any]] = [{"role": "user", "content": value}]
        else:
            raw = json.loads(value) if isinstance(value, str) else _plain(value)
            if isinstance(raw, Mapping):
                raw = [raw]
            if not isinstance(raw, list) or not raw or not all(
                isinstance(m, Mapping) for m in raw
            ):
                raise InvalidRequestError(
                    f"the {self.messages_column!r} cell is not a list of messages: {value!r}",
                    param="messages_column",
                )
            messages = [{k: v for k, v in m.items() if v is not None} for m in raw]
        if self.system_prompt and messages[0].get("role") != "system":
            messages.insert(0, {"role": "system", "content": self.system_prompt})
        return messages

    async def _one(self, value: Any, headers: Any) -> ChatCompletion:
        params = dict(self.params)
        extra = _row_headers(headers)
        if extra:
            params["extra_headers"] = {**(params.get("extra_headers") or {}), **extra}
        return await self.client.chat_completion(
            model=self.model, messages=self._messages(value), **params
        )

    def __call__(self, batch: Batch) -> Batch:
        """Answer every row of ``batch``; the same type comes back, rows in the same order."""
        values = _column(batch, self.messages_column or self.prompt_column)
        headers = (
            _column(batch, self.headers_column) if self.headers_column else [None] * len(values)
        )
        calls = [partial(self._one, v, h) for v, h in zip(values, headers, strict=True)]
        results = _LOOP.run(_bounded(calls, self.max_concurrency)) if calls else []
        output: list[str] = []
        finish: list[str] = []
        prompt_tokens: list[int] = []
        completion_tokens: list[int] = []
        errors: list[str] = []
        for result in results:
            if isinstance(result, BaseException):
                text, reason, used_in, used_out, error = "", "", 0, 0, _describe(result)
            else:
                choice = result.choices[0] if result.choices else None
                text = (choice.message.content or "") if choice else ""
                reason = (choice.finish_reason or "") if choice else ""
                usage = result.usage
                used_in = usage.prompt_tokens if usage else 0
                used_out = usage.completion_tokens if usage else 0
                error = ""
            output.append(text)
            finish.append(reason)
            prompt_tokens.append(used_in)
            completion_tokens.append(used_out)
            errors.append(error)
        p = self.output_prefix
        return _with_columns(
            batch,
            {
                f"{p}output": (output, "object"),
                f"{p}finish_reason": (finish, "object"),
                f"{p}prompt_tokens": (prompt_tokens, "int64"),
                f"{p}completion_tokens": (completion_tokens, "int64"),
                f"{p}error": (errors, "object"),
            },
        )


# ---------------------------------------------------------------- transcription


class TranscriptionBatch:
    """Transcribe a batch of audio rows; adds the transcript columns, keeps every row.

    The audio is a file path in ``path_column`` (readable from the worker), or bytes in
    ``bytes_column``, named (the name gives the format) by ``filename_column`` or else by the
    basename of ``path_column``: ``ray.data.read_binary_files(..., include_paths=True)``
    gives exactly ``bytes`` and ``path``. Added columns (named with ``output_prefix``):

    - ``output`` (str): the transcript's text; ``""`` when the row failed.
    - ``language`` (str) and ``duration`` (float64 seconds, NaN when unknown).
    - ``segments`` (str): the timestamped segments as JSON (``[{"id", "start", "end",
      "text", ...}]``), ``"[]"`` when none or failed.
    - ``error`` (str): ``""`` when the row succeeded, else ``"<ErrorType>: <message>"``.

    Other keyword arguments go to ``transcribe`` (``prompt``, ``temperature``,
    ``timestamp_granularities``, ``extra_body``, ...). Connection settings as
    :class:`ChatBatch`.

    Example:
        >>> import ray
        >>> from compactifai.batch import TranscriptionBatch
        >>> ds = ray.data.read_binary_files("s3://calls/", include_paths=True)  # doctest: +SKIP
        >>> ds = ds.map_batches(  # doctest: +SKIP
        ...     TranscriptionBatch,
        ...     fn_constructor_kwargs={"bytes_column": "bytes", "language": "en"},
        ...     concurrency=4, batch_size=8,
        ... )
        >>> ds.drop_columns(["bytes"]).write_parquet("s3://calls-text/")  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        model: str = DEFAULT_TRANSCRIPTION_MODEL,
        path_column: str = "path",
        bytes_column: str | None = None,
        filename_column: str | None = None,
        language: str | None = None,
        headers_column: str | None = None,
        output_prefix: str = "",
        max_concurrency: int = 4,
        client: AsyncCompactifAIClient | None = None,
        api_key: SecretLike = None,
        base_url: str | None = None,
        timeout: TimeoutTypes = None,
        max_retries: int | None = None,
        rate_limit: RateLimit | None = None,
        **params: Any,
    ) -> None:
        if not isinstance(model, str) or not model:
            raise InvalidRequestError("model must be a transcription model id", param="model")
        self.model = model
        self.path_column = path_column
        self.bytes_column = bytes_column
        self.filename_column = filename_column
        self.language = language
        self.headers_column = headers_column
        self.output_prefix = output_prefix
        self.max_concurrency = _check_concurrency(max_concurrency)
        self.params = params
        self.client = _build_client(client, api_key, base_url, timeout, max_retries, rate_limit)

    def __repr__(self) -> str:
        return (
            f"TranscriptionBatch(model={self.model!r}, "
            f"column={self.bytes_column or self.path_column!r}, "
            f"max_concurrency={self.max_concurrency}, client={self.client!r})"
        )

    async def _one(self, audio: Any, name: Any, headers: Any) -> Transcription:
        params = dict(self.params)
        extra = _row_headers(headers)
        if extra:
            params["extra_headers"] = {**(params.get("extra_headers") or {}), **extra}
        if self.bytes_column is None:
            if _missing(audio) or not isinstance(audio, (str, os.PathLike)):
                raise InvalidRequestError(
                    f"the {self.path_column!r} cell holds {audio!r}, not a path",
                    param="path_column",
                )
            file: Any = audio
        else:
            if not isinstance(name, str) or not name:
                raise InvalidRequestError(
                    f"audio bytes need a file name (its format); got {name!r}",
                    param="filename_column",
                )
            file = (os.path.basename(name), bytes(audio))
        result: Transcription = await self.client.transcribe(
            file, model=self.model, language=self.language, **params
        )
        return result

    def __call__(self, batch: Batch) -> Batch:
        """Transcribe every row of ``batch``; the same type comes back, rows in order."""
        n = _num_rows(batch)
        if self.bytes_column is None:
            audio = _column(batch, self.path_column)
            names: list[Any] = [None] * n
        else:
            audio = _column(batch, self.bytes_column)
            names = _column(batch, self.filename_column or self.path_column)
        headers = _column(batch, self.headers_column) if self.headers_column else [None] * n
        calls = [partial(self._one, a, f, h) for a, f, h in zip(audio, names, headers, strict=True)]
        results = _LOOP.run(_bounded(calls, self.max_concurrency)) if calls else []
        text: list[str] = []
        language: list[str] = []
        duration: list[float] = []
        segments: list[str] = []
        errors: list[str] = []
        for result in results:
            if isinstance(result, BaseException):
                text.append("")
                language.append("")
                duration.append(math.nan)
                segments.append("[]")
                errors.append(_describe(result))
                continue
            text.append(result.text)
            language.append(result.language or "")
            duration.append(math.nan if result.duration is None else float(result.duration))
            segments.append(
                json.dumps([s.model_dump(exclude_none=True) for s in result.segments])
            )
            errors.append("")
        p = self.output_prefix
        return _with_columns(
            batch,
            {
                f"{p}output": (text, "object"),
                f"{p}language": (language, "object"),
                f"{p}duration": (duration, "float64"),
                f"{p}segments": (segments, "object"),
                f"{p}error": (errors, "object"),
            },
        )
