"""Random functions: checked by their statistics (Vensim's own streams cannot be
reproduced), and by reproducibility: a run is determined by its seeds alone."""
import numpy as np
import pytest

import smartspec_dsl
from smartspec_dsl.backend.kernel_random import random_uniform
from smartspec_dsl.backend.sites import first_site

MODEL = """{UTF-8}
u = RANDOM UNIFORM(-1, 1, 0.5) ~ ~ |
n = RANDOM NORMAL(-10, 10, 2, 3, 1) ~ ~ |
e = RANDOM EXPONENTIAL(0, 100, 1, 2, 3) ~ ~ |
t = RANDOM TRIANGULAR(0, 10, 0, 2, 10, 4) ~ ~ |
z = RANDOM 0 1() ~ ~ |
acc = INTEG(u, 0) ~ ~ |
INITIAL TIME = 0 ~ ~ |
FINAL TIME = 4000 ~ ~ |
TIME STEP = 1 ~ ~ |
SAVEPER = TIME STEP ~ ~ |
"""


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("random") / "random.mdl"
    path.write_text(MODEL)
    return smartspec_dsl.load(path)


def test_distributions(model):
    r = model.run()
    u, n, e, t, z = (r[c] for c in "unetz")
    assert u.min() >= -1 and u.max() <= 1
    assert abs(u.mean()) < 0.05 and abs(u.std() - 2 / np.sqrt(12)) < 0.02
    assert abs(n.mean() - 2) < 0.15 and abs(n.std() - 3) < 0.15
    assert e.min() >= 1 and abs(e.mean() - 3) < 0.15          # shift 1 + stretch 2 * Exp(1)
    assert abs(t.mean() - 4) < 0.15                          # (0 + 2 + 10) / 3
    assert 0 < z.min() and z.max() < 1 and abs(z.mean() - 0.5) < 0.02
    # a fresh draw each step: neighbouring values are uncorrelated
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 0.06


def test_reproducible_by_seed(model):
    a, b = model.run(seed=11), model.run(seed=11)
    assert np.array_equal(a.values, b.values)
    c = model.run(seed=12)
    assert not np.array_equal(a["u"], c["u"])


def test_batch_rows_equal_single_runs(model):
    seeds = np.array([3, 5, 8])
    P = model.parameter_matrix(n=3, seeds=seeds)
    batch = model.run_batch(P, outputs=["u", "acc"])
    for i, s in enumerate(seeds):
        single = model.run(seed=int(s), return_columns=["u", "acc"])
        assert np.array_equal(batch.values[i], single.values)


def test_large_run_seeds_give_distinct_streams(model):
    # sweeps use 52-bit run seeds: each must give its own stream
    draws = {tuple(model.run(seed=s, return_columns=["u"], final_time=5)["u"])
             for s in (2 ** 44, 2 ** 44 + 1, 2 ** 51 + 12345, 2 ** 52 - 1)}
    assert len(draws) == 4


def test_common_random_numbers_in_a_sweep_spec(model, tmp_path):
    from smartspec_dsl.experiments.spec import read_spec
    from smartspec_dsl.experiments.sweep import sweep
    for crn in (True, False):
        spec = tmp_path / f"s{crn}.toml"
        spec.write_text(f'sampler = "scenarios"\ncommon_random_numbers = {str(crn).lower()}\n'
                        'seed = 5\noutputs = ["u"]\nfinal_time = 20\n'
                        '[[scenarios]]\nname = "a"\n[[scenarios]]\nname = "b"\n')
        res = sweep(model, read_spec(spec, model).sampler, progress=False)
        # two identical scenarios: the same draws exactly when the streams are shared
        assert np.array_equal(res.values[0], res.values[1]) == crn


