"""XMILE's array builtins (RANK, MIN/MAX of arrays and scalars), ranges `A[1:3]` inside
and outside array functions, flat indices `A(10)`, graphical functions as containers,
Stella's builtins beyond XMILE 1.0 (ROUND, SINWAVE, COSWAVE, HISTORY, LOGNORMAL and the
other distributions) and conveyors, against values derived by hand from their
definitions (the OASIS XMILE 1.0 standard, sections 3.5 and 3.7; for the distributions,
their means and standard deviations); the models written back as Vensim equations run
to the same numbers; what cannot be said the same way is refused where it is."""
from __future__ import annotations

import math

import numpy as np
import pytest

from smartspec_dsl import load
from smartspec_dsl.cli import main
from smartspec_dsl.errors import ModelError, UnsupportedFeature
from smartspec_dsl.frontend.xmile import parse_xmile

from test_xmile import doc

DIMS = ('<dimensions><dim name="i"><elem name="e1"/><elem name="e2"/><elem name="e3"/><elem name="e4"/>'
        '</dim><dim name="j" size="3"/><dim name="k" size="300"/></dimensions>\n')
VALUES = """<aux name="vals"><dimensions><dim name="i"/></dimensions>
 <element subscript="e1"><eqn>5</eqn></element><element subscript="e2"><eqn>3</eqn></element>
 <element subscript="e3"><eqn>9</eqn></element><element subscript="e4"><eqn>3</eqn></element></aux>
<aux name="keys"><dimensions><dim name="i"/></dimensions>
 <element subscript="e1"><eqn>0</eqn></element><element subscript="e2"><eqn>7</eqn></element>
 <element subscript="e3"><eqn>0</eqn></element><element subscript="e4"><eqn>1</eqn></element></aux>
<aux name="M"><dimensions><dim name="j"/><dim name="i"/></dimensions><eqn>j * 10 + i</eqn></aux>
"""
DETERMINISTIC = VALUES + """
<aux name="half up"><eqn>ROUND(2.5)</eqn></aux>
<aux name="half down"><eqn>ROUND(-2.5)</eqn></aux>
<aux name="near"><eqn>ROUND(2.4) + 10 * ROUND(-2.6)</eqn></aux>
<aux name="sine"><eqn>SINWAVE(2, 4)</eqn></aux>
<aux name="cosine"><eqn>COSWAVE(2, 4)</eqn></aux>
<aux name="x"><eqn>TIME * 10</eqn></aux>
<aux name="then"><eqn>HISTORY(x, 2)</eqn></aux>
<aux name="before"><eqn>HISTORY(x, -1)</eqn></aux>
<aux name="ranks"><eqn>RANK(vals, 1) + 10 * RANK(vals[*], 2) + 100 * RANK(vals, 3)
  + 1000 * RANK(vals, SIZE(vals)) + 10000 * RANK(vals, 5)</eqn></aux>
<aux name="ranks by keys"><eqn>RANK(vals, 1, keys) + 10 * RANK(vals, 2, keys)</eqn></aux>
<aux name="mixed"><eqn>MAX(vals, 4) + 100 * MIN(vals, 4) + 10000 * MIN(vals[*], 1)</eqn></aux>
<aux name="log gamma"><eqn>GAMMALN(5)</eqn></aux>
<aux name="first three"><eqn>SUM(vals[1:3])</eqn></aux>
<aux name="by name"><eqn>SUM(vals[e2:e4]) + 100 * MEAN(vals[2:3]) + 1000 * SIZE(vals[2:4])</eqn></aux>
<aux name="ends"><eqn>MAX(vals[2:4]) + 10 * MIN(vals[1:2]) + 1000 * RANK(vals[2:4], 1)</eqn></aux>
<aux name="rows"><dimensions><dim name="j"/></dimensions><eqn>SUM(M[j, 2:3])</eqn></aux>
<aux name="block"><eqn>SUM(M[1:2, 3:4])</eqn></aux>
<aux name="exact"><dimensions><dim name="j"/></dimensions><eqn>vals[2:4] * 2</eqn></aux>
<aux name="cut"><dimensions><dim name="j"/></dimensions><eqn>vals[1:4]</eqn></aux>
<aux name="grown"><dimensions><dim name="j"/></dimensions><eqn>vals[e1:e2]</eqn></aux>
<aux name="column"><dimensions><dim name="j"/></dimensions><eqn>M[1:3, 2]</eqn></aux>
<gf name="curve"><xscale min="0" max="3"/><ypts>4,1,7,2</ypts></gf>
<aux name="points"><eqn>curve[3] + 10 * MIN(curve) + 100 * MAX(curve) + 1000 * SIZE(curve) + 10000 * curve[4]</eqn></aux>
<aux name="curve spread"><eqn>MEAN(curve) + STDDEV(curve)</eqn></aux>
<aux name="flat"><eqn>M(6) + 100 * vals(3) + 1000 * vals(5) + 10000 * vals(INT(TIME) + 1)</eqn></aux>
"""
RANDOM = """
<aux name="r"><eqn>ROUND(RANDOM(-1, 1))</eqn></aux>
<aux name="noisy trend"><eqn>TREND(NORMAL(10, 1), 2) + vals[RANDOM(1, 4)] + PREVIOUS(RANDOM(0, 1))</eqn></aux>
<aux name="ln"><dimensions><dim name="k"/></dimensions><eqn>LOGNORMAL(10, 2)</eqn></aux>
<aux name="tri"><dimensions><dim name="k"/></dimensions><eqn>TRIANGULAR(1, 2, 6)</eqn></aux>
<aux name="bet"><dimensions><dim name="k"/></dimensions><eqn>BETA(2, 3)</eqn></aux>
<aux name="bin"><dimensions><dim name="k"/></dimensions><eqn>BINOMIAL(10, 0.3)</eqn></aux>
<aux name="wei"><dimensions><dim name="k"/></dimensions><eqn>WEIBULL(2, 3)</eqn></aux>
<aux name="certain"><eqn>LOGNORMAL(10, 0)</eqn></aux>
"""
SPECS = "<start>0</start><stop>6</stop><dt>0.5</dt>"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = tmp_path_factory.mktemp("stella") / "builtins.xmile"
    path.write_text(doc(DETERMINISTIC + RANDOM, SPECS, DIMS), encoding="utf-8")
    result = load(path).run()
    at = {float(t): i for i, t in enumerate(result.time)}
    return lambda name, t=0.0: float(result[name][at[t]]), result


