"""The paper's experiments: every scenario of Deng & Zhong (2022), section 5, as sweeps.

    python -m smartspec_dsl.app.paper [-o results]

compiles `models/smart_specialization.mdl` once, runs the scenario specs of
`models/scenarios/` (benchmark, single indicators, pairs, triples, the
section 5.4 combinations, and the Monte Carlo over the turbulence seed) and
writes to the output directory:

* `fig09_smart_level.png` ... `fig12_smart_specialization_level.png`: the
  benchmark run (Figures 9 to 12 of the paper; the paper plots four regions,
  the model has one),
* `fig13_...png` ... `fig26_...png`: each scenario group against the benchmark
  over time, with the paper's reported number (read at t = 50) as a marker,
* `monte_carlo_fan.png`: percentile bands of the Monte Carlo,
* `paper_vs_model.png`: the paper's 54 numbers against ours,
* `scenarios.md`: one row per scenario, our final level beside the paper's
  number and the difference, and what the model cannot reproduce,
* `final_levels.csv` and `trajectories.csv`: the numbers behind all of it.

After the scenarios it fits the 21 tertiary constants to the paper's reported
levels (`models/calibration.toml`, `smartspec_dsl.experiments.calibrate`), re-runs every
scenario with the fitted constants (the .mdl is not changed) and adds a
calibration section to `scenarios.md`.

The scenario ids and the scaling rule are those of `models/scenarios/README.md`;
the paper's numbers come from `models/paper_targets.csv`.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ModelError, SpecError
from ..experiments.calibrate import calibrate
from ..experiments.calibrate import read_spec as read_calibration_spec
from ..experiments.plot import pyplot, save_png
from ..experiments.sweep import read_spec, sweep
from ..files import read_toml
from ..runtime import load



def data_dir() -> Path:
    """The folder of the paper's model, scenario specs, targets and calibration
    spec: `models/` of a source checkout, else the copy installed inside the
    package (the wheel force-includes `models/`, as it does `grammars/`).
    Another folder is given explicitly: `main(data=...)`, `--data DIR`."""
    here = Path(__file__).resolve()
    candidates = (here.parents[2] / "models", here.parents[1] / "models")
    for folder in candidates:
        if (folder / "smart_specialization.mdl").is_file():
            return folder
    return candidates[-1]   # incomplete installation: loading names the missing file


DATA_DIR = data_dir()
MODEL_PATH = DATA_DIR / "smart_specialization.mdl"
SCENARIO_DIR = DATA_DIR / "scenarios"
TARGETS_PATH = DATA_DIR / "paper_targets.csv"
CALIBRATION_PATH = DATA_DIR / "calibration.toml"

MAIN = "Industry smart specialization level"
SMART = "Industry smart level"
SPEC = "Industry specialization level"
COUPLING = "Coupling level"
INCREASE = "Smart specialization increase rate"
DECREASE = "Smart specialization decrease rate"

# Scenario spec files, in the order of the paper (the Monte Carlo last).
GROUPS = ("benchmark", "single", "pairs", "triples", "combined")
MONTE_CARLO = "monte_carlo"
MC_ID = "benchmark_mc"

# Secondary indicators in Table 1 order: id -> (label, level)
INDICATORS = {
    "innovation_capacity": ("Innovation capacity", "smart"),
    "knowledge_accumulation": ("Knowledge accumulation", "smart"),
    "benefit_level": ("Benefit level", "smart"),
    "industry_relatedness": ("Industry relatedness", "specialization"),
    "industry_concentration": ("Industry concentration", "specialization"),
    "specialization_degree": ("Specialization degree", "specialization"),
}
SMART_IDS = [k for k, (_, lvl) in INDICATORS.items() if lvl == "smart"]
SPEC_IDS = [k for k, (_, lvl) in INDICATORS.items() if lvl == "specialization"]
SUFFIXES = {"up25": 1.25, "up75": 1.75, "down25": 0.75, "down75": 0.25}
SUFFIX_LABEL = {"up25": "+25 %", "up75": "+75 %", "down25": "\u221225 %", "down75": "\u221275 %"}
SUFFIX_STYLE = {"up25": ("tab:green", "--"), "up75": ("darkgreen", "-"),
                "down25": ("tab:orange", "--"), "down75": ("tab:red", "-")}

# The paper's figure for each single indicator (section 5.3: Figs 13-15, 18-20).
SINGLE_FIGURE = {"innovation_capacity": 13, "benefit_level": 14, "knowledge_accumulation": 15,
                 "industry_relatedness": 18, "specialization_degree": 19, "industry_concentration": 20}
COMBINED_FIGURES = {23: ("up", "up", "5.4.1 smart level up, specialization level up"),
                    24: ("up", "down", "5.4.2 smart level up, specialization level down"),
                    25: ("down", "up", "5.4.3 smart level down, specialization level up"),
                    26: ("down", "down", "5.4.4 smart level down, specialization level down")}


def _pairs(ids):
    return [(ids[0], ids[1]), (ids[0], ids[2]), (ids[1], ids[2])]


def scenario_ids() -> list[str]:
    """The 74 scenario ids of models/scenarios/README.md, in its order."""
    ids = ["benchmark"]
    ids += [f"{i}_{s}" for i in INDICATORS for s in SUFFIXES]
    ids += [f"pair_{a}+{b}_{s}" for lvl in (SMART_IDS, SPEC_IDS) for a, b in _pairs(lvl) for s in SUFFIXES]
    ids += [f"triple_{'+'.join(lvl)}_{s}" for lvl in (SMART_IDS, SPEC_IDS) for s in SUFFIXES]
    ids += [f"smart_{a}{x}_spec_{b}{y}" for a, b, _ in COMBINED_FIGURES.values()
            for x in ("25", "75") for y in ("25", "75")]
    ids.append(MC_ID)
    return ids


def paper_figure(sid: str) -> str:
    """The paper's figure showing a scenario."""
    if sid == "benchmark":
        return "9-12"
    if sid == MC_ID:
        return "-"
    if sid.startswith("pair_"):
        return "16" if sid[5:].split("+")[0] in SMART_IDS else "21"
    if sid.startswith("triple_"):
        return "17" if sid[7:].split("+")[0] in SMART_IDS else "22"
    if sid.startswith("smart_"):
        parts = sid.split("_")            # smart, up25, spec, down75
        for fig, (a, b, _) in COMBINED_FIGURES.items():
            if parts[1].startswith(a) and parts[3].startswith(b):
                return str(fig)
    base = sid.rsplit("_", 1)[0]
    return str(SINGLE_FIGURE.get(base, "-"))


def scenario_section(sid: str) -> str:
    if sid == "benchmark":
        return "5.2"
    if sid == MC_ID:
        return "4.3"
    if sid.startswith("smart_"):
        return {"23": "5.4.1", "24": "5.4.2", "25": "5.4.3", "26": "5.4.4"}[paper_figure(sid)]
    base = sid.split("_", 1)[1] if sid.startswith(("pair_", "triple_")) else sid
    return "5.3.1" if any(base.startswith(i) for i in SMART_IDS) else "5.3.2"


# ---------------------------------------------------------------- targets


@dataclass
class Target:
    scenario: str
    value: float
    is_change: bool          # a difference from the benchmark, not a level
    quote: str


