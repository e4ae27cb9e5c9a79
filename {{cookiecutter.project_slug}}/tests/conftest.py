"""A throwaway copy of this project for each test, and one way to run its builder in it."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from {{ cookiecutter.package_name }} import pipeline, settings
from {{ cookiecutter.package_name }}.builder import axes, layout

ROOT = Path(__file__).resolve().parents[1]

# The permutation that single-build tests build: the first input with the first parameter.
PHASES = [phase.__name__ for phase in pipeline.PHASES]
INPUT = pipeline.discover_inputs()[0]
PARAM = next(iter(pipeline.PARAM_REGISTRY))
PERMUTATION = f"{INPUT}_{PARAM}"
BUILD_ONE = ("build", "--output-folder", "output", axes.INPUT_FLAG, INPUT, axes.PARAM_FLAG, PARAM)


@dataclass
class Project:
    """A copy of the project (package and demo data) that a test may break, build and inspect."""

    root: Path
    started: list[subprocess.Popen[str]] = field(default_factory=list)

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

    def log(self, level: str, permutation_id: str = PERMUTATION) -> str:
        """A staged build's debug, info or error log."""
        return (self.stage(permutation_id) / f"{permutation_id}.{level}.log").read_text()

    def start(self, *args: str, prefix: tuple[str, ...] = ()) -> subprocess.Popen[str]:
        """Start the builder's CLI here (after ``prefix``, a wrapper command) without waiting."""
        process = subprocess.Popen(
            [*prefix, sys.executable, "-m", f"{settings.PACKAGE}.builder", *args],
            cwd=self.root,
            env=clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # Python ignores Ctrl-C if started with SIGINT ignored, as background jobs of
            # non-interactive shells are: give the builder the default, as in a terminal.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        self.started.append(process)
        return process

    def finish(
        self, process: subprocess.Popen[str], code: int | None = 0, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Wait for a started CLI; check its exit code unless ``code`` is None."""
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        if code is not None:
            assert result.returncode == code, (
                f"{process.args!r} exited {result.returncode}, expected {code}"
                f"\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    def run(
        self, *args: str, code: int | None = 0, prefix: tuple[str, ...] = ()
    ) -> subprocess.CompletedProcess[str]:
        """Run the builder's CLI here; check the exit code unless ``code`` is None."""
        return self.finish(self.start(*args, prefix=prefix), code)

    def python(self, code: str) -> subprocess.CompletedProcess[str]:
        """Run Python code here, as the builder runs: to watch it with hooks from the inside."""
        return subprocess.run(
            [sys.executable, "-c", code],
            cwd=self.root,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )

    def manifest(self, *args: str) -> dict[str, Any]:
        """The manifest as JSON, with entries by permutation id."""
        document: dict[str, Any] = json.loads(self.run("manifest", "--json", *args).stdout)
        document["by_id"] = {e["permutation_id"]: e for e in document["entries"]}
        return document

    def insert_in_phase(self, phase: str, statement: str) -> None:
        """Make a phase run ``statement`` (lines) first: how tests inject faults into a pipeline."""
        source = self.pipeline.read_text()
        pattern = re.compile(rf'(def {phase}\(ctx: BuildContext\) -> str:\n    """.*?"""\n)', re.S)
        code = "".join(f"    {line}\n" for line in statement.splitlines())
        changed, count = pattern.subn(lambda m: m.group(1) + code, source, count=1)
        assert count == 1, f"phase {phase} not found in {self.pipeline}"
        self.pipeline.write_text(changed)

    def block_in_phase(self, phase: str) -> Block:
        """Make a phase signal that it has started, then wait until the test releases it."""
        block = Block(self.root / f"reached-{phase}", self.root / f"release-{phase}")
        paths = {"reached": str(block.reached), "release": str(block.release)}
        self.insert_in_phase(phase, BLOCKING.format(**paths))
        return block

    def restore_pipeline(self) -> None:
        shutil.copy(ROOT / settings.PACKAGE / "pipeline.py", self.pipeline)


# Run first in a blocked phase; bounded, so that a test that fails to release it cannot hang.
BLOCKING = """import pathlib, time
pathlib.Path({reached!r}).touch()
for _ in range(3000):
    if pathlib.Path({release!r}).exists():
        break
    time.sleep(0.01)
else:
    raise TimeoutError("the test never released this phase")"""


@dataclass
class Block:
    """A phase held open: it touches ``reached`` on entry and runs on once ``release`` exists."""

    reached: Path
    release: Path

    def wait_until_reached(self, process: subprocess.Popen[str], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not self.reached.exists():
            if process.poll() is not None:
                stderr = process.communicate()[1]
                raise AssertionError(f"the builder exited {process.returncode} early:\n{stderr}")
            assert time.monotonic() < deadline, "the builder never reached the blocked phase"
            time.sleep(0.01)

    def open(self) -> None:
        self.release.touch()


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[tuple[str, ...]]:
    """A command prefix under which ``folder`` cannot be written, even by root.

    Permissions bind other users; root ignores them, so for root the command runs in a private
    mount namespace where ``folder`` is a read-only bind mount (gone when the command ends).
    """
    if os.geteuid() != 0:
        mode = folder.stat().st_mode
        folder.chmod(0o555)
        try:
            yield ()
        finally:
            folder.chmod(mode)
        return
    script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'
    private_mounts = ("unshare", "--mount", "--propagation", "private")
    prefix = (*private_mounts, "sh", "-c", script, "sh", str(folder))
    try:
        probe = subprocess.run([*prefix, "true"], capture_output=True, text=True, timeout=30)
        problem = probe.stderr.strip() if probe.returncode else ""
    except OSError as error:
        problem = str(error)
    if problem:
        pytest.skip(f"root cannot make a read-only folder here (unshare --mount): {problem}")
    yield prefix


def run_commands_through_a_shell(project: Project, commands: str) -> None:
    """Run generated commands as a script, the runner swapped for this interpreter when absent."""
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", local_commands(commands)],
        cwd=project.root,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr


def clean_env() -> dict[str, str]:
    """The environment minus what would make a child Python see another project."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def local_commands(commands: str) -> str:
    """Generated commands with their runner swapped for this interpreter (uv may be absent)."""
    runner = settings.COMMAND_RUNNER
    return commands.replace(f"{runner} -m ", f"{shlex.quote(sys.executable)} -m ")


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    root = tmp_path / "project"
    ignore = shutil.ignore_patterns("__pycache__", settings.DEFAULT_OUTPUT_FOLDER, "_build")
    shutil.copytree(ROOT / settings.PACKAGE, root / settings.PACKAGE, ignore=ignore)
    shutil.copytree(ROOT / "data", root / "data")
    project = Project(root)
    yield project
    for process in project.started:  # a failed test may leave a builder blocked in a phase
        if process.poll() is None:
            process.kill()
            process.communicate()


# The demo writes JSON, JSON Lines, CSV and SQLite with the standard library; any other extension
# waits for the user's own write_artifact, so tests that need a finished build say so.
DEMO_WRITES_ARTIFACTS = layout.artifact_is_sqlite() or settings.ARTIFACT_EXTENSION.lower() in {
    "json",
    "jsonl",
    "csv",
}
needs_demo_writer = pytest.mark.skipif(
    not DEMO_WRITES_ARTIFACTS,
    reason=f"the demo has no .{settings.ARTIFACT_EXTENSION} writer until write_artifact is written",
)


def sidecar(artifact: Path) -> Path:
    """Where provenance of a non-SQLite artifact lives: beside it, named after it."""
    return artifact.with_name(artifact.name + ".provenance.json")


@dataclass
class Grid:
    """``manifest --grid`` read back: each row's cells (gaps removed) and total, each column's."""

    title: str
    rows: dict[str, str]
    row_totals: dict[str, str]
    columns: list[str]  # names, in column-number order
    column_totals: dict[str, str]
    pages: list[tuple[int, int]]

    def cell(self, row: str, column: str) -> str:
        return self.rows[row][self.columns.index(column)]


_GRID_ROW = re.compile(r"  (\S+) +([#.BFS]+(?: [#.BFS]+)*) +(\d+/\d+)")
_GRID_KEY = re.compile(r"(\d+) (\S+) +(\d+/\d+)")
_GRID_PAGE = re.compile(r"  \S+ (\d+)-(\d+) of \d+")


def parse_grid(text: str) -> Grid:
    """Read a plain grid: rows of every page joined, the key's names and totals."""
    blocks = text.strip("\n").split("\n\n")
    grid = Grid(blocks[0], {}, {}, [], {}, [])
    for line in "\n".join(blocks[1:-2]).splitlines():
        if page := _GRID_PAGE.fullmatch(line):
            grid.pages.append((int(page[1]), int(page[2])))
        elif row := _GRID_ROW.fullmatch(line):
            grid.rows[row[1]] = grid.rows.get(row[1], "") + row[2].replace(" ", "")
            grid.row_totals[row[1]] = row[3]
    keys = sorted((int(n), name, total) for n, name, total in _GRID_KEY.findall(blocks[-2]))
    assert [n for n, _, _ in keys] == list(range(1, len(keys) + 1)), blocks[-2]
    grid.columns = [name for _, name, _ in keys]
    grid.column_totals = {name: total for _, name, total in keys}
    return grid


def assert_valid_artifact(path: Path) -> None:
    """The artifact is a genuine, complete file of its kind, with no build bookkeeping in it."""
    kind = settings.ARTIFACT_EXTENSION.lower()
    is_sqlite = layout.artifact_is_sqlite()
    columns = ["day", "temperature", "predicted", "residual"]  # the demo's write_table
    if not is_sqlite:  # provenance travels beside the artifact
        assert json.loads(sidecar(path).read_text())["permutation_id"] == path.stem
    if is_sqlite:
        import sqlite3

        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            tables = {
                name
                for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            assert "_build_progress" not in tables
            assert "_provenance" in tables  # kept: what the artifact was built from
            cursor = conn.execute("SELECT * FROM predictions")
            assert [column[0] for column in cursor.description] == columns
            assert cursor.fetchall()
        conn.close()
    elif kind == "json":
        rows = json.loads(path.read_text())["predictions"]
        assert rows and all(list(row) == columns for row in rows)
    elif kind == "jsonl":
        lines = path.read_text().splitlines()
        assert lines and all(list(json.loads(line)) == columns for line in lines)
    elif kind == "csv":
        import csv

        rows = list(csv.reader(path.read_text().splitlines()))
        assert len(rows) > 1 and rows[0] == columns
    else:
        raise AssertionError(f"no check for .{kind} artifacts")
