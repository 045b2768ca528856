"""The wire rules both integrations share (``compactifai._wire``), and that they do share them.

The property test generates streams of tool-call deltas the ways servers send them (1-3
parallel calls; the argument JSON split anywhere into new-text or cumulative pieces; with or
without ``index``; id and name once or in every chunk; ids missing; calls without arguments)
and drives the same stream through the core, LangChain's chunk conversion and LlamaIndex's
stream state: all three must read the same calls, and the right ones.
"""

from __future__ import annotations

import base64
import itertools
import json
import operator
import re
from functools import reduce
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compactifai import InvalidRequestError
from compactifai._checks import REASONING_EFFORTS
from compactifai._requests import _CHAT_KEYS, _COMPLETION_KEYS, _CallOptions, _chat_body
from compactifai._wire import (
    CALL_OPTIONS,
    CHAT_FIELDS,
    COMPLETION_FIELDS,
    INPUT_AUDIO_FORMATS,
    REASONING_KEY,
    ToolArgumentsError,
    ToolCallAssembler,
    audio_format,
    collapse_parts,
    file_part,
    function_tool,
    input_audio_part,
    is_json_prefix,
    load_arguments,
    media_kinds,
    partial_arguments,
    reasoning_from_parts,
    reasoning_text,
    split_params,
    token_usage,
    tool_choice,
    with_reasoning,
)
from compactifai.types import ChatCompletion, ChatCompletionMessage, Usage

GENERATED_ID = re.compile(r"call_[0-9a-f]{24}\Z")
NAMES = st.sampled_from(["get_weather", "add", "now", "search_web"])
KEYS = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=5)
ARGS = st.dictionaries(
    KEYS,
    st.one_of(
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=8),
        st.booleans(),
        st.none(),
        st.lists(st.integers(), max_size=2),
        st.dictionaries(st.sampled_from(["a", "{", "b", '"']), st.integers(), max_size=2),
    ),
    max_size=3,
)

#: One expected call: (the id the server sends or None, name, arguments).
Expected = tuple[str | None, str, dict[str, Any]]
Case = tuple[list[dict[str, Any]], list[Expected]]


def _chunk(entries: list[dict[str, Any]] | None, finish: str | None = None) -> dict[str, Any]:
    delta: dict[str, Any] = {} if entries is None else {"tool_calls": entries}
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


@st.composite
def streams(draw: st.DrawFn) -> Case:
    """The chunk dicts of one streamed answer with tool calls, and the calls it holds."""
    calls = draw(st.lists(st.tuples(NAMES, st.one_of(st.none(), ARGS)), min_size=1, max_size=3))
    with_index = draw(st.booleans())
    repeat = draw(st.booleans())  # llama.cpp style: id and name in every chunk
    cumulative = draw(st.booleans())  # each piece repeats the text so far
    null_args = draw(st.booleans())  # calls without arguments send null rather than ""
    # Without an index a call is told from the next by its id: only then may ids be missing.
    ids: list[str | None] = [
        None if (with_index or len(calls) == 1) and draw(st.booleans()) else f"call_{i}"
        for i in range(len(calls))
    ]
    pieces: list[list[str | None]] = []
    for _, args in calls:
        if args is None:  # a tool without arguments
            text = draw(st.sampled_from(["", "{}"]))
        else:
            text = json.dumps(args, ensure_ascii=draw(st.booleans()))
        cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=4)))
        bounds = [0, *cuts, len(text)]
        parts: list[str | None]
        if cumulative:
            parts = [text[:b] for b in bounds[1:]]
        else:
            parts = [text[a:b] for a, b in itertools.pairwise(bounds)]
        if not text and null_args:
            parts = [None for _ in parts]
        pieces.append(parts)
    order = [i for i, parts in enumerate(pieces) for _ in parts]
    if with_index:  # interleaved; without an index a server sends one call after another
        order = draw(st.permutations(order))
    cursor = [0] * len(calls)
    entries: list[tuple[int, dict[str, Any]]] = []
    for i in order:
        k = cursor[i]
        cursor[i] += 1
        fn: dict[str, Any] = {"arguments": pieces[i][k]}
        entry: dict[str, Any] = {"type": "function", "function": fn}
        if with_index:
            entry["index"] = i
        if k == 0 or repeat:
            fn["name"] = calls[i][0]
            if ids[i] is not None:
                entry["id"] = ids[i]
        entries.append((i, entry))
    # With indexes, entries of different calls may share a chunk (one list, several calls).
    chunks: list[dict[str, Any]] = []
    group: list[dict[str, Any]] = []
    seen: set[int] = set()
    for i, entry in entries:
        if group and (i in seen or not with_index or draw(st.booleans())):
            chunks.append(_chunk(group))
            group, seen = [], set()
        group.append(entry)
        seen.add(i)
    chunks.append(_chunk(group))
    if draw(st.booleans()):
        chunks.append(_chunk(None, finish="tool_calls"))
    expected = [(ids[i], name, args or {}) for i, (name, args) in enumerate(calls)]
    return chunks, expected


