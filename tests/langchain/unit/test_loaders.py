"""CompactifAITranscriptLoader / CompactifAITranscriptParser against a MockTransport server."""

from __future__ import annotations

import pickle
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from langchain_core.document_loaders import BaseBlobParser, BaseLoader, Blob
from langchain_core.documents import Document
from pydantic import SecretStr

from compactifai import AudioFileError, AudioFileNotFoundError
from compactifai.transcripts import (
    AudioSkippedWarning,
    AudioTranscriptionError,
    NoSpeechWarning,
)
from langchain_compactifai.document_loaders import (
    CompactifAITranscriptLoader,
    CompactifAITranscriptParser,
)
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


def loader(file_path: Any, server: TranscribeServer | None = None, **kwargs: Any):
    server = server or TranscribeServer()
    return CompactifAITranscriptLoader(
        file_path,
        client=sync_client(server),
        async_client=async_client(server.handle),
        **kwargs,
    )


def sources(docs: list[Document]) -> list[str]:
    return [d.metadata["source"] for d in docs]


def test_it_is_a_langchain_loader_and_parser() -> None:
    assert issubclass(CompactifAITranscriptLoader, BaseLoader)
    assert issubclass(CompactifAITranscriptParser, BaseBlobParser)


# ---------------------------------------------------------------- input forms


def test_one_path(tmp_path: Path) -> None:
    [path] = write_audio(tmp_path, "a.wav")
    server = TranscribeServer()
    for form in (str(path), path):
        [doc] = loader(form, server).load()
        assert doc.page_content == "a.wav part 0. a.wav part 1."
        assert doc.metadata["source"] == str(path)
    assert [form_fields(r)["file"] for r in server.requests] == [["a.wav"], ["a.wav"]]


def test_a_list_of_paths(tmp_path: Path) -> None:
    paths = write_audio(tmp_path, "a.wav", "b.mp3", "c.webm")
    docs = loader(paths).load()
    assert sources(docs) == [str(p) for p in paths]


def test_a_folder_with_a_glob(tmp_path: Path) -> None:
    write_audio(tmp_path, "a.wav", "b.mp3", "sub/c.wav", "notes.txt")
    assert [Path(s).name for s in sources(loader(tmp_path).load())] == [
        "a.wav", "b.mp3", "c.wav"
    ]
    assert [Path(s).name for s in sources(loader(tmp_path, glob="**/*.wav").load())] == [
        "a.wav", "c.wav"
    ]


def test_bytes_with_a_filename_and_a_named_tuple() -> None:
    server = TranscribeServer()
    [doc] = loader(WAV, server, filename="call.wav").load()
    assert doc.metadata["source"] == "call.wav"
    [doc] = loader(("memo.mp4", WAV), server).load()
    assert doc.metadata["source"] == "memo.mp4"
    assert [form_fields(r)["file"][0] for r in server.requests] == ["call.wav", "memo.mp4"]


def test_blobs(tmp_path: Path) -> None:
    [path] = write_audio(tmp_path, "a.wav")
    server = TranscribeServer()
    blobs = [
        Blob.from_path(path, metadata={"meeting": "Q3"}),
        Blob.from_data(WAV, path="calls/b.mp3"),
        Blob.from_data(WAV, mime_type="audio/webm", metadata={"source": "s3://x/c"}),
    ]
    docs = loader(blobs, server).load()
    assert sources(docs) == [str(path), "calls/b.mp3", "s3://x/c"]
    assert docs[0].metadata["meeting"] == "Q3"
    assert [form_fields(r)["file"][0] for r in server.requests] == ["a.wav", "b.mp3", "c.webm"]
    [one] = loader(Blob.from_path(path), server).load()
    assert one.metadata["source"] == str(path)


def test_a_list_mixing_forms(tmp_path: Path) -> None:
    [path] = write_audio(tmp_path, "a.wav")
    docs = loader([path, ("b.wav", WAV), Blob.from_data(WAV, path="c.wav")]).load()
    assert sources(docs) == [str(path), "b.wav", "c.wav"]


# ---------------------------------------------------------------- modes and fields


def test_file_mode_metadata(tmp_path: Path) -> None:
    [path] = write_audio(tmp_path, "a.wav")
    [doc] = loader(path).load()
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


