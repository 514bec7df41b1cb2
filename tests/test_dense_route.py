"""The dense route (passes/dense.py): apply-to-all equations stay one array each, and the
kernel loops over them. Each model runs on the dense route and on the per-element route
(subscripts.flatten, forced) and the two agree to 1e-12, on the interpreter tier (the
kernel's loops unrolled by the tape) and against the plain-Python reference evaluator
(tests/reference_eval.py); the kernel's text does not grow with the ranges' sizes."""
from __future__ import annotations

import numpy as np
import pytest

import smartspec_dsl
from smartspec_dsl import ir
from smartspec_dsl.frontend.parse import parse_model
from smartspec_dsl.passes import pipeline
from smartspec_dsl.passes.dense import ineligible

from conftest import population, shared_path

CONTROL = """
INITIAL TIME = 0 ~~|
FINAL TIME = 6 ~~|
TIME STEP = 0.25 ~~|
SAVEPER = 0.5 ~~|
"""

# two dimensions: a transposed reference, a fixed element, a sum over the row (kept per
# element) and over everything (shared), a list of numbers, SMOOTHI, DELAY1I, DELAY3I,
# TREND, FORECAST, SMOOTH N, DELAY N, STEP, IF THEN ELSE, a range used as a value
MATRIX = """
Src: a, b, c ~~|
Dst: x, y ~~|
flow share[Src, Dst] = 0.1, 0.2; 0.3, 0.05; 0.15, 0.25 ~~|
weight[Dst] = 2, 3 ~~|
stock[Src] = INTEG(inflow[Src] - SUM(moved[Src, Dst!]), 100 * Src) ~~|
moved[Src, Dst] = stock[Src] * flow share[Src, Dst] * weight[Dst] / 10 ~~|
inflow[Src] = STEP(5, 1) + IF THEN ELSE(stock[Src] > stock[a], 1, 2) ~~|
received[Dst] = SUM(moved[Src!, Dst]) ~~|
back[Dst, Src] = moved[Src, Dst] - received[Dst] / ELMCOUNT(Src) ~~|
smoothed[Src] = SMOOTHI(inflow[Src], 2, 3) ~~|
late[Dst] = DELAY1I(received[Dst], 1.5, 7) + DELAY3I(received[Dst], 2, 1) ~~|
trended[Src] = TREND(inflow[Src], 2, 0.1) + FORECAST(stock[Src], 3, 1) ~~|
staged[Dst] = SMOOTH N(received[Dst], 2, 1, 3) + DELAY N(received[Dst], 1.5, 4, 2) ~~|
total = SUM(back[Dst!, Src!]) + stock[b] + late[y] ~~|
"""


def _load(tmp_path, text: str, name: str, tier: str):
    path = tmp_path / name
    path.write_text(text)
    model = smartspec_dsl.load(path, tier=tier)
    return model, model.run(tier=tier)


def _both_routes(tmp_path, monkeypatch, text: str, tier: str = "interpreter", mixed: bool = False):
    monkeypatch.setenv("SMARTSPEC_CACHE_DIR", str(tmp_path / "cache"))
    assert (ineligible(parse_model(text, "m.mdl")) is not None) == mixed
    dense_model, dense = _load(tmp_path, text, "dense.mdl", tier)
    # every array of flat.mdl per element, in its later compiles too (a run's edits)
    routed = pipeline.dense_arrays
    monkeypatch.setattr(pipeline, "dense_arrays",
                        lambda model, edits: set() if model.source.endswith("flat.mdl") else routed(model, edits))
    # another text (a comment) for other kernels: the kernel cache's key is the text, not the route
    flat_model, flat = _load(tmp_path, text + "\n{ per element }\n", "flat.mdl", tier)
    return dense_model, dense, flat_model, flat


def _assert_same(dense, flat):
    assert sorted(dense.columns) == sorted(flat.columns)
    for c in flat.columns:
        np.testing.assert_allclose(dense.values[:, dense.columns.index(c)], flat.values[:, flat.columns.index(c)],
                                   rtol=1e-12, atol=1e-12, err_msg=c)


@pytest.mark.parametrize("text", [population(7, CONTROL), MATRIX + CONTROL], ids=["population", "matrix"])
def test_dense_and_per_element_routes_agree(tmp_path, monkeypatch, text):
    dense_model, dense, flat_model, flat = _both_routes(tmp_path, monkeypatch, text)
    assert dense.tier == flat.tier == "interpreter"
    _assert_same(dense, flat)
    # parameters by element name and final states work on the dense model as on the flat one
    for name in set(dense_model.kernel.params) & set(flat_model.kernel.params):
        assert dense_model.defaults[dense_model.kernel.params.index(name)] == \
            flat_model.defaults[flat_model.kernel.params.index(name)]


