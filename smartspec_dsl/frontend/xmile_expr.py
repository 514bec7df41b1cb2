"""XMILE equations: text -> parse tree (grammars/xmile_expr.lark) -> model IR
expressions, with XMILE's builtins rewritten onto the IR's (Vensim's) functions.

XMILE's builtins follow the OASIS XMILE 1.0 standard, section 3.5; where they
differ from Vensim's the rewrite keeps XMILE's meaning: optional initial values
default to the input (DELAY, DELAYn, SMTHn) or to 0 (TREND, FORCST); PULSE is
(volume, first time, interval) and moves `volume` in one DT; INT rounds down;
SAFEDIV(a, b, x) is Vensim's XIDZ; INIT is INITIAL; MIN and MAX of one array
are Vensim's VMIN and VMAX; SUM, MEAN, SIZE and STDDEV reduce over an array's
'*' dimensions; RANDOM, NORMAL, EXPRND and POISSON are the RANDOM functions with
XMILE's arguments; SELF is the equation's own variable; a call of one of the
file's macros keeps its name (passes/macros.py expands it), its left-out
parameters given their defaults.

Arrays (section 3.7.1): a subscript computed when the model runs (`x[i + 1]`,
`x[i]` for a scalar i) is an element pick, Vensim's VECTOR ELM MAP, 0 outside
the dimension; `Dim.elem` outside brackets is the element's position; the
transposition ' and `@n` positions bind by dimension name.
"""
from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field

import lark
from lark import v_args

from .. import ir
from ..errors import ModelError, SourcePos, SyntaxErrorInModel, UnsupportedFeature
from .expr_rules import ExprRules
from .grammar import grammar_path


@functools.lru_cache(maxsize=None)
def parser() -> lark.Lark:
    """The LALR parser of grammars/xmile_expr.lark (beside the Vensim grammar)."""
    path = grammar_path().parent / "xmile_expr.lark"
    if not path.is_file():
        raise FileNotFoundError("xmile_expr.lark not found; the installation is incomplete")
    return lark.Lark(path.read_text(encoding="utf-8"), parser="lalr", lexer="contextual",
                     propagate_positions=True, maybe_placeholders=False)


def _unescape(text: str) -> str:
    """XMILE's escapes in names: \\n is a line break (read as a space), \\\\ and \\"
    the characters themselves."""
    return re.sub(r"\\(.)", lambda m: " " if m.group(1) == "n" else m.group(1), text)


def xmile_name(text: str) -> str:
    """The canonical IR name of an XMILE name: quotes and escapes removed, a
    written newline or underscore read as a space, case ignored."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    return ir.canonical_name(_unescape(text))


def display_name(text: str) -> str:
    """The name as the modeller reads it: XMILE's escapes resolved, underscores as spaces."""
    return re.sub(r"\s+", " ", _unescape(text).replace("_", " ")).strip()


# ---- text -> raw expression -------------------------------------------------------

# Subscript markers in a raw Ref, resolved against the referenced variable's dimensions.
WILDCARD = "*"
INDEX = "#"       # '#2': the second element of that position's dimension
COMPUTED = "?"    # a position given by an expression, an argument of COMPUTED_INDEX
COMPUTED_INDEX = "@XMILE INDEX"
POSITION = "@"    # '@1': the first dimension of the equation's own variable
TRANSPOSE = "@XMILE TRANSPOSE"


