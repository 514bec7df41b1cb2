"""Sweeps: API, samplers, streaming statistics, spec, storage/resume, CLI, plots."""
import warnings

import numpy as np
import pytest

from smartspec_dsl.errors import ParameterError, SpecError
from smartspec_dsl.experiments import samplers as S
from smartspec_dsl.experiments.stats import HistogramSketch, StreamingStats, parse_stats
from smartspec_dsl.experiments.sweep import run_seeds, sweep


def closed_form(room, char, steps=240, dt=0.125):
    """Euler teacup: T_n = Room + (180 - Room) * (1 - dt/Char)^n."""
    return room + (180.0 - room) * (1.0 - dt / char) ** steps


# ---------------------------------------------------------------- statistics (no model needed)

def _data():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(5, 2, (3000, 3, 4)), rng.lognormal(0, 1, (2000, 3, 4)) * 100 - 7])
    x[:, 0, 0] = 3.0                     # a constant cell
    return x


@pytest.mark.parametrize("chunk", [1, 77, 5000])
def test_streaming_stats_match_numpy(chunk):
    x = _data()
    st = StreamingStats(["count", "mean", "std", "var", "min", "max", "p0", "p5", "p50", "p95", "p100"], 3, 4)
    for i in range(0, len(x), chunk):
        st.add(x[i:i + chunk])
    r, bound = st.result(), st.error()
    np.testing.assert_allclose(r["mean"], x.mean(0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(r["std"], x.std(0), rtol=1e-10)
    np.testing.assert_allclose(r["var"], x.var(0), rtol=1e-10)
    assert np.array_equal(r["min"], x.min(0)) and np.array_equal(r["max"], x.max(0))
    assert np.all(r["count"] == len(x))
    for q in (0, 5, 50, 95, 100):
        exact = np.percentile(x, q, axis=0)
        assert np.all(np.abs(r[f"p{q}"] - exact) <= bound), q
    # the bound is small: below 2 * range / (bins - 1)
    assert np.all(bound <= 2 * (x.max(0) - x.min(0)) / 4095 + 1e-9 * np.abs(x).max(0))
    assert np.array_equal(r["p0"], x.min(0)) and np.array_equal(r["p100"], x.max(0))


def test_sketch_is_chunking_independent_and_mergeable():
    x = _data().reshape(5000, -1)
    a, b, c = HistogramSketch(12, 256), HistogramSketch(12, 256), HistogramSketch(12, 256)
    a.add(x)
    for i in range(0, 5000, 333):
        b.add(x[i:i + 333])
    c.add(x[2500:])
    c2 = HistogramSketch(12, 256)
    c2.add(x[:2500])
    c2.merge(c)
    for s in (b, c2):
        assert np.array_equal(a.counts, s.counts) and np.array_equal(a.e, s.e) and np.array_equal(a.k0, s.k0)
    for q in (1, 50, 99):
        exact = np.percentile(x, q, axis=0)
        assert np.all(np.abs(a.percentile(q) - exact) <= a.width())


def _awkward_data(runs=3000, times=7, outputs=60):
    """Cells of every kind the in-place reduction has to get right."""
    rng = np.random.default_rng(7)
    x = rng.normal(0, 1, (runs, times, outputs)) * np.logspace(-6, 6, outputs) + np.linspace(-50, 50, outputs)
    x[:, 0, 0] = 3.0                                        # constant
    x[:, 1, 1] = rng.normal(0, 1e-300, runs)                # bins narrower than 2^-1022
    x[:, 1, 2] = rng.normal(0, 1e300, runs)                 # bins wider than 2^1022
    x[:, 2, 3] = rng.lognormal(0, 4, runs)                  # range grows chunk after chunk
    x[::17, 3, 4] = np.nan
    x[::29, 3, 5] = np.inf
    x[::31, 3, 6] = -np.inf
    x[:, 4, 7] = np.nan                                     # nothing finite at all
    x[-1, 5, 8] = -1e6                                      # a late new minimum
    return x


@pytest.mark.parametrize("chunk,threads,parallel", [(3000, 2, True), (3000, 1, False), (211, 2, True),
                                                    (211, 2, False), (1, 1, False)])
def test_inplace_reduction_matches_plain_numpy(monkeypatch, chunk, threads, parallel):
    """The chunk-by-chunk (Numba) reduction against numpy over all runs at once."""
    import numba

    from smartspec_dsl.experiments import stats as stats_mod
    x = _awkward_data(runs=600 if chunk == 1 else 3000)
    monkeypatch.setattr(stats_mod, "_PARALLEL_VALUES", 0 if parallel else 2 ** 62)
    before = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        names = ["count", "mean", "std", "var", "min", "max", "p0", "p1", "p25", "p50", "p99", "p100"]
        st = StreamingStats(names, *x.shape[1:], bins=512)
        for i in range(0, len(x), chunk):
            st.add(x[i:i + chunk])
        r, bound = st.result(), st.error()
    finally:
        numba.set_num_threads(before)
    # infinite and NaN values are left out of every statistic: compare with numpy over the
    # finite values of each cell
    fin = np.where(np.isfinite(x), x, np.nan)
    has = np.isfinite(fin).any(0)
    with np.errstate(invalid="ignore", over="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean, var, std = np.nanmean(fin, 0), np.nanvar(fin, 0), np.nanstd(fin, 0)
    ok = np.isfinite(var)
    assert np.array_equal(r["count"], np.isfinite(x).sum(0).astype(float))
    assert np.array_equal(np.isfinite(r["mean"]), np.isfinite(mean))
    assert np.array_equal(np.isfinite(r["var"]), ok)
    np.testing.assert_allclose(r["mean"][ok], mean[ok], rtol=1e-11, atol=1e-9 * np.nanmax(np.abs(fin[:, ok])))
    # some cells' spread is 1e-8 of their mean: both sides lose digits to cancellation there
    np.testing.assert_allclose(r["var"][ok], var[ok], rtol=1e-6, atol=0)
    np.testing.assert_allclose(r["std"][ok], std[ok], rtol=1e-6, atol=0)
    wide = ok & (std > 1e-3 * np.abs(mean))
    np.testing.assert_allclose(r["var"][wide], var[wide], rtol=1e-11, atol=0)
    assert np.all(np.isnan(r["min"][~has])) and np.all(np.isnan(r["max"][~has]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert np.array_equal(r["min"][has], np.nanmin(fin[:, has], 0))
        assert np.array_equal(r["max"][has], np.nanmax(fin[:, has], 0))
    # percentiles: the sketch skips non-finite values too
    for q in (0, 1, 25, 50, 99, 100):
        est = r[f"p{q}"]
        assert np.all(np.isnan(est[~has])) and np.all(np.isnan(bound[~has]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            exact = np.nanpercentile(fin, q, axis=0)
        assert np.all(np.abs(est[has] - exact[has]) <= bound[has]), q
    assert np.array_equal(r["p0"][has], np.nanmin(fin[:, has], 0))
    assert np.array_equal(r["p100"][has], np.nanmax(fin[:, has], 0))
    assert st.sketch.nonfinite.reshape(x.shape[1:])[3, 4:7].tolist() == [len(range(0, len(x), k)) for k in (17, 29, 31)]


def test_inplace_sketch_state_does_not_depend_on_threads_or_chunks(monkeypatch):
    import numba

    from smartspec_dsl.experiments import stats as stats_mod
    x = _awkward_data().reshape(3000, -1)
    states = []
    for chunk, threads, parallel in [(3000, 2, True), (3000, 1, False), (97, 2, True), (1000, 1, False)]:
        monkeypatch.setattr(stats_mod, "_PARALLEL_VALUES", 0 if parallel else 2 ** 62)
        before = numba.get_num_threads()
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        try:
            s = HistogramSketch(x.shape[1], 256)
            for i in range(0, len(x), chunk):
                s.add(x[i:i + chunk])
        finally:
            numba.set_num_threads(before)
        states.append(s)
    for s in states[1:]:
        for f in ("counts", "e", "k0", "n", "lo", "hi", "nonfinite"):
            assert np.array_equal(getattr(states[0], f), getattr(s, f)), f


def test_sketch_nonfinite_and_negative_ranges():
    x = np.linspace(-1, 1, 1001)[:, None].repeat(2, 1)
    x[::10, 1] = np.nan
    s = HistogramSketch(2, 64)
    s.add(x)
    assert s.nonfinite.tolist() == [0, 101]
    fin = x[:, 1][np.isfinite(x[:, 1])]
    assert abs(s.percentile(50)[0] - 0.0) <= s.width()[0]
    assert abs(s.percentile(30)[1] - np.percentile(fin, 30)) <= s.width()[1]


def test_parse_stats():
    assert parse_stats(["Mean", "median", "p99.9"]) == ["mean", "p50", "p99.9"]
    with pytest.raises(SpecError, match="unknown statistic 'average'"):
        parse_stats(["average"])
    with pytest.raises(SpecError):
        parse_stats(["p101"])


# ---------------------------------------------------------------- samplers (no model needed)

def test_distributions_and_designs_deterministic():
    d = {"a": S.Uniform(1, 2), "b": S.Normal(0, 1), "c": S.LogNormal(0, 0.5), "d": S.Triangular(0, 1, 4)}
    for cls in (S.Random, S.LatinHypercube, S.Sobol):
        t1, t2 = cls(d, 512).table(seed=3), cls(d, 512).table(seed=3)
        t3 = cls(d, 512).table(seed=4)
        for k in d:
            assert np.array_equal(t1.columns[k], t2.columns[k])
            assert not np.array_equal(t1.columns[k], t3.columns[k])
        assert np.all((t1.columns["a"] >= 1) & (t1.columns["a"] <= 2))
        assert np.all((t1.columns["d"] >= 0) & (t1.columns["d"] <= 4)) and np.all(t1.columns["c"] > 0)
    # Random: row i does not depend on n
    small, big = S.Random(d, 10).table(seed=9), S.Random(d, 1000).table(seed=9)
    assert np.array_equal(small.columns["b"], big.columns["b"][:10])
    # LHS: exactly one point per stratum
    u = S.LatinHypercube({"a": S.Uniform(0, 1)}, 100).table(seed=1).columns["a"]
    assert sorted(np.floor(u * 100).astype(int)) == list(range(100))
    # inverse CDFs against scipy
    from scipy import stats
    uu = np.array([0.1, 0.5, 0.9])
    np.testing.assert_allclose(S.Triangular(0, 1, 4).ppf(uu), stats.triang(0.25, 0, 4).ppf(uu))
    np.testing.assert_allclose(S.LogNormal(1, 0.5).ppf(uu), stats.lognorm(0.5, scale=np.e).ppf(uu))
    np.testing.assert_allclose(S.Normal(2, 3).ppf(uu), stats.norm(2, 3).ppf(uu))


def test_bad_distributions():
    with pytest.raises(SpecError, match=r"low \(3\) > high \(1\)"):
        S.Uniform(3, 1)
    with pytest.raises(SpecError, match="sd must be > 0"):
        S.Normal(0, 0)
    with pytest.raises(SpecError, match="triangular"):
        S.Triangular(0, 5, 4)
    with pytest.raises(SpecError, match="unknown distribution 'gamma'"):
        S.distribution({"dist": "gamma"}, "x")
    with pytest.raises(SpecError, match="needs key 'sd'"):
        S.distribution({"dist": "normal", "mean": 1}, "x")


def test_grid_and_table_csv(tmp_path):
    t = S.Grid({"a": [1, 2], "b": [10, 20, 30]}).table()
    assert t.n == 6
    assert t.columns["a"].tolist() == [1, 1, 1, 2, 2, 2] and t.columns["b"].tolist() == [10, 20, 30] * 2
    csv = tmp_path / "p.csv"
    csv.write_text("scenario,a,b\nlow,1,2\nhigh,3,4.5\n")
    t = S.Table.from_csv(csv).table()
    assert t.labels.tolist() == ["low", "high"] and t.columns["b"].tolist() == [2, 4.5]
    csv.write_text("a,b\n1,x\n")
    with pytest.raises(SpecError, match="column 'b': 'x' is not a number"):
        S.Table.from_csv(csv)


def test_run_seeds_independent_of_chunking():
    runs = np.arange(1000)
    s = run_seeds(5, runs)
    assert np.array_equal(s[400:600], run_seeds(5, runs[400:600]))
    assert len(set(s.tolist())) == 1000 and not np.array_equal(s, run_seeds(6, runs))


DRAWN = """R: r1, r2, r3 ~~|
k[R] = 1, 2, 3 ~~|
s[R] = INTEG(out[R], 10) ~~|
out[R] = s[R] * 0.01 * k[R] * RANDOM UNIFORM(0, 2, 0) + RANDOM NORMAL(-3, 3, 0, 1, 0) ~~|
INITIAL TIME = 0 ~~| FINAL TIME = 5 ~~| TIME STEP = 0.5 ~~| SAVEPER = 1 ~~|
"""


@pytest.mark.parametrize("tier", ["interpreter", "compiled"])
def test_a_sweeps_run_is_rerun_alone_by_its_seed(tmp_path, tier):
    """Run i of a sweep with random draws (a number beside equations, k[r1], as its parameter)
    is model.run(params=run i's parameters, seed=res.seeds[i]) to the bit: the run seeds are
    in the range a run's seed takes (whole numbers below 2**52), which one above refuses."""
    import smartspec_dsl
    path = tmp_path / "drawn.mdl"
    path.write_text(DRAWN)
    model = smartspec_dsl.load(path, tier=tier)
    res = sweep(model, {"k[r1]": [0.5, 1.5, 0.5]}, outputs=["s[r1]", "out[r2]"], seed=7, tier=tier,
                progress=False)
    assert np.array_equal(res.seeds, run_seeds(7, np.arange(3))) and res.seeds.max() < 2 ** 52
    assert not np.array_equal(res.values[0], res.values[2])     # same parameters, other draws
    for i in range(3):
        alone = model.run(params={"k[r1]": res.params["k[r1]"][i]}, seed=int(res.seeds[i]), tier=tier,
                          return_columns=["s[r1]", "out[r2]"])
        assert np.array_equal(alone.values, res.values[i]), i
    with pytest.raises(ParameterError, match=r"seed must be a whole number from 0 to 2\*\*52 - 1"):
        model.run(seed=2 ** 52)
    with pytest.raises(ParameterError, match=r"seed must be a whole number from 0 to 2\*\*52 - 1"):
        model.parameter_matrix(n=2, seeds=np.array([1, 2 ** 60], dtype=np.uint64))


def _cat(parts):
    first = parts[0]
    cols = {k: np.concatenate([t.columns[k] for t in parts]) for k in first.columns}
    mult = {k: np.concatenate([t.multipliers[k] for t in parts]) for k in first.multipliers}
    labels = None if first.labels is None else np.concatenate([t.labels for t in parts]).tolist()
    return cols, mult, labels


def test_samplers_make_any_rows_on_demand():
    """Rows [s, e) asked of a sampler's source, in any chunks and any order, are the rows of
    its whole table: the parameters of run i depend on i alone."""
    d = {"a": S.Uniform(1, 2), "b": S.Normal(0, 1), "c": S.Triangular(0, 1, 4)}
    cases = [S.Random(d, 1000), S.LatinHypercube(d, 1000), S.Sobol(d, 1000),
             S.Grid({"a": [1, 2, 3], "b": np.linspace(0, 1, 7), "c": [5, 6]}),
             S.Product(S.Grid({"a": [1, 2, 3]}), S.Random({"b": S.Normal(0, 1)}, 37)),
             S.Product(S.LatinHypercube({"a": S.Uniform(0, 1)}, 50),
                       S.Scenarios([S.Scenario("x", scale={"b": 2.0}), S.Scenario("y")]))]
    for sampler in cases:
        whole = sampler.table(seed=4)
        want = _cat([whole])
        for size in (1, 7, 64, whole.n):
            bounds = [(s, min(whole.n, s + size)) for s in range(0, whole.n, size)]
            src = sampler.source(seed=4)
            got = {b: src.rows(*b) for b in reversed(bounds)}     # backwards: no reliance on order
            cols, mult, labels = _cat([got[b] for b in bounds])
            assert labels == want[2], sampler
            for k in want[0]:
                assert np.array_equal(cols[k], want[0][k]), (sampler, k, size)
            for k in want[1]:
                assert np.array_equal(mult[k], want[1][k]), (sampler, k, size)
    # Random: column j depends on neither n nor the parameters after it
    two = S.Random({"a": S.Uniform(1, 2), "b": S.Normal(0, 1)}, 10).table(seed=9).columns["b"]
    assert np.array_equal(two, S.Random(d, 1000).table(seed=9).columns["b"][:10])
    # Latin hypercube: one point per stratum in every column, for any n
    for n in (1, 2, 3, 17, 1000):
        t = S.LatinHypercube({"a": S.Uniform(0, 1), "b": S.Uniform(0, 1)}, n).table(seed=2)
        for k in "ab":
            assert sorted(np.floor(t.columns[k] * n).astype(int)) == list(range(n))


# ---------------------------------------------------------------- sweeps of the teacup

def test_sweep_matches_closed_form(teacup):
    char = np.linspace(2, 20, 401)
    room = np.linspace(50, 90, 401)
    res = sweep(teacup, {"Characteristic Time": char, "Room Temperature": room},
                outputs=["Teacup Temperature"], times="final", chunk_size=64,
                stats=["mean", "std", "min", "max", "p5", "p50", "p95"], progress=False)
    assert res.values.shape == (401, 1, 1) and res.time.tolist() == [30.0]
    want = closed_form(room, char)
    np.testing.assert_allclose(res.values[:, 0, 0], want, rtol=1e-12)
    np.testing.assert_allclose(res["Teacup Temperature"][:, 0], want, rtol=1e-12)
    np.testing.assert_allclose(res.stats["mean"][0, 0], want.mean(), rtol=1e-12)
    np.testing.assert_allclose(res.stats["std"][0, 0], want.std(), rtol=1e-10)
    for q in (5, 50, 95):   # keep_runs: exact percentiles
        np.testing.assert_allclose(res.stats[f"p{q}"][0, 0], np.percentile(want, q), rtol=1e-12)
    assert res.stats_error is None
    assert res.params["Characteristic Time"] is not None and res.runs.tolist() == list(range(401))


def test_sweep_all_times_and_stats_only(teacup):
    char = np.random.default_rng(0).uniform(3, 30, 3000)
    kept = sweep(teacup, {"Characteristic Time": char}, outputs=["Teacup Temperature"], times=[0, 10, 30],
                 progress=False)
    n = np.array([0, 80, 240])
    want = closed_form(70.0, char[:, None], steps=n[None, :])
    np.testing.assert_allclose(kept.values[:, :, 0], want, rtol=1e-12)
    only = sweep(teacup, {"Characteristic Time": char}, outputs=["Teacup Temperature"], times=[0, 10, 30],
                 keep_runs=False, stats=["mean", "max", "p5", "p95"], chunk_size=500, progress=False)
    assert only.values is None
    np.testing.assert_allclose(only.stats["mean"][:, 0], want.mean(0), rtol=1e-12)
    assert np.array_equal(only.stats["max"][:, 0], kept.values[:, :, 0].max(0))
    for q in (5, 95):
        assert np.all(np.abs(only.stats[f"p{q}"][:, 0] - np.percentile(want, q, axis=0))
                      <= only.stats_error[:, 0])
    assert np.all(only.stats_error[1:, 0] < 0.05)


def test_run_batch_into_given_buffer(teacup):
    P = teacup.parameter_matrix({"Characteristic Time": [5.0, 10.0, 15.0]})
    fresh = teacup.run_batch(P)
    buf = np.full((3, fresh.rows, len(fresh.columns)), np.nan)
    into = teacup.run_batch(P, out=buf)
    assert into.values is buf and np.array_equal(buf, fresh.values)
    final = teacup.run_batch(P, times="final", out=np.empty((3, 2, len(fresh.columns))))
    assert np.array_equal(final.values, fresh.values[:, -1:])
    for bad in (np.empty((3, fresh.rows)), np.empty((3, fresh.rows, len(fresh.columns)), dtype=np.float32),
                np.empty((3, len(fresh.columns), fresh.rows)).transpose(0, 2, 1)):
        with pytest.raises(ValueError, match="out must be"):
            teacup.run_batch(P, out=bad)


def test_sweep_deterministic_across_chunks_and_threads(teacup):
    import numba
    sampler = S.LatinHypercube({"Characteristic Time": S.Uniform(4, 16),
                                "Room Temperature": S.Triangular(60, 70, 85)}, 1500)
    kw = dict(outputs=["Teacup Temperature", "Heat Loss to Room"], times="all",
              stats=["mean", "std", "p10", "p90"], seed=11, progress=False)
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        a = sweep(teacup, sampler, chunk_size=1500, **kw)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        b = sweep(teacup, sampler, chunk_size=97, **kw)
        c = sweep(teacup, sampler, chunk_size=97, keep_runs=False, **kw)
        d = sweep(teacup, sampler, chunk_size=400, keep_runs=False, **kw)
    finally:
        numba.set_num_threads(old)
    assert np.array_equal(a.values, b.values)
    for k in ("mean", "std"):
        np.testing.assert_allclose(a.stats[k], b.stats[k], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(c.stats[k], d.stats[k], rtol=1e-12, atol=1e-12)
    for k in ("p10", "p90"):
        assert np.array_equal(a.stats[k], b.stats[k])
        assert np.array_equal(c.stats[k], d.stats[k])       # sketch state independent of chunking
        assert np.all(np.abs(c.stats[k] - a.stats[k]) <= c.stats_error)
    want = closed_form(b.params["Room Temperature"], b.params["Characteristic Time"])
    np.testing.assert_allclose(b["Teacup Temperature"][:, -1], want, rtol=1e-12)


def test_stats_only_sweep_makes_parameters_chunk_by_chunk(teacup):
    """keep_runs=False: parameters are made one chunk at a time (nothing per run is kept), and
    runs get the same parameters and seeds as in a sweep that keeps them."""
    inner = S.Random({"Characteristic Time": S.Uniform(4, 16), "Room Temperature": S.Normal(70, 5)}, 1000)

    class Recording(S.Sampler):
        names = inner.names

        def __init__(self):
            self.asked = []

        def source(self, model=None, seed=None):
            src = inner.source(model, seed)
            return S.RowSource(src.n, lambda s, e: (self.asked.append((s, e)), src.rows(s, e))[1])

    kw = dict(outputs=["Teacup Temperature"], times="all", stats=["mean", "std", "p50"], seed=5,
              progress=False)
    rec = Recording()
    lazy = sweep(teacup, rec, keep_runs=False, chunk_size=64, **kw)
    assert max(e - s for s, e in rec.asked) <= 64
    assert sorted(set(rec.asked) - {(0, 1)}) == [(s, min(1000, s + 64)) for s in range(0, 1000, 64)]
    assert lazy.params == {} and lazy.seeds is None and len(lazy) == 1000
    other = sweep(teacup, inner, keep_runs=False, chunk_size=300, **kw)
    kept = sweep(teacup, inner, keep_runs=True, chunk_size=1000, **kw)
    assert np.array_equal(lazy.stats["p50"], other.stats["p50"])
    for k in ("mean", "std"):
        np.testing.assert_allclose(lazy.stats[k], kept.stats[k], rtol=1e-12, atol=1e-12)
    want = closed_form(kept.params["Room Temperature"], kept.params["Characteristic Time"])
    np.testing.assert_allclose(kept["Teacup Temperature"][:, -1], want, rtol=1e-12)
    np.testing.assert_allclose(lazy.stats["mean"][-1, 0], want.mean(), rtol=1e-12)
    assert np.array_equal(kept.seeds, run_seeds(5, np.arange(1000)))


def test_scenarios_multipliers_and_cin(teacup, tmp_path):
    cin = tmp_path / "cold.cin"
    cin.write_text("Room Temperature = 40\nCharacteristic Time = 4\n")
    sc = S.Scenarios([S.Scenario("base"),
                      S.Scenario.multiply("slow", ["Characteristic Time", "Room Temperature"], 1.25),
                      S.Scenario("warm", set={"Room Temperature": 80}),
                      S.Scenario.from_cin(cin)])
    res = sweep(teacup, sc, outputs=["Teacup Temperature"], times="final", progress=False)
    assert res.labels.tolist() == ["base", "slow", "warm", "cold"]
    room = np.array([70, 87.5, 80, 40])
    char = np.array([10, 12.5, 10, 4])
    np.testing.assert_allclose(res.params["Room Temperature"], room)
    np.testing.assert_allclose(res.values[:, 0, 0], closed_form(room, char), rtol=1e-12)
    # multipliers apply to the value another sampler set
    prod = S.Product(S.Scenarios([S.Scenario("base"), S.Scenario.multiply("x2", ["Characteristic Time"], 2)]),
                     S.Grid({"Characteristic Time": [5, 10]}))
    res = sweep(teacup, prod, outputs=["Teacup Temperature"], times="final", progress=False)
    assert res.params["Characteristic Time"].tolist() == [5, 10, 10, 20]
    assert res.labels.tolist() == ["base", "base", "x2", "x2"]
    np.testing.assert_allclose(res.values[:, 0, 0], closed_form(70, np.array([5, 10, 10, 20.])), rtol=1e-12)
    tab = tmp_path / "t.cin"
    tab.write_text("some table (\n (0,0),(1,2))\n")
    with pytest.raises(ParameterError, match="'some table' is not a lookup"):
        sweep(teacup, S.Scenarios.from_cin([tab]), times="final", progress=False)


def test_dict_params_errors(teacup):
    with pytest.raises(ParameterError, match="not a variable"):
        sweep(teacup, {"Nope": [1, 2]}, progress=False)
    with pytest.raises(ParameterError, match="not a constant"):
        sweep(teacup, {"Heat Loss to Room": [1, 2]}, progress=False)
    with pytest.raises(ParameterError, match="different lengths"):
        sweep(teacup, {"Room Temperature": [1, 2], "Characteristic Time": [1, 2, 3]}, progress=False)


def test_to_pandas_layouts(teacup):
    pytest.importorskip("pandas")
    res = sweep(teacup, {"Characteristic Time": [5.0, 10.0]}, outputs=["Teacup Temperature"],
                times=[0, 30], stats=["mean"], progress=False)
    long = res.to_pandas()
    assert list(long.columns) == ["run", "seed", "param:Characteristic Time", "time", "Teacup Temperature"]
    assert long["run"].tolist() == [0, 0, 1, 1] and long["time"].tolist() == [0, 30, 0, 30]
    np.testing.assert_allclose(long["Teacup Temperature"].iloc[3], closed_form(70, 10.0))
    wide = res.to_pandas("wide")
    np.testing.assert_allclose(wide[("Teacup Temperature", 30.0)].to_numpy(), closed_form(70, np.array([5, 10.])))
    st = res.to_pandas("stats")
    assert st["stat"].tolist() == ["mean", "mean"]


def test_salib_designs(teacup):
    pytest.importorskip("SALib", reason="SALib not installed (pip install 'smartspec[sensitivity]')")
    from SALib.analyze import sobol
    bounds = {"Characteristic Time": (5.0, 15.0), "Room Temperature": (60.0, 80.0)}
    m = S.Morris(bounds, trajectories=10)
    t = m.table(seed=2)
    assert t.n == 10 * 3 and np.array_equal(t.columns["Room Temperature"], m.table(seed=2).columns["Room Temperature"])
    sal = S.Saltelli(bounds, base=256)
    res = sweep(teacup, sal, outputs=["Teacup Temperature"], times="final", seed=1, progress=False)
    assert len(res) == 256 * 6
    si = sobol.analyze(sal.problem(), res.values[:, 0, 0], seed=1)
    # the teacup's final temperature depends on both; total indices are meaningful
    assert np.all(si["ST"] > 0.05) and abs(si["S1"].sum() - 1) < 0.2


def test_progress_bar_and_callback(teacup, capsys):
    pytest.importorskip("tqdm")
    seen = []
    sweep(teacup, {"Room Temperature": np.arange(10.0)}, times="final", chunk_size=4, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(4, 10), (8, 10), (10, 10)]
    sweep(teacup, {"Room Temperature": np.arange(10.0)}, times="final", chunk_size=4, progress=True)
    err = capsys.readouterr().err
    assert "100%" in err and "run/s" in err
    sweep(teacup, {"Room Temperature": np.arange(10.0)}, times="final", chunk_size=4)   # stderr not a tty
    assert capsys.readouterr().err == ""


def test_merged_statistics_equal_one_pass_when_values_are_left_out():
    """Two parts merged (one with infinite and NaN values, one without) give the statistics
    of all their runs, per cell over the finite values."""
    x = _awkward_data(runs=400)
    first, rest = x[:300], np.nan_to_num(x[300:], nan=1.0, posinf=2.0, neginf=-2.0)
    names = ["count", "mean", "var", "min", "max"]
    a, b = (StreamingStats(names, *x.shape[1:], bins=64) for _ in range(2))
    a.add(first)
    b.add(rest)
    a.merge(b)
    r = a.result()
    both = np.concatenate([np.where(np.isfinite(first), first, np.nan), rest])
    assert np.array_equal(r["count"], np.isfinite(both).sum(0).astype(float))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean, lo = np.nanmean(both, 0), np.nanmin(both, 0)
    ok = np.isfinite(mean)
    np.testing.assert_allclose(r["mean"][ok], mean[ok], rtol=1e-9, atol=1e-9 * np.nanmax(np.abs(both[:, ok])))
    assert np.array_equal(r["min"], lo, equal_nan=True)


def test_na_is_left_out_of_statistics_like_nan(tmp_path):
    """Vensim's :NA: (INTERNAL RATE OF RETURN with no rate in -1 to +1, its help) is no number:
    counted per output and left out of the statistics. By hand, -100 + s/g + s/g^2 + s/g^3 = 0
    gives g - 1 = 0.363097 for s = 60 and -0.050885 for s = 30; s = 200 needs a rate above 1."""
    import smartspec_dsl
    from smartspec_dsl.ir import NA_VALUE
    p = tmp_path / "irr.mdl"
    p.write_text("stream = 60 ~~|\nirr = INTERNAL RATE OF RETURN(stream, 1, -100, 0) ~~|\n"
                 "INITIAL TIME = 0 ~~|\nFINAL TIME = 3 ~~|\nTIME STEP = 1 ~~|\nSAVEPER = 1 ~~|\n")
    m = smartspec_dsl.load(str(p))
    for keep in (True, False):
        r = sweep(m, {"stream": [60, 30, 200]}, outputs=["irr"], times="final",
                  stats=["mean", "min", "max", "p50"], keep_runs=keep, tier="interpreter")
        assert r.info["bad_runs"] == {"irr": 1}
        assert r.stats["min"][0, 0] == pytest.approx(-0.050885, abs=1e-6)
        assert r.stats["max"][0, 0] == pytest.approx(0.363097, abs=1e-6)
        assert r.stats["mean"][0, 0] == pytest.approx((0.363097 - 0.050885) / 2, abs=1e-6)
        assert r.stats["p50"][0, 0] == pytest.approx((0.363097 - 0.050885) / 2, abs=1e-6)
        if keep:
            assert r.values[2, 0, 0] == NA_VALUE        # the run's own value stays :NA:
