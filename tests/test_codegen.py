"""Code generation: the loops over the elements of flattened arrays (backend/element_loops.py)
keep every number."""
from __future__ import annotations

import numpy as np

from smartspec_dsl import load
from smartspec_dsl.backend import element_loops
from smartspec_dsl.passes import pipeline

ARRAYED = """
region: (r1-r12) ~~|
sector: s1, s2, s3 ~~|
growth[region] = 0.01 * region ~ 1/Year ~|
capital[region] = INTEG(investment[region], region) ~ $ ~|
investment[region] = growth[region] * capital[region] + SUM(demand[region, sector!]) ~ $/Year ~|
demand[region, sector] = 0.5 * sector + 0.1 * region ~ $/Year ~|
output[region, sector] = SMOOTH(demand[region, sector], 2) * capital[region] ~ $ ~|
INITIAL TIME = 0 ~~|
FINAL TIME = 10 ~~|
TIME STEP = 0.25 ~~|
SAVEPER = 1 ~~|
"""


def _units(rows):
    """Statements as element_loops sees them: (shape, values) each, in order."""
    return [element_loops.Unit(shape, tuple(values), i) for i, (shape, values) in enumerate(rows)]


def test_statements_of_one_form_advancing_evenly_are_one_loop():
    """Three statements `a[k] = b[2k] * 0.5` (slots 10 + k, 20 + 2k) are one loop; a fourth
    whose number differs is a statement of its own."""
    units = element_loops.group(_units([("st*", (10, 20, 0.5)), ("st*", (11, 22, 0.5)),
                                        ("st*", (12, 24, 0.5)), ("st*", (13, 26, 1e-06))]))
    assert [u.count for u in units] == [3, 0]
    assert units[0].steps == (1, 2, 0.0) and units[1].first == 3


def test_blocks_of_statements_repeating_in_turn_are_one_loop_in_their_order():
    """a[k] = x[k]; b[k] = a[k] for k = 1..3, in turn: one loop over the block of two."""
    rows = [("a", (5, 1)), ("b", (6, 5)), ("a", (7, 2)), ("b", (8, 7)), ("a", (9, 3)), ("b", (10, 9))]
    (unit,) = element_loops.group(_units(rows))
    assert unit.count == 3 and [u.first for u in unit.body] == [0, 1] and unit.steps == (2, 1, 2, 2)


def test_statements_that_do_not_advance_evenly_stay_statements():
    rows = [("a", (1, 0.5)), ("a", (2, 0.5)), ("a", (4, 0.5)), ("a", (5, 2.5))]
    assert [u.count for u in element_loops.group(_units(rows))] == [0, 0, 0, 0]
    # two of a form are not worth a loop; nor are forms that differ
    assert [u.count for u in element_loops.group(_units([("a", (1,)), ("a", (2,)), ("b", (3,))]))] == [0, 0, 0]


def _per_element(monkeypatch):
    """Loops over elements are for the arrays flattened per element (passes/dense.py keeps the
    others as loops already): these tests flatten every array."""
    monkeypatch.setattr(pipeline, "dense_arrays", lambda model, edits: set())


def test_loops_over_elements_give_the_same_numbers(tmp_path, monkeypatch):
    _per_element(monkeypatch)
    rolled = tmp_path / "rolled.mdl"
    rolled.write_text(ARRAYED)
    m = load(rolled, cache_dir=tmp_path / "cache1")
    assert "for q in range(" in m.kernel.source
    got = m.run()

    plain = tmp_path / "plain.mdl"
    plain.write_text(ARRAYED)
    monkeypatch.setattr(element_loops, "MIN_RUN", 10 ** 9)
    ref = load(plain, cache_dir=tmp_path / "cache2")
    assert "for q in range(" not in ref.kernel.source
    want = ref.run()
    assert got.columns == want.columns
    np.testing.assert_array_equal(got.values, want.values)

    # and against the hand-derived solution: capital[r](t) with growth g = 0.01 r and
    # inflow c = SUM(0.5 s + 0.1 r over s = 1..3) = 3 + 0.3 r, Euler with dt = 0.25:
    # K(n+1) = K(n) (1 + g dt) + c dt
    for r in (1, 7, 12):
        g, c, k = 0.01 * r, 3 + 0.3 * r, float(r)
        for _ in range(40):
            k = k * (1 + g * 0.25) + c * 0.25
        assert abs(got[f"capital[r{r}]"][-1] - k) < 1e-9 * k


def test_large_ranges_compile_to_loops(tmp_path):
    """A 1,500-element range: SUM over it once overflowed Python's recursion limit
    (a left-deep chain of additions), and its per-element float literals (the range
    position as a value) are loops."""
    def wide(n):
        path = tmp_path / f"wide{n}.mdl"
        path.write_text(f"r: (e1-e{n}) ~~|\n"
                        "x[r] = INTEG(0.5 * r, r) ~~|\n"
                        "total = SUM(x[r!]) ~~|\n"
                        "INITIAL TIME = 0 ~~|\nFINAL TIME = 2 ~~|\nTIME STEP = 1 ~~|\nSAVEPER = 1 ~~|\n")
        return load(path, cache_dir=tmp_path / "cache")
    n = 1500
    m = wide(n)
    # a statement per element would add 1,500 lines: the kernel is as long as a 15-element one's
    assert m.kernel.source.count("\n") == wide(15).kernel.source.count("\n")
    res = m.run()
    # x[k](t) = k + 0.5 k t, so total(t) = (1 + 0.5 t) n (n + 1) / 2
    for i, t in enumerate(res.time):
        assert res["total"][i] == (1 + 0.5 * t) * n * (n + 1) / 2
    assert res[f"x[e{n}]"][-1] == n * 2.0


