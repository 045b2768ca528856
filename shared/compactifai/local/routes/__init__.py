"""The routes of the local server, one module per endpoint (all under ``/v1``).

=================================  ===========================================
``GET /v1/models``                 :func:`.models.list_models`
``GET /v1/models/{model_id}``      :func:`.models.retrieve_model`
``POST /v1/chat/completions``      :func:`.chat.chat_completions`
``POST /v1/completions``           :func:`.completions.completions`
``POST /v1/audio/transcriptions``  :func:`.audio.transcriptions`
``POST /v1/usage/completions``     :func:`.usage.usage_completions`
=================================  ===========================================
"""

from __future__ import annotations

from starlette.routing import Route

from .audio import transcriptions
from .chat import chat_completions
from .completions import completions
from .models import list_models, retrieve_model
from .usage import usage_completions

__all__ = ["ROUTES"]

ROUTES = [
    Route("/v1/models", list_models, methods=["GET"]),
    Route("/v1/models/{model_id}", retrieve_model, methods=["GET"]),
    Route("/v1/chat/completions", chat_completions, methods=["POST"]),
    Route("/v1/completions", completions, methods=["POST"]),
    Route("/v1/audio/transcriptions", transcriptions, methods=["POST"]),
    Route("/v1/usage/completions", usage_completions, methods=["POST"]),
]
