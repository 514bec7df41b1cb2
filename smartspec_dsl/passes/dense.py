"""Pass 4 (the dense route): apply-to-all equations stay arrays.

`flatten` (subscripts.py) makes one scalar equation per element, so every later
stage, and the kernel Numba compiles, grows with the number of elements. A model
whose subscripted variables are all plain apply-to-all equations takes this route
instead (`densify`): each keeps ONE variable with its ranges as `dims`, its
references keep their subscripts, and the code generator runs it as one loop over
a contiguous slice of the state vector (backend/dense_emit.py). Stateful lowering
gives the hidden stocks of a SMOOTH or DELAY3 in such an equation the same dims
(stateful/base.py), and the order is one node per array.

The dense IR, between this pass and code generation:
- an array variable has `dims` (range names, canonical) and no `definitions`;
- a reference to an array names, per subscript, the left-hand side's range of the
  same name (the element the loop is at), `range!` (iterated by the enclosing SUM)
  or a fixed element;
- `SUM(arg)` (PROD, VMIN, VMAX) stays a call (one loop); one that does not read the
  left-hand side's elements is a hidden scalar auxiliary every element reads (`owner #sum1`);
- an array of numbers is a constant whose equation is `@VALUES(n1, n2, ...)`, one
  number per element in element order; a range used as a value (`10 * Region`) is
  `@INDEX(k)`, the 1-based position of the loop over the left-hand side's k-th range.

Which variables stay dense is decided per variable (`partition`; `ineligible` names the
first array that does not): one definition over whole ranges, references through the same
range names as the left-hand side, or else the pieces of dense_pieces.py (piecewise and
:EXCEPT: definitions, mappings, subranges, positional binding, ranges used as values; a
piecewise array on a loop of arrays is flattened, `_looped_pieces`), SUM, PROD, VMIN and
VMAX over `range!`, the stateful calls of DENSE_STATEFUL (SMOOTH N and DELAY N, GET TIME
VALUE, when the structure they decide is the whole array's; DELAY FIXED and the buffers of
dense_buffers.py, one region per element: backend/dense_buffers.py), INTEG, random draws and macros
whose body is what an array equation may say (one copy over the equation's ranges:
macros.py; macros not in pieces), the VECTOR and ALLOCATE functions of dense_vectors.py and the
lookups defined per element of dense_lookups.py (in pieces, through mappings: dense_lift.py). The others are flattened
per element (subscripts.flatten, which calls `densifier` for the dense ones), and so is
a variable that reads a range of a flattened array; the two kinds read each other's
single elements. A run that gives an array's element a time series, or new initial values
to some elements of an array of stocks, flattens that array and what reads its ranges
(`edited_arrays`); an element set to a constant is a number beside the array's equations
(passes/edits.py, before this pass).
"""
from __future__ import annotations

import math
from dataclasses import replace

from .. import ir
from ..errors import ModelError
from ..ir.builtins import ARRAY, BUILTINS, KERNEL, RANDOM_DRAW
from ..ir.ranges import SubscriptSpace, parse_form
from . import dense_buffers, dense_lookups, dense_memory, dense_vectors
from .dense_lift import lift_lookups, lift_vectors
from .dense_orders import split_varying_orders
from .dense_pieces import PIECE_CALLS, Pieces, Plan, Refuse as _Refuse, covering_ranges, numbers_of
from .elements import Elements
from .flat_exprs import flat_name, number as _number
from .macros import inline_pure_macros
from .solve import strong_components

# the stateful functions whose lowering (chains of stocks, DELAY FIXED's buffer) holds per element
DENSE_STATEFUL = {"SMOOTH", "SMOOTHI", "SMOOTH3", "SMOOTH3I", "DELAY1", "DELAY1I", "DELAY3", "DELAY3I",
                  "TREND", "FORECAST", "SMOOTH N", "DELAY N", "INITIAL", "SAMPLE IF TRUE", "NPV", "NPVE",
                  "GET TIME VALUE", "TIME BASE", "RANDOM PINK NOISE", "DELAY FIXED"} | dense_buffers.BUFFERS
