"""Simulation warnings, as Vensim gives them during a run: a value that becomes
infinite or NaN (a floating-point error: division by zero, LN of zero, overflow),
a lookup whose input leaves its x range, a variable that leaves the range its
units field declares (`~ Widget [0, 100] ~`). Read after the run from the saved
values and from the kernel's watches (kernel_intrinsics.watched: three first times per
watch, kept with selects and stores in the state vector).
"""
from __future__ import annotations

from dataclasses import dataclass

import math

import numpy as np

from .. import ir
from ..errors import ModelError, SourcePos


class NumericalError(ModelError):
    """A run gave infinite or NaN values and was asked to be strict (exit status 3)."""
    exit_code = 3


@dataclass(frozen=True)
class SimulationWarning:
    """One event of a run. kind: 'nan' or 'inf' (a floating-point error), 'lookup' (a
    lookup's input leaves or re-enters its x range), 'range' (a variable leaves or
    re-enters its declared range) or 'model' (what the front end changed, given with
    every run); `variable` the modeller's name, with its element ("" for 'model')."""
    kind: str
    variable: str
    time: float
    pos: SourcePos | None
    message: str

    def __str__(self) -> str:
        return self.message


def modeller_name(model: ir.Model, name: str) -> str:
    """The display name of `name`, or of the modeller's variable a lowered one belongs to."""
    var = model.variables.get(name)
    while var is not None and var.hidden and " #" in var.name:
        owner = model.variables.get(var.name.rsplit(" #", 1)[0])
        if owner is None:
            break
        var = owner
    return var.display if var is not None else name


def _at(pos) -> str:
    return f"{pos}: " if pos is not None else ""


def model_notices(model: ir.Model, time: float) -> list[SimulationWarning]:
    """What the front end changed in the model (ir.Model.notices: a lookup read in x order),
    given with every run's warnings, at its initial `time`."""
    return [SimulationWarning("model", "", time, None, notice) for notice in model.notices]


def bad_numbers(model: ir.Model, names: list[str], time: np.ndarray, values: np.ndarray
                ) -> list[SimulationWarning]:
    """A warning per saved column (canonical `names`) at the first saved time its value is
    infinite or NaN. values: (saved times, columns)."""
    if math.isfinite(values.sum()):   # one pass, no copy: an infinity or NaN anywhere makes the sum one
        return []
    bad = ~np.isfinite(values)
    cols = np.flatnonzero(bad.any(axis=0))
    out = []
    for j, i in zip(cols, bad[:, cols].argmax(axis=0)):
        var = model.variables[names[j]]
        x = float(values[i, j])
        what = "NaN" if x != x else "+inf" if x > 0 else "-inf"
        out.append(SimulationWarning(
            "nan" if x != x else "inf", var.display, float(time[i]), var.pos,
            f"{_at(var.pos)}'{var.display}' is {what} at time {time[i]:g}: a floating-point error "
            "(division by zero, LN or SQRT out of its domain, overflow) in its equation or in one it reads"))
    return out


def watch_warnings(model: ir.Model, watches: tuple, diag: np.ndarray, tab: np.ndarray,
                   words: dict | None = None) -> list[SimulationWarning]:
    """The events the kernel's watches recorded (diag: per watch its range and three first
    times, +inf for never; see kernel_intrinsics.watched) as warnings; `tab` the lookup tables the
    run used."""
    if not len(diag):
        return []
    first = diag.reshape(-1, 5)[:, 2:]
    if first.min() == math.inf:   # no watch saw anything: the common case, one pass
        return []
    out = []
    seen = np.flatnonzero(np.isfinite(first).any(axis=1))
    words = {} if words is None else words   # per watch: what does not change between runs
    for k in seen:
        lo, hi = diag[5 * k:5 * k + 2]
        first = diag[5 * k + 2:5 * k + 5]
        if k not in words:
            words[k] = _words(model, watches[k])
        kind, who, pos, what, span = words[k]
        span = span.format(lo=lo, hi=hi)
        for t, verb in zip(first, ("goes below", "goes above", "comes back within")):
            if np.isfinite(t):
                out.append(SimulationWarning(kind, who, float(t), pos,
                                             f"{_at(pos)}{what} {verb} {span} at time {t:g}"))
    return out


def _words(model: ir.Model, key: tuple) -> tuple:
    if key[0] == "lookup":
        _, owner, table, pos, _ = key
        who = modeller_name(model, owner)
        what = (f"the input of lookup '{model.variables[table].display}'" if table
                else "the input of WITH LOOKUP") + f" in the equation of '{who}'"
        return "lookup", who, pos, what, "its x range [{lo:g}, {hi:g}]"
    var = model.variables[key[1]]
    return "range", var.display, var.pos, f"'{var.display}'", "the range [{lo:g}, {hi:g}] its units declare"


def warning_counts(diag: np.ndarray) -> np.ndarray:
    """Per run (rows of diag), the number of watches that saw their value leave its range."""
    if diag.shape[1] == 0:
        return np.zeros(diag.shape[0], dtype=np.int64)
    first = diag.reshape(diag.shape[0], -1, 5)[:, :, 2:4]
    return np.isfinite(first).any(axis=2).sum(axis=1)


def strict_error(warnings: list[SimulationWarning], shown: int = 5) -> NumericalError | None:
    """The error a strict run stops with, or None when no value went infinite or NaN."""
    bad = [w for w in warnings if w.kind in ("nan", "inf")]
    if not bad:
        return None
    more = f"\n  ... and {len(bad) - shown} more" if len(bad) > shown else ""
    return NumericalError("the run gave infinite or NaN values (strict):\n  "
                          + "\n  ".join(w.message for w in bad[:shown]) + more)
