"""Numbers that go bad are reported: a saved value that becomes inf or NaN, a lookup
input outside its x range, a variable outside the range its units declare (Vensim's
simulation warnings); --strict makes inf/NaN an error; sweeps count such runs.
Expected times are derived by hand from each equation."""
from __future__ import annotations

import json

import numpy as np
import pytest

import smartspec_dsl
from smartspec_dsl import ModelError
from smartspec_dsl.errors import ParameterError
from smartspec_dsl.experiments.sweep import sweep

from conftest import ROOT, run_cli

# TIME STEP 0.5, saved every 1:
#   x = 1 / (Time - 3): +inf at 3 (division by zero; error_model numpy, as Vensim's IEEE floats)
#   y = LN(Time - 2): NaN at 0 (LN of -2), first saved time
#   z = tbl(Time - 1), tbl's x range [0, 4]: below at 0 (input -1), back within at 1 (input 0),
#     above at 5.5 (input 4.5), a time step that is not saved
#   w = 10 * Time, declared [0, 50]: above at 5.5 (55; 50 at time 5 is within)
#   s = INTEG(1, 0), declared [0, ?]: never outside
BAD = """x = 1 / (Time - 3) ~~|
y = LN(Time - 2) ~~|
tbl((0,0),(2,2),(4,3)) ~~|
z = tbl(Time - 1) ~~|
w = Time * 10 ~ Widget [0, 50] ~|
s = INTEG(1, 0) ~ Widget [0,?] ~|
INITIAL TIME = 0 ~~| FINAL TIME = 8 ~~| TIME STEP = 0.5 ~~| SAVEPER = 1 ~~|
"""


@pytest.fixture(scope="module")
def bad_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("bad") / "bad.mdl"
    path.write_text(BAD, encoding="utf-8")
    return smartspec_dsl.load(path)


def test_inf_and_nan_name_variable_time_and_line(bad_model):
    ws = {(w.kind, w.variable): w for w in bad_model.run().warnings}
    x, y = ws[("inf", "x")], ws[("nan", "y")]
    assert (x.time, x.pos.line) == (3.0, 1) and "'x' is +inf at time 3" in x.message
    assert (y.time, y.pos.line) == (0.0, 2) and "'y' is NaN at time 0" in y.message
    assert x.message.startswith(f"{x.pos.file}:1:")


def test_lookup_leaving_and_reentering_its_range(bad_model):
    got = [(w.time, w.message.split(" ", 1)[1]) for w in bad_model.run().warnings if w.kind == "lookup"]
    where = "the input of lookup 'tbl' in the equation of 'z'"
    assert got == [(0.0, f"{where} goes below its x range [0, 4] at time 0"),
                   (1.0, f"{where} comes back within its x range [0, 4] at time 1"),
                   (5.5, f"{where} goes above its x range [0, 4] at time 5.5")]


def test_variable_leaving_its_declared_range(bad_model):
    got = [(w.variable, w.time) for w in bad_model.run().warnings if w.kind == "range"]
    assert got == [("w", 5.5)]


def test_at_one_time_the_nan_comes_first_where_it_is_made(tmp_path):
    """births reads share = pop / total = 0 / 0 (written after it): at time 0 share's NaN,
    the division, is shown before its readers', in the kernel's order, not the file's; the
    elements of one array that are NaN at one time for one reason are one warning."""
    path = tmp_path / "z.mdl"
    path.write_text("region: (r1-r3) ~~|\npop[region] = INTEG(births[region], 0) ~~|\n"
                    "births[region] = pop[region] * 0.01 * share[region] ~~|\ntotal = SUM(pop[region!]) ~~|\n"
                    "share[region] = pop[region] / total ~~|\nINITIAL TIME = 0 ~~|\nFINAL TIME = 2 ~~|\n"
                    "TIME STEP = 1 ~~|\nSAVEPER = 1 ~~|\n")
    nan = [w for w in smartspec_dsl.load(path, tier="interpreter").run().warnings if w.kind == "nan"]
    assert [w.variable for w in nan[:2]] == ["share", "births"], nan
    assert nan[0].time == 0 and nan[0].message.startswith(
        f"{path}:5:1: 'share' is NaN at time 0 in 3 of its elements ([r1], [r2], [r3]): a floating-point error"), \
        nan[0]


