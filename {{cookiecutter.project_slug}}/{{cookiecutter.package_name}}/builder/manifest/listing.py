"""The listing of an output folder: which artifacts are finished, from one ``scandir``."""

from __future__ import annotations

import os
from pathlib import Path

from ... import settings
from .. import layout


def finished_artifacts(output_dir: Path, *, sizes: bool = True) -> dict[str, int | None]:
    """Each finished artifact's permutation id, from one listing of the output folder, and its size.

    A size costs a ``stat`` per artifact, half the time of a 100,000-permutation manifest, so
    without ``sizes`` (for outputs that show none) each size is None. The folder is listed through
    a descriptor, so that each ``stat`` resolves one name rather than the whole path again.
    """
    suffix = "." + settings.ARTIFACT_EXTENSION
    cut = -len(suffix)
    try:
        folder = os.open(output_dir, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise layout.unreadable(output_dir, error) from None
    try:
        with os.scandir(folder) as listing:
            return {
                item.name[:cut]: item.stat().st_size if sizes else None
                for item in listing
                if item.name.endswith(suffix) and item.is_file()
            }
    except OSError as error:
        raise layout.unreadable(output_dir, error) from None
    finally:
        os.close(folder)
