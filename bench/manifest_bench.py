"""How fast is a baked project's manifest, next to the floor and the peers, on the same files?

For each size (inputs x parameters) this bakes a project from this template into a scratch folder,
writes the synthetic inputs, builds one input's artifacts for real and hard-links them so that half
of the permutations are done, then times each program with interleaved repeated runs: median wall
and CPU time, and the peak resident memory of any run (each run's own rusage, from ``os.wait4`` in
a small launcher process):

- the floors, two tiny Python programs written here: a listing of the output folder and the list of
  missing ids; the same plus a ``stat`` of each artifact and a DONE/MISS table;
- the builder: ``manifest``, ``manifest --missing --commands``, ``manifest --json`` and ``build`` of
  a done permutation; ``manifest --stale`` cold (its provenance cache deleted first, so it reads
  every artifact) and warm (with the cache the run before left);
- ``manifest`` and a warm ``manifest --stale`` with the demo's ``exclude()`` (which reads each
  input once) and its leaderboard gather declared (not built): what the demo's extras cost on top
  of the builder, which the rows above time without them;
- what recording the code a build ran costs: a phase that calls a pure-Python library heavily
  (``fractions`` and ``statistics``, through a small function of the project per value), run as
  a plain import and as ``build`` runs it (its module instrumented, ``tracing.reset`` before and
  ``tracing.collect`` after), the same work in both;
- with ``--peers``: ``make -n``, ``doit list --status`` and ``snakemake -n --quiet`` on a Makefile,
  a dodo.py and a Snakefile that declare the same targets from the same inputs (doit and Snakemake
  are installed, pinned by ``requirements-peers.txt``, into the scratch virtualenv; make is the
  system's); ``--peers make,doit`` times only those.

Every Python program, the floors included, runs on one interpreter: a scratch virtualenv of the
one running this file, as a project runs on its own. So they all start alike, and none pays for
what this machine's own site-packages may run at start-up (``.pth`` hooks) while another does not.

It prints one markdown table, then the import check of ``manifest`` and the targets. Only the
standard library is needed; cookiecutter comes from this interpreter or the scratch virtualenv.

    python bench/manifest_bench.py                      # 10,000 and 100,000 permutations
    python bench/manifest_bench.py --peers --repeats 7    # with every peer (bench/README.md)
    python bench/manifest_bench.py --peers make,doit      # without Snakemake's minutes
    python bench/manifest_bench.py --sizes 10x2 --repeats 1
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import venv
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple

TEMPLATE = Path(__file__).resolve().parent.parent
PACKAGE = "perm_bench"
SLUG = "perm-bench"
EXTENSION = "db"
PINNED_TOOLS = {"cookiecutter": "cookiecutter==2.7.1"}
PEERS = ("make", "doit", "snakemake")
# The peers' pins, one requirement a line (make is the system's).
PEER_REQUIREMENTS = Path(__file__).with_name("requirements-peers.txt")
# A program slower than this on its warm-up run is timed by that run alone.
TIME_ONCE_AFTER_SECONDS = 20.0  # named in the report's first line

FLOOR_MISSING = '''"""Floor: one listing of the output folder, then the ids it does not hold."""
import os
import sys

PARAMS = {params!r}
names = {{e.name for e in os.scandir("output")}}
inputs = sorted(e.name[:-4] for e in os.scandir("data") if e.name.endswith(".csv"))
write = sys.stdout.write
for inp in inputs:
    for param in PARAMS:
        pid = f"{{inp}}_{{param}}"
        if pid + ".{extension}" not in names:
            write(pid + "\\n")
'''

FLOOR_TABLE = '''"""Floor: one listing, a stat per artifact, a DONE/MISS row per permutation."""
import os
import sys

PARAMS = {params!r}
sizes = {{e.name: e.stat().st_size for e in os.scandir("output") if e.is_file()}}
inputs = sorted(e.name[:-4] for e in os.scandir("data") if e.name.endswith(".csv"))
rows = []
for inp in inputs:
    for param in PARAMS:
        pid = f"{{inp}}_{{param}}"
        size = sizes.get(pid + ".{extension}")
        rows.append(f"  [{{'MISS' if size is None else 'DONE'}}] {{pid:<30s}} {{size or ''}}")
sys.stdout.write("\\n".join(rows) + "\\n")
'''

# Its JSON braces would need doubling twice for str.format, so its values go in by str.replace.
FLOOR_JSON = '''"""Floor for --json: one listing, a stat per artifact, then the document's fields
for each permutation, written from f-strings: no argument parser, no entry dicts, no sort."""
import os
import sys

PARAMS = @PARAMS@
FOLDER = os.path.abspath("output")
COMMAND = "@COMMAND@"
fd = os.open("output", os.O_RDONLY | os.O_DIRECTORY)
with os.scandir(fd) as listing:
    sizes = {e.name: e.stat().st_size for e in listing if e.is_file()}
os.close(fd)
inputs = sorted(
    (os.stat("data/" + e.name).st_size, e.name[:-4])
    for e in os.scandir("data")
    if e.name.endswith(".csv")
)
entries = []
for cost, inp in inputs:
    for rank, param in enumerate(PARAMS, 1):
        pid = f"{inp}_{param}"
        size = sizes.get(pid + ".@EXTENSION@")
        done = size is not None
        entries.append(
            f'{{"permutation_id":"{pid}","input_id":"{inp}","param_name":"{param}",'
            f'"done":{"true" if done else "false"},"status":"{"DONE" if done else "MISS"}",'
            f'"error":null,"reason":null,"output_path":"{FOLDER}/{pid}.@EXTENSION@",'
            f'"output_size":{"null" if size is None else size},"cost":[{cost},{rank}],'
            f'"command":"{COMMAND} --input-id {inp} --param-name {param}"}}'
        )
sys.stdout.write('{"total":' + str(len(entries)) + ',"entries":[' + ",".join(entries) + "]}\\n")
'''

# A module of the baked project with a phase that spends its time in a pure-Python library,
# calling a small function of its own per value: the case where noting each call costs most.
HEAVY = '''"""A phase that calls a pure-Python library heavily: fractions and statistics."""

import statistics
from fractions import Fraction


def term(value: float, weight: int) -> Fraction:
    return Fraction(value).limit_denominator(1000) * weight


def heavy_phase(values: int) -> Fraction:
    terms = [term(i / 7, 1 + i % 5) for i in range(values)]
    return statistics.median_low(terms) + statistics.mean(terms[: values // 4])
'''

HEAVY_PLAIN = """from PACKAGE import bench_heavy

