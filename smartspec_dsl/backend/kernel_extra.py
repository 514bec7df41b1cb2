"""Numba helpers for the less common Vensim builtins (LOOKUP INVERT, DELAY
MATERIAL). Kept apart from kernel_lib so that the core helpers stay small;
generated kernels import both."""
from __future__ import annotations

import math

from numba import njit

from .kernel_intrinsics import JIT


@njit(**JIT)
def lookup_invert(y, tab, off, n):
    """The x at which the table (xs then ys at tab[off:off+2n]) reaches y, by
    linear interpolation on the first segment that spans y. A y outside the
    table's range gives the x of the end point whose y is nearest, as an
    ordinary lookup holds its end values."""
    ys = off + n
    for i in range(n - 1):
        y0, y1 = tab[ys + i], tab[ys + i + 1]
        if (y0 <= y <= y1) or (y1 <= y <= y0):
            if y1 == y0:
                return tab[off + i]
            return tab[off + i] + (y - y0) * (tab[off + i + 1] - tab[off + i]) / (y1 - y0)
    best = 0
    for i in range(1, n):
        if abs(tab[ys + i] - y) < abs(tab[ys + best] - y):
            best = i
    return tab[off + best]


# ---- DELAY MATERIAL ------------------------------------------------------------------
# A pipeline of time steps: what enters at step j leaves at step j + k, k being the
# delay time (as it is at entry) in whole steps. Its buffer region holds C values
# then C occupancy flags; a step no material is due at yields the missing value.
# C covers the whole run, so material can wait any time the run can show.

@njit(**JIT)
def material_size(t0, t1, dt):
    """What the buffer sizing (fixed_delay_slots) turns into 2C slots."""
    steps = (t1 - t0) / dt
    c = (math.floor(steps + 0.5) if math.isfinite(steps) and steps > 0 else 0.0) + 3.0
    return 2.0 * c * dt


@njit(**JIT)
def _material_steps(delay, dt, c):
    # Vensim's minimum delay is one TIME STEP; anything beyond C - 2 steps is past the run's end
    k = delay / dt + 0.5
    if not k >= 2.0:
        return 1
    if k > c - 2:
        return c - 2
    return int(math.floor(k))


@njit(**JIT)
def material_out(buf, off, n2, istep, missing):
    """The pipeline's output at step istep (read only: RK4 reads a step more than once)."""
    c = n2 // 2
    s = istep % c
    # step 0 reads the buffer as setup filled it: the initial value
    if istep == 0 or buf[off + c + s] != 0.0:
        return buf[off + s]
    return missing


@njit(**JIT)
def material_in(buf, off, n2, istep, x, delay, dt, initial):
    """Puts step istep's input in the pipeline, once per step, after the step's output was read."""
    c = n2 // 2
    if istep == 0:
        # the pipeline starts full of the initial value for the initial delay time
        k0 = _material_steps(delay, dt, c)
        for i in range(c):
            buf[off + i] = initial if i < k0 else 0.0
            buf[off + c + i] = 1.0 if i < k0 else 0.0
    else:
        done = (istep - 1) % c
        buf[off + done] = 0.0
        buf[off + c + done] = 0.0
    s = (istep + _material_steps(delay, dt, c)) % c
    # a shortened delay time lands material on a step already due: the amounts add up
    buf[off + s] += x
    buf[off + c + s] = 1.0
