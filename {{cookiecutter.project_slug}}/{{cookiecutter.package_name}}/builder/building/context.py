"""What a build phase is handed: the permutation, its parameter entry, where to write, a log,
and how many cpus it may use."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ... import settings
from .. import layout
from ..atomic import atomic_publish
from ..manifest.gathers import Member

if TYPE_CHECKING:
    import logging
    import sqlite3

# Where schedulers tell a job how many cpus it was given, checked in this order: SLURM (set by
# --cpus-per-task, which the array files always give), Grid Engine (the slots of -pe; 1 without),
# PBS Pro and OpenPBS (select's ncpus), LSF (bsub -n).
CPU_VARIABLES = ("SLURM_CPUS_PER_TASK", "NSLOTS", "NCPUS", "LSB_DJOB_NUMPROC")

# How many builds this process's tree runs at once: `build --jobs N` sets it in its workers.
builds_at_once = 1


def allocated_cpus(environ: Mapping[str, str] = os.environ) -> int:
    """The cpus this build's job may use: its scheduler's word, else the cpus the process may run
    on (its affinity, which honours taskset and cpusets, where ``os.cpu_count`` does not)."""
    for name in CPU_VARIABLES:
        value = environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1  # macOS, Windows: no affinity to ask


def cpus_per_build() -> int:
    """A build's share of the job's cpus: the builds running at once split them, 1 at least."""
    return max(1, allocated_cpus() // builds_at_once)


@dataclass
class BuildContext:
    """One permutation's build, as its phases see it.

    ``db`` is the staged SQLite artifact for SQLite kinds (the builder opens a transaction around
    each phase and commits it with the phase's progress row, so a phase must not commit itself);
    other kinds have none, and their last phase writes ``artifact_path``; ``write_table`` writes
    rows as the artifact's kind holds a table, so a phase need not know the kind. Files a phase
    keeps for a later one belong in ``staging_dir``, written with ``write_json``/``write_text`` so
    that a phase killed half-way never leaves a half-written file that a resumed build would trust.
    ``cpus`` is this build's share of its job's cpus (see ``cpus_per_build``), to size a phase's
    thread pool or a library's threads. A gather's function gets ``members``: the done artifacts
    it is built from (``manifest/gathers.Member``: permutation id, both ids, path), which
    ``read_table`` reads whatever their kind.
    """

    permutation_id: str
    input_id: str
    param_name: str
    params: dict[str, Any]
    staging_dir: Path
    artifact_path: Path
    log: logging.Logger
    connection: sqlite3.Connection | None = None
    cpus: int = 1
    members: list[Member] = field(default_factory=list)

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
        return atomic_publish(final, text.encode("utf-8"))

    def write_json(self, target: str | Path, value: Any) -> Path:
        return self.write_text(target, json.dumps(value, indent=1) + "\n")

    def read_json(self, name: str) -> Any:
        return json.loads(self.path(name).read_text(encoding="utf-8"))

    def write_table(
        self, columns: Sequence[str], rows: Iterable[Sequence[Any]], *, name: str = "results"
    ) -> None:
        """Write rows as the artifact's kind holds a table: all of it, or nothing.

        SQLite: table ``name`` in ``db``, replaced if it exists, inside the phase's transaction
        (so no commit). Files: the whole artifact (a later call replaces it): ``.csv`` a header
        and a line per row, ``.jsonl`` an object per row, ``.json`` one ``{name: [rows]}`` object,
        ``.parquet`` a column per name (with pyarrow, the one writer that needs a library).
        """
        table = [tuple(row) for row in rows]
        for number, row in enumerate(table, 1):
            if len(row) != len(columns):
                raise ValueError(
                    f"write_table({name!r}): row {number} has {len(row)} values"
                    f" for {len(columns)} columns"
                )
        if self.connection is not None:
            _insert_table(self.connection, name, columns, table)
            return
        writer = TABLE_WRITERS.get(settings.ARTIFACT_EXTENSION.lower())
        if writer is None:
            raise ValueError(
                f"write_table cannot write .{settings.ARTIFACT_EXTENSION} artifacts (it writes"
                f" SQLite and .{', .'.join(TABLE_WRITERS)}): write ctx.artifact_path with your"
                " format's library instead"
            )
        atomic_publish(self.artifact_path, writer(name, columns, table))

    def read_table(
        self, path: Path, *, name: str = "results"
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """The columns and rows of a table ``write_table`` wrote in an artifact of this project's
        kind (a gather reads its ``members`` so); CSV gives its values as text."""
        if layout.artifact_is_sqlite():
            import sqlite3
            from urllib.parse import quote

            with contextlib.closing(
                sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True)
            ) as conn:
                cursor = conn.execute(f"SELECT * FROM {_quoted(name)}")
                return [column[0] for column in cursor.description], cursor.fetchall()
        reader = TABLE_READERS.get(settings.ARTIFACT_EXTENSION.lower())
        if reader is None:
            raise ValueError(
                f"read_table cannot read .{settings.ARTIFACT_EXTENSION} artifacts (it reads"
                f" SQLite and .{', .'.join(TABLE_READERS)}): read the member's path with your"
                " format's library instead"
            )
        return reader(name, path)


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _insert_table(
    db: sqlite3.Connection, name: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    db.execute(f"DROP TABLE IF EXISTS {_quoted(name)}")
    db.execute(f"CREATE TABLE {_quoted(name)} ({', '.join(map(_quoted, columns))})")
    marks = ", ".join("?" * len(columns))
    db.executemany(f"INSERT INTO {_quoted(name)} VALUES ({marks})", rows)


def _csv_bytes(name: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> bytes:
    import csv
    import io

    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return text.getvalue().encode("utf-8")


def _jsonl_bytes(name: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> bytes:
    lines = [json.dumps(dict(zip(columns, row, strict=True))) + "\n" for row in rows]
    return "".join(lines).encode("utf-8")


def _json_bytes(name: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> bytes:
    objects = [dict(zip(columns, row, strict=True)) for row in rows]
    return (json.dumps({name: objects}, indent=1) + "\n").encode("utf-8")


def _parquet_bytes(name: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> bytes:
    """A Parquet file of one column per name, each typed by pyarrow from its values. pyarrow is
    imported here only: a project baked for .parquet declares it, and no other kind needs it."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ModuleNotFoundError(
            "write_table writes .parquet artifacts with pyarrow, which is not installed here:"
            " pip install pyarrow (pyproject.toml declares it; uv run installs it)"
        ) from None
    arrays = [pa.array([row[index] for row in rows]) for index in range(len(columns))]
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_arrays(arrays, names=list(columns)), sink)
    return bytes(sink.getvalue().to_pybytes())


