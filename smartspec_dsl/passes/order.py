"""Pass 3: dependency order.

Two orders: one for initialisation (every variable, stocks take their
initial value), one for each time step (auxiliaries and flows that change
over time; stocks are known at the start of the step, so they break loops).
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

from .. import ir
from ..ir.builtins import BUFFER, BUILTINS, CLOCKED, LOOKUP_ARGS, Buffer
from ..errors import AlgebraicLoop, ModelError, PassContractError, UndefinedVariable, did_you_mean
from .consteval import constant_value
from .solve import SolvedBlock, check_whole_equations, solved_blocks


@dataclass(frozen=True)
class Schedule:
    model: ir.LoweredModel
    constants: tuple[str, ...]       # literal constants: the run's parameters
    initial: tuple[str, ...]         # initialisation order (all but constants and lookups)
    dynamic: tuple[str, ...]         # per-step order of time-varying auxiliaries
    stocks: tuple[str, ...]
    # the loops solved within the time step (passes/solve.py), of both orders: each is
    # computed, whole, where its first member falls in `initial` or `dynamic`
    blocks: tuple[SolvedBlock, ...] = ()


BUFFERED = {n for n, b in BUILTINS.items() if b.stage == BUFFER}


def is_delay_fixed(var: ir.Variable) -> bool:
    """A delay kept in the kernel's buffer (registry stage BUFFER: DELAY FIXED, DELAY
    MATERIAL, DELAY INFORMATION); lowering leaves each as the whole equation of its variable."""
    return isinstance(var.expr, ir.Call) and var.expr.func in BUFFERED


def buffer_of(var: ir.Variable) -> Buffer | None:
    """How the kernel keeps the state of a buffer delay's variable (the registry's `buffer`), or None."""
    return BUILTINS[var.expr.func].buffer if is_delay_fixed(var) else None


def is_delay_material(var: ir.Variable) -> bool:
    return isinstance(var.expr, ir.Call) and var.expr.func == "DELAY MATERIAL"


def is_delay_information(var: ir.Variable) -> bool:
    return isinstance(var.expr, ir.Call) and var.expr.func == "DELAY INFORMATION"


_RUN_SPAN = {"initial time", "final time", "time step"}


def _buffer_refs(var: ir.Variable, args: tuple[int, ...]) -> set[str]:
    return set().union(*(ir.references(var.expr.args[i]) for i in args))


def _initial_deps(var: ir.Variable) -> set[str]:
    buffer = buffer_of(var)
    if buffer is not None:
        return _buffer_refs(var, buffer.initial_args) | (_RUN_SPAN if buffer.spans_run else set())
    return ir.references(var.initial if var.initial is not None else var.expr)


def _step_deps(var: ir.Variable) -> set[str]:
    buffer = buffer_of(var)
    # a buffer's output comes from its buffer, whose input is written after the step's auxiliaries
    return _buffer_refs(var, buffer.step_args) if buffer is not None else ir.references(var.expr)


def _reads_clock(e) -> bool:
    return e is not None and any(
        (isinstance(n, ir.Ref) and n.name == ir.TIME) or (isinstance(n, ir.Call) and n.func in CLOCKED)
        for n in ir.walk(e))


def _check_defined(model: ir.Model) -> None:
    """Every name an equation reads is defined, a lookup applied is a lookup, and a lookup's
    name alone is only an argument of the functions that take a lookup (LOOKUP INVERT(table,
    y), ...): anywhere else Vensim reports it as a lookup used as a variable, and so do we,
    since it has no value of its own. One walk per equation (every equation of a large
    flattened model passes here)."""
    vs = model.variables
    for var in vs.values():
        for e in (var.expr, var.initial):
            if e is None:
                continue
            reads, allowed = [], set()
            for node in ir.walk(e):
                t = type(node)
                if t is ir.Ref or t is ir.LookupCall:
                    reads.append(node)
                elif t is ir.Call and node.func in LOOKUP_ARGS:
                    allowed.update(id(node.args[k]) for k in LOOKUP_ARGS[node.func] if k < len(node.args))
            for node in reads:
                name = node.name if type(node) is ir.Ref else node.table
                if name not in vs and name != ir.TIME:
                    shown = {n: v.display for n, v in vs.items() if not v.hidden}
                    raise UndefinedVariable(
                        f"{node.pos}: undefined variable '{model.written(name)}' used in the equation of "
                        f"'{var.display}'"
                        + did_you_mean(name, shown))
                if type(node) is ir.LookupCall and vs[name].kind is not ir.Kind.LOOKUP:
                    raise UndefinedVariable(
                        f"{node.pos}: '{vs[name].display}' is called like a lookup but is a "
                        f"{vs[name].kind.value}")
            for node in reads:
                target = vs.get(node.name) if type(node) is ir.Ref and id(node) not in allowed else None
                if target is not None and target.kind is ir.Kind.LOOKUP:
                    # a variable lowering made (`y #smooth1`) is reported as the one it came from
                    base, element = ir.split_element(var.name)
                    owner = vs.get(base.split(" #")[0] + element, var) if var.hidden else var
                    raise UndefinedVariable(
                        f"{node.pos or var.pos}: '{target.display}' is a lookup used as a plain value in the "
                        f"equation of '{owner.display}'; apply it to an input: {target.display}(x)")


def _check_controls_defined(model: ir.Model) -> None:
    """Every run needs INITIAL TIME, FINAL TIME, TIME STEP and SAVEPER, each one number."""
    for name in ir.CONTROL_NAMES:
        element = next((v for n, v in model.variables.items()
                        if name not in model.variables and n.startswith(name + "[")), None)
        if element is not None:
            raise ModelError(f"{element.pos}: {name.upper()} is subscripted; it must be a single "
                             "number or an equation giving one")
    missing = [n.upper() for n in ir.CONTROL_NAMES if n not in model.variables]
    if missing:
        raise ModelError(f"{model.source}:1:1: the model does not define {', '.join(missing)}; every "
                         "model needs INITIAL TIME, FINAL TIME, TIME STEP and SAVEPER, "
                         "e.g. 'TIME STEP = 1 ~ Month ~ |'")


def _check_controls(model: ir.Model) -> None:
    """The controls are numbers or scalar equations whose initial values can be computed
    before the run (from constants,
    or from Time at the start: Vensim allows controls that change during the run)."""
    for name in ir.CONTROL_NAMES:
        var = model.variables[name]
        if var.kind not in (ir.Kind.CONSTANT, ir.Kind.AUXILIARY, ir.Kind.FLOW):
            raise ModelError(f"{var.pos}: {name.upper()} is a {var.kind.value}; it must be a single "
                             "number or an equation giving one")
    t0 = None
    for name in ir.CONTROL_NAMES:
        var = model.variables[name]
        try:
            value = constant_value(model, name, {}, t0 or 0.0)
        except (ArithmeticError, ValueError, RecursionError):
            value = None
        if value is None or value != value:
            raise ModelError(f"{var.pos}: {name.upper()} cannot be computed before the run "
                             "(its equation gives no number at the initial time)")
        if value in (math.inf, -math.inf):
            raise ModelError(f"{var.pos}: {name.upper()} is {value:g} at the initial time; "
                             "it must be a finite number")
        if name == "initial time":
            t0 = value


def _cycle(deps: dict[str, set[str]], left: list[str], position: dict[str, int]) -> list[str]:
    """One loop among the variables `left` unordered (in the order of definition), in the
    order the values flow (each reads the one before it, the first reads the last),
    starting from the first defined. Every variable left reads another one left (else it
    would have been ordered), so walking from any of them to what it reads, always to
    the first defined, comes back to a variable already seen: the loop is the walk from there."""
    unordered = set(left)
    seen: dict[str, int] = {}
    walk: list[str] = []
    name = left[0]
    while name not in seen:
        seen[name] = len(walk)
        walk.append(name)
        name = min((d for d in deps[name] if d in unordered), key=position.__getitem__)
    loop = walk[seen[name]:][::-1]
    first = min(range(len(loop)), key=lambda i: position[loop[i]])
    return loop[first:] + loop[:first]


def _cycle_error(model: ir.Model, cycle: list[str], phase: str) -> AlgebraicLoop:
    lines = [f"  {model.variables[n].display} (defined at {model.variables[n].pos})"
             for n in cycle if n in model.variables]
    where = next((model.variables[n].pos for n in cycle
                  if n in model.variables and model.variables[n].pos), f"{model.source}:1:1")
    return AlgebraicLoop(f"{where}: algebraic loop ({phase}): these variables depend on each other "
                         "with no stock between them:\n" + "\n".join(lines))


def _topological(model: ir.Model, deps: dict[str, set[str]], phase: str) -> list[str]:
    """The variables of `deps` (name -> the names its equation reads) in an order where each
    comes after every one it reads (Kahn's algorithm), ties broken by the order of
    definition: stable across runs, and a flattened array's elements stay in element
    order, which the code generator's loops over elements need (name order would put r10
    between r1 and r2). An AlgebraicLoop naming one loop's variables when there is none."""
    names = [n for n in model.variables if n in deps]
    position = {n: i for i, n in enumerate(names)}
    readers: list[list[int]] = [[] for _ in names]
    waiting = [0] * len(names)
    for name, ds in deps.items():
        i = position[name]
        for d in ds:
            j = position.get(d)
            if j is not None:
                readers[j].append(i)
                waiting[i] += 1
    ready = [i for i, w in enumerate(waiting) if w == 0]     # ascending: already a heap
    order: list[str] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(names[i])
        for j in readers[i]:
            waiting[j] -= 1
            if waiting[j] == 0:
                heapq.heappush(ready, j)
    if len(order) < len(names):
        left = [n for i, n in enumerate(names) if waiting[i]]
        raise _cycle_error(model, _cycle(deps, left, position), phase)
    return order


