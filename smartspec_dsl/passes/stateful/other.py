"""The other stateful functions: RANDOM PINK NOISE (a smoothed white noise), GET TIME
VALUE (model time only), TIME BASE (a second time axis), DEPRECIATE STRAIGHTLINE
(fiscal-period stocks and a DELAY FIXED), DEPRECIATE BY SCHEDULE (fiscal-period stocks,
one per period of the schedule) and INTERNAL RATE OF RETURN (a buffer the kernel keeps)."""
from __future__ import annotations

from dataclasses import replace

from ... import ir
from .base import DT, BinOp, Call, Lowering, Num, Ref, add, div, mul, sub


def pink_noise(lw: Lowering, owner, node: Call) -> ir.Expr:
    """Vensim's RANDOM PINK NOISE(mean, std deviation, correlation time, seed): Ed
    Anderson's pink noise, white noise smoothed over the correlation time, its
    white noise scaled so that the output's standard deviation does not depend
    on TIME STEP. It starts at a draw of the stationary distribution."""
    a, pos = node.args, node.pos
    mean, sd, corr = (lw.shared(owner, x, pos) for x in a[:3])
    seed = a[3]

    def std_normal():  # truncated at +-6, as in Vensim's published formulation
        return Call("RANDOM NORMAL", (Num(-6.0), Num(6.0), Num(0.0), Num(1.0), seed), pos)
    white = lw.aux(owner, "white", std_normal(), pos)
    ratio = div(DT, corr)
    scale = Call("SQRT", (div(sub(Num(2.0), ratio), ratio),), pos)
    target = add(mean, mul(mul(white, sd), scale))
    return lw.stock(owner, "pink", lambda s: div(sub(target, s), corr),
                    add(mean, mul(sd, std_normal())), pos)


def time_value(lw: Lowering, owner, node: Call) -> ir.Expr:
    """GET TIME VALUE(relativeto, offset, measure) for measure 0 (model time units):
    Time or INITIAL TIME, plus offset. The calendar measures need the model's
    date settings and the computer clock is not reproducible, so they are refused."""
    pos = node.pos
    relative, offset, measure = node.args
    rel, = lw.decide("GET TIME VALUE", (relative, measure), pos)
    return add(Ref(ir.TIME if rel == 0 else "initial time", (), pos), offset)


def time_base(lw: Lowering, owner, node: Call) -> ir.Expr:
    """TIME BASE(START, SLOPE): Vensim's help, "TIME BASE": "Same as: (START + Time*SLOPE)
    except it marks the left-hand variable as a Time Base" (which only Vensim's data
    entry by time base uses)."""
    start, slope = node.args
    return add(start, mul(Ref(ir.TIME, (), node.pos), slope))


def depreciate(lw: Lowering, owner, node: Call) -> ir.Expr:
    """DEPRECIATE STRAIGHTLINE(str, dtime, fisc, init): the investment stream str
    (a rate) is lumped by fiscal period (fisc, in whole TIME STEPs, periods counted
    from INITIAL TIME) and each period's lump is paid out evenly over the N =
    dtime/fisc periods starting with its own. Within the current period the
    function counts the current str instead of the lump still forming, as Vensim
    documents, so every lump is paid out in full in the right periods. Before the
    run, str is taken to have been init: a constant str = init gives init."""
    a, pos = node.args, node.pos
    stream, init = lw.shared(owner, a[0], pos), lw.shared(owner, a[3], pos)
    dtime, fisc = a[1], a[2]

    def nearest(x):
        return Call("INTEGER", (add(x, Num(0.5)),), pos)

    def sel(c, x, y):
        return Call("IF THEN ELSE", (c, x, y), pos)
    m = lw.aux(owner, "fiscsteps", Call("MAX", (Num(1.0), nearest(div(fisc, DT))), pos), pos)
    # "dtime must be an integer multiple of fisc; if it is not, Vensim adjusts it"
    n = lw.aux(owner, "periods", Call("MAX", (Num(1.0), nearest(div(dtime, mul(m, DT)))), pos), pos)
    step = nearest(div(sub(Ref(ir.TIME, (), pos), Ref("initial time", (), pos)), DT))
    last = lw.aux(owner, "fiscend", BinOp("=", Call("MODULO", (add(step, Num(1.0)), m), pos),
                                          Num(0.0)), pos)
    # the current period's str so far, and its mean rate once the period ends
    acc = lw.stock(owner, "fiscsum", lambda s: sel(last, Num(0.0), add(s, stream)), Num(0.0),
                   pos, discrete=True)
    mean = div(add(acc, stream), m)
    held = lw.stock(owner, "fiscmean", lambda s: sel(last, mean, s), init, pos, discrete=True)
    # the period leaving the window: the held mean N - 2 periods ago
    gap = mul(mul(sub(n, Num(2.0)), m), DT)
    old = lw.aux(owner, "delayfixed", Call("DELAY FIXED", (held, gap, init), pos), pos)
    oldest = sel(BinOp(">=", n, Num(3.0)), old, held)
    window = lw.stock(owner, "fiscwindow", lambda s: sel(
        last, sel(BinOp(">=", n, Num(2.0)), sub(add(s, mean), oldest), Num(0.0)), s),
        mul(sub(n, Num(1.0)), init), pos, discrete=True)
    return div(add(stream, window), n)


