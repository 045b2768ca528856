"""Property-based tests: whatever a server sends, only typed errors escape the transport.

CI runs a small number of examples; a long run is
``HYPOTHESIS_PROFILE=long python -m pytest tests/unit/test_fuzz.py`` (10,000 examples each).
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compactifai import CompactifAIError
from tests.helpers import Recorder, json_response, sse_response, sync_client

settings.register_profile("ci", max_examples=150, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=10_000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["id", "choices", "message", "content", "usage", "data",
                                       "text", "segments", "error", "delta", "model", "x"]),
                      children, max_size=5),
    max_leaves=20,
)


def _call(client: Any, kind: str) -> None:
    if kind == "chat":
        client.chat_completion(**CHAT)
    elif kind == "completion":
        client.completion(model="m", prompt="p")
    elif kind == "models":
        client.list_models()
    elif kind == "model":
        client.retrieve_model("m")
    elif kind == "transcription":
        client.transcribe(("a.wav", b"RIFF"))
    else:
        client.usage_statistics(start_time="2025-01-01T00:00:00Z")


@given(payload=json_values,
       kind=st.sampled_from(["chat", "completion", "models", "model", "transcription", "usage"]),
       status=st.sampled_from([200, 200, 200, 400, 404, 429, 500, 503]))
def test_any_json_answer_gives_a_result_or_a_typed_error(payload: Any, kind: str,
                                                        status: int) -> None:
    client = sync_client(Recorder(json_response(json.dumps(payload), status)))
    with contextlib.suppress(CompactifAIError):
        _call(client, kind)


@given(body=st.binary(max_size=200), status=st.sampled_from([200, 401, 500]))
def test_any_bytes_answer_gives_a_result_or_a_typed_error(body: bytes, status: int) -> None:
    client = sync_client(Recorder(httpx.Response(status, content=body)))
    with contextlib.suppress(CompactifAIError):
        client.chat_completion(**CHAT)


@given(chunks=st.lists(st.binary(max_size=40) | st.sampled_from(
    [b"data: ", b"\n\n", b"data: [DONE]\n\n", b"data: {}\n\n", b'data: {"error": 1}\n\n',
     b"event: error\n", b"\r\n", b":\n", b'data: {"choices": []}\n\n']), max_size=12))
def test_any_stream_gives_chunks_or_a_typed_error(chunks: list[bytes]) -> None:
    client = sync_client(Recorder(sse_response(chunks)))
    try:
        for chunk in client.chat_completion_stream(**CHAT):
            assert isinstance(chunk, dict)
    except CompactifAIError:
        pass
