"""Streaming statistics across runs, per output per saved time.

`StreamingStats` takes chunks of shape (runs, times, outputs) and never keeps
them. Chunks are merged in order; the sweep feeds them in run order, so the
result does not depend on how the runs were scheduled.

* `count`, `mean`, `std` (population, ddof=0, like numpy), `var`: per-chunk
  two-pass moments merged with Chan et al.'s pairwise formula.
* `min`, `max`: exact.
* `pNN` (e.g. `p5`, `p50`, `p95`, `p99.9`) and `median` (= `p50`): numpy's
  default ("linear") percentile definition. Exact when the sweep keeps all
  runs (computed at the end with numpy). Otherwise estimated from a mergeable
  fixed-bin histogram per cell (see `HistogramSketch`; 4096 bins by default,
  fewer for very many cells, see `default_bins`), with a guaranteed
  bound: |estimate - exact| < bin width of that cell, and the bin width is at
  most 2 * (max - min) / (bins - 1) (or a 2^-40 relative floor for constant
  cells). `error()` returns the per-cell bound. The histogram's final state
  depends only on the values, not on chunking, so estimates are reproducible.
* Non-finite values (NaN, inf) are left out: once a chunk holds one, the
  moments and extremes are taken per cell over its finite values only (`count`
  becomes that per-cell number; a cell with none gives NaN), as a sweep reports
  the runs that had them separately. The percentile sketch skips them too and
  counts them in `nonfinite`.

Chunks are folded in by Numba functions (`_block`) that update the running
state in place, block of cells by block of cells, without temporaries: the
chunk is read from memory once however many statistics are asked for.
"""
from __future__ import annotations

import math
import warnings
import re

import numpy as np
from numba import get_num_threads, njit, prange

from ..backend import helper_cache  # noqa: F401  (the cache key of the helpers below)
from ..errors import SpecError
from ..ir.constants import NA_VALUE

_PCT = re.compile(r"^p(\d+(?:\.\d+)?)$")
MOMENTS = ("count", "mean", "std", "var", "min", "max")


def parse_stats(names) -> list[str]:
    """Validate statistic names; returns them normalised (median -> p50)."""
    out = []
    for s in names or ():
        s = str(s).strip().lower()
        if s == "median":
            s = "p50"
        m = _PCT.match(s)
        if s not in MOMENTS and not (m and 0 <= float(m.group(1)) <= 100):
            raise SpecError(f"unknown statistic '{s}' (use {', '.join(MOMENTS)}, median or pNN with 0<=NN<=100)")
        if s not in out:
            out.append(s)
    return out


def percentile_of(name: str) -> float | None:
    m = _PCT.match(name)
    return float(m.group(1)) if m else None


_EMPTY_E = np.iinfo(np.int64).min // 4      # level of a cell that has seen no finite value
_TILE_BYTES = 256 * 2 ** 10                 # runs x a block of cells: stays in L2 between the passes
_PARALLEL_VALUES = 2 ** 20                  # a chunk this big shares its sketch update among threads


@njit(cache=True, nogil=True)
def _cell_level(lo, hi, e_now, bins):
    """HistogramSketch._level for one cell, with the same arithmetic."""
    e = np.int64(math.frexp(max(abs(lo), abs(hi)))[1]) - 40
    span = hi - lo
    if span > 0:
        e = max(e, np.int64(math.ceil(math.log2(max(span, 1e-300) / (bins - 1)))))
    e = max(e, e_now)
    while True:
        w = math.ldexp(1.0, e)
        if math.floor(hi / w) - math.floor(lo / w) < bins:
            return e
        e += 1


@njit(cache=True, nogil=True)
def _col_sums(x, c0, c1):
    """Per-column sums of x[:, c0:c1], adding the rows in order (numpy's axis-0 order, so
    the same bits); four rows per sweep over the accumulator, a quarter of its traffic."""
    nb = x.shape[0]
    s = x[0, c0:c1].copy()
    w = c1 - c0
    r = 1
    while r + 4 <= nb:
        a, b, c, d = x[r, c0:c1], x[r + 1, c0:c1], x[r + 2, c0:c1], x[r + 3, c0:c1]
        for j in range(w):
            s[j] = (((s[j] + a[j]) + b[j]) + c[j]) + d[j]
        r += 4
    while r < nb:
        a = x[r, c0:c1]
        for j in range(w):
            s[j] += a[j]
        r += 1
    return s


