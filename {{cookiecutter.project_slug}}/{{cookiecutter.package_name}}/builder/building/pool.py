"""``build --jobs N``: the selected permutations on N worker processes, cheapest first.

Each worker builds one permutation at a time with the same ``build_permutation`` as a sequential
build (its lock, its staging dir, its three logs), so a pool, a shell loop and GNU parallel on one
output folder never build a permutation twice. The builder hands the next permutation, cheapest
first, to a worker only once it is idle, over a pipe of its own: it always knows which worker
builds what, and nothing waits in a dead worker's queue.

A worker that dies (``kill -9``, the kernel's OOM killer, ``os._exit`` in a phase) fails only the
permutation it was building, as ``make -k`` or GNU parallel would: its stage says why, as any killed
build's does (``killed``, or the exit a phase recorded), and the summary says the same. The builder
ends what the dead worker's phases left running (``leftovers``), starts a new worker in its place
and builds the rest; the exit code is 1. A worker that dies before it began any build (its start
failed) is not replaced; what no worker began is reported "not started".

Stopping: on Ctrl-C (SIGINT to the terminal's process group), or SIGTERM, SIGHUP or SIGQUIT (to
this process, which passes it on), queued permutations are dropped and each running build is
interrupted the way a single build is: its staging dir is kept for a resume, and nothing is
half-moved, since an artifact only ever reaches the output folder by one atomic rename. A worker
holds stops back between two builds (one delivered there would kill it), takes only the first stop,
and after it builds nothing.

A worker whose parent dies (kill -9, a lost terminal) stops as on SIGTERM: a thread watches the
parent, and the worker leaves its running build resumable and exits.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType

from .. import failures, interrupts, layout, status
from ..manifest.entries import Entry
from ..manifest.history import Estimator
from ..manifest.stages import read_stage
from . import context, leftovers, overall, runner, task_end
from .outcome import FAILED, Outcome, report

STOP_SIGNALS = interrupts.STOP_SIGNALS

# In a worker: the stop it received, if any. A stopped worker builds nothing more, and ignores
# further stops so that they cannot cut a build's cleanup short.
_stopped_by: KeyboardInterrupt | None = None
# In a worker: whether a stop may be raised where it lands, inside _build. Between builds one is
# kept for the next build: raised in the worker's loop, it would cut a message on its pipe. (A
# signal that came as a build ended may be handled only later, its mask blocked again.)
_building = False
# In a worker: set between builds, when the worker may exit at once; where it tells the builder.
_idle = threading.Event()
_channel: Connection | None = None
PARENT_POLL_SECONDS = 0.2
DEATH_POLL_SECONDS = 0.2  # how often the builder asks whether a busy worker died
# The real os._exit: a build in progress replaces os._exit to record a phase's call (runner), and
# the parent's watcher must not be taken for a phase.
_exit = os._exit


def _stop_once(signum: int, frame: FrameType | None) -> None:
    global _stopped_by
    for stop in STOP_SIGNALS:
        signal.signal(stop, signal.SIG_IGN)
    _stopped_by = interrupts.stop_of(signum)
    if _building:
        raise _stopped_by


def _start_worker(channel: Connection, workers: int, parent: int) -> None:
    """Each worker's setup; ``parent`` is the builder's pid, given by the builder itself: a worker
    that starts after its parent died (a slow spawn on a loaded machine) must see it gone, and
    ``os.getppid()`` would name whatever adopted it."""
    global _channel
    _channel = channel
    context.builds_at_once = workers  # the workers split the job's cpus: each build's ctx.cpus
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)  # the watcher inherits the mask
    for stop in STOP_SIGNALS:
        signal.signal(stop, _stop_once)
    _idle.set()
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _watch_parent(parent: int) -> None:
    """When the parent is gone, stop as on SIGTERM: interrupt the build, then exit."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)
    os.kill(os.getpid(), signal.SIGTERM)  # raised in the running build, or held until the next
    _idle.wait()
    _exit(interrupts.exit_code(interrupts.Terminated()))


def _work(channel: Connection, workers: int, parent: int) -> None:
    """A worker's life: take a permutation, build it, send its outcome; until told to stop."""
    _start_worker(channel, workers, parent)
    while True:
        try:
            given = channel.recv()
        except EOFError:  # the builder is gone: its watcher ends this worker
            return
        if given is None:
            return
        entry, output_dir, force = given
        channel.send(("done", _build(entry, output_dir, force)))