def test_round_is_to_the_nearest_integer_a_half_away_from_zero(run):
    get, _ = run
    assert (get("half up"), get("half down"), get("near")) == (3.0, -3.0, 2.0 - 30.0)


def test_sinwave_and_coswave_start_with_the_run(run):
    get, _ = run
    # 2 sin(2 pi t / 4): 0, 2, 0, -2 at t = 0, 1, 2, 3; 2 cos(...): 2, 0, -2
    assert [get("sine", t) for t in (0.0, 1.0, 2.0, 3.0)] == pytest.approx([0, 2, 0, -2], abs=1e-12)
    assert [get("cosine", t) for t in (0.0, 1.0, 2.0)] == pytest.approx([2, 0, -2], abs=1e-12)


def test_history_is_the_value_at_an_earlier_time(run):
    get, _ = run
    # x = 10 TIME: HISTORY(x, 2) is x now until TIME 2, then x(2) = 20; before the start, x(0)
    assert [get("then", t) for t in (0.0, 1.0, 2.0, 3.0, 6.0)] == [0.0, 10.0, 20.0, 20.0, 20.0]
    assert [get("before", t) for t in (0.0, 1.0, 6.0)] == [0.0, 0.0, 0.0]


def test_rank_gives_the_index_of_the_element_of_a_rank(run):
    get, _ = run
    # vals = (5, 3, 9, 3) ascending: 3 (e2), 3 (e4, a tie kept in place), 5 (e1), 9 (e3); rank 5: none
    assert get("ranks") == 2 + 10 * 4 + 100 * 1 + 1000 * 3 + 10000 * 0
    # keys (0, 7, 0, 1) break the tie between e2 and e4: e4 (key 1) first
    assert get("ranks by keys") == 4 + 10 * 2


def test_min_and_max_of_arrays_and_scalars(run):
    get, _ = run
    assert get("mixed") == 9 + 100 * 3 + 10000 * 1


