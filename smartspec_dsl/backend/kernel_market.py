"""Numba helpers for Vensim's market functions (Vensim help, "Allocation Functions"):
FIND MARKET PRICE, DEMAND AT PRICE and SUPPLY AT PRICE (many-to-many allocation), and
MARKETP with ALLOC P (the older two-step form of ALLOCATE BY PRIORITY). Generated kernels
import them beside kernel_lib and kernel_extra.

A demander's curve is the share of its satiation quantity it asks for at a price: the
complement of the cumulative distribution its profile names (kernel_lib.demand_share,
ALLOCATE AVAILABLE's curves); a supplier's is the distribution itself, rising with the
price ("demand/prioritization curves need to slope down and supply curves need to slope
up", help, "Prioritization, Demand and Supply Curves"). Profile type 0, fixed quantity, is
the whole quantity at every price on either side."""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..ir.constants import NA_VALUE as NA
from .kernel_intrinsics import JIT
from .kernel_lib import allocate, curve_spread, demand_share, valid_curve


@njit(**JIT)
def _valid_profile(ptype, width, priority, extra):
    return ptype == 0.0 or valid_curve(ptype, width, priority, extra)


@njit(**JIT)
def supply_share(ptype, x, priority, width, extra):
    """The fraction of its capacity a supplier offers at price x: the cumulative distribution
    its profile names (0 fixed quantity: all of it at every price; 5 the constant
    elasticity curve's distribution, see kernel_lib.elasticity_share)."""
    if ptype == 0:
        return 1.0
    return 1.0 - demand_share(ptype, x, priority, width, extra)


@njit(**JIT)
def _excess(v, b, nd, ns, x):
    """Demand minus supply at price x over the block (see find_market_price)."""
    total = 0.0
    for i in range(nd):
        q = v[b + i]
        if q > 0.0:
            p = b + nd + 4 * i
            total += q * demand_share(v[p], x, v[p + 1], v[p + 2], v[p + 3])
    base = b + 5 * nd
    for j in range(ns):
        q = v[base + j]
        if q > 0.0:
            p = base + ns + 4 * j
            total -= q * supply_share(v[p], x, v[p + 1], v[p + 2], v[p + 3])
    return total


@njit(**JIT)
def _boundary(v, b, nd, ns, lo, hi):
    """By bisection, the price where the excess demand stops being >= 0: it is at lo and
    not at hi, and it falls as the price rises."""
    for _ in range(2200):       # enough halvings for any two finite prices
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        if _excess(v, b, nd, ns, mid) >= 0.0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


# the share of its quantity at which the search for the market price leaves a constant
# elasticity curve's tail (type 5): the normal curve's 5 standard deviations leave 3e-7 of it,
# the exponential's 10 widths 2e-5
ELASTICITY_TAIL = 1e-6


@njit(**JIT)
def _reach(ptype, extra):
    """How far from its priority a curve of this type is searched for the market price, in
    widths, below and above: the support of the rectangular and triangular curves; 5
    standard deviations of the normal, 10 widths of the exponential (where Vensim's FIND
    MARKET PRICE stops: with no demand it gives the lowest priority less these, -4 and -9
    for priority 1, width 1); for the constant elasticity curve, from its priority (flat up
    to priority + width) to where its share is ELASTICITY_TAIL (at most 1e15 widths)."""
    if ptype == 3.0:
        return 5.0, 5.0
    if ptype == 4.0:
        return 10.0, 10.0
    if ptype == 5.0:
        return 0.0, min(ELASTICITY_TAIL ** (-1.0 / abs(extra)), 1e15)
    return 0.5, 0.5


