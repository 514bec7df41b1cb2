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

Every run has an id (0..n-1) and a 52-bit seed derived from the sweep seed and
its id (splitmix64, see `run_seeds`); the seed feeds the model's random
functions, as a run's own seed does (`model.run(seed=res.seeds[i])`). With common
random numbers (`Plan.common_seeds`) every run's seed is the sweep seed itself: every
run draws the streams of `model.run(seed=seed)`.
"""
from __future__ import annotations

import hashlib
import json
import sys
import time as _time
from dataclasses import dataclass, field

import numpy as np

from .. import ir
from ..backend.kernel_random import GOLDEN, splitmix64
from ..errors import ParameterError
from ..ir.builtins import GIVES_NA
from .distributed import run_chunks
from .results import SweepResult
from .samplers import ParamTable, Resolution, as_source
from .stats import StreamingStats, parse_stats

CHUNK_BYTES = 64 * 2 ** 20      # default chunk: about this many bytes of trajectories
PARAM_BLOCK = 2 ** 16           # runs per block when every run's parameters are streamed (digest, store)


def run_seeds(seed: int, runs: np.ndarray) -> np.ndarray:
    """splitmix64(seed * golden + run) modulo 2**52: a per-run seed independent of chunking,
    in the range of a run's own seed (the parameter vector holds it as a float64,
    `single.check_seed`), so that `model.run(seed=res.seeds[i])` with run i's parameters
    runs run i again."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed & 0xFFFFFFFFFFFFFFFF) * np.uint64(GOLDEN) + runs.astype(np.uint64)
        return splitmix64(z) & np.uint64(2 ** 52 - 1)


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
    common_seeds: bool = False         # every run gets `seed` as its run seed (common random numbers)
    warned: int = 0                    # runs with simulation warnings, of the chunks run_chunk ran
    tier: str = "auto"                 # what runs the chunks (Model.run_batch's tier)
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
        # common random numbers: every run draws the streams of `model.run(seed=self.seed)`, so
        # that the spec's seed picks them (a seed a run cannot take is refused, single.seed_value)
        seeds = np.full(e - s, self.seed, dtype=np.uint64) if self.common_seeds else \
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
        return model.parameter_matrix(p.columns, n=e - s, seeds=p.seeds, first_run=self.run0 + s)

    def run_chunk(self, model, i: int, out: np.ndarray | None = None) -> np.ndarray:
        """Values of chunk i; `out` (chunk runs, self.rows, outputs) is what the kernel writes into."""
        P = self.matrix(model, i)
        which = self.chunk_params(i).table_index
        if which is None:
            res = model.run_batch(P, self.outputs, self.times, out=out, tier=self.tier, **self.run_kw)
            self.warned += int(np.count_nonzero(res.warnings))
            return res.values
        # runs with other lookup tables (from .cin scenarios) go in one batch per table set
        values = None
        for k in np.unique(which):
            rows = np.flatnonzero(which == k)
            tables = None if k < 0 else self.table_sets[k]
            res = model.run_batch(P[rows], self.outputs, self.times, tables=tables, tier=self.tier,
                                  **self.run_kw)
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
        # below 2**52: a run's seed too, with common random numbers (Plan.common_seeds)
        seed = int(np.random.SeedSequence().entropy % (2 ** 52))
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


def may_give_na(model) -> bool:
    """Whether a run of `model` can give Vensim's :NA: (-1.298e33): a literal :NA: (:RAW:
    data, VECTOR ELM MAP out of range) or a call whose help says it returns :NA:."""
    for var in model.schedule.model.variables.values():
        for node in (n for e in (var.expr, var.initial) if e is not None for n in ir.walk(e)):
            if (isinstance(node, ir.Num) and node.value == ir.NA_VALUE) or \
                    (isinstance(node, ir.Call) and node.func in GIVES_NA):
                return True
    return False


