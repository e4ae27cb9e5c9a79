"""Building permutations: each in its staging dir, phase by phase, then moved into place atomically.

Lifecycle of one permutation, or gather (``build_permutation``; ``targets`` says what differs):
1. take the staging dir's lock (a live builder elsewhere means: report it and leave);
2. resume after the phases its progress store records, if the stage was begun from today's inputs
   and registry entry (else start over, saying why) and from the first completed phase whose code
   or libraries changed (saying which), or start afresh with ``--force``;
3. run each remaining phase, noting the code it runs (``tracing``); for SQLite artifacts the
   phase's work and its progress rows commit in one transaction, so a phase killed half-way leaves
   nothing a resumed build would trust;
4. on success, once the stage holds no link and the inputs are as they were when it was begun,
   let the artifact's kind (``kinds``) make the final artifact from the untouched staged one,
   note its inode in the lock and move it into place (a stop right after the move leaves it DONE),
   then delete the staging dir; on failure or interruption (at any point, finishing included)
   keep it, with the partial artifact, its progress, the three logs and the lock's record of where
   and why it stopped (on a full disk, only if it holds completed phases);
5. whatever the end, end what the phases left running (``leftovers``) before the lock is let go.
The stage never holds a symbolic link the builder would write through, and lies on the output
folder's file system (the final move must be one atomic rename).
Only ``build`` imports this module: the info subcommands never pay for logging or sqlite3.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from .. import axes, failures, interrupts, layout, scheduler, status, tracing
from ..atomic import atomic_publish
from ..ids import UsageError
from ..manifest import measured
from ..manifest.entries import Entry
from ..manifest.history import Estimator
from ..manifest.listing import not_an_artifact
from ..manifest.provenance_cache import canonical
from ..manifest.recorded import Document, MissingProvenance
from ..manifest.stages import read_stage
from ..manifest.stale import Today
from . import leftovers, measure, overall, progress, provenance, staging, targets
from .context import BuildContext, cpus_per_build
from .kinds import KIND
from .logs import PROGRESS, BuildLogs
from .outcome import BUSY, FAILED, Outcome, report

Phase = Callable[[BuildContext], "str | None"]


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
    """Build one permutation (or gather) under its lock; a failing phase is reported, never
    raised."""
    started = time.monotonic()
    outcome = _build_locked(targets.of(entry, output_dir), force)
    outcome.seconds = time.monotonic() - started
    return outcome


def _build_locked(target: targets.Target, force: bool) -> Outcome:
    permutation_id, output_dir = target.permutation_id, target.output_dir
    stage = layout.staging_dir(output_dir, permutation_id)
    final = layout.artifact_path(output_dir, permutation_id)
    lock = staging.BuildLock(stage, permutation_id)
    before = read_stage(output_dir, permutation_id) if stage.is_dir() else None
    children = leftovers.Watch()
    try:
        if target.target is not None:  # _gathers/ is the builder's own, as _build is
            layout.refuse_link(output_dir)
        staging.refuse_links(stage, permutation_id, force=force)
        stray = not_an_artifact(final)
        if stray is not None:  # no build could move its artifact there
            raise layout.UnsafeStage(stray)
        if not lock.acquire():
            return Outcome(permutation_id, "busy", lock.refusal(), BUSY)
        job = failures.this_job()
        if job is not None:  # a killed build's reader may learn its fate from SLURM
            lock.note(**{failures.JOB_KEY: job})
        engine = scheduler.describe()
        if engine is not None:  # what its engine gave it, for a reader of an OOM or a timeout
            lock.note(**{measured.ENGINE: json.dumps(engine, separators=(",", ":"))})
        now = _stage_under_lock(stage, lock, before)
        previous = {} if now is None else now.record
        if measured.stopped(previous):  # this build follows one that stopped
            lock.note(**{measured.ATTEMPT: str(measured.attempt_of(previous) + 1)})
        state, _ = status.classify(final.exists(), now, len(target.phases))
        if state == status.DONE and not force:  # a stage left, if any, holds nothing to keep
            staging.discard(stage)
            return Outcome(permutation_id, "skipped", f"is done: {final} (--force rebuilds it)")
        if force:
            staging.clear(stage, keep=[lock.path])
        staging.check_same_file_system(stage, output_dir)
        return _build_staged(target, stage, final, lock, previous)
    except layout.UnsafeStage as problem:
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


def _build_staged(
    target: targets.Target,
    stage: Path,
    final: Path,
    lock: staging.BuildLock,
    previous: dict[str, str],
) -> Outcome:
    """Run the phases not yet recorded, then finish; the logs and the lock say how it went, and
    what it measured (``previous``: the record of a stopped build this one follows)."""
    entry, permutation_id = target.entry, target.permutation_id
    phases: list[Phase] = target.phases
    total = len(phases)
    started = time.monotonic()
    error_log = layout.log_file(stage, permutation_id, "error")
    where = "setup"
    meter = measure.Meter()

    def note_peak(peak: int) -> None:
        lock.note(**{measured.PEAK: str(peak)})

    held = 0  # completed phases in the stage: worth keeping it for
    stopped: Outcome | None = None
    with BuildLogs(stage, permutation_id) as log, measure.sampling(meter, note_peak):
        conn = sqlite3.connect(KIND.progress_file(stage, permutation_id), isolation_level=None)
        try:
            log.info(f"build {permutation_id} ({entry['label']}): {total} phases in {stage}")
            log.debug(f"lock {lock.path} taken")
            today = Today()
            conn, begun = _begin(target, today, stage, lock, conn, log)
            completed = _still_standing(target, today, progress.completed_phases(conn), conn, log)
            _check_progress_matches(completed, phases)
            held = len(completed)
            context = BuildContext(
                permutation_id=permutation_id,
                input_id=entry[axes.INPUT_KEY] or "",  # a gather over all has neither
                param_name=entry[axes.PARAM_KEY] or "",
                params=target.params,
                staging_dir=stage,
                artifact_path=layout.staged_artifact(stage, permutation_id),
                log=log,
                connection=conn if KIND.holds_progress else None,
                cpus=cpus_per_build(),
                members=target.members,
            )
            record = provenance.Recorder(target.identity, begun, meter, previous)
            noting = _Noting(target, track_libraries=today.ignored is not None)
            for number, phase in enumerate(phases, 1):
                where = f"phase {number}/{total} {phase.__name__}"
                if number <= len(completed):
                    _, _, completed_at, ran = completed[number - 1]
                    log.info(f"{where}: skipped, completed at {completed_at}", extra=PROGRESS)
                    record.resumed(number, phase.__name__, completed_at, ran or {})
                    continue
                lock.note(phase=f"[{number}/{total}] {phase.__name__}")
                with record.timing(number, phase.__name__), RecordedExits(lock, log, where):
                    record.noted(_run_phase(phase, where, number, context, conn, noting))
                lock.note(**{measured.MEASURED: meter.record()})
                held = number
            where = status.FINISHING
            staging.refuse_links(stage, permutation_id, force=False)  # none made by a phase
            _check_inputs_unchanged(target, begun)
            lock.note(phase=f"[{total}/{total}] {status.FINISHING}")
            log.debug(f"finish {context.artifact_path} into {final}")
            ready = KIND.prepare(conn, context.artifact_path, final, record.finished())
            lock.note(**{status.MOVING: f"{os.stat(ready).st_ino} {final}"})
            atomic_publish(final, ready)  # a kill from now on leaves it DONE (manifest/stages)
            lock.note(phase=f"[{total}/{total}] {status.PUBLISHED}")
        except BaseException as error:  # SystemExit too: a phase that exits has failed
            lock.note(**{measured.MEASURED: meter.record(where)})  # how far it got, either way
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


def _check_inputs_unchanged(target: targets.Target, begun: Document) -> None:
    """The inputs are as they were when the stage was begun, or the artifact would mix both:
    fingerprinted again before anything is published."""
    changed = target.changed_inputs(begun)
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
    target: targets.Target,
    today: Today,
    stage: Path,
    lock: staging.BuildLock,
    conn: sqlite3.Connection,
    log: logging.Logger,
) -> tuple[sqlite3.Connection, Document]:
    """The stage's progress store and what it was begun from; started over if that changed.

    Completed phases are trusted only if they were built from today's inputs and registry entry:
    a resume after either changed would mix old and new in one artifact. (Their code is judged
    phase by phase: ``_still_standing``.)
    """
    permutation_id = target.permutation_id
    progress.ensure_tables(conn)
    then = progress.begun(conn)
    completed = progress.completed_phases(conn)
    committed = progress.committed_on_its_own(conn)
    if committed is not None:
        names = [phase.__name__ for phase in target.phases]
        name = names[committed - 1] if 0 < committed <= len(names) else "?"
        where = f"phase {committed}/{len(names)} {name}"
        _starting_over(permutation_id, f"the stage holds writes {where} committed on its own", log)
    elif then is not None and all(ran is not None for *_, ran in completed):
        try:
            why = target.source_reasons(today, then)
        except MissingProvenance as malformed:
            why = (str(malformed),)
        if not why:
            return conn, then
        inputs = "; ".join(why)
        _starting_over(
            permutation_id, f"staged phases were built from other inputs ({inputs})", log
        )
    elif completed:
        log.info("staged phases record nothing of what they ran: starting over")
    else:
        return conn, _record_begun(target, conn)
    conn.close()
    logs = [layout.log_file(stage, permutation_id, level) for level in layout.LOG_LEVELS]
    staging.clear(stage, keep=[lock.path, *logs])
    conn = sqlite3.connect(KIND.progress_file(stage, permutation_id), isolation_level=None)
    progress.ensure_tables(conn)
    return conn, _record_begun(target, conn)


def _starting_over(permutation_id: str, why: str, log: logging.Logger) -> None:
    """Say on stderr and in the info log why a stage's completed phases are not resumed."""
    message = f"{why}: starting over"
    log.info(message)
    print(f"{permutation_id}: {message}", file=sys.stderr)


