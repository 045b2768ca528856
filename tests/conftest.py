"""Test configuration shared by every suite: the cassette (vcrpy) setup lives here, once.

Replay is the default and the only mode CI knows: a request that no cassette holds fails the
test. Recording happens only when ``COMPACTIFAI_RECORD=1`` (``scripts/record_cassettes.py``
sets it, against the local server or, with a real key, the real API).

Before anything is written to a cassette:
- credentials and account headers are removed from requests and responses;
- the server's address is replaced by ``https://compactifai.test`` so a cassette recorded
  against the local server on any port replays for any ``base_url``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

RECORDING = os.environ.get("COMPACTIFAI_RECORD") == "1"
CASSETTES = Path(__file__).parent / "cassettes"
CANONICAL_ORIGIN = "https://compactifai.test"
#: The key replayed tests use; recording uses the real (or local server's) key from the env.
REPLAY_API_KEY = "replay-key-not-a-secret"
REPLAY_BASE_URL = "http://127.0.0.1:8765/v1"

_REQUEST_HEADERS_DROPPED = (
    "authorization",
    "api-key",
    "x-api-key",
    "cookie",
    "openai-organization",
    "openai-project",
)
_RESPONSE_HEADER_PATTERN = re.compile(
    r"set-cookie|cookie|organization|account|project|user|api-key|authorization", re.I
)
#: Body fields that name an account: their values never reach a cassette, whichever server
#: was recorded (the real service's usage rows carry ``user_id``; the local server derives
#: one from the key). Matched on the text, so JSON bodies and SSE ``data:`` lines alike.
ACCOUNT_FIELDS = (
    "user_id", "account_id", "organization", "organization_id", "project_id", "email",
    "app_id",
)
_ACCOUNT_VALUE = re.compile(
    r'("(?:' + "|".join(ACCOUNT_FIELDS) + r')"\s*:\s*)"(?:[^"\\]|\\.)*"'
)
_ORIGIN = re.compile(r"^https?://[^/]+")
_BOUNDARY = re.compile(rb"boundary=([0-9A-Za-z'()+_,./:=?-]+)")



@pytest.fixture(autouse=True)
def _pinned_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """In replay, tests never depend on the developer's shell: pin the key and URL they use.

    A fixture (not a module-level assignment) so the pin covers the tests below ``tests/``
    only, never the notebooks, whose kernels must see the real environment.
    """
    if not RECORDING:
        monkeypatch.setenv("COMPACTIFAI_API_KEY", REPLAY_API_KEY)
        monkeypatch.setenv("COMPACTIFAI_BASE_URL", REPLAY_BASE_URL)


def _secret_values() -> list[str]:
    key = os.environ.get("COMPACTIFAI_API_KEY", "")
    return [key] if RECORDING and len(key) >= 6 else []


def scrub_body(text: str) -> str:
    """Remove the recording key and every account field's value from a response body."""
    for secret in _secret_values():
        text = text.replace(secret, "REDACTED")
    return _ACCOUNT_VALUE.sub(r'\1"REDACTED"', text)


def _before_record_request(request: Any) -> Any:
    request.uri = _ORIGIN.sub(CANONICAL_ORIGIN, request.uri)
    for name in list(request.headers):
        if name.lower() in _REQUEST_HEADERS_DROPPED:
            del request.headers[name]
    return request


def _before_record_response(response: dict[str, Any]) -> dict[str, Any]:
    headers = response.get("headers", {})
    for name in list(headers):
        if _RESPONSE_HEADER_PATTERN.search(name):
            del headers[name]
    body = response.get("body", {})
    if isinstance(body.get("string"), (bytes, str)):
        raw = body["string"]
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        scrubbed = scrub_body(text)
        if scrubbed != text:
            body["string"] = scrubbed.encode() if isinstance(raw, bytes) else scrubbed
    return response


def _normalized_body(request: Any) -> Any:
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode()
    ctype = request.headers.get("Content-Type") or request.headers.get("content-type") or ""
    if "multipart/form-data" in ctype:
        match = _BOUNDARY.search(ctype.encode())
        if match:
            body = body.replace(match.group(1), b"BOUNDARY")
        return body
    try:
        return json.loads(body) if body else None
    except ValueError:
        return body


def _body_matcher(r1: Any, r2: Any) -> None:
    if _normalized_body(r1) != _normalized_body(r2):
        raise AssertionError("request bodies differ")


def vcr_settings() -> dict[str, Any]:
    """Keyword arguments for ``vcr.VCR``: the one cassette policy of the project."""
    return {
        "record_mode": "all" if RECORDING else "none",
        "cassette_library_dir": str(CASSETTES),
        "before_record_request": _before_record_request,
        "before_record_response": _before_record_response,
        "match_on": ["method", "scheme", "host", "port", "path", "query", "compactifai_body"],
        "decode_compressed_response": True,
        "serializer": "yaml",
    }


def make_vcr() -> Any:
    import vcr

    recorder = vcr.VCR(**vcr_settings())
    recorder.register_matcher("compactifai_body", _body_matcher)
    return recorder


def cassette_path(request: pytest.FixtureRequest) -> str:
    """``<test module path below tests/>/<test name>.yaml``, stable across machines."""
    module = Path(request.node.path).resolve().relative_to(Path(__file__).parent)
    name = re.sub(r"[^0-9A-Za-z_.-]+", "_", request.node.name)
    cls = request.node.cls.__name__ + "." if request.node.cls else ""
    return str(module.with_suffix("") / f"{cls}{name}.yaml")


@pytest.fixture
def cassette(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Wrap the test in its own cassette: replayed, or recorded when COMPACTIFAI_RECORD=1."""
    # Re-recording replaces a cassette: interactions this run no longer makes are dropped.
    with make_vcr().use_cassette(cassette_path(request), drop_unused_requests=RECORDING) as tape:
        yield tape
        if not RECORDING:
            # A recorded interaction the test no longer makes is stale: re-record or prune it.
            unplayed = [
                f"#{index} {r.method} {r.path}"
                for index, (r, _) in enumerate(tape.data)
                if not tape.play_counts[index]
            ]
            assert not unplayed, f"{cassette_path(request)} holds unplayed requests: {unplayed}"


@pytest.fixture(scope="session")
def vcr_config() -> dict[str, Any]:
    """For pytest-recording and langchain-tests: the same policy, never "once"."""
    settings = vcr_settings()
    settings["match_on"] = ["method", "scheme", "host", "port", "path", "query", "body"]
    return settings


@pytest.fixture
def api_key() -> str:
    return os.environ["COMPACTIFAI_API_KEY"]


@pytest.fixture
def base_url() -> str:
    return os.environ["COMPACTIFAI_BASE_URL"]
