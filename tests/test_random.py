"""Random functions: checked by their statistics (Vensim's own streams cannot be
reproduced), and by reproducibility: a run is determined by its seeds alone."""
import numpy as np
import pytest

import smartspec_dsl

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
    from smartspec_dsl.sweep import read_spec, sweep
    for crn in (True, False):
        spec = tmp_path / f"s{crn}.toml"
        spec.write_text(f'sampler = "scenarios"\ncommon_random_numbers = {str(crn).lower()}\n'
                        'seed = 5\noutputs = ["u"]\nfinal_time = 20\n'
                        '[[scenarios]]\nname = "a"\n[[scenarios]]\nname = "b"\n')
        res = sweep(model, read_spec(spec, model).sampler, progress=False)
        # two identical scenarios: the same draws exactly when the streams are shared
        assert np.array_equal(res.values[0], res.values[1]) == crn
