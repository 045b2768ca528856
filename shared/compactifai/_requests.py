"""Request builders: what each endpoint's body, form or path holds, checked before sending.

Each builder takes the caller's arguments, refuses what the API's documented limits refuse
(:class:`InvalidRequestError` naming the parameter), and returns only what the caller set:
nothing the caller sent is dropped, nothing they did not send is added. The clients in
``_client.py`` call these; the pipeline sends what they build.

Example:
    >>> from compactifai._requests import _chat_body
    >>> body, options = _chat_body("m", [{"role": "user", "content": "Hi"}], {"timeout": 5})
    >>> sorted(body), options
    (['messages', 'model'], {'timeout': Timeout(timeout=5.0)})
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from typing_extensions import TypedDict

from ._checks import (
    AudioInput,
    check_n,
    check_positive_int,
    check_range,
    merge_extra_body,
    prepare_audio,
    rfc3339,
)
from ._config import TimeoutTypes, to_timeout
from ._errors import InvalidRequestError

__all__ = ["DEFAULT_TRANSCRIPTION_MODEL", "ChatParams", "CompletionParams"]

logger = logging.getLogger("compactifai")

DEFAULT_TRANSCRIPTION_MODEL = "whisper-large-v3"
_WINDOW_SIZES = ("MINUTE", "HOUR", "DAY")
#: Time zones accepted without a time-zone database: UTC and IANA's fixed-offset zones.
_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "GMT", "Etc/GMT"})
_ETC_GMT = re.compile(r"Etc/GMT(?:-(?:[0-9]|1[0-4])|\+(?:[0-9]|1[0-2]))\Z")
_OFFSET = re.compile(r"(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?\Z", re.IGNORECASE)
_IANA_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+)*\Z")


class _CallOptions(TypedDict, total=False):
    #: Fields the API takes that have no argument here; sent as they are.
    extra_body: Mapping[str, Any] | None
    #: Headers added to this request only.
    extra_headers: Mapping[str, str] | None
    #: This request's timeout (seconds or ``httpx.Timeout``); the client's otherwise.
    timeout: TimeoutTypes


class ChatParams(_CallOptions, total=False):
    """Optional parameters of a chat completion (see the API reference for each)."""

    temperature: float | None
    top_p: float | None
    max_tokens: int | None
    max_completion_tokens: int | None
    stop: str | Sequence[str] | None
    frequency_penalty: float | None
    presence_penalty: float | None
    n: int | None
    user: str | None
    tools: Sequence[Mapping[str, Any]] | None
    tool_choice: str | Mapping[str, Any] | None
    response_format: Mapping[str, Any] | None
    seed: int | None


class CompletionParams(_CallOptions, total=False):
    """Optional parameters of a text completion (see the API reference for each)."""

    temperature: float | None
    top_p: float | None
    max_tokens: int | None
    stop: str | Sequence[str] | None
    user: str | None
    tools: Sequence[Mapping[str, Any]] | None
    tool_choice: str | Mapping[str, Any] | None
    seed: int | None


_CHAT_KEYS = frozenset(ChatParams.__annotations__) - frozenset(_CallOptions.__annotations__)
_COMPLETION_KEYS = frozenset(CompletionParams.__annotations__) - frozenset(
    _CallOptions.__annotations__
)
_TOOL_CHOICES = ("auto", "none", "required")

#: What the builders may send that the service's OpenAPI (0.1.1) does not declare, per
#: operation: the first reference documents these and the service takes them leniently
#: (its request schemas allow unknown fields). This is the ONE list; the contract test
#: (tests/unit/test_openapi_contract.py) checks that nothing else undeclared is ever sent.
UNDECLARED_IN_OPENAPI: dict[str, frozenset[str]] = {
    # seed and presence_penalty: first reference; stream_options: usage on the last chunk.
    "chat_completion": frozenset({"seed", "presence_penalty", "stream_options"}),
    # the first reference's completions take tools, a seed and streaming.
    "completion": frozenset({"seed", "tools", "tool_choice", "stream", "stream_options"}),
    # array fields go as OpenAI's multipart convention, name[] once per value.
    "transcription": frozenset({"timestamp_granularities[]", "include[]"}),
}


def _check_tool_choice(choice: Any) -> None:
    if choice is None or choice in _TOOL_CHOICES:
        return
    if isinstance(choice, Mapping) and choice.get("type") == "function":
        fn = choice.get("function")
        if isinstance(fn, Mapping) and isinstance(fn.get("name"), str):
            return
    raise InvalidRequestError(
        f"tool_choice={choice!r} is not valid: use 'auto', 'none', 'required' or "
        "{'type': 'function', 'function': {'name': '<tool name>'}}",
        param="tool_choice",
    )


def _body(
    kind: str, allowed: frozenset[str], model: str, params: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split call options from API fields, check the fields, and build the request body."""
    if not isinstance(model, str) or not model:
        raise InvalidRequestError("model must be a model id such as 'cai-llama-3-1-8b-slim'",
                                  param="model")
    body: dict[str, Any] = {"model": model}
    options: dict[str, Any] = {}
    for key, value in params.items():
        if key in allowed:
            if value is not None:
                body[key] = list(value) if key == "stop" and not isinstance(value, str) else value
        elif key in ("extra_body", "extra_headers", "timeout"):
            options[key] = value
        else:
            raise InvalidRequestError(
                f"{kind} takes no argument {key!r}: if the API accepts it, pass it in "
                f"extra_body={{{key!r}: ...}}",
                param=key,
            )
    check_range("temperature", body.get("temperature"), 0.0, 2.0)
    check_range("top_p", body.get("top_p"), 0.0, 1.0)
    check_range("frequency_penalty", body.get("frequency_penalty"), -2.0, 2.0)
    check_range("presence_penalty", body.get("presence_penalty"), -2.0, 2.0)
    check_positive_int("max_tokens", body.get("max_tokens"))
    check_positive_int("max_completion_tokens", body.get("max_completion_tokens"))
    check_n(body.get("n"))
    _check_tool_choice(body.get("tool_choice"))
    if body.get("tools") is not None:
        body["tools"] = list(body["tools"])
    merge_extra_body(body, options.get("extra_body"))
    if options.get("timeout") is not None:
        options["timeout"] = to_timeout(options["timeout"])
    return body, options


