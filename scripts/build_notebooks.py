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

from compactifai import default_chat_model
from compactifai.local import LocalServer
from compactifai.transcripts import DEFAULT_TRANSCRIPTION_MODEL

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
# The local server's own models; on the service, COMPACTIFAI_MODEL or a current model.
CHAT_MODEL = "smollm2-135m-instruct" if LOCAL else default_chat_model()
AUDIO_MODEL = "whisper-base" if LOCAL else DEFAULT_TRANSCRIPTION_MODEL
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
        ("md", "# The model catalogue and token usage\n\n"
               "CompactifAI lists each compressed *slim* model next to its original. The live "
               "list (`GET /models`) gives capabilities and sizes; the package's table adds "
               "context windows. Then token usage, two ways: the server's usage statistics "
               "endpoint (the first reference documents it and the local server serves it; the "
               "live service withdrew it on 2026-03-24), and the client-side `UsageTally` that "
               "adds up the `usage` of every answer, filled by the transport, by a LangChain "
               "callback and by a LlamaIndex callback handler, and priced from a dated price "
               "table."),
        ("code", SETUP),
        ("code", '''\
from compactifai import CURRENT_MODELS, WITHDRAWN_MODELS, CompactifAIClient, profile_from_table

client = CompactifAIClient()
print("live model list (the truth):")
for m in client.list_models().data:
    print(f"  {m.id:28} {m.parameters_number or '':>6} {m.owned_by:22} {m.capabilities}")

print(f"\\nthe built-in table, a fallback: today's catalogue ({len(WITHDRAWN_MODELS)} older ids "
      "are marked withdrawn; None = the provider does not say)")
for model_id in CURRENT_MODELS:
    p = profile_from_table(model_id)
    print(f"  {model_id:32} slim={p.is_slim!s:5} context {p.context_window:>7,} "
          f"tools={p.supports_function_calling} images={p.supports_image}")'''),
        ("md", "## A price table: yours, dated\n\n"
               "The provider publishes no per-token prices in machine-readable form (its files "
               "of 2026-08-26 link https://docs.compactif.ai/pricing/ and state none), so the "
               "package ships an empty, dated table and never guesses. Build your own from the "
               "pricing page or your contract. The numbers below price the *local* model only, "
               "to show the mechanism: they are not CompactifAI prices, and a model without a "
               "price shows no cost."),
        ("code", '''\
from compactifai import PUBLISHED_PRICES, PriceTable, UsageTally

print(PUBLISHED_PRICES)
prices = PriceTable(
    {"smollm2-135m-instruct": (0.05, 0.10)},  # per million prompt / completion tokens
    as_of="2026-12-01", currency="EUR",
    source="illustration for the local model only, not a CompactifAI price",
)
# e.g. prices = prices.with_prices({"hypernova-60b": (..., ...)}, as_of=..., source=...)'''),
        ("md", "## The transport: one tally for every answer of a client\n\n"
               "`usage_tally=` on `CompactifAIClient` / `AsyncCompactifAIClient` adds the "
               "`usage` of every chat and text completion, and of every stream's usage chunk. "
               "A stream without a usage chunk is normal (the service does not promise one): "
               "it is counted as *unreported*."),
        ("code", '''\
from datetime import datetime, timedelta, timezone

started = datetime.now(timezone.utc).replace(second=0, microsecond=0)
tally = UsageTally(resolution="minute", price_table=prices)
counted = CompactifAIClient(usage_tally=tally)
for i in range(3):
    counted.chat_completion(model=CHAT_MODEL, max_tokens=16, temperature=0,
                            messages=[{"role": "user", "content": f"Count to {i + 2}."}])
counted.completion(model=CHAT_MODEL, prompt="The sky is", max_tokens=8, temperature=0)
with counted.chat_completion_stream(model=CHAT_MODEL, max_tokens=16, temperature=0,
                                    messages=[{"role": "user", "content": "Say hi."}]) as stream:
    for _ in stream:
        pass
for _ in counted.chat_completion_stream(model=CHAT_MODEL, max_tokens=8, include_usage=False,
                                        messages=[{"role": "user", "content": "Bye."}]):
    pass  # no usage chunk asked for: counted as unreported
print(tally.summary(by="model"))'''),
        ("md", "## The server's usage statistics endpoint\n\n"
               "`POST /usage/completions` per time window and model. The local server serves "
               "it; the live service answers 404 since 2026-03-24, which the client raises as "
               "`EndpointWithdrawnError` (usage is in the provider's dashboard, and in your "
               "tally). The server counts every request of the key, the stream that reported no "
               "usage included (and, locally, earlier runs: its usage database persists); the "
               "tally counts what this client's answers reported."),
        ("code", '''\
from compactifai import EndpointWithdrawnError

try:
    stats = client.usage_statistics(start_time=started, end_time=datetime.now(timezone.utc)
                                     + timedelta(minutes=1), window_size="MINUTE",
                                     group_by=["model"])
except EndpointWithdrawnError as err:
    stats = None
    print(err)
else:
    for w in stats.data:
        print(w.window_start.strftime("%H:%M"), w.group_by, w.input_token, w.output_token)
    mine = tally.summary(since=started).total
    print(f"server, every caller of this key since {started:%H:%M}: "
          f"{sum(w.input_token for w in stats.data)} in / {sum(w.output_token for w in stats.data)} "
          f"out\\nthis client's tally: {mine.prompt_tokens} in / {mine.completion_tokens} out, "
          f"and {mine.unreported} answer(s) without usage")'''),
        ("code", '''\
%matplotlib inline
import matplotlib.pyplot as plt

rows = tally.summary(by="minute").rows
fig, ax = plt.subplots(figsize=(8, 3))
labels = [r.start.strftime("%H:%M") for r in rows]
ax.bar(labels, [r.prompt_tokens for r in rows], label="prompt tokens (client tally)")
ax.bar(labels, [r.completion_tokens for r in rows],
       bottom=[r.prompt_tokens for r in rows], label="completion tokens (client tally)")
if stats is not None:
    ax.plot([w.window_start.strftime("%H:%M") for w in stats.data],
            [w.input_token + w.output_token for w in stats.data], "ko", label="server total")
ax.set_ylabel("tokens per minute")
ax.legend()
fig.tight_layout()
plt.show()'''),
        ("md", "## LangChain: a callback handler\n\n"
               "`get_compactifai_callback()` counts every model run inside the `with` block, "
               "from `AIMessage.usage_metadata`, like LangChain's own usage callbacks, per "
               "model and time window and priced. `CompactifAIUsageCallbackHandler` is the same "
               "handler for `config={\"callbacks\": [...]}`."),
        ("code", '''\
from langchain_compactifai import ChatCompactifAI, get_compactifai_callback

chat = ChatCompactifAI(model=CHAT_MODEL, temperature=0, max_tokens=16)
with get_compactifai_callback(price_table=prices) as cb:
    print(chat.invoke("Name a colour.").usage_metadata)
    for _ in chat.stream("Name a fruit."):
        pass
print(cb.total_tokens, "tokens, cost", cb.total_cost)
print(cb.summary(by=("model", "hour")))'''),
        ("md", "## LlamaIndex: a handler in the callback manager\n\n"
               "`CompactifAIUsageCallbackHandler` listens to the `CallbackManager`'s LLM events "
               "and reads the usage the `CompactifAI` LLM puts in each response "
               "(`additional_kwargs`; streamed: the last response). Several handlers may share "
               "one tally."),
        ("code", '''\
from llama_index.core.callbacks import CallbackManager
from llama_index.core.llms import ChatMessage

from llama_index_compactifai import CompactifAI, CompactifAIUsageCallbackHandler

usage = CompactifAIUsageCallbackHandler(price_table=prices)
llm = CompactifAI(model=CHAT_MODEL, temperature=0, max_tokens=16,
                  callback_manager=CallbackManager([usage]))
print(llm.complete("Name an animal.").additional_kwargs)
for _ in llm.stream_chat([ChatMessage(role="user", content="Name a city.")]):
    pass
print(usage.summary())'''),
        ("code", "client.close()\ncounted.close()\n" + TEARDOWN),
    ],
    "06_provider_batches.ipynb": [
        ("md", "# Large jobs on the provider's engine: batches that survive a restart\n\n"
               "CompactifAI serves OpenAI's `/files` and `/batches`: upload a JSONL file of "
               "requests, create a batch, and the service runs it within 24 hours. "
               "`compactifai.batch_jobs` does the whole round trip for you: it builds the file "
               "(stable `custom_id`s), splits it when it would exceed a batch's limits, uploads, "
               "creates, polls with a progress bar and collects **every row in input order**, "
               "each an answer or an error saying why not. With `state_path` it is resumable: a "
               "process that dies and starts again picks up the same batches instead of paying "
               "twice.\n\n"
               "Here it runs against the local server, whose batch worker pushes each line "
               "through its own chat route (SmolLM2-135M). Client-side fan-out (`abatch`, Ray) "
               "is the other choice: answers now, one HTTP request each."),
        ("code", SETUP),
        ("code", '''\
import tempfile

from compactifai import CompactifAIClient, PriceTable
from compactifai.batch_jobs import BatchJob, chat_request

client = CompactifAIClient()
workdir = Path(tempfile.mkdtemp())
state_path = workdir / "job-state.json"
questions = [f"In one sentence, what is {topic}?" for topic in (
    "a tensor", "a matrix", "entropy", "a gradient", "overfitting", "a neural network",
    "quantization", "pruning", "a token", "a transformer")]
requests = [chat_request(CHAT_MODEL, [{"role": "user", "content": q}], max_tokens=24,
                         temperature=0) for q in questions * 4]  # 40 requests
print(len(requests), "requests; the job's state goes to", state_path.name)'''),
        ("md", "## Submit, then \"crash\"\n\n"
               "`submit()` uploads the file and creates the batch, saving every id to the state "
               "file as it goes. Pretend the process dies right after: the job object is gone, "
               "the state file and the batch are not."),
        ("code", '''\
import json

first = BatchJob(client, requests, state_path=state_path)
batch_ids = first.submit()
del first  # the process "dies" here
print("created:", batch_ids)
print(json.dumps(json.loads(state_path.read_text())["chunks"], indent=1))'''),
        ("md", "## Resume with a progress bar\n\n"
               "A new process builds the job from the **same requests and the same state "
               "file**: it finds the batch it already created, uploads nothing and creates "
               "nothing, and polls it (with backoff) to the end. `progress=True` shows a `tqdm` "
               "bar when tqdm is installed."),
        ("code", '''\
prices = PriceTable({"smollm2-135m-instruct": (0.05, 0.10)}, as_of="2026-12-01", currency="EUR",
                    source="illustration for the local model only, not a CompactifAI price")
resumed = BatchJob(client, requests, state_path=state_path, progress=True,
                   poll_interval=0.5 if LOCAL else 30, max_poll_interval=2 if LOCAL else 300,
                   price_table=prices)
assert resumed.submit() == batch_ids  # the same batch: nothing uploaded or created twice
result = resumed.run()
print("batches on the server:", [b.id for b in client.list_batches(limit=5).data][:len(batch_ids)])'''),
        ("md", "## The totals, and every row in input order"),
        ("code", '''\
print("rows:", len(result), result.counts)
print(f"usage: {result.usage.prompt_tokens} prompt + {result.usage.completion_tokens} completion "
      f"= {result.usage.total_tokens} tokens; cost {result.usage.cost} {result.usage.currency}")
for row in list(result)[:4] + list(result)[-2:]:
    answer = row.body["choices"][0]["message"]["content"] if row.ok else repr(row.error)
    print(f"{row.index:>2} {row.custom_id:11} {row.outcome:9} {answer[:70]!r}")'''),
        ("md", "## A row that fails, and a job that is cancelled\n\n"
               "A request the service refuses is a row with `outcome=\"failed\"` and the typed "
               "error, in its place; the others are unaffected. `cancel()` stops the batch (the "
               "local server interrupts the line it is generating): rows that finished keep "
               "their answers, the others say `cancelled`."),
        ("code", '''\
mixed = [requests[0], chat_request("no-such-model", [{"role": "user", "content": "Hi"}]),
         requests[1]]
rows = BatchJob(client, mixed, poll_interval=0.2).run()
print([(r.custom_id, r.outcome) for r in rows])
print(rows[1].error)

long = [chat_request(CHAT_MODEL, [{"role": "user", "content": "Tell a long story."}],
                     max_tokens=300) for _ in range(5)]
job = BatchJob(client, long, poll_interval=0.2)
job.submit()
job.cancel()
job.wait()
cancelled = job.collect()
print(cancelled.counts, "batch status:", cancelled.batches[0].status)'''),
        ("md", "## LangChain: `batch_create` / `batch_retrieve`\n\n"
               "The names langchain-openai uses; results come back as `ChatResult`s in input "
               "order (not sorted by `custom_id` strings), and `run_batch_job` is the "
               "resumable job above, on messages."),
        ("code", '''\
from langchain_compactifai import ChatCompactifAI

llm = ChatCompactifAI(model=CHAT_MODEL, temperature=0, max_tokens=16)
batch_id = llm.batch_create([f"Give a synonym of {w}." for w in ("big", "fast", "happy")],
                            description="notebook demo")
for r in llm.batch_retrieve(batch_id, poll_interval=0.2):
    print(r.generations[0].message.content)'''),
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
