"""Numba helpers that generated kernels call. Compiled once per install (cached).

The library generated kernels import: math and time functions, lookups, the
fixed-delay buffer and the whole-array functions
here; the intrinsics (state vector, conditionals) in kernel_intrinsics.py and
the random numbers in kernel_random.py, re-exported here; LOOKUP INVERT and
DELAY MATERIAL in kernel_extra.py.

Each Vensim conditional is a call of a tiny helper rather than an inline
`a if c else b`: Numba's compile time grows steeply with the number of
branches in one function, while LLVM inlines these into branch-free selects.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

# One import for generated kernels: the intrinsics and the random numbers
# live in their own modules.
from .kernel_intrinsics import (  # noqa: F401
    JIT, XIDZ_EPS, Slots, ld, st, stm, ldi, sti, tk, ix, sel, bf, fand,
    forr, fnot, fmin, fmax, fxidz, fzidz, fstep, watched, watched_lookup, load_int, watch, interrupted)
from .kernel_random import (  # noqa: F401
    splitmix64, uniform01, std_normal, random_uniform,
    random_normal, random_exponential, random_lognormal, random_triangular, random_poisson,
    random_gamma, random_beta, random_weibull, random_binomial, random_negative_binomial,
    random_lookup)

# Helpers take no explicit signatures: generated code passes integers through
# tk()/ix(), never as literals, so each compiles once, on first use, and a warm
# kernel loaded from the cache does not load them at all.


@njit(**JIT)
def vsum(v, first, n, stride):
    """v[first] + v[first + stride] + ... (n terms), left to right: SUM over a
    range whose elements sit at evenly spaced slots, as one small loop instead of
    an expression with a term per element."""
    total = 0.0
    for k in range(n):
        total += v[first + k * stride]
    return total


@njit(**JIT)
def integer(x):
    return float(math.trunc(x)) if math.isfinite(x) else x


@njit(**JIT)
def modulo(a, b):
    # Vensim's MODULO keeps the sign of the dividend, like C's fmod
    return a - b * math.trunc(a / b)


@njit(**JIT)
def quantum(a, q):
    if q <= 0.0:
        return a
    return q * math.trunc(a / q)


@njit(**JIT)
def log2(x, base):
    return math.log(x) / math.log(base)


@njit(**JIT)
def power(a, b):
    return a ** b


@njit(**JIT)
def ramp(t, slope, start, end):
    if t < start:
        return 0.0
    if t < end:
        return slope * (t - start)
    return slope * (end - start)


@njit(**JIT)
def pulse(t, dt, start, width):
    # Vensim: 1 while start < Time + TIME STEP/2 < start + width (a zero width lasts one step)
    w = width if width > 0.0 else dt
    mid = t + 0.5 * dt
    return 1.0 if (mid > start and mid < start + w) else 0.0


@njit(**JIT)
def pulse_train(t, dt, start, width, between, end):
    if t < start or t > end:
        return 0.0
    w = width if width > 0.0 else dt
    if between <= 0.0:
        return 1.0 if t < start + w else 0.0
    return 1.0 if (t - start) % between < w else 0.0


@njit(**JIT)
def lookup(x, tab, off, n):
    """Linear interpolation in a table stored as xs then ys at tab[off:off+2n]; clamped."""
    if x <= tab[off]:
        return tab[off + n]
    if x >= tab[off + n - 1]:
        return tab[off + 2 * n - 1]
    lo, hi = 0, n - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if tab[off + mid] <= x:
            lo = mid
        else:
            hi = mid
    x0, x1 = tab[off + lo], tab[off + hi]
    y0, y1 = tab[off + n + lo], tab[off + n + hi]
    return y0 + (x - x0) * (y1 - y0) / (x1 - x0)


@njit(**JIT)
def lookup_extrapolate(x, tab, off, n):
    if n < 2:
        return tab[off + n]
    if x < tab[off]:
        x0, x1, y0, y1 = tab[off], tab[off + 1], tab[off + n], tab[off + n + 1]
        return y0 + (x - x0) * (y1 - y0) / (x1 - x0)
    if x > tab[off + n - 1]:
        x0, x1 = tab[off + n - 2], tab[off + n - 1]
        y0, y1 = tab[off + 2 * n - 2], tab[off + 2 * n - 1]
        return y1 + (x - x1) * (y1 - y0) / (x1 - x0)
    return lookup(x, tab, off, n)


@njit(**JIT)
def lookup_forward(x, tab, off, n):
    """The y of the first table point at or after x (last y past the end)."""
    for i in range(n):
        if tab[off + i] >= x:
            return tab[off + n + i]
    return tab[off + 2 * n - 1]


@njit(**JIT)
def lookup_backward(x, tab, off, n):
    """The y of the last table point at or before x (first y before the start)."""
    for i in range(n - 1, -1, -1):
        if tab[off + i] <= x:
            return tab[off + n + i]
    return tab[off + n]


@njit(**JIT)
def fixed_delay_slots(delay, dt):
    k = int(math.floor(delay / dt + 0.5))
    return k if k > 0 else 1


# ---- whole-array functions -----------------------------------------------------
# A whole-array function's inputs sit in a scratch block of the state vector v,
# v[b:b+m] (see codegen: scratch); each helper below computes once per evaluation
# and writes its result over the start of that block, where the elements read it.
# Explicit signatures: the block offsets are integer constants in generated code,
# which Numba would otherwise type as literals and compile once per call site.

from ..ir.constants import NA_VALUE as NA  # noqa: E402  (Vensim's :NA:)


@njit(**JIT)
def _sort_order(x, direction):
    # stable, so equal values keep their order either way
    if direction > 0.0:
        return np.argsort(x, kind="mergesort")
    return np.argsort(-x, kind="mergesort")


@njit(**JIT)
def vector_sort_order(v, b, n, direction):
    """VECTOR SORT ORDER: the 0-based positions of v[b:b+n] in sorted order."""
    order = _sort_order(v[b:b + n].copy(), direction)
    for k in range(n):
        v[b + k] = float(order[k])
    return 0.0


@njit(**JIT)
def vector_rank(v, b, n, direction):
    """VECTOR RANK: each value's 1-based place in sorted order."""
    order = _sort_order(v[b:b + n].copy(), direction)
    for k in range(n):
        v[b + order[k]] = k + 1.0
    return 0.0