def test_common_random_numbers_draw_the_streams_of_the_specs_seed(model, tmp_path):
    """With common random numbers every run draws the streams of a run with the spec's seed
    (`smartspec run --seed 5`): the same seed the same streams, another seed others. Every run
    drew seed 0's streams whatever the seed. A seed a run cannot take is refused by name."""
    from smartspec_dsl.errors import SpecError
    from smartspec_dsl.experiments.spec import read_spec
    from smartspec_dsl.experiments.sweep import sweep

    def streams(seed):
        spec = tmp_path / f"s{seed}.toml"
        spec.write_text(f'sampler = "scenarios"\ncommon_random_numbers = true\nseed = {seed}\n'
                        'outputs = ["u"]\nfinal_time = 20\n[[scenarios]]\nname = "a"\n[[scenarios]]\nname = "b"\n')
        res = sweep(model, read_spec(spec, model).sampler, progress=False)
        assert np.array_equal(res.values[0], res.values[1]) and np.array_equal(res.seeds, [seed, seed])
        return res.values[0, :, 0]

    five = streams(5)
    np.testing.assert_array_equal(five, model.run(seed=5, final_time=20)["u"])
    np.testing.assert_array_equal(streams(5), five)
    assert not np.array_equal(streams(6), five)
    np.testing.assert_array_equal(streams(0), model.run(final_time=20)["u"])     # a plain run's
    with pytest.raises(SpecError, match=r"seed: must be below 2\*\*52 .* with common_random_numbers"):
        streams(2 ** 52)


