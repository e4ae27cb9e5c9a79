"""What the container engines (Kubernetes Indexed Jobs, AWS Batch array jobs) share.

A container sees none of the submitter's folders: it runs an image, and the project root and the
output folder must reach it on shared storage at the same absolute paths, so that the plan's path
and every artifact's path mean the same inside and out. Each job runs one shell command: go to the
project root and run the one entry point every engine calls, its task index the plan offset of
the job (``PLAN_OFFSET``, set in the job's environment) plus the engine's 0-based index variable.
"""

from __future__ import annotations

import hashlib
import math
import re
import shlex
from pathlib import PurePath
from typing import TYPE_CHECKING

from ... import settings
from ..formats.commands import command_head, safe_path
from ..ids import UsageError
from . import resources

if TYPE_CHECKING:
    from .submission import ArrayGroup, ArrayJob

# The variable that holds a job's first task in the plan: a group too big for one job becomes
# several, each starting further on.
OFFSET_VARIABLE = "PLAN_OFFSET"
# Room for the job name in a Kubernetes pod's host name, <job name>-<index>, at most 63 characters.
_BASE_LENGTH = 30


def required(value: str | None, flag: str, shape: str, what: str) -> str:
    """A flag's value that an output cannot do without, or one line naming the flag and why."""
    if value is None or not value or not value.isprintable():
        raise UsageError(f"--{shape} needs {flag}: {what}")
    return value


def shared_folder(project_root: str, output_dir: str) -> str:
    """The folder to mount: the project root, or the one that holds it and the output folder."""
    common = PurePath(project_root)
    while not PurePath(output_dir).is_relative_to(common):
        common = common.parent
    if common == common.parent:
        raise UsageError(
            f"the output folder '{output_dir}' and the project root '{project_root}' share no"
            " folder but '/' to mount in a container; put the output folder beside the project"
        )
    return str(common)


def base_name() -> str:
    """The package's name as a DNS label (a-z, 0-9 and '-'), which both engines take."""
    base = re.sub(r"[^a-z0-9]+", "-", settings.PACKAGE.lower()).strip("-")
    return base[:_BASE_LENGTH].rstrip("-") or "build"


def job_name(group: ArrayGroup, part: int | None) -> str:
    """The package's name and a hash of the plan and its resources: a second submission of the
    same is refused as a duplicate, not run twice, while a retry with more memory is new.
    ``part`` numbers the jobs of a plan too big for one."""
    what = f"{PurePath(group.plan).stem} {group.resources!r}"
    digest = hashlib.sha256(what.encode()).hexdigest()[:8]
    return f"{base_name()}-{digest}" + ("" if part is None else f"-{part}")


def seconds(time: str | None) -> int | None:
    """A checked ``time`` value in whole seconds, rounded up; None for none or no limit."""
    limit = resources.time_limit(time)
    return None if limit is None else math.ceil(resources.minutes(limit) * 60)


def task_shell(job: ArrayJob, group: ArrayGroup, command_folder: str, index: str) -> list[str]:
    """The job's command: ``sh -c`` that goes to the project root, runs the job's ``--setup``
    lines (a failing one ends the task) and the build with the task index
    ``${PLAN_OFFSET} + ${<index>}``, run by the project's runner or the job's ``--python``.

    Both must be whole numbers in decimal: unset or not a number, shell arithmetic would read 0,
    and ``010`` as 8 (octal), so the wrong task would build; such a value is refused in one line.
    Kubernetes expands ``$(NAME)`` in a command itself, but only for a defined variable: the
    arithmetic ``$(( ... ))`` reaches the shell as it is written.
    """
    build = (
        f"{command_head(command_folder, job.python)}"
        f" --plan {shlex.quote(safe_path(group.plan))}"
        f" --per-task {job.per_task} --jobs {group.jobs}"
    )
    checks = "".join(_decimal_check(variable) for variable in (OFFSET_VARIABLE, index))
    task = f'"$(( ${{{OFFSET_VARIABLE}}} + ${{{index}}} ))"'
    go = f"cd {shlex.quote(job.project_root)}"
    run = f"exec {build} --task-index {task}"
    if not job.setup:
        return ["sh", "-c", f"{checks}{go} && {run}"]
    return ["sh", "-c", "\n".join(["set -e", checks + go, *job.setup, run])]


def _decimal_check(variable: str) -> str:
    """Shell that exits 2, saying why, unless ``${variable}`` (``NAME`` or ``NAME:-default``) is
    a whole number in decimal with no leading zero."""
    name = variable.split(":", 1)[0]
    value = f"${{{variable}}}" if ":" in variable else f"${{{name}-}}"
    said = f"error: {name}='{value}' is not a whole number in decimal, such as 0 or 12"
    return f'case "{value}" in ""|*[!0-9]*|0?*) echo "{said}" >&2; exit 2;; esac; '
