"""The key never shows: not in a repr or str, an exception, a DEBUG log record, a pickle's repr."""

from __future__ import annotations

import logging
import pickle
from typing import Any

import httpx
import pytest

from compactifai import AsyncCompactifAIClient, CompactifAIClient, CompactifAIError
from tests.reliability.faults import good_answer

KEY = "sk-very-secret-key-4242"


def _objects(handler: Any) -> list[Any]:
    from compactifai.batch import ChatBatch
    from langchain_compactifai import ChatCompactifAI, CompactifAI, CompactifAITranscriptLoader
    from llama_index_compactifai import CompactifAI as LlamaCompactifAI
    from llama_index_compactifai.readers import CompactifAITranscriptReader

    transport = httpx.MockTransport(handler)
    common = {"api_key": KEY, "base_url": "https://compactifai.test/v1"}
    return [
        CompactifAIClient(**common, http_client=httpx.Client(transport=transport)),
        AsyncCompactifAIClient(**common),
        ChatCompactifAI(model="m", **common, http_client=httpx.Client(transport=transport)),
        CompactifAI(model="m", **common, http_client=httpx.Client(transport=transport)),
        LlamaCompactifAI(model="m", **common, http_client=httpx.Client(transport=transport)),
        CompactifAITranscriptLoader(("a.wav", b"RIFF"), **common),
        CompactifAITranscriptReader(**common),
        ChatBatch(model="m", **common),
    ]


def test_no_repr_str_or_dump_shows_the_key() -> None:
    for obj in _objects(good_answer):
        for text in (repr(obj), str(obj)):
            assert KEY not in text, type(obj).__name__
        dump = getattr(obj, "model_dump_json", None)
        if dump is not None:
            assert KEY not in dump(), type(obj).__name__
        copy = pickle.loads(pickle.dumps(obj))
        assert KEY not in repr(copy), type(obj).__name__


def test_no_exception_or_debug_log_shows_the_key(caplog: pytest.LogCaptureFixture) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == f"Bearer {KEY}"  # sent, as it must be
        return httpx.Response(401, json={"error": {"message": "invalid key"}})

    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "compactifai", "langchain_compactifai",
                 "llama_index_compactifai"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    errors: list[BaseException] = []
    chat_client, _, chat_model, llm, llama, *_ = _objects(refuse)
    calls = [
        lambda: chat_client.chat_completion(model="m", messages=[{"role": "user", "content": "x"}]),
        lambda: chat_model.invoke("x"),
        lambda: llm.invoke("x"),
        lambda: llama.complete("x"),
    ]
    for call in calls:
        with pytest.raises(CompactifAIError) as info:
            call()
        errors.append(info.value)
    assert caplog.records, "DEBUG logging captured nothing: the check would be empty"
    for err in errors:
        assert KEY not in str(err) and KEY not in repr(err) and KEY not in repr(err.__dict__)
    for record in caplog.records:
        assert KEY not in record.getMessage()
        assert KEY not in repr(record.args)
