"""Equations a run replaces, as editing the model would (PySD's `set_components`
and `set_initial_value`): what `run(params=..., initial_condition=...)` asks
for when a value is not already a constant of the model.

An `Edits` is structure only (which variables change how); the values reach the
kernel as parameters and lookup tables, so a model compiled for one `Edits`
serves every run that edits the same variables:

- `constants`: flat variables (auxiliaries, flows, data variables) whose equation
  becomes a constant, a parameter of the run (an element of an array: a number beside the
  array's other equations, `constants_as_numbers`, which keeps the array dense);
- `series`: flat variables whose equation becomes a time series, a lookup of
  Time (the hidden lookup `series_table(name)`, whose points the run gives):
  linear interpolation between the points, the end values held outside them,
  as Vensim interpolates a data variable and as PySD's pandas Series input;
- `stocks`: lowered stocks (hidden ones of SMOOTH, DELAY, INITIAL... too)
  whose initial value becomes the parameter `initial_param(name)`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

from .. import ir
from ..errors import ModelError, ParameterError
from ..ir.ranges import SubscriptSpace
from .dense import element_names
from .dense_orders import part_of
from .dense_pieces import Pieces
from .flat_exprs import flat_name


@dataclass(frozen=True)
class Edits:
    constants: frozenset[str] = frozenset()
    series: frozenset[str] = frozenset()
    stocks: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.constants or self.series or self.stocks)

    def key(self) -> str:
        """A stable text naming these edits (part of a kernel cache key)."""
        return repr((sorted(self.constants), sorted(self.series), sorted(self.stocks)))


def series_table(name: str) -> str:
    """The hidden lookup holding the time series that replaces variable `name`."""
    return f"{name}@series"


def initial_param(name: str) -> str:
    """The hidden constant holding stock `name`'s initial value."""
    return f"{name}@initial"


def made_by(name: str, replaced: set[str] | frozenset[str]) -> bool:
    """Whether the hidden variable `name` (a stock of a saved state) is memory that the
    equation of one of the flat variables `replaced` made, which a run replacing that equation
    does without: stateful lowering names it `owner #what<k>`, macro expansion its copy of a
    call `macro #call<k>(owner) local` (passes/macros.py), an element's after its array, with
    the element's subscripts (`owner #what<k>[e1]`), and that of its element of a hidden array
    the dense route made of the owner's piece (`owner #memory<k> #what<j>[e1]`, which
    `constants_as_numbers` replaces along with the element). The part of a split array that
    computed a replaced element (`x #order2 #smoothn1_2`, passes/dense_orders.py) is made by
    the part's element, which `replaced` names too (pipeline.replaced_parts: `x #order2`)."""
    base, element = ir.split_element(name)
    for owner in replaced:
        array, at = ir.split_element(owner)
        if (not at or at == element) and (base.startswith(array + " #") or f"({array}) " in base):
            return True
    return False


# the hidden arrays passes/dense_memory.py makes of a piece of an array (`x #memory1`, `x #arg1`)
_LIFTED = re.compile(r" #(memory|arg)\d+")


def constants_as_numbers(model: ir.Model, edits: Edits | None, values: dict[str, float] | None = None
                         ) -> tuple[ir.Model, Edits | None]:
    """A parsed model in which each element of an array that `edits.constants` replaces is
    given as a number beside the array's other equations (`x[a3] = value`, the others'
    definitions `:EXCEPT: [a3]`), which the dense route keeps in the array as a parameter
    by the element's name (passes/dense_pieces.py), and the edits left to make
    (`edit_equations`). An array with a list of expressions, a lookup or data keeps its edits.
    The element of a hidden array the dense route made before the edits computes nothing for
    a replaced element, a constant or a time series (`_retire_hidden`)."""
    if not edits or not (edits.constants or edits.series):
        return model, edits
    values = values or {}
    variables, left = dict(model.variables), set()
    hidden = _Hidden(model)
    for flat in sorted(edits.constants):
        name, _, rest = flat.partition("[")
        var = variables.get(name)
        if not rest or var is None or not var.definitions or any(
                d.rows or d.lookup is not None or d.keyword or d.operator != "=" or d.expr is None
                or len(d.subscripts) != rest.count(",") + 1 for d in var.definitions):
            left.add(flat)
            continue
        combo = tuple(rest[:-1].split(","))
        number = ir.Definition(combo, (), "=", ir.Num(float(values.get(flat, 0.0))), pos=var.pos)
        variables[name] = replace(var, definitions=tuple(replace(d, excepts=d.excepts + (combo,))
                                                         for d in var.definitions) + (number,))
        hidden.retire(variables, flat)
    for flat in sorted(edits.series):
        hidden.retire(variables, flat)      # the array itself is flattened (dense.edited_arrays)
    return replace(model, variables=variables), replace(edits, constants=frozenset(left))