def test_ranges_slice_an_array(run):
    get, _ = run
    assert get("first three") == 5 + 3 + 9
    assert get("by name") == (3 + 9 + 3) + 100 * 6 + 1000 * 3
    # (3, 9, 3): the largest 9; the smallest of (5, 3) 3; rank 1 the first 3, position 1 of the range
    assert get("ends") == 9 + 10 * 3 + 1000 * 1
    # M[j, i] = 10 j + i (positions): the row's 2nd and 3rd; the block of rows 1-2, columns 3-4
    assert get("rows[1]") == 12 + 13 and get("rows[3]") == 32 + 33
    assert get("block") == 13 + 14 + 23 + 24


def test_ranges_outside_array_functions_go_element_by_element(run):
    get, result = run
    # along the equation's dimension j (3 elements): (3, 9, 3) x 2; (5, 3, 9, 3) truncated to
    # three; (5, 3) extended with the next element of i; M's column 2 (M[j, e2] = 10 j + 2)
    assert [get(f"exact[{k}]") for k in (1, 2, 3)] == [6.0, 18.0, 6.0]
    assert [get(f"cut[{k}]") for k in (1, 2, 3)] == [5.0, 3.0, 9.0]
    assert [get(f"grown[{k}]") for k in (1, 2, 3)] == [5.0, 3.0, 9.0]
    assert [get(f"column[{k}]") for k in (1, 2, 3)] == [12.0, 22.0, 32.0]
    notes = " ".join(w.message for w in result.warnings)
    assert "4 elements, truncated to the 3 of 'j' (in the equation of 'cut')" in notes
    assert "2 elements, extended to the 3 of 'j' (in the equation of 'grown')" in notes


def test_an_array_called_with_a_flat_index(run):
    get, _ = run
    # M (j x i, 3 x 4) row-major: the 6th is M[2, e2] = 22; vals' 3rd is 9, its 5th none (0);
    # vals(INT(TIME) + 1), computed when the model runs: 5 at t = 0, 9 at t = 2, 0 from t = 4
    assert get("flat", 0.0) == 22 + 900 + 0 + 50000
    assert get("flat", 2.0) == 22 + 900 + 90000 and get("flat", 4.0) == 922.0


def test_a_graphical_function_is_a_container_of_its_points(run):
    get, _ = run
    # y values (4, 1, 7, 2): the third 7, min 1, max 7, four of them, the fourth 2 (a ninth is refused)
    assert get("points") == 7 + 10 * 1 + 100 * 7 + 1000 * 4 + 10000 * 2
    # mean 3.5, population deviation sqrt((16 + 1 + 49 + 4) / 4 - 3.5^2) = sqrt(5.25)
    assert get("curve spread") == pytest.approx(3.5 + math.sqrt(5.25), rel=1e-12)


def test_gammaln(run):
    get, _ = run
    assert get("log gamma") == pytest.approx(math.log(24.0), rel=1e-12)


def test_distributions_have_their_means_and_deviations(run):
    get, result = run

    def draws(name):
        return np.array([result[f"{name}[{k}]"] for k in range(1, 301)]).ravel()   # 300 x 13 draws
    # (name, mean, standard deviation) from the distributions' definitions
    for name, mean, sd in (("ln", 10.0, 2.0),                                  # as the standard says
                           ("tri", 3.0, math.sqrt(21 / 18)),                   # (1 + 2 + 6) / 3
                           ("bet", 0.4, math.sqrt(6 / (25 * 6))),              # a / (a + b)
                           ("bin", 3.0, math.sqrt(2.1)),                       # n p, sqrt(n p (1 - p))
                           ("wei", 3 * math.gamma(1.5), 3 * math.sqrt(1 - math.gamma(1.5) ** 2))):
        x = draws(name)
        assert abs(x.mean() - mean) < 4 * sd / math.sqrt(x.size), name
        assert abs(x.std() - sd) < 0.05 * sd, name
    assert np.all(draws("bin") == np.round(draws("bin")))
    assert get("certain") == pytest.approx(10.0, rel=1e-12)


