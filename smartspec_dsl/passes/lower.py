"""Stateful lowering (and macro expansion, the pass before it; the order of
all passes is in pipeline.py). Stateful builtins become explicit stocks and
auxiliaries.

After this pass no expression calls a stateful function: every piece of
memory in the model is a stock (continuous, `s += dt * rate`) or a discrete
stock (`s = next`, updated once per step). The equations are Vensim's own
definitions of each function.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace

from .. import ir
from ..ir.builtins import check_call
from .consteval import constant_value, evaluate
from ..errors import ModelError, UnsupportedFeature
from .subscripts import combine

Num, Ref, Call, BinOp = ir.Num, ir.Ref, ir.Call, ir.BinOp

DT = Ref("time step")


def _add(a, b): return BinOp("+", a, b)
def _sub(a, b): return BinOp("-", a, b)
def _mul(a, b): return BinOp("*", a, b)
def _div(a, b): return BinOp("/", a, b)


# ---- structure read from the model's values ----------------------------------
# A stateful function's order (and a few other arguments) decides how many stocks
# and which equations it lowers to. Each such value is computed by a rule below
# from the constants at the initial time and recorded as an ir.Decision, so that
# a run with other constants can tell whether it needs the model lowered again.

def _order(value, expr, pos, f) -> int:
    try:
        x = value(expr)
    except (ModelError, ArithmeticError, ValueError, RecursionError):
        raise UnsupportedFeature(f"{pos}: {f} needs an order computable from constants at the "
                                 "initial time") from None
    if x > MAX_ORDER:
        raise ModelError(f"{pos}: {f} of order {x:g} would need as many stocks; smartspec accepts "
                         f"orders up to {MAX_ORDER:,}")
    if not x >= 1:
        raise ModelError(f"{pos}: {f}'s order must be at least 1, got {x:g}")
    return int(round(x))


def _delay_n_order(value, args, pos) -> tuple:
    """Vensim lowers DELAY N's order until each stage is at least one TIME STEP long."""
    order, delay, dt = args
    n = _order(value, order, pos, "DELAY N")
    try:
        stages = value(delay) / value(dt)
    except (ModelError, ArithmeticError):
        return (n,)  # a delay time known only during the run keeps the order
    return (max(1, min(n, int(stages + 1e-9))) if math.isfinite(stages) else n,)


def _get_time_value(value, args, pos) -> tuple:
    """GET TIME VALUE's relativeto and measure: only measure 0 (model time) is reproducible."""
    try:
        rel, meas = value(args[0]), value(args[1])
    except ModelError:
        raise UnsupportedFeature(f"{pos}: GET TIME VALUE needs its relativeto and measure "
                                 "computable from constants at the initial time") from None
    if meas != 0:
        raise UnsupportedFeature(f"{pos}: GET TIME VALUE with measure {meas:g} is not "
                                 "supported yet; only measure 0 (units of Time)")
    if rel == 2:
        raise UnsupportedFeature(f"{pos}: GET TIME VALUE relative to the computer clock "
                                 "(relativeto 2) is not supported: runs must be reproducible")
    if rel not in (0, 1):
        raise ModelError(f"{pos}: GET TIME VALUE's relativeto must be 0, 1 or 2, got {rel:g}")
    return (int(rel),)


def _sinteg_limits(value, args, pos) -> tuple:
    """SINTEG's min, max, quant, spec and thresh; None for :NA: (no limit)."""
    out = []
    for name, x in zip(("min", "max", "quant", "spec", "thresh"), args):
        try:
            v = value(x)
        except ModelError:
            raise UnsupportedFeature(f"{pos}: SINTEG's {name} must be a number or :NA:") from None
        out.append(None if v == ir.NA_VALUE else v)
    return tuple(out)


RULES = {
    "SMOOTH N order": lambda value, args, pos: (_order(value, args[0], pos, "SMOOTH N"),),
    "DELAY N order": _delay_n_order,
    "GET TIME VALUE": _get_time_value,
    "SINTEG": _sinteg_limits,
}


def decide(model: ir.Model, rule: str, args: tuple, pos, values: dict[str, float]) -> tuple:
    """RULES[rule] of `args`, evaluated at the initial time with `values` overriding
    the model's constants. Raises ModelError when the values give no valid structure."""
    t0 = constant_value(model, "initial time", values)
    return RULES[rule](lambda e: evaluate(model, e, values, t0), args, pos)


