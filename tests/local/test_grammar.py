"""The grammar under which the local server writes tool arguments: always a JSON object.

The unit tests build the grammar the way a named tool call does (``run_chat`` with an engine
that only records what it is asked) and read the GBNF llama.cpp compiles (no model loaded).
The ``local_models`` test runs one call on the real model.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

pytest.importorskip("llama_cpp")

from compactifai.local.chat import ChatMessage, parse_tools, plan_chat, run_chat
from compactifai.local.engines.llama import (
    GenerationResult,
    Grammar,
    LlamaEngine,
    Sampling,
    grammar_gbnf,
)

from .support import CHAT_MODEL

_RULE = re.compile(r"^([\w-]+)\s*::=\s*(.*)$")


def _rules(gbnf: str) -> dict[str, str]:
    """GBNF rules by name (continuation lines joined)."""
    rules: dict[str, str] = {}
    name = None
    for line in gbnf.splitlines():
        if m := _RULE.match(line):
            name = m.group(1)
            rules[name] = m.group(2)
        elif name and line.strip():
            rules[name] += " " + line.strip()
    return rules


def _root_is_an_object(gbnf: str) -> bool:
    """Whether every alternative of ``root`` starts with ``{`` (following rule names)."""
    rules = _rules(gbnf)

    def starts_with_brace(name: str, seen: frozenset[str]) -> bool:
        if name in seen:
            return False
        body = rules[name].strip()
        alternatives = [a.strip() for a in re.split(r"\s\|\s", body)] if "|" in body else [body]
        for alt in alternatives:
            if alt.startswith('"{"'):
                continue
            first = re.match(r"^\(?\s*([\w-]+)", alt)
            if not first or first.group(1) not in rules:
                return False
            if not starts_with_brace(first.group(1), seen | {name}):
                return False
        return True

    return starts_with_brace("root", frozenset())


class _Recorder:
    """An engine stand-in: records the grammars, answers ``{}``."""

    def __init__(self) -> None:
        self.grammars: list[Grammar | None] = []

    def check_prompt(self, prompt: Any) -> int:
        return 10

    def generate(self, prompt: Any, sampling: Any, *, grammar: Grammar | None = None,
                 **_: Any) -> GenerationResult:
        self.grammars.append(grammar)
        return GenerationResult("{}", "stop", 10, 1, ["{}"])


def _arguments_gbnf(parameters: dict[str, Any] | None) -> str:
    """The GBNF a named call of a tool with these parameters is generated under."""
    fn: dict[str, Any] = {"name": "f", "description": "A tool."}
    if parameters is not None:
        fn["parameters"] = parameters
    tools = parse_tools([{"type": "function", "function": fn}])
    plan = plan_chat(
        [ChatMessage("user", "call f")], tools,
        {"type": "function", "function": {"name": "f"}}, Sampling(), None,
    )
    engine = _Recorder()
    run_chat(engine, plan)  # type: ignore[arg-type]
    (grammar,) = engine.grammars
    assert grammar is not None
    compiled = LlamaEngine(None)._grammar(grammar)  # what llama.cpp would be given
    return str(compiled._grammar)


UNEXPRESSIBLE_OR_NOT_OBJECTS = [
    {"type": "string"},
    {"type": "array", "items": {"type": "integer"}},
    {"type": ["object", "null"]},
    {"anyOf": [{"type": "object"}, {"type": "string"}]},
    {"$ref": "#/$defs/A", "$defs": {"A": {"type": "integer"}}},
    {"type": "object", "properties": {"a": {"type": "string", "pattern": "^(?=x)"}}},
    {"type": "object", "properties": {"a": {"$ref": "#/nowhere"}}},
]


@pytest.mark.parametrize("schema", UNEXPRESSIBLE_OR_NOT_OBJECTS, ids=json.dumps)
def test_tool_arguments_are_an_object_whatever_the_schema(schema: dict[str, Any]) -> None:
    assert _root_is_an_object(_arguments_gbnf(schema))


@pytest.mark.parametrize(
    "schema",
    [
        None,
        {},
        {"type": "object"},
        {"type": "object", "properties": {}},
        {"properties": {"city": {"type": "string"}}, "required": ["city"]},
        {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
    ],
    ids=json.dumps,
)
def test_object_schemas_keep_their_constraints(schema: dict[str, Any] | None) -> None:
    gbnf = _arguments_gbnf(schema)
    assert _root_is_an_object(gbnf)
    props = (schema or {}).get("properties")
    if props:  # the converter's grammar, naming the properties, not a generic object
        assert all(json.dumps(name) in gbnf.replace('\\"', '"') for name in props)


def test_the_fallback_is_any_json_object() -> None:
    fallback = grammar_gbnf(Grammar("arguments", schema={"type": "string"}))
    assert _rules(fallback)["root"].strip() == "object"
    assert '"{"' in _rules(fallback)["object"]


def test_response_format_schemas_are_unchanged() -> None:
    # response_format json_schema may ask for any JSON value; only tool arguments must be
    # objects.
    gbnf = grammar_gbnf(Grammar("schema", schema={"type": "string"}))
    assert not _root_is_an_object(gbnf)
    unsupported = {"type": "object", "properties": {"a": {"type": "string", "pattern": "x("}}}
    assert _root_is_an_object(grammar_gbnf(Grammar("schema", schema=unsupported)))


@pytest.mark.local_models
def test_a_tool_with_a_non_object_schema_gets_object_arguments(client: httpx.Client) -> None:
    tool = {"type": "function", "function": {
        "name": "tag", "description": "Tag the text.",
        "parameters": {"type": "array", "items": {"type": "string"}},
    }}
    response = client.post("/chat/completions", json={
        "model": CHAT_MODEL,
        "messages": [{"role": "user", "content": "Tag this: hello"}],
        "tools": [tool],
        "tool_choice": {"type": "function", "function": {"name": "tag"}},
        "max_tokens": 40,
        "temperature": 0,
    })
    assert response.status_code == 200, response.text
    (call,) = response.json()["choices"][0]["message"]["tool_calls"]
    assert call["function"]["name"] == "tag"
    arguments = call["function"]["arguments"]
    assert arguments.startswith("{"), arguments
