"""Smooths and trends: SMOOTH/SMOOTHI/SMOOTH3/SMOOTH3I/SMOOTH N as chains of smoothing
stocks (`delays.chain`), TREND and FORECAST from one averaging stock."""
from __future__ import annotations

from ... import ir
from .base import Call, Lowering, Num, add, div, mul, sub
from .delays import chain, stages


def smooth_n(lw: Lowering, owner, node: Call) -> ir.Expr:
    """SMOOTH N(input, time, initial, n): n smoothing stages."""
    a, pos = node.args, node.pos
    n, = lw.decide("SMOOTH N order", (a[3],), pos)
    return chain(lw, owner, "smoothn", a[0], a[1], a[2], n, pos, smooth=True)


def trend(lw: Lowering, owner, node: Call) -> ir.Expr:
    """TREND(input, average time, initial trend) and FORECAST(input, average time, horizon)."""
    f, a, pos = node.func, node.args, node.pos
    inp, avg_time = a[0], a[1]
    init = inp if f == "FORECAST" else div(inp, add(Num(1.0), mul(a[2], avg_time)))
    average = lw.stock(owner, "average", lambda s: div(sub(inp, s), avg_time), init, pos)
    if f == "TREND":  # Vensim divides by |average| here, and not in FORECAST
        return Call("ZIDZ", (sub(inp, average), mul(avg_time, Call("ABS", (average,), pos))), pos)
    slope = Call("ZIDZ", (sub(inp, average), mul(avg_time, average)), pos)
    return mul(inp, add(Num(1.0), mul(slope, a[2])))


LOWERINGS = {
    "SMOOTH": stages("smooth", 1, False, smooth=True),
    "SMOOTHI": stages("smooth", 1, True, smooth=True),
    "SMOOTH3": stages("smooth3", 3, False, smooth=True),
    "SMOOTH3I": stages("smooth3", 3, True, smooth=True),
    "SMOOTH N": smooth_n,
    "TREND": trend,
    "FORECAST": trend,
}
