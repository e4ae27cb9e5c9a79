"""``plan --status fail --slurm --retry-scale mem=2,time=1.5``: which failures go again, how.

A failure is retried by its reason (``failures``): out of memory with its memory times ``mem``, a
time limit with its time times ``time``, a lost node, a signal, a kill, a full disk or an input
edited mid-build with the same resources. An exception or an exit is the code's to fix, so it is
left out unless ``--retry-exceptions``. The resources scaled are the permutation's own (the
pipeline's, under the flags): with no memory (or time) to scale, the cluster's default holds, which
nobody here knows, so such a failure is left out and stderr says what to give.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass, field

from .. import failures, status
from ..ids import UsageError
from ..manifest.entries import Entry
from .array_options import RETRY_FLAG as FLAG
from .resources import Resources

SCALED = {failures.OOM: "mem", failures.TIMEOUT: "time"}  # a reason kind -> what it scales
AS_THEY_WERE = frozenset(
    {
        failures.NODE_FAIL,
        failures.SIGNAL,
        failures.KILLED,
        failures.NO_SPACE,
        failures.INPUT_CHANGED,
    }
)
FIXED_BY_CODE = frozenset({failures.EXCEPTION, failures.EXIT})
# What to give when nothing declares what an OOM or a TIMEOUT would scale.
EXAMPLES = {"mem": "--mem 4G", "time": "--time 1:00:00"}


@dataclass(frozen=True)
class Scale:
    """The factors of ``--retry-scale``: 1 leaves a resource as it was."""

    mem: float = 1.0
    time: float = 1.0


def parse(text: str) -> Scale:
    """``mem=2,time=1.5`` as a Scale; a wrong name or factor is one line naming it and the rule."""
    factors: dict[str, float] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in ("mem", "time"):
            raise UsageError(f"{FLAG} {text!r}: give NAME=FACTOR pairs of mem and time, e.g. mem=2")
        try:
            factor = float(value)
        except ValueError:
            factor = 0.0
        if not 1 <= factor < float("inf"):
            raise UsageError(f"{FLAG} {part!r}: give a factor of at least 1, e.g. {name}=2")
        factors[name] = factor
    return Scale(**factors)


@dataclass
class Retry:
    """Called per failure with its resources: the resources to retry it with, or None (left out).

    It counts what it leaves out, for ``report``: by reason kind, and the resource that it lacked
    ("" for a failure the code has to fix).
    """

    scale: Scale
    exceptions: bool = False  # --retry-exceptions: exceptions and exits go again as they were
    left_out: Counter[tuple[str, str]] = field(default_factory=Counter)
    unknown: int = 0  # killed, and nothing (no record, no SLURM) says why

    def __call__(self, entry: Entry, resources: Resources) -> Resources | None:
        kind = failures.kind_of(entry["reason"] or failures.KILLED)
        if kind == failures.KILLED and entry["error"] == status.KILLED:
            self.unknown += 1
        scaled = SCALED.get(kind)
        if scaled is not None:
            if getattr(resources, scaled) is None:
                self.left_out[kind, scaled] += 1
                return None
            return resources.scaled(**{scaled: getattr(self.scale, scaled)})
        if kind in AS_THEY_WERE or (kind in FIXED_BY_CODE and self.exceptions):
            return resources
        self.left_out[kind, ""] += 1
        return None

    def report(self) -> None:
        """One line on stderr per kind of failure left out: how many, why, and what would help."""
        for (kind, lacking), count in sorted(self.left_out.items()):
            if lacking:
                what = (
                    f"no {lacking} declared to scale; give {EXAMPLES[lacking]}"
                    f" (times the factor) or declare {lacking!r} in the pipeline's resources"
                )
            else:
                what = "fix the code first, or add --retry-exceptions to retry them as they were"
            print(f"{FLAG}: {count} failure(s) of reason {kind} left out: {what}", file=sys.stderr)
        if self.unknown:
            print(
                f"{FLAG}: {self.unknown} failure(s) of reason {failures.KILLED} have no known cause"
                " (nothing recorded it, and SLURM no longer knows their jobs): retried with the"
                " same resources; give --mem or --time to retry them with more",
                file=sys.stderr,
            )


def from_args(args: argparse.Namespace, statuses: frozenset[str]) -> Retry | None:
    """The retry ``args`` ask for (of ``plan``), or None; refused unless failures alone."""
    if args.retry_scale is None:
        return None
    if statuses != {"fail"}:
        raise UsageError(f"{FLAG} resubmits failures: select them with --status fail alone")
    return Retry(parse(args.retry_scale), args.retry_exceptions)
