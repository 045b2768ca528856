"""Build the wheel, install it into a fresh venv outside the checkout, and prove it works.

An editable install imports from the checkout, so it cannot see a module that the wheel
leaves out (``compactifai.local.engines`` once was). This script, run by CI, checks the
artifact users actually get:

1. build the wheel from the project's own files;
2. install it with the extras (default ``all``) into a new venv in a temporary folder;
3. from a folder outside the checkout, import every module of the three packages and of the
   ``llama_index.llms.compactifai`` / ``llama_index.readers.compactifai`` namespace portions
   (walked, not listed), check each came from the venv, not from the checkout, and that
   llama-index-core and another LlamaIndex integration installed beside it still import;
4. start ``compactifai-local`` from the venv and ask it for the model list and one short
   chat answer, so the local server's engines load from the installed files.

Example:
    python scripts/check_wheel.py            # extras "all"
    python scripts/check_wheel.py --extras langchain,llama-index,local
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "compactifai",
    "langchain_compactifai",
    "llama_index_compactifai",
    "llama_index.llms.compactifai",
    "llama_index.readers.compactifai",
)
#: Another LlamaIndex integration installed beside ours: the llama_index.llms namespace must
#: keep both importable (ours ships no __init__.py in llama_index/ or llama_index/llms/).
NEIGHBOUR = "llama-index-llms-openai-like"
NEIGHBOUR_IMPORTS = ("llama_index.core", "llama_index.llms.openai_like")
LOCAL_KEY = "wheel-check-key"

# Run inside the fresh venv: import every module, report where each came from.
_WALK = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys
    seen, failed = {}, {}
    for top in sys.argv[1:]:
        pkg = importlib.import_module(top)
        seen[top] = pkg.__file__
        for info in pkgutil.walk_packages(pkg.__path__, top + "."):
            try:
                seen[info.name] = importlib.import_module(info.name).__file__
            except Exception as exc:  # report every failure, not only the first
                failed[info.name] = f"{type(exc).__name__}: {exc}"
    for name in NEIGHBOURS:
        try:
            importlib.import_module(name)
        except Exception as exc:
            failed[name] = f"{type(exc).__name__}: {exc}"
    print(json.dumps({"seen": seen, "failed": failed}))
    """
)


def _run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    shown = [arg if "\n" not in arg else "<script>" for arg in cmd]
    print("$", " ".join(shown), flush=True)
    return subprocess.run(cmd, check=True, text=True, **kwargs)  # type: ignore[call-overload,no-any-return]


def build_wheel(out: Path) -> Path:
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(ROOT)])
    wheels = sorted(out.glob("compactifai_integrations-*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"expected one wheel in {out}, found {wheels}")
    return wheels[0]


def make_venv(where: Path, wheel: Path, extras: str) -> Path:
    _run([sys.executable, "-m", "venv", str(where)])
    python = where / "bin" / "python"
    env = {**os.environ, "CMAKE_ARGS": os.environ.get("CMAKE_ARGS", "-DLLAVA_BUILD=OFF")}
    target = f"{wheel}[{extras}]" if extras else str(wheel)
    _run([str(python), "-m", "pip", "install", "--quiet", target, NEIGHBOUR], env=env)
    return python


def check_imports(python: Path, venv: Path, cwd: Path) -> int:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    walk = f"NEIGHBOURS = {NEIGHBOUR_IMPORTS!r}\n" + _WALK
    out = _run([str(python), "-c", walk, *PACKAGES], cwd=cwd, env=env, capture_output=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    seen: dict[str, str] = report["seen"]
    failed: dict[str, str] = report["failed"]
    outside = {name: path for name, path in seen.items() if not path.startswith(str(venv))}
    if failed or outside:
        for name, why in failed.items():
            print(f"  cannot import {name}: {why}")
        for name, path in outside.items():
            print(f"  {name} came from {path}, not from the installed wheel")
        raise SystemExit("the installed wheel is incomplete")
    # The engines are the module a hand-written package list once dropped.
    if "compactifai.local.engines.llama" not in seen:
        raise SystemExit("compactifai.local.engines.llama was not found in the wheel")
    print(f"imported {len(seen)} modules from the wheel")
    return len(seen)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _call(url: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url,
        data=data,
        headers={"Authorization": f"Bearer {LOCAL_KEY}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def check_local_server(venv: Path, cwd: Path, timeout: float = 120.0) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}/v1"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["HF_HUB_OFFLINE"] = "1"
    cmd = [str(venv / "bin" / "compactifai-local"), "--port", str(port), "--api-key", LOCAL_KEY]
    print("$", " ".join(cmd), flush=True)
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    raise SystemExit(f"compactifai-local exited:\n{log.read().decode()[-3000:]}")
                try:
                    models = _call(f"{base}/models")
                    break
                except (urllib.error.URLError, ConnectionError):
                    if time.monotonic() > deadline:
                        raise SystemExit("compactifai-local did not answer in time") from None
                    time.sleep(0.5)
            ids = [m["id"] for m in models["data"]]
            answer = _call(
                f"{base}/chat/completions",
                {"model": ids[0], "messages": [{"role": "user", "content": "Hi"}],
                 "max_tokens": 4, "temperature": 0},
            )
            text = answer["choices"][0]["message"]["content"]
            print(f"compactifai-local from the wheel serves {ids}; chat answered {text!r}")
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extras", default="all", help="extras to install (default: all)")
    parser.add_argument("--no-server", action="store_true", help="skip the local server check")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wheel-check-") as tmp:
        work = Path(tmp)
        wheel = build_wheel(work / "dist")
        print(f"built {wheel.name}")
        venv = work / "venv"
        python = make_venv(venv, wheel, args.extras)
        outside = work / "elsewhere"
        outside.mkdir()
        check_imports(python, venv, outside)
        if not args.no_server:
            check_local_server(venv, outside)
    print("wheel check passed")


if __name__ == "__main__":
    main()
