"""What published Vensim models use and the conformance suite does not: brace
comments anywhere, subscript mappings in all their forms. Values are worked out
by hand from Vensim's help (the page "Mapping of Subscript Ranges"); evaluated
with consteval, so no kernel compile."""
from __future__ import annotations

import pytest

from smartspec_dsl import ir
from smartspec_dsl.passes.consteval import constant_value
from smartspec_dsl.errors import ModelError, SyntaxErrorInModel
from smartspec_dsl.frontend.parse import parse_model
from smartspec_dsl.passes.subscripts import flatten

CONTROL = """
INITIAL TIME = 0 ~~|
FINAL TIME = 1 ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""


def flat(text: str) -> ir.Model:
    return flatten(parse_model(text + CONTROL, "t.mdl"))


def values(model: ir.Model, name: str, elements: str) -> list[float]:
    return [constant_value(model, f"{name}[{e}]", {}) for e in elements.split()]


# ---- names ---------------------------------------------------------------------------

def test_names_of_any_script_and_symbol_beyond_ascii():
    """A published model (Tinamit's test of variable names, saved by Vensim) names variables
    '१' (a Devanagari digit), 'வணக்கம்' (Tamil, whose vowel signs are combining marks, not
    letters) and 'A ½', unquoted. Vensim reads numbers in ASCII digits only, so each is a name;
    by hand: १ = 3, வணக்கம் = 2 १ = 6, A ½ = வணக்கம் + 0.5 = 6.5, and 2 १ is a syntax error."""
    m = flat("१ = 3 ~~|\nவணக்கம் = १ * 2 ~~|\nA ½ = வணக்கம் + 0.5 ~~|\nCafé² = A ½ * 2 ~~|\n")
    assert [constant_value(m, ir.canonical_name(n), {}) for n in ("१", "வணக்கம்", "A ½", "Café²")] == \
        [3, 6, 6.5, 13]
    with pytest.raises(SyntaxErrorInModel, match=r"t.mdl:1:7"):
        flat("x = 2 १ ~~|\n")


def test_a_names_characters_are_letters_digits_a_few_symbols_and_all_beyond_ascii():
    """The grammar writes NAME's character classes by what they leave out of ASCII (cheaper
    for Python's `re` to compile); they must be exactly the sets the grammar's comment gives,
    checked on every code point with the lexer's own pattern: a first character is
    [A-Za-z_] or beyond ASCII, a later one [A-Za-z0-9_$'&%.] or beyond ASCII."""
    import re
    from smartspec_dsl.frontend.grammar import parser
    name = re.compile(next(t for t in parser().terminals if t.name == "NAME").pattern.to_regexp())
    first, later = re.compile(r"[A-Za-z_]"), re.compile(r"[A-Za-z0-9_$'&%.]")
    ascii_chars, beyond = [chr(c) for c in range(0x80)], "".join(map(chr, range(0x80, 0x110000)))
    assert [c for c in ascii_chars if bool(name.fullmatch(c)) != bool(first.fullmatch(c))] == []
    assert [c for c in ascii_chars if bool(name.fullmatch("a" + c)) != bool(later.fullmatch(c))] == []
    assert [c for c in ascii_chars if bool(name.fullmatch("a " + c)) != bool(later.fullmatch(c))] == []
    assert [c for c in beyond if not name.fullmatch(c)] == []
    assert name.fullmatch("a" + beyond) and name.fullmatch("a " + beyond)


# ---- brace comments ------------------------------------------------------------------

def test_brace_comments_anywhere_nested_and_over_lines():
    m = parse_model("""{UTF-8}
a = 1 {outer {nested} comment, with (parens) and b = a*2 } + 2 ~~|
b = a * { old equation:
  IF THEN ELSE(a > 1, 2, 3) } 2 {trailing} ~ units {kept} ~ comment {kept too} |
c{ a comment inside a name's place }= 4 ~~|
"q {not a comment}" = 5 ~~|
""" + CONTROL, "t.mdl")
    assert constant_value(m, "a", {}) == 3
    assert constant_value(m, "b", {}) == 6
    assert constant_value(m, "c", {}) == 4
    assert constant_value(m, "q {not a comment}", {}) == 5
    assert m.variables["b"].units == "units {kept}"


def test_unclosed_brace_comment_points_at_its_start():
    with pytest.raises(SyntaxErrorInModel, match=r"t.mdl:3:7: .*never closed"):
        parse_model("{UTF-8}\na = 1 ~~|\nb = 2 { never\nclosed ~~|\n" + CONTROL, "t.mdl")


def test_positions_after_a_multiline_comment_stay_true():
    with pytest.raises(SyntaxErrorInModel, match=r"t.mdl:4:7:"):
        parse_model("{ a\ncomment\n}\nb = 2 ) ~~|\n" + CONTROL, "t.mdl")


# ---- subscript mappings on the right-hand side ---------------------------------------

ZONES = """
Zone: Z1, Z2 -> (Region: Coastal, R3) ~~|
Region: R1, R2, R3 ~~|
Coastal: R1, R2 ~~|
K: K1, K2 ~~|
zone tax[Zone] = 5, 7 ~~|
"""


def test_mapping_onto_a_subrange_is_many_to_one():
    # Z1 -> Coastal (R1, R2), Z2 -> R3: each region reads the zone mapped onto it
    m = flat(ZONES + "region tax[Region] = zone tax[Zone] * 2 ~~|\n")
    assert values(m, "region tax", "r1 r2 r3") == [10, 10, 14]


def test_mapping_with_a_subrange_or_element_on_the_left():
    m = flat(ZONES + "coastal tax[Coastal] = zone tax[Zone] ~~|\n"
                     "r3 tax[R3] = zone tax[Zone] + 1 ~~|\n")
    assert values(m, "coastal tax", "r1 r2") == [5, 5]
    assert values(m, "r3 tax", "r3") == [8]


def test_mapping_inside_except_equations():
    m = flat(ZONES + "t2[Region] :EXCEPT: [R2] = zone tax[Zone] * 3 ~~|\nt2[R2] = 0 ~~|\n")
    assert values(m, "t2", "r1 r2 r3") == [15, 0, 21]


def test_mapping_inside_array_functions_and_with_other_dimensions():
    m = flat(ZONES + "zk[Zone, K] = 1, 2; 30, 40; ~~|\n"
                     "by k[Region, K] = zk[Zone, K] ~~|\n"
                     "row sum[Region] = SUM(zk[Zone, K!]) ~~|\n"
                     "row max[Region] = VMAX(zk[Zone, K!]) ~~|\n")
    assert values(m, "by k", "r1,k1 r1,k2 r2,k2 r3,k1") == [1, 2, 2, 30]
    assert values(m, "row sum", "r1 r2 r3") == [3, 3, 70]
    assert values(m, "row max", "r1 r2 r3") == [2, 2, 40]


def test_general_mapping_form_of_the_help():
    # Rhsub: rh1, rh2 -> (Lhsub: lh1, lh2), (Lhbigger: Lhbsubr1, Lhbsubr2), (Lhopposite: lho2, lho1)
    m = flat("""
Rhsub: rh1, rh2 -> (Lhsub: lh1, lh2), (Lhbigger: Lhbsubr1, Lhbsubr2), (Lhopposite: lho2, lho1) ~~|
Lhsub: lh1, lh2 ~~|
Lhbigger: lhb1, lhb2, lhb3, lhb4 ~~|
Lhbsubr1: lhb1, lhb3 ~~|
Lhbsubr2: lhb2, lhb4 ~~|
Lhopposite: lho1, lho2 ~~|
w[Rhsub] = 1, 2 ~~|
a[Lhsub] = w[Rhsub] ~~|
b[Lhbigger] = w[Rhsub] ~~|
c[Lhopposite] = w[Rhsub] ~~|
""")
    assert values(m, "a", "lh1 lh2") == [1, 2]
    assert values(m, "b", "lhb1 lhb2 lhb3 lhb4") == [1, 2, 1, 2]
    assert values(m, "c", "lho1 lho2") == [2, 1]


def test_range_built_from_a_subrange_maps_positionally():
    m = flat("""
SubS: S1, S2 ~~|
Src: SubS, S3 -> Dst ~~|
Dst: D1, D2, D3 ~~|
x[Src] = 1, 2, 3 ~~|
y[Dst] = x[Src] * 10 ~~|
back[Src] = y[Dst] + 1 ~~|
""")
    assert values(m, "y", "d1 d2 d3") == [10, 20, 30]
    # the mapping read backwards: S2 maps to D2
    assert values(m, "back", "s1 s2 s3") == [11, 21, 31]


def test_mapping_read_backwards_onto_single_elements():
    m = flat("""
Zone: Z1, Z2 -> (Region: R3, R1) ~~|
Region: R1, R2, R3 ~~|
region val[Region] = 1, 2, 3 ~~|
zone val[Zone] = region val[Region] ~~|
""")
    assert values(m, "zone val", "z1 z2") == [3, 1]


def test_mapping_read_backwards_onto_a_subrange_is_ambiguous():
    # located at the equation that reads the mapping backwards (line 8), naming the mapping's line
    with pytest.raises(ModelError, match=r"t.mdl:8:14: reading 'Region' here, the mapping of 'Zone' maps 'Z1' "
                                         r"onto several elements of 'Region' \(R1, R2\).* \(the mapping is "
                                         r"declared at t.mdl:2:1\)"):
        flat(ZONES + "region val[Region] = 1, 2, 3 ~~|\nback[Zone] = region val[Region] ~~|\n")


def test_mapping_with_the_wrong_number_of_targets():
    # the modeller's names (A, B), not the canonical ones
    with pytest.raises(ModelError, match=r"'A' has 2 elements but its mapping to 'B' lists 3"):
        flat("A: a1, a2 -> B ~~|\nB: b1, b2, b3 ~~|\nx[A] = 1, 2 ~~|\ny[B] = x[A] ~~|\n")


# ---- macros as Vensim's help defines them ------------------------------------------------

MACROS = """{UTF-8}
:MACRO: SCALE(input)
SCALE = input * TIME STEP$ + offset$ ~~|
:END OF MACRO:
:MACRO: RESCALE(input)
RESCALE = curve$(input) ~~|
:END OF MACRO:
curve((0, 0), (10, 100)) ~~|
rescaled = RESCALE(Time * 4) ~~|
:MACRO: SPLIT(total, share : rest, kept)
SPLIT = total * share ~~|
rest = total - SPLIT ~~|
kept = INTEG(total * share, 0) ~~|
:END OF MACRO:
offset = 100 ~~|
scaled = SCALE(8) ~~|
part a = SPLIT(10, 0.3 : Remaining A, kept a) ~~|
part b = SPLIT(Time, 0.5 : Remaining B, kept b) ~~|
uses outputs = Remaining A + kept b ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 1 ~~|
TIME STEP = 0.25 ~~|
SAVEPER = 0.25 ~~|
"""


def test_macros_with_model_variables_and_extra_outputs(tmp_path):
    import numpy as np
    import smartspec_dsl
    path = tmp_path / "macros.mdl"
    path.write_text(MACROS)
    r = smartspec_dsl.load(path).run()
    t = np.arange(0, 1.0001, 0.25)
    # the example: 8 * TIME STEP$ (0.25) + offset$ (100)
    np.testing.assert_allclose(r["scaled"], 102)
    np.testing.assert_allclose(r["part a"], 3)
    np.testing.assert_allclose(r["Remaining A"], 7)
    # each call keeps its own stock: kept a grows by 3 per time unit (Euler, exact for a constant)
    np.testing.assert_allclose(r["kept a"], 3 * t)
    np.testing.assert_allclose(r["part b"], 0.5 * t)
    np.testing.assert_allclose(r["Remaining B"], 0.5 * t)
    # kept b integrates 0.5 * Time by Euler: 0.25 * sum of 0.5 * earlier times
    kept_b = np.concatenate([[0], np.cumsum(0.25 * 0.5 * t[:-1])])
    np.testing.assert_allclose(r["kept b"], kept_b)
    np.testing.assert_allclose(r["uses outputs"], 7 + kept_b)
    # a model lookup called from a macro: curve$(x) = 10 x
    np.testing.assert_allclose(r["rescaled"], 40 * t)


def test_macro_extra_outputs_are_checked():
    from smartspec_dsl.passes.pipeline import lower
    bad = MACROS.replace("SPLIT(10, 0.3 : Remaining A, kept a)", "SPLIT(10, 0.3 : Remaining A)")
    with pytest.raises(ModelError, match=r"t.mdl:17:\d+: macro 'SPLIT' has 2 extra outputs after ':', "
                                         r"the call names 1"):
        lower(parse_model(bad, "t.mdl"))
    twice = MACROS.replace("offset = 100", "kept a = 1 ~~|\noffset = 100")
    with pytest.raises(ModelError, match=r"'kept a' is defined twice"):
        lower(parse_model(twice, "t.mdl"))
    with pytest.raises(ModelError, match=r"only a macro call names extra outputs"):
        lower(parse_model(MACROS.replace("SCALE(8)", "MAX(8, 1 : z)"), "t.mdl"))
    # the macro as the modeller wrote it (Vensim shows functions in capitals), never 'scale'
    with pytest.raises(ModelError, match=r"t.mdl:2:1: macro 'SCALE' does not define its output \(an equation "
                                         r"'SCALE = \.\.\.' inside it\)"):
        lower(parse_model(MACROS.replace("SCALE = input", "scaled value = input"), "t.mdl"))


ARRAY_OUTPUTS = """
Region: North, South, East ~~|
Coast: North, South ~~|
:MACRO: SCALE2(inp : extra)
SCALE2 = inp * k$ ~~|
extra = inp + TIME STEP$ ~~|
:END OF MACRO:
k = 3 ~~|
x[Region] = 1, 2, 3 ~~|
w[Region] = SCALE2(x[Region] : ww) ~~|
q[Region] = ww[Region] * 10 ~~|
v[Region] = SCALE2(SCALE2(x[Region] : vv1) : vv2) ~~|
p[Coast] = SCALE2(x[Coast] : pp) ~~|
p[East] = 0 ~~|
s = SUM(pp[Coast!]) ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 1 ~~|
TIME STEP = 0.5 ~~|
SAVEPER = 1 ~~|
"""


def test_macro_extra_outputs_of_a_call_in_an_array_equation(tmp_path):
    """A macro with an extra output called in an array equation: the call runs once per
    element of the left-hand side (Vensim's help, "Macros": a macro is called as any
    function, with subscripted values; what its outputs are there the help leaves open, our
    choice:) so its output is an array over the same subscripts, each element the output of
    that element's call; it was refused as defined twice. By hand,
    with k = 3 and TIME STEP 0.5: w = 3x = 3, 6, 9 and ww = x + 0.5 = 1.5, 2.5, 3.5 (q = 10 ww);
    nested, v = 9x and vv1 = x + 0.5, vv2 = 3x + 0.5; over the subrange Coast only, pp[North],
    pp[South] = 1.5, 2.5, summed 4. An output named like another variable, or named by two
    calls for one element, is defined twice, located."""
    import smartspec_dsl
    from smartspec_dsl.passes.pipeline import lower
    (tmp_path / "m.mdl").write_text(ARRAY_OUTPUTS)
    r = smartspec_dsl.load(tmp_path / "m.mdl", tier="interpreter").run(tier="interpreter")
    got = {c: r[c][0] for c in r.columns if c != "Time"}
    assert [got[f"{n}[{e}]"] for n in ("w", "ww", "q") for e in ("North", "South", "East")] == \
        [3, 6, 9, 1.5, 2.5, 3.5, 15, 25, 35]
    assert [got[f"{n}[{e}]"] for n in ("v", "vv1", "vv2") for e in ("North", "South", "East")] == \
        [9, 18, 27, 1.5, 2.5, 3.5, 3.5, 6.5, 9.5]
    assert (got["pp[North]"], got["pp[South]"], got["s"]) == (1.5, 2.5, 4)
    assert "pp[East]" not in got
    with pytest.raises(ModelError, match=r"t.mdl:10:13: 'ww' is defined twice: by this call of macro 'SCALE2' "
                                         r"and at t.mdl:8:1"):
        lower(parse_model(ARRAY_OUTPUTS.replace("k = 3", "ww = 3"), "t.mdl"))
    with pytest.raises(ModelError, match=r"'pp\[North\]' is defined twice"):
        lower(parse_model(ARRAY_OUTPUTS.replace("p[East] = 0 ~~|", "p[East] = SCALE2(1 : pp) ~~|\n"
                                                "r[North] = SCALE2(1 : pp) ~~|"), "t.mdl"))


# ---- what is still unsupported: all of it at once, in the modeller's terms ---------------

def test_every_unsupported_call_is_reported_in_one_pass():
    from smartspec_dsl.errors import UnsupportedFeature
    from smartspec_dsl.passes.pipeline import lower
    text = """x = Time ~~|
a = DEPRECIATE BY SCHEDULE(x, x, x, 2, Time) + 1 ~~|
b = 2 * SHIFT IF TRUE(x, 1, 1, 1, 0) ~~|
c = frobnicate(x) ~~|
flat((0,1),(1,1)) ~~|
e = flat(x) + GET VDF DATA('run.vdf', 'x') ~~|
""" + CONTROL
    with pytest.raises(UnsupportedFeature) as err:
        lower(parse_model(text, "t.mdl"))
    lines = str(err.value).splitlines()
    assert lines == [
        "t.mdl:2:5: function 'DEPRECIATE BY SCHEDULE' is not supported without subscripts: it works on "
        "subscripted variables, and this model has none (in the equation of 'a')",
        "t.mdl:3:9: function 'SHIFT IF TRUE' is not supported without subscripts: it works on subscripted "
        "variables, and this model has none (in the equation of 'b')",
        "t.mdl:4:5: 'FROBNICATE' is not a Vensim function, nor a macro or lookup defined in this model "
        "(in the equation of 'c')",
        "t.mdl:6:15: Vensim function GET VDF DATA is not supported by smartspec: reads Vensim's own binary "
        "run files (.vdf), whose format is not published (in the equation of 'e')",
    ]


def test_messages_name_the_modellers_variable_not_internal_ones():
    from smartspec_dsl.passes.pipeline import lower
    from smartspec_dsl.passes.order import schedule
    text = """x = Time ~~|
delayed zero = DELAY FIXED(missing input, 1, 0) ~~|
:MACRO: STEPSCALE(a)
STEPSCALE = a * undefined thing ~~|
:END OF MACRO:
y = STEPSCALE(3) ~~|
""" + CONTROL
    with pytest.raises(ModelError) as err:
        schedule(lower(parse_model(text, "t.mdl")))
    assert "#" not in str(err.value)
    assert "'undefined thing' used in the equation of 'STEPSCALE (in macro STEPSCALE called by y at 6:5)'" \
        in str(err.value)
    with pytest.raises(ModelError) as err:
        schedule(lower(parse_model(text.replace("y = STEPSCALE(3)", "y = 3"), "t.mdl")))
    assert str(err.value).startswith("t.mdl:2:28: undefined variable 'missing input' used in the equation "
                                     "of 'delayed zero (DELAY FIXED call at 2:16)'")


@pytest.mark.parametrize("controls, message, run_message", [
    ("INITIAL TIME = 0 ~~|\nFINAL TIME = 10 ~~|\nTIME STEP = 1 ~~|\n",
     "error: m.mdl:1:1: the model does not define SAVEPER", "error: m.mdl:1:1: the model does not define SAVEPER"),
    ("INITIAL TIME = 0 ~~|\nFINAL TIME = 10 ~~|\nTIME STEP = 0 ~~|\nSAVEPER = 1 ~~|\n",
     "error: m.mdl:4:1: TIME STEP must be positive, got 0",
     "error: TIME STEP must be positive, got 0 (TIME STEP is defined at m.mdl:4:1)"),
    ("INITIAL TIME = 10 ~~|\nFINAL TIME = 0 ~~|\nTIME STEP = 1 ~~|\nSAVEPER = 1 ~~|\n",
     "error: m.mdl:3:1: FINAL TIME (0) is before INITIAL TIME (10) (INITIAL TIME is defined at m.mdl:2:1)",
     "error: FINAL TIME (0) is before INITIAL TIME (10) (FINAL TIME is defined at m.mdl:3:1)"),
    ("INITIAL TIME = 0 ~~|\nFINAL TIME = 1 ~~|\nTIME STEP = 1 ~~|\nSAVEPER = 0 ~~|\n",
     "error: m.mdl:5:1: SAVEPER must be positive, got 0",
     "error: SAVEPER must be positive, got 0 (SAVEPER is defined at m.mdl:5:1)"),
    # every other rejection `run` makes before simulating, each reported by `check` with its line
    ("INITIAL TIME = 0 ~~|\nFINAL TIME = 10 ~~|\nSAVEPER = 1 ~~|\n",
     "error: m.mdl:1:1: the model does not define TIME STEP", "error: m.mdl:1:1: the model does not define TIME STEP"),
    ("FINAL TIME = 10 ~~|\nTIME STEP = 1 ~~|\nSAVEPER = 1 ~~|\n",
     "error: m.mdl:1:1: the model does not define INITIAL TIME",
     "error: m.mdl:1:1: the model does not define INITIAL TIME"),
    ("INITIAL TIME = 0 ~~|\nFINAL TIME = 1e400 ~~|\nTIME STEP = 1 ~~|\nSAVEPER = 1 ~~|\n",
     "error: m.mdl:3:1: FINAL TIME is inf", "error: m.mdl:3:1: FINAL TIME is inf"),
    # SQRT is computed before the run as the kernel computes it: NaN, no number
    ("INITIAL TIME = 0 ~~|\nFINAL TIME = 10 ~~|\nTIME STEP = SQRT(-1) ~~|\nSAVEPER = 1 ~~|\n",
     "error: m.mdl:4:1: TIME STEP cannot be computed before the run (its equation gives no number",
     "error: m.mdl:4:1: TIME STEP cannot be computed before the run (its equation gives no number"),
    ("INITIAL TIME = -1e308 ~~|\nFINAL TIME = 1e308 ~~|\nTIME STEP = 1 ~~|\nSAVEPER = 1 ~~|\n",
     "error: m.mdl:3:1: FINAL TIME (1e+308) and INITIAL TIME (-1e+308) must be finite",
     "error: FINAL TIME (1e+308) and INITIAL TIME (-1e+308) must be finite (FINAL TIME is defined at m.mdl:3:1)"),
    ("INITIAL TIME = 0 ~~|\nFINAL TIME = 1e6 ~~|\nTIME STEP = 1e-9 ~~|\nSAVEPER = 1 ~~|\n",
     "error: m.mdl:4:1: the run would take 1e+15 time steps",
     "error: the run would take 1e+15 time steps"),
    # 1e10 saved times of 5 or 6 columns: over 370 GB, more than any machine this runs on has
    ("INITIAL TIME = 0 ~~|\nFINAL TIME = 1e10 ~~|\nTIME STEP = 1 ~~|\nSAVEPER = 1 ~~|\n",
     "error: m.mdl:5:1: a run of 10,000,000,001 saved times x",
     "error: a run of 10,000,000,001 saved times x"),
    # a DELAY FIXED of 1e12 TIME STEPs: 8 TB of buffer
    ("b = DELAY FIXED(Time, 1e12, 0) ~~|\nINITIAL TIME = 0 ~~|\nFINAL TIME = 1 ~~|\nTIME STEP = 1 ~~|\n"
     "SAVEPER = 1 ~~|\n", "error: m.mdl:2:5: a run whose delay buffers hold 1,000,000,000,000 values needs about",
     "error: m.mdl:2:5: a run whose delay buffers hold 1,000,000,000,000 values needs about"),
    # refused by code generation, which `check` runs too (the kernel is not compiled)
    ("b = 'text' + 1 ~~|\nINITIAL TIME = 0 ~~|\nFINAL TIME = 1 ~~|\nTIME STEP = 1 ~~|\nSAVEPER = 1 ~~|\n",
     "error: m.mdl:2:1: a text argument ('text') cannot be computed with",
     "error: m.mdl:2:1: a text argument ('text') cannot be computed with"),
    ("b = LOOKUP FORWARD(Time, 2) ~~|\nINITIAL TIME = 0 ~~|\nFINAL TIME = 1 ~~|\nTIME STEP = 1 ~~|\n"
     "SAVEPER = 1 ~~|\n", "error: m.mdl:2:5: 'Time' is not a lookup table",
     "error: m.mdl:2:5: 'Time' is not a lookup table"),
])
def test_check_reports_what_run_would_reject(tmp_path, monkeypatch, capsys, controls, message, run_message):
    from smartspec_dsl.cli import main
    (tmp_path / "m.mdl").write_text("a = 1 ~~|\n" + controls)
    monkeypatch.chdir(tmp_path)
    assert main(["check", "m.mdl"]) == 2
    assert capsys.readouterr().err.startswith(message)
    assert main(["run", "m.mdl"]) == 2
    # the same fault; run words it its own way, as it also names values given to the run
    assert capsys.readouterr().err.startswith(run_message)


def test_delay_buffers_too_big_for_a_runs_own_delay_time_are_located(tmp_path, monkeypatch, capsys):
    """The kernel cannot allocate the buffer of the delay time a run sets: refused as `check`
    refuses the model's own, at the call, with the run's delay time (1e12 TIME STEPs: 8 TB)."""
    from smartspec_dsl.cli import main
    (tmp_path / "m.mdl").write_text("dl = 2 ~~|\nb = DELAY FIXED(Time, dl, 0) ~~|\nINITIAL TIME = 0 ~~|\n"
                                    "FINAL TIME = 1 ~~|\nTIME STEP = 1 ~~|\nSAVEPER = 1 ~~|\n")
    monkeypatch.chdir(tmp_path)
    assert main(["run", "m.mdl", "--tier", "interpreter", "--set", "dl=1e12", "-o", "m.csv"]) == 2
    assert capsys.readouterr().err.startswith(
        "error: m.mdl:2:5: a run whose delay buffers hold 1,000,000,000,000 values needs about")
    assert not (tmp_path / "m.csv").exists()


# ---- external data as people ship it -----------------------------------------------------

EXTERNAL = """{UTF-8}
pop :INTERPOLATE: ~~|
D: d1, d2, d3 ~~|
k[D] = GET DIRECT CONSTANTS('?params', ',', 'B2:B') ~~|
series := GET DIRECT DATA('?params', ',', 'A2:A', 'C2') ~~|
open row := GET DIRECT DATA('rows.csv', ',', 'B1:1', 'B2') ~~|
down col := GET DIRECT DATA('rows.csv', ',', 'A', 'B5') ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 4 ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""


def read_columns(path) -> dict:
    import csv
    import numpy as np
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return {name: np.array([float(r[i]) for r in rows[1:]]) for i, name in enumerate(rows[0])}


@pytest.fixture
def shipped(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "m.mdl").write_text(EXTERNAL)
    # x values along row 1 from B to the last filled cell; trailing empty cells are no data
    (tmp_path / "model" / "rows.csv").write_text("t,0,4,,\nv,1,9,,\n,,,,\n,,,,\n0,7\n2,8\n4,11\n")
    # the alias: a file outside the model's folder, named by the run
    (tmp_path / "params.csv").write_text("time,k,s\n0,10,1\n2,20,3\n4,30,5\n")
    (tmp_path / "pop.tab").write_text("Time\tpop\n0\t100\n4\t140\n")
    return tmp_path


def test_open_ended_ranges_aliases_and_run_time_data_files(shipped, monkeypatch, capsys):
    import numpy as np
    from smartspec_dsl.cli import main
    monkeypatch.chdir(shipped)
    assert main(["run", "model/m.mdl", "--data-alias", "params=params.csv", "--data", "pop.tab",
                 "-o", "out.csv"]) == 0
    out = read_columns(shipped / "out.csv")
    np.testing.assert_allclose(out["pop"], [100, 110, 120, 130, 140])    # interpolated
    for i, v in enumerate((10, 20, 30)):                                    # 'B2:B': rows 2 to 4
        np.testing.assert_allclose(out[f"k[d{i + 1}]"], v)
    np.testing.assert_allclose(out["series"], [1, 2, 3, 4, 5])          # x 'A2:A' = 0, 2, 4
    np.testing.assert_allclose(out["open row"], [1, 3, 5, 7, 9])        # x 'B1:1' = 0, 4
    np.testing.assert_allclose(out["down col"], [7, 7.5, 8, 9.5, 11])   # column A from row 5


SPARSE = """{UTF-8}
DimA: A1, A2, A3 ~~|
A Values[DimA] ~~|
A Values Avg = ZIDZ(SUM(IF THEN ELSE(A Values[DimA!] = :NA:, 0, A Values[DimA!])),
    SUM(IF THEN ELSE(A Values[DimA!] = :NA:, 0, 1))) ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 10 ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""

# Vensim's .dat text format (help, ".dat Format"): a name line, then time and value per line;
# a comment after '/' or after the numbers, a <time base>, a name given twice adds points
SPARSE_DAT = """A Values[A1] / from the published test
0\t0
1\t10
2 20   a comment after the point
A Values[A3] <Time>
0\t20
1\t30
A Values[A1]
9\t70
10\t80
A Values[A3]
2\t40
9\t90
10\t100
"""


def test_data_in_vensims_dat_format_with_elements_without_data(tmp_path, monkeypatch, capsys):
    """SDEverywhere's sumif case, run by Vensim: data for A1 and A3 of A Values only, in a
    .dat file. "Data need not be available for all members of a Subscript Range" (Vensim's
    help, ".dat Format"): A2 is :NA:, which the run says; the model's average of the elements
    that have data is Vensim's own output (sumif.dat): 10, 20, 30, 37.1429, 44.2857, ...,
    80, 90 (by hand (A1 + A3) / 2, each interpolated between its points). A data array
    without data for any element is still refused, and a point before any name is located."""
    import numpy as np
    from smartspec_dsl.cli import main
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sumif.mdl").write_text(SPARSE)
    (tmp_path / "sumif_data.dat").write_text(SPARSE_DAT)
    assert main(["run", "sumif.mdl", "--data", "sumif_data.dat", "-o", "out.csv"]) == 0
    assert "data variable 'A Values' has no equation and no data for [A2]: :NA: there" in capsys.readouterr().err
    out = read_columns(tmp_path / "out.csv")
    np.testing.assert_allclose(out["A Values Avg"], [10, 20, 30, 37.1429, 44.2857, 51.4286, 58.5714, 65.7143,
                                                     72.8571, 80, 90], rtol=1e-5)
    np.testing.assert_allclose(out["A Values[A2]"], ir.NA_VALUE)
    assert main(["check", "sumif.mdl", "--data", "sumif_data.dat"]) == 0
    (tmp_path / "none.dat").write_text("other\n0 1\n")
    assert main(["run", "sumif.mdl", "--data", "none.dat", "-o", "out.csv"]) == 2
    assert "'A Values' has no equation and no data for [A1], [A2], [A3]" in capsys.readouterr().err
    (tmp_path / "bad.dat").write_text("0 1\nA Values[A1]\n1 2\n")
    assert main(["run", "sumif.mdl", "--data", "bad.dat", "-o", "out.csv"]) == 2
    assert "bad.dat:1: a data point before the name of its variable" in capsys.readouterr().err


DAT_MODEL = """{UTF-8}
DimA: A1, A2 ~~|
A Values[DimA] ~~|
b val ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 4 ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""


@pytest.mark.parametrize("again", ["a values[a1]", '"A Values"[A1]', "A_VALUES [ a1 ]", "A Values[A1]"])
def test_a_dat_series_named_again_otherwise_spelt_adds_its_points(tmp_path, monkeypatch, capsys, again):
    """Vensim compares names ignoring case, quotes and runs of spaces/underscores, so a
    .dat block named again in another spelling adds its points to the series (the .dat
    format: "a name given twice adds to its series"). A1's points (0, 1) and (4, 9),
    interpolated by hand: 1, 3, 5, 7, 9. A name the model has no data variable of is said,
    with its file:line, not dropped in silence."""
    import numpy as np
    from smartspec_dsl.cli import main
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.mdl").write_text(DAT_MODEL)
    (tmp_path / "d.dat").write_text(f"A Values[A1]\n0 1\nA Values[A2]\n0 2\n4 2\nb val\n0 7\n4 7\n"
                                    f"a valuez[a1]\n0 5\n{again}\n4 9\n")
    assert main(["run", "m.mdl", "--data", "d.dat", "-o", "out.csv"]) == 0
    assert "d.dat:9: the data file names 'a valuez[a1]', which is not a data variable" in capsys.readouterr().err
    np.testing.assert_allclose(read_columns(tmp_path / "out.csv")["A Values[A1]"], [1, 3, 5, 7, 9])


def test_a_dat_time_given_twice_with_two_values_is_located(tmp_path, monkeypatch, capsys):
    from smartspec_dsl.cli import main
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.mdl").write_text(DAT_MODEL)
    (tmp_path / "d.dat").write_text("A Values[A1]\n0 1\n4 9\nA Values[A2]\n0 2\nb val\n0 7\nA VALUES[A1]\n4 8\n")
    assert main(["run", "m.mdl", "--data", "d.dat", "-o", "out.csv"]) == 2
    assert "two points at x = 4 with different y values (9 and 8) (line 3 and line 9)" in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("bad", ["2", "2 3,5", "4, 9", "-1"])
def test_a_malformed_dat_point_line_is_an_error_at_its_line(tmp_path, monkeypatch, capsys, bad):
    """A line that begins with a number is a point (a Vensim name cannot begin with one): one
    that is not a time and a value is refused at its line, never read as a new name whose
    series no variable has (which lost the points after it)."""
    from smartspec_dsl.cli import main
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.mdl").write_text(DAT_MODEL)
    (tmp_path / "d.dat").write_text(f"A Values[A1]\n0 1\n{bad}\n4 9\nA Values[A2]\n0 2\nb val\n0 7\n")
    assert main(["run", "m.mdl", "--data", "d.dat", "-o", "out.csv"]) == 2
    assert f"d.dat:3: '{bad}' is not a data point: expected a time and a value" in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()


def test_the_series_no_data_variable_reads_are_warned_once_per_file(tmp_path, monkeypatch, capsys):
    """Another model's output used as data (beside the model) names many variables this
    model has not: one warning for the file, naming the first four by their cells, and the
    columns it does have read (A1 from (0, 1), (4, 9): 1, 3, 5, 7, 9 by hand)."""
    import numpy as np
    from smartspec_dsl.cli import main
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.mdl").write_text(DAT_MODEL)
    (tmp_path / "other run.csv").write_text("Time,A Values[A1],A Values[A2],b val,x1,x2,x3,x4,x5\n"
                                            "0,1,2,7,0,0,0,0,0\n4,9,2,7,0,0,0,0,0\n")
    assert main(["run", "m.mdl", "-o", "out.csv"]) == 0
    err = capsys.readouterr().err
    assert "other run.csv: cell E1: the data file names 5 series that are not data variables (or elements of " \
        "them) of the model, their values not used: 'x1' (cell E1), 'x2' (cell F1), 'x3' (cell G1), " \
        "'x4' (cell H1) and 1 more" in err
    assert err.count("the data file names") == 1
    np.testing.assert_allclose(read_columns(tmp_path / "out.csv")["A Values[A1]"], [1, 3, 5, 7, 9])


def test_a_csv_column_named_again_otherwise_spelt_is_refused(tmp_path, monkeypatch, capsys):
    """Two columns of one data file that name one variable (here differing only in case)
    are ambiguous: refused naming both header cells, never the first kept in silence."""
    from smartspec_dsl.cli import main
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.mdl").write_text(DAT_MODEL)
    (tmp_path / "d.csv").write_text("Time,A Values[A1],A Values[A2],b val,a values[a1]\n0,1,2,7,5\n4,9,2,7,5\n")
    assert main(["run", "m.mdl", "--data", "d.csv", "-o", "out.csv"]) == 2
    assert "d.csv: cell E1: 'a values[a1]' names the same variable as 'A Values[A1]' at d.csv: cell B1" \
        in capsys.readouterr().err


def test_load_takes_its_data_files_as_a_list_and_refuses_other_types(shipped, monkeypatch):
    """`load(path, data=[files])`: the list is the data files (as --data); anything else that
    is not external.DataOptions is refused at the door, before any work."""
    import smartspec_dsl
    from smartspec_dsl.errors import ParameterError
    monkeypatch.chdir(shipped)
    with pytest.raises(ModelError, match=r"the file is given as the alias '\?params'"):   # pop.tab taken
        smartspec_dsl.load("model/m.mdl", data=["pop.tab"], tier="interpreter")
    for bad in ([1], 3, {"pop": "pop.tab"}):
        with pytest.raises(ParameterError, match="data must be a data file, a list of data files or a DataOptions"):
            smartspec_dsl.load("model/m.mdl", data=bad)


def test_a_missing_alias_is_named(shipped, monkeypatch, capsys):
    from smartspec_dsl.cli import main
    monkeypatch.chdir(shipped)
    assert main(["check", "model/m.mdl", "--data", "pop.tab"]) == 2
    assert "model/m.mdl:4:8: the file is given as the alias '?params': name its file with " \
           "--data-alias params=FILE" in capsys.readouterr().err
    assert main(["run", "model/m.mdl", "--data", "pop.tab"]) == 2
    assert "the alias '?params'" in capsys.readouterr().err
    # data variables with no equation and no data file named
    assert main(["run", "model/m.mdl", "--data-alias", "params=params.csv"]) == 2
    err = capsys.readouterr().err
    assert "model/m.mdl:2:1: data variable 'pop' has no equation and no data" in err
    assert "(no values in the data files next to the model" in err


def test_run_time_data_from_a_spreadsheet(shipped, monkeypatch):
    openpyxl = pytest.importorskip("openpyxl")
    import numpy as np
    from smartspec_dsl.cli import main
    wb = openpyxl.Workbook()
    wb.active.append(["Time", "pop"])
    wb.active.append([0, 50])
    wb.active.append([4, 10])
    wb.save(shipped / "pop.xlsx")
    monkeypatch.chdir(shipped)
    assert main(["run", "model/m.mdl", "--data-alias", "params=params.csv", "--data", "pop.xlsx",
                 "-o", "out.csv"]) == 0
    out = read_columns(shipped / "out.csv")
    np.testing.assert_allclose(out["pop"], [50, 40, 30, 20, 10])


# ---- functions of Vensim's reference ---------------------------------------------------------

FUNCTIONS = """{UTF-8}
LOOK((0,1),(1,1),(2,2)) ~~|
area 0 1 = LOOKUP AREA(LOOK, 0, 1) ~~|
area 2 4 = LOOKUP AREA(LOOK, 2, 4) ~~|
area half = LOOKUP AREA(LOOK, 0.5, 2.5) ~~|
area before = LOOKUP AREA(LOOK, -2, 0.5) ~~|
area reversed = LOOKUP AREA(LOOK, 1, 0) ~~|
area moving = LOOKUP AREA(LOOK, 0, Time) ~~|
gamma ln 5 = GAMMA LN(5) ~~|
gamma ln half = GAMMA LN(0.5) ~~|
cash = 100 ~~|
npve plain = NPVE(cash, 0.1, 0, 1) ~~|
npv plain = NPV(cash, 0.1, 0, 1) ~~|
shipments in = IF THEN ELSE(Time < 1, 3, 0) ~~|
shipments out = DELAYP(shipments in, 3 : In Transit) ~~|
uses pipeline = In Transit * 2 ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 3 ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""


@pytest.fixture(scope="module")
def functions_run(tmp_path_factory):
    import smartspec_dsl
    path = tmp_path_factory.mktemp("functions") / "functions.mdl"
    path.write_text(FUNCTIONS)
    return smartspec_dsl.load(path).run()


def test_lookup_area_matches_the_help_examples(functions_run):
    import numpy as np
    r = functions_run
    # Vensim help, "LOOKUP AREA": LOOK((0,1),(1,1),(2,2)) gives 1.0, 4.0 and 3.0
    np.testing.assert_allclose(r["area 0 1"], 1.0)
    np.testing.assert_allclose(r["area 2 4"], 4.0)
    np.testing.assert_allclose(r["area half"], 3.0)
    # before the first point the first value is held, as a lookup holds it: 2 * 1 + 0.5 * 1
    np.testing.assert_allclose(r["area before"], 2.5)
    # the help leaves end < start open; we return the signed integral, -(area from 0 to 1)
    np.testing.assert_allclose(r["area reversed"], -1.0)
    # by hand: 0, 1, 1 + 1.5, 2.5 + 2 at Time 0..3
    np.testing.assert_allclose(r["area moving"], [0, 1, 2.5, 4.5])


def test_gamma_ln(functions_run):
    import math
    import numpy as np
    np.testing.assert_allclose(functions_run["gamma ln 5"], math.log(24), rtol=1e-14)       # ln 4!
    np.testing.assert_allclose(functions_run["gamma ln half"], math.log(math.sqrt(math.pi)), rtol=1e-14)


def test_npve_values_the_stream_at_the_end_of_each_period(functions_run):
    import numpy as np
    # Vensim help, "NPVE": the NPV equations with df starting at 1 / (1 + rate * TIME STEP); with
    # TIME STEP 1 that is Excel's NPV: 100 paid at the end of each of k + 1 periods at 10 %
    expected = [sum(100 / 1.1 ** (j + 1) for j in range(k + 1)) for k in range(4)]
    np.testing.assert_allclose(functions_run["npve plain"], expected, rtol=1e-12)
    # NPV values it at the start: 100 + 100/1.1 + ...
    np.testing.assert_allclose(functions_run["npv plain"], [sum(100 / 1.1 ** j for j in range(k + 1))
                                                            for k in range(4)], rtol=1e-12)


DATA_FUNCTIONS = """{UTF-8}
sales := GET DIRECT DATA('sales.csv', ',', 'A', 'B2') ~~|
first = GET DATA FIRST TIME(sales) ~~|
last = GET DATA LAST TIME(sales) ~~|
points = GET DATA TOTAL POINTS(sales) ~~|
max all = GET DATA MAX(sales, INITIAL TIME, FINAL TIME) ~~|
min all = GET DATA MIN(sales, INITIAL TIME, FINAL TIME) ~~|
mean all = GET DATA MEAN(sales, INITIAL TIME, FINAL TIME) ~~|
max 2 4 = GET DATA MAX(sales, 2, 4) ~~|
min 2 4 = GET DATA MIN(sales, 2, 4) ~~|
mean none = GET DATA MEAN(sales, 2.5, 3.5) ~~|
mean window = GET DATA MEAN(sales, Time - 1, Time) ~~|
not data = GET DATA MAX(first, 0, 10) ~~|
shifted := TIME SHIFT(sales, 2) ~~|
cum := CUMULATE(sales) ~~|
cum final := CUMULATEF(sales) ~~|
ramp input = 10 * Time ~~|
info delay = IF THEN ELSE(Time < 3, 2, IF THEN ELSE(Time < 5, 1, 3)) ~~|
info delayed = DELAY INFORMATION(ramp input, info delay, -1) ~~|
info fixed = DELAY INFORMATION(ramp input, 2, -1) ~~|
fixed = DELAY FIXED(ramp input, 2, -1) ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 6 ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""


@pytest.fixture(scope="module")
def data_run(tmp_path_factory):
    import smartspec_dsl
    folder = tmp_path_factory.mktemp("data")
    (folder / "sales.csv").write_text("time,sales\n1,10\n2,30\n4,20\n5,40\n")
    (folder / "data.mdl").write_text(DATA_FUNCTIONS)
    return smartspec_dsl.load(folder / "data.mdl").run()


def test_data_functions(data_run):
    import numpy as np
    r = data_run
    na = ir.NA_VALUE
    # Vensim help, "GET DATA FIRST TIME / LAST TIME / TOTAL POINTS": times 1 to 5, 4 points
    assert (r["first"][0], r["last"][0], r["points"][0]) == (1, 5, 4)
    # GET DATA MAX / MIN / MEAN: over the points whose time is in [start, end]
    np.testing.assert_allclose([r["max all"][0], r["min all"][0], r["mean all"][0]], [40, 10, 25])
    np.testing.assert_allclose([r["max 2 4"][0], r["min 2 4"][0]], [30, 20])
    np.testing.assert_allclose(r["mean none"], na)          # no point: :NA:, as the help says
    np.testing.assert_allclose(r["not data"], na)           # not a data variable: :NA:
    np.testing.assert_allclose(r["mean window"], [na, 10, 20, 30, 20, 30, 40])
    # TIME SHIFT(sales, 2) takes sales' value 2 later (help, "Time Shifting Data"); sales is
    # interpolated between points and held after its last one
    np.testing.assert_allclose(r["shifted"], [30, 25, 20, 40, 40, 40, 40])
    # CUMULATE: points 10, 40, 60, 100 at times 1, 2, 4, 5, read as sales is read (interpolated,
    # end values held); CUMULATEF: the final sum, 100, its one point held everywhere (our choice
    # for the times before that point, where the help says nothing)
    np.testing.assert_allclose(r["cum"], [10, 10, 40, 50, 60, 100, 100])
    np.testing.assert_allclose(r["cum final"], 100)
    # the run covers times 0-6, the data 1-5: data are held beyond their points, as Vensim
    # holds them (help, "Data Equations"), by sales' own equation, TIME SHIFT 2 ahead and the
    # CUMULATE tables alike, so no range warning
    assert [w for w in r.warnings if w.kind == "lookup"] == []


ARRAY_DATA = """
Region: North, South ~~|
v[Region] ~~|
at[Region] = GET DATA BETWEEN TIMES(v[Region], Time + 0.5, 1) ~~|
back = GET DATA BETWEEN TIMES(v[South], Time - 0.5, -1) ~~|
top[Region] = GET DATA MAX(v[Region], 0, 1) ~~|
shifted := TIME SHIFT(v[South], 1) ~~|
sums[Region] := CUMULATE(v[Region]) ~~|
last = GET DATA LAST TIME(v[North]) ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 2 ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""


def test_data_functions_of_an_element_of_a_data_array(tmp_path):
    """The data functions read one element's series of a subscripted data variable (here
    given by a data file, as Vensim's -d gives it), as they read a scalar's (Vensim help,
    "Data Functions"); they gave :NA: everywhere. By hand from the points North (0,1),
    (2,3), South (0,10), (2,30): at[North] looks forward from Time + 0.5 to the next point,
    3 at every time but 2.5 (past the last point: :NA:); back holds South's point at or
    before Time - 0.5 (:NA: before the first); the maxima over times 0-1 are the points at
    0; TIME SHIFT reads South 1 later (20, 30, then held); CUMULATE sums the points (1, 4
    and 10, 40), read as the data are (interpolated: 2.5 and 25 at 1). Data held beyond
    their points (TIME SHIFT past South's last) give no range warning."""
    import smartspec_dsl
    from smartspec_dsl.frontend.workbook import DataOptions
    (tmp_path / "m.mdl").write_text(ARRAY_DATA)
    (tmp_path / "points.csv").write_text("Time,v[North],v[South]\n0,1,10\n2,3,30\n")
    na = ir.NA_VALUE
    r = smartspec_dsl.load(tmp_path / "m.mdl", tier="interpreter",
                           data=DataOptions(data_files=(tmp_path / "points.csv",))).run(tier="interpreter")
    assert r["at[North]"].tolist() == [3, 3, na] and r["at[South]"].tolist() == [30, 30, na]
    assert r["back"].tolist() == [na, 10, 10]
    assert (r["top[North]"][0], r["top[South]"][0]) == (1, 10)
    assert r["shifted"].tolist() == [20, 30, 30]
    assert r["sums[North]"].tolist() == [1, 2.5, 4] and r["sums[South]"].tolist() == [10, 25, 40]
    assert r["last"][0] == 2
    assert [w for w in r.warnings if w.kind == "lookup"] == []


RAW_DATA = """
raw :RAW: ~~|
top = GET DATA MAX(raw, 0, 2) ~~|
between = GET DATA AT TIME(raw, 1) ~~|
on point = GET DATA AT TIME(raw, 2) ~~|
ahead = TIME SHIFT(raw, 2) ~~|
sums := CUMULATE(raw) ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 2 ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""


def test_data_functions_of_raw_data_and_of_a_data_equation(tmp_path):
    """The data functions read :RAW: data (points (0, 5) and (2, 7) from a file) as its
    keyword says: :NA: off its points and beyond its ends (Vensim's help, "Keywords"); they
    gave :NA: everywhere, as for an argument that is not data. By hand: the largest point 7;
    at time 1 :NA:, at 2 7; TIME SHIFT 2 reads time 2 (7) then beyond the data (:NA:);
    CUMULATE sums the points (5, then 12 at 2), :NA: between. The variable of a data equation
    (`sq := raw * raw`) is data too, with raw's points: 25 and 49, the largest 49
    (tests/test_data_equation_series.py), and CUMULATE of it sums them: 25 at 0, 74 at 2,
    a straight line between (its keyword, :INTERPOLATE:, the default)."""
    import smartspec_dsl
    from smartspec_dsl.frontend.workbook import DataOptions
    (tmp_path / "m.mdl").write_text(RAW_DATA)
    (tmp_path / "points.csv").write_text("Time,raw\n0,5\n2,7\n")
    data = DataOptions(data_files=(tmp_path / "points.csv",))
    r = smartspec_dsl.load(tmp_path / "m.mdl", tier="interpreter", data=data).run(tier="interpreter")
    na = ir.NA_VALUE
    assert (r["top"][0], r["between"][0], r["on point"][0]) == (7, na, 7)
    assert r["ahead"].tolist() == [7, na, na] and r["sums"].tolist() == [5, na, 12]
    (tmp_path / "m.mdl").write_text(RAW_DATA.replace("top = GET DATA MAX(raw, 0, 2)",
                                                     "sq := raw * raw ~~|\ntop = GET DATA MAX(sq, 0, 2)"))
    r = smartspec_dsl.load(tmp_path / "m.mdl", tier="interpreter", data=data).run(tier="interpreter")
    assert r["top"][0] == 49
    (tmp_path / "m.mdl").write_text(RAW_DATA.replace("sums := CUMULATE(raw)", "sq := raw * raw ~~|\nsums := CUMULATE(sq)"))
    r = smartspec_dsl.load(tmp_path / "m.mdl", tier="interpreter", data=data).run(tier="interpreter")
    assert r["sums"].tolist() == [25, 49.5, 74]


def test_delay_information(data_run):
    import numpy as np
    r = data_run
    # Vensim help, "DELAY INFORMATION": the input the delay time ago, the initial value before
    # the run; by hand with input 10 * Time: delay 2 until Time 3 (-1, -1, 0), then 1 (20, 30:
    # the input at Time 1 is skipped), then 3 (20, 30: held, Time 2 and 3 come again)
    np.testing.assert_allclose(r["info delayed"], [-1, -1, 0, 20, 30, 20, 30])
    # with a constant delay it is DELAY FIXED
    np.testing.assert_allclose(r["info fixed"], r["fixed"])
    np.testing.assert_allclose(r["fixed"], [-1, -1, 0, 10, 20, 30, 40])


ARRAYS = """{UTF-8}
B: b1, b2, b3 ~~|
P: ptype, ppriority, pwidth, pextra ~~|
q[B] = 4, 4, 4 ~~|
pp[b1, P] = IF THEN ELSE(Time >= 3, 1, 0), 3, 1, 0 ~~|
pp[b2, P] = 1, 2, 1, 0 ~~|
pp[b3, P] = 1, 1, 1, 0 ~~|
avail = IF THEN ELSE(Time < 1, 10, IF THEN ELSE(Time < 2, 3, IF THEN ELSE(Time < 3, 20, 6))) ~~|
shipped[B] = ALLOCATE AVAILABLE(q[B], pp[B, ptype], avail) ~~|
D: d1, d2 ~~|
y[D] = 1, 2 ~~|
sel none[D] = 0, 0 ~~|
sel two[D] = 1, 1 ~~|
sel one[D] = 0, 1 ~~|
none missing = VECTOR SELECT(sel none[D!], y[D!], -1, 0, 0) ~~|
none error = VECTOR SELECT(sel none[D!], y[D!], -1, 0, 1) ~~|
two ok = VECTOR SELECT(sel two[D!], y[D!], -1, 0, 1) ~~|
two error = VECTOR SELECT(sel two[D!], y[D!], -1, 0, 2) ~~|
one either = VECTOR SELECT(sel one[D!], y[D!], -1, 0, 3) ~~|
error later = VECTOR SELECT(sel two[D!], y[D!], -1, 0, IF THEN ELSE(Time < 1, 0, 3)) ~~|
S: s1, s2, s3, s4 ~~|
LV[S] = 0, 10, 20, 10 ~~|
vl[S] = VECTOR LOOKUP(LV[s1], 1.5, 0, 3, 0), VECTOR LOOKUP(LV[s1], 5, 0, 3, 0),
        VECTOR LOOKUP(LV[s1], 2, 0, 3, 1), VECTOR LOOKUP(LV[s1], 4, 0, 3, 1) ~~|
vl modes[D, S] = VECTOR LOOKUP(LV[s1], 1.5, 0, 3, 2), VECTOR LOOKUP(LV[s1], 1.5, 0, 3, 4),
        VECTOR LOOKUP(LV[s1], 4, 0, 3, 3), VECTOR LOOKUP(LV[s1], -1, 0, 3, 3);
        VECTOR LOOKUP(LV[s1], 5, 0, 3, 5), VECTOR LOOKUP(LV[s1], 4, 0, 3, 7),
        VECTOR LOOKUP(LV[s1], -1, 0, 3, 7), VECTOR LOOKUP(LV[s1], Time, 0, 3, 0) ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 3 ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""


@pytest.fixture(scope="module")
def arrays_run(tmp_path_factory):
    import smartspec_dsl
    path = tmp_path_factory.mktemp("arrays") / "arrays.mdl"
    path.write_text(ARRAYS)
    return smartspec_dsl.load(path).run()


def test_allocate_available_fixed_quantity_and_a_profile_type_that_changes(arrays_run):
    import numpy as np
    got = np.column_stack([arrays_run[f"shipped[{b}]"] for b in ("b1", "b2", "b3")])
    # by hand. Time 0: b1 is fixed (type 0) and gets its 4; the 6 left go to the rectangular
    # profiles b2 (priority 2) and b3 (priority 1), width 1: at level x = 1, b2 gets all 4,
    # b3 4 * (1.5 - 1) = 2. Time 1: 3 available, less than the fixed request: the fixed
    # requester gets all 3 (our rule where the help is silent). Time 2: enough for all.
    # Time 3: b1 turns rectangular at priority 3: level 2 gives b1 4, b2 4 * (2.5 - 2) = 2, b3 0.
    np.testing.assert_allclose(got, [[4, 4, 2], [3, 0, 0], [4, 4, 4], [4, 2, 0]], atol=1e-9)
    assert np.isfinite(got).all()


def test_vector_select_error_actions(arrays_run):
    import numpy as np
    r = arrays_run
    np.testing.assert_allclose(r["none missing"], -1)        # action 0: the missing value
    assert np.isnan(r["none error"]).all()                  # action 1: nothing selected
    np.testing.assert_allclose(r["two ok"], 3)              # action 1: two selected is fine
    assert np.isnan(r["two error"]).all()                   # action 2: more than one selected
    np.testing.assert_allclose(r["one either"], 2)          # action 3: exactly one is fine
    assert r["error later"][0] == 3 and np.isnan(r["error later"][1:]).all()


def test_delayp_names_its_pipeline(functions_run):
    import numpy as np
    # Vensim help, "DELAYP": DELAY3's three levels LV1..LV3 (each DL = 1 long, starting at
    # DL * 3 = 3) and pipeline = LV1 + LV2 + LV3. Input 3 until Time 1, then 0; by hand
    # (Euler, TIME STEP 1) the levels are (3,3,3), (3,3,3), (0,3,3), (0,0,3).
    np.testing.assert_allclose(functions_run["shipments out"], [3, 3, 3, 3])
    np.testing.assert_allclose(functions_run["In Transit"], [9, 9, 6, 3])
    np.testing.assert_allclose(functions_run["uses pipeline"], [18, 18, 12, 6])


def test_vector_lookup_modes(arrays_run):
    import numpy as np
    r = arrays_run
    # LV = 0, 10, 20, 10 over x = 0, 1, 2, 3 (xmin 0 to xmax 3 in 3 equal intervals)
    got = [r[f"vl[s{k}]"][0] for k in range(1, 5)]
    # mode 0 lookup (held past the end); mode 1 area from xmin: 5 + 15, then + 15 + 10 held
    np.testing.assert_allclose(got, [15, 10, 20, 45])
    got = [r[f"vl modes[d1,s{k}]"][0] for k in range(1, 5)]
    # 2 backward, 4 forward, 3 extrapolating the last and first segments
    np.testing.assert_allclose(got, [10, 20, 0, -10])
    got = [r[f"vl modes[d2,s{k}]"][0] for k in range(1, 4)]
    # 5 invert (y = 5 at x = 0.5); 7 area with the end segments extended: 20 + 15 + 5 up to
    # x = 4, and from 0 back to -1 the extended line gives -(-5)
    np.testing.assert_allclose(got, [0.5, 40, 5])
    np.testing.assert_allclose(r["vl modes[d2,s4]"], [0, 10, 20, 10])   # x = Time


def test_positional_mapping_in_except_sum_and_two_dimensions():
    # by hand, and the same values from PySD 3.14.3 on this model (benchmarks/pysd_env.sh)
    m = flat("""
Src: S1, S2, S3 -> Dst ~~|
Dst: D1, D2, D3 ~~|
K: K1, K2 ~~|
x[Src] = 1, 2, 3 ~~|
m[Src, K] = 1, 2; 3, 4; 5, 6 ~~|
y[Dst] :EXCEPT: [D2] = x[Src] * 10 ~~|
y[D2] = 0 ~~|
z[Dst] = SUM(m[Src, K!]) ~~|
w[Dst, K] = m[Src, K] + 1 ~~|
""")
    assert values(m, "y", "d1 d2 d3") == [10, 0, 30]
    assert values(m, "z", "d1 d2 d3") == [3, 7, 11]
    assert values(m, "w", "d1,k1 d1,k2 d2,k1 d3,k2") == [2, 3, 4, 7]


def test_modulo_and_quantum_sign_rules_of_the_help(tmp_path):
    # the README's table says so: MODULO keeps the sign of a (Vensim's help, MODULO: "follows
    # the C standard obeying (a/b)b + a%b = a"); QUANTUM truncates towards zero (help,
    # QUANTUM: "Truncates A to the integer multiple of B that lies nearest to zero", its
    # examples QUANTUM(-0.9, 1) = 0, QUANTUM(-1.9, 1) = -1, QUANTUM(50, 12) = 48, QUANTUM(X, 0) = X)
    import smartspec_dsl
    (tmp_path / "signs.mdl").write_text(
        "m = MODULO(-7, 3) ~~|\nmp = MODULO(9, 5) ~~|\nq = QUANTUM(-7.5, 2) ~~|\n"
        "q09 = QUANTUM(-0.9, 1) ~~|\nq19 = QUANTUM(-1.9, 1) ~~|\nq50 = QUANTUM(50, 12) ~~|\n"
        "q0 = QUANTUM(3.5, 0) ~~|\n"
        "INITIAL TIME = 0 ~~|\nFINAL TIME = 0 ~~|\nTIME STEP = 1 ~~|\nSAVEPER = 1 ~~|\n")
    r = smartspec_dsl.load(tmp_path / "signs.mdl").run(tier="interpreter")
    got = {k: float(r[k][0]) for k in ("m", "mp", "q", "q09", "q19", "q50", "q0")}
    assert got == {"m": -1.0, "mp": 4.0, "q": -6.0, "q09": 0.0, "q19": -1.0, "q50": 48.0, "q0": 3.5}


def test_messages_show_elements_as_the_modeller_wrote_them():
    # names are matched lower-cased (Vensim's names are case-insensitive), but a message
    # shows each element as the range wrote it, as it shows the variables
    ranges = "Br : Alpha, Beta ~~|\nPt : P Type, P Width, P Prio, P Extra ~~|\n"
    control = "INITIAL TIME = 0 ~~|\nFINAL TIME = 1 ~~|\nTIME STEP = 1 ~~|\nSAVEPER = 1 ~~|\n"
    with pytest.raises(ModelError, match=r"t.mdl:4:\d+: 'Dq\[Beta\]' is not defined: element 'Beta' is not "
                                         r"among those 'Dq' is defined for in subscript 1 \(used in the "
                                         r"equation of 'x\[Beta\]'\)"):
        flatten(parse_model(ranges + "Dq[Alpha] = 100 ~~|\nx[Br] = Dq[Br] ~~|\n" + control, "t.mdl"))
    with pytest.raises(ModelError, match=r"t.mdl:4:\d+: 'Dq\[Alpha\]' is defined twice"):
        flatten(parse_model(ranges + "Dq[Br] = 1 ~~|\nDq[Alpha] = 2 ~~|\n" + control, "t.mdl"))
    with pytest.raises(ModelError, match=r"needs 4 elements from 'P Width' on"):
        flatten(parse_model(ranges + "q[Br] = 1 ~~|\npp[Br, Pt] = 1 ~~|\n"
                            "a[Br] = ALLOCATE AVAILABLE(q[Br], pp[Br, P Width], 5) ~~|\n" + control, "t.mdl"))


def test_structure_from_constants_through_vensims_functions(tmp_path):
    """A published model (Metals EMA, shipped with the EMA workbench) writes its DELAY N
    orders as INTEGER(order ...) of constants: the order, and a control variable, may use any
    function of numbers alone, computed as the kernel computes it (by hand: INTEGER(3.4) = 3,
    MODULO(-7, 3) = -1, QUANTUM(-1.9, 1) = -1, LOG(8, 2) = 3, ZIDZ(1, 0) = 0, XIDZ(1, 1e-7, 5) = 5,
    as |1e-7| is below XIDZ's 1e-6; POWER(2, 10) = 1024; SQRT(-1) is NaN, as in the kernel)."""
    from smartspec_dsl.passes.pipeline import lower
    text = """
order = 3.4 ~~|
o = INTEGER(order) ~~|
m = MODULO(-7, 3) ~~|
q = QUANTUM(-1.9, 1) ~~|
l = LOG(8, 2) ~~|
z = ZIDZ(1, 0) ~~|
x = XIDZ(1, 1e-7, 5) ~~|
p = POWER(2, 10) ~~|
s = SQRT(-1) ~~|
both = 1 :AND: 0 ~~|
either = 1 :OR: 0 ~~|
neither = :NOT: 0 ~~|
lost = DELAY N(Time, 5, 0, INTEGER(order)) ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = INTEGER(20.9) ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""
    model = parse_model(text, "t.mdl")
    got = {n: constant_value(model, n, {}) for n in
           ("o", "m", "q", "l", "z", "x", "p", "both", "either", "neither", "final time")}
    assert got == {"o": 3, "m": -1, "q": -1, "l": 3, "z": 0, "x": 5, "p": 1024,
                   "both": 0, "either": 1, "neither": 1, "final time": 20}
    assert constant_value(model, "s", {}) != constant_value(model, "s", {})       # NaN
    lowered = lower(model)
    assert [d.result for d in lowered.decisions if d.rule == "DELAY N order"] == [(3,)]


def test_elements_named_by_numbers():
    """PySD's numeric_subscripts case, saved by Vensim, names its elements 1, 20, 300; they
    are read as names, in ranges, subranges and references (values by hand)."""
    m = flat("""
Year: 2010, 2020, 2030 ~~|
Sub: 2020, 2030 ~~|
pop[Year] = 1, 2, 3 ~~|
x[2010] = 7 ~~|
x[Sub] = pop[Sub] * 10 ~~|
y = x[2030] + SUM(x[Year!]) ~~|
""")
    assert values(m, "x", "2010 2020 2030") == [7, 20, 30]
    assert constant_value(m, "y", {}) == 30 + 57


# ---- the settings block --------------------------------------------------------------

def test_the_integration_method_of_the_files_settings_is_the_runs(tmp_path):
    """Vensim keeps a model's integration method in the settings block at the end of the
    .mdl (line 15, its fourth value: 1 or 5 Runge-Kutta 4, 3 or 4 Runge-Kutta 2, 0 or 2
    Euler); published models (metasd.com's Hopf bifurcation, critical slowing) ask for RK4.
    By hand, dx/dt = -x from 1 with TIME STEP 1: one RK4 step is 1 - 1 + 1/2 - 1/6 + 1/24 =
    0.375, two 0.375^2 = 0.140625; Euler gives 0. A run's own method still wins; RK2 is refused
    at the settings' line. Vensim's RK4 Auto, one of the two RK4 codes (which one, no public
    reader of the format says), also shortens its step where a stock's error is large: an RK4
    run from the settings says, with the settings' line, that it ran RK4 Fixed and how to ask
    for RK4 Auto (tests/test_rk4_auto.py); a run of it by name is not told."""
    import smartspec_dsl
    text = ("x = INTEG(-x, 1) ~~|\nINITIAL TIME = 0 ~~|\nFINAL TIME = 2 ~~|\nTIME STEP = 1 ~~|\n"
            "SAVEPER = 1 ~~|\n\\\\\\---/// Sketch information - do not modify anything except names\n"
            "V300  Do not put anything below this section - it will be ignored\n*View 1\n///---\\\\\\\n"
            ":L\x7f<%^E!@\n1:Current.vdf\n15:0,0,0,{},0,0\n19:100,0\n")
    path = tmp_path / "rk.mdl"
    for code, want in ((1, [1, 0.375, 0.140625]), (5, [1, 0.375, 0.140625]), (0, [1, 0, 0]), (2, [1, 0, 0])):
        path.write_text(text.format(code), encoding="utf-8")
        model = smartspec_dsl.load(path, tier="interpreter")
        run = model.run(tier="interpreter")
        assert run["x"].tolist() == want, code
        said = [w.message for w in run.warnings if "RK4 Auto" in w.message]
        assert said == ([f"{path}:12: the model's settings (15:0,0,0,{code},0,0) ask for Runge-Kutta 4: "
                         "smartspec runs RK4 Fixed (every step TIME STEP long); if they mean Vensim's RK4 Auto, "
                         "which also shortens a step where a stock's error exceeds ABSOLUTE TOLERANCE or "
                         "RELATIVE TOLERANCE, run with --method rk4auto"] if code in (1, 5) else []), code
    assert model.run(tier="interpreter", method="rk4")["x"].tolist() == [1, 0.375, 0.140625]
    path.write_text(text.format(1), encoding="utf-8")
    model = smartspec_dsl.load(path, tier="interpreter")
    euler = model.run(tier="interpreter", method="euler")        # the run's own method: not told
    assert euler["x"].tolist() == [1, 0, 0] and not any("RK4" in w.message for w in euler.warnings)
    auto = model.run(tier="interpreter", method="rk4auto")
    assert not any("RK4" in w.message for w in auto.warnings)
    path.write_text(text.format(3), encoding="utf-8")
    with pytest.raises(ModelError, match=r"rk.mdl:12: the model's settings \(15:0,0,0,3,0,0\) ask for "
                                         r"Runge-Kutta 2 integration"):
        smartspec_dsl.load(path, tier="interpreter")


def test_the_file_aliases_of_the_files_settings(tmp_path):
    """Vensim keeps a model's file aliases in the settings block too (`30:?params=params.csv`:
    the file a GET call's '?params' stands for, beside the model). By hand: k reads B2 = 5,
    j = 2 x B3 = 14; a run's own alias wins (50, 140); an alias naming a file outside the
    model's folder is refused as every file a model names is."""
    import smartspec_dsl
    from smartspec_dsl.frontend.workbook import DataOptions
    (tmp_path / "params.csv").write_text("a,b\n1,5\n2,7\n")
    (tmp_path / "other.csv").write_text("a,b\n1,50\n2,70\n")
    text = ("k = GET DIRECT CONSTANTS('?params', ',', 'B2') ~~|\nj = GET DIRECT CONSTANTS('?PARAMS', ',', 'B3') * 2 ~~|\n"
            "INITIAL TIME = 0 ~~|\nFINAL TIME = 1 ~~|\nTIME STEP = 1 ~~|\nSAVEPER = 1 ~~|\n"
            "\\\\\\---/// Sketch information - do not modify anything except names\n*View 1\n///---\\\\\\\n"
            ":L\x7f<%^E!@\n15:0,0,0,0,0,0\n30:?params={}\n")
    path = tmp_path / "al.mdl"
    path.write_text(text.format("params.csv"), encoding="utf-8")
    run = smartspec_dsl.load(path, tier="interpreter").run(tier="interpreter")
    assert (run["k"][0], run["j"][0]) == (5, 14)
    given = DataOptions(aliases={"params": tmp_path / "other.csv"})
    run = smartspec_dsl.load(path, tier="interpreter", data=given).run(tier="interpreter")
    assert (run["k"][0], run["j"][0]) == (50, 140)
    path.write_text(text.format("../outside.csv"), encoding="utf-8")
    with pytest.raises(ModelError, match=r"outside the model's folder"):
        smartspec_dsl.load(path, tier="interpreter")


def test_array_messages_name_ranges_as_written():
    """Ranges and elements in messages as the modeller wrote them (R, SubC), never lower-cased."""
    with pytest.raises(ModelError, match=r"t.mdl:2:1: 'x' is given 2 values but \[R\] has 3 elements"):
        flat("R: r1, r2, r3 ~~|\nx[R] = 1, 2 ~~|\n")
    with pytest.raises(ModelError, match=r":EXCEPT: \[SubC\] has 1 subscripts, the equation has 2"):
        flat("R: r1, r2, r3 ~~|\nS: s1, s2 ~~|\nSubC: r1 ~~|\ny[R,S] :EXCEPT: [SubC] = 1 ~~|\ny[r1,S] = 2 ~~|\n")
