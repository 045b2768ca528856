"""Files, batches and responses on both clients, through the real pipeline (MockTransport)."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from compactifai import (
    APIError,
    Batch,
    BatchList,
    FileObject,
    InternalServerError,
    InvalidRequestError,
    NotFoundError,
    ResponseDecodeError,
    ResponsesResult,
    StreamInterruptedError,
)
from tests.fake_jobs import FakeJobsServer, parse_multipart
from tests.helpers import Recorder, _Chunks, async_client, json_response, sse, sync_client

MODES = ["sync", "async"]

BATCH = {
    "id": "batch_1",
    "object": "batch",
    "endpoint": "/v1/chat/completions",
    "input_file_id": "file-1",
    "completion_window": "24h",
    "status": "validating",
    "created_at": 1,
    "request_counts": {"total": 2, "completed": 0, "failed": 0},
    "served_by": "eu-west",
}
RESPONSE = {
    "error": None,
    "incomplete_details": None,
    "id": "resp_1",
    "object": "response",
    "created_at": 1,
    "model": "m",
    "status": "completed",
    "parallel_tool_calls": False,
    "tool_choice": "auto",
    "tools": [],
    "output": [
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Hi!"}],
        }
    ],
    "usage": {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7},
}


def run(
    mode: str, handler: Any, method: str, *args: Any, client_kwargs: Any = None, **kwargs: Any
) -> Any:
    """Call ``method`` on a sync or async client served by ``handler``."""
    if mode == "sync":
        return getattr(sync_client(handler, **(client_kwargs or {})), method)(*args, **kwargs)

    async def go() -> Any:
        client = async_client(handler, **(client_kwargs or {}))
        return await getattr(client, method)(*args, **kwargs)

    return asyncio.run(go())


# ---------------------------------------------------------------- files


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", ["path", "bytes", "fileobj", "tuple"])
def test_upload_takes_a_path_bytes_a_file_or_a_tuple(mode: str, kind: str, tmp_path: Path) -> None:
    content = b'{"custom_id": "a"}\n'
    source = tmp_path / "in.jsonl"
    source.write_bytes(content)
    given: Any = {
        "path": source,
        "bytes": content,
        "fileobj": io.BytesIO(content),
        "tuple": ("in.jsonl", content),
    }[kind]
    fake = FakeJobsServer()
    got = run(
        mode,
        fake,
        "upload_file",
        given,
        purpose="batch",
        filename="in.jsonl" if kind in ("bytes", "fileobj") else None,
    )
    assert isinstance(got, FileObject) and got.id == "file-1" and got.bytes == len(content)
    fields, files = parse_multipart(fake.requests[0])
    assert fields == {"purpose": "batch"}
    assert files == {"file": ("in.jsonl", content)}


@pytest.mark.parametrize(
    "given,words",
    [
        (b"", "empty"),
        (io.StringIO("text"), "binary mode"),
        (42, "not int"),
    ],
)
def test_upload_refuses_what_cannot_be_sent(given: Any, words: str) -> None:
    client = sync_client(Recorder())
    with pytest.raises(InvalidRequestError, match=words):
        client.upload_file(given)


def test_upload_of_a_missing_path_says_which(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequestError, match="no file at"):
        sync_client(Recorder()).upload_file(tmp_path / "nope.jsonl")


@pytest.mark.parametrize("mode", MODES)
def test_an_unreadable_upload_answer_is_not_sent_again(mode: str) -> None:
    """The server may have stored the file: like chat, a POST is final once it may have acted."""
    handler = Recorder(httpx.Response(200, content=b"<html>oops"))
    with pytest.raises(ResponseDecodeError):
        run(
            mode, handler, "upload_file", b"x", filename="a.jsonl", client_kwargs={"max_retries": 3}
        )
    assert len(handler.requests) == 1


@pytest.mark.parametrize("mode", MODES)
def test_file_content_returns_the_bytes(mode: str) -> None:
    handler = Recorder(httpx.Response(200, content=b"line1\nline2\n"))
    assert run(mode, handler, "file_content", "file-9") == b"line1\nline2\n"
    assert handler.requests[0].url.path == "/v1/files/file-9/content"
    assert handler.requests[0].method == "GET"


@pytest.mark.parametrize("mode", MODES)
def test_download_streams_to_a_path_and_a_broken_read_starts_over(
    mode: str, tmp_path: Path
) -> None:
    class Broken(_Chunks):
        def __iter__(self):  # type: ignore[override]
            yield b"part"
            raise httpx.ReadError("reset")

        async def __aiter__(self):  # type: ignore[override]
            yield b"part"
            raise httpx.ReadError("reset")

    handler = Recorder(
        httpx.Response(200, stream=Broken([])),
        httpx.Response(200, stream=_Chunks([b"ab", b"cd", b"\n"])),
    )
    target = tmp_path / "out.jsonl"
    got = run(mode, handler, "download_file", "file-2", target, client_kwargs={"max_retries": 2})
    assert got == target and target.read_bytes() == b"abcd\n"
    assert len(handler.requests) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]  # no partial file left


@pytest.mark.parametrize("mode", MODES)
def test_a_failed_download_leaves_no_file(mode: str, tmp_path: Path) -> None:
    handler = Recorder(json_response({"detail": "File not found"}, 404))
    with pytest.raises(NotFoundError, match="File not found"):
        run(mode, handler, "download_file", "file-x", tmp_path / "out.jsonl")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- batches


@pytest.mark.parametrize("mode", MODES)
def test_create_batch_sends_the_documented_body(mode: str) -> None:
    handler = Recorder(json_response(BATCH))
    got = run(
        mode, handler, "create_batch", input_file_id="file-1", metadata={"description": "nightly"}
    )
    assert isinstance(got, Batch) and got.status == "validating"
    assert got.model_extra == {"served_by": "eu-west"}  # unknown fields kept
    assert handler.body() == {
        "input_file_id": "file-1",
        "endpoint": "/v1/chat/completions",
        "completion_window": "24h",
        "metadata": {"description": "nightly"},
    }


@pytest.mark.parametrize("mode", MODES)
def test_an_unreadable_create_answer_is_not_sent_again(mode: str) -> None:
    """A second batch would be billed again: one request, and the error is final."""
    handler = Recorder(httpx.Response(201, content=b"not json"))
    with pytest.raises(ResponseDecodeError) as caught:
        run(mode, handler, "create_batch", input_file_id="file-1", client_kwargs={"max_retries": 3})
    assert len(handler.requests) == 1 and caught.value.retryable is False


@pytest.mark.parametrize(
    "kwargs,param",
    [
        ({"endpoint": "/chat/completions"}, "endpoint"),
        ({"endpoint": "/v1/embeddings"}, "endpoint"),
        ({"completion_window": "48h"}, "completion_window"),
        ({"metadata": {"n": 3}}, "metadata"),
        ({"input_file_id": ""}, "input_file_id"),
    ],
)
def test_create_batch_refuses_bad_arguments_before_sending(
    kwargs: dict[str, Any], param: str
) -> None:
    handler = Recorder()
    args = {"input_file_id": "file-1", **kwargs}
    with pytest.raises(InvalidRequestError) as caught:
        sync_client(handler).create_batch(**args)
    assert caught.value.param == param and not handler.requests
    if kwargs.get("endpoint") == "/chat/completions":
        assert "/v1/chat/completions" in str(caught.value)


@pytest.mark.parametrize("mode", MODES)
def test_retrieve_and_cancel_batch(mode: str) -> None:
    done = {
        **BATCH,
        "status": "completed",
        "output_file_id": "file-2",
        "error_file_id": None,
        "usage": {"input_tokens": 10, "output_tokens": 4, "total_tokens": 14},
        "errors": {"object": "list", "data": [{"code": "x", "line": 2, "message": "bad"}]},
    }
    handler = Recorder(json_response(done))
    got = run(mode, handler, "retrieve_batch", "batch_1")
    assert got.is_terminal and got.output_file_id == "file-2" and got.usage.total_tokens == 14
    assert got.errors.data[0].line == 2
    assert handler.requests[0].url.path == "/v1/batches/batch_1"
    handler = Recorder(json_response({**BATCH, "status": "cancelling", "cancelling_at": 5}))
    got = run(mode, handler, "cancel_batch", "batch_1")
    assert got.status == "cancelling" and not got.is_terminal
    assert (handler.requests[0].method, handler.requests[0].url.path) == (
        "POST",
        "/v1/batches/batch_1/cancel",
    )


@pytest.mark.parametrize("mode", MODES)
def test_list_batches_sends_the_cursor_and_limit(mode: str) -> None:
    page = {
        "object": "list",
        "data": [BATCH],
        "has_more": False,
        "first_id": "batch_1",
        "last_id": "batch_1",
    }
    handler = Recorder(json_response(page))
    got = run(mode, handler, "list_batches", after="batch_0", limit=5)
    assert isinstance(got, BatchList) and [b.id for b in got.data] == ["batch_1"]
    assert dict(handler.requests[0].url.params) == {"after": "batch_0", "limit": "5"}


@pytest.mark.parametrize("limit", [0, 101, True, 2.5])
def test_list_limit_must_be_1_to_100(limit: Any) -> None:
    with pytest.raises(InvalidRequestError, match="limit"):
        sync_client(Recorder()).list_batches(limit=limit)
    with pytest.raises(InvalidRequestError, match="limit"):
        sync_client(Recorder()).iter_batches(limit=limit)


@pytest.mark.parametrize("mode", MODES)
def test_iter_batches_pages_until_the_end(mode: str) -> None:
    fake = FakeJobsServer()
    client = fake.sync_client()
    for _ in range(5):
        client.create_batch(input_file_id=client.upload_file(b"{}\n", filename="a.jsonl").id)
    if mode == "sync":
        ids = [b.id for b in fake.sync_client().iter_batches(limit=2)]
    else:

        async def go() -> list[str]:
            return [b.id async for b in fake.async_client().iter_batches(limit=2)]

        ids = asyncio.run(go())
    assert ids == ["batch_5", "batch_4", "batch_3", "batch_2", "batch_1"]
    pages = [r for r in fake.requests if r.method == "GET" and r.url.path == "/v1/batches"]
    assert [r.url.params.get("after") for r in pages] == [None, "batch_4", "batch_2"]


# ---------------------------------------------------------------- responses


@pytest.mark.parametrize("mode", MODES)
def test_create_response_sends_the_body_and_reads_the_result(mode: str) -> None:
    handler = Recorder(json_response({**RESPONSE, "new_field": 1}))
    got = run(
        mode,
        handler,
        "create_response",
        model="m",
        input="Say hi",
        store=True,
        max_output_tokens=20,
        text={"format": {"type": "text"}},
        tool_choice={"type": "function", "name": "f"},
    )
    assert isinstance(got, ResponsesResult) and got.output_text == "Hi!"
    assert got.usage.total_tokens == 7 and got.model_extra == {"new_field": 1}
    assert handler.body() == {
        "model": "m",
        "input": "Say hi",
        "store": True,
        "max_output_tokens": 20,
        "text": {"format": {"type": "text"}},
        "tool_choice": {"type": "function", "name": "f"},
    }


@pytest.mark.parametrize(
    "kwargs,param",
    [
        ({"input": ""}, "input"),
        ({"input": []}, "input"),
        ({"max_output_tokens": 150_001}, "max_output_tokens"),
        ({"temperature": 3}, "temperature"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_create_response_refuses_bad_arguments(kwargs: dict[str, Any], param: str) -> None:
    args: dict[str, Any] = {"model": "m", "input": "hi", **kwargs}
    with pytest.raises(InvalidRequestError) as caught:
        sync_client(Recorder()).create_response(**args)
    assert caught.value.param == param


@pytest.mark.parametrize("mode", MODES)
def test_retrieve_response(mode: str) -> None:
    handler = Recorder(json_response(RESPONSE))
    got = run(mode, handler, "retrieve_response", "resp_1")
    assert got.id == "resp_1" and handler.requests[0].url.path == "/v1/responses/resp_1"


EVENTS = [
    {"type": "response.created", "response": {"id": "resp_1", "status": "in_progress"}},
    {"type": "response.output_text.delta", "delta": "Hel"},
    {"type": "response.output_text.delta", "delta": "lo"},
    {"type": "response.completed", "response": RESPONSE},
]


def stream_events(mode: str, handler: Any, **client_kwargs: Any) -> list[dict[str, Any]]:
    if mode == "sync":
        client = sync_client(handler, **client_kwargs)
        return list(client.create_response_stream(model="m", input="hi"))

    async def go() -> list[dict[str, Any]]:
        client = async_client(handler, **client_kwargs)
        return [e async for e in client.create_response_stream(model="m", input="hi")]

    return asyncio.run(go())


@pytest.mark.parametrize("mode", MODES)
def test_a_response_stream_ends_at_its_last_event_without_done(mode: str) -> None:
    handler = Recorder(
        httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=sse(*EVENTS, done=False)
        )
    )
    events = stream_events(mode, handler)
    assert [e["type"] for e in events] == [e["type"] for e in EVENTS]
    assert handler.body()["stream"] is True and "stream_options" not in handler.body()


@pytest.mark.parametrize("mode", MODES)
def test_a_response_stream_cut_before_its_end_is_interrupted_and_not_resent(mode: str) -> None:
    handler = Recorder(
        httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=sse(*EVENTS[:2], done=False)
        )
    )
    with pytest.raises(StreamInterruptedError, match="after 2 event"):
        stream_events(mode, handler, max_retries=3)
    assert len(handler.requests) == 1


@pytest.mark.parametrize("mode", MODES)
def test_a_failed_response_event_raises_its_error(mode: str) -> None:
    failed = {
        "type": "response.failed",
        "response": {
            "id": "resp_1",
            "status": "failed",
            "error": {"code": "server_error", "message": "the model crashed"},
        },
    }
    handler = Recorder(
        httpx.Response(
            200,
            headers={"content-type": "text/event-stream"},
            content=sse(EVENTS[0], failed, done=False),
        )
    )
    with pytest.raises(APIError, match="the model crashed") as caught:
        stream_events(mode, handler, max_retries=3)
    assert caught.value.from_stream_event and caught.value.events_received == 1
    assert len(handler.requests) == 1


@pytest.mark.parametrize("mode", MODES)
def test_a_response_stream_is_retried_before_its_first_event(mode: str) -> None:
    handler = Recorder(
        json_response({"error": {"message": "busy", "type": "server_error"}}, 503),
        httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse(*EVENTS)),
    )
    assert len(stream_events(mode, handler, max_retries=1)) == 4
    assert len(handler.requests) == 2


def test_a_json_answer_to_a_stream_request_is_its_completed_event() -> None:
    handler = Recorder(json_response(RESPONSE))
    (event,) = stream_events("sync", handler)
    assert event == {"type": "response.completed", "response": RESPONSE}


def test_a_server_error_on_a_response_is_typed() -> None:
    handler = Recorder(json_response({"detail": "boom"}, 500))
    with pytest.raises(InternalServerError, match="boom"):
        sync_client(handler).create_response(model="m", input="hi")


def test_the_job_types_are_exported_from_types_and_the_package() -> None:
    import compactifai
    import compactifai.types as types

    for name in ("Batch", "BatchList", "FileObject", "ResponsesResult"):
        assert getattr(compactifai, name) is getattr(types, name)
    assert types.BatchRequestCounts().total == 0
    assert json.loads(Batch(id="b", status="completed").model_dump_json())["status"] == "completed"
