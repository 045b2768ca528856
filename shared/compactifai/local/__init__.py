"""A local CompactifAI-compatible server over real small models (the ``local`` extra).

It serves the API reference's endpoints under ``/v1`` with SmolLM2-135M-Instruct (llama.cpp)
for chat and completions and Whisper base (faster-whisper) for transcriptions, keeps usage in
SQLite, and can inject faults for retry tests. Run it with ``compactifai-local`` (or
``python -m compactifai.local``), or from Python::

    from compactifai.local import LocalServer

    with LocalServer(enable_faults=True) as server:
        ...  # use server.base_url and server.api_key

Importing this package is cheap: Starlette, llama.cpp and faster-whisper load only when the
server starts or a model is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._process import LocalServer, LocalServerError, free_port
from ._settings import DEFAULT_API_KEY, DEFAULT_HOST, DEFAULT_PORT, ServerSettings

if TYPE_CHECKING:
    from .app import create_app

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "LocalServer",
    "LocalServerError",
    "ServerSettings",
    "create_app",
    "free_port",
]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
