"""Functions of a data variable's series (Vensim help, "Data Functions"): GET DATA
FIRST/LAST TIME, TOTAL POINTS, MAX/MIN/MEAN, BETWEEN TIMES, AT TIME, and the data
equations TIME SHIFT, CUMULATE and CUMULATEF, read from the series' lookup table."""
from __future__ import annotations

import itertools
import math

from ... import ir
from ...errors import ModelError, UnsupportedFeature
from ...frontend.external import RAW_MATCH
from ...ir.ranges import SubscriptSpace
from ..elements import element_equation
from ..flat_exprs import combine, flat_name
from .base import BinOp, Call, Lowering, Num, Ref, add, div


def _at(e: ir.Expr, when: ir.Expr) -> ir.Expr:
    """`e` with Time replaced by `when`."""
    return ir.map_expr(e, lambda n: when if isinstance(n, Ref) and n.name == ir.TIME and not n.subscripts else n)


def data_series(lw: Lowering, arg) -> tuple[str, str, ir.Expr | None] | None:
    """The lookup table (of Time) behind a data variable (or one element of an array of
    them), how the variable reads it, and for :RAW: data its test of Time being on one
    of its points (frontend/external.py writes each keyword's equation)."""
    if not isinstance(arg, Ref) or arg.name not in lw.model.variables:
        return None
    e = element_equation(lw.model.variables[arg.name], arg.subscripts, SubscriptSpace(lw.model.subscript_ranges))
    time = Ref(ir.TIME)
    on_point = None
    if isinstance(e, ir.LookupCall) and e.arg == time:
        table, how = e.table, "interpolate"
    elif (isinstance(e, Call) and e.func in ("LOOKUP FORWARD", "LOOKUP BACKWARD")
          and isinstance(e.args[0], Ref) and e.args[1] == time):
        table, how = e.args[0].name, "forward" if e.func == "LOOKUP FORWARD" else "backward"
    elif (isinstance(e, Call) and e.func == "IF THEN ELSE" and e.args[2] == Num(ir.NA_VALUE)
          and isinstance(e.args[1], Call) and e.args[1].func == "LOOKUP BACKWARD"
          and isinstance(e.args[1].args[0], Ref) and e.args[1].args[1] == time):
        table, how, on_point = e.args[1].args[0].name, "raw", e.args[0]     # :RAW:
    else:
        return None
    var = lw.model.variables.get(table)
    # resolve_external's series tables are hidden; a lookup of Time the modeller wrote is not data
    if var is None or not var.hidden or var.lookup is None or not var.lookup.xs:
        return None
    return table, how, on_point


def data_equation_series(lw: Lowering, arg) -> tuple[tuple[float, ...], object] | None:
    """A data equation's variable (passes/data_equations.py gave it its points, "#data times",
    and its equation, a function of Time): (its points, its value at a time `when`, as a
    function of `when`: its own equation with Time replaced, the helpers that hold its value
    at the points around inlined). At one of its points that is the point's value, whatever
    its keyword; None for anything else."""
    if not isinstance(arg, Ref):
        return None
    name = flat_name(arg.name, arg.subscripts) if arg.subscripts else arg.name
    times, var = lw.model.variables.get(f"{name} #data times"), lw.model.variables.get(name)
    if times is None or times.lookup is None or var is None or var.expr is None:
        return None
    helpers = {f"{name} #at last point", f"{name} #at next point"}

    def inline(n):
        if isinstance(n, Ref) and n.name in helpers and not n.subscripts:
            return lw.model.variables[n.name].expr
        return n
    body = ir.map_expr(var.expr, inline)
    return tuple(times.lookup.xs), lambda when: _at(body, when)


