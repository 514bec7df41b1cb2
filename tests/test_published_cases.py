"""Behaviours of Vensim's that public test models with Vensim's output showed smartspec
lacked; each test is a smaller model written for it, its expected values Vensim's output for
the public model (SDEverywhere's test models, their .dat files, 6 digits) or worked out by
hand.

The normal priority curve's least width, and a fixed-quantity profile's unused width, in
DEMAND AT PRICE, SUPPLY AT PRICE and FIND MARKET PRICE (allocate_normal_width, whose comment
says "Vensim uses a standard deviation of at least 0.05 for the normal curve": its output for
widths 0, 0.001, 0.01, 0.03 and 0.05 is the same; the times of that run used here: price
10.03, demand 1.2). INVERT MATRIX of a matrix given as m[R, R] (invertmatrixio)."""
from __future__ import annotations

import pytest

import smartspec_dsl

MODEL = """{UTF-8}
case: w0, w1, w4, w5 ~~|
agent: a1, a2 ~~|
pprofile: ptype, ppriority, pwidth, pextra ~~|
width[case] = 0, 0.001, 0.05, 0.06 ~~|
priority offset[agent] = 0, 0.03 ~~|
profile[case, agent, ptype] = 3 ~~|
profile[case, agent, ppriority] = 10 + priority offset[agent] ~~|
profile[case, agent, pwidth] = width[case] ~~|
profile[case, agent, pextra] = 0 ~~|
quantity[case, agent] = 1 ~~|
test price = 10.03 ~~|
demanded[case, agent] = DEMAND AT PRICE(quantity[case, agent], profile[case, agent, ptype], test price) ~~|
fixed profile[case, agent, pprofile] = 0 ~~|
market demand[case, a1] = 1.2 ~~|
market demand[case, a2] = 0 ~~|
market price[case] = FIND MARKET PRICE(market demand[case, a1], fixed profile[case, a1, ptype],
    quantity[case, a1], profile[case, a1, ptype]) ~~|
supplied[case, agent] = SUPPLY AT PRICE(quantity[case, agent], profile[case, agent, ptype],
    market price[case]) ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 1 ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = tmp_path_factory.mktemp("normal_width") / "m.mdl"
    path.write_text(MODEL)
    return smartspec_dsl.load(path, tier="interpreter").run(tier="interpreter")


@pytest.mark.parametrize("case", ["w0", "w1", "w4"])
def test_normal_curve_is_at_least_005_wide(run, case):
    """Widths 0, 0.001 and 0.05 give Vensim's numbers for 0.05: at price 10.03 the requester
    of priority 10 gets 0.274264 (by hand, P(Z > 0.03 / 0.05) = 0.274253; Vensim's normal
    tail is an approximation) and the one of priority 10.03 half; a width of 0 is no error.
    A demand of 1.2 met by both (a fixed-quantity demand profile, whose width of 0 is not
    read) is supplied 0.486043 by the second."""
    assert run[f"demanded[{case},a1]"][0] == pytest.approx(0.274264, rel=1e-4)
    assert run[f"demanded[{case},a2]"][0] == pytest.approx(0.5, abs=1e-9)
    assert run[f"supplied[{case},a2]"][0] == pytest.approx(0.486043, rel=1e-4)
    assert run[f"supplied[{case},a1]"][0] + run[f"supplied[{case},a2]"][0] == pytest.approx(1.2, rel=1e-9)


def test_a_wider_normal_curve_keeps_its_width(run):
    """Width 0.06, above the least: Vensim's 0.308549 and 0.504548 (by hand, the first is
    P(Z > 0.03 / 0.06) = 0.308538)."""
    assert run["demanded[w5,a1]"][0] == pytest.approx(0.308549, rel=1e-4)
    assert run["supplied[w5,a2]"][0] == pytest.approx(0.504548, rel=1e-4)


INVERT = """{UTF-8}
Code: ag, coal ~~|
Source: ag, coal ~~|
Target: ag, coal ~~|
table[Source, Target] = 0.5, 0.25; 0, 0.5; ~~|
minus identity[Source, Target] = IF THEN ELSE(Source = Target, 1, 0) - table[Source, Target] ~~|
inverse[Source, Target] = INVERT MATRIX(minus identity[Source, Source], ELMCOUNT(Code)) ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 1 ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""


def test_invert_matrix_of_a_matrix_given_by_its_first_element(tmp_path):
    """`INVERT MATRIX(m[Source, Source], n)` over [Source, Target], as SDEverywhere's
    invertmatrixio writes a Leontief inverse: Vensim passes the matrix by its first element,
    so this is the inverse of the whole of m (Vensim's output for it is: its [01T03, 10T12]
    element is 0.278, near the table's 0.225, its [10T12, 01T03] 0.045), not of m's diagonal
    (which was singular: NaN). By hand, the inverse of [[0.5, -0.25], [0, 0.5]] is
    [[2, 1], [0, 2]]."""
    (tmp_path / "m.mdl").write_text(INVERT)
    r = smartspec_dsl.load(tmp_path / "m.mdl", tier="interpreter").run(tier="interpreter")
    got = [[r[f"inverse[{s},{t}]"][0] for t in ("ag", "coal")] for s in ("ag", "coal")]
    assert got == [[2.0, 1.0], [0.0, 2.0]]
