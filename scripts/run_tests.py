"""Runs every test suite (``make test``): one pytest process per package, so each suite's
settings come from its own conftest, then prints one closing line for the whole run."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUITES = [
    "shared/tests",
    "user-service/tests",
    "post-service/tests",
    "feed-service/tests",
    "fanout-worker/tests",
    "gateway/tests",
    "deploy/tests",
    "bench/tests",
    "tests/e2e",
    "tests/contract",
    "tests/scaling",
    "chaos/tests",
]
COUNT = re.compile(r"(\d+) (passed|failed|error|errors|skipped)")


def main() -> int:
    selected = sys.argv[1:] or [s for s in SUITES if (ROOT / s).is_dir()]
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    failures: list[str] = []
    started = time.monotonic()
    for suite in selected:
        print(f"\n=== {suite} ===", flush=True)
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", suite, "-q", "-p", "no:cacheprovider", "-rfE"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        sys.stdout.write(proc.stdout[-20000:])
        sys.stdout.write(proc.stderr[-5000:])
        last = [line for line in proc.stdout.splitlines() if COUNT.search(line)]
        summary = last[-1] if last else ""
        for number, word in COUNT.findall(summary):
            key = {"error": "failed", "errors": "failed"}.get(word, word)
            totals[key] += int(number)
        if proc.returncode not in (0,):
            failures.append(f"{suite} (exit {proc.returncode})")
            if not summary:
                totals["failed"] += 1
    elapsed = time.monotonic() - started
    print(f"\n=== all suites in {elapsed:.0f} s ===")
    for failed in failures:
        print(f"FAILED SUITE: {failed}")
    print(f"{totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped")
    return 1 if failures or totals["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
