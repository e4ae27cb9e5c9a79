"""Info subcommands stay light: nothing outside the standard library, and no build machinery."""

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
    ("manifest", "--stale"),  # nothing built yet: no artifact to open, so no sqlite3
    ("manifest", "--missing", "--commands", "--shard", "1/2"),
    ("manifest", "--slurm", "--time", "1:00:00"),
    (axes.LIST_INPUTS,),
    (axes.LIST_PARAMS,),
]

# What only `build` may load: if an info subcommand imported one of these, it would fail here.
BUILD_ONLY = [
    "sqlite3",
    "logging",
    f"{settings.PACKAGE}.builder.runner",
    f"{settings.PACKAGE}.builder.logs",
    f"{settings.PACKAGE}.builder.overall",
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


def imported_modules(project: Project, *args: str) -> set[str]:
    """Top-level names of the modules that ``python -X importtime <args>`` loads."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        cwd=project.root,
        env=project.env(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "cumulative" not in line
    }


def test_info_subcommands_import_only_the_standard_library(project: Project) -> None:
    interpreter = imported_modules(project, "-c", "pass")  # site hooks are not ours to judge
    for args in INFO_COMMANDS:
        imported = (
            imported_modules(project, "-m", f"{settings.PACKAGE}.builder", *args) - interpreter
        )
        foreign = imported - set(sys.stdlib_module_names) - {settings.PACKAGE}
        assert settings.PACKAGE in imported and not foreign, f"{args} imported {sorted(foreign)}"
        assert not imported & {"sqlite3", "logging"}, f"{args} imported build-only modules"


# Kept off the manifest's start-up: each costs milliseconds on a command run dozens of times a day
# (json only for a value that needs escaping, signal for build, the rest for build or never).
NOT_AT_START_UP = {"typing", "datetime", "shutil", "json", "signal", "zlib", "bz2", "lzma"}


def test_the_manifest_loads_no_module_it_does_not_use(project: Project) -> None:
    """What pipeline.py imports is the user's choice; what the machinery adds to it is checked."""
    users = imported_modules(project, str(project.pipeline))
    for args in (("manifest",), ("manifest", "--missing", "--commands"), ("manifest", "--json")):
        added = imported_modules(project, "-m", f"{settings.PACKAGE}.builder", *args) - users
        assert not added & NOT_AT_START_UP, f"{args} imported {sorted(added & NOT_AT_START_UP)}"
