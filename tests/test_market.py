"""Vensim's market and allocation functions FIND MARKET PRICE, DEMAND AT PRICE, SUPPLY AT
PRICE, MARKETP and ALLOC P, and LOOKUP SLOPE: values from the help's examples or worked
out by hand from the help's definitions ("Allocation Functions", "Specifying the Curves",
"Many-to-many Allocation", "LOOKUP SLOPE"), on both tiers (the interpreter's tape and the
compiled kernel give the same bits). One model, so one compile per tier."""
from __future__ import annotations

import numpy as np
import pytest

import smartspec_dsl
from smartspec_dsl.errors import ModelError, UnsupportedFeature
from smartspec_dsl.frontend.parse import parse_model
from smartspec_dsl.ir import NA_VALUE
from smartspec_dsl.passes.subscripts import flatten

MODEL = """{UTF-8}
supplier: s1, s2, s3 ~~|
demander: d1, d2 ~~|
pprofile: ptype, ppriority, pwidth, pextra ~~|
demand satiation[demander] = 500, 300 ~ Widget/Month ~|
supply capacity[supplier] = 200, 300, 450 ~ Widget/Month ~|
demand curve[d1, pprofile] = 1, 5, 2, 0 ~~|
demand curve[d2, pprofile] = 1, 7, 4, 0 ~~|
supply curve[s1, pprofile] = 1, 1, 2, 0 ~~|
supply curve[s2, pprofile] = 1, 3, 4, 0 ~~|
supply curve[s3, pprofile] = 1, 5, 4, 0 ~~|
market price = FIND MARKET PRICE(demand satiation[d1], demand curve[d1, ptype],
    supply capacity[s1], supply curve[s1, ptype]) ~~|
amount supplied[supplier] = SUPPLY AT PRICE(supply capacity[supplier], supply curve[supplier, ptype],
    market price) ~~|
amount demanded[demander] = DEMAND AT PRICE(demand satiation[demander], demand curve[demander, ptype],
    market price) ~~|
curve: fixed, rectangular, triangular, normal, exponential ~~|
demand profile[curve, demander, ptype] = 0, 0; 1, 1; 2, 2; 3, 3; 4, 4; ~~|
demand profile[curve, demander, ppriority] = 1, 2; 1, 2; 1, 2; 1, 2; 1, 2; ~~|
demand profile[curve, demander, pwidth] = 1 ~~|
demand profile[curve, demander, pextra] = 0 ~~|
growing demand[curve, demander] = demand satiation[demander] * Time / 12 ~~|
supply profile[curve, supplier, ptype] = 0, 0, 0; 1, 1, 1; 2, 2, 2; 3, 3, 3; 4, 4, 4; ~~|
supply profile[curve, supplier, ppriority] = 1, 2, 3; 1, 2, 3; 1, 2, 3; 1, 2, 3; 1, 2, 3; ~~|
supply profile[curve, supplier, pwidth] = 1 ~~|
supply profile[curve, supplier, pextra] = 0 ~~|
price[curve] = FIND MARKET PRICE(growing demand[curve, d1], demand profile[curve, d1, ptype],
    supply capacity[s1], supply profile[curve, s1, ptype]) ~~|
supplied[curve, supplier] = SUPPLY AT PRICE(supply capacity[supplier], supply profile[curve, supplier, ptype],
    price[curve]) ~~|
demanded[curve, demander] = DEMAND AT PRICE(growing demand[curve, demander],
    demand profile[curve, demander, ptype], price[curve]) ~~|
fixed supply[supplier, pprofile] = 0, 0, 1, 0; 0, 0, 1, 0; 0, 0, 1, 0; ~~|
fixed price = FIND MARKET PRICE(demand satiation[d1], demand curve[d1, ptype],
    supply capacity[s1], fixed supply[s1, ptype]) ~~|
changing curve[demander, ptype] = IF THEN ELSE(Time >= 2, 5, 1) ~~|
changing curve[demander, ppriority] = 5, 7 ~~|
changing curve[demander, pwidth] = 2 ~~|
changing curve[demander, pextra] = 0 ~~|
changing demanded[demander] = DEMAND AT PRICE(demand satiation[demander], changing curve[demander, ptype],
    5) ~~|
requester: A1, A2 ~~|
type now[requester, ptype] = Time ~~|
type now[requester, ppriority] = 0.1, 0.9 ~~|
type now[requester, pwidth] = 0.5 ~~|
type now[requester, pextra] = 0 ~~|
type next[requester, ptype] = Time + 1 ~~|
type next[requester, ppriority] = 0.1, 0.9 ~~|
type next[requester, pwidth] = 0.5 ~~|
type next[requester, pextra] = 0 ~~|
request big[requester] = 200, 300 ~~|
request mixed[requester] = 200, 50 ~~|
big now[requester] = ALLOCATE AVAILABLE(request big[requester], type now[requester, ptype], 100) ~~|
big next[requester] = ALLOCATE AVAILABLE(request big[requester], type next[requester, ptype], 100) ~~|
mixed now[requester] = ALLOCATE AVAILABLE(request mixed[requester], type now[requester, ptype], 100) ~~|
mixed next[requester] = ALLOCATE AVAILABLE(request mixed[requester], type next[requester, ptype], 100) ~~|
country: c1, c2, c3 ~~|
req[country] = 5, 5, 5 ~~|
prio[country] = 3, 2, 1 ~~|
mp = MARKETP(req[c1], prio[c1], ELMCOUNT(country), 2, 10 + Time) ~~|
delivered[country] = ALLOC P(req[country], prio[country], 2, mp) ~~|
by priority[country] = ALLOCATE BY PRIORITY(req[country], prio[country], ELMCOUNT(country), 2, 10 + Time) ~~|
mp plenty = MARKETP(req[c1], prio[c1], 3, 2, 100) ~~|
mp none = MARKETP(req[c1], prio[c1], 3, 2, 0) ~~|
LOOK((0,0),(1,1),(2,1.5)) ~~|
slope a = LOOKUP SLOPE(LOOK, -1, -1) ~~|
slope b = LOOKUP SLOPE(LOOK, -1, 0) ~~|
slope c = LOOKUP SLOPE(LOOK, -1, 1) ~~|
slope d = LOOKUP SLOPE(LOOK, 1, 0) ~~|
slope e = LOOKUP SLOPE(LOOK, 0.5, 0) ~~|
slope f = LOOKUP SLOPE(LOOK, 1.5, 0) ~~|
slope first = LOOKUP SLOPE(LOOK, 0, -1) ~~|
slope last = LOOKUP SLOPE(LOOK, 2, 0) ~~|
slope beyond = LOOKUP SLOPE(LOOK, 3, 1) ~~|
slope over time = LOOKUP SLOPE(LOOK, Time / 2, 0) ~~|
point: p0, p1, p2 ~~|
look y[point] = 0, 1, 1.5 ~~|
vector slope = VECTOR LOOKUP(look y[p0], Time / 2, 0, 2, 6) ~~|
vector slope beyond = VECTOR LOOKUP(look y[p0], 2 + Time, 0, 2, 9) ~~|
vector slope inside = VECTOR LOOKUP(look y[p0], 2 + Time, 0, 2, 6) ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 3 ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    path = tmp_path_factory.mktemp("market") / "market.mdl"
    path.write_text(MODEL)
    model = smartspec_dsl.load(path)
    fast = model.run(tier="interpreter")
    ref = model.run(tier="compiled")
    assert (fast.tier, ref.tier) == ("interpreter", "compiled")
    return fast, ref


@pytest.fixture(scope="module")
def run(runs):
    return runs[1]


def test_tiers_give_the_same_bits(runs):
    fast, ref = runs
    assert np.array_equal(fast.values, ref.values, equal_nan=True)


def test_find_market_price_rectangular_curves(run):
    """The help's many-to-many example ("Many-to-many Allocation"; its lists of demanders
    and suppliers made consistent) with rectangular curves, by hand: for prices in [4, 5]
    demand is 500 (6 - p) / 2 + 300 and supply 200 + 300 (p - 1) / 4 + 450 (p - 3) / 4;
    they meet at p = 2012.5 / 437.5 = 4.6, where 650 is bought and sold."""
    assert run["market price"][0] == pytest.approx(4.6, abs=1e-12)
    np.testing.assert_allclose([run[f"amount demanded[d{i}]"][0] for i in (1, 2)], [350, 300], atol=1e-9)
    np.testing.assert_allclose([run[f"amount supplied[s{i}]"][0] for i in (1, 2, 3)], [200, 270, 180],
                               atol=1e-9)


# Vensim's FIND MARKET PRICE on this market (demand 500 and 300 growing from 0 over 12 time
# units, priorities 1, 2 for demand and 1, 2, 3 for supply, width 1), times 0 to 3: its
# output as published with SDEverywhere's allocate_price test model (6 digits)
VENSIM_PRICE = {"rectangular": [0.5, 0.775862, 0.970588, 1.11538],
                "triangular": [0.5, 0.871389, 0.985071, 1.06147],
                "normal": [-4, 0.22617, 0.622241, 0.862828],
                "exponential": [-9, -0.152467, 0.426918, 0.730247]}


@pytest.mark.parametrize("curve", sorted(VENSIM_PRICE))
def test_find_market_price_is_vensims(run, curve):
    """Each curve type against Vensim's own numbers; at time 0 there is no demand, and the
    price is where supply starts (normal and exponential: 5 and 10 widths below)."""
    np.testing.assert_allclose(run[f"price[{curve}]"], VENSIM_PRICE[curve], rtol=1e-4)
    demanded = sum(run[f"demanded[{curve},d{i}]"] for i in (1, 2))
    supplied = sum(run[f"supplied[{curve},s{i}]"] for i in (1, 2, 3))
    np.testing.assert_allclose(demanded[1:], supplied[1:], rtol=1e-9)   # the market clears


def test_find_market_price_with_fixed_quantities(run):
    """Every curve fixed (type 0): nothing depends on the price, which is :NA: (Vensim's output
    has no value for it), while DEMAND AT PRICE and SUPPLY AT PRICE give the quantities, as
    Vensim's do. A fixed supply of 950 against a rectangular demand of at most 800: supply
    exceeds demand at every price, and the price is the low end of the demand curves' range
    (the lowest priority - width / 2 = 4), where all 800 is demanded."""
    assert list(run["price[fixed]"]) == [NA_VALUE] * 4
    np.testing.assert_allclose(run["demanded[fixed,d1]"], [0, 500 / 12, 1000 / 12, 125])
    np.testing.assert_allclose(run["supplied[fixed,s3]"], [450] * 4)
    assert run["fixed price"][0] == 4.0


def test_profile_type_that_changes_over_time_is_reported(run):
    """A priority type computed during the run that becomes 5 (not supported) at time 2 gives
    NaN there, and the run's warning names the function and the time, not a silent NaN."""
    np.testing.assert_allclose(run["changing demanded[d1]"][:2], [250, 250])   # 500 (6 - 5) / 2
    assert np.isnan(run["changing demanded[d1]"][2:]).all()
    # one warning for the array's elements that are NaN from time 2 on
    messages = [w.message for w in run.warnings if w.variable == "changing demanded"]
    assert messages and "at time 2 in 2 of its elements ([d1], [d2])" in messages[0], messages
    assert "DEMAND AT PRICE" in messages[0]
    assert "priority type other than 0-5" in messages[0]