# ... of which those whose arguments at these positions decide the structure (stateful.rules):
# one structure for the whole array, so they must not read it
DECIDED = {"SMOOTH N": (3,), "DELAY N": (1, 3), "GET TIME VALUE": (0, 2)}
# the calls the dense IR adds or keeps (stateful lowering leaves them; codegen loops over them)
REDUCTIONS = ("SUM", "PROD", "VMIN", "VMAX")
DENSE_CALLS = {*REDUCTIONS, "@VALUES", "@INDEX"} | PIECE_CALLS | dense_vectors.VECTOR_CALLS
# random draws: one call site per element, numbered as the per-element route numbers them
# (dense_emit.DenseEmitter.site, per element of a piece too), so not inside a reduction
_RANDOM = {n for n, b in BUILTINS.items() if b.emit == RANDOM_DRAW} | {"RANDOM 0 1", "RANDOM LOOKUP"}
# the array functions the flattening expands into reads of single elements, which a dense
# array gives (`name[e1,e2]`); the others read the flattened variable's table of elements
ELEMENTWISE_READS = {"SUM", "PROD", "VMIN", "VMAX", "ELMCOUNT"}


def _subscripted(var: ir.Variable) -> bool:
    return bool(var.dims) or any(d.subscripts for d in var.definitions)


def has_arrays(model: ir.Model) -> bool:
    """Whether a parsed model has a subscripted variable."""
    return any(_subscripted(v) for v in model.variables.values())


def is_dense(model: ir.Model) -> bool:
    """Whether a model (after the flattening pass) took the dense route."""
    return any(v.dims for v in model.variables.values())


