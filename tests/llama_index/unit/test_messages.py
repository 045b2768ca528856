"""Message conversion: roles, text, images (and their refusal), unsupported blocks."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from llama_index.core.base.llms.types import (
    AudioBlock,
    ChatMessage,
    ImageBlock,
    TextBlock,
    ThinkingBlock,
)

from compactifai import InvalidRequestError, ModelCapabilityError
from llama_index_compactifai.utils import to_wire_messages
from tests.helpers import Recorder, json_response
from tests.llama_index.unit.support import completion, make_llm

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def _image_message(block: ImageBlock) -> list[ChatMessage]:
    return [ChatMessage(role="user", blocks=[TextBlock(text="What is this?"), block])]


def test_roles_and_text() -> None:
    wire = to_wire_messages([
        ChatMessage(role="developer", content="Rules."),
        ChatMessage(role="system", content="Be brief."),
        ChatMessage(role="user", blocks=[TextBlock(text="a"), TextBlock(text="b")]),
        ChatMessage(role="chatbot", content="ok"),
        ChatMessage(role="assistant", blocks=[ThinkingBlock(content="hmm"),
                                              TextBlock(text="done")]),
        ChatMessage(role="tool", content="42"),
    ])
    assert wire == [
        {"role": "developer", "content": "Rules."},  # today's service takes the role
        {"role": "system", "content": "Be brief."},
        # text parts join with nothing between them, as on LangChain's side
        # (compactifai._wire.TEXT_JOINER)
        {"role": "user", "content": "ab"},
        {"role": "assistant", "content": "ok"},
        {"role": "assistant", "content": "done"},
        {"role": "tool", "content": "42"},
    ]


def test_empty_message_is_sent_as_empty_string() -> None:
    assert to_wire_messages([ChatMessage(role="assistant", content=None)]) == [
        {"role": "assistant", "content": ""}
    ]


def test_assistant_tool_call_id_is_not_sent_on_assistant_messages() -> None:
    # FunctionAgent adds a tool_call_id to the assistant message of a return_direct tool.
    message = ChatMessage(role="assistant", content="x", additional_kwargs={"tool_call_id": "c"})
    assert to_wire_messages([message]) == [{"role": "assistant", "content": "x"}]


def test_image_url_is_sent_as_an_image_url_part() -> None:
    rec = Recorder(json_response(completion("A boardwalk.")))
    llm = make_llm(rec, model="mistral-small-3-1")
    llm.chat(_image_message(ImageBlock(url="https://example.com/a.jpg", detail="low")))
    assert rec.body()["messages"] == [{
        "role": "user",
        "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url",
             "image_url": {"url": "https://example.com/a.jpg", "detail": "low"}},
        ],
    }]


def test_image_bytes_become_a_data_url() -> None:
    (message,) = to_wire_messages(_image_message(ImageBlock(image=PNG)))
    url = message["content"][1]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == PNG


def test_image_path_becomes_a_data_url(tmp_path: Path) -> None:
    path = tmp_path / "pic.png"
    path.write_bytes(PNG)
    (message,) = to_wire_messages(_image_message(ImageBlock(path=path)))
    url = message["content"][1]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == PNG


def test_image_without_known_mimetype_is_guessed() -> None:
    block = ImageBlock(image=PNG)
    block.image_mimetype = None
    (message,) = to_wire_messages(_image_message(block))
    assert message["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")


def test_images_are_refused_before_the_request_for_models_without_image_support() -> None:
    rec = Recorder(json_response(completion()))
    llm = make_llm(rec, model="smollm2-135m-instruct")  # the table: no images
    messages = _image_message(ImageBlock(url="https://example.com/a.jpg"))
    with pytest.raises(ModelCapabilityError, match="does not take image input") as info:
        llm.chat(messages)
    assert (info.value.model, info.value.capability) == ("smollm2-135m-instruct", "image")
    with pytest.raises(InvalidRequestError):
        llm.stream_chat(messages)
    assert rec.requests == []


async def test_images_are_refused_before_the_request_async() -> None:
    rec = Recorder(json_response(completion()))
    llm = make_llm(rec, model="smollm2-135m-instruct")
    messages = _image_message(ImageBlock(image=PNG))
    with pytest.raises(ModelCapabilityError, match="does not take image input"):
        await llm.achat(messages)
    with pytest.raises(InvalidRequestError):
        await llm.astream_chat(messages)
    assert rec.requests == []


def test_images_go_to_models_the_catalogue_does_not_know() -> None:
    rec = Recorder(json_response(completion("A cat.")))
    make_llm(rec, model="some-new-vision-model").chat(
        _image_message(ImageBlock(url="https://example.com/cat.jpg"))
    )
    assert rec.body()["messages"][0]["content"][1]["type"] == "image_url"


def test_images_only_in_user_messages() -> None:
    with pytest.raises(InvalidRequestError, match="user messages"):
        to_wire_messages([ChatMessage(role="assistant", blocks=[ImageBlock(image=PNG)])])


def test_unsupported_blocks_raise_a_typed_error() -> None:
    from llama_index.core.base.llms.types import VideoBlock

    with pytest.raises(InvalidRequestError, match="VideoBlock content is not supported"):
        to_wire_messages([ChatMessage(role="user", blocks=[VideoBlock(url="https://x.test/v")])])
    # audio of a format input_audio does not take (wav and mp3 only) says what to do
    with pytest.raises(InvalidRequestError, match="wav or mp3"):
        to_wire_messages([ChatMessage(role="user", blocks=[AudioBlock(audio=b"fLaC", format="flac")])])


# ---------------------------------------------------------------- today's message kinds

WAV = b"RIFF$\x00\x00\x00WAVEfmt \x10\x00\x00\x00"


def test_developer_role_is_sent_as_developer() -> None:
    from llama_index.core.base.llms.types import MessageRole

    wire = to_wire_messages([ChatMessage(role=MessageRole.DEVELOPER, content="Terse.")])
    assert wire == [{"role": "developer", "content": "Terse."}]


def test_audio_blocks_become_input_audio_parts(tmp_path: Path) -> None:
    path = tmp_path / "hello.wav"
    path.write_bytes(WAV)
    for block in (AudioBlock(audio=WAV, format="wav"), AudioBlock(path=path),
                  AudioBlock(audio=b"ID3\x04" + b"\x00" * 16, format="mp3")):
        (message,) = to_wire_messages([ChatMessage(role="user", blocks=[block])])
        (part,) = message["content"]
        assert part["type"] == "input_audio"
        assert part["input_audio"]["format"] in ("wav", "mp3")
        data = base64.b64decode(part["input_audio"]["data"])
        assert data.startswith((b"RIFF", b"ID3"))


def test_document_blocks_become_file_parts(tmp_path: Path) -> None:
    from llama_index.core.base.llms.types import DocumentBlock

    pdf = b"%PDF-1.4 tiny"
    (message,) = to_wire_messages([ChatMessage(role="user", blocks=[
        TextBlock(text="Summarise."),
        DocumentBlock(data=pdf, title="report.pdf", document_mimetype="application/pdf")])])
    part = message["content"][1]
    assert part == {"type": "file", "file": {
        "file_data": "data:application/pdf;base64," + base64.b64encode(pdf).decode(),
        "filename": "report.pdf"}}
    path = tmp_path / "notes.pdf"
    path.write_bytes(pdf)
    (message,) = to_wire_messages([ChatMessage(role="user", blocks=[DocumentBlock(path=path)])])
    assert message["content"][0]["file"]["file_data"].endswith(base64.b64encode(pdf).decode())


def test_audio_and_documents_only_in_user_messages() -> None:
    with pytest.raises(InvalidRequestError, match="only be sent in user messages"):
        to_wire_messages([ChatMessage(role="system", blocks=[AudioBlock(audio=WAV, format="wav")])])


def test_thinking_goes_back_only_with_the_tool_calls_of_its_turn() -> None:
    from llama_index.core.base.llms.types import ToolCallBlock

    call = ToolCallBlock(tool_call_id="c1", tool_name="get_weather", tool_kwargs={"city": "Bilbao"})
    loop = ChatMessage(role="assistant", blocks=[ThinkingBlock(content="Look it up."), call])
    (wire,) = to_wire_messages([loop])
    assert wire["reasoning_content"] == "Look it up."
    assert wire["tool_calls"][0]["function"]["arguments"] == '{"city": "Bilbao"}'
    done = ChatMessage(role="assistant", blocks=[ThinkingBlock(content="Easy."),
                                                 TextBlock(text="Sunny.")])
    assert to_wire_messages([done]) == [{"role": "assistant", "content": "Sunny."}]


def test_audio_refused_before_the_request_only_when_the_model_says_no() -> None:
    models = {"object": "list", "data": [
        {"id": "hypernova-60b", "object": "model", "capabilities": {"supports_audio": False}},
        {"id": "nemotron-3-nano-omni", "object": "model", "capabilities": {}}]}
    rec = Recorder(lambda request: json_response(
        models if request.url.path.endswith("/models") else completion("Heard.")))
    messages = [ChatMessage(role="user", blocks=[TextBlock(text="What is said?"),
                                                 AudioBlock(audio=WAV, format="wav")])]
    llm = make_llm(rec, model="hypernova-60b")
    llm._sync_client().model_profile("hypernova-60b")  # the live list: it says no audio
    with pytest.raises(ModelCapabilityError, match="does not take audio") as info:
        llm.chat(messages)
    assert info.value.capability == "audio"
    other = make_llm(rec, model="nemotron-3-nano-omni")
    other._sync_client().model_profile("x")  # not stated: unknown, so the server decides
    assert other.chat(messages).message.content == "Heard."
