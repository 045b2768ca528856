"""Provider-side batches for :class:`~langchain_compactifai.ChatCompactifAI` (a mixin).

``batch_create`` / ``batch_retrieve`` carry the names and arguments of the batch support in
the LangChain repository's ``langchain_openai/chat_models/batch.py``, so users' habits carry
over, with two differences: results come back in INPUT order for any size (rows are matched
by ``custom_id``, never sorted as strings, so ``request_10`` does not come before
``request_2``), and every row is reported: a failed row is an exception in its place
(``return_exceptions=True``) or one :class:`~compactifai.batch_jobs.BatchIncompleteError`
carrying every row, raised only after all were collected.

Each row is the exact body ``_generate`` would send (the model's own request building, bound
tools and ``response_format`` included) and each answer converts through the same function
as a normal answer. ``run_batch_job`` is the resumable job of :mod:`compactifai.batch_jobs`
(split, progress bar, state file, usage totals).

Example:
    .. code-block:: python

        from langchain_compactifai import ChatCompactifAI

        llm = ChatCompactifAI(model="hypernova-60b")
        batch_id = llm.batch_create([[("user", "Hi")], [("user", "What is a tensor?")]])
        results = llm.batch_retrieve(batch_id, poll_interval=30)  # list[ChatResult]
        print(results[1].generations[0].message.content)

        # tools or structured output: pass the kwargs a binding holds
        tooled = llm.bind_tools([get_weather])
        batch_id = llm.batch_create(questions, **tooled.kwargs)
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from compactifai import CompactifAIError, InvalidRequestError
from compactifai.batch_jobs import (
    DEFAULT_MAX_BYTES_PER_FILE,
    DEFAULT_MAX_REQUESTS_PER_BATCH,
    AsyncBatchJob,
    BatchJob,
    BatchJobResult,
    PriceTableLike,
    _acreate_one_batch,
    _aretrieve_one_batch,
    _create_one_batch,
    _refuse_bad_batch_inputs,
    _retrieve_one_batch,
    chat_answers,
    chat_request,
    failed_rows,
    results_or_raise,
)

from ._errors import langchain_error, raise_as_langchain_error

if TYPE_CHECKING:
    from langchain_core.language_models import LanguageModelInput
    from langchain_core.messages import BaseMessage
    from langchain_core.outputs import ChatResult
    from langchain_core.runnables import RunnableConfig

    from compactifai import AsyncCompactifAIClient, CompactifAIClient
    from compactifai.types import ChatCompletion

__all__ = ["ChatBatchJobResult", "ChatBatchesMixin"]


def _distinct(
    checks: Sequence[tuple[str, Any, dict[str, Any]]],
) -> list[tuple[str, Any, dict[str, Any]]]:
    """One capability check per (model, media, tools): the same as checking every row."""
    found: dict[tuple[str, Any, bool], tuple[str, Any, dict[str, Any]]] = {}
    for model, media, params in checks:
        found.setdefault((model, media, bool(params.get("tools"))), (model, media, params))
    return list(found.values())


@dataclass
class ChatBatchJobResult:
    """A finished :meth:`ChatBatchesMixin.run_batch_job`: one entry per input, in order.

    ``results[i]`` is a ``ChatResult``, or the exception saying why row ``i`` has none
    (failed, expired, cancelled, timed out). ``job`` is the transport's result: the batches,
    each row's outcome, and ``job.usage`` (token totals, and cost with a price table).
    """

    results: list[ChatResult | BaseException]
    job: BatchJobResult = field(repr=False)

    @property
    def usage(self) -> Any:
        return self.job.usage

    @property
    def errors(self) -> dict[int, BaseException]:
        return failed_rows(self.results)


class ChatBatchesMixin:
    """``batch_create``, ``batch_retrieve``, ``run_batch_job`` and their async twins."""

    if TYPE_CHECKING:  # provided by ChatCompactifAI (not annotated here: pydantic would see fields)
        model_name: str

        @property
        def client(self) -> CompactifAIClient: ...

        @property
        def async_client(self) -> AsyncCompactifAIClient: ...

        def _convert_input(self, input: LanguageModelInput) -> Any: ...

        # The fourth item (what the messages carry: images, audio...) is passed back as is.
        def _request(
            self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
        ) -> tuple[str, list[dict[str, Any]], dict[str, Any], Any]: ...

        def _check(self, model: str, media: Any, params: dict[str, Any]) -> None: ...

        async def _acheck(self, model: str, media: Any, params: dict[str, Any]) -> None: ...

    # -- building rows and reading answers

    def _batch_rows(
        self,
        messages_list: Sequence[LanguageModelInput],
        kwargs: Mapping[str, Any],
        config: RunnableConfig | None,
    ) -> tuple[list[dict[str, Any]], list[tuple[str, Any, dict[str, Any]]]]:
        """The request bodies, and per row what the capability check needs."""
        if config is not None:
            # A RunnableBinding passes its config to methods that take one, never its kwargs:
            # its tools or response_format would silently be missing from every row.
            raise InvalidRequestError(
                "batch methods take no config, and one came: called through a binding "
                "(bind_tools, bind, with_structured_output, with_config), whose kwargs do not "
                "reach this method, so its tools or response_format would be lost. Call it on "
                "the model with the binding's kwargs: llm.batch_create(inputs, **binding.kwargs)",
                param="config",
            )
        _refuse_bad_batch_inputs(
            messages_list, kwargs, "inputs (message lists, strings or prompt values)"
        )
        call = dict(kwargs)
        stop = call.pop("stop", None)
        bodies: list[dict[str, Any]] = []
        checks: list[tuple[str, Any, dict[str, Any]]] = []
        for item in messages_list:
            messages = self._convert_input(item).to_messages()
            model, wire, params, media = self._request(messages, stop, call)
            checks.append((model, media, params))
            bodies.append(chat_request(model, wire, **params))
        return bodies, checks

    def _results(self, job: BatchJobResult) -> list[ChatResult | BaseException]:
        """Each row's answer as a ``ChatResult``, or its error as LangChain's twin."""
        from .chat_models import _convert_completion

        def convert(completion: ChatCompletion) -> ChatResult:
            return _convert_completion(completion, self.model_name)

        return chat_answers(job, convert, langchain_error)

    # -- sync

    def batch_create(
        self,
        messages_list: Sequence[LanguageModelInput],
        *,
        description: str | None = None,
        metadata: dict[str, str] | None = None,
        config: RunnableConfig | None = None,
        **kwargs: Any,
    ) -> str:
        """Upload one request per input and create a provider-side batch; its id.

        ``kwargs`` are what ``invoke`` takes (``stop``, ``temperature``, ``tools``,
        ``tool_choice``, ``response_format``...): pass a binding's ``kwargs`` to batch with
        its tools or structured output. ``description`` goes in the batch's metadata.
        """
        try:
            bodies, checks = self._batch_rows(messages_list, kwargs, config)
            for model, media, params in _distinct(checks):
                self._check(model, media, params)
            batch_id = _create_one_batch(self.client, bodies, description, metadata)
        except CompactifAIError as err:
            raise_as_langchain_error(err)
        return batch_id

    def batch_retrieve(
        self,
        batch_id: str,
        *,
        poll_interval: float = 10.0,
        timeout: float | None = None,
        return_exceptions: bool = False,
    ) -> list[ChatResult]:
        """Wait for a batch and return one ``ChatResult`` per input, in input order.

        A row without an answer is its exception with ``return_exceptions=True``; otherwise
        :class:`~compactifai.batch_jobs.BatchIncompleteError` is raised once every row is in,
        carrying them all on ``.results``.
        """
        try:
            job = _retrieve_one_batch(self.client, batch_id, poll_interval, timeout)
        except CompactifAIError as err:
            raise_as_langchain_error(err)
        return results_or_raise(self._results(job), return_exceptions)

    def run_batch_job(
        self,
        messages_list: Sequence[LanguageModelInput],
        *,
        state_path: str | os.PathLike[str] | None = None,
        custom_ids: Sequence[str] | None = None,
        progress: bool = False,
        poll_interval: float = 5.0,
        max_poll_interval: float = 60.0,
        timeout: float | None = None,
        cancel_on_timeout: bool = False,
        max_requests_per_batch: int = DEFAULT_MAX_REQUESTS_PER_BATCH,
        max_bytes_per_file: int = DEFAULT_MAX_BYTES_PER_FILE,
        metadata: Mapping[str, str] | None = None,
        price_table: PriceTableLike | None = None,
        config: RunnableConfig | None = None,
        **kwargs: Any,
    ) -> ChatBatchJobResult:
        """The resumable job (:class:`compactifai.batch_jobs.BatchJob`) over these inputs.

        Splits into several batches as needed, shows a ``tqdm`` bar with ``progress=True``,
        and with ``state_path`` survives a restart without uploading or creating twice.
        Returns every row (answers or exceptions) in input order, and the usage totals.
        """
        try:
            bodies, checks = self._batch_rows(messages_list, kwargs, config)
            for model, media, params in _distinct(checks):
                self._check(model, media, params)
            job = BatchJob(
                self.client,
                bodies,
                custom_ids=custom_ids,
                state_path=state_path,
                progress=progress,
                poll_interval=poll_interval,
                max_poll_interval=max_poll_interval,
                timeout=timeout,
                cancel_on_timeout=cancel_on_timeout,
                max_requests_per_batch=max_requests_per_batch,
                max_bytes_per_file=max_bytes_per_file,
                metadata=metadata,
                price_table=price_table,
            ).run()
        except CompactifAIError as err:
            raise_as_langchain_error(err)
        return ChatBatchJobResult(self._results(job), job)

    # -- async

    async def abatch_create(
        self,
        messages_list: Sequence[LanguageModelInput],
        *,
        description: str | None = None,
        metadata: dict[str, str] | None = None,
        config: RunnableConfig | None = None,
        **kwargs: Any,
    ) -> str:
        """The async :meth:`batch_create`."""
        try:
            bodies, checks = self._batch_rows(messages_list, kwargs, config)
            for model, media, params in _distinct(checks):
                await self._acheck(model, media, params)
            batch_id = await _acreate_one_batch(self.async_client, bodies, description, metadata)
        except CompactifAIError as err:
            raise_as_langchain_error(err)
        return batch_id

    async def abatch_retrieve(
        self,
        batch_id: str,
        *,
        poll_interval: float = 10.0,
        timeout: float | None = None,
        return_exceptions: bool = False,
    ) -> list[ChatResult]:
        """The async :meth:`batch_retrieve`."""
        try:
            job = await _aretrieve_one_batch(self.async_client, batch_id, poll_interval, timeout)
        except CompactifAIError as err:
            raise_as_langchain_error(err)
        return results_or_raise(self._results(job), return_exceptions)

    async def arun_batch_job(
        self,
        messages_list: Sequence[LanguageModelInput],
        *,
        state_path: str | os.PathLike[str] | None = None,
        custom_ids: Sequence[str] | None = None,
        progress: bool = False,
        poll_interval: float = 5.0,
        max_poll_interval: float = 60.0,
        timeout: float | None = None,
        cancel_on_timeout: bool = False,
        max_requests_per_batch: int = DEFAULT_MAX_REQUESTS_PER_BATCH,
        max_bytes_per_file: int = DEFAULT_MAX_BYTES_PER_FILE,
        metadata: Mapping[str, str] | None = None,
        price_table: PriceTableLike | None = None,
        config: RunnableConfig | None = None,
        **kwargs: Any,
    ) -> ChatBatchJobResult:
        """The async :meth:`run_batch_job`."""
        try:
            bodies, checks = self._batch_rows(messages_list, kwargs, config)
            for model, media, params in _distinct(checks):
                await self._acheck(model, media, params)
            job = await AsyncBatchJob(
                self.async_client,
                bodies,
                custom_ids=custom_ids,
                state_path=state_path,
                progress=progress,
                poll_interval=poll_interval,
                max_poll_interval=max_poll_interval,
                timeout=timeout,
                cancel_on_timeout=cancel_on_timeout,
                max_requests_per_batch=max_requests_per_batch,
                max_bytes_per_file=max_bytes_per_file,
                metadata=metadata,
                price_table=price_table,
            ).run()
        except CompactifAIError as err:
            raise_as_langchain_error(err)
        return ChatBatchJobResult(self._results(job), job)
