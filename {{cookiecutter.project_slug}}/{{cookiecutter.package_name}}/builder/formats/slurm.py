"""``manifest --slurm``: a bash file that submits SLURM job arrays over a plan file (see arrays).

``SlurmJob`` holds the choices of ``manifest --slurm`` and ``--sge`` alike: where the tasks run,
the plan, how many permutations a task builds, and the array caps; the ``#SBATCH`` values apply
to SLURM only.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from ... import settings
from ..ids import UsageError
from .arrays import Engine, array_format
from .commands import safe_path

# The forms sbatch accepts for --time, --mem and --partition; anything else is refused here, not
# by a cluster an hour later (and nothing odd, such as a newline, reaches an #SBATCH line).
_TIME = re.compile(r"\d+(:\d\d?){0,2}|\d+-\d+(:\d\d?){0,2}|UNLIMITED|INFINITE")
_MEM = re.compile(r"\d+[KMGT]?")
_PARTITION = re.compile(r"[A-Za-z0-9_.-]+(,[A-Za-z0-9_.-]+)*")


@dataclass(frozen=True)
class SlurmJob:
    """Where the arrays run and log (absolute paths), the plan, and the user's choices.

    None leaves the cluster's default.
    """

    project_root: str
    output_dir: str
    partition: str | None = None
    time: str | None = None
    cpus_per_task: int = 1
    mem: str | None = None
    array_limit: int | None = None
    max_array_size: int = 1000
    per_task: int = 1
    plan: str = ""  # the plan file, written by the CLI once the entries are known

    def check(self) -> SlurmJob:
        """Refuse a value sbatch would refuse, naming the flag and the accepted form."""
        _check(_TIME, self.time, "--time", "minutes, H:MM:SS or D-H:MM:SS (e.g. 2:00:00)")
        _check(_MEM, self.mem, "--mem", "a size in K, M, G or T (e.g. 4G)")
        _check(_PARTITION, self.partition, "--partition", "partition names joined by commas")
        safe_path(self.project_root)
        safe_path(self.output_dir)
        return self


def _check(form: re.Pattern[str], value: str | None, flag: str, rule: str) -> None:
    if value is not None and not form.fullmatch(value):
        raise UsageError(f"{flag} {value!r} is not {rule}")


def engine(job: SlurmJob) -> Engine:
    """SLURM: ``sbatch --array=0-(N-1)``, each task's index in ``SLURM_ARRAY_TASK_ID``."""
    directives = [f"--job-name={settings.PACKAGE}", f"--cpus-per-task={job.cpus_per_task}"]
    defaults = []
    for flag, value in (("partition", job.partition), ("time", job.time), ("mem", job.mem)):
        if value is None:
            defaults.append(f"--{flag}")
        else:
            directives.append(f"--{flag}={value}")
    header = [f"#SBATCH {directive}" for directive in directives]
    if defaults:
        header.append(f"# {', '.join(defaults)}: the cluster's defaults (give them to bash FILE)")
    limit = f"%{job.array_limit}" if job.array_limit else ""
    return Engine(
        name="SLURM",
        submitter="sbatch",
        task_variable="SLURM_ARRAY_TASK_ID",
        first_task=0,
        job_variable="SLURM_JOB_ID",
        logs="_slurm",
        log_names="<array job id>_<task id>",
        submit=(
            f"sbatch --chdir={shlex.quote(job.project_root)} --array=\"0-$(( $2 - 1 )){limit}\""
            ' --output="$logs/%A_%a.out" --error="$logs/%A_%a.err"'
        ),
        header=tuple(header),
    )


# The bash file that submits SLURM arrays building the entries.
format_slurm = array_format(engine)
