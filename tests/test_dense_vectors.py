"""The dense route's whole-array functions (passes/dense_vectors.py): VECTOR RANK, VECTOR SORT
ORDER, VECTOR REORDER, VECTOR ELM MAP, VECTOR SELECT, VECTOR LOOKUP, ALLOCATE BY PRIORITY,
ALLOCATE AVAILABLE, DEMAND AT PRICE, SUPPLY AT PRICE, FIND MARKET PRICE, MARKETP and INVERT
MATRIX, and lookups defined per element (passes/dense_lookups.py), keep their equation, and the
arrays they read, one array each. Every model runs on the dense route and on the per-element
route (forced): the two agree to 1e-12 on the interpreter tier, the compiled kernel agrees with
the interpreter (compiling the per-element kernel, the slow part, is left out), the values are
those of a hand derivation, and the kernel's text does not grow with the range's size."""
from __future__ import annotations

import numpy as np
import pytest

import smartspec_dsl
from smartspec_dsl.errors import ModelError
from smartspec_dsl.frontend.parse import parse_model
from smartspec_dsl.passes import pipeline
from smartspec_dsl.passes.dense import ineligible

from test_dense_route import _assert_same, _both_routes, _load

CONTROL = """
INITIAL TIME = 0 ~~|
FINAL TIME = 4 ~~|
TIME STEP = 0.5 ~~|
SAVEPER = 1 ~~|
"""


def vectors(n: int) -> str:
    """Each function over a range of n elements, over one of two ranges (a scalar argument
    that differs between the vectors), reading a number, a reduction and a range used as a
    value, and VECTOR SELECT shared by every element, per element, and with an error action."""
    return f"""
R: (r1-r{n}) ~~|
C: c1, c2 ~~|
P: ptype, ppriority, pwidth, pextra ~~|
x[R] = MODULO(R * 37, 101) + R / 1000 ~~|
y[R] = x[R] * (1 + Time) ~~|
rank[R] = VECTOR RANK(y[R], 1) ~~|
order[R] = VECTOR SORT ORDER(y[R], -1) ~~|
sorted[R] = VECTOR REORDER(y[R] * 2, order[R]) ~~|
elm[R] = VECTOR ELM MAP(x[r1], rank[R] - 1) ~~|
score[C, R] = x[R] * C ~~|
crank[C, R] = VECTOR RANK(score[C, R], C - 1.5) ~~|
elm2[R] = VECTOR ELM MAP(score[c1, R], {n}) ~~|
big = VECTOR SELECT(x[R!] > 50, y[R!], -1, 0, 0) ~~|
csel[C] = VECTOR SELECT(x[R!] > 50, score[C, R!], 0, 4, 0) ~~|
above[R] = VECTOR SELECT(x[R!] > x[R], 1, 0, 0, 1) ~~|
vl[R] = VECTOR LOOKUP(x[r1], Time + R, 0, {n}, 0) ~~|
req[R] = 1 + MODULO(R, 3) ~~|
supply = SUM(req[R!]) * (0.3 + 0.1 * Time) ~~|
abp[R] = ALLOCATE BY PRIORITY(req[R], x[R], ELMCOUNT(R), 3, supply) ~~|
pp[R, P] = IF THEN ELSE(P = 1, 1, IF THEN ELSE(P = 2, x[R], IF THEN ELSE(P = 3, 20, 0))) ~~|
aa[R] = ALLOCATE AVAILABLE(req[R], pp[R, ptype], supply) ~~|
dap[R] = DEMAND AT PRICE(req[R], pp[R, ptype], 40 + 5 * Time) + SUPPLY AT PRICE(req[R], pp[R, ptype], 40) ~~|
act = IF THEN ELSE(Time > 2, 3, 4) ~~|
w[C] = C / 2 ~~|
chosen[C] = VECTOR SELECT(x[R!] > 50, score[C, R!], -1, act, 0) ~~|
pairs = VECTOR SELECT(x[R!] > 50, w[C!], 0, 0, 2) ~~|
none = VECTOR SELECT(x[R!] > 1000, x[R!], 7, 1, 3) ~~|
tscore[R, C] = score[C, R] ~~|
trank[C, R] = VECTOR RANK(tscore[R, C], 1) ~~|
treorder[C, R] = VECTOR REORDER(tscore[R, C], order[R]) ~~|
elm3[R, C] = VECTOR ELM MAP(tscore[r1, c1], x[R] + C) ~~|
third = VECTOR ELM MAP(x[r3], 2) ~~|
vl2[C, R] = VECTOR LOOKUP(score[C, r2], Time + R, 1, {n}, 3) ~~|
abp2[C, R] = ALLOCATE BY PRIORITY(tscore[R, C], x[R] * C, ELMCOUNT(R), w[C], 5 + Time * C) ~~|
""" + CONTROL