def test_dense_route_against_the_reference_evaluator(tmp_path, monkeypatch):
    """The dense kernel, compiled, against tests/reference_eval.py (a second implementation)."""
    from reference_eval import simulate as reference_simulate
    monkeypatch.setenv("SMARTSPEC_CACHE_DIR", str(tmp_path / "cache"))
    text = MATRIX + CONTROL
    model, got = _load(tmp_path, text, "m.mdl", "compiled")
    ref = reference_simulate(text)
    assert len(got.columns) > 20
    for i, c in enumerate(got.columns):
        np.testing.assert_allclose(got.values[:, i], ref.values[ir.canonical_name(c)], rtol=1e-12,
                                   atol=1e-12, err_msg=c)
    np.testing.assert_array_equal(model.run(tier="interpreter").values, got.values)


def test_params_and_continuation_by_element(tmp_path, monkeypatch):
    """A run's parameter set by element (`flow share[b,x]`) and by name, and a run continued
    from the final state, give the per-element route's values."""
    text = MATRIX + CONTROL
    dense_model, _, flat_model, _ = _both_routes(tmp_path, monkeypatch, text)
    params = {"flow share[b,x]": 0.5, "weight[y]": 1.0}
    _assert_same(dense_model.run(params=params, tier="interpreter"),
                 flat_model.run(params=params, tier="interpreter"))
    first_d = dense_model.run(tier="interpreter", final_time=3)
    first_f = flat_model.run(tier="interpreter", final_time=3)
    _assert_same(dense_model.run(tier="interpreter", initial_condition=first_d.final_state),
                 flat_model.run(tier="interpreter", initial_condition=first_f.final_state))


def test_kernel_text_does_not_grow_with_the_range(tmp_path, monkeypatch):
    monkeypatch.setenv("SMARTSPEC_CACHE_DIR", str(tmp_path / "cache"))
    small, _ = _load(tmp_path, population(3, CONTROL), "small.mdl", "interpreter")
    large, run = _load(tmp_path, population(300, CONTROL), "large.mdl", "interpreter")
    # the same statements; only the numbers (loop bounds, slots) have more digits
    assert large.kernel.source.count("\n") == small.kernel.source.count("\n")
    assert len(large.kernel.source) < 1.1 * len(small.kernel.source)
    assert large.kernel.n_slots > 300 * 16
    assert "population[r300]" in run.columns


# some arrays need their elements (a piecewise array whose elements read each other): those
# alone are flattened, and the dense arrays (piecewise, :EXCEPT:, a subrange
# too: tests/test_dense_pieces.py) and the flattened elements read each other
MIXED = """
Region: (r1-r5) ~~|
Sub: r2, r3 ~~|
Prev: (r1-r4) -> Next ~~|
Next: (r2-r5) -> Prev ~~|
chain[r1] = births[r1] ~~|
chain[Next] = chain[Prev] + births[Next] ~~|
Age: young, old ~~|
population[Region] = INTEG(births[Region] - deaths[Region], 1000 + 10 * Region) ~~|
births[Region] = population[Region] * (0.02 + rate[r1] / 10) ~~|
rate[Region] :EXCEPT: [r1] = 0.02 + special[r2] / 1000 ~~|
rate[r1] = 0.05 ~~|
special[Sub] = population[Sub] / 500 ~~|
deaths[Region] = SMOOTH(population[Region] / 70, 2) + share[Region, old] ~~|
by age[Region, Age] = population[Region] * age share[Age] ~~|
age share[Age] = 0.4, 0.6 ~~|
share[Region, Age] = by age[Region, Age] / SUM(by age[Region, Age!]) ~~|
largest = VMAX(population[Region!]) ~~|
gap[Region] = largest - population[Region] + rate[Region] + chain[Region] ~~|
total = SUM(gap[Region!]) + special[r3] ~~|
"""


