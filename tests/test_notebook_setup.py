"""The notebooks reach the real, billed service only on an explicit opt-in.

Each notebook's first code cell is executed as committed, with ``LocalServer`` replaced by a
fake that records whether it was started: a key left in the environment must not be enough.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
OPT_IN = "COMPACTIFAI_NOTEBOOKS_USE_REAL_API"


def _setup_cell(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and "LocalServer" in source:
            return source
    raise AssertionError(f"{path.name} has no setup cell that starts the local server")


class _FakeServer:
    started = 0
    base_url = "http://127.0.0.1:1/v1"
    api_key = "local-fake"

    def start(self) -> _FakeServer:
        type(self).started += 1
        return self


def _run_setup(path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    import compactifai.local

    _FakeServer.started = 0
    monkeypatch.setattr(compactifai.local, "LocalServer", _FakeServer)
    namespace: dict[str, Any] = {}
    exec(compile(_setup_cell(path), str(path), "exec"), namespace)
    return namespace


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_key_in_the_environment_is_not_an_opt_in(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMPACTIFAI_API_KEY", "sk-real-key-of-the-developer")
    monkeypatch.delenv(OPT_IN, raising=False)
    namespace = _run_setup(path, monkeypatch)
    assert namespace["LOCAL"] is True
    assert _FakeServer.started == 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_opt_in_uses_the_real_service(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPACTIFAI_API_KEY", "sk-real-key-of-the-developer")
    monkeypatch.setenv(OPT_IN, "1")
    namespace = _run_setup(path, monkeypatch)
    assert namespace["LOCAL"] is False
    assert _FakeServer.started == 0


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_opt_in_without_a_key_says_what_is_missing(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COMPACTIFAI_API_KEY", raising=False)
    monkeypatch.setenv(OPT_IN, "1")
    with pytest.raises(RuntimeError, match="COMPACTIFAI_API_KEY"):
        _run_setup(path, monkeypatch)
