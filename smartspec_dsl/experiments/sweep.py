"""Parameter sweeps: many runs of one model, in chunks, with streaming statistics.

    from smartspec_dsl import load, sweep
    from smartspec_dsl.experiments.samplers import LatinHypercube, Uniform

    m = load("teacup.mdl")
    res = sweep(m, {"Characteristic Time": np.linspace(5, 15, 1000)}, times="final",
                stats=["mean", "p5", "p95"])
    res.values            # (runs, times, outputs) when keep_runs
    res.stats["p95"]      # (times, outputs)
    res = sweep(m, LatinHypercube({"Room Temperature": Uniform(60, 80)}, n=10_000), seed=1)

Runs are cut into chunks of `chunk_size` rows and each chunk goes through
`Model.run_batch` (parallel over the rows). A chunk's parameters are made when
the chunk runs (samplers.py), so with keep_runs=False and no store, memory is
one chunk of parameters and trajectories plus the statistics' state, whatever
the number of runs; `keep_runs` adds the kept values and every run's
parameters. Run i's parameters, seed and values never depend on the chunk size,
the thread count or the worker that ran it. Statistics are merged chunk by
chunk in run order (see stats.py).

Every run has an id (0..n-1) and a 64-bit seed derived from the sweep seed and
its id (splitmix64, see `run_seeds`); the seed feeds the model's random
functions.
"""
from __future__ import annotations

import hashlib
import json
import sys
import time as _time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import ir
from ..backend.kernel_random import GOLDEN, splitmix64
from ..errors import ModelError, ParameterError, SpecError
from ..files import read_toml
from . import samplers as S
from .distributed import run_chunks
from .results import SweepResult
from .samplers import ParamTable, Resolution, as_source
from .stats import StreamingStats, parse_stats

CHUNK_BYTES = 64 * 2 ** 20      # default chunk: about this many bytes of trajectories
PARAM_BLOCK = 2 ** 16           # runs per block when every run's parameters are streamed (digest, store)


