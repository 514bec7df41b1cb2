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
import sys
import time
from pathlib import Path


from ..errors import ModelError, SpecError

from .figures import figures
from .report import report, write_tables
from .scenarios import (CALIBRATION_PATH, DATA_DIR, MAIN, MODEL_PATH, SCENARIO_DIR, TARGETS_PATH,
                        calibration_cost, load_model, read_targets, run, run_calibration)


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
                  f"{calibration_cost(exp.final, targets, cal.fitted_targets):.5f} -> {r.cost:.5f}")
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
