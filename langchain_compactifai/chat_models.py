"""``ChatCompactifAI``: CompactifAI chat completions as a LangChain chat model.

The model speaks no HTTP and parses no SSE: it converts LangChain messages to wire dicts, calls
the :mod:`compactifai` transport, and converts what comes back. A streamed call walks
``_stream -> client.chat_completion_stream -> chunk dicts -> _convert_chunk -> AIMessageChunk``.
"""

from __future__ import annotations

import inspect
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Literal, cast

from langchain_core.language_models import LangSmithParams
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.tool import invalid_tool_call
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import model_validator
from typing_extensions import Self

from compactifai import InvalidRequestError

from ._common import (
    LS_PROVIDER,
    CompactifAIFields,
    check_capabilities,
    move_extra_to_model_kwargs,
    require_api_key,
    usage_metadata,
)

if TYPE_CHECKING:
    from langchain_core.callbacks import (
        AsyncCallbackManagerForLLMRun,
        CallbackManagerForLLMRun,
    )
    from langchain_core.language_models import LanguageModelInput
    from langchain_core.messages import InvalidToolCall, ToolCall, ToolCallChunk
    from langchain_core.runnables import Runnable
    from langchain_core.tools import BaseTool

    from compactifai.types import ChatCompletion

__all__ = ["ChatCompactifAI"]

#: Request fields the transport takes as named arguments; any other key goes in extra_body.
_API_PARAMS = frozenset(
    {
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "frequency_penalty",
        "presence_penalty",
        "n",
        "user",
        "tools",
        "tool_choice",
        "response_format",
        "seed",
    }
)
_CALL_OPTIONS = frozenset({"extra_headers", "timeout"})
#: Call kwargs that steer this class (or LangChain) and are never sent.
_NOT_SENT = frozenset(
    {"stream", "stream_usage", "model", "ls_structured_output_format", "structured_output_format"}
)
_MEDIA_TYPES = frozenset({"file", "audio", "input_audio", "video"})
_SKIPPED_BLOCKS = frozenset(
    {"tool_use", "tool_call", "tool_call_chunk", "reasoning", "thinking", "redacted_thinking"}
)


# ---------------------------------------------------------------- LangChain -> wire


def _image_url(block: Mapping[str, Any]) -> str:
    """The URL (or data: URL) of an image block in any of LangChain's image shapes."""
    kind = block.get("type")
    if kind == "image_url":
        ref = block.get("image_url")
        url = ref.get("url") if isinstance(ref, Mapping) else ref
        if isinstance(url, str) and url:
            return url
    else:  # "image": LangChain v1 (url / base64), v0 (source_type) or Anthropic (source)
        source = block.get("source")
        if isinstance(source, Mapping):  # Anthropic style
            if source.get("type") == "url" and source.get("url"):
                return str(source["url"])
            if source.get("data"):
                return f"data:{source.get('media_type') or 'image/png'};base64,{source['data']}"
        if block.get("url"):
            return str(block["url"])
        data = block.get("base64") or (
            block.get("data") if block.get("source_type") == "base64" else None
        )
        if data:
            return f"data:{block.get('mime_type') or 'image/png'};base64,{data}"
    raise InvalidRequestError(
        f"image block {dict(block)!r} has no URL or base64 data: CompactifAI takes images as "
        "a URL or base64 data (an uploaded file id is not supported)",
        param="messages",
    )


def _content_parts(
    content: str | list[str | dict[Any, Any]], flags: list[bool]
) -> str | list[dict[str, Any]]:
    """Message content -> wire content: a string, or a list of text / image_url parts.

    A list holding only text is sent as one string (the API types content as a string).
    ``flags[0]`` is set when an image is found.
    """
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    only_text = True
    for block in content:
        if isinstance(block, str):
            parts.append({"type": "text", "text": block})
            continue
        kind = block.get("type")
        if kind == "text" or (kind is None and "text" in block):
            parts.append({"type": "text", "text": block.get("text") or ""})
        elif kind == "image_url" or kind == "image":
            ref: dict[str, Any] = {"url": _image_url(block)}
            original = block.get("image_url")
            if isinstance(original, Mapping) and original.get("detail"):
                ref["detail"] = original["detail"]
            parts.append({"type": "image_url", "image_url": ref})
            only_text = False
            flags[0] = True
        elif kind in _SKIPPED_BLOCKS:
            continue
        elif kind in _MEDIA_TYPES:
            raise InvalidRequestError(
                f"CompactifAI chat models take text and images only; got a {kind!r} block "
                "(transcribe audio with the transcription endpoint first)",
                param="messages",
            )
        else:  # something this package does not know: let the server judge it
            parts.append(dict(block))
            only_text = False
    if only_text:
        return "".join(p["text"] for p in parts)
    return parts


