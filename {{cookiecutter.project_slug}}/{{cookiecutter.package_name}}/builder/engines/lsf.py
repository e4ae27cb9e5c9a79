"""``plan --lsf``: a bash file that submits LSF job arrays over plan files.

Validated by its documented syntax only: no LSF cluster runs in the tests. LSF numbers array
elements from 1 in ``LSB_JOBINDEX`` (``bsub -J "name[1-N]"``) and sets it to 0 in a job that is not
an array; the file turns it into the plan's 0-based task index. bsub runs a command with its
arguments (``/bin/bash FILE ARGS``), so LSF runs this very file, not a copy, from where it was
when submitted; it passes the submitter's environment, and ``-cwd`` starts the task in the
project root.

A group's resources become ``-n C -R "span[hosts=1]"`` (its cpus on one host), memory as both
``-R "rusage[mem=...]"`` (reserved for scheduling, per host: here the whole task) and ``-M``
(the limit LSF enforces), in MB with the unit written out (LSF 10.1.0.2 and later; older
versions read a bare number in ``LSF_UNIT_FOR_LIMITS``, KB by default), ``-W`` minutes for the
time (UNLIMITED asks for none), ``-q`` for the partition (several queues, as bsub takes them),
and ``-gpu "num=N"`` for GPUs.
"""

from __future__ import annotations

import math
import shlex
from typing import TYPE_CHECKING

from ... import settings
from .arrays import Engine, array_format
from .resources import Resources, minutes, time_limit, whole_mebibytes

if TYPE_CHECKING:
    from .submission import ArrayJob


def options(chosen: Resources) -> list[str]:
    """A group's resources as bsub options."""
    requirement = "span[hosts=1]"
    given = ["-n", str(chosen.cpus)]
    if chosen.mem is not None:
        mem = f"{whole_mebibytes(chosen.mem)}MB"
        requirement += f" rusage[mem={mem}]"
        given += ["-M", mem]
    given += ["-R", requirement]
    limit = time_limit(chosen.time)
    if limit is not None:
        given += ["-W", str(math.ceil(minutes(limit)))]
    if chosen.partition is not None:
        given += ["-q", chosen.partition.replace(",", " ")]
    if chosen.gpus is not None:
        given += ["-gpu", f"num={chosen.gpus}"]
    return given


def engine(job: ArrayJob) -> Engine:
    """LSF: ``bsub -J "name[1-N]"``, each task's index in ``LSB_JOBINDEX``, from 1."""
    limit = f"%{job.array_limit}" if job.array_limit else ""
    return Engine(
        name="LSF",
        submitter="bsub",
        task_variable="LSB_JOBINDEX",
        first_task=1,
        job_variable="LSB_JOBID",
        logs="_lsf",
        log_names="<job id>_<index>.out and .err",
        # '%J_%I' stays literal for bsub, which fills in the job id and the index.
        submit=(
            f'bsub -J "{settings.PACKAGE}[1-$3]{limit}" -cwd {shlex.quote(job.project_root)}'
            ' -o "$logs/%J_%I.out" -e "$logs/%J_%I.err"'
        ),
        options=options,
        script='/bin/bash "$(realpath "$0")"',
        plain_task="0",  # what LSF sets in a job that is not an array
        notes=("LSF runs this file itself, not a copy: keep it here until its arrays finish.",),
    )


# The bash file that submits LSF arrays building the entries.
format_lsf = array_format(engine)
