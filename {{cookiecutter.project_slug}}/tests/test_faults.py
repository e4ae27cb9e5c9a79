"""Faults a build must survive, through the real CLI: signals, a rival builder, bad output folders.

Tests that need a build in progress make a phase block (``Project.block_in_phase``) and wait, with
a timeout, until the builder is inside it; nothing depends on a fixed sleep.
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest
from conftest import (
    BUILD_ONE,
    INPUT,
    PARAM,
    PERMUTATION,
    PHASES,
    Project,
    assert_valid_artifact,
    read_only,
)

from {{ cookiecutter.package_name }}.builder import axes, cli, interrupts, layout
from {{ cookiecutter.package_name }}.builder.building import runner, staging

N = len(PHASES)
BUILD_ALL = ("build", "--output-folder", "output")


def status(project: Project) -> tuple[str, str | None]:
    entry = project.manifest()["by_id"][PERMUTATION]
    return entry["status"], entry["error"]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file's bytes, but the peak memory that a live builder's sampler notes in its lock."""
    sampled = re.compile(rb"^peak_rss: \d+\n", re.MULTILINE)
    return {
        str(p.relative_to(folder)): sampled.sub(b"", p.read_bytes())
        for p in folder.rglob("*")
        if p.is_file()
    }


@pytest.mark.parametrize(
    ("signum", "code", "error"),
    [
        (signal.SIGKILL, -signal.SIGKILL, "no error recorded: the builder was killed"),
        (signal.SIGINT, 130, f"interrupted by SIGINT in phase 2/{N} {PHASES[1]}"),
        (signal.SIGTERM, 143, f"interrupted by SIGTERM in phase 2/{N} {PHASES[1]}"),
    ],
    ids=["SIGKILL", "SIGINT", "SIGTERM"],
)
def test_a_build_stopped_mid_phase_keeps_its_work_and_a_rerun_resumes(
    project: Project, signum: int, code: int, error: str
) -> None:
    if layout.artifact_is_sqlite():  # before the block: half a phase's writes, to be undone
        project.fault(PHASES[1], "sql", "CREATE TABLE half_done (x)")
    block = project.block_in_phase(PHASES[1])
    builder = project.start(*BUILD_ONE)
    block.wait_until_reached(builder)
    builder.send_signal(signum)
    stopped = project.finish(builder, code=code)

    assert "Traceback" not in stopped.stderr and stopped.stdout == ""
    if signum != signal.SIGKILL:
        assert f"error: {PERMUTATION} {error}" in stopped.stderr
        assert str(project.stage(PERMUTATION) / f"{PERMUTATION}.error.log") in stopped.stderr
        assert error in project.log("error")  # flushed before the exit
    assert f"phase 2/{N} {PHASES[1]}: started" in project.log("info")
    assert not project.artifact(PERMUTATION).exists()
    assert status(project) == (f"FAIL [2/{N}] {PHASES[1]}", error)

    block.reached.unlink()
    block.open()
    resumed = project.run(*BUILD_ONE)  # with SQLite, creating half_done again must succeed
    assert f"phase 1/{N} {PHASES[0]}: skipped" in resumed.stderr
    assert block.reached.exists(), "the stopped phase was not run again"
    assert_valid_artifact(project.artifact(PERMUTATION))
    assert not project.stage(PERMUTATION).exists()


def test_a_second_builder_is_refused_while_the_first_builds(project: Project) -> None:
    block = project.block_in_phase(PHASES[1])
    first = project.start(*BUILD_ONE)
    block.wait_until_reached(first)
    assert status(project) == (f"BUILD [2/{N}] {PHASES[1]}", None)
    staged = snapshot(project.stage(PERMUTATION))

    for extra in ((), ("--force",)):  # --force must not clear a live builder's staging dir
        second = project.run(*BUILD_ONE, *extra, code=3)
        assert f"pid {first.pid} on {os.uname().nodename}" in second.stderr
        assert second.stderr.startswith(f"error: {PERMUTATION} is being built by ")
    assert snapshot(project.stage(PERMUTATION)) == staged

    block.open()
    project.finish(first)
    assert_valid_artifact(project.artifact(PERMUTATION))
    assert not (project.output / "_build").exists()


def test_many_builds_in_one_process_keep_their_logs_apart_and_leak_nothing(
    project: Project,
) -> None:
    record = project.root / "open-handles.txt"
    project.fault(PHASES[0], "handles", str(record))
    project.fault(PHASES[-1], "raise", "keep the logs")
    project.run(*BUILD_ALL, code=1)

    counts = record.read_text().splitlines()
    ids = [e["permutation_id"] for e in project.manifest()["entries"]]
    assert len(counts) == len(ids) > 1 and len(set(counts)) == 1, counts
    for permutation_id in ids:
        info = (project.stage(permutation_id) / f"{permutation_id}.info.log").read_text()
        assert info.count(f"phase 1/{N} {PHASES[0]}: started") == 1
        assert info.count(f"build {permutation_id} ") == 1
        assert not [other for other in ids if f"build {other} " in info and other != permutation_id]


def test_a_missing_output_folder_is_created(project: Project) -> None:
    folder = project.root / "not" / "yet" / "there"
    args = (axes.INPUT_FLAG, INPUT, axes.PARAM_FLAG, PARAM)
    project.run("build", "--output-folder", str(folder), *args)
    assert_valid_artifact(folder / project.artifact(PERMUTATION).name)


def test_an_output_folder_that_is_a_file_is_one_line_and_exit_2(project: Project) -> None:
    project.output.write_text("not a folder")
    for args in (BUILD_ALL, BUILD_ONE):
        result = project.run(*args, code=2)
        assert result.stderr.startswith(f"error: output folder '{project.output}' is a file")
        assert result.stderr.count("\n") == 1
    assert project.output.read_text() == "not a folder"


@pytest.mark.unprivileged
def test_an_unwritable_output_folder_is_one_line_exit_2_and_loses_nothing(
    project: Project,
) -> None:
    project.fault(PHASES[-1], "raise", "staged, not done", input=INPUT)
    project.run(*BUILD_ALL, code=1)  # some permutations DONE, the others staged as failed
    folder = project.output
    before = snapshot(folder)
    assert any(name.startswith("_build/") for name in before)
    with read_only(folder) as prefix:
        result = project.run(*BUILD_ALL, "--force", code=2, prefix=prefix)
        assert result.stderr.startswith(f"error: cannot write to output folder '{folder}'")
        assert result.stderr.count("\n") == 1
        table = project.run("manifest", prefix=prefix).stdout  # reading still works
        assert f"[FAIL] {PERMUTATION}" in table
    assert snapshot(project.output) == before


@pytest.mark.parametrize(
    ("owner", "name"),
    [(staging.BuildLock, "acquire"), (runner, "prepare_output_folder")],
    ids=["taking-the-lock", "before-any-build"],
)
def test_ctrl_c_outside_a_phase_exits_130_without_a_traceback(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    owner: object,
    name: str,
) -> None:
    """In-process, as no phase can be blocked there: Ctrl-C lands where the builder does."""

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(owner, name, interrupted)
    monkeypatch.setattr(interrupts, "handle_stops", lambda: None)  # not in pytest's process
    args = ["build", "--output-folder", str(tmp_path), axes.INPUT_FLAG, INPUT]
    assert cli.main([*args, axes.PARAM_FLAG, PARAM]) == 130
    stderr = capsys.readouterr().err
    assert "interrupted by SIGINT" in stderr and "Traceback" not in stderr
    assert stderr.count("\n") == 1
    assert not list(tmp_path.iterdir())