def read_targets(path=TARGETS_PATH) -> dict[str, Target]:
    """paper_targets.csv as {scenario id: Target} (one number per scenario)."""
    out: dict[str, Target] = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            sid = row["scenario"].strip()
            if sid in out:
                raise ValueError(f"{path}: scenario {sid} has two targets")
            out[sid] = Target(sid, float(row["value"]), "change from benchmark" in row["variable"],
                              row["quote"].strip())
    return out


# ---------------------------------------------------------------- running


@dataclass
class Experiments:
    """Every scenario run: `series[id][output]` over `time`, `final[id]` the
    main output at the last saved time, `mc` the Monte Carlo sweep."""
    model: object
    time: np.ndarray
    series: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    final: dict[str, float] = field(default_factory=dict)
    group_of: dict[str, str] = field(default_factory=dict)
    mc: object = None
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def benchmark(self) -> float:
        return self.final["benchmark"]


def load_model(path=MODEL_PATH):
    return load(path)


def run_group(model, group: str, spec_dir=SCENARIO_DIR, common_turbulence: bool = True):
    """Run one scenario spec file (`GROUP.toml`) as a sweep; returns the SweepResult.

    common_turbulence: give every run the run seed 0 of `Model.run()`, so that
    every scenario draws the benchmark's turbulence stream, as Vensim does for a
    RANDOM UNIFORM with a fixed seed argument, and scenarios differ by their
    constants alone (common random numbers). Otherwise each run gets the
    sweep's own per-run seed and its own turbulence stream."""
    spec = read_spec(Path(spec_dir) / f"{group}.toml", model)
    plan = spec.sampler
    if common_turbulence:
        plan.common_seeds = True
    return sweep(model, plan, keep_runs=True, stats=spec.options.get("stats"), progress=False)


def run(model=None, spec_dir=SCENARIO_DIR, groups=GROUPS, monte_carlo: bool = True) -> Experiments:
    """Run every scenario group (and the Monte Carlo) on one compiled model."""
    model = model if model is not None else load_model()
    exp = None
    for group in groups:
        started = time.perf_counter()
        res = run_group(model, group, spec_dir)
        if exp is None:
            exp = Experiments(model, res.time)
        for i, sid in enumerate(res.labels):
            sid = str(sid)
            if sid in exp.series:
                raise ValueError(f"scenario {sid} appears in two spec files")
            exp.series[sid] = {o: res.values[i, :, j] for j, o in enumerate(res.outputs)}
            exp.final[sid] = float(res.values[i, -1, res._out(MAIN)])
            exp.group_of[sid] = group
        exp.seconds[group] = time.perf_counter() - started
    if monte_carlo:
        started = time.perf_counter()
        exp.mc = run_group(model, MONTE_CARLO, spec_dir, common_turbulence=False)
        exp.seconds[MONTE_CARLO] = time.perf_counter() - started
    return exp


# ---------------------------------------------------------------- calibration


@dataclass
class Calibration:
    """The fit of models/calibration.toml and every scenario re-run with its constants."""
    result: object                          # calibrate.CalibrationResult
    fitted_targets: list[str]               # scenario ids with a level target in the spec
    final: dict[str, float]                 # every scenario's main output at t = 50, fitted constants
    indicators_before: dict[str, float]     # secondary indicator values (benchmark), model constants
    indicators_after: dict[str, float]      # the same with the fitted constants
    seconds: float = 0.0


def scenario_factors(model, spec_dir=SCENARIO_DIR, groups=GROUPS) -> dict[str, dict[str, float]]:
    """{scenario id: {constant: multiplier}} of the sweep specs (constants they leave alone omitted)."""
    defaults = model.constants
    out = {}
    for group in groups:
        spec = read_spec(Path(spec_dir) / f"{group}.toml", model)
        cols = spec.sampler.columns
        for row, sid in enumerate(spec.sampler.labels):
            out[str(sid)] = {c: float(cols[c][row]) / defaults[c] for c in cols
                             if abs(float(cols[c][row]) - defaults[c]) > 1e-15 * max(1.0, abs(defaults[c]))}
    return out


def run_with_constants(model, constants: dict[str, float], factors: dict[str, dict[str, float]],
                       outputs=(MAIN,)) -> dict[str, np.ndarray]:
    """Every scenario of `factors` with `constants` in place of the model's values, each scaled by the
    scenario's multipliers; run seed 0 for every run (the benchmark's turbulence stream).
    Returns {scenario id: array (time, outputs)}."""
    ids = list(factors)
    P = model.parameter_matrix(n=len(ids))
    for r, sid in enumerate(ids):
        for c, v in constants.items():
            P[r, model.param_index(c)] = v
        for c, f in factors[sid].items():
            P[r, model.param_index(c)] *= f
    res = model.run_batch(P, outputs=list(outputs))
    return {sid: res.values[r] for r, sid in enumerate(ids)}


def run_calibration(model, spec_path=CALIBRATION_PATH, spec_dir=SCENARIO_DIR) -> Calibration:
    """Fit the constants of `spec_path`, then re-run every scenario with them."""
    started = time.perf_counter()
    spec = read_calibration_spec(spec_path)
    result = calibrate(model, spec)
    factors = scenario_factors(model, spec_dir)
    outputs = [MAIN] + [label for label, _ in INDICATORS.values()]
    before = run_with_constants(model, {}, {"benchmark": {}}, outputs)["benchmark"]
    after = run_with_constants(model, result.parameters, factors, outputs)
    return Calibration(
        result, [t.scenario for t in spec.targets],
        {sid: float(v[-1, 0]) for sid, v in after.items()},
        {i: float(before[-1, k + 1]) for k, i in enumerate(INDICATORS)},
        {i: float(after["benchmark"][-1, k + 1]) for k, i in enumerate(INDICATORS)},
        time.perf_counter() - started)


def _cost(final: dict[str, float], targets: dict[str, Target], keys) -> float:
    return 0.5 * sum(_residual(final, targets[s]) ** 2 for s in keys)


def _residual(final: dict[str, float], tg: Target) -> float:
    """Ours minus the paper's (a change from the benchmark compared with our change)."""
    ours = final[tg.scenario]
    return (ours - final["benchmark"] if tg.is_change else ours) - tg.value


