"""Static evaluation (entropy weights, TOPSIS, coupling coordination).

Expected numbers are derived by hand in the comments, from the definitions, not
by calling the implementation; where a log is involved the test repeats the hand
formula with math.log so the decimals in the comments can be checked.
"""
from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from smartspec_dsl.errors import SpecError
from smartspec_dsl.app.evaluate import (
    coupling_coordination, entropy_weights, evaluate_file, format_result, load_spec, main,
    normalize, topsis,
)

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_SPEC = REPO / "models" / "evaluation" / "index_smart_specialization.toml"
EXAMPLE_DATA = REPO / "models" / "evaluation" / "example_regions.csv"

ln = math.log

# The 3 x 2 matrix used throughout: column 0 is a benefit, column 1 a cost.
X = [[1.0, 10.0],
     [2.0, 30.0],
     [4.0, 20.0]]
BENEFIT = [True, False]


def approx(values, rel=1e-9, abs=1e-12):
    return pytest.approx(values, rel=rel, abs=abs)


# ---------------------------------------------------------------- normalize

def test_normalize_benefit_and_cost_by_hand():
    # col 0 benefit: min 1, max 4, span 3 -> (1-1)/3, (2-1)/3, (4-1)/3 = 0, 1/3, 1
    # col 1 cost:    min 10, max 30, span 20 -> (30-10)/20, (30-30)/20, (30-20)/20 = 1, 0, 0.5
    Z = normalize(X, BENEFIT)
    assert Z[:, 0] == approx([0.0, 1 / 3, 1.0])
    assert Z[:, 1] == approx([1.0, 0.0, 0.5])


def test_normalize_same_column_as_benefit_flips():
    # col 1 read as a benefit: (10-10)/20, (30-10)/20, (20-10)/20 = 0, 1, 0.5
    Z = normalize(X, [True, True])
    assert Z[:, 1] == approx([0.0, 1.0, 0.5])


# ---------------------------------------------------------------- entropy

def test_entropy_weights_by_hand():
    # Z (above): col 0 = [0, 1/3, 1], col 1 = [1, 0, 1/2]; n = 3, ln 3 = 1.098612
    # col 0: sum 4/3 -> p = [0, 1/4, 3/4]
    #   sum p ln p = 0 + 0.25 ln 0.25 + 0.75 ln 0.75 = -0.346574 - 0.215762 = -0.562335
    #   e0 = 0.562335 / 1.098612 = 0.511860
    # col 1: sum 3/2 -> p = [2/3, 0, 1/3]
    #   sum p ln p = (2/3) ln(2/3) + (1/3) ln(1/3) = -0.270310 - 0.366204 = -0.636514
    #   e1 = 0.636514 / 1.098612 = 0.579380
    # 1 - e = [0.488140, 0.420620], sum 0.908760 -> w = [0.537150, 0.462850]
    e0 = -(0.25 * ln(0.25) + 0.75 * ln(0.75)) / ln(3)
    e1 = -((2 / 3) * ln(2 / 3) + (1 / 3) * ln(1 / 3)) / ln(3)
    expected = [(1 - e0) / (2 - e0 - e1), (1 - e1) / (2 - e0 - e1)]
    assert expected == approx([0.537150, 0.462850], rel=1e-5)
    w = entropy_weights(X, BENEFIT)
    assert w == approx(expected)
    assert w.sum() == approx(1.0)


def test_entropy_zero_log_zero_is_zero():
    # col 0 = [0, 0, 5] -> z = [0, 0, 1] -> p = [0, 0, 1]: two 0*ln0 terms, taken as 0,
    #   and 1*ln1 = 0, so e0 = 0 (a single region holds everything: maximal information).
    # col 1 = [1, 2, 3] -> z = [0, 1/2, 1] -> p = [0, 1/3, 2/3] -> e1 = 0.579380 (as above)
    # 1 - e = [1, 0.420620] -> w = [1/1.420620, 0.420620/1.420620] = [0.703918, 0.296082]
    e1 = -((1 / 3) * ln(1 / 3) + (2 / 3) * ln(2 / 3)) / ln(3)
    w = entropy_weights([[0, 1], [0, 2], [5, 3]], [True, True])
    assert np.all(np.isfinite(w))
    assert w == approx([1 / (2 - e1), (1 - e1) / (2 - e1)])
    assert w == approx([0.703918, 0.296082], rel=1e-5)


