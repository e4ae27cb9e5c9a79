"""``report`` through the real CLI: one self-contained HTML file of every permutation the manifest
lists, with what each build measured, why a failed one stopped and what made a built one stale;
and, as the manifest has them, the gathers, the pairs the pipeline excludes and the orphans."""

from __future__ import annotations

import json

from conftest import INPUTS, PARAMS, PHASES, Project, report_data, report_rows

from {{ cookiecutter.package_name }}.builder import axes, layout

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
    reason = f"input changed: fixture_data/{first}.txt"
    assert rows[f"{first}_{HALF}"]["stale"] == [reason]
    built = rows[f"{INPUTS[2]}_{HALF}"]
    assert built["trace"]["seconds"] > 0 and built["trace"]["peak_rss"] > 10  # MiB
    assert built["stale"] == [] and rows[f"{first}_{TRIPLE}"]["trace"]["seconds"] is None
    # Each stale reason list is kept once, and no command is kept: a stale row's --force too is
    # what its status makes it.
    columns = report_data(text)["columns"]
    assert columns["stale"]["t"] == "dict" and columns["stale"]["s"] == [[], [reason]]
    assert columns["command"] == {"t": "sparse", "i": [], "v": []}

    elsewhere = project.root / "elsewhere" / "report.html"
    project.run("report", axes.PARAM_FLAG, TRIPLE, "--to", str(elsewhere))
    assert {row[axes.PARAM_KEY] for row in report_rows(elsewhere.read_text())} == {TRIPLE}
    nothing = project.run("report", axes.PARAM_FLAG, "no*")
    assert nothing.stdout == "" and "nothing written" in nothing.stderr


def test_the_report_holds_the_gathers_the_excluded_pairs_and_the_orphans(project: Project) -> None:
    first, second = INPUTS[:2]
    by_cost = sorted(INPUTS, key=project.config["inputs"].get)
    project.configure(gathers={"total": "all", "per": axes.INPUT_AXIS})
    project.fault("count_rows", "raise", "injected", input=second)  # the gather over it fails
    project.run("build", "--output-folder", "output", code=1)
    # Built pairs now excluded: their artifacts orphans, members gone from the gathers over them.
    # One is the first cell of the grid: its column still comes first, where its cost puts it.
    gone = sorted([f"{first}_{TRIPLE}", f"{by_cost[0]}_{HALF}"])
    project.configure(
        exclude=[
            {"input": first, "param": TRIPLE, "reason": "too few rows"},
            {"input": by_cost[0], "param": HALF, "reason": "halving leaves nothing"},
        ]
    )
    listed = project.manifest()
    stale = {gather["gather_id"]: gather for gather in project.manifest("--stale")["gathers"]}

    page = project.run("report").stdout.strip()
    text = (project.output / "_report.html").read_text()
    assert page == str(project.output / "_report.html")
    rows = report_rows(text)
    assert len(rows) == listed["total"] == len(INPUTS) * len(PARAMS) - len(gone)
    assert not set(gone) & {row["permutation_id"] for row in rows}
    assert report_rows(text, "excluded") == listed["excluded"]
    assert report_rows(text, "orphans") == project.manifest("--orphans")["orphans"]
    assert [orphan["id"] for orphan in listed["orphans"]] == gone
    data = report_data(text)
    assert data["orphan_count"] == len(gone)
    assert data["inputs"] == by_cost and data["params"] == PARAMS  # as the text grid orders them

    gathered = {row["gather_id"]: row for row in report_rows(text, "gathers")}
    assert set(gathered) == {"total", *(f"per_{inp}" for inp in INPUTS)}
    assert set(stale) == {"total", f"per_{first}", f"per_{by_cost[0]}"}
    for gather in listed["gathers"]:  # stale as `manifest --stale` says, the rest as `manifest`
        expected = stale.get(gather["gather_id"], gather)
        row = gathered[gather["gather_id"]]
        assert {key: row[key] for key in expected} == expected, gather["gather_id"]
    failed = gathered[f"per_{second}"]
    assert failed["status"].startswith("FAIL") and failed["reason"] == "exception RuntimeError"
    assert "RuntimeError: injected" in failed["error_tail"] and failed["members"] is None
    assert json.loads(failed["trace"]["stopped"])["where"] == "phase 1/1 count_rows"
    total = gathered["total"]
    (reason,) = total["stale"]
    assert reason.startswith("member changed: ") and reason.count("(gone)") == len(gone)
    assert total["members"] == len(INPUTS) * len(PARAMS)  # as it was built
    assert f"{len(rows)}/{len(rows)} members done" in total["label"]
    assert total["trace"]["seconds"] > 0 and total["trace"]["host"]
    gathers_folder = layout.gathers_folder(project.output)
    assert total["output_path"] == str(layout.artifact_path(gathers_folder, "total"))
    # A selection only a gather matches (the failed one) is a report of it, as manifest lists it.
    fails = project.manifest("--status", "fail")
    assert fails["entries"] == []
    assert [gather["gather_id"] for gather in fails["gathers"]] == [f"per_{second}"]
    project.run("report", "--status", "fail", "--to", "fails.html")
    assert report_rows((project.root / "fails.html").read_text()) == []
    only = report_rows((project.root / "fails.html").read_text(), "gathers")
    assert [row["gather_id"] for row in only] == [f"per_{second}"]
