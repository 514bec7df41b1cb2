"""smartspec benchmarks, everything side by side in one run; writes benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/run_benchmarks.py            # full (a few minutes)
    .venv/bin/python benchmarks/run_benchmarks.py --quick    # fewer repeats, smaller batch

Per model (teacup, tests/delays, World3):
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

Models are read from ../shared beside the project root (never copied).
"""
from __future__ import annotations

import argparse
import datetime
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

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PYSD_VENV = HERE / ".venv-pysd"
PYSD_PY = PYSD_VENV / "bin" / "python"

MODELS = {  # key -> (label, path relative to ../shared)
    "teacup": ("teacup", "test-models/samples/teacup/teacup.mdl"),
    "delays": ("tests/delays", "test-models/tests/delays/test_delays.mdl"),
    "world3": ("World3 (wrld3-03)", "real-models/WRLD3-03/wrld3-03.mdl"),
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

def child_main(model: str, repeats: int, budget: float) -> None:
    out: dict = {"ok": False}
    t0 = time.perf_counter()
    try:
        stage = "import"
        import smartspec_dsl
        t1 = time.perf_counter()
        stage = "load"
        m = smartspec_dsl.load(model)
        t2 = time.perf_counter()
        stage = "run"
        res = m.run()
        t3 = time.perf_counter()
        out.update(import_s=t1 - t0, load_s=t2 - t1, first_run_s=t3 - t2, total_s=t3 - t0,
                   cached=m.cached, compile_seconds=m.compile_seconds,
                   shape=list(res.values.shape))
        if repeats:
            stage = "repeat"
            per_run, n = bench(m.run, budget, repeats)
            out.update(per_run_s=per_run, per_run_n=n)
        out["ok"] = True
    except Exception as err:  # noqa: BLE001 - reported in the table
        out.update(stage=stage, error=f"{type(err).__name__}: {err}",
                   traceback=traceback.format_exc()[-3000:])
    print("@@RESULT@@" + json.dumps(out))


def run_child(model: Path, cache_dir: str, repeats: int, budget: float) -> dict:
    env = dict(os.environ, SMARTSPEC_CACHE_DIR=cache_dir)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(model),
           "--repeats", str(repeats), "--budget", str(budget)]
    t = time.perf_counter()
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        return {"ok": False, "stage": "timeout", "error": f"timed out after {CHILD_TIMEOUT} s"}
    wall = time.perf_counter() - t
    for line in proc.stdout.splitlines():
        if line.startswith("@@RESULT@@"):
            res = json.loads(line[len("@@RESULT@@"):])
            res["wall_s"] = wall
            return res
    return {"ok": False, "stage": "crash",
            "error": f"exit {proc.returncode}: {(proc.stderr or proc.stdout)[-400:]}"}


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


def run_pysd(model: Path, runs: int, warmup: int) -> dict:
    cmd = [str(PYSD_PY), str(HERE / "pysd_runner.py"), str(model),
           "--runs", str(runs), "--warmup", str(warmup)]
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

    m = smartspec_dsl.load(model_path, cache_dir=cache_dir)
    mod = m._module
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
    g = timed(lambda: mod.simulate_batch(P, tab, OUT_f, save_idx, t0, dt, n_steps, n_steps, 0), reps)
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
                 elapsed: float) -> str:
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

    L.append("## Per model\n")
    L.append("smartspec: cold compile = fresh subprocess, empty `SMARTSPEC_CACHE_DIR`, "
             "`import smartspec_dsl` + `load` + first `run`; warm load = the same in a second "
             "fresh subprocess with the cache warm; per run = median of `Model.run()` "
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
    L.append("| model | run | import | load | first run | total | wall | cache hit | output shape |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        for kind in ("cold", "warm"):
            c = r.get(kind)
            if not c:
                continue
            if c.get("import_s") is None:
                L.append(f"| {r['label']} | {kind} | {cell_error(c.get('error'), 300)} | | | | | | |")
                continue
            L.append(f"| {r['label']} | {kind} | {c['import_s']:.2f} | {c.get('load_s', 0):.2f} | "
                     f"{fmt_time(c.get('first_run_s'))} | {c.get('total_s', 0):.2f} | "
                     f"{c.get('wall_s', 0):.2f} | {c.get('cached')} | {c.get('shape')} |")
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

    L.append("## Notes\n")
    L.append("- Cold compile includes Numba compiling the model's kernel; the shared helpers in "
             "`smartspec_dsl/kernel_lib.py` are cached once per install (Numba `cache=True`), so "
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
    path.write_text(text)
    return text


# ---------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repeats, smaller batch, 1 PySD World3 run")
    ap.add_argument("--models", default=",".join(MODELS),
                    help=f"comma-separated subset of {','.join(MODELS)}")
    ap.add_argument("--no-pysd", action="store_true", help="skip PySD")
    ap.add_argument("--batch-n", type=int, default=None, help="teacup batch size (default 100000, quick 20000)")
    ap.add_argument("--output", default=str(HERE / "RESULTS.md"))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--repeats", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--budget", type=float, default=1.0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child_main(args.child, args.repeats, args.budget)
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
            log(f"[{key}] cold compile ...")
            row["cold"] = run_child(path, cache, 0, 0)
            log(f"  {row['cold'].get('total_s') or row['cold'].get('error')}")
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
            if pysd_note is None:
                big = key == "world3"
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
    finally:
        for c in caches.values():
            shutil.rmtree(c, ignore_errors=True)

    out = Path(args.output)
    text = write_report(out, command_line(sys.argv[1:]), info, cfg, rows, teacup, pysd_note,
                        time.perf_counter() - started)
    print(text)
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
