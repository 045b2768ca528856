"""The LlamaIndex LLM's tokenizer: offline estimates LlamaIndex's tokenizer arguments take."""

from __future__ import annotations

import builtins
import socket
from typing import Any

import pytest
from llama_index.core.llms import ChatMessage
from llama_index.core.memory import ChatMemoryBuffer

from compactifai._tokens import estimate_text_tokens
from llama_index_compactifai import CompactifAI


def test_the_tokenizer_is_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the tokenizer opened a connection")

    real_import = builtins.__import__

    def guarded_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.partition(".")[0] in ("transformers", "tiktoken", "tokenizers"):
            raise AssertionError(f"the tokenizer imported {name}")
        return real_import(name, *args, **kwargs)

    llm = CompactifAI(api_key="sk-x")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(builtins, "__import__", guarded_import)
    text = "Tensor networks compress large language models."
    ids = llm.tokenizer(text)
    assert len(ids) == estimate_text_tokens(text) > 0
    assert ids == llm.tokenizer(text)


def test_memory_counts_with_it() -> None:
    llm = CompactifAI(api_key="sk-x")
    memory = ChatMemoryBuffer.from_defaults(llm=llm, tokenizer_fn=llm.tokenizer, token_limit=12)
    for i in range(6):
        memory.put(ChatMessage(role="user", content=f"message number {i} with a few words"))
    kept = memory.get()
    assert 0 < len(kept) < 6  # trimmed by the estimate, newest kept
    assert kept[-1].content == "message number 5 with a few words"