def run_seeds(seed: int, runs: np.ndarray) -> np.ndarray:
    """splitmix64(seed * golden + run): a per-run uint64 seed independent of chunking."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed & 0xFFFFFFFFFFFFFFFF) * np.uint64(GOLDEN) + runs.astype(np.uint64)
        return splitmix64(z)


class _Progress:
    def __init__(self, progress, total):
        self.callback, self.bar = None, None
        if callable(progress):
            self.callback = progress
        elif progress or (progress is None and sys.stderr.isatty()):
            try:
                import shutil

                from tqdm import tqdm
                cols = shutil.get_terminal_size((100, 20)).columns
                self.bar = tqdm(total=total, unit="run", unit_scale=True, file=sys.stderr,
                                smoothing=0.1, ncols=cols if cols >= 40 else 100, disable=False)
            except ImportError:
                pass
        self.done, self.total = 0, total

    def update(self, k):
        self.done += k
        if self.bar is not None:
            self.bar.update(k)
        if self.callback is not None:
            self.callback(self.done, self.total)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def default_chunk_size(n_rows_per_run: int, n_outputs: int) -> int:
    """About CHUNK_BYTES of trajectories per chunk (run_batch holds every saved
    time before keeping some), between 64 and 10^6 runs: memory per chunk stays
    bounded even for large models."""
    per_run = max(1, n_rows_per_run * max(1, n_outputs)) * 8
    return int(max(64, min(1_000_000, CHUNK_BYTES // per_run)))


@dataclass
class RunParams:
    """Runs [s, e) of a plan: {display name: values}, scenario labels (or None),
    seeds, lookup-table set per run (or None)."""
    columns: dict[str, np.ndarray]
    labels: np.ndarray | None
    seeds: np.ndarray
    table_index: np.ndarray | None


@dataclass
class Plan:
    """Everything fixed before the first run: where the parameters come from, chunks and the
    layout of values. Parameters are made chunk by chunk (`chunk_params`), never all at once."""
    n: int
    source: object                     # samplers: `n`, `rows(s, e) -> ParamTable`
    resolution: Resolution             # source rows -> {display name: values}
    seed: int
    outputs: list[str] | None          # as requested (None = all)
    output_names: list[str]            # display names
    times: object
    time: np.ndarray
    chunk_size: int
    run_kw: dict
    run0: int = 0                      # id of row 0 (a slice of a bigger plan, on a worker)
    rows: int = 0                      # saved times the kernel writes per run (0: unknown)
    table_sets: list = field(default_factory=list)   # lookup-table vectors runs may use
    has_labels: bool = False
    common_seeds: bool = False         # every run gets seed 0 (common random numbers)
    warned: int = 0                    # runs (of the chunks run here) with simulation warnings
    _last: tuple | None = field(default=None, repr=False, compare=False)
    _digest: str | None = field(default=None, repr=False, compare=False)

    @property
    def names(self) -> list[str]:
        """Display names of the constants the plan sets."""
        return self.resolution.names

    def run_params(self, s: int, e: int) -> RunParams:
        """Parameters of runs [s, e)."""
        if self._last is not None and self._last[0] == (s, e):
            return self._last[1]
        t = self.source.rows(s, e)
        seeds = np.zeros(e - s, dtype=np.uint64) if self.common_seeds else \
            run_seeds(self.seed, np.arange(self.run0 + s, self.run0 + e, dtype=np.int64))
        return RunParams(self.resolution.apply(t), t.labels if self.has_labels else None, seeds,
                         t.table_index)

    def chunk_params(self, i: int) -> RunParams:
        """Parameters of chunk i; the last chunk's are kept, for the store to write beside its values."""
        s, e = self.bounds(i)
        p = self.run_params(s, e)
        self._last = ((s, e), p)
        return p

    def blocks(self):
        """RunParams of every run, PARAM_BLOCK runs at a time."""
        for s in range(0, self.n, PARAM_BLOCK):
            yield s, self.run_params(s, min(self.n, s + PARAM_BLOCK))

    # every run at once: for small plans (scenario specs) and keep_runs
    @property
    def columns(self) -> dict[str, np.ndarray]:
        return self.run_params(0, self.n).columns

    @property
    def labels(self) -> np.ndarray | None:
        return self.run_params(0, self.n).labels

    @property
    def seeds(self) -> np.ndarray:
        return self.run_params(0, self.n).seeds

    def slice(self, i: int) -> "Plan":
        """Chunk i as a plan of its own, its parameters made (what a distributed worker gets)."""
        s, e = self.bounds(i)
        p = self.run_params(s, e)
        return Plan(e - s, ParamTable(e - s, p.columns, labels=p.labels, table_index=p.table_index),
                    Resolution.identity(p.columns), self.seed, self.outputs, self.output_names, self.times,
                    self.time, max(1, e - s), self.run_kw, self.run0 + s, self.rows,
                    self.table_sets if p.table_index is not None else [], self.has_labels, self.common_seeds)

    @property
    def n_chunks(self) -> int:
        return -(-self.n // self.chunk_size) if self.n else 0

    def bounds(self, i: int) -> tuple[int, int]:
        return i * self.chunk_size, min(self.n, (i + 1) * self.chunk_size)

    def matrix(self, model, i: int) -> np.ndarray:
        s, e = self.bounds(i)
        p = self.chunk_params(i)
        return model.parameter_matrix(p.columns, n=e - s, seeds=p.seeds)

    def run_chunk(self, model, i: int, out: np.ndarray | None = None) -> np.ndarray:
        """Values of chunk i; `out` (chunk runs, self.rows, outputs) is what the kernel writes into."""
        P = self.matrix(model, i)
        which = self.chunk_params(i).table_index
        if which is None:
            res = model.run_batch(P, self.outputs, self.times, out=out, **self.run_kw)
            self.warned += int(np.count_nonzero(res.warnings))
            return res.values
        # runs with other lookup tables (from .cin scenarios) go in one batch per table set
        values = None
        for k in np.unique(which):
            rows = np.flatnonzero(which == k)
            tables = None if k < 0 else self.table_sets[k]
            res = model.run_batch(P[rows], self.outputs, self.times, tables=tables, **self.run_kw)
            self.warned += int(np.count_nonzero(res.warnings))
            part = res.values
            if values is None:
                values = np.empty((len(which),) + part.shape[1:])
            values[rows] = part
        return values

    def digest(self) -> str:
        """Hash of everything that determines the chunks' contents; reads every run's
        parameters once, block by block (then kept)."""
        if self._digest is not None:
            return self._digest
        h = hashlib.sha256()
        h.update(json.dumps({"n": self.n, "seed": self.seed, "outputs": self.output_names,
                             "time": [float(t) for t in self.time], "chunk_size": self.chunk_size,
                             "run": self.run_kw, "params": self.names, "common_seeds": self.common_seeds,
                             "format": 2}, sort_keys=True).encode())
        for _, p in self.blocks():
            for v in p.columns.values():
                h.update(np.ascontiguousarray(v).tobytes())
            if p.labels is not None:
                h.update("\0".join(map(str, p.labels)).encode() + b"\0")
            if p.table_index is not None:
                h.update(np.ascontiguousarray(p.table_index, dtype=np.int64).tobytes())
        for t in self.table_sets:
            h.update(np.ascontiguousarray(t).tobytes())
        self._digest = h.hexdigest()
        return self._digest


def plan(model, params, outputs=None, times="all", seed=None, chunk_size=None,
         final_time=None, time_step=None, saveper=None, method=None) -> Plan:
    """Resolve parameter names, seeds, outputs, times and chunks, every name checked against the
    model; runs one probe simulation to check the rest. Makes no parameters beyond the first run's."""
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2 ** 63))
    seed = int(seed)
    source = as_source(params, model, seed)
    n = source.n
    first = source.rows(0, min(n, 1))
    resolution = Resolution.of(first, model)
    # the method is resolved here (None: the model file's own) so the plan, and a store's
    # manifest, say which one every chunk ran with
    run_kw = {"final_time": final_time, "time_step": time_step, "saveper": saveper,
              "method": model.integration_method(method)}
    if isinstance(outputs, str):
        outputs = [outputs]
    P1 = model.parameter_matrix(resolution.apply(first) if n else {}, n=1)
    probe = model.run_batch(P1, outputs, times, **run_kw)          # checks outputs, times, control
    if chunk_size is None:
        rows = 2 if (isinstance(times, str) and times == "final") else \
            len(model.run_batch(P1, [], "all", **run_kw).time)
        chunk_size = default_chunk_size(rows, len(probe.columns))   # not thread-dependent: resumable
    chunk_size = int(chunk_size)
    if chunk_size < 1:
        raise ParameterError(f"chunk_size must be >= 1, got {chunk_size}")
    return Plan(n, source, resolution, seed, outputs, list(probe.columns), times, probe.time, chunk_size,
                run_kw, rows=probe.rows, table_sets=list(getattr(source, "table_sets", [])),
                has_labels=first.labels is not None)


