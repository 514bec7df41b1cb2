"""XMILE names and subscripts resolved against the model (XMILE 1.0, section 3.7.1):
the clock's names, SELF, `Dim.elem` outside brackets (the element's position), '*'
(a dimension reduced over, Vensim's '!'), positions, ranges `A[1:3]` (a subrange,
reduced over within an array function, mapped onto the equation's dimension outside
one), the transposition ' and `@n` positions (bound by dimension name), a subscript
computed when the model runs (`x[i + 1]`, `x[i]` for a scalar i: an element pick,
Vensim's VECTOR ELM MAP, 0 outside the dimension), a flat index `A(10)`, a graphical
function's points `g[3]`; and the array functions that need the elements one by one
(RANK), and `once`, which keeps a random draw a rewrite uses twice in one place.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

from .. import ir
from ..errors import ModelError, UnsupportedFeature
from .xmile_expr import COMPUTED, INDEX, POSITION, RANGE, WILDCARD

# XMILE names of the simulation's clock and controls -> the IR's names
CLOCK = {"time": ir.TIME, "dt": "time step", "starttime": "initial time", "stoptime": "final time"}


@dataclass
class Context:
    """What translating an equation needs to know about the model."""
    dims: dict[str, tuple[str, ...]]              # dimension -> its elements
    var_dims: dict[str, tuple[str, ...]]          # variable -> its dimensions
    lookups: set[str] = field(default_factory=set)
    owner: str = ""                               # display name of the variable being translated
    owner_dims: tuple[str, ...] = ()
    owner_name: str = ""                          # its canonical name (what SELF means)
    macros: dict = field(default_factory=dict)    # macro -> (parameters, their default or None)
    invalid_index: float = 0.0                    # a computed position outside its dimension
    tables: dict = field(default_factory=dict)    # variable with a graphical function -> its table
    hidden: dict | None = None                    # where hidden auxiliaries go (None: none allowed)
    subs: tuple[str, ...] = ()                    # the subscripts of the definition being translated
    subranges: dict = field(default_factory=dict)  # a range's dimension -> (its dimension, first, last)
    mappings: dict = field(default_factory=dict)   # a range read element by element -> the one it maps to
    notices: list = field(default_factory=list)    # the model's notices (ir.Model.notices)
    points: dict = field(default_factory=dict)     # graphical function -> its y values as written
    names: dict = field(default_factory=dict)      # variable or dimension -> its name as written


def shown(name: str, ctx: Context) -> str:
    """`name` (a variable's or dimension's canonical name) as the modeller wrote it."""
    return ctx.names.get(name, name)


def num(x: float) -> ir.Num:
    return ir.Num(float(x))


def ref(name: str, pos=None) -> ir.Ref:
    return ir.Ref(name, (), pos)


def reducing(e: ir.Expr, ctx: Context) -> ir.Expr:
    """The argument of a reducing function (SUM, MIN of one array, ...): a dimension
    named in it that the equation's own variable does not span is reduced over
    (marked '!', as in Vensim)."""
    found = []

    def mark(node):
        if isinstance(node, ir.Ref) and node.name in ctx.var_dims and ctx.var_dims[node.name]:
            found.append(node)
            return ir.Ref(node.name, tuple(s + "!" if s in ctx.dims and s not in ctx.owner_dims else s
                                           for s in node.subscripts), node.pos)
        return node
    out = ir.map_expr(e, mark)
    if not found:
        raise ModelError(f"{getattr(e, 'pos', None) or ctx.owner}: an array function needs an arrayed "
                         f"variable in its argument (in the equation of '{ctx.owner}')")
    return out


def count(x: ir.Expr, ctx: Context, pos) -> int:
    """SIZE: how many elements the array expression `x` has, counting every dimension its
    arrays span (named, '*' or left out), one for a single element; SIZE(SELF) is the
    equation's own variable's."""
    n = 0
    for node in ir.walk(x):
        if isinstance(node, ir.Ref) and node.name in ctx.var_dims:
            k = 1
            for s in node.subscripts:
                d = s[:-1] if s.endswith("!") else s
                k *= len(ctx.dims[d]) if d in ctx.dims else 1
            n = max(n, k)
    if not n:
        raise ModelError(f"{pos}: SIZE needs an arrayed variable "
                         f"(in the equation of '{ctx.owner}')")
    return n


def size_of(whole: ir.Expr, ctx: Context) -> ir.Expr:
    """How many values a reduction over `whole` takes: its '!' dimensions' sizes multiplied."""
    reduced = {s[:-1] for node in ir.walk(whole) if isinstance(node, ir.Ref)
               for s in node.subscripts if s.endswith("!")}
    n = 1
    for d in reduced:
        n *= len(ctx.dims.get(d, ()))
    return num(n)


