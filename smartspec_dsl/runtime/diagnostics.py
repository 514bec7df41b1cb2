"""Simulation warnings, as Vensim gives them during a run: a value that becomes
infinite or NaN (a floating-point error: division by zero, LN of zero, overflow),
a lookup whose input leaves its x range, a variable that leaves the range its
units field declares (`~ Widget [0, 100] ~`). Read after the run from the saved
values and from the kernel's watches (kernel_intrinsics.watched: three first times per
watch, kept in the state vector; the last watch is kernel_extra.check_finite's, the
first variable, saved or not, that is infinite or NaN at a saved time).
"""
from __future__ import annotations

from dataclasses import dataclass

import math
import re

import numpy as np

from .. import ir
from ..errors import ModelError, SourcePos
from ..backend.watch import watched_range
from ..ir.builtins import PROFILED
from ..passes.dense_vectors import driver_name


class NumericalError(ModelError):
    """A run gave infinite or NaN values and was asked to be strict (exit status 3)."""
    exit_code = 3


@dataclass(frozen=True)
class SimulationWarning:
    """One event of a run. kind: 'nan' or 'inf' (a floating-point error), 'lookup' (a
    lookup's input leaves or re-enters its x range), 'range' (a variable leaves or
    re-enters its declared range), 'unsolved' and 'solved' (a loop SIMULTANEOUS or FIND ZERO
    solves was not solved, its values NaN, or is solved again), 'state' (what a run continuing a
    saved state keeps of it: a DELAY FIXED's delay) or 'model' (what the front end changed, given with every run); `variable` the modeller's name, with its element ("" for 'model')."""
    kind: str
    variable: str
    time: float
    pos: SourcePos | None
    message: str

    def __str__(self) -> str:
        return self.message


def _variable(model: ir.Model, name: str):
    """The variable `name`: a scalar, an element, or a dense array by its own name (a dense
    model's element view, passes/elements.py, holds the arrays whole as `arrays`)."""
    var = model.variables.get(name)
    if var is None:
        var = getattr(model.variables, "arrays", {}).get(name)
    return var


# a scalar part of an array split by its SMOOTH N or DELAY N order (passes/dense_orders.py,
# `x #order2`): shown as the element it computes (`x[g2]`), as on the per-element route
_PART = re.compile(r" #order\d+$")


def _owner(model: ir.Model, name: str):
    """The variable `name`, or the modeller's variable a lowered one belongs to (None if none)."""
    var = _variable(model, name)
    while var is not None and var.hidden and " #" in var.name and not _PART.search(var.name):
        base = var.name.rsplit(" #", 1)[0]
        # an element of a hidden array of a dense one (`aa #allocate available1[r1]`): its element
        element = var.name[var.name.rfind("["):] if var.name.endswith("]") and "[" not in base else ""
        # the element of the owner first: a dense owner is also found whole, by its own name
        owner = (_variable(model, base + element) if element else None) or _variable(model, base)
        if owner is None:
            break
        var = owner
    return var


def modeller_name(model: ir.Model, name: str) -> str:
    """The display name of `name`, or of the modeller's variable a lowered one belongs to."""
    var = _owner(model, name)
    return var.display if var is not None else name


def _at(pos) -> str:
    return f"{pos}: " if pos is not None else ""


def model_notices(model: ir.Model, time: float, notices=(), replaced=frozenset()) -> list[SimulationWarning]:
    """What the front end changed in the model (ir.Model.notices: a lookup read in x order),
    given with every run's warnings, at its initial `time`, but those about the points of a
    variable the run `replaced` (ir.Model.notice_owners), which it does not use (and about the
    file's RK4 settings, ir.RK4_SETTINGS in `replaced`, for a run of another method); then
    the run's own `notices` (its parameters' tables read in x order)."""
    owner = dict(model.notice_owners) if replaced else {}
    return [SimulationWarning("model", "", time, None, notice) for notice in model.notices
            if owner.get(notice) not in replaced] + \
        [SimulationWarning("model", "", time, None, notice) for notice in notices]


