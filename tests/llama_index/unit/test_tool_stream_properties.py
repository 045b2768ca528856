"""Streamed tool calls, however a server splits and repeats them, assemble right.

The property test mirrors tests/langchain/unit/test_tool_stream_properties.py: 1-3 parallel
calls, the arguments JSON split anywhere, with or without ``index``, id and name sent once
or in every chunk, argument pieces incremental or cumulative (each repeating the text so
far), the stream ending with a ``finish_reason`` or not. The tool calls read from the final
response with ``get_tool_calls_from_response`` must have the right names, ids and
arguments.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, ToolCallBlock

from llama_index_compactifai import CompactifAI
from llama_index_compactifai.utils import ChatStreamState, InvalidToolArgumentsError
from tests.helpers import Recorder, json_response, sse, sse_response
from tests.llama_index.unit.support import chunk, completion, make_llm, tool_delta

NAMES = st.sampled_from(["get_weather", "add", "now", "search_web"])
ARGS = st.dictionaries(
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=5),
    st.one_of(
        st.integers(),
        st.text(max_size=8),
        st.booleans(),
        st.none(),
        st.lists(st.integers(), max_size=2),
        st.dictionaries(st.sampled_from(["a", "{", "b"]), st.integers(), max_size=2),
    ),
    max_size=3,
)
LLM = CompactifAI(api_key="sk-unit-test-123456")
HI = [ChatMessage(role="user", content="Hi")]

Case = tuple[list[dict[str, Any]], list[tuple[str, dict[str, Any]]], bool]


@st.composite
def streams(draw: st.DrawFn) -> Case:
    """Chunk dicts for 1-3 calls, and whether the stream ends with a finish_reason."""
    calls = draw(st.lists(st.tuples(NAMES, ARGS), min_size=1, max_size=3))
    with_index = draw(st.booleans())
    repeat = draw(st.booleans())  # llama.cpp style: id and name in every chunk
    cumulative = draw(st.booleans())
    null_args = draw(st.booleans())
    finish = draw(st.booleans())
    pieces: list[list[str | None]] = []
    for _, args in calls:
        text = json.dumps(args, ensure_ascii=False) if args else draw(st.sampled_from(["", "{}"]))
        cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=4)))
        bounds = [0, *cuts, len(text)]
        parts: list[str | None]
        if cumulative:  # each piece is the whole text so far
            parts = [text[:b] for b in bounds[1:]]
        else:
            parts = [text[a:b] for a, b in itertools.pairwise(bounds)]
        if not args and null_args:
            parts = [None for _ in parts]
        pieces.append(parts)
    order = [i for i, parts in enumerate(pieces) for _ in parts]
    if with_index:  # interleaved; without an index a server sends one call after another
        order = draw(st.permutations(order))
    cursor = [0] * len(calls)
    chunks = []
    for i in order:
        k = cursor[i]
        cursor[i] += 1
        fn: dict[str, Any] = {"arguments": pieces[i][k]}
        call: dict[str, Any] = {"type": "function", "function": fn}
        if with_index:
            call["index"] = i
        if k == 0 or repeat:
            fn["name"] = calls[i][0]
            call["id"] = f"call_{i}"
        chunks.append(chunk({"tool_calls": [call]}))
    if finish:
        chunks.append(chunk({}, finish="tool_calls"))
    return chunks, calls, finish


def _final(chunks: list[dict[str, Any]]) -> ChatResponse:
    """The last response ``stream_chat`` yields for these chunks (as in llm.py)."""
    state = ChatStreamState()
    responses = [state.feed(c) for c in chunks]
    closing = state.finish()
    return closing if closing is not None else responses[-1]


@settings(max_examples=300, deadline=None)
@given(streams())
def test_streamed_tool_calls_assemble(case: Case) -> None:
    chunks, calls, _ = case
    selections = LLM.get_tool_calls_from_response(_final(chunks))
    got = [(s.tool_id, s.tool_name, s.tool_kwargs) for s in selections]
    assert got == [(f"call_{i}", name, args) for i, (name, args) in enumerate(calls)]


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
