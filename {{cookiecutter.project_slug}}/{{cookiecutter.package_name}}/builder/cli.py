"""Command line: the parser, and a handler per subcommand; ``build`` imports the runner late.

Info subcommands import the standard library, ``settings`` and the user's ``pipeline`` module, never
the build side (``manifest --stale`` and ``show`` add sqlite3 to read SQLite artifacts'
provenance). Every output of ``manifest`` goes one way: entries, ``select``, a format from the
table in ``formats``. Errors a user can cause end as one line on stderr and exit code 2; stdout
carries only data.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .. import settings
from . import array_options, axes, layout, selection, status
from .array_options import ARRAY_SHAPES
from .formats.commands import SELF
from .ids import UsageError
from .manifest import (
    Entry,
    costs_pairs,
    discover_inputs,
    estimate_cost,
    param_names,
    permutation_entry,
    permutation_manifest,
)
from .pipeline_module import pipeline
from .selection import Selection, positive_int, select

if TYPE_CHECKING:
    from .overall import Verbosity
    from .plan import Frozen
    from .retry import Retry
    from .submission import ArrayGroup, ArrayJob


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line naming the problem, not a usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {message} (see: {self.prog} --help)\n")


# `manifest`'s output flags and what each prints (the format of the same name; none: a table).
SHAPES = {
    "commands": "print one build command per permutation",
    "json": "print one JSON document: each permutation's status, artifact, costs and command",
    "grid": f"print the matrix: a row per {axes.INPUT_AXIS}, a column per {axes.PARAM_AXIS}",
    "slurm": "write plan files and print a bash file that submits SLURM job arrays over them",
    "sge": "the same for Grid Engine (SGE, Son of Grid Engine, Altair)",
    "pbs": "the same for PBS Pro and OpenPBS",
    "lsf": "the same for LSF",
    "kubernetes": "write plan files and print Kubernetes Indexed Jobs over them (YAML)",
    "aws-batch": "write plan files and print AWS Batch submit-job inputs over them (JSON Lines)",
}


# `build`'s flags of what it tells on stderr beyond its progress (neither: "normal").
VERBOSITY = {
    "quiet": "only warnings, errors and the final summary on stderr",
    "verbose": "each phase's lines too, for a build over many permutations",
}

# The outputs that carry --force into the commands they write.
FORCED = ("commands", "json", *ARRAY_SHAPES)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=SELF, description=f"{settings.PROJECT_NAME}: {settings.DESCRIPTION}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    default_folder = f"default: {settings.DEFAULT_OUTPUT_FOLDER}/ in the project root"

    manifest = commands.add_parser("manifest", help="show every permutation and its build status")
    manifest.add_argument("--output-folder", help=default_folder)
    selection.add_arguments(manifest)
    shape = manifest.add_mutually_exclusive_group()
    for name, text in SHAPES.items():
        shape.add_argument(f"--{name}", dest="shape", action="store_const", const=name, help=text)
    manifest.add_argument(
        "--force",
        action="store_true",
        help=f"with {array_options.named(FORCED)}: add --force",
    )
    array_options.add_arguments(manifest)

    show = commands.add_parser(
        "show", help="print what a built artifact was built from, and whether it is stale"
    )
    show.add_argument("permutation_id", help="an id that `manifest` lists")
    show.add_argument("--output-folder", help=default_folder)
    show.add_argument("--json", action="store_true", help="print it as one JSON document")

    commands.add_parser(
        axes.LIST_INPUTS, help=f"list the discovered {axes.INPUT_AXIS} ids and their costs"
    )
    commands.add_parser(axes.LIST_PARAMS, help=f"list the {axes.PARAM_AXIS} names of the registry")

    build = commands.add_parser(
        "build",
        help="build the selected permutations (default: every one not done), cheapest first",
    )
    build.add_argument("--output-folder", required=True, help="where the artifacts go (required)")
    selection.add_arguments(build)
    build.add_argument(
        "--force",
        action="store_true",
        help="rebuild even if done, dropping any staged partial build",
    )
    build.add_argument(
        "--jobs",
        type=positive_int("--jobs"),
        default=1,
        help="build up to N permutations at once, in N worker processes (default: 1)",
    )
    shown = build.add_mutually_exclusive_group()
    for level, text in VERBOSITY.items():
        shown.add_argument(
            f"--{level}", dest="verbosity", action="store_const", const=level, help=text
        )
    build.set_defaults(verbosity="normal")
    array_options.add_task_arguments(build)
    return parser


def _listed(output_dir: Path, chosen: Selection, *, sizes: bool) -> list[Entry]:
    """The whole matrix, checked against the axis values asked for, marked stale if asked."""
    entries = permutation_manifest(output_dir, sizes=sizes)
    selection.check_axis_values(chosen, entries)
    if chosen.stale:  # the only listing that reads artifacts: their provenance
        from .stale import mark_stale

        mark_stale(entries, output_dir)
    return entries


def _nothing(what: str) -> int:
    print(what, file=sys.stderr)
    return 0


def run_manifest(args: argparse.Namespace) -> int:
    from .formats import Context, format_of

    if args.force and args.shape not in FORCED:
        raise UsageError(f"--force only applies with {array_options.named(FORCED)}")
    array_options.refuse_stray(args)
    chosen = selection.from_args(args)
    output_dir = layout.output_folder(args.output_folder)
    array_job: ArrayJob | None = None
    retrying: Retry | None = None
    if args.shape in ARRAY_SHAPES:  # checked before the listing, so a mistake costs nothing
        from . import retry, submission

        array_job = submission.job_of(args, output_dir)
        retrying = retry.from_args(args, chosen.statuses)
    entries = _listed(output_dir, chosen, sizes=args.shape == "json")  # only JSON shows sizes
    selected = select(entries, chosen)
    if not selected:
        return _nothing("manifest: no permutation matches the selection; nothing written")
    width, colour = 80, False
    if args.shape == "grid":
        from .terminal import terminal_style

        width, colour = terminal_style(sys.stdout)
    groups: list[ArrayGroup] = []
    plans: list[Frozen] = []
    if array_job is not None:  # the tasks read their permutations from frozen plans
        force = args.force or any(e["status"] == status.STALE for e in selected)
        from .failures import learn
        from .submission import array_groups

        if retrying is not None:  # what SLURM knows of killed builds' jobs, in one call
            learn(selected)
        groups, plans = array_groups(array_job, selected, force=force, adjust=retrying)
        if retrying is not None:
            retrying.report()
            if not groups:
                return _nothing("manifest: no failure is worth retrying; nothing written")
    context = Context(
        everything=entries,
        command_folder=layout.command_folder(output_dir),
        force=args.force,
        stale=chosen.stale,
        array_job=array_job,
        array_groups=tuple(groups),
        width=width,
        colour=colour,
    )
    pieces = format_of(args.shape or "table")(selected, chosen, context)
    if plans:  # written once the format took every group: a refusal leaves no plan behind
        from .plan import publish

        pieces = list(pieces)
        publish(plans)
    sys.stdout.writelines(pieces)
    return 0


def run_show(args: argparse.Namespace) -> int:
    from .show import format_json, format_show, load

    document = load(layout.output_folder(args.output_folder), args.permutation_id)
    sys.stdout.write(format_json(document) if args.json else format_show(document))
    return 0


def run_list_inputs(args: argparse.Namespace) -> int:
    inputs = discover_inputs()
    width = max((len(i) for i in inputs), default=0)
    for inp in inputs:  # a pipeline that costs pairs has no cost per input to show
        cost = "" if costs_pairs() else f"  {estimate_cost(inp):,} {pipeline.COST_UNIT}"
        print(f"{inp:<{width}}{cost}")
    return 0


def run_list_params(args: argparse.Namespace) -> int:
    import json

    names = param_names()
    width = max((len(n) for n in names), default=0)
    for name in names:
        print(f"{name:<{width}}  {json.dumps(pipeline.PARAM_REGISTRY[name], sort_keys=True)}")
    return 0


# What `build` builds when no status is asked for: what is not done, or done with a rebuild
# pending; with --force, everything selected.
NEEDS_BUILD = frozenset({"missing", "fail"})


def run_build(args: argparse.Namespace) -> int:
    output_dir = layout.output_folder(args.output_folder)
    chosen = selection.from_args(args)
    if args.plan is not None or args.task_index is not None or args.task_ended is not None:
        return _build_planned(args, output_dir, chosen)
    force = args.force or chosen.stale  # a stale artifact is done: rebuilding it is forcing it
    pair = chosen.single_pair()
    if pair is not None:  # one permutation: answered without listing the output folder
        # (a done one with a leftover stage goes to the runner, which clears it)
        entry = permutation_entry(output_dir, *pair)
        leftover = layout.staging_dir(output_dir, entry["permutation_id"]).is_dir()
        if status.state_of(entry["status"]) == status.DONE and not (force or leftover):
            done = f"{entry['permutation_id']} is done: {entry['output_path']}"
            return _nothing(f"{done} (--force rebuilds it)")
        entries = [entry]
    else:
        if not chosen.statuses and not force:
            chosen = chosen._replace(statuses=NEEDS_BUILD)
        everything = _listed(output_dir, chosen, sizes=False)
        entries = select(everything, chosen)
        if not entries:
            selection.refuse_unmatched(chosen, everything)
            return _nothing("build: no selected permutation needs a build (--force rebuilds)")
    return _build(entries, output_dir, force=force, jobs=args.jobs, verbosity=args.verbosity)


def _build_planned(args: argparse.Namespace, output_dir: Path, chosen: Selection) -> int:
    """An array task: the permutations of its index in the plan, in order."""
    if args.plan is None or args.task_index is None:
        raise UsageError("--plan and --task-index go together: an array task needs both")
    if chosen != Selection():
        raise UsageError("--plan builds what the plan lists: drop the selectors")
    if args.task_index < 0:
        raise UsageError(f"--task-index {args.task_index} is not a whole number of at least 0")
    from .manifest import pair_entries
    from .plan import read_task

    pairs, forced = read_task(Path(args.plan), args.task_index, args.per_task)
    entries = pair_entries(output_dir, pairs)
    if args.task_ended is not None:  # the task's wrapper, after its build was killed
        from .task_end import record_end

        return record_end(entries, output_dir, args.task_ended)
    force = args.force or forced
    return _build(entries, output_dir, force=force, jobs=args.jobs, verbosity=args.verbosity)


def _build(
    entries: list[Entry], output_dir: Path, *, force: bool, jobs: int, verbosity: Verbosity
) -> int:
    """On a pool of ``jobs`` workers, or in this process; from here on, a scheduler's SIGTERM (or
    SIGHUP, SIGQUIT) unwinds the build like Ctrl-C (before, it stops a process that has written
    nothing)."""
    from . import interrupts

    interrupts.handle_stops()
    if jobs > 1 and len(entries) > 1:
        from .pool import build_in_pool

        return build_in_pool(entries, output_dir, force=force, jobs=jobs, verbosity=verbosity)
    from .runner import build_all

    return build_all(entries, output_dir, force=force, verbosity=verbosity)


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "manifest": run_manifest,
    "show": run_show,
    axes.LIST_INPUTS: run_list_inputs,
    axes.LIST_PARAMS: run_list_params,
    "build": run_build,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return HANDLERS[args.command](args)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:  # outside a phase (a build reports its own): no traceback
        from . import interrupts

        print(f"interrupted by {interrupts.signal_name(stop)}", file=sys.stderr)
        return interrupts.exit_code(stop)
    except BrokenPipeError:  # a reader such as `head` stopped early: not our error to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
