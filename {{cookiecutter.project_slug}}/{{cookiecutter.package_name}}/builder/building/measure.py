"""What one build costs: wall time, CPU time and peak memory, per phase and overall.

Like Nextflow's trace fields (``realtime``, ``%cpu``, ``peak_rss``), a build's provenance records a
``trace`` and each phase its ``seconds``, ``cpu`` and ``peak_rss``; the lock records them as phases
complete, so a build that fails or is killed keeps what was measured up to its stop.

- **Wall time**: ``time.monotonic``, from the build's setup (lock taken) to its finishing step,
  which moves the artifact into place after the provenance is written, and so is not counted.
- **CPU time**: user + system seconds of the builder's process (all its threads) and of the
  children it waited for, as deltas of ``getrusage``.
- **Peak memory** (``peak_rss``, bytes), this build's own, never a worker's lifetime maximum: on
  Linux, each segment (the setup, each phase) starts by writing ``5`` to ``/proc/self/clear_refs``,
  which resets the process's peak resident set (``VmHWM``) to its current one, and ends by reading
  ``VmHWM`` from ``/proc/self/status``. A segment's peak includes what the process held when it
  began (the interpreter and its modules, some 20 MB), which a task running the build needs too.
  Children: ``RUSAGE_CHILDREN``'s ``ru_maxrss`` is the largest peak of any child the process has
  waited for, over its life, so it counts for a segment only where it grew during it
  (``peak_rss_children``); the two peaks are kept apart, and their sum bounds what both held at
  once. Missed: a child that peaked lower than an earlier one of the same process; a process
  never waited for (a daemon, a grandchild whose parent left it behind); memory outside the
  process tree (a database server a phase queries); and, for the sampler below, children
  altogether. Where ``clear_refs`` is missing or refused (macOS, some containers) the peak is
  ``RUSAGE_SELF``'s ``ru_maxrss``, the process's lifetime peak, counted only for a segment that
  raised it: exact for a process that builds one permutation, unknown (null) otherwise.
- **A running build's peak**: one daemon thread per process reads the running segment's peak
  every ``SAMPLE_SECONDS`` and, when it grew, notes the build's peak so far in its lock
  (``peak_rss``), so a build the OOM killer ends shows how high it got by its last sample.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import NamedTuple

SAMPLE_SECONDS = 0.5
NOTED_STEP = 1 << 20  # the sampler notes a peak that grew by at least 1 MiB since it last did
# ru_maxrss is in kilobytes on Linux, in bytes on macOS.
_MAXRSS_UNIT = 1 if sys.platform == "darwin" else 1024


class ProcPeak:
    """Linux: the peak resident set since the last reset, which ``/proc/self/clear_refs`` does.

    Both files stay open (a lap is then a write and a ``pread``, some 5 microseconds); they name
    the process that opened them, so ``probe`` opens them again in a forked child.
    """

    method = "VmHWM, reset through /proc/self/clear_refs before each phase"

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.status = os.open("/proc/self/status", os.O_RDONLY | os.O_CLOEXEC)
        try:
            self.clear_refs = os.open("/proc/self/clear_refs", os.O_WRONLY | os.O_CLOEXEC)
        except OSError:
            os.close(self.status)
            raise

    def reset(self) -> None:
        os.write(self.clear_refs, b"5")

    def peak(self) -> int | None:
        status = os.pread(self.status, 4096, 0)
        start = status.find(b"VmHWM:")
        if start < 0:
            return None
        return int(status[start + 6 : status.index(b"kB", start)]) * 1024


class RusagePeak:
    """Elsewhere: the process's lifetime peak, known for a segment only if it raised it."""

    method = "ru_maxrss, the process's lifetime peak, where this build raised it"

    def __init__(self) -> None:
        self.floor = 0

    def reset(self) -> None:
        self.floor = _maxrss(resource.RUSAGE_SELF)

    def peak(self) -> int | None:
        now = _maxrss(resource.RUSAGE_SELF)
        return now if now > self.floor else None


def _maxrss(who: int) -> int:
    return resource.getrusage(who).ru_maxrss * _MAXRSS_UNIT


_probes: dict[int, ProcPeak | RusagePeak] = {}


def probe() -> ProcPeak | RusagePeak:
    """This process's way to a segment's peak: ``clear_refs`` if the kernel takes it."""
    pid = os.getpid()
    if pid not in _probes:
        _probes.clear()  # a forked child's: its parent's files name the parent
        _probes[pid] = _new_probe()
    return _probes[pid]


def _new_probe() -> ProcPeak | RusagePeak:
    try:
        linux = ProcPeak()
    except OSError:
        return RusagePeak()
    try:
        linux.reset()
        if linux.peak() is not None:
            return linux
    except OSError:
        pass
    return RusagePeak()


class Snapshot(NamedTuple):
    clock: float
    cpu: float  # this process's user + system seconds
    children_cpu: float  # those of its waited-for children
    children_peak: int  # the largest peak of any waited-for child, over the process's life


def snapshot() -> Snapshot:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return Snapshot(
        time.monotonic(),
        own.ru_utime + own.ru_stime,
        children.ru_utime + children.ru_stime,
        children.ru_maxrss * _MAXRSS_UNIT,
    )