def test_entropy_cost_direction_changes_weights():
    # Reading col 1 as a benefit gives z = [0, 1, 1/2] -> p = [0, 2/3, 1/3]: the same
    # multiset of p, so the same e1; col 0 is unchanged -> same weights. Reversing a
    # column whose values are not symmetric does change them: col [1, 2, 4] as a cost
    # gives z = [1, 2/3, 0] -> p = [3/5, 2/5, 0]:
    #   e = -(0.6 ln 0.6 + 0.4 ln 0.4)/ln 3 = (0.306495 + 0.366516)/1.098612 = 0.612602
    e_cost = -(0.6 * ln(0.6) + 0.4 * ln(0.4)) / ln(3)
    e0 = -(0.25 * ln(0.25) + 0.75 * ln(0.75)) / ln(3)
    w = entropy_weights([[1, 1], [2, 2], [4, 4]], [True, False])
    assert w == approx([(1 - e0) / (2 - e0 - e_cost), (1 - e_cost) / (2 - e0 - e_cost)])


# ---------------------------------------------------------------- TOPSIS

def test_topsis_by_hand():
    # weights [0.5, 0.5]; V = 0.5 * Z = [[0, 0.5], [1/6, 0], [0.5, 0.25]]
    # ideal = column max = [0.5, 0.5]; anti-ideal = column min = [0, 0]
    # row 1: d+ = sqrt(0.5^2 + 0^2) = 0.5, d- = sqrt(0 + 0.5^2) = 0.5 -> 0.5
    # row 2: d+ = sqrt((1/3)^2 + 0.5^2) = sqrt(13)/6 = 0.600925, d- = 1/6
    #        -> (1/6)/(sqrt(13)/6 + 1/6) = 1/(1 + sqrt 13) = 0.217129
    # row 3: d+ = sqrt(0 + 0.25^2) = 0.25, d- = sqrt(0.5^2 + 0.25^2) = sqrt(5)/4
    #        -> sqrt 5/(1 + sqrt 5) = 0.690983
    res = topsis(X, [0.5, 0.5], BENEFIT, return_distances=True)
    assert res.d_plus == approx([0.5, math.sqrt(13) / 6, 0.25])
    assert res.d_minus == approx([0.5, 1 / 6, math.sqrt(5) / 4])
    expected = [0.5, 1 / (1 + math.sqrt(13)), math.sqrt(5) / (1 + math.sqrt(5))]
    assert res.closeness == approx(expected)
    assert topsis(X, [0.5, 0.5], BENEFIT) == approx(expected)


def test_topsis_cost_criterion_prefers_low_values():
    # One cost criterion [1, 2, 4]: z = [1, 2/3, 0]; with any weight w, d- = w z and
    # d+ = w (1 - z), so closeness = z = [1, 2/3, 0].
    assert topsis([[1], [2], [4]], [1.0], [False]) == approx([1.0, 2 / 3, 0.0])


# ---------------------------------------------------------------- coupling

def test_coupling_paper_formula_by_hand():
    # u1 = 0.4, u2 = 0.1: C = sqrt(0.04/0.5) = sqrt(0.08) = 0.282843
    #   T = 0.2 + 0.05 = 0.25, D = sqrt(0.282843 * 0.25) = 0.265915
    # u1 = u2 = 0.5: C = sqrt(0.25/1) = 0.5, T = 0.5, D = 0.5
    C, T, D = coupling_coordination([0.4, 0.5], [0.1, 0.5])
    assert C == approx([math.sqrt(0.08), 0.5])
    assert T == approx([0.25, 0.5])
    assert D == approx([math.sqrt(math.sqrt(0.08) * 0.25), 0.5])
    assert D[0] == pytest.approx(0.265915, rel=1e-5)


