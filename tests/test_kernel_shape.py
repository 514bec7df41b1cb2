"""The shape rules of the generated kernel that keep its cold compile short, each against
the values it must keep: the initialisation computes only what a run reads of it
(`order.initial_reads`), the Euler driver's time loop reads values from locals
(`backend/step_locals.py`), and a watched lookup is one library call (`watched_lookup`)."""
from __future__ import annotations

import re

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from smartspec_dsl import load
from smartspec_dsl.backend.emit_solve import _unwatched
from smartspec_dsl.backend.step_locals import group_stores, indexed, slot_constants, step_locals
from smartspec_dsl.frontend.parse import parse_model
from smartspec_dsl.passes import pipeline
from smartspec_dsl.passes.order import initial_reads, schedule
from test_codegen import ARRAYED

CONTROL = "INITIAL TIME = 0 ~~|\nFINAL TIME = 2 ~~|\nTIME STEP = 1 ~~|\nSAVEPER = 1 ~~|\n"

# `spare` is computed by every step and read by nothing at initialisation: the first step
# computes it before anything reads it. `start`, an INITIAL, reads `report` (and so `flow`)
# at initialisation; the stock's initial value reads `init value` and `helper`.
STARTS = """
stock = INTEG(flow, init value) ~~|
init value = 2 * helper ~~|
helper = 10 + Time ~~|
flow = 0.5 * stock ~~|
report = flow * 2 ~~|
start = INITIAL(stock + report) ~~|
spare = stock * 3 ~~|
"""


def test_initialisation_keeps_what_a_run_reads(tmp_path):
    sch = schedule(pipeline.lower(parse_model(STARTS + CONTROL, "t.mdl")))
    reads = initial_reads(sch)
    assert {"stock", "init value", "helper", "flow", "report"} <= reads
    assert any(n.startswith("start") for n in reads)
    assert "spare" not in reads and "spare" in sch.initial
    (tmp_path / "starts.mdl").write_text(STARTS + CONTROL)
    m = load(tmp_path / "starts.mdl", cache_dir=tmp_path / "c")
    init = m.kernel.source.split("def init_0(")[1].split("\n@njit")[0]
    assert "# spare" not in init and "# report" in init
    # by hand, Euler with dt 1: stock 20 (2 * (10 + 0)), then +50 % a step; start = 20 + 20
    for tier in ("compiled", "interpreter"):
        got = m.run(tier=tier)
        np.testing.assert_array_equal(got["stock"], [20.0, 30.0, 45.0])
        np.testing.assert_array_equal(got["spare"], [60.0, 90.0, 135.0])
        np.testing.assert_array_equal(got["report"], [20.0, 30.0, 45.0])
        np.testing.assert_array_equal(got["start"], [40.0, 40.0, 40.0])
        np.testing.assert_array_equal(got["init value"], [20.0, 22.0, 24.0])


COOLING = """
temp = INTEG(-cooling, 180) ~~|
cooling = (temp - room) / tau ~~|
room = 70 ~~|
tau = 10 ~~|
eff tab((0, 0), (1, 1), (2, 4)) ~~|
effect = eff tab(temp / 100) ~~|
hot = IF THEN ELSE(temp > 150, effect, 0) ~~|
smoothed = SMOOTH(temp, 5) ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 4 ~~|
TIME STEP = 0.5 ~~|
SAVEPER = 0.5 ~~|
"""


def test_euler_loop_reads_locals_and_keeps_every_value(tmp_path):
    (tmp_path / "cool.mdl").write_text(COOLING)
    m = load(tmp_path / "cool.mdl", cache_dir=tmp_path / "c")
    core = m.kernel.source.split("def euler_core(")[1].split("\n@njit")[0]
    # the constants read before the loop, the stock at the top of each step, a value the
    # step computes held from its store on
    assert core.index("v_") < core.index("for istep in range(")
    assert "watched_lookup(v, " in core and " = ld(v, 1)\n" in core
    compiled, interpreted = m.run(tier="compiled"), m.run(tier="interpreter")
    np.testing.assert_array_equal(compiled.values, interpreted.values)
    # by hand: temp(0.5) = 180 - 0.5 * (180 - 70) / 10; effect(0) = 1 + 0.8 * 3
    assert compiled["temp"][1] == 180 - 0.5 * 11.0
    assert compiled["effect"][0] == 1 + 0.8 * 3
    assert compiled["hot"][0] == compiled["effect"][0]
    t = 180.0
    for k in range(9):
        assert abs(compiled["temp"][k] - t) < 1e-12 * t
        t -= 0.5 * (t - 70) / 10


# -- the rewrite itself, against the statements it rewrites, run as Python ------------------
def _store(a, i, x):
    a[i] = x


