"""A run that replaces elements of an array of SMOOTH N or DELAY N whose order differs by
element (split before a run's edits into one hidden part per order, passes/dense_orders.py)
computes nothing of those elements: the hidden part (or the element of it) that computed a
replaced element is the number 0, on both routes and tiers. It kept running: its division by
zero was reported as the replaced array's infinite value, and --strict failed, for a variable
the run had replaced away. The elements left are the plain run's, bit for bit, and a hand
derivation's."""
from __future__ import annotations

import numpy as np
import pytest

import smartspec_dsl
from smartspec_dsl.frontend.parse import parse_model
from smartspec_dsl.passes import pipeline
from smartspec_dsl.passes.pipeline import replaced_parts

from conftest import run_cli

# g2 divides by zero; the order differs by element along G, so each array is split along G
MODEL = """G: g1, g2, g3 ~~|
H: h1, h2 ~~|
ordr[G] = 1, 2, 3 ~~|
den[G] = 1, 0, 2 ~~|
sn[G] = SMOOTH N(1 / den[G], 2, 0, ordr[G]) ~~|
dn[G] = DELAY N(1 / den[G], 1, 0, ordr[G]) ~~|
sh[G, H] = SMOOTH N(1 / den[G] + H, 2, 0, ordr[G]) ~~|
dh[H, G] = DELAY N(H / den[G], 1, 0, ordr[G]) ~~|
INITIAL TIME = 0 ~~| FINAL TIME = 4 ~~| TIME STEP = 0.5 ~~| SAVEPER = 0.5 ~~|
"""
K = np.arange(9)
# Euler, TIME STEP 0.5, from 0: order 1, SMOOTH N over 2 of a constant input u is
# u (1 - 0.75^k), DELAY N over 1 of u is u (1 - 0.5^k); H as a value is its position
HAND = {"sn[g1]": 1 - 0.75 ** K, "dn[g1]": 1 - 0.5 ** K, "sh[g1,h1]": 2 * (1 - 0.75 ** K),
        "sh[g1,h2]": 3 * (1 - 0.75 ** K), "dh[h2,g1]": 2 * (1 - 0.5 ** K)}
REPLACED = {"sn[g2]": 5.0, "dn[g2]": 6.0, "sh[g2,h1]": 7.0, "dh[h1,g2]": 8.0}
G2 = [f"sh[g2,{h}]" for h in ("h1", "h2")] + [f"dh[{h},g2]" for h in ("h1", "h2")] + ["sn[g2]", "dn[g2]"]


