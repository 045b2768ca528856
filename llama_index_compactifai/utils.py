"""Conversions between LlamaIndex objects and CompactifAI wire dicts (no HTTP here).

Outgoing: :func:`to_wire_messages` turns ``ChatMessage`` objects into the OpenAI-shaped message
dicts the API takes; :func:`to_wire_tool` turns a LlamaIndex tool into a tool spec.
Incoming: :func:`chat_response_from_completion` converts a whole answer; :class:`ChatStreamState`
folds streamed chunk dicts into cumulative ``ChatResponse`` objects, one per chunk.
The wire rules themselves (tool-call assembly, valid arguments, ``tool_choice``, usage...) are
``compactifai._wire``'s, the ones LangChain's side follows: this module only maps LlamaIndex
objects onto them.

Example:
    >>> from llama_index.core.llms import ChatMessage
    >>> from llama_index_compactifai.utils import to_wire_messages
    >>> to_wire_messages([ChatMessage(role="user", content="Hi")])
    [{'role': 'user', 'content': 'Hi'}]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import (
    AudioBlock,
    CachePoint,
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    DocumentBlock,
    ImageBlock,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)
from llama_index.core.llms.llm import ToolSelection

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

    from compactifai import _wire as core
    from compactifai._wire import StreamedToolCall

__all__ = [
    "ChatStreamState",
    "CompletionStreamState",
    "InvalidToolArgumentsError",
    "chat_response_from_completion",
    "completion_response_from_completion",
    "final_arguments",
    "has_audio",
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
    "developer": "developer",
    "user": "user",
    "assistant": "assistant",
    "chatbot": "assistant",
    "model": "assistant",
    "tool": "tool",
    "function": "tool",
}


class _Core:
    """``compactifai._wire`` (the rules both integrations share), imported on first use:
    importing this package does not import the transport, which loads with the first
    request. Each name is looked up once, then read as a plain attribute."""

    def __getattr__(self, name: str) -> Any:
        from compactifai import _wire

        value = getattr(_wire, name)
        setattr(self, name, value)
        return value


if not TYPE_CHECKING:
    core = _Core()


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


def _audio_part(block: AudioBlock) -> dict[str, Any]:
    """An AudioBlock as an ``input_audio`` part (wav or mp3:
    :func:`compactifai._wire.input_audio_part`)."""
    data = block.resolve_audio(as_base64=True).read().decode("ascii")
    return core.input_audio_part(data, block.format)


def _document_part(block: DocumentBlock) -> dict[str, Any]:
    """A DocumentBlock as a ``file`` part: its bytes as a ``data:`` URL, named by its title
    (:func:`compactifai._wire.file_part`)."""
    if isinstance(block.data, bytes):  # kept base64-encoded by the block
        data = block.data.decode("ascii")
    else:
        data = block._get_b64_string(block.resolve_document())
    return core.file_part(data=data, filename=block.title, mime_type=block.document_mimetype)


def _legacy_tool_call(call: Any) -> dict[str, Any]:
    """A tool call kept in ``additional_kwargs`` (a dict, or an object such as OpenAI's)."""
    if not isinstance(call, Mapping):
        dump = getattr(call, "model_dump", None)
        call = dump() if dump is not None else vars(call)
    fn = call.get("function") or {}
    if not isinstance(fn, Mapping):
        fn = {"name": getattr(fn, "name", None), "arguments": getattr(fn, "arguments", None)}
    arguments = core.dump_arguments(fn.get("arguments"))
    return core.wire_tool_call(call.get("id"), fn.get("name") or "", arguments)


def _to_wire_message(message: ChatMessage) -> dict[str, Any]:
    role = _ROLES.get(message.role.value)
    if role is None:
        raise _invalid(f"messages with role {message.role.value!r} cannot be sent to CompactifAI")
    parts: list[dict[str, Any]] = []
    tool_calls: list[dict[str, Any]] = []
    reasoning: list[str] = []
    for block in message.blocks:
        if isinstance(block, TextBlock):
            parts.append({"type": "text", "text": block.text})
        elif isinstance(block, ImageBlock):
            if role != "user":
                raise _invalid(f"images can only be sent in user messages, not {role!r} ones")
            parts.append(_image_part(block))
        elif isinstance(block, ToolCallBlock):
            tool_calls.append(
                core.wire_tool_call(
                    block.tool_call_id, block.tool_name, core.dump_arguments(block.tool_kwargs)
                )
            )
        elif isinstance(block, (AudioBlock, DocumentBlock)):
            if role != "user":
                raise _invalid(
                    f"{type(block).__name__} content can only be sent in user messages, not "
                    f"{role!r} ones"
                )
            parts.append(
                _audio_part(block) if isinstance(block, AudioBlock) else _document_part(block)
            )
        elif isinstance(block, ThinkingBlock):
            if block.content:  # sent back only with tool calls (compactifai._wire.with_reasoning)
                reasoning.append(block.content)
        elif isinstance(block, CachePoint):
            continue  # the API takes no cache hints
        else:
            raise _invalid(
                f"{type(block).__name__} content is not supported by the CompactifAI chat API "
                "(it takes text, images, wav/mp3 audio and files, for models that support them)"
            )
    # Text-only content goes as one string, its parts joined by the rule both integrations
    # share (compactifai._wire.TEXT_JOINER).
    out: dict[str, Any] = {"role": role, "content": core.collapse_parts(parts)}
    if role == "assistant":
        if not tool_calls:
            legacy = message.additional_kwargs.get("tool_calls")
            if legacy:
                tool_calls = [_legacy_tool_call(c) for c in legacy]
        if tool_calls:
            out["tool_calls"] = tool_calls
            core.with_reasoning(out, core.join_text(reasoning))
    elif role == "tool":
        call_id = message.additional_kwargs.get("tool_call_id")
        if call_id is not None:
            out["tool_call_id"] = call_id
    return out


def to_wire_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """Convert LlamaIndex messages to the API's message dicts.

    Text-only content is sent as one string, its TextBlocks joined with nothing between them
    (``""`` next to tool calls, never null); a user message with images, audio or documents
    as a list of ``text``, ``image_url``, ``input_audio`` and ``file`` parts; assistant tool
    calls in the OpenAI shape, with the turn's ``ThinkingBlock`` text as
    ``reasoning_content`` (the model continues its tool loop from it); tool results as role
    ``tool`` with their ``tool_call_id``; ``MessageRole.DEVELOPER`` as role ``developer``.

    Example:
        >>> from llama_index.core.base.llms.types import ThinkingBlock, ToolCallBlock
        >>> turn = ChatMessage(role="assistant", blocks=[ThinkingBlock(content="Use add."),
        ...     ToolCallBlock(tool_call_id="c1", tool_name="add", tool_kwargs={"a": 1})])
        >>> to_wire_messages([turn])[0]["reasoning_content"]
        'Use add.'
    """
    return [_to_wire_message(m) for m in messages]


def has_images(messages: Sequence[ChatMessage]) -> bool:
    """Whether any message carries an image."""
    return any(isinstance(b, ImageBlock) for m in messages for b in m.blocks)


def has_audio(messages: Sequence[ChatMessage]) -> bool:
    """Whether any message carries audio."""
    return any(isinstance(b, AudioBlock) for m in messages for b in m.blocks)


def to_wire_tool(tool: BaseTool, strict: bool | None = None) -> dict[str, Any]:
    """A LlamaIndex tool as an API tool spec; ``strict`` is added only when ``True`` (with a
    strict schema: see :func:`compactifai._wire.function_tool`)."""
    return core.function_tool(tool.metadata.to_openai_tool(skip_length_check=True), strict)


def resolve_tool_choice(
    tool_choice: str | Mapping[str, Any] | None,
    tool_required: bool,
    names: Sequence[str] | None = None,
) -> str | dict[str, Any] | None:
    """``tool_choice`` as the API takes it: a mode, or the object naming one tool.

    A bare tool name (as ``FunctionAgent(initial_tool_choice=...)`` passes) becomes
    ``{"type": "function", "function": {"name": ...}}``, and is refused when the bound tools'
    ``names`` are given and it is none of them; "any" means "required"; ``tool_required``
    means ``"required"`` when nothing more specific was asked. The same rules as LangChain's
    ``bind_tools`` (:func:`compactifai._wire.tool_choice`).

    Example:
        >>> resolve_tool_choice("get_weather", False)
        {'type': 'function', 'function': {'name': 'get_weather'}}
        >>> resolve_tool_choice(None, True)
        'required'
    """
    if tool_choice is None:
        return "required" if tool_required else None
    return core.tool_choice(tool_choice, names)


# ---------------------------------------------------------------- incoming


def parse_arguments(arguments: str | None) -> dict[str, Any] | str:
    """Tool-call arguments as a dict, read as far as they go while they still arrive
    (:func:`compactifai._wire.partial_arguments`); text that cannot be read is kept as is.

    ``""`` and ``None`` (tools without arguments) give ``{}``.

    Example:
        >>> parse_arguments('{"city": "Paris", "da'), parse_arguments("{'x'")
        ({'city': 'Paris'}, "{'x'")
    """
    parsed = core.partial_arguments(arguments)
    if parsed is None:
        return arguments or ""
    return parsed


def final_arguments(arguments: str | None) -> dict[str, Any] | str:
    """The arguments of a complete tool call: a dict, or the text itself when it is not a
    JSON object (the rule both integrations share: :func:`compactifai._wire.load_arguments`).

    ``""``, ``None`` and ``null`` (tools without arguments) give ``{}``.

    Example:
        >>> final_arguments('{"city": "Paris"}'), final_arguments('{"city": "Pa')
        ({'city': 'Paris'}, '{"city": "Pa')
    """
    try:
        return core.load_arguments(arguments)
    except core.ToolArgumentsError:
        return arguments or ""


class InvalidToolArgumentsError(ValueError):
    """A tool call whose arguments are not a JSON object: the tool must not be called.

    Raised by :func:`tool_selections` (``CompactifAI.get_tool_calls_from_response``); the
    raw text stays on the message (``ToolCallBlock.tool_kwargs`` is the string). Whether
    arguments are invalid is decided by :func:`compactifai._wire.load_arguments`, the rule
    LangChain's side uses for its ``invalid_tool_calls``.

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
    """An id for a tool call the server sent without one (``call_`` and 24 hex digits, as
    LangChain's side makes them: :func:`compactifai._wire.new_call_id`).

    Example:
        >>> new_call_id().startswith("call_"), len(new_call_id())
        (True, 29)
    """
    return core.new_call_id()


def usage_from(usage: Any) -> dict[str, int]:
    """``prompt_tokens``/``completion_tokens``/``total_tokens`` from a usage object or dict,
    with ``reasoning_tokens`` and ``cached_tokens`` when the server reports them.

    Example:
        >>> usage_from({"prompt_tokens": 5, "completion_tokens": 2})
        {'prompt_tokens': 5, 'completion_tokens': 2, 'total_tokens': 7}
    """
    counts = core.token_usage(usage)
    if counts is None:
        return {}
    out = {
        "prompt_tokens": counts.prompt_tokens,
        "completion_tokens": counts.completion_tokens,
        "total_tokens": counts.total_tokens,
    }
    if counts.reasoning_tokens is not None:
        out["reasoning_tokens"] = counts.reasoning_tokens
    if counts.cached_tokens is not None:
        out["cached_tokens"] = counts.cached_tokens
    return out


def chat_response_from_completion(completion: Any) -> ChatResponse:
    """A ``ChatResponse`` from a ``compactifai.types.ChatCompletion`` (kept as ``raw``)."""
    blocks: list[Any] = []
    additional: dict[str, Any] = {}
    if completion.choices:
        message = completion.choices[0].message
        reasoning = core.reasoning_text(message)
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


def _call_view(call: StreamedToolCall, final: bool) -> tuple[ToolCallBlock, dict[str, Any]]:
    """A streamed call as a ``ToolCallBlock`` and a wire dict, built once per change.

    While the answer arrives its arguments are read as far as they go; once it is over they
    must be a JSON object, else ``tool_kwargs`` is the raw text.
    """
    view = call.view
    if view is None or view[0] is not final:
        kwargs: dict[str, Any] | str
        if final:
            kwargs = final_arguments(call.arguments)
        else:
            kwargs = core.partial_arguments(call.arguments) or {}
        call_id = call.call_id
        block = ToolCallBlock(tool_call_id=call_id, tool_name=call.name, tool_kwargs=kwargs)
        view = call.view = (final, block, core.wire_tool_call(call_id, call.name, call.arguments))
    return view[1], view[2]


class ChatStreamState:
    """Folds streamed chat chunk dicts into cumulative ``ChatResponse`` objects.

    Each response carries the whole message so far (text, a ``ThinkingBlock`` for reasoning,
    a ``ToolCallBlock`` per tool call), the new text as ``delta``, the chunk as ``raw``, and
    token usage in ``additional_kwargs`` on the chunk that reports it. Tool calls are
    assembled by :class:`compactifai._wire.ToolCallAssembler` (the rules LangChain's side
    follows too); a call without an id gets one (``call_...``, the same in every response).
    Their arguments are parsed as far as they go while they arrive; once the answer is
    finished (a ``finish_reason``, or :meth:`finish`) they must be a JSON object, else
    ``tool_kwargs`` is the raw text and :func:`tool_selections` raises
    :class:`InvalidToolArgumentsError`.

    Example:
        >>> state = ChatStreamState()
        >>> for args in ['{"temp', '{"temp": ', '{"temp": 22}']:  # cumulative pieces
        ...     r = state.feed({"choices": [{"delta": {"tool_calls": [
        ...         {"index": 0, "function": {"name": "set", "arguments": args}}]}}]})
        >>> r = state.feed({"choices": [{"delta": {}, "finish_reason": "tool_calls"}]})
        >>> [(s.tool_name, s.tool_kwargs) for s in tool_selections(r)]
        [('set', {'temp': 22})]
    """

    __slots__ = ("done", "reasoning", "text", "tools")

    def __init__(self) -> None:
        self.text = ""
        self.reasoning = ""
        self.tools = core.ToolCallAssembler()
        self.done = False

    @property
    def calls(self) -> dict[int, StreamedToolCall]:
        """The tool calls so far, by index."""
        return self.tools.calls

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
            if not piece or len(delta) > 1:  # more than text (most chunks hold text only)
                thinking = core.reasoning_text(delta)
                if thinking:
                    self.reasoning += thinking
                tool_deltas = delta.get("tool_calls")
                if tool_deltas:
                    self.tools.feed(tool_deltas)
            if choice.get("finish_reason"):
                self.done = True
                self.tools.finish()
        usage = chunk.get("usage")
        response_kwargs: dict[str, Any] = usage_from(usage) if usage else {}
        if thinking:
            response_kwargs["thinking_delta"] = thinking
        return self._response(piece, chunk, response_kwargs)

    def finish(self) -> ChatResponse | None:
        """After the last chunk: a closing response (``delta=""``) when the stream ended
        without a ``finish_reason`` and a tool call's arguments read differently once
        complete (held-back text settled, or invalid JSON); else None (the last response was
        already final)."""
        if self.done:
            return None
        calls = self.tools.ordered()
        before = [_call_view(call, False)[0].tool_kwargs for call in calls]
        self.done = True
        self.tools.finish()
        after = [_call_view(call, True)[0].tool_kwargs for call in calls]
        return None if after == before else self._response("", None, {})

    def _response(
        self, piece: str, raw: Any, response_kwargs: dict[str, Any]
    ) -> ChatResponse:
        blocks: list[Any] = [TextBlock(text=self.text)]
        if self.reasoning:
            blocks.insert(0, ThinkingBlock(content=self.reasoning))
        message_kwargs: dict[str, Any] = {}
        if self.tools.calls:
            wire = []
            done = self.done
            for call in self.tools.ordered():
                block, spec = _call_view(call, done)
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
        try:
            kwargs = core.load_arguments(kwargs)
        except core.ToolArgumentsError:
            raise InvalidToolArgumentsError(tool_name, tool_id, kwargs) from None
    elif kwargs is None:
        kwargs = {}
    if not isinstance(kwargs, dict):
        raise InvalidToolArgumentsError(tool_name, tool_id, repr(kwargs))
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