def test_only_the_arrays_that_need_their_elements_are_flattened(tmp_path, monkeypatch):
    model = pipeline.lower(parse_model(MIXED + CONTROL, "m.mdl"))
    assert model.variables["births"].dims == ("region",) and model.variables["share"].dims == ("region", "age")
    # elements that read each other, and reading a range of those: flattened; a number beside
    # equations (rate[r1], a constant a run may set) stays in its array
    assert {"chain[r1]", "gap[r4]"} <= set(model.variables) and model.variables["rate"].dims == ("region",)
    assert model.variables["special"].dims == ("sub",)
    assert model.variables["population"].dims and "largest" in model.variables   # VMAX's loop
    dense_model, dense, _, flat = _both_routes(tmp_path, monkeypatch, MIXED + CONTROL, mixed=True)
    _assert_same(dense, flat)


@pytest.mark.parametrize("equation, why", [
    ("y[R] :EXCEPT: [r1] = x[R] + y[r1] ~~|\ny[r1] = x[r1] ~~|", "order the whole array cannot follow"),
    ("y[R] :EXCEPT: [r1] = INTEG(x[R], 0) ~~|\ny[r1] = 0 ~~|", "some elements as stocks"),
    ("y[R] = VECTOR SORT ORDER(x[R] + SUM(x[R!]), 1) ~~|", "read by VECTOR SORT ORDER"),
    ("flat((0, 1), (1, 1)) ~~|\ny[R] = QUEUE FIFO(x[R], 1, flat, 5, 2) ~~|\nz[R] = QUEUE AGE OLDEST(y[R]) ~~|",
     "its queue is read by QUEUE AGE OLDEST"),
])
def test_what_falls_back_to_the_per_element_route(tmp_path, monkeypatch, equation, why):
    """An array the dense route does not take is flattened per element, as before, and the
    reason is named."""
    text = "R: r1, r2, r3 ~~|\nS: r1, r2 ~~|\nx[R] = 1, 2, 3 ~~|\n" + equation + CONTROL
    assert why in ineligible(parse_model(text, "m.mdl"))
    lowered = pipeline.lower(parse_model(text, "m.mdl"))
    assert "y[r2]" in lowered.variables and "y" not in lowered.variables


# the functions that keep an array dense although they are more than arithmetic: macros
# called in array equations (one copy of the macro's variables over the owner's ranges),
# SAMPLE IF TRUE, INITIAL, GET TIME VALUE, PROD, VMIN, VMAX and random draws
MACROS = """
:MACRO: PEAK(x)
PEAK = SAMPLE IF TRUE(x > PEAK, x, x) ~~|
:END OF MACRO:
:MACRO: ACC(inp, t0)
ACC = INTEG(inp - ACC / t0, 0) ~~|
:END OF MACRO:
:MACRO: ROUND(x, interval)
ROUND = IF THEN ELSE(interval = 0, x, interval * INTEGER(x / interval + 0.5)) ~~|
:END OF MACRO:
"""


def functions(n: int) -> str:
    return MACROS + f"""
R: (r1-r{n}) ~~|
C: c1, c2 ~~|
x[R] = R ~~|
sampled[R] = SAMPLE IF TRUE(Time >= x[R], Time, -1) ~~|
first[R] = INITIAL(Time + x[R]) ~~|
clock[R] = GET TIME VALUE(0, x[R], 0) ~~|
peak[R] = PEAK(SIN(Time * x[R])) ~~|
acc[R] = ACC(x[R], 2) ~~|
rounded[R] :EXCEPT: [r1] = ROUND(x[R] * 1.26, 0.5) ~~|
rounded[r1] = ROUND(7.7, 0) ~~|
m[R, C] = x[R] * C ~~|
product[R] = PROD(m[R, C!]) ~~|
low[C] = VMIN(m[R!, C]) ~~|
high[C] = VMAX(m[R!, C]) ~~|
draw[R] = RANDOM UNIFORM(0, x[R], 0) + RANDOM NORMAL(-1, 1, 0, 1, 5) ~~|
scalar draw = RANDOM UNIFORM(0, 1, 0) ~~|
""" + CONTROL.replace("FINAL TIME = 6", "FINAL TIME = 4")


