"""The framework-free half of the transcript loaders: inputs, checks, records, policy, async.

The helpers at the top (``WAV``, ``transcription``, ``form_fields``, ``TranscribeServer``)
are also used by the LangChain and LlamaIndex loader tests.
"""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import re
import sys
import types
from pathlib import Path
from typing import Any

import httpx
import pytest

from compactifai import (
    MAX_AUDIO_BYTES,
    AudioFileError,
    AudioFileNotFoundError,
    AuthenticationError,
)
from compactifai.transcripts import (
    AudioSkippedWarning,
    AudioSource,
    AudioTranscriptionError,
    LazyClients,
    TranscriptOptions,
    aiter_transcripts,
    iter_transcripts,
    plan_sources,
    transcript_records,
)
from compactifai.types import Transcription
from tests.helpers import Recorder, async_client, json_response, sync_client
from tests.unit import reference_examples as ref

WAV = b"RIFF\x24\x00\x00\x00WAVEfmt "  # content is never decoded by the mock server


# ---------------------------------------------------------------- shared helpers


def transcription(name: str = "a.wav", n: int = 2, language: str | None = "en") -> dict:
    """A verbose transcription whose texts name the file, ``n`` segments of 2 s each."""
    segments = [
        {
            "id": i,
            "start": 2.0 * i,
            "end": 2.0 * (i + 1),
            "text": f" {name} part {i}.",
            "temperature": 0.0,
            "avg_logprob": -0.1 * (i + 1),
            "no_speech_prob": 0.01,
        }
        for i in range(n)
    ]
    return {
        "task": "transcribe",
        "language": language,
        "duration": 2.0 * n,
        "text": "".join(s["text"] for s in segments),
        "segments": segments,
    }


def form_fields(request: httpx.Request) -> dict[str, list[str]]:
    """The multipart form of a request; the file part gives its filename."""
    boundary = request.headers["content-type"].split("boundary=")[1].encode()
    out: dict[str, list[str]] = {}
    for part in request.content.split(b"--" + boundary)[1:-1]:
        head, _, body = part.partition(b"\r\n\r\n")
        name = re.search(rb'name="([^"]+)"', head)
        filename = re.search(rb'filename="([^"]+)"', head)
        assert name is not None
        value = filename.group(1) if filename else body[:-2]
        out.setdefault(name.group(1).decode(), []).append(value.decode("utf-8", "replace"))
    return out


def uploaded_name(request: httpx.Request) -> str:
    return form_fields(request)["file"][0]


class TranscribeServer:
    """A MockTransport handler (sync and async) answering per uploaded filename.

    ``fail`` maps a filename to the status to answer; ``delays`` (async only) to seconds.
    It counts requests and the most that were in flight at once.
    """

    def __init__(
        self,
        fail: dict[str, int] | None = None,
        delays: dict[str, float] | None = None,
        default_delay: float = 0.0,
    ) -> None:
        self.fail = fail or {}
        self.delays = delays or {}
        self.default_delay = default_delay
        self.requests: list[httpx.Request] = []
        self.in_flight = 0
        self.max_in_flight = 0

    def _answer(self, request: httpx.Request) -> httpx.Response:
        name = uploaded_name(request)
        if name in self.fail:
            status = self.fail[name]
            return json_response({"error": {"message": f"cannot take {name}"}}, status)
        return json_response(transcription(name))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return self._answer(request)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.requests.append(request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delays.get(uploaded_name(request), self.default_delay))
            return self._answer(request)
        finally:
            self.in_flight -= 1

    @property
    def names(self) -> list[str]:
        return [uploaded_name(r) for r in self.requests]


def write_audio(folder: Path, *names: str, content: bytes = WAV) -> list[Path]:
    paths = []
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        paths.append(path)
    return paths


def big_file(path: Path) -> Path:
    """A sparse file one byte over the upload limit (no disk space used)."""
    with path.open("wb") as f:
        f.truncate(MAX_AUDIO_BYTES + 1)
    return path


# ---------------------------------------------------------------- inputs


