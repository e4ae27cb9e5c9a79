"""Building permutations: each in its staging dir, phase by phase, then moved into place atomically.

Lifecycle of one permutation (``build_permutation``):
1. take the staging dir's lock (a live builder elsewhere means: report it and leave);
2. resume after the phases its ``_build_progress`` records, or start afresh with ``--force``;
3. run each remaining phase; for SQLite artifacts the phase's work and its progress row commit in
   one transaction, so a phase killed half-way leaves nothing a resumed build would trust;
4. on success drop the progress table, record provenance (``provenance``), VACUUM, fsync,
   ``os.replace`` into the output folder, and delete the staging dir; on failure or interruption
   keep it, with the partial artifact, the three logs and the lock's record of where and why it
   stopped.
Only ``build`` imports this module: the info subcommands never pay for logging or sqlite3.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import axes, interrupts, layout, manifest, overall, progress, provenance, staging, status
from .context import BuildContext
from .ids import UsageError
from .logs import PROGRESS, BuildLogs
from .manifest import Entry
from .pipeline_module import pipeline

Phase = Callable[[BuildContext], "str | None"]

FAILED, BUSY = 1, 3  # exit codes; an interruption exits 128 + the signal's number


@dataclass
class Outcome:
    permutation_id: str
    result: str  # built | skipped | busy | failed | interrupted
    message: str
    code: int = 0
    error_log: Path | None = None
    seconds: float | None = None  # how long build_permutation took


def prepare_output_folder(output_dir: Path) -> None:
    """Create the output folder, or say in one line why builds cannot write there."""
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=output_dir):  # can a file be created there at all?
            pass
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
    final = output_dir / layout.artifact_name(permutation_id)
    lock = staging.BuildLock(stage, permutation_id)
    before = manifest.read_stage(output_dir, permutation_id) if stage.is_dir() else None
    try:
        if not lock.acquire():
            return Outcome(permutation_id, "busy", f"is being built by {lock.holder}", BUSY)
        now = _stage_under_lock(stage, final, lock, before)
        state, _ = status.classify(final.exists(), now, len(pipeline.PHASES))
        if state == status.DONE and not force:  # a stage left, if any, holds nothing to keep
            staging.discard(stage)
            return Outcome(permutation_id, "skipped", f"is done: {final} (--force rebuilds it)")
        if force:
            _clear_stage(stage, keep=lock.path)
        return _build_staged(entry, stage, final, lock)
    except KeyboardInterrupt as stop:  # taking the lock, clearing or discarding the stage
        return _interrupted(permutation_id, stop, "outside a phase", None)
    finally:
        lock.release()


def _stage_under_lock(
    stage: Path, final: Path, lock: staging.BuildLock, before: status.Stage | None
) -> status.Stage | None:
    """The stage as status.classify sees it once we hold its lock (None: only our lock in it).

    Taking the lock rewrites its record, so the record is the one read before, if its builder
    was dead then; one that was live has stopped since, leaving what it left.
    """
    if all(path == lock.path for path in stage.iterdir()):
        return None
    record = before.record if before is not None and not before.live else {}
    return status.Stage(False, record, (stage / final.name).exists())


def _interrupted(
    permutation_id: str, stop: KeyboardInterrupt, where: str, error_log: Path | None
) -> Outcome:
    message = f"interrupted by {interrupts.signal_name(stop)} {where}"
    return Outcome(permutation_id, "interrupted", message, interrupts.exit_code(stop), error_log)


def _clear_stage(stage: Path, *, keep: Path) -> None:
    """``--force``: forget a stale partial build (but not the lock we hold)."""
    for path in stage.iterdir():
        if path != keep:
            shutil.rmtree(path) if path.is_dir() else path.unlink()


def _build_staged(entry: Entry, stage: Path, final: Path, lock: staging.BuildLock) -> Outcome:
    """Run the phases not yet recorded, then finish; the logs and the lock say how it went."""
    permutation_id = entry["permutation_id"]
    phases: list[Phase] = list(pipeline.PHASES)
    total = len(phases)
    started = time.monotonic()
    is_sqlite = layout.artifact_is_sqlite()
    error_log = layout.log_file(stage, permutation_id, "error")
    where = "setup"
    with BuildLogs(stage, permutation_id) as log:
        conn = sqlite3.connect(layout.progress_file(stage, permutation_id), isolation_level=None)
        try:
            log.info(f"build {permutation_id} ({entry['label']}): {total} phases in {stage}")
            log.debug(f"lock {lock.path} taken")
            progress.ensure_table(conn)
            completed = progress.completed_phases(conn)
            _check_progress_matches(completed, phases)
            context = BuildContext(
                permutation_id=permutation_id,
                input_id=entry[axes.INPUT_KEY],
                param_name=entry[axes.PARAM_KEY],
                params=dict(pipeline.PARAM_REGISTRY[entry[axes.PARAM_KEY]]),
                staging_dir=stage,
                artifact_path=stage / layout.artifact_name(permutation_id),
                log=log,
                connection=conn if is_sqlite else None,
            )
            record = provenance.Recorder(entry)
            for number, phase in enumerate(phases, 1):
                where = f"phase {number}/{total} {phase.__name__}"
                if number <= len(completed):
                    log.info(
                        f"{where}: skipped, completed at {completed[number - 1][2]}", extra=PROGRESS
                    )
                    record.resumed(number, phase.__name__, completed[number - 1][2])
                    continue
                lock.note(phase=f"[{number}/{total}] {phase.__name__}")
                with record.timing(number, phase.__name__):
                    _run_phase(phase, where, number, context, conn)
            where = "finishing"
            lock.note(phase=f"[{total}/{total}] finishing")
            _finish(conn, context.artifact_path, final, log, record)
        except KeyboardInterrupt as stop:
            outcome = _interrupted(permutation_id, stop, f"in {where}", error_log)
            lock.note(error=outcome.message)
            log.error(f"{outcome.message}; staging kept, rerun to resume: {stage}")
            return outcome
        except Exception as error:
            user_error = isinstance(error, UsageError)  # a known cause: no type, no traceback
            message = str(error) if user_error else f"{type(error).__name__}: {error}"
            lock.note(error=message[:500])
            log.error(f"{where} failed: {message}", exc_info=None if user_error else error)
            return Outcome(
                permutation_id, "failed", f"{where} failed: {message}", FAILED, error_log
            )
        finally:
            conn.close()
        log.info(f"built {final} in {time.monotonic() - started:.2f}s", extra=PROGRESS)
    staging.discard(stage)
    return Outcome(permutation_id, "built", f"built {final}")


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
            conn.execute("BEGIN IMMEDIATE")
        summary = phase(context)
        if sqlite and not conn.in_transaction:
            raise RuntimeError("the phase committed on its own; let the builder commit each phase")
        progress.record_phase(conn, number, phase.__name__)
        if sqlite:
            conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    elapsed = time.monotonic() - started
    done = f"{where}: done in {elapsed:.2f}s" + (f" ({summary})" if summary else "")
    log.info(done, extra=PROGRESS)


def _finish(
    conn: sqlite3.Connection,
    artifact: Path,
    final: Path,
    log: logging.Logger,
    record: provenance.Recorder,
) -> None:
    """Make the staged artifact final: progress gone, provenance in, bytes on disk, one rename."""
    is_sqlite = layout.artifact_is_sqlite()
    if is_sqlite:
        progress.drop_table(conn)
        provenance.write_table(conn, record.finished())
        conn.execute("PRAGMA journal_mode=DELETE")  # a single file, whatever the phases chose
        conn.execute("VACUUM")
    conn.close()
    if not artifact.is_file():
        raise RuntimeError(f"the last phase did not write the artifact {artifact}")
    log.debug(f"fsync {artifact}, then rename it to {final}")
    _fsync(artifact)
    if not is_sqlite:  # the sidecar goes first, so a visible artifact always has its provenance
        sidecar = provenance.write_sidecar(artifact, record.finished())
        os.replace(sidecar, layout.sidecar_path(final))
    os.replace(artifact, final)
    _fsync(final.parent)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
        elif outcome.result != "built":
            where = f" (log: {outcome.error_log})" if outcome.error_log else ""
            print(f"error: {outcome.permutation_id} {outcome.message}{where}", file=sys.stderr)
    if len(outcomes) > 1:
        print(f"summary: {overall.counts_text(counts)} in {shown.elapsed()}", file=sys.stderr)
    interrupted = [outcome.code for outcome in outcomes if outcome.result == "interrupted"]
    if interrupted:
        return interrupted[0]
    if counts["failed"]:
        return FAILED
    return BUSY if counts["busy"] else 0
