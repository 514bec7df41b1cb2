"""Pass 4, the dense route's pieces: an array that is not one apply-to-all equation stays one
array too.

A variable defined piecewise (several equations over subranges or single elements, :EXCEPT:,
per-element initial values), or whose references bind through a mapping, a subrange or by
position (`Starting[Games, Lower] = Shipping[Games, Upper]`), or that uses a range as a value,
keeps ONE variable over the ranges its definitions cover (`dims`; a partial definition, over
elements no range lists, a hidden range of them: `covering_ranges`). Each definition covers a set
of elements; the set is cut into boxes of consecutive element positions inside which every
subscript of every reference, and every range used as a value, is affine in the loop counters
(`_boxes`): the kernel then runs one loop nest per box (backend/dense_emit.py), so its size
follows the number of definitions and of the runs a mapping makes, not the elements. What each
element reads is found by the flattener's own binding rules (passes/binding.py), element by
element, so the two routes read the same elements.

The dense IR of such a variable (`Plan`):
- an array of numbers (every definition a number or a list of numbers): a constant whose
  equation is `@VALUES(n1, n2, ...)` in slot order, as an apply-to-all list's;
- numbers beside equations: the numbers' boxes are pieces that read the hidden constant array
  `numbers_of(name)` (`Plan.numbers`), each number a parameter by its element's name;
- otherwise its equation (a stock's rate and initial value) is
  `@PIECES(@BOX(start0, size0, start1, size1, ...), expr, @BOX(...), expr, ...)`;
  in a piece's expression a reference's subscript is `@c:a0,a1,...` (the element at position
  c + a0*i0 + a1*i1 + ... of the referenced array's range, i_j the loop counter over the box's
  j-th range, from 0), `range!` (iterated by the enclosing SUM), and a range used as a value is
  `@AFFINE(c, a0, a1, ...)`.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace

from .. import ir
from ..errors import ModelError
from ..ir.ranges import SubscriptSpace, subscript_form
from .binding import Binding
from .elements import NUMBERS
from .flat_exprs import flat_name, number

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
    # numbers beside equations: `@VALUES` over the same ranges (0 where an equation defines the
    # element), the hidden constant array `numbers_of(name)` that their pieces read
    numbers: ir.Expr | None = None


def numbers_of(name: str) -> str:
    """The hidden constant array that holds the numbers an array gives beside its equations;
    each of those numbers is a parameter named by its own element (passes/elements.py)."""
    return name + NUMBERS


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
        or mix numbers, stocks and other equations."""
        if not var.definitions or any(not d.subscripts for d in var.definitions):
            raise Refuse("is not subscripted in every equation")
        width = len(var.definitions[0].subscripts)
        if any(len(d.subscripts) != width for d in var.definitions):
            raise Refuse("has equations with different numbers of subscripts")
        # numbers beside equations stay constants, which a run, a sweep or a changes file sets
        # by name (`plan`'s `numbers`); beside stocks they would be stocks of no equation
        kinds = {_kind_of(d) for d in var.definitions}
        if "stock" in kinds and len(kinds) > 1:
            raise Refuse("gives some elements as stocks and others as numbers or other equations")
        if len({d.operator for d in var.definitions}) > 1:
            raise Refuse("mixes '=' and '=='")
        defs, seen = [], set()
        try:
            for d in var.definitions:
                options, combos = self.combos(var, d)
                if d.rows and sum(map(len, d.rows)) != len(combos):
                    raise Refuse("is given a list of another length than its elements")
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
        numbers: dict[tuple, float] = {}
        for d, options, combos in defs:
            if not combos:
                continue    # every element excepted (a run gives it as a number: passes/edits.py)
            if d.rows or number(d.expr) is not None:
                # numbers beside equations: pieces reading the hidden array of the numbers
                flat = [number(x) for row in d.rows for x in row] if d.rows else [number(d.expr)] * len(combos)
                at = {tuple(w[e] for w, e in zip(where, c)): x for c, x in zip(combos, flat)}
                numbers.update(at)
                for start, size, _ in _boxes(dict.fromkeys(at, ()), len(dims)):
                    subs = tuple(subscript_form(c, [int(j == k) for k in range(len(dims))]) for j, c in enumerate(start))
                    pieces += [_box(start, size, d.pos), ir.Ref(numbers_of(var.name), subs, d.pos)]
                continue
            expr = ir.map_expr(d.expr, self.count)
            sites = self.sites(expr, dims_of, flattened, dims)
            points = {}
            for c in combos:
                ctx = tuple((r, e) for (r, _), e in zip(options, c))
                points[tuple(w[e] for w, e in zip(where, c))] = self.values_at(sites, ctx)
            for start, size, forms in _boxes(points, len(dims)):
                pieces += [_box(start, size, d.pos), self.rewrite(expr, iter(forms), dims_of, dims)]
        if isinstance(pieces[1], ir.Call) and pieces[1].func == "INTEG":
            rates = [p.args[0] if k % 2 else p for k, p in enumerate(pieces)]
            inits = [p.args[1] if k % 2 else p for k, p in enumerate(pieces)]
            return Plan(dims, ir.Kind.STOCK, ir.Call("@PIECES", tuple(rates), var.pos),
                        ir.Call("@PIECES", tuple(inits), var.pos))
        values = None
        if numbers:
            # in slot order, the last subscript fastest
            slots = itertools.product(*(range(len(self.space.elements[r])) for r in dims))
            values = ir.Call("@VALUES", tuple(ir.Num(numbers.get(p, 0.0)) for p in slots), var.pos)
        return Plan(dims, ir.Kind.AUXILIARY, ir.Call("@PIECES", tuple(pieces), var.pos), numbers=values)

    # -- what each element reads ----------------------------------------------------
    def count(self, node: ir.Expr) -> ir.Expr:
        """ELMCOUNT(range) as its number (before its range is read as a value)."""
        if type(node) is ir.Call and node.func == "ELMCOUNT" and len(node.args) == 1 \
                and isinstance(node.args[0], ir.Ref) and self.space.is_range(node.args[0].name.rstrip("!")):
            return ir.Num(float(len(self.space.elements[node.args[0].name.rstrip("!")])))
        return node

    def lookup_dims(self, name: str) -> tuple[str, ...] | None:
        """The ranges a lookup defined per element covers exactly (one per subscript), or None
        when `name` is no such lookup."""
        var = self.model.variables.get(name)
        if var is None or not var.definitions or any(
                not isinstance(d.lookup, ir.LookupTable) or not d.subscripts for d in var.definitions):
            return None
        width = len(var.definitions[0].subscripts)
        seen: set = set()
        total = 0
        try:
            for d in var.definitions:
                if len(d.subscripts) != width:
                    return None
                _, combos = self.combos(var, d)
                seen.update(combos)
                total += len(combos)
        except ModelError:
            return None
        sp, dims = self.space, []
        for j in range(width):
            used = {c[j] for c in seen}
            r = next((r for r, els in sp.elements.items() if len(els) == len(used) and set(els) == used), None)
            if r is None:
                return None
            dims.append(r)
        if total != len(seen) or math.prod(len(sp.elements[r]) for r in dims) != len(seen):
            return None
        return tuple(dims)

    def table(self, node: ir.Expr, dims) -> str | None:
        """The name of the lookup defined per element over exactly the elements of `dims` (the
        variable's own ranges) that `node` calls (`tbl[r](x)`) or names as a function's table (`tbl[r]`), read
        in a piece at the element its subscripts bind; else None (dense_lift.py gives such a
        lookup to the other reads of lookups of arrays)."""
        name = node.table if type(node) is ir.LookupCall else node.name if type(node) is ir.Ref else None
        if name is None or not node.subscripts or any(s.endswith("!") for s in node.subscripts):
            return None
        return name if self.same_ranges(self.lookup_dims(name), dims) else None

    def same_ranges(self, a, b) -> bool:
        """Whether two lists of ranges list the same elements in the same order."""
        return a is not None and len(a) == len(b) and all(self.space.elements[r] == self.space.elements[s]
                                                          for r, s in zip(a, b))

    def sites(self, e: ir.Expr, dims_of, flattened, dims=()) -> list[tuple]:
        """Each subscript of `e` that a range binds, as (name, the subscript's position in the
        reference, the referenced array's range, where), and each range used as a value, as
        (name, None, its family's range, where), in `ir.map_expr`'s order (the order
        `rewrite` replaces them in); Refuse what no piece can read. A lookup defined per
        element over the variable's ranges `dims` is read as an array (`table`)."""
        out: list[tuple] = []
        sp = self.space

        def visit(node):
            t = type(node)
            if (t is ir.LookupCall or t is ir.Ref) and self.table(node, dims):
                out.extend((s, k, dims[k], node.pos) for k, s in enumerate(node.subscripts))
            elif t is ir.Ref:
                if node.subscripts:
                    target = dims_of.get(node.name)
                    if target is None:
                        self.flat_element(node, flattened)
                        return node
                    if len(target) != len(node.subscripts):
                        raise Refuse("a reference with the wrong number of subscripts")
                    for k, s in enumerate(node.subscripts):
                        if s.endswith("!"):
                            if sp.run_start(s[:-1], target[k]) is None:
                                raise Refuse("an iterated range that is not a run of the variable's")
                            continue
                        out.append((s, k, target[k], node.pos))
                elif node.name not in self.model.variables and sp.is_range(node.name):
                    out.append((node.name, None, _family_range(sp, node.name), node.pos))
            elif t is ir.LookupCall and node.subscripts:
                raise Refuse("a lookup of an array")
            return node
        ir.map_expr(e, visit)
        return out

    def values_at(self, sites: list[tuple], ctx) -> tuple[int, ...]:
        """The value of each of `sites` at the left-hand side's element `ctx`: the position
        of the element a subscript reads in the referenced array's range, or a range's
        position in its family (1-based) as a value; the flattener's rules (binding.py)."""
        out = []
        sp = self.space
        for name, k, target, pos in sites:
            if k is None:
                el = self.bind(name, ctx, {}, None)
                if el is None:
                    raise Refuse("a range used as a value that the left-hand side does not bind")
                out.append(sp.position(target, el) + 1)
                continue
            try:
                el = self.resolve(name, ctx, {}, k, pos)
            except ModelError as why:
                raise Refuse(str(why)) from None
            at = sp.position(target, el)
            if at is None:
                raise Refuse("reads an element its array does not have")
            out.append(at)
        return tuple(out)

    def flat_element(self, node: ir.Ref, flattened) -> None:
        """A subscripted reference to no dense array: one element of a flattened array."""
        sp = self.space
        if node.name not in flattened:
            raise Refuse("a subscripted reference to no array")
        if any(s.endswith("!") or sp.is_range(s) or s not in sp.all_elements for s in node.subscripts):
            raise Refuse("a range of an array flattened per element")

    def rewrite(self, e: ir.Expr, forms, dims_of, dims=()) -> ir.Expr:
        """`e` in a piece: each site (`sites`' order) replaced by its affine form from `forms`,
        an element of a flattened array by its flat name, an element used as a value by its
        position; a lookup defined per element over `dims` (`table`) is named by its first
        element (as dense_lookups.py names it), its subscripts the forms over `dims`."""
        sp = self.space

        def visit(node):
            t = type(node)
            if (t is ir.LookupCall or t is ir.Ref) and self.table(node, dims):
                subs = tuple(subscript_form(*next(forms)) for _ in node.subscripts)
                first = flat_name(self.table(node, dims), (sp.elements[d][0] for d in dims))
                if t is ir.Ref:
                    return ir.Ref(first, subs, node.pos)
                return ir.LookupCall(first, node.arg, node.pos, subs)
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


