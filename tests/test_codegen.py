"""Code generation: loop re-rolling of flattened arrays keeps every number."""
from __future__ import annotations

import numpy as np

from smartspec_dsl import load
from smartspec_dsl.backend import loops
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


def test_reroll_turns_strided_statements_into_one_loop():
    lines = ["st(v, 10, (ld(v, 20) * 0.5))  # a[1]",
             "st(v, 11, (ld(v, 22) * 0.5))  # a[2]",
             "st(v, 12, (ld(v, 24) * 0.5))  # a[3]",
             "st(v, 13, (ld(v, 26) * 1e-06))"]
    out = loops.reroll(lines)
    assert out == ["for q in range(3):\n    st(v, (10 + 1 * q), (ld(v, (20 + 2 * q)) * 0.5))",
                   "st(v, 13, (ld(v, 26) * 1e-06))"]


def test_reroll_keeps_blocks_in_their_order():
    lines = ["st(v, 5, ld(v, 1))", "st(v, 6, ld(v, 5))",
             "st(v, 7, ld(v, 2))", "st(v, 8, ld(v, 7))",
             "st(v, 9, ld(v, 3))", "st(v, 10, ld(v, 9))"]
    assert loops.reroll(lines) == [
        "for q in range(3):\n    st(v, (5 + 2 * q), ld(v, (1 + 1 * q)))\n"
        "    st(v, (6 + 2 * q), ld(v, (5 + 2 * q)))"]


def test_reroll_leaves_irregular_code_alone():
    lines = ["st(v, 1, 0.5)", "st(v, 2, 0.5)", "st(v, 4, 0.5)", "st(v, 5, 2.5)"]
    assert loops.reroll(lines) == lines


def _per_element(monkeypatch):
    """Re-rolling is for the arrays flattened per element (passes/dense.py keeps the others
    as loops already): these tests flatten every array."""
    monkeypatch.setattr(pipeline, "dense_arrays", lambda model, edits: set())


def test_rerolled_kernel_gives_the_same_numbers(tmp_path, monkeypatch):
    _per_element(monkeypatch)
    rolled = tmp_path / "rolled.mdl"
    rolled.write_text(ARRAYED)
    m = load(rolled, cache_dir=tmp_path / "cache1")
    assert "for q in range(" in m.kernel.source
    got = m.run()

    plain = tmp_path / "plain.mdl"
    plain.write_text(ARRAYED)
    monkeypatch.setattr(loops, "reroll", lambda lines, var="q": lines)
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
    position as a value) re-roll into loops."""
    n = 1500
    path = tmp_path / "wide.mdl"
    path.write_text(f"r: (e1-e{n}) ~~|\n"
                    "x[r] = INTEG(0.5 * r, r) ~~|\n"
                    "total = SUM(x[r!]) ~~|\n"
                    "INITIAL TIME = 0 ~~|\nFINAL TIME = 2 ~~|\nTIME STEP = 1 ~~|\nSAVEPER = 1 ~~|\n")
    m = load(path, cache_dir=tmp_path / "cache")
    # the drivers (generic and Euler) take about 300 lines; a statement per element, 1,500 more
    assert m.kernel.source.count("\n") < 400
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

    monkeypatch.setattr(loops, "MIN_STRIDED_SUM", 10 ** 9)
    monkeypatch.setattr(loops, "MAX_DEPTH", 1)
    (tmp_path / "plain.mdl").write_text(text)
    plain = load(tmp_path / "plain.mdl", cache_dir=tmp_path / "c2")
    assert "for kk" not in plain.kernel.source
    # the 40 x 40 matrix rerolls into two nested loops, each row's sum into one loop
    assert "for q1 in range(40):\n        for q in range(40):" in m.kernel.source
    # the phases (what the model's equations make; the drivers around them are the same)
    assert len(_phases(m.kernel.source)) < len(_phases(plain.kernel.source)) / 2
    np.testing.assert_allclose(got.values, plain.run().values, rtol=1e-14)
