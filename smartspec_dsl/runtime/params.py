"""What a run's `params` and `initial_condition` mean in the compiled model's
terms, as PySD reads them (`Model.set_components`, `set_initial_condition`):

- a name may be a subscripted variable's: a scalar sets every element; a list
  or numpy array (in the order of its subscript ranges' elements, shaped like
  them or flat), an `xarray.DataArray` (dims and coords the ranges and
  elements, missing dims broadcast) or a dict {element: value} sets them per
  element (a dict may name some elements only);
- a constant takes the value as a parameter; an auxiliary or a flow has its
  equation replaced by the constant; a lookup takes new points (a pandas Series
  indexed by x, or a pair (xs, ys)); a pandas Series indexed by time given for a
  constant, an auxiliary or a flow replaces its equation by that time series,
  interpolated as Vensim interpolates a data variable (linearly, the end
  values held outside the series). Replacing an equation is an edit of the
  model (passes/edits.py): the run's numbers are those of the model file with
  that equation written in it;
- `initial_condition`: 'original', (t, {stock: value}) (the run starts at t,
  INITIAL TIME = t, with those stocks' initial values; the others start from
  their equations), or a `State` (`Result.final_state`): the run continues
  from it, every stock of the model, hidden ones of SMOOTH, DELAY, INITIAL...
  included, at its time.

pandas and xarray are optional: values are recognised by their shape (a
Series' index and values, a DataArray's dims and coords), never imported.
"""
from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from .. import ir
from ..errors import ModelError, ParameterError, did_you_mean, finite_number
from ..ir.ranges import SubscriptSpace
from ..passes.edits import Edits, initial_param, made_by, series_table
from ..passes.pipeline import replaced_parts
from .continue_messages import stocks_shown


@dataclass(frozen=True)
class State:
    """A run's state at `time`: the value of every stock (flat names, hidden ones
    of lowering included) from which a run can continue (`initial_condition=`).
    `structure`: the structural choices of the model that made it (ir.Decision); `seed`:
    the seed of its random draws (None: the model's own), which a run continuing it draws
    with unless it is given another. `buffers`: the kernel buffer's region of each variable
    kept there (DELAY FIXED, DELAY MATERIAL, DELAY INFORMATION, DELAY CONVEYOR, DELAY PROFILE,
    the queues: `Kernel.buffers`), laid out for the `time_step` and `final_time` of the run
    that made the state, which a run continuing it must keep (runtime/single.py). `ended`: the
    time the run that made it computed to, when that is after `time` (a FINAL TIME or `until`
    between two saved times): its stocks are those saved at `time`, its buffers those of
    `ended`, so a run cannot continue from it."""
    time: float
    stocks: dict[str, float]
    structure: tuple = ()
    source: str = ""
    seed: int | None = None
    buffers: Mapping[str, np.ndarray] = field(default_factory=dict, compare=False)   # Regions
    time_step: float | None = None
    final_time: float | None = None
    ended: float | None = None

    def __repr__(self) -> str:
        held = f", {len(self.buffers)} buffers" if self.buffers else ""
        return f"<State at t = {self.time:g}: {len(self.stocks)} stocks{held} of {self.source}>"


class Regions(Mapping):
    """A run's buffer by variable (`State.buffers`): each variable's region of it, sliced
    when read (a run keeps the whole buffer and its regions, (offset, length) each, at no cost)."""
    __slots__ = ("names", "buf", "bi")

    def __init__(self, names: tuple[str, ...], buf: np.ndarray, bi: np.ndarray):
        self.names, self.buf, self.bi = names, buf, bi

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.names:
            raise KeyError(name)
        j = self.names.index(name)
        a = int(self.bi[2 * j])
        return self.buf[a:a + int(self.bi[2 * j + 1])]

    def __iter__(self):
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


