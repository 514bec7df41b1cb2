"""Numba helpers that generated kernels call. Compiled once per install (cached).

Each Vensim conditional is a call of a tiny helper rather than an inline
`a if c else b`: Numba's compile time grows steeply with the number of
branches in one function, while LLVM inlines these into branch-free selects.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

JIT = dict(cache=True, nogil=True, error_model="numpy", fastmath=False)


@njit(**JIT)
def ite(c, a, b):
    return a if c != 0.0 else b


@njit(**JIT)
def b2f(c):
    return 1.0 if c else 0.0


@njit(**JIT)
def land(a, b):
    return 1.0 if (a != 0.0 and b != 0.0) else 0.0


@njit(**JIT)
def lor(a, b):
    return 1.0 if (a != 0.0 or b != 0.0) else 0.0


@njit(**JIT)
def lnot(a):
    return 1.0 if a == 0.0 else 0.0


@njit(**JIT)
def vmin(a, b):
    return a if a < b else b


@njit(**JIT)
def vmax(a, b):
    return a if a > b else b


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
def xidz(a, b, x):
    return x if b == 0.0 else a / b


@njit(**JIT)
def zidz(a, b):
    return 0.0 if b == 0.0 else a / b


@njit(**JIT)
def log2(x, base):
    return math.log(x) / math.log(base)


@njit(**JIT)
def power(a, b):
    return a ** b


@njit(**JIT)
def step(t, height, start):
    return height if t >= start else 0.0


@njit(**JIT)
def ramp(t, slope, start, end):
    if t < start:
        return 0.0
    if t < end:
        return slope * (t - start)
    return slope * (end - start)


@njit(**JIT)
def pulse(t, dt, start, width):
    w = width if width > 0.0 else dt
    return 1.0 if (t >= start and t < start + w) else 0.0


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


def warm_up() -> None:
    """Compile (or load from cache) every helper, so kernels link quickly."""
    tab = np.array([0.0, 1.0, 0.0, 1.0])
    ite(1.0, 1.0, 2.0); b2f(True); land(1.0, 0.0); lor(1.0, 0.0); lnot(0.0)
    vmin(1.0, 2.0); vmax(1.0, 2.0); integer(1.5); modulo(3.0, 2.0); quantum(3.0, 2.0)
    xidz(1.0, 0.0, 2.0); zidz(1.0, 0.0); log2(8.0, 2.0); power(2.0, 3.0)
    step(1.0, 1.0, 0.0); ramp(1.0, 1.0, 0.0, 2.0); pulse(1.0, 0.5, 0.0, 1.0)
    pulse_train(1.0, 0.5, 0.0, 1.0, 2.0, 5.0); lookup(0.5, tab, 0, 2)
    lookup_extrapolate(2.0, tab, 0, 2); lookup_forward(0.5, tab, 0, 2)
    lookup_backward(0.5, tab, 0, 2); fixed_delay_slots(1.0, 0.5)
