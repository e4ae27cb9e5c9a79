"""Why a build failed: the one reason model, what the builder records, what a reader may learn.

A stopped build's lock record (``staging``) holds its ``error`` and, beside it, its ``reason``: a
kind, then for some kinds a detail.

    exception TYPE   a phase raised (``exception ValueError``)
    exit CODE        a phase called ``sys.exit`` (``exit 3``)
    signal NAME      SIGTERM, SIGINT, SIGHUP or SIGQUIT stopped it (``signal SIGTERM``; under
                     SLURM the job's state follows when it is none of the three below:
                     ``signal SIGTERM (CANCELLED)``); a KeyboardInterrupt that a phase raised
                     itself, with no signal, is ``exception KeyboardInterrupt``
    oom              out of memory: ``MemoryError`` in a phase, or SLURM's OUT_OF_MEMORY
    no_space         the disk was full (ENOSPC, a quota, SQLite's "database or disk is full")
    input_changed    an input file changed while the permutation was built (``InputChanged``)
    timeout          SLURM's TIMEOUT: the job ran past its ``--time``
    node_fail        SLURM's NODE_FAIL: the node died under the job
    killed           nothing recorded: SIGKILL, the kernel's OOM killer, a lost node

Under SLURM the builder records its job (``slurm_job``, as ``squeue`` names it: ``123_4`` for an
array task) when it takes the lock, and on SIGTERM asks ``scontrol`` the job's state: a time limit
reads COMPLETING, with the reason TimeLimit, by then. A build killed outright records nothing
itself; what survives it does, in-band, from the memory cgroup it shares with the build (which
counts OOM kills, ``oom_kills``): an array task's wrapper (``task_end``), a ``--jobs`` pool whose
worker died. So ``oom`` stays known after SLURM forgets the job (without accounting, MinJobAge,
300 s). Else a reader that is asked to (``show``, ``plan --retry-scale``) learns the job's
final state from SLURM, in one call for all the jobs (``learn``), and a retry says what nobody
knows.

Which failures a retry takes, and with what: ``RETRIED``.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from . import interrupts

EXCEPTION, EXIT, SIGNAL, OOM, NO_SPACE, INPUT_CHANGED, TIMEOUT, NODE_FAIL, KILLED = (
    "exception",
    "exit",
    "signal",
    "oom",
    "no_space",
    "input_changed",
    "timeout",
    "node_fail",
    "killed",
)
# SQLite's result code for "database or disk is full".
_SQLITE_FULL = 13

# SLURM job states that say more than the builder saw, and the reason each one is.
SLURM_STATES = {"OUT_OF_MEMORY": OOM, "TIMEOUT": TIMEOUT, "NODE_FAIL": NODE_FAIL}
# When SIGTERM reaches a task, its job still reads COMPLETING; scontrol's Reason says which end
# it is coming to (seen on SLURM 22.05: JobState=COMPLETING Reason=TimeLimit, TIMEOUT after).
ENDING = {"TimeLimit": "TIMEOUT", "OutOfMemory": "OUT_OF_MEMORY", "NodeDown": "NODE_FAIL"}
# The lock record's keys for the reason and the SLURM job.
REASON_KEY, JOB_KEY = "reason", "slurm_job"
# How long a reader or a stopping build waits for SLURM's answer (SIGKILL follows SIGTERM after
# the cluster's KillWait, 30 s by default).
SLURM_SECONDS = 10


class InputChanged(Exception):
    """An input file changed between the start of a build and its finish: the artifact would mix
    both, so it is not published."""


def kind_of(reason: str) -> str:
    """The kind of a reason: ``exception ValueError`` -> ``exception``."""
    return reason.split(" ", 1)[0]


def of_error(error: BaseException) -> str:
    """The reason of what a phase raised: ``oom`` for MemoryError, ``no_space`` for a full disk,
    ``exit CODE``, or its type."""
    if isinstance(error, MemoryError):
        return OOM
    if is_no_space(error):
        return NO_SPACE
    if isinstance(error, InputChanged):
        return INPUT_CHANGED
    if isinstance(error, SystemExit):  # sys.exit("text") exits 1, sys.exit() 0
        code = error.code if isinstance(error.code, int) else int(error.code is not None)
        return f"{EXIT} {code}"
    return f"{EXCEPTION} {type(error).__name__}"


def is_no_space(error: BaseException) -> bool:
    """A full disk or quota, as the OS or SQLite (whose module this one does not import) says."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    code = getattr(error, "sqlite_errorcode", None)  # Python 3.11+
    full = type(error).__module__ == "sqlite3" and "database or disk is full" in str(error)
    return code == _SQLITE_FULL or full


def of_stop(stop: KeyboardInterrupt) -> str:
    """The reason of a stop: the signal, or under SLURM what the job's state says it was."""
    reason = f"{SIGNAL} {interrupts.signal_name(stop)}"
    job = this_job()
    if job is None or not isinstance(stop, interrupts.Terminated):
        return reason
    return with_state(reason, job_states([job]).get(job))


