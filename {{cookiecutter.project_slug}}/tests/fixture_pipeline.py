"""The test pipeline: the machinery's tests build against this module, never the project's own.

The builder runs it when ``<PACKAGE>_PIPELINE`` names this file (``conftest.Project`` does that for
every command it runs), so the tests hold whatever the project's ``pipeline.py`` becomes. What a
test varies comes from the JSON file named by ``FIXTURE_PIPELINE_CONFIG`` (``DEFAULT`` without it):

- ``inputs``: input id -> number of rows; each input is ``<data>/<id>.txt``, one number a line;
- ``registry``: the parameter registry, each entry with its ``cost`` and a ``scale`` (and, if a
  test gives them, its ``resources``);
- ``pair_resources``: what ``resources(input_id, param_name, cost)`` answers, as rules
  ``{"input"?, "param"?, "resources"}``: the last rule that matches the pair (none: ``{}``);
- ``faults``: what to do at the start of a phase (or of a gather), for every permutation or only
  some (``inject``);
- ``exclude``: rules ``{"input"?, "param"?, "reason"}``: ``exclude`` answers the last that matches;
- ``gathers``: name -> ``over`` ("all" or an axis name), each built by ``count_rows``;
- ``ignore_libraries``: ``IGNORE_LIBRARIES``.

Its three phases keep their work in the stage, and the last writes the artifact: a ``rows`` table
for SQLite kinds, the rows as JSON for every other extension. ``transform`` scales each number by
the function ``TRANSFORMS`` names in the entry's ``transform`` (default ``scale``): a dispatch
table, whose entries the tests edit one by one.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from {{ cookiecutter.package_name }}.builder.building.context import BuildContext

DEFAULT: dict[str, Any] = {
    "data": str(Path(__file__).resolve().parent / "fixture_data"),
    "inputs": {"small": 4, "medium": 40, "large": 400},
    "registry": {
        "half": {"cost": 1, "scale": 0.5},
        "double": {"cost": 2, "scale": 2},
        "triple": {"cost": 3, "scale": 3},
    },
    "faults": [],
}

_CONFIG_FILE = os.environ.get("FIXTURE_PIPELINE_CONFIG")
CONFIG: dict[str, Any] = (
    json.loads(Path(_CONFIG_FILE).read_text(encoding="utf-8")) if _CONFIG_FILE else DEFAULT
)

COST_UNIT = "rows"
PARAM_REGISTRY: dict[str, dict[str, Any]] = CONFIG["registry"]
FINGERPRINT = CONFIG.get("fingerprint", "stat")
IGNORE_LIBRARIES = CONFIG.get("ignore_libraries", [])
DATA = Path(CONFIG["data"])


def write_config(config: dict[str, Any], path: Path) -> None:
    """Write a configuration for this pipeline to ``path``, and any input file it lacks."""
    data = Path(config["data"])
    data.mkdir(parents=True, exist_ok=True)
    for input_id, rows in config["inputs"].items():
        if not (data / f"{input_id}.txt").exists():
            (data / f"{input_id}.txt").write_text("".join(f"{n}\n" for n in range(rows)))
    path.write_text(json.dumps(config, indent=1), encoding="utf-8")


def discover_inputs() -> list[str]:
    return sorted(CONFIG["inputs"])


def estimate_cost(input_id: str) -> int:
    return int(CONFIG["inputs"][input_id])


def resources(input_id: str, param_name: str, cost: Any) -> Any:
    """The pair's resources, as the configured ``pair_resources`` rules give them."""
    chosen: Any = {}
    for rule in CONFIG.get("pair_resources", []):
        if rule.get("input", input_id) == input_id and rule.get("param", param_name) == param_name:
            chosen = rule["resources"]
    return chosen


def input_path(input_id: str) -> Path:
    return DATA / f"{input_id}.txt"


def input_files(input_id: str) -> list[Path]:
    return [input_path(input_id)]


def load_rows(ctx: BuildContext) -> str:
    """Read the input's numbers into the stage."""
    inject(ctx, "load_rows")
    numbers = [float(line) for line in input_path(ctx.input_id).read_text().split()]
    ctx.write_json("numbers.json", numbers)
    return f"{len(numbers)} rows"


def exclude(input_id: str, param_name: str) -> Any:
    """The reason of the last ``exclude`` rule matching the pair, or None."""
    found = None
    for rule in CONFIG.get("exclude", []):
        if rule.get("input", input_id) == input_id and rule.get("param", param_name) == param_name:
            found = rule["reason"]
    return found


def scale(value: float, factor: float) -> float:
    return value * factor


