"""A random draw's stream is its own variable's: its call site is a function of its variable's
name, element and place in the equation (backend/sites.py), never of the other variables'
draws. So a run that replaces some equations (params on an auxiliary or an element, the
stepper's switch) or a model that has other variables draws every other number as before, to
the bit: a comparison of scenarios under one seed (common random numbers) sees the policy's
effect alone. The expected values are the runs without the edit, each asserted to draw."""
from __future__ import annotations

import numpy as np
import pytest

import smartspec_dsl
from smartspec_dsl.backend.sites import first_site, owner_of

from conftest import shared_path

CONTROL = "INITIAL TIME = 0 ~~| FINAL TIME = 4 ~~| TIME STEP = 0.5 ~~| SAVEPER = 0.5 ~~|\nG: g1, g2, g3 ~~|\n"
MACRO = """:MACRO: NOISY(m)
NOISY = INTEG((m + RANDOM UNIFORM(-1, 1, 0) + 0.5 * RANDOM NORMAL(-3, 3, 0, 1, 0) - NOISY) / 2, m) ~~|
:END OF MACRO:
"""
# each with its draws in its own equation, in the input of a SMOOTH, a DELAY3 (hidden stocks'
# rates), RANDOM PINK NOISE (a hidden copy) and a macro's copy; scalars, then arrays over G
SCALARS = {
    "a": "RANDOM UNIFORM(0, 1, 0) + RANDOM NORMAL(-2, 2, 0, 1, 0)",
    "b": "SMOOTH(RANDOM UNIFORM(0, 1, 0), 1)",
    "c": "DELAY3(RANDOM NORMAL(-2, 2, 0, 1, 0), 1)",
    "d": "RANDOM PINK NOISE(1, 0.5, 2, 0)",
    "e": "NOISY(5)",
}
ARRAYS = {f"{name}s[G]": expr for name, expr in SCALARS.items()}
ALL = {**SCALARS, **ARRAYS}
CONTROLS = {"INITIAL TIME", "FINAL TIME", "TIME STEP", "SAVEPER"}


def model_text(variables: dict[str, str]) -> str:
    return MACRO + "".join(f"{name} = {expr} ~~|\n" for name, expr in variables.items()) + CONTROL


def load(tmp_path, text: str, name: str = "m.mdl", tier: str = "interpreter"):
    path = tmp_path / name
    path.write_text(text)
    return smartspec_dsl.load(path, cache_dir=tmp_path / "cache", tier=tier)


def assert_kept(plain, other, replaced: set[str]):
    """Every column of `plain` but the `replaced` ones is `other`'s to the bit, and draws."""
    kept = [c for c in plain.columns if c not in replaced and c.upper() not in CONTROLS]
    assert len(kept) == len(SCALARS) + 3 * len(ARRAYS) - len(replaced)
    for c in kept:
        assert len(set(plain[c][1:])) > 1, c      # a number drawn each step
        np.testing.assert_array_equal(other[c], plain[c], err_msg=c)


