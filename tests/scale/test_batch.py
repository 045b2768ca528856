"""``compactifai.batch``: the batch callables on numpy and pandas batches, against MockTransport."""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from compactifai import (
    AsyncCompactifAIClient,
    AuthenticationError,
    ConfigurationError,
    InvalidRequestError,
)
from compactifai._pipeline import _PipelineBase
from compactifai.batch import _LOOP, ChatBatch, TranscriptionBatch

BASE_URL = "https://compactifai.test/v1"
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 64
OUTPUTS = ["output", "finish_reason", "prompt_tokens", "completion_tokens", "error"]


def answer(text: str, prompt_tokens: int = 4, finish: str = "stop") -> httpx.Response:
    return httpx.Response(200, json={
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
        ],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 2,
                  "total_tokens": prompt_tokens + 2},
    })


def error(status: int, message: str = "nope", **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"message": message}}, headers=headers)


class Server:
    """An async MockTransport handler: echoes the last message upper-cased, with failures
    chosen by the prompt's text, and counts requests in flight."""

    def __init__(self, delay: Callable[[str], float] = lambda _p: 0.0) -> None:
        self.delay = delay
        self.requests: list[httpx.Request] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.seen: dict[str, int] = {}

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.requests.append(request)
        if request.url.path.endswith("/audio/transcriptions"):
            return self.transcription(request)
        body = json.loads(request.content)
        prompt = body["messages"][-1]["content"]
        self.seen[prompt] = self.seen.get(prompt, 0) + 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay(prompt))
        finally:
            self.in_flight -= 1
        if prompt == "fail-500":
            return error(500, "boom")
        if prompt == "fail-400":
            return error(400, "bad prompt")
        if prompt == "flaky-429" and self.seen[prompt] == 1:
            return error(429, "slow down", **{"retry-after": "0"})
        if prompt == "drop":
            raise httpx.ConnectError("connection reset")
        if prompt == "bad-key":
            return error(401, "invalid key")
        return answer(prompt.upper(), prompt_tokens=len(prompt))

    def transcription(self, request: httpx.Request) -> httpx.Response:
        if b"broken.wav" in request.content:
            return error(500, "decoder crashed")
        return httpx.Response(200, json={
            "text": "hello", "language": "en", "duration": 2.0,
            "segments": [{"id": 0, "start": 0.0, "end": 2.0, "text": "hello"}],
        })

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]


async def _no_sleep(_: float) -> None:
    return None


def client_for(server: Server, max_retries: int = 2) -> AsyncCompactifAIClient:
    client = AsyncCompactifAIClient(
        api_key="sk-batch-test",
        base_url=BASE_URL,
        max_retries=max_retries,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(server)),
    )
    client._pipeline._sleep = _no_sleep
    return client


def chat(server: Server, **kwargs: Any) -> ChatBatch:
    kwargs.setdefault("model", "m")
    return ChatBatch(client=client_for(server), **kwargs)


# ---------------------------------------------------------------- formats and order


@pytest.mark.parametrize("dtype", [object, str])
def test_numpy_batch(dtype: type) -> None:
    server = Server()
    prompts = np.array(["a", "bb", "ccc"], dtype=dtype)
    ids = np.arange(3)
    out = chat(server, max_tokens=8)({"prompt": prompts, "id": ids})

    assert isinstance(out, dict) and list(out) == ["prompt", "id", *OUTPUTS]
    assert out["prompt"] is prompts and out["id"] is ids  # input columns untouched
    assert out["output"].tolist() == ["A", "BB", "CCC"]
    assert out["finish_reason"].tolist() == ["stop"] * 3
    assert out["prompt_tokens"].dtype == np.int64 and out["prompt_tokens"].tolist() == [1, 2, 3]
    assert out["completion_tokens"].tolist() == [2, 2, 2]
    assert out["error"].tolist() == ["", "", ""]
    assert all(b["max_tokens"] == 8 and b["model"] == "m" for b in server.bodies())


def test_pandas_batch_keeps_index_and_columns() -> None:
    df = pd.DataFrame({"prompt": ["x", "y"], "label": [1, 0]}, index=[10, 11])
    out = chat(Server())(df)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["prompt", "label", *OUTPUTS]
    assert list(out.index) == [10, 11]
    assert out["output"].tolist() == ["X", "Y"] and out["label"].tolist() == [1, 0]
    assert "output" not in df.columns  # the input frame is not modified


def test_order_is_kept_when_answers_come_back_out_of_order() -> None:
    prompts = [f"p{i:02d}" for i in range(40)]
    # Early rows answer last.
    server = Server(delay=lambda p: (40 - int(p[1:])) * 0.002)
    out = chat(server, max_concurrency=40)({"prompt": np.array(prompts, dtype=object)})
    assert out["output"].tolist() == [p.upper() for p in prompts]