@dataclass
class Plan:
    """A run's params and initial condition, resolved: constants (flat name ->
    value; edited equations' and initial values' parameters too), lookup tables
    (flat name -> points), the edits the model needs, and where the run starts."""
    constants: dict[str, float] = field(default_factory=dict)
    tables: dict[str, ir.LookupTable] = field(default_factory=dict)
    constant_edits: set[str] = field(default_factory=set)
    series_edits: set[str] = field(default_factory=set)
    stock_edits: set[str] = field(default_factory=set)
    initial_time: float | None = None   # the run's INITIAL TIME ((t, {...}) sets it)
    start: float | None = None          # a continued run's first time (INITIAL TIME unchanged)
    stop: float | None = None           # a run's last time, when not FINAL TIME (a stepper's step)
    state: State | None = None
    named: set[str] = field(default_factory=set)   # canonical names the params gave
    given: dict[str, str] = field(default_factory=dict)   # flat name -> the params entry that set it
    notices: list[str] = field(default_factory=list)   # what reading the params' tables changed

    @property
    def edits(self) -> Edits:
        return Edits(frozenset(self.constant_edits), frozenset(self.series_edits), frozenset(self.stock_edits))


class Names:
    """A model's variables by the modeller's names: flat elements of subscripted ones."""

    def __init__(self, source: ir.Model, lowered: ir.Model, path: str):
        self.source, self.lowered, self.path = source, lowered, path
        self._space: SubscriptSpace | None = None

    @property
    def space(self) -> SubscriptSpace:
        if self._space is None:
            self._space = SubscriptSpace(self.source.subscript_ranges)
        return self._space

    def known(self, settable: bool = False) -> dict[str, str]:
        """canonical -> display of every variable (`settable`: but the stocks, which params
        cannot set), for suggestions."""
        out = {}
        for model in (self.source, self.lowered):
            out.update({n: v.display for n, v in model.variables.items()
                        if not v.hidden and n != ir.TIME and not (settable and v.kind is ir.Kind.STOCK)})
        return out

    def dims(self, name: str) -> list[tuple[str, tuple[str, ...]]]:
        """[(range, its elements)] of a subscripted variable, [] for a scalar
        (SubscriptSpace.spans: a variable defined in pieces spans all of them)."""
        var = self.source.variables.get(name)
        if var is None or not var.dims:
            return []
        return self.space.spans(var)

    def range_shown(self, name: str) -> str:
        """A range as the modeller wrote it."""
        r = self.source.subscript_ranges.get(name)
        return r.written if r is not None and r.written else name

    def defined(self, name: str) -> list[str]:
        """The elements a subscripted variable has, as the modeller writes them ('a1', 'a1,b2'):
        those of a partial definition only (`x[a1] = 1`, `x[a3] = Time` over R: a1, a3)."""
        combos = itertools.product(*(els for _, els in self.dims(name)))
        return [",".join(self.space.display.get(e, e) for e in c) for c in combos
                if f"{name}[{','.join(c)}]" in self.lowered.variables]

    def values(self, text: str, value, dims, flat: list[str]) -> list:
        """`per_element`, but a list or array for a variable defined over part of its ranges
        gives one value per element it has (`defined`), in order; None for the others."""
        present = [f for f in flat if f in self.lowered.variables]
        if len(present) == len(flat) or not isinstance(value, (list, np.ndarray)):
            return per_element(text, value, dims, flat, self.space)
        has = [f[f.index("[") + 1:-1] for f in present]
        shown = ", ".join(",".join(self.space.display.get(e, e) for e in h.split(",")) for h in has)
        given = iter(per_element(text, value, [(shown, tuple(has))], present, self.space))
        return [next(given) if f in self.lowered.variables else None for f in flat]

    def elements(self, text: str, settable: bool = False) -> tuple[str, list[tuple[str, tuple[str, ...]]], list[str]]:
        """(variable, [(range, elements)] selected, flat names in the ranges' order) for a
        name as the modeller writes it: 'Population', 'Population[East]', 'growth[East, Age]'."""
        whole = ir.canonical_name(text)   # a name that holds brackets ('a[b]', its own column's)
        if whole in self.lowered.variables and not self.lowered.variables[whole].hidden:
            return whole, [], [whole]
        written = ir.split_reference(text)[1]
        name, subs = ir.read_reference(text)
        key = ir.canonical_reference(text)
        if subs is None and key in self.lowered.variables and not self.lowered.variables[key].hidden:
            return key, [], [key]
        dims = self.dims(name)
        if not dims:
            if subs is None or name not in self.source.variables:
                raise ParameterError(f"'{text}' is not a variable of {self.path}"
                                     + did_you_mean(key, self.known(settable)))
            raise ParameterError(f"'{text}': '{self.source.variables[name].display}' has no subscripts")
        if subs is not None:
            if len(subs) != len(dims):
                raise ParameterError(f"'{text}' gives {len(subs)} subscripts; "
                                     f"'{self.source.variables[name].display}' has {len(dims)}")
            picked = []
            for s, w, (rng, els) in zip(subs, written, dims):
                if s in self.space.elements:
                    chosen = tuple(e for e in self.space.elements[s] if e in els)
                else:
                    chosen = (s,) if s in els else ()
                if not chosen and s in self.space.elements.get(rng, ()):   # a partial definition's gap
                    raise ParameterError(f"'{self.source.variables[name].display}' is not defined for "
                                         f"{self.space.display.get(s, s)}; "
                                         f"it has {', '.join(self.defined(name))}")
                if not chosen:
                    raise ParameterError(f"'{text}': '{w}' is not an element of '{self.range_shown(rng)}' "
                                         f"({', '.join(self.space.display.get(e, e) for e in els)})")
                picked.append((s if s in self.space.elements else rng, chosen))
            dims = picked
        flat = [f"{name}[{','.join(c)}]" for c in itertools.product(*(els for _, els in dims))]
        if not any(f in self.lowered.variables for f in flat):
            has = self.defined(name)
            if not has:
                raise ParameterError(f"'{text}' has no element in {self.path}")
            shown = ",".join(self.space.display.get(e, e) for e in (subs or ()))
            raise ParameterError(f"'{self.source.variables[name].display}' is not defined for {shown}; "
                                 f"it has {', '.join(has)}")
        # a variable defined over part of its ranges lacks some of these: callers skip them
        return name, dims, flat


