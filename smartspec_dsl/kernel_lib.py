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

# Table offsets and lengths are integer constants in generated code, which Numba
# would type as distinct literals and compile one specialisation of a lookup for
# each table. Explicit signatures give one compiled lookup for all of them.
_LOOKUP_SIGS = ["float64(float64, float64[::1], int64, int64)",
                "float64(float64, float64[:], int64, int64)"]









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


@njit(_LOOKUP_SIGS, **JIT)
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


@njit(_LOOKUP_SIGS, **JIT)
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


@njit(_LOOKUP_SIGS, **JIT)
def lookup_forward(x, tab, off, n):
    """The y of the first table point at or after x (last y past the end)."""
    for i in range(n):
        if tab[off + i] >= x:
            return tab[off + n + i]
    return tab[off + 2 * n - 1]


@njit(_LOOKUP_SIGS, **JIT)
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
    back to compiling here. Opt-in (SMARTSPEC_PARALLEL_COMPILE=1): on a busy
    2-core machine it was slower than compiling in one process."""
    import os
    import subprocess
    import sys

    import numba

    if os.environ.get("SMARTSPEC_PARALLEL_COMPILE", "0") != "1" or (os.cpu_count() or 1) < 2:
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

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@njit(**JIT)
def _mix(z):
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


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
