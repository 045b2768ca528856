"""Running a chat request on SmolLM2: the tool decision, then text or one tool call.

:func:`run_chat` carries out a :class:`~compactifai.local.tool_choice.ChatPlan` on the engine
thread. A tool call is written under grammars: the name among the candidates (the one the model
finds most likely after the tool-call opening), the arguments under a grammar built from the
function's JSON schema, so they are always a valid JSON object. A text answer is cleaned of
template markup (:mod:`compactifai.local.markup`), streamed or not.

One call per answer (no parallel calls). Nothing here imports llama.cpp.

Example:
    >>> from compactifai.local.chat import ChatMessage, plan_chat, Sampling
    >>> plan = plan_chat([ChatMessage("user", "Hi")], {}, None, Sampling(), None)
    >>> plan.mode, plan.decision.header()
    ('text', 'none; text')
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .engines.llama import GenerationResult, Grammar, LlamaEngine, Prompt, Sampling
from .errors import ApiError, bad_request
from .markup import MarkupFilter, strip_markup
from .prompt import (
    TOOL_CALL_OPEN,
    ChatMessage,
    normalize_messages,
    parse_tools,
    render_prompt,
)
from .tool_choice import (
    AUTO_CALL_SCORE,
    ChatPlan,
    ToolDecision,
    answered_tools,
    decide,
    plan_chat,
    rank_tools,
)

__all__ = [
    "AUTO_CALL_SCORE",
    "ChatMessage",
    "ChatOutcome",
    "ChatPlan",
    "Sampling",
    "ToolDecision",
    "new_call_id",
    "normalize_messages",
    "parse_tools",
    "plan_chat",
    "rank_tools",
    "render_prompt",
    "request_error",
    "run_chat",
]

#: What follows the opening before the function's name (the name is a JSON string).
_NAME_PREFIX = '\n{"name": "'


@dataclass
class ChatOutcome:
    """The assistant's answer: text, or one tool call, with token counts and the decision."""

    content: str | None
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    tool_call: dict[str, str] | None = None
    argument_pieces: list[str] = field(default_factory=list)
    decision: ToolDecision = field(default_factory=lambda: ToolDecision("none", False))


def new_call_id() -> str:
    """A tool call id like ``call_9f0c...``."""
    return "call_" + uuid.uuid4().hex[:24]


def _name_scores(
    engine: LlamaEngine,
    prompt: Prompt,
    names: Sequence[str],
) -> tuple[float, dict[str, float]]:
    """log P(opening) and log P(opening, then each name) under ``prompt``."""
    opening = engine.tokenize_text(TOOL_CALL_OPEN)
    prefix = engine.tokenize_text(TOOL_CALL_OPEN + _NAME_PREFIX)
    options = [engine.tokenize_text(json.dumps(n, ensure_ascii=False)[1:]) for n in names]
    scores = engine.score(prompt, prefix, options)
    n_open = len(opening) if prefix[: len(opening)] == opening else len(prefix)
    open_lp = sum(scores.prefix[:n_open])
    full = sum(scores.prefix)
    return open_lp, {n: full + lp for n, lp in zip(names, scores.options, strict=True)}


def run_chat(
    engine: LlamaEngine,
    plan: ChatPlan,
    *,
    on_piece: Callable[[str], None] | None = None,
    on_ready: Callable[[ToolDecision], None] | None = None,
    cancel: threading.Event | None = None,
) -> ChatOutcome:
    """Generate the answer (on the engine thread).

    ``on_ready`` gets the decision once the prompt is known to fit and the choice between a
    tool call and text is made; ``on_piece`` gets the (cleaned) text of a text answer as it
    is generated.
    """
    prompt = render_prompt(plan.messages, plan.tools or None)
    n_prompt = engine.check_prompt(prompt)
    name: str | None = None
    scored = False
    if plan.mode == "decide":
        open_lp, name_lps = _name_scores(engine, prompt, plan.candidates)
        scored = True
        decision, name = decide(open_lp, name_lps, answered_tools(plan.messages))
    elif plan.mode == "call" and len(plan.candidates) > 1:
        _, name_lps = _name_scores(engine, prompt, plan.candidates)
        scored = True
        name = max(plan.candidates, key=lambda n: name_lps[n])
        decision = plan.decision or ToolDecision("required", True)
    else:
        decision = plan.decision or ToolDecision("none", False)
        name = plan.candidates[0] if plan.mode == "call" else None
    if on_ready is not None:
        on_ready(decision)

    if name is None:
        return _text_answer(engine, plan, prompt, scored, on_piece, cancel, decision)

    fn = plan.tools[name]
    schema = fn.get("parameters") or {"type": "object", "properties": {}}
    head: Prompt = [
        *prompt,
        (f"{TOOL_CALL_OPEN}\n" + '{"name": ' + json.dumps(name, ensure_ascii=False), False),
        (', "arguments": ', False),
    ]
    args = engine.generate(
        head,
        plan.sampling,
        grammar=Grammar("arguments", schema=schema),
        cancel=cancel,
        reuse_prefix=scored,
    )
    arguments = args.text.rstrip()
    pieces = _trim_pieces(args.pieces, len(arguments))
    finish = "tool_calls" if args.finish_reason == "stop" else _finish(args)
    return ChatOutcome(
        None,
        finish,
        n_prompt,
        args.completion_tokens,
        tool_call={"id": new_call_id(), "name": name, "arguments": arguments},
        argument_pieces=pieces,
        decision=decision,
    )


def _text_answer(
    engine: LlamaEngine,
    plan: ChatPlan,
    prompt: Prompt,
    scored: bool,
    on_piece: Callable[[str], None] | None,
    cancel: threading.Event | None,
    decision: ToolDecision,
) -> ChatOutcome:
    """A text answer; free text (no response grammar) is cleaned of template markup."""
    clean = plan.response_grammar is None
    filt = MarkupFilter()

    def piece(text: str) -> None:
        out = filt.feed(text) if clean else text
        if out and on_piece is not None:
            on_piece(out)

    res = engine.generate(
        prompt,
        plan.sampling,
        grammar=plan.response_grammar,
        on_piece=piece,
        cancel=cancel,
        reuse_prefix=scored,
        ban_prefix=engine.tokenize_text(TOOL_CALL_OPEN) if plan.tools else (),
    )
    if clean:
        rest = filt.flush()
        if rest and on_piece is not None:
            on_piece(rest)
    text = strip_markup(res.text) if clean else res.text
    return ChatOutcome(
        text, _finish(res), res.prompt_tokens, res.completion_tokens, decision=decision
    )


def _trim_pieces(pieces: Sequence[str], length: int) -> list[str]:
    """The first ``length`` characters of the concatenated pieces, still in pieces."""
    out: list[str] = []
    left = length
    for piece in pieces:
        if left <= 0:
            break
        out.append(piece[:left])
        left -= len(out[-1])
    return [p for p in out if p]


def _finish(res: GenerationResult) -> str:
    return "length" if res.finish_reason == "length" else "stop"


def request_error(message: str, param: str = "messages") -> ApiError:
    """A 400 for a request the engine refused (for example a prompt longer than the context)."""
    return bad_request(message, code="context_length_exceeded", param=param)
