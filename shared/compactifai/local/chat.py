"""Chat requests on SmolLM2: message checks, the ChatML prompt, tool choice and tool calls.

The prompt is SmolLM2's own ChatML template (``<|im_start|>role ... <|im_end|>``, with its
default system line), extended for tools the Hermes way, which SmolLM2's instruction data uses:
the system turn lists the tools inside ``<tools></tools>``; an assistant turn that calls a tool
reads ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``; tool results go back in a
user turn inside ``<tool_response></tool_response>`` (consecutive results share one turn).

How each ``tool_choice`` is honoured (a 135M model cannot be trusted to decide or to write JSON):

- ``"none"`` or no tools: plain text; the tools are left out of the prompt.
- ``{"type": "function", "function": {"name": ...}}``: the prompt is pre-filled with
  ``<tool_call>{"name": "<name>", "arguments": `` and the arguments are generated under a
  grammar built from the function's JSON schema, so they are always valid JSON.
- ``"required"``: always a call. The tool is the one the last user message names or matches
  best (see :func:`rank_tools`); when no tool stands out the model picks among the tied tools
  under a grammar that allows only their names. Arguments as for a named function.
- ``"auto"``: a call when the last user message names a tool or clearly matches one
  (:func:`rank_tools` score >= :data:`AUTO_CALL_SCORE`) and the conversation does not already
  end with a tool result; otherwise plain text. This deterministic relevance test stands in
  for the model's own decision, which SmolLM2-135M makes no better than chance.

One call per answer (no parallel calls). Nothing here imports llama.cpp.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .engines.llama import GenerationResult, Grammar, LlamaEngine, Prompt, Sampling
from .errors import ApiError, bad_request

__all__ = [
    "AUTO_CALL_SCORE",
    "ChatMessage",
    "ChatOutcome",
    "ChatPlan",
    "normalize_messages",
    "parse_tools",
    "plan_chat",
    "rank_tools",
    "render_prompt",
    "run_chat",
]

DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
#: ``auto`` calls a tool at this relevance score or above (a name word, or the exact name).
AUTO_CALL_SCORE = 3

_IMAGE_PARTS = frozenset({"image_url", "input_image", "image"})
_AUDIO_PARTS = frozenset({"input_audio", "audio", "audio_url"})
_ROLE_ALIASES = {"developer": "system", "function": "tool"}


@dataclass
class ChatMessage:
    """One message, normalized: text content, tool calls, tool result id."""

    role: str
    content: str
    tool_calls: list[dict[str, str]] = field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None


# ---------------------------------------------------------------- messages


def _content_text(content: Any, where: str, model_id: str) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise bad_request(f"{where}.content must be a string, null or a list of parts", param=where)
    texts: list[str] = []
    for j, part in enumerate(content):
        pwhere = f"{where}.content[{j}]"
        if isinstance(part, str):
            texts.append(part)
            continue
        if not isinstance(part, dict):
            raise bad_request(f"{pwhere} must be an object with a 'type'", param=pwhere)
        kind = part.get("type")
        if kind in ("text", "input_text"):
            text = part.get("text")
            if not isinstance(text, str):
                raise bad_request(f"{pwhere}.text must be a string", param=pwhere)
            texts.append(text)
        elif kind in _IMAGE_PARTS:
            raise bad_request(
                f"model '{model_id}' does not take images: it reads text only "
                f"({pwhere} is an image part)",
                param=pwhere,
                code="image_not_supported",
            )
        elif kind in _AUDIO_PARTS:
            raise bad_request(
                f"model '{model_id}' does not take audio in chat: it reads text only "
                f"({pwhere} is an audio part)",
                param=pwhere,
                code="audio_not_supported",
            )
        else:
            raise bad_request(f"{pwhere} has an unknown part type {kind!r}", param=pwhere)
    return "\n".join(texts)


def _arguments_text(args: Any) -> str:
    if args is None:
        return "{}"
    if isinstance(args, str):
        return args
    return json.dumps(args, ensure_ascii=False)


def normalize_messages(raw: Sequence[Any], model_id: str) -> list[ChatMessage]:
    """Check the request's messages and bring them to one shape (raises 400 on bad input)."""
    out: list[ChatMessage] = []
    for i, msg in enumerate(raw):
        where = f"messages[{i}]"
        if not isinstance(msg, dict):
            raise bad_request(f"{where} must be an object", param=where)
        role = msg.get("role")
        if not isinstance(role, str):
            raise bad_request(f"{where}.role is required", param=f"{where}.role")
        role = _ROLE_ALIASES.get(role, role)
        if role not in ("system", "user", "assistant", "tool"):
            raise bad_request(
                f"{where}.role must be one of system, user, assistant, tool (got {role!r})",
                param=f"{where}.role",
            )
        text = _content_text(msg.get("content"), where, model_id)
        calls: list[dict[str, str]] = []
        if role == "assistant":
            raw_calls = msg.get("tool_calls") or []
            if not isinstance(raw_calls, list):
                raise bad_request(f"{where}.tool_calls must be a list", param=f"{where}.tool_calls")
            legacy = msg.get("function_call")
            if isinstance(legacy, dict):
                raw_calls = [*raw_calls, {"id": None, "function": legacy}]
            for k, call in enumerate(raw_calls):
                fn = call.get("function") if isinstance(call, dict) else None
                if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                    raise bad_request(
                        f"{where}.tool_calls[{k}].function.name is required",
                        param=f"{where}.tool_calls[{k}]",
                    )
                calls.append(
                    {
                        "id": str(call.get("id") or ""),
                        "name": fn["name"],
                        "arguments": _arguments_text(fn.get("arguments")),
                    }
                )
        tool_call_id = msg.get("tool_call_id")
        name = msg.get("name")
        out.append(
            ChatMessage(
                role=role,
                content=text,
                tool_calls=calls,
                tool_call_id=tool_call_id if isinstance(tool_call_id, str) else None,
                name=name if isinstance(name, str) else None,
            )
        )
    return out


