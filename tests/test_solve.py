"""SIMULTANEOUS and FIND ZERO: algebraic loops solved within the time step (passes/solve.py,
backend/kernel_solve.py), against values derived by hand, on both tiers (the compiled kernel
and the interpreter's tape give the same numbers bit for bit); a loop that cannot be solved
is NaN with a warning naming it; the modeller's mistakes are located errors.

Vensim's help ("Simultaneous Equations", SIMULTANEOUS, FIND ZERO): SIMULTANEOUS runs
"around the loop until nothing in the loop changes any more", from its initial value, and so
does smartspec, falling back on Newton's method where those passes do not settle (then the
loop's root is the expected value); where the loop has several roots the expected value is
the one the passes reach. FIND ZERO finds the x (its equation's variable, starting from xi)
that makes z zero within tol. The expected values are computed here by hand.

Each distinct model costs one Numba compile: the cases share two models."""
from __future__ import annotations

import math

import numpy as np
import pytest

import smartspec_dsl
from smartspec_dsl import ir
from smartspec_dsl.errors import AlgebraicLoop, ModelError

from conftest import equations, model_file

T = np.arange(0.0, 5.0)


def _eqs(*lines: str, final: int = 4) -> str:
    return equations(*lines, "INITIAL TIME = 0", f"FINAL TIME = {final}", "TIME STEP = 1", "SAVEPER = 1")