def test_warnings_are_in_time_order(bad_model):
    times = [w.time for w in bad_model.run().warnings]
    assert times == sorted(times) and len(times) == 6


def test_strict_raises(bad_model):
    with pytest.raises(ModelError, match=r"(?s)infinite or NaN.*'y' is NaN at time 0") as err:
        bad_model.run(strict=True)
    assert err.value.exit_code == 3
    # y is not saved here, and still makes the run an error
    with pytest.raises(ModelError, match=r"'y' is NaN at time 0 \(not saved\)"):
        bad_model.run(strict=True, final_time=1, params={}, return_columns=["w"])
    ok = smartspec_dsl.load(ROOT / "tests" / "data" / "teacup.mdl").run(strict=True)
    assert not [w for w in ok.warnings if w.kind in ("nan", "inf")]


def test_cli_strict_exit_3_and_no_output(tmp_path):
    model = tmp_path / "bad.mdl"
    model.write_text(BAD, encoding="utf-8")
    out = tmp_path / "out.csv"
    proc = run_cli("run", model, "-o", out, "--strict", cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr and "'x' is +inf at time 3" in proc.stderr
    assert not out.exists()
    proc = run_cli("run", model, "-o", out, cwd=tmp_path)
    assert proc.returncode == 0 and out.exists()
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("warning: ")]
    assert len(lines) == 6 and "goes above its x range [0, 4] at time 5.5" in proc.stderr
    assert not [ln for ln in run_cli("run", model, "-o", out, "--quiet", cwd=tmp_path).stderr.splitlines()
                if ln.startswith("warning: ")]


def test_teacup_below_its_declared_range(tmp_path):
    """Teacup Temperature is declared [32, 212]; in a room at 0 it cools as
    T(t + dt) = T(t) (1 - dt/10) from 180: below 32 once (0.9875)^n < 32/180, n = 138
    steps of 0.125 (0.9875^137 = 0.17848 > 32/180 = 0.17778 > 0.9875^138 = 0.17625): t = 17.25."""
    model = smartspec_dsl.load(ROOT / "tests" / "data" / "teacup.mdl")
    ws = [w for w in model.run(params={"Room Temperature": 0}).warnings if w.kind == "range"]
    assert [(w.variable, w.time) for w in ws] == [("Teacup Temperature", 17.25)]
    assert model.run().warnings == []


def test_unsorted_lookup_with_repeated_x_is_a_located_error(tmp_path):
    path = tmp_path / "dup.mdl"
    path.write_text("t((0,0),(1,1),\n(1,2),(2,3)) ~~|\nx = t(Time) ~~|\n"
                    "INITIAL TIME = 0 ~~| FINAL TIME = 1 ~~| TIME STEP = 1 ~~| SAVEPER = 1 ~~|\n")
    with pytest.raises(ModelError, match=r"dup.mdl:1:\d+: a lookup gives two points at x = 1 with different "
                                         r"y values \(1 and 2\)"):
        smartspec_dsl.load(path)
    cin = tmp_path / "dup.cin"
    cin.write_text("t (\n(0,0),(2,1),(2,2))\n")
    good = tmp_path / "good.mdl"
    good.write_text(path.read_text().replace("(1,2),", ""))
    with pytest.raises(ModelError, match=r"dup.cin:1: lookup table 't' gives two points at x = 2 with "
                                         r"different y values \(1 and 2\)"):
        smartspec_dsl.load(good).run(changes=str(cin))


