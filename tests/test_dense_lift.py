"""VECTOR SORT ORDER, VECTOR RANK and VECTOR REORDER reading their vector through a mapping
or a subrange, or in a piece of a piecewise array, stay dense (passes/dense_lift.py): the
kernel does not grow with the range, the dense route gives the per-element route's numbers,
the interpreter the compiled tier's, and both Vensim's definitions (ranks from 1, sort order
as 0-based positions, direction 1 ascending), derived here by sorting."""
from __future__ import annotations

import numpy as np
import pytest

from smartspec_dsl import ir
from smartspec_dsl.frontend.parse import parse_model
from smartspec_dsl.passes import pipeline
from smartspec_dsl.passes.dense import ineligible

from test_dense_route import _assert_same, _both_routes, _load

CONTROL = "INITIAL TIME = 0 ~~| FINAL TIME = 4 ~~| TIME STEP = 1 ~~| SAVEPER = 1 ~~|\n"


def vectors(n: int, p: int) -> str:
    """n elements (p a prime above n: the values 3k + t mod p, k = 1..n, are distinct and
    change order every step)."""
    return f"""
R: (r1-r{n}) -> S ~~|
S: (s1-s{n}) -> R ~~|
Sub: (r2-r{n - 1}) ~~|
C: c1, c2 ~~|
x[R] = MODULO(3 * R + Time, {p}) ~~|
m[C, R] = MODULO(3 * C * R + Time, {p}) ~~|
so[S] = VECTOR SORT ORDER(x[R], 1) ~~|
re[S] = VECTOR REORDER(x[R], so[S]) ~~|
rk[R] :EXCEPT: [r1] = VECTOR RANK(x[R], 0) ~~|
rk[r1] = -1 ~~|
sub rank[Sub] = VECTOR RANK(x[Sub], 1) ~~|
so2[C, S] = VECTOR SORT ORDER(m[C, R], 0) ~~|
""" + CONTROL


def _rank(values, ascending: bool) -> np.ndarray:
    order = np.argsort(values if ascending else -values, kind="stable")
    rank = np.empty(len(values))
    rank[order] = np.arange(1, len(values) + 1)
    return rank


@pytest.mark.parametrize("tier", ["interpreter", "compiled"])
def test_vectors_through_mappings_and_in_pieces_stay_dense(tmp_path, monkeypatch, tier):
    n, p = 6, 7
    text = vectors(n, p)
    assert ineligible(parse_model(text, "m.mdl")) is None
    lowered = pipeline.lower(parse_model(text, "m.mdl"))
    assert all(lowered.variables[v].dims for v in ("so", "re", "rk", "sub rank", "so2"))
    assert not any("[" in v for v in lowered.variables if lowered.variables[v].kind is not ir.Kind.LOOKUP)
    model, dense, _, flat = _both_routes(tmp_path, monkeypatch, text, tier)
    _assert_same(dense, flat)
    if tier == "compiled":
        np.testing.assert_array_equal(model.run(tier="interpreter").values, dense.values)
    k = np.arange(1, n + 1)
    for row, t in enumerate(range(5)):
        x = (3 * k + t) % p
        order = np.argsort(x, kind="stable")
        at = lambda name, els: np.array([dense[f"{name}[{e}]"][row] for e in els])
        np.testing.assert_array_equal(at("so", [f"s{j}" for j in k]), order)
        np.testing.assert_array_equal(at("re", [f"s{j}" for j in k]), np.sort(x))
        np.testing.assert_array_equal(at("rk", [f"r{j}" for j in k]), np.r_[-1, _rank(x, False)[1:]])
        np.testing.assert_array_equal(at("sub rank", [f"r{j}" for j in k[1:-1]]), _rank(x[1:-1], True))
        for c in (1, 2):
            m = (3 * c * k + t) % p
            np.testing.assert_array_equal(at("so2", [f"c{c},s{j}" for j in k]), np.argsort(-m, kind="stable"))