SOLVED = _eqs(
    # a loop of one variable: x = 10 - x / 2  ->  x = 20 / 3
    "x = SIMULTANEOUS(10 - x / 2, 1)",
    # x = 3 - 2x: running around the loop diverges (x -> 3 - 2x doubles the error), the root is 1
    "w = SIMULTANEOUS(3 - 2 * w, 0)",
    # a loop through two auxiliaries, moving with Time: y = a + b, a = 3 - y/4 + Time,
    # b = y^2/100, so y^2/100 - 1.25 y + 3 + Time = 0; from 0 the smaller root
    "y = SIMULTANEOUS(a + b, 0)",
    "a = 3 - y / 4 + Time",
    "b = y * y / 100",
    # two unknowns on one loop: p = 10 - q, q = p/4 + 1  ->  p = 7.2, q = 2.8
    "p = SIMULTANEOUS(10 - q, 0)",
    "q = SIMULTANEOUS(p / 4 + 1, 0)",
    # a lookup on the loop: on [0, 1] tbl(yt) = yt / 2, so xt = 0.35 + 0.05 (10 xt - 3): xt = 0.4,
    # yt = 1, within tbl's x range, which the first point tried (xt = 0: yt = -3) is not
    "tbl((0, 0), (1, 0.5), (2, 2))",
    "xt = SIMULTANEOUS(0.35 + 0.1 * tbl(yt), 0)",
    "yt = 10 * xt - 3",
    # a stock integrating a solved value, and one whose initial value is a solved (constant) loop
    "Total = INTEG(x, 0)",
    "Start = INTEG(1, s0)",
    "s0 = SIMULTANEOUS(20 - s0, 0)",
    # FIND ZERO on a quadratic: x^2 - 5x + 6 = (x - 2)(x - 3); Newton from 3.6 finds 3
    "root = FIND ZERO(1, zq, 1, 3.6, 1, 0, 1e-12, 50, 0)",
    "zq = root * root - 5 * root + 6",
    # FIND ZERO over a subscript, solved together: r1 + r2 = 3 + Time, r1 - r2 = 1
    "R: (r1-r2)",
    "v[R] = FIND ZERO(1, zv[R], 1, 1, ELMCOUNT(R), 0, 1e-12, 50, 0)",
    "zv[r1] = v[r1] + v[r2] - 3 - Time",
    "zv[r2] = v[r1] - v[r2] - 1",
    # one loop per element (three solved blocks): s = 2 k / 3
    "Q: (q1-q3)",
    "kq[Q] = 3, 6, 9",
    "s[Q] = SIMULTANEOUS(kq[Q] - s[Q] / 2, 0)",
    # FIND ZERO's skip: a system homogeneous of degree 0 (only the price ratio matters) is
    # solved with the first price held at its initial value 1: price[g2] = 2
    "G: (g1-g2)",
    "price[G] = FIND ZERO(1, excess[G], 1, 1, ELMCOUNT(G), 1, 1e-12, 50, 0)",
    "excess[g1] = 2 - price[g2] / price[g1]",
    "excess[g2] = price[g2] / price[g1] - 2",
    # and n below the elements: h1, h2 solved (x^2 = 9 from 5: 3), h3 held at 5
    "H: (h1-h3)",
    "part[H] = FIND ZERO(1, zp[H], 1, 5, 2, 0, 1e-12, 50, 0)",
    "zp[H] = part[H] * part[H] - 9",
    # a loop per element through a second array variable, three elements (three solved
    # blocks): x = kq - y, y = x, so x = kq / 2
    "xa[Q] = SIMULTANEOUS(kq[Q] - ya[Q], 7)",
    "ya[Q] = 1 * xa[Q]",
    # FIND ZERO over three elements: x^2 = 4, 9, 16 from 1
    "sq[Q] = 4, 9, 16",
    "fz[Q] = FIND ZERO(1, zf[Q], 1, 1, ELMCOUNT(Q), 0, 1e-10, 50, 0)",
    "zf[Q] = fz[Q] * fz[Q] - sq[Q]",
    # two roots, 1 and 3 (x^2 - 4x + 3 = 0): running around the loop from 2.9 (Vensim's way)
    # moves away from 3 (the pass x -> x^2/4 + 0.75 has slope 1.5 there) to 1 (slope 0.5)
    "two roots = SIMULTANEOUS(two roots * two roots / 4 + 0.75, 2.9)",
    # x = SQRT(x)/2 + 0.1 from 0.04: Newton's first step goes to -0.6, out of SQRT's domain;
    # the passes settle at SQRT(x) = (0.5 + SQRT(0.65)) / 4 ... squared, by hand below
    "root of sqrt = SIMULTANEOUS(0.5 * SQRT(root of sqrt) + 0.1, 0.04)",
    # loops whose passes shrink the change by only 0.98 and 0.999 (both x = 10): passes that
    # settle, and passes that do not within their limit, then Newton's method; both to the root
    # within 1e-9, not only to a residual of that size
    "slow = SIMULTANEOUS(0.98 * slow + 0.2, 0)",
    "slower = SIMULTANEOUS(0.999 * slower + 0.01, 0)",
    # SIMULTANEOUS on no loop is its expression
    "alone = SIMULTANEOUS(Time * 2, 5)",
    # INTERNAL RATE OF RETURN: 100 invested at time 0 (or 1), 60 a unit of time from time 0
    "cash = 60",
    "irr = INTERNAL RATE OF RETURN(cash, 1, -100, 0)",
    "irr two = INTERNAL RATE OF RETURN(cash, 2, -100, 0)",
    "irr late = INTERNAL RATE OF RETURN(cash, 1, -100, 1)",
    "irr none = INTERNAL RATE OF RETURN(cash, 1, 0, 0)",
    "irr plus = 1 + INTERNAL RATE OF RETURN(cash, 1, -100, 0)",
)


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    path = model_file(tmp_path_factory.mktemp("solve"), SOLVED)
    model = smartspec_dsl.load(path, tier="compiled")
    fast = model.run(tier="interpreter")
    assert fast.tier == "interpreter", model.interpreter_unsupported
    ref = model.run(tier="compiled")
    assert ref.tier == "compiled"
    return fast, ref, model


def _polynomial_rate(periods: int) -> float:
    """The rate of -100 + 60 (d + d^2 + ... + d^periods) = 0 by numpy's roots: the one
    positive real d."""
    coefficients = [60.0] * periods + [-100.0]   # d^periods ... d^1, d^0
    d = [x.real for x in np.roots(coefficients) if abs(x.imag) < 1e-12 and x.real > 0]
    assert len(d) == 1
    return 1 / d[0] - 1