def saveper_warning(save: float, dt: float, save_every: int, t0: float, where: str) -> SimulationWarning | None:
    """A warning when SAVEPER is not a whole number of TIME STEPs: values exist only at
    TIME STEPs, so the run saves every `save_every` of them (SAVEPER / TIME STEP to the
    nearest whole number, at least 1), and says so; None when SAVEPER is one. Vensim's
    help asks for a TIME STEP no larger than SAVEPER ("TIME STEP should be equal to or
    smaller than SAVEPER") and gives no rule for a SAVEPER between two multiples of it.
    `where`: where SAVEPER and TIME STEP come from (a line, the run's arguments)."""
    ratio = save / dt
    if abs(ratio - round(ratio)) <= 1e-9 * max(1.0, ratio) and ratio >= 1 - 1e-9:
        return None
    every = save_every * dt
    times = ", ".join(f"{t0 + k * every:g}" for k in range(3))
    why = "less than" if ratio < 1 else "not a whole multiple of"
    return SimulationWarning("model", "SAVEPER", t0, None,
                             f"SAVEPER ({save:g}) is {why} TIME STEP ({dt:g}){where}: values exist only at "
                             f"TIME STEPs, so the run saves every {save_every} TIME STEP"
                             f"{'s' if save_every > 1 else ''}, every {every:g} ({times}, ...)")


def run_warnings(model: ir.Model, names: list[str], time: np.ndarray, values: np.ndarray,
                 kernel, diag: np.ndarray, tab: np.ndarray, words: dict, notices=(),
                 replaced=frozenset()) -> list[SimulationWarning]:
    """Every warning of one run, in time order: the model's notices (see model_notices for
    `notices` and `replaced`), the saved columns that became infinite or NaN, and the
    kernel's watches (`diag`); `words` keeps, per model, what does not change between runs
    (runs with the same watches share their warnings)."""
    t0 = float(time[0]) if len(time) else 0.0
    runs = words.setdefault("runs", {})
    key = (t0, diag.tobytes())
    watched = runs.get(key)
    if watched is None:
        if len(runs) >= 256:        # a sweep's runs differ: keep the cache small
            runs.clear()
        watched = runs[key] = watch_warnings(model, kernel.watches, diag, tab, words, kernel.slots)
    # a loop SIMULTANEOUS or FIND ZERO did not solve is NaN by design: its warning says why, and
    # the NaN of what reads the loop's values is put down to it, not to a floating-point error
    loops = _unsolved_loops(model, kernel.watches, diag, words) \
        if any(w.kind == "unsolved" for w in watched) else {}
    out = model_notices(model, t0, notices, replaced) + \
        bad_numbers(model, names, time, values, loops, kernel.slots)
    if loops:
        watched = [_blamed(w, loops, saved=False) if w.kind == "nan" else w for w in watched]
        watched = [w for w in watched if w is not None]
    reported = {w.variable for w in out if w.kind in ("nan", "inf")}
    out += [w for w in watched if not (w.kind in ("nan", "inf") and w.variable in reported)]
    out.sort(key=lambda w: w.time)
    return by_array(out)


def by_array(warnings: list[SimulationWarning], listed: int = 8) -> list[SimulationWarning]:
    """The infinite or NaN warnings of one array's elements that say the same thing at the
    same time as one warning, where the first of them was, naming the array (`variable`)
    and its elements (the first `listed` of them): a model of 1000 regions gives one line
    for a division by zero in all of them, not 1000."""
    if not any(w.kind in ("nan", "inf") and w.variable.endswith("]") for w in warnings):
        return warnings             # nothing to group: the common run, kept cheap
    groups: dict[tuple, list[SimulationWarning]] = {}
    for w in warnings:
        base, _, rest = w.variable.partition("[")
        if w.kind in ("nan", "inf") and rest.endswith("]"):
            key = (w.kind, base, w.time, w.pos, w.message.replace(f"'{w.variable}' is ", "", 1))
            groups.setdefault(key, []).append(w)
    out = []
    for w in warnings:
        base = w.variable.partition("[")[0]
        key = (w.kind, base, w.time, w.pos, w.message.replace(f"'{w.variable}' is ", "", 1))
        group = groups.get(key)
        if group is None or len(group) == 1:
            out.append(w)
            continue
        if group[0] is not w:
            continue
        at = w.message.index(f"'{w.variable}' is ")
        head, colon, why = w.message[at:].partition(": ")
        head = head.replace(f"'{w.variable}' is ", f"'{base}' is ", 1)
        elements = ", ".join(g.variable[len(base):] for g in group[:listed])
        more = f" and {len(group) - listed} more" if len(group) > listed else ""
        out.append(SimulationWarning(w.kind, base, w.time, w.pos, f"{w.message[:at]}{head} in {len(group)} "
                                     f"of its elements ({elements}{more}){colon}{why}"))
    return out