ARRAYS = ("x", "y", "rank", "order", "sorted", "elm", "score", "crank", "elm2", "csel", "above", "vl", "req",
          "abp", "pp", "aa", "dap", "chosen", "tscore", "trank", "treorder", "elm3", "vl2", "abp2")


def test_vector_functions_stay_dense_and_agree(tmp_path, monkeypatch):
    """70 elements: the interpreter keeps the loops (tape.LOOP_MIN)."""
    n = 70
    text = vectors(n)
    assert ineligible(parse_model(text, "m.mdl")) is None
    lowered = pipeline.lower(parse_model(text, "m.mdl"))
    assert all(lowered.variables[v].dims for v in ARRAYS)
    model, dense, _, flat = _both_routes(tmp_path, monkeypatch, text)
    _assert_same(dense, flat)
    np.testing.assert_allclose(model.run(tier="compiled").values, dense.values, rtol=1e-12, atol=1e-12)
    # hand derivations at each saved time t (y = x (1 + t) keeps x's order)
    x = np.array([(k * 37) % 101 + k / 1000 for k in range(1, n + 1)])
    ranks = np.argsort(np.argsort(x)) + 1
    order = np.argsort(-x)
    for j, t in enumerate(range(5)):
        row = lambda name: dense.values[j, dense.columns.index(name)]
        for k in (1, 2, 40, n):
            assert row(f"rank[r{k}]") == ranks[k - 1]
            assert row(f"order[r{k}]") == order[k - 1]
            assert row(f"sorted[r{k}]") == pytest.approx(2 * x[order[k - 1]] * (1 + t), rel=1e-12)
            assert row(f"elm[r{k}]") == x[ranks[k - 1] - 1]
            assert row(f"elm2[r{k}]") == 2 * x[k - 1]
            # direction -0.5 for c1 (descending), 0.5 for c2 (ascending)
            assert row(f"crank[c1,r{k}]") == n + 1 - ranks[k - 1] and row(f"crank[c2,r{k}]") == ranks[k - 1]
            # how many are larger; NaN (error action 1) where none is
            np.testing.assert_equal(row(f"above[r{k}]"), np.nan if x[k - 1] == x.max() else np.sum(x > x[k - 1]))
            # the points (i n / (n - 1), x[i]): linear between them
            at = (t + k) * (n - 1) / n
            assert row(f"vl[r{k}]") == pytest.approx(np.interp(at, np.arange(n), x), rel=1e-12)
        assert row("big") == pytest.approx(np.sum(x[x > 50]) * (1 + t), rel=1e-12)
        # action 4 (mean) then 3 (max) from a variable; error actions 2 (more than one) and 3 (none)
        want = 2 * (np.mean(x[x > 50]) if t <= 2 else np.max(x[x > 50]))
        assert row("chosen[c2]") == pytest.approx(want, rel=1e-12)
        assert np.isnan(row("pairs")) and np.isnan(row("none")) and row("third") == x[4]
        assert row(f"trank[c2,r{n}]") == ranks[n - 1]
        assert row("csel[c2]") == pytest.approx(2 * np.mean(x[x > 50]), rel=1e-12)
        # the allocation shares out what is available, and no one gets more than asked
        req = np.array([1 + (k % 3) for k in range(1, n + 1)])
        for name in ("abp", "aa"):
            got = np.array([row(f"{name}[r{k}]") for k in range(1, n + 1)])
            assert got.sum() == pytest.approx(req.sum() * (0.3 + 0.1 * t), rel=1e-9)
            assert np.all(got <= req + 1e-12)


