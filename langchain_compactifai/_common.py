"""What the chat model and the LLM share: client building, usage conversion, typed refusals.

Nothing here speaks HTTP: the transport (:mod:`compactifai`) does. This module only builds the
transport's clients from a LangChain model's fields (once, lazily) and converts what the
transport returns.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, model_validator

from compactifai import (
    API_KEY_ENV,
    AsyncCompactifAIClient,
    CompactifAIClient,
    ConfigurationError,
    ModelCapabilityError,
    check_capabilities,
)
from compactifai._catalogue import CONTEXT_WINDOWS, DEFAULT_CHAT_MODEL, DEFAULT_CONTEXT_WINDOW
from compactifai._closing import Closing
from compactifai._config import default_base_url, default_chat_model, from_environment
from compactifai._tokens import approximate_token_ids, estimate_text_tokens
from compactifai._wire import CLIENT_SETTINGS, TokenUsage, token_usage

if TYPE_CHECKING:
    from langchain_core.language_models import ModelProfile as LangChainProfile
    from langchain_core.messages import UsageMetadata

    from compactifai import ModelProfile

__all__ = [
    "DEFAULT_CHAT_MODEL",
    "LANGCHAIN_KEYWORDS",
    "LS_PROVIDER",
    "CompactifAIFields",
    "ModelCapabilityError",
    "build_async_client",
    "build_sync_client",
    "check_capabilities",
    "check_rate_limit_options",
    "langchain_profile",
    "move_extra_to_model_kwargs",
    "require_api_key",
    "usage_metadata",
]

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


def check_rate_limit_options(values: Mapping[str, Any]) -> None:
    """Refuse a rate limiter given under the other option's name, or both options at once.

    ``rate_limiter`` is LangChain's option, with LangChain's meaning: a ``BaseRateLimiter``
    (e.g. ``InMemoryRateLimiter``) acquired once per model call, as in every LangChain model.
    ``rate_limit`` is this package's: a ``compactifai.RateLimit`` applied by the transport to
    each HTTP request, counting tokens per minute as well as requests, and carried to workers
    when the model is pickled. Both at once would throttle every call twice with no single
    budget to reason about, so it is refused rather than silently stacked; a limiter of one
    kind under the other's name is refused too (the two do not take the same objects), with
    the name to use instead.
    """
    limiter = values.get("rate_limiter")
    limit = values.get("rate_limit")
    if limiter is not None and callable(getattr(limiter, "reserve", None)):
        raise ConfigurationError(
            "rate_limiter= takes LangChain's BaseRateLimiter (e.g. InMemoryRateLimiter); "
            "pass a compactifai.RateLimit as rate_limit= instead"
        )
    if limit is not None and callable(getattr(limit, "acquire", None)):
        raise ConfigurationError(
            "rate_limit= takes a compactifai.RateLimit; pass LangChain's "
            f"{type(limit).__name__} as rate_limiter= instead"
        )
    if limiter is not None and limit is not None:
        raise ConfigurationError(
            "give rate_limiter= (LangChain's, once per model call) or rate_limit= "
            "(compactifai.RateLimit: per HTTP request, also tokens per minute), not both"
        )


def langchain_profile(profile: ModelProfile) -> LangChainProfile:
    """A model's facts -> LangChain's model profile (``BaseChatModel.profile``).

    Only what is known is stated: a capability the model list (or, before it is read, the
    built-in table) does not state is left out, not set to False, and an unknown model gets
    no ``max_input_tokens``. Video input is False whatever the model: this chat model refuses
    video blocks.

    Example:
        >>> from compactifai._catalogue import profile_from_table
        >>> facts = langchain_profile(profile_from_table("smollm2-135m-instruct"))
        >>> facts["max_input_tokens"], facts["tool_calling"], facts["image_inputs"]
        (2048, True, False)
        >>> sorted(langchain_profile(profile_from_table("some-new-model")))
        ['text_inputs', 'text_outputs', 'video_inputs']
    """
    out: dict[str, Any] = {
        "text_inputs": True,
        "text_outputs": True,
        "video_inputs": False,
    }
    if profile.id in CONTEXT_WINDOWS or profile.context_window != DEFAULT_CONTEXT_WINDOW:
        out["max_input_tokens"] = profile.context_window  # the server's or the table's
    if profile.supports_image is not None:
        out["image_inputs"] = out["image_url_inputs"] = profile.supports_image
    if profile.supports_audio is not None:
        out["audio_inputs"] = profile.supports_audio
    if profile.supports_function_calling is not None:
        out["tool_calling"] = profile.supports_function_calling
        if profile.supports_function_calling:
            # This package sends tool_choice and assembles streamed tool calls itself.
            out["tool_choice"] = out["tool_call_streaming"] = True
    return cast("LangChainProfile", out)


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

    model_name: str = Field(default_factory=lambda: default_chat_model(), alias="model")
    """The model id (``list_compactifai_models()`` lists them). When not given:
    ``COMPACTIFAI_MODEL``, else the local server's model for a base URL on this machine, else
    a current model of the service (``compactifai.default_chat_model``)."""
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
    every object given the same one; unlike ``rate_limiter`` (LangChain's, once per call) it
    applies to each HTTP request, also counts tokens, and travels to workers (Ray,
    multiprocessing) when the object is pickled. Give one or the other, not both."""
    http_client: Any | None = Field(default=None, exclude=True)
    """An ``httpx.Client`` to send sync requests with (proxies, custom transports)."""
    http_async_client: Any | None = Field(default=None, exclude=True)
    """An ``httpx.AsyncClient`` to send async requests with."""

    _client: CompactifAIClient | None = PrivateAttr(default=None)
    _async_client: AsyncCompactifAIClient | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _default_model_for_base_url(cls, values: Any) -> Any:
        """No model named but a ``base_url`` given: the default follows that URL (the local
        server's model on this machine), not the environment's."""
        if (
            isinstance(values, dict)
            and values.get("base_url")
            and values.get("model") is None
            and values.get("model_name") is None
        ):
            values = {**values, "model": default_chat_model(str(values["base_url"]))}
        return values

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

    # -- token counts: offline estimates, never a tokenizer download

    def get_token_ids(self, text: str) -> list[int]:
        """Stand-in token ids of ``text``, computed offline (:mod:`compactifai._tokens`).

        LangChain's default downloads a GPT-2 tokenizer, which is not the model's either; these
        ids are stable hashes of the estimated tokens (count and compare them, do not decode
        them). ``custom_get_token_ids=`` (a function text -> ids) takes precedence.

        Example:
            >>> from langchain_compactifai import ChatCompactifAI
            >>> llm = ChatCompactifAI(api_key="sk-...")
            >>> len(llm.get_token_ids("Hello world")) == llm.get_num_tokens("Hello world")
            True
        """
        custom = getattr(self, "custom_get_token_ids", None)
        if custom is not None:
            return cast("list[int]", custom(text))
        return approximate_token_ids(text)

    def get_num_tokens(self, text: str) -> int:
        """An offline estimate of the tokens of ``text`` (exact counts: a response's
        ``usage_metadata``); ``custom_get_token_ids=`` takes precedence.

        Example:
            >>> from langchain_compactifai import ChatCompactifAI
            >>> ChatCompactifAI(api_key="sk-...").get_num_tokens("Hello world, this is a test.")
            8
        """
        custom = getattr(self, "custom_get_token_ids", None)
        if custom is not None:
            return len(custom(text))
        return estimate_text_tokens(text)

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_key": API_KEY_ENV}
