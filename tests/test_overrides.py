"""A value changed at run time gives exactly the numbers of the model with that value
written into its file: `run(params=...)`, changes files, sweeps (and the batch runs
calibration makes), and the control arguments (initial/final time, time step, saveper).

The metamorphic test draws values with hypothesis and compares each way of changing
them with a copy of the model edited in a temporary folder. Its generated model has
structure that depends on constants (a SMOOTH N order computed from another constant,
a DELAY N order reduced to whole TIME STEPs, DELAY FIXED, SINTEG limits, VECTOR SELECT
with its action a constant, a lookup); published models add constants of every kind.
Kernels are kept by their source, so an edited copy with the structure of a kernel
already built compiles no machine code: the examples stay cheap.
"""
from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

import smartspec_dsl
from smartspec_dsl import ir
from smartspec_dsl.experiments.sweep import sweep

from conftest import ROOT, run_cli, shared_path

GENERATED = """{UTF-8}
demand = 10 + STEP(10, 1) + 5 * SIN(Time) ~~|
base order = 1 ~~|
smooth order = base order + 1 ~~|
smoothing time = 4 ~~|
perceived = SMOOTH N(demand, smoothing time, demand, smooth order) ~~|
delay order = 3 ~~|
delay time = 2 ~~|
delayed = DELAY N(demand, delay time, demand, delay order) ~~|
fixed time = 1.5 ~~|
fixed = DELAY FIXED(demand, fixed time, 10) ~~|
effect table((0,0),(10,1),(20,1.5),(40,2)) ~~|
effect = effect table(perceived) ~~|
adjust time = 3 ~~|
level = INTEG(effect - level / adjust time, 1) ~~|
clip max = 15 ~~|
clipped = SINTEG(demand - 12, 0, -1, clip max, 0, 0, 0) ~~|
group: a1, a2, a3 ~~|
chosen[group] = 0, 1, 1 ~~|
weights[group] = 1, 2, 3 ~~|
action = 0 ~~|
picked = VECTOR SELECT(chosen[group!], weights[group!] * demand, -1, action, 0) ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 8 ~~|
TIME STEP = 0.5 ~~|
SAVEPER = TIME STEP ~~|
"""

# values each constant of GENERATED may take (few, so that few structures are drawn)
CHOICES = {
    "base order": [1, 2, 3],
    "smoothing time": [2, 4],
    "delay order": [1, 2, 4],
    "delay time": [1, 2, 3.5],
    "fixed time": [0.5, 1.5, 3],
    "adjust time": [1, 3],
    "clip max": [12, 15],
    "action": [0, 3, 4],
}
CONTROL = {"initial time": [0, 1], "final time": [6, 8], "time step": [0.25, 0.5, 1],
           "saveper": [0.5, 1, 2]}


def _name_pattern(name: str) -> str:
    """A regex for a Vensim name however it is spelled (case, spaces, underscores)."""
    return r"[\s_]+".join(re.escape(w) for w in name.split())


def edit(text: str, values: dict[str, float]) -> str:
    """`text` with each named variable's equation replaced by its value (a modeller's edit)."""
    for name, value in values.items():
        pattern = re.compile(rf"(^|\n)([ \t]*\"?{_name_pattern(name)}\"?[ \t]*=)[^~=][^~]*?(?=~)",
                             re.IGNORECASE)
        text, n = pattern.subn(lambda m: f"{m.group(1)}{m.group(2)} {float(value)!r} ", text, count=1)
        assert n == 1, f"cannot find the equation of '{name}'"
    return text


def edit_table(text: str, name: str, points) -> str:
    pattern = re.compile(rf"(^|\n)([ \t]*{_name_pattern(name)}[ \t]*)\(.*?\)[ \t]*(?=~)",
                         re.IGNORECASE | re.DOTALL)
    body = ",".join(f"({x!r},{y!r})" for x, y in points)
    text, n = pattern.subn(lambda m: f"{m.group(1)}{m.group(2)}({body}) ", text, count=1)
    assert n == 1, f"cannot find the lookup '{name}'"
    return text


def assert_same(got, want, what: str) -> None:
    assert got.columns == want.columns, what
    np.testing.assert_allclose(got.time, want.time, rtol=0, atol=1e-12, err_msg=what)
    np.testing.assert_allclose(got.values, want.values, rtol=1e-12, atol=1e-12, equal_nan=True,
                               err_msg=what)


