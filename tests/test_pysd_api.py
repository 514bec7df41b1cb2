"""What a PySD user writes has an answer: params by a subscripted name, for
auxiliaries, flows and lookups, time series; return_columns by a subscripted
name and return_timestamps; initial_condition and final_state; the stepper;
model.doc and model.dependencies; method case-insensitive; read_vensim.

Expected values are hand derivations (Euler, TIME STEP 1: a stock growing by
rate r is x0 * (1 + r) ** t) or the same model with the change written into its
file (issue 11's rule: a run-time change equals editing the model)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import smartspec_dsl
from smartspec_dsl.errors import ParameterError

POPULATION = """{UTF-8}
Region: East, West ~~|
Initial Population[Region] = 100, 200 ~ people ~|
growth rate[Region] = 0.1, 0.2 ~ 1/Year ~|
Population[Region] = INTEG(births[Region], Initial Population[Region]) ~ people ~|
births[Region] = Population[Region] * growth rate[Region] ~ people/Year ~|
INITIAL TIME = 0 ~ Year ~|
FINAL TIME = 4 ~ Year ~|
TIME STEP = 1 ~ Year ~|
SAVEPER = TIME STEP ~ Year ~|
"""

STATEFUL = """{UTF-8}
input = 10 + STEP(10, 2) ~ Widget [0, 100] ~ what comes in|
smoothed = SMOOTH(input, 2) ~ Widget ~|
delayed = DELAY3(input, 3) ~ Widget ~|
first = INITIAL(input * 2) ~ Widget ~|
effect table((0,0),(10,10)) ~ Widget ~|
effect = effect table(Time) ~ Widget ~|
out = smoothed + delayed + first + effect ~ Widget ~ the sum|
INITIAL TIME = 0 ~~|
FINAL TIME = 10 ~~|
TIME STEP = 0.5 ~~|
SAVEPER = 1 ~~|
"""

T = np.arange(5.0)


def _load(tmp_path_factory, text, name="m.mdl"):
    path = tmp_path_factory.mktemp("model") / name
    path.write_text(text)
    return smartspec_dsl.load(path)


@pytest.fixture(scope="module")
def pop(tmp_path_factory):
    return _load(tmp_path_factory, POPULATION)


@pytest.fixture(scope="module")
def stateful(tmp_path_factory):
    return _load(tmp_path_factory, STATEFUL)


# ---- params by a subscripted name ------------------------------------------------------

def test_a_scalar_sets_every_element(pop):
    r = pop.run(params={"Initial Population": 5000})
    np.testing.assert_allclose(r["Population[East]"], 5000 * 1.1 ** T)
    np.testing.assert_allclose(r["Population[West]"], 5000 * 1.2 ** T)


@pytest.mark.parametrize("value", [[1, 2], np.array([1.0, 2.0]), {"East": 1, "West": 2}, {"east": 1, "WEST": 2}])
def test_a_list_array_or_dict_sets_each_element(pop, value):
    r = pop.run(params={"Initial Population": value})
    np.testing.assert_allclose(r["Population[East]"], 1 * 1.1 ** T)
    np.testing.assert_allclose(r["Population[West]"], 2 * 1.2 ** T)


def test_a_dict_may_set_some_elements_only(pop):
    r = pop.run(params={"growth rate": {"West": 0}})
    np.testing.assert_allclose(r["Population[East]"], 100 * 1.1 ** T)
    np.testing.assert_allclose(r["Population[West]"], 200.0)


def test_a_dataarray_sets_each_element_by_its_coords(pop):
    xr = pytest.importorskip("xarray")
    da = xr.DataArray([4.0, 3.0], dims=["Region"], coords={"Region": ["West", "East"]})
    r = pop.run(params={"Initial Population": da})
    np.testing.assert_allclose(r["Population[East]"], 3 * 1.1 ** T)
    np.testing.assert_allclose(r["Population[West]"], 4 * 1.2 ** T)


def test_an_element_by_its_own_name(pop):
    # sweeps and the explorer name constants through param_index: the same spelling rules
    assert pop.param_index("Initial Population[ West ]") == pop.param_index("initial_population[west]")
    r = pop.run(params={"Initial Population[West]": 7})
    np.testing.assert_allclose(r["Population[East]"], 100 * 1.1 ** T)
    np.testing.assert_allclose(r["Population[West]"], 7 * 1.2 ** T)


def test_bad_values_are_refused_in_the_modellers_names(pop):
    with pytest.raises(ParameterError, match=r"'Initial Population' have shape \(3,\); it has 2 \(Region\)"):
        pop.run(params={"Initial Population": [1, 2, 3]})
    with pytest.raises(ParameterError, match="'North' in the values for 'Initial Population' is not one"):
        pop.run(params={"Initial Population": {"North": 1}})
    with pytest.raises(ParameterError, match="'Initial Populatio' is not a variable.*did you mean 'Initial Population'"):
        pop.run(params={"Initial Populatio": 1})
    with pytest.raises(ParameterError, match=r"'Population\[East\]' is a stock.*initial_condition"):
        pop.run(params={"Population": 1})
    with pytest.raises(ParameterError, match="value for 'growth rate' is not a number: 'fast'"):
        pop.run(params={"growth rate": "fast"})


# ---- auxiliaries, flows, lookups, time series --------------------------------------------

def test_a_flow_set_to_a_constant_replaces_its_equation(pop, tmp_path):
    r = pop.run(params={"births": 10})
    np.testing.assert_allclose(r["Population[East]"], 100 + 10 * T)
    np.testing.assert_allclose(r["Population[West]"], 200 + 10 * T)
    np.testing.assert_allclose(r["births[East]"], 10.0)
    # the same numbers as the model with that equation written into it
    edited = tmp_path / "edited.mdl"
    edited.write_text(POPULATION.replace("births[Region] = Population[Region] * growth rate[Region]",
                                         "births[Region] = 10"))
    np.testing.assert_array_equal(smartspec_dsl.load(edited).run().values, r.values)


def test_one_element_of_an_auxiliary(pop):
    r = pop.run(params={"births[East]": 10})
    np.testing.assert_allclose(r["Population[East]"], 100 + 10 * T)
    np.testing.assert_allclose(r["Population[West]"], 200 * 1.2 ** T)


def test_a_time_series_interpolates_like_a_data_variable(pop):
    pd = pytest.importorskip("pandas")
    r = pop.run(params={"births": pd.Series([0.0, 10.0], index=[0.0, 4.0])})
    # births = 2.5 t, Euler: Population(t) = 100 + sum over k < t of 2.5 k
    np.testing.assert_allclose(r["births[West]"], 2.5 * T)
    np.testing.assert_allclose(r["Population[East]"], 100 + 2.5 * T * (T - 1) / 2)
    # the points of a second series reach the kernel compiled for the first: no stale table;
    # past its last point a series holds its end value, as Vensim's data and np.interp do
    r = pop.run(params={"births": pd.Series([0.0, 4.0], index=[0.0, 1.0])})
    np.testing.assert_allclose(r["Population[East]"], 100 + np.array([0, 0, 4, 8, 12]))


def test_a_lookup_takes_new_points(stateful):
    pd = pytest.importorskip("pandas")
    r = stateful.run(params={"effect table": pd.Series([0.0, 100.0], index=[0.0, 10.0])})
    np.testing.assert_allclose(r["effect"], 10 * np.arange(11.0))
    r = stateful.run(params={"effect table": ([0, 5, 10], [1, 1, 3])})
    np.testing.assert_allclose(r["effect"], [1, 1, 1, 1, 1, 1, 1.4, 1.8, 2.2, 2.6, 3])
    assert np.allclose(stateful.run()["effect"], np.arange(11.0))   # and the model's own again


def test_an_auxiliary_that_decides_the_structure_recompiles(tmp_path):
    """Issue 11's rule through an edited equation: the SMOOTH N order set at run time
    on an auxiliary gives the numbers of the model with that order written in."""
    text = """demand = 10 + STEP(10, 1) ~~|