def test_max_concurrency_bounds_requests_in_flight() -> None:
    server = Server(delay=lambda _p: 0.01)
    chat(server, max_concurrency=3)({"prompt": np.array([f"q{i}" for i in range(20)])})
    assert server.most_in_flight == 3


def test_empty_batch() -> None:
    out = chat(Server())({"prompt": np.array([], dtype=object)})
    assert all(len(out[c]) == 0 for c in OUTPUTS)
    assert out["prompt_tokens"].dtype == np.int64


# ---------------------------------------------------------------- failed rows


def test_failed_rows_are_recorded_not_dropped() -> None:
    server = Server()
    prompts = ["ok", "fail-500", "flaky-429", "fail-400", "drop", None, "ok2"]
    out = chat(server)(pd.DataFrame({"prompt": prompts}))

    assert len(out) == len(prompts)
    assert out["prompt"].tolist()[:5] == prompts[:5]
    errors = out["error"].tolist()
    assert errors[0] == "" and errors[6] == ""
    assert errors[1].startswith("InternalServerError: boom")
    assert errors[2] == "" and out["output"][2] == "FLAKY-429"  # retried, then answered
    assert errors[3].startswith("BadRequestError: bad prompt")
    assert errors[4].startswith("APIConnectionError: ")
    assert errors[5].startswith("InvalidRequestError: ") and "not a prompt string" in errors[5]
    failed = [1, 3, 4, 5]
    assert out["output"][failed].tolist() == [""] * 4
    assert out["finish_reason"][failed].tolist() == [""] * 4
    assert out["prompt_tokens"][failed].tolist() == [0] * 4
    # 500 and connection errors were retried (max_retries=2); 400 was not.
    assert (server.seen["fail-500"], server.seen["drop"], server.seen["fail-400"]) == (3, 3, 1)


def test_a_refused_key_stops_the_job() -> None:
    with pytest.raises(AuthenticationError, match="invalid key"):
        chat(Server())({"prompt": np.array(["ok", "bad-key", "ok"])})


# ---------------------------------------------------------------- messages, headers, params


def test_system_prompt_and_chat_params() -> None:
    server = Server()
    chat(server, system_prompt="Answer yes or no.", temperature=0, stop=["\n"])(
        {"prompt": np.array(["Is water wet?"])}
    )
    [body] = server.bodies()
    assert body["messages"] == [
        {"role": "system", "content": "Answer yes or no."},
        {"role": "user", "content": "Is water wet?"},
    ]
    assert (body["temperature"], body["stop"]) == (0, ["\n"])


def test_messages_column_in_every_form_ray_gives() -> None:
    server = Server()
    conversation = [{"role": "user", "content": "one"}]
    # Ray's numpy batches hold list<struct> cells as arrays of dicts, with every struct key
    # present (None where a row did not set it).
    as_arrow = np.array(
        [{"role": "system", "content": "sys", "name": None}, {"role": "user", "content": "two",
                                                             "name": None}],
        dtype=object,
    )
    cells = np.empty(3, dtype=object)
    cells[:] = [conversation, as_arrow, json.dumps([{"role": "user", "content": "three"}])]
    out = chat(server, messages_column="messages", system_prompt="default sys")(
        {"messages": cells}
    )
    assert out["output"].tolist() == ["ONE", "TWO", "THREE"]
    by_last = {b["messages"][-1]["content"]: b["messages"] for b in server.bodies()}
    assert by_last["one"][0] == {"role": "system", "content": "default sys"}
    assert by_last["two"] == [
        {"role": "system", "content": "sys"}, {"role": "user", "content": "two"}
    ]


def test_a_bad_messages_cell_is_a_failed_row() -> None:
    cells = np.empty(2, dtype=object)
    cells[:] = ["not json", [{"role": "user", "content": "fine"}]]
    out = chat(Server(), messages_column="messages")({"messages": cells})
    assert out["error"][0].startswith("JSONDecodeError") and out["error"][1] == ""


def test_per_row_headers() -> None:
    server = Server()
    headers = np.empty(4, dtype=object)
    headers[:] = [
        {"X-Fault": "500", "X-Fault-Id": "r0", "X-Trace": None},  # None: another row's key
        None,
        '{"X-Trace": "t2"}',
        "",
    ]
    chat(server, headers_column="headers", extra_headers={"X-Job": "j1"})(
        {"prompt": np.array(["a", "b", "c", "d"]), "headers": headers}
    )
    sent = {json.loads(r.content)["messages"][-1]["content"]: r.headers for r in server.requests}
    assert (sent["a"]["x-fault"], sent["a"]["x-fault-id"], sent["a"]["x-job"]) == ("500", "r0",
                                                                                    "j1")
    assert "x-trace" not in sent["a"]
    assert "x-fault" not in sent["b"] and sent["b"]["x-job"] == "j1"
    assert sent["c"]["x-trace"] == "t2"


