"""The bash file every array engine's format writes: it submits arrays over plan files.

Run with ``bash FILE [options]`` it makes the log folder and submits, per resource set, one array
per ``max_array_size`` tasks (clusters cap task ids). Each submission carries its group's
resource options on the submit command line, then the options given to ``bash FILE``, so those
override the file's; and it passes the array task three arguments: its plan, its offset and its
``build --jobs``. Run by the engine as an array task, the file turns the engine's index variable
into the 0-based task index ``offset + index - first``, runs the engine's own setup and then the
job's ``--setup`` lines, and runs ``build --plan PLAN --per-task K --jobs J --task-index I``
with the project's runner or the job's ``--python``; if a signal ended it (the OOM killer's
SIGKILL), the same with ``--task-ended CODE`` records why, in-band (``building/task_end``).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass

from ... import settings
from ..formats.commands import command_head, safe_path
from .resources import KEYS, Resources
from .submission import ArrayGroup, ArrayJob, EngineFile


@dataclass(frozen=True)
class Engine:
    """What differs between engines: names, the index variable, the submission, the resources."""

    name: str  # as the file's comments name it
    submitter: str  # the command that submits a file (sbatch, qsub)
    task_variable: str  # the array task's index, set by the engine
    first_task: int  # the index variable's first value: 0 or 1
    job_variable: str  # set in every job of the engine, array or not
    logs: str  # the log folder's name, under the output folder
    log_names: str  # how the engine names a task's logs there
    submit: str  # the submission, up to the options; $3 is the task count
    options: Callable[[Resources], list[str]]  # a group's resources as submission options
    script: str = '"$0"'  # how the submission names this file, after the options
    task_setup: str = ""  # a line an array task runs before its build
    plain_task: str = ""  # what the index variable holds in a job that is not an array, if set
    notes: tuple[str, ...] = ()  # lines for the file's header comments


def chunks(count: int, max_array_size: int) -> list[tuple[int, int]]:
    """(offset, tasks) of each array: ``count`` tasks cut into arrays of at most the cap."""
    return [
        (offset, min(max_array_size, count - offset)) for offset in range(0, count, max_array_size)
    ]


# An array task builds its permutations; `bash FILE` makes the log folder and submits the arrays.
# The @NAMES@ are filled in.
_BODY = r"""
if [[ -n "${@TASK@:-}"@PLAIN@ ]]; then  # an array task: plan, offset, jobs
    index=$(( $2 + @TASK@@FIRST@ ))
    echo "${HOSTNAME:-?}: task $index of plan $1 on $3 job(s)" >&2@SETUP@
    # This file outlives the build, to say from the task's cgroup why it was killed. A stop (a
    # time limit's SIGTERM, which SLURM sends this file alone) is passed on for the build to
    # handle, and this file waits on.
    build=""
    for stop in TERM HUP INT QUIT; do
        trap "kill -s $stop \"\$build\" 2>/dev/null || :" "$stop"
    done
    (
        trap - TERM HUP INT QUIT
        exec @COMMAND@ --plan "$1" --per-task @PER_TASK@ --jobs "$3" --task-index "$index"
    ) &
    build=$!
    code=0
    wait "$build" || code=$?
    while kill -0 "$build" 2>/dev/null; do  # a stop ended the wait, not the build
        code=0
        wait "$build" || code=$?
    done
    if (( code > 128 )); then  # killed (by the OOM killer?): said from here, in the task's cgroup
        @COMMAND@ --plan "$1" --per-task @PER_TASK@ --task-index "$index" --task-ended "$code" || :
    fi
    exit "$code"
fi
if [[ -n "${@JOB@:-}" ]]; then
    echo "error: submit this file with bash, which makes the log folder, not with @SUBMITTER@" >&2
    exit 2
fi

logs=@LOGS@
if [[ -L $logs ]]; then  # the engine would write the task logs through it
    echo "error: $logs is a symbolic link; remove it (the builder never follows one)" >&2
    exit 2
