"""Crash safety through the real CLI: links, changed inputs, exits, full disks, orphaned workers.

Each test reproduces a way a build lost data or lied about it: a symlink that carried ``--force``
outside the output folder, a resume that mixed old phases with new inputs, a phase that exited
with success, a finish that threw completed phases away, workers that outlived their parent.
File systems are real: as root a test mounts a small tmpfs in a private mount namespace.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
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
    in_tmpfs,
    one_line,
)

from {{ cookiecutter.package_name }} import settings
from {{ cookiecutter.package_name }}.builder import layout

IS_SQLITE = layout.artifact_is_sqlite()
BUILD_ALL = ("build", "--output-folder", "output")


def rows(artifact: Path) -> list[list[float]]:
    """The artifact's rows (position, value, scaled), whatever its kind."""
    if IS_SQLITE:
        with closing(sqlite3.connect(artifact)) as conn:
            return [list(row) for row in conn.execute("SELECT * FROM rows ORDER BY position")]
    return list(json.loads(artifact.read_text())["rows"])


def fail_last_phase(project: Project) -> None:
    """A staged build whose first phases completed: what a resume starts from."""
    project.fault(PHASES[-1], "raise", "late failure")
    project.run(*BUILD_ONE, code=1)
    project.clear_faults()


# --- 1. symbolic links ---


@pytest.mark.parametrize("force", [(), ("--force",)], ids=["plain", "force"])
def test_a_linked_stage_is_refused_and_nothing_outside_is_touched(
    project: Project, victim: Path, force: tuple[str, ...]
) -> None:
    project.stage(PERMUTATION).parent.mkdir(parents=True)
    project.stage(PERMUTATION).symlink_to(victim)
    result = project.run(*BUILD_ONE, *force, code=1)
    one_line(result, f"{project.stage(PERMUTATION)} is a symbolic link")
    assert sorted(p.name for p in victim.iterdir()) == ["precious.txt", "sub"]
    assert not project.artifact(PERMUTATION).exists()


def test_force_removes_a_linked_folder_in_a_stage_without_following_it(
    project: Project, victim: Path
) -> None:
    fail_last_phase(project)
    (project.stage(PERMUTATION) / "cache").symlink_to(victim)
    one_line(project.run(*BUILD_ONE, "--force"))
    assert (victim / "precious.txt").read_text() == "x\n" and (victim / "sub").is_dir()
    assert_valid_artifact(project.artifact(PERMUTATION))


def test_a_staged_artifact_that_is_a_link_is_never_written_through(
    project: Project, victim: Path
) -> None:
    fail_last_phase(project)
    staged = layout.staged_artifact(project.stage(PERMUTATION), PERMUTATION)
    staged.unlink(missing_ok=True)
    staged.symlink_to(victim / "precious.txt")
    result = project.run(*BUILD_ONE, code=1)
    one_line(result, f"{staged} is a symbolic link", "--force")
    assert (victim / "precious.txt").read_text() == "x\n"
    assert not project.artifact(PERMUTATION).exists()
    project.run(*BUILD_ONE, "--force")  # removes the link, never follows it
    assert (victim / "precious.txt").read_text() == "x\n"
    assert_valid_artifact(project.artifact(PERMUTATION))


# --- 2. a resume trusts only phases built from today's inputs, registry entry and code ---


def test_a_resume_after_the_input_changed_starts_over(project: Project) -> None:
    fail_last_phase(project)
    with project.input_file(INPUT).open("a") as data:
        data.write("100\n200\n")
    result = project.run(*BUILD_ONE)
    one_line(result, "input changed", "starting over")
    assert "skipped" not in result.stderr
    numbers = project.input_file(INPUT).read_text().split()
    assert [row[1] for row in rows(project.artifact(PERMUTATION))] == [float(n) for n in numbers]


