"""Pass 4, the dense route: what an array reads at other elements than its own, given to it
over its own ranges first, so that it stays dense.

`lift_vectors`: VECTOR RANK, VECTOR SORT ORDER and VECTOR REORDER in a piece of a piecewise
array, or reading their vector through a mapping, a subrange or by position, as hidden
apply-to-all arrays (passes/dense_vectors.py loops over a vector only in an apply-to-all
equation whose vector reads the left-hand side's own ranges).

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

`lift_lookups`: a lookup defined per element read through a mapping, or in a piece of an
array over other ranges than its own, as a hidden lookup over the array's ranges (see there).
"""
from __future__ import annotations

import itertools
from dataclasses import replace

from .. import ir
from ..errors import ModelError
from ..ir.builtins import TAKES_LOOKUP
from ..ir.ranges import MappingError, SubscriptSpace
from .binding import Binding
from .dense_pieces import Pieces, Refuse
from .dense_vectors import _NESTED
from .flat_exprs import flat_name

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
                if not s.endswith("!") and self.space.is_range(s) and (
                        s not in lhs or own is None or len(own) != len(n.subscripts) or own[k] != s):
                    return True
        return False

    def runs_over_last(self, e: ir.Expr, ctx) -> bool:
        """Whether some subscript of `e` binds to the left-hand side's last range (else the
        per-element route reports that the vector does not run over it)."""
        for n in ir.walk(e):
            for k, s in enumerate(n.subscripts if type(n) is ir.Ref else ()):
                try:
                    bound = self.binding(s, ctx, {}, k) if self.space.is_range(s) else None
                except MappingError:
                    return False
                if bound is not None and bound[0] == len(ctx) - 1:
                    return True
        return False

    def fresh(self, var: ir.Variable, what: str) -> str:
        """A name for a hidden variable of `var`'s (`y #arg1`), unused so far."""
        k = 1
        while f"{var.name} #{what}{k}" in self.model.variables or f"{var.name} #{what}{k}" in self.added:
            k += 1
        return f"{var.name} #{what}{k}"

    def hidden(self, var: ir.Variable, d: ir.Definition, what: str, expr: ir.Expr, shown: str) -> ir.Ref:
        name = self.fresh(var, what)
        self.added[name] = ir.Variable(name, f"{var.display} ({shown})", ir.Kind.AUXILIARY, pos=d.pos, hidden=True,
                                       definitions=(ir.Definition(d.subscripts, (), "=", expr, pos=d.pos),))
        return ir.Ref(name, d.subscripts, d.pos)

    def vectors_read(self, var: ir.Variable, d: ir.Definition, plain: bool) -> ir.Definition:
        """Definition `d` of `var` reading hidden arrays (`lift_vectors`)."""
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
        new = tuple(lift.vectors_read(var, d, plain) if d.expr is not None and d.subscripts
                    and len(set(d.subscripts)) == len(d.subscripts) and sp.is_range(d.subscripts[-1])
                    and not d.rows and d.lookup is None and not d.keyword else d for d in defs)
        if new != defs:
            variables[name] = replace(var, definitions=new)
    if not lift.added:
        return model
    return replace(model, variables={**variables, **lift.added})


