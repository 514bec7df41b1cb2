"""Pass 4, the dense route's whole-array functions: VECTOR SELECT, VECTOR RANK, VECTOR SORT
ORDER, VECTOR REORDER, VECTOR ELM MAP, VECTOR LOOKUP, ALLOCATE BY PRIORITY, ALLOCATE AVAILABLE,
DEMAND AT PRICE, SUPPLY AT PRICE, FIND MARKET PRICE, MARKETP and INVERT MATRIX in an
apply-to-all equation keep the equation, and every array they read, one array each.

The per-element route (array_functions.py) writes one driver per vector over its elements;
here the vector is a loop over the left-hand side's last range (Vensim runs these functions
over it) and the kernel library's helper is called once per vector on a scratch block
(backend/dense_vectors.py), so the kernel's size does not grow with the range's. The dense
IR they become (`rewrite`; the values are those of the per-element route's helpers):

- a function giving a vector (VECTOR RANK, VECTOR SORT ORDER, the allocations, DEMAND and
  SUPPLY AT PRICE; INVERT MATRIX a matrix over the last two) is a hidden array over the
  left-hand side's ranges,
  `owner #vector rank1[...] = @VEC VECTOR RANK(scalars..., components...)`: per vector, each
  component at each element of the last range packed into the block as `LAYOUT` says (the
  per-element route's driver block), the helper called on it, its first n values the array's;
- VECTOR SELECT is `@VSEL(selection, expression, missing, action)`, a loop over its `range!`
  subscripts as SUM's, with the error action as the per-element route's expression around it;
- FIND MARKET PRICE and MARKETP, one number from vectors given from their first element, are
  `@VBLOCK f(scalars..., parts...)`: the per-element route's driver block, each part a number or
  `@SEG(components)` over one iterated range (`x[range!]`), packed before the statement;
- VECTOR REORDER, VECTOR ELM MAP and VECTOR LOOKUP read a vector of a dense array's slots:
  `@VAT(row, n, index)` (kernel_lib.vector_at) and `@VLOOK(row, n, x, xmin, xmax, mode)`, `row`
  a reference to the vector's first element; the vector VECTOR REORDER reorders is an array
  first (a hidden `owner #pack1` when it is not one already).

`check` refuses (Refuse) what the per-element route would report as an error, or computes
differently, so that route reports it.
"""
from __future__ import annotations

import math

from .. import ir
from ..ir.builtins import BUILTINS, RANDOM_DRAW, driver_for
from .array_functions import PROFILE_TYPES
from .dense_pieces import Refuse
from .flat_exprs import fold, number

# the functions giving a vector over the left-hand side's last range -> the groups of their
# block (per group, how many values each element puts there, in order; array_functions.py)
LAYOUT = {"VECTOR RANK": (1,), "VECTOR SORT ORDER": (1,), "ALLOCATE BY PRIORITY": (1, 1),
          "ALLOCATE AVAILABLE": (1, 4), "DEMAND AT PRICE": (1, 4), "SUPPLY AT PRICE": (1, 4),
          "INVERT MATRIX": (1,)}
# how many of the left-hand side's last ranges a vector runs over (a matrix: two)
TRAILING = {"INVERT MATRIX": 2}
# the functions whose value is one number computed from whole vectors
MARKETS = ("FIND MARKET PRICE", "MARKETP")
VECTOR_FUNCTIONS = {*LAYOUT, *MARKETS, "VECTOR SELECT", "VECTOR REORDER", "VECTOR ELM MAP", "VECTOR LOOKUP"}
VEC, VSEL, VAT, VLOOK, VBLOCK, SEG = "@VEC ", "@VSEL", "@VAT", "@VLOOK", "@VBLOCK ", "@SEG"
VECTOR_CALLS = {VEC + f for f in LAYOUT} | {VBLOCK + f for f in MARKETS} | {VSEL, VAT, VLOOK, SEG}
_RANDOM = {n for n, b in BUILTINS.items() if b.emit == RANDOM_DRAW} | {"RANDOM 0 1", "RANDOM LOOKUP"}
_NESTED = _RANDOM | VECTOR_FUNCTIONS | {"SUM", "PROD", "VMIN", "VMAX"}


def _reads(e: ir.Expr, r: str) -> bool:
    """Whether `e` reads the left-hand side's range `r` (a subscript, or the range as a value)."""
    return any(type(n) is ir.Ref and (r in n.subscripts or (not n.subscripts and n.name == r)) for n in ir.walk(e))