def calibration_section(exp: Experiments, targets: dict[str, Target], cal: Calibration,
                        spec_path=CALIBRATION_PATH) -> list[str]:
    res = cal.result
    fitted = [s for s in scenario_ids() if s in set(cal.fitted_targets)]
    before = {s: _residual(exp.final, t) for s, t in targets.items()}
    after = {s: _residual(cal.final, t) for s, t in targets.items()}
    cost_b = 0.5 * sum(before[s] ** 2 for s in fitted)
    cost_a = 0.5 * sum(after[s] ** 2 for s in fitted)
    rms = lambda d, keys: float(np.sqrt(np.mean([d[k] ** 2 for k in keys]))) if keys else float("nan")  # noqa: E731
    groups = {
        "5.3 single indicators (changes; not fitted)": [s for s in targets if targets[s].is_change],
        "5.3 pairs and triples (levels)": [s for s in fitted if s.startswith(("pair_", "triple_"))],
        "5.4 smart and specialization levels together (levels)": [s for s in fitted if s.startswith("smart_")],
    }
    spec_name = "/".join(Path(spec_path).resolve().parts[-2:])   # e.g. models/calibration.toml
    L = []
    w = L.append
    w("## Calibration of the 21 tertiary constants")
    w("")
    w(f"`{spec_name}` fits the 21 tertiary constants of Table 1 (bounds 0.1 to 10 times the model's "
      f"value, at most 1: they are normalised indices) to the {len(fitted)} levels the paper reports "
      f"(pairs, triples, section 5.4), each the final value (t = 50) of the `{MAIN}` in its scenario, "
      f"the scenario's multipliers as in the sweep specs, every run with the benchmark's turbulence "
      f"stream (common random numbers). The {len(groups['5.3 single indicators (changes; not fitted)'])} "
      f"single-indicator numbers of 5.3 are changes from a benchmark whose level the paper never prints, "
      f"so they are not fitted; their residuals are shown below all the same. Bounded least squares "
      f"(scipy, trust region reflective, forward-difference Jacobian): "
      f"{'converged' if res.success else 'stopped'} after {res.evaluations} candidate evaluations "
      f"({res.evaluations * len(fitted):,} runs) in {cal.seconds:.1f} s ({res.message.rstrip('.')}). "
      f"The model file keeps its constants; everything above this section uses them.")
    w("")
    w(f"**Cost** (0.5 \u00d7 sum of squared residuals over the {len(fitted)} fitted levels): "
      f"**{cost_b:.5f} \u2192 {cost_a:.5f}** (calibrate.py reports {res.cost:.5f}); root mean square "
      f"residual {rms(before, fitted):.4f} \u2192 {rms(after, fitted):.4f}. "
      f"Benchmark at t = 50: {exp.benchmark:.4f} \u2192 {cal.final['benchmark']:.4f}.")
    w("")
    w("| results | numbers | RMS residual, model constants | RMS residual, fitted constants |")
    w("|---|---:|---:|---:|")
    for name, keys in groups.items():
        w(f"| {name} | {len(keys)} | {rms(before, keys):.4f} | {rms(after, keys):.4f} |")
    w("")
    w("### Fitted constants")
    w("")
    w("Only the weighted sum of one indicator's constants reaches the model, so the constants of one "
      "indicator are not identified one by one; the secondary indicator's value (its weighted sum, "
      "as the model computes it) is what the fit determines.")
    w("")
    w("| secondary indicator | value, model constants | value, fitted | ratio |")
    w("|---|---:|---:|---:|")
    for ind, (label, _) in INDICATORS.items():
        b_, a_ = cal.indicators_before[ind], cal.indicators_after[ind]
        w(f"| {label} | {b_:.6g} | {a_:.6g} | \u00d7{a_ / b_:.3f} |")
    w("")
    spec_bounds = _spec_bounds(spec_path)
    w("| constant | initial | fitted | ratio | at a bound |")
    w("|---|---:|---:|---:|---|")
    for name, v in res.parameters.items():
        x0 = res.initial[name]
        lo, hi = spec_bounds.get(name, (None, None))
        bound = ("lower" if lo is not None and v <= lo * (1 + 1e-6) else
                 "upper" if hi is not None and v >= hi * (1 - 1e-6) else "")
        w(f"| `{name}` | {x0:.6g} | {v:.6g} | \u00d7{v / x0:.3f} | {bound} |")
    w("")
    w("### Residual per target (ours minus the paper's)")
    w("")
    w("| scenario | section | paper | reports | ours, model constants | residual | ours, fitted | residual | fitted? |")
    w("|---|---|---:|---|---:|---:|---:|---:|---|")
    for sid in scenario_ids():
        tg = targets.get(sid)
        if tg is None:
            continue
        if tg.is_change:
            ob, oa = exp.final[sid] - exp.benchmark, cal.final[sid] - cal.final["benchmark"]
            ob_s, oa_s, pv, kind = f"{ob:+.4f}", f"{oa:+.4f}", f"{tg.value:+.4f}", "change"
        else:
            ob_s, oa_s, pv, kind = f"{exp.final[sid]:.4f}", f"{cal.final[sid]:.4f}", f"{tg.value:.4f}", "level"
        w(f"| `{sid}` | {scenario_section(sid)} | {pv} | {kind} | {ob_s} | {before[sid]:+.4f} | {oa_s} | "
          f"{after[sid]:+.4f} | {'yes' if sid in cal.fitted_targets else 'no'} |")
    w("")
    w("### What the fit cannot reach")
    w("")
    L.extend(_calibration_limits(exp, targets, cal, before, after, groups))
    w("")
    return L


def _spec_bounds(spec_path) -> dict[str, tuple[float, float]]:
    doc = read_toml(spec_path)
    return {str(p["name"]): (float(p["lower"]), float(p["upper"])) for p in doc.get("parameter", [])}


def _calibration_limits(exp, targets, cal, before, after, groups) -> list[str]:
    """The honest paragraph: which reported numbers the printed structure cannot give."""
    f = cal.final
    lines = []
    up, dn = targets.get("smart_up75_spec_up75"), targets.get("smart_down25_spec_down25")
    k54 = groups["5.4 smart and specialization levels together (levels)"]
    k53 = groups["5.3 pairs and triples (levels)"]
    worst = sorted(before, key=lambda s: -abs(after[s]))[:5]
    if up is not None and dn is not None:
        lo, hi = up.value / 1.75, dn.value / 0.75
        lines.append(
            f"The fit cannot remove the contradiction of section 5.4 (see the summary): under the printed "
            f"structure every set of constants satisfies f(1.75)/1.75 \u2264 benchmark \u2264 f(0.75)/0.75, "
            f"and the fitted constants do too ({f['smart_up75_spec_up75'] / 1.75:.4f} \u2264 "
            f"{f['benchmark']:.4f} \u2264 {f['smart_down25_spec_down25'] / 0.75:.4f}), while the paper's "
            f"0.4665 and 0.1864 need {lo:.4f} \u2264 benchmark \u2264 {hi:.4f}, an empty range. "
            f"No constants reproduce both numbers; least squares settles on a compromise between them.")
    a, b_ = targets.get("smart_down75_spec_down75"), targets.get("smart_down25_spec_down75")
    if a is not None and b_ is not None and a.value > b_.value:
        lines.append("")
        lines.append(
            f"Nor can it make 5.4.4 non-monotone: raising every constant never lowers the level, so "
            f"smart \u221275 % / specialization \u221275 % (paper {a.value}) stays below smart \u221225 % / "
            f"specialization \u221275 % (paper {b_.value}); fitted: {f['smart_down75_spec_down75']:.4f} and "
            f"{f['smart_down25_spec_down75']:.4f}.")
    lines.append("")
    rms = lambda d, keys: float(np.sqrt(np.mean([d[k] ** 2 for k in keys]))) if keys else float("nan")  # noqa: E731
    k_ch = groups["5.3 single indicators (changes; not fitted)"]
    above53 = sum(after[k] > 0 for k in k53)
    lines.append(
        f"More generally, the 5.4 levels lie well above what the 5.3 effects add up to (both levels +25 % "
        f"gives 0.3083, the two triples +25 % 0.2257 and 0.2260), while in the model the effects of the "
        f"two levels nearly add. All the fit can do is trade 5.3 against 5.4: it raises the benchmark "
        f"({exp.benchmark:.4f} \u2192 {f['benchmark']:.4f}) and with it every scenario, which brings the "
        f"{len(k54)} numbers of 5.4 closer (RMS residual {rms(before, k54):.4f} \u2192 {rms(after, k54):.4f}) "
        f"and pushes the 5.3 pairs and triples, which the model's hand-set constants met more closely, "
        f"above the paper ({above53} of {len(k53)} now too high; RMS {rms(before, k53):.4f} \u2192 "
        f"{rms(after, k53):.4f}). It also moves weight between indicators in ways 5.3 contradicts: the "
        f"unfitted single-indicator changes get worse (RMS {rms(before, k_ch):.4f} \u2192 "
        f"{rms(after, k_ch):.4f}; industry relatedness, \u00d7"
        f"{cal.indicators_after['industry_relatedness'] / cal.indicators_before['industry_relatedness']:.2f}, "
        f"now moves the level by {f['industry_relatedness_up75'] - f['benchmark']:+.4f} at +75 % where the "
        f"paper says +0.011). The largest residuals left are "
        + ", ".join(f"`{s}` ({after[s]:+.4f})" for s in worst)
        + ". They measure the paper's internal inconsistency under its printed equations, not a "
        f"shortfall of the optimiser. Only a different structure, one in which the level is not (as here) "
        f"the sum of a linear and a square-root term in a common scaling of the constants, could match "
        f"all {len(k53) + len(k54)} levels. The fitted constants are therefore reported, not written into "
        f"the model, whose hand-set constants remain the closer description of section 5.3.")
    return lines


