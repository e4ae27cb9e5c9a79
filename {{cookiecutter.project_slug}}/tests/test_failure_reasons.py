"""Why a build failed, through the real CLI: recorded by the builder, shown by the table, the JSON
document and ``show`` alike; and ``manifest --retry-scale``, which resubmits failures by reason."""

from __future__ import annotations

import signal

import pytest
from conftest import BUILD_ONE, PERMUTATION, PHASES, Project

from {{ cookiecutter.package_name }}.builder import failures

N = len(PHASES)
WHERE = f"FAIL [2/{N}] {PHASES[1]}"


def shown_everywhere(project: Project, reason: str) -> dict[str, str]:
    """The failed permutation's reason, as the JSON document, the table and ``show`` give it."""
    entry = project.manifest()["by_id"][PERMUTATION]
    assert (entry["status"], entry["reason"]) == (WHERE, reason)
    table = project.run("manifest").stdout
    assert f"{WHERE} ({reason}): {entry['error']}" in table
    shown = project.run("show", PERMUTATION).stdout
    assert f"  reason     {reason}\n" in shown and f"  error      {entry['error']}\n" in shown
    assert f"  status     {WHERE}\n" in shown
    document = project.manifest()["by_id"][PERMUTATION]
    return {"error": document["error"], "show": shown}


@pytest.mark.parametrize(
    ("action", "arg", "reason", "error"),
    [
        ("raise", "boom", "exception RuntimeError", "RuntimeError: boom"),
        ("exit", 3, "exit 3", "SystemExit: 3"),
        ("allocate", 2**40, "oom", "MemoryError"),  # 1 EiB: refused at once
    ],
    ids=["exception", "exit", "MemoryError"],
)
def test_a_phase_that_fails_records_why(
    project: Project, action: str, arg: object, reason: str, error: str
) -> None:
    project.fault(PHASES[1], action, arg)
    project.run(*BUILD_ONE, code=1)
    assert shown_everywhere(project, reason)["error"].startswith(error)


@pytest.mark.parametrize(
    ("signum", "code", "reason"),
    [
        (signal.SIGTERM, 143, "signal SIGTERM"),
        (signal.SIGINT, 130, "signal SIGINT"),
        (signal.SIGKILL, -signal.SIGKILL, "killed"),
    ],
    ids=["SIGTERM", "SIGINT", "SIGKILL"],
)
def test_a_stopped_build_records_the_signal_or_nothing_when_killed(
    project: Project, signum: int, code: int, reason: str
) -> None:
    block = project.block_in_phase(PHASES[1])
    builder = project.start(*BUILD_ONE)
    block.wait_until_reached(builder)
    builder.send_signal(signum)
    project.finish(builder, code=code)
    shown_everywhere(project, reason)


def test_under_slurm_the_job_is_recorded_and_shown(project: Project) -> None:
    """Outside a real cluster there is no scontrol to ask: the recorded reason stands."""
    project.extra_env.update(SLURM_ARRAY_JOB_ID="77", SLURM_ARRAY_TASK_ID="3", SLURM_JOB_ID="80")
    project.fault(PHASES[1], "raise", "boom")
    project.run(*BUILD_ONE, code=1)
    entry = project.manifest()["by_id"][PERMUTATION]
    assert entry[failures.JOB_KEY] == "77_3"
    assert "  SLURM job  77_3\n" in shown_everywhere(project, "exception RuntimeError")["show"]


def test_a_build_that_has_not_failed_has_no_reason(project: Project) -> None:
    project.run(*BUILD_ONE)
    assert all(entry["reason"] is None for entry in project.manifest()["entries"])
    shown = project.run("show", PERMUTATION, "--json").stdout
    assert '"reason": null' in shown
