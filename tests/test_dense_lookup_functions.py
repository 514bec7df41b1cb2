"""Every function whose first argument is a lookup's name (the registry's TAKES_LOOKUP: LOOKUP
AREA, SLOPE, INVERT, FORWARD, BACKWARD, EXTRAPOLATE, RANDOM LOOKUP, and any added later) of a
lookup defined per element reads, on the dense route, the table of the element it is at:
in an apply-to-all equation, through a subrange, through a mapping, in a piece of a piecewise
array over the lookup's range and over a mapped one, and of a lookup over two ranges (at both
of the array's ranges, in the other order, at a fixed element). The dense route gives the
per-element route's numbers on both tiers, and both give the values derived here by hand.

The tables: element q's is the straight line y = q * (1 + (x - 10 q)) through its three
points at x = 10 q, 10 q + 5, 10 q + 10 (q = k for tbl[r_k]; q = k + N (m - 1) for
tbl2[r_k, c_m]), read at x = 10 q + u, u = Time + 1/2, between its points. So (Vensim's help
for each function): LOOKUP EXTRAPOLATE gives q (1 + u); LOOKUP INVERT of y = q (1 + u) gives
10 q + u; LOOKUP AREA from 10 q to x gives q (u + u^2 / 2); LOOKUP SLOPE q; LOOKUP FORWARD the
y of the next point at or after x (6 q for u < 5); LOOKUP BACKWARD the last one at or before
it (q for u < 5); RANDOM LOOKUP, drawing from the table as a density, a number in [10 q,
10 q + 10]: another element's table draws outside that interval.
"""
from __future__ import annotations

import numpy as np
import pytest

from smartspec_dsl import ir
from smartspec_dsl.frontend.parse import parse_model
from smartspec_dsl.ir.builtins import BUILTINS, TAKES_LOOKUP
from smartspec_dsl.passes import pipeline

from test_dense_route import _assert_same, _both_routes

N = 5                     # elements of R and S; Sub = r2..r4; C has two
FUNCS = sorted(TAKES_LOOKUP)

# each function's arguments after the table: X the input x, Y the table's value there, L the
# table's first x (every element's own, read as the table is)
ARGS = {"LOOKUP FORWARD": "{X}", "LOOKUP BACKWARD": "{X}", "LOOKUP EXTRAPOLATE": "{X}",
        "LOOKUP INVERT": "{Y}", "LOOKUP AREA": "{L}, {X}", "LOOKUP SLOPE": "{X}, 1",
        "RANDOM LOOKUP": "0, 1e9, 0, 1, 0"}


def hand(func: str, q: int, u: np.ndarray) -> np.ndarray | tuple[float, float]:
    """The function's value at element q of the tables (see the module's doc), or the
    interval its draws lie in."""
    return {"LOOKUP FORWARD": lambda: np.where(u <= 5, 6.0 * q, 11.0 * q),
            "LOOKUP BACKWARD": lambda: np.where(u < 5, 1.0 * q, 6.0 * q),
            "LOOKUP EXTRAPOLATE": lambda: q * (1 + u),
            "LOOKUP INVERT": lambda: 10 * q + u,
            "LOOKUP AREA": lambda: q * (u + u ** 2 / 2),
            "LOOKUP SLOPE": lambda: np.full_like(u, float(q)),
            "RANDOM LOOKUP": lambda: (10.0 * q, 10.0 * q + 10)}[func]()


def _args(func: str) -> str:
    """A function's arguments after its table: ARGS', or for a function added to the registry
    later its input x and ones (which the routes must agree on; its hand value is asked for)."""
    if func in ARGS:
        return ARGS[func]
    least = BUILTINS[func].args[0] if BUILTINS[func].args else 2
    return ", ".join(["{X}"] + ["1"] * (least - 2))


# context: (left-hand side, the subscripts the call reads at, q of the left-hand side's element
# (its positions, 0-based) or None where the array's other equation gives 100)
CONTEXTS = {
    "plain": ("[R]", "[R]", lambda k: k + 1),
    "sub": ("[Sub]", "[Sub]", lambda k: k + 2),
    "mapped": ("[S]", "[R]", lambda k: k + 1),
    "piece": ("[R] :EXCEPT: [r1]", "[R]", lambda k: k + 1),
    "mapped piece": ("[S] :EXCEPT: [s1]", "[R]", lambda k: k + 1),
    "two": ("[R, C]", "[R, C]", lambda k, m: k + 1 + N * m),
    "swapped": ("[C, R]", "[R, C]", lambda m, k: k + 1 + N * m),
    "fixed": ("[R]", "[R, c2]", lambda k: k + 1 + N),
}
PIECES = {"piece": "[r1]", "mapped piece": "[s1]"}


