"""XMILE's builtins rewritten onto the IR's (Vensim's) functions, with XMILE's
semantics (the OASIS XMILE 1.0 standard, section 3.5; Stella's own builtins where
the file uses them): `translate` turns a raw expression (xmile_expr.py) into the
IR's, names and subscripts resolved by xmile_arrays.py.

Where XMILE differs from Vensim the rewrite keeps XMILE's meaning: optional initial
values default to the input (DELAY, DELAYn, SMTHn) or to 0 (TREND, FORCST); PULSE is
(volume, first time, interval) and moves `volume` in one DT; INT rounds down;
SAFEDIV(a, b, x) is Vensim's XIDZ; INIT is INITIAL; MIN and MAX of one array are
Vensim's VMIN and VMAX; SUM, MEAN, SIZE and STDDEV reduce over an array's '*'
dimensions; RANDOM, NORMAL, EXPRND and POISSON are the RANDOM functions with XMILE's
arguments, LOGNORMAL the distribution's own mean and deviation; MAX(A, 0) mixes arrays
and scalars; RANK is an explicit comparison of the array's elements; a call of one of
the file's macros keeps its name (passes/macros.py expands it), its left-out
parameters given their defaults; an array called with one argument, A(10), is its
element at that flat index. Stella's own (STELLA, DISTRIBUTIONS): ROUND, SINWAVE,
COSWAVE, HISTORY, GAMMALN, TRIANGULAR, BETA, BINOMIAL, WEIBULL.
"""
from __future__ import annotations

import math

from .. import ir
from ..ir.builtins import ARRAY
from ..errors import ModelError, UnsupportedFeature
from .xmile_arrays import (
    Context, computed_index, count, flat_index, num, once, range_onto, rank, ref, reducing, resolve_ref,
    size_of, transpose,
)
from .xmile_expr import COMPUTED_INDEX, TRANSPOSE, xmile_name

SAME = {"ABS", "EXP", "LN", "SQRT", "SIN", "COS", "TAN", "ARCSIN", "ARCCOS", "ARCTAN", "SINH",
        "COSH", "TANH", "STEP", "IF THEN ELSE", "MODULO"}
BIG = 1e300


def _args(c: ir.Call, lo: int, hi: int, ctx: Context) -> tuple:
    if not lo <= len(c.args) <= hi:
        want = str(lo) if lo == hi else f"{lo} to {hi}"
        raise ModelError(f"{c.pos}: {c.func} takes {want} arguments, got {len(c.args)} "
                         f"(in the equation of '{ctx.owner}')")
    return c.args


def _pulse(c: ir.Call, ctx: Context) -> ir.Expr:
    a = _args(c, 1, 3, ctx)
    pos, dt, t = c.pos, ref("time step"), ref(ir.TIME)
    volume = a[0]
    first = a[1] if len(a) > 1 else ref("initial time")
    interval = a[2] if len(a) > 2 else num(0)
    # one DT wide, centred on each pulse time so float steps cannot miss it
    single = ir.Call("PULSE", (first, num(0)), pos)
    mid = ir.BinOp("-", ir.BinOp("+", t, ir.BinOp("/", dt, num(2))), first)
    train = ir.Call("IF THEN ELSE", (
        ir.BinOp("and", ir.BinOp(">", mid, num(0)),
                 ir.BinOp("<", ir.Call("MODULO", (mid, interval), pos), dt)), num(1), num(0)), pos)
    which = single if isinstance(interval, ir.Num) and interval.value <= 0 else \
        ir.Call("IF THEN ELSE", (ir.BinOp(">", interval, num(0)), train, single), pos)
    return ir.BinOp("*", ir.BinOp("/", volume, dt), which)