base = 1 ~~|
smoothing order = base + 1 ~~|
perceived demand = SMOOTH N(demand, 4, demand, smoothing order) ~~|
INITIAL TIME = 0 ~~| FINAL TIME = 8 ~~| TIME STEP = 1 ~~| SAVEPER = TIME STEP ~~|
"""
    (tmp_path / "a.mdl").write_text(text)
    (tmp_path / "b.mdl").write_text(text.replace("smoothing order = base + 1", "smoothing order = 4"))
    got = smartspec_dsl.load(tmp_path / "a.mdl").run(params={"smoothing order": 4})
    want = smartspec_dsl.load(tmp_path / "b.mdl").run()
    np.testing.assert_array_equal(got["perceived demand"], want["perceived demand"])
    np.testing.assert_allclose(got["perceived demand"][:5], [10, 10, 10, 10, 10])  # order 4: 4 steps late


# ---- return_columns, return_timestamps ---------------------------------------------------

def test_return_columns_by_a_subscripted_name(pop):
    r = pop.run(return_columns=["Population", "births[West]"])
    assert r.columns == ["Population[East]", "Population[West]", "births[West]"]
    np.testing.assert_allclose(r["births[West]"], 0.2 * 200 * 1.2 ** T)
    with pytest.raises(ParameterError, match="'Populaton' is not a variable.*did you mean 'Population'"):
        pop.run(return_columns=["Populaton"])
    # one name as a string is that name, not its characters
    assert pop.run(return_columns="Population").columns == ["Population[East]", "Population[West]"]
    # a column by the modeller's name in any spacing; a subscripted name says which columns it has
    np.testing.assert_array_equal(r["population [ east ]"], r["Population[East]"])
    with pytest.raises(KeyError, match=r"'Population' is subscripted: ask for one of its columns "
                                       r"\(Population\[East\], Population\[West\]\)"):
        r["Population"]


def test_return_timestamps_as_a_list_or_a_step(stateful):
    full = stateful.run(saveper=0.5)
    r = stateful.run(return_timestamps=[0.5, 3, 7.5], final_time=10)
    np.testing.assert_array_equal(r.time, [0.5, 3, 7.5])
    for c in ("input", "smoothed", "delayed", "out"):
        np.testing.assert_array_equal(r[c], full[c][[1, 6, 15]])
    r = stateful.run(return_timestamps=slice(None, None, 2.5))     # a step
    np.testing.assert_array_equal(r.time, [0, 2.5, 5, 7.5, 10])
    np.testing.assert_array_equal(r["out"], full["out"][::5])
    r = stateful.run(return_timestamps=3)      # one time, as PySD (the run ends there)
    np.testing.assert_array_equal(r.time, [3])
    np.testing.assert_array_equal(r["out"], full["out"][[6]])
    # PySD: without final_time the run ends at the last timestamp
    assert stateful.run(return_timestamps=[1, 2]).time.tolist() == [1, 2]
    with pytest.raises(ParameterError, match="time 0.25 is not a time of the run"):
        stateful.run(return_timestamps=[0.25])


# ---- initial_condition, final_state, stepping --------------------------------------------

def test_initial_condition_time_and_stocks(pop):
    """PySD's (t, {stock: value}): the run starts at t; the stocks not named start from
    their initial equations (Initial Population[East] = 100)."""
    r = pop.run(initial_condition=(2, {"Population[West]": 20}))
    np.testing.assert_array_equal(r.time, [2, 3, 4])
    np.testing.assert_allclose(r["Population[East]"], 100 * 1.1 ** np.arange(3.0))
    np.testing.assert_allclose(r["Population[West]"], 20 * 1.2 ** np.arange(3.0))
    r = pop.run(initial_condition=(0, {"Population": {"West": 1}}))   # same stocks: same kernel
    np.testing.assert_allclose(r["Population[West]"], 1.2 ** T)
    np.testing.assert_array_equal(pop.run(initial_condition="original").values, pop.run().values)
    with pytest.raises(ParameterError, match="'births' is a flow, not a stock"):
        pop.run(initial_condition=(0, {"births": 1}))


def test_a_run_continues_from_another_ones_final_state(stateful):
    """Every stock, the hidden ones of SMOOTH and DELAY3 and INITIAL's held value, is in the
    state: the second half equals the whole run's."""
    whole = stateful.run()
    half = stateful.run(final_time=4)
    state = half.final_state
    assert state.time == 4 and len(state.stocks) == 5   # SMOOTH 1, DELAY3 3, INITIAL 1
    rest = stateful.run(initial_condition=state)
    np.testing.assert_array_equal(rest.time, np.arange(4.0, 11.0))
    np.testing.assert_allclose(rest.values, whole.values[4:], rtol=1e-13)
    np.testing.assert_allclose(rest["first"], 20.0)   # INITIAL(input * 2) at t = 0, not at 4


