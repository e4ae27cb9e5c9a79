"""The pipeline the builder runs: ``<package>.pipeline``, unless a variable names another file.

``<PACKAGE>_PIPELINE=path/to/pipeline.py`` swaps in another pipeline without touching the project's
own: the project's tests run the machinery against a test pipeline that way, and a user can try a
variant of theirs. Every process the builder starts inherits the variable (``build --jobs``
workers, GNU parallel, a SLURM task), so they all run the same pipeline.

Under ``build`` (``layout.TRACING_VARIABLE``) the pipeline and the project's other modules load
instrumented, so that each build records the code it ran (``tracing``).
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from types import ModuleType

from .. import settings
from .layout import PIPELINE_VARIABLE, TRACING_VARIABLE

# The optional name of the pipeline's resources: a key of a registry entry, and a function.
RESOURCES = "resources"


def _load_file(path: Path) -> ModuleType:
    import importlib.util

    if not path.is_file():
        print(
            f"error: {PIPELINE_VARIABLE}={str(path)!r} is not a file; name a pipeline .py file",
            file=sys.stderr,
        )
        raise SystemExit(2)
    name = f"{settings.PACKAGE}_pipeline_{path.stem}"
    loader = None
    if os.environ.get(TRACING_VARIABLE):
        from .tracing import TracingLoader

        loader = TracingLoader(name, str(path))
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    assert spec is not None and spec.loader is not None  # a .py file always has both
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look a module up by its name
    spec.loader.exec_module(module)
    return module


def _load() -> ModuleType:
    if os.environ.get(TRACING_VARIABLE):
        from . import tracing

        tracing.install()
    chosen = os.environ.get(PIPELINE_VARIABLE)
    if chosen:
        return _load_file(Path(chosen).resolve())
    return importlib.import_module(f"{settings.PACKAGE}.pipeline")


pipeline = _load()
# Its source, whose code each artifact's provenance fingerprints.
PIPELINE_FILE = Path(str(pipeline.__file__))
