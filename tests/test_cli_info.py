"""`smartspec info MODEL` and `smartspec vars MODEL [PATTERN]`: what a model holds,
read from the model file (tests/data: teacup, and the SIR model of two regions)."""
from __future__ import annotations

import json

from smartspec_dsl.cli import main

from conftest import ROOT

TEACUP = ROOT / "tests" / "data" / "teacup.mdl"
SIR = ROOT / "tests" / "data" / "sir_regions.mdl"


def test_info_counts_variables_ranges_and_time(capsys):
    assert main(["info", str(SIR)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{SIR} (vensim model)"
    # Infected, Susceptible; Infection, Recovery, Total Infected; Contact Rate, Duration
    assert "variables: 2 stocks, 3 auxiliaries, 2 constants" in out
    assert "subscripted variables: 5" in out
    assert "subscript range Region: 2 elements (East, West)" in out     # as the modeller wrote it
    assert out[-4:] == ["INITIAL TIME = 0 Day", "FINAL TIME = 20 Day", "TIME STEP = 0.25 Day", "SAVEPER = 1 Day"]


def test_info_of_the_teacup(capsys):
    assert main(["info", str(TEACUP)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "variables: 1 stock, 1 flow, 2 constants" in out
    assert "TIME STEP = 0.125 Minute" in out     # the units without their range [0,?]


def test_vars_with_a_filter(capsys):
    assert main(["vars", str(TEACUP), "TEMP"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["name", "type", "units", "subscripts", "comment"]
    assert [ln.split("  ")[0] for ln in lines[1:]] == ["Room Temperature", "Teacup Temperature"]
    assert main(["vars", str(SIR), "*rate*"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[1].startswith("Contact Rate") and "Region" in lines[1]
    assert "Daily contacts per person." in lines[1]


def test_vars_by_type_as_json(capsys):
    assert main(["vars", str(TEACUP), "--type", "stock", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["Teacup Temperature"]
    assert rows[0]["units"] == "Degrees Fahrenheit" and rows[0]["limits"] == [32.0, 212.0]
    # the comment's line continuations are joined
    assert rows[0]["comment"].startswith("The model is only valid for the liquid phase of tea. While the tea "
                                         "could theoretically freeze")


def test_no_match_and_a_missing_file_are_one_line_errors(capsys, tmp_path):
    assert main(["vars", str(TEACUP), "zz*"]) == 2
    assert capsys.readouterr().err.strip() == f"error: {TEACUP}: no variable matching 'zz*'"
    assert main(["info", str(tmp_path / "none.mdl")]) == 2
    err = capsys.readouterr().err
    assert "none.mdl" in err and "Traceback" not in err
