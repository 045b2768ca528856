"""``CompactifAIClient`` and ``AsyncCompactifAIClient``: one method per API endpoint.

The two mirror each other name for name. Each method has its request built and checked by
``_requests.py`` and hands it to the request pipeline (``_pipeline.py``), which owns retries,
timeouts and error mapping; streamed answers come back as ``_streams.py``'s stream objects.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar, overload

import httpx
from typing_extensions import Self, Unpack

from ._catalogue import ModelProfile, profile_from_table, profiles_from_list
from ._checks import (
    AudioInput,
)
from ._config import ClientConfig, SecretLike, TimeoutTypes, to_timeout
from ._errors import (
    APIError,
    APIStatusError,
    AuthenticationError,
    EndpointWithdrawnError,
    PermissionDeniedError,
    ResponseDecodeError,
)
from ._jobs_api import AsyncJobsAPI, SyncJobsAPI  # files, batches, responses
from ._pipeline import AsyncPipeline, SyncPipeline
from ._ratelimit import RateLimit
from ._requests import (
    DEFAULT_TRANSCRIPTION_MODEL,
    TRANSCRIPTION_TEXT_FORMATS,
    ChatParams,
    CompletionParams,
    _chat_body,
    _completion_body,
    _model_path,
    _streamed,
    _transcription_form,
    _usage_body,
)
from ._streams import AsyncStream, Stream

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
        TranscriptionStreamEvent,
        TranscriptionText,
        UsageStatistics,
    )
    from .usage_tally import UsageTally

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

M = TypeVar("M", bound="BaseModel")


def _parse(kind: type[M], data: Any) -> M:
    """Validate an answer; one that does not match the documented shape is a typed error."""
    try:
        return kind.model_validate(data)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise ResponseDecodeError(
            f"the server's answer is not a valid {kind.__name__}: {exc}".replace("\n", " ")[:500]
        ) from None


def _profile_fallback(err: APIError, model_id: str) -> ModelProfile:
    if isinstance(err, (AuthenticationError, PermissionDeniedError)):
        raise err
    logger.warning(
        "could not read the model list (%s); using the built-in profile of %r", err, model_id
    )
    return profile_from_table(model_id)


HttpClientT = TypeVar("HttpClientT", httpx.Client, httpx.AsyncClient)


class _ClientBase(Generic[HttpClientT]):
    """What both clients share: one constructor, the configuration, the model profiles."""

    _config: ClientConfig
    #: SyncPipeline or AsyncPipeline: how this client sends.
    _pipeline_class: ClassVar[type[SyncPipeline] | type[AsyncPipeline]]

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
        http_client: HttpClientT | None = None,
        http_backend: str | None = None,
        region: str | None = None,
        app_id: str | None = None,
        usage_tally: UsageTally | None = None,
    ) -> None:
        config = ClientConfig.resolve(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            max_retry_delay=max_retry_delay,
            default_headers=default_headers,
            rate_limit=rate_limit,
            http_backend=http_backend,
            region=region,
            app_id=app_id,
            usage_tally=usage_tally,
        )
        self._start(config, http_client)

    def _start(self, config: ClientConfig, http_client: HttpClientT | None) -> None:
        self._config = config
        self._profiles: dict[str, ModelProfile] | None = None
        self._pipeline = type(self)._pipeline_class(config, http_client)  # type: ignore[arg-type]

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


#: The day the service removed ``POST /v1/usage/completions`` (its changelog).
USAGE_WITHDRAWN_ON = "2026-03-24"


def _usage_withdrawn(err: APIStatusError) -> APIStatusError:
    """A 404, 405 or 410 on the usage route: the service withdrew it; say so, and what instead."""
    if err.status_code not in (404, 405, 410):
        return err
    return EndpointWithdrawnError(
        "POST /usage/completions is not served here: the CompactifAI service withdrew it on "
        f"{USAGE_WITHDRAWN_ON} (usage is shown in the CompactifAI dashboard). The server said: "
        f"{err.message}",
        withdrawn_on=USAGE_WITHDRAWN_ON,
        status_code=err.status_code, request_id=err.request_id, body=err.body,
        code=err.code, headers=err.headers,
    )


def _rebuild_client(cls: type[_ClientBase[Any]], config: ClientConfig) -> _ClientBase[Any]:
    client = cls.__new__(cls)
    client._start(config, None)
    return client


def _transcription_answer(
    data: Any, response_format: str | None
) -> Transcription | TranscriptionText:
    """The typed result of a transcription for the format asked for.

    A text format answered with JSON (a server that answers JSON whatever is asked) is
    converted: ``text`` keeps the transcript's text, srt/vtt are rendered from its segments.
    """
    from .types import Transcription, TranscriptionText

    if response_format not in TRANSCRIPTION_TEXT_FORMATS:
        return _parse(Transcription, data)
    fmt: Literal["text", "srt", "vtt"] = response_format  # type: ignore[assignment]
    if isinstance(data, str):
        return TranscriptionText(format=fmt, content=data)
    transcript = _parse(Transcription, data)
    if fmt == "text":
        content = transcript.text.strip()
    else:
        from ._subtitles import render_subtitles

        segments: list[Any] = list(transcript.segments)
        if not segments and transcript.text.strip():
            segments = [{"start": 0.0, "end": transcript.duration or 0.0,
                         "text": transcript.text}]
        content = render_subtitles(segments, fmt)
    logger.debug("asked for %s, the server answered JSON: converted", fmt)
    return TranscriptionText(format=fmt, content=content)


def _transcript_events(events: Iterator[dict[str, Any]]) -> Iterator[Any]:
    """A transcription's SSE payloads; a whole JSON answer becomes its ``done`` event."""
    try:
        for event in events:
            yield event if "type" in event else {"type": "transcript.text.done", **event}
    finally:
        events.close()  # type: ignore[attr-defined]


