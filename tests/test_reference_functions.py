"""The last functions and keywords of Vensim's reference: Reality Check equations, and
functions each checked against values worked out by hand from Vensim's help page of
the function (each test says where the help leaves a behaviour open, what smartspec
chose and why). Runs use the interpreter tier: no kernel compile."""
from __future__ import annotations

import numpy as np
import pytest

import smartspec_dsl
from smartspec_dsl import ir
from smartspec_dsl.errors import ModelError
from smartspec_dsl.frontend.parse import parse_model

CONTROL = """
INITIAL TIME = 0 ~~|
FINAL TIME = 4 ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""


def run(tmp_path, text: str, name: str = "m.mdl", **kw):
    path = tmp_path / name
    path.write_text("{UTF-8}\n" + text + CONTROL)
    return smartspec_dsl.load(path, tier="interpreter").run(tier="interpreter", **kw)


# ---- Reality Check equations ----------------------------------------------------------------

# Vensim's help, "Reality Check": its examples of test inputs and constraints, the
# consequence qualifiers :CROSSING: (after a comparison's operator, twice for a
# double crossing) and :AT LEAST ONCE:, subscripted checks as Vensim saves them
# (keywords glued to the name) and RC functions, which exist only inside them.
REALITY = """
Inventory = INTEG(production - shipments, 100) ~ Widget ~ |
production = 10 ~ Widget/Month ~ |
shipments = 8 ~ Widget/Month ~ |
demand = 8 ~ Widget/Month ~ |
S: s1, s2 ~~|
output[S] = 2, 3 ~~|
TI demand step up :TEST INPUT: demand = RC STEP(demand, 1.5) ~ Widget/Month ~ a step |
inventory overshoots :THE CONDITION: TI demand step up
\t:IMPLIES: Inventory > :CROSSING: :CROSSING: RC STEP CHECK(0, Inventory, 1) ~~|
fill orders when stocked :THE CONDITION: Inventory > 0
\t:IMPLIES: shipments >= demand :AT LEAST ONCE: ~~|
output up[S]:TEST INPUT:
\toutput[S] = RC STEP(output[S], 2) ~~|
no output no growth[S]:THE CONDITION: output[S]=0:IMPLIES:Inventory <= :AT LEAST ONCE: 100 ~~|
"""


def test_reality_checks_parse_and_run_without_being_evaluated(tmp_path):
    res = run(tmp_path, REALITY)
    # the model's own values: the checks change nothing (Vensim runs them only in its
    # Reality Check tool, never in a simulation)
    np.testing.assert_array_equal(res["Inventory"], [100, 102, 104, 106, 108])
    np.testing.assert_array_equal(res["demand"], [8] * 5)
    notes = [w.message for w in res.warnings]
    assert notes == [f"{tmp_path / 'm.mdl'}:9:1: 5 Reality Check equations (first 'TI demand step up') not "
                     "evaluated: Vensim tests them only in its Reality Check tool, never in a simulation run"]
    model = parse_model(REALITY + CONTROL, "m.mdl")
    assert "inventory overshoots" not in model.variables and "inventory" in model.variables


def test_a_reality_check_qualifier_outside_a_reality_check_is_refused_with_its_line():
    with pytest.raises(ModelError, match=r"^m.mdl:2:9: ':CROSSING:' qualifies a Reality Check consequence"):
        parse_model("a = 1 ~~|\nb = a > :CROSSING: 0 ~~|\n" + CONTROL, "m.mdl")
    with pytest.raises(ModelError, match=r"^m.mdl:1:13: ':AT LEAST ONCE:' qualifies"):
        parse_model("b = Time >= :at  least once: 0 ~~|\n" + CONTROL, "m.mdl")


# ---- VECTOR LOOKUP mode 8, MARKETP's size from a variable -------------------------------

def test_vector_lookup_mode_8_inverts_with_the_end_segments_extended(tmp_path):
    """Vensim help, "VECTOR LOOKUP": mode 8 is "the equivalent of LOOKUP INVERT with
    extrapolation". The vector 0, 10, 20 over [0, 2] is the lookup (0,0),(1,10),(2,20): y
    = 25 - 10 Time is reached at x = y / 10 inside the table and, extrapolated on the end
    segments, beyond it (2.5, then -0.5, -1.5); mode 5 holds the end points' x there."""
    res = run(tmp_path, """P: p0, p1, p2 ~~|
vec[P] = 0, 10, 20 ~~|
inverse extrapolated = VECTOR LOOKUP(vec[p0], 25 - 10 * Time, 0, 2, 8) ~~|
inverse = VECTOR LOOKUP(vec[p0], 25 - 10 * Time, 0, 2, 5) ~~|
falling[P] = 4, 2, 0 ~~|
falling inverse = VECTOR LOOKUP(falling[p0], 5 - 2 * Time, 0, 2, 8) ~~|
""")
    np.testing.assert_allclose(res["inverse extrapolated"], [2.5, 1.5, 0.5, -0.5, -1.5], atol=1e-12)
    np.testing.assert_allclose(res["inverse"], [2, 1.5, 0.5, 0, 0], atol=1e-12)
    # a falling table: y 5 is above its first point, on the first segment's line at x = -0.5;
    # y -3 below its last, at x = 2.5
    np.testing.assert_allclose(res["falling inverse"], [-0.5, 0.5, 1.5, 2.5, 3.5], atol=1e-12)