def _name(context: str, j: int) -> str:
    return f"{context} f{j}"


def model_text() -> str:
    tables = [f"tbl[r{k}](({10 * k},{k}),({10 * k + 5},{6 * k}),({10 * k + 10},{11 * k})) ~~|"
              for k in range(1, N + 1)]
    for m in range(2):
        for k in range(1, N + 1):
            q = k + N * m
            tables.append(f"tbl2[r{k}, c{m + 1}](({10 * q},{q}),({10 * q + 5},{6 * q}),({10 * q + 10},{11 * q})) ~~|")
    lines = [f"R: (r1-r{N}) -> S ~~|", f"S: (s1-s{N}) -> R ~~|", f"Sub: (r2-r{N - 1}) ~~|", "C: c1, c2 ~~|",
             *tables,
             "q1[R] = R ~~|", f"q2[R, C] = R + {N} * (C - 1) ~~|",
             "lo1[R] = 10 * q1[R] ~~|", "x1[R] = lo1[R] + Time + 0.5 ~~|", "y1[R] = q1[R] * (1.5 + Time) ~~|",
             "lo2[R, C] = 10 * q2[R, C] ~~|", "x2[R, C] = lo2[R, C] + Time + 0.5 ~~|",
             "y2[R, C] = q2[R, C] * (1.5 + Time) ~~|",
             # over the subrange, its own arrays (what reads an array over R through Sub
             # flattens for another reason than the tables)
             f"qs[Sub] = {', '.join(str(k) for k in range(2, N))} ~~|", "los[Sub] = 10 * qs[Sub] ~~|",
             "xs[Sub] = los[Sub] + Time + 0.5 ~~|", "ys[Sub] = qs[Sub] * (1.5 + Time) ~~|"]
    for j, f in enumerate(FUNCS):
        for context, (lhs, at, _) in CONTEXTS.items():
            table, two = ("tbl2", "2") if "C" in at or "c2" in at else ("tbl", "s" if at == "[Sub]" else "1")
            args = _args(f).format(X=f"x{two}{at}", Y=f"y{two}{at}", L=f"lo{two}{at}")
            name = _name(context, j)
            if context in PIECES:
                lines.append(f"{name}{PIECES[context]} = 100 ~~|")
            lines.append(f"{name}{lhs} = {f}({table}{at}, {args}) ~~|")
    return "\n".join(lines) + "\nINITIAL TIME = 0 ~~| FINAL TIME = 4 ~~| TIME STEP = 1 ~~| SAVEPER = 1 ~~|\n"


def _elements(context: str):
    """(the left-hand side's element's subscripts, q) of each element of a context's array."""
    sub = [f"r{k}" for k in range(2, N)]
    r = [f"r{k}" for k in range(1, N + 1)]
    s = [f"s{k}" for k in range(1, N + 1)]
    q = CONTEXTS[context][2]
    if context in ("two", "swapped", "fixed"):
        if context == "fixed":
            return [(e, q(k)) for k, e in enumerate(r)]
        pairs = [(k, m) for k in range(N) for m in range(2)]
        if context == "two":
            return [(f"{r[k]},c{m + 1}", q(k, m)) for k, m in pairs]
        return [(f"c{m + 1},{r[k]}", q(m, k)) for k, m in pairs]
    names = {"sub": sub, "mapped": s, "mapped piece": s}.get(context, r)
    return [(e, None if e in ("r1", "s1") and context in PIECES else q(k)) for k, e in enumerate(names)]


def test_the_model_stays_dense():
    lowered = pipeline.lower(parse_model(model_text(), "m.mdl"))
    for j in range(len(FUNCS)):
        for context in CONTEXTS:
            assert lowered.variables[ir.canonical_name(_name(context, j))].dims, _name(context, j)
    assert not any("[" in v for v in lowered.variables if lowered.variables[v].kind is not ir.Kind.LOOKUP)


@pytest.mark.parametrize("tier", ["interpreter", "compiled"])
def test_functions_of_lookups_read_their_elements_table(tmp_path, monkeypatch, tier):
    _, dense, _, flat = _both_routes(tmp_path, monkeypatch, model_text(), tier)
    _assert_same(dense, flat)
    u = np.arange(5.0) + 0.5
    missing = []
    for j, f in enumerate(FUNCS):
        if f not in ARGS:
            missing.append(f)
            continue
        for context in CONTEXTS:
            for element, q in _elements(context):
                got = dense[f"{_name(context, j)}[{element}]"]
                where = f"{f} {context} [{element}]"
                if q is None:
                    np.testing.assert_array_equal(got, 100.0, err_msg=where)
                elif f == "RANDOM LOOKUP":
                    lo, hi = hand(f, q, u)
                    assert np.all((lo <= got) & (got <= hi)) and len(set(got)) > 1, (where, got)
                else:
                    np.testing.assert_allclose(got, hand(f, q, u), rtol=1e-12, err_msg=where)
    assert not missing, f"give these functions their arguments (ARGS) and hand values (hand): {missing}"


