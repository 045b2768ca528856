"""``compactifai-local`` / ``python -m compactifai.local``: run the local server in the foreground."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._version import __version__
from ._settings import (
    API_KEYS_ENV,
    DEFAULT_API_KEY,
    DEFAULT_HOST,
    DEFAULT_PORT,
    INSTALL_HINT,
    ServerSettings,
    default_cache_dir,
    keys_from_env,
)

__all__ = ["main", "parse_args"]


def parse_args(argv: Sequence[str] | None = None) -> ServerSettings:
    """Command-line arguments (and ``COMPACTIFAI_LOCAL_API_KEYS``) to settings."""
    parser = argparse.ArgumentParser(
        prog="compactifai-local",
        description="A local CompactifAI-compatible server over small real models "
        "(SmolLM2-135M-Instruct for chat and completions, Whisper base for transcriptions).",
    )
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help=f"bind address (default {DEFAULT_HOST})"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port, 0 for any free one (default {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help=f"an accepted API key (repeatable; also {API_KEYS_ENV}, comma separated; "
        f"default {DEFAULT_API_KEY!r})",
    )
    parser.add_argument(
        "--enable-faults",
        action="store_true",
        help="honour the X-Fault request header (fault injection for tests)",
    )
    parser.add_argument(
        "--usage-db",
        type=Path,
        help=f"SQLite file for usage statistics (default {default_cache_dir() / 'usage.sqlite3'})",
    )
    parser.add_argument("--chat-model-path", type=Path, help="SmolLM2 GGUF file to serve")
    parser.add_argument(
        "--whisper-model-path",
        type=Path,
        help="CTranslate2 Whisper folder (default: assembled once under the cache directory)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=2,
        help="CPU threads per model (default 2; 1 copes better with a busy machine)",
    )
    parser.add_argument(
        "--auto-tool-choice",
        choices=("model", "keyword"),
        default="model",
        help='who decides tool_choice="auto": the model\'s own probabilities (default) or '
        "a keyword match between the question and the tool names (the old rule)",
    )
    parser.add_argument("--version", action="version", version=f"compactifai-local {__version__}")
    ns = parser.parse_args(argv)
    keys = [*(ns.api_keys or []), *keys_from_env()]
    return ServerSettings(
        host=ns.host,
        port=ns.port,
        api_keys=tuple(dict.fromkeys(keys)) or (DEFAULT_API_KEY,),
        enable_faults=ns.enable_faults,
        usage_db=ns.usage_db,
        chat_model_path=ns.chat_model_path,
        whisper_model_path=ns.whisper_model_path,
        n_threads=max(1, ns.threads),
        auto_tool_choice=ns.auto_tool_choice,
    )


def _abort_hook(server: Any) -> Any:
    """A function that closes the TCP connection of a request (for the ``drop`` faults)."""

    def abort(scope: Any) -> bool:
        client = scope.get("client")
        if not client:
            return False
        for conn in list(server.server_state.connections):
            transport = getattr(conn, "transport", None)
            if transport is None:
                continue
            peer = transport.get_extra_info("peername")
            if peer and tuple(peer[:2]) == tuple(client[:2]):
                transport.close()  # what was already sent is flushed, then the socket closes
                return True
        return False

    return abort


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server until interrupted."""
    settings = parse_args(argv)
    try:
        import uvicorn

        from .app import create_app
    except ImportError as exc:
        print(
            f"compactifai-local needs the local server's extra ({exc}).\n  {INSTALL_HINT}",
            file=sys.stderr,
        )
        return 2
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=3,
        server_header=False,
    )

    class _Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            if self.should_exit or not self.servers:
                return
            port = self.servers[0].sockets[0].getsockname()[1]
            shown = (
                f"API key: {DEFAULT_API_KEY}"
                if settings.api_keys == (DEFAULT_API_KEY,)
                else f"API keys: {len(settings.api_keys)} configured"
            )
            faults = " (fault injection ON)" if settings.enable_faults else ""
            print(
                f"compactifai-local {__version__} serving http://{settings.host}:{port}/v1"
                f"{faults}\n  {shown}\n  usage db: {settings.usage_db_path()}",
                flush=True,
            )

    server = _Server(config)
    app.abort_hook = _abort_hook(server)
    server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
