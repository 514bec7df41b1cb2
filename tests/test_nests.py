"""Loop nests collapsed and fused (backend/nests.py): the rewritten statements against the
statements they rewrite, run as Python, and a dense model whose equations over the same
ranges become one loop against values derived by hand."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from smartspec_dsl import load
from smartspec_dsl.backend.nests import collapse, fuse


def test_a_whole_array_is_one_loop():
    nest = ("for i0 in range(13):\n    for i1 in range(4):\n"
            "        st(v, 957 + i0 * 4 + i1, (ld(v, 300 + i0 * 4 + i1) / ld(v, 7)))  # advancing")
    assert collapse(nest) == "for i0 in range(52):\n    st(v, 957 + i0, (ld(v, 300 + i0) / ld(v, 7)))  # advancing"
    three = ("for i0 in range(2):\n    for i1 in range(3):\n        for i2 in range(4):\n"
             "            st(v, 100 + i0 * 12 + i1 * 4 + i2, ld(v, 5 * (i0 * 12 + i1 * 4 + i2)))")
    assert collapse(three) == "for i0 in range(24):\n    st(v, 100 + i0, ld(v, i0 * 5))"
    # a loop that runs once goes, whatever the other counter's stride
    once = "for i0 in range(13):\n    for i1 in range(1):\n        st(v, 1586 + i0 * 4 + i1, ld(v, 960 + i0 * 4))"
    assert collapse(once) == "for i0 in range(13):\n    st(v, 1586 + i0 * 4, ld(v, 960 + i0 * 4))"


def test_a_box_of_an_array_stays_a_nest():
    # a subrange's box (3 of 4 elements), an array read with another stride, a counter read
    # as a number: i0 * 4 + i1 is not one counter over 39 iterations
    for nest in ("for i0 in range(13):\n    for i1 in range(3):\n        st(v, 1583 + i0 * 4 + i1, ld(v, 1532 + i0 * 4 + i1))",
                 "for i0 in range(13):\n    for i1 in range(4):\n        st(v, 10 + i0 * 4 + i1, ld(v, 100 + i0 * 3 + i1))",
                 "for i0 in range(3):\n    for i1 in range(4):\n        st(v, 10 + i0 * 4 + i1, (1.0 + 1.0 * i1))",
                 "for i0 in range(3):\n    acc0 = 0.0\n    for i1 in range(4):\n        acc0 += ld(v, i0 * 4 + i1)\n"
                 "    st(v, 20 + i0, acc0)"):
        assert collapse(nest) == nest


def test_equations_over_one_range_share_a_loop():
    a = "for i0 in range(4):\n    st(v, 10 + i0, ld(v, 1 + i0) * 2.0)  # a"
    b = "for i0 in range(4):\n    st(v, 20 + i0, ld(v, 10 + i0) + 1.0)  # b"
    total = "acc0 = 0.0\nfor k0 in range(4):\n    acc0 += ld(v, 20 + k0)\nst(v, 30, acc0)"
    c = "for i0 in range(4):\n    st(v, 40 + i0, ld(v, 20 + i0) / ld(v, 30))  # c"
    assert fuse([a, b, total, c]) == [
        "for i0 in range(4):\n    st(v, 10 + i0, ld(v, 1 + i0) * 2.0)  # a\n    st(v, 20 + i0, ld(v, 10 + i0) + 1.0)  # b",
        total, c]
    # b reads the element after its own of a: a's loop must be done first
    shifted = "for i0 in range(3):\n    st(v, 20 + i0, ld(v, 11 + i0))"
    assert fuse(["for i0 in range(3):\n    st(v, 10 + i0, 1.0)", shifted]) == \
        ["for i0 in range(3):\n    st(v, 10 + i0, 1.0)", shifted]
    # ... but the element before its own is written already in the fused loop
    earlier = "for i0 in range(3):\n    st(v, 20 + i0, ld(v, 9 + i0))"
    assert len(fuse(["for i0 in range(3):\n    st(v, 10 + i0, 1.0)", earlier])) == 1
    # a helper given the vector (a whole-array function's) is left alone
    helper = "for i0 in range(4):\n    st(v, 50 + i0, vector_at(v, 3, 4))"
    assert fuse([a, helper]) == [a, helper]


# -- random statements: the rewrite leaves the vectors as the statements do -----------------
N_SLOTS = 48


@st.composite
def _index(draw, counters: list[tuple[str, int]], span: int = 1) -> str:
    """An affine index of the counters that stays within the vector."""
    coefs = [draw(st.sampled_from([0, 1, 1, 2, 3, 4, -1])) for _ in counters]
    low = sum(min(0, c * (n - 1)) for c, (_, n) in zip(coefs, counters))
    high = sum(max(0, c * (n - 1)) for c, (_, n) in zip(coefs, counters))
    if high - low + span > N_SLOTS:
        coefs, low, high = [0] * len(counters), 0, 0
    const = draw(st.integers(-low, N_SLOTS - span - high))
    return " + ".join([str(const)] + [f"{k} * {c}" for c, (k, _) in zip(coefs, counters) if c])


@st.composite
def _statement(draw) -> str:
    kind = draw(st.integers(0, 5))
    if kind == 0:    # a scalar store
        return f"st(v, {draw(_index([]))}, ld(v, {draw(_index([]))}) * 0.5 + 1.0)"
    sizes = draw(st.lists(st.sampled_from([1, 2, 3, 4]), min_size=1, max_size=3))
    counters = [(f"i{j}", n) for j, n in enumerate(sizes)]
    head = ["    " * j + f"for i{j} in range({n}):" for j, n in enumerate(sizes)]
    pad = "    " * len(sizes)
    reads = " + ".join(f"ld(v, {draw(_index(counters))})" for _ in range(draw(st.integers(1, 3))))
    if kind == 1:    # a reduction in each element
        k = draw(st.sampled_from([2, 3]))
        body = ["acc0 = 0.0", f"for k0 in range({k}):",
                f"    acc0 += ld(v, {draw(_index(counters + [('k0', k)]))})",
                f"st(v, {draw(_index(counters))}, acc0 - {reads})"]
    elif kind == 2:  # a rate
        body = [f"st(r, {draw(_index(counters))}, {reads})"]
    else:
        body = [f"st(v, {draw(_index(counters))}, ({reads}) * 0.5 + 1.0)  # x"]
    return "\n".join(head + [pad + b for b in body])


@settings(max_examples=300, deadline=None)
@given(st.lists(_statement(), min_size=1, max_size=8),
       st.lists(st.floats(-4, 4), min_size=N_SLOTS, max_size=N_SLOTS))
def test_fused_statements_compute_what_the_statements_do(statements, start):
    want, got = ({"v": np.array(start), "r": np.zeros(N_SLOTS), "ld": lambda a, i: a[i],
                  "st": lambda a, i, x: a.__setitem__(i, x)} for _ in range(2))
    exec("\n".join(statements), want)        # test code only: statements this test generates
    exec("\n".join(fuse(statements)), got)
    np.testing.assert_array_equal(got["v"], want["v"])
    np.testing.assert_array_equal(got["r"], want["r"])


def test_a_falling_index_that_reaches_a_later_iterations_read_keeps_its_own_loop():
    """The first statement reads v[22 + i0 + 4 i1] (at i0 = 3: v[25] .. v[37]); the second
    writes v[39 - i0 + i2], v[37] at i0 = 2. In one loop that write would come before the
    read of v[37] at i0 = 3, which the statements in turn read as 0: by hand r[0] = v[37] = 0
    (its last store, i0 = i1 = 3). The spans of the two were taken as if each index rose."""
    statements = ["for i0 in range(4):\n    for i1 in range(4):\n        st(r, 0, ld(v, 22 + i0 * 1 + i1 * 4))",
                  "for i0 in range(4):\n    for i1 in range(1):\n        for i2 in range(3):\n"
                  "            st(v, 39 + i0 * -1 + i2 * 1, (ld(v, 0)) * 0.5 + 1.0)"]
    got = {"v": np.zeros(N_SLOTS), "r": np.zeros(N_SLOTS), "ld": lambda a, i: a[i],
           "st": lambda a, i, x: a.__setitem__(i, x)}
    exec("\n".join(fuse(statements)), got)      # test code only: the statements above
    assert got["r"][0] == 0.0 and list(got["v"][36:40]) == [1.0, 1.0, 1.0, 1.0]


# -- a model ---------------------------------------------------------------------------------
GRID = """
plant: p1, p2, p3 ~~|
item: i1, i2 ~~|
early: p1, p2 ~~|
base[plant, item] = plant * 10 + item ~~|
double[plant, item] = 2 * base[plant, item] + stock[plant, item] ~~|
half[plant, item] = double[plant, item] / 2 + stock[plant, item] ~~|
share[plant, item] = double[plant, item] / SUM(double[plant, item!]) ~~|
stock[plant, item] = INTEG(share[plant, item], 0) ~~|
ahead[early, item] = double[early, item] - 1 ~~|
ahead[p3, item] = 0 ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 2 ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""


