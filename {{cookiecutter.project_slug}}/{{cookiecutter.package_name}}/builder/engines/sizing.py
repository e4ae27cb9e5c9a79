"""Memory and time learned from measured builds, for the array engines' files (``plan --learn``).

Per parameter, from its built permutations (``history.sample``: up to 64, spread over costs):

- **used**: memory is a build's peak (the builder's and its largest child's added, a bound of
  what they held at once), time its wall time (``measure``);
- **a line** of used against cost (``history.Fit``: a fixed part plus a part per unit of
  ``estimate_cost``), which says what a build of a given cost typically uses;
- **the spread**: each build's use over the line at its cost; the 95th percentile of those ratios
  (the largest with fewer than 20 builds) covers the builds that use more than is typical;
- **headroom**: 10% more, times 1.5 for each under-estimate of this parameter on record (up to
  four): a build stopped for ``oom`` (or ``timeout``), now in its stage or as the ``previous``
  attempt of one that later succeeded. Such a build also counts as having used at least what it
  was given (or the peak it was seen at, if higher).

A permutation asks for ``line(cost) x spread x headroom``, rounded up to a ladder of values
(memory 4, 5, 6 or 7 x 2^k MiB, at least 64 MiB; time in whole minutes: 1, 2, 3, 5, 10, 15, 20,
30, 45, 60, then hours, then days), so that permutations share a few resource sets and arrays. A
task that builds K permutations, C at once (``--per-task K`` with C cpus), asks for C builds'
memory and ceil(K / C) builds' time. A parameter with fewer than ``MIN_BUILDS`` measured builds
keeps what the pipeline declares. What the pipeline declares (its registry, its ``resources``
function) is the cap: a learned value never goes above it; a flag (``--mem``, ``--time``) goes over
both, and ``--retry-scale`` scales what this chose.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import axes, failures
from ..manifest import history
from ..manifest.entries import Entry
from ..manifest.measured import Trace
from .resources import Resources, broken_rule, mebibytes, minutes, minutes_text, time_limit

MIN_BUILDS = 3
QUANTILE = 0.95
HEADROOM, MISS_GROWTH, MAX_MISSES = 1.1, 1.5, 4
MIN_MEBIBYTES = 64
# Whole minutes a learned time is rounded up to; beyond the last, whole hours, then whole days.
MINUTES = (1, 2, 3, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 360, 480, 720, 960, 1440)
LEARNED = ("mem", "time")
MISSED = {"mem": failures.OOM, "time": failures.TIMEOUT}  # the reason of an under-estimate


def high_quantile(values: list[float], quantile: float = QUANTILE) -> float:
    """The ``quantile`` of ``values`` (linear between ranks); their largest with fewer than 20."""
    ordered = sorted(values)
    if len(ordered) < 20:
        return ordered[-1]
    rank = quantile * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Learned:
    """What one parameter's builds say of one resource: ``at(cost)``, with headroom."""

    line: tuple[float, float]
    spread: float
    headroom: float
    builds: int

    def at(self, cost: float) -> float:
        a, b = self.line
        return (a + b * cost) * self.spread * self.headroom


def learn(points: list[tuple[float, float]], misses: int) -> Learned | None:
    """From (cost, used) points and the under-estimates on record; None with too few points."""
    if len(points) < MIN_BUILDS:
        return None
    fit = history.Fit()
    for cost, used in points:
        fit.add(cost, used)
    ratios = [used / fit.at(cost) for cost, used in points if fit.at(cost) > 0]
    spread = max(1.0, high_quantile(ratios)) if ratios else 1.0
    headroom = HEADROOM * MISS_GROWTH ** min(misses, MAX_MISSES)
    return Learned(fit.line(), spread, headroom, len(points))


def memory_text(mib: float) -> str:
    """Up the ladder 4, 5, 6, 7 x 2^k MiB (64M, 80M, 96M, 112M, 128M, ..., 4G, 5G, 6G, 7G, 8G)."""
    mib = max(float(MIN_MEBIBYTES), mib)
    octave = 2 ** max(0, math.floor(math.log2(mib / 4)))
    step = math.ceil(mib / octave)  # 4 to 8
    value = step * octave
    return f"{value // 1024}G" if value % 1024 == 0 else f"{value}M"


def time_text(seconds: float) -> str:
    """Up the ladder of ``MINUTES``, then whole hours up to a day, then whole days."""
    wanted = seconds / 60
    for step in MINUTES:
        if wanted <= step:
            return minutes_text(step)
    step = math.ceil(wanted / 1440) * 1440 if wanted > 2880 else math.ceil(wanted / 60) * 60
    return minutes_text(step)


def used(trace: Trace, resource: str) -> float | None:
    """What a build used of a resource: MiB at peak (its children's added), or seconds."""
    if resource == "time":
        seconds = trace.get("seconds")
        return None if seconds is None else float(seconds)
    peak = trace.get("peak_rss")
    if peak is None:
        return None
    return (float(peak) + float(trace.get("peak_rss_children") or 0)) / 2**20


