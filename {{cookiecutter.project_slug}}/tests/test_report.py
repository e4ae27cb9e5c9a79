"""``report`` through the real CLI: one self-contained HTML file of every permutation the manifest
lists, with what each build measured, why a failed one stopped and what made a built one stale."""

from __future__ import annotations

from conftest import INPUTS, PARAMS, PHASES, Project, report_rows

from {{ cookiecutter.package_name }}.builder import axes

HALF, DOUBLE, TRIPLE = PARAMS


def test_the_report_holds_every_row_its_measurements_and_its_reasons(project: Project) -> None:
    first, second = INPUTS[:2]
    project.fault(PHASES[1], "raise", "injected", input=second, param=DOUBLE)
    project.run("build", "--output-folder", "output", axes.PARAM_FLAG, f"{HALF},{DOUBLE}", code=1)
    project.input_file(first).write_text("1\n2\n3\n")  # its built artifacts become stale
    listed = project.manifest()["by_id"] | project.manifest("--stale")["by_id"]

    written = project.run("report").stdout.strip()
    page = project.output / "_report.html"
    assert written == str(page) and page.read_text().startswith("<!DOCTYPE html>")
    text = page.read_text()
    assert "<link" not in text and "src=" not in text and "@import" not in text  # self-contained
    rows = {row["permutation_id"]: row for row in report_rows(text)}
    assert set(rows) == set(listed)
    for permutation_id, row in rows.items():
        assert row["status"] == listed[permutation_id]["status"], permutation_id
    failed = rows[f"{second}_{DOUBLE}"]
    assert failed["reason"] == "exception RuntimeError"
    assert "RuntimeError: injected" in failed["error_tail"] and failed["trace"]["phases"]
    assert rows[f"{first}_{HALF}"]["stale"] == [f"input changed: fixture_data/{first}.txt"]
    built = rows[f"{INPUTS[2]}_{HALF}"]
    assert built["trace"]["seconds"] > 0 and built["trace"]["peak_rss"] > 10  # MiB
    assert built["stale"] == [] and rows[f"{first}_{TRIPLE}"]["trace"]["seconds"] is None

    elsewhere = project.root / "elsewhere" / "report.html"
    project.run("report", axes.PARAM_FLAG, TRIPLE, "--to", str(elsewhere))
    assert {row[axes.PARAM_KEY] for row in report_rows(elsewhere.read_text())} == {TRIPLE}
    nothing = project.run("report", axes.PARAM_FLAG, "no*")
    assert nothing.stdout == "" and "nothing written" in nothing.stderr
