"""Fanning out the missing builds: GNU parallel, xargs, `build --jobs`, shards, SLURM files, CI."""

from __future__ import annotations

import json
import os
import random
import re
import shlex
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    INPUTS,
    PARAMS,
    PHASES,
    ROOT,
    Project,
    arrays_of,
    assert_valid_artifact,
    local_commands,
    plan_ids,
    plan_of,
    run_task,
    submissions,
    task_environment,
)

from {{ cookiecutter.package_name }} import settings
from {{ cookiecutter.package_name }}.builder import axes
from {{ cookiecutter.package_name }}.builder.manifest import shard

# Tests that run many builds through an engine; `pytest -m "not engines"` leaves them out.
engines = pytest.mark.engines

TOTAL = len(INPUTS) * len(PARAMS)
HEADER_OK = "# @PACKAGE@ plan 1\tforce=0"


def require(program: str) -> str:
    """The program's path, or a skip that says what to install."""
    path = shutil.which(program)
    if path is None:
        pytest.skip(f"{program} is not installed here (Debian: apt-get install {program})")
    return path


class BuildRecord:
    """Each build notes the start and the end of its work in one file that all builders share:
    its first phase's note is its start, its last phase's its end."""

    def __init__(self, project: Project, pause: float = 0.0) -> None:
        self.path = project.root / "builds.log"
        project.fault(PHASES[0], "note", str(self.path))
        project.fault(PHASES[-1], "note", str(self.path))
        if pause:
            project.fault(PHASES[1], "sleep", pause)

    def events(self) -> list[tuple[str, str, int, float]]:
        lines = self.path.read_text().splitlines() if self.path.exists() else []
        event = {PHASES[0]: "start", PHASES[-1]: "end"}
        return [
            (p, event[phase], int(pid), float(at)) for p, phase, pid, at in map(str.split, lines)
        ]

    def starts(self) -> Counter[str]:
        return Counter(p for p, event, _, _ in self.events() if event == "start")

    def most_at_once(self) -> int:
        """The most builds that were between their start and their end at one moment."""
        steps = sorted((at, 1 if event == "start" else -1) for _, event, _, at in self.events())
        running = peak = 0
        for _, step in steps:
            running += step
            peak = max(peak, running)
        return peak


def missing_ids(project: Project) -> list[str]:
    return [e["permutation_id"] for e in project.manifest("--missing")["entries"]]


def assert_all_built_once(project: Project, record: BuildRecord, ids: list[str]) -> None:
    """Every permutation done, valid, built by exactly one builder, and no staging left."""
    assert record.starts() == Counter(ids)
    document = project.manifest()
    assert document["done"] == TOTAL, [e["status"] for e in document["entries"]]
    for permutation_id in ids:
        assert_valid_artifact(project.artifact(permutation_id))
    staging = project.output / "_build"
    assert not staging.exists() or not list(staging.iterdir())


# --- local engines: each missing build once, concurrently -------------------------------------


def missing_commands(project: Project) -> str:
    return local_commands(project.run("manifest", "--missing", "--commands").stdout)


