"""Statements of a dense model (passes/dense.py): an array variable is one loop over its
slice of the state vector, whatever its number of elements.

Slot layout as `emit.Emitter`'s, [time | continuous stocks | discrete stocks | constants |
the rest], each array a contiguous block of its elements (the last subscript fastest,
`elements.elements`). `slots` names every element (`name[e1,e2]`) and every scalar, computed
when asked (`elements.Slots`); `base` is each variable's first slot.

    for i0 in range(n):                     # over the left-hand side's first range
        acc0 = 0.0                          # SUM(m[r, c!]): a loop over c per element
                                            # (PROD, VMIN, VMAX alike: _REDUCTIONS)
        for k0 in range(m):
            acc0 += ld(v, 40 + i0 * m + k0)
        st(v, 12 + i0, (ld(v, 30 + i0) / acc0))

A reference's subscripts become offsets: the left-hand side's range of the same name is
its loop variable `i<j>`, a `range!` the enclosing SUM's `k<j>` (from the first element of
a subrange: passes/dense.py takes only subranges that are runs), an element a number, a
piece's affine form `@c:a0,a1` (passes/dense_pieces.py) c + a0*i0 + a1*i1. An array kept in
pieces (`@PIECES(@BOX(...), expr, ...)`) is one loop nest per box, its loop variables
counting from the box's first element.
"""
from __future__ import annotations

import math

from .. import ir
from ..passes.elements import ElementOrder, Elements, Slots
from ..passes.order import Schedule
from ..ir.ranges import SubscriptSpace, parse_form
from .dense_buffers import VALUES, BufferLoops
from .dense_vectors import VEC, VECTOR_CALLS, VectorStatements
from . import element_loops
from .emit import Emitter, safe_comment

# a reduction's accumulator: its start and its update (the tape reads these forms)
_REDUCTIONS = {"SUM": ("0.0", "{acc} += {term}"), "PROD": ("1.0", "{acc} *= {term}"),
               "VMIN": ("math.inf", "{acc} = fmin({acc}, {term})"),
               "VMAX": ("-math.inf", "{acc} = fmax({acc}, {term})")}


