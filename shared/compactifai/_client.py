"""``CompactifAIClient`` and ``AsyncCompactifAIClient``: one method per API endpoint.

The two mirror each other name for name. Each method checks its arguments against the limits
the API documents, builds the request body (only what the caller set is sent), and hands it to
the request pipeline, which owns retries, timeouts and error mapping.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from typing_extensions import Self, TypedDict, Unpack

from ._catalogue import ModelProfile, profile_from_table, profiles_from_list
from ._checks import (
    AudioInput,
    check_n,
    check_positive_int,
    check_range,
    merge_extra_body,
    prepare_audio,
    rfc3339,
)
from ._config import ClientConfig, SecretLike, TimeoutTypes, to_timeout
from ._errors import (
    APIError,
    AuthenticationError,
    InvalidRequestError,
    PermissionDeniedError,
    ResponseDecodeError,
)
from ._pipeline import AsyncPipeline, SyncPipeline
from ._ratelimit import RateLimit

if TYPE_CHECKING:
    from pydantic import BaseModel

    from .types import (
        ChatCompletion,
        ChatCompletionChunk,
        Completion,
        CompletionChunk,
        Model,
        ModelList,
        Transcription,
        UsageStatistics,
    )

__all__ = [
    "AsyncCompactifAIClient",
    "AsyncStream",
    "ChatParams",
    "CompactifAIClient",
    "CompletionParams",
    "Stream",
]

logger = logging.getLogger("compactifai")

T = TypeVar("T")

DEFAULT_TRANSCRIPTION_MODEL = "whisper-large-v3"
_WINDOW_SIZES = ("MINUTE", "HOUR", "DAY")
#: Time zones accepted without a time-zone database: UTC and IANA's fixed-offset zones.
_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "GMT", "Etc/GMT"})
_ETC_GMT = re.compile(r"Etc/GMT(?:-(?:[0-9]|1[0-4])|\+(?:[0-9]|1[0-2]))\Z")
_OFFSET = re.compile(r"(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?\Z", re.IGNORECASE)
_IANA_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+)*\Z")


class _CallOptions(TypedDict, total=False):
    #: Fields the API takes that have no argument here; sent as they are.
    extra_body: Mapping[str, Any] | None
    #: Headers added to this request only.
    extra_headers: Mapping[str, str] | None
    #: This request's timeout (seconds or ``httpx.Timeout``); the client's otherwise.
    timeout: TimeoutTypes


class ChatParams(_CallOptions, total=False):
    """Optional parameters of a chat completion (see the API reference for each)."""

    temperature: float | None
    top_p: float | None
    max_tokens: int | None
    max_completion_tokens: int | None
    stop: str | Sequence[str] | None
    frequency_penalty: float | None
    presence_penalty: float | None
    n: int | None
    user: str | None
    tools: Sequence[Mapping[str, Any]] | None
    tool_choice: str | Mapping[str, Any] | None
    response_format: Mapping[str, Any] | None
    seed: int | None


class CompletionParams(_CallOptions, total=False):
    """Optional parameters of a text completion (see the API reference for each)."""

    temperature: float | None
    top_p: float | None
    max_tokens: int | None
    stop: str | Sequence[str] | None
    user: str | None
    tools: Sequence[Mapping[str, Any]] | None
    tool_choice: str | Mapping[str, Any] | None
    seed: int | None


_CHAT_KEYS = frozenset(ChatParams.__annotations__) - frozenset(_CallOptions.__annotations__)
_COMPLETION_KEYS = frozenset(CompletionParams.__annotations__) - frozenset(
    _CallOptions.__annotations__
)
_TOOL_CHOICES = ("auto", "none", "required")


def _check_tool_choice(choice: Any) -> None:
    if choice is None or choice in _TOOL_CHOICES:
        return
    if isinstance(choice, Mapping) and choice.get("type") == "function":
        fn = choice.get("function")
        if isinstance(fn, Mapping) and isinstance(fn.get("name"), str):
            return
    raise InvalidRequestError(
        f"tool_choice={choice!r} is not valid: use 'auto', 'none', 'required' or "
        "{'type': 'function', 'function': {'name': '<tool name>'}}",
        param="tool_choice",
    )


def _body(
    kind: str, allowed: frozenset[str], model: str, params: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split call options from API fields, check the fields, and build the request body."""
    if not isinstance(model, str) or not model:
        raise InvalidRequestError("model must be a model id such as 'cai-llama-3-1-8b-slim'",
                                  param="model")
    body: dict[str, Any] = {"model": model}
    options: dict[str, Any] = {}
    for key, value in params.items():
        if key in allowed:
            if value is not None:
                body[key] = list(value) if key == "stop" and not isinstance(value, str) else value
        elif key in ("extra_body", "extra_headers", "timeout"):
            options[key] = value
        else:
            raise InvalidRequestError(
                f"{kind} takes no argument {key!r}: if the API accepts it, pass it in "
                f"extra_body={{{key!r}: ...}}",
                param=key,
            )
    check_range("temperature", body.get("temperature"), 0.0, 2.0)
    check_range("top_p", body.get("top_p"), 0.0, 1.0)
    check_range("frequency_penalty", body.get("frequency_penalty"), -2.0, 2.0)
    check_range("presence_penalty", body.get("presence_penalty"), -2.0, 2.0)
    check_positive_int("max_tokens", body.get("max_tokens"))
    check_positive_int("max_completion_tokens", body.get("max_completion_tokens"))
    check_n(body.get("n"))
    _check_tool_choice(body.get("tool_choice"))
    if body.get("tools") is not None:
        body["tools"] = list(body["tools"])
    merge_extra_body(body, options.get("extra_body"))
    if options.get("timeout") is not None:
        options["timeout"] = to_timeout(options["timeout"])
    return body, options


