"""Where everything lives: the project root, the output folder, each artifact, its stage and files.

Every path the builder reads or writes is made here, and nowhere else:

    <output>/<id>.<ext>                    the finished artifact
    <output>/_provenance/<id>.<ext>.json   its provenance, for non-SQLite kinds
    <output>/_provenance_cache             what ``manifest --stale`` read of provenance
    <output>/_history_cache                what learning and the report read of measurements
    <output>/_plans/<hash>.plan            a selection frozen for array tasks (``plan``)
    <output>/_gathers/                     the gathers' artifacts, laid out as here: an output
                                           folder of their own (``manifest/gathers``)
    <output>/_build/<id>/                  a permutation's stage while it is built:
        <id>.<ext>                         the staged artifact
        <id>.progress.sqlite               progress, for non-SQLite kinds
        .<id>.<ext>.finishing              the final artifact, while it is made
        <id>.lock                          the builder's lock and status record
        <id>.{debug,info,error}.log        the three logs

(``<id>``: the permutation id.) Ids start with a letter or digit, so no artifact can be named
like ``_build``, ``_plans`` or ``_provenance``: the builder's own files and folders never collide
with artifacts, and the manifest never counts them.
"""

from __future__ import annotations

import os
from pathlib import Path

from .. import settings
from .ids import UsageError

# The folder holding the package: self-commands run from here, recorded paths are relative to it.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The builder's own files and the settings: never the project's code (``code.is_project_file``).
BUILDER_FOLDER = Path(__file__).resolve().parent
SETTINGS_FILE = BUILDER_FOLDER.parent / "settings.py"
_ROOT_PREFIX = str(PROJECT_ROOT) + os.sep
# The builder as a command: the CLI's name for itself, and the start of every self-command.
SELF = f"{settings.COMMAND_RUNNER} -m {settings.PACKAGE}.builder"
# Names another pipeline file to run instead of <package>/pipeline.py (see pipeline_module).
PIPELINE_VARIABLE = f"{settings.PACKAGE.upper()}_PIPELINE"
# Set by `build` (and inherited by its workers): the project's modules load instrumented (tracing).
TRACING_VARIABLE = f"{settings.PACKAGE.upper()}_TRACING"
BUILD_FOLDER = "_build"
PROVENANCE_FOLDER = "_provenance"
PLAN_FOLDER = "_plans"
GATHER_FOLDER = "_gathers"
SQLITE_EXTENSIONS = frozenset({"db", "sqlite", "sqlite3", "db3"})
LOG_LEVELS = ("debug", "info", "error")


def artifact_is_sqlite() -> bool:
    """SQLite artifacts keep their build progress inside themselves; other kinds beside."""
    return settings.ARTIFACT_EXTENSION.lower() in SQLITE_EXTENSIONS


def output_folder(given: str | None) -> Path:
    """The output folder as an absolute path: as given (from the current folder), or the default."""
    folder = Path(given) if given else PROJECT_ROOT / settings.DEFAULT_OUTPUT_FOLDER
    return Path(os.path.abspath(folder))


def command_folder(output_dir: Path) -> str:
    """The output folder as self-commands name it: relative to the project root when inside it."""
    try:
        return str(output_dir.relative_to(PROJECT_ROOT)) or "."
    except ValueError:
        return str(output_dir)


def display_path(path: Path) -> str:
    """A path as records show it: relative to the project root when inside it."""
    absolute = os.path.abspath(path)  # text, not Path: asked once per input file by --stale
    if absolute.startswith(_ROOT_PREFIX):
        return absolute[len(_ROOT_PREFIX) :]  # POSIX paths: the builder locks with fcntl
    return "." if absolute == str(PROJECT_ROOT) else absolute


def recorded_path(shown: str) -> Path:
    """The file a record names by ``display_path``."""
    return Path(shown) if os.path.isabs(shown) else PROJECT_ROOT / shown


def artifact_name(permutation_id: str) -> str:
    return f"{permutation_id}.{settings.ARTIFACT_EXTENSION}"


def artifact_path(output_dir: Path, permutation_id: str) -> Path:
    return output_dir / artifact_name(permutation_id)


def sidecar_name(artifact_name: str) -> str:
    """Where a non-SQLite artifact's provenance lives, from the artifact's folder: in
    ``_provenance/`` beside it, named after it."""
    return f"{PROVENANCE_FOLDER}/{artifact_name}.json"


def sidecar_path(artifact: Path) -> Path:
    return artifact.parent / sidecar_name(artifact.name)


def provenance_cache_path(output_dir: Path) -> Path:
    """The provenance cache (see provenance_cache): no artifact has this name, as ids start with
    a letter or a digit, and no dot, so it never ends with an artifact's extension."""
    return output_dir / "_provenance_cache"


def history_cache_path(output_dir: Path) -> Path:
    """The measurements' cache (see manifest/history), named like the provenance cache."""
    return output_dir / "_history_cache"


def plan_path(output_dir: Path, digest: str) -> Path:
    """A plan file, named after its content: like ``_build``, the folder's name starts with '_',
    which no permutation id does, so no artifact can have it."""
    return output_dir / PLAN_FOLDER / f"{digest}.plan"


def gathers_folder(output_dir: Path) -> Path:
    """Where the gathers' artifacts, stages and provenance live: apart from the permutations', so
    that a glob over the output folder's artifacts never takes a gather for one."""
    return output_dir / GATHER_FOLDER


def staging_root(output_dir: Path) -> Path:
    return output_dir / BUILD_FOLDER


def staging_dir(output_dir: Path, permutation_id: str) -> Path:
    return output_dir / BUILD_FOLDER / permutation_id


def staged_artifact(stage: Path, permutation_id: str) -> Path:
    return stage / artifact_name(permutation_id)


def progress_file(stage: Path, permutation_id: str) -> Path:
    """The progress store of kinds that cannot hold it themselves (not SQLite)."""
    return stage / f"{permutation_id}.progress.sqlite"


def finishing_file(staged: Path) -> Path:
    """Where the final artifact is made, leaving the staged one untouched until the move."""
    return staged.with_name(f".{staged.name}.finishing")


def lock_file(stage: Path, permutation_id: str) -> Path:
    return stage / f"{permutation_id}.lock"


def log_file(stage: Path, permutation_id: str, level: str) -> Path:
    return stage / f"{permutation_id}.{level}.log"


LINK = "is a symbolic link; remove it (the builder never follows one)"
NOT_A_LOCK = "is a folder, not a lock file; remove it"


class UnsafeStage(UsageError):
    """A path the builder refuses to write through; the message says why and what to do. A build
    fails with it (exit 1); elsewhere, like any usage error, it is one line and exit 2."""


def refuse_link(path: Path) -> Path:
    """A folder or file of the builder's own under the output folder, refused if it is a link: a
    link would carry the builder's writes (and ``--force``'s deletions) outside."""
    if path.is_symlink():
        raise UnsafeStage(f"{path} {LINK}")
    return path


def unreadable(output_dir: Path, error: OSError) -> UsageError:
    """The one-line error of an output folder that cannot be listed."""
    if isinstance(error, NotADirectoryError):
        return UsageError(f"output folder '{output_dir}' is a file; give a folder")
    return UsageError(f"cannot read output folder '{output_dir}': {error.strerror}")
