"""Your pipeline.py against the builder's contract: these hold for any valid pipeline.

The rest of the suite tests the machinery on the test pipeline beside this file; these are the
only tests that run yours, so they stay green whatever your inputs, registry and phases are, and
one of them builds your cheapest permutation into a temporary folder, so a pipeline that cannot
build fails the suite (`pytest -m "not pipeline_build"` leaves that build out, for a pipeline too
slow for a test).
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from numbers import Real
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import ROOT, clean_env

from {{ cookiecutter.package_name }} import settings
from {{ cookiecutter.package_name }}.builder import axes, layout


@pytest.fixture(scope="module")
def users_pipeline() -> ModuleType:
    return importlib.import_module(f"{settings.PACKAGE}.pipeline")


def run_with_users_pipeline(*args: str) -> subprocess.CompletedProcess[str]:
    """The builder's CLI in the project itself, running pipeline.py (no test pipeline)."""
    env = clean_env()
    env.pop(layout.PIPELINE_VARIABLE, None)
    result = subprocess.run(
        [sys.executable, "-m", f"{settings.PACKAGE}.builder", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"{args} exited {result.returncode}:\n{result.stderr}"
    return result


def manifest_of_users_pipeline(output: Path, *args: str) -> dict[str, Any]:
    listing = run_with_users_pipeline("manifest", "--output-folder", str(output), "--json", *args)
    document: dict[str, Any] = json.loads(listing.stdout)
    return document


def test_ids_are_safe_unique_and_make_distinct_permutations(
    users_pipeline: ModuleType, tmp_path: Path
) -> None:
    """The builder refuses unsafe, repeated or colliding ids (exit 2): the manifest must list."""
    entries = manifest_of_users_pipeline(tmp_path)["entries"]
    inputs, params = users_pipeline.discover_inputs(), list(users_pipeline.PARAM_REGISTRY)
    assert inputs and params, "the matrix is empty: no inputs or no parameters"
    assert len(entries) == len(inputs) * len(params)
    assert len({entry["permutation_id"] for entry in entries}) == len(entries)
    assert {(e[axes.INPUT_KEY], e[axes.PARAM_KEY]) for e in entries} == {
        (inp, param) for inp in inputs for param in params
    }


def is_number(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def test_costs_are_numbers(users_pipeline: ModuleType) -> None:
    for input_id in users_pipeline.discover_inputs():
        cost = users_pipeline.estimate_cost(input_id)
        assert is_number(cost), f"estimate_cost({input_id!r}) = {cost!r}, not a number"
    for name, entry in users_pipeline.PARAM_REGISTRY.items():
        assert is_number(entry.get("cost")), f"PARAM_REGISTRY[{name!r}] has no numeric 'cost'"


def test_phases_are_named_callables(users_pipeline: ModuleType) -> None:
    phases = list(users_pipeline.PHASES)
    assert phases, "PHASES is empty: a build would do nothing"
    assert all(callable(phase) for phase in phases), phases
    names = [phase.__name__ for phase in phases]
    assert len(set(names)) == len(names), f"two phases share a name: {names}"


@pytest.mark.pipeline_build
def test_the_cheapest_permutation_builds(tmp_path: Path) -> None:
    (cheapest,) = manifest_of_users_pipeline(tmp_path, "--limit", "1")["entries"]
    pinned = (axes.INPUT_FLAG, cheapest[axes.INPUT_KEY], axes.PARAM_FLAG, cheapest[axes.PARAM_KEY])
    run_with_users_pipeline("build", "--output-folder", str(tmp_path), *pinned)
    assert Path(cheapest["output_path"]).is_file()
    assert manifest_of_users_pipeline(tmp_path, "--done")["total"] == 1