def _equation_at(lw: Lowering, owner, node: Call, xs, value) -> ir.Expr:
    """GET DATA BETWEEN TIMES and GET DATA AT TIME of a data equation's variable (points `xs`,
    `value(when)` its value at a time): as of data read from a file, with its points' values
    in place of a table's (data_at)."""
    f, a, pos = node.func, node.args, node.pos
    t = lw.shared(owner, a[1], pos)
    times = Ref(f"{flat_name(a[0].name, a[0].subscripts) if a[0].subscripts else a[0].name} #data times", (), pos)
    if f == "GET DATA AT TIME":
        result = value(t)
    else:
        back, fwd = Call("LOOKUP BACKWARD", (times, t), pos), Call("LOOKUP FORWARD", (times, t), pos)
        vb, vf = value(back), value(fwd)
        span = BinOp("-", fwd, back)
        line = Call("IF THEN ELSE", (BinOp(">", span, Num(0.0)),
                                     add(vb, div(BinOp("*", BinOp("-", vf, vb), BinOp("-", t, back)), span)), vb), pos)
        mode = a[2]
        result = Call("IF THEN ELSE", (BinOp(">=", mode, Num(1.0)), vf, Call(
            "IF THEN ELSE", (BinOp("<=", mode, Num(-1.0)), vb, line), pos)), pos)
    outside = BinOp("or", BinOp("<", t, Num(xs[0])), BinOp(">", t, Num(xs[-1])))
    return Call("IF THEN ELSE", (outside, Num(ir.NA_VALUE), result), pos)


def _equation_keyword(lw: Lowering, name: str) -> str:
    """How a data equation's variable reads between its points, from the equation
    passes/data_equations.py wrote for its keyword: a straight line (its helpers holding the
    values at the points around), :RAW: (:NA: off its points), the next point's value or the
    last one's."""
    var = lw.model.variables[name]
    if f"{name} #at last point" in lw.model.variables:
        return "interpolate"
    e = var.expr
    if isinstance(e, Call) and e.func == "IF THEN ELSE" and e.args[2] == Num(ir.NA_VALUE):
        return "raw"
    forward = any(isinstance(n, Call) and n.func == "LOOKUP FORWARD" for n in ir.walk(e))
    return "forward" if forward else "backward"


def _equation_cumulate(lw: Lowering, node: Call, xs, at_time) -> ir.Expr:
    """CUMULATE of a data equation's variable: the running sum of its points' values read as
    the variable is between them, held beyond its ends (as of file data, data_function). The
    sum at a point p is the sum of the values at the points up to p, an expression of the
    model's constants and data."""
    a, pos = node.args, node.pos
    name = flat_name(a[0].name, a[0].subscripts) if a[0].subscripts else a[0].name
    times = Ref(f"{name} #data times", (), pos)
    ys = [at_time(Num(x)) for x in xs]

    def total(p):
        return combine("+", [Call("IF THEN ELSE", (BinOp("<=", Num(x), p), y, Num(0.0)), pos)
                             for x, y in zip(xs, ys)], pos)
    t = Call("MIN", (Call("MAX", (Ref(ir.TIME, (), pos), Num(xs[0])), pos), Num(xs[-1])), pos)
    back, fwd = Call("LOOKUP BACKWARD", (times, t), pos), Call("LOOKUP FORWARD", (times, t), pos)
    how = _equation_keyword(lw, name)
    if how == "forward":
        return total(fwd)
    if how == "backward":
        return total(back)
    if how == "raw":
        on_point = BinOp("<=", Call("ABS", (BinOp("-", Ref(ir.TIME, (), pos), back),), pos),
                         BinOp("*", Num(RAW_MATCH), Ref("time step", (), pos)))
        return Call("IF THEN ELSE", (on_point, total(back), Num(ir.NA_VALUE)), pos)
    sb, sf, span = total(back), total(fwd), BinOp("-", fwd, back)
    line = add(sb, div(BinOp("*", BinOp("-", sf, sb), BinOp("-", t, back)), span))
    return Call("IF THEN ELSE", (BinOp(">", span, Num(0.0)), line, sb), pos)


