"""Evaluates what must be known before a run (control variables, structural
constants such as a DELAY N order) from the model's constants, in Python."""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace

from .. import ir, limits
from ..errors import ModelError, ParameterError
from ..ir.builtins import BUILTINS, XIDZ_EPS
from ..ir.ranges import SubscriptSpace, parse_form, piece_at

_OPS = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
    "/": lambda a, b: a / b if b else math.copysign(math.inf, a) if a else math.nan,
    "^": lambda a, b: _power(a, b), "=": lambda a, b: float(a == b), "<>": lambda a, b: float(a != b),
    "<": lambda a, b: float(a < b), "<=": lambda a, b: float(a <= b),
    ">": lambda a, b: float(a > b), ">=": lambda a, b: float(a >= b),
}


def _power(a: float, b: float) -> float:
    """C's pow, as the kernel computes it: inf on overflow or 0 ** -1, nan for a negative
    base and a fractional exponent (Python's ** raises or returns a complex number)."""
    import numpy as np
    with np.errstate(all="ignore"):
        return float(np.power(np.float64(a), np.float64(b)))


def _trunc(x: float) -> float:
    return float(math.trunc(x)) if math.isfinite(x) else x


def _near_zero(b: float) -> bool:
    return abs(b) < XIDZ_EPS


# Vensim's functions of numbers alone, as the kernel computes them (backend/kernel_lib.py,
# kernel_intrinsics.py), so that a structural value (a DELAY N order written INTEGER(order),
# a control variable) is the one the run uses. A domain error is NaN, as in the kernel.
_FUNCTIONS = {
    "ABS": abs, "EXP": math.exp, "LN": math.log, "SQRT": math.sqrt, "LOG": lambda x, base=None: math.log10(x) if base is None else math.log(x) / math.log(base),
    "SIN": math.sin, "COS": math.cos, "TAN": math.tan, "ARCSIN": math.asin, "ARCCOS": math.acos,
    "ARCTAN": math.atan, "SINH": math.sinh, "COSH": math.cosh, "TANH": math.tanh,
    "INTEGER": _trunc,
    "MODULO": lambda a, b: a - b * _trunc(a / b) if b else math.nan,
    "QUANTUM": lambda a, q: a if q <= 0.0 else q * _trunc(a / q),
    "XIDZ": lambda a, b, x: x if _near_zero(b) else a / b,
    "ZIDZ": lambda a, b: 0.0 if _near_zero(b) else a / b,
    "POWER": lambda a, b: _power(a, b),
}


class NotConstant(ModelError):
    pass


def evaluate(model: ir.Model, e: ir.Expr, values: dict[str, float], time: float = 0.0,
             at: _Element | None = None) -> float:
    """Value of `e` at the initial time; `values` overrides variables (parameters). In the
    equation of a dense array (passes/dense.py), `at` is the element it is evaluated for."""
    if isinstance(e, ir.Num):
        return e.value
    if isinstance(e, ir.Ref):
        array = _arrays(model).get(e.name) if e.subscripts else None
        if array is not None and array.dims:
            return element_value(model, e.name, _element_of(model, e, at), values, time)
        return constant_value(model, e.name, values, time)
    if isinstance(e, ir.UnaryOp) and e.op == "-":
        return -evaluate(model, e.operand, values, time, at)
    if isinstance(e, ir.UnaryOp) and e.op == "not":
        return float(evaluate(model, e.operand, values, time, at) == 0.0)
    if isinstance(e, ir.BinOp) and e.op in _OPS:
        return _OPS[e.op](evaluate(model, e.left, values, time, at), evaluate(model, e.right, values, time, at))
    if isinstance(e, ir.BinOp) and e.op in ("and", "or"):
        a, b = (evaluate(model, x, values, time, at) != 0.0 for x in (e.left, e.right))
        return float(a and b if e.op == "and" else a or b)
    if isinstance(e, ir.Call) and at is not None and e.func in ("@INDEX", "@AFFINE"):
        if e.func == "@INDEX":
            return at.counters[int(e.args[0].value)] + 1.0
        c, *coeffs = (x.value for x in e.args)
        return c + sum(a * i for a, i in zip(coeffs, at.counters))
    if isinstance(e, ir.Call):
        a = [evaluate(model, x, values, time, at) for x in e.args] if e.func != "IF THEN ELSE" else None
        if e.func in _FUNCTIONS and BUILTINS[e.func].args[0] <= len(a) <= BUILTINS[e.func].args[1]:
            try:
                return float(_FUNCTIONS[e.func](*a))
            except (ValueError, OverflowError):      # out of the function's domain, or too big
                return math.nan
        if e.func in ("MIN", "MAX") and len(a) == 2:
            return (min if e.func == "MIN" else max)(a)
        if e.func == "STEP" and len(a) == 2:
            return a[0] if time + 0.5 * constant_value(model, "time step", values, time) > a[1] else 0.0
        if e.func == "IF THEN ELSE":
            cond = evaluate(model, e.args[0], values, time, at)
            return evaluate(model, e.args[1] if cond else e.args[2], values, time, at)
    raise NotConstant(f"{getattr(e, 'pos', None) or model.source}: not computable before the run")