def lookups(n: int) -> str:
    """Lookups defined per element over one range and over two (piecewise by element), applied
    at the loop's element, at a fixed element and at a fixed element of one of two ranges."""
    return f"""
R: (r1-r{n}) ~~|
C: c1, c2 ~~|
tbl[R]((0,0),(1,1),(2,5)) ~~|
tbl2[R, c1]((0,1),(10,2)) ~~|
tbl2[R, c2]((0,3),(10,-2)) ~~|
x[R] = Time / 2 + R / {n} ~~|
y[R] = tbl[R](x[R]) + tbl[r3](Time) ~~|
z[R, C] = tbl2[R, C](Time * 2) + tbl2[R, c2](x[R]) ~~|
""" + CONTROL


def test_lookups_of_arrays_stay_dense_and_agree(tmp_path, monkeypatch):
    n = 70
    lowered = pipeline.lower(parse_model(lookups(n), "m.mdl"))
    assert lowered.variables["y"].dims and lowered.variables["z"].dims
    # every array dense (the lookups' elements are tables, not arrays the route flattens)
    model, dense, _, flat = _both_routes(tmp_path, monkeypatch, lookups(n))
    _assert_same(dense, flat)
    np.testing.assert_allclose(model.run(tier="compiled").values, dense.values, rtol=1e-12, atol=1e-12)
    tbl = lambda u: np.interp(u, [0, 1, 2], [0, 1, 5])
    for j, t in enumerate(range(5)):
        for k in (1, 35, n):
            x = t / 2 + k / n
            assert dense.values[j, dense.columns.index(f"y[r{k}]")] == pytest.approx(tbl(x) + tbl(t), rel=1e-12)
            want = np.interp(2 * t, [0, 10], [3, -2]) + np.interp(x, [0, 10], [3, -2])
            assert dense.values[j, dense.columns.index(f"z[r{k},c2]")] == pytest.approx(want, rel=1e-12)


def markets(n: int) -> str:
    """A market of n demanders and n suppliers, cleared for the whole market and per one of two
    markets (an array of FIND MARKET PRICE over another range), and MARKETP with ALLOC P."""
    return f"""
D: (d1-d{n}) ~~|
S: (s1-s{n}) ~~|
K: k1, k2 ~~|
P: ptype, ppriority, pwidth, pextra ~~|
demand[D] = 10 + MODULO(D, 7) ~~|
capacity[S] = 5 + MODULO(S * 3, 11) ~~|
dprofile[D, P] = IF THEN ELSE(P = 1, 1, IF THEN ELSE(P = 2, 10 + MODULO(D, 5), IF THEN ELSE(P = 3, 4, 0))) ~~|
sprofile[S, P] = IF THEN ELSE(P = 1, 2, IF THEN ELSE(P = 2, 8 + MODULO(S, 6), IF THEN ELSE(P = 3, 4, 0))) ~~|
price = FIND MARKET PRICE(demand[d1], dprofile[d1, ptype], capacity[s1], sprofile[s1, ptype]) ~~|
bought[D] = DEMAND AT PRICE(demand[D], dprofile[D, ptype], price) ~~|
sold[S] = SUPPLY AT PRICE(capacity[S], sprofile[S, ptype], price) ~~|
kdemand[K, D] = demand[D] * K * (0.5 + Time / 4) ~~|
kprice[K] = FIND MARKET PRICE(kdemand[K, d1], dprofile[d1, ptype], capacity[s1], sprofile[s1, ptype]) ~~|
prio[D] = 10 + MODULO(D, 5) ~~|
supply = SUM(demand[D!]) * (0.2 + Time / 10) ~~|
mp = MARKETP(demand[d1], prio[d1], ELMCOUNT(D), 2, supply) ~~|
given[D] = ALLOC P(demand[D], prio[D], 2, mp) ~~|
""" + CONTROL


