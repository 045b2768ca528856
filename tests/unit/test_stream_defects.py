"""Defects found by outside review, one test (or more) each: streams, errors, arguments.

Every test here failed before its fix. Transport: ``httpx.MockTransport`` (see
``test_connection_reuse.py`` for the tests against a real local server).
"""

from __future__ import annotations

import logging
import zoneinfo
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx
import pytest

from compactifai import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    CompactifAIError,
    InternalServerError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    ResponseDecodeError,
    StreamInterruptedError,
)
from compactifai._sse import ServerSentEvent, SSEDecoder
from tests.helpers import BASE_URL, Recorder, _Chunks, async_client, json_response, sse, sync_client
from tests.unit import reference_examples as ref

KEY = "sk-test-123456"  # the key tests.helpers' clients carry
CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
COMPLETION = {"model": "m", "prompt": "Once"}


def chunk(content: str | None = "x", finish: str | None = None, index: int = 0) -> dict[str, Any]:
    delta = {} if content is None else {"content": content}
    return {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": index, "delta": delta, "finish_reason": finish}]}


USAGE = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
         "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}
ANSWER = {
    "id": "c1", "object": "chat.completion", "created": 7, "model": "m",
    "system_fingerprint": "fp1",
    "choices": [{
        "index": 0, "finish_reason": "tool_calls",
        "message": {
            "role": "assistant", "content": "hello", "refusal": None,
            "tool_calls": [{"id": "call_1", "type": "function",
                            "function": {"name": "get_weather",
                                         "arguments": '{"city": "Paris"}'}}],
        },
    }],
    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
}
TEXT_ANSWER = {"id": "t1", "object": "text_completion", "created": 7, "model": "m",
               "choices": [{"index": 0, "text": "upon a time", "finish_reason": "stop"}],
               "usage": {"prompt_tokens": 1, "completion_tokens": 3, "total_tokens": 4}}


def stream_response(body: bytes | list[bytes], **headers: str) -> httpx.Response:
    headers = {"content-type": "text/event-stream", **headers}
    if isinstance(body, bytes):
        return httpx.Response(200, headers=headers, content=body)
    return httpx.Response(200, headers=headers, stream=_Chunks(body))


def collect(client: Any, **kwargs: Any) -> list[dict[str, Any]]:
    return list(client.chat_completion_stream(**{**CHAT, **kwargs}))


async def acollect(client: Any, **kwargs: Any) -> list[dict[str, Any]]:
    return [c async for c in client.chat_completion_stream(**{**CHAT, **kwargs})]


def no_key(err: BaseException) -> None:
    for text in (str(err), repr(err)):
        assert KEY not in text


# ---------------------------------------------------------------- 2. data-less SSE blocks


def decode(*chunks: bytes) -> list[ServerSentEvent]:
    d = SSEDecoder()
    return [e for c in chunks for e in d.feed(c)] + d.flush()


def test_a_block_without_data_dispatches_nothing_and_resets_its_fields() -> None:
    assert decode(b"event: ping\n\ndata: x\n\n") == [ServerSentEvent("message", "x", None, None)]
    assert decode(b"event: ping\nretry: 10\n\ndata: x\n\n")[0].retry is None
    assert decode(b"event: ping\n\n") == []
    assert decode(b"event: ping\nid: 3\n\n", b"data: y\n\n") == [
        ServerSentEvent("message", "y", "3", None)]  # the last event id persists, per the spec


def test_a_ping_event_mid_stream_is_not_a_broken_stream() -> None:
    body = sse(chunk("a"), done=False) + b"event: ping\n\n" + sse(chunk("b"))
    client = sync_client(Recorder(stream_response(body)))
    assert [c["choices"][0]["delta"]["content"] for c in collect(client)] == ["a", "b"]


# ---------------------------------------------------------------- 3. JSON answer to a stream


def test_a_json_chat_answer_to_a_stream_request_is_one_chunk() -> None:
    rec = Recorder(json_response(ANSWER))
    (got,) = collect(sync_client(rec))
    assert rec.body()["stream"] is True
    assert got["object"] == "chat.completion.chunk"
    assert got["id"] == "c1" and got["model"] == "m" and got["system_fingerprint"] == "fp1"
    assert got["usage"] == ANSWER["usage"]
    (choice,) = got["choices"]
    assert choice["index"] == 0 and choice["finish_reason"] == "tool_calls"
    assert "message" not in choice
    delta = choice["delta"]
    assert delta["role"] == "assistant" and delta["content"] == "hello"
    assert "refusal" not in delta  # nulls are not sent in deltas
    assert delta["tool_calls"] == [{"index": 0, "id": "call_1", "type": "function",
                                    "function": {"name": "get_weather",
                                                 "arguments": '{"city": "Paris"}'}}]


async def test_async_json_answers_to_stream_requests() -> None:
    client = async_client(Recorder(json_response(ANSWER)))
    (got,) = await acollect(client)
    assert got["choices"][0]["delta"]["content"] == "hello"
    client = async_client(Recorder(json_response(TEXT_ANSWER)))
    assert [c async for c in client.completion_stream(**COMPLETION)] == [TEXT_ANSWER]


def test_a_json_text_completion_is_already_a_chunk() -> None:
    client = sync_client(Recorder(json_response(TEXT_ANSWER)))
    assert list(client.completion_stream(**COMPLETION)) == [TEXT_ANSWER]


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_a_json_error_answer_to_a_stream_request_is_typed(asynchronous: bool) -> None:
    body = {"error": {"message": "no such model", "code": 404}}
    rec = Recorder(json_response(body, **{"x-request-id": "req-9"}))
    with pytest.raises(NotFoundError, match="no such model") as info:
        if asynchronous:
            await acollect(async_client(rec, max_retries=2))
        else:
            collect(sync_client(rec, max_retries=2))
    assert info.value.request_id == "req-9" and info.value.body == body
    assert not info.value.from_stream_event and len(rec.requests) == 1


def test_langchain_streams_a_json_answer() -> None:
    from langchain_compactifai import ChatCompactifAI, CompactifAI

    def model(cls: Any, answer: dict[str, Any]) -> Any:
        return cls(api_key=KEY, base_url=BASE_URL, max_retries=0, http_client=httpx.Client(
            transport=httpx.MockTransport(Recorder(json_response(answer)))))

    chat = model(ChatCompactifAI, ANSWER)
    chunks = list(chat.stream("hi"))
    whole = chunks[0]
    for piece in chunks[1:]:
        whole += piece
    assert whole.content == "hello"
    assert [(c["name"], c["args"], c["id"]) for c in whole.tool_calls] == [
        ("get_weather", {"city": "Paris"}, "call_1")]
    assert whole.usage_metadata is not None and whole.usage_metadata["total_tokens"] == 5
    assert whole.response_metadata["finish_reason"] == "tool_calls"
    assert "".join(model(CompactifAI, TEXT_ANSWER).stream("Once")) == "upon a time"


def test_llama_index_streams_a_json_answer() -> None:
    from llama_index.core.base.llms.types import ChatMessage

    from llama_index_compactifai import CompactifAI

    llm = CompactifAI(api_key=KEY, base_url=BASE_URL, max_retries=0, model="m",
                      http_client=httpx.Client(transport=httpx.MockTransport(
                          Recorder(json_response(ANSWER)))))
    *_, last = llm.stream_chat([ChatMessage(role="user", content="hi")])
    assert last.message.content == "hello"
    (call,) = llm.get_tool_calls_from_response(last)
    assert (call.tool_id, call.tool_name, call.tool_kwargs) == (
        "call_1", "get_weather", {"city": "Paris"})


# ---------------------------------------------------------------- 4. the end without [DONE]


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_no_done_after_every_finish_reason_is_complete(
    asynchronous: bool, caplog: pytest.LogCaptureFixture
) -> None:
    events = (chunk("Hel"), chunk("lo", "stop"), USAGE)
    rec = Recorder(stream_response(sse(*events, done=False)))
    with caplog.at_level(logging.DEBUG, logger="compactifai"):
        got = await acollect(async_client(rec)) if asynchronous else collect(sync_client(rec))
    assert got == list(events)
    assert "without [DONE]" in caplog.text and "complete" in caplog.text


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_no_done_and_no_finish_reason_says_exactly_that(asynchronous: bool) -> None:
    rec = Recorder(stream_response(sse(chunk("a"), chunk("b"), done=False)))
    got: list[dict[str, Any]] = []
    with pytest.raises(StreamInterruptedError) as info:
        if asynchronous:
            async for c in async_client(rec).chat_completion_stream(**CHAT):
                got.append(c)
        else:
            got.extend(c for c in sync_client(rec).chat_completion_stream(**CHAT))
    assert len(got) == 2 and info.value.events_received == 2
    assert ("the connection closed after 2 event(s) without [DONE] and before any "
            "finish_reason") in str(info.value)


def test_no_done_before_every_choice_finished_is_partial() -> None:
    events = (chunk("a", "stop", index=0), chunk("b", index=1))
    client = sync_client(Recorder(stream_response(sse(*events, done=False))))
    with pytest.raises(StreamInterruptedError, match="before every choice had a finish_reason"):
        list(client.completion_stream(model="m", prompt=["a", "b"]))


def test_a_stream_with_no_event_at_all_is_a_decode_error() -> None:
    client = sync_client(Recorder(stream_response(b": keep-alive\n\n")))
    with pytest.raises(ResponseDecodeError, match="without any event"):
        collect(client)


# ---------------------------------------------------------------- missing trailing blank line


@pytest.mark.parametrize("asynchronous", [False, True])
@pytest.mark.parametrize("split", [False, True])
async def test_a_final_event_without_its_blank_line_still_counts(
    asynchronous: bool, split: bool
) -> None:
    cases = [  # (body, what the caller gets)
        (sse(chunk("a")).rstrip(b"\n"), [chunk("a")]),  # "data: [DONE]" with no blank line
        (sse(chunk("a"), chunk("b", "stop"), done=False).rstrip(b"\n"),
         [chunk("a"), chunk("b", "stop")]),  # the finishing chunk, then nothing
    ]
    for body, expected in cases:
        pieces = [body[i:i + 5] for i in range(0, len(body), 5)] if split else body
        rec = Recorder(stream_response(pieces))
        got = await acollect(async_client(rec)) if asynchronous else collect(sync_client(rec))
        assert got == expected


# ---------------------------------------------------------------- 5. the request id, once


@pytest.mark.parametrize("asynchronous", [False, True])
@pytest.mark.parametrize("tail", [b"", b"data: {not json\n\n", b"data: [1]\n\n"])
async def test_an_interrupted_stream_names_its_request_id_once(
    asynchronous: bool, tail: bytes
) -> None:
    body = sse(chunk("a"), done=False) + tail
    rec = Recorder(stream_response(body, **{"x-request-id": "req-42"}))
    with pytest.raises(StreamInterruptedError) as info:
        await acollect(async_client(rec)) if asynchronous else collect(sync_client(rec))
    assert info.value.request_id == "req-42"
    assert str(info.value).count("req-42") == 1


# ---------------------------------------------------------------- 7. empty transport messages


class _BreaksAfter(httpx.SyncByteStream, httpx.AsyncByteStream):
    """One event, then ``exc`` (raised from ``inner``, as a real network failure is)."""

    def __init__(self, exc: Exception, inner: BaseException | None = None) -> None:
        self.exc, self.inner = exc, inner

    def _fail(self) -> None:
        if self.inner is None:
            raise self.exc
        raise self.exc from self.inner

    def __iter__(self) -> Iterator[bytes]:
        yield sse(chunk("a"), done=False)
        self._fail()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield sse(chunk("a"), done=False)
        self._fail()


@pytest.mark.parametrize("asynchronous", [False, True])
@pytest.mark.parametrize(
    ("inner", "words"),
    [
        (ConnectionResetError(104, "Connection reset by peer"),
         "(ConnectionResetError: [Errno 104] Connection reset by peer)"),
        (anyio.BrokenResourceError(), "(BrokenResourceError)"),
        (None, "reset or closed by the server"),
    ],
)
async def test_a_mid_stream_error_without_a_message_is_named(
    asynchronous: bool, inner: BaseException | None, words: str
) -> None:
    rec = Recorder(httpx.Response(200, headers={"content-type": "text/event-stream"},
                                  stream=_BreaksAfter(httpx.ReadError(""), inner)))
    with pytest.raises(StreamInterruptedError) as info:
        await acollect(async_client(rec)) if asynchronous else collect(sync_client(rec))
    message = str(info.value)
    assert "after 1 event(s)" in message and "partial" in message
    assert "ReadError: the connection was reset or closed by the server" in message
    assert words in message
    assert not message.rstrip().endswith(":")


def test_a_request_error_without_a_message_is_named() -> None:
    client = sync_client(Recorder(httpx.ConnectError("")))
    with pytest.raises(APIConnectionError, match="ConnectError: could not connect"):
        client.list_models()
    client = sync_client(Recorder(httpx.ReadTimeout("")))
    with pytest.raises(APITimeoutError, match="ReadTimeout: no answer in time"):
        client.list_models()


# ---------------------------------------------------------------- 8. HTML error pages

NGINX_502 = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
             b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
             b"</body>\r\n</html>\r\n" + b"<!-- padding -->\r\n" * 40)