def _arrays(model: ir.Model):
    """A model's variables, arrays whole (a dense model's element view, passes/elements.py,
    holds them as `arrays`)."""
    return getattr(model.variables, "arrays", model.variables)


def _space(model: ir.Model) -> SubscriptSpace:
    ranges = getattr(model.variables, "ranges", None)
    return SubscriptSpace(ranges if ranges is not None else model.subscript_ranges)


@dataclass(frozen=True)
class _Element:
    """An element of a dense array as its equation is evaluated for it: the array's ranges,
    and the loop counters (positions, or positions from its piece's first element)."""
    space: SubscriptSpace
    dims: tuple[str, ...]
    counters: tuple[int, ...]


def _element_of(model: ir.Model, e: ir.Ref, at: _Element | None) -> tuple[int, ...]:
    """The positions of the element of a dense array that `e` reads: its subscripts are
    elements, the ranges of the equation's left-hand side (`at`), or a piece's affine forms."""
    space = at.space if at is not None else _space(model)
    out = []
    for s, d in zip(e.subscripts, _arrays(model)[e.name].dims):
        if s[0] == "@" and at is not None:
            c, coeffs = parse_form(s)
            out.append(c + sum(a * i for a, i in zip(coeffs, at.counters)))
        elif at is not None and s in at.dims:
            out.append(at.counters[at.dims.index(s)])
        elif space.position(d, s) is not None:
            out.append(space.position(d, s))
        else:
            raise NotConstant(f"{e.pos or model.source}: not computable before the run")
    return tuple(out)


def element_value(model: ir.Model, name: str, positions: tuple[int, ...], values: dict[str, float],
                  time: float = 0.0) -> float:
    """The value at the initial time of the element at `positions` of the dense array `name`:
    its number (`@VALUES`), or its piece's (`@PIECES`) or the array's equation evaluated for it."""
    var = _arrays(model)[name]
    space = _space(model)
    key = f"{name}[{','.join(space.elements[d][k] for d, k in zip(var.dims, positions))}]"
    if key in values:
        return values[key]
    expr = var.initial if var.kind is ir.Kind.STOCK else var.expr
    if isinstance(expr, ir.Call) and expr.func == "@VALUES":
        k = 0
        for d, p in zip(var.dims, positions):
            k = k * len(space.elements[d]) + p
        return float(evaluate(model, expr.args[k], values, time))
    expr, counters = piece_at(expr, positions) or (expr, positions)
    try:
        return float(evaluate(model, expr, values, time, _Element(space, var.dims, counters)))
    except NotConstant:
        raise NotConstant(f"{var.pos}: '{key}' must be computable from constants at the initial time") from None


def constant_value(model: ir.Model, name: str, values: dict[str, float], time: float = 0.0) -> float:
    if name in values:
        return values[name]
    if name == ir.TIME:
        return time
    var = model.variables.get(name)
    if var is None:
        if name in ir.CONTROL_NAMES:
            raise ModelError(f"{model.source}: the model does not define {name.upper()}, one of the "
                             "control variables every run needs (INITIAL TIME, FINAL TIME, TIME STEP, SAVEPER)")
        raise ModelError(f"{model.source}: the model does not define '{model.written(name)}'")
    expr = var.initial if var.kind is ir.Kind.STOCK else var.expr
    try:
        return float(evaluate(model, expr, values, time))
    except NotConstant:
        raise NotConstant(f"{var.pos}: '{var.display}' must be computable from constants "
                          "at the initial time") from None


def constants_read(model: ir.Model, exprs) -> set[str]:
    """Every variable `exprs` can read at the initial time, directly or through the
    equations (a stock's initial value) of the variables they read."""
    seen: set[str] = set()
    todo = [e for e in exprs if e is not None]
    while todo:
        e = todo.pop()
        # an element of a dense array read by name (`x[e1]`): its own parameter
        elements = {f"{n.name}[{','.join(n.subscripts)}]" for n in ir.walk(e) if type(n) is ir.Ref and n.subscripts
                    and all(s[0] != "@" and not s.endswith("!") for s in n.subscripts)}
        for name in ir.references(e) | elements | {"initial time", "time step"}:
            var = model.variables.get(name)
            if name in seen or var is None:
                continue
            seen.add(name)
            todo.append(var.initial if var.kind is ir.Kind.STOCK else var.expr)
    return seen