class DenseEmitter(BufferLoops, VectorStatements, Emitter):
    """An `Emitter` for a dense schedule: loops for arrays, the base's statements for scalars."""

    def __init__(self, schedule: Schedule):
        super().__init__(schedule)
        model = schedule.model
        vs = model.variables
        self.space = SubscriptSpace(model.subscript_ranges)
        self.size = {n: math.prod(len(self.space.elements[d]) for d in v.dims) for n, v in vs.items()}
        cont = [n for n in schedule.stocks if not vs[n].discrete]
        disc = [n for n in schedule.stocks if vs[n].discrete]
        stocks = set(cont) | set(disc)
        order = [ir.TIME] + cont + disc + list(schedule.constants)
        order += [n for n in schedule.initial if n not in stocks]
        self.base: dict[str, int] = {}
        scalars: dict[str, int] = {}
        at = 0
        for n in order:
            self.base[n] = at
            if n in vs and vs[n].dims:
                at += self.size[n]
            else:
                scalars[n] = at
                at += 1
        # every element by its flat name, computed when asked (passes/elements.py)
        self.elements = Elements(vs, model.subscript_ranges)
        self.slots = Slots(scalars, {n: b for n, b in self.base.items() if n not in scalars}, self.elements)
        self.stock_vars = cont + disc
        self.cont = ElementOrder(self.elements, cont)
        self.disc = ElementOrder(self.elements, disc)
        self.params = ElementOrder(self.elements, schedule.constants)
        # a buffer function over an array keeps one buffer region per element (dense_buffers.py):
        # its elements' regions in element order
        self.fixed = [r for n in self.fixed for r in self.elements.names(n)]
        self.after_slots(at)   # what follows the slots, moved past the arrays
        self.lhs: tuple[str, ...] = ()        # the ranges of the array being assigned
        self.nesting = False                   # in an array's loop nest (`nest`)
        self.iterated: dict[str, str] = {}     # `range!` -> the loop variable of its SUM
        self.n_k = 0

    def constant_statements(self) -> list[str]:
        n = len(self.params)
        first = self.base[self.schedule.constants[0]] if self.schedule.constants else 0
        out = [f"for i in range({n}):\n    st(v, {first} + i, ld(p, i))"] if n else []
        out.append(f"st(v, {self.run_seed_slot}, ld(p, {n}))")
        return out

    # -- expressions ---------------------------------------------------------------
    def offset(self, name: str, subs: tuple[str, ...]) -> str:
        """The slot of `name[subs]` in the current loops: its base plus, per subscript, the
        loop variable (or the element's position) times the subscript's stride."""
        dims = self.schedule.model.variables[name].dims
        const, parts, stride = self.base[name], [], 1
        for s, d in reversed(list(zip(subs, dims))):
            if s in self.iterated:
                # a subrange of the array's range iterates from its first element on
                var, const = self.iterated[s], const + stride * self.space.run_start(s[:-1], d)
            elif s[0] == "@":
                c, coeffs = parse_form(s)
                const += stride * c
                parts += [f"i{j}" if a * stride == 1 else f"i{j} * {a * stride}"
                          for j, a in reversed(list(enumerate(coeffs))) if a]
                stride *= len(self.space.elements[d])
                continue
            elif s in self.lhs:
                var = f"i{self.lhs.index(s)}"
            else:
                var = None
                const += stride * self.space.elements[d].index(s)
            if var is not None:
                parts.append(var if stride == 1 else f"{var} * {stride}")
            stride *= len(self.space.elements[d])
        return " + ".join([str(const)] + parts[::-1])

    def expr(self, e: ir.Expr) -> str:
        if self.moving and id(e) in self.moving:   # an element a loop over elements advances (element_loops)
            return super().expr(e)
        if type(e) is ir.Ref and e.subscripts:
            return f"ld(v, {self.offset(e.name, e.subscripts)})"
        if type(e) is ir.Call and e.func in _REDUCTIONS:
            return self.reduction(e)
        if type(e) is ir.Call and e.func in VECTOR_CALLS:
            return self.vector_expr(e)
        if type(e) is ir.Call and e.func == VALUES:    # a buffer helper's values (dense_buffers.py)
            return self.helper_values(e)
        if type(e) is ir.LookupCall and e.subscripts:
            return self.lookup_row(e)
        if type(e) is ir.Call and e.func == "@INDEX":
            return f"(1.0 + 1.0 * i{int(e.args[0].value)})"
        if type(e) is ir.Call and e.func == "@AFFINE":
            c, *coeffs = (x.value for x in e.args)
            return "(" + " + ".join([repr(float(c))] + [f"{float(a)!r} * i{j}" for j, a in enumerate(coeffs) if a]) + ")"
        return super().expr(e)

    def reduction(self, e: ir.Call) -> str:
        """SUM, PROD, VMIN or VMAX of arg over the `range!` subscripts of arg: an accumulator
        and a loop per range, emitted before the statement (`flush`)."""
        ranges = list(dict.fromkeys(s for n in ir.walk(e.args[0]) if type(n) is ir.Ref
                                    for s in n.subscripts if s.endswith("!")))
        acc = f"acc{self.n_acc}"
        self.n_acc += 1
        loops = []
        for r in ranges:
            self.iterated[r] = f"k{self.n_k}"
            self.n_k += 1
            loops.append(f"for {self.iterated[r]} in range({len(self.space.elements[r[:-1]])}):")
        term = self.expr(e.args[0])
        for r in ranges:
            del self.iterated[r]
        start, update = _REDUCTIONS[e.func]
        self.pre += [f"{acc} = {start}"] + ["    " * j + line for j, line in enumerate(loops)] \
            + ["    " * len(loops) + update.format(acc=acc, term=term)]
        return acc

    def range_watch(self, n: str, bounds) -> element_loops.Item:
        """The watch of a variable whose units declare a range; an array's, one per element
        (each warns by the element's name), in one loop."""
        if not self.schedule.model.variables[n].dims:
            return super().range_watch(n, bounds)
        w0 = [self.watch(("range", e) + bounds) for e in self.elements.names(n)][0]
        code = f"for i in range({self.size[n]}):\n    watched(v, {w0} + 5 * i, ld(v, {self.base[n]} + i))"
        return element_loops.Item(n, None, (), None, lambda: code)

    def watched_lookup(self, arg: str, key, table: ir.LookupTable, name: str | None, pos) -> str:
        """A lookup in an array's loop nest: a watch per element, indexed by the element's
        position (each warns by the element's name, as the per-element route's)."""
        if not self.nesting:
            return super().watched_lookup(arg, key, table, name, pos)
        self.table(key, table)
        k = self.table_at[key]
        w = [self.watch(("lookup", e, name, pos, k)) for e in self.elements.names(self.owner)]
        return f"watched_lookup(v, {w[0]} + 5 * (@ELEMENT@), {arg}, tab, {k})"

    def array_size(self, name: str) -> int:
        return self.size[name]

    def site(self) -> str:
        """A random draw's call site in an array's loop: the element's position in its array
        joins the placeholder (`Emitter.number_sites` numbers it as it numbers a flattened
        element's). Each loop nest counts its draws per element from 0, as each element's
        own statement does on the per-element route."""
        site = super().site()
        return site.replace("@)", "@{@ELEMENT@})", 1) if self.lhs else site

    # -- statements ----------------------------------------------------------------
    def looped(self, name: str, target: str, e: ir.Expr, first_draw: int = 0) -> str:
        """A statement over the elements of array `name`: `target` (a format with the slot
        offset) of the value of `e` inside the loops; one loop nest per box of a `@PIECES`.
        `first_draw`: the element's draws written before this statement (a buffer's, whose
        phases are statements apart: backend/dense_buffers.py)."""
        dims = self.schedule.model.variables[name].dims
        sizes = [len(self.space.elements[d]) for d in dims]
        if not (type(e) is ir.Call and e.func == "@PIECES"):
            return self.nest(name, target, e, [0] * len(dims), sizes, first_draw)
        out = []
        for box, piece in zip(e.args[::2], e.args[1::2]):
            at = [int(x.value) for x in box.args]
            out.append(self.nest(name, target, piece, at[::2], at[1::2], first_draw))
        return "\n".join(out)

    def nest(self, name: str, target: str, e: ir.Expr, start: list[int], size: list[int], first_draw: int = 0) -> str:
        """The loops over the box of array `name` from element `start` (positions per range)
        of `size`, and the statement `target` of `e`'s value in them."""
        var = self.schedule.model.variables[name]
        self.owner, self.lhs, self.nesting, self.box = name, var.dims, True, (start, size)
        self.draws.pop((int(self.step_expr == "-1"), name), None)
        if first_draw:
            self.draws[int(self.step_expr == "-1"), name] = first_draw
        strides = [math.prod(len(self.space.elements[d]) for d in var.dims[j + 1:]) for j in range(len(var.dims))]
        first = self.base[name] + sum(a * s for a, s in zip(start, strides))
        slot = " + ".join([str(first)] + [f"i{j}" if s == 1 else f"i{j} * {s}" for j, s in enumerate(strides)])
        try:
            code = self.expr(e)
            element = slot.replace(str(first), str(first - self.base[name]), 1)
            body = [line.replace("@ELEMENT@", element)
                    for line in self.pre + [target.format(slot, code) + f"  # {safe_comment(name)}"]]
        finally:
            self.pre, self.n_acc, self.n_k, self.lhs, self.nesting = [], 0, 0, (), False
        header = ["    " * j + f"for i{j} in range({n}):" for j, n in enumerate(size)]
        indent = "    " * len(size)
        return "\n".join(header + [indent + line for b in body for line in b.split("\n")])

    def assign(self, name: str, e: ir.Expr) -> str:
        if not self.schedule.model.variables[name].dims:
            return super().assign(name, e)
        if type(e) is ir.Call and e.func.startswith(VEC):   # an array of a whole-array function's
            return self.vector_driver(name, e)
        return self.looped(name, "st(v, {}, {})", e)

    def variable(self, name: str) -> ir.Variable:
        return self.elements[name]

    def rate_statements(self) -> list[str]:
        vs = self.schedule.model.variables

        def rate(n: str, e: ir.Expr) -> str:
            if vs[n].dims:
                # the rate of the stock at slot s is r[s - 1] (time is slot 0)
                return self.looped(n, "st(r, {} - 1, {})", e)
            self.owner = n
            return self.flush(f"st(r, {self.base[n] - 1}, {self.expr(e)})  # {safe_comment(n)}")
        return element_loops.statements(self, [element_loops.Item(
            n, vs[n].expr, (self.base[n] - 1,), "st(r, {0}, {value})", lambda n=n: rate(n, vs[n].expr))
            for n in self.stock_vars])
