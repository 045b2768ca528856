"""LangChain contenders: ChatCompactifAI and langchain-openai's ChatOpenAI, same server, same call.

Both are pointed at the runner's stub server with ``max_retries=0``, and both ask for token
usage in streams (ChatOpenAI only asks by itself for OpenAI's own URL), so they send the same
requests.

Example:
    >>> from benchmarks.contenders_langchain import CONTENDERS
    >>> [c.name for c in CONTENDERS]
    ['langchain-compactifai ChatCompactifAI', 'langchain-openai ChatOpenAI']
"""

from __future__ import annotations

from typing import Any

from benchmarks.harness import MESSAGES, MODEL, Contender

__all__ = ["CONTENDERS", "ChatCompactifAIContender", "ChatOpenAIContender"]


class ChatCompactifAIContender(Contender):
    """``langchain_compactifai.ChatCompactifAI`` on the compactifai transport."""

    name = "langchain-compactifai ChatCompactifAI"
    group = "langchain"
    import_statement = "from langchain_compactifai import ChatCompactifAI"

    def setup(self, base_url: str, api_key: str) -> None:
        from langchain_compactifai import ChatCompactifAI

        self.llm: Any = ChatCompactifAI(
            model=MODEL, api_key=api_key, base_url=base_url, max_retries=0
        )

    def call(self) -> None:
        _ = self.llm.invoke(MESSAGES).content

    def stream(self) -> int:
        return sum(1 for _ in self.llm.stream(MESSAGES))

    async def acall(self) -> None:
        _ = (await self.llm.ainvoke(MESSAGES)).content

    def close(self) -> None:
        # The sync pool closes here; each async pool closes with its event loop.
        self.llm.client.close()


class ChatOpenAIContender(Contender):
    """``langchain_openai.ChatOpenAI`` on the openai SDK."""

    name = "langchain-openai ChatOpenAI"
    group = "langchain"
    import_statement = "from langchain_openai import ChatOpenAI"

    def setup(self, base_url: str, api_key: str) -> None:
        from langchain_openai import ChatOpenAI

        self.llm: Any = ChatOpenAI(
            model=MODEL, api_key=api_key, base_url=base_url, max_retries=0, stream_usage=True
        )

    def call(self) -> None:
        _ = self.llm.invoke(MESSAGES).content

    def stream(self) -> int:
        return sum(1 for _ in self.llm.stream(MESSAGES))

    async def acall(self) -> None:
        _ = (await self.llm.ainvoke(MESSAGES)).content

    def close(self) -> None:
        self.llm.root_client.close()


CONTENDERS: list[Contender] = [ChatCompactifAIContender(), ChatOpenAIContender()]
