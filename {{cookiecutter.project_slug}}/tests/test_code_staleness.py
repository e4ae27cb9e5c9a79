"""Staleness that follows the code each permutation ran, through the real CLI: comments count for
nothing, a dispatch table counts entry by entry, other modules of the project and libraries count,
resume goes phase by phase, and one malformed record never stops the matrix (docs/provenance.md:
"Staleness")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import (
    INPUTS,
    PARAMS,
    PHASES,
    Project,
    edit_provenance,
    parse_grid,
    provenance_file,
)

from {{ cookiecutter.package_name }} import settings
from {{ cookiecutter.package_name }}.builder import axes
from {{ cookiecutter.package_name }}.builder.manifest.fingerprints import legacy_code_fingerprint


def build(project: Project, *args: str, code: int = 0) -> str:
    return project.run("build", "--output-folder", "output", *args, code=code).stderr


def stale(project: Project) -> dict[str, list[str]]:
    """``manifest --stale --json``: the stale permutations and their reasons."""
    return {e["permutation_id"]: e["stale"] for e in project.manifest("--stale")["entries"]}


# The builds of one input are enough to tell which parameters' artifacts go stale.
INPUT = (axes.INPUT_FLAG, INPUTS[0])


def of(param: str, reasons: list[str]) -> dict[str, list[str]]:
    return {f"{INPUTS[0]}_{param}": reasons}


def test_comments_docstrings_and_formatting_make_nothing_stale(project: Project) -> None:
    build(project, *INPUT)
    project.edit_pipeline(
        '    """Scale each number by the parameter\'s ``scale``, with the function it names."""',
        "    # a comment\n    '''Another docstring.'''\n\n",
    )
    project.edit_pipeline(
        "def scale(value: float, factor: float) -> float:",
        "def scale(\n    value: float, factor: int,  # another annotation\n) -> float:",
    )
    assert stale(project) == {}


def test_a_dispatch_table_counts_entry_by_entry(project: Project) -> None:
    """A new parameter with its own function stales nothing; an edit to that function stales only
    its artifacts; re-pointing an entry stales only the artifacts that read it."""
    build(project, *INPUT)
    name = project.pipeline.name
    project.edit_pipeline(
        'TRANSFORMS = {"scale": scale}',
        'def offset(value: float, factor: float) -> float:\n    return value + factor\n\n\n'
        'TRANSFORMS = {"scale": scale, "offset": offset}',
    )
    shifted = {"cost": 4, "scale": 1, "transform": "offset"}
    project.configure(registry={**project.config["registry"], "shifted": shifted})
    assert stale(project) == {}
    build(project, *INPUT, axes.PARAM_FLAG, "shifted")
    assert stale(project) == {}

    project.edit_pipeline("return value + factor", "return value - factor")
    assert stale(project) == of("shifted", [f"code changed: offset ({name})"])
    build(project, "--stale")
    project.edit_pipeline('"scale": scale,', '"scale": offset,')
    reason = f"code changed: TRANSFORMS['scale'] ({name})"
    assert stale(project) == {f"{INPUTS[0]}_{param}": [reason] for param in PARAMS}


def test_code_in_another_module_of_the_project_counts(project: Project) -> None:
    helpers = project.root / settings.PACKAGE / "fixture_helpers.py"
    helpers.write_text(
        "WINDOW = 3\n\n\ndef note(ctx):\n    ctx.write_json('window.json', WINDOW)\n"
    )
    project.fault("transform", "call", f"{settings.PACKAGE}.fixture_helpers:note", param=PARAMS[0])
    build(project, *INPUT)
    assert stale(project) == {}
    shown = f"{settings.PACKAGE}/fixture_helpers.py"
    helpers.write_text(helpers.read_text().replace("'window.json'", "'w.json'"))
    assert stale(project) == of(PARAMS[0], [f"code changed: note ({shown})"])
    helpers.write_text(helpers.read_text().replace("WINDOW = 3", "WINDOW = 4"))
    assert stale(project) == of(PARAMS[0], [f"code changed: WINDOW ({shown}), note ({shown})"])
    helpers.write_text("WINDOW = 4\n")
    reason = f"code changed: WINDOW ({shown}), note ({shown}, gone)"
    assert stale(project) == of(PARAMS[0], [reason])


def fake_library(site: Path, version: str) -> None:
    """An installed distribution ``tinylib`` at ``version``, as pip leaves one."""
    (site / "tinylib").mkdir(parents=True, exist_ok=True)
    (site / "tinylib" / "__init__.py").write_text("VALUE = 1\n")
    info = site / "tinylib-1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: tinylib\nVersion: {version}\n")
    (info / "top_level.txt").write_text("tinylib\n")


