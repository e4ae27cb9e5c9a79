"""A baked project's container engines against their official schemas, offline.

No cluster and no AWS account: kubernetes-validate (pinned in requirements-dev.txt) holds the
OpenAPI schemas of each Kubernetes release, and every Job ``plan --kubernetes`` prints is
validated strictly (no unknown field, every type and required field as the API server's schema
says) against the release where ``backoffLimitPerIndex`` and ``podFailurePolicy`` became stable,
and the newest the package knows. botocore (pinned) holds the AWS Batch service model that the
AWS CLI validates ``--cli-input-json`` against before it sends anything: every line of
``plan --aws-batch`` is validated against SubmitJob's input there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import botocore.session
import kubernetes_validate
import pytest
import yaml
from botocore.exceptions import ParamValidationError
from botocore.validate import validate_parameters
from conftest import Bake, BakedProject
from test_slurm import BakedTestPipeline

# Job-per-index backoff is beta from 1.29 and stable from 1.33.
VERSIONS = ("1.33", kubernetes_validate.latest_version())
FLAGS = ("--kubernetes", "--image", "python:3.12-slim", "--volume-claim", "shared-folder")
AWS_BATCH = ("--aws-batch", "--job-queue", "queue", "--job-definition", "builder:3")


def manifest(project: BakedProject, env: dict[str, str], *options: str) -> str:
    return project.python(
        "-m", f"{project.package}.builder", "plan", "--missing", *options, env=env
    ).stdout


def jobs(project: BakedProject, env: dict[str, str], *options: str) -> list[dict[str, Any]]:
    """The Jobs ``manifest --missing --kubernetes OPTIONS`` prints, read as a YAML stream."""
    stream = manifest(project, env, *FLAGS, *options)
    documents = list(yaml.safe_load_all(stream))
    assert all(isinstance(document, dict) for document in documents), stream
    return documents


def assert_valid(documents: list[dict[str, Any]]) -> None:
    for document in documents:
        assert document["kind"] == "Job" and document["spec"]["completionMode"] == "Indexed"
        for version in VERSIONS:
            kubernetes_validate.validate(document, version, strict=True)


def test_the_jobs_of_one_resource_set_are_valid_jobs(bake: Bake) -> None:
    project = bake()
    assert_valid(jobs(project, {}))
    split = jobs(project, {}, "--max-array-size", "2", "--per-task", "2", "--array-limit", "1")
    assert len(split) > 1 and len({job["metadata"]["name"] for job in split}) == len(split)
    assert_valid(split)


def two_resource_sets(project: BakedProject, folder: Path) -> dict[str, str]:
    """The test pipeline, its first parameter asking for more; the environment that runs it."""
    pipeline = BakedTestPipeline(project, folder)
    registry = dict(pipeline.config["registry"])
    first = next(iter(registry))
    asked = {"cpus": 4, "mem": "1536M", "time": "2-0:00:00", "gpus": 2, "partition": "gpu"}
    registry[first] = {**registry[first], "resources": asked}
    pipeline.configure(registry=registry)
    return pipeline.env


def test_the_jobs_of_two_resource_sets_are_valid_jobs(bake: Bake, tmp_path: Path) -> None:
    project = bake()
    documents = jobs(project, two_resource_sets(project, tmp_path), "--per-task", "3")
    assert len(documents) == 2
    assert_valid(documents)
    pod = documents[0]["spec"]["template"]["spec"]
    assert pod["activeDeadlineSeconds"] == 2 * 24 * 3600
    limits = pod["containers"][0]["resources"]["limits"]
    assert limits == {"memory": "1536Mi", "nvidia.com/gpu": "2"}


def test_the_schema_refuses_what_is_not_a_job(bake: Bake) -> None:
    """The validation can fail: a misspelt field and a wrong type are refused."""
    (job,) = jobs(bake(), {})
    for path, value in [(("spec", "backoffLimitPerIndx"), 0), (("spec", "completions"), "9")]:
        broken = json.loads(json.dumps(job))
        broken[path[0]][path[1]] = value
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(broken, VERSIONS[0], strict=True)


SUBMIT_JOB = botocore.session.get_session().get_service_model("batch").operation_model("SubmitJob")


def test_the_aws_batch_lines_are_valid_submit_job_inputs(bake: Bake, tmp_path: Path) -> None:
    project = bake()
    env = two_resource_sets(project, tmp_path)
    for options in [(), ("--max-array-size", "2", "--time", "0:00:30"), ("--limit", "1")]:
        lines = manifest(project, env, *AWS_BATCH, *options).splitlines()
        assert lines
        for line in lines:
            validate_parameters(json.loads(line), SUBMIT_JOB.input_shape)
    broken = {**json.loads(lines[0]), "arrayProperties": {"size": "2"}}
    with pytest.raises(ParamValidationError):  # the validation can fail
        validate_parameters(broken, SUBMIT_JOB.input_shape)
