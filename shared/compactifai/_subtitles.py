"""SubRip (SRT) and WebVTT subtitles: written from transcript segments, and read back.

The transcript loaders render subtitles from the segments of a ``verbose_json`` answer, so one
request gives both the Documents' metadata and the subtitles (and a recording split in parts
gets one subtitle file with its timestamps offset to the whole recording).
:class:`~compactifai.types.TranscriptionText` reads the service's own srt/vtt answers back
with :func:`parse_subtitles`.

Example:
    >>> from compactifai._subtitles import render_subtitles, parse_subtitles
    >>> srt = render_subtitles([{"start": 0.0, "end": 1.25, "text": " Hello."}], "srt")
    >>> print(srt)
    1
    00:00:00,000 --> 00:00:01,250
    Hello.
    <BLANKLINE>
    >>> [(s.start, s.end, s.text) for s in parse_subtitles(srt)]
    [(0.0, 1.25, 'Hello.')]
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .types import TranscriptionSegment

__all__ = ["SubtitleFormat", "parse_subtitles", "render_subtitles", "timestamp"]

SubtitleFormat = Literal["srt", "vtt"]

_CUE_TIME = re.compile(
    r"(?:(\d+):)?(\d{1,2}):(\d{2})[,.](\d{1,3})\s*-->\s*(?:(\d+):)?(\d{1,2}):(\d{2})[,.](\d{1,3})"
)


def timestamp(seconds: float, fmt: SubtitleFormat) -> str:
    """``HH:MM:SS,mmm`` (srt) or ``HH:MM:SS.mmm`` (vtt).

    Example:
        >>> timestamp(3723.5, "srt"), timestamp(3723.5, "vtt")
        ('01:02:03,500', '01:02:03.500')
    """
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    sep = "," if fmt == "srt" else "."
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{sep}{millis:03d}"


def _field(segment: Any, name: str) -> Any:
    return segment.get(name) if isinstance(segment, Mapping) else getattr(segment, name)


def render_subtitles(segments: Iterable[Any], fmt: SubtitleFormat) -> str:
    """Subtitles with one cue per non-blank segment (mappings or segment objects).

    Example:
        >>> print(render_subtitles([{"start": 0, "end": 2, "text": "Hi."}], "vtt"))
        WEBVTT
        <BLANKLINE>
        00:00:00.000 --> 00:00:02.000
        Hi.
        <BLANKLINE>
    """
    if fmt not in ("srt", "vtt"):
        raise ValueError(f"subtitle format must be 'srt' or 'vtt', not {fmt!r}")
    cues: list[str] = ["WEBVTT\n"] if fmt == "vtt" else []
    number = 0
    for segment in segments:
        text = str(_field(segment, "text") or "").strip()
        if not text:
            continue
        number += 1
        times = (
            f"{timestamp(float(_field(segment, 'start')), fmt)} --> "
            f"{timestamp(float(_field(segment, 'end')), fmt)}"
        )
        cues.append(f"{number}\n{times}\n{text}\n" if fmt == "srt" else f"{times}\n{text}\n")
    return "\n".join(cues)


def _seconds(hours: str | None, minutes: str, secs: str, millis: str) -> float:
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(secs) + int(millis.ljust(3, "0")) / 1000


def parse_subtitles(content: str) -> list[TranscriptionSegment]:
    """The cues of an SRT or WebVTT text as segments (ids from 0, in order).

    Cue numbers, the ``WEBVTT`` header, ``NOTE``/``STYLE`` blocks and cue settings are
    skipped; a cue's lines are joined with a space.
    """
    from .types import TranscriptionSegment

    found: list[TranscriptionSegment] = []
    blocks = re.split(r"\n\s*\n", content.replace("\r\n", "\n").replace("\r", "\n"))
    for block in blocks:
        lines = block.strip("\n").split("\n")
        for i, line in enumerate(lines):
            match = _CUE_TIME.search(line)
            if match is None or "-->" not in line:
                continue
            g = match.groups()
            text = " ".join(part.strip() for part in lines[i + 1 :] if part.strip())
            found.append(
                TranscriptionSegment(
                    id=len(found),
                    start=_seconds(*g[:4]),
                    end=_seconds(*g[4:]),
                    text=text,
                )
            )
            break
    return found