def test_a_random_argument_used_twice_is_drawn_once(run):
    _, result = run
    assert set(np.unique(result["r"])) <= {-1.0, 0.0, 1.0}
    model = parse_xmile(doc(VALUES + RANDOM, SPECS, DIMS).encode(), "m.xmile")
    held = model.variables["r #value1"]
    assert held.hidden and held.expr.func == "RANDOM UNIFORM"
    assert "RANDOM UNIFORM" not in repr(model.variables["r"].expr)
    # TREND reads its input three times, a computed position is checked and picked,
    # PREVIOUS's input is its initial value too: each draw once
    noisy = [model.variables[f"noisy trend #value{k}"].expr.func for k in (1, 2, 3)]
    assert noisy == ["RANDOM NORMAL", "RANDOM UNIFORM", "RANDOM UNIFORM"]
    assert "RANDOM" not in repr(model.variables["noisy trend"].expr)


def test_written_as_vensim_equations_the_numbers_stay(tmp_path, run):
    get, _ = run
    xmile = tmp_path / "m.xmile"
    xmile.write_text(doc(DETERMINISTIC, SPECS, DIMS), encoding="utf-8")
    assert main(["convert", str(xmile), "-o", str(tmp_path / "m.mdl")]) == 0
    back = load(tmp_path / "m.mdl").run()
    at = {float(t): i for i, t in enumerate(back.time)}
    for name in ("half up", "near", "sine", "then", "before", "ranks", "ranks by keys", "mixed",
                 "log gamma", "by name", "ends", "rows[3]", "block", "exact[2]", "grown[3]", "column[3]",
                 "flat", "points", "curve spread"):
        for t in (0.0, 1.0, 3.0, 6.0):
            assert float(back[name][at[t]]) == pytest.approx(get(name, t), abs=1e-12), (name, t)


@pytest.mark.parametrize("eqn, message", [
    ("vals[2:4] * 2", r"m.xmile:\d+:\d+: 'vals\[...\]' has a range or '\*' outside an array function, and "
                      r"'y' has no one dimension to read it along"),
    ("SUM(vals[2:7])", r"'7' in the range \[2:7\] of 'vals' is not an element or position of dimension 'i'"),
    ("SUM(vals[3:2])", r"the range \[3:2\] of 'vals' is empty"),
    ("SUM(vals[1:x + 1])", r"a range's ends must be positions or element names"),
    ("GAMMA(2, 1)", r"GAMMA is not supported yet \(in the equation of 'y'\)"),
    ("RANK(vals, 1, M)", r"RANK's two arrays have 4 and 12 elements"),
])
def test_what_cannot_be_said_is_refused_where_it_is(eqn, message):
    text = doc(VALUES + f'<aux name="x"><eqn>1</eqn></aux><aux name="y"><eqn>{eqn}</eqn></aux>', SPECS, DIMS)
    with pytest.raises((ModelError, UnsupportedFeature), match=message):
        parse_xmile(text.encode(), "m.xmile")


def test_vensims_gamma_ln_converts_to_xmile(tmp_path):
    mdl = tmp_path / "g.mdl"
    mdl.write_text("y = GAMMA LN(5)\n\t~\t~\t|\nINITIAL TIME = 0\n\t~\t~\t|\nFINAL TIME = 1\n\t~\t~\t|\n"
                   "TIME STEP = 1\n\t~\t~\t|\nSAVEPER = 1\n\t~\t~\t|\n", encoding="utf-8")
    assert main(["convert", str(mdl), "-o", str(tmp_path / "g.xmile")]) == 0
    assert "GAMMALN(5)" in (tmp_path / "g.xmile").read_text(encoding="utf-8")
    assert float(load(tmp_path / "g.xmile").run()["y"][0]) == pytest.approx(math.log(24.0), rel=1e-12)


CONVEYOR = """
<stock name="Students"><eqn>1000</eqn><inflow>matriculating</inflow><outflow>graduating</outflow>
 <conveyor><len>transit</len></conveyor></stock>
<aux name="transit"><eqn>4</eqn></aux>
<flow name="matriculating"><eqn>STEP(100, 1) + PULSE(50, 2)</eqn><non_negative/></flow>
<flow name="graduating"></flow>
<stock name="Alumni"><eqn>0</eqn><inflow>graduating</inflow></stock>
<stock name="S"><dimensions><dim name="r"/></dimensions><eqn>100 * r</eqn><inflow>inp</inflow>
 <outflow>out</outflow><conveyor><len>2 * r</len></conveyor></stock>
<flow name="inp"><dimensions><dim name="r"/></dimensions><eqn>STEP(10 * r, 1)</eqn></flow>
<flow name="out"><dimensions><dim name="r"/></dimensions></flow>
"""


