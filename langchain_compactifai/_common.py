"""What the chat model and the LLM share: client building, usage conversion, typed refusals.

Nothing here speaks HTTP: the transport (:mod:`compactifai`) does. This module only builds the
transport's clients from a LangChain model's fields (once, lazily) and converts what the
transport returns.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from compactifai import (
    API_KEY_ENV,
    AsyncCompactifAIClient,
    CompactifAIClient,
    ConfigurationError,
    ModelCapabilityError,
    check_capabilities,
)

if TYPE_CHECKING:
    from langchain_core.messages import UsageMetadata

__all__ = [
    "DEFAULT_CHAT_MODEL",
    "LS_PROVIDER",
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


def _client_kwargs(owner: Any) -> dict[str, Any]:
    return {
        "api_key": owner.api_key,
        "base_url": owner.base_url,
        "timeout": owner.timeout,
        "max_retries": owner.max_retries,
        "default_headers": owner.default_headers,
        "rate_limit": getattr(owner, "rate_limit", None),
    }


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


def usage_metadata(usage: Mapping[str, Any]) -> UsageMetadata:
    """OpenAI-style token counts -> LangChain's ``UsageMetadata`` (with details when sent)."""
    inp = usage.get("prompt_tokens") or 0
    out = usage.get("completion_tokens") or 0
    total = usage.get("total_tokens") or inp + out
    result: dict[str, Any] = {"input_tokens": inp, "output_tokens": out, "total_tokens": total}
    prompt_details = usage.get("prompt_tokens_details")
    if prompt_details:
        cached = prompt_details.get("cached_tokens")
        if cached is not None:
            result["input_token_details"] = {"cache_read": cached}
    completion_details = usage.get("completion_tokens_details")
    if completion_details:
        reasoning = completion_details.get("reasoning_tokens")
        if reasoning is not None:
            result["output_token_details"] = {"reasoning": reasoning}
    return result  # type: ignore[return-value]