@dataclass
class _Lowering:
    model: ir.Model
    values: dict[str, float] = field(default_factory=dict)   # constants as a run sets them
    new: dict[str, ir.Variable] = field(default_factory=dict)
    counter: int = 0
    decisions: list[ir.Decision] = field(default_factory=list)
    function: str = ""          # the call being lowered, for the hidden variables' display
    levels: list = field(default_factory=list)   # the stocks of the last chain built

    def shown(self, owner: str, pos) -> str:
        """How messages name a hidden variable: the modeller's variable and the call."""
        var = self.model.variables.get(owner)
        where = f" at {pos.line}:{pos.column}" if pos is not None else ""
        return f"{var.display if var is not None else owner} ({self.function or 'a function'} call{where})"

    def fresh(self, owner: str, what: str) -> str:
        self.counter += 1
        name = f"{owner} #{what}{self.counter}"
        while name in self.model.variables or name in self.new:
            name += "'"
        return name

    def stock(self, owner, what, rate_of, initial, pos, discrete=False) -> Ref:
        """Add a hidden stock; `rate_of(ref)` builds its rate (or next value) from itself."""
        name = self.fresh(owner, what)
        ref = Ref(name, (), pos)
        self.new[name] = ir.Variable(name, self.shown(owner, pos), ir.Kind.STOCK, expr=rate_of(ref),
                                     initial=initial, pos=pos, hidden=True, discrete=discrete)
        return ref

    def aux(self, owner, what, expr, pos) -> Ref:
        name = self.fresh(owner, what)
        self.new[name] = ir.Variable(name, self.shown(owner, pos), ir.Kind.AUXILIARY, expr=expr, pos=pos,
                                     hidden=True)
        return Ref(name, (), pos)

    # -- the stateful functions ------------------------------------------------
    def chain(self, owner, what, inp, delay, init_each, n, pos, smooth: bool,
              travelling_times: bool = False) -> ir.Expr:
        """n first-order stages in series, each with time constant delay/n.

        A material delay's stage holds quantity (output = level/stage time);
        an information smooth's stage holds the smoothed value itself.
        With `travelling_times` (Vensim's DELAY N) each stage keeps the stage
        time that was current when the material entered it: stage k's time is
        stage k-1's time one step earlier."""
        stage_time = delay if n == 1 else _div(delay, Num(float(n)))
        stage_time = self.aux(owner, what + "time", stage_time, pos) if n > 1 else stage_time
        times = [stage_time]
        for k in range(1, n if travelling_times else 0):
            times.append(self.stock(owner, f"{what}time{k + 1}_", lambda s, prev=times[-1]: prev,
                                    stage_time, pos, discrete=True))
        times += [stage_time] * (n - len(times))
        signal = inp
        for k in range(n):
            tau = times[k]
            if smooth:
                level = self.stock(owner, f"{what}{k + 1}_",
                                   lambda s, x=signal, tau=tau: _div(_sub(x, s), tau), init_each, pos)
                signal = level
            else:
                level = self.stock(owner, f"{what}{k + 1}_",
                                   lambda s, x=signal, tau=tau: _sub(x, _div(s, tau)),
                                   _mul(init_each, tau), pos)
                signal = self.aux(owner, f"{what}{k + 1}out", _div(level, tau), pos)
            self.levels.append(level)
        return signal

    def delayp(self, owner, node: Call) -> ir.Expr:
        """DELAYP(input, delay time : pipeline): DELAY3, and the model variable `pipeline`
        holding what is in transit, the sum of its three levels (Vensim help, "DELAYP")."""
        a, pos = node.args, node.pos
        if len(node.outputs) != 1:
            raise ModelError(f"{pos}: DELAYP names its pipeline variable after ':', as in "
                             "DELAYP(input, delay time : pipeline)")
        self.levels = []
        out = self.chain(owner, "delay3", a[0], a[1], a[0], 3, pos, smooth=False)
        display = node.outputs[0]
        name = ir.canonical_name(display)
        if name in self.model.variables or name in self.new:
            raise ModelError(f"{pos}: '{display}' is defined twice: as the pipeline of this DELAYP "
                             "and elsewhere")
        self.new[name] = ir.Variable(name, display, ir.Kind.AUXILIARY, pos=pos,
                                     expr=_add(_add(self.levels[0], self.levels[1]), self.levels[2]))
        return out

    def lower_call(self, owner: str, node: Call) -> ir.Expr:
        f, a, pos = node.func, node.args, node.pos
        self.function = f
        if f == "DELAY1":
            return self.chain(owner, "delay1", a[0], a[1], a[0], 1, pos, smooth=False)
        if f == "DELAY1I":
            return self.chain(owner, "delay1", a[0], a[1], a[2], 1, pos, smooth=False)
        if f == "DELAY3":
            return self.chain(owner, "delay3", a[0], a[1], a[0], 3, pos, smooth=False)
        if f == "DELAYP":
            return self.delayp(owner, node)
        if f == "DELAY3I":
            return self.chain(owner, "delay3", a[0], a[1], a[2], 3, pos, smooth=False)
        if f == "DELAY N":
            n, = self.decide("DELAY N order", (a[3], a[1], DT), pos)
            return self.chain(owner, "delayn", a[0], a[1], a[2], n, pos, smooth=False,
                              travelling_times=True)
        if f == "SMOOTH":
            return self.chain(owner, "smooth", a[0], a[1], a[0], 1, pos, smooth=True)
        if f == "SMOOTHI":
            return self.chain(owner, "smooth", a[0], a[1], a[2], 1, pos, smooth=True)
        if f == "SMOOTH3":
            return self.chain(owner, "smooth3", a[0], a[1], a[0], 3, pos, smooth=True)
        if f == "SMOOTH3I":
            return self.chain(owner, "smooth3", a[0], a[1], a[2], 3, pos, smooth=True)
        if f == "SMOOTH N":
            n, = self.decide("SMOOTH N order", (a[3],), pos)
            return self.chain(owner, "smoothn", a[0], a[1], a[2], n, pos, smooth=True)
        if f in ("TREND", "FORECAST"):
            inp, avg_time = a[0], a[1]
            init = inp if f == "FORECAST" else _div(inp, _add(Num(1.0), _mul(a[2], avg_time)))
            average = self.stock(owner, "average", lambda s: _div(_sub(inp, s), avg_time), init, pos)
            if f == "TREND":  # Vensim divides by |average| here, and not in FORECAST
                return Call("ZIDZ", (_sub(inp, average), _mul(avg_time, Call("ABS", (average,), pos))), pos)
            trend = Call("ZIDZ", (_sub(inp, average), _mul(avg_time, average)), pos)
            return _mul(inp, _add(Num(1.0), _mul(trend, a[2])))
        if f in ("NPV", "NPVE"):
            # Vensim help, "NPV" and "NPVE": the same equations, but NPVE values the stream at
            # the end of each interval, so its discount factor starts at 1 / (1 + rate * TIME STEP)
            stream, rate, init, factor = a
            df0 = Num(1.0) if f == "NPV" else _div(Num(1.0), _add(Num(1.0), _mul(rate, DT)))
            df = self.stock(owner, "discount", lambda s: _sub(Num(0.0), _div(_mul(s, rate), _add(Num(1.0), _mul(rate, DT)))),
                            df0, pos)
            accum = self.stock(owner, "npv", lambda s: _mul(stream, df), init, pos)
            return _mul(_add(accum, _mul(_mul(stream, DT), df)), factor)
        if f == "INITIAL":
            return self.stock(owner, "initial", lambda s: s, a[0], pos, discrete=True)
        if f == "SAMPLE IF TRUE":
            cond, inp, init = a
            held = self.fresh(owner, "held")
            # Vensim treats the variable as a level: its own name in the arguments reads the held value
            cond, inp = (_rename(x, {owner: held}) for x in (cond, inp))
            out = self.aux(owner, "sample", Call("IF THEN ELSE", (cond, inp, Ref(held, (), pos)), pos), pos)
            self.new[held] = ir.Variable(held, self.shown(owner, pos), ir.Kind.STOCK, expr=out, initial=init, pos=pos,
                                         hidden=True, discrete=True)
            return out
        if f in ("DELAY FIXED", "DELAY INFORMATION"):
            # A buffer the kernel keeps; the call stays, as its own hidden auxiliary.
            return self.aux(owner, f.lower().replace(" ", ""), node, pos)
        if f == "DELAY MATERIAL":
            # a pipeline in the same kernel buffer (kernel_extra); the delay time may vary
            return self.aux(owner, "delaymaterial", node, pos)
        if f == "RANDOM PINK NOISE":
            return self.pink_noise(owner, a, pos)
        if f == "GET TIME VALUE":
            return self.time_value(a, pos)
        if f == "DEPRECIATE STRAIGHTLINE":
            return self.depreciate(owner, a, pos)
        if f in DATA_FUNCTIONS:
            return self.data_function(owner, f, a, pos)
        if f in ("GET DATA BETWEEN TIMES", "GET DATA AT TIME"):
            return self.data_at(owner, f, a, pos)
        if f == "ACTIVE INITIAL":
            raise ModelError(f"{pos}: ACTIVE INITIAL must be the whole equation of a variable")
        return node

    def pink_noise(self, owner, a, pos) -> ir.Expr:
        """Vensim's RANDOM PINK NOISE(mean, std deviation, correlation time, seed): Ed
        Anderson's pink noise, white noise smoothed over the correlation time, its
        white noise scaled so that the output's standard deviation does not depend
        on TIME STEP. It starts at a draw of the stationary distribution."""
        mean, sd, corr = (self.shared(owner, x, pos) for x in a[:3])
        seed = a[3]

        def std_normal():  # truncated at +-6, as in Vensim's published formulation
            return Call("RANDOM NORMAL", (Num(-6.0), Num(6.0), Num(0.0), Num(1.0), seed), pos)
        white = self.aux(owner, "white", std_normal(), pos)
        ratio = _div(DT, corr)
        scale = Call("SQRT", (_div(_sub(Num(2.0), ratio), ratio),), pos)
        target = _add(mean, _mul(_mul(white, sd), scale))
        return self.stock(owner, "pink", lambda s: _div(_sub(target, s), corr),
                          _add(mean, _mul(sd, std_normal())), pos)

    def time_value(self, a, pos) -> ir.Expr:
        """GET TIME VALUE(relativeto, offset, measure) for measure 0 (model time units):
        Time or INITIAL TIME, plus offset. The calendar measures need the model's
        date settings and the computer clock is not reproducible, so they are refused."""
        relative, offset, measure = a
        rel, = self.decide("GET TIME VALUE", (relative, measure), pos)
        return _add(Ref(ir.TIME if rel == 0 else "initial time", (), pos), offset)

    def data_at(self, owner, f, a, pos) -> ir.Expr:
        """GET DATA BETWEEN TIMES(data, time, mode) and GET DATA AT TIME(data, time):
        a data variable's series read at another time, :NA: before its first or
        after its last point, and :NA: if the argument is not a data variable.
        Mode 0 interpolates, 1 (or more) looks forward, -1 (or less) holds backward;
        GET DATA AT TIME reads the variable as its own keyword says."""
        series = self.data_series(a[0])
        if series is None:
            return Num(ir.NA_VALUE)
        table, own = series
        t = self.shared(owner, a[1], pos)
        forward = Call("LOOKUP FORWARD", (Ref(table, (), pos), t), pos)
        backward = Call("LOOKUP BACKWARD", (Ref(table, (), pos), t), pos)
        interpolated = ir.LookupCall(table, t, pos)
        if f == "GET DATA AT TIME":
            value = {"forward": forward, "backward": backward}.get(own, interpolated)
        else:
            mode = a[2]
            value = Call("IF THEN ELSE", (BinOp(">=", mode, Num(1.0)), forward, Call(
                "IF THEN ELSE", (BinOp("<=", mode, Num(-1.0)), backward, interpolated), pos)), pos)
        xs = self.model.variables[table].lookup.xs
        outside = BinOp("or", BinOp("<", t, Num(xs[0])), BinOp(">", t, Num(xs[-1])))
        return Call("IF THEN ELSE", (outside, Num(ir.NA_VALUE), value), pos)

    def data_function(self, owner, f, a, pos) -> ir.Expr:
        """Vensim's functions of a data variable's series (help, "Data Functions"):
        GET DATA FIRST TIME / LAST TIME / TOTAL POINTS (the series' first and last time and
        its number of points), GET DATA MAX / MIN / MEAN(data, start, end) over the points
        from start to end inclusive (:NA: when there are none), and the data equations
        TIME SHIFT(data, shift) (the value `shift` later: data at Time + shift), CUMULATE
        (the running sum of the points, read as the data are) and CUMULATEF (only the final
        sum, at the last point's time). A non-data argument gives :NA: for the GET DATA
        functions, as the help says, and is an error for the others."""
        series = self.data_series(a[0])
        if series is None:
            if f.startswith("GET DATA"):
                return Num(ir.NA_VALUE)
            raise ModelError(f"{pos}: {f} works on a data variable (one read from a file or "
                             "defined with ':='), which its first argument is not")
        table, how = series
        xs, ys = self.model.variables[table].lookup.xs, self.model.variables[table].lookup.ys
        read = {"forward": lambda name, t: Call("LOOKUP FORWARD", (Ref(name, (), pos), t), pos),
                "backward": lambda name, t: Call("LOOKUP BACKWARD", (Ref(name, (), pos), t), pos)
                }.get(how, lambda name, t: ir.LookupCall(name, t, pos))
        time = Ref(ir.TIME, (), pos)
        if f == "GET DATA FIRST TIME":
            return Num(xs[0])
        if f == "GET DATA LAST TIME":
            return Num(xs[-1])
        if f == "GET DATA TOTAL POINTS":
            return Num(float(len(xs)))
        if f == "TIME SHIFT":
            return read(table, _add(time, a[1]))
        if f in ("CUMULATE", "CUMULATEF"):
            sums = list(itertools.accumulate(ys))
            cum = ir.LookupTable(tuple(xs), tuple(sums)) if f == "CUMULATE" else \
                ir.LookupTable((xs[-1],), (sums[-1],))
            name = self.fresh(owner, "cumulate")
            self.new[name] = ir.Variable(name, self.shown(owner, pos), ir.Kind.LOOKUP, lookup=cum,
                                         pos=pos, hidden=True)
            return read(name, time)
        start, end = self.shared(owner, a[1], pos), self.shared(owner, a[2], pos)
        inside = [BinOp("and", BinOp(">=", Num(x), start), BinOp("<=", Num(x), end)) for x in xs]
        pick = lambda c, y, other: Call("IF THEN ELSE", (c, Num(y), Num(other)), pos)
        count = combine("+", [pick(c, 1.0, 0.0) for c in inside], pos)
        if f == "GET DATA MAX":
            value = combine("MAX", [pick(c, y, -math.inf) for c, y in zip(inside, ys)], pos)
        elif f == "GET DATA MIN":
            value = combine("MIN", [pick(c, y, math.inf) for c, y in zip(inside, ys)], pos)
        else:
            value = _div(combine("+", [pick(c, y, 0.0) for c, y in zip(inside, ys)], pos), count)
        return Call("IF THEN ELSE", (BinOp("=", count, Num(0.0)), Num(ir.NA_VALUE), value), pos)

    def data_series(self, arg) -> tuple[str, str] | None:
        """The lookup table (of Time) behind a data variable, and how the variable reads it."""
        if not isinstance(arg, Ref) or arg.name not in self.model.variables:
            return None
        e = self.model.variables[arg.name].expr
        time = Ref(ir.TIME)
        if isinstance(e, ir.LookupCall) and e.arg == time:
            table, how = e.table, "interpolate"
        elif (isinstance(e, Call) and e.func in ("LOOKUP FORWARD", "LOOKUP BACKWARD")
              and isinstance(e.args[0], Ref) and e.args[1] == time):
            table, how = e.args[0].name, "forward" if e.func == "LOOKUP FORWARD" else "backward"
        else:
            return None
        var = self.model.variables.get(table)
        # resolve_external's series tables are hidden; a lookup of Time the modeller wrote is not data
        if var is None or not var.hidden or var.lookup is None or not var.lookup.xs:
            return None
        return table, how

    def depreciate(self, owner, a, pos) -> ir.Expr:
        """DEPRECIATE STRAIGHTLINE(str, dtime, fisc, init): the investment stream str
        (a rate) is lumped by fiscal period (fisc, in whole TIME STEPs, periods counted
        from INITIAL TIME) and each period's lump is paid out evenly over the N =
        dtime/fisc periods starting with its own. Within the current period the
        function counts the current str instead of the lump still forming, as Vensim
        documents, so every lump is paid out in full in the right periods. Before the
        run, str is taken to have been init: a constant str = init gives init."""
        stream, init = self.shared(owner, a[0], pos), self.shared(owner, a[3], pos)
        dtime, fisc = a[1], a[2]

        def nearest(x):
            return Call("INTEGER", (_add(x, Num(0.5)),), pos)

        def sel(c, x, y):
            return Call("IF THEN ELSE", (c, x, y), pos)
        m = self.aux(owner, "fiscsteps", Call("MAX", (Num(1.0), nearest(_div(fisc, DT))), pos), pos)
        # "dtime must be an integer multiple of fisc; if it is not, Vensim adjusts it"
        n = self.aux(owner, "periods", Call("MAX", (Num(1.0), nearest(_div(dtime, _mul(m, DT)))), pos), pos)
        step = nearest(_div(_sub(Ref(ir.TIME, (), pos), Ref("initial time", (), pos)), DT))
        last = self.aux(owner, "fiscend", BinOp("=", Call("MODULO", (_add(step, Num(1.0)), m), pos),
                                                Num(0.0)), pos)
        # the current period's str so far, and its mean rate once the period ends
        acc = self.stock(owner, "fiscsum", lambda s: sel(last, Num(0.0), _add(s, stream)), Num(0.0),
                         pos, discrete=True)
        mean = _div(_add(acc, stream), m)
        held = self.stock(owner, "fiscmean", lambda s: sel(last, mean, s), init, pos, discrete=True)
        # the period leaving the window: the held mean N - 2 periods ago
        gap = _mul(_mul(_sub(n, Num(2.0)), m), DT)
        old = self.aux(owner, "delayfixed", Call("DELAY FIXED", (held, gap, init), pos), pos)
        oldest = sel(BinOp(">=", n, Num(3.0)), old, held)
        window = self.stock(owner, "fiscwindow", lambda s: sel(
            last, sel(BinOp(">=", n, Num(2.0)), _sub(_add(s, mean), oldest), Num(0.0)), s),
            _mul(_sub(n, Num(1.0)), init), pos, discrete=True)
        return _div(_add(stream, window), n)

    def shared(self, owner, expr, pos) -> ir.Expr:
        """`expr` to be used in several places, computed once a step: a random draw
        copied into two equations would be two call sites, two different draws."""
        if isinstance(expr, (Num, Ref)):
            return expr
        return self.aux(owner, "arg", expr, pos)

    def sinteg(self, var: ir.Variable) -> ir.Variable:
        """SINTEG(rate, initial, min, max, quant, spec, thresh): an integral whose value
        is restricted after every step: a multiple of quant, spec when within thresh
        of it, never below min or above max (a limit given as :NA: does not apply).
        Non-conservative, as Vensim warns: what the limits cut off is lost. The
        restriction acts on the stepped value, so the stock steps as in Euler
        whatever the integration method."""
        call, pos = var.expr, var.expr.pos
        if len(call.args) != 7:
            raise ModelError(f"{pos}: SINTEG takes 7 arguments (rate, initial, min, max, quant, "
                             f"spec, thresh), got {len(call.args)}")
        rate, init, *limits = call.args
        lo, hi, quant, spec, thresh = self.decide("SINTEG", tuple(limits), pos)

        def restrict(x):
            if quant is not None and quant > 0:
                y = _div(x, Num(quant))
                up = Call("INTEGER", (_add(y, Num(0.5)),), pos)
                down = ir.UnaryOp("-", Call("INTEGER", (_sub(Num(0.5), y),), pos))
                x = _mul(Num(quant), Call("IF THEN ELSE", (BinOp(">=", y, Num(0.0)), up, down), pos))
            if spec is not None and thresh is not None:
                near = BinOp("<", Call("ABS", (_sub(x, Num(spec)),), pos), Num(thresh))
                x = Call("IF THEN ELSE", (near, Num(spec), x), pos)
            if lo is not None:
                x = Call("MAX", (x, Num(lo)), pos)
            if hi is not None:
                x = Call("MIN", (x, Num(hi)), pos)
            return x
        me = Ref(var.name, (), pos)
        rate, init = self.lower_expr(var.name, rate), self.lower_expr(var.name, init)
        return replace(var, kind=ir.Kind.STOCK, discrete=True, expr=restrict(_add(me, _mul(DT, rate))),
                       initial=restrict(init))

    def decide(self, rule: str, args: tuple, pos) -> tuple:
        """RULES[rule] of `args` with this lowering's values, recorded as a Decision."""
        result = decide(self.model, rule, args, pos, self.values)
        self.decisions.append(ir.Decision(rule, tuple(args), result, pos))
        return result

    def lower_expr(self, owner: str, e: ir.Expr | None) -> ir.Expr | None:
        if e is None:
            return None

        def visit(node):
            if isinstance(node, Call):
                check_call(node)
                return self.lower_call(owner, node)
            return node
        return ir.map_expr(e, visit)


