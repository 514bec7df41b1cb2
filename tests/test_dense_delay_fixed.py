"""DELAY FIXED in an apply-to-all array equation on the dense route: one array, and one buffer
region per element, each as long as its own element's delay time at initialisation (Vensim's
help for DELAY FIXED: the delay time is fixed when the simulation starts). The dense route
gives the per-element route's numbers (interpreter tier, Euler and RK4), the compiled kernel
the interpreter's, a continued final state the uninterrupted run's, the values a hand
derivation gives, and the kernel does not grow with the range."""
from __future__ import annotations

import numpy as np
import pytest

from smartspec_dsl.frontend.parse import parse_model
from smartspec_dsl.passes.dense import flattened_arrays

from test_dense_route import _assert_same, _both_routes, _load


def delays(n: int, dt: float = 1) -> str:
    """Element i (1-based) delays a pulse of height i at time 2 by 1 + (i - 1) mod 3, its
    output i / 2 before then; FORECAST and a SUM read the delayed array's range."""
    return f"""
R: (r1-r{n}) ~~|
S: s1, s2 ~~|
d[R] = {", ".join(str(1 + i % 3) for i in range(n))} ~~|
inp[R] = PULSE(2, 1) * R ~~|
out[R] = DELAY FIXED(inp[R], d[R], 0.5 * R) ~~|
twice[R] = 2 * DELAY FIXED(inp[R] + 1, d[R] + 1, R) ~~|
fcst[R, S] = FORECAST(out[R], S, 2) ~~|
tot = SUM(out[R!]) ~~|
acc[R] = INTEG(out[R], 0) ~~|
INITIAL TIME = 0 ~~| FINAL TIME = 8 ~~| TIME STEP = {dt} ~~| SAVEPER = {dt} ~~|
"""


def test_each_element_delays_by_its_own_delay_time(tmp_path, monkeypatch):
    monkeypatch.setenv("SMARTSPEC_CACHE_DIR", str(tmp_path / "cache"))
    text = delays(4)
    assert flattened_arrays(parse_model(text, "m.mdl")) == {}
    _, run = _load(tmp_path, text, "m.mdl", "interpreter")
    times = run.time
    for i, d in zip(range(1, 5), (1, 2, 3, 1)):
        # DELAY FIXED(x, d, init): init for t < d, then x(t - d); the pulse is i over [2, 3)
        want = np.where(times < d, 0.5 * i, np.where(times == 2 + d, i, 0.0))
        np.testing.assert_array_equal(run[f"out[r{i}]"], want, err_msg=f"out[r{i}]")
        want = 2 * np.where(times < d + 1, i, np.where(times == 3 + d, i + 1, 1.0))
        np.testing.assert_array_equal(run[f"twice[r{i}]"], want, err_msg=f"twice[r{i}]")
    np.testing.assert_array_equal(run["tot"], sum(run[f"out[r{i}]"] for i in range(1, 5)))


@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_dense_route_gives_the_per_element_routes_numbers(tmp_path, monkeypatch, method):
    text = delays(5, 0.5)
    dense_model, _, flat_model, _ = _both_routes(tmp_path, monkeypatch, text)
    dense = dense_model.run(tier="interpreter", method=method)
    _assert_same(dense, flat_model.run(tier="interpreter", method=method))
    _assert_same(dense, dense_model.run(tier="compiled", method=method))


@pytest.mark.parametrize("tier", ["interpreter", "compiled"])
def test_a_continued_state_gives_the_uninterrupted_run(tmp_path, monkeypatch, tier):
    monkeypatch.setenv("SMARTSPEC_CACHE_DIR", str(tmp_path / "cache"))
    model, whole = _load(tmp_path, delays(5, 0.5), "m.mdl", tier)
    for method in ("euler", "rk4"):
        whole = model.run(tier=tier, method=method)
        first = model.run(tier=tier, method=method, until=3)
        assert len(first.final_state.buffers) == 10      # one region per element of each delay
        rest = model.run(tier=tier, method=method, initial_condition=first.final_state)
        assert rest.time[0] == 3 and list(rest.columns) == list(whole.columns)
        np.testing.assert_allclose(rest.values, whole.values[whole.time >= 3], rtol=1e-12, atol=1e-12)


def test_kernel_does_not_grow_with_the_range(tmp_path, monkeypatch):
    monkeypatch.setenv("SMARTSPEC_CACHE_DIR", str(tmp_path / "cache"))
    assert flattened_arrays(parse_model(delays(1000), "m.mdl")) == {}
    small, _ = _load(tmp_path, delays(10), "small.mdl", "interpreter")
    large, run = _load(tmp_path, delays(1000), "large.mdl", "interpreter")
    assert large.kernel.source.count("\n") == small.kernel.source.count("\n")
    assert len(large.kernel.buffers) == 2000
    # r1000 delays by 1 + 999 mod 3 = 1: its initial value until t = 1, then the pulse of 1000 at 3
    np.testing.assert_array_equal(run["out[r1000]"][:5], [500.0, 0.0, 0.0, 1000.0, 0.0])


def test_a_continued_run_warns_of_each_elements_kept_delay(tmp_path, monkeypatch):
    """A continued run keeps each element's region as the state's (its own delay time at the
    first run's start): new delay times warn per element, as on the per-element route."""
    dense_model, _, flat_model, _ = _both_routes(tmp_path, monkeypatch, delays(5, 0.5))
    said = []
    for model in (dense_model, flat_model):
        first = model.run(tier="interpreter", until=3)
        run = model.run(tier="interpreter", initial_condition=first.final_state, params={"d": [9, 4, 9, 9, 9]})
        said.append([str(w).split(": ", 1)[1] for w in run.warnings if "keeps the state's delay" in str(w)])
    assert said[0] == said[1]
    kept = [float(w.split("keeps the state's delay (")[1].split(")")[0]) for w in said[0]]
    assert kept == [1, 2, 3, 1, 2, 2, 3, 4, 2, 3]      # out's d[R], then twice's d[R] + 1
