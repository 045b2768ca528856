"""First-token latency over TLS with a network delay: what connection reuse is worth.

    python -m benchmarks.first_token_tls                  # 100 calls each, 20 ms round trip
    python -m benchmarks.first_token_tls --rtt-ms 50 --calls 100 --out benchmarks/results/first_token_tls.md

A local TLS stub (its certificate made at run time by ``trustme``, trusted through
``SSL_CERT_FILE`` so every contender runs with its default settings) adds a fixed artificial
delay to every round trip it can see: two for each new connection (the TCP handshake and TLS
1.3's one round trip, slept in the server's SNI callback), and one between a request and its first byte. Streams are
sent the way real servers send them: ``Transfer-Encoding: chunked``, one chunk per SSE event,
and the chunked terminator written a moment after ``[DONE]``.

Each contender makes ``--calls`` sequential streamed chat calls; the figure is the median
first-token latency of calls 2..N (the first call opens the connection for everyone), as a
ratio to raw httpx with a kept-alive connection, and the number of TCP connections the stub
accepted. A client that drops its connection after each stream pays two extra round trips per
call. This is a benchmark, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import ssl
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

MODEL = "bench-model"
KEY = "bench-key"
BODY = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True}
CONTENT_CHUNKS = 20


def _event(payload: object) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def _chunk(delta: dict[str, object], finish: str | None = None) -> dict[str, object]:
    return {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


EVENTS = [
    _event(_chunk({"role": "assistant", "content": ""})),
    *[_event(_chunk({"content": "tok "})) for _ in range(CONTENT_CHUNKS)],
    _event(_chunk({}, "stop")),
    b"data: [DONE]\n\n",
]
HEAD = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
        b"transfer-encoding: chunked\r\nconnection: keep-alive\r\n\r\n")


def _chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


class TLSStub:
    """A chunked SSE server over TLS on 127.0.0.1 that adds ``rtt`` per round trip."""

    def __init__(self, ctx: ssl.SSLContext, rtt: float) -> None:
        self.ctx = ctx
        self.rtt = rtt
        self.connections = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TLSStub:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        # The handshake's delay: the SNI callback runs inside the server's TLS handshake, once
        # per new connection (a blocking sleep is fine: the calls are sequential).
        self.ctx.sni_callback = lambda *_: time.sleep(2 * self.rtt)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.ctx))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                await asyncio.sleep(self.rtt)  # the request out and the first byte back
                writer.write(HEAD + b"".join(_chunked(e) for e in EVENTS))
                await writer.drain()
                await asyncio.sleep(0.002)  # the terminator comes in its own write, as uvicorn's
                writer.write(b"0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()


@dataclass
class Result:
    name: str
    first_token_ms: float
    connections: int


def _raw_httpx(base_url: str) -> Callable[[], Iterator[str]]:
    import httpx

    client = httpx.Client(headers={"Authorization": f"Bearer {KEY}"})

    def call() -> Iterator[str]:
        with client.stream("POST", base_url + "/chat/completions", json=BODY) as response:
            for line in response.iter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    delta = json.loads(line[6:])["choices"][0]["delta"]
                    if delta.get("content"):
                        yield delta["content"]

    return call


def _openai(base_url: str) -> Callable[[], Iterator[str]]:
    import openai

    client = openai.OpenAI(api_key=KEY, base_url=base_url, max_retries=0)

    def call() -> Iterator[str]:
        stream = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True)
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                yield chunk.choices[0].delta.content

    return call


def _ours(base_url: str) -> Callable[[], Iterator[str]]:
    from compactifai import CompactifAIClient

    client = CompactifAIClient(api_key=KEY, base_url=base_url, max_retries=0)

    def call() -> Iterator[str]:
        for chunk in client.chat_completion_stream(
                model=MODEL, messages=[{"role": "user", "content": "hi"}]):
            choices = chunk["choices"]  # the transport yields the wire dicts as they are
            if choices and choices[0]["delta"].get("content"):
                yield choices[0]["delta"]["content"]

    return call


CONTENDERS: dict[str, Callable[[str], Callable[[], Iterator[str]]]] = {
    "raw httpx, kept-alive connection (floor)": _raw_httpx,
    "openai SDK": _openai,
    "compactifai (ours)": _ours,
}


def measure(stub: TLSStub, name: str, calls: int) -> Result:
    before = stub.connections
    call = CONTENDERS[name](f"https://localhost:{stub.port}/v1")
    firsts: list[float] = []
    for _ in range(calls):
        started = time.perf_counter()
        first = None
        for _token in call():
            if first is None:
                first = time.perf_counter() - started
        assert first is not None, f"{name}: the stream carried no content"
        firsts.append(first)
    return Result(name, statistics.median(firsts[1:]) * 1000, stub.connections - before)


def table(results: list[Result], rtt_ms: float, calls: int) -> str:
    floor = results[0].first_token_ms
    lines = [
        f"Python {sys.version.split()[0]}, {os.cpu_count()} cores; TLS stub with {rtt_ms:g} ms "
        f"per round trip; {calls} sequential streamed calls each (median of calls 2..{calls}).",
        "",
        "| contender | first token ms (× floor) | TCP connections opened |",
        "|---|---|---|",
    ]
    lines += [f"| {r.name} | {r.first_token_ms:.1f} ({r.first_token_ms / floor:.2f}×) "
              f"| {r.connections} |" for r in results]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rtt-ms", type=float, default=20.0)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    import trustme

    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_ctx)
    with tempfile.TemporaryDirectory() as tmp:
        ca_file = Path(tmp) / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        os.environ["SSL_CERT_FILE"] = str(ca_file)  # every contender, default settings
        with TLSStub(server_ctx, args.rtt_ms / 1000) as stub:
            results = [measure(stub, name, args.calls) for name in CONTENDERS]
    text = table(results, args.rtt_ms, args.calls)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