def changed_constants(names: Names, constants: Mapping[str, int], key: str, written: str, at: str) -> list[str]:
    """The constants (of `constants`, by canonical name) a changes file's line `written =
    number` (at `at`, file:line) sets: the constant itself, or every element of a
    subscripted constant it names whole or through a range (`base`, `base[R]`), as a run's
    params set them. ParameterError, by the modeller's names, for a name that is no variable
    or an element that is no constant (a changes file sets constants and lookup tables only)."""
    if key in constants:
        return [key]
    try:
        _, _, flat = names.elements(written)
    except ParameterError as err:
        raise ParameterError(f"{at}: {err}") from None
    present = [f for f in flat if f in names.lowered.variables]
    for f in present:
        if f not in constants:
            var = names.lowered.variables[f]
            who = f"'{var.display}'" if var.display == written else f"'{written}': '{var.display}'"
            raise ParameterError(f"{at}: {who} is {_article(var.kind.value)}, not a constant: "
                                 "a changes file or a scenario sets constants and lookup tables only")
    return present


def changed_lookups(names: Names, key: str, written: str, at: str) -> list[str]:
    """The lookup tables a changes file's line `written(points)` (at `at`, file:line) replaces:
    the lookup itself, or every element of a lookup defined per element that it names whole or
    through a range (`tbl`, `tbl[R]`), as a line `name = number` sets a subscripted constant's
    elements (`changed_constants`) and a run's params a lookup's. ParameterError, by the
    modeller's names, for a name that is no lookup."""
    var = names.lowered.variables.get(key)
    if var is not None and var.kind is ir.Kind.LOOKUP:
        return [key]
    try:
        _, _, flat = names.elements(written)
    except ParameterError:
        flat = []
    present = [f for f in flat if f in names.lowered.variables]
    if not present or any(names.lowered.variables[f].kind is not ir.Kind.LOOKUP for f in present):
        raise ParameterError(f"{at}: '{written}' is not a lookup of {names.path}")
    return present


