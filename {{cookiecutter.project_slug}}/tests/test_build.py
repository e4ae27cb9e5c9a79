"""The staged build lifecycle through the real CLI: atomic success, kept failures, resume."""

from __future__ import annotations

import re

import pytest
from conftest import (
    BUILD_ONE,
    INPUT,
    PARAMS,
    PERMUTATION,
    PHASES,
    Project,
    assert_valid_artifact,
)


def test_success_moves_the_artifact_and_removes_staging(project: Project) -> None:
    result = project.run(*BUILD_ONE)
    assert_valid_artifact(project.artifact(PERMUTATION))
    assert not (project.output / "_build").exists()  # nor an empty _build/ left behind
    # stderr: one line as each phase starts and one as it ends, with its duration; stdout: nothing
    for number, phase in enumerate(PHASES, 1):
        assert f"{PERMUTATION}: phase {number}/{len(PHASES)} {phase}: started\n" in result.stderr
        done = rf"{PERMUTATION}: phase {number}/{len(PHASES)} {phase}: done in \d+\.\d\ds"
        assert re.search(done, result.stderr), result.stderr
    assert len(result.stderr.splitlines()) == 2 * len(PHASES) + 1
    assert result.stdout == ""


@pytest.mark.parametrize("failing", range(len(PHASES)), ids=PHASES)
def test_a_failing_phase_keeps_staging_and_a_rerun_resumes(project: Project, failing: int) -> None:
    phase = PHASES[failing]
    project.fault(phase, "raise", f"injected failure in {phase}")
    result = project.run(*BUILD_ONE, code=1)
    error_log = project.stage(PERMUTATION) / f"{PERMUTATION}.error.log"
    assert f"phase {failing + 1}/{len(PHASES)} {phase} failed" in result.stderr
    assert str(error_log) in result.stderr
    assert not project.artifact(PERMUTATION).exists()
    # The error log alone says what failed, where, and shows the phase's own traceback.
    errors = error_log.read_text()
    failed = f"phase {failing + 1}/{len(PHASES)} {phase} failed: RuntimeError: injected failure"
    assert f" [ERROR] {failed} in {phase}\nTraceback" in errors
    assert re.search(rf'File ".*pipeline\.py", line \d+, in {phase}\n', errors), errors

    entry = project.manifest()["by_id"][PERMUTATION]
    assert entry["status"] == f"FAIL [{failing + 1}/{len(PHASES)}] {phase}"
    assert f"injected failure in {phase}" in entry["error"]
    assert f"[FAIL] {PERMUTATION}" in project.run("manifest").stdout

    project.clear_faults()
    project.run(*BUILD_ONE)
    assert_valid_artifact(project.artifact(PERMUTATION))
    assert not project.stage(PERMUTATION).exists()


def test_resume_skips_completed_phases_and_the_info_log_says_so(project: Project) -> None:
    project.fault(PHASES[-1], "raise", "late failure")
    project.run(*BUILD_ONE, code=1)
    for number, phase in enumerate(PHASES[:-1], 1):  # start, end, duration and the summary
        done = rf" \[INFO\] phase {number}/{len(PHASES)} {phase}: done in \d+\.\d\ds \(.+\)\n"
        assert re.search(done, project.log("info")), project.log("info")
    project.fault(PHASES[0], "raise", "a completed phase ran again")
    result = project.run(*BUILD_ONE, code=1)  # fails at the last phase only, once more
    assert "late failure" in result.stderr and "ran again" not in result.stderr
    for number, phase in enumerate(PHASES[:-1], 1):
        assert project.log("info").count(f"phase {number}/{len(PHASES)} {phase}: skipped") == 1
    project.clear_faults()
    project.run(*BUILD_ONE)
    assert_valid_artifact(project.artifact(PERMUTATION))


def test_force_after_failure_starts_afresh(project: Project) -> None:
    project.fault(PHASES[-1], "raise", "late failure")
    project.run(*BUILD_ONE, code=1)
    project.clear_faults()
    ran = project.root / "phase-one-ran"
    project.fault(PHASES[0], "note", str(ran))
    project.run(*BUILD_ONE, "--force")
    assert ran.exists()
    assert_valid_artifact(project.artifact(PERMUTATION))


def test_force_on_a_done_artifact_rebuilds_it(project: Project) -> None:
    project.run(*BUILD_ONE)
    before = project.artifact(PERMUTATION).stat().st_mtime_ns
    project.run(*BUILD_ONE, "--force")
    assert project.artifact(PERMUTATION).stat().st_mtime_ns != before
    assert_valid_artifact(project.artifact(PERMUTATION))


def test_a_failure_does_not_stop_the_other_builds(project: Project) -> None:
    project.fault(PHASES[1], "raise", "this input always fails", input=INPUT)
    result = project.run("build", "--output-folder", "output", code=1)
    failed = {f"{INPUT}_{p}" for p in PARAMS}
    for permutation_id in failed:
        assert f"error: {permutation_id} phase 2/{len(PHASES)}" in result.stderr
    manifest = project.manifest()
    assert {e["permutation_id"] for e in manifest["entries"] if not e["done"]} == failed
    assert f"{len(failed)} failed" in result.stderr


def test_resume_after_the_phases_changed_starts_over(project: Project) -> None:
    project.fault(PHASES[-1], "raise", "late failure")
    project.run(*BUILD_ONE, code=1)
    project.clear_faults()
    # The test pipeline's copy renames its first phase, as a user's edit of theirs could.
    source = project.pipeline.read_text().replace(f"def {PHASES[0]}(", "def renamed_phase(")
    project.pipeline.write_text(source.replace(f"[{PHASES[0]},", "[renamed_phase,"))
    result = project.run(*BUILD_ONE)
    # The list of phases changed, which every phase's build depends on: all run again.
    assert f"phase 1/3 {PHASES[0]} ran other code (code changed:" in result.stderr
    assert f"{PHASES[0]} ({project.pipeline.name}, gone)" in result.stderr
    assert "running again from it" in result.stderr
    assert "skipped" not in result.stderr  # no phase of the old code is trusted
    assert_valid_artifact(project.artifact(PERMUTATION))