fi
mkdir -p "$logs"
status=0
submit() {  # plan, offset, task count, jobs, then the array's options and those given to this file
    local code=0
    @SUBMIT@ "${@:5}" @SCRIPT@ "$1" "$2" "$4" || code=$?
    if (( code > status )); then status=$code; fi
}
@SUBMITS@
exit "$status"
"""


def setup_lines(engine: Engine, job: ArrayJob) -> list[str]:
    """What a task runs before its build: the engine's setup, then the job's ``--setup`` lines,
    with unset variables allowed, as in the login shell they are written for (``module`` and
    ``conda activate`` read some); a line that fails still ends the task."""
    lines = [engine.task_setup] if engine.task_setup else []
    if job.setup:
        lines += ["set +u  # the --setup lines", *job.setup, "set -u"]
    return lines


def described(chosen: Resources) -> str:
    """Resources as the file's comments list them: ``cpus=2 mem=4G (time, ...: the cluster's
    defaults)``."""
    given = " ".join(
        f"{key}={getattr(chosen, key)}" for key in KEYS if getattr(chosen, key) is not None
    )
    left = [key for key in KEYS if getattr(chosen, key) is None]
    return given + (f" ({', '.join(left)}: the cluster's defaults)" if left else "")


def submissions(engine: Engine, job: ArrayJob, group: ArrayGroup, plan: str) -> list[str]:
    """The lines that submit one group's arrays over ``plan`` (a variable), with its resources."""
    head = ["submit", f'"${plan}"']
    options = [shlex.quote(option) for option in engine.options(group.resources)]
    return [
        " ".join([*head, str(offset), str(tasks), str(group.jobs), *options, '"$@"'])
        for offset, tasks in chunks(group.tasks, job.array_size())
    ]


def format_array_file(
    engine: Engine,
    job: ArrayJob,
    groups: tuple[ArrayGroup, ...],
    command_folder: str,
    *,
    project_name: str,
) -> str:
    """The whole file: submissions of each group's arrays over its plan."""
    log_folder = f"{job.output_dir}/{engine.logs}"
    named = [(f"plan{number}", group) for number, group in enumerate(groups, 1)]
    lines = [line for plan, group in named for line in submissions(engine, job, group, plan)]
    tasks = sum(group.tasks for group in groups)
    builds = sum(group.permutations for group in groups)  # a retry plans fewer than it selects
    name = " ".join(project_name.split())  # one comment line, whatever the name holds
    per = "1 build" if job.per_task == 1 else f"up to {job.per_task} builds"
    shift = f" - {engine.first_task}" if engine.first_task else ""
    header = [
        "#!/bin/bash",
        f"# {name}: {builds} builds in {tasks} {engine.name} array task(s) of {per},"
        f" as {len(lines)} array(s) over {len(groups)} resource set(s), cheapest first.",
        f"# Submit from anywhere: bash THIS_FILE [{engine.submitter} options]; they go after each"
        " array's own, so they override them.",
        f"# Task (offset + {engine.task_variable}{shift}) builds its lines of its plan; a later"
        " plan command writes new plan files, so it cannot change what a queued task builds.",
        f"# Task logs: {log_folder}/{engine.log_names}",
        *(f"# {note}" for note in engine.notes),
        *(["# Each task first runs:"] if job.setup else []),
        *(f"#   {line}" for line in job.setup),
        *([f"# Each task's interpreter: {job.python}"] if job.python else []),
        "# Resource sets, each with its plan:",
        *(
            f"#   {plan}: {group.permutations} builds in {group.tasks} task(s):"
            f" {described(group.resources)}" + (f" [{group.sources}]" if group.sources else "")
            for plan, group in named
        ),
        "set -euo pipefail",
        *(f"{plan}={shlex.quote(safe_path(group.plan))}" for plan, group in named),
    ]
    plain = f' && "$@TASK@" != {engine.plain_task}' if engine.plain_task else ""
    body = (
        _BODY.replace("@PLAIN@", plain)
        .replace("@TASK@", engine.task_variable)
        .replace("@FIRST@", shift)
        .replace("@SETUP@", "".join(f"\n    {line}" for line in setup_lines(engine, job)))
        .replace("@COMMAND@", command_head(command_folder, job.python))
        .replace("@PER_TASK@", str(job.per_task))
        .replace("@JOB@", engine.job_variable)
        .replace("@SUBMITTER@", engine.submitter)
        .replace("@LOGS@", shlex.quote(log_folder))
        .replace("@SUBMIT@", engine.submit)
        .replace("@SCRIPT@", engine.script)
        .replace("@SUBMITS@", "\n".join(lines))
    )
    return "\n".join(header) + "\n" + body


def array_format(engine_of: Callable[[ArrayJob], Engine]) -> EngineFile:
    """The writer of an engine's bash file, from the engine's description for a job."""

    def format_array(
        job: ArrayJob, groups: tuple[ArrayGroup, ...], command_folder: str
    ) -> list[str]:
        engine = engine_of(job)
        name = settings.PROJECT_NAME
        return [format_array_file(engine, job, groups, command_folder, project_name=name)]

    return format_array