class Models:
    """Loaded models by text, each written once into a temporary folder."""

    def __init__(self, folder):
        self.folder = folder
        self.loaded = {}

    def __call__(self, text: str):
        if text not in self.loaded:
            path = self.folder / f"m{len(self.loaded)}.mdl"
            path.write_text(text, encoding="utf-8")
            self.loaded[text] = smartspec_dsl.load(path)
        return self.loaded[text]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return Models(tmp_path_factory.mktemp("edited"))


def _draw_constants(draw, choices) -> dict[str, float]:
    names = draw(st.lists(st.sampled_from(sorted(choices)), min_size=1, max_size=3, unique=True))
    return {n: draw(st.sampled_from(choices[n])) for n in names}


@st.composite
def changes(draw):
    """(way, constants, control arguments): one way of changing values at run time."""
    way = draw(st.sampled_from(["params", "cin", "sweep", "scenario", "calibration", "control"]))
    constants = _draw_constants(draw, CHOICES)
    control = {}
    if way == "control":
        control = {n: draw(st.sampled_from(CONTROL[n]))
                   for n in draw(st.lists(st.sampled_from(sorted(CONTROL)), min_size=1, max_size=2,
                                          unique=True))}
    return way, constants, control


def run_changed(model, way, constants, control, tmp_path):
    """The run of `model` with the values changed the way `way` changes them."""
    if way == "params":
        return model.run(params=constants)
    if way == "cin":
        cin = tmp_path / "change.cin"
        cin.write_text("".join(f"{n} = {v!r}\n" for n, v in constants.items()), encoding="utf-8")
        return model.run(changes=str(cin))
    if way == "control":
        args = {n.replace(" ", "_"): v for n, v in control.items()}
        return model.run(params=constants, **args)
    if way == "scenario":
        # a scenario sweep: the first value set, the others as multipliers of the model's own
        from smartspec_dsl.experiments.samplers import Scenario, Scenarios
        first, *rest = constants
        scale = {n: constants[n] / model.constants[model.display(n)] for n in rest}
        res = sweep(model, Scenarios([Scenario("changed", set={first: constants[first]}, scale=scale)]),
                    keep_runs=True, seed=1, progress=False)
        return type(model.run())(res.time, res.outputs, res.values[0])
    if way == "calibration":
        return calibration_run(model, constants, tmp_path)
    # a sweep of two runs: the changed values, and the model's own
    columns = {n: np.array([v, model.constants[model.display(n)]]) for n, v in constants.items()}
    res = sweep(model, columns, keep_runs=True, seed=1, progress=False)
    own = model.run()
    assert_same(type(own)(res.time, res.outputs, res.values[1]), own, "sweep run with the model's own values")
    return type(own)(res.time, res.outputs, res.values[0])


def calibration_run(model, constants, tmp_path):
    """The runs a calibration makes: with targets of 0 its residuals are its runs' values (here
    `level` at every saved time) at the parameters it reports; one evaluation at most keeps
    them at the drawn values (its starting point), which `constants` is updated to if not."""
    from smartspec_dsl.experiments.calibrate import calibrate, read_spec
    names = sorted(constants)
    own = model.run()
    lines = [f'[[parameter]]\nname = "{n}"\nlower = {constants[n] - 1}\nupper = {constants[n] + 1}\n'
             f'initial = {constants[n]!r}\n' for n in names]
    targets = tmp_path / "targets.csv"
    targets.write_text("time,level\n" + "".join(f"{float(t)!r},0\n" for t in own.time), encoding="utf-8")
    spec = tmp_path / "calibration.toml"
    spec.write_text("".join(lines) + '[[target]]\nfile = "targets.csv"\n[options]\nmax_evaluations = 1\n',
                    encoding="utf-8")
    fit = calibrate(model, read_spec(spec))
    constants.update({n: fit.parameters[model.display(n)] for n in names})
    return type(own)(own.time, ["level"], np.asarray(fit.residuals)[:, None])


def only(result, columns):
    """`result` with the columns `columns` alone (what a calibration's residuals give)."""
    idx = [result.columns.index(c) for c in columns]
    return type(result)(result.time, list(columns), result.values[:, idx])