def _record_begun(target: targets.Target, conn: sqlite3.Connection) -> Document:
    begun = target.begin()
    progress.record_begun(conn, begun)
    return begun


def _still_standing(
    target: targets.Target,
    today: Today,
    completed: list[progress.Completed],
    conn: sqlite3.Connection,
    log: logging.Logger,
) -> list[progress.Completed]:
    """The completed phases up to the first whose code or libraries changed since it ran; that
    one and those after it are forgotten, to run again over what the stage holds."""
    for number, name, _, ran in completed:
        ran = ran or {}
        why = today.code_reasons(canonical(ran.get("code", {}))) + today.library_reasons(
            canonical(ran.get("libraries", {}))
        )
        if why:
            message = (
                f"phase {number}/{len(target.phases)} {name} ran other code ({'; '.join(why)}):"
                " running again from it"
            )
            log.info(message)
            print(f"{target.permutation_id}: {message}", file=sys.stderr)
            progress.forget_from(conn, number)
            return completed[: number - 1]
    return completed


def _check_progress_matches(completed: list[progress.Completed], phases: list[Phase]) -> None:
    """Refuse to resume a build whose recorded phases are not the pipeline's current ones."""
    recorded = [name for _, name, _, _ in completed]
    current = [phase.__name__ for phase in phases]
    if recorded != current[: len(recorded)]:
        raise UsageError(
            f"staged progress records phases {recorded} but the pipeline now has {current};"
            " rerun with --force to start this permutation afresh"
        )


