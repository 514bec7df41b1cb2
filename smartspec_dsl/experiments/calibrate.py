"""Calibration: fit chosen constants to targets by bounded least squares.

Targets are time series from a CSV file (a `Time` column, then one column per
model variable) or single values of a variable at a time, optionally under a
scenario (constants scaled or set on top of the candidate parameters). Every
evaluation runs through the batch kernel: the residuals of one candidate are
one batch (a run per scenario), a Jacobian is one batch of
(parameters + 1) x scenarios runs by forward differences.

The spec is a TOML file; `SPEC_DOC` (printed by `smartspec calibrate -h`) describes it.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import ir
from ..errors import ModelError, SpecError, did_you_mean, finite_number
from ..files import read_toml


SPEC_DOC = '''
  # the constants to fit: one [[parameter]] table each (at least one)
  [[parameter]]
  name = "Characteristic Time"  # a constant of the model (its name as in the model)
  lower = 1.0                   # bounds of the search (lower < upper)
  upper = 50.0
  initial = 10.0                # optional: where the search starts (default: the model's value,
                                # moved inside the bounds)

  # what the runs should give: one [[target]] table each (at least one), either
  [[target]]                    # a time series
  file = "observed.csv"         # CSV, relative to the spec file: a Time column, then one column
                                # per model variable (an empty cell: no value at that time);
                                # every time must be a saved time of the model
  weight = 1.0                  # optional: residuals are multiplied by sqrt(weight) (default 1)
  scenario = "hot room"         # optional: run under this scenario (defined below)
  # or
  [[target]]                    # one value
  variable = "Teacup Temperature"
  value = 75.0
  time = 30                     # optional: a saved time (default: FINAL TIME)
  weight = 1.0                  # optional
  scenario = "hot room"         # optional

  # scenarios: constants changed on top of each candidate, for the targets that name them
  [scenario."hot room"]
  scale = { "Room Temperature" = 1.25 }   # multiply these constants
  set = { "Characteristic Time" = 8 }     # and/or set them

  [options]                     # optional
  max_evaluations = 200         # at most this many evaluations of the residuals (scipy's max_nfev)
  relative_step = 1e-6          # forward-difference step, relative to each parameter (at least 1 x it)

The fit minimises 0.5 * the sum of the squared weighted residuals (run minus target) by
scipy's bounded least squares (trust region reflective); each candidate runs once per
scenario its targets name.
'''
SPEC_KEYS = {"parameter": {"name", "lower", "upper", "initial"},
             "target": {"file", "variable", "value", "time", "weight", "scenario"},
             "scenario": {"scale", "set"},
             "options": {"max_evaluations", "relative_step"}}


@dataclass
class _Target:
    variable: str
    times: np.ndarray
    values: np.ndarray
    scenario: str
    weight: float


@dataclass
class CalibrationResult:
    parameters: dict[str, float]
    initial: dict[str, float]
    cost: float                      # 0.5 * sum of squared weighted residuals
    residuals: np.ndarray
    evaluations: int
    success: bool
    message: str
    targets: list = field(default_factory=list)


@dataclass
class CalibrationSpec:
    names: list[str]
    lower: np.ndarray
    upper: np.ndarray
    initial: list[float | None]
    targets: list[_Target]
    scenarios: dict[str, dict]
    max_evaluations: int = 200
    relative_step: float = 1e-6


def _check_keys(path, where: str, table, allowed) -> None:
    """SpecError for a key of `table` not in `allowed`, with the closest one suggested."""
    if not isinstance(table, dict):
        raise SpecError(f"{path}: {where}: expected a table of keys, got {table!r}")
    for key in table:
        if key not in allowed:
            raise SpecError(f"{path}: {where}{'.' if where else ''}{key}: unknown key"
                            + (did_you_mean(key, {k: k for k in allowed}) or
                               f" (expected one of {', '.join(sorted(allowed))})"))


def _number(path, where: str, table: dict, key: str, default=None, bound: bool = False) -> float:
    """A number of the spec; finite unless it is a `bound` (-inf and inf: unbounded)."""
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{path}: {where}: {key} must be a number, got {value!r}")
    return float(value) if bound else finite_number(key, value, at=where)


def read_spec(path: str | Path) -> CalibrationSpec:
    """Parse a calibration spec (see SPEC_DOC); SpecError naming the file, the table and
    the key for anything wrong, with the closest key for a misspelt one."""
    path = Path(path)
    doc = read_toml(path)
    _check_keys(path, "", doc, set(SPEC_KEYS))
    for table in ("parameter", "target"):
        if not isinstance(doc.get(table, []), list):
            raise SpecError(f"{path}: {table}: write each as a [[{table}]] table")
    for i, p in enumerate(doc.get("parameter", [])):
        _check_keys(path, f"parameter {i + 1}", p, SPEC_KEYS["parameter"])
    for i, t in enumerate(doc.get("target", [])):
        _check_keys(path, f"target {i + 1}", t, SPEC_KEYS["target"])
    if not isinstance(doc.get("scenario", {}), dict):
        raise SpecError(f"{path}: scenario: write each as a [scenario.\"NAME\"] table")
    for name, sc in doc.get("scenario", {}).items():
        _check_keys(path, f"scenario.{name}", sc, SPEC_KEYS["scenario"])
        for what in ("set", "scale"):
            _check_keys(path, f"scenario.{name}.{what}", sc.get(what, {}), sc.get(what, {}))
            for k in sc.get(what, {}):
                _number(path, f"scenario.{name}.{what}", sc[what], k)
    _check_keys(path, "options", doc.get("options", {}), SPEC_KEYS["options"])
    params = doc.get("parameter") or []
    if not params:
        raise SpecError(f"{path}: [[parameter]] is required (the constants to fit)")
    names, lower, upper, initial = [], [], [], []
    for i, p in enumerate(params):
        where = f"{path}: parameter {i + 1}"
        if "name" not in p or "lower" not in p or "upper" not in p:
            raise SpecError(f"{where}: needs name, lower and upper")
        lo, hi = _number(path, where, p, "lower", bound=True), _number(path, where, p, "upper", bound=True)
        if not lo < hi:
            raise SpecError(f"{where} ('{p['name']}'): lower {p['lower']} must be below upper {p['upper']}")
        names.append(str(p["name"]))
        lower.append(lo)
        upper.append(hi)
        initial.append(_number(path, where, p, "initial") if "initial" in p else None)
    scenarios = doc.get("scenario") or {}
    targets = []
    for i, t in enumerate(doc.get("target") or []):
        where = f"{path}: target {i + 1}"
        scenario = str(t.get("scenario", ""))
        if scenario and scenario not in scenarios:
            raise SpecError(f"{where}: scenario '{scenario}' is not defined under [scenario]")
        weight = _number(path, where, t, "weight", 1.0)
        if "file" in t:
            targets.extend(_series_targets(path.parent / t["file"], scenario, weight, where))
        elif "variable" in t and "value" in t:
            time = _number(path, where, t, "time") if "time" in t else np.nan
            targets.append(_Target(str(t["variable"]), np.array([time]),
                                   np.array([_number(path, where, t, "value")]), scenario, weight))
        else:
            raise SpecError(f"{where}: give either file = '...' or variable and value")
    if not targets:
        raise SpecError(f"{path}: at least one [[target]] is required")
    opts = doc.get("options", {})
    evaluations = _number(path, "options", opts, "max_evaluations", 200)
    if evaluations < 1 or evaluations != int(evaluations):
        raise SpecError(f"{path}: options: max_evaluations must be a whole number of at least 1, "
                        f"got {opts['max_evaluations']!r}")
    step = _number(path, "options", opts, "relative_step", 1e-6)
    if not step > 0:
        raise SpecError(f"{path}: options: relative_step must be above 0, got {step!r}")
    return CalibrationSpec(names, np.array(lower), np.array(upper), initial, targets, scenarios,
                           int(evaluations), step)


def _series_targets(path: Path, scenario: str, weight: float, where: str) -> list[_Target]:
    try:
        rows = list(csv.reader(path.open(encoding="utf-8")))
    except OSError as err:
        raise SpecError(f"{where}: cannot read {path}: {err.strerror or err}") from None
    if not rows or ir.canonical_name(rows[0][0]) != "time":
        raise SpecError(f"{path}: the first column must be Time")
    try:
        data = np.array([[float(c) if c.strip() else np.nan for c in r] for r in rows[1:] if r], dtype=float)
    except ValueError as err:
        raise SpecError(f"{path}: non-numeric cell: {err}") from None
    out = []
    for j, name in enumerate(rows[0][1:], start=1):
        ok = ~np.isnan(data[:, j])
        out.append(_Target(name, data[ok, 0], data[ok, j], scenario, weight))
    return out


def calibrate(model, spec: CalibrationSpec, progress=None) -> CalibrationResult:
    """Fit `spec`'s parameters to its targets (scipy's bounded least squares, trust region reflective).
    progress(model runs so far, lowest cost so far) is called after every batch of runs."""
    try:
        from scipy.optimize import least_squares
    except ImportError as err:  # optional extra
        raise ModelError("calibration needs scipy: pip install 'smartspec[calibrate]'") from err
    idx = [model.param_index(n) for n in spec.names]
    x0 = np.array([model.defaults[i] if v is None else v for i, v in zip(idx, spec.initial)])
    x0 = np.clip(x0, spec.lower, spec.upper)
    scen_names = sorted({t.scenario for t in spec.targets})
    outputs = sorted({t.variable for t in spec.targets})
    probe = model.run_batch(model.parameter_matrix(n=1), outputs=outputs)
    time = probe.time
    col = {ir.canonical_reference(c): k for k, c in enumerate(probe.columns)}
    picks = []  # (scenario index, output column, time indices, values, weight)
    for t in spec.targets:
        times = np.where(np.isnan(t.times), time[-1], t.times)
        ti = np.array([int(np.argmin(np.abs(time - x))) for x in times])
        if np.any(np.abs(time[ti] - times) > 1e-9 * np.maximum(1.0, np.abs(times))):
            raise SpecError(f"target '{t.variable}': time {times[np.argmax(np.abs(time[ti] - times))]} "
                            f"is not a saved time of the model")
        picks.append((scen_names.index(t.scenario), col[ir.canonical_reference(t.variable)], ti, t.values,
                      np.sqrt(t.weight)))
    evaluations, best = 0, np.inf

    def matrix(xs: np.ndarray) -> np.ndarray:
        """One run per (candidate, scenario)."""
        P = model.parameter_matrix(n=len(xs) * len(scen_names))
        for c, x in enumerate(xs):
            for s, name in enumerate(scen_names):
                row = P[c * len(scen_names) + s]
                row[idx] = x
                sc = spec.scenarios.get(name, {}) if name else {}
                for k, v in sc.get("set", {}).items():
                    row[model.param_index(k)] = float(v)
                for k, v in sc.get("scale", {}).items():
                    row[model.param_index(k)] *= float(v)
        return P

    def residuals_of(xs: np.ndarray) -> np.ndarray:
        nonlocal evaluations, best
        evaluations += len(xs) * len(scen_names)   # model runs
        values = model.run_batch(matrix(xs), outputs=outputs).values
        values = values.reshape(len(xs), len(scen_names), len(time), len(outputs))
        res = [np.concatenate([w * (values[c, s, ti, o] - vals) for s, o, ti, vals, w in picks])
               for c in range(len(xs))]
        res = np.array(res)
        best = min(best, float(np.min(0.5 * np.sum(res * res, axis=1))))
        if progress:
            progress(evaluations, best)
        return res

    def fun(x):
        return residuals_of(x[None, :])[0]

    def jac(x):
        steps = spec.relative_step * np.maximum(np.abs(x), 1.0)
        # step inwards at an upper bound so every candidate stays feasible
        steps = np.where(x + steps > spec.upper, -steps, steps)
        xs = np.vstack([x] + [x + np.eye(len(x))[k] * steps[k] for k in range(len(x))])
        r = residuals_of(xs)
        return ((r[1:] - r[0]) / steps[:, None]).T

    fit = least_squares(fun, x0, jac=jac, bounds=(spec.lower, spec.upper), method="trf",
                        max_nfev=spec.max_evaluations, x_scale="jac")
    # the constants as the model spells them, whatever the spec's case and spacing
    names = [model.display(model.schedule.constants[i]) for i in idx]
    return CalibrationResult(dict(zip(names, map(float, fit.x))), dict(zip(names, map(float, x0))),
                             float(fit.cost), fit.fun, evaluations, bool(fit.success), str(fit.message),
                             spec.targets)