class _Checker:
    def __init__(self, model: ir.Model):
        self.model = model
        self.space = SubscriptSpace(model.subscript_ranges, model.spellings)
        self.pieces = Pieces(model, self.space)
        self.dims: dict[str, tuple[str, ...]] = {}     # the arrays that can stay dense
        self.macro_ok: dict[str, str | None] = {}      # macro -> why an array cannot call it, or ""
        self.locals: set[str] = set()                   # the inputs and locals of the macro checked
        self.why: dict[str, str] = {}                   # the others: why not
        self.plans: dict[str, Plan] = {}                # those kept in pieces (dense_pieces.py)
        self.planned: dict[str, tuple] = {}             # name -> (what it was made for, plan)
        for name, var in model.variables.items():
            if _subscripted(var):
                try:
                    self.dims[name] = self.variable_dims(var)
                except _Refuse as why:
                    self.why[name] = str(why)
        self.dense = set(model.variables) - set(self.why)

    def check(self, var: ir.Variable) -> None:
        """Refuse a variable the dense route cannot keep, given the others kept (`dense`)."""
        if var.name in self.why:
            raise _Refuse(self.why[var.name])
        self.plans.pop(var.name, None)
        if _subscripted(var):
            d = var.definitions[0]
            if self.plain(var):
                if d.rows:
                    return
                try:
                    return self.expr(d.expr, self.dims[var.name], top=True)
                except _Refuse as why:
                    try:   # a range binding through a mapping, a subrange, a range as a value
                        return self.in_pieces(var)
                    except _Refuse:
                        raise why from None
            self.in_pieces(var)
        else:
            self.expr(var.expr, (), top=True)
            self.expr(var.initial, ())

    def plain(self, var: ir.Variable) -> bool:
        """Whether `var` is one apply-to-all equation over whole ranges (else it is kept in
        pieces, dense_pieces.py)."""
        d = var.definitions[0]
        return len(var.definitions) == 1 and not d.excepts and len(set(d.subscripts)) == len(d.subscripts) \
            and all(self.space.is_range(s) and self.space.elements.get(s) for s in d.subscripts)

    def in_pieces(self, var: ir.Variable) -> None:
        """Check `var` as the pieces of dense_pieces.py (its calls as an array equation's, its
        references element by element) and keep its plan."""
        dims = self.dims[var.name]
        # a plan holds while no array it may read is flattened (partition only flattens more)
        made_for = (len(self.why), len(self.dense))
        if var.name in self.planned and self.planned[var.name][0] == made_for:
            self.plans[var.name] = self.planned[var.name][1]
            return
        for d in var.definitions:
            if d.expr is not None and not d.rows:
                self.expr(d.expr, dims, top=True, pieced=True)
        flattened = {n for n in self.dims if n not in self.dense} | set(self.why)
        plan = self.pieces.plan(var, {n: self.dims[n] for n in self.dense if n in self.dims}, flattened)
        if len(plan.expr.args) > 2 and any(type(n) is ir.Call and n.func in DENSE_STATEFUL
                                           for n in ir.walk(plan.expr)):
            raise _Refuse(f"'{var.display}' calls a function with memory in one of its pieces")
        self.plans[var.name] = plan
        self.planned[var.name] = (made_for, plan)

    def variable_dims(self, var: ir.Variable) -> tuple[str, ...]:
        if var.name in ir.CONTROL_NAMES:
            raise _Refuse("a control variable is subscripted")
        d = var.definitions[0] if var.definitions else None
        if d is None or not self.plain(var) or d.lookup is not None or d.operator not in ("=", "==") \
                or (d.keyword and not dense_lookups.data_equation(self, var)):
            try:
                return self.pieces.covered(var)[0]
            except _Refuse as why:
                raise _Refuse(f"'{var.display}' {why}") from None
        n = math.prod(len(self.space.elements[s]) for s in d.subscripts)
        if d.rows:
            flat = [x for row in d.rows for x in row]
            if len(flat) != n or not all(_number(x) is not None for x in flat):
                raise _Refuse(f"'{var.display}' has a list of values that is not numbers")
        elif d.expr is None:
            raise _Refuse(f"'{var.display}' has no equation")
        return tuple(d.subscripts)

    def expr(self, e: ir.Expr | None, lhs: tuple[str, ...], top: bool = False, pieced: bool = False) -> None:
        """Refuse an expression the dense route cannot loop over (see the module's doc); in
        `pieced` one, a reference's subscripts are checked element by element (dense_pieces)."""
        if e is None:
            return
        if top and isinstance(e, ir.Call) and e.func == "INTEG" and len(e.args) == 2:
            for a in e.args:
                self.expr(a, lhs, pieced=pieced)
            return
        todo = [(e, False)]
        while todo:
            node, inside = todo.pop()
            t = type(node)
            dense_lookups.without_subscripts(self, node)
            if t is ir.Ref and pieced:
                if node.name in self.dims and not node.subscripts:
                    raise _Refuse("an array used without subscripts")
                if any(s.endswith("!") for s in node.subscripts) and not inside:
                    raise _Refuse("an iterated range outside SUM")
            elif t is ir.Ref:
                self.ref(node, lhs, inside)
            elif t is ir.LookupCall:
                if node.table in self.dims:
                    raise _Refuse("a lookup of an array")
                if node.subscripts and not pieced:   # a lookup defined per element (in a piece: Pieces.sites)
                    dense_lookups.check(self, node, lhs)
                todo.append((node.arg, inside))
            elif t is ir.Call:
                f = node.func
                if f in REDUCTIONS:
                    if inside or len(node.args) != 1:
                        raise _Refuse(f"a nested {f}")
                    todo.append((node.args[0], True))
                    continue
                if f in dense_vectors.VECTOR_FUNCTIONS:
                    if inside or pieced:
                        raise _Refuse(f"{f} in a reduction or a piece")
                    dense_vectors.check(self, node, lhs)
                    continue
                if f == "ELMCOUNT":
                    a = node.args[0] if len(node.args) == 1 else None
                    if not (isinstance(a, ir.Ref) and self.space.is_range(a.name.rstrip("!"))):
                        raise _Refuse("ELMCOUNT of no range")
                    continue
                if f == ir.DATA_EQUATION and node is e and top and not pieced:   # its points: data_equations.py
                    todo.append((node.args[0], inside))
                    continue
                if ir.canonical_name(f) in self.model.macros:
                    self.macro_call(node, lhs, inside or pieced)
                    todo.extend((a, inside) for a in node.args)
                    continue
                b = BUILTINS.get(f)
                if b is None or (f in _RANDOM and inside):
                    raise _Refuse(f"{f} in an array equation")
                if b.takes_lookup and node.args and dense_lookups.is_table(self, node.args[0]):
                    if not pieced:
                        dense_lookups.check(self, node.args[0], lhs)   # a lookup defined per element
                    todo.extend((a, inside) for a in node.args[1:])
                    continue
                if lhs and f in dense_buffers.BUFFERS:
                    dense_buffers.check(node, self.dims)
                if lhs and f in DECIDED and any(self.varies(node.args[i]) for i in DECIDED[f]
                                                if i < len(node.args)):
                    raise _Refuse(f"{f}'s order read from an array")
                if b.stage != KERNEL and not (f in DENSE_STATEFUL and not inside and lhs) \
                        and not (not lhs and not inside and not _reads_arrays(node, self.dims)):
                    raise _Refuse(f"{f} in an array equation")
                todo.extend((a, inside) for a in node.args)
            else:
                todo.extend((k, inside) for k in ir.children(node))

    def macro_call(self, node: ir.Call, lhs, inside: bool) -> None:
        """A macro called in an array equation is one copy of its variables over the
        equation's ranges (passes/macros.py): its body must be what an array equation may
        say, its inputs and locals read element for element, the model's variables it names
        scalars."""
        if not lhs:
            return
        if inside or node.outputs:
            raise _Refuse(f"macro {node.func} in a reduction, a piece or with extra outputs in an array equation")
        name = ir.canonical_name(node.func)
        if name not in self.macro_ok:
            self.macro_ok[name] = None        # a recursive macro: expansion reports it
            macro = self.model.macros[name]
            local = set(macro.params) | {v.name for v in macro.variables}
            try:
                for v in macro.variables:
                    if v.kind is ir.Kind.LOOKUP or any(d.operator == ":=" or d.subscripts for d in v.definitions):
                        raise _Refuse(f"macro {node.func} defines a lookup, data or an array")
                    for e in (v.expr, v.initial):
                        self.macro_body(e, local, lhs)
            except _Refuse as why:
                self.macro_ok[name] = str(why)
                raise
            self.macro_ok[name] = ""
        if self.macro_ok[name]:
            raise _Refuse(self.macro_ok[name])

    def macro_body(self, e: ir.Expr | None, local: set[str], lhs) -> None:
        for n in ir.walk(e) if e is not None else ():
            if type(n) is ir.Ref and n.name not in local:
                if n.subscripts or n.name.rstrip("$ ") in self.dims or self.space.is_range(n.name):
                    raise _Refuse("a macro that reads an array")
            elif type(n) is ir.LookupCall:
                raise _Refuse("a macro that reads a lookup")
        # its calls as in the array equation; its inputs and locals are arrays there
        saved, self.locals = self.locals, local
        try:
            self.expr(e, lhs, top=True)
        finally:
            self.locals = saved

    def varies(self, e: ir.Expr) -> bool:
        """Whether `e` may differ between an array's elements (reads an array or a range)."""
        return any((type(n) is ir.Ref and (any(s not in self.space.all_elements for s in n.subscripts)
                                           or (n.name in self.dims and not n.subscripts) or n.name in self.locals
                                           or self.space.is_range(n.name)))
                   or (type(n) is ir.Call and n.func in REDUCTIONS) for n in ir.walk(e))

    def ref(self, node: ir.Ref, lhs, inside: bool) -> None:
        if node.name in self.locals:
            return
        sp, target = self.space, self.dims.get(node.name)
        if node.name in self.why or (target is not None and node.name not in self.dense):
            # an array flattened per element: only its single elements can be read
            if not node.subscripts or any(s.endswith("!") or sp.is_range(s) or s not in sp.all_elements
                                          for s in node.subscripts):
                raise _Refuse("a range of an array flattened per element")
            return
        if node.name not in self.model.variables:
            if node.subscripts:
                raise _Refuse("a subscripted reference to no variable")
            if sp.is_range(node.name):
                if node.name not in lhs or sp.family(node.name) != sp.elements[node.name]:
                    raise _Refuse("a range used as a value")
            return
        if target is None:
            if node.subscripts:
                raise _Refuse("a scalar used with subscripts")
            return
        if len(node.subscripts) != len(target):
            raise _Refuse("a reference with the wrong number of subscripts")
        for s, dim in zip(node.subscripts, target):
            if s.endswith("!"):
                if not inside or sp.run_start(s[:-1], dim) is None:
                    raise _Refuse("an iterated range that is not a run of the variable's")
            elif sp.is_range(s):
                if s != dim or s not in lhs:
                    raise _Refuse("a range that binds through a mapping or subrange")
            elif s not in sp.elements.get(dim, ()):
                raise _Refuse("an element of another range")