def resolve_ref(r: ir.Ref, ctx: Context) -> ir.Expr:
    if r.name not in ctx.var_dims:
        if r.name in CLOCK and not r.subscripts:
            return ir.Ref(CLOCK[r.name], (), r.pos)
        if r.name == "self" and ctx.owner_name:   # XMILE 1.0, 3.5.6: the variable itself
            return ir.Ref(ctx.owner_name, r.subscripts or tuple(ctx.owner_dims), r.pos)
        head, _, tail = r.name.rpartition(".")
        if head in ctx.dims and tail in ctx.dims[head] and not r.subscripts:
            # 'Location.Boston' outside brackets: the element's position (XMILE 1.0, 3.7.1)
            return num(ctx.dims[head].index(tail) + 1)
        if r.name == "pi" and not r.subscripts:
            return num(math.pi)
        if r.name == "inf" and not r.subscripts:
            return num(math.inf)
        return r
    dims = ctx.var_dims[r.name]
    if r.subscripts and r.name in ctx.lookups and not dims:
        # g[3]: the y value of the graphical function's third point (XMILE 1.0, 3.7.1.3)
        ys = ctx.points.get(r.name, ())
        sub = r.subscripts[0] if len(r.subscripts) == 1 else ""
        where = f"in the equation of '{ctx.owner}'"
        if not ys or not sub.startswith(INDEX) or RANGE in sub:
            raise UnsupportedFeature(
                f"{r.pos}: '{shown(r.name, ctx)}' is a graphical function: one of its points is read by "
                f"a position written as a whole number from 1 ('{shown(r.name, ctx)}[3]'), not 0, a range "
                f"or a value computed when the model runs ({where})")
        k = int(sub[1:])
        if k > len(ys):
            raise ModelError(f"{r.pos}: position {k} is past the last point of graphical function "
                             f"'{shown(r.name, ctx)}' ({len(ys)} points) {where}")
        return num(ys[k - 1])
    if len(r.subscripts) not in (0, len(dims)):
        raise ModelError(f"{r.pos}: '{shown(r.name, ctx)}' has {len(dims)} dimension(s), used with "
                         f"{len(r.subscripts)} subscript(s) in the equation of '{ctx.owner}'")
    # a scalar variable (or the clock) named as a subscript is a position computed when
    # the model runs, like x[expression] (both become an element pick)
    computed = COMPUTED in r.subscripts or any(_is_position_variable(s, dim, ctx)
                                               for s, dim in zip(r.subscripts, dims))
    if not r.subscripts:
        # an arrayed variable named alone inside an arrayed equation: element by element
        return ir.Ref(r.name, tuple(dims), r.pos) if dims else r
    subs = []
    for s, dim in zip(r.subscripts, dims):
        if s == COMPUTED:
            subs.append(COMPUTED)
        elif s == WILDCARD:
            subs.append(dim + "!")
        elif s.startswith(POSITION):
            k = int(s[1:])
            if not 1 <= k <= len(ctx.owner_dims):
                raise ModelError(f"{r.pos}: '@{k}' in '{r.name}': '{ctx.owner}' has "
                                 f"{len(ctx.owner_dims)} dimension(s)")
            subs.append(_distinct_dimension(ctx.owner_dims, k - 1, r.pos, ctx))
        elif s.startswith(WILDCARD + ":"):
            if s[2:] not in ctx.dims:
                raise ModelError(f"{r.pos}: '{s[2:]}' in '{r.name}[*:{s[2:]}]' is not a dimension "
                                 f"(in the equation of '{ctx.owner}')")
            subs.append(s[2:] + "!")
        elif RANGE in s:
            subs.append(_subrange(s, dim, r, ctx) + "!")
        elif s.startswith(INDEX):
            k = int(s[1:])
            elements = ctx.dims.get(dim, ())
            if not 1 <= k <= len(elements):
                raise ModelError(f"{r.pos}: position {k} is outside dimension '{shown(dim, ctx)}' "
                                 f"({len(elements)} elements) in the equation of '{ctx.owner}'")
            subs.append(elements[k - 1])
        else:
            subs.append(s)
    out = ir.Ref(r.name, tuple(subs), r.pos)
    # with expressions among the subscripts, the COMPUTED_INDEX call around makes the pick
    return computed_index(out, [], ctx) if computed and COMPUTED not in r.subscripts else out