def _bump(a, i):
    a[i] += 1.0


def _run(code: list[str], env: dict) -> None:
    exec("\n".join(code), env)   # test code only: statements this test generates


@st.composite
def steps(draw):
    """A step of random statements over slots 0..11: stores of slots written as numbers
    (some slots twice, some read before they are stored), a sum read through computed
    indices, loops that read and write a slot, helpers given the vector that write one, and
    the stock update last (slots 1 and 2, read at the top)."""
    out = ["v[0] = v[0] + 1.0"]
    for _ in range(draw(st.integers(1, 12))):
        target = draw(st.integers(3, 11))
        reads = draw(st.lists(st.integers(0, 11), min_size=1, max_size=3))
        expr = " + ".join(f"ld(v, {r})" for r in reads)
        kind = draw(st.integers(0, 3))
        if kind == 0:
            out.append(f"st(v, {target}, ({expr}) * 0.5)  # x")
        elif kind == 1:
            out.append(f"acc0 = 0.0\nfor kk in range(3):\n    acc0 += ld(v, 6 + kk)\nst(v, {target}, acc0 - {expr})")
        elif kind == 2:   # a solver's way: a start stored, then a loop that reads and writes it
            out.append(f"st(v, {target}, {expr})\nfor it in range(2):\n    st(v, {target}, ld(v, {target}) * 0.5 + 1.0)")
        else:             # a helper given the vector writes a slot in place
            out.append(f"st(v, {target}, {expr})\nbump(v, {draw(st.integers(3, 11))})")
    out += ["st(v, 1, ld(v, 1) + dt * ld(v, 3))", "st(v, 2, ld(v, 2) + dt * ld(v, 4))"]
    return out


@settings(max_examples=150, deadline=None)
@given(steps(), st.sets(st.integers(3, 11)), st.lists(st.floats(-4, 4), min_size=12, max_size=12))
def test_step_locals_give_the_stored_values(step, invariant, start):
    """Whatever the statements, the rewritten step leaves the state vector exactly as the
    statements do, step after step (a slot claimed invariant that the step stores is not)."""
    # as in a kernel, no helper writes a slot the caller calls invariant (a constant)
    invariant -= {int(k) for stmt in step for k in re.findall(r"bump\(v, (\d+)\)", stmt)}
    before, rewritten = step_locals(step, invariant, {0, 1, 2})
    grouped = group_stores(rewritten)
    # the slots of each grouped store as module constants, as the Euler driver writes them
    named: dict = {}
    grouped_named = group_stores(rewritten, named)
    want, got, both, both_named = ({"v": np.array(start), "ld": lambda a, i: a[i], "st": _store, "bump": _bump,
                                    "dt": 0.5, "stm": lambda a, idx, xs: [_store(a, i, x) for i, x in zip(idx, xs)]}
                                   for _ in range(4))
    _run(before, got)
    _run(before, both)
    both_named["Slots"] = tuple
    _run([slot_constants(named)] + before, both_named)
    for _ in range(3):
        _run(step, want)
        _run(rewritten, got)
        _run(grouped, both)
        _run(grouped_named, both_named)
        np.testing.assert_array_equal(got["v"], want["v"])
        np.testing.assert_array_equal(both["v"], want["v"])
        np.testing.assert_array_equal(both_named["v"], want["v"])


def test_reads_and_writes_at_a_counter_are_one_call():
    loop = ["for i0 in range(3):\n    st(v, 10 + i0, ld(v, 2 + i0) * 2.0)\n    st(r, 4 + i0, ld(v, 7))"]
    out = indexed(loop)
    assert out == ["for i0 in range(3):\n    sti(v, 10, i0, ldi(v, 2, i0) * 2.0)\n    sti(r, 4, i0, ld(v, 7))"]
    want, got = ({"v": np.arange(16.0), "r": np.zeros(8), "ld": lambda a, i: a[i], "st": _store,
                  "ldi": lambda a, b, i: a[b + i], "sti": lambda a, b, i, x: _store(a, b + i, x)} for _ in range(2))
    _run(loop, want)
    _run(out, got)
    np.testing.assert_array_equal(got["v"], want["v"])
    np.testing.assert_array_equal(got["r"], [0, 0, 0, 0, 7, 7, 7, 0])
    np.testing.assert_array_equal(got["v"][10:13], [4.0, 6.0, 8.0])


