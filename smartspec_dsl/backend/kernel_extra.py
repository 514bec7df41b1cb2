"""Numba helpers for the less common Vensim builtins (LOOKUP INVERT, DELAY
MATERIAL). Kept apart from kernel_lib so that the core helpers stay small;
generated kernels import both."""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..ir.constants import NA_VALUE as NA
from .kernel_intrinsics import JIT, float_bits
from .kernel_lib import fixed_delay_slots, lookup, lookup_backward, lookup_extrapolate, lookup_forward
from .watch import margin


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
    return tab[off + _nearest_y(y, tab, off, n)]


@njit(**JIT)
def _nearest_y(y, tab, off, n):
    best = 0
    for i in range(1, n):
        if abs(tab[off + n + i] - y) < abs(tab[off + n + best] - y):
            best = i
    return best


@njit(**JIT)
def lookup_invert_extrapolated(y, tab, off, n):
    """lookup_invert, with a y beyond the table's range read on the end segment nearest to
    it extended (VECTOR LOOKUP mode 8, "LOOKUP INVERT with extrapolation", Vensim help):
    the x at which that segment's straight line reaches y; a flat end segment, which
    reaches no other y, gives its end point's x, as lookup_invert does."""
    ys = off + n
    for i in range(n - 1):
        y0, y1 = tab[ys + i], tab[ys + i + 1]
        if (y0 <= y <= y1) or (y1 <= y <= y0):
            return lookup_invert(y, tab, off, n)
    best = _nearest_y(y, tab, off, n)
    if n < 2 or (best != 0 and best != n - 1):
        return tab[off + best]
    i = 0 if best == 0 else n - 2
    dy = tab[ys + i + 1] - tab[ys + i]
    if dy == 0.0:
        return tab[off + best]
    return tab[off + best] + (y - tab[ys + best]) * (tab[off + i + 1] - tab[off + i]) / dy


@njit(**JIT)
def gamma_ln(x):
    """GAMMA LN(x): ln of the gamma function's magnitude (C's lgamma); +inf at 0 and the
    negative integers, where the gamma function has its poles."""
    if x <= 0.0 and x == math.floor(x):
        return math.inf
    return math.lgamma(x)


@njit(**JIT)
def lookup_area(a, b, tab, off, n):
    """LOOKUP AREA(lookup, a, b): the area under the lookup from a to b, the table read as
    a lookup reads it (straight lines between points, end values held beyond them; Vensim
    help, "LOOKUP AREA"). b < a gives the negative of the area from b to a."""
    sign = 1.0
    if b < a:
        a, b, sign = b, a, -1.0
    xs, ys = off, off + n
    area = 0.0
    lo = a
    # before the first point and after the last: the end values, held
    if lo < tab[xs]:
        hi = min(b, tab[xs])
        area += (hi - lo) * tab[ys]
        lo = hi
    for i in range(n - 1):
        x0, x1 = tab[xs + i], tab[xs + i + 1]
        if x1 <= lo or x0 >= b or x1 == x0:
            continue
        l, h = max(lo, x0), min(b, x1)
        y0, y1 = tab[ys + i], tab[ys + i + 1]
        yl = y0 + (l - x0) * (y1 - y0) / (x1 - x0)
        yh = y0 + (h - x0) * (y1 - y0) / (x1 - x0)
        area += 0.5 * (yl + yh) * (h - l)
    if b > tab[xs + n - 1]:
        start = max(a, tab[xs + n - 1])
        area += (b - start) * tab[ys + n - 1]
    return sign * area


@njit(**JIT)
def _segment_slope(tab, off, n, i):
    return (tab[off + n + i + 1] - tab[off + n + i]) / (tab[off + i + 1] - tab[off + i])