class _Noting:
    """What a phase ran: noted from its start (``tracing.reset``) to its end (``take``)."""

    def __init__(self, target: targets.Target, *, track_libraries: bool) -> None:
        self.target = target
        self.track_libraries = track_libraries

    def start(self) -> None:
        tracing.reset()

    def take(self, phase: Phase) -> tracing.Record:
        return tracing.collect(self.target.also, [phase], track_libraries=self.track_libraries)


def _run_phase(
    phase: Phase,
    where: str,
    number: int,
    context: BuildContext,
    conn: sqlite3.Connection,
    noting: _Noting,
) -> tracing.Record:
    """Run one phase and record it with what it ran; for SQLite, both inside one transaction that
    commits or not."""
    log = context.log
    log.info(f"{where}: started", extra=PROGRESS)
    started = time.monotonic()
    sqlite = context.connection is not None
    try:
        if sqlite:
            conn.set_progress_handler(_listen_for_stops, 10_000)
            conn.execute("BEGIN IMMEDIATE")
            progress.open_phase(conn, number)  # kept only if the phase commits: see progress
        noting.start()
        summary = phase(context)
        ran = noting.take(phase)
        if sqlite and not conn.in_transaction:
            raise RuntimeError(
                "the phase committed on its own (executescript and commit() do); let the builder"
                " commit each phase: the next build starts this permutation over"
            )
        progress.record_phase(conn, number, phase.__name__, ran)
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
    return ran


def _listen_for_stops() -> int:
    """Called by SQLite during a long statement: a pending SIGTERM is raised here and aborts it."""
    return 0


def build_all(
    entries: list[Entry],
    output_dir: Path,
    *,
    force: bool = False,
    verbosity: overall.Verbosity = "normal",
    learned: Estimator | None = None,
    forced: frozenset[str] = frozenset(),
) -> int:
    """Build each entry in order (those whose id is ``forced`` as with ``force``), go on past
    failures, report them all; return the exit code. ``learned``: what earlier builds measured,
    for the ETA."""
    prepare_output_folder(output_dir)
    outcomes: list[Outcome] = []
    with overall.Progress(entries, verbosity=verbosity, learned=learned) as shown:
        for entry in entries:
            again = force or entry["permutation_id"] in forced
            outcomes.append(build_permutation(entry, output_dir, force=again))
            shown.finished(outcomes[-1])
            if outcomes[-1].result == "interrupted":
                break
    return report(outcomes, quiet=shown.quiet, elapsed=shown.elapsed())