def control_issues(t0: float, t1: float, dt: float, save: float) -> list[tuple[str, str]]:
    """What stops a run with these INITIAL TIME, FINAL TIME, TIME STEP and SAVEPER (finite
    numbers, as `errors.finite_number` gives them): (the control whose definition to name,
    the message) each. The one rule of both `Model.run` (which raises the first) and
    `smartspec check` (which reports them all, each with its line), so that the two agree."""
    issues = []
    if not dt > 0:
        issues.append(("time step", f"TIME STEP must be positive, got {dt:g}"))
    if not t1 >= t0:
        issues.append(("final time", f"FINAL TIME ({t1:g}) is before INITIAL TIME ({t0:g})"))
    elif not math.isfinite(t1 - t0):
        issues.append(("final time", f"FINAL TIME ({t1:g}) and INITIAL TIME ({t0:g}) must be finite"))
    if not save > 0:
        issues.append(("saveper", f"SAVEPER must be positive, got {save:g}"))
    if not issues:
        try:
            limits.check_steps((t1 - t0) / dt)
        except ParameterError as err:
            issues.append(("time step", str(err)))
    return issues


TOLERANCES = ("absolute tolerance", "relative tolerance")


def tolerance_issues(values: dict[str, float]) -> list[tuple[str, str]]:
    """What RK4 Auto cannot integrate with the model's ABSOLUTE TOLERANCE and RELATIVE
    TOLERANCE (`values`, by name, those the model defines): (the one to name, the message)
    each; a step passes when its error is within either (backend/kernel_step.py), so a
    negative one, or both 0, no step can meet. The one rule of `smartspec check` and of a
    run of RK4 Auto."""
    issues = [(n, f"{n.upper()} must not be negative, got {values[n]:g}")
              for n in TOLERANCES if n in values and not values[n] >= 0]
    if not issues and all(values.get(n, 1.0) == 0 for n in TOLERANCES):
        issues.append(("relative tolerance", "ABSOLUTE TOLERANCE and RELATIVE TOLERANCE are both 0: only a "
                       "step of RK4 Auto with no error at all would meet them; give one a positive value"))
    return issues


def control_problems(model: ir.Model) -> list[str]:
    """Everything about INITIAL TIME, FINAL TIME, TIME STEP and SAVEPER that stops a run
    with the model's own values (a run may still override them), each with the line that
    defines the value: what `smartspec check` reports, so that it and `run` agree
    (`control_issues`; and the memory a run's saved values and its delay buffers need, as
    `runtime/single.py` and the kernel's setup refuse it before running)."""
    problems, vals = [], {}
    for name in ir.CONTROL_NAMES:
        try:
            vals[name] = constant_value(model, name, {}, vals.get("initial time", 0.0))
        except ModelError as err:
            problems.append(str(err))
    if problems:
        return problems
    where = lambda n: model.variables[n].pos
    for name, message in control_issues(*(vals[n] for n in ir.CONTROL_NAMES)):
        also = f" (INITIAL TIME is defined at {where('initial time')})" if name == "final time" else ""
        problems.append(f"{where(name)}: {message}{also}")
    tolerances = {}
    for name in TOLERANCES:
        if name in model.variables:
            try:
                tolerances[name] = constant_value(model, name, {}, vals["initial time"])
            except ModelError:
                pass     # computed during the run: RK4 Auto reads it then
    problems += [f"{where(name)}: {message}" for name, message in tolerance_issues(tolerances)]
    if not problems:
        t0, t1, dt, save = (vals[n] for n in ir.CONTROL_NAMES)
        n_save = int(math.floor((t1 - t0) / dt + 1e-9)) // max(1, int(round(min(save / dt, 2.0 ** 62)))) + 1
        # every variable a run saves by default, and Time, which `smartspec run` saves too
        outputs = 1 + sum(1 for v in model.variables.values() if not v.hidden and v.kind is not ir.Kind.LOOKUP)
        try:
            limits.check_memory(f"a run of {n_save:,} saved times x {outputs:,} variables", 8.0 * n_save * outputs,
                                "save fewer times (a larger SAVEPER) or fewer variables (return_columns)",
                                str(where("saveper")))
            check_buffer_memory(model, t0, t1, dt)
        except ParameterError as err:
            problems.append(str(err))
    return problems


