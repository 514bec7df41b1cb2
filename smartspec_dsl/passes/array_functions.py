"""Whole-array functions, expanded by the flattening pass (subscripts.py): VECTOR SELECT
over its ranges, and the functions whose result for one element depends on a whole vector
(VECTOR RANK, VECTOR SORT ORDER, VECTOR REORDER, VECTOR ELM MAP, VECTOR LOOKUP,
ALLOCATE BY PRIORITY, ALLOCATE AVAILABLE, INVERT MATRIX, DEMAND AT PRICE, SUPPLY AT PRICE)
as one hidden driver variable per vector and one `@ELEMENT` read per element; FIND MARKET
PRICE and MARKETP, whose value is one number computed from vectors, as a driver read whole.

`ArrayFunctions` is a part of the flattener (`subscripts._Flattener` derives from it): its
methods use the flattener's `model`, `space`, `drivers`, `driver_of`, `instantiate` and
`free_ranges`.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import replace

from .. import ir
from ..errors import ModelError, UnsupportedFeature
from ..ir.builtins import (ARRAY_DRIVERS, AT, DEPRECIATED, ELEMENT, PACK, SHIFTED, VLOOKUP, VSELECT, Internal,
                           driver_for)
from ..ir.ranges import SubscriptSpace
from .flat_exprs import flat_name, fold, in_order, number

# whole-array functions -> the ArrayFunctions method that expands them
ARRAY_FUNCTIONS = {"VECTOR RANK": "vector_order", "VECTOR SORT ORDER": "vector_order",
                   "VECTOR REORDER": "vector_reorder", "VECTOR ELM MAP": "vector_elm_map",
                   "ALLOCATE BY PRIORITY": "allocate_by_priority",
                   "ALLOCATE AVAILABLE": "allocate_available", "INVERT MATRIX": "invert_matrix",
                   "VECTOR LOOKUP": "vector_lookup", "DEMAND AT PRICE": "at_price",
                   "SUPPLY AT PRICE": "at_price", "FIND MARKET PRICE": "find_market_price",
                   "MARKETP": "marketp", "SHIFT IF TRUE": "shift_if_true",
                   "DEPRECIATE BY SCHEDULE": "depreciate_by_schedule"}

PROFILE_TYPES = {0: "fixed quantity", 1: "rectangular", 2: "triangular", 3: "normal", 4: "exponential",
                 5: "constant elasticity"}


def _shown(model: ir.Model, x: ir.Expr) -> str:
    """An argument as a message names it: a variable by the modeller's name, else 'an expression'."""
    var = model.variables.get(x.name.split("[")[0]) if isinstance(x, ir.Ref) else None
    return f"the variable '{var.display}'" if var is not None else "an expression"


def _row(elements) -> str:
    """The suffix of a hidden variable's name made for the elements of one row (' (h1)'), ''
    for none."""
    elements = tuple(elements)
    return f" ({','.join(elements)})" if elements else ""


