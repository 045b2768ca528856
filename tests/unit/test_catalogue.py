"""The built-in model table (today's catalogue, withdrawn ids with their dates), the
withdrawn-model warning and error, and the one place examples read a model id from."""

from __future__ import annotations

import asyncio
import json
import re
import warnings
from pathlib import Path
from typing import Any

import httpx
import pytest

from compactifai import (
    CURRENT_MODELS,
    WITHDRAWN_MODELS,
    AsyncCompactifAIClient,
    BadRequestError,
    CompactifAIClient,
    ModelWithdrawnWarning,
    NotFoundError,
    default_chat_model,
    profile_from_table,
)
from compactifai._catalogue import (
    CATALOGUE,
    DEFAULT_CHAT_MODEL,
    DEFAULT_TRANSCRIPTION_MODEL,
    LOCAL_CHAT_MODEL,
    LOCAL_TRANSCRIPTION_MODEL,
)
from compactifai._config import is_local_base_url
from compactifai._errors import error_from_response

ROOT = Path(__file__).resolve().parents[2]
#: The provider's published files (llms.txt, changelog.yml), copied unchanged.
PUBLISHED = ROOT / "tests" / "fixtures" / "real_api"
SPEECH = ROOT / "tests" / "fixtures" / "speech.wav"
HI = [{"role": "user", "content": "Hi"}]

# ---------------------------------------------------------------- the table


def test_the_table_holds_the_catalogue_of_2026_08_26() -> None:
    assert set(CURRENT_MODELS) == {
        "cai-mistral-small-3-1-slim",
        "hypernova-60b",
        "carina-60b",
        "qwen-3-6-27b",
        "cai-whisper-large-v3-turbo-slim",
        "gpt-oss-120b",
        "mistral-small-3-1",
        "nemotron-3-nano-omni",
        "glm-5-1",
        "cai-glm-5-1",
        "glm-5-2",
        "quasar-438b",
    }
    assert not set(CURRENT_MODELS) & set(WITHDRAWN_MODELS)


def test_the_current_ids_are_the_ones_llms_txt_lists() -> None:
    text = (PUBLISHED / "llms.txt").read_text(encoding="utf-8")
    models = text.split("## Models", 1)[1].split("Catalog:", 1)[0]
    # "Compressed by CompactifAI: a, b.\nThird-party, uncompressed: c, d."
    groups = re.findall(r":\s*([^.]+)\.", models.replace("\n", " "))
    listed = {m.strip() for group in groups for m in group.split(",")}
    assert len(listed) == 12
    assert set(CURRENT_MODELS) == listed
    assert listed <= set(CATALOGUE)


def test_every_model_the_changelog_removes_is_withdrawn_with_that_date() -> None:
    yaml = pytest.importorskip("yaml")
    entries = yaml.safe_load((PUBLISHED / "changelog.yml").read_text(encoding="utf-8"))["entries"]
    removed: dict[str, str] = {}
    for entry in sorted(entries, key=lambda e: str(e["date"])):  # oldest first
        for line in entry.get("additions", []):
            removed.pop(str(line).split(" ", 1)[0], None)  # added (again) later: served
        for line in entry.get("removals", []):
            listed = re.match(r"Models removed: ([^.]+)\.", line)
            single = re.match(r"([a-z0-9.-]+) model removed", line)
            for model_id in (listed.group(1).split(", ") if listed else []) + (
                [single.group(1)] if single else []
            ):
                removed[model_id] = str(entry["date"])
    assert removed  # the changelog was read
    assert {m: WITHDRAWN_MODELS.get(m) for m in removed} == removed


