"""Statements of the dense route's whole-array functions (passes/dense_vectors.py): one call of
the kernel library's helper per vector, over a scratch block, whatever the range's size.

An array `@VEC f(scalars..., components...)` over [head..., last] (n elements in last):

    for i0 in range(heads):                 # the left-hand side's other ranges
        for i1 in range(n):                 # the block, as the per-element route's driver lays it out
            st(v, S + i1, <component 0>)
            st(v, S + n + i1 * 4 + j, <component j>)
        st(v, S + m, helper(v, ix(S), ix(m), <scalars>))
        for i1 in range(n):                 # its first n values are the vector's
            st(v, base + i0 * n + i1, ld(v, S + i1))

`@VSEL(selection, expression, missing, action)` packs both over its `range!` subscripts before
the statement (as a SUM's loop) and calls kernel_lib.vector_select into a slot of its own, and
`@VBLOCK f` (FIND MARKET PRICE, MARKETP) packs its parts likewise, one loop per `@SEG`;
`@VAT` and `@VLOOK` read a dense array's slots in place (kernel_lib.vector_at,
kernel_extra.vector_lookup). Every scratch block starts at `vscratch` (one statement uses it
at a time), the VECTOR SELECT values follow it.
"""
from __future__ import annotations

import itertools
import math

from .. import ir
from ..ir.ranges import SubscriptSpace, parse_form
from ..passes.flat_exprs import flat_name
from ..passes.dense_vectors import LAYOUT, SEG, TRAILING, VAT, VBLOCK, VEC, VECTOR_CALLS, VLOOK, VSEL, helper
from .emit import safe_comment