RANDOM = """x = RANDOM UNIFORM(0, 1, 3) ~~|
n = RANDOM NORMAL(-5, 5, 0, 2, 7) ~~|
noise = RANDOM PINK NOISE(0, 1, 2, 5) ~~|
s = INTEG(x + n + noise, 0) ~~|
INITIAL TIME = 0 ~~| FINAL TIME = 6 ~~| TIME STEP = 0.5 ~~| SAVEPER = 1 ~~|
"""


@pytest.mark.parametrize("tier", ["compiled", "interpreter"])
def test_a_run_with_random_draws_continues_as_one_run(tmp_path, tier):
    """A random draw is a hash of the seed, the call site and the step's number; a run that
    continues a state numbers its steps from INITIAL TIME, as the one run does, and draws
    with the state's seed: 0..6 in one go equals 0..2, then 2..6 from the final state
    (RANDOM PINK NOISE's hidden stock in the state too), exactly, on both tiers, and so
    does the stepper."""
    path = tmp_path / "r.mdl"
    path.write_text(RANDOM)
    model = smartspec_dsl.load(path)
    for method in ("euler", "rk4"):
        _continues_as_one_run(model, tier, method)


def _continues_as_one_run(model, tier, method):
    whole = model.run(seed=11, method=method, tier=tier)
    first = model.run(seed=11, method=method, tier=tier, final_time=2)
    rest = model.run(initial_condition=first.final_state, method=method, tier=tier)
    assert first.final_state.seed == 11
    np.testing.assert_array_equal(rest.time, whole.time[2:])
    np.testing.assert_array_equal(rest.values, whole.values[2:])
    assert not np.array_equal(whole.values, model.run(seed=12, method=method, tier=tier).values)
    stepper = model.stepper(method=method)
    stepper.step(3)                           # to t = 1.5: the stepper's steps are TIME STEPs
    stepper.run_to(6)
    np.testing.assert_array_equal(stepper.result.values, model.run(method=method, tier=tier).values)


