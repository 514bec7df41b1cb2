"""Sweep storage (Parquet chunks + manifest), resume, the TOML spec, `smartspec sweep` and `smartspec plot`."""
import json
import textwrap

import numpy as np
import pytest

from smartspec_dsl.errors import SpecError

pytest.importorskip("pyarrow")


SPEC = """
sampler = "lhs"
runs = 700
seed = 7
outputs = ["Teacup Temperature", "Heat Loss to Room"]
times = [0, 10, 30]
stats = ["mean", "std", "p5", "p50", "p95"]
chunk_size = 100
[parameters]
"Characteristic Time" = { dist = "uniform", low = 5, high = 15 }
"Room Temperature" = { dist = "normal", mean = 70, sd = 3 }
"""


def _files(d):
    return {p.name: p.read_bytes() for p in sorted((d / "chunks").glob("*.parquet"))}


def test_store_resume_equals_uninterrupted(teacup, tmp_path):
    from smartspec_dsl.experiments import samplers as S
    from smartspec_dsl.experiments.store import SweepStore, load
    from smartspec_dsl.experiments.sweep import sweep
    sampler = S.Sobol({"Characteristic Time": S.Uniform(5, 15)}, 1000)
    kw = dict(outputs=["Teacup Temperature"], times="all", seed=3, chunk_size=128, progress=False,
              keep_runs=False, stats=["mean", "p50"])
    full = sweep(teacup, sampler, store=SweepStore(tmp_path / "a"), **kw)
    man = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert man["complete"] and man["n_chunks"] == 8 and man["chunks_done"] == list(range(8))
    assert man["layout"] == "long" and man["schema"]["run"] == "int64" and man["schema"]["seed"] == "uint64"
    assert man["schema"]["param:Characteristic Time"] == "double" and "Teacup Temperature" in man["schema"]
    # interrupted: a sweep that dies after chunk 2
    calls = []

    def stop(done, total):
        calls.append(done)
        if done >= 384:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sweep(teacup, sampler, store=SweepStore(tmp_path / "b"), **{**kw, "progress": stop})
    assert sorted(p.name for p in (tmp_path / "b" / "chunks").iterdir()) == \
        [f"chunk-{i:06d}.parquet" for i in range(3)]
    with pytest.raises(SpecError, match="already holds a sweep"):
        sweep(teacup, sampler, store=SweepStore(tmp_path / "b"), **kw)
    with pytest.raises(SpecError, match="spec changed"):
        sweep(teacup, sampler, store=SweepStore(tmp_path / "b", resume=True), **{**kw, "seed": 4})
    resumed = sweep(teacup, sampler, store=SweepStore(tmp_path / "b", resume=True), **kw)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    for k in full.stats:
        assert np.array_equal(full.stats[k], resumed.stats[k])
    # delete chunks of a finished sweep, resume
    for i in (1, 6):
        (tmp_path / "a" / "chunks" / f"chunk-{i:06d}.parquet").unlink()
    sweep(teacup, sampler, store=SweepStore(tmp_path / "a", resume=True), **kw)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    # read back: values equal an in-memory sweep and the closed form
    back = load(tmp_path / "a")
    mem = sweep(teacup, sampler, **{**kw, "keep_runs": True})
    assert np.array_equal(back.values, mem.values)
    char = back.params["Characteristic Time"]
    np.testing.assert_allclose(back.values[:, -1, 0], 70 + 110 * (1 - 0.125 / char) ** 240, rtol=1e-12)
    assert np.array_equal(back.seeds, mem.seeds) and np.array_equal(back.stats["p50"], full.stats["p50"])


def test_wide_layout_schema(teacup, tmp_path):
    import pyarrow.parquet as pq
    from smartspec_dsl.experiments.store import SweepStore, load
    from smartspec_dsl.experiments.sweep import sweep
    res = sweep(teacup, {"Room Temperature": [60.0, 80.0]}, outputs=["Teacup Temperature"], times=[10, 30],
                progress=False, store=SweepStore(tmp_path / "w", layout="wide"))
    t = pq.read_table(tmp_path / "w" / "chunks" / "chunk-000000.parquet")
    assert t.column_names == ["run", "seed", "param:Room Temperature",
                              "Teacup Temperature@10", "Teacup Temperature@30"]
    assert np.array_equal(t.column("Teacup Temperature@30").to_numpy(), res.values[:, 1, 0])
    assert np.array_equal(load(tmp_path / "w").values, res.values)


