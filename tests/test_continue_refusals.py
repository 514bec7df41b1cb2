"""A run continuing a saved state that it cannot continue exactly is refused, naming what
differs: the stocks a state lacks, one entry a call and element (the hidden stocks of a
DELAY3 share its call's label); and, when the run replaces no equation but gives a value
that decides how memory is laid out (a SMOOTH N / DELAY N order), that value, not
"the equations it replaces"."""
from __future__ import annotations

import pytest

from smartspec_dsl.errors import ParameterError

from conftest import equations, load_text


def test_a_state_lacking_a_calls_stocks_names_each_call_and_element_once(tmp_path):
    """A run replacing x[a3] has no DELAY3 stocks for that element (three: DELAY3 is three
    first-order stages); the plain model needs them."""
    model = load_text(tmp_path, equations(
        "A: a1, a2, a3, a4", "in[A] = 3 * A + SIN(Time * A)", "x[A] = DELAY3(in[A] + 1, 2)",
        "INITIAL TIME = 0", "FINAL TIME = 4", "TIME STEP = 0.25", "SAVEPER = 0.25"))
    state = model.run(until=2, params={"x[a3]": 1}).final_state
    with pytest.raises(ParameterError) as refused:
        model.run(initial_condition=state)
    line = model.schedule.model.variables["x #delay31_2[a3]"].pos.line
    assert str(refused.value) == (
        f"the state (t = 2) is not one of this model's: its stocks lack x[a3] (DELAY3 call at {line}:8: its 3 "
        "stocks) (a state continues the model, and the values that decide its structure, that made it)")


def test_a_value_that_changes_an_order_is_named_not_an_equation(tmp_path):
    """order[g3] is a constant: setting it replaces no equation, but gives SMOOTH N another
    number of stocks for g3 than the state's."""
    model = load_text(tmp_path, equations(
        "G: g1, g2, g3", "order[G] = 1, 2, 3", "in[G] = 10 * G + Time", "sm[G] = SMOOTH N(in[G], 2, in[G], order[G])",
        "INITIAL TIME = 0", "FINAL TIME = 6", "TIME STEP = 0.25", "SAVEPER = 0.25"))
    state = model.run(until=2).final_state
    with pytest.raises(ParameterError) as refused:
        model.run(initial_condition=state, params={"order[g3]": 1})
    assert str(refused.value) == (
        "the state cannot be continued by this run: the values it gives ('order[g3]' = 1) change how the memory "
        "of 'sm' (SMOOTH, DELAY, ... stocks) is kept (another SMOOTH N or DELAY N order, ...); run it from the "
        "start, or continue the state without those values")


def test_the_value_that_changes_an_order_is_named_as_the_modeller_wrote_it(tmp_path):
    """The order's element as the model spells it, whatever spelling the run gave it in."""
    model = load_text(tmp_path, equations(
        "Stage Group: Early Stage, Mid Stage, Late Stage", "Smoothing Order[Stage Group] = 1, 2, 3",
        "Demand In[Stage Group] = 10 * Stage Group + Time",
        "Smoothed Demand[Stage Group] = SMOOTH N(Demand In[Stage Group], 2, Demand In[Stage Group], "
        "Smoothing Order[Stage Group])",
        "INITIAL TIME = 0", "FINAL TIME = 6", "TIME STEP = 0.25", "SAVEPER = 0.25"))
    state = model.run(until=2).final_state
    with pytest.raises(ParameterError) as refused:
        model.run(initial_condition=state, params={"smoothing order[late stage]": 1})
    assert str(refused.value) == (
        "the state cannot be continued by this run: the values it gives ('Smoothing Order[Late Stage]' = 1) change "
        "how the memory of 'Smoothed Demand' (SMOOTH, DELAY, ... stocks) is kept (another SMOOTH N or DELAY N "
        "order, ...); run it from the start, or continue the state without those values")
