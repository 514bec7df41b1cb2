"""Loops the interpreter's tape keeps (backend/tape.py `kept_loop`, `vectorized`): a dense
array's equation is one loop on the tape, whatever its number of elements, and the
interpreter runs it to the very numbers of the unrolled tape (compared exactly) and of the
plain-Python reference evaluator (tests/reference_eval.py, to 1e-12)."""
from __future__ import annotations

import numpy as np
import pytest

import smartspec_dsl
from smartspec_dsl import ir
from smartspec_dsl.backend import tape as tape_mod

from conftest import population

CONTROL = """
INITIAL TIME = 0 ~~|
FINAL TIME = 4 ~~|
TIME STEP = 0.25 ~~|
SAVEPER = 0.5 ~~|
"""

# a sum per row (a loop in a loop), a sum per column over a product, a range as a value
MATRIX = """
Row: (a1-a{n}) ~~|
Col: (b1-b{m}) ~~|
share[Row, Col] = Row * 0.01 + Col * 0.001 ~~|
stock[Row] = INTEG(SUM(share[Row, Col!]) * 0.1 - stock[Row] * 0.05, 10 + Row) ~~|
received[Col] = SUM(share[Row!, Col] * stock[Row!]) ~~|
total = SUM(received[Col!]) ~~|
"""


def _run(tmp_path, monkeypatch, text: str, name: str, unrolled: bool = False):
    monkeypatch.setenv("SMARTSPEC_CACHE_DIR", str(tmp_path / ("cache-unrolled" if unrolled else "cache")))
    path = tmp_path / name
    path.write_text(text)
    with monkeypatch.context() as m:
        if unrolled:
            m.setattr(tape_mod, "LOOP_MIN", 10 ** 9)
        model = smartspec_dsl.load(path, tier="interpreter")
        return model, model.run(tier="interpreter")


@pytest.mark.parametrize("text", [population(70, CONTROL), MATRIX.format(n=66, m=80) + CONTROL],
                         ids=["population", "matrix"])
def test_kept_loops_give_the_unrolled_tape_and_the_reference(tmp_path, monkeypatch, text):
    from reference_eval import simulate as reference_simulate
    model, got = _run(tmp_path, monkeypatch, text, "m.mdl")
    _, unrolled = _run(tmp_path, monkeypatch, text, "m.mdl", unrolled=True)
    assert got.tier == unrolled.tier == "interpreter"
    np.testing.assert_array_equal(got.values, unrolled.values)
    ref = reference_simulate(text)
    for i, c in enumerate(got.columns):
        np.testing.assert_allclose(got.values[:, i], ref.values[ir.canonical_name(c)], rtol=1e-12, atol=1e-12,
                                   err_msg=c)
    code = model._tiers.tape()[0]
    assert len(code) < 2000   # the loops' bodies once, not once per element


def test_the_tape_does_not_grow_with_the_range(tmp_path, monkeypatch):
    small, _ = _run(tmp_path, monkeypatch, population(64, CONTROL), "small.mdl")
    large, run = _run(tmp_path, monkeypatch, population(5000, CONTROL), "large.mdl")
    assert len(large._tiers.tape()[0]) == len(small._tiers.tape()[0])
    assert run.values[-1, run.columns.index("total population")] > 0


def test_vectorized_only_when_the_iterations_are_independent():
    """A body reading the element another iteration writes (x[k] = x[k - 1] + c) keeps the
    scalar loop, which runs the iterations in order; one reading other arrays runs one
    instruction over all iterations at a time; a sum's accumulator stays one value."""
    b = tape_mod._Builder.__new__(tape_mod._Builder)
    add, c = tape_mod.OPCODE["ADD"], tape_mod._CONST
    body = np.array([add, 10, 9, c], dtype=np.int64)
    step = np.array([0, 1, 1, 0], dtype=np.int64)
    assert b.vectorized(body, step, 100, 0) is None                       # reads slot 9 + k: x[k - 1]
    independent = np.array([add, 10, 500, c], dtype=np.int64)
    assert b.vectorized(independent, step, 100, 0) is not None            # reads another array
    acc = tape_mod._TEMP
    total = np.array([add, acc, acc, 500], dtype=np.int64)
    assert b.vectorized(total, np.array([0, 0, 0, 1]), 100, 1) is not None   # a sum
    twice = np.array([add, acc, acc, 500, add, 600, acc, c], dtype=np.int64)
    assert b.vectorized(twice, np.array([0, 0, 0, 1, 0, 0, 0, 0]), 100, 1) is None   # the sum read inside


def test_a_loop_over_lookups_reads_each_elements_table(tmp_path, monkeypatch):
    """An array of lookups (flattened per element, a loop over their tables on the tape): each
    iteration reads its own table. tbl[rK] goes from K at 0 to 2K at 10, so y[rK] = K (1 + t/10)
    and total = 2485 (1 + t/10) over K = 1..70 (a hand derivation)."""
    tables = "".join(f"tbl[r{k}]((0,{k}),(10,{2 * k})) ~~|\n" for k in range(1, 71))
    text = "R: (r1-r70) ~~|\n" + tables + "y[R] = tbl[R](Time) ~~|\ntotal = SUM(y[R!]) ~~|\n" + CONTROL
    model, got = _run(tmp_path, monkeypatch, text, "lookups.mdl")
    _, unrolled = _run(tmp_path, monkeypatch, text, "lookups.mdl", unrolled=True)
    np.testing.assert_array_equal(got.values, unrolled.values)
    t = got.time
    np.testing.assert_allclose(got.values[:, got.columns.index("total")], 2485 * (1 + t / 10), rtol=1e-12)
    np.testing.assert_allclose(got.values[:, got.columns.index("y[r70]")], 70 * (1 + t / 10), rtol=1e-12)


def test_an_unrolled_loop_whose_constants_exist_already(tmp_path, monkeypatch):
    """A loop under LOOP_MIN is unrolled; one whose iterations read constants made earlier
    (1.0, 2.0, 3.0 by `a weight`) would advance through the constant pool if extrapolated from
    its first three iterations: each iteration reads its own number (10 - Region, a hand
    derivation: 9, 8, ..., 4)."""
    text = ("Age: a1, a2, a3 ~~|\nRegion: r1, r2, r3, r4, r5, r6 ~~|\na weight[Age] = 10 - Age ~~|\n"
            "b weight[Region] = 10 - Region ~~|\n" + CONTROL)
    _, got = _run(tmp_path, monkeypatch, text, "weights.mdl")
    assert [got.values[-1, got.columns.index(f"b weight[r{k}]")] for k in range(1, 7)] == [9, 8, 7, 6, 5, 4]
    assert [got.values[-1, got.columns.index(f"a weight[a{k}]")] for k in range(1, 4)] == [9, 8, 7]