def test_their_kernel_does_not_grow_with_the_range(tmp_path, monkeypatch):
    monkeypatch.setenv("SMARTSPEC_CACHE_DIR", str(tmp_path / "cache"))
    small, _ = _load(tmp_path, vectors(10, 11), "small.mdl", "interpreter")
    large, run = _load(tmp_path, vectors(1000, 1009), "large.mdl", "interpreter")
    assert large.kernel.source.count("\n") == small.kernel.source.count("\n")
    assert len(large.kernel.source) < 1.1 * len(small.kernel.source)
    x = (3 * np.arange(1, 1001) + 4) % 1009
    np.testing.assert_array_equal([run[f"re[s{j}]"][-1] for j in (1, 500, 1000)], np.sort(x)[[0, 499, 999]])


def lookups(n: int) -> str:
    """A lookup defined per element (tbl[r_k](x) = k + x on [0, 10]) read through a mapping,
    a subrange, in the pieces of piecewise arrays over its own range and over a mapped one,
    and by a function of lookups."""
    tables = "\n".join(f"tbl[r{k}]((0,{k}),(10,{k + 10})) ~~|" for k in range(1, n + 1))
    return f"""
R: (r1-r{n}) -> S ~~|
S: (s1-s{n}) -> R ~~|
Sub: (r2-r{n - 1}) ~~|
{tables}
mapped[S] = tbl[R](Time) ~~|
sub[Sub] = tbl[Sub](2 * Time) ~~|
piece[r1] = 100 * tbl[r1](Time) ~~|
piece[R] :EXCEPT: [r1] = tbl[R](Time + 1) ~~|
forward[s1] = -1 ~~|
forward[S] :EXCEPT: [s1] = LOOKUP FORWARD(tbl[R], Time) ~~|
""" + CONTROL


def _without_tables(source: str) -> str:
    """A kernel's source without its module-level arrays of numbers (the watches of the
    tables, one per table, `np.array([...])` or runs of them, `np.repeat(np.array([...]), ...)`:
    data, not statements)."""
    return "\n".join(line for line in source.split("\n") if "np.array([" not in line)


@pytest.mark.parametrize("tier", ["interpreter", "compiled"])
def test_lookups_through_mappings_and_in_pieces_stay_dense(tmp_path, monkeypatch, tier):
    n = 6
    text = lookups(n)
    lowered = pipeline.lower(parse_model(text, "m.mdl"))
    assert all(lowered.variables[v].dims for v in ("mapped", "sub", "piece", "forward"))
    assert not any("[" in v for v in lowered.variables if lowered.variables[v].kind is not ir.Kind.LOOKUP)
    model, dense, _, flat = _both_routes(tmp_path, monkeypatch, text, tier)
    _assert_same(dense, flat)
    if tier == "compiled":
        np.testing.assert_array_equal(model.run(tier="interpreter").values, dense.values)
    t = np.arange(5.0)
    for k in range(1, n + 1):
        np.testing.assert_array_equal(dense[f"mapped[s{k}]"], k + t)
        np.testing.assert_array_equal(dense[f"piece[r{k}]"], 100 * (1 + t) if k == 1 else k + t + 1)
        # LOOKUP FORWARD: the next point's value at or after Time (10 here, but at 0)
        np.testing.assert_array_equal(dense[f"forward[s{k}]"], -1 if k == 1 else np.where(t > 0, k + 10, k))
    for k in range(2, n):
        np.testing.assert_array_equal(dense[f"sub[r{k}]"], k + 2 * t)


def test_lookup_kernels_do_not_grow_with_the_range(tmp_path, monkeypatch):
    monkeypatch.setenv("SMARTSPEC_CACHE_DIR", str(tmp_path / "cache"))
    small, _ = _load(tmp_path, lookups(10), "small.mdl", "interpreter")
    large, run = _load(tmp_path, lookups(1000), "large.mdl", "interpreter")
    assert large.kernel.source.count("\n") == small.kernel.source.count("\n")
    assert len(_without_tables(large.kernel.source)) < 1.1 * len(_without_tables(small.kernel.source))
    np.testing.assert_array_equal(run["piece[r1000]"], 1001 + np.arange(5.0))
    np.testing.assert_array_equal(run["mapped[s999]"], 999 + np.arange(5.0))