def test_a_state_that_cannot_be_continued_is_refused(tmp_path):
    """With a TIME STEP that changes during the run a draw's step has no number a continued
    run could give it: a continued run would give other numbers than one run. (A DELAY
    FIXED's pipeline is in the state: tests/test_buffer_state.py.)"""
    path = tmp_path / "r.mdl"
    path.write_text("""x = RANDOM UNIFORM(0, 1, 3) ~~|
s = INTEG(x, 0) ~~|
INITIAL TIME = 0 ~~| FINAL TIME = 4 ~~| TIME STEP = IF THEN ELSE(Time < 2, 1, 0.5) ~~|
SAVEPER = TIME STEP ~~|
""")
    model = smartspec_dsl.load(path)
    with pytest.raises(ParameterError, match="r.mdl:1:5: 'x' draws RANDOM UNIFORM.*TIME STEP or SAVEPER changes "
                                             "during this run: a run cannot continue"):
        model.run(initial_condition=model.run(final_time=2).final_state)
    path.write_text("""x = 1 + STEP(1, 2) ~~|
d = DELAY FIXED(x, 2, 0) ~~|
INITIAL TIME = 0 ~~| FINAL TIME = 4 ~~| TIME STEP = 1 ~~| SAVEPER = TIME STEP ~~|
""")
    model = smartspec_dsl.load(path)
    rest = model.run(initial_condition=model.run(final_time=2).final_state)
    np.testing.assert_array_equal(rest["d"], [1, 1, 2])     # x two steps before: 1 at 0 and 1, 2 at 2


CONTINUED = """R: a1, a2 ~~|
x[R] = R * Time ~~|
sm[R] = SMOOTH(x[R], 2) ~~|
dl[R] = DELAY1(x[R], 1) ~~|
s[R] = INTEG(sm[R] + dl[R], 0) ~~|
f[R] = DELAY FIXED(x[R], 1, 0) ~~|
:MACRO: LAG(in)
LAG = INTEG(in - LAG, 0) ~~|
:END OF MACRO:
m[R] = LAG(x[R]) ~~|
order = 2 ~~|
n = SMOOTH N(Time, 2, 0, order) ~~|
INITIAL TIME = 0 ~~| FINAL TIME = 4 ~~| TIME STEP = 1 ~~| SAVEPER = 1 ~~|
"""


