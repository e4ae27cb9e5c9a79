"""Container engines: Kubernetes Indexed Jobs and AWS Batch array jobs over plan files.

No cluster runs here: each job's command is run the way its engine runs a task, with the engine's
index variable and the job's environment set, and the AWS Batch inputs are checked against the
SubmitJob request as the AWS Batch API reference documents it. (The template's own tests check
the Kubernetes Jobs against the official Job schema.)
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    INPUTS,
    PARAMS,
    Project,
    assert_valid_artifact,
    local_commands,
    task_environment,
)

from {{ cookiecutter.package_name }} import settings
from {{ cookiecutter.package_name }}.builder.engines import aws_batch, containers
from {{ cookiecutter.package_name }}.builder.engines.resources import Resources
from {{ cookiecutter.package_name }}.builder.engines.submission import ArrayGroup, ArrayJob
from {{ cookiecutter.package_name }}.builder.ids import UsageError

TOTAL = len(INPUTS) * len(PARAMS)
KUBERNETES = ("--kubernetes", "--image", "python:3.12-slim", "--volume-claim", "shared")
AWS_BATCH = ("--aws-batch", "--job-queue", "queue-1", "--job-definition", "builder:3")
# A Kubernetes object's name, and AWS Batch's jobName: a DNS label fits both.
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def kubernetes_jobs(stream: str) -> list[dict[str, Any]]:
    """The documents of a YAML stream whose documents are JSON, after its comment lines."""
    head, *documents = stream.split("\n---\n")
    assert all(line.startswith("# ") for line in head.splitlines()), head
    return [json.loads(document) for document in documents]


def batch_jobs(lines: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines.splitlines()]


def plan_lines(command: list[str]) -> list[str]:
    """The permutation ids of the plan a job's command names."""
    plan = Path(shlex.split(command[2])[shlex.split(command[2]).index("--plan") + 1])
    return ["_".join(line.split("\t")) for line in plan.read_text().splitlines()[1:]]


