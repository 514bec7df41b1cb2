"""The XMILE front end: XMILE's own semantics (checked against values derived
by hand from the OASIS XMILE 1.0 standard, section 3), file-type dispatch, and
clean, located errors for bad and hostile files."""
from __future__ import annotations

import numpy as np
import pytest

from smartspec_dsl import ModelError, load
from smartspec_dsl.cli import main
from smartspec_dsl.errors import UnsupportedFeature
from smartspec_dsl.frontend.source import model_format, parse_file
from smartspec_dsl.frontend.xmile import parse_xmile

HEAD = '<?xml version="1.0" encoding="utf-8"?>\n<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">\n'


def doc(variables: str, specs: str = "<start>0</start><stop>10</stop><dt>1</dt>", extra: str = "") -> str:
    return (HEAD + f"<sim_specs>{specs}</sim_specs>\n{extra}<model><variables>\n"
            + variables + "\n</variables></model>\n</xmile>\n")


SEMANTICS = doc("""
<flow name="pulse in"><eqn>PULSE(10, 2, 3)</eqn></flow>
<stock name="pulses"><eqn>0</eqn><inflow>pulse_in</inflow></stock>
<aux name="smoothed"><eqn>SMTH1(10, 2, 0)</eqn></aux>
<aux name="delayed"><eqn>DELAY(TIME, 2, -1)</eqn></aux>
<aux name="floor"><eqn>INT(-2.5)</eqn></aux>
<aux name="safe"><eqn>SAFEDIV(1, 0, 7)</eqn></aux>
<aux name="remainder"><eqn>7 MOD 3</eqn></aux>
<aux name="power"><eqn>-2^2</eqn></aux>
<aux name="logic"><eqn>IF NOT (1 &lt; 2) OR 2 = 2 AND 3 &lt;&gt; 4 THEN 1 ELSE 0</eqn></aux>
<aux name="inline if"><eqn>1 + IF TIME &gt; 100 THEN 5 ELSE 2 * 3</eqn></aux>
<stock name="tank"><eqn>5</eqn><outflow>drain</outflow><non_negative/></stock>
<flow name="drain"><eqn>6</eqn></flow>
<flow name="uni"><eqn>-5</eqn><non_negative/></flow>
<aux name="steps"><eqn>TIME</eqn><gf type="discrete"><xpts>0,5</xpts><ypts>1,2</ypts></gf></aux>
<aux name="line"><eqn>TIME</eqn><gf type="extrapolate"><xscale min="0" max="1"/><ypts>0,2</ypts></gf></aux>
<gf name="table"><xpts sep=";">0;10</xpts><ypts>0,100</ypts></gf>
<aux name="looked up"><eqn>table(TIME / 2) + LOOKUP(table, 1)</eqn></aux>
<aux name="pop"><dimensions><dim name="region"/></dimensions>
  <element subscript="north"><eqn>3</eqn></element><element subscript="south"><eqn>5</eqn></element></aux>
<aux name="double"><dimensions><dim name="region"/></dimensions><eqn>pop[region] * 2</eqn></aux>
<aux name="total"><eqn>SUM(pop[*])</eqn></aux>
<aux name="average"><eqn>MEAN(pop[*])</eqn></aux>
<aux name="biggest"><eqn>MAX(pop[*])</eqn></aux>
<aux name="second"><eqn>pop[2] + "with space"</eqn></aux>
<aux name="with space"><eqn>0.5 {a comment}</eqn></aux>
<aux name="feed"><eqn>4</eqn></aux>
<aux name="prev time"><eqn>PREVIOUS(TIME, -1)</eqn></aux>
<aux name="prev tank"><eqn>PREVIOUS(tank)</eqn></aux>
<aux name="count"><eqn>PREVIOUS(count, 0) + 1</eqn></aux>
<aux name="spread"><eqn>STDDEV(pop[*])</eqn></aux>
<aux name="howmany"><eqn>SIZE(pop[*])</eqn></aux>
<aux name="uniform"><eqn>RANDOM(1, 3, 7)</eqn></aux>
<aux name="degenerate"><eqn>RANDOM(4, 4) + NORMAL(5, 0, 2) + POISSON(0)</eqn></aux>
<aux name="counts"><eqn>POISSON(3, 11)</eqn></aux>
<aux name="waits"><eqn>EXPRND(2)</eqn></aux>
<module name="inner"><connect to="x" from=".feed"/></module>
""", specs='<start>0</start><stop>10</stop><dt reciprocal="true">2</dt>',
    extra='<dimensions><dim name="region"><elem name="north"/><elem name="south"/></dim></dimensions>\n') \
    .replace("</xmile>", '<model name="inner"><variables><aux name="x"><eqn>1</eqn></aux>'
                         '<aux name="y"><eqn>x * 10</eqn></aux></variables></model>\n</xmile>')


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = tmp_path_factory.mktemp("xmile") / "semantics.stmx"
    path.write_text(SEMANTICS, encoding="utf-8")
    result = load(path).run()
    at = {float(t): i for i, t in enumerate(result.time)}
    return lambda name, t: float(result[name][at[t]])


