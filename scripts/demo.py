"""The main job: CompactifAI in LangChain and LlamaIndex, end to end, narrated.

    python scripts/demo.py

With ``COMPACTIFAI_API_KEY`` set it uses the real API (``COMPACTIFAI_BASE_URL`` overrides the
URL). Without it, it starts the local server (SmolLM2-135M for chat and tools, Whisper base for
audio) in the background and stops it at the end: no account, no network. Steps:

1. the model catalogue;
2. a LangChain RAG answer with its source (BM25 retrieval: the API has no embeddings); the model
   answers from the retrieved passage and this script prints which passage that was;
3. a LlamaIndex FunctionAgent with a tool and ``tool_choice`` "auto" throughout: nothing forces
   the call, the model decides (and may answer without calling it);
4. an audio file loaded as timestamped Documents, and the moment that answers a question.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SPEECH = ROOT / "tests" / "fixtures" / "lecture.wav"

DOCUMENTS = [
    (
        "compactifai",
        "CompactifAI is Multiverse Computing's API for compressed language models. "
        "It serves slim models next to their originals through an OpenAI-compatible API.",
    ),
    (
        "slim-models",
        "Slim models such as cai-mistral-small-3-1-slim are compressed with tensor "
        "networks: they keep most of the original's accuracy with far fewer parameters.",
    ),
    (
        "transcription",
        "The audio transcription endpoint takes flac, mp3, mp4, mpeg, mpga, m4a, "
        "ogg, wav and webm files and returns the text with timestamped segments.",
    ),
    (
        "usage",
        "The usage endpoint reports input and output tokens per minute, hour or day, "
        "grouped by model, in any IANA time zone.",
    ),
    ("headquarters", "Multiverse Computing is headquartered in San Sebastian, Spain."),
]


def say(step: str, text: str = "") -> None:
    print(f"\n== {step}" + (f"\n{text}" if text else ""), flush=True)


@contextmanager
def backend() -> Iterator[tuple[str, str]]:
    """Yield (chat model, transcription model), on the real API or a local server."""
    if os.environ.get("COMPACTIFAI_API_KEY"):
        say(
            "Backend",
            f"the CompactifAI API at "
            f"{os.environ.get('COMPACTIFAI_BASE_URL', 'https://api.compactif.ai/v1')}",
        )
        from compactifai import default_chat_model
        from compactifai.transcripts import DEFAULT_TRANSCRIPTION_MODEL

        # COMPACTIFAI_MODEL, else a current model of the service (compactifai.default_chat_model)
        yield default_chat_model(), DEFAULT_TRANSCRIPTION_MODEL
        return
    from compactifai.local import LocalServer

    say("Backend", "no COMPACTIFAI_API_KEY: starting the local server (real small models)")
    started = time.perf_counter()
    with LocalServer() as server:
        print(f"ready at {server.base_url} in {time.perf_counter() - started:.1f} s")
        os.environ["COMPACTIFAI_BASE_URL"] = server.base_url
        os.environ["COMPACTIFAI_API_KEY"] = server.api_key
        try:
            yield "smollm2-135m-instruct", "whisper-base"
        finally:
            del os.environ["COMPACTIFAI_API_KEY"], os.environ["COMPACTIFAI_BASE_URL"]
            print("\nlocal server stopped")


def catalogue() -> None:
    from compactifai import CompactifAIClient

    with CompactifAIClient() as client:
        say("1. Model catalogue")
        for model in client.list_models().data:
            caps = model.capabilities
            print(
                f"  {model.id:32} {model.parameters_number or '':>6}  tools={caps.supports_function_calling}"
                f" images={caps.supports_image} audio={caps.supports_audio}"
            )


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def bm25(query: str, docs: list[str], k1: float = 1.5, b: float = 0.75) -> list[float]:
    """Okapi BM25 scores of ``docs`` for ``query`` (offline retrieval, no embeddings)."""
    tokenized = [_tokens(d) for d in docs]
    avg = sum(map(len, tokenized)) / len(tokenized)
    df = Counter(t for doc in tokenized for t in set(doc))
    scores = []
    for doc in tokenized:
        tf = Counter(doc)
        score = 0.0
        for term in _tokens(query):
            if term in tf:
                idf = math.log(1 + (len(docs) - df[term] + 0.5) / (df[term] + 0.5))
                score += idf * tf[term] * (k1 + 1) / (tf[term] + k1 * (1 - b + b * len(doc) / avg))
        scores.append(score)
    return scores


def langchain_rag(chat_model: str) -> None:
    from langchain_core.messages import HumanMessage, SystemMessage

    from langchain_compactifai import ChatCompactifAI

    question = "Where is Multiverse Computing headquartered?"
    say("2. LangChain RAG with its source", f"question: {question}")
    scores = bm25(question, [text for _, text in DOCUMENTS])
    best = max(range(len(DOCUMENTS)), key=scores.__getitem__)
    source, passage = DOCUMENTS[best]
    print(f"  retrieved [{source}] (BM25 {scores[best]:.2f}): {passage}")
    llm = ChatCompactifAI(model=chat_model, temperature=0, max_tokens=60)
    answer = llm.invoke(
        [
            SystemMessage("Answer the question in one sentence using only the source."),
            HumanMessage(f"Source [{source}]: {passage}\n\nQuestion: {question}"),
        ]
    )
    # The model answers from the passage; the source label is the retrieval's, added here.
    print(f"  answer: {str(answer.content).strip()}")
    print(f"  source (retrieved by BM25, attached by this script): [{source}]")
    usage = answer.usage_metadata or {}
    print(f"  tokens: {usage.get('input_tokens')} in, {usage.get('output_tokens')} out")


def get_weather(city: str) -> str:
    """Get the current weather of a city."""
    return f"It is sunny and 22 degrees in {city}."


def llama_index_agent(chat_model: str) -> None:
    from llama_index.core.agent.workflow import FunctionAgent

    from llama_index_compactifai import CompactifAI

    question = "What is the weather in Paris?"
    say("3. LlamaIndex FunctionAgent with a tool", f"question: {question}")
    agent = FunctionAgent(
        tools=[get_weather],
        llm=CompactifAI(model=chat_model, temperature=0, max_tokens=64),
        system_prompt="You answer questions about the weather with the get_weather tool.",
        # tool_choice "auto" throughout: the model itself decides to call the tool (the local
        # server reads SmolLM2's probability of a tool call; see docs/local-server.md).
    )

    async def run() -> Any:
        return await agent.run(question)

    result = asyncio.run(run())
    for call in result.tool_calls:
        print(f"  tool call: {call.tool_name}({call.tool_kwargs}) -> {call.tool_output.content}")
    if not result.tool_calls:
        print("  (the model answered without calling the tool)")
    print(f"  answer: {str(result.response.content).strip()}")


def audio_documents(audio_model: str) -> None:
    from langchain_compactifai.document_loaders import CompactifAITranscriptLoader

    say("4. Audio as timestamped Documents", f"file: {SPEECH.relative_to(ROOT)}")
    docs = CompactifAITranscriptLoader(
        SPEECH, mode="segment", model=audio_model, language="en"
    ).load()
    for doc in docs:
        m = doc.metadata
        print(f"  [{m['start']:5.2f}-{m['end']:5.2f} s] {doc.page_content.strip()}")
    question = "When is the homework due?"
    scores = bm25(question, [d.page_content for d in docs])
    hit = docs[max(range(len(docs)), key=scores.__getitem__)]
    print(f"  '{question}' -> at {hit.metadata['start']:.2f} s: {hit.page_content.strip()}")


def main() -> int:
    started = time.perf_counter()
    with backend() as (chat_model, audio_model):
        catalogue()
        langchain_rag(chat_model)
        llama_index_agent(chat_model)
        audio_documents(audio_model)
    print(f"\ndone in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
