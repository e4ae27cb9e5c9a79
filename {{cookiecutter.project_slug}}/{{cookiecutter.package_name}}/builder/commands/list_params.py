"""``list-<params>``: the registry's names of the second axis, with their settings."""

from __future__ import annotations

import argparse
import json

from ..manifest.entries import param_names
from ..pipeline_module import pipeline


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options: the names come from the registry alone."""


def run(args: argparse.Namespace) -> int:
    names = param_names()
    width = max((len(n) for n in names), default=0)
    for name in names:
        print(f"{name:<{width}}  {json.dumps(pipeline.PARAM_REGISTRY[name], sort_keys=True)}")
    return 0
