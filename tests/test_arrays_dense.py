"""Arrayed models at the cost of their text: an array reduction that every element of an
equation shares is computed once (not copied into each element), with the values of a
hand derivation. Static values by consteval (no kernel compile); one run on the
interpreter tier."""
from __future__ import annotations

import numpy as np
import pytest

import smartspec_dsl
from smartspec_dsl import ir
from smartspec_dsl.frontend.parse import parse_model
from smartspec_dsl.passes.consteval import constant_value
from smartspec_dsl.passes.subscripts import flatten

from conftest import population

CONTROL = """
INITIAL TIME = 0 ~~|
FINAL TIME = 2 ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""


def flat(text: str) -> ir.Model:
    return flatten(parse_model(text + CONTROL, "t.mdl"))


def shared(model: ir.Model) -> list[str]:
    return sorted(n for n, v in model.variables.items() if v.hidden and " #" in n)


def nodes(model: ir.Model) -> int:
    return sum(1 for v in model.variables.values() for e in (v.expr, v.initial) if e is not None
               for _ in ir.walk(e))


def test_sum_over_the_whole_range_is_computed_once():
    m = flat("""
R: r1, r2, r3, r4 ~~|
x[R] = 1, 2, 3, 4 ~~|
share[R] = x[R] / SUM(x[R!]) ~~|
""")
    assert [constant_value(m, f"share[r{i}]", {}) for i in (1, 2, 3, 4)] == [0.1, 0.2, 0.3, 0.4]
    (total,) = shared(m)
    assert constant_value(m, total, {}) == 10
    # every element reads the one sum
    assert all(ir.references(m.variables[f"share[r{i}]"].expr) == {f"x[r{i}]", total} for i in (1, 2, 3, 4))


def test_the_model_grows_linearly_with_the_range():
    text = """
R: (r1-r{n}) ~~|
x[R] = R ~~|
y[R] = x[R] / (SUM(x[R!]) / ELMCOUNT(R)) + VMAX(x[R!]) - VMIN(x[R!]) ~~|
"""
    small, large = flat(text.format(n=50)), flat(text.format(n=500))
    # a copy of each reduction per element would make the large model ~100 times larger
    assert nodes(large) < 12 * nodes(small)
    # y[r7] = 7 / mean + max - min, mean of 1..500 = 250.5
    assert constant_value(large, "y[r7]", {}) == pytest.approx(7 / 250.5 + 500 - 1, rel=1e-15)


def test_a_reduction_over_the_lhs_own_subscript_stays_per_element():
    m = flat("""
R: r1, r2 ~~|
C: c1, c2, c3 ~~|
m[R, C] = 1, 2, 3; 4, 5, 6 ~~|
row[R] = SUM(m[R, C!]) ~~|
frac[R, C] = m[R, C] / SUM(m[R!, C!]) ~~|
weighted[R] = SUM(m[R!, C!] * R) ~~|
""")
    assert [constant_value(m, f"row[r{i}]", {}) for i in (1, 2)] == [6, 15]
    assert constant_value(m, "frac[r2,c3]", {}) == 6 / 21
    # R used as a value is the left-hand side's position: 21 * 1 and 21 * 2
    assert [constant_value(m, f"weighted[r{i}]", {}) for i in (1, 2)] == [21, 42]
    # only the grand total of frac is shared: row and weighted differ by element
    (total,) = shared(m)
    assert constant_value(m, total, {}) == 21


def test_a_reduction_over_some_of_the_lhs_subscripts_is_shared_by_the_others():
    m = flat("""
R: r1, r2 ~~|
S: s1, s2, s3 ~~|
C: c1, c2, c3 ~~|
m[R, C] = 1, 2, 3; 4, 5, 6 ~~|
w[S] = 10, 20, 30 ~~|
y[R, S] = w[S] / SUM(m[R, C!]) ~~|
""")
    # one sum per row, read by the row's three elements: 6 and 15
    assert [constant_value(m, f"y[r{i},s2]", {}) for i in (1, 2)] == [20 / 6, 20 / 15]
    assert constant_value(m, "y[r2,s3]", {}) == 2
    assert sorted(constant_value(m, n, {}) for n in shared(m)) == [6, 15]


def test_prod_and_vector_select_shared():
    m = flat("""