MORE = """{UTF-8}
g = RANDOM GAMMA(0, 100, 3, 0, 1, 1) ~~|
g2 = RANDOM GAMMA(0, 100, 0.5, 2, 3, 2) ~~|
w = RANDOM WEIBULL(0, 100, 2, 0, 1, 3) ~~|
b = RANDOM BETA(0, 1, 0.5, 2, 0, 1, 4) ~~|
b2 = RANDOM BETA(-10, 10, 3, 3, 1, 2, 5) ~~|
bi = RANDOM BINOMIAL(0, 100, 0.3, 10, 0, 1, 6) ~~|
bl = RANDOM BINOMIAL(0, 10000, 0.5, 3000, 0, 1, 7) ~~|
nb = RANDOM NEGATIVE BINOMIAL(0, 1000, 0.25, 3, 0, 1, 8) ~~|
gt = RANDOM GAMMA(1, 2, 2, 0, 1, 9) ~~|
ramp pdf((0,0),(1,2)) ~~|
tri pdf((0,0),(1,1),(3,0)) ~~|
flat pdf((0,1),(4,1)) ~~|
la = RANDOM LOOKUP(ramp pdf, 0, 10, 0, 1, 10) ~~|
lb = RANDOM LOOKUP(tri pdf, -100, 100, 1, 2, 11) ~~|
lc = RANDOM LOOKUP(flat pdf, 0, 3, 0, 1, 12) ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 40000 ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""


def test_gamma_weibull_beta_binomial_negative_binomial_lookup(tmp_path):
    """Vensim's definitions ("Random Functions"): gamma of order O and weibull of shape S
    have mean 1 before stretch r and shift h; an order below 1 counts as 1; beta(A, B) on
    [0, 1]; binomial on N trials of probability P; negative binomial counts the trials
    for N successes. Means and variances worked out from those definitions."""
    import math
    path = tmp_path / "more.mdl"
    path.write_text(MORE)
    r = smartspec_dsl.load(path, cache_dir=tmp_path / "cache").run()
    expected = {  # name: (mean, variance)
        "g": (1, 1 / 3),                              # Gamma(3, 1/3)
        "g2": (2 + 3 * 1, 9 * 1),                     # order 0.5 -> 1: exponential; h 2, r 3
        "w": (1, math.gamma(2) / math.gamma(1.5) ** 2 - 1),
        "b": (0.5 / 2.5, 0.5 * 2 / (2.5 ** 2 * 3.5)),
        "b2": (1 + 2 * 0.5, 4 * 9 / (36 * 7)),
        "bi": (10 * 0.3, 10 * 0.3 * 0.7),
        "bl": (1500, 3000 * 0.25),                    # the Bernoulli-counting branch
        "nb": (3 / 0.25, 3 * 0.75 / 0.25 ** 2),
        # RANDOM LOOKUP: the table as a density; 2x on [0, 1]; the triangle (0, 1, 3)
        # stretched by 2 and shifted by 1; uniform on [0, 4] truncated to [0, 3]
        "la": (2 / 3, 1 / 18),
        "lb": (1 + 2 * 4 / 3, 4 * (0 + 1 + 9 - 3) / 18),
        "lc": (1.5, 9 / 12),
    }
    n = len(r.time)
    for name, (mean, var) in expected.items():
        x = r[name]
        assert abs(x.mean() - mean) < 5 * math.sqrt(var / n), (name, x.mean(), mean)
        assert abs(x.var() - var) < 0.1 * var, (name, x.var(), var)
    for name in ("bi", "bl", "nb"):
        assert np.array_equal(r[name], np.round(r[name])), name
    assert r["nb"].min() >= 3
    assert 1 <= r["gt"].min() and r["gt"].max() <= 2          # truncated to [m, x] by redrawing


def step_draws(variable: str, steps: int, seed: int) -> np.ndarray:
    """The values of the first draw, RANDOM UNIFORM(0, 1, 0), of scalar `variable`'s equation
    at steps 0 .. steps - 1 of a run with `seed`: its call site is its variable's first site,
    a hash of the name alone (backend/sites.py), the draw a hash of the site, the step's
    number and the seed (backend/kernel_random.py)."""
    site = first_site(0, variable)
    return np.array([random_uniform(0.0, 1.0, 0.0, site, k, float(seed)) for k in range(steps)])


@pytest.mark.parametrize("tier", ["interpreter", "compiled"])
def test_a_draw_in_a_stocks_rate(tmp_path, tier):
    """A draw written in a stock's rate (the Euler driver writes the rates a second time,
    inline in its time loop) draws at its own call site, one number a step, the stock's: the
    stock is the running sum of TIME STEP times the draws at s's site; the same draw held in
    an auxiliary u draws at u's site."""
    control = "INITIAL TIME = 0 ~~| FINAL TIME = 5 ~~| TIME STEP = 0.5 ~~| SAVEPER = 0.5 ~~|\n"
    inline = tmp_path / "inline.mdl"
    inline.write_text("s = INTEG(RANDOM UNIFORM(0, 1, 0), 0) ~~|\n" + control)
    held = tmp_path / "held.mdl"
    held.write_text("u = RANDOM UNIFORM(0, 1, 0) ~~|\ns = INTEG(u, 0) ~~|\n" + control)
    s = smartspec_dsl.load(inline, cache_dir=tmp_path / "cache", tier=tier).run(seed=4, tier=tier)["s"]
    u = smartspec_dsl.load(held, cache_dir=tmp_path / "cache", tier=tier).run(seed=4, tier=tier)["u"]
    assert len(set(u)) == len(u)
    np.testing.assert_array_equal(u, step_draws("u", len(u), 4))
    np.testing.assert_allclose(s, np.concatenate([[0.0], np.cumsum(0.5 * step_draws("s", len(s) - 1, 4))]),
                               rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("method", ["euler", "rk4"])
@pytest.mark.parametrize("time_step", ["0.5", "IF THEN ELSE(Time < 2, 0.25, 0.5)"])
def test_a_draw_in_a_stocks_rate_under_every_driver(tmp_path, method, time_step):
    """Every driver that calls the rates gives them the step their draws read (RK4's, and the
    generic one of a TIME STEP computed during the run; the compiled tier failed to compile
    them): a draw is one number a step, held over RK4's four evaluations, so s = INTEG(draw)
    is the running sum of each step's length times the draw at s's call site, that step's;
    the compiled tier gives the interpreter's numbers."""
    control = f"INITIAL TIME = 0 ~~| FINAL TIME = 4 ~~| TIME STEP = {time_step} ~~| SAVEPER = TIME STEP ~~|\n"
    (tmp_path / "inline.mdl").write_text("s = INTEG(RANDOM UNIFORM(0, 1, 0), 0) ~~|\n"
                                         "m = SMOOTH(RANDOM UNIFORM(0, 1, 0), 1) ~~|\n" + control)
    runs = {tier: smartspec_dsl.load(tmp_path / "inline.mdl", cache_dir=tmp_path / "cache", tier=tier)
            .run(seed=4, method=method, tier=tier) for tier in ("interpreter", "compiled")}
    np.testing.assert_array_equal(runs["compiled"].values, runs["interpreter"].values)
    steps = np.diff(runs["compiled"].time)
    np.testing.assert_allclose(runs["compiled"]["s"],
                               np.concatenate([[0.0], np.cumsum(steps * step_draws("s", len(steps), 4))]),
                               rtol=1e-12, atol=1e-15)