def test_sim_specs_reciprocal_dt(run):
    assert run("pulses", 0.5) == 0.0  # dt = 1/2: a saved time at 0.5


def test_pulse_moves_its_volume_in_one_dt_at_each_interval(run):
    # PULSE(volume, first, interval): volume/DT at t = 2, 5, 8; so the stock steps by 10 after each
    assert run("pulse in", 2.0) == 20.0 and run("pulse in", 2.5) == 0.0 and run("pulse in", 5.0) == 20.0
    assert [run("pulses", t) for t in (2.0, 2.5, 5.5, 8.5, 10.0)] == [0.0, 10.0, 20.0, 30.0, 30.0]


def test_smooth_and_delay_take_their_initial_value(run):
    # SMTH1(10, 2, 0), Euler with dt 0.5: 0, 0 + 0.5*(10-0)/2 = 2.5, 2.5 + 0.5*(10-2.5)/2 = 4.375
    assert [run("smoothed", t) for t in (0.0, 0.5, 1.0)] == [0.0, 2.5, 4.375]
    # DELAY(TIME, 2, -1): the initial value until TIME 2, then TIME - 2
    assert [run("delayed", t) for t in (0.0, 1.5, 2.0, 3.5)] == [-1.0, -1.0, 0.0, 1.5]


def test_operators_and_arithmetic_builtins(run):
    assert run("floor", 0.0) == -3.0          # INT rounds down
    assert run("safe", 0.0) == 7.0            # SAFEDIV's third argument on a zero divisor
    assert run("remainder", 0.0) == 1.0
    assert run("power", 0.0) == -4.0          # ^ binds tighter than unary minus
    assert run("logic", 0.0) == 1.0           # NOT, then AND before OR
    assert run("inline if", 0.0) == 7.0       # IF inside a sum; ELSE takes 2 * 3


def test_previous_is_the_last_dts_value(run):
    # XMILE 1.0 (3.5.x, PREVIOUS): the value at the previous DT, the initial value at the start
    assert [run("prev time", t) for t in (0.0, 0.5, 1.0, 3.5)] == [-1.0, 0.0, 0.5, 3.0]
    # without an initial value: the input's own value at the start (tank: 5, 2, 0, 0)
    assert [run("prev tank", t) for t in (0.0, 0.5, 1.0, 1.5)] == [5.0, 5.0, 2.0, 0.0]
    # a variable's own previous value is not an algebraic loop: it counts the DTs (dt 0.5)
    assert [run("count", t) for t in (0.0, 0.5, 1.0, 10.0)] == [1.0, 2.0, 3.0, 21.0]


def test_non_negative_stock_and_uniflow(run):
    # tank 5 drained at 6 per time unit, dt 0.5: 5 -> 2 -> 0 (not -1) -> 0
    assert [run("tank", t) for t in (0.0, 0.5, 1.0, 1.5)] == [5.0, 2.0, 0.0, 0.0]
    assert run("uni", 3.0) == 0.0


def test_graphical_function_types(run):
    assert run("steps", 4.5) == 1.0 and run("steps", 5.0) == 2.0   # discrete: hold the last point
    assert run("line", 3.0) == 6.0                                 # extrapolate past xscale max 1
    assert run("looked up", 4.0) == 20.0 + 10.0                    # named gf called both ways


def test_arrays(run):
    assert run("double[north]", 0.0) == 6.0 and run("double[south]", 0.0) == 10.0
    assert run("total", 0.0) == 8.0 and run("average", 0.0) == 4.0 and run("biggest", 0.0) == 5.0
    assert run("second", 0.0) == 5.5  # position 2 of region; a quoted name; a {comment}


def test_array_statistics(run):
    # pop = (3, 5): mean 4, population standard deviation sqrt(((3-4)^2 + (5-4)^2) / 2) = 1
    assert run("spread", 0.0) == pytest.approx(1.0, abs=1e-12) and run("howmany", 0.0) == 2.0


def test_statistical_functions_take_xmiles_arguments(run):
    times = [i / 2 for i in range(21)]
    uniform = [run("uniform", t) for t in times]
    assert all(1.0 <= u <= 3.0 for u in uniform) and len(set(uniform)) > 15   # a new draw each DT
    # RANDOM(4, 4) is 4, NORMAL(5, 0) is 5, POISSON of mean 0 is 0
    assert {run("degenerate", t) for t in times} == {9.0}
    counts = [run("counts", t) for t in times]
    assert all(c >= 0 and c == int(c) for c in counts) and len(set(counts)) > 2
    assert all(run("waits", t) > 0 for t in times)


