"""Every public class survives a pickle round trip, as a distributed engine ships it to a worker.

What must hold for each (transport clients, LangChain chat model / LLM / loader / parser,
LlamaIndex LLM / reader, the batch callables):

- it pickles after it has been used (live HTTP pools, a caller's own httpx client) and the copy
  carries none of them: the copy builds its own pool on first use;
- the configuration survives (model, parameters, URL, retries, headers, rate limit), and the
  key survives as a secret (never in a repr) and is the one sent, not the environment's;
- the copy works, sync and async.

The copy's rebuilt pools are pointed at an ``httpx.MockTransport`` by patching the one place
that makes new pools (``_PipelineBase._new_client_kwargs``), so the lazy rebuild itself is what
is tested.
"""

from __future__ import annotations

import asyncio
import json
import pickle
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from compactifai import (
    AsyncCompactifAIClient,
    CompactifAIClient,
    InternalServerError,
    RateLimit,
    RateLimitError,
)
from compactifai._pipeline import _PipelineBase
from compactifai.batch import ChatBatch, TranscriptionBatch

KEY = "sk-pickle-secret-0123456789"
BASE_URL = "https://compactifai.test/v1"
HEADERS = {"X-Team": "scale"}
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 64


# ---------------------------------------------------------------- a fake API


