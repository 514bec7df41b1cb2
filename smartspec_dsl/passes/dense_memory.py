"""Pass 4, the dense route: a function with memory in one piece of a piecewise array, computed
first in a hidden array over that piece's own elements, so that the array stays dense.

`x[A1] = SMOOTH(in[A1], 3)` beside `x[A2] = 5 * in[A2]`: a loop nest per box of x's pieces
(passes/dense_pieces.py) cannot hold the SMOOTH, whose hidden stock stateful lowering gives the
owner's ranges, the whole array's (passes/stateful/base.py). The call becomes a hidden array
over the definition's own subscripts and :EXCEPT: clauses (`x #memory1[A1] = SMOOTH(in[A1], 3)`,
each reference binding as in the definition: binding.py), one apply-to-all array (over a range
of exactly the piece's elements when no range lists them, `dense_pieces.covering_ranges`),
which the piece reads at its element (`x[A1] = x #memory1[A1]`). Each element's values are those
its own equation gives on the per-element route: the same functions of the same inputs. Under
:EXCEPT: the call's arguments are read over the definition's elements first (`x #arg1`); of a
buffer (DELAY FIXED, DELAY MATERIAL, ...), which reads its arguments once per step and its
initial values at the start, only the parts of them that read the elements, so that a lookup's
watch in them warns when the buffer reads it, as on the per-element route.

It runs before a run's elements set to constants become numbers beside the equations
(passes/pipeline.py), as the split of passes/dense_orders.py: a run that replaces an element
keeps the hidden arrays, and the other elements' hidden stocks keep their names, so that a
saved state continues under the edit.

A hidden array owns the draws of its calls (backend/sites.py: `owner_of`), on both routes.
Left as they are (flattened, each element's memory its own equation's): a call holding a macro
or an array function, a queue (QUEUE FIFO, QUEUE FIFO ATTRIB), SMOOTH N or DELAY N in a piece of
one element, and a definition whose elements are not a product of one set of elements
per subscript (`x[A, C] :EXCEPT: [a1, c1]`: no array over ranges has exactly them).
"""
from __future__ import annotations

import math
from dataclasses import replace

from .. import ir
from ..errors import ModelError
from ..ir.builtins import ARRAY, BUFFER, BUILTINS, LOOKUP_ARGS, RANDOM_DRAW
from ..ir.ranges import SubscriptSpace
from .dense_pieces import Pieces

# the functions with memory that a piece cannot hold (dense.DENSE_STATEFUL, the buffer's too)
MEMORY = frozenset({"SMOOTH", "SMOOTHI", "SMOOTH3", "SMOOTH3I", "DELAY1", "DELAY1I", "DELAY3", "DELAY3I",
                    "TREND", "FORECAST", "SMOOTH N", "DELAY N", "INITIAL", "SAMPLE IF TRUE", "NPV", "NPVE"}
                   | {n for n, b in BUILTINS.items() if b.stage == BUFFER})
# the arguments that decide a structure, read as written (passes/dense_orders.py splits by them)
_DECIDED = {"SMOOTH N": (3,), "DELAY N": (1, 3)}
_LEFT = ARRAY
# left per element, as before this pass: a queue's parcels need its call to be its variable's
# whole equation (stateful/batches.py), which the hidden array's is not; and SMOOTH N or DELAY N
# in a piece of one element reads its order at that element, which the hidden array's range,
# made up to cover the element (dense_pieces.covering_ranges), cannot evaluate
_KEPT = frozenset({"QUEUE FIFO", "QUEUE FIFO ATTRIB"})
# the calls that draw a random number (dense._RANDOM)
_RANDOM = {n for n, b in BUILTINS.items() if b.emit == RANDOM_DRAW} | {"RANDOM 0 1", "RANDOM LOOKUP"}