def _delay_times(model: ir.Model, var: ir.Variable, values: dict, time: float) -> list[float]:
    """The delay time (argument 2) of buffer delay `var` at `time`: one, or for a dense array
    one per element in element order, its equation evaluated for the element (a DELAY FIXED
    over an array keeps a buffer region per element: backend/dense_emit.py)."""
    if not var.dims:
        return [float(evaluate(model, var.expr.args[1], values, time))]
    space = _space(model)
    return [float(evaluate(model, var.expr.args[1], values, time, _Element(space, var.dims, counters)))
            for counters in itertools.product(*(range(len(space.elements[d])) for d in var.dims))]


def _region(model: ir.Model, region: str) -> tuple[ir.Variable, _Element | None]:
    """The variable of buffer region `region` (a name of `Kernel.buffers`) and, for an element
    of a dense array (`name[e1,e2]`: one region per element), the element."""
    name, _, elements = region[:-1].partition("[") if region.endswith("]") else (region, "", "")
    var = _arrays(model).get(name) if elements else None
    if var is None or not var.dims:
        return model.variables[region], None
    space = _space(model)
    return var, _Element(space, var.dims, tuple(space.position(d, s) for d, s in zip(var.dims, elements.split(","))))


def buffer_delay(model: ir.Model, region: str, values: dict, time: float = 0.0) -> float:
    """The delay time at `time` of the buffer region `region`, an element's evaluated for it."""
    var, at = _region(model, region)
    return float(evaluate(model, var.expr.args[1], values, time, at))


def buffer_call(model: ir.Model, region: str) -> ir.Call:
    """The call of buffer region `region` (that of its dense array for an element's)."""
    return _region(model, region)[0].expr


def buffer_argument(model: ir.Model, region: str, k: int, values: dict, time: float = 0.0) -> float:
    """The value at `time` of argument `k` of the call of buffer region `region`, an element's
    evaluated for it (buffer_delay: k = 1)."""
    var, at = _region(model, region)
    return float(evaluate(model, var.expr.args[k], values, time, at))


def buffer_delay_reads(model: ir.Model, region: str) -> set[str]:
    """The variables the delay time of buffer region `region` reads (`constants_read`), for an
    element of a dense array those of its element (`d[e1]` where the equation says `d[R]`)."""
    var, at = _region(model, region)
    delay = var.expr.args[1]
    if at is not None:
        element = {d: at.space.elements[d][k] for d, k in zip(at.dims, at.counters)}
        delay = ir.map_expr(delay, lambda e: replace(e, subscripts=tuple(element.get(s, s) for s in e.subscripts))
                            if type(e) is ir.Ref and e.subscripts else e)
    return constants_read(model, [delay])


def check_buffer_memory(model: ir.Model, t0: float, t1: float, dt: float, values: dict | None = None) -> None:
    """Refuse (ParameterError, at the first delay's call) a run from t0 to t1 by dt whose
    delay buffers need more memory than is available; `values`: a run's own constants by
    name (the model's otherwise). `smartspec check` and a run the kernel could not allocate
    for both report it so."""
    slots, first = _buffer_slots(model, t0, t1, dt, values or {})
    limits.check_memory(f"a run whose delay buffers hold {slots:,.0f} values", 8.0 * slots,
                        "use a larger TIME STEP or shorter delays (a DELAY FIXED holds delay time / "
                        "TIME STEP values)", str(first))


def _buffer_slots(model: ir.Model, t0: float, t1: float, dt: float, values: dict) -> tuple[float, object]:
    """How many values the kernel's delay buffers hold (backend/driver.py's setup): a DELAY
    FIXED's delay / TIME STEP, a buffer that spans the run about twice its steps (a delay
    not known before the run, and parcel buffers, are left out: the run reports them); and
    the position of the first such call."""
    total, first = 0.0, None
    for var in model.variables.values():
        call = var.expr
        spec = BUILTINS.get(call.func) if isinstance(call, ir.Call) else None
        if spec is None or spec.buffer is None or spec.buffer.out:
            continue
        if spec.buffer.spans_run:
            n = 2.0 * (math.floor((t1 - t0) / dt + 0.5) + 3.0)
        else:
            try:
                n = sum(max(1.0, math.floor(d / dt + 0.5)) for d in _delay_times(model, var, values, t0))
            except (ModelError, IndexError, OverflowError, ValueError):
                continue
        total += n
        first = first or call.pos or var.pos
    return total, first
