"""Parameter samplers for sweeps.

Every sampler turns into a `ParamTable` (one row per run) through
`sampler.table(model, seed)`. The whole table is built before any run starts,
so run i's parameters depend only on the sampler and its seed, never on how
the runs are later cut into chunks or spread over threads or workers.

| sampler | runs | what |
|---|---|---|
| `Grid({name: values})` | product of lengths | full factorial grid, first name varies slowest |
| `Table({name: array})`, `Table.from_csv(path)` | rows | explicit parameter sets |
| `Random({name: dist}, n)` | n | independent draws (numpy PCG64 from the seed) |
| `LatinHypercube({name: dist}, n)` | n | scipy.stats.qmc Latin hypercube, mapped through each inverse CDF |
| `Sobol({name: dist}, n)` | n | scrambled Sobol points (scipy.stats.qmc), same mapping |
| `Scenarios([Scenario(...), ...])` | scenarios | named scenarios: absolute values and multipliers on groups of constants |
| `Scenarios.from_cin([paths])` | files | each Vensim `.cin` changes file is one scenario (constants and lookup tables) |
| `Product(a, b)` | len(a) * len(b) | every row of a with every row of b (a slowest) |

Distributions: `Uniform(low, high)`, `Normal(mean, sd)`, `LogNormal(mu, sigma)`
(mu, sigma of the underlying normal, so the median is exp(mu)) and
`Triangular(low, mode, high)`. Random, Latin hypercube and Sobol draw points
u in [0, 1)^d and map column j through the j-th distribution's inverse CDF.
For `Random`, row i is the same whatever the number of runs (numpy fills row
by row), so growing n only appends runs.
"""
from __future__ import annotations

import csv
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ParameterError, SpecError

# ---------------------------------------------------------------- tables


@dataclass
class ParamTable:
    """Parameter sets, one row per run.

    `columns`: constant name -> absolute value per run; `multipliers`: constant
    name -> factor per run, applied to the column's value when the constant has
    a column and to the model default otherwise; `labels`: optional scenario
    name per run."""
    n: int
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    multipliers: dict[str, np.ndarray] = field(default_factory=dict)
    labels: np.ndarray | None = None
    # lookup tables replaced by .cin scenarios: per run an index into `table_sets`
    # (each a model's whole table vector), -1 for the model's own tables
    table_index: np.ndarray | None = None
    table_sets: list[np.ndarray] = field(default_factory=list)

    def resolve(self, model) -> dict[str, np.ndarray]:
        """{display name: values per run}, multipliers applied; checks every name
        is a settable constant of `model` (ParameterError otherwise)."""
        out: dict[str, np.ndarray] = {}
        defaults = model.defaults
        mult: dict[int, np.ndarray] = {}
        for name, factor in self.multipliers.items():
            idx = model.param_index(name)                       # ParameterError when unknown
            f = np.asarray(factor, dtype=np.float64)
            mult[idx] = mult[idx] * f if idx in mult else f
        seen: dict[int, str] = {}
        for name, col in self.columns.items():
            idx = model.param_index(name)
            if idx in seen:
                raise ParameterError(f"'{name}' is given twice (also as '{seen[idx]}')")
            seen[idx] = name
            values = np.asarray(col, dtype=np.float64).copy()
            if idx in mult:
                values = values * mult.pop(idx)
            out[model.display(model.schedule.constants[idx])] = values
        for idx, f in mult.items():
            out[model.display(model.schedule.constants[idx])] = defaults[idx] * f
        model.parameter_matrix({k: v[:1] for k, v in out.items()}, n=1 if self.n else 0)  # control check
        return out


def _check_lengths(columns: dict, what: str) -> int:
    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        raise SpecError(f"{what}: parameter columns have different lengths {sorted(lengths)}")
    return lengths.pop() if lengths else 0


class Sampler:
    """Base class: `table(model, seed) -> ParamTable`; `names` the constants it sets."""
    names: list[str] = []

    def table(self, model=None, seed: int | None = None) -> ParamTable:  # pragma: no cover
        raise NotImplementedError


# ---------------------------------------------------------------- distributions