def test_a_resume_after_the_registry_entry_changed_starts_over(project: Project) -> None:
    fail_last_phase(project)
    registry = project.config["registry"]
    project.configure(registry={**registry, PARAM: {**registry[PARAM], "scale": 10}})
    one_line(project.run(*BUILD_ONE), "parameter changed: scale", "starting over")
    assert all(row[2] == row[1] * 10 for row in rows(project.artifact(PERMUTATION)))


def test_a_resume_with_nothing_changed_still_skips_completed_phases(project: Project) -> None:
    fail_last_phase(project)
    result = project.run(*BUILD_ONE)
    assert "starting over" not in result.stderr
    assert f"phase 1/{len(PHASES)} {PHASES[0]}: skipped" in result.stderr


# --- 3. a phase that exits has failed ---


@pytest.mark.parametrize("jobs", [(), ("--jobs", "2")], ids=["sequential", "pool"])
def test_sys_exit_0_in_a_phase_is_a_failure(project: Project, jobs: tuple[str, ...]) -> None:
    project.fault(PHASES[1], "exit", 0, input=INPUT, param=PARAM)
    result = project.run(*BUILD_ALL, *jobs, code=1)
    one_line(result, f"error: {PERMUTATION} phase 2/{len(PHASES)} {PHASES[1]} failed: SystemExit")
    assert "SystemExit" in project.log("error")
    statuses = {e["permutation_id"]: e["status"] for e in project.manifest()["entries"]}
    assert statuses.pop(PERMUTATION).startswith("FAIL")
    assert set(statuses.values()) == {"DONE"}  # the rest of the selection was built


def test_os_exit_in_a_worker_fails_that_permutation_and_no_other(project: Project) -> None:
    project.fault(PHASES[0], "os_exit", 3, input=INPUT, param=PARAM)
    result = project.run(*BUILD_ALL, "--jobs", "2", code=1)
    one_line(result, f"error: {PERMUTATION} not built: its worker died")
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    reported = {line.split()[1] for line in errors}  # nothing unstarted is called failed
    statuses = {e["permutation_id"]: e["status"] for e in project.manifest()["entries"]}
    assert not any(statuses[pid] == "MISS" for pid in reported), result.stderr
    not_started = sum(status == "MISS" for status in statuses.values())
    assert not not_started or f"{not_started} not started" in result.stderr, result.stderr


# --- 4. finishing keeps completed phases until the artifact is in place ---


def big_input(project: Project, count: int) -> None:
    """Make the permutation's artifact large, so its finishing takes time and space."""
    project.configure(inputs={**project.config["inputs"], INPUT: count})
    project.input_file(INPUT).write_text("".join(f"{n}\n" for n in range(count)))


def test_a_stage_on_another_file_system_is_refused_before_any_phase(project: Project) -> None:
    stage_root = layout.staging_root(project.output)
    result = project.run(*BUILD_ONE, code=1, prefix=in_tmpfs(stage_root, "4m"))
    one_line(result, "is on another file system than the output folder")
    assert "started" not in result.stderr  # no phase ran


@pytest.mark.skipif(not IS_SQLITE, reason="finishing a file artifact writes only a small sidecar")
def test_a_full_disk_while_finishing_keeps_the_completed_phases(project: Project) -> None:
    big_input(project, 60000)
    # Measured on a disk with room: what the phases leave in the stage, and the artifact's size.
    reference = ("build", "--output-folder", "reference", *BUILD_ONE[3:])
    project.fault(PHASES[-1], "raise", "measure the stage")
    project.run(*reference, code=1)
    stage = layout.staging_dir(project.root / "reference", PERMUTATION)
    staged = sum(path.stat().st_size for path in stage.iterdir())
    project.clear_faults()
    artifact = layout.artifact_path(project.root / "reference", PERMUTATION)
    project.run(*reference)
    size = artifact.stat().st_size
    # Room for the phases and half a finished copy: the disk fills up while finishing.
    room = staged + size + size // 2 + 256 * 1024
    # Both runs see one tmpfs, grown between them: the rerun resumes from what the first left.
    grow = 'mount -o remount,size=64m "$1"'
    then = f'(shift && "$@"); echo "exit $?" >&2; {grow}'
    result = project.run(*BUILD_ONE, prefix=in_tmpfs(project.output, f"{room}", then))
    first, _, rerun = result.stderr.partition("\nexit 1\n")
    assert rerun, result.stderr
    assert "finishing failed" in first and "Traceback" not in first, first
    for number, phase in enumerate(PHASES, 1):  # no phase is redone
        assert f"phase {number}/{len(PHASES)} {phase}: skipped" in rerun, rerun