@pytest.mark.parametrize("tier", ["interpreter", "compiled"])
def test_functions_stay_dense_and_agree_with_the_per_element_route(tmp_path, monkeypatch, tier):
    """70 elements: the interpreter keeps the loops (tape.LOOP_MIN) and vectorizes them."""
    n = 70
    lowered = pipeline.lower(parse_model(functions(n), "m.mdl"))
    assert all(lowered.variables[v].dims for v in ("sampled", "first", "peak", "acc", "rounded", "product", "low",
                                                   "draw"))
    model, dense, _, flat = _both_routes(tmp_path, monkeypatch, functions(n), tier)
    _assert_same(dense, flat)   # random draws included: the same call sites per element
    t = np.arange(0, 4.25, 0.5)
    for k in (1, 3, n):
        # hand derivations: SAMPLE IF TRUE holds -1 until Time >= x, then follows Time
        np.testing.assert_array_equal(dense[f"sampled[r{k}]"], np.where(t >= k, t, -1))
        np.testing.assert_array_equal(dense[f"first[r{k}]"], np.full(len(t), k))
        np.testing.assert_array_equal(dense[f"clock[r{k}]"], t + k)
        # PEAK: the largest SIN(Time x) at the steps so far (TIME STEP 0.25)
        steps = np.arange(0, 4.01, 0.25)
        peaks = np.maximum.accumulate(np.sin(steps * k))[::2]
        np.testing.assert_allclose(dense[f"peak[r{k}]"], peaks, rtol=1e-12, atol=1e-15)
        # ACC: Euler on a' = x - a / 2 from 0: a_j = 2 x (1 - (1 - dt / 2)^j)
        np.testing.assert_allclose(dense[f"acc[r{k}]"], 2 * k * (1 - (1 - 0.125) ** (t / 0.25)), rtol=1e-12)
        np.testing.assert_array_equal(dense[f"product[r{k}]"], np.full(len(t), 2.0 * k * k))
        # ROUND (a macro without state, in a piece of a piecewise array): to the nearest 0.5
        rounded = 7.7 if k == 1 else 0.5 * np.trunc(k * 1.26 / 0.5 + 0.5)
        np.testing.assert_array_equal(dense[f"rounded[r{k}]"], np.full(len(t), rounded))
        assert ((dense[f"draw[r{k}]"] >= -1) & (dense[f"draw[r{k}]"] < k + 1)).all()
    np.testing.assert_array_equal(dense["low[c2]"], np.full(len(t), 2.0))
    np.testing.assert_array_equal(dense["high[c2]"], np.full(len(t), 2.0 * n))
    assert len({dense[f"draw[r{k}]"][-1] for k in range(1, n + 1)}) == n   # a draw per element


def test_function_kernels_do_not_grow_with_the_range(tmp_path, monkeypatch):
    monkeypatch.setenv("SMARTSPEC_CACHE_DIR", str(tmp_path / "cache"))
    small, _ = _load(tmp_path, functions(10), "small.mdl", "interpreter")
    path = tmp_path / "large.mdl"
    path.write_text(functions(1000))
    large = smartspec_dsl.load(path, tier="interpreter")
    assert large.kernel.source.count("\n") == small.kernel.source.count("\n")
    assert large.kernel.n_slots > 1000 * 10


def test_the_beer_game_is_dense_and_draws_the_per_element_routes_numbers(tmp_path, monkeypatch):
    """The beer game (../shared/real-models): macros called in array equations (its pink
    noise draws a number per game), SAMPLE IF TRUE, a macro without state in a piece of a
    piecewise array and mapped subranges: every array stays one, and every column, the
    noise with a standard deviation set by the run, is the per-element route's."""
    text = shared_path("real-models", "beer-game", "RealBeer4-Sterman13.mdl").read_text(encoding="utf-8")
    assert ineligible(parse_model(text, "beer.mdl")) is None
    dense_model, _, flat_model, _ = _both_routes(tmp_path, monkeypatch, text)
    params = {"noise sd": 2.0}
    dense, flat = dense_model.run(params=params, tier="interpreter"), flat_model.run(params=params, tier="interpreter")
    _assert_same(dense, flat)
    noise = dense["order noise[game1]"]
    assert noise.std() > 0.1 and not np.array_equal(noise, dense["order noise[game2]"])


