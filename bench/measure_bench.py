"""What measuring each build costs, what learned memory sizing saves, and the HTML report's size
and opening time: three tables, each on a fresh bake of this template.

1. **Measuring overhead.** In one process, builds of one permutation (with ``--force``) alternate
   between the builder as it is and the builder whose meter is a clock alone (``measure.Meter``
   replaced by ``Clock``, and no sampler: what builds timed before they were measured): the
   demo's cheapest permutation, and a trivial one (three phases that do nothing, the last writing
   a one-row table). Medians of the interleaved builds; and, timed alone, the measuring calls of a
   three-phase build (the meter, its laps and notes, the sampler's watch), which the difference of
   two noisy medians cannot resolve below a millisecond.
2. **Learned memory.** A synthetic workload with known true peaks (8 parameters, 4 light and 4
   heavy, a peak that grows with the input's cost, 10% noise) is built in four waves of shuffled
   permutations, each wave sized from what the waves before it measured, by three policies:
   declared only (what the user declared: enough for the heaviest), the maximum of history
   (Seqera's: the most any build of the parameter used so far) and learned (``engines/sizing``,
   the builder's own code). An under-estimate fails and goes again in the next wave with twice
   the memory, as ``--retry-scale mem=2`` would. Waste is requested minus used, a failed
   attempt's whole request included.
3. **The report** at each size (inputs x parameters): half the permutations built (synthetic
   artifacts and provenance, in the builder's own formats, with traces of 16 workers' builds),
   2% failed with an error log, the rest missing; the file's size, the time ``report`` takes
   (cold: no cache; warm: the caches of the run before), and the time headless Chromium takes to
   open it (``tests/browser.py``): to its load event, and to its first drawing of the grid.

    python bench/measure_bench.py                              # 10,000 and 100,000
    python bench/measure_bench.py --sizes 10x5 --repeats 5     # the smoke test's
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import manifest_bench as base

sys.path.insert(0, str(base.TEMPLATE / "tests"))
import browser

PACKAGE = base.PACKAGE

OVERHEAD = r'''
import contextlib, importlib, json, os, sys, time
from pathlib import Path

PACKAGE, INPUT, PARAM, REPEATS = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
measure = importlib.import_module(PACKAGE + ".builder.building.measure")
runner = importlib.import_module(PACKAGE + ".builder.building.runner")
entries = importlib.import_module(PACKAGE + ".builder.manifest.entries")


class Clock:
    """Measuring off: each phase timed by a clock alone, as builds were before."""

    method = "off"

    def __init__(self):
        self.started_at = time.time()
        self.first = self.mark = time.monotonic()
        self.completed = []

    def lap(self):
        now = time.monotonic()
        used, self.mark = measure.Usage(now - self.mark, 0.0, None, None), now
        return used

    def phase_begins(self):
        self.mark = time.monotonic()

    def phase_done(self, number, name):
        used = self.lap()
        self.completed.append((number, name, used))
        return used

    def record(self, stopped=None):
        return ""

    def total(self):
        return measure.Usage(time.monotonic() - self.first, 0.0, None, None)


METER, SAMPLING = measure.Meter, measure.sampling
OUTPUT = Path(sys.argv[5]).resolve()


def build(on):
    measure.Meter = METER if on else Clock
    measure.sampling = SAMPLING if on else (lambda meter, note: contextlib.nullcontext())
    entry = entries.permutation_entry(OUTPUT, INPUT, PARAM)
    started = time.perf_counter()
    outcome = runner.build_permutation(entry, OUTPUT, force=True)
    assert outcome.result == "built", outcome.message
    return time.perf_counter() - started


def instrumented():
    """The measuring calls of a three-phase build, alone."""
    started = time.perf_counter()
    meter = METER()
    with SAMPLING(meter, lambda peak: None):
        for number in (1, 2, 3):
            meter.phase_begins()
            meter.phase_done(number, "phase")
            meter.record()
        meter.total()
    return time.perf_counter() - started


runner.prepare_output_folder(OUTPUT)
for _ in range(3):
    build(True), build(False), instrumented()
times = {True: [], False: []}
for round_number in range(REPEATS):
    for on in (True, False) if round_number % 2 else (False, True):
        times[on].append(build(on))
calls = [instrumented() for _ in range(500)]
print(json.dumps({"on": times[True], "off": times[False], "calls": calls}))
'''

TRIVIAL_PIPELINE = '''"""Three phases that do nothing; the last writes a one-row table."""

COST_UNIT = "rows"
PARAM_REGISTRY = {"p": {"cost": 1}}


def discover_inputs():
    return ["a"]


def estimate_cost(input_id):
    return 1


def first(ctx):
    return None


def second(ctx):
    return None


def last(ctx):
    ctx.write_table(["x"], [(1,)])


PHASES = [first, second, last]
'''

WASTE = r"""
import importlib, json, random, statistics, sys

