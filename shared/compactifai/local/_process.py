"""``LocalServer``: run ``python -m compactifai.local`` as a subprocess (tests, notebooks, demos).

Example:
    >>> from compactifai.local import LocalServer
    >>> with LocalServer() as server:  # doctest: +SKIP
    ...     print(server.base_url)      # http://127.0.0.1:<free port>/v1
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from ._settings import DEFAULT_API_KEY, DEFAULT_HOST

__all__ = ["LocalServer", "LocalServerError", "free_port"]

# shared/compactifai/local/_process.py -> shared/ (the folder that holds ``compactifai``)
_IMPORT_ROOT = Path(__file__).resolve().parents[2]


class LocalServerError(RuntimeError):
    """The server did not start (its log's tail is in the message)."""


def free_port(host: str = DEFAULT_HOST) -> int:
    """A TCP port that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _stop_process(proc: subprocess.Popen[bytes], timeout: float) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait(timeout=timeout)


class LocalServer:
    """The local server in a child process; ``base_url`` and ``api_key`` are ready to use.

    Example:
        >>> from compactifai import CompactifAIClient
        >>> with LocalServer() as server:  # doctest: +SKIP
        ...     client = CompactifAIClient(api_key=server.api_key, base_url=server.base_url)
        ...     print([m.id for m in client.list_models().data])
        ['smollm2-135m-instruct', 'whisper-base']
    """

    def __init__(
        self,
        port: int = 0,
        *,
        host: str = DEFAULT_HOST,
        api_key: str = DEFAULT_API_KEY,
        extra_api_keys: Sequence[str] = (),
        enable_faults: bool = False,
        usage_db: str | os.PathLike[str] | None = None,
        chat_model_path: str | os.PathLike[str] | None = None,
        whisper_model_path: str | os.PathLike[str] | None = None,
        auto_tool_choice: str = "model",
        startup_timeout: float = 60.0,
        env: Mapping[str, str] | None = None,
        python: str = sys.executable,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.api_key = api_key
        self.extra_api_keys = tuple(extra_api_keys)
        self.enable_faults = enable_faults
        self.usage_db = usage_db
        self.chat_model_path = chat_model_path
        self.whisper_model_path = whisper_model_path
        self.auto_tool_choice = auto_tool_choice
        self.startup_timeout = startup_timeout
        self.env = dict(env or {})
        self.python = python
        self.log_path: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._finalizer: Any = None  # weakref.finalize

    @property
    def base_url(self) -> str:
        """``http://host:port/v1``."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def running(self) -> bool:
        """Whether the child process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def command(self) -> list[str]:
        """The child's command line."""
        cmd = [self.python, "-m", "compactifai.local", "--host", self.host]
        cmd += ["--port", str(self.port), "--api-key", self.api_key]
        for key in self.extra_api_keys:
            cmd += ["--api-key", key]
        if self.enable_faults:
            cmd.append("--enable-faults")
        if self.usage_db is not None:
            cmd += ["--usage-db", os.fspath(self.usage_db)]
        if self.chat_model_path is not None:
            cmd += ["--chat-model-path", os.fspath(self.chat_model_path)]
        if self.whisper_model_path is not None:
            cmd += ["--whisper-model-path", os.fspath(self.whisper_model_path)]
        if self.auto_tool_choice != "model":
            cmd += ["--auto-tool-choice", self.auto_tool_choice]
        return cmd

    def start(self) -> LocalServer:
        """Start the child and wait until ``GET /v1/models`` answers."""
        if self.running:
            return self
        env = {**os.environ, **self.env}
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(_IMPORT_ROOT), env.get("PYTHONPATH", "")) if p
        )
        env.setdefault("HF_HUB_OFFLINE", "1")
        env.pop("COMPACTIFAI_LOCAL_API_KEYS", None)  # the key we were given is the key
        fd, log_name = tempfile.mkstemp(prefix="compactifai-local-", suffix=".log")
        self.log_path = Path(log_name)
        with os.fdopen(fd, "wb") as log:
            self._proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        self._finalizer = weakref.finalize(self, _stop_process, self._proc, 5.0)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + self.startup_timeout
        request = urllib.request.Request(
            f"{self.base_url}/models", headers={"Authorization": f"Bearer {self.api_key}"}
        )
        assert self._proc is not None
        delay = 0.05
        while True:
            if self._proc.poll() is not None:
                raise LocalServerError(
                    f"the local server exited with code {self._proc.returncode}:\n{self.log_tail()}"
                )
            # Our child prints its banner once it holds the port: only then is the answer its own
            # (and not that of another server on the same port).
            if self._banner_seen():
                try:
                    with urllib.request.urlopen(request, timeout=2.0) as resp:
                        if resp.status == 200:
                            return
                except (urllib.error.URLError, OSError, TimeoutError):
                    pass
            if time.monotonic() > deadline:
                raise LocalServerError(
                    f"the local server did not answer within {self.startup_timeout:.0f} s:\n"
                    f"{self.log_tail()}"
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)

    def _banner_seen(self) -> bool:
        if self.log_path is None:
            return False
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return False
        return f"serving {self.base_url}" in text

    def log_tail(self, lines: int = 40) -> str:
        """The last lines the server wrote."""
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the child: SIGTERM, then SIGKILL after ``timeout`` seconds."""
        if self._proc is not None:
            _stop_process(self._proc, timeout)
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if self.log_path is not None:
            with contextlib.suppress(OSError):
                self.log_path.unlink()
            self.log_path = None
        self._proc = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"LocalServer({self.base_url!r}, {state})"