@njit(**JIT)
def invert_matrix(v, b, m):
    """INVERT MATRIX of the n x n matrix stored row-major in v[b:b+m] (Gauss-Jordan with
    partial pivoting); NaN everywhere when it is singular."""
    n = int(round(math.sqrt(m)))
    a = v[b:b + m].copy().reshape((n, n))
    inv = np.eye(n)
    for c in range(n):
        p = c
        for r in range(c + 1, n):
            if abs(a[r, c]) > abs(a[p, c]):
                p = r
        if a[p, c] == 0.0 or not math.isfinite(a[p, c]):
            v[b:b + m] = math.nan
            return 0.0
        if p != c:
            for j in range(n):
                a[c, j], a[p, j] = a[p, j], a[c, j]
                inv[c, j], inv[p, j] = inv[p, j], inv[c, j]
        d = a[c, c]
        for j in range(n):
            a[c, j] /= d
            inv[c, j] /= d
        for r in range(n):
            if r != c and a[r, c] != 0.0:
                f = a[r, c]
                for j in range(n):
                    a[r, j] -= f * a[c, j]
                    inv[r, j] -= f * inv[c, j]
    for i in range(n):
        for j in range(n):
            v[b + i * n + j] = inv[i, j]
    return 0.0


@njit(**JIT)
def _normal_tail(z):
    """P(Z > z) for a standard normal Z, through the erf approximation of Abramowitz &
    Stegun 7.1.25 (|error| < 2.5e-5): Vensim's normal priority profile uses it, its
    allocations' tails (up to 2% off the exact normal at 5 sd) match this one exactly."""
    x = abs(z) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.47047 * x)
    q = 0.5 * t * (0.3480242 + t * (-0.0958798 + t * 0.7478556)) * math.exp(-x * x)
    return q if z >= 0.0 else 1.0 - q


