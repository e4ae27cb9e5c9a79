"""Building permutations: each in its staging dir, phase by phase, then moved into place atomically.

Lifecycle of one permutation (``build_permutation``):
1. take the staging dir's lock (a live builder elsewhere means: report it and leave);
2. resume after the phases its progress store records, if they were built from today's inputs,
   registry entry and code (else start over, saying why), or start afresh with ``--force``;
3. run each remaining phase; for SQLite artifacts the phase's work and its progress row commit in
   one transaction, so a phase killed half-way leaves nothing a resumed build would trust;
4. on success, once the stage holds no link and the inputs are as they were when it was begun,
   let the artifact's kind (``kinds``) make the final artifact from the untouched staged one and
   move it into place, then delete the staging dir; on failure or interruption (at any point,
   finishing included) keep it, with the partial artifact, its progress, the three logs and the
   lock's record of where and why it stopped (on a full disk, only if it holds completed phases);
5. whatever the end, end what the phases left running (``leftovers``) before the lock is let go.
The stage never holds a symbolic link the builder would write through, and lies on the output
folder's file system (the final move must be one atomic rename).
Only ``build`` imports this module: the info subcommands never pay for logging or sqlite3.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from . import (
    axes,
    failures,
    interrupts,
    layout,
    leftovers,
    manifest,
    overall,
    progress,
    provenance,
    staging,
    status,
)
from .context import BuildContext, cpus_per_build
from .ids import UsageError
from .kinds import KIND, Document
from .logs import PROGRESS, BuildLogs
from .manifest import Entry
from .pipeline_module import pipeline
from .stale import Today

Phase = Callable[[BuildContext], "str | None"]

FAILED, BUSY = 1, 3  # exit codes; an interruption exits 128 + the signal's number


@dataclass
class Outcome:
    permutation_id: str
    result: str  # built | skipped | busy | failed | interrupted | not started
    message: str
    code: int = 0
    error_log: Path | None = None
    seconds: float | None = None  # how long build_permutation took
    reason: str | None = None  # a failure's (see failures)


def prepare_output_folder(output_dir: Path) -> None:
    """Create the output folder, or say in one line why builds cannot write there; remove what
    earlier builds discarded but were killed before they had deleted."""
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=output_dir):  # can a file be created there at all?
            pass
        staging.remove_discarded(layout.staging_root(output_dir))
    except (FileExistsError, NotADirectoryError):
        raise UsageError(
            f"output folder '{output_dir}' is a file or lies under one; give a folder"
        ) from None
    except OSError as error:
        raise UsageError(
            f"cannot write to output folder '{output_dir}': {error.strerror}"
        ) from None


def build_permutation(entry: Entry, output_dir: Path, *, force: bool = False) -> Outcome:
    """Build one permutation under its lock; a failing phase is reported, never raised."""
    started = time.monotonic()
    outcome = _build_locked(entry, output_dir, force)
    outcome.seconds = time.monotonic() - started
    return outcome


def _build_locked(entry: Entry, output_dir: Path, force: bool) -> Outcome:
    permutation_id = entry["permutation_id"]
    stage = layout.staging_dir(output_dir, permutation_id)
    final = layout.artifact_path(output_dir, permutation_id)
    lock = staging.BuildLock(stage, permutation_id)
    before = manifest.read_stage(output_dir, permutation_id) if stage.is_dir() else None
    children = leftovers.Watch()
    try:
        staging.refuse_links(stage, permutation_id, force=force)
        stray = manifest.not_an_artifact(final)
        if stray is not None:  # no build could move its artifact there
            raise staging.UnsafeStage(stray)
        if not lock.acquire():
            return Outcome(permutation_id, "busy", lock.refusal(), BUSY)
        job = failures.this_job()
        if job is not None:  # a killed build's reader may learn its fate from SLURM
            lock.note(**{failures.JOB_KEY: job})
        now = _stage_under_lock(stage, lock, before)
        state, _ = status.classify(final.exists(), now, len(pipeline.PHASES))
        if state == status.DONE and not force:  # a stage left, if any, holds nothing to keep
            staging.discard(stage)
            return Outcome(permutation_id, "skipped", f"is done: {final} (--force rebuilds it)")
        if force:
            staging.clear(stage, keep=[lock.path])
        staging.check_same_file_system(stage, output_dir)
        return _build_staged(entry, stage, final, lock)
    except staging.UnsafeStage as problem:
        return Outcome(permutation_id, "failed", str(problem), FAILED)
    except KeyboardInterrupt as stop:  # taking the lock, clearing or discarding the stage
        return _interrupted(permutation_id, stop, "outside a phase", None)
    finally:
        _end_leftovers(permutation_id, children)  # before the lock is let go
        lock.release()


def _end_leftovers(permutation_id: str, children: leftovers.Watch) -> None:
    ended = children.end()
    if ended:
        pids = ", ".join(map(str, ended))
        print(
            f"warning: {permutation_id}: ended what its phases left running (pid {pids})",
            file=sys.stderr,
        )


def _stage_under_lock(
    stage: Path, lock: staging.BuildLock, before: status.Stage | None
) -> status.Stage | None:
    """The stage as status.classify sees it once we hold its lock (None: only our lock in it).

    Taking the lock rewrites its record, so the record is the one read before, if its builder
    was dead then; one that was live has stopped since, leaving what it left.
    """
    if all(path == lock.path for path in stage.iterdir()):
        return None
    record = before.record if before is not None and not before.live else {}
    return status.Stage(False, record)


def _interrupted(
    permutation_id: str, stop: KeyboardInterrupt, where: str, error_log: Path | None
) -> Outcome:
    message = f"interrupted by {interrupts.signal_name(stop)} {where}"
    return Outcome(permutation_id, "interrupted", message, interrupts.exit_code(stop), error_log)


def _build_staged(entry: Entry, stage: Path, final: Path, lock: staging.BuildLock) -> Outcome:
    """Run the phases not yet recorded, then finish; the logs and the lock say how it went."""
    permutation_id = entry["permutation_id"]
    phases: list[Phase] = list(pipeline.PHASES)
    total = len(phases)
    started = time.monotonic()
    error_log = layout.log_file(stage, permutation_id, "error")
    where = "setup"
    held = 0  # completed phases in the stage: worth keeping it for
    stopped: Outcome | None = None
    with BuildLogs(stage, permutation_id) as log:
        conn = sqlite3.connect(KIND.progress_file(stage, permutation_id), isolation_level=None)
        try:
            log.info(f"build {permutation_id} ({entry['label']}): {total} phases in {stage}")
            log.debug(f"lock {lock.path} taken")
            conn, begun = _begin(entry, stage, lock, conn, log)
            completed = progress.completed_phases(conn)
            _check_progress_matches(completed, phases)
            held = len(completed)
            context = BuildContext(
                permutation_id=permutation_id,
                input_id=entry[axes.INPUT_KEY],
                param_name=entry[axes.PARAM_KEY],
                params=dict(pipeline.PARAM_REGISTRY[entry[axes.PARAM_KEY]]),
                staging_dir=stage,
                artifact_path=layout.staged_artifact(stage, permutation_id),
                log=log,
                connection=conn if KIND.holds_progress else None,
                cpus=cpus_per_build(),
            )
            record = provenance.Recorder(entry, begun)
            for number, phase in enumerate(phases, 1):
                where = f"phase {number}/{total} {phase.__name__}"
                if number <= len(completed):
                    log.info(
                        f"{where}: skipped, completed at {completed[number - 1][2]}", extra=PROGRESS
                    )
                    record.resumed(number, phase.__name__, completed[number - 1][2])
                    continue
                lock.note(phase=f"[{number}/{total}] {phase.__name__}")
                with record.timing(number, phase.__name__), RecordedExits(lock, log, where):
                    _run_phase(phase, where, number, context, conn)
                held = number
            where = "finishing"
            staging.refuse_links(stage, permutation_id, force=False)  # none made by a phase
            _check_inputs_unchanged(entry, begun)
            lock.note(phase=f"[{total}/{total}] finishing")
            log.debug(f"finish {context.artifact_path} into {final}")
            KIND.finish(conn, context.artifact_path, final, record.finished())
            lock.note(phase=f"[{total}/{total}] {status.PUBLISHED}")  # a kill now leaves it DONE
        except BaseException as error:  # SystemExit too: a phase that exits has failed
            if isinstance(error, KeyboardInterrupt) and interrupts.received is not None:
                stopped = _interrupted(permutation_id, error, f"in {where}", error_log)
                lock.note(error=stopped.message, **{failures.REASON_KEY: failures.of_stop(error)})
                log.error(f"{stopped.message}; staging kept, rerun to resume: {stage}")
                return stopped
            # A KeyboardInterrupt that no signal sent was raised by the phase: its failure.
            stopped = _failed(permutation_id, error, where, lock, log, error_log)
        finally:
            conn.close()
        if stopped is None:
            log.info(f"built {final} in {time.monotonic() - started:.2f}s", extra=PROGRESS)
    if stopped is None:
        staging.discard(stage)
        return Outcome(permutation_id, "built", f"built {final}")
    if stopped.reason == failures.NO_SPACE and not held:
        staging.discard(stage)  # it holds nothing worth the space it takes on a full disk
        stopped.error_log = None
    return stopped


def _check_inputs_unchanged(entry: Entry, begun: Document) -> None:
    """The inputs are as they were when the stage was begun, or the artifact would mix both:
    fingerprinted again before anything is published."""
    from .stale import changed_inputs

    mode = provenance.fingerprint_mode()
    now = provenance.fingerprint_inputs(entry[axes.INPUT_KEY], mode)
    changed = changed_inputs(begun.get("inputs") or [], now)
    if changed:
        raise failures.InputChanged(
            f"input changed during the build: {', '.join(changed)}; the next build starts over"
        )


def _failed(
    permutation_id: str,
    error: BaseException,
    where: str,
    lock: staging.BuildLock,
    log: logging.Logger,
    error_log: Path,
) -> Outcome:
    """A build that failed: its error and reason noted in the lock and the error log."""
    reason = failures.of_error(error)
    user_error = isinstance(error, UsageError | failures.InputChanged)  # no type, no traceback
    message = str(error) if user_error else f"{type(error).__name__}: {error}"
    if reason == failures.NO_SPACE:
        message = f"no space left on device ({message})"
    lock.note(error=message[:500], **{failures.REASON_KEY: reason})
    log.error(f"{where} failed: {message}", exc_info=None if user_error else error)
    said = f"{where} failed: {message}"
    return Outcome(permutation_id, "failed", said, FAILED, error_log, reason=reason)


class RecordedExits:
    """While a phase runs, ``os._exit`` called in the builder's own process (not in a child the
    phase forked) is recorded in the lock and the error log as the phase's failure, reason
    ``exit CODE``; then the process ends as asked, with 1 for 0: a phase that ends the process
    never leaves a stage, or an exit code, that says nothing went wrong."""

    def __init__(self, lock: staging.BuildLock, log: logging.Logger, where: str) -> None:
        self.lock, self.log, self.where = lock, log, where
        self.builder = os.getpid()
        self.real = os._exit

    def __enter__(self) -> None:
        setattr(os, "_exit", self.exit)  # noqa: B010 (a module's function, replaced for a while)

    def __exit__(self, *raised: object) -> None:
        setattr(os, "_exit", self.real)  # noqa: B010

    def exit(self, code: int) -> NoReturn:
        if os.getpid() == self.builder:
            message = f"{self.where} failed: os._exit({code}) in the phase"
            self.lock.note(error=message, **{failures.REASON_KEY: f"{failures.EXIT} {code}"})
            self.log.error(message)
            self.real(code or FAILED)
        self.real(code)


def _begin(
    entry: Entry,
    stage: Path,
    lock: staging.BuildLock,
    conn: sqlite3.Connection,
    log: logging.Logger,
) -> tuple[sqlite3.Connection, Document]:
    """The stage's progress store and what it was begun from; started over if that changed.

    Completed phases are trusted only if they were built from today's inputs, registry entry and
    code: a resume after any of them changed would mix old and new in one artifact.
    """
    permutation_id = entry["permutation_id"]
    progress.ensure_tables(conn)
    then = progress.begun(conn)
    committed = progress.committed_on_its_own(conn)
    if committed is not None:
        names = [phase.__name__ for phase in pipeline.PHASES]
        name = names[committed - 1] if 0 < committed <= len(names) else "?"
        where = f"phase {committed}/{len(names)} {name}"
        _starting_over(permutation_id, f"the stage holds writes {where} committed on its own", log)
    elif then is not None:
        why = Today().reasons(then, entry[axes.INPUT_KEY], entry[axes.PARAM_KEY])
        if not why:
            return conn, then
        inputs = "; ".join(why)
        _starting_over(
            permutation_id, f"staged phases were built from other inputs ({inputs})", log
        )
    elif progress.completed_phases(conn):
        log.info("staged phases record nothing they were built from: starting over")
    else:
        return conn, _record_begun(entry, conn)
    conn.close()
    logs = [layout.log_file(stage, permutation_id, level) for level in layout.LOG_LEVELS]
    staging.clear(stage, keep=[lock.path, *logs])
    conn = sqlite3.connect(KIND.progress_file(stage, permutation_id), isolation_level=None)
    progress.ensure_tables(conn)
    return conn, _record_begun(entry, conn)


def _starting_over(permutation_id: str, why: str, log: logging.Logger) -> None:
    """Say on stderr and in the info log why a stage's completed phases are not resumed."""
    message = f"{why}: starting over"
    log.info(message)
    print(f"{permutation_id}: {message}", file=sys.stderr)


