"""Parameter samplers for sweeps.

A sampler gives its runs' parameters on demand: `sampler.source(model, seed)`
is an object with `n` (runs) and `rows(s, e)`, the `ParamTable` of runs
[s, e). A sweep asks for one chunk of rows at a time, so memory does not grow
with the number of runs. Run i's parameters depend only on the sampler, its
seed and i, never on which rows are asked for together: the same whatever the
chunk size, the thread count or the worker. `sampler.table(model, seed)` is
every row at once (`source(...).rows(0, n)`).

| sampler | runs | what |
|---|---|---|
| `Grid({name: values})` | product of lengths | full factorial grid, first name varies slowest |
| `Table({name: array})`, `Table.from_csv(path)` | rows | explicit parameter sets |
| `Random({name: dist}, n)` | n | independent draws, counter-based (below) |
| `LatinHypercube({name: dist}, n)` | n | Latin hypercube, strata from a keyed permutation (below) |
| `Sobol({name: dist}, n)` | n | scrambled Sobol points (scipy.stats.qmc) |
| `Scenarios([Scenario(...), ...])` | scenarios | named scenarios: absolute values and multipliers on groups of constants |
| `Scenarios.from_cin([paths])` | files | each Vensim `.cin` changes file is one scenario (constants and lookup tables) |
| `Product(a, b)` | len(a) * len(b) | every row of a with every row of b (a slowest) |

Distributions: `Uniform(low, high)`, `Normal(mean, sd)`, `LogNormal(mu, sigma)`
(mu, sigma of the underlying normal, so the median is exp(mu)) and
`Triangular(low, mode, high)`. Random, Latin hypercube and Sobol make points
u in (0, 1)^d and map column j through the j-th distribution's inverse CDF.

How rows are made on demand:
  * Grid, Product: index arithmetic on the run index;
  * Random: u[i, j] is splitmix64 of a key from (seed, j) plus i times the
    golden-ratio increment, i.e. draw i of a splitmix64 stream per parameter
    (53 bits, open interval). Row i does not depend on n, and column j not on
    the parameters after it: growing n appends runs, adding a parameter at the
    end keeps the others' draws. (Before lazy generation, Random filled a numpy PCG64 table
    row by row: the same seed now gives different, equally distributed, draws.)
  * LatinHypercube: u[i, j] = (p_j(i) + v[i, j]) / n with p_j a permutation of
    0..n-1 keyed by (seed, j) (a 6-round Feistel network over the next even
    power of two, cycle-walking back into range) and v an independent draw as
    for Random: one point per stratum and column, as scipy's LatinHypercube
    (which it replaces; draws differ from the previous version as for Random);
  * Sobol: scipy's scrambled Sobol engine (scramble from `default_rng(seed)`,
    points unchanged from the previous version), fast-forwarded to row s; the
    engine is kept between calls, so reading the rows in order costs O(n);
  * Table, Scenarios, Morris, Saltelli: held whole (they are given or small).
"""
from __future__ import annotations

import csv
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ParameterError, SpecError
from ..frontend.changes import read_changes
from ..ir import canonical_reference as canon

from .distributions import (DISTRIBUTIONS, Distribution, LogNormal, Normal, Triangular, Uniform, distribution,
                            fresh_seed, permute, stream_key, uniforms)
from .paramtable import ParamTable, Resolution, RowSource, Sampler, check_lengths, gather_rows

# The sweep API in one place: the samplers here, and the distributions and
# tables they use (which live in distributions.py and paramtable.py).
__all__ = ["DISTRIBUTIONS", "Distribution", "Uniform", "Normal", "LogNormal", "Triangular", "distribution",
           "ParamTable", "Resolution", "RowSource", "Sampler", "SAMPLERS", "Grid", "Table", "Random",
           "LatinHypercube", "Sobol", "Scenario", "Scenarios", "Product", "Morris", "Saltelli",
           "as_source", "as_table"]


# ---------------------------------------------------------------- samplers


class Grid(Sampler):
    """Full factorial grid; the first name varies slowest (row-major, like nested loops)."""

    def __init__(self, values: dict[str, "np.ndarray | list[float]"]):
        self.values = {k: np.asarray(v, dtype=np.float64).ravel() for k, v in values.items()}
        for k, v in self.values.items():
            if not len(v):
                raise SpecError(f"grid: '{k}' has no values")
        self.names = list(self.values)

    def source(self, model=None, seed=None) -> RowSource:
        values = list(self.values.items())

        def make(s, e):
            idx = np.arange(s, e, dtype=np.int64)
            cols = {}
            for k, v in reversed(values):
                idx, pos = np.divmod(idx, len(v))
                cols[k] = v[pos]
            return ParamTable(e - s, {k: cols[k] for k, _ in values})
        return RowSource(math.prod(len(v) for _, v in values), make)


