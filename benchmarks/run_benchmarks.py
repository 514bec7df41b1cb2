"""smartspec benchmarks, everything side by side in one run; writes benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/run_benchmarks.py            # full (a few minutes)
    .venv/bin/python benchmarks/run_benchmarks.py --quick    # fewer repeats, smaller batch, no sweeps
    .venv/bin/python benchmarks/run_benchmarks.py --quick --sweeps --models teacup   # small sweeps too

Per model (teacup, tests/delays, World3, the beer game):
  * cold compile: a fresh subprocess with a fresh empty SMARTSPEC_CACHE_DIR times
    `import smartspec_dsl` + `load` + first `run` (in-process clocks);
  * warm load: a second fresh subprocess on the now warm cache, same timings,
    then the per-run time of `Model.run()` (all columns, default parameters) with
    the cached kernel: median over many repeats;
  * PySD: `pysd_runner.py` in benchmarks/.venv-pysd (created by pysd_env.sh if
    missing) reports read_vensim time and the median per-run time;
  * ratio PySD per run / smartspec per run.
A model that fails (compile, load or run) gets its error in the table.

Teacup only: the generated kernel against the hand-written one (handwritten.py),
one run and a parallel batch of N runs varying Room Temperature and
Characteristic Time (final values only, and full trajectories).

Sweeps (full mode, or --sweeps; --no-sweeps skips them; the issue's targets are
tabulated with pass/fail at the top of RESULTS.md):
  * teacup, 1,000,000 runs over Room Temperature x Characteristic Time: final
    values (`sweep(m, ..., times="final")`, kept) and full trajectories
    (`sweep(m, ..., keep_runs=False, stats=("mean",))`, default chunks), runs/s vs
    the hand-written prange kernels on the same runs with the same output (and
    `run_batch` for reference), and vs PySD (300 runs, both constants varied);
  * thread scaling: the final-values sweep with numba.set_num_threads(1) and (2),
    each in a fresh subprocess;
  * peak RSS (ru_maxrss) of a 10,000,000-run teacup Monte Carlo keeping only
    mean/std/p5/p50/p95, in a fresh subprocess, with its wall time;
  * World3, 1,000 runs over 10 constants (+-10% uniform): seconds per run in the
    sweep vs PySD (per-model table) and vs a loop of Model.run;
  * World3 cold (median of 3 fresh processes, each with an empty cache) and warm
    load + first run come from the per-model children (3 of each in full mode), as
    does the beer game's cold load on the compiled tier (target 3 s).

Models are read from ../shared beside the project root (never copied).
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

from fresh import FORKED, measure, report

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PYSD_VENV = HERE / ".venv-pysd"
PYSD_PY = PYSD_VENV / "bin" / "python"

MODELS = {  # key -> (label, path relative to ../shared)
    "teacup": ("teacup", "test-models/samples/teacup/teacup.mdl"),
    "delays": ("tests/delays", "test-models/tests/delays/test_delays.mdl"),
    "world3": ("World3 (wrld3-03)", "real-models/WRLD3-03/wrld3-03.mdl"),
    "beer": ("the beer game (RealBeer4-Sterman13)", "real-models/beer-game/RealBeer4-Sterman13.mdl"),
}
CHILD_TIMEOUT = 1200


# ---------------------------------------------------------------------------
# timing helpers

def bench(fn, budget_s: float, max_samples: int, min_samples: int = 5, sample_s: float = 0.002):
    """Median seconds per call of fn(). Fast calls are grouped so that one
    sample lasts about sample_s; samples are taken until budget_s or max_samples."""
    t = time.perf_counter()
    fn()
    once = time.perf_counter() - t
    inner = max(1, int(sample_s / once)) if once > 0 else 1000
    samples = []
    started = time.perf_counter()
    while len(samples) < max_samples and (len(samples) < min_samples
                                          or time.perf_counter() - started < budget_s):
        t = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - t) / inner)
    return statistics.median(samples), len(samples) * inner


def fmt_time(s) -> str:
    if s is None:
        return "–"
    if s < 1e-3:
        return f"{s * 1e6:.1f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def fmt_ratio(x) -> str:
    if x is None:
        return "–"
    return f"{x:,.0f}×" if x >= 100 else f"{x:.1f}×" if x >= 1 else f"{x:.2f}×"


def cell_error(msg: str, limit: int = 160) -> str:
    msg = " ".join(str(msg).split()).replace("|", "\\|")
    return "**failed**: " + (msg[:limit] + "…" if len(msg) > limit else msg)


# ---------------------------------------------------------------------------
# child: one fresh process timing import + load + first run (+ per-run repeats)

def child_main(model: str, repeats: int, budget: float, tier: str = "auto") -> None:
    out: dict = {"ok": False}
    t0 = time.perf_counter()
    try:
        stage = "import"
        import smartspec_dsl
        t1 = time.perf_counter()
        stage = "load"
        m = smartspec_dsl.load(model, tier=tier)
        t2 = time.perf_counter()
        stage = "run"
        res = m.run(tier=tier)
        t3 = time.perf_counter()
        out.update(import_s=t1 - t0, load_s=t2 - t1, first_run_s=t3 - t2, total_s=t3 - t0,
                   cached=m.cached, compile_seconds=m.compile_seconds,
                   shape=list(res.values.shape), tier=res.tier, numba="numba" in sys.modules,
                   digest=hashlib.sha256(res.values.tobytes()).hexdigest())
        if tier == "compiled" and not m.cached:
            # what the first compiled run starts in a background process (off here: it would
            # compete with the clocks): the kernel's single run compiled ahead of time, which
            # the warm loads run without importing Numba (backend/kernel_aot.py)
            from smartspec_dsl.backend import kernel_aot
            stage = "build ahead of time"
            kernel_aot.build(m._tiers.kernel_path.parent, m._tiers.module())
        if repeats:
            stage = "repeat"
            per_run, n = bench(lambda: m.run(tier=tier), budget, repeats)
            out.update(per_run_s=per_run, per_run_n=n)
        out["ok"] = True
    except Exception as err:  # noqa: BLE001 - reported in the table
        out.update(stage=stage, error=f"{type(err).__name__}: {err}",
                   traceback=traceback.format_exc()[-3000:])
    report(out)


def run_child(model: Path, cache_dir: str, repeats: int, budget: float, tier: str = "compiled") -> dict:
    """tier "auto": the first result as a user gets it (the interpreter while nothing is compiled;
    no background compile, which would only compete for the cores); "compiled": the kernel."""
    return measure([Path(__file__).resolve(), "--child", model, "--repeats", repeats, "--budget", budget,
                    "--tier", tier], cache_dir, timeout=CHILD_TIMEOUT)


# ---------------------------------------------------------------------------
# PySD

def ensure_pysd(log) -> str | None:
    """None if the PySD venv works, else why not."""
    if not PYSD_PY.exists():
        log("PySD venv missing: running benchmarks/pysd_env.sh")
        proc = subprocess.run(["bash", str(HERE / "pysd_env.sh")], capture_output=True, text=True)
        if proc.returncode != 0:
            return f"pysd_env.sh failed: {proc.stderr[-300:]}"
    proc = subprocess.run([str(PYSD_PY), "-c", "import pysd; print(pysd.__version__)"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return f"cannot import pysd in {PYSD_VENV}: {proc.stderr[-300:]}"
    return None


def run_pysd(model: Path, runs: int, warmup: int, vary: dict | None = None) -> dict:
    cmd = [str(PYSD_PY), str(HERE / "pysd_runner.py"), str(model),
           "--runs", str(runs), "--warmup", str(warmup)]
    if vary:
        cmd += ["--vary", json.dumps(vary)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=CHILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        return {"ok": False, "stage": "timeout", "error": f"timed out after {CHILD_TIMEOUT} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        return {"ok": False, "stage": "crash",
                "error": f"exit {proc.returncode}: {(proc.stderr or proc.stdout)[-400:]}"}
    return json.loads(lines[-1])


# ---------------------------------------------------------------------------
# teacup: generated vs hand-written

def teacup_comparison(model_path: Path, cache_dir: str, cfg: dict, log) -> dict:
    import numpy as np
    import smartspec_dsl
    sys.path.insert(0, str(HERE))
    import handwritten as hw

    m = smartspec_dsl.load(model_path, cache_dir=cache_dir, tier="compiled")
    mod = m._tiers.module()
    p = m.defaults.copy()
    t0, dt, n_steps, save_every = m.control(p)
    assert (t0, dt, n_steps) == (hw.T0, hw.DT, hw.N_STEPS), (t0, dt, n_steps)
    col = m.kernel.slots["teacup temperature"]
    save_idx = np.array([col], dtype=np.int64)
    tab = m.kernel.tables
    n_save = n_steps // save_every + 1
    i_room, i_tau = m.param_index("Room Temperature"), m.param_index("Characteristic Time")
    room, tau = p[i_room], p[i_tau]
    budget, samples = cfg["budget"], cfg["max_samples"]
    out = {"single": [], "batch": [], "n": cfg["batch_n"]}

    # -- one run -------------------------------------------------------------
    gen_out = np.empty((n_save, 1))
    hw_out = np.empty(n_save)
    mod.simulate(p, tab, gen_out, save_idx, t0, dt, n_steps, save_every, 0)
    hw.teacup_run(room, tau, hw.T_INIT, dt, n_steps, save_every, hw_out)
    diff = float(np.max(np.abs(gen_out[:, 0] - hw_out)))
    fin = hw.teacup_final(room, tau, hw.T_INIT, dt, n_steps)
    rows = [
        ("`Model.run()` (all 8 columns, Python-side prep)", lambda: m.run()),
        ("`Model.run(return_columns=['Teacup Temperature'])`",
         lambda: m.run(return_columns=["Teacup Temperature"])),
        ("generated `simulate()` kernel, 1-column trajectory",
         lambda: mod.simulate(p, tab, gen_out, save_idx, t0, dt, n_steps, save_every, 0)),
        ("hand-written `teacup_run`, trajectory",
         lambda: hw.teacup_run(room, tau, hw.T_INIT, dt, n_steps, save_every, hw_out)),
        ("hand-written `teacup_final`, final value only",
         lambda: hw.teacup_final(room, tau, hw.T_INIT, dt, n_steps)),
    ]
    for label, fn in rows:
        s, n = bench(fn, budget, samples)
        out["single"].append({"label": label, "per_run_s": s, "calls": n})
        log(f"  {label}: {fmt_time(s)}")
    out["single_diff"] = diff
    out["final_temperature"] = fin

    # -- batch -----------------------------------------------------------------
    N = cfg["batch_n"]
    rooms, taus = hw.grid(N)
    P = np.tile(p, (N, 1))
    P[:, i_room], P[:, i_tau] = rooms, taus

    def timed(fn, reps):
        ts = []
        for _ in range(reps):
            t = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t)
        return min(ts), statistics.median(ts)

    # warm up (simulate_batch is compiled, or loaded from Numba's cache, on first call)
    small = min(N, 64)
    t = time.perf_counter()
    mod.simulate_batch(P[:small], tab, np.empty((small, 2, 1)), save_idx, t0, dt, n_steps, n_steps, 0)
    out["batch_first_call_s"] = time.perf_counter() - t
    hw.teacup_batch_final(rooms[:small], taus[:small], hw.T_INIT, dt, n_steps, np.empty(small))
    hw.teacup_batch_traj(rooms[:small], taus[:small], hw.T_INIT, dt, n_steps, save_every,
                         np.empty((small, n_save)))

    # final values only: the generated kernel always writes a trajectory; saving
    # every n_steps steps keeps just the first and the last value.
    # outputs are pre-touched (filled) so that page faults are not timed
    OUT_f = np.full((N, 2, 1), np.nan)
    hw_f = np.full(N, np.nan)
    reps = cfg["batch_reps"]
    g = timed(lambda: mod.simulate_batch(P, tab, OUT_f, save_idx, t0, dt, n_steps, n_steps, 0), reps)  # noqa: F821
    h = timed(lambda: hw.teacup_batch_final(rooms, taus, hw.T_INIT, dt, n_steps, hw_f), reps)
    d = float(np.max(np.abs(OUT_f[:, -1, 0] - hw_f)))
    out["batch"].append({"output": "final values only", "gen": g, "hw": h, "diff": d})
    log(f"  batch final: generated {N / g[1]:,.0f} runs/s, hand-written {N / h[1]:,.0f} runs/s")
    del OUT_f

    OUT_t = np.full((N, n_save, 1), np.nan)
    hw_t = np.full((N, n_save), np.nan)
    g = timed(lambda: mod.simulate_batch(P, tab, OUT_t, save_idx, t0, dt, n_steps, save_every, 0), reps)
    h = timed(lambda: hw.teacup_batch_traj(rooms, taus, hw.T_INIT, dt, n_steps, save_every, hw_t), reps)
    d = float(np.max(np.abs(OUT_t[:, :, 0] - hw_t)))
    out["batch"].append({"output": f"trajectories ({n_save} points × 1 column)", "gen": g, "hw": h,
                         "diff": d})
    log(f"  batch traj: generated {N / g[1]:,.0f} runs/s, hand-written {N / h[1]:,.0f} runs/s")
    return out


# ---------------------------------------------------------------------------
# sweeps (the issue's targets): teacup 1M runs, World3 1k runs, thread scaling,
# peak RSS of a 10M-run Monte Carlo. Fresh-process parts run as children.

TARGETS = {
    "hw_ratio": 0.5,          # ours runs/s / hand-written runs/s
    "pysd_teacup": 1000.0,    # ours runs/s / PySD runs/s
    "pysd_world3": 30000.0,   # PySD s per run / sweep s per run
    "scaling": 1.7,           # 2 threads / 1 thread
    "rss_bytes": 2 ** 30,     # peak RSS of the 10M-run Monte Carlo
    "cold_s": 2.0,            # World3 import + load + first run, empty cache (issue 13)
    "cold_beer_s": 3.0,       # the beer game's, compiled tier (arrays: issue 13)
    "warm_s": 0.3,            # World3 load + first run after import, warm cache (issue 13)
}
TEACUP_OUT = ["Teacup Temperature"]
WORLD3_PARAMS = [  # 10 real constants of wrld3-03, each ~ U(0.9 x default, 1.1 x default)
    "desired completed family size normal", "average life of industrial capital 1",
    "average life of service capital 1", "industrial capital output ratio 1",
    "initial nonrenewable resources", "life expectancy normal", "land fraction harvested",
    "processing loss", "social discount", "subsistence food per capita",
]
RSS_STATS = ("mean", "std", "p5", "p50", "p95")
W3_ALL_STATS = ("mean", "std", "min", "max", "p5", "p95")


def _timed(fn, reps):
    """(min, median) seconds of reps calls; returns the last call's value too."""
    ts, val = [], None
    for _ in range(reps):
        t = time.perf_counter()
        val = fn()
        ts.append(time.perf_counter() - t)
    return (min(ts), statistics.median(ts)), val


