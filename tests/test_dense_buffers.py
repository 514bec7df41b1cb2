"""DELAY MATERIAL, DELAY INFORMATION, DELAY CONVEYOR, DELAY PROFILE, QUEUE FIFO, QUEUE FIFO ATTRIB
and INTERNAL RATE OF RETURN in apply-to-all array equations on the dense route: one array each,
one buffer region per element (passes/dense_buffers.py, backend/dense_buffers.py), as DELAY
FIXED (tests/test_dense_delay_fixed.py). The dense route gives the per-element route's numbers
(Euler and RK4) and warnings, the compiled kernel the interpreter's, a continued final state
the uninterrupted run's, the values a hand derivation from Vensim's help gives (each function
is checked against the help on scalars: tests/test_queues.py, test_builtins_extra.py), and the
kernel does not grow with the range."""
from __future__ import annotations

import numpy as np
import pytest

from smartspec_dsl.frontend.parse import parse_model
from smartspec_dsl.passes.dense import flattened_arrays

from test_dense_route import _assert_same, _both_routes, _load

FUNCTIONS = ("mat", "info", "conv", "q", "qa", "prof", "irr")


def buffers(n: int, dt: float = 1) -> str:
    """Element i (1-based) of R: a pulse of 10 i at time 2 delayed by d = 1 + (i - 1) mod 3,
    arrivals of 10 i a unit of time to time 4 queued behind 20 i, ... (each function's own
    arguments per element); mat's units declare [0, 25], which elements from r3 on exceed."""
    return f"""
R: (r1-r{n}) ~~|
flat((0, 1), (1, 1)) ~~|
rising((0, 0), (1, 1)) ~~|
d[R] = {", ".join(str(1 + i % 3) for i in range(n))} ~~|
pulse in[R] = 10 * R * PULSE(2, 1) ~~|
mat[R] = DELAY MATERIAL(pulse in[R], d[R], 0, -1) ~ widgets [0, 25] ~|
info[R] = DELAY INFORMATION(Time + R, d[R], -R) ~~|
conv[R] = DELAY CONVEYOR(Time + pulse in[R], d[R] + 1, 0.02 * R, rising, 4 * R, d[R]) ~~|
arriving[R] = IF THEN ELSE(Time < 4, 10 * R, 0) ~~|
servicing[R] = IF THEN ELSE(Time >= 6, 5, 0) ~~|
q[R] = QUEUE FIFO(arriving[R], servicing[R], flat, 20 * R, 2) ~~|
qa[R] = QUEUE FIFO ATTRIB(arriving[R], servicing[R], R, 0.5, flat, rising, 20, R, d[R]) ~~|
prof[R] = DELAY PROFILE(rising, pulse in[R] + 1, d[R] + 0.5, R, 0.1) ~~|
irr[R] = INTERNAL RATE OF RETURN(60 * R + Time, 1, -100 * R, 0) ~~|
tot = SUM(mat[R!]) + SUM(conv[R!]) + q[r1] ~~|
acc[R] = INTEG(info[R] + prof[R], 0) ~~|
INITIAL TIME = 0 ~~| FINAL TIME = 9 ~~| TIME STEP = {dt} ~~| SAVEPER = {dt} ~~|
"""


