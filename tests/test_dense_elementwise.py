"""Arrays the per-element route used to take, now kept dense: each model runs on both routes
(tests/test_dense_route.py's `_both_routes`), the values are checked by hand, and the
kernel's text does not grow with the range (10 vs 1,000 elements)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from test_dense_route import CONTROL, _assert_same, _both_routes, _load

# a data array read from a file beside the model (`level[R]` with no equation), read by an
# apply-to-all equation, a data equation and a data function of one element
DATA = """
R: (r1-r{n}) ~~|
level[R]{keyword} ~~|
y[R] = level[R] * 2 ~~|
held[R] :HOLD BACKWARD: := level[R] + 1 ~~|
shifted = TIME SHIFT(level[r2], 1) ~~|
"""


def _data_csv(n: int) -> str:
    """level[rk] = k (t + 1) at t = 0, 2, 4 (the points are 2 apart)."""
    head = "Time," + ",".join(f"level[r{k}]" for k in range(1, n + 1))
    return "\n".join([head] + [f"{t}," + ",".join(str(k * (t + 1)) for k in range(1, n + 1)) for t in (0, 2, 4)]) + "\n"


def test_a_data_array_is_one_loop_and_agrees_with_the_per_element_route(tmp_path, monkeypatch):
    """A subscripted data variable is one array over one row of its elements' tables
    (passes/dense_lookups.py), not one lookup statement per element. By hand: the data
    interpolate linearly between points, so level[rk](t) = k (t + 1) up to the last point
    (4) and k 5 after it; held holds the point at or before t (+ 1; the last one after it); shifted reads r2 at
    t + 1."""
    (tmp_path / "level.csv").write_text(_data_csv(3))
    text = DATA.format(n=3, keyword="") + CONTROL
    # (the parsed model's data declarations are only resolved from the file when it loads)
    dense_model, dense, _, flat = _both_routes(tmp_path, monkeypatch, text, mixed=True)
    arrays = dense_model.schedule.model.variables.arrays
    assert all(arrays[n].dims == ("r",) for n in ("level", "y"))
    _assert_same(dense, flat)
    for k in (1, 3):
        want = [k * (min(t, 4) + 1) for t in dense.time]
        np.testing.assert_allclose(dense[f"y[r{k}]"], 2 * np.array(want), rtol=1e-12)
        np.testing.assert_allclose(dense[f"held[r{k}]"], [k * (min(t - t % 2, 4) + 1) + 1 for t in dense.time], rtol=1e-12)
    np.testing.assert_allclose(dense["shifted"], [2 * (min(t + 1, 4) + 1) for t in dense.time], rtol=1e-12)


@pytest.mark.parametrize("keyword", ["", ":HOLD BACKWARD:", ":RAW:"])
def test_a_data_arrays_kernel_does_not_grow_with_the_range(tmp_path, monkeypatch, keyword):
    monkeypatch.setenv("SMARTSPEC_CACHE_DIR", str(tmp_path / "cache"))
    sizes = []
    for n in (10, 1000):
        folder = tmp_path / f"n{n}"
        folder.mkdir()
        (folder / "level.csv").write_text(_data_csv(n))
        model, run = _load(folder, DATA.format(n=n, keyword=keyword) + CONTROL, "m.mdl", "interpreter")
        assert run[f"y[r{n}]"][0] == 2 * n
        sizes.append(model.kernel.source.count("\n"))
    assert sizes[0] == sizes[1]


def test_a_data_array_with_a_keyword_and_a_lookup_function_of_an_array(tmp_path, monkeypatch):
    """:HOLD BACKWARD: and :LOOK FORWARD: data arrays, and LOOKUP BACKWARD / LOOKUP FORWARD of
    a lookup defined per element, read the element's table in the array's loop. By hand
    (Vensim's help, "LOOKUP BACKWARD"): back[rk] holds the point at or before t, k (t - t mod
    2 + 1), the last one (t = 4) after it; ahead[rk] the point at or after t, k (2 ceil(t / 2)
    + 1), the last one after it; stepped[rk] = tbl[rk] backward at t: k at t < 3, 10 k
    after; next[rk] forward at t: 10 k from t > 0 on."""
    (tmp_path / "back.csv").write_text(_data_csv(3).replace("level", "back"))
    (tmp_path / "ahead.csv").write_text(_data_csv(3).replace("level", "ahead"))
    text = """
R: (r1-r3) ~~|
back[R]:HOLD BACKWARD: ~~|
ahead[R]:LOOK FORWARD: ~~|
tbl[r1]((0, 1), (3, 10)) ~~|
tbl[r2]((0, 2), (3, 20)) ~~|
tbl[r3]((0, 3), (3, 30)) ~~|
stepped[R] = LOOKUP BACKWARD(tbl[R], Time) + back[R] * 0 ~~|
next[R] = LOOKUP FORWARD(tbl[R], Time) + ahead[R] * 0 ~~|
""" + CONTROL
    dense_model, dense, _, flat = _both_routes(tmp_path, monkeypatch, text, mixed=True)
    arrays = dense_model.schedule.model.variables.arrays
    assert all(arrays[n].dims == ("r",) for n in ("back", "ahead", "stepped", "next"))
    _assert_same(dense, flat)
    t = dense.time
    for k in (1, 2, 3):
        np.testing.assert_array_equal(dense[f"back[r{k}]"], [k * (min(x - x % 2, 4) + 1) for x in t])
        np.testing.assert_array_equal(dense[f"ahead[r{k}]"], [k * (min(2 * math.ceil(x / 2), 4) + 1) for x in t])
        np.testing.assert_array_equal(dense[f"stepped[r{k}]"], [k * (1 if x < 3 else 10) for x in t])
        np.testing.assert_array_equal(dense[f"next[r{k}]"], [k * (1 if x == 0 else 10) for x in t])


RANGED = """
R: (r1-r{n}) ~~|
share[R] = 0.3 * R - 0.5 + Time / 10 ~ Dmnl [0, 1] ~|
total = SUM(share[R!]) ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 4 ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""


def test_an_array_whose_units_declare_a_range_stays_dense(tmp_path, monkeypatch):
    """Each element is watched (one loop), and warns by its own name as on the per-element
    route. By hand: share[rk] = 0.3 k - 0.5 + t / 10; r1 from -0.2 is below [0, 1] at 0 and
    back at 2 (0.0); r5 from 1.0 above at 1; r4 from 0.7 above at 4 (1.1)."""
    dense_model, dense, _, flat = _both_routes(tmp_path, monkeypatch, RANGED.format(n=5))
    assert dense_model.schedule.model.variables.arrays["share"].dims == ("r",)
    _assert_same(dense, flat)
    said = [(w.variable, w.time, w.message.replace("dense.mdl", "m.mdl")) for w in dense.warnings]
    assert said == [(w.variable, w.time, w.message.replace("flat.mdl", "m.mdl")) for w in flat.warnings]
    assert [(v, t) for v, t, _ in said] == [("share[r1]", 0), ("share[r5]", 1), ("share[r1]", 2), ("share[r4]", 4)]
    large, run = _load(tmp_path, RANGED.format(n=1000), "large.mdl", "interpreter")
    assert large.kernel.source.count("\n") == dense_model.kernel.source.count("\n")
    assert ("share[r1000]", 0) in [(w.variable, w.time) for w in run.warnings]