class ArrayFunctions:
    """The flattener's methods for whole-array functions (see the module docstring)."""

    def vector_select(self, e: ir.Call, ctx, it, display) -> ir.Expr:
        """VECTOR SELECT(selection[r!], expression[r!], missing, action, error action),
        expanded over the ranges both arrays run over."""
        if len(e.args) != 5:
            raise ModelError(f"{e.pos}: VECTOR SELECT takes 5 arguments, got {len(e.args)}")
        sel, arr, missing, action, error = e.args
        # both arrays run over all their free ranges together (Vensim's behaviour:
        # over different ranges, every selection element meets every expression element)
        free = self.free_ranges(sel, ctx, it)
        free += [r for r in self.free_ranges(arr, ctx, it) if r not in free]
        if not free:
            raise ModelError(f"{e.pos}: VECTOR SELECT needs a subscript range to run over "
                             "(e.g. 'x[range!]')")
        error = fold(self.instantiate(error, ctx, it, display))
        if isinstance(error, ir.Num) and error.value not in (0, 1, 2, 3):
            raise ModelError(f"{e.pos}: VECTOR SELECT's error action must be 0 to 3, got {error.value:g}")
        pairs = []
        for combo in itertools.product(*(self.space.elements[r.rstrip("!")] for r in free)):
            it2 = {**it, **dict(zip(free, combo))}
            pairs.append((self.instantiate(sel, ctx, it2, display),
                          self.instantiate(arr, ctx, it2, display)))
        missing = self.instantiate(missing, ctx, it, display)
        action = self.instantiate(action, ctx, it, display)
        ite = lambda c, a, b: ir.Call("IF THEN ELSE", (c, a, b), e.pos)
        picked = [ir.BinOp("<>", s, ir.Num(0.0)) for s, _ in pairs]

        count = in_order("+", [ite(p, ir.Num(1.0), ir.Num(0.0)) for p in picked], e.pos)

        def result(k: int) -> ir.Expr:
            if k <= 4:
                vals = [ir.BinOp("*", s, x) for s, x in pairs]
            elif k == 5:
                vals = [ir.BinOp("^", x, s) for s, x in pairs]
            else:
                vals = [x for _, x in pairs]
            # 0 sum, 1 product, 2 min, 3 max, 4 mean
            kind = k if k <= 4 else 1 if k == 5 else k - 6
            if kind == 0 or kind == 4:
                total = in_order("+", [ite(p, v, ir.Num(0.0)) for p, v in zip(picked, vals)], e.pos)
                value = total if kind == 0 else ir.BinOp("/", total, count)
            elif kind == 1:
                value = in_order("*", [ite(p, v, ir.Num(1.0)) for p, v in zip(picked, vals)], e.pos)
            elif kind == 2:
                value = in_order("MIN", [ite(p, v, ir.Num(math.inf)) for p, v in zip(picked, vals)], e.pos)
            else:
                value = in_order("MAX", [ite(p, v, ir.Num(-math.inf)) for p, v in zip(picked, vals)], e.pos)
            return ite(ir.BinOp("=", count, ir.Num(0.0)), missing, value)

        if isinstance(action, ir.Num):
            k = action.value
            if k != int(k) or not 0 <= k <= 10:
                raise ModelError(f"{e.pos}: VECTOR SELECT's numerical action must be 0 to 10, got {k:g}")
            value = result(int(k))
        else:
            # an action known only at run time: the kernel picks it (kernel_lib.vector_select)
            packed = self.driver(PACK, tuple(s for s, _ in pairs) + tuple(x for _, x in pairs),
                                 e.pos, display, (sel, arr))
            value = ir.Call(VSELECT.name, (packed, ir.Num(float(len(pairs))), missing, action), e.pos)
        # error action (Vensim help, "VECTOR SELECT"): a floating point error when nothing is
        # selected (1), more than one element is (2), or either (3): the value is NaN there,
        # which the run reports, instead of a number
        if isinstance(error, ir.Num) and error.value == 0:
            return value
        eq = lambda a, b: ir.BinOp("=", a, ir.Num(float(b)))
        none = ir.BinOp("and", ir.BinOp("or", eq(error, 1), eq(error, 3)), eq(count, 0))
        many = ir.BinOp("and", ir.BinOp("or", eq(error, 2), eq(error, 3)), ir.BinOp(">", count, ir.Num(1.0)))
        return ite(ir.BinOp("or", none, many), ir.Num(math.nan), value)

    # -- whole-array functions ---------------------------------------------------------
    def driver(self, func: Internal, args: tuple, pos, display: str, feeds: tuple | None = None) -> ir.Ref:
        """The hidden variable computing `func(args)`, shared by the elements of one variable that read it
        (of one row of it: `row`, of the arguments of the call that give `args`, `feeds`, all by default)."""
        # shared by the elements of one variable only: two variables' equal vectors of draws
        # draw apart. Named by the variable and its own count of drivers, never by the element
        # that first needs it or a model-wide count: the draws of its vector take their sites
        # from its name (backend/sites.py), which replacing another element's or another
        # variable's equation must not move
        owner = display.split("[", 1)[0]
        row = self.row(feeds)
        key = (owner, func.name, args, row)
        name = self.driver_of.get(key)
        if name is None:
            # counted per row (the elements of the left-hand side's subscripts the call reads, but
            # those the vector runs over), never over the variable: replacing a whole row's
            # equations moves no other row's draws
            count = self.counted[owner.lower(), "driver", row] = self.counted.get((owner.lower(), "driver", row), 0) + 1
            name = f"{owner} #{func.name.lstrip('@').lower()}{count}{row}".lower()
            while name in self.model.variables or name in self.drivers:
                name += "'"
            # messages name the modeller's variable and the call, never the internal name
            shown = f"{display} ({func.shown} at {pos.line}:{pos.column})" if pos is not None else display
            self.drivers[name] = ir.Variable(name, shown, ir.Kind.AUXILIARY, expr=ir.Call(func.name, args, pos),
                                             pos=pos, hidden=True)
            self.driver_of[key] = name
        return ir.Ref(name, (), pos)

    def for_call(self, e: ir.Call, ctx, it, run):
        """`run()`, the instance of the array function `e` in the element of `ctx`: what its
        drivers are named by (`row`)."""
        saved, self.call = self.call, [e, ctx, it, 0]
        try:
            return run()
        finally:
            self.call = saved

    def row(self, feeds: tuple | None = None) -> str:
        """The elements (' (h1)') that tell apart the vectors one array function makes for the
        elements of a variable: those of the left-hand side's subscripts that its arguments giving
        the vector read (`feeds`, all of them by default), but the last ones the vector runs over
        (`vector_contexts`); '' for a call that makes one vector for every element (of a variable
        over one range, the vector's)."""
        if not self.call:
            return ""
        e, ctx, it, tail = self.call
        used = set().union(*(self.lhs_positions(x, ctx, it, whole=False) for x in (e.args if feeds is None else feeds)))
        used -= set(range(len(ctx) - tail, len(ctx)))
        return _row(ctx[i][1] for i in sorted(used) if ctx[i][0] is not None)

    @staticmethod
    def element(driver: ir.Ref, k: int, pos) -> ir.Expr:
        return ir.Call(ELEMENT.name, (driver, ir.Num(float(k))), pos)

    def vector_contexts(self, e: ir.Call, ctx, ndim: int):
        """The left-hand side contexts of the vector (ndim 1) or matrix (ndim 2) this element
        belongs to: Vensim runs these functions over the left-hand side's last subscript(s).
        Returns (the contexts in row-major order, this element's index among them, sizes)."""
        what = "last subscript" if ndim == 1 else "last two subscripts"
        if self.call and self.call[0] is e:
            self.call[3] = ndim      # the vector's own subscripts tell no rows apart (`row`)
        if len(ctx) < ndim:
            raise ModelError(f"{e.pos}: {e.func} gives an array: the left-hand side needs "
                             f"{'a subscript range' if ndim == 1 else 'two subscript ranges'} "
                             f"for it to run over (its {what})")
        head, tail = ctx[:len(ctx) - ndim], ctx[len(ctx) - ndim:]
        for r, el in tail:
            if r is None:
                raise ModelError(f"{e.pos}: {e.func} runs over the {what} of the left-hand side, "
                                 f"which must be a subscript range, not the element '{self.space.shown(el)}'")
        lists = [self.space.elements[r] for r, _ in tail]
        k = 0
        for (_, el), els in zip(tail, lists):
            k = k * len(els) + els.index(el)
        ctxs = [head + tuple((r, x) for (r, _), x in zip(tail, combo))
                for combo in itertools.product(*lists)]
        return ctxs, k, [len(els) for els in lists]

    def vector_of(self, e: ir.Call, arg, ctxs, it, display, what="first argument", check=True) -> list:
        vals = [self.instantiate(arg, c, it, display) for c in ctxs]
        if check and len(vals) > 1 and len(set(vals)) == 1:
            raise ModelError(f"{e.pos}: {e.func}'s {what} does not run over the left-hand side's "
                             "last subscript: give it that range (or one mapped to it) as its last subscript")
        return vals

    def check_size(self, e: ir.Call, size: ir.Expr, n: int, what: str) -> None:
        size = fold(size)
        if not isinstance(size, ir.Num):
            raise UnsupportedFeature(f"{e.pos}: {e.func}'s size argument must be a number written in "
                                     f"the equation or ELMCOUNT of a range, not {_shown(self.model, size)}: a size "
                                     "read from a variable is not supported yet")
        if size.value != n:
            raise ModelError(f"{e.pos}: {e.func}'s size argument is {size.value:g}, but {what} "
                             f"has {n} elements")

    def pick(self, e: ir.Call, vec: list, index: ir.Expr, display: str, offset: int = 0,
             feeds: tuple | None = None) -> ir.Expr:
        """vec[offset + index]: resolved now for a number, else read in the kernel (`feeds`: the
        arguments that give `vec`, as `driver` takes them)."""
        index = fold(index)
        if isinstance(index, ir.Num):
            k = offset + round(index.value)
            if not 0 <= k < len(vec):
                raise ModelError(f"{e.pos}: {e.func} reads element {k} of a vector of {len(vec)} "
                                 "(counted from 0)")
            return vec[k]
        if offset:
            index = ir.BinOp("+", ir.Num(float(offset)), index)
        packed = self.driver(PACK, tuple(vec), e.pos, display, feeds)
        return ir.Call(AT.name, (packed, ir.Num(float(len(vec))), index), e.pos)

    def arity(self, e: ir.Call, n: int, names: str) -> None:
        if len(e.args) != n:
            raise ModelError(f"{e.pos}: {e.func} takes {n} arguments ({names}), got {len(e.args)}")

    def vector_order(self, e: ir.Call, ctx, it, display) -> ir.Expr:
        """VECTOR RANK / VECTOR SORT ORDER(vector, direction) over the left-hand side's last
        subscript: ranks from 1, sort order as 0-based positions; direction > 0 ascending."""
        self.arity(e, 2, "vector, direction")
        ctxs, k, _ = self.vector_contexts(e, ctx, 1)
        vec = self.vector_of(e, e.args[0], ctxs, it, display)
        direction = self.instantiate(e.args[1], ctx, it, display)
        return self.element(self.driver(driver_for(e.func), (direction, *vec), e.pos, display), k, e.pos)

    def vector_reorder(self, e: ir.Call, ctx, it, display) -> ir.Expr:
        """VECTOR REORDER(vector, order)[k] = vector[order[k]], order 0-based (as VECTOR SORT
        ORDER gives it)."""
        self.arity(e, 2, "vector, order")
        ctxs, _, _ = self.vector_contexts(e, ctx, 1)
        vec = self.vector_of(e, e.args[0], ctxs, it, display)
        return self.pick(e, vec, self.instantiate(e.args[1], ctx, it, display), display, feeds=e.args[:1])

    def vector_elm_map(self, e: ir.Call, ctx, it, display) -> ir.Expr:
        """VECTOR ELM MAP(x[base], offset): x's element `offset` places after x[base], counted
        row-major over all of x's subscripts (offset 0 is x[base]); out of range is :NA:."""
        self.arity(e, 2, "vector, offset")
        ref, offset = e.args
        if not isinstance(ref, ir.Ref) or ref.name not in self.subscripted:
            raise ModelError(f"{e.pos}: VECTOR ELM MAP's first argument must be a subscripted "
                             "variable, like x[e1]")
        self.ref_name(ref.name, ref.subscripts, ctx, it, ref.pos, display)  # reports a bad reference
        base = tuple(self.resolve(s, ctx, it, i, ref.pos) for i, s in enumerate(ref.subscripts))
        defined = self.subscripted[ref.name]
        axes = []
        for i in range(len(base)):
            present = {c[i] for c in defined}
            ranges = [els for els in self.space.elements.values() if present <= set(els)]
            if not ranges:
                raise ModelError(f"{e.pos}: VECTOR ELM MAP: the elements of '{self.model.written(ref.name)}' in "
                                 f"subscript {i + 1} are not all in one range")
            axes.append([x for x in max(ranges, key=len) if x in present])
        grid = list(itertools.product(*axes))
        vec = [ir.Ref(flat_name(ref.name, c), (), ref.pos) if c in defined else ir.Num(ir.NA_VALUE)
               for c in grid]
        offset = fold(self.instantiate(offset, ctx, it, display))
        if not isinstance(offset, ir.Num):
            packed = self.driver(PACK, tuple(vec), e.pos, display, ())    # the whole array, whatever the element
            index = ir.BinOp("+", ir.Num(float(grid.index(base))), offset)
            return ir.Call(AT.name, (packed, ir.Num(float(len(vec))), index), e.pos)
        return self.pick(e, vec, offset, display, grid.index(base), ())

    def vector_lookup(self, e: ir.Call, ctx, it, display) -> ir.Expr:
        """VECTOR LOOKUP(vec[first], x, xmin, xmax, mode): vec's last subscript runs from the
        element given (the first, as the help asks) to the end of its range: those values are
        a lookup's y values over [xmin, xmax] (kernel_extra.vector_lookup reads it by mode)."""
        self.arity(e, 5, "vector, x, xmin, xmax, mode")
        ref, x, xmin, xmax, mode = e.args
        if not (isinstance(ref, ir.Ref) and ref.subscripts and ref.name in self.subscripted):
            raise ModelError(f"{e.pos}: VECTOR LOOKUP's first argument must be a subscripted variable "
                             "given with the first element of its last subscript, like y[s1]")
        last = len(ref.subscripts) - 1
        first = self.resolve(ref.subscripts[last], ctx, it, last, ref.pos)
        defined = {c[last] for c in self.subscripted[ref.name]}
        family = self.space.element_family(first)
        elements = [el for el in family[family.index(first):] if el in defined]
        if len(elements) < 2:
            raise ModelError(f"{e.pos}: VECTOR LOOKUP needs at least 2 values from '{self.space.shown(first)}' on")
        vec = tuple(self.instantiate(replace(ref, subscripts=ref.subscripts[:last] + (el,)), ctx, it, display)
                    for el in elements)
        mode = fold(self.instantiate(mode, ctx, it, display))
        if isinstance(mode, ir.Num) and mode.value not in range(10):
            raise ModelError(f"{e.pos}: VECTOR LOOKUP's mode must be a whole number from 0 to 9, "
                             f"got {mode.value:g}")
        packed = self.driver(PACK, vec, e.pos, display, (ref,))
        args = tuple(self.instantiate(a, ctx, it, display) for a in (x, xmin, xmax))
        return ir.Call(VLOOKUP.name, (packed, ir.Num(float(len(vec))), *args, mode), e.pos)

    def allocate_by_priority(self, e: ir.Call, ctx, it, display) -> ir.Expr:
        """ALLOCATE BY PRIORITY(request, priority, size, width, supply): ALLOCATE AVAILABLE
        with a rectangular priority profile of that width for every requester."""
        self.arity(e, 5, "request, priority, size, width, supply")
        request, priority, size, width, supply = e.args
        ctxs, k, (n,) = self.vector_contexts(e, ctx, 1)
        self.check_size(e, self.instantiate(size, ctx, it, display), n,
                        "the left-hand side's last subscript")
        q = self.vector_of(e, request, ctxs, it, display, "request")
        p = self.vector_of(e, priority, ctxs, it, display, check=False)
        w = self.instantiate(width, ctx, it, display)
        s = self.instantiate(supply, ctx, it, display)
        return self.element(self.driver(driver_for("ALLOCATE BY PRIORITY"), (w, s, *q, *p), e.pos, display), k, e.pos)

    def allocate_available(self, e: ir.Call, ctx, it, display) -> ir.Expr:
        """ALLOCATE AVAILABLE(request, pp, avail): pp's last subscript names the first of four
        consecutive elements of its range: ptype, ppriority, pwidth, pextra."""
        return self.profiled(e, ctx, it, display, ("request", "priority profile", "available"))

    def profiled(self, e: ir.Call, ctx, it, display, names: tuple[str, str, str]) -> ir.Expr:
        """F(q, pp, x) over the left-hand side's last subscript (ALLOCATE AVAILABLE, DEMAND /
        SUPPLY AT PRICE): the driver of (x, every element's q, every element's profile)."""
        self.arity(e, 3, ", ".join(names))
        q, pp, x = e.args
        ctxs, k, _ = self.vector_contexts(e, ctx, 1)
        qs = self.vector_of(e, q, ctxs, it, display, names[0])
        profiles = [p for c in ctxs for p in self.profile(e, pp, c, it, display)]
        x = self.instantiate(x, ctx, it, display)
        return self.element(self.driver(driver_for(e.func), (x, *qs, *profiles), e.pos, display), k, e.pos)

    def profile(self, e: ir.Call, pp, ctx, it, display, element: str | None = None) -> list:
        """The four values (ptype, ppriority, pwidth, pextra) of a priority profile pp[..., ptype]:
        its last subscript names the first of four consecutive elements of its range; `element`,
        if given, replaces its second-last subscript (a profile passed as pp[first, ptype])."""
        first = pp.subscripts[-1] if isinstance(pp, ir.Ref) and pp.subscripts else None
        if first is None or self.space.is_range(first) or first not in self.space.all_elements:
            raise ModelError(f"{e.pos}: {e.func}'s priority profile must be a variable whose last "
                             "subscript is the profile's first element, like pp[branch, ptype]")
        family = self.space.element_family(first)
        i = family.index(first)
        if i + 4 > len(family):
            raise ModelError(f"{e.pos}: {e.func}'s priority profile needs 4 elements from "
                             f"'{self.space.shown(first)}' on (ptype, ppriority, pwidth, pextra); its range "
                             f"has {len(family) - i}")
        head = pp.subscripts[:-1] if element is None else pp.subscripts[:-2] + (element,)
        return [self.instantiate(replace(pp, subscripts=head + (family[i + j],)), ctx, it, display)
                for j in range(4)]

    def from_first(self, e: ir.Call, ref, position: int, what: str) -> list[str]:
        """The elements a vector argument passed as x[first] runs over: those of the range of
        its subscript at `position` from `first` to the range's end (the help asks for the
        first element: "the arguments must be passed with the first element in the Subscript
        Range"); a range named there runs over all its elements."""
        subs = ref.subscripts if isinstance(ref, ir.Ref) else ()
        if len(subs) < -position:
            raise ModelError(f"{e.pos}: {e.func}'s {what} must be a subscripted variable given with "
                             "the first element of its range, like x[e1]")
        sub = subs[position].rstrip("!")
        if self.space.is_range(sub):
            return list(self.space.elements[sub])
        if sub not in self.space.all_elements:
            raise ModelError(f"{e.pos}: {e.func}'s {what}: '{self.space.shown(sub)}' is not a subscript element")
        family = self.space.element_family(sub)
        return list(family[family.index(sub):])

    def quantities_and_profiles(self, e: ir.Call, q, pp, ctx, it, display, what: str) -> tuple[list, list]:
        """FIND MARKET PRICE's quantities q[first] and their profiles pp[first, ptype]."""
        elements = self.from_first(e, q, -1, what)
        if self.from_first(e, pp, -2, f"{what} profile") != elements:
            raise ModelError(f"{e.pos}: {e.func}: the {what} profile's second-last subscript must "
                             f"run over the same elements as the {what}'s last ({', '.join(map(self.space.shown, elements))})")
        qs = [self.instantiate(replace(q, subscripts=q.subscripts[:-1] + (el,)), ctx, it, display)
              for el in elements]
        return qs, [p for el in elements for p in self.profile(e, pp, ctx, it, display, el)]

    def find_market_price(self, e: ir.Call, ctx, it, display) -> ir.Expr:
        """FIND MARKET PRICE(dq[d1], dp[d1, ptype], sq[s1], sp[s1, ptype]): the price at which
        the demanders' total demand equals the suppliers' total supply (kernel_market)."""
        self.arity(e, 4, "demand quantity, demand profile, supply quantity, supply profile")
        dq, dp = self.quantities_and_profiles(e, e.args[0], e.args[1], ctx, it, display, "demand")
        sq, sp = self.quantities_and_profiles(e, e.args[2], e.args[3], ctx, it, display, "supply")
        return self.driver(driver_for(e.func), (ir.Num(float(len(dq))), *dq, *dp, *sq, *sp), e.pos, display)

    def at_price(self, e: ir.Call, ctx, it, display) -> ir.Expr:
        """DEMAND AT PRICE / SUPPLY AT PRICE(q, pp, price) over the left-hand side's last
        subscript: what each demander asks for, or each supplier offers, at the price."""
        return self.profiled(e, ctx, it, display, ("quantity", "priority profile", "price"))

    def marketp(self, e: ir.Call, ctx, it, display) -> ir.Expr:
        """MARKETP(request[first], priority[first], size, width, supply): the market priority
        at which ALLOCATE BY PRIORITY's rectangular profiles share the supply out (ALLOC P
        reads it); request and priority run over `size` elements from the first given. The
        driver's vector is the size, then the requests and the priorities."""
        self.arity(e, 5, "request, priority, size, width, supply")
        request, priority, size, width, supply = e.args
        elements = self.from_first(e, request, -1, "request")
        size = fold(self.instantiate(size, ctx, it, display))
        if isinstance(size, ir.Num):
            if size.value != int(size.value) or not 0 < size.value <= len(elements):
                raise ModelError(f"{e.pos}: MARKETP's size must be a whole number from 1 to {len(elements)} "
                                 f"(the elements from '{self.space.shown(elements[0])}' on), got {size.value:g}")
            elements = elements[:int(size.value)]
        # else read during the run (a constant a run may set, or any expression): every element
        # from the first is packed, and kernel_market.marketp takes the first `size` of them
        if self.from_first(e, priority, -1, "priority")[:len(elements)] != elements:
            raise ModelError(f"{e.pos}: MARKETP: the priority's last subscript must run over the "
                             "request's elements")
        vec = [self.instantiate(replace(x, subscripts=x.subscripts[:-1] + (el,)), ctx, it, display)
               for x in (request, priority) for el in elements]
        w, s = (self.instantiate(x, ctx, it, display) for x in (width, supply))
        return self.driver(driver_for(e.func), (w, s, size, *vec), e.pos, display)

    def shift_if_true(self, e: ir.Call, ctx, it, display) -> ir.Expr:
        """SHIFT IF TRUE(var[first], cond, size, accum, inval) -> the call SHIFTED(cond, accum,
        inval, var's first `size` elements along its last subscript), which stateful
        lowering (passes/stateful/shifts.py) turns into the shift of those stocks."""
        self.arity(e, 5, "var, cond, size, accum, inval")
        var, cond, size, accum, inval = e.args
        elements = self.from_first(e, var, -1, "var")
        size = fold(self.instantiate(size, ctx, it, display))
        if not isinstance(size, ir.Num):
            # the size decides which stocks the equation shifts, a structure fixed when the
            # model is built
            raise UnsupportedFeature(f"{e.pos}: SHIFT IF TRUE's size must be a number written in the "
                                     f"equation or ELMCOUNT of a range, not {_shown(self.model, size)}")
        if size.value != int(size.value) or not 2 <= size.value <= len(elements):
            raise ModelError(f"{e.pos}: SHIFT IF TRUE's size must be a whole number from 2 to {len(elements)} "
                             f"(the elements from '{self.space.shown(elements[0])}' on), got {size.value:g}")
        stocks = [self.instantiate(replace(var, subscripts=var.subscripts[:-1] + (el,)), ctx, it, display)
                  for el in elements[:int(size.value)]]
        return ir.Call(SHIFTED, (*(self.instantiate(x, ctx, it, display) for x in (cond, accum, inval)),
                                 *stocks), e.pos)

    def depreciate_by_schedule(self, e: ir.Call, ctx, it, display) -> ir.Expr:
        """DEPRECIATE BY SCHEDULE(str, sch[first], init[first], dtime, fs) -> the call
        DEPRECIATED(str, dtime, fs, the n schedule values, the n initial depreciations),
        which stateful lowering turns into fiscal-period stocks (stateful/other.py). A
        scalar init (the help allows one when there is no initial depreciation) stands for
        each of the n periods."""
        self.arity(e, 5, "stream, schedule, initial depreciation, depreciation time, fiscal start")
        stream, sch, init, dtime, fs = e.args
        elements = self.from_first(e, sch, -1, "schedule")
        inst = lambda x: self.instantiate(x, ctx, it, display)
        schedule = [inst(replace(sch, subscripts=sch.subscripts[:-1] + (el,))) for el in elements]
        if isinstance(init, ir.Ref) and init.subscripts:
            given = self.from_first(e, init, -1, "initial depreciation")
            if len(given) < len(elements):
                raise ModelError(f"{e.pos}: DEPRECIATE BY SCHEDULE's initial depreciation runs over "
                                 f"{len(given)} elements, fewer than the schedule's {len(elements)}")
            initial = [inst(replace(init, subscripts=init.subscripts[:-1] + (el,))) for el in given[:len(elements)]]
        else:
            initial = [inst(init)] * len(elements)
        return ir.Call(DEPRECIATED, (inst(stream), inst(dtime), inst(fs), *schedule, *initial), e.pos)

    def invert_matrix(self, e: ir.Call, ctx, it, display) -> ir.Expr:
        """INVERT MATRIX(m, size) over the left-hand side's last two subscripts."""
        self.arity(e, 2, "matrix, size")
        ctxs, k, (rows, cols) = self.vector_contexts(e, ctx, 2)
        if rows != cols:
            raise ModelError(f"{e.pos}: INVERT MATRIX needs a square matrix: the left-hand side's "
                             f"last two subscripts have {rows} and {cols} elements")
        self.check_size(e, self.instantiate(e.args[1], ctx, it, display), rows,
                        "each of the left-hand side's last two subscripts")
        m = self.vector_of(e, e.args[0], ctxs, it, display)
        return self.element(self.driver(driver_for("INVERT MATRIX"), tuple(m), e.pos, display), k, e.pos)

    def check_profiles(self, variables: dict[str, ir.Variable]) -> None:
        """Priority profiles given as constants are checked now, with their source position
        (ones computed during the run make the kernel's allocation NaN if invalid)."""
        def known(x):
            if isinstance(x, ir.Ref) and x.name in variables and variables[x.name].kind is ir.Kind.CONSTANT:
                return number(variables[x.name].expr), variables[x.name]
            return number(x), None

        for drv in self.drivers.values():
            call = drv.expr
            name = call.func.lstrip("@")
            if name in ("ALLOCATE AVAILABLE", "DEMAND AT PRICE", "SUPPLY AT PRICE", "FIND MARKET PRICE"):
                entries = []
                rest = list(call.args[1:])
                # FIND MARKET PRICE: the demanders' quantities and profiles, then the suppliers'
                nd = int(call.args[0].value) if name == "FIND MARKET PRICE" else len(rest) // 5
                for n in (nd, (len(rest) - 5 * nd) // 5):
                    entries += [(rest[n + 4 * i], rest[n + 4 * i + 2], rest[n + 4 * i + 3]) for i in range(n)]
                    rest = rest[5 * n:]
            elif name in ("ALLOCATE BY PRIORITY", "MARKETP"):
                entries = [(None, call.args[0], None)]
            else:
                continue
            for ptype, width, extra in entries:
                t, var = known(ptype) if ptype is not None else (1.0, None)
                where = f" (from '{var.display}', {var.pos})" if var is not None else ""
                fname = ARRAY_DRIVERS[call.func].shown
                if t is not None and not (math.isfinite(t) and int(t) == t):
                    raise ModelError(f"{call.pos}: {fname}: priority type {t:g}{where} is not a whole number")
                if t is not None and name == "ALLOCATE AVAILABLE" and int(t) - 10 in PROFILE_TYPES:
                    t -= 10    # whole allocations of type t - 10
                if t is not None and int(t) not in PROFILE_TYPES:
                    what = f"{t:g}"
                    if int(t) >= 10 and name != "ALLOCATE AVAILABLE":
                        what = f"{t:g} (integer allocation, which only ALLOCATE AVAILABLE gives)"
                    known_types = ", ".join(f"{k} {v}" for k, v in PROFILE_TYPES.items())
                    owner = drv.display.split(" (")[0].split("[")[0]
                    raise UnsupportedFeature(f"{call.pos}: {fname} in the equation of '{owner}': priority type "
                                             f"{what}{where} is not "
                                             f"supported; supported types: {known_types} (and 10-15, the same "
                                             "as whole numbers, for ALLOCATE AVAILABLE)")
                w, var = known(width)
                # a fixed quantity (type 0) has no curve: its width is not read; a normal curve
                # (type 3) of width 0 is drawn with Vensim's least standard deviation (kernel_lib)
                if w is not None and not w > 0 and not (t is not None and (int(t) == 0 or int(t) == 3 and w == 0)):
                    where = f" (from '{var.display}', {var.pos})" if var is not None else ""
                    raise ModelError(f"{call.pos}: {fname}: the priority width must be positive, "
                                     f"got {w:g}{where}")
                e, var = known(extra) if extra is not None and t is not None and int(t) == 5 else (None, None)
                if e is not None and not (math.isfinite(e) and e != 0):
                    # a constant elasticity curve of elasticity 0 is flat: no level shares anything out
                    where = f" (from '{var.display}', {var.pos})" if var is not None else ""
                    raise ModelError(f"{call.pos}: {fname}: the elasticity (pextra) of a constant elasticity "
                                     f"priority curve (type 5) must not be 0, got {e:g}{where}")


def whole_matrices(model: ir.Model) -> ir.Model:
    """INVERT MATRIX's matrix given as `m[R, R]`, the same range twice: Vensim passes an array
    function's argument by its first element, so this is the whole matrix of m's own last two
    ranges, from m[first, first] (SDEverywhere's test model invertmatrixio, whose Vensim
    output is the inverse of the whole matrix), not m's diagonal, which binding each
    subscript to the left-hand side would read. Both routes (dense and per element) then
    read it as `m[its ranges]`."""
    space = SubscriptSpace(model.subscript_ranges)

    def visit(node):
        if not (isinstance(node, ir.Call) and node.func == "INVERT MATRIX" and node.args
                and isinstance(node.args[0], ir.Ref) and len(node.args[0].subscripts) >= 2):
            return node
        m = node.args[0]
        a, b = (s.rstrip("!") for s in m.subscripts[-2:])
        var = model.variables.get(m.name)
        if a != b or not space.is_range(a) or var is None or len(var.dims) != len(m.subscripts) \
                or not all(space.is_range(d) for d in var.dims[-2:]) or var.dims[-2] == var.dims[-1]:
            return node
        whole = replace(m, subscripts=m.subscripts[:-2] + tuple(var.dims[-2:]))
        return replace(node, args=(whole,) + node.args[1:])

    def mapped(e):
        return None if e is None else ir.map_expr(e, visit)
    exprs = [e for v in model.variables.values() for e in (v.expr, v.initial, *(d.expr for d in v.definitions))
             if e is not None]
    if not any(isinstance(n, ir.Call) and n.func == "INVERT MATRIX" for e in exprs for n in ir.walk(e)):
        return model
    variables = {n: replace(v, expr=mapped(v.expr), initial=mapped(v.initial),
                            definitions=tuple(replace(d, expr=mapped(d.expr)) for d in v.definitions))
                 for n, v in model.variables.items()}
    return replace(model, variables=variables)