def test_a_point_written_twice_is_read_once_with_a_located_warning(tmp_path):
    """A published model (the salinization model shipped with the EMA workbench) writes
    (1986,46),(1986,46) in a lookup, and Vensim runs it: the same point twice is the same
    table, read once; two points at one x with different y values stay an error (above).
    Values by hand: (1985,45.4), (1986,46), (1987,48)."""
    path = tmp_path / "twice.mdl"
    path.write_text("t((1985,45.4),(1986,46),(1986,46),(1987,48)) ~~|\nx = t(1985 + Time / 2) ~~|\n"
                    "INITIAL TIME = 0 ~~| FINAL TIME = 4 ~~| TIME STEP = 1 ~~| SAVEPER = 1 ~~|\n")
    run = smartspec_dsl.load(path, tier="interpreter").run(tier="interpreter")
    np.testing.assert_allclose(run["x"], [45.4, 45.7, 46, 47, 48], rtol=1e-12)
    assert [w.message for w in run.warnings if w.kind == "model"] == [
        f"{path}:1:3: a lookup gives the point (1986, 46) more than once: it is read once"]


def test_a_run_that_replaces_a_lookup_follows_the_files_rule_without_the_files_warning(tmp_path):
    """One rule for the points of a lookup wherever they come from (the file, a run's params,
    a changes file): read in x order, a point given twice read once, each with a warning
    naming where the points came from; two y values at one x refused. A run that replaces the
    lookup does not use the file's points, so the file's warning about them is not its own.
    By hand: the file's t1 (1980,40),(1986,46),(1990,50) gives 44..48 at 1984..1988; the
    replacement (1980,0),(1986,60),(1990,100) gives 40, 50, 60, 70, 80."""
    path = tmp_path / "dup.mdl"
    path.write_text("t1((1980,40),(1986,46),(1986,46),(1990,50)) ~~|\na = t1(Time) ~~|\n"
                    "INITIAL TIME = 1984 ~~| FINAL TIME = 1988 ~~| TIME STEP = 1 ~~| SAVEPER = 1 ~~|\n")
    model = smartspec_dsl.load(path, tier="interpreter")
    run = model.run(tier="interpreter")
    assert run["a"].tolist() == [44, 45, 46, 47, 48]
    assert [w.message for w in run.warnings] == [
        f"{path}:1:4: a lookup gives the point (1986, 46) more than once: it is read once"]
    cin = tmp_path / "t1.cin"
    cin.write_text("t1 (\n(1980,0),(1990,100),(1986,60),(1986,60))\n")
    for how, said in (({"params": {"t1": ((1980, 1986, 1986, 1990), (0, 60, 60, 100))}},
                       ["parameter 't1': the lookup gives the point (1986, 60) more than once: it is read once"]),
                      ({"params": {"t1": ((1980, 1990, 1986), (0, 100, 60))}},
                       ["parameter 't1': the x values of the lookup are not in increasing order (x = 1990 is "
                        "followed by x = 1986): its points are read in x order, as Vensim reads them"]),
                      ({"changes": str(cin)},
                       [f"{cin}:1: the x values of lookup table 't1' are not in increasing order (x = 1990 "
                        "is followed by x = 1986): its points are read in x order, as Vensim reads them; "
                        f"{cin}:1: lookup table 't1' gives the point (1986, 60) more than once: it is read once"])):
        run = model.run(tier="interpreter", **how)
        assert run["a"].tolist() == [40, 50, 60, 70, 80], how
        assert [w.message for w in run.warnings] == said, how
    with pytest.raises(ParameterError, match=r"parameter 't1': the lookup gives two points at x = 1986 with "
                                             r"different y values \(60 and 61\)"):
        model.run(params={"t1": ((1980, 1986, 1986), (0, 60, 61))})


