"""The commands README.md and docs/ show are the builder's own, so the docs follow the CLI.

Each shell line of a ``bash`` block runs, in its document's order, on the test pipeline: the part
the builder runs, up to a pipe or ``&&`` (what follows belongs to another program: GNU parallel,
jq, a scheduler's submitter; the template's own tests run those lines whole). Each command of an
example (``$ ...``) or of a block parses as its command's arguments, and each command named in
the text (``manifest --grid``, ``build --plan PLAN``) names only flags that command has, written
out in full: a doc that shows a flag the builder lacks fails here.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
from pathlib import Path
from typing import NamedTuple

import pytest
from conftest import ROOT, Project, run_commands_through_a_shell

from {{ cookiecutter.package_name }} import settings
from {{ cookiecutter.package_name }}.builder.cli import COMMANDS, command_parser

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BUILDER = f"-m {settings.PACKAGE}.builder "
SHELL_LINE = f"{settings.COMMAND_RUNNER} {BUILDER}"
# Flags of other programs that the docs name on their own, in `code`: each with its program.
OTHER_PROGRAMS = {
    "--checkout": "cookiecutter",
    "--output-dir": "cookiecutter",
    "--overwrite-if-exists": "cookiecutter",
    "--gres": "sbatch",
}
OPERATORS = frozenset({"|", "||", "&", "&&", ";", ">", ">>", "<", "(", ")"})
CODE_SPAN = re.compile(r"`([^`]+)`")


class Shown(NamedTuple):
    """A command a doc shows: where, its words after the builder, and whether it is written as
    it runs (a block's line, an example) or as a form, in the text (`show ID [--json]`)."""

    where: str
    words: list[str]
    runs_as_written: bool


def words_of(text: str) -> list[str]:
    """A command's words, up to the first shell operator (a pipe, a redirect, ``&&``); split as
    the shell would, or on spaces for a form inside another program's quotes (``sh -c '...'``)."""
    text = text.replace("\\|", "|")
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        words = list(lexer)
    except ValueError:  # a quote this command's words do not close
        words = text.split()
    return words[: next((i for i, word in enumerate(words) if word in OPERATORS), len(words))]


def blocks_and_text(doc: Path) -> tuple[list[tuple[int, str, str]], str]:
    """The lines of the doc's fenced blocks (line number, language, text), and its text outside
    them (block lines blanked, so that line numbers stay)."""
    block_lines, text_lines = [], []
    language = None
    for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
        fence = line.strip().startswith("```")
        if fence:
            language = line.strip()[3:] if language is None else None
        elif language is not None:
            block_lines.append((number, language, line))
        text_lines.append("" if fence or language is not None else line)
    return block_lines, "\n".join(text_lines)


def shown_commands(doc: Path) -> list[Shown]:
    """Every builder command the doc shows, in blocks and in its text."""
    block_lines, text = blocks_and_text(doc)
    shown = []
    pending = ""  # a block line ending in a backslash goes on in the next
    for number, _, line in block_lines:
        line = pending + line
        pending = line[:-1] + " " if line.endswith("\\") else ""
        if not pending and BUILDER in line:
            command = line.split(BUILDER, 1)[1]
            shown.append(Shown(f"{doc.name}:{number}", words_of(command), True))
    for span in CODE_SPAN.findall(text):  # in the text, commands are forms: their flags count
        span = " ".join(span.split())
        command = span.split(BUILDER, 1)[1] if BUILDER in span else span
        if command.split(" ", 1)[0] in COMMANDS or command.startswith("--"):
            shown.append(Shown(f"{doc.name}: `{span}`", words_of(command), False))
    return shown


def flags_of(words: list[str]) -> list[str]:
    """The flags among a command's words, as written (``--mem=4G`` is ``--mem``; a form's
    brackets and commas dropped)."""
    return [
        word.strip("[](),").split("=", 1)[0] for word in words if word.strip("[(").startswith("--")
    ]


def parsers() -> dict[str, argparse.ArgumentParser]:
    return {name: command_parser(name) for name in COMMANDS}


def problems_with(command: Shown, parser_of: dict[str, argparse.ArgumentParser]) -> list[str]:
    """What is wrong with a shown command: an unknown command or flag, or arguments its parser
    refuses (for one written as it runs)."""
    if not command.words:
        return [f"{command.where}: no command"]
    name, *arguments = command.words
    if name.startswith("--"):  # flags named on their own: some command's, or another program's
        known = {flag for parser in parser_of.values() for flag in parser._option_string_actions}
        return [
            f"{command.where}: no command takes {flag}"
            for flag in flags_of(command.words)
            if flag not in known and flag not in OTHER_PROGRAMS
        ]
    if name not in parser_of:
        return [f"{command.where}: no command {name!r}"]
    parser = parser_of[name]
    found = [
        f"{command.where}: `{name}` has no flag {flag}"
        for flag in flags_of(arguments)
        if flag not in parser._option_string_actions  # written out in full, never abbreviated
    ]
    if command.runs_as_written and not found:
        refused = io.StringIO()
        try:
            with contextlib.redirect_stderr(refused):
                parser.parse_args(arguments)
        except SystemExit:
            found.append(f"{command.where}: {refused.getvalue().strip()}")
    return found


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: doc.name)
def test_every_command_shown_is_one_the_builder_takes(doc: Path) -> None:
    shown = shown_commands(doc)
    parser_of = parsers()
    assert [problem for command in shown for problem in problems_with(command, parser_of)] == []


