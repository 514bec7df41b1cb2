"""Messages and tables name variables as the modeller wrote them: a data array's values,
a changes file's lines about subscripted constants, the ranges `vars` lists."""
import pytest

import smartspec_dsl
from smartspec_dsl.errors import ModelError
from smartspec_dsl.frontend.workbook import DataOptions
from smartspec_dsl.runtime.doc import rows

DATA_ARRAY = """{UTF-8}
DimA: A1, A2, A3 ~~|
A Values[DimA] ~~|
twice[DimA] = A Values[DimA] * 2 ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 4 ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""

PIECES = """{UTF-8}
R: a1, a2, a3, a4 ~~|
rate[a1] = 0.05 ~~|
rate[a3] = 0.2 ~~|
rate[R] :EXCEPT: [a1], [a3] = 0.1 * Time + Base Rate[R] ~~|
Base Rate[R] = 0.01, 0.02, 0.03, 0.04 ~~|
part[a1] = 1 ~~|
part[a3] = 2 ~~|
s[R] = INTEG(rate[R], 10) ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 2 ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""


def test_data_array_held_beyond_its_points_without_a_warning(tmp_path):
    """A data array's element whose points start after INITIAL TIME (A3: 100 at 1, 300 at 3)
    holds its first and last values beyond them, as Vensim reads data, and says nothing (it
    warned that its input was below its x range [1, 3] at time 0)."""
    (tmp_path / "m.mdl").write_text(DATA_ARRAY)
    (tmp_path / "d.csv").write_text("Time,A Values[A1],A Values[A2],A Values[A3]\n0,10,3,\n1,,,100\n"
                                    "3,,,300\n4,0.5,3,\n")
    m = smartspec_dsl.load(tmp_path / "m.mdl", tier="interpreter",
                           data=DataOptions(data_files=(tmp_path / "d.csv",)))
    r = m.run(tier="interpreter")
    assert r.warnings == []
    assert r["twice[A3]"].tolist() == [200, 200, 400, 600, 600]   # the points held at the ends


@pytest.fixture(scope="module")
def pieces(tmp_path_factory):
    path = tmp_path_factory.mktemp("names") / "m.mdl"
    path.write_text(PIECES)
    return smartspec_dsl.load(path, tier="interpreter")


def test_changes_file_sets_every_element_of_a_subscripted_constant(pieces, tmp_path):
    """`Base Rate = 7` in a changes file sets each element of the subscripted constant, as
    params={"Base Rate": 7} does (it was refused as "not a variable"); `base rate[A2] = 9`
    (any case) sets one. By hand, rate[a2] = 0.1 * Time + 7: 7, 7.1, 7.2, and s[a2] = 10,
    17, 24.1."""
    cin = tmp_path / "all.cin"
    cin.write_text("Base Rate = 7\n")
    r = pieces.run(changes=cin, tier="interpreter")
    assert [r[f"Base Rate[{e}]"][0] for e in ("a1", "a2", "a3", "a4")] == [7, 7, 7, 7]
    assert r["rate[a2]"].tolist() == pytest.approx([7, 7.1, 7.2], abs=1e-12)
    assert r["s[a2]"].tolist() == pytest.approx([10, 17, 24.1], abs=1e-12)
    assert r["rate[a1]"].tolist() == [0.05] * 3                          # a number of its own
    one = tmp_path / "one.cin"
    one.write_text("base rate[A2] = 9\n")
    r = pieces.run(changes=one, tier="interpreter")
    assert [r[f"Base Rate[{e}]"][0] for e in ("a1", "a2", "a3", "a4")] == [0.01, 9, 0.03, 0.04]


def test_a_sweeps_changes_file_scenario_sets_every_element_too(pieces, tmp_path):
    """A sweep's scenario read from the same changes file gives the run's numbers: s[a2] at
    the final time is 24.1, as above, and the other elements of Base Rate are 7 too."""
    from smartspec_dsl.experiments import samplers
    cin = tmp_path / "all.cin"
    cin.write_text("Base Rate = 7\n")
    res = smartspec_dsl.sweep(pieces, samplers.Scenarios([samplers.Scenario("base"), samplers.Scenario.from_cin(cin)]),
                              outputs=["s[a2]"], times="final", progress=False)
    assert res.values[:, 0, 0].tolist() == pytest.approx([10 + 0.02 + 0.12, 24.1], abs=1e-12)
    assert res.params["Base Rate[a4]"].tolist() == [0.04, 7]