def _trend(inp, avg_time, init, pos) -> ir.Expr:
    """XMILE TREND: (input - average) / (average * averaging time), the average
    a first-order smooth started at input / (1 + initial * averaging time)."""
    start = ir.BinOp("/", inp, ir.BinOp("+", num(1), ir.BinOp("*", init, avg_time)))
    average = ir.Call("SMOOTHI", (inp, avg_time, start), pos)
    return ir.Call("ZIDZ", (ir.BinOp("-", inp, average), ir.BinOp("*", average, avg_time)), pos)


# XMILE 1.0's statistical functions (section 3.5.5) and Stella's each draw anew every DT;
# the optional seed is our seed argument (0: the run's own stream). LOGNORMAL's mean and
# standard deviation are the distribution's own (the standard's example: "LOGNORMAL(10, 1)
# samples from a lognormal distribution with mean 10 and standard deviation 1").
# Stella's distributions whose parameters have no counterpart among the RANDOM functions
# (GAMMA with a shape below 1, NEGBINOMIAL, GEOMETRIC, LOGISTIC, PARETO) are refused.
STATISTICAL = {"RANDOM", "UNIFORM", "NORMAL", "EXPRND", "POISSON", "LOGNORMAL", "TRIANGULAR", "BETA",
               "BINOMIAL", "WEIBULL"}
NOT_YET = {"GAMMA", "NEGBINOMIAL", "GEOMETRIC", "LOGISTIC", "PARETO", "INVNORM", "NORMALCDF", "MONTECARLO",
           "COMBINATIONS", "PERMUTATIONS", "FACT"}


# the array functions of a graphical function: over its y values (XMILE 1.0, 3.7.1.3: "MIN
# should be able to be applied to a graphical function to find the minimum y-value")
POINTS = {"MIN": min, "MAX": max, "SUM": math.fsum, "PROD": math.prod, "SIZE": len,
          "MEAN": lambda ys: math.fsum(ys) / len(ys),
          "STDDEV": lambda ys: math.sqrt(max(0.0, math.fsum(y * y for y in ys) / len(ys)
                                             - (math.fsum(ys) / len(ys)) ** 2))}


TABLE_FUNCTIONS = {"LOOKUPINV": "LOOKUP INVERT", "LOOKUP INVERT": "LOOKUP INVERT",
                   "LOOKUP AREA": "LOOKUP AREA", "LOOKUP FORWARD": "LOOKUP FORWARD",
                   "LOOKUP BACKWARD": "LOOKUP BACKWARD"}


def _random(c: ir.Call, ctx: Context) -> ir.Expr:
    f, pos = c.func, c.pos
    if f in ("RANDOM", "UNIFORM"):  # RANDOM(min, max[, seed]): uniform on [min, max]
        a = _args(c, 2, 3, ctx)
        return ir.Call("RANDOM UNIFORM", (a[0], a[1], a[2] if len(a) > 2 else num(0)), pos)
    if f == "NORMAL":  # NORMAL(mean, standard deviation[, seed])
        a = _args(c, 2, 3, ctx)
        return ir.Call("RANDOM NORMAL", (num(-BIG), num(BIG), a[0], a[1], a[2] if len(a) > 2 else num(0)), pos)
    if f in DISTRIBUTIONS:  # Stella's: (parameters..., [seed])
        k, build = DISTRIBUTIONS[f]
        a = _args(c, k, k + 1, ctx)
        return ir.Call(*build(*a[:k], a[k] if len(a) > k else num(0)), pos)
    a = _args(c, 1, 2, ctx)
    seed = a[1] if len(a) > 1 else num(0)
    if f == "POISSON":  # POISSON(mean[, seed]): whole numbers 0, 1, 2, ...
        return ir.Call("RANDOM POISSON", (num(0), num(BIG), a[0], num(0), num(1), seed), pos)
    # EXPRND(mean[, seed]): exponential of that mean
    return ir.Call("RANDOM EXPONENTIAL", (num(0), num(BIG), num(0), a[0], seed), pos)


