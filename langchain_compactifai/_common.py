"""What the chat model and the LLM share: client building, usage conversion, typed refusals.

Nothing here speaks HTTP: the transport (:mod:`compactifai`) does. This module only builds the
transport's clients from a LangChain model's fields (once, lazily) and converts what the
transport returns.
"""

from __future__ import annotations

import threading
import warnings
from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr

from compactifai import (
    API_KEY_ENV,
    AsyncCompactifAIClient,
    CompactifAIClient,
    ConfigurationError,
    ModelCapabilityError,
    check_capabilities,
)
from compactifai._closing import Closing
from compactifai._config import default_base_url, from_environment
from compactifai._wire import CLIENT_SETTINGS, TokenUsage, token_usage

if TYPE_CHECKING:
    from langchain_core.messages import UsageMetadata

__all__ = [
    "DEFAULT_CHAT_MODEL",
    "LANGCHAIN_KEYWORDS",
    "LS_PROVIDER",
    "CompactifAIFields",
    "ModelCapabilityError",
    "build_async_client",
    "build_sync_client",
    "check_capabilities",
    "move_extra_to_model_kwargs",
    "require_api_key",
    "usage_metadata",
]

#: The model used when none is named: CompactifAI's compressed Llama 3.1 8B.
DEFAULT_CHAT_MODEL = "cai-llama-3-1-8b-slim"
#: ``ls_provider`` of every LangSmith trace, and ``model_provider`` of every message.
LS_PROVIDER = "compactifai"

#: Call keywords that steer LangChain or the model object itself and are never sent.
LANGCHAIN_KEYWORDS = frozenset(
    {"stream", "stream_usage", "model", "ls_structured_output_format", "structured_output_format"}
)

_BUILD_LOCK = threading.Lock()


def require_api_key(api_key: Any) -> None:
    """Refuse to build a model that has no key, with a message that says where to put one."""
    if api_key is None or not api_key.get_secret_value().strip():
        raise ConfigurationError(
            f"no CompactifAI API key: pass api_key=... or set the {API_KEY_ENV} environment "
            "variable"
        )


def move_extra_to_model_kwargs(
    values: dict[str, Any], field_names: set[str]
) -> dict[str, Any]:
    """Move constructor arguments that are not fields into ``model_kwargs``, with a warning.

    A key that is a field cannot also be given in ``model_kwargs`` (which one would win?).
    """
    extra = dict(values.get("model_kwargs") or {})
    for name in list(values):
        if name in field_names:
            continue
        if name in extra:
            raise ValueError(f"{name!r} was given both as an argument and in model_kwargs")
        warnings.warn(
            f"{name!r} is not a parameter of this model: it is sent to the API as is "
            "(put it in model_kwargs to silence this warning)",
            UserWarning,
            stacklevel=4,
        )
        extra[name] = values.pop(name)
    clash = sorted(k for k in extra if k in field_names)
    if clash:
        raise ValueError(
            f"{', '.join(clash)} should be given as an argument, not in model_kwargs"
        )
    values["model_kwargs"] = extra
    return values


def env_api_key() -> SecretStr | None:
    """``COMPACTIFAI_API_KEY`` as a secret, read through the transport's configuration."""
    value = from_environment("api_key")
    return SecretStr(value) if value else None


def _client_kwargs(owner: Any) -> dict[str, Any]:
    kwargs = {name: getattr(owner, name, None) for name in CLIENT_SETTINGS}
    if kwargs.get("region") and "base_url" not in getattr(owner, "model_fields_set", ()):
        kwargs["base_url"] = None  # the region picks the host
    return kwargs


def build_sync_client(owner: Any) -> CompactifAIClient:
    """The owner's sync transport client, built on first use and then reused."""
    client: CompactifAIClient | None = owner._client
    if client is None:
        with _BUILD_LOCK:
            client = owner._client
            if client is None:
                client = CompactifAIClient(
                    **_client_kwargs(owner), http_client=owner.http_client
                )
                owner._client = client
    return client


def build_async_client(owner: Any) -> AsyncCompactifAIClient:
    """The owner's async transport client (one pool per event loop), built on first use."""
    client: AsyncCompactifAIClient | None = owner._async_client
    if client is None:
        with _BUILD_LOCK:
            client = owner._async_client
            if client is None:
                client = AsyncCompactifAIClient(
                    **_client_kwargs(owner), http_client=owner.http_async_client
                )
                owner._async_client = client
    return client


