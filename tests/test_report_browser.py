"""The baked project's HTML report, opened in a real browser (headless Chromium) on a bake with
built, failed and missing permutations, a gather, a pair the pipeline excludes and orphans: its
scripts run without an error, its grid shows each permutation of ``manifest --json`` with its
letter and the excluded pair with its mark, and a click shows why a failed cell stopped, why a
pair is excluded and a gather's detail; the gathers and the orphans have sections of their own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from browser import PROGRAMS, Browser
from conftest import Bake, require_program
from test_slurm import BakedTestPipeline

pytestmark = pytest.mark.slow

# The grid's letters (the baked builder's formats/grid.py), by status word; and its excluded mark.
SYMBOLS = {"DONE": "#", "REDO": "R", "STALE": "S", "MISS": ".", "BUILD": "B", "FAIL": "F"}
EXCLUDED = "-"
CELLS = (
    "return [...document.querySelectorAll('#gridbody .cell[data-id]')]"
    ".map(cell => [cell.dataset.id, cell.textContent])"
)
DETAIL = "return document.getElementById('detail').innerText"


def text_of(browser: Browser, css: str) -> str:
    """What a reader sees of an element (nothing if it is hidden)."""
    found: str = browser.run(f"return document.querySelector({json.dumps(css)}).innerText")
    return found


def test_the_report_opens_without_errors_and_shows_the_manifest(bake: Bake, tmp_path: Path) -> None:
    require_program(*PROGRAMS)
    project = bake()
    pipeline = BakedTestPipeline(project, tmp_path)
    inputs = pipeline.module.discover_inputs()
    half, double, triple = pipeline.module.PARAM_REGISTRY
    failing, gone, excluded = f"{inputs[0]}_{double}", inputs[1], f"{inputs[2]}_{triple}"
    stale = f"{inputs[0]}_{half}"
    pipeline.fail_in_second_phase(*failing.split("_", 1))
    pipeline.configure(gathers={"total": "all"})
    env = pipeline.env
    builder = ("-m", f"{project.package}.builder")
    built = project.python(*builder, "build", "--output-folder", "output", ok=False, env=env)
    assert built.returncode == 1, built.stderr
    # Then an input removed (its artifacts orphans), one added (its pairs missing), one changed
    # (its built artifacts stale) and a built pair excluded (an orphan too): the gather over
    # every permutation is stale.
    added = {name: rows for name, rows in pipeline.config["inputs"].items() if name != gone}
    with (Path(pipeline.config["data"]) / f"{inputs[0]}.txt").open("a") as changed:
        changed.write("7\n")
    reason = "too few rows for a cubic"
    pipeline.configure(
        inputs={**added, "added": 5},
        exclude=[{"input": inputs[2], "param": triple, "reason": reason}],
    )
    listed = json.loads(project.python(*builder, "manifest", "--json", env=env).stdout)
    statuses = {entry["permutation_id"]: entry["status"] for entry in listed["entries"]}
    assert {status.split()[0] for status in statuses.values()} == {"DONE", "FAIL", "MISS"}
    assert [pair["permutation_id"] for pair in listed["excluded"]] == [excluded]
    orphans = [orphan["id"] for orphan in listed["orphans"]]
    assert len(orphans) == 4 and excluded in orphans
    found_stale = project.python(*builder, "manifest", "--stale", "--json", env=env).stdout
    stale_ids = {entry["permutation_id"] for entry in json.loads(found_stale)["entries"]}
    assert stale in stale_ids

    page = Path(project.python(*builder, "report", env=env).stdout.strip())
    assert page == project.root / "output" / "_report.html"
    assert "http" not in page.read_text().replace("http-equiv", "")  # nothing from the network
    with Browser() as browser:
        browser.open(page)
        browser.wait_for("return window.reportReady")
        counts = text_of(browser, "#counts")
        assert f"{listed['total']} permutations" in text_of(browser, "#title")
        assert "1 pair excluded by the pipeline, not counted" in counts, counts
        assert "1 gather (1 done)" in counts and "4 orphans in the output folder" in counts
        cells = dict(browser.run(CELLS))
        marks = {pid: SYMBOLS[status.split()[0]] for pid, status in statuses.items()}
        marks.update(dict.fromkeys(stale_ids, SYMBOLS["STALE"]))
        assert cells == {**marks, excluded: EXCLUDED}
        excluded_row = text_of(browser, f"#gridbody .row:has(.cell[data-id='{excluded}']) .total")
        assert excluded_row == f"{len(inputs) - 1}/{len(inputs) - 1}"  # in no total

        browser.click(f'#gridbody .cell[data-id="{excluded}"]')
        detail = browser.run(DETAIL)
        assert f"{EXCLUDED}{excluded}" in detail and f"reason\t{reason}" in detail, detail
        browser.click(f'#gridbody .cell[data-id="{failing}"]')
        detail = browser.run(DETAIL)
        assert "exception RuntimeError" in detail and "RuntimeError: injected" in detail, detail
        assert f"stopped in\tphase 2/{len(pipeline.phases)} {pipeline.phases[1]}" in detail
        browser.click(f'#gridbody .cell[data-id="{stale}"]')
        detail = browser.run(DETAIL)  # its command rebuilt from the ids, as self_commands makes it
        assert "stale\tinput changed: " in detail and f" {half} --force\n" in detail, detail

        gathers = text_of(browser, "#gathersection")
        assert "total over every permutation" in gathers and "STALE: member changed" in gathers
        browser.click('#gathers tr[data-g="0"]')
        detail = browser.run(DETAIL)
        built_from = len(pipeline.permutation_ids) - 1  # all but the failed one
        assert "Stotal" in detail and f"members\t{built_from} when built" in detail, detail
        orphaned = text_of(browser, "#orphansection")
        assert all(orphan in orphaned for orphan in orphans)
        assert f"excluded: {reason}" in orphaned and "clean --yes removes them" in orphaned

        browser.click(f'#gridbody .cell[data-id="{failing}"]')
        browser.run("document.getElementById('detail').scrollTop = 0")
        shot = browser.screenshot(tmp_path / "report.png")
        errors = [entry for entry in browser.console() if entry["level"] == "SEVERE"]
    assert errors == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"screenshot: {shot}")
