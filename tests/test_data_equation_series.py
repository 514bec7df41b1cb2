"""The data functions of a data equation's variable (`x := expression`, Vensim's help "Data
Equations"): GET DATA BETWEEN TIMES, GET DATA AT TIME, TIME SHIFT, GET DATA MAX / MIN /
MEAN / FIRST TIME and CUMULATE(F) read its series as they read data from a file; a published model
(metasd.com's Groupon valuation) scales its data so (`data revenue[Interval] := data revenue
k$[Interval] * "$ per k$"`).

A data equation's points are those of the data it reads (passes/data_equations.py); its value
at one of them is its expression there, and between them its keyword's reading. So the
functions read it as a data series of those points and values: GET DATA BETWEEN TIMES's mode 0
interpolates between the points around, 1 takes the next point's value, -1 the last one's,
:NA: outside its first and last points (as of file data); GET DATA AT TIME reads it as its
keyword says. Expected values by hand from two series of points 0..3: a = 1, 2, 3, 4 and
b = 10, 20, 30, 40."""
from __future__ import annotations

import numpy as np
import pytest

import smartspec_dsl
from smartspec_dsl import ir
from smartspec_dsl.frontend.workbook import DataOptions

MODEL = """{UTF-8}
raw a ~~|
raw b ~~|
scale == 1000 ~~|
scaled a := raw a * scale ~~|
held :HOLD BACKWARD: := raw a + raw b ~~|
at half = GET DATA BETWEEN TIMES(scaled a, Time + 0.5, 0) ~~|
next half = GET DATA BETWEEN TIMES(scaled a, Time + 0.5, 1) ~~|
last half = GET DATA BETWEEN TIMES(held, Time + 0.5, -1) ~~|
between held = GET DATA BETWEEN TIMES(held, Time + 0.5, 0) ~~|
read held = GET DATA AT TIME(held, Time + 0.5) ~~|
shifted = TIME SHIFT(scaled a, 1) ~~|
top = GET DATA MAX(held, 1, 2) ~~|
mean = GET DATA MEAN(scaled a, 0, 3) ~~|
first = GET DATA FIRST TIME(held) ~~|
cum held := CUMULATE(held) ~~|
cum scaled := CUMULATE(scaled a) ~~|
total := CUMULATEF(scaled a) ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 3 ~~|
TIME STEP = 0.5 ~~|
SAVEPER = 0.5 ~~|
"""


@pytest.fixture(scope="module")
def res(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dataeq")
    (folder / "m.mdl").write_text(MODEL)
    (folder / "d.csv").write_text("Time,raw a,raw b\n0,1,10\n1,2,20\n2,3,30\n3,4,40\n")
    data = DataOptions(data_files=(folder / "d.csv",))
    return smartspec_dsl.load(folder / "m.mdl", tier="interpreter", data=data).run(tier="interpreter")


NA = ir.NA_VALUE


def test_between_times(res):
    """scaled a's points 1000, 2000, 3000, 4000. At Time + 0.5: mode 0 halfway (1500, 2000, ...),
    mode 1 the next point's (2000, 2000, 3000, ...); held (:HOLD BACKWARD:, points 11, 22, 33,
    44) with mode -1 the last point's (11, 22, 22, 33, ...) and with mode 0 interpolated, its
    keyword notwithstanding, as mode 0 reads file data (16.5, 22, 27.5, ...). At Time 3 the
    time asked for, 3.5, is beyond the last point: :NA:."""
    np.testing.assert_array_equal(res["at half"], [1500, 2000, 2500, 3000, 3500, 4000, NA])
    np.testing.assert_array_equal(res["next half"], [2000, 2000, 3000, 3000, 4000, 4000, NA])
    np.testing.assert_array_equal(res["last half"], [11, 22, 22, 33, 33, 44, NA])
    np.testing.assert_array_equal(res["between held"], [16.5, 22, 27.5, 33, 38.5, 44, NA])


def test_at_time_and_time_shift(res):
    """GET DATA AT TIME reads held as its keyword says: the last point's value (11 at 0.5, 22 at
    1 and 1.5, ...); TIME SHIFT(scaled a, 1) is scaled a one time unit later, held at its last
    point beyond it (as the data equation itself is)."""
    np.testing.assert_array_equal(res["read held"], [11, 22, 22, 33, 33, 44, NA])
    np.testing.assert_array_equal(res["shifted"], [2000, 2500, 3000, 3500, 4000, 4000, 4000])


def test_statistics_of_its_points(res):
    """GET DATA MAX(held, 1, 2) = max(22, 33); GET DATA MEAN(scaled a, 0, 3) = 10000 / 4;
    GET DATA FIRST TIME(held) = 0."""
    assert (res["top"][0], res["mean"][0], res["first"][0]) == (33, 2500, 0)


def test_cumulate(res):
    """CUMULATE sums the points and reads the sums as the variable is read: held's (11, 33, 66,
    110 at 0..3) held backward between points, scaled a's (1000, 3000, 6000, 10000) on a
    straight line; CUMULATEF is the whole sum, 10000."""
    np.testing.assert_array_equal(res["cum held"], [11, 11, 33, 33, 66, 66, 110])
    np.testing.assert_array_equal(res["cum scaled"], [1000, 2000, 3000, 4500, 6000, 8000, 10000])
    assert res["total"][0] == 10000
