"""``plan --pbs``: a bash file that submits PBS Pro / OpenPBS job arrays over plan files.

Validated by its documented syntax only: no PBS server runs in the tests. PBS numbers subjobs as
asked (``qsub -J 0-(N-1)``, from 0 here) in ``PBS_ARRAY_INDEX``. A range needs X < Y, so an array
of one task is asked as ``-J 0-1:2``, whose one index is 0. ``qsub -- /bin/bash FILE ARGS``
because a PBS job script takes no arguments; so PBS runs this very file, not a copy, from where
it was when submitted. ``-V`` passes the environment, which PBS does not by default; a job starts
in the home folder, so a task goes to the project root first.

A group's resources become ``-l select=1:ncpus=C[:mem=Mmb][:ngpus=G]`` (one chunk: the task's
whole memory), ``-l walltime=H:MM:SS`` (UNLIMITED asks for none: the queue's), and ``-q`` for the
partition, which must be one queue: qsub takes one destination.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from ... import settings
from ..ids import UsageError
from .arrays import Engine, array_format
from .resources import Resources, clock, time_limit, whole_mebibytes

if TYPE_CHECKING:
    from .submission import ArrayJob


def options(chosen: Resources) -> list[str]:
    """A group's resources as qsub options."""
    chunk = f"select=1:ncpus={chosen.cpus}"
    if chosen.mem is not None:
        chunk += f":mem={whole_mebibytes(chosen.mem)}mb"
    if chosen.gpus is not None:
        chunk += f":ngpus={chosen.gpus}"
    given = ["-l", chunk]
    limit = time_limit(chosen.time)
    if limit is not None:
        given += ["-l", f"walltime={clock(limit)}"]
    if chosen.partition is not None:
        if "," in chosen.partition:
            raise UsageError(
                f"partition={chosen.partition}: PBS submits to one queue (-q); give one name"
            )
        given += ["-q", chosen.partition]
    return given


def engine(job: ArrayJob) -> Engine:
    """PBS Pro / OpenPBS: ``qsub -J 0-(N-1)``, each task's index in ``PBS_ARRAY_INDEX``."""
    limit = f"%{job.array_limit}" if job.array_limit else ""
    # One task: 0-1:2 (PBS refuses 0-0); more: 0-(N-1).
    last, step = "$(( $3 > 1 ? $3 - 1 : 1 ))", "$(( $3 > 1 ? 1 : 2 ))"
    # '^array_index^' stays literal for qsub, which fills in each subjob's index.
    logs = """"$logs/$(basename "$1" .plan).$2.^array_index^"""
    return Engine(
        name="PBS",
        submitter="qsub",
        task_variable="PBS_ARRAY_INDEX",
        first_task=0,
        job_variable="PBS_JOBID",
        logs="_pbs",
        log_names="<plan>.<offset>.<index>.out and .err",
        submit=(
            f'qsub -V -N {settings.PACKAGE} -J "0-{last}:{step}{limit}"'
            f' -o {logs}.out" -e {logs}.err"'
        ),
        options=options,
        script='-- /bin/bash "$(realpath "$0")"',
        task_setup=f"cd {shlex.quote(job.project_root)}  # PBS starts a job in the home folder",
        notes=("PBS runs this file itself, not a copy: keep it here until its arrays finish.",),
    )


# The bash file that submits PBS arrays building the entries.
format_pbs = array_format(engine)