def _record_begun(entry: Entry, conn: sqlite3.Connection) -> Document:
    begun = provenance.begin(entry)
    progress.record_begun(conn, begun)
    return begun


def _check_progress_matches(completed: list[tuple[int, str, str]], phases: list[Phase]) -> None:
    """Refuse to resume a build whose recorded phases are not the pipeline's current ones."""
    recorded = [name for _, name, _ in completed]
    current = [phase.__name__ for phase in phases]
    if recorded != current[: len(recorded)]:
        raise UsageError(
            f"staged progress records phases {recorded} but the pipeline now has {current};"
            " rerun with --force to start this permutation afresh"
        )


def _run_phase(
    phase: Phase, where: str, number: int, context: BuildContext, conn: sqlite3.Connection
) -> None:
    """Run one phase and record it; for SQLite, both inside one transaction that commits or not."""
    log = context.log
    log.info(f"{where}: started", extra=PROGRESS)
    started = time.monotonic()
    sqlite = context.connection is not None
    try:
        if sqlite:
            conn.set_progress_handler(_listen_for_stops, 10_000)
            conn.execute("BEGIN IMMEDIATE")
            progress.open_phase(conn, number)  # kept only if the phase commits: see progress
        summary = phase(context)
        if sqlite and not conn.in_transaction:
            raise RuntimeError(
                "the phase committed on its own (executescript and commit() do); let the builder"
                " commit each phase: the next build starts this permutation over"
            )
        progress.record_phase(conn, number, phase.__name__)
        if sqlite:
            conn.execute("COMMIT")
    except BaseException as error:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if isinstance(error, sqlite3.OperationalError) and interrupts.received is not None:
            raise interrupts.received from None  # SIGTERM cut a long statement short
        raise
    finally:
        conn.set_progress_handler(None, 0)
    elapsed = time.monotonic() - started
    done = f"{where}: done in {elapsed:.2f}s" + (f" ({summary})" if summary else "")
    log.info(done, extra=PROGRESS)