def test_every_input_form_is_expanded(tmp_path: Path) -> None:
    a, b = write_audio(tmp_path, "a.wav", "b.mp3")
    assert [s.source for s in plan_sources(str(a))] == [str(a)]
    assert [s.filename for s in plan_sources(a)] == ["a.wav"]
    assert [s.source for s in plan_sources([a, str(b)])] == [str(a), str(b)]
    from_bytes = plan_sources(WAV, filename="call.wav")
    assert (from_bytes[0].source, from_bytes[0].filename, from_bytes[0].data) == (
        "call.wav", "call.wav", WAV
    )
    assert plan_sources(("t.webm", WAV))[0].filename == "t.webm"
    mixed = plan_sources([a, ("t.webm", WAV), AudioSource.from_bytes(WAV, "x.mp4")])
    assert [s.filename for s in mixed] == ["a.wav", "t.webm", "x.mp4"]
    # a path is read only when uploaded
    assert plan_sources(a)[0].data is None


def test_a_folder_gives_its_audio_sorted_and_ignores_the_rest(tmp_path: Path) -> None:
    write_audio(tmp_path, "b.wav", "a.mp3", "sub/c.webm", "notes.txt", ".hidden.wav",
                ".cache/d.wav")
    found = plan_sources(tmp_path)
    assert [Path(s.source).relative_to(tmp_path).as_posix() for s in found] == [
        "a.mp3", "b.wav", "sub/c.webm"
    ]


def test_a_folder_with_a_glob(tmp_path: Path) -> None:
    write_audio(tmp_path, "b.wav", "a.mp3", "sub/c.wav")
    assert [s.filename for s in plan_sources(tmp_path, glob="*.wav")] == ["b.wav"]
    assert [s.filename for s in plan_sources(tmp_path, glob="**/*.wav")] == ["b.wav", "c.wav"]


def test_an_explicit_glob_match_of_an_unsupported_type_is_an_error(tmp_path: Path) -> None:
    write_audio(tmp_path, "a.wav", "b.aac")
    with pytest.raises(AudioFileError, match=r"b\.aac"):
        plan_sources(tmp_path, glob="*")


def test_a_folder_without_audio_is_an_error(tmp_path: Path) -> None:
    write_audio(tmp_path, "notes.txt")
    with pytest.raises(AudioFileNotFoundError, match="no audio in folder"):
        plan_sources(tmp_path)
    with pytest.warns(AudioSkippedWarning, match="no audio"):
        assert plan_sources(tmp_path, on_error="skip") == []


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda d: write_audio(d, "a.aac")[0], AudioFileError, "takes only"),
        (lambda d: d / "missing.wav", AudioFileNotFoundError, "no audio file"),
        (lambda d: write_audio(d, "empty.wav", content=b"")[0], AudioFileError, "empty"),
        (lambda d: big_file(d / "big.wav"), AudioFileError, "25 MB"),
    ],
    ids=["extension", "missing", "empty", "too-large"],
)
def test_bad_files_raise_typed_errors_naming_them(tmp_path: Path, make, error, match) -> None:
    path = make(tmp_path)
    with pytest.raises(error, match=match) as info:
        plan_sources(path)
    assert path.name in str(info.value)


@pytest.mark.parametrize(
    ("inputs", "kwargs", "match"),
    [
        (WAV, {}, "filename"),
        (WAV, {"filename": "call.aac"}, "takes only"),
        (("a.wav", b""), {}, "empty"),
        (42, {}, "cannot transcribe int"),
    ],
    ids=["bytes-without-name", "bytes-bad-name", "empty-bytes", "int"],
)
def test_bad_in_memory_inputs(inputs: Any, kwargs: dict, match: str) -> None:
    with pytest.raises(AudioFileError, match=match):
        plan_sources(inputs, **kwargs)


def test_too_large_bytes(tmp_path: Path) -> None:
    with pytest.raises(AudioFileError, match="25 MB"):
        plan_sources(("a.wav", b"x" * (MAX_AUDIO_BYTES + 1)))


def test_every_input_is_checked_before_any_is_accepted(tmp_path: Path) -> None:
    good = write_audio(tmp_path, "a.wav", "c.wav")
    with pytest.raises(AudioFileNotFoundError, match="missing"):
        plan_sources([good[0], tmp_path / "missing.wav", good[1]])


