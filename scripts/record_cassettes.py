"""Record the test cassettes: ``python scripts/record_cassettes.py [pytest args]``.

With ``COMPACTIFAI_API_KEY`` set and ``COMPACTIFAI_BASE_URL`` unset, it records against the
real API. Otherwise it starts the local server (faults enabled) and records against it. Either
way it runs ``python -m pytest tests -p no:cacheprovider`` with ``COMPACTIFAI_RECORD=1``, which
the project's conftest turns into vcrpy record mode "all".
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    """Run the recording; returns pytest's exit code."""
    env = {**os.environ, "COMPACTIFAI_RECORD": "1"}
    # Paths given on the command line replace the default "tests".
    paths = [a for a in argv if not a.startswith("-") and (ROOT / a.split("::")[0]).exists()]
    command = [sys.executable, "-m", "pytest", *([] if paths else ["tests"])]
    command += ["-p", "no:cacheprovider", *argv]
    if env.get("COMPACTIFAI_API_KEY") and not env.get("COMPACTIFAI_BASE_URL"):
        print("recording against the real CompactifAI API", flush=True)
        return subprocess.call(command, cwd=ROOT, env=env)

    sys.path.insert(0, str(ROOT / "shared"))
    from compactifai.local import LocalServer

    # A fresh usage database, so recorded usage statistics hold this run's requests only.
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalServer(
            enable_faults=True, usage_db=Path(tmp) / "usage.sqlite3", startup_timeout=120
        ) as server,
    ):
        print(f"recording against the local server at {server.base_url}", flush=True)
        env["COMPACTIFAI_BASE_URL"] = server.base_url
        env["COMPACTIFAI_API_KEY"] = server.api_key
        return subprocess.call(command, cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
