"""Delays: DELAY1/1I/3/3I/N and DELAYP become chains of hidden stocks (`chain`, which
the smooths use too); DELAY FIXED, DELAY INFORMATION and DELAY MATERIAL stay calls, each
as its own hidden auxiliary, whose buffer the kernel keeps (backend/kernel_extra.py)."""
from __future__ import annotations

from ... import ir
from ...errors import ModelError
from .base import DT, Call, Lowering, Num, add, div, mul, sub


def chain(lw: Lowering, owner, what, inp, delay, init_each, n, pos, smooth: bool,
          travelling_times: bool = False) -> ir.Expr:
    """n first-order stages in series, each with time constant delay/n.

    A material delay's stage holds quantity (output = level/stage time);
    an information smooth's stage holds the smoothed value itself.
    With `travelling_times` (Vensim's DELAY N) each stage keeps the stage
    time that was current when the material entered it: stage k's time is
    stage k-1's time one step earlier."""
    stage_time = delay if n == 1 else div(delay, Num(float(n)))
    stage_time = lw.aux(owner, what + "time", stage_time, pos) if n > 1 else stage_time
    times = [stage_time]
    for k in range(1, n if travelling_times else 0):
        times.append(lw.stock(owner, f"{what}time{k + 1}_", lambda s, prev=times[-1]: prev,
                              stage_time, pos, discrete=True))
    times += [stage_time] * (n - len(times))
    signal = inp
    for k in range(n):
        tau = times[k]
        if smooth:
            level = lw.stock(owner, f"{what}{k + 1}_",
                             lambda s, x=signal, tau=tau: div(sub(x, s), tau), init_each, pos)
            signal = level
        else:
            level = lw.stock(owner, f"{what}{k + 1}_",
                             lambda s, x=signal, tau=tau: sub(x, div(s, tau)),
                             mul(init_each, tau), pos)
            signal = lw.aux(owner, f"{what}{k + 1}out", div(level, tau), pos)
        lw.levels.append(level)
    return signal


def delayp(lw: Lowering, owner, node: Call) -> ir.Expr:
    """DELAYP(input, delay time : pipeline): DELAY3, and the model variable `pipeline`
    holding what is in transit, the sum of its three levels (Vensim help, "DELAYP")."""
    a, pos = node.args, node.pos
    if len(node.outputs) != 1:
        raise ModelError(f"{pos}: DELAYP names its pipeline variable after ':', as in "
                         "DELAYP(input, delay time : pipeline)")
    lw.levels = []
    out = chain(lw, owner, "delay3", a[0], a[1], a[0], 3, pos, smooth=False)
    display = node.outputs[0]
    name = ir.canonical_name(display)
    if name in lw.model.variables or name in lw.new:
        raise ModelError(f"{pos}: '{display}' is defined twice: as the pipeline of this DELAYP "
                         "and elsewhere")
    lw.new[name] = ir.Variable(name, display, ir.Kind.AUXILIARY, pos=pos,
                               expr=add(add(lw.levels[0], lw.levels[1]), lw.levels[2]))
    return out


def delay_n(lw: Lowering, owner, node: Call) -> ir.Expr:
    """DELAY N(input, delay, initial, n): n stages whose stage times travel with the material."""
    a, pos = node.args, node.pos
    n, = lw.decide("DELAY N order", (a[3], a[1], DT), pos)
    return chain(lw, owner, "delayn", a[0], a[1], a[2], n, pos, smooth=False, travelling_times=True)


def stages(what: str, order: int, initial: bool, smooth: bool):
    """The lowering of DELAY1/DELAY3 (material) or SMOOTH/SMOOTH3 (smooth) and their I
    forms: `order` stages; the initial value is the input's unless the third argument
    gives it."""
    def lower(lw: Lowering, owner, node: Call) -> ir.Expr:
        a = node.args
        return chain(lw, owner, what, a[0], a[1], a[2] if initial else a[0], order, node.pos, smooth=smooth)
    return lower


def buffer(lw: Lowering, owner, node: Call) -> ir.Expr:
    """DELAY FIXED and DELAY INFORMATION: a buffer the kernel keeps; the call stays, as
    its own hidden auxiliary."""
    return lw.aux(owner, node.func.lower().replace(" ", ""), node, node.pos)


def material(lw: Lowering, owner, node: Call) -> ir.Expr:
    """DELAY MATERIAL: a pipeline in the same kernel buffer (kernel_extra); the delay time may vary."""
    return lw.aux(owner, "delaymaterial", node, node.pos)


LOWERINGS = {
    "DELAY1": stages("delay1", 1, False, smooth=False),
    "DELAY1I": stages("delay1", 1, True, smooth=False),
    "DELAY3": stages("delay3", 3, False, smooth=False),
    "DELAY3I": stages("delay3", 3, True, smooth=False),
    "DELAYP": delayp,
    "DELAY N": delay_n,
    "DELAY FIXED": buffer,
    "DELAY INFORMATION": buffer,
    "DELAY MATERIAL": material,
}
