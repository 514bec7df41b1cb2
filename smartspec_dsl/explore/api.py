"""The explorer's requests, apart from HTTP: each takes the JSON body the page sends
(a dict) and returns what the page gets back (a dict or text), or raises a
ModelError whose message the page shows as it is.

The page may change only the constants the model declares (`catalog.sliders`);
every value must be a finite number. Runs go through `Model.run`, Monte Carlo
through the sweep engine (`experiments.sweep`).
"""
from __future__ import annotations

import base64
import csv
import io
import json
import math
import re
import time

import numpy as np

from .. import ir
from ..errors import ParameterError, SpecError
from ..experiments.samplers import Grid, Product, Random
from ..experiments.distributions import Uniform
from ..experiments.sweep import sweep
from ..frontend.changes import parse_changes
from . import catalog
from .diagram import diagram

MAX_VARIABLES = 2000        # series one request may ask for
MAX_RUNS = 20_000           # runs of one Monte Carlo request
MAX_BYTES = 512 * 2 ** 20   # the values one Monte Carlo request keeps (for exact percentiles)
PERCENTILES = (5, 25, 50, 75, 95)
_CIN_NAME = re.compile(r"[^=()\n]+")   # what a changes file's `name = value` line can hold
# a number written as text: JSON's number syntax (with an optional '+' and leading zeros),
# never Python's extras ('1_000', 'nan', 'infinity', '0x10')
_NUMBER_TEXT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
# what a kept Monte Carlo value costs at the peak: the kept runs, the sorted copy exact
# percentiles take (np.percentile), and the finite copy when some runs went bad
_PEAK_COPIES = 3


def _series(values: np.ndarray) -> list:
    """A column as JSON: infinite and NaN values (which JSON cannot carry) as null."""
    if np.isfinite(values).all():
        return values.tolist()
    return [float(x) if math.isfinite(x) else None for x in values.tolist()]


def pack(values: np.ndarray) -> str:
    """Float64 values as base64 of their little-endian bytes: exact, NaN and infinities
    included, and an order of magnitude faster to write and read than JSON numbers."""
    return base64.b64encode(np.ascontiguousarray(values, dtype="<f8").tobytes()).decode("ascii")


