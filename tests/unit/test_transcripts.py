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
    DEFAULT_TRANSCRIPTION_MODEL,
    AudioSkippedWarning,
    AudioSource,
    AudioTranscriptionError,
    LazyClients,
    NoSpeechWarning,
    TranscriptOptions,
    aiter_transcripts,
    iter_transcripts,
    plan_sources,
    transcript_records,
)
from compactifai.types import Transcription, TranscriptionText
from tests.helpers import Recorder, async_client, json_response, sse, sse_response, sync_client
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
        "model": DEFAULT_TRANSCRIPTION_MODEL,
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
    with pytest.warns(NoSpeechWarning, match="holds no speech"):
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
        "model": [DEFAULT_TRANSCRIPTION_MODEL],
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


# ---------------------------------------------------------------- today's service: formats


SRT = "1\n00:00:00,000 --> 00:00:01,500\nHello there.\n\n2\n00:00:01,500 --> 00:00:03,000\nBye.\n"
VTT = "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHello there.\n\n00:00:01.500 --> 00:00:03.000\nBye.\n"


def text_response(body: str, content_type: str = "text/plain; charset=utf-8") -> httpx.Response:
    return httpx.Response(200, content=body.encode(), headers={"content-type": content_type})


@pytest.mark.parametrize(
    ("fmt", "body", "content_type"),
    [("text", "Hello there. Bye.\n", "text/plain"), ("srt", SRT, "text/plain"),
     ("vtt", VTT, "text/vtt")],
)
def test_text_formats_are_read_as_text_not_json(fmt: str, body: str, content_type: str) -> None:
    rec = Recorder(text_response(body, content_type))
    result = sync_client(rec).transcribe(("a.wav", WAV), response_format=fmt)
    assert isinstance(result, TranscriptionText)
    assert (result.format, result.content, str(result)) == (fmt, body, body)
    assert result.text == "Hello there. Bye."
    assert form_fields(rec.requests[0])["response_format"] == [fmt]
    if fmt != "text":
        assert [(s.id, s.start, s.end, s.text) for s in result.segments()] == [
            (0, 0.0, 1.5, "Hello there."), (1, 1.5, 3.0, "Bye.")
        ]


async def test_async_text_format_and_an_empty_text_body() -> None:
    client = async_client(Recorder(text_response("")))
    result = await client.transcribe(("a.wav", WAV), response_format="text")
    assert isinstance(result, TranscriptionText) and result.content == "" and result.text == ""


@pytest.mark.parametrize("fmt", ["json", "verbose_json", None])
def test_json_formats_give_a_transcription(fmt: str | None) -> None:
    rec = Recorder(json_response(transcription("a.wav")))
    result = sync_client(rec).transcribe(("a.wav", WAV), response_format=fmt)
    assert isinstance(result, Transcription) and result.language == "en"
    fields = form_fields(rec.requests[0])
    assert "language" not in fields  # none given: none sent, the service detects it
    assert fields.get("response_format") == ([fmt] if fmt else None)


def test_a_json_answer_to_a_text_format_is_converted() -> None:
    # OpenAPI: "All values are accepted but will default to 'json'"
    answer = json_response(transcription("a.wav", n=2))
    srt = sync_client(Recorder(answer)).transcribe(("a.wav", WAV), response_format="srt")
    assert isinstance(srt, TranscriptionText)
    assert srt.content.startswith("1\n00:00:00,000 --> 00:00:02,000\na.wav part 0.\n")
    text = sync_client(Recorder(answer)).transcribe(("a.wav", WAV), response_format="text")
    assert text.content == "a.wav part 0. a.wav part 1."
    only_text = json_response({"text": " Hi.", "duration": 1.0})
    vtt = sync_client(Recorder(only_text)).transcribe(("a.wav", WAV), response_format="vtt")
    assert vtt.content == "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nHi.\n"


def test_an_error_object_in_place_of_a_text_answer_raises() -> None:
    from compactifai import APIError

    rec = Recorder(json_response({"error": {"message": "boom", "type": "server_error"}}))
    with pytest.raises(APIError, match="boom"):
        sync_client(rec).transcribe(("a.wav", WAV), response_format="text")


def test_an_unknown_response_format_is_refused_before_upload() -> None:
    from compactifai import InvalidRequestError

    rec = Recorder(json_response(transcription()))
    with pytest.raises(InvalidRequestError, match=r"'xml'.*'vtt'"):
        sync_client(rec).transcribe(("a.wav", WAV), response_format="xml")
    assert rec.requests == []