# Vensim's normal priority curve has a standard deviation of at least this: its output for
# widths 0, 0.001, 0.01, 0.03 and 0.05 is the same (DEMAND AT PRICE, SUPPLY AT PRICE and FIND
# MARKET PRICE at priority 10, SDEverywhere's test model allocate_normal_width and Vensim's
# output for it); a width of 0 is a valid normal curve
NORMAL_MIN_SD = 0.05


@njit(**JIT)
def curve_spread(ptype, width):
    """The width a priority curve of this type is drawn with: the width given, but at least
    NORMAL_MIN_SD for the normal curve (type 3)."""
    return max(width, NORMAL_MIN_SD) if ptype == 3.0 else width


@njit(**JIT)
def valid_curve(ptype, width, priority, extra):
    """Whether a priority curve of this type (1-5) can be drawn: a whole type from 1 to 5, a
    finite priority, a positive width (for the normal curve any width not negative, see
    NORMAL_MIN_SD) and, for the constant elasticity curve (type 5), a finite elasticity
    that is not 0 (a flat curve: see elasticity_share)."""
    if not (1.0 <= ptype <= 5.0 and ptype == math.floor(ptype) and math.isfinite(priority)):
        return False
    if ptype == 5.0 and not (math.isfinite(extra) and extra != 0.0):
        return False
    return width > 0.0 or (ptype == 3.0 and width >= 0.0)


@njit(**JIT)
def elasticity_share(x, priority, width, elasticity):
    """The constant elasticity curve (profile type 5): all of the quantity up to the
    truncation point priority + width, then ((x - priority) / width) ** -|elasticity|, so
    that the quantity's elasticity with respect to the level measured from the priority is
    the constant -|elasticity|. Vensim's help ("Specifying the Curves") names the curve's
    parameters, "the center, the width or truncation point and ... the elasticity" (ppriority,
    pwidth, pextra), and its shape, "a truncated constant elasticity" curve ("Prioritization,
    Demand and Supply Curves"), but gives no formula; smartspec reads it as the survival
    function of a Pareto distribution located at the priority with the width its scale (its
    truncation point) and the elasticity its shape, so that, like types 1-4, it is the
    complement of a distribution shifted along the level by the priority, never above the
    quantity given (ALLOCATE AVAILABLE gives no one more than its request) and continuous.
    The sign of pextra is not read: a demand curve slopes down and a supply curve up."""
    d = (x - priority) / width
    if d <= 1.0:
        return 1.0
    return d ** -abs(elasticity)


@njit(**JIT)
def demand_share(ptype, x, priority, width, extra):
    """The fraction of its request a requester gets at priority level x: the complement of
    the cumulative distribution its profile names (1 rectangular, 2 triangular, 3 normal,
    4 exponential, 5 constant elasticity with elasticity `extra`, see elasticity_share),
    centred on its priority; all of it at every level for 0 (fixed quantity: "constant for
    all priorities", Vensim help, "Specifying the Curves")."""
    if ptype == 0:
        return 1.0
    if ptype == 1 or ptype == 2:
        lo = priority - 0.5 * width
        hi = priority + 0.5 * width
        if x <= lo:
            return 1.0
        if x >= hi:
            return 0.0
        if ptype == 1:
            return (hi - x) / width
        if x < priority:
            d = (x - lo) / width
            return 1.0 - 2.0 * d * d
        d = (hi - x) / width
        return 2.0 * d * d
    if ptype == 3:
        return _normal_tail((x - priority) / curve_spread(ptype, width))
    if ptype == 5:
        return elasticity_share(x, priority, width, extra)
    if x < priority:
        return 1.0 - 0.5 * math.exp((x - priority) / width)
    return 0.5 * math.exp((priority - x) / width)