@njit(**JIT)
def lookup_slope(x, mode, tab, off, n):
    """LOOKUP SLOPE(lookup, x, mode): the slope of the table's line at x (Vensim help,
    "LOOKUP SLOPE"): between points the segment's slope; at a point the mean of the
    slopes before and after it, :NA: where two points share that x; beyond the ends 0
    (mode 0), the nearest segment's slope (mode 1) or :NA: (mode -1). Any other mode,
    which the help does not define, gives NaN at every x (the run then warns).
    At an end point itself there is one segment, whose slope it gives (the help leaves
    the ends open; this is the slope inside the table)."""
    if mode != 0.0 and mode != 1.0 and mode != -1.0:
        return math.nan
    if n < 2 or math.isnan(x):
        return 0.0 if n == 1 and mode == 0.0 else NA
    first, last = tab[off], tab[off + n - 1]
    if x < first or x > last:
        if mode == 0.0:
            return 0.0
        if mode == 1.0:
            return _segment_slope(tab, off, n, 0 if x < first else n - 2)
        return NA
    for i in range(n):
        if tab[off + i] == x:
            if (i > 0 and tab[off + i - 1] == x) or (i < n - 1 and tab[off + i + 1] == x):
                return NA
            if i == 0:
                return _segment_slope(tab, off, n, 0)
            if i == n - 1:
                return _segment_slope(tab, off, n, n - 2)
            return 0.5 * (_segment_slope(tab, off, n, i - 1) + _segment_slope(tab, off, n, i))
        if tab[off + i] > x:
            return _segment_slope(tab, off, n, i - 1)
    return NA


@njit(**JIT)
def _area_extrapolated(a, b, tab, off, n):
    """The area from a to b (a <= b) under the table's lines, the first and last segments
    extended beyond the ends (a trapezoid of the extended line on each side)."""
    x0, x1, xl0, xl1 = tab[off], tab[off + 1], tab[off + n - 2], tab[off + n - 1]
    area = 0.0
    if a < x0:
        h = min(b, x0)
        slope = (tab[off + n + 1] - tab[off + n]) / (x1 - x0)
        ya = tab[off + n] + (a - x0) * slope
        yh = tab[off + n] + (h - x0) * slope
        area += 0.5 * (ya + yh) * (h - a)
    lo, hi = max(a, x0), min(b, xl1)
    if hi > lo:
        area += lookup_area(lo, hi, tab, off, n)
    if b > xl1:
        l = max(a, xl1)
        slope = (tab[off + 2 * n - 1] - tab[off + 2 * n - 2]) / (xl1 - xl0)
        yl = tab[off + 2 * n - 1] + (l - xl1) * slope
        yb = tab[off + 2 * n - 1] + (b - xl1) * slope
        area += 0.5 * (yl + yb) * (b - l)
    return area


@njit(**JIT)
def vector_lookup(v, b, n, x, xmin, xmax, mode):
    """VECTOR LOOKUP(vec, x, xmin, xmax, mode) (Vensim help): the vector v[b:b+n] as the
    y values of a lookup whose n points divide [xmin, xmax] evenly, read as mode says:
    0 lookup, 1 LOOKUP AREA from xmin, 2 LOOKUP BACKWARD, 3 LOOKUP EXTRAPOLATE,
    4 LOOKUP FORWARD, 5 LOOKUP INVERT, 6 LOOKUP SLOPE, 7 the area from xmin with the end
    segments extended, 8 LOOKUP INVERT with the end segments extended, 9 LOOKUP SLOPE
    extrapolated (the end segments' slopes beyond them). Another mode gives NaN (a mode
    known before the run is checked when the model is built; the run's NaN watch reports
    one computed during it)."""
    tab = np.empty(2 * n)
    for k in range(n):
        tab[k] = xmin + k * (xmax - xmin) / (n - 1)
        tab[n + k] = v[b + k]
    m = math.floor(mode + 0.5)
    if abs(mode - m) > 1e-9:
        return math.nan
    if m == 0:
        return lookup(x, tab, 0, n)
    if m == 1:
        return lookup_area(xmin, x, tab, 0, n)
    if m == 2:
        return lookup_backward(x, tab, 0, n)
    if m == 3:
        return lookup_extrapolate(x, tab, 0, n)
    if m == 4:
        return lookup_forward(x, tab, 0, n)
    if m == 5:
        return lookup_invert(x, tab, 0, n)
    if m == 8:
        return lookup_invert_extrapolated(x, tab, 0, n)
    if m == 6 or m == 9:
        return lookup_slope(x, 0.0 if m == 6 else 1.0, tab, 0, n)
    if m == 7:
        if x >= xmin:
            return _area_extrapolated(xmin, x, tab, 0, n)
        return -_area_extrapolated(x, xmin, tab, 0, n)
    return math.nan