# ---------------------------------------------------------------- figures


def _target_level(exp, targets, sid):
    """The paper's number for a scenario as a level (differences added to our benchmark)."""
    t = targets.get(sid)
    if t is None:
        return None
    return exp.benchmark + t.value if t.is_change else t.value


def _scenario_lines(ax, exp, targets, items, output=MAIN, relative=False):
    """items: [(scenario id, label, color, linestyle)], drawn with the benchmark in black;
    relative: the change from the benchmark instead of the level. The paper's
    number for a scenario is a diamond just right of t = 50."""
    t = exp.time
    base = exp.series["benchmark"][output] if relative else 0.0
    ax.plot(t, exp.series["benchmark"][output] - base, color="black", lw=2, label="benchmark")
    tx = t[-1]
    marked = False
    for sid, label, color, ls in items:
        ax.plot(t, exp.series[sid][output] - base, color=color, ls=ls, lw=1.6, label=label)
        y = _target_level(exp, targets, sid) if output == MAIN else None
        if y is not None:
            y = y - exp.benchmark if relative else y
            ax.plot([tx + 0.8], [y], marker="D", ms=6, color=color, mec="black", mew=0.6, ls="none",
                    clip_on=False)
            marked = True
    if marked:
        ax.plot([], [], marker="D", ms=6, color="lightgray", mec="black", mew=0.6, ls="none",
                label="paper's number (t = 50)")
    ax.set_xlim(t[0], tx + 2)
    ax.set_xlabel("Time (Year)")
    ax.set_ylabel("change from the benchmark" if relative else output)
    ax.grid(alpha=0.3)


def _figure(title, panels, path, exp, targets, note=None):
    """One column per panel: the level on top, its change from the benchmark below."""
    plt = pyplot()
    n = len(panels)
    fig, axes = plt.subplots(2, n, figsize=(5.8 * n if n > 1 else 8.5, 8), squeeze=False, sharey="row",
                             gridspec_kw={"height_ratios": [3, 2]})
    for j, (sub, items) in enumerate(panels):
        _scenario_lines(axes[0, j], exp, targets, items)
        _scenario_lines(axes[1, j], exp, targets, items, relative=True)
        if sub:
            axes[0, j].set_title(sub, fontsize="medium")
        axes[0, j].legend(loc="lower center", fontsize="small")
    fig.suptitle(title)
    _note(fig, note)
    save_png(fig, path)
    return path


def _note(fig, note):
    """A grey footnote under the panels, wrapped to the figure's width, then tight_layout above it."""
    if not note:
        fig.tight_layout()
        return
    lines = textwrap.wrap(note, width=int(fig.get_figwidth() * 17))
    fig.text(0.01, 0.005, "\n".join(lines), fontsize="x-small", color="dimgray", va="bottom")
    fig.tight_layout(rect=(0, 0.022 * len(lines) * 8 / fig.get_figheight(), 1, 1))


def _flow_panel(ax, t, bench):
    """The two flows of the smart specialization level (Fig. 12's lower panel)."""
    ax.plot(t, bench[INCREASE], color="tab:green", lw=1.6, label=INCREASE)
    ax.plot(t, bench[DECREASE], color="tab:red", lw=1.6, label=DECREASE)
    ax.set_xlabel("Time (Year)")
    ax.set_ylabel("1/Year")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")


def _suffix_items(prefix):
    return [(f"{prefix}_{s}", SUFFIX_LABEL[s], *SUFFIX_STYLE[s]) for s in SUFFIXES]


FLOW_NOTE = ("As printed in section 4.2.4, the increase rate is multiplied by DELAY1I(EXP(-Time/3), 3, 4) "
             "= (4 + Time/3) EXP(-Time/3), which dies out, while the decrease rate keeps draining 1 % or 3 % "
             "of the level a year: the level peaks and then declines, for any constants. The paper's text "
             "calls the curve logarithmic; where the paper contradicts itself the model follows its "
             "equations.")
TARGET_NOTE = ("Diamonds: the paper's number, read at t = 50 (the paper gives no time). The paper gives "
               "single-indicator results as changes from its benchmark: drawn from ours.")
LEVEL_NOTE = ("Diamonds: the paper's number, read at t = 50 (the paper gives no time); below, "
              "its difference from our benchmark.")


