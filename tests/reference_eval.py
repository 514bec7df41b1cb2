"""A deliberately simple reference simulator for tests (plain Python, no numba).

It runs the *lowered* IR, one scalar per element (`smartspec_dsl.passes.pipeline.lower(parse_model(...), dense=False)`), the slow,
obvious way, so that differential tests can compare it with the generated kernels:

* no dependency ordering: every variable is computed by recursion over its
  expression tree, memoised per time step (a cycle raises, so an algebraic
  loop cannot go unnoticed);
* Euler integration as Vensim does it: at each step compute every auxiliary
  from the current stocks and Time, save the row, then `stock += dt * rate`
  (a discrete stock, `Variable.discrete`, takes `next = expr` instead);
* initialisation: stocks take their `initial` expression, auxiliaries that
  have one (ACTIVE INITIAL) take theirs, everything evaluated at INITIAL TIME.

The scalar builtins are written here from Vensim's documented definitions
(https://vensim.com/documentation/, "Functions"), independently of
`smartspec_dsl/backend/kernel_lib.py`. Where that documentation is explicit it is
quoted next to the code.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from smartspec_dsl import ir
from smartspec_dsl.passes.pipeline import lower
from smartspec_dsl.frontend.parse import parse_model


class ReferenceEvalError(Exception):
    pass


# ---- scalar functions (IEEE results instead of Python exceptions) ----------------

def _ln(x: float) -> float:
    if math.isnan(x) or x < 0:
        return math.nan
    if x == 0:
        return -math.inf
    return math.log(x)


def _sqrt(x: float) -> float:
    if math.isnan(x) or x < 0:
        return math.nan
    return math.sqrt(x)


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _trig(f, x: float) -> float:
    return math.nan if math.isinf(x) or math.isnan(x) else f(x)


def _pow(a: float, b: float) -> float:
    try:
        return math.pow(a, b)
    except OverflowError:
        return math.inf
    except (ValueError, ZeroDivisionError):
        if a == 0 and b < 0:
            return math.inf
        return math.nan


def _div(a: float, b: float) -> float:
    if b == 0:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def _integer(x: float) -> float:
    # fn_integer: "Truncates X to the integer nearest zero."
    return float(math.trunc(x)) if math.isfinite(x) else x


def _modulo(a: float, b: float) -> float:
    # fn_modulo: "Returns the remainder when A is divided by B. Same as A-QUANTUM(A,B).
    # Implementation ... follows the C standard obeying (a/b)b + a%b = a" -> C fmod,
    # whose result has the sign of A (MODULO(-5, 3) = -2).
    if b == 0 or not math.isfinite(a):
        return math.nan
    return math.fmod(a, b)


# fn_xidz / fn_zidz: "Same as: IF THEN ELSE ( ABS(B) <1E-6, X, A/B ) ... Both XIDZ and ZIDZ
# actually test the absolute value of B against a small (1E-6) number".
XIDZ_EPSILON = 1e-6


def _xidz(a: float, b: float, x: float) -> float:
    return x if abs(b) < XIDZ_EPSILON else a / b


def _lookup(table: ir.LookupTable, x: float) -> float:
    """Piecewise-linear interpolation, clamped to the end values outside the table."""
    xs, ys = table.xs, table.ys
    if math.isnan(x):
        return math.nan
    if x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    for i in range(1, len(xs)):
        if x <= xs[i]:
            x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
            if x == x1:
                return y1
            return y0 + (x - x0) * (y1 - y0) / (x1 - x0)
    return ys[-1]  # not reached


_IN_ORDER = {"@SUM": (0.0, lambda acc, x: acc + x), "@PROD": (1.0, lambda acc, x: acc * x),
             "@VMIN": (math.inf, lambda acc, x: acc if acc < x else x),
             "@VMAX": (-math.inf, lambda acc, x: acc if acc > x else x)}


def _truth(x: float) -> bool:
    return x != 0.0


# ---- the simulator ---------------------------------------------------------------

@dataclass
class ReferenceResult:
    time: np.ndarray
    values: dict[str, np.ndarray]  # canonical name -> saved values


class AlgebraicLoopInReference(ReferenceEvalError):
    pass


class _Context:
    """Values at one instant: Time, the stocks, and a memo of everything computed."""

    def __init__(self, vars_, time, stocks, phase, delay_out=None, overrides=None):
        self.vars = vars_
        self.overrides = overrides or {}
        self.time = time
        self.stocks = stocks
        self.phase = phase          # "init" or "step"
        self.delay_out = delay_out  # DELAY FIXED outputs during steps
        self.memo: dict[str, float] = {}
        self.busy: set[str] = set()

    def value(self, name: str) -> float:
        if name == ir.TIME:
            if self.time is None:
                raise ReferenceEvalError("Time is not available here")
            return self.time
        if name in self.memo:
            return self.memo[name]
        if name in self.overrides:
            return self.overrides[name]
        if name in self.busy:
            raise AlgebraicLoopInReference(name)
        var = self.vars.get(name)
        if var is None:
            raise ReferenceEvalError(f"undefined variable {name!r}")
        self.busy.add(name)
        try:
            out = self._compute(var)
        finally:
            self.busy.discard(name)
        self.memo[name] = out
        return out

    def _compute(self, var: ir.Variable) -> float:
        if var.kind is ir.Kind.LOOKUP:
            raise ReferenceEvalError(f"lookup {var.name!r} used as a value")
        if var.kind is ir.Kind.STOCK:
            return self.ev(var.initial) if self.phase == "init" else self.stocks[var.name]
        if _is_delay_fixed(var):
            return self.ev(var.expr.args[2]) if self.phase == "init" else self.delay_out(var.name)
        if self.phase == "init" and var.initial is not None:  # ACTIVE INITIAL
            return self.ev(var.initial)
        return self.ev(var.expr)

    def dt(self) -> float:
        return self.value("time step")

    # -- expressions ------------------------------------------------------------
    def ev(self, e: ir.Expr) -> float:
        if isinstance(e, ir.Num):
            return float(e.value)
        if isinstance(e, ir.Ref):
            return self.value(e.name)
        if isinstance(e, ir.UnaryOp):
            x = self.ev(e.operand)
            return -x if e.op == "-" else float(not _truth(x))
        if isinstance(e, ir.BinOp):
            return self._binop(e)
        if isinstance(e, ir.LookupCall):
            table = self.vars[e.table].lookup
            if table is None:
                raise ReferenceEvalError(f"{e.table!r} is not a lookup")
            return _lookup(table, self.ev(e.arg))
        if isinstance(e, ir.Call):
            return self._call(e)
        raise ReferenceEvalError(f"cannot evaluate {e!r}")

    def _binop(self, e: ir.BinOp) -> float:
        op, ev = e.op, self.ev
        if op == "and":  # :AND: / :OR: / comparisons give 1 or 0
            return float(_truth(ev(e.left)) and _truth(ev(e.right)))
        if op == "or":
            return float(_truth(ev(e.left)) or _truth(ev(e.right)))
        a, b = ev(e.left), ev(e.right)
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return _div(a, b)
        if op == "^":
            return _pow(a, b)
        if op == "=":
            return float(a == b)
        if op == "<>":
            return float(a != b)
        if op == "<":
            return float(a < b)
        if op == "<=":
            return float(a <= b)
        if op == ">":
            return float(a > b)
        if op == ">=":
            return float(a >= b)
        raise ReferenceEvalError(f"operator {op!r}")

    def _call(self, e: ir.Call) -> float:
        f, args, ev = e.func, e.args, self.ev
        if f == "IF THEN ELSE":
            # fn_if_then_else: "Only the value returned is evaluated".
            return ev(args[1]) if _truth(ev(args[0])) else ev(args[2])
        if f == "WITH LOOKUP":
            return _lookup(args[1], ev(args[0]))
        a = [ev(x) for x in args]
        if f in _IN_ORDER:
            # a SUM, PROD, VMIN or VMAX of more than 32 terms, flattened (ir/reductions.py): the
            # terms in element order, left to right, from the sum's 0 and the product's 1
            start, combine = _IN_ORDER[f]
            out = start
            for x in a:
                out = combine(out, x)
            return out
        if f == "MIN":
            return a[0] if a[0] < a[1] else a[1]
        if f == "MAX":
            return a[0] if a[0] > a[1] else a[1]
        if f == "ABS":
            return abs(a[0])
        if f == "EXP":
            return _exp(a[0])
        if f == "LN":
            return _ln(a[0])
        if f == "SQRT":
            return _sqrt(a[0])
        if f == "SIN":
            return _trig(math.sin, a[0])
        if f == "COS":
            return _trig(math.cos, a[0])
        if f == "INTEGER":
            return _integer(a[0])
        if f == "MODULO":
            return _modulo(a[0], a[1])
        if f == "XIDZ":
            return _xidz(a[0], a[1], a[2])
        if f == "ZIDZ":
            return _xidz(a[0], a[1], 0.0)
        if f == "POWER":
            return _pow(a[0], a[1])
        # The test inputs compare "time plus = Time + ( TIME STEP / 2.0 )" with their
        # times, "to avoid rounding errors" (fn_step, fn_pulse).
        t = self.value(ir.TIME)
        if f == "STEP":
            # fn_step: IF THEN ELSE(time plus > step time, height, 0)
            height, start = a
            return height if t + self.dt() / 2.0 > start else 0.0
        if f == "RAMP":
            # fn_ramp: IF THEN ELSE(Time > start, IF THEN ELSE(Time < end,
            #          slope*(Time - start), slope*(end - start)), 0)
            slope, start, end = a
            if t > start:
                return slope * (t - start) if t < end else slope * (end - start)
            return 0.0
        if f == "PULSE":
            # fn_pulse: IF THEN ELSE(time plus > start :AND: time plus < (start + width), 1, 0);
            # "If width is passed as 0 it will be treated as ... TIME STEP".
            start, width = a
            if width == 0:
                width = self.dt()
            tp = t + self.dt() / 2.0
            return 1.0 if (tp > start and tp < start + width) else 0.0
        raise ReferenceEvalError(f"the reference evaluator does not implement {f}")


def _is_delay_fixed(var: ir.Variable) -> bool:
    return isinstance(var.expr, ir.Call) and var.expr.func == "DELAY FIXED"


class ReferenceModel:
    def __init__(self, text: str, filename: str = "<reference>"):
        self.parsed = parse_model(text, filename)
        self.model = lower(self.parsed, dense=False)
        self.vars = self.model.variables

    def run(self, params: dict[str, float] | None = None) -> ReferenceResult:
        """Run with the model's constants, or with `params` (name -> value) replacing some
        of them (control variables such as TIME STEP included)."""
        vars_ = self.vars
        overrides = {}
        for name, value in (params or {}).items():
            key = ir.canonical_name(name)
            if key not in vars_ or vars_[key].kind is not ir.Kind.CONSTANT:
                raise ReferenceEvalError(f"{name!r} is not a constant of the model")
            overrides[key] = float(value)
        if overrides:
            # A run's values decide the structure they shape (a DELAY N's order is cut to
            # whole TIME STEPs, Vensim's rule), so the reference lowers again with them.
            vars_ = lower(self.parsed, dense=False, values=overrides).variables
        control = _Context(vars_, None, {}, "init", overrides=overrides)
        t0, t1 = control.value("initial time"), control.value("final time")
        dt, saveper = control.value("time step"), control.value("saveper")
        n_steps = int(math.floor((t1 - t0) / dt + 1e-9))
        save_every = max(1, int(round(saveper / dt)))

        stocks = [n for n, v in vars_.items() if v.kind is ir.Kind.STOCK]
        outputs = [n for n, v in vars_.items() if not v.hidden and v.kind is not ir.Kind.LOOKUP]
        fixed = [n for n, v in vars_.items() if _is_delay_fixed(v)]

        init = _Context(vars_, t0, {}, "init", overrides=overrides)
        state = {n: init.value(n) for n in stocks}
        # DELAY FIXED "Returns the value of the input delayed by the delay time. The initial
        # value is the value of the variable ... at the start of the simulation. The delay
        # time can be an expression, but only its initial value is used. ... The minimum
        # delay time is TIME STEP" (fn_delay_fixed): with k = delay/dt steps, the output at
        # step s is the input of step s - k, or the initial value while s < k.
        lag = {n: max(1, int(math.floor(init.ev(vars_[n].expr.args[1]) / dt + 0.5))) for n in fixed}
        first = {n: init.value(n) for n in fixed}
        history: dict[str, list[float]] = {n: [] for n in fixed}

        times, rows = [], {n: [] for n in outputs}
        for step in range(n_steps + 1):
            t = t0 + step * dt

            def delay_out(name, step=step):
                k = lag[name]
                return history[name][step - k] if step >= k else first[name]

            ctx = _Context(vars_, t, state, "step", delay_out, overrides)
            if step % save_every == 0:
                times.append(t)
                for n in outputs:
                    rows[n].append(ctx.value(n))
            if step == n_steps:
                break
            new_state = {}
            for n in stocks:
                var = vars_[n]
                rate = ctx.ev(var.expr)
                new_state[n] = rate if var.discrete else state[n] + dt * rate
            for n in fixed:
                history[n].append(ctx.ev(vars_[n].expr.args[0]))
            state = new_state
        return ReferenceResult(np.array(times), {n: np.array(v, dtype=float) for n, v in rows.items()})


def simulate(text: str, params: dict[str, float] | None = None,
             filename: str = "<reference>") -> ReferenceResult:
    """Parse, lower and run `text` with the reference evaluator."""
    return ReferenceModel(text, filename).run(params)