def test_markets_stay_dense_and_agree(tmp_path, monkeypatch):
    n = 70
    text = markets(n)
    assert ineligible(parse_model(text, "m.mdl")) is None
    lowered = pipeline.lower(parse_model(text, "m.mdl"))
    assert all(lowered.variables[v].dims for v in ("demand", "dprofile", "bought", "sold", "kprice", "given"))
    model, dense, _, flat = _both_routes(tmp_path, monkeypatch, text)
    _assert_same(dense, flat)
    np.testing.assert_allclose(model.run(tier="compiled").values, dense.values, rtol=1e-12, atol=1e-12)
    column = lambda name: dense.values[:, dense.columns.index(name)]
    total = lambda name, r: sum(column(f"{name}[{r}{k}]") for k in range(1, n + 1))
    # the market clears: what the demanders buy at the price is what the suppliers sell
    np.testing.assert_allclose(total("bought", "d"), total("sold", "s"), rtol=1e-6)
    # ALLOC P at MARKETP's priority shares out the supply (less than the demand here)
    demand = sum(10 + k % 7 for k in range(1, n + 1))
    np.testing.assert_allclose(total("given", "d"), demand * (0.2 + np.arange(5) / 10), rtol=1e-6)


def inverse(n: int) -> str:
    """INVERT MATRIX of an n x n matrix per element of another range, and the product of the
    inverse with the matrix's third column (the identity's)."""
    return f"""
R: (r1-r{n}) ~~|
S: (s1-s{n}) ~~|
K: k1, k2 ~~|
m[K, R, S] = IF THEN ELSE(R = S, 2 + K + Time, 1 / (R + S)) ~~|
inv[K, R, S] = INVERT MATRIX(m[K, R, S], {n}) ~~|
third[K, S] = IF THEN ELSE(S = 3, 2 + K + Time, 1 / (S + 3)) ~~|
product[K, R] = SUM(inv[K, R, S!] * third[K, S!]) ~~|
""" + CONTROL


def test_invert_matrix_stays_dense_and_agrees(tmp_path, monkeypatch):
    n = 12
    text = inverse(n)
    assert ineligible(parse_model(text, "m.mdl")) is None
    model, dense, _, flat = _both_routes(tmp_path, monkeypatch, text)
    _assert_same(dense, flat)
    np.testing.assert_allclose(model.run(tier="compiled").values, dense.values, rtol=1e-12, atol=1e-12)
    for k in (1, 2):
        for r in range(1, n + 1):
            np.testing.assert_allclose(dense[f"product[k{k},r{r}]"], float(r == 3), atol=1e-12)
    # the hand derivation of the first inverse's corner at time 0: np.linalg.inv of the matrix
    m = np.array([[3.0 if i == j else 1 / (i + j) for j in range(1, n + 1)] for i in range(1, n + 1)])
    assert dense.values[0, dense.columns.index("inv[k1,r1,s2]")] == pytest.approx(np.linalg.inv(m)[0, 1], rel=1e-10)


@pytest.mark.parametrize("model, small, large", [(vectors, 10, 1000), (lookups, 10, 1000), (markets, 10, 1000),
                                                 (inverse, 3, 30)])
def test_kernels_do_not_grow_with_the_range(tmp_path, monkeypatch, model, small, large):
    monkeypatch.setenv("SMARTSPEC_CACHE_DIR", str(tmp_path / "cache"))
    small, _ = _load(tmp_path, model(small), "small.mdl", "interpreter")
    path = tmp_path / "large.mdl"
    path.write_text(model(large))
    large = smartspec_dsl.load(path, tier="interpreter")
    assert large.kernel.source.count("\n") == small.kernel.source.count("\n")
    assert large.kernel.n_slots > 1000


@pytest.mark.parametrize("profile, width, message", [
    ("1, 5, 2, 0; 6, 4, 2, 0; 1, 3, 2, 0", 1, "priority type 6"),
    ("1, 5, 2, 0; 5, 4, 2, 0; 1, 3, 2, 0", 1, "the elasticity \\(pextra\\) of a constant elasticity priority curve "
                                             "\\(type 5\\) must not be 0, got 0"),
    ("1, 5, 2, 0; 1, 4, 2, 0; 1, 3, 0, 0", 1, "the priority width must be positive, got 0"),
    ("1, 5, 2, 0; 1, 4, 2, 0; 1, 3, 1, 0", -1, "the priority width must be positive, got -1"),
])
def test_profiles_given_as_numbers_are_checked_when_the_model_is_built(tmp_path, profile, width, message):
    """As the per-element route checks them (array_functions.check_profiles), naming the number."""
    text = f"""
R: r1, r2, r3 ~~|
P: ptype, ppriority, pwidth, pextra ~~|
req[R] = 1, 2, 3 ~~|
pp[R, P] = {profile} ~~|
aa[R] = ALLOCATE AVAILABLE(req[R], pp[R, ptype], 3) ~~|
w = {width} ~~|
abp[R] = ALLOCATE BY PRIORITY(req[R], req[R], 3, w, 3) ~~|
""" + CONTROL
    path = tmp_path / "m.mdl"
    path.write_text(text)
    with pytest.raises(ModelError, match=message):
        smartspec_dsl.load(path, tier="interpreter")