def test_module_connection(run):
    assert run("inner.y", 0.0) == 40.0  # inner's x comes from the main model's feed


def test_file_type_by_extension_and_content(tmp_path):
    xml = doc('<aux name="a"><eqn>1</eqn></aux>')
    assert model_format("m.stmx", "") == "xmile" and model_format("m.itmx", "") == "xmile"
    assert model_format("m.mdl", xml) == "vensim"
    path = tmp_path / "exported.txt"
    path.write_text(xml, encoding="utf-8")
    assert "a" in parse_file(path).variables
    assert main(["check", str(path)]) == 0


def _error(text: str, tmp_path, capsys) -> str:
    path = tmp_path / "bad.xmile"
    path.write_text(text, encoding="utf-8")
    code = main(["run", str(path)])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err
    assert not list(tmp_path.glob("*.csv"))
    return err


def test_malformed_xml_is_located(tmp_path, capsys):
    err = _error(HEAD + "<sim_specs><start>0</start>\n</xmile>", tmp_path, capsys)
    assert "bad.xmile:4:3: malformed XML: mismatched tag" in err


def test_entity_expansion_bomb_is_refused(tmp_path, capsys):
    bomb = ('<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
            + "".join(f'<!ENTITY {c} "{("&" + p + ";") * 10}">' for p, c in zip("abcdefgh", "bcdefghi"))
            + ']>\n<xmile>&i;</xmile>')
    err = _error(bomb, tmp_path, capsys)
    assert "bad.xmile:2:" in err and "entity 'a'" in err and "refused" in err


def test_external_entity_is_refused(tmp_path, capsys):
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read", encoding="utf-8")
    xxe = (f'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY s SYSTEM "file://{secret}">]>\n'
           "<xmile><model><variables><aux name=\"a\"><eqn>&s;</eqn></aux></variables></model></xmile>")
    err = _error(xxe, tmp_path, capsys)
    assert "external entity 's'" in err and "refused" in err and "do not read" not in err


def test_equation_errors_name_the_variable_at_its_place(tmp_path, capsys):
    err = _error(doc('<aux name="Growth Rate">\n  <eqn>1 + * 2</eqn></aux>'), tmp_path, capsys)
    assert "bad.xmile:6:12: syntax error in the equation of 'Growth Rate'" in err
    err = _error(doc('<aux name="a"><eqn>missing_thing * 2</eqn></aux>'), tmp_path, capsys)
    assert "missing thing" in err and "bad.xmile:5:" in err
    err = _error(doc('<aux name="a"><eqn>growth rate * 2</eqn></aux>'), tmp_path, capsys)
    assert "'growth rate' is two names" in err
    err = _error(doc('<aux name="a"><eqn> ??? </eqn></aux>'), tmp_path, capsys)
    assert "'a' is '???'" in err


def test_unsupported_elements_are_reported_where_they_are():
    conveyor = doc('<stock name="belt"><eqn>0</eqn><conveyor><len>3</len></conveyor></stock>')
    with pytest.raises(UnsupportedFeature, match=r"m.xmile:5:1: conveyor 'belt' has 0 outflows: leakage"):
        parse_xmile(conveyor.encode(), "m.xmile")
    with pytest.raises(UnsupportedFeature, match=r"m.xmile:5:1: 'line' is a queue, which is not supported"):
        parse_xmile(doc('<stock name="line"><eqn>0</eqn><queue/></stock>').encode(), "m.xmile")
    with pytest.raises(UnsupportedFeature, match=r"m.xmile:5:20: GEOMETRIC is not supported yet \(in the equation of 'a'"):
        parse_xmile(doc('<aux name="a"><eqn>GEOMETRIC(0.5)</eqn></aux>').encode(), "m.xmile")
    with pytest.raises(UnsupportedFeature, match="RANK takes an arrayed variable"):
        parse_xmile(doc('<aux name="a"><eqn>RANK(a, 1)</eqn></aux>').encode(), "m.xmile")
    with pytest.raises(UnsupportedFeature, match="function 'FOO'"):
        parse_xmile(doc('<aux name="a"><eqn>FOO(1)</eqn></aux>').encode(), "m.xmile")
    with pytest.raises(ModelError, match="dimension 'nowhere' is not defined"):
        parse_xmile(doc('<aux name="a"><dimensions><dim name="nowhere"/></dimensions><eqn>1</eqn></aux>')
                    .encode(), "m.xmile")
    with pytest.raises(ModelError, match="not an XMILE file"):
        parse_xmile(b"<model/>", "m.xmile")