def _check(got: list[tuple[str, str, dict[str, Any]]], expected: list[Expected]) -> None:
    assert [(name, args) for _, name, args in got] == [(n, a) for _, n, a in expected]
    for (call_id, _, _), (sent, _, _) in zip(got, expected, strict=True):
        assert (call_id == sent) if sent is not None else GENERATED_ID.match(call_id), call_id


def _core(chunks: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    calls = ToolCallAssembler()
    for chunk in chunks:
        entries = chunk["choices"][0]["delta"].get("tool_calls")
        if entries:
            calls.feed(entries)
    return [(c.call_id, c.name, load_arguments(c.arguments)) for c in calls.finish_calls()]


def _langchain(chunks: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    from langchain_core.messages import AIMessageChunk

    from langchain_compactifai.chat_models import _convert_chunk, _final_chunk, _StreamState

    state = _StreamState()
    messages: list[AIMessageChunk] = [m for c in chunks if (m := _convert_chunk(c, state))]
    last = _final_chunk(state, "m").message
    assert isinstance(last, AIMessageChunk)
    full = reduce(operator.add, [*messages, last])
    assert full.invalid_tool_calls == []
    # tool_calls follow tool_call_chunks (merged by index) one to one
    indexed = sorted(zip(full.tool_call_chunks, full.tool_calls, strict=True),
                     key=lambda pair: pair[0]["index"] or 0)
    return [(str(call["id"]), call["name"], call["args"]) for _, call in indexed]


def _llama_index(chunks: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    from llama_index_compactifai.utils import ChatStreamState, tool_selections

    state = ChatStreamState()
    responses = [state.feed(c) for c in chunks]
    closing = state.finish()
    final = closing if closing is not None else responses[-1]
    return [(s.tool_id, s.tool_name, s.tool_kwargs) for s in tool_selections(final)]


@settings(max_examples=300, deadline=None)
@given(streams())
def test_streamed_tool_calls_agree_across_core_langchain_and_llama_index(case: Case) -> None:
    chunks, expected = case
    core, langchain, llama_index = _core(chunks), _langchain(chunks), _llama_index(chunks)
    for got in (core, langchain, llama_index):
        _check(got, expected)
    # the same calls, and the same ids wherever the server sent them
    assert [c[1:] for c in langchain] == [c[1:] for c in llama_index] == [c[1:] for c in core]
    for (sent, _, _), a, b in zip(expected, langchain, llama_index, strict=True):
        if sent is not None:
            assert a[0] == b[0] == sent


def test_a_generated_id_stays_the_same_and_is_made_once() -> None:
    calls = ToolCallAssembler()
    calls.feed([{"index": 0, "function": {"name": "now", "arguments": ""}}])
    (call,) = calls.ordered()
    first = call.call_id
    calls.feed([{"index": 0, "function": {"arguments": "{}"}}])
    assert GENERATED_ID.match(first) and call.call_id == first


def test_entries_without_index_match_by_id_then_position() -> None:
    calls = ToolCallAssembler()
    # two calls started in one list, continued by position, then by id
    calls.feed([{"id": "a", "function": {"name": "f", "arguments": '{"x"'}},
                {"id": "b", "function": {"name": "g", "arguments": "{"}}])
    calls.feed([{"function": {"arguments": ": 1}"}}, {"function": {"arguments": "}"}}])
    calls.feed([{"id": "a", "function": {"name": "f"}}])
    assert [(c.id, c.name, c.arguments) for c in calls.finish_calls()] == [
        ("a", "f", '{"x": 1}'), ("b", "g", "{}")
    ]


def test_a_name_repeated_is_kept_once_and_a_split_name_is_joined() -> None:
    calls = ToolCallAssembler()
    for name in ["get_weather", "get_weather", "get_weather"]:
        calls.feed([{"index": 0, "function": {"name": name}}])
    for name in ["get_", "time"]:
        calls.feed([{"index": 1, "function": {"name": name}}])
    assert [c.name for c in calls.ordered()] == ["get_weather", "get_time"]


# ---------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    ("text", "args"),
    [('{"a": 1}', {"a": 1}), ("", {}), (None, {}), ("null", {}), ("{}", {})],
)
def test_valid_final_arguments(text: str | None, args: dict[str, Any]) -> None:
    assert load_arguments(text) == args


@pytest.mark.parametrize("text", ['{"a": 1', "[1]", '"x"', "1", "{'a': 1}", " "])
def test_invalid_final_arguments(text: str) -> None:
    with pytest.raises(ToolArgumentsError) as err:
        load_arguments(text)
    assert err.value.arguments == text
    assert isinstance(err.value, ValueError)


def test_both_frameworks_decide_invalid_with_the_same_rule() -> None:
    from types import SimpleNamespace

    from langchain_compactifai.chat_models import _parse_tool_calls
    from llama_index_compactifai.utils import final_arguments

    for text in ['{"a": 1}', "", "null", '{"a": 1', "[1]", '"x"']:
        raw = SimpleNamespace(id="c", function=SimpleNamespace(name="f", arguments=text))
        valid, invalid = _parse_tool_calls([raw])
        try:
            core: dict[str, Any] | None = load_arguments(text)
        except ToolArgumentsError:
            core = None
        assert (valid[0]["args"] if valid else None) == core
        assert bool(invalid) == (core is None)
        assert final_arguments(text) == (text if core is None else core)


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False,
              allow_infinity=False), st.text(max_size=6)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(KEYS, JSON_VALUES, max_size=4), st.booleans())