@njit(**JIT)
def _allocated(q, ptype, priority, width, extra, x):
    total = 0.0
    for i in range(q.shape[0]):
        if q[i] > 0.0:
            total += q[i] * demand_share(ptype[i], x, priority[i], width[i], extra[i])
    return total


@njit(**JIT)
def allocate(q, ptype, priority, width, extra, avail, out):
    """Vensim's one-to-many allocation: every requester i gets q[i] * share_i(x) at the one
    priority level x where the shares add up to what is available (found by bisection;
    the total falls as x rises). Fixed-quantity requesters (type 0) get their request at
    every level; when even those exceed what is available they share it in proportion to
    their requests and the others get nothing (the help does not say; this is the
    limit of the rule as the level rises). NaN for all when an input is invalid: a
    negative request, a profile type other than 0-5, a width that is not positive (not
    negative for the normal curve, see NORMAL_MIN_SD), an elasticity of 0 for type 5
    (`valid_curve`); NaN too where no finite level shares out what is available (a constant
    elasticity curve of a small elasticity: its share falls below what is left only beyond
    the largest number). Returns the level x (MARKETP's market priority); NaN where no one
    level applies (an invalid input, or what is available covers every request or none)."""
    n = q.shape[0]
    total = 0.0
    fixed = 0.0
    lo = math.inf
    hi = -math.inf
    for i in range(n):
        if not q[i] >= 0.0:
            out[:] = math.nan
            return math.nan
        if q[i] > 0.0:
            t = ptype[i]
            if t == 0.0:
                fixed += q[i]
                total += q[i]
                continue
            if not valid_curve(t, width[i], priority[i], extra[i]):
                out[:] = math.nan
                return math.nan
            total += q[i]
            lo = min(lo, priority[i] - curve_spread(t, width[i]))
            hi = max(hi, priority[i] + curve_spread(t, width[i]))
    if math.isnan(avail):
        out[:] = math.nan
        return math.nan
    if avail >= total:
        out[:] = q
        return math.nan
    if avail <= 0.0:
        out[:] = 0.0
        return math.nan
    if avail <= fixed:
        for i in range(n):
            out[i] = q[i] * avail / fixed if q[i] > 0.0 and ptype[i] == 0.0 else 0.0
        return math.nan
    # normal, exponential and constant elasticity profiles have tails: widen until the level
    # is bracketed (a constant elasticity curve of a small elasticity reaches far: up to the
    # largest finite level), and where no finite level brackets it, NaN, never the end of a
    # range that does not share out what is available
    span = hi - lo
    while _allocated(q, ptype, priority, width, extra, lo) < avail and math.isfinite(lo):
        lo -= span
        span *= 2.0
    span = hi - lo
    while _allocated(q, ptype, priority, width, extra, hi) > avail and math.isfinite(hi):
        hi += span
        span *= 2.0
    if not (math.isfinite(lo) and math.isfinite(hi)):
        out[:] = math.nan
        return math.nan
    for _ in range(2200):       # enough halvings for any two finite levels
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        if _allocated(q, ptype, priority, width, extra, mid) > avail:
            lo = mid
        else:
            hi = mid
    x = 0.5 * (lo + hi)
    for i in range(n):
        out[i] = q[i] * demand_share(ptype[i], x, priority[i], width[i], extra[i]) if q[i] > 0.0 else 0.0
    return x


@njit(**JIT)
def allocate_available(v, b, m, avail):
    """ALLOCATE AVAILABLE: requests v[b:b+n], then per requester its profile
    (ptype, ppriority, pwidth, pextra); allocations written to v[b:b+n]. A type of 10 to
    15 is the type less 10 with whole allocations ("ALLOCATE AVAILABLE can be used to
    return integer allocations by adding 10 to the shape", Vensim help): see
    `whole_allocations`."""
    n = m // 5
    q = v[b:b + n].copy()
    prof = v[b + n:b + m].copy().reshape((n, 4))
    ptype = prof[:, 0].copy()
    whole = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        if ptype[i] >= 10.0:
            whole[i] = True
            ptype[i] -= 10.0
    out = np.empty(n)
    allocate(q, ptype, prof[:, 1].copy(), prof[:, 2].copy(), prof[:, 3].copy(), avail, out)
    if n > 0 and np.any(whole) and not math.isnan(out[0]):
        whole_allocations(out, whole, prof[:, 1].copy())
    v[b:b + n] = out
    return 0.0