@njit(**JIT)
def information_out(buf, off, istep, delay, dt, initial):
    """DELAY INFORMATION's output at step istep: the input of step istep - k, k the delay
    time now in whole TIME STEPs (one at least), or the initial value before the run's
    start. A delay that shrinks skips inputs, one that grows repeats them, as the help
    says ("discarding inputs if T decreases and holding inputs if T increases"). The
    buffer holds every step's input (written after the step's output is read)."""
    k = delay / dt + 0.5
    k = math.floor(k) if k >= 1.0 else 1.0
    j = istep - k
    if not j >= 0.0:
        return initial
    return buf[off + int(j)]


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


# ---- simulation warnings ----------------------------------------------------
# A watch is five slots of the state vector v: its range [lo, hi], then the first time
# its value went below, the first time above, the first time back within after being
# outside (+inf until then), kept by kernel_intrinsics.watched. The runtime reads the times
# after the run.

watch_margin = njit(**JIT)(margin)   # the margin of watch_setup (backend/watch.py)


@njit(**JIT)
def watch_setup(v, tab, slots, tables, lo, hi):
    """Watch j (at v[slots[j]]) watches the x range of lookup table tables[j] as this run's
    table vector has it, or [lo[j], hi[j]] when tables[j] < 0; nothing seen yet. The range
    is widened by `watch.margin`: a value within the rounding of its bound is within it."""
    for j in range(slots.shape[0]):
        s = slots[j]
        if tables[j] >= 0:
            off, n = int(tab[2 * tables[j]]), int(tab[2 * tables[j] + 1])
            a, b = tab[off], tab[off + n - 1]
        else:
            a, b = lo[j], hi[j]
        m = watch_margin(a, b)
        v[s], v[s + 1] = a - m, b + m
        v[s + 2] = v[s + 3] = v[s + 4] = math.inf


@njit(**JIT)
def step_offset(v, t0, dt, slot):
    """The number of TIME STEPs from INITIAL TIME (v[slot]) to a run's first time t0: 0 for
    a run from INITIAL TIME; k for a run that continues a saved state at step k, whose steps
    then take the numbers they have in the one run it continues (a random draw is a hash of
    the step's number, runtime/single.py)."""
    return int(round((t0 - v[slot]) / dt))