def _subrange(s: str, dim: str, r: ir.Ref, ctx: Context) -> str:
    """The dimension of the range 'first:last' of `dim` (section 3.7.1.2: positions or
    element names, the first three elements for 1:3 even when they have names): `dim`
    itself when it spans it all, else a subrange of it added to the model's dimensions,
    reduced over as '*' is within an array function (`range_onto` reads it elsewhere)."""
    elements = ctx.dims[dim]
    at = []
    for end in s.split(RANGE):
        k = int(end[1:]) - 1 if end.startswith(INDEX) else (elements.index(end) if end in elements else -1)
        if not 0 <= k < len(elements):
            raise ModelError(f"{r.pos}: '{end.lstrip(INDEX)}' in the range [{s.replace(INDEX, '')}] of "
                             f"'{shown(r.name, ctx)}' is not an element or position of dimension '{shown(dim, ctx)}' "
                             f"(in the equation of '{ctx.owner}')")
        at.append(k)
    first, last = at
    if last < first:
        raise ModelError(f"{r.pos}: the range [{s.replace(INDEX, '')}] of '{shown(r.name, ctx)}' is empty "
                         f"(in the equation of '{ctx.owner}')")
    if (first, last) == (0, len(elements) - 1):
        return dim
    name = f"{dim} {elements[first]} to {elements[last]}"
    ctx.dims.setdefault(name, elements[first:last + 1])
    ctx.subranges[name] = (dim, first, last)
    return name


def range_onto(sub: str, r: ir.Ref, ctx: Context) -> str:
    """A range (or '*') of `r` outside an array function, in an apply-to-all equation (section
    3.7.1.2): read element by element along the equation's own dimension, the one it spans
    (or else the one `r` does not name), truncated or extended (with the next elements of
    the same dimension, and a notice) to that dimension's size: a subrange mapped onto it."""
    parent, first, last = ctx.subranges.get(sub) or (sub, 0, len(ctx.dims[sub]) - 1)
    named = {s for s in r.subscripts if s in ctx.dims}
    free = [d for d in ctx.owner_dims if d not in named]
    onto = parent if parent in ctx.owner_dims else (free[0] if len(free) == 1 else None)
    text = _range_text(r, ctx)
    if onto is None:
        raise UnsupportedFeature(f"{r.pos}: {text} has a range or '*' outside an array function, and "
                                 f"'{ctx.owner}' has no one dimension to read it along (in the equation "
                                 f"of '{ctx.owner}')")
    elements, n = ctx.dims[parent], len(ctx.dims[onto])
    if first + n > len(elements):
        raise UnsupportedFeature(f"{r.pos}: the range of {text}, read along '{shown(onto, ctx)}' ({n} elements), "
                                 f"runs past the end of '{shown(parent, ctx)}' (in the equation of '{ctx.owner}')")
    if n != last - first + 1:
        ctx.notices.append(f"{r.pos}: the range of {text} has {last - first + 1} elements, "
                           f"{'truncated' if n < last - first + 1 else 'extended'} to the {n} of '{shown(onto, ctx)}' "
                           f"(in the equation of '{ctx.owner}')")
    if onto == parent and first == 0:
        return onto
    name = f"{parent} {elements[first]} to {elements[first + n - 1]} onto {onto}"
    ctx.dims.setdefault(name, elements[first:first + n])
    ctx.mappings[name] = onto
    return name


def _range_text(r: ir.Ref, ctx: Context) -> str:
    """'A[4:5]': a reference with a range (or '*') as the modeller wrote it, positions from 1."""
    parts = []
    for s in r.subscripts:
        base = s.removesuffix("!")
        if base in ctx.subranges:
            _, first, last = ctx.subranges[base]
            parts.append(f"{first + 1}:{last + 1}")
        else:
            parts.append("*" if s.endswith("!") else shown(base, ctx))
    return f"'{shown(r.name, ctx)}[{', '.join(parts)}]'"


def _distinct_dimension(dims: tuple[str, ...], k: int, pos, ctx: Context) -> str:
    """Dimension k of `dims`, which binds by its name: refused when the name is there twice
    (a square matrix: which place is which needs positions, which the IR binds by name)."""
    if dims.count(dims[k]) > 1:
        raise UnsupportedFeature(f"{pos}: dimension '{dims[k]}' is used twice, so its places cannot be "
                                 f"told apart: not supported (in the equation of '{ctx.owner}')")
    return dims[k]