def sweep(model, params, outputs=None, times="all", keep_runs: bool = True, stats=None, seed=None,
          chunk_size: int | None = None, progress=None, *, final_time=None, time_step=None,
          saveper=None, method: str | None = None, store=None, percentile_bins: int | None = None,
          client=None) -> SweepResult:
    """Run `model` once per parameter set.

    params: {constant: values per run} (equal lengths), a sampler from
    `smartspec_dsl.experiments.samplers`, or a ParamTable. outputs: names (default all
    outputs); times: "all", "final" or a list of saved times; keep_runs: keep
    (runs, times, outputs) values in memory; stats: names such as
    ("mean", "std", "min", "max", "p5", "p50", "p95") computed across runs per
    output per kept time; seed: sampler seed (None: fresh, recorded in the
    result); chunk_size: runs per run_batch call (default: about 64 MB of
    trajectories, at most 10^6); progress: None (a tqdm bar when stderr is a
    terminal), True, False or a callable(done, total); store: a
    `store.SweepStore` to write every chunk to (chunks it already holds are read
    back instead of run: that is resume); client: a dask.distributed Client to
    run chunks on its workers (see distributed.py); final_time, time_step, saveper, method:
    as in `Model.run_batch` (method None: the model file's own, else euler).

    Parameters are made chunk by chunk. keep_runs=False keeps nothing per run
    (memory independent of the number of runs): the result's `params` is {},
    `seeds` and `labels` None and `runs` range(n); use keep_runs=True or a store
    to have every run's parameters."""
    started = _time.perf_counter()
    stat_names = parse_stats(stats)
    pl = params if isinstance(params, Plan) else plan(
        model, params, outputs, times, seed, chunk_size, final_time, time_step, saveper, method)
    n, T, O = pl.n, len(pl.time), len(pl.output_names)
    exact = keep_runs
    acc = StreamingStats(stat_names, T, O, bins=percentile_bins,
                         sketch=not exact) if stat_names else None
    values = np.empty((n, T, O)) if keep_runs else None
    if store is not None:
        store.begin(model, pl)
    # runs a resumed sweep reads back from its store instead of running them
    read_back = 0 if store is None else sum(
        e - s for s, e in (pl.bounds(i) for i in range(pl.n_chunks) if store.has_chunk(i)))
    bar = _Progress(progress, n)
    # The kernel writes each chunk into memory that is already mapped: into `values` itself when
    # every saved time is kept, else into one scratch chunk reused for all chunks. A fresh chunk
    # costs a page fault per 4 KiB: milliseconds per 64 MB chunk of World3, which is the order
    # of the kernel's own time for it.
    direct = values is not None and pl.rows == T
    scratch = None

    def buffer(i):
        nonlocal scratch
        s, e = pl.bounds(i)
        if direct:
            return values[s:e]
        if not pl.rows:
            return None
        if scratch is None:
            scratch = np.empty((min(n, pl.chunk_size), pl.rows, O))
        return scratch[:e - s]

    bad_runs = np.zeros(O, dtype=np.int64)

    def consume(i, vals):
        nonlocal bad_runs
        s, e = pl.bounds(i)
        bad_runs += (~np.isfinite(vals)).any(axis=1).sum(axis=0)
        if values is not None and not np.may_share_memory(values, vals):
            values[s:e] = vals
        if acc is not None:
            acc.add(vals)
        bar.update(e - s)

    try:
        if client is not None:
            run_chunks(client, model, pl, store, consume)
        else:
            for i in range(pl.n_chunks):
                if store is not None and store.has_chunk(i):
                    vals = store.read_chunk(i)
                else:
                    vals = pl.run_chunk(model, i, buffer(i))
                    if store is not None:
                        store.write_chunk(i, pl, vals)
                consume(i, vals)
    finally:
        bar.close()
    result_stats = acc.result(values if exact else None) if acc is not None else None
    err = None if (acc is None or exact) else acc.error()
    # runs with an infinite or NaN value, per output (left out of the statistics), and runs
    # with simulation warnings (lookups, declared ranges; counted for the chunks run here)
    bad = {o: int(k) for o, k in zip(pl.output_names, bad_runs) if k}
    if store is not None:
        store.manifest["bad_runs"] = bad
        store.manifest["runs_with_warnings"] = pl.warned
        store.finish(pl, result_stats, err)
    if keep_runs:
        every = pl.run_params(0, n)
        runs, params, seeds, labels = np.arange(n, dtype=np.int64), every.columns, every.seeds, every.labels
    else:
        runs, params, seeds, labels = range(n), {}, None, None
    return SweepResult(runs, params, pl.time, pl.output_names, values, result_stats, err, pl.seed, seeds,
                       labels, _time.perf_counter() - started,
                       {"chunk_size": pl.chunk_size, "chunks": pl.n_chunks, "bad_runs": bad,
                        "runs_with_warnings": pl.warned, "runs_run": n - read_back, "runs_read_back": read_back})


