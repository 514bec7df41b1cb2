"""`smartspec run`: one run of a model, printed or written as a table."""
from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import numpy as np

from ..errors import ModelError
from ..files import replacing
from ..runtime import load
from .common import add_data_arguments, compile_note, data_options, parse_sets, print_warnings


def add_parser(sub) -> None:
    """The command's arguments, as a sub-command of `sub`."""
    run = sub.add_parser("run", help="run a model and write its output")
    run.add_argument("model")
    run.add_argument("-o", "--output", help="output file (.csv, or .tab for tab-separated)")
    run.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a constant")
    run.add_argument("--initial-time", type=float)
    run.add_argument("--final-time", type=float)
    run.add_argument("--time-step", type=float)
    run.add_argument("--saveper", type=float)
    run.add_argument("--strict", action="store_true",
                     help="a value that becomes infinite or NaN is an error (exit 3, no output)")
    run.add_argument("--quiet", action="store_true", help="no simulation warnings on stderr")
    run.add_argument("--method", choices=["euler", "rk4"],
                     help="integration method (default: the model's own, e.g. XMILE sim_specs, else euler)")
    add_data_arguments(run)
    run.add_argument("--changes", action="append", metavar="FILE.cin",
                     help="apply a Vensim changes file (constants and lookup tables); repeatable")
    run.add_argument("--seed", type=int, help="run seed for the model's random functions (default 0)")
    run.add_argument("--tier", choices=["auto", "interpreter", "compiled"], default="auto",
                     help="what runs the model: the interpreter (no compile), the model's compiled "
                          "kernel, or auto (the kernel once compiled in the background, the "
                          "interpreter until then; the default)")
    run.set_defaults(func=main)


def main(args) -> int:
    model = load(args.model, log=compile_note, data=data_options(args), tier=args.tier)
    result = model.run(params=parse_sets(args.set), final_time=args.final_time,
                       time_step=args.time_step, saveper=args.saveper, method=args.method,
                       changes=args.changes or None, seed=args.seed, initial_time=args.initial_time,
                       strict=args.strict, tier=args.tier)
    if not args.quiet:
        print_warnings(result.warnings)
    if args.output:
        try:
            write_table(args.output, result.time, result.columns, result.values)
        except OSError as err:
            raise ModelError(f"{args.output}: cannot write output: {err.strerror or err}") from None
        print(f"{args.model}: {len(result.time)} saved times x {len(result.columns)} variables "
              f"-> {args.output} (load {model.compile_seconds:.2f} s{', from the cache' if model.cached else ''}, "
              f"run on the {'compiled kernel' if result.tier == 'compiled' else 'interpreter'})", file=sys.stderr)
    else:
        print_table(result)
    return 0


def write_table(path: str | Path, time_values, columns, values) -> None:
    """Write `Time` then every column, full precision, atomically (CSV, or TSV for .tab/.tsv)."""
    path = Path(path)
    sep = "\t" if path.suffix.lower() in (".tab", ".tsv") else ","

    header = io.StringIO()
    csv.writer(header, delimiter=sep, lineterminator="\n").writerow(["Time"] + list(columns))
    header = header.getvalue()[:-1]
    table = np.column_stack([np.asarray(time_values, dtype=float), values]) if len(columns) else \
        np.asarray(time_values, dtype=float)[:, None]
    with replacing(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.write(header + "\n")
        np.savetxt(f, table, fmt="%.17g", delimiter=sep)


def print_table(result) -> None:
    """The run as CSV on standard output, full precision."""
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["Time"] + result.columns)
    for t, row in zip(result.time, result.values):
        out.writerow([repr(float(t))] + [repr(float(x)) for x in row])
