"""The dense route's pieces (passes/dense_pieces.py): arrays defined piecewise, with :EXCEPT:,
over subranges, read through mappings (many-to-one, positional, both directions), with
per-element initial values and ranges used as values stay one array each. Every model runs
on the dense route and on the per-element route (subscripts.flatten, forced): the two agree to
1e-12 on the interpreter tier, the compiled kernel agrees with the interpreter, the values are
those of a hand derivation, and the kernel's text does not grow with the ranges' sizes."""
from __future__ import annotations

import numpy as np
import pytest

from smartspec_dsl.frontend.parse import parse_model
from smartspec_dsl.passes import pipeline
from smartspec_dsl.passes.dense import ineligible, partition

from test_dense_route import CONTROL, _assert_same, _both_routes, _load


def pieces_model(n: int) -> str:
    """Every construct over ranges of n elements (n even, at least 4): piecewise over
    subranges, :EXCEPT:, a positional mapping both ways, a many-to-one mapping, a transposition,
    piecewise stocks with per-element initial values, a range used as a value, SUM over the
    range and over a subrange."""
    h = n // 2
    return f"""
R: (r1-r{n}) ~~|
Low: (r1-r{h}) ~~|
High: (r{h + 1}-r{n}) ~~|
Lo: (r1-r{n - 1}) -> Hi ~~|
Hi: (r2-r{n}) -> Lo ~~|
Z: z1, z2 -> (R: Low, High) ~~|
C: c1, c2, c3 ~~|
x[R] = R ~~|
pw[Low] = x[Low] * 2 ~~|
pw[High] = x[High] + 1 ~~|
ex[R] :EXCEPT: [r1] = pw[R] - 1 ~~|
ex[r1] = pw[r1] * 50 ~~|
shifted[Lo] = x[Hi] ~~|
back[Hi] = shifted[Lo] ~~|
zt[Z] = 5, 7 ~~|
rt[R] = zt[Z] * 2 ~~|
m[R, C] = x[R] * C ~~|
tr[C, R] = m[R, C] ~~|
s[Low] = INTEG(ex[Low], 10) ~~|
s[High] = INTEG(1, x[High]) ~~|
val[High] = High * 10 + SUM(x[R!]) ~~|
low share[R] = x[R] / SUM(x[Low!]) ~~|
total = SUM(s[R!]) + SUM(tr[C!, R!]) + back[r{n}] + val[r{n}] ~~|
"""


def _final(result, name: str) -> float:
    return result.values[-1, result.columns.index(name)]


def test_every_construct_stays_dense_and_agrees(tmp_path, monkeypatch):
    text = pieces_model(10) + CONTROL
    assert ineligible(parse_model(text, "m.mdl")) is None
    lowered = pipeline.lower(parse_model(text, "m.mdl"))
    assert all(lowered.variables[v].dims for v in ("pw", "ex", "shifted", "back", "rt", "s", "val"))
    dense_model, dense, _, flat = _both_routes(tmp_path, monkeypatch, text)
    _assert_same(dense, flat)
    # the hand derivation, x[rk] = k, at FINAL TIME = 6 (the stocks' rates are constant)
    want = {"pw[r2]": 4, "pw[r7]": 8, "ex[r1]": 100, "ex[r3]": 5, "ex[r6]": 6, "shifted[r1]": 2,
            "shifted[r9]": 10, "back[r2]": 2, "back[r10]": 10, "rt[r5]": 10, "rt[r6]": 14,
            "tr[c3,r4]": 12, "val[r6]": 60 + 55, "s[r1]": 10 + 6 * 100, "s[r4]": 10 + 6 * 7,
            "s[r8]": 8 + 6, "low share[r3]": 3 / 15}
    for name, value in want.items():
        assert _final(dense, name) == pytest.approx(value, rel=1e-12), name
    # the compiled kernel runs what the interpreter runs
    np.testing.assert_allclose(dense_model.run(tier="compiled").values, dense.values, rtol=1e-12, atol=1e-12)


