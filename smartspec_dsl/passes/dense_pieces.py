"""Pass 4, the dense route's pieces: an array that is not one apply-to-all equation stays one
array too.

A variable defined piecewise (several equations over subranges or single elements, :EXCEPT:,
per-element initial values), or whose references bind through a mapping, a subrange or by
position (`Starting[Games, Lower] = Shipping[Games, Upper]`), or that uses a range as a value,
keeps ONE variable over the ranges its definitions cover (`dims`). Each definition covers a set
of elements; the set is cut into boxes of consecutive element positions inside which every
subscript of every reference, and every range used as a value, is affine in the loop counters
(`_boxes`): the kernel then runs one loop nest per box (backend/dense_emit.py), so its size
follows the number of definitions and of the runs a mapping makes, not the elements. What each
element reads is found by the flattener's own binding rules (passes/binding.py), element by
element, so the two routes read the same elements.

The dense IR of such a variable (`Plan`):
- an array of numbers (every definition a number or a list of numbers): a constant whose
  equation is `@VALUES(n1, n2, ...)` in slot order, as an apply-to-all list's;
- otherwise its equation (a stock's rate and initial value) is
  `@PIECES(@BOX(start0, size0, start1, size1, ...), expr, @BOX(...), expr, ...)`;
  in a piece's expression a reference's subscript is `@c:a0,a1,...` (the element at position
  c + a0*i0 + a1*i1 + ... of the referenced array's range, i_j the loop counter over the box's
  j-th range, from 0), `range!` (iterated by the enclosing SUM), and a range used as a value is
  `@AFFINE(c, a0, a1, ...)`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .. import ir
from ..errors import ModelError
from ..ir.ranges import subscript_form
from .binding import Binding
from .flat_exprs import flat_name

PIECE_CALLS = {"@PIECES", "@BOX", "@AFFINE"}


class Refuse(Exception):
    """The reason a variable is flattened per element instead."""


@dataclass(frozen=True)
class Plan:
    """What the dense route makes of a variable: its ranges, kind, and either its numbers in
    slot order (a constant) or its equation and initial value as `@PIECES` calls."""
    dims: tuple[str, ...]
    kind: ir.Kind
    expr: ir.Expr
    initial: ir.Expr | None = None


def number(e: ir.Expr | None) -> float | None:
    """The value of a number literal (`3`, `-3`), else None."""
    if isinstance(e, ir.Num):
        return e.value
    if isinstance(e, ir.UnaryOp) and e.op == "-" and isinstance(e.operand, ir.Num):
        return -e.operand.value
    return None


def _kind_of(d: ir.Definition) -> str:
    if d.lookup is not None or d.keyword or d.operator not in ("=", "=="):
        raise Refuse("has a lookup or data")
    if d.rows:
        if all(number(x) is not None for row in d.rows for x in row):
            return "list"
        raise Refuse("has a list of values that is not numbers")
    if d.expr is None:
        raise Refuse("has no equation")
    if number(d.expr) is not None:
        return "numbers"
    if isinstance(d.expr, ir.Call) and d.expr.func == "INTEG" and len(d.expr.args) == 2:
        return "stock"
    return "expression"


class Pieces(Binding):
    """The pieces of the variables of a model (its `SubscriptSpace` as `space`)."""

    def __init__(self, model: ir.Model, space):
        self.model = model
        self.space = space

    def covered(self, var: ir.Variable) -> tuple[tuple[str, ...], list]:
        """(dims, per definition (definition, its options, its element combinations)): the
        ranges, one per subscript, whose elements are exactly those the definitions cover,
        and the definitions; Refuse when they do not cover every element of such ranges once
        or mix kinds (numbers, stocks, other equations)."""
        if not var.definitions or any(not d.subscripts for d in var.definitions):
            raise Refuse("is not subscripted in every equation")
        width = len(var.definitions[0].subscripts)
        if any(len(d.subscripts) != width for d in var.definitions):
            raise Refuse("has equations with different numbers of subscripts")
        kinds = {_kind_of(d) for d in var.definitions}
        if len(kinds) > 1 and not kinds <= {"numbers", "list"} and not kinds == {"numbers", "expression"}:
            # a number among equations is an element of an auxiliary (as in Vensim, where a
            # variable with an equation is not a constant); a run that sets it edits it
            raise Refuse("mixes stocks, lists of numbers and other equations")
        if len({d.operator for d in var.definitions}) > 1:
            raise Refuse("mixes '=' and '=='")
        defs, seen = [], set()
        try:
            for d in var.definitions:
                options, combos = self.combos(var, d)
                defs.append((d, options, combos))
                seen.update(combos)
        except ModelError as e:
            raise Refuse(str(e)) from None
        if sum(len(c) for _, _, c in defs) != len(seen) or not seen:
            raise Refuse("defines an element twice or none")
        dims = []
        for j in range(width):
            used = {c[j] for c in seen}
            written = [o[j][0] for _, o, _ in defs if o[j][0] is not None]
            for r in written + list(self.space.elements):
                els = self.space.elements[r]
                if len(els) == len(used) and set(els) == used:
                    dims.append(r)
                    break
            else:
                raise Refuse("is defined for elements that make no range")
        if math.prod(len(self.space.elements[r]) for r in dims) != len(seen):
            raise Refuse("is defined for part of its ranges only")
        return tuple(dims), defs

    def plan(self, var: ir.Variable, dims_of, flattened) -> Plan:
        """The dense form of `var` given the dims of the arrays kept dense (`dims_of`) and the
        names of the arrays flattened per element (`flattened`), whose single elements only
        it may read; Refuse when it cannot be (see the module's doc)."""
        dims, defs = self.covered(var)
        where = [{e: k for k, e in enumerate(self.space.elements[r])} for r in dims]
        if {_kind_of(d) for d in var.definitions} <= {"numbers", "list"}:
            values: dict[tuple, float] = {}
            for d, _, combos in defs:
                flat = [number(x) for row in d.rows for x in row] if d.rows else [number(d.expr)] * len(combos)
                for c, x in zip(combos, flat):
                    values[tuple(w[e] for w, e in zip(where, c))] = x
            order = sorted(values)
            return Plan(dims, ir.Kind.CONSTANT, ir.Call("@VALUES", tuple(ir.Num(values[p]) for p in order), var.pos))
        pieces: list[ir.Expr] = []
        for d, options, combos in defs:
            expr = ir.map_expr(d.expr, self.count)
            points = {}
            for c in combos:
                ctx = tuple((r, e) for (r, _), e in zip(options, c))
                points[tuple(w[e] for w, e in zip(where, c))] = self.sites(expr, ctx, dims_of, flattened)
            for start, size, forms in _boxes(points, len(dims)):
                box = ir.Call("@BOX", tuple(ir.Num(float(x)) for pair in zip(start, size) for x in pair), d.pos)
                pieces += [box, self.rewrite(expr, iter(forms), dims_of)]
        if isinstance(pieces[1], ir.Call) and pieces[1].func == "INTEG":
            rates = [p.args[0] if k % 2 else p for k, p in enumerate(pieces)]
            inits = [p.args[1] if k % 2 else p for k, p in enumerate(pieces)]
            return Plan(dims, ir.Kind.STOCK, ir.Call("@PIECES", tuple(rates), var.pos),
                        ir.Call("@PIECES", tuple(inits), var.pos))
        return Plan(dims, ir.Kind.AUXILIARY, ir.Call("@PIECES", tuple(pieces), var.pos))

    # -- what each element reads ----------------------------------------------------
    def count(self, node: ir.Expr) -> ir.Expr:
        """ELMCOUNT(range) as its number (before its range is read as a value)."""
        if type(node) is ir.Call and node.func == "ELMCOUNT" and len(node.args) == 1 \
                and isinstance(node.args[0], ir.Ref) and self.space.is_range(node.args[0].name.rstrip("!")):
            return ir.Num(float(len(self.space.elements[node.args[0].name.rstrip("!")])))
        return node

    def sites(self, e: ir.Expr, ctx, dims_of, flattened) -> tuple[int, ...]:
        """The position each subscript of `e` that a range binds stands for at the left-hand
        side's element `ctx` (in the referenced array's range), and each range used as a
        value, in `ir.map_expr`'s order (the order `rewrite` replaces them in)."""
        out: list[int] = []
        sp = self.space

        def visit(node):
            t = type(node)
            if t is ir.Ref:
                if node.subscripts:
                    target = dims_of.get(node.name)
                    if target is None:
                        self.flat_element(node, flattened)
                        return node
                    if len(target) != len(node.subscripts):
                        raise Refuse("a reference with the wrong number of subscripts")
                    for k, s in enumerate(node.subscripts):
                        if s.endswith("!"):
                            if s[:-1] != target[k]:
                                raise Refuse("an iterated range that is not the variable's")
                            continue
                        try:
                            el = self.resolve(s, ctx, {}, k, node.pos)
                        except ModelError as why:
                            raise Refuse(str(why)) from None
                        at = _index(sp.elements[target[k]], el)
                        if at is None:
                            raise Refuse("reads an element its array does not have")
                        out.append(at)
                elif node.name not in self.model.variables and sp.is_range(node.name):
                    el = self.bind(node.name, ctx, {}, None)
                    if el is None:
                        raise Refuse("a range used as a value that the left-hand side does not bind")
                    out.append(sp.family(node.name).index(el) + 1)
            elif t is ir.LookupCall and node.subscripts:
                raise Refuse("a lookup of an array")
            return node
        ir.map_expr(e, visit)
        return tuple(out)

    def flat_element(self, node: ir.Ref, flattened) -> None:
        """A subscripted reference to no dense array: one element of a flattened array."""
        sp = self.space
        if node.name not in flattened:
            raise Refuse("a subscripted reference to no array")
        if any(s.endswith("!") or sp.is_range(s) or s not in sp.all_elements for s in node.subscripts):
            raise Refuse("a range of an array flattened per element")

    def rewrite(self, e: ir.Expr, forms, dims_of) -> ir.Expr:
        """`e` in a piece: each site (`sites`' order) replaced by its affine form from `forms`,
        an element of a flattened array by its flat name, an element used as a value by its
        position."""
        sp = self.space

        def visit(node):
            t = type(node)
            if t is ir.Ref:
                if node.subscripts:
                    if node.name not in dims_of:
                        return ir.Ref(flat_name(node.name, node.subscripts), (), node.pos)
                    subs = tuple(s if s.endswith("!") else subscript_form(*next(forms)) for s in node.subscripts)
                    return ir.Ref(node.name, subs, node.pos)
                if node.name not in self.model.variables:
                    if sp.is_range(node.name):
                        c, coeffs = next(forms)
                        return ir.Call("@AFFINE", tuple(ir.Num(float(x)) for x in (c, *coeffs)), node.pos)
                    if node.name in sp.all_elements:
                        return ir.Num(float(sp.element_family(node.name).index(node.name) + 1))
            return node
        return ir.map_expr(e, visit)


def _index(elements: tuple[str, ...], e: str) -> int | None:
    try:
        return elements.index(e)
    except ValueError:
        return None


def _boxes(points: dict[tuple[int, ...], tuple[int, ...]], ndim: int) -> list:
    """Boxes (start, size, forms) covering `points` (element positions -> the value of each
    site there), each box a product of runs of consecutive positions in which every site is
    affine in the positions: `forms` per site (c, (a0, a1, ...)), its value at
    start + (i0, i1, ...) being c + a0*i0 + a1*i1 + ...

    By the first position: the boxes of the rest at each, then consecutive first positions
    whose boxes have the same shape and slopes and whose constants advance evenly merge."""
    if ndim == 0:
        (value,) = points.values()
        return [((), (), tuple((v, ()) for v in value))]
    by_first: dict[int, dict] = {}
    for p, v in points.items():
        by_first.setdefault(p[0], {})[p[1:]] = v
    out = []
    run: list = []      # [(first position, its boxes)] merging
    slope: list | None = None

    def close():
        if run:
            p0, boxes0 = run[0]
            for b, (start, size, forms) in enumerate(boxes0):
                steps = slope[b] if slope is not None else [0] * len(forms)
                out.append(((p0, *start), (len(run), *size),
                            tuple((c, (a, *coeffs)) for (c, coeffs), a in zip(forms, steps))))

    for p in sorted(by_first):
        boxes = _boxes(by_first[p], ndim - 1)
        if run and p == run[-1][0] + 1 and _same_shape(run[0][1], boxes):
            steps = [[c1 - c0 for (c0, _), (c1, _) in zip(b0[2], b1[2])] for b0, b1 in zip(run[-1][1], boxes)]
            if slope is None or steps == slope:
                slope = steps
                run.append((p, boxes))
                continue
        close()
        run, slope = [(p, boxes)], None
    close()
    return out


def _same_shape(a: list, b: list) -> bool:
    return len(a) == len(b) and all(x[0] == y[0] and x[1] == y[1] and [f[1] for f in x[2]] == [f[1] for f in y[2]]
                                    for x, y in zip(a, b))
