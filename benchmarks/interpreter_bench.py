"""The interpreter tier's targets (issue: instant first run), side by side in one run.

1. Time to the first result in a fresh process (the interpreter's own Numba cache
   warm, as after install), on one core (`taskset -c 0` when available): World3
   under 0.7 s, the beer game and a 1,000-region arrayed model under 1.5 s; with an
   empty model cache (cold) and with the model cache warm (its load alone under
   0.3 s). The first result is the moment the child has the run's values: its wall
   time is taken from the parent's clock at the child's start to the time the child
   prints, its CPU time is the child's own process time then (Python's start-up,
   imports, parse, lowering, tape, interpreter load, run). The whole process (with
   its exit) is shown beside. Targets are judged by CPU time: on a machine shared
   with other work the wall time mostly measures the others. "As after install"
   includes the interpreter compiled ahead of time (backend/interpreter_aot.py),
   built here first if it is missing; the tier column says which interpreter ran.
2. Per-run time on World3, interpreter vs the specialised kernel (within 10x).

    python benchmarks/interpreter_bench.py [--repeat 3] [-o RESULTS-fragment.md]
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from fresh import measure

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
WORLD3 = SHARED / "real-models" / "WRLD3-03" / "wrld3-03.mdl"
BEER = SHARED / "real-models" / "beer-game" / "RealBeer4-Sterman13.mdl"

FIRST = """\
import sys, time
t, c = time.perf_counter(), time.process_time()
import smartspec_dsl
m = smartspec_dsl.load(sys.argv[1], tier=sys.argv[2])
loaded, loaded_cpu = time.perf_counter() - t, time.process_time() - c
r = m.run()
from fresh import report
report(dict(now=time.time(), first_cpu=time.process_time(), inner=time.perf_counter() - t, load=loaded,
            load_cpu=loaded_cpu, tier=r.tier, cached=m.cached, numba="numba" in sys.modules))
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


def first_result(path: Path, tier: str, one_core: bool, cache: str) -> dict:
    """One fresh process loading and running `path` on the kernel cache `cache`: the time
    to its first result (wall, CPU), the whole process's (wall, CPU), load + run and load
    as timed in the process, the tier that ran and whether the load came from the cache."""
    core = ("taskset", "-c", "0") if one_core and shutil.which("taskset") else ()
    r = measure(["-c", FIRST, path, tier], cache, prefix=core)
    if not r.get("tier"):
        raise RuntimeError(f"{path}: {r.get('error')}")
    # a first result that never imported Numba ran the interpreter compiled ahead of time
    ahead = " (ahead of time)" if r["tier"] == "interpreter" and not r["numba"] else ""
    return {**r, "first_wall": r["now"] - r["started"], "wall": r["wall_s"], "cpu": r["cpu_s"],
            "tier": r["tier"] + ahead}


def install_interpreter() -> None:
    """What an install does once: the interpreter's Numba cache (a first run) and its
    module compiled ahead of time (backend/interpreter_aot.py), so that the fresh
    processes below start as a user's do."""
    with tempfile.TemporaryDirectory() as tmp:
        first_result(WORLD3, "interpreter", False, tmp)
        built = measure(["-c", "from smartspec_dsl.backend.interpreter_aot import build, load\n"
                               "from fresh import report\nreport({'built': str(load() or build())})"], tmp)
    if "built" not in built:
        raise RuntimeError(f"the interpreter's build ahead of time failed: {built.get('error')}")


def measured(path: Path, repeat: int) -> tuple[dict, dict]:
    """Best of `repeat` (by CPU time to the first result): cold (an empty model cache each
    time) and warm (the same cache again)."""
    cold, warm = [], []
    for _ in range(repeat):
        cache = tempfile.mkdtemp(prefix="smartspec-bench-cache-")
        try:
            cold.append(first_result(path, "interpreter", True, cache))
            warm.append(first_result(path, "interpreter", True, cache))
        finally:
            shutil.rmtree(cache, ignore_errors=True)
    best = lambda runs: min(runs, key=lambda r: r["first_cpu"])    # noqa: E731
    return best(cold), best(warm)


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
    install_interpreter()
    with tempfile.TemporaryDirectory() as tmp:
        arrayed = Path(tmp) / "regions1000.mdl"
        arrayed.write_text(regions_model(1000))
        rows = []
        for name, path, target in (("World3", WORLD3, 0.7), ("beer game", BEER, 1.5),
                                   ("1,000-region arrayed model", arrayed, 1.5)):
            cold, warm = measured(path, args.repeat)
            for label, r in (("cold", cold), ("warm", warm)):
                # judged by CPU time: on a machine shared with other work, wall time mostly
                # measures the others (on a quiet one the two are within a few hundredths)
                met = r["first_cpu"] < target and (label == "cold" or r["load_cpu"] < 0.3)
                rows.append(f"| {name} | {label} | {r['first_cpu']:.2f} s | {r['first_wall']:.2f} s | "
                            f"{r['cpu']:.2f} s | {r['wall']:.2f} s | {r['load_cpu']:.2f} s | "
                            f"{target} s{'' if label == 'cold' else ', load 0.3 s'} | {'yes' if met else 'no'} | "
                            f"{r['tier']}{'' if r['cached'] == (label == 'warm') else ' (cache?)'} |")
        interp, compiled = per_run(WORLD3, max(args.repeat, 5))
    lines = ["Time to the first result, fresh process, interpreter cache warm, `taskset -c 0` (best of %d); "
             "cold: an empty model cache, warm: the model cache holding the model:" % args.repeat, "",
             "| model | model cache | first result, CPU | first result, wall | whole process, CPU | "
             "whole process, wall | load, CPU | target (CPU) | met | tier |",
             "|---|---|---|---|---|---|---|---|---|---|", *rows, "",
             f"World3 per run: interpreter {interp * 1e3:.2f} ms, specialised kernel {compiled * 1e3:.2f} ms: "
             f"ratio {interp / compiled:.1f}x (target: within 10x)."]
    text = "\n".join(lines)
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