@njit(**JIT)
def restore_buffers(buf, bi, held, held_bi, plain):
    """A continued run's buffer from the one a saved state holds (`held`, its regions
    `held_bi`: (offset, length) each; none: a run from the start, `buf` and `bi` as they
    are). `buf` is laid out by the initialisation (region j at buf[bi[2j]:][:bi[2j+1]]);
    region j takes the saved region j's content, as much as it holds. A plain DELAY FIXED
    (`plain[j]`) keeps its saved length: its delay time is read when the run starts, so the
    one run the state continues keeps the delay it started with (a continued run's
    initialisation reads the delay at its own first time). Regions that span the run keep
    this run's length; the runtime refuses those that cannot continue exactly
    (Buffer.grows). Returns the buffer and its regions."""
    if held_bi.shape[0] == 0:
        return buf, bi
    nb = bi.copy()
    total = 0
    for j in range(bi.shape[0] // 2):
        nb[2 * j] = total
        nb[2 * j + 1] = held_bi[2 * j + 1] if plain[j] else bi[2 * j + 1]
        total += nb[2 * j + 1]
    out = np.empty(total)
    for j in range(bi.shape[0] // 2):
        a, n = nb[2 * j], nb[2 * j + 1]
        m = min(n, held_bi[2 * j + 1])
        for i in range(m):
            out[a + i] = held[held_bi[2 * j] + i]
        for i in range(m, n):       # beyond the saved content: as the initialisation laid it out
            out[a + i] = buf[bi[2 * j] + i]
    return out, nb


# ---- the drivers' arrays ----------------------------------------------------------
# The arrays a generated driver makes (driver.py). Numba compiles an allocation, a zero
# fill or a slice assignment written in a kernel again for every kernel, in every process
# that compiles one (np.zeros alone is 0.2 s of CPU); here they are compiled once per
# install and loaded from the cache. A size comes as a plain integer (`ix`), so that one
# specialisation serves every kernel.

@njit(**JIT)
def zeros(n):
    """n float64 zeros."""
    return np.zeros(n)


@njit(**JIT)
def empty(n):
    """n float64 entries, not set."""
    return np.empty(n)


@njit(**JIT)
def zeros_rk4(n):
    """An (n, 3) float64 array of zeros: RK4's first three slopes of n stocks."""
    return np.zeros((n, 3))


@njit(**JIT)
def clear(v):
    """v[:] = 0."""
    for i in range(v.shape[0]):
        v[i] = 0.0


@njit(**JIT)
def lay_out_buffers(v, dt, slots, outputs, n_fixed, least):
    """The buffer of a run's `n_fixed` regions (order.buffer_of) and the regions (offset,
    length) each, at least two entries: region j is fixed_delay_slots(v[slots[j]], dt) long
    and holds v[outputs[j]] throughout; the buffer has at least `least` entries."""
    bi = np.zeros(max(2, 2 * n_fixed), dtype=np.int64)
    total = 0
    for j in range(n_fixed):
        n = fixed_delay_slots(v[slots[j]], dt)
        bi[2 * j] = total
        bi[2 * j + 1] = n
        total += n
    buf = np.empty(max(total, least))
    for j in range(n_fixed):
        for i in range(bi[2 * j], bi[2 * j] + bi[2 * j + 1]):
            buf[i] = v[outputs[j]]
    return buf, bi


_EXPONENT = 0x7FF0000000000000   # the exponent bits of a float64: all set for inf and NaN


@njit(**JIT)
def check_finite(v, n, s):
    """At a saved time: record in the watch v[s:s+3] = (slot, value, time) the first of the
    values v[1:n] (every variable of the model) that is infinite or NaN, once per run, so
    that a variable that is not saved is reported too (runtime/diagnostics)."""
    check_finite_skipping(v, n, s, (1, 1), 1)


@njit(**JIT)
def check_finite_skipping(v, n, s, skip, saved):
    """check_finite at the `saved`-th save, but after the first one without the slots
    skip[0] to skip[1] - 1: a generated kernel skips its constants (set once, before the
    first save, and a run refuses any that is not finite), so a model with few variables
    and many constants, saved at every step, pays for its time-varying values only. The scan reads
    the values' exponent bits as integers, which the compiler vectorises (a float sum would have
    to be added in order); World3 has about 1,000 values and 201 saves. The bits come from a
    bitcast of each value: a view of v as integers is an array made on every call, which cost
    the teacup's trajectory sweep a third of its speed."""
    if v[s + 2] != math.inf:
        return
    lo, hi = skip
    if saved == 1:
        hi = lo
    worst = 0
    for i in range(1, lo):
        worst = max(worst, float_bits(v[i]) & _EXPONENT)
    for i in range(hi, n):
        worst = max(worst, float_bits(v[i]) & _EXPONENT)
    if worst != _EXPONENT:
        return
    for i in range(1, n):
        if not math.isfinite(v[i]):
            v[s], v[s + 1], v[s + 2] = i, v[i], v[0]
            return
