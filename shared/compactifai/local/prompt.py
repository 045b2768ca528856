"""Chat messages and the ChatML prompt SmolLM2 reads.

The prompt is SmolLM2's own ChatML template (``<|im_start|>role ... <|im_end|>``, with its
default system line), extended for tools the Hermes way, which SmolLM2's instruction data uses:
the system turn lists the tools inside ``<tools></tools>``; an assistant turn that calls a tool
reads ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``; tool results go back in a
user turn inside ``<tool_response></tool_response>`` (consecutive results share one turn).

Example:
    >>> msgs = normalize_messages([{"role": "user", "content": "Hi"}], "smollm2-135m-instruct")
    >>> render_prompt(msgs)[-2:]
    [('<|im_start|>', True), ('assistant\\n', False)]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import bad_request

__all__ = [
    "DEFAULT_SYSTEM",
    "TOOL_CALL_OPEN",
    "ChatMessage",
    "normalize_messages",
    "parse_tools",
    "render_prompt",
]

DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
#: How an assistant turn that calls a tool begins.
TOOL_CALL_OPEN = "<tool_call>"

_IMAGE_PARTS = frozenset({"image_url", "input_image", "image"})
_AUDIO_PARTS = frozenset({"input_audio", "audio", "audio_url"})
_FILE_PARTS = frozenset({"file", "input_file"})
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
        elif kind in _FILE_PARTS:
            raise bad_request(
                f"model '{model_id}' does not take files: it reads text only "
                f"({pwhere} is a file part)",
                param=pwhere,
                code="file_not_supported",
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
