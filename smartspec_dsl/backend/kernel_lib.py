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
XIDZ_EPS = 1e-6  # Vensim's XIDZ/ZIDZ treat |divisor| below this as zero

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


# ---- intrinsics ------------------------------------------------------------
# Generated kernels read and write the state vector with ld/st and build
# conditionals with the select-based helpers below. They lower straight to LLVM
# loads, stores and `select`s: Numba types each call with one tiny template and
# emits no call, status check or index wrap-around, which roughly halves the
# front-end compile time of large models. Indices are constants emitted by the
# code generator (always within the vector), so no bounds check is done.
# Intrinsics cannot be called from Python; the njit helpers above remain.
from numba.core import cgutils as _cg, types as _t  # noqa: E402
from numba.extending import intrinsic  # noqa: E402

_F = _t.float64


def _ptr(context, builder, aryty, ary, idx):
    if aryty.layout == "C":
        # contiguous: the element is data + idx; skipping the generic array proxy keeps
        # both Numba's lowering and LLVM's work per access small
        field = context.data_model_manager[aryty].get_field_position("data")
        return builder.gep(builder.extract_value(ary, field), [idx], inbounds=True)
    a = context.make_array(aryty)(context, builder, ary)
    return _cg.get_item_pointer(context, builder, aryty, a, [idx], wraparound=False)


@intrinsic
def ld(typingctx, arr, idx):
    """arr[idx] for a 1-d float64 array and a non-negative index."""
    if not (isinstance(arr, _t.Array) and arr.ndim == 1 and arr.dtype == _F):
        return None

    def codegen(context, builder, sig, args):
        return builder.load(_ptr(context, builder, sig.args[0], args[0], args[1]))
    return _F(arr, _t.intp), codegen


@intrinsic
def st(typingctx, arr, idx, x):
    """arr[idx] = x for a 1-d float64 array and a non-negative index."""
    if not (isinstance(arr, _t.Array) and arr.ndim == 1 and arr.dtype == _F and arr.mutable):
        return None

    def codegen(context, builder, sig, args):
        builder.store(args[2], _ptr(context, builder, sig.args[0], args[0], args[1]))
        return context.get_dummy_value()
    return _t.none(arr, _t.intp, _F), codegen


@intrinsic
def tk(typingctx, arr, idx):
    """int(arr[idx]): a lookup table's offset or length from the table header
    (one typed call where `np.int64(tab[k])` costs three)."""
    if not (isinstance(arr, _t.Array) and arr.ndim == 1 and arr.dtype == _F):
        return None

    def codegen(context, builder, sig, args):
        x = builder.load(_ptr(context, builder, sig.args[0], args[0], args[1]))
        return builder.fptosi(x, context.get_value_type(_t.int64))
    return _t.int64(arr, _t.intp), codegen


@intrinsic
def ix(typingctx, n):
    """An integer argument Numba does not treat as a compile-time literal: a literal
    passed to an njit helper compiles a separate specialisation per call site."""
    if not isinstance(n, _t.Integer):
        return None

    def codegen(context, builder, sig, args):
        return context.cast(builder, args[0], sig.args[0], _t.int64)
    return _t.int64(n), codegen


def _zero(builder, x):
    return x.type(0.0)


def _near_zero(builder, x):
    fabs = builder.module.declare_intrinsic("llvm.fabs", [x.type])
    return builder.fcmp_ordered("<", builder.call(fabs, [x]), x.type(XIDZ_EPS))


@intrinsic
def sel(typingctx, c, a, b):
    """IF THEN ELSE: a if c != 0 (NaN counts as true) else b; both are evaluated."""
    def codegen(context, builder, sig, args):
        c, a, b = args
        return builder.select(builder.fcmp_unordered("!=", c, _zero(builder, c)), a, b)
    return _F(_F, _F, _F), codegen


@intrinsic
def bf(typingctx, c):
    """A comparison's truth as 1.0 or 0.0."""
    def codegen(context, builder, sig, args):
        return builder.uitofp(args[0], context.get_value_type(_F))
    return _F(_t.boolean), codegen


def _bool_to_f(context, builder, bit):
    return builder.uitofp(bit, context.get_value_type(_F))


