"""The pipeline the builder runs: ``<package>.pipeline``, unless a variable names another file.

``<PACKAGE>_PIPELINE=path/to/pipeline.py`` swaps in another pipeline without touching the project's
own: the project's tests run the machinery against a test pipeline that way, and a user can try a
variant of theirs. Every process the builder starts inherits the variable (``build --jobs``
workers, GNU parallel, a SLURM task), so they all run the same pipeline.

Under ``build`` (``layout.TRACING_VARIABLE``) the pipeline and the project's other modules load
instrumented, so that each build records the code it ran (``tracing``).

A pipeline that cannot be loaded, or whose settings the builder cannot use (``PHASES``,
``PARAM_REGISTRY``, ``COST_UNIT``), stops every command in one line naming the value and the rule,
before any command starts: a traceback from deep in the builder would name neither.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import NoReturn

from .. import settings
from . import axes
from .layout import PIPELINE_VARIABLE, TRACING_VARIABLE

# The optional name of the pipeline's resources: a key of a registry entry, and a function.
RESOURCES = "resources"


def _refuse(problem: str) -> NoReturn:
    """A pipeline the builder cannot run: one line, exit 2, before any command starts."""
    print(f"error: {problem}", file=sys.stderr)
    raise SystemExit(2)


def _load_file(path: Path) -> ModuleType:
    import importlib.util

    named = f"{PIPELINE_VARIABLE}={str(path)!r}"
    if not path.is_file():
        _refuse(f"{named} is not a file; name a pipeline .py file")
    name = f"{settings.PACKAGE}_pipeline_{path.stem}"
    if path.suffix != ".py":
        _refuse(f"{named} is not a Python file (.py); name a pipeline .py file")
    loader = None
    if os.environ.get(TRACING_VARIABLE):
        from .tracing import TracingLoader

        loader = TracingLoader(name, str(path))
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    assert spec is not None and spec.loader is not None  # a .py file always has both
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look a module up by its name
    try:
        spec.loader.exec_module(module)
    except SyntaxError as error:
        _refuse(f"{named} cannot be loaded: SyntaxError: {error.msg} (line {error.lineno})")
    except Exception as error:
        _refuse(f"{named} cannot be loaded: {type(error).__name__}: {error}")
    return module


def _load() -> ModuleType:
    if os.environ.get(TRACING_VARIABLE):
        from . import tracing

        tracing.install()
    chosen = os.environ.get(PIPELINE_VARIABLE)
    if chosen:
        return _load_file(Path(chosen).resolve())
    return importlib.import_module(f"{settings.PACKAGE}.pipeline")


def broken_rule(module: ModuleType) -> str | None:
    """What in a pipeline's settings the builder cannot use, as one line; None if nothing."""
    if not isinstance(getattr(module, "COST_UNIT", None), str):
        found = "missing" if not hasattr(module, "COST_UNIT") else repr(module.COST_UNIT)
        return f"pipeline.COST_UNIT is {found}; give a str, the unit of estimate_cost (e.g. 'rows')"
    phases = getattr(module, "PHASES", None)
    rule = "give a list of phase functions"
    if not isinstance(phases, list | tuple):
        return f"pipeline.PHASES is {phases!r:.60}; {rule}"
    for number, phase in enumerate(phases):
        if not (callable(phase) and isinstance(getattr(phase, "__name__", None), str)):
            return f"pipeline.PHASES[{number}] is {phase!r:.60}; {rule}"
    registry = getattr(module, "PARAM_REGISTRY", None)
    if not isinstance(registry, Mapping):
        kind = "missing" if registry is None else f"a {type(registry).__name__}"
        entries = f"each {axes.PARAM_AXIS} name -> its entry, a dict with a 'cost'"
        return f"pipeline.PARAM_REGISTRY is {kind}; give a dict of {entries}"
    for name, entry in registry.items():
        if not isinstance(entry, Mapping):
            return f"pipeline.PARAM_REGISTRY[{name!r}] is {entry!r:.60}; give a dict with a 'cost'"
    return None


pipeline = _load()
if (_broken := broken_rule(pipeline)) is not None:
    _refuse(_broken)
# Its source, whose code each artifact's provenance fingerprints.
PIPELINE_FILE = Path(str(pipeline.__file__))
