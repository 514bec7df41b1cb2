"""Integration and initial values: INITIAL and SAMPLE IF TRUE (discrete stocks that hold
a value), NPV and NPVE (accumulating stocks), SINTEG (a discrete stock restricted after
every step) and ACTIVE INITIAL (a second equation for the initial time)."""
from __future__ import annotations

from dataclasses import replace

from ... import ir
from ...errors import ModelError
from ..macros import rename
from .base import DT, BinOp, Call, Lowering, Num, Ref, add, div, mul, sub


def initial(lw: Lowering, owner, node: Call) -> ir.Expr:
    """INITIAL(x): x at the initial time, held."""
    return lw.stock(owner, "initial", lambda s: s, node.args[0], node.pos, discrete=True)


def sample_if_true(lw: Lowering, owner, node: Call) -> ir.Expr:
    """SAMPLE IF TRUE(condition, input, initial): input while condition holds, else the
    value last sampled."""
    pos = node.pos
    cond, inp, init = node.args
    held, dims = lw.fresh(owner, "held"), lw.dims(owner)
    # Vensim treats the variable as a level: its own name in the arguments reads the held value
    cond, inp = (rename(x, {owner: held}) for x in (cond, inp))
    out = lw.aux(owner, "sample", Call("IF THEN ELSE", (cond, inp, Ref(held, dims, pos)), pos), pos)
    lw.new[held] = ir.Variable(held, lw.shown(owner, pos), ir.Kind.STOCK, expr=out, initial=init, pos=pos,
                               hidden=True, discrete=True, dims=dims)
    return out


def npv(lw: Lowering, owner, node: Call) -> ir.Expr:
    """Vensim help, "NPV" and "NPVE": the same equations, but NPVE values the stream at
    the end of each interval, so its discount factor starts at 1 / (1 + rate * TIME STEP)."""
    f, pos = node.func, node.pos
    stream, rate, init, factor = node.args
    df0 = Num(1.0) if f == "NPV" else div(Num(1.0), add(Num(1.0), mul(rate, DT)))
    df = lw.stock(owner, "discount", lambda s: sub(Num(0.0), div(mul(s, rate), add(Num(1.0), mul(rate, DT)))),
                  df0, pos)
    accum = lw.stock(owner, "npv", lambda s: mul(stream, df), init, pos)
    return mul(add(accum, mul(mul(stream, DT), df)), factor)


def active_initial(lw: Lowering, owner, node: Call) -> ir.Expr:
    """ACTIVE INITIAL is a whole equation (see `lower_stateful`), never part of one."""
    raise ModelError(f"{node.pos}: ACTIVE INITIAL must be the whole equation of a variable")


def sinteg(lw: Lowering, var: ir.Variable) -> ir.Variable:
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
    lo, hi, quant, spec, thresh = lw.decide("SINTEG", tuple(limits), pos)

    def restrict(x):
        if quant is not None and quant > 0:
            y = div(x, Num(quant))
            up = Call("INTEGER", (add(y, Num(0.5)),), pos)
            down = ir.UnaryOp("-", Call("INTEGER", (sub(Num(0.5), y),), pos))
            x = mul(Num(quant), Call("IF THEN ELSE", (BinOp(">=", y, Num(0.0)), up, down), pos))
        if spec is not None and thresh is not None:
            near = BinOp("<", Call("ABS", (sub(x, Num(spec)),), pos), Num(thresh))
            x = Call("IF THEN ELSE", (near, Num(spec), x), pos)
        if lo is not None:
            x = Call("MAX", (x, Num(lo)), pos)
        if hi is not None:
            x = Call("MIN", (x, Num(hi)), pos)
        return x
    me = Ref(var.name, (), pos)
    rate, init = lw.lower_expr(var.name, rate), lw.lower_expr(var.name, init)
    return replace(var, kind=ir.Kind.STOCK, discrete=True, expr=restrict(add(me, mul(DT, rate))),
                   initial=restrict(init))


LOWERINGS = {
    "INITIAL": initial,
    "SAMPLE IF TRUE": sample_if_true,
    "NPV": npv,
    "NPVE": npv,
    "ACTIVE INITIAL": active_initial,
}