def _build(entry: Entry, output_dir: Path, force: bool) -> Outcome:
    """Run in a worker: one permutation, interruptible only while it builds."""
    global _building
    _idle.clear()
    try:
        _building = True
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # a pending stop raises here
        if _stopped_by is not None:
            raise _stopped_by
        if _channel is not None:
            _channel.send(("began", entry["permutation_id"]))
        return runner.build_permutation(entry, output_dir, force=force)
    except KeyboardInterrupt as stop:  # before the build began, or as it returned
        return _interrupted(entry, output_dir, stop)
    finally:
        _building = False
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        _idle.set()


def _interrupted(entry: Entry, output_dir: Path, stop: KeyboardInterrupt) -> Outcome:
    permutation_id = entry["permutation_id"]
    stage = layout.staging_dir(output_dir, permutation_id)
    error_log = layout.log_file(stage, permutation_id, "error")
    began = error_log.exists()
    where = "" if began else " before it started"
    message = f"interrupted by {interrupts.signal_name(stop)}{where}"
    code = interrupts.exit_code(stop)
    return Outcome(permutation_id, "interrupted", message, code, error_log if began else None)


@dataclass
class Worker:
    """A worker process, the builder's end of its pipe, and what it was last given."""

    process: BaseProcess
    channel: Connection
    entry: Entry | None = None
    began: bool = False  # it began building ``entry``
    built_any: bool = False  # it began some build: it started well, and may be replaced


