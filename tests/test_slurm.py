"""A baked project's SLURM file, submitted to a real single-node cluster that the test starts."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from conftest import Bake, BakedProject, require_program, task_environment
from slurm_cluster import PROGRAMS, SlurmCluster

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


def manifest(project: BakedProject, env: dict[str, str]) -> dict[str, Any]:
    listing = project.python("-m", f"{project.package}.builder", "manifest", "--json", env=env)
    return {entry["permutation_id"]: entry for entry in json.loads(listing.stdout)["entries"]}


class BakedTestPipeline:
    """The bake's own test pipeline (tests/fixture_pipeline.py), configured here: the builds run it
    instead of the demo's pipeline.py, which no test edits."""

    def __init__(self, project: BakedProject, folder: Path) -> None:
        path = project.root / "tests" / "fixture_pipeline.py"
        spec = importlib.util.spec_from_file_location("baked_fixture_pipeline", path)
        assert spec is not None and spec.loader is not None
        self.module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(self.module)
        self.config = {**self.module.DEFAULT, "data": str(folder / "data")}
        self.config_file = folder / "fixture_pipeline.json"
        self.env = {
            f"{project.package.upper()}_PIPELINE": str(path),
            "FIXTURE_PIPELINE_CONFIG": str(self.config_file),
        }
        self.phases = [phase.__name__ for phase in self.module.PHASES]
        self.permutation_ids = [
            f"{inp}_{param}"
            for inp in self.module.discover_inputs()
            for param in self.module.PARAM_REGISTRY
        ]
        self.configure(faults=[])

    def configure(self, **changes: Any) -> None:
        self.config.update(changes)
        self.module.write_config(self.config, self.config_file)

    def assert_built(self, project: BakedProject, permutation_id: str) -> None:
        """A whole artifact of the test pipeline: a ``rows`` table, or its rows as JSON."""
        path = project.artifact(permutation_id)
        if project.kind == "sqlite":
            with closing(sqlite3.connect(path)) as conn:
                assert conn.execute("SELECT count(*) FROM rows").fetchone()[0] > 0
        else:
            assert json.loads(path.read_text(encoding="utf-8"))["rows"]

    def fail_in_second_phase(self, input_id: str, param: str) -> None:
        fault = {"phase": self.phases[1], "action": "raise", "arg": "injected"}
        self.configure(faults=[{**fault, "input": input_id, "param": param}])


def write_array_file(project: BakedProject, env: dict[str, str], path: Path, *options: str) -> Path:
    """``plan OPTIONS`` (--missing --slurm unless told) into ``path``."""
    options = options or ("--missing", "--slurm")
    path.write_text(project.python("-m", f"{project.package}.builder", "plan", *options,
                                   env=env).stdout)  # fmt: skip
    return path


def write_slurm_file(project: BakedProject, env: dict[str, str], path: Path, *options: str) -> Path:
    return write_array_file(project, env, path, "--missing", "--slurm", *options)


def planned_ids(array_file: Path) -> list[str]:
    """The permutation ids of the plans an array file submits (``planN=PATH``), in order."""
    plans = re.findall(r"^plan\d+=(.+)$", array_file.read_text(), re.MULTILINE)
    texts = [Path(shlex.split(plan)[0]).read_text() for plan in plans]
    return ["_".join(row.split("\t")) for text in texts for row in text.splitlines()[1:]]


def test_arrays_build_everything_and_a_resubmission_finishes_what_failed(
    bake: Bake, cluster: SlurmCluster, tmp_path: Path
) -> None:
    project = bake()  # the tasks run `uv run -m ...`, as a user's would
    pipeline = BakedTestPipeline(project, tmp_path)
    ids = pipeline.permutation_ids
    failing = ids[-1]
    failing_input, failing_param = failing.split("_", 1)
    pipeline.fail_in_second_phase(failing_input, failing_param)
    env = {**cluster.env, **pipeline.env}

    # One array for the whole matrix is more than this cluster takes...
    whole = project.run(
        "bash", write_slurm_file(project, env, tmp_path / "whole.slurm"), ok=False, env=env
    )
    assert whole.returncode != 0 and "array" in whole.stderr.lower(), whole.stderr

    # ...so the file cuts it into arrays of at most CAP tasks; sbatch --wait returns the highest
    # exit code of an array, and the file the highest of its arrays: 1, a build failed.
    split = write_slurm_file(
        project, env, tmp_path / "build.slurm", "--max-array-size", str(CAP), "--array-limit", "2"
    )
    first = project.run("bash", split, "--wait", "--time=10", ok=False, env=env)
    assert first.returncode == 1, f"{first.stdout}\n{first.stderr}\n{cluster.logs()}"
    assert first.stdout.count("Submitted batch job") == 3

    entries = manifest(project, env)
    assert {p for p, e in entries.items() if e["done"]} == set(ids) - {failing}
    assert (
        entries[failing]["status"].startswith("FAIL ") and "injected" in entries[failing]["error"]
    )
    error_log = project.root / "output" / "_build" / failing / f"{failing}.error.log"
    assert "RuntimeError: injected" in error_log.read_text()
    task_logs = {path: path.read_text() for path in (project.root / "output/_slurm").glob("*.err")}
    assert len(task_logs) == len(ids)
    failed_task = [text for text in task_logs.values() if f"{failing}: phase 2/3" in text]
    assert len(failed_task) == 1 and "RuntimeError: injected" in failed_task[0]

    # After the fix, the missing one goes again, and resumes after its completed phase.
    pipeline.configure(faults=[])
    assert planned_ids(write_slurm_file(project, env, tmp_path / "retry.slurm")) == [failing]
    project.run("bash", tmp_path / "retry.slurm", "--wait", env=env)
    assert all(entry["status"] == "DONE" for entry in manifest(project, env).values())
    for permutation_id in ids:
        pipeline.assert_built(project, permutation_id)
    staging = project.root / "output" / "_build"
    assert not staging.exists() or not list(staging.iterdir())
    logs_now = sorted((project.root / "output/_slurm").glob("*.err"))
    resumed = [path.read_text() for path in logs_now if path not in task_logs]
    skipped = f"{failing}: phase 1/3 {pipeline.phases[0]}: skipped"
    assert len(resumed) == 1 and skipped in resumed[0]