DATA_FUNCTIONS = {"GET DATA FIRST TIME", "GET DATA LAST TIME", "GET DATA TOTAL POINTS", "GET DATA MAX",
                  "GET DATA MIN", "GET DATA MEAN", "TIME SHIFT", "CUMULATE", "CUMULATEF"}


def _rename(e: ir.Expr | None, names: dict[str, str]) -> ir.Expr | None:
    """A macro body's expression for one call: its inputs and local variables renamed to
    the call's copies; `name$` is the model's own variable `name` (Vensim's help, "Macros")."""
    def outer(name: str) -> str:
        return names.get(name, name[:-1].strip() if name.endswith("$") else name)

    def visit(node):
        if isinstance(node, Ref):
            return replace(node, name=outer(node.name))
        if isinstance(node, ir.LookupCall):
            return replace(node, table=outer(node.table))
        if isinstance(node, Call) and node.func.endswith("$") and len(node.args) == 1:
            # the model's lookup `table$(x)`: the parser saw a call, the model knows a lookup
            return ir.LookupCall(ir.canonical_name(node.func[:-1]), node.args[0], node.pos)
        return node
    return None if e is None else ir.map_expr(e, visit)


MAX_MACRO_CALLS = 20_000
MAX_ORDER = 10_000           # stages of a DELAY N or SMOOTH N: one stock each


