"""``show <permutation_id>``: what a built artifact was built from and whether it is stale; or,
for a build that stopped, where and why."""

from __future__ import annotations

import argparse
import sys

from .. import layout
from ..formats.show import format_json, format_show
from ..manifest.show import load
from .shared import add_output_folder


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("permutation_id", help="an id that `manifest` lists")
    add_output_folder(parser)
    parser.add_argument("--json", action="store_true", help="print it as one JSON document")


def run(args: argparse.Namespace) -> int:
    document = load(layout.output_folder(args.output_folder), args.permutation_id)
    sys.stdout.write(format_json(document) if args.json else format_show(document))
    return 0