def test_segment_mode_metadata(tmp_path: Path) -> None:
    [path] = write_audio(tmp_path, "a.wav")
    docs = loader(path, mode="segment", model="whisper-base").load()
    assert [d.page_content for d in docs] == ["a.wav part 0.", "a.wav part 1."]
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


def test_every_documented_form_field_is_sent() -> None:
    server = TranscribeServer()
    loader(("a.wav", WAV), server, language="de", prompt="Quartalsplanung",
           temperature=0.0, model="whisper-base").load()
    fields = form_fields(server.requests[0])
    assert fields["model"] == ["whisper-base"]
    assert fields["language"] == ["de"]
    assert fields["prompt"] == ["Quartalsplanung"]
    assert fields["temperature"] == ["0.0"]
    default = TranscribeServer()
    loader(("a.wav", WAV), default).load()
    assert form_fields(default.requests[0])["model"] == ["cai-whisper-large-v3-turbo-slim"]
    assert "language" not in form_fields(default.requests[0])


def test_bad_settings_are_refused_when_built() -> None:
    with pytest.raises(ValueError, match="temperature"):
        CompactifAITranscriptLoader("a.wav", temperature=2)
    with pytest.raises(ValueError, match="mode"):
        CompactifAITranscriptLoader("a.wav", mode="pages")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="on_error"):
        CompactifAITranscriptLoader("a.wav", on_error="ignore")  # type: ignore[arg-type]


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
    # the bad file comes last: nothing is uploaded, not even the good file before it
    with pytest.raises(error, match=bad.name):
        loader([good, bad], server).load()
    with pytest.raises(error, match=bad.name):
        await loader([good, bad], server).aload()
    with pytest.raises(error, match=bad.name):
        list(loader([good, bad], server).lazy_load())
    assert server.requests == []


def test_bytes_without_a_filename_are_refused_before_upload() -> None:
    server = TranscribeServer()
    with pytest.raises(AudioFileError, match="filename"):
        loader(WAV, server).load()
    assert server.requests == []


def test_skip_loads_the_good_files_among_bad_ones(tmp_path: Path) -> None:
    a, c = write_audio(tmp_path, "a.wav", "c.wav")
    bad = write_audio(tmp_path, "b.aac")[0]
    failing = write_audio(tmp_path, "d.wav")[0]
    server = TranscribeServer(fail={"d.wav": 500})
    with pytest.warns(AudioSkippedWarning) as warned:
        docs = loader([a, bad, failing, c], server, on_error="skip").load()
    assert sources(docs) == [str(a), str(c)]
    assert [Path(str(w.message).split("'")[1]).name for w in warned] == ["b.aac", "d.wav"]
    assert server.names == ["a.wav", "d.wav", "c.wav"]


def test_raise_names_the_failed_file(tmp_path: Path) -> None:
    paths = write_audio(tmp_path, "a.wav", "b.wav", "c.wav")
    server = TranscribeServer(fail={"b.wav": 500})
    docs: list[Document] = []
    with pytest.raises(AudioTranscriptionError, match=r"b\.wav") as info:
        docs.extend(loader(paths, server).lazy_load())
    assert info.value.source == str(paths[1])
    assert sources(docs) == [str(paths[0])]  # what came before the failure was yielded


async def test_async_skip_and_raise(tmp_path: Path) -> None:
    paths = write_audio(tmp_path, "a.wav", "b.wav", "c.wav")
    server = TranscribeServer(fail={"b.wav": 500})
    with pytest.warns(AudioSkippedWarning, match=r"b\.wav"):
        docs = await loader(paths, server, on_error="skip").aload()
    assert sources(docs) == [str(paths[0]), str(paths[2])]
    with pytest.raises(AudioTranscriptionError, match=r"b\.wav"):
        await loader(paths, server).aload()


# ---------------------------------------------------------------- async


async def test_alazy_load_bounds_concurrency_and_keeps_input_order(tmp_path: Path) -> None:
    paths = write_audio(tmp_path, *[f"f{i}.wav" for i in range(9)])
    server = TranscribeServer(delays={"f0.wav": 0.05}, default_delay=0.01)
    docs = [d async for d in loader(paths, server, max_concurrency=2).alazy_load()]
    assert sources(docs) == [str(p) for p in paths]
    assert server.max_in_flight == 2
    server = TranscribeServer(default_delay=0.01)
    docs = await loader(paths, server).aload()
    assert len(docs) == 9 and server.max_in_flight == 4  # the default bound