def _macro_display(macro: ir.Macro) -> str:
    """The macro's name as the modeller wrote it (its output variable's spelling)."""
    return next((v.display for v in macro.variables if v.name == macro.name), macro.name)


def _check_macro_recursion(model: ir.Model) -> None:
    """A macro that calls itself, directly or through other macros, would expand
    forever (Vensim refuses it too): an error naming the macros of the cycle."""
    calls = {}
    for name, macro in model.macros.items():
        exprs = [e for v in macro.variables for e in (v.expr, v.initial) if e is not None]
        calls[name] = {ir.canonical_name(n.func) for e in exprs for n in ir.walk(e)
                       if isinstance(n, Call) and ir.canonical_name(n.func) in model.macros}
    state: dict[str, int] = {}           # 1: on the current path, 2: finished
    for start in calls:
        if start in state:
            continue
        path, todo = [], [(start, iter(sorted(calls[start])))]
        state[start] = 1
        path.append(start)
        while todo:
            name, it = todo[-1]
            nxt = next(it, None)
            if nxt is None:
                state[name] = 2
                todo.pop()
                path.pop()
            elif state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt]
                macro = model.macros[nxt]
                shown = " -> ".join(_macro_display(model.macros[n]) for n in cycle)
                raise ModelError(f"{macro.pos}: macro '{_macro_display(macro)}' calls itself ({shown}); "
                                 "a macro cannot be recursive")
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                todo.append((nxt, iter(sorted(calls[nxt]))))


