"""``GET /v1/models`` and ``GET /v1/models/{model_id}``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..catalogue import MODELS, find_model
from ..errors import ApiError
from ..wire import model_list, model_object
from ._common import available_ids, json_response

__all__ = ["list_models", "retrieve_model"]


async def list_models(request: Request) -> Response:
    """GET /v1/models: every served model."""
    return json_response(model_list(MODELS))


async def retrieve_model(request: Request) -> Response:
    """GET /v1/models/{model_id}: one model, or 404 listing the ids there are."""
    model_id = request.path_params["model_id"]
    model = find_model(model_id)
    if model is None:
        raise ApiError(
            404,
            f"model '{model_id}' not found; this local server serves: {available_ids()}",
            code="model_not_found",
            param="model",
        )
    return json_response(model_object(model))