def _reads_arrays(node: ir.Expr, dims) -> bool:
    return any((isinstance(n, ir.Ref) and n.name in dims) or (isinstance(n, ir.Call) and n.func in REDUCTIONS)
               for n in ir.walk(node))


def partition(model: ir.Model, flattened: dict[str, str] | None = None) -> tuple[set[str], dict[str, str]]:
    """The variables the dense route keeps (scalars and arrays), and why each other one is
    flattened per element: its own equation (piecewise, :EXCEPT:, a function the loops do
    not run), or a range of an array that is itself flattened (repeated until no variable
    changes side). A variable an array function of the flattening (VECTOR ..., ALLOCATE
    ...) reads is flattened: those functions read its table of elements, but for those the
    dense route computes (dense_vectors.py) in an equation it keeps. `flattened`: the
    arrays flattened whatever their equations (name -> why: `edited_arrays`). The model as
    the dense route takes it: its arrays of varying SMOOTH N and DELAY N orders split
    (dense_orders.py), with the ranges of partial definitions (`covering_ranges`)."""
    model = covering_ranges(split_varying_orders(model))
    checker = _Checker(model)
    for name, why in (flattened or {}).items():
        if name in checker.dims:
            checker.why.setdefault(name, why)
            checker.dense.discard(name)
    _flag_reads(model, checker, model.variables.values(), dense_vectors.VECTOR_FUNCTIONS)
    dense_buffers.flag_queues(model, checker)
    flagged: set[str] = set()
    while True:
        changed = True
        while changed:
            new = [model.variables[n] for n in list(checker.why) if n not in flagged]
            flagged |= set(checker.why)
            changed = _flag_reads(model, checker, new, set())
            for name in sorted(checker.dense):
                try:
                    checker.check(model.variables[name])
                except _Refuse as why:
                    checker.why[name] = str(why)
                    checker.dense.discard(name)
                    changed = True
        looped = _looped_pieces(model, checker)
        if not looped:
            return checker.dense, checker.why
        for name in looped:
            checker.why[name] = (f"'{model.variables[name].display}': its elements depend on each other "
                                 "in an order the whole array cannot follow")
            checker.dense.discard(name)


