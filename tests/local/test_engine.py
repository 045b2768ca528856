"""The llama.cpp engine in-process: token counts, stop handling, threads, determinism."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from compactifai.local.engines.llama import LlamaEngine, PromptTooLong, Sampling

pytestmark = pytest.mark.local_models

PROMPT = [
    ("<|im_start|>", True),
    ("user\nCount from 1 to 20, separated by commas.", False),
    ("<|im_end|>\n<|im_start|>", True),
    ("assistant\n", False),
]


@pytest.fixture(scope="module")
def engine() -> Iterator[LlamaEngine]:
    eng = LlamaEngine(None, n_ctx=2048, n_threads=2)
    yield eng
    eng.close()


def test_streamed_pieces_never_hold_a_stop_sequence(engine: LlamaEngine) -> None:
    full = engine.generate(PROMPT, Sampling(temperature=0, max_tokens=60))
    assert "7" in full.text
    pieces: list[str] = []
    res = engine.generate(
        PROMPT, Sampling(temperature=0, max_tokens=60, stop=["\n7."]), on_piece=pieces.append
    )
    assert res.finish_reason == "stop"
    assert "".join(pieces) == res.text and full.text.startswith(res.text)
    assert not any("7" in p for p in pieces) and res.text.endswith("6. 6")
    assert res.completion_tokens < full.completion_tokens


def test_token_counts_and_length(engine: LlamaEngine) -> None:
    res = engine.generate(PROMPT, Sampling(temperature=0, max_tokens=7))
    assert res.finish_reason == "length" and res.completion_tokens == 7
    assert res.prompt_tokens == engine.check_prompt(PROMPT)


def test_unicode_pieces_are_whole_characters(engine: LlamaEngine) -> None:
    prompt = [("<|im_start|>", True), ("user\nRepeat exactly: 日本語 😀 café", False)]
    prompt += [("<|im_end|>\n<|im_start|>", True), ("assistant\n", False)]
    pieces: list[str] = []
    res = engine.generate(prompt, Sampling(temperature=0, max_tokens=30), on_piece=pieces.append)
    assert "\ufffd" not in res.text and "".join(pieces) == res.text


def test_prompt_too_long(engine: LlamaEngine) -> None:
    with pytest.raises(PromptTooLong):
        engine.check_prompt([("word " * 3000, False)])


def test_empty_prompt_still_generates(engine: LlamaEngine) -> None:
    res = engine.generate([("", False)], Sampling(temperature=0, max_tokens=3))
    assert res.prompt_tokens == 1 and res.completion_tokens <= 3


def test_contended_cpu_switches_to_one_thread_with_the_same_output(
    engine: LlamaEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = engine.generate(PROMPT, Sampling(temperature=0, max_tokens=40)).text
    monkeypatch.setattr("compactifai.local.engines.llama.SLOW_TOKEN_SECONDS", 0.0)
    monkeypatch.setattr("compactifai.local.engines.llama.SLOW_PROMPT_TOKEN_SECONDS", 0.0)
    during = engine.generate(PROMPT, Sampling(temperature=0, max_tokens=40)).text
    assert engine._threads_now == 1
    after = engine.generate(PROMPT, Sampling(temperature=0, max_tokens=40)).text
    assert before == during == after
    engine._single_until = 0.0
