"""The options of array jobs: those of ``plan``, which writes the arrays for an engine, and those
of ``build`` that the arrays' tasks run with.

Only their names, types and help live here, and the rule of which engine takes which: the
modules that act on them (``submission``, ``retry``, each engine's file) are imported when
``plan`` runs, and ``build`` declares only its task's three flags.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from ... import settings
from ..ids import UsageError
from ..manifest.selection import positive_int

# Each engine: its flag -> the module (in engines/) and function that write its file, and help.
ENGINES: dict[str, tuple[str, str, str]] = {
    "slurm": ("slurm", "format_slurm", "a bash file that submits SLURM job arrays"),
    "sge": ("sge", "format_sge", "the same for Grid Engine (SGE, Son of Grid Engine, Altair)"),
    "pbs": ("pbs", "format_pbs", "the same for PBS Pro and OpenPBS"),
    "lsf": ("lsf", "format_lsf", "the same for LSF"),
    "kubernetes": ("kubernetes", "format_kubernetes", "Kubernetes Indexed Jobs (YAML)"),
    "aws-batch": ("aws_batch", "format_aws_batch", "AWS Batch submit-job inputs (JSON Lines)"),
}

# The job's choices, for every engine: flag -> (argparse type, help).
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
# How each task readies its environment, for every engine: flag -> argparse's keywords.
TASK_ENVIRONMENT_FLAGS: dict[str, dict[str, Any]] = {
    "--setup": {
        "action": "append",
        "metavar": "LINE",
        "help": "a shell line each task runs before its build, e.g. 'module load python/3.11;"
        " source .venv/bin/activate'; repeat it for more lines, run in order (shown in the"
        " file's header)",
    },
    "--python": {
        "metavar": "PATH",
        "help": "the interpreter each task runs the builder with, e.g. an absolute venv python"
        f" (default: the project's runner, {settings.COMMAND_RUNNER})",
    },
}
LEARN_HELP = (
    "size each task's memory and time from what built permutations of its parameter measured,"
    " scaled by cost, with headroom; the pipeline's resources are the fallback and the cap"
)
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

# An array task's choices, on ``build``: flag -> (metavar, argparse type, default, help).
TASK_FLAGS: dict[str, tuple[str, Callable[[str], Any], Any, str]] = {
    "--plan": ("FILE", str, None, "build a task's permutations of this plan"),
    "--task-index": (
        "I",
        int,
        None,
        "with --plan: the task, from 0; it builds plan lines I*K to I*K+K-1",
    ),
    "--per-task": (
        "K",
        positive_int("--per-task"),
        1,
        "with --plan: permutations per task (default: 1)",
    ),
    "--task-ended": (
        "CODE",
        int,
        None,
        "with --plan: build nothing; the task's build ended with CODE (128 + a signal): record"
        " why its killed builds died (the array file's task runs this)",
    ),
}


RETRY_FLAG = "--retry-scale"


def named(shapes: tuple[str, ...]) -> str:
    """Formats as a usage line names them: ``--slurm, --sge or --pbs``."""
    flags = [f"--{shape}" for shape in shapes]
    return " or ".join([", ".join(flags[:-1]), flags[-1]] if len(flags) > 1 else flags)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``plan``'s own options: the engine (one is required), then the job's, resources' and one
    engine's, each group under its heading in ``plan --help``."""
    engines = parser.add_argument_group("the engine (one of)").add_mutually_exclusive_group(
        required=True
    )
    for name, (_, _, text) in ENGINES.items():
        engines.add_argument(
            f"--{name}", dest="engine", action="store_const", const=name, help=text
        )
    group = parser.add_argument_group(
        "every engine's tasks (resource flags override the pipeline's)"
    )
    for flag, (kind, text) in JOB_FLAGS.items():
        group.add_argument(flag, type=kind, help=text)
    for flag, keywords in TASK_ENVIRONMENT_FLAGS.items():
        group.add_argument(flag, **keywords)
    group.add_argument("--learn", action="store_true", help=LEARN_HELP)
    for flag, (_, kind, text) in RESOURCE_FLAGS.items():
        group.add_argument(flag, type=kind, help=f"{text} (default: the pipeline's, if any)")
    for flag, (shapes, kind, text) in ENGINE_FLAGS.items():
        group.add_argument(flag, type=kind, help=f"with {named(shapes)}: {text}")
    add_retry_arguments(parser)


def add_task_arguments(parser: argparse.ArgumentParser) -> None:
    """An array task's options, in one group of ``build --help``."""
    group = parser.add_argument_group("array tasks (the files of plan --slurm, --sge, ...)")
    for flag, (metavar, kind, default, text) in TASK_FLAGS.items():
        group.add_argument(flag, metavar=metavar, type=kind, default=default, help=text)


def add_retry_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("resubmitting failures (with --status fail)")
    group.add_argument(
        RETRY_FLAG,
        metavar="mem=F,time=F",
        help="only the failures worth retrying, out-of-memory ones with memory times F,"
        " timed-out ones with time times F (factors of at least 1)",
    )
    group.add_argument(
        "--retry-exceptions",
        action="store_true",
        help=f"with {RETRY_FLAG}: retry exceptions and exits too, with the same resources",
    )


def refuse_stray(args: argparse.Namespace) -> None:
    """A flag given to an engine that does not take it: one line naming both."""
    for flag, (engines, _, _) in ENGINE_FLAGS.items():
        if given(args, flag) is not None and args.engine not in engines:
            raise UsageError(f"{flag} only applies with {named(engines)}")
    if args.retry_exceptions and args.retry_scale is None:
        raise UsageError(f"--retry-exceptions only applies with {RETRY_FLAG}")


def given(args: argparse.Namespace, flag: str) -> Any:
    return getattr(args, flag[2:].replace("-", "_"))