def _flag_reads(model: ir.Model, checker: _Checker, variables, kept) -> bool:
    """Flatten the arrays an array function of `variables` reads (but those of `kept`, which
    the dense route computes when their equation stays dense); whether any was."""
    changed = False
    for var in variables:
        # a definition's list of values (`x[S] = f(a), g(b)`) holds expressions too
        rows = [e for d in var.definitions for row in (d.rows or ()) for e in row]
        for e in [var.expr, var.initial] + [d.expr for d in var.definitions] + rows:
            for node in ir.walk(e) if e is not None else ():
                if type(node) is ir.Call and node.func in ARRAY and node.func not in ELEMENTWISE_READS \
                        and node.func not in kept:
                    for name in ir.references(node):
                        if name in checker.dims and name not in checker.why:
                            checker.why[name] = f"read by {node.func}"
                            checker.dense.discard(name)
                            changed = True
    return changed


def _looped_pieces(model: ir.Model, checker: _Checker) -> list[str]:
    """The arrays kept in pieces that are on a loop of the dense variables' dependencies: a
    piecewise array whose elements read each other (`x[a2] = x[a1] + 1`), or two arrays that
    read each other's other elements, form a loop between arrays that their elements do not.
    An apply-to-all array on such a loop is on a loop of its elements too (each element reads
    some element of every array its equation names), so only the pieces are flattened.
    A variable flattened per element is one node here (its elements are `order`'s), so a
    loop through it is seen whatever elements it joins. Two graphs, as `order` has: the
    step's (a stock's value is read, not computed) and the initialisation's (a stock's
    initial value too)."""
    if not checker.plans:
        return []
    vs = model.variables

    def integ(var):
        e = var.definitions[0].expr if var.definitions else var.expr
        return isinstance(e, ir.Call) and e.func == "INTEG" and len(e.args) == 2

    stocks = {n for n in vs if integ(vs[n])}
    step: dict[str, set[str]] = {n: set() for n in vs}
    init: dict[str, set[str]] = {n: set() for n in vs}
    for n, var in vs.items():
        exprs = [d.expr for d in var.definitions] or [var.expr, var.initial]
        reads = set().union(*(ir.references(e) for e in exprs)) & vs.keys()
        if n in stocks:
            inits = [e.args[1] for e in exprs if isinstance(e, ir.Call) and e.func == "INTEG"]
            init[n] |= set().union(*map(ir.references, inits)) & vs.keys()
            continue
        step[n] |= reads - stocks
        init[n] |= reads
    out = set()
    for g in (step, init):
        for part in strong_components(g):
            if len(part) > 1 or part[0] in g[part[0]]:
                out |= set(part) & set(checker.plans) & checker.dense
    return sorted(out)