def _text_only(content: str | list[str | dict[Any, Any]]) -> str:
    """The text of a message's content (assistant turns are sent as one string)."""
    if isinstance(content, str):
        return content
    out = []
    for block in content:
        if isinstance(block, str):
            out.append(block)
        elif block.get("type") == "text" or ("type" not in block and "text" in block):
            out.append(block.get("text") or "")
    return "".join(out)


def _tool_call_to_wire(call: ToolCall) -> dict[str, Any]:
    return {
        "id": call["id"],
        "type": "function",
        "function": {"name": call["name"], "arguments": json.dumps(call["args"])},
    }


def _invalid_tool_call_to_wire(call: InvalidToolCall) -> dict[str, Any]:
    return {
        "id": call.get("id"),
        "type": "function",
        "function": {"name": call.get("name"), "arguments": call.get("args") or ""},
    }


def _convert_message(message: BaseMessage, flags: list[bool]) -> dict[str, Any]:
    """One LangChain message -> one wire message dict (OpenAI shapes)."""
    if isinstance(message, HumanMessage):
        out: dict[str, Any] = {"role": "user", "content": _content_parts(message.content, flags)}
    elif isinstance(message, AIMessage):
        out = {"role": "assistant", "content": _text_only(message.content)}
        calls = [_tool_call_to_wire(c) for c in message.tool_calls]
        calls.extend(_invalid_tool_call_to_wire(c) for c in message.invalid_tool_calls)
        if not calls and "tool_calls" in message.additional_kwargs:
            calls = list(message.additional_kwargs["tool_calls"])
        if calls:
            out["tool_calls"] = calls
    elif isinstance(message, SystemMessage):
        out = {"role": "system", "content": _content_parts(message.content, flags)}
    elif isinstance(message, ToolMessage):
        out = {
            "role": "tool",
            "tool_call_id": message.tool_call_id,
            "content": _content_parts(message.content, flags),
        }
        return out
    elif isinstance(message, ChatMessage):
        out = {"role": message.role, "content": _content_parts(message.content, flags)}
    elif isinstance(message, FunctionMessage):
        return {"role": "function", "name": message.name, "content": _text_only(message.content)}
    else:
        raise TypeError(f"cannot send a {type(message).__name__} to CompactifAI")
    if message.name:
        out["name"] = message.name
    return out


def _convert_messages(messages: Sequence[BaseMessage]) -> tuple[list[dict[str, Any]], bool]:
    """LangChain messages -> wire messages, and whether any of them holds an image."""
    flags = [False]
    return [_convert_message(m, flags) for m in messages], flags[0]


# ---------------------------------------------------------------- wire -> LangChain


def _new_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def _parse_tool_calls(
    raw_calls: Sequence[Any],
) -> tuple[list[ToolCall], list[InvalidToolCall]]:
    """Wire tool calls -> LangChain tool calls; unparsable arguments become invalid calls."""
    calls: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    for raw in raw_calls:
        fn = raw.function
        name = fn.name or ""
        call_id = raw.id or _new_call_id()
        arguments = fn.arguments
        if not arguments:  # "" or null: a tool that takes no arguments
            calls.append({"type": "tool_call", "name": name, "args": {}, "id": call_id})
            continue
        try:
            args = json.loads(arguments)
        except ValueError as err:
            invalid.append(
                invalid_tool_call(
                    name=name, args=arguments, id=call_id,
                    error=f"arguments are not valid JSON: {err}",
                )
            )
            continue
        if isinstance(args, dict):
            calls.append({"type": "tool_call", "name": name, "args": args, "id": call_id})
        else:
            invalid.append(
                invalid_tool_call(
                    name=name, args=arguments, id=call_id,
                    error="arguments are not a JSON object",
                )
            )
    return calls, invalid


