"""Docstring examples of both integration packages: their imports work, their doctests pass.

Every ``from X import A, B`` (or ``import X``) line in a docstring of ``langchain_compactifai``
or ``llama_index_compactifai`` -- in ``>>>`` examples and in ``code-block`` examples alike --
must import from where the docstring says; the ``>>>`` examples run as doctests.
"""

from __future__ import annotations

import ast
import doctest
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

PACKAGES = ["langchain_compactifai", "llama_index_compactifai"]

_FROM = re.compile(r"^\s*(?:>>>|\.\.\.)?\s*from\s+([\w.]+)\s+import\s+\(?([\w\s,]+?)\)?\s*$")
_IMPORT = re.compile(r"^\s*(?:>>>|\.\.\.)?\s*import\s+([\w.]+(?:\s*,\s*[\w.]+)*)\s*$")


def _modules(package: str) -> list[str]:
    pkg = importlib.import_module(package)
    names = [package]
    for info in pkgutil.iter_modules(pkg.__path__):
        names.append(f"{package}.{info.name}")
    return names


def _docstrings(module_name: str) -> list[tuple[str, str]]:
    """(where, docstring) for the module and every class and function defined in it."""
    path = importlib.import_module(module_name).__file__
    assert path is not None
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    out = []
    for node in [tree, *ast.walk(tree)]:
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(node, clean=False)
            if doc:
                out.append((f"{module_name}:{getattr(node, 'name', '<module>')}", doc))
    return out


def docstring_imports(package: str) -> list[tuple[str, str, str | None]]:
    """(where, module, name) for every import in the package's docstrings (name None for
    ``import module``)."""
    found: list[tuple[str, str, str | None]] = []
    for module_name in _modules(package):
        for where, doc in _docstrings(module_name):
            for line in doc.splitlines():
                if m := _FROM.match(line):
                    for name in m.group(2).split(","):
                        name = name.strip().split(" as ")[0].strip()
                        if name:
                            found.append((where, m.group(1), name))
                elif m := _IMPORT.match(line):
                    found += [(where, mod.strip(), None) for mod in m.group(1).split(",")]
    return sorted(set(found))


@pytest.mark.parametrize("package", PACKAGES)
def test_every_name_a_docstring_imports_is_importable(package: str) -> None:
    imports = docstring_imports(package)
    assert any(mod.startswith(package) for _, mod, _ in imports)
    missing = []
    for where, module, name in imports:
        try:
            mod = importlib.import_module(module)
            if name is not None and name != "*":
                getattr(mod, name)
        except (ImportError, AttributeError) as exc:
            missing.append(f"{where}: from {module} import {name}: {exc}")
    assert not missing, "\n".join(missing)


def test_the_transcript_reader_is_exported() -> None:
    from llama_index_compactifai import CompactifAITranscriptReader
    from llama_index_compactifai.readers import CompactifAITranscriptReader as Defined

    assert CompactifAITranscriptReader is Defined
    import llama_index_compactifai

    assert "CompactifAITranscriptReader" in llama_index_compactifai.__all__
    assert "CompactifAITranscriptReader" in dir(llama_index_compactifai)


@pytest.mark.parametrize(
    "module", [m for p in PACKAGES for m in _modules(p)]
)
def test_docstring_examples_run(module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMPACTIFAI_BASE_URL", raising=False)
    monkeypatch.delenv("COMPACTIFAI_API_KEY", raising=False)
    result = doctest.testmod(
        importlib.import_module(module), optionflags=doctest.ELLIPSIS, verbose=False
    )
    assert result.failed == 0
