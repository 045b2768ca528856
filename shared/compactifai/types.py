"""Wire types of the CompactifAI API, shared by the client, the local server and the tests.

Responses are pydantic models that keep every field the server sends (``extra="allow"``):
servers add fields the reference does not list (``reasoning_content``, ``kv_transfer_params``)
and we never drop them. Streamed chunks are plain dicts typed with ``TypedDict``: validating
every chunk would cost more than the network read that produced it.

Example:
    >>> from compactifai.types import Model
    >>> m = Model.model_validate({"id": "hypernova-60b", "object": "model",
    ...     "created": 1749600000, "owned_by": "multiverse_computing",
    ...     "parameters_number": "53.35B", "capabilities": {"supports_function_calling": True}})
    >>> m.capabilities.supports_function_calling, m.capabilities.supports_image  # not stated
    (True, None)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import NotRequired, TypedDict

from ._checks import AUDIO_EXTENSIONS
from ._requests import TRANSCRIPTION_TEXT_FORMATS

__all__ = [
    "AUDIO_EXTENSIONS",
    "TRANSCRIPTION_TEXT_FORMATS",
    "ChatCompletion",
    "ChatCompletionChoice",
    "ChatCompletionChunk",
    "ChatCompletionMessage",
    "ChatCompletionRequest",
    "ChunkChoice",
    "ChunkDelta",
    "ChunkToolCall",
    "Completion",
    "CompletionChoice",
    "CompletionChunk",
    "CompletionRequest",
    "FunctionCall",
    "Model",
    "ModelCapabilities",
    "ModelList",
    "ToolCall",
    "Transcription",
    "TranscriptionFormat",
    "TranscriptionSegment",
    "TranscriptionStreamEvent",
    "TranscriptionText",
    "TranscriptionTextDelta",
    "TranscriptionTextDone",
    "Usage",
    "UsageStatistics",
    "UsageStatisticsRequest",
    "UsageWindow",
    "WindowSize",
]

WindowSize = Literal["MINUTE", "HOUR", "DAY"]


class _Wire(BaseModel):
    """Base of every wire type: unknown fields are kept, names are matched as sent."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, protected_namespaces=())


# ---------------------------------------------------------------- models


class ModelCapabilities(_Wire):
    """What a model can take and do, as ``GET /models`` reports it.

    A capability the server does not state is ``None``: unknown, not refused (the server
    decides). Fields the service adds are kept as they come.

    Example:
        >>> ModelCapabilities().supports_function_calling is None
        True
        >>> ModelCapabilities(support_chat_completion=True, supports_responses=False)
        ModelCapabilities(supports_audio=None, supports_image=None, supports_function_calling=None, support_chat_completion=True, supports_responses=False)
    """

    supports_audio: bool | None = None
    supports_image: bool | None = None
    supports_function_calling: bool | None = None
    #: Today's service (spelled so): whether the model serves /chat/completions.
    support_chat_completion: bool | None = None
    #: Today's service: whether the model serves /responses.
    supports_responses: bool | None = None


class Model(_Wire):
    """One entry of the model catalogue.

    ``parameters_number`` is the service's display string ("53.35B"), kept as sent;
    :attr:`parameter_count` reads it as a number.

    Example:
        >>> Model(id="hypernova-60b", parameters_number="53.35B").parameter_count
        53350000000
        >>> Model(id="m").capabilities.supports_image is None
        True
    """

    id: str
    object: str = "model"
    created: int | None = None
    owned_by: str | None = None
    parameters_number: str | None = None
    capabilities: ModelCapabilities = Field(default_factory=ModelCapabilities)

    @property
    def parameter_count(self) -> int | None:
        """``parameters_number`` as a number ("53.35B" -> 53,350,000,000), None if unreadable."""
        return parse_parameter_count(self.parameters_number)


_SCALE = {"": 1, "K": 10**3, "M": 10**6, "B": 10**9, "T": 10**12}


