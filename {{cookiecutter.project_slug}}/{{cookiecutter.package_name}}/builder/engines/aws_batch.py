"""``plan --aws-batch``: AWS Batch array jobs over plan files, one per resource set.

Printed as JSON Lines: each line the input of one ``aws batch submit-job --cli-input-json``
(the SubmitJob request). An array job's children find their index in
``AWS_BATCH_JOB_ARRAY_INDEX``, from 0. AWS Batch takes 2 to 10,000 children per array: a group of
one task is a plain job (no array, so no index: the task is its offset), and a bigger one becomes
several jobs, each with its offset in ``PLAN_OFFSET``. The job definition names the image and
mounts the shared file system; the submission overrides the command, the resources (vCPUs, memory
in MiB, GPUs) and the attempt's timeout (at least 60 seconds, AWS Batch's minimum). The partition
of a resource set is SLURM's: choose the queue with ``--job-queue``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..ids import UsageError
from .arrays import chunks
from .containers import OFFSET_VARIABLE, job_name, required, seconds, task_shell
from .resources import Resources, whole_mebibytes

if TYPE_CHECKING:
    from .submission import ArrayGroup, ArrayJob

INDEX_VARIABLE = "AWS_BATCH_JOB_ARRAY_INDEX"
MAX_ARRAY_SIZE = 10_000  # AWS Batch's cap on an array's children
MIN_TIMEOUT = 60  # seconds: AWS Batch refuses a shorter attempt


def resource_requirements(resources: Resources) -> list[dict[str, str]]:
    """VCPU, MEMORY (MiB) and GPU, as strings, as the API takes them."""
    wanted = [("VCPU", str(resources.cpus))]
    if resources.mem is not None:
        wanted.append(("MEMORY", str(whole_mebibytes(resources.mem))))
    if resources.gpus is not None:
        wanted.append(("GPU", str(resources.gpus)))
    return [{"type": kind, "value": value} for kind, value in wanted]


def submissions(job: ArrayJob, group: ArrayGroup, command_folder: str) -> list[dict[str, Any]]:
    """The SubmitJob inputs of one resource group."""
    queue = required(job.job_queue, "--job-queue", "aws-batch", "the queue to submit to")
    definition = required(
        job.job_definition, "--job-definition", "aws-batch", "the one whose image runs it"
    )
    parts = chunks(group.tasks, job.array_size(MAX_ARRAY_SIZE))
    timeout = seconds(group.resources.time)
    documents = []
    for part, (offset, size) in enumerate(parts, start=1):
        index = INDEX_VARIABLE if size > 1 else f"{INDEX_VARIABLE}:-0"  # a plain job has none
        command = task_shell(job, group, command_folder, index)
        document: dict[str, Any] = {
            "jobName": job_name(group, part if len(parts) > 1 else None),
            "jobQueue": queue,
            "jobDefinition": definition,
        }
        if size > 1:
            document["arrayProperties"] = {"size": size}
        document["containerOverrides"] = {
            "command": command,
            "environment": [{"name": OFFSET_VARIABLE, "value": str(offset)}],
            "resourceRequirements": resource_requirements(group.resources),
        }
        if timeout is not None:
            document["timeout"] = {"attemptDurationSeconds": max(MIN_TIMEOUT, timeout)}
        documents.append(document)
    return documents


def format_aws_batch(
    job: ArrayJob, groups: tuple[ArrayGroup, ...], command_folder: str
) -> list[str]:
    """One SubmitJob input per line."""
    if job.array_limit is not None:
        raise UsageError(
            "--array-limit has no AWS Batch equivalent: an array runs as many children as its"
            " compute environment's vCPUs (maxvCpus) allow"
        )
    return [
        json.dumps(document, separators=(",", ":")) + "\n"
        for group in groups
        for document in submissions(job, group, command_folder)
    ]