def is_number(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool) or (
        isinstance(x, np.ndarray) and x.ndim == 0)


def _is_series(x) -> bool:
    return type(x).__name__ == "Series" and hasattr(x, "index") and hasattr(x, "to_numpy")


def _is_dataarray(x) -> bool:
    return type(x).__name__ == "DataArray" and hasattr(x, "dims") and hasattr(x, "coords")


def _number(text: str, x) -> float:
    return finite_number(f"'{text}'", x)


def points(text: str, xs, ys, what: str, notices: list[str] | None = None) -> ir.LookupTable:
    """A lookup table from x and y values: numbers, as many of each, by the model file's
    own rule (ir.table_in_x_order): read in x order, a point given twice read once (each
    with a warning appended to `notices`), two y values at one x refused."""
    try:
        xs = [float(x) for x in xs]
        ys = [float(y) for y in ys]
    except (TypeError, ValueError):
        raise ParameterError(f"{what} for '{text}' must be numbers") from None
    if not xs or len(xs) != len(ys):
        raise ParameterError(f"{what} for '{text}' needs as many x as y values, at least one "
                             f"(got {len(xs)} and {len(ys)})")
    for v in xs + ys:
        finite_number(f"each of {what} for '{text}'", v)
    try:
        table, notice = ir.table_in_x_order(zip(xs, ys), f"parameter '{text}'",
                                            what.replace("'s points", ""))
    except ModelError as err:
        raise ParameterError(str(err)) from None
    if notice and notices is not None:
        notices.append(notice)
    return table


def per_element(text: str, value, dims, flat: list[str], space: SubscriptSpace) -> list:
    """The value of each of `flat` (elements of `dims`, in order) that `value` gives:
    one value each (a number, a Series...), or None where a dict leaves one unset."""
    n = len(flat)
    if is_number(value) or _is_series(value) or (isinstance(value, tuple) and len(value) == 2
                                                  and not is_number(value[0])):
        return [value] * n
    shape = tuple(len(els) for _, els in dims)
    if _is_dataarray(value):
        return _from_dataarray(text, value, dims, flat, space)
    if isinstance(value, dict):
        out: list = [None] * n
        index = {}
        for i, combo in enumerate(itertools.product(*(els for _, els in dims)) if dims else []):
            index[combo] = i
        for k, v in value.items():
            parts = k if isinstance(k, tuple) else tuple(str(k).split(","))
            combo = tuple(ir.canonical_name(str(p)) for p in parts)
            if combo not in index:
                names = ", ".join("[" + ",".join(space.display.get(e, e) for e in c) + "]" for c in index)
                raise ParameterError(f"'{k}' in the values for '{text}' is not one of its elements ({names})")
            out[index[combo]] = v
        return out
    if isinstance(value, (list, np.ndarray)):
        try:
            arr = np.asarray(value, dtype=np.float64)
        except OverflowError:   # a whole number beyond a double's range: name it
            for v in np.asarray(value, dtype=object).reshape(-1):
                finite_number(f"'{text}'", v)
            raise
        except (TypeError, ValueError):
            raise ParameterError(f"values for '{text}' are not all numbers: {value!r}") from None
        if arr.shape == shape or (arr.ndim == 1 and arr.size == n):
            return list(arr.reshape(-1))
        ranges = " x ".join(f"{len(els)} ({getattr(space.raw.get(r), 'written', '') or r})"
                            for r, els in dims) or "1"
        raise ParameterError(f"values for '{text}' have shape {arr.shape}; it has {ranges} elements")
    raise ParameterError(f"value for '{text}' is not a number: {value!r}")


