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

from compactifai import InvalidRequestError
from compactifai._checks import REASONING_EFFORTS
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
    # issue 12 §5: the one message field sent that the OpenAPI does not declare
    "assistant_message": "ChatCompletionAssistantMessageParam",
    # issue 13: files, batches, responses
    "file_upload": "Body_post_files_v1_files_post",
    "batch_create": "BatchCreateParams",
    "response": "ResponsesRequest",
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
    # today's service (issue 12 §5)
    "reasoning_effort": st.sampled_from(REASONING_EFFORTS), "reasoning_enabled": st.booleans(),
    "min_tokens": st.integers(0, 150_000), "ignore_eos": st.booleans(),
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
       granularities=st.one_of(st.none(), st.just(["segment"])),
       stream=st.booleans())
def test_transcription_forms_use_declared_fields(
    language: str | None, prompt: str | None, response_format: str | None,
    granularities: list[str] | None, stream: bool,
) -> None:
    form, files = _transcription_form(
        ("a.wav", b"RIFF0000WAVEfmt "), model="cai-whisper-large-v3-turbo-slim",
        filename=None, language=language, prompt=prompt, temperature=None,
        response_format=response_format, timestamp_granularities=granularities, include=None,
        chunking_strategy=None, extra_body=None, stream=stream,
    )
    # the streamed form (transcribe_stream) sends the declared string field "stream"
    assert form.get("stream") == ("true" if stream else None)
    # every declared field's value (form text) validates: stream "true", the format enum...
    _validator("transcription").validate(
        {k: v for k, v in form.items() if not k.endswith("[]")} | {"file": "a.wav"}
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


# ---------------------------------------------------------------- files, batches, responses (issue 13)


def _jobs_builders() -> Any:
    from compactifai import _requests
    from compactifai.batch_jobs import build_batch_lines

    return _requests, build_batch_lines


@settings(max_examples=40, deadline=None)
@given(name=st.from_regex(r"[a-z]{1,12}\.jsonl", fullmatch=True),
       purpose=st.sampled_from(["batch", "user_data", "assistants"]),
       content=st.binary(min_size=1, max_size=64))
def test_file_upload_forms_validate(name: str, purpose: str, content: bytes) -> None:
    requests, _ = _jobs_builders()
    form, files = requests._file_upload_form((name, content), purpose, None)
    assert [field for field, _ in files] == ["file"] and files[0][1][:2] == (name, content)
    _check("file_upload", {**form, "file": content.decode("latin-1")})


METADATA = st.dictionaries(st.from_regex(r"[a-z_]{1,16}", fullmatch=True), TEXT, max_size=4)


@settings(max_examples=60, deadline=None)
@given(endpoint=st.sampled_from(["/v1/chat/completions", "/v1/completions", "/v1/responses"]),
       metadata=st.one_of(st.none(), METADATA),
       expires=st.one_of(st.none(), st.integers(3600, 30 * 86400)))
def test_batch_create_bodies_validate(
    endpoint: str, metadata: dict[str, str] | None, expires: int | None
) -> None:
    requests, _ = _jobs_builders()
    body = requests._batch_create_body(
        input_file_id="file-abc", endpoint=endpoint, completion_window="24h",
        metadata=metadata,
        output_expires_after=None if expires is None else {"anchor": "created_at",
                                                           "seconds": expires},
        extra_body=None,
    )
    _check("batch_create", body)


@settings(max_examples=60, deadline=None)
@given(after=st.one_of(st.none(), st.from_regex(r"batch_[a-z0-9]{1,12}", fullmatch=True)),
       limit=st.one_of(st.none(), st.integers(1, 100)))
def test_batch_list_queries_validate(after: str | None, limit: int | None) -> None:
    requests, _ = _jobs_builders()
    query = requests._batch_list_params(after, limit)
    operation = SPEC["paths"]["/v1/batches"]["get"]
    declared = {p["name"]: p["schema"] for p in operation["parameters"] if p["in"] == "query"}
    assert set(query) <= set(declared)
    for name, value in query.items():
        validator = jsonschema.Draft202012Validator(declared[name], registry=REGISTRY)
        assert validator.is_valid(value), (name, value)


def test_the_client_paths_are_the_openapi_paths() -> None:
    requests, _ = _jobs_builders()
    paths = {"/v1" + requests._file_content_path("ID").replace("ID", "{file_id}"),
             "/v1" + requests._batch_path("ID").replace("ID", "{batch_id}"),
             "/v1" + requests._batch_path("ID", "/cancel").replace("ID", "{batch_id}"),
             "/v1" + requests._response_path("ID").replace("ID", "{response_id}"),
             "/v1/files", "/v1/batches", "/v1/responses"}
    assert paths <= set(SPEC["paths"])


@settings(max_examples=80, deadline=None)
@given(input=st.one_of(TEXT, st.lists(st.fixed_dictionaries(
           {"role": st.sampled_from(["user", "system"]), "content": TEXT}), min_size=1,
           max_size=3)),
       params=st.fixed_dictionaries({}, optional={
           "store": st.booleans(), "temperature": st.floats(0, 2),
           "max_output_tokens": st.integers(1, 150_000), "instructions": TEXT,
           "top_p": TOP_P, "text": st.just({"format": {"type": "text"}}),
           "reasoning": st.just({"effort": "low"}), "metadata": METADATA,
           "previous_response_id": st.just("resp_1"), "file_id": st.just("file-1")}),
       stream=st.booleans())
def test_response_bodies_validate(input: Any, params: dict[str, Any], stream: bool) -> None:
    requests, _ = _jobs_builders()
    body, _ = requests._response_body("hypernova-60b", input, params)
    if stream:
        body["stream"] = True
    _check("response", body)


@settings(max_examples=40, deadline=None)
@given(messages=MESSAGES, params=CHAT_PARAMS)
def test_batch_lines_carry_bodies_that_validate(
    messages: list[dict[str, Any]], params: dict[str, Any]
) -> None:
    """A batch line's body is a chat request the service would take directly."""
    from compactifai.batch_jobs import chat_request

    _, build_batch_lines = _jobs_builders()
    body = chat_request("hypernova-60b", messages, **params)
    _, lines = build_batch_lines([body, body])
    for line in lines:
        item = json.loads(line)
        assert set(item) == {"custom_id", "method", "url", "body"}
        assert item["url"] in SCHEMAS["BatchCreateParams"]["properties"]["endpoint"]["enum"]
        _check("chat_completion", item["body"])


def test_the_published_batch_and_response_examples_parse() -> None:
    from compactifai.types_jobs import Batch, BatchList, FileObject, ResponsesResult

    kinds = {"Batch": Batch, "BatchList": BatchList, "FileObject": FileObject,
             "ResponsesResult": ResponsesResult}
    found = [e for e in EXAMPLES if e["schema"] in kinds]
    for example in found:
        kinds[example["schema"]].model_validate(example["example"])
    assert any(e["schema"] == "ResponsesResult" for e in found)


def test_the_published_responses_request_round_trips_through_the_builder() -> None:
    requests, _ = _jobs_builders()
    (example,) = [e for e in EXAMPLES if e["schema"] == "ResponsesRequest"]
    payload = dict(example["example"])
    body, _ = requests._response_body(payload.pop("model"), payload.pop("input"), payload)
    assert body == example["example"]
    _check("response", body)


# ---------------------------------------------------------------- issue 12 §5: today's messages


def _faces_conversation() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One conversation with every message kind of today's service, as each framework
    builds it: developer role, text, image, input_audio and file parts, an assistant tool
    turn with its reasoning, a tool result."""
    import base64

    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
    from llama_index.core.base.llms.types import (
        AudioBlock,
        ChatMessage,
        DocumentBlock,
        ImageBlock,
        MessageRole,
        TextBlock,
        ThinkingBlock,
        ToolCallBlock,
    )

    from langchain_compactifai.chat_models import _convert_messages
    from llama_index_compactifai.utils import to_wire_messages

    wav, pdf = b"RIFF$\x00\x00\x00WAVEfmt ", b"%PDF-1.4 x"
    call = {"name": "get_weather", "args": {"city": "Bilbao"}, "id": "c1"}
    lc, _ = _convert_messages([
        SystemMessage("Be brief.", additional_kwargs={"__openai_role__": "developer"}),
        HumanMessage([
            {"type": "text", "text": "Hear, read, see."},
            {"type": "audio", "base64": base64.b64encode(wav).decode(), "mime_type": "audio/wav"},
            {"type": "file", "base64": base64.b64encode(pdf).decode(),
             "mime_type": "application/pdf", "filename": "a.pdf"},
            {"type": "image", "url": "https://x.test/cat.png"},
        ]),
        AIMessage("", tool_calls=[call], additional_kwargs={"reasoning_content": "Look it up."}),
        ToolMessage("18 C", tool_call_id="c1"),
    ])
    li = to_wire_messages([
        ChatMessage(role=MessageRole.DEVELOPER, content="Be brief."),
        ChatMessage(role="user", blocks=[
            TextBlock(text="Hear, read, see."), AudioBlock(audio=wav, format="wav"),
            DocumentBlock(data=pdf, title="a.pdf", document_mimetype="application/pdf"),
            ImageBlock(url="https://x.test/cat.png"),
        ]),
        ChatMessage(role="assistant", blocks=[
            ThinkingBlock(content="Look it up."),
            ToolCallBlock(tool_call_id="c1", tool_name="get_weather",
                          tool_kwargs={"city": "Bilbao"})]),
        ChatMessage(role="tool", content="18 C", additional_kwargs={"tool_call_id": "c1"}),
    ])
    return lc, li


def test_todays_message_kinds_from_both_frameworks_validate() -> None:
    for messages in _faces_conversation():
        assert [m["role"] for m in messages] == ["developer", "user", "assistant", "tool"]
        assert [p["type"] for p in messages[1]["content"]] == [
            "text", "input_audio", "file", "image_url"]
        body, _ = _chat_body("hypernova-60b", messages,
                             {"reasoning_effort": "high", "min_tokens": 1, "ignore_eos": False,
                              "reasoning_enabled": True})
        _check("chat_completion", body)
        assistant = messages[2]
        undeclared = set(assistant) - set(SCHEMAS[REQUEST_SCHEMAS["assistant_message"]][
            "properties"])
        assert undeclared == UNDECLARED_IN_OPENAPI["assistant_message"] == {"reasoning_content"}


@pytest.mark.parametrize("effort", ["minimal", "HIGH", ""])
def test_efforts_the_openapi_does_not_list_never_leave(effort: str) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}],
            "reasoning_effort": effort}
    assert not _validator("chat_completion").is_valid(body)  # the schema's own refusal
    with pytest.raises(InvalidRequestError, match="reasoning_effort"):
        _chat_body("m", body["messages"], {"reasoning_effort": effort})
