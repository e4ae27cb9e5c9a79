"""ctx.write_table writes rows as the artifact's kind holds a table, whatever the pipeline is."""

from __future__ import annotations

import csv
import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from conftest import Project

from {{ cookiecutter.package_name }} import settings
from {{ cookiecutter.package_name }}.builder import axes, layout
from {{ cookiecutter.package_name }}.builder.building.context import TABLE_WRITERS

COLUMNS = ["id", "name", "score"]
# Values a naive writer gets wrong: a comma, quotes, a missing value.
ROWS = [[1, "a,b", 0.5], [2, 'say "hi"', None]]

# One phase that writes the table twice: the second call replaces the first.
PIPELINE = """
from __future__ import annotations

from typing import Any

TABLE
COST_UNIT = "rows"
PARAM_REGISTRY: dict[str, dict[str, Any]] = {"only": {"cost": 1}}


def discover_inputs() -> list[str]:
    return ["table"]


def estimate_cost(input_id: str) -> int:
    return 1


def write_rows(ctx: Any) -> str:
    WRITE
    return "written"


PHASES = [write_rows]
"""
WRITE_TABLE_TWICE = """ctx.write_table(COLUMNS, [[0, "replaced", 0.0]], name="scores")
    ctx.write_table(COLUMNS, ROWS, name="scores")"""
PERMUTATION = "table_only"
BUILD = ("build", "--output-folder", "output", axes.INPUT_FLAG, "table", axes.PARAM_FLAG, "only")
KIND = "sqlite" if layout.artifact_is_sqlite() else settings.ARTIFACT_EXTENSION.lower()
WRITES_TABLES = KIND == "sqlite" or KIND in TABLE_WRITERS


def use_pipeline(project: Project, rows: Any, write: str = WRITE_TABLE_TWICE) -> None:
    """The table pipeline, its phase writing with ``write`` (by default write_table, twice)."""
    table = f"COLUMNS = {COLUMNS!r}\nROWS = {rows!r}"
    path = project.root / "table_pipeline.py"
    path.write_text(PIPELINE.replace("TABLE", table).replace("WRITE", write))
    project.extra_env[layout.PIPELINE_VARIABLE] = str(path)


def use_extension(project: Project, extension: str) -> Path:
    """Set the project's ARTIFACT_EXTENSION as a user would, in its settings.py; the artifact."""
    with (project.root / settings.PACKAGE / "settings.py").open("a") as module:
        module.write(f"ARTIFACT_EXTENSION = {extension!r}\n")
    return project.output / f"{PERMUTATION}.{extension}"


def read_table(path: Path) -> tuple[list[str], list[list[Any]]]:
    """The artifact's one table back as columns and rows, read the way its kind is read."""
    if KIND == "sqlite":
        with closing(sqlite3.connect(path)) as db:
            cursor = db.execute("SELECT * FROM scores")
            return [column[0] for column in cursor.description], [list(r) for r in cursor]
    if KIND == "csv":
        header, *lines = csv.reader(path.read_text(encoding="utf-8").splitlines())
        return header, lines
    if KIND == "parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        return table.column_names, [list(row.values()) for row in table.to_pylist()]
    if KIND == "jsonl":
        objects = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    else:
        document = json.loads(path.read_text(encoding="utf-8"))
        assert list(document) == ["scores"]
        objects = document["scores"]
    assert all(list(item) == COLUMNS for item in objects)
    return COLUMNS, [list(item.values()) for item in objects]


@pytest.mark.skipif(not WRITES_TABLES, reason="no table writer for this kind")
def test_the_table_lands_in_the_artifact_as_its_kind_holds_one(
    project: Project,
) -> None:
    use_pipeline(project, ROWS)
    project.run(*BUILD)

    columns, rows = read_table(project.artifact(PERMUTATION))
    assert columns == COLUMNS
    # CSV holds text only: numbers come back as their text, a missing value as "".
    text = [["1", "a,b", "0.5"], ["2", 'say "hi"', ""]]
    assert rows == (text if KIND == "csv" else ROWS)


def test_another_kind_is_refused_with_what_to_do_instead(project: Project) -> None:
    artifact = use_extension(project, "npz")
    use_pipeline(project, ROWS)
    failed = project.run(*BUILD, code=1)

    assert "ValueError: write_table cannot write .npz artifacts" in failed.stderr
    assert "write ctx.artifact_path with your format's library" in failed.stderr
    assert not artifact.exists()


def test_another_kind_is_built_by_a_phase_that_writes_the_artifact(project: Project) -> None:
    """What the README and the template's refusal of an extension say to do for another format."""
    artifact = use_extension(project, "rows")
    use_pipeline(project, ROWS, write="ctx.artifact_path.write_text(repr(ROWS))")
    project.run(*BUILD)

    assert artifact.read_text() == repr(ROWS)
    assert project.manifest()["by_id"][PERMUTATION]["status"] == "DONE"
    assert project.run("manifest", "--stale", "--commands").stdout == ""  # provenance recorded


@pytest.mark.skipif(not WRITES_TABLES, reason="no table writer for this kind")
def test_a_row_of_the_wrong_length_fails_the_phase_and_writes_nothing(
    project: Project,
) -> None:
    use_pipeline(project, [*ROWS, [3, "short"]])
    failed = project.run(*BUILD, code=1)

    assert "write_table('scores'): row 3 has 2 values for 3 columns" in failed.stderr
    assert not project.artifact(PERMUTATION).exists()
