"""The public objects the fault matrix drives, each behind the same four calls.

A surface builds its object around a given MockTransport handler, and exposes ``call``,
``acall``, ``stream`` and ``astream`` (the last two ``None`` where the object does not stream).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from compactifai import AsyncCompactifAIClient, CompactifAIClient

Handler = Callable[[httpx.Request], httpx.Response]
BASE_URL = "https://compactifai.test/v1"
KEY = "sk-matrix-secret-0001"
MESSAGES = [{"role": "user", "content": "hi"}]


def no_sleep(_: float) -> None:
    return None


async def ano_sleep(_: float) -> None:
    return None


def sync_transport(handler: Handler, retries: int) -> CompactifAIClient:
    client = CompactifAIClient(api_key=KEY, base_url=BASE_URL, max_retries=retries,
                               http_client=httpx.Client(transport=httpx.MockTransport(handler)))
    client._pipeline._sleep = no_sleep
    return client


def async_transport(handler: Handler, retries: int) -> AsyncCompactifAIClient:
    client = AsyncCompactifAIClient(
        api_key=KEY, base_url=BASE_URL, max_retries=retries,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)))
    client._pipeline._sleep = ano_sleep
    return client


@dataclass
class Surface:
    name: str
    call: Callable[[Handler, int], Any]
    acall: Callable[[Handler, int], Awaitable[Any]]
    stream: Callable[[Handler, int], list[Any]] | None = None
    astream: Callable[[Handler, int], Awaitable[list[Any]]] | None = None


async def _acollect(iterator: Any) -> list[Any]:
    return [item async for item in iterator]


def _transport_surface() -> Surface:
    return Surface(
        name="transport",
        call=lambda h, r: sync_transport(h, r).chat_completion(model="m", messages=MESSAGES),
        acall=lambda h, r: async_transport(h, r).chat_completion(model="m", messages=MESSAGES),
        stream=lambda h, r: list(sync_transport(h, r).chat_completion_stream(
            model="m", messages=MESSAGES)),
        astream=lambda h, r: _acollect(async_transport(h, r).chat_completion_stream(
            model="m", messages=MESSAGES)),
    )


SURFACES: list[Surface] = [_transport_surface()]
