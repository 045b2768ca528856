"""The request pipeline: which errors retry, how long it waits, what a caller sees."""

from __future__ import annotations

import asyncio
import email.utils
import json
from typing import Any

import httpx
import pytest

import compactifai
from compactifai import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseDecodeError,
    StreamInterruptedError,
    UnprocessableEntityError,
)
from compactifai._pipeline import retry_delay
from tests.helpers import (
    Recorder,
    _Chunks,
    async_client,
    json_response,
    sse,
    sse_response,
    sync_client,
)

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
OK = {"id": "c1", "object": "chat.completion", "model": "m",
      "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"},
                   "finish_reason": "stop"}]}
CHUNK = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
         "choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": None}]}


def error(status: int, message: str = "nope", **headers: str) -> httpx.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "code": status}}
    return json_response(body, status, **headers)


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def client_with_sleeps(rec: Recorder, retries: int = 2) -> tuple[Any, Sleeps]:
    client = sync_client(rec, max_retries=retries)
    sleeps = Sleeps()
    client._pipeline._sleep = sleeps
    client._pipeline._sleep_rand = lambda: 0.0
    return client, sleeps


# ---------------------------------------------------------------- backoff arithmetic


def test_backoff_is_exponential_capped_and_jittered() -> None:
    no_jitter = [retry_delay(a, None, 60.0, rand=lambda: 0.0) for a in range(6)]
    assert no_jitter == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    full_jitter = retry_delay(2, None, 60.0, rand=lambda: 1.0)
    assert full_jitter == 1.5  # at most a quarter taken off


def test_retry_after_seconds_ms_and_http_date_are_honoured_and_capped() -> None:
    assert retry_delay(0, httpx.Headers({"retry-after": "3"}), 60.0) == 3.0
    assert retry_delay(0, httpx.Headers({"retry-after-ms": "250"}), 60.0) == 0.25
    assert retry_delay(0, httpx.Headers({"retry-after": "3600"}), 20.0) == 20.0
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 7, usegmt=True)
    delay = retry_delay(0, httpx.Headers({"retry-after": date}), 60.0, now=lambda: now)
    assert delay == pytest.approx(7.0, abs=1.0)
    past = email.utils.formatdate(now - 100, usegmt=True)
    assert retry_delay(0, httpx.Headers({"retry-after": past}), 60.0, now=lambda: now) == 0.0
    garbage = retry_delay(1, httpx.Headers({"retry-after": "soon"}), 60.0, rand=lambda: 0.0)
    assert garbage == 1.0  # unreadable header: fall back to backoff


# ---------------------------------------------------------------- what retries


@pytest.mark.parametrize(
    ("status", "cls"),
    [(408, compactifai.RequestTimeoutError), (409, ConflictError), (429, RateLimitError),
     (500, InternalServerError), (502, InternalServerError), (503, InternalServerError),
     (504, InternalServerError)],
)
def test_retryable_statuses_are_retried_then_succeed(status: int, cls: type) -> None:
    rec = Recorder(error(status), error(status), json_response(OK))
    client, sleeps = client_with_sleeps(rec)
    assert client.chat_completion(**CHAT).choices[0].message.content == "hello"
    assert len(rec.requests) == 3
    assert sleeps.calls == [0.5, 1.0]


@pytest.mark.parametrize(
    ("status", "cls"),
    [(400, BadRequestError), (401, AuthenticationError), (403, PermissionDeniedError),
     (404, NotFoundError), (422, UnprocessableEntityError)],
)
def test_client_errors_are_never_retried(status: int, cls: type) -> None:
    rec = Recorder(error(status, "bad thing"), json_response(OK))
    client, sleeps = client_with_sleeps(rec)
    with pytest.raises(cls) as info:
        client.chat_completion(**CHAT)
    assert len(rec.requests) == 1 and sleeps.calls == []
    assert info.value.status_code == status
    assert info.value.message == "bad thing"