bench_heavy.heavy_phase(VALUES)
"""

HEAVY_TRACED = """import os

os.environ["VARIABLE"] = "1"
from PACKAGE.builder import tracing

tracing.install()
from PACKAGE import bench_heavy

tracing.reset()
bench_heavy.heavy_phase(VALUES)
tracing.collect(fallback=[bench_heavy.heavy_phase])
"""
HEAVY_VALUES = 60_000

# Appended to the baked demo: its exclude() and gather only with EXTRAS in the environment.
EXTRAS = "BENCH_EXTRAS"
EXTRAS_SWITCH = f"""

if os.environ.get({EXTRAS!r}):
    exclude = _demo_exclude
else:
    GATHERS = {{}}
"""

DODO = '''"""doit: one task per permutation, from its input CSV to its artifact."""
PARAMS = {params!r}
INPUTS = {inputs!r}


def task_build():
    for inp in INPUTS:
        for param in PARAMS:
            target = f"output/{{inp}}_{{param}}.{extension}"
            yield {{
                "name": f"{{inp}}_{{param}}",
                "file_dep": [f"data/{{inp}}.csv"],
                "targets": [target],
                "actions": [f"touch {{target}}"],
            }}
'''

SNAKEFILE = """PARAMS = {params!r}
INPUTS = {inputs!r}

wildcard_constraints:
    inp="[^_/]+",
    param="[^_/]+",

rule all:
    input: expand("output/{{inp}}_{{param}}.{extension}", inp=INPUTS, param=PARAMS)

rule build:
    input: "data/{{inp}}.csv"
    output: "output/{{inp}}_{{param}}.{extension}"
    shell: "touch {{output}}"
