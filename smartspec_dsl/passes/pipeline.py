"""The compiler's IR passes, in the order they run, each with the contract it
leaves behind.

    parsed ir.Model
      -> external data      frontend/external.py  resolve_external
      -> flattening         passes/subscripts.py  flatten
      -> data variables     (here)                refuse_data_variables
      -> equation edits     passes/edits.py       edit_equations
      -> macro expansion    passes/macros.py      expand_macros
      -> data equations     passes/data_equations.py  derive_data
      -> stateful lowering  passes/stateful/      lower_stateful
      -> initial values     passes/edits.py       edit_initial_values
    lowered ir.Model  ->  passes/order.py schedule  ->  backend/codegen.py generate

`lower` runs them. After each pass it checks the pass's contract (nothing
subscripted after flattening, no stateful call after lowering, ...: what a
pass guarantees whatever the model, so a modeller's mistake is still reported
as one) and only
then moves the model to the pass's stage type (`ir.FlatModel`, ...: `ir.at_stage`); a broken contract is a
`PassContractError` naming the pass, raised at the boundary instead of as a
puzzling failure two passes later. `order.schedule` takes only an
`ir.LoweredModel`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

from .. import ir
from ..errors import ModelError, PassContractError, UnsupportedFeature
from ..frontend.external import DataOptions, resolve_external
from ..ir.builtins import BUFFER, BUILTINS, EQUATION, LOWERING, unsupported_calls
from . import edits as edits_mod
from .edits import Edits, edit_equations, edit_initial_values
from .array_functions import whole_matrices
from .dense import dense_arrays, has_arrays
from .dense_lift import lift_lookups, lift_vectors
from .dense_memory import lift_memory
from .dense_orders import part_of, split_varying_orders
from .dense_pieces import covering_ranges
from .data_equations import derive_data, no_data_equations
from .macros import declare_macro_outputs, expand_macros, inline_pure_macros
from .stateful import lower_stateful
from .subscripts import flatten


def arrays(model: ir.Model, edits: Edits | None = None, dense: bool = True,
           values: dict[str, float] | None = None) -> ir.Model:
    """The subscripts pass: the arrays the dense route keeps (passes/dense.py: apply-to-all
    equations stay arrays) stay one variable each, the others are flattened, one scalar per
    element (subscripts.flatten). A run's edits name single elements: an element set to a
    constant becomes a number beside its array's equations (`edits.constants_as_numbers`),
    the arrays other edits name are flattened (`dense.edited_arrays`); `dense` False flattens
    any model. On the
    dense route a call of a macro that keeps no state is its expression
    (`macros.inline_pure_macros`), which a piece of a piecewise array may hold."""
    model = whole_matrices(declare_macro_outputs(model))
    data = edits_mod.replaced_data(model, edits)    # before edits: which data a run replaces
    if not dense:
        return edits_mod.refuse_read_series(flatten(model, set()), data, edits)
    replacing = edits
    if has_arrays(model):
        # split and lifted first: whether an array is, and so its parts' hidden names and
        # draw sites, must not depend on which of its elements a run replaces
        model = _split_and_lifted(model)
        model, edits = edits_mod.constants_as_numbers(model, edits, values)
        model = lift_lookups(covering_ranges(lift_vectors(model)))
    return edits_mod.refuse_read_series(flatten(model, dense_arrays(model, edits)), data, replacing)


def _split_and_lifted(model: ir.Model) -> ir.Model:
    return split_varying_orders(lift_memory(inline_pure_macros(model)))


def replaced_parts(model: ir.Model, replaced: set[str] | frozenset[str]) -> set[str]:
    """The elements of the hidden parts of arrays split by their SMOOTH N or DELAY N order
    (passes/dense_orders.py) that compute the array elements `replaced` (flat names) of the
    parsed `model`: `x #order2` (a scalar part), `x #order2[h1]`. A run that replaces those
    elements computes none of them (edits.constants_as_numbers), so a saved state's memory of
    theirs is not needed (`edits.made_by(stock, replaced | replaced_parts(...))`)."""
    if not replaced or not has_arrays(model):
        return set()
    try:
        split = _split_and_lifted(whole_matrices(declare_macro_outputs(model)))
    except ModelError:      # as parsed, before its data are read: none named, the state refused as before
        return set()
    parts = (part_of(split, flat) for flat in replaced)
    return {name + (f"[{','.join(at)}]" if at else "") for name, at in filter(None, parts)}


def refuse_data_variables(model: ir.Model) -> ir.Model:
    """A data variable no data file defined cannot run: say so (Vensim would read a .vdf)."""
    for var in model.variables.values():
        if var.kind is ir.Kind.DATA:
            raise UnsupportedFeature(f"{var.pos}: '{var.display}' is a data variable; "
                                     "data variables are not supported yet")
    return model


# ---- contracts: what is wrong with a model after a pass, or None ---------------------

def _calls(model: ir.Model, stages) -> Iterator[tuple[ir.Variable, ir.Call]]:
    """Every call of a registered function of one of `stages` in the equations
    the next passes read (`expr`, `initial`; after flattening the definitions
    are only the record of what the modeller wrote)."""
    names = {n for n, b in BUILTINS.items() if b.stage in stages}
    for var in model.variables.values():
        for e in (var.expr, var.initial):
            for node in ir.walk(e) if e is not None else ():
                if type(node) is ir.Call and node.func in names:
                    yield var, node


def no_check(model: ir.Model) -> str | None:
    """External data guarantees nothing checkable: a GET call it leaves (in a
    place it does not read) reaches check_call, which reports it as not
    supported, in the modeller's terms."""
    return None


