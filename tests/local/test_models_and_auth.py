"""Models list/retrieve, API keys, headers and error shapes (no model is loaded)."""

from __future__ import annotations

import httpx
import pytest

from compactifai._version import __version__
from compactifai.local import LocalServer
from compactifai.types import Model, ModelList

from .support import CHAT_MODEL


def _assert_error(resp: httpx.Response, status: int) -> dict[str, object]:
    """The ``{"error": {...}}`` envelope (what the application refuses: 400, 413...)."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    err = resp.json()["error"]
    assert set(err) >= {"message", "type", "code"}
    assert isinstance(err["message"], str) and err["message"]
    return dict(err)


def _assert_detail(resp: httpx.Response, status: int) -> str:
    """A bare ``{"detail": "..."}``, as the service answers 401, 404, 405 and 500."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"detail"} and isinstance(body["detail"], str) and body["detail"]
    return str(body["detail"])


def _assert_422(resp: httpx.Response) -> list[dict[str, object]]:
    """FastAPI's 422 list, as the service answers a body that breaks its schema."""
    assert resp.status_code == 422, resp.text
    problems = resp.json()["detail"]
    assert isinstance(problems, list) and problems
    return list(problems)


def test_models_list_shape(client: httpx.Client) -> None:
    resp = client.get("/models")
    assert resp.status_code == 200
    listing = ModelList.model_validate(resp.json())
    assert listing.object == "list"
    by_id = {m.id: m for m in listing.data}
    assert set(by_id) == {CHAT_MODEL, "whisper-base"}
    chat = by_id[CHAT_MODEL]
    assert chat.owned_by and chat.parameters_number == "135M" and chat.created
    assert chat.capabilities.supports_function_calling is True
    assert chat.capabilities.supports_image is False
    assert chat.capabilities.supports_audio is False
    assert chat.parameter_count == 135_000_000
    # today's service's fields (spelled as it spells them)
    assert chat.capabilities.support_chat_completion is True
    assert chat.capabilities.supports_responses is False
    whisper = by_id["whisper-base"]
    assert whisper.parameters_number == "74M"
    assert whisper.capabilities.supports_audio is True
    assert whisper.capabilities.supports_function_calling is False
    assert whisper.capabilities.support_chat_completion is False
    assert not any(m.id.startswith("cai-") for m in listing.data)
    for raw in resp.json()["data"]:
        assert set(raw) == {
            "id",
            "created",
            "object",
            "owned_by",
            "parameters_number",
            "capabilities",
        }
        assert isinstance(raw["parameters_number"], str)  # "135M", as the service writes it
        assert set(raw["capabilities"]) == {
            "supports_audio",
            "supports_image",
            "supports_function_calling",
            "support_chat_completion",
            "supports_responses",
        }


@pytest.mark.parametrize("model_id", [CHAT_MODEL, "whisper-base"])
def test_retrieve_model(client: httpx.Client, model_id: str) -> None:
    resp = client.get(f"/models/{model_id}")
    assert resp.status_code == 200
    model = Model.model_validate(resp.json())
    assert model.id == model_id and model.object == "model"


@pytest.mark.parametrize("model_id", ["cai-llama-3-1-8b-slim", "whisper-large-v3", "nope"])
def test_retrieve_unknown_model_is_404(client: httpx.Client, model_id: str) -> None:
    assert model_id in _assert_detail(client.get(f"/models/{model_id}"), 404)


def test_server_headers_on_every_answer(client: httpx.Client, local_server: LocalServer) -> None:
    answers = [
        client.get("/models"),
        client.get("/models/nope"),
        httpx.get(f"{local_server.base_url}/models"),
        client.post("/chat/completions", json={"model": CHAT_MODEL}),
    ]
    ids = set()
    for resp in answers:
        assert resp.headers["x-compactifai-server"] == f"compactifai-local/{__version__}"
        ids.add(resp.headers["x-request-id"])
    assert len(ids) == len(answers)


@pytest.mark.parametrize(
    "path,method",
    [
        ("/models", "GET"),
        ("/models/whisper-base", "GET"),
        ("/chat/completions", "POST"),
        ("/completions", "POST"),
        ("/audio/transcriptions", "POST"),
        ("/usage/completions", "POST"),
    ],
)
def test_missing_key_is_401_everywhere(local_server: LocalServer, path: str, method: str) -> None:
    resp = httpx.request(method, f"{local_server.base_url}{path}", json={})
    assert "API key" in _assert_detail(resp, 401)