def test_a_state_continues_in_a_run_that_replaces_equations(tmp_path):
    """A run continuing a state with params that replace equations: the memory of a replaced
    equation (SMOOTH, DELAY1, DELAY FIXED, a macro's stock) is not needed; the stocks of an
    array that an edit flattens (x[a2] a time series) continue element by element. By hand
    (Euler, TIME STEP 1, x = k Time, k = 1, 2): the DELAY1's stock is k (t - 1) from t = 1,
    the SMOOTH's 0, 0, k/2, 5k/4, 17k/8 and s = 0, 0, 0, 3k/2, 19k/4; LAG's stock k (t - 1)."""
    path = tmp_path / "c.mdl"
    path.write_text(CONTINUED)
    model = smartspec_dsl.load(path, tier="interpreter")
    whole = model.run()
    np.testing.assert_allclose(whole["s[a2]"], [0, 0, 0, 3, 9.5])
    state = model.run(final_time=2).final_state

    def rest(params):
        return model.run(params=params, initial_condition=state)
    # s[a1] = 0 at 2, + 3 + dl(2) = 1, + 3 + dl(3) = 2; s[a2] as in the whole run
    r = rest({"sm[a1]": 3.0})
    np.testing.assert_allclose(r["s[a1]"], [0, 4, 9])
    np.testing.assert_allclose(r["s[a2]"], whole["s[a2]"][2:])
    # x[a2] = 10, 5, 0 from t = 2 on; the SMOOTH's stock 1 and the DELAY1's 2 continue:
    # s = 0, 0 + 1 + 2, 3 + (1 + (10 - 1) / 2) + 10 (re-initialised to x, s would be 20 at 3)
    r = rest({"x[a2]": pd.Series([0, 10, 0], index=[0, 2, 4])})
    np.testing.assert_allclose(r["s[a2]"], [0, 3, 18.5])
    np.testing.assert_allclose(r["s[a1]"], whole["s[a1]"][2:])
    # a whole array replaced: dl = 1; s[a1] = 0, 0.5 + 1, 1.5 + 1.25 + 1
    np.testing.assert_allclose(rest({"dl": 1.0})["s[a1]"], [0, 1.5, 3.75])
    # a macro's copy for one element, a DELAY FIXED's buffers: the other elements continue
    r = rest({"m[a1]": 5.0, "f[a1]": 1.0})
    np.testing.assert_allclose(r["m[a1]"], 5.0)
    np.testing.assert_allclose(r["f[a1]"], 1.0)
    np.testing.assert_allclose(r["m[a2]"], [2, 4, 6])
    np.testing.assert_allclose(r["f[a2]"], [2, 4, 6])     # x[a2] one step before
    np.testing.assert_allclose(rest({"f": 1.0})["s[a1]"], whole["s[a1]"][2:])
    # a state made by a run that replaced the equations continues with them: the one run's values
    for params in ({"sm[a1]": 3.0}, {"m[a1]": 5.0, "dl": 1.0}):
        made = model.run(params=params, final_time=2).final_state
        np.testing.assert_array_equal(model.run(params=params, initial_condition=made).values,
                                      model.run(params=params).values[2:])
    # another SMOOTH N order makes a stock the state does not hold: refused, by the modeller's name
    with pytest.raises(ParameterError, match="holds no value of a stock of 'n' that this run's values make"):
        rest({"order": 3})
    with pytest.raises(ParameterError, match="the memory of 'n'"):
        rest({"order": 1})


def test_the_stepper_equals_one_run_with_the_change_written_in(stateful, tmp_path):
    """A change made at t = 4 acts from the next time step on (t = 4.5), as in PySD's
    stepper: every row equals the run of the model with that switch written in."""
    stepper = stateful.stepper()
    stepper.step(8)                        # to t = 4 (TIME STEP 0.5)
    stepper.step(4, {"input": 30})          # from t = 4.5 on, input is 30
    stepper.run_to(10)
    got = stepper.result
    (tmp_path / "e.mdl").write_text(STATEFUL.replace("input = 10 + STEP(10, 2)",
                                                     "input = 10 + STEP(10, 2) + STEP(10, 4.5)"))
    want = smartspec_dsl.load(tmp_path / "e.mdl").run()
    np.testing.assert_array_equal(got.time, want.time)
    np.testing.assert_allclose(got.values, want.values, rtol=1e-13)
    assert got["input"][4] == 20 and got["input"][5] == 30
    with pytest.raises(ParameterError, match="goes past FINAL TIME"):
        stepper.step(1)
    # without a change, steps give the one run's numbers
    plain = stateful.stepper()
    for _ in range(4):
        plain.step(5)
    np.testing.assert_allclose(plain.result.values, stateful.run().values, rtol=1e-13)


# ---- doc, dependencies, method, read_vensim --------------------------------------------