def schedule(model: ir.Model) -> Schedule:
    """Order a lowered model's equations (`pipeline.lower` gives one).
    Errors: UndefinedVariable for a name nothing defines, AlgebraicLoop naming
    every variable of a loop; PassContractError for a model not yet lowered."""
    if not isinstance(model, ir.LoweredModel):
        raise PassContractError(f"{model.source}: internal error: ordering needs a lowered model, "
                                f"this one is {model.stage.value} (run passes.pipeline.lower first)")
    _check_controls_defined(model)
    _check_defined(model)
    vs = model.variables
    constants = tuple(n for n, v in vs.items() if v.kind is ir.Kind.CONSTANT)
    computed = {n: v for n, v in vs.items() if v.kind not in (ir.Kind.CONSTANT, ir.Kind.LOOKUP)}

    check_whole_equations(model)
    init_deps, init_blocks = solved_blocks(model, {n: _initial_deps(v) for n, v in computed.items()},
                                           "initialisation")
    initial = _topological(model, init_deps, "initialisation")
    _check_controls(model)

    stocks = tuple(n for n, v in computed.items() if v.kind is ir.Kind.STOCK)
    auxes = {n: v for n, v in computed.items() if v.kind is not ir.Kind.STOCK}
    step_deps, step_blocks = solved_blocks(model, {n: _step_deps(v) for n, v in auxes.items()}, "time step")
    order = _topological(model, step_deps, "time step")

    # An auxiliary is time-varying if it reads the clock, a stock, or another time-varying one;
    # a solved block is computed whole, so all its members vary when one does.
    varying: set[str] = set(stocks)
    for n in order:
        if (_reads_clock(auxes[n].expr) or step_deps[n] & varying or auxes[n].initial is not None
                or is_delay_fixed(auxes[n])):
            varying.add(n)
    while any(varying.intersection(b.members) and not varying.issuperset(b.members) for b in step_blocks):
        for b in step_blocks:
            if varying.intersection(b.members):
                varying.update(b.members)
        for n in order:
            if step_deps[n] & varying:
                varying.add(n)
    dynamic = tuple(n for n in order if n in varying)
    blocks = init_blocks + tuple(b for b in step_blocks if b.members[0] in varying)
    return Schedule(model, constants, tuple(initial), dynamic, stocks, blocks)


