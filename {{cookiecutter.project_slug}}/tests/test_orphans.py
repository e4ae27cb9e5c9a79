"""Orphans and ``clean``, through the real CLI: what the output folder holds for pairs the matrix no
longer has is counted, listed and removed, never outside the output folder, never through a link,
never under a live builder's lock (docs/results.md: "Orphans and clean")."""

from __future__ import annotations

from conftest import INPUTS, PARAMS, PHASES, Project

from {{ cookiecutter.package_name }}.builder import axes, layout


def test_orphans_are_counted_listed_and_cleaned(project: Project) -> None:
    gone = INPUTS[-1]
    project.run("build", "--output-folder", "output", axes.INPUT_FLAG, gone)
    inputs = {inp: rows for inp, rows in project.config["inputs"].items() if inp != gone}
    project.configure(inputs=inputs)
    orphans = sorted(f"{gone}_{param}" for param in PARAMS)
    table = project.run("manifest").stdout
    assert f"{len(PARAMS)} orphans in the output folder: `manifest --orphans` lists them" in table
    listed = project.manifest("--orphans")["orphans"]
    assert [o["id"] for o in listed] == orphans
    assert {o["why"] for o in listed} == {"no such pair in the matrix"}
    assert f"[ORPHAN] {orphans[0]}" in project.run("manifest", "--orphans").stdout

    dry = project.run("clean")
    assert (
        sorted(dry.stdout.split()) == sorted(path for o in listed for path in o["paths"])
        and "--yes removes them" in dry.stderr
    )
    assert all(project.artifact(pid).exists() for pid in orphans)
    removed = project.run("clean", "--yes")
    assert not any(project.artifact(pid).exists() for pid in orphans)
    paths = len(PARAMS) * (1 if layout.artifact_is_sqlite() else 2)  # artifacts, sidecars
    counted = f"{len(PARAMS)} orphans" + (f" ({paths} paths)" if paths > len(PARAMS) else "")
    assert f"clean: removed {counted}" in removed.stderr
    assert project.manifest()["orphans"] == [] and "orphan" not in project.run("manifest").stdout


def test_clean_never_follows_a_link_and_leaves_a_live_builders_stage(project: Project) -> None:
    outside = project.root / "precious.txt"
    outside.write_text("keep me")
    project.output.mkdir()
    link = project.output / layout.artifact_name("ghost_x")
    link.symlink_to(outside)
    inp, param = INPUTS[0], PARAMS[0]
    block = project.block_in_phase(PHASES[1], input=inp)
    builder = project.start(
        "build", "--output-folder", "output", axes.INPUT_FLAG, inp, axes.PARAM_FLAG, param
    )
    block.wait_until_reached(builder)
    # The pair leaves the matrix while its build runs: its stage is an orphan under a live lock.
    project.configure(exclude=[{"input": inp, "param": param, "reason": "dropped"}])
    result = project.run("clean", "--yes", code=3)
    assert f"{inp}_{param}: a live builder holds its lock" in result.stderr
    assert not link.is_symlink() and outside.read_text() == "keep me"
    assert project.stage(f"{inp}_{param}").is_dir()
    block.open()
    project.finish(builder)


def test_clean_removes_failed_stages_plans_and_discarded_stages_on_request(
    project: Project,
) -> None:
    project.fault(PHASES[0], "raise", "injected failure", input=INPUTS[0], param=PARAMS[0])
    project.run("build", "--output-folder", "output", axes.INPUT_FLAG, INPUTS[0], code=1)
    failed = project.stage(f"{INPUTS[0]}_{PARAMS[0]}")
    project.run("plan", "--missing", "--slurm")
    plans = list((project.output / layout.PLAN_FOLDER).iterdir())
    discarded = layout.staging_root(project.output) / f".{INPUTS[1]}_{PARAMS[1]}.77.discarded"
    discarded.mkdir()
    assert project.run("clean").stderr.startswith("clean: nothing to remove")
    listed = project.run("clean", "--failed", "--plans", "--discarded").stdout.split()
    assert len(listed) == 2 + len(plans)
    project.run("clean", "--failed", "--plans", "--discarded", "--yes")
    assert not failed.exists() and not discarded.exists()
    assert not any(path.exists() for path in plans)
    assert project.manifest()["by_id"][f"{INPUTS[0]}_{PARAMS[0]}"]["status"] == "MISS"
