"""The provider-side job endpoints on both clients: files, batches and responses.

:class:`SyncJobsAPI` and :class:`AsyncJobsAPI` are mixed into :class:`CompactifAIClient` and
:class:`AsyncCompactifAIClient`; they mirror each other name for name. Requests are built by
``_requests.py`` and sent through the client's pipeline (retries, timeouts, typed errors): a
``POST /files``, ``POST /batches`` or ``POST /responses`` is never resent once the server may
have acted on it (an unreadable 2xx is final), the rule chat follows. Streamed responses use
the SSE path of chat: retried only until the first event reaches the caller.

Example:
    >>> from compactifai import CompactifAIClient
    >>> client = CompactifAIClient(api_key="sk-...")  # doctest: +SKIP
    >>> f = client.upload_file("requests.jsonl", purpose="batch")  # doctest: +SKIP
    >>> batch = client.create_batch(input_file_id=f.id)  # doctest: +SKIP
    >>> client.retrieve_batch(batch.id).status  # doctest: +SKIP
    'in_progress'
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from typing_extensions import Unpack

from ._config import TimeoutTypes, to_timeout
from ._pipeline import AsyncPipeline, SyncPipeline, adownload, download
from ._requests import (
    BATCH_COMPLETION_WINDOW,
    FileInput,
    ResponseParams,
    _batch_create_body,
    _batch_list_params,
    _batch_path,
    _file_content_path,
    _file_upload_form,
    _response_body,
    _response_path,
)
from ._streams import AsyncStream, Stream

if TYPE_CHECKING:
    import httpx
    from pydantic import BaseModel

    from .types_jobs import Batch, BatchList, FileObject, ResponsesResult, ResponseStreamEvent

__all__ = ["AsyncJobsAPI", "SyncJobsAPI"]

#: ``GET /batches`` page size used by ``iter_batches`` when none is given.
DEFAULT_PAGE_SIZE = 100


def _parse(kind: type[BaseModel], data: Any) -> Any:
    from ._client import _parse as parse  # the one answer validator (lazy: _client imports us)

    return parse(kind, data)


def _timeout(timeout: TimeoutTypes) -> httpx.Timeout | None:
    return None if timeout is None else to_timeout(timeout)


class _BytesSink:
    """Collects a download in memory; a retried download starts over."""

    __slots__ = ("parts",)

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def restart(self) -> None:
        self.parts.clear()

    def write(self, data: bytes) -> None:
        self.parts.append(data)


class _FileSink:
    """Streams a download to a temporary file beside the target, renamed there when whole."""

    __slots__ = ("handle", "target", "temp")

    def __init__(self, target: Path) -> None:
        self.target = target
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        self.temp = Path(name)
        self.handle = os.fdopen(fd, "wb")

    def restart(self) -> None:
        self.handle.seek(0)
        self.handle.truncate()

    def write(self, data: bytes) -> None:
        self.handle.write(data)

    def finish(self, ok: bool) -> None:
        self.handle.close()
        if ok:
            os.replace(self.temp, self.target)
        else:
            self.temp.unlink(missing_ok=True)


def _target(path: str | os.PathLike[str]) -> Path:
    target = Path(path)
    if target.is_dir():
        from ._errors import InvalidRequestError

        raise InvalidRequestError(f"{str(target)!r} is a directory: name a file", param="path")
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


class SyncJobsAPI:
    """Files, batches and responses on :class:`compactifai.CompactifAIClient`.

    Example:
        >>> from compactifai import CompactifAIClient
        >>> client = CompactifAIClient(api_key="sk-...")  # doctest: +SKIP
        >>> for batch in client.iter_batches():  # doctest: +SKIP
        ...     print(batch.id, batch.status, batch.request_counts)
    """

    _pipeline: SyncPipeline

    # -- files

    def upload_file(
        self,
        file: FileInput,
        *,
        purpose: str = "batch",
        filename: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
        timeout: TimeoutTypes = None,
    ) -> FileObject:
        """``POST /files``: upload a file (a path, bytes, a binary file or ``(name, bytes)``).

        Not sent again once the server may have stored it (an unreadable answer is final).
        """
        form, files = _file_upload_form(file, purpose, filename)
        data = self._pipeline.request(
            "POST",
            "/files",
            files=files,
            data=form,
            timeout=_timeout(timeout),
            extra_headers=extra_headers,
        )
        from .types_jobs import FileObject

        parsed: FileObject = _parse(FileObject, data)
        return parsed

    def file_content(
        self,
        file_id: str,
        *,
        extra_headers: Mapping[str, str] | None = None,
        timeout: TimeoutTypes = None,
    ) -> bytes:
        """``GET /files/{file_id}/content``: the file's bytes."""
        sink = _BytesSink()
        download(
            self._pipeline,
            _file_content_path(file_id),
            sink,
            timeout=_timeout(timeout),
            extra_headers=extra_headers,
        )
        return b"".join(sink.parts)

    def download_file(
        self,
        file_id: str,
        path: str | os.PathLike[str],
        *,
        extra_headers: Mapping[str, str] | None = None,
        timeout: TimeoutTypes = None,
    ) -> Path:
        """``GET /files/{file_id}/content`` streamed to ``path`` (whole or not at all)."""
        sink = _FileSink(_target(path))
        ok = False
        try:
            download(
                self._pipeline,
                _file_content_path(file_id),
                sink,
                timeout=_timeout(timeout),
                extra_headers=extra_headers,
            )
            ok = True
        finally:
            sink.finish(ok)
        return sink.target

    # -- batches

    def create_batch(
        self,
        *,
        input_file_id: str,
        endpoint: str = "/v1/chat/completions",
        completion_window: str = BATCH_COMPLETION_WINDOW,
        metadata: Mapping[str, str] | None = None,
        output_expires_after: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        timeout: TimeoutTypes = None,
    ) -> Batch:
        """``POST /batches``: run every line of an uploaded ``purpose="batch"`` file.

        Not sent again once the server may have acted (a second batch would be billed).
        """
        body = _batch_create_body(
            input_file_id=input_file_id,
            endpoint=endpoint,
            completion_window=completion_window,
            metadata=metadata,
            output_expires_after=output_expires_after,
            extra_body=extra_body,
        )
        data = self._pipeline.request(
            "POST", "/batches", body=body, timeout=_timeout(timeout), extra_headers=extra_headers
        )
        from .types_jobs import Batch

        parsed: Batch = _parse(Batch, data)
        return parsed

    def retrieve_batch(
        self,
        batch_id: str,
        *,
        extra_headers: Mapping[str, str] | None = None,
        timeout: TimeoutTypes = None,
    ) -> Batch:
        """``GET /batches/{batch_id}``: the batch's status, counts and file ids."""
        data = self._pipeline.request(
            "GET", _batch_path(batch_id), timeout=_timeout(timeout), extra_headers=extra_headers
        )
        from .types_jobs import Batch

        parsed: Batch = _parse(Batch, data)
        return parsed

    def list_batches(
        self,
        *,
        after: str | None = None,
        limit: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        timeout: TimeoutTypes = None,
    ) -> BatchList:
        """``GET /batches``: one page (``limit`` 1-100) after the batch id ``after``."""
        params = _batch_list_params(after, limit)
        path = "/batches"
        if params:
            import urllib.parse

            path += "?" + urllib.parse.urlencode(params)
        data = self._pipeline.request(
            "GET", path, timeout=_timeout(timeout), extra_headers=extra_headers
        )
        from .types_jobs import BatchList

        parsed: BatchList = _parse(BatchList, data)
        return parsed

    def iter_batches(
        self, *, after: str | None = None, limit: int | None = None
    ) -> Iterator[Batch]:
        """Every batch, page after page (``limit`` per page, default 100)."""
        page_size = DEFAULT_PAGE_SIZE if limit is None else limit
        _batch_list_params(after, page_size)  # refuse a bad argument now, not at first next()
        return self._iter_batches(after, page_size)

    def _iter_batches(self, after: str | None, limit: int) -> Iterator[Batch]:
        while True:
            page = self.list_batches(after=after, limit=limit)
            yield from page.data
            last = page.last_id or (page.data[-1].id if page.data else None)
            if not page.has_more or last is None or last == after:
                return
            after = last

    def cancel_batch(
        self,
        batch_id: str,
        *,
        extra_headers: Mapping[str, str] | None = None,
        timeout: TimeoutTypes = None,
    ) -> Batch:
        """``POST /batches/{batch_id}/cancel``: usually answers with status ``cancelling``."""
        data = self._pipeline.request(
            "POST",
            _batch_path(batch_id, "/cancel"),
            timeout=_timeout(timeout),
            extra_headers=extra_headers,
            idempotent=True,  # cancelling twice changes nothing
        )
        from .types_jobs import Batch

        parsed: Batch = _parse(Batch, data)
        return parsed

    # -- responses

    def create_response(
        self, *, model: str, input: str | Sequence[Any], **params: Unpack[ResponseParams]
    ) -> ResponsesResult:
        """``POST /responses``: the whole response at once (stored when ``store=True``)."""
        body, opts = _response_body(model, input, params)
        data = self._pipeline.request(
            "POST",
            "/responses",
            body=body,
            timeout=opts.get("timeout"),
            extra_headers=opts.get("extra_headers"),
        )
        from .types_jobs import ResponsesResult

        parsed: ResponsesResult = _parse(ResponsesResult, data)
        return parsed

    def create_response_stream(
        self, *, model: str, input: str | Sequence[Any], **params: Unpack[ResponseParams]
    ) -> Stream[ResponseStreamEvent]:
        """``POST /responses`` with ``stream: true``: event dicts (``event["type"]``).

        The stream is whole at ``response.completed`` (or ``response.incomplete``); a
        ``response.failed`` or ``error`` event raises its typed error.
        """
        body, opts = _response_body(model, input, params)
        body["stream"] = True
        return Stream(
            self._pipeline.stream(  # type: ignore[arg-type]
                "POST",
                "/responses",
                body=body,
                timeout=opts.get("timeout"),
                extra_headers=opts.get("extra_headers"),
            )
        )

    def retrieve_response(
        self,
        response_id: str,
        *,
        extra_headers: Mapping[str, str] | None = None,
        timeout: TimeoutTypes = None,
    ) -> ResponsesResult:
        """``GET /responses/{response_id}``: a response created with ``store=True``."""
        data = self._pipeline.request(
            "GET",
            _response_path(response_id),
            timeout=_timeout(timeout),
            extra_headers=extra_headers,
        )
        from .types_jobs import ResponsesResult

        parsed: ResponsesResult = _parse(ResponsesResult, data)
        return parsed