def _rate(a, b, c):
    """The rate r of a + b d + c d^2 = 0, d = 1 / (1 + r), from the positive root d."""
    d = (-b + math.sqrt(b * b - 4 * a * c)) / (2 * c) if c else -a / b
    return 1 / d - 1


NA = ir.NA_VALUE
CASES = {
    "x": np.full(5, 20 / 3),
    "w": np.ones(5),
    "y": (1.25 - np.sqrt(1.25 ** 2 - 4 / 100 * (3 + T))) * 50,
    "p": np.full(5, 7.2),
    "q": np.full(5, 2.8),
    "xt": np.full(5, 0.4),
    "yt": np.ones(5),
    "Total": 20 / 3 * T,
    "Start": 10 + T,
    "s0": np.full(5, 10.0),
    "root": np.full(5, 3.0),
    "v[r1]": (4 + T) / 2,
    "v[r2]": (2 + T) / 2,
    "alone": 2 * T,
    "slow": np.full(5, 10.0),
    "slower": np.full(5, 10.0),
    "two roots": np.ones(5),
    # s = SQRT(x): s^2 - s/2 - 0.1 = 0, the positive root
    "root of sqrt": np.full(5, ((0.5 + math.sqrt(0.25 + 0.4)) / 2) ** 2),
    "price[g1]": np.ones(5),
    "price[g2]": np.full(5, 2.0),
    "part[h1]": np.full(5, 3.0),
    "part[h2]": np.full(5, 3.0),
    "part[h3]": np.full(5, 5.0),
    "xa[q1]": np.full(5, 1.5),
    "xa[q2]": np.full(5, 3.0),
    "xa[q3]": np.full(5, 4.5),
    "fz[q1]": np.full(5, 2.0),
    "fz[q2]": np.full(5, 3.0),
    "fz[q3]": np.full(5, 4.0),
    "s[q1]": np.full(5, 2.0),
    "s[q2]": np.full(5, 4.0),
    "s[q3]": np.full(5, 6.0),
    # by hand: a value at time t holds the flows of the steps before t; fiscal period k's flows
    # count at its end, discounted k + 1 periods; init at time it, (it - INITIAL TIME) / fisc.
    # fisc 1: -100 + 60 d = 0; -100 + 60 d + 60 d^2 = 0; then cubic and quartic (numpy's roots)
    "irr": [NA, _rate(-100, 60, 0), _rate(-100, 60, 60), *(_polynomial_rate(k) for k in (3, 4))],
    # fisc 2: the flows of times 0 and 1 make period 0, of 2 and 3 period 1
    "irr two": [NA, _rate(-100, 60, 0), _rate(-100, 120, 0), _rate(-100, 120, 60), _rate(-100, 120, 120)],
    # init at time 1, one period after the start: -100 d + 60 d (no rate: :NA:), -100 d + 60 d + 60 d^2;
    # then d (-40 + 60 d + 60 d^2): the rate 1.19 (and later 1.39) is above 1, out of the range
    # Vensim's help gives the result: :NA:
    "irr late": [NA, NA, 0.5, NA, NA],
    "irr none": np.full(5, NA),
}


@pytest.mark.parametrize("name", CASES)
def test_solved_values_against_hand_derivations(solved, name):
    # the passes around a loop stop once x is within 1e-12 x max(|x|, |initial value|) of the
    # fixed point, so every value the loop computes from it agrees with the root within 1e-9
    fast, ref, _ = solved
    np.testing.assert_allclose(ref[name], CASES[name], rtol=1e-9, atol=1e-12, err_msg=name)
    assert np.array_equal(fast[name], ref[name]), f"{name}: the tiers differ"


def test_rk4_solves_the_loop_at_every_evaluation(solved):
    """RK4 computes the auxiliaries four times a step: each time the block is solved; y
    follows Time, whose sub-step values the solver sees. (The block's code is the Euler
    run's, which both tiers run alike above; test_interpreter.py compares the tiers' RK4.)"""
    ref = solved[2].run(method="rk4", tier="interpreter")
    # x settles within the passes' precision (1e-12 relative) of 20/3, and so does its integral
    np.testing.assert_allclose(ref["Total"], 20 / 3 * T, rtol=1e-11)
    np.testing.assert_allclose(ref["y"], CASES["y"], rtol=1e-9)


