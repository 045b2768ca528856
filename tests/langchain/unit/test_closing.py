"""close()/aclose() and with/async with on the loaders, the parser and the models.

Real sockets (a keep-alive HTTP server on 127.0.0.1): an unclosed connection shows as a
``ResourceWarning: unclosed <socket...>`` only with them, not with a mock transport.
"""

from __future__ import annotations

import gc
import json
import sys
import threading
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.document_loaders import Blob

from compactifai import CompactifAIClient
from langchain_compactifai import (
    ChatCompactifAI,
    CompactifAI,
    CompactifAITranscriptLoader,
    CompactifAITranscriptParser,
)
from tests.unit.test_transcripts import transcription, write_audio

from .wire import completion

KEY = "sk-closing-test-123"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the connection stays open in the pool

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length)
        if self.path.endswith("/audio/transcriptions"):
            payload: Any = transcription("a.wav")
        elif self.path.endswith("/chat/completions"):
            payload = completion("pong")
        else:
            body = json.loads(raw or b"{}")
            payload = {
                "id": "cmpl-1", "object": "text_completion", "created": 1,
                "model": body.get("model", "m"),
                "choices": [{"text": " ok", "index": 0, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True


@pytest.fixture
def server_url() -> Iterator[str]:
    server = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def no_leaks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Warnings are errors; a ResourceWarning raised in a finalizer is collected here."""
    unraisable: list[str] = []
    monkeypatch.setattr(
        sys, "unraisablehook", lambda u: unraisable.append(f"{u.exc_type.__name__}: {u.exc_value}")
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield unraisable
        gc.collect()


def _pool(client: CompactifAIClient | None) -> httpx.Client:
    assert client is not None
    pool = client._pipeline._client
    assert pool is not None and not pool.is_closed
    return pool


# ---------------------------------------------------------------- loader and parser


def test_a_loader_in_a_with_block_closes_the_client_it_built(
    tmp_path: Path, server_url: str
) -> None:
    [path] = write_audio(tmp_path, "a.wav")
    with CompactifAITranscriptLoader(path, api_key=KEY, base_url=server_url) as loader:
        assert [d.page_content for d in loader.load()] == ["a.wav part 0. a.wav part 1."]
        pool = _pool(loader.parser.clients._sync)
    assert pool.is_closed
    assert loader.parser.clients._sync is None  # a later use builds a new client
    assert len(loader.load()) == 1
    loader.close()


def test_a_closed_loader_that_made_a_request_leaves_no_resource_warning(
    tmp_path: Path, server_url: str, no_leaks: list[str]
) -> None:
    [path] = write_audio(tmp_path, "a.wav")
    loader = CompactifAITranscriptLoader(path, api_key=KEY, base_url=server_url)
    assert len(loader.load()) == 1
    loader.close()
    del loader
    gc.collect()
    assert no_leaks == []


async def test_a_loader_in_an_async_with_block_closes_its_clients(
    tmp_path: Path, server_url: str
) -> None:
    [path] = write_audio(tmp_path, "a.wav")
    async with CompactifAITranscriptLoader(path, api_key=KEY, base_url=server_url) as loader:
        assert len(await loader.aload()) == 1
        client = loader.parser.clients._async
        assert client is not None
        pool = await client._pipeline.http_client()
        assert len(loader.load()) == 1
        sync_pool = _pool(loader.parser.clients._sync)
    assert pool.is_closed and sync_pool.is_closed
    assert loader.parser.clients._async is None


def test_a_parser_in_a_with_block_closes_the_client_it_built(
    tmp_path: Path, server_url: str
) -> None:
    [path] = write_audio(tmp_path, "a.wav")
    with CompactifAITranscriptParser(api_key=KEY, base_url=server_url) as parser:
        assert len(list(parser.lazy_parse(Blob.from_path(path)))) == 1
        pool = _pool(parser.clients._sync)
    assert pool.is_closed


def test_a_client_passed_in_is_left_open(tmp_path: Path, server_url: str) -> None:
    [path] = write_audio(tmp_path, "a.wav")
    with CompactifAIClient(api_key=KEY, base_url=server_url) as mine:
        with CompactifAITranscriptLoader(path, client=mine) as loader:
            assert len(loader.load()) == 1
        assert loader.parser.clients._sync is mine
        pool = _pool(mine)  # still open, still usable
        assert len(CompactifAITranscriptLoader(path, client=mine).load()) == 1
    assert pool.is_closed


# ---------------------------------------------------------------- models


@pytest.mark.parametrize("cls", [ChatCompactifAI, CompactifAI])
def test_a_model_in_a_with_block_closes_its_pool(
    cls: Any, server_url: str, no_leaks: list[str]
) -> None:
    with cls(api_key=KEY, base_url=server_url, max_retries=0) as llm:
        llm.invoke("hi")
        pool = _pool(llm._client)
    assert pool.is_closed and llm._client is None
    llm.invoke("again")  # a new pool, closed by close()
    pool = _pool(llm._client)
    llm.close()
    assert pool.is_closed
    del llm
    gc.collect()
    assert no_leaks == []


@pytest.mark.parametrize("cls", [ChatCompactifAI, CompactifAI])
async def test_a_model_in_an_async_with_block_closes_its_pools(cls: Any, server_url: str) -> None:
    async with cls(api_key=KEY, base_url=server_url, max_retries=0) as llm:
        await llm.ainvoke("hi")
        pool = await llm.async_client._pipeline.http_client()
        assert not pool.is_closed
    assert pool.is_closed
    assert llm._async_client is None and llm._client is None


def test_closing_a_model_leaves_the_callers_http_client_open(server_url: str) -> None:
    with httpx.Client() as mine:
        with ChatCompactifAI(api_key=KEY, base_url=server_url, http_client=mine) as llm:
            assert llm.invoke("hi").content == "pong"
        assert not mine.is_closed
