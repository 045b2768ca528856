"""Every cassette is free of credentials and account headers (scans all of tests/cassettes)."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest

from tests.conftest import ACCOUNT_FIELDS, make_vcr

CASSETTES = Path(__file__).parent / "cassettes"
FORBIDDEN = [
    re.compile(rb"(?i)^\s*-?\s*authorization\s*:", re.M),
    re.compile(rb"(?i)\bbearer[ \t]+[A-Za-z0-9_.\-]{6,}"),
    re.compile(rb"(?i)\b(x-)?api-key\s*:"),
    re.compile(rb"(?i)\bset-cookie\s*:"),
    re.compile(rb"(?i)openai-organization|x-account|x-user-id"),
    re.compile(rb"sk-[A-Za-z0-9]{16,}"),
    re.compile(rb"local-dev-key"),
    # An account field's value, in a JSON body or an SSE data line, unless scrubbed.
    re.compile(
        rb'"(?:' + "|".join(ACCOUNT_FIELDS).encode() + rb')"\s*:\s*"(?!REDACTED")'
    ),
]


def _files() -> list[Path]:
    return sorted(p for p in CASSETTES.rglob("*") if p.is_file())


def _read(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(CASSETTES)))
def test_cassette_holds_no_credential(path: Path) -> None:
    text = _read(path)
    for pattern in FORBIDDEN:
        match = pattern.search(text)
        assert match is None, f"{path}: {match.group(0)[:40]!r} must not be recorded"


def test_recorder_strips_credentials_and_account_fields(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Record a real interaction through the project's own VCR policy, then scan the file.

    The request carries a key and account headers; the answer carries account fields in its
    JSON body and in an SSE line. What lands on disk must pass every check above.
    """
    import httpx
    import vcr.cassette

    from tests import conftest

    secret = "sk-live-abcdefghijklmnopqrstu"
    monkeypatch.setattr(conftest, "RECORDING", True)
    monkeypatch.setenv("COMPACTIFAI_API_KEY", secret)
    body = (
        '{"data":[{"user_id":"customer-1","organization":"acme","input_token":1}],'
        f'"echo":"{secret}"}}\n'
        'data: {"email":"someone@example.com","choices":[]}\n\n'
    )

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, text=body, headers={"set-cookie": "session=1", "x-account-id": "acct-9"}
        )

    recorder = make_vcr()
    path = tmp_path / "recorded.yaml"
    # vcrpy wraps httpx's send; the mock transport underneath is what "answers".
    with (
        recorder.use_cassette(str(path)),
        httpx.Client(transport=httpx.MockTransport(answer)) as client,
    ):
        client.get(
            "http://127.0.0.1:9/v1/usage",
            headers={"Authorization": f"Bearer {secret}", "OpenAI-Organization": "acme"},
        )
    text = path.read_bytes()
    assert b"customer-1" not in text and b"acme" not in text and b"someone@" not in text
    assert secret.encode() not in text
    for pattern in FORBIDDEN:
        match = pattern.search(text)
        assert match is None, f"{match.group(0)[:40]!r} was recorded"
    assert vcr.cassette.Cassette.load(path=str(path)) is not None