def test_every_prefix_of_an_object_reads_as_part_of_it(value: dict[str, Any],
                                                      indent: bool) -> None:
    text = json.dumps(value, indent=2 if indent else None)
    for end in range(len(text) + 1):
        prefix = text[:end]
        assert is_json_prefix(prefix), prefix
        partial = partial_arguments(prefix)
        assert isinstance(partial, dict), prefix
        assert set(partial) <= set(value), prefix  # no key that is not one
    assert partial_arguments(text) == value


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='{}[]":,0123456789.-eE truefalsn\\', max_size=12))
def test_a_json_document_is_a_prefix_and_a_non_prefix_never_parses(text: str) -> None:
    try:
        json.loads(text)
    except ValueError:
        if not is_json_prefix(text):  # nothing appended can make it JSON
            for suffix in ("}", "]", '"}', "0}", " null]}", '"]}'):
                with pytest.raises(ValueError):
                    json.loads(text + suffix)
    else:
        assert is_json_prefix(text)


def test_partial_arguments_examples() -> None:
    assert partial_arguments('{"city": "Pa') == {"city": None}  # a value cut short is None
    assert partial_arguments('{"ci') == {}  # a key cut short is no key yet
    assert partial_arguments('{"a": [1, ') == {"a": [1]}
    assert partial_arguments('{"a": "x\\') == {"a": None}
    assert partial_arguments("[1") is None
    assert partial_arguments("{'a'") is None


# ---------------------------------------------------------------- request keywords, content


def test_the_field_tables_are_the_transports() -> None:
    assert CHAT_FIELDS == _CHAT_KEYS
    assert COMPLETION_FIELDS == _COMPLETION_KEYS
    assert frozenset(_CallOptions.__annotations__) == CALL_OPTIONS | {"extra_body"}


def test_both_frameworks_partition_call_keywords_alike() -> None:
    from langchain_compactifai import ChatCompactifAI
    from llama_index_compactifai import CompactifAI

    call = {"top_p": 0.5, "timeout": 3, "top_k": 5, "extra_body": {"min_p": 0.1}, "x": None,
            "response_format": {"type": "json_object"}}
    lc = ChatCompactifAI(api_key="sk-1", temperature=0.1)._request([], None, dict(call))[2]
    li = CompactifAI(api_key="sk-1", temperature=0.1)._params(dict(call))
    expected = split_params(CHAT_FIELDS, {"temperature": 0.1}, call)
    assert lc == li == expected
    assert expected["extra_body"] == {"top_k": 5, "min_p": 0.1}