async def test_aload_matches_load(tmp_path: Path) -> None:
    paths = write_audio(tmp_path, "a.wav", "b.wav")
    ld = loader(paths, mode="segment")
    assert [d.model_dump() for d in await ld.aload()] == [d.model_dump() for d in ld.load()]


# ---------------------------------------------------------------- parser


def test_parser_parses_a_blob(tmp_path: Path) -> None:
    [path] = write_audio(tmp_path, "a.wav")
    server = TranscribeServer()
    parser = CompactifAITranscriptParser(mode="segment", client=sync_client(server))
    docs = parser.parse(Blob.from_path(path))
    assert [(d.page_content, d.metadata["start"]) for d in docs] == [
        ("a.wav part 0.", 0.0), ("a.wav part 1.", 2.0)
    ]


async def test_parser_async(tmp_path: Path) -> None:
    server = TranscribeServer()
    parser = CompactifAITranscriptParser(async_client=async_client(server.handle))
    [doc] = [d async for d in parser.alazy_parse(Blob.from_data(WAV, path="x.wav"))]
    assert doc.metadata["source"] == "x.wav"


def test_parser_refuses_a_bad_blob_before_upload() -> None:
    server = TranscribeServer()
    parser = CompactifAITranscriptParser(client=sync_client(server))
    with pytest.raises(AudioFileError, match="empty"):
        parser.parse(Blob.from_data(b"", path="x.wav"))
    with pytest.raises(AudioFileError, match="takes only"):
        parser.parse(Blob.from_data(WAV, path="x.aac"))
    assert server.requests == []


# ---------------------------------------------------------------- progress