def _unsolved_loops(model: ir.Model, watches: tuple, diag: np.ndarray, words: dict) -> dict:
    """Per modeller's variable (display name) whose value is NaN when a loop SIMULTANEOUS or
    FIND ZERO solves was not solved: (the first time it was not, None for the loop's own
    variables, or for a variable that reads the loop's values, directly or through others, the
    loop it reads). A watch of a loop ("solve", unknown, members) keeps that time second."""
    first = diag.reshape(-1, 5)[:, 3]
    out: dict[str, tuple[float, str | None]] = {}
    for k, key in enumerate(watches):
        if key[0] != "solve" or not np.isfinite(first[k]):
            continue
        t, var = float(first[k]), _owner(model, key[1])
        members = {modeller_name(model, m) for m in key[2]}
        loop = ", ".join(f"'{modeller_name(model, m)}'" for m in key[2])
        why = (f"it reads the loop ({loop}), which {model.variables[key[1]].expr.func} in the equation of "
               f"'{var.display}' did not solve at time {t:g}")
        for name in _readers_of(model, key[2], words):
            who = modeller_name(model, name)
            if out.get(who, (math.inf,))[0] > t:
                out[who] = (t, None if who in members else why)
    return out


def _readers_of(model: ir.Model, names, words: dict) -> set[str]:
    """`names` and every variable that reads one of them, directly or through others. A dense
    array's elements (`x[r1]`) share its equation, which reads whole arrays (`x`): an element
    is read by whatever reads its array."""
    if "readers" not in words:   # per model: a variable's readers
        readers: dict[str, list[str]] = {}
        for name, var in model.variables.items():
            for ref in ir.references(var.expr) | ir.references(var.initial):
                readers.setdefault(ref, []).append(name)
        words["readers"] = readers
    readers = words["readers"]
    seen, stack = set(names), list(names)
    while stack:
        name = stack.pop()
        array = name.split("[", 1)[0]
        for reader in readers.get(name, []) + (readers.get(array, []) if array != name else []):
            if reader not in seen:
                seen.add(reader)
                stack.append(reader)
    return seen


def _blamed(w: SimulationWarning, loops: dict, saved: bool) -> SimulationWarning | None:
    """A NaN warning (of a saved value, or check_finite's) once an unsolved loop explains it:
    None within the loop (its own warning says why), naming the loop for what reads it,
    unchanged otherwise."""
    t, why = loops.get(w.variable, (math.inf, ""))
    if w.time < t:
        return w
    return None if why is None else _bad_number(w.variable, w.pos, math.nan, w.time, saved, loop=why)


def bad_numbers(model: ir.Model, names: list[str], time: np.ndarray, values: np.ndarray,
                loops: dict | None = None, slots=None) -> list[SimulationWarning]:
    """A warning per saved column (canonical `names`) at the first saved time its value is
    infinite or NaN, by time and, at one time, in the order the kernel computes them (by
    `slots`, the kernel's: stocks, then the auxiliaries in the order of their dependencies),
    so that the first one shown is where the NaN came from, not its readers. values: (saved
    times, columns); `loops`: the unsolved loops' NaN (`_unsolved_loops`), put down to them."""
    with np.errstate(invalid="ignore", over="ignore"):
        if np.isfinite(values.sum()):   # one pass, no temporary (an overflowing sum is checked below)
            return []
    bad = ~np.isfinite(values)
    cols = np.flatnonzero(bad.any(axis=0))
    found = list(zip(cols, bad[:, cols].argmax(axis=0)))
    if slots is not None:
        found.sort(key=lambda ji: (ji[1], slots.get(names[ji[0]], len(slots))))
    out = []
    for j, i in found:
        var = model.variables[names[j]]
        x = float(values[i, j])
        w = _bad_number(var.display, var.pos, x, float(time[i]), cause=_allocation(model, var))
        w = _blamed(w, loops, saved=True) if loops and w.kind == "nan" else w
        if w is not None:
            out.append(w)
    return out


