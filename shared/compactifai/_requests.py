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
import os
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Union
from urllib.parse import quote

from typing_extensions import TypedDict

from ._catalogue import DEFAULT_TRANSCRIPTION_MODEL  # the catalogue's Whisper
from ._checks import (
    AudioInput,
    check_bool,
    check_min_tokens,
    check_n,
    check_positive_int,
    check_range,
    check_reasoning_effort,
    merge_extra_body,
    prepare_audio,
    rfc3339,
)
from ._config import TimeoutTypes, to_timeout
from ._errors import InvalidRequestError

__all__ = ["DEFAULT_TRANSCRIPTION_MODEL", "ChatParams", "CompletionParams"]

logger = logging.getLogger("compactifai")

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
    #: Today's service: "none", "low", "medium", "high", "xhigh" or "max" (a model may refuse
    #: a level it does not implement; its 400 says which it does).
    reasoning_effort: str | None
    reasoning_enabled: bool | None
    min_tokens: int | None
    ignore_eos: bool | None


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
    # one message kind: an assistant turn that called tools goes back with its reasoning
    # (compactifai._wire.with_reasoning), which reasoning models continue their loop from.
    "assistant_message": frozenset({"reasoning_content"}),
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
        raise InvalidRequestError("model must be a model id such as 'hypernova-60b'",
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
    check_reasoning_effort(body.get("reasoning_effort"))
    check_bool("reasoning_enabled", body.get("reasoning_enabled"))
    check_bool("ignore_eos", body.get("ignore_eos"))
    check_min_tokens(body.get("min_tokens"))
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


_TRANSCRIPTION_FORMATS = ("json", "verbose_json", "text", "srt", "vtt")
#: The transcription formats answered with a text body, not JSON.
TRANSCRIPTION_TEXT_FORMATS: frozenset[str | None] = frozenset({"text", "srt", "vtt"})


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
    stream: bool = False,
) -> tuple[dict[str, Any], list[tuple[str, Any]]]:
    """The multipart form of ``POST /audio/transcriptions``: only the fields the caller set.

    No ``language`` unless given (the service detects it); ``stream`` goes as the string
    ``"true"`` (the OpenAPI declares it a string field).
    """
    check_range("temperature", temperature, 0.0, 1.0)
    if response_format is not None and response_format not in _TRANSCRIPTION_FORMATS:
        raise InvalidRequestError(
            f"response_format={response_format!r} is not one the service takes: use "
            + ", ".join(repr(f) for f in _TRANSCRIPTION_FORMATS),
            param="response_format",
        )
    upload = prepare_audio(file, filename)
    form: dict[str, Any] = {"model": model}
    if stream:
        form["stream"] = "true"
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


# ---------------------------------------------------------------- files, batches, responses
# (issue 13: the provider-side job endpoints; the clients' methods are in ``_jobs_api.py``)

#: Batches take only this window (``BatchCreateParams.completion_window``).
BATCH_COMPLETION_WINDOW = "24h"
#: ``GET /batches``: the page size the service takes.
BATCH_LIST_LIMITS = (1, 100)
#: ``ResponsesRequest.max_output_tokens``: the service's bounds.
MAX_OUTPUT_TOKENS = 150_000

FileInput = Union[str, "os.PathLike[str]", bytes, IO[bytes], tuple[str, bytes]]


class ResponseParams(_CallOptions, total=False):
    """Optional parameters of ``POST /responses`` (the service forwards unknown fields)."""

    store: bool | None
    instructions: str | None
    temperature: float | None
    max_output_tokens: int | None
    top_p: float | None
    tools: Sequence[Mapping[str, Any]] | None
    tool_choice: str | Mapping[str, Any] | None
    text: Mapping[str, Any] | None
    reasoning: Mapping[str, Any] | None
    metadata: Mapping[str, str] | None
    previous_response_id: str | None
    file_id: str | None
    user: str | None
    truncation: str | None
    parallel_tool_calls: bool | None


_RESPONSE_KEYS = frozenset(ResponseParams.__annotations__) - frozenset(
    _CallOptions.__annotations__
)

# ResponsesRequest declares model, input, store, file_id, temperature and max_output_tokens
# and forwards every other field ("additionalProperties": true; its description names text,
# reasoning, metadata and tools): these are OpenAI's Responses fields, sent as given.
UNDECLARED_IN_OPENAPI["response"] = frozenset({
    "instructions", "top_p", "tools", "tool_choice", "text", "reasoning", "metadata",
    "previous_response_id", "user", "truncation", "parallel_tool_calls", "stream",
})
UNDECLARED_IN_OPENAPI["batch_create"] = frozenset()
UNDECLARED_IN_OPENAPI["file_upload"] = frozenset()


