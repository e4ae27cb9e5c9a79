"""Learning from what builds measured, through the real CLI: ``build`` goes cheapest first by the
measured times of each parameter, ``manifest --measured`` shows estimated against measured, and
``plan --learn`` sizes memory and time from history, capped by what the pipeline declares."""

from __future__ import annotations

import json
import re

import pytest
from conftest import DEFAULT_CONFIG, PARAMS, PHASES, Project, plan_ids, submissions

from {{ cookiecutter.package_name }}.builder import axes
from {{ cookiecutter.package_name }}.builder.engines import sizing
from {{ cookiecutter.package_name }}.builder.engines.resources import mebibytes
from {{ cookiecutter.package_name }}.builder.manifest.history import Estimator, Fit

HALF, DOUBLE, TRIPLE = PARAMS  # the registry's costs: 1, 2, 3


def cheapest_input(project: Project) -> str:
    rows: dict[str, int] = project.config["inputs"]
    return min(rows, key=lambda inp: rows[inp])


def test_measured_times_reorder_a_build_and_show_beside_the_estimates(project: Project) -> None:
    """The registry says HALF is the cheapest parameter; its builds measure the slowest."""
    project.fault(PHASES[1], "sleep", 0.2, param=HALF)
    first = cheapest_input(project)
    project.run("build", "--output-folder", "output", axes.INPUT_FLAG, first)

    estimated = project.manifest("--measured")["by_id"]
    assert estimated[f"{first}_{HALF}"]["measured"]["seconds"] >= 0.2
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


def learned_sets(project: Project, *flags: str) -> dict[str, tuple[list[str], str]]:
    """``plan --slurm`` with ``flags``: per parameter, its set's sbatch options and header note
    (parameters may share a set)."""
    text = project.run("plan", "--slurm", *flags).stdout
    notes = dict(re.findall(r"^#   (plan\d+): .*?(?: \[(.*)\])?$", text, re.MULTILINE))
    plans = {path: name for name, path in re.findall(r"^(plan\d+)=(.+)$", text, re.MULTILINE)}
    found: dict[str, set[tuple[tuple[str, ...], str]]] = {}
    for array in submissions(text):
        note = notes[plans[str(array.plan)]]
        for pid in plan_ids(array.plan):
            found.setdefault(pid.split("_", 1)[1], set()).add((tuple(array.options), note))
    assert all(len(sets) == 1 for sets in found.values()), found
    return {param: (list(options), note) for param, ((options, note),) in found.items()}


def test_plan_learn_sizes_memory_and_time_from_history_under_the_declared_cap(
    project: Project,
) -> None:
    """DOUBLE's and TRIPLE's builds hold 200 MiB; HALF declares far more than it needs, DOUBLE
    less, TRIPLE nothing."""
    registry = {**DEFAULT_CONFIG["registry"]}
    registry[HALF] = {**registry[HALF], "resources": {"mem": "2G", "time": "1:00:00"}}
    registry[DOUBLE] = {**registry[DOUBLE], "resources": {"mem": "160M"}}
    project.configure(registry=registry)
    for heavy in (DOUBLE, TRIPLE):
        project.fault(PHASES[1], "allocate", [200, 0.1], param=heavy)
    project.run("build", "--output-folder", "output")

    declared = learned_sets(project)
    assert "--mem=2G" in declared[HALF][0] and declared[HALF][1] == ""
    learned = learned_sets(project, "--learn")
    half, double, triple = (learned[param] for param in PARAMS)
    assert "--mem=64M" in half[0] and "--time=0:01:00" in half[0], half
    assert half[1] == "mem and time learned"
    assert "--mem=160M" in double[0], double  # learned, 256M or so, is more: the cap holds
    assert double[1] == "mem declared, the cap (learned is more); time learned", double
    mem = next(option for option in triple[0] if option.startswith("--mem="))
    assert 200 < mebibytes(mem[len("--mem=") :]) < 400 and triple[1] == "mem and time learned"
    flagged = learned_sets(project, "--learn", "--mem", "3G")
    assert all("--mem=3G" in options for options, _ in flagged.values())
    assert flagged[HALF][1] == "mem given by a flag; time learned"


def test_an_under_estimate_grows_the_headroom_and_the_ladder_rounds_up() -> None:
    points = [(cost, 100.0 + cost) for cost in (10.0, 20.0, 40.0)]
    once, twice = sizing.learn(points, 0), sizing.learn(points, 1)
    assert once is not None and twice is not None
    assert once.at(20) == pytest.approx(120 * 1.1) and twice.at(20) == pytest.approx(120 * 1.65)
    assert sizing.learn(points[:2], 0) is None  # too few builds: the declared value stands
    ladder = [sizing.memory_text(mib) for mib in (1, 65, 100, 129, 1000, 1025, 5000)]
    assert ladder == ["64M", "80M", "112M", "160M", "1G", "1280M", "5G"]
    assert [sizing.time_text(s) for s in (1, 61, 400, 5000)] == [
        "0:01:00",
        "0:02:00",
        "0:10:00",
        "1:30:00",
    ]