def test_retries_give_up_after_max_retries_with_the_last_error() -> None:
    rec = Recorder(error(503, "busy", **{"x-request-id": "req-9"}))
    client, sleeps = client_with_sleeps(rec, retries=3)
    with pytest.raises(InternalServerError) as info:
        client.chat_completion(**CHAT)
    assert len(rec.requests) == 4 and len(sleeps.calls) == 3
    assert info.value.request_id == "req-9"
    assert "HTTP 503" in str(info.value) and "req-9" in str(info.value)


def test_429_waits_what_retry_after_says() -> None:
    rec = Recorder(error(429, **{"retry-after": "2"}), json_response(OK))
    client, sleeps = client_with_sleeps(rec)
    client.chat_completion(**CHAT)
    assert sleeps.calls == [2.0]


def test_connection_errors_and_timeouts_are_retried() -> None:
    rec = Recorder(httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), json_response(OK))
    client, _sleeps = client_with_sleeps(rec)
    client.chat_completion(**CHAT)
    assert len(rec.requests) == 3


def test_connection_failure_surfaces_typed() -> None:
    rec = Recorder(httpx.ConnectError("refused"))
    client, _ = client_with_sleeps(rec, retries=1)
    with pytest.raises(APIConnectionError, match="connection failed"):
        client.chat_completion(**CHAT)
    rec = Recorder(httpx.ReadTimeout("slow"))
    client, _ = client_with_sleeps(rec, retries=0)
    with pytest.raises(APITimeoutError):
        client.chat_completion(**CHAT)


def test_malformed_json_body_is_a_typed_error() -> None:
    rec = Recorder(httpx.Response(200, content=b"<html>oops</html>"))
    client, _ = client_with_sleeps(rec, retries=0)
    with pytest.raises(ResponseDecodeError, match="not JSON"):
        client.chat_completion(**CHAT)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'{"error": {"message": "model x not found", "code": "404"}}', "model x not found"),
        (b'{"detail": "Not Found"}', "Not Found"),
        (b'{"detail": [{"loc": ["body", "model"], "msg": "field required"}]}', "field required"),
        (b"<html><body>Bad gateway</body></html>", "Bad gateway"),
        (b"", "(empty body)"),
    ],
)
def test_error_bodies_of_any_shape_give_a_message(content: bytes, expected: str) -> None:
    rec = Recorder(httpx.Response(404, content=content))
    client, _ = client_with_sleeps(rec, retries=0)
    with pytest.raises(NotFoundError) as info:
        client.list_models()
    assert expected in info.value.message


def test_the_key_never_appears_in_errors_or_reprs() -> None:
    key = "sk-test-123456"
    rec = Recorder(error(401, "invalid key"))
    client, _ = client_with_sleeps(rec)
    with pytest.raises(AuthenticationError) as info:
        client.list_models()
    assert rec.requests[0].headers["authorization"] == f"Bearer {key}"
    for text in (str(info.value), repr(info.value), repr(client), repr(client.config)):
        assert key not in text


# ---------------------------------------------------------------- streams


def test_stream_retried_before_the_first_event() -> None:
    rec = Recorder(error(503), httpx.ConnectError("reset"), sse_response(sse(CHUNK, CHUNK)))
    client, sleeps = client_with_sleeps(rec, retries=2)
    chunks = list(client.chat_completion_stream(**CHAT))
    assert len(chunks) == 2 and len(rec.requests) == 3 and len(sleeps.calls) == 2


def test_stream_never_retried_after_the_first_event() -> None:
    class Breaks(httpx.SyncByteStream):
        def __iter__(self):  # type: ignore[override]
            yield sse(CHUNK, done=False)
            raise httpx.RemoteProtocolError("peer closed connection")

    rec = Recorder(httpx.Response(200, stream=Breaks()), sse_response(sse(CHUNK)))
    client, sleeps = client_with_sleeps(rec)
    got = []
    with pytest.raises(StreamInterruptedError) as info:
        for chunk in client.chat_completion_stream(**CHAT):
            got.append(chunk)
    assert len(got) == 1 and len(rec.requests) == 1 and sleeps.calls == []
    assert info.value.events_received == 1
    assert "partial" in str(info.value)