def test_unsorted_lookup_is_read_in_x_order_with_a_located_warning(tmp_path):
    """Vensim reads a lookup's points in x order: its own output for the SDXorg case
    subscripted_lookups, whose table (2,-3),(1,-7),(0,-1) gives -1 at x = 0 and -4 at
    x = 0.5, is the sorted table's. smartspec does the same and says so, in the run's
    warnings and in `check`. Here t = ((2,4),(0,0),(1,1)) read as (0,0),(1,1),(2,4):
    x = t(Time) at Time 0, 0.5, 1, 1.5, 2 is 0, 0.5, 1, 2.5, 4."""
    path = tmp_path / "unsorted.mdl"
    path.write_text("t((2,4),(0,0),\n(1,1)) ~~|\nx = t(Time) ~~|\n"
                    "INITIAL TIME = 0 ~~| FINAL TIME = 2 ~~| TIME STEP = 0.5 ~~| SAVEPER = 0.5 ~~|\n")
    result = smartspec_dsl.load(path).run()
    assert result.values[:, result.columns.index("x")].tolist() == [0, 0.5, 1, 2.5, 4]
    notes = [w for w in result.warnings if w.kind == "model"]
    assert len(notes) == 1 and notes[0].time == 0
    assert notes[0].message.startswith(f"{path}:1:")
    assert "not in increasing order (x = 2 is followed by x = 0)" in notes[0].message
    proc = run_cli("check", path, cwd=tmp_path)
    assert proc.returncode == 0 and "x = 2 is followed by x = 0" in proc.stderr
    proc = run_cli("run", path, cwd=tmp_path)
    assert proc.returncode == 0 and "warning: " in proc.stderr and "increasing order" in proc.stderr
    assert "increasing order" not in run_cli("run", path, "--quiet", cwd=tmp_path).stderr


def test_unsorted_xmile_graphical_function_is_read_in_x_order_with_a_warning(tmp_path):
    """The same rule for XMILE's <gf>: xpts 2,0,1 with ypts 4,0,1 is the table
    (0,0),(1,1),(2,4); at TIME 0.5 it gives 0.5."""
    path = tmp_path / "unsorted.xmile"
    path.write_text('<?xml version="1.0" encoding="utf-8"?>\n<xmile version="1.0" '
                    'xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">\n<sim_specs><start>0</start>'
                    '<stop>1</stop><dt>0.5</dt></sim_specs><model><variables>\n<aux name="x"><eqn>TIME</eqn>'
                    '<gf><xpts>2,0,1</xpts><ypts>4,0,1</ypts></gf></aux>\n</variables></model></xmile>\n')
    result = smartspec_dsl.load(path).run()
    assert result.values[:, result.columns.index("x")].tolist() == [0, 0.5, 1]
    assert ["graphical function of 'x' are not in increasing order" in w.message
            for w in result.warnings] == [True]


DIV = """d = 1 ~~|
x = 8 / d ~~|
tbl((0,0),(1,1)) ~~|
y = tbl(d) ~~|
INITIAL TIME = 0 ~~| FINAL TIME = 2 ~~| TIME STEP = 1 ~~| SAVEPER = 1 ~~|
"""


@pytest.mark.parametrize("keep_runs", [True, False])
def test_sweep_counts_bad_runs_and_leaves_them_out(tmp_path, keep_runs):
    """x = 8/d over d = 1, 0, 2, 0, 4: two runs divide by zero; the statistics are those of
    8, 4, 2 (mean 14/3, population std sqrt(56/9), median 4); y = tbl(d) leaves tbl's
    x range [0, 1] in the runs d = 2 and d = 4."""
    path = tmp_path / "div.mdl"
    path.write_text(DIV, encoding="utf-8")
    model = smartspec_dsl.load(path)
    res = sweep(model, {"d": np.array([1.0, 0.0, 2.0, 0.0, 4.0])}, keep_runs=keep_runs, seed=1,
                progress=False, stats=["mean", "std", "count", "p50"], chunk_size=2, times="final")
    assert res.info["bad_runs"] == {"x": 2}
    assert res.info["runs_with_warnings"] == 4    # x infinite (d = 0) or tbl's range left
    j = res.outputs.index("x")
    assert res.stats["count"][-1, j] == 3
    assert res.stats["mean"][-1, j] == pytest.approx(14 / 3, rel=1e-12)
    assert res.stats["std"][-1, j] == pytest.approx(np.sqrt(56 / 9), rel=1e-12)
    assert res.stats["p50"][-1, j] == pytest.approx(4, rel=1e-2 if not keep_runs else 1e-12)


