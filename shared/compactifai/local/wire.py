"""What the server sends, built from the shared wire types of :mod:`compactifai.types`.

Model objects, chat and text completions, and the stream frames (``chat.completion.chunk``
and ``text_completion`` events) all come from the same types the client parses, so the two
cannot drift apart.

Example:
    >>> from compactifai.local.catalogue import MODELS
    >>> sorted(model_object(MODELS[0]))
    ['capabilities', 'created', 'id', 'object', 'owned_by', 'parameters_number']
    >>> chat_chunk("chatcmpl-1", 0, "m", {"content": "Hi"})["choices"][0]["delta"]
    {'content': 'Hi'}
"""

from __future__ import annotations

from typing import Any

from ..types import (
    ChatCompletion,
    ChatCompletionChoice,
    ChatCompletionChunk,
    ChatCompletionMessage,
    ChunkChoice,
    ChunkDelta,
    Completion,
    CompletionChoice,
    CompletionChunk,
    CompletionChunkChoice,
    FunctionCall,
    Model,
    ModelCapabilities,
    ModelList,
    ToolCall,
    Usage,
)
from .catalogue import LocalModel

__all__ = [
    "chat_chunk",
    "chat_completion",
    "completion",
    "completion_chunk",
    "model_list",
    "model_object",
    "usage",
    "usage_chunk",
]


def model_object(model: LocalModel) -> dict[str, Any]:
    """A model as ``GET /v1/models`` and ``GET /v1/models/{id}`` send it: today's service's
    fields, ``parameters_number`` as its display string ("135M") and the capabilities with
    ``support_chat_completion`` and ``supports_responses``.

    Example:
        >>> from compactifai.local.catalogue import MODELS
        >>> caps = model_object(MODELS[0])["capabilities"]
        >>> caps["support_chat_completion"], caps["supports_responses"]
        (True, False)
    """
    wire = Model(
        id=model.id,
        object="model",
        created=model.created,
        owned_by=model.owned_by,
        parameters_number=model.parameters_number,
        capabilities=ModelCapabilities(
            supports_audio=model.supports_audio,
            supports_image=model.supports_image,
            supports_function_calling=model.supports_function_calling,
            # Today's service states these too (spelled so); this server has no /responses.
            support_chat_completion=model.kind == "chat",
            supports_responses=False,
        ),
    )
    return wire.model_dump()


def model_list(models: tuple[LocalModel, ...]) -> dict[str, Any]:
    """The answer of ``GET /v1/models``."""
    listing = ModelList(object="list", data=[])
    return {**listing.model_dump(), "data": [model_object(m) for m in models]}


def usage(prompt_tokens: int, completion_tokens: int) -> Usage:
    """Token counts, with their total."""
    return Usage(
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        total_tokens=prompt_tokens + completion_tokens,
    )


def chat_completion(
    completion_id: str,
    created: int,
    model_id: str,
    content: str | None,
    finish_reason: str,
    n_prompt: int,
    n_completion: int,
    tool_call: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A ``chat.completion`` (``content`` is ``null`` next to a tool call)."""
    tool_calls = None
    if tool_call is not None:
        tool_calls = [
            ToolCall(
                id=tool_call["id"],
                type="function",
                function=FunctionCall(name=tool_call["name"], arguments=tool_call["arguments"]),
            )
        ]
    message = ChatCompletionMessage(role="assistant", content=content, tool_calls=tool_calls)
    wire = ChatCompletion(
        id=completion_id,
        object="chat.completion",
        created=created,
        model=model_id,
        choices=[ChatCompletionChoice(index=0, message=message, finish_reason=finish_reason)],
        usage=usage(n_prompt, n_completion),
    )
    payload = wire.model_dump(exclude_none=True)
    choice = payload["choices"][0]
    choice["message"]["content"] = content
    choice["logprobs"] = None
    return payload


def chat_chunk(
    completion_id: str,
    created: int,
    model_id: str,
    delta: ChunkDelta,
    finish_reason: str | None = None,
) -> ChatCompletionChunk:
    """One ``chat.completion.chunk`` event with one choice."""
    choice: ChunkChoice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model_id,
        "choices": [choice],
    }


def usage_chunk(
    completion_id: str, created: int, model_id: str, n_prompt: int, n_completion: int, kind: str
) -> dict[str, Any]:
    """The last event of a stream with ``stream_options.include_usage``: no choices, usage."""
    return {
        "id": completion_id,
        "object": kind,
        "created": created,
        "model": model_id,
        "choices": [],
        "usage": usage(n_prompt, n_completion).model_dump(),
    }


def completion(
    completion_id: str,
    created: int,
    model_id: str,
    texts: list[tuple[str, str]],
    n_prompt: int,
    n_completion: int,
) -> dict[str, Any]:
    """A ``text_completion``: one choice per ``(text, finish_reason)``, in order."""
    wire = Completion(
        id=completion_id,
        object="text_completion",
        created=created,
        model=model_id,
        choices=[
            CompletionChoice(text=text, index=i, logprobs=None, finish_reason=finish)
            for i, (text, finish) in enumerate(texts)
        ],
        usage=usage(n_prompt, n_completion),
    )
    return wire.model_dump()


def completion_chunk(
    completion_id: str,
    created: int,
    model_id: str,
    index: int,
    text: str,
    finish_reason: str | None,
) -> dict[str, Any]:
    """One ``text_completion`` stream event (one choice; ``logprobs`` is always null)."""
    choice: CompletionChunkChoice = {"text": text, "index": index, "finish_reason": finish_reason}
    chunk: CompletionChunk = {
        "id": completion_id,
        "object": "text_completion",
        "created": created,
        "model": model_id,
        "choices": [choice],
    }
    out: dict[str, Any] = dict(chunk)
    out["choices"] = [{**choice, "logprobs": None}]
    return out