def test_sim_specs_method_is_the_default(tmp_path):
    path = tmp_path / "growth.xmile"
    path.write_text(doc('<stock name="s"><eqn>1</eqn><inflow>g</inflow></stock>'
                        '<flow name="g"><eqn>0.1 * s</eqn></flow>',
                        specs="<start>0</start><stop>2</stop><dt>1</dt>").replace(
                            "<sim_specs>", '<sim_specs method="RK4">'), encoding="utf-8")
    model = load(path)
    # one RK4 step of s' = 0.1 s: 1 + 0.1 + 0.1^2/2 + 0.1^3/6 + 0.1^4/24
    assert model.run()["s"][1] == pytest.approx(1.1051708333333, rel=1e-12)
    assert model.run(method="euler")["s"][1] == pytest.approx(1.1, rel=1e-12)


def test_sweeps_integrate_with_the_files_own_method(tmp_path):
    """A sweep, a spec's plan and `smartspec sweep` of an RK4 file run RK4, as single runs do."""
    from smartspec_dsl.experiments.spec import read_spec
    from smartspec_dsl.experiments.sweep import sweep
    path = tmp_path / "growth.xmile"
    path.write_text(doc('<stock name="s"><eqn>1</eqn><inflow>g</inflow></stock>'
                        '<flow name="g"><eqn>k * s</eqn></flow><aux name="k"><eqn>0.1</eqn></aux>',
                        specs="<start>0</start><stop>2</stop><dt>1</dt>").replace(
                            "<sim_specs>", '<sim_specs method="RK4">'), encoding="utf-8")
    model = load(path)
    ks = [0.1, 0.2, 0.3]
    single = [model.run(params={"k": k})["s"] for k in ks]
    # one RK4 step of s' = k s: 1 + k + k^2/2 + k^3/6 + k^4/24 (Euler would give 1 + k)
    assert single[1][1] == pytest.approx(1 + 0.2 + 0.02 + 0.008 / 6 + 0.0016 / 24, rel=1e-12)
    res = sweep(model, {"k": ks}, outputs=["s"], progress=False)
    assert np.array_equal(res.values[:, :, 0], np.array(single))
    spec = tmp_path / "spec.toml"
    spec.write_text('sampler = "grid"\noutputs = ["s"]\n[parameters]\nk = [0.1, 0.2, 0.3]\n', encoding="utf-8")
    planned = read_spec(spec, model).sampler
    assert planned.run_kw["method"] == "rk4"
    assert np.array_equal(sweep(model, planned, progress=False).values[:, :, 0], np.array(single))
    # an explicit method still wins
    euler = sweep(model, {"k": ks}, outputs=["s"], method="euler", progress=False)
    assert euler.values[1, 1, 0] == pytest.approx(1.2, rel=1e-12)
    pytest.importorskip("pyarrow")
    from smartspec_dsl.experiments import store
    assert main(["sweep", str(path), "--spec", str(spec), "-o", str(tmp_path / "out"), "--no-progress"]) == 0
    stored = store.load(tmp_path / "out")
    assert np.array_equal(stored.values[:, :, stored._out("s")], np.array(single))


