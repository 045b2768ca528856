"""compactifai: the typed, fast transport for the CompactifAI API (by Multiverse Computing).

Sync and async clients with one method per endpoint, pydantic wire types, SSE streaming,
retries with backoff, timeouts and typed errors. LangChain and LlamaIndex integrations
(``langchain_compactifai``, ``llama_index_compactifai``) are built on it.

Example:
    >>> from compactifai import CompactifAIClient
    >>> client = CompactifAIClient(api_key="sk-...")  # or set COMPACTIFAI_API_KEY
    >>> [m.id for m in client.list_models().data]  # doctest: +SKIP
    ['cai-mistral-small-3-1-slim', 'hypernova-60b', ...]
"""

from typing import TYPE_CHECKING

from ._catalogue import (
    CONTEXT_WINDOWS,
    CURRENT_MODELS,
    DEFAULT_CONTEXT_WINDOW,
    KNOWN_MODELS,
    WITHDRAWN_MODELS,
    ModelProfile,
    ModelWithdrawnWarning,
    check_capabilities,
    profile_from_table,
)
from ._checks import MAX_AUDIO_BYTES, AudioFileError, AudioFileNotFoundError
from ._client import AsyncCompactifAIClient, CompactifAIClient
from ._config import (
    API_KEY_ENV,
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    MODEL_ENV,
    ClientConfig,
    default_chat_model,
)
from ._errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CompactifAIError,
    ConfigurationError,
    ConflictError,
    EndpointWithdrawnError,
    InternalServerError,
    InvalidRequestError,
    ModelCapabilityError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeoutError,
    ResponseDecodeError,
    StreamInterruptedError,
    UnprocessableEntityError,
)
from ._ratelimit import RateLimit
from ._streams import AsyncStream, Stream
from ._version import __version__

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "CONTEXT_WINDOWS",
    "CURRENT_MODELS",
    "DEFAULT_BASE_URL",
    "DEFAULT_CONTEXT_WINDOW",
    "KNOWN_MODELS",
    "MAX_AUDIO_BYTES",
    "MODEL_ENV",
    "PUBLISHED_PRICES",
    "WITHDRAWN_MODELS",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncCompactifAIClient",
    "AsyncStream",
    "AudioFileError",
    "AudioFileNotFoundError",
    "AuthenticationError",
    "BadRequestError",
    "Batch",
    "BatchList",
    "ClientConfig",
    "CompactifAIClient",
    "CompactifAIError",
    "ConfigurationError",
    "ConflictError",
    "EndpointWithdrawnError",
    "FileObject",
    "InternalServerError",
    "InvalidRequestError",
    "ModelCapabilityError",
    "ModelPrice",
    "ModelProfile",
    "ModelWithdrawnWarning",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "PriceTable",
    "RateLimit",
    "RateLimitError",
    "RequestTimeoutError",
    "ResponseDecodeError",
    "ResponsesResult",
    "Stream",
    "StreamInterruptedError",
    "UnprocessableEntityError",
    "UsageSummary",
    "UsageTally",
    "__version__",
    "check_capabilities",
    "default_chat_model",
    "profile_from_table",
]

#: Job types (files, batches, responses: issue 13), imported on first use: importing
#: ``compactifai`` does not build their pydantic models.
if TYPE_CHECKING:
    from .types_jobs import Batch, BatchList, FileObject, ResponsesResult
    from .usage_tally import PUBLISHED_PRICES, ModelPrice, PriceTable, UsageSummary, UsageTally
_JOB_TYPES = frozenset({"Batch", "BatchList", "FileObject", "ResponsesResult"})
#: The usage tally (and its price table) likewise: a client only needs one when given one.
_USAGE_NAMES = frozenset(
    {"PUBLISHED_PRICES", "ModelPrice", "PriceTable", "UsageSummary", "UsageTally"}
)


def __getattr__(name: str) -> object:
    if name in _JOB_TYPES:
        from . import types_jobs

        return getattr(types_jobs, name)
    if name in _USAGE_NAMES:
        from . import usage_tally

        return getattr(usage_tally, name)
    raise AttributeError(f"module 'compactifai' has no attribute {name!r}")