@v_args(meta=True)
class _ToExpr(ExprRules):
    def __init__(self, where):
        super().__init__()
        self.where = where

    def _pos(self, meta) -> SourcePos:
        return self.where(getattr(meta, "line", 1), getattr(meta, "column", 1))

    def name(self, meta, children):
        return str(children[0])

    def number(self, meta, children):
        return ir.Num(float(children[0]))

    def wildcard(self, meta, children):
        return WILDCARD

    def dimension_position(self, meta, children):
        # '@2': the second dimension of the equation's own variable (section 3.7.1.1)
        return POSITION + str(int(float(children[0])))

    def transpose(self, meta, children):
        return ir.Call(TRANSPOSE, (children[0],), self._pos(meta))

    def dimension_wildcard(self, meta, children):
        # '*:SubA' (as converters write Vensim's SubA!): every element of that dimension
        return WILDCARD + ":" + xmile_name(children[0])

    def subscripts(self, meta, children):
        out = []
        for c in children:
            if c == WILDCARD or (isinstance(c, str) and c.startswith((WILDCARD + ":", POSITION))):
                out.append(c)
            elif isinstance(c, ir.Num) and c.value == int(c.value) and c.value >= 1:
                out.append(f"{INDEX}{int(c.value)}")
            elif isinstance(c, ir.Ref) and not c.subscripts:
                # 'Dim.elem' names an element of a dimension (or a variable: see _resolve_ref)
                out.append(c.name.rsplit(".", 1)[-1])
            else:
                out.append(c)   # a position computed when the model runs (XMILE 1.0, 3.7.1)
        return tuple(out)

    def reference(self, meta, children):
        subs = children[1] if len(children) > 1 else ()
        pos = self._pos(meta)
        computed = [s for s in subs if not isinstance(s, str)]
        if not computed:
            return ir.Ref(xmile_name(children[0]), subs, pos)
        # x[i + 1, b]: the computed positions travel as the arguments of a COMPUTED_INDEX
        # call (translated like any expression), the reference keeps a marker in their place
        marked = tuple(s if isinstance(s, str) else COMPUTED for s in subs)
        return ir.Call(COMPUTED_INDEX, (ir.Ref(xmile_name(children[0]), marked, pos), *computed), pos)

    def call(self, meta, children):
        return ir.Call(children[0].strip('"').upper(), tuple(children[1:]), self._pos(meta))

    def binary(self, meta, children):
        left, op, right = children
        op = str(op.children[0]) if isinstance(op, lark.Tree) else str(op)
        op = op.upper()
        if op == "MOD":
            return ir.Call("MODULO", (left, right), self._pos(meta))
        return ir.BinOp(op, left, right)

    def if_then_else(self, meta, children):
        return ir.Call("IF THEN ELSE", (children[1], children[3], children[5]), self._pos(meta))


def parse_equation(text: str, start: SourcePos, variable: str) -> ir.Expr:
    """Parse one <eqn>; `start` is where its text begins in the file. Raises
    SyntaxErrorInModel located in the file and naming `variable`."""
    def where(line: int, col: int) -> SourcePos:
        if line <= 1:
            return SourcePos(start.file, start.line, start.column + col - 1)
        return SourcePos(start.file, start.line + line - 1, col)

    if not text.strip():
        raise ModelError(f"{start}: '{variable}' has an empty equation")
    try:
        tree = parser().parse(text)
    except lark.exceptions.UnexpectedInput as err:
        line, col = err.line, err.column
        if line is None or line < 1:
            line, col = text.count("\n") + 1, len(text.rsplit("\n", 1)[-1]) + 1
        hint = ""
        if isinstance(err, lark.exceptions.UnexpectedToken):
            found = "end of equation" if err.token.type == "$END" else str(err.token)
            before = (getattr(err, "token_history", None) or [None])[-1]
            if err.token.type == "NAME" and before is not None and before.type == "NAME":
                hint = (f"; '{before} {found}' is two names: XMILE writes a name's spaces as "
                        "underscores, or quotes the name")
        else:
            found = text[err.pos_in_stream: err.pos_in_stream + 1]
        raise SyntaxErrorInModel(f"{where(line, col)}: syntax error in the equation of '{variable}': "
                                 f"unexpected '{found}' in: {' '.join(text.split())[:120]}{hint}") from None
    try:
        return _ToExpr(where).transform(tree)
    except lark.exceptions.VisitError as err:
        if isinstance(err.orig_exc, ModelError):
            raise err.orig_exc from None
        raise


# ---- raw expression -> IR: names, subscripts and builtins -------------------------------

# XMILE names of the simulation's clock and controls -> the IR's names
CLOCK = {"time": ir.TIME, "dt": "time step", "starttime": "initial time", "stoptime": "final time"}

SAME = {"ABS", "EXP", "LN", "SQRT", "SIN", "COS", "TAN", "ARCSIN", "ARCCOS", "ARCTAN", "SINH",
        "COSH", "TANH", "STEP", "IF THEN ELSE", "MODULO"}
BIG = 1e300


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


def _n(x: float) -> ir.Num:
    return ir.Num(float(x))


def _ref(name: str, pos=None) -> ir.Ref:
    return ir.Ref(name, (), pos)


def _args(c: ir.Call, lo: int, hi: int, ctx: Context) -> tuple:
    if not lo <= len(c.args) <= hi:
        want = str(lo) if lo == hi else f"{lo} to {hi}"
        raise ModelError(f"{c.pos}: {c.func} takes {want} arguments, got {len(c.args)} "
                         f"(in the equation of '{ctx.owner}')")
    return c.args


