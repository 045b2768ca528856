"""One cassette replays on both async backends (vcrpy hooks httpx's transports and aiohttp)."""

from __future__ import annotations

import pytest

from compactifai import AsyncCompactifAIClient
from tests.conftest import make_vcr

CASSETTE = "transport/test_transport_cassettes/test_async_chat_and_stream.yaml"
QUESTION = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]


@pytest.mark.parametrize("backend", ["httpx", "aiohttp"])
async def test_the_recorded_chat_replays_on_each_backend(backend: str) -> None:
    pytest.importorskip("httpx_aiohttp")
    client = AsyncCompactifAIClient(max_retries=0, http_backend=backend)
    with make_vcr().use_cassette(CASSETTE) as tape:
        answer = await client.chat_completion(
            model="smollm2-135m-instruct", messages=QUESTION, temperature=0, max_tokens=20)
        text = ""
        async for chunk in client.chat_completion_stream(
                model="smollm2-135m-instruct", messages=QUESTION, temperature=0, max_tokens=20):
            if chunk["choices"]:
                text += chunk["choices"][0]["delta"].get("content") or ""
        assert tape.play_count == 2
    await client.aclose()
    assert "paris" in (answer.choices[0].message.content or "").lower()
    assert "paris" in text.lower()
