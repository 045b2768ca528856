"""Fixtures of the local server's tests: one server per session (faults on), plain httpx clients.

Tests that need the real models carry ``@pytest.mark.local_models``; they are skipped when
llama-cpp-python or faster-whisper is not installed (select them with ``-m local_models``).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import httpx
import pytest

from compactifai.local import LocalServer

from .support import API_KEY, FIXTURES, OTHER_KEY

if not all(importlib.util.find_spec(m) is not None for m in ("starlette", "uvicorn")):
    # The server itself is not installed: nothing here can run.
    collect_ignore_glob = ["test_*.py"]


def _engines_installed() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("llama_cpp", "faster_whisper"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the real-model tests when the engines are not installed."""
    if _engines_installed():
        return
    skip = pytest.mark.skip(reason="needs llama-cpp-python and faster-whisper (the local extra)")
    for item in items:
        if "local_models" in item.keywords and "tests/local" in str(item.path).replace("\\", "/"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """The local server in a subprocess, faults enabled, with its own usage database."""
    db = tmp_path_factory.mktemp("local-usage") / "usage.sqlite3"
    server = LocalServer(
        api_key=API_KEY,
        extra_api_keys=(OTHER_KEY,),
        enable_faults=True,
        usage_db=db,
        startup_timeout=90,
    )
    with server:
        yield server


@pytest.fixture
def client(local_server: LocalServer) -> Iterator[httpx.Client]:
    """An httpx client with the server's base URL and key."""
    with httpx.Client(
        base_url=local_server.base_url,
        headers={"Authorization": f"Bearer {local_server.api_key}"},
        timeout=httpx.Timeout(180.0, connect=10.0),
    ) as http:
        yield http


@pytest.fixture
def speech_wav() -> bytes:
    """A 6.6 s espeak-ng recording, 16 kHz mono."""
    return (FIXTURES / "speech.wav").read_bytes()
