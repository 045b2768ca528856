"""Every LangChain integration test runs inside its own vcrpy cassette.

Replay (the default, and CI) serves each request from
``tests/cassettes/langchain/integration/<module>/<Class>.<test>.yaml`` and fails on any request
the cassette lacks; ``COMPACTIFAI_RECORD=1`` records them from the server in
``COMPACTIFAI_BASE_URL`` (``python scripts/record_cassettes.py tests/langchain`` starts the local
server and does that). The policy (scrubbing, host normalisation, body matching) is the root
conftest's.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CASSETTES


@pytest.fixture(autouse=True)
def _use_cassette(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.node.get_closest_marker("vcr") is not None:
        # pytest-recording's ``vcr`` fixture owns this test's cassette (test_stream_time).
        yield None
        return
    yield request.getfixturevalue("cassette")


def _module_dir(request: pytest.FixtureRequest) -> str:
    module = Path(request.node.path).resolve()
    return str(CASSETTES / module.relative_to(CASSETTES.parent).with_suffix(""))


@pytest.fixture
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    """pytest-recording's cassettes go where the root conftest puts everyone else's."""
    return _module_dir(request)


@pytest.fixture
def vcr_config(vcr_config: dict[str, Any], request: pytest.FixtureRequest) -> dict[str, Any]:
    """The root policy, in this module's cassette folder; a benchmark replays its one
    recorded stream many times."""
    return {
        **vcr_config,
        "cassette_library_dir": _module_dir(request),
        "allow_playback_repeats": True,
    }


@pytest.fixture(autouse=True)
def _stable_example_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    """``tool_example_to_messages`` (test_structured_few_shot_examples) gives its example
    calls random ids; a cassette matches request bodies exactly, so they must not vary."""
    import langchain_core.utils.function_calling as function_calling

    counter = itertools.count(1)

    class _Uuid:
        @staticmethod
        def uuid4() -> uuid.UUID:
            return uuid.UUID(int=next(counter))

    monkeypatch.setattr(function_calling, "uuid", _Uuid)
