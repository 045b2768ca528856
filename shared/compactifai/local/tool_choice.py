"""How ``tool_choice`` is honoured: who decides between a tool call and text, and how.

- ``"none"``, or no tools: plain text; the tools are left out of the prompt.
- ``{"type": "function", "function": {"name": ...}}`` ("named"): a call to that function.
- ``"required"``: always a call; the model picks the function (the name it finds most likely
  after the tool-call opening, among all tools).
- ``"auto"`` (the default, ``auto_mode="model"``): the tools stay in the prompt and the
  **model** decides. The server reads the model's probability of opening a tool call at the
  first generated position (``<tool_call>``, five tokens), times the probability that the call
  names a tool not already answered since the last user message. At or above
  :data:`AUTO_CALL_THRESHOLD` the answer is a call; below it, text that may not begin with the
  tool-call opening. Both branches are what a grammar allowing either would produce; the
  threshold, on the model's own probabilities, was calibrated on a labelled set of prompts
  (``python -m compactifai.local.calibrate``: its calibration half picks the threshold, its
  held-back half measures the accuracy, see :data:`AUTO_HELD_BACK_ACCURACY`).
- ``auto_mode="keyword"`` (server option ``--auto-tool-choice keyword``, never the default):
  the old word match between the last user message and the tools' names and descriptions
  (:func:`rank_tools`); it never calls after a tool result and drops the tools from the prompt
  when it answers in text.

Every chat answer reports the decision in the ``x-compactifai-tool-decision`` header
(:meth:`ToolDecision.header`).

Example:
    >>> ToolDecision("model", True, p=0.0004, threshold=AUTO_CALL_THRESHOLD).header()[:21]
    'model; tool_call; p=0'
    >>> ToolDecision("none", False).header()
    'none; text'
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .engines.llama import Grammar, Sampling
from .errors import bad_request
from .prompt import ChatMessage

__all__ = [
    "AUTO_CALL_LOGP",
    "AUTO_CALL_SCORE",
    "AUTO_CALL_THRESHOLD",
    "AUTO_HELD_BACK_ACCURACY",
    "AUTO_MODES",
    "AutoMode",
    "ChatPlan",
    "ToolDecision",
    "answered_tools",
    "decide",
    "plan_chat",
    "rank_tools",
]

AutoMode = Literal["model", "keyword"]
AUTO_MODES: tuple[AutoMode, ...] = ("model", "keyword")
#: log P(a new tool call) at or above which ``auto`` calls a tool; set by
#: ``python -m compactifai.local.calibrate`` on the calibration half of
#: ``tests/local/data/auto_tool_choice.jsonl``.
AUTO_CALL_LOGP = -8.64
#: The same threshold as a probability.
AUTO_CALL_THRESHOLD = math.exp(AUTO_CALL_LOGP)
#: Accuracy of the ``auto`` decision on the held-back half of that set (measured, not hoped).
AUTO_HELD_BACK_ACCURACY = 0.886
#: ``auto_mode="keyword"`` calls a tool at this relevance score or above.
AUTO_CALL_SCORE = 3

DecisionSource = Literal["model", "keyword", "required", "named", "none"]


@dataclass(frozen=True)
class ToolDecision:
    """Which way a chat answer went (a tool call or text), and who decided it.

    ``p`` is the model's probability of a new tool call (``model`` decisions, and ``required``
    when the model picked among several tools); ``score`` the keyword rule's score.
    """

    source: DecisionSource
    calls_tool: bool
    p: float | None = None
    threshold: float | None = None
    score: int | None = None

    def header(self) -> str:
        """The value of the ``x-compactifai-tool-decision`` response header."""
        parts = [self.source, "tool_call" if self.calls_tool else "text"]
        if self.p is not None:
            parts.append(f"p={self.p:.3g}")
        if self.threshold is not None:
            parts.append(f"threshold={self.threshold:.3g}")
        if self.score is not None:
            parts.append(f"score={self.score}")
        return "; ".join(parts)


# ---------------------------------------------------------------- keyword rule (an option)

_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "get",
        "got",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "please",
        "set",
        "should",
        "so",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "this",
        "those",
        "to",
        "tool",
        "tools",
        "use",
        "using",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "function",
        "functions",
        "call",
        "fetch",
        "retrieve",
        "return",
        "returns",
        "current",
        "given",
        "value",
        "data",
        "info",
        "information",
        "tell",
        "show",
        "give",
        "find",
        "some",
        "any",
        "about",
        "also",
        "just",
        "like",
        "need",
        "want",
        "know",
        "let",
    ]
)


def _words(text: str) -> set[str]:
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    out: set[str] = set()
    for word in re.split(r"[^0-9A-Za-z]+", text.lower()):
        if len(word) < 3 or word in _STOPWORDS:
            continue
        if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        out.add(word)
    return out


def _param_text(params: Any) -> str:
    if not isinstance(params, dict):
        return ""
    props = params.get("properties")
    if not isinstance(props, dict):
        return ""
    bits = []
    for key, spec in props.items():
        bits.append(str(key))
        if isinstance(spec, dict) and isinstance(spec.get("description"), str):
            bits.append(spec["description"])
    return " ".join(bits)


def rank_tools(query: str, tools: dict[str, dict[str, Any]]) -> list[tuple[int, str]]:
    """Score each tool's relevance to ``query``, best first (ties keep the request's order).

    The exact tool name in the query scores 10; each shared word scores 3 when it is part of
    the tool's name, 1 when it is in the description or the parameters.
    """
    qwords = _words(query)
    lowered = query.lower()
    scored: list[tuple[int, int, str]] = []
    for order, (name, fn) in enumerate(tools.items()):
        score = 10 if name.lower() in lowered else 0
        name_words = _words(name.replace("_", " ").replace("-", " "))
        other = _words(f"{fn.get('description') or ''} {_param_text(fn.get('parameters'))}")
        score += 3 * len(qwords & name_words) + len(qwords & (other - name_words))
        scored.append((-score, order, name))
    scored.sort()
    return [(-neg, name) for neg, _, name in scored]



def _response_grammar(response_format: dict[str, Any] | None) -> Grammar | None:
    if response_format is None:
        return None
    if "type" not in response_format:
        raise bad_request(
            "response_format.type is required (text, json_object or json_schema)",
            param="response_format.type",
        )
    kind = response_format.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return Grammar("json")
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if not isinstance(schema, dict):
            raise bad_request(
                "response_format.json_schema.schema must be a JSON schema object",
                param="response_format.json_schema",
            )
        return Grammar("schema", schema=schema)
    raise bad_request(
        f"response_format.type must be text, json_object or json_schema (got {kind!r})",
        param="response_format.type",
    )



# ---------------------------------------------------------------- planning


@dataclass
class ChatPlan:
    """What to generate.

    ``mode`` is ``"text"``, ``"call"`` (a call to one of ``candidates``) or ``"decide"``
    (``auto`` in model mode: the model decides at generation time). ``tools`` are the tools
    the prompt lists; ``decision`` is known up front except in ``"decide"`` mode.
    """

    messages: list[ChatMessage]
    sampling: Sampling
    tools: dict[str, dict[str, Any]]
    mode: Literal["text", "call", "decide"] = "text"
    candidates: tuple[str, ...] = ()
    response_grammar: Grammar | None = None
    decision: ToolDecision | None = None

    @property
    def calls_tool(self) -> bool:
        """Whether the answer is known to be a tool call before generating."""
        return self.mode == "call"


def _last_user_text(messages: Sequence[ChatMessage]) -> str:
    for msg in reversed(messages):
        if msg.role == "user":
            return msg.content
    return ""


def _ends_with_tool_result(messages: Sequence[ChatMessage]) -> bool:
    for msg in reversed(messages):
        if msg.role == "system":
            continue
        return msg.role == "tool"
    return False


def answered_tools(messages: Sequence[ChatMessage]) -> set[str]:
    """Names of the tools called since the last user message."""
    names: set[str] = set()
    for msg in reversed(messages):
        if msg.role == "user":
            break
        if msg.role == "assistant":
            names.update(call["name"] for call in msg.tool_calls)
    return names


def decide(
    open_logp: float,
    name_logps: dict[str, float],
    answered: set[str],
    threshold_logp: float = AUTO_CALL_LOGP,
) -> tuple[ToolDecision, str | None]:
    """The ``auto`` decision from the model's log-probabilities, and the tool it would call.

    ``open_logp`` is log P(tool-call opening | prompt); ``name_logps`` log P(opening, then
    that name) per tool. The names are renormalized (a grammar allows only these); the call
    probability counts only tools not in ``answered``.

    Example:
        >>> d, name = decide(-5.0, {"get_weather": -5.1, "get_time": -8.0}, set())
        >>> d.calls_tool, name
        (True, 'get_weather')
        >>> decide(-5.0, {"get_weather": -5.1}, {"get_weather"})[0].calls_tool
        False
    """
    fresh = {n: lp for n, lp in name_logps.items() if n not in answered}
    if not fresh:
        p_new = 0.0
    else:
        top = max(name_logps.values())
        total = sum(math.exp(lp - top) for lp in name_logps.values())
        p_new = sum(math.exp(lp - top) for lp in fresh.values()) / total
    p = math.exp(open_logp) * p_new
    calls = p > 0 and math.log(p) >= threshold_logp
    best = max(fresh, key=lambda n: fresh[n]) if fresh else None
    decision = ToolDecision("model", calls, p=p, threshold=math.exp(threshold_logp))
    return decision, (best if calls else None)


_CHOICE_HINT = (
    'tool_choice must be "auto", "none", "required" or '
    '{"type": "function", "function": {"name": ...}}'
)


def plan_chat(
    messages: list[ChatMessage],
    tools: dict[str, dict[str, Any]],
    tool_choice: str | dict[str, Any] | None,
    sampling: Sampling,
    response_format: dict[str, Any] | None,
    auto_mode: AutoMode = "model",
) -> ChatPlan:
    """Decide who chooses between text and a tool call, following ``tool_choice``."""
    grammar = _response_grammar(response_format)
    if isinstance(tool_choice, dict):
        fn = tool_choice.get("function")
        name = fn.get("name") if isinstance(fn, dict) else None
        if tool_choice.get("type", "function") != "function" or not isinstance(name, str):
            raise bad_request(_CHOICE_HINT, param="tool_choice")
        if name not in tools:
            raise bad_request(
                f"tool_choice names function {name!r}, which is not in tools", param="tool_choice"
            )
        return ChatPlan(
            messages, sampling, tools, "call", (name,), decision=ToolDecision("named", True)
        )
    choice = tool_choice if tool_choice is not None else "auto"
    if choice not in ("auto", "none", "required"):
        raise bad_request(
            f'tool_choice must be "auto", "none", "required" or a function (got {choice!r})',
            param="tool_choice",
        )
    if choice == "required" and not tools:
        raise bad_request('tool_choice "required" needs at least one tool', param="tool_choice")
    text = ToolDecision("none", False)
    if not tools or choice == "none":
        return ChatPlan(messages, sampling, {}, "text", (), grammar, text)
    if auto_mode == "model":
        if choice == "required":
            required = ToolDecision("required", True)
            return ChatPlan(messages, sampling, tools, "call", tuple(tools), decision=required)
        return ChatPlan(messages, sampling, tools, "decide", tuple(tools), grammar)
    ranked = rank_tools(_last_user_text(messages), tools)
    best = ranked[0][0]
    tied = tuple(name for score, name in ranked if score == best)
    if choice == "required":
        return ChatPlan(
            messages, sampling, tools, "call", tied, decision=ToolDecision("required", True)
        )
    if best >= AUTO_CALL_SCORE and not _ends_with_tool_result(messages):
        keyword = ToolDecision("keyword", True, score=best)
        return ChatPlan(messages, sampling, tools, "call", tied, decision=keyword)
    keyword = ToolDecision("keyword", False, score=best)
    return ChatPlan(messages, sampling, {}, "text", (), grammar, keyword)