def _plain(checker, e: ir.Expr, lhs) -> None:
    """An argument computed element by element in the vector's loop: no reduction, draw or
    array function inside (their loops and call sites are the statement's, not the vector's)."""
    for n in ir.walk(e):
        if type(n) is ir.Call and (n.func in _NESTED or ir.canonical_name(n.func) in checker.model.macros):
            raise Refuse(f"{n.func} inside an array function's argument")
    checker.expr(e, lhs)


def _whole(space, x: ir.Expr) -> int | None:
    """A whole number written in the equation, or ELMCOUNT of a range's."""
    if type(x) is ir.Call and x.func == "ELMCOUNT" and len(x.args) == 1 and type(x.args[0]) is ir.Ref \
            and space.is_range(x.args[0].name.rstrip("!")):
        return len(space.elements[x.args[0].name.rstrip("!")])
    x = fold(x)
    v = number(x)
    return int(v) if v is not None and v == int(v) else None


def _profile(space, pp: ir.Expr) -> list[ir.Ref]:
    """The four references of a priority profile pp[..., ptype] (ptype, ppriority, pwidth,
    pextra: the four consecutive elements from its last subscript's)."""
    first = pp.subscripts[-1] if type(pp) is ir.Ref and pp.subscripts else None
    if first is None or space.is_range(first) or first not in space.all_elements:
        raise Refuse("a priority profile that does not name its first element")
    family = space.element_family(first)
    i = family.index(first)
    if i + 4 > len(family):
        raise Refuse("a priority profile with fewer than 4 elements")
    return [ir.Ref(pp.name, pp.subscripts[:-1] + (family[i + j],), pp.pos) for j in range(4)]


def _split(space, e: ir.Call) -> tuple[list, list]:
    """(scalars, components) of a function giving a vector, in its driver's order."""
    a = e.args
    if e.func in ("VECTOR RANK", "VECTOR SORT ORDER"):
        return [a[1]], [a[0]]
    if e.func == "INVERT MATRIX":
        return [], [a[0]]
    if e.func == "ALLOCATE BY PRIORITY":
        return [a[3], a[4]], [a[0], a[1]]
    return [a[2]], [a[0], *_profile(space, a[1])]


_ARITY = {"VECTOR SELECT": 5, "VECTOR RANK": 2, "VECTOR SORT ORDER": 2, "VECTOR REORDER": 2,
          "VECTOR ELM MAP": 2, "VECTOR LOOKUP": 5, "ALLOCATE BY PRIORITY": 5, "ALLOCATE AVAILABLE": 3,
          "DEMAND AT PRICE": 3, "SUPPLY AT PRICE": 3, "FIND MARKET PRICE": 4, "MARKETP": 5, "INVERT MATRIX": 2}