DISTRIBUTIONS = {
    # LOGNORMAL(mean, standard deviation): of the distribution itself, as RANDOM LOGNORMAL's
    "LOGNORMAL": (2, lambda m, sd, seed: ("RANDOM LOGNORMAL", (num(0), num(BIG), m, sd, seed))),
    # TRIANGULAR(lower bound, mode, upper bound)
    "TRIANGULAR": (3, lambda lo, mode, hi, seed: ("RANDOM TRIANGULAR", (num(-BIG), num(BIG), lo, mode, hi, seed))),
    # BETA(alpha, beta): on [0, 1]
    "BETA": (2, lambda a, b, seed: ("RANDOM BETA", (num(-BIG), num(BIG), a, b, num(0), num(1), seed))),
    # BINOMIAL(trials, probability): successes in that many trials
    "BINOMIAL": (2, lambda n, p, seed: ("RANDOM BINOMIAL", (num(-BIG), num(BIG), p, n, num(0), num(1), seed))),
    # WEIBULL(shape k, scale s): s (-ln U)^(1/k); RANDOM WEIBULL's has mean 1 before its stretch,
    # so the stretch is s Gamma(1 + 1/k)
    "WEIBULL": (2, lambda k, s, seed: ("RANDOM WEIBULL", (num(0), num(BIG), k, num(0), ir.BinOp(
        "*", s, ir.Call("EXP", (ir.Call("GAMMA LN", (ir.BinOp("+", num(1), ir.BinOp("/", num(1), k)),), None),),
                        None)), seed))),
}


def _spans_more(x: ir.Expr, ctx: Context) -> bool:
    """Whether `x` names an array over a dimension the equation's own variable does not
    span (so that a function of it reduces over that dimension)."""
    return any(isinstance(n, ir.Ref) and ctx.var_dims.get(n.name) and any(
        s.endswith("!") or (s in ctx.dims and s not in ctx.owner_dims) for s in n.subscripts)
        for n in ir.walk(x))


def _round(c: ir.Call, ctx: Context) -> ir.Expr:
    """Stella's ROUND(x): the nearest integer, a half away from zero (ROUND(2.5) = 3,
    ROUND(-2.5) = -3, as C's round and spreadsheets do)."""
    (x,) = _args(c, 1, 1, ctx)
    x, pos = once(x, ctx, c.pos), c.pos
    up = ir.Call("INTEGER", (ir.BinOp("+", x, num(0.5)),), pos)
    down = ir.BinOp("-", num(0), ir.Call("INTEGER", (ir.BinOp("-", num(0.5), x),), pos))  # never -0
    return ir.Call("IF THEN ELSE", (ir.BinOp(">=", x, num(0)), up, down), pos)


def _wave(c: ir.Call, ctx: Context) -> ir.Expr:
    """Stella's SINWAVE(amplitude, period) and COSWAVE(amplitude, period): amplitude x
    SIN (or COS) of 2 pi (TIME - STARTTIME) / period, a wave that starts with the run."""
    amplitude, period = _args(c, 2, 2, ctx)
    elapsed = ir.BinOp("-", ref(ir.TIME), ref("initial time"))
    angle = ir.BinOp("/", ir.BinOp("*", num(2 * math.pi), elapsed), period)
    return ir.BinOp("*", amplitude, ir.Call(c.func[:3], (angle,), c.pos))


def _history(c: ir.Call, ctx: Context) -> ir.Expr:
    """Stella's HISTORY(x, t): x's value at the earlier time t (at the TIME STEP nearest to
    it), the value at the start for a time before it, the current value for a time not
    before the current one: Vensim's DELAY INFORMATION of x by TIME - t."""
    x, t = _args(c, 2, 2, ctx)
    pos = c.pos
    x, t = once(x, ctx, pos), once(t, ctx, pos)
    now, dt = ref(ir.TIME), ref("time step")
    # the initial value is read every step, so it is x's value at the start, not x
    past = ir.Call("DELAY INFORMATION", (x, ir.BinOp("-", now, t), ir.Call("INITIAL", (x,), pos)), pos)
    recent = ir.BinOp(">", t, ir.BinOp("-", now, ir.BinOp("/", dt, num(2))))
    return ir.Call("IF THEN ELSE", (recent, x, past), pos)