def _listen_for_stops() -> int:
    """Called by SQLite during a long statement: a pending SIGTERM is raised here and aborts it."""
    return 0


def build_all(
    entries: list[Entry],
    output_dir: Path,
    *,
    force: bool = False,
    verbosity: overall.Verbosity = "normal",
) -> int:
    """Build each entry in order, go on past failures, report them all; return the exit code."""
    prepare_output_folder(output_dir)
    outcomes: list[Outcome] = []
    with overall.Progress(entries, verbosity=verbosity) as shown:
        for entry in entries:
            outcomes.append(build_permutation(entry, output_dir, force=force))
            shown.finished(outcomes[-1])
            if outcomes[-1].result == "interrupted":
                break
    return report(outcomes, shown)


def report(outcomes: list[Outcome], shown: overall.Progress) -> int:
    """Summary on stderr (one line per problem, with its error log) and the exit code."""
    counts = dict.fromkeys(overall.RESULTS, 0)
    for outcome in outcomes:
        counts[outcome.result] += 1
        if outcome.result == "skipped":
            if not shown.quiet:
                print(f"{outcome.permutation_id} {outcome.message}", file=sys.stderr)
        elif outcome.result not in ("built", "not started"):
            where = f" (log: {outcome.error_log})" if outcome.error_log else ""
            print(f"error: {outcome.permutation_id} {outcome.message}{where}", file=sys.stderr)
    if len(outcomes) > 1:
        print(f"summary: {overall.counts_text(counts)} in {shown.elapsed()}", file=sys.stderr)
    interrupted = [outcome.code for outcome in outcomes if outcome.result == "interrupted"]
    if interrupted:
        return interrupted[0]
    if counts["failed"] or counts["not started"]:
        return FAILED
    return BUSY if counts["busy"] else 0
