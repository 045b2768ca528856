"""Error answers in the three shapes today's service uses, where it uses them.

- ``{"error": {"message", "type", "code", "param"}}`` for what the application refuses (400,
  with an unknown model listing the available ids; 413, 429, 503);
- a bare ``{"detail": "..."}`` on 401, 404, 405 and 500;
- FastAPI's 422 ``{"detail": [{"type", "loc", "msg", ...}]}`` for a chat or completion body
  that breaks the request schema.

Every answer is read back by the transport's own error parser too: the typed error and its
message must come out right (the server's words, the field, the available ids).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from compactifai._errors import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    UnprocessableEntityError,
    error_from_response,
)

from .support import CHAT_MODEL

MSG = [{"role": "user", "content": "hi"}]


def _error(resp: httpx.Response, status: int) -> dict[str, Any]:
    """The ``{"error": {...}}`` envelope."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    err: dict[str, Any] = resp.json()["error"]
    assert set(err) == {"message", "type", "code", "param"}
    assert err["message"] and err["type"] and err["code"], err
    assert "[Errno" not in err["message"]
    return err


def _detail(resp: httpx.Response, status: int) -> str:
    """The bare ``{"detail": "..."}``."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"detail"} and isinstance(body["detail"], str) and body["detail"]
    return str(body["detail"])


def _problems(resp: httpx.Response) -> list[dict[str, Any]]:
    """FastAPI's 422 list."""
    assert resp.status_code == 422, resp.text
    items: list[dict[str, Any]] = resp.json()["detail"]
    assert items and all({"type", "loc", "msg"} <= set(item) for item in items)
    assert all(item["loc"][0] == "body" for item in items)
    return items


def _typed(resp: httpx.Response) -> Any:
    return error_from_response(
        resp.status_code, resp.content, content_type=resp.headers.get("content-type")
    )


def test_unknown_model_in_a_body_is_400_listing_the_available_ids(client: httpx.Client) -> None:
    for path in ("/chat/completions", "/completions"):
        resp = client.post(path, json={"model": "nope", "messages": MSG, "prompt": "hi"})
        err = _error(resp, 400)
        assert err["param"] == "model" and err["code"] == "model_not_found"
        assert "available: [smollm2-135m-instruct, whisper-base]" in err["message"]
        typed = _typed(resp)
        assert isinstance(typed, BadRequestError)
        assert typed.available_models == ["smollm2-135m-instruct", "whisper-base"]


def test_unknown_model_path_is_a_bare_404(client: httpx.Client) -> None:
    resp = client.get("/models/cai-llama-3-1-8b-slim")
    detail = _detail(resp, 404)
    assert "smollm2-135m-instruct" in detail and "whisper-base" in detail
    assert isinstance(_typed(resp), NotFoundError)
    assert _typed(resp).message.startswith(detail)  # the server's words (and the client's hint)


def test_405_and_404_are_bare_details(client: httpx.Client) -> None:
    resp = client.get("/chat/completions")
    assert "not allowed" in _detail(resp, 405) and resp.headers["allow"] == "POST"
    assert "not allowed" in _detail(client.delete("/models"), 405)
    assert "no such endpoint" in _detail(client.get("/nothing-here"), 404)