def test_text_parts_are_joined_the_same_way_on_both_sides() -> None:
    from langchain_core.messages import HumanMessage
    from llama_index.core.base.llms.types import ChatMessage, TextBlock

    from langchain_compactifai.chat_models import _convert_messages
    from llama_index_compactifai.utils import to_wire_messages

    lc = _convert_messages([HumanMessage([{"type": "text", "text": "a"}, "b"])])[0][0]
    li = to_wire_messages([ChatMessage(role="user", blocks=[TextBlock(text="a"),
                                                            TextBlock(text="b")])])[0]
    assert lc["content"] == li["content"] == collapse_parts(
        [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
    ) == "ab"


# ---------------------------------------------------------------- tools going out


CHOICES: list[tuple[Any, Any]] = [
    ("auto", "auto"),
    ("none", "none"),
    ("required", "required"),
    ("any", "required"),
    ("get_weather", {"type": "function", "function": {"name": "get_weather"}}),
    ({"type": "function", "function": {"name": "get_weather"}},
     {"type": "function", "function": {"name": "get_weather"}}),
]


@pytest.mark.parametrize(("choice", "sent"), CHOICES)
def test_tool_choice_means_the_same_on_both_sides(choice: Any, sent: Any) -> None:
    from llama_index_compactifai.utils import resolve_tool_choice

    assert tool_choice(choice, ["get_weather"]) == sent
    assert resolve_tool_choice(choice, False, ["get_weather"]) == sent


def test_tool_choice_naming_no_bound_tool_is_refused_on_both_sides() -> None:
    from llama_index_compactifai.utils import resolve_tool_choice

    with pytest.raises(InvalidRequestError):
        tool_choice("nope", ["get_weather"])
    with pytest.raises(InvalidRequestError):
        resolve_tool_choice("nope", False, ["get_weather"])
    assert tool_choice(True, ["a", "b"]) == "required"
    assert tool_choice(None) is None and tool_choice(False) is None


_ADD = {"type": "function", "function": {"name": "add"}}
_MUL = {"type": "function", "function": {"name": "mul"}}
_NAMED_ADD = {"type": "function", "function": {"name": "add"}}


@pytest.mark.parametrize(
    ("choice", "tools", "sent"),
    [
        (None, [_ADD], "auto"),  # tools and no choice: "auto", said explicitly
        (False, [_ADD, _MUL], "auto"),
        ("none", [_ADD], "none"),
        ("auto", [_ADD, _MUL], "auto"),
        ("required", [_ADD], _NAMED_ADD),  # one tool: required means that tool
        ("any", [_ADD], _NAMED_ADD),
        (True, [_ADD], _NAMED_ADD),
        ("required", [_ADD, _MUL], "required"),
        ("any", [_ADD, _MUL], "required"),
        ("required", [{"type": "custom", "custom": {"name": "x"}}], "required"),
        ("mul", [_ADD, _MUL], {"type": "function", "function": {"name": "mul"}}),
        (None, [], None),  # no tools: nothing invented
        ("required", None, "required"),  # no tools: a choice is left for the server
    ],
)
def test_request_tool_choice(choice: Any, tools: Any, sent: Any) -> None:
    from compactifai._wire import request_tool_choice

    assert request_tool_choice(choice, tools) == sent


@pytest.mark.parametrize(
    ("choice", "tools", "sent"),
    [
        # A stream says nothing when nothing was chosen: the API's default is "auto" anyway,
        # and llama-cpp-python's server answers a streamed "auto" with a 500.
        (None, [_ADD], None),
        ("auto", [_ADD], "auto"),  # what the caller chose is sent
        ("any", [_ADD], _NAMED_ADD),
        ("required", [_ADD, _MUL], "required"),
    ],
)
def test_request_tool_choice_on_a_stream(choice: Any, tools: Any, sent: Any) -> None:
    from compactifai._wire import request_tool_choice, settle_tool_choice

    assert request_tool_choice(choice, tools, stream=True) == sent
    params: dict[str, Any] = {"tools": tools, "tool_choice": choice}
    settle_tool_choice(params, stream=True)
    assert params.get("tool_choice") == sent
    assert ("tool_choice" in params) == (sent is not None)


def test_settle_tool_choice_changes_only_requests_with_tools() -> None:
    from compactifai._wire import settle_tool_choice

    with_tools: dict[str, Any] = {"tools": [_ADD], "tool_choice": "any"}
    settle_tool_choice(with_tools)
    assert with_tools["tool_choice"] == _NAMED_ADD
    plain: dict[str, Any] = {"temperature": 0}
    settle_tool_choice(plain)
    assert plain == {"temperature": 0}
    with pytest.raises(InvalidRequestError, match="names no bound tool"):
        settle_tool_choice({"tools": [_ADD], "tool_choice": "mul"})


def test_strict_tools_are_strict_at_every_depth() -> None:
    spec = {"type": "function", "function": {"name": "f", "parameters": {
        "type": "object",
        "properties": {"inner": {"type": "object", "properties": {"x": {"type": "integer"}}},
                       "items": {"type": "array", "items": {"type": "object",
                                                            "properties": {"y": {}}}}},
    }}}
    params = function_tool(spec, strict=True)["function"]["parameters"]
    assert params["additionalProperties"] is False and params["required"] == ["inner", "items"]
    assert params["properties"]["inner"]["additionalProperties"] is False
    assert params["properties"]["items"]["items"]["required"] == ["y"]
    assert "additionalProperties" not in spec["function"]["parameters"]  # not mutated
    assert "strict" not in function_tool(spec, strict=False)["function"]


def test_both_sides_send_the_same_tool_definition() -> None:
    from langchain_core.utils.function_calling import convert_to_openai_tool
    from llama_index.core.tools import FunctionTool

    from llama_index_compactifai.utils import to_wire_tool

    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    for strict in (None, True):
        lc = function_tool(convert_to_openai_tool(add), strict)["function"]
        li = to_wire_tool(FunctionTool.from_defaults(add), strict)["function"]
        assert (lc["name"], lc.get("strict")) == (li["name"], li.get("strict"))
        assert set(lc["parameters"]["properties"]) == set(li["parameters"]["properties"])
        if strict:
            assert lc["parameters"]["additionalProperties"] is False
            assert li["parameters"]["additionalProperties"] is False


# ---------------------------------------------------------------- usage, reasoning


def test_token_usage_from_a_dict_and_from_the_wire_type() -> None:
    raw = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8,
           "completion_tokens_details": {"reasoning_tokens": 2},
           "prompt_tokens_details": {"cached_tokens": 1}}
    assert token_usage(raw) == token_usage(Usage.model_validate(raw)) == (5, 3, 8, 2, 1)
    assert token_usage({"prompt_tokens": 2, "completion_tokens": 1}) == (2, 1, 3, None, None)
    assert token_usage(None) is None


