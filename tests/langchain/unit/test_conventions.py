"""LangChain's own conventions: ``profile``, ``rate_limiter``, offline token counts."""

from __future__ import annotations

import builtins
import socket
import sys
from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.rate_limiters import InMemoryRateLimiter
from pydantic import ValidationError

from compactifai import RateLimit
from compactifai._tokens import estimate_text_tokens
from langchain_compactifai import ChatCompactifAI, CompactifAI

from .wire import bodies, completion, failing, model_list, route

MakeChat = Callable[..., ChatCompactifAI]
LOCAL = "smollm2-135m-instruct"


def get_weather(city: str) -> str:
    """The weather in a city."""
    return "sunny"


# ---------------------------------------------------------------- profile


def test_profile_comes_from_the_table_without_a_request(make_chat: MakeChat) -> None:
    handler = route()  # any request fails the test
    llm = make_chat(handler, model=LOCAL)
    assert llm.profile is not None
    assert llm.profile["max_input_tokens"] == 2048
    assert llm.profile["tool_calling"] is True
    assert llm.profile["image_inputs"] is False
    assert handler.requests == []


def test_an_unknown_model_claims_nothing_it_does_not_know(make_chat: MakeChat) -> None:
    profile = make_chat(route(), model="some-new-model").profile
    assert profile is not None
    for unknown in (
        "max_input_tokens",
        "tool_calling",
        "image_inputs",
        "audio_inputs",
        "structured_output",
        "tool_choice",
    ):
        assert unknown not in profile
    assert profile["text_inputs"] is True


def test_the_live_model_list_replaces_the_table_when_it_is_read(make_chat: MakeChat) -> None:
    handler = route(
        models=model_list(
            **{"new-model": {"supports_function_calling": True, "supports_image": True}}
        ),
        chat=completion("ok"),
    )
    llm = make_chat(handler, model="new-model")
    assert llm.profile is not None and "tool_calling" not in llm.profile
    llm.bind_tools([get_weather]).invoke("hi")  # reads the model list before the chat
    assert llm.profile["tool_calling"] is True and llm.profile["image_inputs"] is True
    assert "audio_inputs" not in llm.profile  # the server did not say: unknown, not False


def test_refresh_profile_reads_the_list_once(make_chat: MakeChat) -> None:
    handler = route(models=model_list(**{"m": {"supports_function_calling": False}}))
    llm = make_chat(handler, model="m")
    assert llm.refresh_profile()["tool_calling"] is False
    assert llm.refresh_profile()["tool_calling"] is False
    assert llm.profile is not None and llm.profile["tool_calling"] is False
    assert len(handler.requests) == 1


async def test_arefresh_profile(make_chat: MakeChat) -> None:
    handler = route(models=model_list(**{"m": {"supports_image": True}}))
    llm = make_chat(handler, model="m")
    assert (await llm.arefresh_profile())["image_inputs"] is True
    assert llm.profile is not None and llm.profile["image_inputs"] is True


def test_a_profile_the_caller_gave_is_kept(make_chat: MakeChat) -> None:
    handler = route(models=model_list(**{"m": {"supports_function_calling": True}}))
    llm = make_chat(handler, model="m", profile={"max_input_tokens": 100})
    assert llm.refresh_profile()["tool_calling"] is True
    assert llm.profile == {"max_input_tokens": 100}


def test_an_unreadable_list_falls_back_to_the_table(make_chat: MakeChat) -> None:
    handler = route(models=failing(503, {"error": {"message": "down"}}))
    llm = make_chat(handler, model=LOCAL)
    assert llm.refresh_profile()["max_input_tokens"] == 2048


def test_profile_keys_are_langchains(make_chat: MakeChat) -> None:
    from typing import get_type_hints

    from langchain_core.language_models import ModelProfile

    profile = make_chat(route(), model=LOCAL).profile
    assert profile is not None
    assert set(profile) <= set(get_type_hints(ModelProfile))


# ---------------------------------------------------------------- rate limiting


