"""``plan --kubernetes``: Kubernetes Indexed Jobs over plan files, one per resource set.

Printed as a YAML stream of JSON documents (JSON is YAML, so no YAML library is needed), for
``kubectl create -f``. Each Job runs ``completions`` pods, each with its index in
``JOB_COMPLETION_INDEX`` from 0; its resources are its group's (cpu and memory requested, memory
and GPUs limited, the time as the pod's ``activeDeadlineSeconds``). A failed pod fails its index
only (``backoffLimitPerIndex: 0``): a build that failed would fail again, and the manifest shows
it. A pod evicted or preempted (``DisruptionTarget``) is started again; no ``maxFailedIndexes``,
so every index runs whatever the others do, as a SLURM array's tasks do. The partition of a
resource set is SLURM's, and has no meaning here.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ... import settings
from .arrays import chunks
from .containers import (
    OFFSET_VARIABLE,
    base_name,
    job_name,
    required,
    seconds,
    shared_folder,
    task_shell,
)
from .resources import Resources, whole_mebibytes

if TYPE_CHECKING:
    from .submission import ArrayGroup, ArrayJob

INDEX_VARIABLE = "JOB_COMPLETION_INDEX"
# Kubernetes takes at most this many completions (and pods at once) in an Indexed Job.
MAX_COMPLETIONS = 100_000
GPU = "nvidia.com/gpu"
# Evicted, preempted or its node drained: not the build's failure, so it does not fail the index.
_DISRUPTION = {
    "action": "Ignore",
    "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
}


def resource_quantities(resources: Resources) -> dict[str, dict[str, str]]:
    """The container's requests and limits: memory limited to what is asked, as SLURM's cgroup
    does; cpu requested, not limited (a limit throttles); GPUs, which can only be limited."""
    requests = {"cpu": str(resources.cpus)}
    limits = {}
    if resources.mem is not None:
        requests["memory"] = limits["memory"] = f"{whole_mebibytes(resources.mem)}Mi"
    if resources.gpus is not None:
        limits[GPU] = str(resources.gpus)
    return {"requests": requests, "limits": limits} if limits else {"requests": requests}


def job_documents(job: ArrayJob, group: ArrayGroup, command_folder: str) -> list[dict[str, Any]]:
    """The Jobs of one resource group: one per ``MAX_COMPLETIONS`` tasks (or --max-array-size)."""
    image = required(job.image, "--image", "kubernetes", "the container image that runs it")
    claim = required(
        job.volume_claim, "--volume-claim", "kubernetes", "the claim that holds its folders"
    )
    labels = {"app.kubernetes.io/name": base_name()}
    folder = shared_folder(job.project_root, job.output_dir)
    # Kubernetes turns $$ into $ in a command (its escape for $(NAME)): a --setup line's $$ stays.
    command = [
        part.replace("$$", "$$$$")
        for part in task_shell(job, group, command_folder, INDEX_VARIABLE)
    ]
    pod: dict[str, Any] = {"restartPolicy": "Never"}
    deadline = seconds(group.resources.time)
    if deadline is not None:
        pod["activeDeadlineSeconds"] = deadline
    parts = chunks(group.tasks, job.array_size(MAX_COMPLETIONS))
    documents = []
    for part, (offset, size) in enumerate(parts, start=1):
        container = {
            "name": "build",
            "image": image,
            "command": command,
            "env": [{"name": OFFSET_VARIABLE, "value": str(offset)}],
            "resources": resource_quantities(group.resources),
            "volumeMounts": [{"name": "shared", "mountPath": folder}],
        }
        volume = {"name": "shared", "persistentVolumeClaim": {"claimName": claim}}
        documents.append(
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {
                    "name": job_name(group, part if len(parts) > 1 else None),
                    "labels": labels,
                },
                "spec": {
                    "completionMode": "Indexed",
                    "completions": size,
                    "parallelism": min(job.array_limit or size, size),
                    "backoffLimitPerIndex": 0,
                    "podFailurePolicy": {"rules": [_DISRUPTION]},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {**pod, "containers": [container], "volumes": [volume]},
                    },
                },
            }
        )
    return documents


def format_kubernetes(
    job: ArrayJob, groups: tuple[ArrayGroup, ...], command_folder: str
) -> list[str]:
    """A few comment lines, then each Job as a YAML document."""
    documents = [
        document for group in groups for document in job_documents(job, group, command_folder)
    ]
    tasks = sum(group.tasks for group in groups)
    builds = sum(group.permutations for group in groups)  # a retry plans fewer than it selects
    name = " ".join(settings.PROJECT_NAME.split())
    header = (
        f"# {name}: {builds} builds in {tasks} pod(s) of up to {job.per_task},"
        f" as {len(documents)} Kubernetes Indexed Job(s), one per resource set.\n"
        "# Submit: kubectl create -f THIS_FILE (the same Jobs twice are refused by name).\n"
        f"# A pod builds plan task {OFFSET_VARIABLE} + {INDEX_VARIABLE} (from 0); the plans:\n"
        + "".join(
            f"#   {group.plan}" + (f" [{group.sources}]\n" if group.sources else "\n")
            for group in groups
        )
        + ("# Each pod first runs, in sh:\n" if job.setup else "")
        + "".join(f"#   {line}\n" for line in job.setup)
        + (f"# Each pod's interpreter: {job.python}\n" if job.python else "")
        + f"# Failures: kubectl get jobs -l app.kubernetes.io/name={base_name()};"
        " then manifest --status fail\n"
    )
    return [header, *(f"---\n{json.dumps(document, indent=2)}\n" for document in documents)]
