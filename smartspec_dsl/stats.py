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
* Non-finite values (NaN, inf) make mean/std/min/max NaN/inf as numpy would;
  the percentile sketch skips them and counts them in `nonfinite`.
"""
from __future__ import annotations

import re
import warnings

import numpy as np

from .errors import SpecError

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
        x = np.asarray(x, dtype=np.float64)
        finite = np.isfinite(x)
        self.nonfinite += (~finite).sum(0)
        xf = np.where(finite, x, np.nan)
        if x.shape[0] == 0:
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)      # all-NaN cells
            clo, chi = np.nanmin(xf, 0), np.nanmax(xf, 0)
        has = np.isfinite(clo)
        new_lo = np.where(has, np.minimum(self.lo, np.where(has, clo, np.inf)), self.lo)
        new_hi = np.where(has, np.maximum(self.hi, np.where(has, chi, -np.inf)), self.hi)
        nonempty = np.isfinite(new_lo)
        e_now = np.where(self.n > 0, self.e, np.iinfo(np.int64).min // 4)
        e_new = np.where(nonempty, self._level(np.where(nonempty, new_lo, 0.0),
                                               np.where(nonempty, new_hi, 0.0), e_now), self.e)
        w_new = np.ldexp(1.0, np.where(nonempty, e_new, 0))
        k0_new = np.where(nonempty, np.floor(np.where(nonempty, new_lo, 0.0) / w_new), 0).astype(np.int64)
        if (self.n > 0).any():
            self.counts = self._rebin(self.counts, self.k0, self.e, np.where(self.n > 0, e_new, self.e),
                                      np.where(self.n > 0, k0_new, self.k0))
        cells, b = self.counts.shape
        idx = np.floor(np.where(finite, x, 0.0) / w_new[None, :]).astype(np.int64) - k0_new[None, :]
        idx = np.clip(idx, 0, b - 1)
        flat = (np.arange(cells)[None, :] * b + idx)
        self.counts += np.bincount(flat.ravel(), weights=finite.ravel().astype(np.float64),
                                   minlength=cells * b).reshape(cells, b)
        self.e, self.k0, self.lo, self.hi = e_new, k0_new, new_lo, new_hi
        self.n += finite.sum(0)

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
        cum = np.cumsum(self.counts, axis=1)
        w = self.width()

        def order_stat(r):
            b = np.argmax(cum > r[:, None], axis=1)
            rows = np.arange(len(r))
            cnt = self.counts[rows, b]
            below = cum[rows, b] - cnt
            with np.errstate(invalid="ignore", divide="ignore"):
                frac = (r - below + 0.5) / cnt
            v = (self.k0 + b + frac) * w
            return np.where(r <= 0, self.lo, np.where(r >= n - 1, self.hi, v))   # extremes are exact

        a, c = order_stat(lo_r), order_stat(hi_r)
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

    def add(self, values: np.ndarray) -> None:
        """values: (runs, times, outputs)."""
        x = np.asarray(values, dtype=np.float64).reshape(values.shape[0], -1)
        nb = x.shape[0]
        if nb == 0:
            return
        mb = x.mean(0)
        # only what was asked for: the squared deviations and extremes cost full passes over the chunk
        wants = set(self.stats)
        m2b = ((x - mb) ** 2).sum(0) if wants & {"std", "var"} else np.zeros_like(mb)
        extremes = bool(wants & {"min", "max"}) or self.sketch is not None
        self._merge_moments(nb, mb, m2b, x.min(0) if extremes else self.min,
                            x.max(0) if extremes else self.max)
        if self.sketch is not None:
            self.sketch.add(x)

    def _merge_moments(self, nb, mb, m2b, mnb, mxb):
        na = self.count
        n = na + nb
        if na == 0:
            self.mean, self.m2 = mb.copy(), m2b.copy()
        else:
            delta = mb - self.mean
            self.mean = self.mean + delta * (nb / n)
            self.m2 = self.m2 + m2b + delta ** 2 * (na * nb / n)
        self.count = n
        self.min = np.minimum(self.min, mnb)
        self.max = np.maximum(self.max, mxb)

    def merge(self, other: "StreamingStats") -> None:
        if other.count:
            self._merge_moments(other.count, other.mean, other.m2, other.min, other.max)
            if self.sketch is not None and other.sketch is not None:
                self.sketch.merge(other.sketch)

    def result(self, exact_values: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """{stat: (times, outputs)}. With `exact_values` (runs, times, outputs),
        percentiles are computed exactly from them."""
        out = {}
        shape = self.shape
        for s in self.stats:
            q = percentile_of(s)
            if s == "count":
                out[s] = np.full(shape, float(self.count))
            elif s == "mean":
                out[s] = self.mean.reshape(shape).copy()
            elif s in ("std", "var"):
                var = self.m2 / self.count if self.count else np.full_like(self.m2, np.nan)
                out[s] = (np.sqrt(var) if s == "std" else var).reshape(shape)
            elif s == "min":
                out[s] = self.min.reshape(shape).copy()
            elif s == "max":
                out[s] = self.max.reshape(shape).copy()
            elif exact_values is not None:
                out[s] = np.percentile(exact_values, q, axis=0) if len(exact_values) else np.full(shape, np.nan)
            else:
                out[s] = self.sketch.percentile(q).reshape(shape)
        return out

    def error(self) -> np.ndarray | None:
        """Bound on |estimated - exact| percentile per (time, output) cell, or None when exact."""
        return None if self.sketch is None else self.sketch.width().reshape(self.shape)
