"""What past builds measured, read to learn from: how long a permutation will take, per parameter
and scaled by its cost; and, for the report and ``manifest --measured``, each build's trace.

Reading: a built artifact's trace is in its provenance (``measured``), read through a cache like
``--stale``'s (``HistoryCache``: ``_history_cache``, trusted while the artifact's files keep their
device, inode, size, mtime and ctime), so each artifact is read once while it is unchanged. To
learn, a sample suffices: up to ``SAMPLE`` built permutations of each parameter, spread over its
costs, so a first ``build`` after 100,000 builds reads a few thousand provenances, not all, and
later ones only ``stat`` them. A stopped build's trace is in its lock record, read again here
(the listing keeps only its status and error; few builds stop). Plain ``manifest`` reads none of
this.

Estimating (``Estimator``): for a parameter with builds of at least two costs, a straight line
of seconds in the cost (``estimate_cost``: a fixed time per build plus a time per unit; least
squares, so a few slow builds do not decide it alone); for one built at one cost only, the line of
every build in estimated work (cost x the registry's parameter cost), scaled by how this
parameter's builds compared with it; for one never built, that line as it is. Points are added
one by one (``add``), so ``build``'s ETA refines the history's estimate as builds finish.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import axes, layout
from . import measured
from .entries import Entry
from .provenance_cache import ProvenanceCache, canonical
from .recorded import Document, MissingProvenance
from .shard import estimated_work

# Built permutations read per parameter to learn from: enough for a 95th percentile.
SAMPLE = 64
# A trace's fields shared by many builds (one engine, one host, one code), kept once in the cache.
SHARED = ("engine", "requested", "host", "builder", "python", "code")


def trace_parts(document: Document) -> tuple[str, str]:
    """What the history cache keeps of a provenance: the trace, and the context of its build
    that many builds share (``SHARED``), each canonical JSON."""
    trace = measured.of_provenance(document)
    if trace is None:
        return "null", "null"
    context = {
        "host": document.get("host"),
        "builder": document.get("builder_version"),
        "python": document.get("python"),
        "code": (document.get("pipeline") or {}).get("sha256"),
    }
    own = {key: value for key, value in trace.items() if key not in SHARED}
    own.update(pid=document.get("pid"), finished_at=document.get("finished_at"))
    shared = {**context, **{key: trace[key] for key in ("engine", "requested")}}
    return canonical(own), canonical(shared)


class HistoryCache(ProvenanceCache):
    """The provenance cache's machinery, keeping each artifact's trace instead of what staleness
    compares."""

    parts_per_row = 2

    def __init__(self, output_dir: Path) -> None:
        super().__init__(output_dir)
        self.path = layout.history_cache_path(output_dir)

    def extract(self, document: Document) -> tuple[str, ...]:
        return trace_parts(document)

    def trace(self, permutation_id: str) -> measured.Trace | None:
        """The artifact's trace, its shared context merged in; None if it recorded none."""
        try:
            own, shared = self.parts_of(permutation_id)
        except MissingProvenance:
            return None
        trace = json.loads(own)
        return None if trace is None else {**trace, **_shared(shared)}


@functools.lru_cache(maxsize=1024)
def _shared(text: str) -> dict[str, Any]:
    """A shared part, parsed once however many traces share it (read, never changed)."""
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def sample(entries: Iterable[Entry], size: int = SAMPLE) -> list[Entry]:
    """Up to ``size`` built entries of each parameter, evenly spread over its costs."""
    built: dict[str, list[Entry]] = {}
    for entry in entries:
        if entry["done"]:
            built.setdefault(entry[axes.PARAM_KEY], []).append(entry)
    chosen = []
    for group in built.values():
        group.sort(key=lambda entry: entry["sort_key"])
        step = max(1, len(group) / size)
        chosen += [group[int(i * step)] for i in range(min(size, len(group)))]
    return chosen


def traces(output_dir: Path, entries: Iterable[Entry]) -> dict[str, measured.Trace]:
    """The trace of each entry that has one: a built one's from its provenance (cached), a
    stopped one's from its lock record."""
    from .stages import read_stage

    found: dict[str, measured.Trace] = {}
    cache = HistoryCache(output_dir)
    with cache:
        for entry in entries:
            permutation_id = entry["permutation_id"]
            if entry["done"]:
                trace = cache.trace(permutation_id)
            elif entry.get("reason") is not None:
                trace = measured.of_record(read_stage(output_dir, permutation_id).record)
            else:
                continue
            if trace is not None:
                found[permutation_id] = trace
    return found


def _cost(entry: Entry) -> float:
    return float(entry["sort_key"][0])


