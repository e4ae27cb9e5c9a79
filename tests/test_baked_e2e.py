"""Run every supported bake for real: its own tests, its CLI, its generated commands."""

from __future__ import annotations

import csv
import json
import re
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from combinations import MACHINERY_BAKES, OWN_SUITE, OWN_SUITE_BAKES, SUPPORTED
from conftest import Bake, BakedProject, require_program

pytestmark = pytest.mark.slow


# The demo's write_artifact writes one table through ctx.write_table, as each kind holds one.
COLUMNS = ["day", "temperature", "predicted", "residual"]


def check_sqlite(path: Path) -> None:
    with closing(sqlite3.connect(path)) as conn:
        tables = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        assert tables == {"predictions", "_provenance"}
        cursor = conn.execute("SELECT * FROM predictions")
        assert [column[0] for column in cursor.description] == COLUMNS
        assert cursor.fetchall()


def check_json(path: Path) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    assert list(document) == ["predictions"]
    assert document["predictions"]
    assert all(list(row) == COLUMNS for row in document["predictions"])


def check_jsonl(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines
    assert all(list(json.loads(line)) == COLUMNS for line in lines)


def check_csv(path: Path) -> None:
    with path.open(newline="", encoding="utf-8") as file:
        header, *rows = csv.reader(file)
    assert header == COLUMNS
    assert rows


CHECK_ARTIFACT: dict[str, Callable[[Path], None]] = {
    "sqlite": check_sqlite,
    "json": check_json,
    "jsonl": check_jsonl,
    "csv": check_csv,
}


def command_pattern(project: BakedProject) -> re.Pattern[str]:
    """One generated build command; groups: the input id and the param name."""
    input_flag = str(project.context["input_axis"]).replace("_", "-")
    param_flag = str(project.context["param_axis"]).replace("_", "-")
    return re.compile(
        rf"{re.escape(project.runner)} -m {re.escape(project.package)}\.builder build"
        rf" --output-folder output --{input_flag}-id (\S+) --{param_flag}-name (\S+)"
    )


def manifest_rows(table: str) -> list[str]:
    """The permutations' rows, without the gathers' after them."""
    permutations = table.split("=== Gathers")[0]
    return [line for line in permutations.splitlines() if line.startswith("  [")]


def assert_gathers_built(project: BakedProject) -> None:
    """`build` after the generated commands builds the demo's gather from their artifacts."""
    project.builder("build", "--output-folder", "output")
    table = project.builder("manifest").stdout
    assert "=== Gathers (1/1) ===" in table and "  [DONE] leaderboard" in table, table


# The baked tests marked `engines` build the whole matrix several times over (parallel, xargs,
# `build --jobs`, SLURM files): they run for the two artifact kinds' bakes.
ENGINE_BAKES = {"defaults", "ext-csv"}
# What a bake outside MACHINERY_BAKES runs of its own suite.
ANSWER_TESTS = ("tests/test_pipeline_contract.py", "tests/test_write_table.py")


def test_engine_bakes_are_supported_bakes() -> None:
    assert ENGINE_BAKES <= MACHINERY_BAKES <= OWN_SUITE_BAKES
    assert len(OWN_SUITE) == len(OWN_SUITE_BAKES)


@pytest.mark.parametrize("answers", OWN_SUITE)
def test_baked_tests_pass(
    bake: Bake, answers: dict[str, str], request: pytest.FixtureRequest
) -> None:
    bake_id = request.node.callspec.id
    project = bake(**answers)
    if bake_id in MACHINERY_BAKES:
        selection = [] if bake_id in ENGINE_BAKES else ["-m", "not engines"]
        project.suite(*selection)
        return
    project.suite(*ANSWER_TESTS)
    if project.kind != "other":  # the demo writes this kind: the user's pipeline builds
        built = project.suite("-m", "pipeline_build")
        assert "1 passed" in built.stdout, built.stdout


ENGINES = {
    "gnu-parallel": ("parallel", "parallel --will-cite -j 2"),
    "xargs": ("xargs", "xargs -P 2 -I{} sh -c '{}'"),
}


@pytest.mark.parametrize("engine", list(ENGINES))
def test_missing_commands_piped_to_an_engine_build_everything_with_the_real_runner(
    bake: Bake, engine: str
) -> None:
    program, command = ENGINES[engine]
    require_program(program)
    project = bake()  # commands run through `uv run`, as a user's would
    assert project.runner == "uv run"
    pipeline = f"python -m {project.package}.builder manifest --missing --commands | {command}"
    project.run("bash", "-euo", "pipefail", "-c", pipeline)
    rows = manifest_rows(project.builder("manifest").stdout)
    assert len(rows) == len(project.permutation_ids)
    assert all(row.startswith("  [DONE] ") for row in rows), rows
    for permutation_id in project.permutation_ids:
        CHECK_ARTIFACT[project.kind](project.artifact(permutation_id))
    assert_gathers_built(project)


@pytest.mark.parametrize("answers", SUPPORTED)
def test_generated_commands_build_everything(
    bake: Bake, tmp_path: Path, answers: dict[str, str]
) -> None:
    project = bake(**answers)
    total = len(project.permutation_ids)
    assert f"=== Manifest (0/{total}) ===" in project.builder("manifest").stdout

    commands = project.builder("manifest", "--missing", "--commands").stdout.splitlines()
    pattern = command_pattern(project)
    pinned = [match.groups() for line in commands if (match := pattern.fullmatch(line))]
    assert len(pinned) == len(commands), commands
    assert sorted(f"{inp}_{param}" for inp, param in pinned) == sorted(project.permutation_ids)

    script = tmp_path / "build_missing.sh"
    script.write_text("\n".join(commands) + "\n", encoding="utf-8")
    built = project.run("bash", "-euo", "pipefail", script, ok=project.kind != "other")

    if project.kind == "other":
        assert built.returncode != 0
        assert (
            "write_artifact failed: NotImplementedError: write_table cannot write" in built.stderr
        )
        assert f".{project.extension} artifacts" in built.stderr
        assert not [pid for pid in project.permutation_ids if project.artifact(pid).exists()]
        return
    table = project.builder("manifest").stdout
    assert f"=== Manifest ({total}/{total}) ===" in table
    rows = manifest_rows(table)
    assert len(rows) == total
    assert all(row.startswith("  [DONE] ") for row in rows), table
    for permutation_id in project.permutation_ids:
        CHECK_ARTIFACT[project.kind](project.artifact(permutation_id))
    # Each artifact records what it was built from, and nothing has changed since.
    assert f"=== Grid ({total}/{total} done)" in project.builder("manifest", "--grid").stdout
    assert project.builder("manifest", "--stale", "--commands").stdout == ""
    assert_gathers_built(project)
