"""Hostile runs through the real CLI: dead workers, real signals, full disks, links, rivals.

Each test reproduces one way a run lost work, lied about it or blocked: a worker killed with
``kill -9`` in a ``--jobs`` pool, a phase that commits or forks, a link under the output folder, a
disk that fills, an input edited mid-build, a plan cut short. Signals are real (``kill -9``,
SIGHUP, SIGQUIT), and so are file systems: as root a test mounts a small tmpfs in a private mount
namespace (``conftest.in_tmpfs``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest
from conftest import (
    BUILD_ONE,
    DEFAULT_CONFIG,
    INPUT,
    INPUTS,
    PARAM,
    PARAMS,
    PERMUTATION,
    PHASES,
    Block,
    Project,
    assert_valid_artifact,
    in_tmpfs,
    local_commands,
    one_line,
    parse_grid,
    plan_ids,
    submissions,
)

from {{ cookiecutter.package_name }} import settings
from {{ cookiecutter.package_name }}.builder import axes, layout
from {{ cookiecutter.package_name }}.builder.building import pool
from {{ cookiecutter.package_name }}.builder.manifest.entries import permutation_entry

IS_SQLITE = layout.artifact_is_sqlite()

BUILD_ALL = ("build", "--output-folder", "output")
LEFT_FOR = 120  # seconds a process a phase leaves running sleeps, unless ended
# Two inputs by two parameters (the default test matrix's dearest and cheapest input, its two
# cheapest parameters): all these runs need, at less than half the builds.
RUN_INPUTS = sorted({INPUT, min(INPUTS, key=DEFAULT_CONFIG["inputs"].get)})
RUN_PARAMS = PARAMS[:2]
TOTAL = len(RUN_INPUTS) * len(RUN_PARAMS)
# Cheapest first, as builds take them: the cheap input's parameters, then the dear one's.
CHEAP, DEAR = sorted(RUN_INPUTS, key=DEFAULT_CONFIG["inputs"].get)
ORDER = [(inp, param) for inp in (CHEAP, DEAR) for param in RUN_PARAMS]


@pytest.fixture(autouse=True)
def four_permutations(project: Project) -> None:
    registry, inputs = project.config["registry"], project.config["inputs"]
    project.configure(
        inputs={inp: inputs[inp] for inp in RUN_INPUTS},
        registry={param: registry[param] for param in RUN_PARAMS},
    )


def build_pair(project: Project, inp: str, param: str, code: int | None = 0) -> None:
    pair = (axes.INPUT_FLAG, inp, axes.PARAM_FLAG, param)
    project.run(*BUILD_ALL, *pair, code=code)


def hold(project: Project, phase: str, inp: str, param: str) -> Block:
    """Hold one permutation's phase open (``Project.block_in_phase``, for one pair)."""
    name = f"{phase}-{inp}_{param}"
    block = Block(project.root / f"reached-{name}", project.root / f"release-{name}")
    arg = {"reached": str(block.reached), "release": str(block.release)}
    project.fault(phase, "block", arg, input=inp, param=param)
    return block


def holder(project: Project, permutation_id: str) -> int:
    """The pid that the stage's lock names as its builder."""
    text = layout.lock_file(project.stage(permutation_id), permutation_id).read_text()
    return int(re.findall(r"^holder: pid (\d+) ", text, re.M)[0])


def statuses(project: Project) -> dict[str, tuple[str, str | None]]:
    return {e["permutation_id"]: (e["status"], e["reason"]) for e in project.manifest()["entries"]}


def error_line(result: subprocess.CompletedProcess[str], permutation_id: str) -> str:
    (line,) = [x for x in result.stderr.splitlines() if x.startswith(f"error: {permutation_id} ")]
    return line


# --- a dead worker fails its own permutation, and no other ---------------------------------------


def test_a_worker_killed_mid_build_fails_only_its_permutation(
    project: Project, spawned: Callable[..., Path]
) -> None:
    """kill -9 (as the OOM killer does) of one worker of two: the other's build goes on, a new
    worker takes the dead one's place, every other permutation is built, and the daemon the dead
    worker's phase started is ended."""
    (inp, param), second = ORDER[:2]  # the two cheapest: one per worker
    first = f"{inp}_{param}"
    daemon = spawned("daemon", PHASES[1], input=inp, param=param)
    killed, running = hold(project, PHASES[1], inp, param), hold(project, PHASES[1], *second)
    builder = project.start(*BUILD_ALL, "--jobs", "2")
    killed.wait_until_reached(builder)
    running.wait_until_reached(builder)
    os.kill(holder(project, first), signal.SIGKILL)
    running.open()
    # Before the daemon would end: it holds copies of the dead worker's pipes, which never close.
    result = project.finish(builder, code=1, timeout=LEFT_FOR / 2)
    one_line(result, f"summary: {TOTAL - 1} built, 1 failed")
    assert pids_in(daemon) and not still_alive(pids_in(daemon), timeout=1)
    after = statuses(project)
    assert after.pop(first) == (f"FAIL [2/{len(PHASES)}] {PHASES[1]}", "killed")
    assert set(after.values()) == {("DONE", None)}
    line = error_line(result, first)
    assert "its worker died of SIGKILL" in line and "reason killed" in line, line