def _allocation(model: ir.Model, var: ir.Variable) -> str:
    """The allocation function (registry PROFILED) `var`'s equation calls, if any: its NaN
    may come from a priority profile that is invalid only at that time; or LOOKUP SLOPE,
    NaN for a mode other than -1, 0 or 1."""
    arrays = getattr(model.variables, "arrays", {})   # a dense model's arrays (passes/elements.py)
    for node in ir.walk(var.expr) if var.expr is not None else ():
        if isinstance(node, ir.Ref) and node.name in model.variables:
            node = model.variables[node.name].expr
        elif isinstance(node, ir.Ref) and node.name in arrays:
            node = arrays[node.name].expr
        if isinstance(node, ir.Call) and driver_name(node.func) in PROFILED:
            return PROFILED[driver_name(node.func)]
        if isinstance(node, ir.Call) and node.func == "LOOKUP SLOPE":
            return node.func
    return ""


# the functions whose priority profiles may name the constant elasticity curve (type 5)
PROFILE_FUNCTIONS = ("ALLOCATE AVAILABLE", "DEMAND AT PRICE", "SUPPLY AT PRICE", "FIND MARKET PRICE")


def _bad_number(who: str, pos, x: float, t: float, saved: bool = True, cause: str = "",
                loop: str = "") -> SimulationWarning:
    what = "NaN" if x != x else "+inf" if x > 0 else "-inf"
    why = ("a floating-point error (division by zero, LN or SQRT out of its domain, overflow) in its "
           "equation or in one it reads")
    if loop:
        why = loop
    elif cause == "LOOKUP SLOPE" and x != x:
        why = ("LOOKUP SLOPE was given a mode other than -1, 0 or 1 (the modes Vensim's help defines), "
               "or " + why)
    elif cause and x != x:
        size = ", a size that is not a whole number of its elements" if cause == "MARKETP" else ""
        types = "0-5 or 10-15" if cause == "ALLOCATE AVAILABLE" else "0-5"
        elasticity = ", an elasticity of 0 for type 5" if cause in PROFILE_FUNCTIONS else ""
        level = {"ALLOCATE AVAILABLE": ", or no finite priority level shares out what is available (a constant "
                                       "elasticity curve's tail, of a small elasticity)",
                 "FIND MARKET PRICE": ", or no finite price clears the market (a constant elasticity curve's "
                                      "tail, of a small elasticity)"}.get(cause, "")
        why = (f"{cause} was given an invalid input at that time (a priority type other than {types}, a "
               f"width that is not positive{size}{elasticity} or a negative quantity){level}, or " + why)
    return SimulationWarning("nan" if x != x else "inf", who, t, pos,
                             f"{_at(pos)}'{who}' is {what} at time {t:g}{'' if saved else ' (not saved)'}: {why}")


def watch_warnings(model: ir.Model, watches: tuple, diag: np.ndarray, tab: np.ndarray,
                   words: dict | None = None, slots: dict | None = None) -> list[SimulationWarning]:
    """The events the kernel's watches recorded (diag: per watch its range and three first
    times, +inf for never, NaN for not yet; see kernel_intrinsics.watched) as warnings; `tab`
    the lookup tables the run used. The watch ("finite",) holds (slot, value, time) of the
    first value found infinite or NaN (kernel_extra.check_finite); `slots` the kernel's
    {variable: slot}."""
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
        if watches[k][0] == "finite":
            out.append(_unsaved_bad_number(model, int(lo), hi, float(first[0]), slots or {}, words))
            continue
        if watches[k][0] == "solve":
            out += _unsolved(model, watches[k], first)
            continue
        if k not in words:
            words[k] = _words(model, watches[k])
        kind, who, pos, what, span = words[k]
        lo, hi = watched_range(lo, hi)   # the declared range, without the margin of watch_setup
        span = span.format(lo=lo, hi=hi)
        for t, verb in zip(first, ("goes below", "goes above", "comes back within")):
            if np.isfinite(t):
                out.append(SimulationWarning(kind, who, float(t), pos,
                                             f"{_at(pos)}{what} {verb} {span} at time {t:g}"))
    return out