def parse_parameter_count(text: str | float | None) -> int | None:
    """"53.35B" -> 53350000000, "135M" -> 135000000; None for anything else.

    Example:
        >>> parse_parameter_count("135M"), parse_parameter_count("1.2T"), parse_parameter_count("?")
        (135000000, 1200000000000, None)
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return int(text)
    if not isinstance(text, str):
        return None
    value = text.strip().upper().replace(",", "")
    unit = value[-1:] if value[-1:] in _SCALE else ""
    number = value[: len(value) - len(unit)] if unit else value
    try:
        return round(float(number) * _SCALE[unit])
    except ValueError:
        return None


class ModelList(_Wire):
    """The answer of ``GET /models``."""

    object: str = "list"
    data: list[Model] = Field(default_factory=list)


# ---------------------------------------------------------------- chat


class FunctionCall(_Wire):
    """The function part of a tool call: its name and its arguments as a JSON string."""

    name: str | None = None
    arguments: str | None = None


class ToolCall(_Wire):
    """A tool call an assistant message asks for."""

    id: str | None = None
    type: str = "function"
    function: FunctionCall = Field(default_factory=FunctionCall)


class ChatCompletionMessage(_Wire):
    """The assistant message of a chat completion choice."""

    role: str = "assistant"
    content: str | None = None
    tool_calls: list[ToolCall] | None = None
    reasoning_content: str | None = None
    refusal: str | None = None


class ChatCompletionChoice(_Wire):
    """One choice of a chat completion (the API serves only one)."""

    index: int = 0
    message: ChatCompletionMessage = Field(default_factory=ChatCompletionMessage)
    finish_reason: str | None = None
    logprobs: Any = None


class Usage(_Wire):
    """Token counts of one request."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class ChatCompletion(_Wire):
    """The answer of ``POST /chat/completions`` without streaming."""

    id: str = ""
    object: str = "chat.completion"
    created: int | None = None
    model: str = ""
    choices: list[ChatCompletionChoice] = Field(default_factory=list)
    usage: Usage | None = None
    system_fingerprint: str | None = None


class ChatCompletionRequest(_Wire):
    """The body of ``POST /chat/completions`` (what the local server validates)."""

    model: str
    messages: list[dict[str, Any]] = Field(min_length=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    stop: str | list[str] | None = None
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    n: int | None = Field(default=None, ge=1, le=1)
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    user: str | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    seed: int | None = None
    # Today's service (its OpenAPI, 2026): reasoning control and generation length.
    reasoning_effort: Literal["none", "low", "medium", "high", "xhigh", "max"] | None = None
    reasoning_enabled: bool | None = None
    min_tokens: int | None = Field(default=None, ge=0, le=150_000)
    ignore_eos: bool | None = None


# Streamed chunks: plain dicts, typed for readers and type checkers.


class ChunkFunction(TypedDict, total=False):
    name: str | None
    arguments: str | None


class ChunkToolCall(TypedDict, total=False):
    index: int
    id: str | None
    type: str | None
    function: ChunkFunction


class ChunkDelta(TypedDict, total=False):
    role: str | None
    content: str | None
    reasoning_content: str | None
    tool_calls: list[ChunkToolCall] | None


class ChunkChoice(TypedDict):
    index: int
    delta: ChunkDelta
    finish_reason: NotRequired[str | None]


class ChatCompletionChunk(TypedDict):
    """One decoded ``chat.completion.chunk`` event, exactly as the server sent it."""

    id: str
    object: str
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: NotRequired[dict[str, int] | None]
    system_fingerprint: NotRequired[str | None]


# ---------------------------------------------------------------- completions


class CompletionChoice(_Wire):
    """One generated text of ``POST /completions``."""

    text: str = ""
    index: int = 0
    logprobs: Any = None
    finish_reason: str | None = None


class Completion(_Wire):
    """The answer of ``POST /completions`` without streaming."""

    id: str = ""
    object: str = "text_completion"
    created: int | None = None
    model: str = ""
    choices: list[CompletionChoice] = Field(default_factory=list)
    usage: Usage | None = None


class CompletionChunkChoice(TypedDict):
    text: str
    index: int
    finish_reason: NotRequired[str | None]


class CompletionChunk(TypedDict):
    """One decoded ``text_completion`` stream event."""

    id: str
    object: str
    created: int
    model: str
    choices: list[CompletionChunkChoice]
    usage: NotRequired[dict[str, int] | None]


class CompletionRequest(_Wire):
    """The body of ``POST /completions`` (what the local server validates)."""

    model: str
    prompt: Union[str, list[str]]  # noqa: UP007 - pydantic reads this at run time
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=16, ge=1)
    top_p: float | None = Field(default=None, ge=0, le=1)
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    user: str | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    seed: int | None = None


