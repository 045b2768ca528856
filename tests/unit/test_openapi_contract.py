"""Every request the transport builds validates against the service's published OpenAPI.

``tests/fixtures/real_api/openapi.json`` is the provider's document (``info.version`` 0.1.1),
copied unchanged. Bodies are built by the real builders from generated inputs (hypothesis)
and validated with ``jsonschema`` against the operation's request schema; what the OpenAPI
does not declare may be sent only if it is in ``UNDECLARED_IN_OPENAPI``, the one list.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from compactifai._requests import (
    UNDECLARED_IN_OPENAPI,
    _chat_body,
    _completion_body,
    _streamed,
    _transcription_form,
)
from compactifai.types import Completion

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "real_api"
SPEC = json.loads((FIXTURES / "openapi.json").read_text(encoding="utf-8"))
SCHEMAS = SPEC["components"]["schemas"]
# OpenAPI 3.1 schemas are JSON Schema 2020-12: the whole document is one resource to resolve in.
REGISTRY = Registry().with_resource(
    "urn:spec", Resource.from_contents(SPEC, default_specification=DRAFT202012)
)
REQUEST_SCHEMAS = {
    "chat_completion": "ChatCompletionRequest",
    "completion": "CompletionRequest",
    "transcription": "Body_create_transcription_v1_audio_transcriptions_post",
}


def _validator(operation: str) -> jsonschema.Draft202012Validator:
    ref = {"$ref": f"urn:spec#/components/schemas/{REQUEST_SCHEMAS[operation]}"}
    return jsonschema.Draft202012Validator(ref, registry=REGISTRY)


def _check(operation: str, body: dict[str, Any]) -> None:
    errors = sorted(_validator(operation).iter_errors(body), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]
    declared = set(SCHEMAS[REQUEST_SCHEMAS[operation]]["properties"])
    undeclared = set(body) - declared
    assert undeclared <= UNDECLARED_IN_OPENAPI[operation], (
        f"{operation} sends {sorted(undeclared - UNDECLARED_IN_OPENAPI[operation])}, which the "
        "OpenAPI does not declare: add them to UNDECLARED_IN_OPENAPI with the reason, or stop"
    )


def test_the_undeclared_list_holds_only_undeclared_fields() -> None:
    for operation, fields in UNDECLARED_IN_OPENAPI.items():
        declared = set(SCHEMAS[REQUEST_SCHEMAS[operation]]["properties"])
        assert not fields & declared, f"{operation}: {sorted(fields & declared)} are declared"


TEXT = st.text(min_size=1, max_size=30)
MESSAGES = st.lists(
    st.fixed_dictionaries({"role": st.sampled_from(["system", "user", "assistant"]),
                           "content": TEXT}),
    min_size=1, max_size=4,
)
TOOL = st.fixed_dictionaries({
    "type": st.just("function"),
    "function": st.fixed_dictionaries({
        "name": st.from_regex(r"[a-z_]{1,20}", fullmatch=True),
        "description": TEXT,
        "parameters": st.just({"type": "object", "properties": {"city": {"type": "string"}},
                               "required": ["city"]}),
    }),
})
# top_p: the OpenAPI takes (0, 1]; the first reference also documents 0 (its default), which
# is sent as given so the service's answer wins (test_top_p_zero_is_left_to_the_service).
TOP_P = st.floats(0, 1, exclude_min=True)
CHAT_PARAMS = st.fixed_dictionaries({}, optional={
    "temperature": st.floats(0, 2), "top_p": TOP_P,
    "max_tokens": st.integers(1, 4096), "max_completion_tokens": st.integers(1, 150_000),
    "stop": st.one_of(TEXT, st.lists(TEXT, min_size=1, max_size=4)),
    "frequency_penalty": st.floats(-2, 2), "presence_penalty": st.floats(-2, 2),
    "n": st.just(1), "user": TEXT, "seed": st.integers(0, 2**31),
    "tools": st.lists(TOOL, min_size=1, max_size=3),
    "tool_choice": st.sampled_from(["auto", "none", "required"]),
    "response_format": st.sampled_from([{"type": "text"}, {"type": "json_object"}]),
})


@settings(max_examples=150, deadline=None)
@given(messages=MESSAGES, params=CHAT_PARAMS, stream=st.booleans())
def test_chat_bodies_validate(messages: list[dict[str, Any]], params: dict[str, Any],
                              stream: bool) -> None:
    body, _ = _chat_body("hypernova-60b", messages, params)
    if stream:
        body = _streamed(body, include_usage=True)
    _check("chat_completion", body)


@settings(max_examples=100, deadline=None)
@given(prompt=st.one_of(TEXT, st.lists(TEXT, min_size=1, max_size=3)),
       params=st.fixed_dictionaries({}, optional={
           "temperature": st.floats(0, 2), "top_p": TOP_P,
           "max_tokens": st.integers(1, 4096), "user": TEXT, "seed": st.integers(0, 2**31),
           "stop": st.lists(TEXT, min_size=1, max_size=4)}),
       stream=st.booleans())
def test_completion_bodies_validate(prompt: Any, params: dict[str, Any], stream: bool) -> None:
    body, _ = _completion_body("hypernova-60b", prompt, params)
    if stream:
        body = _streamed(body, include_usage=True)
    _check("completion", body)


@settings(max_examples=60, deadline=None)
@given(language=st.one_of(st.none(), st.sampled_from(["en", "es", "fr"])),
       prompt=st.one_of(st.none(), TEXT),
       response_format=st.one_of(st.none(), st.sampled_from(
           ["json", "text", "srt", "verbose_json", "vtt"])),
       granularities=st.one_of(st.none(), st.just(["segment"])))
def test_transcription_forms_use_declared_fields(
    language: str | None, prompt: str | None, response_format: str | None,
    granularities: list[str] | None,
) -> None:
    form, files = _transcription_form(
        ("a.wav", b"RIFF0000WAVEfmt "), model="cai-whisper-large-v3-turbo-slim",
        filename=None, language=language, prompt=prompt, temperature=None,
        response_format=response_format, timestamp_granularities=granularities, include=None,
        chunking_strategy=None, extra_body=None,
    )
    assert [name for name, _ in files] == ["file"]
    declared = set(SCHEMAS[REQUEST_SCHEMAS["transcription"]]["properties"])
    undeclared = set(form) - declared
    assert undeclared <= UNDECLARED_IN_OPENAPI["transcription"]
    if language is None:
        assert "language" not in form  # the service detects it: send no default


def test_top_p_zero_is_left_to_the_service() -> None:
    body, _ = _chat_body("m", [{"role": "user", "content": "hi"}], {"top_p": 0.0})
    assert body["top_p"] == 0.0  # the first reference's default; the OpenAPI says (0, 1]
    assert not _validator("chat_completion").is_valid(body)


EXAMPLES = yaml.safe_load((FIXTURES / "examples.yml").read_text(encoding="utf-8"))["examples"]


@pytest.mark.parametrize(
    "example", [e for e in EXAMPLES if e["schema"] in ("ChatCompletionRequest",
                                                      "CompletionRequest")],
    ids=lambda e: e["schema"],
)
def test_published_request_examples_round_trip_through_the_builders(
    example: dict[str, Any],
) -> None:
    payload = dict(example["example"])
    model = payload.pop("model")
    if example["schema"] == "ChatCompletionRequest":
        body, _ = _chat_body(model, payload.pop("messages"), payload)
        operation = "chat_completion"
    else:
        body, _ = _completion_body(model, payload.pop("prompt"), payload)
        operation = "completion"
    assert body == example["example"]  # nothing the example sets is dropped or changed
    _check(operation, body)


def test_the_published_completion_response_parses() -> None:
    (example,) = [e for e in EXAMPLES if e["schema"] == "CompletionResponse"]
    parsed = Completion.model_validate(example["example"])
    assert parsed.choices and parsed.choices[0].text