class AsyncJobsAPI:
    """Files, batches and responses on :class:`compactifai.AsyncCompactifAIClient`.

    Example:
        >>> async def newest(client):  # an AsyncCompactifAIClient
        ...     async for batch in client.iter_batches(limit=10):
        ...         return batch
    """

    _pipeline: AsyncPipeline

    # -- files

    async def upload_file(
        self,
        file: FileInput,
        *,
        purpose: str = "batch",
        filename: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
        timeout: TimeoutTypes = None,
    ) -> FileObject:
        """``POST /files``: upload a file (a path, bytes, a binary file or ``(name, bytes)``)."""
        form, files = _file_upload_form(file, purpose, filename)
        data = await self._pipeline.request(
            "POST",
            "/files",
            files=files,
            data=form,
            timeout=_timeout(timeout),
            extra_headers=extra_headers,
        )
        from .types_jobs import FileObject

        parsed: FileObject = _parse(FileObject, data)
        return parsed

    async def file_content(
        self,
        file_id: str,
        *,
        extra_headers: Mapping[str, str] | None = None,
        timeout: TimeoutTypes = None,
    ) -> bytes:
        """``GET /files/{file_id}/content``: the file's bytes."""
        sink = _BytesSink()
        await adownload(
            self._pipeline,
            _file_content_path(file_id),
            sink,
            timeout=_timeout(timeout),
            extra_headers=extra_headers,
        )
        return b"".join(sink.parts)

    async def download_file(
        self,
        file_id: str,
        path: str | os.PathLike[str],
        *,
        extra_headers: Mapping[str, str] | None = None,
        timeout: TimeoutTypes = None,
    ) -> Path:
        """``GET /files/{file_id}/content`` streamed to ``path`` (whole or not at all)."""
        sink = _FileSink(_target(path))
        ok = False
        try:
            await adownload(
                self._pipeline,
                _file_content_path(file_id),
                sink,
                timeout=_timeout(timeout),
                extra_headers=extra_headers,
            )
            ok = True
        finally:
            sink.finish(ok)
        return sink.target

    # -- batches

    async def create_batch(
        self,
        *,
        input_file_id: str,
        endpoint: str = "/v1/chat/completions",
        completion_window: str = BATCH_COMPLETION_WINDOW,
        metadata: Mapping[str, str] | None = None,
        output_expires_after: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        timeout: TimeoutTypes = None,
    ) -> Batch:
        """``POST /batches``: run every line of an uploaded ``purpose="batch"`` file."""
        body = _batch_create_body(
            input_file_id=input_file_id,
            endpoint=endpoint,
            completion_window=completion_window,
            metadata=metadata,
            output_expires_after=output_expires_after,
            extra_body=extra_body,
        )
        data = await self._pipeline.request(
            "POST", "/batches", body=body, timeout=_timeout(timeout), extra_headers=extra_headers
        )
        from .types_jobs import Batch

        parsed: Batch = _parse(Batch, data)
        return parsed

    async def retrieve_batch(
        self,
        batch_id: str,
        *,
        extra_headers: Mapping[str, str] | None = None,
        timeout: TimeoutTypes = None,
    ) -> Batch:
        """``GET /batches/{batch_id}``: the batch's status, counts and file ids."""
        data = await self._pipeline.request(
            "GET", _batch_path(batch_id), timeout=_timeout(timeout), extra_headers=extra_headers
        )
        from .types_jobs import Batch

        parsed: Batch = _parse(Batch, data)
        return parsed

    async def list_batches(
        self,
        *,
        after: str | None = None,
        limit: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        timeout: TimeoutTypes = None,
    ) -> BatchList:
        """``GET /batches``: one page (``limit`` 1-100) after the batch id ``after``."""
        params = _batch_list_params(after, limit)
        path = "/batches"
        if params:
            import urllib.parse

            path += "?" + urllib.parse.urlencode(params)
        data = await self._pipeline.request(
            "GET", path, timeout=_timeout(timeout), extra_headers=extra_headers
        )
        from .types_jobs import BatchList

        parsed: BatchList = _parse(BatchList, data)
        return parsed

    def iter_batches(
        self, *, after: str | None = None, limit: int | None = None
    ) -> AsyncIterator[Batch]:
        """Every batch, page after page (``async for``; ``limit`` per page, default 100)."""
        page_size = DEFAULT_PAGE_SIZE if limit is None else limit
        _batch_list_params(after, page_size)
        return self._iter_batches(after, page_size)

    async def _iter_batches(self, after: str | None, limit: int) -> AsyncIterator[Batch]:
        while True:
            page = await self.list_batches(after=after, limit=limit)
            for batch in page.data:
                yield batch
            last = page.last_id or (page.data[-1].id if page.data else None)
            if not page.has_more or last is None or last == after:
                return
            after = last

    async def cancel_batch(
        self,
        batch_id: str,
        *,
        extra_headers: Mapping[str, str] | None = None,
        timeout: TimeoutTypes = None,
    ) -> Batch:
        """``POST /batches/{batch_id}/cancel``: usually answers with status ``cancelling``."""
        data = await self._pipeline.request(
            "POST",
            _batch_path(batch_id, "/cancel"),
            timeout=_timeout(timeout),
            extra_headers=extra_headers,
            idempotent=True,
        )
        from .types_jobs import Batch

        parsed: Batch = _parse(Batch, data)
        return parsed

    # -- responses

    async def create_response(
        self, *, model: str, input: str | Sequence[Any], **params: Unpack[ResponseParams]
    ) -> ResponsesResult:
        """``POST /responses``: the whole response at once (stored when ``store=True``)."""
        body, opts = _response_body(model, input, params)
        data = await self._pipeline.request(
            "POST",
            "/responses",
            body=body,
            timeout=opts.get("timeout"),
            extra_headers=opts.get("extra_headers"),
        )
        from .types_jobs import ResponsesResult

        parsed: ResponsesResult = _parse(ResponsesResult, data)
        return parsed

    def create_response_stream(
        self, *, model: str, input: str | Sequence[Any], **params: Unpack[ResponseParams]
    ) -> AsyncStream[ResponseStreamEvent]:
        """``POST /responses`` with ``stream: true``: ``async for`` the event dicts.

        Arguments are checked now; the request is sent when iteration starts.
        """
        body, opts = _response_body(model, input, params)
        body["stream"] = True
        return AsyncStream(
            self._pipeline.stream(  # type: ignore[arg-type]
                "POST",
                "/responses",
                body=body,
                timeout=opts.get("timeout"),
                extra_headers=opts.get("extra_headers"),
            )
        )

    async def retrieve_response(
        self,
        response_id: str,
        *,
        extra_headers: Mapping[str, str] | None = None,
        timeout: TimeoutTypes = None,
    ) -> ResponsesResult:
        """``GET /responses/{response_id}``: a response created with ``store=True``."""
        data = await self._pipeline.request(
            "GET",
            _response_path(response_id),
            timeout=_timeout(timeout),
            extra_headers=extra_headers,
        )
        from .types_jobs import ResponsesResult

        parsed: ResponsesResult = _parse(ResponsesResult, data)
        return parsed
