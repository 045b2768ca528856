"""Token usage through LlamaIndex's callback manager: a handler of ``CBEventType.LLM`` events that
adds every answer's usage to a :class:`compactifai.usage_tally.UsageTally`.

The service withdrew its usage statistics endpoint on 2026-03-24; this is the client-side view
(per model, per time window, optionally priced). The ``CompactifAI`` LLM puts an answer's token
counts in ``ChatResponse.additional_kwargs`` / ``CompletionResponse.additional_kwargs``
(``prompt_tokens``, ``completion_tokens``, ``total_tokens``, ``reasoning_tokens`` when
reported) and the wire answer in ``raw``; other LLMs' ``raw["usage"]`` is read too. A streamed
answer is read from its last response, where the usage chunk lands.

Example:
    .. code-block:: python

        from llama_index.core import Settings
        from llama_index.core.callbacks import CallbackManager

        from compactifai import PriceTable
        from llama_index_compactifai import CompactifAI, CompactifAIUsageCallbackHandler

        prices = PriceTable({"hypernova-60b": (0.2, 0.6)}, as_of="2026-09-01",
                            source="https://docs.compactif.ai/pricing/", currency="EUR")
        usage = CompactifAIUsageCallbackHandler(price_table=prices)
        Settings.callback_manager = CallbackManager([usage])  # or CompactifAI(callback_manager=...)
        llm = CompactifAI(model="hypernova-60b")
        llm.complete("Hello!")
        print(usage.summary(by=("model", "hour")))
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from llama_index.core.callbacks.base_handler import BaseCallbackHandler
from llama_index.core.callbacks.schema import CBEventType, EventPayload

from compactifai import ConfigurationError
from compactifai.usage_tally import PriceTable, UsageSummary, UsageTally

__all__ = ["CompactifAIUsageCallbackHandler"]

#: Every event but LLM calls is ignored (the callback manager does not even call us for them).
_IGNORED: list[CBEventType] = [kind for kind in CBEventType if kind is not CBEventType.LLM]
#: LLM events started and not yet ended whose model is remembered (a stream never read to its
#: end never ends its event: the oldest are forgotten past this many).
_MAX_OPEN_EVENTS = 1024


def _get(source: Any, name: str) -> Any:
    if isinstance(source, Mapping):
        return source.get(name)
    return getattr(source, name, None)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _record(tally: UsageTally, model: str | None, response: Any) -> None:
    """Add a response's token counts: its additional_kwargs (the CompactifAI LLM's flat
    counts), else the raw answer's ``usage``; unreported when it has neither."""
    extra = getattr(response, "additional_kwargs", None)
    if isinstance(extra, Mapping) and ("prompt_tokens" in extra or "total_tokens" in extra):
        tally.record_tokens(
            model,
            prompt_tokens=_int(extra.get("prompt_tokens")) or 0,
            completion_tokens=_int(extra.get("completion_tokens")) or 0,
            total_tokens=_int(extra.get("total_tokens")),
            reasoning_tokens=_int(extra.get("reasoning_tokens")),
            cached_tokens=_int(extra.get("cached_tokens")),
        )
        return
    tally.record(model, _get(getattr(response, "raw", None), "usage") or None)


class CompactifAIUsageCallbackHandler(BaseCallbackHandler):
    """Adds the token usage of every LLM call the callback manager reports to a tally.

    Register it in a ``CallbackManager`` (``Settings.callback_manager`` or an LLM's own
    ``callback_manager``). An answer without usage (a stream without a usage chunk) is counted
    as ``unreported``. Do not also give the same tally to the transport client
    (``usage_tally=``): the answers would be counted twice.

    Example:
        >>> from llama_index.core.base.llms.types import ChatMessage, ChatResponse
        >>> from llama_index.core.callbacks import CBEventType, EventPayload
        >>> handler = CompactifAIUsageCallbackHandler()
        >>> answer = ChatResponse(message=ChatMessage(content="Hi"),
        ...     raw={"model": "hypernova-60b"},
        ...     additional_kwargs={"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12})
        >>> handler.on_event_end(CBEventType.LLM, {EventPayload.RESPONSE: answer}, event_id="1")
        >>> handler.summary().total.total_tokens, handler.tally.models()
        (12, ['hypernova-60b'])
    """

    def __init__(
        self, tally: UsageTally | None = None, *, price_table: PriceTable | None = None
    ) -> None:
        super().__init__(event_starts_to_ignore=_IGNORED, event_ends_to_ignore=_IGNORED)
        if tally is not None and price_table is not None:
            raise ConfigurationError(
                "give the price table to the tally (UsageTally(price_table=...)) or pass no "
                "tally, not both"
            )
        #: Where the usage goes (share one between handlers, clients and threads freely).
        self.tally = tally if tally is not None else UsageTally(price_table=price_table)
        self._lock = threading.Lock()
        self._models: dict[str, str] = {}

    def on_event_start(
        self,
        event_type: CBEventType,
        payload: dict[str, Any] | None = None,
        event_id: str = "",
        parent_id: str = "",
        **kwargs: Any,
    ) -> str:
        """Remember the model an LLM call was made with (for an answer that names none)."""
        if event_type is CBEventType.LLM and payload:
            model = _get(payload.get(EventPayload.SERIALIZED), "model")
            if isinstance(model, str) and model:
                with self._lock:
                    self._models[event_id] = model
                    if len(self._models) > _MAX_OPEN_EVENTS:
                        del self._models[next(iter(self._models))]
        return event_id

    def on_event_end(
        self,
        event_type: CBEventType,
        payload: dict[str, Any] | None = None,
        event_id: str = "",
        **kwargs: Any,
    ) -> None:
        """Add the answer's usage to the tally (a failed call adds nothing)."""
        if event_type is not CBEventType.LLM:
            return
        with self._lock:
            asked = self._models.pop(event_id, None)
        if not payload or EventPayload.EXCEPTION in payload:
            return
        response = payload.get(EventPayload.RESPONSE) or payload.get(EventPayload.COMPLETION)
        if response is None or isinstance(response, str):
            return
        named = _get(getattr(response, "raw", None), "model")
        model = named if isinstance(named, str) and named else asked
        _record(self.tally, model, response)

    def start_trace(self, trace_id: str | None = None) -> None:
        """Nothing to do: usage is per LLM call."""

    def end_trace(
        self, trace_id: str | None = None, trace_map: dict[str, list[str]] | None = None
    ) -> None:
        """Nothing to do: usage is per LLM call."""

    def summary(self, **kwargs: Any) -> UsageSummary:
        """:meth:`UsageTally.summary` of the tally (``since``, ``until``, ``by``, ``prices``)."""
        return self.tally.summary(**kwargs)

    @property
    def total_tokens(self) -> int:
        return self.tally.summary().total.total_tokens

    @property
    def total_cost(self) -> float | None:
        """The cost from the tally's price table; None without one, or when a model in it
        has no price."""
        return self.tally.summary().total.cost

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.tally!r})"

    def __str__(self) -> str:
        return str(self.tally.summary())