@pytest.mark.parametrize("line, message", [
    ("rate[R] = 0.1", r"c\.cin:1: 'rate\[R\]': 'rate\[a2\]' is an? \w+, not a constant"),
    ("rate[a2] = 0.1", r"c\.cin:1: 'rate\[a2\]' is an? \w+, not a constant"),
    ("Base Rate[a9] = 1", r"c\.cin:1: 'Base Rate\[a9\]': 'a9' is not an element of 'R'"),
    ("nothing = 1", r"c\.cin:1: 'nothing' is not a variable"),
])
def test_changes_file_errors_name_what_the_modeller_wrote(pieces, tmp_path, line, message):
    """A changes file sets constants only; its errors quote the line's name as written
    (they gave the lower-case key, 'rate[r]') and the element that is no constant."""
    cin = tmp_path / "c.cin"
    cin.write_text(line + "\n")
    with pytest.raises(ModelError, match=message):
        pieces.run(changes=cin, tier="interpreter")


def test_documentation_gives_the_range_a_variable_in_pieces_spans(pieces):
    """A variable defined in pieces (rate[a1], rate[a3], rate[R] :EXCEPT:) is listed under
    the range R that spans its pieces, not under its first piece's element a1; one defined
    for some elements only (part[a1], part[a3]) by those elements, not R (it has no a2, a4)."""
    subs = {row.real_name: row.subscripts for row in rows(pieces.ir)}
    assert subs["rate"] == ("R",) and subs["Base Rate"] == ("R",)
    assert subs["part"] == ("a1, a3",)


MISSING_FILES = """{UTF-8}
R: r1, r2 ~~|
Unit Cost = GET DIRECT CONSTANTS('costs.csv', ',', 'B2') ~~|
Regional Cost[R] = GET DIRECT CONSTANTS('costs.csv', ',', 'B3*') ~~|
Demand History := GET DIRECT DATA('history.csv', ',', 'A', 'B2') ~~|
Present Cost = GET DIRECT CONSTANTS('present.csv', ',', 'B2') ~~|
y = Unit Cost * Demand History + SUM(Regional Cost[R!]) + Present Cost ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 2 ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""


def test_every_missing_data_file_is_reported_at_once(tmp_path):
    """A model that ships without its data files is told every file it lacks in one error,
    each at its first GET call (file:line:column) with the modeller's variable, and how many
    other calls read it; it stopped at the first."""
    (tmp_path / "m.mdl").write_text(MISSING_FILES)
    (tmp_path / "present.csv").write_text("name,value\ncost,4\n")
    with pytest.raises(ModelError) as err:
        smartspec_dsl.load(tmp_path / "m.mdl", tier="interpreter")
    lines = str(err.value).splitlines()
    assert len(lines) == 2
    assert ":3:13: external file 'costs.csv' not found" in lines[0]
    assert lines[0].endswith("(in the equation of 'Unit Cost'; 1 other GET call too)")
    assert ":5:19: external file 'history.csv' not found" in lines[1]
    assert lines[1].endswith("(in the equation of 'Demand History')")


CONTROL = "INITIAL TIME = 0 ~~| FINAL TIME = 2 ~~| TIME STEP = 0.5 ~~| SAVEPER = 0.5 ~~|\n"


@pytest.mark.parametrize("text, message", [
    ("X = Undefined Thing + 1 ~~|\n", r"^m\.mdl:1:5: undefined variable 'Undefined Thing' used in the equation of 'X'$"),
    ("Region: North, South ~~|\nX[Region] = Undefined Thing[Region] + 1 ~~|\n",
     r"^m\.mdl:2:13: undefined variable 'Undefined Thing' used in the equation of 'X\[North\]'$"),
    ("Region: North, South ~~|\nX[Region] = 1 ~~|\nY[Region] = X[Nowhere] ~~|\n",
     r"^m\.mdl:3:\d+: unknown subscript 'Nowhere': not a subscript range or element$"),
    ("R: r1, r2, r3 ~~|\nS1: r1, r2 ~~|\nS2: r2, r3 ~~|\na[R] = 1 ~~|\nb[S1] = a[S2] ~~|\n",
     r"^m\.mdl:5:\d+: subscript range 'S2' is not bound by the left-hand side"),
    ("R: r1, r2, r3 ~~|\nx = a[R!] ~~|\na[R] = 1 ~~|\n", r"^m\.mdl:2:\d+: 'R!' is only allowed inside an array function"),
    ("R: r1, r2, r3 ~~|\nR2 <-> R ~~|\nx[R2] = 1 ~~|\n",
     r"^m\.mdl:1:1: subscript range 'R' is defined in terms of itself: 'R' lists 'R2', 'R2' is an alias of 'R' "
     r"\(an element named as a subscript range is read as that range\)$"),
])
def test_model_errors_quote_names_as_written(text, message):
    """Errors about the model quote its names as the modeller wrote them: an undefined name,
    an unknown subscript, a range (they gave them lower-cased, 'undefined thing', 's2'), and
    a range whose element has another range's name says so."""
    from smartspec_dsl.frontend.parse import parse_model
    from smartspec_dsl.passes.order import schedule
    from smartspec_dsl.passes.pipeline import lower
    with pytest.raises(ModelError, match=message):
        schedule(lower(parse_model(text + CONTROL, "m.mdl")))