# XMILE 1.0 section 3.7.1 (positions computed when the model runs), 3.5.6 (SELF) and
# 4.8 (macros, with default parameters and with variables of their own)
PICKS = doc("""
<aux name="values"><dimensions><dim name="letters"/></dimensions>
  <element subscript="a"><eqn>9</eqn></element><element subscript="b"><eqn>7</eqn></element>
  <element subscript="c"><eqn>5</eqn></element><element subscript="d"><eqn>3</eqn></element>
  <element subscript="e"><eqn>1</eqn></element></aux>
<aux name="picked"><eqn>values[INT(TIME MOD 5) + 1]</eqn></aux>
<aux name="i"><eqn>2</eqn></aux>
<aux name="by variable"><eqn>values[i]</eqn></aux>
<aux name="grid"><dimensions><dim name="two"/><dim name="letters"/></dimensions>
  <element subscript="x, a"><eqn>-1</eqn></element>
  <element subscript="x, b"><eqn>-2</eqn></element>
  <element subscript="x, c"><eqn>-3</eqn></element>
  <element subscript="x, d"><eqn>-4</eqn></element>
  <element subscript="x, e"><eqn>-5</eqn></element>
  <element subscript="y, a"><eqn>10</eqn></element>
  <element subscript="y, b"><eqn>20</eqn></element>
  <element subscript="y, c"><eqn>30</eqn></element>
  <element subscript="y, d"><eqn>40</eqn></element>
  <element subscript="y, e"><eqn>50</eqn></element></aux>
<aux name="in grid"><eqn>grid[i, TIME MOD 5 + 1]</eqn></aux>
<aux name="row pick"><dimensions><dim name="two"/></dimensions><eqn>grid[two, i + 1] + values[5]</eqn></aux>
<aux name="curve"><dimensions><dim name="two"/></dimensions>
  <element subscript="x"><gf><xscale min="0" max="6"/><ypts>0,60</ypts></gf></element>
  <element subscript="y"><gf><xscale min="0" max="6"/><ypts>6,0</ypts></gf></element><eqn>TIME</eqn></aux>
<aux name="outside"><eqn>values[TIME + 4]</eqn></aux>
<aux name="position"><eqn>letters.c * 10</eqn></aux>
<aux name="sizes"><dimensions><dim name="two"/></dimensions><eqn>SIZE(SELF) * 100 + SIZE(grid) * 10 + SIZE(values)</eqn></aux>
<gf name="ramp up"><xpts>0,10</xpts><ypts>0,100</ypts></gf>
<aux name="table functions"><eqn>LOOKUPINV(ramp_up, 30) + LOOKUP_AREA(ramp_up, 0, 2) * 1000 + LOOKUP_FORWARD(ramp_up, 4)</eqn></aux>
<aux name="converted table"><eqn>0+0</eqn><gf><xpts>0,1</xpts><ypts>10,20</ypts></gf></aux>
<aux name="read tables"><eqn>LOOKUP(converted_table, 0.5) + converted_table(1) * 100 + LOOKUP(curve[x], 1.5)</eqn></aux>
<aux name="untranslated"><eqn>{Untranslated function used}LOOKUP BACKWARD(converted_table, 0.5) + LOOKUP FORWARD(converted_table, 0.5)</eqn></aux>
<aux name="read curve"><dimensions><dim name="two"/></dimensions><eqn>curve(6) + LOOKUP(curve[two], 3)</eqn></aux>
<aux name="flipped"><dimensions><dim name="letters"/><dim name="two"/></dimensions><eqn>grid' + grid[@2, @1] / 100</eqn></aux>
<aux name="held"><eqn>IF TIME &gt; 2 THEN PREVIOUS(SELF, 0) ELSE TIME * 10</eqn></aux>
<aux name="l2"><eqn>LOGB(256, 2)</eqn></aux>
<aux name="l10"><eqn>LOGB(1000)</eqn></aux>
<aux name="input"><eqn>STEP(10, 1)</eqn></aux>
<aux name="own smooth"><eqn>SMOOTHED(input, 2)</eqn></aux>
<aux name="builtin smooth"><eqn>SMTH1(input, 2)</eqn></aux>
<aux name="from five"><eqn>SMOOTHED(input, 1, 5)</eqn></aux>
""", specs="<start>0</start><stop>6</stop><dt>0.5</dt>",
    extra='<dimensions><dim name="letters"><elem name="a"/><elem name="b"/><elem name="c"/><elem name="d"/>'
          '<elem name="e"/></dim><dim name="two"><elem name="x"/><elem name="y"/></dim></dimensions>\n'
          '<macro name="LOGB"><parm>x</parm><parm default="10">base</parm><eqn>LN(x) / LN(base)</eqn></macro>\n'
          '<macro name="SMOOTHED"><parm>input</parm><parm>averaging_time</parm>'
          '<parm default="input">initial</parm><eqn>Smooth_of_Input</eqn><variables>'
          '<stock name="Smooth_of_Input"><eqn>initial</eqn><inflow>change_in_smooth</inflow></stock>'
          '<flow name="change_in_smooth"><eqn>(input - Smooth_of_Input) / averaging_time</eqn></flow>'
          '</variables></macro>\n')


@pytest.fixture(scope="module")
def picks(tmp_path_factory):
    path = tmp_path_factory.mktemp("xmile") / "picks.xmile"
    path.write_text(PICKS, encoding="utf-8")
    result = load(path).run()
    at = {float(t): i for i, t in enumerate(result.time)}
    return lambda name, t: float(result[name][at[t]])


def test_positions_computed_when_the_model_runs(picks):
    # values = 9, 7, 5, 3, 1 at positions 1..5; INT(TIME MOD 5) + 1 cycles through them
    assert [picks("picked", t) for t in (0.0, 1.0, 2.0, 3.0, 4.0, 4.5, 5.0, 6.0)] == [9, 7, 5, 3, 1, 1, 9, 7]
    assert picks("by variable", 0.0) == 7.0                 # a scalar variable as the position
    # two dimensions, row-major: grid[2, k] is row y's k-th element
    assert [picks("in grid", t) for t in (0.0, 1.0, 4.0, 5.0)] == [10.0, 20.0, 50.0, 10.0]
    assert (picks("row pick[x]", 0.0), picks("row pick[y]", 0.0)) == (-3.0 + 1.0, 30.0 + 1.0)
    # a position outside the dimension gives 0 (section 3.7.1): 3, 1, then 0
    assert [picks("outside", t) for t in (0.0, 1.0, 2.0, 6.0)] == [3.0, 1.0, 0.0, 0.0]
    # 'dimension.element' outside brackets is the element's position
    assert picks("position", 0.0) == 30.0
    # SIZE counts every element: SIZE(SELF) 2, SIZE(grid) 10, SIZE(values) 5
    assert picks("sizes[x]", 0.0) == picks("sizes[y]", 0.0) == 305.0


