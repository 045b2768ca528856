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
import uuid
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
    "InvalidToolArgumentsError",
    "chat_response_from_completion",
    "completion_response_from_completion",
    "final_arguments",
    "has_images",
    "new_call_id",
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


def final_arguments(arguments: str | None) -> dict[str, Any] | str:
    """The arguments of a complete tool call: a dict, or the text itself when it is not a
    JSON object (no partial-JSON repair: the answer is over, nothing more will come).

    ``""``, ``None`` and ``null`` (tools without arguments) give ``{}``.

    Example:
        >>> final_arguments('{"city": "Paris"}'), final_arguments('{"city": "Pa')
        ({'city': 'Paris'}, '{"city": "Pa')
    """
    if not arguments:
        return {}
    try:
        value = json.loads(arguments)
    except ValueError:
        return arguments
    if isinstance(value, dict):
        return value
    return {} if value is None else arguments


class InvalidToolArgumentsError(ValueError):
    """A tool call whose arguments are not a JSON object: the tool must not be called.

    Raised by :func:`tool_selections` (``CompactifAI.get_tool_calls_from_response``); the
    raw text stays on the message (``ToolCallBlock.tool_kwargs`` is the string).

    Example:
        >>> err = InvalidToolArgumentsError("get_weather", "call_1", '{"city": ')
        >>> print(err)
        tool call 'get_weather' (call_1) has arguments that are not a JSON object: '{"city": '
    """

    def __init__(self, tool_name: str, tool_id: str, arguments: str) -> None:
        super().__init__(
            f"tool call {tool_name!r} ({tool_id}) has arguments that are not a JSON object: "
            f"{arguments!r}"
        )
        self.tool_name = tool_name
        self.tool_id = tool_id
        self.arguments = arguments


