"""A function with memory (SMOOTH, SMOOTH3I, DELAY1, TREND, SMOOTH N, INITIAL, SAMPLE IF TRUE, DELAY
FIXED, DELAY MATERIAL, ...) in one piece of a piecewise array, on the dense route: the call is a
hidden array over the piece's own elements (passes/dense_memory.py), so the array stays one, its
kernel the same at 10 and 1,000 elements. Its values are the per-element route's (the piecewise
equations lowered one element at a time, read by the plain-Python reference evaluator,
tests/reference_eval.py, and the route forced per element), a hand derivation's, the compiled
kernel's, and a continued state's, with an element replaced too."""
from __future__ import annotations

import numpy as np
import pytest

from smartspec_dsl import ir
from smartspec_dsl.frontend.parse import parse_model
from smartspec_dsl.passes.dense import flattened_arrays

from test_dense_route import _assert_same, _both_routes, _load


def pieces(n: int, dt: float = 0.5) -> str:
    """R of n elements, its subrange Low (r1, r2) and High (r3 on); C of two; each variable
    with memory in some of its pieces only: by subrange, by element, :EXCEPT: (r2 and r{n-1}
    left out: what is left is no run of R), over two ranges."""
    return f"""
R: (r1-r{n}) ~~|
Low: r1, r2 ~~|
High: (r3-r{n}) ~~|
C: c1, c2 ~~|
inp[R] = STEP(10 * R, 1) + Time ~~|
x[Low] = SMOOTH(inp[Low], 3) ~~|
x[High] = 5 * inp[High] + DELAY1(inp[High], 2) ~~|
y[r1] = 7 ~~|
y[R] :EXCEPT: [r1] = SMOOTH3I(inp[R], 2, R) + TREND(inp[R], 2, 0.1) ~~|
z[R] :EXCEPT: [r2], [r{n - 1}] = SMOOTH N(inp[R] * 2, 2, 0, 2) + INITIAL(inp[R]) ~~|
z[r2] = inp[r2] ~~|
z[r{n - 1}] = SAMPLE IF TRUE(Time > 3, inp[r{n - 1}], 0) ~~|
w[r1, C] = SMOOTH(inp[r1] * C, 1) ~~|
w[R, C] :EXCEPT: [r1, C] = inp[R] - C ~~|
tot = SUM(x[R!]) + SUM(y[R!]) + SUM(z[R!]) + SUM(w[R!, C!]) ~~|
INITIAL TIME = 0 ~~| FINAL TIME = 6 ~~| TIME STEP = {dt} ~~| SAVEPER = {dt} ~~|
"""


# buffers in pieces (the reference evaluator does not run them: the routes are compared)
BUFFERED = """
fx[Low] = DELAY FIXED(inp[Low], 1, -1) ~~|
fx[High] = 0 ~~|
dm[R] :EXCEPT: [r3] = DELAY MATERIAL(inp[R], 1.5, 0, -1) + 1 ~~|
dm[r3] = 3 ~~|
"""


def test_the_values_of_the_per_element_route_and_a_hand_derivation(tmp_path, monkeypatch):
    from reference_eval import simulate as reference_simulate
    monkeypatch.setenv("SMARTSPEC_CACHE_DIR", str(tmp_path / "cache"))
    text = pieces(6)
    assert flattened_arrays(parse_model(text, "m.mdl")) == {}
    model, got = _load(tmp_path, text, "m.mdl", "interpreter")
    assert all(model.schedule.model.variables.arrays[v].dims for v in ("x", "y", "z", "w"))
    ref = reference_simulate(text)
    for i, c in enumerate(got.columns):
        np.testing.assert_allclose(got.values[:, i], ref.values[ir.canonical_name(c)], rtol=1e-12,
                                   atol=1e-12, err_msg=c)
    # SMOOTH(inp, 3) by Euler (TIME STEP 0.5): s starts at inp(0), s += 0.5 * (inp - s) / 3
    inp, s = got["inp[r2]"], [got["inp[r2]"][0]]
    for k in range(len(inp) - 1):
        s.append(s[-1] + 0.5 * (inp[k] - s[-1]) / 3)
    np.testing.assert_allclose(got["x[r2]"], s, rtol=1e-12)
    np.testing.assert_array_equal(got["y[r1]"], 7)
    np.testing.assert_array_equal(got["z[r2]"], got["inp[r2]"])


