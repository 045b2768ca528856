"""close()/aclose() and with/async with on the reader and the LLM (real sockets, see
tests/langchain/unit/test_closing.py for the server)."""

from __future__ import annotations

import gc
from pathlib import Path

import httpx
from llama_index.core.base.llms.types import ChatMessage

from compactifai import CompactifAIClient
from llama_index_compactifai import CompactifAI, CompactifAITranscriptReader
from tests.langchain.unit.test_closing import (  # noqa: F401 - fixtures
    KEY,
    _pool,
    no_leaks,
    server_url,
)
from tests.unit.test_transcripts import write_audio

HI = [ChatMessage(role="user", content="Hi")]


def test_a_reader_in_a_with_block_closes_the_client_it_built(
    tmp_path: Path, server_url: str  # noqa: F811
) -> None:
    [path] = write_audio(tmp_path, "a.wav")
    with CompactifAITranscriptReader(api_key=KEY, base_url=server_url) as reader:
        assert [d.text for d in reader.load_data(path)] == ["a.wav part 0. a.wav part 1."]
        pool = _pool(reader.clients._sync)
    assert pool.is_closed
    assert reader.clients._sync is None
    assert len(reader.load_data(path)) == 1  # a later use builds a new client
    reader.close()


def test_a_closed_reader_that_made_a_request_leaves_no_resource_warning(
    tmp_path: Path, server_url: str, no_leaks: list[str]  # noqa: F811
) -> None:
    [path] = write_audio(tmp_path, "a.wav")
    reader = CompactifAITranscriptReader(api_key=KEY, base_url=server_url)
    assert len(reader.load_data(path)) == 1
    reader.close()
    del reader
    gc.collect()
    assert no_leaks == []


async def test_a_reader_in_an_async_with_block_closes_its_clients(
    tmp_path: Path, server_url: str  # noqa: F811
) -> None:
    [path] = write_audio(tmp_path, "a.wav")
    async with CompactifAITranscriptReader(api_key=KEY, base_url=server_url) as reader:
        assert len(await reader.aload_data(path)) == 1
        client = reader.clients._async
        assert client is not None
        pool = await client._pipeline.http_client()
    assert pool.is_closed
    assert reader.clients._async is None


def test_a_client_passed_to_the_reader_is_left_open(
    tmp_path: Path, server_url: str  # noqa: F811
) -> None:
    [path] = write_audio(tmp_path, "a.wav")
    with CompactifAIClient(api_key=KEY, base_url=server_url) as mine:
        with CompactifAITranscriptReader(client=mine) as reader:
            assert len(reader.load_data(path)) == 1
        assert reader.clients._sync is mine
        pool = _pool(mine)
        assert len(CompactifAITranscriptReader(client=mine).load_data(path)) == 1
    assert pool.is_closed


def test_the_llm_in_a_with_block_closes_its_pool(
    server_url: str, no_leaks: list[str]  # noqa: F811
) -> None:
    with CompactifAI(api_key=KEY, base_url=server_url, max_retries=0) as llm:
        assert llm.chat(HI).message.content == "pong"
        pool = _pool(llm._clients.sync)
    assert pool.is_closed and llm._clients.sync is None
    llm.complete("again")  # a new pool, closed by close()
    pool = _pool(llm._clients.sync)
    llm.close()
    assert pool.is_closed
    del llm
    gc.collect()
    assert no_leaks == []


async def test_the_llm_in_an_async_with_block_closes_its_pools(
    server_url: str,  # noqa: F811
) -> None:
    async with CompactifAI(api_key=KEY, base_url=server_url, max_retries=0) as llm:
        assert (await llm.achat(HI)).message.content == "pong"
        pool = await llm._async_client()._pipeline.http_client()
        assert not pool.is_closed
    assert pool.is_closed
    assert llm._clients.async_ is None and llm._clients.sync is None


def test_closing_the_llm_leaves_the_callers_http_client_open(
    server_url: str,  # noqa: F811
) -> None:
    with httpx.Client() as mine:
        with CompactifAI(api_key=KEY, base_url=server_url, http_client=mine) as llm:
            assert llm.chat(HI).message.content == "pong"
        assert not mine.is_closed
        assert llm.chat(HI).message.content == "pong"  # rebuilt on the same httpx client
