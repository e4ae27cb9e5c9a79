"""A baked project's SLURM file, submitted to a real single-node cluster that the test starts."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Bake, BakedProject, require_program
from slurm_cluster import PROGRAMS, SlurmCluster
from test_baked_e2e import CHECK_ARTIFACT

pytestmark = pytest.mark.slow

# The cluster's MaxArraySize: task ids 0 to 3, so the demo's 9 builds need three arrays.
CAP = 4


@pytest.fixture(scope="module")
def cluster() -> Iterator[SlurmCluster]:
    require_program(*PROGRAMS)
    if os.geteuid() != 0:
        pytest.skip("the single-node SLURM cluster runs its daemons as root")
    with SlurmCluster(max_array_size=CAP) as running:
        yield running


def manifest(project: BakedProject) -> dict[str, Any]:
    entries = json.loads(project.builder("manifest", "--json").stdout)["entries"]
    return {entry["permutation_id"]: entry for entry in entries}


def inject_failure(project: BakedProject, permutation_id: str) -> str:
    """Make one permutation fail in its second phase; return the pipeline's original source."""
    pipeline = project.root / project.package / "pipeline.py"
    original = pipeline.read_text(encoding="utf-8")
    docstring = '    """Fit the polynomial of the parameter\'s degree into model.json."""\n'
    failure = f"    if ctx.permutation_id == {permutation_id!r}:\n"
    failure += "        raise RuntimeError('injected')\n"
    assert original.count(docstring) == 1
    pipeline.write_text(original.replace(docstring, docstring + failure), encoding="utf-8")
    return original


def write_slurm_file(project: BakedProject, path: Path, *options: str) -> Path:
    path.write_text(project.builder("manifest", "--missing", "--slurm", *options).stdout)
    return path


def test_arrays_build_everything_and_a_resubmission_finishes_what_failed(
    bake: Bake, cluster: SlurmCluster, tmp_path: Path
) -> None:
    project = bake()  # the tasks run `uv run -m ...`, as a user's would
    failing = project.permutation_ids[-1]
    original = inject_failure(project, failing)

    # One array for the whole matrix is more than this cluster takes...
    whole = project.run(
        "bash", write_slurm_file(project, tmp_path / "whole.slurm"), ok=False, env=cluster.env
    )
    assert whole.returncode != 0 and "array" in whole.stderr.lower(), whole.stderr

    # ...so the file cuts it into arrays of at most CAP tasks; sbatch --wait returns the highest
    # exit code of an array, and the file the highest of its arrays: 1, a build failed.
    split = write_slurm_file(
        project, tmp_path / "build.slurm", "--max-array-size", str(CAP), "--array-limit", "2"
    )
    first = project.run("bash", split, "--wait", "--time=10", ok=False, env=cluster.env)
    assert first.returncode == 1, f"{first.stdout}\n{first.stderr}\n{cluster.logs()}"
    assert first.stdout.count("Submitted batch job") == 3

    entries = manifest(project)
    assert {p for p, e in entries.items() if e["done"]} == set(project.permutation_ids) - {failing}
    assert (
        entries[failing]["status"].startswith("FAIL ") and "injected" in entries[failing]["error"]
    )
    error_log = project.root / "output" / "_build" / failing / f"{failing}.error.log"
    assert "RuntimeError: injected" in error_log.read_text()
    task_logs = {path: path.read_text() for path in (project.root / "output/_slurm").glob("*.err")}
    assert len(task_logs) == len(project.permutation_ids)
    failed_task = [text for text in task_logs.values() if f"{failing}: phase 2/3" in text]
    assert len(failed_task) == 1 and "RuntimeError: injected" in failed_task[0]

    # After the fix, the missing one goes again, and resumes after its completed phase.
    (project.root / project.package / "pipeline.py").write_text(original, encoding="utf-8")
    retry = write_slurm_file(project, tmp_path / "retry.slurm").read_text()
    pinned = (
        f"--input-id {entries[failing]['input_id']} --param-name {entries[failing]['param_name']}"
    )
    assert retry.count(" build --output-folder ") == 1 and pinned in retry
    project.run("bash", tmp_path / "retry.slurm", "--wait", env=cluster.env)
    assert all(entry["status"] == "DONE" for entry in manifest(project).values())
    for permutation_id in project.permutation_ids:
        CHECK_ARTIFACT[project.kind](project.artifact(permutation_id))
    staging = project.root / "output" / "_build"
    assert not staging.exists() or not list(staging.iterdir())
    logs_now = sorted((project.root / "output/_slurm").glob("*.err"))
    resumed = [path.read_text() for path in logs_now if path not in task_logs]
    assert len(resumed) == 1 and f"{failing}: phase 1/3 load_samples: skipped" in resumed[0]