def test_kernel_text_does_not_grow_with_the_ranges(tmp_path, monkeypatch):
    monkeypatch.setenv("SMARTSPEC_CACHE_DIR", str(tmp_path / "cache"))
    small, _ = _load(tmp_path, pieces_model(10) + CONTROL, "small.mdl", "interpreter")
    large, run = _load(tmp_path, pieces_model(1000) + CONTROL, "large.mdl", "interpreter")
    assert large.kernel.source.count("\n") == small.kernel.source.count("\n")
    assert large.kernel.n_slots > 1000 * 10
    assert _final(run, "back[r1000]") == 1000 and _final(run, "ex[r600]") == 600


def test_the_mapping_example(tmp_path, monkeypatch):
    """Vensim's many-to-one mapping: each region reads the zone mapped onto it."""
    text = """
Zone: Z1, Z2 -> (Region: Coastal, R3) ~~|
Region: R1, R2, R3 ~~|
Coastal: R1, R2 ~~|
zone tax[Zone] = 5, 7 ~~|
region tax[Region] = zone tax[Zone] * 2 ~~|
""" + CONTROL
    assert pipeline.lower(parse_model(text, "m.mdl")).variables["region tax"].dims == ("region",)
    _, dense, _, flat = _both_routes(tmp_path, monkeypatch, text)
    _assert_same(dense, flat)
    assert [_final(dense, f"region tax[{r}]") for r in ("R1", "R2", "R3")] == [10, 10, 14]


@pytest.mark.parametrize("equations, flattened, want", [
    # elements that read each other: this array alone is flattened
    ("x[a1] = Time + 1 ~~|\nx[a2] = x[a1] + 1 ~~|\ny[A] = x[a2] * 10 ~~|", {"x"}, {"x[a2]": 8, "y[a1]": 80}),
    # two arrays that read each other's other elements: a loop of arrays, none of elements
    ("x[a1] = Time + 1 ~~|\nx[a2] = y[a1] ~~|\ny[A] = x[a1] + 1 ~~|", {"x"}, {"x[a2]": 8, "y[a2]": 8}),
    # a loop of arrays through an array flattened per element (a random draw in an array
    # equation), which no element closes: f[a1] = x[a1] + a draw, f[a2] another draw
    ("x[a1] = Time + 1 ~~|\nx[a2] = f[a1] ~~|\nf[A] = x[a1] + RANDOM UNIFORM(0, 1, 1) ~~|", {"x"}, {"x[a1]": 7}),
    # per-element initial values that read each other (s[a2]: 2 + the sum of 0.25 * (1 + t)
    # over the 24 steps, Euler's)
    ("s[a1] = INTEG(1, 1) ~~|\ns[a2] = INTEG(s[a1], s[a1] + 1) ~~|", {"s"}, {"s[a1]": 7, "s[a2]": 2 + 23.25}),
])
def test_elements_that_read_each_other(tmp_path, monkeypatch, equations, flattened, want):
    """An order of elements the whole array cannot follow flattens that array only, and is no
    algebraic loop."""
    text = "A: a1, a2 ~~|\n" + equations + CONTROL
    _, why = partition(parse_model(text, "m.mdl"))
    assert {n for n, r in why.items() if "order the whole array" in r} == flattened
    _, dense, _, flat = _both_routes(tmp_path, monkeypatch, text, mixed=True)
    _assert_same(dense, flat)
    for name, value in want.items():
        assert _final(dense, name) == pytest.approx(value, rel=1e-12), name
    if "f[a1]" in dense.columns:
        assert _final(dense, "x[a2]") == _final(dense, "f[a1]") != _final(dense, "f[a2]")


def test_params_and_continuation_by_element(tmp_path, monkeypatch):
    """A run's value for an element of a list of numbers (a parameter) and for a number among
    equations (which edits the model), and a run continued from the final state of piecewise
    stocks, give the per-element route's values."""
    text = pieces_model(6) + CONTROL
    dense_model, _, flat_model, _ = _both_routes(tmp_path, monkeypatch, text)
    params = {"zt[z2]": 9, "ex[r1]": 50}
    dense = dense_model.run(params=params, tier="interpreter")
    _assert_same(dense, flat_model.run(params=params, tier="interpreter"))
    assert _final(dense, "rt[r6]") == 18 and _final(dense, "s[r1]") == 10 + 6 * 50
    first_d = dense_model.run(tier="interpreter", final_time=3)
    first_f = flat_model.run(tier="interpreter", final_time=3)
    _assert_same(dense_model.run(tier="interpreter", initial_condition=first_d.final_state),
                 flat_model.run(tier="interpreter", initial_condition=first_f.final_state))


