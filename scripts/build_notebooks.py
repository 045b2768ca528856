"""Write the notebooks in ``notebooks/`` from the cells below and execute them in place.

    python scripts/build_notebooks.py          # all of them
    python scripts/build_notebooks.py 03       # the ones whose name contains "03"

Each notebook starts the local server (and stops it at the end), so it runs with no account;
it uses the real, billed API only when ``COMPACTIFAI_NOTEBOOKS_USE_REAL_API=1`` (and a key) is
set: a key left in the environment is not an opt-in. CI executes the
committed notebooks with nbmake; this script is how their outputs are refreshed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

SETUP = '''\
import os
from pathlib import Path

from compactifai.local import LocalServer

# The real, billed service only on an explicit opt-in: a key that happens to be set in the
# shell (or in CI) is not enough. Otherwise the local server (SmolLM2-135M, Whisper base).
REAL_API = os.environ.get("COMPACTIFAI_NOTEBOOKS_USE_REAL_API") == "1"
if REAL_API and not os.environ.get("COMPACTIFAI_API_KEY"):
    raise RuntimeError("COMPACTIFAI_NOTEBOOKS_USE_REAL_API=1 needs COMPACTIFAI_API_KEY set")
LOCAL = not REAL_API
if LOCAL:
    server = LocalServer().start()
    os.environ["COMPACTIFAI_BASE_URL"] = server.base_url
    os.environ["COMPACTIFAI_API_KEY"] = server.api_key
CHAT_MODEL = "smollm2-135m-instruct" if LOCAL else "cai-llama-3-1-8b-slim"
AUDIO_MODEL = "whisper-base" if LOCAL else "whisper-large-v3"
FIXTURES = Path.cwd().parent / "tests" / "fixtures"
print("local server" if LOCAL else "CompactifAI API", "-", os.environ.get("COMPACTIFAI_BASE_URL"))'''

TEARDOWN = '''\
if LOCAL:
    server.stop()
    del os.environ["COMPACTIFAI_BASE_URL"], os.environ["COMPACTIFAI_API_KEY"]'''

BM25 = '''\
import math
import re
from collections import Counter


def tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def bm25_scores(query: str, texts: list[str], k1: float = 1.5, b: float = 0.75) -> list[float]:
    """Okapi BM25: offline lexical retrieval (the API has no embeddings endpoint)."""
    docs = [tokens(t) for t in texts]
    avg = sum(map(len, docs)) / len(docs)
    df = Counter(term for doc in docs for term in set(doc))
    out = []
    for doc in docs:
        tf = Counter(doc)
        out.append(sum(
            math.log(1 + (len(docs) - df[t] + 0.5) / (df[t] + 0.5))
            * tf[t] * (k1 + 1) / (tf[t] + k1 * (1 - b + b * len(doc) / avg))
            for t in tokens(query) if t in tf))
    return out'''

BOOKS: dict[str, list[tuple[str, str]]] = {
    "01_quickstart.ipynb": [
        ("md", "# Quickstart: CompactifAI in LangChain and LlamaIndex\n\n"
               "Invoke, stream and call tools with both integrations. The notebook starts "
               "the local server (SmolLM2-135M), so answers are short and simple; set "
               "`COMPACTIFAI_NOTEBOOKS_USE_REAL_API=1` with `COMPACTIFAI_API_KEY` to run it "
               "against the real, billed API."),
        ("code", SETUP),
        ("md", "## LangChain: `ChatCompactifAI`"),
        ("code", '''\
from langchain_compactifai import ChatCompactifAI

chat = ChatCompactifAI(model=CHAT_MODEL, temperature=0, max_tokens=60)
answer = chat.invoke("What is the capital of France? Answer in one sentence.")
print(answer.content)
print(answer.usage_metadata)
print({k: answer.response_metadata.get(k) for k in ("model_name", "finish_reason")})'''),
        ("code", '''\
for chunk in chat.stream("Name three colours of the rainbow."):
    print(chunk.content, end="|")'''),
        ("md", "Tools: any LangChain tool, pydantic class, function or dict. `tool_choice='any'` "
               "makes the model call one."),
        ("code", '''\
from langchain_core.tools import tool


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"It is sunny and 22 degrees in {city}."


with_tools = chat.bind_tools([get_weather], tool_choice="any")
message = with_tools.invoke("What is the weather in Paris?")
print(message.tool_calls)
print(get_weather.invoke(message.tool_calls[0]["args"]))'''),
        ("md", "## LlamaIndex: `CompactifAI`"),
        ("code", '''\
from llama_index.core.llms import ChatMessage
from llama_index.core.tools import FunctionTool

from llama_index_compactifai import CompactifAI

llm = CompactifAI(model=CHAT_MODEL, temperature=0, max_tokens=60)
print(llm.metadata.is_function_calling_model, llm.metadata.context_window)
response = llm.chat([ChatMessage(role="user", content="What is the capital of Spain?")])
print(response.message.content)'''),
        ("code", '''\
for delta in llm.stream_complete("The three primary colours are"):
    print(delta.delta, end="|")'''),
        ("code", '''\
def get_time(city: str) -> str:
    """Get the local time in a city."""
    return f"It is 14:05 in {city}."


time_tool = FunctionTool.from_defaults(get_time)
response = llm.chat_with_tools([time_tool], user_msg="What time is it in Tokyo?",
                               tool_required=True)
for call in llm.get_tool_calls_from_response(response, error_on_no_tool_call=False):
    print(call.tool_name, call.tool_kwargs, "->", time_tool(**call.tool_kwargs))'''),
        ("code", TEARDOWN),
    ],
    "02_rag_langchain.ipynb": [
        ("md", "# RAG over documents with LangChain\n\n"
               "CompactifAI has no embeddings endpoint, so retrieval runs offline with **BM25** "
               "(lexical scoring, defined below in a few lines; no extra package). The chain "
               "retrieves, answers with `ChatCompactifAI`, and cites the source it used."),
        ("code", SETUP),
        ("code", BM25),
        ("code", '''\
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever


class BM25Retriever(BaseRetriever):
    """Return the k best documents for a query by BM25 score."""

    docs: list[Document]
    k: int = 2

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        scores = bm25_scores(query, [d.page_content for d in self.docs])
        ranked = sorted(zip(scores, self.docs), key=lambda p: -p[0])
        return [doc for score, doc in ranked[: self.k] if score > 0]


docs = [
    Document("CompactifAI serves compressed 'slim' language models next to their originals "
             "through an OpenAI-compatible API.", metadata={"source": "overview.md"}),
    Document("Slim models are compressed with tensor networks and keep most of the "
             "original model's accuracy.", metadata={"source": "compression.md"}),
    Document("The transcription endpoint accepts mp3, mp4, mpeg, mpga, wav and webm files.",
             metadata={"source": "audio.md"}),
    Document("Multiverse Computing is headquartered in San Sebastian, Spain.",
             metadata={"source": "company.md"}),
]
retriever = BM25Retriever(docs=docs)
retriever.invoke("Which audio files can be transcribed?")'''),
        ("code", '''\
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda, RunnablePassthrough

from langchain_compactifai import ChatCompactifAI

prompt = ChatPromptTemplate.from_messages([
    ("system", "Answer in one sentence using only the sources."),
    ("human", "Sources:\\n{context}\\n\\nQuestion: {question}"),
])


def format_docs(found: list[Document]) -> str:
    return "\\n".join(f"[{d.metadata['source']}] {d.page_content}" for d in found)


llm = ChatCompactifAI(model=CHAT_MODEL, temperature=0, max_tokens=60)
answer_chain = prompt | llm | StrOutputParser()
rag = RunnablePassthrough.assign(found=lambda x: retriever.invoke(x["question"])) | {
    "answer": RunnableLambda(lambda x: answer_chain.invoke(
        {"context": format_docs(x["found"]), "question": x["question"]})),
    "sources": RunnableLambda(lambda x: [d.metadata["source"] for d in x["found"]]),
}
result = rag.invoke({"question": "Where is Multiverse Computing headquartered?"})
print(result["answer"].strip(), "\\nsources:", result["sources"])'''),
        ("code", TEARDOWN),
    ],
    "03_llama_index_agent.ipynb": [
        ("md", "# A LlamaIndex FunctionAgent with two tools\n\n"
               "`CompactifAI` reports `is_function_calling_model=True` from the model catalogue, "
               "so `FunctionAgent` takes it with no extra flags. With the local 135M model the "
               "first tool call is forced (`initial_tool_choice`); a real CompactifAI model "
               "chooses by itself."),
        ("code", SETUP),
        ("code", '''\
from llama_index.core.agent.workflow import FunctionAgent, ToolCall, ToolCallResult

from llama_index_compactifai import CompactifAI


def get_weather(city: str) -> str:
    """Get the current weather in a city, in degrees Celsius."""
    return f"It is sunny and 22 degrees Celsius in {city}."


def celsius_to_fahrenheit(celsius: float) -> float:
    """Convert a temperature from degrees Celsius to degrees Fahrenheit."""
    return celsius * 9 / 5 + 32


llm = CompactifAI(model=CHAT_MODEL, temperature=0, max_tokens=64)
agent = FunctionAgent(
    tools=[get_weather, celsius_to_fahrenheit],
    llm=llm,
    system_prompt="You answer weather questions with the tools.",
    initial_tool_choice="get_weather" if LOCAL else None,
)
print(llm.metadata)'''),
        ("code", '''\
handler = agent.run("What is the weather in Paris?")
async for event in handler.stream_events():
    if isinstance(event, ToolCall):
        print("calls", event.tool_name, event.tool_kwargs)
    elif isinstance(event, ToolCallResult):
        print("  ->", event.tool_output.content)
result = await handler
print("answer:", str(result.response.content).strip())'''),
        ("code", '''\
# The second tool, called directly with the argument the first one produced:
print(celsius_to_fahrenheit(22), "degrees Fahrenheit")'''),
        ("code", TEARDOWN),
    ],
    "04_audio_rag.ipynb": [
        ("md", "# Audio transcripts into a RAG pipeline, answering with a timestamp\n\n"
               "A lecture recording is transcribed into one LlamaIndex `Document` per segment, "
               "each with its `start` and `end` time; BM25 finds the segment that answers a "
               "question and the answer cites the moment in the audio."),
        ("code", SETUP),
        ("code", BM25),
        ("code", '''\
from llama_index_compactifai.readers import CompactifAITranscriptReader

reader = CompactifAITranscriptReader(mode="segment", model=AUDIO_MODEL, language="en")
segments = reader.load_data(FIXTURES / "lecture.wav")
for doc in segments:
    print(f"[{doc.metadata['start']:4.1f}-{doc.metadata['end']:4.1f} s] {doc.text.strip()}")'''),
        ("code", '''\
from llama_index.core.llms import ChatMessage

from llama_index_compactifai import CompactifAI

question = "Which room is the final test in?"
scores = bm25_scores(question, [d.text for d in segments])
best = segments[max(range(len(segments)), key=scores.__getitem__)]
llm = CompactifAI(model=CHAT_MODEL, temperature=0, max_tokens=40)
reply = llm.chat([
    ChatMessage(role="system", content="Answer in one short sentence from the transcript."),
    ChatMessage(role="user", content=f"Transcript: {best.text}\\nQuestion: {question}"),
])
print(f"{reply.message.content.strip()} (at {best.metadata['start']:.1f} s in "
      f"{Path(best.metadata['source']).name})")'''),
        ("code", TEARDOWN),
    ],
    "05_catalogue_and_usage.ipynb": [
        ("md", "# The model catalogue and usage statistics\n\n"
               "CompactifAI lists each compressed *slim* model next to its original. The live "
               "list (`GET /models`) gives capabilities and sizes; the package's table adds "
               "context windows. Then the usage endpoint, plotted per time window."),
        ("code", SETUP),
        ("code", '''\
from compactifai import KNOWN_MODELS, CompactifAIClient, profile_from_table

client = CompactifAIClient()
print("live model list:")
for m in client.list_models().data:
    print(f"  {m.id:28} {m.parameters_number or '':>6} {m.owned_by:22} {m.capabilities}")

print("\\nCompactifAI's models (built-in table): original -> slim")
for model_id in KNOWN_MODELS:
    if model_id.startswith("cai-"):
        original = model_id.removeprefix("cai-").removesuffix("-slim")
        p = profile_from_table(model_id)
        print(f"  {original:20} -> {model_id:28} context {p.context_window:>10,} "
              f"tools={p.supports_function_calling} images={p.supports_image}")'''),
        ("code", '''\
from datetime import datetime, timedelta, timezone

for i in range(4):  # a little traffic, so the usage endpoint has something to show
    client.chat_completion(model=CHAT_MODEL, max_tokens=16, temperature=0,
                           messages=[{"role": "user", "content": f"Count to {i + 2}."}])
now = datetime.now(timezone.utc)
stats = client.usage_statistics(start_time=now - timedelta(hours=1), end_time=now + timedelta(minutes=1),
                                window_size="MINUTE", group_by=["model"])
for w in stats.data:
    print(w.window_start.strftime("%H:%M"), w.group_by, w.input_token, w.output_token)'''),
        ("code", '''\
%matplotlib inline
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(8, 3))
labels = [w.window_start.strftime("%H:%M") for w in stats.data]
ax.bar(labels, [w.input_token for w in stats.data], label="input tokens")
ax.bar(labels, [w.output_token for w in stats.data],
       bottom=[w.input_token for w in stats.data], label="output tokens")
ax.set_ylabel("tokens per minute")
ax.tick_params(axis="x", labelrotation=90, labelsize=7)
ax.legend()
fig.tight_layout()
plt.show()'''),
        ("code", "client.close()\n" + TEARDOWN),
    ],
}


def build(name: str, cells: list[tuple[str, str]]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell(src) if kind == "md"
                else nbformat.v4.new_code_cell(src) for kind, src in cells]
    started = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    nbformat.write(nb, NOTEBOOKS / name)
    print(f"{name}: executed in {time.perf_counter() - started:.1f} s")


def main() -> None:
    NOTEBOOKS.mkdir(exist_ok=True)
    wanted = sys.argv[1:]
    for name, cells in BOOKS.items():
        if not wanted or any(w in name for w in wanted):
            build(name, cells)


if __name__ == "__main__":
    main()
