"""Structure read from the model's values.

A stateful function's order (and a few other arguments) decides how many stocks
and which equations it lowers to. Each such value is computed by a rule below
from the constants at the initial time and recorded as an ir.Decision, so that
a run with other constants can tell whether it needs the model lowered again.
"""
from __future__ import annotations

import math

from ... import ir
from ...errors import ModelError, UnsupportedFeature
from ..consteval import constant_value, evaluate

MAX_ORDER = 10_000           # stages of a DELAY N or SMOOTH N: one stock each


def _order(value, expr, pos, f) -> int:
    try:
        x = value(expr)
    except (ModelError, ArithmeticError, ValueError, RecursionError):
        raise UnsupportedFeature(f"{pos}: {f} needs an order computable from constants at the "
                                 "initial time") from None
    if x != x or math.isinf(x):
        reads = ", ".join(f"'{n}'" for n in value.reads(expr))
        what = "NaN" if x != x else f"{x:+g}"
        raise ModelError(f"{pos}: {f}'s order is {what} at the initial time: a floating-point error "
                         "(a division by zero, LN or SQRT out of its domain, an overflow) in the order's "
                         f"expression{f' or in what it reads ({reads})' if reads else ''}; the order must be "
                         "a number of at least 1")
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
    return RULES[rule](_Values(model, values), args, pos)


class _Values:
    """The value of an expression at the initial time (a rule's `value`), and the
    modeller's names of the variables it reads, for messages."""

    def __init__(self, model: ir.Model, values: dict[str, float]):
        self.model, self.values = model, values
        self.t0 = constant_value(model, "initial time", values)

    def __call__(self, e: ir.Expr) -> float:
        return evaluate(self.model, e, self.values, self.t0)

    def reads(self, e: ir.Expr) -> list[str]:
        found = (self.model.variables.get(n) for n in sorted(ir.references(e)))
        return [v.display for v in found if v is not None]
