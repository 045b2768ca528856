"""Conversions between LlamaIndex objects and CompactifAI wire dicts (no HTTP here).

Outgoing: :func:`to_wire_messages` turns ``ChatMessage`` objects into the OpenAI-shaped message
dicts the API takes; :func:`to_wire_tool` turns a LlamaIndex tool into a tool spec.
Incoming: :func:`chat_response_from_completion` converts a whole answer; :class:`ChatStreamState`
folds streamed chunk dicts into cumulative ``ChatResponse`` objects, one per chunk.

Example:
    >>> from llama_index.core.llms import ChatMessage
    >>> from llama_index_compactifai.utils import to_wire_messages
    >>> to_wire_messages([ChatMessage(role="user", content="Hi")])
    [{'role': 'user', 'content': 'Hi'}]
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import (
    CachePoint,
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    ImageBlock,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.llms.utils import parse_partial_json

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

__all__ = [
    "ChatStreamState",
    "CompletionStreamState",
    "chat_response_from_completion",
    "completion_response_from_completion",
    "has_images",
    "parse_arguments",
    "resolve_tool_choice",
    "to_wire_messages",
    "to_wire_tool",
    "tool_selections",
    "usage_from",
]

_ASSISTANT = MessageRole.ASSISTANT
_EMPTY: Mapping[str, Any] = {}

#: LlamaIndex roles -> the roles the API takes (system, user, assistant, tool).
_ROLES: dict[str, str] = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
    "chatbot": "assistant",
    "model": "assistant",
    "tool": "tool",
    "function": "tool",
}


def _invalid(message: str, param: str = "messages") -> Exception:
    from compactifai import InvalidRequestError

    return InvalidRequestError(message, param=param)


# ---------------------------------------------------------------- outgoing


def _image_part(block: ImageBlock) -> dict[str, Any]:
    """An ImageBlock as an ``image_url`` part: its URL, or its bytes as a ``data:`` URL."""
    if block.url is not None:
        url = str(block.url)
    else:
        data = block.resolve_image(as_base64=True).read().decode("ascii")
        mimetype = block.image_mimetype
        if not mimetype:
            import base64

            import filetype

            guess = filetype.guess(base64.b64decode(data[:64]))
            mimetype = guess.mime if guess else "image/png"
        url = f"data:{mimetype};base64,{data}"
    image_url: dict[str, Any] = {"url": url}
    if block.detail:
        image_url["detail"] = block.detail
    return {"type": "image_url", "image_url": image_url}


def _arguments_json(kwargs: Any) -> str:
    if isinstance(kwargs, str):
        return kwargs or "{}"
    return json.dumps(kwargs if kwargs is not None else {}, ensure_ascii=False)


def _legacy_tool_call(call: Any) -> dict[str, Any]:
    """A tool call kept in ``additional_kwargs`` (a dict, or an object such as OpenAI's)."""
    if not isinstance(call, Mapping):
        dump = getattr(call, "model_dump", None)
        call = dump() if dump is not None else vars(call)
    fn = call.get("function") or {}
    if not isinstance(fn, Mapping):
        fn = {"name": getattr(fn, "name", None), "arguments": getattr(fn, "arguments", None)}
    out: dict[str, Any] = {
        "type": "function",
        "function": {"name": fn.get("name") or "", "arguments": _arguments_json(fn.get("arguments"))},
    }
    if call.get("id"):
        out["id"] = call["id"]
    return out


def _to_wire_message(message: ChatMessage) -> dict[str, Any]:
    role = _ROLES.get(message.role.value)
    if role is None:
        raise _invalid(f"messages with role {message.role.value!r} cannot be sent to CompactifAI")
    texts: list[str] = []
    parts: list[dict[str, Any]] = []
    tool_calls: list[dict[str, Any]] = []
    has_image = False
    for block in message.blocks:
        if isinstance(block, TextBlock):
            texts.append(block.text)
            parts.append({"type": "text", "text": block.text})
        elif isinstance(block, ImageBlock):
            if role != "user":
                raise _invalid(f"images can only be sent in user messages, not {role!r} ones")
            has_image = True
            parts.append(_image_part(block))
        elif isinstance(block, ToolCallBlock):
            call: dict[str, Any] = {
                "type": "function",
                "function": {
                    "name": block.tool_name,
                    "arguments": _arguments_json(block.tool_kwargs),
                },
            }
            if block.tool_call_id:
                call["id"] = block.tool_call_id
            tool_calls.append(call)
        elif isinstance(block, (ThinkingBlock, CachePoint)):
            continue  # the API takes no reasoning or cache hints as input
        else:
            raise _invalid(
                f"{type(block).__name__} content is not supported by the CompactifAI chat API "
                "(it takes text, and images for models that support them)"
            )
    out: dict[str, Any] = {"role": role}
    if has_image:
        out["content"] = parts
    else:
        out["content"] = texts[0] if len(texts) == 1 else "\n".join(texts)
    if role == "assistant":
        if not tool_calls:
            legacy = message.additional_kwargs.get("tool_calls")
            if legacy:
                tool_calls = [_legacy_tool_call(c) for c in legacy]
        if tool_calls:
            out["tool_calls"] = tool_calls
    elif role == "tool":
        call_id = message.additional_kwargs.get("tool_call_id")
        if call_id is not None:
            out["tool_call_id"] = call_id
    return out


def to_wire_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """Convert LlamaIndex messages to the API's message dicts.

    Text-only content is sent as a string (``""`` next to tool calls, never null); a user
    message with images as a list of ``text`` and ``image_url`` parts; assistant tool calls in
    the OpenAI shape; tool results as role ``tool`` with their ``tool_call_id``.
    """
    return [_to_wire_message(m) for m in messages]


def has_images(messages: Sequence[ChatMessage]) -> bool:
    """Whether any message carries an image."""
    return any(isinstance(b, ImageBlock) for m in messages for b in m.blocks)


def to_wire_tool(tool: BaseTool, strict: bool | None = None) -> dict[str, Any]:
    """A LlamaIndex tool as an API tool spec; ``strict`` is added only when ``True``."""
    spec = tool.metadata.to_openai_tool(skip_length_check=True)
    if strict:
        fn = spec["function"]
        fn["strict"] = True
        fn["parameters"] = {**fn["parameters"], "additionalProperties": False}
    return spec


def resolve_tool_choice(
    tool_choice: str | Mapping[str, Any] | None, tool_required: bool
) -> str | dict[str, Any] | None:
    """``tool_choice`` as the API takes it: a mode, or the object naming one tool.

    A bare tool name (as ``FunctionAgent(initial_tool_choice=...)`` passes) becomes
    ``{"type": "function", "function": {"name": ...}}``; ``tool_required`` means
    ``"required"`` when nothing more specific was asked.
    """
    if tool_choice is None:
        return "required" if tool_required else None
    if isinstance(tool_choice, Mapping):
        return dict(tool_choice)
    if tool_choice in ("auto", "none", "required"):
        return tool_choice
    return {"type": "function", "function": {"name": tool_choice}}


# ---------------------------------------------------------------- incoming


def parse_arguments(arguments: str | None) -> dict[str, Any] | str:
    """Tool-call arguments as a dict, best effort on partial JSON; unusable text is kept as is.

    ``""`` and ``None`` (tools without arguments) give ``{}``.
    """
    if not arguments:
        return {}
    try:
        value = json.loads(arguments)
    except ValueError:
        try:
            value = parse_partial_json(arguments)
        except (ValueError, TypeError):
            return arguments
    if isinstance(value, dict):
        return value
    return {} if value is None else arguments


def usage_from(usage: Any) -> dict[str, int]:
    """``prompt_tokens``/``completion_tokens``/``total_tokens`` from a usage object or dict."""
    if usage is None:
        return {}
    if not isinstance(usage, Mapping):
        usage = {
            "prompt_tokens": getattr(usage, "prompt_tokens", 0),
            "completion_tokens": getattr(usage, "completion_tokens", 0),
            "total_tokens": getattr(usage, "total_tokens", 0),
        }
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": int(usage.get("total_tokens") or prompt + completion),
    }


