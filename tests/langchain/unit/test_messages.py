"""Message conversion both ways: LangChain messages -> wire dicts, wire answers -> AIMessage."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.messages import (
    AIMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

from compactifai import InvalidRequestError
from compactifai.types import ChatCompletion
from langchain_compactifai.chat_models import _convert_completion, _convert_messages

from .wire import USAGE, completion, tool_call


def convert(*messages: Any) -> list[dict[str, Any]]:
    wire, _ = _convert_messages(list(messages))
    return wire


def test_roles_and_plain_text() -> None:
    wire = convert(
        SystemMessage("Be brief."),
        HumanMessage("Hi", name="ada"),
        AIMessage("Hello!"),
        ChatMessage(role="developer", content="note"),
    )
    assert wire == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi", "name": "ada"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "developer", "content": "note"},
    ]


def test_assistant_tool_calls_use_openai_shape_and_empty_string_content() -> None:
    ai = AIMessage(
        "",
        tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "call_9"}],
    )
    (wire,) = convert(ai)
    assert wire["content"] == ""  # never null next to tool calls
    assert wire["tool_calls"] == [
        {
            "id": "call_9",
            "type": "function",
            "function": {"name": "get_weather", "arguments": json.dumps({"city": "Paris"})},
        }
    ]


def test_assistant_list_content_keeps_text_and_drops_tool_use_blocks() -> None:
    ai = AIMessage(
        [
            {"type": "text", "text": "some text"},
            {"type": "tool_use", "id": "abc", "name": "add", "input": {"a": 1}},
        ],
        tool_calls=[{"name": "add", "args": {"a": 1}, "id": "abc"}],
    )
    (wire,) = convert(ai)
    assert wire["content"] == "some text"
    assert wire["tool_calls"][0]["function"] == {"name": "add", "arguments": '{"a": 1}'}


def test_invalid_tool_calls_are_sent_back_as_written() -> None:
    ai = AIMessage(
        "",
        invalid_tool_calls=[{"name": "f", "args": "{oops", "id": "c1", "error": None}],
    )
    (wire,) = convert(ai)
    assert wire["tool_calls"] == [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{oops"}}
    ]


def test_tool_message() -> None:
    (wire,) = convert(ToolMessage('{"result": 3}', tool_call_id="call_9", name="add"))
    assert wire == {"role": "tool", "tool_call_id": "call_9", "content": '{"result": 3}'}


def test_tool_message_with_list_content_is_sent_as_text() -> None:
    msg = ToolMessage([{"type": "text", "text": "3"}], tool_call_id="c")
    (wire,) = convert(msg)
    assert wire["content"] == "3"


def test_function_message() -> None:
    (wire,) = convert(FunctionMessage("42", name="answer"))
    assert wire == {"role": "function", "name": "answer", "content": "42"}


def test_text_only_list_content_is_sent_as_one_string() -> None:
    msg = HumanMessage([{"type": "text", "text": "Hello "}, "world"])
    (wire,) = convert(msg)
    assert wire["content"] == "Hello world"


@pytest.mark.parametrize(
    ("block", "url"),
    [
        ({"type": "image", "url": "https://x.test/cat.png"}, "https://x.test/cat.png"),
        (
            {"type": "image", "base64": "AAAA", "mime_type": "image/jpeg"},
            "data:image/jpeg;base64,AAAA",
        ),
        (
            {"type": "image", "source_type": "base64", "data": "BBBB", "mime_type": "image/png"},
            "data:image/png;base64,BBBB",
        ),
        (
            {"type": "image", "source_type": "url", "url": "https://x.test/a.png"},
            "https://x.test/a.png",
        ),
        ({"type": "image_url", "image_url": "https://x.test/b.png"}, "https://x.test/b.png"),
        (
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,CCCC"}},
            "data:image/png;base64,CCCC",
        ),
        (
            {"type": "image", "source": {"type": "base64", "media_type": "image/gif", "data": "D"}},
            "data:image/gif;base64,D",
        ),
    ],
)
def test_image_blocks_become_image_url_parts(block: dict[str, Any], url: str) -> None:
    wire, has_image = _convert_messages([HumanMessage([{"type": "text", "text": "What?"}, block])])
    assert has_image
    assert wire[0]["content"] == [
        {"type": "text", "text": "What?"},
        {"type": "image_url", "image_url": {"url": url}},
    ]


def test_image_detail_is_kept() -> None:
    block = {"type": "image_url", "image_url": {"url": "https://x.test/c.png", "detail": "low"}}
    (wire,) = convert(HumanMessage([block]))
    assert wire["content"][0]["image_url"] == {"url": "https://x.test/c.png", "detail": "low"}


def test_no_image_flag_for_text() -> None:
    _, has_image = _convert_messages([HumanMessage("hi"), AIMessage("yo")])
    assert not has_image


def test_image_without_data_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match="no URL or base64"):
        convert(HumanMessage([{"type": "image", "file_id": "file-1"}]))


def test_developer_role_as_langchain_openai_marks_it() -> None:
    wire = convert(
        SystemMessage("Answer in French.", additional_kwargs={"__openai_role__": "developer"}),
        SystemMessage("plain"),
        HumanMessage("Hi"),
    )
    assert wire[:2] == [{"role": "developer", "content": "Answer in French."},
                        {"role": "system", "content": "plain"}]


@pytest.mark.parametrize(
    "block",
    [
        {"type": "audio", "base64": "UklGRg==", "mime_type": "audio/wav"},  # LangChain v1
        {"type": "audio", "source_type": "base64", "data": "UklGRg==",
         "mime_type": "audio/x-wav"},  # LangChain v0
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},  # OpenAI
    ],
)
def test_audio_blocks_become_input_audio_parts(block: dict[str, Any]) -> None:
    wire, media = _convert_messages([HumanMessage([{"type": "text", "text": "Hear:"}, block])])
    assert wire[0]["content"][1] == {
        "type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}
    assert media == {"audio"}


def test_mp3_audio_is_sent_as_mp3() -> None:
    (wire,) = convert(HumanMessage([{"type": "audio", "base64": "SUQz", "mime_type": "audio/mpeg"}]))
    assert wire["content"][0]["input_audio"]["format"] == "mp3"


@pytest.mark.parametrize(
    ("block", "file"),
    [
        ({"type": "file", "base64": "JVBERg==", "mime_type": "application/pdf",
          "filename": "a.pdf"},
         {"file_data": "data:application/pdf;base64,JVBERg==", "filename": "a.pdf"}),
        ({"type": "file", "source_type": "base64", "data": "JVBERg==",
          "mime_type": "application/pdf", "metadata": {"filename": "b.pdf"}},
         {"file_data": "data:application/pdf;base64,JVBERg==", "filename": "b.pdf"}),
        ({"type": "file", "file_id": "file-123"}, {"file_id": "file-123"}),
        ({"type": "file", "source_type": "id", "id": "file-9"}, {"file_id": "file-9"}),
        ({"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERg==",
                                   "filename": "c.pdf"}},
         {"file_data": "data:application/pdf;base64,JVBERg==", "filename": "c.pdf"}),
    ],
)
def test_file_blocks_become_file_parts(block: dict[str, Any], file: dict[str, Any]) -> None:
    wire, media = _convert_messages([HumanMessage([block])])
    assert wire[0]["content"] == [{"type": "file", "file": file}]
    assert media == {"file"}


@pytest.mark.parametrize(
    ("block", "words"),
    [
        ({"type": "audio", "base64": "AAAA", "mime_type": "audio/flac"}, "wav or mp3"),
        ({"type": "audio", "url": "https://x.test/a.wav"}, "base64 data"),
        ({"type": "file", "url": "https://x.test/a.pdf"}, "does not fetch files"),
        ({"type": "video", "base64": "AAAA", "mime_type": "video/mp4"}, "no video"),
    ],
)
def test_media_the_api_cannot_take_is_refused_before_sending(
    block: dict[str, Any], words: str
) -> None:
    with pytest.raises(InvalidRequestError, match=words):
        convert(HumanMessage([block]))


def test_audio_and_files_go_in_user_messages_only() -> None:
    block = {"type": "file", "base64": "JVBERg==", "mime_type": "application/pdf"}
    with pytest.raises(InvalidRequestError, match="in a tool message"):
        convert(ToolMessage([block], tool_call_id="c1"))
    with pytest.raises(InvalidRequestError, match="in a system message"):
        convert(SystemMessage([{"type": "audio", "base64": "AAAA", "mime_type": "audio/wav"}]))


def test_reasoning_goes_back_with_the_tool_calls_of_its_turn() -> None:
    call = {"name": "get_weather", "args": {"city": "Bilbao"}, "id": "c1"}
    v0 = AIMessage("", tool_calls=[call], additional_kwargs={"reasoning_content": "Look it up."})
    v1 = AIMessage([{"type": "reasoning", "reasoning": "Look it up."},
                    {"type": "tool_call", **call}], tool_calls=[call])
    for turn in (v0, v1):
        (wire,) = convert(turn)
        assert wire["reasoning_content"] == "Look it up."
        assert wire["content"] == "" and wire["tool_calls"][0]["id"] == "c1"
    answered = AIMessage("Sunny.", additional_kwargs={"reasoning_content": "Easy."})
    assert convert(answered) == [{"role": "assistant", "content": "Sunny."}]


def test_unknown_message_type_is_refused() -> None:
    from langchain_core.messages import RemoveMessage

    with pytest.raises(TypeError):
        convert(RemoveMessage(id="1"))


# ---------------------------------------------------------------- wire -> AIMessage


def result_of(payload: dict[str, Any]) -> AIMessage:
    res = _convert_completion(ChatCompletion.model_validate(payload), "fallback-model")
    message = res.generations[0].message
    assert isinstance(message, AIMessage)
    return message


def test_answer_text_usage_and_metadata() -> None:
    payload = completion("Hi there")
    payload["system_fingerprint"] = "fp_1"
    message = result_of(payload)
    assert message.content == "Hi there"
    assert message.id == "chatcmpl-123XYZ"
    assert message.usage_metadata == {"input_tokens": 11, "output_tokens": 7, "total_tokens": 18}
    assert message.response_metadata == {
        "model_name": "hypernova-60b",
        "model_provider": "compactifai",
        "finish_reason": "stop",
        "id": "chatcmpl-123XYZ",
        "system_fingerprint": "fp_1",
    }


def test_usage_details_are_mapped() -> None:
    usage = {
        **USAGE,
        "prompt_tokens_details": {"cached_tokens": 4},
        "completion_tokens_details": {"reasoning_tokens": 2},
    }
    message = result_of(completion("x", usage=usage))
    assert message.usage_metadata is not None
    assert message.usage_metadata.get("input_token_details") == {"cache_read": 4}
    assert message.usage_metadata.get("output_token_details") == {"reasoning": 2}


def test_null_content_becomes_empty_string() -> None:
    assert result_of(completion(None)).content == ""


def test_tool_calls_parsed() -> None:
    payload = completion(
        None, tool_calls=[tool_call("get_weather", '{"city": "Paris"}')], finish_reason="tool_calls"
    )
    message = result_of(payload)
    assert message.tool_calls == [
        {"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1", "type": "tool_call"}
    ]
    assert message.response_metadata["finish_reason"] == "tool_calls"


@pytest.mark.parametrize("arguments", ["", None])
def test_tool_without_arguments_gets_empty_args(arguments: str | None) -> None:
    message = result_of(completion("", tool_calls=[tool_call("now", arguments)]))
    assert message.tool_calls[0]["args"] == {}
    assert message.tool_calls[0]["name"] == "now"


def test_unparsable_arguments_become_invalid_tool_calls() -> None:
    message = result_of(completion("", tool_calls=[tool_call("f", "{not json")]))
    assert message.tool_calls == []
    assert message.invalid_tool_calls[0]["args"] == "{not json"
    assert message.invalid_tool_calls[0]["name"] == "f"


def test_non_object_arguments_become_invalid_tool_calls() -> None:
    message = result_of(completion("", tool_calls=[tool_call("f", "[1, 2]")]))
    assert message.invalid_tool_calls[0]["error"] == "arguments are not a JSON object"


def test_tool_call_without_id_gets_one() -> None:
    raw = tool_call("f", "{}")
    del raw["id"]
    message = result_of(completion("", tool_calls=[raw]))
    assert message.tool_calls[0]["id"]


def test_reasoning_content_is_kept() -> None:
    message = result_of(completion("42", reasoning_content="6 times 7"))
    assert message.additional_kwargs["reasoning_content"] == "6 times 7"
    blocks = message.content_blocks
    assert blocks[0] == {"type": "reasoning", "reasoning": "6 times 7"}
    assert blocks[1]["type"] == "text"


def test_hypernova_style_reasoning_tool_turn() -> None:
    """A reasoning model's answer (tests/fixtures/reasoning): reasoning, a tool call, usage
    with reasoning tokens; its reasoning is a standard block before the tool call."""
    from pathlib import Path

    fixture = Path(__file__).resolve().parents[2] / "fixtures" / "reasoning"
    payload = json.loads((fixture / "tool_call_answer.json").read_text(encoding="utf-8"))
    message = result_of(payload)
    reasoning = payload["choices"][0]["message"]["reasoning_content"]
    assert message.additional_kwargs["reasoning_content"] == reasoning
    assert [b["type"] for b in message.content_blocks] == ["reasoning", "tool_call"]
    assert message.tool_calls[0]["args"] == {"city": "Bilbao"}
    assert message.usage_metadata is not None
    assert message.usage_metadata.get("output_token_details") == {"reasoning": 29}


def test_vllm_style_answer_with_empty_tool_calls_and_extra_fields() -> None:
    payload = completion("A boardwalk.", tool_calls=[], reasoning_content=None, refusal=None)
    payload["kv_transfer_params"] = None
    payload["choices"][0]["stop_reason"] = None
    message = result_of(payload)
    assert message.content == "A boardwalk."
    assert message.tool_calls == []
    assert "reasoning_content" not in message.additional_kwargs


def test_answer_without_choices_gives_empty_message() -> None:
    payload = completion("x")
    payload["choices"] = []
    message = result_of(payload)
    assert message.content == ""
    assert message.response_metadata["model_name"] == "hypernova-60b"
