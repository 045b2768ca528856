"""Streamed tool calls whose argument pieces are cumulative, or look it, aggregate right.

The property test (any split, repeat, index or id of streamed tool calls) drives LangChain's
conversion together with the core's and LlamaIndex's: tests/unit/test_wire.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessageChunk

from langchain_compactifai.chat_models import _convert_chunk, _final_chunk, _StreamState


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