def test_a_run_continues_through_solved_loops_and_the_rate_of_return(solved):
    """0 -> 4 in one go equals 0 -> 2, then 2 -> 4 from the final state, bit for bit: the
    loops are solved afresh from their initial values each time, and INTERNAL RATE OF
    RETURN's history (a buffer region laid out by the step's number) is in the state. On
    the interpreter: a continued run's stocks start from parameters, an edited model, whose
    compile would check nothing more (test_buffer_state.py continues compiled buffers)."""
    model, tier = solved[2], "interpreter"
    whole = model.run(tier=tier)
    state = model.run(tier=tier, until=2).final_state
    rest = model.run(tier=tier, initial_condition=state)
    np.testing.assert_array_equal(rest.values, whole.values[2:])


def test_a_rate_above_one_is_na(solved):
    """Vensim's help: the rate "will always be in the range of -1 to +1"; at time 3 the only
    root of irr late's -40 + 60 d + 60 d^2 is the rate 1.186 (by hand), so :NA:."""
    assert _rate(-40, 60, 60) == pytest.approx(1.18614066, rel=1e-8)
    assert solved[1]["irr late"][3] == NA


def test_irr_inside_an_expression(solved):
    """Vensim wants INTERNAL RATE OF RETURN alone on the right-hand side; smartspec also
    takes it inside an expression (its own hidden auxiliary, as DELAY FIXED)."""
    np.testing.assert_allclose(solved[1]["irr plus"][1:], 1 + np.array(CASES["irr"][1:]), rtol=1e-12)


def test_the_loop_holds_at_the_solution(solved):
    """Every member of a solved loop is consistent with the unknowns' final values; the
    points the solver tries on its way raise no warning (tbl's input is below its x range
    at the first one only)."""
    fast, ref = solved[:2]
    np.testing.assert_allclose(ref["a"], 3 - ref["y"] / 4 + T, rtol=1e-15)
    np.testing.assert_allclose(ref["b"], ref["y"] ** 2 / 100, rtol=1e-15)
    np.testing.assert_allclose(ref["zq"], 0.0, atol=1e-12)
    assert not ref.warnings and not fast.warnings, (ref.warnings, fast.warnings)


UNSOLVABLE = _eqs(
    # x = x^2 + c has no real root while c = 1 (x^2 - x + 1 > 0), the root 0 (and 1) from time 2
    "c = 1 - STEP(1, 2)",
    "x = SIMULTANEOUS(x * x + c, 0)",
    "twice = 2 * x",
    # what reads the loop's values is NaN because of it: a stock, a dense array; LN of a
    # negative number is NaN for another reason
    "total = INTEG(twice, 0)",
    "r : r1, r2",
    "spread[r] = twice + Time",
    "other = LN(Time - 3)",
    # a loop solved with a lookup's input out of its x range: x = 0.5 min(x, 2) + 2 = 3 (the
    # points tried on the way are within it)
    "edge((0, 0), (2, 2))",
    "far = SIMULTANEOUS(0.5 * edge(far) + 2, 0)",
)