def test_coupling_standard_formula_by_hand():
    # u1 = 0.4, u2 = 0.1: C = 2 sqrt(0.04)/0.5 = 2*0.2/0.5 = 0.8, T = 0.25,
    #   D = sqrt(0.8*0.25) = sqrt(0.2) = 0.447214
    # u1 = u2 = 0.5: C = 2*0.5/1 = 1, T = 0.5, D = sqrt(0.5)
    C, T, D = coupling_coordination([0.4, 0.5], [0.1, 0.5], formula="standard")
    assert C == approx([0.8, 1.0])
    assert T == approx([0.25, 0.5])
    assert D == approx([math.sqrt(0.2), math.sqrt(0.5)])


@pytest.mark.parametrize("formula", ["paper", "standard"])
def test_coupling_both_zero_is_zero(formula):
    C, T, D = coupling_coordination(0.0, 0.0, formula=formula)
    assert (float(C), float(T), float(D)) == (0.0, 0.0, 0.0)


def test_coupling_rejects_unknown_formula():
    with pytest.raises(ValueError, match="formula"):
        coupling_coordination(0.1, 0.2, formula="nope")


# ---------------------------------------------------------------- spec aggregation

TINY_DATA = """\
# tiny hand-checkable example
region,year,a,b,c,d,unused
R1,2020,1,10,0,1,x
R2,2020,2,30,0,2,y
R3,2020,4,20,1,3,z
"""

TINY_SPEC = """\
[index]
name = "tiny"
weights = "{mode}"

[[index.indicator]]
id = "g1"
weight = 0.5
  [[index.indicator.indicator]]
  column = "a"
  direction = "benefit"
  weight = 1
  [[index.indicator.indicator]]
  column = "b"
  direction = "cost"
  weight = 3

[[index.indicator]]
id = "g2"
weight = 0.5
  [[index.indicator.indicator]]
  column = "c"
  direction = "benefit"
  [[index.indicator.indicator]]
  column = "d"
  direction = "benefit"
"""


@pytest.fixture
def tiny(tmp_path):
    def make(mode="spec", data=TINY_DATA, spec=None):
        d, s = tmp_path / "data.csv", tmp_path / "index.toml"
        d.write_text(data)
        s.write_text(spec if spec is not None else TINY_SPEC.format(mode=mode))
        return d, s
    return make


# Hand derivation for TINY (weights = "spec"):
#   z_a = [0, 1/3, 1]; z_b (cost, 10..30) = [1, 0, 1/2]; z_c = [0, 0, 1]; z_d = [0, 1/2, 1]
#   g1: weights 1 and 3 rescaled to 0.25, 0.75 -> g1 = [0.75, 1/12, 0.25 + 0.375 = 0.625]
#   g2: no weights -> entropy of (z_c, z_d): p_c = [0, 0, 1] -> e_c = 0;
#       p_d = [0, 1/3, 2/3] -> e_d = 0.579380 -> w_c = 1/1.420620 = 0.703918, w_d = 0.296082
#       g2 = [0, 0.5 w_d = 0.148041, 1]
#   global weights: a 0.5*0.25 = 0.125, b 0.375, c 0.5 w_c = 0.351959, d 0.5 w_d = 0.148041
E_D = -((1 / 3) * ln(1 / 3) + (2 / 3) * ln(2 / 3)) / ln(3)
W_C, W_D = 1 / (2 - E_D), (1 - E_D) / (2 - E_D)


def test_spec_aggregates_level_by_level(tiny):
    res = evaluate_file(*tiny())
    assert res.weights["a"] == approx(0.25) and res.weights["b"] == approx(0.75)
    assert (res.weights["c"], res.weights["d"]) == approx((W_C, W_D))
    assert res.weights["g1"] == approx(0.5) and res.weights["g2"] == approx(0.5)
    assert res.scores["g1"] == approx([0.75, 1 / 12, 0.625])
    assert res.scores["g2"] == approx([0.0, 0.5 * W_D, 1.0])
    assert res.global_weights == approx({"a": 0.125, "b": 0.375, "c": 0.5 * W_C, "d": 0.5 * W_D})
    assert res.subsystems == ("g1", "g2") and res.coupled == ("g1", "g2")