class VectorStatements:
    """A mixin of backend/dense_emit.py's DenseEmitter: its `space`, `size`, `base`, `offset`,
    `expr`, `iterated`, `lhs`, `owner`, `pre`."""

    def after_slots(self, first: int) -> None:
        super().after_slots(first)
        vs = self.schedule.model.variables
        sp = SubscriptSpace(self.schedule.model.subscript_ranges)   # (the base's __init__ calls this too)
        block, selects = 0, {}
        for var in vs.values():
            e = var.expr
            if type(e) is ir.Call and e.func.startswith(VEC):
                f = e.func[len(VEC):]
                n = math.prod(len(sp.elements[d]) for d in var.dims[len(var.dims) - TRAILING.get(f, 1):])
                block = max(block, n * sum(LAYOUT[f]) + 1)
            for x in (var.expr, var.initial):
                for node in ir.walk(x) if x is not None else ():
                    if type(node) is ir.Call and node.func == VSEL:
                        block = max(block, 2 * math.prod(len(sp.elements[r[:-1]]) for r in _iterated(node)))
                        selects.setdefault(node, len(selects))
                    elif type(node) is ir.Call and node.func.startswith(VBLOCK):
                        block = max(block, sum(_part_size(sp, x) for x in node.args[helper(node.func[len(VBLOCK):])[1]:]))
                        selects.setdefault(node, len(selects))
        self.vscratch = self.n_slots
        self.select_slot = {node: self.vscratch + block + k for node, k in selects.items()}
        self.n_slots += block + len(selects)
        self.watch_base = self.n_slots
        self.table_rows: dict[tuple, int] = {}   # (lookup, the call's subscripts) -> its first table

    def vector_expr(self, e: ir.Call) -> str:
        if e.func in (VAT, VLOOK):
            row, n = e.args[0], int(e.args[1].value)
            rest = ", ".join(self.expr(x) for x in e.args[2:])
            f = "vector_at" if e.func == VAT else "vector_lookup"
            return f"{f}(v, ix({self.offset(row.name, row.subscripts)}), ix({n}), {rest})"
        if e.func.startswith(VBLOCK):
            return self.block(e)
        assert e.func == VSEL, e.func
        ranges = _iterated(e)
        sizes = [len(self.space.elements[r[:-1]]) for r in ranges]
        total, s = math.prod(sizes), self.vscratch
        loops, index = [], []
        for j, (r, n) in enumerate(zip(ranges, sizes)):
            k = self.iterated[r] = f"k{self.n_k}"
            self.n_k += 1
            loops.append("    " * j + f"for {k} in range({n}):")
            stride = math.prod(sizes[j + 1:])
            index.append(k if stride == 1 else f"{k} * {stride}")
        try:
            sel, x = self.expr(e.args[0]), self.expr(e.args[1])
        finally:
            for r in ranges:
                del self.iterated[r]
        at, indent = " + ".join(index), "    " * len(loops)
        missing, action = self.expr(e.args[2]), self.expr(e.args[3])
        slot = self.select_slot[e]
        self.pre += loops + [f"{indent}st(v, {s} + {at}, {sel})", f"{indent}st(v, {s + total} + {at}, {x})",
                             f"st(v, {slot}, vector_select(v, ix({s}), ix({total}), {missing}, {action}))"]
        return f"ld(v, {slot})"

    def table_row(self, first: str, subscripts: tuple[str, ...]) -> tuple[str, list, int, str]:
        """The row of the table vector that holds the tables of a lookup defined per element
        (`first`: its first element's name) read at the loop's element (passes/dense_lookups.py),
        laid out once per subscripts: (the lookup's name, its elements read, the row's first
        table, the loop's position in the row)."""
        vs = self.schedule.model.variables
        name = first[:first.index("[")]
        pieced = any(s[0] == "@" for s in subscripts)
        if pieced:     # in a piece: affine forms over the lookup's ranges, the array's own
            lists = [self.space.elements[d] for d in self.lhs]
            key = (name, ("@",) + self.lhs)
        else:
            lists = [self.space.elements[s] if s in self.lhs else (s,) for s in subscripts]
            key = (name, subscripts)
        if key not in self.table_rows:
            self.table_rows[key] = len(self.lookups)
            self.lookups += [(vs[n].lookup.source or n, vs[n].lookup)
                             for n in (flat_name(name, c) for c in itertools.product(*lists))]
        if pieced:
            parts = []
            for j, s in enumerate(subscripts):
                c, coeffs = parse_form(s)
                stride = math.prod(map(len, lists[j + 1:]))
                parts += [str(c * stride)] + [f"i{k} * {a * stride}" for k, a in enumerate(coeffs) if a]
        else:
            parts = [f"i{self.lhs.index(s)} * {math.prod(map(len, lists[j + 1:]))}" for j, s in enumerate(subscripts)
                     if s in self.lhs]
        return name, lists, self.table_rows[key], " + ".join(parts)

    def lookup_row(self, e: ir.LookupCall) -> str:
        """A lookup defined per element at the loop's element: its row of tables (`table_row`)
        and a watch per element, both indexed by the loop's counters; a data series' row
        (ir.Variable.series) is read unwatched."""
        name, lists, k0, at = self.table_row(e.table, e.subscripts)
        tables = f"tab, tk(tab, {2 * k0} + 2 * ({at})), tk(tab, {2 * k0 + 1} + 2 * ({at}))"
        vs = self.schedule.model.variables
        if all(vs[flat_name(name, c)].series for c in itertools.product(*lists)):
            return f"lookup({self.expr(e.arg)}, {tables})"  # data, held beyond their points: not watched
        w0, here = self.element_watches(name, lists, k0, e)
        return f"lookup(watched(v, {w0} + 5 * ({here}), {self.expr(e.arg)}), {tables})"

    def element_watches(self, name: str, lists: list, k0: int, e: ir.LookupCall) -> tuple[int, str]:
        """The watches of a lookup defined per element read in the loop nest's box
        (DenseEmitter.nest): one per element of the box, each naming the element and the table
        it reads (the modeller's lookup, a copy's by its source: `kt[k2]`), as the per-element
        route's warnings do, through a mapping and in a piece too; and the box's position of the
        loop's element, which picks the watch."""
        vs, start, size = self.schedule.model.variables, *self.box
        dims = [self.space.elements[d] for d in self.lhs]
        w0 = None
        for q in itertools.product(*map(range, size)):
            element = tuple(dims[j][a + i] for j, (a, i) in enumerate(zip(start, q)))
            if any(s[0] == "@" for s in e.subscripts):     # a piece's affine forms of the box's counters
                at = [c + sum(a * i for a, i in zip(coeffs, q)) for c, coeffs in map(parse_form, e.subscripts)]
            else:     # the loop's element of the left-hand side's range s (its own list), or s itself
                at = [start[self.lhs.index(s)] + q[self.lhs.index(s)] if s in self.lhs else 0
                      for s in e.subscripts]
            n = flat_name(name, [lists[j][x] for j, x in enumerate(at)])
            shown = vs[n].lookup.source if vs[n].lookup.source in vs else n   # a copy: its lookup's name
            k = sum(x * math.prod(map(len, lists[j + 1:])) for j, x in enumerate(at))
            w = self.watch(("lookup", flat_name(self.owner, element), shown, e.pos, k0 + k))
            w0 = w if w0 is None else w0
        here = " + ".join(["0"] + [f"i{j} * {math.prod(size[j + 1:])}" for j in range(len(size))])
        return w0, here

    def named_lookup(self, e: ir.Call) -> str:
        """The table of a function of a lookup (the registry's TAKES_LOOKUP: `LOOKUP AREA(tbl[r],
        a, b)`, `LOOKUP BACKWARD(tbl[r], x)`, ...): of a lookup defined per element, the loop's
        element's table in its row (`table_row`), whatever the function writes around it."""
        table = e.args[0] if e.args else None
        if type(table) is not ir.Ref or not table.subscripts:
            return super().named_lookup(e)
        _, _, k0, at = self.table_row(table.name, table.subscripts)
        return f"tab, tk(tab, {2 * k0} + 2 * ({at})), tk(tab, {2 * k0 + 1} + 2 * ({at}))"

    def block(self, e: ir.Call) -> str:
        """FIND MARKET PRICE or MARKETP: its block packed before the statement, a loop per
        iterated part, and its helper's value in a slot of its own."""
        func, n_scalars = helper(e.func[len(VBLOCK):])
        at, s = self.vscratch, self.vscratch
        for part in e.args[n_scalars:]:
            if not (type(part) is ir.Call and part.func == SEG):
                self.pre.append(f"st(v, {at}, {self.expr(part)})")
                at += 1
                continue
            (r,) = _iterated(ir.Call(SEG, (part,)))
            k = self.iterated[r] = f"k{self.n_k}"
            self.n_k += 1
            g, n = len(part.args), len(self.space.elements[r[:-1]])
            try:
                where = k if g == 1 else f"{k} * {g}"
                lines = [f"    st(v, {at + j} + {where}, {self.expr(c)})" for j, c in enumerate(part.args)]
            finally:
                del self.iterated[r]
            self.pre += [f"for {k} in range({n}):"] + lines
            at += g * n
        scalars = "".join(f", {self.expr(x)}" for x in e.args[:n_scalars])
        slot = self.select_slot[e]
        self.pre.append(f"st(v, {slot}, {func}(v, ix({s}), ix({at - s}){scalars}))")
        return f"ld(v, {slot})"

    def vector_driver(self, name: str, e: ir.Call) -> str:
        """The statement of an array `@VEC f(...)` (see the module's doc)."""
        f = e.func[len(VEC):]
        dims = self.schedule.model.variables[name].dims
        groups, (func, n_scalars) = LAYOUT[f], helper(f)
        sizes = [len(self.space.elements[d]) for d in dims]
        h, s = len(dims) - TRAILING.get(f, 1), self.vscratch      # the head's ranges, the block
        n = math.prod(sizes[h:])
        m = n * sum(groups)
        # the vector's element: its position in the block, and its slot in the array
        at = " + ".join(f"i{k} * {math.prod(sizes[k + 1:])}" if k < len(dims) - 1 else f"i{k}"
                        for k in range(h, len(dims)))
        target = " + ".join([str(self.base[name])] + [f"i{k} * {math.prod(sizes[k + 1:])}" for k in range(h)]
                            + [f"({at})"])
        self.owner, self.lhs = name, dims
        try:
            comps, pack, first = iter(e.args[n_scalars:]), [], s
            for g in groups:
                for c in range(g):
                    where = f"({at})" if g == 1 else f"({at}) * {g}"
                    pack.append(f"st(v, {first + c} + {where}, {self.expr(next(comps))})")
                first += g * n
            scalars = "".join(f", {self.expr(x)}" for x in e.args[:n_scalars])
            assert not self.pre
        finally:
            self.lhs, self.pre = (), []
        loops = lambda ks: ["    " * k + f"for i{k} in range({sizes[k]}):" for k in ks]
        tail = lambda body: [line[4 * h:] for line in loops(range(h, len(dims)))] + \
            ["    " * (len(dims) - h) + x for x in body]
        block = tail(pack) + [f"st(v, {s + m}, {func}(v, ix({s}), ix({m}){scalars}))"] \
            + tail([f"st(v, {target}, ld(v, {s} + {at}))  # {safe_comment(name)}"])
        return "\n".join(loops(range(h)) + ["    " * h + x for x in block])


def _part_size(space, part: ir.Expr) -> int:
    if type(part) is ir.Call and part.func == SEG:
        (r,) = _iterated(ir.Call(SEG, (part,)))
        return len(part.args) * len(space.elements[r[:-1]])
    return 1


def _iterated(e: ir.Call) -> list[str]:
    """The `range!` subscripts a VECTOR SELECT's selection and expression run over, in order."""
    return list(dict.fromkeys(s for a in e.args[:2] for n in ir.walk(a) if type(n) is ir.Ref
                              for s in n.subscripts if s.endswith("!")))


__all__ = ["VEC", "VECTOR_CALLS", "VectorStatements"]
