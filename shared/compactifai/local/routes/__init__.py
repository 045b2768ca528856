"""The routes of the local server, one module per endpoint (all under ``/v1``).

=================================  ===========================================
``GET /v1/models``                 :func:`.models.list_models`
``GET /v1/models/{model_id}``      :func:`.models.retrieve_model`
``POST /v1/chat/completions``      :func:`.chat.chat_completions`
``POST /v1/completions``           :func:`.completions.completions`
``POST /v1/audio/transcriptions``  :func:`.audio.transcriptions`
``POST /v1/usage/completions``     :func:`.usage.usage_completions`
``POST /v1/files``                 :func:`.files.upload_file`
``GET /v1/files/{file_id}``        :func:`.files.retrieve_file`
``GET /v1/files/{id}/content``     :func:`.files.file_content`
``POST /v1/batches``               :func:`.batches.create_batch`
``GET /v1/batches``                :func:`.batches.list_batches`
``GET /v1/batches/{batch_id}``     :func:`.batches.retrieve_batch`
``POST /v1/batches/{id}/cancel``   :func:`.batches.cancel_batch`
``POST /v1/responses``             :func:`.responses.create_response`
``GET /v1/responses/{id}``         :func:`.responses.retrieve_response`
=================================  ===========================================
"""

from __future__ import annotations

from starlette.routing import Route

from .audio import transcriptions
from .batches import cancel_batch, create_batch, list_batches, retrieve_batch
from .chat import chat_completions
from .completions import completions
from .files import file_content, retrieve_file, upload_file
from .models import list_models, retrieve_model
from .responses import create_response, retrieve_response
from .usage import usage_completions

__all__ = ["ROUTES"]

ROUTES = [
    Route("/v1/models", list_models, methods=["GET"]),
    Route("/v1/models/{model_id}", retrieve_model, methods=["GET"]),
    Route("/v1/chat/completions", chat_completions, methods=["POST"]),
    Route("/v1/completions", completions, methods=["POST"]),
    Route("/v1/audio/transcriptions", transcriptions, methods=["POST"]),
    Route("/v1/usage/completions", usage_completions, methods=["POST"]),
    Route("/v1/files", upload_file, methods=["POST"]),
    Route("/v1/files/{file_id}", retrieve_file, methods=["GET"]),
    Route("/v1/files/{file_id}/content", file_content, methods=["GET"]),
    Route("/v1/batches", create_batch, methods=["POST"]),
    Route("/v1/batches", list_batches, methods=["GET"]),
    Route("/v1/batches/{batch_id}", retrieve_batch, methods=["GET"]),
    Route("/v1/batches/{batch_id}/cancel", cancel_batch, methods=["POST"]),
    Route("/v1/responses", create_response, methods=["POST"]),
    Route("/v1/responses/{response_id}", retrieve_response, methods=["GET"]),
]