# a lookup defined per element read through a mapping, by a function of it through a mapping,
# and in a piece of an array over other ranges: what the dense route reads through a hidden
# lookup of copies of its tables (dense_lift.lift_lookups), which a run's new table for one
# element (params, a changes file) replaces as it replaces the lookup's own
COPIED = """
G: g1, g2, g3 -> K ~~|
K: k1, k2, k3 ~~|
T: t1, t2 ~~|
kt[k1]((0,0),(2,10)) ~~|
kt[k2]((0,1),(2,1)) ~~|
kt[k3]((0,2),(2,-2)) ~~|
mapped[G] = kt[K](Time) ~~|
area[G] = LOOKUP AREA(kt[K], 0, Time) ~~|
piece[t1, K] = kt[K](Time) ~~|
piece[t2, K] = 0 ~~|
own[K] = kt[K](Time) ~~|
INITIAL TIME = 0 ~~| FINAL TIME = 2 ~~| TIME STEP = 0.5 ~~| SAVEPER = 0.5 ~~|
"""


@pytest.mark.parametrize("tier", ["interpreter", "compiled"])
def test_copies_of_a_lookups_tables_follow_a_runs_tables(tmp_path, monkeypatch, tier):
    dense_model, dense, flat_model, flat = _both_routes(tmp_path, monkeypatch, COPIED, tier)
    _assert_same(dense, flat)
    cin = tmp_path / "t.cin"
    cin.write_text("kt[k2]((0,7),(2,7))\n")
    t = np.arange(5.0) / 2
    for model in (dense_model, flat_model):
        np.testing.assert_array_equal(model.run(tier=tier)["mapped[g2]"], 1.0)
        for run in (model.run(tier=tier, changes=str(cin)), model.run(tier=tier, params={"kt[k2]": ([0, 2], [7, 7])})):
            for c in ("mapped[g2]", "piece[t1,k2]", "own[k2]"):
                np.testing.assert_array_equal(run[c], 7.0, err_msg=c)
            np.testing.assert_allclose(run["area[g2]"], 7 * t, rtol=1e-12)
            # the other elements keep their tables: 5 t and 2 - 2 t (its area 2 t - t^2)
            np.testing.assert_allclose(run["mapped[g1]"], 5 * t, rtol=1e-12)
            np.testing.assert_allclose(run["piece[t1,k3]"], 2 - 2 * t, rtol=1e-12)
            np.testing.assert_allclose(run["area[g3]"], 2 * t - t ** 2, rtol=1e-12)


@pytest.mark.parametrize("tier", ["interpreter", "compiled"])
def test_a_lookup_warning_names_the_element_and_the_modellers_lookup(tmp_path, monkeypatch, tier):
    """The input of a lookup defined per element beyond its x range (Time * 3 > 2 from time 1) is
    said of the element whose equation reads it and of the lookup the modeller wrote, `kt[k2]`
    in the equation of `mapped[g2]` (the table it reads through the mapping), as the
    per-element route says it: through a mapping, in a piece of an array over other ranges, at
    the array's own element, and in the piece of an :EXCEPT: (elements k2 and k3 only). The
    dense route named the array (`mapped`) and the per-element route, of an array flattened
    after its copies were made, the copy (`kt[g2] (read by mapped)`)."""
    text = COPIED.replace("(Time)", "(Time * 3)").replace(
        "own[K] = ", "part[k1] = 0 ~~|\npart[K] :EXCEPT: [k1] = kt[K](Time * 3) ~~|\nown[K] = ")
    _, dense, _, flat = _both_routes(tmp_path, monkeypatch, text, tier)
    expected = sorted(
        [f"m.mdl:8:13: the input of lookup 'kt[k{k}]' in the equation of 'mapped[g{k}]'" for k in (1, 2, 3)]
        + [f"m.mdl:10:16: the input of lookup 'kt[k{k}]' in the equation of 'piece[t1,k{k}]'" for k in (1, 2, 3)]
        + [f"m.mdl:13:25: the input of lookup 'kt[k{k}]' in the equation of 'part[k{k}]'" for k in (2, 3)]
        + [f"m.mdl:14:10: the input of lookup 'kt[k{k}]' in the equation of 'own[k{k}]'" for k in (1, 2, 3)])
    for run, name in ((dense, "dense.mdl"), (flat, "flat.mdl")):
        said = sorted(w.message.replace(str(tmp_path / name), "m.mdl") for w in run.warnings if w.kind == "lookup")
        assert said == [m + " goes above its x range [0, 2] at time 1" for m in expected], said