def test_spec_topsis_and_coupling_by_hand(tiny):
    res = evaluate_file(*tiny())
    # TOPSIS row R3: z = [1, 1/2, 1, 1]; every column's max z is 1 and min 0, so
    #   ideal = global weights, anti-ideal = 0.
    #   d+ = |0.375*0.5 - 0.375| = 0.1875
    #   d- = sqrt(0.125^2 + 0.1875^2 + (0.5 w_c)^2 + (0.5 w_d)^2) = sqrt(0.196572) = 0.443365
    #   closeness = 0.443365 / (0.1875 + 0.443365) = 0.702789
    d_minus = math.sqrt(0.125**2 + 0.1875**2 + (0.5 * W_C) ** 2 + (0.5 * W_D) ** 2)
    assert res.topsis.d_plus[2] == approx(0.1875)
    assert res.topsis.d_minus[2] == approx(d_minus)
    assert res.topsis.closeness[2] == approx(d_minus / (0.1875 + d_minus))
    assert res.topsis.closeness[2] == pytest.approx(0.702789, rel=1e-5)
    # Coupling (paper formula):
    #   R1: u1 = 0.75, u2 = 0 -> C = sqrt(0/0.75) = 0, T = 0.375, D = 0
    #   R3: u1 = 0.625, u2 = 1 -> C = sqrt(0.625/1.625) = 0.620174, T = 0.8125,
    #       D = sqrt(0.620174*0.8125) = 0.709853
    C, T, D = res.coupling
    assert (C[0], T[0], D[0]) == approx((0.0, 0.375, 0.0))
    c3 = math.sqrt(0.625 / 1.625)
    assert (C[2], T[2], D[2]) == approx((c3, 0.8125, math.sqrt(c3 * 0.8125)))
    assert D[2] == pytest.approx(0.709853, rel=1e-5)


def test_spec_entropy_mode_ignores_written_weights(tiny):
    # g1 by entropy of (a, b) = the 3x2 example above: w = [0.537150, 0.462850]
    res = evaluate_file(*tiny(mode="entropy"))
    e0 = -(0.25 * ln(0.25) + 0.75 * ln(0.75)) / ln(3)
    e1 = -((2 / 3) * ln(2 / 3) + (1 / 3) * ln(1 / 3)) / ln(3)
    assert res.weights["a"] == approx((1 - e0) / (2 - e0 - e1))
    assert res.weights["b"] == approx((1 - e1) / (2 - e0 - e1))


def test_format_result_columns(tiny):
    text = format_result(evaluate_file(*tiny()))
    lines = text.splitlines()
    assert lines[0] == ("region,year,score_g1,score_g2,closeness,d_plus,d_minus,"
                        "coupling_C,coordination_T,coordination_D")
    # R1: g1 = 0.75, g2 = 0, C = 0, T = 0.375, D = 0
    r1 = lines[1].split(",")
    assert r1[:4] == ["R1", "2020", "0.750000", "0.000000"]
    assert r1[7:] == ["0.000000", "0.375000", "0.000000"]
    assert len(lines) == 4


def test_example_spec_uses_table_1_weights():
    spec = load_spec(EXAMPLE_SPEC)
    assert [c.id for c in spec.root.children] == ["smart", "specialization"]
    assert len(spec.root.leaves()) == 21
    res = evaluate_file(EXAMPLE_DATA, EXAMPLE_SPEC)
    # Printed smart-level secondary weights sum to 0.2912 + 0.3888 + 0.3005 = 0.9805.
    assert res.weights["innovation_capacity"] == approx(0.2912 / 0.9805)
    assert res.weights["industry_concentration"] == approx(0.5069)
    assert res.weights["total_profit"] == approx(0.2542)
    assert sum(res.global_weights.values()) == approx(1.0)
    for col in (res.scores["smart"], res.scores["specialization"], *res.topsis, *res.coupling):
        assert np.all((col >= 0) & (col <= 1))


