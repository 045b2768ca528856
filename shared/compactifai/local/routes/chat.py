"""``POST /v1/chat/completions``: text or one tool call, plain or streamed.

Every answer carries ``x-compactifai-tool-decision`` (who chose between a tool call and text,
see :mod:`compactifai.local.tool_choice`). A prompt that cannot fit the context is refused
from its size before it is tokenized; generation stops when the client goes away.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ...types import ChatCompletionRequest, ChunkDelta
from ..chat import ChatOutcome, run_chat
from ..engines.llama import LlamaEngine, PromptTooLong, Sampling
from ..errors import bad_request
from ..prompt import ChatMessage, normalize_messages, parse_tools
from ..streaming import DONE, ThreadStream, sse
from ..tool_choice import AutoMode, ToolDecision, plan_chat
from ..wire import chat_chunk, chat_completion, usage_chunk
from ._common import (
    chat_model,
    check_engine,
    error_event,
    job_error,
    json_response,
    new_id,
    run_job,
    state_of,
    stops,
    user_id,
    watch_disconnect,
)
from ._shapes import DetailError, detail_errors, parse_body, parse_model

__all__ = ["DECISION_HEADER", "DEFAULT_CHAT_MAX_TOKENS", "chat_completions"]

#: Chat answers stop here when the request sets no limit (SmolLM2 can ramble to the end of its
#: 4096-token context, which takes a minute on two cores).
DEFAULT_CHAT_MAX_TOKENS = 512
DECISION_HEADER = "x-compactifai-tool-decision"
#: The API reference's ceiling for ``max_tokens`` and ``max_completion_tokens``.
MAX_COMPLETION_TOKENS = 150_000


def _prompt_chars(messages: list[ChatMessage], tools: dict[str, dict[str, Any]]) -> int:
    total = sum(len(m.content) + sum(len(c["arguments"]) for c in m.tool_calls) for m in messages)
    return total + sum(len(str(fn)) for fn in tools.values())


#: The reasoning efforts the local chat model implements: it does not reason at all.
LOCAL_REASONING_EFFORTS = ("none",)


def check_reasoning(model_id: str, effort: str | None, enabled: bool | None) -> None:
    """Refuse reasoning the model cannot do, as the service refuses a level a model does not
    implement (a 400 naming the levels it does). SmolLM2-135M has no reasoning: ``"none"``
    and ``reasoning_enabled=false`` are what it does anyway, and its answers never carry
    ``reasoning_content``."""
    if effort is not None and effort not in LOCAL_REASONING_EFFORTS:
        raise bad_request(
            f"Invalid request: model '{model_id}' does not support reasoning_effort "
            f"'{effort}'; supported: [{', '.join(LOCAL_REASONING_EFFORTS)}] (it does not reason)",
            param="reasoning_effort",
            code="unsupported_reasoning_effort",
        )
    if enabled:
        raise bad_request(
            f"Invalid request: model '{model_id}' has no reasoning to enable; send "
            "reasoning_enabled=false or leave it out",
            param="reasoning_enabled",
            code="unsupported_reasoning",
        )


def check_size(engine: LlamaEngine, chars: int, param: str) -> None:
    """Refuse a prompt that cannot fit the context, from its size alone (no tokenizing)."""
    at_least = engine.min_tokens(chars)
    if at_least >= engine.n_ctx:
        raise bad_request(
            f"{PromptTooLong(at_least, engine.n_ctx)} (at least {at_least} tokens, "
            f"counted from its {chars} characters)",
            code="context_length_exceeded",
            param=param,
        )


def schema_limits(req: BaseModel) -> None:
    """The OpenAPI's bounds the shared request type does not hold, refused as FastAPI does
    (422): ``top_p`` above 0, token counts up to :data:`MAX_COMPLETION_TOKENS`."""
    problems: list[dict[str, Any]] = []
    top_p = getattr(req, "top_p", None)
    if top_p is not None and top_p <= 0:
        problems.append({"type": "greater_than", "loc": ["body", "top_p"],
                         "msg": "Input should be greater than 0", "input": top_p,
                         "ctx": {"gt": 0.0}})
    for name in ("max_tokens", "max_completion_tokens"):
        value = getattr(req, name, None)
        if value is not None and value > MAX_COMPLETION_TOKENS:
            problems.append({"type": "less_than_equal", "loc": ["body", name],
                             "msg": f"Input should be less than or equal to "
                             f"{MAX_COMPLETION_TOKENS}", "input": value,
                             "ctx": {"le": MAX_COMPLETION_TOKENS}})
    if problems:
        raise DetailError.invalid(problems)


@detail_errors
async def chat_completions(request: Request) -> Response:
    """POST /v1/chat/completions.

    A body that breaks the request schema is FastAPI's 422 (``{"detail": [...]}``), as the
    service answers; an unknown model is a 400 listing the available ids; ``reasoning_effort``
    other than "none" and ``reasoning_enabled=true`` are refused (:func:`check_reasoning`);
    ``min_tokens`` and ``ignore_eos`` hold off the end of a text answer.
    """
    state = state_of(request)
    req = parse_model(ChatCompletionRequest, await parse_body(request))
    schema_limits(req)
    model = chat_model(req.model)
    check_reasoning(model.id, req.reasoning_effort, req.reasoning_enabled)
    messages = normalize_messages(req.messages, model.id)
    tools = parse_tools(req.tools)
    sampling = Sampling(
        temperature=1.0 if req.temperature is None else req.temperature,
        top_p=1.0 if req.top_p is None else req.top_p,
        max_tokens=req.max_completion_tokens or req.max_tokens or DEFAULT_CHAT_MAX_TOKENS,
        stop=stops(req.stop),
        frequency_penalty=req.frequency_penalty or 0.0,
        presence_penalty=req.presence_penalty or 0.0,
        seed=req.seed,
        min_tokens=req.min_tokens or 0,
        ignore_eos=bool(req.ignore_eos),
    )
    auto_mode: AutoMode = "keyword" if state.settings.auto_tool_choice == "keyword" else "model"
    plan = plan_chat(messages, tools, req.tool_choice, sampling, req.response_format, auto_mode)
    engine = state.llama
    check_engine(engine, "chat")
    check_size(engine, _prompt_chars(messages, plan.tools), "messages")
    uid = user_id(request)
    completion_id = new_id("chatcmpl")
    created = int(time.time())

    def job(
        emit: Callable[[Any], None], ready: Callable[[Any], None], cancel: threading.Event
    ) -> ChatOutcome:
        if cancel.is_set():  # the client left while the request waited for the model
            raise bad_request("the client disconnected before generation started")
        out = run_chat(engine, plan, on_piece=emit, on_ready=ready, cancel=cancel)
        state.store.record(uid, model.id, out.prompt_tokens, out.completion_tokens)
        return out

    if not req.stream:
        try:
            out = await run_job(request, engine.runner, job)
        except Exception as exc:
            raise job_error(exc, "chat") from exc
        payload = chat_completion(
            completion_id,
            created,
            model.id,
            out.content,
            out.finish_reason,
            out.prompt_tokens,
            out.completion_tokens,
            out.tool_call,
        )
        return json_response(payload, headers={DECISION_HEADER: out.decision.header()})

    cancel = threading.Event()
    stream: ThreadStream[ChatOutcome] = ThreadStream(engine.runner, job, cancel)
    watcher = watch_disconnect(request, cancel)
    try:
        decision = await stream.started()
    except Exception as exc:
        raise job_error(exc, "chat") from exc
    finally:
        watcher.cancel()
    include_usage = bool((req.stream_options or {}).get("include_usage"))
    headers = {"cache-control": "no-cache"}
    if isinstance(decision, ToolDecision):
        headers[DECISION_HEADER] = decision.header()
    return StreamingResponse(
        _events(stream, completion_id, created, model.id, include_usage),
        media_type="text/event-stream",
        headers=headers,
    )


async def _events(
    stream: ThreadStream[ChatOutcome],
    completion_id: str,
    created: int,
    model_id: str,
    include_usage: bool,
) -> AsyncIterator[bytes]:
    def chunk(delta: ChunkDelta, finish: str | None = None) -> bytes:
        return sse(chat_chunk(completion_id, created, model_id, delta, finish))

    try:
        yield chunk({"role": "assistant", "content": ""})
        async for piece in stream.pieces():
            yield chunk({"content": piece})
        try:
            out = await stream.result()
        except Exception as exc:
            yield error_event(job_error(exc, "chat"))
            return
        if out.tool_call is not None:
            call = out.tool_call
            yield chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": call["id"],
                            "type": "function",
                            "function": {"name": call["name"], "arguments": ""},
                        }
                    ]
                }
            )
            for piece in out.argument_pieces:
                yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
        yield chunk({}, out.finish_reason)
        if include_usage:
            yield sse(
                usage_chunk(
                    completion_id,
                    created,
                    model_id,
                    out.prompt_tokens,
                    out.completion_tokens,
                    "chat.completion.chunk",
                )
            )
        yield DONE
    finally:
        stream.close()