def _write(tmp_path, text, name="spec.toml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


@pytest.mark.parametrize("edit, message", [
    (("sampler = \"lhs\"", "sampler = \"lhx\""), "sampler: unknown sampler 'lhx'"),
    (("high = 15", "high = 1"), "parameters.\"Characteristic Time\": uniform: low (5) > high (1)"),
    (("\"Room Temperature\" = {", "\"Heat Loss to Room\" = {"),
     "parameters.\"Heat Loss to Room\": 'Heat Loss to Room' is a flow, not a constant"),
    (("\"Room Temperature\" = {", "\"Nope\" = {"), "parameters.\"Nope\": 'Nope' is not a variable"),
    (("\"Room Temperature\" = {", "\"FINAL TIME\" = {"), "is a simulation control"),
    (("runs = 700", ""), "runs: missing key"),
    (("sd = 3", "sigma = 3"), "needs key 'sd'"),
    (("seed = 7", "seeds = 7"), "seeds: unknown key"),
    (("\"p95\"", "\"p195\""), "stats: unknown statistic 'p195'"),
    (("times = [0, 10, 30]", "times = [0, 10.3]"), "time 10.3 is not a saved time"),
    (("outputs = [\"Teacup Temperature\",", "outputs = [\"Tea\","), "outputs: 'Tea' is not a variable"),
    (("chunk_size = 100", "chunk_size = 0"), "chunk_size: must be an integer >= 1"),
])
def test_bad_specs(teacup, tmp_path, edit, message):
    from smartspec_dsl.experiments.spec import read_spec
    p = _write(tmp_path, SPEC.replace(*edit))
    with pytest.raises(SpecError) as err:
        read_spec(p, teacup)
    assert str(err.value).startswith(str(p) + ": ") and message in str(err.value), str(err.value)


def test_spec_grid_table_scenarios(teacup, tmp_path):
    from smartspec_dsl.experiments.spec import read_spec
    from smartspec_dsl.experiments.sweep import sweep
    (tmp_path / "runs.csv").write_text("scenario,Room Temperature\na,60\nb,75\n")
    (tmp_path / "hot.cin").write_text("Room Temperature = 90\n")
    grid = _write(tmp_path, """
        times = "final"
        outputs = ["Teacup Temperature"]
        [parameters]
        "Characteristic Time" = { low = 5, high = 10, num = 3 }
        "Room Temperature" = [60, 80]
        [[scenarios]]
        name = "base"
        [[scenarios]]
        name = "hot"
        cin = "hot.cin"
        [[scenarios]]
        name = "slow"
        group = ["Characteristic Time"]
        factor = 2
        """)
    with pytest.raises(SpecError, match="set by both samplers"):
        read_spec(grid, teacup)
    grid.write_text(grid.read_text().replace('"Room Temperature" = [60, 80]', ""))
    spec = read_spec(grid, teacup)
    res = sweep(teacup, spec.sampler, progress=False)
    assert res.labels.tolist() == ["base"] * 3 + ["hot"] * 3 + ["slow"] * 3
    char = np.array([5, 7.5, 10] * 2 + [10, 15, 20.])
    room = np.array([70.] * 3 + [90.] * 3 + [70.] * 3)
    np.testing.assert_allclose(res.values[:, 0, 0], room + (180 - room) * (1 - 0.125 / char) ** 240, rtol=1e-12)
    table = _write(tmp_path, 'sampler = "table"\ntable = "runs.csv"\ntimes = "final"\n', "t.toml")
    res = sweep(teacup, read_spec(table, teacup).sampler, progress=False)
    assert res.labels.tolist() == ["a", "b"] and res.params["Room Temperature"].tolist() == [60, 75]


def test_cli_sweep_resume_and_plot(teacup_path, tmp_path, capsys):
    from smartspec_dsl.cli import main
    spec = _write(tmp_path, SPEC)
    out = tmp_path / "out"
    assert main(["sweep", str(teacup_path), "--spec", str(spec), "-o", str(out), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "700 runs x 3 times x 2 outputs" in err and "runs/s" in err
    before = _files(out)
    assert len(before) == 7 and (out / "stats.parquet").exists() and (out / "params.parquet").exists()
    assert main(["sweep", str(teacup_path), "--spec", str(spec), "-o", str(out)]) == 2
    assert "already holds a sweep" in capsys.readouterr().err
    (out / "chunks" / "chunk-000004.parquet").unlink()
    assert main(["sweep", str(teacup_path), "--spec", str(spec), "-o", str(out), "--resume",
                 "--no-progress"]) == 0
    assert _files(out) == before
    assert "700 runs" in capsys.readouterr().err
    bad = _write(tmp_path, SPEC.replace("lhs", "nope"), "bad.toml")
    assert main(["sweep", str(teacup_path), "--spec", str(bad), "-o", str(tmp_path / "o2")]) == 2
    msg = capsys.readouterr().err
    assert msg.startswith(f"error: {bad}: sampler: unknown sampler 'nope'") and not (tmp_path / "o2").exists()
    # plots
    pytest.importorskip("matplotlib")
    for args in (["plot", str(out), "-o", str(tmp_path / "fan.png")],
                 ["plot", str(out), "-o", str(tmp_path / "sc.png"), "--kind", "scatter", "--time", "10",
                  "--var", "Heat Loss to Room"],
                 ["plot", str(teacup_path), "-o", str(tmp_path / "run.png"), "--set", "Room Temperature=60"]):
        assert main(args) == 0
        png = tmp_path / args[3].split("/")[-1]
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    assert main(["plot", str(out), "-o", str(tmp_path / "x.png"), "--var", "Nope"]) == 2
    assert "'Nope' is not an output" in capsys.readouterr().err