# a data array defined by several equations, each over a whole range (`lv[R, a]`, `lv[R, b]`
# with its own keyword), read from a file beside the model: one lookup of all its elements'
# tables (frontend/external.py), one piece per equation
SEVERAL = """
R: (r1-r{n}) ~~|
C: a, b ~~|
lv[R, a] ~~|
lv[R, b] :HOLD BACKWARD: ~~|
lr[R, a] :RAW: ~~|
lr[R, b] :RAW: ~~|
y[R, C] = lv[R, C] * 2 + 0 * lr[R, C] ~~|
shifted = TIME SHIFT(lv[r2, b], 1) ~~|
INITIAL TIME = 0 ~~| FINAL TIME = 5 ~~| TIME STEP = 1 ~~| SAVEPER = 1 ~~|
"""


def _several_tab(n: int) -> str:
    """lv[rk,a] = lr[rk,a] = k (t + 1), lv[rk,b] = lr[rk,b] = 10 k (t + 1), at t = 0, 2, 4."""
    names = [f"{v}[r{k},{c}]" for v in ("lv", "lr") for k in range(1, n + 1) for c in "ab"]
    rows = ["Time\t" + "\t".join(names)]
    for t in (0, 2, 4):
        rows.append(f"{t}\t" + "\t".join(str((1 if c == "a" else 10) * k * (t + 1))
                                         for _ in (0, 1) for k in range(1, n + 1) for c in "ab"))
    return "\n".join(rows) + "\n"


@pytest.mark.parametrize("tier", ["interpreter", "compiled"])
def test_a_data_array_of_several_equations_stays_dense(tmp_path, monkeypatch, tier):
    """By hand: :INTERPOLATE: (the default) is linear between points, :HOLD BACKWARD: the
    point at or before t, :RAW: the point's value at its time and :NA: between; each holds
    its last point after t = 4; TIME SHIFT reads lv[r2,b] at t + 1."""
    n = 3
    (tmp_path / "series.tab").write_text(_several_tab(n))
    model, dense, _, flat = _both_routes(tmp_path, monkeypatch, SEVERAL.format(n=n), tier, mixed=True)
    arrays = model.schedule.model.variables.arrays
    assert all(arrays[v].dims == ("r", "c") for v in ("lv", "lr", "y"))
    _assert_same(dense, flat)
    if tier == "compiled":
        np.testing.assert_array_equal(model.run(tier="interpreter").values, dense.values)
    t = dense.time
    for k in range(1, n + 1):
        np.testing.assert_array_equal(dense[f"lv[r{k},a]"], k * (np.minimum(t, 4) + 1))
        np.testing.assert_array_equal(dense[f"lv[r{k},b]"], 10 * k * (np.minimum(t - t % 2, 4) + 1))
        np.testing.assert_array_equal(dense[f"y[r{k},b]"], 20 * k * (np.minimum(t - t % 2, 4) + 1))
        np.testing.assert_array_equal(dense[f"lr[r{k},a]"], np.where(t % 2 == 0, k * (t + 1), ir.NA_VALUE))
    np.testing.assert_array_equal(dense["shifted"], 20 * (np.minimum(t + 1 - (t + 1) % 2, 4) + 1))


def test_a_data_array_of_several_equations_does_not_grow_the_kernel(tmp_path, monkeypatch):
    monkeypatch.setenv("SMARTSPEC_CACHE_DIR", str(tmp_path / "cache"))
    kernels = []
    for n in (10, 1000):
        folder = tmp_path / f"n{n}"
        folder.mkdir()
        (folder / "series.tab").write_text(_several_tab(n))
        model, run = _load(folder, SEVERAL.format(n=n), "m.mdl", "interpreter")
        assert run[f"y[r{n},a]"][1] == 2 * n * 2
        kernels.append(model.kernel.source)
    assert kernels[0].count("\n") == kernels[1].count("\n")
    assert len(_without_tables(kernels[1])) < 1.1 * len(_without_tables(kernels[0]))


# data equations over arrays: reading a data array from a file (points at t = 0, 2, 4, the
# same for every element: derived once for the array) and an array of numbers, another data
# equation; one that reads an ordinary array (no points: computed at every time)
DATA_EQUATIONS = """
R: (r1-r{n}) ~~|
Low: r1, r2 ~~|
level[R] ~~|
c[Low] = 1, 2 ~~|
c[R] :EXCEPT: [Low] = {last} ~~|
x[R] = R * Time ~~|
held[R] :HOLD BACKWARD: := level[R] + c[R] ~~|
twice[R] := held[R] * 2 ~~|
ordinary[R] := x[R] * 2 ~~|
INITIAL TIME = 0 ~~| FINAL TIME = 6 ~~| TIME STEP = 0.5 ~~| SAVEPER = 0.5 ~~|
"""