def _interleaved(fns: dict, reps: int):
    """Like _timed for several callables, taking turns (a, b, c, a, b, c, ...) so that
    changes in machine load hit every engine alike. Returns ({name: (min, median)},
    {name: last value})."""
    ts = {k: [] for k in fns}
    vals = {}
    for _ in range(reps):
        for k, fn in fns.items():
            vals[k] = None  # free the previous result before the next call
            t = time.perf_counter()
            vals[k] = fn()
            ts[k].append(time.perf_counter() - t)
    return {k: (min(v), statistics.median(v)) for k, v in ts.items()}, vals


def teacup_sweeps(model_path: Path, cache_dir: str, cfg: dict, log) -> dict:
    """1M runs over Room Temperature and Characteristic Time: `Model.sweep` vs the
    hand-written prange kernels on the very same (room, tau) pairs and output."""
    import numpy as np
    import smartspec_dsl
    sys.path.insert(0, str(HERE))
    import handwritten as hw

    m = smartspec_dsl.load(model_path, cache_dir=cache_dir, tier="compiled")
    N, reps = cfg["sweep_n"], cfg["sweep_reps"]
    rooms, taus = hw.grid(N, seed=1)
    params = {"Room Temperature": rooms, "Characteristic Time": taus}
    t0, dt, n_steps, save_every = m.control(m.defaults.copy())
    n_save = n_steps // save_every + 1
    out = {"n": N, "reps": reps, "rows": []}
    # warm-up: Numba cache load of simulate_batch and the prange kernels
    small = {k: v[:256] for k, v in params.items()}
    smartspec_dsl.sweep(m, small, outputs=TEACUP_OUT, times="final", progress=False, seed=0)
    smartspec_dsl.sweep(m, small, outputs=TEACUP_OUT, times="all", keep_runs=False, stats=("mean",), progress=False, seed=0)
    hw.teacup_batch_final(rooms[:256], taus[:256], hw.T_INIT, dt, n_steps, np.empty(256))
    hw.teacup_batch_traj(rooms[:256], taus[:256], hw.T_INIT, dt, n_steps, save_every, np.empty((256, n_save)))

    # -- final values only ------------------------------------------------------
    def hw_final():
        o = np.empty(N)
        hw.teacup_batch_final(rooms, taus, hw.T_INIT, dt, n_steps, o)
        return o

    def rb_final():
        return m.run_batch(m.parameter_matrix(params, n=N), TEACUP_OUT, "final").values
    tm, vals = _interleaved({
        "ours": lambda: smartspec_dsl.sweep(m, params, outputs=TEACUP_OUT, times="final", keep_runs=True,
                                progress=False, seed=0),
        "hw": hw_final, "rb": rb_final}, reps)
    g, h, r = tm["ours"], tm["hw"], tm["rb"]
    ours_final = vals["ours"].values[:, -1, 0]
    chunk_final = vals["ours"].info["chunk_size"]
    hw_vals, rb_vals = vals["hw"], vals["rb"]
    out["rows"].append({
        "what": "final values only (1 output, kept for every run)",
        "ours_label": f"`sweep(m, params, outputs=['Teacup Temperature'], times='final')` "
                      f"(keep_runs=True; chunk {chunk_final:,})",
        "ours": g, "hw": h, "run_batch": r,
        "run_batch_label": f"`m.run_batch(m.parameter_matrix(params), ..., times='final')`, one call of {N:,}",
        "hw_label": "`teacup_batch_final` (prange), one call",
        "diff": float(max(np.max(np.abs(ours_final - hw_vals)), np.max(np.abs(rb_vals[:, -1, 0] - hw_vals)))),
        "target": True})
    log(f"  sweep final: ours {N / g[1]:,.0f} runs/s, hand-written {N / h[1]:,.0f}, run_batch {N / r[1]:,.0f}")
    del ours_final, hw_vals, rb_vals, vals

    # -- full trajectories, mean over runs per saved time --------------------------
    chunk = smartspec_dsl.sweep(m, small, outputs=TEACUP_OUT, times="all", keep_runs=False, stats=("mean",),
                    progress=False, seed=0).info["chunk_size"]   # the default chunk (not run-count dependent)

    def hw_traj():  # same chunks as the sweep, numpy sum per saved time
        buf = np.empty((chunk, n_save))
        acc = np.zeros(n_save)
        for s in range(0, N, chunk):
            e = min(N, s + chunk)
            hw.teacup_batch_traj(rooms[s:e], taus[s:e], hw.T_INIT, dt, n_steps, save_every, buf[:e - s])
            acc += buf[:e - s].sum(axis=0)
        return acc / N
    rb_chunk = cfg["run_batch_chunk"]

    def rb_traj():
        acc = np.zeros(n_save)
        for s in range(0, N, rb_chunk):
            e = min(N, s + rb_chunk)
            v = m.run_batch(m.parameter_matrix({k: a[s:e] for k, a in params.items()}, n=e - s),
                            TEACUP_OUT, "all").values
            acc += v[:, :, 0].sum(axis=0)
        return acc / N
    tm, vals = _interleaved({
        "ours": lambda: smartspec_dsl.sweep(m, params, outputs=TEACUP_OUT, times="all", keep_runs=False,
                                stats=("mean",), progress=False, seed=0),
        "hw": hw_traj, "rb": rb_traj}, reps)
    g, h, r = tm["ours"], tm["hw"], tm["rb"]
    ours_mean = vals["ours"].stats["mean"][:, 0]
    assert vals["ours"].info["chunk_size"] == chunk, (vals["ours"].info, chunk)
    hw_mean, rb_mean = vals["hw"], vals["rb"]
    out["rows"].append({
        "what": f"full trajectories ({n_save} points), mean over runs per time",
        "ours_label": f"`sweep(m, params, outputs=['Teacup Temperature'], times='all', keep_runs=False, "
                      f"stats=('mean',))` (default chunk {chunk:,} runs)",
        "ours": g, "hw": h, "run_batch": r,
        "run_batch_label": f"`m.run_batch` in chunks of {rb_chunk:,} + numpy sum",
        "hw_label": f"`teacup_batch_traj` (prange) in the sweep's chunks of {chunk:,} + numpy sum",
        "diff": float(max(np.max(np.abs(ours_mean - hw_mean)), np.max(np.abs(rb_mean - hw_mean)))),
        "target": True})
    log(f"  sweep traj: ours {N / g[1]:,.0f} runs/s, hand-written {N / h[1]:,.0f}, run_batch {N / r[1]:,.0f}")
    return out


