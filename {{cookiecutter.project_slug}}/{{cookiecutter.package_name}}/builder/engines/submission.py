"""What ``plan`` hands an engine: the shared choices, and one group per resource set.

``plan --slurm`` (or any engine) groups the selected permutations by their resources
(``resources.groups``: the pipeline's, with the command line's resource flags over them), freezes
each group in a plan file of its own, and hands the engine's file (``ENGINES``) an ``ArrayJob``
(the choices every engine shares) and one ``ArrayGroup`` per resource set. Each engine turns a
group's ``Resources`` into its own options; nothing here is any one engine's. ``write`` is the
one call the command line makes.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import layout
from ..formats.commands import safe_path
from ..ids import UsageError
from ..manifest.entries import Entry
from ..status import STALE
from . import plan, resources
from .array_options import ENGINE_FLAGS, ENGINES, JOB_FLAGS, RESOURCE_FLAGS, given
from .resources import Resources
from .retry import Retry

if TYPE_CHECKING:
    from .sizing import Sizing

# Tasks per array unless told: SLURM's default MaxArraySize (task ids up to 1000), which also fits
# Grid Engine's max_aj_tasks default (75,000).
DEFAULT_MAX_ARRAY_SIZE = 1000


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
    setup: tuple[str, ...] = ()  # shell lines each task runs before its build
    python: str | None = None  # the interpreter that runs the builder; None: the project's runner

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
    sources: str = ""  # with --learn: which values were learned, which declared (``sizing``)


def job_of(args: argparse.Namespace, output_dir: Path) -> ArrayJob:
    """The array job ``args`` ask for (``array_options`` refused stray flags)."""
    chosen = {
        flag[2:].replace("-", "_"): given(args, flag)
        for flag in (*JOB_FLAGS, *ENGINE_FLAGS)
        if given(args, flag) is not None
    }
    root, output = safe_path(str(layout.PROJECT_ROOT)), safe_path(str(output_dir))
    setup, python = _task_environment(args)
    return ArrayJob(
        root, output, **chosen, overrides=_flag_resources(args), setup=setup, python=python
    )


def _task_environment(args: argparse.Namespace) -> tuple[tuple[str, ...], str | None]:
    """The --setup lines and the --python interpreter, each refused in one line if it could break
    out of its line (a newline ends a comment in the file's header; bash runs the next line)."""
    setup = tuple(given(args, "--setup") or ())
    for line in setup:
        if not line.isprintable():
            raise UsageError(
                f"--setup {line!r} holds a control character; give each line its own --setup"
            )
    python = given(args, "--python")
    if python is not None and (not python.strip() or not python.isprintable()):
        raise UsageError(
            f"--python {python!r} names no interpreter; give its path, e.g. .venv/bin/python"
        )
    return setup, python


def _flag_resources(args: argparse.Namespace) -> dict[str, Any]:
    """The resource flags given, by resource key; a value resources.py refuses names its flag."""
    flagged: dict[str, Any] = {}
    for flag, (key, _, _) in RESOURCE_FLAGS.items():
        value = given(args, flag)
        if value is None:
            continue
        rule = resources.broken_rule(key, value)
        if rule is not None:
            raise UsageError(f"{flag} {value!r} is not {rule}")
        flagged[key] = value
    return flagged


def array_groups(
    job: ArrayJob,
    entries: list[Entry],
    *,
    force: bool,
    adjust: resources.Adjust | None = None,
    sizing: Sizing | None = None,
) -> tuple[list[ArrayGroup], list[plan.Frozen]]:
    """One group per resource set, in order of first appearance, and their plans (unwritten).

    The CLI writes the plans only once the format has taken the groups, so a format that refuses
    a group's resources leaves nothing behind. ``sizing`` (``plan --learn``) learns an entry's
    memory and time; ``adjust`` (a retry's) then changes its resources or leaves it out.
    """
    groups: list[ArrayGroup] = []
    plans: list[plan.Frozen] = []
    for chosen, members in resources.groups(entries, job.overrides, _then(sizing, adjust)):
        asked = resources.asked(chosen)
        frozen = plan.frozen(Path(job.output_dir), members, force=force, resources=asked)
        jobs = chosen.cpus if job.per_task > 1 else 1
        tasks = plan.task_count(len(members), job.per_task)
        sources = "" if sizing is None else sizing.note(members)
        groups.append(ArrayGroup(chosen, str(frozen.path), len(members), tasks, jobs, sources))
        plans.append(frozen)
    return groups, plans


def _then(sizing: Sizing | None, adjust: resources.Adjust | None) -> resources.Adjust | None:
    """The learned resources, then the retry's adjustment of them."""
    if sizing is None:
        return adjust

    def both(entry: Entry, chosen: Resources) -> Resources | None:
        learned = sizing(entry, chosen)
        return learned if adjust is None else adjust(entry, learned)

    return both


# An engine's file: (the job, its groups, the output folder as commands name it) -> its text.
EngineFile = Callable[[ArrayJob, tuple[ArrayGroup, ...], str], list[str]]


def engine_file(engine: str) -> EngineFile:
    """The writer of one engine's file, imported when it is asked for."""
    module, function = ENGINES[engine][:2]
    writer: EngineFile = getattr(import_module(f".{module}", __package__), function)
    return writer


def write(
    engine: str,
    job: ArrayJob,
    selected: list[Entry],
    *,
    force: bool,
    retrying: Retry | None,
    command_folder: str,
    sizing: Sizing | None = None,
) -> list[str]:
    """The engine's file over the selected entries, after writing their plans; empty if a retry
    leaves every failure out (nothing written then).

    A stale artifact is done, so choosing one forces the plan's rebuilds. The plans are written
    only once the engine took every group: a resource it refuses leaves no plan behind.
    """
    if retrying is not None:  # what SLURM knows of killed builds' jobs, in one call
        from ..failures import learn

        learn(selected)
    force = force or any(entry["status"] == STALE for entry in selected)
    groups, plans = array_groups(job, selected, force=force, adjust=retrying, sizing=sizing)
    if retrying is not None:
        retrying.report()
    if not groups:
        return []
    pieces = engine_file(engine)(job, tuple(groups), command_folder)
    plan.publish(plans)
    return pieces
