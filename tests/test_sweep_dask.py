"""Sweeps on a 2-worker dask LocalCluster (loopback) equal a local sweep."""
import numpy as np
import pytest

from conftest import shared_path

pytest.importorskip("dask.distributed", reason="dask.distributed not installed (pip install 'smartspec[dask]')")
pytest.importorskip("pyarrow")


def test_dask_sweep_equals_local(tmp_path):
    import smartspec_dsl
    from dask.distributed import Client, LocalCluster
    from smartspec_dsl.experiments import samplers as S
    from smartspec_dsl.experiments.store import SweepStore
    from smartspec_dsl.experiments.sweep import sweep
    model = smartspec_dsl.load(shared_path("test-models", "samples", "teacup", "teacup.mdl"))
    sampler = S.LatinHypercube({"Characteristic Time": S.Uniform(5, 15), "Room Temperature": S.Uniform(60, 80)}, 900)
    kw = dict(outputs=["Teacup Temperature"], times=[0, 15, 30], seed=5, chunk_size=100,
              stats=["mean", "std", "p5", "p95"], progress=False)
    local = sweep(model, sampler, store=SweepStore(tmp_path / "local"), **kw)
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                      processes=True) as cluster, Client(cluster) as client:
        remote = sweep(model, sampler, store=SweepStore(tmp_path / "dask"), client=client, **kw)
        workers = {w for w in client.run(lambda: 1)}
        # runs with simulation warnings are counted on the workers too: y = tbl(d) leaves
        # tbl's x range [0, 1] in the runs d = 2 and d = 4; x = 8/d is infinite for d = 0: 4 runs
        div = tmp_path / "div.mdl"
        div.write_text("d = 1 ~~|\nx = 8 / d ~~|\ntbl((0,0),(1,1)) ~~|\ny = tbl(d) ~~|\n"
                       "INITIAL TIME = 0 ~~| FINAL TIME = 2 ~~| TIME STEP = 1 ~~| SAVEPER = 1 ~~|\n")
        warned = sweep(smartspec_dsl.load(div), {"d": np.array([2.0, 0.0, 1.0, 0.0, 4.0])}, seed=1,
                       chunk_size=2, times="final", progress=False, client=client,
                       store=SweepStore(tmp_path / "div"))
    assert warned.info["runs_with_warnings"] == 4 and warned.info["bad_runs"] == {"x": 2}
    assert len(workers) == 2
    assert np.array_equal(local.values, remote.values)
    for k in local.stats:
        assert np.array_equal(local.stats[k], remote.stats[k])
    files = lambda d: {p.name: p.read_bytes() for p in sorted((d / "chunks").glob("*.parquet"))}
    assert files(tmp_path / "local") == files(tmp_path / "dask") and len(files(tmp_path / "dask")) == 9
    room, char = remote.params["Room Temperature"], remote.params["Characteristic Time"]
    np.testing.assert_allclose(remote.values[:, -1, 0], room + (180 - room) * (1 - 0.125 / char) ** 240,
                               rtol=1e-12)
