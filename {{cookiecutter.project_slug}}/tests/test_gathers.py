"""Gathers: aggregates over the done artifacts, built after them and stale when a member changes,
appears or goes away, with rows of their own in every view, through the real CLI (docs/results.md:
"Gathers"); and the one-line errors of a gather or an exclusion declared wrongly."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import INPUTS, PARAMS, Project, assert_valid_artifact, parse_grid

from {{ cookiecutter.package_name }} import settings
from {{ cookiecutter.package_name }}.builder import axes, layout

GATHERS = {"total": "all", "per": settings.INPUT_AXIS}


def gathers(project: Project, *args: str) -> dict[str, dict[str, Any]]:
    return {g["gather_id"]: g for g in project.manifest(*args)["gathers"]}


def test_gathers_are_built_after_their_members_and_follow_them(project: Project) -> None:
    # A matrix of 2 x 2, enough for a gather over it and one per input.
    inputs, params = ["a", "b"], PARAMS[:2]
    registry = {param: project.config["registry"][param] for param in params}
    project.configure(gathers=GATHERS, inputs=dict.fromkeys(inputs, 3), registry=registry)
    result = project.run("build", "--output-folder", "output")
    ids = ["total", *(f"per_{inp}" for inp in inputs)]
    assert result.stderr.index("] total built") > result.stderr.index(f"] {inputs[-1]}_")
    assert {gid: g["status"] for gid, g in gathers(project).items()} == dict.fromkeys(ids, "DONE")
    folder = layout.gathers_folder(project.output)
    assert (folder / layout.artifact_name("total")).is_file()
    assert not (project.output / layout.artifact_name("total")).exists()
    table = project.run("manifest").stdout
    assert f"=== Gathers ({len(ids)}/{len(ids)}) ===" in table
    assert "total over every permutation: 4/4 members done" in table
    grid = project.run("manifest", "--grid").stdout
    assert f"  gathers  {len(ids)}/{len(ids)} done: total" in grid
    shown = project.run("show", "total").stdout
    assert "gather     total" in shown and "members    4," in shown
    assert project.manifest("--stale")["gathers"] == []

    # A member rebuilt: the gathers it is a member of are stale, and `build` rebuilds them.
    member = f"a_{params[0]}"
    pinned = (axes.INPUT_FLAG, "a", axes.PARAM_FLAG, params[0])
    project.run("build", "--output-folder", "output", *pinned, "--force")
    changed = [f"member changed: output/{layout.artifact_name(member)}"]
    stale = {gid: g["stale"] for gid, g in gathers(project, "--stale").items()}
    assert stale == {"total": changed, "per_a": changed}
    rebuilt = project.run("build", "--output-folder", "output").stderr
    assert "total" in rebuilt and "per_b" not in rebuilt
    assert gathers(project, "--stale") == {}

    # A member that goes away (its pair excluded), and one that appears (the exclusion lifted).
    project.configure(exclude=[{"input": "a", "param": params[0], "reason": "dropped"}])
    (reason,) = gathers(project, "--stale")["total"]["stale"]
    assert reason == f"member changed: output/{layout.artifact_name(member)} (gone)"
    project.run("build", "--output-folder", "output")  # the gathers, without it
    project.configure(exclude=[])
    (reason,) = gathers(project, "--stale")["total"]["stale"]
    assert reason == f"member changed: output/{layout.artifact_name(member)} (new)"
    assert_valid_artifact(project.artifact(member))


@pytest.mark.parametrize(
    ("config", "commands", "message"),
    [
        pytest.param(
            {"gathers": {"total": "everything"}},
            ("manifest", axes.LIST_PARAMS),
            "pipeline.GATHERS['total']['over'] is 'everything'; give 'all',",
            id="gather-over",
        ),
        pytest.param(
            {"gathers": {"../x": "all"}},
            ("manifest", axes.LIST_INPUTS),
            "pipeline.GATHERS['../x']: a gather's name must be a safe filename stem",
            id="gather-name",
        ),
        pytest.param(
            {"exclude": [{"reason": 3}]},
            ("manifest", "build"),
            f"pipeline.exclude({INPUTS[0]!r}, {PARAMS[0]!r}) returned 3; return a reason",
            id="exclude-returns",
        ),
    ],
)
def test_a_gather_or_exclusion_declared_wrongly_is_refused_in_one_line(
    project: Project, config: dict[str, object], commands: tuple[str, ...], message: str
) -> None:
    project.configure(**config)
    for command in commands:  # whatever command comes first
        args = ("--output-folder", "output") if command == "build" else ()
        result = project.run(command, *args, code=2)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], result.stderr


def test_an_excluded_pair_is_never_built_and_counted_nowhere(project: Project) -> None:
    inp, param = INPUTS[0], PARAMS[-1]
    excluded = f"{inp}_{param}"
    project.run("build", "--output-folder", "output", axes.INPUT_FLAG, inp, axes.PARAM_FLAG, param)
    project.configure(exclude=[{"input": inp, "param": param, "reason": "too few rows"}])
    document = project.manifest()
    total = len(INPUTS) * len(PARAMS) - 1
    assert document["total"] == total and excluded not in document["by_id"]
    assert document["excluded"] == [
        {
            "permutation_id": excluded,
            axes.INPUT_KEY: inp,
            axes.PARAM_KEY: param,
            "reason": "too few rows",
        }
    ]
    table = project.run("manifest").stdout
    assert f"=== Manifest (0/{total}) ===" in table and "1 pair excluded" in table
    listed = project.run("manifest", "--excluded").stdout
    assert f"[EXCL] {excluded}" in listed and "too few rows" in listed
    grid = parse_grid(project.run("manifest", "--grid").stdout)
    assert grid.cell(inp, param) == "-" and grid.row_totals[inp] == f"0/{len(PARAMS) - 1}"
    # Built before it was excluded: an orphan now.
    (orphan,) = project.manifest("--orphans")["orphans"]
    assert orphan["id"] == excluded and orphan["why"] == "excluded: too few rows"
    refused = project.run(
        "build", "--output-folder", "output", axes.INPUT_FLAG, inp, axes.PARAM_FLAG, param, code=2
    )
    assert refused.stderr.strip() == (
        f"error: {excluded} is excluded by pipeline.exclude: too few rows; it is never built"
    )
    project.run("build", "--output-folder", "output", axes.INPUT_FLAG, inp)
    assert json.loads(project.run("manifest", "--json").stdout)["done"] == len(PARAMS) - 1
    # An input whose every pair is excluded is no typo: it selects nothing.
    project.configure(exclude=[{"input": inp, "reason": "too few rows"}])
    assert "no permutation matches" in project.run("manifest", axes.INPUT_FLAG, inp).stderr
