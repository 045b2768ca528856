"""What every benchmark contender implements, and how the runner finds them.

A contender is one library's way of making the same chat request to the same stub server.
Modules named ``benchmarks/contenders_*.py`` expose ``CONTENDERS: list[Contender]``; the runner
(``python -m benchmarks.run``) imports them all and measures them interleaved, in one run.

Example:
    >>> from benchmarks.harness import Contender
    >>> class Floor(Contender):
    ...     name, group = "raw httpx + json.loads", "floor"
    ...     import_statement = "import httpx, json"
"""

from __future__ import annotations

from typing import Any

#: The request every contender sends: same model, same messages, no extras.
MODEL = "bench-model"
MESSAGES: list[dict[str, Any]] = [{"role": "user", "content": "Say hello."}]


class Contender:
    """One library's client. Subclasses set the class attributes and override the methods."""

    #: Shown in the table.
    name: str = ""
    #: "floor", "transport", "langchain" or "llama-index": ratios are read within a group
    #: and against the floor.
    group: str = ""
    #: Executed in a fresh interpreter to time the import.
    import_statement: str = ""

    def setup(self, base_url: str, api_key: str) -> None:
        """Build the client once (outside every timing)."""
        raise NotImplementedError

    def call(self) -> None:
        """One non-streamed chat completion; read the answer's text."""
        raise NotImplementedError

    def stream(self) -> int:
        """One streamed chat completion, consumed to the end; return the chunks seen."""
        raise NotImplementedError

    async def acall(self) -> None:
        """One async non-streamed chat completion (run 200 at a time)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the client (after every timing)."""
