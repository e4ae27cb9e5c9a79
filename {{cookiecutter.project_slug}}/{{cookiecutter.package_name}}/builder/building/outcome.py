"""What became of each permutation a build was asked for, and the summary and exit code they make.

The runner and the pool make one ``Outcome`` per permutation; ``overall`` counts them as they come,
and ``report`` ends the build with one line per problem and the exit code.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

FAILED, BUSY = 1, 3  # exit codes; an interruption exits 128 + the signal's number
RESULTS = ("built", "skipped", "busy", "failed", "interrupted", "not started")


@dataclass
class Outcome:
    permutation_id: str
    result: str  # one of RESULTS
    message: str
    code: int = 0
    error_log: Path | None = None
    seconds: float | None = None  # how long build_permutation took
    reason: str | None = None  # a failure's (see failures)


def counts_text(counts: dict[str, int]) -> str:
    """``3 built, 1 failed``: the results that occurred, in ``RESULTS`` order."""
    return ", ".join(f"{counts[result]} {result}" for result in RESULTS if counts.get(result))


def report(outcomes: list[Outcome], *, quiet: bool, elapsed: str) -> int:
    """Summary on stderr (one line per problem, with its error log) and the exit code."""
    counts = dict.fromkeys(RESULTS, 0)
    for outcome in outcomes:
        counts[outcome.result] += 1
        if outcome.result == "skipped":
            if not quiet:
                print(f"{outcome.permutation_id} {outcome.message}", file=sys.stderr)
        elif outcome.result not in ("built", "not started"):
            where = f" (log: {outcome.error_log})" if outcome.error_log else ""
            print(f"error: {outcome.permutation_id} {outcome.message}{where}", file=sys.stderr)
    if len(outcomes) > 1:
        print(f"summary: {counts_text(counts)} in {elapsed}", file=sys.stderr)
    interrupted = [outcome.code for outcome in outcomes if outcome.result == "interrupted"]
    if interrupted:
        return interrupted[0]
    if counts["failed"] or counts["not started"]:
        return FAILED
    return BUSY if counts["busy"] else 0
