"""Data equations (`name :KEYWORD: := expression`, passes/data_equations.py) as Vensim's help
defines them ("Data Equations", "X IF MISSING"): computed from other data at the times where
all of them have a point, and between those points filled as the keyword says (interpolated
by default, held, looked ahead, or :NA: for :RAW:), also inside a macro, where a published
summary-statistics macro (Theil's statistics, Oliva and Fiddaman) counts the data points of
`Y :RAW: := historical`. Every expected value is worked out by hand from the data file
below; the runs use the interpreter (no compile)."""
from __future__ import annotations

import numpy as np
import pytest

import smartspec_dsl
from smartspec_dsl import ir

NA = ir.NA_VALUE

# obs has points at 0, 2, 4 (10, 20, 40); dense at every time 0..4 (0, 1, 2, 3, 4); short at
# 0 and 1 (5, 6)
DATA = "Time,obs,dense,short\n0,10,0,5\n1,,1,6\n2,20,2,\n3,,3,\n4,40,4,\n"

MODEL = """{UTF-8}
:MACRO: PICKED(input)
PICKED = IF THEN ELSE(Y = :NA:, 0, 1) ~~|
Y :RAW: := input ~~|
:END OF MACRO:
obs ~~|
dense ~~|
raw obs :RAW: := obs * 2 ~~|
held :HOLD BACKWARD: := obs + 1 ~~|
ahead :LOOK FORWARD: := obs + 1 ~~|
squared := obs * obs ~~|
product :INTERPOLATE: := obs * dense ~~|
raw squared :RAW: := squared ~~|
scaled := dense * k ~~|
k = 3 ~~|
count = INTEG(PICKED(obs), 0) ~~|
count dense = INTEG(PICKED(dense), 0) ~~|
with time := obs + Time ~~|
filled := X IF MISSING(obs + dense, 0) ~~|
single :RAW: := X IF MISSING(obs, 7) ~~|
short ~~|
filled short := X IF MISSING(short + dense, 0) ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 5 ~~|
TIME STEP = 1 ~~|
SAVEPER = TIME STEP ~~|
"""