def test_skip_keeps_the_good_inputs_and_warns_per_bad_one(tmp_path: Path, caplog) -> None:
    a, c = write_audio(tmp_path, "a.wav", "c.wav")
    bad = write_audio(tmp_path, "b.aac")[0]
    with pytest.warns(AudioSkippedWarning) as record:
        found = plan_sources([a, bad, tmp_path / "gone.mp3", c], on_error="skip")
    assert [s.filename for s in found] == ["a.wav", "c.wav"]
    messages = [str(w.message) for w in record]
    assert len(messages) == 2
    assert "b.aac" in messages[0] and "gone.mp3" in messages[1]
    assert "skipped" in caplog.text


def test_from_bytes_names_audio_from_its_mimetype_or_source() -> None:
    assert AudioSource.from_bytes(WAV, mimetype="audio/x-wav").filename == "audio.wav"
    assert AudioSource.from_bytes(WAV, source="s3://b/k/call.mp3").filename == "call.mp3"
    named = AudioSource.from_bytes(WAV, source="s3://b/k/call", mimetype="audio/webm")
    assert (named.source, named.filename) == ("s3://b/k/call", "call.webm")
    with pytest.raises(AudioFileError, match="filename"):
        AudioSource.from_bytes(WAV, mimetype="text/plain")


def test_bad_policy_and_options_are_refused() -> None:
    with pytest.raises(ValueError, match="on_error"):
        plan_sources(("a.wav", WAV), on_error="ignore")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mode"):
        TranscriptOptions(mode="page")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="temperature"):
        TranscriptOptions(temperature=1.5)
    with pytest.raises(ValueError, match="max_concurrency"):
        TranscriptOptions(max_concurrency=0)


def test_form_sends_the_fields_set_and_asks_for_segments() -> None:
    assert TranscriptOptions().form() == {
        "model": "whisper-large-v3",
        "response_format": "verbose_json",
        "timestamp_granularities": ["segment"],
    }
    form = TranscriptOptions(model="whisper-base", language="fr", prompt="Paris",
                             temperature=0).form()
    assert (form["model"], form["language"], form["prompt"], form["temperature"]) == (
        "whisper-base", "fr", "Paris", 0
    )


# ---------------------------------------------------------------- records


def test_file_record_of_the_reference_example() -> None:
    t = Transcription.model_validate(json.loads(ref.TRANSCRIPTION))
    [record] = transcript_records(t, source="meeting_minutes.mp3", model="whisper-large-v3")
    assert record.text == "Welcome to the quarterly planning meeting. Let's review the agenda."
    assert record.metadata == {
        "source": "meeting_minutes.mp3",
        "model": "whisper-large-v3",
        "language": "en",
        "duration": 12.6,
        "segments": [
            {"id": 0, "start": 0.0, "end": 7.5,
             "text": "Welcome to the quarterly planning meeting."},
            {"id": 1, "start": 7.5, "end": 12.6, "text": "Let's review the agenda."},
        ],
    }


def test_segment_records_of_the_reference_example() -> None:
    t = Transcription.model_validate(json.loads(ref.TRANSCRIPTION))
    records = transcript_records(t, source="m.mp3", model="whisper-large-v3", mode="segment",
                                 metadata={"team": "ops"})
    assert [r.text for r in records] == [
        "Welcome to the quarterly planning meeting.", "Let's review the agenda."
    ]
    assert records[1].metadata == {
        "team": "ops",
        "source": "m.mp3",
        "model": "whisper-large-v3",
        "language": "en",
        "segment_id": 1,
        "start": 7.5,
        "end": 12.6,
        "avg_logprob": -0.15,
        "no_speech_prob": 0.02,
    }


def test_values_not_sent_are_left_out_and_blank_segments_dropped() -> None:
    t = Transcription.model_validate({
        "text": " Hi.",
        "segments": [
            {"id": 0, "start": 0.0, "end": 1.0, "text": " Hi."},
            {"id": 1, "start": 1.0, "end": 2.0, "text": "  "},
        ],
    })
    [seg] = transcript_records(t, source="a.wav", model="m", mode="segment")
    assert seg.metadata == {"source": "a.wav", "model": "m", "segment_id": 0,
                            "start": 0.0, "end": 1.0}
    [whole] = transcript_records(t, source="a.wav", model="m")
    assert "language" not in whole.metadata and "duration" not in whole.metadata
    assert None not in whole.metadata.values()