class _Hidden:
    """The hidden arrays the dense route made of a model's arrays before a run's edits:
    those of a piece with memory (`x #memory1`, `x #arg1`, passes/dense_memory.py) and the
    parts of an array split by its SMOOTH N or DELAY N order (`x #order2`,
    passes/dense_orders.py). An element a run replaces no longer computes in them: its
    floating-point errors and lookup warnings would be said of the replaced element (--strict
    failing), its memory is not needed (`made_by`)."""

    def __init__(self, model: ir.Model):
        self.model, self._pieces = model, None

    def retire(self, variables: dict[str, ir.Variable], flat: str) -> None:
        """Replace in `variables` the hidden elements that compute the array element `flat`
        by the number 0 (the hidden arrays keep their other elements and names)."""
        name, at = ir.split_element(flat)
        if not at:
            return
        combo = tuple(at[1:-1].split(","))
        part = part_of(self.model, flat)
        if part is not None:
            pv = variables[part[0]]
            if not part[1]:     # a scalar part computes this element alone
                zero = ir.Num(0.0)
                variables[part[0]] = replace(pv, expr=zero, definitions=(replace(pv.definitions[0], expr=zero),))
            else:
                variables[part[0]] = _excepting(pv, part[1], [True] * len(pv.definitions))
        for n in [n for n in variables if n.startswith(name + " #") and _LIFTED.fullmatch(n[len(name):])]:
            hv = variables[n]
            self._pieces = self._pieces or Pieces(self.model, SubscriptSpace(self.model.subscript_ranges,
                                                                             self.model.spellings))
            try:
                hit = [len(d.subscripts) == len(combo) and combo in self._pieces.combos(hv, d)[1]
                       for d in hv.definitions]
            except ModelError:
                continue
            if any(hit):
                variables[n] = _excepting(hv, combo, hit)


def _excepting(var: ir.Variable, combo: tuple[str, ...], hit: list[bool]) -> ir.Variable:
    """`var` with its element `combo` the number 0, left out of the definitions `hit` marks."""
    return replace(var, definitions=tuple(replace(d, excepts=d.excepts + (combo,)) if h else d
                                          for d, h in zip(var.definitions, hit))
                   + (ir.Definition(combo, (), "=", ir.Num(0.0), pos=var.pos),))


def edit_equations(model: ir.Model, edits: Edits | None, values: dict[str, float] | None = None) -> ir.Model:
    """A flat model with the equations of `edits.constants` and `edits.series`
    replaced. `values` give the constants' compiled defaults (a run always sets
    them; they matter where a constant decides the structure, see stateful.rules.RULES)."""
    if not edits or not (edits.constants or edits.series):
        return model
    values = values or {}
    variables = dict(model.variables)
    for name in sorted(edits.constants):
        array = variables.get(name.partition("[")[0])
        if name not in variables and array is not None and array.dims:
            continue     # an element of a dense array: a number beside its equations (constants_as_numbers)
        var = variables[name]
        variables[name] = replace(var, kind=ir.Kind.CONSTANT, expr=ir.Num(float(values.get(name, 0.0))),
                                  initial=None, lookup=None)
    for name in sorted(edits.series):
        var = variables[name]
        table = series_table(name)
        # a placeholder table: the run's own points replace it in the table vector
        variables[table] = ir.Variable(table, f"{var.display} (time series)", ir.Kind.LOOKUP,
                                       lookup=ir.LookupTable((0.0,), (0.0,)), pos=var.pos, hidden=True,
                                       series=True)
        variables[name] = replace(var, kind=ir.Kind.AUXILIARY, initial=None, lookup=None,
                                  expr=ir.LookupCall(table, ir.Ref(ir.TIME), var.pos))
    return replace(model, variables=variables)


