"""The ``_build_progress`` table: which phases of a staged build have completed, and when.

For SQLite artifacts the table lives inside the staged artifact, so a phase's work and its progress
row commit in one transaction; other kinds keep the same table in a progress file beside the
staged artifact. Either way the table never reaches the final artifact.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

TABLE = "_build_progress"


def ensure_table(conn: sqlite3.Connection) -> None:
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {TABLE} ("
        " phase INTEGER PRIMARY KEY, name TEXT NOT NULL, completed_at TEXT NOT NULL)"
    )


def completed_phases(conn: sqlite3.Connection) -> list[tuple[int, str, str]]:
    """Rows (phase, name, completed_at) in phase order."""
    rows = conn.execute(f"SELECT phase, name, completed_at FROM {TABLE} ORDER BY phase")
    return [(int(phase), str(name), str(at)) for phase, name, at in rows]


def record_phase(conn: sqlite3.Connection, phase: int, name: str) -> None:
    conn.execute(
        f"INSERT INTO {TABLE} (phase, name, completed_at) VALUES (?, ?, ?)",
        (phase, name, datetime.now(timezone.utc).isoformat(timespec="seconds")),
    )


def drop_table(conn: sqlite3.Connection) -> None:
    conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