def test_rate_limiter_is_langchains_and_works_as_in_every_chat_model(make_chat: MakeChat) -> None:
    class Counting(InMemoryRateLimiter):
        acquired = 0

        def acquire(self, *, blocking: bool = True) -> bool:
            type(self).acquired += 1
            return True

    handler = route(chat=completion("ok"))
    llm = make_chat(handler, rate_limiter=Counting())
    llm.invoke("a")
    llm.invoke("b")
    assert Counting.acquired == 2
    assert "rate_limiter" not in bodies(handler)[0]
    assert llm.client.config.rate_limit is None  # the transport's own limit is not set


@pytest.mark.parametrize("cls", [ChatCompactifAI, CompactifAI])
def test_both_limiters_at_once_are_refused(cls: type) -> None:
    with pytest.raises(ValidationError, match="not both"):
        cls(
            api_key="sk-x",
            rate_limit=RateLimit(requests_per_second=1),
            rate_limiter=InMemoryRateLimiter(requests_per_second=1),
        )


@pytest.mark.parametrize("cls", [ChatCompactifAI, CompactifAI])
def test_a_limiter_under_the_other_name_is_refused_with_the_right_name(cls: type) -> None:
    with pytest.raises(ValidationError, match=r"pass a compactifai\.RateLimit as rate_limit="):
        cls(api_key="sk-x", rate_limiter=RateLimit(requests_per_second=1))
    with pytest.raises(ValidationError, match="as rate_limiter= instead"):
        cls(api_key="sk-x", rate_limit=InMemoryRateLimiter(requests_per_second=1))


# ---------------------------------------------------------------- token counts


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test on any connection, any tokenizer download or transformers/tiktoken import."""
    import langchain_core.language_models.base as lc_base

    def no_network(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("token counting opened a connection")

    def no_tokenizer(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("token counting fell back to LangChain's GPT-2 tokenizer")

    real_import = builtins.__import__

    def guarded_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.partition(".")[0] in ("transformers", "tiktoken", "tokenizers"):
            raise AssertionError(f"token counting imported {name}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(lc_base, "get_tokenizer", no_tokenizer)
    monkeypatch.setattr(lc_base, "_get_token_ids_default_method", no_tokenizer)
    monkeypatch.setattr(builtins, "__import__", guarded_import)
    for name in ("transformers", "tiktoken", "tokenizers"):
        monkeypatch.delitem(sys.modules, name, raising=False)


@pytest.mark.usefixtures("offline")
@pytest.mark.parametrize("cls", [ChatCompactifAI, CompactifAI])
def test_token_counts_are_offline_estimates(cls: type) -> None:
    llm = cls(api_key="sk-x")
    text = "Tensor networks compress large language models. 2026!"
    assert llm.get_num_tokens(text) == estimate_text_tokens(text) > 0
    ids = llm.get_token_ids(text)
    assert len(ids) == llm.get_num_tokens(text)
    assert ids == llm.get_token_ids(text)  # stable
    assert llm.get_num_tokens_from_messages([HumanMessage(text)]) > llm.get_num_tokens(text)


@pytest.mark.usefixtures("offline")
def test_messages_count_template_tool_calls_and_tools() -> None:
    llm = ChatCompactifAI(api_key="sk-x")
    history = [
        SystemMessage("Be brief."),
        HumanMessage("Weather in Paris?"),
        AIMessage(
            "", tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1"}]
        ),
        ToolMessage("sunny", tool_call_id="call_1"),
    ]
    plain = llm.get_num_tokens_from_messages(history[:2])
    assert plain == 3 + (4 + 3) + (4 + 5)  # reply + (overhead + text) per message
    with_calls = llm.get_num_tokens_from_messages(history)
    assert with_calls > plain + 8  # two more messages and the call's name and arguments
    assert llm.get_num_tokens_from_messages(history, tools=[get_weather]) > with_calls + 10


def test_a_custom_tokenizer_takes_precedence() -> None:
    llm = ChatCompactifAI(api_key="sk-x", custom_get_token_ids=lambda text: list(range(len(text))))
    assert llm.get_num_tokens("abcd") == 4
    assert llm.get_token_ids("ab") == [0, 1]
    assert llm.get_num_tokens_from_messages([HumanMessage("abcd")]) == 3 + 4 + 4
