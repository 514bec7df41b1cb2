"""Units check (smartspec_dsl.passes.units): unit strings, the rules on small models worked
out by hand, and published models (World3 is consistent; the Workforce sample has
four inconsistencies, each confirmed by reading its equations)."""
from fractions import Fraction

from conftest import run_cli, shared_path
from smartspec_dsl.frontend.parse import parse_file, parse_model
from smartspec_dsl.passes.units import check_units, format_units, parse_units

CONTROL = "INITIAL TIME = 0 ~ Month ~|\nFINAL TIME = 10 ~ Month ~|\nTIME STEP = 1 ~ Month ~|\nSAVEPER = 1 ~ Month ~|\n"


def issues(text: str) -> list[str]:
    return [f"{i.variable}: {i.message}" for i in check_units(parse_model(text + CONTROL, "u.mdl"))]


def test_unit_strings():
    one = Fraction(1)
    assert parse_units("$/(Person*year)") == (("$", one), ("person", -one), ("year", -one))
    assert parse_units("Dmnl [0,1]") == () == parse_units("fraction") == parse_units("1")
    assert parse_units("hectares") == parse_units("Hectare") and parse_units("Foxes") == parse_units("fox")
    assert parse_units("people/yr") == parse_units("Person/Year")
    assert parse_units("m^2/s") == (("m", 2 * one), ("second", -one))
    assert format_units(parse_units("Veg equiv kg/(Person*year)")) == "veg equiv kg/(person*year)"
    for none in ("", "?", "see what happens when the delay time is not a simple multiple.", "a/(b"):
        assert parse_units(none) is None, none


def test_consistent_model_has_no_issues():
    assert issues("""
people = INTEG(births - deaths, 100) ~ Person ~|
births = people * birth rate ~ Person/Month ~|
birth rate = 0.02 ~ 1/Month ~|
deaths = people / lifetime ~ Person/Month ~|
clock = Time * 2 ~ Month ~|
lifetime = 600 ~ Month ~|
crowding = MIN(people / capacity, 2) ~ Dmnl ~|
capacity = 1000 ~ Person ~|
effect = WITH LOOKUP(crowding, ([(0,0)-(2,2)],(0,1),(2,0))) ~ Dmnl ~|
table([(0,0)-(2,2)],(0,1),(2,0)) ~ Month ~|
wait = table(crowding) * 2 ~ Month ~|
smoothed = SMOOTH(births, 3) ~ Person/Month ~|
growth = TREND(people, 6, 0) ~ 1/Month ~|
per capita = ZIDZ(births, people) ~ 1/Month ~|
shortfall = IF THEN ELSE(people > capacity, people - capacity, 0) ~ Person ~|
""") == []


def test_inconsistencies_are_reported():
    assert issues("""
stock = INTEG(inflow, 0) ~ widget ~|
inflow = 5 ~ widget ~|
a = 1 ~ widget ~|
b = 2 ~ Month ~|
c = a + b ~ widget ~|
d = MIN(a, b) ~ widget ~|
e = a * b ~ widget ~|
f = SMOOTH(a, a) ~ widget ~|
""") == [
        "stock: its rate gives widget, but it is declared widget/month",
        "c: adds widget and month",
        "d: MIN of widget and month",
        "e: its equation gives month*widget, but it is declared widget",
        "f: SMOOTH's time argument is widget, not month",
    ]


def test_published_models():
    world3 = shared_path("real-models", "WRLD3-03", "wrld3-03.mdl")
    assert check_units(parse_file(world3)) == []
    workforce = check_units(parse_file(shared_path("test-models", "samples", "Workforce", "workforce.mdl")))
    # 'Expert/Rookie Time per Task' are declared Person*Hours, not Person*Hours/Task; 'Rookie-Hours
    # on Task per Week' reads a variable declared 'Person Hours' (one unit named so); MIN mixes a
    # rate and a level
    assert [i.variable for i in workforce] == ["Expert Task Completion", "Rookie Task Completion",
                                               "Rookie-Hours on Task per Week", "Task Completion"]


def test_cli_exit_status(tmp_path):
    ok, bad = tmp_path / "ok.mdl", tmp_path / "bad.mdl"
    ok.write_text("x = INTEG(r, 0) ~ widget ~|\nr = 1 ~ widget/Month ~|\n" + CONTROL)
    bad.write_text("x = INTEG(r, 0) ~ widget ~|\nr = 1 ~ widget ~|\n" + CONTROL)
    run = lambda p: run_cli("check", p, "--units")
    good = run(ok)
    assert good.returncode == 0 and "units: consistent" in good.stdout
    wrong = run(bad)
    assert wrong.returncode == 1, wrong.stdout + wrong.stderr
    assert f"{bad}:1:1: units: 'x' its rate gives widget, but it is declared widget/month" in wrong.stdout
    assert "units: 1 inconsistency" in wrong.stdout


def test_every_suite_and_published_model_can_be_checked():
    """The check never fails on a model that parses (158 files), and the published models
    built and unit-checked in Vensim come out consistent."""
    root = shared_path("test-models").parent
    paths = sorted(root.glob("test-models/**/*.mdl")) + sorted(root.glob("real-models/**/*.mdl"))
    assert len(paths) > 100
    for path in paths:
        check_units(parse_file(path))
    for name in ("WRLD3-03/wrld3-03.mdl", "beer-game/RealBeer4-Sterman13.mdl",
                 "industrial-dynamics/IDch15d.mdl", "wonderland/Wonderland3.mdl"):
        assert check_units(parse_file(root / "real-models" / name)) == [], name