def _whole(e: ir.Expr, ctx: Context) -> ir.Expr:
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


def _pulse(c: ir.Call, ctx: Context) -> ir.Expr:
    a = _args(c, 1, 3, ctx)
    pos, dt, t = c.pos, _ref("time step"), _ref(ir.TIME)
    volume = a[0]
    first = a[1] if len(a) > 1 else _ref("initial time")
    interval = a[2] if len(a) > 2 else _n(0)
    # one DT wide, centred on each pulse time so float steps cannot miss it
    single = ir.Call("PULSE", (first, _n(0)), pos)
    mid = ir.BinOp("-", ir.BinOp("+", t, ir.BinOp("/", dt, _n(2))), first)
    train = ir.Call("IF THEN ELSE", (
        ir.BinOp("and", ir.BinOp(">", mid, _n(0)),
                 ir.BinOp("<", ir.Call("MODULO", (mid, interval), pos), dt)), _n(1), _n(0)), pos)
    which = single if isinstance(interval, ir.Num) and interval.value <= 0 else \
        ir.Call("IF THEN ELSE", (ir.BinOp(">", interval, _n(0)), train, single), pos)
    return ir.BinOp("*", ir.BinOp("/", volume, dt), which)


def _trend(inp, avg_time, init, pos) -> ir.Expr:
    """XMILE TREND: (input - average) / (average * averaging time), the average
    a first-order smooth started at input / (1 + initial * averaging time)."""
    start = ir.BinOp("/", inp, ir.BinOp("+", _n(1), ir.BinOp("*", init, avg_time)))
    average = ir.Call("SMOOTHI", (inp, avg_time, start), pos)
    return ir.Call("ZIDZ", (ir.BinOp("-", inp, average), ir.BinOp("*", average, avg_time)), pos)


# XMILE 1.0's statistical functions (section 3.5.5) each draw anew every DT; the
# optional seed is our seed argument (0: the run's own stream). LOGNORMAL is left out:
# the standard does not say whether its mean and standard deviation are the
# distribution's or its logarithm's, and Stella's examples (LOGNORMAL(0, 1)) read
# as the logarithm's. Stella's further distributions are not mapped yet.
STATISTICAL = {"RANDOM", "UNIFORM", "NORMAL", "EXPRND", "POISSON"}
NOT_YET = {"LOGNORMAL", "TRIANGULAR", "GAMMA", "BETA", "WEIBULL", "BINOMIAL", "NEGBINOMIAL", "GEOMETRIC",
           "LOGISTIC", "PARETO", "INVNORM", "NORMALCDF", "MONTECARLO", "GAMMALN", "COMBINATIONS",
           "PERMUTATIONS", "FACT", "RANK"}


TABLE_FUNCTIONS = {"LOOKUPINV": "LOOKUP INVERT", "LOOKUP INVERT": "LOOKUP INVERT",
                   "LOOKUP AREA": "LOOKUP AREA", "LOOKUP FORWARD": "LOOKUP FORWARD",
                   "LOOKUP BACKWARD": "LOOKUP BACKWARD"}


def _random(c: ir.Call, ctx: Context) -> ir.Expr:
    f, pos = c.func, c.pos
    if f in ("RANDOM", "UNIFORM"):  # RANDOM(min, max[, seed]): uniform on [min, max]
        a = _args(c, 2, 3, ctx)
        return ir.Call("RANDOM UNIFORM", (a[0], a[1], a[2] if len(a) > 2 else _n(0)), pos)
    if f == "NORMAL":  # NORMAL(mean, standard deviation[, seed])
        a = _args(c, 2, 3, ctx)
        return ir.Call("RANDOM NORMAL", (_n(-BIG), _n(BIG), a[0], a[1], a[2] if len(a) > 2 else _n(0)), pos)
    a = _args(c, 1, 2, ctx)
    seed = a[1] if len(a) > 1 else _n(0)
    if f == "POISSON":  # POISSON(mean[, seed]): whole numbers 0, 1, 2, ...
        return ir.Call("RANDOM POISSON", (_n(0), _n(BIG), a[0], _n(0), _n(1), seed), pos)
    # EXPRND(mean[, seed]): exponential of that mean
    return ir.Call("RANDOM EXPONENTIAL", (_n(0), _n(BIG), _n(0), a[0], seed), pos)