def test_progress_is_off_by_default_and_tqdm_not_imported(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # importing it would fail
    [path] = write_audio(tmp_path, "a.wav")
    assert len(loader(path).load()) == 1


def test_progress_bar_when_asked(tmp_path: Path, monkeypatch) -> None:
    bars: list[dict[str, Any]] = []

    class Bar:
        def __init__(self, **kwargs: Any) -> None:
            self.state = {"n": 0, **kwargs}
            bars.append(self.state)

        def update(self, n: int) -> None:
            self.state["n"] += n

        def close(self) -> None:
            self.state["closed"] = True

    auto = types.ModuleType("tqdm.auto")
    auto.tqdm = Bar  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tqdm.auto", auto)
    paths = write_audio(tmp_path, "a.wav", "b.wav")
    loader(paths, show_progress=True).load()
    assert bars[0]["total"] == 2 and bars[0]["n"] == 2 and bars[0]["closed"]


def test_progress_without_tqdm(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    monkeypatch.setitem(sys.modules, "tqdm", None)
    [path] = write_audio(tmp_path, "a.wav")
    with pytest.raises(ImportError, match="compactifai-integrations\\[progress\\]"):
        loader(path, show_progress=True).load()


# ---------------------------------------------------------------- configuration


def test_key_and_url_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("COMPACTIFAI_API_KEY", "sk-from-env-123")
    monkeypatch.setenv("COMPACTIFAI_BASE_URL", "http://127.0.0.1:9/v1")
    ld = CompactifAITranscriptLoader("a.wav")
    assert isinstance(ld.parser.api_key, SecretStr)
    assert ld.parser.api_key.get_secret_value() == "sk-from-env-123"
    assert ld.parser.base_url == "http://127.0.0.1:9/v1"
    client = ld.parser.clients.sync()
    assert client.base_url == "http://127.0.0.1:9/v1"
    assert client.config.api_key.get_secret_value() == "sk-from-env-123"
    assert "sk-from-env-123" not in repr(vars(ld)) + repr(vars(ld.parser))


def test_arguments_win_over_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("COMPACTIFAI_API_KEY", "sk-from-env-123")
    ld = CompactifAITranscriptLoader(
        "a.wav", api_key="sk-arg-456", base_url="http://127.0.0.1:7/v1", timeout=5,
        max_retries=0,
    )
    client = ld.parser.clients.sync()
    assert client.config.api_key.get_secret_value() == "sk-arg-456"
    assert (client.base_url, client.config.max_retries) == ("http://127.0.0.1:7/v1", 0)
    assert client.config.timeout.read == 5


def test_clients_are_built_once_lazily(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("COMPACTIFAI_API_KEY", "sk-from-env-123")
    ld = CompactifAITranscriptLoader(tmp_path / "a.wav")
    assert ld.parser.clients._sync is None and ld.parser.clients._async is None
    assert ld.parser.clients.sync() is ld.parser.clients.sync()
    assert ld.parser.clients.aio() is ld.parser.clients.aio()


def test_loader_and_parser_pickle(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("COMPACTIFAI_API_KEY", "sk-from-env-123")
    ld = CompactifAITranscriptLoader(tmp_path / "a.wav", mode="segment", language="en")
    ld.parser.clients.sync()  # a built client is not carried
    copy = pickle.loads(pickle.dumps(ld))
    assert copy.options == ld.options and copy.file_path == ld.file_path
    assert copy.parser.clients._sync is None
    assert copy.parser.clients.sync().config.api_key.get_secret_value() == "sk-from-env-123"
    pickle.loads(pickle.dumps(CompactifAITranscriptParser()))


# ---------------------------------------------------------------- today's service


LECTURE = Path(__file__).resolve().parents[2] / "fixtures" / "lecture.wav"


class FrenchServer(TranscribeServer):
    def _answer(self, request):  # type: ignore[no-untyped-def]
        return json_response(transcription(uploaded_name(request), language="fr"))


def test_the_detected_language_is_in_the_metadata_and_none_is_sent() -> None:
    server = FrenchServer()
    [doc] = loader(("a.wav", WAV), server).load()
    assert doc.metadata["language"] == "fr"
    assert "language" not in form_fields(server.requests[0])
    segments = loader(("a.wav", WAV), FrenchServer(), mode="segment").load()
    assert {d.metadata["language"] for d in segments} == {"fr"}


@pytest.mark.parametrize(("fmt", "head"), [("srt", "1\n00:00:00,000 --> 00:00:02,000\n"),
                                           ("vtt", "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n")])
def test_documents_can_hold_subtitles(fmt: str, head: str) -> None:
    [doc] = loader(("a.wav", WAV), output_format=fmt).load()
    assert doc.page_content.startswith(head + "a.wav part 0.\n")
    assert doc.metadata["format"] == fmt and len(doc.metadata["segments"]) == 2
    [parsed] = CompactifAITranscriptParser(
        output_format=fmt, client=sync_client(TranscribeServer())
    ).parse(Blob.from_data(WAV, path="a.wav"))
    assert parsed.page_content == doc.page_content
    with pytest.raises(ValueError, match="mode='file'"):
        loader(("a.wav", WAV), output_format=fmt, mode="segment")


async def test_a_silent_file_warns_and_is_flagged() -> None:
    silence = silent_wav()
    server = ListeningServer()
    with pytest.warns(NoSpeechWarning, match=r"'silence\.wav' holds no speech"):
        [doc] = loader([("silence.wav", silence), ("a.wav", WAV)], server).load()[:1]
    assert doc.metadata["no_speech"] is True and doc.metadata["source"] == "silence.wav"
    with pytest.warns(NoSpeechWarning):
        docs = await loader([("silence.wav", silence), ("a.wav", WAV)], server,
                            mode="segment").aload()
    assert sources(docs) == ["a.wav", "a.wav"]  # the silent file gives no segment
    assert all("no_speech" not in d.metadata for d in docs)


async def test_a_recording_over_the_limit_is_split_and_its_timestamps_offset() -> None:
    pytest.importorskip("av")
    server = TranscribeServer()
    docs = loader(LECTURE, server, mode="segment", max_upload_bytes=100_000).load()
    assert sorted(server.names) == [f"lecture.part{i}.wav" for i in range(3)]
    assert [d.metadata["segment_id"] for d in docs] == list(range(6))
    starts = [d.metadata["start"] for d in docs]
    assert starts == sorted(starts) and starts[2] == pytest.approx(2.64)
    assert docs[-1].metadata["end"] <= 8.25 and docs[0].metadata["parts"] == 3
    adocs = await loader(LECTURE, TranscribeServer(), mode="segment",
                         max_upload_bytes=100_000, max_concurrency=2).aload()
    assert [d.metadata for d in adocs] == [d.metadata for d in docs]
    [whole] = loader(LECTURE, output_format="vtt", max_upload_bytes=100_000).load()
    assert whole.page_content.count(" --> ") == 6 and whole.metadata["parts"] == 3
    with pytest.raises(AudioFileError, match="100,000 bytes"):
        loader(LECTURE, max_upload_bytes=100_000, split_long=False).load()
