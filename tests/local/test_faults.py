"""Fault injection (``--enable-faults``): each fault, as a plain httpx client sees it."""

from __future__ import annotations

import email.utils
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from compactifai.local import ServerSettings, create_app

from .support import API_KEY, CHAT_MODEL

BODY = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}


def fault(client: httpx.Client, name: str, **headers: str) -> httpx.Response:
    return client.post("/chat/completions", json=BODY, headers={"X-Fault": name, **headers})


def test_429_with_retry_after_seconds(client: httpx.Client) -> None:
    resp = fault(client, "429")
    assert resp.status_code == 429 and resp.headers["retry-after"] == "1"
    assert resp.json()["error"]["type"] == "rate_limit_error"
    assert resp.headers["x-compactifai-server"].startswith("compactifai-local/")


def test_429_with_retry_after_date(client: httpx.Client) -> None:
    resp = fault(client, "429-date")
    assert resp.status_code == 429
    when = email.utils.parsedate_to_datetime(resp.headers["retry-after"]).timestamp()
    assert 0.0 <= when - time.time() <= 2.5


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors(client: httpx.Client, status: int) -> None:
    resp = fault(client, str(status))
    assert resp.status_code == status
    err = resp.json()["error"]
    assert err["message"] and err["type"] in ("server_error", "service_unavailable")


def test_drop_closes_before_any_response(client: httpx.Client) -> None:
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        fault(client, "drop")


def test_drop_mid_stream(client: httpx.Client) -> None:
    got: list[str] = []
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):  # noqa: SIM117
        with client.stream(
            "POST",
            "/chat/completions",
            json={**BODY, "stream": True},
            headers={"X-Fault": "drop-mid-stream"},
        ) as resp:
            assert resp.status_code == 200
            for line in resp.iter_lines():
                if line:
                    got.append(line)
    assert len(got) == 2 and all(line.startswith("data: {") for line in got)
    assert "data: [DONE]" not in got


def test_malformed_json(client: httpx.Client) -> None:
    resp = fault(client, "malformed-json")
    assert resp.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        resp.json()


def test_malformed_sse(client: httpx.Client) -> None:
    with client.stream(
        "POST",
        "/chat/completions",
        json={**BODY, "stream": True},
        headers={"X-Fault": "malformed-sse"},
    ) as resp:
        lines = [line for line in resp.iter_lines() if line]
    assert resp.headers["content-type"].startswith("text/event-stream")
    payloads = [line[len("data: ") :] for line in lines]
    broken = [p for p in payloads if p != "[DONE]" and not _is_json(p)]
    assert len(broken) == 1 and payloads[-1] == "[DONE]"


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def test_stall_waits_before_headers(client: httpx.Client) -> None:
    with pytest.raises(httpx.ReadTimeout):
        client.get("/models", headers={"X-Fault": "stall", "X-Fault-Seconds": "3"}, timeout=0.5)
    started = time.perf_counter()
    resp = client.get("/models", headers={"X-Fault": "stall", "X-Fault-Seconds": "0.4"})
    assert resp.status_code == 200 and time.perf_counter() - started >= 0.4


def test_stall_stream_sends_one_chunk_then_waits(client: httpx.Client) -> None:
    timeout = httpx.Timeout(5.0, read=0.5)
    first: list[str] = []
    with pytest.raises(httpx.ReadTimeout):  # noqa: SIM117
        with client.stream(
            "POST",
            "/chat/completions",
            json={**BODY, "stream": True},
            headers={"X-Fault": "stall-stream", "X-Fault-Seconds": "3"},
            timeout=timeout,
        ) as resp:
            for line in resp.iter_lines():
                if line:
                    first.append(line)
    assert len(first) == 1


def test_fault_times_with_id_fails_then_succeeds(client: httpx.Client) -> None:
    fid = uuid.uuid4().hex
    statuses = [
        client.get(
            "/models", headers={"X-Fault": "503", "X-Fault-Times": "2", "X-Fault-Id": fid}
        ).status_code
        for _ in range(4)
    ]
    assert statuses == [503, 503, 200, 200]


def test_unknown_fault_is_400(client: httpx.Client) -> None:
    assert client.get("/models", headers={"X-Fault": "gremlins"}).status_code == 400


def test_faults_need_a_valid_key(local_server: Any) -> None:
    resp = httpx.get(f"{local_server.base_url}/models", headers={"X-Fault": "500"})
    assert resp.status_code == 401


async def test_faults_are_ignored_unless_enabled(tmp_path: Path) -> None:
    app = create_app(ServerSettings(api_keys=(API_KEY,), usage_db=tmp_path / "u.sqlite3"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://local/v1",
        headers={"Authorization": f"Bearer {API_KEY}"},
    ) as http:
        for name in ("500", "429", "drop", "malformed-json"):
            resp = await http.get("/models", headers={"X-Fault": name})
            assert resp.status_code == 200 and resp.json()["object"] == "list"


async def test_missing_engine_is_503_naming_the_install_command(tmp_path: Path) -> None:
    settings = ServerSettings(
        api_keys=(API_KEY,),
        usage_db=tmp_path / "u.sqlite3",
        chat_model_path=tmp_path / "missing.gguf",
        whisper_model_path=tmp_path / "no-whisper",
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://local/v1",
        headers={"Authorization": f"Bearer {API_KEY}"},
    ) as http:
        resp = await http.post("/chat/completions", json=BODY)
        assert resp.status_code == 503
        err = resp.json()["error"]
        assert "pip install 'compactifai-integrations[local]'" in err["message"]
        assert "missing.gguf" in err["message"]
        assert err["code"] == "engine_unavailable"
        resp = await http.post("/completions", json={"model": CHAT_MODEL, "prompt": "x"})
        assert resp.status_code == 503
