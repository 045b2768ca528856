"""Stream objects the clients return: iterate for chunks; the connection is released at the end.

Example:
    >>> from compactifai._streams import Stream
    >>> with Stream(chunk for chunk in [{"choices": []}]) as stream:
    ...     list(stream)
    [{'choices': []}]
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Generic, TypeVar

from typing_extensions import Self

__all__ = ["AsyncStream", "Stream"]

T = TypeVar("T")


class Stream(Generic[T]):
    """A streamed answer: iterate it for chunks (plain dicts, as the server sent them).

    The connection is released when the stream ends, when the loop over it stops early
    (``break``, an exception), when :meth:`close` is called, or when it is dropped. Use it as a
    context manager to make the release explicit.

    Example:
        >>> from compactifai import CompactifAIClient, default_chat_model
        >>> client = CompactifAIClient(api_key="sk-...")  # doctest: +SKIP
        >>> with client.chat_completion_stream(  # doctest: +SKIP
        ...     model=default_chat_model(), messages=[{"role": "user", "content": "Hi"}]
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
        ...         model="hypernova-60b", messages=[{"role": "user", "content": "Hi"}]
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