R: r1, r2, r3 ~~|
x[R] = 2, 3, 4 ~~|
pick[R] = 1, 0, 1 ~~|
p[R] = x[R] * PROD(x[R!]) ~~|
s[R] = x[R] + VECTOR SELECT(pick[R!], x[R!], 0, 0, 0) ~~|
""")
    assert [constant_value(m, f"p[r{i}]", {}) for i in (1, 2, 3)] == [48, 72, 96]
    # the selected sum: 2 + 4
    assert [constant_value(m, f"s[r{i}]", {}) for i in (1, 2, 3)] == [8, 9, 10]
    assert len(shared(m)) == 2


def test_shared_sum_of_stocks_in_a_run(tmp_path, monkeypatch):
    """x[r] loses x[r] * total / 100 a year, total = SUM(x[R!]), Euler with dt 1:
    x = (10, 30): total 40, outflows 4 and 12 -> (6, 18); total 24, outflows 1.44, 4.32."""
    monkeypatch.setenv("SMARTSPEC_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "m.mdl"
    path.write_text("""
R: r1, r2 ~~|
x[R] = INTEG(-out[R], init[R]) ~~|
init[R] = 10, 30 ~~|
out[R] = x[R] * SUM(x[R!]) / 100 ~~|
""" + CONTROL)
    res = smartspec_dsl.load(path, tier="interpreter").run(tier="interpreter")
    got = np.asarray(res.values)[:, [res.columns.index("x[r1]"), res.columns.index("x[r2]")]]
    np.testing.assert_allclose(got, [[10, 30], [6, 18], [6 - 1.44, 18 - 4.32]], rtol=1e-14)


# the population model with a 2-D array, a row's share, VMAX over it and an :EXCEPT: equation
ARRAYED = population(7, extra="""
Age: young, old ~~|
by age[Region, Age] = population[Region] * age share[Age] ~~|
age share[Age] = 0.4, 0.6 ~~|
row share[Region, Age] = by age[Region, Age] / SUM(by age[Region, Age!]) + Time / 1000 ~~|
oldest[Region] :EXCEPT: [r1] = VMAX(by age[Region!, Age!]) - by age[Region, old] ~~|
oldest[r1] = PROD(age share[Age!]) ~~|
""", controls="""INITIAL TIME = 0 ~~|
FINAL TIME = 20 ~~|
TIME STEP = 0.25 ~~|
SAVEPER = 1 ~~|
""")


def test_arrayed_model_kernel_against_the_reference_and_the_interpreter(tmp_path, monkeypatch):
    """Shared reductions (over a whole equation and by row), SMOOTH and DELAY3 over an array,
    a lookup, a 2-D array and an :EXCEPT: equation: the compiled kernel against the plain-Python reference evaluator
    (tests/reference_eval.py), and the interpreter tier bit for bit against the kernel."""
    from reference_eval import simulate as reference_simulate
    monkeypatch.setenv("SMARTSPEC_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "arrayed.mdl"
    path.write_text(ARRAYED)
    model = smartspec_dsl.load(path, tier="compiled")
    got = model.run(tier="compiled")
    ref = reference_simulate(ARRAYED)
    assert len(got.columns) == len(ref.values) > 80
    for i, c in enumerate(got.columns):
        np.testing.assert_allclose(got.values[:, i], ref.values[ir.canonical_name(c)], rtol=1e-12,
                                   atol=1e-12, err_msg=c)
    fast = model.run(tier="interpreter")
    assert fast.tier == "interpreter"
    np.testing.assert_array_equal(fast.values, got.values)
