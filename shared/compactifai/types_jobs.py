"""Wire types of the provider-side job endpoints: ``/files``, ``/batches`` and ``/responses``.

Like :mod:`compactifai.types`, every answer keeps the fields the server sends
(``extra="allow"``) and is read leniently: a field the OpenAPI marks required but a server
leaves out is ``None`` here, not a validation error, so a new or older server never breaks a
poll loop. Streamed ``/responses`` events and the JSONL lines of a batch are plain dicts typed
with ``TypedDict`` (no per-event validation).

Example:
    >>> from compactifai.types_jobs import Batch
    >>> b = Batch.model_validate({"id": "batch_1", "object": "batch", "status": "in_progress",
    ...     "endpoint": "/v1/chat/completions", "input_file_id": "file_1",
    ...     "completion_window": "24h", "created_at": 1,
    ...     "request_counts": {"total": 3, "completed": 1, "failed": 0}, "region": "eu"})
    >>> b.is_terminal, b.request_counts.completed, b.model_extra["region"]
    (False, 1, 'eu')
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import NotRequired, TypedDict

__all__ = [
    "BATCH_ENDPOINTS",
    "TERMINAL_BATCH_STATUSES",
    "Batch",
    "BatchError",
    "BatchErrors",
    "BatchList",
    "BatchOutputLine",
    "BatchRequestCounts",
    "BatchRequestLine",
    "BatchStatus",
    "BatchUsage",
    "FileObject",
    "ResponseStreamEvent",
    "ResponseUsage",
    "ResponsesResult",
]

#: The statuses of a batch (OpenAI's Batch shape, as the service's OpenAPI lists them).
BatchStatus = Literal[
    "validating",
    "failed",
    "in_progress",
    "finalizing",
    "completed",
    "expired",
    "cancelling",
    "cancelled",
]
#: Statuses after which a batch changes no more.
TERMINAL_BATCH_STATUSES = frozenset({"completed", "failed", "expired", "cancelled"})
#: The endpoints a batch line may target (``BatchCreateParams.endpoint``; the service has no
#: embeddings route, so ``/v1/embeddings`` is left out).
BATCH_ENDPOINTS = ("/v1/chat/completions", "/v1/completions", "/v1/responses")


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, protected_namespaces=())


# ---------------------------------------------------------------- files


class FileObject(_Wire):
    """An uploaded file (``POST /files``).

    Example:
        >>> FileObject.model_validate({"id": "file-1", "bytes": 12, "created_at": 1,
        ...     "filename": "in.jsonl", "purpose": "batch"}).filename
        'in.jsonl'
    """

    id: str
    object: str | None = "file"
    bytes: int | None = None
    created_at: int | None = None
    filename: str | None = None
    purpose: str | None = None
    status: str | None = None


# ---------------------------------------------------------------- batches


class BatchRequestCounts(_Wire):
    """How many of a batch's requests are done: ``completed + failed <= total``."""

    total: int = 0
    completed: int = 0
    failed: int = 0


class BatchUsage(_Wire):
    """Token totals of a batch, when the server reports them."""

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0


class BatchError(_Wire):
    """One validation error of a batch; ``line`` is the 1-based line of the input file."""

    code: str | None = None
    message: str | None = None
    param: str | None = None
    line: int | None = None


class BatchErrors(_Wire):
    """The errors of a batch that failed validation."""

    object: str | None = None
    data: list[BatchError] = Field(default_factory=list)


class Batch(_Wire):
    """A batch job (``POST /batches``, ``GET /batches/{id}``, ``POST /batches/{id}/cancel``).

    ``status`` is one of :data:`BatchStatus` (kept as sent if a server adds another).

    Example:
        >>> Batch(id="batch_1", status="expired").is_terminal
        True
    """

    id: str
    object: str | None = "batch"
    status: str
    endpoint: str | None = None
    input_file_id: str | None = None
    completion_window: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    created_at: int | None = None
    in_progress_at: int | None = None
    finalizing_at: int | None = None
    completed_at: int | None = None
    failed_at: int | None = None
    expired_at: int | None = None
    expires_at: int | None = None
    cancelling_at: int | None = None
    cancelled_at: int | None = None
    request_counts: BatchRequestCounts | None = None
    usage: BatchUsage | None = None
    errors: BatchErrors | None = None
    metadata: dict[str, str] | None = None
    model: str | None = None

    @property
    def is_terminal(self) -> bool:
        """Whether the batch will change no more (completed, failed, expired, cancelled)."""
        return self.status in TERMINAL_BATCH_STATUSES


class BatchList(_Wire):
    """One page of ``GET /batches``: pass ``last_id`` as ``after`` while ``has_more``."""

    object: str | None = "list"
    data: list[Batch] = Field(default_factory=list)
    has_more: bool = False
    first_id: str | None = None
    last_id: str | None = None


class BatchRequestLine(TypedDict):
    """One line of a batch input file."""

    custom_id: str
    method: Literal["POST"]
    url: str
    body: dict[str, Any]


class BatchLineResponse(TypedDict, total=False):
    status_code: int
    request_id: str
    body: Any


class BatchOutputLine(TypedDict, total=False):
    """One line of a batch output or error file (OpenAI's shape; read leniently)."""

    id: str
    custom_id: str
    response: BatchLineResponse | None
    error: dict[str, Any] | None


# ---------------------------------------------------------------- responses


class ResponseUsage(_Wire):
    """Token usage of a response (``input_tokens``, ``output_tokens``, ``total_tokens``)."""

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0


class ResponsesResult(_Wire):
    """The answer of ``POST /responses`` or ``GET /responses/{id}``.

    ``output`` items are kept as the server's dicts (messages, reasoning, tool calls...);
    :attr:`output_text` joins the text of every ``output_text`` part.

    Example:
        >>> r = ResponsesResult.model_validate({"id": "resp_1", "object": "response",
        ...     "created_at": 1, "model": "m", "status": "completed",
        ...     "output": [{"type": "message", "role": "assistant",
        ...                 "content": [{"type": "output_text", "text": "Hello!"}]}],
        ...     "usage": {"input_tokens": 12, "output_tokens": 3, "total_tokens": 15}})
        >>> r.output_text, r.usage.total_tokens
        ('Hello!', 15)
    """

    id: str
    object: str | None = "response"
    created_at: int | None = None
    completed_at: int | None = None
    model: str | None = None
    status: str | None = None
    output: list[dict[str, Any]] = Field(default_factory=list)
    usage: ResponseUsage | None = None
    error: dict[str, Any] | None = None
    incomplete_details: dict[str, Any] | None = None
    instructions: Any = None
    metadata: dict[str, str] | None = None
    previous_response_id: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_output_tokens: int | None = None
    tools: list[Any] | None = None
    tool_choice: Any = None
    parallel_tool_calls: bool | None = None

    @property
    def output_text(self) -> str:
        """The text of every ``output_text`` part of every output message, joined."""
        texts: list[str] = []
        for item in self.output:
            if not isinstance(item, dict) or item.get("type", "message") != "message":
                continue
            content = item.get("content")
            if isinstance(content, str):
                texts.append(content)
                continue
            for part in content or ():
                if isinstance(part, dict) and part.get("type") == "output_text":
                    text = part.get("text")
                    if isinstance(text, str):
                        texts.append(text)
        return "".join(texts)


class ResponseStreamEvent(TypedDict):
    """One streamed ``/responses`` event as sent (``type`` says which; fields vary)."""

    type: str
    sequence_number: NotRequired[int]
    delta: NotRequired[str]
    response: NotRequired[dict[str, Any]]
