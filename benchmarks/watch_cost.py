"""What Vensim's simulation warnings cost per run: World3's `Model.run()` CPU time
with the warnings machinery (lookup-input and declared-range watches, the scan for
infinite or NaN values at every saved time, the warnings' report) and without it
(the same kernel generated with no watch and no scan).

    python benchmarks/watch_cost.py            # both, interleaved, best of several rounds

CPU time (time.process_time) of batches of runs, the smallest batch of each kind: on a
shared machine the smallest is the one least disturbed by other processes.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORLD3 = ROOT.parent / "shared" / "real-models" / "WRLD3-03" / "wrld3-03.mdl"


def measure(watched: bool, batches: int, runs: int) -> dict:
    """Per-run CPU seconds of World3, best batch, in this process."""
    if not watched:
        from numba import njit

        from smartspec_dsl.backend import emit, kernel_extra
        emit.Emitter.watched_lookup = lambda self, arg, key, table, name, pos: \
            f"lookup({arg}, {self.table(key, table)})"
        emit.Emitter.range_watches = lambda self, names: []
        kernel_extra.check_finite = njit(lambda v, n, s: None)
    import smartspec_dsl
    model = smartspec_dsl.load(WORLD3, cache_dir=tempfile.mkdtemp())
    result = model.run()
    best = float("inf")
    for _ in range(batches):
        t = time.process_time()
        for _ in range(runs):
            model.run()
        best = min(best, (time.process_time() - t) / runs)
    return {"watched": watched, "per_run_s": best, "warnings": len(result.warnings)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--one", choices=["watched", "unwatched"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(measure(args.one == "watched", args.batches, args.runs)))
        return
    best = {"watched": float("inf"), "unwatched": float("inf")}
    for _ in range(args.rounds):
        for kind in best:   # a fresh process each: the unwatched one patches the code generator
            out = subprocess.run([sys.executable, __file__, "--one", kind, "--batches", str(args.batches),
                                  "--runs", str(args.runs)], capture_output=True, text=True, check=True,
                                 env={**os.environ, "PYTHONPATH": str(ROOT)})
            best[kind] = min(best[kind], json.loads(out.stdout.splitlines()[-1])["per_run_s"])
    w, u = best["watched"], best["unwatched"]
    print(f"World3 per run (CPU): with warnings {1e3 * w:.3f} ms, without {1e3 * u:.3f} ms: "
          f"+{100 * (w / u - 1):.0f}%")


if __name__ == "__main__":
    main()