MARKETP_SIZE = """country: c1, c2, c3 ~~|
req[country] = 5, 5, 5 ~~|
prio[country] = 3, 2, 1 ~~|
Size = 2 ~~|
mp = MARKETP(req[c1], prio[c1], Size, 2, 8) ~~|
mp growing = MARKETP(req[c1], prio[c1], IF THEN ELSE(Time < 2, 2, 3), 2, 8) ~~|
delivered[country] = ALLOC P(req[country], prio[country], 2, mp growing) ~~|
"""


def test_marketp_takes_its_size_from_a_variable(tmp_path):
    """MARKETP(request, priority, size, width, supply) (Vensim help, "MARKETP"): the market
    priority at which rectangular profiles of width 2 share a supply of 8 among the first
    `size` requesters, by hand. Two (priorities 3 and 2): for levels x in [1, 2] the first
    gets 5 and the second 5 (3 - x) / 2, which add up to 8 at x = 1.8. Three (the third at
    priority 1 getting 5 (2 - x) / 2): 5 + 5 (5 - 2x) / 2 = 8 at x = 1.9. The size may be a
    constant a run sets, or change during the run."""
    res = run(tmp_path, MARKETP_SIZE)
    np.testing.assert_allclose(res["mp"], [1.8] * 5, atol=1e-9)
    np.testing.assert_allclose(res["mp growing"], [1.8, 1.8, 1.9, 1.9, 1.9], atol=1e-9)
    # ALLOC P at the level: the third requester gets 5 (2 - 1.9) / 2 once it takes part
    np.testing.assert_allclose(res["delivered[c3]"], [0.5, 0.5, 0.25, 0.25, 0.25], atol=1e-9)
    again = smartspec_dsl.load(tmp_path / "m.mdl", tier="interpreter").run(params={"Size": 3}, tier="interpreter")
    np.testing.assert_allclose(again["mp"], [1.9] * 5, atol=1e-9)


def test_marketp_size_outside_its_elements_is_nan_with_a_warning(tmp_path):
    """A size that is not one of 1..3 (the elements from c1 on) has no market priority: NaN,
    and the run's warning names MARKETP and the invalid size among its causes."""
    res = smartspec_dsl.load(_write(tmp_path, MARKETP_SIZE), tier="interpreter").run(
        params={"Size": 4}, tier="interpreter")
    assert np.isnan(res["mp"]).all()
    assert any("MARKETP was given an invalid input" in w.message and "a size that is not a whole number" in w.message
               for w in res.warnings)


def _write(tmp_path, text: str, name: str = "m.mdl"):
    path = tmp_path / name
    path.write_text("{UTF-8}\n" + text + CONTROL)
    return path


# ---- :RAW: data -------------------------------------------------------------------------------