def test_output_prefix_and_column_clash() -> None:
    batch = {"prompt": np.array(["a"]), "output": np.array(["earlier"])}
    with pytest.raises(ValueError, match="output_prefix"):
        chat(Server())(batch)
    out = chat(Server(), output_prefix="second_")(batch)
    assert out["output"].tolist() == ["earlier"] and out["second_output"].tolist() == ["A"]


def test_missing_column_names_the_columns() -> None:
    with pytest.raises(KeyError, match=r"no column 'prompt'.*\['text'\]"):
        chat(Server())({"text": np.array(["a"])})


def test_bad_settings_are_refused_when_built() -> None:
    with pytest.raises(InvalidRequestError, match="temperatur"):
        ChatBatch(model="m", api_key="k", temperatur=0.5)
    with pytest.raises(InvalidRequestError, match="temperature"):
        ChatBatch(model="m", api_key="k", temperature=5)
    with pytest.raises(ConfigurationError, match="max_concurrency"):
        ChatBatch(model="m", api_key="k", max_concurrency=0)
    with pytest.raises(ConfigurationError, match="not both"):
        ChatBatch(model="m", client=client_for(Server()), api_key="k")


def test_key_from_the_worker_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPACTIFAI_API_KEY", "sk-from-env")
    batch = ChatBatch(model="m")
    assert batch.client.config.api_key.get_secret_value() == "sk-from-env"
    assert "sk-from-env" not in repr(batch)
    monkeypatch.delenv("COMPACTIFAI_API_KEY")
    with pytest.raises(ConfigurationError, match="COMPACTIFAI_API_KEY"):
        ChatBatch(model="m")


# ---------------------------------------------------------------- loop and client reuse


def test_one_loop_and_one_pool_across_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    server = Server()
    original = _PipelineBase._new_client_kwargs
    monkeypatch.setattr(
        _PipelineBase, "_new_client_kwargs",
        lambda self: {**original(self), "transport": httpx.MockTransport(server)},
    )
    batch = ChatBatch(model="m", api_key="k", base_url=BASE_URL)
    for _ in range(3):
        batch({"prompt": np.array(["a", "b"])})
    pools = batch.client._pipeline._clients
    assert list(pools) == [_LOOP.loop()]  # one loop for the process, one pool on it
    assert len(server.requests) == 6


async def test_callable_from_inside_a_running_loop() -> None:
    """Notebooks and async hosts call the callables where a loop already runs."""
    out = chat(Server())({"prompt": np.array(["a"])})
    assert out["output"].tolist() == ["A"]


def test_importing_the_module_imports_no_engine() -> None:
    code = (
        "import sys, compactifai.batch; "
        "print(sorted(m for m in ('ray', 'numpy', 'pandas') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# ---------------------------------------------------------------- transcription


def transcriber(server: Server, **kwargs: Any) -> TranscriptionBatch:
    return TranscriptionBatch(client=client_for(server, max_retries=0), **kwargs)


def test_transcription_from_paths(tmp_path: Path) -> None:
    good = tmp_path / "a.wav"
    good.write_bytes(WAV)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(WAV)
    server = Server()
    paths = [str(good), str(tmp_path / "missing.wav"), str(broken), str(good)]
    out = transcriber(server, language="en", model="whisper-base")(pd.DataFrame({"path": paths}))

    assert list(out.columns) == ["path", "output", "language", "duration", "segments", "error"]
    assert out["output"].tolist() == ["hello", "", "", "hello"]
    assert out["error"][0] == "" and out["error"][3] == ""
    assert out["error"][1].startswith("AudioFileNotFoundError")
    assert out["error"][2].startswith("InternalServerError: decoder crashed")
    assert out["duration"][0] == 2.0 and math.isnan(out["duration"][1])
    assert json.loads(out["segments"][0]) == [{"id": 0, "start": 0.0, "end": 2.0,
                                               "text": "hello"}]
    assert out["segments"][1] == "[]"
    assert b'name="language"\r\n\r\nen' in server.requests[0].content
    assert b'name="model"\r\n\r\nwhisper-base' in server.requests[0].content


def test_transcription_from_bytes_named_like_read_binary_files() -> None:
    server = Server()
    data = np.empty(2, dtype=object)
    data[:] = [WAV, WAV]
    out = transcriber(server, bytes_column="bytes")(
        {"bytes": data, "path": np.array(["s3://bucket/calls/one.wav", "local/two.mp3"])}
    )
    assert out["output"].tolist() == ["hello", "hello"]
    sent = b"".join(r.content for r in server.requests)
    assert b'filename="one.wav"' in sent and b'filename="two.mp3"' in sent


def test_transcription_bytes_with_a_filename_column() -> None:
    data = np.empty(2, dtype=object)
    data[:] = [WAV, WAV]
    out = transcriber(Server(), bytes_column="audio", filename_column="name")(
        {"audio": data, "name": np.array(["x.wav", None], dtype=object)}
    )
    assert out["error"][0] == ""
    assert out["error"][1].startswith("InvalidRequestError: audio bytes need a file name")

