"""Per-run speed against an earlier commit, side by side: World3 and the teacup.

    .venv/bin/python benchmarks/per_run_baseline.py                    # against a7b553f, 5 rounds
    .venv/bin/python benchmarks/per_run_baseline.py --baseline REV --rounds 7

Issue 13 asks that World3's per-run speed not regress against the RESULTS.md of its day
(a7b553f: the last benchmark before the dense route). A figure from another day says little
on this machine, whose speed drifts by 30 % or more from hour to hour; so this script checks
the baseline out (`git worktree`, a temporary folder, removed at the end) and times both
checkouts in alternating fresh processes, each on its own warm kernel cache, with the same
virtual environment. Each process also times the hand-written teacup kernel
(benchmarks/handwritten.py, the current one for both), the machine's yardstick in that very
process. Per round and checkout: the median seconds per `Model.run()` of World3 (compiled
tier, all 260 columns) and of the teacup's generated `simulate` kernel, and the hand-written
`teacup_run`; the table gives the medians over rounds and the ratios current / baseline
(below 1: faster now).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from fresh import MARK, ROOT, report

BASELINE = "a7b553f"
SHARED = ROOT.parent / "shared"
WORLD3 = SHARED / "real-models" / "WRLD3-03" / "wrld3-03.mdl"
TEACUP = SHARED / "test-models" / "samples" / "teacup" / "teacup.mdl"


def _median_per_call(fn, budget: float = 2.0, least: int = 7) -> float:
    """Median seconds per call of fn(), calls grouped into samples of about 2 ms."""
    t = time.perf_counter()
    fn()
    inner = max(1, int(0.002 / max(time.perf_counter() - t, 1e-9)))
    samples, started = [], time.perf_counter()
    while len(samples) < least or time.perf_counter() - started < budget:
        t = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - t) / inner)
    return statistics.median(samples)


def child() -> None:
    """One checkout's figures in this process (the checkout first on PYTHONPATH)."""
    import smartspec_dsl
    from handwritten import DT, N_STEPS, ROOM, T_INIT, TAU, teacup_run
    world3 = smartspec_dsl.load(WORLD3, tier="compiled")
    teacup = smartspec_dsl.load(TEACUP, tier="compiled")
    out = np.empty(N_STEPS + 1)
    report({"ok": True, "source": smartspec_dsl.__file__,
            "world3_s": _median_per_call(lambda: world3.run(tier="compiled")),
            "teacup_s": _median_per_call(lambda: teacup.run(tier="compiled")),
            "hand_s": _median_per_call(lambda: teacup_run(ROOM, TAU, T_INIT, DT, N_STEPS, 1, out))})


def _run(checkout: Path, cache: Path) -> dict:
    """The child in a fresh process with `checkout` first on the path (fresh.measure puts
    this checkout first), on the kernel cache `cache`; what it reported."""
    env = dict(os.environ, SMARTSPEC_CACHE_DIR=str(cache), SMARTSPEC_BACKGROUND_COMPILE="0",
               PYTHONPATH=os.pathsep.join([str(checkout), str(Path(__file__).resolve().parent)]))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child"], env=env, capture_output=True,
                          text=True, timeout=1200)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(MARK):
            res = json.loads(line[len(MARK):])
            if not res["source"].startswith(str(checkout)):
                return {"ok": False, "error": f"imported {res['source']}, not {checkout}'s"}
            return res
    return {"ok": False, "error": f"exit {proc.returncode}: {(proc.stderr or proc.stdout)[-400:]}"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline", default=BASELINE)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child()
    if not WORLD3.is_file():
        sys.exit(f"reference material not found: {WORLD3} (clone the project with ../shared beside it)")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "baseline"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(base), args.baseline],
                       check=True)
        try:
            sides = {"baseline": base, "current": ROOT}
            caches = {name: Path(tmp) / f"cache-{name}" for name in sides}
            for name, checkout in sides.items():       # compile once: every round runs warm
                res = _run(checkout, caches[name])
                if not res.get("ok"):
                    sys.exit(f"{name} ({checkout}) failed: {res.get('error')}")
            rows: dict[str, list[dict]] = {name: [] for name in sides}
            for _ in range(args.rounds):
                for name, checkout in sides.items():
                    res = _run(checkout, caches[name])
                    if not res.get("ok"):
                        sys.exit(f"{name} failed: {res.get('error')}")
                    rows[name].append(res)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], check=False)
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    med = {name: {k: statistics.median(r[k] for r in rs) for k in ("world3_s", "teacup_s", "hand_s")}
           for name, rs in rows.items()}
    print(f"{args.rounds} alternating rounds, fresh process each, warm kernel caches; baseline {args.baseline}, "
          f"current {head}; medians over rounds")
    print("| what | baseline | current | current / baseline |")
    print("|---|---:|---:|---:|")
    for key, label in (("world3_s", "World3 `Model.run()`, compiled"),
                       ("teacup_s", "teacup `Model.run()`, compiled"),
                       ("hand_s", "hand-written `teacup_run` (the yardstick)")):
        b, c = med["baseline"][key], med["current"][key]
        print(f"| {label} | {b * 1e6:.1f} µs | {c * 1e6:.1f} µs | {c / b:.3f} |")
    for key, label in (("world3_s", "World3 per run / hand-written teacup_run"),):
        b = med["baseline"][key] / med["baseline"]["hand_s"]
        c = med["current"][key] / med["current"]["hand_s"]
        print(f"| {label} | {b:.0f} | {c:.0f} | {c / b:.3f} |")
    return None


if __name__ == "__main__":
    main()
