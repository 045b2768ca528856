"""``POST /v1/responses`` (plain or streamed events) and ``GET /v1/responses/{response_id}``.

A minimal, honest Responses API over the chat route: the request becomes a chat request
(``instructions`` a system message, ``input`` the messages, ``max_output_tokens`` the token
limit, ``text.format`` the response format) that the ``/v1/chat/completions`` handler answers
in-process (:class:`~compactifai.local.dispatch.InProcessCall`), so validation, errors, the
engine queue and usage are the chat route's own. The answer is one ``message`` output item
with one ``output_text`` part; a stream sends OpenAI's event types (``response.created``,
``response.output_text.delta``, ... ``response.completed``) as ``event:``/``data:`` pairs.

With ``store: true`` the finished response is kept (in the usage SQLite file) for
``GET /v1/responses/{id}``. What this server cannot do is refused with a 400 naming the field:
tools, ``file_id``, ``previous_response_id``, non-text input parts, a reasoning effort.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ..dispatch import InProcessCall
from ..errors import bad_request
from ..streaming import dumps
from ._common import json_response, state_of, user_id
from ._shapes import DetailError, detail_errors, parse_body, parse_model

__all__ = ["ResponsesRequest", "create_response", "retrieve_response"]

CHAT_PATH = "/v1/chat/completions"
#: Request fields the chat route's errors name, and what the caller called them here.
_PARAM_NAMES = {
    "messages": "input",
    "max_completion_tokens": "max_output_tokens",
    "response_format": "text.format",
}
#: Fields this route understands beyond the schema's declared ones.
_HANDLED = frozenset(
    {
        "instructions",
        "stream",
        "top_p",
        "metadata",
        "text",
        "reasoning",
        "user",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "truncation",
        "previous_response_id",
    }
)


class ResponsesRequest(BaseModel):
    """The body of ``POST /v1/responses`` (the service's declared fields; others allowed)."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    input: Any
    store: bool = False
    file_id: str | None = None
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    max_output_tokens: int | None = Field(default=None, ge=1, le=150_000)


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


def _text_of(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise bad_request(f"{where} must be a string or a list of content parts", param=where)
    texts: list[str] = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text") and isinstance(part.get("text"), str):
            texts.append(part["text"])
        else:
            raise bad_request(
                f"{where}[{j}] is a {kind or type(part).__name__!r} part; the local model "
                "reads text only (input_text)",
                param=f"{where}[{j}]",
            )
    return "".join(texts)


def _messages(body: dict[str, Any], req: ResponsesRequest) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = []
    instructions = body.get("instructions")
    if instructions is not None:
        if not isinstance(instructions, str):
            raise bad_request("instructions must be a string", param="instructions")
        messages.append({"role": "system", "content": instructions})
    if isinstance(req.input, str):
        messages.append({"role": "user", "content": req.input})
        return messages
    if not isinstance(req.input, list) or not req.input:
        raise bad_request("input must be a string or a non-empty list of messages", param="input")
    for i, item in enumerate(req.input):
        where = f"input[{i}]"
        if not isinstance(item, dict):
            raise bad_request(f"{where} must be a message object", param=where)
        kind = item.get("type", "message")
        role = item.get("role")
        if kind != "message" or role not in ("user", "assistant", "system", "developer"):
            raise bad_request(
                f"{where} is a {kind!r} item; the local server takes messages with role user, "
                "assistant, system or developer",
                param=where,
            )
        messages.append(
            {
                "role": "system" if role == "developer" else str(role),
                "content": _text_of(item.get("content"), f"{where}.content"),
            }
        )
    return messages


def _response_format(text: Any) -> dict[str, Any] | None:
    if text is None:
        return None
    fmt = text.get("format") if isinstance(text, dict) else None
    if fmt is None or (isinstance(fmt, dict) and fmt.get("type") == "text"):
        return None
    if isinstance(fmt, dict) and fmt.get("type") == "json_object":
        return {"type": "json_object"}
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        schema = {k: fmt[k] for k in ("name", "schema", "strict", "description") if k in fmt}
        return {"type": "json_schema", "json_schema": schema}
    raise bad_request(
        "text.format must be {'type': 'text'}, {'type': 'json_object'} or a json_schema format",
        param="text.format",
    )


def _refuse_unsupported(body: dict[str, Any], req: ResponsesRequest) -> None:
    declared = set(ResponsesRequest.model_fields)
    unknown = sorted(k for k in body if k not in declared and k not in _HANDLED)
    if unknown:
        raise bad_request(
            f"the local server does not support {', '.join(unknown)} on /v1/responses",
            param=unknown[0],
        )
    if req.file_id is not None:
        raise bad_request("file_id is not supported by the local server", param="file_id")
    if body.get("tools"):
        raise bad_request(
            "the local server's /v1/responses runs no tools; use /v1/chat/completions for "
            "tool calls",
            param="tools",
        )
    if body.get("tool_choice") not in (None, "none", "auto"):
        raise bad_request(
            "tool_choice needs tools, which this route does not run", param="tool_choice"
        )
    if body.get("previous_response_id") is not None:
        raise bad_request(
            "previous_response_id is not supported by the local server; send the earlier "
            "turns in input",
            param="previous_response_id",
        )
    reasoning = body.get("reasoning")
    if reasoning not in (None, {}) and not (
        isinstance(reasoning, dict) and reasoning.get("effort") in (None, "none")
    ):
        raise bad_request("the local model does not reason; leave reasoning out", param="reasoning")
    if body.get("truncation") not in (None, "disabled"):
        raise bad_request("truncation must be 'disabled' on the local server", param="truncation")
    metadata = body.get("metadata")
    if metadata is not None and not (
        isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())
    ):
        raise bad_request("metadata must map strings to strings", param="metadata")


def _chat_body(body: dict[str, Any], req: ResponsesRequest, stream: bool) -> dict[str, Any]:
    chat: dict[str, Any] = {"model": req.model, "messages": _messages(body, req)}
    if req.temperature is not None:
        chat["temperature"] = req.temperature
    if body.get("top_p") is not None:
        chat["top_p"] = body["top_p"]
    if req.max_output_tokens is not None:
        chat["max_completion_tokens"] = req.max_output_tokens
    fmt = _response_format(body.get("text"))
    if fmt is not None:
        chat["response_format"] = fmt
    if stream:
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    return chat


class _Shell:
    """The fields of one response that do not change while it is generated."""

    def __init__(self, body: dict[str, Any], req: ResponsesRequest) -> None:
        self.id = _new_id("resp")
        self.message_id = _new_id("msg")
        self.created_at = int(time.time())
        self.body = body
        self.req = req

    def doc(
        self,
        status: str,
        output: list[dict[str, Any]],
        usage: tuple[int, int] | None = None,
        finish: str | None = None,
        error: dict[str, Any] | None = None,
        model: str | None = None,
    ) -> dict[str, Any]:
        text = self.body.get("text") or {"format": {"type": "text"}}
        incomplete = {"reason": "max_output_tokens"} if finish == "length" else None
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "completed_at": int(time.time()) if status in ("completed", "incomplete") else None,
            "error": error,
            "incomplete_details": incomplete,
            "instructions": self.body.get("instructions"),
            "max_output_tokens": self.req.max_output_tokens,
            "model": model or self.req.model,
            "output": output,
            "parallel_tool_calls": False,
            "previous_response_id": None,
            "reasoning": None,
            "store": self.req.store,
            "temperature": self.req.temperature,
            "text": text,
            "tool_choice": self.body.get("tool_choice") or "none",
            "tools": [],
            "top_p": self.body.get("top_p"),
            "truncation": "disabled",
            "usage": None if usage is None else _usage(*usage),
            "user": self.body.get("user"),
            "metadata": self.body.get("metadata") or {},
        }

    def message(self, text: str, status: str) -> dict[str, Any]:
        content = [] if status == "in_progress" else [_text_part(text)]
        return {
            "id": self.message_id,
            "type": "message",
            "status": status,
            "role": "assistant",
            "content": content,
        }


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _usage(n_in: int, n_out: int) -> dict[str, Any]:
    return {
        "input_tokens": n_in,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": n_out,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": n_in + n_out,
    }


