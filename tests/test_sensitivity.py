"""Sensitivity indices (smartspec_dsl.experiments.sensitivity) against values derived by hand:
y = a + 2 b and z(2) = 2 a b (Euler, two steps of a*b) with a ~ U(0, 1), b ~ U(0, 2)."""
import csv
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("SALib")

from smartspec_dsl import load  # noqa: E402
from smartspec_dsl.experiments import sensitivity  # noqa: E402
from smartspec_dsl.errors import SpecError  # noqa: E402
from smartspec_dsl.experiments.samplers import LatinHypercube, Morris, Saltelli, Uniform  # noqa: E402

MODEL = """
a = 0.5 ~~|
b = 1 ~~|
c = 3 ~~|
y = a + 2 * b ~~|
z = INTEG(a * b, 0) ~~|
INITIAL TIME = 0 ~~|
FINAL TIME = 2 ~~|
TIME STEP = 1 ~~|
SAVEPER = 1 ~~|
"""
BOUNDS = {"a": (0, 1), "b": (0, 2), "c": (0, 1)}


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("sa")
    (d / "lin.mdl").write_text(MODEL)
    return load(d / "lin.mdl", cache_dir=d / "cache")


def test_sobol_indices(model):
    res, idx = sensitivity.run(model, Saltelli(BOUNDS, 1024), outputs=["y", "z"], seed=1)
    assert len(res.runs) == 1024 * (2 * 3 + 2) and idx.time == 2
    y, z = idx.values["y"], idx.values["z"]
    # y: Var(a) = 1/12, Var(2b) = 16/12, so S1 = ST = 1/17 and 16/17; c does nothing
    np.testing.assert_allclose(y["S1"], [1 / 17, 16 / 17, 0], atol=0.02)
    np.testing.assert_allclose(y["ST"], [1 / 17, 16 / 17, 0], atol=0.02)
    # z = 2ab: Var = 4 (E a^2 E b^2 - (E a E b)^2) = 4 * 7/36; S1 = 3/7 each, ST = 4/7 each
    np.testing.assert_allclose(z["S1"], [3 / 7, 3 / 7, 0], atol=0.04)
    np.testing.assert_allclose(z["ST"], [4 / 7, 4 / 7, 0], atol=0.04)
    rows = list(idx.rows())
    assert [r[1] for r in rows[:3]] == ["b", "a", "c"]          # y's parameters, most influential first


def test_morris_elementary_effects(model):
    # per unit of the range scaled to [0, 1]: a's effect 1, b's 2 * 2 = 4, exactly (y is linear)
    _, idx = sensitivity.run(model, Morris(BOUNDS, 20), outputs=["y"], time=1, seed=1)
    np.testing.assert_allclose(idx.values["y"]["mu_star"], [1, 4, 0], atol=1e-12)
    np.testing.assert_allclose(idx.values["y"]["sigma"], [0, 0, 0], atol=1e-12)


def test_needs_a_design_and_the_runs(model):
    with pytest.raises(SpecError, match="morris or saltelli design"):
        sensitivity.run(model, LatinHypercube({"a": Uniform(0, 1)}, 10))
    from smartspec_dsl.experiments.sweep import sweep
    res = sweep(model, Saltelli(BOUNDS, 8), keep_runs=False, stats=["mean"], seed=1)
    with pytest.raises(SpecError, match="keep_runs=True"):
        sensitivity.analyze(res, Saltelli(BOUNDS, 8))