def _from_dataarray(text: str, da, dims, flat, space) -> list:
    by_dim = {}
    for d in da.dims:
        key = ir.canonical_name(str(d))
        match = [i for i, (r, _) in enumerate(dims) if r == key or
                 {ir.canonical_name(str(c)) for c in da.coords[d].values} <= set(dims[i][1])]
        if not match:
            raise ParameterError(f"the DataArray for '{text}' has dimension '{d}', which is not one of its "
                                 f"subscript ranges ({', '.join(r for r, _ in dims) or 'none'})")
        by_dim[d] = match[0]
    out = []
    for combo in itertools.product(*(els for _, els in dims)):
        sel = {}
        for d, i in by_dim.items():
            coords = {ir.canonical_name(str(c)): c for c in da.coords[d].values}
            if combo[i] not in coords:
                raise ParameterError(f"the DataArray for '{text}' has no '{space.display.get(combo[i], combo[i])}' "
                                     f"in dimension '{d}'")
            sel[d] = coords[combo[i]]
        out.append(float(da.sel(sel).values) if sel else float(da.values))
    return out


def resolve(names: Names, params: dict | None, plan: Plan | None = None) -> Plan:
    """A run's params as constants, tables and edits of the lowered model (see the module's text).
    A value given twice, by two names of one element or by an element's and its array's (or a
    range's) name, is refused whatever their order, as a sweep's spec refuses it: each value
    of a run is set once."""
    plan = plan or Plan()
    lowered = names.lowered.variables
    given = plan.given     # flat name -> the param that set it
    for text, value in (params or {}).items():
        if not isinstance(text, str):
            raise ParameterError(f"parameter names must be text, not {text!r}")
        name, dims, flat = names.elements(text, settable=True)
        plan.named.add(name)
        values = names.values(text, value, dims, flat)
        for n, v in zip(flat, values):
            if v is None or n not in lowered:
                continue
            var = lowered[n]
            shown = var.display
            if n in given:
                raise ParameterError(f"'{shown}' is given twice, as '{given[n]}' and as '{text}': a run sets "
                                     "each value once (give an array's values as a list, or each element "
                                     "by its name)")
            given[n] = text
            if var.unchangeable:
                raise ParameterError(f"'{var.display}' is defined with '==' at {var.pos}: Vensim's mark "
                                     "of a value that a run may not change")
            _assign(plan, n, var, shown, v)
    return plan


def _assign(plan: Plan, n: str, var: ir.Variable, shown: str, v) -> None:
    kind = var.kind
    if kind is ir.Kind.LOOKUP:
        if _is_series(v):
            plan.tables[n] = points(shown, v.index, v.to_numpy(), "the lookup's points", plan.notices)
        elif isinstance(v, tuple) and len(v) == 2:
            plan.tables[n] = points(shown, v[0], v[1], "the lookup's points", plan.notices)
        else:
            # PySD: a lookup set to a number gives that number whatever its input
            plan.tables[n] = ir.LookupTable((0.0,), (_number(shown, v),))
        return
    if kind is ir.Kind.STOCK:
        raise ParameterError(f"'{shown}' is a stock, not a constant or an equation a run can replace: its "
                             f"value comes from its flows; set its initial value with "
                             f"initial_condition=(time, {{'{shown}': value}})")
    if n in ir.CONTROL_NAMES and not is_number(v):
        raise ParameterError(f"'{shown}' is a simulation control; it takes a number")
    if _is_series(v):
        plan.series_edits.add(n)
        plan.tables[series_table(n)] = points(shown, v.index, v.to_numpy(), "the time series",
                                              plan.notices)
        return
    if isinstance(v, tuple):
        raise ParameterError(f"value for '{shown}' is not a number: {v!r}")
    plan.constants[n] = _number(shown, v)
    if kind is not ir.Kind.CONSTANT:
        plan.constant_edits.add(n)