def nothing_subscripted(model: ir.Model) -> str | None:
    # Only what flattening guarantees whatever the input: every variable is a
    # scalar, or a dense array (passes/dense.py: dims, no per-element definitions). An array function or a subscripted reference it leaves in a model
    # without subscripts is the modeller's, which lowering and ordering report.
    for var in model.variables.values():
        if var.definitions and any(d.subscripts for d in var.definitions):
            return f"'{var.display}' is still subscripted"
    return None


def no_data_variables(model: ir.Model) -> str | None:
    data = next((v for v in model.variables.values() if v.kind is ir.Kind.DATA), None)
    return None if data is None else f"'{data.display}' is still a data variable"


def no_macros(model: ir.Model) -> str | None:
    return f"macro '{next(iter(model.macros))}' is still defined" if model.macros else None


def no_stateful_calls(model: ir.Model) -> str | None:
    buffered = None
    for var, call in _calls(model, {LOWERING, EQUATION, BUFFER}):
        if BUILTINS[call.func].stage != BUFFER:
            return f"'{var.display}' still calls {call.func}"
        # DELAY FIXED and DELAY MATERIAL stay, each the whole equation of its own auxiliary
        if buffered is None and (var.expr is not call or var.kind is not ir.Kind.AUXILIARY):
            buffered = f"'{var.display}' calls {call.func} inside an expression"
    return buffered


@dataclass(frozen=True)
class Pass:
    name: str
    run: Callable[[ir.Model, DataOptions], ir.Model]    # (model, the run's data options)
    gives: type[ir.Model]         # the stage type the model moves to once the contract holds
    contract: Callable[[ir.Model], str | None]
    takes_values: bool = False    # run(model, data, values): values decide structure (stateful.rules.RULES)
    takes_edits: bool = False     # run(model, data, values, edits): a run's edits (passes/edits.py)
    takes_route: bool = False     # run(..., dense=): False keeps a model off the dense route


PASSES = (
    Pass("external data", lambda m, data: resolve_external(m, options=data), ir.ExternalReadModel,
         no_check),
    Pass("flattening", lambda m, _, values=None, edits=None, dense=True: arrays(m, edits, dense, values),
         ir.FlatModel, nothing_subscripted, takes_edits=True, takes_route=True),
    Pass("data variables", lambda m, _: refuse_data_variables(m), ir.FlatModel, no_data_variables),
    Pass("equation edits", lambda m, _, values=None, edits=None: edit_equations(m, edits, values),
         ir.FlatModel, no_data_variables, takes_edits=True),
    Pass("macro expansion", lambda m, _: expand_macros(m), ir.MacroFreeModel, no_macros),
    Pass("data equations", lambda m, _: derive_data(m), ir.MacroFreeModel, no_data_equations),
    Pass("stateful lowering", lambda m, _, values=None: lower_stateful(m, values), ir.LoweredModel,
         no_stateful_calls, takes_values=True),
    Pass("initial values", lambda m, _, values=None, edits=None: edit_initial_values(m, edits, values),
         ir.LoweredModel, no_stateful_calls, takes_edits=True),
)


def lower(model: ir.Model, data: DataOptions | None = None,
          values: dict[str, float] | None = None, edits: Edits | None = None,
          dense: bool = True) -> ir.LoweredModel:
    """A parsed model -> a lowered one (`ir.LoweredModel`): every pass of
    `PASSES` in order, each one's contract checked before the next runs.
    `data`: the data files and file aliases given to the run (external.DataOptions);
    `values` override constants where they decide the structure (stateful.rules.RULES);
    `edits`: equations and initial values a run replaces (passes/edits.py);
    `dense` False flattens every subscripted model per element (passes/dense.py is the
    route it skips; the differential tests compare the two).
    Errors: every call of a function smartspec does not run, all in one
    UnsupportedFeature (one line each); the passes' ModelErrors about the model;
    PassContractError when a pass breaks its contract (a bug of smartspec)."""
    if model.stage is not ir.Stage.PARSED:
        raise PassContractError(f"the passes take a parsed model; this one is {model.stage.value}")
    unknown = unsupported_calls(model)
    if unknown:
        raise UnsupportedFeature("\n".join(unknown))
    data = data or DataOptions()
    for p in PASSES:
        if p.takes_route:
            model = p.run(model, data, values, edits, dense)
        elif p.takes_edits:
            model = p.run(model, data, values, edits)
        else:
            model = p.run(model, data, values) if values and p.takes_values else p.run(model, data)
        problem = p.contract(model)
        if problem:
            raise PassContractError(f"{model.source}: internal error after the {p.name} pass: {problem} "
                                    "(a bug of smartspec; please report it with the model)")
        model = ir.at_stage(model, p.gives)
    return model