sizing = importlib.import_module(sys.argv[1] + ".builder.engines.sizing")
resources = importlib.import_module(sys.argv[1] + ".builder.engines.resources")
rng = random.Random(25)
# 4 light parameters (50 MiB + 0.02 MiB a unit), 4 heavy (250 MiB + 2 MiB a unit), costs 10-1000.
PARAMS = {f"light{k}": (50.0, 0.02) for k in range(4)}
PARAMS |= {f"heavy{k}": (250.0, 2.0) for k in range(4)}
INPUTS = {f"i{k:03d}": round(10 ** rng.uniform(1, 3)) for k in range(300)}
TRUE = {(i, p): (base + slope * cost) * rng.lognormvariate(0, 0.1)
        for i, cost in INPUTS.items() for p, (base, slope) in PARAMS.items()}
DECLARED = {p: 2048.0 if p.startswith("light") else 4096.0 for p in PARAMS}  # a user's guesses


def declared(history, misses, inp, param):
    return DECLARED[param]


def maximum(history, misses, inp, param):
    seen = [used for _, used in history[param]]
    return max(seen) if seen else DECLARED[param]


def learned(history, misses, inp, param):
    known = sizing.learn(history[param], misses[param])
    if known is None:
        return DECLARED[param]
    asked = resources.mebibytes(sizing.memory_text(known.at(INPUTS[inp])))
    return min(asked, DECLARED[param])