def _convert_completion(response: ChatCompletion, model: str) -> ChatResult:
    """A whole chat completion -> a ``ChatResult`` holding one ``AIMessage``."""
    usage = response.usage.model_dump() if response.usage is not None else None
    metadata: dict[str, Any] = {
        "model_name": response.model or model,
        "model_provider": LS_PROVIDER,
    }
    if response.id:
        metadata["id"] = response.id
    if response.system_fingerprint:
        metadata["system_fingerprint"] = response.system_fingerprint
    generations = []
    for choice in response.choices or ():
        wire = choice.message
        additional: dict[str, Any] = {}
        if wire.reasoning_content:
            additional["reasoning_content"] = wire.reasoning_content
        if wire.refusal:
            additional["refusal"] = wire.refusal
        calls, invalid = _parse_tool_calls(wire.tool_calls) if wire.tool_calls else ([], [])
        meta = dict(metadata)
        info: dict[str, Any] = {}
        if choice.finish_reason is not None:
            meta["finish_reason"] = info["finish_reason"] = choice.finish_reason
        if choice.logprobs is not None:
            info["logprobs"] = choice.logprobs
        message = AIMessage(
            content=wire.content or "",
            additional_kwargs=additional,
            tool_calls=calls,
            invalid_tool_calls=invalid,
            usage_metadata=usage_metadata(usage) if usage else None,
            response_metadata=meta,
            id=response.id or None,
        )
        generations.append(ChatGeneration(message=message, generation_info=info or None))
    if not generations:  # a server that answered with no choice at all
        generations.append(
            ChatGeneration(message=AIMessage(content="", response_metadata=metadata))
        )
    llm_output = {"token_usage": usage or {}, "model_name": metadata["model_name"]}
    if response.system_fingerprint:
        llm_output["system_fingerprint"] = response.system_fingerprint
    return ChatResult(generations=generations, llm_output=llm_output)


class _StreamState:
    """What one stream remembers between chunks (per-index tool-call state, metadata)."""

    __slots__ = (
        "args",
        "calls",
        "cumulative",
        "fingerprint",
        "finish_reason",
        "id",
        "model",
        "pending",
        "usage",
    )

    def __init__(self) -> None:
        #: tool-call index -> [id sent, name sent]
        self.calls: dict[int, list[bool]] = {}
        #: tool-call index -> the arguments text so far
        self.args: dict[int, str] = {}
        #: indexes of calls whose server sends cumulative argument pieces
        self.cumulative: set[int] = set()
        #: index -> (text held back if pieces are new text, the whole text if cumulative)
        self.pending: dict[int, tuple[str, str]] = {}
        self.finish_reason: str | None = None
        self.model: str | None = None
        self.id: str | None = None
        self.fingerprint: str | None = None
        self.usage: Mapping[str, Any] | None = None


_JSON_LITERALS = ("true", "false", "null")
_NUMBER_CHARS = frozenset("0123456789+-.eE")


