"""What we know of each model before asking: a built-in table, only a fallback.

The live model list (``GET /models``) is the truth: what it says about a model wins, and a model
it lists is served, whatever this table says. The table is for metadata that must not wait for
a request, and for the models a list does not show (transcription models are not always listed).

It holds CompactifAI's catalogue of 2026-08-26 (the provider's ``llms.txt``), the capabilities
the provider states (its changelog: tool calling for gpt-oss-120b, hypernova-60b, GLM 5.1/5.2 and
Quasar; none for Mistral; image input for Mistral Small 3.1 and Nemotron 3 Nano Omni), context
windows where the original model publishes one (a slim model keeps its original's), and the ids
the service withdrew, each with the date its changelog gives. A capability the provider does not
state is ``None``: unknown, so the server decides. A model not in the table gets
:data:`DEFAULT_CONTEXT_WINDOW`.

Example:
    >>> from compactifai._catalogue import profile_from_table, withdrawn_on
    >>> p = profile_from_table("hypernova-60b")
    >>> p.context_window, p.supports_function_calling, p.supports_image
    (131072, True, None)
    >>> withdrawn_on("whisper-large-v3"), withdrawn_on("hypernova-60b")
    ('2026-06', None)
    >>> profile_from_table("some-new-model").context_window
    8192
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from ._errors import ModelCapabilityError

if TYPE_CHECKING:
    from .types import Model, ModelList

__all__ = [
    "CATALOGUE",
    "CATALOGUE_DATE",
    "CONTEXT_WINDOWS",
    "CURRENT_MODELS",
    "DEFAULT_CHAT_MODEL",
    "DEFAULT_CONTEXT_WINDOW",
    "DEFAULT_TRANSCRIPTION_MODEL",
    "KNOWN_MODELS",
    "LOCAL_CHAT_MODEL",
    "LOCAL_TRANSCRIPTION_MODEL",
    "WITHDRAWN_MODELS",
    "CatalogueEntry",
    "ModelProfile",
    "ModelWithdrawnWarning",
    "check_capabilities",
    "profile_from_model",
    "profile_from_table",
    "warn_if_withdrawn",
    "withdrawn_notice",
    "withdrawn_on",
]

#: Used for a model the table does not know: small enough to be safe on any current model.
DEFAULT_CONTEXT_WINDOW = 8192
#: The day of the catalogue below (the provider's ``llms.txt``).
CATALOGUE_DATE = "2026-08-26"

#: The chat model used when none is named: CompactifAI's compressed gpt-oss-120b, which calls
#: tools (changelog 2026-02-25) and reasons (expect ``reasoning_content``). Mistral Small 3.1
#: does not call tools, so the examples' tool calls would be refused there.
DEFAULT_CHAT_MODEL = "hypernova-60b"
#: The transcription model used when none is named: the catalogue's only Whisper.
DEFAULT_TRANSCRIPTION_MODEL = "cai-whisper-large-v3-turbo-slim"
#: The local server's models (``compactifai.local``; the client never imports it).
LOCAL_CHAT_MODEL = "smollm2-135m-instruct"
LOCAL_TRANSCRIPTION_MODEL = "whisper-base"


class CatalogueEntry(NamedTuple):
    """One row of the table: ``None`` is "the provider does not say"."""

    context_window: int | None
    supports_image: bool | None
    supports_audio: bool | None
    supports_function_calling: bool | None
    #: When the service withdrew the model: its changelog's date ("2026-06" where it gives
    #: only the month; "by 2026-08-26" where it gives none), or None while it is served.
    withdrawn_on: str | None = None


_128K = 131_072
_UNKNOWN = CatalogueEntry(None, None, None, None)
#: Gone from the 2026-08-26 catalogue (its examples answer 400) with no dated removal in the
#: changelog: the catalogue's date is the latest it can have gone.
_GONE_BY_CATALOGUE = f"by {CATALOGUE_DATE}"

#: Every model the table knows, current and withdrawn.
CATALOGUE: dict[str, CatalogueEntry] = {
    # -- today's catalogue (llms.txt, 2026-08-26): compressed by CompactifAI
    "cai-mistral-small-3-1-slim": CatalogueEntry(_128K, True, None, False),
    "hypernova-60b": CatalogueEntry(_128K, None, None, True),
    "carina-60b": _UNKNOWN,
    "qwen-3-6-27b": _UNKNOWN,
    "cai-whisper-large-v3-turbo-slim": CatalogueEntry(None, None, True, None),
    # -- today's catalogue: third-party, uncompressed
    "gpt-oss-120b": CatalogueEntry(_128K, None, None, True),
    "mistral-small-3-1": CatalogueEntry(_128K, True, None, False),
    "nemotron-3-nano-omni": CatalogueEntry(None, True, None, None),
    "glm-5-1": CatalogueEntry(None, None, None, True),
    "cai-glm-5-1": _UNKNOWN,
    "glm-5-2": CatalogueEntry(None, None, None, True),  # removed in 2026-06, back 2026-07-15
    "quasar-438b": CatalogueEntry(None, None, None, True),  # "identical to GLM 5.2"
    # -- withdrawn (changelog.yml)
    "llama-4-scout": CatalogueEntry(10_485_760, False, False, True, "2026-06"),
    "cai-llama-4-scout-slim": CatalogueEntry(10_485_760, False, False, True, _GONE_BY_CATALOGUE),
    "llama-3-1-8b": CatalogueEntry(_128K, False, False, True, "2026-06"),
    "cai-llama-3-1-8b-slim": CatalogueEntry(_128K, False, False, True, _GONE_BY_CATALOGUE),
    "llama-3-3-70b": CatalogueEntry(_128K, False, False, True, "2026-06"),
    "cai-llama-3-3-70b-slim": CatalogueEntry(_128K, False, False, True, "2026-06"),
    "blackstar-10b": CatalogueEntry(None, None, None, None, "2026-06"),
    "gpt-oss-20b": CatalogueEntry(_128K, None, None, True, "2026-06"),
    "whisper-large-v3": CatalogueEntry(None, False, True, False, "2026-06"),
    "deepseek-r1-0528": CatalogueEntry(None, None, None, None, "2025-10-06"),
    # -- the local server (compactifai-local)
    LOCAL_CHAT_MODEL: CatalogueEntry(2_048, False, False, True),
    LOCAL_TRANSCRIPTION_MODEL: CatalogueEntry(None, False, True, False),
}

#: The ids of today's catalogue (served on :data:`CATALOGUE_DATE`), local models excluded.
CURRENT_MODELS: tuple[str, ...] = tuple(
    model_id
    for model_id, entry in CATALOGUE.items()
    if entry.withdrawn_on is None and model_id not in (LOCAL_CHAT_MODEL, LOCAL_TRANSCRIPTION_MODEL)
)
#: Withdrawn id -> when (the changelog's date, or "2026-06" where it gives only the month).
WITHDRAWN_MODELS: dict[str, str] = {
    model_id: entry.withdrawn_on
    for model_id, entry in CATALOGUE.items()
    if entry.withdrawn_on is not None
}
#: Context windows in tokens (the original models' published lengths), where known.
CONTEXT_WINDOWS: dict[str, int] = {
    model_id: entry.context_window
    for model_id, entry in CATALOGUE.items()
    if entry.context_window is not None
}
#: (image, audio, function calling) of every model in the table; ``None`` is unknown.
KNOWN_MODELS: dict[str, tuple[bool | None, bool | None, bool | None]] = {
    model_id: (entry.supports_image, entry.supports_audio, entry.supports_function_calling)
    for model_id, entry in CATALOGUE.items()
}


class ModelWithdrawnWarning(UserWarning):
    """A request names a model the CompactifAI service withdrew (once per model and client).

    The request is still sent: the server decides (a third-party server may serve the id).

    Example:
        >>> import warnings
        >>> from compactifai import ModelWithdrawnWarning
        >>> warnings.simplefilter("error", ModelWithdrawnWarning)  # doctest: +SKIP
    """


def withdrawn_on(model_id: str) -> str | None:
    """When the service withdrew ``model_id`` (its changelog's date), or None if it did not."""
    return WITHDRAWN_MODELS.get(model_id)


def withdrawn_notice(model_id: str) -> str | None:
    """The sentence that says ``model_id`` was withdrawn, and what to do; None if it was not.

    Example:
        >>> print(withdrawn_notice("deepseek-r1-0528"))  # doctest: +NORMALIZE_WHITESPACE
        model 'deepseek-r1-0528' was withdrawn from the CompactifAI service on 2025-10-06 (its
        changelog); list the current models with client.list_models() and pick one, e.g.
        'hypernova-60b'
    """
    when = WITHDRAWN_MODELS.get(model_id)
    if when is None:
        return None
    if when.startswith("by "):
        dated = f"{when} (it is not in that day's catalogue)"
    elif len(when) == len("2026-06"):
        dated = f"in {when} (its changelog gives the month)"
    else:
        dated = f"on {when} (its changelog)"
    instead = (
        DEFAULT_TRANSCRIPTION_MODEL if CATALOGUE[model_id].supports_audio else DEFAULT_CHAT_MODEL
    )
    return (
        f"model {model_id!r} was withdrawn from the CompactifAI service {dated}; list the "
        f"current models with client.list_models() and pick one, e.g. {instead!r}"
    )


#: Top-level modules whose frames a warning skips, so it points at the caller's own line.
_SKIPPED_MODULES = frozenset(
    {
        "compactifai",
        "langchain_compactifai",
        "llama_index_compactifai",
        "langchain_core",
        "llama_index",
        "pydantic",
        "asyncio",
        "concurrent",
        "threading",
        "contextlib",
        "httpx",
        "llama_index_instrumentation",
        "workflows",
    }
)


def _caller_stacklevel() -> int:
    """The ``stacklevel`` of the first frame outside this package and the frameworks."""
    frame = sys._getframe(2)  # stacklevel 2: the caller of warn_if_withdrawn
    level = 2
    while frame is not None:
        if frame.f_globals.get("__name__", "").partition(".")[0] not in _SKIPPED_MODULES:
            return level
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return 2


def warn_if_withdrawn(
    model_id: object, warned: set[str], served: Collection[str] | None = None
) -> None:
    """Warn (:class:`ModelWithdrawnWarning`) that ``model_id`` was withdrawn, once per ``warned``
    set (one per client), unless the server's own list (``served``) still has it.
    """
    if type(model_id) is not str or model_id not in WITHDRAWN_MODELS or model_id in warned:
        return
    if served is not None and model_id in served:
        return  # the live list is the truth (a third-party or local server may serve it)
    warned.add(model_id)
    warnings.warn(
        f"{withdrawn_notice(model_id)}. The request is sent anyway: CompactifAI answers 400, "
        "another server may still serve it (then silence this with warnings.filterwarnings("
        "'ignore', category=compactifai.ModelWithdrawnWarning))",
        ModelWithdrawnWarning,
        stacklevel=_caller_stacklevel(),
    )


@dataclass(frozen=True)
class ModelProfile:
    """What the integrations need to know about one model.

    A capability is ``None`` when nothing is known of the model; callers then let the server
    decide rather than refuse.

    Example:
        >>> p = profile_from_table("cai-mistral-small-3-1-slim")
        >>> p.supports_image, p.supports_function_calling, p.is_slim, p.withdrawn_on
        (True, False, True, None)
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
    #: When the service withdrew this model (table profiles only), else None.
    withdrawn_on: str | None = None

    @property
    def is_slim(self) -> bool:
        """True for CompactifAI's compressed models (``cai-...-slim``)."""
        return self.id.startswith("cai-") or self.id.endswith("-slim")


def profile_from_table(model_id: str) -> ModelProfile:
    """The profile of a model from the built-in table alone (no request)."""
    entry = CATALOGUE.get(model_id, _UNKNOWN)
    return ModelProfile(
        id=model_id,
        context_window=entry.context_window or DEFAULT_CONTEXT_WINDOW,
        supports_function_calling=entry.supports_function_calling,
        supports_image=entry.supports_image,
        supports_audio=entry.supports_audio,
        withdrawn_on=entry.withdrawn_on,
    )


def profile_from_model(model: Model) -> ModelProfile:
    """The profile of a model from the API's own description of it (the table only fills in
    a context window the answer lacks)."""
    caps = model.capabilities
    window = getattr(model, "context_window", None) or getattr(model, "max_model_len", None)
    return ModelProfile(
        id=model.id,
        context_window=int(window)
        if window
        else CONTEXT_WINDOWS.get(model.id, DEFAULT_CONTEXT_WINDOW),
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


def check_capabilities(
    profile: ModelProfile, *, has_image: bool, has_tools: bool, has_audio: bool = False
) -> None:
    """Refuse images, audio or tools for a model whose profile says it cannot take them.

    ``None`` in the profile means "not known": the server decides.

    Example:
        >>> check_capabilities(ModelProfile("m", 8192, None, None, None), has_image=True,
        ...                    has_tools=True, has_audio=True)  # nothing known: allowed
        >>> check_capabilities(ModelProfile("m", 8192, True, True, False), has_image=False,
        ...                    has_tools=False, has_audio=True)
        Traceback (most recent call last):
        ...
        compactifai._errors.ModelCapabilityError: model 'm' does not take audio input (its profile says supports_audio=False): transcribe the audio first (audio/transcriptions), or pick a model that takes audio (see the model list)
    """
    if has_audio and profile.supports_audio is False:
        raise ModelCapabilityError(
            f"model {profile.id!r} does not take audio input (its profile says "
            "supports_audio=False): transcribe the audio first (audio/transcriptions), or "
            "pick a model that takes audio (see the model list)",
            model=profile.id,
            capability="audio",
        )
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
            f"function calling such as {DEFAULT_CHAT_MODEL!r} (see the model list)",
            model=profile.id,
            capability="function_calling",
        )
