"""A throwaway copy of this project for each test, and one way to run its builder in it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from {{ cookiecutter.package_name }} import settings

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Project:
    """A copy of the project (package and demo data) that a test may break, build and inspect."""

    root: Path

    @property
    def output(self) -> Path:
        return self.root / settings.DEFAULT_OUTPUT_FOLDER

    @property
    def pipeline(self) -> Path:
        return self.root / settings.PACKAGE / "pipeline.py"

    def artifact(self, permutation_id: str) -> Path:
        return self.output / f"{permutation_id}.{settings.ARTIFACT_EXTENSION}"

    def stage(self, permutation_id: str) -> Path:
        return self.output / "_build" / permutation_id

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", f"{settings.PACKAGE}.builder", *args]

    def run(
        self, *args: str, code: int | None = 0, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run the builder's CLI here; check the exit code unless ``code`` is None."""
        result = subprocess.run(
            self.command(*args),
            cwd=self.root,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if code is not None:
            assert result.returncode == code, (
                f"{' '.join(args)} exited {result.returncode}, expected {code}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    def manifest(self, *args: str) -> dict[str, Any]:
        """The manifest as JSON, with entries by permutation id."""
        document: dict[str, Any] = json.loads(self.run("manifest", "--json", *args).stdout)
        document["by_id"] = {e["permutation_id"]: e for e in document["entries"]}
        return document

    def insert_in_phase(self, phase: str, statement: str) -> None:
        """Make a phase run ``statement`` first: how tests inject faults into a real pipeline."""
        source = self.pipeline.read_text()
        pattern = re.compile(rf'(def {phase}\(ctx: BuildContext\) -> str:\n    """.*?"""\n)', re.S)
        changed, count = pattern.subn(lambda m: m.group(1) + f"    {statement}\n", source, count=1)
        assert count == 1, f"phase {phase} not found in {self.pipeline}"
        self.pipeline.write_text(changed)

    def restore_pipeline(self) -> None:
        shutil.copy(ROOT / settings.PACKAGE / "pipeline.py", self.pipeline)


def clean_env() -> dict[str, str]:
    """The environment minus what would make a child Python see another project."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "project"
    ignore = shutil.ignore_patterns("__pycache__", settings.DEFAULT_OUTPUT_FOLDER, "_build")
    shutil.copytree(ROOT / settings.PACKAGE, root / settings.PACKAGE, ignore=ignore)
    shutil.copytree(ROOT / "data", root / "data")
    return Project(root)


# The demo writes JSON, JSON Lines, CSV and SQLite with the standard library; any other extension
# waits for the user's own write_artifact, so tests that need a finished build say so.
DEMO_WRITES_ARTIFACTS = settings.ARTIFACT_EXTENSION.lower() in {
    "db",
    "sqlite",
    "sqlite3",
    "db3",
    "json",
    "jsonl",
    "csv",
}
needs_demo_writer = pytest.mark.skipif(
    not DEMO_WRITES_ARTIFACTS,
    reason=f"the demo has no .{settings.ARTIFACT_EXTENSION} writer until write_artifact is written",
)


def assert_valid_artifact(path: Path) -> None:
    """The artifact is a genuine, complete file of its kind, with no build bookkeeping in it."""
    kind = settings.ARTIFACT_EXTENSION.lower()
    if kind in {"db", "sqlite", "sqlite3", "db3"}:
        import sqlite3

        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            tables = {
                name
                for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            assert "_build_progress" not in tables
            assert conn.execute("SELECT count(*) FROM predictions").fetchone()[0] > 0
        conn.close()
    elif kind == "json":
        assert json.loads(path.read_text())["predictions"]
    elif kind == "jsonl":
        lines = path.read_text().splitlines()
        assert lines and all(json.loads(line)["predicted"] is not None for line in lines)
    elif kind == "csv":
        import csv

        rows = list(csv.DictReader(path.open(newline="")))
        assert rows and set(rows[0]) == {"day", "temperature", "predicted", "residual"}
    else:
        raise AssertionError(f"no check for .{kind} artifacts")
