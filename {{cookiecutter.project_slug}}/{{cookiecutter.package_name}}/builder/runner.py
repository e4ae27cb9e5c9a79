"""Building permutations: each in its staging dir, phase by phase, then moved into place atomically.

Lifecycle of one permutation (``build_permutation``):
1. take the staging dir's lock (a live builder elsewhere means: report it and leave);
2. resume after the phases its ``_build_progress`` records, or start afresh with ``--force``;
3. run each remaining phase; for SQLite artifacts the phase's work and its progress row commit in
   one transaction, so a phase killed half-way leaves nothing a resumed build would trust;
4. on success drop the progress table, VACUUM, fsync, ``os.replace`` into the output folder, and
   delete the staging dir; on failure keep it, with the partial artifact and the three logs.
Only ``build`` imports this module: the info subcommands never pay for logging or sqlite3.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from .. import pipeline
from . import axes, progress, staging
from .context import BuildContext
from .ids import UsageError
from .logs import BuildLogs
from .manifest import Entry

Phase = Callable[[BuildContext], "str | None"]


class Terminated(BaseException):
    """SIGTERM (a scheduler's cancel or time limit), raised like Ctrl-C so cleanup runs the same."""


class PhaseError(Exception):
    """A phase failed; carries where, so the one-line report can say it."""

    def __init__(self, where: str, cause: BaseException) -> None:
        super().__init__(f"{where} failed: {type(cause).__name__}: {cause}")


@dataclass
class Outcome:
    permutation_id: str
    result: str  # built | skipped | busy | failed | interrupted
    message: str
    error_log: Path | None = None
    seconds: float = 0.0


def raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


def prepare_output_folder(output_dir: Path) -> None:
    """Create the output folder or say in one line why it cannot be used."""
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        staging.staging_root(output_dir).mkdir(exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UsageError(
            f"output folder '{output_dir}' is a file or lies under one; give a folder"
        ) from None
    except OSError as error:
        raise UsageError(
            f"cannot write to output folder '{output_dir}': {error.strerror}"
        ) from None


def build_permutation(entry: Entry, output_dir: Path, *, force: bool = False) -> Outcome:
    """Build one permutation under its lock; never raises for a failing phase, only reports it."""
    permutation_id = entry["permutation_id"]
    stage = staging.staging_dir(output_dir, permutation_id)
    final = output_dir / staging.artifact_name(permutation_id)
    lock = staging.BuildLock(stage, permutation_id)
    if not lock.acquire():
        return Outcome(permutation_id, "busy", f"is being built by {lock.holder()}")
    try:
        if final.exists() and not force:
            _remove_if_only_lock(stage, lock.path)
            return Outcome(permutation_id, "skipped", f"is done: {final}")
        if force:
            _clear_stage(stage, keep=lock.path)
        return _run_phases(entry, stage, final)
    finally:
        lock.release()


def _remove_if_only_lock(stage: Path, lock_path: Path) -> None:
    """Drop a staging dir that we created just to hold the lock; keep one with a failure in it."""
    if [p.name for p in stage.iterdir()] == [lock_path.name]:
        shutil.rmtree(stage, ignore_errors=True)


def _clear_stage(stage: Path, *, keep: Path) -> None:
    """``--force``: forget a stale partial build (but not the lock we hold)."""
    for path in stage.iterdir():
        if path != keep:
            shutil.rmtree(path) if path.is_dir() else path.unlink()


def _run_phases(entry: Entry, stage: Path, final: Path) -> Outcome:
    permutation_id = entry["permutation_id"]
    phases: list[Phase] = list(pipeline.PHASES)
    total = len(phases)
    started = time.monotonic()
    is_sqlite = staging.artifact_is_sqlite()
    error_log = staging.log_file(stage, permutation_id, "error")
    with BuildLogs(stage, permutation_id) as log:
        conn = sqlite3.connect(staging.progress_file(stage, permutation_id), isolation_level=None)
        try:
            progress.ensure_table(conn)
            completed = progress.completed_phases(conn)
            _check_progress_matches(completed, phases)
            context = BuildContext(
                permutation_id=permutation_id,
                input_id=entry[axes.INPUT_KEY],
                param_name=entry[axes.PARAM_KEY],
                params=dict(pipeline.PARAM_REGISTRY[entry[axes.PARAM_KEY]]),
                staging_dir=stage,
                artifact_path=stage / staging.artifact_name(permutation_id),
                log=log,
                connection=conn if is_sqlite else None,
            )
            log.info(f"build {permutation_id} ({entry['label']}): {total} phases in {stage}")
            for number, phase in enumerate(phases, 1):
                where = f"phase {number}/{total} {phase.__name__}"
                if number <= len(completed):
                    log.info(f"{where}: skipped, completed at {completed[number - 1][2]}")
                    continue
                _run_phase(phase, number, where, context, conn, is_sqlite)
            _finish(conn, context.artifact_path, final, is_sqlite)
        except (KeyboardInterrupt, Terminated) as stop:
            signal_name = "SIGTERM" if isinstance(stop, Terminated) else "SIGINT"
            log.error(f"interrupted by {signal_name}; staging kept for a resume: {stage}")
            return Outcome(
                permutation_id, "interrupted", f"interrupted by {signal_name}", error_log
            )
        except Exception as error:
            log.error(str(error), exc_info=not isinstance(error, UsageError))
            message = str(error)
            return Outcome(permutation_id, "failed", message, error_log, time.monotonic() - started)
        finally:
            conn.close()
        log.info(f"built {final} in {time.monotonic() - started:.2f}s")
    shutil.rmtree(stage, ignore_errors=True)
    return Outcome(permutation_id, "built", f"built {final}", None, time.monotonic() - started)


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
    phase: Phase,
    number: int,
    where: str,
    context: BuildContext,
    conn: sqlite3.Connection,
    is_sqlite: bool,
) -> None:
    """Run one phase and record it; for SQLite, both inside one transaction that commits or not."""
    log = context.log
    log.info(f"{where}: started")
    started = time.monotonic()
    try:
        if is_sqlite:
            conn.execute("BEGIN IMMEDIATE")
        summary = phase(context)
        if is_sqlite and not conn.in_transaction:
            raise RuntimeError("the phase committed on its own; let the builder commit each phase")
        progress.record_phase(conn, number, phase.__name__)
        if is_sqlite:
            conn.execute("COMMIT")
    except Exception as error:
        _rollback(conn)
        raise PhaseError(where, error) from error
    except BaseException:
        _rollback(conn)
        raise
    elapsed = time.monotonic() - started
    log.info(f"{where}: done in {elapsed:.2f}s" + (f" ({summary})" if summary else ""))


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _finish(conn: sqlite3.Connection, artifact: Path, final: Path, is_sqlite: bool) -> None:
    """Make the staged artifact final: progress gone, bytes on disk, then one atomic rename."""
    if is_sqlite:
        progress.drop_table(conn)
        conn.execute("VACUUM")
    conn.close()
    if not artifact.is_file():
        raise RuntimeError(f"the last phase did not write the artifact {artifact}")
    _fsync(artifact)
    os.replace(artifact, final)
    _fsync(final.parent)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def build_all(entries: list[Entry], output_dir: Path, *, force: bool = False) -> int:
    """Build each entry in order, go on past failures, report them all; return the exit code."""
    prepare_output_folder(output_dir)
    signal.signal(signal.SIGTERM, raise_terminated)
    outcomes: list[Outcome] = []
    for entry in entries:
        outcome = build_permutation(entry, output_dir, force=force)
        outcomes.append(outcome)
        if outcome.result == "interrupted":
            break
    return report(outcomes)


def report(outcomes: list[Outcome]) -> int:
    """Summary on stderr (one line per problem, with its error log) and the exit code."""
    counts = {result: 0 for result in ("built", "skipped", "busy", "failed", "interrupted")}
    for outcome in outcomes:
        counts[outcome.result] += 1
        if outcome.result in ("busy", "failed", "interrupted"):
            where = f" (log: {outcome.error_log})" if outcome.error_log else ""
            print(f"error: {outcome.permutation_id} {outcome.message}{where}", file=sys.stderr)
        elif outcome.result == "skipped":
            print(
                f"{outcome.permutation_id} {outcome.message} (--force rebuilds it)", file=sys.stderr
            )
    if len(outcomes) > 1:
        summary = ", ".join(f"{n} {result}" for result, n in counts.items() if n)
        print(f"summary: {summary}", file=sys.stderr)
    if counts["interrupted"]:
        return 143 if any("SIGTERM" in o.message for o in outcomes) else 130
    if counts["failed"]:
        return 1
    return 3 if counts["busy"] else 0