def _path_id(kind: str, value: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidRequestError(f"{kind} must be a non-empty id string", param=kind)
    return quote(value, safe="")


def _file_content_path(file_id: str) -> str:
    return f"/files/{_path_id('file_id', file_id)}/content"


def _batch_path(batch_id: str, action: str = "") -> str:
    return f"/batches/{_path_id('batch_id', batch_id)}{action}"


def _response_path(response_id: str) -> str:
    return f"/responses/{_path_id('response_id', response_id)}"


def _read_upload(file: FileInput, filename: str | None) -> tuple[str, bytes]:
    """A file to upload as ``(filename, content)``: from a path, bytes, a file or a tuple."""
    if isinstance(file, tuple):
        name, content = file
    elif isinstance(file, (bytes, bytearray, memoryview)):
        name, content = filename or "upload.jsonl", bytes(file)
    elif isinstance(file, (str, os.PathLike)):
        path = Path(file)
        try:
            content = path.read_bytes()
        except FileNotFoundError:
            raise InvalidRequestError(f"no file at {str(path)!r}", param="file") from None
        except IsADirectoryError:
            raise InvalidRequestError(f"{str(path)!r} is a directory", param="file") from None
        name = filename or path.name
    elif hasattr(file, "read"):
        content = file.read()
        if not isinstance(content, bytes):
            raise InvalidRequestError(
                "file objects must be opened in binary mode ('rb')", param="file"
            )
        name = filename or Path(str(getattr(file, "name", "") or "upload.jsonl")).name
    else:
        raise InvalidRequestError(
            f"file must be a path, bytes, a binary file object or (filename, bytes), "
            f"not {type(file).__name__}",
            param="file",
        )
    if not isinstance(name, str) or not name:
        raise InvalidRequestError("the file needs a name: pass filename=...", param="filename")
    if not content:
        raise InvalidRequestError(f"{name!r} is empty: there is nothing to upload", param="file")
    return filename or name, content


def _file_upload_form(
    file: FileInput, purpose: str, filename: str | None
) -> tuple[dict[str, str], list[tuple[str, Any]]]:
    """The multipart form of ``POST /files``: fields ``file`` and ``purpose``."""
    if not isinstance(purpose, str) or not purpose:
        raise InvalidRequestError(
            "purpose must be a string such as 'batch' or 'user_data'", param="purpose"
        )
    name, content = _read_upload(file, filename)
    ctype = "application/jsonl" if name.lower().endswith(".jsonl") else (
        "application/octet-stream"
    )
    return {"purpose": purpose}, [("file", (name, content, ctype))]


def _batch_create_body(
    *,
    input_file_id: str,
    endpoint: str,
    completion_window: str,
    metadata: Mapping[str, str] | None,
    output_expires_after: Mapping[str, Any] | None,
    extra_body: Mapping[str, Any] | None,
) -> dict[str, Any]:
    from .types_jobs import BATCH_ENDPOINTS

    _path_id("input_file_id", input_file_id)
    if endpoint not in BATCH_ENDPOINTS:
        hint = f" (did you mean '/v1{endpoint}'?)" if f"/v1{endpoint}" in BATCH_ENDPOINTS else ""
        raise InvalidRequestError(
            f"endpoint={endpoint!r}: a batch targets one of {', '.join(BATCH_ENDPOINTS)}{hint}",
            param="endpoint",
        )
    if completion_window != BATCH_COMPLETION_WINDOW:
        raise InvalidRequestError(
            f"completion_window={completion_window!r}: the service takes only "
            f"{BATCH_COMPLETION_WINDOW!r}",
            param="completion_window",
        )
    body: dict[str, Any] = {
        "input_file_id": input_file_id,
        "endpoint": endpoint,
        "completion_window": completion_window,
    }
    if metadata is not None:
        bad = [k for k, v in metadata.items() if not isinstance(k, str) or not isinstance(v, str)]
        if bad:
            raise InvalidRequestError(
                f"metadata values must be strings; {bad[0]!r} is not", param="metadata"
            )
        body["metadata"] = dict(metadata)
    if output_expires_after is not None:
        seconds = output_expires_after.get("seconds")
        if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds <= 0:
            raise InvalidRequestError(
                "output_expires_after must be {'anchor': 'created_at', 'seconds': <int>}",
                param="output_expires_after",
            )
        body["output_expires_after"] = {
            "anchor": output_expires_after.get("anchor", "created_at"), "seconds": seconds
        }
    merge_extra_body(body, extra_body)
    return body


def _batch_list_params(after: str | None, limit: int | None) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if after is not None:
        _path_id("after", after)
        params["after"] = after
    if limit is not None:
        low, high = BATCH_LIST_LIMITS
        if not isinstance(limit, int) or isinstance(limit, bool) or not low <= limit <= high:
            raise InvalidRequestError(
                f"limit must be an integer from {low} to {high}, got {limit!r}", param="limit"
            )
        params["limit"] = limit
    return params


def _response_body(
    model: str, input: str | Sequence[Any], params: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The body of ``POST /responses`` and the call options."""
    if isinstance(input, str):
        if not input:
            raise InvalidRequestError("input must not be empty", param="input")
    elif isinstance(input, Sequence) and not isinstance(input, bytes) and input:
        input = list(input)
    else:
        raise InvalidRequestError(
            "input must be a string or a non-empty list of input items", param="input"
        )
    # Responses' tool_choice has its own shapes ({"type": "function", "name": ...}, hosted
    # tools): it is sent as given, not checked against chat's.
    choice = params.get("tool_choice")
    rest = {k: v for k, v in params.items() if k != "tool_choice"}
    body, options = _body("response", _RESPONSE_KEYS, model, rest)
    if choice is not None:
        body["tool_choice"] = dict(choice) if isinstance(choice, Mapping) else choice
    check_range("temperature", body.get("temperature"), 0.0, 2.0)
    check_positive_int("max_output_tokens", body.get("max_output_tokens"))
    if body.get("max_output_tokens", 0) > MAX_OUTPUT_TOKENS:
        raise InvalidRequestError(
            f"max_output_tokens must be at most {MAX_OUTPUT_TOKENS}, "
            f"got {body['max_output_tokens']}",
            param="max_output_tokens",
        )
    for key in ("metadata", "text", "reasoning"):
        if isinstance(body.get(key), Mapping):
            body[key] = dict(body[key])
    body["input"] = input
    return body, options
