"""Retries that learn, on a real single-node SLURM cluster that holds tasks to their ``--mem``.

One permutation allocates past its memory and is killed by the OOM killer; another sleeps past its
``--time`` (SLURM's shortest limit is a minute, checked every 30 s: the sleep outlasts 90 s). The
manifest and ``show`` say why each failed; ``manifest --status fail --slurm --retry-scale`` writes
one array per scaled resource set, and those, submitted for real, finish both.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REQUIRE_ENGINES, Bake, BakedProject, require_program
from slurm_cluster import CGROUPS, PROGRAMS, SlurmCluster, memory_cgroups
from test_slurm import BakedTestPipeline, manifest, write_array_file

# A minute and a half of sleep past a time limit, then a retry: the longest test of all.
pytestmark = [pytest.mark.slow, pytest.mark.long]

MEM = 150  # MiB: a build of the test pipeline takes about 50
ALLOCATED = 170  # MiB, past MEM, within twice MEM with the build's own
LIVE = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING"}
SLEPT = 95  # seconds: past a one-minute limit however the 30 s checks fall, within two minutes


def submitted(stdout: str, count: int) -> list[str]:
    jobs = re.findall(r"Submitted batch job (\d+)", stdout)
    assert len(jobs) == count, stdout
    return jobs


def task_logs(project: BakedProject) -> str:
    """The array tasks' logs, for an assertion message."""
    folder = project.root / "output" / "_slurm"
    return "\n".join(f"--- {path.name}\n{path.read_text()}" for path in sorted(folder.glob("*")))


def ended(cluster: SlurmCluster, jobs: list[str]) -> list[dict[str, str]]:
    """Each job's fields once it has ended, polled each second (``sbatch --wait`` polls slower)."""
    while True:  # an array job's id shows each of its tasks
        listed = [cluster.run("scontrol", "show", "job", "-o", job).stdout for job in jobs]
        lines = "".join(listed).splitlines()
        fields = [dict(field.partition("=")[::2] for field in line.split()) for line in lines]
        if all(job["JobState"] not in LIVE for job in fields):
            return fields
        time.sleep(1)


def require_memory_cgroups(root: Path = CGROUPS) -> str:
    """The cgroup plugin that holds tasks to their memory here; a skip saying why none can, or a
    failure if CI promised the engines (a machine that cannot run the only real OOM test must
    not leave CI green)."""
    plugin, problem = memory_cgroups(root)
    if plugin is not None:
        return plugin
    reason = f"SLURM cannot hold a task to its --mem here: {problem}"
    if os.environ.get(REQUIRE_ENGINES):
        pytest.fail(f"{reason}; {REQUIRE_ENGINES} says this machine runs every engine test")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def cluster() -> Iterator[SlurmCluster]:
    require_program(*PROGRAMS)
    with SlurmCluster(enforce_memory=require_memory_cgroups()) as running:
        yield running