@njit(cache=True, nogil=True)
def _col_sq_dev(x, c0, c1, m):
    """Per-column sums of (x[:, c0:c1] - m) ** 2, rows in order (as ((x - m) ** 2).sum(0))."""
    nb = x.shape[0]
    w = c1 - c0
    a = x[0, c0:c1]
    s = np.empty(w)
    for j in range(w):
        s[j] = (a[j] - m[j]) ** 2
    r = 1
    while r + 4 <= nb:
        a, b, c, d = x[r, c0:c1], x[r + 1, c0:c1], x[r + 2, c0:c1], x[r + 3, c0:c1]
        for j in range(w):
            mj = m[j]
            s[j] = (((s[j] + (a[j] - mj) ** 2) + (b[j] - mj) ** 2) + (c[j] - mj) ** 2) + (d[j] - mj) ** 2
        r += 4
    while r < nb:
        a = x[r, c0:c1]
        for j in range(w):
            s[j] += (a[j] - m[j]) ** 2
        r += 1
    return s


@njit(cache=True, nogil=True)
def _block(x, c0, c1, na, mean, m2, mn, mx, do_mean, do_m2, do_ext,
           counts, e, k0, n, lo, hi, nonfinite, do_sketch):
    """Folds cells c0..c1 of chunk x (runs, cells) into the running state.

    The block of the chunk is read from memory once; the passes over it reuse it
    from cache. Each cell's result depends only on its own column, so how the
    cells are blocked never changes a value. The per-chunk moments are merged as
    in StreamingStats.merge; the sketch follows HistogramSketch's numpy
    definition (`_level`, `_rebin`, floor(x / 2^e) - k0 binning).
    Returns how many occupied bins a rebin moved out of range (a bug if > 0)."""
    nb = x.shape[0]
    bins = counts.shape[1]
    w = c1 - c0
    nn = na + nb
    bad = 0
    # rows of the block are indexed through views (xr[j], not x[r, c0 + j]): with an offset
    # index numba cannot rule out a negative one and the loops do not vectorise (4x slower)
    if do_mean:
        mb = _col_sums(x, c0, c1) / nb
        if do_m2:
            q = _col_sq_dev(x, c0, c1, mb)
        for j in range(w):
            c = c0 + j
            if na == 0:
                mean[c] = mb[j]
                if do_m2:
                    m2[c] = q[j]
            else:
                delta = mb[j] - mean[c]
                mean[c] = mean[c] + delta * (nb / nn)
                if do_m2:
                    m2[c] = m2[c] + q[j] + delta ** 2 * (na * nb / nn)
    if do_ext:
        a = mn[c0:c1].copy()
        b = mx[c0:c1].copy()
        for r in range(nb):
            xr = x[r, c0:c1]
            for j in range(w):
                v = xr[j]
                if v < a[j] or v != v:      # NaN sticks, as with np.minimum
                    a[j] = v
                if v > b[j] or v != v:
                    b[j] = v
        mn[c0:c1] = a
        mx[c0:c1] = b
    if do_sketch:
        flo = np.full(w, np.inf)
        fhi = np.full(w, -np.inf)
        nf = np.zeros(w, np.int64)
        for r in range(nb):
            xr = x[r, c0:c1]
            for j in range(w):
                v = xr[j]
                if math.isfinite(v):
                    flo[j] = min(flo[j], v)
                    fhi[j] = max(fhi[j], v)
                else:
                    nf[j] += 1
        wd = np.ones(w)
        row = np.empty(bins)
        for j in range(w):
            c = c0 + j
            nonfinite[c] += nf[j]
            if flo[j] <= fhi[j]:
                lo[c] = min(lo[c], flo[j])
                hi[c] = max(hi[c], fhi[j])
            if not math.isfinite(lo[c]):
                continue
            e_new = _cell_level(lo[c], hi[c], e[c] if n[c] > 0 else _EMPTY_E, bins)
            wd[j] = math.ldexp(1.0, e_new)
            k_new = np.int64(math.floor(lo[c] / wd[j]))
            if n[c] > 0 and (e_new != e[c] or k_new != k0[c]):
                d = min(e_new - e[c], 62)
                row[:] = 0.0
                for i in range(bins):
                    ci = counts[c, i]
                    if ci > 0:
                        tgt = ((k0[c] + i) >> d) - k_new
                        if tgt < 0 or tgt >= bins:
                            bad += 1
                        else:
                            row[tgt] += ci
                counts[c, :] = row
            e[c] = e_new
            k0[c] = k_new
        # bin = floor(x / 2^e) - k0, clipped. Multiplying by 2^-e gives the same bits as dividing
        # when both powers are normal numbers (the same real number, correctly rounded) and is
        # much cheaper; the bins of a row are found first (a loop that vectorises), then counted.
        inv = np.empty(w)
        by_inverse = True
        for j in range(w):
            ej = e[c0 + j]
            inv[j] = math.ldexp(1.0, -ej) if -1022 <= ej <= 1022 else 0.0
            by_inverse = by_inverse and (-1022 <= ej <= 1022 or not math.isfinite(lo[c0 + j]))
        cnt = counts[c0:c1]
        k0b = k0[c0:c1]
        idx = np.empty(w, np.int64)
        for r in range(nb):
            xr = x[r, c0:c1]
            for j in range(w):
                v = xr[j]
                if math.isfinite(v):
                    f = math.floor(v * inv[j]) if by_inverse else math.floor(v / wd[j])
                    idx[j] = min(max(np.int64(f) - k0b[j], 0), bins - 1)
                else:
                    idx[j] = -1
            for j in range(w):
                if idx[j] >= 0:
                    cnt[j, idx[j]] += 1.0
        for j in range(w):
            n[c0 + j] += nb - nf[j]
    return bad


