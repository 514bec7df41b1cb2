"""Priority profile type 5, the constant elasticity curve (and 15, its whole allocations), in
ALLOCATE AVAILABLE, DEMAND AT PRICE, SUPPLY AT PRICE and FIND MARKET PRICE, on both tiers.

Vensim's help names the curve ("a truncated constant elasticity" curve, "Prioritization,
Demand and Supply Curves") and its parameters ("the center, the width or truncation point
and in the case of the constant elasticity curves, the elasticity", "Specifying the Curves":
ppriority, pwidth, pextra) but gives no formula, and no public implementation or Vensim
output for it exists (PySD leaves it out, SDEverywhere runs types 0-4). smartspec chose
(kernel_lib.elasticity_share): a demander's share of its quantity at level x is 1 up to the
truncation point ppriority + pwidth, then ((x - ppriority) / pwidth) ** -|pextra|, the
complement of a Pareto distribution located at the priority, its scale the width and its
shape the elasticity; a supplier's is that distribution itself, 1 - the share, as for types
1-4. Why: the quantity's elasticity with respect to the level (measured from the priority) is
the constant -|pextra|; the curve is continuous and monotone and never exceeds the quantity
given, as the help asks of every curve, so ALLOCATE AVAILABLE gives no one more than its
request; and a higher priority shifts it along the level as it does types 1-4. The sign of
pextra is not read (demand slopes down, supply up, whatever sign a modeller quotes an
elasticity with); an elasticity of 0 (a flat curve, which shares nothing out) is an error.
Expected values are worked out by hand below."""
from __future__ import annotations

import numpy as np
import pytest

import smartspec_dsl
from smartspec_dsl.errors import ModelError
from smartspec_dsl.frontend.parse import parse_model
from smartspec_dsl.passes.pipeline import lower

CONTROL = """
INITIAL TIME = 0 ~~|
FINAL TIME = 2 ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""

MODEL = """
R: r1, r2, r3 ~~|
P: ptype, ppriority, pwidth, pextra ~~|
request[R] = 10, 20, 4 ~~|
pp[R, P] = 5, 0, 1, 1; 5, 0, 2, -2; 1, 4, 2, 0; ~~|
whole pp[R, P] = 15, 0, 1, 1; 15, 0, 2, -2; 1, 4, 2, 0; ~~|
alloc[R] = ALLOCATE AVAILABLE(request[R], pp[R, ptype], 9.5) ~~|
whole alloc[R] = ALLOCATE AVAILABLE(request[R], whole pp[R, ptype], 9.5) ~~|
changing[R, P] :EXCEPT: [r1, pextra] = pp[R, P] ~~|
changing[r1, pextra] = 1 - Time ~~|
switching[R] = ALLOCATE AVAILABLE(request[R], changing[R, ptype], 9.5) ~~|
bought[R] = DEMAND AT PRICE(request[R], pp[R, ptype], 4) ~~|
sold[R] = SUPPLY AT PRICE(request[R], pp[R, ptype], 4) ~~|
D: d1 ~~|
dq[D] = 10 ~~|
dp[D, P] = 5, 0, 1, 1 ~~|
S: s1 ~~|
sq[S] = 10 ~~|
sp[S, P] = 5, 0, 1, 1 ~~|
price = FIND MARKET PRICE(dq[d1], dp[d1, ptype], sq[s1], sp[s1, ptype]) ~~|
big demand[D] = 20 ~~|
fixed[D, P] = 0, 0, 1, 0 ~~|
scarce price = FIND MARKET PRICE(big demand[d1], fixed[d1, ptype], sq[s1], sp[s1, ptype]) ~~|
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    path = tmp_path_factory.mktemp("elasticity") / "m.mdl"
    path.write_text("{UTF-8}\n" + MODEL + CONTROL)
    model = smartspec_dsl.load(path, tier="interpreter")
    return model.run(tier="interpreter"), model.run(tier="compiled")


def test_allocate_available_on_constant_elasticity_curves(runs):
    """Requests 10, 20, 4; r1 type 5 at priority 0, width 1, elasticity 1: share 1 / x for
    x > 1; r2 type 5, width 2, elasticity -2 (its sign not read): share (x / 2) ** -2 = 4 / x**2
    for x > 2; r3 rectangular at priority 4, width 2: share (5 - x) / 2 on [3, 5]. At x = 4:
    10 / 4 + 20 * 4 / 16 + 4 / 2 = 2.5 + 5 + 2 = 9.5, what is available; the total falls
    strictly with x there, so x = 4 is the level: 2.5, 5, 2."""
    for res in runs:
        for k, want in enumerate([2.5, 5.0, 2.0], start=1):
            np.testing.assert_allclose(res[f"alloc[r{k}]"], want, rtol=1e-9)


def test_whole_allocations_of_type_15(runs):
    """Type 15 is type 5 with whole allocations (help, "ALLOCATE AVAILABLE": "adding 10 to the
    shape"): the whole requesters' 2.5 + 5 = 7.5 rounded down to 7, each rounded down (2, 5)
    with nothing left over; r3 (type 1) keeps its 2."""
    for res in runs:
        for k, want in enumerate([2.0, 5.0, 2.0], start=1):
            np.testing.assert_allclose(res[f"whole alloc[r{k}]"], want, rtol=1e-9)