def usage_metadata(usage: Any) -> UsageMetadata:
    """Token counts (a usage dict or object) -> LangChain's ``UsageMetadata``, with the cached
    and reasoning token details when the server reports them."""
    counts = token_usage(usage) or TokenUsage(0, 0, 0)
    result: dict[str, Any] = {
        "input_tokens": counts.prompt_tokens,
        "output_tokens": counts.completion_tokens,
        "total_tokens": counts.total_tokens,
    }
    if counts.cached_tokens is not None:
        result["input_token_details"] = {"cache_read": counts.cached_tokens}
    if counts.reasoning_tokens is not None:
        result["output_token_details"] = {"reasoning": counts.reasoning_tokens}
    return cast("UsageMetadata", result)


class CompactifAIFields(BaseModel, Closing):
    """The connection and sampling fields the chat model and the LLM share (one definition)."""

    model_config = ConfigDict(populate_by_name=True)

    model_name: str = Field(default=DEFAULT_CHAT_MODEL, alias="model")
    """The model id, e.g. ``cai-llama-3-1-8b-slim`` (``list_compactifai_models()`` lists them)."""
    api_key: SecretStr | None = Field(default_factory=lambda: env_api_key())
    """The API key; read from ``COMPACTIFAI_API_KEY`` when not given."""
    base_url: str = Field(default_factory=lambda: default_base_url())
    """The API's base URL; read from ``COMPACTIFAI_BASE_URL`` (or the host of
    ``COMPACTIFAI_REGION``) when not given."""
    region: str | None = None
    """A regional host, ``"eu"`` or ``"us"``, instead of the global one (sets ``base_url``)."""
    app_id: str | None = None
    """Sent as ``x-app-id`` with every request (or ``COMPACTIFAI_APP_ID``)."""
    http_backend: str | None = None
    """What sends async requests: ``"httpx"`` (default) or ``"aiohttp"`` (the ``aiohttp``
    extra; or ``COMPACTIFAI_HTTP_BACKEND``)."""
    temperature: float | None = None
    """Sampling temperature, 0 to 2."""
    max_tokens: int | None = None
    """The most tokens to generate (per prompt for the LLM, whose API default is 16)."""
    top_p: float | None = None
    """Nucleus sampling mass, 0 to 1."""
    stop: list[str] | str | None = None
    """Sequences where generation stops."""
    seed: int | None = None
    """A seed, for servers that sample deterministically with one."""
    timeout: float | Any | None = None
    """Seconds (or an ``httpx.Timeout``) to wait for an answer or the next stream chunk."""
    max_retries: int = 2
    """Retries of a failed request (429, 5xx, connection errors; never after a stream began)."""
    streaming: bool = False
    """Whether ``invoke`` streams under the hood (for callbacks)."""
    stream_usage: bool = True
    """Whether streams ask the server for token usage (sent on the last chunk)."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Other request fields, sent as they are (never dropped)."""
    default_headers: dict[str, str] | None = None
    """Headers added to every request."""
    rate_limit: Any | None = Field(default=None, exclude=True)
    """A ``compactifai.RateLimit`` (requests/s and tokens/min) for this process, shared by
    every object given the same one; unlike ``rate_limiter`` it also counts tokens, and it
    travels to workers (Ray, multiprocessing) when the object is pickled."""
    http_client: Any | None = Field(default=None, exclude=True)
    """An ``httpx.Client`` to send sync requests with (proxies, custom transports)."""
    http_async_client: Any | None = Field(default=None, exclude=True)
    """An ``httpx.AsyncClient`` to send async requests with."""

    _client: CompactifAIClient | None = PrivateAttr(default=None)
    _async_client: AsyncCompactifAIClient | None = PrivateAttr(default=None)

    @property
    def client(self) -> CompactifAIClient:
        """The sync transport client (built on first use, then reused)."""
        return build_sync_client(self)

    @property
    def async_client(self) -> AsyncCompactifAIClient:
        """The async transport client (one connection pool per event loop)."""
        return build_async_client(self)

    def close(self) -> None:
        """Close the sync connection pool (a caller's ``http_client`` stays open).

        The async client is dropped: its pools close with their event loops (or with
        :meth:`aclose`). A later call builds new clients.
        """
        with _BUILD_LOCK:
            client = self._client
            self._client = None
            self._async_client = None
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        """Close the sync pool and the running event loop's async pool (a caller's
        ``http_client``/``http_async_client`` stay open)."""
        client = self._async_client
        self.close()
        if client is not None:
            await client.aclose()

    def __getstate__(self) -> dict[Any, Any]:
        state: dict[Any, Any] = super().__getstate__()
        private = state.get("__pydantic_private__")
        if private:
            # The transport clients are rebuilt on first use after unpickling.
            state["__pydantic_private__"] = {**private, "_client": None, "_async_client": None}
        # A caller's httpx clients do not pickle; LangChain's cached dumpd is rebuilt on use.
        fields = {k: v for k, v in state["__dict__"].items() if k != "_serialized"}
        state["__dict__"] = {**fields, "http_client": None, "http_async_client": None}
        return state

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_key": API_KEY_ENV}