@pytest.mark.skipif(not IS_SQLITE, reason="a file artifact is finished by two renames")
def test_kill_9_while_finishing_keeps_the_completed_phases(project: Project) -> None:
    big_input(project, 200000)
    builder = project.start(*BUILD_ONE)
    finishing = layout.finishing_file(
        layout.staged_artifact(project.stage(PERMUTATION), PERMUTATION)
    )
    deadline = time.monotonic() + 60
    while not finishing.exists() and builder.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)
    builder.send_signal(signal.SIGKILL)
    project.finish(builder, code=None)
    if project.artifact(PERMUTATION).exists():
        pytest.skip("the build finished before it could be killed while finishing")
    rerun = project.run(*BUILD_ONE)
    for number, phase in enumerate(PHASES, 1):
        assert f"phase {number}/{len(PHASES)} {phase}: skipped" in rerun.stderr
    assert_valid_artifact(project.artifact(PERMUTATION))


# Loaded by every Python the builder starts (as sitecustomize): the first process to move an
# artifact out of _build/ into place stops itself with SIGNUM just after, at its next open (the
# fsync of the folder), before it notes the artifact published: no phase can be blocked there.
STOP_AFTER_THE_MOVE = """
import os, signal, sys

moved = False

def stop_after_the_move(event, args):
    global moved
    if event == "os.rename" and all(isinstance(arg, (str, os.PathLike)) for arg in args[:2]):
        source, target = (os.fsdecode(arg) for arg in args[:2])
        moved = "/_build/" in source and "/_build/" not in target
    elif event == "open" and moved:
        moved = False  # the marker's own open comes here too
        try:
            os.close(os.open(MARKER, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return
        os.kill(os.getpid(), SIGNUM)

sys.addaudithook(stop_after_the_move)
"""


@pytest.mark.parametrize(
    ("signum", "jobs", "code"),
    [(signal.SIGKILL, "1", -9), (signal.SIGTERM, "1", 143), (signal.SIGKILL, "2", 0)],
    ids=["SIGKILL", "SIGTERM", "SIGKILL-to-a-worker"],
)
def test_a_build_stopped_right_after_its_final_move_is_done(
    project: Project, tmp_path: Path, signum: int, jobs: str, code: int
) -> None:
    """Its stage is a leftover, never a build to resume (it would find its artifact moved away),
    and a pool whose worker died there counts it built."""
    hook = tmp_path / "hook"
    hook.mkdir()
    marker = tmp_path / "stopped"
    text = STOP_AFTER_THE_MOVE.replace("MARKER", repr(str(marker)))
    (hook / "sitecustomize.py").write_text(text.replace("SIGNUM", str(int(signum))))
    project.extra_env["PYTHONPATH"] = str(hook)
    built = project.run(*(BUILD_ONE if jobs == "1" else BUILD_ALL), "--jobs", jobs, code=code)
    del project.extra_env["PYTHONPATH"]
    assert marker.exists()
    entries = project.manifest()["entries"]
    assert {(entry["status"], entry["error"]) for entry in entries if entry["done"]} == {
        ("DONE", None)
    }
    stopped = [path.name for path in (project.output / "_build").iterdir()]
    if jobs == "2":
        assert len(stopped) == 1 and all(entry["done"] for entry in entries), built.stderr
        assert "failed" not in built.stderr and " died of SIGKILL once it was built" in built.stderr
        return
    assert stopped == [PERMUTATION]
    rerun = project.run(*BUILD_ONE)
    assert "is done" in rerun.stderr and "phase" not in rerun.stderr, rerun.stderr
    assert not project.stage(PERMUTATION).exists()
    assert_valid_artifact(project.artifact(PERMUTATION))


