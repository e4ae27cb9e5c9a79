"""``accept``: built artifacts taken as they are, their provenance brought up to today's sources
and code without a rebuild, through the real CLI (docs/provenance.md: "Accepting an artifact as
it is")."""

from __future__ import annotations

import json

from conftest import BUILD_ONE, INPUTS, PARAMS, PERMUTATION, PHASES, Project

from {{ cookiecutter.package_name }}.builder import layout

IS_SQLITE = layout.artifact_is_sqlite()


def stale(project: Project) -> dict[str, list[str]]:
    return {e["permutation_id"]: e["stale"] for e in project.manifest("--stale")["entries"]}


def test_accept_records_today_and_what_each_artifact_was_stale_for(project: Project) -> None:
    one_input = {INPUTS[0]: project.config["inputs"][INPUTS[0]]}
    project.configure(gathers={"total": "all"}, inputs=one_input)
    project.run("build", "--output-folder", "output")  # its permutations, then the gather
    built = [f"{INPUTS[0]}_{param}" for param in PARAMS]
    with project.input_file(INPUTS[0]).open("a") as data:
        data.write("999\n")
    project.edit_pipeline("return value * factor", "return factor * value")
    reasons = stale(project)[PERMUTATION]
    assert set(stale(project)) == set(built) and len(reasons) == 2

    result = project.run("accept", "--stale")
    assert f"{PERMUTATION}: accepted, stale for {'; '.join(reasons)}" in result.stderr
    # A SQLite artifact holds its provenance: accepting rewrites it, and so its gather goes too.
    gathered = 1 if IS_SQLITE else 0
    assert f"accept: {len(built) + gathered} accepted" in result.stderr
    assert stale(project) == {}
    recorded = json.loads(project.run("show", PERMUTATION, "--json").stdout)["provenance"]
    (line,) = recorded["accepted"]
    assert line.endswith(f": accepted; it was stale for {'; '.join(reasons)}")
    assert "accepted" in project.run("show", PERMUTATION).stdout
    assert project.manifest("--stale")["gathers"] == []  # up to date before: accepted too
    nothing = project.run("accept", "--stale")
    assert "nothing written" in nothing.stderr


def test_accept_refuses_what_is_not_built_or_is_being_rebuilt(project: Project) -> None:
    project.run(*BUILD_ONE)
    refused = project.run("accept", code=2)  # the whole matrix: most of it is missing
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "(MISS)" in lines[0] and "--stale" in lines[0], refused.stderr
    project.edit_pipeline("return value * factor", "return factor * value")
    block = project.block_in_phase(PHASES[1])
    builder = project.start(*BUILD_ONE, "--force")
    block.wait_until_reached(builder)
    busy = project.run("accept", "--stale", code=2)
    assert f"{PERMUTATION} (REDO" in busy.stderr
    block.open()
    project.finish(builder)
    assert stale(project) == {}