def parse_tools(tools: Sequence[Any] | None) -> dict[str, dict[str, Any]]:
    """The request's function tools by name (raises 400 on a malformed tool)."""
    out: dict[str, dict[str, Any]] = {}
    for i, tool in enumerate(tools or []):
        where = f"tools[{i}]"
        if not isinstance(tool, dict) or tool.get("type", "function") != "function":
            raise bad_request(f"{where} must be a function tool", param=where)
        fn = tool.get("function")
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            raise bad_request(f"{where}.function.name is required", param=f"{where}.function")
        params = fn.get("parameters")
        if params is not None and not isinstance(params, dict):
            raise bad_request(
                f"{where}.function.parameters must be a JSON schema object",
                param=f"{where}.function.parameters",
            )
        out[fn["name"]] = fn
    return out


# ---------------------------------------------------------------- prompt


_TOOLS_INTRO = (
    "You may call functions to help with the user's request. "
    "The functions are described inside <tools></tools>:\n<tools>\n"
)
_TOOLS_OUTRO = (
    "\n</tools>\nTo call a function, reply with a JSON object inside <tool_call></tool_call> "
    'tags:\n<tool_call>\n{"name": <function-name>, "arguments": <arguments-json-object>}\n'
    "</tool_call>"
)


def _tools_block(tools: dict[str, dict[str, Any]]) -> str:
    lines = []
    for fn in tools.values():
        desc = {"name": fn["name"]}
        if fn.get("description"):
            desc["description"] = fn["description"]
        desc["parameters"] = fn.get("parameters") or {"type": "object", "properties": {}}
        lines.append(json.dumps(desc, ensure_ascii=False))
    return _TOOLS_INTRO + "\n".join(lines) + _TOOLS_OUTRO


def _call_text(name: str, arguments: str) -> str:
    try:
        args: Any = json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        args = arguments
    body = json.dumps({"name": name, "arguments": args}, ensure_ascii=False)
    return f"<tool_call>\n{body}\n</tool_call>"


def render_prompt(
    messages: Sequence[ChatMessage], tools: dict[str, dict[str, Any]] | None = None
) -> list[tuple[str, bool]]:
    """The ChatML prompt, ending with the opened assistant turn."""
    parts: list[tuple[str, bool]] = []

    def turn(role: str, text: str) -> None:
        parts.append(("<|im_start|>", True))
        parts.append((f"{role}\n{text}", False))
        parts.append(("<|im_end|>\n", True))

    msgs = list(messages)
    tools_text = _tools_block(tools) if tools else ""
    if msgs and msgs[0].role == "system":
        first = msgs.pop(0).content
        turn("system", f"{first}\n\n{tools_text}" if tools_text and first else first or tools_text)
    else:
        turn("system", f"{DEFAULT_SYSTEM}\n\n{tools_text}" if tools_text else DEFAULT_SYSTEM)

    pending_results: list[str] = []
    for msg in msgs:
        if msg.role == "tool":
            pending_results.append(f"<tool_response>\n{msg.content}\n</tool_response>")
            continue
        if pending_results:
            turn("user", "\n".join(pending_results))
            pending_results = []
        if msg.role == "assistant" and msg.tool_calls:
            calls = "\n".join(_call_text(c["name"], c["arguments"]) for c in msg.tool_calls)
            turn("assistant", f"{msg.content}\n{calls}" if msg.content else calls)
        else:
            turn(msg.role, msg.content)
    if pending_results:
        turn("user", "\n".join(pending_results))
    parts.append(("<|im_start|>", True))
    parts.append(("assistant\n", False))
    return parts


