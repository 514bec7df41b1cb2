"""Pass 4, the dense route: VECTOR RANK, VECTOR SORT ORDER and VECTOR REORDER in a piece of a
piecewise array, or reading their vector through a mapping, a subrange or by position, as
hidden apply-to-all arrays, so that the arrays stay dense (passes/dense_vectors.py loops over
a vector only in an apply-to-all equation whose vector reads the left-hand side's own ranges).

Vensim runs these functions over the left-hand side's last range: for an element of the
definition `y[S] = VECTOR SORT ORDER(x[R], 1)` (R mapped to S) the per-element route
(array_functions.py) reads the vector `x[R]` at each element of S in turn, bound as the
definition's left-hand side binds it (binding.py). The same values, one array each:

- an argument that reads a range the definition's left-hand side does not name, or a range
  of an array that is not the array's own, is a hidden array over the definition's
  subscripts (`y #arg1[S] = x[R]`: a mapping, which dense_pieces.py keeps in pieces), read
  at the element (`VECTOR SORT ORDER(y #arg1[S], 1)`);
- the call in a definition of a piecewise array (several equations, :EXCEPT:) is a hidden
  array over the definition's subscripts, its :EXCEPT: clauses left out (the per-element
  route's vector runs over the whole range too), that the piece reads at its element
  (`y[R] :EXCEPT: [r1] = y #vector1[R]`).

A call whose vector does not run over the left-hand side's last range, or that holds a
random draw, an array function or a macro, is left as it is: the per-element route reports
the first, and numbers the draws of the others by their own equation.
"""
from __future__ import annotations

from dataclasses import replace

from .. import ir
from ..errors import ModelError
from ..ir.ranges import MappingError, SubscriptSpace
from .binding import Binding
from .dense_pieces import Pieces, Refuse
from .dense_vectors import _NESTED

# function -> the positions of its arguments that are vectors over the left-hand side's last range
LIFTED = {"VECTOR RANK": (0,), "VECTOR SORT ORDER": (0,), "VECTOR REORDER": (0,)}


class _Lift(Binding):
    def __init__(self, model: ir.Model):
        self.model = model
        self.space = SubscriptSpace(model.subscript_ranges, model.spellings)
        self.added: dict[str, ir.Variable] = {}
        self.pieces = Pieces(model, self.space)
        self.own: dict[str, tuple[str, ...] | None] = {}

    def own_ranges(self, name: str) -> tuple[str, ...] | None:
        """The ranges an array's definitions cover (dense_pieces.Pieces.covered), else None."""
        var = self.model.variables.get(name)
        if name not in self.own:
            try:
                self.own[name] = self.pieces.covered(var)[0] if var is not None else None
            except Refuse:
                self.own[name] = None
        return self.own[name]

    def foreign(self, e: ir.Expr, lhs: tuple[str, ...]) -> bool:
        """Whether `e` reads a range that `lhs` does not name, or a range of an array other
        than the array's own there (a subrange): what the dense loop cannot read as it is."""
        for n in ir.walk(e):
            if type(n) is not ir.Ref:
                continue
            if not n.subscripts:
                if n.name not in self.model.variables and self.space.is_range(n.name) and n.name not in lhs:
                    return True
                continue
            own = self.own_ranges(n.name)
            for k, s in enumerate(n.subscripts):
                if self.space.is_range(s.rstrip("!")) and not s.endswith("!") and (
                        s not in lhs or own is None or len(own) != len(n.subscripts) or own[k] != s):
                    return True
        return False

    def runs_over_last(self, e: ir.Expr, ctx) -> bool:
        """Whether some subscript of `e` binds to the left-hand side's last range (else the
        per-element route reports that the vector does not run over it)."""
        last = len(ctx) - 1
        try:
            return any(self.binding(s, ctx, {}, k) is not None and self.binding(s, ctx, {}, k)[0] == last
                       for n in ir.walk(e) if type(n) is ir.Ref
                       for k, s in enumerate(n.subscripts) if self.space.is_range(s))
        except MappingError:
            return False

    def hidden(self, var: ir.Variable, d: ir.Definition, what: str, expr: ir.Expr, shown: str) -> ir.Ref:
        k = 1
        while f"{var.name} #{what}{k}" in self.model.variables or f"{var.name} #{what}{k}" in self.added:
            k += 1
        name = f"{var.name} #{what}{k}"
        self.added[name] = ir.Variable(name, f"{var.display} ({shown})", ir.Kind.AUXILIARY, pos=d.pos, hidden=True,
                                       definitions=(ir.Definition(d.subscripts, (), "=", expr, pos=d.pos),))
        return ir.Ref(name, d.subscripts, d.pos)

    def definition(self, var: ir.Variable, d: ir.Definition, plain: bool) -> ir.Definition:
        lhs = d.subscripts
        try:
            options = self.lhs_options(lhs, d.pos)
        except ModelError:
            return d     # the flattener reports it
        ctx = tuple((r, els[0]) for r, els in options)

        def visit(node):
            if type(node) is not ir.Call or node.func not in LIFTED or len(node.args) != 2:
                return node
            if any(type(n) is ir.Call and (n.func in _NESTED or ir.canonical_name(n.func) in self.model.macros)
                   for a in node.args for n in ir.walk(a)):
                return node
            if not all(self.runs_over_last(node.args[k], ctx) for k in LIFTED[node.func]):
                return node
            at = f"{node.func} at {node.pos.line}:{node.pos.column}" if node.pos else node.func
            args = tuple(self.hidden(var, d, "arg", a, f"an argument of {at}") if self.foreign(a, lhs) else a
                         for a in node.args)
            call = replace(node, args=args)
            return call if plain else self.hidden(var, d, "vector", call, at)
        return replace(d, expr=ir.map_expr(d.expr, visit))


def lift_vectors(model: ir.Model) -> ir.Model:
    """`model` with the vector functions that would flatten their arrays (see the module's
    doc) computed in hidden apply-to-all arrays; the model itself when there are none."""
    lift = _Lift(model)
    variables = dict(model.variables)
    sp = lift.space
    for name, var in model.variables.items():
        defs = var.definitions
        if not defs or not any(type(n) is ir.Call and n.func in LIFTED
                               for d in defs if d.expr is not None for n in ir.walk(d.expr)):
            continue
        plain = len(defs) == 1 and not defs[0].excepts and all(sp.is_range(s) for s in defs[0].subscripts)
        new = tuple(lift.definition(var, d, plain) if d.expr is not None and d.subscripts
                    and len(set(d.subscripts)) == len(d.subscripts) and sp.is_range(d.subscripts[-1])
                    and not d.rows and d.lookup is None and not d.keyword else d for d in defs)
        if new != defs:
            variables[name] = replace(var, definitions=new)
    if not lift.added:
        return model
    return replace(model, variables={**variables, **lift.added})