def test_both_frameworks_report_the_same_usage() -> None:
    from langchain_compactifai._common import usage_metadata
    from llama_index_compactifai.utils import usage_from

    raw = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8,
           "completion_tokens_details": {"reasoning_tokens": 2}}
    lc, li = usage_metadata(raw), usage_from(raw)
    assert (lc["input_tokens"], lc["output_tokens"], lc["total_tokens"]) == (
        li["prompt_tokens"], li["completion_tokens"], li["total_tokens"])
    assert lc.get("output_token_details") == {"reasoning": li["reasoning_tokens"]} == {
        "reasoning": 2}


@pytest.mark.parametrize(
    ("source", "text"),
    [
        ({"reasoning_content": "a"}, "a"),
        ({"reasoning": "b"}, "b"),
        ({"reasoning_content": "", "reasoning": "c"}, "c"),
        ({"content": "x"}, None),
        (ChatCompletionMessage.model_validate({"reasoning": "d"}), "d"),
        (ChatCompletionMessage(reasoning_content="e"), "e"),
    ],
)
def test_reasoning_text(source: Any, text: str | None) -> None:
    assert reasoning_text(source) == text


def test_both_frameworks_read_the_reasoning_field() -> None:
    from langchain_compactifai.chat_models import _convert_chunk, _StreamState
    from llama_index_compactifai.utils import ChatStreamState

    chunk = {"choices": [{"index": 0, "delta": {"reasoning": "hmm"}}]}
    lc = _convert_chunk(chunk, _StreamState())
    assert lc is not None and lc.additional_kwargs["reasoning_content"] == "hmm"
    assert ChatStreamState().feed(chunk).additional_kwargs["thinking_delta"] == "hmm"


