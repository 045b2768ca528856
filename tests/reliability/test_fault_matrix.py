"""Every fault, crossed with every public object, sync and async, plain and streamed.

Each cell ends in success after retries, or in the promised typed error, with the promised
number of requests: nothing retries a non-retryable error, no stream is retried once an event
reached the caller, partial output is never presented as complete.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from compactifai import CompactifAIError, StreamInterruptedError
from tests.reliability.faults import MID_STREAM, NOT_RESENT, PERMANENT, TRANSIENT, FaultyServer
from tests.reliability.surfaces import SURFACES, Surface, answer_text, unwrap

MODES = ["call", "acall", "stream", "astream"]
RETRIES = 2


def _run(surface: Surface, mode: str, server: FaultyServer, retries: int = RETRIES) -> Any:
    fn = getattr(surface, mode)
    if fn is None:
        pytest.skip(f"{surface.name} has no {mode}")
    result = fn(server, retries)
    if asyncio.iscoroutine(result):
        return asyncio.run(result)
    return result


def _cells(faults: dict[str, Any]) -> list[Any]:
    return [pytest.param(s, m, f, id=f"{s.name}-{m}-{f}")
            for s in SURFACES for m in MODES if getattr(s, m) is not None for f in faults]


@pytest.mark.parametrize(("surface", "mode", "fault"), _cells(TRANSIENT))
def test_transient_fault_is_retried_to_success(surface: Surface, mode: str, fault: str) -> None:
    server = FaultyServer(fault, times=1)
    # The answer after the retry is the healthy server's, whole; and a retry did happen.
    assert answer_text(_run(surface, mode, server)) == "Hello"
    assert server.requests == 2


@pytest.mark.parametrize(("surface", "mode", "fault"), _cells(TRANSIENT))
def test_persistent_transient_fault_ends_typed(surface: Surface, mode: str, fault: str) -> None:
    server = FaultyServer(fault, times=None)
    with pytest.raises(CompactifAIError) as info:
        _run(surface, mode, server)
    assert isinstance(unwrap(info.value), TRANSIENT[fault]), repr(info.value)
    assert server.requests == RETRIES + 1


@pytest.mark.parametrize(("surface", "mode", "fault"), _cells(PERMANENT))
def test_permanent_fault_is_never_retried(surface: Surface, mode: str, fault: str) -> None:
    server = FaultyServer(fault, times=None)
    with pytest.raises(CompactifAIError) as info:
        _run(surface, mode, server)
    assert isinstance(unwrap(info.value), PERMANENT[fault]), repr(info.value)
    assert server.requests == 1


@pytest.mark.parametrize(("surface", "mode", "fault"), _cells(NOT_RESENT))
def test_unreadable_answer_is_never_sent_again(surface: Surface, mode: str, fault: str) -> None:
    server = FaultyServer(fault, times=1)  # a second request would succeed: none is made
    with pytest.raises(CompactifAIError) as info:
        _run(surface, mode, server)
    assert isinstance(unwrap(info.value), NOT_RESENT[fault]), repr(info.value)
    assert server.requests == 1


@pytest.mark.parametrize(("surface", "mode", "fault"),
                         [c for c in _cells(MID_STREAM) if c.values[1] in ("stream", "astream")])
def test_mid_stream_fault_is_typed_and_not_retried(surface: Surface, mode: str,
                                                   fault: str) -> None:
    server = FaultyServer(fault, times=1)
    with pytest.raises(StreamInterruptedError) as info:
        _run(surface, mode, server)
    assert server.requests == 1
    assert info.value.events_received >= 1
