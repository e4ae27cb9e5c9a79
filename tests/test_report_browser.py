"""The baked project's HTML report, opened in a real browser (headless Chromium) on a bake with
built, failed and missing permutations: its scripts run without an error, its grid shows each
permutation of ``manifest --json`` with its letter, and a failed cell's detail says why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from browser import PROGRAMS, Browser
from conftest import Bake, require_program
from test_slurm import BakedTestPipeline

pytestmark = pytest.mark.slow

# The grid's letters (the baked builder's formats/grid.py), by status word.
SYMBOLS = {"DONE": "#", "REDO": "R", "STALE": "S", "MISS": ".", "BUILD": "B", "FAIL": "F"}
CELLS = (
    "return [...document.querySelectorAll('#gridbody .cell[data-id]')]"
    ".map(cell => [cell.dataset.id, cell.textContent])"
)


def test_the_report_opens_without_errors_and_shows_the_manifest(bake: Bake, tmp_path: Path) -> None:
    require_program(*PROGRAMS)
    project = bake()
    pipeline = BakedTestPipeline(project, tmp_path)
    half, double, _ = pipeline.module.PARAM_REGISTRY  # the third stays missing
    failing = f"{pipeline.module.discover_inputs()[0]}_{double}"
    pipeline.fail_in_second_phase(*failing.split("_", 1))
    env = pipeline.env
    builder = ("-m", f"{project.package}.builder")
    built = project.python(
        *builder,
        "build",
        "--output-folder",
        "output",
        f"--{project.context['param_axis']}-name",
        f"{half},{double}",
        ok=False,
        env=env,
    )
    assert built.returncode == 1, built.stderr
    listed = json.loads(project.python(*builder, "manifest", "--json", env=env).stdout)
    statuses = {entry["permutation_id"]: entry["status"] for entry in listed["entries"]}
    assert {status.split()[0] for status in statuses.values()} == {"DONE", "FAIL", "MISS"}

    page = Path(project.python(*builder, "report", env=env).stdout.strip())
    assert page == project.root / "output" / "_report.html"
    assert "http" not in page.read_text().replace("http-equiv", "")  # nothing from the network
    with Browser() as browser:
        browser.open(page)
        browser.wait_for("return window.reportReady")
        cells = dict(browser.run(CELLS))
        assert len(cells) == listed["total"]
        assert cells == {pid: SYMBOLS[status.split()[0]] for pid, status in statuses.items()}
        browser.click(f'#gridbody .cell[data-id="{failing}"]')
        detail = browser.run("return document.getElementById('detail').innerText")
        assert "exception RuntimeError" in detail and "RuntimeError: injected" in detail, detail
        assert f"stopped in\tphase 2/{len(pipeline.phases)} {pipeline.phases[1]}" in detail
        browser.run("document.getElementById('detail').scrollTop = 0")
        shot = browser.screenshot(tmp_path / "report.png")
        errors = [entry for entry in browser.console() if entry["level"] == "SEVERE"]
    assert errors == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"screenshot: {shot}")