@pytest.mark.parametrize("ext", ["flac", "m4a", "ogg", "mp3", "mp4", "mpeg", "mpga", "wav",
                                 "webm"])
def test_every_format_the_service_takes_is_uploaded(ext: str) -> None:
    rec = Recorder(json_response(transcription()))
    sync_client(rec).transcribe((f"a.{ext}", WAV))
    assert form_fields(rec.requests[0])["file"] == [f"a.{ext}"]


# ---------------------------------------------------------------- streaming


DELTAS = [{"type": "transcript.text.delta", "delta": "Hello"},
          {"type": "transcript.text.delta", "delta": " there."}]
DONE_EVENT = {"type": "transcript.text.done", "text": "Hello there.",
              "usage": {"type": "duration", "seconds": 2}}


def test_stream_yields_the_events_and_sends_stream_true() -> None:
    rec = Recorder(sse_response(sse(*DELTAS, DONE_EVENT, done=False)))
    with sync_client(rec).transcribe_stream(("a.wav", WAV), language="en") as stream:
        events = list(stream)
    assert events == [*DELTAS, DONE_EVENT]
    request = rec.requests[0]
    assert request.headers["accept"] == "text/event-stream"
    fields = form_fields(request)
    assert fields["stream"] == ["true"] and fields["language"] == ["en"]
    assert "response_format" not in fields


async def test_async_stream_in_pieces_with_a_done_marker() -> None:
    body = sse(*DELTAS, DONE_EVENT)  # a server that adds [DONE] is fine too
    chunks = [body[i : i + 7] for i in range(0, len(body), 7)]
    client = async_client(Recorder(sse_response(chunks)))
    events = [e async for e in client.transcribe_stream(("a.wav", WAV))]
    assert events == [*DELTAS, DONE_EVENT]


def test_a_server_that_ignores_stream_gives_one_done_event() -> None:
    rec = Recorder(json_response(transcription("a.wav", n=1)))
    [event] = list(sync_client(rec).transcribe_stream(("a.wav", WAV)))
    assert event["type"] == "transcript.text.done" and event["text"] == " a.wav part 0."
    assert event["segments"][0]["start"] == 0.0  # everything the server sent is kept


def test_a_stream_cut_before_its_done_event_is_interrupted_and_not_retried() -> None:
    from compactifai import StreamInterruptedError

    rec = Recorder(sse_response(sse(*DELTAS, done=False)))
    with pytest.raises(StreamInterruptedError, match="2 event"):
        list(sync_client(rec, max_retries=3).transcribe_stream(("a.wav", WAV)))
    assert len(rec.requests) == 1


def test_a_stream_refused_before_its_first_event_is_retried() -> None:
    rec = Recorder(
        json_response({"detail": "Unexpected server error"}, 500),
        sse_response(sse(*DELTAS, DONE_EVENT, done=False)),
    )
    events = list(sync_client(rec, max_retries=1).transcribe_stream(("a.wav", WAV)))
    assert events[-1] == DONE_EVENT and len(rec.requests) == 2
    assert form_fields(rec.requests[1])["file"] == ["a.wav"]  # the same upload, sent again


# ---------------------------------------------------------------- records: today's metadata


def test_the_detected_language_lands_in_the_metadata_or_the_hint_does() -> None:
    t = Transcription.model_validate(transcription("a.wav", language="fr"))
    [record] = transcript_records(t, source="a.wav", model="m", language="en")
    assert record.metadata["language"] == "fr"  # the server's detection wins
    t = Transcription.model_validate({"text": "Hi."})
    [record] = transcript_records(t, source="a.wav", model="m", language="en")
    assert record.metadata["language"] == "en"


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_a_file_record_can_hold_subtitles(fmt: str) -> None:
    t = Transcription.model_validate(transcription("a.wav", n=2))
    [record] = transcript_records(t, source="a.wav", model="m", output_format=fmt)
    assert record.metadata["format"] == fmt and record.metadata["segments"]
    cues = TranscriptionText(format=fmt, content=record.text).segments()
    assert [(c.start, c.end, c.text) for c in cues] == [
        (0.0, 2.0, "a.wav part 0."), (2.0, 4.0, "a.wav part 1.")
    ]


def test_subtitles_need_file_mode_and_a_known_format() -> None:
    with pytest.raises(ValueError, match="mode='file'"):
        TranscriptOptions(mode="segment", output_format="srt")
    with pytest.raises(ValueError, match="output_format"):
        TranscriptOptions(output_format="ass")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_upload_bytes"):
        TranscriptOptions(max_upload_bytes=MAX_AUDIO_BYTES + 1)


