"""A value given to a run that no model file could hold (inf, -inf, NaN, or a number
beyond a double's range such as 1e400, which reads as inf) is refused before the run,
whichever way it comes: `params` (a constant, an element, an equation replaced, a lookup's
points, a time series), an initial condition, a changes file, a parameter matrix, a
sweep spec or table, a calibration spec, the control arguments. The error names the
modeller's variable (or the spec's key, the file and line) and the value as given,
as `--final-time inf` always was (errors.finite_number, one check for all of them).
The command line's `--set` is tested with the other command-line errors (test_errors.py).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import smartspec_dsl
from smartspec_dsl.errors import ModelError
from smartspec_dsl.experiments import calibrate as calibrate_mod
from smartspec_dsl.experiments.spec import read_spec

MODEL = """{UTF-8}
demand = 10 + STEP(10, 1) ~~|
smoothing time = 4 ~~|
region: north, south ~~|
capacity[region] = 5, 7 ~~|
effect table((0,0),(10,1),(20,1.5)) ~~|
effect = effect table(demand) ~~|
perceived demand = SMOOTH(demand, smoothing time) ~~|
stock = INTEG(effect, 1) ~~|
INITIAL TIME = 0 ~~| FINAL TIME = 4 ~~| TIME STEP = 1 ~~| SAVEPER = TIME STEP ~~|
"""

BAD = [math.inf, -math.inf, math.nan, 10 ** 400]   # a whole number beyond a double's range


def _shown(value) -> str:
    """How the error shows a value: its text as given, else as Python prints the float."""
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return repr(value)[:37]
    return f"{value:g}"


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("bad") / "m.mdl"
    path.write_text(MODEL, encoding="utf-8")
    return smartspec_dsl.load(path)


def _refused(run, needle: str):
    with pytest.raises(ModelError) as err:
        run()
    assert needle in str(err.value), str(err.value)
    return str(err.value)


@pytest.mark.parametrize("value", BAD, ids=["inf", "-inf", "nan", "10**400"])
def test_params_refuse_values_that_are_not_finite(model, value):
    shown = _shown(value)
    # a constant, a subscripted constant's elements, an auxiliary's equation replaced
    _refused(lambda: model.run(params={"smoothing time": value}),
             f"'smoothing time' must be a finite number, got {shown}")
    _refused(lambda: model.run(params={"capacity": [1.0, value]}),
             f"must be a finite number, got {shown}")
    _refused(lambda: model.run(params={"capacity[south]": value}),
             f"must be a finite number, got {shown}")
    _refused(lambda: model.run(params={"effect": value}), f"'effect' must be a finite number, got {shown}")
    # the control values set as params
    _refused(lambda: model.run(params={"FINAL TIME": value}), f"'FINAL TIME' must be a finite number, got {shown}")
    # the parameter vector of a batch
    _refused(lambda: model.parameter_vector({"smoothing time": value}),
             f"'smoothing time' must be a finite number, got {shown}")


def test_tables_series_and_initial_values_refuse_values_that_are_not_finite(model):
    _refused(lambda: model.run(params={"effect table": ([0, 10, 20], [0, math.inf, 1])}),
             "each of the lookup's points for 'effect table' must be a finite number, got inf")
    _refused(lambda: model.run(params={"effect table": ([0, math.nan], [0, 1])}),
             "each of the lookup's points for 'effect table' must be a finite number, got nan")
    _refused(lambda: model.run(initial_condition=(0, {"stock": math.inf})),
             "'stock' must be a finite number, got inf")
    _refused(lambda: model.run(initial_condition=(math.nan, {"stock": 1})),
             "the initial condition's time must be a finite number, got nan")


@pytest.mark.parametrize("name, value", [("final_time", math.inf), ("time_step", math.nan),
                                         ("saveper", 1e400), ("initial_time", -math.inf)])
def test_control_arguments_refuse_values_that_are_not_finite(model, name, value):
    control = name.replace("_", " ").upper()
    _refused(lambda: model.run(**{name: value}),
             f"{control} must be a finite number, got {value:g} ({control} as given to this run)")


def test_changes_file_refuses_values_that_are_not_finite(model, tmp_path):
    cin = tmp_path / "bad.cin"
    cin.write_text("smoothing time = 2\ncapacity[north] = 1e400\n", encoding="utf-8")
    _refused(lambda: model.run(changes=str(cin)),
             f"{cin}:2: 'capacity[north]' must be a finite number, got 1e400")
    cin.write_text("effect table (\n(0,0),(10,1e999))\n", encoding="utf-8")
    _refused(lambda: model.run(changes=str(cin)),
             f"{cin}:1: each point of lookup table 'effect table' must be a finite number, got 1e999")


def test_batches_and_sweeps_refuse_values_that_are_not_finite(model, tmp_path):
    _refused(lambda: model.parameter_matrix({"smoothing time": [1.0, 2.0, math.inf]}),
             "'smoothing time' must be a finite number, got inf (run 3)")
    P = model.parameter_matrix(n=2)
    P[1, model.param_index("smoothing time")] = math.nan   # a matrix made by hand
    _refused(lambda: model.run_batch(P), "'smoothing time' must be a finite number, got nan (run 2)")
    spec = tmp_path / "sweep.toml"
    spec.write_text('sampler = "grid"\n[parameters]\n"smoothing time" = [1, inf]\n', encoding="utf-8")
    _refused(lambda: read_spec(spec, model),
             f'{spec}: parameters."smoothing time" must be a finite number, got inf')
    spec.write_text('sampler = "scenarios"\n[[scenarios]]\nname = "hot"\nset = { "smoothing time" = nan }\n',
                    encoding="utf-8")
    _refused(lambda: read_spec(spec, model), 'scenarios."hot".set."smoothing time" must be a finite number, got nan')
    table = tmp_path / "runs.csv"
    table.write_text("smoothing time\n2\n1e400\n", encoding="utf-8")
    spec.write_text(f'sampler = "table"\ntable = "{table.name}"\n', encoding="utf-8")
    from smartspec_dsl.experiments.sweep import sweep
    _refused(lambda: sweep(model, read_spec(spec, model).sampler, progress=False),
             "'smoothing time' must be a finite number, got inf (run 2)")


def test_calibration_spec_refuses_values_that_are_not_finite(tmp_path):
    spec = tmp_path / "cal.toml"
    good = ('[[parameter]]\nname = "smoothing time"\nlower = 1\nupper = 9\n{initial}'
            '[[target]]\nvariable = "perceived demand"\nvalue = 15\n'
            '[scenario.hot]\nset = {{ "demand" = {set} }}\n')
    spec.write_text(good.format(initial="", set=1), encoding="utf-8")
    calibrate_mod.read_spec(spec)                      # the spec itself is good
    spec.write_text(good.format(initial="initial = inf\n", set=1), encoding="utf-8")
    _refused(lambda: calibrate_mod.read_spec(spec), "parameter 1: initial must be a finite number, got inf")
    spec.write_text(good.format(initial="", set="nan"), encoding="utf-8")
    _refused(lambda: calibrate_mod.read_spec(spec), "scenario.hot.set: demand must be a finite number, got nan")
    # a bound may be infinite: the parameter is unbounded on that side (scipy's convention)
    spec.write_text(good.format(initial="", set=1).replace("upper = 9", "upper = inf"), encoding="utf-8")
    assert np.isinf(calibrate_mod.read_spec(spec).upper[0])
