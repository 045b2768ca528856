"""No example a reader copies names a model the service withdrew (issue: today's service §1).

README, docs, notebooks and every docstring of the three packages are scanned for the ids in
:data:`compactifai._catalogue.WITHDRAWN_MODELS`. The places that name a withdrawn id on purpose
(the table itself, the error that explains a withdrawal, the local server's alias for the old
Whisper id) are listed below with their reason; anything else fails.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from compactifai._catalogue import WITHDRAWN_MODELS

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("shared/compactifai", "langchain_compactifai", "llama_index_compactifai", "llama_index")

#: Files that name withdrawn ids on purpose, and why.
ON_PURPOSE = {
    "shared/compactifai/_catalogue.py": "the table that marks them withdrawn",
    "shared/compactifai/_errors.py": "the error that says a model was withdrawn, and its example",
    "shared/compactifai/local/catalogue.py": "the local server answers to the old Whisper id",
}

_ID = re.compile(
    r"(?<![\w.-])("
    + "|".join(re.escape(m) for m in sorted(WITHDRAWN_MODELS, key=len, reverse=True))
    + r")(?![\w.-])"
)


def _docstrings(path: Path) -> str:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    texts = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(node, clean=False)
            if doc:
                texts.append(doc)
    return "\n".join(texts)


def _reader_facing_texts() -> list[tuple[str, str]]:
    texts = [("README.md", (ROOT / "README.md").read_text(encoding="utf-8"))]
    texts += [
        (str(p.relative_to(ROOT)), p.read_text(encoding="utf-8"))
        for p in sorted((ROOT / "docs").glob("*.md"))
    ]
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        texts.append((str(nb.relative_to(ROOT)), "\n".join("".join(c["source"]) for c in cells)))
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = str(path.relative_to(ROOT))
            if name not in ON_PURPOSE:
                texts.append((name, _docstrings(path)))
    for script in ("scripts/demo.py", "scripts/build_notebooks.py"):
        texts.append((script, (ROOT / script).read_text(encoding="utf-8")))
    return texts


def test_the_scan_finds_a_withdrawn_id_where_it_is_planted() -> None:
    assert _ID.findall("model='cai-llama-3-1-8b-slim' and whisper-large-v3")
    assert not _ID.findall("cai-whisper-large-v3-turbo-slim")


_TEXTS = _reader_facing_texts()


@pytest.mark.parametrize(("name", "text"), _TEXTS, ids=[name for name, _ in _TEXTS])
def test_no_reader_facing_text_names_a_withdrawn_model(name: str, text: str) -> None:
    found = sorted(set(_ID.findall(text)))
    assert not found, f"{name} names withdrawn model(s) {found}: use default_chat_model()"