# Vensim's ALLOCATE AVAILABLE with the priority type changing over time, 0 (fixed) to 4
# (exponential), priorities 0.1 and 0.9, width 0.5, 100 available: its output as published
# with SDEverywhere's allocate_ptype test model (6 digits), for requests 200, 300 and 200, 50
VENSIM_ALLOCATION = {"big": ([40, 0, 0, 3.87908, 11.863], [60, 100, 99.9998, 96.1207, 88.1368]),
                     "mixed": ([80, 50, 49.9999, 57.4714, 58.6115], [20, 50, 50, 42.5285, 41.3884])}


@pytest.mark.parametrize("case", sorted(VENSIM_ALLOCATION))
def test_allocate_available_every_profile_type_is_vensims(run, case):
    """Profile types 0-4 computed during the run give Vensim's allocations (type 2's
    99.9998 and 49.9999 are Vensim's search tolerance: exactly 100 and 50 here, by hand)."""
    for k, element in enumerate(("A1", "A2")):
        got = np.concatenate([run[f"{case} now[{element}]"], run[f"{case} next[{element}]"][3:]])
        np.testing.assert_allclose(got, VENSIM_ALLOCATION[case][k], rtol=1e-5, atol=3e-4)


def test_marketp_and_alloc_p_are_allocate_by_priority_in_two_steps(run):
    """ALLOCATE BY PRIORITY's example of the array tests by hand: requests 5, 5, 5 at
    priorities 3, 2, 1, width 2, supply 10 + Time: for levels x in [1, 2] the first gets 5,
    the others 5 (3 - x) / 2 and 5 (2 - x) / 2, which add up to 10 + t at x = 1.5 - t / 5
    (t = 0, 1, 2); at t = 3, 13 is 5 + 5 + 5 (2 - x) / 2 at x = 0.8 (the second in full below
    x = 2). ALLOC P at that level gives ALLOCATE BY PRIORITY's numbers (help, "MARKETP")."""
    np.testing.assert_allclose(run["mp"], [1.5, 1.3, 1.1, 0.8], atol=1e-12)
    for i in (1, 2, 3):
        assert np.array_equal(run[f"delivered[c{i}]"], run[f"by priority[c{i}]"])
    np.testing.assert_allclose([run[f"delivered[c{i}]"][0] for i in (1, 2, 3)], [5, 3.75, 1.25], atol=1e-9)