def _rank(c: ir.Call, ctx: Context) -> ir.Expr:
    a = _args(c, 2, 3, ctx)
    return rank(a[0], a[1], a[2] if len(a) > 2 else None, ctx, c.pos)


def _gammaln(c: ir.Call, ctx: Context) -> ir.Expr:
    return ir.Call("GAMMA LN", _args(c, 1, 1, ctx), c.pos)


# Stella's builtins beyond XMILE 1.0's, and XMILE's RANK
STELLA = {"ROUND": _round, "SINWAVE": _wave, "COSWAVE": _wave, "HISTORY": _history, "RANK": _rank,
          "GAMMALN": _gammaln}


def _stddev(x: ir.Expr, ctx: Context, pos) -> ir.Expr:
    """STDDEV of an array's elements, taken as the whole population (divided by n):
    sqrt(mean of squares - square of the mean), never below 0 from rounding."""
    whole = reducing(x, ctx)
    n = size_of(whole, ctx)
    mean = ir.BinOp("/", ir.Call("SUM", (whole,), pos), n)
    squares = ir.BinOp("/", ir.Call("SUM", (ir.BinOp("*", whole, whole),), pos), n)
    return ir.Call("SQRT", (ir.Call("MAX", (num(0), ir.BinOp("-", squares, ir.BinOp("*", mean, mean))), pos),), pos)