def _csv_table(name: str, path: Path) -> tuple[list[str], list[tuple[Any, ...]]]:
    import csv

    with open(path, newline="", encoding="utf-8") as handle:
        header, *rows = csv.reader(handle)
    return header, [tuple(row) for row in rows]


def _objects_table(objects: list[dict[str, Any]]) -> tuple[list[str], list[tuple[Any, ...]]]:
    columns = list(objects[0]) if objects else []
    return columns, [tuple(item[column] for column in columns) for item in objects]


def _jsonl_table(name: str, path: Path) -> tuple[list[str], list[tuple[Any, ...]]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return _objects_table([json.loads(line) for line in lines if line.strip()])


def _json_table(name: str, path: Path) -> tuple[list[str], list[tuple[Any, ...]]]:
    return _objects_table(json.loads(path.read_text(encoding="utf-8"))[name])


def _parquet_table(name: str, path: Path) -> tuple[list[str], list[tuple[Any, ...]]]:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    columns = [str(column) for column in table.column_names]
    return columns, list(zip(*(table.column(c).to_pylist() for c in columns), strict=True))


# The file kinds read_table knows, by lowercase extension: each reads the artifact's whole table.
TABLE_READERS: dict[str, Callable[[str, Path], tuple[list[str], list[tuple[Any, ...]]]]] = {
    "csv": _csv_table,
    "json": _json_table,
    "jsonl": _jsonl_table,
    "parquet": _parquet_table,
}

# The file kinds write_table knows, by lowercase extension: each makes the artifact's whole bytes.
TABLE_WRITERS: dict[str, Callable[[str, Sequence[str], list[tuple[Any, ...]]], bytes]] = {
    "csv": _csv_bytes,
    "json": _json_bytes,
    "jsonl": _jsonl_bytes,
    "parquet": _parquet_bytes,
}
