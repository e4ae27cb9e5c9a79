"""A throwaway project for each test, built against the test pipeline, and one way to run it.

The machinery is tested against ``fixture_pipeline.py`` (beside this file), never against the
project's own ``pipeline.py``: each test's ``Project`` copies the package and that test pipeline,
and every command it runs names the copy in ``<PACKAGE>_PIPELINE``, so a user can replace the demo
pipeline and this suite stays green. Tests choose its inputs, registry and faults.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import pty
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from {{ cookiecutter.package_name }} import settings
from {{ cookiecutter.package_name }}.builder import layout

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_PIPELINE = Path(__file__).resolve().with_name("fixture_pipeline.py")
CONFIG_VARIABLE = "FIXTURE_PIPELINE_CONFIG"

# In this process too the builder runs the test pipeline (with its defaults): set before the
# builder's modules first import it.
os.environ[layout.PIPELINE_VARIABLE] = str(FIXTURE_PIPELINE)
os.environ.pop(CONFIG_VARIABLE, None)

from {{ cookiecutter.package_name }}.builder import axes  # noqa: E402
from {{ cookiecutter.package_name }}.builder.pipeline_module import pipeline  # noqa: E402

# The test pipeline as the builder loaded it here: tests may monkeypatch its registry.
fixture_pipeline = pipeline

DEFAULT_CONFIG: dict[str, Any] = fixture_pipeline.DEFAULT
# The permutation that single-build tests build: the first input with the first parameter.
PHASES = [phase.__name__ for phase in fixture_pipeline.PHASES]
INPUTS = fixture_pipeline.discover_inputs()
PARAMS = list(fixture_pipeline.PARAM_REGISTRY)
INPUT = INPUTS[0]
PARAM = PARAMS[0]
PERMUTATION = f"{INPUT}_{PARAM}"
ESCAPE = re.compile(r"\x1b\[[0-9;]*m")  # a colour
BUILD_ONE = ("build", "--output-folder", "output", axes.INPUT_FLAG, INPUT, axes.PARAM_FLAG, PARAM)


@dataclass
class Project:
    """A project folder with the test pipeline, that a test may configure, break, build, inspect."""

    root: Path
    config: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(DEFAULT_CONFIG))
    started: list[subprocess.Popen[str]] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)  # a test's own variables

    @property
    def output(self) -> Path:
        return self.root / settings.DEFAULT_OUTPUT_FOLDER

    @property
    def pipeline(self) -> Path:
        """The test pipeline's copy that this project runs (a test may edit this one)."""
        return self.root / FIXTURE_PIPELINE.name

    @property
    def config_file(self) -> Path:
        return self.root / "fixture_pipeline.json"

    def env(self) -> dict[str, str]:
        """The environment of every command run here: the test pipeline and its configuration."""
        return {
            **clean_env(),
            layout.PIPELINE_VARIABLE: str(self.pipeline),
            CONFIG_VARIABLE: str(self.config_file),
            **self.extra_env,
        }

    def configure(self, **changes: Any) -> None:
        """Change the test pipeline's configuration (inputs, registry, faults) and write it out."""
        self.config.update(changes, data=str(self.root / "fixture_data"))
        fixture_pipeline.write_config(self.config, self.config_file)

    def edit_pipeline(self, old: str, new: str) -> None:
        """Replace the one occurrence of ``old`` in the test pipeline's copy, as a user's edit."""
        source = self.pipeline.read_text()
        assert source.count(old) == 1, old
        self.pipeline.write_text(source.replace(old, new))

    def input_file(self, input_id: str) -> Path:
        return Path(self.config["data"]) / f"{input_id}.txt"

    def fault(
        self,
        phase: str,
        action: str,
        arg: Any = None,
        *,
        input: str | None = None,
        param: str | None = None,
    ) -> None:
        """Make ``phase`` do ``action`` first (see ``fixture_pipeline.inject``), for every
        permutation or for those of ``input`` and ``param``."""
        fault: dict[str, Any] = {"phase": phase, "action": action, "arg": arg}
        fault.update({key: value for key, value in (("input", input), ("param", param)) if value})
        self.configure(faults=[*self.config["faults"], fault])

    def clear_faults(self) -> None:
        self.configure(faults=[])

    def artifact(self, permutation_id: str) -> Path:
        return layout.artifact_path(self.output, permutation_id)

    def stage(self, permutation_id: str) -> Path:
        return layout.staging_dir(self.output, permutation_id)

    def log(self, level: str, permutation_id: str = PERMUTATION) -> str:
        """A staged build's debug, info or error log."""
        return layout.log_file(self.stage(permutation_id), permutation_id, level).read_text()

    def start(self, *args: str, prefix: tuple[str, ...] = ()) -> subprocess.Popen[str]:
        """Start the builder's CLI here (after ``prefix``, a wrapper command) without waiting."""
        process = subprocess.Popen(
            [*prefix, sys.executable, "-m", f"{settings.PACKAGE}.builder", *args],
            cwd=self.root,
            env=self.env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # A background job of a non-interactive shell starts with SIGINT and SIGQUIT ignored
            # (nohup: SIGHUP), which the builder keeps ignoring: give it the defaults, as in a
            # terminal, so that a test's signal reaches it wherever the suite runs.
            preexec_fn=restore_stop_signals,
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

    def in_terminal(self, *args: str, code: int = 0, **env: str) -> str:
        """Run the builder's CLI with stdout and stderr on a pseudo-terminal, as a user at a shell
        would; what the terminal received, its line ends as ``\\n``."""
        leader, follower = pty.openpty()
        process = subprocess.Popen(
            [sys.executable, "-m", f"{settings.PACKAGE}.builder", *args],
            cwd=self.root,
            env={**self.env(), "COLUMNS": "80", "TERM": "xterm", **env},
            stdin=subprocess.DEVNULL,
            stdout=follower,
            stderr=follower,
        )
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        os.close(leader)
        assert process.wait(timeout=60) == code
        return b"".join(chunks).decode().replace("\r\n", "\n")

    def python(self, code: str) -> subprocess.CompletedProcess[str]:
        """Run Python code here, as the builder runs: to watch it with hooks from the inside."""
        return subprocess.run(
            [sys.executable, "-c", code],
            cwd=self.root,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=120,
        )

    def manifest(self, *args: str) -> dict[str, Any]:
        """The manifest as JSON, with entries by permutation id."""
        out = self.run("manifest", "--json", *args).stdout  # empty: nothing selected
        empty = {"total": 0, "done": 0, "entries": [], "gathers": [], "orphans": [], "excluded": []}
        document: dict[str, Any] = json.loads(out) if out else empty
        document["by_id"] = {e["permutation_id"]: e for e in document["entries"]}
        return document

    def block_in_phase(
        self, phase: str, *, input: str | None = None, param: str | None = None
    ) -> Block:
        """Make a phase signal that it has started, then wait until the test releases it (for
        every permutation, or for those of ``input`` and ``param``)."""
        block = Block(self.root / f"reached-{phase}", self.root / f"release-{phase}")
        self.fault(
            phase,
            "block",
            {"reached": str(block.reached), "release": str(block.release)},
            input=input,
            param=param,
        )
        return block


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


def one_line(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    """The run explained itself on stderr in plain lines: no traceback, each needle said."""
    assert "Traceback" not in result.stderr and "Logging error" not in result.stderr, result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


def in_tmpfs(folder: Path, size: str, then: str = "") -> tuple[str, ...]:
    """A command prefix that runs the command with a fresh tmpfs of ``size`` on ``folder``
    (after the shell line ``then``), in a private mount namespace gone when the command ends."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    script = f'mkdir -p "$1" && mount -t tmpfs -o size={size} tmpfs "$1" && {then or "true"}'
    prefix = (
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        script + ' && shift && exec "$@"',
        "sh",
        str(folder),
    )
    probe = subprocess.run([*prefix, "true"], capture_output=True, text=True, timeout=30)
    if probe.returncode:
        pytest.skip(f"cannot mount a tmpfs here (unshare --mount): {probe.stderr.strip()}")
    return prefix


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A folder outside the output folder that no build may touch."""
    folder = tmp_path / "victim"
    (folder / "sub").mkdir(parents=True)
    (folder / "precious.txt").write_text("x\n")
    return folder


def restore_stop_signals() -> None:
    """In a child about to run the builder: the stop signals' default dispositions."""
    for stop in (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP):
        signal.signal(stop, signal.SIG_DFL)


def run_commands_through_a_shell(project: Project, commands: str, where: str = "") -> None:
    """Run generated commands as a script, the runner swapped for this interpreter when absent
    (``where`` says, when one fails, where the commands came from)."""
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", local_commands(commands)],
        cwd=project.root,
        env=project.env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"{where}{commands}\n{result.stderr}" if where else result.stderr


def clean_env() -> dict[str, str]:
    """The environment minus what would make a child Python see another project."""
    dropped = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE")
    return {k: v for k, v in os.environ.items() if k not in dropped}


def local_commands(commands: str) -> str:
    """Generated commands with their runner swapped for this interpreter (uv may be absent)."""
    runner = settings.COMMAND_RUNNER
    return commands.replace(f"{runner} -m ", f"{shlex.quote(sys.executable)} -m ")


# --- Array files (plan --slurm, --sge, ...): what they submit; a task run as engines run it


class Submission(NamedTuple):
    """One array an array file submits: ``submit PLAN OFFSET TASKS JOBS OPTIONS... "$@"``."""

    plan: Path
    offset: int
    tasks: int
    jobs: int
    options: list[str]


def submissions(script: str) -> list[Submission]:
    """The arrays an array file submits, in order: ``submit "$planN" ...`` after ``planN=PATH``."""
    plans = {
        f"${name}": shlex.split(path)[0]
        for name, path in re.findall(r"^(plan\d+)=(.+)$", script, re.M)
    }
    found = []
    for line in re.findall(r"^submit .*$", script, re.MULTILINE):
        _, plan, offset, tasks, jobs, *options, rest = shlex.split(line)
        assert rest == "$@", line  # the options given to the file come last
        found.append(Submission(Path(plans[plan]), int(offset), int(tasks), int(jobs), options))
    assert found, script
    return found


def plan_of(script: str) -> Path:
    """The plan file of an array file of one resource set."""
    (plan,) = {submission.plan for submission in submissions(script)}
    return plan


def plan_ids(plan: Path) -> list[str]:
    """The permutation ids of a plan, in order, its header checked as the plan module documents."""
    header, *lines = plan.read_text(encoding="utf-8").splitlines()
    assert re.fullmatch(rf"# {settings.PACKAGE} plan 1\tforce=[01](\tresources=\S+)?", header)
    return ["_".join(line.split("\t")) for line in lines]


def arrays_of(script: str) -> list[tuple[int, int]]:
    """(offset, task count) of each array the file submits."""
    return [(submission.offset, submission.tasks) for submission in submissions(script)]


# Each engine's variables in a job: its job id's, its array index's, and what that index holds in
# a job that is not an array (None: unset).
TASK_VARIABLES = {
    "slurm": ("SLURM_JOB_ID", "SLURM_ARRAY_TASK_ID", None),
    "sge": ("JOB_ID", "SGE_TASK_ID", "undefined"),
    "pbs": ("PBS_JOBID", "PBS_ARRAY_INDEX", None),
    "lsf": ("LSB_JOBID", "LSB_JOBINDEX", "0"),
}


def task_environment(folder: Path, *, shell: str = "bash") -> tuple[str, ...]:
    """``--setup`` and ``--python`` options naming a stand-in for a cluster's environment: an
    interpreter, ``task-python``, that is on PATH only once the setup's activate script has run,
    and that refuses to run unless the setup's second step has too. The activate script reads an
    unset variable, as ``module`` and ``conda activate`` do. For bash, two ``--setup`` lines; for
    ``sh`` (the containers'), one line of two commands, with ``.`` for ``source``."""
    bin_dir = folder / "task-env" / "bin"
    bin_dir.mkdir(parents=True)
    activate = folder / "task-env" / "activate"
    activate.write_text(f'PATH={shlex.quote(str(bin_dir))}:"$PATH"\n: "$TASK_ENV_NEVER_SET"\n')
    python = bin_dir / "task-python"
    ready = '[ "${TASK_ENV:-}" = ready ]'
    refuse = '{ echo "task-python: the setup did not run" >&2; exit 97; }'
    exec_python = f'exec {shlex.quote(sys.executable)} "$@"'
    python.write_text(f"#!/bin/sh\n{ready} || {refuse}\n{exec_python}\n")
    python.chmod(0o755)
    get_ready = "export TASK_ENV=ready"
    if shell == "bash":
        setup: tuple[str, ...] = ("--setup", f"source {activate}", "--setup", get_ready)
    else:
        setup = ("--setup", f". {activate}; {get_ready}")
    return (*setup, "--python", "task-python")


def run_task(
    script: Path,
    project: Project,
    array: Submission,
    task: int | None,
    *,
    engine: str = "slurm",
) -> subprocess.CompletedProcess[str]:
    """Run the file as the engine runs a task of ``array`` (task None: as a plain, non-array job),
    with the arguments its submission gives it."""
    job, index, plain = TASK_VARIABLES[engine]
    env = {**project.env(), job: "7"}
    value = plain if task is None else str(task)
    if value is not None:
        env[index] = value
    return subprocess.run(
        ["bash", str(script), str(array.plan), str(array.offset), str(array.jobs)],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """A worker per core when pytest-xdist is installed and no -n was given; plain pytest runs the
    suite in one process. (Before xdist's own hook turns ``-n auto`` into workers; an xdist worker
    has ``workerinput`` and runs its share in one process.)"""
    if not config.pluginmanager.hasplugin("xdist") or hasattr(config, "workerinput"):
        return
    if config.option.numprocesses is None and not config.option.collectonly:
        config.option.numprocesses = "auto"


@pytest.fixture(scope="session")
def compiled_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the package with its bytecode, made once per test process for every project's
    copy: each command a test runs then loads the builder rather than compiling it, about a third
    of a short command's time. The bytecode is checked against the source's hash, not its mtime,
    so an edited copy is never run stale; and it is this process's own (xdist workers would race
    to write the same files)."""
    import compileall
    import py_compile

    package = tmp_path_factory.mktemp("compiled") / settings.PACKAGE
    ignore = shutil.ignore_patterns("__pycache__", settings.DEFAULT_OUTPUT_FOLDER, "_build")
    shutil.copytree(ROOT / settings.PACKAGE, package, ignore=ignore)
    mode = py_compile.PycInvalidationMode.CHECKED_HASH
    compileall.compile_dir(package, quiet=1, invalidation_mode=mode)
    return package


@pytest.fixture
def project(tmp_path: Path, compiled_package: Path) -> Iterator[Project]:
    root = tmp_path / "project"
    shutil.copytree(compiled_package, root / settings.PACKAGE)
    shutil.copy(FIXTURE_PIPELINE, root / FIXTURE_PIPELINE.name)
    project = Project(root)
    project.configure()
    yield project
    for process in project.started:  # a failed test may leave a builder blocked in a phase
        if process.poll() is None:
            process.kill()
            process.communicate()


def sidecar(artifact: Path) -> Path:
    """Where provenance of a non-SQLite artifact lives."""
    return layout.sidecar_path(artifact)


def provenance_file(artifact: Path) -> Path:
    """The file that an artifact's provenance is read from: itself, or its sidecar."""
    return artifact if layout.artifact_is_sqlite() else sidecar(artifact)


def edit_provenance(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Apply ``change`` to the provenance in ``path`` (an artifact or a sidecar), as a hand would:
    in place, the artifact's identity as the sidecar names it left as it was."""
    if layout.artifact_is_sqlite():
        import sqlite3

        with contextlib.closing(sqlite3.connect(path)) as conn, conn:
            rows = conn.execute("SELECT key, value FROM _provenance").fetchall()
            document = {key: json.loads(value) for key, value in rows}
            change(document)
            conn.execute("DELETE FROM _provenance")
            values = [(key, json.dumps(value)) for key, value in document.items()]
            conn.executemany("INSERT INTO _provenance VALUES (?, ?)", values)
    else:
        document = json.loads(path.read_text())
        change(document)
        path.write_text(json.dumps(document))


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


_GRID_ROW = re.compile(r"  (\S+) +([-#.BFRS]+(?: [-#.BFRS]+)*) +(\d+/\d+)")
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


_REPORT_DATA = re.compile(r'<script type="application/json" id="report-data">(.*?)</script>', re.S)


def report_data(page: str) -> dict[str, Any]:
    """The data a report embeds (see formats/report.py), parsed."""
    found = _REPORT_DATA.search(page)
    assert found, "no report data in the page"
    data: dict[str, Any] = json.loads(found[1])
    return data


def report_rows(page: str, table: str | None = None) -> list[dict[str, Any]]:
    """The rows of a report's data (see formats/report.py), read back as the page reads them: the
    permutations' (each one's JSON fields, its id and artifact's path rebuilt, its ``trace`` and
    ``error_tail``), or those of another ``table``: the ``gathers`` (as those), the ``excluded``
    pairs (their ids rebuilt) or the ``orphans``."""
    data = report_data(page)
    rows_of = data if table is None else data[table]

    def column(spec: dict[str, Any]) -> list[Any]:
        if spec["t"] == "dict":
            return [None if value is None else spec["s"][value] for value in spec["v"]]
        if spec["t"] == "sparse":
            values: list[Any] = [None] * rows_of["n"]
            for row, value in zip(spec["i"], spec["v"], strict=True):
                values[row] = value
            return values
        if spec["t"] == "bool":
            return [None if value is None else bool(value) for value in spec["v"]]
        return list(spec["v"])

    fields = {key: column(rows_of["columns"][key]) for key in rows_of["keys"]}
    traced = "trace" in rows_of
    if traced:
        traces = {key: column(spec) for key, spec in rows_of["trace"]["columns"].items()}
        tails = column(rows_of["error_tail"])
    folder = data["folder"] if table is None else f"{data['folder']}/{layout.GATHER_FOLDER}"
    id_key = "gather_id" if table == "gathers" else "id" if table == "orphans" else None
    rows = []
    for row in range(rows_of["n"]):
        found_row = {key: values[row] for key, values in fields.items()}
        if id_key is None and found_row.get("permutation_id") is None:
            found_row["permutation_id"] = f"{found_row[axes.INPUT_KEY]}_{found_row[axes.PARAM_KEY]}"
        if traced and found_row.get("output_path") is None:
            row_id = found_row[id_key or "permutation_id"]
            found_row["output_path"] = f"{folder}/{row_id}.{data['extension']}"
        if traced:
            found_row["trace"] = {key: values[row] for key, values in traces.items()}
            found_row["error_tail"] = tails[row]
        rows.append(found_row)
    return rows


def assert_valid_artifact(path: Path) -> int:
    """A complete artifact of the test pipeline, with its provenance and no build bookkeeping;
    its number of rows."""
    permutation_id = path.name[: -len(settings.ARTIFACT_EXTENSION) - 1]
    if layout.artifact_is_sqlite():
        import sqlite3

        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
            assert "_build_progress" not in tables
            assert "_provenance" in tables  # kept: what the artifact was built from
            rows = conn.execute("SELECT count(*) FROM rows").fetchone()[0]
        finally:
            conn.close()
    else:
        document = json.loads(path.read_text())
        assert document["permutation_id"] == permutation_id
        rows = len(document["rows"])
        assert json.loads(sidecar(path).read_text())["permutation_id"] == permutation_id
    assert rows > 0, f"{path.name} has no rows"
    return int(rows)