def test_a_model_over_one_grid(tmp_path):
    (tmp_path / "grid.mdl").write_text(GRID)
    m = load(tmp_path / "grid.mdl", cache_dir=tmp_path / "c")
    step = m.kernel.source.split("def dynamic_0(")[1].split("@njit")[0]
    # double and half: one loop over the 6 elements of [plant, item], as the stocks' rates
    assert "for i0 in range(6):\n        st(v, " in step and "# double\n        st(v, " in step
    assert "# half" in step and "for i1 in range(2):" in step   # share's SUM reads a row per plant
    got = m.run(tier="compiled")
    np.testing.assert_array_equal(got.values, m.run(tier="interpreter").values)
    # by hand, Euler with dt 1: double = 2 base + stock, share = double / its plant's sum
    stock = np.zeros((3, 2))
    base = np.array([[10 * p + i for i in (1, 2)] for p in (1, 2, 3)], dtype=float)
    for t in range(3):
        double = 2 * base + stock
        share = double / double.sum(axis=1, keepdims=True)
        for p in range(3):
            for i in range(2):
                assert got[f"double[p{p + 1},i{i + 1}]"][t] == double[p, i]
                assert got[f"share[p{p + 1},i{i + 1}]"][t] == share[p, i]
                assert got[f"half[p{p + 1},i{i + 1}]"][t] == double[p, i] / 2 + stock[p, i]
                assert got[f"ahead[p{p + 1},i{i + 1}]"][t] == (double[p, i] - 1 if p < 2 else 0)
        stock = stock + share
