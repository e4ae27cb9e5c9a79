"""The bash file every array engine's format writes: it submits arrays over a plan file.

Run with ``bash FILE [options]`` it makes the log folder and submits one array per
``max_array_size`` tasks (clusters cap task ids), passing each array its offset; run by the engine
as an array task it turns the engine's index variable into the 0-based task index
``offset + index - first`` and runs ``build --plan PLAN --per-task K --task-index I``. Options
given to ``bash FILE`` reach every submission after the file's own, so they override its defaults.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ... import settings
from .. import plan
from ..manifest import Entry
from ..selection import Selection
from . import Context, Format

if TYPE_CHECKING:
    from .slurm import SlurmJob
from .commands import command_head, safe_path


@dataclass(frozen=True)
class Engine:
    """What differs between engines: names, the index variable, and the submission command."""

    name: str  # as the file's comments name it
    submitter: str  # the command that submits a file (sbatch, qsub)
    task_variable: str  # the array task's index, set by the engine
    first_task: int  # the index variable's first value: 0 or 1
    job_variable: str  # set in every job of the engine, array or not
    logs: str  # the log folder's name, under the output folder
    log_names: str  # how the engine names a task's logs there
    submit: str  # the submission, up to the options given to the file; $2 is the task count
    header: tuple[str, ...] = ()  # lines after the comments (e.g. #SBATCH defaults)
    task_setup: str = ""  # a line an array task runs before its build


def chunks(count: int, max_array_size: int) -> list[tuple[int, int]]:
    """(offset, tasks) of each array: ``count`` tasks cut into arrays of at most the cap."""
    return [
        (offset, min(max_array_size, count - offset)) for offset in range(0, count, max_array_size)
    ]


# An array task builds its permutations; `bash FILE` makes the log folder and submits the arrays.
# The @NAMES@ are filled in.
_BODY = r"""
if [[ -n "${@TASK@:-}" && "$@TASK@" != undefined ]]; then  # an array task
    index=$(( ${1:-0} + @TASK@@FIRST@ ))
    echo "${HOSTNAME:-?}: task $index of plan $plan" >&2@SETUP@
    exec @COMMAND@ "$index"
fi
if [[ -n "${@JOB@:-}" ]]; then
    echo "error: submit this file with bash, which makes the log folder, not with @SUBMITTER@" >&2
    exit 2
fi

logs=@LOGS@
mkdir -p "$logs"
status=0
submit() {  # offset, task count, then the options given to this file
    local code=0
    @SUBMIT@ "${@:3}" "$0" "$1" || code=$?
    if (( code > status )); then status=$code; fi
}
@SUBMITS@
exit "$status"
"""


def format_array_file(
    engine: Engine, entries: list[Entry], context: Context, *, project_name: str
) -> str:
    """The whole file: submissions of arrays over the plan ``context.slurm.plan``."""
    job = context.slurm
    assert job is not None and job.plan, "the CLI writes the plan and gives the array job"
    log_folder = f"{job.output_dir}/{engine.logs}"
    tasks = plan.task_count(len(entries), job.per_task)
    arrays = chunks(tasks, job.max_array_size)
    jobs = f" --jobs {job.cpus_per_task}" if job.cpus_per_task > 1 and job.per_task > 1 else ""
    command = (
        f"{command_head(context.command_folder)} --plan \"$plan\""
        f" --per-task {job.per_task}{jobs} --task-index"
    )
    name = " ".join(project_name.split())  # one comment line, whatever the name holds
    per = "1 build" if job.per_task == 1 else f"up to {job.per_task} builds"
    shift = f" - {engine.first_task}" if engine.first_task else ""
    header = [
        "#!/bin/bash",
        f"# {name}: {len(entries)} builds in {tasks} {engine.name} array task(s) of {per},"
        f" as {len(arrays)} array(s), cheapest first.",
        f"# Submit from anywhere: bash THIS_FILE [{engine.submitter} options].",
        f"# Task (offset + {engine.task_variable}{shift}) builds its lines of the plan below;",
        "# a new manifest writes a new plan, so it cannot change what a queued task builds.",
        f"# Task logs: {log_folder}/{engine.log_names}.out and .err",
        *engine.header,
        "set -euo pipefail",
        f"plan={shlex.quote(safe_path(job.plan))}",
    ]
    body = (
        _BODY.replace("@TASK@", engine.task_variable)
        .replace("@FIRST@", shift)
        .replace("@SETUP@", f"\n    {engine.task_setup}" if engine.task_setup else "")
        .replace("@JOB@", engine.job_variable)
        .replace("@SUBMITTER@", engine.submitter)
        .replace("@COMMAND@", command)
        .replace("@LOGS@", shlex.quote(log_folder))
        .replace("@SUBMIT@", engine.submit)
        .replace("@SUBMITS@", "\n".join(f'submit {at} {size} "$@"' for at, size in arrays))
    )
    return "\n".join(header) + "\n" + body


def array_format(engine_of: Callable[[SlurmJob], Engine]) -> Format:
    """The format function of an engine's file (``context.slurm`` holds the array choices)."""

    def format_array(entries: list[Entry], selection: Selection, context: Context) -> list[str]:
        assert context.slurm is not None, "the CLI gives an array format its job"
        engine = engine_of(context.slurm)
        return [format_array_file(engine, entries, context, project_name=settings.PROJECT_NAME)]

    return format_array
