"""What the dense route still leaves per element is written without re-rolling the generated
text: the specialised Euler driver's stock updates are loops by construction, and a run that
replaces equations flattens only the arrays whose elements it replaces. Numbers from hand
derivations; both tiers."""
from __future__ import annotations

import numpy as np
import pytest

from smartspec_dsl.backend import driver

from test_dense_route import CONTROL, _assert_same, _both_routes, _load


def decays(n: int) -> str:
    """n scalar stocks, s k decaying at rate 1/(k + 1), and a value held by SAMPLE IF TRUE (a
    discrete stock)."""
    stocks = "".join(f"s{k} = INTEG(-s{k} / {k + 1}, {k + 1}) ~~|\n" for k in range(n))
    return stocks + "held = SAMPLE IF TRUE(Time = 1, s0, 0) ~~|\n" + CONTROL


@pytest.mark.parametrize("tier", ["interpreter", "compiled"])
def test_the_euler_drivers_stock_updates(tmp_path, monkeypatch, tier):
    """More stocks than one chunk of statements holds: the rates live in the slots and the
    driver updates the stocks in one loop per kind. Euler's s_k(t) = (k + 1)(1 - dt / (k + 1))^(t / dt)."""
    monkeypatch.setenv("SMARTSPEC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(driver, "CHUNK", 4)
    model, run = _load(tmp_path, decays(12), "decay.mdl", tier)
    assert "for q in range(12):" in model.kernel.source
    steps = run.time / 0.25
    for k in (0, 5, 11):
        want = (k + 1) * (1 - 0.25 / (k + 1)) ** steps
        np.testing.assert_allclose(run.values[:, run.columns.index(f"s{k}")], want, rtol=1e-12)
    # held from the step at Time = 1 on: s0 there, 0.75^4
    held = run.values[:, run.columns.index("held")]
    np.testing.assert_allclose(held[run.time >= 1], 0.75 ** 4, rtol=1e-12)


def edited(n: int) -> str:
    """Arrays over n regions that a run edits: `rate` (an auxiliary, one element replaced),
    `pace` (a scalar auxiliary replaced), `noisy` (one element replaced by a time series) and
    `far`, which reads none of them."""
    return f"""
R: (r1-r{n}) ~~|
pace = 1 + Time ~~|
rate[R] = 0.01 * R ~~|
pop[R] = INTEG(pop[R] * rate[R], 100) ~~|
paced[R] = pace * R ~~|
far[R] = R * Time ~~|
noisy[R] = RANDOM UNIFORM(0, 1, 0) ~~|
total = SUM(pop[R!]) + SUM(paced[R!]) ~~|
""" + CONTROL


@pytest.mark.parametrize("tier", ["interpreter", "compiled"])
def test_a_run_that_replaces_equations_flattens_only_what_it_must(tmp_path, monkeypatch, tier):
    """A run that replaces the scalar `pace`, or the element rate[r3] (a number beside the
    array's equation, a parameter of the edited model), flattens nothing: the kernel has the
    same length at 10 and 1,000 regions. One that replaces noisy[r2] by a time series
    flattens `noisy` alone.
    Values by hand: paced[rk] = 2k, pop[r3] grows by (1 + 0.25 * 0.5) a step."""
    monkeypatch.setenv("SMARTSPEC_CACHE_DIR", str(tmp_path / "cache"))
    small, _ = _load(tmp_path, edited(10), "small.mdl", tier)
    large, _ = _load(tmp_path, edited(1000), "large.mdl", tier)
    for params in ({"pace": 2}, {"rate[r3]": 0.5}):
        kernels = [m.edited(*_edits(m, params)).kernel for m in (small, large)]
        assert kernels[0].source.count("\n") == kernels[1].source.count("\n"), params
    for m, n in zip((small, large), (10, 1000)):
        run = m.run(params={"pace": 2}, tier=tier)
        assert run.values[-1, run.columns.index(f"paced[r{n}]")] == 2 * n
    before = len(small._edited)
    runs = [small.run(params={"rate[r3]": r}, tier=tier) for r in (0.5, 0.2)]
    assert len(small._edited) == before       # the edited model above, for every value of rate[r3]
    steps = runs[0].time / 0.25
    for run, r in zip(runs, (0.5, 0.2)):
        np.testing.assert_allclose(run["pop[r3]"], 100 * (1 + 0.25 * r) ** steps, rtol=1e-12)
        np.testing.assert_allclose(run["pop[r4]"], 100 * 1.01 ** steps, rtol=1e-12)
    lowered = small.edited(*_edits(small, {"noisy[r2]": 0.5})).schedule.model.variables
    assert lowered.arrays["noisy"].dims == ("r",)
    pd = pytest.importorskip("pandas")
    series = pd.Series([0.0, 6.0], index=[0.0, 6.0])
    lowered = small.edited(*_edits(small, {"noisy[r2]": series})).schedule.model.variables
    assert "noisy[r2]" in lowered.arrays and lowered.arrays["far"].dims == ("r",)
    assert lowered.arrays["pop"].dims == ("r",)
    run = small.run(params={"noisy[r2]": series}, tier=tier)
    np.testing.assert_allclose(run["noisy[r2]"], run.time, rtol=1e-12)


def _edits(model, params):
    """The edits a run with `params` makes, and the values the edited model is compiled with."""
    from smartspec_dsl.runtime import params as params_mod
    plan = params_mod.resolve(model.names, params)
    return plan.edits, plan.constants


def partial(n: int) -> str:
    """`part` is defined for the elements of Low and for r<n>, which no range lists; `two`
    for two elements of R by every element of C."""
    h = n // 2
    return f"""
R: (r1-r{n}) ~~|
Low: (r1-r{h}) ~~|
C: c1, c2, c3 ~~|
x[R] = R ~~|
part[Low] = x[Low] * 2 + Time ~~|
part[r{n}] = x[r1] * 3 + Time * Time ~~|
two[r2, C] = part[r2] * C ~~|
two[r{n}, C] = part[r{n}] * 10 ~~|
reader[Low] = part[Low] + part[r{n}] + two[r2, c1] ~~|
""" + CONTROL


@pytest.mark.parametrize("tier", ["interpreter", "compiled"])
def test_partial_definitions_stay_arrays(tmp_path, monkeypatch, tier):
    """A variable defined for elements no range lists stays one array over those elements:
    the per-element route's values and columns, a kernel of the same length at 10 and 1,000
    elements. By hand: part[r<k>] = 2k + t (k <= n / 2), part[r<n>] = 3 + t^2."""
    dense_model, dense, _, flat = _both_routes(tmp_path, monkeypatch, partial(10), tier)
    _assert_same(dense, flat)
    assert dense_model.schedule.model.variables.arrays["part"].dims
    t = dense.time
    np.testing.assert_allclose(dense["part[r10]"], 3 + t ** 2, rtol=1e-12)
    np.testing.assert_allclose(dense["two[r10,c3]"], 30 + 10 * t ** 2, rtol=1e-12)
    np.testing.assert_allclose(dense["reader[r3]"], 6 + t + 3 + t ** 2 + 4 + t, rtol=1e-12)
    assert "part[r7]" not in dense.columns and "two[r3,c2]" not in dense.columns
    if tier == "interpreter":
        large, _ = _load(tmp_path, partial(1000), "large.mdl", tier)
        assert large.kernel.source.count("\n") == dense_model.kernel.source.count("\n")


def numbers(n: int) -> str:
    """Numbers beside equations: one element (`x[r1]`) and a subrange (`y[Low]`) given as
    numbers, the others by equations."""
    h = n // 2
    return f"""
R: (r1-r{n}) ~~|
Low: (r1-r{h}) ~~|
High: (r{h + 1}-r{n}) ~~|
x[r1] = 0.05 ~~|
x[R] :EXCEPT: [r1] = 0.01 * R + Time / 100 ~~|
y[Low] = 3 ~~|
y[High] = x[High] * 2 ~~|
total = SUM(x[R!]) + SUM(y[R!]) ~~|
""" + CONTROL


@pytest.mark.parametrize("tier", ["interpreter", "compiled"])
def test_numbers_beside_equations_stay_in_their_array(tmp_path, monkeypatch, tier):
    """Each number stays the modeller's constant by its element's name (a parameter a run sets
    without recompiling), the array one array: the per-element route's values, a kernel of the
    same length at 10 and 1,000 elements. By hand at 10: x[r1] = 0.05, x[rk] = 0.01k + t/100,
    y = 3 on r1..r5 and 2 x beside."""
    dense_model, dense, flat_model, flat = _both_routes(tmp_path, monkeypatch, numbers(10), tier)
    _assert_same(dense, flat)
    assert dense_model.schedule.model.variables.arrays["y"].dims
    t = dense.time
    x = [0.05] + [0.01 * k + t / 100 for k in range(2, 11)]
    np.testing.assert_allclose(dense["total"], sum(x) + 15 + 2 * sum(x[5:]), rtol=1e-12)
    constants = dense_model.constants
    assert constants["x[r1]"] == 0.05 and constants["y[r5]"] == 3
    assert "x[r2]" not in constants and "y[r6]" not in constants and not any("@" in c for c in constants)
    params = {"x[r1]": 0.5, "y[r2]": 10}
    got = dense_model.run(params=params, tier=tier)
    _assert_same(got, flat_model.run(params=params, tier=tier))
    assert not dense_model._edited      # parameters, not edits
    np.testing.assert_allclose(got["total"], dense["total"] + 0.45 + 7, rtol=1e-12)
    if tier == "interpreter":
        large, _ = _load(tmp_path, numbers(1000), "large.mdl", tier)
        assert large.kernel.source.count("\n") == dense_model.kernel.source.count("\n")


def drawn_pieces(n: int) -> str:
    return f"""
R: (r1-r{n}) ~~|
x[R] = R ~~|
p[R] :EXCEPT: [r1] = RANDOM UNIFORM(0, 1, 0) * x[R] ~~|
p[r1] = RANDOM NORMAL(-1, 1, 0, 1, 0) + RANDOM UNIFORM(0, 1, 0) ~~|
""" + CONTROL


def test_random_draws_in_pieces_stay_in_their_array(tmp_path, monkeypatch):
    """An array drawing numbers in its pieces stays one array (its draws numbered as the
    per-element route numbers them: tests/test_dense_route.py compares the two to the bit):
    the kernel has the same length at 10 and 1,000 elements, each element's draw in [0, k)."""
    dense_model, dense, _, flat = _both_routes(tmp_path, monkeypatch, drawn_pieces(10))
    np.testing.assert_array_equal(dense.values, flat.values[:, [flat.columns.index(c) for c in dense.columns]])
    assert dense_model.schedule.model.variables.arrays["p"].dims
    large, run = _load(tmp_path, drawn_pieces(1000), "large.mdl", "interpreter")
    assert large.kernel.source.count("\n") == dense_model.kernel.source.count("\n")
    draws = np.array([run[f"p[r{k}]"] for k in range(2, 1001)])
    assert (draws >= 0).all() and (draws < np.arange(2, 1001)[:, None]).all() and draws.std() > 1


ORDERS_CONTROL = "INITIAL TIME = 0 ~~| FINAL TIME = 20 ~~| TIME STEP = 1 ~~| SAVEPER = 1 ~~|\n"


def orders(n: int) -> str:
    """DELAY N and SMOOTH N whose orders differ between the elements of A (DELAY N's is lowered
    to delay / TIME STEP: 6, 3 and 2), over A by a range C of n elements."""
    return f"""
A: a1, a2, a3 ~~|
C: (c1-c{n}) ~~|
delay[A] = 10, 3, 2 ~~|
order[A] = 1, 2, 3 ~~|
inflow[A, C] = STEP(10, 5) * C ~~|
out[A, C] = DELAY N(inflow[A, C], delay[A], 10, 6) ~~|
sm[A, C] = SMOOTH N(inflow[A, C], 4, 0, order[A]) ~~|
total = SUM(out[A!, C!]) + SUM(sm[A!, C!]) ~~|
""" + ORDERS_CONTROL


@pytest.mark.parametrize("tier", ["interpreter", "compiled"])
def test_orders_that_differ_between_elements_split_only_their_range(tmp_path, monkeypatch, tier):
    """The arrays are split along A alone: the per-element route's values (its own order per
    element, tests/test_conformance.py's subscripted_delays checks those against Vensim), a
    kernel of the same length whether C has 10 or 1,000 elements, and a run that changes an
    order (delay[a3] = 1: DELAY N of order 1 there) runs the structure it decides."""
    dense_model, dense, flat_model, flat = _both_routes(tmp_path, monkeypatch, orders(10), tier)
    _assert_same(dense, flat)
    variables = dense_model.schedule.model.variables.arrays
    assert variables["out #order1"].dims == ("c",) and variables["out"].dims == ("a", "c")
    if tier == "interpreter":
        params = {"delay[a3]": 1}
        changed = dense_model.run(params=params, tier=tier)
        _assert_same(changed, flat_model.run(params=params, tier=tier))
        # an order of 1 with a delay of one TIME STEP: the output is the step's input one step
        # late (20 from t = 5 on), after its initial value 10
        np.testing.assert_array_equal(changed["out[a3,c2]"][:8], [10, 0, 0, 0, 0, 0, 20, 20])
        large, _ = _load(tmp_path, orders(1000), "large.mdl", tier)
        assert large.kernel.source.count("\n") == dense_model.kernel.source.count("\n")
        # every range deciding: the array is split into scalars (review finding 10's model)
        one = "R: r1, r2, r3, r4 ~~|\nord[R] = 1, 3, 2, 3 ~~|\ninp[R] = STEP(R * 10, 1) + Time ~~|\n" \
              "sn[R] = SMOOTH N(inp[R], 2, inp[R], ord[R]) ~~|\n" + ORDERS_CONTROL
        _, dense, _, flat = _both_routes(tmp_path, monkeypatch, one, tier)
        _assert_same(dense, flat)
        # order 1, smoothing time 2, TIME STEP 1: 0, 0, then + (11 - 0) / 2, + (12 - 5.5) / 2
        np.testing.assert_array_equal(dense["sn[r1]"][:4], [0, 0, 5.5, 8.75])


def test_a_state_continued_by_a_run_that_changes_its_memory(tmp_path, monkeypatch):
    """Continuing a saved state with a run that replaces an element of an array with memory
    continues from the state (the replaced element's hidden stocks are left out of it), never
    an internal KeyError; an element set to a constant beside equations continues (review
    finding 14's model: s[a1] grows by sm + dl, x[a2] = 3 from t = 2 on)."""
    text = ("R: a1, a2, a3 ~~|\nx[R] = R * Time ~~|\nsm[R] = SMOOTH3(x[R], 2) ~~|\ndl[R] = DELAY3(x[R], 1) ~~|\n"
            "s[R] = INTEG(sm[R] + dl[R], 0) ~~|\n" + CONTROL)
    monkeypatch.setenv("SMARTSPEC_CACHE_DIR", str(tmp_path / "cache"))
    model, _ = _load(tmp_path, text, "m.mdl", "interpreter")
    first = model.run(final_time=2, tier="interpreter")
    replaced = model.run(params={"sm[a1]": 3.0}, initial_condition=first.final_state, saveper=0.25,
                         tier="interpreter")
    # the stocks start where the state left them; s[a1] then grows by sm[a1] = 3 plus dl[a1]
    assert replaced.time[0] == 2 and replaced["s[a1]"][0] == first["s[a1]"][-1]
    assert replaced["s[a2]"][0] == first["s[a2]"][-1] and (replaced["sm[a1]"] == 3.0).all()
    step = replaced.time[1] - replaced.time[0]
    assert replaced["s[a1]"][1] == pytest.approx(replaced["s[a1]"][0] + step * (3.0 + replaced["dl[a1]"][0]),
                                                 rel=1e-12)
    went_on = model.run(params={"x[a2]": 3.0}, initial_condition=first.final_state, tier="interpreter")
    whole = model.run(params={"x[a2]": 3.0}, tier="interpreter")
    assert went_on.time[0] == 2 and went_on["s[a1]"][-1] == pytest.approx(whole["s[a1]"][-1], rel=1e-12)


def test_a_partial_definition_takes_one_value_per_element_it_has(tmp_path, monkeypatch):
    """x is defined for a1 and a3 of R (review finding 12's model): a list of values for x
    gives one per element it has, two; three are refused. s' = x[a1] + x[a3] = 1 + 5."""
    from smartspec_dsl.errors import ParameterError
    text = "R: a1, a2, a3 ~~|\nx[a1] = 1 ~~|\nx[a3] = Time ~~|\ns = INTEG(x[a1] + x[a3], 0) ~~|\n" + CONTROL
    monkeypatch.setenv("SMARTSPEC_CACHE_DIR", str(tmp_path / "cache"))
    model, _ = _load(tmp_path, text, "m.mdl", "interpreter")
    run = model.run(params={"x": [1, 5]}, tier="interpreter")
    np.testing.assert_allclose(run["s"], 6 * run.time, rtol=1e-12)
    with pytest.raises(ParameterError, match="has 2"):
        model.run(params={"x": [1, 2, 3]}, tier="interpreter")
