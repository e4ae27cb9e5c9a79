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
    per_input = not costs_pairs()  # a pipeline that costs pairs has no cost per input to show
    for inp in inputs:
        cost = f"  {estimate_cost(inp):,} {pipeline.COST_UNIT}" if per_input else ""
        print(f"{inp:<{width}}{cost}")
    return 0
