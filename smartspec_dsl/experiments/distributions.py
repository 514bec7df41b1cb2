"""Counter-based draws (splitmix64 streams and keyed permutations: run i's
numbers depend on the seed and i only) and the distributions samplers map
them through (inverse CDFs)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..backend.kernel_random import GOLDEN, splitmix64
from ..errors import SpecError


_M64 = (1 << 64) - 1
_GOLDEN = GOLDEN


def stream_key(*words: int) -> int:
    k = 0
    for w in words:
        with np.errstate(over="ignore"):   # uint64 arithmetic wraps, as splitmix64 means it to
            k = int(splitmix64(np.uint64((k + _GOLDEN + (int(w) & _M64)) & _M64)))
    return k


def uniforms(key: int, runs: np.ndarray) -> np.ndarray:
    """Draw `runs` of the splitmix64 stream `key`, in (0, 1) (53 bits, never 0 or 1)."""
    z = runs.astype(np.uint64) * np.uint64(_GOLDEN)
    z += np.uint64(key)
    z = splitmix64(z)
    z >>= np.uint64(11)
    return (z.astype(np.float64) + 0.5) * 2.0 ** -53


_FEISTEL_ROUNDS = 6


def permute(key: int, x: np.ndarray, n: int) -> np.ndarray:
    """p(x) for a permutation p of 0..n-1 keyed by `key`: a balanced Feistel
    network over 2h bits (4^h at most 4n), repeated on any value >= n until it lands
    below n (cycle walking: still a bijection of 0..n-1)."""
    h = max(1, ((n - 1).bit_length() + 1) // 2)
    half, mask = np.uint64(h), np.uint64((1 << h) - 1)
    keys = [np.uint64(stream_key(key, r)) for r in range(_FEISTEL_ROUNDS)]

    def encrypt(v):
        left, right = v >> half, v & mask
        for k in keys:
            f = right * np.uint64(_GOLDEN)
            f += k
            left, right = right, left ^ (splitmix64(f) & mask)
        return (left << half) | right

    y = encrypt(x.astype(np.uint64))
    out = np.flatnonzero(y >= np.uint64(n))
    while len(out):
        y[out] = encrypt(y[out])
        out = out[y[out] >= np.uint64(n)]
    return y


def fresh_seed() -> int:
    return int(np.random.SeedSequence().entropy % (2 ** 63))


# ---------------------------------------------------------------- distributions


class Distribution:
    def ppf(self, u: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


def _number(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise SpecError(f"{what} must be a number, got {value!r}")
    if not math.isfinite(float(value)):
        raise SpecError(f"{what} must be finite, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Uniform(Distribution):
    low: float
    high: float

    def __post_init__(self):
        if not _number(self.low, "low") <= _number(self.high, "high"):
            raise SpecError(f"uniform: low ({self.low}) > high ({self.high})")

    def ppf(self, u):
        return self.low + (self.high - self.low) * u


@dataclass(frozen=True)
class Normal(Distribution):
    mean: float
    sd: float

    def __post_init__(self):
        _number(self.mean, "mean")
        if not _number(self.sd, "sd") > 0:
            raise SpecError(f"normal: sd must be > 0, got {self.sd}")

    def ppf(self, u):
        from scipy.special import ndtri
        return self.mean + self.sd * ndtri(u)


@dataclass(frozen=True)
class LogNormal(Distribution):
    mu: float
    sigma: float

    def __post_init__(self):
        _number(self.mu, "mu")
        if not _number(self.sigma, "sigma") > 0:
            raise SpecError(f"lognormal: sigma must be > 0, got {self.sigma}")

    def ppf(self, u):
        from scipy.special import ndtri
        return np.exp(self.mu + self.sigma * ndtri(u))


@dataclass(frozen=True)
class Triangular(Distribution):
    low: float
    mode: float
    high: float

    def __post_init__(self):
        lo, mo, hi = (_number(x, n) for x, n in ((self.low, "low"), (self.mode, "mode"), (self.high, "high")))
        if not (lo <= mo <= hi and lo < hi):
            raise SpecError(f"triangular: need low <= mode <= high and low < high, got "
                            f"({self.low}, {self.mode}, {self.high})")

    def ppf(self, u):
        lo, mo, hi = self.low, self.mode, self.high
        c = (mo - lo) / (hi - lo)
        u = np.asarray(u, dtype=np.float64)
        left = lo + np.sqrt(u * (hi - lo) * (mo - lo))
        right = hi - np.sqrt((1 - u) * (hi - lo) * (hi - mo))
        return np.where(u < c, left, right)


DISTRIBUTIONS = {"uniform": (Uniform, ("low", "high")),
                 "normal": (Normal, ("mean", "sd")),
                 "lognormal": (LogNormal, ("mu", "sigma")),
                 "triangular": (Triangular, ("low", "mode", "high"))}


def distribution(spec: dict, where: str) -> Distribution:
    """A distribution from a spec table such as {dist = "uniform", low = 1, high = 2}."""
    if not isinstance(spec, dict):
        raise SpecError(f"{where}: expected a table like {{dist = \"uniform\", low = 1, high = 2}}")
    kind = spec.get("dist", "uniform" if "low" in spec and "high" in spec and "mode" not in spec else None)
    if kind is None:
        raise SpecError(f"{where}: missing key 'dist' (one of {', '.join(DISTRIBUTIONS)})")
    if kind not in DISTRIBUTIONS:
        raise SpecError(f"{where}: unknown distribution '{kind}' (use one of {', '.join(DISTRIBUTIONS)})")
    cls, keys = DISTRIBUTIONS[kind]
    missing = [k for k in keys if k not in spec]
    if missing:
        raise SpecError(f"{where}: {kind} distribution needs key '{missing[0]}'")
    extra = sorted(set(spec) - set(keys) - {"dist"})
    if extra:
        raise SpecError(f"{where}: unknown key '{extra[0]}' for a {kind} distribution "
                        f"(expected {', '.join(keys)})")
    try:
        return cls(*(spec[k] for k in keys))
    except SpecError as err:
        raise SpecError(f"{where}: {err}") from None