@dataclass
class Pool:
    """The workers, the permutations not yet given out, and the outcomes so far."""

    output_dir: Path
    force: bool
    size: int
    queue: deque[Entry]
    shown: overall.Progress
    workers: list[Worker] = field(default_factory=list)
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    own: set[int] = field(default_factory=set)  # this process's children that are no leftovers
    oom_kills: int | None = field(default_factory=failures.oom_kills)  # counted so far

    def start_worker(self) -> None:
        spawning = multiprocessing.get_context("spawn")  # no fork of a threaded process
        ours, theirs = spawning.Pipe()
        process = spawning.Process(target=_work, args=(theirs, self.size, os.getpid()))
        process.start()
        theirs.close()
        self.workers.append(Worker(process, ours))
        self.own |= leftovers.children()  # the worker, and multiprocessing's resource tracker

    def give_out(self) -> None:
        """The next permutations, cheapest first, to the idle workers."""
        for worker in self.workers:
            if worker.entry is None and self.queue:
                worker.entry, worker.began = self.queue.popleft(), False
                with contextlib.suppress(OSError):  # it died: step() sees it, and requeues this
                    worker.channel.send((worker.entry, self.output_dir, self.force))

    def busy(self) -> list[Worker]:
        return [worker for worker in self.workers if worker.entry is not None]

    def run(self) -> None:
        """Until every permutation has an outcome (or no worker is left to build one)."""
        while self.queue or self.busy():
            self.give_out()
            if not self.workers:
                break
            self.step()
        for entry in self.queue:  # every worker died before it could build anything
            message = "not started: its workers died before they began a build"
            self.finish(Outcome(entry["permutation_id"], "not started", message, FAILED))
        self.queue.clear()

    def step(self) -> None:
        """Wait for messages or deaths, and act on them: a dead worker's last messages first.

        A worker's death is asked of the kernel too, not only read from its sentinel and pipe: a
        process its phase forked holds copies of both, which would keep them open for its life.
        """
        handles = [h for w in self.workers for h in (w.channel, w.process.sentinel)]
        ready = set(wait(handles, timeout=DEATH_POLL_SECONDS))
        for worker in list(self.workers):
            dead = not worker.process.is_alive()
            if (dead or worker.channel in ready) and (not self.receive(worker) or dead):
                self.died(worker)

    def receive(self, worker: Worker) -> bool:
        """Take every message a worker has sent; False if its pipe broke (it died)."""
        try:
            while worker.channel.poll():
                kind, what = worker.channel.recv()
                if kind == "began":
                    worker.began = worker.built_any = True
                else:
                    worker.entry = None
                    self.finish(what)
        except (EOFError, OSError):
            return False
        return True

    def finish(self, outcome: Outcome) -> None:
        self.outcomes[outcome.permutation_id] = outcome
        self.shown.finished(outcome)

    def died(self, worker: Worker) -> None:
        """A worker is gone: fail what it was building, end what it left, replace it."""
        worker.process.join()
        worker.channel.close()
        self.workers.remove(worker)
        leftovers.end(self.own)  # what its phases left running came to this process
        if worker.entry is not None and not worker.began:
            self.queue.appendleft(worker.entry)  # it never began: the next worker builds it
        elif worker.entry is not None:
            self.finish(self.dead_build(worker.entry, worker.process.exitcode))
        if worker.built_any and self.queue:
            self.start_worker()

    def dead_build(self, entry: Entry, exitcode: int | None) -> Outcome:
        """The outcome of a build whose worker died: what its stage says, as ``manifest`` does,
        once told what this process saw (an OOM kill in the cgroup it shares with the worker)."""
        permutation_id = entry["permutation_id"]
        if exitcode is not None and exitcode < 0:
            task_end.record_end([entry], self.output_dir, 128 - exitcode, since=self.oom_kills)
            self.oom_kills = failures.oom_kills()
        stage = read_stage(self.output_dir, permutation_id)
        how = (
            f"of {signal.Signals(-exitcode).name}"
            if exitcode is not None and exitcode < 0
            else f"with exit code {exitcode}"
        )
        if status.is_leftover(True, stage):  # its artifact was in place: built, as manifest says
            print(
                f"warning: {permutation_id}: its worker died {how} once it was built",
                file=sys.stderr,
            )
            return Outcome(permutation_id, "built", "built; its worker died after")
        reason = failures.recorded(stage.record)
        error = stage.record.get("error", status.KILLED)
        message = f"not built: its worker died {how}; reason {reason}: {error}"
        error_log = layout.log_file(
            layout.staging_dir(self.output_dir, permutation_id), permutation_id, "error"
        )
        return Outcome(permutation_id, "failed", message, FAILED, error_log)

    def stop(self, stop: KeyboardInterrupt) -> None:
        """Drop what has not started, pass the stop on, let the running builds save their state."""
        for stop_signal in STOP_SIGNALS:  # further stops would only cut the builds' cleanup
            signal.signal(stop_signal, signal.SIG_IGN)
        dropped = len(self.queue)
        self.queue.clear()
        for worker in self.workers:
            if worker.process.pid is not None:
                os.kill(worker.process.pid, interrupts.signal_of(stop))
        print(
            f"stopping: {dropped} queued permutations dropped;"
            " waiting for the running builds to keep their staged state",
            file=sys.stderr,
        )
        while self.busy():
            self.step()

    def close(self) -> None:
        """Tell the idle workers to exit, wait for them, end what their builds left."""
        for worker in self.workers:
            if worker.entry is None:
                with contextlib.suppress(OSError):  # it died meanwhile
                    worker.channel.send(None)
        for worker in self.workers:
            worker.process.join()
            worker.channel.close()
        self.workers.clear()
        leftovers.end(self.own)


def build_in_pool(
    entries: list[Entry],
    output_dir: Path,
    *,
    force: bool,
    jobs: int,
    verbosity: overall.Verbosity = "normal",
    learned: Estimator | None = None,
) -> int:
    """Build ``entries`` (cheapest first) on ``jobs`` workers; report as ``build_all`` does."""
    runner.prepare_output_folder(output_dir)
    leftovers.adopt_orphans()  # what a dead worker's phases left running comes to this process
    # Started before the workers are: they inherit its choice of console lines.
    shown = overall.Progress(entries, verbosity=verbosity, jobs=jobs, learned=learned).start()
    size = min(jobs, len(entries))
    pool = Pool(output_dir, force, size, deque(entries), shown)
    stopped_by: KeyboardInterrupt | None = None
    try:
        for _ in range(size):
            pool.start_worker()
        pool.run()
    except KeyboardInterrupt as stop:
        stopped_by = stop
        pool.stop(stop)
    finally:
        pool.close()
        shown.stop()
    outcomes = [
        pool.outcomes[e["permutation_id"]] for e in entries if e["permutation_id"] in pool.outcomes
    ]
    code = report(outcomes, quiet=shown.quiet, elapsed=shown.elapsed())  # cheapest first
    return code if stopped_by is None else interrupts.exit_code(stopped_by)