def test_an_unsolved_loop_is_nan_with_a_located_warning(tmp_path):
    path = model_file(tmp_path, UNSOLVABLE)
    model = smartspec_dsl.load(path, tier="compiled")
    for tier in ("interpreter", "compiled"):
        r = model.run(tier=tier)
        assert r.tier == tier
        assert np.isnan(r["x"][:2]).all() and np.isnan(r["twice"][:2]).all(), tier
        np.testing.assert_allclose(r["x"][2:], 0.0, atol=1e-12)
        solve = [w for w in r.warnings if w.kind in ("unsolved", "solved")]
        assert [(w.kind, w.time) for w in solve] == [("unsolved", 0.0), ("solved", 2.0)], r.warnings
        # the loop's NaN is explained once, by the solver's warning, not as a floating-point error
        assert not [w for w in r.warnings if w.kind == "nan" and w.variable == "x"], r.warnings
        assert solve[0].message.startswith(f"{path}:7:1: "), solve[0].message
        assert "SIMULTANEOUS in the equation of 'x' did not solve its loop ('x') at time 0" in solve[0].message
        assert "solves its loop again from time 2" in solve[1].message
        nan = {w.variable: w for w in r.warnings if w.kind == "nan"}
        assert sorted(nan) == ["other", "spread", "total", "twice"], r.warnings
        for name, t, where in (("twice", 0, ""), ("total", 1, ""),
                               ("spread", 0, " in 2 of its elements ([r1], [r2])")):
            assert nan[name].time == t, nan[name]
            assert nan[name].message.endswith(
                f"'{name}' is NaN at time {t}{where}: it reads the loop ('x'), which SIMULTANEOUS in the "
                "equation of 'x' did not solve at time 0"), nan[name].message
        assert "a floating-point error" in nan["other"].message, nan["other"].message
        np.testing.assert_allclose(r["far"], 3.0, rtol=1e-9)
        [edge] = [w for w in r.warnings if w.kind == "lookup"]
        assert edge.message.endswith("the input of lookup 'edge' in the equation of 'far' goes above its x range "
                                     "[0, 2] at time 0"), edge.message


@pytest.mark.parametrize("lines,error,words", [
    # a loop with no SIMULTANEOUS stays an error, naming its variables
    (("a = b + 1", "b = a / 2"), AlgebraicLoop, ["algebraic loop", "a (defined at", "b (defined at"]),
    # a loop that passes outside the unknown: c <-> d never goes through x
    (("x = SIMULTANEOUS(c, 0)", "c = d + x", "d = c / 2"), AlgebraicLoop,
     ["no SIMULTANEOUS or FIND ZERO on the loop", "c (defined at", "d (defined at"]),
    # ... named alone, without the unknown that only waits on it
    (("x = SIMULTANEOUS(1 + 0.5 * y, 0)", "y = 0.5 * x + 0.1 * d", "d = 0.5 * y"), AlgebraicLoop,
     ["loop they form:\n  y (defined at", "d (defined at"]),
    # the initial value is computed before the loop is solved
    (("x = SIMULTANEOUS(10 - y, y)", "y = x / 2"), ModelError,
     [":2:5: argument 2 of SIMULTANEOUS in the equation of 'x' reads 'y'"]),
    # SIMULTANEOUS is a whole equation
    (("x = 1 + SIMULTANEOUS(10 - x / 2, 1)",), ModelError,
     [":2:9: SIMULTANEOUS must be the whole equation of 'x'"]),
    # FIND ZERO with z that does not depend on x
    (("x = FIND ZERO(1, z, 1, 0, 1, 0, 1e-6, 10, 0)", "z = Time - 1"), ModelError,
     ["FIND ZERO in the equation of 'x' has nothing to solve"]),
    # FIND ZERO's skip below n, n within the elements
    (("x = FIND ZERO(1, z, 1, 0, 1, 1, 1e-6, 10, 0)", "z = x - 1"), ModelError,
     [":2:5: FIND ZERO in the equation of 'x': n = 1 and skip = 1 must be whole numbers with 0 <= skip < n <= 1"]),
    (("x = SIMULTANEOUS(1)",), ModelError, ["SIMULTANEOUS takes 2 arguments, got 1"]),
])
def test_mistakes_are_located_errors(tmp_path, lines, error, words):
    path = model_file(tmp_path, _eqs(*lines))
    with pytest.raises(error) as info:
        smartspec_dsl.load(path, tier="interpreter").run()
    message = str(info.value)
    assert str(path) in message.split(":")[0] or message.startswith(str(path)), message
    for w in words:
        assert w in message, message
    assert "#" not in message and "@" not in message, message


