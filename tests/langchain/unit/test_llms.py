"""CompactifAI (the /completions LLM) against canned answers."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.load import dumpd
from pydantic import SecretStr

from compactifai import AuthenticationError, ResponseDecodeError
from langchain_compactifai import CompactifAI

from .wire import MODEL, bodies, failing, route, streamed

MakeLLM = Callable[..., CompactifAI]
PATH = "/v1/completions"


def completion(*texts: str, order: list[int] | None = None) -> dict[str, Any]:
    indexes = order if order is not None else list(range(len(texts)))
    return {
        "id": "cmpl-1",
        "object": "text_completion",
        "created": 1749600000,
        "model": MODEL,
        "choices": [
            {"text": texts[i], "index": i, "logprobs": None, "finish_reason": "length"}
            for i in indexes
        ],
        "usage": {"prompt_tokens": 6, "completion_tokens": 10, "total_tokens": 16},
    }


def text_chunk(text: str | None = None, *, finish: str | None = None,
               usage: dict[str, int] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "cmpl-1",
        "object": "text_completion",
        "created": 1,
        "model": MODEL,
        "choices": [] if text is None and finish is None else [
            {"text": text or "", "index": 0, "finish_reason": finish}
        ],
    }
    if usage:
        body["usage"] = usage
    return body


STREAM = [
    text_chunk("Once"),
    text_chunk(" upon"),
    text_chunk("", finish="stop"),
    text_chunk(usage={"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}),
]


def test_invoke(make_llm: MakeLLM) -> None:
    handler = route(completions=completion("\n\nSilicon dreams"))
    llm = make_llm(handler, max_tokens=150, temperature=0.7, top_p=0.9, stop=["END"], seed=1)
    assert llm.invoke("Write a poem") == "\n\nSilicon dreams"
    (body,) = bodies(handler, PATH)
    assert body == {
        "model": MODEL,
        "prompt": "Write a poem",
        "max_tokens": 150,
        "temperature": 0.7,
        "top_p": 0.9,
        "stop": ["END"],
        "seed": 1,
    }


def test_several_prompts_go_in_one_request(make_llm: MakeLLM) -> None:
    handler = route(completions=completion("A", "B", "C", order=[2, 0, 1]))
    result = make_llm(handler).generate(["p0", "p1", "p2"], stop=["\n"])
    assert [g[0].text for g in result.generations] == ["A", "B", "C"]  # matched by index
    assert [g[0].generation_info for g in result.generations] == [
        {"finish_reason": "length"}
    ] * 3
    assert result.llm_output == {
        "token_usage": {"prompt_tokens": 6, "completion_tokens": 10, "total_tokens": 16},
        "model_name": MODEL,
    }
    (body,) = bodies(handler, PATH)
    assert body["prompt"] == ["p0", "p1", "p2"]
    assert body["stop"] == ["\n"]


def test_batch_is_one_request(make_llm: MakeLLM) -> None:
    handler = route(completions=completion("x", "y"))
    assert make_llm(handler).batch(["a", "b"]) == ["x", "y"]
    assert len(handler.requests) == 1


def test_batch_size_splits_requests_and_sums_usage(make_llm: MakeLLM) -> None:
    handler = route(completions=[completion("1", "2"), completion("3")])
    result = make_llm(handler, batch_size=2).generate(["a", "b", "c"])
    assert [g[0].text for g in result.generations] == ["1", "2", "3"]
    assert [b["prompt"] for b in bodies(handler, PATH)] == [["a", "b"], "c"]
    assert result.llm_output is not None
    assert result.llm_output["token_usage"]["total_tokens"] == 32


def test_missing_choice_is_an_error(make_llm: MakeLLM) -> None:
    handler = route(completions=completion("only one"))
    with pytest.raises(ResponseDecodeError, match="1 choice"):
        make_llm(handler).generate(["a", "b"])


async def test_async(make_llm: MakeLLM) -> None:
    handler = route(completions=completion("x", "y"))
    llm = make_llm(handler)
    assert await llm.abatch(["a", "b"]) == ["x", "y"]
    assert len(handler.requests) == 1


def test_stream(make_llm: MakeLLM) -> None:
    handler = route(completions=streamed(STREAM))
    pieces = list(make_llm(handler).stream("Tell a story"))
    assert "".join(pieces) == "Once upon"
    (body,) = bodies(handler, PATH)
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


async def test_astream(make_llm: MakeLLM) -> None:
    handler = route(completions=streamed(STREAM))
    pieces = [p async for p in make_llm(handler).astream("Tell a story")]
    assert "".join(pieces) == "Once upon"


def test_streaming_generate_keeps_usage_and_finish_reason(make_llm: MakeLLM) -> None:
    handler = route(completions=streamed(STREAM))
    result = make_llm(handler, streaming=True).generate(["Tell a story"])
    generation = result.generations[0][0]
    assert generation.text == "Once upon"
    assert generation.generation_info is not None
    assert generation.generation_info["finish_reason"] == "stop"
    assert result.llm_output is not None
    assert result.llm_output["token_usage"] == {
        "prompt_tokens": 3,
        "completion_tokens": 2,
        "total_tokens": 5,
    }


def test_stream_callbacks_get_tokens(make_llm: MakeLLM) -> None:
    from langchain_core.callbacks import BaseCallbackHandler

    class Tokens(BaseCallbackHandler):
        def __init__(self) -> None:
            self.tokens: list[str] = []

        def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
            self.tokens.append(token)

    handler = route(completions=streamed(STREAM))
    tokens = Tokens()
    list(make_llm(handler).stream("x", config={"callbacks": [tokens]}))
    assert tokens.tokens == ["Once", " upon"]


def test_model_kwargs_are_sent(make_llm: MakeLLM) -> None:
    handler = route(completions=completion("x"))
    make_llm(handler, model_kwargs={"echo": False}).invoke("a", best_of=1)
    (body,) = bodies(handler, PATH)
    assert body["echo"] is False
    assert body["best_of"] == 1


def test_errors_are_typed(make_llm: MakeLLM) -> None:
    handler = route(completions=failing(401, {"error": {"message": "bad key"}}))
    with pytest.raises(AuthenticationError):
        make_llm(handler).invoke("a")


def test_env_aliases_serialization_and_pickle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPACTIFAI_API_KEY", "sk-llm-secret-7")
    llm = CompactifAI(model="llama-3-1-8b", max_tokens=5)
    assert llm.model_name == "llama-3-1-8b"
    assert "sk-llm-secret-7" not in repr(llm)
    data = dumpd(llm)
    assert data["id"] == ["langchain_compactifai", "llms", "CompactifAI"]
    assert data["kwargs"]["api_key"]["type"] == "secret"
    back = pickle.loads(pickle.dumps(llm))
    assert isinstance(back.api_key, SecretStr)
    assert back.max_tokens == 5
    params = llm._get_ls_params()
    assert params["ls_provider"] == "compactifai"
    assert params["ls_model_name"] == "llama-3-1-8b"
