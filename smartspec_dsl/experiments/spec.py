"""Sweep specs: the TOML file `smartspec sweep` and `sensitivity` read (format in
`SPEC_DOC`), checked against the model and turned into a sampler and sweep options
(`read_spec`)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import ir
from ..errors import ModelError, SpecError, did_you_mean, finite_number
from ..files import read_toml
from . import samplers as S
from .stats import parse_stats
from .sweep import plan


SPEC_DOC = '''
A sweep spec (TOML). Every key is optional except what the sampler needs.

    sampler = "lhs"     # grid | table | random | lhs | sobol | scenarios | morris | saltelli
    runs = 1000         # random, lhs, sobol: runs; morris: trajectories; saltelli: base N
    seed = 42           # default: fresh, recorded in manifest.json
    outputs = ["Teacup Temperature"]   # default: every output
    times = "final"     # "all" (default) | "final" | [0, 10, 30] (saved times)
    stats = ["mean", "std", "min", "max", "p5", "p50", "p95"]
    chunk_size = 10000  # runs per chunk (default: about 64 MB of trajectories)
    layout = "wide"     # Parquet layout: wide | long (default wide for one time, else long)
    method = "rk4"      # or "euler", "rk4auto"; default: the model's own (XMILE sim_specs), else euler
    final_time = 30     # also time_step, saveper: control overrides for every run
    percentile_bins = 4096   # histogram bins for streaming percentiles
    table = "runs.csv"  # sampler = "table": CSV, header = constant names (+ optional scenario)
    levels = 4          # sampler = "morris"
    second_order = true # sampler = "saltelli"
    common_random_numbers = false   # true: every run draws the same random-function streams,
                        # those of `smartspec run --seed SEED` (scenario comparisons; seed below
                        # 2**52); false: run i has its own seed from `seed`

    [parameters]
    # random / lhs / sobol: a distribution per constant
    "Characteristic Time" = { dist = "uniform", low = 5, high = 15 }
    "Room Temperature" = { dist = "normal", mean = 70, sd = 3 }
    #   lognormal: mu, sigma (of log);  triangular: low, mode, high
    # grid: a list of values, or { low = 60, high = 80, num = 5 } (linspace)
    # morris / saltelli: { low = 5, high = 15 }

    [[scenarios]]       # sampler = "scenarios"; with another sampler: every scenario x every sample
    name = "warm room"
    set = { "Room Temperature" = 80 }            # absolute values
    scale = { "Characteristic Time" = 1.25 }     # multipliers (of the sampled value, else the default)
    # group = ["A", "B", "C"], factor = 1.25     # one multiplier on a group of constants
    # cin = "warm.cin"                           # a Vensim changes file: constants and lookup tables (path relative to the spec)
'''

SPEC_KEYS = {"sampler", "runs", "seed", "outputs", "times", "stats", "chunk_size", "layout", "method",
             "final_time", "time_step", "saveper", "percentile_bins", "table", "levels", "second_order",
             "parameters", "scenarios", "common_random_numbers"}
SCENARIO_KEYS = {"name", "set", "scale", "group", "factor", "cin"}


@dataclass
class SweepSpec:
    """A parsed and checked spec: pass `sampler` and `options` to `sweep`."""
    path: str
    sampler: object
    seed: int | None
    options: dict          # outputs, times, stats, chunk_size, method, final_time, ...
    layout: str | None
    raw: dict
    design: object = None  # the sampler the plan draws from (e.g. Morris, for `sensitivity`)


def read_spec(path, model, default_seed: int | None = None, chunk_size: int | None = None) -> SweepSpec:
    """Parse a TOML sweep spec and check it against `model`; SpecError names the
    file and the key for anything wrong, before any run."""
    path = Path(path)
    raw = read_toml(path)

    def fail(key, msg):
        raise SpecError(f"{path}: {key}: {msg}")

    for k in raw:
        if k not in SPEC_KEYS:
            fail(k, "unknown key" + (did_you_mean(k, {key: key for key in SPEC_KEYS})
                                     or f" (expected one of {', '.join(sorted(SPEC_KEYS))})"))

    def check_param(key, name, whole=""):
        """`whole` (the key of a scenario's set or scale): a subscripted constant may be named
        whole or through a range there, as on a changes file's line, each of its elements set."""
        try:
            idx = model.param_index(name)
        except ModelError as err:
            if not whole:
                fail(key, str(err))
            try:
                model.cin_constants(name, whole)
            except ModelError as whole_err:   # its own words: a range's element that is no constant
                raise SpecError(f"{path}: {whole_err}") from None
            return
        if model.schedule.constants[idx] in ir.CONTROL_NAMES:
            fail(key, f"'{name}' is a simulation control; it cannot vary between runs "
                      "(use final_time / time_step / saveper)")

    def integer(key, lo=1):
        v = raw[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            fail(key, f"must be an integer >= {lo}, got {v!r}")
        return v

    def number(key, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail(key, f"must be a number, got {value!r}")
        return finite_number(key, value, at=str(path))

    params = raw.get("parameters", {})
    if not isinstance(params, dict):
        fail("parameters", "must be a table of constant = distribution / values")
    scenarios_raw = raw.get("scenarios")
    kind = raw.get("sampler")
    if kind is None:
        kind = "scenarios" if scenarios_raw and not params else "table" if "table" in raw else \
            "grid" if params and all(isinstance(v, (list, dict)) and not (isinstance(v, dict) and "dist" in v)
                                     for v in params.values()) and "runs" not in raw else None
        if kind is None:
            fail("sampler", f"missing key (one of {', '.join(S.SAMPLERS)})")
    if kind not in S.SAMPLERS:
        fail("sampler", f"unknown sampler '{kind}' (use one of {', '.join(S.SAMPLERS)})")

    for name in params:
        check_param(f'parameters."{name}"', name)

    def need(key):
        if key not in raw:
            fail(key, f"missing key (sampler '{kind}' needs it)")

    sampler = None
    try:
        if kind == "grid":
            if not params:
                fail("parameters", "missing: a grid needs [parameters] with values")
            values = {}
            for name, v in params.items():
                key = f'parameters."{name}"'
                if isinstance(v, list):
                    values[name] = [number(key, x) for x in v]
                elif isinstance(v, dict) and {"low", "high", "num"} <= set(v) and len(v) == 3:
                    lo, hi = number(key + ".low", v["low"]), number(key + ".high", v["high"])
                    if lo > hi:
                        fail(key, f"low ({lo:g}) > high ({hi:g})")
                    if isinstance(v["num"], bool) or not isinstance(v["num"], int) or v["num"] < 1:
                        fail(key + ".num", f"must be an integer >= 1, got {v['num']!r}")
                    values[name] = np.linspace(lo, hi, v["num"])
                else:
                    fail(key, "a grid needs a list of values or {low, high, num}")
                if not len(values[name]):
                    fail(key, "no values")
            sampler = S.Grid(values)
        elif kind == "table":
            need("table")
            t = path.parent / raw["table"]
            sampler = S.Table.from_csv(t)
            for name in sampler.names:
                check_param(f"table ({t}) column '{name}'", name)
        elif kind in ("random", "lhs", "sobol"):
            need("runs")
            n = integer("runs")
            if not params:
                fail("parameters", f"missing: sampler '{kind}' needs [parameters] with distributions")
            dists = {name: S.distribution(v, f'parameters."{name}"') for name, v in params.items()}
            sampler = {"random": S.Random, "lhs": S.LatinHypercube, "sobol": S.Sobol}[kind](dists, n)
        elif kind in ("morris", "saltelli"):
            need("runs")
            n = integer("runs")
            if not params:
                fail("parameters", f"missing: sampler '{kind}' needs [parameters] with low/high")
            bounds = {}
            for name, v in params.items():
                key = f'parameters."{name}"'
                if not isinstance(v, dict) or "low" not in v or "high" not in v:
                    fail(key, "needs { low = ..., high = ... }")
                lo, hi = number(key + ".low", v["low"]), number(key + ".high", v["high"])
                if not lo < hi:
                    fail(key, f"low ({lo:g}) must be < high ({hi:g})")
                bounds[name] = (lo, hi)
            sampler = S.Morris(bounds, n, integer("levels", 2) if "levels" in raw else 4) \
                if kind == "morris" else S.Saltelli(bounds, n, bool(raw.get("second_order", True)))
        elif kind == "scenarios":
            if not scenarios_raw:
                fail("scenarios", "missing: sampler 'scenarios' needs [[scenarios]] tables")
    except SpecError as err:
        msg = str(err)
        raise SpecError(msg if msg.startswith(str(path)) else f"{path}: {msg}") from None

    if scenarios_raw is not None:
        if not isinstance(scenarios_raw, list) or not all(isinstance(s, dict) for s in scenarios_raw):
            fail("scenarios", "must be an array of tables ([[scenarios]])")
        scen = []
        for j, sc in enumerate(scenarios_raw):
            key = f"scenarios[{j}]"
            for k in sc:
                if k not in SCENARIO_KEYS:
                    fail(f"{key}.{k}", "unknown key" + (did_you_mean(k, {x: x for x in SCENARIO_KEYS}) or
                                                         f" (expected one of {', '.join(sorted(SCENARIO_KEYS))})"))
            name = sc.get("name")
            if not isinstance(name, str) or not name:
                fail(f"{key}.name", "missing key (every scenario needs a name)")
            key = f'scenarios."{name}"'
            s = S.Scenario(name)
            if "cin" in sc:
                try:
                    cin = S.Scenario.from_cin(path.parent / sc["cin"])
                    s.set.update(cin.set)
                    s.changes.extend(cin.changes)
                except SpecError as err:
                    fail(f"{key}.cin", str(err))
            for k, v in (sc.get("set") or {}).items():
                s.set[k] = number(f'{key}.set."{k}"', v)
            for k, v in (sc.get("scale") or {}).items():
                s.scale[k] = number(f'{key}.scale."{k}"', v)
            if "group" in sc or "factor" in sc:
                if "group" not in sc or "factor" not in sc:
                    fail(key, "'group' and 'factor' go together")
                if not isinstance(sc["group"], list) or not all(isinstance(g, str) for g in sc["group"]):
                    fail(f"{key}.group", "must be a list of constant names")
                f = number(f"{key}.factor", sc["factor"])
                for g in sc["group"]:
                    s.scale[g] = s.scale.get(g, 1.0) * f
            for k in list(s.set) + list(s.scale):
                check_param(f"{key}: '{k}'", k, whole=key)
            scen.append(s)
        try:
            scenarios = S.Scenarios(scen)
        except SpecError as err:
            fail("scenarios", str(err))
        sampler = scenarios if sampler is None else S.Product(scenarios, sampler)

    opts: dict = {}
    if "outputs" in raw:
        outs = raw["outputs"]
        if isinstance(outs, str):
            outs = [outs]
        if not isinstance(outs, list) or not all(isinstance(o, str) for o in outs):
            fail("outputs", "must be a list of variable names")
        try:
            model.output_columns(outs)   # a subscripted variable's name gives each element
        except ModelError as err:
            fail("outputs", str(err))
        opts["outputs"] = outs
    if "times" in raw:
        t = raw["times"]
        if isinstance(t, str):
            if t not in ("all", "final"):
                fail("times", f"must be \"all\", \"final\" or a list of times, got {t!r}")
        elif isinstance(t, list):
            t = [number("times", x) for x in t]
        else:
            fail("times", f"must be \"all\", \"final\" or a list of times, got {t!r}")
        opts["times"] = t
    if "stats" in raw:
        if not isinstance(raw["stats"], list):
            fail("stats", "must be a list such as [\"mean\", \"p95\"]")
        try:
            opts["stats"] = parse_stats(raw["stats"])
        except SpecError as err:
            fail("stats", str(err))
    if "chunk_size" in raw:
        opts["chunk_size"] = integer("chunk_size")
    if chunk_size is not None:
        opts["chunk_size"] = int(chunk_size)
    if "percentile_bins" in raw:
        opts["percentile_bins"] = integer("percentile_bins", 4)
    if "method" in raw:
        if raw["method"] not in ("euler", "rk4", "rk4auto"):
            fail("method", f"must be \"euler\", \"rk4\" or \"rk4auto\", got {raw['method']!r}")
        opts["method"] = raw["method"]
    for k in ("final_time", "time_step", "saveper"):
        if k in raw:
            opts[k] = number(k, raw[k])
    layout = raw.get("layout")
    if layout not in (None, "wide", "long"):
        fail("layout", f"must be \"wide\" or \"long\", got {layout!r}")
    seed = raw.get("seed", default_seed)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        fail("seed", f"must be a non-negative integer, got {seed!r}")
    # Plan now so that name and value errors (e.g. control checks) surface before any run.
    try:
        plan_ = plan(model, sampler, opts.get("outputs"), opts.get("times", "all"),
                     seed, opts.get("chunk_size"), opts.get("final_time"), opts.get("time_step"),
                     opts.get("saveper"), opts.get("method"))
    except ModelError as err:
        raise SpecError(f"{path}: {err}") from None
    crn = raw.get("common_random_numbers", False)
    if not isinstance(crn, bool):
        fail("common_random_numbers", f"must be true or false, got {crn!r}")
    if crn:
        # every run draws the same random streams, those of the run seed `seed`: runs differ by
        # their constants alone
        if plan_.seed >= 2 ** 52:
            fail("seed", f"must be below 2**52 (4503599627370496) with common_random_numbers (it is every "
                         f"run's seed), got {plan_.seed}")
        plan_.common_seeds = True
    return SweepSpec(str(path), plan_, plan_.seed, opts, layout, raw, sampler)
