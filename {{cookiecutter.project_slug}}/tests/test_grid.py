"""`manifest --grid` through the real CLI: shape, live and failed builds, layouts, colour."""

from __future__ import annotations

import pytest
from conftest import DEFAULT_CONFIG, ESCAPE, INPUTS, PARAMS, PHASES, Project, parse_grid

from {{ cookiecutter.package_name }}.builder import axes


def test_grid_shows_done_failed_live_and_missing_cells(project: Project) -> None:
    failed, live = (INPUTS[0], PARAMS[1]), (INPUTS[1], PARAMS[0])
    project.fault(PHASES[-1], "raise", "injected failure", input=failed[0], param=failed[1])
    project.run("build", "--output-folder", "output", axes.INPUT_FLAG, INPUTS[0], code=1)
    block = project.block_in_phase(PHASES[1])  # the live build waits there until released
    builder = project.start(
        "build", "--output-folder", "output", axes.INPUT_FLAG, live[0], axes.PARAM_FLAG, live[1]
    )
    try:
        block.wait_until_reached(builder)
        grid = parse_grid(project.run("manifest", "--grid").stdout)

        expected = {(inp, param): "." for inp in INPUTS for param in PARAMS}
        expected.update({(INPUTS[0], param): "#" for param in PARAMS})
        expected[failed], expected[live] = "F", "B"
        assert sorted(grid.rows) == sorted(INPUTS) and sorted(grid.columns) == sorted(PARAMS)
        assert {(r, c): grid.cell(r, c) for r in INPUTS for c in PARAMS} == expected
        assert grid.row_totals == {
            INPUTS[0]: f"{len(PARAMS) - 1}/{len(PARAMS)}",
            **{inp: f"0/{len(PARAMS)}" for inp in INPUTS[1:]},
        }
        assert grid.column_totals == {
            p: f"{0 if p == failed[1] else 1}/{len(INPUTS)}" for p in PARAMS
        }
        assert f"({len(PARAMS) - 1}/{len(INPUTS) * len(PARAMS)} done)" in grid.title

        # A filter keeps the rows and columns holding a match, every cell with its own status.
        done_only = parse_grid(project.run("manifest", "--grid", "--done").stdout)
        assert list(done_only.rows) == [INPUTS[0]]
        assert sorted(done_only.columns) == sorted(p for p in PARAMS if p != failed[1])
        missing = parse_grid(project.run("manifest", "--grid", "--missing").stdout)
        assert sorted(missing.rows) == sorted(INPUTS) and missing.cell(*live) == "B"
        first = parse_grid(
            project.run("manifest", "--grid", "--sort", "name", "--limit", "1").stdout
        )
        assert list(first.rows) == [min(INPUTS)] and sorted(first.columns) == sorted(PARAMS)
    finally:
        block.open()
    project.finish(builder)
    assert parse_grid(project.run("manifest", "--grid").stdout).cell(*live) == "#"


def test_rows_follow_the_sort(project: Project) -> None:
    cheapest = parse_grid(project.run("manifest", "--grid").stdout)
    costs, registry = DEFAULT_CONFIG["inputs"], DEFAULT_CONFIG["registry"]
    assert list(cheapest.rows) == sorted(INPUTS, key=lambda i: (costs[i], i))
    assert cheapest.columns == sorted(PARAMS, key=lambda p: (registry[p]["cost"], p))
    by_name = parse_grid(project.run("manifest", "--grid", "--sort", "name").stdout)
    assert list(by_name.rows) == sorted(INPUTS) and by_name.columns == sorted(PARAMS)


def widen(
    project: Project, params: int, inputs: int = 0, prefix: str = "station-with-a-rather-long-name-"
) -> None:
    """Give the project ``params`` parameters and ``inputs`` more inputs named ``prefix<n>``."""
    more = {f"{prefix}{number}": 10 + number for number in range(inputs)}
    project.configure(
        registry={f"p{i:03}": {"cost": i, "scale": 1} for i in range(params)},
        inputs={**project.config["inputs"], **more},
    )


def assert_fits(text: str, width: int = 80) -> None:
    too_wide = [line for line in text.splitlines() if len(line) > width]
    assert not too_wide, f"{len(too_wide)} lines wider than {width}:\n" + "\n".join(too_wide)


def test_forty_columns_fit_eighty_characters(project: Project) -> None:
    widen(project, params=40, inputs=2)
    out = project.run("manifest", "--grid").stdout
    assert_fits(out)
    grid = parse_grid(out)
    assert not grid.pages and "transposed" not in grid.title
    assert len(grid.columns) == 40 and len(grid.rows) == len(INPUTS) + 2
    assert all(cells == "." * 40 for cells in grid.rows.values())
    assert set(grid.row_totals.values()) == {"0/40"}


def test_a_wider_grid_is_transposed_when_that_fits(project: Project) -> None:
    widen(project, params=70)
    out = project.run("manifest", "--grid").stdout
    assert_fits(out)
    grid = parse_grid(out)
    assert "transposed" in grid.title and not grid.pages
    assert len(grid.rows) == 70 and sorted(grid.columns) == sorted(INPUTS)


@pytest.mark.parametrize(("params", "inputs"), [(70, 70), (120, 300)], ids=["70x73", "120x303"])
def test_a_grid_wide_both_ways_is_paged(project: Project, params: int, inputs: int) -> None:
    widen(project, params=params, inputs=inputs, prefix="s")
    out = project.run("manifest", "--grid").stdout
    assert_fits(out)
    grid = parse_grid(out)
    assert "transposed" not in grid.title  # it would take more pages
    assert len(grid.pages) > 1 and grid.pages[0][0] == 1 and grid.pages[-1][1] == params
    assert all(a[1] + 1 == b[0] for a, b in zip(grid.pages, grid.pages[1:], strict=False))
    blocks = out.strip("\n").split("\n\n")
    assert len(blocks) == 1 + len(grid.pages) + 2  # title, one block per page, key, legend
    assert len(grid.rows) == len(INPUTS) + inputs and len(grid.columns) == params
    assert all(len(cells) == params for cells in grid.rows.values())


def test_colour_only_on_a_terminal_without_no_color(project: Project) -> None:
    coloured = project.in_terminal("manifest", "--grid")
    assert "\x1b[" in coloured
    plain = project.in_terminal("manifest", "--grid", NO_COLOR="1")
    assert "\x1b[" not in plain
    piped = project.run("manifest", "--grid").stdout
    assert "\x1b[" not in piped
    assert ESCAPE.sub("", coloured) == plain == piped


def test_a_narrow_terminal_gets_pages(project: Project) -> None:
    widen(project, params=30, inputs=30)
    out = project.in_terminal("manifest", "--grid", COLUMNS="50", NO_COLOR="1")
    assert_fits("\n\n".join(out.strip("\n").split("\n\n")[1:-2]), 50)  # the pages; not the key
    assert len(parse_grid(out).pages) > 1
    assert not parse_grid(project.run("manifest", "--grid").stdout).pages  # a pipe: 80 columns


@pytest.mark.parametrize("flag", ["--json", "--commands"])
def test_grid_is_one_of_the_output_shapes(project: Project, flag: str) -> None:
    result = project.run("manifest", "--grid", flag, code=2)
    assert "not allowed with argument" in result.stderr and result.stdout == ""
