"""Refuse answers that would bake a broken project, one stderr line per problem."""

from __future__ import annotations

import json
import keyword
import re
import sys
from collections.abc import Callable, Iterator

# Rendered by cookiecutter as a JSON string: the answers are data, never pasted into code.
ANSWERS: dict[str, object] = json.loads(r"""{{ cookiecutter | tojson }}""")

SLUG = re.compile(r"[a-z0-9][a-z0-9._-]*")
AXIS = re.compile(r"[a-z][a-z0-9_]*")
PARAM_VALUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
EXTENSION = re.compile(r"[A-Za-z0-9]+(\.[A-Za-z0-9]+)*")
PARAM_VALUE_MAX = 64
RUNNERS = ("uv run", "python")
PLURALS = ("input_axis_plural", "param_axis_plural")
IDENTIFIER_FIX = "choose a valid, non-keyword identifier (e.g. perm_builder)"
# The extensions whose artifacts ctx.write_table writes, so that the demo builds (the names of
# cookiecutter.json's __artifact_kind: SQLite's four, and the file kinds as themselves).
WRITTEN = ("db", "sqlite", "sqlite3", "db3", "csv", "json", "jsonl", "parquet")
WRITTEN_KINDS = ("sqlite", "csv", "json", "jsonl", "parquet")

# Words the builder's CLI and manifest already use; an axis named like one would shadow it.
CLI_WORDS = frozenset(
    {
        *("force", "output", "output_folder", "build", "manifest", "missing", "done", "sort"),
        *("limit", "commands", "json", "help", "jobs", "shard", "slurm", "grid", "stale"),
        *("show", "list", "permutation", "label", "status"),
    }
)
ENTRY_KEYS = frozenset(
    {"permutation_id", "done", "sort_key", "label", "output_path", "output_size", "status"}
)

Problems = Iterator[str]


def answer(name: str) -> str:
    return str(ANSWERS[name])


def problem(name: str, value: str, rule: str) -> str:
    return f"{name} {value!r} {rule}"


def check_project_slug() -> Problems:
    slug = answer("project_slug")
    if not SLUG.fullmatch(slug):
        yield problem(
            "project_slug",
            slug,
            "is not a folder name; use lowercase letters, digits, '.', '_' or '-',"
            " starting with a letter or digit",
        )


def check_package_name() -> Problems:
    name = answer("package_name")
    if not name.isidentifier():
        yield problem("package_name", name, "is not a Python identifier; " + IDENTIFIER_FIX)
    elif keyword.iskeyword(name):
        yield problem("package_name", name, "is a Python keyword; " + IDENTIFIER_FIX)
    elif name in sys.stdlib_module_names:
        yield problem(
            "package_name",
            name,
            "shadows a standard-library module; choose another name",
        )


def axis_problems(name: str) -> Problems:
    """One axis on its own: an identifier that no fixed CLI word or entry key already uses."""
    axis = answer(name)
    if not AXIS.fullmatch(axis) or keyword.iskeyword(axis):
        yield problem(
            name,
            axis,
            "is not a lowercase identifier; use a-z, 0-9 and '_', starting with a letter",
        )
    elif axis in CLI_WORDS:
        yield problem(name, axis, "is a word the builder's CLI already uses; choose another")
    derived = {"input_axis": f"{axis}_id", "param_axis": f"{axis}_name"}[name]
    if derived in ENTRY_KEYS:
        yield problem(
            name,
            axis,
            f"would name the manifest key {derived!r}, which the builder already uses",
        )


def check_axes() -> Problems:
    yield from axis_problems("input_axis")
    yield from axis_problems("param_axis")
    if answer("input_axis") == answer("param_axis"):
        yield problem("param_axis", answer("param_axis"), "must differ from input_axis")


def check_plurals() -> Problems:
    """Each plural names a subcommand, list-<plural> with '_' as '-': two must never meet."""
    for name in PLURALS:
        plural = answer(name)
        if not AXIS.fullmatch(plural):
            yield problem(
                name,
                plural,
                "is not a lowercase name for list-<plural>; use a-z, 0-9 and '_',"
                " starting with a letter",
            )
    plural = answer("param_axis_plural")
    if plural == answer("input_axis_plural"):
        yield problem(
            "param_axis_plural",
            plural,
            f"must differ from input_axis_plural: both would name list-{plural.replace('_', '-')}",
        )


def param_value_problem(value: str) -> str | None:
    if not value:
        return "is empty; remove the stray comma"
    if not PARAM_VALUE.fullmatch(value):
        return "is not a file-name stem; use letters, digits, '_', '.' or '-'"
    if len(value) > PARAM_VALUE_MAX:
        return f"is longer than {PARAM_VALUE_MAX} characters"
    if value.endswith("."):
        return "ends with '.'; drop the trailing dot"
    return None


def check_param_values() -> Problems:
    raw = answer("param_values")
    values = [value.strip() for value in raw.split(",")]
    if values == [""]:
        yield problem("param_values", raw, "is empty; list at least one value")
        return
    seen: set[str] = set()
    for value in values:
        rule = param_value_problem(value)
        if rule:
            yield problem("param_values", value, rule)
        # Case-insensitive file systems would put two such values in one artifact.
        elif value.casefold() in seen:
            yield problem("param_values", value, "is listed twice (case-insensitively)")
        seen.add(value.casefold())


def check_artifact_extension() -> Problems:
    extension = answer("__extension")
    if not EXTENSION.fullmatch(extension):
        yield problem(
            "artifact_extension",
            answer("artifact_extension"),
            "is not a file extension; use letters and digits, with single dots"
            " between parts (e.g. db, json, parquet)",
        )
    elif answer("__artifact_kind") not in WRITTEN_KINDS:
        yield problem(
            "artifact_extension",
            answer("artifact_extension"),
            f"has no writer for the demo to build with; use {', '.join(WRITTEN)}, then for your"
            " own format set ARTIFACT_EXTENSION in settings.py and write ctx.artifact_path in"
            " pipeline.py's write_artifact",
        )


def check_command_runner() -> Problems:
    runner = answer("command_runner")
    if runner not in RUNNERS:
        yield problem("command_runner", runner, f"must be one of {', '.join(RUNNERS)}")


CHECKS: tuple[Callable[[], Problems], ...] = (
    check_project_slug,
    check_package_name,
    check_axes,
    check_plurals,
    check_param_values,
    check_artifact_extension,
    check_command_runner,
)


def main() -> int:
    problems = [line for check in CHECKS for line in check()]
    for line in problems:
        print(f"error: {line}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
