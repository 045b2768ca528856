"""Provider-side batches for :class:`~llama_index_compactifai.CompactifAI` (a mixin).

``batch_create`` uploads one chat request per message list and creates a batch on the
service; ``batch_retrieve`` waits for it and returns one ``ChatResponse`` per input, in INPUT
order, every row reported (a failed row is its exception with ``return_exceptions=True``, or
all rows ride on one :class:`~compactifai.batch_jobs.BatchIncompleteError`). ``run_batch_job``
is the resumable job of :mod:`compactifai.batch_jobs`. Async twins: ``abatch_create``,
``abatch_retrieve``, ``arun_batch_job``.

Each row is the exact body ``chat`` (or, with ``tools``, ``chat_with_tools``) would send, and
each answer converts through the same function as a normal chat answer.

Example:
    >>> from llama_index.core.llms import ChatMessage
    >>> from llama_index_compactifai import CompactifAI
    >>> llm = CompactifAI(model="hypernova-60b", api_key="sk-...")
    >>> batch_id = llm.batch_create(  # doctest: +SKIP
    ...     [[ChatMessage(role="user", content="Hi")], "What is a tensor?"])
    >>> [r.message.content for r in llm.batch_retrieve(batch_id)]  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

    from compactifai import AsyncCompactifAIClient, CompactifAIClient
    from compactifai.batch_jobs import AsyncBatchJob, BatchJob, BatchJobResult, PriceTableLike

# The transport is imported on first use (importing this package loads no compactifai).

__all__ = ["BatchChatResults", "ChatBatchesMixin"]

#: One input: a message list, or a string (one user message).
MessagesInput = Sequence[ChatMessage] | str
_MAX_POLL_INTERVAL = 60.0


@dataclass
class BatchChatResults:
    """A finished :meth:`ChatBatchesMixin.run_batch_job`: one entry per input, in order.

    ``responses[i]`` is a ``ChatResponse``, or the exception saying why input ``i`` has none.
    ``job`` is the transport's result (batches, row outcomes, ``job.usage`` totals).
    """

    responses: list[ChatResponse | BaseException]
    job: BatchJobResult = field(repr=False)

    @property
    def usage(self) -> Any:
        return self.job.usage

    @property
    def errors(self) -> dict[int, BaseException]:
        return {i: r for i, r in enumerate(self.responses) if isinstance(r, BaseException)}


def _limits(max_requests: int | None, max_bytes: int | None) -> tuple[int, int]:
    """The split limits: those given, else the transport's own."""
    from compactifai.batch_jobs import DEFAULT_MAX_BYTES_PER_FILE, DEFAULT_MAX_REQUESTS_PER_BATCH

    return (
        DEFAULT_MAX_REQUESTS_PER_BATCH if max_requests is None else max_requests,
        DEFAULT_MAX_BYTES_PER_FILE if max_bytes is None else max_bytes,
    )