def test_per_element_graphical_functions_share_the_variables_input(picks):
    # Stella writes one <eqn> (TIME) for the graphical functions of its elements
    assert (picks("curve[x]", 3.0), picks("curve[y]", 3.0)) == (30.0, 3.0)


def test_vensims_table_functions_as_converters_write_them(picks):
    # table 0 -> 0, 10 -> 100: inverse of 30 is 3; area from 0 to 2 is 20; forward at 4 is the
    # next point's y, 100
    assert picks("table functions", 0.0) == pytest.approx(3.0 + 20.0 * 1000 + 100.0)


def test_graphical_functions_with_an_input_can_be_given_another(picks):
    # as converters write a Vensim lookup (an input of 0+0) and as Stella calls a
    # graphical function: LOOKUP(name, x) and name(x) read its table, element by element
    assert picks("converted table", 3.0) == 10.0
    assert picks("read tables", 0.0) == 15.0 + 2000.0 + 15.0
    assert (picks("read curve[x]", 0.0), picks("read curve[y]", 0.0)) == (60.0 + 30.0, 0.0 + 3.0)
    # Vensim's words a converter left untranslated: LOOKUP BACKWARD 10 and FORWARD 20 at 0.5
    assert picks("untranslated", 0.0) == 30.0


def test_transposition_and_dimension_positions(picks):
    # flipped[letters, two] = grid[two, letters], by the ' operator and by @2, @1
    assert picks("flipped[c,y]", 0.0) == pytest.approx(30.3) and picks("flipped[a,x]", 0.0) == pytest.approx(-1.01)


def test_transposing_a_square_matrix_is_refused_where_it_is():
    square = doc('<aux name="m"><dimensions><dim name="d"/><dim name="d"/></dimensions><eqn>1</eqn></aux>'
                 "<aux name=\"t\"><dimensions><dim name=\"d\"/><dim name=\"d\"/></dimensions><eqn>m'</eqn></aux>",
                 extra='<dimensions><dim name="d" size="2"/></dimensions>\n')
    with pytest.raises(UnsupportedFeature, match=r"m.xmile:6:\d+: dimension 'd' is used twice"):
        parse_xmile(square.encode(), "m.xmile")


def test_self_is_the_variable_itself(picks):
    # 10 * TIME until TIME 2, then its own previous value: held at 20
    assert [picks("held", t) for t in (0.0, 1.0, 2.0, 2.5, 6.0)] == [0.0, 10.0, 20.0, 20.0, 20.0]


def test_macros(picks):
    assert picks("l2", 0.0) == pytest.approx(8.0) and picks("l10", 0.0) == pytest.approx(3.0)
    # a macro with a stock: each call has its own; the default initial value is the input
    for t in (0.0, 1.5, 3.0, 6.0):
        assert picks("own smooth", t) == pytest.approx(picks("builtin smooth", t), rel=1e-12)
    # from 5, input 0 then 10 from TIME 1, averaging time 1, dt 0.5: 5, 2.5, 1.25, 5.625
    assert [picks("from five", t) for t in (0.0, 0.5, 1.0, 1.5)] == [5.0, 2.5, 1.25, 5.625]


def test_macro_errors_are_located(tmp_path, capsys):
    recursive = doc('<aux name="a"><eqn>FACT(3)</eqn></aux>', extra=(
        '<macro name="FACT"><parm>x</parm><eqn>IF x &lt;= 1 THEN 1 ELSE x * FACT(x - 1)</eqn></macro>\n'))
    assert "macro 'FACT' calls itself" in _error(recursive, tmp_path, capsys)
    looped = doc('<aux name="a"><eqn>F(3)</eqn></aux>', extra=(
        '<macro name="F"><parm>x</parm><eqn>x</eqn><sim_specs><start>1</start><stop>x</stop></sim_specs>'
        '</macro>\n'))
    with pytest.raises(UnsupportedFeature, match=r"m.xmile:4:43: macro 'F' has its own <sim_specs>"):
        parse_xmile(looped.encode(), "m.xmile")
    short = doc('<aux name="a"><eqn>G()</eqn></aux>', extra='<macro name="G"><parm>x</parm><eqn>x</eqn></macro>\n')
    with pytest.raises(ModelError, match=r"m.xmile:6:20: G takes 1 arguments, got 0 \(in the equation of 'a'"):
        parse_xmile(short.encode(), "m.xmile")