@njit(cache=True, nogil=True, error_model="numpy")
def _order_stat(counts, k0, w, r):
    """Per cell, the r-th smallest value (0-based) placed uniformly within its bin:
    the bin b is the first whose cumulative count passes r (bin 0 if none does)."""
    cells, bins = counts.shape
    v = np.empty(cells)
    for c in range(cells):
        cum = 0.0
        b = 0
        below = 0.0
        for i in range(bins):
            if cum + counts[c, i] > r[c]:
                b = i
                below = cum
                break
            cum += counts[c, i]
        v[c] = (np.float64(k0[c] + b) + (r[c] - below + 0.5) / counts[c, b]) * w[c]
    return v


def _fold(x, width, na, mean, m2, mn, mx, do_mean, do_m2, do_ext,
          counts, e, k0, n, lo, hi, nonfinite, do_sketch):
    """Every block of `width` cells of x through _block, one after another."""
    bad = 0
    for c0 in range(0, x.shape[1], width):
        bad += _block(x, c0, min(x.shape[1], c0 + width), na, mean, m2, mn, mx, do_mean, do_m2,
                      do_ext, counts, e, k0, n, lo, hi, nonfinite, do_sketch)
    return bad


# Moments alone are bound by memory bandwidth: one thread streams the chunk about as fast as
# two, and a parallel region on a busy shared machine can wait a whole scheduler time slice
# (~20 ms) for a descheduled worker. The sketch's binning is compute-bound, so large chunks
# of it are shared out. (The prange body is _block, a plain function: numba's parfor
# analysis of those loops inside the prange itself takes the best part of a minute.)
_fold_seq = njit(cache=True, nogil=True)(_fold)


@njit(parallel=True, cache=True, nogil=True)
def _fold_par(x, width, na, mean, m2, mn, mx, do_mean, do_m2, do_ext,
              counts, e, k0, n, lo, hi, nonfinite, do_sketch):
    ntiles = (x.shape[1] + width - 1) // width
    bad = np.zeros(ntiles, np.int64)
    for t in prange(ntiles):
        bad[t] = _block(x, t * width, min(x.shape[1], (t + 1) * width), na, mean, m2, mn, mx, do_mean,
                        do_m2, do_ext, counts, e, k0, n, lo, hi, nonfinite, do_sketch)
    return bad.sum()


def _update(x, na, mean, m2, mn, mx, do_mean, do_m2, do_ext,
            counts, e, k0, n, lo, hi, nonfinite, do_sketch) -> None:
    """Folds chunk x (runs, cells) into the running moments and/or sketch, in place."""
    par = do_sketch and x.size >= _PARALLEL_VALUES and get_num_threads() > 1
    width = _tile_width(*x.shape, par, counts.shape[1] if do_sketch else 0, do_m2 or do_ext or do_sketch)
    bad = (_fold_par if par else _fold_seq)(x, width, na, mean, m2, mn, mx, do_mean, do_m2, do_ext,
                                            counts, e, k0, n, lo, hi, nonfinite, do_sketch)
    if bad:  # pragma: no cover
        raise AssertionError("histogram rebin out of range")


