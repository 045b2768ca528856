"""Helpers of the files / batches / responses tests: the app in-process, with its lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx

from compactifai.local import ServerSettings, create_app

from .support import API_KEY, OTHER_KEY

TERMINAL = ("completed", "failed", "cancelled", "expired")


@contextlib.asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """Run the app's startup and shutdown as a server would (httpx's transport does not)."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def receive() -> dict[str, Any]:
        return await inbox.get()

    async def send(message: dict[str, Any]) -> None:
        await outbox.put(message)

    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    task = asyncio.ensure_future(app(scope, receive, send))
    await inbox.put({"type": "lifespan.startup"})
    assert (await outbox.get())["type"] == "lifespan.startup.complete"
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        assert (await outbox.get())["type"] == "lifespan.shutdown.complete"
        await task


@contextlib.asynccontextmanager
async def served(db: Path, key: str = API_KEY) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """The app on ``db`` (started), and a client for it with ``key``."""
    app = create_app(ServerSettings(api_keys=(API_KEY, OTHER_KEY), usage_db=db))
    async with (
        lifespan(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://local/v1",
            headers={"Authorization": f"Bearer {key}"},
            timeout=120.0,
        ) as http,
    ):
        yield app, http


def jsonl(rows: Sequence[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def chat_line(i: int, model: str, **body: Any) -> dict[str, Any]:
    return {
        "custom_id": f"request-{i}",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": model, "messages": [{"role": "user", "content": f"Say {i}."}], **body},
    }


async def upload(http: httpx.AsyncClient, content: bytes, purpose: str = "batch") -> str:
    r = await http.post("/files", files={"file": ("in.jsonl", content)}, data={"purpose": purpose})
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


async def create(
    http: httpx.AsyncClient, file_id: str, endpoint: str = "/v1/chat/completions"
) -> dict[str, Any]:
    r = await http.post(
        "/batches",
        json={"input_file_id": file_id, "endpoint": endpoint, "completion_window": "24h"},
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def wait_for(
    http: httpx.AsyncClient,
    batch_id: str,
    statuses: Sequence[str] = TERMINAL,
    timeout: float = 120.0,
    done_at_least: int | None = None,
) -> dict[str, Any]:
    """Poll until the batch reaches one of ``statuses`` (or has ``done_at_least`` rows)."""
    deadline = time.monotonic() + timeout
    while True:
        doc = dict((await http.get(f"/batches/{batch_id}")).json())
        counts = doc["request_counts"]
        if doc["status"] in statuses:
            return doc
        if done_at_least is not None and counts["completed"] + counts["failed"] >= done_at_least:
            return doc
        assert time.monotonic() < deadline, f"batch stuck: {doc}"
        await asyncio.sleep(0.02)


async def rows(http: httpx.AsyncClient, file_id: str | None) -> list[dict[str, Any]]:
    if file_id is None:
        return []
    r = await http.get(f"/files/{file_id}/content")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/octet-stream"
    return [json.loads(line) for line in r.text.splitlines()]
