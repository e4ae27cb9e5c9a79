"""Info subcommands never load the build side (sqlite3, logging, the runner, pool or provenance),
and the builder's folders import downwards only."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from conftest import Project

from {{ cookiecutter.package_name }} import settings
from {{ cookiecutter.package_name }}.builder import axes
from {{ cookiecutter.package_name }}.builder.cli import COMMANDS

INFO_COMMANDS = [
    ("manifest",),
    ("manifest", "--json"),
    ("manifest", "--commands"),
    ("manifest", "--grid"),
    ("manifest", "--missing", "--commands", "--shard", "1/2"),
    ("manifest", "--status", "fail", "--status", "build", axes.PARAM_FLAG, "*", "--json"),
    ("plan", "--slurm", "--time", "1:00:00"),
    ("plan", "--slurm", "--learn", "--per-task", "2"),
    ("plan", "--status", "fail", "--slurm", "--retry-scale", "mem=2"),
    ("plan", "--kubernetes", "--image", "i", "--volume-claim", "c", "--mem", "1G"),
    ("plan", "--aws-batch", "--job-queue", "q", "--job-definition", "d", "--gpus", "1"),
    ("report", "--to", "report.html"),
    (axes.LIST_INPUTS,),
    (axes.LIST_PARAMS,),
    ("manifest", "--orphans"),
    ("manifest", "--excluded", "--json"),
    ("clean", "--failed", "--plans"),
]

TRACING = f"{settings.PACKAGE}.builder.tracing"
# What only `build` may load: if an info subcommand imported one of these, it would fail here.
BUILD_ONLY = [
    "sqlite3",
    "logging",
    f"{settings.PACKAGE}.builder.building.runner",
    f"{settings.PACKAGE}.builder.building.logs",
    f"{settings.PACKAGE}.builder.building.pool",
    f"{settings.PACKAGE}.builder.building.provenance",
    f"{settings.PACKAGE}.builder.building.overall",
    TRACING,  # only a build loads the project's code instrumented
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


def run_with_build_modules_blocked(
    project: Project, *args: str, blocked: list[str] = BUILD_ONLY
) -> str:
    """Run the builder with ``args``, the ``blocked`` modules unimportable; its stdout."""
    code = (
        f"BLOCKED = {blocked!r}; ARGS = {list(args)!r}; PACKAGE = {settings.PACKAGE!r}"
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
    return result.stdout


def test_info_subcommands_run_with_build_modules_unimportable(project: Project) -> None:
    for args in INFO_COMMANDS:
        run_with_build_modules_blocked(project, *args)


def test_help_lists_every_command_and_imports_none_of_them(project: Project) -> None:
    """Like pip's command table: the overview names each command and its summary from the table,
    and a command's own --help is complete, having imported that command's module alone."""
    modules = {
        name: f"{settings.PACKAGE}.builder.commands.{c.module}" for name, c in COMMANDS.items()
    }
    overview = run_with_build_modules_blocked(project, "--help", blocked=list(modules.values()))
    for name, command in COMMANDS.items():
        assert name in overview and command.summary.split()[0] in overview
    others = [module for name, module in modules.items() if name != "manifest"]
    complete = run_with_build_modules_blocked(project, "manifest", "--help", blocked=others)
    assert "--grid" in complete and "--stale" in complete and "--output-folder" in complete


def test_build_of_a_done_permutation_needs_no_build_machinery(project: Project) -> None:
    """Nothing to do is answered from one stat, so it costs no more than an info subcommand (and
    the tracing import hook, which loads the pipeline of every build: its rewrite is cached)."""
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
        blocked=[name for name in BUILD_ONLY if name != TRACING],
    )


# The builder's folders, lowest first: a module imports modules of its own layer or lower ones
# (the modules at the top of builder/ are layer 0, the ground every half stands on).
LAYERS = {
    "": 0,
    "manifest": 1,
    "formats": 2,
    "building": 3,
    "engines": 3,
    "commands": 4,
    "cli": 5,
    "__main__": 6,
}
# Halves of one layer that never import each other, and what the read side never imports.
APART = {("building", "engines"), ("engines", "building")}
READ_SIDE = ("manifest", "formats")
BUILDER = Path(__file__).resolve().parents[1] / settings.PACKAGE / "builder"


def builder_modules() -> dict[str, Path]:
    """Every module of the builder by its name under builder/ (``manifest.entries``)."""
    modules = {}
    for path in sorted(BUILDER.rglob("*.py")):
        parts = list(path.relative_to(BUILDER).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imported(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The builder modules a module imports anywhere in it (in functions, under TYPE_CHECKING):
    each relative import resolved, each imported name that is a module taken as that module."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.ImportFrom) or node.level == 0:
            continue
        base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
        if node.level > len(package) + 1:
            continue  # beyond builder/: settings, pipeline
        source = ".".join([*base, *(node.module.split(".") if node.module else [])])
        for alias in node.names:
            full = f"{source}.{alias.name}" if source else alias.name
            target = full if full in modules else source
            if target in modules and target != name:
                found.add(target)
    return found


def layer_of(name: str) -> str:
    first = name.split(".")[0]
    return first if first in LAYERS else ""


def test_the_builder_imports_downwards_only_and_in_no_circle() -> None:
    """The folders show the architecture: each half imports only the ground below it, the read
    side never the build side, and no module is reached again by what it imports."""
    modules = builder_modules()
    graph = {name: imported(name, path, modules) for name, path in modules.items()}
    assert {"manifest.entries", "building.runner", "engines.plan", "commands.build"} <= set(graph)
    for name, targets in graph.items():
        for target in targets:
            here, there = layer_of(name), layer_of(target)
            assert LAYERS[there] <= LAYERS[here], f"{name} imports {target}, a layer above it"
            assert (here, there) not in APART, f"{name} imports {target}"
            assert not (here in READ_SIDE and there == "building"), f"{name} imports {target}"
    for start in graph:  # depth-first from each module: is it reached again?
        stack, seen = list(graph[start]), set()
        while stack:
            current = stack.pop()
            assert current != start, f"{start} is in an import circle"
            if current not in seen:
                seen.add(current)
                stack.extend(graph[current])