def test_the_docs_show_commands_and_the_check_sees_a_wrong_flag() -> None:
    """The check above reads the commands (of every doc but the layout) and refuses what it must."""
    for doc in DOCS:
        assert doc.name == "layout.md" or shown_commands(doc), f"{doc.name} shows no command"
    parser_of = parsers()
    wrong = [
        Shown("stale flag", ["manifest", "--slurm"], False),
        Shown("abbreviated", ["manifest", "--miss"], True),
        Shown("not a choice", ["manifest", "--sort", "cost"], True),
        Shown("no value", ["plan", "--slurm", "--mem"], True),
        Shown("no such command", ["status"], False),
        Shown("no command's flag", ["--retry"], False),
    ]
    assert [bool(problems_with(command, parser_of)) for command in wrong] == [True] * len(wrong)
    right = Shown("right", words_of("plan --missing --slurm --mem 4G > build.slurm"), True)
    assert problems_with(right, parser_of) == []


def shell_lines(doc: Path) -> list[tuple[int, str]]:
    """The doc's shell lines that run the builder, each cut where another program takes over."""
    block_lines, _ = blocks_and_text(doc)
    lines = []
    for number, language, line in block_lines:
        if language in ("bash", "sh") and line.startswith(SHELL_LINE):
            lines.append((number, re.split(r" \| | && ", line, maxsplit=1)[0]))
    return lines


@pytest.mark.parametrize("doc", [doc for doc in DOCS if shell_lines(doc)], ids=lambda doc: doc.name)
def test_shell_lines_run_as_written(project: Project, doc: Path) -> None:
    for number, line in shell_lines(doc):
        run_commands_through_a_shell(project, line, where=f"{doc.name}:{number}: ")


def test_the_layout_names_every_file_of_the_builder() -> None:
    """docs/layout.md's tree against the builder's files: each one named, none that is not."""
    layout = (ROOT / "docs" / "layout.md").read_text(encoding="utf-8")
    tree = layout.split("## The builder", 1)[1].split("```", 2)[1]
    builder = ROOT / settings.PACKAGE / "builder"
    files = {
        path.name
        for path in builder.rglob("*")
        if path.suffix in (".py", ".html") and path.name != "__init__.py"
    }
    folders = {path.name + "/" for path in builder.iterdir() if (path / "__init__.py").is_file()}
    entries = re.findall(r"── ([\w.]+(?:, [\w.]+)*)", tree)  # a file, or files on one line
    named = {name for entry in entries for name in entry.split(", ") if "." in name}
    assert sorted(files - named) == [], "files of builder/ that docs/layout.md does not name"
    assert sorted(named - files) == [], "files docs/layout.md names that builder/ does not have"
    assert sorted(folder for folder in folders if f"── {folder}" not in tree) == []


def anchor(heading: str) -> str:
    """A heading's anchor, as GitHub makes it: lower case, punctuation dropped, spaces as '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_links_between_the_docs_reach_a_file_and_a_heading() -> None:
    """Every relative link of README.md and docs/ names a file there is, and a heading it has."""
    broken = []
    for doc in DOCS:
        _, text = blocks_and_text(doc)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if "://" in target:
                continue
            path, _, fragment = target.partition("#")
            linked = (doc.parent / path).resolve() if path else doc
            if not linked.is_file():
                broken.append(f"{doc.name}: {target} (no such file)")
            elif fragment:
                headings = re.findall(r"^#+ (.+)$", blocks_and_text(linked)[1], re.M)
                if fragment not in {anchor(heading) for heading in headings}:
                    broken.append(f"{doc.name}: {target} (no such heading)")
    assert broken == []
