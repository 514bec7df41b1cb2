"""`smartspec sensitivity`: Morris or Sobol indices of a model (with a spec) or a stored sweep."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import SpecError
from ..experiments import sensitivity
from ..experiments.spec import read_spec
from ..files import write_csv
from ..runtime import load
from .common import compile_note


def add_parser(sub) -> None:
    """The command's arguments, as a sub-command of `sub`."""
    sa = sub.add_parser("sensitivity", help="Morris or Sobol sensitivity indices of a sweep spec's outputs")
    sa.add_argument("target", help="a model file (with --spec), or the output directory of such a sweep")
    sa.add_argument("--spec", help='sweep spec (TOML) with sampler = "morris" or "saltelli"')
    sa.add_argument("--time", type=float, help="the saved time to analyse (default: the final time)")
    sa.add_argument("-o", "--output", help="write the indices as CSV")
    sa.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    if Path(args.target).is_dir():
        res, idx = sensitivity.from_store(args.target, args.time, log=compile_note)
    else:
        if not args.spec:
            raise SpecError(f"{args.target}: a model needs --spec SPEC.toml (or give a sweep's output directory)")
        model = load(args.target, log=compile_note)
        spec = read_spec(args.spec, model)
        o = spec.options
        run_kw = {k: o[k] for k in ("final_time", "time_step", "saveper", "method") if k in o}
        res, idx = sensitivity.run(model, sensitivity.design_of(spec), o.get("outputs"), args.time,
                                   spec.seed or 0, **run_kw)
    sys.stdout.write(sensitivity.format_table(idx))
    if args.output:
        write_csv(args.output, ["output", "parameter", *idx.columns], idx.rows())
    print(f"{args.target}: {len(res.runs)} runs, {len(idx.values)} outputs x {len(idx.parameters)} parameters"
          + (f" -> {args.output}" if args.output else ""), file=sys.stderr)
    return 0
