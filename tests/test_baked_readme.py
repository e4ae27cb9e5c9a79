"""The baked README and docs/ speak the pipeline's own names, and what they say to run does run."""

from __future__ import annotations

import ast
import json
import re

import pytest
from conftest import ANSWERS_FILE, Bake, BakedProject, require_program

CUSTOM_AXES = {"input_axis": "dataset", "param_axis": "model", "param_values": "small,base"}


def readme(project: BakedProject) -> str:
    return (project.root / "README.md").read_text(encoding="utf-8")


def docs(project: BakedProject) -> dict[str, str]:
    """The README and each page of docs/, by name."""
    pages = [project.root / "README.md", *sorted((project.root / "docs").glob("*.md"))]
    return {page.name: page.read_text(encoding="utf-8") for page in pages}


def section(project: BakedProject, title: str) -> str:
    """The README's text from a `## title` heading to the next one."""
    text = readme(project)
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def axis_names(project: BakedProject) -> list[str]:
    """What the README calls the two axes: subcommands, flags, recipes, the artifact path."""
    inp, param = (str(project.context[key]) for key in ("input_axis", "param_axis"))
    plurals = (str(project.context[key]) for key in ("input_axis_plural", "param_axis_plural"))
    return [
        *(f"list-{plural.replace('_', '-')}" for plural in plurals),
        f"--{inp.replace('_', '-')}-id",
        f"--{param.replace('_', '-')}-name",
        f"Add a new {inp}:",
        f"Add a new {param}:",
        f"`output/<{inp}>_<{param}>.{project.extension}`",
    ]


def test_readme_names_the_baked_axes_and_never_the_defaults(bake: Bake) -> None:
    project, default = bake(**CUSTOM_AXES), bake()
    text = readme(project)

    assert [name for name in axis_names(project) if name not in text] == []
    for name in (f"{project.package}/pipeline.py", f"{project.package}/builder/", ANSWERS_FILE):
        assert name in text
    pages = docs(project)
    assert {"README.md", "scaling-out.md", "provenance.md", "building.md", "json.md"} < set(pages)
    assert [(page, name) for page, words in pages.items() for name in axis_names(default)
            if name in words] == []  # fmt: skip


def test_readme_explains_how_to_regenerate_and_update(bake: Bake) -> None:
    text = section(bake(**CUSTOM_AXES), "Regenerate or update the builder")
    for step in (f"--config-file {ANSWERS_FILE}", "cruft create", "cruft check", "cruft update"):
        assert step in text


@pytest.mark.parametrize("extension", ["db", "json"])
def test_make_it_yours_names_what_exists(bake: Bake, extension: str) -> None:
    """Every function, constant and ctx attribute the recipes mention is really there."""
    project = bake(artifact_extension=extension, **CUSTOM_AXES)
    recipes = section(project, "Make it yours")
    pipeline_path = project.root / project.package / "pipeline.py"
    pipeline = ast.parse(pipeline_path.read_text(encoding="utf-8"))
    defined = {node.name for node in pipeline.body if isinstance(node, ast.FunctionDef)}
    defined |= {
        target.id
        for node in pipeline.body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name)
    }

    named = set(re.findall(r"`([a-z_]+)\(\)`", recipes)) | set(
        re.findall(r"`([A-Z_]{4,})`", recipes)
    )
    assert {"discover_inputs", "estimate_cost", "PARAM_REGISTRY", "PHASES"} <= named
    assert named <= defined

    attributes = sorted(set(re.findall(r"`ctx\.([a-z_]+)", recipes)))
    assert attributes
    probe = (
        f"from {project.package}.builder.building.context import BuildContext as C;"
        " import json, sys;"
        " print(json.dumps([a for a in sys.argv[1:]"
        " if a not in C.__dataclass_fields__ and not hasattr(C, a)]))"
    )
    assert json.loads(project.python("-c", probe, *attributes).stdout) == []


@pytest.mark.slow
def test_readme_builder_commands_run_in_a_shell(bake: Bake) -> None:
    """Each builder command of the shell blocks of the README, then of docs/, whole and as
    written (pipes into GNU parallel, xargs and jq included), from the project root, on the demo.
    The bake's tests/test_docs.py runs their builder's part on its test pipeline, and checks
    every command the docs show against the builder's flags."""
    require_program("parallel", "jq")
    project = bake(command_runner="python", **CUSTOM_AXES)
    prefix = f"python -m {project.package}.builder "
    lines = [line for text in docs(project).values() for line in text.splitlines()]
    commands = [line for line in lines if line.startswith(prefix)]
    assert any(" build " in line for line in commands)
    assert any(" plan " in line for line in commands)
    project.run("bash", "-euo", "pipefail", "-c", "\n".join(commands))

    assert all(project.artifact(pid).is_file() for pid in project.permutation_ids)
    # Everything is built, so nothing is missing and a rebuild forces every permutation.
    assert (project.root / "run_missing.sh").read_text(encoding="utf-8") == ""
    rebuild = (project.root / "rebuild_all.sh").read_text(encoding="utf-8").splitlines()
    assert len(rebuild) == len(project.permutation_ids)
    assert all(line.startswith(prefix) and line.endswith(" --force") for line in rebuild)


# What belongs to the template's README: how the template was measured and how it works inside.
TEMPLATE_ONLY = (
    "benchmark",
    "manifest_bench",
    "### Measured",
    "vCPU",
    "median of",
    "template's defaults",
)


@pytest.mark.parametrize("extension", ["db", "parquet"])
def test_readme_speaks_only_of_the_project(bake: Bake, extension: str) -> None:
    pages = docs(bake(artifact_extension=extension))
    assert [(page, phrase) for page, text in pages.items() for phrase in TEMPLATE_ONLY
            if phrase.lower() in text.lower()] == []  # fmt: skip


def test_readme_says_which_commands_default_the_output_folder(bake: Bake) -> None:
    """`build` requires --output-folder, as the README and `build --help` say; the rest default."""
    project = bake(command_runner="python")
    text = " ".join(readme(project).split())
    assert (
        "`manifest` and `show` read `--output-folder DIR` (default: `output/` in the project"
        " root); `build` requires it" in text
    )
    assert "All commands take `--output-folder`" not in text

    project.builder("manifest")
    refused = project.builder("build", ok=False)
    assert refused.returncode == 2 and "--output-folder" in refused.stderr
    usage = project.builder("build", "--help").stdout
    assert " --output-folder OUTPUT_FOLDER" in usage and "[--output-folder" not in usage
    for command in ("manifest", "show"):
        assert "[--output-folder OUTPUT_FOLDER]" in project.builder(command, "--help").stdout
