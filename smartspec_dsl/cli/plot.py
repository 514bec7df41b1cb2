"""`smartspec plot`: a run of a model, or a stored sweep, to PNG, SVG or PDF."""
from __future__ import annotations

import re
import sys
from pathlib import Path

from ..errors import ModelError, SpecError, did_you_mean
from ..experiments import plot, store
from ..frontend.source import parse_file
from ..ir import canonical_name, canonical_reference, read_reference
from ..runtime import load
from .common import compile_note, parse_sets, print_warnings


def add_parser(sub) -> None:
    """The command's arguments, as a sub-command of `sub`."""
    pl = sub.add_parser("plot", help="plot a run (MODEL.mdl) or a sweep (its output directory) to PNG, SVG or PDF")
    pl.add_argument("target", help="a model file (time series of one run) or a sweep directory")
    pl.add_argument("-o", "--output", required=True, help="the image: .png, .svg or .pdf")
    pl.add_argument("--var", action="append", help="variable(s) to plot: a name (every element of a subscripted one) or one element "
                         "(default: the model's stocks, one panel per units / the sweep's first output)")
    pl.add_argument("--kind", choices=["series", "fan", "scatter"],
                    help="series (model), fan (sweep, default) or scatter (sweep: output vs each parameter)")
    pl.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a constant (model)")
    pl.add_argument("--time", type=float, help="scatter: the saved time (default: the last)")
    pl.add_argument("--bands", default="5,25,50,75,95", help="fan: percentiles (default 5,25,50,75,95)")
    pl.set_defaults(func=main)


def main(args) -> int:
    plot.image_format(args.output)          # before any work: the extension picks the format
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
            plot.fan(res, output, args.output, bands, units=sweep_units(res))
        elif kind == "scatter":
            plot.scatter(res, output, args.output, args.time, units=sweep_units(res))
        else:
            raise SpecError("--kind series plots a model run; give a .mdl file")
    else:
        if args.kind not in (None, "series"):
            raise SpecError(f"--kind {args.kind} plots a sweep; give its output directory")
        model = load(target, log=compile_note)
        res = model.run(params=parse_sets(args.set))
        print_warnings(res.warnings)        # as `run` does: a curve that went infinite says why
        names = args.var or [v.name for v in model.variables if v.kind == "stock"]
        if not names:       # a model without stocks: its first variable
            names = [c for c in res.columns if canonical_name(c) not in _CONTROLS][:1]
        panels = panels_by_units(model, res, names, target)
        units = {canonical_name(v.name): v.units for v in model.variables}
        time_unit = plain_units(units.get("time step") or units.get("final time") or "")
        plot.series(res, panels, args.output, title=target.stem, time_unit=time_unit)
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def sweep_units(res) -> dict[str, str]:
    """The units of a stored sweep's outputs and parameters, and of "Time", by name, read
    from its model file (parsed, not compiled); {} when that file is gone or unreadable."""
    try:
        model = parse_file(res.info["manifest"]["model"])
    except (ModelError, OSError, KeyError):
        return {}
    units = {canonical_name(v.display): plain_units(v.units) for v in model.variables.values()}
    names = list(res.outputs) + list(res.info["manifest"].get("parameters", []))
    found = {n: units.get(canonical_name(n.split("[", 1)[0]), "") for n in names}
    found["Time"] = units.get("time step") or units.get("final time") or ""
    return {n: u for n, u in found.items() if u}


_CONTROLS = {"initial time", "final time", "time step", "saveper"}


def plain_units(units: str) -> str:
    """A units field without the range Vensim allows at its end: 'Person [0,?]' -> 'Person'."""
    return re.sub(r"\s*\[[^\]]*\]\s*$", "", units or "").strip()


def columns_of(result, name: str) -> list[str]:
    """The result's columns for `name`: itself, or every element of a subscripted variable
    ('Susceptible' -> 'Susceptible[East]', 'Susceptible[West]'); [] when none."""
    key = canonical_reference(name)
    exact = [c for c in result.columns if canonical_reference(c) == key]
    return exact or [c for c in result.columns if read_reference(c)[0] == key and "[" in c]


def panels_by_units(model, result, names, target) -> list[tuple[str, list[str]]]:
    """(units, columns) per panel: the columns of `names`, grouped by their variable's units
    (compared without case and range), panels in the order of their first variable."""
    units = {canonical_name(v.name): plain_units(v.units) for v in model.variables}
    panels: dict[str, tuple[str, list[str]]] = {}
    for name in names:
        columns = columns_of(result, name)
        if not columns:
            known = {canonical_name(v.name): v.name for v in model.variables}
            raise SpecError(f"'{name}' is not a variable of {target}" + did_you_mean(canonical_name(name), known))
        unit = units.get(canonical_name(columns[0].split("[", 1)[0]), "")
        _, shown = panels.setdefault(unit.lower(), (unit, []))
        shown.extend(c for c in columns if c not in shown)
    return list(panels.values())