def feed(project: Project, engine: list[str], commands: str) -> subprocess.CompletedProcess[str]:
    """Run an engine in the project root with build commands on its standard input."""
    return subprocess.run(
        engine,
        input=commands,
        cwd=project.root,
        env=project.env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


@engines
def test_gnu_parallel_builds_each_once_even_when_every_command_is_given_twice(
    project: Project, tmp_path: Path
) -> None:
    parallel = require("parallel")
    record = BuildRecord(project, pause=0.1)
    ids = missing_ids(project)
    twice = "".join(f"{line}\n{line}\n" for line in missing_commands(project).splitlines())
    joblog = tmp_path / "joblog"
    feed(project, [parallel, "--will-cite", "-j", "4", "--joblog", str(joblog)], twice)
    # A copy that meets its twin's lock exits 3 (busy); one that comes later finds it done.
    codes = Counter(row.split("\t")[6] for row in joblog.read_text().splitlines()[1:])
    assert sum(codes.values()) == 2 * TOTAL and set(codes) <= {"0", "3"}, codes
    assert_all_built_once(project, record, ids)


@engines
def test_xargs_builds_the_missing_permutations_concurrently(project: Project) -> None:
    xargs = require("xargs")
    record = BuildRecord(project, pause=0.15)
    ids = missing_ids(project)
    result = feed(project, [xargs, "-P", "3", "-I{}", "sh", "-c", "{}"], missing_commands(project))
    assert result.returncode == 0, result.stderr
    assert record.most_at_once() >= 2
    assert_all_built_once(project, record, ids)


# --- build --jobs: the builder's own process pool -----------------------------------------------


@engines
def test_build_jobs_builds_on_that_many_workers_cheapest_first(project: Project) -> None:
    record = BuildRecord(project, pause=0.15)
    ids = missing_ids(project)
    result = project.run("build", "--output-folder", "output", "--jobs", "2")
    assert f"summary: {TOTAL} built" in result.stderr and result.stdout == ""
    assert record.most_at_once() == 2
    assert len({pid for _, _, pid, _ in record.events()}) == 2
    started = [
        p for p, event, _, _ in sorted(record.events(), key=lambda e: e[3]) if event == "start"
    ]
    assert started.index(ids[0]) < started.index(ids[-1])
    assert_all_built_once(project, record, ids)


@engines
def test_build_jobs_lists_each_failure_with_its_error_log(project: Project) -> None:
    failing = INPUTS[0]
    project.fault(PHASES[1], "raise", "injected failure", input=failing)
    result = project.run("build", "--output-folder", "output", "--jobs", "2", code=1)
    failed = [f"{failing}_{param}" for param in PARAMS]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == len(failed), result.stderr
    for permutation_id in failed:
        error_log = project.stage(permutation_id) / f"{permutation_id}.error.log"
        line = next(line for line in errors if line.startswith(f"error: {permutation_id} "))
        assert "injected failure" in line and line.endswith(f"(log: {error_log})")
        assert "injected failure" in error_log.read_text()
        assert project.manifest()["by_id"][permutation_id]["status"].startswith("FAIL ")
    built = TOTAL - len(failed)
    assert f"summary: {built} built, {len(failed)} failed" in result.stderr
    assert project.manifest()["done"] == built


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def building(project: Project) -> set[str]:
    """Permutations whose build has reached the second phase."""
    root = project.output / "_build"
    if not root.is_dir():
        return set()
    started = f"phase 2/{len(PHASES)} {PHASES[1]}: started"
    return {
        stage.name for stage in root.iterdir() if started in _text(stage / f"{stage.name}.info.log")
    }


def _text(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


STOPS = [
    pytest.param(signal.SIGINT, True, 130, id="ctrl-c-to-the-process-group"),
    pytest.param(signal.SIGTERM, False, 143, id="sigterm-to-the-builder-only"),
]


@engines
@pytest.mark.parametrize(("stop", "to_group", "code"), STOPS)
def test_build_jobs_stops_cleanly_and_the_next_build_resumes(
    project: Project, stop: signal.Signals, to_group: bool, code: int
) -> None:
    project.fault(PHASES[1], "sleep", 120)
    # setsid: the builder leads a process group of its own, as a command in a terminal does.
    builder = project.start("build", "--output-folder", "output", "--jobs", "2", prefix=("setsid",))
    wait_for(lambda: len(building(project)) == 2, "two builds in their second phase")
    running = building(project)
    locks = [_text(project.stage(p) / f"{p}.lock") for p in running]
    workers = {int(re.findall(r"^holder: pid (\d+) ", text, re.M)[0]) for text in locks}
    if to_group:
        os.killpg(builder.pid, stop)
    else:
        builder.send_signal(stop)
    stderr = project.finish(builder, code=code, timeout=60).stderr
    assert "summary: " in stderr and " interrupted" in stderr
    assert not any(_alive(pid) for pid in workers)

    # Nothing half-moved: no artifact at all, and staging only for the two that were running.
    document = project.manifest()
    assert document["done"] == 0
    assert {p.name for p in (project.output / "_build").iterdir()} == running
    for permutation_id in running:
        entry = document["by_id"][permutation_id]
        assert entry["status"] == f"FAIL [2/{len(PHASES)}] {PHASES[1]}"
        assert f"interrupted by {stop.name}" in entry["error"]

    project.clear_faults()
    resumed = project.run("build", "--output-folder", "output", "--verbose").stderr
    for permutation_id in running:
        assert f"{permutation_id}: phase 1/{len(PHASES)} {PHASES[0]}: skipped" in resumed
    assert project.manifest()["done"] == TOTAL


# --- shards -------------------------------------------------------------------------------------


def work(entry: dict[str, Any]) -> float:
    return float(entry["sort_key"][0]) * float(entry["sort_key"][1])


def test_the_greedy_split_is_disjoint_complete_and_balanced() -> None:
    draw = random.Random(5)
    entries: list[dict[str, Any]] = [
        {
            "permutation_id": f"p{n}",
            "sort_key": (draw.randint(0, 10**6), draw.choice([0, 1, 2, 3.5]), f"p{n}", "x"),
        }
        for n in range(300)
    ]
    heaviest = max(map(work, entries))
    for count in (1, 2, 3, 7, 16):
        split = shard.assign(entries, count)
        assert split == shard.assign(list(entries), count)  # deterministic
        flat = [e["permutation_id"] for part in split for e in part]
        assert sorted(flat) == sorted(e["permutation_id"] for e in entries)  # disjoint, complete
        loads = [sum(map(work, part)) for part in split]
        assert max(loads) - min(loads) <= heaviest
        for part in split:  # each shard keeps the order it was given
            assert part == [e for e in entries if e in part]
    free = [{**e, "sort_key": (0, 0, *e["sort_key"][2:])} for e in entries]  # no costs at all
    assert {len(part) for part in shard.assign(free, 7)} == {300 // 7, 300 // 7 + 1}


def shards(project: Project, count: int) -> list[list[str]]:
    return [
        [
            e["permutation_id"]
            for e in project.manifest("--missing", "--shard", f"{i}/{count}")["entries"]
        ]
        for i in range(1, count + 1)
    ]


def test_a_shard_keeps_its_permutations_while_others_finish(project: Project) -> None:
    ids = missing_ids(project)
    before = shards(project, 3)
    assert sorted(p for part in before for p in part) == sorted(ids)
    finished = [before[0][0], before[-1][-1]]
    project.output.mkdir()
    for permutation_id in finished:  # what a finished build leaves, as far as the manifest cares
        project.artifact(permutation_id).write_bytes(b"done")
    after = shards(project, 3)
    assert after == [[p for p in part if p not in finished] for part in before]
    # --commands and --slurm take the same shard as --json, cheapest first
    listed = project.manifest("--missing", "--shard", "2/3")["entries"]
    assert [e["permutation_id"] for e in listed] == [p for p in ids if p in after[1]]
    commands = project.run("manifest", "--missing", "--commands", "--shard", "2/3").stdout
    assert commands.splitlines() == [e["command"] for e in listed]
    slurm = project.run("plan", "--missing", "--slurm", "--shard", "2/3").stdout
    assert plan_ids(plan_of(slurm)) == [e["permutation_id"] for e in listed]


# --- Array files over a plan, run task by task the way SLURM and Grid Engine run them -------------


SLURM_ARGS = ("--max-array-size", "4", "--array-limit", "2", "--time", "0:30:00", "--mem", "1G")


def test_slurm_file_submits_arrays_over_a_frozen_plan(project: Project) -> None:
    script = project.run("plan", "--missing", "--slurm", *SLURM_ARGS).stdout
    plan = plan_of(script)
    assert script.startswith("#!/bin/bash\n") and plan_ids(plan) == missing_ids(project)
    assert plan.parent == project.output / "_plans"
    for submission in submissions(script):
        assert submission.options == ["--cpus-per-task=1", "--mem=1G", "--time=0:30:00"]
    assert f"sbatch --job-name={settings.PACKAGE} " in script
    assert "#   plan1: 9 builds in 9 task(s): cpus=1 mem=1G time=0:30:00 (" in script
    assert arrays_of(script) == [(at, min(4, TOTAL - at)) for at in range(0, TOTAL, 4)]
    assert '--array="0-$(( $3 - 1 ))%2"' in script and '--output="$logs/%A_%a.out"' in script
    assert f"\nlogs={shlex.quote(str(project.output / '_slurm'))}\n" in script
    assert project.run("plan", "--done", "--slurm").stdout == ""  # nothing to submit

    # A plan after a build is a new plan; the queued one stays as it was.
    frozen = plan.read_text()
    first = missing_ids(project)[0]
    inp, param = first.split("_", 1)
    project.run(
        "build",
        "--output-folder",
        str(project.output),
        axes.INPUT_FLAG,
        inp,
        axes.PARAM_FLAG,
        param,
    )
    again = plan_of(project.run("plan", "--missing", "--slurm").stdout)
    assert again != plan and plan.read_text() == frozen and first not in plan_ids(again)


def test_packing_cuts_the_tasks_and_builds_inside_with_jobs(project: Project) -> None:
    script = project.run(
        "plan", "--missing", "--slurm", "--per-task", "4", "--cpus-per-task", "2",
        "--max-array-size", "2",
    ).stdout  # fmt: skip
    tasks = -(-TOTAL // 4)
    assert arrays_of(script) == [(0, 2), (2, tasks - 2)]
    assert {submission.jobs for submission in submissions(script)} == {2}
    assert '--per-task 4 --jobs "$3" --task-index "$index"' in script
    single = project.run("plan", "--missing", "--slurm", "--cpus-per-task", "2").stdout
    assert {submission.jobs for submission in submissions(single)} == {1}  # one build: no pool


@engines
def test_each_slurm_task_builds_its_lines_of_the_plan(project: Project, tmp_path: Path) -> None:
    record = BuildRecord(project)
    text = project.run("plan", "--missing", "--slurm", "--per-task", "2", *SLURM_ARGS).stdout
    script = tmp_path / "build.slurm"
    script.write_text(local_commands(text))
    ids = missing_ids(project)
    built = []
    arrays = submissions(text)
    for array in arrays:  # the last task of each array
        index = array.offset + array.tasks - 1
        result = run_task(script, project, array, array.tasks - 1)
        assert result.returncode == 0 and f": task {index} of plan " in result.stderr, result.stderr
        built += ids[2 * index : 2 * index + 2]
    starts = [p for p, event, _, _ in record.events() if event == "start"]
    assert starts == built  # each task's lines, in the plan's order
    assert sorted(e["permutation_id"] for e in project.manifest("--done")["entries"]) == sorted(
        built
    )
    for permutation_id in built:
        assert_valid_artifact(project.artifact(permutation_id))

    beyond = run_task(script, project, arrays[0], -(-TOTAL // 2))
    assert beyond.returncode == 2 and "is beyond the plan" in beyond.stderr
    plain = run_task(script, project, arrays[0], None)
    assert plain.returncode == 2 and "submit this file with bash" in plain.stderr


def test_grid_engine_file_turns_the_1_based_index_into_the_task(
    project: Project, tmp_path: Path
) -> None:
    text = project.run("plan", "--missing", "--sge", "--max-array-size", "4",
                       "--array-limit", "2").stdout  # fmt: skip
    assert plan_ids(plan_of(text)) == missing_ids(project)
    assert arrays_of(text) == [(at, min(4, TOTAL - at)) for at in range(0, TOTAL, 4)]
    assert "index=$(( $2 + SGE_TASK_ID - 1 ))" in text
    script = tmp_path / "build.sge"
    script.write_text(local_commands(text))
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    # Submitting: a stand-in qsub that records its arguments, one file per call.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    qsub = bin_dir / "qsub"
    qsub.write_text(f'#!/bin/bash\nprintf "%s\\n" "$@" > {tmp_path}/qsub.$RANDOM$RANDOM\n')
    qsub.chmod(0o755)
    env = {**project.env(), "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    subprocess.run(["bash", str(script), "-l", "h_rt=0:10:00"], env=env, check=True)
    calls = [path.read_text().splitlines() for path in sorted(tmp_path.glob("qsub.*"))]
    # each array's task count, and the arguments its tasks get: plan, offset, build --jobs
    assert sorted((call[call.index("-t") + 1], *call[-3:]) for call in calls) == sorted(
        (f"1-{a.tasks}", str(a.plan), str(a.offset), str(a.jobs)) for a in submissions(text)
    )
    for call in calls:
        assert call[:2] == ["-S", "/bin/bash"] and call[call.index("-tc") + 1] == "2"
        assert call[-6:-3] == ["-l", "h_rt=0:10:00", str(script)]  # the user's options last
        assert call[call.index("-o") + 1] == f"{project.output}/_sge/$JOB_ID.$TASK_ID.out"
    # Run as Grid Engine runs task 1 of the second array: the plan's task 4.
    result = run_task(script, project, submissions(text)[1], 1, engine="sge")
    assert result.returncode == 0 and ": task 4 of plan " in result.stderr, result.stderr
    done = [e["permutation_id"] for e in project.manifest("--done")["entries"]]
    assert done == [plan_ids(plan_of(text))[4]]
    plain = run_task(script, project, submissions(text)[0], None, engine="sge")
    assert plain.returncode == 2 and "submit this file with bash" in plain.stderr


# PBS and LSF, checked by their documented syntax (no such cluster here): 9 tasks in arrays of at
# most 4, at most 2 running; the resource flags as each engine takes them.
ENGINE_FLAGS = ("--cpus-per-task", "2", "--mem", "1G", "--time", "90", "--partition", "short")
LSF_REQUEST = "span[hosts=1] rusage[mem=1024MB]"  # the cpus on one host, memory reserved there
SYNTAX = {
    "pbs": (
        "qsub",
        ["0-3:1%2", "0-3:1%2", "0-1:2%2"],  # a lone task: 0-1:2, since PBS wants X < Y
        ["-l", "select=1:ncpus=2:mem=1024mb", "-l", "walltime=1:30:00", "-q", "short"],
        ["--", "/bin/bash"],
        (1, 5),  # PBS_ARRAY_INDEX 1 of the second array (offset 4): task 5
    ),
    "lsf": (
        "bsub",
        [f"{settings.PACKAGE}[1-{n}]%2" for n in (4, 4, 1)],
        ["-n", "2", "-M", "1024MB", "-R", LSF_REQUEST, "-W", "90", "-q", "short"],
        ["/bin/bash"],
        (2, 5),  # LSB_JOBINDEX 2 (from 1) of the second array: task 5
    ),
}


@pytest.mark.parametrize("engine", list(SYNTAX))
def test_pbs_and_lsf_files_submit_as_documented_and_tasks_build_their_lines(
    project: Project, tmp_path: Path, engine: str
) -> None:
    submitter, ranges, options, runs, (index, task) = SYNTAX[engine]
    text = project.run("plan", "--missing", f"--{engine}", "--max-array-size", "4",
                       "--array-limit", "2", *ENGINE_FLAGS).stdout  # fmt: skip
    assert plan_ids(plan_of(text)) == missing_ids(project)
    script = tmp_path / f"build.{engine}"
    script.write_text(local_commands(text))
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    # Submitting: a stand-in submitter that records its arguments, one file per call.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stand_in = bin_dir / submitter
    stand_in.write_text(f'#!/bin/bash\nprintf "%s\\n" "$@" > {tmp_path}/call.$RANDOM$RANDOM\n')
    stand_in.chmod(0o755)
    env = {**project.env(), "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    subprocess.run(["bash", str(script), "-P", "mine"], env=env, check=True, cwd=tmp_path)
    calls = sorted(
        (path.read_text().splitlines() for path in tmp_path.glob("call.*")),
        key=lambda call: int(call[-2]),  # by offset
    )
    arrays = submissions(text)
    assert [call[call.index("-J") + 1] for call in calls] == ranges
    for call, array in zip(calls, arrays, strict=True):
        # the set's options, then those given to the file, then this file run by bash
        tail = [*options, "-P", "mine", *runs, str(script)]
        assert call[-len(tail) - 3 :] == [*tail, str(array.plan), str(array.offset), "1"]
    # Run as the engine runs a task of the second array, and as a job that is not an array.
    result = run_task(script, project, arrays[1], index, engine=engine)
    assert result.returncode == 0 and f": task {task} of plan " in result.stderr, result.stderr
    done = [e["permutation_id"] for e in project.manifest("--done")["entries"]]
    assert done == [plan_ids(arrays[1].plan)[task]]
    plain = run_task(script, project, arrays[0], None, engine=engine)
    assert plain.returncode == 2 and "submit this file with bash" in plain.stderr


# The index variable's value in each engine's first array task.
FIRST_TASK = {"slurm": 0, "sge": 1, "pbs": 0, "lsf": 1}


@pytest.mark.parametrize("engine", list(FIRST_TASK))
def test_a_task_runs_its_setup_lines_then_the_interpreter_they_put_there(
    project: Project, tmp_path: Path, engine: str
) -> None:
    environment = task_environment(tmp_path)
    asked = ("plan", "--missing", "--limit", "1", f"--{engine}")
    text = project.run(*asked, *environment).stdout
    options = zip(environment[::2], environment[1::2], strict=True)
    setup = [value for flag, value in options if flag == "--setup"]
    assert "\n".join(["# Each task first runs:", *(f"#   {line}" for line in setup)]) in text
    assert "exec task-python -m " in text  # the interpreter named, not the project's runner
    script = tmp_path / "build.sh"
    script.write_text(text)  # as written: no runner swapped for this interpreter
    (array,) = submissions(text)
    result = run_task(script, project, array, FIRST_TASK[engine], engine=engine)
    assert result.returncode == 0, result.stderr
    built = plan_ids(array.plan)
    assert [e["permutation_id"] for e in project.manifest("--done")["entries"]] == built
    assert_valid_artifact(project.artifact(built[0]))

    # Without its setup, the task finds no such interpreter: the setup ran before the build.
    bare = project.run(*asked, "--python", "task-python").stdout
    assert "Each task first runs" not in bare
    script.write_text(bare)
    failed = run_task(script, project, submissions(bare)[0], FIRST_TASK[engine], engine=engine)
    assert failed.returncode == 127 and "task-python: not found" in failed.stderr


@pytest.mark.parametrize(
    ("options", "error"),
    [
        pytest.param(
            ("--slurm", "--setup", "module load a\nrm -r b"),
            "--setup 'module load a\\nrm -r b' holds a control character; give each line its own"
            " --setup",
            id="setup-of-two-lines",
        ),
        pytest.param(
            ("--pbs", "--python", " "),
            "--python ' ' names no interpreter; give its path, e.g. .venv/bin/python",
            id="python-blank",
        ),
    ],
)
def test_a_bad_task_environment_is_one_line_and_nothing_written(
    project: Project, options: tuple[str, ...], error: str
) -> None:
    refused = project.run("plan", "--missing", *options, code=2)
    assert refused.stderr == f"error: {error}\n" and refused.stdout == ""
    assert not (project.output / "_plans").exists()


def test_a_packed_task_that_dies_leaves_the_rest_missing_or_failed(project: Project) -> None:
    ids = missing_ids(project)
    inp, param = ids[1].split("_", 1)
    project.fault(PHASES[1], "os_exit", 9, input=inp, param=param)
    plan = plan_of(project.run("plan", "--missing", "--slurm", "--per-task", "4").stdout)
    died = project.run("build", "--output-folder", str(project.output), "--plan", str(plan),
                       "--per-task", "4", "--task-index", "0", code=9)  # fmt: skip
    assert died.returncode == 9
    states = {e["permutation_id"]: e["status"].split()[0] for e in project.manifest()["entries"]}
    assert states[ids[0]] == "DONE"
    assert states[ids[1]] in ("FAIL", "MISS") and {states[p] for p in ids[2:4]} == {"MISS"}
    assert [p for p, state in states.items() if state == "DONE"] == [ids[0]]
    # After the fix the same task finishes its lines; the built one is skipped, not rebuilt.
    project.clear_faults()
    again = project.run("build", "--output-folder", str(project.output), "--plan", str(plan),
                        "--per-task", "4", "--task-index", "0")  # fmt: skip
    assert f"{ids[0]} is done" in again.stderr
    done = {e["permutation_id"] for e in project.manifest("--done")["entries"]}
    assert done == set(ids[:4])


def test_a_forced_plan_rebuilds_what_is_done(project: Project) -> None:
    first = missing_ids(project)[0]
    inp, param = first.split("_", 1)
    pinned = (axes.INPUT_FLAG, inp, axes.PARAM_FLAG, param)
    project.run("build", "--output-folder", str(project.output), *pinned)
    built = project.artifact(first).stat().st_mtime_ns
    kept = plan_of(project.run("plan", "--done", "--slurm", *pinned).stdout)
    forced = plan_of(project.run("plan", "--done", "--slurm", "--force", *pinned).stdout)
    assert kept.read_text().splitlines()[0].split("\t")[1] == "force=0"
    assert forced.read_text().splitlines()[0].split("\t")[1] == "force=1"
    task = ("build", "--output-folder", str(project.output), "--task-index", "0", "--plan")
    assert f"{first} is done" in project.run(*task, str(kept)).stderr
    assert project.artifact(first).stat().st_mtime_ns == built
    project.run(*task, str(forced))
    assert project.artifact(first).stat().st_mtime_ns != built


@pytest.mark.parametrize(
    ("lines", "args", "message"),
    [
        pytest.param(None, ("--task-index", "0"), "cannot read the plan file", id="missing"),
        pytest.param(["small\thalf"], ("--task-index", "0"), "is not a plan file", id="header"),
        pytest.param([HEADER_OK, "small half"], ("--task-index", "0"), "line 2", id="malformed"),
        pytest.param([HEADER_OK, "nope\thalf"], ("--task-index", "0"), "'nope'", id="unknown"),
        pytest.param([HEADER_OK, "small\thalf"], ("--task-index", "1"), "beyond", id="beyond"),
        pytest.param([HEADER_OK, "small\thalf"], ("--task-index", "-1"), "at least 0", id="neg"),
        pytest.param([HEADER_OK], ("--missing", "--task-index", "0"), "selectors", id="selector"),
        pytest.param([HEADER_OK], (), "go together", id="no-index"),
    ],
)
def test_a_bad_plan_is_one_line_and_exit_2(
    project: Project, tmp_path: Path, lines: list[str] | None, args: tuple[str, ...], message: str
) -> None:
    plan = tmp_path / "x.plan"
    if lines is not None:
        plan.write_text("\n".join(lines).replace("@PACKAGE@", settings.PACKAGE) + "\n")
    result = project.run("build", "--output-folder", str(project.output), "--plan", str(plan),
                         *args, code=2)  # fmt: skip
    assert message in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr
    assert not project.output.exists() or not any(project.output.glob("*.*"))


# --- the JSON document, as docs/json.md documents it, and the CI matrix made from it -----------


def documented_schema(heading: str) -> dict[str, set[type]]:
    """docs/json.md's table under ``heading``: each key and the JSON types it may hold."""
    types = {
        "string": str,
        "integer": int,
        "boolean": bool,
        "array": list,
        "object": dict,
        "null": type(None),
    }
    section = (ROOT / "docs" / "json.md").read_text().split(heading, 1)[1].split("\n\n|", 1)[1]
    schema: dict[str, set[type]] = {}
    for row in section.split("\n\n", 1)[0].splitlines()[2:]:
        keys, kind = row.split("|")[1:3]
        allowed = {types[word] for word in re.findall(r"[a-z]+", kind) if word in types}
        for key in re.findall(r"`([^`]+)`", keys):
            schema[key] = allowed
    return schema


def assert_matches(value: dict[str, Any], schema: dict[str, set[type]]) -> None:
    assert set(value) == set(schema)
    for key, allowed in schema.items():
        assert type(value[key]) in allowed, f"{key}: {value[key]!r} is not {allowed}"


def test_json_document_has_the_schema_the_readme_documents(project: Project) -> None:
    first, second = missing_ids(project)[:2]
    project.output.mkdir()
    project.artifact(first).write_bytes(b"done")
    project.fault(PHASES[0], "raise", "injected failure")
    entry = project.manifest()["by_id"][second]
    pinned = (axes.INPUT_FLAG, entry[axes.INPUT_KEY], axes.PARAM_FLAG, entry[axes.PARAM_KEY])
    project.run("build", "--output-folder", "output", *pinned, code=1)
    document = json.loads(project.run("manifest", "--json").stdout)
    assert_matches(document, documented_schema("The document:"))
    statuses = set()
    for entry in document["entries"]:
        assert_matches(entry, documented_schema("Each entry of `entries`:"))
        statuses.add(entry["status"].split()[0])
    assert statuses == {"DONE", "MISS", "FAIL"}
    # Written from the matrix's cells, unless a shard needs entry dicts: the same bytes either way.
    for flags in [(), ("--missing",), ("--done", "--sort", "name"), ("--limit", "2", "--force")]:
        from_cells = project.run("manifest", "--json", *flags).stdout
        assert from_cells == project.run("manifest", "--json", "--shard", "1/1", *flags).stdout


def test_the_docs_jq_filter_makes_a_github_actions_matrix(project: Project) -> None:
    jq = require("jq")
    scaling_out = (ROOT / "docs" / "scaling-out.md").read_text()
    jq_filter = re.search(r"manifest --missing --json \| jq -c '([^']+)'", scaling_out)
    assert jq_filter, "docs/scaling-out.md shows no jq one-liner"
    document = project.run("manifest", "--missing", "--json").stdout
    result = subprocess.run(
        [jq, "-c", jq_filter.group(1)], input=document, capture_output=True, text=True, check=True
    )
    matrix = json.loads(result.stdout)
    assert list(matrix) == ["include"]
    expected = json.loads(document)["entries"]
    assert matrix["include"] == [
        {"permutation_id": e["permutation_id"], "command": e["command"]} for e in expected
    ]