@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_dense_route_gives_the_per_element_routes_numbers(tmp_path, monkeypatch, method):
    text = pieces(7).replace("tot =", BUFFERED + "tot =")
    dense_model, _, flat_model, _ = _both_routes(tmp_path, monkeypatch, text)
    dense = dense_model.run(tier="interpreter", method=method)
    _assert_same(dense, flat_model.run(tier="interpreter", method=method))
    _assert_same(dense, dense_model.run(tier="compiled", method=method))
    # DELAY FIXED(inp, 1, -1) in the piece over Low: -1 until 1, then inp 1 earlier
    t = dense.time
    np.testing.assert_array_equal(dense["fx[r2]"], np.where(t < 1, -1, 20 * (t >= 2) + t - 1))


def test_kernel_does_not_grow_with_the_range(tmp_path, monkeypatch):
    monkeypatch.setenv("SMARTSPEC_CACHE_DIR", str(tmp_path / "cache"))
    assert flattened_arrays(parse_model(pieces(1000) + BUFFERED, "m.mdl")) == {}
    small, _ = _load(tmp_path, pieces(10).replace("tot =", BUFFERED + "tot ="), "small.mdl", "interpreter")
    large, run = _load(tmp_path, pieces(1000).replace("tot =", BUFFERED + "tot ="), "large.mdl", "interpreter")
    assert large.kernel.source.count("\n") == small.kernel.source.count("\n")
    # SAMPLE IF TRUE(Time > 3, inp, 0): 0, then the input sampled each step the condition holds
    np.testing.assert_array_equal(run["z[r999]"], np.where(run.time > 3, run["inp[r999]"], 0))


@pytest.mark.parametrize("tier", ["interpreter", "compiled"])
def test_a_continued_state_and_a_replaced_element(tmp_path, monkeypatch, tier):
    """A state continued gives the uninterrupted run, with an element replaced too (the
    hidden arrays stay: the other elements' hidden stocks keep their names)."""
    monkeypatch.setenv("SMARTSPEC_CACHE_DIR", str(tmp_path / "cache"))
    model, whole = _load(tmp_path, pieces(6).replace("tot =", BUFFERED + "tot ="), "m.mdl", tier)
    first = model.run(tier=tier, until=3)
    rest = model.run(tier=tier, initial_condition=first.final_state)
    np.testing.assert_allclose(rest.values, whole.values[whole.time >= 3], rtol=1e-12, atol=1e-12)
    params = {"x[r1]": 2.0, "y[r3]": 1.0, "dm[r1]": 0.0}
    edited = model.run(tier=tier, params=params)
    assert (edited["x[r1]"] == 2).all() and (edited["dm[r1]"] == 0).all()
    for c in ("x[r2]", "y[r2]", "z[r1]", "dm[r2]", "fx[r1]", "w[r1,c2]"):
        np.testing.assert_array_equal(edited[c], whole[c], err_msg=c)
    went_on = model.run(tier=tier, params=params, initial_condition=first.final_state)
    np.testing.assert_allclose(went_on.values, edited.values[edited.time >= 3], rtol=1e-12, atol=1e-12)


def test_what_stays_per_element(tmp_path, monkeypatch):
    """An element-combination set that no ranges hold stays per element."""
    text = pieces(4).replace("tot =", "odd[R, C] :EXCEPT: [r1, c1] = SMOOTH(inp[R] * C, 2) ~~|\nodd[r1, c1] = 0 ~~|\ntot =")
    assert set(flattened_arrays(parse_model(text, "m.mdl"))) == {"odd"}
    _, dense, _, flat = _both_routes(tmp_path, monkeypatch, text, mixed=True)
    _assert_same(dense, flat)