def test_example_data_is_labelled_synthetic():
    head = EXAMPLE_DATA.read_text().splitlines()[0]
    assert "SYNTHETIC" in head and "NOT the paper's data" in head


# ---------------------------------------------------------------- errors

def test_constant_column_is_an_error(tiny):
    data = TINY_DATA.replace("R1,2020,1,", "R1,2020,7,").replace("R2,2020,2,", "R2,2020,7,") \
                    .replace("R3,2020,4,", "R3,2020,7,")
    d, s = tiny(data=data)
    with pytest.raises(SpecError, match=r"data\.csv: column 'a' is constant \(every row = 7\)"):
        evaluate_file(d, s)


def test_constant_in_normalize_names_column():
    with pytest.raises(SpecError, match="criterion 2 is constant"):
        normalize([[1, 5], [2, 5]], [True, True])


def test_empty_data_is_an_error(tiny):
    d, s = tiny(data="region,year,a,b,c,d\n")
    with pytest.raises(SpecError, match=r"data\.csv: no data rows"):
        evaluate_file(d, s)
    d, s = tiny(data="")
    with pytest.raises(SpecError, match=r"data\.csv: empty data file"):
        evaluate_file(d, s)
    with pytest.raises(SpecError, match="no data rows"):
        normalize(np.zeros((0, 2)), [True, True])


@pytest.mark.parametrize("cell, message", [
    ("abc", r"data\.csv:4: column 'c': 'abc' is not a number"),
    ("", r"data\.csv:4: column 'c': empty cell"),
    ("nan", r"data\.csv:4: column 'c': 'nan' is not a finite number"),
])
def test_non_numeric_cell_is_an_error(tiny, cell, message):
    # Line 4 of the file is R2 (line 1 is the comment, line 2 the header).
    d, s = tiny(data=TINY_DATA.replace("R2,2020,2,30,0,", f"R2,2020,2,30,{cell},"))
    with pytest.raises(SpecError, match=message):
        evaluate_file(d, s)


def test_bad_rows_are_errors(tiny):
    d, s = tiny(data=TINY_DATA.replace("R3,2020", "R1,2020"))
    with pytest.raises(SpecError, match=r"data\.csv:5: region 'R1', year 2020 already given on line 3"):
        evaluate_file(d, s)
    d, s = tiny(data=TINY_DATA.replace("R2,2020", "R2,20x0"))
    with pytest.raises(SpecError, match=r"data\.csv:4: column 'year': '20x0' is not an integer"):
        evaluate_file(d, s)
    d, s = tiny(data=TINY_DATA.replace(",y\n", "\n"))
    with pytest.raises(SpecError, match=r"data\.csv:4: 6 cells but the header has 7"):
        evaluate_file(d, s)


def test_missing_column_is_an_error(tiny):
    d, s = tiny(data=TINY_DATA.replace(",d,", ",dd,"))
    with pytest.raises(SpecError, match=r"data\.csv: missing column\(s\) \['d'\]"):
        evaluate_file(d, s)


def test_missing_files_are_errors(tmp_path, tiny):
    d, s = tiny()
    with pytest.raises(SpecError, match="nope.toml: cannot read spec"):
        evaluate_file(d, tmp_path / "nope.toml")
    with pytest.raises(SpecError, match="nope.csv: cannot read data"):
        evaluate_file(tmp_path / "nope.csv", s)


GOOD = TINY_SPEC.format(mode="spec")


