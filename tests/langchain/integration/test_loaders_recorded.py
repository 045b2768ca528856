"""CompactifAITranscriptLoader on real speech, replayed from cassettes of the local server.

``tests/fixtures/lecture.wav`` (espeak-ng, 16 kHz mono, 8.25 s) says three sentences with a
pause between them: "Today we learn how mountains are formed." / "The final test is in room
twelve." / "Homework is due next Tuesday." The local server's Whisper base transcribes it
into three timestamped segments.

Record (against the local server; see ``tests/conftest.py``)::

    COMPACTIFAI_RECORD=1 COMPACTIFAI_BASE_URL=<server>/v1 COMPACTIFAI_API_KEY=<its key> \
        python -m pytest tests/langchain/integration/test_loaders_recorded.py
"""

from __future__ import annotations

import itertools
import math
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from compactifai import BadRequestError
from compactifai.transcripts import (
    AudioSkippedWarning,
    AudioTranscriptionError,
    NoSpeechWarning,
)
from compactifai.types import TranscriptionText
from langchain_compactifai.document_loaders import CompactifAITranscriptLoader

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
    for before, after in itertools.pairwise(segments):
        assert before["end"] <= after["start"] + 0.05


class BM25Retriever(BaseRetriever):
    """A small offline Okapi BM25 retriever over Documents (no embeddings)."""

    docs: list[Document]
    k: int = 1
    k1: float = 1.5
    b: float = 0.75

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        corpus = [words(d.page_content).split() for d in self.docs]
        avg = sum(map(len, corpus)) / len(corpus)
        df = Counter(term for doc in corpus for term in set(doc))

        def score(doc: list[str]) -> float:
            tf = Counter(doc)
            total = 0.0
            for term in words(query).split():
                idf = math.log(1 + (len(corpus) - df[term] + 0.5) / (df[term] + 0.5))
                norm = tf[term] + self.k1 * (1 - self.b + self.b * len(doc) / avg)
                total += idf * tf[term] * (self.k1 + 1) / norm
            return total

        ranked = sorted(range(len(corpus)), key=lambda i: score(corpus[i]), reverse=True)
        return [self.docs[i] for i in ranked[: self.k]]


def test_file_mode_transcribes_the_lecture(cassette: Any) -> None:
    [doc] = CompactifAITranscriptLoader(LECTURE, language="en", temperature=0).load()
    text = words(doc.page_content)
    assert "today we learn how mountains are formed" in text
    assert "the final test is in room" in text
    assert "homework is due next tuesday" in text
    meta = doc.metadata
    assert meta["source"] == str(LECTURE)
    # the documented default, the service's Whisper today (an alias of whisper-base locally)
    assert meta["model"] == "cai-whisper-large-v3-turbo-slim"
    assert meta["language"] == "en"
    assert meta["duration"] == pytest.approx(DURATION, abs=0.1)
    assert len(meta["segments"]) == 3
    assert set(meta["segments"][0]) == {"id", "start", "end", "text"}
    assert [s["id"] for s in meta["segments"]] == [0, 1, 2]
    assert_timeline(meta["segments"], meta["duration"])


def test_segment_mode_and_rag_cite_the_moment(cassette: Any) -> None:
    loader = CompactifAITranscriptLoader(
        LECTURE, mode="segment", model="whisper-base", language="en", temperature=0
    )
    docs = loader.load()
    assert [words(d.page_content) for d in docs][2] == "homework is due next tuesday"
    metas = [d.metadata for d in docs]
    assert_timeline(metas, DURATION)
    for i, meta in enumerate(metas):
        assert meta["segment_id"] == i
        assert meta["source"] == str(LECTURE)
        assert (meta["model"], meta["language"]) == ("whisper-base", "en")
        assert meta["avg_logprob"] < 0 and 0 <= meta["no_speech_prob"] <= 1

    retriever = BM25Retriever(docs=docs)
    [hit] = retriever.invoke("When is the homework due?")
    assert "tuesday" in words(hit.page_content)
    assert hit.metadata["start"] == pytest.approx(6.0, abs=1.0)
    [hit] = retriever.invoke("Which room is the final test in?")
    assert "room" in words(hit.page_content)
    assert hit.metadata["segment_id"] == 1
    assert metas[0]["end"] <= hit.metadata["start"] < metas[2]["start"]


async def test_async_folder_skips_audio_the_server_refuses(
    cassette: Any, tmp_path: Path
) -> None:
    shutil.copyfile(LECTURE, tmp_path / "a-lecture.wav")
    (tmp_path / "b-broken.wav").write_bytes(b"this is not audio at all " * 40)
    loader = CompactifAITranscriptLoader(
        tmp_path, glob="*.wav", mode="segment", language="en", temperature=0,
        on_error="skip", max_concurrency=2,
    )
    with pytest.warns(AudioSkippedWarning, match=r"b-broken\.wav"):
        docs = await loader.aload()
    assert {Path(d.metadata["source"]).name for d in docs} == {"a-lecture.wav"}
    assert len(docs) == 3
    assert_timeline([d.metadata for d in docs], DURATION)


async def test_async_raise_names_the_refused_file(cassette: Any, tmp_path: Path) -> None:
    (tmp_path / "b-broken.wav").write_bytes(b"this is not audio at all " * 40)
    loader = CompactifAITranscriptLoader(tmp_path / "b-broken.wav", language="en")
    with pytest.raises(AudioTranscriptionError, match=r"b-broken\.wav") as info:
        await loader.aload()
    assert isinstance(info.value.error, BadRequestError)



def test_a_recording_split_in_parts_keeps_its_timeline(cassette: Any) -> None:
    """The lecture over a 100 kB limit: three parts, cut in its pauses, sent as WAV parts;
    no language is sent (the server detects it) and the segments keep the whole timeline."""
    loader = CompactifAITranscriptLoader(
        LECTURE, mode="segment", model="whisper-base", temperature=0,
        max_upload_bytes=100_000, max_concurrency=2,
    )
    docs = loader.load()
    metas = [d.metadata for d in docs]
    assert [m["segment_id"] for m in metas] == list(range(len(docs)))
    assert all(m["parts"] == 3 and m["language"] == "en" for m in metas)
    assert_timeline(metas, DURATION)
    text = words(" ".join(d.page_content for d in docs))
    assert "mountains are formed" in text and "homework is due next tuesday" in text
    [hit] = BM25Retriever(docs=docs).invoke("When is the homework due?")
    assert hit.metadata["start"] == pytest.approx(6.0, abs=1.0)  # offset to the whole file


def test_subtitles_and_a_silent_file(cassette: Any, tmp_path: Path) -> None:
    import wave

    silence = tmp_path / "silence.wav"
    with wave.open(str(silence), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(b"\0\0" * 16000 * 3)
    loader = CompactifAITranscriptLoader(
        [LECTURE, silence], model="whisper-base", temperature=0, output_format="vtt"
    )
    with pytest.warns(NoSpeechWarning, match=r"silence\.wav"):
        lecture, quiet = loader.load()
    cues = TranscriptionText(format="vtt", content=lecture.page_content).segments()
    assert lecture.page_content.startswith("WEBVTT\n\n") and len(cues) == 3
    assert "tuesday" in words(cues[2].text) and cues[2].end <= DURATION + 0.05
    assert quiet.metadata["no_speech"] is True and "no_speech" not in lecture.metadata
