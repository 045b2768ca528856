"""Template markup kept out of text answers: tool tags and stray ChatML role tags.

SmolLM2 sees ``<tool_call>``, ``<tool_response>`` and ``<|im_start|>`` in its prompt and
sometimes writes them back into a plain answer (after a tool result it likes to open with
``<tool_response>``). A text answer never carries them: :func:`strip_markup` cleans a whole
answer and :class:`MarkupFilter` cleans a stream piece by piece, holding back a possible tag
prefix (a tag can be split over several tokens), so both give the same text.

Example:
    >>> strip_markup("<tool_response>\\nThe weather in Paris is sunny.</tool_response>")
    'The weather in Paris is sunny.'
    >>> f = MarkupFilter()
    >>> f.feed("Sunny <tool_") + f.feed("response>\\nand warm") + f.flush()
    'Sunny and warm'
"""

from __future__ import annotations

import re

__all__ = ["TAGS", "MarkupFilter", "strip_markup"]

#: The tags of the prompt template that never belong in an answer.
TAGS = (
    "<tool_call>",
    "</tool_call>",
    "<tool_response>",
    "</tool_response>",
    "<tools>",
    "</tools>",
    "<|im_end|>",
    "<|endoftext|>",
)
_ROLES = ("system", "user", "assistant", "tool")
_IM_START = "<|im_start|>"

_PATTERN = re.compile(
    "|".join(
        [
            re.escape(_IM_START) + "(?:" + "|".join(_ROLES) + ")?\n?",
            *(re.escape(tag) + "\n?" for tag in TAGS),
        ]
    )
)
#: The longest text each pattern can match: a tail that is a proper prefix of one of these
#: may still become (or grow into) a match.
_LONGEST = (*(f"{_IM_START}{role}\n" for role in _ROLES), *(f"{tag}\n" for tag in TAGS))


def strip_markup(text: str) -> str:
    """``text`` without template tags (a tag's own newline goes with it)."""
    return _PATTERN.sub("", text)


def _undecided(tail: str) -> bool:
    return any(len(tail) < len(full) and full.startswith(tail) for full in _LONGEST)


class MarkupFilter:
    """Strips template tags from streamed text; ``feed`` pieces in order, then ``flush``.

    The concatenated output equals :func:`strip_markup` of the concatenated input.
    """

    def __init__(self) -> None:
        self._buffer = ""

    def feed(self, piece: str) -> str:
        """The text that is now safe to send (possibly empty)."""
        self._buffer += piece
        cut = self._buffer.rfind("<")
        if cut < 0 or not _undecided(self._buffer[cut:]):
            cut = len(self._buffer)
        ready, self._buffer = self._buffer[:cut], self._buffer[cut:]
        return strip_markup(ready)

    def flush(self) -> str:
        """Whatever is still held back, cleaned (call once the answer is complete)."""
        rest, self._buffer = self._buffer, ""
        return strip_markup(rest)