def _builtin(c: ir.Call, ctx: Context) -> ir.Expr:
    f, pos = c.func, c.pos
    name = xmile_name(f)
    if name in ctx.lookups:
        (x,) = _args(c, 1, 1, ctx)
        return ir.LookupCall(name, x, pos)
    if name in ctx.tables:   # a graphical function with an input of its own, given another
        (x,) = _args(c, 1, 1, ctx)
        return ir.LookupCall(ctx.tables[name], x, pos, tuple(ctx.var_dims.get(name, ())))
    if name in ctx.macros:
        return _macro_call(c, name, ctx)
    if ctx.var_dims.get(name):   # A(10): an array's element by its flat index
        (n,) = _args(c, 1, 1, ctx)
        return flat_index(name, n, ctx, pos)
    if f == TRANSPOSE:
        return transpose(c.args[0], ctx, pos)
    if f == COMPUTED_INDEX:
        picked, *positions = c.args
        return computed_index(picked, positions, ctx)
    if f in SAME:
        return c
    if f in POINTS and len(c.args) == 1 and isinstance(c.args[0], ir.Ref) and c.args[0].name in ctx.points \
            and not c.args[0].subscripts:
        return num(POINTS[f](ctx.points[c.args[0].name]))   # MIN(g): over a graphical function's y values
    if f in ("MIN", "MAX"):
        a = _args(c, 1, 2, ctx)
        if len(a) == 1:
            return ir.Call("V" + f, (reducing(a[0], ctx),), pos)
        # MAX(A, 0): the largest of A's elements and 0 (XMILE 1.0, 3.7.1.3: any mix of
        # arrays and scalars); an array the equation's variable spans goes element by element
        return ir.Call(f, tuple(ir.Call("V" + f, (reducing(x, ctx),), pos) if _spans_more(x, ctx) else x
                                for x in a), pos)
    if f == "SAFEDIV":
        a = _args(c, 2, 3, ctx)
        return ir.Call("XIDZ", a, pos) if len(a) == 3 else ir.Call("ZIDZ", a, pos)
    if f == "INT":
        (x,) = _args(c, 1, 1, ctx)  # XMILE's INT rounds down; Vensim's INTEGER truncates
        x = once(x, ctx, pos)
        trunc = ir.Call("INTEGER", (x,), pos)
        return ir.Call("IF THEN ELSE", (ir.BinOp(">", trunc, x), ir.BinOp("-", trunc, num(1)), trunc), pos)
    if f == "LOG10":
        (x,) = _args(c, 1, 1, ctx)
        return ir.Call("LOG", (x, num(10)), pos)
    if f == "PI":
        _args(c, 0, 0, ctx)
        return num(math.pi)
    if f == "RAMP":
        a = _args(c, 2, 3, ctx)
        return ir.Call("RAMP", (a[0], a[1], a[2] if len(a) > 2 else num(BIG)), pos)
    if f == "STEP":
        return ir.Call("STEP", _args(c, 2, 2, ctx), pos)
    if f == "PULSE":
        return _pulse(c, ctx)
    if f in ("INIT", "INITIAL"):
        return ir.Call("INITIAL", _args(c, 1, 1, ctx), pos)
    if f == "PREVIOUS":
        a = _args(c, 1, 2, ctx)  # last DT's value: a pipeline one DT long
        x = a[0] if len(a) > 1 else once(a[0], ctx, pos)
        return ir.Call("DELAY FIXED", (x, ref("time step"), a[1] if len(a) > 1 else x), pos)
    if f == "DELAY":
        a = _args(c, 2, 3, ctx)
        x = a[0] if len(a) > 2 else once(a[0], ctx, pos)
        return ir.Call("DELAY FIXED", (x, a[1], a[2] if len(a) > 2 else x), pos)
    if f in ("DELAY1", "DELAY3", "SMTH1", "SMTH3"):
        a = _args(c, 2, 3, ctx)
        base = {"DELAY1": "DELAY1", "DELAY3": "DELAY3", "SMTH1": "SMOOTH", "SMTH3": "SMOOTH3"}[f]
        return ir.Call(base + ("I" if len(a) == 3 else ""), a, pos)
    if f in ("DELAYN", "SMTHN"):
        a = _args(c, 3, 4, ctx)
        x = a[0] if len(a) > 3 else once(a[0], ctx, pos)
        init = a[3] if len(a) > 3 else x
        return ir.Call("DELAY N" if f == "DELAYN" else "SMOOTH N", (x, a[1], init, a[2]), pos)
    if f == "TREND":
        a = _args(c, 2, 3, ctx)
        return _trend(once(a[0], ctx, pos), once(a[1], ctx, pos), a[2] if len(a) > 2 else num(0), pos)
    if f == "FORCST":
        a = _args(c, 3, 4, ctx)
        x = once(a[0], ctx, pos)
        trend = _trend(x, once(a[1], ctx, pos), a[3] if len(a) > 3 else num(0), pos)
        return ir.BinOp("*", x, ir.BinOp("+", num(1), ir.BinOp("*", trend, a[2])))
    if f == "NPV":
        a = _args(c, 2, 4, ctx)
        return ir.Call("NPV", (a[0], a[1], a[2] if len(a) > 2 else num(0), a[3] if len(a) > 3 else num(1)), pos)
    if f == "LOOKUP":
        table, x = _args(c, 2, 2, ctx)
        if isinstance(table, ir.Ref) and table.name in ctx.lookups:
            return ir.LookupCall(table.name, x, pos, table.subscripts)
        if isinstance(table, ir.Ref) and table.name in ctx.tables:
            return ir.LookupCall(ctx.tables[table.name], x, pos, table.subscripts)
        raise ModelError(f"{pos}: LOOKUP's first argument must be a graphical function "
                         f"(in the equation of '{ctx.owner}')")
    spaced = f.replace("_", " ")
    if spaced in TABLE_FUNCTIONS:
        # Vensim's table functions, as converters write them (LOOKUPINV, LOOKUP_AREA, ...)
        n = 3 if spaced == "LOOKUP AREA" else 2
        table, *rest = _args(c, n, n, ctx)
        if not (isinstance(table, ir.Ref) and (table.name in ctx.lookups or table.name in ctx.tables)):
            raise ModelError(f"{pos}: {f}'s first argument must be a graphical function "
                             f"(in the equation of '{ctx.owner}')")
        held = ctx.tables.get(table.name, table.name)
        return ir.Call(TABLE_FUNCTIONS[spaced], (ir.Ref(held, table.subscripts, table.pos), *rest), pos)
    if f in STATISTICAL:
        return _random(c, ctx)
    if f in STELLA:
        return STELLA[f](c, ctx)
    if f == "STDDEV":
        (x,) = _args(c, 1, 1, ctx)
        return _stddev(x, ctx, pos)
    if f in ("SUM", "PROD"):
        (x,) = _args(c, 1, 1, ctx)
        return ir.Call(f, (reducing(x, ctx),), pos)
    if f == "MEAN":
        a = _args(c, 1, 1000, ctx)
        if len(a) > 1:  # MEAN of several values
            total = a[0]
            for x in a[1:]:
                total = ir.BinOp("+", total, x)
            return ir.BinOp("/", total, num(len(a)))
        whole = reducing(a[0], ctx)
        return ir.BinOp("/", ir.Call("SUM", (whole,), pos), size_of(whole, ctx))
    if f == "SIZE":
        (x,) = _args(c, 1, 1, ctx)
        return num(count(x, ctx, pos))
    if f in ("CONVEYOR", "QUEUE", "LEAK", "TIME_REMAINING"):
        raise UnsupportedFeature(f"{pos}: {f} (conveyors and queues) is not supported "
                                 f"(in the equation of '{ctx.owner}')")
    if f in NOT_YET:
        raise UnsupportedFeature(f"{pos}: {f} is not supported yet (in the equation of '{ctx.owner}')")
    raise UnsupportedFeature(f"{pos}: function '{f}' is not a known XMILE function or graphical "
                             f"function (in the equation of '{ctx.owner}')")


