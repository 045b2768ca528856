"""A small HTTP/1.1 server with fault injection, for the soak test (real sockets, loopback).

``X-Fault`` on a request picks the fault: 500, 503, 429, drop (close before answering),
drop-mid-stream (close after one event), stall (answer after ``X-Fault-Seconds``); with
``X-Fault-Id`` only the first ``X-Fault-Times`` (default 1) requests of that id fail.
Without it every request gets a good chat answer (or a good stream with ``"stream":true``).

Run: ``python -m tests.reliability.fault_stub --port 8798``.
"""

from __future__ import annotations

import argparse
import asyncio
import json

_ANSWER = json.dumps({
    "id": "c", "object": "chat.completion", "created": 1, "model": "m",
    "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": "Hello"}}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}).encode()
_EVENT = b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m",' \
         b'"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}\n\n'
_STREAM = _EVENT * 5 + b"data: [DONE]\n\n"


def _http(status: str, body: bytes, ctype: bytes = b"application/json",
          extra: bytes = b"") -> bytes:
    return (f"HTTP/1.1 {status}\r\n".encode() + b"content-type: " + ctype
            + b"\r\ncontent-length: " + str(len(body)).encode() + b"\r\n" + extra + b"\r\n"
            + body)


_SEEN: dict[bytes, int] = {}


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            headers = {}
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get(b"content-length", b"0")))
            fault = headers.get(b"x-fault", b"").decode()
            fault_id = headers.get(b"x-fault-id")
            if fault and fault_id is not None:  # fail only the first X-Fault-Times requests
                _SEEN[fault_id] = _SEEN.get(fault_id, 0) + 1
                if _SEEN[fault_id] > int(headers.get(b"x-fault-times", b"1")):
                    fault = ""
            stream = b'"stream":true' in body.replace(b" ", b"")
            if fault == "drop":
                writer.transport.abort()
                return
            if fault == "stall":
                await asyncio.sleep(float(headers.get(b"x-fault-seconds", b"30")))
            if fault in ("500", "503"):
                writer.write(_http(f"{fault} Error", b'{"error":{"message":"injected"}}'))
            elif fault == "429":
                writer.write(_http("429 Too Many Requests", b'{"error":{"message":"slow"}}',
                                   extra=b"retry-after: 0\r\n"))
            elif stream and fault == "drop-mid-stream":
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                             b"transfer-encoding: chunked\r\n\r\n"
                             + f"{len(_EVENT):x}\r\n".encode() + _EVENT + b"\r\n")
                await writer.drain()
                writer.transport.abort()
                return
            elif stream:
                writer.write(_http("200 OK", _STREAM, b"text/event-stream"))
            else:
                writer.write(_http("200 OK", _ANSWER))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def serve(port: int) -> None:
    server = await asyncio.start_server(_handle, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
