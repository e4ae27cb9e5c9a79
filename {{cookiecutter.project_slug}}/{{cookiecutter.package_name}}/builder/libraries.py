"""Libraries: the installed distributions that provide the modules the project's code imports,
and their versions, as ``importlib.metadata`` reads them (once per process)."""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Iterable, Mapping

# IGNORE_LIBRARIES = "*" in the pipeline: no library is recorded or compared.
EVERY = "*"


@functools.cache
def _providers() -> Mapping[str, list[str]]:
    """Top-level module -> the distributions that install it, read once: it lists every one.
    A distribution whose metadata cannot be read is left out, never a build's failure."""
    from importlib.metadata import packages_distributions

    try:
        return packages_distributions()
    except Exception:  # a broken *.dist-info elsewhere on the path
        return {}


@functools.cache
def version(distribution: str) -> str | None:
    """The installed version of a distribution; None if it is not installed."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed(distribution)
    except (PackageNotFoundError, ValueError, OSError):  # gone, or its metadata unreadable
        return None


def versions(modules: Iterable[str]) -> dict[str, str]:
    """The distributions providing these top-level modules and their versions; the standard
    library and modules no distribution installs (the project's own) are left out."""
    found: dict[str, str] = {}
    for top in sorted(set(modules)):
        if top in sys.stdlib_module_names:
            continue
        for distribution in _providers().get(top, []):
            installed = version(distribution)
            if installed is not None:
                found[distribution] = installed
    return dict(sorted(found.items()))


def normal(name: str) -> str:
    """A distribution's name as packaging compares them: ``Foo_Bar`` is ``foo-bar``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def ignored(setting: object) -> frozenset[str] | None:
    """The normal names ``IGNORE_LIBRARIES`` lists; None when it ignores every library."""
    if setting == EVERY:
        return None
    assert isinstance(setting, list | tuple | set | frozenset)
    return frozenset(normal(str(name)) for name in setting)


def check(setting: object) -> str | None:
    """What is wrong with an ``IGNORE_LIBRARIES`` value, or None if it is valid."""
    if setting == EVERY:
        return None
    if isinstance(setting, list | tuple | set | frozenset) and all(
        isinstance(name, str) for name in setting
    ):
        return None
    return f'give a list of distribution names, or "{EVERY}" for all'
