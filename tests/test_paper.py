"""The paper's model and its scenarios (smartspec_dsl.app.paper, models/scenarios/):
the model runs, the qualitative findings of section 5 hold, the specs are
consistent with models/scenarios/README.md and the model."""
import csv
import re

import numpy as np
import pytest

from smartspec_dsl.app import paper, scenarios
from smartspec_dsl.experiments.spec import read_spec

MAIN = scenarios.MAIN
SPEC_FILES = [*scenarios.GROUPS, scenarios.MONTE_CARLO]


@pytest.fixture(scope="module")
def model():
    return scenarios.load_model()


@pytest.fixture(scope="module")
def exp(model):
    return scenarios.run(model, monte_carlo=False)


def test_model_compiles_and_runs_50_years(model):
    r = model.run()
    assert r.time[0] == 0 and r.time[-1] == 50 and len(r.time) == 51
    for name in (MAIN, scenarios.SMART, scenarios.SPEC, scenarios.COUPLING):
        assert np.all(np.isfinite(r[name])), name
        assert r[name][0] == 0 and r[name][-1] > 0, name
    # same seed, same run; the turbulence is random (a different seed moves the result a little)
    again = model.run()
    assert np.array_equal(r.values, again.values)
    other = model.run(params={"Environmental turbulence seed": 7})
    assert not np.array_equal(r[MAIN], other[MAIN])
    assert abs(other[MAIN][-1] - r[MAIN][-1]) < 0.05


def test_smart_and_specialization_levels_rise_and_level_off(model):
    """Figs 9 and 10: with the turbulence fixed (one seed), both levels grow
    from 0, never fall, and settle (they do not depend on the turbulence at all)."""
    r = model.run()
    for name in (scenarios.SMART, scenarios.SPEC, scenarios.COUPLING):
        y = r[name]
        assert np.all(np.diff(y) >= -1e-12), f"{name} falls"
        assert y[10] > 0.5 * y[-1], f"{name} rises late"
        assert abs(y[-1] - y[-11]) < 1e-3 * y[-1], f"{name} has not levelled off"
    other = model.run(params={"Environmental turbulence seed": 123})
    for name in (scenarios.SMART, scenarios.SPEC, scenarios.COUPLING):
        assert np.array_equal(r[name], other[name])


def test_smart_specialization_level_peaks_and_declines_as_printed(model):
    """Fig. 12 and its footnote: with the section 4.2.4 equations as printed the
    increase rate is DELAY1I(X, 4, 0) * DELAY1I(EXP(-Time/3), 3, 4), and the
    second factor is (4 + t/3) exp(-t/3) (solve g' = (exp(-t/3) - g)/3, g(0) = 4;
    Euler's g decays faster), so the rate is at most max X times that. The
    decrease rate is 1 % or 3 % of the level. Hence the level cannot settle: it
    peaks, then falls at 1-3 % a year, up to what is left of the inflow."""
    r = model.run()
    t, dt = r.time, model.constants["TIME STEP"]
    level, inc, dec = r[MAIN], r[scenarios.INCREASE], r[scenarios.DECREASE]
    x = 0.3 * r[scenarios.SPEC] + 0.3 * r[scenarios.SMART] + 0.4 * r["Coupling degree"]
    bound = np.maximum.accumulate(x) * (4 + t / 3) * np.exp(-t / 3)
    assert np.all(inc <= bound + 1e-15)
    assert inc[-1] < 1e-6
    fraction = dec[1:] / level[1:]
    assert np.all(np.isclose(fraction, 0.01, rtol=1e-9) | np.isclose(fraction, 0.03, rtol=1e-9))
    assert {0.01, 0.03} == set(np.round(fraction, 9))
    k = int(np.argmax(level))
    assert 10 <= t[k] <= 25
    steps = round((t[-1] - t[k]) / dt)
    inflow_left = x.max() * np.exp(-t[k] / 3) * (15 + t[k])   # integral of the bound from t[k] on
    assert level[k] * (1 - 0.03 * dt) ** steps <= level[-1]
    assert level[-1] <= level[k] * (1 - 0.01 * dt) ** steps + inflow_left
    assert level[-1] < 0.8 * level[k]