def run_job_command(
    project: Project, command: list[str], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """Run a job's command as its container would, from another folder, with the job's variables;
    the runner swapped for this interpreter."""
    assert command[:2] == ["sh", "-c"]
    return subprocess.run(
        ["sh", "-c", local_commands(command[2])],
        cwd="/",
        env={**project.env(), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def done_ids(project: Project) -> list[str]:
    return [e["permutation_id"] for e in project.manifest("--done")["entries"]]


def two_resource_sets(project: Project) -> None:
    """The first parameter asks for more: its permutations go to a job of their own."""
    registry = dict(project.config["registry"])
    first = PARAMS[0]
    asked = {"cpus": 2, "mem": "3G", "time": "1:30:00", "gpus": 1}
    registry[first] = {**registry[first], "resources": asked}
    project.configure(registry=registry)


# --- Kubernetes ---------------------------------------------------------------------------------


def test_each_pod_builds_its_lines_of_the_plan(project: Project) -> None:
    stream = project.run("plan", "--missing", *KUBERNETES, "--per-task", "2").stdout
    (job,) = kubernetes_jobs(stream)
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed" and spec["completions"] == -(-TOTAL // 2)
    assert spec["parallelism"] == spec["completions"] and spec["backoffLimitPerIndex"] == 0
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and "activeDeadlineSeconds" not in pod
    (container,) = pod["containers"]
    assert container["image"] == "python:3.12-slim"
    assert container["resources"] == {"requests": {"cpu": "1"}}  # nothing declared: defaults
    assert pod["volumes"] == [{"name": "shared", "persistentVolumeClaim": {"claimName": "shared"}}]
    assert container["volumeMounts"] == [{"name": "shared", "mountPath": str(project.root)}]
    assert DNS_LABEL.fullmatch(job["metadata"]["name"])
    ids = plan_lines(container["command"])
    assert ids == [e["permutation_id"] for e in project.manifest("--missing")["entries"]]

    variables = {item["name"]: item["value"] for item in container["env"]}
    assert variables == {containers.OFFSET_VARIABLE: "0"}
    # Kubernetes itself expands $(NAME) and $$ in a command: the shell must get it as written.
    assert not re.search(r"\$\$|\$\([A-Za-z_][A-Za-z0-9_]*\)", container["command"][2])
    last = spec["completions"] - 1
    result = run_job_command(
        project, container["command"], {**variables, "JOB_COMPLETION_INDEX": str(last)}
    )
    assert result.returncode == 0, result.stderr
    assert done_ids(project) == ids[2 * last :]
    for permutation_id in ids[2 * last :]:
        assert_valid_artifact(project.artifact(permutation_id))
    beyond = run_job_command(
        project, container["command"], {**variables, "JOB_COMPLETION_INDEX": str(last + 1)}
    )
    assert beyond.returncode == 2 and "is beyond the plan" in beyond.stderr


def test_a_job_per_resource_set_with_its_own_requests_and_limits(project: Project) -> None:
    two_resource_sets(project)
    options = ("--per-task", "2", "--array-limit", "3", "--max-array-size", "2")
    jobs = kubernetes_jobs(project.run("plan", "--missing", *KUBERNETES, *options).stdout)
    asked = len(INPUTS)  # the first parameter's permutations
    parts = -(-asked // 2 // 2) + -(-(TOTAL - asked) // 2 // 2)
    assert len(jobs) == parts and len({job["metadata"]["name"] for job in jobs}) == parts
    by_plan: dict[str, list[dict[str, Any]]] = {}
    for job in jobs:
        (container,) = job["spec"]["template"]["spec"]["containers"]
        by_plan.setdefault(container["command"][2], []).append(job)
        assert job["spec"]["parallelism"] == min(3, job["spec"]["completions"]) <= 2
    big, small = by_plan.values()
    for job in big:
        pod = job["spec"]["template"]["spec"]
        assert pod["activeDeadlineSeconds"] == 5400
        (container,) = pod["containers"]
        assert container["resources"] == {
            "requests": {"cpu": "2", "memory": "3072Mi"},
            "limits": {"memory": "3072Mi", "nvidia.com/gpu": "1"},
        }
        assert " --per-task 2 --jobs 2 " in container["command"][2]  # packed on 2 cpus
    for job in small:
        (container,) = job["spec"]["template"]["spec"]["containers"]
        assert container["resources"] == {"requests": {"cpu": "1"}}
    # Each part of a plan runs the same command from where the one before ended.
    pods = [job["spec"]["template"]["spec"]["containers"][0] for job in small]
    assert len({container["command"][2] for container in pods}) == 1
    offsets = [int(container["env"][0]["value"]) for container in pods]
    assert offsets == list(range(0, 2 * len(small), 2))
    last = pods[-1]
    index = int(small[-1]["spec"]["completions"]) - 1
    env = {containers.OFFSET_VARIABLE: str(offsets[-1]), "JOB_COMPLETION_INDEX": str(index)}
    assert run_job_command(project, last["command"], env).returncode == 0
    task = offsets[-1] + index
    assert done_ids(project) == plan_lines(last["command"])[2 * task : 2 * task + 2]


def test_the_claim_is_mounted_where_project_and_output_folder_meet(project: Project) -> None:
    elsewhere = project.root.parent / "shared-output"
    stream = project.run("plan", "--output-folder", str(elsewhere), *KUBERNETES).stdout
    (job,) = kubernetes_jobs(stream)
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["volumeMounts"][0]["mountPath"] == str(project.root.parent)
    assert f"--output-folder {elsewhere} " in container["command"][2]
    assert containers.shared_folder("/srv/a/project", "/srv/a/project/out") == "/srv/a/project"
    with pytest.raises(UsageError, match="share no folder but '/'"):
        containers.shared_folder("/srv/project", "/data/output")


REFUSED = [
    pytest.param(("--kubernetes", "--volume-claim", "c"), "--kubernetes needs --image", id="image"),
    pytest.param(("--kubernetes", "--image", "i"), "needs --volume-claim", id="claim"),
    pytest.param(
        ("--slurm", "--image", "i"), "--image only applies with --kubernetes", id="stray-image"
    ),
    pytest.param(("--aws-batch", "--job-queue", "q"), "needs --job-definition", id="definition"),
    pytest.param(("--aws-batch", "--job-definition", "d"), "needs --job-queue", id="queue"),
    pytest.param(("--slurm", "--job-queue", "q"), "only applies with --aws-batch", id="stray"),
    pytest.param((*AWS_BATCH, "--array-limit", "2"), "no AWS Batch equivalent", id="limit"),
]


@pytest.mark.parametrize(("args", "message"), REFUSED)
def test_a_missing_or_stray_engine_flag_is_one_line_and_nothing_written(
    project: Project, args: tuple[str, ...], message: str
) -> None:
    result = project.run("plan", "--missing", *args, code=2)
    assert message in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stdout == "" and not (project.output / "_plans").exists()


def test_names_are_dns_labels_whatever_the_package_is_called(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    group = ArrayGroup(Resources(), "/p/_plans/0123456789abcdef.plan", 2, 2, 1)
    for package, base in [
        ("my_pkg", "my-pkg"),
        ("Élan_Vital2", "lan-vital2"),
        ("_", "build"),
        ("a" * 80, "a" * 30),
    ]:
        monkeypatch.setattr(settings, "PACKAGE", package)
        name = containers.job_name(group, None)
        assert re.fullmatch(f"{base}-" + "[0-9a-f]" * 8, name), name
        assert DNS_LABEL.fullmatch(containers.job_name(group, 12345))
    # The same plan with more memory (a retry) is another job; the same again, the same job.
    more = replace(group, resources=Resources(mem="2G"))
    assert containers.job_name(more, None) != containers.job_name(group, None)
    assert containers.job_name(replace(group), None) == containers.job_name(group, None)


# --- AWS Batch ----------------------------------------------------------------------------------

# The SubmitJob request as the AWS Batch API reference documents it: each key this builder writes
# and its JSON type (jobName, jobQueue and jobDefinition required), and the nested objects'.
SUBMIT_JOB: dict[str, type] = {
    "jobName": str,
    "jobQueue": str,
    "jobDefinition": str,
    "arrayProperties": dict,
    "containerOverrides": dict,
    "timeout": dict,
}
REQUIRED = {"jobName", "jobQueue", "jobDefinition"}
CONTAINER_OVERRIDES: dict[str, type] = {"command": list, "environment": list,
                                        "resourceRequirements": list}  # fmt: skip
RESOURCE_TYPES = {"GPU", "VCPU", "MEMORY"}
# jobName: up to 128 letters, numbers, hyphens and underscores, the first a letter or number.
JOB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")


def assert_submit_job(document: dict[str, Any]) -> None:
    """One input of `aws batch submit-job --cli-input-json`, checked key by key."""
    assert REQUIRED <= set(document) <= set(SUBMIT_JOB), document
    for key, value in document.items():
        assert isinstance(value, SUBMIT_JOB[key]), key
    assert JOB_NAME.fullmatch(document["jobName"])
    if "arrayProperties" in document:
        assert set(document["arrayProperties"]) == {"size"}
        assert 2 <= document["arrayProperties"]["size"] <= 10_000
    overrides = document["containerOverrides"]
    assert set(overrides) <= set(CONTAINER_OVERRIDES)
    for key, value in overrides.items():
        assert isinstance(value, CONTAINER_OVERRIDES[key]), key
    assert all(isinstance(word, str) for word in overrides["command"])
    for pair in overrides["environment"]:
        assert set(pair) == {"name", "value"} and all(isinstance(v, str) for v in pair.values())
        assert not pair["name"].startswith("AWS_BATCH")  # reserved by AWS Batch
    for requirement in overrides["resourceRequirements"]:
        assert set(requirement) == {"type", "value"} and requirement["type"] in RESOURCE_TYPES
        assert isinstance(requirement["value"], str) and requirement["value"].isdigit()
    if "timeout" in document:
        assert set(document["timeout"]) == {"attemptDurationSeconds"}
        seconds = document["timeout"]["attemptDurationSeconds"]
        assert isinstance(seconds, int) and seconds >= 60  # AWS Batch's minimum


def test_batch_inputs_have_the_submit_job_shape_and_each_child_builds_its_task(
    project: Project,
) -> None:
    two_resource_sets(project)
    lines = project.run("plan", "--missing", *AWS_BATCH, "--time", "0:00:30").stdout
    jobs = batch_jobs(lines)
    assert len(jobs) == 2
    for document in jobs:
        assert_submit_job(document)
        assert document["jobQueue"] == "queue-1" and document["jobDefinition"] == "builder:3"
        assert document["timeout"] == {"attemptDurationSeconds": 60}  # 30s: raised to the minimum
    big, small = (document["containerOverrides"] for document in jobs)
    assert big["resourceRequirements"] == [
        {"type": "VCPU", "value": "2"},
        {"type": "MEMORY", "value": "3072"},
        {"type": "GPU", "value": "1"},
    ]
    assert small["resourceRequirements"] == [{"type": "VCPU", "value": "1"}]
    assert jobs[1]["arrayProperties"] == {"size": TOTAL - len(INPUTS)}

    variables = {item["name"]: item["value"] for item in small["environment"]}
    env = {**variables, "AWS_BATCH_JOB_ARRAY_INDEX": "1"}
    assert run_job_command(project, small["command"], env).returncode == 0
    assert done_ids(project) == [plan_lines(small["command"])[1]]


def test_a_single_task_is_a_plain_job_and_a_big_group_several_arrays(project: Project) -> None:
    first = project.manifest("--missing")["entries"][0]
    lines = project.run("plan", "--missing", *AWS_BATCH, "--limit", "1").stdout
    (plain,) = batch_jobs(lines)
    assert_submit_job(plain)
    assert "arrayProperties" not in plain  # AWS Batch arrays have 2 to 10,000 children
    overrides = plain["containerOverrides"]
    variables = {item["name"]: item["value"] for item in overrides["environment"]}
    assert run_job_command(project, overrides["command"], variables).returncode == 0  # no index
    assert done_ids(project) == [first["permutation_id"]]

    # 20,001 tasks: two arrays of 10,000, then a plain job for the last one.
    job = ArrayJob(str(project.root), str(project.output), job_queue="q", job_definition="d")
    group = ArrayGroup(Resources(), f"{project.output}/_plans/{'0' * 16}.plan", 20_001, 20_001, 1)
    documents = aws_batch.submissions(job, group, "output")
    for document in documents:
        assert_submit_job(document)
    sizes = [d.get("arrayProperties", {"size": 1})["size"] for d in documents]
    offsets = [d["containerOverrides"]["environment"][0]["value"] for d in documents]
    assert sizes == [10_000, 10_000, 1] and offsets == ["0", "10000", "20000"]
    assert "${AWS_BATCH_JOB_ARRAY_INDEX:-0}" in documents[-1]["containerOverrides"]["command"][2]


# --- Both ---------------------------------------------------------------------------------------


def container_command(shape: tuple[str, ...], output: str) -> tuple[list[str], dict[str, str]]:
    """The command of the one job of ``output``, and its variables with its first task's index."""
    if shape == KUBERNETES:
        (job,) = kubernetes_jobs(output)
        (container,) = job["spec"]["template"]["spec"]["containers"]
        command, variables, index = container["command"], container["env"], "JOB_COMPLETION_INDEX"
    else:
        (document,) = batch_jobs(output)
        overrides = document["containerOverrides"]
        command, variables = overrides["command"], overrides["environment"]
        index = "AWS_BATCH_JOB_ARRAY_INDEX"
    return command, {**{item["name"]: item["value"] for item in variables}, index: "0"}


@pytest.mark.parametrize("shape", [KUBERNETES, AWS_BATCH], ids=["kubernetes", "aws-batch"])
def test_a_job_runs_its_setup_line_then_the_interpreter_it_put_there(
    project: Project, tmp_path: Path, shape: tuple[str, ...]
) -> None:
    environment = task_environment(tmp_path, shell="sh")
    asked = ("plan", "--missing", "--limit", "2", *shape)
    output = project.run(*asked, *environment).stdout
    if shape == KUBERNETES:  # a comment shows it; AWS Batch's JSON Lines have none
        assert f"# Each pod first runs, in sh:\n#   {environment[1]}\n" in output
    command, variables = container_command(shape, output)
    assert "exec task-python -m " in command[2]
    result = run_job_command(project, command, variables)
    assert result.returncode == 0, result.stderr
    assert done_ids(project) == plan_lines(command)[:1]

    # Without its setup, the job finds no such interpreter: the setup ran before the build.
    bare = project.run(*asked, "--python", "task-python").stdout
    failed = run_job_command(project, *container_command(shape, bare))
    assert failed.returncode == 127, failed.stderr