@pytest.mark.parametrize("spec, message", [
    ("[index\n", r"index\.toml: invalid TOML"),
    ("[other]\n", r"unknown top-level key"),
    ("x = 1\n", r"unknown top-level key"),
    (GOOD.replace('weights = "spec"', 'weights = "magic"'), r"weights must be"),
    (GOOD.replace('name = "tiny"', 'name = "tiny"\ncoupling_formula = "x"'), "coupling_formula"),
    (GOOD.replace('direction = "cost"', 'direction = "down"'), r"column 'b'\): direction must be"),
    (GOOD.replace('  direction = "cost"\n', ""), r"column 'b'\): direction must be"),
    (GOOD.replace("weight = 3", "weight = -3"), r"weight must be a finite number >= 0, got -3"),
    (GOOD.replace("weight = 3", "weight = true"), r"weight must be a finite number"),
    (GOOD.replace("weight = 3", "wieght = 3"), r"unknown key\(s\) \['wieght'\]"),
    (GOOD.replace("  weight = 3\n", ""), r"'g1': either every child has a weight or none"),
    (GOOD.replace('id = "g2"', 'id = "g1"'), r"id 'g1' is used more than once"),
    (GOOD.replace('column = "d"', 'column = "c"'), r"column 'c' is used more than once"),
    (GOOD.replace('id = "g2"', 'id = "2bad"'), r"a group needs an id"),
    (GOOD.replace('column = "d"', 'column = "year"'), r"reserved"),
    (GOOD.replace('name = "tiny"', 'name = "tiny"\ncoupling = ["g1", "zz"]'), "coupling must name"),
    ('[index]\n[[index.indicator]]\nid = "g"\n', r"'g': a group needs at least one"),
    ('[index]\nname = "empty"\n', r"\[index\]: a group needs at least one"),
])
def test_bad_spec_is_an_error(tiny, spec, message):
    d, s = tiny(spec=spec)
    with pytest.raises(SpecError, match=message):
        evaluate_file(d, s)


def test_three_subsystems_need_explicit_coupling(tiny):
    spec = GOOD + ('\n[[index.indicator]]\nid = "g3"\nweight = 1\n'
                   '  [[index.indicator.indicator]]\n  column = "e"\n  direction = "cost"\n')
    d, s = tiny(spec=spec)
    with pytest.raises(SpecError, match=r"has 3 subsystem\(s\); say which two to couple"):
        evaluate_file(d, s)


# ---------------------------------------------------------------- CLI

def test_cli_writes_output(tiny, tmp_path):
    d, s = tiny()
    out = tmp_path / "out.csv"
    assert main([str(d), "--spec", str(s), "-o", str(out)]) == 0
    assert out.read_text().startswith("region,year,score_g1,score_g2,closeness")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv", "index.toml", "out.csv"]


def test_cli_stdout_without_output(tiny, capsys):
    d, s = tiny()
    assert main([str(d), "--spec", str(s)]) == 0
    assert capsys.readouterr().out.startswith("region,year,")


def test_cli_bad_data_exit_2_and_no_output(tiny, tmp_path, capsys):
    d, s = tiny(data=TINY_DATA.replace("R2,2020,2,", "R2,2020,two,"))
    out = tmp_path / "out.csv"
    assert main([str(d), "--spec", str(s), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "column 'a': 'two' is not a number" in err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv", "index.toml"]


def test_cli_error_keeps_previous_output(tiny, tmp_path):
    d, s = tiny(data="region,year,a,b,c,d\n")
    out = tmp_path / "out.csv"
    out.write_text("previous\n")
    assert main([str(d), "--spec", str(s), "-o", str(out)]) == 2
    assert out.read_text() == "previous\n"


def test_cli_unwritable_output_is_exit_2(tiny, tmp_path, capsys):
    d, s = tiny()
    assert main([str(d), "--spec", str(s), "-o", str(tmp_path / "no_dir" / "out.csv")]) == 2
    assert "cannot write output" in capsys.readouterr().err


def test_python_dash_m_on_example(tmp_path):
    out = tmp_path / "res.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "smartspec_dsl.app.evaluate", str(EXAMPLE_DATA),
         "--spec", str(EXAMPLE_SPEC), "-o", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = out.read_text().splitlines()
    assert lines[0].startswith("region,year,score_smart,score_specialization,closeness")
    assert len(lines) == 1 + 15
