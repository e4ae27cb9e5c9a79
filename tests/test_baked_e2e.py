"""Run every supported bake for real: its own tests, its CLI, its generated commands."""

from __future__ import annotations

import csv
import json
import re
import sqlite3
import tomllib
import venv
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from combinations import (
    IRREGULAR_PLURALS,
    MACHINERY_BAKES,
    OWN_SUITE,
    OWN_SUITE_BAKES,
    SUPPORTED,
    SWAPPED_ANSWERS,
)
from conftest import Bake, BakedProject, built_own_pipeline, require_program

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


def check_parquet(path: Path) -> None:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    assert table.column_names == COLUMNS
    assert table.num_rows


CHECK_ARTIFACT: dict[str, Callable[[Path], None]] = {
    "sqlite": check_sqlite,
    "json": check_json,
    "jsonl": check_jsonl,
    "csv": check_csv,
    "parquet": check_parquet,
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


# The machinery bake's suite runs as a user with plain pip runs it: in a fresh virtualenv that has
# pytest and nothing else (no pytest-xdist, so in one process), the tests marked `engines` (the
# whole matrix built through parallel, xargs, `build --jobs`, SLURM files) included. The others
# run theirs on a worker per core.
(PYTEST_ONLY_BAKE,) = MACHINERY_BAKES
# What a bake outside MACHINERY_BAKES runs of its own suite.
ANSWER_TESTS = ("tests/test_pipeline_contract.py", "tests/test_write_table.py")


def test_own_suite_bakes_are_supported_bakes() -> None:
    supported: dict[object, Any] = {param.id: param.values[0] for param in SUPPORTED}
    assert MACHINERY_BAKES <= OWN_SUITE_BAKES <= set(supported)
    # The swapped pipeline's bake puts two supported bakes' answers together.
    assert supported["irregular-plurals"] == IRREGULAR_PLURALS
    assert {**IRREGULAR_PLURALS, **supported["ext-csv"]} == SWAPPED_ANSWERS


def pytest_only(project: BakedProject, folder: Path) -> Path:
    """A fresh virtualenv with the pytest the project's test group pins, installed by plain pip
    (its cache makes a second install quick); its python."""
    pyproject = tomllib.loads((project.root / "pyproject.toml").read_text(encoding="utf-8"))
    (pin,) = [req for req in pyproject["dependency-groups"]["test"] if req.startswith("pytest==")]
    venv.create(folder, with_pip=True)
    python = folder / "bin" / "python"
    project.run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", pin)
    return python


@pytest.mark.long  # the machinery bake's whole suite
@pytest.mark.parametrize("answers", OWN_SUITE)
def test_baked_tests_pass(
    bake: Bake, tmp_path: Path, answers: dict[str, str], request: pytest.FixtureRequest
) -> None:
    project = bake(**answers)
    if request.node.callspec.id == PYTEST_ONLY_BAKE:
        python = pytest_only(project, tmp_path / "pytest-only")
        ran = project.run(python, "-m", "pytest", "-v")
        assert "[gw0]" not in ran.stdout  # no pytest-xdist, no -n: one process
    else:
        ran = project.suite(*ANSWER_TESTS)
        assert "[gw0]" in ran.stdout  # pytest-xdist is there: a worker per core
    assert built_own_pipeline(ran.stdout), ran.stdout


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
    project.run("bash", "-euo", "pipefail", script)

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
