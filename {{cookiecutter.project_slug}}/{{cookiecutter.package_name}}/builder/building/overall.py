"""Overall progress of a build over many permutations, on stderr: k of N, counts, elapsed, ETA.

Without a terminal (a CI log, a file, a pipe) it is one plain line per finished permutation:
``[3/15] medium_half built in 1.2s; 3 built, 1 failed, 0:05 elapsed, ETA 0:12``. On a terminal
each finished permutation gets a short line (``[3/15] medium_half built in 1.2s``, its result in
colour) and one live line below them holds the rest, redrawn in place every ``TICK`` seconds so
that the elapsed time runs and the ETA counts down. The live line leaves the cursor at its start,
and the phase lines (``logs``) of this process and of the pool's workers first clear it, so any
line written meanwhile takes its place and the next redraw puts it back below.

Phase lines show for a single permutation (as they always have) and with ``--verbose``; a build
over many permutations shows the lines above instead, and ``--quiet`` only warnings, errors and the
final summary (``outcome.report``).

The ETA: each build that succeeds is a measurement of its seconds against its cost, which
``history.Estimator`` turns into lines (least squares: a fixed time per build, which dominates
small builds, plus a time per unit of cost): per parameter in its cost, once the parameter has
builds of two costs, else one line for all in estimated work (``shard.estimated_work``: input cost
x parameter cost). They price the permutations not finished yet, spread over the workers, so the
estimate sharpens as builds finish. A build starts from what earlier builds of the output folder
measured (``history.learned``), so it has an ETA from its start; without any, from its first
successful build.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Literal

from .. import axes
from ..manifest.entries import Entry
from ..manifest.history import Estimator
from ..manifest.shard import estimated_work
from ..terminal import CLEAR_LINE, can_redraw, terminal_style
from . import logs
from .outcome import RESULTS, Outcome, counts_text

Verbosity = Literal["quiet", "normal", "verbose"]
COLOURS = {
    "built": "32",
    "skipped": "2",
    "busy": "33",
    "failed": "31",
    "interrupted": "33",
    "not started": "2",
}
TICK = 0.5  # seconds between two redraws of the live line


def clock(seconds: float) -> str:
    """``0:05``, ``12:34``, ``1:02:03``."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


class Progress:
    """What a build over ``entries`` shows on stderr; call ``finished`` once per permutation.
    ``learned``: what earlier builds measured, which the ETA starts from."""

    def __init__(
        self,
        entries: list[Entry],
        *,
        verbosity: Verbosity,
        jobs: int = 1,
        learned: Estimator | None = None,
    ) -> None:
        self.total = len(entries)
        self.quiet = verbosity == "quiet"
        self.jobs = jobs
        many = self.total > 1
        self.phases = verbosity == "verbose" or (not many and not self.quiet)
        self.lines = many and not self.quiet  # a line per finished permutation
        self.live = self.lines and can_redraw(sys.stderr)
        self.width, self.colour = terminal_style(sys.stderr)
        self.entries = {entry["permutation_id"]: entry for entry in entries}
        # Per parameter, the permutations not finished yet: (count, costs, estimated works).
        self.left: dict[str, tuple[int, float, float]] = {}
        for entry in entries:
            self._count(entry, 1)
        self.counts = dict.fromkeys(RESULTS, 0)
        self.learned = learned or Estimator()
        self.started = self.estimated_at = time.monotonic()
        self.eta: float | None = self._estimate()  # seconds left, as estimated at ``estimated_at``
        self._saved_console: str | None = None
        self._stop_drawing = threading.Event()
        self._writing = threading.Lock()
        self._drawer = threading.Thread(target=self._redraw_until_stopped, daemon=True)

    @property
    def finished_count(self) -> int:
        return sum(self.counts.values())

    def elapsed(self) -> str:
        return clock(time.monotonic() - self.started)

    def start(self) -> Progress:
        """Set the console of this process and of workers spawned from now; start the live line."""
        self._saved_console = os.environ.get(logs.CONSOLE_VARIABLE)
        shown = [word for word, on in (("phases", self.phases), ("live", self.live)) if on]
        os.environ[logs.CONSOLE_VARIABLE] = ",".join(shown)
        if self.live:
            self._drawer.start()
        return self

    def stop(self) -> None:
        """Erase the live line and give the console back as it was."""
        if self.live:
            self._stop_drawing.set()
            self._drawer.join()
            self._write(CLEAR_LINE)
        if self._saved_console is None:
            os.environ.pop(logs.CONSOLE_VARIABLE, None)
        else:
            os.environ[logs.CONSOLE_VARIABLE] = self._saved_console

    def __enter__(self) -> Progress:
        return self.start()

    def __exit__(self, *raised: object) -> None:
        self.stop()

    def finished(self, outcome: Outcome) -> None:
        """Count a permutation's outcome, sharpen the ETA, and show the line it earns."""
        self.counts[outcome.result] += 1
        entry = self.entries[outcome.permutation_id]
        self._count(entry, -1)
        if outcome.result == "built" and outcome.seconds is not None:
            self.learned.add(entry, outcome.seconds)
        self.estimated_at = time.monotonic()
        self.eta = self._estimate()
        if not self.lines:
            return
        done = f"[{self.finished_count}/{self.total}]"
        line = f"{done} {outcome.permutation_id} {self._what(outcome)}"
        if self.live:
            self._write(f"{CLEAR_LINE}{line}\n{self._live_line()}\r")
        else:
            self._write(f"{line}; {self._status()}\n")

    def _count(self, entry: Entry, step: int) -> None:
        """Add a permutation to those left (``step`` 1), or take one away (-1)."""
        param = entry[axes.PARAM_KEY]
        count, costs, works = self.left.get(param, (0, 0.0, 0.0))
        cost, work = float(entry["sort_key"][0]), estimated_work(entry)
        self.left[param] = (count + step, costs + step * cost, works + step * work)

    def _estimate(self) -> float | None:
        left = self.total - self.finished_count
        seconds = self.learned.total(self.left) if left else None
        return None if seconds is None else seconds / min(self.jobs, left)

    def _what(self, outcome: Outcome) -> str:
        """``built in 1.2s``, ``failed after 0.3s``, ``skipped``; coloured on a terminal."""
        result = outcome.result
        if self.colour:
            result = f"\x1b[{COLOURS[result]}m{result}\x1b[0m"
        if outcome.seconds is None or outcome.result not in ("built", "failed"):
            return result
        return f"{result} {'in' if outcome.result == 'built' else 'after'} {outcome.seconds:.1f}s"

    def _status(self) -> str:
        """``3 built, 1 failed, 0:05 elapsed, ETA 0:12``, the ETA counting down since estimated."""
        status = ", ".join(filter(None, [counts_text(self.counts), f"{self.elapsed()} elapsed"]))
        if self.eta is None:
            return status
        left = max(0.0, self.eta - (time.monotonic() - self.estimated_at))
        return f"{status}, ETA {clock(left)}"

    def _live_line(self) -> str:
        """The live line, cut to the terminal's width: a wrapped line could not be redrawn."""
        return f"[{self.finished_count}/{self.total}] {self._status()}"[: self.width - 1]

    def _redraw_until_stopped(self) -> None:
        while True:
            self._write(f"{CLEAR_LINE}{self._live_line()}\r")
            if self._stop_drawing.wait(TICK):
                return

    def _write(self, text: str) -> None:
        """One write and flush at a time (the live line is redrawn from a thread)."""
        with self._writing:
            sys.stderr.write(text)
            sys.stderr.flush()