def test_segment_mode_without_segments_keeps_the_text_and_warns() -> None:
    t = Transcription.model_validate({"text": "Just text.", "language": "en"})
    with pytest.warns(UserWarning, match="no segments"):
        [record] = transcript_records(t, source="a.wav", model="m", mode="segment")
    assert record.text == "Just text." and "start" not in record.metadata
    silent = Transcription.model_validate({"text": "", "segments": []})
    assert transcript_records(silent, source="a.wav", model="m", mode="segment") == []


# ---------------------------------------------------------------- transcription runs


def sources(*names: str) -> list[AudioSource]:
    return [AudioSource.from_bytes(WAV, name) for name in names]


def test_iter_transcripts_sends_the_form_and_yields_in_order() -> None:
    server = TranscribeServer()
    client = sync_client(server)
    opts = TranscriptOptions(language="en", prompt="Agenda", temperature=0.2, mode="segment")
    records = list(iter_transcripts(client, sources("a.wav", "b.mp3"), opts))
    assert [r.text for r in records] == [
        "a.wav part 0.", "a.wav part 1.", "b.mp3 part 0.", "b.mp3 part 1."
    ]
    assert records[3].metadata["source"] == "b.mp3"
    fields = form_fields(server.requests[0])
    assert fields == {
        "model": ["whisper-large-v3"],
        "language": ["en"],
        "prompt": ["Agenda"],
        "temperature": ["0.2"],
        "response_format": ["verbose_json"],
        "timestamp_granularities[]": ["segment"],
        "file": ["a.wav"],
    }
    assert server.requests[0].url.path == "/v1/audio/transcriptions"


def test_a_server_failure_raises_naming_the_file() -> None:
    server = TranscribeServer(fail={"b.wav": 500})
    client = sync_client(server)
    run = iter_transcripts(client, sources("a.wav", "b.wav", "c.wav"), TranscriptOptions())
    assert next(run).metadata["source"] == "a.wav"
    with pytest.raises(AudioTranscriptionError, match=r"'b\.wav'.*cannot take") as info:
        next(run)
    assert info.value.source == "b.wav"
    assert getattr(info.value.error, "status_code", None) == 500
    assert info.value.__cause__ is info.value.error
    restored = pickle.loads(pickle.dumps(info.value))
    assert str(restored) == str(info.value)


def test_skip_goes_on_after_a_server_failure() -> None:
    server = TranscribeServer(fail={"b.wav": 422})
    opts = TranscriptOptions(on_error="skip")
    with pytest.warns(AudioSkippedWarning, match=r"b\.wav"):
        records = list(iter_transcripts(sync_client(server), sources("a.wav", "b.wav", "c.wav"),
                                        opts))
    assert [r.metadata["source"] for r in records] == ["a.wav", "c.wav"]
    assert server.names == ["a.wav", "b.wav", "c.wav"]


def test_a_bad_key_raises_even_when_skipping() -> None:
    server = TranscribeServer(fail={"a.wav": 401})
    with pytest.raises(AuthenticationError):
        list(iter_transcripts(sync_client(server), sources("a.wav", "b.wav"),
                              TranscriptOptions(on_error="skip")))
    assert server.names == ["a.wav"]


async def test_async_bounds_concurrency_and_keeps_input_order() -> None:
    names = [f"f{i}.wav" for i in range(7)]
    # the first file is the slowest: the others finish first but come after it
    server = TranscribeServer(delays={"f0.wav": 0.05}, default_delay=0.01)
    opts = TranscriptOptions(max_concurrency=3)
    client = async_client(server.handle)
    records = [r async for r in aiter_transcripts(client, sources(*names), opts)]
    assert [r.metadata["source"] for r in records] == names
    assert server.max_in_flight == 3
    assert len(server.requests) == 7


async def test_async_default_bound_is_four() -> None:
    server = TranscribeServer(default_delay=0.01)
    names = [f"f{i}.wav" for i in range(10)]
    client = async_client(server.handle)
    out = [r async for r in aiter_transcripts(client, sources(*names), TranscriptOptions())]
    assert len(out) == 10 and server.max_in_flight == 4


