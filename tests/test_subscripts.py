"""Flattening of subscripts (smartspec_dsl.subscripts), on small models whose
values are worked out by hand. Evaluated with consteval: no kernel compile."""
from __future__ import annotations

import pytest

from smartspec_dsl import ir
from smartspec_dsl.consteval import constant_value
from smartspec_dsl.errors import ModelError, UnsupportedFeature
from smartspec_dsl.parse import parse_model
from smartspec_dsl.subscripts import flatten

CONTROL = """
INITIAL TIME = 0 ~~|
FINAL TIME = 1 ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""


def flat(text: str) -> ir.Model:
    return flatten(parse_model(text + CONTROL, "t.mdl"))


def value(model: ir.Model, name: str) -> float:
    return constant_value(model, name, {})


def test_number_list_and_display_names():
    m = flat("""
Dim: Alpha, Beta ~~|
Row: R1, R2, R3 ~~|
x[Row, Dim] = 1, 2; 3, 4; 5, 6; ~~|
""")
    # row-major over the left-hand side's ranges: x[r2, beta] is the 4th value
    assert value(m, "x[r2,beta]") == 4
    assert value(m, "x[r3,alpha]") == 5
    assert m.variables["x[r1,beta]"].display == "x[R1,Beta]"


def test_mapping():
    # B maps positionally to A: y[a2] reads x[b2]; z[b3] reads w[a3] (mapping used backwards)
    m = flat("""
A: a1, a2, a3 ~~|
B: b1, b2, b3 -> A ~~|
x[B] = 10, 20, 30 ~~|
y[A] = x[B] + 1 ~~|
w[A] = 7, 8, 9 ~~|
z[B] = w[A] ~~|
""")
    assert [value(m, f"y[a{i}]") for i in (1, 2, 3)] == [11, 21, 31]
    assert value(m, "z[b3]") == 9


def test_except_and_per_element_definition():
    m = flat("""
S: s1, s2, s3 ~~|
v[S] :EXCEPT: [s2] = 1 ~~|
v[s2] = 5 ~~|
total = SUM(v[S!]) ~~|
""")
    assert [value(m, f"v[s{i}]") for i in (1, 2, 3)] == [1, 5, 1]
    assert value(m, "total") == 7


def test_transposition():
    # m[a, b] = 10*a + b (as positions); t[b, a] = m[a, b]
    m = flat("""
A: a1, a2 ~~|
B: b1, b2, b3 ~~|
mat[A, B] = 11, 12, 13; 21, 22, 23; ~~|
t[B, A] = mat[A, B] ~~|
""")
    assert value(m, "t[b3,a1]") == 13
    assert value(m, "t[b1,a2]") == 21


def test_sum_over_subrange_and_updimensioning():
    m = flat("""
D: d1, d2, d3, d4 ~~|
Sub: d2, d3 ~~|
E: e1, e2 ~~|
x[D] = 1, 2, 4, 8 ~~|
part = SUM(x[Sub!]) ~~|
each[D, E] = x[D] * ELMCOUNT(E) ~~|
biggest = VMAX(x[D!]) ~~|
prod = PROD(x[D!]) ~~|
""")
    assert value(m, "part") == 6
    assert value(m, "each[d3,e2]") == 8   # x[d3] reused for every e, times 2 elements
    assert value(m, "biggest") == 8
    assert value(m, "prod") == 64


def test_subscripted_stock_kinds():
    m = flat("""
D: d1, d2 ~~|
s[D] = INTEG(r[D], i[D]) ~~|
r[D] = i[D] * 2 ~~|
i[D] = 3, 4 ~~|
""")
    assert m.variables["s[d2]"].kind is ir.Kind.STOCK
    assert m.variables["r[d1]"].kind is ir.Kind.FLOW
    assert value(m, "s[d2]") == 4


def test_errors():
    with pytest.raises(ModelError, match=r"t.mdl:3:\d+: unknown subscript 'nope'"):
        flat("""
D: d1, d2 ~~|
x[D] = y[nope] ~~|
y[D] = 1 ~~|
""")
    with pytest.raises(ModelError, match=r"'y\[d2\]' is not defined"):
        flat("""
D: d1, d2 ~~|
x[D] = y[D] ~~|
y[d1] = 1 ~~|
""")
    with pytest.raises(UnsupportedFeature, match="VECTOR SORT ORDER"):
        flat("""
D: d1, d2 ~~|
x[D] = VECTOR SORT ORDER(y[D], 1) ~~|
y[D] = 1, 2 ~~|
""")


def test_vector_select():
    # selection 1, 0, 2 over x = 3, 5, 7: weighted sum 3 + 14; unweighted max 7; all-zero -> missing
    m = flat("""
D: d1, d2, d3 ~~|
sel[D] = 1, 0, 2 ~~|
none[D] = 0, 0, 0 ~~|
x[D] = 3, 5, 7 ~~|
wsum = VECTOR SELECT(sel[D!], x[D!], -1, 0, 0) ~~|
vmax = VECTOR SELECT(sel[D!], x[D!], -1, 9, 0) ~~|
mean = VECTOR SELECT(sel[D!], x[D!], -1, 10, 0) ~~|
missing = VECTOR SELECT(none[D!], x[D!], -1, 6, 0) ~~|
""")
    assert value(m, "wsum") == 17
    assert value(m, "vmax") == 7
    assert value(m, "mean") == 5
    assert value(m, "missing") == -1