class Table(Sampler):
    """Explicit parameter sets: {name: values} with equal lengths."""

    def __init__(self, columns: dict[str, "np.ndarray | list[float]"], labels=None, source="table"):
        self.columns = {k: np.asarray(v, dtype=np.float64).ravel() for k, v in columns.items()}
        self.n = check_lengths(self.columns, source)
        self.labels = None if labels is None else np.asarray(labels, dtype=object)
        self.names = list(self.columns)

    @classmethod
    def from_csv(cls, path: str | Path) -> "Table":
        """A CSV with a header of constant names; a column named `scenario` (or
        `run`) is kept as run labels, not as a constant."""
        path = Path(path)
        try:
            with open(path, newline="", encoding="utf-8-sig") as f:
                rows = list(csv.reader(f))
        except OSError as err:
            raise SpecError(f"{path}: cannot read parameter table: {err.strerror or err}") from None
        rows = [r for r in rows if any(c.strip() for c in r)]
        if not rows:
            raise SpecError(f"{path}: empty parameter table")
        header = [h.strip() for h in rows[0]]
        cols: dict[str, list] = {h: [] for h in header}
        for lineno, row in enumerate(rows[1:], start=2):
            if len(row) != len(header):
                raise SpecError(f"{path}:{lineno}: {len(row)} fields, the header has {len(header)}")
            for h, cell in zip(header, row):
                cols[h].append(cell.strip())
        labels = cols.pop("scenario", None)
        cols.pop("run", None)
        numeric = {}
        for h, vals in cols.items():
            try:
                numeric[h] = [float(v) for v in vals]
            except ValueError:
                bad = next(v for v in vals if not _is_float(v))
                raise SpecError(f"{path}: column '{h}': '{bad}' is not a number") from None
        return cls(numeric, labels, str(path))

    def table(self, model=None, seed=None) -> ParamTable:
        return ParamTable(self.n, dict(self.columns), labels=self.labels)