class FakeAPI:
    """Answers chat, completions and transcriptions; keeps what each request carried."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        path = request.url.path
        if path.endswith("/chat/completions"):
            body = json.loads(request.content)
            if body.get("stream"):
                return httpx.Response(
                    200, headers={"content-type": "text/event-stream"}, content=_chat_sse()
                )
            return httpx.Response(200, json=_chat_answer(body["model"], "pong"))
        if path.endswith("/completions"):
            body = json.loads(request.content)
            return httpx.Response(200, json=_completion_answer(body["model"], "pong"))
        if path.endswith("/audio/transcriptions"):
            return httpx.Response(200, json=_transcription_answer())
        return httpx.Response(404, json={"error": {"message": f"no route {path}"}})

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def body(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.last.content)
        return data


def _chat_answer(model: str, text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1749600000,
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
    }


def _chat_sse() -> bytes:
    events = [
        {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
         "choices": [{"index": 0, "delta": {"role": "assistant", "content": piece},
                      "finish_reason": None}]}
        for piece in ("po", "ng")
    ]
    return b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in events) + b"data: [DONE]\n\n"


def _completion_answer(model: str, text: str) -> dict[str, Any]:
    return {
        "id": "cmpl-1",
        "object": "text_completion",
        "created": 1749600000,
        "model": model,
        "choices": [{"index": 0, "text": text, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
    }


def _transcription_answer() -> dict[str, Any]:
    return {
        "text": "hello world",
        "language": "en",
        "duration": 1.5,
        "segments": [{"id": 0, "start": 0.0, "end": 1.5, "text": "hello world"}],
    }


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> FakeAPI:
    """Pools built from now on (the lazy rebuild after unpickling) answer from a FakeAPI."""
    fake = FakeAPI()
    original = _PipelineBase._new_client_kwargs

    def with_mock(self: _PipelineBase) -> dict[str, Any]:
        return {**original(self), "transport": httpx.MockTransport(fake)}

    monkeypatch.setattr(_PipelineBase, "_new_client_kwargs", with_mock)
    return fake


def _dumps_pickle(obj: Any) -> bytes:
    return pickle.dumps(obj)


def _dumps_cloudpickle(obj: Any) -> bytes:
    cloudpickle = pytest.importorskip("ray.cloudpickle")  # what Ray ships objects with
    data: bytes = cloudpickle.dumps(obj)
    return data


@pytest.fixture(params=[_dumps_pickle, _dumps_cloudpickle], ids=["pickle", "cloudpickle"])
def roundtrip(request: pytest.FixtureRequest) -> Callable[[Any], Any]:
    dumps: Callable[[Any], bytes] = request.param

    def go(obj: Any) -> Any:
        return pickle.loads(dumps(obj))

    return go


def _assert_key_hidden(obj: Any) -> None:
    assert KEY not in repr(obj)
    assert KEY not in str(obj)


def _assert_sent_with_our_settings(api: FakeAPI) -> None:
    """The copy's request carried the original key (not the environment's) and headers."""
    assert api.last.headers["authorization"] == f"Bearer {KEY}"
    assert api.last.headers["x-team"] == "scale"


def _mock_sync(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def _mock_async(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


@pytest.fixture
def wav_path(tmp_path: Path) -> Path:
    path = tmp_path / "call.wav"
    path.write_bytes(WAV)
    return path


# ---------------------------------------------------------------- transport clients


def _client_kwargs() -> dict[str, Any]:
    return {
        "api_key": KEY,
        "base_url": BASE_URL,
        "timeout": 12.5,
        "max_retries": 4,
        "max_retry_delay": 3.0,
        "default_headers": HEADERS,
        "rate_limit": RateLimit(requests_per_second=7, tokens_per_minute=9000),
    }


def _assert_same_config(copy: CompactifAIClient | AsyncCompactifAIClient, original: Any) -> None:
    a, b = copy.config, original.config
    assert a.api_key == b.api_key and a.api_key.get_secret_value() == KEY
    assert (a.base_url, a.timeout, a.max_retries, a.max_retry_delay) == (
        b.base_url, b.timeout, b.max_retries, b.max_retry_delay,
    )
    assert dict(a.default_headers) == HEADERS
    # The rate limit arrives with the same limits and its own (fresh, full) budget.
    assert a.rate_limit is not None and a.rate_limit is not b.rate_limit
    assert (a.rate_limit.requests_per_second, a.rate_limit.tokens_per_minute) == (7, 9000)


def test_sync_client_round_trip(api: FakeAPI, roundtrip: Callable[[Any], Any]) -> None:
    original = CompactifAIClient(**_client_kwargs(), http_client=_mock_sync(FakeAPI()))
    original.chat_completion(model="m", messages=[{"role": "user", "content": "ping"}])

    copy = roundtrip(original)

    _assert_same_config(copy, original)
    _assert_key_hidden(copy)
    assert copy._pipeline._client is None  # neither the caller's client nor a pool came along
    answer = copy.chat_completion(
        model="m", messages=[{"role": "user", "content": "ping"}], max_tokens=3
    )
    assert answer.choices[0].message.content == "pong"
    assert api.body()["max_tokens"] == 3
    _assert_sent_with_our_settings(api)
    assert copy.completion(model="m", prompt="ping").choices[0].text == "pong"
    assert copy.transcribe(WAV, filename="a.wav").text == "hello world"
    copy.close()


async def test_async_client_round_trip(api: FakeAPI, roundtrip: Callable[[Any], Any]) -> None:
    original = AsyncCompactifAIClient(**_client_kwargs(), http_client=_mock_async(FakeAPI()))
    await original.chat_completion(model="m", messages=[{"role": "user", "content": "ping"}])

    copy = roundtrip(original)

    _assert_same_config(copy, original)
    _assert_key_hidden(copy)
    assert copy._pipeline._user_client is None and not copy._pipeline._clients
    answer = await copy.chat_completion(model="m", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == "pong"
    _assert_sent_with_our_settings(api)
    stream = copy.chat_completion_stream(model="m", messages=[{"role": "user", "content": "hi"}])
    text = "".join([c["choices"][0]["delta"].get("content") or "" async for c in stream])
    assert text == "pong"
    assert (await copy.transcribe(WAV, filename="a.wav")).language == "en"
    await copy.aclose()


def test_async_client_used_in_a_closed_loop_still_pickles(
    api: FakeAPI, roundtrip: Callable[[Any], Any]
) -> None:
    """A client whose pool belongs to a loop that is gone (asyncio.run ended) pickles."""
    original = AsyncCompactifAIClient(**_client_kwargs())
    first = asyncio.run(
        original.chat_completion(model="m", messages=[{"role": "user", "content": "hi"}])
    )
    assert first.choices[0].message.content == "pong" and original._pipeline._clients
    copy = roundtrip(original)
    answer = asyncio.run(
        copy.chat_completion(model="m", messages=[{"role": "user", "content": "hi"}])
    )
    assert answer.choices[0].message.content == "pong"


def test_sync_client_pickles_before_first_use(roundtrip: Callable[[Any], Any]) -> None:
    copy = roundtrip(CompactifAIClient(api_key=KEY, base_url=BASE_URL))
    assert copy.config.api_key.get_secret_value() == KEY and copy.base_url == BASE_URL


@pytest.mark.parametrize(
    "error",
    [
        RateLimitError("slow down", status_code=429, request_id="req-1", code="rate"),
        InternalServerError("boom", status_code=500, body={"error": {"message": "boom"}}),
    ],
)
def test_errors_pickle(error: Exception, roundtrip: Callable[[Any], Any]) -> None:
    copy = roundtrip(error)
    assert type(copy) is type(error) and str(copy) == str(error)
    assert copy.__dict__ == error.__dict__


# ---------------------------------------------------------------- LangChain


def _langchain_fields(model: Any) -> dict[str, Any]:
    data: dict[str, Any] = model.model_dump(exclude={"http_client", "http_async_client"})
    return data


def test_chat_compactifai_round_trip(api: FakeAPI, roundtrip: Callable[[Any], Any]) -> None:
    from langchain_compactifai import ChatCompactifAI

    original = ChatCompactifAI(
        model="hypernova-60b",
        api_key=KEY,
        base_url=BASE_URL,
        temperature=0.2,
        max_tokens=5,
        stop=["\n"],
        timeout=9.0,
        max_retries=1,
        default_headers=HEADERS,
        model_kwargs={"top_k": 3},
        http_client=_mock_sync(FakeAPI()),
        http_async_client=_mock_async(FakeAPI()),
    )
    assert original.invoke("ping").content == "pong"  # builds the client and its pool

    copy = roundtrip(original)

    assert _langchain_fields(copy) == _langchain_fields(original)
    assert copy.api_key.get_secret_value() == KEY
    _assert_key_hidden(copy)
    assert copy.http_client is None and copy.http_async_client is None
    assert copy._client is None and copy._async_client is None

    assert copy.invoke("ping").content == "pong"
    body = api.body()
    assert (body["model"], body["temperature"], body["max_tokens"], body["stop"], body["top_k"]) \
        == ("hypernova-60b", 0.2, 5, ["\n"], 3)
    _assert_sent_with_our_settings(api)
    assert copy.client.config.timeout == httpx.Timeout(9.0, connect=9.0)
    assert copy.client.config.max_retries == 1


async def test_chat_compactifai_async_after_round_trip(
    api: FakeAPI, roundtrip: Callable[[Any], Any]
) -> None:
    from langchain_compactifai import ChatCompactifAI

    original = ChatCompactifAI(
        model="m", api_key=KEY, base_url=BASE_URL, default_headers=HEADERS,
        http_async_client=_mock_async(FakeAPI()),
    )
    await original.ainvoke("ping")
    copy = roundtrip(original)
    assert (await copy.ainvoke("ping")).content == "pong"
    assert [m.content for m in await copy.abatch(["a", "b"])] == ["pong", "pong"]
    _assert_sent_with_our_settings(api)


def test_langchain_llm_round_trip(api: FakeAPI, roundtrip: Callable[[Any], Any]) -> None:
    from langchain_compactifai import CompactifAI

    original = CompactifAI(
        model="m", api_key=KEY, base_url=BASE_URL, max_tokens=4, temperature=0.0,
        batch_size=3, default_headers=HEADERS, http_client=_mock_sync(FakeAPI()),
    )
    assert original.invoke("ping") == "pong"

    copy = roundtrip(original)

    assert _langchain_fields(copy) == _langchain_fields(original)
    assert copy.api_key.get_secret_value() == KEY
    _assert_key_hidden(copy)
    assert copy._client is None and copy.http_client is None
    assert copy.invoke("ping") == "pong"
    assert (api.body()["max_tokens"], api.body()["temperature"]) == (4, 0.0)
    _assert_sent_with_our_settings(api)


async def test_langchain_llm_async_after_round_trip(
    api: FakeAPI, roundtrip: Callable[[Any], Any]
) -> None:
    from langchain_compactifai import CompactifAI

    original = CompactifAI(model="m", api_key=KEY, base_url=BASE_URL, default_headers=HEADERS)
    copy = roundtrip(original)
    assert await copy.ainvoke("ping") == "pong"
    _assert_sent_with_our_settings(api)


def _loader_settings(loader: Any) -> tuple[Any, ...]:
    parser = loader.parser
    return (
        loader.file_path, loader.glob, loader.options, parser.options, parser.base_url,
        parser.timeout, parser.max_retries,
    )


def test_transcript_loader_round_trip(
    api: FakeAPI, roundtrip: Callable[[Any], Any], wav_path: Path
) -> None:
    from langchain_compactifai.document_loaders import CompactifAITranscriptLoader

    original = CompactifAITranscriptLoader(
        str(wav_path), mode="segment", language="en", prompt="names", on_error="skip",
        max_concurrency=2, api_key=KEY, base_url=BASE_URL, timeout=30.0, max_retries=3,
    )
    original.load()  # builds the sync client and its pool

    copy = roundtrip(original)

    assert _loader_settings(copy) == _loader_settings(original)
    assert copy.parser.api_key.get_secret_value() == KEY
    _assert_key_hidden(copy)
    _assert_key_hidden(copy.parser.clients._settings)
    assert copy.parser.clients._sync is None and copy.parser.clients._async is None
    [doc] = copy.load()
    assert (doc.page_content, doc.metadata["start"], doc.metadata["end"]) == ("hello world", 0, 1.5)
    assert api.last.headers["authorization"] == f"Bearer {KEY}"
    assert b'name="language"\r\n\r\nen' in api.last.content


async def test_transcript_loader_async_after_round_trip(
    api: FakeAPI, roundtrip: Callable[[Any], Any], wav_path: Path
) -> None:
    from langchain_compactifai.document_loaders import CompactifAITranscriptLoader

    original = CompactifAITranscriptLoader(
        [str(wav_path), str(wav_path)], api_key=KEY, base_url=BASE_URL
    )
    copy = roundtrip(original)
    docs = await copy.aload()
    assert [d.page_content for d in docs] == ["hello world", "hello world"]


def test_transcript_loader_with_a_given_client_keeps_its_rate_limit(
    api: FakeAPI, roundtrip: Callable[[Any], Any], wav_path: Path
) -> None:
    """The loaders take no rate_limit, but a client given to them carries one to the worker."""
    from langchain_compactifai.document_loaders import CompactifAITranscriptLoader

    client = CompactifAIClient(**_client_kwargs(), http_client=_mock_sync(FakeAPI()))
    copy = roundtrip(CompactifAITranscriptLoader(str(wav_path), client=client))
    given = copy.parser.clients.sync()
    assert given.config.rate_limit is not None
    assert given.config.rate_limit.requests_per_second == 7
    assert copy.load()[0].page_content == "hello world"
    _assert_sent_with_our_settings(api)


def test_transcript_parser_round_trip(api: FakeAPI, roundtrip: Callable[[Any], Any]) -> None:
    from langchain_core.document_loaders import Blob

    from langchain_compactifai.document_loaders import CompactifAITranscriptParser

    original = CompactifAITranscriptParser(
        model="whisper-base", language="de", api_key=KEY, base_url=BASE_URL
    )
    copy = roundtrip(original)
    assert copy.options == original.options
    assert copy.api_key.get_secret_value() == KEY
    _assert_key_hidden(copy)
    [doc] = copy.parse(Blob.from_data(WAV, path="x.wav"))
    assert doc.page_content == "hello world"
    assert b'name="model"\r\n\r\nwhisper-base' in api.last.content


async def test_transcript_parser_async_after_round_trip(
    api: FakeAPI, roundtrip: Callable[[Any], Any]
) -> None:
    from langchain_core.document_loaders import Blob

    from langchain_compactifai.document_loaders import CompactifAITranscriptParser

    copy = roundtrip(CompactifAITranscriptParser(api_key=KEY, base_url=BASE_URL))
    docs = [d async for d in copy.alazy_parse(Blob.from_data(WAV, path="x.wav"))]
    assert docs[0].page_content == "hello world"


# ---------------------------------------------------------------- LlamaIndex


def test_llama_index_llm_round_trip(api: FakeAPI, roundtrip: Callable[[Any], Any]) -> None:
    from llama_index_compactifai import CompactifAI

    original = CompactifAI(
        model="hypernova-60b", api_key=KEY, base_url=BASE_URL, temperature=0.3,
        max_tokens=6, timeout=11.0, max_retries=1, default_headers=HEADERS,
        additional_kwargs={"seed": 7}, context_window=2048,
        http_client=_mock_sync(FakeAPI()), async_http_client=_mock_async(FakeAPI()),
    )
    assert original.complete("ping").text == "pong"

    copy = roundtrip(original)

    assert copy.model_dump() == original.model_dump()
    assert copy.api_key is not None and copy.api_key.get_secret_value() == KEY
    _assert_key_hidden(copy)
    assert copy._clients.sync is None and copy._clients.http is None
    assert copy.metadata.context_window == 2048
    assert copy.complete("ping").text == "pong"
    body = api.body()
    assert (body["temperature"], body["max_tokens"], body["seed"]) == (0.3, 6, 7)
    _assert_sent_with_our_settings(api)
    assert copy._sync_client().config.max_retries == 1


async def test_llama_index_llm_async_after_round_trip(
    api: FakeAPI, roundtrip: Callable[[Any], Any]
) -> None:
    from llama_index.core.llms import ChatMessage

    from llama_index_compactifai import CompactifAI

    original = CompactifAI(
        model="m", api_key=KEY, base_url=BASE_URL, default_headers=HEADERS,
        async_http_client=_mock_async(FakeAPI()),
    )
    await original.acomplete("ping")
    copy = roundtrip(original)
    answer = await copy.achat([ChatMessage(role="user", content="ping")])
    assert answer.message.content == "pong"
    _assert_sent_with_our_settings(api)


def test_transcript_reader_round_trip(
    api: FakeAPI, roundtrip: Callable[[Any], Any], wav_path: Path
) -> None:
    from llama_index_compactifai.readers import CompactifAITranscriptReader

    original = CompactifAITranscriptReader(
        mode="segment", language="en", on_error="skip", max_concurrency=3,
        api_key=KEY, base_url=BASE_URL, timeout=20.0, max_retries=5,
    )
    original.load_data(str(wav_path))  # builds the sync client and its pool

    copy = roundtrip(original)

    assert copy.options == original.options
    assert (copy.base_url, copy.timeout, copy.max_retries) == (BASE_URL, 20.0, 5)
    assert copy.api_key.get_secret_value() == KEY
    _assert_key_hidden(copy)
    assert copy.clients._sync is None and copy.clients._async is None
    [doc] = copy.load_data(str(wav_path))
    assert (doc.text, doc.metadata["start"]) == ("hello world", 0)
    assert api.last.headers["authorization"] == f"Bearer {KEY}"


async def test_transcript_reader_async_after_round_trip(
    api: FakeAPI, roundtrip: Callable[[Any], Any], wav_path: Path
) -> None:
    from llama_index_compactifai.readers import CompactifAITranscriptReader

    copy = roundtrip(CompactifAITranscriptReader(api_key=KEY, base_url=BASE_URL))
    docs = await copy.aload_data([str(wav_path), str(wav_path)])
    assert [d.text for d in docs] == ["hello world", "hello world"]


# ---------------------------------------------------------------- the batch callables


@pytest.fixture
def no_env_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("COMPACTIFAI_API_KEY", raising=False)
    yield


def test_chat_batch_round_trip(
    api: FakeAPI, roundtrip: Callable[[Any], Any], no_env_key: None
) -> None:
    client = AsyncCompactifAIClient(**_client_kwargs())
    original = ChatBatch(model="m", client=client, system_prompt="Be brief.", max_tokens=2)
    copy = roundtrip(original)
    _assert_key_hidden(copy)
    assert (copy.model, copy.system_prompt, copy.params) == ("m", "Be brief.", {"max_tokens": 2})
    assert copy.client.config.rate_limit is not None
    out = copy({"prompt": ["ping"]})
    assert list(out["output"]) == ["pong"] and list(out["error"]) == [""]
    _assert_sent_with_our_settings(api)


def test_transcription_batch_round_trip(
    api: FakeAPI, roundtrip: Callable[[Any], Any], wav_path: Path
) -> None:
    original = TranscriptionBatch(language="en", api_key=KEY, base_url=BASE_URL)
    copy = roundtrip(original)
    _assert_key_hidden(copy)
    assert copy.client.config.api_key.get_secret_value() == KEY
    out = copy({"path": [str(wav_path)]})
    assert list(out["output"]) == ["hello world"]
