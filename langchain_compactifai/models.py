"""The model catalogue: which CompactifAI models exist and what each can do."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from compactifai import CompactifAIClient

if TYPE_CHECKING:
    from collections.abc import Mapping

    import httpx

    from compactifai import ModelProfile
    from compactifai.types import ModelList

__all__ = ["get_compactifai_model_profile", "list_compactifai_models"]


def list_compactifai_models(
    *,
    api_key: str | Any | None = None,
    base_url: str | None = None,
    timeout: float | None = None,
    default_headers: Mapping[str, str] | None = None,
    http_client: httpx.Client | None = None,
) -> ModelList:
    """Every model the API serves, with its capabilities (``GET /models``).

    ``api_key`` and ``base_url`` default to ``COMPACTIFAI_API_KEY`` and
    ``COMPACTIFAI_BASE_URL``; ``http_client`` is an optional ``httpx.Client``. Each entry has ``id``, ``owned_by``, ``parameters_number`` and
    ``capabilities`` (``supports_image``, ``supports_audio``, ``supports_function_calling``).

    Example:
        .. code-block:: python

            from langchain_compactifai import list_compactifai_models

            for m in list_compactifai_models().data:
                print(m.id, m.capabilities.supports_function_calling)
    """
    with CompactifAIClient(
        api_key=api_key,
        base_url=base_url,
        timeout=timeout,
        default_headers=default_headers,
        http_client=http_client,
    ) as client:
        return client.list_models()


def get_compactifai_model_profile(
    model: str,
    *,
    api_key: str | Any | None = None,
    base_url: str | None = None,
    timeout: float | None = None,
    http_client: httpx.Client | None = None,
) -> ModelProfile:
    """What is known of one model: capabilities from the API, context window from a table.

    Example:
        .. code-block:: python

            from langchain_compactifai import get_compactifai_model_profile

            profile = get_compactifai_model_profile("hypernova-60b")
            profile.context_window, profile.supports_function_calling
    """
    with CompactifAIClient(
        api_key=api_key, base_url=base_url, timeout=timeout, http_client=http_client
    ) as client:
        return client.model_profile(model)
