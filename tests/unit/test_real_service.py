"""Today's service (``../shared/reference/real-api``): its error shapes, headers and hosts.

Bodies below are the shapes ``errors.yml`` documents and observed; each must give the right
typed error with the server's own words.
"""

from __future__ import annotations

import pickle
from typing import Any

import httpx
import pytest

from compactifai import (
    AuthenticationError,
    BadRequestError,
    CompactifAIClient,
    ConfigurationError,
    EndpointWithdrawnError,
    InternalServerError,
    NotFoundError,
    UnprocessableEntityError,
)
from tests.helpers import Recorder, async_client, json_response, sync_client

CHAT: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
UNKNOWN_MODEL = {
    "error": {
        "type": "invalid_request_error",
        "message": "Invalid request: Model 'nonexistent-model' not found; available: "
        "[cai-mistral-small-3-1-slim, hypernova-60b, glm-5-1]",
        "param": None,
        "code": None,
    }
}
FASTAPI_422 = {
    "detail": [
        {"loc": ["body", "messages", 0, "role"], "msg": "Input should be 'system', 'user' or "
         "'assistant'", "type": "literal_error"},
    ]
}


@pytest.mark.parametrize(
    ("status", "body", "cls", "message"),
    [
        (401, {"detail": "Token is not associated with a valid user"}, AuthenticationError,
         "Token is not associated with a valid user"),
        (404, {"detail": "Not Found"}, NotFoundError, "Not Found"),
        (500, {"detail": "Unexpected server error"}, InternalServerError,
         "Unexpected server error"),
        (422, FASTAPI_422, UnprocessableEntityError,
         "messages[0].role: Input should be 'system', 'user' or 'assistant'"),
        (400, UNKNOWN_MODEL, BadRequestError, UNKNOWN_MODEL["error"]["message"]),
    ],
)
def test_every_error_shape_gives_the_typed_error_in_the_servers_words(
    status: int, body: dict[str, Any], cls: type[Exception], message: str
) -> None:
    client = sync_client(Recorder(json_response(body, status, **{"x-request-id": "req-7"})))
    with pytest.raises(cls) as info:
        client.chat_completion(**CHAT)
    assert info.value.message == message  # type: ignore[attr-defined]
    assert info.value.request_id == "req-7"  # type: ignore[attr-defined]
    assert info.value.headers["x-request-id"] == "req-7"  # type: ignore[attr-defined]


def test_a_422_names_the_field() -> None:
    client = sync_client(Recorder(json_response(FASTAPI_422, 422)))
    with pytest.raises(UnprocessableEntityError) as info:
        client.chat_completion(**CHAT)
    assert info.value.param == "messages[0].role"


def test_an_unknown_model_exposes_the_available_ids() -> None:
    client = sync_client(Recorder(json_response(UNKNOWN_MODEL, 400)))
    with pytest.raises(BadRequestError) as info:
        client.chat_completion(**CHAT)
    assert info.value.available_models == ["cai-mistral-small-3-1-slim", "hypernova-60b", "glm-5-1"]
    copy = pickle.loads(pickle.dumps(info.value))
    assert copy.available_models == info.value.available_models


def test_a_500_is_retried() -> None:
    ok = {"id": "c", "object": "chat.completion", "created": 1, "model": "m", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}]}
    rec = Recorder(json_response({"detail": "Unexpected server error"}, 500), json_response(ok))
    client = sync_client(rec, max_retries=1)
    assert client.chat_completion(**CHAT).choices[0].message.content == "hi"
    assert len(rec.requests) == 2


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.chat_completion(**CHAT),
        lambda c: c.completion(model="m", prompt="hi"),
        lambda c: c.list_models(),
    ],
    ids=["chat", "completion", "models"],
)
def test_a_2xx_error_body_raises_instead_of_an_empty_answer(call: Any) -> None:
    client = sync_client(Recorder(json_response(UNKNOWN_MODEL, 200)))
    with pytest.raises(BadRequestError) as info:
        call(client)
    assert "not found; available" in info.value.message
    assert info.value.available_models is not None


async def test_a_2xx_error_body_raises_async_too() -> None:
    client = async_client(Recorder(json_response({"error": {"message": "boom", "code": 503}})))
    with pytest.raises(InternalServerError):
        await client.chat_completion(**CHAT)