def dense_arrays(model: ir.Model, edits=None) -> set[str]:
    """The variables the dense route keeps for a run with `edits` (none kept when the model
    has no array the route keeps); the arrays the edits name single elements of are
    flattened (`edited_arrays`), and what reads their ranges."""
    if not has_arrays(model):
        return set()
    dense, _ = partition(model, edited_arrays(model, edits))
    return dense if any(_subscripted(model.variables[n]) for n in dense) else set()


def flattened_arrays(model: ir.Model) -> dict[str, tuple[str, str]]:
    """The arrays of `model` the dense route flattens per element, name -> (display, why), as
    the route takes it (macros without state inlined, the hidden arrays of dense_lift.py and
    dense_memory.py); not the lookups defined per element (tables, data: dense_lookups.py)."""
    model = lift_lookups(covering_ranges(lift_vectors(split_varying_orders(dense_memory.lift_memory(inline_pure_macros(model))))))
    _, why = partition(model)
    return {n: (model.variables[n].display, w) for n, w in why.items() if _subscripted(model.variables[n])
            and not all(isinstance(d.lookup, ir.LookupTable) for d in model.variables[n].definitions)}


def ineligible(model: ir.Model) -> str | None:
    """Why some array of `model` is flattened per element (the first, by name), or None when
    every one stays dense (`flattened_arrays`)."""
    why = flattened_arrays(model)
    return f"'{why[min(why)][0]}': {why[min(why)][1]}" if why else None