@pytest.mark.parametrize("tier", ["compiled", "interpreter"])
def test_sweep_counts_bad_runs_of_a_chunk_among_clean_ones(tmp_path, tier):
    """d = 1, 0.5 | 0, 1 | 0.25 in chunks of 2: only chunk 1 has a run with a warning (x = 8/d
    infinite at d = 0; tbl's x range [0, 1] holds everywhere). A chunk whose runs did not warn
    is not scanned for infinite values (its kernel's finite watch saw none): the count is still
    exact, and the statistics are those of 8, 16, 8, 32 (mean 16)."""
    path = tmp_path / "div.mdl"
    path.write_text(DIV, encoding="utf-8")
    model = smartspec_dsl.load(path)
    res = sweep(model, {"d": np.array([1.0, 0.5, 0.0, 1.0, 0.25])}, keep_runs=False, seed=1,
                progress=False, stats=["mean", "count"], chunk_size=2, times="all", tier=tier)
    assert res.info["bad_runs"] == {"x": 1} and res.info["runs_with_warnings"] == 1
    j = res.outputs.index("x")
    assert res.stats["count"][:, j].tolist() == [4, 4, 4]
    assert res.stats["mean"][:, j] == pytest.approx([16, 16, 16], rel=1e-12)


def test_sweep_cli_reports_bad_runs_in_summary_and_manifest(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "div.mdl"
    path.write_text(DIV, encoding="utf-8")
    spec = tmp_path / "spec.toml"
    spec.write_text('sampler = "grid"\nstats = ["mean"]\n[parameters]\nd = [1.0, 0.0, 2.0]\n')
    proc = run_cli("sweep", path, "--spec", spec, "-o", tmp_path / "out", "--no-progress", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "1 run gave infinite, NaN or :NA: values of 'x'" in proc.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["bad_runs"] == {"x": 1} and manifest["runs_with_warnings"] == 2


def test_sweep_counts_warnings_of_resumed_chunks(tmp_path):
    """d = 2, 0 | 1, 0 | 4 in chunks of 2: y = tbl(d) leaves tbl's x range [0, 1] in the
    runs d = 2 (chunk 0) and d = 4 (chunk 2), and x = 8/d is infinite in the runs d = 0
    (chunks 0 and 1): 4 runs with warnings. The sweep is stopped after chunk 0 is stored,
    then resumed: chunk 0's runs still count, in the result and the manifest."""
    pytest.importorskip("pyarrow")
    from smartspec_dsl.experiments.store import SweepStore
    path = tmp_path / "div.mdl"
    path.write_text(DIV, encoding="utf-8")
    model = smartspec_dsl.load(path)
    params = {"d": np.array([2.0, 0.0, 1.0, 0.0, 4.0])}

    def stop(done, total):
        raise KeyboardInterrupt

    kw = dict(seed=1, chunk_size=2, times="final", stats=["mean"])
    with pytest.raises(KeyboardInterrupt):
        sweep(model, params, store=SweepStore(tmp_path / "out"), progress=stop, **kw)
    assert SweepStore(tmp_path / "out").has_chunk(0) and not SweepStore(tmp_path / "out").has_chunk(1)
    res = sweep(model, params, store=SweepStore(tmp_path / "out", resume=True), progress=False, **kw)
    assert res.info["runs_with_warnings"] == 4 and res.info["bad_runs"] == {"x": 2}
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["runs_with_warnings"] == 4 and manifest["bad_runs"] == {"x": 2}


UNSAVED = """u = 1 / (Time - 2) ~~|
s = SMOOTH(u, 1) ~~|
k = 1 ~~|
w = Time * k ~~|
INITIAL TIME = 0 ~~| FINAL TIME = 4 ~~| TIME STEP = 0.5 ~~| SAVEPER = 1 ~~|
"""


@pytest.mark.parametrize("method, first", [("euler", ("u", 1)), ("rk4", ("s", 2))])
def test_a_variable_that_is_not_saved_is_reported_when_it_goes_infinite(tmp_path, method, first):
    """u = 1/(Time - 2) is +inf at time 2 (a saved time) and finite again after; s smooths it
    and is inf or NaN from then on: from time 2.5 with Euler, from time 2 with RK4, whose last
    stage of the step from 1.5 reads u at time 2. Only w is saved: the run still reports the
    first of them (the stocks come first), at time 2, with its line, and a strict run is an
    error; saving everything reports each once."""
    path = tmp_path / "unsaved.mdl"
    path.write_text(UNSAVED, encoding="utf-8")
    model = smartspec_dsl.load(path)
    bad = [w for w in model.run(return_columns=["w"], method=method).warnings if w.kind in ("nan", "inf")]
    who, line = first
    assert [(w.kind, w.variable, w.time, w.pos.line) for w in bad] == [("inf", who, 2.0, line)]
    assert f"'{who}' is +inf at time 2 (not saved)" in bad[0].message
    with pytest.raises(ModelError, match=f"'{who}' is \\+inf at time 2"):
        model.run(return_columns=["w"], strict=True, method=method)
    every = [w for w in model.run(method=method).warnings if w.kind in ("nan", "inf")]
    assert sorted((w.variable, w.time) for w in every) == \
        [("s", 2.0 if method == "rk4" else 3.0), ("u", 2.0)]
    res = sweep(model, {"k": np.array([1.0, 2.0])}, outputs=["w"], times="final", progress=False, seed=1)
    assert res.info["runs_with_warnings"] == 2 and res.info["bad_runs"] == {}


def test_a_nan_is_not_back_within_the_range(tmp_path):
    """w = v / v with v = 10 - Time: 1 while v is not 0, NaN at time 10 (0/0), declared
    [2, 3]: below from time 0, and a NaN at time 10 is not 'back within' [2, 3]."""
    path = tmp_path / "nan.mdl"
    path.write_text("v = 10 - Time ~~|\nw = v / v ~ Widget [2, 3] ~|\n"
                    "INITIAL TIME = 0 ~~| FINAL TIME = 12 ~~| TIME STEP = 1 ~~| SAVEPER = 1 ~~|\n")
    ws = [(w.kind, w.time, w.message.rsplit(" at time", 1)[0].split("'w' ", 1)[-1])
          for w in smartspec_dsl.load(path).run().warnings]
    assert ("range", 0.0, "goes below the range [2, 3] its units declare") in ws
    assert not [w for w in ws if "comes back" in w[2]] and ("nan", 10.0) in [w[:2] for w in ws]


@pytest.mark.parametrize("seed", [1.5, -1, 2 ** 52, 2 ** 64, float("nan"), True])
def test_a_seed_that_would_alias_another_is_refused(bad_model, seed):
    with pytest.raises(ModelError, match="seed must be a whole number from 0 to 2\\*\\*52 - 1"):
        bad_model.run(seed=seed)


def test_cli_seed_out_of_range_is_a_clean_error(tmp_path):
    model = tmp_path / "bad.mdl"
    model.write_text(BAD, encoding="utf-8")
    proc = run_cli("run", model, "--seed", str(2 ** 64), cwd=tmp_path)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr and "seed must be a whole number" in proc.stderr


def test_saveper_not_a_multiple_of_time_step_says_what_the_run_saves(tmp_path):
    """Values exist only at TIME STEPs: a SAVEPER between two multiples of TIME STEP saves
    every round(SAVEPER / TIME STEP) steps, and the run says so (Vensim's help: "TIME STEP
    should be equal to or smaller than SAVEPER"; it gives no rule for the rest). By hand,
    with TIME STEP 0.125 and Euler, s = INTEG(Time, 0) is 0.125**2 * k(k-1)/2 after k steps;
    SAVEPER 0.3 saves every 2 steps (0.25): k = 0, 2, 4, 6, 8 give 0, 1, 6, 15, 28 / 64."""
    path = tmp_path / "saveper.mdl"
    path.write_text("s = INTEG(Time, 0) ~~|\n"
                    "INITIAL TIME = 0 ~~| FINAL TIME = 1 ~~| TIME STEP = 0.125 ~~|\nSAVEPER = 0.3 ~~|\n")
    model = smartspec_dsl.load(path)
    result = model.run()
    assert result.time.tolist() == [0, 0.25, 0.5, 0.75, 1]
    assert result["s"].tolist() == [k / 64 for k in (0, 1, 6, 15, 28)]
    saving = [w for w in result.warnings if w.variable == "SAVEPER"]
    assert [w.message for w in saving] == [
        f"SAVEPER (0.3) is not a whole multiple of TIME STEP (0.125) (SAVEPER is defined at {path}:3:1) "
        f"(TIME STEP is defined at {path}:2:41): values exist only at TIME STEPs, so the run saves every "
        "2 TIME STEPs, every 0.25 (0, 0.25, 0.5, ...)"]
    # smaller than TIME STEP: every step, said; a multiple: nothing said
    fine = model.run(saveper=0.05)
    assert fine.time.tolist() == [k / 8 for k in range(9)]
    assert [w.message.split(":")[0] for w in fine.warnings] == [
        "SAVEPER (0.05) is less than TIME STEP (0.125) (SAVEPER as given to this run) (TIME STEP is defined at "
        f"{path}"]
    assert model.run(saveper=0.375).warnings == []
    proc = run_cli("run", path, cwd=tmp_path)
    assert proc.returncode == 0 and "warning: SAVEPER (0.3) is not a whole multiple" in proc.stderr
    assert "SAVEPER" not in run_cli("run", path, "--quiet", cwd=tmp_path).stderr


def test_inf_names_the_element_of_a_subscripted_variable(tmp_path):
    """x[r] = 1 / d[r] with d = 1, 0: x[b] divides by zero (+inf) from time 0, x[a] never."""
    path = tmp_path / "elements.mdl"
    path.write_text("r: a, b ~~|\nd[r] = 1, 0 ~~|\nx[r] = 1 / d[r] ~~|\n"
                    "INITIAL TIME = 0 ~~| FINAL TIME = 1 ~~| TIME STEP = 1 ~~| SAVEPER = 1 ~~|\n")
    model = smartspec_dsl.load(path)
    for columns in (None, ["d[a]"]):       # saved, and not saved
        bad = [w for w in model.run(return_columns=columns).warnings if w.kind == "inf"]
        assert [(w.variable, w.time, w.pos.line) for w in bad] == [("x[b]", 0.0, 3)], bad
        assert f"{path}:3:1: 'x[b]' is +inf at time 0" in bad[0].message


def test_tables_the_modeller_never_wrote_are_not_watched(tmp_path):
    """CUMULATEF's sums are a table lowering makes, nothing the modeller wrote or can act
    on, so no lookup warning names it; nor is the data variable read past its last time (7
    and 8 > 6, held at its end, as Vensim holds data). The data 1, 5, 2, 8 at times 0, 2, 4,
    6 sum to 16; d at odd times is interpolated (3, 3.5, 5)."""
    (tmp_path / "data.csv").write_text("Time,d\n0,1\n2,5\n4,2\n6,8\n")
    path = tmp_path / "g.mdl"
    path.write_text("d := GET DIRECT DATA('data.csv', ',', 'A', 'B2') ~~|\ncf = CUMULATEF(d) ~~|\n"
                    "INITIAL TIME = 0 ~~| FINAL TIME = 8 ~~| TIME STEP = 1 ~~| SAVEPER = 1 ~~|\n")
    result = smartspec_dsl.load(path).run()
    assert result["cf"].tolist() == [16.0] * 9
    assert result["d"].tolist() == [1, 3, 5, 3.5, 2, 5, 8, 8, 8]
    assert [w for w in result.warnings if w.kind == "lookup"] == []


@pytest.mark.parametrize("tier", ["compiled", "interpreter"])
def test_an_infinite_constant_is_reported_though_later_saves_skip_constants(tmp_path, tier):
    """The scan for infinite values skips the constants after the first save (they are set
    once, before it): c = 1e400 (inf), not saved, is reported at the first save, time 0."""
    path = tmp_path / "c.mdl"
    path.write_text("c = 1e400 ~~|\nx = Time ~~|\n"
                    "INITIAL TIME = 0 ~~| FINAL TIME = 3 ~~| TIME STEP = 1 ~~| SAVEPER = 1 ~~|\n")
    bad = [w for w in smartspec_dsl.load(path).run(return_columns=["x"], tier=tier).warnings if w.kind == "inf"]
    assert [(w.variable, w.time, w.pos.line) for w in bad] == [("c", 0.0, 1)]
    assert "'c' is +inf at time 0 (not saved)" in bad[0].message


# A data series is held beyond its points (Vensim's data, not a lookup called out of its
# range): no warning, whatever the data's source; a lookup table keeps its warning.
#   one point (csv, --data): b val = 7 at time 0, held: 7 at every time
#   GET DIRECT DATA, points (2, 20), (3, 30): 20 before 2, 25 at 2.5, 30 after 3
#   tbl((0,0),(1,10)) at Time: 10 above its x range from time 1.5 (the first step beyond 1)
HELD = """b val ~~|
g := GET DIRECT DATA('g.csv', ',', 'A', 'B1') ~~|
tbl((0,0),(1,10)) ~~|
z = tbl(Time) ~~|
y = b val + g ~~|
INITIAL TIME = 0 ~~| FINAL TIME = 4 ~~| TIME STEP = 0.5 ~~| SAVEPER = 0.5 ~~|
"""


def test_data_held_beyond_its_points_gives_no_warning(tmp_path):
    from smartspec_dsl.frontend.workbook import DataOptions
    (tmp_path / "held.mdl").write_text(HELD)
    (tmp_path / "g.csv").write_text("2,20\n3,30\n")
    (tmp_path / "d.csv").write_text("Time,b val\n0,7\n")
    m = smartspec_dsl.load(tmp_path / "held.mdl", tier="interpreter",
                           data=DataOptions(data_files=(tmp_path / "d.csv",)))
    r = m.run(tier="interpreter")
    assert r["y"].tolist() == [27] * 5 + [32] + [37] * 3
    assert [(w.time, w.message.split(" ", 1)[1]) for w in r.warnings] == [
        (1.5, "the input of lookup 'tbl' in the equation of 'z' goes above its x range [0, 1] at time 1.5")]
    # a run's own time series for an equation (params) is data too: held, not warned about
    pd = pytest.importorskip("pandas")
    r = m.run(params={"z": pd.Series([1.0, 3.0], index=[1.0, 2.0])}, tier="interpreter")
    assert r["z"].tolist() == [1, 1, 1, 2, 3, 3, 3, 3, 3]
    assert r.warnings == []


# A data array read by an apply-to-all equation: one row of tables read at the loop's element
# (the dense route), held beyond its points as a scalar series is. level[r2] has points
# (1, 10), (2, 20), (3, 30): 10 at time 0, then 10, 20, 30, and 30 after time 3; y = 2 level.
HELD_ARRAY = """R: r1, r2, r3 ~~|
level[R] ~~|
y[R] = level[R] * 2 ~~|
INITIAL TIME = 0 ~~| FINAL TIME = 5 ~~| TIME STEP = 1 ~~| SAVEPER = 1 ~~|
"""


@pytest.mark.parametrize("tier", ["interpreter", "compiled"])
def test_a_data_array_held_beyond_its_points_gives_no_warning(tmp_path, monkeypatch, tier):
    from smartspec_dsl.frontend.workbook import DataOptions
    monkeypatch.setenv("SMARTSPEC_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "m.mdl").write_text(HELD_ARRAY)
    (tmp_path / "level.csv").write_text("time,level[r1],level[r2],level[r3]\n1,1,10,100\n2,2,20,200\n3,3,30,300\n")
    m = smartspec_dsl.load(tmp_path / "m.mdl", tier=tier, data=DataOptions(data_files=(tmp_path / "level.csv",)))
    r = m.run(tier=tier)
    assert m.schedule.model.variables.arrays["y"].dims    # one array, not one variable per element
    assert r["y[r2]"].tolist() == [20, 20, 40, 60, 60, 60]
    assert r["y[r3]"].tolist() == [200, 200, 400, 600, 600, 600]
    assert r.warnings == []
