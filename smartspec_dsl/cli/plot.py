"""`smartspec plot`: a run of a model, or a stored sweep, to PNG."""
from __future__ import annotations

import sys
from pathlib import Path

from ..errors import SpecError
from ..experiments import plot, store
from ..runtime import load
from .common import compile_note, parse_sets


def add_parser(sub) -> None:
    """The command's arguments, as a sub-command of `sub`."""
    pl = sub.add_parser("plot", help="plot a run (MODEL.mdl) or a sweep (its output directory) to PNG")
    pl.add_argument("target", help="a model file (time series of one run) or a sweep directory")
    pl.add_argument("-o", "--output", required=True, help="PNG file")
    pl.add_argument("--var", action="append", help="variable(s) to plot (default: stocks / the first output)")
    pl.add_argument("--kind", choices=["series", "fan", "scatter"],
                    help="series (model), fan (sweep, default) or scatter (sweep: output vs each parameter)")
    pl.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a constant (model)")
    pl.add_argument("--time", type=float, help="scatter: the saved time (default: the last)")
    pl.add_argument("--bands", default="5,25,50,75,95", help="fan: percentiles (default 5,25,50,75,95)")
    pl.set_defaults(func=main)


def main(args) -> int:
    target = Path(args.target)
    if target.is_dir():
        res = store.load(target)
        output = (args.var or [res.outputs[0]])[0]
        try:
            res._out(output)
        except KeyError:
            raise SpecError(f"'{output}' is not an output of the sweep in {target} "
                            f"({', '.join(res.outputs)})") from None
        kind = args.kind or ("fan" if len(res.time) > 1 else "scatter")
        if kind == "fan":
            try:
                bands = [float(b) for b in args.bands.split(",")]
            except ValueError:
                raise SpecError(f"--bands: expected numbers like 5,50,95, got '{args.bands}'") from None
            plot.fan(res, output, args.output, bands)
        elif kind == "scatter":
            plot.scatter(res, output, args.output, args.time)
        else:
            raise SpecError("--kind series plots a model run; give a .mdl file")
    else:
        if args.kind not in (None, "series"):
            raise SpecError(f"--kind {args.kind} plots a sweep; give its output directory")
        model = load(target, log=compile_note)
        res = model.run(params=parse_sets(args.set))
        variables = args.var or [v.name for v in model.variables if v.kind == "stock"] or res.columns[:1]
        for v in variables:
            try:
                res[v]
            except KeyError:
                raise SpecError(f"'{v}' is not a variable of {target}") from None
        plot.series(res, variables, args.output, title=target.stem)
    print(f"wrote {args.output}", file=sys.stderr)
    return 0