class _Densify:
    def __init__(self, model: ir.Model, dense: set[str] | None = None):
        self.model = model
        self.dense = set(model.variables) if dense is None else dense
        self.space = SubscriptSpace(model.subscript_ranges, model.spellings)
        # the checks again, for the arrays kept in pieces' plans (dense_pieces.py)
        checker = _Checker(model)
        checker.dense = set(self.dense)
        arrays = [n for n in self.dense if _subscripted(model.variables[n])]
        for n in arrays:
            checker.check(model.variables[n])
        self.plans = checker.plans
        self.checker = checker
        self.dims = {n: checker.dims[n] for n in arrays}
        self.shared: dict[str, ir.Variable] = {}
        self.shared_of: dict[ir.Call, ir.Ref] = {}
        # the lookups defined per element (a function of one names it `tbl[r]`)
        self.tables = {n for n, v in model.variables.items() if dense_lookups.lookup_dims(checker.pieces, v) is not None}

    def rewrite(self, e: ir.Expr | None, owner: ir.Variable, lhs: tuple[str, ...]) -> ir.Expr | None:
        if e is None:
            return None
        sp = self.space

        def visit(node):
            if isinstance(node, ir.Ref) and node.subscripts and node.name in self.tables:
                return dense_lookups.rewrite(sp, node, lhs)    # a lookup function's table
            if isinstance(node, ir.Ref) and node.subscripts and node.name not in self.dims:
                # an element of an array flattened per element (partition let only these through)
                return ir.Ref(flat_name(node.name, node.subscripts), (), node.pos)
            if isinstance(node, ir.Ref) and not node.subscripts and node.name not in self.model.variables:
                if sp.is_range(node.name) and node.name in lhs:
                    return ir.Call("@INDEX", (ir.Num(float(lhs.index(node.name))),), node.pos)
                if node.name in sp.all_elements:
                    return ir.Num(float(sp.element_family(node.name).index(node.name) + 1))
                return node
            if isinstance(node, ir.Call) and node.func == "ELMCOUNT":
                a = node.args[0]   # the range's name, or (bottom-up) its @INDEX already
                r = lhs[int(a.args[0].value)] if isinstance(a, ir.Call) else a.name.rstrip("!")
                return ir.Num(float(len(sp.elements[r])))
            if isinstance(node, ir.Call) and node.func in REDUCTIONS and lhs and not self.reads_lhs(node, lhs):
                return self.hoist(node, owner)
            if isinstance(node, ir.LookupCall) and node.subscripts:
                return dense_lookups.rewrite(sp, node, lhs)
            if isinstance(node, ir.Call) and node.func in dense_vectors.VECTOR_FUNCTIONS:
                out = dense_vectors.rewrite(self, node, owner, lhs)
                return self.hoist(out, owner, node.func) if lhs and not self.reads_lhs(out, lhs) else out
            return node
        return ir.map_expr(e, visit)

    def reads_lhs(self, e: ir.Expr, lhs) -> bool:
        for n in ir.walk(e):
            if isinstance(n, ir.Ref) and any(s in lhs or (s[0] == "@" and any(parse_form(s)[1]))
                                             for s in n.subscripts):
                return True
            if isinstance(n, ir.Call) and (n.func == "@INDEX" or (
                    n.func == "@AFFINE" and any(a.value for a in n.args[1:]))):
                return True
        return False

    def hoist(self, call: ir.Call, owner: ir.Variable, func: str = "") -> ir.Ref:
        """A reduction (or VECTOR SELECT, `func`) that reads no element of the left-hand side:
        one hidden scalar auxiliary that every element reads (as the per-element route's
        shared reduction)."""
        ref = self.shared_of.get(call)
        if ref is None:
            func = func or call.func
            name = f"{owner.name} #{func.lower()}{len(self.shared) + 1}"
            while name in self.model.variables or name in self.shared:
                name += "'"
            shown = f"{owner.display} ({func} at {call.pos.line}:{call.pos.column})" if call.pos \
                else owner.display
            self.shared[name] = ir.Variable(name, shown, ir.Kind.AUXILIARY, expr=call, pos=call.pos, hidden=True)
            ref = self.shared_of[call] = ir.Ref(name, (), call.pos)
        return ref

    def variable(self, var: ir.Variable) -> ir.Variable:
        if var.name not in self.dims:
            return replace(var, expr=self.rewrite(var.expr, var, ()),
                           initial=self.rewrite(var.initial, var, ()))
        d, lhs = var.definitions[0], self.dims[var.name]
        base = replace(var, dims=lhs, definitions=(), pos=d.pos, unchangeable=d.operator == "==")
        plan = self.plans.get(var.name)
        if plan is not None:
            hoisted = lambda e: e if e is None else ir.map_expr(e, lambda n: self.hoist(n, base) if (
                type(n) is ir.Call and n.func in REDUCTIONS and not self.reads_lhs(n, lhs)) else n)
            if plan.numbers is not None:
                name = numbers_of(var.name)
                self.shared[name] = ir.Variable(name, var.display, ir.Kind.CONSTANT, expr=plan.numbers, pos=d.pos,
                                                hidden=True, dims=lhs, unchangeable=base.unchangeable)
            return replace(base, kind=plan.kind, expr=hoisted(plan.expr), initial=hoisted(plan.initial))
        if d.rows:
            values = tuple(ir.Num(_number(x)) for row in d.rows for x in row)
            return replace(base, kind=ir.Kind.CONSTANT, expr=ir.Call("@VALUES", values, d.pos))
        if _number(d.expr) is not None:
            n = math.prod(len(self.space.elements[s]) for s in lhs)
            return replace(base, kind=ir.Kind.CONSTANT,
                           expr=ir.Call("@VALUES", (ir.Num(_number(d.expr)),) * n, d.pos))
        expr = self.rewrite(d.expr, base, lhs)
        if isinstance(expr, ir.Call) and expr.func == "INTEG":
            return replace(base, kind=ir.Kind.STOCK, expr=expr.args[0], initial=expr.args[1])
        return replace(base, kind=ir.Kind.AUXILIARY, expr=expr)


