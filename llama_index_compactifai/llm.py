"""``CompactifAI``: the LlamaIndex LLM for CompactifAI's compressed models.

Built on the shared ``compactifai`` transport: this module speaks no HTTP and parses no SSE; it
converts LlamaIndex messages and tools to wire dicts (:mod:`llama_index_compactifai.utils`),
calls the transport client, and converts the answer back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
    ToolCallBlock,
)
from llama_index.core.bridge.pydantic import Field, PrivateAttr, SecretStr
from llama_index.core.constants import DEFAULT_NUM_OUTPUTS, DEFAULT_TEMPERATURE
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection
from typing_extensions import Self

from ._batches import ChatBatchesMixin  # provider-side batches (issue 13)
from .utils import (
    ChatStreamState,
    CompletionStreamState,
    chat_response_from_completion,
    completion_response_from_chat,
    completion_response_from_completion,
    has_audio,
    has_images,
    resolve_tool_choice,
    to_wire_messages,
    to_wire_tool,
    tool_selections,
)

if TYPE_CHECKING:
    import httpx
    from llama_index.core.tools.types import BaseTool

    from compactifai import AsyncCompactifAIClient, CompactifAIClient, ModelProfile, RateLimit
    from compactifai import _wire as core
else:
    from .utils import core  # compactifai._wire, imported on first use

__all__ = ["DEFAULT_MODEL", "CompactifAI"]


#: A current model of the service; an LLM built without ``model`` uses
#: ``compactifai.default_chat_model()`` (``COMPACTIFAI_MODEL``, or the local server's model).
DEFAULT_MODEL = "hypernova-60b"
#: Settings sent with every chat request when set (today's service's chat fields).
_CHAT_SETTINGS = ("reasoning_effort", "reasoning_enabled", "min_tokens", "ignore_eos")


class _Clients:
    """The transport clients of one LLM, built on first use; pickles and copies as empty."""

    __slots__ = ("async_", "async_http", "http", "lock", "sync")

    def __init__(self) -> None:
        self.sync: CompactifAIClient | None = None
        self.async_: AsyncCompactifAIClient | None = None
        self.http: httpx.Client | None = None
        self.async_http: httpx.AsyncClient | None = None
        self.lock = threading.Lock()

    def reset(self) -> None:
        self.sync = None
        self.async_ = None

    def __reduce__(self) -> tuple[type[_Clients], tuple[()]]:
        # A copy (pickle, deepcopy) builds its own clients and pools on first use; a caller's
        # own http_client/async_http_client is not carried over.
        return (_Clients, ())


class CompactifAI(ChatBatchesMixin, FunctionCallingLLM):
    """CompactifAI (Multiverse Computing) chat models for LlamaIndex.

    Chat, completion, streaming and their async twins; tool calling (``FunctionAgent``,
    ``structured_predict``); images, wav/mp3 audio (``AudioBlock``) and documents
    (``DocumentBlock``) for models that take them; ``MessageRole.DEVELOPER``; reasoning
    (``reasoning_effort``) as a ``ThinkingBlock``, streamed too, and sent back with the tool
    calls of its turn; token usage on every response.
    The API key comes from ``api_key`` or ``COMPACTIFAI_API_KEY``, the URL from ``base_url`` or
    ``COMPACTIFAI_BASE_URL`` (default ``https://api.compactif.ai/v1``).

    Example:
        >>> from llama_index.core.llms import ChatMessage
        >>> from llama_index_compactifai import CompactifAI
        >>> llm = CompactifAI(model="hypernova-60b", api_key="sk-...", temperature=0)
        >>> llm.metadata.context_window, llm.metadata.is_function_calling_model
        (131072, True)
        >>> print(llm.complete("What is a tensor network?"))  # doctest: +SKIP
        >>> for r in llm.stream_chat([ChatMessage(role="user", content="Hi")]):  # doctest: +SKIP
        ...     print(r.delta, end="")

    Clients are built on first use and reused (one connection pool per event loop for async
    calls); a pickled or copied LLM builds its own. ``http_client``/``async_http_client`` (httpx
    clients of your own, e.g. with a proxy) are used as given and not carried into copies.
    ``close()`` / ``aclose()``, or ``with`` / ``async with``, close the connection pools (your
    own httpx clients stay open); a later call opens new ones.

        >>> with CompactifAI(api_key="sk-...") as llm:
        ...     print(llm.complete("Hi"))  # doctest: +SKIP

    With tools:
        >>> from llama_index.core.agent.workflow import FunctionAgent
        >>> def get_weather(city: str) -> str:
        ...     "Current weather of a city."
        ...     return f"Sunny in {city}"
        >>> agent = FunctionAgent(tools=[get_weather], llm=llm)
        >>> # await agent.run("What is the weather in Paris?")
    """

    model: str = Field(default=DEFAULT_MODEL, description="The model id to use.")
    temperature: float | None = Field(
        default=DEFAULT_TEMPERATURE,
        ge=0.0,
        le=2.0,
        description="Sampling temperature (0-2); None sends none (the server's default).",
    )
    max_tokens: int | None = Field(
        default=None, gt=0, description="The most tokens to generate; None: the server's limit."
    )
    timeout: float | None = Field(
        default=None,
        gt=0,
        description="Seconds to wait for an answer or the next stream chunk; "
        "None: the transport's default (120 s, 10 s to connect).",
    )
    max_retries: int = Field(
        default=2,
        ge=0,
        description="Retries of 408/409/429/5xx and connection failures (never of 400, 401, "
        "403, 404 or 422); a stream is retried only before its first chunk.",
    )
    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict,
        description="More request fields, sent with every request: fields the transport "
        "names are checked, others go in the body as given (None values are not sent).",
    )
    default_headers: dict[str, str] | None = Field(
        default=None, description="Headers added to every request."
    )
    base_url: str = Field(default="", description="The API's base URL.")
    api_key: SecretStr | None = Field(
        default=None, exclude=True, repr=False, description="The CompactifAI API key."
    )
    context_window: int | None = Field(
        default=None,
        gt=0,
        description="Override of the model's context window (default: the model catalogue's).",
    )
    is_function_calling_model: bool | None = Field(
        default=None,
        description="Override of whether the model calls tools (default: its capabilities).",
    )
    use_completions_endpoint: bool = Field(
        default=False,
        description="Send complete()/stream_complete() to /completions instead of as a chat.",
    )
    strict: bool = Field(
        default=False,
        description="Mark tool schemas strict (sent only when True: many servers reject it).",
    )
    region: str | None = Field(
        default=None, description='A regional host, "eu" or "us", instead of the global one.'
    )
    app_id: str | None = Field(
        default=None, description="Sent as x-app-id with every request (or COMPACTIFAI_APP_ID)."
    )
    http_backend: str | None = Field(
        default=None,
        description='What sends async requests: "httpx" (default) or "aiohttp" (the aiohttp '
        "extra; or COMPACTIFAI_HTTP_BACKEND).",
    )
    reasoning_effort: str | None = Field(
        default=None,
        description='How hard a reasoning model thinks: "none", "low", "medium", "high", '
        '"xhigh" or "max" (a model may refuse a level it does not implement). Its reasoning '
        "comes back as a ThinkingBlock, streamed too.",
    )
    reasoning_enabled: bool | None = Field(
        default=None, description="Turn reasoning on or off, on models that support it."
    )
    min_tokens: int | None = Field(
        default=None, ge=0, le=150_000, description="The fewest tokens to generate."
    )
    ignore_eos: bool | None = Field(
        default=None,
        description="Generate past the end-of-sequence token, up to max_tokens.",
    )
    rate_limit: Any = Field(
        default=None,
        exclude=True,
        description="A compactifai.RateLimit (requests/s, tokens/min) shared by the clients "
        "that get the same object; each process (Ray worker) gets its own copy.",
    )

    _clients: _Clients = PrivateAttr(default_factory=_Clients)

    def __init__(
        self,
        model: str | None = None,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        temperature: float | None = DEFAULT_TEMPERATURE,
        max_tokens: int | None = None,
        timeout: float | None = None,
        max_retries: int = 2,
        additional_kwargs: dict[str, Any] | None = None,
        default_headers: dict[str, str] | None = None,
        context_window: int | None = None,
        is_function_calling_model: bool | None = None,
        use_completions_endpoint: bool = False,
        strict: bool = False,
        rate_limit: RateLimit | None = None,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        region: str | None = None,
        app_id: str | None = None,
        http_backend: str | None = None,
        reasoning_effort: str | None = None,
        reasoning_enabled: bool | None = None,
        min_tokens: int | None = None,
        ignore_eos: bool | None = None,
        **kwargs: Any,
    ) -> None:
        from compactifai._checks import check_min_tokens, check_reasoning_effort

        check_reasoning_effort(reasoning_effort)
        check_min_tokens(min_tokens)
        if rate_limit is not None and not callable(getattr(rate_limit, "reserve", None)):
            from compactifai import ConfigurationError

            raise ConfigurationError(
                f"rate_limit must be a compactifai.RateLimit, not {type(rate_limit).__name__}"
            )
        from compactifai._config import default_base_url, default_chat_model, from_environment

        if api_key is None:
            api_key = from_environment("api_key")
        if not base_url:
            base_url = default_base_url(region)
        super().__init__(
            model=model or default_chat_model(base_url),
            api_key=api_key,
            base_url=base_url,
            temperature=temperature,
            max_tokens=max_tokens,
            timeout=timeout,
            max_retries=max_retries,
            additional_kwargs=additional_kwargs or {},
            default_headers=default_headers,
            context_window=context_window,
            is_function_calling_model=is_function_calling_model,
            use_completions_endpoint=use_completions_endpoint,
            strict=strict,
            rate_limit=rate_limit,
            region=region,
            app_id=app_id,
            http_backend=http_backend,
            reasoning_effort=reasoning_effort,
            reasoning_enabled=reasoning_enabled,
            min_tokens=min_tokens,
            ignore_eos=ignore_eos,
            **kwargs,
        )
        self._clients.http = http_client
        self._clients.async_http = async_http_client

    @classmethod
    def class_name(cls) -> str:
        return "CompactifAI_LLM"

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name in core.CLIENT_SETTINGS:  # the transport clients are built from these
            self._clients.reset()

    # ------------------------------------------------------------ clients and facts

    def _client_kwargs(self) -> dict[str, Any]:
        settings = {name: getattr(self, name) for name in core.CLIENT_SETTINGS}
        key = settings["api_key"]
        if isinstance(key, SecretStr):
            settings["api_key"] = key.get_secret_value()
        return settings

    def _sync_client(self) -> CompactifAIClient:
        clients = self._clients
        client = clients.sync
        if client is None:
            from compactifai import CompactifAIClient

            with clients.lock:
                if clients.sync is None:
                    clients.sync = CompactifAIClient(
                        **self._client_kwargs(), http_client=clients.http
                    )
                client = clients.sync
        return client

    def _async_client(self) -> AsyncCompactifAIClient:
        clients = self._clients
        client = clients.async_
        if client is None:
            from compactifai import AsyncCompactifAIClient

            with clients.lock:
                if clients.async_ is None:
                    clients.async_ = AsyncCompactifAIClient(
                        **self._client_kwargs(), http_client=clients.async_http
                    )
                client = clients.async_
        return client

    def close(self) -> None:
        """Close the sync connection pool and drop the async client (its pools close with
        their event loops, or with :meth:`aclose`); your own httpx clients stay open."""
        clients = self._clients
        with clients.lock:
            client = clients.sync
            clients.reset()
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        """Close the sync pool and the running event loop's async pool."""
        client = self._clients.async_
        self.close()
        if client is not None:
            await client.aclose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _profile(self) -> ModelProfile:
        """What is known of the model without a request: the model list if a client already
        read it, the built-in catalogue otherwise."""
        clients = self._clients
        found = None
        for client in (clients.sync, clients.async_):
            if client is not None:
                found = client.cached_model_profile(self.model)
                if found.source == "api":
                    return found
        if found is None:
            from compactifai._catalogue import profile_from_table

            found = profile_from_table(self.model)
        return found

    @property
    def metadata(self) -> LLMMetadata:
        profile = self._profile()
        calls_tools = self.is_function_calling_model
        if calls_tools is None:
            # Unknown models may call tools: let the server decide rather than refuse.
            calls_tools = profile.supports_function_calling is not False
        return LLMMetadata(
            context_window=self.context_window or profile.context_window,
            num_output=self.max_tokens or DEFAULT_NUM_OUTPUTS,
            is_chat_model=True,
            is_function_calling_model=calls_tools,
            model_name=self.model,
        )

    @property
    def tokenizer(self) -> Callable[[str], list[int]]:
        """A tokenizer function (text -> token ids) for LlamaIndex's ``tokenizer`` arguments,
        computed offline: no tiktoken file or hub tokenizer is fetched.

        The ids are stand-ins, one per estimated token (stable hashes, not the model's
        vocabulary: count them, do not decode them; :mod:`compactifai._tokens` says how close
        the count is). Exact counts come back in each response's usage.

        Example:
            >>> from llama_index.core.memory import ChatMemoryBuffer
            >>> llm = CompactifAI(api_key="sk-...")
            >>> len(llm.tokenizer("Hello world, this is a test."))
            8
            >>> memory = ChatMemoryBuffer.from_defaults(llm=llm, tokenizer_fn=llm.tokenizer)
        """
        from compactifai._tokens import approximate_token_ids

        return approximate_token_ids

    # ------------------------------------------------------------ request building

    def _params(
        self, kwargs: Mapping[str, Any], completion: bool = False, stream: bool = False
    ) -> dict[str, Any]:
        """Named transport arguments from settings, additional_kwargs and call kwargs; every
        other field goes in extra_body (nothing is dropped but None values): the partition
        LangChain's side uses too (:func:`compactifai._wire.split_params`)."""
        settings: dict[str, Any] = {}
        if self.temperature is not None:
            settings["temperature"] = self.temperature
        if self.max_tokens is not None:
            settings["max_tokens"] = self.max_tokens
        if not completion:
            for name in _CHAT_SETTINGS:
                value = getattr(self, name)
                if value is not None:
                    settings[name] = value
        params = core.split_params(
            core.COMPLETION_FIELDS if completion else core.CHAT_FIELDS,
            settings,
            self.additional_kwargs,
            kwargs,
        )
        if not completion:
            # "auto" with tools (not on streams); one tool "required" -> that tool by name
            core.settle_tool_choice(params, stream=stream)
        return params

    def _wire(self, messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
        image, audio = has_images(messages), has_audio(messages)
        if image or audio:
            from compactifai import check_capabilities

            check_capabilities(self._profile(), has_image=image, has_tools=False,
                               has_audio=audio)
        return to_wire_messages(messages)

    # ------------------------------------------------------------ sync

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Chat: the whole answer at once."""
        return self._chat(messages, **kwargs)

    def _chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        completion = self._sync_client().chat_completion(
            model=self.model, messages=self._wire(messages), **self._params(kwargs)
        )
        return chat_response_from_completion(completion)

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        """Chat, streamed: each response holds the message so far and the new ``delta``."""
        return self._stream_chat(messages, **kwargs)

    def _stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        stream = self._sync_client().chat_completion_stream(
            model=self.model, messages=self._wire(messages), **self._params(kwargs, stream=True)
        )

        def gen() -> ChatResponseGen:
            state = ChatStreamState()
            feed = state.feed
            with stream:
                for chunk in stream:
                    yield feed(chunk)
            closing = state.finish()
            if closing is not None:
                yield closing

        return gen()

    @llm_completion_callback()
    def complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        """Complete a prompt (sent as a chat unless ``use_completions_endpoint``)."""
        if self.use_completions_endpoint:
            completion = self._sync_client().completion(
                model=self.model, prompt=prompt, **self._params(kwargs, completion=True)
            )
            return completion_response_from_completion(completion)
        return completion_response_from_chat(self._chat(_user(prompt), **kwargs))

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        """Complete a prompt, streamed: each response holds the text so far and the ``delta``."""
        client = self._sync_client()
        chat = not self.use_completions_endpoint
        if chat:
            stream: Any = client.chat_completion_stream(
                model=self.model, messages=self._wire(_user(prompt)), **self._params(kwargs, stream=True)
            )
        else:
            stream = client.completion_stream(
                model=self.model, prompt=prompt, **self._params(kwargs, completion=True)
            )

        def gen() -> CompletionResponseGen:
            feed = CompletionStreamState(chat).feed
            with stream:
                for chunk in stream:
                    yield feed(chunk)

        return gen()

    # ------------------------------------------------------------ async

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Async chat: the whole answer at once."""
        return await self._achat(messages, **kwargs)

    async def _achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        completion = await self._async_client().chat_completion(
            model=self.model, messages=self._wire(messages), **self._params(kwargs)
        )
        return chat_response_from_completion(completion)

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        """Async chat, streamed: ``async for`` the cumulative responses."""
        stream = self._async_client().chat_completion_stream(
            model=self.model, messages=self._wire(messages), **self._params(kwargs, stream=True)
        )

        async def gen() -> ChatResponseAsyncGen:
            state = ChatStreamState()
            feed = state.feed
            async with stream:
                async for chunk in stream:
                    yield feed(chunk)
            closing = state.finish()
            if closing is not None:
                yield closing

        return gen()

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        """Async completion (a chat unless ``use_completions_endpoint``)."""
        if self.use_completions_endpoint:
            completion = await self._async_client().completion(
                model=self.model, prompt=prompt, **self._params(kwargs, completion=True)
            )
            return completion_response_from_completion(completion)
        return completion_response_from_chat(await self._achat(_user(prompt), **kwargs))

    @llm_completion_callback()
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        """Async completion, streamed."""
        client = self._async_client()
        chat = not self.use_completions_endpoint
        if chat:
            stream: Any = client.chat_completion_stream(
                model=self.model, messages=self._wire(_user(prompt)), **self._params(kwargs, stream=True)
            )
        else:
            stream = client.completion_stream(
                model=self.model, prompt=prompt, **self._params(kwargs, completion=True)
            )

        async def gen() -> CompletionResponseAsyncGen:
            feed = CompletionStreamState(chat).feed
            async with stream:
                async for chunk in stream:
                    yield feed(chunk)

        return gen()

    # ------------------------------------------------------------ tools

    def _prepare_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        tool_choice: str | dict[str, Any] | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """The chat arguments for a call with tools.

        ``tool_required`` asks for ``tool_choice="required"``; ``tool_choice`` may also be a
        mode, the name of one of ``tools`` or the API's object form (the rules LangChain's
        ``bind_tools`` follows too): nothing chosen sends "auto" explicitly, and "required"
        with exactly one tool sends that tool by name. Parallel calls are not requested from the
        server (the API does not document it); without ``allow_parallel_tool_calls`` only the
        first call of an answer is kept.
        """
        specs = [to_wire_tool(t, self.strict if strict is None else strict) for t in tools]
        messages = list(chat_history or [])
        if user_msg is not None:
            messages.append(_user(user_msg)[0] if isinstance(user_msg, str) else user_msg)
        prepared: dict[str, Any] = {"messages": messages, **kwargs}
        if specs:
            prepared["tools"] = specs
            choice = resolve_tool_choice(tool_choice, tool_required, core.tool_names(specs))
            if choice is not None:
                prepared["tool_choice"] = choice
        return prepared

    def _validate_chat_with_tools_response(
        self,
        response: ChatResponse,
        tools: Sequence[BaseTool],
        allow_parallel_tool_calls: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        if not allow_parallel_tool_calls:
            _keep_first_tool_call(response)
        return response

    def get_tool_calls_from_response(
        self,
        response: ChatResponse,
        error_on_no_tool_call: bool = True,
        **kwargs: Any,
    ) -> list[ToolSelection]:
        """The tool calls of a response (``ToolCallBlock`` blocks, else
        ``additional_kwargs["tool_calls"]``); raises ``ValueError`` when there are none and
        ``error_on_no_tool_call``.

        A call whose arguments are not a JSON object once the answer is complete (invalid or
        cut-off JSON) raises :class:`~llama_index_compactifai.utils.InvalidToolArgumentsError`
        (a ``ValueError``) instead of being returned with ``{}`` (which LlamaIndex's OpenAI
        integration does), so a tool is never called with arguments the model did not give.
        A call the server sent without an id gets a ``call_...`` id, the same in every
        streamed response.
        """
        return tool_selections(response, error_on_no_tool_call)


def _user(prompt: str) -> list[ChatMessage]:
    return [ChatMessage(role=MessageRole.USER, content=prompt)]


def _keep_first_tool_call(response: ChatResponse) -> None:
    message = response.message
    seen = False
    kept = []
    for block in message.blocks:
        if isinstance(block, ToolCallBlock):
            if seen:
                continue
            seen = True
        kept.append(block)
    message.blocks = kept
    calls = message.additional_kwargs.get("tool_calls")
    if calls and len(calls) > 1:
        message.additional_kwargs["tool_calls"] = calls[:1]