def world3_sweeps(model_path: Path, cache_dir: str, cfg: dict, log) -> dict:
    """1,000 runs over 10 constants (±10% uniform): sweep vs a loop of Model.run."""
    import numpy as np
    import smartspec_dsl

    t = time.perf_counter()
    m = smartspec_dsl.load(model_path, cache_dir=cache_dir, tier="compiled")
    load_s = time.perf_counter() - t
    N, reps = cfg["world3_n"], cfg["world3_reps"]
    rng = np.random.default_rng(3)
    params = {}
    for name in WORLD3_PARAMS:
        d = m.defaults[m.param_index(name)]
        params[name] = rng.uniform(0.9 * d, 1.1 * d, N)
    # warm-up (simulate_batch: Numba cache load or compile)
    t = time.perf_counter()
    smartspec_dsl.sweep(m, {k: v[:4] for k, v in params.items()}, times="final", progress=False, seed=0)
    first_batch_s = time.perf_counter() - t
    out = {"n": N, "reps": reps, "load_s": load_s, "first_batch_s": first_batch_s,
           "params": WORLD3_PARAMS, "rows": []}
    cols = list(params)

    def loop():
        last = None
        for i in range(N):
            last = m.run(params={k: float(params[k][i]) for k in cols})
        return last
    kinds = [  # the first is the target's sweep, the second the final-values one (see sweeps_report)
        ("sweep, all outputs × all 401 times, keep_runs=False, stats=('mean',)",
         dict(times="all", keep_runs=False, stats=("mean",))),
        ("sweep, all outputs, final values, keep_runs=True",
         dict(times="final", keep_runs=True)),
        ("sweep, all outputs × all 401 times, keep_runs=False, "
         f"stats={W3_ALL_STATS!r} (percentiles from the streaming histograms)",
         dict(times="all", keep_runs=False, stats=W3_ALL_STATS)),
    ]
    fns = {label: (lambda kw=kw: smartspec_dsl.sweep(m, params, progress=False, seed=0, **kw)) for label, kw in kinds}
    fns["loop"] = loop
    tm, vals = _interleaved(fns, reps)
    for label, _ in kinds:
        res = vals[label]
        out["rows"].append({"label": label + f" (chunk {res.info['chunk_size']:,})", "s": tm[label],
                            "shape": [N, len(res.time), len(res.outputs)]})
        log(f"  World3 {label}: {tm[label][1] / N * 1e6:.1f} µs/run")
    s, last = tm["loop"], vals["loop"]
    del vals, res
    out["rows"].append({"label": f"loop of {N:,} `Model.run(params=...)` (all columns, all times)",
                        "s": s, "shape": [N] + list(last.values.shape), "loop": True})
    log(f"  World3 loop of Model.run: {s[1] / N * 1e6:.1f} µs/run")
    return out


