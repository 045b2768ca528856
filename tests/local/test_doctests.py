"""The runnable examples in the local server's docstrings run (doctest)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "compactifai.local.app",
    "compactifai.local.auth",
    "compactifai.local.calibrate",
    "compactifai.local.chat",
    "compactifai.local.errors",
    "compactifai.local.limits",
    "compactifai.local.markup",
    "compactifai.local.prompt",
    "compactifai.local.state",
    "compactifai.local.streaming",
    "compactifai.local.tool_choice",
    "compactifai.local.usage_store",
    "compactifai.local._sqlite",
    "compactifai.local.wire",
    "compactifai.local.engines.llama",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    pytest.importorskip("starlette")
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0, f"{name} has no runnable example"
