"""Every error answer has the same shape on every endpoint: message, type, code, param."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .support import CHAT_MODEL

MSG = [{"role": "user", "content": "hi"}]


def _error(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    err: dict[str, Any] = resp.json()["error"]
    assert set(err) == {"message", "type", "code", "param"}
    assert err["message"] and err["type"] and err["code"], err
    assert "[Errno" not in err["message"]
    return err


def test_unknown_model_404_lists_the_available_ids(client: httpx.Client) -> None:
    err = _error(client.get("/models/cai-llama-3-1-8b-slim"), 404)
    assert err["code"] == "model_not_found" and err["param"] == "model"
    assert "smollm2-135m-instruct" in err["message"] and "whisper-base" in err["message"]
    for path in ("/chat/completions", "/completions"):
        body = {"model": "nope", "messages": MSG, "prompt": "hi"}
        err = _error(client.post(path, json=body), 404)
        assert err["param"] == "model" and "smollm2-135m-instruct" in err["message"]


def test_405_and_404_carry_a_code(client: httpx.Client) -> None:
    resp = client.get("/chat/completions")
    err = _error(resp, 405)
    assert err["code"] == "method_not_allowed" and resp.headers["allow"] == "POST"
    assert _error(client.delete("/models"), 405)["code"] == "method_not_allowed"
    assert _error(client.get("/nothing-here"), 404)["code"] == "not_found"


@pytest.mark.parametrize(
    "path,body,param",
    [
        ("/completions", {"model": CHAT_MODEL}, "prompt"),
        ("/completions", {"model": CHAT_MODEL, "prompt": []}, "prompt"),
        ("/completions", {"model": CHAT_MODEL, "prompt": "x", "n": 2}, "n"),
        ("/completions", {"model": CHAT_MODEL, "prompt": "x", "temperature": 9}, "temperature"),
        ("/completions", {"model": CHAT_MODEL, "prompt": "x", "max_tokens": 0}, "max_tokens"),
        ("/chat/completions", {"model": CHAT_MODEL, "messages": MSG, "top_p": 2}, "top_p"),
        # Found by schemathesis (schema-invalid, once accepted):
        ("/completions", {"model": CHAT_MODEL, "prompt": ""}, "prompt"),
        ("/completions", {"model": CHAT_MODEL, "prompt": "x", "top_p": 0}, "top_p"),
        ("/chat/completions", {"model": CHAT_MODEL, "messages": MSG, "top_p": 0}, "top_p"),
        (
            "/chat/completions",
            {"model": CHAT_MODEL, "messages": MSG, "response_format": {}},
            "response_format.type",
        ),
        (
            "/chat/completions",
            {"model": CHAT_MODEL, "messages": MSG, "max_tokens": 150_001},
            "max_tokens",
        ),
        ("/usage/completions", {"start_time": "yesterday"}, "start_time"),
        ("/usage/completions", {"start_time": "2025-01-01T00:00:00Z", "group_by": ["x"]}, "group_by"),
    ],
)
def test_400_names_the_param(
    client: httpx.Client, path: str, body: dict[str, Any], param: str
) -> None:
    err = _error(client.post(path, json=body), 400)
    assert err["type"] == "invalid_request_error" and err["param"] == param


@pytest.mark.parametrize(
    "content", [b"", b"[1, 2]", b"{not json", b'"a string"', b"[" * 100_000 + b"]" * 100_000]
)
def test_bad_json_bodies_are_400_on_every_json_endpoint(
    client: httpx.Client, content: bytes
) -> None:
    for path in ("/chat/completions", "/completions", "/usage/completions"):
        resp = client.post(path, content=content, headers={"content-type": "application/json"})
        assert _error(resp, 400)["code"] == "invalid_request"


def test_401_and_injected_faults_have_codes(
    local_server: Any, client: httpx.Client
) -> None:
    err = _error(httpx.get(f"{local_server.base_url}/models"), 401)
    assert err["code"] == "missing_api_key"
    assert _error(client.get("/models", headers={"X-Fault": "gremlins"}), 400)["code"]