def test_no_speech_is_flagged_and_warned_in_file_mode() -> None:
    empty = Transcription.model_validate({"text": "", "language": "en", "segments": []})
    with pytest.warns(NoSpeechWarning, match=r"'quiet\.wav' holds no speech"):
        [record] = transcript_records(empty, source="quiet.wav", model="m")
    assert record.text == "" and record.metadata["no_speech"] is True
    hallucinated = Transcription.model_validate({
        "text": "You", "segments": [{"id": 0, "start": 0.0, "end": 3.0, "text": "You",
                                     "avg_logprob": -0.8, "no_speech_prob": 0.74}]})
    with pytest.warns(NoSpeechWarning, match="likely silence"):
        [record] = transcript_records(hallucinated, source="quiet.wav", model="m")
    assert record.text == "You" and record.metadata["no_speech"] is True
    spoken = Transcription.model_validate(transcription("a.wav"))
    [record] = transcript_records(spoken, source="a.wav", model="m")
    assert "no_speech" not in record.metadata


def test_a_file_over_the_limit_is_planned_for_splitting(tmp_path: Path) -> None:
    lecture = Path(__file__).resolve().parents[1] / "fixtures" / "lecture.wav"
    with pytest.raises(AudioFileError, match="transcribe_long"):
        plan_sources(lecture, max_bytes=100_000)
    [source] = plan_sources(lecture, max_bytes=100_000, split_long=True)
    assert source.path == lecture


def test_iter_transcripts_splits_a_long_file_and_offsets_its_segments() -> None:
    pytest.importorskip("av")
    lecture = Path(__file__).resolve().parents[1] / "fixtures" / "lecture.wav"
    server = TranscribeServer()
    opts = TranscriptOptions(mode="segment", max_upload_bytes=100_000)
    [source] = plan_sources(lecture, max_bytes=100_000, split_long=True)
    records = list(iter_transcripts(sync_client(server), [source], opts))
    assert sorted(server.names) == [f"lecture.part{i}.wav" for i in range(3)]
    assert [r.metadata["segment_id"] for r in records] == list(range(6))
    starts = [r.metadata["start"] for r in records]
    assert starts == sorted(starts) and starts[2] == pytest.approx(2.64)
    assert all(r.metadata["parts"] == 3 for r in records)


def test_a_missing_splitter_is_reported_before_any_upload(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "av", None)
    with pytest.raises(AudioFileError, match=r"compactifai-integrations\[audio\]"):
        plan_sources(("big.wav", b"x" * 2_000), max_bytes=1_000, split_long=True)


def test_a_long_file_that_is_not_audio_is_refused_before_any_upload() -> None:
    pytest.importorskip("av")
    with pytest.raises(AudioFileError, match=r"'big\.wav' is over the upload limit and could"):
        plan_sources(("big.wav", b"x" * 2_000), max_bytes=1_000, split_long=True)


# ---------------------------------------------------------------- helpers for the loaders' tests


def silent_wav(seconds: float = 2.0) -> bytes:
    """A real WAV of digital silence, 16 kHz mono."""
    import io
    import wave

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(b"\0\0" * int(16000 * seconds))
    return buffer.getvalue()


class ListeningServer(TranscribeServer):
    """Reads the uploaded WAV: silence is answered as Whisper base answers it (measured on
    the local server: "You", no_speech_prob 0.74), anything else as TranscribeServer does."""

    def _answer(self, request: httpx.Request) -> httpx.Response:
        import io
        import wave

        content = request.content
        start = content.find(b"RIFF")
        try:
            with wave.open(io.BytesIO(content[start:])) as w:
                frames = w.readframes(w.getnframes())
        except Exception:
            return super()._answer(request)
        if frames.strip(b"\0"):
            return super()._answer(request)
        return json_response({
            "task": "transcribe", "language": "en", "duration": 2.0, "text": "You",
            "segments": [{"id": 0, "start": 0.0, "end": 2.0, "text": "You",
                          "avg_logprob": -0.8, "no_speech_prob": 0.74}],
        })


