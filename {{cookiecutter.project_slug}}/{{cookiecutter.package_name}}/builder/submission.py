"""What ``manifest``'s array formats submit: the shared choices, and one group per resource set.

``manifest --slurm`` (or any array format) groups the selected permutations by their resources
(``resources.groups``: the pipeline's, with the command line's resource flags over them), freezes
each group in a plan file of its own, and hands the format an ``ArrayJob`` (the choices every
engine shares) and one ``ArrayGroup`` per resource set. Each engine's format turns a group's
``Resources`` into its own options; nothing here is any one engine's.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import layout, plan, resources
from .formats.commands import safe_path
from .ids import UsageError
from .manifest import Entry
from .resources import Resources
from .selection import positive_int

# The formats that write arrays over plan files.
ARRAY_SHAPES = ("slurm", "sge", "pbs", "lsf", "kubernetes", "aws-batch")

# Tasks per array unless told: SLURM's default MaxArraySize (task ids up to 1000), which also fits
# Grid Engine's max_aj_tasks default (75,000).
DEFAULT_MAX_ARRAY_SIZE = 1000

# The job's choices, for every array format: flag -> (argparse type, help).
JOB_FLAGS: dict[str, tuple[Callable[[str], Any], str]] = {
    "--per-task": (
        positive_int("--per-task"),
        "each array task builds K permutations in order (with --jobs C inside when its"
        " resources give C cpus > 1; default: 1)",
    ),
    "--array-limit": (positive_int("--array-limit"), "at most N tasks of an array at once"),
    "--max-array-size": (
        positive_int("--max-array-size"),
        "the cluster's cap on tasks per array: more tasks become several arrays (default: 1000;"
        " Kubernetes 100,000 and AWS Batch 10,000, which take no more)",
    ),
}
# Resource flags: flag -> (resource key, argparse type, help). They go over the pipeline's
# resources for every permutation; a value is checked by resources.py, the one rule for all.
RESOURCE_FLAGS: dict[str, tuple[str, Callable[[str], Any], str]] = {
    "--cpus-per-task": ("cpus", positive_int("--cpus-per-task"), "cpus per task, e.g. 4"),
    "--mem": ("mem", str, "memory per task, e.g. 4G"),
    "--time": ("time", str, "time limit per task, e.g. 2:00:00"),
    "--partition": ("partition", str, "partition (SLURM) or queue (the others)"),
    "--gpus": ("gpus", positive_int("--gpus"), "GPUs per task, e.g. 1"),
}
# Choices only one engine reads: flag -> (its formats, argparse type, help).
ENGINE_FLAGS: dict[str, tuple[tuple[str, ...], Callable[[str], Any], str]] = {
    "--parallel-environment": (
        ("sge",),
        str,
        "Grid Engine's parallel environment for cpus > 1, e.g. smp (`qconf -spl` lists them)",
    ),
    # Containers see none of the submitter's folders (see formats/containers.py): each of these
    # is required by its output.
    "--image": (("kubernetes",), str, "the container image that runs the project"),
    "--volume-claim": (
        ("kubernetes",),
        str,
        "the PersistentVolumeClaim that holds the project root and output folder; mounted at"
        " the same path in the pods",
    ),
    "--job-queue": (("aws-batch",), str, "the job queue to submit to"),
    "--job-definition": (
        ("aws-batch",),
        str,
        "the job definition (name[:revision] or ARN) whose image runs the project, with the"
        " project root and output folder mounted at the same paths",
    ),
}


@dataclass(frozen=True)
class ArrayJob:
    """Where the arrays run and log (absolute paths), and the choices every engine shares."""

    project_root: str
    output_dir: str
    per_task: int = 1
    array_limit: int | None = None
    max_array_size: int | None = None  # None: the engine's default
    parallel_environment: str | None = None  # Grid Engine's, for tasks of more than one cpu
    image: str | None = None  # Kubernetes'
    volume_claim: str | None = None  # Kubernetes'
    job_queue: str | None = None  # AWS Batch's
    job_definition: str | None = None  # AWS Batch's
    overrides: dict[str, Any] = field(default_factory=dict)  # resource flags, by resource key

    def array_size(self, engine_cap: int | None = None) -> int:
        """Tasks per array: ``--max-array-size``, else SLURM's default ``MaxArraySize``; for an
        engine with a fixed cap, that cap, and never more."""
        if engine_cap is None:
            return self.max_array_size or DEFAULT_MAX_ARRAY_SIZE
        return min(self.max_array_size or engine_cap, engine_cap)


@dataclass(frozen=True)
class ArrayGroup:
    """The permutations of one resource set: one plan file, and arrays of ``tasks`` tasks."""

    resources: Resources
    plan: str  # the plan file's absolute path
    permutations: int
    tasks: int  # plan.task_count(permutations, per_task)
    jobs: int  # the task's `build --jobs`: its cpus when it builds several permutations


def named(shapes: tuple[str, ...]) -> str:
    """Formats as a usage line names them: ``--slurm, --sge or --pbs``."""
    flags = [f"--{shape}" for shape in shapes]
    return " or ".join([", ".join(flags[:-1]), flags[-1]] if len(flags) > 1 else flags)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The array formats' options, in one group of ``manifest --help``."""
    group = parser.add_argument_group(
        f"with {named(ARRAY_SHAPES)} (resource flags override the pipeline's)"
    )
    for flag, (kind, text) in JOB_FLAGS.items():
        group.add_argument(flag, type=kind, help=text)
    for flag, (_, kind, text) in RESOURCE_FLAGS.items():
        group.add_argument(flag, type=kind, help=f"{text} (default: the pipeline's, if any)")
    for flag, (shapes, kind, text) in ENGINE_FLAGS.items():
        group.add_argument(flag, type=kind, help=f"with {named(shapes)}: {text}")


