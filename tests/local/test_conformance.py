"""The local server against the provider's published OpenAPI document, with schemathesis.

For each operation the server serves (chat, completions, models list and retrieve,
transcriptions), schemathesis draws schema-valid and schema-invalid requests. Every answer must
not be a 5xx, documented answers must match their documented shapes and content types, and
every error must come in one of the service's three shapes (``_envelope``).

Not checked: ``status_code_conformance``. The OpenAPI document declares only 200 and 422, but
the provider's own error guide answers 400 (``{"error": {...}}``), 401, 404 and 500 (a bare
``{"detail": "..."}``); the server answers as the service does (see
/work/shared/reference/real-api/errors.yml), so a 422 matches its declared schema.

Generation is kept tiny: every request that would generate gets ``max_tokens`` of at most 2,
no streaming, and half the chat and completion requests name the served chat model so that
generation really runs. ``COMPACTIFAI_CONFORMANCE_EXAMPLES`` sets the examples per operation
and mode (default 15, about 150 requests).
"""

from __future__ import annotations

import json
import os
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis import checks  # noqa: E402
from schemathesis.generation import GenerationMode  # noqa: E402

from compactifai.local import LocalServer  # noqa: E402

from .support import CHAT_MODEL  # noqa: E402

pytestmark = pytest.mark.local_models

OPENAPI = Path("/work/shared/reference/real-api/openapi.json")
if not OPENAPI.is_file():  # the reference lives in the shared folder next to the repository
    OPENAPI = Path(__file__).resolve().parents[3] / "shared" / "reference" / "real-api" / "openapi.json"
OPERATIONS = [
    ("/v1/models", "GET"),
    ("/v1/models/{model}", "GET"),
    ("/v1/chat/completions", "POST"),
    ("/v1/completions", "POST"),
    ("/v1/audio/transcriptions", "POST"),
]
EXAMPLES = int(os.environ.get("COMPACTIFAI_CONFORMANCE_EXAMPLES", "25"))
CHECKS = [
    checks.not_a_server_error,
    checks.response_schema_conformance,
    checks.content_type_conformance,
]

seen: Counter[str] = Counter()


def _tame(body: Any) -> Any:
    """Small generations only; half the requests name the served model."""
    if not isinstance(body, dict):
        return body
    if "messages" in body or "prompt" in body:
        if zlib.crc32(json.dumps(body, sort_keys=True, default=str).encode()) % 2:
            body["model"] = CHAT_MODEL
        body["stream"] = False
        for key in ("max_tokens", "max_completion_tokens"):
            value = body.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value > 2:
                body[key] = 2
        body.setdefault("max_tokens", 2)
    return body


def _envelope(response: Any) -> None:
    """Every error in one of today's service's three shapes (issue 12 §6): FastAPI's 422
    list, a bare ``{"detail": "..."}`` on 401/404/405/500, the ``{"error": {...}}``
    envelope otherwise."""
    if response.status_code < 400:
        return
    body = response.json()
    if response.status_code == 422:
        assert body["detail"] and all({"loc", "msg", "type"} <= set(p) for p in body["detail"])
        return
    if response.status_code in (401, 404, 405, 500):
        assert set(body) == {"detail"} and isinstance(body["detail"], str) and body["detail"]
        assert "[Errno" not in body["detail"], body
        return
    err = body["error"]
    assert isinstance(err["message"], str) and err["message"], err
    assert err["type"] and err["code"], err
    assert "[Errno" not in err["message"], err


@pytest.mark.skipif(not OPENAPI.is_file(), reason="the published OpenAPI document is not here")
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("path,method", OPERATIONS)
def test_conforms_to_the_published_openapi(
    local_server: LocalServer, path: str, method: str, mode: GenerationMode
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
        case.body = _tame(case.body)
        response = case.call(base_url=base, headers=headers, timeout=60)
        seen[f"{method} {path} {mode.value} {response.status_code}"] += 1
        case.validate_response(response, checks=CHECKS, headers=headers)
        _envelope(response)

    run()
    print(f"\n{method} {path} ({mode.value}):", {k.rsplit(' ', 1)[1]: v for k, v in seen.items()
                                                 if k.startswith(f'{method} {path} {mode.value}')})
