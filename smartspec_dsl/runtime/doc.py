"""A model's documentation table and dependency graph, from the model as the
modeller wrote it (the parsed IR): what PySD's `model.doc` and
`model.dependencies` give, in smartspec's terms.

`rows(model)` needs nothing optional; `frame(rows)` is the same table as a
pandas DataFrame (PySD's type for `model.doc`)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING


from .. import ir
from ..ir.builtins import BUFFER, BUILTINS, EQUATION, LOWERING
from ..ir.ranges import SubscriptSpace

if TYPE_CHECKING:     # imported by `dependencies`, not with the runtime
    import networkx as nx

COLUMNS = ("Real Name", "Name", "Units", "Limits", "Type", "Subtype", "Comment", "Subscripts")
_RANGE_TAIL = re.compile(r"\s*\[[^\]]*\]\s*$")


@dataclass(frozen=True)
class DocRow:
    """One variable: `real_name` as the modeller wrote it; `name` the canonical
    name (any spelling that reduces to it is accepted: case, spaces, underscores);
    `units` without the range; `limits` (min, max) from the units field's range,
    None where it gives none (Vensim's help, "Units and ranges"); `type` the kind
    (Stock, Flow, Auxiliary, Constant, Lookup, Data); `subtype` how its equation
    is written (Normal, Unchangeable for '==', With Lookup, or the stateful
    function: INTEG, SMOOTH, DELAY1, INITIAL, ...); `subscripts` its ranges."""
    real_name: str
    name: str
    units: str
    limits: tuple[float | None, float | None]
    type: str
    subtype: str
    comment: str
    subscripts: tuple[str, ...]

    def values(self) -> tuple:
        return (self.real_name, self.name, self.units, self.limits, self.type, self.subtype,
                self.comment, self.subscripts)


def plain_units(units: str) -> str:
    """A units field without the range it may end with: 'Widget [0, 100]' -> 'Widget'."""
    return _RANGE_TAIL.sub("", units or "").strip()


def _limits(units: str) -> tuple[float | None, float | None]:
    bounds = ir.declared_range(units)
    if bounds is None:
        return (None, None)
    return tuple(None if abs(b) == float("inf") else b for b in bounds)


def _subtype(var: ir.Variable) -> str:
    if var.unchangeable:
        return "Unchangeable"
    if var.kind is ir.Kind.STOCK:
        return "INTEG"
    e = var.expr
    if isinstance(e, ir.Call):
        if e.func == "WITH LOOKUP":
            return "With Lookup"
        spec = BUILTINS.get(e.func)
        if spec is not None and spec.stage in (LOWERING, BUFFER, EQUATION):
            return e.func
    return "Normal"


def _comment(text: str) -> str:
    """A comment as one text: Vensim's line continuations (a backslash ending a line)
    joined, each line's indentation dropped."""
    text = re.sub(r"\\[ \t]*\r?\n", " ", text or "")
    return "\n".join(" ".join(line.split()) for line in text.strip().splitlines())


def _dims_shown(v: ir.Variable, space: SubscriptSpace, ranges) -> tuple[str, ...]:
    """Per subscript of `v`, the range as the modeller wrote it (canonical names are lower
    case); a variable defined in pieces by the range that spans them (not its first piece's);
    one defined for some of a range's elements only (`x[S1]`, `x[r4]` of R: r1..r5) by its
    pieces' own subscripts ('S1, r4'), or its elements when those say more."""
    out = []
    for k, (rng, els) in enumerate(space.spans(v)):
        if rng in ranges and set(els) == set(space.elements.get(rng, ())):
            out.append(ranges[rng].written or rng)
            continue
        own = dict.fromkeys(df.subscripts[k].rstrip("!") for df in v.definitions if len(df.subscripts) > k)
        if {e for s in own for e in space.elements.get(s, (s,))} != set(els):
            own = dict.fromkeys(els)   # :EXCEPT: took some out: the elements themselves
        out.append(", ".join(ranges[s].written or s if s in ranges else space.display.get(s, s) for s in own))
    return tuple(out)


def rows(model: ir.Model) -> list[DocRow]:
    """A row per variable of the model (hidden ones of lowering left out), by real name."""
    out = []
    ranges = model.subscript_ranges
    space = SubscriptSpace(ranges)
    for v in model.variables.values():
        if v.hidden or v.name == ir.TIME:
            continue
        dims = _dims_shown(v, space, ranges) if v.dims else ()
        out.append(DocRow(v.display, v.name, plain_units(v.units), _limits(v.units),
                          v.kind.value.capitalize(), _subtype(v), _comment(v.comment), dims))
    return sorted(out, key=lambda r: r.real_name.lower())


def frame(table: list[DocRow]):
    """`table` as a pandas DataFrame with the columns of COLUMNS (pandas: an optional extra)."""
    try:
        import pandas as pd
    except ImportError as err:  # optional extra
        raise ImportError("Model.doc needs pandas: pip install 'smartspec[pandas]' "
                          "(Model.doc_rows() gives the same table without it)") from err
    return pd.DataFrame([r.values() for r in table], columns=list(COLUMNS))


def _reads(var: ir.Variable) -> set[str]:
    exprs = [var.expr, var.initial] + [d.expr for d in var.definitions]
    exprs += [x for d in var.definitions for row in d.rows for x in row]
    out: set[str] = set()
    for e in exprs:
        if e is not None and not isinstance(e, ir.LookupTable):
            out |= ir.references(e)
    return out


def dependencies(model: ir.Model) -> nx.DiGraph:
    """The model's variables (canonical names; node attributes `display`, `kind`) with an
    edge u -> v wherever v's equation (its initial value included) reads u."""
    import networkx as nx
    g = nx.DiGraph()
    for v in model.variables.values():
        if not v.hidden:
            g.add_node(v.name, display=v.display, kind=v.kind.value)
    for v in model.variables.values():
        if v.hidden:
            continue
        for u in _reads(v):
            if u == ir.TIME and u not in g:
                g.add_node(u, display="Time", kind="time")
            if u in g:
                g.add_edge(u, v.name)
    return g