@intrinsic
def fand(typingctx, a, b):
    def codegen(context, builder, sig, args):
        a, b = args
        bit = builder.and_(builder.fcmp_unordered("!=", a, _zero(builder, a)),
                           builder.fcmp_unordered("!=", b, _zero(builder, b)))
        return _bool_to_f(context, builder, bit)
    return _F(_F, _F), codegen


@intrinsic
def forr(typingctx, a, b):
    def codegen(context, builder, sig, args):
        a, b = args
        bit = builder.or_(builder.fcmp_unordered("!=", a, _zero(builder, a)),
                          builder.fcmp_unordered("!=", b, _zero(builder, b)))
        return _bool_to_f(context, builder, bit)
    return _F(_F, _F), codegen


@intrinsic
def fnot(typingctx, a):
    def codegen(context, builder, sig, args):
        return _bool_to_f(context, builder, builder.fcmp_ordered("==", args[0], _zero(builder, args[0])))
    return _F(_F), codegen


@intrinsic
def fmin(typingctx, a, b):
    """a if a < b else b (b when either is NaN), as vmin."""
    def codegen(context, builder, sig, args):
        a, b = args
        return builder.select(builder.fcmp_ordered("<", a, b), a, b)
    return _F(_F, _F), codegen


@intrinsic
def fmax(typingctx, a, b):
    """a if a > b else b (b when either is NaN), as vmax."""
    def codegen(context, builder, sig, args):
        a, b = args
        return builder.select(builder.fcmp_ordered(">", a, b), a, b)
    return _F(_F, _F), codegen


@intrinsic
def fxidz(typingctx, a, b, x):
    """Vensim XIDZ: x if |b| < 1e-6 else a / b."""
    def codegen(context, builder, sig, args):
        a, b, x = args
        return builder.select(_near_zero(builder, b), x, builder.fdiv(a, b))
    return _F(_F, _F, _F), codegen


@intrinsic
def fzidz(typingctx, a, b):
    """Vensim ZIDZ: 0 if |b| < 1e-6 else a / b."""
    def codegen(context, builder, sig, args):
        a, b = args
        return builder.select(_near_zero(builder, b), _zero(builder, b), builder.fdiv(a, b))
    return _F(_F, _F), codegen


@intrinsic
def fstep(typingctx, t, height, start):
    """Vensim STEP: height if t > start else 0 (callers pass t + TIME STEP/2)."""
    def codegen(context, builder, sig, args):
        t, h, s = args
        return builder.select(builder.fcmp_ordered(">", t, s), h, _zero(builder, h))
    return _F(_F, _F, _F), codegen


# ---- parallel cold start ------------------------------------------------------
_WORKER = """\
import importlib.util, sys
from numba.core import types
spec = importlib.util.spec_from_file_location(sys.argv[2], sys.argv[1])
m = importlib.util.module_from_spec(spec)
sys.modules[sys.argv[2]] = m  # the parent's module name: cached code refers to it
spec.loader.exec_module(m)
a = types.float64[::1]
m.euler_setup.compile((a, a, types.float64, types.float64, a))
"""