def figures(exp: Experiments, targets: dict[str, Target], out: Path) -> list[Path]:
    plt = pyplot()
    out = Path(out)
    paths = []
    t = exp.time
    bench = exp.series["benchmark"]
    # Figs 9-12: the benchmark
    bands = None
    if exp.mc is not None:
        y = exp.mc[MAIN]
        bands = np.percentile(y, [5, 50, 95], axis=0)
    for num, name, var, desc in (
            (9, "smart_level", SMART, "Evolution of the smart level (benchmark)"),
            (10, "specialization_level", SPEC, "Evolution of the specialization level (benchmark)"),
            (11, "coupling_level", COUPLING, "Evolution of the coupling level (benchmark)"),
            (12, "smart_specialization_level", MAIN,
             "Evolution of the smart specialization level (benchmark)")):
        if var == MAIN:
            fig, (ax, flows) = plt.subplots(2, 1, figsize=(8, 7), sharex=True,
                                            gridspec_kw={"height_ratios": [3, 2]})
            _flow_panel(flows, t, bench)
        else:
            fig, ax = plt.subplots(figsize=(8, 4.5))
        if var == MAIN and bands is not None:
            ax.fill_between(t, bands[0], bands[2], color="tab:blue", alpha=0.2, lw=0,
                            label=f"Monte Carlo p5-p95 ({len(exp.mc.runs):,} turbulence seeds)")
            ax.plot(t, bands[1], color="tab:blue", lw=1, ls=":", label="Monte Carlo median")
        ax.plot(t, bench[var], color="black", lw=2, label="benchmark (seed 0.5)")
        if var != MAIN:
            ax.set_xlabel("Time (Year)")
        ax.set_ylabel(var)
        ax.set_title(f"Fig. {num}: {desc}")
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize="small")
        if var == MAIN:
            _note(fig, FLOW_NOTE)
        else:
            fig.tight_layout()
        p = out / f"fig{num:02d}_{name}.png"
        save_png(fig, p)
        paths.append(p)
    # Figs 13-15, 18-20: one indicator up / down
    for ind, num in sorted(SINGLE_FIGURE.items(), key=lambda kv: kv[1]):
        label = INDICATORS[ind][0]
        paths.append(_figure(f"Fig. {num}: smart specialization level after raising and lowering "
                             f"{label.lower()}", [("", _suffix_items(ind))],
                             out / f"fig{num:02d}_{ind}.png", exp, targets, TARGET_NOTE))
    # Figs 16, 21: pairs; 17, 22: triples
    for num, ids, lvl in ((16, SMART_IDS, "smart"), (21, SPEC_IDS, "specialization")):
        panels = [(f"{INDICATORS[a][0]} + {INDICATORS[b][0].lower()}", _suffix_items(f"pair_{a}+{b}"))
                  for a, b in _pairs(ids)]
        paths.append(_figure(f"Fig. {num}: two {lvl} level indicators raised and lowered together",
                             panels, out / f"fig{num:02d}_{lvl}_pairs.png", exp, targets,
                             LEVEL_NOTE))
    for num, ids, lvl in ((17, SMART_IDS, "smart"), (22, SPEC_IDS, "specialization")):
        paths.append(_figure(f"Fig. {num}: all three {lvl} level indicators raised and lowered",
                             [("", _suffix_items("triple_" + "+".join(ids)))],
                             out / f"fig{num:02d}_{lvl}_triple.png", exp, targets,
                             LEVEL_NOTE))
    # Figs 23-26: section 5.4
    colors = ["tab:blue", "tab:purple", "tab:olive", "tab:red"]
    for num, (a, b, desc) in COMBINED_FIGURES.items():
        items = []
        k = 0
        for x in ("25", "75"):
            for y in ("25", "75"):
                sid = f"smart_{a}{x}_spec_{b}{y}"
                sa = ("+" if a == "up" else "\u2212") + x
                sb = ("+" if b == "up" else "\u2212") + y
                items.append((sid, f"smart {sa} %, specialization {sb} %", colors[k], "-" if x == y else "--"))
                k += 1
        paths.append(_figure(f"Fig. {num}: {desc}", [("", items)], out / f"fig{num}_smart_{a}_spec_{b}.png",
                             exp, targets,
                             LEVEL_NOTE))
    if exp.mc is not None:
        paths.append(_fan(exp, out / "monte_carlo_fan.png"))
    paths.append(_paper_vs_model(exp, targets, out / "paper_vs_model.png"))
    return paths


def _fan(exp, path):
    plt = pyplot()
    mc = exp.mc
    y = mc[MAIN]
    t = mc.time
    qs = [5, 25, 50, 75, 95]
    p = np.percentile(y, qs, axis=0)
    fig, (ax, hx) = plt.subplots(1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [2, 1]})
    ax.fill_between(t, p[0], p[4], color="tab:blue", alpha=0.2, lw=0, label="p5-p95")
    ax.fill_between(t, p[1], p[3], color="tab:blue", alpha=0.4, lw=0, label="p25-p75")
    ax.plot(t, p[2], color="tab:blue", lw=1.5, label="median")
    ax.plot(exp.time, exp.series["benchmark"][MAIN], color="black", lw=1, ls="--",
            label="benchmark (seed 0.5)")
    ax.set_xlabel("Time (Year)")
    ax.set_ylabel(MAIN)
    ax.set_title(f"Monte Carlo over the turbulence seed ({len(mc.runs):,} runs)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    last = y[:, -1]
    hx.hist(last, bins=60, color="tab:blue", alpha=0.7)
    hx.axvline(exp.benchmark, color="black", ls="--", lw=1, label="benchmark")
    for q, v in zip(qs, np.percentile(last, qs)):
        if q != 50:
            hx.axvline(v, color="tab:blue", lw=0.8, ls=":")
    hx.set_xlabel(f"{MAIN} at t = {t[-1]:g}")
    hx.set_ylabel("runs")
    hx.set_title(f"t = {t[-1]:g}: p5 {np.percentile(last, 5):.4f}, p95 {np.percentile(last, 95):.4f}",
                 fontsize="medium")
    hx.legend(fontsize="small")
    fig.tight_layout()
    save_png(fig, path)
    return path


def _paper_vs_model(exp, targets, path):
    plt = pyplot()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 5.2), gridspec_kw={"width_ratios": [3, 2]})
    marks = {"5.3.1": ("tab:blue", "o"), "5.3.2": ("tab:green", "s"), "5.4": ("tab:red", "^")}
    levels = [(sid, t) for sid, t in targets.items() if not t.is_change]
    changes = [(sid, t) for sid, t in targets.items() if t.is_change]
    for key, (c, m) in marks.items():
        xs = [t.value for sid, t in levels if scenario_section(sid).startswith(key)]
        ys = [exp.final[sid] for sid, t in levels if scenario_section(sid).startswith(key)]
        if xs:
            ax.scatter(xs, ys, color=c, marker=m, label=f"section {key}", zorder=3)
    lo = min([t.value for _, t in levels] + [exp.final[s] for s, _ in levels]) - 0.02
    hi = max([t.value for _, t in levels] + [exp.final[s] for s, _ in levels]) + 0.02
    ax.plot([lo, hi], [lo, hi], color="gray", lw=1, ls="--", label="ours = paper")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("paper's level")
    ax.set_ylabel("our level at t = 50")
    ax.set_title(f"{len(levels)} reported levels (pairs, triples, section 5.4)", fontsize="medium")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    names = [sid.replace("_down75", " \u221275 %").replace("_up75", " +75 %").replace("_", " ")
             for sid, _ in changes]
    yy = np.arange(len(changes))
    bx.barh(yy - 0.2, [t.value for _, t in changes], height=0.4, color="lightgray", edgecolor="black",
            label="paper")
    bx.barh(yy + 0.2, [exp.final[sid] - exp.benchmark for sid, _ in changes], height=0.4,
            color="tab:blue", label="ours")
    bx.set_yticks(yy, names, fontsize="small")
    bx.invert_yaxis()
    bx.axvline(0, color="black", lw=0.8)
    bx.set_xlabel("change from the benchmark at t = 50")
    bx.set_title("single indicators (section 5.3): change from benchmark", fontsize="medium")
    bx.grid(alpha=0.3, axis="x")
    bx.legend(fontsize="small", loc="lower left")
    fig.suptitle("The paper's numbers against the model's")
    fig.tight_layout()
    save_png(fig, path)
    return path


# ---------------------------------------------------------------- report


def _fmt(x, digits=4, sign=False):
    if x is None:
        return "\u2014"
    return f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"


