"""The models the local server serves, described the way ``GET /v1/models`` reports them.

Ids say what the models really are: a local model never borrows a CompactifAI id. Capabilities
are true to what the engines do (SmolLM2 calls functions through a grammar; it sees no images).

``cai-whisper-large-v3-turbo-slim`` (the service's transcription model today, the client's
default) and ``whisper-large-v3`` (the first reference's, since withdrawn) are accepted by
``POST /v1/audio/transcriptions`` as aliases of the local ``whisper-base``; they are not listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "CHAT_MODEL_ID",
    "MODELS",
    "TRANSCRIPTION_ALIASES",
    "WHISPER_MODEL_ID",
    "LocalModel",
    "find_model",
]

CHAT_MODEL_ID = "smollm2-135m-instruct"
WHISPER_MODEL_ID = "whisper-base"
#: Transcription model names that mean the local Whisper (not listed by ``GET /v1/models``).
TRANSCRIPTION_ALIASES = frozenset({"whisper-large-v3", "cai-whisper-large-v3-turbo-slim"})


@dataclass(frozen=True)
class LocalModel:
    """One served model: its wire description and which engine runs it."""

    id: str
    kind: Literal["chat", "transcription"]
    owned_by: str
    parameters_number: str
    created: int
    supports_audio: bool = False
    supports_image: bool = False
    supports_function_calling: bool = False
    description: str = field(default="", compare=False)

    def to_wire(self) -> dict[str, Any]:
        """The model as the ``/v1/models`` endpoints send it (a :class:`compactifai.types.Model`)."""
        from .wire import model_object

        return model_object(self)


MODELS: tuple[LocalModel, ...] = (
    LocalModel(
        id=CHAT_MODEL_ID,
        kind="chat",
        owned_by="huggingface",
        parameters_number="135M",
        created=1730332800,  # SmolLM2 release, 2024-10-31
        supports_function_calling=True,
        description="SmolLM2-135M-Instruct (Q4_1 GGUF) on llama.cpp: chat, completions, tools",
    ),
    LocalModel(
        id=WHISPER_MODEL_ID,
        kind="transcription",
        owned_by="openai",
        parameters_number="74M",
        created=1663718400,  # Whisper release, 2022-09-21
        supports_audio=True,
        description="Whisper base (CTranslate2, int8) on faster-whisper; "
        "also answers to 'cai-whisper-large-v3-turbo-slim' and 'whisper-large-v3' for "
        "transcriptions",
    ),
)

_BY_ID = {m.id: m for m in MODELS}


def find_model(model_id: str, *, transcription: bool = False) -> LocalModel | None:
    """The model with this id, or ``None``; aliases count only for transcriptions."""
    if transcription and model_id in TRANSCRIPTION_ALIASES:
        return _BY_ID[WHISPER_MODEL_ID]
    return _BY_ID.get(model_id)
