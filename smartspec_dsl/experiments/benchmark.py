"""Timing a modeller's own model (`smartspec bench`): load cold and warm, one run, a
batch, throughput against the thread count, peak memory, and PySD beside it.

Each load is measured in a fresh process, as a user meets it: the cold load in
one whose kernel cache (`SMARTSPEC_CACHE_DIR`, see `runtime.cache_root`) is a new
empty folder, so the model is parsed, lowered and compiled to machine code; the
warm load in a second process on that same folder, which reads the kernel back.
Everything is timed on the compiled tier (the kernel), not on the interpreter that
the default tier runs while the kernel compiles. The warm process then times the runs:

- one run: `Model.run()` with the model's own settings (every variable at every
  saved time), the median of `runs` runs;
- a batch: `Model.run_batch` of about half a second's worth of single runs (at
  least `runs`, at most MAX_BATCH; defaults, one seed per row), every variable
  kept at the final time, as a sweep keeping statistics does; its time on all
  the threads given, divided by its runs;
- throughput: the same batch on each thread count, in runs per second;
- peak memory: the peak resident set size of each process (`ru_maxrss`): the
  cold one includes compiling, the warm one loading and every run.

With PySD (`pysd_python`: an interpreter that imports pysd), `pysd_worker.py`
times `pysd.read_vensim` and `model.run()` on a copy of the model's folder, and
the two runs' values are compared at every saved time both report, variable by
variable (matched by Vensim's rules for names); the largest relative difference
is reported with both values.
"""
from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ..errors import ModelError, SpecError
from ..ir import canonical_name

MAX_BATCH = 100_000
PYSD_WORKER = Path(__file__).with_name("pysd_worker.py")


def default_threads(available: int) -> list[int]:
    """1, 2, 4, ... up to `available`, and `available` itself."""
    counts, t = [], 1
    while t < available:
        counts.append(t)
        t *= 2
    return counts + [available]


def _peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024   # kilobytes on Linux


def _worker(args: dict) -> dict:
    """What one process measures (run by `python -m smartspec_dsl.experiments.benchmark`)."""
    from ..runtime import load
    started = time.perf_counter()
    # the compiled tier throughout: bench times the compile and the kernel, not the interpreter
    # that the default tier runs until the kernel is ready (runtime/tiers.py)
    model = load(args["model"], tier="compiled")
    out = {"load_s": time.perf_counter() - started, "cached": model.cached}
    if model.kernel.dynamic_control:
        raise ModelError(f"{args['model']}: the model changes FINAL TIME, TIME STEP or SAVEPER during "
                         "the run, and batches need them constant: bench cannot time its batches")
    if args["phase"] == "cold":
        # the parallel kernel too is compiled once, on the first batch, and then cached
        t = time.perf_counter()
        model.run_batch(model.parameter_matrix(n=1), times="final", tier="compiled")
        out.update(batch_first_call_s=time.perf_counter() - t, peak_bytes=_peak_bytes())
        return out
    import numba
    runs = args["runs"]
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        result = model.run(tier="compiled")
        times.append(time.perf_counter() - t)
    out.update(single_s=statistics.median(times), variables=len(result.columns), saved_times=len(result.time))
    if args.get("values"):
        np.savez(args["values"], time=result.time, values=result.values, columns=np.array(result.columns))
    # enough runs for the threads to share: about half a second of single runs, at least `runs`
    batch = int(min(MAX_BATCH, max(runs, 0.5 / max(out["single_s"], 1e-9))))
    P = model.parameter_matrix(n=batch, seeds=np.arange(batch))
    model.run_batch(P[:1], times="final", tier="compiled")       # reads the parallel kernel back from the cache
    available = numba.config.NUMBA_NUM_THREADS
    throughput = []
    for threads in args["threads"] or default_threads(available):
        numba.set_num_threads(threads)
        t = time.perf_counter()
        model.run_batch(P, times="final", tier="compiled")
        secs = time.perf_counter() - t
        throughput.append({"threads": threads, "seconds": secs, "runs_per_s": batch / secs if secs > 0 else None})
    numba.set_num_threads(available)
    out["batch_per_run_s"] = max(throughput, key=lambda x: x["threads"])["seconds"] / batch
    out.update(batch_runs=batch, throughput=throughput, available_threads=available, peak_bytes=_peak_bytes())
    return out


def _child(args: dict, cache: str) -> dict:
    """Run `_worker(args)` in a new Python process whose kernel cache is `cache`."""
    package_parent = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, SMARTSPEC_CACHE_DIR=cache, SMARTSPEC_BACKGROUND_COMPILE="0",
               PYTHONPATH=os.pathsep.join(p for p in (package_parent, os.environ.get("PYTHONPATH")) if p))
    proc = subprocess.run([sys.executable, "-m", "smartspec_dsl.experiments.benchmark", json.dumps(args)],
                          capture_output=True, text=True, env=env)
    try:
        reply = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise ModelError(f"{args['model']}: the {args['phase']} measurement failed: "
                         f"{(proc.stderr.strip().splitlines() or ['no output'])[-1]}") from None
    if "error" in reply:
        raise ModelError(reply["error"])
    return reply


def pysd_interpreter(given: str | None = None) -> str:
    """The Python that runs PySD: `given`, else this one if it imports pysd, else the
    checkout's `benchmarks/.venv-pysd` (made by benchmarks/pysd_env.sh). SpecError when none."""
    candidates = [given] if given else [sys.executable, str(
        Path(__file__).resolve().parents[2] / "benchmarks" / ".venv-pysd" / "bin" / "python")]
    for python in candidates:
        if python and Path(python).exists() and subprocess.run(
                [python, "-c", "import pysd"], capture_output=True).returncode == 0:
            return python
    raise SpecError("--compare pysd needs PySD: pip install pysd, or give an interpreter that has it "
                    "with --pysd-python (a checkout makes one with `bash benchmarks/pysd_env.sh`)"
                    + (f"; {given} does not import pysd" if given else ""))


