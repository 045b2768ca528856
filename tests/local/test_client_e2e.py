"""A few end-to-end checks with the project's own client against the local server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from compactifai.local import LocalServer

from .support import CHAT_MODEL, FIXTURES

compactifai = pytest.importorskip("compactifai")
if not hasattr(compactifai, "CompactifAIClient"):  # pragma: no cover - client not there yet
    pytest.skip("compactifai.CompactifAIClient is not available", allow_module_level=True)


@pytest.fixture
def sdk(local_server: LocalServer) -> Iterator[Any]:
    with compactifai.CompactifAIClient(
        api_key=local_server.api_key, base_url=local_server.base_url, max_retries=3
    ) as client:
        yield client


def test_list_models(sdk: Any) -> None:
    assert {m.id for m in sdk.list_models().data} == {CHAT_MODEL, "whisper-base"}


def test_retries_through_injected_503s(local_server: LocalServer) -> None:
    headers = {"X-Fault": "503", "X-Fault-Times": "2", "X-Fault-Id": uuid.uuid4().hex}
    with compactifai.CompactifAIClient(
        api_key=local_server.api_key,
        base_url=local_server.base_url,
        max_retries=3,
        max_retry_delay=0.2,
        default_headers=headers,
    ) as client:
        assert client.retrieve_model(CHAT_MODEL).id == CHAT_MODEL


def test_wrong_key_raises_authentication_error(local_server: LocalServer) -> None:
    with (
        compactifai.CompactifAIClient(
            api_key="nope-nope", base_url=local_server.base_url
        ) as client,
        pytest.raises(compactifai.AuthenticationError),
    ):
        client.list_models()


@pytest.mark.local_models
def test_chat_stream_and_transcription(sdk: Any) -> None:
    answer = sdk.chat_completion(
        model=CHAT_MODEL,
        messages=[{"role": "user", "content": "Say hello."}],
        max_tokens=8,
        temperature=0,
    )
    assert answer.choices[0].message.content
    chunks = list(
        sdk.chat_completion_stream(
            model=CHAT_MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=4
        )
    )
    assert chunks[-1]["usage"]["completion_tokens"] == 4
    # the service's Whisper id, which the local server also answers to
    transcript = sdk.transcribe(FIXTURES / "speech.wav", model="cai-whisper-large-v3-turbo-slim")
    assert "agenda" in transcript.text.lower()
