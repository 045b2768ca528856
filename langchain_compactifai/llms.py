"""``CompactifAI``: CompactifAI text completions (``POST /completions``) as a LangChain LLM.

Several prompts go out in one request (the API takes a list prompt and answers one choice per
prompt, by index), ``batch_size`` at a time, as LangChain's OpenAI LLM does. A server that
refuses a list prompt (an error status, or fewer choices than prompts; some OpenAI-compatible
servers answer 500) gets one prompt per request from then on, with one warning.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from langchain_core.language_models.llms import BaseLLM
from langchain_core.outputs import Generation, GenerationChunk, LLMResult
from langchain_core.rate_limiters import BaseRateLimiter
from pydantic import Field, PrivateAttr, model_validator
from typing_extensions import Self

from compactifai import (
    APIStatusError,
    AuthenticationError,
    CompactifAIError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseDecodeError,
    _wire,
)
from compactifai._wire import split_params

from ._common import (
    LANGCHAIN_KEYWORDS,
    LS_PROVIDER,
    CompactifAIFields,
    check_rate_limit_options,
    move_extra_to_model_kwargs,
    require_api_key,
)
from ._errors import raise_as_langchain_error

if TYPE_CHECKING:
    from langchain_core.callbacks import (
        AsyncCallbackManagerForLLMRun,
        CallbackManagerForLLMRun,
    )
    from langchain_core.language_models import LangSmithParams

    from compactifai.types import Completion

__all__ = ["CompactifAI"]

def _generations(
    response: Completion, count: int
) -> tuple[list[list[Generation]], dict[str, Any]]:
    """One generation per prompt (choices matched by index) and the token usage."""
    by_index: dict[int, Generation] = {}
    for position, choice in enumerate(response.choices):
        info: dict[str, Any] = {}
        if choice.finish_reason is not None:
            info["finish_reason"] = choice.finish_reason
        if choice.logprobs is not None:
            info["logprobs"] = choice.logprobs
        index = choice.index if choice.index is not None else position
        by_index[index] = Generation(text=choice.text or "", generation_info=info or None)
    missing = [i for i in range(count) if i not in by_index]
    if missing:
        raise ResponseDecodeError(
            f"the server answered {len(response.choices)} choice(s) for {count} prompt(s); "
            f"no choice for prompt index(es) {missing}"
        )
    usage = response.usage.model_dump() if response.usage is not None else {}
    return [[by_index[i]] for i in range(count)], usage


def _refuses_lists(err: CompactifAIError) -> bool:
    """Whether an error answering a list prompt may be the server refusing lists: any error
    status but those a single prompt would get as well (key, permission, unknown model or
    endpoint, rate limit), or fewer choices than prompts."""
    if isinstance(err, ResponseDecodeError):
        return True
    if isinstance(err, (AuthenticationError, PermissionDeniedError, NotFoundError, RateLimitError)):
        return False
    return isinstance(err, APIStatusError)


def _add_usage(total: dict[str, int], usage: Mapping[str, Any]) -> None:
    for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
        value = usage.get(key)
        if isinstance(value, int):
            total[key] = total.get(key, 0) + value


class CompactifAI(CompactifAIFields, BaseLLM):
    """CompactifAI text completions (by Multiverse Computing) as a LangChain LLM.

    Same key, URL and settings as :class:`~langchain_compactifai.ChatCompactifAI`. ``batch``
    sends up to ``batch_size`` prompts in one request; token usage is in ``llm_output``.
    ``close()`` / ``aclose()`` (or ``with`` / ``async with``) close its connection pools.

    Example:
        .. code-block:: python

            from langchain_compactifai import CompactifAI

            llm = CompactifAI(max_tokens=64, temperature=0)  # model: COMPACTIFAI_MODEL or default
            print(llm.invoke("Write a poem about artificial intelligence"))
            print(llm.batch(["The capital of France is", "The capital of Spain is"]))
            for text in llm.stream("Once upon a time"):
                print(text, end="")

            with CompactifAI(max_tokens=16) as llm:  # the connection pool is closed on exit
                llm.invoke("Hello")
    """

    batch_size: int = Field(default=20, ge=1)
    """The most prompts sent in one request (as LangChain's OpenAI LLM); 1 sends one prompt
    per request. A server that refuses a list prompt gets one prompt per request from then on
    (a warning says so once)."""
    rate_limiter: BaseRateLimiter | None = Field(default=None, exclude=True)
    """LangChain's rate limiter (e.g. ``InMemoryRateLimiter``), acquired before each request,
    as chat models acquire it before each call; or use ``rate_limit`` (not both)."""

    _one_prompt_per_request: bool = PrivateAttr(default=False)

    @model_validator(mode="before")
    @classmethod
    def _collect_model_kwargs(cls, values: Any) -> Any:
        if isinstance(values, dict):
            check_rate_limit_options(values)
            names = set(cls.model_fields)
            names.update(f.alias for f in cls.model_fields.values() if f.alias)
            values = move_extra_to_model_kwargs(dict(values), names)
        return values

    @model_validator(mode="after")
    def _check_settings(self) -> Self:
        require_api_key(self.api_key)
        return self

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        return ["langchain_compactifai", "llms"]

    @property
    def _llm_type(self) -> str:
        return "compactifai"

    @property
    def _default_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for name in ("temperature", "max_tokens", "top_p", "seed"):
            value = getattr(self, name)
            if value is not None:
                params[name] = value
        if self.stop:
            params["stop"] = self.stop
        return params

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, **self._default_params, **self.model_kwargs}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = LS_PROVIDER
        params["ls_model_name"] = kwargs.get("model") or self.model_name
        return params

    def _params(self, stop: list[str] | None, kwargs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        params = split_params(
            _wire.COMPLETION_FIELDS,
            self._default_params,
            self.model_kwargs,
            kwargs,
            skip=LANGCHAIN_KEYWORDS,
        )
        if stop:
            params["stop"] = stop
        elif "stop" in params and not params["stop"]:
            del params["stop"]
        return kwargs.get("model") or self.model_name, params

    def _include_usage(self, kwargs: dict[str, Any]) -> bool:
        value = kwargs.get("stream_usage")
        return self.stream_usage if value is None else bool(value)

    def _batches(self, prompts: list[str]) -> Iterator[list[str]]:
        size = 1 if self._one_prompt_per_request else self.batch_size
        for start in range(0, len(prompts), size):
            yield prompts[start : start + size]

    def _lists_refused(self, count: int, err: CompactifAIError) -> None:
        """Remember (once per model object) that the server refuses list prompts."""
        if not self._one_prompt_per_request:
            self._one_prompt_per_request = True
            warnings.warn(
                f"the server at {self.base_url} refused {count} prompts in one request "
                f"({type(err).__name__}: {err}); sending one prompt per request from now on "
                "(batch_size=1 says so up front)",
                UserWarning,
                stacklevel=2,
            )

    def _complete(
        self, model: str, batch: list[str], params: dict[str, Any]
    ) -> tuple[list[list[Generation]], dict[str, Any]]:
        """One request for ``batch``; one request per prompt when the server refuses lists."""
        if len(batch) > 1:
            if self.rate_limiter is not None:
                self.rate_limiter.acquire(blocking=True)
            try:
                response = self.client.completion(model=model, prompt=batch, **params)
                return _generations(response, len(batch))
            except CompactifAIError as err:
                if not _refuses_lists(err):
                    raise
                refused: CompactifAIError | None = err
        else:
            refused = None
        generations: list[list[Generation]] = []
        usage: dict[str, int] = {}
        for prompt in batch:
            if self.rate_limiter is not None:
                self.rate_limiter.acquire(blocking=True)
            response = self.client.completion(model=model, prompt=prompt, **params)
            gens, one_usage = _generations(response, 1)
            if refused is not None:  # a single prompt went through: lists were the problem
                self._lists_refused(len(batch), refused)
                refused = None
            generations.extend(gens)
            _add_usage(usage, one_usage)
        return generations, usage

    async def _acomplete(
        self, model: str, batch: list[str], params: dict[str, Any]
    ) -> tuple[list[list[Generation]], dict[str, Any]]:
        """:meth:`_complete`, async."""
        if len(batch) > 1:
            if self.rate_limiter is not None:
                await self.rate_limiter.aacquire(blocking=True)
            try:
                response = await self.async_client.completion(model=model, prompt=batch, **params)
                return _generations(response, len(batch))
            except CompactifAIError as err:
                if not _refuses_lists(err):
                    raise
                refused: CompactifAIError | None = err
        else:
            refused = None
        generations: list[list[Generation]] = []
        usage: dict[str, int] = {}
        for prompt in batch:
            if self.rate_limiter is not None:
                await self.rate_limiter.aacquire(blocking=True)
            response = await self.async_client.completion(model=model, prompt=prompt, **params)
            gens, one_usage = _generations(response, 1)
            if refused is not None:
                self._lists_refused(len(batch), refused)
                refused = None
            generations.extend(gens)
            _add_usage(usage, one_usage)
        return generations, usage

    # -- calls

    def _generate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        try:
            model, params = self._params(stop, kwargs)
            generations: list[list[Generation]] = []
            usage: dict[str, int] = {}
            if self.streaming:
                for prompt in prompts:
                    text = None
                    for chunk in self._stream(prompt, stop, run_manager, **kwargs):
                        text = chunk if text is None else text + chunk
                    if text is not None:
                        _add_usage(usage, (text.generation_info or {}).pop("token_usage", {}))
                    generations.append([text or Generation(text="")])
            else:
                for batch in self._batches(prompts):
                    gens, batch_usage = self._complete(model, batch, params)
                    generations.extend(gens)
                    _add_usage(usage, batch_usage)
        except CompactifAIError as err:
            raise_as_langchain_error(err)
        return LLMResult(
            generations=generations, llm_output={"token_usage": usage, "model_name": model}
        )

    async def _agenerate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        try:
            model, params = self._params(stop, kwargs)
            generations: list[list[Generation]] = []
            usage: dict[str, int] = {}
            if self.streaming:
                for prompt in prompts:
                    text = None
                    async for chunk in self._astream(prompt, stop, run_manager, **kwargs):
                        text = chunk if text is None else text + chunk
                    if text is not None:
                        _add_usage(usage, (text.generation_info or {}).pop("token_usage", {}))
                    generations.append([text or Generation(text="")])
            else:
                for batch in self._batches(prompts):
                    gens, batch_usage = await self._acomplete(model, batch, params)
                    generations.extend(gens)
                    _add_usage(usage, batch_usage)
        except CompactifAIError as err:
            raise_as_langchain_error(err)
        return LLMResult(
            generations=generations, llm_output={"token_usage": usage, "model_name": model}
        )

    def _stream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[GenerationChunk]:
        try:
            model, params = self._params(stop, kwargs)
            final: dict[str, Any] = {}
            if self.rate_limiter is not None:
                self.rate_limiter.acquire(blocking=True)
            stream = self.client.completion_stream(
                model=model, prompt=prompt, include_usage=self._include_usage(kwargs), **params
            )
            try:
                for raw in stream:
                    chunk = _text_chunk(raw, final)
                    if chunk is not None:
                        if run_manager:
                            run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                        yield chunk
            finally:
                stream.close()
        except CompactifAIError as err:
            raise_as_langchain_error(err)
        yield _final_text_chunk(final, model)

    async def _astream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[GenerationChunk]:
        try:
            model, params = self._params(stop, kwargs)
            final: dict[str, Any] = {}
            if self.rate_limiter is not None:
                await self.rate_limiter.aacquire(blocking=True)
            stream = self.async_client.completion_stream(
                model=model, prompt=prompt, include_usage=self._include_usage(kwargs), **params
            )
            try:
                async for raw in stream:
                    chunk = _text_chunk(raw, final)
                    if chunk is not None:
                        if run_manager:
                            await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                        yield chunk
            finally:
                await stream.aclose()
        except CompactifAIError as err:
            raise_as_langchain_error(err)
        yield _final_text_chunk(final, model)


def _text_chunk(raw: Mapping[str, Any], final: dict[str, Any]) -> GenerationChunk | None:
    """One streamed completion chunk -> a ``GenerationChunk``; metadata goes to ``final``."""
    if "model_name" not in final and raw.get("model"):
        final["model_name"] = raw["model"]
    usage = raw.get("usage")
    if usage:
        final["token_usage"] = dict(usage)
    choices = raw.get("choices")
    if not choices:
        return None
    choice = choices[0]
    if choice.get("finish_reason"):
        final["finish_reason"] = choice["finish_reason"]
    text = choice.get("text")
    return GenerationChunk(text=text) if text else None


def _final_text_chunk(final: dict[str, Any], model: str) -> GenerationChunk:
    info = {"model_name": model, **final}
    return GenerationChunk(text="", generation_info=info)