def _given(args: argparse.Namespace, flag: str) -> Any:
    return getattr(args, flag[2:].replace("-", "_"))


def job_of(args: argparse.Namespace, output_dir: Path) -> ArrayJob | None:
    """The array job ``args`` ask for, None for other formats; a stray flag is a usage error."""
    shape = args.shape
    for flag in (*JOB_FLAGS, *RESOURCE_FLAGS):
        if _given(args, flag) is not None and shape not in ARRAY_SHAPES:
            raise UsageError(f"{flag} only applies with {named(ARRAY_SHAPES)}")
    for flag, (shapes, _, _) in ENGINE_FLAGS.items():
        if _given(args, flag) is not None and shape not in shapes:
            raise UsageError(f"{flag} only applies with {named(shapes)}")
    if shape not in ARRAY_SHAPES:
        return None
    chosen = {
        flag[2:].replace("-", "_"): _given(args, flag)
        for flag in (*JOB_FLAGS, *ENGINE_FLAGS)
        if _given(args, flag) is not None
    }
    root, output = safe_path(str(layout.PROJECT_ROOT)), safe_path(str(output_dir))
    return ArrayJob(root, output, **chosen, overrides=_flag_resources(args))


def _flag_resources(args: argparse.Namespace) -> dict[str, Any]:
    """The resource flags given, by resource key; a value resources.py refuses names its flag."""
    given: dict[str, Any] = {}
    for flag, (key, _, _) in RESOURCE_FLAGS.items():
        value = _given(args, flag)
        if value is None:
            continue
        rule = resources.broken_rule(key, value)
        if rule is not None:
            raise UsageError(f"{flag} {value!r} is not {rule}")
        given[key] = value
    return given


def array_groups(
    job: ArrayJob, entries: list[Entry], *, force: bool, adjust: resources.Adjust | None = None
) -> tuple[list[ArrayGroup], list[plan.Frozen]]:
    """One group per resource set, in order of first appearance, and their plans (unwritten).

    The CLI writes the plans only once the format has taken the groups, so a format that refuses
    a group's resources leaves nothing behind. ``adjust`` (a retry's) changes an entry's
    resources or leaves it out.
    """
    groups: list[ArrayGroup] = []
    plans: list[plan.Frozen] = []
    for chosen, members in resources.groups(entries, job.overrides, adjust):
        frozen = plan.frozen(Path(job.output_dir), members, force=force)
        jobs = chosen.cpus if job.per_task > 1 else 1
        tasks = plan.task_count(len(members), job.per_task)
        groups.append(ArrayGroup(chosen, str(frozen.path), len(members), tasks, jobs))
        plans.append(frozen)
    return groups, plans
