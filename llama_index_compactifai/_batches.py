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
    from compactifai.batch_jobs import BatchJobResult, PriceTableLike

# The transport is imported on first use (importing this package loads no compactifai).

__all__ = ["BatchChatResults", "ChatBatchesMixin"]

#: One input: a message list, or a string (one user message).
MessagesInput = Sequence[ChatMessage] | str


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
        from compactifai.batch_jobs import failed_rows

        return failed_rows(self.responses)


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
        from compactifai.batch_jobs import _refuse_bad_batch_inputs, chat_request

        _refuse_bad_batch_inputs(messages_list, kwargs, "message lists (or strings)")
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

    @staticmethod
    def _responses(job: BatchJobResult) -> list[ChatResponse | BaseException]:
        """Each row's answer as a ``ChatResponse``, or its error."""
        from compactifai.batch_jobs import chat_answers

        from .utils import chat_response_from_completion

        return chat_answers(job, chat_response_from_completion)

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
        from compactifai.batch_jobs import _create_one_batch

        bodies = self._batch_rows(messages_list, tools, tool_required, tool_choice, kwargs)
        return _create_one_batch(self._sync_client(), bodies, description, metadata)

    def batch_retrieve(
        self,
        batch_id: str,
        *,
        poll_interval: float = 10.0,
        timeout: float | None = None,
        return_exceptions: bool = False,
    ) -> list[ChatResponse]:
        """Wait for a batch; one ``ChatResponse`` per input, in input order."""
        from compactifai.batch_jobs import _retrieve_one_batch, results_or_raise

        job = _retrieve_one_batch(self._sync_client(), batch_id, poll_interval, timeout)
        return results_or_raise(self._responses(job), return_exceptions)

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
        from compactifai.batch_jobs import _acreate_one_batch

        bodies = self._batch_rows(messages_list, tools, tool_required, tool_choice, kwargs)
        return await _acreate_one_batch(self._async_client(), bodies, description, metadata)

    async def abatch_retrieve(
        self,
        batch_id: str,
        *,
        poll_interval: float = 10.0,
        timeout: float | None = None,
        return_exceptions: bool = False,
    ) -> list[ChatResponse]:
        """The async :meth:`batch_retrieve`."""
        from compactifai.batch_jobs import _aretrieve_one_batch, results_or_raise

        job = await _aretrieve_one_batch(self._async_client(), batch_id, poll_interval, timeout)
        return results_or_raise(self._responses(job), return_exceptions)

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