def test_stella_module_connections(tmp_path):
    # Stella qualifies both ends from where the modules sit and lists a connection in
    # both modules (and again as <connect2>); names may be quoted and hold '/'
    text = doc("""
<module name="a"><connect to='b."ghost_of_module/output"' from='a."module/output"'/>
  <connect2 to='b."ghost_of_module/output"' from='a."module/output"'/></module>
<module name="b"><connect to='b."ghost_of_module/output"' from='a."module/output"'/>
  <connect2 to='b."ghost_of_module/output"' from='a."module/output"'/></module>
<aux name="seen"><eqn>b.indicator + 1</eqn></aux>
<module name="c"><connect to="x" from=".seen"/><connect to=".back" from="c.twice"/></module>
<aux name="back" access="input"/>
""", specs="<start>0</start><stop>2</stop><dt>1</dt>").replace("</xmile>", (
        '<model name="a"><variables><aux name="module/output" access="output"><eqn>TIME * 3</eqn></aux>'
        '</variables></model>\n<model name="b"><variables>'
        '<aux name="ghost of module/output" access="input"><eqn>0</eqn></aux>'
        '<aux name="indicator"><eqn>"ghost_of_module/output" * 2</eqn></aux></variables></model>\n'
        '<model name="c"><variables><aux name="x" access="input"><eqn>0</eqn></aux>'
        '<aux name="twice" access="output"><eqn>x * 2 + .seen</eqn></aux></variables></model>\n</xmile>'))
    path = tmp_path / "modules.stmx"
    path.write_text(text, encoding="utf-8")
    result = load(path).run()
    assert list(result["b.indicator"]) == [0.0, 6.0, 12.0] and list(result["seen"]) == [1.0, 7.0, 13.0]
    # an output connected out of a module into the top model ('.back'); '.seen' in a
    # module's equation is the top model's
    assert list(result["back"]) == [3.0, 21.0, 39.0]


def test_a_models_saveper_when_sim_specs_give_no_save_interval(tmp_path):
    # converted Vensim models carry the save interval as a SAVEPER variable
    path = tmp_path / "saveper.stmx"
    path.write_text(doc('<stock name="s"><eqn>0</eqn><inflow>f</inflow></stock><flow name="f"><eqn>1</eqn></flow>'
                        '<aux name="SAVEPER"><eqn>1</eqn></aux>',
                        specs="<start>0</start><stop>2</stop><dt>0.25</dt>"), encoding="utf-8")
    result = load(path).run()
    assert list(result.time) == [0.0, 1.0, 2.0] and list(result["s"]) == [0.0, 1.0, 2.0]
    # sim_specs' own save interval must agree with it
    path.write_text(path.read_text().replace("<dt>0.25</dt>", "<dt>0.25</dt><save_step>0.5</save_step>"))
    with pytest.raises(ModelError, match="'SAVEPER' is 1 but <sim_specs>"):
        load(path)


def test_stella_10_drafts_put_variables_straight_in_the_model(tmp_path):
    path = tmp_path / "draft.stmx"
    path.write_text('<?xml version="1.0"?>\n<xmile version="1.0" level="3" xmlns="http://www.systemdynamics.org/XMILE">'
                    '<header><vendor>isee systems, inc.</vendor></header>'
                    '<sim_specs><start>0</start><stop>2</stop><dt>1</dt></sim_specs><model>'
                    '<stock name="s"><eqn>1</eqn><inflow>f</inflow><display x="1" y="2"/></stock>'
                    '<flow name="f"><eqn>table(TIME)</eqn></flow>'
                    '<aux name="table"><gf><xscale min="0" max="2"/><ypts>0,10,20</ypts></gf></aux>'
                    '<display page_width="0"/></model></xmile>', encoding="utf-8")
    assert list(load(path).run()["s"]) == [1.0, 1.0, 11.0]


def test_invalid_index_value_option(tmp_path):
    # <uses_arrays invalid_index_value="NaN"> (XMILE 1.0 section 2.2.1): NaN instead of 0
    path = tmp_path / "nan.xmile"
    path.write_text(doc('<aux name="a"><dimensions><dim name="d"/></dimensions><eqn>5</eqn></aux>'
                        '<aux name="p"><eqn>a[TIME + 1]</eqn></aux>', specs="<start>0</start><stop>2</stop><dt>1</dt>",
                        extra='<dimensions><dim name="d" size="2"/></dimensions>\n').replace(
        "<sim_specs>", '<header><options><uses_arrays invalid_index_value="NaN"/></options></header><sim_specs>'),
        encoding="utf-8")
    p = load(path).run()["p"]
    assert list(p[:2]) == [5.0, 5.0] and np.isnan(p[2])