DRAWS = """
R: (r1-r6) ~~|
Low: r1, r2 ~~|
High: (r3-r6) ~~|
inp[R] = R + Time ~~|
x[Low] = SMOOTH(RANDOM UNIFORM(0, 1, 0) * inp[Low], 3) ~~|
x[High] = 5 * inp[High] + DELAY1(inp[High] + RANDOM NORMAL(-1, 1, 0, 1, 0), 2) ~~|
y[r1] = 7 ~~|
y[R] :EXCEPT: [r1], [r4] = SMOOTH3I(inp[R] + RANDOM UNIFORM(0, 1, 0), 2, R) + TREND(inp[R], 2, 0.1) ~~|
y[r4] = DELAY MATERIAL(RANDOM UNIFORM(0, 1, 0), 1, 0, RANDOM UNIFORM(-1, 0, 0)) ~~|
INITIAL TIME = 0 ~~| FINAL TIME = 6 ~~| TIME STEP = 0.5 ~~| SAVEPER = 0.5 ~~|
"""
DRAWN = [f"x[r{i}]" for i in range(1, 7)] + [f"y[r{i}]" for i in range(2, 7)]


@pytest.mark.parametrize("tier", ["interpreter", "compiled"])
def test_draws_in_pieces(tmp_path, monkeypatch, tier):
    """Calls with memory of random draws in pieces stay dense too, each hidden array owning its
    draws (backend/sites.py) on both routes: the per-element route's numbers, to the bit; and
    a run that replaces elements keeps every other element's draws."""
    assert flattened_arrays(parse_model(DRAWS, "m.mdl")) == {}
    dense_model, dense, flat_model, flat = _both_routes(tmp_path, monkeypatch, DRAWS, tier)
    for c in DRAWN:
        assert len(set(dense[c][2:])) > 3, c
        np.testing.assert_array_equal(dense[c], flat[c], err_msg=c)
    for model, plain in ((dense_model, dense), (flat_model, flat)):
        for replaced in ("x[r1]", "x[r4]", "y[r3]", "y[r4]"):
            edited = model.run(tier=tier, params={replaced: 0.0})
            for c in DRAWN:
                if c != replaced:
                    np.testing.assert_array_equal(edited[c], plain[c], err_msg=f"{replaced}: {c}")


def test_a_replaced_elements_hidden_element_no_longer_runs(tmp_path, monkeypatch):
    """A run that replaces an element of a piece with memory replaces its element of the hidden
    arrays too (review R1: the hidden element ran the old equation, and its LN of a negative
    number was reported as the replaced element's infinite value; --strict failed)."""
    monkeypatch.setenv("SMARTSPEC_CACHE_DIR", str(tmp_path / "cache"))
    text = ("A: a1, a2, a3 ~~|\nLow: a1, a2 ~~|\nin[A] = A - Time ~~|\nx[Low] = SMOOTH(LN(in[Low]), 2) ~~|\n"
            "x[a3] = 5 * in[a3] ~~|\nINITIAL TIME = 0 ~~| FINAL TIME = 4 ~~| TIME STEP = 0.5 ~~| SAVEPER = 0.5 ~~|\n")
    for tier in ("interpreter", "compiled"):
        model, plain = _load(tmp_path, text, f"{tier}.mdl", tier)
        assert any("'x[a1]' is -inf" in w.message for w in plain.warnings)
        edited = model.run(tier=tier, params={"x[a1]": 1.0})
        assert (edited["x[a1]"] == 1).all()
        assert not any("'x[a1]'" in w.message for w in edited.warnings), edited.warnings
        assert any("'x[a2]' is -inf" in w.message for w in edited.warnings)
        both = model.run(tier=tier, params={"x[a1]": 1.0, "x[a2]": 2.0})
        assert not both.warnings and (both["x[a2]"] == 2).all()
        np.testing.assert_array_equal(both["x[a3]"], plain["x[a3]"])


KEPT = """
A: a1, a2, a3 ~~|
Low: a1, a2 ~~|
flat((0, 1), (1, 1)) ~~|
order[A] = 1, 3, 2 ~~|
in[A] = 3 * A + Time ~~|
q[Low] = QUEUE FIFO(in[Low], 1, flat, 0, 1) ~~|
q[a3] = 1 ~~|
qa[a2] = QUEUE FIFO ATTRIB(in[a2], 1, 5, 0.5, flat, flat, 0, 1, 1) ~~|
qa[a1] = 0 ~~|
qa[a3] = 2 ~~|
d[a1] = 0 ~~|
d[a2] = DELAY N(in[a2], 2, 1, order[a1]) ~~|
d[a3] = SMOOTH N(in[a3], 2, 1, order[a3]) ~~|
INITIAL TIME = 0 ~~| FINAL TIME = 6 ~~| TIME STEP = 0.25 ~~| SAVEPER = 0.25 ~~|
"""