def sweep_child_main(kind: str, args: dict) -> None:
    """Fresh-process sweep measurements (scaling, rss); prints one @@RESULT@@ line."""
    out: dict = {"ok": False}
    try:
        import resource
        t_start = time.perf_counter()
        import numba
        import numpy as np
        import smartspec_dsl
        if kind == "scaling":
            numba.set_num_threads(args["threads"])
            sys.path.insert(0, str(HERE))
            import handwritten as hw
            m = smartspec_dsl.load(args["model"], tier="compiled")
            N, reps = args["n"], args["reps"]
            rooms, taus = hw.grid(N, seed=1)
            params = {"Room Temperature": rooms, "Characteristic Time": taus}
            _, dt, n_steps, _ = m.control(m.defaults.copy())
            smartspec_dsl.sweep(m, {k: v[:256] for k, v in params.items()}, outputs=TEACUP_OUT, times="final",
                    progress=False, seed=0)
            hw.teacup_batch_final(rooms[:256], taus[:256], hw.T_INIT, dt, n_steps, np.empty(256))
            o = np.empty(N)
            tm, _ = _interleaved({
                "sweep": lambda: smartspec_dsl.sweep(m, params, outputs=TEACUP_OUT, times="final", progress=False, seed=0),
                "hw": lambda: hw.teacup_batch_final(rooms, taus, hw.T_INIT, dt, n_steps, o)}, reps)
            s, h = tm["sweep"], tm["hw"]
            out.update(threads=numba.get_num_threads(), n=N, sweep_s=s, hw_s=h,
                       loadavg=os.getloadavg()[0])
        elif kind == "rss":
            from smartspec_dsl.experiments.samplers import Random, Uniform
            m = smartspec_dsl.load(args["model"], tier="compiled")
            rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            sampler = Random({"Room Temperature": Uniform(50, 90),
                              "Characteristic Time": Uniform(5, 20)}, args["n"])
            t = time.perf_counter()
            res = smartspec_dsl.sweep(m, sampler, times=args["times"], keep_runs=False, stats=RSS_STATS,
                          progress=False, seed=7)
            sweep_s = time.perf_counter() - t
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            hwm = next((int(ln.split()[1]) * 1024 for ln in open("/proc/self/status")
                        if ln.startswith("VmHWM:")), None)
            i = res.outputs.index("Teacup Temperature")
            out.update(n=args["n"], times=args["times"], sweep_s=sweep_s, rss_loaded=rss_loaded,
                       peak_rss=rss, vm_hwm=hwm, chunk_size=res.info["chunk_size"], chunks=res.info["chunks"],
                       outputs=len(res.outputs), saved_times=len(res.time),
                       teacup_final={k: float(v[-1, i]) for k, v in res.stats.items()},
                       threads=numba.get_num_threads(), process_s=time.perf_counter() - t_start,
                       loadavg=os.getloadavg()[0])
        else:
            raise ValueError(f"unknown sweep child {kind!r}")
        out["ok"] = True
    except Exception as err:  # noqa: BLE001 - reported in the table
        out.update(error=f"{type(err).__name__}: {err}", traceback=traceback.format_exc()[-3000:])
    report(out)


