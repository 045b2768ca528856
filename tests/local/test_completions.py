"""Text completions on the real SmolLM2 model."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from compactifai.types import Completion

from .support import CHAT_MODEL

pytestmark = pytest.mark.local_models


def complete(client: httpx.Client, **body: Any) -> dict[str, Any]:
    body.setdefault("model", CHAT_MODEL)
    body.setdefault("temperature", 0)
    resp = client.post("/completions", json=body)
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()
    Completion.model_validate(data)
    return data


def test_string_prompt(client: httpx.Client) -> None:
    data = complete(client, prompt="The capital of France is", max_tokens=8)
    assert data["object"] == "text_completion" and data["id"].startswith("cmpl-")
    (choice,) = data["choices"]
    assert choice["index"] == 0 and "Paris" in choice["text"]
    assert choice["logprobs"] is None
    usage = data["usage"]
    assert usage["completion_tokens"] <= 8
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_default_max_tokens_is_16(client: httpx.Client) -> None:
    data = complete(client, prompt="Once upon a time")
    assert data["usage"]["completion_tokens"] == 16
    assert data["choices"][0]["finish_reason"] == "length"


def test_list_prompt_gives_one_choice_per_prompt_in_order(client: httpx.Client) -> None:
    prompts = ["The capital of France is", "1, 2, 3, 4,"]
    data = complete(client, prompt=prompts, max_tokens=6)
    assert [c["index"] for c in data["choices"]] == [0, 1]
    assert "Paris" in data["choices"][0]["text"]
    assert "5" in data["choices"][1]["text"]
    singles = [complete(client, prompt=p, max_tokens=6) for p in prompts]
    assert [c["text"] for c in data["choices"]] == [s["choices"][0]["text"] for s in singles]
    assert data["usage"]["prompt_tokens"] == sum(s["usage"]["prompt_tokens"] for s in singles)


def test_stop_and_seed(client: httpx.Client) -> None:
    data = complete(client, prompt="1, 2, 3, 4,", max_tokens=20, stop=[" 7"])
    assert data["choices"][0]["finish_reason"] == "stop"
    assert "7" not in data["choices"][0]["text"]
    a = complete(
        client, prompt="My favourite colour is", max_tokens=10, temperature=1.0, seed=3, top_p=0.9
    )
    b = complete(
        client, prompt="My favourite colour is", max_tokens=10, temperature=1.0, seed=3, top_p=0.9
    )
    assert a["choices"] == b["choices"]


def test_without_a_seed_sampling_varies(client: httpx.Client) -> None:
    texts = {
        complete(client, prompt="My favourite colour is", max_tokens=10, temperature=1.0)[
            "choices"
        ][0]["text"]
        for _ in range(5)
    }
    assert len(texts) > 1


def test_stream(client: httpx.Client) -> None:
    body = {
        "model": CHAT_MODEL,
        "prompt": ["The capital of France is", "1, 2, 3,"],
        "max_tokens": 6,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with client.stream("POST", "/completions", json=body) as resp:
        assert resp.status_code == 200
        raw = resp.read().decode()
    blocks = raw.split("\n\n")
    assert blocks[-2:] == ["data: [DONE]", ""]
    events = [json.loads(b[len("data: ") :]) for b in blocks[:-2]]
    assert all(e["object"] == "text_completion" for e in events)
    usage = events[-1]
    assert usage["choices"] == [] and usage["usage"]["completion_tokens"] > 0
    texts = {0: "", 1: ""}
    finishes = {}
    for event in events[:-1]:
        (choice,) = event["choices"]
        texts[choice["index"]] += choice["text"]
        if choice["finish_reason"]:
            finishes[choice["index"]] = choice["finish_reason"]
    assert finishes == {0: "length", 1: "length"}
    plain = complete(client, prompt=body["prompt"], max_tokens=6)
    assert [texts[0], texts[1]] == [c["text"] for c in plain["choices"]]
    assert usage["usage"] == plain["usage"]


def test_empty_prompt_list_is_400(client: httpx.Client) -> None:
    resp = client.post("/completions", json={"model": CHAT_MODEL, "prompt": []})
    assert resp.status_code == 400


def test_prompt_longer_than_the_context_is_400(client: httpx.Client) -> None:
    resp = client.post("/completions", json={"model": CHAT_MODEL, "prompt": "word " * 5000})
    assert resp.status_code == 400
    err = resp.json()["error"]
    assert err["code"] == "context_length_exceeded" and err["param"] == "prompt"
    # So long that its size alone shows it cannot fit: refused without tokenizing it.
    resp = client.post("/completions", json={"model": CHAT_MODEL, "prompt": ["hi", "w" * 10**6]})
    err = resp.json()["error"]
    assert err["code"] == "context_length_exceeded" and err["param"] == "prompt"
