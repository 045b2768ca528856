"""Server settings: defaults, environment variables and paths (standard library only)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "API_KEYS_ENV",
    "CACHE_DIR_ENV",
    "DEFAULT_API_KEY",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "INSTALL_HINT",
    "ServerSettings",
    "default_cache_dir",
    "user_id_for_key",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_API_KEY = "local-dev-key"
API_KEYS_ENV = "COMPACTIFAI_LOCAL_API_KEYS"
CACHE_DIR_ENV = "COMPACTIFAI_LOCAL_CACHE_DIR"
INSTALL_HINT = "pip install 'compactifai-integrations[local]'"


def default_cache_dir() -> Path:
    """Where the usage database and the assembled Whisper model live by default."""
    env = os.environ.get(CACHE_DIR_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "compactifai"


def user_id_for_key(key: str) -> str:
    """A stable, non-secret id for an API key (never the key itself)."""
    return "local-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]


def keys_from_env() -> list[str]:
    """API keys from ``COMPACTIFAI_LOCAL_API_KEYS`` (comma separated)."""
    raw = os.environ.get(API_KEYS_ENV, "")
    return [k.strip() for k in raw.split(",") if k.strip()]


@dataclass
class ServerSettings:
    """Everything the app needs to know; built by ``__main__`` or by tests."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    api_keys: tuple[str, ...] = (DEFAULT_API_KEY,)
    enable_faults: bool = False
    cache_dir: Path = field(default_factory=default_cache_dir)
    usage_db: Path | None = None
    chat_model_path: Path | None = None
    whisper_model_path: Path | None = None
    n_ctx: int = 4096
    n_threads: int = 2
    #: Who decides ``tool_choice="auto"``: ``"model"`` (its own probabilities, the default)
    #: or ``"keyword"`` (a word match between the question and the tools, an explicit option).
    auto_tool_choice: str = "model"

    def usage_db_path(self) -> Path:
        """The SQLite file that keeps usage across restarts."""
        return self.usage_db if self.usage_db is not None else self.cache_dir / "usage.sqlite3"

    def whisper_dir(self) -> Path:
        """The CTranslate2 Whisper folder (assembled from the wheels on first use)."""
        if self.whisper_model_path is not None:
            return self.whisper_model_path
        return self.cache_dir / "whisper-base"
