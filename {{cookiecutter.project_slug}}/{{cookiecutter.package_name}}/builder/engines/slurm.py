"""``plan --slurm``: a bash file that submits SLURM job arrays over plan files (see arrays).

A group's resources become sbatch options on its submission: ``--cpus-per-task``, ``--mem`` (per
node: the task's whole memory), ``--time``, ``--partition`` and ``--gres=gpu:N``. Left out, a
value is the cluster's default.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from ... import settings
from .arrays import Engine, array_format
from .resources import Resources

if TYPE_CHECKING:
    from .submission import ArrayJob


def options(chosen: Resources) -> list[str]:
    """A group's resources as sbatch options."""
    given = [f"--cpus-per-task={chosen.cpus}"]
    given += [
        f"--{key}={value}"
        for key, value in (
            ("mem", chosen.mem),
            ("time", chosen.time),
            ("partition", chosen.partition),
        )
        if value is not None
    ]
    if chosen.gpus is not None:
        given.append(f"--gres=gpu:{chosen.gpus}")
    return given


def engine(job: ArrayJob) -> Engine:
    """SLURM: ``sbatch --array=0-(N-1)``, each task's index in ``SLURM_ARRAY_TASK_ID``."""
    limit = f"%{job.array_limit}" if job.array_limit else ""
    return Engine(
        name="SLURM",
        submitter="sbatch",
        task_variable="SLURM_ARRAY_TASK_ID",
        first_task=0,
        job_variable="SLURM_JOB_ID",
        logs="_slurm",
        log_names="<array job id>_<task id>.out and .err",
        submit=(
            f"sbatch --job-name={settings.PACKAGE} --chdir={shlex.quote(job.project_root)}"
            f' --array="0-$(( $3 - 1 )){limit}"'
            ' --output="$logs/%A_%a.out" --error="$logs/%A_%a.err"'
        ),
        options=options,
    )


# The bash file that submits SLURM arrays building the entries.
format_slurm = array_format(engine)