def test_raw_data_is_na_between_its_points(tmp_path):
    """Vensim's help ("Keywords"): ":RAW: marks data as raw so :NA: is reported for missing
    values". Points (2, 20), (4, 40), (8, 0) and a missing value at 6: each point's value
    at its time, :NA: at every other time (between the points, before the first, after the
    last); :HOLD BACKWARD: holds the last point. Chosen where the help is silent: a time
    takes a point's value when it is the point's time up to the rounding of Time
    (a millionth of TIME STEP), so a TIME STEP of 0.1 still meets a point at 0.3."""
    (tmp_path / "series.csv").write_text("t,2,4,6,8\nd,20,40,,0\nfine,0,0.3,0.6,1.2\nv,1,2,3,4\n")
    path = tmp_path / "raw.mdl"
    path.write_text("{UTF-8}\n"
                    "raw :RAW: := GET DIRECT DATA('series.csv', ',', '1', 'B2') ~~|\n"
                    "held :HOLD BACKWARD: := GET DIRECT DATA('series.csv', ',', '1', 'B2') ~~|\n"
                    "INITIAL TIME = 0 ~~|\nFINAL TIME = 10 ~~|\nTIME STEP = 1 ~~|\nSAVEPER = 1 ~~|\n")
    res = smartspec_dsl.load(path, tier="interpreter").run(tier="interpreter")
    NA = ir.NA_VALUE
    np.testing.assert_array_equal(res["raw"], [NA, NA, 20, NA, 40, NA, NA, NA, 0, NA, NA])
    np.testing.assert_array_equal(res["held"], [20, 20, 20, 20, 40, 40, 40, 40, 0, 0, 0])
    fine = tmp_path / "fine.mdl"
    fine.write_text("{UTF-8}\nraw :RAW: := GET DIRECT DATA('series.csv', ',', '3', 'B4') ~~|\n"
                    "INITIAL TIME = 0 ~~|\nFINAL TIME = 1 ~~|\nTIME STEP = 0.1 ~~|\nSAVEPER = TIME STEP ~~|\n")
    res = smartspec_dsl.load(fine, tier="interpreter").run(tier="interpreter")
    np.testing.assert_array_equal(res["raw"], [1, NA, NA, 2, NA, NA, 3, NA, NA, NA, NA])


# ---- SHIFT IF TRUE ----------------------------------------------------------------------------

SHIFT = """age: a0, a1, a2, a3 ~~|
init[age] = 10, 20, 30, 40 ~~|
pop[age] = INTEG(inflow[age], init[age]) ~~|
inflow[age] = 1, 0, 0, 0 ~~|
removed = SHIFT IF TRUE(pop[a0], MODULO(Time, 2) = 0, ELMCOUNT(age), 0, 5) ~~|
c: x, y ~~|
init2[c, age] = 1, 2, 3, 4; 10, 20, 30, 40; ~~|
cohort[c, age] = INTEG(0, init2[c, age]) ~~|
kept[c] = SHIFT IF TRUE(cohort[c, a0], 1, 4, 1, 0) ~~|
"""


def test_shift_if_true_moves_the_stocks_by_the_helps_rule(tmp_path):
    """Vensim help, "SHIFT IF TRUE": when cond is true the elements shift one along the last
    subscript, inval enters the first, the second to last replaces the last (or, accum
    non-zero, is added to it), and the function gives what left the last (0 with accum).
    By hand, TIME STEP 1: pop 10, 20, 30, 40 shifts at times 0, 2, 4 with inval 5, a0's
    inflow of 1 a step added after the shift (chosen where the help is silent: a shift at
    t moves the values of t, and the rates of t are added to the shifted values):
    t=1: 6, 10, 20, 30 (40 removed at t=0); t=2: 7, 10, 20, 30; t=3: 6, 7, 10, 20 (30
    removed at t=2); t=4: 7, 7, 10, 20 (20 removed). With accum the last element keeps
    everything: x 1, 2, 3, 4 -> 0, 1, 2, 7 -> 0, 0, 1, 9 -> 0, 0, 0, 10."""
    res = run(tmp_path, SHIFT)
    expected = {"a0": [10, 6, 7, 6, 7], "a1": [20, 10, 10, 7, 7], "a2": [30, 20, 20, 10, 10],
                "a3": [40, 30, 30, 20, 20]}
    for element, values in expected.items():
        np.testing.assert_array_equal(res[f"pop[{element}]"], values)
    np.testing.assert_array_equal(res["removed"], [40, 0, 30, 0, 20])
    cohort = np.array([[res[f"cohort[x,{a}]"] for a in ("a0", "a1", "a2", "a3")]]).squeeze().T
    np.testing.assert_array_equal(cohort, [[1, 2, 3, 4], [0, 1, 2, 7], [0, 0, 1, 9], [0, 0, 0, 10], [0, 0, 0, 10]])
    np.testing.assert_array_equal(res["cohort[y,a3]"], [40, 70, 90, 100, 100])
    np.testing.assert_array_equal(res["kept[x]"], [0] * 5)


