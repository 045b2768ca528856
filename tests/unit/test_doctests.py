"""The runnable examples in the transport's docstrings run (doctest)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "compactifai._audio_split",
    "compactifai._catalogue",
    "compactifai._checks",
    "compactifai._client",
    "compactifai._closing",
    "compactifai._config",
    "compactifai._errors",
    "compactifai._jobs_api",
    "compactifai._ratelimit",
    "compactifai._requests",
    "compactifai._sse",
    "compactifai._streams",
    "compactifai._subtitles",
    "compactifai._tokens",
    "compactifai._wire",
    "compactifai.batch_jobs",
    "compactifai.transcripts",
    "compactifai.types",
    "compactifai.types_jobs",
    "compactifai.usage_tally",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The examples show the defaults a user without these variables gets.
    monkeypatch.delenv("COMPACTIFAI_BASE_URL", raising=False)
    monkeypatch.delenv("COMPACTIFAI_API_KEY", raising=False)
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0, f"{name} has no runnable example"