def test_every_request_carries_a_request_id_and_a_callers_wins() -> None:
    ok = json_response({"object": "list", "data": []})
    rec = Recorder(ok)
    client = sync_client(rec)
    client.list_models()
    client.list_models()
    first, second = (r.headers["x-request-id"] for r in rec.requests)
    assert first != second and len(first) == 32
    rec.answers = [json_response(UNKNOWN_MODEL, 400)]
    with pytest.raises(BadRequestError) as info:
        client.chat_completion(**CHAT, extra_headers={"X-Request-Id": "mine-1"})
    assert rec.requests[-1].headers.get_list("x-request-id") == ["mine-1"]
    assert info.value.request_id == "mine-1"  # the server sent none back: ours is kept


def test_a_connection_error_names_the_request_id_we_sent() -> None:
    rec = Recorder(httpx.ConnectError("refused"))
    client = sync_client(rec)
    with pytest.raises(Exception) as info:
        client.list_models()
    assert info.value.request_id == rec.requests[0].headers["x-request-id"]  # type: ignore[attr-defined]


def test_app_id_is_sent_when_set() -> None:
    rec = Recorder(json_response({"object": "list", "data": []}))
    client = sync_client(rec, app_id="my-app")
    client.list_models()
    assert rec.requests[0].headers["x-app-id"] == "my-app"


@pytest.mark.parametrize(("region", "url"), [("eu", "https://api-eu.compactif.ai/v1"),
                                             ("US", "https://api-us.compactif.ai/v1")])
def test_region_picks_the_regional_host(region: str, url: str,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMPACTIFAI_BASE_URL")
    assert CompactifAIClient(api_key="sk-test", region=region).base_url == url


def test_region_and_a_clashing_base_url_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="pass one of them"):
        CompactifAIClient(api_key="sk-test", region="eu", base_url="http://127.0.0.1:1/v1")
    with pytest.raises(ConfigurationError, match="eu, us"):
        CompactifAIClient(api_key="sk-test", region="asia")


@pytest.mark.parametrize("status", [404, 405, 410])
def test_withdrawn_usage_endpoint_says_so(status: int) -> None:
    client = sync_client(Recorder(json_response({"detail": "Not Found"}, status)))
    with pytest.raises(EndpointWithdrawnError) as info:
        client.usage_statistics(start_time="2026-01-01T00:00:00Z")
    assert info.value.withdrawn_on == "2026-03-24"
    assert "dashboard" in info.value.message


async def test_withdrawn_usage_endpoint_says_so_async() -> None:
    client = async_client(Recorder(json_response({"detail": "Not Found"}, 404)))
    with pytest.raises(EndpointWithdrawnError):
        await client.usage_statistics(start_time="2026-01-01T00:00:00Z")


def test_an_unstated_capability_is_unknown_and_never_refused() -> None:
    """A model listed without ``capabilities`` (third-party servers) may be sent tools and
    images: only a server's explicit False refuses them before the request."""
    from compactifai import ModelCapabilityError, check_capabilities
    from compactifai._catalogue import profile_from_model
    from compactifai.types import Model

    unknown = profile_from_model(Model.model_validate({"id": "any-served-model"}))
    check_capabilities(unknown, has_image=True, has_tools=True)  # no error: the server decides
    refused = profile_from_model(Model.model_validate(
        {"id": "m", "capabilities": {"supports_function_calling": False}}))
    with pytest.raises(ModelCapabilityError):
        check_capabilities(refused, has_image=False, has_tools=True)


def test_todays_capability_fields_and_parameter_count() -> None:
    from compactifai.types import Model

    model = Model.model_validate({
        "id": "hypernova-60b", "parameters_number": "53.35B",
        "capabilities": {"support_chat_completion": True, "supports_responses": True,
                         "supports_reasoning_effort": True},
    })
    assert model.capabilities.support_chat_completion is True
    assert model.capabilities.supports_responses is True
    assert model.capabilities.model_extra == {"supports_reasoning_effort": True}  # kept
    assert model.parameters_number == "53.35B" and model.parameter_count == 53_350_000_000
