"""What several commands share: the output folder's flag, and the answer when nothing is to do."""

from __future__ import annotations

import argparse
import sys

from ... import settings


def add_output_folder(parser: argparse.ArgumentParser) -> None:
    """``--output-folder``, defaulting to the project's own."""
    parser.add_argument(
        "--output-folder", help=f"default: {settings.DEFAULT_OUTPUT_FOLDER}/ in the project root"
    )


def nothing(what: str) -> int:
    """Say on stderr why nothing was done (stdout stays empty: it is data), and succeed."""
    print(what, file=sys.stderr)
    return 0