def covering_ranges(model: ir.Model) -> ir.Model:
    """`model` with a hidden range for each subscript of a variable defined for elements that
    no range lists (a partial definition: `x[a1] = ...` and `x[a3] = ...` of a range
    a1..a5, or `x[Low]` and `x[c1]`), its elements in their family's order, so that the
    variable stays one array over them (`Pieces.covered`), with exactly the elements the
    per-element route gives it. Such a range is named after the variable (`x #elements1`);
    variables defined for the same elements share one."""
    space = SubscriptSpace(model.subscript_ranges, model.spellings)
    pieces = Pieces(model, space)
    known = {frozenset(els) for els in space.elements.values()}
    added: dict[frozenset, ir.SubscriptRange] = {}
    for name, var in model.variables.items():
        defs = var.definitions
        if not defs or any(not d.subscripts or len(d.subscripts) != len(defs[0].subscripts) for d in defs):
            continue
        try:
            if any(d.excepts for d in defs):
                seen = {c for d in defs for c in pieces.combos(var, d)[1]}
                per_position = [frozenset(c[j] for c in seen) for j in range(len(defs[0].subscripts))]
            else:    # each position's elements without the combinations (a huge range is refused later)
                options = [pieces.lhs_options(d.subscripts, d.pos) for d in defs]
                per_position = [frozenset(e for o in options for e in o[j][1]) for j in range(len(defs[0].subscripts))]
        except ModelError:
            continue     # the flattener reports it
        for j, used in enumerate(per_position):
            if not used or used in known or used in added:
                continue
            family = space.element_family(next(iter(used)))
            if not used <= set(family):
                continue
            els = tuple(e for e in family if e in used)
            rname = f"{name} #elements{j + 1}"
            added[used] = ir.SubscriptRange(rname, els, pos=var.pos, display=tuple(space.shown(e) for e in els),
                                            written=f"{var.display} elements {j + 1}")
    if not added:
        return model
    return replace(model, subscript_ranges={**model.subscript_ranges, **{r.name: r for r in added.values()}})


def _box(start, size, pos) -> ir.Call:
    return ir.Call("@BOX", tuple(ir.Num(float(x)) for pair in zip(start, size) for x in pair), pos)


def _family_range(space, name: str) -> str:
    """The name of a range that lists `name`'s family (`SubscriptSpace.family`)."""
    family = space.family(name)
    return next(r for r, els in space.elements.items() if els == family)


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
    if ndim == 1:    # runs of consecutive positions whose values advance evenly
        out: list = []
        start = prev = step = None
        for (p,), v in sorted(points.items()):
            if prev is not None and p == prev[0] + 1 and (
                    step is None or all(b - a == d for a, b, d in zip(prev[1], v, step))):
                step = step or tuple(b - a for a, b in zip(prev[1], v))
                prev = (p, v)
                continue
            if start is not None:
                out.append(((start[0],), (prev[0] - start[0] + 1,), tuple(
                    (c, (d,)) for c, d in zip(start[1], step or (0,) * len(start[1])))))
            start = prev = (p, v)
            step = None
        out.append(((start[0],), (prev[0] - start[0] + 1,), tuple(
            (c, (d,)) for c, d in zip(start[1], step or (0,) * len(start[1])))))
        return out
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
