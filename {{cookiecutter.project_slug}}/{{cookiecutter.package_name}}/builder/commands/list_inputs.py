"""``list-<inputs>``: the discovered ids of the first axis, with their costs."""

from __future__ import annotations

import argparse

from ..manifest.entries import costs_pairs, discover_inputs, estimate_cost
from ..pipeline_module import pipeline


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options: the ids come from the pipeline alone."""


def run(args: argparse.Namespace) -> int:
    inputs = discover_inputs()
    width = max((len(i) for i in inputs), default=0)
    for inp in inputs:  # a pipeline that costs pairs has no cost per input to show
        cost = "" if costs_pairs() else f"  {estimate_cost(inp):,} {pipeline.COST_UNIT}"
        print(f"{inp:<{width}}{cost}")
    return 0
