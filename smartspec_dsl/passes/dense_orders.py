"""Pass 4, the dense route: an array whose SMOOTH N or DELAY N structure differs between
its elements is split along the ranges that decide it, and only those.

`Outflow[Apples, Citrus] = DELAY N(Inflow[Apples, Citrus], delay[Apples], 10, 6)`: Vensim
lowers each element's order until every stage is at least one TIME STEP long, so the order
differs between the apples (passes/stateful/rules.py), and a chain of hidden stocks has one
length for the whole array it belongs to. The array is rewritten, before the dense route's
partition, as one hidden array per element of the ranges its decided arguments read
(`Outflow #order1[Citrus] = DELAY N(Inflow[Macoun, Citrus], delay[Macoun], 10, 6)`, ...), each
an apply-to-all equation over the other ranges whose structure is decided once (recorded in
`ir.Model.decisions` as any other, so a run's values that change it run another kernel), and
the array itself reads them piece by piece (passes/dense_pieces.py). Its kernel grows with
the elements of the deciding ranges, as the per-element route's, not with the others.
It runs before a run's elements set to constants become numbers beside the equations
(passes/pipeline.py): a split depends on the model's text alone, so replacing one element
names the others' hidden stocks and numbers their random draws as before (backend/sites.py).
"""
from __future__ import annotations

import itertools
import math
import re
from dataclasses import replace

from .. import ir
from ..ir.ranges import SubscriptSpace

# the calls whose arguments at these positions decide the structure (dense.DECIDED)
_DECIDING = {"SMOOTH N": (3,), "DELAY N": (1, 3)}
# more hidden arrays than this and the array is flattened as before (where the flattener's own
# size check refuses what is too big, before anything per element is built)
MAX_PARTS = 10_000


def split_varying_orders(model: ir.Model) -> ir.Model:
    """`model` with each apply-to-all array whose SMOOTH N or DELAY N order (or DELAY N's
    delay time, which may lower it) reads the left-hand side's ranges split along those
    ranges (see the module's doc). An equation that reads another range than its own ranges
    (a mapping, a subrange) or uses a deciding range as a value is left as it is."""
    space = SubscriptSpace(model.subscript_ranges)
    variables = dict(model.variables)
    for name, var in model.variables.items():
        if len(var.definitions) != 1:
            continue
        d = var.definitions[0]
        lhs = d.subscripts
        if d.excepts or d.rows or d.lookup is not None or d.keyword or d.expr is None or not lhs \
                or len(set(lhs)) != len(lhs) or not all(space.elements.get(s) for s in lhs):
            continue
        deciding = _deciding(d.expr, lhs)
        if not deciding or not _splittable(d.expr, lhs, deciding, space):
            continue
        split = [s for s in lhs if s in deciding]
        if math.prod(len(space.elements[s]) for s in split) > MAX_PARTS:
            continue
        keep = tuple(s for s in lhs if s not in deciding)
        pieces = []
        for k, combo in enumerate(itertools.product(*(space.elements[s] for s in split))):
            at = dict(zip(split, combo))
            expr = ir.map_expr(d.expr, lambda n: replace(n, subscripts=tuple(at.get(s, s) for s in n.subscripts))
                               if type(n) is ir.Ref and n.subscripts else n)
            part = f"{name} #order{k + 1}"
            shown = f"{var.display}[{','.join(space.shown(e) for e in combo)}]"
            # a scalar when every range decides (the parser's form of a scalar: its expression
            # and its one definition without subscripts)
            variables[part] = replace(var, name=part, display=shown, hidden=True, dims=keep,
                                      expr=None if keep else expr, definitions=(replace(d, subscripts=keep, expr=expr),))
            pieces.append(replace(d, subscripts=tuple(at.get(s, s) for s in lhs), expr=ir.Ref(part, keep, d.pos)))
        variables[name] = replace(var, definitions=tuple(pieces))
    return replace(model, variables=variables) if variables.keys() != model.variables.keys() else model


# a part's name after its array's (`x #order2`)
_PART = re.compile(r" #order\d+")


def part_of(model: ir.Model, flat: str) -> tuple[str, tuple[str, ...]] | None:
    """The hidden part of an array that `split_varying_orders` split in `model` which computes
    the array's element `flat`, and that element's place in it: `('x #order2', ('h1',))` for
    `x[g2,h1]` of `x[G, H]` split along G (the part over H), `('x #order2', ())` for a scalar
    part; None for an element of an array not split so. What a run that replaces `flat`'s
    equation no longer runs (edits.constants_as_numbers, edits.made_by)."""
    name, at = ir.split_element(flat)
    var = model.variables.get(name)
    if var is None or not at:
        return None
    combo = tuple(at[1:-1].split(","))
    space = SubscriptSpace(model.subscript_ranges)
    for d in var.definitions:
        e = d.expr
        if type(e) is not ir.Ref or not e.name.startswith(name) or not _PART.fullmatch(e.name[len(name):]) \
                or len(d.subscripts) != len(combo):
            continue
        # the piece names the split ranges' elements and keeps the part's own ranges
        kept = [i for i, s in enumerate(d.subscripts) if s in e.subscripts]
        if all(c in space.elements.get(d.subscripts[i], ()) if i in kept else c == d.subscripts[i]
               for i, c in enumerate(combo)):
            return e.name, tuple(combo[i] for i in kept)
    return None


def _deciding(e: ir.Expr, lhs) -> set[str]:
    """The left-hand side's ranges that the deciding arguments of `e`'s calls read."""
    out: set[str] = set()
    for n in ir.walk(e):
        if type(n) is ir.Call and n.func in _DECIDING:
            for i in _DECIDING[n.func]:
                for m in ir.walk(n.args[i]) if i < len(n.args) else ():
                    if type(m) is ir.Ref:
                        out |= {s for s in m.subscripts if s in lhs}
    return out


def _splittable(e: ir.Expr, lhs, deciding: set[str], space: SubscriptSpace) -> bool:
    """Whether every range `e` reads is one of the left-hand side's, named as such (so that
    putting an element in its place reads what the element's own equation reads), none
    deciding used as a value, and no stock is defined (its hidden copies would be stocks)."""
    if type(e) is ir.Call and e.func == "INTEG":
        return False
    for n in ir.walk(e):
        if type(n) is ir.Ref:
            if n.name in deciding:
                return False
            if any(space.is_range(s) and s not in lhs for s in n.subscripts):
                return False
    return True
