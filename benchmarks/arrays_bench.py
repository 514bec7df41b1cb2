"""Compile cost of an arrayed model against the size of its subscript range.

    .venv/bin/python benchmarks/arrays_bench.py                    # 10, 100, 1,000, 10,000 regions
    .venv/bin/python benchmarks/arrays_bench.py --sizes 10 100     # some sizes only
    .venv/bin/python benchmarks/arrays_bench.py --profile 1000     # cProfile of one cold load, by stage
    .venv/bin/python benchmarks/arrays_bench.py --write-model 100 out.mdl   # the model itself

The model (tests/data/population.mdl, which the dense route's tests run too): a population
over a `Region` range, 16 equations (stocks, flows, a SMOOTH,
a DELAY3, a lookup, an apply-to-all equation that divides by an array mean,
`crowding[Region] = population[Region] / (SUM(population[Region!]) / ELMCOUNT(Region))`).
Its text has the same length whatever the range's size; only the range changes.

Per size and tier (the compiled tier: the kernel compiled by Numba; the default tier
"auto": the interpreter while no kernel is compiled, no background compile), one fresh
process on an empty private kernel cache (`SMARTSPEC_CACHE_DIR`, a new temporary folder)
times `import smartspec_dsl`, `load` (shown apart: the issue's "cold load") and the first `run`: wall and CPU seconds
(`time.process_time` and the ended child processes', which the shared machine's other work does not inflate), and the
process's peak resident memory (`ru_maxrss`). A size whose child fails or exceeds the
timeout gets its error in the table. Before the table, one discarded load per tier at the
smallest size pays what an install pays once (bytecode, the helpers' machine code), which
otherwise lands in the first compiled row only (`--no-warm-up` keeps it there).
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import tempfile
import time
from pathlib import Path

from fresh import measure, report

SIZES = (10, 100, 1000, 10000)
TIMEOUT = 900

# the tests' population model (tests/data/population.mdl, over 7 regions), over n regions
MODEL = Path(__file__).resolve().parents[1] / "tests" / "data" / "population.mdl"


def model_text(n: int) -> str:
    """The population model over `n` regions (Vensim equations)."""
    return MODEL.read_text().replace("Region: (r1-r7)", f"Region: (r1-r{n})", 1)


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # kilobytes on Linux


def _cpu() -> float:
    """This process's CPU seconds and its ended children's: a large kernel's first compiled
    run compiles its time loop in a child process (backend/loop_aside.py), waited for."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def child(path: str, tier: str) -> None:
    out: dict = {"ok": False}
    w0, c0 = time.perf_counter(), _cpu()
    try:
        import smartspec_dsl
        w1, c1 = time.perf_counter(), _cpu()
        m = smartspec_dsl.load(path, tier=tier)
        w2, c2 = time.perf_counter(), _cpu()
        res = m.run(tier=tier)
        w3, c3 = time.perf_counter(), _cpu()
        out.update(ok=True, import_wall=w1 - w0, load_wall=w2 - w1, run_wall=w3 - w2,
                   import_cpu=c1 - c0, load_cpu=c2 - c1, run_cpu=c3 - c2, tier=res.tier,
                   cached=m.cached, peak_mib=_peak_mib(), n_slots=m.kernel.n_slots,
                   source_lines=m.kernel.source.count("\n"),
                   total=float(res.values[-1][res.columns.index("total population")])
                   if "total population" in res.columns else None)
    except Exception as err:  # noqa: BLE001 - reported in the table
        out.update(error=f"{type(err).__name__}: {err}"[:400], peak_mib=_peak_mib())
    report(out)


