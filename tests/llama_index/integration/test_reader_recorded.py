"""CompactifAITranscriptReader on real speech, replayed from cassettes of the local server.

``tests/fixtures/lecture.wav`` (espeak-ng, 16 kHz mono, 8.25 s) says three sentences with a
pause between them: "Today we learn how mountains are formed." / "The final test is in room
twelve." / "Homework is due next Tuesday." The local server's Whisper base transcribes it
into three timestamped segments.

Record (against the local server; see ``tests/conftest.py``)::

    COMPACTIFAI_RECORD=1 COMPACTIFAI_BASE_URL=<server>/v1 COMPACTIFAI_API_KEY=<its key> \
        python -m pytest tests/llama_index/integration/test_reader_recorded.py
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from llama_index.core import SimpleKeywordTableIndex
from llama_index.core.llms import MockLLM
from llama_index.core.schema import MetadataMode

from llama_index_compactifai.readers import CompactifAITranscriptReader

LECTURE = Path(__file__).parents[2] / "fixtures" / "lecture.wav"
DURATION = 8.25


def words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def assert_timeline(segments: list[dict[str, Any]], duration: float) -> None:
    """Segments follow each other in time and stay within the audio."""
    assert segments
    for seg in segments:
        assert 0.0 <= seg["start"] < seg["end"] <= duration + 0.05
    starts = [s["start"] for s in segments]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)


def test_file_mode_transcribes_the_lecture(cassette: Any) -> None:
    reader = CompactifAITranscriptReader(model="whisper-base", language="en", temperature=0)
    [doc] = reader.load_data(LECTURE, extra_info={"course": "geology"})
    text = words(doc.text)
    assert "today we learn how mountains are formed" in text
    assert "the final test is in room" in text
    assert "homework is due next tuesday" in text
    meta = doc.metadata
    assert (meta["source"], meta["model"], meta["language"], meta["course"]) == (
        str(LECTURE), "whisper-base", "en", "geology"
    )
    assert meta["duration"] == pytest.approx(DURATION, abs=0.1)
    assert len(meta["segments"]) == 3
    assert_timeline(meta["segments"], meta["duration"])
    # the segment list stays out of what is embedded and shown to the LLM
    assert "segments" not in doc.get_content(MetadataMode.EMBED)
    assert "segments" not in doc.get_content(MetadataMode.LLM)


async def test_segment_mode_async_and_rag_cite_the_moment(cassette: Any) -> None:
    reader = CompactifAITranscriptReader(mode="segment", language="en", temperature=0)
    nodes = await reader.aload_data([LECTURE])
    assert len(nodes) == 3
    metas = [n.metadata for n in nodes]
    assert_timeline(metas, DURATION)
    assert [m["segment_id"] for m in metas] == [0, 1, 2]
    assert all(m["model"] == "cai-whisper-large-v3-turbo-slim" and m["source"] == str(LECTURE) for m in metas)

    # an offline retriever: keyword table, no embeddings, no LLM call (the metadata shown to
    # the LLM, the source path included, is indexed too: keep enough keywords per segment)
    index = SimpleKeywordTableIndex.from_documents(
        nodes, llm=MockLLM(), max_keywords_per_chunk=50
    )
    retriever = index.as_retriever(retriever_mode="simple")
    [hit] = retriever.retrieve("When is the homework due?")
    assert "tuesday" in words(hit.node.get_content())
    assert hit.node.metadata["start"] == pytest.approx(6.0, abs=1.0)
    assert hit.node.metadata["start"] > metas[1]["start"]
    top = retriever.retrieve("Which room is the final test in?")[0]
    assert top.node.metadata["segment_id"] == 1
    assert metas[0]["end"] <= top.node.metadata["start"] < metas[2]["start"]



async def test_a_recording_split_in_parts_keeps_its_timeline(cassette: Any) -> None:
    reader = CompactifAITranscriptReader(
        mode="segment", model="whisper-base", temperature=0, max_upload_bytes=100_000
    )
    nodes = await reader.aload_data(LECTURE)
    metas = [n.metadata for n in nodes]
    assert [m["segment_id"] for m in metas] == list(range(len(nodes)))
    assert all(m["parts"] == 3 and m["language"] == "en" for m in metas)  # detected
    assert_timeline(metas, DURATION)
    assert "tuesday" in words(nodes[-1].text) and metas[-1]["start"] > 5.0
