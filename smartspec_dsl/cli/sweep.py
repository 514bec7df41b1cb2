"""`smartspec sweep`: a sweep spec run into an output directory."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numba

from ..experiments.distributed import client_for
from ..experiments.store import SweepStore, read_manifest
from ..experiments.spec import SPEC_DOC, read_spec
from ..experiments.sweep import sweep
from ..runtime import load
from .common import compile_note, positive


def add_parser(sub) -> None:
    """The command's arguments, as a sub-command of `sub`."""
    sw = sub.add_parser("sweep", help="run a parameter sweep from a TOML spec into a directory",
                        formatter_class=argparse.RawDescriptionHelpFormatter,
                        epilog="spec format:\n" + SPEC_DOC)
    sw.add_argument("model")
    sw.add_argument("--spec", required=True, help="sweep spec (TOML)")
    sw.add_argument("-o", "--output", required=True, help="output directory (Parquet chunks + manifest.json)")
    sw.add_argument("--resume", action="store_true", help="finish an interrupted sweep in OUTPUT")
    sw.add_argument("--overwrite", action="store_true", help="replace a sweep already in OUTPUT")
    sw.add_argument("--chunk-size", type=positive, help="runs per chunk (overrides the spec)")
    sw.add_argument("--threads", type=positive, help="Numba threads (default: all cores)")
    sw.add_argument("--no-progress", action="store_true", help="no progress bar")
    sw.add_argument("--dask", metavar="ADDRESS", help="run chunks on a dask.distributed scheduler")
    sw.add_argument("--tier", choices=["auto", "interpreter", "compiled"], default="auto",
                    help="what runs the sweep: the interpreter, the compiled kernel, or auto (the "
                         "compiled kernel when the sweep is large enough to pay for its compile)")
    sw.set_defaults(func=main)


def main(args) -> int:
    """Run a sweep spec (see `smartspec sweep --help-spec`) into an output directory."""
    if args.threads:
        available = numba.config.NUMBA_NUM_THREADS
        if args.threads > available:
            print(f"warning: --threads {args.threads}: Numba runs at most {available} threads here "
                  "(NUMBA_NUM_THREADS); the sweep uses " + str(available), file=sys.stderr)
        numba.set_num_threads(min(args.threads, available))
    model = load(args.model, log=compile_note)
    default_seed = None
    if args.resume and (Path(args.output) / "manifest.json").exists():
        default_seed = read_manifest(args.output).get("seed")   # a spec without a seed resumes with the first one
    spec = read_spec(args.spec, model, default_seed, args.chunk_size)
    store = SweepStore(args.output, layout=spec.layout, resume=args.resume, spec_file=spec.path,
                       overwrite=args.overwrite, log=lambda message: print(f"warning: {message}", file=sys.stderr))
    Path(args.output).mkdir(parents=True, exist_ok=True)
    progress = False if args.no_progress else None
    o = spec.options
    started = time.perf_counter()
    try:
        if args.dask:
            client = client_for(args.dask)
        else:
            client = None
        res = sweep(model, spec.sampler, keep_runs=False, stats=o.get("stats"), progress=progress,
                    store=store, percentile_bins=o.get("percentile_bins"), client=client, tier=args.tier)
    except KeyboardInterrupt:
        done = len(store.manifest.get("chunks_done", []))
        print(f"\ninterrupted: {done} of {store.manifest.get('n_chunks', '?')} chunks are saved in "
              f"{args.output}; finish with: smartspec sweep {args.model} --spec {args.spec} "
              f"-o {args.output} --resume", file=sys.stderr)
        return 130
    secs = time.perf_counter() - started
    n, ran = len(res.runs), res.info["runs_run"]
    rate = f"{ran / secs:,.0f} runs/s" if secs > 0 and ran else "no runs"
    earlier = f"; {n - ran} of the sweep's {n} runs were already in {args.output}" if ran < n else ""
    print(f"{args.model}: {ran} runs x {len(res.time)} times x {len(res.outputs)} outputs in {secs:.2f} s "
          f"({rate}, {res.info['chunks']} chunks, seed {res.seed}, on the {res.info['tier']}) "
          f"-> {args.output}{earlier}", file=sys.stderr)
    print_sweep_problems(res.info)
    return 0


def print_sweep_problems(info: dict) -> None:
    """The runs of a sweep that gave infinite, NaN or :NA: values (per output) or simulation warnings."""
    for output, count in info.get("bad_runs", {}).items():
        print(f"warning: {count} run{'s' if count > 1 else ''} gave infinite, NaN or :NA: values of "
              f"'{output}' (left out of the statistics)", file=sys.stderr)
    if info.get("runs_with_warnings"):
        n = info["runs_with_warnings"]
        print(f"warning: {n} run{'s' if n > 1 else ''} had simulation warnings (a lookup input or a "
              "variable outside its range, or a value, saved or not, infinite or NaN); `smartspec run` with a run's values lists them", file=sys.stderr)