@pytest.mark.parametrize(
    "auth", ["Bearer wrong-key", "Basic dGVzdDp0ZXN0", "Bearer", "test-key-local-1"]
)
def test_wrong_key_is_401(local_server: LocalServer, auth: str) -> None:
    resp = httpx.get(f"{local_server.base_url}/models", headers={"Authorization": auth})
    detail = _assert_detail(resp, 401)
    assert "test-key" not in detail and "local-dev-key" not in resp.text


def test_second_configured_key_works(local_server: LocalServer) -> None:
    resp = httpx.get(
        f"{local_server.base_url}/models", headers={"Authorization": "Bearer test-key-local-2"}
    )
    assert resp.status_code == 200


def test_unknown_endpoint_and_method(client: httpx.Client) -> None:
    _assert_detail(client.get("/nothing-here"), 404)
    _assert_detail(client.get("/chat/completions"), 405)


@pytest.mark.parametrize(
    "body,field",
    [
        ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
        ({"model": CHAT_MODEL}, "messages"),
        ({"model": CHAT_MODEL, "messages": []}, "messages"),
        (
            {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "x"}], "temperature": 3},
            "temperature",
        ),
        (
            {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "x"}], "max_tokens": 0},
            "max_tokens",
        ),
        ({"model": CHAT_MODEL, "messages": [{"role": "user", "content": "x"}], "n": 2}, "n"),
    ],
)
def test_chat_bodies_breaking_the_schema_are_422_naming_the_field(
    client: httpx.Client, body: dict[str, object], field: str
) -> None:
    problems = _assert_422(client.post("/chat/completions", json=body))
    assert problems[0]["loc"] == ["body", field]
    assert problems[0]["msg"] and problems[0]["type"]


@pytest.mark.parametrize(
    "body,field",
    [
        (
            {"model": CHAT_MODEL, "messages": [{"role": "wizard", "content": "x"}]},
            "messages[0].role",
        ),
        (
            {
                "model": CHAT_MODEL,
                "messages": [{"role": "user", "content": "x"}],
                "tool_choice": "required",
            },
            "tool_choice",
        ),
        (
            {
                "model": CHAT_MODEL,
                "messages": [{"role": "user", "content": "x"}],
                "tools": [{"type": "function", "function": {"name": "f"}}],
                "tool_choice": {"type": "function", "function": {"name": "g"}},
            },
            "tool_choice",
        ),
    ],
)
def test_invalid_chat_requests_are_400_naming_the_field(
    client: httpx.Client, body: dict[str, object], field: str
) -> None:
    err = _assert_error(client.post("/chat/completions", json=body), 400)
    assert err["type"] == "invalid_request_error"
    assert err["param"] == field
    assert field.split("[")[0] in str(err["message"])


def test_body_that_is_not_json_is_422(client: httpx.Client) -> None:
    resp = client.post(
        "/chat/completions", content=b"{not json", headers={"content-type": "application/json"}
    )
    (problem,) = _assert_422(resp)
    assert problem["type"] == "json_invalid" and problem["msg"] == "JSON decode error"


def test_image_part_is_400_naming_the_model(client: httpx.Client) -> None:
    body = {
        "model": CHAT_MODEL,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in this image?"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
                ],
            }
        ],
    }
    err = _assert_error(client.post("/chat/completions", json=body), 400)
    assert CHAT_MODEL in str(err["message"]) and "image" in str(err["message"])


@pytest.mark.parametrize("path", ["/chat/completions", "/completions"])
def test_unknown_model_is_400_listing_the_available_ids(client: httpx.Client, path: str) -> None:
    body = {
        "model": "cai-llama-3-1-8b-slim",
        "messages": [{"role": "user", "content": "hi"}],
        "prompt": "hi",
    }
    err = _assert_error(client.post(path, json=body), 400)
    assert err["code"] == "model_not_found" and err["param"] == "model"
    assert "available: [smollm2-135m-instruct, whisper-base]" in str(err["message"])


@pytest.mark.parametrize(
    ("part", "code"),
    [
        ({"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
         "audio_not_supported"),
        ({"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERg=="}},
         "file_not_supported"),
    ],
)
def test_audio_and_file_parts_are_400_naming_the_model(
    client: httpx.Client, part: dict[str, object], code: str
) -> None:
    body = {"model": CHAT_MODEL,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "?"}, part]}]}
    err = _assert_error(client.post("/chat/completions", json=body), 400)
    assert err["code"] == code and CHAT_MODEL in str(err["message"])
    assert err["param"] == "messages[0].content[1]"


def test_whisper_is_not_a_chat_model(client: httpx.Client) -> None:
    body = {"model": "whisper-base", "messages": [{"role": "user", "content": "hi"}]}
    _assert_error(client.post("/chat/completions", json=body), 400)
