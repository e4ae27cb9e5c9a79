"""Hostile runs through the real CLI: dead workers, real signals, full disks, links, rivals.

Each test reproduces one way a run lost work, lied about it or blocked: a worker killed with
``kill -9`` in a ``--jobs`` pool, a phase that commits or forks, a link under the output folder, a
disk that fills, an input edited mid-build, a plan cut short. Signals are real (``kill -9``,
SIGHUP, SIGQUIT), and so are file systems: as root a test mounts a small tmpfs in a private mount
namespace (``conftest.in_tmpfs``).
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from conftest import (
    BUILD_ONE,
    INPUTS,
    PARAMS,
    PERMUTATION,
    PHASES,
    Project,
    local_commands,
    one_line,
    plan_ids,
    submissions,
)

from {{ cookiecutter.package_name }}.builder import axes, layout

IS_SQLITE = layout.artifact_is_sqlite()

BUILD_ALL = ("build", "--output-folder", "output")


def build_pair(project: Project, inp: str, param: str, code: int | None = 0) -> None:
    pair = (axes.INPUT_FLAG, inp, axes.PARAM_FLAG, param)
    project.run(*BUILD_ALL, *pair, code=code)


# --- retries: the header counts the plan, not the selection --------------------------------------


def test_a_retry_file_header_counts_the_builds_of_its_plans(project: Project) -> None:
    """Two failures selected, one worth retrying: the files say 1 build, as their plans hold."""
    registry = dict(project.config["registry"])
    registry[PARAMS[0]] = {**registry[PARAMS[0]], "resources": {"mem": "1G"}}
    project.configure(registry=registry)
    project.fault(PHASES[1], "allocate", 2**40, param=PARAMS[0])  # MemoryError: oom
    project.fault(PHASES[1], "raise", "boom", param=PARAMS[1])  # an exception: left out
    build_pair(project, INPUTS[0], PARAMS[0], code=1)
    build_pair(project, INPUTS[0], PARAMS[1], code=1)
    retry = ("manifest", "--status", "fail", "--retry-scale", "mem=2")
    script = project.run(*retry, "--slurm").stdout
    planned = sum(len(plan_ids(array.plan)) for array in submissions(script))
    assert planned == 1
    assert re.search(r"^# .*: 1 builds in 1 SLURM array task\(s\)", script, re.M), script
    pods = project.run(*retry, "--kubernetes", "--image", "i", "--volume-claim", "c").stdout
    assert re.search(r"^# .*: 1 builds in 1 pod\(s\)", pods, re.M), pods


# --- a phase that commits: its stage starts over, never resumes ---------------------------------


@pytest.mark.skipif(not IS_SQLITE, reason="only SQLite kinds hand a phase the database")
@pytest.mark.parametrize("then", ["returns", "raises", "killed"])
def test_a_phase_that_commits_makes_its_stage_start_over(project: Project, then: str) -> None:
    """executescript commits the builder's transaction (Python 3.11): whatever happens after, the
    committed rows must not stay in a stage that a later build resumes."""
    project.fault(PHASES[1], "script", "CREATE TABLE extra (x); INSERT INTO extra VALUES (1);")
    if then == "raises":
        project.fault(PHASES[1], "raise", "after the commit")
    if then == "killed":
        block = project.block_in_phase(PHASES[1])
        builder = project.start(*BUILD_ONE)
        block.wait_until_reached(builder)
        builder.kill()
        project.finish(builder, code=None)
    else:
        project.run(*BUILD_ONE, code=1)
    # The fix, in a module the pipeline imports (so the stage's fingerprint stands): the same
    # rows, written inside the builder's transaction.
    project.configure(
        faults=[
            {"phase": PHASES[1], "action": "sql", "arg": "CREATE TABLE IF NOT EXISTS extra (x)"},
            {"phase": PHASES[1], "action": "sql", "arg": "INSERT INTO extra VALUES (1)"},
        ]
    )
    rerun = project.run(*BUILD_ONE)
    one_line(rerun, f"phase 2/{len(PHASES)} {PHASES[1]} committed on its own", "starting over")
    with closing(sqlite3.connect(project.artifact(PERMUTATION))) as conn:
        assert conn.execute("SELECT count(*) FROM extra").fetchone() == (1,)


# --- links: no folder or file the builder writes under the output folder is written through ----


def tree(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): p.read_text() if p.is_file() else "/" for p in folder.rglob("*")
    }


def provenance_build(project: Project, link: Path) -> subprocess.CompletedProcess[str]:
    if IS_SQLITE:
        pytest.skip("a SQLite artifact holds its provenance: no _provenance folder")
    return project.run(*BUILD_ONE, code=1)


def plans(project: Project, link: Path) -> subprocess.CompletedProcess[str]:
    return project.run("manifest", "--slurm", code=2)


def engine_logs(project: Project, link: Path) -> subprocess.CompletedProcess[str]:
    """The SLURM file is written (its plan too), then run to submit: it makes the log folder."""
    script = project.root / "build.slurm"
    script.write_text(local_commands(project.run("manifest", "--slurm").stdout))
    bin_dir = project.root / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text(f"#!/bin/sh\ntouch {project.root}/submitted\n")
    (bin_dir / "sbatch").chmod(0o755)
    env = {**project.env(), "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    result = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True)
    assert result.returncode == 2 and not (project.root / "submitted").exists(), result
    return result


def provenance_cache(project: Project, link: Path) -> subprocess.CompletedProcess[str]:
    project.run(*BUILD_ONE)
    result = project.run("manifest", "--stale", code=2)
    assert link.is_symlink()
    return result


LINKED: dict[str, Callable[[Project, Path], subprocess.CompletedProcess[str]]] = {
    layout.PROVENANCE_FOLDER: provenance_build,
    layout.PLAN_FOLDER: plans,
    "_slurm": engine_logs,
    layout.provenance_cache_path(Path()).name: provenance_cache,
}


@pytest.mark.parametrize("name", list(LINKED))
def test_a_link_where_the_builder_writes_is_refused_in_one_line(
    project: Project, victim: Path, name: str
) -> None:
    before = tree(victim)
    link = project.output / name
    link.parent.mkdir(parents=True)
    link.symlink_to(victim / "precious.txt" if "cache" in name else victim)
    result = LINKED[name](project, link)
    one_line(result, f"{link} is a symbolic link")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert tree(victim) == before