def test_stream_cut_before_done_is_never_presented_as_complete() -> None:
    rec = Recorder(sse_response(sse(CHUNK, done=False)))
    client, _ = client_with_sleeps(rec, retries=0)
    with pytest.raises(StreamInterruptedError):
        list(client.chat_completion_stream(**CHAT))
    rec = Recorder(sse_response(b""))
    client, _ = client_with_sleeps(rec, retries=0)
    with pytest.raises(ResponseDecodeError, match="before its \\[DONE\\]"):
        list(client.chat_completion_stream(**CHAT))


def test_error_event_mid_stream_is_typed() -> None:
    payload = {"error": {"message": "rate limited", "code": 429}}
    rec = Recorder(sse_response(sse(CHUNK, payload)))
    client, _ = client_with_sleeps(rec, retries=0)
    got = []
    with pytest.raises(RateLimitError, match="rate limited") as info:
        for chunk in client.chat_completion_stream(**CHAT):
            got.append(chunk)
    assert len(got) == 1
    assert info.value.events_received == 1 and info.value.status_code == 429


def test_malformed_sse_data_is_a_typed_error() -> None:
    rec = Recorder(sse_response(sse("{not json")))
    client, _ = client_with_sleeps(rec, retries=0)
    with pytest.raises(ResponseDecodeError, match="not JSON"):
        list(client.chat_completion_stream(**CHAT))


def test_stream_error_status_is_typed() -> None:
    rec = Recorder(error(404, "no such model"))
    client, _ = client_with_sleeps(rec, retries=0)
    with pytest.raises(NotFoundError, match="no such model"):
        list(client.chat_completion_stream(**CHAT))


def test_stream_chunks_split_anywhere_arrive_whole() -> None:
    raw = sse(CHUNK, CHUNK, CHUNK)
    pieces = [raw[i:i + 7] for i in range(0, len(raw), 7)]
    rec = Recorder(sse_response(pieces))
    client, _ = client_with_sleeps(rec)
    assert list(client.chat_completion_stream(**CHAT)) == [CHUNK, CHUNK, CHUNK]


@pytest.mark.parametrize("how", ["break", "close", "context", "exception", "drop"])
def test_stream_releases_its_connection_on_early_exit(how: str) -> None:
    body = _Chunks([sse(CHUNK, done=False)] * 5 + [b"data: [DONE]\n\n"])
    rec = Recorder(httpx.Response(200, stream=body))
    client, _ = client_with_sleeps(rec)
    if how == "break":  # the usual loop: the stream is dropped when the loop is left
        for _ in client.chat_completion_stream(**CHAT):
            break
        assert body.closed
        return
    stream = client.chat_completion_stream(**CHAT)
    if how == "close":
        next(stream)
        stream.close()
    elif how == "context":
        with stream as s:
            next(s)
    elif how == "exception":
        del stream
        with pytest.raises(RuntimeError):
            for _ in client.chat_completion_stream(**CHAT):
                raise RuntimeError("caller failed")
    else:
        next(stream)
        del stream
    assert body.closed


@pytest.mark.parametrize("how", ["break", "aclose", "context"])
async def test_async_stream_releases_its_connection_on_early_exit(how: str) -> None:
    body = _Chunks([sse(CHUNK, done=False)] * 5 + [b"data: [DONE]\n\n"])
    rec = Recorder(httpx.Response(200, stream=body))
    client = async_client(rec)
    stream = client.chat_completion_stream(**CHAT)
    if how == "break":
        async for _ in stream:
            break
        await stream.aclose()
    elif how == "aclose":
        await stream.__anext__()
        await stream.aclose()
    else:
        async with stream as s:
            await s.__anext__()
    assert body.closed