@njit(**JIT)
def whole_allocations(out, whole, priority):
    """The allocations out[i] of the requesters marked `whole` made whole numbers: their
    total, rounded down, is shared as each one's allocation rounded down, then one more
    to each of the largest fractions left until the total is reached (ties to the higher
    priority, then the earlier requester). The help says only that the allocations are
    integers; this keeps each within one of its share and never gives more in all than
    the continuous allocation did, so never more than what is available."""
    total = 0.0
    for i in range(out.shape[0]):
        if whole[i]:
            total += out[i]
    left = math.floor(total + 1e-9)
    frac = np.full(out.shape[0], -1.0)
    for i in range(out.shape[0]):
        if whole[i]:
            low = math.floor(out[i] + 1e-9)
            frac[i] = out[i] - low
            out[i] = low
            left -= low
    while left > 0.5:
        best = -1
        for i in range(out.shape[0]):
            if frac[i] >= 0.0 and (best < 0 or frac[i] > frac[best] + 1e-12 or
                                   (abs(frac[i] - frac[best]) <= 1e-12 and priority[i] > priority[best])):
                best = i
        if best < 0:
            break
        out[best] += 1.0
        frac[best] = -1.0
        left -= 1.0


@njit(**JIT)
def allocate_by_priority(v, b, m, width, supply):
    """ALLOCATE BY PRIORITY: requests v[b:b+n], priorities v[b+n:b+2n]; rectangular
    profiles of the given width; allocations written to v[b:b+n]."""
    n = m // 2
    q = v[b:b + n].copy()
    out = np.empty(n)
    allocate(q, np.full(n, 1.0), v[b + n:b + m].copy(), np.full(n, width), np.zeros(n), supply, out)
    v[b:b + n] = out
    return 0.0


@njit(**JIT)
def vector_at(v, b, n, index):
    """Element `index` (0-based, rounded to the nearest whole number) of the vector
    v[b:b+n]; :NA: outside it, as Vensim's VECTOR ELM MAP gives."""
    if not math.isfinite(index):
        return NA
    k = math.floor(index + 0.5)
    if k < 0 or k >= n:
        return NA
    return v[b + int(k)]


@njit(**JIT)
def vector_select(v, b, n, missing, action):
    """VECTOR SELECT with a numerical action known only at run time: selection
    v[b:b+n], values v[b+n:b+2n]. Actions as in subscripts.vector_select (0 sum,
    1 product, 2 min, 3 max, 4 mean of selection * value; 5 product of value ^ selection;
    6-10 as 0-4 of the values alone); NaN for an action that is not one of 0-10."""
    a = math.floor(action + 0.5)
    if not (abs(action - a) < 1e-9 and 0.0 <= a <= 10.0):
        return math.nan
    k = int(a)
    kind = k if k <= 4 else (1 if k == 5 else k - 6)
    count = 0
    acc = 0.0
    if kind == 1:
        acc = 1.0
    elif kind == 2:
        acc = math.inf
    elif kind == 3:
        acc = -math.inf
    for i in range(n):
        s = v[b + i]
        if s == 0.0:
            continue
        x = v[b + n + i]
        val = s * x if k <= 4 else (x ** s if k == 5 else x)
        count += 1
        if kind == 0 or kind == 4:
            acc += val
        elif kind == 1:
            acc *= val
        elif kind == 2:
            acc = val if val < acc else acc
        else:
            acc = val if val > acc else acc
    if count == 0:
        return missing
    return acc / count if kind == 4 else acc
