"""Print the README's reliability table from the fault matrix's own parametrization.

    python scripts/fault_table.py

Counts are the cells ``tests/reliability/test_fault_matrix.py`` runs for each fault (every
public object × sync/async × plain/streamed), computed from its parametrization.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.reliability.faults import MID_STREAM, NOT_RESENT, PERMANENT, TRANSIENT
from tests.reliability.surfaces import SURFACES

MODES = ("call", "acall", "stream", "astream")

def cells(streamed_only: bool = False) -> int:
    return sum(1 for s in SURFACES for m in MODES if getattr(s, m) is not None
               and (not streamed_only or m in ("stream", "astream")))


def main() -> None:
    print("| fault | outcome | cells tried |")
    print("|---|---|---|")
    for fault, err in TRANSIENT.items():
        print(f"| {fault} | retried, then success; if it persists: `{err.__name__}` after "
              f"`max_retries` | {2 * cells()} |")
    for fault, err in PERMANENT.items():
        print(f"| {fault} | `{err.__name__}` at once, never retried | {cells()} |")
    for fault, err in NOT_RESENT.items():
        print(f"| {fault} | `{err.__name__}` at once: an answer to a POST may have been "
              f"generated and billed, so it is never sent again | {cells()} |")
    for fault, err in MID_STREAM.items():
        print(f"| {fault} | `{err.__name__}` naming the events already delivered, never "
              f"retried | {cells(streamed_only=True)} |")
    print("| oversized, unsupported, empty or missing audio | `AudioFileError` before any "
          "upload | tests/unit/test_checks.py and the loader tests |")
    print("| soak: 2,000 async requests, 200 concurrent, 5% faults, real sockets | every "
          "request an answer or a typed error; no fd leak; RSS flat | tests/reliability/"
          "test_soak.py |")


if __name__ == "__main__":
    main()
