"""The progress store of a staged build: what its completed phases were built from, and which.

Three tables: ``_build_progress`` (phase, name, completed_at), one row per completed phase;
``_build_begun`` (key, JSON value), the provenance fingerprint taken when the stage was begun, so
a resume can tell whether its completed phases still stand on today's inputs, registry entry and
code; and ``_build_open`` (phase), written first in a SQLite phase's transaction and deleted with
its progress row, so only a phase that commits on its own leaves a row there: its stage is then
started over, never resumed on top of what it committed. For SQLite artifacts the store is the
staged artifact itself, so a phase's work and its progress row commit in one transaction; other
kinds keep it in a file beside the staged artifact (``kinds`` chooses). No table reaches the final
artifact.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from typing import Any

TABLE = "_build_progress"
BEGUN = "_build_begun"
OPEN = "_build_open"


def ensure_tables(conn: sqlite3.Connection) -> None:
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {TABLE} ("
        " phase INTEGER PRIMARY KEY, name TEXT NOT NULL, completed_at TEXT NOT NULL)"
    )
    conn.execute(f"CREATE TABLE IF NOT EXISTS {BEGUN} (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute(f"CREATE TABLE IF NOT EXISTS {OPEN} (phase INTEGER PRIMARY KEY)")


def completed_phases(conn: sqlite3.Connection) -> list[tuple[int, str, str]]:
    """Rows (phase, name, completed_at) in phase order."""
    rows = conn.execute(f"SELECT phase, name, completed_at FROM {TABLE} ORDER BY phase")
    return [(int(phase), str(name), str(at)) for phase, name, at in rows]


def open_phase(conn: sqlite3.Connection, phase: int) -> None:
    """Inside a phase's transaction: a row that survives only if the phase commits on its own."""
    conn.execute(f"INSERT OR REPLACE INTO {OPEN} (phase) VALUES (?)", (phase,))


def committed_on_its_own(conn: sqlite3.Connection) -> int | None:
    """The phase whose writes were committed by the phase itself, if any; its stage is unsound."""
    row = conn.execute(f"SELECT min(phase) FROM {OPEN}").fetchone()
    return None if row is None or row[0] is None else int(row[0])


def record_phase(conn: sqlite3.Connection, phase: int, name: str) -> None:
    conn.execute(f"DELETE FROM {OPEN} WHERE phase = ?", (phase,))
    conn.execute(
        f"INSERT INTO {TABLE} (phase, name, completed_at) VALUES (?, ?, ?)",
        (phase, name, datetime.now(timezone.utc).isoformat(timespec="seconds")),
    )


def begun(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """The fingerprint recorded when this stage was begun; None if it has none."""
    rows = conn.execute(f"SELECT key, value FROM {BEGUN}").fetchall()
    return {str(key): json.loads(value) for key, value in rows} or None


def record_begun(conn: sqlite3.Connection, fingerprint: dict[str, Any]) -> None:
    """Start the stage afresh from ``fingerprint``: no phase is completed any more."""
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(f"DELETE FROM {TABLE}")
    conn.execute(f"DELETE FROM {BEGUN}")
    conn.execute(f"DELETE FROM {OPEN}")
    conn.executemany(
        f"INSERT INTO {BEGUN} (key, value) VALUES (?, ?)",
        [(key, json.dumps(value, sort_keys=True)) for key, value in fingerprint.items()],
    )
    conn.execute("COMMIT")


def drop_tables(conn: sqlite3.Connection) -> None:
    for table in (TABLE, BEGUN, OPEN):
        conn.execute(f"DROP TABLE IF EXISTS {table}")
