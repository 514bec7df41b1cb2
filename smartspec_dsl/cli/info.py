"""`smartspec info MODEL` (what a model holds: its variables by type, subscript
ranges, time settings) and `smartspec vars MODEL [PATTERN]` (its variables,
one a line: name, type, units, subscripts, comment), from the parsed model:
neither compiles a kernel."""
from __future__ import annotations

import fnmatch
import json
import sys
from collections import Counter

from .. import ir
from ..errors import ModelError, ParameterError
from ..frontend.source import model_format, parse_file
from ..passes.consteval import constant_value
from ..runtime import doc

TYPES = ("stock", "flow", "auxiliary", "constant", "lookup", "data")


def add_parser(sub) -> None:
    """The commands' arguments (info and vars), as sub-commands of `sub`."""
    info = sub.add_parser("info", help="summarise a model: variables by type, subscript ranges, time settings")
    info.add_argument("model")
    info.set_defaults(func=main_info)
    vs = sub.add_parser("vars", help="list a model's variables (name, type, units, subscripts, comment)",
                        description="List a model's variables, optionally only those whose name matches "
                                    "PATTERN (case-insensitive; a substring, or a glob with * and ?).")
    vs.add_argument("model")
    vs.add_argument("pattern", nargs="?", default=None, help="substring or glob of the names to list")
    vs.add_argument("--type", action="append", choices=TYPES, dest="types",
                    help="only variables of this type (repeatable)")
    vs.add_argument("--json", action="store_true", help="one JSON array of objects instead of a table")
    vs.set_defaults(func=main_vars)


def _matches(pattern: str | None, row: doc.DocRow) -> bool:
    if not pattern:
        return True
    p = ir.canonical_name(pattern)
    names = (row.name, row.real_name.lower())
    if any(c in p for c in "*?["):
        return any(fnmatch.fnmatchcase(n, p) for n in names)
    return any(p in n for n in names)


def _controls(model: ir.Model) -> list[str]:
    out, t0 = [], 0.0
    for name in ir.CONTROL_NAMES:
        var = model.variables.get(name)
        if var is None:
            out.append(f"{name.upper()}: not defined")
            continue
        try:
            value = constant_value(model, name, {}, t0)
        except ModelError:
            out.append(f"{name.upper()}: computed during the run ({var.pos})")
            continue
        if name == "initial time":
            t0 = value
        units = doc.plain_units(var.units)
        out.append(f"{name.upper()} = {value:g}" + (f" {units}" if units else ""))
    return out


def main_info(args) -> int:
    model = parse_file(args.model)
    table = doc.rows(model)
    counts = Counter(r.type.lower() for r in table if r.name not in ir.CONTROL_NAMES)
    lines = [f"{args.model} ({model_format(args.model, '')} model)"]
    plural = {"auxiliary": "auxiliaries", "data": "data"}
    lines.append("variables: " + (", ".join(f"{counts[t]} {t if counts[t] == 1 else plural.get(t, t + 's')}"
                                            for t in TYPES if counts[t]) or "none"))
    subscripted = sum(1 for r in table if r.subscripts)
    if subscripted:
        lines.append(f"subscripted variables: {subscripted}")
    for r in model.subscript_ranges.values():
        shown = r.display or r.elements
        if r.elements:
            lines.append(f"subscript range {r.written or r.name}: {len(shown)} elements ({', '.join(shown[:8])}"
                         f"{', ...' if len(shown) > 8 else ''})")
    if model.macros:
        lines.append("macros: " + ", ".join(sorted(model.macros)))
    lines += _controls(model)
    if model.method:
        lines.append(f"integration method: {model.method}")
    print("\n".join(lines))
    return 0


def main_vars(args) -> int:
    model = parse_file(args.model)
    types = set(args.types or ())
    table = [r for r in doc.rows(model) if _matches(args.pattern, r) and (not types or r.type.lower() in types)]
    if not table:
        what = f" matching '{args.pattern}'" if args.pattern else ""
        raise ParameterError(f"{args.model}: no variable{what}"
                             + (f" of type {', '.join(sorted(types))}" if types else ""))
    if args.json:
        json.dump([{"name": r.real_name, "type": r.type.lower(), "subtype": r.subtype, "units": r.units,
                    "limits": list(r.limits), "subscripts": list(r.subscripts), "comment": r.comment}
                   for r in table], sys.stdout, indent=1)
        print()
        return 0
    rows = [("name", "type", "units", "subscripts", "comment")]
    rows += [(r.real_name, r.type.lower() + ("" if r.subtype in ("Normal", "INTEG") else f" ({r.subtype})"),
              r.units, ", ".join(r.subscripts), " ".join(r.comment.split())[:60]) for r in table]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row[:4], widths)) + "  " + row[4])
    return 0