def _structure_checks(exp, targets) -> list[str]:
    """Consequences of the printed structure that the paper's numbers can be checked against.

    With one turbulence stream for every scenario the smart specialization
    level is a linear functional of the increase rate's input
    0.3 S + 0.3 P + 0.4 C, where S and P (smart and specialization level) are
    linear in their constants and the coupling degree C = SQRT(S P / (S + P))
    is homogeneous of degree 1/2 in (S, P). Scaling every constant by k gives
    f(k) = k A + SQRT(k) B with A, B >= 0, so f(k) <= k f(1) for k >= 1 and
    f(k) >= k f(1) for k <= 1, whatever the constants."""
    lines = []
    v = lambda sid: targets[sid].value if sid in targets else None      # noqa: E731
    up = v("smart_up75_spec_up75")
    dn = v("smart_down25_spec_down25")
    if up is not None and dn is not None:
        lo, hi = up / 1.75, dn / 0.75
        noise = ""
        if exp.mc is not None and lo > hi:
            p5, p95 = np.percentile(exp.mc[MAIN][:, -1], [5, 95])
            noise = (f" This holds at any time and with the same turbulence stream in every run (as "
                     f"Vensim's fixed seed gives). With a different stream per run the two benchmarks "
                     f"would have to differ by a factor {lo / hi:.3f}; over our turbulence seeds the "
                     f"p95/p5 ratio of the benchmark is {p95 / p5:.3f}.")
        ours_lo = exp.final["smart_up75_spec_up75"] / 1.75
        ours_hi = exp.final["smart_down25_spec_down25"] / 0.75
        lines.append(
            f"* **Section 5.4 contradicts itself under the printed structure.** Scaling *every* constant by "
            f"k gives a level f(k) = k A + \u221ak B (A, B \u2265 0: the smart and specialization levels are "
            f"linear in their constants, the coupling degree \u221a(SP/(S+P)) is homogeneous of degree 1/2, "
            f"and with one turbulence stream the smart specialization level is linear in the increase "
            f"rate). Hence f(1.75)/1.75 \u2264 benchmark \u2264 f(0.75)/0.75 for **any** constants "
            f"and any linear smart-level reconstruction. The paper's 0.4665 (both +75 %) needs a benchmark of "
            f"at least {lo:.4f}, its 0.1864 (both \u221225 %) one of at most {hi:.4f}: "
            f"{'impossible' if lo > hi else 'possible'} together. Ours: {ours_lo:.4f} \u2264 "
            f"{exp.benchmark:.4f} \u2264 {ours_hi:.4f}." + noise)
    a, b = v("smart_down75_spec_down75"), v("smart_down25_spec_down75")
    if a is not None and b is not None and a > b:
        lines.append(
            f"* **5.4.4 is not monotone:** both levels \u221275 % gives {a} but smart \u221225 % with "
            f"specialization \u221275 % gives {b}, lower, although every indicator has a positive effect "
            f"(the paper's own finding). No model in which raising a constant never lowers the level can "
            f"give both. Ours: {exp.final['smart_down75_spec_down75']:.4f} and "
            f"{exp.final['smart_down25_spec_down75']:.4f}.")
    t1, t2 = v("triple_innovation_capacity+knowledge_accumulation+benefit_level_up25"), \
        v("triple_industry_relatedness+industry_concentration+specialization_degree_up25")
    both = v("smart_up25_spec_up25")
    o1 = exp.final["triple_innovation_capacity+knowledge_accumulation+benefit_level_up25"]
    o2 = exp.final["triple_industry_relatedness+industry_concentration+specialization_degree_up25"]
    if None not in (t1, t2, both):
        lines.append(
            f"* **5.4 against 5.3:** all smart indicators +25 % gives {t1}, all specialization indicators "
            f"+25 % gives {t2}. With a benchmark b the two effects add up to {t1} + {t2} \u2212 b, about "
            f"{t1 + t2 - 0.2:.2f} for the b \u2248 0.20 that the 5.3 numbers imply, but 5.4.1 reports {both} "
            f"for both together. In the model the effects "
            f"nearly add: {o1:.4f} + {o2:.4f} \u2212 {exp.benchmark:.4f} = {o1 + o2 - exp.benchmark:.4f} "
            f"against {exp.final['smart_up25_spec_up25']:.4f} for both together.")
    return lines


