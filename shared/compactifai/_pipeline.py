"""The request pipeline: send -> retry with backoff -> map errors -> decode. The ONE place.

Both clients, and through them every framework integration, send every request through
:class:`SyncPipeline` or :class:`AsyncPipeline`. The two mirror each other line for line; what
they share (what to retry, how long to wait, how to read an answer or an event) lives in
module-level functions so that it exists once.

Retry rules: 408, 409, 429, 5xx, connection failures and timeouts are retried up to
``max_retries`` times with jittered exponential backoff, honouring the server's ``Retry-After``
(seconds or an HTTP date, capped by ``max_retry_delay``). 400, 401, 403, 404 and 422 never are.

Unreadable answers: a 2xx whose body cannot be read (not JSON, a malformed stream event, a
stream without any event) raises :class:`ResponseDecodeError`. It is retried for GET (and for
the read-only POST of the usage statistics, sent with ``idempotent=True``), never for the
other POSTs (chat, completions, transcriptions): the server may already have done, and billed,
the work, and sending it again would do it twice. Such an error has ``retryable`` False.

Streams are retried only until their first event reaches the caller; after that a failure
raises :class:`StreamInterruptedError` saying how much was received. How a stream ends:

- ``data: [DONE]``: complete. What follows it (normally only the chunked-encoding terminator)
  is read, at most ``_DRAIN_BYTES`` (and, async, for at most ``_DRAIN_SECONDS``; sync, each
  read is bounded by the read timeout), so the connection goes back to the pool.
- the body ends cleanly without ``[DONE]`` after every choice received a ``finish_reason``:
  complete too (logged at debug level): the answer is whole, only the marker is missing.
- the body ends without ``[DONE]`` before that: :class:`StreamInterruptedError` saying after
  how many events and that no (or not every) ``finish_reason`` came; with no event at all,
  :class:`ResponseDecodeError`.
- a server that ignores ``stream: true`` and answers with a JSON body (``Content-Type:
  application/json``): a chat or text completion is yielded as one final chunk (a chat
  completion converted to the ``chat.completion.chunk`` shape: ``delta`` carries the message,
  tool calls get their ``index``); an ``{"error": ...}`` body raises its typed error.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Any, NoReturn, Protocol

import httpx

from ._catalogue import WITHDRAWN_MODELS, warn_if_withdrawn
from ._config import ClientConfig
from ._errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    CompactifAIError,
    InvalidRequestError,
    ResponseDecodeError,
    StreamInterruptedError,
    error_from_answer,
    error_from_response,
    error_from_stream_payload,
)
from ._ratelimit import estimate_tokens
from ._sse import ServerSentEvent, SSEDecoder

__all__ = ["AsyncPipeline", "SyncPipeline", "retry_delay"]

logger = logging.getLogger("compactifai")

_INITIAL_DELAY = 0.5
_MAX_BACKOFF = 8.0
#: Requests an async pool we own has in flight at once: as many as it has connections. The
#: others wait in line on a semaphore (FIFO, O(1) each, no pool timeout). Left to queue inside
#: httpcore's pool, each waiter is rescanned against every connection on every state change:
#: 1,000 short calls at once (LangChain's ``abatch`` default) cost 31.7 client CPU-s instead of
#: 1.4, growing with the square of the queue, and waiters hit the pool timeout.
_MAX_IN_FLIGHT = 512
# Few idle connections on purpose: httpcore checks every pooled connection on each request
# (a readability syscall each), so a large idle pool costs O(n) per request. Measured at 200
# concurrent requests: 10 idle -> ~1,190 req/s; 50 -> ~270; 100 -> ~100.
_LIMITS = httpx.Limits(
    max_connections=_MAX_IN_FLIGHT, max_keepalive_connections=10, keepalive_expiry=30
)
_AIOHTTP_LIMITS = httpx.Limits(max_connections=_MAX_IN_FLIGHT, keepalive_expiry=30)
# Lower-case names: merged into the pool's own headers by plain dict update (see _build).
_JSON_HEADERS = {"content-type": "application/json"}
_STREAM_HEADERS = {"content-type": "application/json", "accept": "text/event-stream"}
_DONE = "[DONE]"
#: The events that end a ``/responses`` stream (which need not send ``[DONE]``).
_RESPONSE_ENDS = frozenset({"response.completed", "response.incomplete", "response.failed"})
#: Event types that end a stream sent without ``[DONE]``: a streamed transcription ends with
#: OpenAI's ``transcript.text.done`` (the service documents no event shape of its own).
_FINAL_EVENT_TYPES = frozenset({"transcript.text.done"})
#: Proxies from the environment: httpx mounts a proxy transport per URL for them, so pools are
#: then always sent to through the client (see AsyncPipeline._send).
_PROXIED = bool(urllib.request.getproxies())
#: Methods whose unreadable 2xx answer may be asked again: they change nothing on the server.
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: After ``[DONE]``: how much more is read to reach the end of the body (and free the connection).
_DRAIN_BYTES = 4096
_DRAIN_SECONDS = 1.0
#: What a transport error whose own message is empty means.
_TRANSPORT_WORDS: tuple[tuple[type[httpx.TransportError], str], ...] = (
    (httpx.ConnectError, "could not connect to the server"),
    (httpx.ReadError, "the connection was reset or closed by the server while reading"),
    (httpx.WriteError, "the connection was reset or closed by the server while sending"),
    (httpx.RemoteProtocolError, "the server closed the connection or broke the HTTP protocol"),
    (httpx.ProxyError, "the proxy failed"),
    (httpx.TimeoutException, "no answer in time"),
)


# ---------------------------------------------------------------- shared decisions


def _retry_after(headers: httpx.Headers | None, now: float) -> float | None:
    """Seconds the server asked us to wait, from ``retry-after-ms`` or ``Retry-After``."""
    if headers is None:
        return None
    value: str | None = headers.get("retry-after-ms")
    if value:
        try:
            return max(float(value) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(when.timestamp() - now, 0.0)


def retry_delay(
    attempt: int,
    headers: httpx.Headers | None,
    max_delay: float,
    *,
    rand: Callable[[], float] = random.random,
    now: Callable[[], float] = time.time,
) -> float:
    """How long to wait before attempt ``attempt + 1`` (``attempt`` counts from 0).

    The server's Retry-After wins when given (capped at ``max_delay``); otherwise exponential
    backoff from 0.5 s, capped at 8 s, with up to 25% jitter taken off so clients spread out.
    """
    asked = _retry_after(headers, now())
    if asked is not None:
        return min(asked, max_delay)
    backoff: float = min(_INITIAL_DELAY * 2.0**attempt, _MAX_BACKOFF, max_delay)
    return backoff * (1.0 - 0.25 * rand())


def _describe(exc: BaseException) -> str:
    """``Type: message``; for an empty message (asyncio's ``ReadError()``), what the type means
    and the exception underneath it. Transport messages never hold the request's headers."""
    text = str(exc).strip()
    if not text:
        text = next(
            (words for kind, words in _TRANSPORT_WORDS if isinstance(exc, kind)),
            "the connection failed",
        )
        inner = exc.__cause__ or exc.__context__
        if inner is not None:
            detail = str(inner).strip()
            name = type(inner).__name__
            text += f" ({name}: {detail})" if detail else f" ({name})"
    return f"{type(exc).__name__}: {text}"


def _transport_error(
    exc: httpx.TransportError, what: str, request_id: str | None = None
) -> APIConnectionError:
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"timed out {what} ({_describe(exc)})", request_id=request_id)
    return APIConnectionError(
        f"connection failed {what}: {_describe(exc)}", request_id=request_id
    )