def transpose(x: ir.Expr, ctx: Context, pos) -> ir.Expr:
    """A' (section 3.7.1.1): A with its dimensions reversed. Dimensions bind by name, so
    with distinct names A' is A itself, matched to the equation's own dimensions."""
    if not (isinstance(x, ir.Ref) and ctx.var_dims.get(x.name)):
        raise UnsupportedFeature(f"{pos}: the transposition ' applies to an arrayed variable here "
                                 f"(in the equation of '{ctx.owner}')")
    named = tuple(s for s in x.subscripts if s in ctx.dims)
    for k in range(len(named)):
        _distinct_dimension(named, k, pos, ctx)
    return x


def _is_position_variable(s: str, dim: str, ctx: Context) -> bool:
    """Whether subscript `s` of dimension `dim` names a variable (or the clock) whose
    value is the position, rather than an element or a dimension."""
    if s in ctx.dims.get(dim, ()) or s in ctx.dims or s in (WILDCARD, COMPUTED) \
            or s.startswith((INDEX, WILDCARD, POSITION)):
        return False
    return (s in ctx.var_dims and not ctx.var_dims[s]) or s in CLOCK


def computed_index(ref: ir.Ref, positions: list[ir.Expr], ctx: Context) -> ir.Expr:
    """x[..., i, ...] with positions computed when the model runs (`positions`: the
    expressions of the COMPUTED markers, in order; a scalar variable or the clock named
    as a subscript is one too), 1 the first element as XMILE 1.0 counts (section 3.7.1):
    Vensim's VECTOR ELM MAP from x's first element on those axes, the offset counted
    row-major over x's dimensions."""
    dims = ctx.var_dims[ref.name]
    base, offset, given, checks = [], None, iter(positions), []
    for k, (s, dim) in enumerate(zip(ref.subscripts, dims)):
        if s == COMPUTED:
            at = once(next(given), ctx, ref.pos)   # read twice: the pick and the check
        elif _is_position_variable(s, dim, ctx):
            at = ir.Ref(CLOCK.get(s, s), (), ref.pos)
        else:
            base.append(s)
            continue
        base.append(ctx.dims[dim][0])
        checks.append((at, dim))
        stride = 1
        for later in dims[k + 1:]:
            stride *= len(ctx.dims[later])
        term = ir.BinOp("-", at, num(1))
        term = ir.BinOp("*", term, num(stride)) if stride != 1 else term
        offset = term if offset is None else ir.BinOp("+", offset, term)
    pick = ir.Call("VECTOR ELM MAP", (ir.Ref(ref.name, tuple(base), ref.pos), offset), ref.pos)
    # a position outside its dimension gives 0 (XMILE 1.0, 3.7.1), or NaN when the file's
    # <uses_arrays invalid_index_value="NaN"> says so (2.2.1); never Vensim's :NA:
    inside = None
    for at, dim in checks:
        ok = ir.BinOp("and", ir.BinOp(">=", at, num(0.5)), ir.BinOp("<", at, num(len(ctx.dims[dim]) + 0.5)))
        inside = ok if inside is None else ir.BinOp("and", inside, ok)
    return ir.Call("IF THEN ELSE", (inside, pick, num(ctx.invalid_index)), ref.pos)


def flat_index(name: str, n: ir.Expr, ctx: Context, pos) -> ir.Expr:
    """`A(n)` for an arrayed variable A (XMILE 1.0, section 3.3, function calls): its n-th element
    counted row-major over all its dimensions, from 1; 0 (or the file's invalid index
    value) outside the array. Vensim's VECTOR ELM MAP from A's first element."""
    dims = ctx.var_dims[name]
    size = math.prod(len(ctx.dims[d]) for d in dims)
    if isinstance(n, ir.Num):   # a number: the element itself, or nothing
        k = math.floor(n.value + 0.5) - 1
        if not 0 <= k < size:
            return num(ctx.invalid_index)
        return ir.Ref(name, next(itertools.islice(itertools.product(*(ctx.dims[d] for d in dims)), k, None)), pos)
    n = once(n, ctx, pos)
    first = ir.Ref(name, tuple(ctx.dims[d][0] for d in dims), pos)
    pick = ir.Call("VECTOR ELM MAP", (first, ir.BinOp("-", n, num(1))), pos)
    inside = ir.BinOp("and", ir.BinOp(">=", n, num(0.5)), ir.BinOp("<", n, num(size + 0.5)))
    return ir.Call("IF THEN ELSE", (inside, pick, num(ctx.invalid_index)), pos)