def _macro_call(c: ir.Call, name: str, ctx: Context) -> ir.Expr:
    """A call of one of the file's macros, with the defaults of the parameters it leaves
    out (a default may name the parameters before it: XMILE 1.0 section 4.8)."""
    params, defaults = ctx.macros[name]
    args = _args(c, sum(d is None for d in defaults), len(params), ctx)
    given = dict(zip(params, args))
    for p, default in list(zip(params, defaults))[len(args):]:
        inner = Context(ctx.dims, {q: () for q in params}, set(), ctx.owner, (), "", ctx.macros)
        given[p] = ir.map_expr(translate(default, inner),
                               lambda n: given.get(n.name, n) if isinstance(n, ir.Ref) and not n.subscripts else n)
    return ir.Call(c.func, tuple(given[p] for p in params), c.pos)


def translate(e: ir.Expr, ctx: Context) -> ir.Expr:
    """Rewrite a raw expression: clock names, subscripts resolved against each
    variable's dimensions, builtins onto the IR's functions."""
    def fix(node):
        if isinstance(node, ir.Ref):
            return resolve_ref(node, ctx)
        if isinstance(node, ir.Call):
            return _builtin(node, ctx)
        return node
    return _bind_ranges(ir.map_expr(e, fix), ctx)


def _bind_ranges(e: ir.Expr, ctx: Context) -> ir.Expr:
    """A range or '*' ('!' by now) outside an array function is read element by element
    along the equation's dimension (`range_onto`); inside one it is reduced over."""
    def outside(node):
        stack = [node]
        while stack:
            n = stack.pop()
            if isinstance(n, ir.Call) and n.func in ARRAY:
                continue
            if isinstance(n, ir.Ref) and any(s.endswith("!") for s in n.subscripts):
                return True
            stack.extend(ir.children(n))
        return False

    def bind(node):
        if not outside(node):
            return node
        if isinstance(node, ir.Ref):
            return ir.Ref(node.name, tuple(range_onto(s[:-1], node, ctx) if s.endswith("!") else s
                                           for s in node.subscripts), node.pos)
        return ir.with_children(node, [bind(k) for k in ir.children(node)])
    return bind(e)
