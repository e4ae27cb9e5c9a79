"""``build --jobs N``: the selected permutations on N worker processes, cheapest first.

Each worker builds one permutation at a time with the same ``build_permutation`` as a sequential
build (its lock, its staging dir, its three logs), so a pool, a shell loop and GNU parallel on one
output folder never build a permutation twice. Permutations are queued cheapest first and the
workers take them in that order.

Stopping: on Ctrl-C (SIGINT to the terminal's process group) or SIGTERM (to this process, which
passes it on), queued permutations are dropped and each running build is interrupted the way a
single build is: its staging dir is kept for a resume, and nothing is half-moved, since an artifact
only ever reaches the output folder by one atomic rename. Idle workers hold the signals back, so
a stop never kills a worker between two builds; a worker takes only the first stop of a build.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from types import FrameType

from . import runner, staging
from .manifest import Entry
from .runner import Outcome, Terminated

STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}

# In a worker: the stop it received, if any. A stopped worker builds nothing more, even what was
# already queued to it, and ignores further stops so that they cannot cut a build's cleanup short.
_stopped_by: BaseException | None = None


def _stop_once(signum: int, frame: FrameType | None) -> None:
    global _stopped_by
    for stop in STOP_SIGNALS:
        signal.signal(stop, signal.SIG_IGN)
    _stopped_by = Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()
    raise _stopped_by


def _start_worker() -> None:
    """Idle workers hold stops back: one delivered between two builds would kill the worker."""
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    for stop in STOP_SIGNALS:
        signal.signal(stop, _stop_once)


def _build(entry: Entry, output_dir: Path, force: bool) -> Outcome:
    """Run in a worker: one permutation, interruptible only while it builds."""
    try:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # a pending stop raises here
        if _stopped_by is not None:
            raise _stopped_by
        return runner.build_permutation(entry, output_dir, force=force)
    except (KeyboardInterrupt, Terminated) as stop:
        return _interrupted(entry, output_dir, stop)
    finally:
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)


def _interrupted(entry: Entry, output_dir: Path, stop: BaseException) -> Outcome:
    """A build stopped outside its phases (before it began, or as it returned)."""
    name = "SIGTERM" if isinstance(stop, Terminated) else "SIGINT"
    permutation_id = entry["permutation_id"]
    error_log = staging.log_file(
        staging.staging_dir(output_dir, permutation_id), permutation_id, "error"
    )
    if error_log.exists():
        return Outcome(permutation_id, "interrupted", f"interrupted by {name}", error_log)
    return Outcome(permutation_id, "interrupted", f"interrupted by {name} before it started")


def _outcome(future: Future[Outcome], entry: Entry, output_dir: Path) -> Outcome:
    try:
        return future.result()
    except (KeyboardInterrupt, Terminated) as stop:
        return _interrupted(entry, output_dir, stop)
    except BrokenProcessPool as error:
        return Outcome(entry["permutation_id"], "failed", f"not built: {error}")


def build_in_pool(entries: list[Entry], output_dir: Path, *, force: bool, jobs: int) -> int:
    """Build ``entries`` (cheapest first) on ``jobs`` workers; report as ``build_all`` does."""
    runner.prepare_output_folder(output_dir)
    signal.signal(signal.SIGTERM, runner.raise_terminated)
    pool = ProcessPoolExecutor(
        max_workers=min(jobs, len(entries)),
        mp_context=multiprocessing.get_context("spawn"),  # no fork of a threaded process
        initializer=_start_worker,
    )
    futures: dict[Future[Outcome], Entry] = {}
    finished: dict[Future[Outcome], Outcome] = {}
    stopped_by: BaseException | None = None
    try:
        for entry in entries:  # queued cheapest first; workers take them in this order
            futures[pool.submit(_build, entry, output_dir, force)] = entry
        for future in as_completed(futures):
            finished[future] = _outcome(future, futures[future], output_dir)
    except (KeyboardInterrupt, Terminated) as stop:
        stopped_by = stop
        _stop(futures, stop)
        for future, entry in futures.items():
            if future not in finished and not future.cancelled():
                finished[future] = _outcome(future, entry, output_dir)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    code = runner.report([finished[f] for f in futures if f in finished])  # cheapest first
    if stopped_by is None:
        return code
    return 143 if isinstance(stopped_by, Terminated) else 130


def _stop(futures: dict[Future[Outcome], Entry], stop: BaseException) -> None:
    """Drop what has not started, pass the stop to the workers, let running builds save state."""
    for stop_signal in STOP_SIGNALS:  # further stops would only cut the running builds' cleanup
        signal.signal(stop_signal, signal.SIG_IGN)
    dropped = sum(future.cancel() for future in futures)
    forwarded = signal.SIGTERM if isinstance(stop, Terminated) else signal.SIGINT
    for worker in multiprocessing.active_children():
        if worker.pid is not None:
            os.kill(worker.pid, forwarded)
    print(
        f"stopping: {dropped} queued permutations dropped;"
        " waiting for the running builds to keep their staged state",
        file=sys.stderr,
    )
