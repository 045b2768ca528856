"""Client settings reach the transport the same way from the transport and both frameworks."""

from __future__ import annotations

import pytest

from compactifai._config import ENVIRONMENT, from_environment


@pytest.fixture(autouse=True)
def _no_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMPACTIFAI_BASE_URL", raising=False)
    monkeypatch.setenv("COMPACTIFAI_API_KEY", "sk-settings-test")


def test_langchain_passes_region_app_id_and_backend() -> None:
    pytest.importorskip("httpx_aiohttp")
    from langchain_compactifai import ChatCompactifAI

    model = ChatCompactifAI(region="eu", app_id="app-1", http_backend="aiohttp")
    assert model.client.base_url == "https://api-eu.compactif.ai/v1"
    assert model.client.config.app_id == "app-1"
    assert model.async_client.config.http_backend == "aiohttp"


def test_llama_index_passes_region_app_id_and_backend() -> None:
    pytest.importorskip("httpx_aiohttp")
    from llama_index_compactifai import CompactifAI

    llm = CompactifAI(region="us", app_id="app-2", http_backend="aiohttp")
    assert llm.base_url == "https://api-us.compactif.ai/v1"
    client = llm._async_client()
    assert client.config.http_backend == "aiohttp" and client.config.app_id == "app-2"


def test_the_environment_is_read_through_the_configuration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from langchain_compactifai import ChatCompactifAI
    from llama_index_compactifai import CompactifAI

    monkeypatch.setenv("COMPACTIFAI_REGION", "eu")
    assert from_environment("region") == "eu"
    assert ChatCompactifAI().client.base_url == "https://api-eu.compactif.ai/v1"
    assert CompactifAI().base_url == "https://api-eu.compactif.ai/v1"
    monkeypatch.setenv("COMPACTIFAI_BASE_URL", "http://127.0.0.1:9/v1")  # the URL beats a region
    assert ChatCompactifAI().client.base_url == "http://127.0.0.1:9/v1"
    assert set(ENVIRONMENT) == {
        "api_key", "base_url", "region", "http_backend", "app_id", "model"
    }
