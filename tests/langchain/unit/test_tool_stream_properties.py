"""Property: however a server splits and repeats streamed tool calls, they aggregate right."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessageChunk

from langchain_compactifai.chat_models import _convert_chunk, _final_chunk, _StreamState

NAMES = st.sampled_from(["get_weather", "add", "now", "search_web"])
ARGS = st.dictionaries(
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=5),
    st.one_of(
        st.integers(),
        st.text(max_size=8),
        st.booleans(),
        st.none(),
        st.dictionaries(st.sampled_from(["a", "{", "b"]), st.integers(), max_size=2),
    ),
    max_size=3,
)


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[tuple[str, dict[str, Any]]]]:
    """Chunk dicts for 1-3 calls, split anywhere, interleaved, ids/names once or repeated,
    argument pieces incremental or cumulative (each repeating the text so far)."""
    calls = draw(st.lists(st.tuples(NAMES, ARGS), min_size=1, max_size=3))
    repeat = draw(st.booleans())  # llama.cpp style: id and name in every chunk
    null_args = draw(st.booleans())
    cumulative = draw(st.booleans())
    pieces: list[list[str | None]] = []
    for _, args in calls:
        text = json.dumps(args, ensure_ascii=False) if args else draw(st.sampled_from(["", "{}"]))
        cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=4)))
        bounds = [0, *cuts, len(text)]
        parts: list[str | None]
        if cumulative:
            parts = [text[:b] for b in bounds[1:]]
        else:
            parts = [text[a:b] for a, b in itertools.pairwise(bounds)]
        if not args and null_args:
            parts = [None for _ in parts]
        pieces.append(parts)
    order = [i for i, parts in enumerate(pieces) for _ in parts]
    order = draw(st.permutations(order))
    # keep each call's own pieces in order while interleaving calls
    cursor = [0] * len(calls)
    chunks = []
    for i in order:
        k = cursor[i]
        cursor[i] += 1
        first = k == 0
        fn: dict[str, Any] = {"arguments": pieces[i][k]}
        call: dict[str, Any] = {"index": i, "type": "function", "function": fn}
        if first or repeat:
            fn["name"] = calls[i][0]
            call["id"] = f"call_{i}"
        chunks.append({"id": "x", "model": "m", "choices": [{"index": 0, "delta": {"tool_calls": [call]}}]})
    return chunks, calls


@settings(max_examples=300, deadline=None)
@given(streams())
def test_streamed_tool_calls_aggregate(case: tuple[list[dict[str, Any]], list[Any]]) -> None:
    chunks, calls = case
    state = _StreamState()
    messages: list[AIMessageChunk] = [m for c in chunks if (m := _convert_chunk(c, state))]
    messages.append(_final_chunk(state, "m").message)  # type: ignore[arg-type]
    full = messages[0]
    for m in messages[1:]:
        full = full + m
    assert full.invalid_tool_calls == []
    # calls come out in the order they started; servers start them by index
    got = sorted(((c["id"], c["name"], c["args"]) for c in full.tool_calls), key=lambda t: str(t[0]))
    assert got == [(f"call_{i}", name, args) for i, (name, args) in enumerate(calls)]


def _aggregate(pieces: list[str]) -> Any:
    state = _StreamState()
    messages: list[AIMessageChunk] = []
    for k, piece in enumerate(pieces):
        call: dict[str, Any] = {"index": 0, "function": {"arguments": piece}}
        if k == 0:
            call["id"] = "call_1"
            call["function"]["name"] = "set_temp"
        chunk = {"choices": [{"index": 0, "delta": {"tool_calls": [call]}}]}
        if (m := _convert_chunk(chunk, state)) is not None:
            messages.append(m)
    messages.append(_final_chunk(state, "m").message)  # type: ignore[arg-type]
    full = messages[0]
    for m in messages[1:]:
        full = full + m
    assert full.invalid_tool_calls == []
    [call] = full.tool_calls
    return call["args"]


@pytest.mark.parametrize(
    ("pieces", "args"),
    [
        # cumulative: every piece repeats the text so far
        (['{"temp', '{"temp": ', '{"temp": 22', '{"temp": 22}'], {"temp": 22}),
        # ... from a first piece after which the second could also be new text
        (['{"temp": ', '{"temp": 22', '{"temp": 22}'], {"temp": 22}),
        (['{"temp": ', '{"temp": 22}'], {"temp": 22}),
        # incremental, then the whole text once more
        (['{"a": 1,', ' "b": 2}', '{"a": 1, "b": 2}'], {"a": 1, "b": 2}),
        # incremental pieces that look cumulative
        (['{"a": ', '{"a": 1}}'], {"a": {"a": 1}}),
        (['{"', '{": 0}'], {"{": 0}),
    ],
)
def test_cumulative_and_look_alike_argument_pieces(pieces: list[str], args: Any) -> None:
    assert _aggregate(pieces) == args