def simulate(policy):
    pairs = list(TRUE)
    random.Random(7).shuffle(pairs)
    waves = [pairs[:len(pairs) // 10], pairs[len(pairs) // 10:len(pairs) // 3],
             pairs[len(pairs) // 3:2 * len(pairs) // 3], pairs[2 * len(pairs) // 3:]]
    history = {p: [] for p in PARAMS}
    misses = {p: 0 for p in PARAMS}
    requested = used = wasted = later = 0.0
    under = 0
    per_build = []
    retry = {}
    for number, wave in enumerate(waves + [[]] * 6):  # waves of retries until none is left
        if number == 1:
            later = -wasted  # from the second wave on: what history could already size
        todo = [(pair, retry.pop(pair)) for pair in list(retry)] + [(pair, 1) for pair in wave]
        if not todo:
            break
        sized = [(pair, factor, policy(history, misses, *pair) * factor) for pair, factor in todo]
        for (inp, param), factor, asked in sized:
            true = TRUE[inp, param]
            requested += asked
            if asked < true:  # out of memory: the whole request wasted, retried with twice it
                under += 1
                wasted += asked
                misses[param] += 1
                retry[inp, param] = factor * 2
                continue
            used += true
            wasted += asked - true
            per_build.append(asked - true)
            history[param].append((float(INPUTS[inp]), true))
    return {
        "requested": requested / 1024, "used": used / 1024, "wasted": wasted / 1024,
        "later": (later + wasted) / 1024,
        "share": wasted / requested, "median": statistics.median(per_build), "under": under,
        "builds": len(TRUE),
    }


print(json.dumps({name: simulate(policy) for name, policy in
                  (("declared only", declared), ("max of history", maximum),
                   ("learned (plan --learn)", learned))}))
"""

SYNTHESIZE = r"""
import importlib, json, os, random, sys, time
from pathlib import Path

PACKAGE, WORKERS = sys.argv[1], 16
layout = importlib.import_module(PACKAGE + ".builder.layout")
entries_module = importlib.import_module(PACKAGE + ".builder.manifest.entries")
fingerprints = importlib.import_module(PACKAGE + ".builder.manifest.fingerprints")
recorded = importlib.import_module(PACKAGE + ".builder.manifest.recorded")
version = importlib.import_module(PACKAGE + ".builder").BUILDER_VERSION
output = layout.output_folder("output")
(output / layout.PROVENANCE_FOLDER).mkdir(parents=True, exist_ok=True)
rng = random.Random(25)
code = fingerprints.legacy_code_fingerprint()
inputs, params = {}, {}
lanes = [time.time() - 86400.0] * WORKERS
MIB = 1 << 20
for k, entry in enumerate(entries_module.permutation_manifest(output, sizes=False)):
    pid, inp, param = entry["permutation_id"], entry["input_id"], entry["param_name"]
    if k % 2 and k % 50 != 1:
        continue  # missing
    phases = [(name, rng.uniform(0.01, 2.0), rng.uniform(20, 400)) for name in
              ("load_samples", "fit_model", "write_artifact")]
    worker = min(range(WORKERS), key=lanes.__getitem__)
    start = lanes[worker] + rng.uniform(0, 0.05)
    seconds = sum(s for _, s, _ in phases)
    lanes[worker] = start + seconds
    if k % 50 == 1:  # failed in its second phase
        stage = layout.staging_dir(output, pid)
        stage.mkdir(parents=True)
        measured = {"start": round(start, 3), "phases": [[1, phases[0][0], round(phases[0][1], 3),
                    round(phases[0][1] * 0.9, 3), int(phases[0][2] * MIB)]],
                    "stopped": ["phase 2/3 fit_model", round(phases[1][1], 3), 0.1, None]}
        record = {"holder": f"pid {rng.randint(1000, 99999)} on node since 2026-01-01",
                  "phase": "[2/3] fit_model",
                  "measured": json.dumps(measured, separators=(",", ":")),
                  "peak_rss": str(int(phases[1][2] * MIB)),
                  "error": f"ValueError: degree {k % 7} needs more distinct days",
                  "reason": "exception ValueError"}
        text = "".join(f"{key}: {value}\n" for key, value in record.items())
        layout.lock_file(stage, pid).write_text(text)
        layout.log_file(stage, pid, "error").write_text(
            "2026-01-01T00:00:00 [ERROR] phase 2/3 fit_model failed: ValueError: degree\n"
            "Traceback (most recent call last):\n  File \"pipeline.py\", line 80, in fit_model\n"
            f"ValueError: degree {k % 7} needs more distinct days\n")
        continue
    artifact = layout.artifact_path(output, pid)
    artifact.write_text('{"predictions": []}\n')
    if inp not in inputs:
        inputs[inp] = fingerprints.fingerprint_inputs(inp, "stat")
    if param not in params:
        params[param] = fingerprints.registry_entry(param)
    peak = max(p for _, _, p in phases)
    document = {
        "permutation_id": pid, "axes": {"input": inp, "param": param}, "fingerprint": "stat",
        "inputs": inputs[inp], "param": params[param],
        "pipeline": {"path": PACKAGE + "/pipeline.py", "sha256": code},
        "started_at": "2026-01-01T00:00:00+00:00", "builder_version": version,
        "python": "3.11.7", "host": f"node{worker % 4}", "pid": 10000 + worker,
        "phases": [{"phase": n, "name": name, "seconds": round(s, 3), "cpu": round(s * 0.9, 3),
                    "peak_rss": int(p * MIB), "peak_rss_children": None,
                    "completed_at": "2026-01-01T00:00:00+00:00"}
                   for n, (name, s, p) in enumerate(phases, 1)],
        "trace": {"start": round(start, 3), "realtime": round(seconds, 3),
                  "cpu": round(seconds * 0.9, 3), "%cpu": 90.0, "peak_rss": int(peak * MIB),
                  "peak_rss_children": None, "memory": "synthetic"},
        "finished_at": "2026-01-01T00:00:01+00:00",
        "artifact": recorded.identity(artifact, content=False),
    }
    layout.sidecar_path(artifact).write_text(json.dumps(document, indent=1) + "\n")
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def child(
    python: str, root: Path, script: str, *args: str, env: dict[str, str] | None = None
) -> str:
    result = subprocess.run(
        [python, "-c", script, *args],
        cwd=root,
        env={**base.environment(), **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"the bench's script failed in {root}:\n{result.stderr}")
    return result.stdout


def bake_demo(workdir: Path) -> Path:
    """The template's defaults and demo data, named like the other benches' bakes."""
    folder = workdir / "demo"
    shutil.rmtree(folder, ignore_errors=True)
    subprocess.run(
        [*base.cookiecutter_command(workdir), "--no-input", str(base.TEMPLATE), "-o", str(folder),
         f"project_name={base.SLUG}", "command_runner=python"],
        check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return folder / base.SLUG


# --- 1. measuring overhead ---


def scratch_output(workdir: Path) -> Path:
    """Where the timed builds write: in memory (/dev/shm) where there is such a folder, so that the
    disk's fsyncs neither swamp the difference nor make builds look longer than they are."""
    memory = Path("/dev/shm")
    parent = memory if memory.is_dir() and os.access(memory, os.W_OK) else workdir
    return parent / f"perm-bench-output-{os.getpid()}"


def overhead(python: str, workdir: Path, repeats: int) -> list[str]:
    root = bake_demo(workdir)
    listed = json.loads(
        base.run_checked(base.builder(python, "manifest", "--json", "--limit", "1"), root)
    )
    cheapest = listed["entries"][0]
    (root / "trivial_pipeline.py").write_text(TRIVIAL_PIPELINE)
    trivial = {f"{PACKAGE.upper()}_PIPELINE": str(root / "trivial_pipeline.py")}
    demo = (cheapest["input_id"], cheapest["param_name"])
    name = f"demo's cheapest ({cheapest['permutation_id']})"
    rows = []
    for label, pair, env, output in (
        (name, demo, {}, root / "bench-output"),
        (name, demo, {}, scratch_output(workdir)),
        ("trivial (three empty phases)", ("a", "p"), trivial, scratch_output(workdir)),
    ):
        log(f"   overhead: {label}")
        found = json.loads(
            child(python, root, OVERHEAD, PACKAGE, *pair, str(repeats), str(output), env=env)
        )
        shutil.rmtree(output, ignore_errors=True)
        on, off = statistics.median(found["on"]), statistics.median(found["off"])
        calls = statistics.median(found["calls"])
        where = "memory (/dev/shm)" if str(output).startswith("/dev/shm") else "disk"
        rows.append(
            f"| {label} | {where} | {off * 1000:.2f} ms ({spread(found['off'])}) |"
            f" {on * 1000:.2f} ms ({spread(found['on'])}) |"
            f" {(on - off) * 1000:+.2f} ms ({100 * (on - off) / off:+.1f}%) |"
            f" {calls * 1e6:.0f} µs ({100 * calls / off:.2f}%) |"
        )
    return [
        f"Measuring overhead: medians of {repeats} interleaved builds each way in one process"
        " (interquartile range in brackets).",
        "",
        "| build | output folder on | not measured | measured | difference |"
        " measuring calls alone |",
        "|---|---|---|---|---|---|",
        *rows,
    ]


def spread(times: list[float]) -> str:
    """The interquartile range of build times, in ms: how far apart two medians may fall."""
    low, _, high = statistics.quantiles(times, n=4)
    return f"IQR {(high - low) * 1000:.2f} ms"


# --- 2. learned memory ---


def waste(python: str, workdir: Path) -> list[str]:
    log("   learned memory: the simulation")
    root = workdir / "demo" / base.SLUG
    found = json.loads(child(python, root, WASTE, PACKAGE))
    builds = next(iter(found.values()))["builds"]
    rows = [
        f"| {name} | {row['requested']:,.0f} | {row['used']:,.0f} | {row['wasted']:,.0f} |"
        f" {row['later']:,.0f} | {100 * row['share']:.0f}% | {row['median']:,.0f} MiB |"
        f" {row['under']} |"
        for name, row in found.items()
    ]
    return [
        f"Memory asked of an engine for {builds:,} builds (8 parameters, 4 heavy), four waves:",
        "",
        "| sizing | requested (GiB) | used (GiB) | waste (GiB) | waste after wave 1 (GiB) |"
        " waste / requested | median waste per build | under-estimates (OOM, retried) |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
    ]


# --- 3. the report ---


def report(python: str, workdir: Path, size: tuple[int, int], opens: int) -> str:
    inputs, params = size
    log(f"   report: {inputs} x {params}: baking and writing synthetic builds")
    root = base.bake(workdir, inputs, params, extension="json")
    child(python, root, SYNTHESIZE, PACKAGE)
    shutil.rmtree(root / "output" / "_history_cache", ignore_errors=True)
    log("   report: writing it (cold, then warm)")
    command = base.builder(python, "report")
    cold = base.run_once(command, root)
    warm = base.run_once(command, root)
    page = root / "output" / "_report.html"
    size_mb = page.stat().st_size / 1e6
    loads, drawn = [], []
    for _ in range(opens):
        with browser.Browser() as chromium:
            loads.append(chromium.open(page))
            drawn.append(chromium.wait_for("return window.reportReady") / 1000)
            errors = [e for e in chromium.console() if e["level"] == "SEVERE"]
            if errors:
                raise SystemExit(f"the report at {inputs}x{params} has console errors: {errors}")
    return (
        f"| {inputs * params:,} | {size_mb:.1f} MB | {cold.wall:.1f} s | {warm.wall:.1f} s |"
        f" {statistics.median(loads):.2f} s | {statistics.median(drawn):.2f} s |"
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=lambda text: [base.parse_size(s) for s in text.split(",")],
        default=[(100, 100), (1000, 100)],
        help="the report's sizes, comma-separated INPUTSxPARAMS (default: 100x100,1000x100)",
    )
    parser.add_argument("--repeats", type=int, default=60, help="builds each way (default: 60)")
    parser.add_argument("--opens", type=int, default=3, help="browser opens per report")
    parser.add_argument(
        "--parts",
        type=lambda text: text.split(","),
        default=["overhead", "waste", "report"],
        help="which tables, comma-separated (default: overhead,waste,report)",
    )
    parser.add_argument(
        "--workdir", type=Path, default=base.TEMPLATE / ".bench", help="scratch folder"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    python = base.timed_python(workdir, [])
    have_browser = all(shutil.which(name) for name in browser.PROGRAMS)
    lines = [f"Machine: {base.machine()}; every Python program ran on {python}.", ""]
    if "overhead" in args.parts:
        lines += [*overhead(python, workdir, args.repeats), ""]
    if "waste" in args.parts:
        if not (workdir / "demo").is_dir():
            bake_demo(workdir)
        lines += [*waste(python, workdir), ""]
    if "report" not in args.parts:
        pass
    elif have_browser:
        rows = [report(python, workdir, size, args.opens) for size in args.sizes]
        lines += [
            f"The report (medians of {args.opens} opens in headless Chromium):",
            "",
            "| permutations | file | `report`, cold | `report`, warm | open: load event |"
            " open: grid drawn |",
            "|---|---|---|---|---|---|",
            *rows,
        ]
    else:
        lines.append("The report: not timed (no chromium and chromedriver here).")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    os.environ.pop("VIRTUAL_ENV", None)
    raise SystemExit(main())