def test_a_non_negative_stock_cuts_its_outflows_in_order(tmp_path):
    # Stella: the outflows get what the stock holds plus its inflows, in outflow order, and
    # whatever they feed receives only that: no material is made
    path = tmp_path / "nn.xmile"
    path.write_text(doc("""
<stock name="Inventory"><eqn>10</eqn><outflow>shipping</outflow><non_negative/></stock>
<stock name="Shipped"><eqn>0</eqn><inflow>shipping</inflow></stock>
<flow name="shipping"><eqn>4</eqn></flow>
<stock name="tank"><eqn>10</eqn><inflow>fill</inflow><outflow>first</outflow><outflow>second</outflow><non_negative/></stock>
<flow name="fill"><eqn>1</eqn></flow>
<flow name="first"><eqn>6</eqn></flow>
<flow name="second"><eqn>6</eqn></flow>
""", specs="<start>0</start><stop>4</stop><dt>1</dt>"), encoding="utf-8")
    r = load(path).run()
    assert list(r["shipping"]) == [4, 4, 2, 0, 0] and list(r["Shipped"]) == [0, 4, 8, 10, 10]
    # tank 10 + 1 in: first takes 6, second the 5 left; then 1 a step, all to first
    assert list(r["first"][:3]) == [6, 1, 1] and list(r["second"][:3]) == [5, 0, 0]
    assert list(r["tank"][:3]) == [10, 0, 0]


def test_a_graphical_functions_range_warning_names_the_variable(tmp_path, capsys):
    path = tmp_path / "gf.xmile"
    path.write_text(doc('<aux name="g"><eqn>TIME</eqn><gf><xpts>0,1</xpts><ypts>0,1</ypts></gf></aux>',
                        specs="<start>0</start><stop>2</stop><dt>1</dt>"), encoding="utf-8")
    assert main(["run", str(path), "-o", str(tmp_path / "out.csv")]) == 0
    err = capsys.readouterr().err
    assert "the graphical function of g" in err and "#gf" not in err


def test_a_graphical_functions_point_past_its_last_is_refused_where_it_is(tmp_path, capsys):
    # XMILE 1.0, 3.7.1.3: g[3] is the third point's y value; g has 4 points, so g[5] has none
    gf = '<gf name="Gee"><xscale min="0" max="3"/><ypts>5,1,7,3</ypts></gf>\n'
    path = tmp_path / "ok.xmile"
    path.write_text(doc(gf + '<aux name="G3"><eqn>Gee[3] + Gee[4]</eqn></aux>'), encoding="utf-8")
    assert load(path).run()["G3"][0] == 10
    err = _error(doc(gf + '<aux name="G5"><eqn>Gee[5]</eqn></aux>'), tmp_path, capsys)
    assert "bad.xmile:6:21: position 5 is past the last point of graphical function 'Gee' (4 points)" \
           " in the equation of 'G5'" in err
    for bad in ("Gee[0]", "Gee[TIME + 6]"):
        err = _error(doc(gf + f'<aux name="G5"><eqn>{bad}</eqn></aux>'), tmp_path, capsys)
        assert "bad.xmile:6:21: 'Gee' is a graphical function" in err and "not 0" in err and "computed" in err


def test_range_messages_use_the_names_and_the_range_as_written(tmp_path, capsys):
    dims = '<dimensions><dim name="D" size="5"/><dim name="E" size="3"/></dimensions>\n'
    arr = '<aux name="A"><dimensions><dim name="D"/></dimensions><eqn>D * 10</eqn></aux>\n'
    err = _error(doc(arr + '<aux name="C"><dimensions><dim name="E"/></dimensions><eqn>A[4:5]</eqn></aux>',
                     extra=dims), tmp_path, capsys)
    assert "the range of 'A[4:5]', read along 'E' (3 elements), runs past the end of 'D' " \
           "(in the equation of 'C')" in err
    path = tmp_path / "rg.xmile"
    path.write_text(doc(arr + '<aux name="F"><dimensions><dim name="D"/></dimensions><eqn>A[1:3] + 1</eqn></aux>',
                        extra=dims), encoding="utf-8")
    r = load(path).run()
    # A[1:3] along D's 5 elements is extended with A's next elements: F = A + 1
    assert [r[f"F[{k}]"][0] for k in range(1, 6)] == [11, 21, 31, 41, 51]
    assert "the range of 'A[1:3]' has 3 elements, extended to the 5 of 'D' (in the equation of 'F')" \
        in " ".join(w.message for w in r.warnings)
