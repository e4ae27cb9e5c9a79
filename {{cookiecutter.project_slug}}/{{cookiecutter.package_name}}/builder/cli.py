"""Command line: info subcommands (``manifest``, ``list-*``, ``show``) and ``build``, imported late.

Info subcommands import only the standard library, ``settings`` and the user's light ``pipeline``
module (``manifest --stale`` and ``show`` add sqlite3 to read SQLite artifacts' provenance);
``build`` imports the runner (logging, sqlite3 and whatever the phases need) on demand.
Errors a user can cause end as one line on stderr and exit code 2; stdout carries only data.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from pathlib import Path

from .. import settings
from . import axes, layout
from .ids import UsageError
from .manifest import (
    Entry,
    Matrix,
    check_known,
    discover_inputs,
    param_names,
    permutation_entry,
    permutation_manifest,
)
from .pipeline_module import pipeline

# typing.TYPE_CHECKING without importing typing, which would add 4 ms to every info subcommand.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from . import slurm

SELF = f"{settings.COMMAND_RUNNER} -m {settings.PACKAGE}.builder"


def _terminal_columns() -> int:
    """What ``shutil.get_terminal_size`` answers, without importing shutil (and zlib, bz2, lzma)."""
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return 80


class _HelpFormatter(argparse.HelpFormatter):
    """argparse makes one per argument on every run; the stock one imports shutil for its width."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=_terminal_columns() - 2)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line naming the problem, not a usage dump."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(formatter_class=_HelpFormatter, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {message} (see: {self.prog} --help)\n")


def _positive_int(flag: str) -> Callable[[str], int]:
    """An argparse type for ``flag``: a whole number of at least 1, or a one-line error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise argparse.ArgumentTypeError(f"{flag} {text!r} is not a whole number of at least 1")
        return value

    return parse


# `manifest --slurm` options: flag -> (argparse type, help); they apply only with --slurm.
SLURM_FLAGS: dict[str, tuple[Callable[[str], object], str]] = {
    "--partition": (str, "#SBATCH --partition (default: the cluster's)"),
    "--time": (str, "#SBATCH --time per task, e.g. 2:00:00 (default: the cluster's)"),
    "--cpus-per-task": (_positive_int("--cpus-per-task"), "#SBATCH --cpus-per-task (default: 1)"),
    "--mem": (str, "#SBATCH --mem per task, e.g. 4G (default: the cluster's)"),
    "--array-limit": (_positive_int("--array-limit"), "at most N tasks of an array at once (%%N)"),
    "--max-array-size": (
        _positive_int("--max-array-size"),
        "the cluster's MaxArraySize: more tasks than this become several arrays (default: 1000)",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=SELF, description=f"{settings.PROJECT_NAME}: {settings.DESCRIPTION}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    manifest = commands.add_parser("manifest", help="show every permutation and its build status")
    manifest.add_argument(
        "--output-folder", help=f"default: {settings.DEFAULT_OUTPUT_FOLDER}/ in the project root"
    )
    status = manifest.add_mutually_exclusive_group()
    status.add_argument("--missing", action="store_true", help="only permutations not built yet")
    status.add_argument("--done", action="store_true", help="only built permutations")
    manifest.add_argument(
        "--sort", choices=["size", "name"], default="size", help="size: cheapest first (default)"
    )
    manifest.add_argument(
        "--limit",
        type=_positive_int("--limit"),
        help="keep the first N after filtering and sorting",
    )
    manifest.add_argument(
        "--shard",
        metavar="I/N",
        help="only shard I of N: a fixed split of the whole matrix, balanced by estimated cost",
    )
    shape = manifest.add_mutually_exclusive_group()
    shape.add_argument(
        "--commands", action="store_true", help="print one build command per permutation"
    )
    shape.add_argument(
        "--json",
        action="store_true",
        help="print one JSON document: each permutation's status, artifact, costs and command",
    )
    shape.add_argument(
        "--grid",
        action="store_true",
        help=f"print the matrix: a row per {axes.INPUT_AXIS}, a column per {axes.PARAM_AXIS}",
    )
    shape.add_argument(
        "--slurm",
        action="store_true",
        help="print a bash file that submits the builds as SLURM job arrays (bash FILE)",
    )
    manifest.add_argument(
        "--stale",
        action="store_true",
        help="only built permutations whose inputs, parameter or pipeline code changed since"
        " (reads each artifact's provenance); with --missing, the missing ones too",
    )
    manifest.add_argument(
        "--force",
        action="store_true",
        help="with --commands, --json or --slurm: add --force to each command",
    )
    slurm_options = manifest.add_argument_group("with --slurm")
    for flag, (kind, text) in SLURM_FLAGS.items():
        slurm_options.add_argument(flag, type=kind, help=text)

    show = commands.add_parser(
        "show", help="print what a built artifact was built from, and whether it is stale"
    )
    show.add_argument("permutation_id", help="an id that `manifest` lists")
    show.add_argument(
        "--output-folder", help=f"default: {settings.DEFAULT_OUTPUT_FOLDER}/ in the project root"
    )
    show.add_argument("--json", action="store_true", help="print it as one JSON document")

    commands.add_parser(
        axes.LIST_INPUTS, help=f"list the discovered {axes.INPUT_AXIS} ids and their costs"
    )
    commands.add_parser(axes.LIST_PARAMS, help=f"list the {axes.PARAM_AXIS} names of the registry")

    build = commands.add_parser(
        "build", help="build one permutation, or every missing one cheapest first"
    )
    build.add_argument("--output-folder", required=True)
    build.add_argument(
        axes.INPUT_FLAG, dest=axes.INPUT_KEY, help=f"only this {axes.INPUT_AXIS} (default: all)"
    )
    build.add_argument(
        axes.PARAM_FLAG, dest=axes.PARAM_KEY, help=f"only this {axes.PARAM_AXIS} (default: all)"
    )
    build.add_argument(
        "--force",
        action="store_true",
        help="rebuild even if done, dropping any staged partial build",
    )
    build.add_argument(
        "--jobs",
        type=_positive_int("--jobs"),
        default=1,
        help="build up to N permutations at once, in N worker processes (default: 1)",
    )
    shown = build.add_mutually_exclusive_group()
    shown.add_argument(
        "--quiet",
        dest="verbosity",
        action="store_const",
        const="quiet",
        default="normal",
        help="only warnings, errors and the final summary on stderr",
    )
    shown.add_argument(
        "--verbose",
        dest="verbosity",
        action="store_const",
        const="verbose",
        help="each phase's lines too, for a build over many permutations",
    )
    return parser


def _slurm_job(args: argparse.Namespace, output_dir: Path) -> slurm.SlurmJob | None:
    """The SLURM choices of ``manifest --slurm``; a SLURM flag without it is a usage error."""
    chosen: dict[str, Any] = {}
    for flag in SLURM_FLAGS:
        dest = flag[2:].replace("-", "_")
        if getattr(args, dest) is not None:
            if not args.slurm:
                raise UsageError(f"{flag} only applies with --slurm")
            chosen[dest] = getattr(args, dest)
    if not args.slurm:
        return None
    from . import slurm

    return slurm.SlurmJob(str(layout.PROJECT_ROOT), str(output_dir), **chosen).check()


def run_manifest(args: argparse.Namespace) -> int:
    from .printer import matrix_document, print_manifest

    if args.force and not (args.commands or args.json or args.slurm):
        raise UsageError("--force only applies with --commands, --json or --slurm")
    if args.stale and args.done:
        raise UsageError("--stale already selects built permutations; drop --done")
    shard = None
    if args.shard is not None:
        from .shard import parse_shard, shard_of

        shard = parse_shard(args.shard)
    output_dir = layout.output_folder(args.output_folder)
    slurm_job = _slurm_job(args, output_dir)
    # A manifest is a few hundred thousand dicts, strings and tuples that live until exit and hold
    # no cycle: the cyclic collector would only rescan them as they are made, a third of the time
    # of a large manifest. Python still collects once at exit; frozen, what is loaded by now (the
    # modules, their functions) is not traversed then, 3% of a 10,000-permutation manifest.
    gc.disable()
    gc.freeze()
    if args.json and shard is None and not args.stale:  # shards and staleness need entry dicts
        sys.stdout.writelines(
            matrix_document(
                Matrix.listed(output_dir),
                layout.command_folder(output_dir),
                missing=args.missing,
                done=args.done,
                sort=args.sort,
                limit=args.limit,
                force=args.force,
            )
        )
        return 0
    entries = permutation_manifest(output_dir, sizes=args.json)  # only JSON shows sizes
    if shard is not None:
        entries = shard_of(entries, *shard)
    if args.stale:  # the only manifest that reads artifacts: their provenance
        from .stale import mark_stale

        mark_stale(entries)
    if args.grid:
        return _print_grid(entries, args)
    print_manifest(
        entries,
        layout.command_folder(output_dir),
        sys.stdout,
        missing=args.missing,
        done=args.done,
        sort=args.sort,
        limit=args.limit,
        commands=args.commands,
        force=args.force,
        as_json=args.json,
        stale=args.stale,
        slurm=slurm_job,
    )
    return 0


def _print_grid(entries: list[Entry], args: argparse.Namespace) -> int:
    from .grid import format_grid, grid_matrix
    from .terminal import terminal_style

    matrix = grid_matrix(
        entries,
        missing=args.missing,
        done=args.done,
        stale=args.stale,
        sort=args.sort,
        limit=args.limit,
    )
    width, colour = terminal_style(sys.stdout)
    sys.stdout.write(format_grid(matrix, width=width, colour=colour, stale=args.stale))
    return 0


def run_show(args: argparse.Namespace) -> int:
    from .show import format_json, format_show, load

    document = load(layout.output_folder(args.output_folder), args.permutation_id)
    sys.stdout.write(format_json(document) if args.json else format_show(document))
    return 0


def run_list_inputs(args: argparse.Namespace) -> int:
    inputs = discover_inputs()
    width = max((len(i) for i in inputs), default=0)
    for inp in inputs:
        print(f"{inp:<{width}}  {pipeline.estimate_cost(inp):,} {pipeline.COST_UNIT}")
    return 0


def run_list_params(args: argparse.Namespace) -> int:
    import json

    names = param_names()
    width = max((len(n) for n in names), default=0)
    for name in names:
        print(f"{name:<{width}}  {json.dumps(pipeline.PARAM_REGISTRY[name], sort_keys=True)}")
    return 0


def run_build(args: argparse.Namespace) -> int:
    # A scheduler's SIGTERM unwinds a build like Ctrl-C. Only here: the signal module's enums
    # would add a millisecond to every info subcommand, which SIGTERM may simply end.
    from . import interrupts

    interrupts.handle_sigterm()
    output_dir = layout.output_folder(args.output_folder)
    inp, param = getattr(args, axes.INPUT_KEY), getattr(args, axes.PARAM_KEY)
    if inp is not None and param is not None:
        entry = permutation_entry(output_dir, inp, param)
        if entry["done"] and not args.force:  # answered without importing the build machinery
            print(
                f"{entry['permutation_id']} is done: {entry['output_path']} (--force rebuilds it)",
                file=sys.stderr,
            )
            return 0
        entries = [entry]
    else:
        entries = _selected_for_build(output_dir, inp, param, force=args.force)
        if not entries:
            print(
                "nothing to build: every selected permutation is done (--force rebuilds)",
                file=sys.stderr,
            )
            return 0
    if args.jobs > 1 and len(entries) > 1:
        from .pool import build_in_pool

        return build_in_pool(
            entries, output_dir, force=args.force, jobs=args.jobs, verbosity=args.verbosity
        )
    from .runner import build_all

    return build_all(entries, output_dir, force=args.force, verbosity=args.verbosity)


def _selected_for_build(
    output_dir: Path, inp: str | None, param: str | None, *, force: bool
) -> list[Entry]:
    """Every permutation on the axes not pinned, cheapest first; only missing ones unless forced."""
    from .printer import select

    check_known(inp, param)
    entries = [
        e
        for e in permutation_manifest(output_dir, sizes=False)
        if (inp is None or e[axes.INPUT_KEY] == inp)
        and (param is None or e[axes.PARAM_KEY] == param)
    ]
    return select(entries, missing=not force, sort="size")


HANDLERS = {
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