def check(checker, e: ir.Call, lhs: tuple[str, ...]) -> None:
    """Refuse a whole-array call `e` in an equation over `lhs` (a checker of dense.py) that
    the dense form cannot compute as the per-element route does (which then reports any
    error of the modeller's)."""
    f, sp = e.func, checker.space
    if len(e.args) != _ARITY[f]:
        raise Refuse(f"{f} with {len(e.args)} arguments")
    if f == "VECTOR SELECT":
        sel, x, missing, action, error = e.args
        if not any(s.endswith("!") for n in ir.walk(ir.Call("SUM", (sel, x))) if type(n) is ir.Ref
                   for s in n.subscripts):
            raise Refuse("VECTOR SELECT over no range")
        for a in (sel, x):
            for n in ir.walk(a):
                if type(n) is ir.Call and n.func in _NESTED:
                    raise Refuse(f"{n.func} inside VECTOR SELECT")
            checker.expr(ir.Call("SUM", (a,), e.pos), lhs)
        for a in (missing, action, error):
            _plain(checker, a, lhs)
        k, err = number(fold(action)), number(fold(error))
        if (k is not None and (k != int(k) or not 0 <= k <= 10)) or (err is not None and err not in (0, 1, 2, 3)):
            raise Refuse("VECTOR SELECT's action out of range")
        return
    if f in MARKETS:
        return _check_market(checker, e, lhs)
    if not lhs and f in (*LAYOUT, "VECTOR REORDER"):
        raise Refuse(f"{f} in an equation without subscripts")
    last, n = (lhs[-1], len(sp.elements[lhs[-1]])) if lhs else (None, 0)
    if f in LAYOUT:
        tail = lhs[-TRAILING.get(f, 1):]
        if f == "ALLOCATE BY PRIORITY" and _whole(sp, e.args[2]) != n:
            raise Refuse(f"{f}'s size is not its range's")
        if f == "INVERT MATRIX" and (len(lhs) < 2 or {len(sp.elements[r]) for r in tail} != {_whole(sp, e.args[1])}):
            raise Refuse(f"{f} of no square matrix of its size")
        scalars, comps = _split(sp, e)
        for k, c in enumerate(comps):
            _plain(checker, c, lhs)
            if k == 0 and not any(_reads(c, r) for r in tail):
                raise Refuse(f"{f}'s vector does not run over the left-hand side's last range")
        for s in scalars:
            _plain(checker, s, lhs)
            if any(_reads(s, r) for r in tail):
                raise Refuse(f"{f}'s scalar argument differs along the vector")
        if f not in ("VECTOR RANK", "VECTOR SORT ORDER", "INVERT MATRIX"):
            _check_profiles(checker, f, scalars, comps)
        return
    if f == "VECTOR REORDER":
        vec, index = e.args
        _plain(checker, vec, lhs)
        _plain(checker, index, lhs)
        k = number(fold(index))
        if not _reads(vec, last) or (k is not None and (k != int(k) or not 0 <= k < n)):
            raise Refuse("VECTOR REORDER's vector or order")
        return
    ref = e.args[0]
    if type(ref) is not ir.Ref or not ref.subscripts or ref.name not in checker.dense \
            or ref.name not in checker.dims:
        raise Refuse(f"{f} of no dense array")
    dims = checker.dims[ref.name]
    checker.expr(ref, lhs)
    for a in e.args[1:]:
        _plain(checker, a, lhs)
    if f == "VECTOR ELM MAP":
        for d in dims:   # the per-element route counts in the order of the largest range holding d's elements
            els = set(sp.elements[d])
            big = max((r for r in sp.elements.values() if els <= set(r)), key=len)
            if [x for x in big if x in els] != list(sp.elements[d]):
                raise Refuse("VECTOR ELM MAP over a range in another order than its family's")
        off = number(fold(e.args[1]))
        if off is None:
            return
        lo = hi = 0
        for s, d, stride in zip(ref.subscripts, dims, _strides(sp, dims)):
            top = len(sp.elements[d]) - 1 if s in lhs else sp.elements[d].index(s)
            lo, hi = lo + stride * (0 if s in lhs else top), hi + stride * top
        if off != int(off) or lo + off < 0 or hi + off >= math.prod(len(sp.elements[d]) for d in dims):
            raise Refuse("VECTOR ELM MAP's offset out of the array")
        return
    # VECTOR LOOKUP(vec[..., first], ...): from first to the end of vec's last range
    first, els = ref.subscripts[-1], sp.elements[dims[-1]]
    family = sp.element_family(first) if first in sp.all_elements else ()
    mode = number(fold(e.args[4]))
    if first not in els or [x for x in family[family.index(first):] if x in els] != list(els[els.index(first):]) \
            or len(els) - els.index(first) < 2 or (mode is not None and mode not in range(10)):
        raise Refuse("VECTOR LOOKUP's vector or mode")