def test_importing_the_llama_index_package_still_loads_no_transport() -> None:
    # llama_index_compactifai reaches these rules through a handle imported on first use.
    import subprocess
    import sys

    code = ("import sys, llama_index_compactifai.llm, llama_index_compactifai.utils; "
            "print('compactifai' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------- today's chat parameters

REASONING = Path(__file__).resolve().parents[1] / "fixtures" / "reasoning"


def _fixture(name: str) -> Any:
    return json.loads((REASONING / name).read_text(encoding="utf-8"))


def test_todays_chat_fields_are_api_fields() -> None:
    assert {"reasoning_effort", "reasoning_enabled", "min_tokens", "ignore_eos"} <= CHAT_FIELDS
    assert not {"reasoning_effort", "min_tokens"} & COMPLETION_FIELDS


@pytest.mark.parametrize("effort", REASONING_EFFORTS)
def test_every_published_effort_is_sent(effort: str) -> None:
    body, _ = _chat_body("hypernova-60b", [{"role": "user", "content": "hi"}],
                         {"reasoning_effort": effort, "reasoning_enabled": True,
                          "min_tokens": 0, "ignore_eos": False})
    assert body["reasoning_effort"] == effort and body["reasoning_enabled"] is True
    assert body["min_tokens"] == 0 and body["ignore_eos"] is False


@pytest.mark.parametrize(
    ("params", "param", "words"),
    [
        ({"reasoning_effort": "minimal"}, "reasoning_effort",
         "use one of 'none', 'low', 'medium', 'high', 'xhigh', 'max'"),
        ({"reasoning_effort": "HIGH"}, "reasoning_effort", "'none', 'low'"),
        ({"reasoning_enabled": "yes"}, "reasoning_enabled", "true or false"),
        ({"ignore_eos": 1}, "ignore_eos", "true or false"),
        ({"min_tokens": -1}, "min_tokens", "from 0 to 150000"),
        ({"min_tokens": 150_001}, "min_tokens", "from 0 to 150000"),
        ({"min_tokens": 2.5}, "min_tokens", "integer"),
    ],
)
def test_bad_values_of_todays_fields_are_refused_by_name(
    params: dict[str, Any], param: str, words: str
) -> None:
    with pytest.raises(InvalidRequestError, match=re.escape(words)) as caught:
        _chat_body("m", [{"role": "user", "content": "hi"}], params)
    assert caught.value.param == param


def test_input_audio_takes_the_formats_the_openapi_lists() -> None:
    assert INPUT_AUDIO_FORMATS == ("wav", "mp3")
    for kind, expected in [("wav", "wav"), ("audio/wav", "wav"), ("audio/x-wav", "wav"),
                           ("audio/wave", "wav"), ("mp3", "mp3"), ("audio/mpeg", "mp3"),
                           ("audio/mp3", "mp3"), ("audio/mpeg; codecs=mp3", "mp3")]:
        assert audio_format(kind) == expected, kind
    for bad in ("audio/flac", "ogg", None, ""):
        with pytest.raises(InvalidRequestError, match="wav or mp3"):
            audio_format(bad)
    assert input_audio_part("QUJD", "audio/mpeg") == {
        "type": "input_audio", "input_audio": {"data": "QUJD", "format": "mp3"}}
    with pytest.raises(InvalidRequestError, match="no data"):
        input_audio_part("", "wav")


def test_file_parts() -> None:
    assert file_part(data="data:application/pdf;base64,QQ==") == {
        "type": "file", "file": {"file_data": "data:application/pdf;base64,QQ=="}}
    assert file_part(data="QQ==", filename="x.bin") == {
        "type": "file",
        "file": {"file_data": "data:application/octet-stream;base64,QQ==", "filename": "x.bin"}}
    assert file_part(file_id="file-abc", filename="a.pdf")["file"] == {
        "file_id": "file-abc", "filename": "a.pdf"}
    with pytest.raises(InvalidRequestError, match="does not fetch files"):
        file_part(filename="a.pdf")


def test_media_kinds() -> None:
    messages = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": [{"type": "text", "text": "t"},
                                     {"type": "image_url", "image_url": {"url": "u"}},
                                     {"type": "file", "file": {"file_id": "f"}}]},
        {"role": "user", "content": [{"type": "input_audio", "input_audio": {}}, "odd"]},
    ]
    assert media_kinds(messages) == {"image", "file", "audio"}
    assert media_kinds([{"role": "user", "content": "text"}]) == frozenset()