def test_each_element_keeps_its_own_buffer(tmp_path, monkeypatch):
    """The values Vensim's help gives, element by element (TIME STEP 1)."""
    monkeypatch.setenv("SMARTSPEC_CACHE_DIR", str(tmp_path / "cache"))
    text = buffers(4)
    assert flattened_arrays(parse_model(text, "m.mdl")) == {}
    model, run = _load(tmp_path, text, "m.mdl", "interpreter")
    assert all(model.schedule.model.variables.arrays[f].dims == ("r",) for f in FUNCTIONS)
    t = run.time
    for i, d in zip(range(1, 5), (1, 2, 3, 1)):
        # DELAY MATERIAL with a constant delay time: as DELAY FIXED, the pipeline holding the
        # initial value 0 for d steps; the pulse of 10 i entering at 2 leaves at 2 + d
        np.testing.assert_array_equal(run[f"mat[r{i}]"], np.where(t == 2 + d, 10.0 * i, 0.0))
        # DELAY INFORMATION: the initial value -i until the delay time, then the input d ago
        np.testing.assert_array_equal(run[f"info[r{i}]"], np.where(t < d, -i, t - d + i))
        # QUEUE FIFO is a level: 20 i, +10 i a unit of time to time 4, -5 from time 6 on
        np.testing.assert_allclose(run[f"q[r{i}]"], 20 * i + 10 * i * np.minimum(t, 4)
                                   - 5 * np.maximum(t - 6, 0), rtol=1e-12)
        # as is QUEUE FIFO ATTRIB, from 20
        np.testing.assert_allclose(run[f"qa[r{i}]"], 20 + 10 * i * np.minimum(t, 4)
                                   - 5 * np.maximum(t - 6, 0), rtol=1e-12)
        # the stream 60 i + t against -100 i is element i's own: its return differs from r1's
        if i > 1:
            assert not np.array_equal(run[f"irr[r{i}]"], run["irr[r1]"])
    np.testing.assert_allclose(run["tot"], sum(run[f"mat[r{i}]"] + run[f"conv[r{i}]"] for i in range(1, 5))
                               + run["q[r1]"], rtol=1e-12)


@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_dense_route_gives_the_per_element_routes_numbers_and_warnings(tmp_path, monkeypatch, method):
    text = buffers(5, 0.5)
    dense_model, _, flat_model, _ = _both_routes(tmp_path, monkeypatch, text)
    dense = dense_model.run(tier="interpreter", method=method)
    flat = flat_model.run(tier="interpreter", method=method)
    _assert_same(dense, flat)
    said = _said(dense)
    assert said == _said(flat)
    assert sum("'mat[r" in m and "goes above" in m for m in said) == 3, said      # r3, r4, r5 go above 25
    compiled = dense_model.run(tier="compiled", method=method)
    _assert_same(dense, compiled)
    assert _said(compiled) == said


def _said(run) -> list[str]:
    """A run's warnings, without the model file's name (the two routes' files differ)."""
    return sorted(w.message.split(".mdl:", 1)[1] for w in run.warnings)


@pytest.mark.parametrize("tier", ["interpreter", "compiled"])
def test_a_continued_state_gives_the_uninterrupted_run(tmp_path, monkeypatch, tier):
    monkeypatch.setenv("SMARTSPEC_CACHE_DIR", str(tmp_path / "cache"))
    model, _ = _load(tmp_path, buffers(5, 0.5), "m.mdl", tier)
    for method in ("euler", "rk4"):
        whole = model.run(tier=tier, method=method)
        first = model.run(tier=tier, method=method, until=3)
        assert len(first.final_state.buffers) == 5 * len(FUNCTIONS)    # one region per element
        assert "mat #delaymaterial1[r3]" in first.final_state.buffers
        rest = model.run(tier=tier, method=method, initial_condition=first.final_state)
        assert rest.time[0] == 3 and list(rest.columns) == list(whole.columns)
        np.testing.assert_allclose(rest.values, whole.values[whole.time >= 3], rtol=1e-12, atol=1e-12)


def test_kernel_does_not_grow_with_the_range(tmp_path, monkeypatch):
    monkeypatch.setenv("SMARTSPEC_CACHE_DIR", str(tmp_path / "cache"))
    assert flattened_arrays(parse_model(buffers(1000), "m.mdl")) == {}
    small, _ = _load(tmp_path, buffers(10), "small.mdl", "interpreter")
    large, run = _load(tmp_path, buffers(1000), "large.mdl", "interpreter")
    assert large.kernel.source.count("\n") == small.kernel.source.count("\n")
    assert len(large.kernel.buffers) == 1000 * len(FUNCTIONS)
    # r1000 delays by 1 + 999 mod 3 = 1: the pulse of 10,000 at 2 leaves at 3
    np.testing.assert_array_equal(run["mat[r1000]"][:5], [0.0, 0.0, 0.0, 10000.0, 0.0])
    np.testing.assert_array_equal(run["info[r1000]"][:3], [-1000.0, 1000.0, 1001.0])