def run_sweep_child(kind: str, args: dict, cache_dir: str) -> dict:
    """A sweep child in a fresh process, its peak RSS its own (`fresh.FORKED`), on all threads."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_NUM_THREADS"}
    return measure([Path(__file__).resolve(), "--sweep-child", kind, "--sweep-args", json.dumps(args)], cache_dir,
                   timeout=CHILD_TIMEOUT, prefix=FORKED, env=env)


def run_sweeps(cfg: dict, rows: list, caches: dict, pysd_note, log) -> dict:
    """Everything for the 'Sweeps' section; each part fails on its own."""
    import numpy as np
    sw: dict = {}

    def cache_for(key):
        if key not in caches:
            caches[key] = tempfile.mkdtemp(prefix=f"smartspec-bench-{key}-")
        return caches[key]

    def part(name, fn):
        try:
            sw[name] = fn()
        except Exception as err:  # noqa: BLE001
            traceback.print_exc()
            sw[name] = {"ok": False, "error": f"{type(err).__name__}: {err}"}

    teacup_path = SHARED / MODELS["teacup"][1]
    world3_path = SHARED / MODELS["world3"][1]
    if teacup_path.is_file():
        log(f"[sweeps] teacup {cfg['sweep_n']:,} runs: ours vs hand-written ...")
        part("teacup", lambda: teacup_sweeps(teacup_path, cache_for("teacup"), cfg, log))
        if pysd_note is None:
            n = cfg["pysd_sweep_runs"]
            rng = np.random.default_rng(2)
            vary = {"Room Temperature": [round(x, 6) for x in rng.uniform(50, 90, n)],
                    "Characteristic Time": [round(x, 6) for x in rng.uniform(5, 20, n)]}
            log(f"[sweeps] teacup PySD {n} runs ...")
            part("teacup_pysd", lambda: run_pysd(teacup_path, n, 1, vary))
        log("[sweeps] thread scaling (fresh subprocesses) ...")
        part("scaling", lambda: [run_sweep_child(
            "scaling", {"model": str(teacup_path), "threads": k, "n": cfg["sweep_n"],
                        "reps": cfg["sweep_reps"]}, cache_for("teacup")) for k in (1, 2)])
        log(f"[sweeps] peak RSS, {cfg['rss_n']:,}-run Monte Carlo (fresh subprocess) ...")
        part("rss", lambda: run_sweep_child("rss", {"model": str(teacup_path), "n": cfg["rss_n"],
                                                   "times": "final"}, cache_for("teacup")))
    if world3_path.is_file():
        log(f"[sweeps] World3 {cfg['world3_n']:,} runs ...")
        part("world3", lambda: world3_sweeps(world3_path, cache_for("world3"), cfg, log))
        w3row = next((r for r in rows if r["key"] == "world3"), None)
        py = w3row.get("pysd") if w3row else None
        if py is None and pysd_note is None:
            log("[sweeps] World3 PySD, 1 run ...")
            py = run_pysd(world3_path, 1, 0)
        sw["world3_pysd"] = py
    return sw


def _mark(ok) -> str:
    return "–" if ok is None else ("✅ pass" if ok else "❌ fail")


def sweeps_report(sw: dict, cfg: dict, info: dict, rows: list) -> tuple[list, list]:
    """(markdown lines of the Sweeps section, target rows (what, measured, target, ok))."""
    L, T = [], []

    def err(x):
        return cell_error(x.get("error") if isinstance(x, dict) else x, 400)

    # -- teacup -----------------------------------------------------------------
    tc = sw.get("teacup")
    L.append("### Teacup: 1,000,000 runs over Room Temperature × Characteristic Time\n"
             if cfg["sweep_n"] == 1_000_000 else
             f"### Teacup: {cfg['sweep_n']:,} runs over Room Temperature × Characteristic Time\n")
    py = sw.get("teacup_pysd")
    py_rate = 1 / py["per_run_s"] if py and py.get("ok") else None
    if tc and tc.get("rows"):
        N = tc["n"]
        L.append(f"Room Temperature ~ U(50, 90), Characteristic Time ~ U(5, 20) (`handwritten.grid({N}, seed=1)`), "
                 f"the same pairs for every engine; in-process, {info['numba_threads']} Numba threads, warm "
                 f"kernels; median of {tc['reps']} (best in brackets), the engines taking turns. Our times are the whole "
                 "`sweep` call (parameter table, `parameter_matrix`, chunks, statistics). "
                 "PySD: `model.run(params={...})` with both constants varied per run (all columns, "
                 + (f"{py['runs']} runs after 1 warm-up; runs/s = 1 / median per run" if py_rate else "not run")
                 + "). Max abs diff = largest |ours − hand-written| (final values, or the per-time mean).\n")
        L.append("| output | engine | runs/s | ours / hand-written | ours / PySD |")
        L.append("|---|---|---|---|---|")
        for r in tc["rows"]:
            o, h, rb = N / r["ours"][1], N / r["hw"][1], N / r["run_batch"][1]
            L.append(f"| {r['what']} | smartspec: {r['ours_label']} | **{o:,.0f}** ({N / r['ours'][0]:,.0f}) | "
                     f"**{o / h:.2f}** | **{fmt_ratio(o / py_rate) if py_rate else '–'}** |")
            L.append(f"| | smartspec: {r['run_batch_label']} | {rb:,.0f} ({N / r['run_batch'][0]:,.0f}) | "
                     f"{rb / h:.2f} | {fmt_ratio(rb / py_rate) if py_rate else '–'} |")
            L.append(f"| | hand-written: {r['hw_label']} | {h:,.0f} ({N / r['hw'][0]:,.0f}) | 1 | "
                     f"{fmt_ratio(h / py_rate) if py_rate else '–'} |")
            L.append(f"| | max abs diff vs hand-written | {r['diff']:.3g} | | |")
            short = "final values" if "final" in r["what"] else "trajectories"
            T.append((f"teacup {N:,}-run sweep, {short}: ours / hand-written runs/s",
                      f"{o / h:.2f} ({o:,.0f} vs {h:,.0f} runs/s)", f"≥ {TARGETS['hw_ratio']}",
                      o / h >= TARGETS["hw_ratio"]))
            if py_rate:
                T.append((f"teacup sweep, {short}: ours / PySD runs/s",
                          f"{fmt_ratio(o / py_rate)} ({o:,.0f} vs {py_rate:,.0f} runs/s)",
                          f"≥ {TARGETS['pysd_teacup']:,.0f}×", o / py_rate >= TARGETS["pysd_teacup"]))
        if py_rate:
            L.append(f"| (PySD) | PySD {info.get('pysd', '')}: {py['runs']} runs, varied constants | "
                     f"{py_rate:,.0f} | | |")
        elif py is not None:
            L.append(f"| (PySD) | {err(py)} | | | |")
        L.append("")
    else:
        L.append((err(tc) if tc else "Not run.") + "\n")

    # -- scaling -----------------------------------------------------------------
    L.append("### Thread scaling (teacup final-values sweep)\n")
    sc = sw.get("scaling")
    if isinstance(sc, list) and len(sc) == 2 and all(x.get("ok") for x in sc):
        n = sc[0]["n"]
        L.append(f"Each thread count in its own fresh subprocess (`numba.set_num_threads(k)` right after "
                 f"import, warm cache); the same {n:,}-run `sweep(m, ..., times='final')` as above, median of "
                 f"{cfg['sweep_reps']}; the hand-written `teacup_batch_final` on the same runs for reference "
                 f"(what the machine gives a pure prange kernel). nproc {info['nproc']}; other jobs share "
                 "the machine, so the second core is not always free.\n")
        L.append("| threads | sweep runs/s | sweep speed-up | hand-written runs/s | hand-written speed-up | 1-min load after |")
        L.append("|---|---|---|---|---|---|")
        s1, h1 = sc[0]["sweep_s"][1], sc[0]["hw_s"][1]
        for x in sc:
            L.append(f"| {x['threads']} | {n / x['sweep_s'][1]:,.0f} | {s1 / x['sweep_s'][1]:.2f}× | "
                     f"{n / x['hw_s'][1]:,.0f} | {h1 / x['hw_s'][1]:.2f}× | {x.get('loadavg', 0):.2f} |")
        L.append("")
        sp = s1 / sc[1]["sweep_s"][1]
        T.append(("teacup sweep speed-up, 2 threads vs 1", f"{sp:.2f}× (hand-written: "
                  f"{h1 / sc[1]['hw_s'][1]:.2f}×)", f"≥ {TARGETS['scaling']}×", sp >= TARGETS["scaling"]))
    else:
        bad = next((x for x in sc if not x.get("ok")), None) if isinstance(sc, list) else sc
        L.append((err(bad) if bad else "Not run.") + "\n")

    # -- RSS -----------------------------------------------------------------------
    L.append("### Peak memory: teacup Monte Carlo keeping statistics only\n")
    rs = sw.get("rss")
    if rs and rs.get("ok"):
        L.append(f"Fresh subprocess: `sweep(m, Random({{Room Temperature: U(50, 90), Characteristic Time: "
                 f"U(5, 20)}}, n={rs['n']:,}), times='{rs['times']}', keep_runs=False, "
                 f"stats={RSS_STATS})`, all {rs['outputs']} outputs; peak RSS = "
                 f"`resource.getrusage(RUSAGE_SELF).ru_maxrss` at the end (whole process: interpreter, "
                 f"numba, model, one chunk of parameters made at a time). Chunks of "
                 f"{rs['chunk_size']:,} runs ({rs['chunks']} chunks), {rs['threads']} threads. Teacup "
                 f"Temperature at the final time: " +
                 ", ".join(f"{k} {v:.3f}" for k, v in rs["teacup_final"].items()) + ".\n")
        L.append("| runs | peak RSS (ru_maxrss) | VmHWM | peak RSS after import + load | sweep wall | runs/s | process wall |")
        L.append("|---|---|---|---|---|---|---|")
        hwm = f"{rs['vm_hwm'] / 2 ** 20:,.0f} MiB" if rs.get("vm_hwm") else "–"
        L.append(f"| {rs['n']:,} | **{rs['peak_rss'] / 2 ** 20:,.0f} MiB** | {hwm} | "
                 f"{rs['rss_loaded'] / 2 ** 20:,.0f} MiB | "
                 f"{rs['sweep_s']:.2f} s | {rs['n'] / rs['sweep_s']:,.0f} | {rs['wall_s']:.2f} s |")
        L.append("\nThe child is started through `/bin/sh` (which forks it) because Linux carries the RSS "
                 "high-water mark of a process that calls exec into the new program's `ru_maxrss`: "
                 "started straight from the benchmark process it would report at least the parent's "
                 "RSS. VmHWM (`/proc/self/status`) is the same peak, per address space, as a check.\n")
        L.append("")
        T.append((f"peak RSS, {rs['n']:,}-run Monte Carlo, stats only", f"{rs['peak_rss'] / 2 ** 20:,.0f} MiB "
                  f"(wall {rs['sweep_s']:.1f} s)", "< 1 GiB", rs["peak_rss"] < TARGETS["rss_bytes"]))
    else:
        L.append((err(rs) if rs else "Not run.") + "\n")

    # -- World3 --------------------------------------------------------------------
    w3 = sw.get("world3")
    L.append(f"### World3: {cfg['world3_n']:,} runs over 10 constants\n")
    py = sw.get("world3_pysd")
    py_s = py.get("per_run_s") if py and py.get("ok") else None
    if w3 and w3.get("rows"):
        N = w3["n"]
        L.append("Constants, each ~ U(0.9 × default, 1.1 × default): " +
                 ", ".join(f"*{p}*" for p in w3["params"]) +
                 f". In-process, warm kernel (load {w3['load_s']:.2f} s, first batch call "
                 f"{w3['first_batch_s']:.2f} s, not timed); median of {w3['reps']} (best in brackets), "
                 f"the {len(w3['rows'])} taking turns. "
                 f"PySD: median `run()` with default parameters (n={py['runs'] if py_s else '–'}), "
                 "from the per-model table.\n")
        L.append("| what | total | per run | PySD / this |")
        L.append("|---|---|---|---|")
        for r in w3["rows"]:
            per = r["s"][1] / N
            L.append(f"| {r['label']} | {fmt_time(r['s'][1])} ({fmt_time(r['s'][0])}) | {fmt_time(per)} | "
                     f"{fmt_ratio(py_s / per) if py_s else '–'} |")
        loop = next(r for r in w3["rows"] if r.get("loop"))
        L.append(f"| PySD `run()` (1 run, default parameters) | | {fmt_time(py_s) if py_s else err(py) if py else '–'} | 1 |")
        L.append("")
        best = w3["rows"][0]
        per = best["s"][1] / N
        extra = [r for r in w3["rows"][2:] if not r.get("loop")]
        L.append(f"Per run, the all-times sweep takes {best['s'][1] / loop['s'][1]:.2f}× the time of the "
                 f"`Model.run` loop, the final-values sweep {w3['rows'][1]['s'][1] / loop['s'][1]:.2f}×"
                 + "".join(f" and the all-times sweep with {len(W3_ALL_STATS)} statistics "
                           f"{r['s'][1] / loop['s'][1]:.2f}×" for r in extra) + ". "
                 "The all-times sweeps run in chunks of about 64 MB of trajectories; the kernel writes "
                 "every chunk into the same buffer (fresh memory would cost a page fault per 4 KiB) "
                 "and the statistics asked for are folded into running per-cell state in place, by "
                 "Numba functions that read the chunk once (`smartspec_dsl/experiments/stats.py`).\n")
        if py_s:
            T.append((f"World3 {N:,}-run sweep (10 constants): PySD s per run / sweep s per run",
                      f"{fmt_ratio(py_s / per)} ({fmt_time(per)} vs {fmt_time(py_s)} per run; all-times "
                      f"sweep with stats; final-values sweep: "
                      f"{fmt_ratio(py_s / (w3['rows'][1]['s'][1] / N))})",
                      f"≥ {TARGETS['pysd_world3']:,.0f}×", py_s / per >= TARGETS["pysd_world3"]))
    else:
        L.append((err(w3) if w3 else "Not run.") + "\n")

    # -- World3 cold / warm, from the per-model children ---------------------------------
    w3row = next((r for r in rows if r["key"] == "world3"), None)
    if w3row and w3row.get("cold_all"):
        colds = [c["total_s"] for c in w3row["cold_all"] if c.get("ok")]
        warms = [c["load_s"] + c["first_run_s"] for c in w3row.get("warm_all", []) if c.get("ok")]
        firsts = [c["total_s"] for c in w3row.get("first_all", []) if c.get("ok")]
        if firsts:
            med = statistics.median(firsts)
            T.append((f"World3 cold, default tier (first result from the interpreter): import + load + "
                      f"first run, empty cache (median of {len(firsts)})",
                      f"{med:.2f} s (" + ", ".join(f"{x:.2f}" for x in firsts) + ")", f"< {TARGETS['cold_s']:g} s",
                      med < TARGETS["cold_s"]))
        if colds:
            med = statistics.median(colds)
            T.append((f"World3 cold, compiled tier: import + load + first run, empty cache (median of {len(colds)})",
                      f"{med:.2f} s (" + ", ".join(f"{x:.2f}" for x in colds) + ")", f"< {TARGETS['cold_s']:g} s",
                      med < TARGETS["cold_s"]))
        if warms:
            med = statistics.median(warms)
            ok = [c for c in w3row.get("warm_all", []) if c.get("ok")]
            cold = w3row.get("cold") or {}
            how = ("; Numba " + ("imported" if any(c.get("numba") for c in ok) else "not imported")
                   + ", the first run's values " + ("bit-identical to" if all(c.get("digest") == cold.get("digest")
                                                                        for c in ok) else "DIFFER from")
                   + " the cold run's (Numba's kernel)")
            T.append((f"World3 warm: load + first run after `import smartspec_dsl` (median of {len(warms)}{how})",
                      f"{med:.2f} s (" + ", ".join(f"{x:.2f}" for x in warms) + ")", f"< {TARGETS['warm_s']:g} s",
                      med < TARGETS["warm_s"]))
    beer = next((r for r in rows if r["key"] == "beer"), None)
    colds = [c["total_s"] for c in (beer or {}).get("cold_all", []) if c.get("ok")]
    if colds:
        med = statistics.median(colds)
        T.append((f"The beer game cold, compiled tier: import + load + first run, empty cache (median of {len(colds)})",
                  f"{med:.2f} s (" + ", ".join(f"{x:.2f}" for x in colds) + ")", f"< {TARGETS['cold_beer_s']:g} s",
                  med < TARGETS["cold_beer_s"]))
    return L, T


# ---------------------------------------------------------------------------
# report

def machine_info() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import numba
    import numpy
    import smartspec_dsl
    info = {"loadavg_start": os.getloadavg()[0], "nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "numba": numba.__version__, "numba_threads": numba.get_num_threads(),
            "numpy": numpy.__version__, "smartspec": smartspec_dsl.__version__,
            "platform": platform.platform()}
    try:
        info["nproc"] = int(subprocess.run(["nproc"], capture_output=True, text=True).stdout)
    except (OSError, ValueError):
        pass
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                             capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "smartspec_dsl"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        info["git"] = rev + (" (smartspec_dsl/ has uncommitted changes)" if dirty else "")
    except OSError:
        info["git"] = "unknown"
    return info


def command_line(argv) -> str:
    exe = Path(sys.executable)
    try:
        exe_s = str(exe.relative_to(ROOT)) if not exe.is_symlink() else None
    except ValueError:
        exe_s = None
    if exe_s is None:  # venv pythons are symlinks: show the venv path, not the target
        exe_s = os.path.relpath(sys.executable, ROOT) if sys.executable.startswith(str(ROOT)) \
            else sys.executable
    script = os.path.relpath(Path(__file__).resolve(), ROOT)
    return " ".join([exe_s, script] + [shlex.quote(a) for a in argv])


def write_report(path: Path, cmd: str, info: dict, cfg: dict, rows: list, teacup, pysd_note,
                 elapsed: float, sweeps: dict | None = None) -> str:
    L = []
    L.append("# smartspec benchmark results\n")
    L.append(f"Produced by `{cmd}` (run from the project root) on "
             f"{datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}, "
             f"in {elapsed:.0f} s ({'quick' if cfg['quick'] else 'full'} mode).\n")
    L.append(f"Machine: nproc {info['nproc']}, CPU `{info['cpu']}`, {info['platform']}; "
             f"Python {info['python']}, numba {info['numba']} ({info['numba_threads']} threads), "
             f"numpy {info['numpy']}, PySD {info.get('pysd', 'n/a')}; "
             f"smartspec {info['smartspec']} at git {info['git']}. "
             f"1-min load average {info['loadavg_start']:.2f} at start, "
             f"{os.getloadavg()[0]:.2f} at end (other work on the machine makes timings noisy).\n")

    sweep_lines, targets = sweeps_report(sweeps, cfg, info, rows) if sweeps is not None else ([], [])
    if sweeps is None:
        # the cold/warm targets come from the per-model children even without sweeps
        _, targets = sweeps_report({}, cfg, info, rows)
        targets = [t for t in targets if t[0].startswith(("World3 cold", "World3 warm", "The beer game cold"))]
    L.append("## Targets\n")
    L.append("From the project's benchmark issue; measured values are from this run (details in the "
             "sections below)." + ("" if sweeps is not None else
                                  " Sweep benchmarks were not run (`--quick` without `--sweeps`, "
                                  "or `--no-sweeps`).") + "\n")
    if targets:
        L.append("| target | measured | goal | result |")
        L.append("|---|---|---|---|")
    else:
        L.append("No target was measured in this run (World3 not among --models, no sweeps).")
    for what, measured, goal, ok in targets:
        L.append(f"| {what} | {measured} | {goal} | {_mark(ok)} |")
    if targets:
        L.append(f"\n{sum(1 for t in targets if t[3])} of {len(targets)} targets met.")
    L.append("")

    L.append("## Per model\n")
    L.append("smartspec: cold compile = fresh subprocess, empty `SMARTSPEC_CACHE_DIR`, "
             "`import smartspec_dsl` + `load` + first `run` (median of "
             f"{cfg['cold_reps']}, each with its own empty cache); warm load = the same in a "
             "fresh subprocess with the cache warm (first of the warm runs); per run = median of `Model.run()` "
             "(default parameters, all columns) with the cached kernel. PySD: `read_vensim` time "
             "and median `run()` time (default parameters, all columns). "
             "Ratio = PySD per run / smartspec per run.\n")
    L.append("| model | cold compile | warm load | smartspec per run | PySD load | PySD per run | PySD / smartspec |")
    L.append("|---|---|---|---|---|---|---|")
    for r in rows:
        cold, warm, py = r.get("cold"), r.get("warm"), r.get("pysd")
        if r.get("missing"):
            L.append(f"| {r['label']} | {r['missing']} | | | | | |")
            continue
        c_cold = fmt_time(cold["total_s"]) if cold and cold.get("ok") else cell_error(
            f"{cold.get('stage')}: {cold.get('error')}") if cold else "–"
        c_warm = fmt_time(warm["total_s"]) if warm and warm.get("total_s") is not None else "–"
        if warm and warm.get("total_s") is not None and not warm.get("cached"):
            c_warm += " (cache miss: smartspec_dsl/ changed during the run)"
        elif warm and warm.get("retried"):
            c_warm += " (2nd try: 1st missed the cache, smartspec_dsl/ changed)"
        ours = warm.get("per_run_s") if warm and warm.get("ok") else None
        c_ours = fmt_time(ours) if ours is not None else "–"
        if warm and not warm.get("ok") and cold and cold.get("ok"):
            c_ours = cell_error(f"{warm.get('stage')}: {warm.get('error')}")
        if py is None:
            c_pl = c_pr = pysd_note or "not run"
            theirs = None
        elif py.get("ok"):
            c_pl, theirs = fmt_time(py["load_s"]), py["per_run_s"]
            c_pr = fmt_time(theirs) + f" (n={py['runs']})"
        else:
            c_pl = cell_error(f"PySD {py.get('stage')}: {py.get('error')}")
            c_pr, theirs = "–", None
            if py.get("load_s") is not None:
                c_pl = fmt_time(py["load_s"])
                c_pr = cell_error(f"PySD {py.get('stage')}: {py.get('error')}")
        ratio = fmt_ratio(theirs / ours) if ours and theirs else "–"
        L.append(f"| {r['label']} | {c_cold} | {c_warm} | {c_ours} | {c_pl} | {c_pr} | {ratio} |")
    L.append("")
    L.append("Breakdown (in-process seconds; wall = whole subprocess incl. interpreter start and, for warm, the per-run repeats):\n")
    L.append("| model | run | import | load | first run | total | wall | cache hit | output shape, tier |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        runs = [(f"cold {i + 1}" if len(r.get("cold_all", [])) > 1 else "cold", c)
                for i, c in enumerate(r.get("cold_all", []))]
        runs += [(f"warm {i + 1}" if len(r.get("warm_all", [])) > 1 else "warm", c)
                 for i, c in enumerate(r.get("warm_all", []))]
        runs += [(f"cold, default tier {i + 1}", c) for i, c in enumerate(r.get("first_all", []))]
        for kind, c in runs:
            if c.get("import_s") is None:
                L.append(f"| {r['label']} | {kind} | {cell_error(c.get('error'), 300)} | | | | | | |")
                continue
            L.append(f"| {r['label']} | {kind} | {c['import_s']:.2f} | {c.get('load_s', 0):.2f} | "
                     f"{fmt_time(c.get('first_run_s'))} | {c.get('total_s', 0):.2f} | "
                     f"{c.get('wall_s', 0):.2f} | {c.get('cached')} | {c.get('shape')}, {c.get('tier')} |")
    L.append("")

    L.append("## Teacup: generated kernel vs hand-written kernel\n")
    if isinstance(teacup, str):
        L.append(teacup + "\n")
    elif teacup:
        hw_traj = next(x["per_run_s"] for x in teacup["single"] if "teacup_run" in x["label"])
        L.append("One run (Euler, dt 0.125, 240 steps), median per call; ratio = time / "
                 "hand-written trajectory kernel. "
                 f"Max |generated − hand-written| over the trajectory: {teacup['single_diff']:.3g}.\n")
        L.append("| what | per run | vs hand-written |")
        L.append("|---|---|---|")
        for x in teacup["single"]:
            L.append(f"| {x['label']} | {fmt_time(x['per_run_s'])} | {fmt_ratio(x['per_run_s'] / hw_traj)} |")
        L.append("")
        N = teacup["n"]
        L.append(f"Batch: {N:,} runs in parallel (`prange`, {info['numba_threads']} threads), "
                 "Room Temperature ~ U(50, 90), Characteristic Time ~ U(5, 20); median of "
                 f"{cfg['batch_reps']} (best in brackets). Generated = `simulate_batch` of the "
                 "generated module (final values only = saving every `n_steps` steps). "
                 f"First `simulate_batch` call (compile or Numba cache load): "
                 f"{teacup['batch_first_call_s']:.2f} s.\n")
        L.append("| output | generated runs/s | hand-written runs/s | hand-written / generated | max abs diff |")
        L.append("|---|---|---|---|---|")
        for b in teacup["batch"]:
            g, h = b["gen"], b["hw"]
            L.append(f"| {b['output']} | {N / g[1]:,.0f} ({N / g[0]:,.0f}) | "
                     f"{N / h[1]:,.0f} ({N / h[0]:,.0f}) | {fmt_ratio(g[1] / h[1])} | {b['diff']:.3g} |")
        L.append("")

    if sweep_lines:
        L.append("## Sweeps\n")
        L.extend(sweep_lines)

    L.append("## Notes\n")
    L.append("- Cold compile includes Numba compiling the model's kernel; the shared helpers in "
             "`smartspec_dsl/backend/kernel_lib.py` are cached once per install (Numba `cache=True`), so "
             "they are warm in both runs.")
    L.append("- PySD runs in its own venv (`benchmarks/pysd_env.sh`); its warnings are silenced. "
             "The model folder is copied to a temporary directory first because `read_vensim` "
             "writes the translated `.py` next to the `.mdl`.")
    L.append("- PySD's World3 run time is dominated by xarray interpolation in its lookup "
             "functions (a cProfile of one run: ~90% in `xarray.Dataset.interp`), so the World3 "
             "ratio says more about PySD's lookups than about smartspec.")
    L.append("- `load` already runs the model once (to compile it), so the first `run` is warm.")
    L.append(f"- Settings: {json.dumps({k: v for k, v in cfg.items() if k != 'quick'})}.")
    text = "\n".join(L) + "\n"
    # the sections other scripts write (fuzz_campaign.py, explore_latency.py, interpreter_bench.py,
    # arrays_bench.py, per_run_baseline.py, crosscheck_subscripts.py) are kept as they were
    old = path.read_text() if path.exists() else ""
    for mark in ("fuzz campaign", "explore latency", "first result", "arrays bench", "per-run baseline",
                 "subscript cross-check"):
        start, end = old.find(f"<!-- {mark} -->"), old.find(f"<!-- /{mark} -->")
        if 0 <= start < end:
            text += "\n" + old[start:end + len(f"<!-- /{mark} -->")] + "\n"
    path.write_text(text)
    return text


# ---------------------------------------------------------------------------

def main() -> int:
    # every measurement names its tier; a background compile would only compete for the cores
    os.environ["SMARTSPEC_BACKGROUND_COMPILE"] = "0"
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repeats, smaller batch, 1 PySD World3 run")
    ap.add_argument("--models", default=",".join(MODELS),
                    help=f"comma-separated subset of {','.join(MODELS)}")
    ap.add_argument("--no-pysd", action="store_true", help="skip PySD")
    ap.add_argument("--batch-n", type=int, default=None, help="teacup batch size (default 100000, quick 20000)")
    ap.add_argument("--sweeps", dest="sweeps", action="store_true", default=None,
                    help="run the sweep benchmarks (default: on in full mode, off with --quick)")
    ap.add_argument("--no-sweeps", dest="sweeps", action="store_false", help="skip the sweep benchmarks")
    ap.add_argument("--sweep-n", type=int, default=None,
                    help="teacup sweep runs (default 1000000, quick 100000)")
    ap.add_argument("--output", default=str(HERE / "RESULTS.md"))
    ap.add_argument("--sweep-child", help=argparse.SUPPRESS)
    ap.add_argument("--sweep-args", default="{}", help=argparse.SUPPRESS)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--repeats", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--budget", type=float, default=1.0, help=argparse.SUPPRESS)
    ap.add_argument("--tier", default="compiled", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.sweep_child:
        sweep_child_main(args.sweep_child, json.loads(args.sweep_args))
        return 0
    if args.child:
        child_main(args.child, args.repeats, args.budget, args.tier)
        return 0

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    if not SHARED.is_dir():
        log(f"SKIPPED: the shared models folder {SHARED} is absent; nothing to benchmark.")
        return 0

    started = time.perf_counter()
    quick = args.quick
    cfg = {
        "quick": quick,
        "per_run_budget_s": 1.0 if quick else 4.0,
        "per_run_max_samples": 200 if quick else 2000,
        "pysd_runs_small": 10 if quick else 50,
        "pysd_runs_world3": 1 if quick else 3,
        "batch_n": args.batch_n or (20_000 if quick else 100_000),
        "batch_reps": 2 if quick else 5,
        "budget": 0.5 if quick else 2.0,
        "max_samples": 200 if quick else 1000,
        "cold_reps": 1 if quick else 3,
        "sweeps": (not quick) if args.sweeps is None else args.sweeps,
        "sweep_n": args.sweep_n or (100_000 if quick else 1_000_000),
        "sweep_reps": 1 if quick else 3,
        "run_batch_chunk": 100_000,
        "pysd_sweep_runs": 50 if quick else 300,
        "world3_n": 100 if quick else 1000,
        "world3_reps": 1 if quick else 3,
        "rss_n": 1_000_000 if quick else 10_000_000,
    }
    info = machine_info()
    pysd_note = None
    if args.no_pysd:
        pysd_note = "skipped (--no-pysd)"
    else:
        why = ensure_pysd(log)
        if why:
            pysd_note = cell_error(why)
        else:
            info["pysd"] = subprocess.run([str(PYSD_PY), "-c", "import pysd; print(pysd.__version__)"],
                                          capture_output=True, text=True).stdout.strip()

    keys = [k.strip() for k in args.models.split(",") if k.strip()]
    unknown = [k for k in keys if k not in MODELS]
    if unknown:
        ap.error(f"unknown model(s) {unknown}; choose from {list(MODELS)}")

    rows, caches = [], {}
    # The interpreter is compiled once per install (its own Numba cache, not the model cache):
    # the cold starts below are measured as after install, so that compile is paid here first.
    log("warming the interpreter's own cache (once per install) ...")
    warm_cache = tempfile.mkdtemp(prefix="smartspec-bench-interp-")
    log(f"  {run_child(SHARED / MODELS['teacup'][1], warm_cache, 0, 0, tier='auto').get('total_s')}")
    shutil.rmtree(warm_cache, ignore_errors=True)
    # and its single run compiled ahead of time (backend/interpreter_aot.py), also once per install
    subprocess.run([sys.executable, "-c", "from smartspec_dsl.backend.interpreter_aot import build, load\n"
                    "load() or build()"], cwd=ROOT, check=False, stdout=subprocess.DEVNULL)
    try:
        for key in keys:
            label, rel = MODELS[key]
            path = SHARED / rel
            row = {"key": key, "label": label}
            rows.append(row)
            if not path.is_file():
                row["missing"] = f"skipped: {path} not found"
                log(row["missing"])
                continue
            cache = tempfile.mkdtemp(prefix=f"smartspec-bench-{key}-")
            caches[key] = cache
            # cold: each repeat in a fresh subprocess with its own fresh empty cache
            # dir; the median one is shown, the last cache is kept for the warm runs
            row["cold_all"] = []
            for rep in range(cfg["cold_reps"]):
                if rep:
                    shutil.rmtree(cache, ignore_errors=True)
                    cache = tempfile.mkdtemp(prefix=f"smartspec-bench-{key}-")
                    caches[key] = cache
                log(f"[{key}] cold compile {rep + 1}/{cfg['cold_reps']} ...")
                c = run_child(path, cache, 0, 0)
                # the same cold start on the default tier: first result from the interpreter
                auto_cache = tempfile.mkdtemp(prefix=f"smartspec-bench-{key}-auto-")
                row.setdefault("first_all", []).append(run_child(path, auto_cache, 0, 0, tier="auto"))
                shutil.rmtree(auto_cache, ignore_errors=True)
                log(f"  first result (default tier): {row['first_all'][-1].get('total_s')}")
                row["cold_all"].append(c)
                log(f"  {c.get('total_s') or c.get('error')}")
                if not c.get("ok"):
                    break
            ok_colds = sorted((c for c in row["cold_all"] if c.get("ok")), key=lambda c: c["total_s"])
            row["cold"] = ok_colds[(len(ok_colds) - 1) // 2] if ok_colds and \
                len(ok_colds) == len(row["cold_all"]) else row["cold_all"][-1]
            if row["cold"].get("ok"):
                log(f"[{key}] warm load + per-run ...")
                row["warm"] = run_child(path, cache, cfg["per_run_max_samples"], cfg["per_run_budget_s"])
                if row["warm"].get("ok") and not row["warm"].get("cached"):
                    # the compiler's fingerprint changed in between (smartspec_dsl/ was
                    # edited): the cache is warm again now, so measure once more
                    log("  warm run missed the cache (smartspec_dsl/ changed?): once more")
                    row["warm"] = run_child(path, cache, cfg["per_run_max_samples"],
                                            cfg["per_run_budget_s"])
                    row["warm"]["retried"] = True
                log(f"  warm {row['warm'].get('total_s')}, per run {row['warm'].get('per_run_s')}")
                row["warm_all"] = [row["warm"]]
                for _ in range(cfg["cold_reps"] - 1):  # more warm loads, no per-run repeats
                    row["warm_all"].append(run_child(path, cache, 0, 0))
                log("  warm load + first run: " + ", ".join(
                    f"{c['load_s'] + c['first_run_s']:.2f}" for c in row["warm_all"] if c.get("ok")))
            if pysd_note is None:
                big = key in ("world3", "beer")
                log(f"[{key}] PySD ...")
                row["pysd"] = run_pysd(path, cfg["pysd_runs_world3"] if big else cfg["pysd_runs_small"],
                                       0 if big else 1)
                log(f"  {row['pysd'].get('per_run_s') or row['pysd'].get('error')}")

        teacup = None
        teacup_row = next((r for r in rows if r["key"] == "teacup"), None)
        if teacup_row is None:
            teacup = "Skipped: teacup not among --models."
        elif teacup_row.get("missing"):
            teacup = f"Skipped: {teacup_row['missing']}."
        elif not teacup_row["cold"].get("ok"):
            teacup = "Skipped: " + cell_error(teacup_row["cold"].get("error"), 400)
        else:
            log("[teacup] generated vs hand-written ...")
            try:
                teacup = teacup_comparison(SHARED / MODELS["teacup"][1], caches["teacup"], cfg, log)
            except Exception as err:  # noqa: BLE001
                traceback.print_exc()
                teacup = "Failed: " + cell_error(f"{type(err).__name__}: {err}", 400)
        sweeps = None
        if cfg["sweeps"]:
            sweeps = run_sweeps(cfg, rows, caches, pysd_note, log)
    finally:
        for c in caches.values():
            shutil.rmtree(c, ignore_errors=True)

    out = Path(args.output)
    text = write_report(out, command_line(sys.argv[1:]), info, cfg, rows, teacup, pysd_note,
                        time.perf_counter() - started, sweeps)
    print(text)
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