# ---------------------------------------------------------------- audio


class TranscriptionSegment(_Wire):
    """A stretch of a transcript with its place in the audio, in seconds."""

    id: int
    start: float
    end: float
    text: str
    temperature: float | None = None
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    compression_ratio: float | None = None
    seek: int | None = None
    tokens: list[int] | None = None


class Transcription(_Wire):
    """The answer of ``POST /audio/transcriptions`` for ``response_format`` json or verbose_json.

    ``json`` gives ``text`` (and, from some servers, more); ``verbose_json`` adds the detected
    ``language``, the ``duration`` and the timestamped ``segments``.

    Example:
        >>> Transcription.model_validate({"text": " Hi.", "language": "en"}).language
        'en'
    """

    text: str
    task: str | None = "transcribe"
    language: str | None = None
    duration: float | None = None
    segments: list[TranscriptionSegment] = Field(default_factory=list)


#: The ``response_format`` values of ``POST /audio/transcriptions``.
TranscriptionFormat = Literal["json", "verbose_json", "text", "srt", "vtt"]


class TranscriptionText(_Wire):
    """The answer for ``response_format`` text, srt or vtt: the body as the server sent it.

    ``format`` says which was asked for; ``content`` is the text body (for srt and vtt, the
    subtitle file). :meth:`segments` reads the cues of srt and vtt back into
    :class:`TranscriptionSegment` objects.

    Example:
        >>> t = TranscriptionText(format="srt", content="1\\n00:00:00,000 --> 00:00:01,500\\nHi.\\n")
        >>> [(s.start, s.end, s.text) for s in t.segments()]
        [(0.0, 1.5, 'Hi.')]
    """

    format: Literal["text", "srt", "vtt"]
    content: str

    @property
    def text(self) -> str:
        """The spoken text: the body itself for ``text``, the cues' text for srt and vtt."""
        if self.format == "text":
            return self.content.strip()
        return " ".join(s.text for s in self.segments() if s.text)

    def segments(self) -> list[TranscriptionSegment]:
        """The subtitle cues as segments (none for ``text``)."""
        if self.format == "text":
            return []
        from ._subtitles import parse_subtitles

        return parse_subtitles(self.content)

    def __str__(self) -> str:
        return self.content


class TranscriptionTextDelta(TypedDict):
    """A streamed piece of a transcript (``stream=True``): ``{"type", "delta"}``."""

    type: Literal["transcript.text.delta"]
    delta: str
    logprobs: NotRequired[list[dict[str, Any]] | None]


class TranscriptionTextDone(TypedDict):
    """The last event of a streamed transcript: the whole ``text`` (and ``usage`` if sent)."""

    type: Literal["transcript.text.done"]
    text: str
    logprobs: NotRequired[list[dict[str, Any]] | None]
    usage: NotRequired[dict[str, Any] | None]


#: One event of a streamed transcription (a plain dict, as sent; not validated per event).
TranscriptionStreamEvent = Union[TranscriptionTextDelta, TranscriptionTextDone]  # noqa: UP007


# ---------------------------------------------------------------- usage statistics


class UsageStatisticsRequest(_Wire):
    """The body of ``POST /usage/completions``."""

    start_time: datetime
    end_time: datetime | None = None
    window_size: WindowSize = "DAY"
    window_timezone: str = "UTC"
    group_by: list[str] | None = None
    filter_group_by: dict[str, list[str]] | None = None


class UsageWindow(_Wire):
    """Token totals of one time window (and group). The wire names are camelCase."""

    group_by: dict[str, str] | None = Field(default=None, alias="groupBy")
    user_id: str | None = None
    input_token: int = 0
    output_token: int = 0
    window_start: datetime = Field(alias="windowStart")
    window_end: datetime = Field(alias="windowEnd")


class UsageStatistics(_Wire):
    """The answer of ``POST /usage/completions``."""

    data: list[UsageWindow] = Field(default_factory=list)
    start_time: datetime | None = None
    end_time: datetime | None = None
    window_size: WindowSize | None = None

from .types_jobs import *  # noqa: E402, F403  (files, batches, responses: issue 13)
