"""``/v1/batches``: create, retrieve, list (cursor ``after``, ``limit`` 1-100) and cancel.

The work itself is done by :class:`~compactifai.local.batch_worker.BatchWorker`. A body that
breaks ``BatchCreateParams`` is FastAPI's 422; an input file that is missing, or not a batch
file, and an endpoint this server does not serve are 400 error objects; an unknown batch id is
a bare 404 ``detail``. Batches are visible only to the key that created them.
"""

from __future__ import annotations

import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from ..batch_worker import BATCH_ENDPOINTS, new_batch
from ..errors import bad_request
from ._common import json_response, state_of, user_id
from ._shapes import DetailError, detail_errors, parse_body, parse_model

__all__ = ["cancel_batch", "create_batch", "list_batches", "retrieve_batch"]


class _OutputExpiresAfter(BaseModel):
    anchor: Literal["created_at"]
    seconds: int


class BatchCreateParams(BaseModel):
    """The body of ``POST /v1/batches`` (the service's OpenAPI schema)."""

    model_config = ConfigDict(extra="allow")

    completion_window: Literal["24h"]
    endpoint: Literal["/v1/responses", "/v1/chat/completions", "/v1/embeddings", "/v1/completions"]
    input_file_id: str
    metadata: dict[str, str] | None = None
    output_expires_after: _OutputExpiresAfter | None = None


class _ListQuery(BaseModel):
    after: str | None = None
    limit: int = Field(default=20, ge=1, le=100)


def _no_batch(batch_id: str) -> DetailError:
    return DetailError.not_found(f"No batch with id '{batch_id}'")


@detail_errors
async def create_batch(request: Request) -> Response:
    """POST /v1/batches: a new batch, status ``validating`` (201)."""
    state = state_of(request)
    params = parse_model(BatchCreateParams, await parse_body(request))
    if params.endpoint not in BATCH_ENDPOINTS:
        raise bad_request(
            f"this server has no {params.endpoint} route; a batch may target "
            + ", ".join(BATCH_ENDPOINTS),
            param="endpoint",
        )
    if params.metadata is not None and len(params.metadata) > 16:
        raise bad_request("metadata holds at most 16 keys", param="metadata")
    unknown = sorted(params.model_extra or {})
    if unknown:
        raise bad_request(
            f"unknown field(s) {', '.join(unknown)} in the batch request (BatchCreateParams has "
            "input_file_id, endpoint, completion_window, metadata, output_expires_after)",
            param=unknown[0],
        )
    owner = user_id(request)
    file = state.jobs.file(owner, params.input_file_id)
    if file is None:
        raise bad_request(
            f"input_file_id '{params.input_file_id}' does not name one of your files "
            "(upload it with POST /v1/files, purpose 'batch')",
            param="input_file_id",
            code="file_not_found",
        )
    if file["purpose"] != "batch":
        raise bad_request(
            f"file '{params.input_file_id}' was uploaded with purpose '{file['purpose']}'; "
            "a batch input file needs purpose 'batch'",
            param="input_file_id",
        )
    doc = new_batch(params.input_file_id, params.endpoint, params.metadata)
    if params.output_expires_after is not None:
        # Kept on the batch so the caller sees it; this server's files do not expire.
        doc["output_expires_after"] = params.output_expires_after.model_dump()
    state.jobs.add_batch(owner, doc)
    state.batch_worker.notify()
    return json_response(doc, status=201)


def _batch_id(request: Request) -> str:
    return str(request.path_params["batch_id"])


@detail_errors
async def retrieve_batch(request: Request) -> Response:
    """GET /v1/batches/{batch_id}: the batch's current state."""
    batch_id = _batch_id(request)
    doc = state_of(request).jobs.batch(user_id(request), batch_id)
    if doc is None:
        raise _no_batch(batch_id)
    return json_response(doc)


@detail_errors
async def list_batches(request: Request) -> Response:
    """GET /v1/batches: the caller's batches, newest first (OpenAI's list envelope)."""
    jobs = state_of(request).jobs
    query = parse_model(_ListQuery, dict(request.query_params), where="query")
    owner = user_id(request)
    before: int | None = None
    if query.after:
        before = jobs.batch_seq(owner, query.after)
        if before is None:
            raise bad_request(
                f"after '{query.after}' is not one of your batch ids (pass the last_id of "
                "the previous page)",
                param="after",
            )
    docs, has_more = jobs.list_batches(owner, query.limit, before)
    return json_response(
        {
            "object": "list",
            "data": docs,
            "has_more": has_more,
            "first_id": docs[0]["id"] if docs else None,
            "last_id": docs[-1]["id"] if docs else None,
        }
    )


@detail_errors
async def cancel_batch(request: Request) -> Response:
    """POST /v1/batches/{batch_id}/cancel: ``cancelling`` at once, ``cancelled`` soon after."""
    state = state_of(request)
    batch_id = _batch_id(request)
    owner = user_id(request)
    doc = state.jobs.batch(owner, batch_id)
    if doc is None:
        raise _no_batch(batch_id)
    moved = state.jobs.update_batch(
        batch_id,
        {"status": "cancelling", "cancelling_at": int(time.time())},
        only_if=("validating", "in_progress"),
    )
    if moved is not None:
        state.batch_worker.interrupt(batch_id)
        state.batch_worker.notify()
        return json_response(moved)
    doc = state.jobs.batch(owner, batch_id) or doc
    if doc["status"] in ("cancelling", "cancelled"):
        return json_response(doc)
    raise bad_request(
        f"batch '{batch_id}' is {doc['status']}; only a validating or in_progress batch can "
        "be cancelled",
        code="batch_not_cancellable",
    )