def test_an_unknown_model_raises_even_when_skipping() -> None:
    from compactifai import BadRequestError

    def unknown(request: httpx.Request) -> httpx.Response:
        request.read()
        return json_response({"error": {
            "message": "Invalid request: Model 'whisper-9' not found; available: [a, b]",
            "type": "invalid_request_error"}}, 400)

    with pytest.raises(BadRequestError) as info:
        list(iter_transcripts(sync_client(unknown), sources("a.wav", "b.wav"),
                              TranscriptOptions(model="whisper-9", on_error="skip")))
    assert info.value.available_models == ["a", "b"]


async def test_async_bound_counts_the_parts_of_split_recordings_with_the_files() -> None:
    pytest.importorskip("av")
    lecture = Path(__file__).resolve().parents[1] / "fixtures" / "lecture.wav"
    server = TranscribeServer(default_delay=0.02)
    opts = TranscriptOptions(max_concurrency=2, max_upload_bytes=100_000)
    planned = plan_sources([lecture, *sources("a.wav", "b.wav"), lecture, ("c.wav", WAV)],
                           max_bytes=100_000, split_long=True)
    records = [r async for r in aiter_transcripts(async_client(server.handle), planned, opts)]
    assert server.max_in_flight == 2 and len(server.requests) == 3 + 2 + 3 + 1
    assert [r.metadata["source"] for r in records] == [
        str(lecture), "a.wav", "b.wav", str(lecture), "c.wav"
    ]
    assert records[0].metadata["parts"] == 3 and len(records[0].metadata["segments"]) == 6


def _lecture_source() -> AudioSource:
    lecture = Path(__file__).resolve().parents[1] / "fixtures" / "lecture.wav"
    [source] = plan_sources(lecture, max_bytes=100_000, split_long=True)
    return source


def test_segments_of_a_split_recording_come_part_by_part() -> None:
    pytest.importorskip("av")
    import threading

    release = threading.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        name = uploaded_name(request)
        if name.endswith("part2.wav"):
            release.wait(10)  # the last part is still on its way...
        return json_response(transcription(name))

    opts = TranscriptOptions(mode="segment", max_upload_bytes=100_000, max_concurrency=3)
    run = iter_transcripts(sync_client(handler), [_lecture_source()], opts)
    first = next(run)  # ...and the first part's segments are here already
    assert not release.is_set()
    assert (first.metadata["part"], first.metadata["parts"], first.text) == (
        0, 3, "lecture.part0.wav part 0."
    )
    release.set()
    rest = list(run)
    assert [r.metadata["segment_id"] for r in [first, *rest]] == list(range(6))
    assert [r.metadata["part"] for r in rest] == [0, 1, 1, 2, 2]


def test_stopping_early_leaves_the_later_parts_unsent() -> None:
    pytest.importorskip("av")
    server = TranscribeServer()
    opts = TranscriptOptions(mode="segment", max_upload_bytes=100_000, max_concurrency=1)
    run = iter_transcripts(sync_client(server), [_lecture_source()], opts)
    next(run)
    run.close()
    assert len(server.requests) <= 2  # part 0, perhaps part 1 already started: never part 2


def test_a_silent_part_of_a_long_recording_gives_no_segment_and_says_so() -> None:
    pytest.importorskip("av")

    class QuietMiddle(TranscribeServer):
        def _answer(self, request: httpx.Request) -> httpx.Response:
            if uploaded_name(request).endswith("part1.wav"):
                return json_response({"text": "", "language": "en", "segments": []})
            return super()._answer(request)

    opts = TranscriptOptions(mode="segment", max_upload_bytes=100_000)
    with pytest.warns(NoSpeechWarning, match=r"part 2 of 3 \(2\.6-5\.7 s\) holds no speech"):
        records = list(iter_transcripts(sync_client(QuietMiddle()), [_lecture_source()], opts))
    assert [r.metadata["part"] for r in records] == [0, 0, 2, 2]


def test_a_failed_part_with_skip_says_what_was_left_out() -> None:
    pytest.importorskip("av")
    server = TranscribeServer(fail={"lecture.part1.wav": 500})
    opts = TranscriptOptions(mode="segment", max_upload_bytes=100_000, on_error="skip",
                             max_concurrency=1)
    with pytest.warns(AudioSkippedWarning, match=r"lecture\.wav' from part 2 of 3 on"):
        records = list(iter_transcripts(sync_client(server), [_lecture_source()], opts))
    assert [r.metadata["part"] for r in records] == [0, 0]
    with pytest.raises(AudioTranscriptionError, match=r"lecture\.wav"):
        list(iter_transcripts(sync_client(server), [_lecture_source()],
                              TranscriptOptions(mode="segment", max_upload_bytes=100_000)))
