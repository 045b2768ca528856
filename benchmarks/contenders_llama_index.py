"""LlamaIndex contenders: our ``CompactifAI`` LLM and llama-index's ``OpenAILike``.

Both are pointed at the same stub server, with no retries, and send the same chat request;
``stream`` consumes one ``stream_chat`` and counts the responses it yields.
"""

from __future__ import annotations

from typing import Any

from benchmarks.harness import MESSAGES, MODEL, Contender


def _messages() -> list[Any]:
    from llama_index.core.base.llms.types import ChatMessage

    return [ChatMessage(role=m["role"], content=m["content"]) for m in MESSAGES]


class _LlamaIndexLLM(Contender):
    """One chat per call through the LLM's public LlamaIndex methods."""

    group = "llama-index"
    llm: Any
    messages: list[Any]

    def call(self) -> None:
        assert self.llm.chat(self.messages).message.content

    def stream(self) -> int:
        n = 0
        for _ in self.llm.stream_chat(self.messages):
            n += 1
        return n

    async def acall(self) -> None:
        assert (await self.llm.achat(self.messages)).message.content is not None


class CompactifAILlamaIndex(_LlamaIndexLLM):
    name = "llama-index CompactifAI (ours)"
    import_statement = "from llama_index_compactifai import CompactifAI"

    def setup(self, base_url: str, api_key: str) -> None:
        from llama_index_compactifai import CompactifAI

        self.llm = CompactifAI(model=MODEL, api_key=api_key, base_url=base_url, max_retries=0)
        self.messages = _messages()

    def close(self) -> None:
        client = self.llm._clients.sync
        if client is not None:
            client.close()


class OpenAILikeLlamaIndex(_LlamaIndexLLM):
    name = "llama-index OpenAILike"
    import_statement = "from llama_index.llms.openai_like import OpenAILike"

    def setup(self, base_url: str, api_key: str) -> None:
        from llama_index.llms.openai_like import OpenAILike

        self.llm = OpenAILike(
            model=MODEL, api_base=base_url, api_key=api_key, max_retries=0, is_chat_model=True
        )
        self.messages = _messages()

    def close(self) -> None:
        self.llm._get_client().close()


CONTENDERS: list[Contender] = [CompactifAILlamaIndex(), OpenAILikeLlamaIndex()]
__all__ = ["CONTENDERS"]