def _unsaved_bad_number(model: ir.Model, slot: int, x: float, t: float, slots: dict,
                        words: dict) -> SimulationWarning:
    """check_finite's finding: the variable at `slot` is `x` (inf or NaN) at time t."""
    if "slot names" not in words:
        words["slot names"] = {s: n for n, s in slots.items()}
    name = words["slot names"].get(slot)
    if name is None or name not in model.variables:   # an array function's working values
        return SimulationWarning("nan" if x != x else "inf", "", t, None,
                                 f"a value an array function computes is {'NaN' if x != x else 'infinite'} "
                                 f"at time {t:g}: a floating-point error in its arguments")
    var = _owner(model, name)
    return _bad_number(var.display, var.pos, x, t, saved=False, cause=_allocation(model, model.variables[name]))


def _unsolved(model: ir.Model, key: tuple, first) -> list[SimulationWarning]:
    """The watch of a loop SIMULTANEOUS or FIND ZERO solves (backend/kernel_solve.py): the
    first time it was not solved (its values NaN then) and the first time it was again."""
    _, unknown, members = key
    var = _owner(model, unknown)
    func = model.variables[unknown].expr.func
    loop = ", ".join(f"'{modeller_name(model, m)}'" for m in members)
    out = []
    if np.isfinite(first[1]):
        t = float(first[1])
        out.append(SimulationWarning("unsolved", var.display, t, var.pos, (
            f"{_at(var.pos)}{func} in the equation of '{var.display}' did not solve its loop ({loop}) at "
            f"time {t:g}: no value within its tolerance was found (in its iteration limit, or a value was "
            "not finite), so the loop's values are NaN whenever that happens")))
    if np.isfinite(first[2]):
        t = float(first[2])
        out.append(SimulationWarning("solved", var.display, t, var.pos,
                                     f"{_at(var.pos)}{func} in the equation of '{var.display}' solves its loop "
                                     f"again from time {t:g}"))
    return out


def _words(model: ir.Model, key: tuple) -> tuple:
    if key[0] == "lookup":
        _, owner, table, pos, _ = key
        who = modeller_name(model, owner)
        copied = model.variables[table].lookup.source if table else ""
        if copied in model.variables:     # a copy of a lookup's table (dense_lift.lift_lookups): the lookup's
            table = copied
        what = (f"the input of lookup '{model.variables[table].display}'" if table
                else "the input of WITH LOOKUP") + f" in the equation of '{who}'"
        return "lookup", who, pos, what, "its x range [{lo:g}, {hi:g}]"
    var = model.variables[key[1]]
    return "range", var.display, var.pos, f"'{var.display}'", "the range [{lo:g}, {hi:g}] its units declare"


def warning_counts(diag: np.ndarray) -> np.ndarray:
    """Per run (rows of diag), the number of watches that fired: a value left its range, or (the
    last watch) a value became infinite or NaN."""
    if diag.shape[1] == 0:
        return np.zeros(diag.shape[0], dtype=np.int64)
    first = diag.reshape(diag.shape[0], -1, 5)[:, :, 2:4]
    return np.isfinite(first).any(axis=2).sum(axis=1)


def strict_error(warnings: list[SimulationWarning], shown: int = 5) -> NumericalError | None:
    """The error a strict run stops with, or None when no value went infinite or NaN."""
    bad = [w for w in warnings if w.kind in ("nan", "inf", "unsolved")]
    if not bad:
        return None
    more = f"\n  ... and {len(bad) - shown} more" if len(bad) > shown else ""
    return NumericalError("the run gave infinite or NaN values (strict):\n  "
                          + "\n  ".join(w.message for w in bad[:shown]) + more)
