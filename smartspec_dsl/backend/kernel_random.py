"""The kernel library's random numbers: Vensim's RANDOM functions as
counter-based draws, and splitmix64, the hash they (and the samplers of
experiments/) are built on."""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .kernel_intrinsics import JIT

# ---- random numbers ------------------------------------------------------------
# Counter-based: a draw is a hash of (the call's seed argument, the call site, the
# time step, the run seed). No generator state, so run i gives the same numbers
# whatever the chunking, thread count or machine, and RK4's sub-steps reuse the step's draw.

GOLDEN = 0x9E3779B97F4A7C15   # 2**64 / the golden ratio: splitmix64's stream increment
_GOLDEN = np.uint64(GOLDEN)


def splitmix64(z):
    """splitmix64's finaliser (Steele, Lea & Flood 2014) on uint64, a scalar or an
    array, wrapping. The one copy: kernels call it compiled (`_mix`), the
    samplers and sweep seeds on numpy arrays. An array is finalised in place
    (no temporaries beyond one shift: a sweep hashes millions of runs), so pass
    one you own."""
    z ^= z >> np.uint64(30)
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(27)
    z *= np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return z


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
