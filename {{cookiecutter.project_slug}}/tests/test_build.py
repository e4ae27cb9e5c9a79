"""The staged build lifecycle through the real CLI: atomic success, kept failures, resume."""

from __future__ import annotations

import pytest
from conftest import Project, assert_valid_artifact, needs_demo_writer

from {{ cookiecutter.package_name }} import pipeline
from {{ cookiecutter.package_name }}.builder import axes

PHASES = [phase.__name__ for phase in pipeline.PHASES]
INPUT = pipeline.discover_inputs()[0]
PARAM = next(iter(pipeline.PARAM_REGISTRY))
PERMUTATION = f"{INPUT}_{PARAM}"
BUILD_ONE = ("build", "--output-folder", "output", axes.INPUT_FLAG, INPUT, axes.PARAM_FLAG, PARAM)


def info_log(project: Project) -> str:
    return (project.stage(PERMUTATION) / f"{PERMUTATION}.info.log").read_text()


@needs_demo_writer
def test_success_moves_the_artifact_and_removes_staging(project: Project) -> None:
    result = project.run(*BUILD_ONE)
    assert_valid_artifact(project.artifact(PERMUTATION))
    assert not project.stage(PERMUTATION).exists()
    assert f"phase {len(PHASES)}/{len(PHASES)} {PHASES[-1]}" in result.stderr
    assert result.stdout == ""


@needs_demo_writer
@pytest.mark.parametrize("failing", range(len(PHASES)), ids=PHASES)
def test_a_failing_phase_keeps_staging_and_a_rerun_resumes(project: Project, failing: int) -> None:
    phase = PHASES[failing]
    project.insert_in_phase(phase, f'raise RuntimeError("injected failure in {phase}")')
    result = project.run(*BUILD_ONE, code=1)
    error_log = project.stage(PERMUTATION) / f"{PERMUTATION}.error.log"
    assert f"phase {failing + 1}/{len(PHASES)} {phase} failed" in result.stderr
    assert str(error_log) in result.stderr
    assert not project.artifact(PERMUTATION).exists()
    errors = error_log.read_text()
    assert f"injected failure in {phase}" in errors and "Traceback" in errors

    entry = project.manifest()["by_id"][PERMUTATION]
    assert entry["status"] == f"FAIL [{failing + 1}/{len(PHASES)}] {phase}"
    assert f"injected failure in {phase}" in entry["error"]
    assert f"[FAIL] {PERMUTATION}" in project.run("manifest").stdout

    project.restore_pipeline()
    project.run(*BUILD_ONE)
    assert_valid_artifact(project.artifact(PERMUTATION))
    assert not project.stage(PERMUTATION).exists()


@needs_demo_writer
def test_resume_skips_completed_phases(project: Project) -> None:
    project.insert_in_phase(PHASES[-1], 'raise RuntimeError("late failure")')
    project.run(*BUILD_ONE, code=1)
    project.restore_pipeline()
    project.insert_in_phase(PHASES[0], 'raise AssertionError("a completed phase ran again")')
    project.run(*BUILD_ONE)  # would fail if phase 1 ran again
    assert_valid_artifact(project.artifact(PERMUTATION))


@needs_demo_writer
def test_force_after_failure_starts_afresh(project: Project) -> None:
    project.insert_in_phase(PHASES[-1], 'raise RuntimeError("late failure")')
    project.run(*BUILD_ONE, code=1)
    project.restore_pipeline()
    marker = 'open("phase-one-ran", "w").close()'
    project.insert_in_phase(PHASES[0], marker)
    project.run(*BUILD_ONE, "--force")
    assert (project.root / "phase-one-ran").exists()
    assert_valid_artifact(project.artifact(PERMUTATION))


@needs_demo_writer
def test_force_on_a_done_artifact_rebuilds_it(project: Project) -> None:
    project.run(*BUILD_ONE)
    before = project.artifact(PERMUTATION).stat().st_mtime_ns
    project.run(*BUILD_ONE, "--force")
    assert project.artifact(PERMUTATION).stat().st_mtime_ns != before
    assert_valid_artifact(project.artifact(PERMUTATION))


@needs_demo_writer
def test_a_failure_does_not_stop_the_other_builds(project: Project) -> None:
    project.insert_in_phase(
        PHASES[1], f'assert ctx.input_id != "{INPUT}", "this input always fails"'
    )
    result = project.run("build", "--output-folder", "output", code=1)
    failed = {f"{INPUT}_{p}" for p in pipeline.PARAM_REGISTRY}
    for permutation_id in failed:
        assert f"error: {permutation_id} phase 2/{len(PHASES)}" in result.stderr
    manifest = project.manifest()
    assert {e["permutation_id"] for e in manifest["entries"] if not e["done"]} == failed
    assert f"{len(failed)} failed" in result.stderr


@needs_demo_writer
def test_progress_that_no_longer_matches_the_phases_is_refused(project: Project) -> None:
    project.insert_in_phase(PHASES[-1], 'raise RuntimeError("late failure")')
    project.run(*BUILD_ONE, code=1)
    project.restore_pipeline()
    source = project.pipeline.read_text().replace(f"def {PHASES[0]}(", "def renamed_phase(")
    project.pipeline.write_text(source.replace(f"[{PHASES[0]},", "[renamed_phase,"))
    result = project.run(*BUILD_ONE, code=1)
    assert "rerun with --force" in result.stderr
    project.run(*BUILD_ONE, "--force")
    assert_valid_artifact(project.artifact(PERMUTATION))
