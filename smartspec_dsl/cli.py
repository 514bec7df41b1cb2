"""The `smartspec` command line."""
from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from .errors import ModelError, ParameterError


def write_table(path: str | Path, time_values, columns, values) -> None:
    """Write `Time` then every column, full precision, atomically (CSV, or TSV for .tab/.tsv)."""
    path = Path(path)
    sep = "\t" if path.suffix.lower() in (".tab", ".tsv") else ","

    header = io.StringIO()
    csv.writer(header, delimiter=sep, lineterminator="\n").writerow(["Time"] + list(columns))
    header = header.getvalue()[:-1]
    table = np.column_stack([np.asarray(time_values, dtype=float), values]) if len(columns) else \
        np.asarray(time_values, dtype=float)[:, None]
    fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", prefix=path.name + ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(header + "\n")
            np.savetxt(f, table, fmt="%.17g", delimiter=sep)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _parse_sets(items) -> dict[str, float]:
    params = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ParameterError(f"--set expects NAME=VALUE, got '{item}'")
        try:
            params[name.strip()] = float(value)
        except ValueError:
            raise ParameterError(f"--set {name.strip()}: '{value}' is not a number") from None
    return params


def cmd_run(args) -> int:
    from .runtime import load
    model = load(args.model)
    result = model.run(params=_parse_sets(args.set), final_time=args.final_time,
                       time_step=args.time_step, saveper=args.saveper, method=args.method)
    if args.output:
        try:
            write_table(args.output, result.time, result.columns, result.values)
        except OSError as err:
            raise ModelError(f"{args.output}: cannot write output: {err.strerror or err}") from None
        print(f"{args.model}: {len(result.time)} saved times x {len(result.columns)} variables "
              f"-> {args.output} (load {model.compile_seconds:.2f} s, "
              f"{'cached kernel' if model.cached else 'compiled'})", file=sys.stderr)
    else:
        _print_table(result)
    return 0


def _print_table(result) -> None:
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["Time"] + result.columns)
    for t, row in zip(result.time, result.values):
        out.writerow([repr(float(t))] + [repr(float(x)) for x in row])


def cmd_check(args) -> int:
    """Parse and order without running: syntax errors exit 2, unsupported features exit 1."""
    from .errors import UnsupportedFeature
    from .lower import lower
    from .order import schedule
    from .parse import parse_file
    started = time.perf_counter()
    model = parse_file(args.model)
    counts = Counter(v.kind.value for v in model.variables.values())
    print(f"{args.model}: parsed ({len(model.variables)} variables, "
          f"{len(model.subscript_ranges)} subscript ranges, {len(model.macros)} macros)")
    for kind in ("stock", "flow", "auxiliary", "constant", "lookup", "data"):
        print(f"  {kind + 's':<12}{counts.get(kind, 0)}")
    try:
        sched = schedule(lower(model))
    except UnsupportedFeature as err:
        print(f"unsupported: {err}", file=sys.stderr)
        return 1
    hidden = sum(1 for v in sched.model.variables.values() if v.hidden)
    print(f"  {'lowered':<12}{hidden} internal variables from stateful functions")
    print(f"ok: ordered {len(sched.initial)} initial and {len(sched.dynamic)} per-step equations "
          f"({time.perf_counter() - started:.2f} s)")
    return 0


def cmd_evaluate(argv) -> int:
    from . import evaluate
    return evaluate.main(argv)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="smartspec", description="Compile and run Vensim models.")
    sub = ap.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a model and write its output")
    run.add_argument("model")
    run.add_argument("-o", "--output", help="output file (.csv, or .tab for tab-separated)")
    run.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a constant")
    run.add_argument("--final-time", type=float)
    run.add_argument("--time-step", type=float)
    run.add_argument("--saveper", type=float)
    run.add_argument("--method", choices=["euler", "rk4"], default="euler")
    run.set_defaults(func=cmd_run)
    check = sub.add_parser("check", help="parse and order a model without running it")
    check.add_argument("model")
    check.set_defaults(func=cmd_check)
    sub.add_parser("evaluate", help="entropy-weight TOPSIS evaluation (see smartspec evaluate -h)",
                   add_help=False)
    return ap


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "evaluate":
        return cmd_evaluate(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ModelError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except FileNotFoundError as err:
        print(f"error: {err.filename}: no such file", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