def _tile_width(runs: int, cells: int, parallel: bool, bins: int, passes: bool) -> int:
    """Cells per block. With several passes, a block of the chunk (and of the sketch's counts)
    that stays in L2 between them; with one pass, or when not even 8 cells fit, whole rows,
    which stream from memory best. In parallel, enough blocks to share out."""
    width = _TILE_BYTES // (8 * (max(runs, 1) + bins)) if passes else cells
    if width < 8:
        width = cells
    if parallel:
        width = min(width, max(8, -(-cells // (4 * get_num_threads()))))
    return int(max(1, min(width, cells)))


_NONE_F = np.empty(0)
_NONE_I = np.empty(0, dtype=np.int64)
_NONE_C = np.empty((0, 1))


def _as_chunk(values: np.ndarray) -> np.ndarray:
    """(runs, cells) float64, C order: a view of the chunk whenever it already is one."""
    x = np.asarray(values)
    return np.ascontiguousarray(x, dtype=np.float64).reshape(x.shape[0], -1)


def default_bins(cells: int) -> int:
    """4096 bins per cell, fewer (down to 256) when cells x bins would pass 2^24 (128 MB)."""
    b = 4096
    while b > 256 and cells * b > 2 ** 24:
        b //= 2
    return b


class HistogramSketch:
    """Per-cell histograms of `bins` bins of width 2^e on an absolute lattice.

    Cell c counts values x in bins k = floor(x / 2^e[c]) for k in
    [k0[c], k0[c] + bins). When a new value does not fit, the cell's level e
    grows (bins merge pairwise: k -> k >> 1), which is exact, so after any
    sequence of merges a cell is at the smallest level e >= floor (2^-40 of the
    cell's largest magnitude) whose span of occupied bins fits in `bins`.
    That state depends only on the multiset of values: chunking-independent."""

    def __init__(self, cells: int, bins: int | None = None):
        if bins is None:
            bins = default_bins(cells)
        if bins < 4:
            raise ValueError("bins must be >= 4")
        self.bins = int(bins)
        self.counts = np.zeros((cells, bins))
        self.e = np.full(cells, np.iinfo(np.int64).min // 4, dtype=np.int64)  # empty cells
        self.k0 = np.zeros(cells, dtype=np.int64)
        self.n = np.zeros(cells, dtype=np.int64)
        self.lo = np.full(cells, np.inf)        # exact min / max of finite values
        self.hi = np.full(cells, -np.inf)
        self.nonfinite = np.zeros(cells, dtype=np.int64)

    # level needed for [lo, hi] (both finite), at least e_now
    def _level(self, lo, hi, e_now):
        mag = np.maximum(np.abs(lo), np.abs(hi))
        _, ex = np.frexp(mag)
        floor_e = ex.astype(np.int64) - 40
        span = hi - lo
        with np.errstate(divide="ignore"):
            need = np.where(span > 0, np.ceil(np.log2(np.maximum(span, 1e-300) / (self.bins - 1))), -10**6)
        e = np.maximum(np.maximum(floor_e, need.astype(np.int64)), e_now)
        while True:
            w = np.ldexp(1.0, e)
            bad = (np.floor(hi / w) - np.floor(lo / w)) >= self.bins
            if not bad.any():
                return e
            e = e + bad

    def _rebin(self, counts, k0, e_old, e_new, k0_new):
        """Move histograms at (k0, e_old) to (k0_new, e_new); empty cells stay empty."""
        d = (e_new - e_old)
        d = np.where(counts.sum(1) > 0, d, 0)
        cells, b = counts.shape
        k = k0[:, None] + np.arange(b)[None, :]
        target = (k >> np.minimum(d, 62)[:, None]) - k0_new[:, None]
        occupied = counts > 0
        target = np.where(occupied, target, 0)
        if (target[occupied] < 0).any() or (target[occupied] >= b).any():  # pragma: no cover
            raise AssertionError("histogram rebin out of range")
        flat = (np.arange(cells)[:, None] * b + target).ravel()
        return np.bincount(flat, weights=counts.ravel(), minlength=cells * b).reshape(cells, b)

    def add(self, x: np.ndarray) -> None:
        """x: (runs, cells)."""
        x = _as_chunk(x)
        if x.shape[0] == 0:
            return
        self._add(x, 0, _NONE_F, _NONE_F, _NONE_F, _NONE_F, False, False, False)

    def _add(self, x, na, mean, m2, mn, mx, do_mean, do_m2, do_ext) -> None:
        """Chunk x into this sketch and, block by block in the same visit, into the given moments."""
        _update(x, na, mean, m2, mn, mx, do_mean, do_m2, do_ext,
                self.counts, self.e, self.k0, self.n, self.lo, self.hi, self.nonfinite, True)

    def merge(self, other: "HistogramSketch") -> None:
        both = (self.n > 0) & (other.n > 0)
        only_o = (self.n == 0) & (other.n > 0)
        lo, hi = np.minimum(self.lo, other.lo), np.maximum(self.hi, other.hi)
        e = np.where(both, self._level(np.where(both, lo, 0.0), np.where(both, hi, 0.0),
                                       np.maximum(self.e, other.e)), np.where(only_o, other.e, self.e))
        k0 = np.where(both, np.floor(np.where(both, lo, 0.0) / np.ldexp(1.0, np.where(both, e, 0))),
                      np.where(only_o, other.k0, self.k0)).astype(np.int64)
        mine = self._rebin(self.counts, self.k0, self.e, np.where(self.n > 0, e, self.e),
                           np.where(self.n > 0, k0, self.k0))
        theirs = self._rebin(other.counts, other.k0, other.e, np.where(other.n > 0, e, other.e),
                             np.where(other.n > 0, k0, other.k0))
        self.counts = mine + theirs
        self.e, self.k0, self.lo, self.hi = e, k0, lo, hi
        self.n = self.n + other.n
        self.nonfinite = self.nonfinite + other.nonfinite

    def width(self) -> np.ndarray:
        return np.where(self.n > 0, np.ldexp(1.0, np.where(self.n > 0, self.e, 0)), np.nan)

    def percentile(self, q: float) -> np.ndarray:
        """numpy-'linear' percentile estimate per cell (NaN for empty cells)."""
        n = self.n
        h = (n - 1) * (q / 100.0)
        lo_r, hi_r = np.floor(h).astype(np.int64), np.ceil(h).astype(np.int64)
        w = self.width()

        def order_stat(r):
            v = _order_stat(self.counts, self.k0, w, r)
            return np.where(r <= 0, self.lo, np.where(r >= n - 1, self.hi, v))   # extremes are exact

        a, c = order_stat(lo_r), order_stat(hi_r)
        with np.errstate(invalid="ignore"):    # empty cells (lo=inf, hi=-inf): NaN below anyway
            est = a + (h - lo_r) * (c - a)
        est = np.clip(est, self.lo, self.hi)
        return np.where(n > 0, est, np.nan)


class StreamingStats:
    """Statistics over runs for each (time, output) cell; feed chunks with `add`."""

    def __init__(self, stats, n_times: int, n_outputs: int, bins: int | None = None, sketch: bool = True):
        self.stats = parse_stats(stats)
        self.shape = (n_times, n_outputs)
        cells = n_times * n_outputs
        self.count = 0
        self.mean = np.zeros(cells)
        self.m2 = np.zeros(cells)
        self.min = np.full(cells, np.inf)
        self.max = np.full(cells, -np.inf)
        self.percentiles = [s for s in self.stats if percentile_of(s) is not None]
        self.sketch = HistogramSketch(cells, bins) if self.percentiles and sketch else None
        # per-cell counts of finite values, once a chunk held an infinite or NaN value (which
        # the statistics leave out: a sweep reports how many runs had them instead)
        self.finite: np.ndarray | None = None

    def add(self, values: np.ndarray) -> None:
        """values: (runs, times, outputs)."""
        x = _as_chunk(values)
        nb = x.shape[0]
        if nb == 0:
            return
        # only what was asked for: the squared deviations and extremes cost passes over the chunk
        # (m2 is left stale when neither std nor var was asked for)
        wants = set(self.stats)
        do_m2 = bool(wants & {"std", "var"})
        do_ext = bool(wants & {"min", "max"}) or self.sketch is not None
        before = (self.mean.copy(), self.m2.copy(), self.min.copy(), self.max.copy())
        if self.sketch is not None:
            self.sketch._add(x, self.count, self.mean, self.m2, self.min, self.max, True, do_m2, do_ext)
        else:
            _update(x, self.count, self.mean, self.m2, self.min, self.max, True, do_m2, do_ext,
                    _NONE_C, _NONE_I, _NONE_I, _NONE_I, _NONE_F, _NONE_F, _NONE_I, False)
        # an infinite or NaN value makes the running mean non-finite: redo the chunk's moments
        # without such values (the sketch already leaves them out)
        if self.finite is not None or not np.isfinite(self.mean).all():
            self.mean, self.m2, self.min, self.max = before
            self._add_finite(x)
        self.count += nb

    def _add_finite(self, x: np.ndarray) -> None:
        """Fold chunk x (runs, cells) into the moments, per cell over its finite values only
        (Chan et al.'s pairwise update with per-cell counts)."""
        if self.finite is None:
            self.finite = np.full(self.mean.shape, self.count, dtype=np.int64)
        ok = np.isfinite(x)
        nb = ok.sum(axis=0)
        xs = np.where(ok, x, 0.0)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            mb = np.where(nb > 0, xs.sum(axis=0) / np.maximum(nb, 1), 0.0)
            m2b = np.where(ok, (x - mb) ** 2, 0.0).sum(axis=0)
            na = self.finite
            n = na + nb
            delta = mb - self.mean
            frac = np.where(n > 0, nb / np.maximum(n, 1), 0.0)
            self.mean = self.mean + delta * frac
            self.m2 = self.m2 + m2b + delta ** 2 * np.where(n > 0, na * nb / np.maximum(n, 1), 0.0)
        self.min = np.minimum(self.min, np.where(ok, x, np.inf).min(axis=0))
        self.max = np.maximum(self.max, np.where(ok, x, -np.inf).max(axis=0))
        self.finite = n

    def merge(self, other: "StreamingStats") -> None:
        """Fold in the statistics of other runs (Chan et al.'s pairwise update, per cell
        when either side left out infinite or NaN values)."""
        if not other.count:
            return
        na = self.count if self.finite is None else self.finite
        nb = other.count if other.finite is None else other.finite
        n = na + nb
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            delta = other.mean - self.mean
            self.mean = self.mean + delta * np.where(n > 0, nb / np.maximum(n, 1), 0.0)
            self.m2 = self.m2 + other.m2 + delta ** 2 * np.where(n > 0, na * nb / np.maximum(n, 1), 0.0)
        if self.finite is not None or other.finite is not None:
            self.finite = np.broadcast_to(n, self.mean.shape).astype(np.int64)
        self.count += other.count
        self.min = np.minimum(self.min, other.min)
        self.max = np.maximum(self.max, other.max)
        if self.sketch is not None and other.sketch is not None:
            self.sketch.merge(other.sketch)

    def result(self, exact_values: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """{stat: (times, outputs)}. With `exact_values` (runs, times, outputs),
        percentiles are computed exactly from them."""
        out = {}
        shape = self.shape
        qs = [percentile_of(s) for s in self.percentiles]
        if exact_values is not None and qs and len(exact_values):
            # one call for every q: numpy moves and partitions the kept runs once, not per q
            if self.finite is None:
                exact = dict(zip(self.percentiles, np.percentile(exact_values, qs, axis=0)))
            else:
                # the runs keep Vensim's :NA:, which the statistics leave out as NaN
                finite = np.where(np.isfinite(exact_values) & (exact_values != NA_VALUE), exact_values, np.nan)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)   # a cell with no finite value: NaN
                    exact = dict(zip(self.percentiles, np.nanpercentile(finite, qs, axis=0)))
        count = self.count if self.finite is None else self.finite.reshape(shape).astype(float)
        for s in self.stats:
            q = percentile_of(s)
            if s == "count":
                out[s] = np.full(shape, count, dtype=float)
            elif s == "mean":
                out[s] = self.mean.reshape(shape).copy() if self.finite is None else \
                    np.where(count > 0, self.mean.reshape(shape), np.nan)
            elif s in ("std", "var"):
                with np.errstate(invalid="ignore", divide="ignore"):
                    var = self.m2.reshape(shape) / count if np.any(count) else np.full(shape, np.nan)
                var = np.where(np.asarray(count) > 0, var, np.nan)
                out[s] = np.sqrt(var) if s == "std" else var
            elif s in ("min", "max"):
                ext = (self.min if s == "min" else self.max).reshape(shape)
                # a cell whose every value was left out has no extreme (not +-inf)
                out[s] = ext.copy() if self.finite is None else np.where(count > 0, ext, np.nan)
            elif exact_values is not None:
                out[s] = exact[s] if len(exact_values) else np.full(shape, np.nan)
            else:
                out[s] = self.sketch.percentile(q).reshape(shape)
        return out

    def error(self) -> np.ndarray | None:
        """Bound on |estimated - exact| percentile per (time, output) cell, or None when exact."""
        return None if self.sketch is None else self.sketch.width().reshape(self.shape)