def rate_of_return(lw: Lowering, owner, node: Call) -> ir.Expr:
    """INTERNAL RATE OF RETURN: the stream's history is kept in the kernel's buffer
    (backend/kernel_finance.py); the call stays, as its own hidden auxiliary."""
    return lw.aux(owner, "irr", node, node.pos)


def depreciate_by_schedule(lw: Lowering, var: ir.Variable) -> ir.Variable:
    """DEPRECIATE BY SCHEDULE(str, sch, init, dtime, fs), flattened to (str, dtime, fs, the n
    schedule values, the n initial depreciations): Vensim's help, "DEPRECIATE BY SCHEDULE":
    the fiscal period is dtime / n (in whole TIME STEPs), the periods change over at fs
    (its value at INITIAL TIME: "normally [...] Time (or equivalently INITIAL TIME)") and
    every multiple of the period from it; the schedule's values are scaled to add to 1;
    init[j] is the depreciation (a rate, as the output) in the j-th period from the run's
    start, from investment before it. Each period's investment (its mean str) is written
    off by the schedule: the fraction f0 in its own period, f1 in the next, ... As
    DEPRECIATE STRAIGHTLINE does, the own period's share counts the current str, so every
    lump is written off in full. Registers R0..Rn-1 (discrete stocks) hold what past
    periods' investment and init give to this period and the n - 1 after it; the output is
    R0 + f0 * str."""
    call, pos = var.expr, var.expr.pos
    owner = var.name
    lw.function = "DEPRECIATE BY SCHEDULE"
    low = lambda x: lw.lower_expr(owner, x)
    stream, dtime, fs, *rest = call.args
    n = len(rest) // 2
    stream = lw.shared(owner, low(stream), pos)
    schedule = [lw.shared(owner, low(x), pos) for x in rest[:n]]
    total = schedule[0]
    for x in schedule[1:]:
        total = add(total, x)
    total = lw.aux(owner, "schedsum", total, pos)
    fraction = [div(x, total) for x in schedule]

    def nearest(x):
        return Call("INTEGER", (add(x, Num(0.5)),), pos)

    def sel(c, x, y):
        return Call("IF THEN ELSE", (c, x, y), pos)
    m = lw.aux(owner, "fiscsteps", Call("MAX", (Num(1.0), nearest(div(div(dtime, Num(float(n))), DT))), pos),
               pos)
    start = low(Call("INITIAL", (fs,), pos))
    since = lw.aux(owner, "fiscsteps since", div(sub(Ref(ir.TIME, (), pos), start), DT), pos)
    # to the nearest whole step, before fs (negative) too
    step = sel(BinOp(">=", since, Num(0.0)), nearest(since), ir.UnaryOp("-", nearest(ir.UnaryOp("-", since))))
    last = lw.aux(owner, "fiscend", BinOp("=", Call("MODULO", (add(step, Num(1.0)), m), pos), Num(0.0)), pos)
    acc = lw.stock(owner, "fiscsum", lambda s: sel(last, Num(0.0), add(s, stream)), Num(0.0), pos, discrete=True)
    mean = lw.aux(owner, "fiscmean", div(add(acc, stream), m), pos)
    later = Num(0.0)        # R(j+1), built from the last period back
    for j in range(n - 1, -1, -1):
        nxt = add(later, mul(fraction[j + 1], mean)) if j + 1 < n else Num(0.0)
        later = lw.stock(owner, f"period{j}", lambda s, nxt=nxt: sel(last, nxt, s), low(rest[n + j]), pos,
                         discrete=True)
    return replace(var, expr=add(later, mul(fraction[0], stream)))


LOWERINGS = {
    "INTERNAL RATE OF RETURN": rate_of_return,
    "RANDOM PINK NOISE": pink_noise,
    "GET TIME VALUE": time_value,
    "TIME BASE": time_base,
    "DEPRECIATE STRAIGHTLINE": depreciate,
}