class Distribution:
    def ppf(self, u: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


def _number(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise SpecError(f"{what} must be a number, got {value!r}")
    if not math.isfinite(float(value)):
        raise SpecError(f"{what} must be finite, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Uniform(Distribution):
    low: float
    high: float

    def __post_init__(self):
        if not _number(self.low, "low") <= _number(self.high, "high"):
            raise SpecError(f"uniform: low ({self.low}) > high ({self.high})")

    def ppf(self, u):
        return self.low + (self.high - self.low) * u


@dataclass(frozen=True)
class Normal(Distribution):
    mean: float
    sd: float

    def __post_init__(self):
        _number(self.mean, "mean")
        if not _number(self.sd, "sd") > 0:
            raise SpecError(f"normal: sd must be > 0, got {self.sd}")

    def ppf(self, u):
        from scipy.special import ndtri
        return self.mean + self.sd * ndtri(u)


@dataclass(frozen=True)
class LogNormal(Distribution):
    mu: float
    sigma: float

    def __post_init__(self):
        _number(self.mu, "mu")
        if not _number(self.sigma, "sigma") > 0:
            raise SpecError(f"lognormal: sigma must be > 0, got {self.sigma}")

    def ppf(self, u):
        from scipy.special import ndtri
        return np.exp(self.mu + self.sigma * ndtri(u))


@dataclass(frozen=True)
class Triangular(Distribution):
    low: float
    mode: float
    high: float

    def __post_init__(self):
        lo, mo, hi = (_number(x, n) for x, n in ((self.low, "low"), (self.mode, "mode"), (self.high, "high")))
        if not (lo <= mo <= hi and lo < hi):
            raise SpecError(f"triangular: need low <= mode <= high and low < high, got "
                            f"({self.low}, {self.mode}, {self.high})")

    def ppf(self, u):
        lo, mo, hi = self.low, self.mode, self.high
        c = (mo - lo) / (hi - lo)
        u = np.asarray(u, dtype=np.float64)
        left = lo + np.sqrt(u * (hi - lo) * (mo - lo))
        right = hi - np.sqrt((1 - u) * (hi - lo) * (hi - mo))
        return np.where(u < c, left, right)


DISTRIBUTIONS = {"uniform": (Uniform, ("low", "high")),
                 "normal": (Normal, ("mean", "sd")),
                 "lognormal": (LogNormal, ("mu", "sigma")),
                 "triangular": (Triangular, ("low", "mode", "high"))}


def distribution(spec: dict, where: str) -> Distribution:
    """A distribution from a spec table such as {dist = "uniform", low = 1, high = 2}."""
    if not isinstance(spec, dict):
        raise SpecError(f"{where}: expected a table like {{dist = \"uniform\", low = 1, high = 2}}")
    kind = spec.get("dist", "uniform" if "low" in spec and "high" in spec and "mode" not in spec else None)
    if kind is None:
        raise SpecError(f"{where}: missing key 'dist' (one of {', '.join(DISTRIBUTIONS)})")
    if kind not in DISTRIBUTIONS:
        raise SpecError(f"{where}: unknown distribution '{kind}' (use one of {', '.join(DISTRIBUTIONS)})")
    cls, keys = DISTRIBUTIONS[kind]
    missing = [k for k in keys if k not in spec]
    if missing:
        raise SpecError(f"{where}: {kind} distribution needs key '{missing[0]}'")
    extra = sorted(set(spec) - set(keys) - {"dist"})
    if extra:
        raise SpecError(f"{where}: unknown key '{extra[0]}' for a {kind} distribution "
                        f"(expected {', '.join(keys)})")
    try:
        return cls(*(spec[k] for k in keys))
    except SpecError as err:
        raise SpecError(f"{where}: {err}") from None


# ---------------------------------------------------------------- samplers


class Grid(Sampler):
    """Full factorial grid; the first name varies slowest (row-major, like nested loops)."""

    def __init__(self, values: dict[str, "np.ndarray | list[float]"]):
        self.values = {k: np.asarray(v, dtype=np.float64).ravel() for k, v in values.items()}
        for k, v in self.values.items():
            if not len(v):
                raise SpecError(f"grid: '{k}' has no values")
        self.names = list(self.values)

    def table(self, model=None, seed=None) -> ParamTable:
        if not self.values:
            return ParamTable(1)
        mesh = np.meshgrid(*self.values.values(), indexing="ij")
        cols = {k: m.ravel() for k, m in zip(self.values, mesh)}
        return ParamTable(len(next(iter(cols.values()))), cols)


class Table(Sampler):
    """Explicit parameter sets: {name: values} with equal lengths."""

    def __init__(self, columns: dict[str, "np.ndarray | list[float]"], labels=None, source="table"):
        self.columns = {k: np.asarray(v, dtype=np.float64).ravel() for k, v in columns.items()}
        self.n = _check_lengths(self.columns, source)
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

    def unit(self, rng: np.random.Generator) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def table(self, model=None, seed=None) -> ParamTable:
        u = self.unit(np.random.default_rng(seed))
        return ParamTable(self.n, {k: d.ppf(u[:, j]) for j, (k, d) in enumerate(self.dists.items())})


class Random(_Design):
    kind = "random"

    def unit(self, rng):
        return rng.random((self.n, len(self.dists)))


def _qmc(cls, d, rng, **kw):
    try:
        return cls(d, rng=rng, **kw)
    except TypeError:          # scipy < 1.15
        return cls(d, seed=rng, **kw)


class LatinHypercube(_Design):
    kind = "lhs"

    def unit(self, rng):
        from scipy.stats import qmc
        return _qmc(qmc.LatinHypercube, len(self.dists), rng).random(self.n)


class Sobol(_Design):
    """Scrambled Sobol points; n a power of two keeps the balance properties."""
    kind = "sobol"

    def unit(self, rng):
        from scipy.stats import qmc
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")          # "balance properties ... power of 2"
            return _qmc(qmc.Sobol, len(self.dists), rng, scramble=True).random(self.n)


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
        from .changes import read_changes
        ch = read_changes(path)
        return cls(name or Path(path).stem, set=dict(ch.constants), changes=[ch] if ch.tables else [])


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
        from .ir import canonical_name as canon
        sets = [{canon(k): float(v) for k, v in s.set.items()} for s in self.scenarios]
        scales = [{canon(k): float(v) for k, v in s.scale.items()} for s in self.scenarios]
        for k in {k for d in sets for k in d}:
            if model is None:
                raise SpecError("scenarios need the model to fill in defaults")
            default = float(model.defaults[model.param_index(k)])
            cols[k] = np.array([d.get(k, default) for d in sets], dtype=np.float64)
        for k in {k for d in scales for k in d}:
            mult[k] = np.array([d.get(k, 1.0) for d in scales], dtype=np.float64)
        index, sets = None, []
        if any(s.changes for s in self.scenarios):
            if model is None:
                raise SpecError("scenarios with lookup tables need the model")
            index = np.full(n, -1, dtype=np.int64)
            for i, s in enumerate(self.scenarios):
                if s.changes:
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

    def table(self, model=None, seed=None) -> ParamTable:
        a = self.outer.table(model, seed)
        b = self.inner.table(model, None if seed is None else seed + 1)
        from .ir import canonical_name as canon
        clash = {canon(k) for k in a.columns} & {canon(k) for k in b.columns}
        if clash:
            raise SpecError(f"'{sorted(clash)[0]}' is set by both samplers of a product")
        ia, ib = np.repeat(np.arange(a.n), b.n), np.tile(np.arange(b.n), a.n)
        cols = {k: v[ia] for k, v in a.columns.items()} | {k: v[ib] for k, v in b.columns.items()}
        mult = {k: v[ia] for k, v in a.multipliers.items()}
        for k, v in b.multipliers.items():
            mult[k] = mult[k] * v[ib] if k in mult else v[ib]
        labels = None
        if a.labels is not None or b.labels is not None:
            la = a.labels[ia] if a.labels is not None else None
            lb = b.labels[ib] if b.labels is not None else None
            labels = la if lb is None else lb if la is None else \
                np.array([f"{x}/{y}" for x, y in zip(la, lb)], dtype=object)
        if a.table_index is not None and b.table_index is not None:
            raise SpecError("only one sampler of a product may replace lookup tables")
        index, sets = (a.table_index[ia], a.table_sets) if a.table_index is not None else \
            (b.table_index[ib], b.table_sets) if b.table_index is not None else (None, [])
        return ParamTable(a.n * b.n, cols, mult, labels, index, sets)


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
