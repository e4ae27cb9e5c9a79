"""The benchmark runs: a tiny matrix, one round, no peers (a smoke test, never a timed one)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TEMPLATE

pytestmark = pytest.mark.slow

PROGRAMS = [
    "floor: scandir + missing list",
    "floor + stat + DONE/MISS table",
    "floor + stat + the JSON document's fields",
    "`manifest`",
    "`manifest --missing --commands`",
    "`manifest --json`",
    "`build` of a done permutation",
    "`manifest --stale`, cold (no provenance cache)",
    "`manifest --stale`, warm (cache of the run before)",
    "`manifest`, with the demo's exclude() and gather",
    "`manifest --stale`, warm, with the demo's exclude() and gather",
    "heavy pure-Python phase, plain",
    "heavy pure-Python phase, as `build` runs it (code recorded)",
]


def bench(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run one of bench/'s scripts from the template's root."""
    return subprocess.run(
        [sys.executable, f"bench/{script}", *args],
        cwd=TEMPLATE,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_bench_prints_one_table_of_every_program(tmp_path: Path) -> None:
    result = bench(
        "manifest_bench.py", "--sizes", "10x2", "--repeats", "1", "--workdir", str(tmp_path)
    )
    # The bench itself refuses to time a builder that disagrees with the floor on what is missing.
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("|")]
    assert rows[0].startswith("| program | 20: wall (x floor) | 20: CPU (x floor) | 20: peak MB")
    assert [row.split(" | ")[0].removeprefix("| ") for row in rows[2:]] == PROGRAMS
    for row in rows[2:]:
        wall, cpu, peak = row.strip("| ").split(" | ")[1:]
        assert wall.endswith(("s", "x)")) and cpu and int(peak) > 0
    # Floors, builder and peers alike on the scratch virtualenv's interpreter, never this one.
    assert f"Every Python program ran on {tmp_path / 'venv' / 'bin' / 'python'}," in result.stdout
    assert "none outside the standard library" in result.stdout
    assert "target < 150 MB: met" in result.stdout  # 20 permutations fit in any machine


def test_the_measure_bench_prints_its_three_tables(tmp_path: Path) -> None:
    tiny = ["--sizes", "10x5", "--repeats", "3", "--opens", "1", "--workdir", str(tmp_path)]
    result = bench("measure_bench.py", *tiny)
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    assert sum(row.startswith("| demo's cheapest (") for row in rows) == 2
    assert any(row.startswith("| trivial (three empty phases) |") for row in rows)
    waste = {row.split(" | ")[0][2:]: row.split(" | ") for row in rows if "GiB" not in row}
    wasted = [float(waste[name][3].replace(",", "")) for name in
              ("declared only", "max of history", "learned (plan --learn)")]  # fmt: skip
    assert wasted == sorted(wasted, reverse=True), wasted  # learning wastes least
    report = [row for row in rows if row.startswith("| 50 |")]
    assert report or "not timed (no chromium" in result.stdout