def test_cli(model, tmp_path):
    spec = tmp_path / "sobol.toml"
    spec.write_text('sampler = "saltelli"\nruns = 512\nseed = 3\noutputs = ["y"]\n[parameters]\n'
                    'a = { low = 0, high = 1 }\nb = { low = 0, high = 2 }\n')
    out = tmp_path / "idx.csv"
    cmd = [sys.executable, "-m", "smartspec_dsl.cli", "sensitivity", str(model.path), "--spec", str(spec),
           "-o", str(out)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    rows = list(csv.DictReader(out.open()))
    assert [r["parameter"] for r in rows] == ["b", "a"]
    assert abs(float(rows[0]["S1"]) - 16 / 17) < 0.03
    assert "y at t = 2 (saltelli)" in p.stdout

    spec.write_text('sampler = "lhs"\nruns = 10\n[parameters]\na = { dist = "uniform", low = 0, high = 1 }\n')
    p = subprocess.run(cmd, capture_output=True, text=True)
    assert p.returncode == 2 and 'sensitivity needs "morris" or "saltelli", got \'lhs\'' in p.stderr


def test_default_outputs_are_those_that_vary(model):
    # a, b and c are the design's own parameters; the control variables never vary
    _, idx = sensitivity.run(model, Saltelli(BOUNDS, 16), seed=2)
    assert list(idx.values) == ["y", "z"]


def test_cli_on_a_stored_sweep(model, tmp_path):
    """`smartspec sensitivity OUTDIR` analyses what `smartspec sweep` stored, and gives
    exactly what running the spec directly gives."""
    pytest.importorskip("pyarrow")
    spec = tmp_path / "sobol.toml"
    spec.write_text('sampler = "saltelli"\nruns = 256\nseed = 4\noutputs = ["y", "z"]\nchunk_size = 500\n'
                    '[parameters]\na = { low = 0, high = 1 }\nb = { low = 0, high = 2 }\n')
    cli = [sys.executable, "-m", "smartspec_dsl.cli"]
    out = tmp_path / "sweep"
    p = subprocess.run(cli + ["sweep", str(model.path), "--spec", str(spec), "-o", str(out), "--no-progress"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    stored, direct = tmp_path / "stored.csv", tmp_path / "direct.csv"
    for args in ([str(out), "-o", str(stored)], [str(model.path), "--spec", str(spec), "-o", str(direct)]):
        p = subprocess.run(cli + ["sensitivity", *args], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
    assert stored.read_text() == direct.read_text()
    rows = list(csv.DictReader(stored.open()))
    assert abs(float(rows[0]["S1"]) - 16 / 17) < 0.05 and rows[0]["parameter"] == "b"

    (out / "chunks" / "chunk-000001.parquet").unlink()   # as if interrupted
    manifest = (out / "manifest.json").read_text().replace('"complete": true', '"complete": false')
    (out / "manifest.json").write_text(manifest)
    p = subprocess.run(cli + ["sensitivity", str(out)], capture_output=True, text=True)
    assert p.returncode == 2 and "the sweep is incomplete" in p.stderr and "--resume" in p.stderr


def test_na_gives_nan_indices_not_numbers(tmp_path):
    # INTERNAL RATE OF RETURN is :NA: (-1.298e33) for a stream whose rate is above 1 (Vensim's
    # help): -100 + s/2 + s/4 + s/8 > 0 above s = 100 / 0.875; a run without a value has no
    # elementary effect: NaN, not one of about 1e33
    (tmp_path / "irr.mdl").write_text("stream = 60 ~~|\nother = 1 ~~|\n"
                                      "irr = INTERNAL RATE OF RETURN(stream, 1, -100, 0) ~~|\n"
                                      "INITIAL TIME = 0 ~~|\nFINAL TIME = 3 ~~|\nTIME STEP = 1 ~~|\n"
                                      "SAVEPER = 1 ~~|\n")
    m = load(tmp_path / "irr.mdl", cache_dir=tmp_path / "cache")
    res, idx = sensitivity.run(m, Morris({"stream": (30, 200), "other": (0, 1)}, 4), outputs=["irr"],
                               seed=1, tier="interpreter")
    assert res.info["bad_runs"] == {"irr": int(np.sum(res.params["stream"] > 100 / 0.875))} != {}
    assert not np.isfinite(idx.values["irr"]["mu_star"][0])