def _reasoning(message: Any) -> str | None:
    text = getattr(message, "reasoning_content", None) or getattr(message, "reasoning", None)
    return text if isinstance(text, str) and text else None


def chat_response_from_completion(completion: Any) -> ChatResponse:
    """A ``ChatResponse`` from a ``compactifai.types.ChatCompletion`` (kept as ``raw``)."""
    blocks: list[Any] = []
    additional: dict[str, Any] = {}
    if completion.choices:
        message = completion.choices[0].message
        reasoning = _reasoning(message)
        if reasoning:
            blocks.append(ThinkingBlock(content=reasoning))
        blocks.append(TextBlock(text=message.content or ""))
        if message.tool_calls:
            wire_calls = []
            for call in message.tool_calls:
                fn = call.function
                arguments = fn.arguments or ""
                blocks.append(
                    ToolCallBlock(
                        tool_call_id=call.id,
                        tool_name=fn.name or "",
                        tool_kwargs=parse_arguments(arguments),
                    )
                )
                wire_calls.append(
                    {
                        "id": call.id,
                        "type": call.type or "function",
                        "function": {"name": fn.name or "", "arguments": arguments},
                    }
                )
            additional["tool_calls"] = wire_calls
    else:
        blocks.append(TextBlock(text=""))
    return ChatResponse(
        message=ChatMessage(role=_ASSISTANT, blocks=blocks, additional_kwargs=additional),
        raw=completion,
        additional_kwargs=usage_from(completion.usage),
    )


