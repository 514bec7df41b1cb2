"""`smartspec run`: one run of a model, printed or written in the format the output's
extension names (see `experiments.output`)."""
from __future__ import annotations

import sys

from ..ir import canonical_reference
from ..experiments.output import STDOUT, output_format, write_run
from ..runtime import load
from .common import add_data_arguments, compile_note, data_options, parse_sets, print_warnings


def add_parser(sub) -> None:
    """The command's arguments, as a sub-command of `sub`."""
    run = sub.add_parser("run", help="run a model and write its output")
    run.add_argument("model")
    run.add_argument("-o", "--output",
                     help="output file; its extension picks the format: .csv, .tab (or .tsv, "
                          "tab-separated), .parquet (the sweep store's schema), .nc (netCDF); "
                          "- for CSV on stdout (the default)")
    run.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a constant")
    run.add_argument("--initial-time", type=float)
    run.add_argument("--final-time", type=float)
    run.add_argument("--time-step", type=float)
    run.add_argument("--saveper", type=float)
    run.add_argument("--strict", action="store_true",
                     help="a value that becomes infinite or NaN is an error (exit 3, no output)")
    run.add_argument("--quiet", action="store_true", help="no simulation warnings on stderr")
    run.add_argument("--method", choices=["euler", "rk4", "rk4auto"],
                     help="integration method: Euler, RK4 (Vensim's RK4 Fixed) or rk4auto (Vensim's RK4 Auto, "
                          "the step shortened until each stock's error is within ABSOLUTE TOLERANCE or RELATIVE "
                          "TOLERANCE) (default: the model's own, e.g. XMILE sim_specs, else euler)")
    add_data_arguments(run)
    run.add_argument("--changes", action="append", metavar="FILE.cin",
                     help="apply a Vensim changes file (constants and lookup tables); repeatable")
    run.add_argument("--seed", type=int, help="run seed for the model's random functions (default 0)")
    run.add_argument("--tier", choices=["auto", "interpreter", "compiled"], default="auto",
                     help="what runs the model: the interpreter (no compile), the model's compiled "
                          "kernel, or auto (the kernel once compiled in the background, the "
                          "interpreter until then; the default)")
    run.set_defaults(func=main)


def _origin(model) -> str:
    """What the load time was spent on, when not compiling everything: the record from the
    kernel cache, and the kernel's machine code compiled or loaded."""
    if not model.cached:
        return ""
    return ", the model from the cache, its kernel compiled" if model.kernel_compiled else ", from the cache"


def main(args) -> int:
    output = args.output or STDOUT
    output_format(output)               # an unknown extension or a missing extra: before the run
    model = load(args.model, log=compile_note, data=data_options(args), tier=args.tier)
    params = parse_sets(args.set)
    result = model.run(params=params, final_time=args.final_time,
                       time_step=args.time_step, saveper=args.saveper, method=args.method,
                       changes=args.changes or None, seed=args.seed, initial_time=args.initial_time,
                       strict=args.strict, tier=args.tier)
    if not args.quiet:
        print_warnings(result.warnings)
    # the constants set, as the model spells them (the Parquet file's param: columns)
    lowered = model.schedule.model.variables
    shown = {getattr(lowered.get(canonical_reference(k)), "display", k): v for k, v in params.items()}
    write_run(output, result, model, shown, args.seed)
    if output != STDOUT:
        print(f"{args.model}: {len(result.time)} saved times x {len(result.columns)} variables "
              f"-> {output} (load {model.compile_seconds:.2f} s{_origin(model)}, "
              f"run on the {'compiled kernel' if result.tier == 'compiled' else 'interpreter'})", file=sys.stderr)
    return 0