class _LiftTables(_Lift):
    """The lookups of arrays read at other elements than the array's own (see `lift_lookups`)."""

    def table_of(self, node: ir.Expr) -> str | None:
        """The lookup defined per element that `node` calls or names as a function's table."""
        if type(node) is ir.LookupCall and node.subscripts:
            name = node.table
        elif type(node) is ir.Call and node.args and type(node.args[0]) is ir.Ref and node.args[0].subscripts \
                and node.func in TAKES_LOOKUP:
            name = node.args[0].name
        else:
            return None
        return name if self.pieces.lookup_dims(name) is not None else None

    def plain_read(self, subscripts, ldims, lhs) -> bool:
        """What dense_lookups.py reads in an apply-to-all equation: each subscript a range of
        the left-hand side whose elements the lookup's range holds, or one of its elements."""
        sp = self.space
        return all((s in lhs and set(sp.elements[s]) <= set(sp.elements[d]))
                   or (not sp.is_range(s) and s in sp.elements[d]) for s, d in zip(subscripts, ldims))

    def tables_read(self, var: ir.Variable, d: ir.Definition, dims, plain: bool) -> ir.Definition:
        """Definition `d` of `var` (an array over `dims`) reading hidden lookups (`lift_lookups`)."""
        try:
            options, combos = self.combos(var, d)
        except ModelError:
            return d     # the flattener reports it
        own = [{e: k for k, e in enumerate(self.space.elements[r])} for r in dims]

        def visit(node):
            table = self.table_of(node)
            subs = (node.subscripts if type(node) is ir.LookupCall else node.args[0].subscripts) if table else ()
            ldims = self.pieces.lookup_dims(table) if table else None
            if ldims is None or len(ldims) != len(subs) or any(s.endswith("!") for s in subs) \
                    or (self.plain_read(subs, ldims, d.subscripts) if plain else self.pieces.same_ranges(ldims, dims)):
                return node
            lookup = self.model.variables[table]
            tables = {c: t.lookup and replace(t.lookup, source=t.lookup.source or flat_name(table, c))
                      for t in lookup.definitions for c in self.combos(lookup, t)[1]}
            read: dict[tuple, ir.LookupTable] = {}
            try:
                for c in combos:
                    ctx = tuple((r, e) for (r, _), e in zip(options, c))
                    read[tuple(own[j][e] for j, e in enumerate(c))] = tables[tuple(
                        self.resolve(s, ctx, {}, k, node.pos) for k, s in enumerate(subs))]
            except (ModelError, KeyError):
                return node    # the flattener reports it
            filler = next(iter(read.values()))   # the elements of the array's other definitions
            name = self.fresh(var, "table")
            self.added[name] = ir.Variable(
                name, f"{lookup.display} (read by {var.display})", ir.Kind.LOOKUP, pos=node.pos, hidden=True,
                series=lookup.series, definitions=tuple(
                    ir.Definition(c, (), "=", None, (), read.get(tuple(own[j][e] for j, e in enumerate(c)), filler),
                                  node.pos) for c in itertools.product(*(self.space.elements[r] for r in dims))))
            if type(node) is ir.LookupCall:
                return ir.LookupCall(name, node.arg, node.pos, d.subscripts)
            return replace(node, args=(ir.Ref(name, d.subscripts, node.args[0].pos), *node.args[1:]))
        return replace(d, expr=ir.map_expr(d.expr, visit))


def lift_lookups(model: ir.Model) -> ir.Model:
    """`model` with each call of a lookup defined per element (`tbl[r](x)`, or a function's
    table, `LOOKUP BACKWARD(tbl[r], x)`) that an array reads at another element than its own
    (through a mapping, or in a piece of a piecewise array over other ranges than the
    lookup's; a subrange's elements are the lookup's own) reading instead a hidden lookup over the array's own ranges
    (`y #table1`) whose element at each element of the array is the table that element reads
    (the flattener's binding, binding.py; the tables are data, no statement): the array
    stays one loop (dense_lookups.py, or dense_pieces.py for a piece), reading its own
    element's table. The model itself when there are none."""
    lift = _LiftTables(model)
    variables = dict(model.variables)
    sp = lift.space
    for name, var in model.variables.items():
        defs = var.definitions
        if not defs or var.kind is ir.Kind.LOOKUP or not any(
                lift.table_of(n) for d in defs if d.expr is not None for n in ir.walk(d.expr)):
            continue
        try:
            dims = lift.pieces.covered(var)[0]
        except Refuse:
            continue
        plain = len(defs) == 1 and not defs[0].excepts and all(sp.is_range(s) for s in defs[0].subscripts)
        new = tuple(lift.tables_read(var, d, dims, plain) if d.expr is not None and d.subscripts and not d.rows
                    and d.lookup is None else d for d in defs)
        if new != defs:
            variables[name] = replace(var, definitions=new)
    if not lift.added:
        return model
    return replace(model, variables={**variables, **lift.added})
