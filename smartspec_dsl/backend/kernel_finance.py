"""Numba helpers of INTERNAL RATE OF RETURN, whose state is the stream's history: one value
a step, in its region of the kernel's delay buffer (sized for the whole run, as DELAY
MATERIAL's is; see kernel_queues.parcels_size).

Vensim's help: INTERNAL RATE OF RETURN(stream, fisc, init, it) is the fractional return per
fiscal period (fisc, in the model's time) that makes the net present value of the stream
zero, "aggregat[ing] the flows within each fiscal period treating them as if they had all
occurred at the end of the fiscal period", with an initial investment or receipt init made
at time it; :NA: when no rate in -1 to +1 gives zero ("no attempt is made to detect multiple
solutions"). Where the help leaves it open, smartspec takes: fiscal periods counted from
INITIAL TIME; the stream's flow over a step (stream x TIME STEP) falls in the period where
the step starts; a value at time t holds the steps before t (as a stock's does), the
current period's flows so far as if at its end; init counts from the start, at its time
it, whether it is past or not; a fiscal period shorter than TIME STEP is TIME STEP (as NET
PRESENT VALUE's help says). So, with g = 1 + rate, K the last period
with flows and C_k the flow of period k,

    init x g^-((it - INITIAL TIME) / fisc) + sum over k of C_k x g^-(k + 1) = 0,

solved by bisection on g in (0, 2] after multiplying by g^(K + 1), which keeps every term
finite as g nears 0 (a polynomial in g, by Horner's rule over the period sums).
"""
from __future__ import annotations

import math

from numba import njit

from ..ir.constants import NA_VALUE
from .kernel_intrinsics import JIT

NA = NA_VALUE
_G_LOW = 1e-9       # the rate -1 + 1e-9: the search's lower end
_BISECTIONS = 200   # halvings of (0, 2], far past float64's resolution (the loop stops there)


@njit(**JIT)
def _period(i, dt, fisc):
    return int(math.floor(i * dt / fisc + 1e-9))


@njit(**JIT)
def _scaled_npv(g, buf, sums, last, init, e):
    """The net present value at g = 1 + rate, times g^(last + 1): Horner's rule over the
    period sums buf[sums:sums + last + 1]."""
    total = 0.0
    for k in range(last + 1):
        total = total * g + buf[sums + k]
    return total + (init * g ** (last + 1 - e) if init != 0.0 else 0.0)


@njit(**JIT)
def irr_out(buf, off, n, istep, fisc, init, it, time, dt):
    """INTERNAL RATE OF RETURN at step istep, from the flows of the steps before it (the
    region's values 0..istep-1, summed by period into the region's far end, which the run's
    steps never reach: the region holds three values a step); :NA: before any flow, and when
    no rate in (-1, 1] makes the net present value zero."""
    if istep <= 0:
        return NA
    fisc = max(fisc, dt)
    t0 = time - istep * dt
    e = (it - t0) / fisc
    last = _period(istep - 1, dt, fisc)
    sums = off + n - (last + 1)
    for k in range(last + 1):
        buf[sums + k] = 0.0
    for i in range(istep):
        buf[sums + _period(i, dt, fisc)] += buf[off + i]
    lo, hi = _G_LOW, 2.0
    f_lo = _scaled_npv(lo, buf, sums, last, init, e)
    f_hi = _scaled_npv(hi, buf, sums, last, init, e)
    if f_hi == 0.0:
        return 1.0
    if not (math.isfinite(f_lo) and math.isfinite(f_hi)) or (f_lo > 0.0) == (f_hi > 0.0) or f_lo == 0.0:
        return NA
    for _ in range(_BISECTIONS):
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        f_mid = _scaled_npv(mid, buf, sums, last, init, e)
        if f_mid == 0.0:
            return mid - 1.0
        if (f_mid > 0.0) == (f_lo > 0.0):
            lo, f_lo = mid, f_mid
        else:
            hi = mid
    return 0.5 * (lo + hi) - 1.0


@njit(**JIT)
def irr_in(buf, off, n, istep, stream, time, dt):
    """The step's write, after the step's auxiliaries: the flow of step istep."""
    if 0 <= istep < n:
        buf[off + istep] = stream * dt