def test_marketp_when_supply_covers_all_or_nothing(run):
    """Chosen where the help is silent: with supply for every request, the highest level at
    which each gets all it asks for (lowest priority - width / 2 = 0); with none, the lowest
    at which none gets anything (highest priority + width / 2 = 4). ALLOC P at them gives
    the requests in full, and nothing."""
    assert run["mp plenty"][0] == 0.0 and run["mp none"][0] == 4.0


def test_lookup_slope_the_helps_examples(run):
    """Vensim help, "LOOKUP SLOPE": its six examples. The help writes the lookup as
    ((0,1),(1,1),(2,3)), but its results (1 before the table with mode 1, 0.75 at x = 1,
    1 at 0.5, 0.5 at 1.5) are those of ((0,0),(1,1),(2,1.5)), used here."""
    assert run["slope a"][0] == NA_VALUE
    assert run["slope b"][0] == 0
    assert run["slope c"][0] == 1
    assert run["slope d"][0] == 0.75
    assert run["slope e"][0] == 1
    assert run["slope f"][0] == 0.5


def test_lookup_slope_at_and_beyond_the_ends(run):
    """Chosen where the help is silent: at the first or last point, the slope of its one
    segment (inside the table, whatever the mode); beyond the end with mode 1 the nearest
    segment's. (The help's :NA: for two points at one x cannot arise: such a lookup is refused.)"""
    assert run["slope first"][0] == 1 and run["slope last"][0] == 0.5 and run["slope beyond"][0] == 0.5
    np.testing.assert_array_equal(run["slope over time"], [1, 1, 0.75, 0.5])   # x = 0, 0.5, 1, 1.5