@pytest.fixture(scope="module", params=["dense", "per element"])
def route(request, tmp_path_factory):
    patch = pytest.MonkeyPatch()
    patch.setenv("SMARTSPEC_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    if request.param == "per element":
        patch.setattr(pipeline, "dense_arrays", lambda model, edits: set())
    yield tmp_path_factory.mktemp(request.param.replace(" ", "_"))
    patch.undo()


def _names(result) -> set[str]:
    return {w.message.split("'")[1] for w in result.warnings}


@pytest.mark.parametrize("tier", ["interpreter", "compiled"])
def test_a_replaced_elements_part_no_longer_runs(route, tier):
    path = route / f"{tier}.mdl"
    path.write_text(MODEL)
    model = smartspec_dsl.load(path, tier=tier)
    plain = model.run(tier=tier)
    # named by the element, on both routes: the dense route named a scalar part's hidden stocks
    # by the whole array ('sn' is +inf at time 0.5 (not saved))
    assert {"sn[g2]", "dn[g2]"} <= _names(plain) and not {"sn", "dn"} & _names(plain)
    for name, want in HAND.items():
        np.testing.assert_allclose(plain[name], want, rtol=1e-15, err_msg=name)

    edited = model.run(tier=tier, params=REPLACED)
    for name, value in REPLACED.items():
        assert (edited[name] == value).all(), name
    # what is left of g2 still divides by zero, and says so; nothing else does
    assert any("'sh[g2,h2]' is +inf at time 1:" in w.message for w in edited.warnings), edited.warnings
    assert any("'dh[h2,g2]' is +inf at time 1:" in w.message for w in edited.warnings), edited.warnings
    assert not any(n in w.message for w in edited.warnings for n in ("'sn", "'dn", "h1]")), edited.warnings
    for c in plain.columns:
        if c not in REPLACED:
            np.testing.assert_array_equal(edited[c], plain[c], err_msg=c)

    # every element of g2 replaced: nothing divides by zero any more
    whole = model.run(tier=tier, params=dict.fromkeys(G2, 1.0))
    assert whole.warnings == [] and all((whole[c] == 1).all() for c in G2)
    for c in plain.columns:
        if c not in G2:
            np.testing.assert_array_equal(whole[c], plain[c], err_msg=c)


class Series:
    """A time series as params take one (pandas' shape, without pandas)."""

    def __init__(self, times, values):
        self.index, self._values = times, values

    def to_numpy(self):
        return np.asarray(self._values, float)


def test_a_time_series_replaces_the_part_too(route):
    path = route / "series.mdl"
    path.write_text(MODEL)
    model = smartspec_dsl.load(path, tier="interpreter")
    plain = model.run(tier="interpreter")
    edited = model.run(tier="interpreter", params={"sn[g2]": Series([0.0, 4.0], [1.0, 3.0]),
                                                    "sh[g2,h2]": Series([0.0, 4.0], [2.0, 2.0])})
    np.testing.assert_allclose(edited["sn[g2]"], 1 + K * 0.25, rtol=1e-15)
    assert (edited["sh[g2,h2]"] == 2).all()
    assert not any(n in w.message for w in edited.warnings for n in ("'sn", "h2]'")), edited.warnings
    for c in plain.columns:
        if c not in ("sn[g2]", "sh[g2,h2]"):
            np.testing.assert_array_equal(edited[c], plain[c], err_msg=c)


def test_a_state_continues_without_the_replaced_parts_memory(route):
    """The plain run's state holds the g2 parts' stocks, NaN or infinite; a run replacing those elements
    continues it without them, as it runs from the start."""
    path = route / "state.mdl"
    path.write_text(MODEL)
    model = smartspec_dsl.load(path, tier="interpreter")
    first = model.run(tier="interpreter", final_time=2)
    assert not np.isfinite(first.final_state.stocks["sn #order2 #smoothn2_3"])
    whole = model.run(tier="interpreter", params=REPLACED)
    went_on = model.run(tier="interpreter", params=REPLACED, initial_condition=first.final_state)
    assert went_on.time[0] == 2
    assert not any(n in w.message for w in went_on.warnings for n in ("'sn", "'dn", "h1]")), went_on.warnings
    for c in whole.columns:
        np.testing.assert_array_equal(went_on[c], whole[c][whole.time >= 2], err_msg=c)


def test_the_parts_of_replaced_elements():
    """What a replaced element's memory is named by, along the split range wherever it stands."""
    model = parse_model(MODEL, "m.mdl")
    assert replaced_parts(model, {"sn[g2]", "sh[g3,h1]", "dh[h2,g1]", "dn[g1]", "den[g2]", "ordr"}) == \
        {"sn #order2", "sh #order3[h1]", "dh #order1[h2]", "dn #order1"}


def test_strict_run_with_the_element_replaced(tmp_path):
    path = tmp_path / "m.mdl"
    path.write_text(MODEL)
    env = {"SMARTSPEC_CACHE_DIR": str(tmp_path / "cache")}
    plain = run_cli("run", "--strict", "--tier", "interpreter", path, "-o", tmp_path / "p.csv", env=env)
    assert plain.returncode == 3 and "'sn[g2]' is +inf" in plain.stderr, plain.stderr
    sets = [a for name, v in REPLACED.items() for a in ("--set", f"{name}={v}")] + ["--set", "sh[g2,h2]=1",
                                                                                  "--set", "dh[h2,g2]=1"]
    edited = run_cli("run", "--strict", "--tier", "interpreter", path, "-o", tmp_path / "e.csv", *sets, env=env)
    assert edited.returncode == 0 and "inf" not in edited.stderr, edited.stderr
    header, *rows = (tmp_path / "e.csv").read_text().splitlines()
    assert len(rows) == 9


def test_a_state_continues_without_the_replaced_parts_buffer(route):
    """A DELAY FIXED beside the DELAY N is lowered in each part, its buffer the part's: a run
    replacing x[g2] has no buffer of `x #order2` and continues a state that holds one."""
    path = route / "buffer.mdl"
    path.write_text("G: g1, g2, g3 ~~|\nordr[G] = 1, 2, 3 ~~|\nin[G] = G + Time ~~|\n"
                    "x[G] = DELAY N(in[G], 1, 0, ordr[G]) + DELAY FIXED(in[G], 1, 0) ~~|\n"
                    "INITIAL TIME = 0 ~~| FINAL TIME = 4 ~~| TIME STEP = 0.5 ~~| SAVEPER = 0.5 ~~|\n")
    model = smartspec_dsl.load(path, tier="interpreter")
    assert model.kernel.buffers == ("x #order1 #delayfixed3", "x #order2 #delayfixed7", "x #order3 #delayfixed7")
    first = model.run(tier="interpreter", final_time=2)
    whole = model.run(tier="interpreter", params={"x[g2]": 3.0})
    went_on = model.run(tier="interpreter", params={"x[g2]": 3.0}, initial_condition=first.final_state)
    # x[g1]: DELAY N of order 1 over 1 of 1 + Time from 0, by Euler at 0.5, is Time (its stock
    # L + 0.5 (1 + t - L) = t + 0.5 from L = t); DELAY FIXED over 1, 0 then 1 + (t - 1): 2 t from 1
    np.testing.assert_array_equal(whole["x[g1]"], [0, 0.5, 2, 3, 4, 5, 6, 7, 8])
    for c in whole.columns:
        np.testing.assert_array_equal(went_on[c], whole[c][whole.time >= 2], err_msg=c)