def initial_reads(schedule: Schedule) -> frozenset[str]:
    """The variables of `schedule.initial` whose value at initialisation a run reads: the
    stocks' initial values, what is computed only then (an initial-only or constant-derived
    auxiliary, an INITIAL, a buffer's delay time), what the first step reads before it computes
    it (a solved block's members, whose guesses start from it; the controls) and everything
    these read when initialised. The other auxiliaries (most of a model) are computed again by
    the first step before anything reads them, so initialising them is wasted work, and code
    the kernel compiles twice (World3: two thirds of its initialisation)."""
    vs = schedule.model.variables
    dynamic = set(schedule.dynamic)
    todo = {n for n in schedule.initial
            if n not in dynamic or vs[n].kind is ir.Kind.STOCK or vs[n].initial is not None
            or is_delay_fixed(vs[n]) or n in ir.CONTROL_NAMES}
    todo.update(m for b in schedule.blocks for m in b.members)
    done: set[str] = set()
    for n in schedule.dynamic:       # read by the first step before it computes them (none, by the order)
        todo |= (_step_deps(vs[n]) & dynamic) - done
        done.add(n)
    initial = set(schedule.initial)
    needed: set[str] = set()
    while todo:
        n = todo.pop()
        if n in initial and n not in needed:
            needed.add(n)
            todo |= _initial_deps(vs[n])
    return frozenset(needed)
