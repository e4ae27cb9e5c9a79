"""Command line: info subcommands (``manifest``, ``list-*``) and ``build``, with deferred imports.

Info subcommands import only the standard library, ``settings`` and the user's light ``pipeline``
module; ``build`` imports the runner (logging, sqlite3 and whatever the phases need) on demand.
Errors a user can cause end as one line on stderr and exit code 2; stdout carries only data.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from pathlib import Path
from typing import Any

from .. import pipeline, settings
from . import axes, interrupts
from .ids import UsageError
from .manifest import (
    Entry,
    check_known,
    discover_inputs,
    param_names,
    permutation_entry,
    permutation_manifest,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
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


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"--limit {text!r} is not a whole number of at least 1")
    return value


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
        "--limit", type=_positive_int, help="keep the first N after filtering and sorting"
    )
    shape = manifest.add_mutually_exclusive_group()
    shape.add_argument(
        "--commands", action="store_true", help="print one build command per permutation"
    )
    shape.add_argument(
        "--json", action="store_true", help="print one JSON document with every field"
    )
    manifest.add_argument(
        "--force",
        action="store_true",
        help="with --commands or --json: add --force to each command",
    )

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
    return parser


def output_folder(given: str | None) -> Path:
    """The output folder as an absolute path: as given (from the current folder), or the default."""
    folder = Path(given) if given else PROJECT_ROOT / settings.DEFAULT_OUTPUT_FOLDER
    return Path(os.path.abspath(folder))


def command_folder(output_dir: Path) -> str:
    """The output folder as self-commands name it: relative to the project root when inside it."""
    try:
        return str(output_dir.relative_to(PROJECT_ROOT)) or "."
    except ValueError:
        return str(output_dir)


def run_manifest(args: argparse.Namespace) -> int:
    from .printer import print_manifest

    if args.force and not (args.commands or args.json):
        raise UsageError("--force only applies with --commands or --json")
    output_dir = output_folder(args.output_folder)
    # A manifest is a few hundred thousand dicts and tuples that live until exit and hold no cycle:
    # the cyclic collector would only rescan them, a fifth of the time of a large manifest.
    gc.disable()
    print_manifest(
        permutation_manifest(output_dir),
        command_folder(output_dir),
        sys.stdout,
        missing=args.missing,
        done=args.done,
        sort=args.sort,
        limit=args.limit,
        commands=args.commands,
        force=args.force,
        as_json=args.json,
    )
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
    output_dir = output_folder(args.output_folder)
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
    from .runner import build_all

    return build_all(entries, output_dir, force=args.force)


def _selected_for_build(
    output_dir: Path, inp: str | None, param: str | None, *, force: bool
) -> list[Entry]:
    """Every permutation on the axes not pinned, cheapest first; only missing ones unless forced."""
    from .printer import select

    check_known(inp, param)
    entries = [
        e
        for e in permutation_manifest(output_dir)
        if (inp is None or e[axes.INPUT_KEY] == inp)
        and (param is None or e[axes.PARAM_KEY] == param)
    ]
    return select(entries, missing=not force, sort="size")


HANDLERS = {
    "manifest": run_manifest,
    axes.LIST_INPUTS: run_list_inputs,
    axes.LIST_PARAMS: run_list_params,
    "build": run_build,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    interrupts.handle_sigterm()
    try:
        return HANDLERS[args.command](args)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:  # outside a phase (a build reports its own): no traceback
        print(f"interrupted by {interrupts.signal_name(stop)}", file=sys.stderr)
        return interrupts.exit_code(stop)
    except BrokenPipeError:  # a reader such as `head` stopped early: not our error to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