def test_a_grouped_store_keeps_the_value_of_the_local_it_read():
    """A store waiting to be grouped (`st(v, 5, v_3 * 0.5)`) happens before the local it reads is
    bound again (a slot stored twice in the step: `v_3 = v_0 * 0.5`): the grouped call stored the
    new value, 0.25 where the step stores -0.5 (the example the property test above found). By
    hand from v = 0: v0 = 1, v3 = (0 + 0 + 0) - 1 = -1, v5 = -1 * 0.5 = -0.5, then v3 = 0.5 and the
    stock v1 = 0 + dt * v3 = 0.25."""
    step = ["v[0] = v[0] + 1.0",
            "acc0 = 0.0\nfor kk in range(3):\n    acc0 += ld(v, 6 + kk)\nst(v, 3, acc0 - ld(v, 0))",
            "st(v, 5, (ld(v, 3)) * 0.5)  # x", "st(v, 3, (ld(v, 0)) * 0.5)  # x", "st(v, 3, (ld(v, 0)) * 0.5)  # x",
            "st(v, 1, ld(v, 1) + dt * ld(v, 3))", "st(v, 2, ld(v, 2) + dt * ld(v, 4))"]
    before, rewritten = step_locals(step, set(), {0, 1, 2})
    env = {"v": np.zeros(12), "ld": lambda a, i: a[i], "st": _store, "dt": 0.5,
           "stm": lambda a, idx, xs: [_store(a, i, x) for i, x in zip(idx, xs)]}
    _run(before + group_stores(rewritten), env)
    assert env["v"][[0, 1, 3, 5]].tolist() == [1.0, 0.25, 0.5, -0.5]


def test_step_locals_rewrite():
    step = ["v[0] = t", "st(v, 10, (ld(v, 1) / ld(v, 5)))  # a", "st(v, 11, (ld(v, 10) + ld(v, 12)))",
            "st(v, 12, ld(v, 10))", "st(v, 1, ld(v, 1) + dt * ld(v, 11))"]
    before, out = step_locals(step, {5, 12}, {0, 1})
    # 12 is written by the step: not invariant; 11 is read after its store, 12 before it
    assert before == ["v_5 = ld(v, 5)"]
    assert out == ["v[0] = t", "v_1 = ld(v, 1)", "v_10 = v_1 / v_5  # a\nst(v, 10, v_10)",
                   "v_11 = v_10 + ld(v, 12)\nst(v, 11, v_11)", "st(v, 12, v_10)", "st(v, 1, v_1 + dt * v_11)"]


def test_solver_trials_read_lookups_unwatched():
    """A solved block's trial points record no watch: `watched_lookup` becomes `lookup`."""
    code = "st(v, 3, (watched_lookup(v, 298, (ld(v, 2) / f(a, b)), tab, 7) + watched(v, 5, ld(v, 3))))"
    assert _unwatched(code) == "st(v, 3, (lookup((ld(v, 2) / f(a, b)), tab, tk(tab, 14), tk(tab, 15)) + ld(v, 3)))"


def test_dense_model_runs_on_the_euler_driver(tmp_path):
    """A dense model's Euler runs use the specialised driver (its phases inline, its stocks
    updated by one loop over the rates' scratch), with the generic driver's numbers."""
    (tmp_path / "arrayed.mdl").write_text(ARRAYED)
    m = load(tmp_path / "arrayed.mdl", cache_dir=tmp_path / "c")
    assert "def euler_core(" in m.kernel.source and "for i0 in range(12):" in m.kernel.source
    got = m.run(tier="compiled")
    np.testing.assert_array_equal(got.values, m.run(tier="interpreter").values)
    # by hand: growth g = 0.01 r, inflow c = SUM(0.5 s + 0.1 r, s = 1..3) = 3 + 0.3 r, Euler
    # with dt 0.25: K(n + 1) = K(n) (1 + g dt) + c dt
    for r in (1, 7, 12):
        g, c, k = 0.01 * r, 3 + 0.3 * r, float(r)
        for _ in range(40):
            k = k * (1 + g * 0.25) + c * 0.25
        assert abs(got[f"capital[r{r}]"][-1] - k) < 1e-9 * k


SOLVED = """
y = SIMULTANEOUS(a + b, 0) ~~|
a = 3 - y / 4 + Time ~~|
b = y ^ 2 / 100 ~~|
total = INTEG(y, 0) ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 4 ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""


def test_a_solved_loop_reads_its_state_from_the_vector(tmp_path):
    """The solver writes its state (the point to try) in place: the Euler loop reads it from
    the vector, not from a local of its start. y = 3 - y/4 + t + y^2/100, the smaller root."""
    (tmp_path / "solved.mdl").write_text(SOLVED)
    m = load(tmp_path / "solved.mdl", cache_dir=tmp_path / "c")
    got = m.run(tier="compiled")
    np.testing.assert_array_equal(got.values, m.run(tier="interpreter").values)
    t = np.arange(5.0)
    np.testing.assert_allclose(got["y"], (1.25 - np.sqrt(1.25 ** 2 - 4 / 100 * (3 + t))) * 50, rtol=1e-9)