def new_call_id() -> str:
    """An id for a tool call the server sent without one (as LangChain's side makes them).

    Example:
        >>> new_call_id().startswith("call_"), len(new_call_id())
        (True, 29)
    """
    return f"call_{uuid.uuid4().hex[:24]}"


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
                call_id = call.id or new_call_id()
                blocks.append(
                    ToolCallBlock(
                        tool_call_id=call_id,
                        tool_name=fn.name or "",
                        tool_kwargs=final_arguments(arguments),
                    )
                )
                wire_calls.append(
                    {
                        "id": call_id,
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
    """One tool call being assembled from stream deltas.

    Argument pieces are usually incremental (each adds to the text so far), but some servers
    send them cumulative (each repeats the text so far: ``'{"t'``, ``'{"t": 2'``,
    ``'{"t": 2}'``). A piece that starts with the text so far and is at least as long
    replaces it; should the plain concatenation of the pieces be a complete JSON object
    instead, it wins (an incremental piece that happened to look cumulative).
    """

    __slots__ = ("block", "final", "generated_id", "id", "joined", "name", "text", "wire")

    def __init__(self) -> None:
        self.id: str | None = None
        self.generated_id: str | None = None
        self.name = ""
        self.text = ""  # incremental and cumulative pieces, told apart
        self.joined = ""  # every piece concatenated
        self.block: ToolCallBlock | None = None
        self.wire: dict[str, Any] | None = None
        self.final = False

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
            if not isinstance(piece, str):
                piece = json.dumps(piece, ensure_ascii=False)
            self.joined += piece
            text = self.text
            if text and len(piece) >= len(text) and piece.startswith(text):
                self.text = piece  # cumulative: the whole text so far
            else:
                self.text = text + piece
        self.block = None

    @property
    def call_id(self) -> str:
        """The server's id, else one made here once (the same in every response)."""
        if self.id:
            return self.id
        if self.generated_id is None:
            self.generated_id = new_call_id()
        return self.generated_id

    @property
    def arguments(self) -> str:
        text, joined = self.text, self.joined
        if text != joined and isinstance(final_arguments(joined), dict):
            return joined
        return text

    def materialize(self, final: bool) -> tuple[ToolCallBlock, dict[str, Any]]:
        if self.block is None or self.wire is None or self.final != final:
            arguments = self.arguments
            kwargs: dict[str, Any] | str
            if final:
                kwargs = final_arguments(arguments)
            else:  # still arriving: parsed as far as it goes
                partial = parse_arguments(arguments)
                kwargs = partial if isinstance(partial, dict) else {}
            call_id = self.call_id
            self.block = ToolCallBlock(
                tool_call_id=call_id, tool_name=self.name, tool_kwargs=kwargs
            )
            self.wire = {
                "id": call_id,
                "type": "function",
                "function": {"name": self.name, "arguments": arguments},
            }
            self.final = final
        return self.block, self.wire


class ChatStreamState:
    """Folds streamed chat chunk dicts into cumulative ``ChatResponse`` objects.

    Each response carries the whole message so far (text, a ``ThinkingBlock`` for reasoning,
    a ``ToolCallBlock`` per tool call), the new text as ``delta``, the chunk as ``raw``, and
    token usage in ``additional_kwargs`` on the chunk that reports it. Tool calls are keyed
    by ``index`` (by id when a server sends none); a call without an id gets one
    (``call_...``, the same in every response). Their arguments are parsed as far as they go
    while they arrive; once the answer is finished (a ``finish_reason``, or :meth:`finish`)
    they must be a JSON object, else ``tool_kwargs`` is the raw text and
    :func:`tool_selections` raises :class:`InvalidToolArgumentsError`.

    Example:
        >>> state = ChatStreamState()
        >>> for args in ['{"temp', '{"temp": ', '{"temp": 22}']:  # cumulative pieces
        ...     r = state.feed({"choices": [{"delta": {"tool_calls": [
        ...         {"index": 0, "function": {"name": "set", "arguments": args}}]}}]})
        >>> r = state.feed({"choices": [{"delta": {}, "finish_reason": "tool_calls"}]})
        >>> [(s.tool_name, s.tool_kwargs) for s in tool_selections(r)]
        [('set', {'temp': 22})]
    """

    __slots__ = ("calls", "done", "reasoning", "text")

    def __init__(self) -> None:
        self.text = ""
        self.reasoning = ""
        self.calls: dict[int, _StreamedCall] = {}
        self.done = False

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
            choice = choices[0]
            delta = choice.get("delta") or _EMPTY
            piece = delta.get("content") or ""
            if piece:
                self.text += piece
            thinking = delta.get("reasoning_content") or delta.get("reasoning")
            if thinking:
                self.reasoning += thinking
            tool_deltas = delta.get("tool_calls")
            if tool_deltas:
                self._merge_tool_calls(tool_deltas)
            if choice.get("finish_reason"):
                self.done = True
        usage = chunk.get("usage")
        response_kwargs = usage_from(usage) if usage else {}
        if thinking:
            response_kwargs["thinking_delta"] = thinking
        return self._response(piece, chunk, response_kwargs)

    def finish(self) -> ChatResponse | None:
        """After the last chunk: a closing response (``delta=""``) when the stream ended
        without a ``finish_reason`` and a tool call's arguments read differently once
        complete (invalid JSON); else None (the last response was already final)."""
        if self.done:
            return None
        before = [call.materialize(False)[0].tool_kwargs for _, call in self._calls()]
        self.done = True
        after = [call.materialize(True)[0].tool_kwargs for _, call in self._calls()]
        return None if after == before else self._response("", None, {})

    def _calls(self) -> list[tuple[int, _StreamedCall]]:
        return sorted(self.calls.items())

    def _response(
        self, piece: str, raw: Any, response_kwargs: dict[str, Any]
    ) -> ChatResponse:
        blocks: list[Any] = [TextBlock(text=self.text)]
        if self.reasoning:
            blocks.insert(0, ThinkingBlock(content=self.reasoning))
        message_kwargs: dict[str, Any] = {}
        if self.calls:
            wire = []
            for _, call in self._calls():
                block, spec = call.materialize(self.done)
                blocks.append(block)
                wire.append(spec)
            message_kwargs["tool_calls"] = wire
        return ChatResponse(
            message=ChatMessage(role=_ASSISTANT, blocks=blocks, additional_kwargs=message_kwargs),
            delta=piece,
            raw=raw,
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


def _selection(tool_id: str, tool_name: str, kwargs: Any) -> ToolSelection:
    if isinstance(kwargs, str):
        kwargs = final_arguments(kwargs)
    if kwargs is None:
        kwargs = {}
    if not isinstance(kwargs, dict):
        text = kwargs if isinstance(kwargs, str) else repr(kwargs)
        raise InvalidToolArgumentsError(tool_name, tool_id, text)
    return ToolSelection(tool_id=tool_id, tool_name=tool_name, tool_kwargs=kwargs)


def tool_selections(
    response: ChatResponse, error_on_no_tool_call: bool = True
) -> list[ToolSelection]:
    """The tool calls of a response, from its ``ToolCallBlock`` blocks or, for messages
    built elsewhere, from ``additional_kwargs["tool_calls"]``.

    Arguments that are not a JSON object (invalid or cut-off JSON in a finished answer)
    raise :class:`InvalidToolArgumentsError` (a ``ValueError``) rather than calling the
    tool with ``{}``.
    """
    selections: list[ToolSelection] = []
    blocks = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
    if blocks:
        for block in blocks:
            selections.append(
                _selection(block.tool_call_id or "", block.tool_name, block.tool_kwargs)
            )
    else:
        for call in response.message.additional_kwargs.get("tool_calls") or []:
            wire = _legacy_tool_call(call)
            selections.append(
                _selection(
                    wire.get("id") or "", wire["function"]["name"], wire["function"]["arguments"]
                )
            )
    if not selections and error_on_no_tool_call:
        raise ValueError("Expected at least one tool call, but got 0 tool calls.")
    return selections
