"""``with`` and ``async with`` for anything that has ``close()`` and ``aclose()``.

The transport clients, the framework models, loaders and readers all close what they built
the same way; the context-manager half of that lives here once.

Example:
    >>> from compactifai._closing import Closing
    >>> class Pool(Closing):
    ...     closed = False
    ...     def close(self) -> None:
    ...         self.closed = True
    ...     async def aclose(self) -> None:
    ...         self.close()
    >>> with Pool() as pool:
    ...     pass
    >>> pool.closed
    True
"""

from __future__ import annotations

from typing import Any

from typing_extensions import Self

__all__ = ["Closing", "ClosingLazyClients"]


class Closing:
    """Adds ``with`` / ``async with`` to a class that defines ``close`` and ``aclose``."""

    def close(self) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class ClosingLazyClients(Closing):
    """For loaders and readers that keep their transport clients in ``self.clients``
    (a :class:`compactifai.transcripts.LazyClients`): close only what was built here."""

    clients: Any

    def close(self) -> None:
        """Close the sync HTTP client built here (a client passed in stays open)."""
        self.clients.close()

    async def aclose(self) -> None:
        """Close the HTTP clients built here (the async one's pool of the running loop)."""
        await self.clients.aclose()