def densifier(model: ir.Model, dense: set[str]) -> _Densify:
    """What rewrites the variables of `dense` (`partition`'s) into the dense IR, for
    subscripts.flatten, which flattens the others: `.variable(var)`, then `.shared`, the
    hidden auxiliaries of the SUMs every element of an equation shares."""
    return _Densify(model, dense)


def element_names(model: ir.Model, name: str) -> list[str]:
    """The flat names of a variable's elements (`name[e1,e2]`), or [name] for a scalar."""
    return Elements(model.variables, model.subscript_ranges).names(name)


def edited_arrays(model: ir.Model, edits) -> dict[str, str]:
    """The arrays a run's `edits` (passes/edits.py) flatten, each with why: those with an
    element whose equation the run replaces (the edits name single elements, `name[e1,e2]`;
    an element set to a constant is no longer among them: `edits.constants_as_numbers`),
    and those of stocks given new initial values for some elements but not all (a continued
    run gives every one). Every other array stays as the model has it."""
    if not edits:
        return {}
    out: dict[str, str] = {}
    for flat in sorted(edits.constants | edits.series):
        name = flat.partition("[")[0]
        if "[" in flat and name in model.variables:
            out.setdefault(name, f"'{model.variables[name].display}': a run replaces the equation of "
                                 f"'{flat}'")
    pieces = Pieces(model, SubscriptSpace(model.subscript_ranges, model.spellings))
    for name, var in model.variables.items():
        if name not in out and _subscripted(var) and var.definitions and var.definitions[0].subscripts:
            try:
                combos = [c for d in var.definitions for c in pieces.combos(var, d)[1]]
            except ModelError:
                continue
            if len({flat_name(name, c) in edits.stocks for c in combos}) > 1:
                out[name] = f"'{var.display}': a run gives some of its elements' initial values"
    return out