@pytest.fixture(scope="module")
def every_draw(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sites")
    model = load(tmp, model_text(ALL))
    return tmp, model, model.run(seed=7, tier="interpreter")


@pytest.mark.parametrize("replaced", list(SCALARS) + ["as[g2]", "bs[g2]", "cs[g1]", "ds[g2]", "es[g2]", "es[g3]"])
def test_replacing_an_equation_keeps_every_other_variables_draws(every_draw, replaced):
    """params that replace a scalar's equation, or one element's of an array (which flattens
    that array: the elements' hidden SMOOTH and DELAY3 stocks, pink noise and macro copies
    left are the dense route's elements by name), leave the other variables' and the other
    elements' draws as they were (review finding 4: the sites of those sitting after the
    replaced ones in the model moved)."""
    _, model, plain = every_draw
    edited = model.run(seed=7, params={replaced: 0.0}, tier="interpreter")
    assert (edited[replaced] == 0).all()
    assert_kept(plain, edited, {replaced})


def test_other_variables_and_their_order_do_not_move_a_variables_draws(every_draw):
    """A variable draws the same numbers in a model of its own and in one where other
    variables, defined before or after it, draw too: written in the reverse order, or alone."""
    tmp, _, plain = every_draw
    reverse = load(tmp, model_text(dict(reversed(ALL.items()))), "reverse.mdl").run(seed=7, tier="interpreter")
    assert_kept(plain, reverse, set())
    for name in ("c", "es[G]"):
        alone = load(tmp, model_text({name: ALL[name]}), f"{name[0]}.mdl").run(seed=7, tier="interpreter")
        for col in (c for c in alone.columns if c.split("[")[0] == name.split("[")[0]):
            np.testing.assert_array_equal(alone[col], plain[col], err_msg=col)


def test_the_compiled_kernel_draws_the_interpreters_numbers_after_an_edit(every_draw):
    """The compiled tier numbers the sites as the interpreter's tape does (the sites are
    negative: no tape word that it relocates), with an element replaced too."""
    tmp, _, plain = every_draw
    model = load(tmp, model_text(ALL), "compiled.mdl", tier="compiled")
    np.testing.assert_array_equal(model.run(seed=7, tier="compiled").values, plain.values)
    edited = model.run(seed=7, params={"es[g2]": 0.0}, tier="compiled")
    assert_kept(plain, edited, {"es[g2]"})


def test_the_steppers_switch_keeps_the_other_variables_draws(tmp_path):
    """PySD's stepper: switching s to 0 at t = 2 gives the run of the model with that switch
    written in (review finding 4b: t's noise was drawn anew after the switch)."""
    pair = "t = SMOOTH(RANDOM UNIFORM(0, 1, 0), 1) ~~|\n" + CONTROL
    model = load(tmp_path, "s = SMOOTH(RANDOM UNIFORM(0, 1, 0), 1) ~~|\n" + pair)
    stepper = model.stepper()
    stepper.run_to(2)
    stepper.step(4, {"s": 0})
    stepped = stepper.result
    written = load(tmp_path, "s = IF THEN ELSE(Time > 2, 0, SMOOTH(RANDOM UNIFORM(0, 1, 0), 1)) ~~|\n" + pair,
                   "written.mdl").run(tier="interpreter")
    for c in ("s", "t"):
        np.testing.assert_array_equal(stepped[c], written[c], err_msg=c)
    assert (stepped["s"][stepped.time > 2] == 0).all() and len(set(stepped["t"])) == len(stepped.time)


def test_fixing_one_games_noise_keeps_the_other_games_noise():
    """The beer game (../shared/real-models): a scenario that fixes game 3's order noise
    (its pink noise, a macro called over the games) keeps the noise of the twelve others
    (review finding 4e: games 4 to 13 were drawn anew)."""
    model = smartspec_dsl.load(shared_path("real-models", "beer-game", "RealBeer4-Sterman13.mdl"),
                               tier="interpreter")
    base = model.run(seed=9, params={"noise sd": 2.0}, tier="interpreter")
    fixed = model.run(seed=9, params={"noise sd": 2.0, "Order Noise[game3]": 1.0}, tier="interpreter")
    assert (fixed["Order Noise[Game3]"] == 1).all()
    for g in (1, 2, *range(4, 14)):
        column = f"Order Noise[Game{g}]"
        assert base[column].std() > 0.1
        np.testing.assert_array_equal(fixed[column], base[column], err_msg=column)


def test_a_sites_array_is_named_by_the_variable_that_made_it():
    """The owner of a hidden variable: the modeller's variable whose equation made it, through
    stateful lowering's names and macro copies, nested (passes/stateful/base.py,
    passes/macros.py); the first sites of two names differ, and are negative."""
    assert owner_of("y #smooth1_2") == "y"
    assert owner_of("pink noise #call1(y) white noise") == "y"
    assert owner_of("lag #call2(y) out #delay3_1") == "y"
    assert owner_of("inner #call1(outer #call1(order noise) v) w") == "order noise"
    assert owner_of("y") == "y"
    # the dense route's arrays made before lowering own theirs (passes/dense_memory.py)
    assert owner_of("y #memory1 #smooth1_2") == "y #memory1" and owner_of("y #order2 #delayn1_1") == "y #order2"
    assert owner_of("m #call1(y #memory2) local") == "y #memory2"
    assert first_site(0, "y") != first_site(0, "y #smooth1_1") != first_site(1, "y #smooth1_1")
    assert -2 ** 62 <= first_site(0, "y") < -2 ** 61


# vector functions whose vector argument draws: the per-element route packs it into one hidden
# driver per vector (passes/array_functions.py), whose draws' sites come from its name
VECTORS = {
    "rk[G]": "VECTOR RANK(RANDOM UNIFORM(0, 1, 0) + 0 * G, 1)",
    "so[G]": "VECTOR SORT ORDER(RANDOM UNIFORM(0, 1, 0) + 0 * G, -1)",
    "al[G]": "ALLOCATE AVAILABLE(RANDOM UNIFORM(1, 2, 0) + 0 * G, pp[G, ptype], 2)",
    "rm[H, G]": "VECTOR RANK(RANDOM UNIFORM(0, 1, 0) + 0 * G + 0 * H, 1)",
}
VECTOR_MODEL = ("P: ptype, ppriority, pwidth, pextra ~~|\nH: h1, h2 ~~|\n"
                "pp[G, P] = 3, 1, 1, 0; 3, 2, 1, 0; 3, 3, 1, 0 ~~|\n"
                + "".join(f"{name} = {expr} ~~|\n" for name, expr in VECTORS.items()) + CONTROL)
VECTOR_ELEMENTS = [f"{n}[{g}]" for n in ("rk", "so", "al") for g in ("g1", "g2", "g3")] + \
    [f"rm[{h},{g}]" for h in ("h1", "h2") for g in ("g1", "g2", "g3")]


@pytest.fixture(scope="module", params=["dense", "per element"])
def vector_draws(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("vectors")
    patch = pytest.MonkeyPatch()
    if request.param == "per element":
        from smartspec_dsl.passes import pipeline
        patch.setattr(pipeline, "dense_arrays", lambda model, edits: set())
    model = load(tmp, VECTOR_MODEL)
    yield tmp, model, model.run(seed=5, tier="interpreter")
    patch.undo()


def assert_vectors_kept(plain, other, replaced: set[str]):
    """The other elements' columns are `plain`'s to the bit, and their vectors drew: the
    ranks and allocations differ from step to step."""
    for c in VECTOR_ELEMENTS:
        if c not in replaced:
            np.testing.assert_array_equal(other[c], plain[c], err_msg=c)
    for name in ("rk", "so", "al", "rm"):
        cols = [c for c in VECTOR_ELEMENTS if c.startswith(name + "[")]
        assert len({tuple(plain[c]) for c in cols}) > 1 and any(len(set(plain[c])) > 1 for c in cols), name


@pytest.mark.parametrize("replaced", VECTOR_ELEMENTS)
def test_replacing_one_element_keeps_the_vector_the_others_rank(vector_draws, replaced):
    """params that replace one element of an array of VECTOR RANK / VECTOR SORT ORDER /
    ALLOCATE AVAILABLE whose vector argument draws: the other elements rank (sort, allocate)
    the same draws as before, on both routes (review finding 5: the hidden driver holding the
    vector was named after the first element that needed it and a model-wide count, so its
    draws moved when r[g1] was replaced)."""
    _, model, plain = vector_draws
    edited = model.run(seed=5, params={replaced: 0.0}, tier="interpreter")
    assert (edited[replaced] == 0).all()
    assert_vectors_kept(plain, edited, {replaced})


def test_the_compiled_kernel_keeps_the_vector_the_others_rank(vector_draws):
    tmp, _, plain = vector_draws
    model = load(tmp, VECTOR_MODEL, "compiled.mdl", tier="compiled")
    np.testing.assert_array_equal(model.run(seed=5, tier="compiled").values, plain.values)
    assert_vectors_kept(plain, model.run(seed=5, params={"rk[g1]": 0.0, "rm[h2,g1]": 0.0}, tier="compiled"),
                        {"rk[g1]", "rm[h2,g1]"})


@pytest.mark.parametrize("route", ["dense", "per element"])
def test_two_variables_equal_vectors_of_draws_draw_apart(tmp_path, monkeypatch, route):
    """Two variables whose vector argument (or partial SUM) is written alike each draw their
    own numbers (their hidden drivers were shared: b was a's numbers, d c's), and replacing
    one whole variable keeps the other's draws (a driver's name counted over the model)."""
    if route == "per element":
        from smartspec_dsl.passes import pipeline
        monkeypatch.setattr(pipeline, "dense_arrays", lambda model, edits: set())
    twins = {"a[G]": "SUM(RANDOM UNIFORM(0, 1, 0) * (1 + kk[K!])) + 0 * G",
             "b[G]": "SUM(RANDOM UNIFORM(0, 1, 0) * (1 + kk[K!])) + 0 * G",
             "c[G]": "VECTOR RANK(RANDOM UNIFORM(0, 1, 0) + 0 * G, 1)",
             "d[G]": "VECTOR RANK(RANDOM UNIFORM(0, 1, 0) + 0 * G, 1)"}
    model = load(tmp_path, "K: k1, k2, k3 ~~|\nkk[K] = 0 ~~|\n"
                 + "".join(f"{n} = {x} ~~|\n" for n, x in twins.items()) + CONTROL)
    plain = model.run(seed=3, tier="interpreter")
    for one, other in (("a", "b"), ("c", "d")):
        assert not np.array_equal(plain[f"{one}[g1]"], plain[f"{other}[g1]"]), other
        edited = model.run(seed=3, params={one: 0.0}, tier="interpreter")
        assert (edited[f"{one}[g2]"] == 0).all()
        for c in plain.columns:
            if c[0] not in (one, "k") and c.upper() not in CONTROLS:
                assert len(set(plain[c])) > 1, c
                np.testing.assert_array_equal(edited[c], plain[c], err_msg=c)


# SMOOTH N and DELAY N whose order differs by element (an array of orders, numbers given one
# element at a time, a decided order along G over another range H), each drawing its input,
# and one in a piece of a piecewise array (flattened, its elements' hidden stocks their own)
ORDERS = {
    "sn[G]": "SMOOTH N(RANDOM UNIFORM(0, 1, 0), 2, 0, ordr[G])",
    "dn[G]": "DELAY N(RANDOM NORMAL(-2, 2, 0, 1, 0), 1, 0, each[G])",
    "sh[G, H]": "SMOOTH N(RANDOM UNIFORM(0, 1, 0) + H, 2, 0, ordr[G])",
    "dh[H, G]": "DELAY N(RANDOM UNIFORM(0, 1, 0) * H, 1.5, 0, each[G])",
}
ORDERS_MODEL = ("H: h1, h2 ~~|\nordr[G] = 1, 2, 3 ~~|\neach[g1] = 3 ~~|\neach[g2] = 1 ~~|\neach[g3] = 2 ~~|\n"
                + "".join(f"{name} = {expr} ~~|\n" for name, expr in ORDERS.items())
                + "pw[g1] = 5 ~~|\npw[G] :EXCEPT: [g1] = SMOOTH N(RANDOM UNIFORM(0, 1, 0), 2, 0, ordr[G]) ~~|\n"
                + CONTROL)
ORDER_ELEMENTS = ([f"{n}[{g}]" for n in ("sn", "dn") for g in ("g1", "g2", "g3")]
                  + [f"sh[{g},{h}]" for g in ("g1", "g2", "g3") for h in ("h1", "h2")]
                  + [f"dh[{h},{g}]" for h in ("h1", "h2") for g in ("g1", "g2", "g3")] + ["pw[g2]", "pw[g3]"])


@pytest.fixture(scope="module", params=["dense", "per element"])
def order_draws(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("orders")
    patch = pytest.MonkeyPatch()
    if request.param == "per element":
        from smartspec_dsl.passes import pipeline
        patch.setattr(pipeline, "dense_arrays", lambda model, edits: set())
    model = load(tmp, ORDERS_MODEL)
    yield tmp, model, model.run(seed=11, tier="interpreter")
    patch.undo()


@pytest.mark.parametrize("replaced", ["sn[g1]", "sn[g2]", "dn[g3]", "sh[g2,h1]", "dh[h2,g1]", "pw[g2]"])
def test_replacing_one_element_keeps_the_other_orders_draws(order_draws, replaced):
    """params that replace one element of an array of SMOOTH N or DELAY N whose order differs
    by element leave the other elements' draws as they were, on both routes (review finding
    6: the array was split into one hidden array per order, `sn #order2`, but a replaced
    element flattened it, each element's hidden stocks then named and drawing anew)."""
    _, model, plain = order_draws
    edited = model.run(seed=11, params={replaced: 0.0}, tier="interpreter")
    assert (edited[replaced] == 0).all()
    for c in ORDER_ELEMENTS:
        assert len(set(plain[c][2:])) > 1, c       # drawn: the smoothed or delayed input moves
        if c != replaced:
            np.testing.assert_array_equal(edited[c], plain[c], err_msg=c)


def test_the_orders_state_continues_under_a_replaced_element(order_draws):
    """The hidden stocks are named alike with and without the replaced element, so a state saved
    by the plain run continues under the edit (it was refused: the memory of 'sn' changed) and
    gives, from there, the edited run from the start: the draws are per step and site. The
    replaced elements' own memory (their parts of the split, order 1 and order 3) is gone from
    the edited run, and left out of the state it continues."""
    _, model, plain = order_draws
    first = model.run(seed=11, final_time=2, tier="interpreter")
    params = {"sn[g1]": 0.0, "sh[g3,h2]": 1.0}
    whole = model.run(seed=11, params=params, tier="interpreter")
    assert set(first.final_state.stocks) - set(model.run(seed=11, params=params, final_time=2, tier="interpreter")
                                               .final_state.stocks) == \
        {"sn #order1 #smoothn1_1", "sh #order3 #smoothn1_2[h2]", "sh #order3 #smoothn2_3[h2]", "sh #order3 #smoothn3_4[h2]"}
    went_on = model.run(seed=11, params=params, initial_condition=first.final_state, tier="interpreter")
    assert went_on.time[0] == 2
    for c in ORDER_ELEMENTS:
        np.testing.assert_allclose(went_on[c], whole[c][whole.time >= 2], rtol=1e-12, atol=1e-12, err_msg=c)


def test_the_compiled_kernel_keeps_the_other_orders_draws(order_draws):
    tmp, _, plain = order_draws
    model = load(tmp, ORDERS_MODEL, "compiled.mdl", tier="compiled")
    np.testing.assert_array_equal(model.run(seed=11, tier="compiled").values, plain.values)
    edited = model.run(seed=11, params={"sn[g2]": 0.0, "dh[h1,g3]": 0.0}, tier="compiled")
    for c in ORDER_ELEMENTS:
        if c not in ("sn[g2]", "dh[h1,g3]"):
            np.testing.assert_array_equal(edited[c], plain[c], err_msg=c)


ROWS = {
    "rm[H, G]": "VECTOR RANK(RANDOM UNIFORM(0, 1, 0) + 0 * G + 0 * H, 1)",
    "ps[H, G]": "SUM(RANDOM UNIFORM(0, 1, 0) * (1 + kk[K!] + 0 * H)) + 0 * G",
    "vs[H, G]": "VECTOR SELECT(kk[K!] + 1, RANDOM UNIFORM(0, 1, 0) + kk[K!] + 0 * H, 0, act, 0) + 0 * G",
}


@pytest.mark.parametrize("route", ["dense", "per element"])
@pytest.mark.parametrize("row", ["h1", "h2"])
def test_replacing_a_whole_row_keeps_the_other_rows_draws(tmp_path, monkeypatch, route, row):
    """params that replace every element of one row of a two-dimensional array whose vector
    (VECTOR RANK's argument, a SUM or a VECTOR SELECT shared by the row's elements) draws: the
    other rows draw as before. Their hidden drivers and shared sums were counted over the
    variable, so that a row left out renamed, and redrew, every row after it."""
    if route == "per element":
        from smartspec_dsl.passes import pipeline
        monkeypatch.setattr(pipeline, "dense_arrays", lambda model, edits: set())
    model = load(tmp_path, "H: h1, h2, h3 ~~|\nK: k1, k2, k3 ~~|\nkk[K] = 0 ~~|\nact = 0 ~~|\n"
                 + "".join(f"{n} = {x} ~~|\n" for n, x in ROWS.items()) + CONTROL)
    plain = model.run(seed=5, tier="interpreter")
    for name in ("rm", "ps", "vs"):
        edited = model.run(seed=5, params={f"{name}[{row},{g}]": 0.0 for g in ("g1", "g2", "g3")},
                           tier="interpreter")
        others = [c for c in plain.columns if c.startswith(name + "[") and not c.startswith(f"{name}[{row},")]
        assert len(others) == 6 and all((edited[f"{name}[{row},{g}]"] == 0).all() for g in ("g1", "g2", "g3"))
        assert len({tuple(plain[c]) for c in others}) > 1 and all(len(set(plain[c])) > 1 for c in others), name
        for c in plain.columns:
            if not c.startswith(f"{name}[{row},"):
                np.testing.assert_array_equal(edited[c], plain[c], err_msg=c)


def test_drivers_are_named_by_their_row_and_shared_as_before():
    """The per-element route's hidden drivers: one per row where the vector reads the row's
    subscript (VECTOR RANK(x[R] + H), VECTOR SELECT over tbl[S!] + H), named by it; one for
    every element where the vector reads no subscript of the left-hand side (VECTOR LOOKUP of
    tbl[s1] in an equation over [H, R], VECTOR ELM MAP of the whole x), as before: no copy per
    element."""
    from smartspec_dsl.frontend.parse import parse_model
    from smartspec_dsl.passes import pipeline
    text = ("R: (r1-r50) ~~|\nS: (s1-s5) ~~|\nH: h1, h2 ~~|\ntbl[S] = S ~~|\nx[R] = R / 50 ~~|\nact = 1 ~~|\n"
            "vl[H, R] = VECTOR LOOKUP(tbl[s1], x[R], 0, 1, 0) + 0 * H ~~|\n"
            "em[R] = VECTOR ELM MAP(x[r1], x[R] * 0 + Time) ~~|\n"
            "vs[H, R] = VECTOR SELECT(tbl[S!], tbl[S!] + H, 0, act, 0) ~~|\n"
            "rk[H, R] = VECTOR RANK(x[R] + H, 1) ~~|\n" + CONTROL)
    hidden = sorted(n for n in pipeline.arrays(parse_model(text, "m.mdl"), dense=False).variables if " #" in n)
    assert hidden == ["em #pack1", "rk #vector rank1 (h1)", "rk #vector rank1 (h2)", "vl #pack1",
                      "vs #pack1 (h1)", "vs #pack1 (h2)", "vs #vectorselect1 (h1)", "vs #vectorselect1 (h2)"]
