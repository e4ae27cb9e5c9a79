"""What a build phase is handed: the permutation, its parameter entry, where to write, a log."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import atomic

if TYPE_CHECKING:
    import logging
    import sqlite3


@dataclass
class BuildContext:
    """One permutation's build, as its phases see it.

    ``db`` is the staged SQLite artifact for SQLite kinds (the builder opens a transaction around
    each phase and commits it with the phase's progress row, so a phase must not commit itself);
    other kinds have none, and their last phase writes ``artifact_path``. Files a phase keeps for a
    later one belong in ``staging_dir``, written with ``write_json``/``write_text`` so that a phase
    killed half-way never leaves a half-written file that a resumed build would trust.
    """

    permutation_id: str
    input_id: str
    param_name: str
    params: dict[str, Any]
    staging_dir: Path
    artifact_path: Path
    log: logging.Logger
    connection: sqlite3.Connection | None = None

    @property
    def db(self) -> sqlite3.Connection:
        if self.connection is None:
            raise RuntimeError(
                f"{self.artifact_path.name} is not SQLite: write ctx.artifact_path instead"
            )
        return self.connection

    def path(self, name: str) -> Path:
        """A file of this build's own in the staging dir."""
        return self.staging_dir / name

    def write_text(self, target: str | Path, text: str) -> Path:
        """Write ``text`` to a staging file (or the artifact) atomically: all of it or none."""
        final = self.path(target) if isinstance(target, str) else target
        atomic.write_text(final, text)
        return final

    def write_json(self, target: str | Path, value: Any) -> Path:
        return self.write_text(target, json.dumps(value, indent=1) + "\n")

    def read_json(self, name: str) -> Any:
        return json.loads(self.path(name).read_text(encoding="utf-8"))