CASES = {
    # its points are obs's (0, 2, 4): 2 x obs there, :NA: between and past the last
    "raw obs": [20, NA, 40, NA, 80, NA],
    "held": [11, 11, 21, 21, 41, 41],
    # the next point's value; past the last point, the last one's
    "ahead": [11, 21, 21, 41, 41, 41],
    # 100, 400, 1600 at the points and a straight line between (not 15 x 15 at time 1)
    "squared": [100, 250, 400, 1000, 1600, 1600],
    # obs x dense at the times both have a point (0, 2, 4): 0, 40, 160; between, the line
    "product": [0, 20, 40, 100, 160, 160],
    # a data equation of a data equation: the points of squared
    "raw squared": [100, NA, 400, NA, 1600, NA],
    # a constant has a value at every time: the points are dense's
    "scaled": [0, 3, 6, 9, 12, 12],
    # the macro's Y :RAW: := input has a point at 0, 2, 4: counted one step later each
    "count": [0, 1, 1, 2, 2, 3],
    "count dense": [0, 1, 2, 3, 4, 5],
    # X IF MISSING: at every point of either series, 0 for obs where it has none (help, "X IF
    # MISSING"): 10 + 0, 0 + 1, 20 + 2, 0 + 3, 40 + 4, the last held
    "filled": [10, 1, 22, 3, 44, 44],
    # "X IF MISSING of a single data series simply returns the data series regardless of NUMBER"
    "single": [10, NA, 20, NA, 40, NA],
    # short ends at 1: 5 + 0, 6 + 1, then 0 in its place: 2, 3, 4, the last held
    "filled short": [5, 7, 2, 3, 4, 4],
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data_equations")
    (folder / "series.csv").write_text(DATA)
    path = folder / "model.mdl"
    path.write_text(MODEL)
    return smartspec_dsl.load(path, tier="interpreter", cache_dir=folder / "cache").run(tier="interpreter")


@pytest.mark.parametrize("name", CASES)
def test_data_equations_against_hand_derivations(run, name):
    np.testing.assert_allclose(run[name], CASES[name], rtol=1e-12, err_msg=name)


def test_a_data_equation_reading_time(run):
    """`obs + Time`: Time has a value at every time, so the points are obs's (10 + 0,
    20 + 2, 40 + 4), a line between them and the last held past it (the help leaves Time
    in a data equation open; this is the rule of every other series that has a point at
    every time)."""
    np.testing.assert_allclose(run["with time"], [10, 16, 22, 33, 44, 44], rtol=1e-12)


ARRAY_MODEL = """
Site: Hill, Vale ~~|
level[Site] ~~|
held[Site] :HOLD BACKWARD: := level[Site] * 2 ~~|
ahead[Site] :LOOK FORWARD: := level[Site] ~~|
raw[Site] :RAW: := level[Site] ~~|
vale held :HOLD BACKWARD: := level[Vale] ~~|
both := level[Hill] + level[Vale] ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 2 ~~|
TIME STEP = 0.5 ~~|
SAVEPER = TIME STEP ~~|
"""


def test_data_equations_of_the_elements_of_a_data_array(tmp_path):
    """A data equation reads each element of a subscripted data variable as its own series,
    with that element's points (the dense route keeps such a variable as one array): the
    keyword was ignored and the value interpolated at every time. From the points Hill (0,1),
    (2,3) and Vale (0,10), (1,20), (2,30), by hand at times 0, 0.5, ..., 2: held doubles the
    last point (2, 2, 2, 2, 6 and 20, 20, 40, 40, 60); ahead takes the next (1, 3, 3, 3, 3 and
    10, 20, 20, 30, 30); raw is :NA: off the points; vale held holds Vale's; both is computed
    at the times both have a point (0, 2: 11, 33) and interpolated between."""
    (tmp_path / "levels.csv").write_text("Time,level[Hill],level[Vale]\n0,1,10\n1,,20\n2,3,30\n")
    (tmp_path / "m.mdl").write_text(ARRAY_MODEL)
    r = smartspec_dsl.load(tmp_path / "m.mdl", tier="interpreter").run(tier="interpreter")
    want = {"held[Hill]": [2, 2, 2, 2, 6], "held[Vale]": [20, 20, 40, 40, 60],
            "ahead[Hill]": [1, 3, 3, 3, 3], "ahead[Vale]": [10, 20, 20, 30, 30],
            "raw[Hill]": [1, NA, NA, NA, 3], "raw[Vale]": [10, NA, 20, NA, 30],
            "vale held": [10, 10, 20, 20, 30], "both": [11, 16.5, 22, 27.5, 33]}
    for name, values in want.items():
        np.testing.assert_allclose(r[name], values, rtol=1e-12, err_msg=name)


def test_x_if_missing_belongs_to_data_equations(tmp_path):
    """The help: X IF MISSING is "valid only in Data := equations"; elsewhere a located error."""
    path = tmp_path / "m.mdl"
    path.write_text("obs = 1 ~~|\nx = X IF MISSING(obs, 0) + 1 ~~|\n"
                    "INITIAL TIME = 0 ~~|\nFINAL TIME = 1 ~~|\nTIME STEP = 1 ~~|\nSAVEPER = 1 ~~|\n")
    with pytest.raises(smartspec_dsl.ModelError, match=r"m\.mdl:2:5: X IF MISSING must be the whole right-hand "
                                                        r"side of a data equation"):
        smartspec_dsl.load(path, tier="interpreter", cache_dir=tmp_path / "cache")


def test_x_if_missing_reads_no_data_beyond_its_points(run):
    """Where a series has no point (short after 1), X IF MISSING puts its number in place of
    it: no read of short beyond its data, so no lookup warning for the data equation."""
    assert not [w for w in run.warnings if "'filled short'" in w.message], run.warnings


def test_a_time_series_replacing_data_a_data_equation_reads_is_refused(tmp_path):
    """A run's time series has no points before the run, and a data equation takes its points
    from its data: rather than compute the equation at every time in silence, the run is
    refused, naming both (write the series into a data file instead)."""
    pd = pytest.importorskip("pandas")
    (tmp_path / "series.csv").write_text(DATA)
    path = tmp_path / "model.mdl"
    path.write_text(MODEL)
    model = smartspec_dsl.load(path, tier="interpreter", cache_dir=tmp_path / "cache")
    with pytest.raises(smartspec_dsl.ModelError, match=r"model\.mdl:\d+:1: the data equation of '\w[^']*' reads "
                                                        r"the data variable 'obs', which this run replaces"):
        model.run(tier="interpreter", params={"obs": pd.Series([0.0, 100.0], index=[0.0, 3.0])})
