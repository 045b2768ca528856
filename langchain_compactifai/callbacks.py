"""Token usage through LangChain's callbacks: a handler that adds every model answer's usage to a
:class:`compactifai.usage_tally.UsageTally`, and a ``with`` block that attaches one to every call.

The service withdrew its usage statistics endpoint on 2026-03-24; this is the client-side view
(per model, per time window, optionally priced). Chat models are read from
``AIMessage.usage_metadata`` and ``response_metadata["model_name"]``; text LLMs from
``llm_output["token_usage"]`` (or, streamed, the generation's ``generation_info``).

Example:
    .. code-block:: python

        from compactifai import PriceTable
        from langchain_compactifai import ChatCompactifAI, get_compactifai_callback

        prices = PriceTable({"hypernova-60b": (0.2, 0.6)}, as_of="2026-09-01",
                            source="https://docs.compactif.ai/pricing/", currency="EUR")
        llm = ChatCompactifAI(model="hypernova-60b")
        with get_compactifai_callback(price_table=prices) as cb:
            llm.invoke("Hello!")
            for _ in llm.stream("Hi again"):
                pass
        print(cb.total_tokens, cb.total_cost)
        print(cb.summary(by=("model", "hour")))
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, LLMResult
from langchain_core.tracers.context import register_configure_hook

from compactifai import ConfigurationError
from compactifai.usage_tally import PriceTable, UsageSummary, UsageTally

__all__ = ["CompactifAIUsageCallbackHandler", "get_compactifai_callback"]


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _record_chat(tally: UsageTally, message: AIMessage, model: str | None) -> None:
    usage = message.usage_metadata
    if not usage:
        tally.record_unreported(model)
        return
    out_details: Mapping[str, Any] = usage.get("output_token_details") or {}
    in_details: Mapping[str, Any] = usage.get("input_token_details") or {}
    tally.record_tokens(
        model,
        prompt_tokens=usage.get("input_tokens") or 0,
        completion_tokens=usage.get("output_tokens") or 0,
        total_tokens=_int(usage.get("total_tokens")),
        reasoning_tokens=_int(out_details.get("reasoning")),
        cached_tokens=_int(in_details.get("cache_read")),
    )


def _record_result(tally: UsageTally, response: LLMResult) -> None:
    """One ``on_llm_end``: each prompt's first generation (the others of a prompt share its
    usage) for chat models; the run's ``token_usage`` for text LLMs."""
    output = response.llm_output or {}
    for generations in response.generations:
        if not generations:
            continue
        first = generations[0]
        if isinstance(first, ChatGeneration) and isinstance(first.message, AIMessage):
            meta = first.message.response_metadata
            model = meta.get("model_name") or meta.get("model") or output.get("model_name")
            _record_chat(tally, first.message, model)
            continue
        info = first.generation_info or {}
        model = output.get("model_name") or info.get("model_name")
        usage = output.get("token_usage") or info.get("token_usage")
        if usage:
            tally.record(model, usage)
        elif "token_usage" not in output:
            # LangChain empties token_usage on all but the first prompt of a batch (the first
            # holds the batch's total): only a run that never had one is unreported.
            tally.record_unreported(model)
        break  # a text LLM's run holds one prompt's generations; usage is the run's


class CompactifAIUsageCallbackHandler(BaseCallbackHandler):
    """Adds the token usage of every LLM/chat model run it sees to a :class:`UsageTally`.

    Pass it in ``config={"callbacks": [handler]}`` or ``callbacks=[handler]``, or use
    :func:`get_compactifai_callback`. It counts every model run it is given (CompactifAI's or
    another provider's, per model name). A run whose answer reports no usage (a stream without
    a usage chunk) is counted as ``unreported``. Do not also give the same tally to the
    transport client (``usage_tally=``): the answers would be counted twice.

    Example:
        >>> from compactifai import UsageTally
        >>> from langchain_core.messages import AIMessage
        >>> from langchain_core.outputs import ChatGeneration, LLMResult
        >>> handler = CompactifAIUsageCallbackHandler(UsageTally())
        >>> message = AIMessage("Hi", response_metadata={"model_name": "hypernova-60b"},
        ...     usage_metadata={"input_tokens": 9, "output_tokens": 3, "total_tokens": 12})
        >>> handler.on_llm_end(LLMResult(generations=[[ChatGeneration(message=message)]]))
        >>> handler.total_tokens, handler.successful_requests
        (12, 1)
    """

    #: Recording only adds numbers under a lock: async runs call it in place, not in a thread.
    run_inline: bool = True

    def __init__(
        self, tally: UsageTally | None = None, *, price_table: PriceTable | None = None
    ) -> None:
        super().__init__()
        if tally is not None and price_table is not None:
            raise ConfigurationError(
                "give the price table to the tally (UsageTally(price_table=...)) or pass no "
                "tally, not both"
            )
        #: Where the usage goes (share one between handlers, clients and threads freely).
        self.tally = tally if tally is not None else UsageTally(price_table=price_table)

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        """Add the run's usage to the tally."""
        _record_result(self.tally, response)

    def summary(self, **kwargs: Any) -> UsageSummary:
        """:meth:`UsageTally.summary` of the tally (``since``, ``until``, ``by``, ``prices``)."""
        return self.tally.summary(**kwargs)

    @property
    def prompt_tokens(self) -> int:
        return self.tally.summary().total.prompt_tokens

    @property
    def completion_tokens(self) -> int:
        return self.tally.summary().total.completion_tokens

    @property
    def total_tokens(self) -> int:
        return self.tally.summary().total.total_tokens

    @property
    def reasoning_tokens(self) -> int:
        return self.tally.summary().total.reasoning_tokens

    @property
    def successful_requests(self) -> int:
        """Runs that reported usage (``unreported`` ones are in :meth:`summary`)."""
        return self.tally.summary().total.requests

    @property
    def total_cost(self) -> float | None:
        """The cost from the tally's price table; None without one, or when a model in it
        has no price."""
        return self.tally.summary().total.cost

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.tally!r})"

    def __str__(self) -> str:
        return str(self.tally.summary())


_current_handler: ContextVar[CompactifAIUsageCallbackHandler | None] = ContextVar(
    "compactifai_usage_callback", default=None
)
# Registered once: every run started inside a ``with get_compactifai_callback()`` block gets
# the block's handler (inheritable: nested chains and agents too).
register_configure_hook(_current_handler, inheritable=True)


@contextmanager
def get_compactifai_callback(
    tally: UsageTally | None = None, *, price_table: PriceTable | None = None
) -> Iterator[CompactifAIUsageCallbackHandler]:
    """Count the token usage of every model run inside the ``with`` block.

    Like LangChain's ``get_usage_metadata_callback``, per model and time window and priced
    by ``price_table`` (or the given tally's). An inner block counts its runs for itself only.

    Example:
        >>> from langchain_compactifai import get_compactifai_callback
        >>> with get_compactifai_callback() as cb:
        ...     pass  # llm.invoke(...), chain.invoke(...), agent runs...
        >>> cb.total_tokens
        0
    """
    handler = CompactifAIUsageCallbackHandler(tally, price_table=price_table)
    token = _current_handler.set(handler)
    try:
        yield handler
    finally:
        _current_handler.reset(token)