def _is_float(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


class _Design(Sampler):
    """Points u in [0,1)^d mapped through each parameter's inverse CDF."""
    kind = ""

    def __init__(self, dists: dict[str, Distribution], n: int):
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            raise SpecError(f"{self.kind}: number of runs must be a positive integer, got {n!r}")
        if not dists:
            raise SpecError(f"{self.kind}: no parameters to sample")
        self.dists, self.n, self.names = dict(dists), int(n), list(dists)

    def unit(self, seed: int):  # pragma: no cover
        """A function (s, e) -> points u of runs [s, e), shape (e - s, d)."""
        raise NotImplementedError

    def source(self, model=None, seed=None) -> RowSource:
        unit = self.unit(fresh_seed() if seed is None else int(seed))
        dists = list(self.dists.items())

        def make(s, e):
            u = unit(s, e)
            return ParamTable(e - s, {k: d.ppf(u[:, j]) for j, (k, d) in enumerate(dists)})
        return RowSource(self.n, make)


class Random(_Design):
    kind = "random"

    def unit(self, seed):
        keys = [stream_key(seed, 0, j) for j in range(len(self.dists))]

        def rows(s, e):
            runs = np.arange(s, e, dtype=np.uint64)
            u = np.empty((e - s, len(keys)))
            for j, k in enumerate(keys):
                u[:, j] = uniforms(k, runs)
            return u
        return rows


def _qmc(cls, d, rng, **kw):
    try:
        return cls(d, rng=rng, **kw)
    except TypeError:          # scipy < 1.15
        return cls(d, seed=rng, **kw)


class LatinHypercube(_Design):
    kind = "lhs"

    def unit(self, seed):
        n = self.n
        keys = [(stream_key(seed, 1, j), stream_key(seed, 2, j)) for j in range(len(self.dists))]
        below_one = np.nextafter(1.0, 0.0)    # (stratum + jitter) / n may round up to 1

        def rows(s, e):
            runs = np.arange(s, e, dtype=np.uint64)
            u = np.empty((e - s, len(keys)))
            for j, (kp, kv) in enumerate(keys):
                u[:, j] = np.minimum((permute(kp, runs, n) + uniforms(kv, runs)) / n, below_one)
            return u
        return rows


class Sobol(_Design):
    """Scrambled Sobol points; n a power of two keeps the balance properties."""
    kind = "sobol"

    def unit(self, seed):
        from scipy.stats import qmc
        d, engine = len(self.dists), None

        def rows(s, e):
            nonlocal engine
            # one engine for every call: rows asked for in order cost no fast-forward at all
            if engine is None or engine.num_generated > s:
                engine = _qmc(qmc.Sobol, d, np.random.default_rng(seed), scramble=True)
            if s > engine.num_generated:
                engine.fast_forward(s - engine.num_generated)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")          # "balance properties ... power of 2"
                return engine.random(e - s)
        return rows


@dataclass
class Scenario:
    """A named scenario: `set` absolute values, `scale` multipliers (on the value
    set by another sampler in a Product, else on the model default)."""
    name: str
    set: dict[str, float] = field(default_factory=dict)
    scale: dict[str, float] = field(default_factory=dict)
    changes: list = field(default_factory=list)   # .cin Changes whose lookup tables apply

    @classmethod
    def multiply(cls, name: str, constants, factor: float) -> "Scenario":
        """Scale a group of constants by one factor, e.g. multiply('high', [...], 1.25)."""
        return cls(name, scale={c: float(factor) for c in constants})

    @classmethod
    def from_cin(cls, path: str | Path, name: str | None = None) -> "Scenario":
        ch = read_changes(path)
        return cls(name or Path(path).stem, set=dict(ch.constants), changes=[ch])


class Scenarios(Sampler):
    def __init__(self, scenarios: list[Scenario]):
        if not scenarios:
            raise SpecError("scenarios: none given")
        names = [s.name for s in scenarios]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise SpecError(f"scenarios: name '{sorted(dup)[0]}' used twice")
        self.scenarios = list(scenarios)
        self.names = sorted({k for s in scenarios for k in (*s.set, *s.scale)})

    @classmethod
    def from_cin(cls, paths) -> "Scenarios":
        return cls([Scenario.from_cin(p) for p in paths])

    def table(self, model=None, seed=None) -> ParamTable:
        n = len(self.scenarios)
        cols: dict[str, np.ndarray] = {}
        mult: dict[str, np.ndarray] = {}
        sets = [{canon(k): float(v) for k, v in s.set.items()} for s in self.scenarios]
        scales = [{canon(k): float(v) for k, v in s.scale.items()} for s in self.scenarios]
        if model is not None:
            # a subscripted constant named whole or through a range (`growth`, `growth[R]`) sets
            # or scales each of its elements, by one rule with a changes file's line
            for d, e, s in zip(sets, scales, self.scenarios):
                where = {k: (ch.written.get(k, k), f"{ch.source}:{ch.lines[k]}")
                         for ch in s.changes for k in ch.constants}
                for table in (d, e):
                    for k in list(table):
                        value = table.pop(k)
                        written, at = where.get(k, (k, f"scenario '{s.name}'"))
                        table.update((f, value) for f in model.cin_constants(written, at))
        for k in {k for d in sets for k in d}:
            if model is None:
                raise SpecError("scenarios need the model to fill in defaults")
            default = float(model.defaults[model.param_index(k)])
            cols[k] = np.array([d.get(k, default) for d in sets], dtype=np.float64)
        for k in {k for d in scales for k in d}:
            mult[k] = np.array([d.get(k, 1.0) for d in scales], dtype=np.float64)
        index, sets = None, []
        if any(ch.tables for s in self.scenarios for ch in s.changes):
            if model is None:
                raise SpecError("scenarios with lookup tables need the model")
            index = np.full(n, -1, dtype=np.int64)
            for i, s in enumerate(self.scenarios):
                if any(ch.tables for ch in s.changes):
                    index[i] = len(sets)
                    sets.append(model.apply_changes(s.changes)[1])   # checks the table names
        return ParamTable(n, cols, mult, np.array([s.name for s in self.scenarios], dtype=object),
                          index, sets)


class Product(Sampler):
    """Every row of `outer` with every row of `inner` (outer slowest). Seeds:
    outer gets `seed`, inner `seed + 1`."""

    def __init__(self, outer: Sampler, inner: Sampler):
        self.outer, self.inner = outer, inner
        self.names = list(dict.fromkeys(outer.names + inner.names))

    def source(self, model=None, seed=None) -> RowSource:
        if seed is None:
            seed = fresh_seed()
        a = self.outer.source(model, seed)
        b = self.inner.source(model, seed + 1)
        pa, pb = a.rows(0, min(a.n, 1)), b.rows(0, min(b.n, 1))
        clash = {canon(k) for k in pa.columns} & {canon(k) for k in pb.columns}
        if clash:
            raise SpecError(f"'{sorted(clash)[0]}' is set by both samplers of a product")
        if pa.table_index is not None and pb.table_index is not None:
            raise SpecError("only one sampler of a product may replace lookup tables")
        nb = b.n

        def make(s, e):
            ia, ib = np.divmod(np.arange(s, e, dtype=np.int64), nb)
            ta, tb = gather_rows(a, ia), gather_rows(b, ib)
            mult = dict(ta.multipliers)
            for k, v in tb.multipliers.items():
                mult[k] = mult[k] * v if k in mult else v
            la, lb = ta.labels, tb.labels
            labels = la if lb is None else lb if la is None else \
                np.array([f"{x}/{y}" for x, y in zip(la, lb)], dtype=object)
            index = ta.table_index if ta.table_index is not None else tb.table_index
            return ParamTable(e - s, ta.columns | tb.columns, mult, labels, index,
                              ta.table_sets if ta.table_index is not None else tb.table_sets)
        return RowSource(a.n * nb, make, a.table_sets or b.table_sets)


# ---------------------------------------------------------------- SALib designs


class _SALibDesign(Sampler):
    """A design over bounded parameters, in SALib's `problem` form."""

    def __init__(self, kind: str, bounds: dict[str, tuple[float, float]]):
        self.bounds, self.names = dict(bounds), list(bounds)
        for k, (lo, hi) in self.bounds.items():
            if not lo < hi:
                raise SpecError(f"{kind}: '{k}' low ({lo}) must be < high ({hi})")

    def problem(self):
        return {"num_vars": len(self.names), "names": self.names,
                "bounds": [list(map(float, self.bounds[k])) for k in self.names]}


class Morris(_SALibDesign):
    """Morris elementary-effects design (SALib): (levels, trajectories); runs = r * (d + 1)."""

    def __init__(self, bounds: dict[str, tuple[float, float]], trajectories: int, levels: int = 4):
        _SALibDesign.__init__(self, "morris", bounds)
        self.r, self.levels = int(trajectories), int(levels)

    def table(self, model=None, seed=None) -> ParamTable:
        try:
            from SALib.sample import morris
        except ImportError as err:
            raise SpecError("the morris sampler needs SALib: pip install 'smartspec[sensitivity]'") from err
        x = morris.sample(self.problem(), self.r, num_levels=self.levels, seed=seed)
        return ParamTable(len(x), {k: x[:, j].copy() for j, k in enumerate(self.names)})


class Saltelli(_SALibDesign):
    """Sobol-index design (SALib sobol sampler): runs = N * (2d + 2) with second order."""

    def __init__(self, bounds: dict[str, tuple[float, float]], base: int, second_order: bool = True):
        _SALibDesign.__init__(self, "saltelli", bounds)
        self.base, self.second = int(base), bool(second_order)

    def table(self, model=None, seed=None) -> ParamTable:
        try:
            from SALib.sample import sobol
        except ImportError as err:
            raise SpecError("the saltelli sampler needs SALib: pip install 'smartspec[sensitivity]'") from err
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            x = sobol.sample(self.problem(), self.base, calc_second_order=self.second, seed=seed)
        return ParamTable(len(x), {k: x[:, j].copy() for j, k in enumerate(self.names)})


SAMPLERS = ("grid", "table", "random", "lhs", "sobol", "scenarios", "morris", "saltelli")


def as_source(params, model, seed):
    """A source of rows (`n`, `rows(s, e)`) from a sampler, a ParamTable or {name: array}."""
    if isinstance(params, Sampler):
        return params.source(model, seed)
    return as_table(params, model, seed)


def as_table(params, model, seed) -> ParamTable:
    """A ParamTable from a sampler, a ParamTable or {name: array}."""
    if isinstance(params, ParamTable):
        return params
    if isinstance(params, Sampler):
        return params.table(model, seed)
    if isinstance(params, dict):
        cols = {k: np.atleast_1d(np.asarray(v, dtype=np.float64)) for k, v in params.items()}
        lengths = {len(v) for v in cols.values()}
        if len(lengths) > 1:
            raise ParameterError(f"parameter columns have different lengths: {sorted(lengths)}")
        return ParamTable(lengths.pop() if lengths else 1, cols)
    raise TypeError(f"params must be a dict of arrays or a sampler, not {type(params).__name__}")