def _status_of(finish: str | None) -> str:
    return "incomplete" if finish == "length" else "completed"


def _chat_error(status: int, raw: bytes) -> Response:
    """The chat route's error, with its ``param`` named as this route's caller named it."""
    try:
        payload = json.loads(raw)
    except ValueError:
        return Response(raw, status_code=status, media_type="application/json")
    err = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(err, dict) and isinstance(err.get("param"), str):
        param = err["param"]
        head = param.partition(".")[0].split("[", 1)[0]
        if head in _PARAM_NAMES:
            err["param"] = _PARAM_NAMES[head] + param[len(head) :]
    return json_response(payload, status=status)


def _watch_disconnect(request: Request, event: asyncio.Event) -> asyncio.Task[None]:
    async def watch() -> None:
        while True:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                event.set()
                return

    return asyncio.ensure_future(watch())


@detail_errors
async def create_response(request: Request) -> Response:
    """POST /v1/responses."""
    state = state_of(request)
    body = await parse_body(request)
    req = parse_model(ResponsesRequest, body)
    assert isinstance(body, dict)
    _refuse_unsupported(body, req)
    stream = bool(body.get("stream"))
    chat = _chat_body(body, req, stream)
    shell = _Shell(body, req)
    owner = user_id(request)
    disconnect = asyncio.Event()
    call = InProcessCall(
        request.app, "POST", CHAT_PATH, dumps(chat), user_id=owner, disconnect=disconnect
    )
    watcher = _watch_disconnect(request, disconnect)
    try:
        status, _ = await call.start()
        if not stream or status != 200:
            raw = await call.read()
    except BaseException:
        watcher.cancel()
        await call.close()
        raise
    if not stream or status != 200:
        watcher.cancel()
        await call.close()
        if status != 200:
            return _chat_error(status, raw)
        answer = json.loads(raw)
        choice = answer["choices"][0]
        text = choice["message"].get("content") or ""
        finish = choice.get("finish_reason")
        usage = answer.get("usage") or {}
        tokens = (int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)))
        outcome = _status_of(finish)
        doc = shell.doc(
            outcome,
            [shell.message(text, "completed" if outcome == "completed" else "incomplete")],
            tokens,
            finish,
            model=answer.get("model"),
        )
        if req.store:
            state.jobs.add_response(owner, doc)
        return json_response(doc)
    watcher.cancel()  # the streaming response watches the client from here on
    return StreamingResponse(
        _events(call, shell, state.jobs if req.store else None, owner),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache"},
    )