def test_doc_table(stateful):
    rows = {r.real_name: r for r in stateful.doc_rows()}
    assert rows["input"].units == "Widget" and rows["input"].limits == (0.0, 100.0)
    assert rows["input"].comment == "what comes in" and rows["input"].type == "Auxiliary"
    assert rows["smoothed"].subtype == "SMOOTH" and rows["first"].subtype == "INITIAL"
    assert rows["effect table"].type == "Lookup" and rows["smoothed"].limits == (None, None)
    pd = pytest.importorskip("pandas")
    doc = stateful.doc
    assert isinstance(doc, pd.DataFrame)
    assert list(doc.columns) == ["Real Name", "Name", "Units", "Limits", "Type", "Subtype", "Comment",
                                 "Subscripts"]
    assert doc.set_index("Real Name").loc["out", "Comment"] == "the sum"


def test_doc_of_subscripted_variables(pop):
    rows = {r.real_name: r for r in pop.doc_rows()}
    assert rows["Population"].subscripts == ("Region",) and rows["Population"].type == "Stock"


def test_dependencies_graph(stateful):
    g = stateful.dependencies
    assert set(g.predecessors("out")) == {"smoothed", "delayed", "first", "effect"}
    assert set(g.predecessors("effect")) == {"effect table", "time"}
    assert g.nodes["input"]["display"] == "input"


def test_method_is_case_insensitive(stateful):
    assert stateful.integration_method("RK4") == "rk4"
    np.testing.assert_array_equal(stateful.run(method="EULER").values, stateful.run().values)
    with pytest.raises(ParameterError, match="unknown integration method 'midpoint'"):
        stateful.run(method="midpoint")


def test_read_vensim_is_load():
    assert smartspec_dsl.read_vensim is smartspec_dsl.load
    assert smartspec_dsl.read_xmile is smartspec_dsl.load


# ---- two subscript ranges, resolved without compiling ---------------------------------------

def _names_of(text):
    from smartspec_dsl.frontend.parse import parse_model
    from smartspec_dsl.passes.pipeline import lower
    from smartspec_dsl.passes.elements import element_schedule
    from smartspec_dsl.passes.order import schedule
    from smartspec_dsl.runtime.params import Names
    source = parse_model(text, "two.mdl")
    # the elements' view a load keeps (a dense array is one variable before it)
    return Names(source, element_schedule(schedule(lower(source))).model, "two.mdl")


TWO = """Region: East, West ~~|
Age: young, mid, old ~~|
rate[Region, Age] = 1 ~~|
x[Region, Age] = rate[Region, Age] * 2 ~~|
INITIAL TIME = 0 ~~| FINAL TIME = 1 ~~| TIME STEP = 1 ~~| SAVEPER = 1 ~~|
"""


def test_two_ranges_per_element():
    from smartspec_dsl.runtime.params import resolve
    names = _names_of(TWO)
    flat = [f"rate[{r},{a}]" for r in ("east", "west") for a in ("young", "mid", "old")]
    plan = resolve(names, {"rate": np.arange(6.0).reshape(2, 3)})
    assert [plan.constants[n] for n in flat] == [0, 1, 2, 3, 4, 5]
    plan = resolve(names, {"rate": {("West", "old"): 7, "East,young": 8}})
    assert plan.constants == {"rate[west,old]": 7.0, "rate[east,young]": 8.0}
    plan = resolve(names, {"rate[West, Age]": [1, 2, 3]})     # a range selects its elements
    assert plan.constants == {"rate[west,young]": 1, "rate[west,mid]": 2, "rate[west,old]": 3}
    plan = resolve(names, {"x[East, mid]": 4})                # an auxiliary's element: an edit
    assert plan.constants == {"x[east,mid]": 4} and plan.constant_edits == {"x[east,mid]"}
    with pytest.raises(ParameterError, match=r"have shape \(3, 2\); it has 2 \(Region\) x 3 \(Age\)"):
        resolve(names, {"rate": np.zeros((3, 2))})
    with pytest.raises(ParameterError, match="'North' is not an element of 'Region' \\(East, West\\)"):
        resolve(names, {"rate[North, young]": 1})
    xr = pytest.importorskip("xarray")
    da = xr.DataArray([10.0, 20.0, 30.0], dims=["Age"], coords={"Age": ["young", "mid", "old"]})
    plan = resolve(names, {"rate": da})                       # Region missing: broadcast
    assert [plan.constants[n] for n in flat] == [10, 20, 30, 10, 20, 30]
