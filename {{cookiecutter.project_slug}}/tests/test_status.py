"""The one status model through the real CLI: every view agrees, and every state has a way out.

Table (header and row), JSON, grid, ``--status`` and ``build`` read one status per permutation;
each test walks a history that once made them disagree (README: "Build status").
"""

from __future__ import annotations

import signal

import pytest
from conftest import (
    BUILD_ONE,
    INPUT,
    PARAM,
    PERMUTATION,
    PHASES,
    Project,
    parse_grid,
)

from {{ cookiecutter.package_name }}.builder import layout, status

SYMBOLS = {"DONE": "#", "REDO": "R", "MISS": ".", "BUILD": "B", "FAIL": "F"}


def assert_everywhere(project: Project, state: str) -> dict[str, object]:
    """The permutation is in ``state`` in the table, the JSON and the grid; counts agree."""
    table = project.run("manifest").stdout
    rows = [line for line in table.splitlines() if line.startswith("  [")]
    row = next(line for line in rows if f"] {PERMUTATION} " in line)
    assert row.startswith(f"  [{state}] "), row
    done_rows = sum(line.startswith(("  [DONE]", "  [REDO]", "  [STALE]")) for line in rows)
    assert f"=== Manifest ({done_rows}/{len(rows)}) ===" in table
    document = project.manifest()
    entry = document["by_id"][PERMUTATION]
    assert entry["status"].split()[0] == state and entry["done"] is (state in ("DONE", "REDO"))
    assert document["done"] == done_rows
    grid = parse_grid(project.run("manifest", "--grid").stdout)
    assert grid.cell(INPUT, PARAM) == SYMBOLS[state]
    assert f"({done_rows}/{len(rows)} done)" in grid.title
    return dict(entry)


def selected(project: Project, *flags: str) -> list[str]:
    return [e["permutation_id"] for e in project.manifest(*flags)["entries"]]


def test_a_failed_forced_rebuild_is_redo_and_plain_build_resumes_it(project: Project) -> None:
    project.run(*BUILD_ONE)
    project.fault(PHASES[-1], "raise", "injected failure")
    project.run(*BUILD_ONE, "--force", code=1)
    entry = assert_everywhere(project, "REDO")
    assert "injected failure" in str(entry["error"])
    assert selected(project, "--status", "fail") == [PERMUTATION]
    assert PERMUTATION in selected(project, "--done")
    assert "REDO" in project.run("show", PERMUTATION).stdout

    project.clear_faults()
    result = project.run(*BUILD_ONE)  # the same command, without --force: never "is done"
    assert "is done" not in result.stderr
    assert_everywhere(project, "DONE")
    assert not project.stage(PERMUTATION).exists()


def test_an_interrupted_forced_rebuild_is_redo_and_build_resumes_it(project: Project) -> None:
    project.run(*BUILD_ONE)
    block = project.block_in_phase(PHASES[1])
    builder = project.start(*BUILD_ONE, "--force")
    block.wait_until_reached(builder)
    entry = assert_everywhere(project, "REDO")  # a live rebuild over the artifact
    assert entry["error"] is None and "rebuilding" in project.run("manifest").stdout
    assert selected(project, "--status", "build") == [PERMUTATION]
    builder.send_signal(signal.SIGINT)
    project.finish(builder, code=130)
    entry = assert_everywhere(project, "REDO")
    assert "interrupted" in str(entry["error"])
    assert selected(project, "--status", "fail") == [PERMUTATION]

    project.clear_faults()
    result = project.run("build", "--output-folder", "output")  # what is not done, REDO too
    assert "is done" not in result.stderr and f"{PERMUTATION}" in result.stderr
    assert_everywhere(project, "DONE")


def test_a_build_killed_after_its_move_is_done_and_build_clears_the_stage(
    project: Project,
) -> None:
    """kill -9 between the move into place and the stage's removal: a stage whose lock record
    says published, its staged artifact still there, beside the final artifact."""
    project.run(*BUILD_ONE)
    stage = project.stage(PERMUTATION)
    stage.mkdir(parents=True)
    total = len(PHASES)
    record = f"holder: pid 1 on host\nphase: [{total}/{total}] {status.PUBLISHED}\n"
    layout.lock_file(stage, PERMUTATION).write_text(record)
    (stage / f"{PERMUTATION}.info.log").write_text("log\n")
    (stage / layout.artifact_name(PERMUTATION)).write_bytes(b"staged")
    assert_everywhere(project, "DONE")
    assert selected(project, "--status", "fail") == []

    result = project.run(*BUILD_ONE)
    assert "is done" in result.stderr
    assert not stage.exists()  # the leftover stage is cleared
    assert_everywhere(project, "DONE")


def test_a_stage_with_its_staged_artifact_beside_a_final_one_is_a_pending_rebuild(
    project: Project,
) -> None:
    """Killed while finishing, before the move: the rebuild is pending."""
    project.artifact(PERMUTATION).parent.mkdir(parents=True)
    project.artifact(PERMUTATION).write_bytes(b"old")
    stage = project.stage(PERMUTATION)
    stage.mkdir(parents=True)
    layout.lock_file(stage, PERMUTATION).write_text(f"phase: [3/3] {'finishing'}\n")
    (stage / layout.artifact_name(PERMUTATION)).write_bytes(b"new")
    assert_everywhere(project, "REDO")
    project.artifact(PERMUTATION).unlink()
    assert_everywhere(project, "FAIL")


@pytest.mark.parametrize(
    ("entry_status", "error", "done", "names"),
    [
        ("MISS", None, False, {"missing"}),
        ("DONE", None, True, {"done"}),
        ("STALE", None, True, {"done", "stale"}),
        ("BUILD [1/3] load", None, False, {"missing", "build"}),
        ("FAIL [2/3] fit", "ValueError: x", False, {"missing", "fail"}),
        ("REDO [2/3] fit", None, True, {"done", "build"}),
        ("REDO [2/3] fit", "ValueError: x", True, {"done", "fail"}),
    ],
)
def test_each_state_answers_to_its_status_names(
    entry_status: str, error: str | None, done: bool, names: set[str]
) -> None:
    """What ``--status NAME`` selects, state by state (the README's status table)."""
    assert status.names_of(entry_status, error, done) == names