class Usage(NamedTuple):
    """What a segment (or the whole build) took."""

    seconds: float
    cpu: float  # user + system, the process and its waited-for children
    peak_rss: int | None  # bytes: the builder process's peak, None where unknown
    peak_rss_children: int | None  # bytes: its largest child's, None where none was seen

    def fields(self) -> dict[str, float | int | None]:
        """As the trace and phase records write it: seconds to the millisecond."""
        return {
            "seconds": round(self.seconds, 3),
            "cpu": round(self.cpu, 3),
            "peak_rss": self.peak_rss,
            "peak_rss_children": self.peak_rss_children,
        }


def _highest(one: int | None, other: int | None) -> int | None:
    if one is None or other is None:
        return other if one is None else one
    return max(one, other)


class Meter:
    """One build's clock: ``lap()`` ends a segment (its usage) and starts the next.

    A build's segments are its setup, closed as its first phase begins, and then each phase,
    from the end of the one before (the builder's notes between two phases, a few microseconds,
    go to the next phase's CPU and peak; its ``seconds`` are its own): two laps fewer a phase.
    """

    def __init__(self) -> None:
        self.probe = probe()
        self.started_at = time.time()
        self.method = self.probe.method
        self._first = self._mark = snapshot()
        self.peak_rss: int | None = None  # the highest of the laps so far
        self.peak_rss_children: int | None = None
        self.completed: list[tuple[int, str, Usage]] = []  # each measured phase, in order
        self._rows: list[str] = []  # each completed phase's row of ``record``, as JSON
        self._setup_done = False
        self._phase_started = 0.0
        self._reset()

    def _reset(self) -> None:
        with contextlib.suppress(OSError):
            self.probe.reset()

    def _peak(self) -> int | None:
        try:
            return self.probe.peak()
        except OSError:
            return None

    def lap(self) -> Usage:
        now = snapshot()
        mark, self._mark = self._mark, now
        children = now.children_peak if now.children_peak > mark.children_peak else None
        used = Usage(
            now.clock - mark.clock,
            now.cpu - mark.cpu + now.children_cpu - mark.children_cpu,
            self._peak(),
            children,
        )
        self._reset()
        self.peak_rss = _highest(self.peak_rss, used.peak_rss)
        self.peak_rss_children = _highest(self.peak_rss_children, children)
        return used

    def phase_begins(self) -> None:
        """A phase begins: the setup's segment ends if it has not, the phase's clock starts."""
        if not self._setup_done:
            self._setup_done = True
            self.lap()
        self._phase_started = time.monotonic()

    def phase_done(self, number: int, name: str) -> Usage:
        """End a phase's segment and keep its usage (its seconds: its own, from its start)."""
        used = self.lap()._replace(seconds=time.monotonic() - self._phase_started)
        self.completed.append((number, name, used))
        self._rows.append(_compact([number, name, *_row(used)]))
        return used

    def record(self, stopped: str | None = None) -> str:
        """What the lock notes (``measured``): the start, each completed phase's ``[number, name,
        seconds, cpu, peak_rss]`` and, for a build that stopped, ``[where, seconds, cpu,
        peak_rss]`` of the segment it stopped in. Compact JSON, one line."""
        record = f'{{"start":{round(self.started_at, 3)},"phases":[{",".join(self._rows)}]'
        if stopped is not None:
            record += f',"stopped":{_compact([stopped, *_row(self.lap())])}'
        return record + "}"

    def total(self) -> Usage:
        """The whole build up to its last lap (its last phase's end, if a phase ran)."""
        if not self.completed:
            self.lap()
        now = self._mark
        first = self._first
        return Usage(
            now.clock - first.clock,
            now.cpu - first.cpu + now.children_cpu - first.children_cpu,
            self.peak_rss,
            self.peak_rss_children,
        )

    def running_peak(self) -> int | None:
        """The build's peak so far, the running segment's included (the sampler asks)."""
        return _highest(self.peak_rss, self._peak())


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def _row(used: Usage) -> list[float | int | None]:
    return [round(used.seconds, 3), round(used.cpu, 3), used.peak_rss]


class _Sampler:
    """The process's one sampling thread, started with its first build and kept for the next."""

    def __init__(self) -> None:
        self.guard = threading.Lock()
        self.watched: tuple[Meter, Callable[[int], None]] | None = None
        self.noted = 0
        self.thread: threading.Thread | None = None

    def watch(self, meter: Meter, note: Callable[[int], None]) -> None:
        with self.guard:
            self.watched, self.noted = (meter, note), 0
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="peak sampler", daemon=True)
                self.thread.start()

    def unwatch(self) -> None:
        """After this returns, the sampler notes nothing more for the build it watched."""
        with self.guard:
            self.watched = None

    def _run(self) -> None:
        while True:
            time.sleep(SAMPLE_SECONDS)
            with self.guard:
                if self.watched is None:
                    continue
                meter, note = self.watched
                peak = meter.running_peak()
                if peak is not None and peak >= self.noted + NOTED_STEP:
                    self.noted = peak
                    note(peak)


_sampler = _Sampler()


@contextlib.contextmanager
def sampling(meter: Meter, note: Callable[[int], None]) -> Iterator[None]:
    """While the block runs, ``note(peak)`` is called as the build's peak grows."""
    _sampler.watch(meter, note)
    try:
        yield
    finally:
        _sampler.unwatch()