# ---------------------------------------------------------------- tool choice

_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "get",
        "got",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "please",
        "set",
        "should",
        "so",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "this",
        "those",
        "to",
        "tool",
        "tools",
        "use",
        "using",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "function",
        "functions",
        "call",
        "fetch",
        "retrieve",
        "return",
        "returns",
        "current",
        "given",
        "value",
        "data",
        "info",
        "information",
        "tell",
        "show",
        "give",
        "find",
        "some",
        "any",
        "about",
        "also",
        "just",
        "like",
        "need",
        "want",
        "know",
        "let",
    ]
)


def _words(text: str) -> set[str]:
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    out: set[str] = set()
    for word in re.split(r"[^0-9A-Za-z]+", text.lower()):
        if len(word) < 3 or word in _STOPWORDS:
            continue
        if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        out.add(word)
    return out


def _param_text(params: Any) -> str:
    if not isinstance(params, dict):
        return ""
    props = params.get("properties")
    if not isinstance(props, dict):
        return ""
    bits = []
    for key, spec in props.items():
        bits.append(str(key))
        if isinstance(spec, dict) and isinstance(spec.get("description"), str):
            bits.append(spec["description"])
    return " ".join(bits)


def rank_tools(query: str, tools: dict[str, dict[str, Any]]) -> list[tuple[int, str]]:
    """Score each tool's relevance to ``query``, best first (ties keep the request's order).

    The exact tool name in the query scores 10; each shared word scores 3 when it is part of
    the tool's name, 1 when it is in the description or the parameters.
    """
    qwords = _words(query)
    lowered = query.lower()
    scored: list[tuple[int, int, str]] = []
    for order, (name, fn) in enumerate(tools.items()):
        score = 10 if name.lower() in lowered else 0
        name_words = _words(name.replace("_", " ").replace("-", " "))
        other = _words(f"{fn.get('description') or ''} {_param_text(fn.get('parameters'))}")
        score += 3 * len(qwords & name_words) + len(qwords & (other - name_words))
        scored.append((-score, order, name))
    scored.sort()
    return [(-neg, name) for neg, _, name in scored]


@dataclass
class ChatPlan:
    """What to generate: plain text, or a call to one of ``candidates``."""

    messages: list[ChatMessage]
    sampling: Sampling
    tools: dict[str, dict[str, Any]]
    candidates: tuple[str, ...] = ()
    response_grammar: Grammar | None = None

    @property
    def calls_tool(self) -> bool:
        """Whether the answer is a tool call."""
        return bool(self.candidates)


def _last_user_text(messages: Sequence[ChatMessage]) -> str:
    for msg in reversed(messages):
        if msg.role == "user":
            return msg.content
    return ""


def _ends_with_tool_result(messages: Sequence[ChatMessage]) -> bool:
    for msg in reversed(messages):
        if msg.role == "system":
            continue
        return msg.role == "tool"
    return False


def _response_grammar(response_format: dict[str, Any] | None) -> Grammar | None:
    if not response_format:
        return None
    kind = response_format.get("type")
    if kind in (None, "text"):
        return None
    if kind == "json_object":
        return Grammar("json")
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if not isinstance(schema, dict):
            raise bad_request(
                "response_format.json_schema.schema must be a JSON schema object",
                param="response_format.json_schema",
            )
        return Grammar("schema", schema=schema)
    raise bad_request(
        f"response_format.type must be text, json_object or json_schema (got {kind!r})",
        param="response_format.type",
    )