@pytest.mark.parametrize("tier", ["interpreter", "compiled"])
def test_data_equations_over_arrays_stay_dense(tmp_path, monkeypatch, tier):
    """By hand (Vensim's help, "Data Equations"): held[rk] = level[rk] + k at the data's points
    (level[rk] = k (t + 1) at t = 0, 2, 4), held from the point at or before t (the last one
    after it); twice, at held's points, interpolated between them (:INTERPOLATE:); ordinary
    reads no data, so it is computed at every time."""
    from test_dense_elementwise import _data_csv
    n = 3
    (tmp_path / "level.csv").write_text(_data_csv(n))
    model, dense, _, flat = _both_routes(tmp_path, monkeypatch, DATA_EQUATIONS.format(n=n, last=3), tier, mixed=True)
    arrays = model.schedule.model.variables.arrays
    assert all(arrays[v].dims == ("r",) for v in ("held", "twice", "ordinary"))
    _assert_same(dense, flat)
    if tier == "compiled":
        np.testing.assert_array_equal(model.run(tier="interpreter").values, dense.values)
    t = dense.time
    for k in range(1, n + 1):
        held = k * (np.minimum(t - t % 2, 4) + 1) + k
        np.testing.assert_array_equal(dense[f"held[r{k}]"], held)
        at_points = lambda s: 2 * (k * (s + 1) + k)
        between = np.where(t >= 4, at_points(4), at_points(t - t % 2) + (t % 2) / 2 * (
            at_points(np.minimum(t - t % 2 + 2, 4)) - at_points(t - t % 2)))
        np.testing.assert_allclose(dense[f"twice[r{k}]"], between, rtol=1e-12)
        np.testing.assert_array_equal(dense[f"ordinary[r{k}]"], 2 * k * t)


def test_data_equation_kernels_do_not_grow_with_the_range(tmp_path, monkeypatch):
    from test_dense_elementwise import _data_csv
    monkeypatch.setenv("SMARTSPEC_CACHE_DIR", str(tmp_path / "cache"))
    kernels = []
    for n in (10, 1000):
        folder = tmp_path / f"n{n}"
        folder.mkdir()
        (folder / "level.csv").write_text(_data_csv(n))
        model, run = _load(folder, DATA_EQUATIONS.format(n=n, last=3), "m.mdl", "interpreter")
        assert model.schedule.model.variables.arrays["held"].dims == ("r",)
        assert run[f"held[r{n}]"][0] == n + 3   # level[rn] = n at t = 0, c[rn] = 3
        kernels.append(model.kernel.source)
    assert kernels[0].count("\n") == kernels[1].count("\n")
    assert len(_without_tables(kernels[1])) < 1.1 * len(_without_tables(kernels[0]))


def test_a_data_equation_reading_single_elements_of_dense_arrays(tmp_path, monkeypatch):
    """An element of an array of numbers, and of a range used as a number (`k[R] = R`), is a
    constant, a series of no points, on the dense route as on the per-element route: the data
    equation holds at its data's points. By hand: level[r1] = t + 1 at t = 0, 2, 4, so s =
    level[r1] at the point at or before t (the last after 4) + c[r2] (2) + k[r3] (3)."""
    from test_dense_elementwise import _data_csv
    (tmp_path / "level.csv").write_text(_data_csv(3))
    text = """
R: (r1-r3) ~~|
level[R] ~~|
c[R] = 1, 2, 3 ~~|
k[R] = R ~~|
s :HOLD BACKWARD: := level[r1] + c[r2] + k[r3] ~~|
INITIAL TIME = 0 ~~| FINAL TIME = 6 ~~| TIME STEP = 0.5 ~~| SAVEPER = 0.5 ~~|
"""
    _, dense, _, flat = _both_routes(tmp_path, monkeypatch, text, mixed=True)
    _assert_same(dense, flat)
    t = dense.time
    np.testing.assert_array_equal(dense["s"], np.minimum(t - t % 2, 4) + 1 + 5)