def with_state(reason: str, state: str | None) -> str:
    """A recorded reason, given the SLURM job's state: the state's reason if it has one."""
    if state is None or state in ("RUNNING", "COMPLETING", "COMPLETED", "FAILED", "PENDING"):
        return reason
    return SLURM_STATES.get(state, f"{reason} ({state})")


def recorded(record: Mapping[str, str]) -> str:
    """A stopped build's reason, from its lock record (a record from before reasons: exception)."""
    if "error" not in record:
        return KILLED
    return record.get(REASON_KEY, EXCEPTION)


def this_job() -> str | None:
    """This process's SLURM job as squeue names it (``123_4`` in an array), or None outside."""
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array and task:
        return f"{array}_{task}"
    return os.environ.get("SLURM_JOB_ID") or None


def job_states(jobs: Iterable[str]) -> dict[str, str]:
    """SLURM's state of each job (``123_4`` or ``125``) that it still knows, in one call.

    Accounting (``sacct``) keeps every job; without it, ``scontrol`` knows the jobs that ended in
    the last MinJobAge seconds (300 by default). A job neither knows is left out.
    """
    wanted = set(jobs)
    if not wanted:
        return {}
    # One job (a stopping build's own) is asked by its id; many by their arrays, or all at once.
    one = sorted(wanted) if len(wanted) == 1 else []
    arrays = one or sorted({job.split("_", 1)[0] for job in wanted})
    accounted = slurm_output("sacct", "-n", "-P", "-X", "-o", "JobID,State", "-j", ",".join(arrays))
    states = dict(_sacct_line(line) for line in accounted.splitlines() if "|" in line)
    if not states:
        listed = slurm_output("scontrol", "show", "job", "-o", *one)
        states = dict(_scontrol_line(line) for line in listed.splitlines() if "JobState=" in line)
    return {job: states[job] for job in wanted if job in states}


def slurm_output(*command: str) -> str:
    """A SLURM command's output, or nothing if it is absent, fails or takes too long.

    Only a stopping build and a reader asked to learn run one: the manifest, which reads reasons,
    never imports subprocess.
    """
    import shutil
    import subprocess

    if shutil.which(command[0]) is None:
        return ""
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=SLURM_SECONDS, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout if done.returncode == 0 else ""


def _sacct_line(line: str) -> tuple[str, str]:
    job, state = line.split("|", 1)
    return job, state.split(" ", 1)[0]  # "CANCELLED by 0" -> CANCELLED


def _scontrol_line(line: str) -> tuple[str, str]:
    fields = dict(field.partition("=")[::2] for field in line.split())
    task = fields.get("ArrayTaskId")
    job = f"{fields['ArrayJobId']}_{task}" if task and "ArrayJobId" in fields else fields["JobId"]
    state = fields["JobState"]
    return job, ENDING.get(fields.get("Reason", ""), state) if state == "COMPLETING" else state


# Where cgroup v1's memory controller is mounted, and where cgroup v2 may be (alone, or beside v1).
_CGROUP_V1 = Path("/sys/fs/cgroup/memory")
_CGROUP_V2 = (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified"))


def oom_kills(proc_cgroup: Path = Path("/proc/self/cgroup")) -> int | None:
    """The OOM kills counted in this process's memory cgroup and those above it, up to the
    SLURM job's (``job_N``) where there is one; None where no count can be read.

    A process the OOM killer ended (a build) shared that cgroup with what outlived it (the array
    task's wrapper, a pool's builder), which reads the count once the build is gone.
    """
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            counted = _count(_CGROUP_V1, path, "memory.oom_control")
        elif controllers == "":
            roots = [root for root in _CGROUP_V2 if (root / "cgroup.controllers").exists()]
            counted = _count(roots[0], path, "memory.events") if roots else None
        else:
            continue
        if counted is not None:
            return counted
    return None


def _count(root: Path, path: str, name: str) -> int | None:
    """The ``oom_kill`` counts of the cgroup at ``path`` and its ancestors up to a ``job_*`` one
    (only its own where there is none); None if none of them has the file."""
    parts = [part for part in path.split("/") if part]
    jobs = [i for i, part in enumerate(parts) if part.startswith("job_")]
    top = jobs[-1] + 1 if jobs else len(parts)
    total: int | None = None
    for depth in range(len(parts), top - 1, -1):
        try:
            text = (root.joinpath(*parts[:depth]) / name).read_text()
        except OSError:
            continue
        fields = dict(line.split(" ", 1) for line in text.splitlines() if " " in line)
        if "oom_kill" in fields:
            total = (total or 0) + int(fields["oom_kill"])
    return total


def learn(entries: Iterable[dict[str, object]]) -> None:
    """Give the stopped builds that SLURM saw end the reason their job's final state says.

    Only a build killed outright or stopped by a signal can have a reason it could not record (an
    OOM kill, a time limit past the builder's notice); their jobs are asked in one call.
    """
    jobs = {
        str(entry[JOB_KEY]): entry
        for entry in entries
        if JOB_KEY in entry and kind_of(str(entry["reason"])) in (KILLED, SIGNAL)
    }
    for job, state in job_states(jobs).items():
        entry = jobs[job]
        entry["reason"] = with_state(str(entry["reason"]), state)
