"""Chat conversion rules both integrations follow, written once (no framework imported here).

LangChain (``langchain_compactifai``) and LlamaIndex (``llama_index_compactifai``) each turn
their own objects into wire dicts and back; every rule about the wire itself lives here, so
the two cannot drift apart:

- request keywords: which are API fields, which are call options, which go in ``extra_body``
  (:data:`CHAT_FIELDS`, :data:`COMPLETION_FIELDS`, :data:`CALL_OPTIONS`, :func:`split_params`);
- content: text-only parts become one string (:func:`join_text`, :func:`collapse_parts`);
- tools going out: definitions and ``tool_choice`` (:func:`function_tool`,
  :func:`tool_names`, :func:`tool_choice`, :func:`request_tool_choice`,
  :func:`wire_tool_call`, :func:`dump_arguments`);
- tool calls coming in: whole (:func:`load_arguments`, :class:`ToolArgumentsError`) or
  streamed (:class:`ToolCallAssembler`, :func:`partial_arguments`, :func:`is_json_prefix`),
  with ids made for calls the server sent without one (:func:`new_call_id`);
- token usage (:func:`token_usage`) and reasoning text (:func:`reasoning_text`);
- today's content parts (:func:`input_audio_part`, :func:`file_part`, :func:`media_kinds`)
  and reasoning sent back in tool loops (:func:`with_reasoning`,
  :func:`reasoning_from_parts`).

Nothing here validates a streamed chunk with pydantic: chunks are plain dicts and the
per-chunk functions only read them.

Example:
    >>> from compactifai._wire import ToolCallAssembler
    >>> calls = ToolCallAssembler()
    >>> calls.feed([{"index": 0, "id": "call_1", "function": {"name": "add", "arguments": ""}}])
    >>> calls.feed([{"index": 0, "function": {"arguments": '{"a": 1}'}}])
    >>> [(c.call_id, c.name, load_arguments(c.arguments)) for c in calls.finish_calls()]
    [('call_1', 'add', {'a': 1})]
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from ._errors import InvalidRequestError

__all__ = [
    "CALL_OPTIONS",
    "CLIENT_SETTINGS",
    "INPUT_AUDIO_FORMATS",
    "REASONING_KEY",
    "TEXT_JOINER",
    "TOOL_CHOICE_MODES",
    "StreamedToolCall",
    "TokenUsage",
    "ToolArgumentsError",
    "ToolCallAssembler",
    "audio_format",
    "collapse_parts",
    "dump_arguments",
    "file_part",
    "function_tool",
    "input_audio_part",
    "is_json_prefix",
    "join_text",
    "load_arguments",
    "media_kinds",
    "new_call_id",
    "partial_arguments",
    "reasoning_from_parts",
    "reasoning_text",
    "request_tool_choice",
    "settle_tool_choice",
    "split_params",
    "token_usage",
    "tool_choice",
    "tool_names",
    "wire_tool_call",
    "with_reasoning",
]


# ---------------------------------------------------------------- request keywords

#: Request-model fields that are not call keywords: the transport's methods set them.
_SET_BY_TRANSPORT = frozenset({"model", "messages", "prompt", "stream", "stream_options"})
_FIELDS: dict[str, frozenset[str]] = {}


def __getattr__(name: str) -> frozenset[str]:
    """``CHAT_FIELDS`` / ``COMPLETION_FIELDS``: the API fields a chat or text completion call
    takes by name. The request models in ``types.py`` are the one list (the transport's
    ``ChatParams``/``CompletionParams`` must name the same fields: tests/unit/test_wire.py
    holds them to it). Computed on first use, so that importing an integration does not
    build the pydantic models (10 ms of ``import langchain_compactifai`` measured)."""
    if name not in ("CHAT_FIELDS", "COMPLETION_FIELDS"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    found = _FIELDS.get(name)
    if found is None:
        from .types import ChatCompletionRequest, CompletionRequest

        model = ChatCompletionRequest if name == "CHAT_FIELDS" else CompletionRequest
        found = _FIELDS[name] = frozenset(model.model_fields) - _SET_BY_TRANSPORT
    return found
#: Keywords that steer one call and are never part of the body.
CALL_OPTIONS: frozenset[str] = frozenset({"extra_headers", "timeout"})
#: The settings a transport client is built from; an integration rebuilds its clients when
#: one of its fields of these names changes.
CLIENT_SETTINGS: tuple[str, ...] = (
    "api_key",
    "base_url",
    "timeout",
    "max_retries",
    "default_headers",
    "rate_limit",
    "http_backend",
    "region",
    "app_id",
)


def split_params(
    fields: Collection[str], *sources: Mapping[str, Any], skip: Collection[str] = ()
) -> dict[str, Any]:
    """Call keywords -> the transport method's keyword arguments.

    API ``fields`` and :data:`CALL_OPTIONS` are passed by name; ``extra_body`` is merged;
    any other key goes in ``extra_body`` (nothing is dropped) unless it is None or listed in
    ``skip`` (keywords the integration itself reads). Later sources win.

    Example:
        >>> split_params({"temperature"}, {"temperature": 0.2, "top_k": 5},
        ...              {"timeout": 3, "extra_body": {"min_p": 0.1}, "stream": True, "x": None},
        ...              skip={"stream"})
        {'temperature': 0.2, 'timeout': 3, 'extra_body': {'top_k': 5, 'min_p': 0.1}}
    """
    params: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for source in sources:
        for key, value in source.items():
            if key in fields or key in CALL_OPTIONS:
                params[key] = value
            elif key == "extra_body":
                if value:
                    extra.update(value)
            elif value is not None and key not in skip:
                extra[key] = value
    if extra:
        params["extra_body"] = extra
    return params


# ---------------------------------------------------------------- content

#: What goes between the text parts of one message when they are sent as one string. Nothing:
#: a part's text is sent exactly as written, so ``["Hello ", "world"]`` is "Hello world"
#: (LangChain's ``.text`` joins the same way) and no separator is invented; a caller who wants
#: parts apart writes the separator into them. LlamaIndex's ``ChatMessage.content`` shows
#: several TextBlocks joined by "\\n", but what is sent follows this one rule.
TEXT_JOINER = ""


def join_text(texts: Iterable[str]) -> str:
    """The texts of a message's parts as the one string sent.

    Example:
        >>> join_text(["Hello ", "world"])
        'Hello world'
    """
    return TEXT_JOINER.join(texts)


def collapse_parts(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """Wire content parts -> one string when all of them are text (the API types content as
    a string; a list is sent only when it holds an image or another kind of part).

    Example:
        >>> collapse_parts([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}])
        'ab'
        >>> collapse_parts([{"type": "image_url", "image_url": {"url": "u"}}])
        [{'type': 'image_url', 'image_url': {'url': 'u'}}]
    """
    for part in parts:
        if part.get("type") != "text":
            return parts
    return join_text([part.get("text") or "" for part in parts])


# ---------------------------------------------------------------- tools going out

#: The ``tool_choice`` modes the API takes as strings.
TOOL_CHOICE_MODES = ("auto", "none", "required")


def _named(name: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name}}


def tool_choice(choice: Any, names: Sequence[str] | None = None) -> str | dict[str, Any] | None:
    """A ``tool_choice`` as either framework spells it -> what the API takes.

    None or False: nothing is sent. "auto", "none", "required": as they are; "any":
    "required". True: the only tool by name, else "required". Any other string: that tool,
    ``{"type": "function", "function": {"name": ...}}``; when the bound tools' ``names`` are
    known, a string naming none of them is refused. A mapping is the API's form already.

    Example:
        >>> tool_choice("any"), tool_choice(True, ["add"])
        ('required', {'type': 'function', 'function': {'name': 'add'}})
        >>> tool_choice("mul", ["add"])
        Traceback (most recent call last):
        ...
        compactifai._errors.InvalidRequestError: tool_choice='mul' names no bound tool (tools: add); use 'auto', 'none', 'required', 'any' or a tool's name
    """
    if choice is None or choice is False:
        return None
    if choice is True:
        return _named(names[0]) if names is not None and len(names) == 1 else "required"
    if isinstance(choice, str):
        if choice in TOOL_CHOICE_MODES:
            return choice
        if choice == "any":
            return "required"
        if names is None or choice in names:
            return _named(choice)
        raise InvalidRequestError(
            f"tool_choice={choice!r} names no bound tool (tools: {', '.join(names) or 'none'}); "
            "use 'auto', 'none', 'required', 'any' or a tool's name",
            param="tool_choice",
        )
    if isinstance(choice, Mapping):
        return dict(choice)
    raise InvalidRequestError(f"tool_choice={choice!r} is not valid", param="tool_choice")


def request_tool_choice(
    choice: Any, tools: Sequence[Mapping[str, Any]] | None, *, stream: bool = False
) -> Any:
    """The ``tool_choice`` a request carries with its ``tools`` (None: send none).

    The one rule both integrations apply to the request as it leaves, whatever the call
    path (``bind_tools``, call keywords, LlamaIndex's ``chat_with_tools``):

    - tools and no choice: ``"auto"``, sent explicitly. It is the API's default, and some
      OpenAI-compatible servers (llama-cpp-python's) ignore the tools unless it is said.
      Not on a stream: the API's default is the same "auto", and that server answers a
      streamed "auto" with a 500 ("Automatic streaming tool choice is not supported") where,
      told nothing, it streams a text answer;
    - ``"required"`` (LangChain's "any", LlamaIndex's ``tool_required=True``) with exactly
      one tool: that tool by name, the same meaning in a form servers that cannot do
      "required" still obey;
    - otherwise the choice as :func:`tool_choice` reads it; with no tools, a choice is left
      for the server to judge.

    Example:
        >>> add = {"type": "function", "function": {"name": "add"}}
        >>> request_tool_choice(None, [add]), request_tool_choice("auto", [add])
        ('auto', 'auto')
        >>> request_tool_choice("any", [add])
        {'type': 'function', 'function': {'name': 'add'}}
        >>> request_tool_choice("required", [add, {"type": "function", "function": {"name": "f"}}])
        'required'
        >>> request_tool_choice(None, []) is None
        True
    """
    if not tools:
        return choice
    names = tool_names(tools)
    resolved = tool_choice(choice, names)
    if resolved is None:
        return None if stream else "auto"
    if resolved == "required" and len(tools) == 1 and len(names) == 1:
        return _named(names[0])
    return resolved


def settle_tool_choice(params: dict[str, Any], *, stream: bool = False) -> None:
    """Apply :func:`request_tool_choice` to a request's keyword arguments, in place.

    Example:
        >>> params = {"tools": [{"type": "function", "function": {"name": "add"}}]}
        >>> settle_tool_choice(params); params["tool_choice"]
        'auto'
    """
    tools = params.get("tools")
    if tools:
        choice = request_tool_choice(params.get("tool_choice"), tools, stream=stream)
        if choice is None:
            params.pop("tool_choice", None)
        else:
            params["tool_choice"] = choice


def _strict_schema(schema: Any) -> Any:
    """A copy of a JSON schema as strict mode wants it: every object closed
    (``additionalProperties: false``) with all its properties required, at every depth."""
    if not isinstance(schema, Mapping):
        return schema
    out = dict(schema)
    properties = out.get("properties")
    if isinstance(properties, Mapping):
        out["properties"] = {k: _strict_schema(v) for k, v in properties.items()}
    items = out.get("items")
    if isinstance(items, list):
        out["items"] = [_strict_schema(s) for s in items]
    elif items is not None:
        out["items"] = _strict_schema(items)
    for key in ("anyOf", "allOf", "oneOf", "prefixItems"):
        if isinstance(out.get(key), list):
            out[key] = [_strict_schema(s) for s in out[key]]
    for key in ("$defs", "definitions"):
        if isinstance(out.get(key), Mapping):
            out[key] = {k: _strict_schema(v) for k, v in out[key].items()}
    if isinstance(properties, Mapping) or out.get("type") == "object":
        out["additionalProperties"] = False
        if properties:
            out["required"] = list(properties)
    return out


def function_tool(tool: Mapping[str, Any], strict: bool | None = None) -> dict[str, Any]:
    """A tool definition as sent: ``{"type": "function", "function": {...}}`` with
    ``parameters`` (an empty object schema for a tool without any). A bare function dict
    (``{"name": ..., "parameters": ...}``) is wrapped; another kind of tool passes as it is.
    ``strict`` is sent only when True (many servers refuse the field), with a schema made
    strict (:func:`_strict_schema`).

    Example:
        >>> function_tool({"name": "now", "description": "The time."})
        {'type': 'function', 'function': {'name': 'now', 'description': 'The time.', 'parameters': {'type': 'object', 'properties': {}}}}
        >>> function_tool({"name": "f", "parameters": {"type": "object", "properties": {
        ...     "x": {"type": "integer"}}}}, strict=True)["function"]["parameters"]
        {'type': 'object', 'properties': {'x': {'type': 'integer'}}, 'additionalProperties': False, 'required': ['x']}
    """
    if "type" not in tool and "name" in tool:
        tool = {"type": "function", "function": tool}
    if tool.get("type") != "function" or not isinstance(tool.get("function"), Mapping):
        return dict(tool)
    fn = dict(tool["function"])
    parameters = fn.get("parameters")
    if parameters is None:
        parameters = {"type": "object", "properties": {}}
    if strict:
        fn["strict"] = True
        parameters = _strict_schema(parameters)
    fn["parameters"] = parameters
    return {**tool, "function": fn}


def tool_names(tools: Iterable[Mapping[str, Any]]) -> list[str]:
    """The names of the function tools among wire tool definitions.

    Example:
        >>> tool_names([{"type": "function", "function": {"name": "add"}}, {"type": "x"}])
        ['add']
    """
    return [
        str(t["function"]["name"])
        for t in tools
        if isinstance(t.get("function"), Mapping) and t["function"].get("name")
    ]


def dump_arguments(args: Any) -> str:
    """A tool call's arguments as the JSON text sent back to the API (text as it is, "{}" for
    none; non-ASCII characters are kept, not escaped).

    Example:
        >>> dump_arguments({"city": "Málaga"}), dump_arguments(None), dump_arguments('{"a": 1}')
        ('{"city": "Málaga"}', '{}', '{"a": 1}')
    """
    if isinstance(args, str):
        return args or "{}"
    return json.dumps({} if args is None else args, ensure_ascii=False)


def wire_tool_call(call_id: str | None, name: str, arguments: str) -> dict[str, Any]:
    """One assistant tool call as sent back in the conversation (no ``id`` key when unknown).

    Example:
        >>> wire_tool_call("call_1", "add", '{"a": 1}')
        {'id': 'call_1', 'type': 'function', 'function': {'name': 'add', 'arguments': '{"a": 1}'}}
    """
    call: dict[str, Any] = {"type": "function", "function": {"name": name, "arguments": arguments}}
    if call_id:
        return {"id": call_id, **call}
    return call


# ---------------------------------------------------------------- tool-call arguments


def new_call_id() -> str:
    """An id for a tool call the server sent without one: ``call_`` and 24 hex digits.

    Example:
        >>> new_call_id().startswith("call_"), len(new_call_id())
        (True, 29)
    """
    return f"call_{uuid.uuid4().hex[:24]}"


class ToolArgumentsError(ValueError):
    """The arguments of a complete tool call are not a JSON object: the tool must not run.

    ``arguments`` is the text as the server sent it; ``reason`` says what is wrong with it.

    Example:
        >>> err = ToolArgumentsError('{"a": ', "arguments are not valid JSON")
        >>> print(err)
        arguments are not valid JSON: '{"a": '
    """

    def __init__(self, arguments: str, reason: str) -> None:
        super().__init__(f"{reason}: {arguments!r}")
        self.arguments = arguments
        self.reason = reason


def load_arguments(arguments: str | None) -> dict[str, Any]:
    """The arguments of a complete tool call as a dict: the one rule of what is valid.

    A JSON object is valid; "", None and JSON ``null`` mean a tool without arguments (``{}``);
    anything else (invalid or cut-off JSON, an array, a string...) raises
    :class:`ToolArgumentsError`. No repair: the answer is over, nothing more will come.

    Example:
        >>> load_arguments('{"city": "Paris"}'), load_arguments(""), load_arguments("null")
        ({'city': 'Paris'}, {}, {})
        >>> load_arguments("[1, 2]")
        Traceback (most recent call last):
        ...
        compactifai._wire.ToolArgumentsError: arguments are not a JSON object: '[1, 2]'
    """
    if not arguments:
        return {}
    try:
        value = json.loads(arguments)
    except ValueError as err:
        raise ToolArgumentsError(arguments, f"arguments are not valid JSON ({err})") from None
    if isinstance(value, dict):
        return value
    if value is None:
        return {}
    raise ToolArgumentsError(arguments, "arguments are not a JSON object")


# JSON scanning: is a text the beginning of a JSON document, and how is it closed?
_WS = re.compile(r"[ \t\r\n]*")
_STRING_BODY = re.compile(r'(?:[^"\\\x00-\x1f]+|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*')
_CUT_ESCAPE = re.compile(r"\\(?:u[0-9a-fA-F]{0,3})?\Z")
_TOKEN = re.compile(r"[0-9A-Za-z+.\-]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\Z")
#: What a number cut anywhere may look like ("-", "12", "1.", "1.5e", "1e-"...).
_NUMBER_START = re.compile(r"-\Z|-?(?:0|[1-9][0-9]*)(?:\.\Z|(?:\.[0-9]+)?(?:[eE][+-]?[0-9]*)?\Z)")
_LITERALS = ("true", "false", "null")
# What the scanner expects next.
_VALUE, _VALUE_OR_END, _KEY, _KEY_OR_END, _COLON, _COMMA_OR_END, _DONE = range(7)


def _close(text: str) -> str | None:
    """Close a JSON prefix into a document, or None when ``text`` cannot begin one.

    A value still arriving (a string, number or literal cut at the end) reads as ``null``; a
    key still arriving is left out; open containers are closed. "" when no value has begun.
    """
    closers: list[str] = []
    expect = _VALUE
    member = 0  # where the innermost container's current member begins (its comma, or after
    # its opening bracket): a key cut at the end is dropped from there
    cut = -1  # where the kept text ends, when the end of the text is dropped
    tail = ""  # what completes the kept text before the closers
    i, n = 0, len(text)
    while True:
        i = _WS.match(text, i).end()  # type: ignore[union-attr]
        if i >= n:
            break
        c = text[i]
        if expect == _DONE:
            return None
        if c == '"':
            if expect not in (_VALUE, _VALUE_OR_END, _KEY, _KEY_OR_END):
                return None
            is_key = expect in (_KEY, _KEY_OR_END)
            end = _STRING_BODY.match(text, i + 1).end()  # type: ignore[union-attr]
            if end < n and text[end] == '"':
                i = end + 1
                expect = _COLON if is_key else (_COMMA_OR_END if closers else _DONE)
                continue
            if end < n and not _CUT_ESCAPE.match(text, end):
                return None  # a control character or a bad escape
            cut, tail = (member, "") if is_key else (i, "null")
            break
        if c == "}" or c == "]":
            if not closers or closers[-1] != c:
                return None
            if expect != _COMMA_OR_END and expect != (_KEY_OR_END if c == "}" else _VALUE_OR_END):
                return None
            closers.pop()
            expect = _COMMA_OR_END if closers else _DONE
            i += 1
            continue
        if c == ":":
            if expect != _COLON:
                return None
            expect = _VALUE
            i += 1
            continue
        if c == ",":
            if expect != _COMMA_OR_END:
                return None
            member = i
            expect = _KEY if closers[-1] == "}" else _VALUE
            i += 1
            continue
        if expect != _VALUE and expect != _VALUE_OR_END:
            return None
        if c == "{" or c == "[":
            closers.append("}" if c == "{" else "]")
            expect = _KEY_OR_END if c == "{" else _VALUE_OR_END
            i += 1
            member = i
            continue
        end = _TOKEN.match(text, i).end()  # type: ignore[union-attr]
        token = text[i:end]
        if end >= n:  # may still grow
            if not token or not (
                any(lit.startswith(token) for lit in _LITERALS)
                or _NUMBER_START.match(token)
            ):
                return None
            cut, tail = i, "null"
            break
        if token not in _LITERALS and not _NUMBER.match(token):
            return None
        expect = _COMMA_OR_END if closers else _DONE
        i = end
    if cut < 0:
        if expect == _VALUE:
            if not closers:
                return ""  # nothing has begun
            if closers[-1] == "}":
                tail = "null"  # after a colon
            else:
                cut = member  # after a comma in an array: the comma goes
        elif expect == _KEY:
            cut = member  # after a comma in an object: the comma goes
        elif expect == _COLON:
            tail = ": null"
    kept = text if cut < 0 else text[:cut]
    return kept + tail + "".join(reversed(closers))


def is_json_prefix(text: str) -> bool:
    """Whether ``text`` can begin a JSON document (it is one, or more text may complete it).

    Example:
        >>> is_json_prefix('{"a": {"a": 1'), is_json_prefix('{"a{"a": '), is_json_prefix('{} 1')
        (True, False, False)
    """
    return _close(text) is not None


def partial_arguments(arguments: str | None) -> dict[str, Any] | None:
    """Arguments still arriving in a stream, read as far as they go; None if they cannot be.

    A value cut at the end reads as None (``"Pa`` may become ``"Paris"``), a key cut at the
    end is left out; "" and None are ``{}``. For arguments that are over, use
    :func:`load_arguments`.

    Example:
        >>> partial_arguments('{"city": "Pa'), partial_arguments('{"city": "Paris", "da')
        ({'city': None}, {'city': 'Paris'})
        >>> partial_arguments("{'city'") is None
        True
    """
    if not arguments:
        return {}
    try:
        value = json.loads(arguments)
    except ValueError:
        closed = _close(arguments)
        if not closed:
            return None
        try:
            value = json.loads(closed)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None
    if isinstance(value, dict):
        return value
    return {} if value is None else None


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------- streamed tool calls


class StreamedToolCall:
    """One tool call as assembled so far from a stream.

    ``index`` is its place among the answer's calls; ``id`` and ``name`` are what the server
    sent (None and "" until it does); ``arguments`` is the argument text settled so far.
    ``view`` is free for an integration to cache what it built from the call: it is cleared
    whenever the call changes.
    """

    __slots__ = ("_cumulative", "_generated", "_held", "arguments", "id", "index", "name", "view")

    def __init__(self, index: int) -> None:
        self.index = index
        self.id: str | None = None
        self.name = ""
        self.arguments = ""
        self.view: Any = None
        self._generated: str | None = None
        self._cumulative = False
        #: Text not settled yet: (what it adds if pieces are new text, the whole text if
        #: they are cumulative).
        self._held: tuple[str, str] | None = None

    @property
    def call_id(self) -> str:
        """The server's id, else one made here (once: the same every time it is read)."""
        if self.id:
            return self.id
        if self._generated is None:
            self._generated = new_call_id()
        return self._generated

    def __repr__(self) -> str:
        return (
            f"StreamedToolCall(index={self.index}, id={self.id!r}, name={self.name!r}, "
            f"arguments={self.arguments!r})"
        )

    def _add_name(self, name: str) -> str:
        """Merge a name piece; return what it adds. Servers send the name once (OpenAI) or
        whole in every chunk (llama.cpp); a piece that repeats or extends the name so far
        replaces it, any other piece is the next part of a name split over chunks."""
        so_far = self.name
        if name == so_far:
            return ""
        if name.startswith(so_far):
            self.name = name
            return name[len(so_far) :]
        self.name = so_far + name
        return name

    def _add_arguments(self, piece: str) -> str:
        """Merge an argument piece; return the text it adds to :attr:`arguments`.

        Pieces are new text (OpenAI) or cumulative, each repeating the text so far
        (``'{"t'``, ``'{"t": 2'``, ``'{"t": 2}'``). A piece that starts with the text so far
        and is at least as long is read as cumulative when the two cannot simply follow each
        other (their concatenation begins no JSON document); the call is then read as
        cumulative to its end. While both readings still fit, the piece is held back until a
        later piece or the end of the stream (:meth:`_settle`) tells them apart.
        """
        so_far = self.arguments
        held = self._held
        if held is not None:
            self._held = None
            tail, whole = held
            as_new = is_json_prefix(so_far + tail + piece)
            as_whole = len(piece) >= len(whole) and piece.startswith(whole)
            if as_new and as_whole:
                self._held = (tail + piece, piece)
                return ""
            if as_whole:
                self._cumulative = True
                self.arguments = piece
                return piece[len(so_far) :]
            self.arguments = so_far + tail + piece
            return tail + piece
        if so_far and len(piece) >= len(so_far) and piece.startswith(so_far):
            if self._cumulative or not is_json_prefix(so_far + piece):
                self._cumulative = True
                self.arguments = piece
                return piece[len(so_far) :]
            self._held = (piece, piece)
            return ""
        self.arguments = so_far + piece
        return piece

    def _settle(self) -> str:
        """At the end: read the held-back text the way that gives complete JSON (as new text
        when both do); return what it adds to :attr:`arguments`."""
        held = self._held
        if held is None:
            return ""
        self._held = None
        self.view = None
        tail, whole = held
        so_far = self.arguments
        if not _is_json(so_far + tail) and _is_json(whole):
            self.arguments = whole
            return whole[len(so_far) :]
        self.arguments = so_far + tail
        return tail


class ToolCallAssembler:
    """Assembles the tool calls of one streamed answer from each chunk's ``delta.tool_calls``.

    Which call an entry belongs to: its ``index`` when it has one. Without an index: the call
    with the same ``id`` if that id is known; an unknown id starts a new call (unless the last
    call has no id yet: the id is then its own, sent late); no id at all continues the call at
    the same position when the entry list holds several entries (one per call), else the call
    the last entry went to (servers without indexes send one call after another).

    Ids and names are kept once whether sent once or in every chunk; argument pieces may be
    new text or cumulative (see :meth:`StreamedToolCall._add_arguments`); ``None`` and
    non-string arguments are "" and their JSON text.

    Example:
        >>> calls = ToolCallAssembler()
        >>> for piece in ['{"t', '{"t": ', '{"t": 22}']:  # cumulative pieces
        ...     calls.feed([{"id": "c1", "function": {"name": "set", "arguments": piece}}])
        >>> [(c.call_id, c.name, c.arguments) for c in calls.finish_calls()]
        [('c1', 'set', '{"t": 22}')]
    """

    __slots__ = ("_by_id", "_last", "calls")

    def __init__(self) -> None:
        #: index -> call, in the order the calls started
        self.calls: dict[int, StreamedToolCall] = {}
        self._by_id: dict[str, int] = {}
        self._last: int | None = None

    def _index_of(self, call_id: Any, position: int, count: int) -> int:
        calls = self.calls
        if call_id:
            known = self._by_id.get(call_id)
            if known is not None:
                return known
            last = self._last
            if last is not None and calls[last].id is None:
                return last
            return max(calls) + 1 if calls else 0
        if count > 1:
            return position
        last = self._last
        return position if last is None else last

    def add(
        self, entry: Mapping[str, Any], position: int = 0, count: int = 1
    ) -> tuple[StreamedToolCall, str | None, str | None, str]:
        """Merge one entry of a chunk's tool-call list (``position`` in a list of ``count``).

        Returns the call and what the entry added to it: the id when it is the first the call
        gets, the name text it adds (None if nothing), and the argument text it adds.
        """
        index = entry.get("index")
        call_id = entry.get("id")
        if index is None:
            index = self._index_of(call_id, position, count)
        calls = self.calls
        call = calls.get(index)
        if call is None:
            call = calls[index] = StreamedToolCall(index)
        self._last = index
        call.view = None
        new_id = None
        if call_id and call.id is None:
            call.id = new_id = call_id
            self._by_id[call_id] = index
        fn = entry.get("function")
        if not fn:
            return call, new_id, None, ""
        name = fn.get("name")
        added_name = (call._add_name(name) or None) if name else None
        piece = fn.get("arguments")
        if not piece:
            return call, new_id, added_name, ""
        if not isinstance(piece, str):
            piece = json.dumps(piece, ensure_ascii=False)
        return call, new_id, added_name, call._add_arguments(piece)

    def feed(self, entries: Sequence[Mapping[str, Any]]) -> None:
        """Merge a chunk's whole ``delta.tool_calls`` list."""
        count = len(entries)
        add = self.add
        for position, entry in enumerate(entries):
            add(entry, position, count)

    def finish(self) -> list[tuple[StreamedToolCall, str]]:
        """The stream is over: settle held-back argument text. Returns every call, in index
        order, with the argument text settling added to it (mostly "")."""
        return [(call, call._settle()) for call in self.ordered()]

    def finish_calls(self) -> list[StreamedToolCall]:
        """:meth:`finish`, returning the calls only."""
        return [call for call, _ in self.finish()]

    def ordered(self) -> list[StreamedToolCall]:
        """The calls by index."""
        calls = self.calls
        return [calls[i] for i in sorted(calls)]


# ---------------------------------------------------------------- usage and reasoning


class TokenUsage(NamedTuple):
    """Token counts of one answer; the details are None when the server did not report them."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    reasoning_tokens: int | None = None
    cached_tokens: int | None = None


_new_tuple = tuple.__new__


def _field(source: Any, name: str) -> Any:
    """``source[name]`` of a dict, else the attribute; None when absent.

    A wire type keeps the fields the server added in ``__pydantic_extra__``: they are read
    there, since ``getattr`` of an absent one raises (and catches) inside pydantic, which
    costs more than the rest of a conversion.
    """
    if isinstance(source, dict):
        return source.get(name)
    attrs = getattr(source, "__dict__", None)
    if attrs is not None and name in attrs:
        return attrs[name]
    extra = getattr(source, "__pydantic_extra__", None)
    if extra is not None:
        return extra.get(name)
    if isinstance(source, Mapping):
        return source.get(name)
    return getattr(source, name, None)


def token_usage(usage: Any) -> TokenUsage | None:
    """Token counts from a usage dict or object (``compactifai.types.Usage``, which keeps the
    details the server adds); None for no usage. A missing total is the sum.

    Example:
        >>> token_usage({"prompt_tokens": 5, "completion_tokens": 3,
        ...              "completion_tokens_details": {"reasoning_tokens": 2}})
        TokenUsage(prompt_tokens=5, completion_tokens=3, total_tokens=8, reasoning_tokens=2, cached_tokens=None)
    """
    if usage is None:
        return None
    if type(usage) is dict:  # what streams carry, and what a model_dump gives
        get = usage.get
        prompt, completion, total = (
            get("prompt_tokens") or 0, get("completion_tokens") or 0, get("total_tokens")
        )
        completion_details = get("completion_tokens_details")
        prompt_details = get("prompt_tokens_details")
    else:
        prompt = _field(usage, "prompt_tokens") or 0
        completion = _field(usage, "completion_tokens") or 0
        total = _field(usage, "total_tokens")
        completion_details = _field(usage, "completion_tokens_details")
        prompt_details = _field(usage, "prompt_tokens_details")
    reasoning = _field(completion_details, "reasoning_tokens") if completion_details else None
    cached = _field(prompt_details, "cached_tokens") if prompt_details else None
    # tuple.__new__ skips the NamedTuple's Python-level __new__: this runs on every answer.
    return _new_tuple(TokenUsage, (prompt, completion, total or prompt + completion, reasoning,
                                   cached))


def reasoning_text(source: Any) -> str | None:
    """The reasoning of a message or delta (``reasoning_content``, else ``reasoning``, as
    servers name it), a dict or an object; None when there is none.

    Example:
        >>> reasoning_text({"reasoning": "Let me think."}), reasoning_text({"content": "x"})
        ('Let me think.', None)
    """
    if type(source) is dict:  # a streamed delta: the per-chunk path
        text = source.get("reasoning_content") or source.get("reasoning")
    else:  # ChatCompletionMessage declares reasoning_content; servers may add reasoning
        text = getattr(source, "reasoning_content", None) or _field(source, "reasoning")
    return text if text and isinstance(text, str) else None


# ---------------------------------------------------------------- today's content parts

#: The formats an ``input_audio`` part takes (the service's OpenAPI, 2026: wav and mp3).
INPUT_AUDIO_FORMATS = ("wav", "mp3")
#: Format names and MIME subtypes that mean one of them.
_AUDIO_FORMAT_NAMES = {
    "wav": "wav", "wave": "wav", "x-wav": "wav", "vnd.wave": "wav", "x-pn-wav": "wav",
    "mp3": "mp3", "mpeg": "mp3", "mpeg3": "mp3", "x-mp3": "mp3", "x-mpeg": "mp3",
    "mpga": "mp3",
}


def audio_format(kind: str | None) -> str:
    """A format name or MIME type (``"wav"``, ``"audio/mpeg"``...) -> ``"wav"`` or ``"mp3"``,
    the two an ``input_audio`` part takes; anything else is refused, saying what to send.

    Example:
        >>> audio_format("audio/x-wav"), audio_format("MP3"), audio_format("audio/mpeg")
        ('wav', 'mp3', 'mp3')
        >>> audio_format("audio/flac")
        Traceback (most recent call last):
        ...
        compactifai._errors.InvalidRequestError: input_audio takes wav or mp3 audio, not 'audio/flac': convert it, or transcribe it first (audio/transcriptions takes flac, m4a, ogg, webm...)
    """
    name = (kind or "").strip().lower()
    found = _AUDIO_FORMAT_NAMES.get(name.rsplit("/", 1)[-1].split(";", 1)[0].strip())
    if found is None:
        raise InvalidRequestError(
            f"input_audio takes wav or mp3 audio, not {kind!r}: convert it, or transcribe it "
            "first (audio/transcriptions takes flac, m4a, ogg, webm...)",
            param="messages",
        )
    return found


def input_audio_part(data: str, kind: str | None) -> dict[str, Any]:
    """Base64 audio as the API's ``input_audio`` content part (user messages only).

    Example:
        >>> input_audio_part("UklGRg==", "audio/wav")
        {'type': 'input_audio', 'input_audio': {'data': 'UklGRg==', 'format': 'wav'}}
    """
    if not data:
        raise InvalidRequestError("an audio part has no data: send its base64 bytes",
                                  param="messages")
    return {"type": "input_audio", "input_audio": {"data": data, "format": audio_format(kind)}}


def file_part(
    *,
    data: str | None = None,
    file_id: str | None = None,
    filename: str | None = None,
    mime_type: str | None = None,
) -> dict[str, Any]:
    """A document as the API's ``file`` content part: base64 ``data`` (sent as a ``data:``
    URL, OpenAI's convention) or the ``file_id`` of a file uploaded with ``POST /files``.
    A URL is not a file the API can read: download it, or upload it and send its id.

    Example:
        >>> file_part(data="JVBERi0=", mime_type="application/pdf", filename="a.pdf")
        {'type': 'file', 'file': {'file_data': 'data:application/pdf;base64,JVBERi0=', 'filename': 'a.pdf'}}
        >>> file_part(file_id="file-1")
        {'type': 'file', 'file': {'file_id': 'file-1'}}
    """
    file: dict[str, str] = {}
    if data:
        if not data.startswith("data:"):
            data = f"data:{mime_type or 'application/octet-stream'};base64,{data}"
        file["file_data"] = data
    elif file_id:
        file["file_id"] = file_id
    else:
        raise InvalidRequestError(
            "a file part needs base64 data or the id of an uploaded file (a URL is not "
            "enough: CompactifAI's chat API does not fetch files)",
            param="messages",
        )
    if filename:
        file["filename"] = filename
    return {"type": "file", "file": file}


def media_kinds(messages: Iterable[Mapping[str, Any]]) -> frozenset[str]:
    """Which media the wire messages carry: ``"image"``, ``"audio"``, ``"file"`` (for the
    capability check before sending, :func:`compactifai.check_capabilities`).

    Example:
        >>> sorted(media_kinds([{"role": "user", "content": [
        ...     {"type": "text", "text": "?"}, {"type": "input_audio", "input_audio": {}}]}]))
        ['audio']
    """
    found: set[str] = set()
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            for part in content:
                kind = _MEDIA_PARTS.get(str(part.get("type"))) if isinstance(part, Mapping) else None
                if kind:
                    found.add(kind)
    return frozenset(found)


_MEDIA_PARTS = {"image_url": "image", "input_audio": "audio", "file": "file"}


# ---------------------------------------------------------------- reasoning going back

#: The key reasoning travels under, in answers, stream deltas and assistant turns sent back.
REASONING_KEY = "reasoning_content"


def reasoning_from_parts(parts: Iterable[Any]) -> str | None:
    """The reasoning held in content blocks: LangChain's standard ``{"type": "reasoning",
    "reasoning": ...}`` and the ``{"type": "thinking", "thinking": ...}`` shape; None if none.

    Example:
        >>> reasoning_from_parts([{"type": "reasoning", "reasoning": "Add them."},
        ...                       {"type": "text", "text": "5"}])
        'Add them.'
    """
    texts = []
    for part in parts:
        if not isinstance(part, Mapping):
            continue
        kind = part.get("type")
        text = part.get(kind) if kind in ("reasoning", "thinking") else None
        if isinstance(text, str) and text:
            texts.append(text)
    return join_text(texts) or None


def with_reasoning(message: dict[str, Any], reasoning: str | None) -> dict[str, Any]:
    """An assistant wire message with its reasoning sent back where the model needs it.

    The rule: ``reasoning_content`` goes back on an assistant turn that calls tools, so a
    reasoning model (``hypernova-60b``, a gpt-oss) continues its tool loop from its own
    reasoning; a turn that answered in text goes back without it (reasoning models drop the
    reasoning of finished turns, and resending it only costs tokens).

    Example:
        >>> call = wire_tool_call("call_1", "add", "{}")
        >>> with_reasoning({"role": "assistant", "content": "", "tool_calls": [call]},
        ...                "I need add.")["reasoning_content"]
        'I need add.'
        >>> with_reasoning({"role": "assistant", "content": "5"}, "Easy.")
        {'role': 'assistant', 'content': '5'}
    """
    if reasoning and message.get("tool_calls"):
        message[REASONING_KEY] = reasoning
    return message