def test_an_invalid_allocation_warns_once_by_the_modellers_name(tmp_path, monkeypatch):
    """A priority type that becomes 5 (constant elasticity) with an elasticity of 0 (a flat curve)
    and a width that becomes 0 during the run: one warning per
    array, naming it and the function, as on the per-element route; none by the hidden array
    that computes the vectors."""
    monkeypatch.setenv("SMARTSPEC_CACHE_DIR", str(tmp_path / "cache"))
    text = """
R: r1, r2, r3 ~~|
P: ptype, ppriority, pwidth, pextra ~~|
req[R] = 1, 2, 3 ~~|
pt = IF THEN ELSE(Time > 1, 5, 1) ~~|
pp[R, P] = IF THEN ELSE(P = 1, pt, IF THEN ELSE(P = 2, req[R], IF THEN ELSE(P = 3, 1, 0))) ~~|
aa[R] = ALLOCATE AVAILABLE(req[R], pp[R, ptype], 3) ~~|
w = IF THEN ELSE(Time > 1, 0, 1) ~~|
abp[R] = ALLOCATE BY PRIORITY(req[R], req[R], 3, w, 3) ~~|
""" + CONTROL
    _, run = _load(tmp_path, text, "m.mdl", "interpreter")
    assert [w.variable for w in run.warnings] == ["aa", "abp"], [w.message for w in run.warnings]
    assert "at time 2 in 3 of its elements" in run.warnings[0].message
    assert "ALLOCATE AVAILABLE" in run.warnings[0].message and "ALLOCATE BY PRIORITY" in run.warnings[1].message


ORDERED = """
R: (r1-r{n}) ~~|
C: c1, c2 ~~|
x[R] = 1.1 + 0.37 * Time + 0.013 * (R - 1) * (R - 1) + 0.1 / R ~~|
s[R] = IF THEN ELSE(R = 3, 0, 1 + 0.5 * (R = 5)) ~~|
{selects}
sm[C] = SUM(x[R!]) * C ~~|
pr[C] = PROD(x[R!]) * C ~~|
INITIAL TIME = 0 ~~| FINAL TIME = 50 ~~| TIME STEP = 0.25 ~~| SAVEPER = 0.25 ~~|
"""


@pytest.mark.parametrize("tier", ["interpreter", "compiled"])
def test_reductions_round_alike_on_both_routes(tmp_path, monkeypatch, tier):
    """VECTOR SELECT's every action (weighted sum, product, minimum, maximum, mean, product of
    powers, and of the values alone), SUM and PROD give the same bits on the dense route and
    the per-element route, on both tiers: both combine the terms in element order, left to
    right. The per-element route combined them as a balanced tree (x1 x2 (x3 x4) ...), which
    rounds otherwise than the dense route's loop: the product differed in its last bits."""
    selects = "\n".join(f"v{k}[C] = VECTOR SELECT(s[R!], x[R!], -1, {k}, 0) * C ~~|" for k in range(11))
    text = ORDERED.format(n=7, selects=selects)
    _, dense, _, flat = _both_routes(tmp_path, monkeypatch, text, tier)
    assert sorted(dense.columns) == sorted(flat.columns)
    for c in flat.columns:
        assert np.array_equal(dense[c], flat[c]), c
    # the product of the six selected values 1.1 + 0.37 t + ... times their weights (1, and 1.5 for r5)
    t = np.arange(201) * 0.25
    x = [1.1 + 0.37 * t + 0.013 * (r - 1) ** 2 + 0.1 / r for r in range(1, 8)]
    np.testing.assert_allclose(dense["v1[c1]"], np.prod([xr * (1.5 if r == 5 else 1) for r, xr in
                                                         enumerate(x, 1) if r != 3], axis=0), rtol=1e-13)