def _stddev(x: ir.Expr, ctx: Context, pos) -> ir.Expr:
    """STDDEV of an array's elements, taken as the whole population (divided by n):
    sqrt(mean of squares - square of the mean), never below 0 from rounding."""
    whole = _whole(x, ctx)
    n = _size(whole, ctx)
    mean = ir.BinOp("/", ir.Call("SUM", (whole,), pos), n)
    squares = ir.BinOp("/", ir.Call("SUM", (ir.BinOp("*", whole, whole),), pos), n)
    return ir.Call("SQRT", (ir.Call("MAX", (_n(0), ir.BinOp("-", squares, ir.BinOp("*", mean, mean))), pos),), pos)


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
    if f == TRANSPOSE:
        return _transpose(c.args[0], ctx, pos)
    if f == COMPUTED_INDEX:
        ref, *positions = c.args
        return _computed_index(ref, positions, ctx)
    if f in SAME:
        return c
    if f in ("MIN", "MAX"):
        a = _args(c, 1, 2, ctx)
        if len(a) == 1:
            return ir.Call("V" + f, (_whole(a[0], ctx),), pos)
        return c
    if f == "SAFEDIV":
        a = _args(c, 2, 3, ctx)
        return ir.Call("XIDZ", a, pos) if len(a) == 3 else ir.Call("ZIDZ", a, pos)
    if f == "INT":
        (x,) = _args(c, 1, 1, ctx)  # XMILE's INT rounds down; Vensim's INTEGER truncates
        trunc = ir.Call("INTEGER", (x,), pos)
        return ir.Call("IF THEN ELSE", (ir.BinOp(">", trunc, x), ir.BinOp("-", trunc, _n(1)), trunc), pos)
    if f == "LOG10":
        (x,) = _args(c, 1, 1, ctx)
        return ir.Call("LOG", (x, _n(10)), pos)
    if f == "PI":
        _args(c, 0, 0, ctx)
        return _n(math.pi)
    if f == "RAMP":
        a = _args(c, 2, 3, ctx)
        return ir.Call("RAMP", (a[0], a[1], a[2] if len(a) > 2 else _n(BIG)), pos)
    if f == "STEP":
        return ir.Call("STEP", _args(c, 2, 2, ctx), pos)
    if f == "PULSE":
        return _pulse(c, ctx)
    if f in ("INIT", "INITIAL"):
        return ir.Call("INITIAL", _args(c, 1, 1, ctx), pos)
    if f == "PREVIOUS":
        a = _args(c, 1, 2, ctx)  # last DT's value: a pipeline one DT long
        return ir.Call("DELAY FIXED", (a[0], _ref("time step"), a[1] if len(a) > 1 else a[0]), pos)
    if f == "DELAY":
        a = _args(c, 2, 3, ctx)
        return ir.Call("DELAY FIXED", (a[0], a[1], a[2] if len(a) > 2 else a[0]), pos)
    if f in ("DELAY1", "DELAY3", "SMTH1", "SMTH3"):
        a = _args(c, 2, 3, ctx)
        base = {"DELAY1": "DELAY1", "DELAY3": "DELAY3", "SMTH1": "SMOOTH", "SMTH3": "SMOOTH3"}[f]
        return ir.Call(base + ("I" if len(a) == 3 else ""), a, pos)
    if f in ("DELAYN", "SMTHN"):
        a = _args(c, 3, 4, ctx)
        init = a[3] if len(a) > 3 else a[0]
        return ir.Call("DELAY N" if f == "DELAYN" else "SMOOTH N", (a[0], a[1], init, a[2]), pos)
    if f == "TREND":
        a = _args(c, 2, 3, ctx)
        return _trend(a[0], a[1], a[2] if len(a) > 2 else _n(0), pos)
    if f == "FORCST":
        a = _args(c, 3, 4, ctx)
        trend = _trend(a[0], a[1], a[3] if len(a) > 3 else _n(0), pos)
        return ir.BinOp("*", a[0], ir.BinOp("+", _n(1), ir.BinOp("*", trend, a[2])))
    if f == "NPV":
        a = _args(c, 2, 4, ctx)
        return ir.Call("NPV", (a[0], a[1], a[2] if len(a) > 2 else _n(0), a[3] if len(a) > 3 else _n(1)), pos)
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
    if f == "STDDEV":
        (x,) = _args(c, 1, 1, ctx)
        return _stddev(x, ctx, pos)
    if f in ("SUM", "PROD"):
        (x,) = _args(c, 1, 1, ctx)
        return ir.Call(f, (_whole(x, ctx),), pos)
    if f == "MEAN":
        a = _args(c, 1, 1000, ctx)
        if len(a) > 1:  # MEAN of several values
            total = a[0]
            for x in a[1:]:
                total = ir.BinOp("+", total, x)
            return ir.BinOp("/", total, _n(len(a)))
        whole = _whole(a[0], ctx)
        return ir.BinOp("/", ir.Call("SUM", (whole,), pos), _size(whole, ctx))
    if f == "SIZE":
        (x,) = _args(c, 1, 1, ctx)
        return _n(_count(x, ctx, pos))
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


