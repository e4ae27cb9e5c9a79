"""Command line: a table of commands, and ``main``, which imports only the command asked for.

Like pip's ``commands_dict``, ``COMMANDS`` maps each command's name to its module (in
``commands/``) and a one-line summary: the top-level ``--help`` lists the summaries without
importing any command, and each command declares its own arguments, so ``manifest --help`` is
complete while ``manifest`` builds one parser, of ``manifest`` alone (as pip's
``create_command``). Info commands import the
standard library, ``settings`` and the user's ``pipeline`` module, never the build side. Errors a
user can cause end as one line on stderr and exit code 2; stdout carries only data.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib import import_module
from typing import NamedTuple

from .. import settings
from . import axes
from .ids import UsageError
from .layout import SELF, TRACING_VARIABLE


class Command(NamedTuple):
    module: str  # in commands/: declares add_arguments(parser) and run(args) -> exit code
    summary: str


COMMANDS = {
    "manifest": Command("manifest", "show every permutation and its build status"),
    "show": Command("show", "print what a built artifact was built from, and whether it is stale"),
    axes.LIST_INPUTS: Command(
        "list_inputs", f"list the discovered {axes.INPUT_AXIS} ids and their costs"
    ),
    axes.LIST_PARAMS: Command("list_params", f"list the {axes.PARAM_AXIS} names of the registry"),
    "build": Command(
        "build", "build the selected permutations (default: every one not done), cheapest first"
    ),
    "plan": Command(
        "plan", "write plan files and print the file that submits them to SLURM, Grid Engine, ..."
    ),
    "report": Command(
        "report", "write one HTML file: the grid, each permutation's detail, time and memory"
    ),
    "accept": Command(
        "accept", "record today's inputs, parameter, code and libraries as built artifacts' own"
    ),
    "clean": Command(
        "clean",
        "remove orphans (and failed stages, plans); shows what it would remove unless --yes",
    ),
}


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line naming the problem, not a usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {message} (see: {self.prog} --help)\n")


def command_parser(name: str) -> argparse.ArgumentParser:
    """The parser of one command, its module imported: the only parser a run builds."""
    command = COMMANDS[name]
    module = import_module(f".commands.{command.module}", __package__)
    parser = _Parser(prog=f"{SELF} {name}", description=command.summary)
    module.add_arguments(parser)
    parser.set_defaults(command=name, run=module.run)
    return parser


def overview() -> argparse.ArgumentParser:
    """The top-level parser, for ``--help`` and mistakes before a command: every command by name
    and summary, none of their modules imported."""
    parser = _Parser(prog=SELF, description=f"{settings.PROJECT_NAME}: {settings.DESCRIPTION}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in COMMANDS.items():
        commands.add_parser(name, help=command.summary, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    asked = argv[0] if argv and argv[0] in COMMANDS else None
    # A build, its workers and its array tasks record the code they run; the variable is set for
    # the command's length only, so that a caller of main() (a test) keeps its environment.
    traced = asked == "build" and TRACING_VARIABLE not in os.environ
    if traced:
        os.environ[TRACING_VARIABLE] = "1"
    try:
        return _run(argv, asked)
    finally:
        if traced:
            os.environ.pop(TRACING_VARIABLE, None)


def _run(argv: list[str], asked: str | None) -> int:
    if asked is not None:
        args = command_parser(asked).parse_args(argv[1:])
    else:  # --help, or no command: the overview prints it, or says what is wrong, and exits
        args = overview().parse_args(argv)
    try:
        code: int = args.run(args)
        return code
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