@pytest.mark.parametrize("jobs", [(), ("--jobs", "2")], ids=["sequential", "pool"])
def test_os_exit_0_in_a_phase_fails_its_permutation_and_never_exits_0(
    project: Project, jobs: tuple[str, ...]
) -> None:
    inp, param = ORDER[0]  # the cheapest, built first
    project.fault(PHASES[0], "os_exit", 0, input=inp, param=param)
    result = project.run(*BUILD_ALL, *jobs, code=1)
    one_line(result, f"{inp}_{param}: phase 1/{len(PHASES)} {PHASES[0]} failed: os._exit(0)")
    after = statuses(project)
    assert after.pop(f"{inp}_{param}") == (f"FAIL [1/{len(PHASES)}] {PHASES[0]}", "exit 0")
    if jobs:  # the pool goes on: every other permutation is built
        one_line(result, f"summary: {TOTAL - 1} built, 1 failed")
        assert set(after.values()) == {("DONE", None)}
    else:  # one process: the phase ended it, so nothing after it is built
        assert set(after.values()) == {("MISS", None)}


# --- processes a phase leaves running: they neither keep the lock nor outlive their builder ----


@pytest.fixture
def spawned(project: Project) -> Iterator[Callable[..., Path]]:
    """``spawned(how, phase)`` makes a phase start a process that sleeps ``LEFT_FOR`` seconds
    (see the fixture pipeline's ``spawn``); the file of their pids. Whatever is left is killed
    at the end."""
    files: list[Path] = []

    def spawn(how: str, phase: str = PHASES[1], **pair: str) -> Path:
        pids = project.root / f"pids-{how}-{len(files)}"
        arg = {"how": how, "seconds": LEFT_FOR, "pids": str(pids)}
        project.fault(phase, "spawn", arg, **pair)
        files.append(pids)
        return pids

    yield spawn
    for pid in (pid for path in files for pid in pids_in(path)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def pids_in(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def alive(pid: int) -> bool:
    """Running, or stopped: not gone and not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def still_alive(pids: list[int], timeout: float = 5) -> list[int]:
    """The pids still alive after up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while any(map(alive, pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [pid for pid in pids if alive(pid)]


def killed_in_phase_2(project: Project) -> int:
    """Start a single build, kill -9 it once it holds phase 2 open; its pid."""
    block = project.block_in_phase(PHASES[1])
    builder = project.start(*BUILD_ONE)
    block.wait_until_reached(builder)
    builder.kill()
    project.finish(builder, code=None)
    return builder.pid


@pytest.mark.parametrize("how", ["fork", "daemon"])  # subprocess: close-on-exec, as ever
def test_a_child_of_a_killed_builder_does_not_keep_its_lock(
    project: Project, spawned: Callable[..., Path], how: str
) -> None:
    pids = spawned(how)
    killed_in_phase_2(project)
    assert pids_in(pids) and all(map(alive, pids_in(pids)))  # the child outlived its builder
    assert statuses(project)[PERMUTATION] == (f"FAIL [2/{len(PHASES)}] {PHASES[1]}", "killed")
    project.clear_faults()
    one_line(project.run(*BUILD_ONE))  # not "being built by" the dead builder
    assert not project.stage(PERMUTATION).exists()


def test_a_lock_held_only_by_a_dead_builders_leftovers_says_so(
    project: Project, spawned: Callable[..., Path]
) -> None:
    """libc's fork() skips Python's fork hooks: the child keeps the lock's descriptor."""
    pids = spawned("libc")
    dead = killed_in_phase_2(project)
    (child,) = pids_in(pids)
    entry = project.manifest()["by_id"][PERMUTATION]
    assert entry["status"] == f"FAIL [2/{len(PHASES)}] {PHASES[1]}" and entry["reason"] == "killed"
    left = f"the builder (pid {dead}) is dead; processes it left behind hold its lock: pid {child}"
    assert entry["error"] == left, entry
    project.clear_faults()
    refused = project.run(*BUILD_ONE, code=3)
    assert refused.stderr == (
        f"error: {PERMUTATION} is locked by processes that its dead builder (pid {dead}) left"
        f" behind: pid {child}; end them, then build again\n"
    )
    os.kill(child, signal.SIGKILL)
    assert not still_alive([child])
    project.run(*BUILD_ONE)


@pytest.mark.parametrize(
    ("how", "then"),
    [("fork", "fails"), ("daemon", "builds"), ("subprocess", "is stopped by SIGTERM")],
)
def test_a_builder_that_stops_ends_what_its_phases_left_running(
    project: Project, spawned: Callable[..., Path], how: str, then: str
) -> None:
    pids = spawned(how, PHASES[0])
    if then == "fails":
        project.fault(PHASES[1], "raise", "boom")
        project.run(*BUILD_ONE, code=1)
    elif then == "builds":
        project.run(*BUILD_ONE)
    else:
        block = project.block_in_phase(PHASES[1])
        builder = project.start(*BUILD_ONE)
        block.wait_until_reached(builder)
        builder.terminate()
        project.finish(builder, code=143)
    assert pids_in(pids) and not still_alive(pids_in(pids), timeout=1)


# --- an OOM kill is recorded in-band, by the array task's wrapper ------------------------------

MEMORY_CGROUPS = Path("/sys/fs/cgroup/memory")  # cgroup v1's memory controller
UNIFIED_CGROUPS = Path("/sys/fs/cgroup")  # cgroup v2, when it holds the memory controller


@pytest.fixture
def memory_cgroup(tmp_path: Path) -> Iterator[Callable[[int], tuple[str, ...]]]:
    """``memory_cgroup(mebibytes)``: a command prefix that runs the command in a fresh memory
    cgroup of that limit (v1 or v2, as the machine has it), as SLURM gives each task one."""
    made: list[Path] = []

    def limited(mebibytes: int) -> tuple[str, ...]:
        if os.geteuid() != 0:
            pytest.skip("making a memory cgroup needs root")
        v2 = (
            "memory" in (UNIFIED_CGROUPS / "cgroup.controllers").read_text().split()
            if (UNIFIED_CGROUPS / "cgroup.controllers").exists()
            else False
        )
        parent = UNIFIED_CGROUPS if v2 else MEMORY_CGROUPS
        limit = "memory.max" if v2 else "memory.limit_in_bytes"
        group = parent / f"permtest-{os.getpid()}-{len(made)}"
        try:
            group.mkdir()
            (group / limit).write_text(str(mebibytes * 1024 * 1024))
        except OSError as error:
            pytest.skip(f"cannot make a memory cgroup under {parent}: {error.strerror}")
        made.append(group)
        script = 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"'
        return ("sh", "-c", script, "sh", str(group))

    yield limited
    for group in made:
        for pid in (group / "cgroup.procs").read_text().split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
        still_alive([])
        for _ in range(50):  # emptied: removable once the kernel has reaped its last process
            try:
                group.rmdir()
                break
            except OSError:
                time.sleep(0.1)


def run_slurm_task(
    project: Project, script: Path, prefix: tuple[str, ...], index: int
) -> subprocess.CompletedProcess[str]:
    """Task ``index`` of the file's first array, as SLURM runs it (job 77), after ``prefix``."""
    array = submissions(script.read_text())[0]
    env = {**project.env(), "SLURM_JOB_ID": "78", "SLURM_ARRAY_JOB_ID": "77"}
    env["SLURM_ARRAY_TASK_ID"] = str(index)
    args = [str(array.plan), str(array.offset), str(array.jobs)]
    return subprocess.run(
        [*prefix, "bash", str(script), *args],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_an_oom_kill_is_recorded_by_the_array_tasks_wrapper(
    project: Project, memory_cgroup: Callable[[int], tuple[str, ...]]
) -> None:
    """A real OOM kill in a real memory cgroup, no SLURM to ask: the wrapper that ran the build
    records ``oom`` (its cgroup counted the kill) and a plain SIGKILL stays ``killed``, saying so.
    Without the record, once SLURM forgets the job, a retry would not give it more memory."""
    first, second = (f"{inp}_{param}" for inp, param in ORDER[:2])
    project.fault(PHASES[1], "allocate", 400, input=ORDER[0][0], param=ORDER[0][1])
    project.fault(PHASES[1], "kill", input=ORDER[1][0], param=ORDER[1][1])
    script = project.root / "build.slurm"
    script.write_text(local_commands(project.run("plan", "--slurm", "--limit", "2").stdout))
    for index in range(2):
        task = run_slurm_task(project, script, memory_cgroup(200), index)
        assert task.returncode == 128 + signal.SIGKILL, task.stderr
    entries = project.manifest()["by_id"]
    oom, killed = entries[first], entries[second]
    assert oom["reason"] == "oom" and "OOM killer" in oom["error"], oom
    assert killed["reason"] == "killed" and "not by the OOM killer" in killed["error"], killed
    retry = project.run(
        "plan", "--status", "fail", "--slurm", "--retry-scale", "mem=2", "--mem", "200M"
    )
    arrays = {tuple(a.options): plan_ids(a.plan) for a in submissions(retry.stdout)}
    assert arrays[("--cpus-per-task=1", "--mem=400M")] == [first], arrays


def test_a_retry_says_which_failures_have_no_known_reason(project: Project) -> None:
    """Killed outright, nothing recorded, and no SLURM that still knows the job: said on stderr,
    and retried as the user says (the same resources, or those the flags give)."""
    inp, param = ORDER[0]
    project.fault(PHASES[1], "kill")
    project.extra_env.update(SLURM_ARRAY_JOB_ID="77", SLURM_ARRAY_TASK_ID="3", SLURM_JOB_ID="80")
    build_pair(project, inp, param, code=None)
    retry = project.run("plan", "--status", "fail", "--slurm", "--retry-scale", "mem=2")
    assert retry.stderr == (
        "--retry-scale: 1 failure(s) of reason killed have no known cause (nothing recorded it,"
        " and SLURM no longer knows their jobs): retried with the same resources; give --mem or"
        " --time to retry them with more\n"
    )
    assert [plan_ids(a.plan) for a in submissions(retry.stdout)] == [[f"{inp}_{param}"]]


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
    retry = ("plan", "--status", "fail", "--retry-scale", "mem=2")
    script = project.run(*retry, "--slurm").stdout
    planned = sum(len(plan_ids(array.plan)) for array in submissions(script))
    assert planned == 1
    assert re.search(r"^# .*: 1 builds in 1 SLURM array task\(s\)", script, re.M), script
    pods = project.run(*retry, "--kubernetes", "--image", "i", "--volume-claim", "c").stdout
    assert re.search(r"^# .*: 1 builds in 1 pod\(s\)", pods, re.M), pods


# --- signals: each recorded as itself; a KeyboardInterrupt no signal sent is a failure ---------


@pytest.mark.parametrize("jobs", [(), ("--jobs", "2")], ids=["sequential", "pool"])
def test_a_keyboard_interrupt_a_phase_raises_itself_is_a_failure_not_a_signal(
    project: Project, jobs: tuple[str, ...]
) -> None:
    project.fault(PHASES[1], "interrupt", "from the phase", input=INPUTS[0], param=PARAMS[0])
    result = project.run(*BUILD_ALL, *jobs, code=1)
    assert "SIGINT" not in result.stderr, result.stderr
    one_line(result, f"summary: {TOTAL - 1} built, 1 failed")  # the others went on
    line = error_line(result, f"{INPUTS[0]}_{PARAMS[0]}")
    assert f"phase 2/{len(PHASES)} {PHASES[1]} failed: KeyboardInterrupt: from the phase" in line
    assert statuses(project)[f"{INPUTS[0]}_{PARAMS[0]}"][1] == "exception KeyboardInterrupt"


STOPS = [
    pytest.param(signal.SIGHUP, (), id="SIGHUP"),
    pytest.param(signal.SIGQUIT, (), id="SIGQUIT"),
    pytest.param(signal.SIGHUP, ("--jobs", "2"), id="SIGHUP-to-a-pool"),
]


@pytest.mark.parametrize(("stop", "jobs"), STOPS)
def test_sighup_and_sigquit_stop_a_build_like_sigterm_and_are_recorded(
    project: Project, stop: signal.Signals, jobs: tuple[str, ...]
) -> None:
    """A real signal to the builder (a pool passes it on): exit 128 + N, the signal recorded."""
    block = hold(project, PHASES[1], INPUT, PARAM)
    builder = project.start(*BUILD_ALL, *jobs)
    block.wait_until_reached(builder)
    builder.send_signal(stop)
    stopped = project.finish(builder, code=128 + stop)
    one_line(stopped, f"error: {PERMUTATION} interrupted by {stop.name} in phase 2/{len(PHASES)}")
    entry = project.manifest()["by_id"][PERMUTATION]
    assert entry["reason"] == f"signal {stop.name}", entry
    assert entry["status"] == f"FAIL [2/{len(PHASES)}] {PHASES[1]}"
    project.clear_faults()
    resumed = project.run(*BUILD_ONE)
    assert f"phase 1/{len(PHASES)} {PHASES[0]}: skipped" in resumed.stderr


def test_a_stop_a_worker_handles_between_builds_is_kept_for_the_next(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """In-process, as no build can be held at that point: a signal that came as a build ended may
    be handled only once the worker waits on its pipe, where raising it printed a traceback and
    would cut a message (seen once in about 30 runs of the SIGHUP-to-a-pool case above)."""
    monkeypatch.setattr(signal, "signal", lambda *args: None)  # pytest's own handlers stay
    monkeypatch.setattr(signal, "pthread_sigmask", lambda *args: set())
    monkeypatch.setattr(pool, "_stopped_by", None)
    try:
        pool._stop_once(signal.SIGHUP, None)  # as between two builds: kept, not raised
    except KeyboardInterrupt:  # pytest would take it for a Ctrl-C and end the whole run
        pytest.fail("a stop handled between two builds was raised where the worker waits")
    output = tmp_path / "output"
    outcome = pool._build(permutation_entry(output, INPUT, PARAM), output, False)
    assert outcome.message == "interrupted by SIGHUP before it started"
    assert (outcome.result, outcome.code) == ("interrupted", 128 + signal.SIGHUP)
    assert not output.exists()


# --- an input edited while its permutation builds is never published ---------------------------


def test_an_input_edited_during_the_build_fails_it_and_the_next_build_starts_over(
    project: Project,
) -> None:
    """No stop, no resume: the build reads the input, which is edited before it finishes."""
    project.fault(PHASES[1], "note", str(project.input_file(INPUT)), input=INPUT, param=PARAM)
    result = project.run(*BUILD_ONE, code=1)
    shown = project.input_file(INPUT).relative_to(project.root)  # as the project names it
    one_line(
        result, f"error: {PERMUTATION} finishing failed: input changed during the build: {shown}"
    )
    assert not project.artifact(PERMUTATION).exists()
    assert statuses(project)[PERMUTATION][1] == "input_changed"
    project.clear_faults()
    edited = project.input_file(INPUT)
    edited.write_text("".join(line + "\n" for line in edited.read_text().split("\n")[:-2]))
    rerun = project.run(*BUILD_ONE)  # the edit made good: a numbers-only input, another size
    one_line(rerun, "input changed", "starting over")


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


# --- a full disk: the true reason, and no stage that holds nothing ------------------------------


def run_in(
    prefix: tuple[str, ...], project: Project, *steps: tuple[str, ...] | str
) -> list[subprocess.CompletedProcess[str]]:
    """Run builder commands (argument tuples) and shell lines (strings) in one shell under one
    prefix, so that one tmpfs lasts for all of them; each builder command's result."""
    builder = f"{shlex.quote(sys.executable)} -m {settings.PACKAGE}.builder"
    lines, outs = [], []
    for number, step in enumerate(steps):
        if isinstance(step, str):
            lines.append(step)
            continue
        out = shlex.quote(str(project.root / f"step-{number}"))
        lines.append(f'{builder} {shlex.join(step)} >{out}.out 2>{out}.err; echo $? >{out}.code')
        outs.append((step, project.root / f"step-{number}"))
    script = "\n".join(lines)
    subprocess.run([*prefix, "sh", "-c", script], cwd=project.root, env=project.env(), check=True)
    return [
        subprocess.CompletedProcess(
            step,
            int(out.with_suffix(".code").read_text()),
            out.with_suffix(".out").read_text(),
            out.with_suffix(".err").read_text(),
        )
        for step, out in outs
    ]


def test_a_full_disk_says_no_space_left_and_keeps_no_empty_stage(project: Project) -> None:
    """A real tmpfs, filled before the build: every setup write fails."""
    fill = 'cat /dev/zero > "$1/filler" 2>/dev/null; true'
    built, listed = run_in(
        in_tmpfs(project.output, "1m", fill), project, BUILD_ALL, ("manifest", "--json")
    )
    assert built.returncode == 1, built.stderr
    one_line(built, f"summary: {TOTAL} failed")
    errors = [line for line in built.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == TOTAL, built.stderr
    assert all("no space left on device" in line and "(log:" not in line for line in errors)
    assert "killed" not in built.stderr, built.stderr
    entries = json.loads(listed.stdout)["entries"]
    assert {entry["status"] for entry in entries} == {"MISS"}, listed.stdout  # no stage kept


def test_a_disk_that_fills_mid_build_keeps_the_completed_phases_and_says_why(
    project: Project,
) -> None:
    filler = project.output / "filler"
    project.fault(PHASES[-1], "fill", str(filler))
    faulty = project.config_file.read_text()
    project.clear_faults()
    healthy = project.config_file.read_text()
    project.config_file.write_text(faulty)
    config = shlex.quote(str(project.config_file))
    room = f"rm {shlex.quote(str(filler))}; printf %s {shlex.quote(healthy)} >{config}"
    failed, listed, resumed = run_in(
        in_tmpfs(project.output, "2m"), project, BUILD_ONE, ("manifest", "--json"), room, BUILD_ONE
    )
    assert failed.returncode == 1, failed.stderr
    where = f"phase {len(PHASES)}/{len(PHASES)} {PHASES[-1]}"
    one_line(failed, f"error: {PERMUTATION} {where} failed: no space left on device (")
    entry = {e["permutation_id"]: e for e in json.loads(listed.stdout)["entries"]}[PERMUTATION]
    assert entry["status"] == f"FAIL [{len(PHASES)}/{len(PHASES)}] {PHASES[-1]}", entry
    assert entry["reason"] == "no_space" and "no space left on device" in entry["error"], entry
    assert resumed.returncode == 0, resumed.stderr
    for number, phase in enumerate(PHASES[:-1], 1):
        assert f"phase {number}/{len(PHASES)} {phase}: skipped" in resumed.stderr


# --- a link a phase makes in its own stage is never written through ----------------------------


def test_a_link_a_phase_makes_where_the_builder_writes_a_file_is_not_followed(
    project: Project, victim: Path
) -> None:
    """ctx.write_json writes a temporary sibling first, then renames it: the sibling's name is
    known, and a link there would carry the next phase's write outside the stage."""
    before = tree(victim)
    partial = ".scaled.json.{pid}.partial"
    project.fault(PHASES[0], "link", {"name": partial, "to": str(victim / "precious.txt")})
    one_line(project.run(*BUILD_ONE))
    assert tree(victim) == before
    assert_valid_artifact(project.artifact(PERMUTATION))


def test_a_link_a_phase_makes_at_a_builders_file_stops_the_build_before_finishing(
    project: Project, victim: Path
) -> None:
    before = tree(victim)
    log = layout.log_file(project.stage(PERMUTATION), PERMUTATION, "info")
    project.fault(PHASES[-1], "link", {"name": log.name, "to": str(victim / "precious.txt")})
    result = project.run(*BUILD_ONE, code=1)
    one_line(result, f"error: {PERMUTATION} finishing failed: {log} is a symbolic link")
    assert tree(victim) == before and not project.artifact(PERMUTATION).exists()
    project.clear_faults()
    one_line(project.run(*BUILD_ONE, "--force"))  # --force removes it, never follows it
    assert tree(victim) == before


# --- what stands where the lock file goes: refused in one line, whatever the flags ------------


def test_a_folder_where_the_lock_file_goes_fails_that_permutation_alone(project: Project) -> None:
    lock = layout.lock_file(project.stage(PERMUTATION), PERMUTATION)
    lock.mkdir(parents=True)
    said = f"{lock} is a folder, not a lock file; remove it"
    table = project.run("manifest")
    one_line(table)
    assert said in table.stdout, table.stdout
    result = project.run(*BUILD_ALL, code=1)
    one_line(result, f"error: {PERMUTATION} {said}", f"summary: {TOTAL - 1} built, 1 failed")
    one_line(project.run(*BUILD_ONE, "--force", code=1), f"error: {PERMUTATION} {said}")


def test_a_link_at_the_lock_file_is_refused_in_one_line_even_with_force(
    project: Project, victim: Path
) -> None:
    before = tree(victim)
    lock = layout.lock_file(project.stage(PERMUTATION), PERMUTATION)
    lock.parent.mkdir(parents=True)
    lock.symlink_to(victim / "precious.txt")
    assert f"{lock} is a symbolic link" in project.run("manifest").stdout
    for force in ((), ("--force",)):
        result = project.run(*BUILD_ONE, *force, code=1)
        assert result.stderr == (
            f"error: {PERMUTATION} {lock} is a symbolic link; remove it (the builder never"
            " follows one)\n"
        )
    assert tree(victim) == before and lock.is_symlink()


def test_a_folder_named_like_the_artifact_is_said_to_be_no_artifact(project: Project) -> None:
    """manifest said MISS and build "is done": both now say what the path is."""
    project.artifact(PERMUTATION).mkdir(parents=True)
    said = f"{project.artifact(PERMUTATION)} is a folder, not an artifact; remove it"
    entry = project.manifest()["by_id"][PERMUTATION]
    assert not entry["done"] and entry["status"].startswith("FAIL ") and entry["error"] == said
    for args in (BUILD_ONE, BUILD_ALL):
        result = project.run(*args, code=1)
        one_line(result, f"error: {PERMUTATION} {said}")
    assert project.artifact(PERMUTATION).is_dir()


# --- a malformed provenance value: only its artifact has no provenance -------------------------


def corrupt_provenance(artifact: Path, key: str, text: str) -> None:
    """Give ``key`` of the artifact's provenance the JSON text ``text`` (valid or not)."""
    if IS_SQLITE:
        with closing(sqlite3.connect(artifact)) as conn, conn:
            conn.execute("UPDATE _provenance SET value = ? WHERE key = ?", (text, key))
        return
    sidecar = layout.sidecar_path(artifact)
    document = sidecar.read_text()
    start = document.index(f'"{key}": ')
    end = document.index('\n "', start)  # the next key (the sidecar has one key a line)
    sidecar.write_text(f'{document[:start]}"{key}": {text},{document[end:]}')


@pytest.mark.parametrize(("key", "text"), [("inputs", "42"), ("phases", "{")], ids=str)
def test_a_malformed_provenance_value_makes_only_its_artifact_lack_provenance(
    project: Project, key: str, text: str
) -> None:
    project.run(*BUILD_ALL)
    corrupt_provenance(project.artifact(PERMUTATION), key, text)
    stale = project.manifest("--stale")["by_id"]
    assert list(stale) == [PERMUTATION]  # the other artifacts are read and up to date
    assert stale[PERMUTATION]["stale"][0].startswith("no provenance: "), stale[PERMUTATION]
    shown = project.run("show", PERMUTATION, code=2)
    assert shown.stderr.startswith(f"error: {PERMUTATION} has no provenance (")
    assert len(shown.stderr.splitlines()) == 1, shown.stderr
    other = next(f"{i}_{p}" for i, p in ORDER if f"{i}_{p}" != PERMUTATION)
    assert "up to date" in project.run("show", other).stdout
    rebuilt = project.run(*BUILD_ALL, "--stale", "--verbose")
    assert rebuilt.stderr.count(f"{PHASES[0]}: started") == 1  # that artifact alone


# --- plans: what a task reads is the plan its name promises ------------------------------------


def task(project: Project, plan: Path, index: int = 0) -> subprocess.CompletedProcess[str]:
    args = ("--plan", str(plan), "--task-index", str(index))
    return project.run(*BUILD_ALL, *args, code=None)


def refused(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: ") and message in result.stderr, result.stderr


def test_a_plan_cut_short_at_a_line_end_is_refused(project: Project) -> None:
    plan = plan_ids_file(project)
    lines = plan.read_text().splitlines(keepends=True)
    plan.write_text("".join(lines[:-1]))  # the last line gone: still a well-formed plan
    refused(task(project, plan), f"plan file '{plan}' does not hold what its name says")
    assert not project.artifact(PERMUTATION).exists()


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([], "lists no permutations: nothing to build"),
        (
            [f"{INPUT}\t{PARAM}", f"{RUN_INPUTS[1]}\t{PARAM}", f"{INPUT}\t{PARAM}"],
            "line 4 repeats line 2",
        ),
    ],
    ids=["empty", "duplicate"],
)
def test_an_empty_plan_or_one_that_repeats_a_line_is_refused(
    project: Project, tmp_path: Path, lines: list[str], message: str
) -> None:
    plan = tmp_path / "mine.plan"  # not named by a hash: a plan written by hand
    plan.write_text("\n".join([f"# {settings.PACKAGE} plan 1\tforce=0", *lines]) + "\n")
    refused(task(project, plan), message)
    assert not project.output.exists() or not list(project.output.glob("*.*"))


def plan_ids_file(project: Project, *selection: str) -> Path:
    """The plan of ``plan --slurm`` (for the whole matrix, unless a selection is given)."""
    (array,) = submissions(project.run("plan", "--slurm", *selection).stdout)
    return array.plan


@pytest.mark.parametrize(
    ("variable", "value"),
    [("PLAN_OFFSET", None), ("PLAN_OFFSET", "x"), ("JOB_COMPLETION_INDEX", "010"),
     ("JOB_COMPLETION_INDEX", None), ("JOB_COMPLETION_INDEX", "-1")],
)  # fmt: skip
def test_a_pods_offset_or_index_that_is_not_a_decimal_number_is_refused(
    project: Project, variable: str, value: str | None
) -> None:
    """What Kubernetes sets in a pod, broken: never read as task 0 (unset) or 8 (010)."""
    stream = project.run("plan", "--kubernetes", "--image", "i", "--volume-claim", "c").stdout
    command = json.loads(stream.split("\n---\n")[1])["spec"]["template"]["spec"]["containers"][0]
    env = {**project.env(), "PLAN_OFFSET": "0", "JOB_COMPLETION_INDEX": "1"}
    env.pop(variable)
    if value is not None:
        env[variable] = value
    result = subprocess.run(
        ["sh", "-c", local_commands(command["command"][2])],
        env=env,
        capture_output=True,
        text=True,
    )
    refused(result, f"{variable}='{value or ''}' is not a whole number in decimal")
    assert not project.output.exists() or not list(project.output.glob("*.*"))


# --- leftovers: what the builder discarded, plans nobody needs any more --------------------------


def test_what_a_killed_discard_left_is_removed_by_the_next_build(project: Project) -> None:
    """A stage is renamed away, then deleted: killed in between, the renamed folder stayed."""
    left = layout.staging_root(project.output) / f".{PERMUTATION}.4194303.discarded"
    (left / "cache").mkdir(parents=True)
    (left / "cache" / "rows.bin").write_bytes(bytes(4096))
    one_line(project.run(*BUILD_ALL))
    assert not left.exists()


def test_the_next_submission_removes_the_plans_whose_builds_are_all_done(project: Project) -> None:
    done = plan_ids_file(project, "--limit", "2")
    dear, param = ORDER[-1]
    pending = plan_ids_file(project, axes.INPUT_FLAG, dear, axes.PARAM_FLAG, param)
    for index in range(2):  # as the array's tasks build them
        assert task(project, done, index).returncode == 0
    again = plan_ids_file(project, "--missing")
    assert not done.exists(), "a plan whose every permutation was built since it was written"
    assert pending.exists() and again.exists()


# --- a terminal of zero columns (script, some CI ptys) is one of unknown width: 80 --------------


@pytest.mark.parametrize("columns", ["0", ""], ids=["COLUMNS=0", "a-pty-of-0-columns"])
def test_a_terminal_of_zero_columns_is_taken_for_80(project: Project, columns: str) -> None:
    grid = project.in_terminal("manifest", "--grid", COLUMNS=columns, NO_COLOR="1")
    assert parse_grid(grid).pages == [] and "\x1b" not in grid  # one page, as 80 columns hold
    terminal = project.in_terminal(*BUILD_ALL, COLUMNS=columns, NO_COLOR="1")
    live = re.findall(r"(\[\d+/\d+\] [^\r\n]*)\r", terminal)
    assert live and all(re.search(r" elapsed(, ETA \d+:\d\d)?$", line) for line in live), live


# --- one bad input name refuses that input alone ----------------------------------------------


def test_one_unsafe_input_id_is_left_out_in_one_line_and_the_rest_go_on(project: Project) -> None:
    """As a file named ``my data.csv`` in the demo's data/ folder would be."""
    project.configure(inputs={**project.config["inputs"], "my data": 3})
    warned = f"warning: {axes.INPUT_AXIS} id 'my data' is not a safe filename stem"
    listed = project.run(axes.LIST_INPUTS)
    assert listed.stdout.split()[::3] == RUN_INPUTS
    assert listed.stderr.startswith(warned) and listed.stderr.count("\n") == 1, listed.stderr
    built = project.run(*BUILD_ALL)
    one_line(built, warned, f"summary: {TOTAL} built")
    assert built.stderr.count(warned) == 1, built.stderr
    assert project.manifest()["done"] == TOTAL


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
    return project.run("plan", "--slurm", code=2)


def engine_logs(project: Project, link: Path) -> subprocess.CompletedProcess[str]:
    """The SLURM file is written (its plan too), then run to submit: it makes the log folder."""
    script = project.root / "build.slurm"
    script.write_text(local_commands(project.run("plan", "--slurm").stdout))
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


def test_a_link_at_the_gathers_folder_is_refused(project: Project, victim: Path) -> None:
    """``_gathers/`` is the builder's own, as ``_build`` is: a gather's stage and artifact would
    go through a link there to wherever it points."""
    project.configure(gathers={"total": "all"})
    before = tree(victim)
    link = layout.gathers_folder(project.output)
    link.parent.mkdir(parents=True)
    link.symlink_to(victim)
    result = project.run(*BUILD_ALL, code=1)
    assert f"error: total {link} is a symbolic link" in result.stderr, result.stderr
    assert tree(victim) == before
    assert project.manifest()["done"] == TOTAL  # the permutations are built all the same


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
