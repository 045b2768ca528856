"""The floor (raw httpx + json.loads), the openai SDK, and our transport."""

from __future__ import annotations

import json

import httpx

from benchmarks.harness import MESSAGES, MODEL, Contender

_BODY = {"model": MODEL, "messages": MESSAGES}


class RawHttpx(Contender):
    """What any client must do at least: send with httpx, json.loads the answer."""

    name, group, import_statement = "raw httpx + json.loads", "floor", "import httpx, json"

    def setup(self, base_url: str, api_key: str) -> None:
        headers = {"Authorization": f"Bearer {api_key}"}
        self.url = base_url + "/chat/completions"
        # httpx's defaults: what a developer writing the floor by hand would get.
        self.client = httpx.Client(headers=headers)
        self.aclient = httpx.AsyncClient(headers=headers)
        self.stream_body = {**_BODY, "stream": True}

    def call(self) -> None:
        data = json.loads(self.client.post(self.url, json=_BODY).content)
        assert data["choices"][0]["message"]["content"]

    def stream(self) -> int:
        n = 0
        with self.client.stream("POST", self.url, json=self.stream_body) as response:
            for line in response.iter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    json.loads(line[6:])
                    n += 1
        return n

    async def acall(self) -> None:
        response = await self.aclient.post(self.url, json=_BODY)
        assert json.loads(response.content)["choices"]

    def close(self) -> None:
        self.client.close()


class OpenAISDK(Contender):
    name, group, import_statement = "openai SDK", "transport", "import openai"

    def setup(self, base_url: str, api_key: str) -> None:
        import openai

        self.client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0)
        self.aclient = openai.AsyncOpenAI(base_url=base_url, api_key=api_key, max_retries=0)

    def call(self) -> None:
        out = self.client.chat.completions.create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]
        assert out.choices[0].message.content

    def stream(self) -> int:
        n = 0
        for _ in self.client.chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True  # type: ignore[arg-type]
        ):
            n += 1
        return n

    async def acall(self) -> None:
        out = await self.aclient.chat.completions.create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]
        assert out.choices

    def close(self) -> None:
        self.client.close()


class CompactifAITransport(Contender):
    name, group, import_statement = "compactifai (ours)", "transport", "import compactifai"

    def setup(self, base_url: str, api_key: str) -> None:
        from compactifai import AsyncCompactifAIClient, CompactifAIClient

        self.client = CompactifAIClient(api_key=api_key, base_url=base_url, max_retries=0)
        self.aclient = AsyncCompactifAIClient(api_key=api_key, base_url=base_url, max_retries=0)

    def call(self) -> None:
        out = self.client.chat_completion(model=MODEL, messages=MESSAGES)
        assert out.choices[0].message.content

    def stream(self) -> int:
        n = 0
        for _ in self.client.chat_completion_stream(model=MODEL, messages=MESSAGES):
            n += 1
        return n

    async def acall(self) -> None:
        out = await self.aclient.chat_completion(model=MODEL, messages=MESSAGES)
        assert out.choices

    def close(self) -> None:
        self.client.close()


CONTENDERS: list[Contender] = [RawHttpx(), OpenAISDK(), CompactifAITransport()]
__all__ = ["CONTENDERS"]