def report(exp: Experiments, targets: dict[str, Target], out: Path, figure_paths=(),
           model_path=MODEL_PATH, cal: Calibration | None = None,
           calibration_path=CALIBRATION_PATH) -> Path:
    out = Path(out)
    ids = scenario_ids()
    b = exp.benchmark
    t = exp.time
    main_b = exp.series["benchmark"][MAIN]
    k_peak = int(np.argmax(main_b))
    sha = hashlib.sha256(Path(model_path).read_bytes()).hexdigest()[:12]

    # comparisons
    rows = []
    diffs = {}
    for sid in ids:
        tg = targets.get(sid)
        if sid == MC_ID:
            rows.append((sid, None, None, tg, None))
            continue
        ours = exp.final.get(sid)
        delta = None if ours is None else ours - b
        diff = None
        if tg is not None and ours is not None:
            diff = (delta if tg.is_change else ours) - tg.value
            diffs[sid] = diff
        rows.append((sid, ours, delta, tg, diff))

    def stats_of(keys):
        d = np.array([diffs[k] for k in keys if k in diffs])
        return (len(d), float(np.mean(np.abs(d))) if len(d) else float("nan"),
                float(np.max(np.abs(d))) if len(d) else float("nan"))

    groups = {
        "5.3 single indicators (differences from the benchmark)":
            [s for s in diffs if targets[s].is_change],
        "5.3 pairs and triples (levels)":
            [s for s in diffs if s.startswith(("pair_", "triple_"))],
        "5.4 smart and specialization levels together (levels)":
            [s for s in diffs if s.startswith("smart_")],
    }
    # qualitative findings
    positive = []
    for ind in INDICATORS:
        ok = exp.final[f"{ind}_up25"] > b and exp.final[f"{ind}_up75"] > exp.final[f"{ind}_up25"] and \
            exp.final[f"{ind}_down25"] < b and exp.final[f"{ind}_down75"] < exp.final[f"{ind}_down25"]
        positive.append((ind, ok))
    asym_ours = [ind for ind in INDICATORS
                 if b - exp.final[f"{ind}_down75"] > exp.final[f"{ind}_up75"] - b]
    asym_paper = [ind for ind in INDICATORS
                  if f"{ind}_up75" in targets and -targets[f"{ind}_down75"].value > targets[f"{ind}_up75"].value]
    rank_ours = sorted(INDICATORS, key=lambda i: exp.final[f"{i}_up75"] - exp.final[f"{i}_down75"], reverse=True)
    rank_paper = sorted([i for i in INDICATORS if f"{i}_up75" in targets],
                        key=lambda i: targets[f"{i}_up75"].value - targets[f"{i}_down75"].value, reverse=True)
    mc_line = ""
    if exp.mc is not None:
        last = exp.mc[MAIN][:, -1]
        p5, p50, p95 = np.percentile(last, [5, 50, 95])
        mc_line = (f"Over {len(last):,} turbulence seeds the final level has median {p50:.4f} and a "
                   f"5-95 % band of {p5:.4f} to {p95:.4f} (width {p95 - p5:.4f}); the benchmark's seed 0.5 "
                   f"gives {b:.4f}.")

    L = []
    w = L.append
    w("# Scenarios of the smart specialization model: our results beside the paper's")
    w("")
    w(f"Written by `python -m smartspec_dsl.app.paper` from `models/smart_specialization.mdl` "
      f"(sha256 {sha}...), the specs in `models/scenarios/*.toml` and the {len(targets)} numbers of "
      f"`models/paper_targets.csv`. Every value is the `{MAIN}` at t = {t[-1]:g} (the end of the "
      f"paper's 50-year horizon: the paper never says when its numbers apply; see "
      f"`models/scenarios/README.md`). Euler, TIME STEP 0.125. Every scenario keeps the turbulence "
      f"seed 0.5 and runs with the run seed 0 of a plain `smartspec run`, so all of them see the "
      f"benchmark's turbulence stream (as in Vensim, where a fixed seed argument repeats the "
      f"stream) and differ only by their constants.")
    w("")
    w("## Summary")
    w("")
    w("**The model does not reproduce the paper's numbers; it reproduces its qualitative findings.** "
      "Why, in short:")
    w("")
    w("* The paper prints no value for any of the 21 tertiary constants, and no equation for the "
      "smart level subsystem (section 4.2.1). The model's smart level equations are reconstructed by "
      "symmetry with section 4.2.2, and its constants are a rough fit to the section 5.3 numbers "
      "(one value per secondary indicator). Agreement in 5.3 is therefore partly by construction, and "
      "the remaining differences are what that fit leaves.")
    w("* Vensim's RANDOM UNIFORM stream cannot be reproduced: our turbulence with seed 0.5 is a "
      "different sample path from the paper's. " + mc_line + " Differences from the paper smaller "
      "than about half that band can come from the noise alone.")
    w(f"* The benchmark's smart specialization level rises to {main_b[k_peak]:.4f} at year "
      f"{t[k_peak]:g} and then " + (
          f"falls to {b:.4f} at year {t[-1]:g}: the printed increase rate dies out with "
          f"EXP(-Time/3) while the decrease rate (1 % or 3 % of the level a year) keeps draining it. "
          f"The paper describes a \"logarithmic\" curve that settles; the printed equations cannot give "
          f"that for any constants, so the numbers at t = 50 depend on the horizon. Where the paper "
          f"contradicts itself the model follows its equations (the rule of the model's brief); Fig. 12's "
          f"lower panel shows the two flows, and tests/test_paper.py checks the bound that forces the "
          f"decline." if k_peak < len(t) - 1 else
          "stays there.") +
      f" The smart level ({exp.series['benchmark'][SMART][-1]:.4f}) and the specialization level "
      f"({exp.series['benchmark'][SPEC][-1]:.4f}) do rise and level off as the paper says "
      f"(Figs 9 and 10); the paper plots four regions, the model has one.")
    w("")
    w("What holds (computed from the runs below):")
    w("")
    w("* Every secondary indicator has a positive effect (raising its constants raises the final level, "
      "lowering lowers it, and 75 % moves it further than 25 %): "
      + ", ".join(f"{INDICATORS[i][0].lower()} {'yes' if ok else '**no**'}" for i, ok in positive) + ".")
    w(f"* Lowering an indicator by 75 % costs more than raising it by 75 % gains, for "
      f"{len(asym_ours)} of 6 indicators in the model and {len(asym_paper)} of {len(rank_paper)} in the "
      f"paper (the coupling degree is concave in the levels).")
    w("* Order of the indicators by the size of their effect (up 75 % minus down 75 %): ours "
      + " > ".join(INDICATORS[i][0].lower() for i in rank_ours) + "; the paper's "
      + " > ".join(INDICATORS[i][0].lower() for i in rank_paper) + ".")
    w("")
    w("How far the numbers are (our value minus the paper's):")
    w("")
    w("| results | numbers | mean abs difference | largest abs difference |")
    w("|---|---:|---:|---:|")
    for name, keys in groups.items():
        n, mean, mx = stats_of(keys)
        w(f"| {name} | {n} | {mean:.4f} | {mx:.4f} |")
    w("")
    w("Which numbers the printed structure cannot reproduce, whatever the constants:")
    w("")
    L.extend(_structure_checks(exp, targets))
    w("")
    d53 = [diffs[k] for k in diffs if not k.startswith("smart_")]
    d54 = [diffs[k] for k in diffs if k.startswith("smart_")]
    w(f"So section 5.3 is reproduced roughly (every difference within {max(map(abs, d53)):.3f}), section "
      f"5.4 is not: {sum(d < 0 for d in d54)} of its {len(d54)} numbers are above ours, by up to "
      f"{max(map(abs, d54)):.3f}; our 5.4 levels stay where the 5.3 effects add up to. By the first point "
      f"above, no choice of constants reaches all of 5.4" + (
          f"; fitting all {len(cal.fitted_targets)} reported levels at once (section \"Calibration\" "
          f"below) only trades 5.3 against 5.4." if cal is not None else "."))
    w("")
    w("## Every scenario")
    w("")
    w(f"Benchmark at t = {t[-1]:g}: **{b:.4f}**. \"paper\" is the number of `paper_targets.csv`; for the "
      "single indicators the paper gives a change from the benchmark, compared with our change. "
      "\"difference\" is ours minus the paper's.")
    w("")
    if cal is not None:
        w("\"ours (calibrated)\" is the same scenario with the fitted constants of the next section.")
        w("")
    ccol, csep = (" ours (calibrated) |", "---:|") if cal is not None else ("", "")
    w(f"| scenario | section | paper fig. | ours at t = 50 | ours \u2212 benchmark | paper | paper reports | "
      f"difference |{ccol}")
    w(f"|---|---|---|---:|---:|---:|---|---:|{csep}")
    for sid, ours, delta, tg, diff in rows:
        if sid == MC_ID and exp.mc is not None:
            last = exp.mc[MAIN][:, -1]
            ours_s = f"median {np.median(last):.4f} (p5 {np.percentile(last, 5):.4f}, p95 {np.percentile(last, 95):.4f})"
            w(f"| `{sid}` | {scenario_section(sid)} | {paper_figure(sid)} | {ours_s} | \u2014 | \u2014 | "
              f"nothing | \u2014 |" + (" \u2014 |" if cal is not None else ""))
            continue
        kind = "\u2014" if tg is None else ("change" if tg.is_change else "level")
        pv = "\u2014" if tg is None else (f"{tg.value:+.4f}" if tg.is_change else f"{tg.value:.4f}")
        delta_s = _fmt(delta, sign=True) if sid != "benchmark" else "\u2014"
        cal_s = f" {_fmt(cal.final.get(sid))} |" if cal is not None else ""
        w(f"| `{sid}` | {scenario_section(sid)} | {paper_figure(sid)} | {_fmt(ours)} | "
          f"{delta_s} | {pv} | {kind} | {_fmt(diff, sign=True)} |{cal_s}")
    w("")
    if cal is not None:
        L.extend(calibration_section(exp, targets, cal, calibration_path))
    missing = [sid for sid in ids if sid not in targets]
    w(f"## Scenarios with no number in the paper ({len(missing)})")
    w("")
    w("The paper reports nothing for these (see `models/scenarios/README.md`, \"Where the paper had to "
      "be interpreted\"): the 25 % single-indicator changes (it gives one up and one down difference per "
      "indicator, filed under 75 %), the lowered industry concentration + specialization degree pair, "
      "the raised relatedness + specialization degree pair at 75 % (one number 0.21 for both), three "
      "scenarios of 5.4, the benchmark itself (section 5.2 gives no number) and the Monte Carlo.")
    w("")
    for sid in missing:
        w(f"* `{sid}`: ours {_fmt(exp.final.get(sid)) if sid != MC_ID else 'see the Monte Carlo'}")
    w("")
    if exp.mc is not None:
        w("## Monte Carlo over the turbulence seed")
        w("")
        y = exp.mc[MAIN]
        w(f"{len(exp.mc.runs):,} runs of the benchmark with `Environmental turbulence seed` = 1 ... "
          f"{len(exp.mc.runs):,} (`models/scenarios/monte_carlo.toml`), {MAIN}:")
        w("")
        w("| year | mean | p5 | p25 | p50 | p75 | p95 | benchmark (seed 0.5) |")
        w("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for year in (5, 10, 15, 20, 30, 40, 50):
            k = int(np.argmin(np.abs(exp.mc.time - year)))
            col = y[:, k]
            ps = np.percentile(col, [5, 25, 50, 75, 95])
            w(f"| {exp.mc.time[k]:g} | {col.mean():.4f} | " + " | ".join(f"{p:.4f}" for p in ps) +
              f" | {exp.series['benchmark'][MAIN][k]:.4f} |")
        w("")
    if figure_paths:
        w("## Figures")
        w("")
        w("Figures 9 to 12 show the benchmark (Fig. 12 with the Monte Carlo band); Figures 13 to 26 each "
          "compare a scenario group with the benchmark over the 50 years, the paper's number drawn as a "
          "diamond at t = 50 in the scenario's colour; `monte_carlo_fan.png` is the Monte Carlo; "
          "`paper_vs_model.png` puts all 54 numbers of the paper against ours.")
        w("")
        for p in sorted(figure_paths, key=lambda p: Path(p).name):
            w(f"* [{Path(p).name}]({Path(p).name})")
        w("")
    w("## Files")
    w("")
    w("`final_levels.csv` (every scenario's final level and the paper's number), `trajectories.csv` "
      "(every scenario's outputs at every saved year). Timings: " +
      ", ".join(f"{g} {s:.2f} s" for g, s in exp.seconds.items()) + ".")
    path = out / "scenarios.md"
    path.write_text("\n".join(L) + "\n", encoding="utf-8")
    return path


def write_tables(exp: Experiments, targets, out: Path, cal: Calibration | None = None) -> list[Path]:
    out = Path(out)
    p1 = out / "final_levels.csv"
    with open(p1, "w", newline="", encoding="utf-8") as f:
        wr = csv.writer(f, lineterminator="\n")
        wr.writerow(["scenario", "section", "paper_figure", "ours", "ours_minus_benchmark",
                     "paper_value", "paper_reports", "difference"] + (["ours_calibrated"] if cal else []))
        for sid in scenario_ids():
            if sid not in exp.final:
                continue
            ours = exp.final[sid]
            tg = targets.get(sid)
            diff = "" if tg is None else repr((ours - exp.benchmark if tg.is_change else ours) - tg.value)
            wr.writerow([sid, scenario_section(sid), paper_figure(sid), repr(ours), repr(ours - exp.benchmark),
                         "" if tg is None else tg.value,
                         "" if tg is None else ("change" if tg.is_change else "level"), diff]
                        + ([repr(cal.final[sid])] if cal else []))
    p2 = out / "trajectories.csv"
    with open(p2, "w", newline="", encoding="utf-8") as f:
        wr = csv.writer(f, lineterminator="\n")
        outputs = list(next(iter(exp.series.values())))
        wr.writerow(["scenario", "time"] + outputs)
        for sid, series in exp.series.items():
            for k, tt in enumerate(exp.time):
                wr.writerow([sid, f"{tt:g}"] + [f"{series[o][k]:.10g}" for o in outputs])
    return [p1, p2]


def main(out_dir="results", quiet: bool = False, calibration: bool = True, data=None) -> int:
    """Run every scenario and write figures, scenarios.md and CSVs to `out_dir`.
    `data`: a folder laid out like `models/` (default: `data_dir()`)."""
    data = Path(data) if data is not None else DATA_DIR
    model_path, spec_dir = data / MODEL_PATH.name, data / SCENARIO_DIR.name
    calibration_path = data / CALIBRATION_PATH.name
    started = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = load_model(model_path)
    loaded = time.perf_counter() - started
    exp = run(model, spec_dir)
    ran = time.perf_counter() - started - loaded
    targets = read_targets(data / TARGETS_PATH.name)
    cal = None
    if calibration:
        try:
            cal = run_calibration(model, calibration_path, spec_dir)
            exp.seconds["calibration"] = cal.seconds
        except (ModelError, SpecError) as err:     # e.g. scipy missing: the scenarios still stand
            print(f"paper experiments: calibration skipped: {err}")
    figs = figures(exp, targets, out)
    tables = write_tables(exp, targets, out, cal)
    md = report(exp, targets, out, figs, model_path=model_path, cal=cal, calibration_path=calibration_path)
    total = time.perf_counter() - started
    try:
        shown = out.resolve().relative_to(Path.cwd())
    except ValueError:
        shown = out
    md = shown / md.name
    if not quiet:
        n = len(exp.final) + (len(exp.mc.runs) if exp.mc is not None else 0)
        print(f"paper experiments: {len(exp.final)} scenarios + Monte Carlo ({n:,} runs) in {ran:.2f} s "
              f"(model load {loaded:.2f} s, {'kernel from cache' if model.cached else 'compiled'}); "
              f"{len(figs)} figures, {md.name} and {len(tables)} CSV files in {shown}/ ({total:.1f} s in all)")
        print(f"    benchmark {MAIN} at t = {exp.time[-1]:g}: {exp.benchmark:.4f}; "
              f"see {md} for every scenario beside the paper's numbers")
        if cal is not None:
            r = cal.result
            print(f"    calibration ({calibration_path.name}): {len(r.parameters)} constants, "
                  f"{len(cal.fitted_targets)} targets, {'converged' if r.success else 'stopped'} after "
                  f"{r.evaluations} evaluations in {cal.seconds:.1f} s; cost "
                  f"{_cost(exp.final, targets, cal.fitted_targets):.5f} -> {r.cost:.5f}")
    return 0


def _cli(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m smartspec_dsl.app.paper",
                                 description="Run the paper's scenarios (Deng & Zhong 2022, section 5): "
                                             "figures, scenarios.md and CSVs.")
    ap.add_argument("-o", "--output", default="results", help="output directory (default: results)")
    ap.add_argument("--data", metavar="DIR", help=f"the model, scenarios and targets (default: {DATA_DIR})")
    args = ap.parse_args(argv)
    return main(args.output, data=args.data)


if __name__ == "__main__":
    sys.exit(_cli())