def test_a_conveyor_delivers_what_entered_its_transit_time_before(tmp_path):
    path = tmp_path / "conveyor.xmile"
    path.write_text(doc(CONVEYOR, "<start>0</start><stop>8</stop><dt>0.25</dt>",
                        '<dimensions><dim name="r" size="2"/></dimensions>\n'), encoding="utf-8")
    result = load(path).run()
    at = {float(t): i for i, t in enumerate(result.time)}

    def get(name, t):
        return float(result[name][at[t]])
    # the initial 1000 spread along 4 time units leaves at 250 a unit until t = 4; then what
    # entered 4 before: nothing (t < 5), 100 (STEP at 1), 100 + 50/DT = 300 (the PULSE at 2)
    assert [get("graduating", t) for t in (0.0, 3.75, 4.0, 4.75, 5.0, 6.0, 6.25)] == \
        [250.0, 250.0, 0.0, 0.0, 100.0, 300.0, 100.0]
    # the conveyor holds its inflows less its output: 1000 - 4 x 250 + 3 x 100 + 50 at t = 4
    assert get("students", 4.0) == 350.0 and get("students", 8.0) == 400.0
    assert get("alumni", 4.0) == 1000.0 and get("alumni", 8.0) == 1000.0 + 3 * 100 + 50
    # an arrayed conveyor, element by element: transit 2 and 4, 100 and 200 spread along them,
    # then the inflow (10, 20 from t = 1) from t = 3 and t = 5
    assert [get("out[1]", t) for t in (0.0, 1.75, 2.0, 2.75, 3.0)] == [50.0, 50.0, 0.0, 0.0, 10.0]
    assert [get("out[2]", t) for t in (3.75, 4.0, 4.75, 5.0, 8.0)] == [50.0, 0.0, 0.0, 20.0, 20.0]
    assert get("s[2]", 4.0) == 200 - 4 * 50 + 3 * 20
    # written as Vensim equations (DELAY CONVEYOR), the same numbers
    assert main(["convert", str(path), "-o", str(tmp_path / "conveyor.mdl")]) == 0
    back = load(tmp_path / "conveyor.mdl").run()
    for name in ("graduating", "students", "alumni", "out[1]", "out[2]", "s[2]"):
        assert np.array_equal(np.asarray(back[name]), np.asarray(result[name])), name


@pytest.mark.parametrize("stock, message", [
    ('<stock name="belt"><eqn>0</eqn><outflow>out</outflow><outflow>leak</outflow>'
     '<conveyor><len>2</len></conveyor></stock>', r"m.xmile:5:1: conveyor 'belt' has 2 outflows: leakage"),
    ('<stock name="belt"><eqn>0</eqn><outflow>out</outflow><conveyor><len>2</len><capacity>5</capacity>'
     '</conveyor></stock>', r"m.xmile:5:76: conveyor 'belt' has a <capacity>"),
    ('<stock name="belt"><eqn>0</eqn><outflow>out</outflow><conveyor discrete="true"><len>2</len>'
     '</conveyor></stock>', r"m.xmile:5:54: conveyor 'belt' is discrete"),
    ('<stock name="line"><eqn>0</eqn><outflow>out</outflow><queue/></stock>', r"m.xmile:5:1: 'line' is a queue"),
    ('<stock name="kiln"><eqn>0</eqn><outflow>out</outflow><oven/></stock>', r"m.xmile:5:1: 'kiln' is an oven"),
])
def test_conveyors_beyond_delay_conveyor_queues_and_ovens_are_refused(stock, message):
    text = doc(stock + '<flow name="out"><eqn>0</eqn></flow><flow name="leak"><eqn>0</eqn></flow>', SPECS)
    with pytest.raises(UnsupportedFeature, match=message):
        parse_xmile(text.encode(), "m.xmile")