async def test_async_retries_and_errors_mirror_sync() -> None:
    rec = Recorder(error(500), json_response(OK))
    client = async_client(rec, max_retries=1)
    answer = await client.chat_completion(**CHAT)
    assert answer.choices[0].message.content == "hello" and len(rec.requests) == 2
    rec = Recorder(error(401))
    client = async_client(rec, max_retries=3)
    with pytest.raises(AuthenticationError):
        await client.chat_completion(**CHAT)
    assert len(rec.requests) == 1


def test_async_client_survives_several_event_loops() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return json_response(OK)

    client = compactifai.AsyncCompactifAIClient(api_key="sk-x", base_url="https://t.test/v1")
    transport = httpx.MockTransport(handler)
    orig = httpx.AsyncClient.__init__

    def with_mock(self: httpx.AsyncClient, *args: Any, **kwargs: Any) -> None:
        kwargs["transport"] = transport
        orig(self, *args, **kwargs)

    pools = []

    async def one() -> str:
        answer = await client.chat_completion(**CHAT)
        pools.append(await client._pipeline.http_client())
        return answer.choices[0].message.content or ""

    mp = pytest.MonkeyPatch()
    mp.setattr(httpx.AsyncClient, "__init__", with_mock)
    try:
        assert [asyncio.run(one()) for _ in range(3)] == ["hello"] * 3
    finally:
        mp.undo()
    assert len({id(p) for p in pools}) == 3
    assert all(p.is_closed for p in pools)  # each closed as its loop shut down
    assert len(client._pipeline._clients) <= 1


def test_requests_carry_user_agent_and_json_headers() -> None:
    rec = Recorder(json_response(OK))
    client, _ = client_with_sleeps(rec)
    client.chat_completion(**CHAT, extra_headers={"X-Trace": "t1"})
    headers = rec.requests[0].headers
    assert headers["user-agent"].startswith("compactifai-python/")
    assert headers["content-type"] == "application/json"
    assert headers["x-trace"] == "t1"
    assert json.loads(rec.requests[0].content) == CHAT


def test_a_callers_own_httpx_client_gets_our_headers() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return json_response(OK)

    own = httpx.Client(transport=httpx.MockTransport(handler))
    client = compactifai.CompactifAIClient(
        api_key="sk-own", base_url="https://t.test/v1", http_client=own,
        default_headers={"X-Team": "a"},
    )
    client.chat_completion(**CHAT)
    client.close()
    assert not own.is_closed  # ours to use, not to close
    assert seen[0].headers["authorization"] == "Bearer sk-own"
    assert seen[0].headers["x-team"] == "a"


def test_per_request_timeout_is_applied() -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return json_response(OK)

    client = sync_client(handler, timeout=30)
    client.chat_completion(**CHAT, timeout=2.5)
    client.chat_completion(**CHAT)
    assert seen[0]["read"] == 2.5
    assert seen[1]["read"] == 30


def test_the_pipeline_waits_the_backoff_between_attempts_and_no_more() -> None:
    """Two 503s then an answer: the pipeline asks to wait 0.5 s, then 1 s, and nothing else."""
    rec = Recorder(error(503), error(503), json_response(OK))
    client, sleeps = client_with_sleeps(rec)
    client.chat_completion(**CHAT)
    assert sleeps.calls == [0.5, 1.0]
    assert len(rec.requests) == 3


def test_a_stream_asks_for_one_content_type_and_extra_headers_replace_ours() -> None:
    """Our Accept and a caller's, in any letter case, never add up to a joined header."""
    seen: list[list[str]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get_list("accept"))
        return httpx.Response(
            200, headers={"content-type": "text/event-stream"},
            content=b'data: {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}'
            b"\n\ndata: [DONE]\n\n",
        )

    client = compactifai.CompactifAIClient(
        api_key="sk-test", http_client=httpx.Client(transport=httpx.MockTransport(answer))
    )
    list(client.chat_completion_stream(**CHAT))
    list(client.chat_completion_stream(**CHAT, extra_headers={"ACCEPT": "text/plain"}))
    assert seen == [["text/event-stream"], ["text/plain"]]
