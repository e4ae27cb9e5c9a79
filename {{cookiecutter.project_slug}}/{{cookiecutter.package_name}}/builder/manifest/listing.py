"""The listing of an output folder: which artifacts are finished, from one ``scandir``."""

from __future__ import annotations

import os
from pathlib import Path

from ... import settings
from .. import layout


def finished_artifacts(
    output_dir: Path, *, sizes: bool = True, strays: set[str] | None = None
) -> dict[str, int | None]:
    """Each finished artifact's permutation id, from one listing of the output folder, and its size.

    A size costs a ``stat`` per artifact, half the time of a 100,000-permutation manifest, so
    without ``sizes`` (for outputs that show none) each size is None. The folder is listed through
    a descriptor, so that each ``stat`` resolves one name rather than the whole path again. What is
    named like an artifact but is no file (a folder) goes to ``strays``.
    """
    suffix = "." + settings.ARTIFACT_EXTENSION
    cut = -len(suffix)
    try:
        folder = os.open(output_dir, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise layout.unreadable(output_dir, error) from None
    found: dict[str, int | None] = {}
    try:
        with os.scandir(folder) as listing:
            for item in listing:
                if not item.name.endswith(suffix):
                    continue
                if item.is_file():
                    found[item.name[:cut]] = item.stat().st_size if sizes else None
                elif strays is not None:
                    strays.add(item.name[:cut])
    except OSError as error:
        raise layout.unreadable(output_dir, error) from None
    finally:
        os.close(folder)
    return found


def not_an_artifact(path: Path) -> str | None:
    """What is wrong with what stands at an artifact's path, if it is no file; None if it is one
    (or nothing is there)."""
    if path.is_file() or not os.path.lexists(path):
        return None
    what = "a folder" if path.is_dir() else "not a file"
    return f"{path} is {what}, not an artifact; remove it"
