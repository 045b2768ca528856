"""README's python blocks run as written against the local server, so README cannot rot.

Each ```python block of README.md runs in a fresh interpreter, from the repository's root, with
the environment README tells the reader to set (the ``export`` line it shows: the local server's
URL and key) and no other ``COMPACTIFAI_*`` variable, against a local server started here.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
#: The ``export`` line README gives the reader (inside a ```bash block).
EXPORT = re.compile(r"^export (COMPACTIFAI_\w+=\S+(?: COMPACTIFAI_\w+=\S+)*)\s*$", re.MULTILINE)


def readme_blocks() -> list[tuple[str, str]]:
    """(name, code) of every python block, named by the section it sits in."""
    text = README.read_text(encoding="utf-8")
    blocks = []
    for match in BLOCK.finditer(text):
        headings = re.findall(r"^## (.+)$", text[: match.start()], re.MULTILINE)
        name = re.sub(r"\W+", "-", headings[-1].lower()).strip("-") if headings else "top"
        blocks.append((name, match.group(1)))
    return blocks


def readme_environment() -> dict[str, str]:
    """The variables README's ``export`` line sets, as README writes them."""
    found = EXPORT.findall(README.read_text(encoding="utf-8"))
    assert len(set(found)) == 1, f"README should show one export line, found {found}"
    return dict(pair.split("=", 1) for pair in shlex.split(found[0]))


def test_readme_has_the_snippets_and_tells_two_variables() -> None:
    names = [name for name, _ in readme_blocks()]
    assert {"transport-quickstart", "langchain", "llamaindex"} <= set(names)
    assert set(readme_environment()) == {"COMPACTIFAI_BASE_URL", "COMPACTIFAI_API_KEY"}


def test_snippets_name_no_model_and_need_no_top_level_await() -> None:
    for name, code in readme_blocks():
        assert not re.search(r"^\s*(await|async for|async with)\b", code, re.MULTILINE) or (
            "async def" in code
        ), name
        compile(code, f"README.md:{name}", "exec")  # top-level await would not compile
        assert 'model="' not in code and "model='" not in code, (
            f"{name}: read the model from default_chat_model() / COMPACTIFAI_MODEL"
        )


def _engines_installed() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("llama_cpp", "faster_whisper"))


@pytest.fixture(scope="module")
def readme_server() -> Iterator[dict[str, str]]:
    """A local server on README's port if free (else any port), and README's variables for it."""
    if not _engines_installed():
        pytest.skip("needs llama-cpp-python and faster-whisper (the local extra)")
    from compactifai.local import LocalServer

    told = readme_environment()
    with LocalServer(api_key=told["COMPACTIFAI_API_KEY"], startup_timeout=120) as server:
        yield {
            "COMPACTIFAI_BASE_URL": server.base_url,
            "COMPACTIFAI_API_KEY": told["COMPACTIFAI_API_KEY"],
        }


def _clean_environment(told: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPACTIFAI_")}
    env.pop("PYTHONPATH", None)  # the snippet sees the installed package, as a reader's would
    env.update(told)
    return env


#: Run before each snippet (which then runs as written): a withdrawn model id fails it.
STRICT = (
    "import warnings\n"
    "from compactifai import ModelWithdrawnWarning\n"
    "warnings.simplefilter('error', ModelWithdrawnWarning)\n"
)


@pytest.mark.local_models
@pytest.mark.parametrize(("name", "code"), readme_blocks(), ids=[n for n, _ in readme_blocks()])
def test_the_snippet_runs_as_written(name: str, code: str, readme_server: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", STRICT + code],
        cwd=ROOT,
        env=_clean_environment(readme_server),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, f"README's {name} block failed:\n{done.stderr[-3000:]}"
    assert done.stdout.strip(), f"README's {name} block printed nothing"
    assert "Traceback" not in done.stderr


# ---------------------------------------------------------------- the demo README describes

DEMO = ROOT / "scripts" / "demo.py"


def test_readme_says_what_the_demo_does() -> None:
    demo = DEMO.read_text(encoding="utf-8")
    readme = README.read_text(encoding="utf-8")
    # The source label is the retrieval's, printed by the demo: README must not claim the
    # model cites it.
    assert "attached by this script" in demo
    assert "attached by the demo's code" in readme
    # Nothing forces the agent's tool call: no initial_tool_choice, no tool_required.
    assert "initial_tool_choice" not in demo and "tool_required" not in demo
    assert "nothing forces the" in readme.replace("\n", " ")
    # The demo's extra is what README's first command installs.
    assert 'pip install -e ".[demo]" && python scripts/demo.py' in readme


@pytest.mark.local_models
def test_the_demo_runs_with_the_demo_extra_only() -> None:
    """scripts/demo.py end to end, without a key (the local server), importing nothing from the
    extras README's first command does not install (Ray, pandas, the dev tools)."""
    if not _engines_installed():
        pytest.skip("needs llama-cpp-python and faster-whisper (the local extra)")
    guard = (
        "import sys\n"
        "class _Refuse:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.partition('.')[0] in {'ray', 'pandas', 'pytest', 'httpx_aiohttp'}:\n"
        "            raise ImportError(f'{name} is not in the demo extra')\n"
        "sys.meta_path.insert(0, _Refuse())\n"
        f"sys.argv = [{str(DEMO)!r}]\n"
        f"exec(compile(open({str(DEMO)!r}).read(), {str(DEMO)!r}, 'exec'), "
        "{'__name__': '__main__', '__file__': " + repr(str(DEMO)) + "})\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", guard],
        cwd=ROOT,
        env=_clean_environment({}),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    for step in (
        "1. Model catalogue",
        "2. LangChain RAG",
        "3. LlamaIndex FunctionAgent",
        "4. Audio as timestamped Documents",
        "local server stopped",
        "done in",
    ):
        assert step in out, step
    assert "source (retrieved by BM25, attached by this script): [headquarters]" in out
