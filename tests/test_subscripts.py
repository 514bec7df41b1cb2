"""Flattening of subscripts (smartspec_dsl.passes.subscripts), on small models whose
values are worked out by hand. Evaluated with consteval: no kernel compile."""
from __future__ import annotations

import pytest

from smartspec_dsl import ir
from smartspec_dsl.passes.consteval import constant_value
from smartspec_dsl.errors import ModelError, UnsupportedFeature
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
    with pytest.raises(ModelError, match=r"t.mdl:3:\d+: VECTOR SORT ORDER's first argument does not run over"):
        flat("""
D: d1, d2 ~~|
x[D] = VECTOR SORT ORDER(y[d1], 1) ~~|
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


# ---- whole-array functions ------------------------------------------------------------
# The kernel helpers are called directly (njit functions run from Python too) on a
# scratch block laid out as the generated code lays it out; one small model then checks
# the flattening and code generation end to end.

import math  # noqa: E402

import numpy as np  # noqa: E402

from smartspec_dsl.backend import kernel_lib as kl  # noqa: E402


def block(*values) -> np.ndarray:
    # two unused slots before the block, as slots precede scratch blocks in the kernel
    return np.array([99.0, 99.0, *values])


def test_vector_rank_and_sort_order_helpers():
    v = block(3, 1, 2)
    kl.vector_rank(v, 2, 3, 1.0)
    assert list(v[2:]) == [3, 1, 2]          # ascending: 1 is first, 2 second, 3 third
    v = block(3, 1, 2)
    kl.vector_rank(v, 2, 3, 0.0)
    assert list(v[2:]) == [1, 3, 2]          # descending
    v = block(3, 1, 2)
    kl.vector_sort_order(v, 2, 3, 1.0)
    assert list(v[2:]) == [1, 2, 0]          # 0-based positions of 1, 2, 3
    v = block(3, 1, 2)
    kl.vector_sort_order(v, 2, 3, 0.0)
    assert list(v[2:]) == [0, 2, 1]
    assert list(v[:2]) == [99, 99]           # nothing outside the block is touched
    v = block(5, 7, 5)
    kl.vector_rank(v, 2, 3, 1.0)
    assert list(v[2:]) == [1, 3, 2]          # ties keep their order


def test_invert_matrix_helper():
    v = block(4, 7, 2, 6)                    # det 10: inverse [[6, -7], [-2, 4]] / 10
    kl.invert_matrix(v, 2, 4)
    assert np.allclose(v[2:], [0.6, -0.7, -0.2, 0.4], rtol=0, atol=1e-15)
    v = block(0, 1, 0, 1, 0, 0, 0, 0, 2)     # a pivot is needed: rows swap
    kl.invert_matrix(v, 2, 9)
    assert np.allclose(v[2:], [0, 1, 0, 1, 0, 0, 0, 0, 0.5], rtol=0, atol=1e-15)
    v = block(1, 2, 2, 4)                    # singular
    kl.invert_matrix(v, 2, 4)
    assert np.isnan(v[2:]).all()


def test_allocate_by_priority_helper():
    # requests 5, 5, 5 at priorities 3, 2, 1, supply 10.
    # width 1: priorities a full width apart, so strictly in turn: 5, 5, 0.
    v = block(5, 5, 5, 3, 2, 1)
    kl.allocate_by_priority(v, 2, 6, 1.0, 10.0)
    assert np.allclose(v[2:5], [5, 5, 0], rtol=0, atol=1e-9)
    # width 2: requester i gets 5 * clamp((p_i + 1 - x) / 2, 0, 1); at x = 1.5 that is
    # 5 * (1, 0.75, 0.25), which adds up to 10.
    v = block(5, 5, 5, 3, 2, 1)
    kl.allocate_by_priority(v, 2, 6, 2.0, 10.0)
    assert np.allclose(v[2:5], [5, 3.75, 1.25], rtol=0, atol=1e-9)
    # enough for everyone, nothing, and a width that is not positive
    v = block(5, 5, 5, 3, 2, 1)
    kl.allocate_by_priority(v, 2, 6, 2.0, 20.0)
    assert list(v[2:5]) == [5, 5, 5]
    v = block(5, 5, 5, 3, 2, 1)
    kl.allocate_by_priority(v, 2, 6, 2.0, 0.0)
    assert list(v[2:5]) == [0, 0, 0]
    v = block(5, 5, 5, 3, 2, 1)
    kl.allocate_by_priority(v, 2, 6, 0.0, 10.0)
    assert np.isnan(v[2:5]).all()


def profiles(ptype, *rows):
    return [x for p, w in rows for x in (ptype, p, w, 0.0)]


def test_allocate_available_helper():
    # Two requests of 10 with priorities 1 and -1 and the same width: by symmetry the
    # level is 0, so with 10 available the first gets 10 * share at 0, the second the rest.
    for ptype, first in [
        (1, 7.5),                                  # rectangular on [-1, 3]: (3 - 0) / 4
        (2, 10 * (1 - 2 * 0.25 ** 2)),             # triangular on [-1, 3]: 1 - 2 ((0 + 1) / 4)^2
        (3, 10 * (1 - 0.15865525)),                # normal sd 1: 1 - P(Z > 1)
        (4, 10 * (1 - 0.5 * math.exp(-1))),        # exponential: 1 - exp(-1) / 2
    ]:
        width = 4.0 if ptype in (1, 2) else 1.0
        v = block(10, 10, *profiles(ptype, (1, width), (-1, width)))
        kl.allocate_available(v, 2, 10, 10.0)
        assert v[2] == pytest.approx(first, abs=3e-4), ptype   # Vensim's normal is approximate
        assert v[2] + v[3] == pytest.approx(10, abs=1e-9), ptype
    # types may differ between requesters; a zero request gets nothing
    v = block(10, 0, 10, *profiles(1, (1, 2), (5, 2)), *profiles(4, (-1, 1)))
    kl.allocate_available(v, 2, 15, 10.0)
    assert v[3] == 0 and v[2] + v[4] == pytest.approx(10, abs=1e-9) and v[2] > v[4]
    # fixed quantities (type 0) short of supply share it in proportion to their requests
    v = block(10, 30, *profiles(0, (1, 1), (-1, 1)))
    kl.allocate_available(v, 2, 10, 8.0)
    assert list(v[2:4]) == pytest.approx([2, 6], abs=1e-12)
    # unsupported profile types give NaN, never a stand-in allocation
    v = block(10, 10, *profiles(5, (1, 1), (-1, 1)))
    kl.allocate_available(v, 2, 10, 5.0)
    assert np.isnan(v[2:4]).all()


def test_vector_at_and_select_helpers():
    v = block(10, 20, 30)
    assert kl.vector_at(v, 2, 3, 1.0) == 20
    assert kl.vector_at(v, 2, 3, 3.0) == ir.NA_VALUE
    assert kl.vector_at(v, 2, 3, -1.0) == ir.NA_VALUE
    v = block(1, 0, 2, 3, 5, 7)                    # selection 1, 0, 2 over 3, 5, 7
    assert kl.vector_select(v, 2, 3, -1.0, 0.0) == 17        # 1*3 + 2*7
    assert kl.vector_select(v, 2, 3, -1.0, 5.0) == 3 * 49    # 3^1 * 7^2
    assert kl.vector_select(v, 2, 3, -1.0, 8.0) == 3          # min of the selected values
    assert kl.vector_select(v, 2, 3, -1.0, 10.0) == 5         # their mean
    assert math.isnan(kl.vector_select(v, 2, 3, -1.0, 11.0))
    v = block(0, 0, 3, 5)
    assert kl.vector_select(v, 2, 2, -1.0, 9.0) == -1         # nothing selected


def test_vector_elm_map_with_a_number_offset_is_a_reference():
    m = flat("""
D: d1, d2, d3 ~~|
x[D] = 10, 20, 30 ~~|
y[D] = VECTOR ELM MAP(x[d1], D - 1) ~~|
z = VECTOR ELM MAP(x[d2], 1) ~~|
""")
    assert [value(m, f"y[d{i}]") for i in (1, 2, 3)] == [10, 20, 30]
    assert value(m, "z") == 30


def test_whole_array_function_errors():
    with pytest.raises(ModelError, match=r"t.mdl:4:\d+: VECTOR ELM MAP reads element 3 of a vector of 3"):
        flat("""
D: d1, d2, d3 ~~|
x[D] = 10, 20, 30 ~~|
z = VECTOR ELM MAP(x[d2], 2) ~~|
""")
    with pytest.raises(ModelError, match=r"t.mdl:3:\d+: VECTOR RANK gives an array"):
        flat("""
D: d1, d2 ~~|
r = VECTOR RANK(y[D], 1) ~~|
y[D] = 1, 2 ~~|
""")
    with pytest.raises(ModelError, match=r"t.mdl:3:\d+: INVERT MATRIX's size argument is 3"):
        flat("""
D: d1, d2 ~~|
i[D, D] = INVERT MATRIX(m[D, D], 3) ~~|
m[D, D] = 1, 0; 0, 1; ~~|
""")
    with pytest.raises(ModelError, match=r"t.mdl:3:\d+: VECTOR SELECT's error action must be 0 to 3, got 4"):
        flat("""
D: d1, d2 ~~|
s = VECTOR SELECT(y[D!], y[D!], 0, 0, 4) ~~|
y[D] = 1, 2 ~~|
""")
    # a priority type no curve has: the error names the call and where the type is set
    with pytest.raises(UnsupportedFeature, match=r"t.mdl:4:\d+: ALLOCATE AVAILABLE in the equation of '[^']+': priority type "
                                                 r"6 \(from 'pp\[b1,ptype\]', t.mdl:5:\d+\)"):
        flat("""
B: b1, b2 ~~|
P: ptype, ppriority, pwidth, pextra ~~|
a[B] = ALLOCATE AVAILABLE(q[B], pp[B, ptype], 5) ~~|
pp[B, P] = 6, 1, 1, 0; 6, 2, 1, 0; ~~|
q[B] = 4, 4 ~~|
""")
    with pytest.raises(ModelError, match=r"t.mdl:3:\d+: ALLOCATE BY PRIORITY: the priority width must be positive"):
        flat("""
B: b1, b2 ~~|
a[B] = ALLOCATE BY PRIORITY(q[B], p[B], 2, 0, 5) ~~|
p[B] = 1, 2 ~~|
q[B] = 4, 4 ~~|
""")


ARRAY_MODEL = """
D: d1, d2, d3 ~~|
S: s1, s2, s3 -> D ~~|
R: r1, r2 ~~|
P: ptype, ppriority, pwidth, pextra ~~|
x[D] = 3, 1, 2 ~~|
rank[D] = VECTOR RANK(x[D], 1) ~~|
order[S] = VECTOR SORT ORDER(x[D], 0) ~~|
sorted[S] = VECTOR REORDER(x[D], order[S]) ~~|
shift[D] = VECTOR ELM MAP(x[d1], Time) ~~|
m[R, D] = 1, 2, 3; 4, 5, 6; ~~|
row rank[R, D] = VECTOR RANK(m[R, D] * x[D], 1) ~~|
a[R, R] = 4, 7; 2, 6; ~~|
inv[R, R] = INVERT MATRIX(a[R, R], 2) ~~|
q[D] = 5, 5, 5 ~~|
prio[D] = 3, 2, 1 ~~|
byp[D] = ALLOCATE BY PRIORITY(q[D], prio[D], ELMCOUNT(D), 2, 10 + Time) ~~|
pp[D, P] = 1, 3, 2, 0; 1, 2, 2, 0; 1, 1, 2, 0; ~~|
avail[D] = ALLOCATE AVAILABLE(q[D], pp[D, ptype], 10 + Time) ~~|
sel[D] = 1, 0, 2 ~~|
vs = VECTOR SELECT(sel[D!], x[D!], -1, 8 + Time, 0) ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 2 ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""


def test_whole_array_functions_in_a_kernel(tmp_path):
    import smartspec_dsl
    path = tmp_path / "arrays.mdl"
    path.write_text(ARRAY_MODEL)
    result = smartspec_dsl.load(path).run()
    col = {c: result.values[:, i] for i, c in enumerate(result.columns)}

    def at(name, t=0):
        return col[name][t]

    assert [at(f"rank[d{i}]") for i in (1, 2, 3)] == [3, 1, 2]
    assert [at(f"order[s{i}]") for i in (1, 2, 3)] == [0, 2, 1]       # descending: 3, 2, 1
    assert [at(f"sorted[s{i}]") for i in (1, 2, 3)] == [3, 2, 1]
    # ELM MAP at offset Time from x[d1]: x[d1+t]; past the end :NA:
    assert [at("shift[d1]", t) for t in (0, 1, 2)] == [3, 1, 2]
    # m[r, d] * x[d] ranked over d: r1: 3, 2, 6 -> 2, 1, 3; r2: 12, 5, 12 -> 2, 1, 3 (tie in order)
    assert [at(f"row rank[r1,d{i}]") for i in (1, 2, 3)] == [2, 1, 3]
    assert [at(f"row rank[r2,d{i}]") for i in (1, 2, 3)] == [2, 1, 3]
    assert np.allclose([at(f"inv[r{i},r{j}]") for i in (1, 2) for j in (1, 2)],
                       [0.6, -0.7, -0.2, 0.4], rtol=0, atol=1e-15)
    # by priority, width 2, supply 10 + Time: at t = 0 as in the helper test
    assert np.allclose([at(f"byp[d{i}]") for i in (1, 2, 3)], [5, 3.75, 1.25], atol=1e-9)
    # the same requests as rectangular profiles of width 2 through ALLOCATE AVAILABLE agree
    for t in (0, 1, 2):
        assert np.allclose([at(f"avail[d{i}]", t) for i in (1, 2, 3)],
                           [at(f"byp[d{i}]", t) for i in (1, 2, 3)], atol=1e-9)
    # supply 12 at t = 2: for x in [1, 2], 5 * (1 + (3 - x) / 2 + (2 - x) / 2) = 12 at
    # x = 1.1: 5, 4.75, 2.25
    assert np.allclose([at(f"byp[d{i}]", 2) for i in (1, 2, 3)], [5, 4.75, 2.25], atol=1e-9)
    # the action is 8 + Time: min (3), max (3 and 2 selected: 3), mean of 3 and 2
    assert [at("vs", t) for t in (0, 1, 2)] == [2, 3, 2.5]


def test_equivalent_ranges_on_one_left_hand_side():
    """m[i, j] with j <-> i: j stands for j's element, as a value and in references
    (values worked out by hand; PySD 3.14 gives the same)."""
    m = flat("""
i: (i1-i3) ~~|
j <-> i ~~|
x[i] = i * 100 ~~|
m[i,j] = i * 10 + j ~~|
n[i,j] = x[j] + x[i] / 100 ~~|
t[j,i] = m[i,j] ~~|
s[i] = SUM(m[i,j!]) ~~|
""")
    assert [value(m, f"m[i2,{e}]") for e in ("i1", "i2", "i3")] == [21, 22, 23]
    assert [value(m, f"n[i1,{e}]") for e in ("i1", "i2", "i3")] == [101, 201, 301]
    assert value(m, "t[i1,i2]") == 21 and value(m, "t[i2,i1]") == 12
    assert value(m, "s[i3]") == 31 + 32 + 33


def test_elements_listed_in_range_order_whatever_the_definitions_order():
    m = flat("""
Region: North, South, East, West ~~|
Sub: North, East ~~|
ex[Region] :EXCEPT: [Sub] = 1 ~~|
ex[Sub] = 2 ~~|
""")
    names = [n for n in m.variables if n.startswith("ex[")]
    assert names == ["ex[north]", "ex[south]", "ex[east]", "ex[west]"]
    assert [value(m, n) for n in names] == [2, 1, 2, 1]


def test_lookups_applied_in_a_list_of_values(tmp_path):
    from smartspec_dsl import load
    path = tmp_path / "lists.mdl"
    path.write_text("""
B: b1, b2 ~~|
lk1((0,0),(10,10)) ~~|
lk2((0,0),(10,5)) ~~|
k = 3 ~~|
x[B] = lk1(k), lk2(k) + 1 ~~|
""" + CONTROL)
    r = load(path, cache_dir=tmp_path / "cache").run()
    assert r["x[b1]"][0] == 3 and r["x[b2]"][0] == 1.5 + 1