def _chat_body(
    model: str, messages: Sequence[Mapping[str, Any]], params: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    if isinstance(messages, (str, bytes)) or not messages:
        raise InvalidRequestError(
            "messages must be a non-empty list of {'role': ..., 'content': ...} dicts",
            param="messages",
        )
    body, options = _body("chat_completion", _CHAT_KEYS, model, params)
    body["messages"] = messages if isinstance(messages, list) else list(messages)
    return body, options


def _completion_body(
    model: str, prompt: str | Sequence[str], params: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    if isinstance(prompt, str):
        pass
    elif isinstance(prompt, Sequence) and prompt and all(isinstance(p, str) for p in prompt):
        prompt = list(prompt)
    else:
        raise InvalidRequestError(
            "prompt must be a string or a non-empty list of strings", param="prompt"
        )
    body, options = _body("completion", _COMPLETION_KEYS, model, params)
    body["prompt"] = prompt
    return body, options


def _streamed(body: dict[str, Any], include_usage: bool) -> dict[str, Any]:
    body["stream"] = True
    if include_usage and "stream_options" not in body:
        body["stream_options"] = {"include_usage": True}
    return body


def _transcription_form(
    file: AudioInput,
    *,
    model: str,
    filename: str | None,
    language: str | None,
    prompt: str | None,
    temperature: float | None,
    response_format: str | None,
    timestamp_granularities: Sequence[str] | None,
    include: Sequence[str] | None,
    chunking_strategy: str | Mapping[str, Any] | None,
    extra_body: Mapping[str, Any] | None,
) -> tuple[dict[str, Any], list[tuple[str, Any]]]:
    check_range("temperature", temperature, 0.0, 1.0)
    upload = prepare_audio(file, filename)
    form: dict[str, Any] = {"model": model}
    for key, value in (
        ("language", language),
        ("prompt", prompt),
        ("temperature", temperature),
        ("response_format", response_format),
    ):
        if value is not None:
            form[key] = str(value)
    if chunking_strategy is not None:
        form["chunking_strategy"] = (
            chunking_strategy if isinstance(chunking_strategy, str) else json.dumps(
                dict(chunking_strategy)
            )
        )
    if timestamp_granularities:
        form["timestamp_granularities[]"] = list(timestamp_granularities)
    if include:
        form["include[]"] = list(include)
    merge_extra_body(form, extra_body)
    files = [("file", (upload.filename, upload.content, upload.content_type))]
    return form, files


def _tz_database_missing() -> bool:
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo("UTC")
    except Exception:
        return True
    return False


def _check_timezone(name: Any) -> None:
    """Accept what the API takes for ``window_timezone``: an IANA time zone name.

    "UTC" and IANA's fixed-offset zones ("Etc/GMT-2" is UTC+2: IANA inverts the sign) need no
    time-zone database. Other names are checked against the database (the ``tzdata`` package
    or the system's); where there is none, a well-formed name is left for the server to judge.
    Bare offsets ("+02:00", "UTC+2") are not IANA names: the error says which name to use.
    """
    if isinstance(name, str) and (name in _UTC_NAMES or _ETC_GMT.match(name)):
        return
    offset = _OFFSET.match(name) if isinstance(name, str) else None
    if offset is not None:
        sign, hours, minutes = offset.groups()
        etc = f"Etc/GMT{'-' if sign == '+' else '+'}{int(hours)}"
        if int(hours) == 0 and minutes in (None, "00"):
            hint = "use 'UTC'"
        elif minutes in (None, "00") and _ETC_GMT.match(etc):
            hint = f"use {etc!r} (IANA inverts the sign of fixed offsets) or a city's zone"
        else:
            hint = "use the IANA zone of a place with that offset (e.g. 'Asia/Kolkata')"
        raise InvalidRequestError(
            f"window_timezone={name!r} is an offset, not an IANA time zone: {hint}",
            param="window_timezone",
        )
    if isinstance(name, str):
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(name)
            return
        except Exception:
            if _IANA_NAME.match(name) and _tz_database_missing():
                logger.debug("no time-zone database: window_timezone=%r sent unchecked", name)
                return
    raise InvalidRequestError(
        f"window_timezone={name!r} is not an IANA time zone such as 'UTC' or 'Europe/Madrid'",
        param="window_timezone",
    )


def _usage_body(
    start_time: datetime | str,
    end_time: datetime | str | None,
    window_size: str,
    window_timezone: str,
    group_by: Sequence[str] | None,
    filter_group_by: Mapping[str, Sequence[str]] | None,
) -> dict[str, Any]:
    size = window_size.upper() if isinstance(window_size, str) else window_size
    if size not in _WINDOW_SIZES:
        raise InvalidRequestError(
            f"window_size={window_size!r}: use 'MINUTE', 'HOUR' or 'DAY'", param="window_size"
        )
    _check_timezone(window_timezone)
    body: dict[str, Any] = {
        "start_time": rfc3339("start_time", start_time),
        "window_size": size,
        "window_timezone": window_timezone,
    }
    if end_time is not None:
        body["end_time"] = rfc3339("end_time", end_time)
    if group_by is not None:
        body["group_by"] = [group_by] if isinstance(group_by, str) else list(group_by)
    if filter_group_by is not None:
        body["filter_group_by"] = {
            k: [v] if isinstance(v, str) else list(v) for k, v in filter_group_by.items()
        }
    return body


def _model_path(model_id: str) -> str:
    if not model_id:
        raise InvalidRequestError("model_id must not be empty", param="model_id")
    return "/models/" + quote(model_id, safe="")
