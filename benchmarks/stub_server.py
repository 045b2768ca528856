"""A cheap OpenAI-compatible stub server for benchmarks: pre-built answers on 127.0.0.1.

It answers every POST to ``/v1/chat/completions`` at once: a JSON chat completion, or with
``"stream": true`` in the body an SSE stream of ``STREAM_CHUNKS`` content chunks, a finish
chunk, a usage chunk and ``[DONE]``. Nothing is computed per request, so what a benchmark
measures is the client.

Run it alone: ``python -m benchmarks.stub_server --port 8799``.
"""

from __future__ import annotations

import argparse
import asyncio
import json

STREAM_CHUNKS = 5000

_COMPLETION = json.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 1749600000,
    "model": "bench-model",
    "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": "Hello! How can I help you today?"}}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21},
}).encode()


def _chunk(delta: dict[str, object], finish: str | None = None) -> bytes:
    payload = {"id": "chatcmpl-bench", "object": "chat.completion.chunk",
               "created": 1749600000, "model": "bench-model",
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def _stream_body(n: int) -> bytes:
    parts = [_chunk({"role": "assistant", "content": ""})]
    parts += [_chunk({"content": "tok "})] * n
    parts.append(_chunk({}, "stop"))
    usage = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1749600000,
             "model": "bench-model", "choices": [],
             "usage": {"prompt_tokens": 12, "completion_tokens": n, "total_tokens": n + 12}}
    parts.append(b"data: " + json.dumps(usage).encode() + b"\n\n")
    parts.append(b"data: [DONE]\n\n")
    return b"".join(parts)


def _http(body: bytes, ctype: bytes) -> bytes:
    return (b"HTTP/1.1 200 OK\r\ncontent-type: " + ctype + b"\r\ncontent-length: "
            + str(len(body)).encode() + b"\r\nconnection: keep-alive\r\n\r\n" + body)


PLAIN = _http(_COMPLETION, b"application/json")
STREAM = _http(_stream_body(STREAM_CHUNKS), b"text/event-stream")
MODELS = _http(json.dumps({"object": "list", "data": [{
    "id": "bench-model", "object": "model", "created": 1749600000, "owned_by": "bench",
    "capabilities": {"supports_function_calling": True, "supports_image": False,
                     "supports_audio": False}}]}).encode(), b"application/json")


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].lower()
            length = 0
            at = head.find(b"content-length:")
            if at >= 0:
                length = int(head[at + 15:head.find(b"\r\n", at) if head.find(b"\r\n", at) > 0
                                  else len(head)].strip())
            if len(self.buf) < end + 4 + length:
                return
            body = self.buf[end + 4:end + 4 + length]
            self.buf = self.buf[end + 4 + length:]
            assert self.transport is not None
            if head.startswith(b"get"):
                self.transport.write(MODELS)
            elif b'"stream":true' in body.replace(b" ", b""):
                self.transport.write(STREAM)
            else:
                self.transport.write(PLAIN)


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Protocol, host, port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8799)
    args = parser.parse_args()
    try:
        import uvloop  # type: ignore[import-not-found]

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
