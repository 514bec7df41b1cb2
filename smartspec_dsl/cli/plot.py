"""`smartspec plot`: a run of a model, or a stored sweep, to PNG."""
from __future__ import annotations

import sys
from pathlib import Path

from ..errors import SpecError
from ..experiments import plot, store
from ..runtime import load
from .common import compile_note, parse_sets


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