async def _atranscript_events(events: AsyncIterator[dict[str, Any]]) -> AsyncIterator[Any]:
    """The async :func:`_transcript_events`."""
    try:
        async for event in events:
            yield event if "type" in event else {"type": "transcript.text.done", **event}
    finally:
        await events.aclose()  # type: ignore[attr-defined]


class CompactifAIClient(SyncJobsAPI, _ClientBase[httpx.Client]):
    """Synchronous client for the CompactifAI API.

    The key comes from ``api_key`` or ``COMPACTIFAI_API_KEY``; the URL from ``base_url`` or
    ``COMPACTIFAI_BASE_URL`` (default ``https://api.compactif.ai/v1``). Thread safe; reuse one.
    ``usage_tally=`` (a :class:`compactifai.UsageTally`) adds up the token usage of every chat
    and text completion answer, streamed or not, per model and time window.

    Example:
        >>> from compactifai import CompactifAIClient, default_chat_model
        >>> client = CompactifAIClient(api_key="sk-...")  # doctest: +SKIP
        >>> answer = client.chat_completion(  # doctest: +SKIP
        ...     model=default_chat_model(),  # COMPACTIFAI_MODEL, or a current model
        ...     messages=[{"role": "user", "content": "What is artificial intelligence?"}],
        ...     max_tokens=100,
        ... )
        >>> print(answer.choices[0].message.content)  # doctest: +SKIP
        >>> for chunk in client.chat_completion_stream(  # doctest: +SKIP
        ...     model=default_chat_model(), messages=[{"role": "user", "content": "Hi"}]
        ... ):
        ...     print(chunk["choices"][0]["delta"].get("content") or "", end="")
    """

    _pipeline_class = SyncPipeline
    _pipeline: SyncPipeline

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
                self._pipeline.served_models = frozenset(self._profiles)
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

    @overload
    def transcribe(
        self,
        file: AudioInput,
        *,
        response_format: Literal["text", "srt", "vtt"],
        model: str = ...,
        filename: str | None = ...,
        language: str | None = ...,
        prompt: str | None = ...,
        temperature: float | None = ...,
        timestamp_granularities: Sequence[str] | None = ...,
        include: Sequence[str] | None = ...,
        chunking_strategy: str | Mapping[str, Any] | None = ...,
        extra_body: Mapping[str, Any] | None = ...,
        extra_headers: Mapping[str, str] | None = ...,
        timeout: TimeoutTypes = ...,
    ) -> TranscriptionText: ...

    @overload
    def transcribe(
        self,
        file: AudioInput,
        *,
        response_format: Literal["json", "verbose_json"] | None = ...,
        model: str = ...,
        filename: str | None = ...,
        language: str | None = ...,
        prompt: str | None = ...,
        temperature: float | None = ...,
        timestamp_granularities: Sequence[str] | None = ...,
        include: Sequence[str] | None = ...,
        chunking_strategy: str | Mapping[str, Any] | None = ...,
        extra_body: Mapping[str, Any] | None = ...,
        extra_headers: Mapping[str, str] | None = ...,
        timeout: TimeoutTypes = ...,
    ) -> Transcription: ...

    @overload
    def transcribe(
        self,
        file: AudioInput,
        *,
        response_format: str | None = ...,
        model: str = ...,
        filename: str | None = ...,
        language: str | None = ...,
        prompt: str | None = ...,
        temperature: float | None = ...,
        timestamp_granularities: Sequence[str] | None = ...,
        include: Sequence[str] | None = ...,
        chunking_strategy: str | Mapping[str, Any] | None = ...,
        extra_body: Mapping[str, Any] | None = ...,
        extra_headers: Mapping[str, str] | None = ...,
        timeout: TimeoutTypes = ...,
    ) -> Transcription | TranscriptionText: ...

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
    ) -> Transcription | TranscriptionText:
        """``POST /audio/transcriptions``: the transcript of an audio file.

        ``file`` is a path, bytes (with ``filename``), a binary file object, or a
        ``(filename, bytes)`` tuple; it is checked (type, size, emptiness) before upload.
        Formats: flac, mp3, mp4, mpeg, mpga, m4a, ogg, wav, webm; at most 25 MB (longer
        recordings: :func:`compactifai.transcripts.transcribe_long` splits them).
        ``language`` is sent only when given (the service detects it otherwise).

        ``response_format``: ``json`` (the default) and ``verbose_json`` (with the detected
        language, the duration and timestamped segments) give a
        :class:`~compactifai.types.Transcription`; ``text``, ``srt`` and ``vtt`` give a
        :class:`~compactifai.types.TranscriptionText` holding the body as sent. A server that
        answers JSON to a text format has its answer converted to the format asked for.
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
            extra_headers=extra_headers, text=response_format in TRANSCRIPTION_TEXT_FORMATS,
        )
        return _transcription_answer(data, response_format)

    def transcribe_stream(
        self,
        file: AudioInput,
        *,
        model: str = DEFAULT_TRANSCRIPTION_MODEL,
        filename: str | None = None,
        language: str | None = None,
        prompt: str | None = None,
        temperature: float | None = None,
        timestamp_granularities: Sequence[str] | None = None,
        include: Sequence[str] | None = None,
        chunking_strategy: str | Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        timeout: TimeoutTypes = None,
    ) -> Stream[TranscriptionStreamEvent]:
        """``POST /audio/transcriptions`` with ``stream=true``: transcript events as they come.

        Events are dicts: ``{"type": "transcript.text.delta", "delta": "..."}`` for each new
        piece, then ``{"type": "transcript.text.done", "text": "..."}`` with the whole text
        (OpenAI's shape: the service's OpenAPI documents the ``stream`` field but no event
        shape). A server that ignores ``stream`` and answers the JSON transcript gives one
        ``transcript.text.done`` event carrying that answer. As for every stream, nothing is
        retried once the first event has arrived.
        """
        form, files = _transcription_form(
            file, model=model, filename=filename, language=language, prompt=prompt,
            temperature=temperature, response_format=None,
            timestamp_granularities=timestamp_granularities, include=include,
            chunking_strategy=chunking_strategy, extra_body=extra_body, stream=True,
        )
        return Stream(_transcript_events(self._pipeline.stream(
            "POST", "/audio/transcriptions", files=files, data=form,
            timeout=None if timeout is None else to_timeout(timeout),
            extra_headers=extra_headers,
        )))

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
        try:
            data = self._pipeline.request(
                "POST", "/usage/completions", body=body, idempotent=True
            )
        except APIStatusError as err:
            raise _usage_withdrawn(err) from err
        from .types import UsageStatistics

        return _parse(UsageStatistics, data)


class AsyncCompactifAIClient(AsyncJobsAPI, _ClientBase[httpx.AsyncClient]):
    """Asynchronous client for the CompactifAI API; the twin of :class:`CompactifAIClient`.

    One client may serve several event loops one after another (``asyncio.run`` twice): each
    loop gets its own connection pool, closed when that loop shuts down.

    Example:
        >>> import asyncio
        >>> from compactifai import AsyncCompactifAIClient, default_chat_model
        >>> async def main() -> None:
        ...     client = AsyncCompactifAIClient(api_key="sk-...")
        ...     answer = await client.chat_completion(
        ...         model=default_chat_model(),
        ...         messages=[{"role": "user", "content": "Hello!"}],
        ...     )
        ...     print(answer.choices[0].message.content)
        ...     async for chunk in client.chat_completion_stream(
        ...         model=default_chat_model(), messages=[{"role": "user", "content": "Hi"}]
        ...     ):
        ...         print(chunk["choices"][0]["delta"].get("content") or "", end="")
        >>> asyncio.run(main())  # doctest: +SKIP
    """

    _pipeline_class = AsyncPipeline
    _pipeline: AsyncPipeline

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
                self._pipeline.served_models = frozenset(self._profiles)
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

    @overload
    async def transcribe(
        self,
        file: AudioInput,
        *,
        response_format: Literal["text", "srt", "vtt"],
        model: str = ...,
        filename: str | None = ...,
        language: str | None = ...,
        prompt: str | None = ...,
        temperature: float | None = ...,
        timestamp_granularities: Sequence[str] | None = ...,
        include: Sequence[str] | None = ...,
        chunking_strategy: str | Mapping[str, Any] | None = ...,
        extra_body: Mapping[str, Any] | None = ...,
        extra_headers: Mapping[str, str] | None = ...,
        timeout: TimeoutTypes = ...,
    ) -> TranscriptionText: ...

    @overload
    async def transcribe(
        self,
        file: AudioInput,
        *,
        response_format: Literal["json", "verbose_json"] | None = ...,
        model: str = ...,
        filename: str | None = ...,
        language: str | None = ...,
        prompt: str | None = ...,
        temperature: float | None = ...,
        timestamp_granularities: Sequence[str] | None = ...,
        include: Sequence[str] | None = ...,
        chunking_strategy: str | Mapping[str, Any] | None = ...,
        extra_body: Mapping[str, Any] | None = ...,
        extra_headers: Mapping[str, str] | None = ...,
        timeout: TimeoutTypes = ...,
    ) -> Transcription: ...

    @overload
    async def transcribe(
        self,
        file: AudioInput,
        *,
        response_format: str | None = ...,
        model: str = ...,
        filename: str | None = ...,
        language: str | None = ...,
        prompt: str | None = ...,
        temperature: float | None = ...,
        timestamp_granularities: Sequence[str] | None = ...,
        include: Sequence[str] | None = ...,
        chunking_strategy: str | Mapping[str, Any] | None = ...,
        extra_body: Mapping[str, Any] | None = ...,
        extra_headers: Mapping[str, str] | None = ...,
        timeout: TimeoutTypes = ...,
    ) -> Transcription | TranscriptionText: ...

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
    ) -> Transcription | TranscriptionText:
        """``POST /audio/transcriptions``: the transcript of an audio file.

        ``file`` is a path, bytes (with ``filename``), a binary file object, or a
        ``(filename, bytes)`` tuple; it is checked (type, size, emptiness) before upload.
        Formats: flac, mp3, mp4, mpeg, mpga, m4a, ogg, wav, webm; at most 25 MB (longer
        recordings: :func:`compactifai.transcripts.transcribe_long` splits them).
        ``language`` is sent only when given (the service detects it otherwise).

        ``response_format``: ``json`` (the default) and ``verbose_json`` (with the detected
        language, the duration and timestamped segments) give a
        :class:`~compactifai.types.Transcription`; ``text``, ``srt`` and ``vtt`` give a
        :class:`~compactifai.types.TranscriptionText` holding the body as sent. A server that
        answers JSON to a text format has its answer converted to the format asked for.
        """
        form, files = _transcription_form(
            file, model=model, filename=filename, language=language, prompt=prompt,
            temperature=temperature, response_format=response_format,
            timestamp_granularities=timestamp_granularities, include=include,
            chunking_strategy=chunking_strategy, extra_body=extra_body,
        )
        data = await self._pipeline.request(
            "POST", "/audio/transcriptions", files=files, data=form,
            timeout=None if timeout is None else to_timeout(timeout),
            extra_headers=extra_headers, text=response_format in TRANSCRIPTION_TEXT_FORMATS,
        )
        return _transcription_answer(data, response_format)

    def transcribe_stream(
        self,
        file: AudioInput,
        *,
        model: str = DEFAULT_TRANSCRIPTION_MODEL,
        filename: str | None = None,
        language: str | None = None,
        prompt: str | None = None,
        temperature: float | None = None,
        timestamp_granularities: Sequence[str] | None = None,
        include: Sequence[str] | None = None,
        chunking_strategy: str | Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        timeout: TimeoutTypes = None,
    ) -> AsyncStream[TranscriptionStreamEvent]:
        """``POST /audio/transcriptions`` with ``stream=true``: transcript events as they come.

        Events are dicts: ``{"type": "transcript.text.delta", "delta": "..."}`` for each new
        piece, then ``{"type": "transcript.text.done", "text": "..."}`` with the whole text
        (OpenAI's shape: the service's OpenAPI documents the ``stream`` field but no event
        shape). A server that ignores ``stream`` and answers the JSON transcript gives one
        ``transcript.text.done`` event carrying that answer. As for every stream, nothing is
        retried once the first event has arrived.
        """
        form, files = _transcription_form(
            file, model=model, filename=filename, language=language, prompt=prompt,
            temperature=temperature, response_format=None,
            timestamp_granularities=timestamp_granularities, include=include,
            chunking_strategy=chunking_strategy, extra_body=extra_body, stream=True,
        )
        return AsyncStream(_atranscript_events(self._pipeline.stream(
            "POST", "/audio/transcriptions", files=files, data=form,
            timeout=None if timeout is None else to_timeout(timeout),
            extra_headers=extra_headers,
        )))

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
        try:
            data = await self._pipeline.request(
                "POST", "/usage/completions", body=body, idempotent=True
            )
        except APIStatusError as err:
            raise _usage_withdrawn(err) from err
        from .types import UsageStatistics

        return _parse(UsageStatistics, data)
