"""CompactifAITranscriptReader against a MockTransport server."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.readers.base import BaseReader
from llama_index.core.schema import Document, MetadataMode
from pydantic import SecretStr

from compactifai import AudioFileError, AudioFileNotFoundError
from compactifai.transcripts import (
    AudioSkippedWarning,
    AudioTranscriptionError,
    NoSpeechWarning,
)
from compactifai.types import TranscriptionText
from llama_index_compactifai.readers import CompactifAITranscriptReader
from tests.helpers import async_client, json_response, sync_client
from tests.unit.test_transcripts import (
    WAV,
    ListeningServer,
    TranscribeServer,
    big_file,
    form_fields,
    silent_wav,
    transcription,
    uploaded_name,
    write_audio,
)


def reader(server: TranscribeServer | None = None, **kwargs: Any) -> CompactifAITranscriptReader:
    server = server or TranscribeServer()
    return CompactifAITranscriptReader(
        client=sync_client(server), async_client=async_client(server.handle), **kwargs
    )


def sources(docs: list[Document]) -> list[str]:
    return [d.metadata["source"] for d in docs]


def test_it_is_a_llama_index_reader() -> None:
    assert issubclass(CompactifAITranscriptReader, BaseReader)


# ---------------------------------------------------------------- input forms


def test_every_input_form(tmp_path: Path) -> None:
    paths = write_audio(tmp_path, "a.wav", "b.mp3", "sub/c.wav", "notes.txt")
    server = TranscribeServer()
    r = reader(server)
    assert sources(r.load_data(str(paths[0]))) == [str(paths[0])]
    assert sources(r.load_data(paths[0])) == [str(paths[0])]
    assert sources(r.load_data(paths[:2])) == [str(p) for p in paths[:2]]
    assert [Path(s).name for s in sources(r.load_data(tmp_path))] == ["a.wav", "b.mp3", "c.wav"]
    assert [Path(s).name for s in sources(r.load_data(tmp_path, glob="*.wav"))] == ["a.wav"]
    assert sources(r.load_data(WAV, filename="call.wav")) == ["call.wav"]
    assert sources(r.load_data(("memo.webm", WAV))) == ["memo.webm"]
    assert sources(r.load_data([paths[0], ("memo.webm", WAV)])) == [str(paths[0]), "memo.webm"]
    assert form_fields(server.requests[-1])["file"] == ["memo.webm"]


def test_lazy_load_data_is_lazy(tmp_path: Path) -> None:
    paths = write_audio(tmp_path, "a.wav", "b.wav")
    server = TranscribeServer()
    docs = iter(reader(server).lazy_load_data(paths))
    assert server.requests == []
    next(docs)
    assert server.names == ["a.wav"]


def test_extra_info_is_added(tmp_path: Path) -> None:
    [doc] = reader().load_data(("a.wav", WAV), extra_info={"meeting": "Q3"})
    assert doc.metadata["meeting"] == "Q3" and doc.metadata["source"] == "a.wav"


# ---------------------------------------------------------------- modes and metadata


def test_file_mode(tmp_path: Path) -> None:
    [path] = write_audio(tmp_path, "a.wav")
    [doc] = reader().load_data(path)
    assert doc.text == "a.wav part 0. a.wav part 1."
    assert doc.metadata == {
        "source": str(path),
        "model": "cai-whisper-large-v3-turbo-slim",
        "language": "en",
        "duration": 4.0,
        "segments": [
            {"id": 0, "start": 0.0, "end": 2.0, "text": "a.wav part 0."},
            {"id": 1, "start": 2.0, "end": 4.0, "text": "a.wav part 1."},
        ],
    }
    # the segment list is not embedded, nor shown to the LLM
    assert "segments" in doc.excluded_embed_metadata_keys
    assert "segments" in doc.excluded_llm_metadata_keys
    assert "part 0." not in doc.get_metadata_str(MetadataMode.EMBED)
    assert "part 0." not in doc.get_metadata_str(MetadataMode.LLM)
    assert str(path) in doc.get_content(MetadataMode.EMBED)


def test_segment_mode(tmp_path: Path) -> None:
    [path] = write_audio(tmp_path, "a.wav")
    docs = reader(mode="segment", model="whisper-base").load_data(path)
    assert [d.text for d in docs] == ["a.wav part 0.", "a.wav part 1."]
    assert docs[1].metadata == {
        "source": str(path),
        "model": "whisper-base",
        "language": "en",
        "segment_id": 1,
        "start": 2.0,
        "end": 4.0,
        "avg_logprob": -0.2,
        "no_speech_prob": 0.01,
    }
    llm = docs[1].get_metadata_str(MetadataMode.LLM)
    assert "start: 2.0" in llm and "end: 4.0" in llm and "avg_logprob" not in llm
    assert docs[1].get_metadata_str(MetadataMode.EMBED) == f"source: {path}"


def test_a_long_transcript_splits_despite_its_segment_metadata(tmp_path: Path) -> None:
    # 400 segments of metadata would be far over a 256-token chunk if it were counted
    server = TranscribeServer()
    server._answer = lambda request: _long_answer()  # type: ignore[method-assign]
    [doc] = reader(server).load_data(("long.wav", WAV))
    assert len(doc.metadata["segments"]) == 400
    nodes = SentenceSplitter(chunk_size=256, chunk_overlap=0).get_nodes_from_documents([doc])
    assert len(nodes) > 1
    assert all("segments" in n.excluded_embed_metadata_keys for n in nodes)


def _long_answer() -> Any:
    from tests.helpers import json_response
    from tests.unit.test_transcripts import transcription

    return json_response(transcription("long.wav", n=400))


def test_every_documented_form_field_is_sent() -> None:
    server = TranscribeServer()
    reader(server, language="es", prompt="Reunión", temperature=0.4).load_data(("a.wav", WAV))
    fields = form_fields(server.requests[0])
    assert (fields["model"], fields["language"], fields["prompt"], fields["temperature"]) == (
        ["cai-whisper-large-v3-turbo-slim"], ["es"], ["Reunión"], ["0.4"]
    )


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda d: write_audio(d, "a.aac")[0], AudioFileError),
        (lambda d: d / "missing.wav", AudioFileNotFoundError),
        (lambda d: write_audio(d, "empty.wav", content=b"")[0], AudioFileError),
        (lambda d: big_file(d / "big.wav"), AudioFileError),
    ],
    ids=["extension", "missing", "empty", "too-large"],
)
async def test_bad_input_is_refused_before_any_upload(tmp_path: Path, make, error) -> None:
    good = write_audio(tmp_path, "good.wav")[0]
    bad = make(tmp_path)
    server = TranscribeServer()
    r = reader(server)
    with pytest.raises(error, match=bad.name):
        r.load_data([good, bad])
    with pytest.raises(error, match=bad.name):
        list(r.lazy_load_data([good, bad]))
    with pytest.raises(error, match=bad.name):
        await r.aload_data([good, bad])
    assert server.requests == []


def test_skip_and_raise(tmp_path: Path) -> None:
    a, failing, c = write_audio(tmp_path, "a.wav", "b.wav", "c.wav")
    bad = tmp_path / "gone.wav"
    server = TranscribeServer(fail={"b.wav": 500})
    with pytest.warns(AudioSkippedWarning) as warned:
        docs = reader(server, on_error="skip").load_data([a, bad, failing, c])
    assert sources(docs) == [str(a), str(c)]
    assert len(warned) == 2
    with pytest.raises(AudioTranscriptionError, match=r"b\.wav") as info:
        reader(server).load_data([a, failing, c])
    assert info.value.source == str(failing)


async def test_async_skip_and_raise(tmp_path: Path) -> None:
    paths = write_audio(tmp_path, "a.wav", "b.wav", "c.wav")
    server = TranscribeServer(fail={"b.wav": 500})
    with pytest.warns(AudioSkippedWarning, match=r"b\.wav"):
        docs = await reader(server, on_error="skip").aload_data(paths)
    assert sources(docs) == [str(paths[0]), str(paths[2])]
    with pytest.raises(AudioTranscriptionError, match=r"b\.wav"):
        await reader(server).aload_data(paths)


# ---------------------------------------------------------------- async


async def test_aload_data_bounds_concurrency_and_keeps_order(tmp_path: Path) -> None:
    paths = write_audio(tmp_path, *[f"f{i}.wav" for i in range(8)])
    server = TranscribeServer(delays={"f0.wav": 0.05}, default_delay=0.01)
    docs = await reader(server, max_concurrency=3).aload_data(paths)
    assert sources(docs) == [str(p) for p in paths]
    assert server.max_in_flight == 3
    server = TranscribeServer(default_delay=0.01)
    docs = await reader(server).alazy_load_data(paths)  # LlamaIndex's: awaits a list
    assert len(list(docs)) == 8 and server.max_in_flight == 4


async def test_aload_matches_load(tmp_path: Path) -> None:
    paths = write_audio(tmp_path, "a.wav", "b.wav")
    r = reader(mode="segment")
    sync_docs, async_docs = r.load_data(paths), await r.aload_data(paths)
    assert [(d.text, d.metadata) for d in sync_docs] == [
        (d.text, d.metadata) for d in async_docs
    ]


# ---------------------------------------------------------------- progress, configuration


def test_progress_is_off_by_default(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    assert len(reader().load_data(("a.wav", WAV))) == 1
    with pytest.raises(ImportError, match="compactifai-integrations\\[progress\\]"):
        monkeypatch.setitem(sys.modules, "tqdm", None)
        reader(show_progress=True).load_data(("a.wav", WAV))


def test_bad_settings_are_refused_when_built() -> None:
    with pytest.raises(ValueError, match="temperature"):
        CompactifAITranscriptReader(temperature=-0.1)
    with pytest.raises(ValueError, match="max_concurrency"):
        CompactifAITranscriptReader(max_concurrency=0)


def test_key_and_url_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("COMPACTIFAI_API_KEY", "sk-from-env-123")
    monkeypatch.setenv("COMPACTIFAI_BASE_URL", "http://127.0.0.1:9/v1")
    r = CompactifAITranscriptReader()
    assert isinstance(r.api_key, SecretStr)
    assert r.clients._sync is None
    client = r.clients.sync()
    assert client is r.clients.sync()
    assert client.base_url == "http://127.0.0.1:9/v1"
    assert client.config.api_key.get_secret_value() == "sk-from-env-123"
    assert "sk-from-env-123" not in repr(vars(r))
    explicit = CompactifAITranscriptReader(api_key="sk-arg-456", base_url="http://h:1/v1")
    assert explicit.clients.aio().config.api_key.get_secret_value() == "sk-arg-456"


def test_reader_pickles(monkeypatch) -> None:
    monkeypatch.setenv("COMPACTIFAI_API_KEY", "sk-from-env-123")
    r = CompactifAITranscriptReader(mode="segment")
    r.clients.sync()
    copy = pickle.loads(pickle.dumps(r))
    assert copy.options == r.options and copy.clients._sync is None
    assert copy.clients.sync().config.api_key.get_secret_value() == "sk-from-env-123"


# ---------------------------------------------------------------- today's service


LECTURE = Path(__file__).resolve().parents[2] / "fixtures" / "lecture.wav"


def test_the_detected_language_is_in_the_metadata_and_none_is_sent() -> None:
    server = TranscribeServer()
    server._answer = lambda request: json_response(  # type: ignore[method-assign]
        transcription(uploaded_name(request), language="es")
    )
    [doc] = reader(server).load_data(("a.wav", WAV))
    assert doc.metadata["language"] == "es"
    assert "language" not in form_fields(server.requests[0])


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_documents_can_hold_subtitles(fmt: str) -> None:
    [doc] = reader(output_format=fmt).load_data(("a.wav", WAV))
    cues = TranscriptionText(format=fmt, content=doc.text).segments()
    assert [(c.start, c.end, c.text) for c in cues] == [
        (0.0, 2.0, "a.wav part 0."), (2.0, 4.0, "a.wav part 1.")
    ]
    assert doc.metadata["format"] == fmt
    assert "format" not in doc.get_metadata_str(MetadataMode.EMBED)


async def test_a_silent_file_warns_and_is_flagged() -> None:
    server = ListeningServer()
    with pytest.warns(NoSpeechWarning, match=r"'quiet\.wav' holds no speech"):
        [doc] = reader(server).load_data(("quiet.wav", silent_wav()))
    assert doc.metadata["no_speech"] is True
    assert "no_speech" not in doc.get_metadata_str(MetadataMode.EMBED)
    with pytest.warns(NoSpeechWarning):
        docs = await reader(server, mode="segment").aload_data(
            [("quiet.wav", silent_wav()), ("a.wav", WAV)]
        )
    assert sources(docs) == ["a.wav", "a.wav"]


async def test_a_recording_over_the_limit_is_split_and_its_timestamps_offset() -> None:
    pytest.importorskip("av")
    server = TranscribeServer()
    docs = reader(server, mode="segment", max_upload_bytes=100_000).load_data(LECTURE)
    assert sorted(server.names) == [f"lecture.part{i}.wav" for i in range(3)]
    assert [d.metadata["segment_id"] for d in docs] == list(range(6))
    starts = [d.metadata["start"] for d in docs]
    assert starts == sorted(starts) and starts[4] == pytest.approx(5.66)
    assert "parts" not in docs[0].get_metadata_str(MetadataMode.LLM)
    adocs = await reader(TranscribeServer(), mode="segment", max_upload_bytes=100_000,
                         max_concurrency=2).aload_data(LECTURE)
    assert [d.metadata for d in adocs] == [d.metadata for d in docs]
    with pytest.raises(AudioFileError, match="100,000 bytes"):
        reader(max_upload_bytes=100_000, split_long=False).load_data(LECTURE)