def test_queues_and_an_elements_order_in_a_piece_stay_per_element(tmp_path, monkeypatch):
    """A queue in a piece, and SMOOTH N or DELAY N in a piece of one element reading its order
    at an element, stay per element (passes/dense_memory.py, _KEPT): they run, as the
    per-element route, and DELAY N of order 1 is the first-order delay derived by hand."""
    assert set(flattened_arrays(parse_model(KEPT, "m.mdl"))) >= {"q", "qa", "d"}
    _, dense, _, flat = _both_routes(tmp_path, monkeypatch, KEPT, mixed=True)
    _assert_same(dense, flat)
    # DELAY N(in, 2, 1, 1): one stock, 1 * 2 at the start, emptying at stock / 2 (Euler, dt 0.25)
    stock, want = 2.0, []
    for t in dense.time:
        want.append(stock / 2)
        stock += 0.25 * ((6 + t) - stock / 2)
    np.testing.assert_allclose(dense["d[a2]"], want, rtol=1e-12)


# a buffer in an :EXCEPT: piece, whose arguments are read over the piece's elements first, beside
# the same equations over the whole range (one loop, the arguments in the buffer's own call)
WATCHED = """A: a1, a2, a3, a4 ~~|
tbl((0, 0), (5, 10)) ~~|
in[A] = 3 * A + SIN(Time * A) ~~|
u[A] :EXCEPT: [a3] = DELAY MATERIAL(in[A] * tbl(Time), 1 + A, 0, 0) ~~|
u[a3] = 0 ~~|
whole u[A] = DELAY MATERIAL(in[A] * tbl(Time), 1 + A, 0, 0) ~~|
w[A] :EXCEPT: [a2] = DELAY FIXED(tbl(in[A] - 3) + A, 1, tbl(Time + A)) ~~|
w[a2] = 1 ~~|
whole w[A] = DELAY FIXED(tbl(in[A] - 3) + A, 1, tbl(Time + A)) ~~|
INITIAL TIME = 0 ~~| FINAL TIME = 8 ~~| TIME STEP = 0.25 ~~| SAVEPER = 0.25 ~~|
"""


@pytest.mark.parametrize("tier", ["interpreter", "compiled"])
def test_a_buffers_lookup_is_watched_at_the_steps_time(tmp_path, monkeypatch, tier):
    """A buffer reads its arguments at the step's time, its initial value at the start: a lookup
    in them warns then, in a piece as over the whole range. The piece's arguments were hidden
    auxiliaries computed at RK4's sub-steps and every step (review R2): 'tbl' above its range at
    5.125 (RK4) where Time first passes 5 at a step at 5.25, and w's initial value's lookup
    warned at 1.25, 2.25 and 4.25 (Time + A above 5), a value the buffer reads at 0 only. The
    values were and are the same."""
    monkeypatch.setenv("SMARTSPEC_CACHE_DIR", str(tmp_path / "cache"))
    assert flattened_arrays(parse_model(WATCHED, "m.mdl")) == {}
    model, _ = _load(tmp_path, WATCHED, "m.mdl", tier)
    for method in ("euler", "rk4"):
        run = model.run(tier=tier, method=method)
        said = {}
        for w in run.warnings:
            who = w.message.split("'")[3]
            said.setdefault(who.replace("whole ", ""), []).append(w.message.split(who)[1])
        for e in ("a1", "a2", "a4"):
            assert said[f"u[{e}]"] == ["' goes above its x range [0, 5] at time 5.25"] * 2, (method, e)
        # w's input tbl(in - 3): tbl(SIN(Time)) for a1, below 0 from the first step past pi,
        # back from the first past 2 pi; tbl(6 + SIN(3 Time)) and tbl(9 + SIN(4 Time)) above 5
        # from the start for a3 and a4; its initial value tbl(0 + A) within the range
        assert sorted(said["w[a1]"]) == ["' comes back within its x range [0, 5] at time 6.5"] * 2 + \
            ["' goes below its x range [0, 5] at time 3.25"] * 2, method
        assert said["w[a3]"] == said["w[a4]"] == ["' goes above its x range [0, 5] at time 0"] * 2, method
        for c in ("u[a1]", "u[a4]", "w[a1]", "w[a3]"):
            np.testing.assert_array_equal(run[c], run["whole " + c], err_msg=(method, c))