def test_an_elasticity_that_becomes_0_during_the_run_is_nan_with_a_warning(runs):
    """r1's elasticity 1 - Time: 1 at time 0 (the allocation above), 0 at time 1 (a flat curve:
    the allocation is NaN, which the run reports naming the function), -1 at time 2 (sign not
    read: the same as at time 0)."""
    for res in runs:
        np.testing.assert_allclose(res["switching[r1]"][[0, 2]], [2.5, 2.5], rtol=1e-9)
        assert np.isnan(res["switching[r1]"][1])
        assert any(w.kind == "nan" and "switching" in w.message for w in res.warnings)


def test_demand_and_supply_at_price(runs):
    """At price 4: r1 demands 10 / 4 = 2.5 and supplies 10 (1 - 1/4) = 7.5; r2 demands
    20 * 4 / 16 = 5 and supplies 15; r3 (rectangular) 2 and 2."""
    for res in runs:
        for k, (d, s) in enumerate([(2.5, 7.5), (5.0, 15.0), (2.0, 2.0)], start=1):
            np.testing.assert_allclose(res[f"bought[r{k}]"], d, rtol=1e-9)
            np.testing.assert_allclose(res[f"sold[r{k}]"], s, rtol=1e-9)


def test_find_market_price(runs):
    """A demander of 10 and a supplier of 10 on the same curve (priority 0, width 1,
    elasticity 1): demand 10 / p, supply 10 (1 - 1 / p), equal at p = 2. A fixed demand of
    20 that no supply of 10 can meet: the excess is positive at every price, and the search
    stops at its high end, where the supplier's curve leaves 1e-6 of it: 0 + 1 * 1e6."""
    for res in runs:
        np.testing.assert_allclose(res["price"], 2.0, rtol=1e-9)
        np.testing.assert_allclose(res["scarce price"], 1e6, rtol=1e-9)


def test_the_tiers_give_the_same_bits(runs):
    fast, ref = runs
    for name in ("alloc[r2]", "whole alloc[r1]", "bought[r2]", "sold[r1]", "price"):
        np.testing.assert_array_equal(fast[name], ref[name])


def test_an_elasticity_of_0_given_as_a_constant_is_refused_with_its_line():
    text = MODEL.replace("5, 0, 2, -2; 1, 4", "5, 0, 2, 0; 1, 4") + CONTROL
    with pytest.raises(ModelError, match=r"m.mdl:\d+:\d+: ALLOCATE AVAILABLE: the elasticity \(pextra\) of a "
                                         r"constant elasticity priority curve \(type 5\) must not be 0, got 0 "
                                         r"\(from 'pp\[r2,pextra\]', m.mdl:5:\d+\)"):
        lower(parse_model(text, "m.mdl"))


SMALL_ELASTICITY = """{UTF-8}
R: r1, r2 ~~|
P: ptype, ppriority, pwidth, pextra ~~|
request[R] = 10, 10 ~~|
pp[R, P] = 5, 0, 1, 0.01; 5, 1, 1, 0.01; ~~|
alloc[R] = ALLOCATE AVAILABLE(request[R], pp[R, ptype], 0.01) ~~|
D: d1 ~~|
S: s1 ~~|
dq[D] = 10 ~~|
dp[D, P] = 5, 0, 1, 0.05 ~~|
sq[S] = 0.01 ~~|
sp[S, P] = 0, 0, 1, 0 ~~|
price = FIND MARKET PRICE(dq[d1], dp[d1, ptype], sq[s1], sp[s1, ptype]) ~~|
bought[D] = DEMAND AT PRICE(dq[D], dp[D, ptype], price) ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 1 ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""


def test_a_tail_beyond_the_numbers_is_nan_with_a_warning_and_one_within_them_is_searched(tmp_path):
    """Elasticity 0.01, 0.01 available for requests of 10 and 10: the level x where
    10 x^-0.01 + 10 (x - 1)^-0.01 = 0.01 is about 1e330, beyond the largest number: NaN, with
    the run's warning naming the function, never the allocations at the end of a range that
    does not share out 0.01. Elasticity 0.05, a demand of 10 against a fixed supply of 0.01:
    10 p^-0.05 = 0.01 at p = 1000^20 = 1e60, far beyond the search's first reach (where the
    curve's share is 1e-6), which is searched on: the price clears, 0.01 demanded."""
    path = tmp_path / "small.mdl"
    path.write_text(SMALL_ELASTICITY)
    res = smartspec_dsl.load(path, tier="interpreter").run(tier="interpreter")
    assert np.isnan(res["alloc[r1]"]).all() and np.isnan(res["alloc[r2]"]).all()
    said = [w.message for w in res.warnings if w.kind == "nan"]
    assert len(said) == 1 and "no finite priority level shares out what is available" in said[0], said
    np.testing.assert_allclose(res["price"], 1e60, rtol=1e-9)
    np.testing.assert_allclose(res["bought[d1]"], 0.01, rtol=1e-9)
