"""Reductions round alike on both routes at every size: SUM, PROD, VMIN, VMAX and every action
of VECTOR SELECT add, multiply or compare their terms in element order, left to right, as Vensim
does, on the dense route (one loop, backend/dense_emit.py, kernel_lib.vector_select) and on the
per-element route (flat_exprs.in_order: a chain of up to 32 terms, beyond one `@SUM(...)` call
that the code generator writes as the same loop, element_loops.in_order), on both tiers; a SUM of
-0.0 terms is +0.0 on both, as a loop from 0 gives. The reference is a Python loop over the run's
own values of the terms, left to right (not math.fsum, which rounds once)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from smartspec_dsl import ir
from smartspec_dsl.frontend.parse import parse_model
from smartspec_dsl.passes import pipeline

from test_dense_route import _both_routes

REDUCTIONS = """
R: (r1-r{n}) ~~|
x[R] = 0.93 + 0.1 / R + 0.0013 * Time + 0.00007 * R ~~|
y[R] = 0.5 - 0.17 * R / {n} + 0.011 * Time ~~|
s[R] = IF THEN ELSE(R = 3, 0, 1 + 0.5 * (R = 5)) ~~|
sm = SUM(x[R!]) ~~|
pr = PROD(x[R!]) ~~|
mn = VMIN(y[R!]) ~~|
mx = VMAX(y[R!]) ~~|
{selects}
INITIAL TIME = 0 ~~| FINAL TIME = 2 ~~| TIME STEP = 0.25 ~~| SAVEPER = 0.25 ~~|
"""
NAMES = ["sm", "pr", "mn", "mx"] + [f"v{k}" for k in range(11)]


def _text(n: int) -> str:
    selects = "\n".join(f"v{k} = VECTOR SELECT(s[R!], x[R!], -1, {k}, 0) ~~|" for k in range(11))
    return REDUCTIONS.format(n=n, selects=selects)


def _column(run, name: str) -> np.ndarray:
    return run.values[:, run.columns.index(name)]


def _left_to_right(op, values, start):
    out = start
    for v in values:
        out = op(out, v)
    return out


@pytest.mark.parametrize("tier", ["interpreter", "compiled"])
@pytest.mark.parametrize("n", [7, 33, 100, 1000])
def test_every_reduction_gives_the_same_bits_on_both_routes(tmp_path, monkeypatch, tier, n):
    """Beyond 32 terms the per-element route combined blocks of 32 as a balanced tree, the
    dense loop straight through: their sums and products differed in the last bits (at 100
    elements here). Each saved time of both runs against the loop by hand over the run's x[r]
    and y[r] (the reference does not depend on our own reduction code)."""
    _, dense, _, flat = _both_routes(tmp_path, monkeypatch, _text(n), tier)
    assert dense.tier == flat.tier == tier
    assert sorted(dense.columns) == sorted(flat.columns)
    for c in NAMES:
        assert _column(dense, c).tobytes() == _column(flat, c).tobytes(), c
    for run in (dense, flat):
        x = np.stack([_column(run, f"x[r{r}]") for r in range(1, n + 1)], axis=1)
        y = np.stack([_column(run, f"y[r{r}]") for r in range(1, n + 1)], axis=1)
        for t in range(len(run.values)):
            xs, ys = [float(v) for v in x[t]], [float(v) for v in y[t]]
            assert _column(run, "sm")[t] == _left_to_right(lambda a, b: a + b, xs, 0.0)
            assert _column(run, "pr")[t] == _left_to_right(lambda a, b: a * b, xs, 1.0)
            assert _column(run, "mn")[t] == min(ys) and _column(run, "mx")[t] == max(ys)
            # VECTOR SELECT's sum (0) and mean (4) of the selected s * x: s[r3] = 0 leaves r3 out
            picked = [(1.5 if r == 5 else 1.0) * xs[r - 1] for r in range(1, n + 1) if r != 3]
            total = _left_to_right(lambda a, b: a + b, picked, 0.0)
            assert _column(run, "v0")[t] == total
            assert _column(run, "v4")[t] == total / (n - 1)
    # at Time 0 by hand, written out: x[r] = 0.93 + 0.1 / r + 0.00007 r
    total = 0.0
    for r in range(1, n + 1):
        total += 0.93 + 0.1 / r + 0.0013 * 0.0 + 0.00007 * r
    assert _column(flat, "sm")[0] == total


def test_a_small_sum_by_hand(tmp_path, monkeypatch):
    """SUM of 0.1, 0.2 and 0.3 in element order is (0.1 + 0.2) + 0.3 = 0.6000000000000001
    (0.1 + (0.2 + 0.3) would be 0.6 exactly): both routes, both tiers."""
    text = ("R: r1, r2, r3 ~~|\nx[R] = 0.1, 0.2, 0.3 ~~|\nsm = SUM(x[R!]) ~~|\n"
            "INITIAL TIME = 0 ~~| FINAL TIME = 1 ~~| TIME STEP = 1 ~~| SAVEPER = 1 ~~|\n")
    for tier in ("interpreter", "compiled"):
        (tmp_path / tier).mkdir()
        _, dense, _, flat = _both_routes(tmp_path / tier, monkeypatch, text, tier)
        for run in (dense, flat):
            assert run.values[0, run.columns.index("sm")] == 0.6000000000000001


ZEROS = """
R: (r1-r{n}) ~~|
x[R] = 1 + R + Time ~~|
z[R] = -x[R] * 0 ~~|
sz = SUM(z[R!]) ~~|
pz = PROD(z[R!]) ~~|
row[R] = SUM(z[R!] * x[R]) ~~|
INITIAL TIME = 0 ~~| FINAL TIME = 1 ~~| TIME STEP = 1 ~~| SAVEPER = 1 ~~|
"""


@pytest.mark.parametrize("tier", ["interpreter", "compiled"])
@pytest.mark.parametrize("n", [3, 40])
def test_a_sum_of_negative_zeros_is_positive_zero_on_both_routes(tmp_path, monkeypatch, tier, n):
    """-x * 0 is -0.0 for x > 0. A loop from 0 (the dense route's, Vensim's SUM) gives
    0.0 + -0.0 = +0.0; the per-element chain -0.0 + -0.0 + ... gave -0.0 up to 32 terms.
    A product of them keeps its sign on both: (-0.0) ^ n, + for n even, - for n odd."""
    _, dense, _, flat = _both_routes(tmp_path, monkeypatch, ZEROS.format(n=n), tier)
    for run in (dense, flat):
        assert _column(run, "z[r2]")[0] == 0.0 and math.copysign(1.0, _column(run, "z[r2]")[0]) == -1.0
        for c in ["sz"] + [f"row[r{r}]" for r in (1, n)]:
            assert _column(run, c).tolist() == [0.0, 0.0]
            assert not np.signbit(_column(run, c)).any(), (run.tier, c)
        assert np.signbit(_column(run, "pz")).tolist() == [n % 2 == 1] * 2
    for c in ["sz", "pz", "row[r1]"]:
        assert _column(dense, c).tobytes() == _column(flat, c).tobytes()


def test_a_long_reduction_is_one_call_of_its_terms_in_element_order():
    """The per-element route of a SUM over 100 elements: one call of the 100 terms, x[r1] first
    (no hidden variable, no expression deeper than its terms'); up to 32 terms a left-deep
    chain, ending with + 0.0 for a sum (the loop's start, which only a -0.0 sum sees)."""
    model = pipeline.arrays(parse_model(_text(100), "m.mdl"), None, False)
    assert not [n for n in model.variables if "#partial" in n]
    sm, pr = model.variables["sm"].expr, model.variables["pr"].expr
    assert isinstance(sm, ir.Call) and sm.func == "@SUM" and isinstance(pr, ir.Call) and pr.func == "@PROD"
    assert [a.name for a in sm.args] == [f"x[r{r}]" for r in range(1, 101)]
    assert ir.depth(sm) == 2
    small = pipeline.arrays(parse_model(_text(7), "m.mdl"), None, False).variables["sm"].expr
    # ((((((x[r1] + x[r2]) + x[r3]) + ...) + x[r7]) + 0.0)
    assert small == ir.BinOp("+", _chain([ir.Ref(f"x[r{r}]") for r in range(1, 8)]), ir.Num(0.0))


def _chain(items):
    out = items[0]
    for x in items[1:]:
        out = ir.BinOp("+", out, x)
    return out


DRAWS = """
R: (r1-r{n}) ~~|
x[R] = 0.93 + 0.1 / R + 0.0013 * Time ~~|
sm = SUM(RANDOM UNIFORM(0, 1, 0) * x[R!]) ~~|
mx = VMAX(RANDOM UNIFORM(0, 1, 0) + 0 * x[R!]) ~~|
mn = VMIN(RANDOM UNIFORM(0, 1, 0) + 0 * x[R!]) ~~|
row[R] = SUM(RANDOM UNIFORM(0, 1, 0) * x[R!]) + x[R] ~~|
INITIAL TIME = 0 ~~| FINAL TIME = 2 ~~| TIME STEP = 0.25 ~~| SAVEPER = 0.25 ~~|
"""


@pytest.mark.parametrize("n", [20, 40])
def test_each_term_of_a_reduction_draws_its_own_number(tmp_path, monkeypatch, n):
    """A reduction's terms that draw are never one loop: each term draws at its own call site
    (the owner's j-th draw), as the kernel without loops over terms does; a loop over them drew
    one number for every term (a SUM over 16 or more terms: that number * SUM(x))."""
    from smartspec_dsl import load
    from smartspec_dsl.backend import element_loops
    monkeypatch.setattr(pipeline, "dense_arrays", lambda model, edits: set())
    monkeypatch.setenv("SMARTSPEC_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "m.mdl").write_text(DRAWS.format(n=n))
    looped = load(tmp_path / "m.mdl", cache_dir=tmp_path / "c1").run(tier="interpreter")
    monkeypatch.setattr(element_loops, "MIN_STRIDED_SUM", 10 ** 9)
    monkeypatch.setattr(element_loops, "MAX_DEPTH", 1)
    (tmp_path / "plain.mdl").write_text(DRAWS.format(n=n) + "\n{ without loops }\n")
    plain_model = load(tmp_path / "plain.mdl", cache_dir=tmp_path / "c2")
    assert "for kk" not in plain_model.kernel.source
    plain = plain_model.run(tier="interpreter")
    for c in ["sm", "mx", "mn", "row[r1]", f"row[r{n}]"]:
        assert _column(looped, c).tobytes() == _column(plain, c).tobytes(), c
    # n draws of their own: the largest is not the smallest
    assert (_column(looped, "mx") > _column(looped, "mn")).all()