def parallel_cold_start(path, g, args) -> None:
    """Before the first Euler run of a large generated kernel: when nothing is in
    Numba's cache yet, a worker process compiles the initialisation phase
    (euler_setup, written to the cache) while this process compiles the time
    loop; the first run then loads the setup from the cache. Any failure falls
    back to compiling here. On unless every core is busy (SMARTSPEC_PARALLEL_COMPILE=1
    forces it, 0 turns it off): on a quiet 2-core machine World3's cold load goes
    from 3.9 to 3.3 s and the beer game's from 18 to 11 s, but with every core
    busy the worker only competes with this process."""
    import os
    import subprocess
    import sys

    import numba

    cores = os.cpu_count() or 1
    mode = os.environ.get("SMARTSPEC_PARALLEL_COMPILE", "auto")
    if mode == "0" or cores < 2 or (mode != "1" and os.getloadavg()[0] >= cores):
        return
    proc = None
    try:
        setup, loop = g["euler_setup"], g["euler_loop"]
        if setup.signatures or loop.signatures:
            return
        try:
            if os.path.exists(loop._cache._cache_file._index_path):
                return  # warm cache: loading is quick
        except AttributeError:
            return
        f1 = _t.float64[::1]
        types = [numba.typeof(a) for a in args]
        if types[0] == f1 and types[1] == f1:
            proc = subprocess.Popen([sys.executable, "-c", _WORKER, str(path), g["__name__"]], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        loop.compile((f1, types[1], *types[2:], f1, _t.int64[::1]))
        if proc is not None:
            proc.wait(timeout=900)
    except Exception:  # noqa: BLE001 - an optimisation only
        pass
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()


# ---- random numbers ------------------------------------------------------------
# Counter-based: a draw is a hash of (the call's seed argument, the call site, the
# time step, the run seed). No generator state, so run i gives the same numbers
# whatever the chunking, thread count or machine, and RK4's sub-steps reuse the step's draw.

GOLDEN = 0x9E3779B97F4A7C15   # 2**64 / the golden ratio: splitmix64's stream increment
_GOLDEN = np.uint64(GOLDEN)


def splitmix64(z):
    """splitmix64's finaliser (Steele, Lea & Flood 2014) on uint64, a scalar or an
    array, wrapping. The one copy: kernels call it compiled (`_mix`), the
    samplers and sweep seeds on numpy arrays."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


_mix = njit(**JIT)(splitmix64)


@njit(**JIT)
def _key(seed):
    # seeds are any real numbers (Vensim models use 0.5, 1, 1234...): hash their bits
    # whole part and fraction hashed separately: run seeds reach 2**52, seed arguments are like 0.5
    if not math.isfinite(seed):
        return np.uint64(0)
    whole = math.floor(seed)
    frac = np.uint64(np.int64((seed - whole) * 4503599627370496.0))
    w = np.int64(whole) if abs(whole) < 9.2e18 else np.int64(0)
    return _mix(np.uint64(w & np.int64(0x7FFFFFFFFFFFFFFF)) + _GOLDEN) ^ frac


@njit(**JIT)
def uniform01(seed, site, istep, run_seed, draw):
    """A uniform draw in (0, 1)."""
    z = _mix(_key(seed) * _GOLDEN + np.uint64(site))
    z = _mix(z ^ (_key(run_seed) * np.uint64(0xD1B54A32D192ED03)))
    z = _mix(z + np.uint64(istep + 2) * _GOLDEN + np.uint64(draw) * np.uint64(0xA24BAED4963EE407))
    return (np.float64(z >> np.uint64(11)) + 0.5) * (1.0 / 9007199254740992.0)


@njit(**JIT)
def std_normal(seed, site, istep, run_seed, draw):
    u1 = uniform01(seed, site, istep, run_seed, 2 * draw)
    u2 = uniform01(seed, site, istep, run_seed, 2 * draw + 1)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@njit(**JIT)
def random_uniform(lo, hi, seed, site, istep, run_seed):
    return lo + (hi - lo) * uniform01(seed, site, istep, run_seed, 0)


@njit(**JIT)
def random_normal(lo, hi, mean, sd, seed, site, istep, run_seed):
    """Normal(mean, sd) truncated to [lo, hi] by redrawing (then clipping after 1000 tries)."""
    x = mean
    for k in range(1000):
        x = mean + sd * std_normal(seed, site, istep, run_seed, k)
        if lo <= x <= hi:
            return x
    return min(max(x, lo), hi)


@njit(**JIT)
def random_exponential(lo, hi, shift, stretch, seed, site, istep, run_seed):
    x = shift
    for k in range(1000):
        x = shift - stretch * math.log(uniform01(seed, site, istep, run_seed, k))
        if lo <= x <= hi:
            return x
    return min(max(x, lo), hi)


@njit(**JIT)
def random_lognormal(lo, hi, mean, sd, seed, site, istep, run_seed):
    """Lognormal whose own mean and standard deviation are `mean` and `sd`, truncated to [lo, hi]."""
    s2 = math.log(1.0 + (sd * sd) / (mean * mean))
    mu = math.log(mean) - 0.5 * s2
    x = mean
    for k in range(1000):
        x = math.exp(mu + math.sqrt(s2) * std_normal(seed, site, istep, run_seed, k))
        if lo <= x <= hi:
            return x
    return min(max(x, lo), hi)


@njit(**JIT)
def random_triangular(lo, hi, start, peak, end, seed, site, istep, run_seed):
    x = peak
    for k in range(1000):
        u = uniform01(seed, site, istep, run_seed, k)
        c = (peak - start) / (end - start)
        if u < c:
            x = start + math.sqrt(u * (end - start) * (peak - start))
        else:
            x = end - math.sqrt((1.0 - u) * (end - start) * (end - peak))
        if lo <= x <= hi:
            return x
    return min(max(x, lo), hi)


@njit(**JIT)
def random_poisson(lo, hi, mean, shift, stretch, seed, site, istep, run_seed):
    x = shift
    for k in range(1000):
        # inversion by sequential search: fine for the small means SD models use
        u = uniform01(seed, site, istep, run_seed, k)
        n, p = 0, math.exp(-mean)
        c = p
        while u > c and n < 100000:
            n += 1
            p *= mean / n
            c += p
        x = shift + stretch * n
        if lo <= x <= hi:
            return x
    return min(max(x, lo), hi)


# RANDOM BETA, GAMMA, WEIBULL, BINOMIAL and NEGATIVE BINOMIAL(m, x, ..., h, r, s):
# a draw of the named distribution, stretched by r, shifted by h, truncated to
# [m, x] by redrawing (then clipping after 1000 tries), as Vensim's "Random
# Functions" page defines them. Several uniforms make one draw: `c` counts them.

@njit(**JIT)
def _std_gamma(a, seed, site, istep, run_seed, c):
    """Gamma(shape a, scale 1) by Marsaglia and Tsang (2000); for a < 1 boosted as
    Gamma(a + 1) * U^(1/a). `c` is the index of the next uniform, kept even (a
    normal takes uniforms c and c + 1). Returns (draw, next counter)."""
    boost = 1.0
    if a < 1.0:
        boost = uniform01(seed, site, istep, run_seed, c) ** (1.0 / a)
        c += 2
        a += 1.0
    d = a - 1.0 / 3.0
    k = 1.0 / math.sqrt(9.0 * d)
    for _ in range(1000):
        z = std_normal(seed, site, istep, run_seed, c // 2)
        u = uniform01(seed, site, istep, run_seed, c + 2)
        c += 4
        w = 1.0 + k * z
        if w <= 0.0:
            continue
        w = w * w * w
        if math.log(u) < 0.5 * z * z + d - d * w + d * math.log(w):
            return boost * d * w, c
    return boost * d, c


@njit(**JIT)
def _truncated(x, lo, hi):
    return min(max(x, lo), hi)


@njit(**JIT)
def random_gamma(lo, hi, order, shift, stretch, seed, site, istep, run_seed):
    """Gamma of order O with mean 1 (shape O, scale 1/O); Vensim takes an order below 1 as 1."""
    a = max(order, 1.0)
    x, c = shift, 0
    for _ in range(1000):
        g, c = _std_gamma(a, seed, site, istep, run_seed, c)
        x = shift + stretch * g / a
        if lo <= x <= hi:
            return x
    return _truncated(x, lo, hi)


@njit(**JIT)
def random_beta(lo, hi, alpha, beta, shift, stretch, seed, site, istep, run_seed):
    """Beta(alpha, beta) on [0, 1] as X / (X + Y) with X ~ Gamma(alpha), Y ~ Gamma(beta)."""
    x, c = shift, 0
    for _ in range(1000):
        g1, c = _std_gamma(alpha, seed, site, istep, run_seed, c)
        g2, c = _std_gamma(beta, seed, site, istep, run_seed, c)
        x = shift + stretch * g1 / (g1 + g2)
        if lo <= x <= hi:
            return x
    return _truncated(x, lo, hi)


@njit(**JIT)
def random_weibull(lo, hi, shape, shift, stretch, seed, site, istep, run_seed):
    """Weibull with shape S starting at 0 with mean 1 (scale 1 / Gamma(1 + 1/S)), by inversion."""
    scale = 1.0 / math.gamma(1.0 + 1.0 / shape)
    x = shift
    for k in range(1000):
        u = uniform01(seed, site, istep, run_seed, k)
        x = shift + stretch * scale * (-math.log(u)) ** (1.0 / shape)
        if lo <= x <= hi:
            return x
    return _truncated(x, lo, hi)


@njit(**JIT)
def _binomial(n, p, seed, site, istep, run_seed, c):
    """Binomial(n, p) by inversion (from the nearer end), or by counting n Bernoulli
    trials when the pmf at 0 underflows. Returns (draw, next counter)."""
    if p <= 0.0 or n <= 0:
        return 0.0, c
    if p >= 1.0:
        return float(n), c
    q = min(p, 1.0 - p)
    if n * math.log1p(-q) > -700.0:
        u = uniform01(seed, site, istep, run_seed, c)
        k, pk = 0, (1.0 - q) ** n
        cdf = pk
        while u > cdf and k < n:
            pk *= (n - k) / (k + 1.0) * q / (1.0 - q)
            k += 1
            cdf += pk
        return float(k if q == p else n - k), c + 1
    hits = 0
    for i in range(n):
        if uniform01(seed, site, istep, run_seed, c + i) < p:
            hits += 1
    return float(hits), c + n


@njit(**JIT)
def random_binomial(lo, hi, prob, trials, shift, stretch, seed, site, istep, run_seed):
    """Binomial on N trials of probability P: an integer in 0..N before stretch and shift."""
    n = int(round(trials))
    x, c = shift, 0
    for _ in range(1000):
        b, c = _binomial(n, prob, seed, site, istep, run_seed, c)
        x = shift + stretch * b
        if lo <= x <= hi:
            return x
    return _truncated(x, lo, hi)


@njit(**JIT)
def random_negative_binomial(lo, hi, prob, successes, shift, stretch, seed, site, istep, run_seed):
    """The number of trials needed for N successes of probability P (an integer from N
    up): N geometric waiting times, each ceil(ln U / ln(1 - P)) trials."""
    n = int(round(successes))
    x, c = shift, 0
    for _ in range(1000):
        trials = float(n)
        if prob < 1.0:
            trials = 0.0
            for i in range(n):
                u = uniform01(seed, site, istep, run_seed, c + i)
                trials += max(1.0, math.ceil(math.log(u) / math.log1p(-prob)))
        c += n
        x = shift + stretch * trials
        if lo <= x <= hi:
            return x
    return _truncated(x, lo, hi)


@njit(**JIT)
def _draw_from_pdf(u, tab, off, n):
    """The x below which a fraction u of the area under the table lies: the table,
    linear between its points and 0 where negative, taken as a density."""
    total = 0.0
    for i in range(n - 1):
        total += 0.5 * (max(tab[off + n + i], 0.0) + max(tab[off + n + i + 1], 0.0)) * (tab[off + i + 1] - tab[off + i])
    target = u * total
    for i in range(n - 1):
        x0, w = tab[off + i], tab[off + i + 1] - tab[off + i]
        y0, y1 = max(tab[off + n + i], 0.0), max(tab[off + n + i + 1], 0.0)
        area = 0.5 * (y0 + y1) * w
        if target <= area and area > 0.0:
            slope = (y1 - y0) / w
            if abs(slope) * w < 1e-12 * max(y0, 1e-300):
                return x0 + target / y0
            # y0 d + slope d^2 / 2 = target, the root in [0, w]
            return x0 + 2.0 * target / (y0 + math.sqrt(max(y0 * y0 + 2.0 * slope * target, 0.0)))
        target -= area
    return tab[off + n - 1]


@njit(**JIT)
def random_lookup(tab, off, n, lo, hi, shift, stretch, seed, site, istep, run_seed):
    """RANDOM LOOKUP(look, m, x, h, r, s): a draw from the density the lookup table
    describes, by inversion, then stretched, shifted and truncated like the others."""
    x = shift
    for k in range(1000):
        x = shift + stretch * _draw_from_pdf(uniform01(seed, site, istep, run_seed, k), tab, off, n)
        if lo <= x <= hi:
            return x
    return _truncated(x, lo, hi)


# ---- whole-array functions -----------------------------------------------------
# A whole-array function's inputs sit in a scratch block of the state vector v,
# v[b:b+m] (see codegen: scratch); each helper below computes once per evaluation
# and writes its result over the start of that block, where the elements read it.
# Explicit signatures: the block offsets are integer constants in generated code,
# which Numba would otherwise type as literals and compile once per call site.

from ..ir import NA_VALUE as NA  # noqa: E402  (Vensim's :NA:)


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


@njit(**JIT)
def demand_share(ptype, x, priority, width):
    """The fraction of its request a requester gets at priority level x: the complement of
    the cumulative distribution its profile names (1 rectangular, 2 triangular, 3 normal,
    4 exponential), centred on its priority."""
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
        return _normal_tail((x - priority) / width)
    if x < priority:
        return 1.0 - 0.5 * math.exp((x - priority) / width)
    return 0.5 * math.exp((priority - x) / width)


@njit(**JIT)
def _allocated(q, ptype, priority, width, x):
    total = 0.0
    for i in range(q.shape[0]):
        if q[i] > 0.0:
            total += q[i] * demand_share(ptype[i], x, priority[i], width[i])
    return total


@njit(**JIT)
def allocate(q, ptype, priority, width, avail, out):
    """Vensim's one-to-many allocation: every requester i gets q[i] * share_i(x) at the one
    priority level x where the shares add up to what is available (found by bisection;
    the total falls as x rises). NaN for all when an input is invalid: a negative request,
    a profile type other than 1-4, or a width that is not positive."""
    n = q.shape[0]
    total = 0.0
    lo = math.inf
    hi = -math.inf
    for i in range(n):
        if not q[i] >= 0.0:
            out[:] = math.nan
            return
        if q[i] > 0.0:
            t = ptype[i]
            if not (1.0 <= t <= 4.0 and t == math.floor(t) and width[i] > 0.0 and math.isfinite(priority[i])):
                out[:] = math.nan
                return
            total += q[i]
            lo = min(lo, priority[i] - width[i])
            hi = max(hi, priority[i] + width[i])
    if math.isnan(avail):
        out[:] = math.nan
        return
    if avail >= total:
        out[:] = q
        return
    if avail <= 0.0:
        out[:] = 0.0
        return
    # normal and exponential profiles have tails: widen until the level is bracketed
    span = hi - lo
    for _ in range(200):
        if _allocated(q, ptype, priority, width, lo) >= avail:
            break
        lo -= span
        span *= 2.0
    span = hi - lo
    for _ in range(200):
        if _allocated(q, ptype, priority, width, hi) <= avail:
            break
        hi += span
        span *= 2.0
    for _ in range(400):
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        if _allocated(q, ptype, priority, width, mid) > avail:
            lo = mid
        else:
            hi = mid
    x = 0.5 * (lo + hi)
    for i in range(n):
        out[i] = q[i] * demand_share(ptype[i], x, priority[i], width[i]) if q[i] > 0.0 else 0.0


@njit(**JIT)
def allocate_available(v, b, m, avail):
    """ALLOCATE AVAILABLE: requests v[b:b+n], then per requester its profile
    (ptype, ppriority, pwidth, pextra); allocations written to v[b:b+n]."""
    n = m // 5
    q = v[b:b + n].copy()
    prof = v[b + n:b + m].copy().reshape((n, 4))
    out = np.empty(n)
    allocate(q, prof[:, 0].copy(), prof[:, 1].copy(), prof[:, 2].copy(), avail, out)
    v[b:b + n] = out
    return 0.0


@njit(**JIT)
def allocate_by_priority(v, b, m, width, supply):
    """ALLOCATE BY PRIORITY: requests v[b:b+n], priorities v[b+n:b+2n]; rectangular
    profiles of the given width; allocations written to v[b:b+n]."""
    n = m // 2
    q = v[b:b + n].copy()
    out = np.empty(n)
    allocate(q, np.full(n, 1.0), v[b + n:b + m].copy(), np.full(n, width), supply, out)
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
