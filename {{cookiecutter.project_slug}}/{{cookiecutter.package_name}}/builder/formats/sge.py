"""``manifest --sge``: a bash file that submits Grid Engine array jobs over a plan file.

Grid Engine (SGE, Son of Grid Engine, Altair) numbers array tasks from 1 in ``SGE_TASK_ID``
(``qsub -t 1-N``); the file turns that into the plan's 0-based task index. ``-S /bin/bash``
because a queue may start scripts with its own shell whatever their ``#!`` line says; ``-V``
because, unlike SLURM, qsub passes no environment by default (the task needs any variable naming
another pipeline). A queue that starts bash as a login shell resets PATH even so, so a task puts
the submitter's PATH (``SGE_O_PATH``) first again. Resources are the site's: give them to
``bash FILE`` (e.g. ``-l h_rt=2:00:00 -l h_vmem=4G``).
"""

from __future__ import annotations

import shlex

from ... import settings
from .arrays import Engine, array_format
from .slurm import SlurmJob


def engine(job: SlurmJob) -> Engine:
    """Grid Engine: ``qsub -t 1-N``, each task's index in ``SGE_TASK_ID``, from 1."""
    limit = f" -tc {job.array_limit}" if job.array_limit else ""
    return Engine(
        name="Grid Engine",
        submitter="qsub",
        task_variable="SGE_TASK_ID",
        first_task=1,
        job_variable="JOB_ID",
        logs="_sge",
        log_names="<job id>.<task id>",
        task_setup='PATH="${SGE_O_PATH:-}:$PATH"  # the submitter\'s first, as under SLURM',
        # '$JOB_ID.$TASK_ID' stays literal for qsub, which fills it in per task.
        submit=(
            f"qsub -S /bin/bash -V -wd {shlex.quote(job.project_root)} -N {settings.PACKAGE}"
            f' -t "1-$2"{limit}'
            """ -o "$logs"'/$JOB_ID.$TASK_ID.out' -e "$logs"'/$JOB_ID.$TASK_ID.err'"""
        ),
    )


# The bash file that submits Grid Engine arrays building the entries.
format_sge = array_format(engine)
