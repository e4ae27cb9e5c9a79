"""``build --jobs N``: the selected permutations on N worker processes, cheapest first.

Each worker builds one permutation at a time with the same ``build_permutation`` as a sequential
build (its lock, its staging dir, its three logs), so a pool, a shell loop and GNU parallel on one
output folder never build a permutation twice. Permutations are queued cheapest first and the
workers take them in that order.

Stopping: on Ctrl-C (SIGINT to the terminal's process group) or SIGTERM (to this process, which
passes it on), queued permutations are dropped and each running build is interrupted the way a
single build is: its staging dir is kept for a resume, and nothing is half-moved, since an artifact
only ever reaches the output folder by one atomic rename. A worker holds stops back between two
builds (one delivered there would kill it), takes only the first stop, and after it builds nothing.

A worker whose parent dies (kill -9, SIGHUP, a lost terminal) stops as on SIGTERM: a thread
watches the parent, and the worker leaves its running build resumable and exits. A worker that
dies itself (``os._exit`` in a phase, the OOM killer) fails its permutation; what no worker started
is reported "not started", not failed.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.queues import SimpleQueue
from pathlib import Path
from types import FrameType

from .. import interrupts, layout
from ..manifest.entries import Entry
from ..manifest.history import Estimator
from . import context, overall, runner
from .outcome import FAILED, Outcome, report

STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}

# In a worker: the stop it received, if any. A stopped worker builds nothing more, even what was
# already queued to it, and ignores further stops so that they cannot cut a build's cleanup short.
_stopped_by: KeyboardInterrupt | None = None
# In a worker: set between builds, when the worker may exit at once; where it says it began one.
_idle = threading.Event()
_began: SimpleQueue[str] | None = None
PARENT_POLL_SECONDS = 0.2


def _stop_once(signum: int, frame: FrameType | None) -> None:
    global _stopped_by
    for stop in STOP_SIGNALS:
        signal.signal(stop, signal.SIG_IGN)
    if signum == signal.SIGTERM:
        _stopped_by = interrupts.received = interrupts.Terminated()
    else:
        _stopped_by = KeyboardInterrupt()
    raise _stopped_by


def _start_worker(began: SimpleQueue[str], workers: int, parent: int) -> None:
    """Each worker's setup; ``parent`` is the builder's pid, given by the builder itself: a worker
    that starts after its parent died (a slow spawn on a loaded machine) must see it gone, and
    ``os.getppid()`` would name whatever adopted it."""
    global _began
    _began = began
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
    os._exit(interrupts.exit_code(interrupts.Terminated()))


def _build(entry: Entry, output_dir: Path, force: bool) -> Outcome:
    """Run in a worker: one permutation, interruptible only while it builds."""
    _idle.clear()
    try:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # a pending stop raises here
        if _stopped_by is not None:
            raise _stopped_by
        if _began is not None:
            _began.put(entry["permutation_id"])
        return runner.build_permutation(entry, output_dir, force=force)
    except KeyboardInterrupt as stop:  # before the build began, or as it returned
        return _interrupted(entry, output_dir, stop)
    finally:
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


def _outcome(future: Future[Outcome], entry: Entry, output_dir: Path, began: set[str]) -> Outcome:
    try:
        return future.result()
    except KeyboardInterrupt as stop:
        return _interrupted(entry, output_dir, stop)
    except BrokenProcessPool:  # a worker died (os._exit, killed, out of memory)
        permutation_id = entry["permutation_id"]
        if permutation_id in began:
            message = "not built: its worker died (killed, out of memory, or os._exit in a phase)"
            return Outcome(permutation_id, "failed", message, FAILED)
        return Outcome(permutation_id, "not started", "not started: a worker died", FAILED)


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
    # Started before the workers are: they inherit its choice of console lines.
    shown = overall.Progress(entries, verbosity=verbosity, jobs=jobs, learned=learned).start()
    spawning = multiprocessing.get_context("spawn")  # no fork of a threaded process
    began_queue: SimpleQueue[str] = spawning.SimpleQueue()
    began: set[str] = set()
    workers = min(jobs, len(entries))
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=spawning,
        initializer=_start_worker,
        initargs=(began_queue, workers, os.getpid()),
    )
    futures: dict[Future[Outcome], Entry] = {}
    finished: dict[Future[Outcome], Outcome] = {}
    stopped_by: KeyboardInterrupt | None = None
    try:
        for entry in entries:  # queued cheapest first; workers take them in this order
            futures[pool.submit(_build, entry, output_dir, force)] = entry
        for future in as_completed(futures):
            while not began_queue.empty():
                began.add(began_queue.get())
            finished[future] = _outcome(future, futures[future], output_dir, began)
            shown.finished(finished[future])
    except KeyboardInterrupt as stop:
        stopped_by = stop
        _stop(futures, stop)
        for future, entry in futures.items():
            if future not in finished and not future.cancelled():
                finished[future] = _outcome(future, entry, output_dir, began)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        shown.stop()
    outcomes = [finished[f] for f in futures if f in finished]  # cheapest first
    code = report(outcomes, quiet=shown.quiet, elapsed=shown.elapsed())
    return code if stopped_by is None else interrupts.exit_code(stopped_by)


def _stop(futures: dict[Future[Outcome], Entry], stop: KeyboardInterrupt) -> None:
    """Drop what has not started, pass the stop to the workers, let running builds save state."""
    for stop_signal in STOP_SIGNALS:  # further stops would only cut the running builds' cleanup
        signal.signal(stop_signal, signal.SIG_IGN)
    dropped = sum(future.cancel() for future in futures)
    forwarded = signal.SIGTERM if isinstance(stop, interrupts.Terminated) else signal.SIGINT
    for worker in multiprocessing.active_children():
        if worker.pid is not None:
            os.kill(worker.pid, forwarded)
    print(
        f"stopping: {dropped} queued permutations dropped;"
        " waiting for the running builds to keep their staged state",
        file=sys.stderr,
    )
