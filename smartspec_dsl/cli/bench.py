"""`smartspec bench`: time a model of one's own (see `experiments.benchmark`): a table
on stdout for people, `-o FILE.json` for machines."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import SpecError
from ..experiments.benchmark import bench
from ..files import write_text
from .common import positive


def add_parser(sub) -> None:
    b = sub.add_parser("bench", help="time a model: load cold and warm, runs, threads, memory, "
                                     "PySD beside it",
                       description="Time MODEL as a user meets it: the cold load (a new, empty kernel "
                                   "cache: parse, lower, compile), the warm load (a new process on that "
                                   "cache), one run (median of --runs), a batch of runs per run, "
                                   "throughput at each thread count, and the peak memory of each process.")
    b.add_argument("model")
    b.add_argument("--runs", type=positive, default=10, help="single runs to time (median; default 10)")
    b.add_argument("--threads", type=thread_counts, metavar="N[,N...]",
                   help="thread counts for the batch throughput (default 1, 2, 4, ... all cores)")
    b.add_argument("--compare", choices=["pysd"], action="append",
                   help="also time PySD on the same model and report the largest difference "
                        "between the two runs' values")
    b.add_argument("--pysd-python", metavar="PYTHON",
                   help="the interpreter that has PySD (default: this one, else the checkout's "
                        "benchmarks/.venv-pysd made by benchmarks/pysd_env.sh)")
    b.add_argument("-o", "--output", help="write the measures as JSON (.json)")
    b.set_defaults(func=main)


def thread_counts(text: str) -> list[int]:
    return [positive(part.strip()) for part in text.split(",")]


def main(args) -> int:
    if args.output and Path(args.output).suffix.lower() != ".json":
        raise SpecError(f"{args.output}: bench writes JSON: name the file .json")
    report = bench(args.model, runs=args.runs, threads=args.threads, compare_pysd=bool(args.compare),
                   pysd_python=args.pysd_python)
    print(table(report))
    if args.output:
        write_text(args.output, json.dumps(report, indent=1) + "\n")
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _time(seconds) -> str:
    if seconds is None:
        return "-"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} us"


def table(r: dict) -> str:
    """The report as lines for a terminal."""
    mib = 2 ** 20
    lines = [f"{r['model']}: {r['variables']} variables x {r['saved_times']} saved times",
             f"  {'load, cold (empty kernel cache)':<36}{_time(r['load']['cold_s'])}",
             f"  {'load, warm (kernel cache)':<36}{_time(r['load']['warm_s'])}",
             f"  {'one run':<36}{_time(r['run']['single_s'])}  (median of {r['runs']})",
             f"  {'per run in a batch of %d' % r['run']['batch_runs']:<36}{_time(r['run']['batch_per_run_s'])}"]
    for i, t in enumerate(r["throughput"]):
        label = "throughput" if i == 0 else ""
        rate = f"{t['runs_per_s']:,.0f} runs/s" if t["runs_per_s"] else "-"
        lines.append(f"  {label:<14}{t['threads']:>3} thread{'s' if t['threads'] > 1 else ' '}"
                     f"{'':<15}{rate}")
    mem = r["peak_memory_bytes"]
    lines.append(f"  {'peak memory':<36}{mem['cold'] / mib:,.0f} MiB cold (compiling), "
                 f"{mem['warm'] / mib:,.0f} MiB warm (loading and running)")
    p = r.get("pysd")
    if p is not None:
        if not p.get("ok"):
            lines.append(f"  PySD {p.get('pysd_version', '')} failed to {p.get('stage', 'run')} the model: "
                         f"{p.get('error', '')}")
        else:
            ratio = p["per_run_s"] / r["run"]["single_s"] if r["run"]["single_s"] else float("inf")
            lines.append(f"  {'PySD %s load' % p['pysd_version']:<36}{_time(p['load_s'])}")
            lines.append(f"  {'PySD one run':<36}{_time(p['per_run_s'])}  ({ratio:,.0f}x smartspec's)")
            d = p.get("largest_difference")
            if d is None:
                lines.append("  no variable and time in common with PySD's output to compare")
            elif d["relative"] == 0:
                lines.append(f"  {'largest difference':<36}none: {d['variables_compared']} variables x "
                             f"{d['times_compared']} times compared, every value equal")
            else:
                lines.append(f"  {'largest difference':<36}{d['relative']:.3g} relative ({d['absolute']:.3g}): "
                             f"'{d['variable']}' at t = {d['time']:g}: {d['ours']!r} vs PySD {d['pysd']!r} "
                             f"({d['variables_compared']} variables x {d['times_compared']} times compared)")
    return "\n".join(lines)