def lift_memory(model: ir.Model) -> ir.Model:
    """`model` with each call of a function with memory in a definition of a piecewise array
    (two definitions or more) read from a hidden array over the definition's elements (see the
    module's doc); the model itself when there is none."""
    space = SubscriptSpace(model.subscript_ranges, model.spellings)
    pieces = Pieces(model, space)
    variables, added = dict(model.variables), {}
    for name, var in model.variables.items():
        defs = var.definitions
        if len(defs) < 2 or not any(_calls(d) for d in defs):
            continue
        new = []
        for d in defs:
            if not _calls(d) or not _product(pieces, var, d):
                new.append(d)
                continue

            def visit(node, d=d):
                if type(node) is not ir.Call or node.func not in MEMORY or node.func in _KEPT or (
                        node.func in _DECIDED and not any(space.is_range(s) for s in d.subscripts)) or any(
                        type(n) is ir.Call and (n.func in _LEFT or ir.canonical_name(n.func) in model.macros)
                        for a in node.args for n in ir.walk(a)):
                    return node

                def hidden(what: str, e: ir.Expr) -> ir.Ref:   # shown as the array (lowering adds the call)
                    k = 1
                    while f"{name} #{what}{k}" in model.variables or f"{name} #{what}{k}" in added:
                        k += 1
                    added[f"{name} #{what}{k}"] = ir.Variable(
                        f"{name} #{what}{k}", var.display, ir.Kind.AUXILIARY, pos=d.pos, hidden=True,
                        definitions=(replace(d, expr=e),))
                    return ir.Ref(f"{name} #{what}{k}", d.subscripts, node.pos)
                kept = _DECIDED.get(node.func, ()) + LOOKUP_ARGS.get(node.func, ())    # as written
                if d.excepts:
                    # the elements left may not be a run of the arrays the arguments read: each read
                    # over the definition's elements first, so that the call reads its own elements
                    def reads(e: ir.Expr) -> bool:
                        return any((type(n) in (ir.Ref, ir.LookupCall) and n.subscripts)
                                   or (type(n) is ir.Ref and space.is_range(n.name)) for n in ir.walk(e))
                    # a buffer reads its arguments once per step at the step's time, under RK4
                    # too, and its initial values at the start: a lookup left in its call is
                    # watched then, as on the per-element route, where a hidden auxiliary's is at
                    # every evaluation, RK4's sub-steps too (review R2). Not with a draw or memory
                    # in the arguments: those stay the arguments' hidden arrays' own
                    by_part = BUILTINS[node.func].stage == BUFFER and not any(
                        type(n) is ir.Call and (n.func in _RANDOM or n.func in MEMORY)
                        for a in node.args for n in ir.walk(a))
                    node = replace(node, args=tuple(
                        a if i in kept or not reads(a) else _lifted_parts(a, reads, lambda e: hidden("arg", e))
                        if by_part else hidden("arg", a) for i, a in enumerate(node.args)))
                return hidden("memory", node)
            # the outermost calls only: what they hold goes with them
            new.append(replace(d, expr=_map_outermost(d.expr, visit)))
        variables[name] = replace(var, definitions=tuple(new))
    return replace(model, variables={**variables, **added}) if added else model


def _lifted_parts(e: ir.Expr, reads, lift) -> ir.Expr:
    """`e` (which `reads` the definition's elements) with `lift` applied to each largest part of
    it that reads them and calls no lookup (and to a call of a lookup that does: a lookup
    defined per element, LOOKUP AREA of one, ...), the lookups left in place."""
    watched = [n for n in ir.walk(e) if type(n) is ir.LookupCall or (type(n) is ir.Call and n.func in LOOKUP_ARGS)]
    if not watched or (type(e) is ir.LookupCall and e.subscripts) or (type(e) is ir.Call and e.func in LOOKUP_ARGS):
        return lift(e)
    kids = ir.children(e)
    new = [_lifted_parts(k, reads, lift) if reads(k) else k for k in kids]
    return ir.with_children(e, new) if any(a is not b for a, b in zip(new, kids)) else e


def _calls(d: ir.Definition) -> bool:
    """Whether definition `d` is an equation (not numbers, a lookup or data) calling a function
    with memory."""
    return d.expr is not None and bool(d.subscripts) and not d.rows and d.lookup is None and not d.keyword \
        and d.operator == "=" and any(type(n) is ir.Call and n.func in MEMORY for n in ir.walk(d.expr))


def _product(pieces: Pieces, var: ir.Variable, d: ir.Definition) -> bool:
    """Whether the elements `d` defines are every combination of one set of elements per
    subscript (what one array over ranges holds)."""
    try:
        _, combos = pieces.combos(var, d)
    except ModelError:
        return False     # the flattener reports it
    if len(set(d.subscripts)) != len(d.subscripts):
        return False
    per_position = [set(c[j] for c in combos) for j in range(len(d.subscripts))]
    return bool(combos) and math.prod(map(len, per_position)) == len(set(combos))


def _map_outermost(e: ir.Expr, visit) -> ir.Expr:
    """`e` with `visit` applied to its outermost calls of MEMORY (top-down: a call that `visit`
    replaces is not entered; the front end bounds an expression's depth)."""
    if type(e) is ir.Call and e.func in MEMORY:
        out = visit(e)
        if out is not e:
            return out
    kids = ir.children(e)
    new = [_map_outermost(k, visit) for k in kids]
    return ir.with_children(e, new) if any(a is not b for a, b in zip(new, kids)) else e