SLOPE_MODES = """LOOK((0,0),(1,1),(2,1.5)) ~~|
Slope Mode = 2 ~~|
by constant = LOOKUP SLOPE(LOOK, 5, Slope Mode) ~~|
INITIAL TIME = 0 ~~|\nFINAL TIME = 2 ~~|\nTIME STEP = 1 ~~|\nSAVEPER = 1 ~~|
"""


def test_lookup_slope_mode_the_help_does_not_define(tmp_path):
    """The help defines modes -1, 0 and 1 only. A mode the model's constants give otherwise
    is refused when the model is loaded, located and naming the constant; one computed
    during the run makes the slope NaN from that time, with a warning naming the cause
    (never the :NA: of mode -1 in silence)."""
    path = tmp_path / "modes.mdl"
    path.write_text(SLOPE_MODES)
    with pytest.raises(ModelError, match=r"modes.mdl:3:\d+: LOOKUP SLOPE's mode \(its third argument\) must be "
                                         r"-1, 0 or 1, got 2 \(from 'Slope Mode'\)"):
        smartspec_dsl.load(path)
    path.write_text(SLOPE_MODES.replace("Slope Mode)", "0.5)"))
    with pytest.raises(ModelError, match=r"modes.mdl:3:\d+: LOOKUP SLOPE's mode .* got 0.5$"):
        smartspec_dsl.load(path)
    path.write_text(SLOPE_MODES.replace("LOOK, 5, Slope Mode", "LOOK, 0.5, IF THEN ELSE(Time >= 1, Slope Mode, 0)"))
    r = smartspec_dsl.load(path).run(tier="interpreter")
    assert r["by constant"][0] == 1 and np.isnan(r["by constant"][1:]).all()   # x = 0.5: slope 1 with mode 0
    [w] = [w for w in r.warnings if w.variable == "by constant"]
    assert w.time == 1 and "LOOKUP SLOPE was given a mode other than -1, 0 or 1" in w.message


CONTROL = "INITIAL TIME = 0 ~~|\nFINAL TIME = 1 ~~|\nTIME STEP = 1 ~~|\nSAVEPER = 1 ~~|\n"
MARKET = """
D: d1, d2 ~~|
S: s1, s2 ~~|
P: ptype, ppriority, pwidth, pextra ~~|
dq[D] = 1, 2 ~~|
sq[S] = 1, 2 ~~|
dp[D, P] = 1, 1, 1, 0; 1, 2, 1, 0; ~~|
sp[S, P] = 1, 1, 1, 0; 1, 2, 1, 0; ~~|
"""


