"""The paper's scenarios as data and runs: where the model, specs and targets
live, the scenario ids and what the paper reports for each, running the
scenario groups and the Monte Carlo as sweeps, and the calibration of the 21
tertiary constants to the paper's numbers (Deng & Zhong 2022, section 5)."""
from __future__ import annotations

import csv
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..experiments.calibrate import calibrate
from ..experiments.calibrate import read_spec as read_calibration_spec
from ..experiments.spec import read_spec
from ..experiments.sweep import sweep
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


def pairs(ids):
    """The three pairs of three indicator ids, in the paper's order."""
    return [(ids[0], ids[1]), (ids[0], ids[2]), (ids[1], ids[2])]


def scenario_ids() -> list[str]:
    """The 74 scenario ids of models/scenarios/README.md, in its order."""
    ids = ["benchmark"]
    ids += [f"{i}_{s}" for i in INDICATORS for s in SUFFIXES]
    ids += [f"pair_{a}+{b}_{s}" for lvl in (SMART_IDS, SPEC_IDS) for a, b in pairs(lvl) for s in SUFFIXES]
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

    common_turbulence: give every run the spec's seed as its run seed (0 in
    models/scenarios: the run seed of a plain `Model.run()`), so that
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


def calibration_cost(final: dict[str, float], targets: dict[str, Target], keys) -> float:
    """0.5 x the sum of squared residuals over the scenario ids `keys` (least squares' cost)."""
    return 0.5 * sum(residual(final, targets[s]) ** 2 for s in keys)


def residual(final: dict[str, float], tg: Target) -> float:
    """Ours minus the paper's (a change from the benchmark compared with our change)."""
    ours = final[tg.scenario]
    return (ours - final["benchmark"] if tg.is_change else ours) - tg.value