def test_a_library_version_change_makes_the_artifacts_that_imported_it_stale(
    project: Project, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    fake_library(site, "1.0")
    project.extra_env["PYTHONPATH"] = str(site)
    user = project.root / settings.PACKAGE / "fixture_library_user.py"
    user.write_text("import tinylib\n\n\ndef use(ctx):\n    ctx.write_json('v', tinylib.VALUE)\n")
    called = f"{settings.PACKAGE}.fixture_library_user:use"
    project.fault("load_rows", "call", called, param=PARAMS[0])
    build(project, *INPUT)
    document = json.loads(project.run("show", f"{INPUTS[0]}_{PARAMS[0]}", "--json").stdout)
    assert document["provenance"]["libraries"] == {"tinylib": "1.0"}
    fake_library(site, "1.1")
    assert stale(project) == of(PARAMS[0], ["library changed: tinylib 1.0 -> 1.1"])
    project.configure(ignore_libraries=["TinyLib"])
    assert stale(project) == {}
    project.configure(ignore_libraries="*")
    assert stale(project) == {}
    project.configure(ignore_libraries=3)
    result = project.run("manifest", "--stale", code=2)
    assert result.stderr.startswith("error: pipeline.IGNORE_LIBRARIES is 3;"), result.stderr


def test_a_resume_runs_again_from_the_first_phase_whose_code_changed(project: Project) -> None:
    pinned = (axes.INPUT_FLAG, INPUTS[0], axes.PARAM_FLAG, PARAMS[0])
    project.fault(PHASES[-1], "raise", "late failure")
    build(project, *pinned, code=1)
    project.clear_faults()
    project.edit_pipeline("return value * factor", "return factor * value")
    stderr = build(project, *pinned)
    name = project.pipeline.name
    assert (
        f"phase 2/3 {PHASES[1]} ran other code (code changed: scale ({name})): running again"
        " from it" in stderr
    )
    assert f"phase 1/3 {PHASES[0]}: skipped" in stderr
    assert stale(project) == {}


def test_an_artifact_recorded_before_per_function_fingerprints(project: Project) -> None:
    """Fresh while its whole-file fingerprint holds; stale, saying so, once pipeline.py changed."""
    permutation_id = f"{INPUTS[0]}_{PARAMS[0]}"
    build(project, axes.INPUT_FLAG, INPUTS[0], axes.PARAM_FLAG, PARAMS[0])

    def old(document: dict[str, Any]) -> None:
        del document["code"], document["libraries"]
        document["pipeline"]["sha256"] = legacy_code_fingerprint()

    edit_provenance(provenance_file(project.artifact(permutation_id)), old)
    assert stale(project) == {}
    with project.pipeline.open("a") as source:
        source.write("# a comment: the old fingerprint counted every line\n")
    legacy = "recorded before per-function code fingerprints"
    reason = f"code changed: {project.pipeline.name} ({legacy})"
    assert stale(project) == {permutation_id: [reason]}


def test_a_malformed_record_makes_only_its_artifact_stale(project: Project) -> None:
    build(project, axes.INPUT_FLAG, INPUTS[0])
    broken = f"{INPUTS[0]}_{PARAMS[0]}"

    def damage(document: dict[str, Any]) -> None:
        document["code"] = "oops"  # what staleness compares (inputs: test_hostile_runs)

    edit_provenance(provenance_file(project.artifact(broken)), damage)
    assert stale(project) == {broken: ['no provenance: malformed code "oops"']}
    result = project.run("show", broken, code=2)
    assert "malformed code" in result.stderr and "Traceback" not in result.stderr


def test_a_registry_value_that_is_a_function_compares_by_its_name(project: Project) -> None:
    """Not by its repr, which names a memory address that differs in every process."""
    with project.pipeline.open("a") as source:
        source.write(f"PARAM_REGISTRY[{PARAMS[0]!r}]['helper'] = scale\n")
    build(project, axes.INPUT_FLAG, INPUTS[0], axes.PARAM_FLAG, PARAMS[0])
    assert stale(project) == {}


def test_a_stale_artifact_whose_rebuild_failed_stays_stale_in_every_view(project: Project) -> None:
    permutation_id = f"{INPUTS[0]}_{PARAMS[0]}"
    pinned = (axes.INPUT_FLAG, INPUTS[0], axes.PARAM_FLAG, PARAMS[0])
    build(project, *pinned)
    project.edit_pipeline("return value * factor", "return factor * value")
    project.fault(PHASES[-1], "raise", "injected failure")
    build(project, *pinned, "--force", code=1)
    reason = f"code changed: scale ({project.pipeline.name})"
    entry = project.manifest("--stale")["by_id"][permutation_id]
    assert entry["status"].startswith("REDO") and entry["stale"] == [reason]
    assert [e["permutation_id"] for e in project.manifest("--status", "stale")["entries"]] == [
        permutation_id
    ]
    row = project.run("manifest", "--stale").stdout
    assert f"[REDO] {permutation_id}" in row and f"stale: {reason}" in row
    grid = parse_grid(project.run("manifest", "--stale", "--grid").stdout)
    assert grid.cell(INPUTS[0], PARAMS[0]) == "R"
    shown = project.run("show", permutation_id).stdout
    assert f"STALE: {reason}; REDO" in shown