def has_draw(x: ir.Expr) -> bool:
    """Whether `x` draws a random number: each copy of such an expression would draw its own."""
    return any(isinstance(n, ir.Call) and n.func.startswith("RANDOM") for n in ir.walk(x))


def once(x: ir.Expr, ctx: Context, pos) -> ir.Expr:
    """`x` for a rewrite that uses it more than once: `x` itself, unless it draws random
    numbers, which a copy would draw anew; then a hidden auxiliary holding it (over the
    dimensions of the definition being translated), read wherever the rewrite needs it."""
    if not has_draw(x):
        return x
    if ctx.hidden is None:
        raise UnsupportedFeature(f"{pos}: a random draw inside a function that uses its argument "
                                 f"twice is not supported here (in the equation of '{ctx.owner}')")
    k = 1 + sum(n.startswith(f"{ctx.owner_name} #value") for n in ctx.hidden)
    name = f"{ctx.owner_name} #value{k}"
    dims = tuple(s for s in ctx.subs if s in ctx.dims)
    ctx.hidden[name] = ir.Variable(name, f"a value in the equation of {ctx.owner}", ir.Kind.AUXILIARY,
                                   expr=None if dims else x, pos=pos, hidden=True, dims=dims,
                                   definitions=(ir.Definition(dims, (), "=", x, pos=pos),))
    return ir.Ref(name, dims, pos)


def elements_of(x: ir.Expr, ctx: Context, pos, what: str) -> list[ir.Ref]:
    """The elements of the array `x` (a variable, whole or sliced) in row-major order, as
    references: a dimension the equation's own variable spans stays bound to it, any
    other ('*', a dimension reduced over, a range) is enumerated."""
    if not (isinstance(x, ir.Ref) and ctx.var_dims.get(x.name)):
        raise UnsupportedFeature(f"{pos}: {what} takes an arrayed variable here (in the equation of "
                                 f"'{ctx.owner}')")
    subs = x.subscripts or ctx.var_dims[x.name]
    choices = []
    for s in subs:
        d = s[:-1] if s.endswith("!") else s
        choices.append(ctx.dims[d] if d in ctx.dims and (s.endswith("!") or d not in ctx.owner_dims) else (s,))
    return [ir.Ref(x.name, combo, x.pos) for combo in itertools.product(*choices)]


def rank(a: ir.Expr, n: ir.Expr, b: ir.Expr | None, ctx: Context, pos) -> ir.Expr:
    """RANK(A, n[, B]) (XMILE 1.0, 3.7.1.3): the (flat, row-major, from 1) index of A's element
    of rank n in ascending order, ties broken by B's elements, then by position; 0 when no
    element has that rank. Element i's rank is 1 + how many sort before it:
    sum over j of (A_j < A_i) + (A_j = A_i)(tie broken for j)."""
    xs = elements_of(a, ctx, pos, "RANK")
    ys = elements_of(b, ctx, pos, "RANK") if b is not None else None
    if ys is not None and len(ys) != len(xs):
        raise ModelError(f"{pos}: RANK's two arrays have {len(xs)} and {len(ys)} elements "
                         f"(in the equation of '{ctx.owner}')")
    if len(xs) > MAX_RANKED:
        raise UnsupportedFeature(f"{pos}: RANK of more than {MAX_RANKED} elements is not supported "
                                 f"(in the equation of '{ctx.owner}')")

    def test(cond):
        return ir.Call("IF THEN ELSE", (cond, num(1), num(0)), pos)

    n = once(n, ctx, pos)
    terms = []
    for i, xi in enumerate(xs):
        before = [num(1)]
        for j, xj in enumerate(xs):
            if j == i:
                continue
            tie = ir.BinOp("=", xj, xi)
            if ys is not None:
                tie = ir.BinOp("and", tie, ir.BinOp("<" if j > i else "<=", ys[j], ys[i]))
            first = ir.BinOp("<", xj, xi)
            before.append(test(ir.BinOp("or", first, tie) if ys is not None or j < i else first))
        terms.append(ir.BinOp("*", num(i + 1), test(ir.BinOp("=", balanced_sum(before), n))))
    return balanced_sum(terms)


def balanced_sum(terms: list[ir.Expr]) -> ir.Expr:
    """terms[0] + terms[1] + ... as a balanced tree, so a long sum stays shallow."""
    if len(terms) == 1:
        return terms[0]
    mid = len(terms) // 2
    return ir.BinOp("+", balanced_sum(terms[:mid]), balanced_sum(terms[mid:]))


MAX_RANKED = 100   # RANK's expression grows with the square of the array's size