"""


class Run(NamedTuple):
    wall: float
    cpu: float
    peak_mb: float
    code: int


@dataclass
class Timing:
    """Median wall and CPU (user + system) seconds over the runs, and the peak memory of any."""

    wall: float | None
    cpu: float | None = None
    peak_mb: float | None = None
    runs: int = 0
    note: str = ""

    @classmethod
    def of(cls, runs: list[Run]) -> Timing:
        return cls(
            statistics.median(r.wall for r in runs),
            statistics.median(r.cpu for r in runs),
            max(r.peak_mb for r in runs),
            len(runs),
        )

    def cells(self, floor: Timing | None) -> list[str]:
        """Wall time, CPU time (each with its ratio to the floor's) and peak MB."""
        if self.wall is None or self.cpu is None:
            return [self.note, "", ""]
        cells = []
        for mine, theirs in ((self.wall, floor and floor.wall), (self.cpu, floor and floor.cpu)):
            text = f"{mine:.3f} s" if mine < 10 else f"{mine:.1f} s"
            cells.append(f"{text} ({mine / theirs:.1f}x)" if theirs else text)
        if self.note:
            cells[0] += f" ({self.note})"
        return [*cells, f"{self.peak_mb:.0f}"]


@dataclass
class SizeResult:
    inputs: int
    params: int
    timings: dict[str, Timing] = field(default_factory=dict)

    @property
    def permutations(self) -> int:
        return self.inputs * self.params


def parse_size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)x(\d+)", text.strip())
    if not match or int(match[1]) < 2 or int(match[2]) < 1:
        raise argparse.ArgumentTypeError(
            f"size {text!r} is not INPUTSxPARAMS with at least 2 inputs, e.g. 100x100"
        )
    return int(match[1]), int(match[2])


def parse_peers(text: str) -> list[str]:
    chosen = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in PEERS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown peers {unknown}; choose from {','.join(PEERS)}")
    return chosen


def peer_requirements(peers: list[str]) -> list[str]:
    """The pinned requirements of the chosen peers, from ``requirements-peers.txt``."""
    lines = PEER_REQUIREMENTS.read_text().splitlines()
    pins = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return [pin for pin in pins if re.split(r"[=<>!~ ]", pin)[0] in peers]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=lambda text: [parse_size(s) for s in text.split(",")],
        default=[(100, 100), (1000, 100)],
        help="comma-separated INPUTSxPARAMS (default: 100x100,1000x100)",
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per program")
    parser.add_argument(
        "--peers",
        nargs="?",
        const=",".join(PEERS),
        default="",
        type=parse_peers,
        help=f"also time these peers (default with the flag alone: {','.join(PEERS)})",
    )
    parser.add_argument(
        "--peer-timeout", type=float, default=300, help="seconds before a peer's run is stopped"
    )
    parser.add_argument(
        "--workdir", type=Path, default=TEMPLATE / ".bench", help="scratch folder (default: .bench)"
    )
    return parser.parse_args(argv)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the scratch virtualenv: cookiecutter when this interpreter lacks it, and the peers ---


def scratch_python(workdir: Path, requirements: list[str]) -> Path:
    """A virtualenv under ``workdir`` with ``requirements`` installed (once per set)."""
    folder = workdir / "venv"
    python = folder / "bin" / "python"
    if not python.exists():
        log(f"creating {folder}")
        venv.create(folder, with_pip=True)
    stamp = folder / "bench-requirements.txt"
    installed = set(stamp.read_text().split()) if stamp.exists() else set()
    missing = [r for r in requirements if r not in installed]
    if missing:
        log(f"installing {' '.join(missing)} into {folder}")
        pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, *missing], check=True)
        stamp.write_text("\n".join(sorted(installed | set(missing))) + "\n")
    return python


def cookiecutter_command(workdir: Path) -> list[str]:
    if importlib.util.find_spec("cookiecutter") is not None:
        return [sys.executable, "-m", "cookiecutter"]
    return [str(scratch_python(workdir, [PINNED_TOOLS["cookiecutter"]])), "-m", "cookiecutter"]