def completion_response_from_completion(completion: Any) -> CompletionResponse:
    """A ``CompletionResponse`` from a ``compactifai.types.Completion`` (kept as ``raw``)."""
    text = completion.choices[0].text if completion.choices else ""
    return CompletionResponse(
        text=text or "", raw=completion, additional_kwargs=usage_from(completion.usage)
    )


def completion_response_from_chat(response: ChatResponse) -> CompletionResponse:
    """The text of a chat answer as a ``CompletionResponse`` (usage and raw kept)."""
    return CompletionResponse(
        text=response.message.content or "",
        raw=response.raw,
        additional_kwargs=response.additional_kwargs,
    )


class _StreamedCall:
    """One tool call being assembled from stream deltas."""

    __slots__ = ("arguments", "block", "id", "name", "wire")

    def __init__(self) -> None:
        self.id: str | None = None
        self.name = ""
        self.arguments: list[str] = []
        self.block: ToolCallBlock | None = None
        self.wire: dict[str, Any] | None = None

    def merge(self, delta: Mapping[str, Any]) -> None:
        call_id = delta.get("id")
        if call_id and not self.id:
            self.id = call_id
        fn = delta.get("function") or _EMPTY
        name = fn.get("name")
        if name and name != self.name:
            # Servers send the name once (OpenAI), repeat it whole in every chunk (llama.cpp),
            # or could split it: keep it once whatever the style.
            self.name = name if not self.name or name.startswith(self.name) else self.name + name
        piece = fn.get("arguments")
        if piece:
            self.arguments.append(piece)
        self.block = None

    def materialize(self) -> tuple[ToolCallBlock, dict[str, Any]]:
        if self.block is None or self.wire is None:
            arguments = "".join(self.arguments)
            self.block = ToolCallBlock(
                tool_call_id=self.id, tool_name=self.name, tool_kwargs=parse_arguments(arguments)
            )
            self.wire = {
                "id": self.id,
                "type": "function",
                "function": {"name": self.name, "arguments": arguments},
            }
        return self.block, self.wire