@pytest.mark.parametrize(
    ("model_id", "when"),
    [
        ("llama-4-scout", "2026-06"),
        ("cai-llama-3-3-70b-slim", "2026-06"),
        ("llama-3-3-70b", "2026-06"),
        ("llama-3-1-8b", "2026-06"),
        ("gpt-oss-20b", "2026-06"),
        ("whisper-large-v3", "2026-06"),
        ("blackstar-10b", "2026-06"),
        ("deepseek-r1-0528", "2025-10-06"),
        ("cai-llama-3-1-8b-slim", "by 2026-08-26"),  # gone, with no dated removal
    ],
)
def test_withdrawn_ids_carry_the_changelogs_date(model_id: str, when: str) -> None:
    assert WITHDRAWN_MODELS[model_id] == when
    assert profile_from_table(model_id).withdrawn_on == when


def test_glm_5_2_came_back_after_its_removal() -> None:
    # Removed in 2026-06, added again on 2026-07-15 and in the catalogue of 2026-08-26.
    assert "glm-5-2" not in WITHDRAWN_MODELS
    assert profile_from_table("glm-5-2").supports_function_calling is True


def test_capabilities_only_where_the_provider_states_them() -> None:
    hypernova = profile_from_table("hypernova-60b")  # tool calling: changelog 2026-02-25
    assert (hypernova.supports_function_calling, hypernova.supports_image) == (True, None)
    mistral = profile_from_table("cai-mistral-small-3-1-slim")  # "all models except Mistral"
    assert (mistral.supports_function_calling, mistral.supports_image) == (False, True)
    assert profile_from_table("nemotron-3-nano-omni").supports_image is True
    carina = profile_from_table("carina-60b")  # the provider says nothing: unknown
    assert (carina.supports_function_calling, carina.supports_image) == (None, None)
    assert carina.context_window == 8192
    assert profile_from_table("cai-whisper-large-v3-turbo-slim").supports_audio is True


def test_the_defaults_are_current_models_that_do_what_the_examples_need() -> None:
    assert DEFAULT_CHAT_MODEL in CURRENT_MODELS and DEFAULT_TRANSCRIPTION_MODEL in CURRENT_MODELS
    assert profile_from_table(DEFAULT_CHAT_MODEL).supports_function_calling is True
    assert profile_from_table(DEFAULT_TRANSCRIPTION_MODEL).supports_audio is True


def test_the_local_ids_match_the_local_servers_catalogue() -> None:
    local = pytest.importorskip("compactifai.local.catalogue")
    assert (LOCAL_CHAT_MODEL, LOCAL_TRANSCRIPTION_MODEL) == (
        local.CHAT_MODEL_ID,
        local.WHISPER_MODEL_ID,
    )
    # the transport's default transcription model is served locally too (an alias)
    assert local.find_model(DEFAULT_TRANSCRIPTION_MODEL, transcription=True) is not None


def test_the_framework_defaults_are_the_catalogues() -> None:
    from langchain_compactifai._common import DEFAULT_CHAT_MODEL as langchain_default
    from llama_index_compactifai.llm import DEFAULT_MODEL

    assert langchain_default == DEFAULT_MODEL == DEFAULT_CHAT_MODEL


def test_the_live_list_wins_over_the_table() -> None:
    listing = {
        "object": "list",
        "data": [
            {
                "id": "cai-mistral-small-3-1-slim",
                "object": "model",
                "capabilities": {"supports_function_calling": True},
            }
        ],
    }
    client = _client(lambda request: httpx.Response(200, json=listing))
    assert client.model_profile("cai-mistral-small-3-1-slim").supports_function_calling is True
    assert profile_from_table("cai-mistral-small-3-1-slim").supports_function_calling is False


# ---------------------------------------------------------------- the warning


def _client(handler: Any, **kwargs: Any) -> CompactifAIClient:
    return CompactifAIClient(
        api_key="sk-test",
        base_url="https://compactifai.test/v1",
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
        **kwargs,
    )