def _drive(f, guess):
    """Runs kernel_solve.solve_more on one SIMULTANEOUS unknown x = f(x) from `guess`, as the
    generated code does (solved_block: state reset, P, A, Q, M, S; then R = f(P) - P per
    point): the unknown's value, the points computed and whether Newton's method took over."""
    from smartspec_dsl.backend.kernel_solve import solve_more
    from smartspec_dsl.backend.solve_layout import MAX_ITERATIONS, TOLERANCE, field, size
    v = np.zeros(size(1) + 1)
    b = 1
    v[b + 3] = 1.0                                   # a block of SIMULTANEOUS alone: passes first
    for name, value in (("P", guess), ("A", 0.0), ("Q", TOLERANCE), ("M", MAX_ITERATIONS), ("S", guess)):
        v[field(b, 1, name, 0)] = value
    points = 0
    while solve_more(v, b, 1):
        points += 1
        x = v[field(b, 1, "P", 0)]
        v[field(b, 1, "R", 0)] = f(x) - x
    return v[field(b, 1, "P", 0)], points, v[b + 3] == 2.0


@pytest.mark.parametrize("f,guess,root", [
    (lambda x: 5.0 - x, 1.0, 2.5),                  # the passes cycle: 1, 4, 1, 4, ...
    (lambda x: 3.0 - 2.0 * x, 0.0, 1.0),            # the passes diverge (gain -2)
    (lambda x: 0.999 * x + 0.01, 0.0, 10.0),        # they shrink, by 0.999: ~20,000 passes to settle
])
def test_passes_that_cannot_settle_give_way_to_newton_at_once(f, guess, root):
    """Passes that do not shrink fast enough to settle within MAX_PASSES hand over to Newton's
    method after JUDGE_AFTER passes, not after MAX_PASSES at every evaluation (which made a
    run of Vensim's phone-call example 150 times slower); the root as derived by hand."""
    from smartspec_dsl.backend.kernel_solve import JUDGE_AFTER
    x, points, newton = _drive(f, guess)
    assert newton
    assert x == pytest.approx(root, rel=1e-9)
    assert points <= JUDGE_AFTER + 2 + 3 * 10        # the passes, then a few Newton iterations (2 points each)


def test_passes_that_settle_stay_passes():
    """x = x^2/4 + 0.75 from 2.9: the passes reach the stable root 1 (Vensim's), which Newton's
    method from 2.9 would not (it finds 3)."""
    x, _, newton = _drive(lambda x: x * x / 4 + 0.75, 2.9)
    assert not newton and x == pytest.approx(1.0, rel=1e-9)


def test_a_root_at_a_bound_is_within_it(tmp_path):
    """x = 0.35 + 0.1 tbl(10x - 3) with tbl(y) = y/2 on [0, 1]: x = 0.35 + 0.05 (10x - 3),
    x = 0.4, y = 1 -- the lookup's last x -- and w = 10x - 4 = 0, its declared range's bound.
    The solve lands within its tolerance of them (y = 0.9999999999963616 from the guess 0),
    on either side: neither is outside its range. A value beyond its bound by more than the
    solve's tolerance (v = w - 0.001) is still reported."""
    path = tmp_path / "root.mdl"
    path.write_text("tbl((0,0),(1,0.5)) ~~|\nx = SIMULTANEOUS(0.35 + 0.1 * tbl(y), 0) ~~|\ny = 10 * x - 3 ~~|\n"
                    "w = 10 * x - 4 ~ Dmnl [0, 1] ~|\nv = w - 0.001 ~ Dmnl [0, 1] ~|\nu = 1 + w ~ Dmnl [0, 1] ~|\n"
                    "INITIAL TIME = 0 ~~|\nFINAL TIME = 1 ~~|\nTIME STEP = 1 ~~|\nSAVEPER = 1 ~~|\n")
    r = smartspec_dsl.load(path, tier="interpreter").run(tier="interpreter")
    np.testing.assert_allclose(r["y"], 1.0, rtol=1e-9)
    assert [(w.kind, w.variable, w.time) for w in r.warnings] == [("range", "v", 0.0)], r.warnings
    assert r.warnings[0].message.endswith("'v' goes below the range [0, 1] its units declare at time 0")