@pytest.mark.parametrize("content_type", ["text/html", None])
def test_an_html_error_page_gives_a_short_message(content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    client = sync_client(Recorder(httpx.Response(502, content=NGINX_502, headers=headers)))
    with pytest.raises(InternalServerError) as info:
        client.list_models()
    sent_id = info.value.request_id  # the page carries none: the id we sent is kept
    assert sent_id and len(sent_id) == 32
    assert str(info.value) == (
        f"502 Bad Gateway: the server answered with an HTML page (HTTP 502, request id {sent_id})"
    )
    assert info.value.body == NGINX_502.decode()  # the page itself, for those who want it


def test_an_html_page_without_title_is_summed_up_briefly() -> None:
    page = (b"<!DOCTYPE html><html><head><style>body {color: red}</style></head><body><p>"
            b"Service temporarily &amp; unexpectedly down</p>" + b"<p>x</p>" * 500
            + b"</body></html>")
    client = sync_client(Recorder(httpx.Response(503, content=page)))
    with pytest.raises(InternalServerError) as info:
        collect(client)
    message = info.value.message
    assert message.startswith("503 Service Unavailable: the server answered with an HTML page")
    assert "Service temporarily & unexpectedly down" in message
    assert "<" not in message and "color" not in message and len(message) < 250


# ---------------------------------------------------------------- 10. time zones


@pytest.fixture
def no_tz_database(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(key: str) -> Any:
        raise zoneinfo.ZoneInfoNotFoundError(f"No time zone found with key {key}")

    monkeypatch.setattr(zoneinfo, "ZoneInfo", missing)


STATS = {"start_time": "2025-04-08T00:00:00Z"}


@pytest.mark.usefixtures("no_tz_database")
@pytest.mark.parametrize("name", ["UTC", "Etc/UTC", "Etc/GMT-2", "Etc/GMT+12", "Europe/Madrid"])
def test_usage_time_zones_work_without_a_tz_database(name: str) -> None:
    rec = Recorder(json_response(ref.USAGE_STATISTICS))
    sync_client(rec).usage_statistics(**STATS, window_timezone=name)
    assert rec.body()["window_timezone"] == name


@pytest.mark.parametrize("missing_db", [False, True])
@pytest.mark.parametrize(
    ("name", "hint"),
    [("+02:00", "'Etc/GMT-2'"), ("UTC+2", "'Etc/GMT-2'"), ("GMT-5", "'Etc/GMT+5'"),
     ("+00:00", "'UTC'"), ("+05:30", "Asia/Kolkata"), ("Europe/../etc", "IANA")],
)
def test_usage_offsets_are_refused_with_the_iana_name_to_use(
    name: str, hint: str, missing_db: bool, request: pytest.FixtureRequest
) -> None:
    if missing_db:
        request.getfixturevalue("no_tz_database")
    rec = Recorder(json_response(ref.USAGE_STATISTICS))
    with pytest.raises(InvalidRequestError, match="window_timezone") as info:
        sync_client(rec).usage_statistics(**STATS, window_timezone=name)
    assert hint in str(info.value) and info.value.param == "window_timezone"
    assert rec.requests == []


def test_usage_time_zone_reaches_the_wire_sync() -> None:
    rec = Recorder(json_response(ref.USAGE_STATISTICS))
    sync_client(rec).usage_statistics(**STATS, window_timezone="Europe/Madrid")
    assert rec.body()["window_timezone"] == "Europe/Madrid"


# ---------------------------------------------------------------- async endpoints


async def test_async_usage_statistics_with_end_time_and_a_time_zone() -> None:
    rec = Recorder(json_response(ref.USAGE_STATISTICS))
    stats = await async_client(rec).usage_statistics(
        start_time="2025-04-08T00:00:00Z", end_time="2025-05-09T00:00:00+02:00",
        window_size="hour", window_timezone="Europe/Madrid",
    )
    assert rec.requests[0].method == "POST"
    assert rec.requests[0].url.path == "/v1/usage/completions"
    assert rec.body() == {"start_time": "2025-04-08T00:00:00Z",
                          "end_time": "2025-05-09T00:00:00+02:00", "window_size": "HOUR",
                          "window_timezone": "Europe/Madrid"}
    assert stats.window_size == "HOUR" and len(stats.data) == 2


@pytest.mark.parametrize(("status", "cls"), [(401, AuthenticationError),
                                             (403, PermissionDeniedError)])
async def test_async_model_profile_does_not_hide_a_key_problem(status: int, cls: type) -> None:
    rec = Recorder(json_response({"error": {"message": "no"}}, status))
    client = async_client(rec, max_retries=2)
    with pytest.raises(cls):
        await client.model_profile("cai-llama-3-1-8b-slim")
    assert len(rec.requests) == 1


async def test_async_retrieve_model() -> None:
    rec = Recorder(json_response(ref.MODEL_RETRIEVE))
    got = await async_client(rec).retrieve_model("cai/llama 3")
    assert got.id == "cai-llama-3-1-8b-slim" and got.parameters_number == "3.28B"
    assert rec.requests[0].method == "GET"
    assert rec.requests[0].url.raw_path == b"/v1/models/cai%2Fllama%203"


# ---------------------------------------------------------------- 13. Authorization


@pytest.mark.parametrize("name", ["Authorization", "authorization", "AUTHORIZATION",
                                  "aUtHoRiZaTiOn"])
async def test_extra_headers_cannot_set_authorization(name: str) -> None:
    rec = Recorder(json_response({}))
    headers = {"X-Trace": "t", name: "Bearer other"}
    calls = [
        lambda: sync_client(rec).chat_completion(**CHAT, extra_headers=headers),
        lambda: collect(sync_client(rec), extra_headers=headers),
    ]
    for call in calls:
        with pytest.raises(InvalidRequestError, match="api_key") as info:
            call()
        assert info.value.param == "extra_headers"
    client = async_client(rec)
    with pytest.raises(InvalidRequestError, match="api_key"):
        await client.chat_completion(**CHAT, extra_headers=headers)
    with pytest.raises(InvalidRequestError, match="api_key"):
        await acollect(client, extra_headers=headers)
    assert rec.requests == []


# ---------------------------------------------------------------- 14. unreadable 2xx bodies


def broken_then(good: httpx.Response) -> Recorder:
    return Recorder(httpx.Response(200, content=b"<html>oops</html>"), good)


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_an_unreadable_answer_to_a_post_is_not_sent_again(asynchronous: bool) -> None:
    rec = broken_then(json_response({"id": "c1", "choices": []}))
    with pytest.raises(ResponseDecodeError, match="not JSON") as info:
        if asynchronous:
            await async_client(rec, max_retries=3).chat_completion(**CHAT)
        else:
            sync_client(rec, max_retries=3).chat_completion(**CHAT)
    assert len(rec.requests) == 1 and info.value.retryable is False


def test_an_unreadable_first_stream_event_is_not_sent_again() -> None:
    rec = Recorder(stream_response(b"data: {not json\n\n"), stream_response(sse(chunk())))
    with pytest.raises(ResponseDecodeError, match="not JSON"):
        collect(sync_client(rec, max_retries=3))
    assert len(rec.requests) == 1


def test_an_unreadable_transcription_is_not_sent_again() -> None:
    rec = broken_then(json_response({"text": "hi"}))
    with pytest.raises(ResponseDecodeError):
        sync_client(rec, max_retries=3).transcribe(b"RIFFdata", filename="a.wav")
    assert len(rec.requests) == 1


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_an_unreadable_answer_to_a_read_is_retried(asynchronous: bool) -> None:
    model = {"id": "m", "object": "model", "created": 1, "owned_by": "x"}
    rec = broken_then(json_response(model))
    client: Any = async_client(rec, max_retries=1) if asynchronous else sync_client(
        rec, max_retries=1)
    got = await client.retrieve_model("m") if asynchronous else client.retrieve_model("m")
    assert got.id == "m" and len(rec.requests) == 2
    rec = broken_then(json_response(ref.USAGE_STATISTICS))  # a POST that only reads
    client = async_client(rec, max_retries=1) if asynchronous else sync_client(
        rec, max_retries=1)
    if asynchronous:
        await client.usage_statistics(**STATS)
    else:
        client.usage_statistics(**STATS)
    assert len(rec.requests) == 2


# ---------------------------------------------------------------- non-object payloads


@pytest.mark.parametrize("data", [b"[1, 2]", b'"x"', b"3", b"null", b"true"])
async def test_a_non_object_stream_payload_is_a_typed_error(data: bytes) -> None:
    body = b"data: " + data + b"\n\n" + sse()
    with pytest.raises(ResponseDecodeError, match="non-object payload"):
        collect(sync_client(Recorder(stream_response(body))))
    with pytest.raises(ResponseDecodeError, match="non-object payload"):
        await acollect(async_client(Recorder(stream_response(body))))


# ---------------------------------------------------------------- the key in messages


def _failures() -> list[tuple[str, Any]]:
    return [
        ("connect", httpx.ConnectError("[Errno 111] Connection refused")),
        ("connect-empty", httpx.ConnectError("")),
        ("timeout", httpx.ReadTimeout("The read operation timed out")),
        ("interrupted", httpx.Response(200, headers={"content-type": "text/event-stream"},
                                       stream=_BreaksAfter(httpx.ReadError("")))),
        ("cut", stream_response(sse(chunk(), done=False))),
    ]


@pytest.mark.parametrize("asynchronous", [False, True])
@pytest.mark.parametrize("case", range(5))
async def test_the_key_never_appears_in_transport_or_stream_errors(
    asynchronous: bool, case: int
) -> None:
    rec = Recorder(_failures()[case][1])
    with pytest.raises(CompactifAIError) as info:
        await acollect(async_client(rec)) if asynchronous else collect(sync_client(rec))
    assert rec.requests[0].headers["authorization"] == f"Bearer {KEY}"
    no_key(info.value)
    if info.value.__cause__ is not None:
        no_key(info.value.__cause__)
    rec = Recorder(_failures()[case][1])
    with pytest.raises(CompactifAIError) as info:
        if asynchronous:
            await async_client(rec).list_models()
        else:
            sync_client(rec).list_models()
    no_key(info.value)


# ---------------------------------------------------------------- 6. the end of the body


class _AfterDone(httpx.SyncByteStream, httpx.AsyncByteStream):
    """``[DONE]``, then 1 KB pieces of junk (``stall``: then nothing, for an hour)."""

    def __init__(self, pieces: int, stall: bool = False) -> None:
        self.pieces, self.stall = pieces, stall
        self.read = 0
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        yield sse(chunk("a"))
        for _ in range(self.pieces):
            self.read += 1
            yield b": " + b"x" * 1021 + b"\n"

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield sse(chunk("a"))
        for _ in range(self.pieces):
            self.read += 1
            yield b": " + b"x" * 1021 + b"\n"
        if self.stall:
            await anyio.sleep(3600)

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_what_follows_done_is_read_within_bounds(asynchronous: bool) -> None:
    body = _AfterDone(pieces=1000)
    rec = Recorder(httpx.Response(200, headers={"content-type": "text/event-stream"},
                                  stream=body))
    got = await acollect(async_client(rec)) if asynchronous else collect(sync_client(rec))
    assert got == [chunk("a")]
    assert 1 <= body.read <= 5 and body.closed  # a few KB at most, then the socket is let go


async def test_an_async_server_silent_after_done_is_not_waited_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("compactifai._pipeline._DRAIN_SECONDS", 0.05)
    body = _AfterDone(pieces=1, stall=True)
    rec = Recorder(httpx.Response(200, headers={"content-type": "text/event-stream"},
                                  stream=body))
    with anyio.fail_after(5):
        assert await acollect(async_client(rec)) == [chunk("a")]
    assert body.closed