def _json_prefix(text: str) -> bool:
    """Whether ``text`` can begin a JSON document (it is one, or more may complete it).

    Example:
        >>> _json_prefix('{"a": {"a": 1'), _json_prefix('{"a{"a": ')
        (True, False)
    """
    stack: list[str] = []  # open containers: "{" or "["
    expect = "value"  # value | key | key_or_end | colon | comma_or_end | value_or_end | done
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t\r\n":
            i += 1
            continue
        if expect == "done":
            return False
        if c == '"':
            if expect not in ("value", "value_or_end", "key", "key_or_end"):
                return False
            key = expect in ("key", "key_or_end")
            i += 1
            while i < n and text[i] != '"':
                if text[i] == "\\":
                    i += 1
                elif text[i] < " ":
                    return False
                i += 1
            if i >= n:
                return True  # inside a string
            expect = "colon" if key else ("comma_or_end" if stack else "done")
            i += 1
            continue
        if c in "}]":
            if not stack or stack[-1] != ("{" if c == "}" else "["):
                return False
            closes_empty = expect == ("key_or_end" if c == "}" else "value_or_end")
            if not closes_empty and expect != "comma_or_end":
                return False
            stack.pop()
            expect = "comma_or_end" if stack else "done"
        elif c == ":":
            if expect != "colon":
                return False
            expect = "value"
        elif c == ",":
            if expect != "comma_or_end":
                return False
            expect = "key" if stack[-1] == "{" else "value"
        elif expect not in ("value", "value_or_end"):
            return False
        elif c in "{[":
            stack.append(c)
            expect = "key_or_end" if c == "{" else "value_or_end"
        else:  # a number or a literal, up to the next delimiter
            j = i
            while j < n and text[j] not in ' \t\r\n,:]}"{[':
                j += 1
            token = text[i:j]
            if j == n:  # may still grow
                ok = any(lit.startswith(token) for lit in _JSON_LITERALS) or (
                    token[0] in "-0123456789" and set(token) <= _NUMBER_CHARS
                )
                return ok
            if token not in _JSON_LITERALS:
                try:
                    float(token)
                except ValueError:
                    return False
            expect = "comma_or_end" if stack else "done"
            i = j
            continue
        i += 1
    return True


def _new_args(piece: str, index: int, state: _StreamState) -> str:
    """The text ``piece`` adds to a call's arguments, whether pieces are new text or
    cumulative (each repeating the text so far: ``'{"t'``, ``'{"t": 2'``, ``'{"t": 2}'``).

    A piece that starts with the text so far and is at least as long is cumulative when the
    two cannot simply follow each other (their concatenation is no JSON prefix); the call is
    then read as cumulative to its end. When both readings still fit, the piece is held back
    until a later piece, or the end of the stream (:func:`_flush_args`), tells them apart.
    """
    so_far = state.args.get(index, "")
    held = state.pending.pop(index, None)
    if held is not None:
        tail, whole = held
        as_new = _json_prefix(so_far + tail + piece)
        as_whole = len(piece) >= len(whole) and piece.startswith(whole)
        if as_new and as_whole:
            state.pending[index] = (tail + piece, piece)
            return ""
        if as_whole:
            state.cumulative.add(index)
            state.args[index] = piece
            return piece[len(so_far):]
        state.args[index] = so_far + tail + piece
        return tail + piece
    if so_far and len(piece) >= len(so_far) and piece.startswith(so_far):
        if index in state.cumulative or not _json_prefix(so_far + piece):
            state.cumulative.add(index)
            state.args[index] = piece
            return piece[len(so_far):]
        state.pending[index] = (piece, piece)
        return ""
    state.args[index] = so_far + piece
    return piece


def _flush_args(index: int, state: _StreamState) -> str:
    """At the end of the stream: the text held back for a call, read the way that gives
    complete JSON (as new text when both do)."""
    held = state.pending.pop(index, None)
    if held is None:
        return ""
    tail, whole = held
    so_far = state.args.get(index, "")
    if not _is_json(so_far + tail) and _is_json(whole):
        state.args[index] = whole
        return whole[len(so_far):]
    state.args[index] = so_far + tail
    return tail


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _tool_call_chunks(raw_calls: list[Any], state: _StreamState) -> list[ToolCallChunk]:
    """Streamed tool-call deltas -> LangChain tool-call chunks that aggregate correctly.

    A call's id and name are passed once per index, whether the server sends them once or
    in every chunk (as llama.cpp does): LangChain concatenates names when it merges chunks.
    Missing or null arguments count as "" (a tool without arguments aggregates to ``{}``).
    Cumulative argument pieces are reduced to what they add (see :func:`_new_args`).
    """
    out: list[ToolCallChunk] = []
    calls = state.calls
    for position, raw in enumerate(raw_calls):
        index = raw.get("index")
        if index is None:
            index = position
        fn = raw.get("function") or {}
        args = fn.get("arguments")
        if args is None:
            args = ""
        elif not isinstance(args, str):
            args = json.dumps(args)
        if args:
            args = _new_args(args, index, state)
        sent = calls.get(index)
        if sent is None:
            sent = calls[index] = [False, False]
        call_id = None
        if not sent[0] and raw.get("id"):
            call_id = raw["id"]
            sent[0] = True
        name = None
        if not sent[1] and fn.get("name"):
            name = fn["name"]
            sent[1] = True
        out.append(
            {"type": "tool_call_chunk", "name": name, "args": args, "id": call_id, "index": index}
        )
    return out