def job_fields(cluster: SlurmCluster, job_id: str) -> dict[str, str]:
    """``scontrol show job``'s KEY=VALUE fields of a job (an array's first record)."""
    shown = cluster.run("scontrol", "show", "job", "--oneliner", job_id).stdout.splitlines()[0]
    return dict(field.split("=", 1) for field in shown.split() if "=" in field)


def test_each_resource_set_is_an_array_with_its_own_values(
    bake: Bake, cluster: SlurmCluster, tmp_path: Path
) -> None:
    project = bake()
    pipeline = BakedTestPipeline(project, tmp_path)
    registry = pipeline.config["registry"]
    half, double, triple = registry  # cheapest first: the arrays' order
    declared = {half: {"mem": "100M", "time": "5"}, double: {"mem": "200M", "cpus": 2}}
    cpus_log = tmp_path / "cpus.log"
    pipeline.configure(
        registry={
            name: {**entry, "resources": declared.get(name, {})} for name, entry in registry.items()
        },
        faults=[{"phase": pipeline.phases[0], "action": "cpus", "arg": str(cpus_log)}],
    )
    env = {**cluster.env, **pipeline.env}
    # The three cheapest permutations: the smallest input with each parameter, a set each; the
    # tasks ready their environment with --setup lines and run the --python those put on PATH.
    environment = task_environment(tmp_path)
    array_file = write_slurm_file(
        project, env, tmp_path / "sets.slurm", "--limit", "3", *environment
    )
    assert "\n# Each task first runs:\n#   source " in array_file.read_text()
    slice_ids = planned_ids(array_file)
    assert [pid.split("_", 1)[1] for pid in slice_ids] == [half, double, triple]

    # Held, the arrays wait in the queue as submitted; --time given to the file overrides every
    # set's (the pipeline's 5 minutes too), the rest stays each set's own.
    submitted = project.run("bash", array_file, "--hold", "--time=7", env=env).stdout
    job_ids = re.findall(r"Submitted batch job (\d+)", submitted)
    assert len(job_ids) == 3, submitted
    shown = [job_fields(cluster, job_id) for job_id in job_ids]
    assert [(job["MinMemoryNode"], job["CPUs/Task"]) for job in shown[:2]] == [
        ("100M", "1"),
        ("200M", "2"),
    ]
    assert shown[2]["CPUs/Task"] == "1" and shown[2]["MinMemoryNode"] != "100M"
    assert {job["TimeLimit"] for job in shown} == {"00:07:00"}
    assert {job["JobState"] for job in shown} == {"PENDING"} and shown[0]["Reason"] == "JobHeldUser"

    # Released, they run to the end; each build saw its set's cpus.
    time.sleep(1.1)  # held a second at least: the queue wait each build records
    cluster.run("scontrol", "release", ",".join(job_ids))
    queued = ("squeue", "--noheader", "--jobs", ",".join(job_ids))
    cluster.wait_for(lambda: not cluster.run(*queued).stdout.strip(), "the arrays to end", 120)
    entries = manifest(project, env)
    assert {pid for pid, entry in entries.items() if entry["done"]} == set(slice_ids)
    seen = dict(line.split() for line in cpus_log.read_text().splitlines())
    assert seen == {slice_ids[0]: "1", slice_ids[1]: "2", slice_ids[2]: "1"}

    # Each build recorded what SLURM gave its task and how long the task waited, held, to start.
    builder = ("-m", f"{project.package}.builder")
    recorded = project.python(*builder, "show", slice_ids[1], "--json", env=env).stdout
    engine = json.loads(recorded)["provenance"]["trace"]["engine"]
    assert engine["name"] == "slurm" and re.fullmatch(r"\d+_0", engine["job"]), engine
    assert engine["requested"] == {"cpus": 2, "mem": "200M", "time": "00:07:00"}, engine
    assert engine["started"] - engine["submitted"] == engine["queue_wait"] >= 1, engine
