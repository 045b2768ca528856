"""Canned wire payloads (chat completions, chunks, model lists) for the unit tests."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.helpers import json_response, sse, sse_response

MODEL = "hypernova-60b"
USAGE = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}


def completion(
    content: str | None = "Hello!",
    *,
    tool_calls: list[dict[str, Any]] | None = None,
    finish_reason: str = "stop",
    model: str = MODEL,
    usage: dict[str, Any] | None = USAGE,
    **message_extra: Any,
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content, **message_extra}
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    body: dict[str, Any] = {
        "id": "chatcmpl-123XYZ",
        "object": "chat.completion",
        "created": 1749600000,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
    }
    if usage is not None:
        body["usage"] = usage
    return body


def tool_call(name: str, arguments: Any, call_id: str = "call_1") -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def chunk(
    delta: dict[str, Any] | None = None,
    *,
    finish_reason: str | None = None,
    usage: dict[str, Any] | None = None,
    choices: bool = True,
    model: str = MODEL,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "chatcmpl-123",
        "object": "chat.completion.chunk",
        "created": 1749600000,
        "model": model,
        "choices": (
            [{"index": 0, "delta": delta or {}, "finish_reason": finish_reason}]
            if choices
            else []
        ),
    }
    if usage is not None:
        body["usage"] = usage
    return body


def text_stream(*pieces: str, usage: dict[str, Any] | None = USAGE) -> list[dict[str, Any]]:
    """The chunks of a streamed text answer: role, pieces, finish, then usage."""
    out = [chunk({"role": "assistant", "content": ""})]
    out += [chunk({"content": p}) for p in pieces]
    out.append(chunk(finish_reason="stop"))
    if usage is not None:
        out.append(chunk(choices=False, usage=usage))
    return out


def stream_response(chunks: list[dict[str, Any]]) -> httpx.Response:
    return sse_response(sse(*chunks))


def model_list(**capabilities: dict[str, bool]) -> dict[str, Any]:
    """A ``GET /models`` answer: each keyword is a model id with its capabilities."""
    return {
        "object": "list",
        "data": [
            {
                "id": model_id,
                "object": "model",
                "created": 1749600000,
                "owned_by": "multiverse_computing",
                "parameters_number": "3.28B",
                "capabilities": caps,
            }
            for model_id, caps in capabilities.items()
        ],
    }


def route(**answers: Any) -> Any:
    """A handler answering by path: ``route(chat=..., models=..., completions=...)``.

    An answer is a payload (sent as JSON), a zero-argument callable returning a response, or a
    list of those (one per request; the last one repeats). Requests are kept in
    ``handler.requests``; a request to another path fails the test.
    """
    paths = {"chat": "/v1/chat/completions", "models": "/v1/models", "completions": "/v1/completions"}
    queues = {paths[k]: (list(v) if isinstance(v, list) else [v]) for k, v in answers.items()}
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        requests.append(request)
        queue = queues.get(request.url.path)
        if not queue:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if callable(answer):
            return answer()
        return json_response(answer)

    handler.requests = requests  # type: ignore[attr-defined]
    return handler


def streamed(chunks: list[dict[str, Any]]) -> Any:
    """An answer for :func:`route`: the chunks as an SSE stream."""
    return lambda: stream_response(chunks)


def failing(status: int, payload: Any) -> Any:
    """An answer for :func:`route`: an error status with a JSON (or text) body."""
    return lambda: json_response(payload, status=status)


def bodies(handler: Any, path: str = "/v1/chat/completions") -> list[dict[str, Any]]:
    """The JSON bodies the handler received on ``path``."""
    return [json.loads(r.content) for r in handler.requests if r.url.path == path]