@dataclass
class Fit:
    """Least squares of ``y = a + b * x``, its points added one by one (Welford's running means
    and co-moments, which stay exact where sums of squares of large costs would not)."""

    n: int = 0
    mean_x: float = 0.0
    mean_y: float = 0.0
    moment_xx: float = 0.0
    moment_xy: float = 0.0

    def add(self, x: float, y: float) -> None:
        self.n += 1
        dx = x - self.mean_x
        self.mean_x += dx / self.n
        self.mean_y += (y - self.mean_y) / self.n
        self.moment_xx += dx * (x - self.mean_x)
        self.moment_xy += dx * (y - self.mean_y)

    @property
    def varies(self) -> bool:
        """Points at two costs or more: a slope can be fitted."""
        return self.n > 1 and self.moment_xx > 0

    def line(self) -> tuple[float, float]:
        """``(a, b)``: a fixed time plus a time per unit. At one cost only, proportional to it (or
        a fixed time at cost 0); a fit that falls with the cost, a fixed time; one whose fixed
        time comes out below 0, proportional."""
        proportional = (0.0, self.mean_y / self.mean_x) if self.mean_x > 0 else (self.mean_y, 0.0)
        if not self.varies:
            return proportional
        b = self.moment_xy / self.moment_xx
        a = self.mean_y - b * self.mean_x
        if b < 0:
            return self.mean_y, 0.0
        return proportional if a < 0 else (a, b)

    def at(self, x: float) -> float:
        a, b = self.line()
        return a + b * x


@dataclass
class Estimator:
    """Seconds per permutation, learned from measured builds (see the module's docstring)."""

    per_param: dict[str, Fit] = field(default_factory=dict)
    overall: Fit = field(default_factory=Fit)  # in estimated work, over every build
    # Per parameter: the registry's cost, to turn its mean cost into work for the overall line.
    param_cost: dict[str, float] = field(default_factory=dict)

    def add(self, entry: Entry, seconds: float) -> None:
        param = entry[axes.PARAM_KEY]
        self.per_param.setdefault(param, Fit()).add(_cost(entry), seconds)
        self.param_cost[param] = float(entry["sort_key"][1])
        self.overall.add(estimated_work(entry), seconds)

    @property
    def empty(self) -> bool:
        return self.overall.n == 0

    def _scale(self, param: str) -> float:
        """How a parameter measured at one cost compares with the overall line there."""
        fit = self.per_param[param]
        expected = self.overall.at(fit.mean_x * self.param_cost[param])
        return fit.mean_y / expected if expected > 0 else 1.0

    def line(self, param: str) -> tuple[float, float, bool]:
        """``(a, b, in_work)``: seconds = a + b * x, where x is the permutation's cost, or its
        estimated work when ``in_work``."""
        fit = self.per_param.get(param)
        if fit is not None and fit.varies:
            a, b = fit.line()
            return a, b, False
        a, b = self.overall.line()
        scale = self._scale(param) if fit is not None else 1.0
        return a * scale, b * scale, True

    def seconds(self, entry: Entry) -> float | None:
        """The permutation's estimated seconds; None before any build was measured."""
        if self.empty:
            return None
        a, b, in_work = self.line(entry[axes.PARAM_KEY])
        return a + b * (estimated_work(entry) if in_work else _cost(entry))

    def total(self, left: Mapping[str, tuple[int, float, float]]) -> float | None:
        """The seconds of the permutations left, given per parameter as (count, costs, works)."""
        if self.empty:
            return None
        seconds = 0.0
        for param, (count, costs, works) in left.items():
            a, b, in_work = self.line(param)
            seconds += a * count + b * (works if in_work else costs)
        return seconds


def estimator(traced: Mapping[str, measured.Trace], entries: Iterable[Entry]) -> Estimator:
    """The estimator of the built entries' measured seconds."""
    learned = Estimator()
    for entry in entries:
        trace = traced.get(entry["permutation_id"])
        if entry["done"] and trace is not None and trace.get("seconds") is not None:
            learned.add(entry, float(trace["seconds"]))
    return learned


def learned(output_dir: Path, everything: list[Entry]) -> Estimator:
    """The estimator of a sample of the matrix's built permutations (``sample``)."""
    chosen = sample(everything)
    return estimator(traces(output_dir, chosen), chosen)


def cheapest_first(entries: list[Entry], learned: Estimator) -> list[Entry]:
    """The entries by their estimated seconds (as ``sort_key`` orders them until any is built)."""
    if learned.empty:
        return entries
    return sorted(entries, key=lambda entry: (learned.seconds(entry), entry["sort_key"]))


def with_measurements(output_dir: Path, entries: list[Entry], *, sort: str) -> list[Entry]:
    """``manifest --measured``: each entry with its ``estimated`` seconds and, once built or
    stopped, what it ``measured`` (seconds, CPU, peak memory); by ``sort``, whose ``size`` is
    cheapest first by the estimate."""
    traced = traces(output_dir, entries)
    learned_here = estimator(traced, entries)
    if sort == "size":
        entries = cheapest_first(entries, learned_here)
    shown = []
    for entry in entries:
        trace = traced.get(entry["permutation_id"])
        estimate = learned_here.seconds(entry)
        extra: dict[str, Any] = {"estimated": None if estimate is None else round(estimate, 3)}
        if trace is not None:
            extra["measured"] = {key: trace.get(key) for key in ("seconds", "cpu", "peak_rss")}
        shown.append({**entry, **extra})
    return shown