# ---------------------------------------------------------------- TOML spec

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
    method = "rk4"      # or "euler"; default: the model's own (XMILE sim_specs), else euler
    final_time = 30     # also time_step, saveper: control overrides for every run
    percentile_bins = 4096   # histogram bins for streaming percentiles
    table = "runs.csv"  # sampler = "table": CSV, header = constant names (+ optional scenario)
    levels = 4          # sampler = "morris"
    second_order = true # sampler = "saltelli"
    common_random_numbers = false   # true: every run draws the same random-function streams
                        # (scenario comparisons); false: run i has its own seed from `seed`

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
            fail(k, f"unknown key (expected one of {', '.join(sorted(SPEC_KEYS))})")

    def check_param(key, name):
        try:
            idx = model.param_index(name)
        except ModelError as err:
            fail(key, str(err))
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
        return float(value)

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
                    fail(f"{key}.{k}", f"unknown key (expected one of {', '.join(sorted(SCENARIO_KEYS))})")
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
                check_param(f"{key}: '{k}'", k)
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
        for o in outs:
            key = ir.canonical_name(o)
            if key not in model.kernel.slots or model.schedule.model.variables[key].hidden:
                fail("outputs", f"'{o}' is not a variable of {model.path}")
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
        if raw["method"] not in ("euler", "rk4"):
            fail("method", f"must be \"euler\" or \"rk4\", got {raw['method']!r}")
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
        # every run draws the same random streams (run seed 0): runs differ by their constants alone
        plan_.common_seeds = True
    return SweepSpec(str(path), plan_, plan_.seed, opts, layout, raw, sampler)