def _convert_chunk(chunk: Mapping[str, Any], state: _StreamState) -> AIMessageChunk | None:
    """One streamed chunk dict -> an ``AIMessageChunk``, or None when it carries no delta.

    Metadata (model, id, finish reason, usage) is remembered in ``state`` and sent once, on
    the stream's last chunk (see :func:`_final_chunk`).
    """
    if state.model is None:
        state.model = chunk.get("model")
        state.id = chunk.get("id")
    usage = chunk.get("usage")
    if usage:
        state.usage = usage
    choices = chunk.get("choices")
    if not choices:
        if chunk.get("system_fingerprint"):
            state.fingerprint = chunk["system_fingerprint"]
        return None
    choice = choices[0]
    reason = choice.get("finish_reason")
    if reason:
        state.finish_reason = reason
        if chunk.get("system_fingerprint"):
            state.fingerprint = chunk["system_fingerprint"]
    delta = choice.get("delta")
    if not delta:
        return None
    content = delta.get("content")
    raw_calls = delta.get("tool_calls")
    reasoning = delta.get("reasoning_content")
    if not raw_calls and not reasoning:
        if not content:
            return None
        return AIMessageChunk(content=content)
    return AIMessageChunk(
        content=content or "",
        additional_kwargs={"reasoning_content": reasoning} if reasoning else {},
        tool_call_chunks=_tool_call_chunks(raw_calls, state) if raw_calls else [],
    )


def _final_chunk(state: _StreamState, model: str) -> ChatGenerationChunk:
    """The stream's last chunk: usage, response metadata and ``chunk_position="last"``."""
    metadata: dict[str, Any] = {
        "model_name": state.model or model,
        "model_provider": LS_PROVIDER,
    }
    if state.finish_reason:
        metadata["finish_reason"] = state.finish_reason
    if state.id:
        metadata["id"] = state.id
    if state.fingerprint:
        metadata["system_fingerprint"] = state.fingerprint
    # A call the server sent without an id gets one, so the aggregated call can be answered;
    # argument text held back (see _new_args) is sent now.
    late: list[ToolCallChunk] = []
    for i, sent in state.calls.items():
        args = _flush_args(i, state)
        if args or not sent[0]:
            call_id = None if sent[0] else _new_call_id()
            late.append(
                {"type": "tool_call_chunk", "name": None, "args": args, "id": call_id, "index": i}
            )
    message = AIMessageChunk(
        content="",
        usage_metadata=usage_metadata(state.usage) if state.usage else None,
        response_metadata=metadata,
        tool_call_chunks=late,
        chunk_position="last",
    )
    info = {"finish_reason": state.finish_reason} if state.finish_reason else None
    return ChatGenerationChunk(message=message, generation_info=info)


# ---------------------------------------------------------------- tools


def _tool_choice(choice: Any, names: list[str]) -> str | dict[str, Any] | None:
    """LangChain's tool_choice values -> the wire's ("any" -> "required", a name -> object)."""
    if choice is None or choice is False:
        return None
    if choice is True:
        return _named(names[0]) if len(names) == 1 else "required"
    if isinstance(choice, str):
        if choice in ("auto", "none", "required"):
            return choice
        if choice == "any":
            return "required"
        if choice in names:
            return _named(choice)
        raise InvalidRequestError(
            f"tool_choice={choice!r} names no bound tool (tools: {', '.join(names) or 'none'}); "
            "use 'auto', 'none', 'required', 'any' or a tool's name",
            param="tool_choice",
        )
    if isinstance(choice, dict):
        return choice
    raise InvalidRequestError(f"tool_choice={choice!r} is not valid", param="tool_choice")


