"""What an array task's wrapper records once its build was killed outright, in-band.

A build killed by SIGKILL (the kernel's OOM killer, most often) records nothing itself, and
SLURM forgets its job after MinJobAge when it keeps no accounting: a retry would then not know to
give it more memory. The array file's task (``engines/arrays``) runs the build without ``exec``,
and when it ends by a signal runs ``build --plan P --task-index I --task-ended CODE``: still in
the task's memory cgroup, which counts OOM kills (``failures.oom_kills``), it adds to each of the
task's stopped builds that recorded nothing why it was killed: ``oom``, or ``killed`` by the
signal, with its cause unknown. Nothing is built.
"""

from __future__ import annotations

import signal
from pathlib import Path

from .. import failures, layout, status
from ..manifest.entries import Entry
from ..manifest.stages import read_stage
from . import staging


def record_end(entries: list[Entry], output_dir: Path, code: int, since: int | None = 0) -> int:
    """Record why the task's killed builds ended (OOM kills counted beyond ``since``: a pool's
    builder saw some before); the exit code of this call (0)."""
    if code <= 128:  # not killed: every build recorded its own end
        return 0
    counted = failures.oom_kills()
    kills = None if counted is None else counted - (since or 0)
    try:
        name = signal.Signals(code - 128).name
    except ValueError:
        name = f"signal {code - 128}"
    if kills:
        fields = {
            "error": f"killed by the OOM killer ({name}; its memory cgroup counted {kills} OOM"
            " kill(s))",
            failures.REASON_KEY: failures.OOM,
        }
    elif kills == 0:
        fields = {
            "error": f"killed by {name}, not by the OOM killer (its memory cgroup counted none)",
            failures.REASON_KEY: failures.KILLED,
        }
    else:  # no cgroup to ask: the reason stays unknown, for SLURM to tell if it still can
        return 0
    for entry in entries:
        permutation_id = entry["permutation_id"]
        stage = read_stage(output_dir, permutation_id)
        if stage.live or "error" in stage.record or "holder" not in stage.record:
            continue  # building, stopped with its own reason, or never begun
        if status.is_leftover(entry["done"], stage):
            continue  # killed after its artifact was in place: built
        lock = layout.lock_file(layout.staging_dir(output_dir, permutation_id), permutation_id)
        staging.amend_record(lock, **fields)
    return 0
