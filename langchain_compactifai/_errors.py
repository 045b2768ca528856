"""CompactifAI errors that are LangChain model errors as well.

langchain-core names the failures every provider shares (``ModelRateLimitError``,
``ContextOverflowError``...) and asks integrations to raise errors that are also instances of
those, as langchain-openai does. The transport (:mod:`compactifai`) knows nothing of LangChain,
so the models of this package convert its errors where they leave LangChain's entry points:
each class here derives from the transport's class (``except compactifai.RateLimitError``
still catches it, attributes unchanged) and from langchain-core's (``except
ModelRateLimitError`` now catches it too).

Example:
    >>> from compactifai import RateLimitError
    >>> from langchain_core.exceptions import ModelRateLimitError
    >>> err = langchain_error(RateLimitError("slow down", status_code=429))
    >>> isinstance(err, RateLimitError), isinstance(err, ModelRateLimitError), err.status_code
    (True, True, 429)
"""

from __future__ import annotations

import re
from typing import Any, NoReturn

from langchain_core.exceptions import (
    ContextOverflowError,
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelError,
    ModelInvalidRequestError,
    ModelNotFoundError,
    ModelPermissionDeniedError,
    ModelRateLimitError,
    ModelTimeoutError,
)

import compactifai

__all__ = ["langchain_error", "raise_as_langchain_error"]

#: How servers word a prompt longer than the model's context (vLLM, OpenAI, llama.cpp...).
_CONTEXT_OVERFLOW = re.compile(
    r"context[ _]length|context window|maximum context|context_length_exceeded"
    r"|prompt is too long|input tokens exceed|exceeds? the available context",
    re.IGNORECASE,
)


class _Converted:
    """Pickles as itself: the transport classes rebuild their own type, not this one."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))  # type: ignore[attr-defined]


def _rebuild(cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    err = cls.__new__(cls, *args)
    err.__dict__.update(state)
    return err


class CompactifAIInvalidRequestError(
    _Converted, compactifai.InvalidRequestError, ModelInvalidRequestError
):
    """A request refused before it was sent (a bad parameter)."""


class CompactifAIModelCapabilityError(
    _Converted, compactifai.ModelCapabilityError, ModelInvalidRequestError
):
    """A request the model's profile says it cannot take (images, tools)."""


class CompactifAIBadRequestError(_Converted, compactifai.BadRequestError, ModelInvalidRequestError):
    """HTTP 400."""


class CompactifAIContextOverflowError(
    _Converted, compactifai.BadRequestError, ContextOverflowError
):
    """HTTP 400 because the prompt is longer than the model's context."""


class CompactifAIUnprocessableEntityError(
    _Converted, compactifai.UnprocessableEntityError, ModelInvalidRequestError
):
    """HTTP 422."""


class CompactifAIPayloadTooLargeError(
    _Converted, compactifai.PayloadTooLargeError, ModelInvalidRequestError
):
    """HTTP 413."""


class CompactifAIAuthenticationError(
    _Converted, compactifai.AuthenticationError, ModelAuthenticationError
):
    """HTTP 401."""


class CompactifAIPermissionDeniedError(
    _Converted, compactifai.PermissionDeniedError, ModelPermissionDeniedError
):
    """HTTP 403."""


class CompactifAINotFoundError(_Converted, compactifai.NotFoundError, ModelNotFoundError):
    """HTTP 404."""


class CompactifAIRateLimitError(_Converted, compactifai.RateLimitError, ModelRateLimitError):
    """HTTP 429 (after the transport's retries)."""


class CompactifAIRequestTimeoutError(
    _Converted, compactifai.RequestTimeoutError, ModelTimeoutError
):
    """HTTP 408."""


class CompactifAIInternalServerError(
    _Converted, compactifai.InternalServerError, ModelAPIError
):
    """HTTP 5xx (after the transport's retries)."""


class CompactifAIResponseDecodeError(
    _Converted, compactifai.ResponseDecodeError, ModelAPIError
):
    """An answer that is not the JSON or SSE the API documents."""


class CompactifAIAPIError(_Converted, compactifai.APIError, ModelAPIError):
    """An error the server reported without an HTTP status (e.g. in a stream)."""


class CompactifAIConnectionError(
    _Converted, compactifai.APIConnectionError, ModelConnectionError
):
    """The server could not be reached."""


class CompactifAITimeoutError(_Converted, compactifai.APITimeoutError, ModelTimeoutError):
    """No answer (or no next chunk) within the timeout."""


class CompactifAIStreamInterruptedError(
    _Converted, compactifai.StreamInterruptedError, ModelConnectionError
):
    """A stream that broke after part of it was delivered (sending again may succeed)."""


#: transport class -> its LangChain twin. Exact types only: a class not listed here (409, an
#: unusual status, configuration errors) is raised unchanged.
_TWINS: dict[type[BaseException], type[BaseException]] = {
    compactifai.InvalidRequestError: CompactifAIInvalidRequestError,
    compactifai.ModelCapabilityError: CompactifAIModelCapabilityError,
    compactifai.BadRequestError: CompactifAIBadRequestError,
    compactifai.UnprocessableEntityError: CompactifAIUnprocessableEntityError,
    compactifai.PayloadTooLargeError: CompactifAIPayloadTooLargeError,
    compactifai.AuthenticationError: CompactifAIAuthenticationError,
    compactifai.PermissionDeniedError: CompactifAIPermissionDeniedError,
    compactifai.NotFoundError: CompactifAINotFoundError,
    compactifai.RateLimitError: CompactifAIRateLimitError,
    compactifai.RequestTimeoutError: CompactifAIRequestTimeoutError,
    compactifai.InternalServerError: CompactifAIInternalServerError,
    compactifai.ResponseDecodeError: CompactifAIResponseDecodeError,
    compactifai.APIError: CompactifAIAPIError,
    compactifai.APIConnectionError: CompactifAIConnectionError,
    compactifai.APITimeoutError: CompactifAITimeoutError,
    compactifai.StreamInterruptedError: CompactifAIStreamInterruptedError,
}


def langchain_error(err: BaseException) -> BaseException:
    """``err`` as an instance of its LangChain twin (same message and attributes), or ``err``
    itself when it has none or already is a LangChain model error.

    A 400 whose message says the prompt exceeds the model's context becomes a
    ``ContextOverflowError``.

    Example:
        >>> from compactifai import BadRequestError
        >>> from langchain_core.exceptions import ContextOverflowError
        >>> err = BadRequestError("This model's maximum context length is 8192 tokens",
        ...                       status_code=400)
        >>> isinstance(langchain_error(err), ContextOverflowError)
        True
    """
    if isinstance(err, ModelError):
        return err
    twin = _TWINS.get(type(err))
    if twin is None:
        return err
    if twin is CompactifAIBadRequestError and _CONTEXT_OVERFLOW.search(str(err)):
        twin = CompactifAIContextOverflowError
    return _rebuild(twin, err.args, err.__dict__)  # type: ignore[no-any-return]


def raise_as_langchain_error(err: BaseException) -> NoReturn:
    """Raise ``err`` converted by :func:`langchain_error` (chained to the original)."""
    converted = langchain_error(err)
    if converted is err:
        raise err
    raise converted from err
