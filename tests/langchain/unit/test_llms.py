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
    handler = route(completions=completion())  # no choice at all, for one prompt
    with pytest.raises(ResponseDecodeError, match="0 choice"):
        make_llm(handler).generate(["a"])


def test_fewer_choices_than_prompts_falls_back_to_one_prompt_per_request(
    make_llm: MakeLLM,
) -> None:
    handler = route(completions=[completion("only one"), completion("A"), completion("B")])
    with pytest.warns(UserWarning, match="one prompt per request"):
        result = make_llm(handler).generate(["a", "b"])
    assert [g[0].text for g in result.generations] == ["A", "B"]
    assert [b["prompt"] for b in bodies(handler, PATH)] == [["a", "b"], "a", "b"]


# ---------------------------------------------------------------- servers refusing lists


def _list_refused(status: int = 500) -> Any:
    """A server that answers ``status`` to a list prompt and completes single prompts."""
    import json

    from tests.helpers import json_response

    def answer(request: Any) -> Any:
        prompt = json.loads(request.content)["prompt"]
        if isinstance(prompt, list):
            return json_response({"error": {"message": "prompt must be a string"}}, status=status)
        return json_response(completion(f"<{prompt}>"))

    requests: list[Any] = []

    def handler(request: Any) -> Any:
        request.read()
        requests.append(request)
        return answer(request)

    handler.requests = requests  # type: ignore[attr-defined]
    return handler


@pytest.mark.parametrize("status", [500, 400, 422])
def test_a_refused_list_falls_back_once_and_is_remembered(make_llm: MakeLLM, status: int) -> None:
    import warnings

    handler = _list_refused(status)
    llm = make_llm(handler, batch_size=2)
    with pytest.warns(UserWarning, match="refused 2 prompts in one request") as caught:
        assert llm.batch(["a", "b", "c"]) == ["<a>", "<b>", "<c>"]
    assert len([w for w in caught if "one prompt per request" in str(w.message)]) == 1
    # list, then each prompt of that batch, then the rest one by one
    assert [b["prompt"] for b in bodies(handler, PATH)] == [["a", "b"], "a", "b", "c"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # remembered: no second list, no second warning
        assert llm.batch(["d", "e"]) == ["<d>", "<e>"]
    assert [b["prompt"] for b in bodies(handler, PATH)][-2:] == ["d", "e"]


async def test_async_falls_back_too(make_llm: MakeLLM) -> None:
    handler = _list_refused()
    llm = make_llm(handler)
    with pytest.warns(UserWarning, match="one prompt per request"):
        assert await llm.abatch(["a", "b"]) == ["<a>", "<b>"]
    assert [b["prompt"] for b in bodies(handler, PATH)] == [["a", "b"], "a", "b"]
    assert await llm.abatch(["c", "d"]) == ["<c>", "<d>"]
    assert [b["prompt"] for b in bodies(handler, PATH)][-2:] == ["c", "d"]


@pytest.mark.parametrize("status", [401, 403, 404, 429])
def test_errors_a_single_prompt_would_get_do_not_fall_back(make_llm: MakeLLM, status: int) -> None:
    handler = _list_refused(status)
    with pytest.raises(Exception) as raised:
        make_llm(handler).batch(["a", "b"])
    assert getattr(raised.value, "status_code", None) == status
    assert len(bodies(handler, PATH)) == 1


def test_when_single_prompts_fail_too_their_error_is_raised_and_nothing_is_remembered(
    make_llm: MakeLLM,
) -> None:
    handler = route(completions=failing(500, {"error": {"message": "down"}}))
    llm = make_llm(handler)
    with pytest.raises(Exception, match="down"):
        llm.batch(["a", "b"])
    assert [b["prompt"] for b in bodies(handler, PATH)] == [["a", "b"], "a"]
    assert llm._one_prompt_per_request is False


def test_batch_size_one_never_sends_a_list(make_llm: MakeLLM) -> None:
    handler = _list_refused()
    assert make_llm(handler, batch_size=1).batch(["a", "b"]) == ["<a>", "<b>"]
    assert [b["prompt"] for b in bodies(handler, PATH)] == ["a", "b"]


def test_langchain_rate_limiter_is_acquired_before_each_request(make_llm: MakeLLM) -> None:
    from langchain_core.rate_limiters import BaseRateLimiter

    class Counting(BaseRateLimiter):
        def __init__(self) -> None:
            self.acquired = 0

        def acquire(self, *, blocking: bool = True) -> bool:
            self.acquired += 1
            return True

        async def aacquire(self, *, blocking: bool = True) -> bool:
            self.acquired += 1
            return True

    limiter = Counting()
    handler = route(completions=[completion("1", "2"), completion("3"), *[completion("s")] * 4])
    llm = make_llm(handler, batch_size=2, rate_limiter=limiter)
    llm.generate(["a", "b", "c"])
    assert limiter.acquired == 2 == len(bodies(handler, PATH))
    assert "rate_limiter" not in bodies(handler, PATH)[0]  # never sent to the API
    streaming = make_llm(route(completions=streamed(STREAM)), rate_limiter=limiter)
    assert "".join(streaming.stream("Tell a story")) == "Once upon"
    assert limiter.acquired == 3  # a stream is one request


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
    llm = CompactifAI(model="glm-5-1", max_tokens=5)
    assert llm.model_name == "glm-5-1"
    assert "sk-llm-secret-7" not in repr(llm)
    data = dumpd(llm)
    assert data["id"] == ["langchain_compactifai", "llms", "CompactifAI"]
    assert data["kwargs"]["api_key"]["type"] == "secret"
    back = pickle.loads(pickle.dumps(llm))
    assert isinstance(back.api_key, SecretStr)
    assert back.max_tokens == 5
    params = llm._get_ls_params()
    assert params["ls_provider"] == "compactifai"
    assert params["ls_model_name"] == "glm-5-1"
