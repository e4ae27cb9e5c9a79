"""Info subcommands never load the build side: sqlite3, logging, the runner, pool or provenance."""

from __future__ import annotations

import subprocess
import sys

from conftest import Project

from {{ cookiecutter.package_name }} import settings
from {{ cookiecutter.package_name }}.builder import axes

INFO_COMMANDS = [
    ("manifest",),
    ("manifest", "--json"),
    ("manifest", "--commands"),
    ("manifest", "--grid"),
    ("manifest", "--missing", "--commands", "--shard", "1/2"),
    ("manifest", "--status", "fail", "--status", "build", axes.PARAM_FLAG, "*", "--json"),
    ("manifest", "--slurm", "--time", "1:00:00"),
    ("manifest", "--status", "fail", "--slurm", "--retry-scale", "mem=2"),
    ("manifest", "--kubernetes", "--image", "i", "--volume-claim", "c", "--mem", "1G"),
    ("manifest", "--aws-batch", "--job-queue", "q", "--job-definition", "d", "--gpus", "1"),
    (axes.LIST_INPUTS,),
    (axes.LIST_PARAMS,),
]

# What only `build` may load: if an info subcommand imported one of these, it would fail here.
BUILD_ONLY = [
    "sqlite3",
    "logging",
    f"{settings.PACKAGE}.builder.building.runner",
    f"{settings.PACKAGE}.builder.building.logs",
    f"{settings.PACKAGE}.builder.building.pool",
    f"{settings.PACKAGE}.builder.building.provenance",
    f"{settings.PACKAGE}.builder.building.overall",
]

BLOCKING_RUNNER = """
import runpy, sys
class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name in BLOCKED:
            raise ImportError(f"{name} is blocked for info subcommands")
sys.meta_path.insert(0, Refuse())
sys.argv = ["builder", *ARGS]
runpy.run_module(PACKAGE + ".builder", run_name="__main__")
"""


def run_with_build_modules_blocked(project: Project, *args: str) -> None:
    code = (
        f"BLOCKED = {BUILD_ONLY!r}; ARGS = {list(args)!r}; PACKAGE = {settings.PACKAGE!r}"
        + BLOCKING_RUNNER
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=project.root,
        env=project.env(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"{args}: {result.stderr}"
    assert "Traceback" not in result.stderr


def test_info_subcommands_run_with_build_modules_unimportable(project: Project) -> None:
    for args in INFO_COMMANDS:
        run_with_build_modules_blocked(project, *args)


def test_build_of_a_done_permutation_needs_no_build_machinery(project: Project) -> None:
    """Nothing to do is answered from one stat, so it costs no more than an info subcommand."""
    entry = project.manifest()["entries"][0]
    project.artifact(entry["permutation_id"]).parent.mkdir(parents=True)
    project.artifact(entry["permutation_id"]).write_bytes(b"built")
    run_with_build_modules_blocked(
        project,
        "build",
        "--output-folder",
        str(project.output),
        axes.INPUT_FLAG,
        entry[axes.INPUT_KEY],
        axes.PARAM_FLAG,
        entry[axes.PARAM_KEY],
    )