@njit(**JIT)
def find_market_price(v, b, m, nd):
    """FIND MARKET PRICE over the block v[b:b+m]: the nd demanders' satiation quantities,
    their profiles (ptype, ppriority, pwidth, pextra each), then the suppliers' capacities
    and profiles likewise. The price at which total demand equals total supply, searched by
    bisection (the excess demand falls as the price rises) between the lowest and highest
    prices the curves reach (`_reach`); where the excess is negative (or positive) over the
    whole range, its low (or high) end, and where demand equals supply over an interval of
    prices, its high end (so with no demand at all, the price below which nothing is
    supplied: Vensim's output). A constant elasticity curve's tail (type 5) is searched
    beyond its reach when the price that clears lies there, and NaN when no finite price
    does. :NA: when no quantity depends on the price (every profile of type 0, fixed
    quantity); NaN for an invalid input: a negative quantity, a profile type other than 0-5,
    a width that is not positive, an elasticity of 0 for type 5."""
    nd = int(nd)
    ns = (m - 5 * nd) // 5
    lo = math.inf
    hi = -math.inf
    tails = False
    for k in range(nd + ns):
        q = v[b + k] if k < nd else v[b + 5 * nd + k - nd]
        p = b + nd + 4 * k if k < nd else b + 5 * nd + ns + 4 * (k - nd)
        if not q >= 0.0 or not _valid_profile(v[p], v[p + 2], v[p + 1], v[p + 3]):
            return math.nan
        if q > 0.0 and v[p] != 0.0:
            below, above = _reach(v[p], v[p + 3])
            lo = min(lo, v[p + 1] - below * curve_spread(v[p], v[p + 2]))
            hi = max(hi, v[p + 1] + above * curve_spread(v[p], v[p + 2]))
            tails = tails or v[p] == 5.0
    if lo > hi:    # no quantity depends on the price
        return NA
    if _excess(v, b, nd, ns, lo) < 0.0:
        return lo
    if _excess(v, b, nd, ns, hi) >= 0.0:
        if not (tails and _excess(v, b, nd, ns, math.inf) < 0.0):
            return hi
        # a constant elasticity curve's tail: the price that clears lies beyond its reach,
        # searched up to the largest finite price; none there: NaN, never a price that
        # does not clear
        span = hi - lo
        while _excess(v, b, nd, ns, hi) >= 0.0 and math.isfinite(hi):
            lo = hi
            hi += span
            span *= 2.0
        if not math.isfinite(hi):
            return math.nan
    return _boundary(v, b, nd, ns, lo, hi)


@njit(**JIT)
def _at_price(v, b, m, price, demand):
    n = m // 5
    for i in range(n):
        p = b + n + 4 * i
        if not v[b + i] >= 0.0 or not _valid_profile(v[p], v[p + 2], v[p + 1], v[p + 3]):
            v[b:b + n] = math.nan
            return 0.0
    for i in range(n):
        q = v[b + i]
        p = b + n + 4 * i
        if q > 0.0:
            share = demand_share(v[p], price, v[p + 1], v[p + 2], v[p + 3]) if demand else \
                supply_share(v[p], price, v[p + 1], v[p + 2], v[p + 3])
            v[b + i] = q * share
        else:
            v[b + i] = 0.0
    return 0.0


@njit(**JIT)
def demand_at_price(v, b, m, price):
    """DEMAND AT PRICE: quantities v[b:b+n], then each one's profile; the quantity each
    demands at the price written to v[b:b+n] (NaN for all on an invalid input, as
    find_market_price)."""
    return _at_price(v, b, m, price, True)


@njit(**JIT)
def supply_at_price(v, b, m, price):
    """SUPPLY AT PRICE: capacities v[b:b+n], then each one's profile; the quantity each
    supplies at the price written to v[b:b+n]."""
    return _at_price(v, b, m, price, False)


@njit(**JIT)
def marketp(v, b, m, width, supply):
    """MARKETP: v[b] the size, how many requesters take part (a whole number from 1 to the n
    given), then n requests v[b+1:b+1+n] and their n priorities. The market priority at which
    ALLOCATE BY PRIORITY's rectangular profiles of that width share the supply out among the
    first `size` requesters (help, "MARKETP": ALLOC P at it gives ALLOCATE BY PRIORITY's
    allocations). When the supply covers every request, the highest priority at which each
    gets all it asks for (the lowest priority - width / 2); when there is no supply, the
    lowest at which none gets anything (the highest priority + width / 2): the help leaves
    both open. NaN for an invalid input (a size that is not one of 1..n, a width that is not
    positive, a negative request)."""
    every = (m - 1) // 2
    size = v[b]
    if not width > 0.0 or not (size == math.floor(size) and 1.0 <= size <= every):
        return math.nan
    n = int(size)
    q = v[b + 1:b + 1 + n].copy()
    prio = v[b + 1 + every:b + 1 + every + n].copy()
    out = np.empty(n)
    x = allocate(q, np.full(n, 1.0), prio, np.full(n, width), np.zeros(n), supply, out)
    if not math.isnan(x) or (n > 0 and math.isnan(out[0])):
        return x     # the level, or NaN for an invalid input
    lo = math.inf
    hi = -math.inf
    for i in range(n):
        if q[i] > 0.0:
            lo = min(lo, prio[i] - 0.5 * width)
            hi = max(hi, prio[i] + 0.5 * width)
    if lo > hi:    # nothing is requested: every priority gives the same
        return 0.0
    return lo if supply > 0.0 else hi


@njit(**JIT)
def alloc_p(request, priority, width, mp):
    """ALLOC P(request, priority, width, mp): what a requester gets at the market priority
    mp from MARKETP: its request times its rectangular profile's share at mp (the same
    arithmetic as ALLOCATE BY PRIORITY's, so the two give the same numbers)."""
    if not request > 0.0:
        return 0.0 if request == 0.0 else math.nan
    if not width > 0.0:
        return math.nan
    return request * demand_share(1.0, mp, priority, width, 0.0)
