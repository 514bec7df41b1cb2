"""SHIFT IF TRUE: an equation that moves the values of another variable's stocks, the one
stateful function whose memory is not its own. Flattening gives it as the call
`SHIFTED(cond, accum, inval, stock 1, ..., stock n)` (passes/array_functions.py); this
module makes it the value its variable shows and, once every variable is lowered, makes
each shifted stock a discrete stock whose next value is the shifted one plus its rate's
step (`apply_shifts`)."""
from __future__ import annotations

from dataclasses import replace

from ... import ir
from ...errors import ModelError
from .base import DT, BinOp, Call, Lowering, Num, Ref, add, mul


def shift_if_true(lw: Lowering, var: ir.Variable) -> ir.Variable:
    """Vensim's help, "SHIFT IF TRUE(var, cond, size, accum, inval)": "Shifts size elements
    of var when cond is true. If accum is non-zero then the second to last element of var
    is added to the last element, otherwise the second to last element replaces the last
    element. [...] the first element [...] is replaced with inval. SHIFT IF TRUE returns
    the amount that has been removed from the last element of var. If accum is non-zero
    then SHIFT IF TRUE always returns 0." The help leaves open when, within a time step,
    the stocks take their shifted values: here a shift at time t moves the stocks' values
    of time t, which every equation of time t reads unshifted, and the stocks' rates of
    time t are added to the shifted values (s(t + dt) = shifted s(t) + dt * rate(t)), so
    what the shift moves is conserved and what leaves the last element is what this
    equation gives at t. Like SINTEG, the shifted stocks step as in Euler under RK4."""
    call, pos = var.expr, var.expr.pos
    owner = var.name
    lw.function = "SHIFT IF TRUE"
    cond, accum, inval = (lw.shared(owner, lw.lower_expr(owner, x), pos) for x in call.args[:3])
    stocks = call.args[3:]
    for ref in stocks:
        target = lw.model.variables.get(ref.name) if isinstance(ref, Ref) else None
        if target is None or target.kind is not ir.Kind.STOCK or target.discrete or target.hidden:
            shown = target.display if target is not None else "an expression"
            raise ModelError(f"{pos}: SHIFT IF TRUE shifts the values of a stock (an INTEG): '{shown}' "
                             "is not one")
        if ref.name in lw.shifts:
            raise ModelError(f"{pos}: '{target.display}' is shifted by two SHIFT IF TRUE equations "
                             f"(the other at {lw.shifts[ref.name][2]})")

    def sel(c, x, y):
        return Call("IF THEN ELSE", (c, x, y), pos)
    values = [Ref(s.name, (), pos) for s in stocks]
    last, before_last = values[-1], values[-2]
    new = [inval, *values[:-2], sel(accum, add(last, before_last), before_last)]
    for ref, value in zip(stocks, new):
        lw.shifts[ref.name] = (cond, value, pos)
    return replace(var, expr=sel(cond, sel(BinOp("=", accum, Num(0.0)), last, Num(0.0)), Num(0.0)))


def apply_shifts(lw: Lowering, variables: dict[str, ir.Variable]) -> None:
    """Each stock a SHIFT IF TRUE moves becomes a discrete stock: its next value is its
    shifted value (its own while the condition is false) plus its rate's step."""
    for name, (cond, value, pos) in lw.shifts.items():
        stock = variables[name]
        me = Ref(name, (), pos)
        variables[name] = replace(stock, discrete=True, expr=add(Call("IF THEN ELSE", (cond, value, me), pos),
                                                                  mul(DT, stock.expr)))