# Vensim's functions of a data variable's series (help, "Data Functions"; passes/stateful/data.py)
SERIES_FUNCTIONS = frozenset({"TIME SHIFT", "CUMULATE", "CUMULATEF", "GET DATA FIRST TIME", "GET DATA LAST TIME",
                              "GET DATA TOTAL POINTS", "GET DATA MAX", "GET DATA MIN", "GET DATA MEAN",
                              "GET DATA BETWEEN TIMES", "GET DATA AT TIME"})


class ReplacedSeries(ParameterError):
    """A run replaces the equation of data that a function of its series reads; `element`:
    the flat name of the replaced variable (runtime/single.py names the params entry)."""

    def __init__(self, message: str, element: str):
        super().__init__(message)
        self.element = element


def replaced_data(model: ir.Model, edits: Edits | None) -> set[str]:
    """The flat names of `edits.constants` and `edits.series` that are data in the model as
    parsed (with its external data read): read from a file (an equation that reads one of
    frontend/external.py's series tables) or a data equation's (`x := ...`)."""
    out = set()
    for flat in (edits.constants | edits.series) if edits else ():
        var = model.variables.get(ir.split_element(flat)[0])
        if var is not None and any(_is_data(model, d.expr, d.operator, d.keyword)
                                   for d in var.definitions or (ir.Definition((), (), "=", var.expr),)):
            out.add(flat)
    return out


def _is_data(model: ir.Model, e: ir.Expr | None, operator: str, keyword: str) -> bool:
    if operator == ":=" or keyword:
        return True
    for node in ir.walk(e) if e is not None else ():
        if isinstance(node, ir.Call) and node.func == "DATA EQUATION":
            return True
        table = node.table if isinstance(node, ir.LookupCall) else node.name if isinstance(node, ir.Ref) else None
        if table is not None and getattr(model.variables.get(table), "series", False):
            return True
    return False


def refuse_read_series(model: ir.Model, data: set[str], edits: Edits | None) -> ir.Model:
    """The flat `model`, or ReplacedSeries for a data function (TIME SHIFT, CUMULATE, GET DATA
    MAX...) reading data whose equation the run replaces (`data`: replaced_data's): the function
    reads the data's own points, which a constant or a run's time series does not keep, so it
    would read a series that is not there (or another one, in silence). A read over a range
    (a dense array's) of an array with a replaced element counts too; a read in an equation
    the run replaces too does not."""
    if not data:
        return model
    replaced = edits.constants | edits.series
    elements = {e for r in model.subscript_ranges.values() for e in r.elements}
    # data -> the replaced data it is, itself or through data equations (`x := v * 2`: x's
    # points are v's)
    origin = {n: (n, None) for n in data}

    def reads(ref: ir.Ref) -> str | None:
        flat = flat_name(ref.name, ref.subscripts) if ref.subscripts else ref.name
        if flat in origin:
            return flat
        if not elements.issuperset(ref.subscripts):     # over a range: any of its elements
            return next((n for n in sorted(origin) if ir.split_element(n)[0] == ref.name), None)
        return None
    grown = True
    while grown:
        grown = False
        for var in model.variables.values():
            e = var.expr
            if var.name in origin or var.name in replaced or not (isinstance(e, ir.Call) and e.func == "DATA EQUATION"):
                continue
            hit = next((h for n in ir.walk(e) if isinstance(n, ir.Ref) and (h := reads(n))), None)
            if hit is not None:
                origin[var.name], grown = (origin[hit][0], origin[hit][1] or var.name), True
    for var in model.variables.values():
        for e in (var.expr, var.initial) if var.name not in replaced else ():
            for node in ir.walk(e) if e is not None else ():
                if not (isinstance(node, ir.Call) and node.func in SERIES_FUNCTIONS and node.args
                        and isinstance(node.args[0], ir.Ref)):
                    continue
                hit = reads(node.args[0])
                if hit is None:
                    continue
                element, through = origin[hit]
                via = f" (through the data equation of '{shown_name(model, through)}')" if through else ""
                raise ReplacedSeries(
                    f"the run replaces the equation of the data variable '{shown_name(model, element)}', whose series "
                    f"{node.func} reads at {node.pos}{via}: a function of a data series reads the data's "
                    "own points, which a replaced equation does not have; give the data by a data "
                    "file instead (a run's data, --data), or replace the equation that reads it", element)
    return model