def _chat_body(
    model: str, messages: Sequence[Mapping[str, Any]], params: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    if isinstance(messages, (str, bytes)) or not messages:
        raise InvalidRequestError(
            "messages must be a non-empty list of {'role': ..., 'content': ...} dicts",
            param="messages",
        )
    body, options = _body("chat_completion", _CHAT_KEYS, model, params)
    body["messages"] = messages if isinstance(messages, list) else list(messages)
    return body, options


def _completion_body(
    model: str, prompt: str | Sequence[str], params: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    if isinstance(prompt, str):
        pass
    elif isinstance(prompt, Sequence) and prompt and all(isinstance(p, str) for p in prompt):
        prompt = list(prompt)
    else:
        raise InvalidRequestError(
            "prompt must be a string or a non-empty list of strings", param="prompt"
        )
    body, options = _body("completion", _COMPLETION_KEYS, model, params)
    body["prompt"] = prompt
    return body, options


def _streamed(body: dict[str, Any], include_usage: bool) -> dict[str, Any]:
    body["stream"] = True
    if include_usage and "stream_options" not in body:
        body["stream_options"] = {"include_usage": True}
    return body


def _transcription_form(
    file: AudioInput,
    *,
    model: str,
    filename: str | None,
    language: str | None,
    prompt: str | None,
    temperature: float | None,
    response_format: str | None,
    timestamp_granularities: Sequence[str] | None,
    include: Sequence[str] | None,
    chunking_strategy: str | Mapping[str, Any] | None,
    extra_body: Mapping[str, Any] | None,
) -> tuple[dict[str, Any], list[tuple[str, Any]]]:
    check_range("temperature", temperature, 0.0, 1.0)
    upload = prepare_audio(file, filename)
    form: dict[str, Any] = {"model": model}
    for key, value in (
        ("language", language),
        ("prompt", prompt),
        ("temperature", temperature),
        ("response_format", response_format),
    ):
        if value is not None:
            form[key] = str(value)
    if chunking_strategy is not None:
        form["chunking_strategy"] = (
            chunking_strategy if isinstance(chunking_strategy, str) else json.dumps(
                dict(chunking_strategy)
            )
        )
    if timestamp_granularities:
        form["timestamp_granularities[]"] = list(timestamp_granularities)
    if include:
        form["include[]"] = list(include)
    merge_extra_body(form, extra_body)
    files = [("file", (upload.filename, upload.content, upload.content_type))]
    return form, files


def _tz_database_missing() -> bool:
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo("UTC")
    except Exception:
        return True
    return False


def _check_timezone(name: Any) -> None:
    """Accept what the API takes for ``window_timezone``: an IANA time zone name.

    "UTC" and IANA's fixed-offset zones ("Etc/GMT-2" is UTC+2: IANA inverts the sign) need no
    time-zone database. Other names are checked against the database (the ``tzdata`` package
    or the system's); where there is none, a well-formed name is left for the server to judge.
    Bare offsets ("+02:00", "UTC+2") are not IANA names: the error says which name to use.
    """
    if isinstance(name, str) and (name in _UTC_NAMES or _ETC_GMT.match(name)):
        return
    offset = _OFFSET.match(name) if isinstance(name, str) else None
    if offset is not None:
        sign, hours, minutes = offset.groups()
        etc = f"Etc/GMT{'-' if sign == '+' else '+'}{int(hours)}"
        if int(hours) == 0 and minutes in (None, "00"):
            hint = "use 'UTC'"
        elif minutes in (None, "00") and _ETC_GMT.match(etc):
            hint = f"use {etc!r} (IANA inverts the sign of fixed offsets) or a city's zone"
        else:
            hint = "use the IANA zone of a place with that offset (e.g. 'Asia/Kolkata')"
        raise InvalidRequestError(
            f"window_timezone={name!r} is an offset, not an IANA time zone: {hint}",
            param="window_timezone",
        )
    if isinstance(name, str):
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(name)
            return
        except Exception:
            if _IANA_NAME.match(name) and _tz_database_missing():
                logger.debug("no time-zone database: window_timezone=%r sent unchecked", name)
                return
    raise InvalidRequestError(
        f"window_timezone={name!r} is not an IANA time zone such as 'UTC' or 'Europe/Madrid'",
        param="window_timezone",
    )


def _usage_body(
    start_time: datetime | str,
    end_time: datetime | str | None,
    window_size: str,
    window_timezone: str,
    group_by: Sequence[str] | None,
    filter_group_by: Mapping[str, Sequence[str]] | None,
) -> dict[str, Any]:
    size = window_size.upper() if isinstance(window_size, str) else window_size
    if size not in _WINDOW_SIZES:
        raise InvalidRequestError(
            f"window_size={window_size!r}: use 'MINUTE', 'HOUR' or 'DAY'", param="window_size"
        )
    _check_timezone(window_timezone)
    body: dict[str, Any] = {
        "start_time": rfc3339("start_time", start_time),
        "window_size": size,
        "window_timezone": window_timezone,
    }
    if end_time is not None:
        body["end_time"] = rfc3339("end_time", end_time)
    if group_by is not None:
        body["group_by"] = [group_by] if isinstance(group_by, str) else list(group_by)
    if filter_group_by is not None:
        body["filter_group_by"] = {
            k: [v] if isinstance(v, str) else list(v) for k, v in filter_group_by.items()
        }
    return body


M = TypeVar("M", bound="BaseModel")


def _parse(kind: type[M], data: Any) -> M:
    """Validate an answer; one that does not match the documented shape is a typed error."""
    try:
        return kind.model_validate(data)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise ResponseDecodeError(
            f"the server's answer is not a valid {kind.__name__}: {exc}".replace("\n", " ")[:500]
        ) from None


def _model_path(model_id: str) -> str:
    if not model_id:
        raise InvalidRequestError("model_id must not be empty", param="model_id")
    return "/models/" + quote(model_id, safe="")


def _profile_fallback(err: APIError, model_id: str) -> ModelProfile:
    if isinstance(err, (AuthenticationError, PermissionDeniedError)):
        raise err
    logger.warning(
        "could not read the model list (%s); using the built-in profile of %r", err, model_id
    )
    return profile_from_table(model_id)


class Stream(Generic[T]):
    """A streamed answer: iterate it for chunks (plain dicts, as the server sent them).

    The connection is released when the stream ends, when the loop over it stops early
    (``break``, an exception), when :meth:`close` is called, or when it is dropped. Use it as a
    context manager to make the release explicit.

    Example:
        >>> from compactifai import CompactifAIClient
        >>> client = CompactifAIClient(api_key="sk-...")  # doctest: +SKIP
        >>> with client.chat_completion_stream(  # doctest: +SKIP
        ...     model="cai-llama-3-1-8b-slim", messages=[{"role": "user", "content": "Hi"}]
        ... ) as stream:
        ...     for chunk in stream:
        ...         print(chunk["choices"][0]["delta"].get("content") or "" if chunk["choices"] else "")
    """

    __slots__ = ("_iterator",)

    def __init__(self, iterator: Iterator[T]) -> None:
        self._iterator = iterator

    def __iter__(self) -> Iterator[T]:
        return self._iterator

    def __next__(self) -> T:
        return next(self._iterator)

    def close(self) -> None:
        """Stop reading and release the connection."""
        self._iterator.close()  # type: ignore[attr-defined]

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncStream(Generic[T]):
    """The async twin of :class:`Stream`: ``async for`` it, ``aclose()`` or ``async with`` it.

    Example:
        >>> async def main(client):  # an AsyncCompactifAIClient
        ...     async with client.chat_completion_stream(
        ...         model="cai-llama-3-1-8b-slim", messages=[{"role": "user", "content": "Hi"}]
        ...     ) as stream:
        ...         async for chunk in stream:
        ...             print(chunk.get("usage") or "")
    """

    __slots__ = ("_iterator",)

    def __init__(self, iterator: AsyncIterator[T]) -> None:
        self._iterator = iterator

    def __aiter__(self) -> AsyncIterator[T]:
        return self._iterator

    async def __anext__(self) -> T:
        return await self._iterator.__anext__()

    async def aclose(self) -> None:
        """Stop reading and release the connection."""
        await self._iterator.aclose()  # type: ignore[attr-defined]

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class _ClientBase:
    _config: ClientConfig

    def __init__(
        self,
        *,
        api_key: SecretLike = None,
        base_url: str | None = None,
        timeout: TimeoutTypes = None,
        max_retries: int | None = None,
        max_retry_delay: float | None = None,
        default_headers: Mapping[str, str] | None = None,
        rate_limit: RateLimit | None = None,
    ) -> None:
        self._config = ClientConfig.resolve(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            max_retry_delay=max_retry_delay,
            default_headers=default_headers,
            rate_limit=rate_limit,
        )
        self._profiles: dict[str, ModelProfile] | None = None

    @property
    def base_url(self) -> str:
        return self._config.base_url

    @property
    def config(self) -> ClientConfig:
        return self._config

    def cached_model_profile(self, model_id: str) -> ModelProfile:
        """What is known of a model without a request: the model list if :meth:`model_profile`
        has read it already, else the built-in table (for metadata that must not block)."""
        profiles = self._profiles
        found = profiles.get(model_id) if profiles is not None else None
        return found or profile_from_table(model_id)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self._config.base_url!r}, "
            f"max_retries={self._config.max_retries})"
        )

    def __reduce__(self) -> Any:
        # Workers rebuild the HTTP pool lazily; a caller's own httpx client is not carried.
        return (_rebuild_client, (type(self), self._config))


