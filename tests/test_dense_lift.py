"""VECTOR SORT ORDER, VECTOR RANK and VECTOR REORDER reading their vector through a mapping
or a subrange, or in a piece of a piecewise array, stay dense (passes/dense_lift.py): the
kernel does not grow with the range, the dense route gives the per-element route's numbers,
the interpreter the compiled tier's, and both Vensim's definitions (ranks from 1, sort order
as 0-based positions, direction 1 ascending), derived here by sorting."""
from __future__ import annotations

import numpy as np
import pytest

from smartspec_dsl import ir
from smartspec_dsl.frontend.parse import parse_model
from smartspec_dsl.passes import pipeline
from smartspec_dsl.passes.dense import ineligible

from test_dense_route import _assert_same, _both_routes, _load

CONTROL = "INITIAL TIME = 0 ~~| FINAL TIME = 4 ~~| TIME STEP = 1 ~~| SAVEPER = 1 ~~|\n"


def vectors(n: int, p: int) -> str:
    """n elements (p a prime above n: the values 3k + t mod p, k = 1..n, are distinct and
    change order every step)."""
    return f"""
R: (r1-r{n}) -> S ~~|
S: (s1-s{n}) -> R ~~|
Sub: (r2-r{n - 1}) ~~|
C: c1, c2 ~~|
x[R] = MODULO(3 * R + Time, {p}) ~~|
m[C, R] = MODULO(3 * C * R + Time, {p}) ~~|
so[S] = VECTOR SORT ORDER(x[R], 1) ~~|
re[S] = VECTOR REORDER(x[R], so[S]) ~~|
rk[R] :EXCEPT: [r1] = VECTOR RANK(x[R], 0) ~~|
rk[r1] = -1 ~~|
sub rank[Sub] = VECTOR RANK(x[Sub], 1) ~~|
so2[C, S] = VECTOR SORT ORDER(m[C, R], 0) ~~|
""" + CONTROL


def _rank(values, ascending: bool) -> np.ndarray:
    order = np.argsort(values if ascending else -values, kind="stable")
    rank = np.empty(len(values))
    rank[order] = np.arange(1, len(values) + 1)
    return rank


@pytest.mark.parametrize("tier", ["interpreter", "compiled"])
def test_vectors_through_mappings_and_in_pieces_stay_dense(tmp_path, monkeypatch, tier):
    n, p = 6, 7
    text = vectors(n, p)
    assert ineligible(parse_model(text, "m.mdl")) is None
    lowered = pipeline.lower(parse_model(text, "m.mdl"))
    assert all(lowered.variables[v].dims for v in ("so", "re", "rk", "sub rank", "so2"))
    assert not any("[" in v for v in lowered.variables if lowered.variables[v].kind is not ir.Kind.LOOKUP)
    model, dense, _, flat = _both_routes(tmp_path, monkeypatch, text, tier)
    _assert_same(dense, flat)
    if tier == "compiled":
        np.testing.assert_array_equal(model.run(tier="interpreter").values, dense.values)
    k = np.arange(1, n + 1)
    for row, t in enumerate(range(5)):
        x = (3 * k + t) % p
        order = np.argsort(x, kind="stable")
        at = lambda name, els: np.array([dense[f"{name}[{e}]"][row] for e in els])
        np.testing.assert_array_equal(at("so", [f"s{j}" for j in k]), order)
        np.testing.assert_array_equal(at("re", [f"s{j}" for j in k]), np.sort(x))
        np.testing.assert_array_equal(at("rk", [f"r{j}" for j in k]), np.r_[-1, _rank(x, False)[1:]])
        np.testing.assert_array_equal(at("sub rank", [f"r{j}" for j in k[1:-1]]), _rank(x[1:-1], True))
        for c in (1, 2):
            m = (3 * c * k + t) % p
            np.testing.assert_array_equal(at("so2", [f"c{c},s{j}" for j in k]), np.argsort(-m, kind="stable"))


def test_their_kernel_does_not_grow_with_the_range(tmp_path, monkeypatch):
    monkeypatch.setenv("SMARTSPEC_CACHE_DIR", str(tmp_path / "cache"))
    small, _ = _load(tmp_path, vectors(10, 11), "small.mdl", "interpreter")
    large, run = _load(tmp_path, vectors(1000, 1009), "large.mdl", "interpreter")
    assert large.kernel.source.count("\n") == small.kernel.source.count("\n")
    assert len(large.kernel.source) < 1.1 * len(small.kernel.source)
    x = (3 * np.arange(1, 1001) + 4) % 1009
    np.testing.assert_array_equal([run[f"re[s{j}]"][-1] for j in (1, 500, 1000)], np.sort(x)[[0, 499, 999]])
