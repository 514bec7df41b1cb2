"""Parameter tables: the rows of runs a sampler makes (`ParamTable`), the
interface every sampler has (`Sampler`: `source(model, seed)` with `n` and
`rows(s, e)`), and the resolution of parameter names against a model."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ParameterError, SpecError


@dataclass
class ParamTable:
    """Parameter sets, one row per run.

    `columns`: constant name -> absolute value per run; `multipliers`: constant
    name -> factor per run, applied to the column's value when the constant has
    a column and to the model default otherwise; `labels`: optional scenario
    name per run. A ParamTable is also a source of its own rows (`rows`)."""
    n: int
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    multipliers: dict[str, np.ndarray] = field(default_factory=dict)
    labels: np.ndarray | None = None
    # lookup tables replaced by .cin scenarios: per run an index into `table_sets`
    # (each a model's whole table vector), -1 for the model's own tables
    table_index: np.ndarray | None = None
    table_sets: list[np.ndarray] = field(default_factory=list)

    def rows(self, s: int, e: int) -> "ParamTable":
        """Runs [s, e) (views, not copies)."""
        return ParamTable(e - s, {k: v[s:e] for k, v in self.columns.items()},
                          {k: v[s:e] for k, v in self.multipliers.items()},
                          None if self.labels is None else self.labels[s:e],
                          None if self.table_index is None else self.table_index[s:e], self.table_sets)

    def take(self, idx: np.ndarray) -> "ParamTable":
        return ParamTable(len(idx), {k: v[idx] for k, v in self.columns.items()},
                          {k: v[idx] for k, v in self.multipliers.items()},
                          None if self.labels is None else self.labels[idx],
                          None if self.table_index is None else self.table_index[idx], self.table_sets)

    def resolve(self, model) -> dict[str, np.ndarray]:
        """{display name: values per run}, multipliers applied; checks every name
        is a settable constant of `model` (ParameterError otherwise)."""
        return Resolution.of(self, model).apply(self)


def _concat(parts: list[ParamTable]) -> ParamTable:
    first = parts[0]

    def cat(get):
        return None if get(first) is None else np.concatenate([get(t) for t in parts])
    return ParamTable(sum(t.n for t in parts),
                      {k: cat(lambda t, k=k: t.columns[k]) for k in first.columns},
                      {k: cat(lambda t, k=k: t.multipliers[k]) for k in first.multipliers},
                      cat(lambda t: t.labels), cat(lambda t: t.table_index), first.table_sets)


def gather_rows(src, idx: np.ndarray) -> ParamTable:
    """Rows `idx` of `src`, asking it only for the contiguous ranges they cover."""
    if not len(idx):
        return src.rows(0, 0)
    u = np.unique(idx)
    ranges = np.split(u, np.flatnonzero(np.diff(u) > 1) + 1)
    parts = [src.rows(int(r[0]), int(r[-1]) + 1) for r in ranges]
    whole = parts[0] if len(parts) == 1 else _concat(parts)
    return whole.take(np.searchsorted(u, idx))


@dataclass
class RowSource:
    """`n` runs whose rows [s, e) `make(s, e)` builds when asked (see the module doc)."""
    n: int
    make: object
    table_sets: list = field(default_factory=list)

    def rows(self, s: int, e: int) -> ParamTable:
        return self.make(s, e)


@dataclass
class Resolution:
    """How rows of a source become {display name: values per run} for one model;
    needs no model once made, so chunks resolve anywhere. `entries`: per set
    constant (display name, column or None, model default, multiplier names)."""
    entries: list

    @classmethod
    def of(cls, table: ParamTable, model) -> "Resolution":
        """Checks every name of `table` (a few rows of a source are enough) against `model`."""
        mult: dict[int, list[str]] = {}
        for name in table.multipliers:
            mult.setdefault(model.param_index(name), []).append(name)  # ParameterError when unknown
        seen: dict[int, str] = {}
        entries = []
        for name in table.columns:
            idx = model.param_index(name)
            if idx in seen:
                raise ParameterError(f"'{name}' is given twice (also as '{seen[idx]}')")
            seen[idx] = name
            entries.append((model.display(model.schedule.constants[idx]), name, None, mult.pop(idx, [])))
        for idx, names in mult.items():
            entries.append((model.display(model.schedule.constants[idx]), None, float(model.defaults[idx]), names))
        res = cls(entries)
        probe = res.apply(table.rows(0, min(table.n, 1)))
        model.parameter_matrix(probe, n=len(next(iter(probe.values()))) if probe else 1)  # control check
        return res

    @classmethod
    def identity(cls, names) -> "Resolution":
        return cls([(k, k, None, []) for k in names])

    @property
    def names(self) -> list[str]:
        return [e[0] for e in self.entries]

    def apply(self, table: ParamTable) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for display, col, default, mults in self.entries:
            factor = None
            for name in mults:
                f = np.asarray(table.multipliers[name], dtype=np.float64)
                factor = f if factor is None else factor * f
            if col is None:
                out[display] = default * factor
            else:
                values = np.array(table.columns[col], dtype=np.float64)
                out[display] = values if factor is None else values * factor
        return out


def check_lengths(columns: dict, what: str) -> int:
    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        raise SpecError(f"{what}: parameter columns have different lengths {sorted(lengths)}")
    return lengths.pop() if lengths else 0


class Sampler:
    """Base class: `source(model, seed)` (an object with `n` and `rows(s, e) ->
    ParamTable`) or `table(model, seed) -> ParamTable`, each defined through the
    other; `names` the constants it sets."""
    names: list[str] = []

    def source(self, model=None, seed: int | None = None):
        return self.table(model, seed)

    def table(self, model=None, seed: int | None = None) -> ParamTable:
        src = self.source(model, seed)
        return src.rows(0, src.n)