def shown_name(model: ir.Model, flat: str) -> str:
    """The variable or array element `flat` ('x', 'x[a1]': lowered names) as the modeller
    wrote it ('Stock X[Region A]'); `flat` itself when the model has no such variable."""
    if flat in model.variables:     # a variable, or an element flattened (an array a run replaces an element of)
        return model.variables[flat].display
    base, at = ir.split_element(flat)
    if base not in model.variables:
        return flat
    space = SubscriptSpace(model.subscript_ranges, model.spellings)
    return model.variables[base].display + (space.subscripts_shown(at[1:-1].split(",")) if at else "")


def edit_initial_values(model: ir.Model, edits: Edits | None, values: dict[str, float] | None = None) -> ir.Model:
    """A lowered model whose stocks of `edits.stocks` start from the parameters
    `initial_param(stock)` instead of their initial equations."""
    if not edits or not edits.stocks:
        return model
    values = values or {}
    variables = dict(model.variables)
    stocks = set(edits.stocks)
    for name, var in model.variables.items():
        if var.dims and var.kind is ir.Kind.STOCK:
            # a dense array (passes/dense.py) starts from its elements' parameters, all of them
            # (dense.edited_arrays flattens an array given some of its elements' initial values)
            elements = element_names(model, name)
            if not stocks.issuperset(elements):
                continue
            stocks -= set(elements)
            param = initial_param(name)
            variables[param] = ir.Variable(param, f"initial {var.display}", ir.Kind.CONSTANT, expr=ir.Call(
                "@VALUES", tuple(ir.Num(float(values.get(initial_param(e), 0.0))) for e in elements)),
                pos=var.pos, hidden=True, dims=var.dims)
            variables[name] = replace(var, initial=ir.Ref(param, var.dims, var.pos))
    lost = sorted(n for n in stocks if n not in variables)
    if lost:
        # the hidden stocks of a saved state are named by the structure that made them, which
        # an edit that flattens an array with memory changes
        owners = sorted({n.split(" #")[0].partition("[")[0] for n in lost})
        shown = ", ".join(f"'{variables[o].display if o in variables else o}'" for o in owners)
        if edits.constants or edits.series:
            raise ParameterError(f"the state cannot be continued by this run: the equations it replaces change "
                                 f"how the memory of {shown} (SMOOTH, DELAY, ... stocks) is kept; run it from the "
                                 "start, or continue the state without replacing those equations")
        # no equation replaced: a value that decides the structure (an order) laid the memory out otherwise
        given = ", ".join(f"'{shown_name(model, n)}' = {v:g}" for n, v in sorted(values.items())
                          if not n.endswith("@initial"))
        raise ParameterError(f"the state cannot be continued by this run: the values it gives{f' ({given})' * bool(given)} change how the "
                             f"memory of {shown} (SMOOTH, DELAY, ... stocks) is kept (another SMOOTH N or DELAY N "
                             "order, ...); run it from the start, or continue the state without those values")
    for name in sorted(stocks):
        var = variables[name]
        param = initial_param(name)
        variables[param] = ir.Variable(param, f"initial {var.display}", ir.Kind.CONSTANT,
                                       expr=ir.Num(float(values.get(param, 0.0))), pos=var.pos, hidden=True)
        variables[name] = replace(var, initial=ir.Ref(param, (), var.pos))
    return replace(model, variables=variables)
