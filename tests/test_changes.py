"""Vensim changes files (.cin): constants and lookup tables replaced without recompiling."""
import glob

import numpy as np
import pytest

import smartspec_dsl
from smartspec_dsl.frontend.changes import parse_changes
from smartspec_dsl.errors import ModelError

from conftest import shared_path

MODEL = """{UTF-8}
gain = 2 ~ ~ |
shape((0,0),(10,10)) ~ ~ |
y = gain * shape(Time) ~ ~ |
INITIAL TIME = 0 ~ ~ |
FINAL TIME = 10 ~ ~ |
TIME STEP = 1 ~ ~ |
SAVEPER = TIME STEP ~ ~ |
"""


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("cin") / "m.mdl"
    path.write_text(MODEL)
    return smartspec_dsl.load(path)


def test_parse_constants_and_tables():
    ch = parse_changes("Gain = 3\nshape (\n (0,1),(5, 2),\n (10,1))\n\x1a", "x.cin")
    assert ch.constants == {"gain": 3.0}
    assert ch.tables["shape"].xs == (0.0, 5.0, 10.0) and ch.tables["shape"].ys == (1.0, 2.0, 1.0)


def test_changes_replace_constants_and_tables(model, tmp_path):
    cin = tmp_path / "s.cin"
    cin.write_text("gain = 3\nshape (\n (0,1),(5,2),(10,1))\n")
    y = model.run(changes=cin)["y"]
    t = np.arange(11.0)
    expected = 3 * np.interp(t, [0, 5, 10], [1, 2, 1])   # hand: the new table, scaled by 3
    assert np.allclose(y, expected, rtol=0, atol=1e-12)
    assert np.allclose(model.run()["y"], 2 * t)            # the model itself is unchanged


def test_unknown_names_are_errors(model, tmp_path):
    cin = tmp_path / "bad.cin"
    cin.write_text("y = 4\n")
    with pytest.raises(ModelError, match=r"bad.cin:1: 'y' is an? auxiliary"):
        model.run(changes=cin)


def test_world3_scenarios_differ_from_base():
    folder = shared_path("real-models", "WRLD3-03")
    m = smartspec_dsl.load(folder / "wrld3-03.mdl")
    base = m.run(return_columns=["population"])["population"]
    files = sorted(glob.glob(str(folder / "W303S*.CIN")))
    assert len(files) == 12
    for f in files:
        pop = m.run(changes=f, return_columns=["population"])["population"]
        assert np.all(np.isfinite(pop)) and not np.allclose(pop, base), f


def test_world3_cin_scenarios_as_one_sweep():
    """Changes files that replace lookup tables (W303S10-13) run in a sweep, each
    scenario exactly as `run(changes=...)` runs it, whatever the chunking."""
    from smartspec_dsl.experiments.samplers import Scenario, Scenarios
    folder = shared_path("real-models", "WRLD3-03")
    m = smartspec_dsl.load(folder / "wrld3-03.mdl")
    files = sorted(glob.glob(str(folder / "W303S*.CIN")))
    sc = Scenarios([Scenario("base")] + [Scenario.from_cin(f) for f in files])
    res = smartspec_dsl.sweep(m, sc, outputs=["population", "industrial output"], chunk_size=5, progress=False)
    assert res.labels.tolist() == ["base"] + [f.rsplit("/", 1)[1][:-4] for f in files]
    for i, f in enumerate([None] + files):
        want = m.run(changes=f, return_columns=["population", "industrial output"])
        np.testing.assert_array_equal(res.values[i], want.values)