class ChatStreamState:
    """Folds streamed chat chunk dicts into cumulative ``ChatResponse`` objects.

    Each response carries the whole message so far (text, a ``ThinkingBlock`` for reasoning,
    a ``ToolCallBlock`` per tool call with its arguments parsed as far as they go), the new
    text as ``delta``, the chunk as ``raw``, and token usage in ``additional_kwargs`` on the
    chunk that reports it. Tool calls are keyed by ``index`` (by id when a server sends none).
    """

    __slots__ = ("calls", "reasoning", "text")

    def __init__(self) -> None:
        self.text = ""
        self.reasoning = ""
        self.calls: dict[int, _StreamedCall] = {}

    def _merge_tool_calls(self, deltas: Sequence[Mapping[str, Any]]) -> None:
        calls = self.calls
        for delta in deltas:
            index = delta.get("index")
            if index is None:
                call_id = delta.get("id")
                last = max(calls) if calls else None
                if last is None or (call_id and calls[last].id and calls[last].id != call_id):
                    index = 0 if last is None else last + 1
                else:
                    index = last
            call = calls.get(index)
            if call is None:
                call = calls[index] = _StreamedCall()
            call.merge(delta)

    def feed(self, chunk: Mapping[str, Any]) -> ChatResponse:
        """The cumulative response after one chunk."""
        choices = chunk.get("choices")
        piece = ""
        thinking = None
        if choices:
            delta = choices[0].get("delta") or _EMPTY
            piece = delta.get("content") or ""
            if piece:
                self.text += piece
            thinking = delta.get("reasoning_content") or delta.get("reasoning")
            if thinking:
                self.reasoning += thinking
            tool_deltas = delta.get("tool_calls")
            if tool_deltas:
                self._merge_tool_calls(tool_deltas)
        blocks: list[Any] = [TextBlock(text=self.text)]
        if self.reasoning:
            blocks.insert(0, ThinkingBlock(content=self.reasoning))
        message_kwargs: dict[str, Any] = {}
        if self.calls:
            wire = []
            for index in sorted(self.calls):
                block, call = self.calls[index].materialize()
                blocks.append(block)
                wire.append(call)
            message_kwargs["tool_calls"] = wire
        usage = chunk.get("usage")
        response_kwargs = usage_from(usage) if usage else {}
        if thinking:
            response_kwargs["thinking_delta"] = thinking
        return ChatResponse(
            message=ChatMessage(role=_ASSISTANT, blocks=blocks, additional_kwargs=message_kwargs),
            delta=piece,
            raw=chunk,
            additional_kwargs=response_kwargs,
        )


class CompletionStreamState:
    """Folds streamed chunks (``/completions`` or chat) into cumulative ``CompletionResponse``."""

    __slots__ = ("chat", "text")

    def __init__(self, chat: bool) -> None:
        self.text = ""
        self.chat = chat

    def feed(self, chunk: Mapping[str, Any]) -> CompletionResponse:
        """The cumulative response after one chunk."""
        choices = chunk.get("choices")
        piece = ""
        if choices:
            choice = choices[0]
            piece = ((choice.get("delta") or _EMPTY).get("content") if self.chat
                     else choice.get("text")) or ""
            if piece:
                self.text += piece
        usage = chunk.get("usage")
        return CompletionResponse(
            text=self.text,
            delta=piece,
            raw=chunk,
            additional_kwargs=usage_from(usage) if usage else {},
        )


# ---------------------------------------------------------------- tool selection


def tool_selections(
    response: ChatResponse, error_on_no_tool_call: bool = True
) -> list[ToolSelection]:
    """The tool calls of a response, from its ``ToolCallBlock`` blocks or, for messages
    built elsewhere, from ``additional_kwargs["tool_calls"]``."""
    selections: list[ToolSelection] = []
    blocks = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
    if blocks:
        for block in blocks:
            kwargs = block.tool_kwargs
            if isinstance(kwargs, str):
                kwargs = parse_arguments(kwargs)
            selections.append(
                ToolSelection(
                    tool_id=block.tool_call_id or "",
                    tool_name=block.tool_name,
                    tool_kwargs=kwargs if isinstance(kwargs, dict) else {},
                )
            )
    else:
        for call in response.message.additional_kwargs.get("tool_calls") or []:
            wire = _legacy_tool_call(call)
            kwargs = parse_arguments(wire["function"]["arguments"])
            selections.append(
                ToolSelection(
                    tool_id=wire.get("id") or "",
                    tool_name=wire["function"]["name"],
                    tool_kwargs=kwargs if isinstance(kwargs, dict) else {},
                )
            )
    if not selections and error_on_no_tool_call:
        raise ValueError("Expected at least one tool call, but got 0 tool calls.")
    return selections
