"""A modeller's name given from outside the model file (a run's params, a changes file's
line, --set, a sweep's parameters and outputs, a result's column) is read as the model file
reads it: the name and each subscript bare or in double quotes, any case, spaces or
underscores. A name that needs quotes (`"cost/unit"`) is written quoted, subscripted too.
A variable defined for some elements of its range only is named by those elements, and a
subscripted constant named whole sets each of its elements wherever a run's changes are read."""
import csv

import numpy as np
import pytest

import smartspec_dsl
from smartspec_dsl import ir
from smartspec_dsl.cli import main
from smartspec_dsl.errors import ModelError

MODEL = """{UTF-8}
R: r1, r2, r3 ~~|
"cost/unit"[R] = 1, 2, 3 ~~|
"price/unit" = 5 ~~|
y[R] = "cost/unit"[R] * "price/unit" ~~|
Growth Rate[R] = 0.1 ~~|
g[R] = Growth Rate[R] * 10 ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 1 ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("quoted") / "q.mdl"
    path.write_text(MODEL)
    return smartspec_dsl.load(path)


@pytest.mark.parametrize("text, name, subs", [
    ('"cost/unit"[r2]', "cost/unit", ("r2",)),
    ('Growth Rate["r3"]', "growth rate", ("r3",)),
    ('"Growth_Rate" [ "R3" ]', "growth rate", ("r3",)),
    ('"a[b], c"', "a[b], c", None),              # brackets and a comma inside the quotes
    ('x["e, 1", f]', "x", ("e, 1", "f")),
    ('"q\\"x"[a]', 'q"x', ("a",)),                 # an escaped quote, as in the model file
    ("Growth_rate", "growth rate", None),
])
def test_names_read_as_the_model_file_reads_them(text, name, subs):
    assert ir.read_reference(text) == (name, subs)


def test_changes_file_sets_quoted_subscripted_names(model, tmp_path):
    """`"cost/unit"[r2] = 9` sets that element (it was refused: "is not a variable ... did
    you mean 'cost/unit[r2]'"); by hand y = cost/unit * 5 = 5, 45, 15. `Growth Rate["r3"]`
    (a quoted element) sets g[r3] = 0.5 * 10 = 5, the others 0.1 * 10 = 1."""
    cin = tmp_path / "b.cin"
    cin.write_text('"cost/unit"[r2] = 9\nGrowth Rate["r3"] = 0.5\n')
    r = model.run(changes=cin, tier="interpreter")
    assert [r[f"y[{e}]"][0] for e in ("r1", "r2", "r3")] == [5, 45, 15]
    assert [r[f"g[{e}]"][0] for e in ("r1", "r2", "r3")] == pytest.approx([1, 1, 5], abs=1e-12)


def test_params_outputs_and_columns_take_the_same_spellings(model):
    """params, return_columns and a result's columns take quoted names and elements."""
    r = model.run(params={'"cost/unit"[r2]': 9, 'growth_rate["R3"]': 0.7},
                  return_columns=['"y"["r2"]', 'g[r3]'], tier="interpreter")
    assert r.columns == ["y[r2]", "g[r3]"]
    assert r.values[0].tolist() == pytest.approx([45, 7], abs=1e-12)
    assert r['"g"[r3]'][0] == pytest.approx(7, abs=1e-12)
    with pytest.raises(ModelError, match=r"'\"cost/unit\"\[r9\]': 'r9' is not an element of 'R'"):
        model.run(params={'"cost/unit"[r9]': 1}, tier="interpreter")


def test_sweep_parameters_and_outputs_take_quoted_names(model):
    """A sweep over `"cost/unit"[r3]` = 1, 4 with output `"y"[r3]`: y[r3] = 5, 20."""
    res = smartspec_dsl.sweep(model, {'"cost/unit"[r3]': [1.0, 4.0]}, outputs=['"y"["r3"]'],
                              times="final", progress=False, tier="interpreter")
    assert res.values[:, 0, 0].tolist() == [5, 20]
    assert res['"y"[r3]'][:, 0].tolist() == [5, 20]


def test_set_on_the_command_line_takes_quoted_names(model, tmp_path, capsys):
    """`--set '"cost/unit"[r1]=4'`: y[r1] = 4 * 5 = 20."""
    out = tmp_path / "o.csv"
    assert main(["run", str(model.path), "--set", '"cost/unit"[r1]=4', "-o", str(out), "--quiet", "--tier", "interpreter"]) == 0
    header, first = out.read_text().splitlines()[:2]
    cols = header.split(",")
    assert float(first.split(",")[cols.index("y[r1]")]) == 20


PARTIAL = """{UTF-8}
R: a1, a2, a3 ~~|
x[a1] = 1 ~~|
x[a3] = Time ~~|
s = INTEG(x[a1] + x[a3], 0) ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 1 ~~|
TIME STEP = 0.5 ~~|
SAVEPER = 0.5 ~~|
"""


@pytest.fixture(scope="module")
def partial(tmp_path_factory):
    path = tmp_path_factory.mktemp("partial") / "p.mdl"
    path.write_text(PARTIAL)
    return smartspec_dsl.load(path)


def test_a_partial_definition_takes_one_value_per_element_it_has(partial, tmp_path):
    """x is defined for a1 and a3 of R only: its columns are those two, a list gives one value
    each (x = [1, 3]: s' = 4, s = 0, 2, 4 at 0, 0.5, 1), three values are refused, and x[a2]
    is named as a gap of x, by params, a changes file and a sweep alike."""
    assert [c for c in partial.run(tier="interpreter").columns if c.startswith("x")] == ["x[a1]", "x[a3]"]
    r = partial.run(params={"x": [1, 3]}, tier="interpreter")
    assert r["x[a3]"].tolist() == [3, 3, 3] and r["s"].tolist() == [0, 2, 4]
    with pytest.raises(ModelError, match=r"values for 'x' have shape \(3,\); it has 2"):
        partial.run(params={"x": [1, 2, 3]}, tier="interpreter")
    gap = r"'x' is not defined for a2; it has a1, a3"
    with pytest.raises(ModelError, match=gap):
        partial.run(params={"x[a2]": 5}, tier="interpreter")
    cin = tmp_path / "c.cin"
    cin.write_text("x[a2] = 5\n")
    with pytest.raises(ModelError, match="c.cin:1: " + gap):
        partial.run(changes=cin, tier="interpreter")
    with pytest.raises(ModelError, match=gap):
        smartspec_dsl.sweep(partial, {"x[a2]": [1.0, 2.0]}, progress=False, tier="interpreter")
    # x[a1] = 2, 5 in a sweep (Euler, step 0.5): s at 1 = 0.5 (x[a1] + 0) + 0.5 (x[a1] + 0.5)
    # = x[a1] + 0.25: 2.25, 5.25
    res = smartspec_dsl.sweep(partial, {"x[a1]": [2.0, 5.0]}, outputs=["s"], times="final",
                              progress=False, tier="interpreter")
    assert res.values[:, 0, 0].tolist() == [2.25, 5.25]


SCENARIOS = """outputs = ["y[r1]", "y[r3]"]
times = "final"
[[scenarios]]
name = "b"
cin = "b.cin"
[[scenarios]]
name = "c"
set = { "Growth" = 0.5 }
[[scenarios]]
name = "d"
scale = { "growth[R]" = 2, "k" = 3 }
"""


def test_a_sweeps_scenario_names_a_subscripted_constant_whole(tmp_path):
    """A scenario's set, scale and changes file name growth[R] (0.1, 0.2, 0.3) whole, as a
    run's params and changes file do (it was refused: "'growth' is not a variable"). By hand
    y = growth * k (k = 2): b (growth = 0.05): 0.1, 0.1; c (0.5): 1, 1; d (growth x 2, k x 3):
    0.2 * 6 = 1.2, 0.6 * 6 = 3.6."""
    from smartspec_dsl.experiments.spec import read_spec
    (tmp_path / "cont.mdl").write_text("R: r1, r2, r3 ~~|\ngrowth[R] = 0.1, 0.2, 0.3 ~~|\nk = 2 ~~|\n"
                                       "y[R] = growth[R] * k ~~|\nINITIAL TIME = 0 ~~|\nFINAL TIME = 1 ~~|\n"
                                       "TIME STEP = 1 ~~|\nSAVEPER = 1 ~~|\n")
    (tmp_path / "b.cin").write_text("growth = 0.05\n")
    (tmp_path / "spec.toml").write_text(SCENARIOS)
    model = smartspec_dsl.load(tmp_path / "cont.mdl")
    spec = read_spec(tmp_path / "spec.toml", model)
    res = smartspec_dsl.sweep(model, spec.sampler, progress=False, tier="interpreter", **spec.options)
    np.testing.assert_allclose(res.values[:, 0, :], [[0.1, 0.1], [1, 1], [1.2, 3.6]], atol=1e-12)
    (tmp_path / "spec.toml").write_text(SCENARIOS.replace('"Growth"', '"y"'))
    with pytest.raises(ModelError, match=r"scenarios.\"c\": 'y': 'y\[r1\]' is an auxiliary, not a constant"):
        read_spec(tmp_path / "spec.toml", model)


def test_vars_names_the_elements_a_partial_definition_has(tmp_path):
    """x[S1] and x[r4] of R: r1..r5 have no x[r5]; z[r2], z[r3] no z[r1]: the documentation
    names their pieces ('S1, r4', 'r2, r3'), not a range with elements they lack (R, S1);
    p[S1], p[S2] span R whole."""
    from smartspec_dsl.runtime.doc import rows
    from smartspec_dsl.frontend.parse import parse_model
    model = parse_model("R: r1, r2, r3, r4, r5 ~~|\nS1: r1, r2, r3 ~~|\nS2: r4, r5 ~~|\nx[S1] = 1 ~~|\n"
                        "x[r4] = 2 ~~|\nz[r2] = 1 ~~|\nz[r3] = 3 ~~|\np[S1] = 1 ~~|\np[S2] = 2 ~~|\n")
    subs = {row.real_name: row.subscripts for row in rows(model)}
    assert (subs["x"], subs["z"], subs["p"]) == (("S1, r4",), ("r2, r3",), ("R",))


ODD = """{UTF-8}
R: r1, r2 ~~|
"a[b]" = 1 ~~|
"sum(x)" = 8 ~~|
"a=b" = 3 ~~|
"x, y"[R] = 2, 3 ~~|
out = "a[b]" + "sum(x)" + "a=b" + "x, y"[r2] ~~|
pop[R] = INTEG(1, "x, y"[R]) ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 1 ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""


def test_names_holding_brackets_parentheses_and_equals(tmp_path):
    """Names that need quotes for the brackets, parentheses, '=' or comma they hold, set by
    params (also by their own column name, 'a[b]'), a changes file and --set: out = a[b] +
    sum(x) + a=b + "x, y"[r2] = 1 + 8 + 3 + 3 = 15 by default; 10 + 10 + 7 + 3 = 30 with
    the changes file; a=b set to 5 on the command line: 1 + 8 + 5 + 3 = 17."""
    path = tmp_path / "odd.mdl"
    path.write_text(ODD)
    model = smartspec_dsl.load(path)
    r = model.run(params={"a[b]": 10}, return_columns=["a[b]", "out"], tier="interpreter")
    assert r.columns == ["a[b]", "out"] and r.values[0].tolist() == [10, 24]
    cin = tmp_path / "n.cin"
    cin.write_text('"sum(x)" = 10\n"a=b" = 7\n"a[b]" = 10\n')
    assert model.run(changes=cin, tier="interpreter")["out"][0] == 30
    out = tmp_path / "o.csv"
    assert main(["run", str(path), "--set", '"a=b"=5', "-o", str(out), "--quiet", "--tier", "interpreter"]) == 0
    header, first = list(csv.reader(out.read_text().splitlines()))[:2]
    assert float(first[header.index("out")]) == 17


def test_a_sweeps_outputs_name_a_subscripted_variable_whole(tmp_path):
    """outputs=["pop"] gives each element of pop[R], as return_columns does (it was refused:
    "'pop' is not a variable"): pop = "x, y" + Time: at 1, 3 and 4."""
    path = tmp_path / "odd.mdl"
    path.write_text(ODD)
    model = smartspec_dsl.load(path)
    res = smartspec_dsl.sweep(model, {'"sum(x)"': [1.0, 2.0]}, outputs=["pop"], times="final",
                              progress=False, tier="interpreter")
    assert list(res.outputs) == ["pop[r1]", "pop[r2]"]
    assert res.values[:, 0, :].tolist() == [[3, 4], [3, 4]]
    with pytest.raises(ModelError, match="'nope' is not a variable"):
        smartspec_dsl.sweep(model, {'"sum(x)"': [1.0]}, outputs=["nope"], progress=False, tier="interpreter")