def transform(ctx: BuildContext) -> str:
    """Scale each number by the parameter's ``scale``, with the function it names."""
    inject(ctx, "transform")
    function = TRANSFORMS[ctx.params.get("transform", "scale")]
    scaled = [function(value, ctx.params["scale"]) for value in ctx.read_json("numbers.json")]
    ctx.write_json("scaled.json", scaled)
    return f"scaled by {ctx.params['scale']}"


TRANSFORMS = {"scale": scale}


def write_artifact(ctx: BuildContext) -> str:
    """The rows (index, value, scaled value) as the artifact."""
    inject(ctx, "write_artifact")
    pairs = zip(ctx.read_json("numbers.json"), ctx.read_json("scaled.json"), strict=True)
    rows = [(position, value, scaled) for position, (value, scaled) in enumerate(pairs)]
    if ctx.connection is not None:
        ctx.db.execute("DROP TABLE IF EXISTS rows")  # a phase may run again over its stage
        ctx.db.execute("CREATE TABLE rows (position INTEGER PRIMARY KEY, value REAL, scaled REAL)")
        ctx.db.executemany("INSERT INTO rows VALUES (?, ?, ?)", rows)
    else:
        ctx.write_json(ctx.artifact_path, {"permutation_id": ctx.permutation_id, "rows": rows})
    return f"{len(rows)} rows written"


PHASES = [load_rows, transform, write_artifact]


def count_rows(ctx: BuildContext) -> str:
    """A gather: each member's number of rows (faults of the phase ``count_rows`` apply, by the
    input a gather is over)."""
    inject(ctx, "count_rows")
    counts = []
    for member in ctx.members:
        if ctx.connection is not None:
            import sqlite3

            conn = sqlite3.connect(member.path)
            try:
                (rows,) = conn.execute("SELECT count(*) FROM rows").fetchone()
            finally:
                conn.close()
        else:
            rows = len(json.loads(member.path.read_text())["rows"])
        counts.append((member.permutation_id, rows))
    if ctx.connection is not None:
        ctx.db.execute("CREATE TABLE IF NOT EXISTS counts (permutation_id TEXT, rows INTEGER)")
        ctx.db.executemany("INSERT INTO counts VALUES (?, ?)", counts)
    else:
        ctx.write_json(ctx.artifact_path, {"permutation_id": ctx.permutation_id, "rows": counts})
    return f"{len(counts)} members"


GATHERS = {
    name: {"over": over, "function": count_rows} for name, over in CONFIG.get("gathers", {}).items()
}