def _request_id(response: httpx.Response) -> str | None:
    """The server's request id; else the one we sent (every request carries one)."""
    headers = response.headers
    found: str | None = headers.get("x-request-id") or headers.get("request-id")
    if found is None:
        try:
            found = response.request.headers.get("x-request-id")
        except RuntimeError:  # a response built without its request (tests' fakes)
            return None
    return found


def _status_error(response: httpx.Response, content: bytes) -> APIError:
    return error_from_response(
        response.status_code,
        content,
        _request_id(response),
        content_type=response.headers.get("content-type"),
        headers=response.headers,
        model=_requested_model(response) if response.status_code in (400, 404) else None,
    )


def _requested_model(response: httpx.Response) -> str | None:
    """The model a failed request named (its JSON body, or ``/models/{id}``), if readable."""
    try:
        request = response.request
        path = request.url.path
        if "/models/" in path:
            return urllib.parse.unquote(path.rsplit("/", 1)[-1]) or None
        content = request.content  # a multipart upload's is not kept: its message names it
        model = json.loads(content).get("model") if content[:1] == b"{" else None
    except (RuntimeError, httpx.RequestNotRead, ValueError, AttributeError):
        return None
    return model if isinstance(model, str) else None


def _answer(response: httpx.Response) -> Any:
    """The parsed JSON of a 2xx answer; an error object in its place raises its typed error."""
    answer = _parse_json(response, response.content)
    if type(answer) is dict and "error" in answer:
        err = error_from_answer(
            answer, response.status_code, _request_id(response), response.headers
        )
        if err is not None:
            raise err
    return answer


def _text_answer(response: httpx.Response) -> Any:
    """A 2xx answer asked for as text (transcripts as text, srt or vtt): the body as a string.

    A JSON body in its place is read as JSON (an error object raises its typed error; a server
    that answers JSON whatever was asked is left for the caller to convert).
    """
    if _is_json(response):
        return _answer(response)
    return response.text


def _is_json(response: httpx.Response) -> bool:
    content_type: str = response.headers.get("content-type", "")
    return "json" in content_type.partition(";")[0].lower()


def _final_if_unsafe(err: CompactifAIError, idempotent: bool) -> None:
    """An unreadable 2xx answer to a POST is not sent again: the work may be done (and billed)."""
    if not idempotent and isinstance(err, ResponseDecodeError):
        err.retryable = False