def _chat_answer(request: httpx.Request) -> httpx.Response:
    if request.url.path.endswith("/models"):
        return httpx.Response(
            200,
            json={
                "object": "list",
                "data": [{"id": "gpt-oss-20b", "object": "model", "capabilities": {}}],
            },
        )
    return httpx.Response(
        200,
        json={
            "id": "c",
            "object": "chat.completion",
            "created": 1,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "ok"},
                    "finish_reason": "stop",
                }
            ],
        },
    )


def test_a_withdrawn_id_warns_once_per_model_and_client_before_sending() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return _chat_answer(request)

    client = _client(handler)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client.chat_completion(model="llama-4-scout", messages=HI)
        client.chat_completion(model="llama-4-scout", messages=HI)  # once per client
        client.completion(model="gpt-oss-20b", prompt="Hi")  # another model: warned too
        client.chat_completion(model="hypernova-60b", messages=HI)  # current: nothing
        _client(handler).chat_completion(model="llama-4-scout", messages=HI)  # new client
    found = [w for w in caught if issubclass(w.category, ModelWithdrawnWarning)]
    assert [str(w.message).split("'")[1] for w in found] == [
        "llama-4-scout",
        "gpt-oss-20b",
        "llama-4-scout",
    ]
    text = str(found[0].message)
    assert "withdrawn from the CompactifAI service in 2026-06" in text
    assert "client.list_models()" in text
    assert found[0].filename == __file__  # it points at the caller's line
    assert len(sent) == 5  # the request is still sent: the server decides


def test_a_transcription_with_a_withdrawn_whisper_warns() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"text": "hello"})

    with pytest.warns(ModelWithdrawnWarning, match="'whisper-large-v3'.*in 2026-06"):
        _client(handler).transcribe(SPEECH, model="whisper-large-v3")


def test_the_async_client_and_streams_warn_too() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = (
            b'data: {"choices": [{"index": 0, "delta": {"content": "x"}, '
            b'"finish_reason": "stop"}]}\n\ndata: [DONE]\n\n'
        )
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    client = AsyncCompactifAIClient(
        api_key="sk-test",
        base_url="https://compactifai.test/v1",
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )

    async def run() -> list[Any]:
        return [c async for c in client.chat_completion_stream(model="llama-3-3-70b", messages=HI)]

    with pytest.warns(ModelWithdrawnWarning, match="'llama-3-3-70b'"):
        assert len(asyncio.run(run())) == 1


def test_no_warning_once_the_servers_own_list_serves_the_id() -> None:
    # A third-party (or local) server may serve an id CompactifAI withdrew: its list wins.
    client = _client(_chat_answer)
    client.model_profile("gpt-oss-20b")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelWithdrawnWarning)
        client.chat_completion(model="gpt-oss-20b", messages=HI)


def test_both_frameworks_get_the_warning() -> None:
    from langchain_compactifai import ChatCompactifAI
    from llama_index_compactifai import CompactifAI

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json={"object": "list", "data": []})
        return _chat_answer(request)

    chat = ChatCompactifAI(
        model="cai-llama-3-1-8b-slim",
        api_key="sk-test",
        base_url="https://compactifai.test/v1",
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    )
    with pytest.warns(ModelWithdrawnWarning, match="by 2026-08-26"):
        chat.invoke("Hi")
    llm = CompactifAI(
        model="cai-llama-3-3-70b-slim",
        api_key="sk-test",
        base_url="https://compactifai.test/v1",
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    )
    from llama_index.core.llms import ChatMessage

    with pytest.warns(ModelWithdrawnWarning, match="'cai-llama-3-3-70b-slim'"):
        llm.chat([ChatMessage(role="user", content="Hi")])


# ---------------------------------------------------------------- the error


