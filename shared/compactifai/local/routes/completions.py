"""``POST /v1/completions``: one choice per prompt, in order, plain or streamed."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ...types import CompletionRequest
from ..engines.llama import GenerationResult, Sampling
from ..errors import bad_request
from ..streaming import DONE, ThreadStream, sse
from ..wire import completion, completion_chunk, usage_chunk
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
from ._shapes import detail_errors, parse_body, parse_model
from .chat import check_size, schema_limits

__all__ = ["completions"]


def _finish(res: GenerationResult) -> str:
    return "length" if res.finish_reason == "length" else "stop"


@detail_errors
async def completions(request: Request) -> Response:
    """POST /v1/completions (a body that breaks the request schema is FastAPI's 422, as the
    service answers; an unknown model is a 400 listing the available ids)."""
    state = state_of(request)
    body = await parse_body(request)
    n = body.get("n") if isinstance(body, dict) else None
    if isinstance(n, int) and not isinstance(n, bool) and n > 1:
        raise bad_request("n must be 1: send a list of prompts for several choices", param="n")
    req = parse_model(CompletionRequest, body)
    schema_limits(req)
    model = chat_model(req.model)
    prompts = [req.prompt] if isinstance(req.prompt, str) else list(req.prompt)
    if not prompts or prompts == [""]:
        raise bad_request("prompt must be a string or a non-empty list of strings", param="prompt")
    sampling = Sampling(
        temperature=1.0 if req.temperature is None else req.temperature,
        top_p=1.0 if req.top_p is None else req.top_p,
        max_tokens=16 if req.max_tokens is None else req.max_tokens,
        stop=stops(req.stop),
        seed=req.seed,
    )
    engine = state.llama
    check_engine(engine, "completions")
    for text in prompts:
        check_size(engine, len(text), "prompt")
    uid = user_id(request)
    completion_id = new_id("cmpl")
    created = int(time.time())
    streaming = req.stream

    def job(
        emit: Callable[[Any], None], ready: Callable[[Any], None], cancel: threading.Event
    ) -> list[GenerationResult]:
        if cancel.is_set():
            raise bad_request("the client disconnected before generation started")
        parts = [[(p, True)] for p in prompts]
        for part in parts:
            engine.check_prompt(part)
        ready(None)
        results: list[GenerationResult] = []
        try:
            for i, part in enumerate(parts):
                if cancel.is_set():
                    break
                on_piece = (lambda s, i=i: emit((i, s, None))) if streaming else None
                res = engine.generate(part, sampling, on_piece=on_piece, cancel=cancel)
                results.append(res)
                if streaming:
                    emit((i, "", _finish(res)))
        finally:
            state.store.record(
                uid,
                model.id,
                sum(r.prompt_tokens for r in results),
                sum(r.completion_tokens for r in results),
            )
        return results

    if not streaming:
        try:
            results = await run_job(request, engine.runner, job)
        except Exception as exc:
            raise job_error(exc, "completions", param="prompt") from exc
        n_in = sum(r.prompt_tokens for r in results)
        n_out = sum(r.completion_tokens for r in results)
        texts = [(r.text, _finish(r)) for r in results]
        return json_response(completion(completion_id, created, model.id, texts, n_in, n_out))

    cancel = threading.Event()
    stream: ThreadStream[list[GenerationResult]] = ThreadStream(engine.runner, job, cancel)
    watcher = watch_disconnect(request, cancel)
    try:
        await stream.started()
    except Exception as exc:
        raise job_error(exc, "completions", param="prompt") from exc
    finally:
        watcher.cancel()
    include_usage = bool((req.stream_options or {}).get("include_usage"))
    return StreamingResponse(
        _events(stream, completion_id, created, model.id, include_usage),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache"},
    )


async def _events(
    stream: ThreadStream[list[GenerationResult]],
    completion_id: str,
    created: int,
    model_id: str,
    include_usage: bool,
) -> AsyncIterator[bytes]:
    try:
        async for index, text, finish in stream.pieces():
            yield sse(completion_chunk(completion_id, created, model_id, index, text, finish))
        try:
            results = await stream.result()
        except Exception as exc:
            yield error_event(job_error(exc, "completions", param="prompt"))
            return
        if include_usage:
            n_in = sum(r.prompt_tokens for r in results)
            n_out = sum(r.completion_tokens for r in results)
            yield sse(usage_chunk(completion_id, created, model_id, n_in, n_out, "text_completion"))
        yield DONE
    finally:
        stream.close()