class ChatBatchesMixin:
    """``batch_create``, ``batch_retrieve``, ``run_batch_job`` and their async twins."""

    if TYPE_CHECKING:  # provided by CompactifAI (not annotated here: pydantic would see fields)
        model: str

        def _sync_client(self) -> CompactifAIClient: ...

        def _async_client(self) -> AsyncCompactifAIClient: ...

        def _wire(self, messages: Sequence[ChatMessage]) -> list[dict[str, Any]]: ...

        def _params(
            self, kwargs: Mapping[str, Any], completion: bool = False
        ) -> dict[str, Any]: ...

    def _batch_rows(
        self,
        messages_list: Sequence[MessagesInput],
        tools: Sequence[BaseTool] | None,
        tool_required: bool,
        tool_choice: str | dict[str, Any] | None,
        kwargs: Mapping[str, Any],
    ) -> list[dict[str, Any]]:
        """The body ``chat`` (``chat_with_tools`` with tools) would send, per input."""
        from compactifai import InvalidRequestError
        from compactifai.batch_jobs import chat_request

        if "poll_interval" in kwargs:  # langchain-openai's batch_create took it (unused)
            raise InvalidRequestError(
                "poll_interval is an argument of batch_retrieve, not of a request",
                param="poll_interval",
            )
        if isinstance(messages_list, (str, bytes)) or not messages_list:
            raise InvalidRequestError(
                "messages_list must be a non-empty list of message lists (or strings), one "
                "per request",
                param="messages_list",
            )
        bodies = []
        for item in messages_list:
            messages: list[ChatMessage] = (
                [ChatMessage(role=MessageRole.USER, content=item)]
                if isinstance(item, str)
                else list(item)
            )
            call = dict(kwargs)
            if tools:
                prepared = self._prepare_chat_with_tools_compat(  # type: ignore[attr-defined]
                    tools,
                    chat_history=messages,
                    tool_required=tool_required,
                    **({"tool_choice": tool_choice} if tool_choice is not None else {}),
                    **call,
                )
                messages = prepared.pop("messages")
                call = prepared
            bodies.append(chat_request(self.model, self._wire(messages), **self._params(call)))
        return bodies

    def _responses(self, job: BatchJobResult) -> list[ChatResponse | BaseException]:
        from compactifai import CompactifAIError
        from compactifai._client import _parse
        from compactifai.types import ChatCompletion

        from .utils import chat_response_from_completion

        out: list[ChatResponse | BaseException] = []
        for row in job.rows:
            if row.ok and row.body is not None:
                try:
                    out.append(chat_response_from_completion(_parse(ChatCompletion, row.body)))
                except CompactifAIError as err:
                    out.append(err)
            else:
                assert row.error is not None
                out.append(row.error)
        return out

    @staticmethod
    def _finish(responses: list[ChatResponse | BaseException], return_exceptions: bool) -> Any:
        if not return_exceptions:
            from compactifai.batch_jobs import incomplete_error

            errors = {i: r for i, r in enumerate(responses) if isinstance(r, BaseException)}
            if errors:
                raise incomplete_error(responses, errors)
        return responses

    @staticmethod
    def _batch_metadata(
        description: str | None, metadata: Mapping[str, str] | None
    ) -> dict[str, str] | None:
        meta = dict(metadata or {})
        if description is not None:
            meta["description"] = description
        return meta or None

    @staticmethod
    def _one_batch(job: BatchJob | AsyncBatchJob) -> None:
        if len(job.chunks) > 1:
            from compactifai import InvalidRequestError
            from compactifai.batch_jobs import (
                DEFAULT_MAX_BYTES_PER_FILE,
                DEFAULT_MAX_REQUESTS_PER_BATCH,
            )

            raise InvalidRequestError(
                f"{len(job.custom_ids)} requests do not fit one batch (at most "
                f"{DEFAULT_MAX_REQUESTS_PER_BATCH} requests and {DEFAULT_MAX_BYTES_PER_FILE} "
                "bytes): use run_batch_job(), which splits them over several batches",
                param="messages_list",
            )

    # -- sync

    def batch_create(
        self,
        messages_list: Sequence[MessagesInput],
        *,
        description: str | None = None,
        metadata: dict[str, str] | None = None,
        tools: Sequence[BaseTool] | None = None,
        tool_required: bool = False,
        tool_choice: str | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> str:
        """Upload one chat request per input and create a provider-side batch; its id.

        ``kwargs`` are what ``chat`` takes; ``tools`` (with ``tool_required`` /
        ``tool_choice``) makes each row what ``chat_with_tools`` sends.
        """
        from compactifai.batch_jobs import BatchJob

        bodies = self._batch_rows(messages_list, tools, tool_required, tool_choice, kwargs)
        job = BatchJob(
            self._sync_client(), bodies, metadata=self._batch_metadata(description, metadata)
        )
        self._one_batch(job)
        (batch_id,) = job.submit()
        return batch_id

    def batch_retrieve(
        self,
        batch_id: str,
        *,
        poll_interval: float = 10.0,
        timeout: float | None = None,
        return_exceptions: bool = False,
    ) -> list[ChatResponse]:
        """Wait for a batch; one ``ChatResponse`` per input, in input order."""
        from compactifai.batch_jobs import collect_batches

        job = collect_batches(
            self._sync_client(),
            [batch_id],
            poll_interval=poll_interval,
            max_poll_interval=max(poll_interval, _MAX_POLL_INTERVAL),
            timeout=timeout,
        )
        return self._finish(self._responses(job), return_exceptions)  # type: ignore[no-any-return]

    def run_batch_job(
        self,
        messages_list: Sequence[MessagesInput],
        *,
        state_path: str | os.PathLike[str] | None = None,
        custom_ids: Sequence[str] | None = None,
        progress: bool = False,
        poll_interval: float = 5.0,
        max_poll_interval: float = 60.0,
        timeout: float | None = None,
        cancel_on_timeout: bool = False,
        max_requests_per_batch: int | None = None,
        max_bytes_per_file: int | None = None,
        metadata: Mapping[str, str] | None = None,
        price_table: PriceTableLike | None = None,
        tools: Sequence[BaseTool] | None = None,
        tool_required: bool = False,
        tool_choice: str | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> BatchChatResults:
        """The resumable job (:class:`compactifai.batch_jobs.BatchJob`) over these inputs.

        ``max_requests_per_batch`` / ``max_bytes_per_file``: None keeps the transport's limits.
        """
        from compactifai.batch_jobs import BatchJob

        bodies = self._batch_rows(messages_list, tools, tool_required, tool_choice, kwargs)
        limits = _limits(max_requests_per_batch, max_bytes_per_file)
        job = BatchJob(
            self._sync_client(),
            bodies,
            custom_ids=custom_ids,
            state_path=state_path,
            progress=progress,
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
            timeout=timeout,
            cancel_on_timeout=cancel_on_timeout,
            metadata=metadata,
            max_requests_per_batch=limits[0],
            max_bytes_per_file=limits[1],
            price_table=price_table,
        ).run()
        return BatchChatResults(self._responses(job), job)

    # -- async

    async def abatch_create(
        self,
        messages_list: Sequence[MessagesInput],
        *,
        description: str | None = None,
        metadata: dict[str, str] | None = None,
        tools: Sequence[BaseTool] | None = None,
        tool_required: bool = False,
        tool_choice: str | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> str:
        """The async :meth:`batch_create`."""
        from compactifai.batch_jobs import AsyncBatchJob

        bodies = self._batch_rows(messages_list, tools, tool_required, tool_choice, kwargs)
        job = AsyncBatchJob(
            self._async_client(), bodies, metadata=self._batch_metadata(description, metadata)
        )
        self._one_batch(job)
        (batch_id,) = await job.submit()
        return batch_id

    async def abatch_retrieve(
        self,
        batch_id: str,
        *,
        poll_interval: float = 10.0,
        timeout: float | None = None,
        return_exceptions: bool = False,
    ) -> list[ChatResponse]:
        """The async :meth:`batch_retrieve`."""
        from compactifai.batch_jobs import acollect_batches

        job = await acollect_batches(
            self._async_client(),
            [batch_id],
            poll_interval=poll_interval,
            max_poll_interval=max(poll_interval, _MAX_POLL_INTERVAL),
            timeout=timeout,
        )
        return self._finish(self._responses(job), return_exceptions)  # type: ignore[no-any-return]

    async def arun_batch_job(
        self,
        messages_list: Sequence[MessagesInput],
        *,
        state_path: str | os.PathLike[str] | None = None,
        custom_ids: Sequence[str] | None = None,
        progress: bool = False,
        poll_interval: float = 5.0,
        max_poll_interval: float = 60.0,
        timeout: float | None = None,
        cancel_on_timeout: bool = False,
        max_requests_per_batch: int | None = None,
        max_bytes_per_file: int | None = None,
        metadata: Mapping[str, str] | None = None,
        price_table: PriceTableLike | None = None,
        tools: Sequence[BaseTool] | None = None,
        tool_required: bool = False,
        tool_choice: str | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> BatchChatResults:
        """The async :meth:`run_batch_job`."""
        from compactifai.batch_jobs import AsyncBatchJob

        bodies = self._batch_rows(messages_list, tools, tool_required, tool_choice, kwargs)
        limits = _limits(max_requests_per_batch, max_bytes_per_file)
        job = await AsyncBatchJob(
            self._async_client(),
            bodies,
            custom_ids=custom_ids,
            state_path=state_path,
            progress=progress,
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
            timeout=timeout,
            cancel_on_timeout=cancel_on_timeout,
            metadata=metadata,
            max_requests_per_batch=limits[0],
            max_bytes_per_file=limits[1],
            price_table=price_table,
        ).run()
        return BatchChatResults(self._responses(job), job)