def _known(checker, x: ir.Expr) -> list[float]:
    """The values `x` may take when it is a number or reads an array or scalar of numbers (every
    element of such an array whose subscripts `x` fixes), else []."""
    x = fold(x)
    if number(x) is not None:
        return [number(x)]
    var = checker.model.variables.get(x.name) if type(x) is ir.Ref else None
    if var is None:
        return []
    if not x.subscripts:
        value = number(var.definitions[0].expr if var.definitions else var.expr)
        return [] if value is None else [value]
    try:
        plan = checker.pieces.plan(var, {}, set())
    except Refuse:
        return []
    if plan.kind is not ir.Kind.CONSTANT:
        return []
    sp, dims = checker.space, plan.dims
    values = [a.value for a in plan.expr.args]
    fixed = {j: sp.position(d, s) for j, (s, d) in enumerate(zip(x.subscripts, dims))
             if not sp.is_range(s.rstrip("!"))}
    out = []
    for k, value in enumerate(values):
        at = [k // stride % len(sp.elements[d]) for d, stride in zip(dims, _strides(sp, dims))]
        if all(at[j] == p for j, p in fixed.items()):
            out.append(value)
    return out


def _check_profiles(checker, f: str, scalars, comps) -> None:
    """Refuse priority profiles given as numbers that the per-element route refuses when the
    model is built (array_functions.check_profiles: a type it does not know, a width that is
    not positive), so that it reports them."""
    types, widths = ([1.0], _known(checker, scalars[0])) if f == "ALLOCATE BY PRIORITY" \
        else (_known(checker, comps[1]), _known(checker, comps[3]))
    for t in types:
        if not (math.isfinite(t) and t == int(t)):
            raise Refuse(f"{f}: a priority type that is not a whole number")
        if f == "ALLOCATE AVAILABLE" and int(t) - 10 in PROFILE_TYPES:
            t -= 10
        if int(t) not in PROFILE_TYPES:
            raise Refuse(f"{f}: priority type {t:g}")
    if any(not w > 0 for w in widths):
        raise Refuse(f"{f}: a priority width that is not positive")
    if f != "ALLOCATE BY PRIORITY" and any(int(t) % 10 == 5 for t in types) \
            and any(not e != 0 for e in _known(checker, comps[4])):
        raise Refuse(f"{f}: a constant elasticity curve of elasticity 0")


def _whole_vector(checker, ref: ir.Expr, position: int) -> ir.Ref:
    """A vector argument given from its first element (`x[first]`, or `x[range]`: the
    per-element route's `from_first`) as the reference iterating its subscript at `position`
    over the whole of the array's range there (`x[range!]`), or Refuse: it must be a dense
    array and start at its range's first element."""
    sp = checker.space
    if type(ref) is not ir.Ref or ref.name not in checker.dense or ref.name not in checker.dims \
            or len(ref.subscripts) < -position:
        raise Refuse("a vector of no dense array")
    d = checker.dims[ref.name][position]
    if ref.subscripts[position] not in (d, sp.elements[d][0]):
        raise Refuse("a vector that does not start at its range's first element")
    subs = list(ref.subscripts)
    subs[position] = d + "!"
    return ir.Ref(ref.name, tuple(subs), ref.pos)


def _market_parts(checker, e: ir.Call) -> tuple[list, list]:
    """(scalars, block) of FIND MARKET PRICE or MARKETP as their per-element drivers lay them
    out (array_functions.py): the block's parts each a number or `@SEG(components)`, the
    components over one iterated range, element by element."""
    sp, seg = checker.space, lambda *xs: ir.Call(SEG, xs, e.pos)
    if e.func == "MARKETP":
        request, priority, size, width, supply = e.args
        req, prio = _whole_vector(checker, request, -1), _whole_vector(checker, priority, -1)
        return [width, supply], [size, seg(req), seg(prio)]
    parts, counts = [], []
    for q, pp in (e.args[:2], e.args[2:]):
        qs = _whole_vector(checker, q, -1)
        profile = [_whole_vector(checker, p, -2) for p in _profile(sp, pp)]
        elements = [sp.elements[qs.subscripts[-1][:-1]], sp.elements[profile[0].subscripts[-2][:-1]]]
        if elements[0] != elements[1]:
            raise Refuse("a profile over other elements than its quantities")
        parts += [seg(qs), seg(*profile)]
        counts.append(len(elements[0]))
    return [ir.Num(float(counts[0]))], parts


def _check_market(checker, e: ir.Call, lhs) -> None:
    sp = checker.space
    scalars, parts = _market_parts(checker, e)
    for x in scalars:
        _plain(checker, x, lhs)
    for part in parts:
        for c in part.args if type(part) is ir.Call and part.func == SEG else ():
            checker.expr(ir.Call("SUM", (c,), e.pos), lhs)
    if e.func == "MARKETP":
        n = len(sp.elements[parts[1].args[0].subscripts[-1][:-1]])
        if sp.elements[parts[2].args[0].subscripts[-1][:-1]] != sp.elements[parts[1].args[0].subscripts[-1][:-1]]:
            raise Refuse("MARKETP's priorities over other elements than its requests")
        _plain(checker, parts[0], lhs)
        size = number(fold(parts[0]))
        if size is not None and (size != int(size) or not 0 < size <= n):
            raise Refuse("MARKETP's size out of range")
        if any(_known(checker, x) and not all(w > 0 for w in _known(checker, x)) for x in scalars[:1]):
            raise Refuse("MARKETP: a priority width that is not positive")
    else:
        for part in parts[1::2]:
            types, widths = _known(checker, part.args[0]), _known(checker, part.args[2])
            extras = _known(checker, part.args[3]) if any(t == 5 for t in types) else []
            if any(not (math.isfinite(t) and t == int(t) and int(t) in PROFILE_TYPES) for t in types) \
                    or any(not w > 0 for w in widths) or any(not e != 0 for e in extras):
                raise Refuse("FIND MARKET PRICE: a priority profile the per-element route refuses")


def _strides(space, dims) -> list[int]:
    return [math.prod(len(space.elements[d]) for d in dims[j + 1:]) for j in range(len(dims))]


def _hidden(dz, owner: ir.Variable, what: str, expr: ir.Expr, dims, pos) -> ir.Ref:
    """A hidden array over `dims` computing `expr` (a `_Densify`'s `shared`), referenced at the
    left-hand side's element."""
    name = f"{owner.name} #{what}{len(dz.shared) + 1}"
    while name in dz.model.variables or name in dz.shared:
        name += "'"
    shown = f"{owner.display} ({what} at {pos.line}:{pos.column})" if pos else owner.display
    dz.shared[name] = ir.Variable(name, shown, ir.Kind.AUXILIARY, expr=expr, pos=pos, hidden=True, dims=dims)
    return ir.Ref(name, dims, pos)


def rewrite(dz, e: ir.Call, owner: ir.Variable, lhs: tuple[str, ...]) -> ir.Expr:
    """The dense IR of a call `check` took (see the module's doc), its arguments rewritten
    already (`_Densify.rewrite`); hidden arrays go to `dz.shared`."""
    f, sp, pos = e.func, dz.space, e.pos
    if f == "VECTOR SELECT":
        sel, x, missing, action, error = e.args
        value = ir.Call(VSEL, (sel, x, missing, action), pos)
        if number(fold(error)) == 0:
            return value
        # the per-element route's error action (array_functions.vector_select)
        ite = lambda c, a, b: ir.Call("IF THEN ELSE", (c, a, b), pos)
        count = ir.Call("SUM", (ite(ir.BinOp("<>", sel, ir.Num(0.0)), ir.Num(1.0), ir.Num(0.0)),), pos)
        eq = lambda a, b: ir.BinOp("=", a, ir.Num(float(b)))
        none = ir.BinOp("and", ir.BinOp("or", eq(error, 1), eq(error, 3)), eq(count, 0))
        many = ir.BinOp("and", ir.BinOp("or", eq(error, 2), eq(error, 3)), ir.BinOp(">", count, ir.Num(1.0)))
        return ite(ir.BinOp("or", none, many), ir.Num(math.nan), value)
    if f in MARKETS:
        scalars, parts = _market_parts(dz.checker, e)
        return ir.Call(VBLOCK + f, (*scalars, *parts), pos)
    last, n = (lhs[-1], len(sp.elements[lhs[-1]])) if lhs else (None, 0)
    if f in LAYOUT:
        scalars, comps = _split(sp, e)
        call = ir.Call(VEC + f, (*scalars, *comps), pos)
        return _hidden(dz, owner, f.lower(), call, lhs, pos)
    if f == "VECTOR REORDER":
        vec, index = e.args
        if not (type(vec) is ir.Ref and vec.name in dz.dims and dz.dims[vec.name][-1] == last
                and vec.subscripts[-1] == last):
            vec = _hidden(dz, owner, "pack", vec, lhs, pos)
        row = ir.Ref(vec.name, vec.subscripts[:-1] + (sp.elements[last][0],), pos)
        return ir.Call(VAT, (row, ir.Num(float(n)), index), pos)
    ref = e.args[0]
    dims = dz.dims[ref.name]
    if f == "VECTOR LOOKUP":
        els = sp.elements[dims[-1]]
        size = len(els) - els.index(ref.subscripts[-1])
        return ir.Call(VLOOK, (ref, ir.Num(float(size)), *e.args[1:]), pos)
    # VECTOR ELM MAP: the base element's position in the array, row-major, plus the offset
    index: ir.Expr = e.args[1]
    for s, d, stride in zip(ref.subscripts, dims, _strides(sp, dims)):
        if s in lhs:
            at = ir.BinOp("-", ir.Call("@INDEX", (ir.Num(float(lhs.index(s))),), pos), ir.Num(1.0))
            index = ir.BinOp("+", index, ir.BinOp("*", ir.Num(float(stride)), at))
        else:
            index = ir.BinOp("+", index, ir.Num(float(stride * sp.elements[d].index(s))))
    row = ir.Ref(ref.name, tuple(sp.elements[d][0] for d in dims), pos)
    return ir.Call(VAT, (row, ir.Num(float(math.prod(len(sp.elements[d]) for d in dims))), index), pos)


def driver_name(func: str) -> str:
    """The per-element route's driver (`@ALLOCATE AVAILABLE`) of a dense call (`@VEC ALLOCATE
    AVAILABLE`, `@VBLOCK MARKETP`), so that what names the drivers names both; else `func`."""
    for prefix in (VEC, VBLOCK):
        if func.startswith(prefix):
            return "@" + func[len(prefix):]
    return func


def helper(f: str) -> tuple[str, int]:
    """The kernel library's helper of `@VEC f` and how many scalars it takes."""
    d = driver_for(f)
    return d.helper, d.scalars