@pytest.mark.parametrize(
    "path,body,loc",
    [
        ("/completions", {"model": CHAT_MODEL}, ["body", "prompt"]),
        (
            "/completions",
            {"model": CHAT_MODEL, "prompt": "x", "temperature": 9},
            ["body", "temperature"],
        ),
        (
            "/completions",
            {"model": CHAT_MODEL, "prompt": "x", "max_tokens": 0},
            ["body", "max_tokens"],
        ),
        ("/completions", {"model": CHAT_MODEL, "prompt": "x", "top_p": 0}, ["body", "top_p"]),
        (
            "/chat/completions",
            {"model": CHAT_MODEL, "messages": MSG, "top_p": 2},
            ["body", "top_p"],
        ),
        (
            "/chat/completions",
            {"model": CHAT_MODEL, "messages": MSG, "top_p": 0},
            ["body", "top_p"],
        ),
        (
            "/chat/completions",
            {"model": CHAT_MODEL, "messages": MSG, "max_tokens": 150_001},
            ["body", "max_tokens"],
        ),
        ("/chat/completions", {"model": CHAT_MODEL, "messages": MSG, "n": 2}, ["body", "n"]),
        (
            "/chat/completions",
            {"model": CHAT_MODEL, "messages": MSG, "min_tokens": -1},
            ["body", "min_tokens"],
        ),
        (
            "/chat/completions",
            {"model": CHAT_MODEL, "messages": MSG, "reasoning_effort": "ultra"},
            ["body", "reasoning_effort"],
        ),
        (
            "/chat/completions",
            {"model": CHAT_MODEL, "messages": MSG, "ignore_eos": "often"},
            ["body", "ignore_eos"],
        ),
        ("/chat/completions", {"messages": MSG}, ["body", "model"]),
        ("/chat/completions", {"model": CHAT_MODEL, "messages": []}, ["body", "messages"]),
    ],
)
def test_a_body_breaking_the_schema_is_fastapis_422(
    client: httpx.Client, path: str, body: dict[str, Any], loc: list[Any]
) -> None:
    resp = client.post(path, json=body)
    problems = _problems(resp)
    assert problems[0]["loc"] == loc
    typed = _typed(resp)
    field = ".".join(str(p) for p in loc[1:])
    assert isinstance(typed, UnprocessableEntityError) and typed.param == field
    assert typed.message.startswith(f"{field}: ")  # which field, and why


@pytest.mark.parametrize(
    "path,body,param",
    [
        ("/completions", {"model": CHAT_MODEL, "prompt": []}, "prompt"),
        ("/completions", {"model": CHAT_MODEL, "prompt": "x", "n": 2}, "n"),
        ("/completions", {"model": CHAT_MODEL, "prompt": ""}, "prompt"),
        (
            "/chat/completions",
            {"model": CHAT_MODEL, "messages": MSG, "response_format": {}},
            "response_format.type",
        ),
        (
            "/chat/completions",
            {"model": CHAT_MODEL, "messages": MSG, "reasoning_effort": "low"},
            "reasoning_effort",
        ),
        (
            "/chat/completions",
            {"model": CHAT_MODEL, "messages": MSG, "reasoning_enabled": True},
            "reasoning_enabled",
        ),
        ("/usage/completions", {"start_time": "yesterday"}, "start_time"),
        (
            "/usage/completions",
            {"start_time": "2025-01-01T00:00:00Z", "group_by": ["x"]},
            "group_by",
        ),
    ],
)
def test_what_the_application_refuses_is_a_400_naming_the_param(
    client: httpx.Client, path: str, body: dict[str, Any], param: str
) -> None:
    err = _error(client.post(path, json=body), 400)
    assert err["type"] == "invalid_request_error" and err["param"] == param


def test_a_reasoning_level_the_model_lacks_is_refused_naming_the_ones_it_has(
    client: httpx.Client,
) -> None:
    for effort in ("low", "medium", "high", "xhigh", "max"):
        body = {"model": CHAT_MODEL, "messages": MSG, "reasoning_effort": effort}
        resp = client.post("/chat/completions", json=body)
        err = _error(resp, 400)
        assert err["code"] == "unsupported_reasoning_effort"
        assert f"reasoning_effort '{effort}'" in err["message"]
        assert "supported: [none]" in err["message"]
        assert isinstance(_typed(resp), BadRequestError)


@pytest.mark.parametrize(
    "content", [b"", b"[1, 2]", b"{not json", b'"a string"', b"[" * 100_000 + b"]" * 100_000]
)
def test_bad_json_bodies(client: httpx.Client, content: bytes) -> None:
    headers = {"content-type": "application/json"}
    for path in ("/chat/completions", "/completions"):  # the service's: FastAPI's 422
        problems = _problems(client.post(path, content=content, headers=headers))
        assert problems[0]["loc"][0] == "body"
    # the first reference's usage route keeps its 400 envelope
    resp = client.post("/usage/completions", content=content, headers=headers)
    assert _error(resp, 400)["code"] == "invalid_request"


def test_401_is_a_bare_detail_and_injected_faults_keep_their_codes(
    local_server: Any, client: httpx.Client
) -> None:
    resp = httpx.get(f"{local_server.base_url}/models")
    assert "missing API key" in _detail(resp, 401)
    assert isinstance(_typed(resp), AuthenticationError)
    assert _error(client.get("/models", headers={"X-Fault": "gremlins"}), 400)["code"]