@settings(max_examples=4, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(changes())
@example(("params", {"base order": 3}, {}))               # SMOOTH N order from another constant
@example(("control", {"delay order": 4}, {"time step": 1}))  # DELAY N reduced to whole steps
@example(("sweep", {"base order": 2, "action": 3}, {}))
@example(("scenario", {"delay time": 3.5, "fixed time": 3}, {}))  # set, and scale by 2
@example(("calibration", {"adjust time": 1, "clip max": 12}, {}))
def test_generated_model_override_equals_edit(models, tmp_path, change):
    way, constants, control = change
    model = models(GENERATED)
    got = run_changed(model, way, constants, control, tmp_path)
    want = models(edit(GENERATED, {**constants, **control})).run()
    assert_same(got, only(want, got.columns), f"{way} {constants} {control}")


def test_command_line_overrides_equal_edit(models, tmp_path):
    """`smartspec run` with --set, --changes and every control option: the CSV it writes
    holds the numbers of the model with those values written in."""
    path = tmp_path / "generated.mdl"
    path.write_text(GENERATED, encoding="utf-8")
    cin = tmp_path / "change.cin"
    cin.write_text("delay time = 3.5\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    proc = run_cli("run", path, "-o", out, "--set", "base order=3", "--set", "fixed time=3", "--changes", cin,
                   "--time-step", "0.25", "--saveper", "1", "--initial-time", "1", "--final-time", "6", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    want = models(edit(GENERATED, {"base order": 3, "fixed time": 3, "delay time": 3.5, "time step": 0.25,
                                   "saveper": 1, "initial time": 1, "final time": 6})).run()
    header, *rows = [line.split(",") for line in out.read_text(encoding="utf-8").splitlines()]
    got = np.array(rows, dtype=float)
    assert header[0] == "Time" and header[1:] == want.columns
    assert_same(type(want)(got[:, 0], header[1:], got[:, 1:]), want, "smartspec run with options")


def test_changes_file_table_equals_edit(models, tmp_path):
    points = [(0.0, 0.0), (5.0, 2.0), (30.0, 2.5)]
    cin = tmp_path / "table.cin"
    cin.write_text("base order = 2\neffect table (\n" + ",".join(f"({x},{y})" for x, y in points) + ")\n",
                   encoding="utf-8")
    got = models(GENERATED).run(changes=str(cin))
    want = models(edit_table(edit(GENERATED, {"base order": 2}), "effect table", points)).run()
    assert_same(got, want, "changes file with a lookup table")


# ---- published models: every kind of constant they have -----------------------------

PUBLISHED = ["test-models/tests/delays/test_delays.mdl", "test-models/tests/smooth/test_smooth.mdl",
             "test-models/tests/delay_fixed/test_delay_fixed.mdl", "test-models/tests/lookups/test_lookups.mdl",
             "test-models/tests/subscripted_delays/test_subscripted_delays.mdl",
             "real-models/thyroid-dynamics/thyroid-2008-d.mdl"]


@pytest.mark.parametrize("case", PUBLISHED)
@settings(max_examples=2, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_published_model_override_equals_edit(models, case, data):
    text = shared_path(*case.split("/")).read_text(encoding="utf-8", errors="replace")
    model = models(text)
    lowered = model.schedule.model.variables
    editable = sorted(n for n in model.constants
                      if "[" not in n and not lowered[ir.canonical_name(n)].unchangeable)
    if not editable:
        pytest.skip(f"{case} has no scalar constant")
    names = data.draw(st.lists(st.sampled_from(editable), min_size=1, max_size=2, unique=True))
    scale = data.draw(st.sampled_from([0.5, 2.0]))
    values = {}
    for n in names:
        v = model.constants[n] * scale
        if n.upper() in ("FINAL TIME", "INITIAL TIME") or v == 0:
            v = model.constants[n] + 1
        values[n] = v
    got = model.run(params=values)
    want = models(edit(text, values)).run()
    assert_same(got, want, f"{case} {values}")


def test_world3_changes_file_equals_edit(models, tmp_path):
    """World3's own .cin scenario against World3 with its constants edited in."""
    mdl = shared_path("real-models", "WRLD3-03", "wrld3-03.mdl")
    cin = shared_path("real-models", "WRLD3-03", "W303S02.CIN")
    from smartspec_dsl.frontend.changes import read_changes
    ch = read_changes(cin)
    text = mdl.read_text(encoding="utf-8", errors="replace")
    edited = edit(text, {n: v for n, v in ch.constants.items()})
    for name, table in ch.tables.items():
        edited = edit_table(edited, name, zip(table.xs, table.ys))
    assert_same(models(text).run(changes=str(cin)), models(edited).run(), f"World3 with {cin.name}")


# ---- the issue's example, derived by hand ----------------------------------------------

ISSUE = """demand = 10 + STEP(10, 1) ~~|
smoothing time = 4 ~~|
smoothing order = 2 ~~|
perceived demand = SMOOTH N(demand, smoothing time, demand, smoothing order) ~~|
INITIAL TIME = 0 ~~| FINAL TIME = 8 ~~| TIME STEP = 1 ~~| SAVEPER = TIME STEP ~~|
"""
# Order 4, stage time 4/4 = 1 = TIME STEP: each Euler step moves every stage to the value of
# the one before it (s_k += (s_(k-1) - s_k) * 1/1), so the step of demand at time 1 reaches
# the fourth stage four steps later.
ORDER_4 = [10, 10, 10, 10, 10, 20, 20, 20, 20]
# Order 2, stage time 2: s1 = 10, 10, 15, 17.5, ...; s2 += (s1 - s2) / 2.
ORDER_2 = [10, 10, 10, 12.5, 15, 16.875, 18.125, 18.90625, 19.375]


def test_smooth_n_order_set_at_run_time(models, tmp_path):
    model = models(ISSUE)
    assert list(model.run()["perceived demand"]) == ORDER_2
    assert list(model.run(params={"smoothing order": 4})["perceived demand"]) == ORDER_4
    P = model.parameter_matrix({"smoothing order": [4, 2, 4]})
    batch = model.run_batch(P, outputs=["perceived demand"]).values[:, :, 0]
    assert [list(r) for r in batch] == [ORDER_4, ORDER_2, ORDER_4]
    path = tmp_path / "issue.mdl"
    path.write_text(ISSUE, encoding="utf-8")
    proc = run_cli("run", path, "--set", "smoothing order=4", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    rows = [line.split(",") for line in proc.stdout.strip().splitlines()[1:]]
    assert [float(r[4]) for r in rows] == ORDER_4


DELAY_N = """input = STEP(1, 1) ~~|
delay time = 2 ~~|
delayed = DELAY N(input, delay time, 0, 4) ~~|
INITIAL TIME = 0 ~~| FINAL TIME = 6 ~~| TIME STEP = 0.5 ~~| SAVEPER = 1 ~~|
"""


def test_delay_n_order_follows_the_run_time_step(models):
    """With stage time = TIME STEP a material stage passes on all it holds each step
    (level += dt * (in - level/dt)), so DELAY N is a shift by the delay time. Order 4 at
    TIME STEP 0.5 is such a chain; at TIME STEP 1 Vensim lowers the order to 2 (stages of
    one TIME STEP), again a shift: the step of input at 1 comes out at 3 either way."""
    model = models(DELAY_N)
    shifted = [0, 0, 0, 1, 1, 1, 1]
    assert list(model.run()["delayed"]) == shifted
    assert list(model.run(time_step=1)["delayed"]) == shifted
    assert list(model.run(params={"TIME STEP": 1})["delayed"]) == shifted


def test_saveper_set_or_given_reaches_its_column(models):
    model = models(ISSUE)
    for result in (model.run(saveper=2), model.run(params={"SAVEPER": 2})):
        assert list(result.time) == [0, 2, 4, 6, 8]
        assert list(result["SAVEPER"]) == [2] * 5
    assert list(model.run(time_step=0.5)["SAVEPER"])[:2] == [0.5, 0.5]


def test_bad_structural_value_is_an_error_naming_it(models):
    from smartspec_dsl import ModelError
    model = models(ISSUE)
    with pytest.raises(ModelError, match=r"SMOOTH N's order must be at least 1, got 0.*this run's values"):
        model.run(params={"smoothing order": 0})


def test_control_computed_during_the_run_refuses_a_run_value(models):
    from smartspec_dsl import ModelError
    model = models(ISSUE.replace("SAVEPER = TIME STEP", "SAVEPER = IF THEN ELSE(Time < 4, 1, 2)"))
    with pytest.raises(ModelError, match=r"SAVEPER is computed during the run"):
        model.run(saveper=0.5)


def test_batch_refuses_runs_whose_times_differ(models):
    from smartspec_dsl import ModelError
    model = models(ISSUE.replace("FINAL TIME = 8", "horizon = 8 ~~| FINAL TIME = horizon"))
    assert len(model.run(params={"horizon": 4}).time) == 5
    with pytest.raises(ModelError, match=r"'horizon' varies between runs, but FINAL TIME"):
        model.run_batch(model.parameter_matrix({"horizon": [4, 8]}))


def test_a_parameter_on_an_element_of_an_array_defined_in_pieces(tmp_path):
    """k2 is defined in two pieces over A and C, which Whole holds: an element of either
    piece is one of k2's, whichever piece comes first. By hand: k2[c2] = 50 gives z[c2] =
    2 x 50 = 100, k2[a1] = 7 leaves z alone; an element of neither is refused naming the
    range as the modeller wrote it ('Whole'), and z[a1] names 'C'."""
    from smartspec_dsl.errors import ParameterError
    path = tmp_path / "m.mdl"
    path.write_text("A: a1, a2, a3 ~~|\nC: c1, c2 ~~|\nWhole: A, C ~~|\nk2[A] = 1, 2, 3 ~~|\nk2[C] = 4, 5 ~~|\n"
                    "z[C] = k2[C] * 2 ~~|\nINITIAL TIME = 0 ~~| FINAL TIME = 2 ~~| TIME STEP = 1 ~~| SAVEPER = 1 ~~|\n")
    model = smartspec_dsl.load(path, tier="interpreter")
    run = model.run(tier="interpreter", params={"k2[c2]": 50, "k2[A1]": 7})
    assert [run[c][0] for c in ("k2[a1]", "k2[a2]", "k2[c1]", "k2[c2]", "z[c1]", "z[c2]")] == [7, 2, 4, 50, 8, 100]
    with pytest.raises(ParameterError, match=r"'k2\[x9\]': 'x9' is not an element of 'Whole' \(a1, a2, a3, c1, c2\)"):
        model.run(params={"k2[x9]": 1})
    with pytest.raises(ParameterError, match=r"'z\[a1\]': 'a1' is not an element of 'C' \(c1, c2\)"):
        model.run(params={"z[a1]": 1})


def test_a_parameter_on_a_whole_array_defined_in_pieces_sets_every_piece(tmp_path):
    """Setting a variable by its name sets all its elements, every piece's (PySD's run API
    does the same). By hand at t = 2: z[c1] = SUM(x[c1, D]) x k[c1] + k2[c1] = (2 + 4 + 6) x 10
    + 9 = 129 with k2 = 9; with x = 1 everywhere, z[c1] = 3 x 10 + 4 = 34 and total = 15 x 1;
    return_columns=['k2'] returns both pieces' elements."""
    path = tmp_path / "m.mdl"
    path.write_text("A: a1, a2, a3 ~~|\nC: c1, c2 ~~|\nD: d1, d2, d3 ~~|\nWhole: A, C ~~|\n"
                    "x[A, D] = 1, 2, 3; 4, 5, 6; 7, 8, 9 ~~|\nx[C, D] = Time * D ~~|\nk[Whole] = 10 ~~|\n"
                    "k2[A] = 1, 2, 3 ~~|\nk2[C] = 4, 5 ~~|\ny[A] = SUM(x[A, D!]) + k[A] + k2[A] ~~|\n"
                    "z[C] = SUM(x[C, D!]) * k[C] + k2[C] ~~|\ntotal = SUM(x[Whole!, D!]) ~~|\n"
                    "INITIAL TIME = 0 ~~| FINAL TIME = 2 ~~| TIME STEP = 1 ~~| SAVEPER = 1 ~~|\n")
    model = smartspec_dsl.load(path, tier="interpreter")
    assert model.run(tier="interpreter", params={"k2": 9})["z[c1]"][-1] == 129
    run = model.run(tier="interpreter", params={"x": 1})
    assert (run["z[c1]"][-1], run["total"][-1]) == (34, 15)
    assert model.run(tier="interpreter", return_columns=["k2"]).columns == \
        ["k2[a1]", "k2[a2]", "k2[a3]", "k2[c1]", "k2[c2]"]
