"""Integration methods against hand-derived solutions of the teacup model:
dT/dt = -(T - 70)/10, T(0) = 180, TIME STEP 0.125."""
import numpy as np

import smartspec_dsl



def test_euler_recurrence(teacup):
    r = teacup.run(return_columns=["Teacup Temperature"])
    n = np.arange(len(r.time))
    g = 1 - 0.125 / 10                              # one Euler step of a linear decay
    assert np.allclose(r.values[:, 0], 70 + 110 * g ** n, rtol=1e-13)


def test_rk4_recurrence(teacup):
    r = teacup.run(return_columns=["Teacup Temperature"], method="rk4")
    h = 0.125 / 10
    g = 1 - h + h ** 2 / 2 - h ** 3 / 6 + h ** 4 / 24   # RK4's growth factor on y' = -y/10
    n = np.arange(len(r.time))
    assert np.allclose(r.values[:, 0], 70 + 110 * g ** n, rtol=1e-13)
    assert np.allclose(r.values[:, 0], 70 + 110 * np.exp(-r.time / 10), rtol=1e-9)


def test_saveper_and_final_time_overrides(teacup):
    r = teacup.run(final_time=10, saveper=2.5, return_columns=["Teacup Temperature"])
    assert list(r.time) == [0, 2.5, 5, 7.5, 10]
    g = 1 - 0.125 / 10
    assert np.allclose(r.values[:, 0], 70 + 110 * g ** (r.time / 0.125), rtol=1e-13)


def test_load_announces_a_compile_and_only_a_compile(tmp_path):
    path = tmp_path / "m.mdl"
    path.write_text("x = INTEG(1, 0) ~~|\nINITIAL TIME = 0 ~~|\nFINAL TIME = 2 ~~|\n"
                    "TIME STEP = 1 ~~|\nSAVEPER = 1 ~~|\n")
    heard: list[str] = []
    first = smartspec_dsl.load(path, cache_dir=tmp_path / "cache", log=heard.append, tier="compiled")
    assert not first.cached and len(heard) == 1 and "compiling" in heard[0] and str(path) in heard[0]
    again = smartspec_dsl.load(path, cache_dir=tmp_path / "cache", log=heard.append, tier="compiled")
    assert again.cached and len(heard) == 1
    assert again.run()["x"].tolist() == [0.0, 1.0, 2.0]


def test_reprs_summarise(tmp_path):
    """Notebook-friendly reprs: what a model, a run and a sweep hold, in one line."""
    import smartspec_dsl
    from smartspec_dsl.experiments.samplers import LatinHypercube, Uniform
    from smartspec_dsl.experiments.sweep import sweep
    path = tmp_path / "m.mdl"
    path.write_text("k = 0.5 ~~|\nx = INTEG(-k * x, 1) ~~|\nINITIAL TIME = 0 ~~|\nFINAL TIME = 4 ~~|\n"
                    "TIME STEP = 0.5 ~~|\nSAVEPER = 1 ~~|\n")
    m = smartspec_dsl.load(path, cache_dir=tmp_path / "cache")
    assert repr(m) == "<Model m.mdl: 1 constant, 1 stock; t = 0 to 4, TIME STEP 0.5>"
    assert repr(m.run()) == ("<Result: 5 saved times (t = 0 to 4) x 6 columns: "
                             "k, x, INITIAL TIME, FINAL TIME, ... (2 more)>")
    res = sweep(m, LatinHypercube({"k": Uniform(0, 1)}, 10), seed=3, times="final", stats=["mean"],
                keep_runs=False)
    assert repr(res) == ("<SweepResult: 10 runs x 1 saved time (t = 4) x 6 outputs (k, x, INITIAL TIME, ... "
                         "(3 more)); no values kept; stats mean; seed 3>")


def test_result_plot(tmp_path):
    """Result.plot draws each named column against time on the Axes it returns."""
    import matplotlib
    matplotlib.use("Agg")
    import smartspec_dsl
    path = tmp_path / "m.mdl"
    path.write_text("k = 0.5 ~~|\nx = INTEG(-k * x, 1) ~~|\nINITIAL TIME = 0 ~~|\nFINAL TIME = 4 ~~|\n"
                    "TIME STEP = 0.5 ~~|\nSAVEPER = 1 ~~|\n")
    r = smartspec_dsl.load(path, cache_dir=tmp_path / "cache").run()
    ax = r.plot("x")
    (line,) = ax.get_lines()
    assert line.get_label() == "x"
    assert list(line.get_xdata()) == list(r.time) and list(line.get_ydata()) == list(r["x"])
    assert [ln.get_label() for ln in r.plot().get_lines()] == ["k", "x"]   # control variables left out
