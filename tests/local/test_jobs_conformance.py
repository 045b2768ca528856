"""``/v1/files``, ``/v1/batches`` and ``/v1/responses`` against the published OpenAPI document.

Like ``test_conformance.py`` for the other routes: schemathesis draws schema-valid and
schema-invalid requests for each operation; no answer may be a 5xx, documented answers (200,
201 and 422) must match their documented shapes and content types, and every other error must
be one of the service's three shapes. Half the drawn ids are replaced by ids that exist (an
uploaded batch file, a batch, a stored response), so the success paths are drawn too.
"""

from __future__ import annotations

import json
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis import checks  # noqa: E402
from schemathesis.generation import GenerationMode  # noqa: E402

from compactifai.local import LocalServer  # noqa: E402

from .support import CHAT_MODEL  # noqa: E402

pytestmark = pytest.mark.local_models

OPENAPI = Path("/work/shared/reference/real-api/openapi.json")
if not OPENAPI.is_file():
    OPENAPI = (
        Path(__file__).resolve().parents[3] / "shared" / "reference" / "real-api" / "openapi.json"
    )
OPERATIONS = [
    ("/v1/files", "POST"),
    ("/v1/files/{file_id}/content", "GET"),
    ("/v1/batches", "POST"),
    ("/v1/batches", "GET"),
    ("/v1/batches/{batch_id}", "GET"),
    ("/v1/batches/{batch_id}/cancel", "POST"),
    ("/v1/responses", "POST"),
    ("/v1/responses/{response_id}", "GET"),
]
EXAMPLES = 12
CHECKS = [
    checks.not_a_server_error,
    checks.response_schema_conformance,
    checks.content_type_conformance,
]
seen: Counter[str] = Counter()


@pytest.fixture(scope="module")
def known(local_server: LocalServer) -> dict[str, str]:
    """Ids that exist: a batch input file, a batch, a stored response."""
    with httpx.Client(
        base_url=local_server.base_url,
        headers={"Authorization": f"Bearer {local_server.api_key}"},
        timeout=120,
    ) as http:
        line = {
            "custom_id": "c",
            "method": "POST",
            "url": "/v1/completions",
            "body": {"model": CHAT_MODEL, "prompt": "1, 2,", "max_tokens": 2},
        }
        file_id = http.post(
            "/files",
            files={"file": ("in.jsonl", json.dumps(line).encode() + b"\n")},
            data={"purpose": "batch"},
        ).json()["id"]
        batch_id = http.post(
            "/batches",
            json={
                "input_file_id": file_id,
                "endpoint": "/v1/completions",
                "completion_window": "24h",
            },
        ).json()["id"]
        response_id = http.post(
            "/responses",
            json={"model": CHAT_MODEL, "input": "Hi", "max_output_tokens": 2, "store": True},
        ).json()["id"]
    return {"file_id": file_id, "batch_id": batch_id, "response_id": response_id}


def _pick(value: Any) -> bool:
    return zlib.crc32(json.dumps(value, sort_keys=True, default=str).encode()) % 2 == 1


def _tame(case: Any, known: dict[str, str]) -> None:
    """Real ids half the time; tiny generations only."""
    params = case.path_parameters or {}
    for name in ("file_id", "batch_id", "response_id"):
        if name in params and _pick(params):
            params[name] = known[name]
    body = case.body
    if isinstance(body, dict):
        if "input_file_id" in body and _pick(body):
            body["input_file_id"] = known["file_id"]
        if "input" in body:
            if _pick(body):
                body["model"] = CHAT_MODEL
            body["stream"] = False
            value = body.get("max_output_tokens")
            if not (isinstance(value, int) and not isinstance(value, bool) and value <= 2):
                body["max_output_tokens"] = 2


def _shape(response: Any) -> None:
    if response.status_code < 400:
        return
    payload = response.json()
    if response.status_code == 422:
        assert isinstance(payload["detail"], list) and payload["detail"], payload
        for item in payload["detail"]:
            assert {"loc", "msg", "type"} <= set(item), item
        return
    if "detail" in payload:
        assert response.status_code in (401, 404) and isinstance(payload["detail"], str), payload
        return
    err = payload["error"]
    assert err["message"] and err["type"] and err["code"], err


@pytest.mark.skipif(not OPENAPI.is_file(), reason="the published OpenAPI document is not here")
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("path,method", OPERATIONS)
def test_jobs_routes_conform_to_the_published_openapi(
    local_server: LocalServer,
    known: dict[str, str],
    path: str,
    method: str,
    mode: GenerationMode,
) -> None:
    schema = schemathesis.openapi.from_path(str(OPENAPI))
    operation = schema[path][method]
    base = local_server.base_url.removesuffix("/v1")
    headers = {"Authorization": f"Bearer {local_server.api_key}"}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        _tame(case, known)
        response = case.call(base_url=base, headers=headers, timeout=60)
        seen[f"{method} {path} {mode.value} {response.status_code}"] += 1
        case.validate_response(response, checks=CHECKS, headers=headers)
        _shape(response)

    run()
    print(
        f"\n{method} {path} ({mode.value}):",
        {
            k.rsplit(" ", 1)[1]: v
            for k, v in seen.items()
            if k.startswith(f"{method} {path} {mode.value}")
        },
    )
