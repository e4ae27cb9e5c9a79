"""Array files over a plan, on real single-node clusters the tests start: a 100,000-permutation
SLURM file that sbatch accepts under MaxArraySize 1001, and Grid Engine arrays that build, fail
one permutation, and finish it on resubmission."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Bake, require_program, task_environment
from sge_cluster import PROGRAMS as SGE_PROGRAMS
from sge_cluster import SgeCluster
from slurm_cluster import PROGRAMS as SLURM_PROGRAMS
from slurm_cluster import SlurmCluster
from test_slurm import BakedTestPipeline, manifest, planned_ids, write_array_file

pytestmark = pytest.mark.slow


def as_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("the single-node clusters run their daemons as root")


@pytest.fixture(scope="module")
def slurm() -> Iterator[SlurmCluster]:
    require_program(*SLURM_PROGRAMS)
    as_root()
    with SlurmCluster(max_array_size=1001) as running:
        yield running


@pytest.fixture(scope="module")
def sge() -> Iterator[SgeCluster]:
    require_program(*SGE_PROGRAMS)
    as_root()
    with SgeCluster(slots=2) as running:
        yield running


def test_100000_permutations_make_a_file_sbatch_accepts(
    bake: Bake, slurm: SlurmCluster, tmp_path: Path
) -> None:
    project = bake()
    pipeline = BakedTestPipeline(project, tmp_path)
    registry = {f"p{n:03}": {"cost": 1, "scale": 1} for n in range(100)}
    pipeline.configure(inputs={f"i{n:04}": 1 for n in range(1000)}, registry=registry)
    env = {**slurm.env, **pipeline.env}
    options = ("--missing", "--slurm", "--max-array-size", "1001", "--per-task", "1")
    array_file = write_array_file(project, env, tmp_path / "big.slurm", *options)
    assert len(planned_ids(array_file)) == 100_000
    text = array_file.read_text()
    arrays = re.findall(r"^submit \S+ (\d+) (\d+) ", text, re.MULTILINE)
    assert len(arrays) == 100 and arrays[-1] == ("99099", "901")
    assert len(text) < 10_000  # the plan holds the permutations, not the file
    # Every sbatch call of the file, with --test-only: checked, scheduled, never queued.
    tested = project.run("bash", array_file, "--test-only", env=env)
    accepted = re.findall(r"sbatch: Job \d+ to start at", tested.stderr)
    assert len(accepted) == 100, f"{tested.stderr[-2000:]}\n{slurm.logs()}"
    assert "error" not in tested.stderr.lower()


def test_grid_engine_arrays_build_and_a_resubmission_finishes_what_failed(
    bake: Bake, sge: SgeCluster, tmp_path: Path
) -> None:
    project = bake()  # the tasks run `uv run -m ...`, as a user's would
    pipeline = BakedTestPipeline(project, tmp_path)
    ids = pipeline.permutation_ids
    failing = ids[-1]
    pipeline.fail_in_second_phase(*failing.split("_", 1))
    env = {**sge.env, **pipeline.env}

    # Two arrays (at most 5 tasks each), 2 builds per task; -sync y waits, and fails with a task.
    options = ("--missing", "--sge", "--max-array-size", "3", "--per-task", "2")
    first_file = write_array_file(project, env, tmp_path / "build.sge", *options)
    first = project.run("bash", first_file, "-sync", "y", ok=False, env=env)
    assert first.returncode != 0, f"{first.stdout}\n{first.stderr}\n{sge.logs()}"
    entries = manifest(project, env)
    assert {p for p, e in entries.items() if e["done"]} == set(ids) - {failing}, sge.logs()
    assert (
        entries[failing]["status"].startswith("FAIL ") and "injected" in entries[failing]["error"]
    )
    task_logs = list((project.root / "output" / "_sge").glob("*.err"))
    assert len(task_logs) == 5  # 9 permutations, 2 a task
    failed = [path.read_text() for path in task_logs if f"{failing}: phase 2/3" in path.read_text()]
    assert len(failed) == 1 and "RuntimeError: injected" in failed[0]

    # After the fix, the failures go again, from a plan of their own, in tasks that ready their
    # environment with --setup lines and run the --python those put on PATH.
    pipeline.configure(faults=[])
    retrying = ("--status", "fail", "--sge", *task_environment(tmp_path))
    retry = write_array_file(project, env, tmp_path / "retry.sge", *retrying)
    assert planned_ids(retry) == [failing]
    assert "\n# Each task first runs:\n#   source " in retry.read_text()
    again = project.run("bash", retry, "-sync", "y", ok=False, env=env)
    assert again.returncode == 0, f"{again.stdout}\n{again.stderr}\n{sge.logs()}"
    assert all(entry["status"] == "DONE" for entry in manifest(project, env).values())
    for permutation_id in ids:
        pipeline.assert_built(project, permutation_id)