def given(requested: Mapping[str, Any] | None, resource: str) -> float | None:
    """What a build was given of a resource, in MiB or seconds; None if it is not known."""
    value = (requested or {}).get(resource)
    if not isinstance(value, str) or broken_rule(resource, value) is not None:
        return None  # none, or in a form of the engine's own
    if resource == "mem":
        return mebibytes(value)
    limit = time_limit(value)
    return None if limit is None else minutes(limit) * 60


@dataclass
class Evidence:
    """One parameter's record of one resource: (cost, used) points and under-estimates."""

    points: list[tuple[float, float]] = field(default_factory=list)
    misses: int = 0


def evidence(
    entries: Iterable[Entry], traced: Mapping[str, Trace]
) -> dict[tuple[str, str], Evidence]:
    """Per (parameter, resource): what its built permutations used, and its under-estimates
    (a stopped build's own, or the stopped attempt a build followed)."""
    found: dict[tuple[str, str], Evidence] = {}
    for entry in entries:
        trace = traced.get(entry["permutation_id"])
        param, cost = entry[axes.PARAM_KEY], float(entry["sort_key"][0])
        stopped = None if entry["done"] else failures.kind_of(entry.get("reason") or "")
        before = (trace or {}).get("previous") or {}
        for resource in LEARNED:
            record = found.setdefault((param, resource), Evidence())
            missed = MISSED[resource]
            if failures.kind_of(str(before.get("reason") or "")) == missed:
                record.misses += 1
            if trace is None:
                continue
            use = used(trace, resource)
            if stopped is None and use is not None:
                record.points.append((cost, use))
            elif stopped == missed:  # it needed at least what it had
                record.misses += 1
                floor = given(trace.get("requested"), resource)
                known = [value for value in (use, floor) if value is not None]
                if known:
                    record.points.append((cost, max(known)))
    return found


class Sizing:
    """``plan --learn``: each permutation's resources, with memory and time learned where its
    parameter's builds allow (an ``Adjust`` for ``resources.groups``)."""

    def __init__(
        self,
        learned: Mapping[tuple[str, str], Learned],
        *,
        flagged: Iterable[str] = (),
        per_task: int = 1,
    ) -> None:
        self.learned = learned
        self.flagged = frozenset(flagged)  # resources a flag sets for every permutation
        self.per_task = per_task
        self.sources: dict[str, dict[str, str]] = {}  # permutation id -> resource -> source

    def __call__(self, entry: Entry, chosen: Resources) -> Resources:
        param, cost = entry[axes.PARAM_KEY], float(entry["sort_key"][0])
        at_once = min(chosen.cpus, self.per_task) if self.per_task > 1 else 1
        rounds = math.ceil(self.per_task / at_once)
        values: dict[str, str] = {}
        sources = self.sources.setdefault(entry["permutation_id"], {})
        for resource in LEARNED:
            known = self.learned.get((param, resource))
            declared = getattr(chosen, resource)
            if resource in self.flagged:
                sources[resource] = "given by a flag"
                continue
            if known is None:  # the cluster's default, if nothing is declared: described says so
                sources[resource] = "declared" if declared is not None else ""
                continue
            if resource == "mem":
                value = memory_text(known.at(cost) * at_once)
                over = declared is not None and mebibytes(value) > mebibytes(declared)
            else:
                value = time_text(known.at(cost) * rounds)
                limit = time_limit(declared)
                over = limit is not None and minutes(value) > minutes(limit)
            sources[resource] = "declared, the cap (learned is more)" if over else "learned"
            if not over:
                values[resource] = value
        return chosen.over(values)

    def note(self, members: Iterable[Entry]) -> str:
        """Which of a resource set's values were learned and which declared, for the header:
        ``mem learned; time declared``."""
        said: dict[str, set[str]] = {}
        for entry in members:
            for resource, source in self.sources.get(entry["permutation_id"], {}).items():
                if source:
                    said.setdefault(source, set()).add(resource)
        return "; ".join(
            f"{' and '.join(sorted(said[source]))} {source}" for source in sorted(said)
        )


def from_history(
    output_dir: Path, everything: list[Entry], *, flagged: Iterable[str], per_task: int
) -> Sizing:
    """The sizing that the matrix's history teaches (a sample of its built permutations, and
    every stopped one)."""
    stopped = [entry for entry in everything if not entry["done"] and entry.get("reason")]
    failures.learn(stopped)  # a build killed outright may have run out of memory: SLURM knows
    chosen = [*history.sample(everything), *stopped]
    found = evidence(chosen, history.traces(output_dir, chosen))
    learned = {key: learn(record.points, record.misses) for key, record in found.items()}
    known = {key: value for key, value in learned.items() if value is not None}
    return Sizing(known, flagged=flagged, per_task=per_task)
