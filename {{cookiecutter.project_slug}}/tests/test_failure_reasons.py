"""Why a build failed, through the real CLI: recorded by the builder, shown by the table, the JSON
document and ``show`` alike; and ``plan --retry-scale``, which resubmits failures by reason."""

from __future__ import annotations

import json
import signal

import pytest
from conftest import (
    BUILD_ONE,
    DEFAULT_CONFIG,
    INPUTS,
    PARAMS,
    PERMUTATION,
    PHASES,
    Project,
    plan_ids,
    submissions,
)

from {{ cookiecutter.package_name }}.builder import axes, failures, layout

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
    # A build that ran under no scheduler has no job to show, not a "none recorded" line.
    assert ("  SLURM job  " in shown) == (entry.get(failures.JOB_KEY) is not None), shown
    document = json.loads(project.run("show", PERMUTATION, "--json").stdout)
    assert (document["status"], document["reason"], document["provenance"]) == (WHERE, reason, None)
    # Never built: it says so, and has no staleness (null, as in manifest --stale), not [].
    assert (document["built"], document["stale"]) == (False, None)
    assert document["error"] == entry["error"] and document["error_log"].endswith(".error.log")
    return {"error": entry["error"], "show": shown}


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


HALF, DOUBLE, TRIPLE = PARAMS
RETRY = ("plan", "--status", "fail", "--slurm", "--retry-scale", "mem=2,time=1.5")


def fail_four_ways(project: Project) -> None:
    """Out of memory with memory declared (HALF), an exception (DOUBLE), a kill (TRIPLE), and out
    of memory with none declared (the second input's TRIPLE)."""
    registry = dict(DEFAULT_CONFIG["registry"])
    registry[HALF] = {**registry[HALF], "resources": {"mem": "1G", "time": "10"}}
    project.configure(registry=registry)
    first, second = INPUTS[:2]
    project.fault(PHASES[1], "allocate", 2**40, param=HALF)
    project.fault(PHASES[1], "raise", "boom", param=DOUBLE)
    project.fault(PHASES[1], "kill", input=first, param=TRIPLE)
    project.fault(PHASES[1], "allocate", 2**40, input=second, param=TRIPLE)
    for inp, param in ((first, HALF), (first, DOUBLE), (first, TRIPLE), (second, TRIPLE)):
        pair = (axes.INPUT_FLAG, inp, axes.PARAM_FLAG, param)
        project.run("build", "--output-folder", "output", *pair, code=None)
    reasons = {e["permutation_id"]: e["reason"] for e in project.manifest()["entries"]}
    assert {key: value for key, value in reasons.items() if value} == {
        f"{first}_{HALF}": "oom",
        f"{first}_{DOUBLE}": "exception RuntimeError",
        f"{first}_{TRIPLE}": "killed",
        f"{second}_{TRIPLE}": "oom",
    }


def arrays(script: str) -> dict[tuple[str, ...], list[str]]:
    return {tuple(array.options): plan_ids(array.plan) for array in submissions(script)}


def test_retry_scale_resubmits_by_reason_and_says_what_it_left_out(project: Project) -> None:
    fail_four_ways(project)
    first, second = INPUTS[:2]
    result = project.run(*RETRY)
    assert arrays(result.stdout) == {
        ("--cpus-per-task=1", "--mem=2048M", "--time=0:10:00"): [f"{first}_{HALF}"],
        ("--cpus-per-task=1",): [f"{first}_{TRIPLE}"],
    }
    assert result.stderr.splitlines() == [
        "--retry-scale: 1 failure(s) of reason exception left out: fix the code first, or add"
        " --retry-exceptions to retry them as they were",
        "--retry-scale: 1 failure(s) of reason oom left out: no mem declared to scale; give"
        " --mem 4G (times the factor) or declare 'mem' in the pipeline's resources",
        "--retry-scale: 1 failure(s) of reason killed have no known cause (nothing recorded it,"
        " and SLURM no longer knows their jobs): retried with the same resources; give --mem or"
        " --time to retry them with more",
    ]

    with_exceptions = project.run(*RETRY, "--retry-exceptions", "--mem", "4G").stdout
    assert arrays(with_exceptions) == {
        ("--cpus-per-task=1", "--mem=8192M", "--time=0:10:00"): [f"{first}_{HALF}"],
        ("--cpus-per-task=1", "--mem=8192M"): [f"{second}_{TRIPLE}"],
        ("--cpus-per-task=1", "--mem=4G"): [f"{first}_{DOUBLE}", f"{first}_{TRIPLE}"],
    }


def test_retry_scale_with_nothing_worth_retrying_writes_nothing(project: Project) -> None:
    project.fault(PHASES[1], "raise", "boom")
    project.run(*BUILD_ONE, code=1)
    result = project.run(*RETRY)
    assert result.stdout == "" and "nothing written" in result.stderr
    assert not (project.output / layout.PLAN_FOLDER).exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("plan", "--retry-scale", "mem=2"), "one of the arguments --slurm --sge"),
        (("plan", "--slurm", "--retry-scale", "mem=2"), "select them with --status fail"),
        (RETRY[:-1] + ("cpus=2",), "give NAME=FACTOR pairs of mem and time"),
        (RETRY[:-1] + ("mem=0.5",), "--retry-scale 'mem=0.5': give a factor of at least 1"),
        (RETRY[:-1] + ("time=x",), "--retry-scale 'time=x': give a factor of at least 1"),
        (RETRY[:-1] + ("mem=1\nx",), "--retry-scale 'mem=1\\nx': give a factor"),
        (RETRY[:-1] + ("mem=inf",), "--retry-scale 'mem=inf': give a factor of at least 1"),
        (("plan", "--status", "fail", "--slurm", "--retry-exceptions"), "only applies with"),
    ],
    ids=[
        "no-array",
        "not-fail",
        "name",
        "below-1",
        "not-a-number",
        "newline",
        "infinite",
        "exceptions",
    ],
)
def test_retry_scale_refusals_are_one_line_and_exit_2(
    project: Project, args: tuple[str, ...], message: str
) -> None:
    project.fault(PHASES[1], "raise", "boom")
    project.run(*BUILD_ONE, code=1)
    refused = project.run(*args, code=2)
    assert refused.stdout == "" and len(refused.stderr.splitlines()) == 1
    assert message in refused.stderr, refused.stderr
    assert not (project.output / layout.PLAN_FOLDER).exists()