def _not_a_series(lw: Lowering, node: Call) -> None:
    """A data equation's variable whose series cannot be read (one with points but no
    equation): said, located, instead of the :NA: of an argument that is not data."""
    arg = node.args[0]
    if isinstance(arg, Ref):
        name = flat_name(arg.name, arg.subscripts) if arg.subscripts else arg.name
        if f"{name} #data times" in lw.model.variables:
            raise UnsupportedFeature(f"{node.pos}: {node.func} of a data equation's variable "
                                     f"('{lw.model.variables[arg.name].display}') is not supported by "
                                     "smartspec yet (of data read from a file it is)")


def _reader(table: str, how: str, on_point, pos):
    """How the data variable reads its table at time `t`, as its keyword says."""
    def read(t):
        if how == "forward":
            return Call("LOOKUP FORWARD", (Ref(table, (), pos), t), pos)
        if how == "backward":
            return Call("LOOKUP BACKWARD", (Ref(table, (), pos), t), pos)
        if how == "raw":
            return Call("IF THEN ELSE", (_at(on_point, t), Call("LOOKUP BACKWARD", (Ref(table, (), pos), t), pos),
                                         Num(ir.NA_VALUE)), pos)
        return ir.LookupCall(table, t, pos)
    return read


def data_at(lw: Lowering, owner, node: Call) -> ir.Expr:
    """GET DATA BETWEEN TIMES(data, time, mode) and GET DATA AT TIME(data, time):
    a data variable's series read at another time, :NA: before its first or
    after its last point, and :NA: if the argument is not a data variable.
    Mode 0 interpolates, 1 (or more) looks forward, -1 (or less) holds backward;
    GET DATA AT TIME reads the variable as its own keyword says. Of a data equation's
    variable, between its points' values (_equation_at)."""
    f, a, pos = node.func, node.args, node.pos
    series = data_series(lw, a[0])
    if series is None:
        derived = data_equation_series(lw, a[0])
        return Num(ir.NA_VALUE) if derived is None else _equation_at(lw, owner, node, *derived)
    table, own, on_point = series
    t = lw.shared(owner, a[1], pos)
    forward = Call("LOOKUP FORWARD", (Ref(table, (), pos), t), pos)
    backward = Call("LOOKUP BACKWARD", (Ref(table, (), pos), t), pos)
    interpolated = ir.LookupCall(table, t, pos)
    if f == "GET DATA AT TIME":
        value = _reader(table, own, on_point, pos)(t)
    else:
        mode = a[2]
        value = Call("IF THEN ELSE", (BinOp(">=", mode, Num(1.0)), forward, Call(
            "IF THEN ELSE", (BinOp("<=", mode, Num(-1.0)), backward, interpolated), pos)), pos)
    xs = lw.model.variables[table].lookup.xs
    outside = BinOp("or", BinOp("<", t, Num(xs[0])), BinOp(">", t, Num(xs[-1])))
    return Call("IF THEN ELSE", (outside, Num(ir.NA_VALUE), value), pos)


