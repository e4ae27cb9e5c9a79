"""``manifest --slurm``: a bash file that submits the selected builds as SLURM job arrays.

The file embeds its build commands, so regenerating the manifest while the arrays wait in the
queue cannot change which task builds what. Run with ``bash FILE [sbatch options]`` it makes the
log folder and submits one array per ``max_array_size`` commands (a cluster refuses task ids at or
above its MaxArraySize), each task picking its command by ``offset + SLURM_ARRAY_TASK_ID``; run by
SLURM as an array task it runs that one command. Options given to ``bash FILE`` reach every
``sbatch`` call after the file's own, so they override its ``#SBATCH`` defaults.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from ... import settings
from ..ids import UsageError
from ..manifest import Entry
from ..selection import Selection
from . import Context
from .commands import safe_path, self_commands

# The forms sbatch accepts for --time, --mem and --partition; anything else is refused here, not
# by a cluster an hour later (and nothing odd, such as a newline, reaches an #SBATCH line).
_TIME = re.compile(r"\d+(:\d\d?){0,2}|\d+-\d+(:\d\d?){0,2}|UNLIMITED|INFINITE")
_MEM = re.compile(r"\d+[KMGT]?")
_PARTITION = re.compile(r"[A-Za-z0-9_.-]+(,[A-Za-z0-9_.-]+)*")

LOG_FOLDER = "_slurm"


@dataclass(frozen=True)
class SlurmJob:
    """Where the arrays run and log (absolute paths), and the ``#SBATCH`` choices of the user.

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


def chunks(count: int, max_array_size: int) -> list[tuple[int, int]]:
    """(offset, tasks) of each array: ``count`` tasks cut into arrays of at most the cap."""
    return [
        (offset, min(max_array_size, count - offset)) for offset in range(0, count, max_array_size)
    ]


# The file after its header and its commands: an array task runs its command; `bash FILE` makes
# the log folder and submits the arrays. The @NAMES@ are filled in.
_BODY = r"""
if [[ -n "${SLURM_ARRAY_TASK_ID:-}" ]]; then  # an array task: build one permutation
    index=$(( ${1:-0} + SLURM_ARRAY_TASK_ID ))
    if [[ -z "${commands[index]+set}" ]]; then
        echo "error: this file has no command $index, only 0 to @LAST@" >&2
        exit 2
    fi
    echo "${HOSTNAME:-?}: command $index: ${commands[index]}" >&2
    exec bash -c "${commands[index]}"
fi
if [[ -n "${SLURM_JOB_ID:-}" ]]; then
    echo "error: submit this file with bash, which makes the log folder, not with sbatch" >&2
    exit 2
fi

logs=@LOGS@
mkdir -p "$logs"
status=0
submit() {  # offset, last task id, then the options given to this file
    local code=0
    sbatch --chdir=@ROOT@ --array="0-$2@LIMIT@" \
        --output="$logs/%A_%a.out" --error="$logs/%A_%a.err" "${@:3}" "$0" "$1" || code=$?
    if (( code > status )); then status=$code; fi
}
@SUBMITS@
exit "$status"
"""


def format_slurm(entries: list[Entry], selection: Selection, context: Context) -> list[str]:
    """The bash file that submits a build of each entry (``context.slurm`` says how)."""
    assert context.slurm is not None, "the CLI gives --slurm its job"
    commands = self_commands(entries, context)
    names = {"project_name": settings.PROJECT_NAME, "job_name": settings.PACKAGE}
    return [format_script(commands, context.slurm, **names)]


def format_script(commands: list[str], job: SlurmJob, *, project_name: str, job_name: str) -> str:
    """The whole file, for one or more commands."""
    arrays = chunks(len(commands), job.max_array_size)
    log_folder = f"{job.output_dir}/{LOG_FOLDER}"
    directives = [f"--job-name={job_name}", f"--cpus-per-task={job.cpus_per_task}"]
    defaults = []
    for flag, value in (("partition", job.partition), ("time", job.time), ("mem", job.mem)):
        if value is None:
            defaults.append(f"--{flag}")
        else:
            directives.append(f"--{flag}={value}")
    name = " ".join(project_name.split())  # one comment line, whatever the name holds
    header = [
        "#!/bin/bash",
        f"# {name}: {len(commands)} builds as {len(arrays)} SLURM job array(s), cheapest first.",
        "# Submit from anywhere: bash THIS_FILE [sbatch options, e.g. --wait or --time=4:00:00].",
        "# Each array task runs the command at (offset + SLURM_ARRAY_TASK_ID) below, so a new",
        "# manifest while the arrays are queued cannot change which task builds what.",
        f"# Task logs: {log_folder}/<array job id>_<task id>.out and .err",
        *(f"#SBATCH {directive}" for directive in directives),
    ]
    if defaults:
        header.append(f"# {', '.join(defaults)}: the cluster's defaults (give them to bash FILE)")
    listing = ["set -euo pipefail", "", "commands=("]
    listing += [f"    {shlex.quote(command)}" for command in commands]
    listing.append(")")
    body = (
        _BODY.replace("@LOGS@", shlex.quote(log_folder))
        .replace("@ROOT@", shlex.quote(job.project_root))
        .replace("@LAST@", str(len(commands) - 1))
        .replace("@LIMIT@", f"%{job.array_limit}" if job.array_limit else "")
        .replace("@SUBMITS@", "\n".join(f'submit {at} {size - 1} "$@"' for at, size in arrays))
    )
    return "\n".join(header + listing) + "\n" + body