async def test_async_raise_and_skip() -> None:
    server = TranscribeServer(fail={"b.wav": 500})
    client = async_client(server.handle)
    with pytest.raises(AudioTranscriptionError, match=r"b\.wav"):
        [r async for r in aiter_transcripts(client, sources("a.wav", "b.wav"),
                                            TranscriptOptions())]
    with pytest.warns(AudioSkippedWarning, match=r"b\.wav"):
        out = [r async for r in aiter_transcripts(client, sources("a.wav", "b.wav", "c.wav"),
                                                  TranscriptOptions(on_error="skip"))]
    assert [r.metadata["source"] for r in out] == ["a.wav", "c.wav"]


async def test_async_stopping_early_cancels_the_rest() -> None:
    server = TranscribeServer(default_delay=0.02)
    client = async_client(server.handle)
    run = aiter_transcripts(client, sources(*[f"f{i}.wav" for i in range(20)]),
                            TranscriptOptions(max_concurrency=2))
    first = await run.__anext__()
    await run.aclose()
    await asyncio.sleep(0.05)
    assert first.metadata["source"] == "f0.wav"
    assert len(server.requests) < 20
    assert server.in_flight == 0


# ---------------------------------------------------------------- progress and clients


class FakeTqdm:
    instances: list[FakeTqdm] = []

    def __init__(self, total: int, **kwargs: Any) -> None:
        self.total, self.n, self.closed = total, 0, False
        FakeTqdm.instances.append(self)

    def update(self, n: int) -> None:
        self.n += n

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake_tqdm(monkeypatch) -> type[FakeTqdm]:
    FakeTqdm.instances = []
    auto = types.ModuleType("tqdm.auto")
    auto.tqdm = FakeTqdm  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tqdm.auto", auto)
    return FakeTqdm


def test_progress_is_off_by_default(fake_tqdm) -> None:
    list(iter_transcripts(sync_client(TranscribeServer()), sources("a.wav"),
                          TranscriptOptions()))
    assert fake_tqdm.instances == []


def test_progress_counts_files(fake_tqdm) -> None:
    opts = TranscriptOptions(show_progress=True, on_error="skip")
    server = TranscribeServer(fail={"b.wav": 500})
    with pytest.warns(AudioSkippedWarning):
        list(iter_transcripts(sync_client(server), sources("a.wav", "b.wav", "c.wav"), opts))
    [bar] = fake_tqdm.instances
    assert (bar.total, bar.n, bar.closed) == (3, 3, True)


async def test_async_progress_counts_files(fake_tqdm) -> None:
    opts = TranscriptOptions(show_progress=True)
    client = async_client(TranscribeServer().handle)
    [r async for r in aiter_transcripts(client, sources("a.wav", "b.wav"), opts)]
    [bar] = fake_tqdm.instances
    assert (bar.total, bar.n, bar.closed) == (2, 2, True)


def test_progress_without_tqdm_says_what_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    monkeypatch.setitem(sys.modules, "tqdm", None)
    rec = Recorder(json_response(transcription()))
    with pytest.raises(ImportError, match=r"pip install 'compactifai-integrations\[progress\]'"):
        list(iter_transcripts(sync_client(rec), sources("a.wav"),
                              TranscriptOptions(show_progress=True)))
    assert rec.requests == []


def test_lazy_clients_are_built_once_and_pickle_without_them() -> None:
    clients = LazyClients(api_key="sk-test-123456", base_url="http://127.0.0.1:9/v1",
                          max_retries=5)
    assert clients._sync is None and clients._async is None
    first = clients.sync()
    assert clients.sync() is first and clients.aio() is clients.aio()
    assert first.config.max_retries == 5
    copy = pickle.loads(pickle.dumps(clients))
    assert copy._sync is None
    assert copy.sync().base_url == "http://127.0.0.1:9/v1"
    assert "sk-test-123456" not in repr(clients.__getstate__())


def test_lazy_clients_keep_clients_given() -> None:
    given = sync_client(Recorder(json_response(transcription())))
    clients = LazyClients(client=given)
    assert clients.sync() is given


def test_the_module_imports_no_framework() -> None:
    code = (
        "import sys, compactifai.transcripts; "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('langchain_core', 'llama_index', 'tqdm')]; "
        "assert not bad, bad"
    )
    import subprocess

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ})
    assert result.returncode == 0, result.stderr