@pytest.mark.parametrize("equation, message", [
    ("bad = SHIFT IF TRUE(init[a0], 1, 4, 0, 0)", "SHIFT IF TRUE shifts the values of a stock (an INTEG): 'init[a0]'"),
    ("bad = 1 + SHIFT IF TRUE(pop[a0], 1, 4, 0, 0)", "SHIFT IF TRUE must be the whole equation of its variable"),
    ("Size = 4 ~~|\nbad = SHIFT IF TRUE(pop[a0], 1, Size, 0, 0)",
     "SHIFT IF TRUE's size must be a number written in the equation or ELMCOUNT of a range, not the variable 'Size'"),
    ("bad = SHIFT IF TRUE(pop[a1], 1, 4, 0, 0)", "SHIFT IF TRUE's size must be a whole number from 2 to 3"),
    ("bad = SHIFT IF TRUE(pop[a0], 1, 2, 0, 0)", "'pop[a0]' is shifted by two SHIFT IF TRUE equations"),
])
def test_shift_if_true_refusals_name_the_line(tmp_path, equation, message):
    from smartspec_dsl.passes.pipeline import lower
    text = SHIFT.split("c: x")[0] + equation + " ~~|\n"
    with pytest.raises(ModelError, match=r"m.mdl:\d+:\d+: " + __import__("re").escape(message)):
        lower(parse_model(text + CONTROL, "m.mdl"))


# ---- DEPRECIATE BY SCHEDULE -------------------------------------------------------------------

DEPRECIATION = """year: y1, y2, y3 ~~|
schedule[year] = 50, 30, 20 ~~|
initial dep[year] = 1, 1, 1 ~~|
investment = 12 * PULSE(0, 2) ~~|
dep = DEPRECIATE BY SCHEDULE(investment, schedule[y1], initial dep[y1], 6, INITIAL TIME) ~~|
dep shifted = DEPRECIATE BY SCHEDULE(investment, schedule[y1], initial dep[y1], 6, 1) ~~|
no initial = 0 ~~|
dep plain = DEPRECIATE BY SCHEDULE(investment, schedule[y1], no initial, 6, Time) ~~|
"""


def test_depreciate_by_schedule_by_hand(tmp_path):
    """Vensim help, "DEPRECIATE BY SCHEDULE(str, sch, init, dtime, fs)": the schedule 50, 30,
    20 (percents, scaled to add to 1) over dtime 6 gives fiscal periods of 2; 12 a time for
    the first period (24 invested) is written off 0.5 x 24 in its own period, 0.3 x 24 in
    the next, 0.2 x 24 in the third: rates 6, 3.6, 2.4, on top of init's 1 in each of the
    first three periods: 7, 7, 4.6, 4.6, 3.4, 3.4, then 0. With the fiscal periods starting
    at fs = 1 (t = 0 ends the period before: its 12 is a lump of mean 6 over a period of 2),
    t = 0 gives 1 + 0.5 x 12 = 7, then periods [1, 2], [3, 4], ...: 2.8 + 6 = 8.8 at t = 1
    (t = 1 is the new period's first step), 2.8 at t = 2, then 1 + 0.2 x 6 + 0.3 x 6 = 4,
    ... Every lump is written off in full, as the test's sums check. fs given as Time (the
    help: "normally [...] Time (or equivalently INITIAL TIME)") is its value at INITIAL TIME;
    a scalar init with no initial depreciation is 0 in every period."""
    text = DEPRECIATION + "INITIAL TIME = 0 ~~|\nFINAL TIME = 8 ~~|\nTIME STEP = 1 ~~|\nSAVEPER = 1 ~~|\n"
    path = tmp_path / "dep.mdl"
    path.write_text("{UTF-8}\n" + text)
    res = smartspec_dsl.load(path, tier="interpreter").run(tier="interpreter")
    np.testing.assert_allclose(res["dep"], [7, 7, 4.6, 4.6, 3.4, 3.4, 0, 0, 0], atol=1e-12)
    np.testing.assert_allclose(res["dep shifted"], [7, 8.8, 2.8, 4, 4, 1.2, 1.2, 0, 0], atol=1e-12)
    np.testing.assert_allclose(res["dep plain"], [6, 6, 3.6, 3.6, 2.4, 2.4, 0, 0, 0], atol=1e-12)
    # all of the 24 invested written off, and init's 1 over the first three periods (the
    # first of which lasts one step when they start at fs = 1)
    assert np.isclose(res["dep"].sum(), 24 + 6) and np.isclose(res["dep shifted"].sum(), 24 + 5)


