"""Self-commands: for each entry the command, runnable from the project root, that builds it."""

from __future__ import annotations

import shlex

from ... import settings
from .. import axes
from ..ids import UsageError
from ..layout import SELF
from ..manifest.entries import Entry
from ..manifest.selection import Selection
from ..status import STALE
from . import Context


def safe_path(path: str) -> str:
    """A path that goes into a generated file, refused if a control character could break out of
    a command or a comment there (a newline ends a comment; bash runs the next line)."""
    if not path.isprintable():
        raise UsageError(
            f"output folder {path!r} holds a control character; generated commands refuse it"
        )
    return path


def command_head(folder: str, python: str | None = None) -> str:
    """What every self-command starts with, up to its input id flag: the builder run by the
    project's runner, or by the interpreter ``python`` names (an array task's ``--python``)."""
    safe_path(folder)
    if folder.startswith("-"):  # argparse would read it as an option
        folder = f"./{folder}"
    builder = SELF if python is None else f"{shlex.quote(python)} -m {settings.PACKAGE}.builder"
    return f"{builder} build --output-folder {shlex.quote(folder)}"


def self_commands(entries: list[Entry], context: Context) -> list[str]:
    """One command per entry; a stale artifact is done, so its command always carries --force
    (STALE is a whole status: it has no phase after it)."""
    head = command_head(context.command_folder)
    tail = " --force" if context.force else ""
    input_key, param_key = axes.INPUT_KEY, axes.PARAM_KEY
    return [
        f"{head} {axes.INPUT_FLAG} {e[input_key]} {axes.PARAM_FLAG} {e[param_key]}"
        f"{' --force' if e['status'] == STALE else tail}"
        for e in entries
    ]


def format_commands(entries: list[Entry], selection: Selection, context: Context) -> list[str]:
    return [f"{command}\n" for command in self_commands(entries, context)]