def initial(names: Names, condition, plan: Plan, stocks: tuple[str, ...]) -> Plan:
    """`initial_condition` into `plan`: 'original' (nothing), (t, {stock: value}), or a State.
    `stocks`: the stocks of the model the run uses (lowered, hidden ones included)."""
    if condition is None or (isinstance(condition, str) and condition.lower() in ("original", "o")):
        return plan
    if isinstance(condition, State):
        # the memory of an equation this run replaces (params) is not needed
        replaced = plan.constant_edits | plan.series_edits
        replaced = replaced | replaced_parts(names.source, replaced)
        missing = sorted(n for n in set(stocks) - set(condition.stocks) if not (replaced and made_by(n, replaced)))
        extra = sorted(set(condition.stocks) - set(stocks))
        if missing or extra:
            lowered = names.lowered.variables
            which = missing or extra
            listed = stocks_shown([lowered[n].display if n in lowered else n for n in which])
            shown = ", ".join(listed[:3])
            raise ParameterError(f"the state (t = {condition.time:g}) is not one of this model's: its stocks "
                                 f"{'lack' if missing else 'include'} {shown}"
                                 f"{' ...' if len(listed) > 3 else ''} (a state continues the model, and the "
                                 "values that decide its structure, that made it)")
        kept = {n: v for n, v in condition.stocks.items() if not (replaced and made_by(n, replaced))}
        for n, v in kept.items():
            plan.constants[initial_param(n)] = float(v)
        plan.stock_edits |= set(kept)
        plan.start, plan.state = float(condition.time), condition
        return plan
    if isinstance(condition, tuple) and len(condition) == 2 and isinstance(condition[1], dict):
        t = finite_number("the initial condition's time", condition[0])
        lowered = names.lowered.variables
        for text, value in condition[1].items():
            name, dims, flat = names.elements(text)
            for n, v in zip(flat, names.values(text, value, dims, flat)):
                if v is None or n not in lowered:
                    continue
                if lowered[n].kind is not ir.Kind.STOCK:
                    raise ParameterError(f"'{text}' is {_article(lowered[n].kind.value)}, not a stock: an initial "
                                         "condition gives stocks' values (set others with params)")
                plan.constants[initial_param(n)] = _number(text, v)
                plan.stock_edits.add(n)
        plan.initial_time = t
        return plan
    raise ParameterError(f"initial_condition must be 'original', (time, {{stock: value}}) or a run's "
                         f"final_state, not {condition!r}")


def _article(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def columns(names: Names, return_columns, outputs: set[str]) -> list[str]:
    """Flat output names of `return_columns` (subscripted names give all their elements)."""
    out: list[str] = []
    for c in return_columns:
        try:
            _, _, flat = names.elements(c)
        except ParameterError:
            flat = []
        flat = [f for f in flat if f in outputs]
        if not flat:
            key = ir.canonical_name(c)
            var = names.lowered.variables.get(key)
            if var is not None and var.kind is ir.Kind.LOOKUP:
                raise ParameterError(f"'{c}' is a lookup: it has no value over time to return")
            raise ParameterError(f"'{c}' is not a variable of {names.path}" + did_you_mean(key, names.known()))
        out += flat
    return out


def timestamps(return_timestamps, t0: float, t1: float) -> np.ndarray:
    """The times a run returns, increasing: a list (or array, range) of times; one
    number, that one time (as PySD); a slice(start, stop, step), every `step` from
    `start` (default: the run's first time, t0) to `stop` (default: its last, t1)."""
    if isinstance(return_timestamps, slice):
        step = _number("return_timestamps' step", return_timestamps.step)
        start = t0 if return_timestamps.start is None else _number("return_timestamps", return_timestamps.start)
        stop = t1 if return_timestamps.stop is None else _number("return_timestamps", return_timestamps.stop)
        if not step > 0 or not math.isfinite(step):
            raise ParameterError(f"return_timestamps' step must be a positive number, got {step:g}")
        n = int(math.floor((stop - start) / step + 1e-9))
        return start + np.arange(max(n + 1, 0)) * step
    if is_number(return_timestamps):
        return_timestamps = [return_timestamps]
    try:
        times = np.asarray(list(return_timestamps), dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ParameterError("return_timestamps must be a time, a list of times or a "
                             "slice(start, stop, step)") from None
    if not len(times) or not np.all(np.isfinite(times)):
        raise ParameterError("return_timestamps must list at least one time, every one a finite number")
    return np.unique(times)