def _event(kind: str, seq: int, **fields: Any) -> bytes:
    payload = {"type": kind, "sequence_number": seq, **fields}
    return b"event: " + kind.encode() + b"\ndata: " + dumps(payload) + b"\n\n"


async def _chat_events(call: InProcessCall) -> AsyncIterator[dict[str, Any]]:
    """The JSON events of the chat route's stream (until ``[DONE]``)."""
    buffer = b""
    async for chunk in call.chunks():
        buffer += chunk
        while b"\n\n" in buffer:
            frame, buffer = buffer.split(b"\n\n", 1)
            for line in frame.splitlines():
                if not line.startswith(b"data:"):
                    continue
                data = line[5:].strip()
                if data == b"[DONE]":
                    return
                yield json.loads(data)


async def _events(
    call: InProcessCall, shell: _Shell, store: Any, owner: str
) -> AsyncIterator[bytes]:
    seq = 0

    def nxt() -> int:
        nonlocal seq
        seq += 1
        return seq - 1

    item_id = shell.message_id
    where = {"item_id": item_id, "output_index": 0, "content_index": 0}
    try:
        yield _event("response.created", nxt(), response=shell.doc("in_progress", []))
        yield _event("response.in_progress", nxt(), response=shell.doc("in_progress", []))
        yield _event(
            "response.output_item.added",
            nxt(),
            output_index=0,
            item=shell.message("", "in_progress"),
        )
        yield _event("response.content_part.added", nxt(), part=_text_part(""), **where)
        pieces: list[str] = []
        finish: str | None = None
        tokens: tuple[int, int] | None = None
        model: str | None = None
        error: dict[str, Any] | None = None
        async for event in _chat_events(call):
            if "error" in event:
                err = event["error"] if isinstance(event["error"], dict) else {}
                error = {"code": "server_error", "message": str(err.get("message", err))}
                break
            model = event.get("model") or model
            if event.get("usage"):
                usage = event["usage"]
                tokens = (int(usage["prompt_tokens"]), int(usage["completion_tokens"]))
            for choice in event.get("choices") or ():
                delta = (choice.get("delta") or {}).get("content")
                if delta:
                    pieces.append(delta)
                    yield _event(
                        "response.output_text.delta", nxt(), delta=delta, logprobs=[], **where
                    )
                finish = choice.get("finish_reason") or finish
        text = "".join(pieces)
        if error is not None:
            failed = shell.doc("failed", [shell.message(text, "incomplete")], tokens, error=error)
            yield _event("response.failed", nxt(), response=failed)
            return
        status = _status_of(finish)
        item_status = "completed" if status == "completed" else "incomplete"
        yield _event("response.output_text.done", nxt(), text=text, logprobs=[], **where)
        yield _event("response.content_part.done", nxt(), part=_text_part(text), **where)
        item = shell.message(text, item_status)
        yield _event("response.output_item.done", nxt(), output_index=0, item=item)
        doc = shell.doc(status, [item], tokens, finish, model=model)
        if store is not None:
            store.add_response(owner, doc)
        yield _event(f"response.{status}", nxt(), response=doc)
    finally:
        await call.close()


@detail_errors
async def retrieve_response(request: Request) -> Response:
    """GET /v1/responses/{response_id}: a response stored with ``store: true``."""
    response_id = str(request.path_params["response_id"])
    doc = state_of(request).jobs.response(user_id(request), response_id)
    if doc is None:
        raise DetailError.not_found(
            f"No stored response with id '{response_id}' (only responses created with "
            "store: true are kept)"
        )
    return json_response(doc)