def sweep(model, params, outputs=None, times="all", keep_runs: bool = True, stats=None, seed=None,
          chunk_size: int | None = None, progress=None, *, final_time=None, time_step=None,
          saveper=None, method: str | None = None, store=None, percentile_bins: int | None = None,
          client=None, tier: str = "auto") -> SweepResult:
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
    as in `Model.run_batch` (method None: the model file's own, else euler); tier: what runs
    every chunk, "auto" choosing once for the whole sweep (the compiled kernel when the sweep
    is large enough to pay for its compile), reported in the result's info["tier"].

    Parameters are made chunk by chunk. keep_runs=False keeps nothing per run
    (memory independent of the number of runs): the result's `params` is {},
    `seeds` and `labels` None and `runs` range(n); use keep_runs=True or a store
    to have every run's parameters."""
    started = _time.perf_counter()
    stat_names = parse_stats(stats)
    pl = params if isinstance(params, Plan) else plan(
        model, params, outputs, times, seed, chunk_size, final_time, time_step, saveper, method)
    n, T, O = pl.n, len(pl.time), len(pl.output_names)
    kw = pl.run_kw
    pl.tier = model.choose_tier(tier, n, model.control(model.defaults, kw["final_time"], kw["time_step"],
                                                       kw["saveper"])[2])
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
    warned = 0
    # :NA: is a number to the kernel's finite watch: only a model that can give it pays for a scan
    na = may_give_na(model)

    def consume(i, vals, chunk_warned, ran_here=False):
        nonlocal bad_runs, warned
        s, e = pl.bounds(i)
        if values is not None and not np.may_share_memory(values, vals):
            values[s:e] = vals
        scan = chunk_warned or not ran_here
        if na:
            missing = vals == ir.NA_VALUE
            if missing.any():
                # Vensim's :NA: (no value) is counted and left out of the statistics as NaN is;
                # the runs' own values keep it
                vals, scan = np.where(missing, np.nan, vals), True
        # A run that saves an infinite or NaN value has a warning (the kernel's finite watch
        # scans every value at every save): a chunk run here with no warning needs no scan.
        if scan:
            with np.errstate(invalid="ignore", over="ignore"):
                # one pass, no temporary, in the common case (an overflowing sum takes the full count)
                if not np.isfinite(vals.sum()):
                    bad_runs += (~np.isfinite(vals)).any(axis=1).sum(axis=0)
        warned += chunk_warned
        if acc is not None:
            acc.add(vals)
        bar.update(e - s)

    try:
        if client is not None:
            run_chunks(client, model, pl, store, consume)
        else:
            for i in range(pl.n_chunks):
                ran_here = store is None or not store.has_chunk(i)
                if not ran_here:
                    vals, chunk_warned = store.read_chunk(i), store.chunk_warnings(i)
                else:
                    before = pl.warned
                    vals = pl.run_chunk(model, i, buffer(i))
                    chunk_warned = pl.warned - before
                    if store is not None:
                        store.write_chunk(i, pl, vals, chunk_warned)
                consume(i, vals, chunk_warned, ran_here)
    finally:
        bar.close()
    result_stats = acc.result(values if exact else None) if acc is not None else None
    err = None if (acc is None or exact) else acc.error()
    # runs with an infinite or NaN value, per output (left out of the statistics), and runs
    # with simulation warnings (lookups, declared ranges, any value infinite or NaN), of every chunk: run here, on
    # workers, or read back from the store
    bad = {o: int(k) for o, k in zip(pl.output_names, bad_runs) if k}
    if store is not None:
        store.manifest["bad_runs"] = bad
        store.manifest["runs_with_warnings"] = warned
        store.finish(pl, result_stats, err)
    if keep_runs:
        every = pl.run_params(0, n)
        runs, params, seeds, labels = np.arange(n, dtype=np.int64), every.columns, every.seeds, every.labels
    else:
        runs, params, seeds, labels = range(n), {}, None, None
    return SweepResult(runs, params, pl.time, pl.output_names, values, result_stats, err, pl.seed, seeds,
                       labels, _time.perf_counter() - started,
                       {"chunk_size": pl.chunk_size, "chunks": pl.n_chunks, "bad_runs": bad,
                        "runs_with_warnings": warned, "runs_run": n - read_back, "runs_read_back": read_back,
                        "tier": pl.tier})