# ---- ALLOCATE AVAILABLE's integer allocation (types 10-15) -----------------------------------

INTEGER_ALLOCATION = """requester: r1, r2, r3 ~~|
pprofile: ptype, ppriority, pwidth, pextra ~~|
request[requester] = 3 ~~|
whole[requester, pprofile] = 11, 3, 2, 0; 11, 2, 2, 0; 11, 1, 2, 0; ~~|
continuous[requester, pprofile] = 1, 3, 2, 0; 1, 2, 2, 0; 1, 1, 2, 0; ~~|
changing[requester, ptype] = IF THEN ELSE(Time < 2, 1, 11) ~~|
changing[requester, ppriority] = 3, 2, 1 ~~|
changing[requester, pwidth] = 2 ~~|
changing[requester, pextra] = 0 ~~|
available = 5.4 ~~|
shares[requester] = ALLOCATE AVAILABLE(request[requester], continuous[requester, ptype], available) ~~|
units[requester] = ALLOCATE AVAILABLE(request[requester], whole[requester, ptype], available) ~~|
switching[requester] = ALLOCATE AVAILABLE(request[requester], changing[requester, ptype], available) ~~|
"""


def test_allocate_available_integer_types_give_whole_allocations(tmp_path):
    """Vensim help, "ALLOCATE AVAILABLE": "integer allocations by adding 10 to the shape".
    Requests of 3 at priorities 3, 2, 1, rectangular profiles of width 2, 5.4 available:
    for levels x in [1, 2] the first gets 3, the second 3 (3 - x) / 2, the third 3 (2 - x) / 2,
    5.4 in all at x = 1.7: 3, 1.95, 0.45 (type 1). Type 11 makes them whole; the help does not
    say how, and smartspec chose: the total rounded down (5), each share rounded down (3, 1,
    0), then one more to the largest fractions left (the second's .95): 3, 2, 0. A type that
    becomes an integer one during the run switches then, with no NaN."""
    res = run(tmp_path, INTEGER_ALLOCATION)
    for k, (share, unit) in enumerate(zip([3, 1.95, 0.45], [3, 2, 0]), start=1):
        np.testing.assert_allclose(res[f"shares[r{k}]"], share, atol=1e-6)
        np.testing.assert_array_equal(res[f"units[r{k}]"], unit)
        np.testing.assert_allclose(res[f"switching[r{k}]"], [share, share, unit, unit, unit], atol=1e-6)
    assert not any(w.kind == "nan" for w in res.warnings)
    # a constant type of 16 (no curve has type 6) is refused with its source line
    from smartspec_dsl.errors import UnsupportedFeature
    from smartspec_dsl.passes.pipeline import lower
    with pytest.raises(UnsupportedFeature, match=r"m.mdl:\d+:\d+: ALLOCATE AVAILABLE in the equation of '[^']+': priority type 16 "
                                                  r"\(from 'whole\[r1,ptype\]'"):
        lower(parse_model(INTEGER_ALLOCATION.replace("11, 3, 2, 0", "16, 3, 2, 0") + CONTROL, "m.mdl"))


def test_a_reality_checks_names_are_resolved_though_it_is_not_evaluated():
    # Vensim's check of the model reports both: a name no variable has, and a check named like a variable
    with pytest.raises(ModelError, match=r"^m.mdl:3:32: undefined variable 'custmers' used in the Reality "
                                         r"Check 'no sales check'; did you mean 'customers'\?"):
        parse_model("customers = 10 ~~|\nsales = customers * 2 ~~|\n"
                    "no sales check :THE CONDITION: custmers = 0 :IMPLIES: sales = 0 ~~|\n" + CONTROL, "m.mdl")
    with pytest.raises(ModelError, match=r"^m.mdl:3:1: 'sales' is defined twice \(first at m.mdl:2:1\)"):
        parse_model("customers = 10 ~~|\nsales = customers * 2 ~~|\n"
                    "sales :THE CONDITION: customers = 0 :IMPLIES: sales = 0 ~~|\n" + CONTROL, "m.mdl")