def _phases(source: str) -> str:
    """The kernel's phase functions (init, dynamic, rates), one after the other."""
    return "".join(source.split(f"def {name}_0(")[1].split("\n@njit")[0] for name in ("init", "dynamic", "rates"))


def test_sum_of_products_compiles_to_a_loop(tmp_path, monkeypatch):
    """SUM(m[i, j!] * x[j!]) over 40 elements: each row's terms differ only by evenly
    progressing slots, so the sum is one loop (nested in the rows' loop), and the
    kernel stays small; numbers against the hand-derived solution and the kernel
    without loops."""
    _per_element(monkeypatch)
    n = 40
    text = (f"i: (i1-i{n}) ~~|\nj <-> i ~~|\n"
            "m[i, j] = i + 0.5 * j ~~|\n"
            "x[i] = INTEG(0, i) ~~|\n"
            "y[i] = SUM(m[i, j!] * x[j!]) + x[i] ~~|\n"
            "dot = SUM(x[i!] * x[i!] / 2) ~~|\n"
            "INITIAL TIME = 0 ~~|\nFINAL TIME = 1 ~~|\nTIME STEP = 1 ~~|\nSAVEPER = 1 ~~|\n")
    (tmp_path / "mv.mdl").write_text(text)
    m = load(tmp_path / "mv.mdl", cache_dir=tmp_path / "c1")
    assert "for kk in range(40):" in m.kernel.source
    got = m.run()
    # x[j] = j; y[i] = sum_j (i + j/2) j + i = i n(n+1)/2 + n(n+1)(2n+1)/12 + i
    s1, s2 = n * (n + 1) / 2, n * (n + 1) * (2 * n + 1) / 6
    for i in (1, 17, n):
        assert got[f"y[i{i}]"][-1] == i * s1 + s2 / 2 + i
    assert got["dot"][0] == s2 / 2

    monkeypatch.setattr(element_loops, "MIN_STRIDED_SUM", 10 ** 9)
    monkeypatch.setattr(element_loops, "MAX_DEPTH", 1)
    (tmp_path / "plain.mdl").write_text(text)
    plain = load(tmp_path / "plain.mdl", cache_dir=tmp_path / "c2")
    assert "for kk" not in plain.kernel.source
    # the 40 x 40 matrix is two nested loops, each row's sum one loop
    assert "for q1 in range(40):\n        for q in range(40):" in m.kernel.source
    # the phases (what the model's equations make; the drivers around them are the same)
    assert len(_phases(m.kernel.source)) < len(_phases(plain.kernel.source)) / 2
    np.testing.assert_allclose(got.values, plain.run().values, rtol=1e-14)


LEFTOVERS = """
R: (r1-r{n}) ~~|
input[R] = 10 * R + Time ~~|
late[R] = DELAY FIXED(input[R], 1, R) ~~|
effect[R] = effect table(input[R] / 100) ~~|
effect table((0, 0), (100, 10)) ~~|
noise[R] = RANDOM UNIFORM(0, R, 0) ~~|
back[R] = LOOKUP BACKWARD(effect table, Time) * R ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 4 ~~|
TIME STEP = 0.5 ~~|
SAVEPER = 0.5 ~~|
"""


def test_per_element_statements_are_loops_whatever_the_range(tmp_path, monkeypatch):
    """Flattened arrays of DELAY FIXED (the buffer's reads and writes), a lookup (its watch per
    element), a random draw (its call site per element) and a function of a lookup: loops, so
    the kernel has the same length at 10 and 1,000 elements, and the numbers of the statements
    written one by one, to the bit. By hand: late[rk] = k until t = 1, then input 1 earlier,
    10 k + t - 1; effect = input / 1,000 (the table up to 10)."""
    _per_element(monkeypatch)
    sizes = []
    for n in (10, 1000):
        (tmp_path / f"m{n}.mdl").write_text(LEFTOVERS.format(n=n))
        m = load(tmp_path / f"m{n}.mdl", cache_dir=tmp_path / "c1", tier="interpreter")
        sizes.append(m.kernel.source.count("\n"))
    assert sizes[0] == sizes[1]
    got = m.run(tier="interpreter")
    for k in (1, 7, 1000):
        np.testing.assert_array_equal(got[f"late[r{k}]"], [k if t < 1 else 10 * k + t - 1 for t in got.time])
        np.testing.assert_allclose(got[f"effect[r{k}]"], np.minimum((10 * k + got.time) / 1000, 10), rtol=1e-12)
    monkeypatch.setattr(element_loops, "MIN_RUN", 10 ** 9)
    (tmp_path / "plain.mdl").write_text(LEFTOVERS.format(n=10) + "{ plain }\n")
    plain = load(tmp_path / "plain.mdl", cache_dir=tmp_path / "c2", tier="interpreter")
    assert plain.kernel.source.count("\n") > sizes[0] + 50
    want = plain.run(tier="interpreter")
    small = load(tmp_path / "m10.mdl", cache_dir=tmp_path / "c1", tier="interpreter").run(tier="interpreter")
    np.testing.assert_array_equal(small.values, want.values)
    assert small["noise[r9]"].std() > 0