def _rebuild_client(cls: type[_ClientBase], config: ClientConfig) -> _ClientBase:
    client = cls.__new__(cls)
    _ClientBase.__init__(
        client,
        api_key=config.api_key,
        base_url=config.base_url,
        timeout=config.timeout,
        max_retries=config.max_retries,
        max_retry_delay=config.max_retry_delay,
        default_headers=config.default_headers,
        rate_limit=config.rate_limit,
    )
    client._init_pipeline(None)  # type: ignore[attr-defined]
    return client


class CompactifAIClient(_ClientBase):
    """Synchronous client for the CompactifAI API.

    The key comes from ``api_key`` or ``COMPACTIFAI_API_KEY``; the URL from ``base_url`` or
    ``COMPACTIFAI_BASE_URL`` (default ``https://api.compactif.ai/v1``). Thread safe; reuse one.

    Example:
        >>> from compactifai import CompactifAIClient
        >>> client = CompactifAIClient(api_key="sk-...")  # doctest: +SKIP
        >>> answer = client.chat_completion(  # doctest: +SKIP
        ...     model="cai-llama-3-1-8b-slim",
        ...     messages=[{"role": "user", "content": "What is artificial intelligence?"}],
        ...     max_tokens=100,
        ... )
        >>> print(answer.choices[0].message.content)  # doctest: +SKIP
        >>> for chunk in client.chat_completion_stream(  # doctest: +SKIP
        ...     model="cai-llama-3-1-8b-slim", messages=[{"role": "user", "content": "Hi"}]
        ... ):
        ...     print(chunk["choices"][0]["delta"].get("content") or "", end="")
    """

    def __init__(
        self,
        *,
        api_key: SecretLike = None,
        base_url: str | None = None,
        timeout: TimeoutTypes = None,
        max_retries: int | None = None,
        max_retry_delay: float | None = None,
        default_headers: Mapping[str, str] | None = None,
        rate_limit: RateLimit | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        super().__init__(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            max_retry_delay=max_retry_delay,
            default_headers=default_headers,
            rate_limit=rate_limit,
        )
        self._init_pipeline(http_client)

    def _init_pipeline(self, http_client: httpx.Client | None) -> None:
        self._pipeline = SyncPipeline(self._config, http_client)

    # -- lifecycle

    def close(self) -> None:
        """Close the connection pool (a caller's own httpx client is left open)."""
        self._pipeline.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- models

    def list_models(self) -> ModelList:
        """``GET /models``: every model with its capabilities and size."""
        from .types import ModelList

        return _parse(ModelList, self._pipeline.request("GET", "/models"))

    def retrieve_model(self, model_id: str) -> Model:
        """``GET /models/{model_id}``: one model."""
        from .types import Model

        return _parse(Model, self._pipeline.request("GET", _model_path(model_id)))

    def model_profile(self, model_id: str) -> ModelProfile:
        """What is known of a model (capabilities, context window), cached per client.

        The model list is read once, on first use; a model it lacks gets the built-in table's
        profile (transcription models are not always listed).
        """
        if self._profiles is None:
            try:
                self._profiles = profiles_from_list(self.list_models())
            except APIError as err:
                return _profile_fallback(err, model_id)
        return self._profiles.get(model_id) or profile_from_table(model_id)

    # -- chat

    def chat_completion(
        self, *, model: str, messages: Sequence[Mapping[str, Any]], **params: Unpack[ChatParams]
    ) -> ChatCompletion:
        """``POST /chat/completions``: the whole answer at once."""
        body, opts = _chat_body(model, messages, params)
        data = self._pipeline.request(
            "POST", "/chat/completions", body=body,
            timeout=opts.get("timeout"), extra_headers=opts.get("extra_headers"),
        )
        from .types import ChatCompletion

        return _parse(ChatCompletion, data)

    def chat_completion_stream(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        include_usage: bool = True,
        **params: Unpack[ChatParams],
    ) -> Stream[ChatCompletionChunk]:
        """``POST /chat/completions`` with ``stream: true``: chunk dicts as they arrive.

        With ``include_usage`` (the default) the server is asked for a last chunk carrying
        the token usage; a server that ignores the request simply sends none.
        """
        body, opts = _chat_body(model, messages, params)
        return Stream(self._pipeline.stream(  # type: ignore[arg-type]
            "POST", "/chat/completions", body=_streamed(body, include_usage),
            timeout=opts.get("timeout"), extra_headers=opts.get("extra_headers"),
        ))

    # -- completions

    def completion(
        self, *, model: str, prompt: str | Sequence[str], **params: Unpack[CompletionParams]
    ) -> Completion:
        """``POST /completions``: one choice per prompt (a string or a list of strings)."""
        body, opts = _completion_body(model, prompt, params)
        data = self._pipeline.request(
            "POST", "/completions", body=body,
            timeout=opts.get("timeout"), extra_headers=opts.get("extra_headers"),
        )
        from .types import Completion

        return _parse(Completion, data)

    def completion_stream(
        self,
        *,
        model: str,
        prompt: str | Sequence[str],
        include_usage: bool = True,
        **params: Unpack[CompletionParams],
    ) -> Stream[CompletionChunk]:
        """``POST /completions`` with ``stream: true``: chunk dicts as they arrive."""
        body, opts = _completion_body(model, prompt, params)
        return Stream(self._pipeline.stream(  # type: ignore[arg-type]
            "POST", "/completions", body=_streamed(body, include_usage),
            timeout=opts.get("timeout"), extra_headers=opts.get("extra_headers"),
        ))

    # -- audio

    def transcribe(
        self,
        file: AudioInput,
        *,
        model: str = DEFAULT_TRANSCRIPTION_MODEL,
        filename: str | None = None,
        language: str | None = None,
        prompt: str | None = None,
        temperature: float | None = None,
        response_format: str | None = None,
        timestamp_granularities: Sequence[str] | None = None,
        include: Sequence[str] | None = None,
        chunking_strategy: str | Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        timeout: TimeoutTypes = None,
    ) -> Transcription:
        """``POST /audio/transcriptions``: text and timestamped segments of an audio file.

        ``file`` is a path, bytes (with ``filename``), a binary file object, or a
        ``(filename, bytes)`` tuple; it is checked (type, size, emptiness) before upload.
        """
        form, files = _transcription_form(
            file, model=model, filename=filename, language=language, prompt=prompt,
            temperature=temperature, response_format=response_format,
            timestamp_granularities=timestamp_granularities, include=include,
            chunking_strategy=chunking_strategy, extra_body=extra_body,
        )
        data = self._pipeline.request(
            "POST", "/audio/transcriptions", files=files, data=form,
            timeout=None if timeout is None else to_timeout(timeout),
            extra_headers=extra_headers,
        )
        from .types import Transcription

        return _parse(Transcription, data)

    # -- usage

    def usage_statistics(
        self,
        *,
        start_time: datetime | str,
        end_time: datetime | str | None = None,
        window_size: str = "DAY",
        window_timezone: str = "UTC",
        group_by: Sequence[str] | None = None,
        filter_group_by: Mapping[str, Sequence[str]] | None = None,
    ) -> UsageStatistics:
        """``POST /usage/completions``: token totals per time window (and model)."""
        body = _usage_body(
            start_time, end_time, window_size, window_timezone, group_by, filter_group_by
        )
        data = self._pipeline.request(
            "POST", "/usage/completions", body=body, idempotent=True
        )
        from .types import UsageStatistics

        return _parse(UsageStatistics, data)


class AsyncCompactifAIClient(_ClientBase):
    """Asynchronous client for the CompactifAI API; the twin of :class:`CompactifAIClient`.

    One client may serve several event loops one after another (``asyncio.run`` twice): each
    loop gets its own connection pool, closed when that loop shuts down.

    Example:
        >>> import asyncio
        >>> from compactifai import AsyncCompactifAIClient
        >>> async def main() -> None:
        ...     client = AsyncCompactifAIClient(api_key="sk-...")
        ...     answer = await client.chat_completion(
        ...         model="cai-llama-3-1-8b-slim",
        ...         messages=[{"role": "user", "content": "Hello!"}],
        ...     )
        ...     print(answer.choices[0].message.content)
        ...     async for chunk in client.chat_completion_stream(
        ...         model="cai-llama-3-1-8b-slim", messages=[{"role": "user", "content": "Hi"}]
        ...     ):
        ...         print(chunk["choices"][0]["delta"].get("content") or "", end="")
        >>> asyncio.run(main())  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        api_key: SecretLike = None,
        base_url: str | None = None,
        timeout: TimeoutTypes = None,
        max_retries: int | None = None,
        max_retry_delay: float | None = None,
        default_headers: Mapping[str, str] | None = None,
        rate_limit: RateLimit | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            max_retry_delay=max_retry_delay,
            default_headers=default_headers,
            rate_limit=rate_limit,
        )
        self._init_pipeline(http_client)

    def _init_pipeline(self, http_client: httpx.AsyncClient | None) -> None:
        self._pipeline = AsyncPipeline(self._config, http_client)

    # -- lifecycle

    async def aclose(self) -> None:
        """Close the running loop's connection pool (a caller's own client is left open)."""
        await self._pipeline.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- models

    async def list_models(self) -> ModelList:
        """``GET /models``: every model with its capabilities and size."""
        from .types import ModelList

        return _parse(ModelList, await self._pipeline.request("GET", "/models"))

    async def retrieve_model(self, model_id: str) -> Model:
        """``GET /models/{model_id}``: one model."""
        from .types import Model

        return _parse(Model, await self._pipeline.request("GET", _model_path(model_id)))

    async def model_profile(self, model_id: str) -> ModelProfile:
        """What is known of a model (capabilities, context window), cached per client."""
        if self._profiles is None:
            try:
                self._profiles = profiles_from_list(await self.list_models())
            except APIError as err:
                return _profile_fallback(err, model_id)
        return self._profiles.get(model_id) or profile_from_table(model_id)

    # -- chat

    async def chat_completion(
        self, *, model: str, messages: Sequence[Mapping[str, Any]], **params: Unpack[ChatParams]
    ) -> ChatCompletion:
        """``POST /chat/completions``: the whole answer at once."""
        body, opts = _chat_body(model, messages, params)
        data = await self._pipeline.request(
            "POST", "/chat/completions", body=body,
            timeout=opts.get("timeout"), extra_headers=opts.get("extra_headers"),
        )
        from .types import ChatCompletion

        return _parse(ChatCompletion, data)

    def chat_completion_stream(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        include_usage: bool = True,
        **params: Unpack[ChatParams],
    ) -> AsyncStream[ChatCompletionChunk]:
        """``POST /chat/completions`` with ``stream: true``: ``async for`` the chunk dicts.

        Arguments are checked now; the request is sent when iteration starts.
        """
        body, opts = _chat_body(model, messages, params)
        return AsyncStream(self._pipeline.stream(  # type: ignore[arg-type]
            "POST", "/chat/completions", body=_streamed(body, include_usage),
            timeout=opts.get("timeout"), extra_headers=opts.get("extra_headers"),
        ))

    # -- completions

    async def completion(
        self, *, model: str, prompt: str | Sequence[str], **params: Unpack[CompletionParams]
    ) -> Completion:
        """``POST /completions``: one choice per prompt (a string or a list of strings)."""
        body, opts = _completion_body(model, prompt, params)
        data = await self._pipeline.request(
            "POST", "/completions", body=body,
            timeout=opts.get("timeout"), extra_headers=opts.get("extra_headers"),
        )
        from .types import Completion

        return _parse(Completion, data)

    def completion_stream(
        self,
        *,
        model: str,
        prompt: str | Sequence[str],
        include_usage: bool = True,
        **params: Unpack[CompletionParams],
    ) -> AsyncStream[CompletionChunk]:
        """``POST /completions`` with ``stream: true``: ``async for`` the chunk dicts."""
        body, opts = _completion_body(model, prompt, params)
        return AsyncStream(self._pipeline.stream(  # type: ignore[arg-type]
            "POST", "/completions", body=_streamed(body, include_usage),
            timeout=opts.get("timeout"), extra_headers=opts.get("extra_headers"),
        ))

    # -- audio

    async def transcribe(
        self,
        file: AudioInput,
        *,
        model: str = DEFAULT_TRANSCRIPTION_MODEL,
        filename: str | None = None,
        language: str | None = None,
        prompt: str | None = None,
        temperature: float | None = None,
        response_format: str | None = None,
        timestamp_granularities: Sequence[str] | None = None,
        include: Sequence[str] | None = None,
        chunking_strategy: str | Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        timeout: TimeoutTypes = None,
    ) -> Transcription:
        """``POST /audio/transcriptions``: text and timestamped segments of an audio file."""
        form, files = _transcription_form(
            file, model=model, filename=filename, language=language, prompt=prompt,
            temperature=temperature, response_format=response_format,
            timestamp_granularities=timestamp_granularities, include=include,
            chunking_strategy=chunking_strategy, extra_body=extra_body,
        )
        data = await self._pipeline.request(
            "POST", "/audio/transcriptions", files=files, data=form,
            timeout=None if timeout is None else to_timeout(timeout),
            extra_headers=extra_headers,
        )
        from .types import Transcription

        return _parse(Transcription, data)

    # -- usage

    async def usage_statistics(
        self,
        *,
        start_time: datetime | str,
        end_time: datetime | str | None = None,
        window_size: str = "DAY",
        window_timezone: str = "UTC",
        group_by: Sequence[str] | None = None,
        filter_group_by: Mapping[str, Sequence[str]] | None = None,
    ) -> UsageStatistics:
        """``POST /usage/completions``: token totals per time window (and model)."""
        body = _usage_body(
            start_time, end_time, window_size, window_timezone, group_by, filter_group_by
        )
        data = await self._pipeline.request(
            "POST", "/usage/completions", body=body, idempotent=True
        )
        from .types import UsageStatistics

        return _parse(UsageStatistics, data)
