"""Streamed tool calls through ``stream_chat``: cumulative pieces, ids made for calls sent
without one, invalid arguments refused.

The property test (1-3 parallel calls split anywhere, with or without ``index``, ids and
names once or repeated, incremental or cumulative pieces) drives LlamaIndex's stream state
together with the core's and LangChain's: tests/unit/test_wire.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, ToolCallBlock

from llama_index_compactifai import CompactifAI
from llama_index_compactifai.utils import ChatStreamState, InvalidToolArgumentsError
from tests.helpers import Recorder, json_response, sse, sse_response
from tests.llama_index.unit.support import chunk, completion, make_llm, tool_delta

LLM = CompactifAI(api_key="sk-unit-test-123456")
HI = [ChatMessage(role="user", content="Hi")]


# ---------------------------------------------------------------- examples, through stream_chat


def _stream(*chunks: dict[str, Any]) -> list[ChatResponse]:
    llm = make_llm(Recorder(sse_response(sse(*chunks))))
    return list(llm.stream_chat(HI))


CUMULATIVE = ['{"temp', '{"temp": ', '{"temp": 22', '{"temp": 22}']


@pytest.mark.parametrize("finish", [True, False])
def test_cumulative_argument_pieces(finish: bool) -> None:
    chunks = [tool_delta(0, id="call_1", name="set_temp", arguments=CUMULATIVE[0])]
    chunks += [tool_delta(0, arguments=a) for a in CUMULATIVE[1:]]
    if finish:
        chunks.append(chunk({}, finish="tool_calls"))
    responses = _stream(*chunks)
    (selection,) = LLM.get_tool_calls_from_response(responses[-1])
    assert (selection.tool_id, selection.tool_name, selection.tool_kwargs) == (
        "call_1", "set_temp", {"temp": 22}
    )
    wire = responses[-1].message.additional_kwargs["tool_calls"]
    assert wire[0]["function"]["arguments"] == '{"temp": 22}'
    # while streaming, the arguments so far read as cumulative too
    assert LLM.get_tool_calls_from_response(responses[1])[0].tool_kwargs == {"temp": None}


def test_a_full_repeat_of_the_arguments_at_the_end_is_not_doubled() -> None:
    responses = _stream(
        tool_delta(0, id="call_1", name="add", arguments='{"a": 1,'),
        tool_delta(0, arguments=' "b": 2}'),
        tool_delta(0, arguments='{"a": 1, "b": 2}'),
        chunk({}, finish="tool_calls"),
    )
    assert LLM.get_tool_calls_from_response(responses[-1])[0].tool_kwargs == {"a": 1, "b": 2}


def test_an_incremental_piece_that_looks_cumulative() -> None:
    # '{"a": ' then '{"a": 1}}' reads as cumulative, but only the concatenation is JSON
    responses = _stream(
        tool_delta(0, id="call_1", name="add", arguments='{"a": '),
        tool_delta(0, arguments='{"a": 1}}'),
    )
    assert LLM.get_tool_calls_from_response(responses[-1])[0].tool_kwargs == {"a": {"a": 1}}


def test_a_streamed_call_without_an_id_gets_one_that_stays_the_same() -> None:
    responses = _stream(
        tool_delta(0, name="get_weather", arguments='{"city": '),
        tool_delta(0, arguments='"Paris"}'),
        tool_delta(1, name="now", arguments=""),
        chunk({}, finish="tool_calls"),
    )
    ids = [
        [s.tool_id for s in LLM.get_tool_calls_from_response(r)] for r in responses
    ]
    first, second = ids[-1]
    assert first.startswith("call_") and second.startswith("call_") and first != second
    assert all(seen[0] == first for seen in ids)  # the same id in every response
    wire = responses[-1].message.additional_kwargs["tool_calls"]
    assert [c["id"] for c in wire] == [first, second]


def test_a_call_without_an_id_in_a_whole_answer_gets_one() -> None:
    call = {"type": "function", "function": {"name": "now", "arguments": "{}"}}
    llm = make_llm(Recorder(json_response(completion(None, tool_calls=[call]))))
    response = llm.chat(HI)
    (selection,) = llm.get_tool_calls_from_response(response)
    assert selection.tool_id.startswith("call_")
    assert response.message.additional_kwargs["tool_calls"][0]["id"] == selection.tool_id


# ---------------------------------------------------------------- invalid arguments


@pytest.mark.parametrize("arguments", ['{"city": "Paris"', "{'city': 'Paris'}", "[1, 2]", '"x"'])
@pytest.mark.parametrize("finish", [True, False])
def test_invalid_streamed_arguments_raise_instead_of_calling_with_nothing(
    arguments: str, finish: bool
) -> None:
    chunks = [tool_delta(0, id="call_1", name="get_weather", arguments=arguments)]
    if finish:
        chunks.append(chunk({}, finish="length"))
    responses = _stream(*chunks)
    last = responses[-1]
    [block] = [b for b in last.message.blocks if isinstance(b, ToolCallBlock)]
    assert block.tool_kwargs == arguments  # the raw text is kept on the message
    with pytest.raises(InvalidToolArgumentsError, match="get_weather") as err:
        LLM.get_tool_calls_from_response(last)
    assert isinstance(err.value, ValueError)
    assert (err.value.tool_id, err.value.arguments) == ("call_1", arguments)


def test_partial_arguments_while_streaming_do_not_raise() -> None:
    state = ChatStreamState()
    for piece in ['{"ok": tr', 'ue, "n": 1.', "5}"]:
        response = state.feed(tool_delta(0, id="c", name="f", arguments=piece))
        LLM.get_tool_calls_from_response(response)  # parsed as far as it goes
    assert LLM.get_tool_calls_from_response(response)[0].tool_kwargs == {"ok": True, "n": 1.5}
    assert state.finish() is None  # complete: no closing response needed


@pytest.mark.parametrize("arguments", ['{"city": "Par', "not json", "[]"])
def test_invalid_arguments_in_a_whole_answer_raise(arguments: str) -> None:
    call = {"id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": arguments}}
    llm = make_llm(Recorder(json_response(completion(None, tool_calls=[call]))))
    response = llm.chat(HI)
    with pytest.raises(InvalidToolArgumentsError):
        llm.get_tool_calls_from_response(response)
    assert response.message.additional_kwargs["tool_calls"][0]["function"]["arguments"] == (
        arguments
    )
