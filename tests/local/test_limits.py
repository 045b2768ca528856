"""Request size limits and client disconnects: big requests never stall small ones.

The figures (time to refuse a 30 MB body, latency of a small chat sent meanwhile) are printed;
``pytest -s tests/local/test_limits.py`` shows them.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from compactifai.local import LocalServer
from compactifai.local.limits import MAX_AUDIO_BYTES, MAX_JSON_BYTES

from .support import CHAT_MODEL

MB = 1024 * 1024
SMALL = {
    "model": CHAT_MODEL,
    "messages": [{"role": "user", "content": "Hi"}],
    "max_tokens": 3,
    "temperature": 0,
}


def _big_body(n_bytes: int) -> bytes:
    text = "word " * (n_bytes // 5)
    body = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": text}]}
    return json.dumps(body).encode()


def _error(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text[:300]
    err: dict[str, Any] = resp.json()["error"]
    assert err["code"] and err["message"]
    return err


def _chunks(data: bytes, size: int = 256 * 1024) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def test_json_body_over_the_limit_is_413_before_parsing(client: httpx.Client) -> None:
    body = _big_body(30 * MB)
    started = time.perf_counter()
    err = _error(client.post("/chat/completions", content=body), 413)
    refused = time.perf_counter() - started
    assert err["code"] == "request_too_large" and "8 MiB" in err["message"]
    assert refused < 5.0
    # Sent chunked (no Content-Length): counted while read, refused all the same.
    started = time.perf_counter()
    resp = client.post(
        "/chat/completions", content=_chunks(body), headers={"content-type": "application/json"}
    )
    assert _error(resp, 413)["code"] == "request_too_large"
    print(f"\n30 MB JSON body refused in {refused:.2f} s (chunked: "
          f"{time.perf_counter() - started:.2f} s)")
    # A body just under the limit is read; its prompt cannot fit, which the size shows.
    started = time.perf_counter()
    err = _error(client.post("/chat/completions", content=_big_body(MAX_JSON_BYTES - MB)), 400)
    assert err["code"] == "context_length_exceeded" and err["param"] == "messages"
    assert time.perf_counter() - started < 5.0


@pytest.mark.local_models
def test_small_chat_is_not_delayed_by_a_flood_of_oversized_requests(
    local_server: LocalServer, client: httpx.Client
) -> None:
    client.post("/chat/completions", json=SMALL)  # the model is loaded and warm
    started = time.perf_counter()
    client.post("/chat/completions", json=SMALL)
    alone = time.perf_counter() - started
    oversized = [_big_body(30 * MB)] * 3 + [_big_body(7 * MB)] * 2
    statuses: list[int] = []
    times: list[float] = []

    def send(body: bytes) -> None:
        with httpx.Client(
            base_url=local_server.base_url,
            headers={"Authorization": f"Bearer {local_server.api_key}"},
            timeout=120,
        ) as other:
            t0 = time.perf_counter()
            statuses.append(other.post("/chat/completions", content=body).status_code)
            times.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=send, args=(b,)) for b in oversized]
    for t in threads:
        t.start()
    time.sleep(0.05)
    started = time.perf_counter()
    resp = client.post("/chat/completions", json=SMALL)
    meanwhile = time.perf_counter() - started
    for t in threads:
        t.join()
    assert resp.status_code == 200
    assert sorted(statuses) == [400, 400, 413, 413, 413]
    print(
        f"\nsmall chat alone {alone:.2f} s; during 3 x 30 MB + 2 x 7 MB requests {meanwhile:.2f} s"
        f"; the oversized ones answered in {min(times):.2f}-{max(times):.2f} s"
    )
    assert meanwhile < alone + 5.0


def test_audio_upload_over_25_mb_is_413_even_chunked(client: httpx.Client) -> None:
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-base\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()
    body = head + b"\0" * (MAX_AUDIO_BYTES + 2 * MB) + f"\r\n--{boundary}--\r\n".encode()
    resp = client.post(
        "/audio/transcriptions",
        content=_chunks(body),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    err = _error(resp, 413)
    assert err["code"] == "file_too_large" and err["param"] == "file"


@pytest.mark.local_models
def test_client_leaving_a_plain_request_stops_generation(client: httpx.Client) -> None:
    body = {
        "model": CHAT_MODEL,
        "messages": [{"role": "user", "content": "Tell me a very long story about a dragon."}],
        "max_tokens": 1500,
        "temperature": 0,
    }
    client.post("/chat/completions", json=SMALL)
    with pytest.raises(httpx.ReadTimeout):
        client.post("/chat/completions", json=body, timeout=httpx.Timeout(60, read=1.0))
    started = time.perf_counter()
    resp = client.post("/chat/completions", json=SMALL)
    assert resp.status_code == 200
    assert time.perf_counter() - started < 8.0  # not queued behind 1500 tokens
