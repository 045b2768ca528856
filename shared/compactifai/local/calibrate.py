"""Calibrate the ``tool_choice="auto"`` threshold on a labelled set, and measure it honestly.

    python -m compactifai.local.calibrate [tests/local/data/auto_tool_choice.jsonl]

Each line of the set is a conversation with its tools and a label: should the next answer call
a tool (``"call": true``, with the expected ``"tool"``) or answer in text. Lines carry
``"split": "calibration"`` or ``"held_back"``. The script reads, for every line, the model's
log-probability of a new tool call (exactly what the server computes, see
:func:`compactifai.local.tool_choice.decide`), picks the threshold that classifies the
calibration half best (the middle of the best run of candidate thresholds), then reports the
accuracy of that threshold on the held-back half, which played no part in choosing it, next to
the keyword rule's accuracy on the same lines. Put the printed threshold in
:data:`compactifai.local.tool_choice.AUTO_CALL_LOGP`.

Example:
    >>> pick_threshold([(-3.0, True), (-4.0, True), (-9.0, False), (-12.0, False)])
    (-6.5, 1.0)
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Example", "Measured", "default_data_path", "main", "measure", "pick_threshold"]

_DATA = Path("tests") / "local" / "data" / "auto_tool_choice.jsonl"
_TOOLS = "auto_tool_choice_tools.json"


def default_data_path() -> Path:
    """The labelled set of this repository (``tests/local/data/auto_tool_choice.jsonl``)."""
    here = Path.cwd() / _DATA
    if here.is_file():
        return here
    return Path(__file__).resolve().parents[3] / _DATA


@dataclass
class Example:
    """One labelled conversation."""

    id: str
    split: str
    call: bool
    tool: str | None
    tools: list[str]
    messages: list[dict[str, Any]]


@dataclass
class Measured:
    """What the model said about one example."""

    example: Example
    logp: float
    best: str | None
    keyword_calls: bool


def load(path: Path) -> tuple[list[Example], dict[str, dict[str, Any]]]:
    """The examples and the tool definitions they name."""
    tools = json.loads((path.parent / _TOOLS).read_text(encoding="utf-8"))
    examples = [
        Example(**json.loads(line))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    return examples, tools


def measure(examples: Sequence[Example], tools: dict[str, dict[str, Any]]) -> list[Measured]:
    """Run the model's decision step on every example (loads SmolLM2 in this process)."""
    from .chat import _name_scores
    from .engines.llama import LlamaEngine, Sampling
    from .prompt import normalize_messages, parse_tools, render_prompt
    from .tool_choice import answered_tools, decide, plan_chat

    engine = LlamaEngine(None)
    out: list[Measured] = []
    try:
        for ex in examples:
            msgs = normalize_messages(ex.messages, "calibration")
            fns = parse_tools([tools[name] for name in ex.tools])
            plan = plan_chat(msgs, fns, "auto", Sampling(), None, "model")
            prompt = render_prompt(plan.messages, plan.tools)
            open_lp, name_lps = engine.runner.call(
                _name_scores, engine, prompt, plan.candidates, timeout=120
            )
            decision, _ = decide(open_lp, name_lps, answered_tools(msgs))
            fresh = {n: lp for n, lp in name_lps.items() if n not in answered_tools(msgs)}
            best = max(fresh, key=lambda n: fresh[n]) if fresh else None
            keyword = plan_chat(msgs, fns, "auto", Sampling(), None, "keyword")
            p = decision.p or 0.0
            out.append(
                Measured(ex, math.log(p) if p > 0 else -math.inf, best, keyword.calls_tool)
            )
    finally:
        engine.close()
    return out


def pick_threshold(points: Sequence[tuple[float, bool]]) -> tuple[float, float]:
    """The threshold (``call`` when ``logp >= threshold``) that classifies ``points`` best.

    Candidates are the midpoints between neighbouring values; among equally good ones, the
    middle of the longest run wins (the least sensitive choice). Returns (threshold, accuracy).
    """
    values = sorted({v for v, _ in points if math.isfinite(v)})
    candidates = [(a + b) / 2 for a, b in itertools.pairwise(values)] or [0.0]

    def accuracy(t: float) -> float:
        return sum((v >= t) == label for v, label in points) / len(points)

    scored = [(accuracy(t), t) for t in candidates]
    best = max(a for a, _ in scored)
    runs: list[list[float]] = []
    for a, t in scored:
        if a == best and runs and runs[-1][-1] == _previous(candidates, t):
            runs[-1].append(t)
        elif a == best:
            runs.append([t])
    run = max(runs, key=len)
    return round(run[len(run) // 2], 2), best


def _previous(candidates: list[float], t: float) -> float | None:
    i = candidates.index(t)
    return candidates[i - 1] if i else None


def _accuracy(rows: Sequence[Measured], threshold: float, after: bool | None = None) -> str:
    rows = [r for r in rows if after is None or (len(r.example.messages) > 1) == after]
    if not rows:
        return "n/a"
    right = sum((r.logp >= threshold) == r.example.call for r in rows)
    return f"{right}/{len(rows)} = {right / len(rows):.1%}"


def report(measured: Sequence[Measured], threshold: float) -> dict[str, Any]:
    """Accuracy figures of ``threshold`` (and of the keyword rule) per split."""
    out: dict[str, Any] = {"threshold_logp": threshold, "threshold_p": math.exp(threshold)}
    for split in ("calibration", "held_back"):
        rows = [m for m in measured if m.example.split == split]
        calls = [r for r in rows if r.example.call and r.logp >= threshold]
        keyword = sum(r.keyword_calls == r.example.call for r in rows)
        out[split] = {
            "examples": len(rows),
            "accuracy": _accuracy(rows, threshold),
            "first_turn": _accuracy(rows, threshold, after=False),
            "after_tool_result": _accuracy(rows, threshold, after=True),
            "right_tool_when_called": f"{sum(r.best == r.example.tool for r in calls)}/"
            f"{len(calls)}",
            "keyword_rule_accuracy": f"{keyword}/{len(rows)} = {keyword / max(1, len(rows)):.1%}",
        }
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, pick the threshold on the calibration half, report the held-back accuracy."""
    parser = argparse.ArgumentParser(prog="python -m compactifai.local.calibrate")
    parser.add_argument("data", nargs="?", type=Path, default=None)
    parser.add_argument("--verbose", action="store_true", help="print every example")
    ns = parser.parse_args(argv)
    path: Path = ns.data or default_data_path()
    examples, tools = load(path)
    started = time.perf_counter()
    measured = measure(examples, tools)
    calibration = [(m.logp, m.example.call) for m in measured if m.example.split == "calibration"]
    threshold, _ = pick_threshold(calibration)
    if ns.verbose:
        for m in measured:
            decided = "call" if m.logp >= threshold else "text"
            want = "call" if m.example.call else "text"
            print(
                f"{m.example.id:24} {m.example.split:12} logp={m.logp:8.2f} {decided:4} "
                f"(want {want}{' ' + str(m.example.tool) if m.example.call else ''}; "
                f"best {m.best})"
            )
    result = report(measured, threshold)
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result, indent=2))
    print(f"\nAUTO_CALL_LOGP = {threshold}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
