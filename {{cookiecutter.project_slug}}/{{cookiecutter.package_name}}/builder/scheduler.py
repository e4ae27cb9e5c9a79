"""The engine a build runs under, as its environment tells: which one, its job, the resources the
job asked for, and how long it waited in the queue.

An array task's plan names its resource set (``engines/plan``); ``build --plan`` passes it on in
``REQUESTED_VARIABLE``, which the workers of ``build --jobs`` inherit. Under SLURM the job's own
environment goes over the plan where it says more (memory and cpus: ``bash FILE --mem=8G``
overrides the file's), and ``scontrol show job`` tells its time limit and its submit and start
times, so the queue wait; one call per process. The other engines tell their queue wait only
through their accounting tools (``qacct``, ``qstat -f``, ``bjobs``, ``kubectl``, ``aws batch
describe-jobs``), which a build does not call: their builds record what they asked for, no wait.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .. import settings
from . import failures

REQUESTED_VARIABLE = f"{settings.PACKAGE.upper()}_REQUESTED"

# Each engine and the variable it sets in every job it runs, checked in this order.
ENGINES = (
    ("slurm", "SLURM_JOB_ID"),
    ("sge", "SGE_TASK_ID"),
    ("pbs", "PBS_JOBID"),
    ("lsf", "LSB_JOBID"),
    ("kubernetes", "JOB_COMPLETION_INDEX"),
    ("aws-batch", "AWS_BATCH_JOB_ID"),
)


def engine_of(environ: Mapping[str, str]) -> str | None:
    return next((name for name, variable in ENGINES if environ.get(variable)), None)


def job_of(engine: str, environ: Mapping[str, str]) -> str | None:
    """The job as the engine's own tools name it (``123_4``, ``7.2``, ``9[3]``, the pod)."""
    get = environ.get
    if engine == "slurm":
        return failures.this_job()
    if engine == "sge":
        task = get("SGE_TASK_ID", "undefined")
        return get("JOB_ID", "?") + ("" if task == "undefined" else f".{task}")
    if engine == "lsf":
        index = get("LSB_JOBINDEX", "0")
        return get("LSB_JOBID", "?") + ("" if index == "0" else f"[{index}]")
    if engine == "kubernetes":
        return get("HOSTNAME")
    return get({"pbs": "PBS_JOBID", "aws-batch": "AWS_BATCH_JOB_ID"}[engine])


def requested(environ: Mapping[str, str]) -> dict[str, Any] | None:
    """The resources the plan asked for, as its task was given them; None outside a plan."""
    try:
        value = json.loads(environ.get(REQUESTED_VARIABLE) or "null")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def pass_on(resources: Mapping[str, Any]) -> None:
    """Tell this process's builds, and the workers it starts, what their task asked for."""
    os.environ[REQUESTED_VARIABLE] = json.dumps(dict(resources), separators=(",", ":"))


@functools.cache
def describe() -> dict[str, Any] | None:
    """This process's engine, job, requested resources and queue wait; None outside any."""
    environ = os.environ
    engine, asked = engine_of(environ), requested(environ)
    if engine is None and asked is None:
        return None
    record: dict[str, Any] = {
        "name": engine,
        "job": None if engine is None else job_of(engine, environ),
    }
    asked = dict(asked or {})
    if engine == "slurm":
        asked.update(_slurm_allocation(environ))
        record.update(_slurm_times(record["job"], asked))
    record["requested"] = asked or None
    return record


def _slurm_allocation(environ: Mapping[str, str]) -> dict[str, Any]:
    """What SLURM's environment says the job was given: memory per node and cpus per task."""
    given: dict[str, Any] = {}
    memory, cpus = environ.get("SLURM_MEM_PER_NODE", ""), environ.get("SLURM_CPUS_PER_TASK", "")
    if memory.isdigit():
        given["mem"] = f"{memory}M"
    if cpus.isdigit():
        given["cpus"] = int(cpus)
    return given


def _slurm_times(job: str | None, asked: dict[str, Any]) -> dict[str, Any]:
    """Submit and start time (epoch seconds) and the queue wait, from ``scontrol``; the job's time
    limit goes into ``asked``. Nothing when SLURM does not answer."""
    if job is None:
        return {}
    listed = failures.slurm_output("scontrol", "show", "job", "-o", job)
    fields = dict(field.partition("=")[::2] for field in listed.split())
    limit = fields.get("TimeLimit", "")
    if limit and limit[0].isdigit():
        asked["time"] = limit
    try:  # local times without a zone, as scontrol prints them: their difference is the wait
        submitted = datetime.fromisoformat(fields["SubmitTime"]).timestamp()
        started = datetime.fromisoformat(fields["StartTime"]).timestamp()
    except (KeyError, ValueError):
        return {}
    return {"submitted": submitted, "started": started, "queue_wait": max(0.0, started - submitted)}