def test_what_still_goes_per_element(tmp_path, monkeypatch):
    """A queue that QUEUE AGE reads (its region read by the variable's elements) and a conveyor
    whose profile is a lookup defined per element are flattened, those only; the values are
    the per-element route's."""
    text = buffers(3).replace("tot =", "age[R] = QUEUE AGE OLDEST(q[R]) ~~|\n"
                              "prof tab[R]((0, 0), (1, 1)) ~~|\n"
                              "pconv[R] = DELAY CONVEYOR(Time, 2, 0, prof tab[R], 3, 2) ~~|\ntot =")
    assert set(flattened_arrays(parse_model(text, "m.mdl"))) == {"q", "age", "pconv"}
    _, dense, _, flat = _both_routes(tmp_path, monkeypatch, text, mixed=True)
    _assert_same(dense, flat)
    # the oldest of the 20 i initially spread over ages 1 and 2 is 2 at the start
    assert dense["age[r2]"][0] == 2


# a draw in every argument the kernel reads of each function (its size, initial value, output
# and input), besides a variable of its own
DRAWS = """
R: (r1-r4) ~~|
flat((0, 1), (1, 1)) ~~|
noise[R] = RANDOM UNIFORM(0, 1, 0) ~~|
mat[R] = DELAY MATERIAL(RANDOM UNIFORM(0, 1, 0), 1 + RANDOM UNIFORM(0, 1, 0), 0.5 * R + RANDOM UNIFORM(0, 1, 0),
    RANDOM UNIFORM(-2, -1, 0)) ~~|
info[R] = DELAY INFORMATION(RANDOM UNIFORM(0, 1, 0) + R, 1 + RANDOM UNIFORM(0, 2, 0), R + RANDOM UNIFORM(0, 1, 0)) ~~|
fx[R] = DELAY FIXED(RANDOM UNIFORM(0, 1, 0) + R, 1 + RANDOM UNIFORM(0, 2, 0), R + RANDOM UNIFORM(0, 1, 0)) ~~|
conv[R] = DELAY CONVEYOR(RANDOM UNIFORM(0, 1, 0), 2 + RANDOM UNIFORM(0, 1, 0), 0.01 * R, flat,
    10 * R + RANDOM UNIFORM(0, 1, 0), 2 + RANDOM UNIFORM(0, 1, 0)) ~~|
q[R] = QUEUE FIFO(RANDOM UNIFORM(0, 10, 0), RANDOM UNIFORM(0, 5, 0), flat, 20 * R + RANDOM UNIFORM(0, 1, 0), 2) ~~|
prof[R] = DELAY PROFILE(flat, RANDOM UNIFORM(0, 1, 0), 1.5 + RANDOM UNIFORM(0, 1, 0), R, RANDOM UNIFORM(0, 0.1, 0)) ~~|
irr[R] = INTERNAL RATE OF RETURN(60 * R + RANDOM UNIFORM(0, 10, 0), 1, -100 * R, 0) ~~|
INITIAL TIME = 0 ~~| FINAL TIME = 6 ~~| TIME STEP = 0.5 ~~| SAVEPER = 0.5 ~~|
"""
DRAWN = [f"{f}[r{i}]" for f in ("mat", "info", "fx", "conv", "q", "prof", "irr") for i in range(1, 5)]


@pytest.mark.parametrize("tier", ["interpreter", "compiled"])
def test_draws_in_the_arguments(tmp_path, monkeypatch, tier):
    """Each element's draws are numbered in the order its statements read them (size, initial
    value; output, input), on both routes alike: the per-element route's numbers to the bit.
    Replacing an element, or the variable `noise`, keeps every other element's draws (a draw
    of DELAY MATERIAL's missing value, DELAY INFORMATION's delay time, a conveyor's or a queue's
    output was numbered as the variable written before it: review finding 6's kin)."""
    assert flattened_arrays(parse_model(DRAWS, "m.mdl")) == {}
    dense_model, dense, flat_model, flat = _both_routes(tmp_path, monkeypatch, DRAWS, tier)
    for c in DRAWN:
        assert len(set(dense[c][4:])) > 2, c
        np.testing.assert_array_equal(dense[c], flat[c], err_msg=c)
    for model, plain in ((dense_model, dense), (flat_model, flat)):
        for replaced in ("noise", "mat[r2]", "info[r1]", "conv[r3]", "q[r4]"):
            edited = model.run(tier=tier, params={replaced: 0.0})
            for c in DRAWN:
                if c != replaced:
                    np.testing.assert_array_equal(edited[c], plain[c], err_msg=f"{replaced}: {c}")