def data_function(lw: Lowering, owner, node: Call) -> ir.Expr:
    """Vensim's functions of a data variable's series (help, "Data Functions"):
    GET DATA FIRST TIME / LAST TIME / TOTAL POINTS (the series' first and last time and
    its number of points), GET DATA MAX / MIN / MEAN(data, start, end) over the points
    from start to end inclusive (:NA: when there are none), and the data equations
    TIME SHIFT(data, shift) (the value `shift` later: data at Time + shift), CUMULATE
    (the running sum of the points, read as the data are) and CUMULATEF (only the final
    sum, at the last point's time). A data equation's variable (`x := ...`) is data too: its
    points are passes/data_equations.py's and its values there its own equation's
    (data_equation_series), CUMULATE's sums read as it is (_equation_cumulate). A non-data argument gives
    :NA: for the GET DATA functions, as the help says, and is an error for the others."""
    f, a, pos = node.func, node.args, node.pos
    series = data_series(lw, a[0])
    derived = data_equation_series(lw, a[0]) if series is None else None
    if series is None and derived is None:
        _not_a_series(lw, node)
        if f.startswith("GET DATA"):
            return Num(ir.NA_VALUE)
        raise ModelError(f"{pos}: {f} works on a data variable (one read from a file or "
                         "defined with ':='), which its first argument is not")
    time = Ref(ir.TIME, (), pos)
    if derived is not None:
        # a data equation's variable: its points, and its values there (expressions of the
        # model's constants and data, read at each point)
        xs, at_time = derived
        ys = [at_time(Num(x)) for x in xs]
        if f == "TIME SHIFT":
            return at_time(add(time, a[1]))
        if f == "CUMULATEF":
            return combine("+", ys, pos)
        if f == "CUMULATE":
            return _equation_cumulate(lw, node, xs, at_time)
    else:
        table, how, on_point = series
        xs, ys = lw.model.variables[table].lookup.xs, lw.model.variables[table].lookup.ys
        read = lambda name, t: _reader(name, how, on_point, pos)(t)
    if f == "GET DATA FIRST TIME":
        return Num(xs[0])
    if f == "GET DATA LAST TIME":
        return Num(xs[-1])
    if f == "GET DATA TOTAL POINTS":
        return Num(float(len(xs)))
    if f == "TIME SHIFT":
        return read(table, add(time, a[1]))
    if f in ("CUMULATE", "CUMULATEF"):
        sums = list(itertools.accumulate(ys))
        if f == "CUMULATEF":
            return Num(sums[-1])
        name = lw.fresh(owner, "cumulate")
        lw.new[name] = ir.Variable(name, lw.shown(owner, pos), ir.Kind.LOOKUP,
                                   lookup=ir.LookupTable(tuple(xs), tuple(sums)), pos=pos, hidden=True)
        # the sums are held beyond the series' ends, as a lookup holds its end values: Time
        # clamped to them reads the same, and leaves the range check to the data variable's
        # own equation (a warning about this internal table would name nothing the modeller wrote)
        held = Call("MIN", (Call("MAX", (time, Num(xs[0])), pos), Num(xs[-1])), pos)
        return read(name, held)
    start, end = lw.shared(owner, a[1], pos), lw.shared(owner, a[2], pos)
    inside = [BinOp("and", BinOp(">=", Num(x), start), BinOp("<=", Num(x), end)) for x in xs]
    pick = lambda c, y, other: Call("IF THEN ELSE", (c, y if isinstance(y, ir.Expr) else Num(y), Num(other)), pos)
    count = combine("+", [pick(c, 1.0, 0.0) for c in inside], pos)
    if f == "GET DATA MAX":
        value = combine("MAX", [pick(c, y, -math.inf) for c, y in zip(inside, ys)], pos)
    elif f == "GET DATA MIN":
        value = combine("MIN", [pick(c, y, math.inf) for c, y in zip(inside, ys)], pos)
    else:
        value = div(combine("+", [pick(c, y, 0.0) for c, y in zip(inside, ys)], pos), count)
    return Call("IF THEN ELSE", (BinOp("=", count, Num(0.0)), Num(ir.NA_VALUE), value), pos)


DATA_FUNCTIONS = {"GET DATA FIRST TIME", "GET DATA LAST TIME", "GET DATA TOTAL POINTS", "GET DATA MAX",
                  "GET DATA MIN", "GET DATA MEAN", "TIME SHIFT", "CUMULATE", "CUMULATEF"}

def x_if_missing(lw: Lowering, owner, node: Call) -> ir.Expr:
    """X IF MISSING anywhere but as the whole right-hand side of a data equation (which
    passes/data_equations.py computes): Vensim's help allows it nowhere else."""
    raise ModelError(f"{node.pos}: X IF MISSING must be the whole right-hand side of a data equation "
                     "(name := X IF MISSING(expression, number))")


LOWERINGS = {**{f: data_function for f in sorted(DATA_FUNCTIONS)},
             "X IF MISSING": x_if_missing,
             "GET DATA BETWEEN TIMES": data_at,
             "GET DATA AT TIME": data_at}