def _named(name: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name}}


def _is_pydantic_class(obj: Any) -> bool:
    from langchain_core.utils.pydantic import is_basemodel_subclass

    return isinstance(obj, type) and is_basemodel_subclass(obj)


# ---------------------------------------------------------------- the model


class ChatCompactifAI(CompactifAIFields, BaseChatModel):
    """CompactifAI chat models (by Multiverse Computing) in LangChain.

    The key comes from ``api_key`` or ``COMPACTIFAI_API_KEY``; the URL from ``base_url`` or
    ``COMPACTIFAI_BASE_URL`` (default ``https://api.compactif.ai/v1``). Invoke, stream, batch
    (and their async twins), tool calling, structured output, images on models that take
    them, token usage on every answer, streamed or not. ``close()`` / ``aclose()`` (or
    ``with`` / ``async with``) close its connection pools; a later call opens new ones.

    Example:
        .. code-block:: python

            from langchain_compactifai import ChatCompactifAI

            llm = ChatCompactifAI(model="cai-llama-3-1-8b-slim", temperature=0)
            print(llm.invoke("What is artificial intelligence?").content)
            for chunk in llm.stream("Write a haiku about compression."):
                print(chunk.content, end="")

            def get_weather(city: str) -> str:
                \"\"\"The weather in a city.\"\"\"
                return "sunny"

            llm.bind_tools([get_weather]).invoke("Weather in Paris?").tool_calls

            with ChatCompactifAI() as llm:  # the connection pool is closed on exit
                llm.invoke("Hi")
    """

    max_completion_tokens: int | None = None
    """The most tokens to generate (the API's preferred name)."""
    frequency_penalty: float | None = None
    """Penalty on tokens by their frequency so far, -2 to 2."""
    presence_penalty: float | None = None
    """Penalty on tokens already present, -2 to 2."""
    n: int | None = None
    """Choices per request: the API generates exactly one."""

    # -- construction

    @model_validator(mode="before")
    @classmethod
    def _collect_model_kwargs(cls, values: Any) -> Any:
        if isinstance(values, dict):
            names = set(cls.model_fields)
            names.update(f.alias for f in cls.model_fields.values() if f.alias)
            values = move_extra_to_model_kwargs(dict(values), names)
        return values

    @model_validator(mode="after")
    def _check_settings(self) -> Self:
        require_api_key(self.api_key)
        if self.n is not None and self.n != 1:
            raise InvalidRequestError(
                f"n={self.n} is not supported: CompactifAI generates one choice per request",
                param="n",
            )
        return self

    # -- LangChain plumbing

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        return ["langchain_compactifai", "chat_models"]

    @property
    def _llm_type(self) -> str:
        return "compactifai-chat"

    @property
    def _default_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for name in (
            "temperature",
            "max_tokens",
            "max_completion_tokens",
            "frequency_penalty",
            "presence_penalty",
            "top_p",
            "seed",
            "n",
        ):
            value = getattr(self, name)
            if value is not None:
                params[name] = value
        if self.stop:
            params["stop"] = self.stop
        return params

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, **self._default_params, **self.model_kwargs}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider=LS_PROVIDER,
            ls_model_name=kwargs.get("model") or self.model_name,
            ls_model_type="chat",
        )
        temperature = kwargs.get("temperature", self.temperature)
        if temperature is not None:
            params["ls_temperature"] = temperature
        max_tokens = kwargs.get("max_tokens", self.max_tokens or self.max_completion_tokens)
        if max_tokens is not None:
            params["ls_max_tokens"] = max_tokens
        ls_stop = stop or kwargs.get("stop") or self.stop
        if ls_stop:
            params["ls_stop"] = [ls_stop] if isinstance(ls_stop, str) else list(ls_stop)
        return params

    def _combine_llm_outputs(self, llm_outputs: list[dict[str, Any] | None]) -> dict[str, Any]:
        totals: dict[str, int] = {}
        model = self.model_name
        for output in llm_outputs:
            if not output:
                continue
            model = output.get("model_name") or model
            for key, value in (output.get("token_usage") or {}).items():
                if isinstance(value, int) and not isinstance(value, bool):
                    totals[key] = totals.get(key, 0) + value
        return {"token_usage": totals, "model_name": model}

    # -- transport

    def _request(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> tuple[str, list[dict[str, Any]], dict[str, Any], bool]:
        """Model id, wire messages, transport arguments and whether images are present."""
        wire, has_image = _convert_messages(messages)
        params: dict[str, Any] = self._default_params
        extra: dict[str, Any] = {}
        for key, value in self.model_kwargs.items():
            if key in _API_PARAMS:
                params[key] = value
            else:
                extra[key] = value
        for key, value in kwargs.items():
            if key in _API_PARAMS or key in _CALL_OPTIONS:
                params[key] = value
            elif key == "extra_body":
                extra.update(value or {})
            elif key not in _NOT_SENT:
                extra[key] = value
        if stop:
            params["stop"] = stop
        elif "stop" in params and not params["stop"]:
            del params["stop"]
        if extra:
            params["extra_body"] = extra
        return kwargs.get("model") or self.model_name, wire, params, has_image

    def _check(self, model: str, has_image: bool, params: dict[str, Any]) -> None:
        has_tools = bool(params.get("tools"))
        if has_image or has_tools:
            profile = self.client.model_profile(model)
            check_capabilities(profile, has_image=has_image, has_tools=has_tools)

    async def _acheck(self, model: str, has_image: bool, params: dict[str, Any]) -> None:
        has_tools = bool(params.get("tools"))
        if has_image or has_tools:
            profile = await self.async_client.model_profile(model)
            check_capabilities(profile, has_image=has_image, has_tools=has_tools)

    def _include_usage(self, kwargs: dict[str, Any]) -> bool:
        value = kwargs.get("stream_usage")
        return self.stream_usage if value is None else bool(value)

    # -- calls

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        model, wire, params, has_image = self._request(messages, stop, kwargs)
        self._check(model, has_image, params)
        response = self.client.chat_completion(model=model, messages=wire, **params)
        return _convert_completion(response, model)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        model, wire, params, has_image = self._request(messages, stop, kwargs)
        await self._acheck(model, has_image, params)
        response = await self.async_client.chat_completion(model=model, messages=wire, **params)
        return _convert_completion(response, model)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        model, wire, params, has_image = self._request(messages, stop, kwargs)
        self._check(model, has_image, params)
        state = _StreamState()
        stream = self.client.chat_completion_stream(
            model=model, messages=wire, include_usage=self._include_usage(kwargs), **params
        )
        try:
            for raw in stream:
                message = _convert_chunk(raw, state)
                if message is not None:
                    yield ChatGenerationChunk(message=message)
        finally:
            stream.close()
        yield _final_chunk(state, model)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        model, wire, params, has_image = self._request(messages, stop, kwargs)
        await self._acheck(model, has_image, params)
        state = _StreamState()
        stream = self.async_client.chat_completion_stream(
            model=model, messages=wire, include_usage=self._include_usage(kwargs), **params
        )
        try:
            async for raw in stream:
                message = _convert_chunk(raw, state)
                if message is not None:
                    yield ChatGenerationChunk(message=message)
        finally:
            await stream.aclose()
        yield _final_chunk(state, model)

    # -- tools and structured output

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: dict[str, Any] | str | bool | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (LangChain tools, pydantic classes, functions or OpenAI tool dicts).

        ``tool_choice``: "auto", "none", "required", "any" (= "required"), True (the only
        tool, or "required"), a tool's name, or an OpenAI-style dict. A model whose profile
        says it has no function calling is refused when called, before the chat request.

        Example:
            .. code-block:: python

                from langchain_compactifai import ChatCompactifAI

                def add(a: int, b: int) -> int:
                    \"\"\"Add two integers.\"\"\"
                    return a + b

                llm = ChatCompactifAI().bind_tools([add], tool_choice="add")
                llm.invoke("What is 2 + 3?").tool_calls
        """
        from langchain_core.utils.function_calling import convert_to_openai_tool

        formatted = [convert_to_openai_tool(tool, strict=strict) for tool in tools]
        names = [t["function"]["name"] for t in formatted if "function" in t]
        choice = _tool_choice(tool_choice, names)
        if choice is not None:
            kwargs["tool_choice"] = choice
        return super().bind(tools=formatted, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type | None = None,
        *,
        method: Literal["function_calling", "json_mode", "json_schema"] = "function_calling",
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | Any]:
        """A runnable that answers with ``schema``'s shape (pydantic class, TypedDict, dict).

        ``method``: "function_calling" (a forced tool call, the default), "json_mode"
        (``response_format={"type": "json_object"}``; describe the keys in the prompt) or
        "json_schema" (``response_format`` with the schema). ``include_raw=True`` returns
        ``{"raw": AIMessage, "parsed": ..., "parsing_error": ...}``.

        Example:
            .. code-block:: python

                from pydantic import BaseModel
                from langchain_compactifai import ChatCompactifAI

                class Person(BaseModel):
                    name: str
                    age: int

                extract = ChatCompactifAI(temperature=0).with_structured_output(Person)
                extract.invoke("Ada is 36.")
        """
        from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
        from langchain_core.output_parsers.openai_tools import (
            JsonOutputKeyToolsParser,
            PydanticToolsParser,
        )
        from langchain_core.runnables import RunnableMap, RunnablePassthrough
        from langchain_core.utils.function_calling import (
            convert_to_json_schema,
            convert_to_openai_tool,
        )

        if kwargs:
            raise ValueError(f"with_structured_output got unexpected arguments: {kwargs}")
        is_pydantic = _is_pydantic_class(schema)
        parser: Runnable[Any, Any]
        if method == "function_calling":
            if schema is None:
                raise ValueError("method='function_calling' needs a schema")
            tool = convert_to_openai_tool(schema, strict=strict)
            name = tool["function"]["name"]
            llm = self.bind_tools(
                [schema],
                tool_choice=name,
                strict=strict,
                ls_structured_output_format={
                    "kwargs": {"method": method, "strict": strict},
                    "schema": schema,
                },
            )
            if is_pydantic:
                parser = PydanticToolsParser(tools=[cast("type", schema)], first_tool_only=True)
            else:
                parser = JsonOutputKeyToolsParser(key_name=name, first_tool_only=True)
        elif method == "json_mode":
            llm = self.bind(
                response_format={"type": "json_object"},
                **(
                    {"ls_structured_output_format": {"kwargs": {"method": method}, "schema": schema}}
                    if schema is not None
                    else {}
                ),
            )
            parser = (
                PydanticOutputParser(pydantic_object=cast("Any", schema))
                if is_pydantic
                else JsonOutputParser()
            )
        elif method == "json_schema":
            if schema is None:
                raise ValueError("method='json_schema' needs a schema")
            json_schema = convert_to_json_schema(schema)
            spec: dict[str, Any] = {
                "name": json_schema.get("title") or "response",
                "schema": json_schema,
            }
            if json_schema.get("description"):
                spec["description"] = json_schema["description"]
            if strict is not None:
                spec["strict"] = strict
            llm = self.bind(
                response_format={"type": "json_schema", "json_schema": spec},
                ls_structured_output_format={
                    "kwargs": {"method": method, "strict": strict},
                    "schema": schema,
                },
            )
            parser = (
                PydanticOutputParser(pydantic_object=cast("Any", schema))
                if is_pydantic
                else JsonOutputParser()
            )
        else:
            raise ValueError(
                f"method={method!r}: use 'function_calling', 'json_mode' or 'json_schema'"
            )
        if not include_raw:
            return llm | parser
        parse = RunnablePassthrough.assign(
            parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
        )
        no_parse = RunnablePassthrough.assign(parsed=lambda _: None)
        return RunnableMap(raw=llm) | parse.with_fallbacks(
            [no_parse], exception_key="parsing_error"
        )


def _presign(cls: type, *names: str) -> None:
    """Store each method's signature on it: LangChain inspects ``_generate`` on every call."""
    for name in names:
        fn = getattr(cls, name)
        fn.__signature__ = inspect.signature(fn)


_presign(ChatCompactifAI, "_generate", "_agenerate")