def expand_macros(model: ir.Model) -> ir.Model:
    """Copy a macro's equations for each call, inputs bound to the call's arguments.

    A macro's variables are local to it: each call site gets its own hidden
    copies (stocks included), named after the call. A macro may call macros.
    A macro with extra outputs, `:MACRO: NAME(in1 : out1, out2)`, called as
    `NAME(a : x, y)` defines the model variables x and y as the call's out1, out2."""
    def no_outputs(node):
        if isinstance(node, Call) and node.outputs and ir.canonical_name(node.func) not in model.macros \
                and node.func != "DELAYP":
            raise ModelError(f"{node.pos}: {node.func}(... : {', '.join(node.outputs)}): only a "
                             "macro call names extra outputs after ':'")
        return node

    if not model.macros:
        for var in model.variables.values():
            for e in (var.expr, var.initial):
                if e is not None:
                    ir.map_expr(e, no_outputs)
        return model
    _check_macro_recursion(model)
    count = 0
    done: dict[str, ir.Variable] = {}
    work = list(model.variables.values())
    while work:
        var = work.pop()
        added: list[ir.Variable] = []

        def visit(node):
            nonlocal count
            if not (isinstance(node, Call) and ir.canonical_name(node.func) in model.macros):
                return no_outputs(node)
            macro = model.macros[ir.canonical_name(node.func)]
            if len(node.args) != len(macro.params):
                raise ModelError(f"{node.pos}: macro '{_macro_display(macro)}' takes {len(macro.params)} "
                                 f"arguments, got {len(node.args)}")
            if node.outputs and len(node.outputs) != len(macro.outputs):
                raise ModelError(f"{node.pos}: macro '{macro.name}' has {len(macro.outputs)} extra "
                                 f"outputs after ':', the call names {len(node.outputs)}")
            count += 1
            if count > MAX_MACRO_CALLS:
                raise ModelError(f"{macro.pos}: macro calls expand to more than {MAX_MACRO_CALLS:,} "
                                 f"copies (while expanding '{_macro_display(macro)}'); macros calling macros "
                                 "several times each multiply: call them fewer times")
            prefix = f"{macro.name} #call{count}"
            where = f" at {node.pos.line}:{node.pos.column}" if node.pos is not None else ""
            shown = f"(in macro {macro.name.upper()} called by {var.display}{where})"
            names = {p: f"{prefix} {p}" for p in macro.params}
            names.update({v.name: f"{prefix} {v.name}" for v in macro.variables})
            for p, arg in zip(macro.params, node.args):
                added.append(ir.Variable(names[p], f"{p} {shown}", ir.Kind.AUXILIARY, expr=arg,
                                         pos=node.pos, hidden=True))
            for body in macro.variables:
                added.append(replace(body, name=names[body.name], display=f"{body.display} {shown}",
                                     expr=_rename(body.expr, names),
                                     initial=_rename(body.initial, names), hidden=True))
            if macro.name not in names:
                raise ModelError(f"{macro.pos}: macro '{macro.name}' does not define its output "
                                 f"'{macro.name}'")
            for local, display in zip(macro.outputs, node.outputs):
                name = ir.canonical_name(display)
                if local not in names:
                    raise ModelError(f"{macro.pos}: macro '{macro.name}' does not define its output "
                                     f"'{local}'")
                if name in model.variables or name in done or any(v.name == name for v in work + added):
                    raise ModelError(f"{node.pos}: '{display}' is defined twice: by this call of "
                                     f"macro '{macro.name}' and elsewhere")
                added.append(ir.Variable(name, display, ir.Kind.AUXILIARY,
                                         expr=Ref(names[local], (), node.pos), pos=node.pos))
            return Ref(names[macro.name], (), node.pos)

        expr = None if var.expr is None else ir.map_expr(var.expr, visit)
        initial = None if var.initial is None else ir.map_expr(var.initial, visit)
        done[var.name] = replace(var, expr=expr, initial=initial)
        work.extend(added)
    # the model's own variables in their order (as output columns), then the call copies
    ordered = {n: done.pop(n) for n in model.variables}
    return replace(model, variables={**ordered, **done}, macros={})


def lower_stateful(model: ir.Model, values: dict[str, float] | None = None) -> ir.Model:
    """A flat, macro-free model -> the same model with no stateful call: each
    becomes hidden stocks and auxiliaries (DELAY FIXED and DELAY MATERIAL a
    hidden auxiliary whose whole equation is the call: the kernel keeps their
    buffer). passes/pipeline.py runs it after flattening and macro expansion.
    `values` (canonical name -> number) override constants where a value decides
    the structure (a SMOOTH N order, see RULES); the model lists those choices in
    `decisions`."""
    lw = _Lowering(model, dict(values or {}))
    out: dict[str, ir.Variable] = {}
    for name, var in model.variables.items():
        expr, initial = var.expr, var.initial
        if isinstance(expr, Call) and expr.func == "ACTIVE INITIAL":
            check_call(expr)
            expr, initial = expr.args
        if isinstance(expr, Call) and expr.func == "SINTEG":
            out[name] = lw.sinteg(var)
            continue
        out[name] = replace(var, expr=lw.lower_expr(name, expr), initial=lw.lower_expr(name, initial))
    out.update(lw.new)
    return replace(model, variables=out, decisions=tuple(lw.decisions))
