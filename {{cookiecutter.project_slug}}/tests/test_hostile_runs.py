"""Hostile runs through the real CLI: dead workers, real signals, full disks, links, rivals.

Each test reproduces one way a run lost work, lied about it or blocked: a worker killed with
``kill -9`` in a ``--jobs`` pool, a phase that commits or forks, a link under the output folder, a
disk that fills, an input edited mid-build, a plan cut short. Signals are real (``kill -9``,
SIGHUP, SIGQUIT), and so are file systems: as root a test mounts a small tmpfs in a private mount
namespace (``test_crash_safety.in_tmpfs``).
"""

from __future__ import annotations

import re

from conftest import INPUTS, PARAMS, PHASES, Project, plan_ids, submissions

from {{ cookiecutter.package_name }}.builder import axes

BUILD_ALL = ("build", "--output-folder", "output")


def build_pair(project: Project, inp: str, param: str, code: int | None = 0) -> None:
    pair = (axes.INPUT_FLAG, inp, axes.PARAM_FLAG, param)
    project.run(*BUILD_ALL, *pair, code=code)


# --- retries: the header counts the plan, not the selection --------------------------------------


def test_a_retry_file_header_counts_the_builds_of_its_plans(project: Project) -> None:
    """Two failures selected, one worth retrying: the files say 1 build, as their plans hold."""
    registry = dict(project.config["registry"])
    registry[PARAMS[0]] = {**registry[PARAMS[0]], "resources": {"mem": "1G"}}
    project.configure(registry=registry)
    project.fault(PHASES[1], "allocate", 2**40, param=PARAMS[0])  # MemoryError: oom
    project.fault(PHASES[1], "raise", "boom", param=PARAMS[1])  # an exception: left out
    build_pair(project, INPUTS[0], PARAMS[0], code=1)
    build_pair(project, INPUTS[0], PARAMS[1], code=1)
    retry = ("manifest", "--status", "fail", "--retry-scale", "mem=2")
    script = project.run(*retry, "--slurm").stdout
    planned = sum(len(plan_ids(array.plan)) for array in submissions(script))
    assert planned == 1
    assert re.search(r"^# .*: 1 builds in 1 SLURM array task\(s\)", script, re.M), script
    pods = project.run(*retry, "--kubernetes", "--image", "i", "--volume-claim", "c").stdout
    assert re.search(r"^# .*: 1 builds in 1 pod\(s\)", pods, re.M), pods
