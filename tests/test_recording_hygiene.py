"""Every cassette is free of credentials and account headers (scans all of tests/cassettes)."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest

CASSETTES = Path(__file__).parent / "cassettes"
FORBIDDEN = [
    re.compile(rb"(?i)^\s*-?\s*authorization\s*:", re.M),
    re.compile(rb"(?i)\bbearer[ \t]+[A-Za-z0-9_.\-]{6,}"),
    re.compile(rb"(?i)\b(x-)?api-key\s*:"),
    re.compile(rb"(?i)\bset-cookie\s*:"),
    re.compile(rb"(?i)openai-organization|x-account|x-user-id"),
    re.compile(rb"sk-[A-Za-z0-9]{16,}"),
    re.compile(rb"local-dev-key"),
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


def test_the_scan_finds_a_planted_key(tmp_path: Path) -> None:
    planted = b"request:\n  headers:\n    Authorization:\n    - Bearer sk-abcdefghijklmnopqrstu\n"
    assert any(p.search(planted) for p in FORBIDDEN)