def _count(x: ir.Expr, ctx: Context, pos) -> int:
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


def _size(whole: ir.Expr, ctx: Context) -> ir.Expr:
    """How many values a reduction over `whole` takes: its '!' dimensions' sizes multiplied."""
    reduced = {s[:-1] for node in ir.walk(whole) if isinstance(node, ir.Ref)
               for s in node.subscripts if s.endswith("!")}
    n = 1
    for d in reduced:
        n *= len(ctx.dims.get(d, ()))
    return _n(n)


def translate(e: ir.Expr, ctx: Context) -> ir.Expr:
    """Rewrite a raw expression: clock names, subscripts resolved against each
    variable's dimensions, builtins onto the IR's functions."""
    def fix(node):
        if isinstance(node, ir.Ref):
            return _resolve_ref(node, ctx)
        if isinstance(node, ir.Call):
            return _builtin(node, ctx)
        return node
    return ir.map_expr(e, fix)


def _resolve_ref(r: ir.Ref, ctx: Context) -> ir.Expr:
    if r.name not in ctx.var_dims:
        if r.name in CLOCK and not r.subscripts:
            return ir.Ref(CLOCK[r.name], (), r.pos)
        if r.name == "self" and ctx.owner_name:   # XMILE 1.0, 3.5.6: the variable itself
            return ir.Ref(ctx.owner_name, r.subscripts or tuple(ctx.owner_dims), r.pos)
        head, _, tail = r.name.rpartition(".")
        if head in ctx.dims and tail in ctx.dims[head] and not r.subscripts:
            # 'Location.Boston' outside brackets: the element's position (XMILE 1.0, 3.7.1)
            return _n(ctx.dims[head].index(tail) + 1)
        if r.name == "pi" and not r.subscripts:
            return _n(math.pi)
        if r.name == "inf" and not r.subscripts:
            return _n(math.inf)
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
    return _computed_index(out, [], ctx) if computed and COMPUTED not in r.subscripts else out


def _distinct_dimension(dims: tuple[str, ...], k: int, pos, ctx: Context) -> str:
    """Dimension k of `dims`, which binds by its name: refused when the name is there twice
    (a square matrix: which place is which needs positions, which the IR binds by name)."""
    if dims.count(dims[k]) > 1:
        raise UnsupportedFeature(f"{pos}: dimension '{dims[k]}' is used twice, so its places cannot be "
                                 f"told apart: not supported (in the equation of '{ctx.owner}')")
    return dims[k]


def _transpose(x: ir.Expr, ctx: Context, pos) -> ir.Expr:
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


def _computed_index(ref: ir.Ref, positions: list[ir.Expr], ctx: Context) -> ir.Expr:
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
        term = ir.BinOp("-", at, _n(1))
        term = ir.BinOp("*", term, _n(stride)) if stride != 1 else term
        offset = term if offset is None else ir.BinOp("+", offset, term)
    pick = ir.Call("VECTOR ELM MAP", (ir.Ref(ref.name, tuple(base), ref.pos), offset), ref.pos)
    # a position outside its dimension gives 0 (XMILE 1.0, 3.7.1), or NaN when the file's
    # <uses_arrays invalid_index_value="NaN"> says so (2.2.1); never Vensim's :NA:
    inside = None
    for at, dim in checks:
        ok = ir.BinOp("and", ir.BinOp(">=", at, _n(0.5)), ir.BinOp("<", at, _n(len(ctx.dims[dim]) + 0.5)))
        inside = ok if inside is None else ir.BinOp("and", inside, ok)
    return ir.Call("IF THEN ELSE", (inside, pick, _n(ctx.invalid_index)), ref.pos)
