"""What we know of each model: capabilities from the API, context windows from a table.

The API's model list says what a model can take (images, audio, function calling) but not how
long a context it serves. :data:`CONTEXT_WINDOWS` fills that in for CompactifAI's models, from
each original model's published context length (a slim model keeps its original's); a model not
in the table gets :data:`DEFAULT_CONTEXT_WINDOW`.

Example:
    >>> from compactifai._catalogue import ModelProfile, profile_from_table
    >>> p = profile_from_table("cai-llama-3-1-8b-slim")
    >>> p.context_window, p.supports_function_calling
    (131072, True)
    >>> profile_from_table("some-new-model").context_window
    8192
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._errors import ModelCapabilityError

if TYPE_CHECKING:
    from .types import Model, ModelList

__all__ = [
    "CONTEXT_WINDOWS",
    "DEFAULT_CONTEXT_WINDOW",
    "KNOWN_MODELS",
    "ModelProfile",
    "check_capabilities",
    "profile_from_model",
    "profile_from_table",
]

#: Used for a model the table does not know: small enough to be safe on any current model.
DEFAULT_CONTEXT_WINDOW = 8192

#: Context windows in tokens (the original models' published lengths).
CONTEXT_WINDOWS: dict[str, int] = {
    "llama-4-scout": 10_485_760,
    "cai-llama-4-scout-slim": 10_485_760,
    "llama-3-1-8b": 131_072,
    "cai-llama-3-1-8b-slim": 131_072,
    "llama-3-3-70b": 131_072,
    "cai-llama-3-3-70b-slim": 131_072,
    "mistral-small-3-1": 131_072,
    "cai-mistral-small-3-1-slim": 131_072,
    # The local server's models (compactifai-local).
    "smollm2-135m-instruct": 2_048,
}

#: Capabilities (image, audio, function calling) of the models the reference lists, used
#: only until the live model list has been read.
KNOWN_MODELS: dict[str, tuple[bool, bool, bool]] = {
    "llama-4-scout": (False, False, True),
    "cai-llama-4-scout-slim": (False, False, True),
    "llama-3-1-8b": (False, False, True),
    "cai-llama-3-1-8b-slim": (False, False, True),
    "llama-3-3-70b": (False, False, True),
    "cai-llama-3-3-70b-slim": (False, False, True),
    "mistral-small-3-1": (True, False, False),
    "cai-mistral-small-3-1-slim": (True, False, False),
    "smollm2-135m-instruct": (False, False, True),
    "whisper-base": (False, True, False),
    "whisper-large-v3": (False, True, False),
}


@dataclass(frozen=True)
class ModelProfile:
    """What the integrations need to know about one model.

    A capability is ``None`` when nothing is known of the model; callers then let the server
    decide rather than refuse.

    Example:
        >>> p = profile_from_table("cai-mistral-small-3-1-slim")
        >>> p.supports_image, p.supports_function_calling, p.is_slim
        (True, False, True)
    """

    id: str
    context_window: int
    supports_function_calling: bool | None
    supports_image: bool | None
    supports_audio: bool | None
    parameters_number: str | None = None
    owned_by: str | None = None
    #: "api" when read from the live model list, "table" when from this module's table.
    source: str = "table"

    @property
    def is_slim(self) -> bool:
        """True for CompactifAI's compressed models (``cai-...-slim``)."""
        return self.id.startswith("cai-") or self.id.endswith("-slim")


def profile_from_table(model_id: str) -> ModelProfile:
    """The profile of a model from the built-in table alone (no request)."""
    caps = KNOWN_MODELS.get(model_id)
    image, audio, tools = caps if caps else (None, None, None)
    return ModelProfile(
        id=model_id,
        context_window=CONTEXT_WINDOWS.get(model_id, DEFAULT_CONTEXT_WINDOW),
        supports_function_calling=tools,
        supports_image=image,
        supports_audio=audio,
    )


def profile_from_model(model: Model) -> ModelProfile:
    """The profile of a model from the API's own description of it."""
    caps = model.capabilities
    window = getattr(model, "context_window", None) or getattr(model, "max_model_len", None)
    return ModelProfile(
        id=model.id,
        context_window=int(window) if window else CONTEXT_WINDOWS.get(
            model.id, DEFAULT_CONTEXT_WINDOW
        ),
        supports_function_calling=caps.supports_function_calling,
        supports_image=caps.supports_image,
        supports_audio=caps.supports_audio,
        parameters_number=model.parameters_number,
        owned_by=model.owned_by,
        source="api",
    )


def profiles_from_list(models: ModelList) -> dict[str, ModelProfile]:
    """Index a model list by id."""
    return {m.id: profile_from_model(m) for m in models.data}


def check_capabilities(profile: ModelProfile, *, has_image: bool, has_tools: bool) -> None:
    """Refuse images or tools for a model whose profile says it cannot take them.

    ``None`` in the profile means "not known": the server decides.
    """
    if has_image and profile.supports_image is False:
        raise ModelCapabilityError(
            f"model {profile.id!r} does not take image input (its profile says "
            "supports_image=False): remove the image, or pick a model with image support "
            "such as 'mistral-small-3-1' (see the model list)",
            model=profile.id,
            capability="image",
        )
    if has_tools and profile.supports_function_calling is False:
        raise ModelCapabilityError(
            f"model {profile.id!r} does not support function calling (its profile says "
            "supports_function_calling=False): call it without tools, or pick a model with "
            "function calling (see the model list)",
            model=profile.id,
            capability="function_calling",
        )