def largest_difference(ours: dict, theirs: dict) -> dict | None:
    """The variable and time where two runs differ most, relatively (|a - b| / max(|a|, |b|),
    the absolute difference where both are 0), over the columns both have (names matched
    by `ir.canonical_name`) at the times both saved; None when they share none."""
    index = {canonical_name(c): j for j, c in enumerate(theirs["columns"])}
    t_ours, t_theirs = np.asarray(ours["time"], dtype=float), np.asarray(theirs["time"], dtype=float)
    rows = [(i, int(k)) for i, t in enumerate(t_ours)
            for k in np.flatnonzero(np.isclose(t_theirs, t, rtol=0, atol=1e-9 * max(1.0, abs(t))))[:1]]
    best, compared = None, 0
    for j, column in enumerate(ours["columns"]):
        k = index.get(canonical_name(column))
        if k is None or not rows:
            continue
        compared += 1
        a = np.array([ours["values"][i][j] for i, _ in rows], dtype=float)
        b = np.array([theirs["values"][r][k] for _, r in rows], dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.maximum(np.abs(a), np.abs(b))
            rel = np.where(scale > 0, np.abs(a - b) / np.where(scale > 0, scale, 1), 0.0)
        rel = np.where(np.isnan(a) & np.isnan(b), 0.0, np.where(np.isnan(rel), np.inf, rel))
        i = int(np.argmax(rel))
        if best is None or rel[i] > best["relative"]:
            best = {"variable": column, "time": float(t_ours[rows[i][0]]), "ours": float(a[i]),
                    "pysd": float(b[i]), "relative": float(rel[i]), "absolute": float(abs(a[i] - b[i]))}
    if best is not None:
        best.update(variables_compared=compared, times_compared=len(rows))
    return best


def bench(model_path, runs: int = 10, threads: list[int] | None = None, compare_pysd: bool = False,
          pysd_python: str | None = None) -> dict:
    """Measure `model_path` (see the module's docstring); a dict ready for JSON. Times in
    seconds, memory in bytes. ModelError (with the model's own message) when it does not
    load or run; SpecError when PySD is asked for and not found."""
    if runs < 1:
        raise SpecError(f"--runs must be at least 1, got {runs}")
    if threads:
        import numba
        if min(threads) < 1:
            raise SpecError(f"--threads: thread counts must be at least 1, got {min(threads)}")
        if max(threads) > numba.config.NUMBA_NUM_THREADS:
            raise SpecError(f"--threads: {max(threads)} threads asked for; Numba runs at most "
                            f"{numba.config.NUMBA_NUM_THREADS} here (NUMBA_NUM_THREADS)")
    python = pysd_interpreter(pysd_python) if compare_pysd else None
    path = str(Path(model_path))
    with tempfile.TemporaryDirectory(prefix="smartspec-bench-") as tmp:
        cache = os.path.join(tmp, "kernel-cache")
        os.mkdir(cache)
        cold = _child({"model": path, "phase": "cold"}, cache)
        values = os.path.join(tmp, "ours.npz") if python else None
        warm = _child({"model": path, "phase": "warm", "runs": runs, "threads": threads,
                       "values": values}, cache)
        report = {
            "model": path, "runs": runs, "variables": warm["variables"], "saved_times": warm["saved_times"],
            "load": {"cold_s": cold["load_s"], "warm_s": warm["load_s"], "cold_was_compiled": not cold["cached"],
                     "warm_was_cached": warm["cached"]},
            "run": {"single_s": warm["single_s"], "batch_runs": warm["batch_runs"],
                    "batch_per_run_s": warm["batch_per_run_s"],
                    "batch_first_call_cold_s": cold["batch_first_call_s"]},
            "throughput": warm["throughput"], "available_threads": warm["available_threads"],
            "peak_memory_bytes": {"cold": cold["peak_bytes"], "warm": warm["peak_bytes"]},
            "environment": _environment(), "pysd": None,
        }
        if python:
            report["pysd"] = _pysd(python, path, runs, values, tmp)
    return report


def _pysd(python: str, path: str, runs: int, ours_file: str, tmp: str) -> dict:
    theirs_file = os.path.join(tmp, "pysd.json")
    proc = subprocess.run([python, str(PYSD_WORKER), path, str(runs), theirs_file],
                          capture_output=True, text=True)
    try:
        reply = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        reply = {"ok": False, "error": (proc.stderr.strip().splitlines() or ["no output"])[-1]}
    if not reply.get("ok"):
        return reply
    with np.load(ours_file) as f:
        ours = {"time": f["time"], "values": f["values"], "columns": [str(c) for c in f["columns"]]}
    with open(theirs_file, encoding="utf-8") as fh:
        theirs = json.load(fh)
    reply["largest_difference"] = largest_difference(ours, theirs)
    return reply


def _environment() -> dict:
    import platform
    import numba
    return {"python": platform.python_version(), "numba": numba.__version__, "numpy": np.__version__,
            "cpus": os.cpu_count(), "machine": platform.machine()}


def main(argv=None) -> int:
    """The measuring process: one JSON line on stdout (the measures, or {"error": ...})."""
    args = json.loads((argv or sys.argv[1:])[0])
    try:
        reply = _worker(args)
    except ModelError as err:
        reply = {"error": str(err)}
    print(json.dumps(reply))
    return 0


if __name__ == "__main__":
    sys.exit(main())
