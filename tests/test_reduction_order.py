"""Reductions round alike on both routes at every size: SUM, PROD, VMIN, VMAX and every action
of VECTOR SELECT add, multiply or compare their terms in element order, left to right, on the
dense route (one loop, backend/dense_emit.py, kernel_lib.vector_select) and on the per-element
route (flat_exprs.in_order: a chain of up to 32 terms, then a hidden auxiliary holding the
running value that the next block continues from), on both tiers."""
from __future__ import annotations

import pytest

from smartspec_dsl import ir
from smartspec_dsl.frontend.nesting import BLOCK
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


def _text(n: int) -> str:
    selects = "\n".join(f"v{k} = VECTOR SELECT(s[R!], x[R!], -1, {k}, 0) ~~|" for k in range(11))
    return REDUCTIONS.format(n=n, selects=selects)


@pytest.mark.parametrize("tier", ["interpreter", "compiled"])
@pytest.mark.parametrize("n", [7, 33, 100, 1000])
def test_every_reduction_gives_the_same_bits_on_both_routes(tmp_path, monkeypatch, tier, n):
    """Beyond 32 terms the per-element route combined blocks of 32 as a balanced tree, the
    dense loop straight through: their sums and products differed in the last bits."""
    _, dense, _, flat = _both_routes(tmp_path, monkeypatch, _text(n), tier)
    assert dense.tier == flat.tier == tier
    assert sorted(dense.columns) == sorted(flat.columns)
    names = ["sm", "pr", "mn", "mx"] + [f"v{k}" for k in range(11)]
    for c in names:
        a, b = dense.values[:, dense.columns.index(c)], flat.values[:, flat.columns.index(c)]
        assert a.tobytes() == b.tobytes(), (c, a - b)
    # SUM in element order, by hand: x[r] at Time 0, added left to right
    x = [0.93 + 0.1 / r + 0.0013 * 0.0 + 0.00007 * r for r in range(1, n + 1)]
    total = 0.0
    for v in x:
        total += v
    assert dense.values[0, dense.columns.index("sm")] == total
    product = 1.0
    for v in x:
        product *= v
    assert dense.values[0, dense.columns.index("pr")] == product


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


def test_the_running_value_is_held_every_32_terms():
    """The per-element route of a SUM over 100 elements: the element's equation reads the
    running value after 96 terms (a hidden auxiliary) and adds the last 4; each hidden
    auxiliary is a chain of at most 32 terms, so no expression is deeper than a block."""
    model = pipeline.arrays(parse_model(_text(100), "m.mdl"), None, False)
    partials = sorted(n for n in model.variables if "#partial" in n)
    # 3 for each of SUM, PROD, VMIN and VMAX; each VECTOR SELECT: 3 for its count and 3 for
    # its action's chain (the total of the mean, the sum, product, minimum or maximum)
    assert len(partials) == 4 * 3 + 11 * (3 + 3)
    sm = model.variables["sm"].expr
    depth = lambda e: 1 + max((depth(c) for c in ir.children(e)), default=0)
    assert all(depth(model.variables[p].expr) <= BLOCK + 8 for p in partials)
    assert depth(sm) <= BLOCK + 8
    # the last link: ((partial + x[r97]) + x[r98]) + ... + x[r100]
    leaves = lambda e: [e.name] if isinstance(e, ir.Ref) else [n for c in ir.children(e) for n in leaves(c)]
    refs = leaves(sm)
    assert refs[0].startswith("sm #partial") and refs[1:] == ["x[r97]", "x[r98]", "x[r99]", "x[r100]"]
