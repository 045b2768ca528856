"""The SSE decoder: line ends, multi-line data, comments, fields, splits anywhere."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from compactifai._sse import ServerSentEvent, SSEDecoder


def decode(*chunks: bytes) -> list[ServerSentEvent]:
    d = SSEDecoder()
    events = [e for c in chunks for e in d.feed(c)]
    return events + d.flush()


def test_lf_crlf_and_cr_line_ends_are_equal() -> None:
    lf = decode(b"data: a\n\ndata: b\n\n")
    assert [e.data for e in lf] == ["a", "b"]
    assert decode(b"data: a\r\n\r\ndata: b\r\n\r\n") == lf
    assert decode(b"data: a\r\rdata: b\r\r") == lf


def test_crlf_split_between_reads() -> None:
    assert [e.data for e in decode(b"data: a\r", b"\n\r", b"\ndata: b\r\n\r\n")] == ["a", "b"]


def test_multi_line_data_is_joined_with_newlines() -> None:
    assert decode(b"data: {\ndata: \"a\": 1\ndata: }\n\n")[0].data == '{\n"a": 1\n}'


def test_comments_and_unknown_fields_are_ignored() -> None:
    events = decode(b": keep-alive\n\nfoo: bar\ndata: x\n\n:\n\n")
    assert [e.data for e in events] == ["x"]


def test_event_id_and_retry_fields() -> None:
    (event,) = decode(b"event: error\nid: 7\nretry: 1500\ndata: {}\n\n")
    assert event == ServerSentEvent("error", "{}", "7", 1500)


def test_data_without_space_and_without_colon() -> None:
    assert [e.data for e in decode(b"data:x\n\ndata\n\n")] == ["x", ""]


def test_utf8_character_split_across_reads() -> None:
    raw = "data: {\"t\": \"héllo 🌍\"}\n\n".encode()
    cut = raw.index("🌍".encode()) + 2
    assert decode(raw[:cut], raw[cut:])[0].data == '{"t": "héllo 🌍"}'


def test_event_without_final_blank_line_is_flushed() -> None:
    assert [e.data for e in decode(b"data: last")] == ["last"]


def test_done_marker_is_plain_data() -> None:
    assert decode(b"data: [DONE]\n\n")[0].data == "[DONE]"


_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
    max_size=30,
)
_event = st.tuples(st.sampled_from(["message", "error", "ping"]), st.lists(_text, min_size=1,
                                                                         max_size=3))


def _encode(events: list[tuple[str, list[str]]], newline: bytes) -> bytes:
    out = b""
    for name, lines in events:
        if name != "message":
            out += b"event: " + name.encode() + newline
        for line in lines:
            out += b"data: " + line.encode() + newline
        out += newline
    return out


@settings(max_examples=200, deadline=None)
@given(
    events=st.lists(_event, max_size=8),
    newline=st.sampled_from([b"\n", b"\r\n", b"\r"]),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12),
)
def test_any_split_of_a_valid_stream_decodes_to_the_same_events(events, newline, cuts) -> None:
    raw = _encode(events, newline)
    whole = decode(raw)
    points = sorted({c % (len(raw) + 1) for c in cuts})
    pieces = [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)], strict=False)]
    assert decode(*pieces) == whole
    assert [(e.event, e.data) for e in whole] == [(n, "\n".join(ls)) for n, ls in events]