def measure_size(n: int, tier: str) -> dict:
    """One fresh process on an empty kernel cache: load + first run of the model at n regions."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, f"population_{n}.mdl")
        Path(path).write_text(model_text(n))
        cache = os.path.join(tmp, "kernel-cache")
        os.mkdir(cache)
        return measure([__file__, "--child", path, tier], cache, timeout=TIMEOUT)


# the pipeline's stages, by the module a profiled function is defined in
STAGES = (("front end", ("frontend/",)), ("flatten", ("passes/subscripts", "passes/array_functions",
                                                       "passes/flat_exprs", "ir/ranges")),
          ("stateful lowering", ("passes/stateful",)), ("other IR passes", ("passes/",)),
          ("loops over elements", ("backend/element_loops",)),
          ("codegen", ("backend/emit", "backend/codegen", "backend/driver")),
          ("tape", ("backend/tape",)), ("numba", ("numba/", "llvmlite/")))


def profile(n: int) -> None:
    """Where one cold load + first run (compiled tier) spends its time: cumulative CPU per
    stage (a function's time counts for the stage of the innermost smartspec frame above it)."""
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SMARTSPEC_CACHE_DIR"] = os.path.join(tmp, "cache")
        os.environ["SMARTSPEC_BACKGROUND_COMPILE"] = "0"
        path = os.path.join(tmp, f"population_{n}.mdl")
        Path(path).write_text(model_text(n))
        import smartspec_dsl
        prof = cProfile.Profile(time.process_time)
        prof.enable()
        m = smartspec_dsl.load(path, tier="compiled")
        m.run(tier="compiled")
        prof.disable()
    stats = pstats.Stats(prof)
    total = stats.total_tt
    # top-level stage entry points, cumulative (they nest, so they are listed, not summed)
    entries = {"parse_source": "front end", "flatten": "flatten", "lower_stateful": "stateful lowering",
               "lower": "all IR passes", "schedule": "order", "generate": "codegen (incl. loops over elements)",
               "statements": "loops over elements", "build_tape": "tape", "_import_kernel": "import + numba",
               "compile_model": "compile_model (all before numba)"}
    print(f"profile of a cold load + first run at {n} regions: {total:.2f} s CPU in all")
    seen = set()
    for (file, _, func), (_, _, _, ct, _) in sorted(stats.stats.items(), key=lambda kv: -kv[1][3]):
        if func in entries and "smartspec_dsl" in file and func not in seen:
            seen.add(func)
            print(f"  {entries[func]:36s} {ct:8.2f} s  ({func} in {file.split('smartspec_dsl/')[-1]})")
    print("own time by module:")
    own: dict[str, float] = {}
    for (file, _, _), (_, _, tt, _, _) in stats.stats.items():
        stage = next((s for s, keys in STAGES if any(k in file for k in keys)), "other")
        own[stage] = own.get(stage, 0.0) + tt
    for stage, t in sorted(own.items(), key=lambda kv: -kv[1]):
        print(f"  {stage:20s} {t:8.2f} s")
    stats.sort_stats("cumulative").print_stats(25)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    ap.add_argument("--tiers", nargs="+", default=["compiled", "auto"])
    ap.add_argument("--profile", type=int, metavar="N")
    ap.add_argument("--no-warm-up", action="store_true",
                    help="no discarded load per tier first (the first row then carries the install's once-only costs)")
    ap.add_argument("--write-model", nargs=2, metavar=("N", "PATH"))
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(*args.child)
    if args.write_model:
        Path(args.write_model[1]).write_text(model_text(int(args.write_model[0])))
        return None
    if args.profile:
        return profile(args.profile)
    if not args.no_warm_up:
        # Once per install, not per model: the package's bytecode and the machine code of the
        # helpers a kernel calls (Numba's cache, keyed on the install: backend/helper_cache.py)
        # are made by the first load that needs them (here 0.4 to 1 s of CPU), which the first
        # row would otherwise carry; a load after install has them, as run_benchmarks.py warms
        # the interpreter's. One discarded load per tier at the smallest size.
        for tier in args.tiers:
            measure_size(min(args.sizes), tier)
    print("| regions | tier | load + first run, CPU | wall | of which import | of which load | peak RSS | kernel lines "
          "| error |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---|")
    for n in args.sizes:
        for tier in args.tiers:
            r = measure_size(n, tier)
            if r.get("ok"):
                cpu = r["import_cpu"] + r["load_cpu"] + r["run_cpu"]
                wall = r["import_wall"] + r["load_wall"] + r["run_wall"]
                print(f"| {n:,} | {tier} ({r['tier']}) | {cpu:.2f} s | {wall:.2f} s | {r['import_cpu']:.2f} s | "
                      f"{r['load_cpu']:.2f} s | {r['peak_mib']:.0f} MiB | {r['source_lines']:,} | |", flush=True)
            else:
                print(f"| {n:,} | {tier} | – | – | – | – | {r.get('peak_mib', 0):.0f} MiB | | {r['error']} |",
                      flush=True)
    return None


if __name__ == "__main__":
    main()