# --- the project under test ---


def bake(workdir: Path, inputs: int, params: int, extension: str = EXTENSION) -> Path:
    """A fresh bake with ``params`` parameter values, ``inputs`` synthetic CSVs and no output,
    in ``<workdir>/<inputs>x<params>`` (``-<extension>`` after it, for another extension)."""
    folder = workdir / (f"{inputs}x{params}" + ("" if extension == EXTENSION else f"-{extension}"))
    shutil.rmtree(folder, ignore_errors=True)
    names = ",".join(param_names(params))
    subprocess.run(
        [
            *cookiecutter_command(workdir),
            "--no-input",
            str(TEMPLATE),
            "-o",
            str(folder),
            f"project_name={SLUG}",
            f"param_values={names}",
            f"artifact_extension={extension}",
            "command_runner=python",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    root = folder / SLUG
    pipeline = root / PACKAGE / "pipeline.py"
    # The demo fits a polynomial of the parameter's rank as degree; a hundred parameters would ask
    # for degree 100. The benchmark's parameters cycle through degrees 1 to 3 instead.
    text = re.sub(
        r'"degree": (\d+)', lambda m: f'"degree": {(int(m[1]) - 1) % 3 + 1}', pipeline.read_text()
    )
    # The demo's exclude() reads every input and its gather reads every artifact: the user's costs,
    # not the builder's. The main rows time the builder without them; EXTRAS turns them on.
    text = text.replace("def exclude(", "def _demo_exclude(")
    text += EXTRAS_SWITCH
    pipeline.write_text(text)
    for csv in (root / "data").glob("*.csv"):
        csv.unlink()
    for i, name in enumerate(input_names(inputs)):
        rows = 8 + (i * 37) % 60  # inputs of different sizes, so the cost order matters
        lines = [f"{day},{10 + (day * 7 + i) % 23 / 2}" for day in range(1, rows + 1)]
        (root / "data" / f"{name}.csv").write_text("day,temperature\n" + "\n".join(lines) + "\n")
    return root


def input_names(count: int) -> list[str]:
    return [f"s{i:04d}" for i in range(count)]


def param_names(count: int) -> list[str]:
    return [f"p{i:03d}" for i in range(count)]


def is_done(i: int, j: int) -> bool:
    """Half the matrix is done, in a checkerboard, so done and missing interleave in every order."""
    return (i + j) % 2 == 0


def builder(python: str, *args: str) -> list[str]:
    return [python, "-m", f"{PACKAGE}.builder", *args]


def mark_half_done(python: str, root: Path, inputs: int, params: int) -> None:
    """Build the first input's artifacts for real, then hard-link them as half of the matrix."""
    seed = root.parent / "seed"
    first = input_names(inputs)[0]
    run_checked(builder(python, "build", "--output-folder", str(seed), "--input-id", first), root)
    output = root / "output"
    (output / "_build").mkdir(parents=True)  # as a builder leaves it: staging root, empty
    for i, inp in enumerate(input_names(inputs)):
        for j, param in enumerate(param_names(params)):
            if is_done(i, j):
                os.link(
                    seed / f"{first}_{param}.{EXTENSION}", output / f"{inp}_{param}.{EXTENSION}"
                )


def write_programs(root: Path, inputs: int, params: int) -> None:
    """The floors, and the peers' descriptions of the same targets from the same inputs."""
    values = {"params": param_names(params), "inputs": input_names(inputs), "extension": EXTENSION}
    (root / "floor_missing.py").write_text(FLOOR_MISSING.format(**values))
    (root / "floor_table.py").write_text(FLOOR_TABLE.format(**values))
    floor_json = FLOOR_JSON.replace("@PARAMS@", repr(values["params"]))
    command = f"python -m {PACKAGE}.builder build --output-folder output"
    floor_json = floor_json.replace("@COMMAND@", command).replace("@EXTENSION@", EXTENSION)
    (root / "floor_json.py").write_text(floor_json)
    (root / PACKAGE / "bench_heavy.py").write_text(HEAVY)
    for name, text in (("heavy_plain.py", HEAVY_PLAIN), ("heavy_traced.py", HEAVY_TRACED)):
        variable = f"{PACKAGE.upper()}_TRACING"
        text = text.replace("VARIABLE", variable).replace("PACKAGE", PACKAGE)
        (root / name).write_text(text.replace("VALUES", str(HEAVY_VALUES)))
    (root / "dodo.py").write_text(DODO.format(**values))
    (root / "Snakefile").write_text(SNAKEFILE.format(**values))
    targets = [
        (f"output/{inp}_{param}.{EXTENSION}", f"data/{inp}.csv")
        for inp in values["inputs"]
        for param in values["params"]
    ]
    rules = [f"{target}: {source}\n\ttouch $@\n" for target, source in targets]
    makefile = "all: " + " ".join(t for t, _ in targets) + "\n\n" + "\n".join(rules)
    (root / "Makefile").write_text(makefile)


# --- running and timing ---


# Each timed run goes through this small launcher: its own fork gives the program a fresh memory
# high-water mark (a child of this bench would inherit the bench's), and its clock excludes the
# launcher's start-up. It prints: wall seconds, CPU seconds, peak KB, exit code.
LAUNCHER = """
import os, sys, time
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    try:
        os.execvp(sys.argv[1], sys.argv[1:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
cpu = usage.ru_utime + usage.ru_stime
print(time.perf_counter() - started, cpu, usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


def environment() -> dict[str, str]:
    """This environment as a user's shell would have it: bytecode cached, output buffered."""
    dropped = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED")
    return {k: v for k, v in os.environ.items() if k not in dropped}


def run_once(argv: list[str], cwd: Path, timeout: float | None = None) -> Run:
    """Wall and CPU seconds, peak MB and exit code of one run; TimeoutExpired if stopped."""
    launcher = subprocess.Popen(
        [sys.executable, "-I", "-S", "-c", LAUNCHER, *argv],
        cwd=cwd,
        env=environment(),
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # so that a stopped run takes its children with it
    )
    try:
        out, _ = launcher.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(launcher.pid, signal.SIGKILL)
        launcher.wait()
        raise
    wall, cpu, peak_kb, code = out.split()
    return Run(float(wall), float(cpu), int(peak_kb) / 1024, int(code))


def run_checked(argv: list[str], cwd: Path) -> str:
    result = subprocess.run(argv, cwd=cwd, env=environment(), capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {result.returncode}:\n{result.stderr}")
    return result.stdout


def measure(
    programs: list[tuple[str, list[str], float | None]], cwd: Path, repeats: int
) -> dict[str, Timing]:
    """A warm-up run of each (caches, bytecode), then ``repeats`` rounds of one run of each.

    Rounds interleave the programs, so that a neighbour's burst of load on a shared machine falls
    on all of them rather than on whichever ran then. A program slower than
    TIME_ONCE_AFTER_SECONDS on its warm-up is timed by that run alone.
    """
    timings: dict[str, Timing] = {}
    runs: dict[str, list[Run]] = {}
    for label, argv, timeout in programs:
        log(f"   warm-up: {label}")
        try:
            first = run_once(argv, cwd, timeout)
        except subprocess.TimeoutExpired:
            timings[label] = Timing(None, note=f"> {timeout:.0f} s (stopped)")
            continue
        if first.code != 0:
            raise SystemExit(f"{' '.join(argv)} exited {first.code} in {cwd}")
        if first.wall > TIME_ONCE_AFTER_SECONDS:
            timings[label] = replace(Timing.of([first]), note="one run")
        else:
            runs[label] = []
    repeated = [(label, argv, timeout) for label, argv, timeout in programs if label in runs]
    for round_number in range(repeats):
        log(f"   round {round_number + 1}/{repeats}")
        for label, argv, timeout in repeated:
            runs[label].append(run_once(argv, cwd, timeout))
    timings.update((label, Timing.of(results)) for label, results in runs.items())
    return {label: timings[label] for label, _, _ in programs}


# --- what the bench times, and the checks that make its numbers comparable ---

FLOOR = "floor + stat + DONE/MISS table"
FLOOR_JSON_LABEL = "floor + stat + the JSON document's fields"
STALE_COLD = "`manifest --stale`, cold (no provenance cache)"
STALE_WARM = "`manifest --stale`, warm (cache of the run before)"
EXTRAS_PLAIN = "`manifest`, with the demo's exclude() and gather"
EXTRAS_STALE = "`manifest --stale`, warm, with the demo's exclude() and gather"
HEAVY_PLAIN_LABEL = "heavy pure-Python phase, plain"
HEAVY_TRACED_LABEL = "heavy pure-Python phase, as `build` runs it (code recorded)"


Program = tuple[str, list[str]]
PEER_LABELS = {
    "make": "`make -n`",
    "doit": "`doit list --status`",
    "snakemake": "`snakemake -n --quiet`",
}


def timed_python(workdir: Path, peers: list[str]) -> str:
    """The one interpreter of every timed Python program: the scratch virtualenv's, with the
    chosen peers installed. A project runs on its own virtualenv, and the floors, the builder and
    doit then start alike, without whatever this machine's own site-packages run at start-up."""
    return str(scratch_python(workdir, peer_requirements(peers)))


def peer_programs(python: str, peers: list[str]) -> list[Program]:
    """The chosen peers' commands; doit and Snakemake on the timed interpreter."""
    if "make" in peers and not shutil.which("make"):
        log("make is not installed: not timed")
        peers = [peer for peer in peers if peer != "make"]
    commands = {
        "make": ["make", "-n"],
        "doit": [python, "-m", "doit", "list", "--status"],
        "snakemake": [python, "-m", "snakemake", "-n", "--quiet"],
    }
    return [(PEER_LABELS[peer], commands[peer]) for peer in PEERS if peer in peers]


def programs(python: str, inputs: int, params: int, cache: str) -> list[Program]:
    """The floors and the builder; ``cache`` is the provenance cache that a cold ``--stale`` run
    goes without."""
    assert is_done(0, 0)
    done_flags = ["--input-id", input_names(inputs)[0], "--param-name", param_names(params)[0]]
    listed = [
        ("floor: scandir + missing list", [python, "floor_missing.py"]),
        (FLOOR, [python, "floor_table.py"]),
        (FLOOR_JSON_LABEL, [python, "floor_json.py"]),
        ("`manifest`", builder(python, "manifest")),
        ("`manifest --missing --commands`", builder(python, "manifest", "--missing", "--commands")),
        ("`manifest --json`", builder(python, "manifest", "--json")),
        (
            "`build` of a done permutation",
            builder(python, "build", "--output-folder", "output", *done_flags),
        ),
        (
            STALE_COLD,
            ["sh", "-c", 'rm -f "$0" && exec "$@"', cache, *builder(python, "manifest", "--stale")],
        ),
        (STALE_WARM, builder(python, "manifest", "--stale")),
        (EXTRAS_PLAIN, ["env", f"{EXTRAS}=1", *builder(python, "manifest")]),
        (EXTRAS_STALE, ["env", f"{EXTRAS}=1", *builder(python, "manifest", "--stale")]),
        (HEAVY_PLAIN_LABEL, [python, "heavy_plain.py"]),
        (HEAVY_TRACED_LABEL, [python, "heavy_traced.py"]),
    ]
    return listed


def check_agreement(python: str, root: Path, inputs: int, params: int) -> None:
    """The builder and the floors see the same matrix before anything is timed."""
    expected_missing = sum(not is_done(i, j) for i in range(inputs) for j in range(params))
    document = json.loads(run_checked(builder(python, "manifest", "--json"), root))
    total, done = document["total"], document["done"]
    commands = run_checked(builder(python, "manifest", "--missing", "--commands"), root)
    floor = run_checked([python, "floor_missing.py"], root).splitlines()
    counts = (total - done, len(commands.splitlines()), len(floor))
    if total != inputs * params or set(counts) != {expected_missing}:
        raise SystemExit(
            f"disagreement at {inputs}x{params}: total {total}, missing per manifest/commands/"
            f"floor {counts}, expected {expected_missing}"
        )
    # The JSON floor writes the same entries, field for field, only in its own order.
    floor_entries = json.loads(run_checked([python, "floor_json.py"], root))["entries"]
    by_id = itemgetter("permutation_id")
    if sorted(floor_entries, key=by_id) != sorted(document["entries"], key=by_id):
        raise SystemExit(f"the JSON floor's entries differ from the builder's at {inputs}x{params}")


def check_stale_cache(python: str, root: Path) -> str:
    """``manifest --stale`` says the same without its provenance cache as with it; the cache's path.

    The artifacts are hard links of a few real ones, so they share inodes: the cache must still
    tell them apart by permutation id.
    """
    where = (
        f"from {PACKAGE}.builder import layout;"
        " print(layout.provenance_cache_path(layout.output_folder('output')))"
    )
    cache = run_checked([python, "-c", where], root).strip()
    Path(cache).unlink(missing_ok=True)
    cold = run_checked(builder(python, "manifest", "--stale", "--json"), root)
    if not Path(cache).is_file():
        raise SystemExit(f"`manifest --stale` wrote no provenance cache at {cache}")
    warm = run_checked(builder(python, "manifest", "--stale", "--json"), root)
    if cold != warm:
        raise SystemExit("`manifest --stale` says otherwise with its provenance cache than without")
    return cache


def bench_size(
    workdir: Path,
    python: str,
    size: tuple[int, int],
    repeats: int,
    peers: list[Program],
    timeout: float,
) -> SizeResult:
    inputs, params = size
    log(f"== {inputs} x {params} = {inputs * params:,} permutations: baking")
    root = bake(workdir, inputs, params)
    mark_half_done(python, root, inputs, params)
    write_programs(root, inputs, params)
    check_agreement(python, root, inputs, params)
    cache = check_stale_cache(python, root)
    # Only a peer's runs are stopped after ``timeout``.
    listed: list[tuple[str, list[str], float | None]] = [
        (label, argv, None) for label, argv in programs(python, inputs, params, cache)
    ]
    listed += [(label, argv, timeout) for label, argv in peers]
    return SizeResult(inputs, params, measure(listed, root, repeats))


# --- the import check ---


def imports_of(python: str, argv: list[str], cwd: Path) -> dict[str, int]:
    """Module -> cumulative import microseconds, from ``python -X importtime``."""
    result = subprocess.run(
        [python, "-X", "importtime", *argv],
        cwd=cwd,
        env=environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
    )
    modules = {}
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "cumulative" not in line:
            _, cumulative, name = line[len("import time:") :].split("|")
            modules[name.strip()] = int(cumulative)
    return modules


def import_report(python: str, root: Path) -> list[str]:
    baseline = imports_of(python, ["-c", "pass"], root)
    modules = imports_of(python, ["-m", f"{PACKAGE}.builder", "manifest"], root)
    ours = {m: us for m, us in modules.items() if m not in baseline}
    tops = {m.split(".")[0] for m in ours}
    foreign = sorted(tops - set(sys.stdlib_module_names) - {PACKAGE})
    heaviest = sorted(
        ((us, m) for m, us in ours.items() if "." not in m.strip() or m.startswith(PACKAGE)),
        reverse=True,
    )[:6]
    return [
        f"- `python -X importtime -m {PACKAGE}.builder manifest`: {len(ours)} modules beyond"
        f" `python -c pass`, {'none' if not foreign else ', '.join(foreign)} outside the"
        " standard library; heaviest (cumulative): "
        + ", ".join(f"{m.strip()} {us / 1000:.1f} ms" for us, m in heaviest),
    ]


# --- the report ---


VARIANTS = ["`manifest`", "`manifest --missing --commands`", "`manifest --json`"]
# Each variant's floor: the table and the commands against the listing + stat + table, the JSON
# document against the floor that writes the same fields.
FLOOR_OF = {
    "`manifest`": FLOOR,
    "`manifest --missing --commands`": FLOOR,
    "`manifest --json`": FLOOR_JSON_LABEL,
}
BUILD_DONE = "`build` of a done permutation"
# Each peer against the variant that answers its question, and how many times slower it must be:
# make -n and snakemake -n list what would run, as --missing --commands does; doit list --status
# lists every task with its status, as manifest does.
PEER_TARGETS = {
    PEER_LABELS["make"]: ("`manifest --missing --commands`", 1),
    PEER_LABELS["doit"]: ("`manifest`", 5),
    PEER_LABELS["snakemake"]: ("`manifest --missing --commands`", 50),
}


def verdict(met: bool) -> str:
    return "met" if met else "**not met**"


def ratio(timing: Timing, floor: Timing, clock: str) -> float:
    mine, theirs = getattr(timing, clock), getattr(floor, clock)
    return (mine or float("inf")) / (theirs or float("nan"))


def targets_report(results: list[SizeResult]) -> list[str]:
    """Each target of the issue, per size: wall-clock medians, CPU in brackets."""
    lines = []
    for result in results:
        t = result.timings
        against = [
            f"{v} {ratio(t[v], t[f], 'wall'):.2f}x ({ratio(t[v], t[f], 'cpu'):.2f}x CPU)"
            for v, f in FLOOR_OF.items()
        ]
        worst = max(ratio(t[v], t[f], "wall") for v, f in FLOOR_OF.items())
        peak = max(t[v].peak_mb or 0.0 for v in VARIANTS)
        build = t[BUILD_DONE].cpu or float("inf")
        warm, plain = t[STALE_WARM], t["`manifest`"]
        traced = ratio(t[HEAVY_TRACED_LABEL], t[HEAVY_PLAIN_LABEL], "cpu") - 1
        line = (
            f"- {result.permutations:,}: against their floors {', '.join(against)}, target < 2x:"
            f" {verdict(worst < 2)}; peak {peak:.0f} MB, target < 150 MB: {verdict(peak < 150)};"
            f" `build` of a done permutation {build * 1000:.0f} ms CPU, target < 100 ms:"
            f" {verdict(build < 0.1)}; warm `manifest --stale` {ratio(warm, plain, 'wall'):.2f}x"
            f" `manifest` ({ratio(warm, plain, 'cpu'):.2f}x CPU), target < 2x:"
            f" {verdict(ratio(warm, plain, 'wall') < 2)}; recording the code a build ran"
            f" {traced:+.1%} CPU on the heavy pure-Python phase, target < 5%:"
            f" {verdict(traced < 0.05)}"
        )
        for peer, (variant, factor) in PEER_TARGETS.items():
            if peer in t:
                theirs, ours = t[peer].wall, t[variant].wall or float("nan")
                times = f"{theirs / ours:.1f}x" if theirs else f"more than {t[peer].note}"
                met = theirs is None or theirs / ours > factor
                line += f"; {peer} / {variant}: {times}, target > {factor}x: {verdict(met)}"
        lines.append(line)
    return lines


def table(results: list[SizeResult]) -> list[str]:
    """One row per program; per size: wall and CPU medians (x the floor's) and peak MB."""
    header = ["program"]
    for result in results:
        size = f"{result.permutations:,}"
        header += [f"{size}: wall (x floor)", f"{size}: CPU (x floor)", f"{size}: peak MB"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label in results[0].timings:
        cells = [label]
        for result in results:
            floor = result.timings[FLOOR] if label != FLOOR else None
            cells += result.timings[label].cells(floor)
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def machine() -> str:
    return (
        f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()},"
        f" {platform.system()} {platform.release()}, {datetime.date.today().isoformat()}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    python = timed_python(workdir, args.peers)
    peers = peer_programs(python, args.peers)
    results = [
        bench_size(workdir, python, size, args.repeats, peers, args.peer_timeout)
        for size in args.sizes
    ]
    last = workdir / f"{args.sizes[-1][0]}x{args.sizes[-1][1]}" / SLUG
    report = [
        f"Machine: {machine()}. Medians of {args.repeats} interleaved runs after a warm-up run"
        " (a program slower than 20 s is timed by its one run); CPU is user + system time; peak"
        " MB is the largest resident set of any run. Every Python program ran on"
        f" {python}, a virtualenv of {sys.base_prefix}.",
        "",
        *table(results),
        "",
        *import_report(python, last),
        *targets_report(results),
    ]
    print("\n".join(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
