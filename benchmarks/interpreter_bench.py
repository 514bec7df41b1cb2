"""The interpreter tier's targets (issue: instant first run), side by side in one run.

1. Time to the first result in a fresh process with an empty model cache (the
   interpreter's own Numba cache warm, as after install), on one core
   (`taskset -c 0` when available): World3 under 0.7 s, the beer game and a
   1,000-region arrayed model under 1.5 s. Measured around the whole child
   process (Python start-up, imports, parse, lowering, tape, interpreter load,
   run), wall and CPU.
2. Per-run time on World3, interpreter vs the specialised kernel (within 10x).

    python benchmarks/interpreter_bench.py [--repeat 3] [-o RESULTS-fragment.md]
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
WORLD3 = SHARED / "real-models" / "WRLD3-03" / "wrld3-03.mdl"
BEER = SHARED / "real-models" / "beer-game" / "RealBeer4-Sterman13.mdl"

FIRST = """\
import sys, time
t = time.perf_counter()
import smartspec_dsl
m = smartspec_dsl.load(sys.argv[1], tier=sys.argv[2])
r = m.run()
print(time.perf_counter() - t, r.tier, r.values.shape)
"""


def regions_model(n: int) -> str:
    """A 1,000-region arrayed model: stocks, flows, a lookup and a SUM per region."""
    return f"""\
region: (r1-r{n}) ~~|
growth[region] = 0.02 ~~|
capacity[region] = 1000 ~~|
effect table((0, 1), (0.5, 0.8), (1, 0), (2, -0.5)) ~~|
population[region] = INTEG(births[region] - deaths[region], 100) ~~|
births[region] = population[region] * growth[region] * effect table(population[region] / capacity[region]) ~~|
deaths[region] = population[region] / 70 ~~|
total = SUM(population[region!]) ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 100 ~~|
TIME STEP = 0.25 ~~|
SAVEPER = 1 ~~|
"""


def first_result(path: Path, tier: str, one_core: bool) -> tuple[float, float, float, str]:
    """(wall of the whole child process, its CPU time, the time it measured itself, tier)."""
    cache = tempfile.mkdtemp(prefix="smartspec-bench-cache-")
    env = dict(os.environ, SMARTSPEC_CACHE_DIR=cache, SMARTSPEC_BACKGROUND_COMPILE="0",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-c", FIRST, str(path), tier]
    if one_core and shutil.which("taskset"):
        cmd = ["taskset", "-c", "0"] + cmd
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout.split()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    shutil.rmtree(cache, ignore_errors=True)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, float(out[0]), out[1]


def per_run(path: Path, repeat: int) -> tuple[float, float]:
    """Best time of one run of `path`, interpreter then compiled kernel (seconds)."""
    sys.path.insert(0, str(ROOT))
    import smartspec_dsl
    model = smartspec_dsl.load(path, tier="compiled")
    best = {}
    for tier in ("interpreter", "compiled"):
        model.run(tier=tier)
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            model.run(tier=tier)
            times.append(time.perf_counter() - t)
        best[tier] = min(times)
    return best["interpreter"], best["compiled"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("-o", "--output", help="write the table (Markdown) here too")
    args = ap.parse_args()
    if not WORLD3.exists():
        print(f"needs {SHARED} beside the project", file=sys.stderr)
        return 1
    # warm the interpreter's own cache (as after install) in this process's tree
    with tempfile.TemporaryDirectory() as tmp:
        arrayed = Path(tmp) / "regions1000.mdl"
        arrayed.write_text(regions_model(1000))
        first_result(WORLD3, "interpreter", one_core=False)
        rows = []
        for name, path, target in (("World3", WORLD3, 0.7), ("beer game", BEER, 1.5),
                                   ("1,000-region arrayed model", arrayed, 1.5)):
            runs = [first_result(path, "interpreter", one_core=True) for _ in range(args.repeat)]
            wall, cpu, inner, tier = min(runs)
            rows.append(f"| {name} | {wall:.2f} s | {cpu:.2f} s | {inner:.2f} s | {target} s | "
                        f"{'yes' if wall < target else 'no'} | {tier} |")
        interp, compiled = per_run(WORLD3, max(args.repeat, 5))
    lines = ["Time to the first result, fresh process, empty model cache, interpreter cache warm, "
             "`taskset -c 0` (best of %d):" % args.repeat, "",
             "| model | wall (whole process) | CPU | load + run (in process) | target | met | tier |",
             "|---|---|---|---|---|---|---|", *rows, "",
             f"World3 per run: interpreter {interp * 1e3:.2f} ms, specialised kernel {compiled * 1e3:.2f} ms: "
             f"ratio {interp / compiled:.1f}x (target: within 10x)."]
    text = "\n".join(lines)
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
