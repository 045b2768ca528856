"""The command line, and ``LocalServer``'s process handling."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from compactifai.local import DEFAULT_API_KEY, DEFAULT_PORT, LocalServer, LocalServerError
from compactifai.local.__main__ import parse_args


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMPACTIFAI_LOCAL_API_KEYS", raising=False)
    settings = parse_args([])
    assert (settings.host, settings.port) == ("127.0.0.1", DEFAULT_PORT)
    assert settings.api_keys == (DEFAULT_API_KEY,)
    assert settings.enable_faults is False
    assert settings.usage_db_path().name == "usage.sqlite3"
    assert settings.n_threads == 2
    assert settings.auto_tool_choice == "model"  # the model decides tool_choice="auto"
    assert parse_args(["--auto-tool-choice", "keyword"]).auto_tool_choice == "keyword"
    with pytest.raises(SystemExit):
        parse_args(["--auto-tool-choice", "dice"])


def test_keys_from_flags_and_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("COMPACTIFAI_LOCAL_API_KEYS", "env-one, env-two,,")
    settings = parse_args(
        [
            "--api-key",
            "a",
            "--api-key",
            "b",
            "--port",
            "0",
            "--enable-faults",
            "--usage-db",
            str(tmp_path / "u.db"),
        ]
    )
    assert settings.api_keys == ("a", "b", "env-one", "env-two")
    assert settings.port == 0 and settings.enable_faults
    assert settings.usage_db_path() == tmp_path / "u.db"


def test_importing_the_package_loads_no_server_dependency() -> None:
    code = (
        "import sys, compactifai.local; "
        "bad = [m for m in ('starlette', 'uvicorn', 'llama_cpp', 'faster_whisper') if m in sys.modules]; "
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_start_and_stop(tmp_path: Path) -> None:
    server = LocalServer(api_key="proc-key", usage_db=tmp_path / "u.sqlite3")
    assert "stopped" in repr(server)
    started = time.perf_counter()
    with server:
        assert server.running and server.base_url.startswith("http://127.0.0.1:")
        resp = httpx.get(f"{server.base_url}/models", headers={"Authorization": "Bearer proc-key"})
        assert resp.status_code == 200
        log = server.log_tail()
        assert "compactifai-local" in log and "proc-key" not in log
    assert not server.running
    assert time.perf_counter() - started < 30
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.base_url}/models")


def test_start_failure_reports_the_log(local_server: LocalServer) -> None:
    port = int(local_server.base_url.rsplit(":", 1)[1].split("/")[0])
    with pytest.raises(LocalServerError, match="exited with code"):
        LocalServer(port=port, api_key=local_server.api_key, startup_timeout=20).start()
