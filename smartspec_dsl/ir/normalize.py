"""Clean-ups that keep a model in its normal form, applied by the parser and
again by every pass that creates variables (flattening, external data)."""
from __future__ import annotations

from dataclasses import replace

from .. import ir
from ..errors import ModelError


def resolve_lookup_calls(var: ir.Variable, lookup_names: set[str]) -> ir.Variable:
    """`name(x)` is a lookup application when `name` is a lookup variable."""
    def fix(node):
        if isinstance(node, ir.Call) and ir.canonical_name(node.func) in lookup_names:
            if len(node.args) != 1:
                raise ModelError(f"{node.pos}: lookup '{node.func.lower()}' takes one argument, got {len(node.args)}")
            return ir.LookupCall(ir.canonical_name(node.func), node.args[0], node.pos)
        return node

    def fx(e):
        return None if e is None else ir.map_expr(e, fix)

    defs = tuple(replace(d, expr=fx(d.expr), rows=tuple(tuple(fx(x) for x in row) for row in d.rows))
                 for d in var.definitions)
    return replace(var, expr=fx(var.expr), initial=fx(var.initial), definitions=defs)


def classify_flows(variables: dict[str, ir.Variable]) -> dict[str, ir.Variable]:
    """An auxiliary named in a stock's rate is a flow (Vensim draws it as a valve)."""
    flows = set()
    for v in variables.values():
        if v.kind is ir.Kind.STOCK:
            flows |= ir.references(v.expr)
    return {n: (replace(v, kind=ir.Kind.FLOW) if n in flows and v.kind is ir.Kind.AUXILIARY else v)
            for n, v in variables.items()}