def _parse_json(response: httpx.Response, content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        preview = content[:200].decode("utf-8", "replace")
        raise ResponseDecodeError(
            f"the server answered {response.request.method} {response.request.url.path} "
            f"with a body that is not JSON: {preview!r}",
            status_code=response.status_code,
            request_id=_request_id(response),
        ) from None


def _tool_call_delta(call: Any, position: int) -> Any:
    return {"index": position, **call} if isinstance(call, dict) else call


def _as_chunk(answer: dict[str, Any]) -> dict[str, Any]:
    """A complete answer in the shape of a stream chunk.

    A chat completion becomes a ``chat.completion.chunk`` whose choices carry the message as
    ``delta`` (role, content, tool calls with their ``index``...), with ``finish_reason`` and
    ``usage`` kept; a text completion already has the shape of its chunks.
    """
    if answer.get("object") == "response":  # /responses: the whole answer as its last event
        kind = {"failed": "response.failed", "incomplete": "response.incomplete"}.get(
            str(answer.get("status")), "response.completed"
        )
        return {"type": kind, "response": answer}
    choices = answer.get("choices")
    if not isinstance(choices, list) or not any(
        isinstance(c, dict) and "message" in c for c in choices
    ):
        return answer
    converted: list[Any] = []
    for position, choice in enumerate(choices):
        if not isinstance(choice, dict):
            converted.append(choice)
            continue
        message = choice.get("message")
        delta: dict[str, Any] = {}
        if isinstance(message, dict):
            delta = {k: v for k, v in message.items() if v is not None}
            calls = delta.get("tool_calls")
            if isinstance(calls, list):
                delta["tool_calls"] = [_tool_call_delta(c, i) for i, c in enumerate(calls)]
        out = {k: v for k, v in choice.items() if k != "message"}
        out.setdefault("index", position)
        out["delta"] = delta
        out.setdefault("finish_reason", None)
        converted.append(out)
    return {**answer, "object": "chat.completion.chunk", "choices": converted}


class _StreamState:
    """One attempt at a stream: turns events into payloads and remembers what the end needs.

    ``open`` and ``finished`` hold the indexes of the choices seen without and with a
    ``finish_reason``: a body that ends without ``[DONE]`` is complete when every choice seen
    has finished.
    """

    __slots__ = (
        "answered", "attempts", "final_event", "finished", "open", "request_id", "usage_chunk"
    )

    def __init__(self, attempts: _Attempts) -> None:
        self.attempts = attempts
        self.request_id: str | None = None
        self.open: set[Any] = set()
        self.finished: set[Any] = set()
        #: The last chunk that carried ``usage`` (counted once, when the stream is over).
        self.usage_chunk: dict[str, Any] | None = None
        #: A whole JSON answer came instead of events.
        self.answered = False
        #: An event whose ``type`` ends its stream (a transcript's ``transcript.text.done``).
        self.final_event = False

    def payload(self, event: ServerSentEvent) -> dict[str, Any] | None:
        """The JSON payload of an event, or None for ``[DONE]``; errors become exceptions."""
        data = event.data
        if data == _DONE:
            return None
        try:
            payload = json.loads(data)
        except ValueError:
            raise ResponseDecodeError(
                f"the stream carried a data line that is not JSON: {data[:200]!r}",
                request_id=self.request_id,
            ) from None
        if type(payload) is not dict:
            raise ResponseDecodeError(
                f"the stream carried a non-object payload: {data[:200]!r}",
                request_id=self.request_id,
            )
        kind = payload.get("type")  # /responses events say what they are here
        if "error" in payload or event.event == "error" or kind == "error":
            raise error_from_stream_payload(payload, self.request_id)
        if kind in _RESPONSE_ENDS:  # a /responses stream is whole after its last event
            if kind == "response.failed":
                raise error_from_stream_payload(payload.get("response") or {}, self.request_id)
            self.finished.add(kind)
        choices = payload.get("choices")
        if choices:
            try:
                for choice in choices:
                    if choice.get("finish_reason") is None:
                        self.open.add(choice.get("index", 0))
                    else:
                        self.finished.add(choice.get("index", 0))
            except (AttributeError, TypeError):
                pass  # malformed choices: the end-of-stream rule just cannot count them
        elif payload.get("type") in _FINAL_EVENT_TYPES:
            self.final_event = True
        if "usage" in payload:
            if self.attempts.limit is not None:
                self.attempts.settle(payload)
            if payload["usage"] is not None:  # servers may send "usage": null on every chunk
                self.usage_chunk = payload
        return payload

    def whole_answer(self, response: httpx.Response, content: bytes) -> dict[str, Any]:
        """A complete JSON answer to a stream request, as the stream's one chunk."""
        answer = _parse_json(response, content)
        if type(answer) is not dict:
            raise ResponseDecodeError(
                "the server answered a stream request with JSON that is not an object: "
                f"{content[:200].decode('utf-8', 'replace')!r}",
                status_code=response.status_code,
                request_id=self.request_id,
            )
        if "error" in answer and not (  # a /responses result carries "error": null
            answer.get("object") == "response" and answer["error"] is None
        ):
            raise error_from_stream_payload(answer, self.request_id, in_stream=False)
        logger.debug("the server ignored stream: true; its JSON answer is yielded as one chunk")
        self.answered = True
        if "usage" in answer:
            self.attempts.settle(answer)
            if answer["usage"] is not None:
                self.usage_chunk = answer
        return _as_chunk(answer)

    def tally(self) -> None:
        """When the attempt is over: add its usage to the client's usage tally, or count it
        unreported when something was received without usage (a stream is not promised any)."""
        attempts = self.attempts
        tally = attempts.tally
        if tally is None:
            return
        if self.usage_chunk is not None:
            tally.record_answer(self.usage_chunk, attempts.model)
        elif self.open or self.finished or self.answered:
            tally.record_unreported(attempts.model)

    def ended(self, received: int) -> None:
        """The body ended cleanly without ``[DONE]``: return if complete, else raise."""
        finished = self.finished
        if self.final_event or (finished and self.open <= finished):
            logger.debug(
                "stream ended without [DONE] after %d event(s), every choice with a "
                "finish_reason: treated as complete",
                received,
            )
            return
        if not received:
            raise ResponseDecodeError(
                "the stream ended before its [DONE] marker without any event: there is no answer",
                request_id=self.request_id,
            )
        before = "before every choice had a finish_reason" if finished else (
            "before any finish_reason"
        )
        raise StreamInterruptedError(
            f"the connection closed after {received} event(s) without [DONE] and {before}: "
            "what was received is partial and was not retried",
            events_received=received,
            request_id=self.request_id,
        )


def _interrupted(err: CompactifAIError, received: int, request_id: str | None) -> NoReturn:
    if isinstance(err, StreamInterruptedError):
        raise err
    if isinstance(err, APIError) and err.from_stream_event:
        # The server itself reported an error mid-stream: raise it typed, saying it is partial.
        err.events_received = received
        raise err
    # The message only: the request id is ours to show, once.
    detail = err.message if isinstance(err, APIError) else str(err)
    raise StreamInterruptedError(
        f"the stream broke after {received} event(s): {detail}; what was received is "
        "partial and was not retried",
        events_received=received,
        request_id=request_id,
    ) from err


def _drain(chunks: Iterator[bytes]) -> None:
    """Read the end of the body after ``[DONE]`` so the connection can serve the next call."""
    left = _DRAIN_BYTES
    try:
        for raw in chunks:
            left -= len(raw)
            if left < 0:
                logger.debug("more than %d bytes after [DONE]: connection dropped", _DRAIN_BYTES)
                return
    except httpx.TransportError as exc:  # the answer is whole; only the connection is lost
        logger.debug("after [DONE]: %s", _describe(exc))


async def _adrain(chunks: AsyncIterator[bytes]) -> None:
    """The async :func:`_drain`, bounded in time too (the connection is dropped past it)."""
    import anyio  # httpx's own dependency; imported on first use only

    left = _DRAIN_BYTES
    with anyio.move_on_after(_DRAIN_SECONDS):
        try:
            async for raw in chunks:
                left -= len(raw)
                if left < 0:
                    logger.debug(
                        "more than %d bytes after [DONE]: connection dropped", _DRAIN_BYTES
                    )
                    return
        except httpx.TransportError as exc:
            logger.debug("after [DONE]: %s", _describe(exc))


def _log_retry(method: str, path: str, err: CompactifAIError, delay: float, attempt: int) -> None:
    logger.info(
        "%s %s failed (%s: %s); retry %d in %.2fs",
        method,
        path,
        type(err).__name__,
        err,
        attempt + 1,
        delay,
    )


def _merge_headers(extra: Mapping[str, str] | None, base: dict[str, str]) -> dict[str, str]:
    if not extra:
        return base
    headers = dict(base)
    for name, value in extra.items():
        key = name.lower()  # so a caller's "Accept" replaces ours instead of joining it
        if key == "authorization":
            raise InvalidRequestError(
                "extra_headers may not set Authorization: pass the key as api_key=... "
                "when building the client",
                param="extra_headers",
            )
        headers[key] = value
    return headers


def _estimate(limit: Any, body: Any) -> int:
    return estimate_tokens(body) if limit is not None and isinstance(body, dict) else 0


def _used_tokens(payload: Any) -> int | None:
    usage = payload.get("usage") if isinstance(payload, dict) else None
    total = usage.get("total_tokens") if isinstance(usage, dict) else None
    return total if isinstance(total, int) else None


def _tallied(path: str) -> bool:
    """Whether answers on ``path`` carry the chat/text completion ``usage`` a tally adds up."""
    return path.endswith("/completions") and not path.endswith("/usage/completions")


def _encode(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class _Attempts:
    """One call's attempts: each failure becomes the typed error to raise, or the wait before
    the next try. The four send loops (sync/async x plain/streamed) share it, so what is
    retried, how long to wait and when to stop are decided in one place.
    """

    __slots__ = (
        "attempt", "cost", "idempotent", "limit", "model", "pipeline", "request_id", "tally",
        "what",
    )

    def __init__(
        self, pipeline: _PipelineBase, request: httpx.Request, body: Any, *,
        idempotent: bool | None, stream: bool,
    ) -> None:
        method, path = request.method, request.url.path
        self.request_id: str | None = request.headers.get("x-request-id")
        self.pipeline = pipeline
        self.what = (method, path, stream)
        self.idempotent = method in _IDEMPOTENT_METHODS if idempotent is None else idempotent
        self.limit = pipeline.config.rate_limit
        self.cost = _estimate(self.limit, body)
        self.attempt = 0
        #: The client's usage tally, for chat and text completions only.
        tally = pipeline.config.usage_tally
        self.tally = tally if tally is not None and _tallied(path) else None
        self.model: str | None = (
            body.get("model") if self.tally is not None and isinstance(body, dict) else None
        )

    def pace(self) -> float:
        """Seconds to wait for the client-side rate limit before this attempt (0: none)."""
        return self.limit.reserve(self.cost) if self.limit is not None else 0.0

    def settle(self, payload: Any) -> None:
        """Correct the rate limit's estimate with the tokens the answer says it used, and add
        them to the client's usage tally (a stream's, once it is over: ``_StreamState.tally``)."""
        if self.limit is not None:
            self.limit.correct(self.cost, _used_tokens(payload) or self.cost)
        if self.tally is not None and not self.what[2]:  # streams count theirs at their end
            self.tally.record_answer(payload, self.model)

    def after_failure(
        self,
        exc: Exception,
        headers: httpx.Headers | None,
        received: int = 0,
        request_id: str | None = None,
    ) -> float:
        """The wait before the next attempt, or raise the error the caller gets."""
        method, path, stream = self.what
        cause: BaseException | None = None
        if isinstance(exc, httpx.TransportError):
            where = f"on {method} {path}" + (" (stream)" if stream else "")
            err: CompactifAIError = _transport_error(exc, where, request_id or self.request_id)
            cause = exc
        elif isinstance(exc, CompactifAIError):
            err = exc
            _final_if_unsafe(err, self.idempotent)
        else:  # pragma: no cover - the loops catch only the two kinds above
            raise exc
        if received:
            _interrupted(err, received, request_id)
        config = self.pipeline.config
        if not err.retryable or self.attempt >= config.max_retries:
            raise err from cause
        delay = retry_delay(
            self.attempt, headers, config.max_retry_delay, rand=self.pipeline._sleep_rand
        )
        _log_retry(method, path, err, delay, self.attempt)
        self.attempt += 1
        return delay


class _PipelineBase:
    """What the sync and async pipelines share: configuration and request building."""

    def __init__(self, config: ClientConfig, *, foreign_client: bool) -> None:
        self.config = config
        self._sleep_rand: Callable[[], float] = random.random
        self._base_headers = config.headers()
        # A caller's own httpx client knows nothing of our headers: send them per request.
        self._per_request_headers = (
            {k.lower(): v for k, v in self._base_headers.items()} if foreign_client else None
        )
        # For pools we own, requests are built directly (httpx's build_request merges the
        # client's headers, cookies and URL on every call: 26 µs against 10 µs measured).
        self._owned_headers: dict[str, str] | None = None
        self._urls: dict[str, httpx.URL] = {}
        #: Withdrawn model ids this client has warned about (once each), and the ids the
        #: server's own model list serves, once the client has read it (the list wins).
        self.warned_models: set[str] = set()
        self.served_models: frozenset[str] | None = None

    def _build(
        self,
        client: httpx.Client | httpx.AsyncClient,
        method: str,
        path: str,
        *,
        body: Any = None,
        files: Any = None,
        data: Mapping[str, Any] | None = None,
        stream: bool = False,
        timeout: httpx.Timeout | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> httpx.Request:
        model = body.get("model") if type(body) is dict else data.get("model") if data else None
        if type(model) is str and model in WITHDRAWN_MODELS:  # before sending, once per client
            warn_if_withdrawn(model, self.warned_models, self.served_models)
        if files is not None:  # httpx sets the multipart content type and boundary
            base: dict[str, str] = {"accept": "text/event-stream"} if stream else {}
        else:
            base = _STREAM_HEADERS if stream else _JSON_HEADERS
        headers = _merge_headers(extra_headers, base)
        if "x-request-id" not in headers:  # ours, unless the caller sent one: for tracing
            headers = {**headers, "x-request-id": uuid.uuid4().hex}
        timeout = timeout or self.config.timeout
        if files is not None or self._per_request_headers is not None:
            if self._per_request_headers is not None:
                headers = {**self._per_request_headers, **headers}
            return client.build_request(
                method, self.config.base_url + path, files=files, data=data,
                content=None if body is None else _encode(body), headers=headers,
                timeout=timeout,
            )
        owned = self._owned_headers
        if owned is None:
            owned = self._owned_headers = {k.lower(): v for k, v in client.headers.items()}
        url = self._urls.get(path)
        if url is None:
            url = httpx.URL(self.config.base_url + path)
            if len(self._urls) < 64:  # a handful of endpoints; model ids may vary
                self._urls[path] = url
        return httpx.Request(
            method, url, headers={**owned, **headers},
            content=None if body is None else _encode(body),
            extensions={"timeout": timeout.as_dict()},
        )

    def _new_client_kwargs(self) -> dict[str, Any]:
        return {
            "headers": self._base_headers,
            "timeout": self.config.timeout,
            "limits": _LIMITS,
            "follow_redirects": True,
        }

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError("pipelines are not pickled; pickle the client that owns them")


# ---------------------------------------------------------------- sync


class SyncPipeline(_PipelineBase):
    """Sends requests for :class:`compactifai.CompactifAIClient` (thread safe)."""

    def __init__(self, config: ClientConfig, http_client: httpx.Client | None = None) -> None:
        super().__init__(config, foreign_client=http_client is not None)
        self._owns_client = http_client is None
        self._client = http_client
        self._sleep: Callable[[float], None] = time.sleep

    @property
    def http_client(self) -> httpx.Client:
        client = self._client
        if client is None:
            client = self._client = httpx.Client(**self._new_client_kwargs())
        return client


    def close(self) -> None:
        if self._owns_client and self._client is not None:
            self._client.close()
            self._client = None

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        files: Any = None,
        data: Mapping[str, Any] | None = None,
        timeout: httpx.Timeout | None = None,
        extra_headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        text: bool = False,
    ) -> Any:
        """Send a request and return its parsed JSON answer, retrying what may be retried.

        ``idempotent`` (default: GET, HEAD, OPTIONS) says whether an unreadable 2xx answer may
        be asked for again. ``text``: the answer is a text body (returned as ``str``), not JSON.
        """
        client = self.http_client
        request = self._build(
            client, method, path, body=body, files=files, data=data, timeout=timeout,
            extra_headers=extra_headers,
        )
        attempts = _Attempts(self, request, body, idempotent=idempotent, stream=False)
        while True:
            wait = attempts.pace()
            if wait > 0:
                self._sleep(wait)
            headers = None
            try:
                response = client.send(request)
                headers = response.headers
                if response.status_code < 400:
                    answer = _text_answer(response) if text else _answer(response)
                    attempts.settle(answer)
                    return answer
                raise _status_error(response, response.content)
            except (httpx.TransportError, CompactifAIError) as exc:
                delay = attempts.after_failure(exc, headers)
            self._sleep(delay)

    def stream(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        files: Any = None,
        data: Mapping[str, Any] | None = None,
        timeout: httpx.Timeout | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield the JSON payload of each SSE event as it arrives, until ``[DONE]``.

        ``files`` and ``data`` send a multipart form instead of a JSON ``body``.
        """
        client = self.http_client
        request = self._build(
            client, method, path, body=body, files=files, data=data, stream=True,
            timeout=timeout, extra_headers=extra_headers,
        )
        attempts = _Attempts(self, request, body, idempotent=None, stream=True)
        while True:
            wait = attempts.pace()
            if wait > 0:
                self._sleep(wait)
            received = 0
            headers = None
            state = _StreamState(attempts)
            try:
                response = client.send(request, stream=True)
                try:
                    headers = response.headers
                    state.request_id = _request_id(response)
                    if response.status_code >= 400:
                        raise _status_error(response, response.read())
                    if _is_json(response):
                        yield state.whole_answer(response, response.read())
                        return
                    decoder = SSEDecoder()
                    chunks = response.iter_bytes()
                    for raw in chunks:
                        for event in decoder.feed(raw):
                            payload = state.payload(event)
                            if payload is None:
                                _drain(chunks)
                                return
                            yield payload
                            received += 1
                    for event in decoder.flush():
                        payload = state.payload(event)
                        if payload is None:
                            return
                        yield payload
                        received += 1
                    state.ended(received)
                    return
                finally:
                    response.close()
                    state.tally()
            except (httpx.TransportError, CompactifAIError) as exc:
                delay = attempts.after_failure(exc, headers, received, state.request_id)
            self._sleep(delay)


# ---------------------------------------------------------------- async


def _aiohttp_transport() -> httpx.AsyncBaseTransport:
    """aiohttp under httpx's API (httpx-aiohttp, as the openai SDK offers it).

    aiohttp's connector does not scan its idle connections on each request, so it keeps as
    many as the concurrency needs (the reason httpx's pool keeps only ``_LIMITS``' 10).
    """
    from httpx_aiohttp import AiohttpTransport

    return AiohttpTransport(limits=_AIOHTTP_LIMITS)


class _SlotHeldStream(httpx.AsyncByteStream):
    """A streamed body that gives its in-flight slot back when closed (once).

    Iterating hands out the body's own iterator: nothing is added per chunk.
    """

    __slots__ = ("_body", "_slots")

    def __init__(self, body: httpx.AsyncByteStream, slots: asyncio.Semaphore) -> None:
        self._body = body
        self._slots: asyncio.Semaphore | None = slots

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._body.__aiter__()

    async def aclose(self) -> None:
        slots, self._slots = self._slots, None
        try:
            await self._body.aclose()
        finally:
            if slots is not None:
                slots.release()


async def _close_with_loop(client: httpx.AsyncClient) -> AsyncIterator[None]:
    """Parked async generator: the event loop's shutdown_asyncgens() closes the client."""
    try:
        yield
    finally:
        await client.aclose()


class AsyncPipeline(_PipelineBase):
    """Sends requests for :class:`compactifai.AsyncCompactifAIClient`.

    It keeps one connection pool per event loop, so a client built once may be used from
    ``asyncio.run`` after ``asyncio.run`` (notebooks, tests, web frameworks) without
    "Event loop is closed"; each pool is closed when its loop shuts down.
    """

    def __init__(
        self, config: ClientConfig, http_client: httpx.AsyncClient | None = None
    ) -> None:
        super().__init__(config, foreign_client=http_client is not None)
        self._user_client = http_client
        self._clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}
        self._closers: dict[asyncio.AbstractEventLoop, AsyncIterator[None]] = {}
        #: pool -> its transport, for the pools sent to directly (see _send)
        self._direct: dict[httpx.AsyncClient, httpx.AsyncBaseTransport] = {}
        #: pool -> its in-flight bound, for the pools we own (see _send)
        self._slots: dict[httpx.AsyncClient, asyncio.Semaphore] = {}
        self._sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    async def http_client(self) -> httpx.AsyncClient:
        """The pool for the running loop (the caller's own client, when one was given)."""
        if self._user_client is not None:
            return self._user_client
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is not None:
            return client
        for old in [old for old in self._clients if old.is_closed()]:
            stale = self._clients.pop(old)
            self._direct.pop(stale, None)
            self._slots.pop(stale, None)
            self._closers.pop(old, None)
        kwargs = self._new_client_kwargs()
        if self.config.http_backend == "aiohttp":
            kwargs["transport"] = _aiohttp_transport()
        client = httpx.AsyncClient(**kwargs)
        closer = _close_with_loop(client)
        await closer.__anext__()
        self._clients[loop] = client
        self._closers[loop] = closer
        if "transport" in kwargs and not _PROXIED:
            self._direct[client] = kwargs["transport"]
        self._slots[client] = asyncio.BoundedSemaphore(_MAX_IN_FLIGHT)
        return client

    async def _send(
        self, client: httpx.AsyncClient, request: httpx.Request, *, stream: bool
    ) -> httpx.Response:
        """Send within the pool's in-flight bound (``_MAX_IN_FLIGHT``), when we own the pool.

        A request holds its slot until its answer is read; a stream, until it is closed
        (exhausted, ended early, or abandoned and then closed). A waiter cancelled in line
        takes no slot; a send that fails or is cancelled gives its slot back.
        """
        slots = self._slots.get(client)
        if slots is None:  # a caller's own client: its limits are the caller's
            return await self._send_now(client, request, stream=stream)
        await slots.acquire()
        try:
            response = await self._send_now(client, request, stream=stream)
        except BaseException:
            slots.release()
            raise
        if not stream:
            slots.release()
        else:
            body = response.stream
            assert isinstance(body, httpx.AsyncByteStream)  # an async pool's, always
            response.stream = _SlotHeldStream(body, slots)
        return response

    async def _send_now(
        self, client: httpx.AsyncClient, request: httpx.Request, *, stream: bool
    ) -> httpx.Response:
        """Send through the pool's transport itself when we own it, else the client.

        httpx's client layer (auth, redirects, cookies, event hooks, timers) costs more CPU
        per call than aiohttp's whole request (measured: 266-313 µs a call through the client
        against 168-182 µs straight to the transport). A pool we built has none of those to
        apply; a redirect, which this API does not send, is left to the client's own logic.
        """
        transport = self._direct.get(client)
        if transport is None:
            return await client.send(request, stream=stream)
        response = await transport.handle_async_request(request)
        response.request = request
        if response.is_redirect:
            await response.aclose()
            return await client.send(request, stream=stream)
        if not stream:
            try:
                await response.aread()
            finally:
                await response.aclose()
        return response

    async def aclose(self) -> None:
        """Close the pool of the running loop (pools of other loops close with their loop)."""
        if self._user_client is not None:
            return
        loop = asyncio.get_running_loop()
        client = self._clients.pop(loop, None)
        closer = self._closers.pop(loop, None)
        if client is not None:
            self._direct.pop(client, None)
            self._slots.pop(client, None)
            await client.aclose()
        if closer is not None:
            await closer.aclose()  # type: ignore[attr-defined]


    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        files: Any = None,
        data: Mapping[str, Any] | None = None,
        timeout: httpx.Timeout | None = None,
        extra_headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        text: bool = False,
    ) -> Any:
        """Send a request and return its parsed JSON answer, retrying what may be retried.

        ``idempotent`` (default: GET, HEAD, OPTIONS) says whether an unreadable 2xx answer may
        be asked for again. ``text``: the answer is a text body (returned as ``str``), not JSON.
        """
        client = await self.http_client()
        request = self._build(
            client, method, path, body=body, files=files, data=data, timeout=timeout,
            extra_headers=extra_headers,
        )
        attempts = _Attempts(self, request, body, idempotent=idempotent, stream=False)
        while True:
            wait = attempts.pace()
            if wait > 0:
                await self._sleep(wait)
            headers = None
            try:
                response = await self._send(client, request, stream=False)
                headers = response.headers
                if response.status_code < 400:
                    answer = _text_answer(response) if text else _answer(response)
                    attempts.settle(answer)
                    return answer
                raise _status_error(response, response.content)
            except (httpx.TransportError, CompactifAIError) as exc:
                delay = attempts.after_failure(exc, headers)
            await self._sleep(delay)

    async def stream(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        files: Any = None,
        data: Mapping[str, Any] | None = None,
        timeout: httpx.Timeout | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield the JSON payload of each SSE event as it arrives, until ``[DONE]``.

        ``files`` and ``data`` send a multipart form instead of a JSON ``body``.
        """
        client = await self.http_client()
        request = self._build(
            client, method, path, body=body, files=files, data=data, stream=True,
            timeout=timeout, extra_headers=extra_headers,
        )
        attempts = _Attempts(self, request, body, idempotent=None, stream=True)
        while True:
            wait = attempts.pace()
            if wait > 0:
                await self._sleep(wait)
            received = 0
            headers = None
            state = _StreamState(attempts)
            try:
                response = await self._send(client, request, stream=True)
                try:
                    headers = response.headers
                    state.request_id = _request_id(response)
                    if response.status_code >= 400:
                        raise _status_error(response, await response.aread())
                    if _is_json(response):
                        yield state.whole_answer(response, await response.aread())
                        return
                    decoder = SSEDecoder()
                    chunks = response.aiter_bytes()
                    async for raw in chunks:
                        for event in decoder.feed(raw):
                            payload = state.payload(event)
                            if payload is None:
                                await _adrain(chunks)
                                return
                            yield payload
                            received += 1
                    for event in decoder.flush():
                        payload = state.payload(event)
                        if payload is None:
                            return
                        yield payload
                        received += 1
                    state.ended(received)
                    return
                finally:
                    await response.aclose()
                    state.tally()
            except (httpx.TransportError, CompactifAIError) as exc:
                delay = attempts.after_failure(exc, headers, received, state.request_id)
            await self._sleep(delay)


# ---------------------------------------------------------------- raw downloads (files)
# (issue 13) ``GET /files/{id}/content`` answers with raw bytes, not JSON: these send it with
# the same retry and error rules as every GET, handing the bytes to a sink. A download that
# breaks part-way is sent again from the start; ``restart`` tells the sink to drop what it had.


class DownloadSink(Protocol):
    """Where downloaded bytes go: ``restart`` before each attempt's first byte, then ``write``."""

    def restart(self) -> None: ...

    def write(self, data: bytes) -> Any: ...


def download(
    pipeline: SyncPipeline,
    path: str,
    sink: DownloadSink,
    *,
    timeout: httpx.Timeout | None = None,
    extra_headers: Mapping[str, str] | None = None,
) -> None:
    """``GET path``, streaming the 2xx body into ``sink`` (retried like any GET)."""
    client = pipeline.http_client
    request = pipeline._build(
        client, "GET", path, timeout=timeout, extra_headers=_merge_headers(
            extra_headers, {"accept": "application/octet-stream, */*"}
        ),
    )
    attempts = _Attempts(pipeline, request, None, idempotent=True, stream=False)
    while True:
        wait = attempts.pace()
        if wait > 0:
            pipeline._sleep(wait)
        headers = None
        try:
            response = client.send(request, stream=True)
            try:
                headers = response.headers
                if response.status_code >= 400:
                    raise _status_error(response, response.read())
                sink.restart()
                for raw in response.iter_bytes():
                    sink.write(raw)
                return
            finally:
                response.close()
        except (httpx.TransportError, CompactifAIError) as exc:
            delay = attempts.after_failure(exc, headers)
        pipeline._sleep(delay)


async def adownload(
    pipeline: AsyncPipeline,
    path: str,
    sink: DownloadSink,
    *,
    timeout: httpx.Timeout | None = None,
    extra_headers: Mapping[str, str] | None = None,
) -> None:
    """The async :func:`download`."""
    client = await pipeline.http_client()
    request = pipeline._build(
        client, "GET", path, timeout=timeout, extra_headers=_merge_headers(
            extra_headers, {"accept": "application/octet-stream, */*"}
        ),
    )
    attempts = _Attempts(pipeline, request, None, idempotent=True, stream=False)
    while True:
        wait = attempts.pace()
        if wait > 0:
            await pipeline._sleep(wait)
        headers = None
        try:
            response = await pipeline._send(client, request, stream=True)
            try:
                headers = response.headers
                if response.status_code >= 400:
                    raise _status_error(response, await response.aread())
                sink.restart()
                async for raw in response.aiter_bytes():
                    sink.write(raw)
                return
            finally:
                await response.aclose()
        except (httpx.TransportError, CompactifAIError) as exc:
            delay = attempts.after_failure(exc, headers)
        await pipeline._sleep(delay)