def test_a_400_for_a_withdrawn_model_says_so_and_keeps_the_available_ids() -> None:
    message = "Invalid request: Model 'cai-llama-3-1-8b-slim' not found; available: [a, b]"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            400, json={"error": {"message": message, "type": "invalid_request_error"}}
        )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelWithdrawnWarning)
        with pytest.raises(BadRequestError) as info:
            _client(handler).chat_completion(model="cai-llama-3-1-8b-slim", messages=HI)
    err = info.value
    assert err.available_models == ["a", "b"]
    assert (err.withdrawn_model, err.withdrawn_on) == ("cai-llama-3-1-8b-slim", "by 2026-08-26")
    assert str(err).startswith(message)
    assert "was withdrawn from the CompactifAI service" in str(err)
    assert "client.list_models()" in str(err)


def test_a_404_on_a_withdrawn_models_page_says_so() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"detail": "Not Found"})

    with pytest.raises(NotFoundError, match=r"withdrawn .* on 2025-10-06") as info:
        _client(handler).retrieve_model("deepseek-r1-0528")
    assert info.value.withdrawn_on == "2025-10-06"


def test_a_400_names_the_withdrawn_model_of_a_multipart_upload_from_its_message() -> None:
    err = error_from_response(
        400, json.dumps({"detail": "Model 'whisper-large-v3' not found"}).encode()
    )
    assert err.withdrawn_model == "whisper-large-v3"


def test_errors_about_current_or_unknown_models_are_left_as_they_are() -> None:
    body = json.dumps({"error": {"message": "Model 'nope' not found; available: [x]"}}).encode()
    err = error_from_response(400, body, model="hypernova-60b")
    assert err.withdrawn_model is None and "withdrawn" not in str(err)
    assert error_from_response(500, body, model="gpt-oss-20b").withdrawn_model is None


def test_the_withdrawn_hint_survives_pickling() -> None:
    import pickle

    body = json.dumps({"detail": "Not Found"}).encode()
    err = pickle.loads(pickle.dumps(error_from_response(404, body, model="gpt-oss-20b")))
    assert (err.withdrawn_model, err.withdrawn_on) == ("gpt-oss-20b", "2026-06")


# ---------------------------------------------------------------- COMPACTIFAI_MODEL


def test_default_chat_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMPACTIFAI_MODEL", raising=False)
    monkeypatch.delenv("COMPACTIFAI_BASE_URL", raising=False)
    assert default_chat_model() == "hypernova-60b"
    assert default_chat_model("http://localhost:8765/v1") == "smollm2-135m-instruct"
    monkeypatch.setenv("COMPACTIFAI_BASE_URL", "http://127.0.0.1:8765/v1")
    assert default_chat_model() == "smollm2-135m-instruct"
    assert default_chat_model("https://api-eu.compactif.ai/v1") == "hypernova-60b"
    monkeypatch.setenv("COMPACTIFAI_MODEL", "  glm-5-1 ")
    assert default_chat_model() == default_chat_model("https://x/v1") == "glm-5-1"
    monkeypatch.setenv("COMPACTIFAI_MODEL", "")  # blank: unset
    assert default_chat_model() == "smollm2-135m-instruct"


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://127.0.0.1:8765/v1", True),
        ("http://localhost/v1", True),
        ("http://[::1]:9/v1", True),
        ("http://127.1.2.3/v1", True),
        ("https://api.compactif.ai/v1", False),
        ("http://10.0.0.5:8000/v1", False),
        ("http://localhost.example.com/v1", False),
    ],
)
def test_what_counts_as_this_machine(url: str, local: bool) -> None:
    assert is_local_base_url(url) is local


