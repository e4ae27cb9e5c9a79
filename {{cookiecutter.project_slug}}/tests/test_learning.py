"""Learning from what builds measured, through the real CLI: ``build`` goes cheapest first by the
measured times of each parameter, and ``manifest --measured`` shows estimated against measured."""

from __future__ import annotations

import json

import pytest
from conftest import PARAMS, PHASES, Project

from {{ cookiecutter.package_name }}.builder import axes
from {{ cookiecutter.package_name }}.builder.manifest.history import Estimator, Fit

HALF, DOUBLE, TRIPLE = PARAMS  # the registry's costs: 1, 2, 3


def cheapest_input(project: Project) -> str:
    rows: dict[str, int] = project.config["inputs"]
    return min(rows, key=lambda inp: rows[inp])


def test_measured_times_reorder_a_build_and_show_beside_the_estimates(project: Project) -> None:
    """The registry says HALF is the cheapest parameter; its builds measure the slowest."""
    project.fault(PHASES[1], "sleep", 0.3, param=HALF)
    first = cheapest_input(project)
    project.run("build", "--output-folder", "output", axes.INPUT_FLAG, first)

    estimated = project.manifest("--measured")["by_id"]
    assert estimated[f"{first}_{HALF}"]["measured"]["seconds"] >= 0.3
    missing = [pid for pid, entry in estimated.items() if not entry["done"]]
    slow = [pid for pid in missing if pid.endswith(f"_{HALF}")]
    assert min(estimated[pid]["estimated"] for pid in slow) > max(
        estimated[pid]["estimated"] for pid in missing if pid not in slow
    )
    table = project.run("manifest", "--measured").stdout
    assert "  est " in table and ", took " in table and " CPU, peak " in table, table

    order = project.root / "order.log"
    project.fault(PHASES[0], "note", str(order))
    project.run("build", "--output-folder", "output")
    built = [line.split()[0] for line in order.read_text().splitlines()]
    assert sorted(built) == sorted(missing)
    assert built[-len(slow) :] == sorted(slow, key=built.index)  # the slow parameter last
    assert [pid.endswith(f"_{HALF}") for pid in built] == [False] * 4 + [True] * 2

    # Unmeasured, the registry's costs order it: HALF first for each input.
    fresh = project.manifest("--measured", "--output-folder", "elsewhere")["entries"]
    assert all(entry["estimated"] is None for entry in fresh)
    assert [e[axes.PARAM_KEY] for e in fresh][: len(PARAMS)] == PARAMS


def test_a_fit_is_a_fixed_time_plus_a_time_per_unit_with_guards() -> None:
    line = Fit()
    for x, y in ((1, 3.0), (2, 5.0), (3, 7.0)):
        line.add(x, y)
    assert line.line() == pytest.approx((1.0, 2.0))
    falling, once = Fit(), Fit()
    for x, y in ((1, 5.0), (3, 1.0)):
        falling.add(x, y)
    once.add(4, 2.0)
    assert falling.line() == (3.0, 0.0)  # slower with less work: a fixed time
    assert once.line() == (0.0, 0.5)  # one point: proportional
    big = Fit()  # costs in bytes: exact where sums of squares would not be
    for step in range(3):
        big.add(1e12 + 2 * step, 1.0 + step)
    assert big.moment_xy / big.moment_xx == pytest.approx(0.5)


def test_the_estimate_of_what_is_left_is_the_sum_of_each_estimate() -> None:
    def entry(inp: str, cost: int, param: str, param_cost: int) -> dict[str, object]:
        return {
            "permutation_id": f"{inp}_{param}",
            axes.INPUT_KEY: inp,
            axes.PARAM_KEY: param,
            "sort_key": (cost, param_cost, inp, param),
        }

    learned = Estimator()
    learned.add(entry("a", 10, "p", 1), 1.0)
    learned.add(entry("b", 20, "p", 1), 2.0)
    learned.add(entry("a", 10, "q", 5), 0.5)  # one cost only: the overall line, scaled
    left = [entry("c", 40, "p", 1), entry("c", 40, "q", 5), entry("d", 7, "r", 2)]
    assert learned.seconds(left[0]) == pytest.approx(4.0)
    sums: dict[str, tuple[int, float, float]] = {}
    for item in left:
        count, costs, works = sums.get(str(item[axes.PARAM_KEY]), (0, 0.0, 0.0))
        cost, param_cost = item["sort_key"][:2]  # type: ignore[index]
        sums[str(item[axes.PARAM_KEY])] = (count + 1, costs + cost, works + cost * param_cost)
    expected = sum(learned.seconds(item) or 0.0 for item in left)
    assert learned.total(sums) == pytest.approx(expected)
    assert json.dumps(Estimator().total(sums)) == "null"  # nothing measured: no estimate