LOOKED_UP = """
Region: North, South ~~|
Growth Rate[Region] = 0.1, -0.2 ~~|
My Table((0,0),(1,1)) ~~|
Looked Up[Region] = My Table(Time * Growth Rate[Region] * 20) ~~|
Shifted[Region] = WITH LOOKUP(Time * Growth Rate[Region] * 20, ((0, 0), (1, 1))) ~~|
""" + CONTROL


@pytest.mark.parametrize("tier", ["interpreter", "compiled"])
def test_a_dense_arrays_lookup_warnings_name_the_element(tmp_path, tier):
    """A lookup read in an array kept whole warns per element, as the per-element route does
    (it said 'Looked Up', not which element): North's input 20 * 0.1 * Time passes 1 after
    t = 0.5 (at 1), South's -4 * Time falls below 0 at 0.5."""
    path = tmp_path / "m.mdl"
    path.write_text(LOOKED_UP)
    model = smartspec_dsl.load(path, cache_dir=tmp_path / "cache", tier=tier)
    assert model.schedule.model.variables.arrays["looked up"].dims
    got = sorted(w.message.split(": ", 1)[1] for w in model.run(tier=tier).warnings)
    assert got == sorted(
        f"the input of {what} in the equation of '{name}[{region}]' goes {side} its x range [0, 1] at time {t}"
        for what, name in (("lookup 'My Table'", "Looked Up"), ("WITH LOOKUP", "Shifted"))
        for region, side, t in (("North", "above", 1), ("South", "below", 0.5)))


def test_a_value_given_twice_is_refused(pieces):
    """A run's params set each value once, as a sweep's spec does: one element by two
    spellings, or an element and its array (in either order; the last one won in silence)."""
    for params in ({"base rate[a2]": 0.5, "BASE RATE[A2]": 5.5}, {"Base Rate": 0.5, "base rate[a2]": 5.5},
                   {"base rate[a2]": 5.5, "Base Rate": 0.5}):
        with pytest.raises(ModelError, match=r"'Base Rate\[a2\]' is given twice, as '[^']+' and as '[^']+'"):
            pieces.run(params=params, tier="interpreter")
    r = pieces.run(params={"Base Rate[a1]": 0.5, "base rate[a2]": 5.5}, tier="interpreter")
    assert [r[f"Base Rate[{e}]"][0] for e in ("a1", "a2", "a3")] == [0.5, 5.5, 0.03]


def test_a_stepper_keeps_an_arrays_value_for_the_elements_a_later_step_leaves(pieces):
    """A stepper's later values replace the earlier ones of the same elements: Base Rate set
    whole, then one element of it."""
    stepper = pieces.stepper(params={"Base Rate": 1.0})
    stepper.step(1, {"base rate[a2]": 2.0})
    r = stepper.result
    assert [r[f"Base Rate[{e}]"][-1] for e in ("a1", "a2", "a3", "a4")] == [1, 2, 1, 1]
    with pytest.raises(ModelError, match=r"'Base Rate\[a3\]' is given twice"):
        stepper.step(1, {"base rate[a3]": 2.0, "Base Rate[A3]": 3.0})


PER_ELEMENT_TABLES = """
R: r1, r2, r3 ~~|
tbl[r1]((0,0),(1,1)) ~~|
tbl[r2]((0,1),(1,0)) ~~|
tbl[r3]((0,0),(0.5,2),(1,0)) ~~|
y[R] = tbl[R](MODULO(Time, 1)) ~~|
""" + CONTROL


@pytest.mark.parametrize("line, want", [
    ("tbl((0,3),(1,3))", [3, 3, 3]),              # every element's table (it was "not a lookup")
    ("tbl[R]((0,3),(1,3))", [3, 3, 3]),
    ("tbl[r2]((0,0),(1,5))", [0.5, 2.5, 2]),      # one element's
])
def test_a_changes_file_sets_a_lookup_defined_per_element(tmp_path, line, want):
    """A changes file's table for a lookup defined per element, by its bare name or a range,
    replaces every element's, as a subscripted constant's number and params={"tbl": ...} do.
    y at t = 0.5 reads each table at 0.5: 0.5, 0.5, 2 in the model."""
    path = tmp_path / "m.mdl"
    path.write_text(PER_ELEMENT_TABLES)
    model = smartspec_dsl.load(path, cache_dir=tmp_path / "cache", tier="interpreter")
    cin = tmp_path / "t.cin"
    cin.write_text(line + "\n")
    r = model.run(changes=cin, tier="interpreter")
    assert [r[f"y[r{k}]"][1] for k in (1, 2, 3)] == pytest.approx(want, abs=1e-12)
    cin.write_text("y((0,3),(1,3))\n")
    with pytest.raises(ModelError, match=r"t\.cin:1: 'y' is not a lookup of "):
        model.run(changes=cin, tier="interpreter")
