"""``plan --sge``: a bash file that submits Grid Engine array jobs over plan files.

Grid Engine (SGE, Son of Grid Engine, Altair) numbers array tasks from 1 in ``SGE_TASK_ID``
(``qsub -t 1-N``); the file turns that into the plan's 0-based task index. ``-S /bin/bash``
because a queue may start scripts with its own shell whatever their ``#!`` line says; ``-V``
because, unlike SLURM, qsub passes no environment by default (the task needs any variable naming
another pipeline). A queue that starts bash as a login shell resets PATH even so, so a task puts
the submitter's PATH (``SGE_O_PATH``) first again.

A group's resources become qsub options:

- time: ``-l h_rt=H:MM:SS``, the hard wall-clock limit (UNLIMITED asks for none: the queue's);
- memory: ``-l h_vmem=`` the task's memory divided by its cpus, because Grid Engine counts
  h_vmem per slot and multiplies it by the slots. h_vmem rather than mem_free: it is the limit
  Grid Engine enforces (a task past it is killed, as SLURM kills one past ``--mem``), where
  mem_free only steers scheduling and is a consumable only where a site made it one;
- cpus: ``-pe NAME C`` in the parallel environment given with ``--parallel-environment`` (its
  name is a site's choice; ``qconf -spl`` lists them), refused without one when cpus > 1;
- partition: ``-q``, the queue (a list of queues joined by commas, as qsub takes);
- GPUs: ``-l gpu=N``, the complex most sites and Altair Grid Engine name ``gpu``; a cluster
  without it refuses the submission, naming the complex.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Callable
from typing import TYPE_CHECKING

from ... import settings
from ..ids import UsageError
from .arrays import Engine, array_format
from .resources import Resources, clock, mebibytes, time_limit

if TYPE_CHECKING:
    from .submission import ArrayJob


def options_of(job: ArrayJob) -> Callable[[Resources], list[str]]:
    """A group's resources as qsub options, in the parallel environment the job names."""

    def options(chosen: Resources) -> list[str]:
        given = []
        if chosen.cpus > 1:
            if job.parallel_environment is None:
                raise UsageError(
                    f"cpus={chosen.cpus}: Grid Engine gives a task more than one cpu in a parallel"
                    " environment; name one with --parallel-environment (`qconf -spl` lists them)"
                )
            given += ["-pe", job.parallel_environment, str(chosen.cpus)]
        limit = time_limit(chosen.time)
        if limit is not None:
            given += ["-l", f"h_rt={clock(limit)}"]
        if chosen.mem is not None:
            given += ["-l", f"h_vmem={math.ceil(mebibytes(chosen.mem) / chosen.cpus)}M"]
        if chosen.partition is not None:
            given += ["-q", chosen.partition]
        if chosen.gpus is not None:
            given += ["-l", f"gpu={chosen.gpus}"]
        return given

    return options


def engine(job: ArrayJob) -> Engine:
    """Grid Engine: ``qsub -t 1-N``, each task's index in ``SGE_TASK_ID``, from 1."""
    limit = f" -tc {job.array_limit}" if job.array_limit else ""
    return Engine(
        name="Grid Engine",
        submitter="qsub",
        task_variable="SGE_TASK_ID",
        first_task=1,
        job_variable="JOB_ID",
        logs="_sge",
        log_names="<job id>.<task id>.out and .err",
        plain_task="undefined",  # what Grid Engine sets in a job that is not an array
        task_setup='PATH="${SGE_O_PATH:-}:$PATH"  # the submitter\'s first, as under SLURM',
        # '$JOB_ID.$TASK_ID' stays literal for qsub, which fills it in per task.
        submit=(
            f"qsub -S /bin/bash -V -wd {shlex.quote(job.project_root)} -N {settings.PACKAGE}"
            f' -t "1-$3"{limit}'
            """ -o "$logs"'/$JOB_ID.$TASK_ID.out' -e "$logs"'/$JOB_ID.$TASK_ID.err'"""
        ),
        options=options_of(job),
    )


# The bash file that submits Grid Engine arrays building the entries.
format_sge = array_format(engine)