def plan_chat(
    messages: list[ChatMessage],
    tools: dict[str, dict[str, Any]],
    tool_choice: str | dict[str, Any] | None,
    sampling: Sampling,
    response_format: dict[str, Any] | None,
) -> ChatPlan:
    """Decide between text and a tool call, following ``tool_choice`` (see the module doc)."""
    grammar = _response_grammar(response_format)
    if isinstance(tool_choice, dict):
        fn = tool_choice.get("function")
        name = fn.get("name") if isinstance(fn, dict) else None
        if tool_choice.get("type", "function") != "function" or not isinstance(name, str):
            raise bad_request(
                'tool_choice must be "auto", "none", "required" or '
                '{"type": "function", "function": {"name": ...}}',
                param="tool_choice",
            )
        if name not in tools:
            raise bad_request(
                f"tool_choice names function {name!r}, which is not in tools", param="tool_choice"
            )
        return ChatPlan(messages, sampling, tools, (name,))
    choice = tool_choice if tool_choice is not None else "auto"
    if choice not in ("auto", "none", "required"):
        raise bad_request(
            f'tool_choice must be "auto", "none", "required" or a function (got {choice!r})',
            param="tool_choice",
        )
    if choice == "required" and not tools:
        raise bad_request('tool_choice "required" needs at least one tool', param="tool_choice")
    if not tools or choice == "none":
        return ChatPlan(messages, sampling, {}, (), grammar)
    ranked = rank_tools(_last_user_text(messages), tools)
    best = ranked[0][0]
    if choice == "required":
        tied = tuple(name for score, name in ranked if score == best)
        return ChatPlan(messages, sampling, tools, tied)
    if best >= AUTO_CALL_SCORE and not _ends_with_tool_result(messages):
        tied = tuple(name for score, name in ranked if score == best)
        return ChatPlan(messages, sampling, tools, tied)
    return ChatPlan(messages, sampling, {}, (), grammar)


# ---------------------------------------------------------------- running


@dataclass
class ChatOutcome:
    """The assistant's answer: text, or one tool call, with token counts."""

    content: str | None
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    tool_call: dict[str, str] | None = None
    argument_pieces: list[str] = field(default_factory=list)


def new_call_id() -> str:
    """A tool call id like ``call_9f0c...``."""
    return "call_" + uuid.uuid4().hex[:24]


def run_chat(
    engine: LlamaEngine,
    plan: ChatPlan,
    *,
    on_piece: Callable[[str], None] | None = None,
    on_ready: Callable[[int], None] | None = None,
    cancel: threading.Event | None = None,
) -> ChatOutcome:
    """Generate the answer (on the engine thread). ``on_ready`` gets the prompt's length."""
    prompt = render_prompt(plan.messages, plan.tools or None)
    n_prompt = engine.check_prompt(prompt)
    if on_ready is not None:
        on_ready(n_prompt)
    if not plan.calls_tool:
        res = engine.generate(
            prompt, plan.sampling, grammar=plan.response_grammar, on_piece=on_piece, cancel=cancel
        )
        return ChatOutcome(res.text, _finish(res), res.prompt_tokens, res.completion_tokens)

    generated = 0
    head: Prompt = [*prompt, ('<tool_call>\n{"name": ', False)]
    if len(plan.candidates) == 1:
        name = plan.candidates[0]
    else:
        options = tuple(json.dumps(n, ensure_ascii=False) for n in plan.candidates)
        pick = engine.generate(
            head,
            Sampling(temperature=0.0, max_tokens=64, seed=plan.sampling.seed),
            grammar=Grammar("choice", options=options),
            cancel=cancel,
        )
        generated += pick.completion_tokens
        name = _picked_name(pick, plan.candidates)
    fn = plan.tools[name]
    schema = fn.get("parameters") or {"type": "object", "properties": {}}
    head = [*head, (json.dumps(name, ensure_ascii=False) + ', "arguments": ', False)]
    args = engine.generate(
        head, plan.sampling, grammar=Grammar("arguments", schema=schema), cancel=cancel
    )
    generated += args.completion_tokens
    arguments = args.text.rstrip()
    pieces = _trim_pieces(args.pieces, len(arguments))
    finish = "tool_calls" if args.finish_reason == "stop" else _finish(args)
    return ChatOutcome(
        None,
        finish,
        n_prompt,
        generated,
        tool_call={"id": new_call_id(), "name": name, "arguments": arguments},
        argument_pieces=pieces,
    )


def _trim_pieces(pieces: Sequence[str], length: int) -> list[str]:
    """The first ``length`` characters of the concatenated pieces, still in pieces."""
    out: list[str] = []
    left = length
    for piece in pieces:
        if left <= 0:
            break
        out.append(piece[:left])
        left -= len(out[-1])
    return [p for p in out if p]


def _picked_name(pick: GenerationResult, candidates: Sequence[str]) -> str:
    try:
        name = json.loads(pick.text)
    except ValueError:
        name = None
    return name if isinstance(name, str) and name in candidates else candidates[0]


def _finish(res: GenerationResult) -> str:
    return "length" if res.finish_reason == "length" else "stop"


def request_error(message: str) -> ApiError:
    """A 400 for a request the engine refused (for example a prompt longer than the context)."""
    return bad_request(message, code="context_length_exceeded", param="messages")
