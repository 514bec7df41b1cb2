"""XMILE names and subscripts resolved against the model (XMILE 1.0, section 3.7.1):
the clock's names, SELF, `Dim.elem` outside brackets (the element's position), '*'
(a dimension reduced over, Vensim's '!'), positions, the transposition ' and `@n`
positions (bound by dimension name), and a subscript computed when the model runs
(`x[i + 1]`, `x[i]` for a scalar i): an element pick, Vensim's VECTOR ELM MAP, 0
outside the dimension.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from .. import ir
from ..errors import ModelError, UnsupportedFeature
from .xmile_expr import COMPUTED, INDEX, POSITION, WILDCARD

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
    if len(r.subscripts) not in (0, len(dims)):
        raise ModelError(f"{r.pos}: '{r.name}' has {len(dims)} dimension(s), used with "
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
        elif s.startswith(INDEX):
            k = int(s[1:])
            elements = ctx.dims.get(dim, ())
            if not 1 <= k <= len(elements):
                raise ModelError(f"{r.pos}: position {k} is outside dimension '{dim}' "
                                 f"({len(elements)} elements) in the equation of '{ctx.owner}'")
            subs.append(elements[k - 1])
        else:
            subs.append(s)
    out = ir.Ref(r.name, tuple(subs), r.pos)
    # with expressions among the subscripts, the COMPUTED_INDEX call around makes the pick
    return computed_index(out, [], ctx) if computed and COMPUTED not in r.subscripts else out


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
            at = next(given)
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
