"""Multi-criteria methods of the paper's static evaluation (section 5.1):
min-max normalisation, entropy weights, TOPSIS and coupling coordination.
numpy arrays in, one row per alternative, one column per criterion; the
formulas and their sources are in `evaluate`'s module documentation."""
from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import numpy as np

from ..errors import SpecError

FORMULAS = ("paper", "standard")


class TopsisResult(NamedTuple):
    closeness: np.ndarray
    d_plus: np.ndarray
    d_minus: np.ndarray


class Coupling(NamedTuple):
    C: np.ndarray
    T: np.ndarray
    D: np.ndarray


def _as_matrix(X, benefit, labels) -> tuple[np.ndarray, np.ndarray, list[str]]:
    Z = np.asarray(X, dtype=float)
    if Z.ndim != 2:
        raise ValueError(f"expected a 2-D array (alternatives x criteria), got shape {Z.shape}")
    flags = np.asarray(benefit, dtype=bool).reshape(-1)
    if flags.size != Z.shape[1]:
        raise ValueError(f"benefit has {flags.size} entries for {Z.shape[1]} criteria")
    names = list(labels) if labels is not None else [f"criterion {j + 1}" for j in range(Z.shape[1])]
    if len(names) != Z.shape[1]:
        raise ValueError(f"labels has {len(names)} entries for {Z.shape[1]} criteria")
    if Z.shape[0] == 0:
        raise SpecError("no data rows to evaluate")
    bad = np.argwhere(~np.isfinite(Z))
    if bad.size:
        i, j = bad[0]
        raise SpecError(f"{names[j]}: row {i + 1} has non-finite value {Z[i, j]!r}")
    return Z, flags, names


def normalize(X, benefit, labels: Sequence[str] | None = None) -> np.ndarray:
    """Min-max normalize each column into [0, 1]; cost columns are reversed so
    that 1 is always the best value. `labels` only name columns in errors."""
    Z, flags, names = _as_matrix(X, benefit, labels)
    lo, hi = Z.min(axis=0), Z.max(axis=0)
    for j in np.flatnonzero(hi == lo):
        # A constant criterion cannot discriminate and would divide by zero.
        raise SpecError(f"{names[j]} is constant (every row = {lo[j]:g}); "
                        "min-max normalization needs at least two distinct values")
    span = hi - lo
    return np.where(flags, (Z - lo) / span, (hi - Z) / span)


def entropy_weights(X, benefit, labels: Sequence[str] | None = None) -> np.ndarray:
    """Entropy weight method on the min-max normalized matrix; weights sum to 1."""
    Z = normalize(X, benefit, labels)
    n = Z.shape[0]
    P = Z / Z.sum(axis=0)  # column sums > 0: each normalized column contains a 1
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(P > 0, P * np.log(P), 0.0)  # 0 * ln 0 = 0 by continuity
    e = -plogp.sum(axis=0) / math.log(n)  # n >= 2 here: n == 1 is a constant column
    d = 1.0 - e
    # Min-max puts a 0 in every column, so no column is uniform and sum(d) > 0.
    return d / d.sum()


def topsis(X, weights, benefit, labels: Sequence[str] | None = None,
           return_distances: bool = False):
    """TOPSIS relative closeness per row (1 = ideal). With return_distances=True
    returns TopsisResult(closeness, d_plus, d_minus) instead of the array."""
    Z = normalize(X, benefit, labels)
    w = np.asarray(weights, dtype=float).reshape(-1)
    if w.size != Z.shape[1]:
        raise ValueError(f"{w.size} weights for {Z.shape[1]} criteria")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"weights must be finite, non-negative and not all zero: {w.tolist()}")
    V = Z * w
    ideal, anti = V.max(axis=0), V.min(axis=0)
    d_plus = np.sqrt(((V - ideal) ** 2).sum(axis=1))
    d_minus = np.sqrt(((V - anti) ** 2).sum(axis=1))
    total = d_plus + d_minus
    # total == 0 only if every weighted column is constant, i.e. all weights on
    # columns that normalize() already refused; guard anyway against 0/0.
    closeness = np.divide(d_minus, total, out=np.zeros_like(total), where=total > 0)
    if return_distances:
        return TopsisResult(closeness, d_plus, d_minus)
    return closeness


def coupling_coordination(u1, u2, formula: str = "paper") -> Coupling:
    """Coupling degree C, comprehensive coordination index T and coordination
    degree D = sqrt(C*T) of two subsystem levels, elementwise.

    formula="paper": C = sqrt(u1*u2 / (u1+u2)), as printed in section 4.2.3.
    formula="standard": C = 2*sqrt(u1*u2) / (u1+u2), the usual two-system form.
    Where u1 + u2 == 0 both give C = 0 (no development, nothing to couple).
    """
    if formula not in FORMULAS:
        raise ValueError(f"formula must be one of {FORMULAS}, got {formula!r}")
    a, b = np.broadcast_arrays(np.asarray(u1, dtype=float), np.asarray(u2, dtype=float))
    if np.any(a < 0) or np.any(b < 0) or not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("subsystem levels must be finite and non-negative")
    total = a + b
    safe = np.where(total > 0, total, 1.0)
    if formula == "paper":
        C = np.sqrt(a * b / safe)
    else:
        C = 2.0 * np.sqrt(a * b) / safe
    C = np.where(total > 0, C, 0.0)
    T = 0.5 * a + 0.5 * b
    return Coupling(C, T, np.sqrt(C * T))


