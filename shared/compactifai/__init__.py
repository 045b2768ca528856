"""compactifai: the typed, fast transport for the CompactifAI API (by Multiverse Computing).

Sync and async clients with one method per endpoint, pydantic wire types, SSE streaming,
retries with backoff, timeouts and typed errors. LangChain and LlamaIndex integrations
(``langchain_compactifai``, ``llama_index_compactifai``) are built on it.

Example:
    >>> from compactifai import CompactifAIClient
    >>> client = CompactifAIClient(api_key="sk-...")  # or set COMPACTIFAI_API_KEY
    >>> [m.id for m in client.list_models().data]  # doctest: +SKIP
    ['llama-4-scout', 'cai-llama-4-scout-slim', ...]
"""

from ._catalogue import (
    CONTEXT_WINDOWS,
    DEFAULT_CONTEXT_WINDOW,
    KNOWN_MODELS,
    ModelProfile,
    check_capabilities,
    profile_from_table,
)
from ._checks import MAX_AUDIO_BYTES, AudioFileError, AudioFileNotFoundError
from ._client import AsyncCompactifAIClient, CompactifAIClient
from ._config import API_KEY_ENV, BASE_URL_ENV, DEFAULT_BASE_URL, ClientConfig
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
    "DEFAULT_BASE_URL",
    "DEFAULT_CONTEXT_WINDOW",
    "KNOWN_MODELS",
    "MAX_AUDIO_BYTES",
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
    "ClientConfig",
    "CompactifAIClient",
    "CompactifAIError",
    "ConfigurationError",
    "ConflictError",
    "EndpointWithdrawnError",
    "InternalServerError",
    "InvalidRequestError",
    "ModelCapabilityError",
    "ModelProfile",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimit",
    "RateLimitError",
    "RequestTimeoutError",
    "ResponseDecodeError",
    "Stream",
    "StreamInterruptedError",
    "UnprocessableEntityError",
    "__version__",
    "check_capabilities",
    "profile_from_table",
]
