"""Server-Sent Events: bytes in, events out. Shared by the sync and the async streams.

The decoder works on bytes and splits on line ends only, so a UTF-8 character cut in two by
the network never reaches a decoder half-read. It follows the SSE spec: LF, CRLF and CR line
ends; several ``data:`` lines joined by ``\\n``; comment lines (``:``) ignored; ``event:``,
``id:`` and ``retry:`` fields; a blank line dispatches the event. As the WHATWG standard says, a
block without any ``data:`` line (``event: ping`` alone) dispatches nothing: the blank line only
resets the pending event type and retry.

Example:
    >>> from compactifai._sse import SSEDecoder
    >>> d = SSEDecoder()
    >>> d.feed(b'data: {"a": 1}\\r\\n\\r\\ndata: [DO')
    [ServerSentEvent(event='message', data='{"a": 1}', id=None, retry=None)]
    >>> d.feed(b'NE]\\n\\n')
    [ServerSentEvent(event='message', data='[DONE]', id=None, retry=None)]
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["SSEDecoder", "ServerSentEvent"]


class ServerSentEvent(NamedTuple):
    """One dispatched event. ``data`` is text; JSON payloads are parsed by the caller."""

    event: str
    data: str
    id: str | None
    retry: int | None


class SSEDecoder:
    """Incremental SSE decoder: call :meth:`feed` with each network read, then :meth:`flush`.

    Example:
        >>> decoder = SSEDecoder()
        >>> [e.data for e in decoder.feed(b"data: hello\\n\\ndata: wor")] + [
        ...     e.data for e in decoder.feed(b"ld\\n\\n")]
        ['hello', 'world']
    """

    __slots__ = ("_buf", "_data", "_event", "_id", "_retry", "last_event_id")

    def __init__(self) -> None:
        self._buf = b""
        self._data: list[bytes] = []
        self._event: str | None = None
        self._id: str | None = None
        self._retry: int | None = None
        self.last_event_id: str | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Take the next bytes of the stream; return the events they complete."""
        buf = self._buf + chunk if self._buf else chunk
        if b"\r" in buf:
            # A CR at the very end may be the first half of a CRLF split across reads.
            tail = b"\r" if buf.endswith(b"\r") else b""
            if tail:
                buf = buf[:-1]
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        else:
            tail = b""
        lines = buf.split(b"\n")
        self._buf = lines.pop() + tail
        events: list[ServerSentEvent] = []
        for line in lines:
            if line.startswith(b"data:"):
                # The fast path: almost every line of a completion stream.
                value = line[5:]
                self._data.append(value[1:] if value[:1] == b" " else value)
            elif not line:
                if self._data:
                    events.append(self._dispatch())
                else:  # a block without data: nothing to dispatch, forget its fields
                    self._event = None
                    self._retry = None
            else:
                self._field(line)
        return events

    def flush(self) -> list[ServerSentEvent]:
        """End of stream: an event whose blank line never came is still dispatched."""
        events = self.feed(b"\n") if self._buf else []
        if self._data:
            events.append(self._dispatch())
        return events

    def _dispatch(self) -> ServerSentEvent:
        data = self._data
        text = (data[0] if len(data) == 1 else b"\n".join(data)).decode("utf-8", "replace")
        event = ServerSentEvent(self._event or "message", text, self._id, self._retry)
        self._data = []
        self._event = None
        self._retry = None
        return event

    def _field(self, line: bytes) -> None:
        if line[:1] == b":":
            return  # a comment (servers send these as keep-alives)
        name, sep, value = line.partition(b":")
        if sep and value[:1] == b" ":
            value = value[1:]
        if name == b"event":
            self._event = value.decode("utf-8", "replace")
        elif name == b"id":
            if b"\0" not in value:
                self._id = self.last_event_id = value.decode("utf-8", "replace")
        elif name == b"retry":
            if value.isdigit():
                self._retry = int(value)
        elif name == b"data":  # "data" with no colon at all
            self._data.append(b"")