def flat(text: str):
    return flatten(parse_model(MARKET + text + CONTROL, "t.mdl"))


def test_vector_lookup_slopes(run):
    """VECTOR LOOKUP modes 6 and 9 (help, "VECTOR LOOKUP": the equivalents of LOOKUP SLOPE,
    and of LOOKUP SLOPE with extrapolation): LOOK's y values 0, 1, 1.5 over [0, 2]."""
    np.testing.assert_array_equal(run["vector slope"], [1, 1, 0.75, 0.5])
    np.testing.assert_array_equal(run["vector slope beyond"], [0.5, 0.5, 0.5, 0.5])   # x = 2 .. 5
    np.testing.assert_array_equal(run["vector slope inside"], [0.5, 0, 0, 0])


def test_market_arguments_are_checked_with_their_position():
    with pytest.raises(ModelError, match=r"t.mdl:9:\d+: FIND MARKET PRICE's priority profile must be a "
                                         r"variable whose last subscript is the profile's first element"):
        flat("p = FIND MARKET PRICE(dq[d1], dp[d1, P], sq[s1], sp[s1, ptype]) ~~|\n")
    with pytest.raises(ModelError, match=r"t.mdl:9:\d+: FIND MARKET PRICE takes 4 arguments"):
        flat("p = FIND MARKET PRICE(dq[d1], dp[d1, ptype], sq[s1]) ~~|\n")
    with pytest.raises(ModelError, match=r"t.mdl:9:\d+: FIND MARKET PRICE: the supply profile's second-last "
                                         r"subscript must run over the same elements"):
        flat("p = FIND MARKET PRICE(dq[d1], dp[d1, ptype], sq[s1], sp[s2, ptype]) ~~|\n")
    with pytest.raises(ModelError, match=r"t.mdl:9:\d+: MARKETP's size must be a whole number from 1 to 2"):
        flat("mp = MARKETP(dq[d1], dq[d1], 3, 1, 2) ~~|\n")
    with pytest.raises(ModelError, match=r"t.mdl:9:\d+: DEMAND AT PRICE gives an array"):
        flat("x = DEMAND AT PRICE(dq[d1], dp[d1, ptype], 1) ~~|\n")


def test_unsupported_profile_type_given_as_a_constant_is_refused_before_the_run():
    with pytest.raises(UnsupportedFeature, match=r"t.mdl:10:\d+: SUPPLY AT PRICE in the equation of 'a': priority type 6 "
                                                  r"\(from 'bad\[s1,ptype\]'.* is not supported; supported types: 0 fixed "
                                                  r"quantity, .*, 5 constant elasticity"):
        flat("bad[S, P] = 6, 1, 1, -1; 1, 2, 1, 0; ~~|\n"
             "a[S] = SUPPLY AT PRICE(sq[S], bad[S, ptype], 1) ~~|\n")


def test_units_of_the_market_functions():
    """Units (help): DEMAND/SUPPLY AT PRICE give the quantity's units, FIND MARKET PRICE the
    profile's (the price's), ALLOC P the request's, LOOKUP SLOPE the lookup's."""
    from smartspec_dsl.passes.units import check_units
    text = """
D: d1, d2 ~~|
P: ptype, ppriority, pwidth, pextra ~~|
dq[D] = 1, 2 ~ Widget ~|
dp[D, P] = 1, 1, 1, 0; 1, 2, 1, 0; ~ Dollar/Widget ~|
price = FIND MARKET PRICE(dq[d1], dp[d1, ptype], dq[d1], dp[d1, ptype]) ~ Dollar/Widget ~|
bought[D] = DEMAND AT PRICE(dq[D], dp[D, ptype], price) ~ Widget ~|
sold[D] = SUPPLY AT PRICE(dq[D], dp[D, ptype], price) ~ Dollar ~|
got[D] = ALLOC P(dq[D], 1, 1, 0) ~ Widget ~|
tab((0,0),(1,1)) ~ Dollar ~|
s = LOOKUP SLOPE(tab, 1, 0) ~ Widget ~|
INITIAL TIME = 0 ~ Month ~|
FINAL TIME = 1 ~ Month ~|
TIME STEP = 1 ~ Month ~|
SAVEPER = 1 ~ Month ~|
"""
    found = {i.variable for i in check_units(parse_model(text, "u.mdl"))}
    assert found == {"sold", "s"}