def test_every_indicator_has_a_positive_effect(exp):
    """Sections 5.3.1 and 5.3.2: raising an indicator's tertiary constants raises
    the final smart specialization level, lowering lowers it, 75 % more than 25 %."""
    b = exp.benchmark
    for ind in scenarios.INDICATORS:
        f = {s: exp.final[f"{ind}_{s}"] for s in scenarios.SUFFIXES}
        assert f["down75"] < f["down25"] < b < f["up25"] < f["up75"], (ind, f)
    for group in ("pair_", "triple_"):
        ids = [s for s in exp.final if s.startswith(group)]
        assert ids
        for sid in ids:
            up = sid.endswith(("up25", "up75"))
            assert (exp.final[sid] > b) == up, sid
    # both levels raised beats either alone, both lowered is below either alone
    assert exp.final["smart_up75_spec_up75"] > max(
        exp.final["triple_innovation_capacity+knowledge_accumulation+benefit_level_up75"],
        exp.final["triple_industry_relatedness+industry_concentration+specialization_degree_up75"])
    assert exp.final["smart_down75_spec_down75"] < min(
        exp.final["triple_innovation_capacity+knowledge_accumulation+benefit_level_down75"],
        exp.final["triple_industry_relatedness+industry_concentration+specialization_degree_down75"])


def test_scenarios_share_the_benchmark_turbulence(model, exp):
    """Every scenario sees the benchmark's turbulence stream (common random
    numbers, as Vensim's fixed seed argument gives), so differences come from the
    constants alone: each scenario of the sweeps is the plain run with its constants."""
    np.testing.assert_array_equal(exp.series["benchmark"][MAIN], model.run()[MAIN])
    groups = _readme_groups()
    for sid, ids, factor in (("specialization_degree_up25", ["specialization_degree"], 1.25),
                             ("pair_innovation_capacity+benefit_level_down75",
                              ["innovation_capacity", "benefit_level"], 0.25)):
        params = {c: model.constants[c] * factor for i in ids for c in groups[i]}
        np.testing.assert_allclose(exp.series[sid][MAIN], model.run(params=params)[MAIN], rtol=0, atol=1e-15)
    # the Monte Carlo, on the contrary, draws a different stream for every run
    mc = scenarios.run_group(model, scenarios.MONTE_CARLO, common_turbulence=False)
    last = mc[MAIN][:, -1]
    assert len(np.unique(last)) > 0.99 * len(last)
    assert last.min() < exp.benchmark < last.max()


def _readme_groups():
    """{indicator id: [tertiary constant names]} from the table of models/scenarios/README.md."""
    text = (scenarios.SCENARIO_DIR / "README.md").read_text(encoding="utf-8")
    groups = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].strip("`") in scenarios.INDICATORS:
            groups[cells[0].strip("`")] = re.findall(r"`([^`]+)`", cells[3])
    return groups


def test_scenario_specs_parse_and_use_only_model_constants(model):
    groups = _readme_groups()
    assert set(groups) == set(scenarios.INDICATORS)
    constants = {k.lower() for k in model.constants}
    tertiary = {c for g in groups.values() for c in g}
    assert len(tertiary) == 21 and {c.lower() for c in tertiary} <= constants
    labels = []
    for name in SPEC_FILES:
        path = scenarios.SCENARIO_DIR / f"{name}.toml"
        spec = read_spec(path, model, chunk_size=None)        # SpecError on any unknown name
        for col in spec.sampler.columns:
            assert col.lower() in constants, (path, col)
        if name == scenarios.MONTE_CARLO:
            assert spec.sampler.n >= 10_000
            assert list(spec.sampler.columns) == ["Environmental turbulence seed"]
            assert len(set(spec.sampler.columns["Environmental turbulence seed"])) == spec.sampler.n
            assert set(spec.sampler.labels) == {scenarios.MC_ID}
            continue
        assert not set(spec.sampler.columns) & {"Environmental turbulence seed", "TIME STEP"}
        labels += [str(x) for x in spec.sampler.labels]
    # the ids are exactly those of models/scenarios/README.md, each once
    assert labels + [scenarios.MC_ID] == scenarios.scenario_ids()
    assert len(set(labels)) == 73


