"""How far beyond a watched range (a lookup's x range, a range the units declare) a value
may lie and still be within it: shared by the kernels' watch set-up (kernel_extra.watch_setup,
compiled by Numba) and the run's warnings (runtime/diagnostics.py, which imports no Numba)."""
from __future__ import annotations

import math

TOLERANCE = 1e-9   # SIMULTANEOUS and FIND ZERO solve to this relative tolerance


def margin(lo: float, hi: float) -> float:
    """TOLERANCE of the larger finite bound's size. A loop SIMULTANEOUS solves whose root is
    a lookup's last x, or a declared range's bound, lands within its tolerance on either side
    of it, and a sum's rounding may end a hair beyond (10 * 0.39999999999999997 - 4 =
    -4.4e-16): neither is outside the range. A bound at 0 with the other one infinite has no
    scale and stays exact."""
    m = 0.0
    if math.isfinite(lo):
        m = abs(lo)
    if math.isfinite(hi):
        m = max(m, abs(hi))
    return TOLERANCE * m


def watched_range(lo: float, hi: float) -> tuple[float, float]:
    """The range a watch was set up for, from its widened bounds: the same numbers to 17
    digits of the margin, far beyond those a message shows."""
    m = margin(lo, hi)
    lo, hi = lo + m, hi - m
    # a bound of 0 comes back as the margins' rounding (1e-19): it was 0
    return (0.0 if abs(lo) < 1e-6 * m else lo), (0.0 if abs(hi) < 1e-6 * m else hi)