def test_reasoning_goes_back_only_with_tool_calls() -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    assert with_reasoning({"role": "assistant", "content": "", "tool_calls": [call]}, "r")[
        REASONING_KEY] == "r"
    assert REASONING_KEY not in with_reasoning({"role": "assistant", "content": "x"}, "r")
    assert REASONING_KEY not in with_reasoning(
        {"role": "assistant", "content": "", "tool_calls": [call]}, None)
    assert reasoning_from_parts([{"type": "thinking", "thinking": "a"}, "x",
                                 {"type": "reasoning", "reasoning": "b"},
                                 {"type": "reasoning"}]) == "ab"
    assert reasoning_from_parts([{"type": "text", "text": "t"}]) is None


def test_both_frameworks_read_and_send_back_a_reasoning_tool_turn_alike() -> None:
    """A hypernova-60b-shaped answer that reasons then calls a tool, read by each framework
    and sent back as the next request's assistant turn: the same wire message on both
    sides, with the reasoning in ``reasoning_content``."""
    from langchain_compactifai.chat_models import _convert_completion, _convert_messages
    from llama_index_compactifai.utils import chat_response_from_completion, to_wire_messages

    answer = ChatCompletion.model_validate(_fixture("tool_call_answer.json"))
    reasoning = answer.choices[0].message.reasoning_content
    lc_message = _convert_completion(answer, "hypernova-60b").generations[0].message
    li_message = chat_response_from_completion(answer).message
    lc_wire = _convert_messages([lc_message])[0][0]
    li_wire = to_wire_messages([li_message])[0]
    assert lc_wire == li_wire
    assert lc_wire["reasoning_content"] == reasoning
    assert lc_wire["tool_calls"][0]["function"] == {
        "name": "get_weather", "arguments": '{"city": "Bilbao"}'}
    # The final answer goes back without its reasoning, on both sides.
    final = ChatCompletion.model_validate(_fixture("final_answer.json"))
    lc_final = _convert_messages(
        [_convert_completion(final, "hypernova-60b").generations[0].message])[0][0]
    li_final = to_wire_messages([chat_response_from_completion(final).message])[0]
    assert lc_final == li_final == {"role": "assistant",
                                    "content": "It is 18 °C and cloudy in Bilbao."}


def test_both_frameworks_send_todays_message_kinds_alike() -> None:
    from langchain_core.messages import HumanMessage, SystemMessage
    from llama_index.core.base.llms.types import (
        AudioBlock,
        ChatMessage,
        DocumentBlock,
        MessageRole,
        TextBlock,
    )

    from langchain_compactifai.chat_models import _convert_messages
    from llama_index_compactifai.utils import to_wire_messages

    wav = b"RIFF$\x00\x00\x00WAVEfmt "
    pdf = b"%PDF-1.4 a tiny document"
    lc, media = _convert_messages([
        SystemMessage("Be brief.", additional_kwargs={"__openai_role__": "developer"}),
        HumanMessage([
            {"type": "text", "text": "Listen and read."},
            {"type": "audio", "base64": base64.b64encode(wav).decode(), "mime_type": "audio/wav"},
            {"type": "file", "base64": base64.b64encode(pdf).decode(),
             "mime_type": "application/pdf", "filename": "a.pdf"},
        ]),
    ])
    li = to_wire_messages([
        ChatMessage(role=MessageRole.DEVELOPER, content="Be brief."),
        ChatMessage(role="user", blocks=[
            TextBlock(text="Listen and read."),
            AudioBlock(audio=wav, format="wav"),
            DocumentBlock(data=pdf, title="a.pdf", document_mimetype="application/pdf"),
        ]),
    ])
    assert lc == li
    assert lc[0] == {"role": "developer", "content": "Be brief."}
    assert [p["type"] for p in lc[1]["content"]] == ["text", "input_audio", "file"]
    assert lc[1]["content"][2]["file"]["file_data"].startswith("data:application/pdf;base64,")
    assert media == {"audio", "file"}
