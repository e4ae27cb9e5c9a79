"""Grid Engine array jobs on a real single-node cell that the test starts: the engine works here.

These tests hold the harness to what the builder's ``qsub -t`` format will rely on: every task
runs once with its 1-based ``SGE_TASK_ID``, ``qsub -sync y`` waits and fails when a task failed,
and ``qacct`` tells which task failed with which exit status.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import require_program
from sge_cluster import PROGRAMS, SgeCluster

pytestmark = pytest.mark.slow

# A plain bash task; the exit status of a task is its own, so it can fail alone.
TASK = """\
echo "$SGE_TASK_ID" > "out.$SGE_TASK_ID"
if [ "$SGE_TASK_ID" = "${FAIL_TASK:-}" ]; then exit 7; fi
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[SgeCluster]:
    require_program(*PROGRAMS)
    if os.geteuid() != 0:
        pytest.skip("the single-node Grid Engine cell runs its daemons as root")
    with SgeCluster(slots=2) as running:
        yield running


def submit(cluster: SgeCluster, folder: Path, *options: str) -> tuple[str, int]:
    """Submit TASK as an array of 3 and wait for it: the job's id and qsub's exit status."""
    script = folder / "task.sh"
    script.write_text(TASK, encoding="utf-8")
    # -S: under shell_start_mode posix_compliant the queue's shell (/bin/sh here, csh at some
    # sites) runs the script whatever its #! line says.
    submitted = cluster.run(
        "qsub", "-terse", "-sync", "y", "-t", "1-3", "-S", "/bin/bash", "-wd", folder,
        "-o", folder, "-e", folder, *options, script,
        check=False,
    )  # fmt: skip
    job_id = submitted.stdout.split(".", 1)[0].strip()
    assert job_id.isdigit(), f"{submitted.stdout}{submitted.stderr}\n{cluster.logs()}"
    return job_id, submitted.returncode


def accounting(cluster: SgeCluster, job_id: str, tasks: int) -> dict[int, dict[str, str]]:
    """Each task's qacct record, by task id, once all of them are flushed to the file."""
    records: dict[int, dict[str, str]] = {}

    def flushed() -> bool:
        listing = cluster.run("qacct", "-j", job_id, check=False).stdout
        records.clear()
        for block in re.split(r"^=+$", listing, flags=re.MULTILINE)[1:]:
            record = dict(
                line.split(maxsplit=1) for line in block.strip().splitlines() if " " in line
            )
            records[int(record["taskid"])] = {key: value.strip() for key, value in record.items()}
        return len(records) == tasks

    cluster.wait_for(flushed, f"qacct to list the {tasks} tasks of job {job_id}")
    return records


def test_every_task_runs_once_with_its_1_based_index(cluster: SgeCluster, tmp_path: Path) -> None:
    job_id, status = submit(cluster, tmp_path)
    assert status == 0, cluster.logs()
    written = {path.name: path.read_text().strip() for path in tmp_path.glob("out.*")}
    assert written == {"out.1": "1", "out.2": "2", "out.3": "3"}
    records = accounting(cluster, job_id, 3)
    assert {task: record["exit_status"] for task, record in records.items()} == {
        1: "0",
        2: "0",
        3: "0",
    }


def test_a_failing_task_fails_the_wait_and_shows_in_qacct(
    cluster: SgeCluster, tmp_path: Path
) -> None:
    job_id, status = submit(cluster, tmp_path, "-v", "FAIL_TASK=2")
    assert status != 0
    assert sorted(path.name for path in tmp_path.glob("out.*")) == ["out.1", "out.2", "out.3"]
    records = accounting(cluster, job_id, 3)
    assert {task: record["exit_status"] for task, record in records.items()} == {
        1: "0",
        2: "7",
        3: "0",
    }
    assert all(record["failed"] == "0" for record in records.values())  # it ran; the task failed
