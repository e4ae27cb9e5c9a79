"""A bake whose demo is replaced by a pipeline unlike it: its own test suite must stay green.

Users replace pipeline.py; the baked suite tests the machinery on its own test pipeline and checks
theirs only against the contract, so a pipeline with inputs named in code (no data/ folder), a
registry whose entries become keyword arguments, other tables and a slow import passes it. The
bake is the file kind's with irregular axis names (see combinations.py): its whole suite runs
here once, for the three.
"""

from __future__ import annotations

import shutil
import time

import pytest
from combinations import SWAPPED_ANSWERS
from conftest import Bake, built_own_pipeline

pytestmark = [pytest.mark.slow, pytest.mark.long]  # a whole baked suite

# Seconds the replacement takes to import, as one importing a large library at module level would.
IMPORT_SECONDS = 2

REPLACEMENT = '''"""k-nearest-neighbour scores on four datasets named in code, unlike the demo."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .builder.building.context import BuildContext

time.sleep(IMPORT_SECONDS)  # a heavy import at module level

SIZES = {"iris": 150, "wine": 178, "cancer": 569, "digits": 1797}
COST_UNIT = "rows"


@dataclass(frozen=True)
class Classifier:
    neighbours: int
    weighted: bool = False


PARAM_REGISTRY: dict[str, dict[str, Any]] = {
    "knn1": {"cost": 1, "neighbours": 1},
    "knn5": {"cost": 5, "neighbours": 5, "weighted": True},
    "knn9": {"cost": 9, "neighbours": 9},
}


def discover_inputs() -> list[str]:
    return list(SIZES)


def estimate_cost(dataset_id: str) -> int:
    return SIZES[dataset_id]


def make_points(ctx: BuildContext) -> str:
    rng = random.Random(ctx.input_id)
    points = sorted((rng.random(), rng.randrange(3)) for _ in range(SIZES[ctx.input_id]))
    ctx.write_json("points.json", points)
    return f"{len(points)} points"


def score(ctx: BuildContext) -> str:
    settings = {key: value for key, value in ctx.params.items() if key != "cost"}
    classifier = Classifier(**settings)  # an unknown registry key would fail here
    points = ctx.read_json("points.json")
    hits = sum(
        label == points[max(0, i - classifier.neighbours)][1] for i, (_, label) in enumerate(points)
    )
    ctx.write_table(["metric", "value"], [("accuracy", hits / len(points))], name="scores")
    return f"accuracy {hits / len(points):.3f}"


PHASES = [make_points, score]
'''.replace("IMPORT_SECONDS", str(IMPORT_SECONDS))


def test_the_baked_suite_holds_for_a_pipeline_unlike_the_demo(bake: Bake) -> None:
    project = bake(**SWAPPED_ANSWERS)
    (project.root / project.package / "pipeline.py").write_text(REPLACEMENT, encoding="utf-8")
    shutil.rmtree(project.root / "data")

    started = time.monotonic()
    suite = project.suite()
    seconds = time.monotonic() - started
    assert " passed" in suite.stdout and " failed" not in suite.stdout, suite.stdout
    print(f"baked suite with the replacement pipeline: {seconds:.1f} s")

    assert built_own_pipeline(suite.stdout), suite.stdout  # the replacement's cheapest
    plural = str(project.context["input_axis_plural"]).replace("_", "-")
    listed = project.builder(f"list-{plural}").stdout
    assert all(name in listed for name in ("iris", "wine", "cancer", "digits")), listed
