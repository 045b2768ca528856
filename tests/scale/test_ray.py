"""Ray Data end to end: a few hundred prompts through ``ChatBatch`` against the local server.

About 5% of the rows ask the server for a fault on their first attempt only (500, 503, 429,
a dropped connection): the transport retries them and they succeed. A few ask for a 500 on
every attempt and one has no prompt: those are recorded in the ``error`` column. Every row
comes back exactly once.

The key and URL reach the workers through ``runtime_env`` environment variables, never
through the dataset or the constructor arguments. Needs ray[data] and the local server's
real model; select with ``-m ray`` (it also carries ``local_models``). About a minute on two
busy cores.
"""

from __future__ import annotations

import importlib.util
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("ray.data", reason="needs ray[data]")
if not all(importlib.util.find_spec(m) for m in ("starlette", "uvicorn", "llama_cpp")):
    pytest.skip("needs the local server's extra (llama-cpp-python)", allow_module_level=True)

import ray

from compactifai.batch import ChatBatch
from compactifai.local import LocalServer

pytestmark = [pytest.mark.ray, pytest.mark.local_models]

MODEL = "smollm2-135m-instruct"
ROWS = 200
#: Rows whose first attempt fails (X-Fault-Times: 1): 10 of 200, i.e. 5%.
TRANSIENT = {i: ("500", "503", "429", "drop")[n % 4] for n, i in enumerate(range(3, ROWS, 20))}
#: Rows that fail on every attempt: recorded as errors after the retries.
PERSISTENT = {17, 111, 196}
#: A row with no prompt: refused before sending, recorded.
NO_PROMPT = 150


class OneThreadServer(LocalServer):
    """The local server with one llama.cpp thread: far steadier on a shared two-core box."""

    def command(self) -> list[str]:
        return [*super().command(), "--threads", "1"]


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with OneThreadServer(enable_faults=True, startup_timeout=90) as srv:
        yield srv


@pytest.fixture(scope="module")
def ray_cluster(server: LocalServer) -> Iterator[None]:
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        # The secret goes to the workers' environment, not into the data or the task.
        runtime_env={
            "env_vars": {
                "COMPACTIFAI_API_KEY": server.api_key,
                "COMPACTIFAI_BASE_URL": server.base_url,
            }
        },
    )
    ray.data.DataContext.get_current().enable_progress_bars = False
    try:
        yield
    finally:
        ray.shutdown()


def _rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for i in range(ROWS):
        fault = ""
        if i in TRANSIENT:
            fault = json.dumps(
                {"X-Fault": TRANSIENT[i], "X-Fault-Id": f"ray-row-{i}", "X-Fault-Times": "1"}
            )
        elif i in PERSISTENT:
            fault = json.dumps({"X-Fault": "500"})
        prompt = None if i == NO_PROMPT else f"Review {i}: 'works well'. Positive?"
        rows.append({"id": i, "prompt": prompt, "fault": fault})
    return rows


def test_chat_batch_on_ray_accounts_for_every_row(ray_cluster: None) -> None:
    started = time.perf_counter()
    ds = ray.data.from_items(_rows(), override_num_blocks=8).map_batches(
        ChatBatch,
        fn_constructor_kwargs={
            "model": MODEL,
            "headers_column": "fault",
            "max_concurrency": 8,
            "max_retries": 2,
            "max_tokens": 4,
            "temperature": 0,
        },
        compute=ray.data.ActorPoolStrategy(size=2),  # Ray < 2.51: concurrency=2
        num_cpus=0.5,  # waiting on the network, not computing
        batch_size=25,
    )
    out = ds.to_pandas().set_index("id").sort_index()
    elapsed = time.perf_counter() - started

    assert out.index.tolist() == list(range(ROWS))  # every row, exactly once
    assert set(out.columns) >= {
        "prompt", "fault", "output", "finish_reason", "prompt_tokens", "completion_tokens",
        "error",
    }
    failed = {i for i, e in out["error"].items() if e}
    assert failed == PERSISTENT | {NO_PROMPT}, {i: out.at[i, "error"] for i in failed}
    for i in PERSISTENT:
        assert out.at[i, "error"].startswith("InternalServerError: "), out.at[i, "error"]
        assert out.at[i, "output"] == "" and out.at[i, "prompt_tokens"] == 0
    assert out.at[NO_PROMPT, "error"].startswith("InvalidRequestError: ")

    answered = out.drop(index=sorted(failed))
    assert set(TRANSIENT) <= set(answered.index)  # faulted once, retried, answered
    assert (answered["prompt_tokens"] > 0).all()
    assert answered["completion_tokens"].between(1, 4).all()
    assert answered["finish_reason"].isin(["stop", "length"]).all()
    print(f"\n{ROWS} rows through Ray in {elapsed:.1f}s ({ROWS / elapsed:.1f} rows/s)")