class Explorer:
    """One model behind the page: its sliders, and the requests of the page on it."""

    def __init__(self, model):
        self.model = model
        self.sliders = {ir.canonical_name(s.name): s for s in catalog.sliders(model)}
        self.info = catalog.info(model)
        self._outputs = {ir.canonical_name(o["name"]): o["name"] for o in self.info["outputs"]}
        self._doc = self._sketch = None

    # -- checking what the page sends ---------------------------------------
    def values(self, body) -> dict[str, float]:
        """The `values` of a request as {display name: number}; ParameterError naming the
        first one that is not a constant the page may change or not a finite number."""
        given = body.get("values", {}) if isinstance(body, dict) else None
        if not isinstance(given, dict):
            raise ParameterError("'values' must be an object of constant names and numbers")
        out = {}
        for name, value in given.items():
            slider = self.slider(name)
            out[slider.name] = self._number(value, slider.name)
        return out

    def slider(self, name) -> catalog.Slider:
        """The slider of constant `name`; ParameterError saying why there is none."""
        slider = self.sliders.get(ir.canonical_reference(str(name)))
        if slider is not None:
            return slider
        lowered = self.model.schedule.model.variables.get(ir.canonical_reference(str(name)))
        if lowered is not None and lowered.kind is ir.Kind.CONSTANT and not lowered.hidden:
            raise ParameterError(f"'{name}' is a constant the explorer does not change "
                                 "(a simulation control or a value written with '==')")
        self.model.param_index(str(name))   # the runtime's message: not a variable, or not a constant
        raise ParameterError(f"'{name}' is not a constant of the model")

    @staticmethod
    def _number(value, name: str) -> float:
        if isinstance(value, str):
            shown = f"'{value[:60]}'"
            if not _NUMBER_TEXT.fullmatch(value.strip()):
                raise ParameterError(f"'{name}': {shown} is not a number")
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParameterError(f"'{name}': {json_text(value)} is not a number")
        else:
            shown = f"{value:g}" if isinstance(value, float) else json_text(value)
        try:
            number = float(value)   # a whole number beyond 1.8e308 overflows
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise ParameterError(f"'{name}': {shown} is not a finite number")
        return number

    def variables(self, body) -> list[str]:
        """The `variables` of a request, by display name; ParameterError for a name that
        is not an output of the model."""
        names = body.get("variables") if isinstance(body, dict) else None
        if names is None:
            return [v for g in self.info["graphs"] for v in g["variables"]]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ParameterError("'variables' must be a list of variable names")
        if len(names) > MAX_VARIABLES:
            raise ParameterError(f"at most {MAX_VARIABLES} variables at once, got {len(names)}")
        out = []
        for n in names:
            display = self._outputs.get(ir.canonical_reference(n))
            if display is None:
                raise ParameterError(f"'{n}' is not a variable of the model")
            out.append(display)
        return list(dict.fromkeys(out))

    # -- requests -------------------------------------------------------------
    def run(self, body) -> dict:
        """POST /api/run {values, variables} -> {time, series: {name: values}, warnings,
        seconds}; `time` and each series are packed (`pack`): a slider move asks for one
        run after another, and JSON's text for floats costs more than the run itself."""
        values, names = self.values(body), self.variables(body)
        started = time.perf_counter()
        res = self.model.run(params=values, return_columns=names)
        return {"time": pack(res.time),
                "series": {n: pack(res.values[:, i]) for i, n in enumerate(res.columns)},
                "warnings": [str(w) for w in res.warnings[:20]] +
                            ([f"... and {len(res.warnings) - 20} more"] if len(res.warnings) > 20 else []),
                "seconds": time.perf_counter() - started}

    def changes(self, body) -> str:
        """POST /api/changes {values} -> a Vensim changes file (.cin) setting every constant
        of `values` that differs from the model's default; it is read back with
        `frontend.changes.parse_changes` and refused unless it gives the same values."""
        changed = {n: v for n, v in self.values(body).items()
                   if v != self.sliders[ir.canonical_name(n)].default}
        for name in changed:
            if not _CIN_NAME.fullmatch(name):
                raise ParameterError(f"'{name}' cannot be written in a changes file (its name holds "
                                     "'=', '(' or ')')")
        text = "".join(f"{name} = {value!r}\n" for name, value in changed.items())
        if parse_changes(text, "<scenario>").constants != {ir.canonical_name(n): v for n, v in changed.items()}:
            raise SpecError("the scenario's changes file does not read back to its values")
        return text

    def csv(self, body) -> str:
        """POST /api/csv {scenarios: [{name, values}], variables} -> CSV text: Time, then
        one column per scenario and variable, 'variable (scenario)', full precision."""
        scenarios = body.get("scenarios") if isinstance(body, dict) else None
        if not isinstance(scenarios, list) or not scenarios:
            raise ParameterError("'scenarios' must be a non-empty list of {name, values}")
        names = self.variables(body)
        header, columns, t = ["Time"], [], None
        for sc in scenarios:
            if not isinstance(sc, dict):
                raise ParameterError("each scenario must be an object {name, values}")
            label = str(sc.get("name") or "current")
            res = self.model.run(params=self.values(sc), return_columns=names)
            t = res.time
            for i, n in enumerate(res.columns):
                header.append(f"{n} ({label})")
                columns.append(res.values[:, i])
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(header)
        for k in range(len(t)):
            w.writerow([repr(float(t[k]))] + [repr(float(c[k])) for c in columns])
        return out.getvalue()

    def monte_carlo(self, body) -> dict:
        """POST /api/montecarlo {values, ranges: {constant: [low, high]}, runs, seed,
        variables} -> percentile bands over time. The constants of `ranges` are drawn
        uniformly and independently (the sweep engine's `random` sampler); the others keep
        `values` (the sliders' settings). Returns {time, percentiles, bands: {variable:
        {"p5": values, ...}}, samples: {constant: drawn values}, runs, seed, seconds}."""
        values, names = self.values(body), self.variables(body)
        ranges = body.get("ranges")
        if not isinstance(ranges, dict) or not ranges:
            raise ParameterError("pick at least one constant to vary ('ranges': {constant: [low, high]})")
        dists = {}
        for name, bounds in ranges.items():
            slider = self.slider(name)
            if not isinstance(bounds, list) or len(bounds) != 2:
                raise ParameterError(f"'{name}': the range must be [low, high]")
            lo, hi = (self._number(b, slider.name) for b in bounds)
            if not lo < hi:
                raise ParameterError(f"'{slider.name}': low ({lo:g}) must be below high ({hi:g})")
            if not math.isfinite(hi - lo):
                raise ParameterError(f"'{slider.name}': the range [{lo:g}, {hi:g}] is too wide to draw "
                                     "from (its width is not a finite number)")
            dists[slider.name] = Uniform(lo, hi)
        runs = body.get("runs", 200)
        if isinstance(runs, bool) or not isinstance(runs, int) or not 2 <= runs <= MAX_RUNS:
            raise ParameterError(f"'runs' must be a whole number from 2 to {MAX_RUNS}")
        seed = body.get("seed", 1)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ParameterError("'seed' must be a whole number >= 0")
        self._check_size(runs, values, dists, names)
        fixed = {n: [v] for n, v in values.items() if n not in dists}
        sampler = Random(dists, runs)
        if fixed:
            sampler = Product(Grid(fixed), sampler)
        started = time.perf_counter()
        res = sweep(self.model, sampler, outputs=names, keep_runs=True, seed=seed, progress=False,
                    stats=[f"p{p}" for p in PERCENTILES])
        bands = {n: {f"p{p}": _series(res.stats[f"p{p}"][:, i]) for p in PERCENTILES}
                 for i, n in enumerate(res.outputs)}
        return {"time": _series(res.time), "percentiles": list(PERCENTILES), "bands": bands,
                "samples": {n: _series(np.asarray(res.params[n])) for n in dists},
                "runs": len(res.runs), "seed": res.seed, "seconds": time.perf_counter() - started,
                "bad_runs": {k: int(v) for k, v in res.info.get("bad_runs", {}).items()}}

    def _check_size(self, runs: int, values: dict, dists: dict, names: list[str]) -> None:
        """ParameterError unless the values a Monte Carlo keeps (runs x saved times x
        variables, float64, `_PEAK_COPIES` times at the peak) fit in MAX_BYTES and in the
        memory the machine has free. The saved times are counted at each end of every
        range too: a drawn constant may set FINAL TIME or SAVEPER."""
        saved = 0
        for corner in [{}] + [{n: v} for n, d in dists.items() for v in (d.low, d.high)]:
            try:
                _, _, n_steps, save_every = self.model.control(
                    self.model.parameter_vector({**values, **corner}))
            except ParameterError:
                continue    # such runs fail one by one (bad_runs); they keep nothing
            saved = max(saved, n_steps // save_every + 1)
        size = 8.0 * runs * saved * len(names)
        limit = min(MAX_BYTES, _available_bytes() / _PEAK_COPIES)
        if size > limit:
            raise ParameterError(
                f"{runs:,} runs x {saved:,} saved times x {len(names)} variables would keep "
                f"{size / 2**20:,.0f} MiB, above the {limit / 2**20:,.0f} MiB one Monte Carlo may keep"
                + ("" if limit == MAX_BYTES else " (the memory this machine has free)")
                + ": ask for fewer runs or graph fewer variables")

    def sketch(self) -> list[dict]:
        """GET /api/sketch: the views of the stock-and-flow diagram (`diagram.diagram`)."""
        if self._sketch is None:
            self._sketch = diagram(self.model)
        return self._sketch

    def documentation(self) -> list[dict]:
        """GET /api/doc: `catalog.documentation`, computed once."""
        if self._doc is None:
            self._doc = catalog.documentation(self.model)
        return self._doc


def _available_bytes() -> float:
    """The memory the machine has free (MemAvailable of /proc/meminfo, Linux), or infinity
    where it cannot be read."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return math.inf


def json_text(value) -> str:
    """A value as the page sent it (JSON), shortened, for a message."""
    try:
        return json.dumps(value)[:60]
    except (TypeError, ValueError):
        return repr(value)[:60]
