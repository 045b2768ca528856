"""The public objects the fault matrix drives, each behind the same four calls.

A surface builds its object around a given MockTransport handler, and exposes ``call``,
``acall``, ``stream`` and ``astream`` (the last two ``None`` where the object does not stream).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from compactifai import AsyncCompactifAIClient, CompactifAIClient

Handler = Callable[[httpx.Request], httpx.Response]
BASE_URL = "https://compactifai.test/v1"
KEY = "sk-matrix-secret-0001"
MESSAGES = [{"role": "user", "content": "hi"}]


def no_sleep(_: float) -> None:
    return None


async def ano_sleep(_: float) -> None:
    return None


def sync_transport(handler: Handler, retries: int) -> CompactifAIClient:
    client = CompactifAIClient(api_key=KEY, base_url=BASE_URL, max_retries=retries,
                               http_client=httpx.Client(transport=httpx.MockTransport(handler)))
    client._pipeline._sleep = no_sleep
    return client


def async_transport(handler: Handler, retries: int) -> AsyncCompactifAIClient:
    client = AsyncCompactifAIClient(
        api_key=KEY, base_url=BASE_URL, max_retries=retries,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)))
    client._pipeline._sleep = ano_sleep
    return client


@dataclass
class Surface:
    name: str
    call: Callable[[Handler, int], Any]
    acall: Callable[[Handler, int], Awaitable[Any]]
    stream: Callable[[Handler, int], list[Any]] | None = None
    astream: Callable[[Handler, int], Awaitable[list[Any]]] | None = None


async def _acollect(iterator: Any) -> list[Any]:
    return [item async for item in iterator]


def _transport_surface() -> Surface:
    return Surface(
        name="transport",
        call=lambda h, r: sync_transport(h, r).chat_completion(model="m", messages=MESSAGES),
        acall=lambda h, r: async_transport(h, r).chat_completion(model="m", messages=MESSAGES),
        stream=lambda h, r: list(sync_transport(h, r).chat_completion_stream(
            model="m", messages=MESSAGES)),
        astream=lambda h, r: _acollect(async_transport(h, r).chat_completion_stream(
            model="m", messages=MESSAGES)),
    )


def _langchain_chat(h: Handler, retries: int) -> Any:
    from langchain_compactifai import ChatCompactifAI

    model = ChatCompactifAI(
        model="m", api_key=KEY, base_url=BASE_URL, max_retries=retries,
        http_client=httpx.Client(transport=httpx.MockTransport(h)),
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(h)),
    )
    model.client._pipeline._sleep = no_sleep
    model.async_client._pipeline._sleep = ano_sleep
    return model


def _langchain_llm(h: Handler, retries: int) -> Any:
    from langchain_compactifai import CompactifAI

    model = CompactifAI(
        model="m", api_key=KEY, base_url=BASE_URL, max_retries=retries,
        http_client=httpx.Client(transport=httpx.MockTransport(h)),
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(h)),
    )
    model.client._pipeline._sleep = no_sleep
    model.async_client._pipeline._sleep = ano_sleep
    return model


def _llama_llm(h: Handler, retries: int) -> Any:
    from llama_index_compactifai import CompactifAI

    llm = CompactifAI(
        model="m", api_key=KEY, base_url=BASE_URL, max_retries=retries,
        http_client=httpx.Client(transport=httpx.MockTransport(h)),
        async_http_client=httpx.AsyncClient(transport=httpx.MockTransport(h)),
    )
    llm._sync_client()._pipeline._sleep = no_sleep
    llm._async_client()._pipeline._sleep = ano_sleep
    return llm


def _llama_messages() -> Any:
    from llama_index.core.llms import ChatMessage

    return [ChatMessage(role="user", content="hi")]


async def _llama_astream(h: Handler, r: int) -> list[Any]:
    return await _acollect(await _llama_llm(h, r).astream_chat(_llama_messages()))


AUDIO = ("meeting.wav", b"RIFF0000WAVEfmt ")


def _loader(h: Handler, retries: int) -> Any:
    from langchain_compactifai import CompactifAITranscriptLoader

    return CompactifAITranscriptLoader(AUDIO, client=sync_transport(h, retries),
                                       async_client=async_transport(h, retries))


def _reader(h: Handler, retries: int) -> Any:
    from llama_index_compactifai.readers import CompactifAITranscriptReader

    return CompactifAITranscriptReader(client=sync_transport(h, retries),
                                       async_client=async_transport(h, retries))


SURFACES: list[Surface] = [
    _transport_surface(),
    Surface(
        name="ChatCompactifAI",
        call=lambda h, r: _langchain_chat(h, r).invoke("hi"),
        acall=lambda h, r: _langchain_chat(h, r).ainvoke("hi"),
        stream=lambda h, r: list(_langchain_chat(h, r).stream("hi")),
        astream=lambda h, r: _acollect(_langchain_chat(h, r).astream("hi")),
    ),
    Surface(
        name="langchain-LLM",
        call=lambda h, r: _langchain_llm(h, r).invoke("hi"),
        acall=lambda h, r: _langchain_llm(h, r).ainvoke("hi"),
        stream=lambda h, r: list(_langchain_llm(h, r).stream("hi")),
        astream=lambda h, r: _acollect(_langchain_llm(h, r).astream("hi")),
    ),
    Surface(
        name="llama-index-LLM",
        call=lambda h, r: _llama_llm(h, r).chat(_llama_messages()),
        acall=lambda h, r: _llama_llm(h, r).achat(_llama_messages()),
        stream=lambda h, r: list(_llama_llm(h, r).stream_chat(_llama_messages())),
        astream=_llama_astream,
    ),
    Surface(
        name="transcript-loader",
        call=lambda h, r: _loader(h, r).load(),
        acall=lambda h, r: _loader(h, r).aload(),
    ),
    Surface(
        name="transcript-reader",
        call=lambda h, r: _reader(h, r).load_data(AUDIO),
        acall=lambda h, r: _reader(h, r).aload_data(AUDIO),
    ),
]


def unwrap(err: BaseException) -> BaseException:
    """The transport's error inside a loader's per-file error (which names the file)."""
    inner = getattr(err, "error", None)
    return inner if isinstance(inner, BaseException) else err


def answer_text(result: Any) -> str:
    """The text a surface delivered, whatever its type: what the healthy server said."""
    if isinstance(result, str):
        return result
    if isinstance(result, list):
        if result and type(result[0]).__name__ == "ChatResponse":
            return "".join(r.delta or "" for r in result)  # streamed: the deltas
        return "".join(answer_text(item) for item in result)
    if isinstance(result, dict):  # a transport stream chunk
        return "".join(c["delta"].get("content") or "" for c in result.get("choices", []))
    if hasattr(result, "choices"):  # ChatCompletion
        return "".join(c.message.content or "" for c in result.choices)
    if hasattr(result, "message"):  # LlamaIndex ChatResponse
        return str(result.message.content or "")
    if hasattr(result, "page_content"):  # LangChain Document
        return str(result.page_content)
    if hasattr(result, "text"):  # LlamaIndex Document
        return str(result.text)
    return str(result.content)  # AIMessage, AIMessageChunk