# --- 5. workers stop when their parent dies ---


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid and b"spawn_main" in cmdline:
                found.append(int(entry.name))
    return found


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGHUP], ids=["SIGKILL", "SIGHUP"])
def test_workers_stop_when_their_parent_dies_and_leave_resumable_stages(
    project: Project, signum: int
) -> None:
    # PERMUTATION's own block: once it is reached, PERMUTATION has completed its first phase
    # (blocking every permutation of INPUT, the other worker's could reach it first).
    block = project.block_in_phase(PHASES[1], input=INPUT, param=PARAM)
    builder = project.start(*BUILD_ALL, "--jobs", "2")
    block.wait_until_reached(builder)
    workers = children(builder.pid)
    assert workers
    builder.send_signal(signum)
    project.finish(builder, code=None)
    deadline = time.monotonic() + 20
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    alive = [pid for pid in workers if Path(f"/proc/{pid}").exists()]
    for pid in alive:
        os.kill(pid, signal.SIGKILL)
    assert not alive, "workers outlived their parent"
    project.clear_faults()
    rerun = project.run(*BUILD_ALL, "--verbose")
    assert f"{PERMUTATION}: phase 1/{len(PHASES)} {PHASES[0]}: skipped" in rerun.stderr


def test_a_worker_that_starts_after_its_parent_died_stops_at_once(project: Project) -> None:
    """On a loaded machine a worker may finish spawning after the builder was killed; adopted by
    another process, it must still see that the builder that named itself its parent is gone."""
    start = (
        "import sys, time\n"
        "from multiprocessing import SimpleQueue\n"
        f"from {settings.PACKAGE}.builder.building import pool\n"
        "pool._start_worker(SimpleQueue(), 1, int(sys.argv[1]))\n"
        "time.sleep(30)\n"
    )
    gone = subprocess.Popen(["true"])  # a pid that was a process and is no more
    gone.wait()
    began = time.monotonic()
    worker = subprocess.run(
        [sys.executable, "-c", start, str(gone.pid)],
        cwd=project.root,
        env=project.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert worker.returncode == 128 + signal.SIGTERM, worker.stderr
    assert time.monotonic() - began < 10


# --- 7. a full disk: one line per failure, never a flood or a traceback ---


def test_a_full_disk_fails_each_permutation_in_one_line(project: Project) -> None:
    fill = 'cat /dev/zero > "$1/filler" 2>/dev/null; true'
    prefix = in_tmpfs(project.output, "512k", fill)
    result = project.run(*BUILD_ALL, code=None, prefix=prefix)
    one_line(result)
    assert result.returncode in (1, 2), result.stderr
    assert len(result.stderr.splitlines()) < 40, result.stderr


# --- a stop during a long SQL statement ---


@pytest.mark.skipif(not IS_SQLITE, reason="only SQLite kinds run SQL in a phase")
def test_sigterm_interrupts_a_long_sql_statement(project: Project) -> None:
    endless = (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 10000000000)"
        " SELECT count(*) FROM c"
    )
    project.fault(PHASES[1], "sql", endless)
    builder = project.start(*BUILD_ONE)
    lock = layout.lock_file(project.stage(PERMUTATION), PERMUTATION)
    deadline = time.monotonic() + 30
    while "[2/" not in (lock.read_text() if lock.exists() else ""):
        assert time.monotonic() < deadline and builder.poll() is None
        time.sleep(0.01)
    time.sleep(0.3)  # inside the statement
    builder.send_signal(signal.SIGTERM)
    result = project.finish(builder, code=143, timeout=10)
    one_line(result, f"interrupted by SIGTERM in phase 2/{len(PHASES)} {PHASES[1]}")
