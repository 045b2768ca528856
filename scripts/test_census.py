"""What the test count is made of: ``python scripts/test_census.py`` prints a Markdown table.

pytest counts every parameter set as a test. This groups the collected items so a reader of
README sees how many distinct checks there are and how many items are matrix cells, cassette
scans, notebooks or conformance-suite tests.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: (label, pattern on the collected node id), first match wins.
KINDS = [
    ("notebooks executed end to end (nbmake)", re.compile(r"^notebooks/.*\.ipynb::")),
    ("cassette scans (one per cassette file)", re.compile(r"test_recording_hygiene\.py::test_cassette_holds")),
    ("fault-matrix cells (fault × public object × sync/async/stream)", re.compile(r"test_fault_matrix\.py")),
    ("langchain-tests standard suite", re.compile(r"test_standard\.py")),
]


def collect() -> list[str]:
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    ).stdout
    return [line.strip() for line in out.splitlines() if "::" in line]


def census(items: list[str]) -> tuple[Counter[str], int, int]:
    kinds: Counter[str] = Counter()
    for item in items:
        label = next((k for k, p in KINDS if p.search(item)), "other tests, with their parameter sets")
        kinds[label] += 1
    distinct = len({re.sub(r"\[.*", "", item) for item in items})
    return kinds, distinct, len(items)


def main() -> None:
    kinds, distinct, total = census(collect())
    print(f"| what | items |\n|---|---|\n| collected by pytest | {total} |")
    print(f"| distinct test functions and notebooks (parameter sets counted once) | {distinct} |")
    for label, _ in [*KINDS, ("other tests, with their parameter sets", None)]:
        print(f"| {label} | {kinds[label]} |")


if __name__ == "__main__":
    main()