def fake_cgroups(root: Path, layout: str) -> Path:
    """A folder laid out as /sys/fs/cgroup is on a machine of this layout."""
    if layout in ("v1", "hybrid-v1-memory"):
        (root / "memory").mkdir(parents=True)
        (root / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    if layout == "v2":
        (root / "cgroup.controllers").write_text("cpuset cpu io memory hugetlb pids\n")
    if layout in ("hybrid-v1-memory", "hybrid-no-memory"):
        (root / "unified").mkdir(parents=True)
        (root / "unified" / "cgroup.controllers").write_text("hugetlb\n")
    return root


@pytest.mark.parametrize(
    ("layout", "plugin"),
    [("v1", "cgroup/v1"), ("hybrid-v1-memory", "cgroup/v1"), ("v2", "cgroup/v2")],
)
def test_the_cgroup_plugin_follows_the_memory_controller(
    tmp_path: Path, layout: str, plugin: str
) -> None:
    assert require_memory_cgroups(fake_cgroups(tmp_path, layout)) == plugin


def test_no_memory_controller_fails_when_ci_promised_the_engines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It skipped, CI green, wherever cgroup v1 was missing: now v2 runs, and with neither, CI
    fails saying what is missing."""
    root = fake_cgroups(tmp_path, "hybrid-no-memory")
    monkeypatch.setenv(REQUIRE_ENGINES, "1")
    with pytest.raises(pytest.fail.Exception) as failed:
        require_memory_cgroups(root)
    assert f"no memory controller in cgroup v1 ({root}/memory)" in str(failed.value)
    assert f"cgroup v2 at {root}/unified holds hugetlb" in str(failed.value)
    monkeypatch.delenv(REQUIRE_ENGINES)
    with pytest.raises(pytest.skip.Exception):
        require_memory_cgroups(root)


def test_oom_and_timeout_are_told_apart_and_retried_with_more(
    bake: Bake, cluster: SlurmCluster, tmp_path: Path
) -> None:
    project = bake()
    pipeline = BakedTestPipeline(project, tmp_path)
    phase = pipeline.phases[1]
    pipeline.configure(
        inputs={"small": 4},
        registry={"half": {"cost": 1, "scale": 0.5}, "double": {"cost": 2, "scale": 2}},
        faults=[
            {"phase": phase, "action": "allocate", "arg": ALLOCATED, "param": "half"},
            {"phase": phase, "action": "sleep", "arg": SLEPT, "param": "double"},
        ],
    )
    env = {**cluster.env, **pipeline.env}
    builder = ("-m", f"{project.package}.builder")

    first = write_array_file(
        project, env, tmp_path / "first.slurm", "--slurm", "--mem", f"{MEM}M", "--time", "1"
    )
    tasks = ended(cluster, submitted(project.run("bash", first, env=env).stdout, 1))
    assert sorted(task["JobState"] for task in tasks) == ["OUT_OF_MEMORY", "TIMEOUT"], tasks
    entries = manifest(project, env)
    oom, timeout = entries["small_half"], entries["small_double"]
    assert oom["status"].startswith("FAIL ") and timeout["status"].startswith("FAIL ")
    # The OOM killer's SIGKILL leaves the build nothing to record: the task's wrapper, which
    # outlived it in the task's memory cgroup, records it in-band (plain manifest asks SLURM
    # nothing, so this holds once SLURM forgets the job); the time limit's SIGTERM is caught and
    # SLURM asked at once. Both builds recorded their job.
    assert oom["reason"] == "oom" and timeout["reason"] == "timeout", (oom, timeout)
    assert "OOM killer" in oom["error"], oom
    assert re.fullmatch(r"\d+_0", oom["slurm_job"]) and re.fullmatch(r"\d+_1", timeout["slurm_job"])
    for permutation_id, reason in (("small_half", "oom"), ("small_double", "timeout")):
        shown = project.python(*builder, "show", permutation_id, env=env).stdout
        assert f"  reason     {reason}\n" in shown, shown

    retry = write_array_file(
        project, env, tmp_path / "retry.slurm",
        "--status", "fail", "--slurm", "--mem", f"{MEM}M", "--time", "1",
        "--retry-scale", "mem=2,time=2",
    )  # fmt: skip
    text = retry.read_text()
    assert f"--mem={2 * MEM}M --time=0:01:00 " in text, text  # the OOM's array
    assert f"--mem={MEM}M --time=0:02:00 " in text, text  # the timeout's
    jobs = ended(cluster, submitted(project.run("bash", retry, env=env).stdout, 2))
    limits = {(job["TimeLimit"], job["MinMemoryNode"]) for job in jobs}
    assert {job["JobState"] for job in jobs} == {"COMPLETED"}, (jobs, task_logs(project))
    assert limits == {("00:01:00", f"{2 * MEM}M"), ("00:02:00", f"{MEM}M")}, limits
    finished = manifest(project, env).values()
    assert [(entry["status"], entry["reason"]) for entry in finished] == [("DONE", None)] * 2