def inject(ctx: BuildContext, phase: str) -> None:
    """Apply the configured faults of this phase that match the permutation, in order.

    A fault is ``{"phase", "action", "arg", "input"?, "param"?}``; actions: ``raise`` (a
    RuntimeError with ``arg`` as message), ``exit`` (``sys.exit(arg)``), ``os_exit``, ``kill``
    (SIGKILL to its own process, as the OOM killer sends), ``interrupt`` (raise KeyboardInterrupt
    itself, with no signal), ``sleep`` (seconds), ``note`` (append ``<id> <phase> <pid> <time>`` to
    the file ``arg``), ``sql`` (run the statement ``arg`` on the staged database), ``script``
    (``executescript(arg)`` there, which commits first), ``allocate`` (hold ``arg`` MiB, every page
    touched, for a second, or ``[MiB, seconds]``: past a memory limit, a MemoryError or the OOM
    killer), ``block`` (touch ``arg["reached"]``, then wait up to 30 s for ``arg["release"]`` to
    exist), ``handles`` (append the numbers of open file descriptors and of logging handlers to the
    file ``arg``), ``cpus`` (append ``<id> <ctx.cpus>`` to the file ``arg``), ``spin`` (keep a cpu
    busy for ``arg`` seconds), ``child`` (run a child process that holds ``arg`` MiB, and wait for
    it), ``call`` (call ``function(ctx)`` of the project module ``arg``, ``"module:function"``: code
    outside this file), ``link`` (make ``arg["name"]`` in the stage, ``{pid}`` in it the builder's
    pid, a symbolic link to ``arg["to"]``), ``fill`` (write zeros to the file ``arg`` until its disk
    is full), ``spawn`` (start a process that sleeps ``arg["seconds"]``, by ``arg["how"]``: ``fork``
    (``os.fork``), ``libc`` (libc's own ``fork()``, past Python's fork hooks), ``subprocess``
    (keeping the inheritable descriptors) or ``daemon`` (forked twice, so that its parent exits at
    once), and append its pid to the file ``arg["pids"]``).
    """
    for fault in CONFIG["faults"]:
        if fault["phase"] != phase or fault.get("input", ctx.input_id) != ctx.input_id:
            continue
        if fault.get("param", ctx.param_name) != ctx.param_name:
            continue
        action, arg = fault["action"], fault.get("arg")
        if action == "raise":
            raise RuntimeError(arg or f"injected failure in {phase}")
        if action == "exit":
            sys.exit(arg)
        if action == "os_exit":
            os._exit(arg)
        if action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if action == "interrupt":
            raise KeyboardInterrupt(arg)
        if action == "sleep":
            time.sleep(arg)
        elif action == "note":
            with open(arg, "a", encoding="utf-8") as notes:
                notes.write(f"{ctx.permutation_id} {phase} {os.getpid()} {time.time()!r}\n")
        elif action == "allocate":
            _allocate(arg)
        elif action == "sql":
            ctx.db.execute(arg)
        elif action == "script":
            ctx.db.executescript(arg)
        elif action == "block":
            _block(Path(arg["reached"]), Path(arg["release"]))
        elif action == "handles":
            _count_handles(Path(arg))
        elif action == "link":
            link = ctx.staging_dir / arg["name"].format(pid=os.getpid())
            link.unlink(missing_ok=True)
            link.symlink_to(arg["to"])
        elif action == "fill":
            _fill(Path(arg))
        elif action == "spawn":
            _spawn(arg["how"], arg["seconds"], Path(arg["pids"]))
        elif action == "cpus":
            with open(arg, "a", encoding="utf-8") as out:
                out.write(f"{ctx.permutation_id} {ctx.cpus}\n")
        elif action == "spin":
            until = time.process_time() + arg
            while time.process_time() < until:
                pass
        elif action == "child":
            touched = f"n = {arg} << 20; b = bytearray(n); b[::4096] = bytes(n >> 12)"
            subprocess.run([sys.executable, "-c", touched], check=True)
        elif action == "call":
            import importlib

            module, function = arg.split(":")
            getattr(importlib.import_module(module), function)(ctx)


def _allocate(arg: int | list[float]) -> None:
    mebibytes, seconds = (arg, 1.0) if isinstance(arg, int) else arg
    held = bytearray(int(mebibytes) * 1024 * 1024)
    for page in range(0, len(held), 4096):
        held[page] = 1
    time.sleep(seconds)


def _spawn(how: str, seconds: float, pids: Path) -> None:
    """A process that outlives the phase, holding whatever its parent held but its standard
    streams (as a daemon would, and so that the builder's own pipes close when it ends): its pid
    noted."""
    if how == "subprocess":
        sleeper = [sys.executable, "-c", f"import time; time.sleep({seconds})"]
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        child = subprocess.Popen(sleeper, close_fds=False, **quiet)  # type: ignore[call-overload]
        _note_pid(pids, child.pid)
        return
    if how == "libc":
        import ctypes

        pid = ctypes.CDLL(None).fork()
    else:
        pid = os.fork()
    if pid:
        if how == "daemon":  # the first child notes the daemon's pid, exits, and is reaped
            os.waitpid(pid, 0)
        else:
            _note_pid(pids, pid)
        return
    null = os.open(os.devnull, os.O_RDWR)
    for stream in (0, 1, 2):
        os.dup2(null, stream)
    if how == "daemon":
        os.setsid()
        daemon = os.fork()
        if daemon:
            _note_pid(pids, daemon)
            os._exit(0)
    time.sleep(seconds)
    os._exit(0)


def _fill(path: Path) -> None:
    """Write zeros to ``path`` until its file system is full."""
    with contextlib.suppress(OSError), open(path, "ab") as filler:
        while True:
            filler.write(bytes(1 << 16))
            filler.flush()


def _note_pid(pids: Path, pid: int) -> None:
    with open(pids, "a", encoding="utf-8") as out:
        out.write(f"{pid}\n")


def _block(reached: Path, release: Path) -> None:
    """Say the phase is reached, then wait for the test; bounded, so a failed test cannot hang."""
    reached.touch()
    for _ in range(3000):
        if release.exists():
            return
        time.sleep(0.01)
    raise TimeoutError("the test never released this phase")


def _count_handles(record: Path) -> None:
    import logging

    loggers = logging.Logger.manager.loggerDict.values()
    handlers = sum(len(getattr(logger, "handlers", ())) for logger in loggers)
    with open(record, "a", encoding="utf-8") as out:
        out.write(f"{len(os.listdir('/dev/fd'))} {handlers}\n")