def test_scenarios_scale_the_documented_constants(model):
    """Each scenario multiplies exactly the tertiary constants of its indicators
    (README table) by the factor of its suffix, and leaves the rest alone."""
    groups = _readme_groups()
    defaults = model.constants
    smart = list(scenarios.SMART_IDS)
    spec_ids = list(scenarios.SPEC_IDS)
    for name in scenarios.GROUPS:
        spec = read_spec(scenarios.SCENARIO_DIR / f"{name}.toml", model)
        cols = spec.sampler.columns
        for row, sid in enumerate(spec.sampler.labels):
            expected = {}
            if sid.startswith("smart_"):
                _, s, _, p = sid.split("_")
                for i in smart:
                    expected.update({c: scenarios.SUFFIXES[s] for c in groups[i]})
                for i in spec_ids:
                    expected.update({c: scenarios.SUFFIXES[p] for c in groups[i]})
            elif sid != "benchmark":
                body, suffix = sid.rsplit("_", 1)
                body = body.split("_", 1)[1] if body.startswith(("pair_", "triple_")) else body
                for i in body.split("+"):
                    expected.update({c: scenarios.SUFFIXES[suffix] for c in groups[i]})
            for c, default in defaults.items():
                got = cols[c][row] if c in cols else default
                assert got == pytest.approx(default * expected.get(c, 1.0), rel=1e-12), (sid, c)


def test_targets_refer_to_scenarios():
    targets = scenarios.read_targets()
    assert len(targets) == 54
    assert set(targets) <= set(scenarios.scenario_ids())
    assert {scenarios.paper_figure(s) for s in targets} <= {str(n) for n in range(13, 27)}


def test_main_writes_figures_and_report(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert paper.main(tmp_path / "out", quiet=True) == 0
    out = tmp_path / "out"
    pngs = sorted(p.name for p in out.glob("*.png"))
    for n in range(9, 27):
        assert any(p.startswith(f"fig{n:02d}_") for p in pngs), n
    assert "monte_carlo_fan.png" in pngs and "paper_vs_model.png" in pngs
    assert all((out / p).stat().st_size > 10_000 for p in pngs)
    md = (out / "scenarios.md").read_text(encoding="utf-8")
    for sid in scenarios.scenario_ids():
        assert f"| `{sid}` |" in md, sid
    assert "does not reproduce" in md
    with open(out / "final_levels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 73 and sum(1 for r in rows if r["paper_value"]) == 54
    assert "## Calibration of the 21 tertiary constants" in md and "ours (calibrated)" in md
    assert all(r["ours_calibrated"] for r in rows)


def test_calibration_spec_uses_constants_and_defined_scenarios(model):
    """models/calibration.toml parses, fits the 21 tertiary constants within their
    bounds, and its targets and scenarios are paper scenarios with the sweep specs'
    multipliers and the paper's reported levels."""
    import tomllib
    from smartspec_dsl.experiments.calibrate import read_spec as read_calibration
    spec = read_calibration(scenarios.CALIBRATION_PATH)      # SpecError on an undefined scenario
    constants = {k.lower() for k in model.constants}
    tertiary = {c.lower() for g in _readme_groups().values() for c in g}
    assert {n.lower() for n in spec.names} == tertiary and len(spec.names) == 21
    for name, lo, hi, x0 in zip(spec.names, spec.lower, spec.upper, spec.initial):
        assert 0 <= lo < x0 < hi <= 1, name
        model.param_index(name)                           # a constant of the model
    factors = scenarios.scenario_factors(model)
    targets = scenarios.read_targets()
    used = {t.scenario for t in spec.targets}
    assert used == set(spec.scenarios) and used <= set(scenarios.scenario_ids())
    for t in spec.targets:
        assert t.variable == MAIN and list(t.times) == [50.0], t.scenario
        tg = targets[t.scenario]
        assert not tg.is_change and t.values[0] == tg.value, t.scenario
    assert len(used) == sum(not t.is_change for t in targets.values())
    doc = tomllib.loads(scenarios.CALIBRATION_PATH.read_text(encoding="utf-8"))
    for sid, sc in spec.scenarios.items():
        assert set(sc) <= {"scale"}, sid
        assert {k.lower() for k in sc["scale"]} <= constants, sid
        assert sc["scale"] == pytest.approx(factors[sid], rel=1e-12), sid
    assert doc["options"]["max_evaluations"] <= 1000


def test_units_consistent_but_for_the_printed_rates():
    """The model passes the units check except where the paper prints a rate without its
    per-year dimension (each rate's comment says so); nothing else may drift."""
    from smartspec_dsl.frontend.parse import parse_file
    from smartspec_dsl.passes.units import check_units
    issues = check_units(parse_file(scenarios.MODEL_PATH))
    assert sorted(i.variable for i in issues) == sorted([
        "Smart development rate", "Specialization development rate", "Coupling level development rate",
        "Smart specialization increase rate", "Smart specialization decrease rate", "Accumulation rate"])
    assert all(i.message == "its equation gives Dmnl, but it is declared 1/year" for i in issues)