def test_an_order_read_from_an_element(tmp_path, monkeypatch):
    """A DELAY N or SMOOTH N order read from an element of a dense array (a list of numbers,
    a piece) is computed before the run, and a run's value for it changes the structure."""
    text = """
A: a1, a2 ~~|
p[A] = 2, 3 ~~|
o[a1] = 1 + 0 ~~|
o[a2] = 1 + 2 ~~|
inp = 5 + STEP(1, 1) ~~|
out = DELAY N(inp, 1, inp, p[a2]) + SMOOTH N(inp, 2, inp, o[a2]) ~~|
""" + CONTROL
    dense_model, dense, flat_model, flat = _both_routes(tmp_path, monkeypatch, text)
    _assert_same(dense, flat)
    other = dense_model.run(params={"p[a2]": 1}, tier="interpreter")
    _assert_same(other, flat_model.run(params={"p[a2]": 1}, tier="interpreter"))
    at = dense.columns.index("out")
    assert not np.allclose(other.values[:, at], dense.values[:, at])


def test_numbers_beside_equations_stay_the_modellers_constants(tmp_path, monkeypatch):
    """An array that gives some elements as numbers (alone or in a list) and others by
    equations stays one array: its numbers are constants by their own names, which a changes
    file, a run and a sweep set, and an element given by an equation is not one.
    total = 3 + 3 + 0 + 2t + 1 + 100 + 3 + 20t."""
    from smartspec_dsl import ModelError
    text = """
A: a1, a2, a3 ~~|
C: c1, c2 ~~|
Whole: A, C ~~|
g[A] = 3 ~~|
g[C] = Time ~~|
x[A] = 1, 2, 3 ~~|
x[C] = Time * 10 ~~|
total = SUM(g[Whole!]) + SUM(x[Whole!]) ~~|
""" + CONTROL
    dense_model, _, flat_model, _ = _both_routes(tmp_path, monkeypatch, text)
    assert dense_model.schedule.model.variables.arrays["g"].dims
    (tmp_path / "s.cin").write_text("g[a3] = 0\nx[a2] = 100\n")
    got = dense_model.run(changes=str(tmp_path / "s.cin"), tier="interpreter")
    _assert_same(got, flat_model.run(changes=str(tmp_path / "s.cin"), tier="interpreter"))
    np.testing.assert_allclose(got.values[:, got.columns.index("total")], 110 + 22 * got.time, rtol=1e-12)
    (tmp_path / "bad.cin").write_text("g[c1] = 5\n")
    with pytest.raises(ModelError, match=r"'g\[c1\]' is an? \w+, not a constant"):
        dense_model.run(changes=str(tmp_path / "bad.cin"), tier="interpreter")
    assert {"g[a1]", "x[a2]"} <= set(dense_model.constants) and not any("#" in c for c in dense_model.constants)
    batch = dense_model.run_batch(dense_model.parameter_matrix({"g[a1]": [1.0, 50.0]}), outputs=["total"],
                                  times="final")
    # at FINAL TIME = 6: g sums to 3 + 3 + 3 + 6 + 6, x to 1 + 2 + 3 + 60 + 60; g[a1] replaces a 3
    assert np.asarray(batch.values).ravel().tolist() == pytest.approx([144 + v for v in (1, 50)])


def test_a_warning_names_the_elements_own_equation(tmp_path, monkeypatch):
    """A warning about an element of an array kept in pieces is located at the equation that
    defines that element (line 3 here), not the array's first."""
    text = "R: r1, r2, r3 ~~|\nz[r1] = 1 + Time ~~|\nz[R] :EXCEPT: [r1] = 1 / (Time * 0) ~~|\n" + CONTROL
    _, got = _load(tmp_path, text, "w.mdl", "interpreter")
    said = " ".join(str(w) for w in got.warnings)
    assert "w.mdl:3:1: 'z'" in said and "w.mdl:2:1" not in said