# random draws in arrays next to reductions, which the per-element route turns into hidden
# auxiliaries that change the order of its statements: review finding 11's model, then
# reductions after the draw, 2-D arrays with two draws per element, subrange left-hand sides,
# a second array and a scalar that draw, an initial draw
RANGES = """
Region: r1, r2, r3, r4, r5, r6 ~~|
SubB: r4, r5, r6 ~~|
Age: a1, a2, a3 ~~|
v1[Region] = Time ~~|
v2[Region, Age] = 1 ~~|
"""
DRAWS = {
    "finding11": """
v3[SubB, Age] = VMIN(v2[Region!, Age]) + RANDOM UNIFORM(0, 1, 0) ~~|
v6[r6] = RANDOM NORMAL(-1, 1, VMAX(v1[SubB!]), 1, 0) ~~|
""",
    "reductions after": """
scalar = RANDOM UNIFORM(0, 1, 0) ~~|
v3[SubB, Age] = RANDOM UNIFORM(0, 1, 0) + VMIN(v2[Region!, Age]) ~~|
v4[Age] = SUM(v3[SubB!, Age]) * RANDOM UNIFORM(0, 1, 1) ~~|
v5[SubB] = RANDOM UNIFORM(-1, 1, 0) + VMAX(v1[Region!]) ~~|
""",
    "two draws": """
w[Region, Age] = RANDOM NORMAL(-2, 2, 0, 1, 0) * v1[Region] + RANDOM UNIFORM(0, 1, 0) ~~|
top[Age] = VMAX(w[Region!, Age]) + RANDOM UNIFORM(0, 1, 0) ~~|
v6[r6] = RANDOM NORMAL(-1, 1, PROD(v2[r1, Age!]), 1, 0) ~~|
start[Region] = INITIAL(RANDOM UNIFORM(0, 1, 0)) + SUM(v2[Region, Age!]) ~~|
""",
    "pieces": """
v3[SubB, Age] = RANDOM UNIFORM(0, 1, 0) * v2[SubB, Age] ~~|
p[Region] :EXCEPT: [r2] = RANDOM UNIFORM(0, 1, 0) * v1[Region] ~~|
p[r2] = RANDOM NORMAL(-1, 1, 0, 1, 0) + RANDOM UNIFORM(0, 1, 0) ~~|
""",
    # a macro drawing twice called over a range, a macro calling it twice (nested copies), RANDOM
    # PINK NOISE, and draws in the inputs of SMOOTH and DELAY3 (their hidden stocks' rates): the
    # per-element route's copies and hidden variables are the elements of the dense route's
    "macros and memory": """
:MACRO: NOISY(m, s)
NOISY = INTEG((m + s * RANDOM NORMAL(-6, 6, 0, 1, 0) + RANDOM UNIFORM(0, 1, 0) - NOISY) / 2, m) ~~|
:END OF MACRO:
:MACRO: TWICE(m)
TWICE = NOISY(m, 1) + 0.5 * NOISY(m * 2, 2) + RANDOM UNIFORM(0, 1, 0) ~~|
:END OF MACRO:
v3[Region, Age] = NOISY(v2[Region, Age], 0.5) ~~|
w[Region] = TWICE(v1[Region]) + RANDOM PINK NOISE(v1[Region], 0.5, 2, 0) ~~|
q[Age] = SMOOTH(RANDOM UNIFORM(0, 1, 0) + RANDOM NORMAL(-6, 6, 0, 1, 0), 2) + DELAY3(RANDOM UNIFORM(0, 1, 0), 1) ~~|
scalar = TWICE(1) ~~|
""",
}
RANDOM_CONTROL = "INITIAL TIME = 0 ~~| FINAL TIME = 3 ~~| TIME STEP = 0.5 ~~| SAVEPER = 0.5 ~~|\n"


@pytest.mark.parametrize("tier", ["interpreter", "compiled"])
@pytest.mark.parametrize("case", list(DRAWS))
def test_random_draws_are_the_per_element_routes_whatever_the_order(tmp_path, monkeypatch, case, tier):
    """Under a seed, every column of the dense route is the per-element route's to the bit:
    a draw's call site is numbered by its array, element and place in the equation, not by
    where the statement falls in the schedule. So a run that sets an auxiliary (an equation
    edit, which flattens the model) keeps the noise of the arrays it does not touch."""
    text = RANGES + DRAWS[case] + RANDOM_CONTROL
    # v6[r6] (an element no range lists) is an array over a hidden range of that element
    dense_model, _, flat_model, _ = _both_routes(tmp_path, monkeypatch, text, tier)
    dense, flat = dense_model.run(seed=3, tier=tier), flat_model.run(seed=3, tier=tier)
    _assert_same(dense, flat)
    drawn = [c for c in dense.columns if c.startswith(("v3", "w[", "v6"))]
    assert drawn and len({dense[c][1] for c in drawn}) == len(drawn)   # a draw per element
    edited = dense_model.run(seed=3, params={"v1[r1]": 0}, tier=tier)
    for c in (c for c in dense.columns if c.startswith("v3")):
        np.testing.assert_array_equal(edited[c], dense[c], err_msg=c)