def test_the_frameworks_read_the_default_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    from langchain_compactifai import ChatCompactifAI
    from langchain_compactifai import CompactifAI as LangChainLLM
    from llama_index_compactifai import CompactifAI

    monkeypatch.setenv("COMPACTIFAI_MODEL", "qwen-3-6-27b")
    assert ChatCompactifAI(api_key="k").model_name == "qwen-3-6-27b"
    assert LangChainLLM(api_key="k").model_name == "qwen-3-6-27b"
    assert CompactifAI(api_key="k").model == "qwen-3-6-27b"
    assert ChatCompactifAI(api_key="k", model="glm-5-1").model_name == "glm-5-1"  # named: wins
    monkeypatch.delenv("COMPACTIFAI_MODEL")
    remote = "https://api.compactif.ai/v1"
    assert ChatCompactifAI(api_key="k", base_url=remote).model_name == "hypernova-60b"
    assert CompactifAI(api_key="k", base_url=remote).model == "hypernova-60b"
    local = "http://127.0.0.1:8765/v1"
    assert ChatCompactifAI(api_key="k", base_url=local).model_name == "smollm2-135m-instruct"
    assert CompactifAI(api_key="k", base_url=local).model == "smollm2-135m-instruct"


# ---------------------------------------------------------------- no withdrawn id in the docs

#: Every id the service withdrew, as a word (``whisper-large-v3`` is not the current
#: ``cai-whisper-large-v3-turbo-slim``).
WITHDRAWN_ID = re.compile(
    r"(?<![\w-])(" + "|".join(re.escape(m) for m in WITHDRAWN_MODELS) + r")(?![\w-])"
)
#: Files that name withdrawn ids on purpose, each with why.
ALLOWED = {
    "shared/compactifai/_catalogue.py": "the table that marks them withdrawn",
    "shared/compactifai/_errors.py": "the withdrawn-model hint's own example",
    "shared/compactifai/local/catalogue.py": "the local server still answers to the old Whisper",
    "CHANGELOG.md": "the history of the package",
    "tests/unit/test_catalogue.py": "this test",
    "tests/unit/reference_examples.py": "the first reference's examples, as written",
    "tests/unit/test_contract.py": "the first reference's examples, as written",
    "tests/unit/test_checks.py": "profiles of withdrawn models from the table",
    "tests/unit/test_transcripts.py": "transcripts recorded with the old Whisper",
    "tests/local/test_models_and_auth.py": "unknown ids the local server refuses",
    "tests/local/test_transcriptions.py": "the local server's alias of the old Whisper",
    "tests/local/test_errors.py": "unknown ids the local server refuses",
    "tests/unit/test_stream_defects.py": "recorded stream defects, as captured",
}
SKIPPED_DIRS = {
    ".git",
    ".ci-venv",
    "cassettes",
    "fixtures",
    "__pycache__",
    "node_modules",
    "compactifai_integrations.egg-info",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
    "build",
    "dist",
    ".hypothesis",
    ".benchmarks",
}


def _documents() -> list[Path]:
    found = []
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT)
        if set(rel.parts[:-1]) & SKIPPED_DIRS or not path.is_file():
            continue
        if path.suffix in (".py", ".md", ".ipynb", ".toml", ".txt", ".rst", ".cfg"):
            found.append(path)
    return found


def test_no_example_docstring_notebook_or_readme_names_a_withdrawn_model() -> None:
    offenders = []
    for path in _documents():
        rel = path.relative_to(ROOT).as_posix()
        if rel in ALLOWED:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if WITHDRAWN_ID.search(line):
                offenders.append(f"{rel}:{number}: {line.strip()[:100]}")
    assert not offenders, (
        "withdrawn model ids (use compactifai.default_chat_model(), "
        "COMPACTIFAI_MODEL or a current id):\n" + "\n".join(offenders)
    )


def test_the_scan_finds_what_it_looks_for() -> None:
    assert WITHDRAWN_ID.search('model="cai-llama-3-1-8b-slim"')
    assert WITHDRAWN_ID.search("use whisper-large-v3.")
    assert not WITHDRAWN_ID.search("cai-whisper-large-v3-turbo-slim")
    assert not WITHDRAWN_ID.search("gpt-oss-120b")
    assert any(p.name == "README.md" for p in _documents())
    assert any(p.suffix == ".ipynb" for p in _documents())
    for rel in ALLOWED:  # the allow-list names files that exist
        assert (ROOT / rel).exists(), rel
