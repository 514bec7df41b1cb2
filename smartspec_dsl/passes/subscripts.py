"""Pass 1b: subscripts, by flattening.

Every subscripted variable becomes one scalar variable per element
combination, named `name[e1,e2]` (canonical elements) and displayed
`Display Name[E1,E2]` (elements as the modeller wrote them), each with its own
instantiated equation. References are resolved to those scalars, array
functions (SUM, PROD, VMIN, VMAX, ELMCOUNT) are expanded over their elements;
one whose value is the same for every element of the equation (`SUM(x[r!])` in an
equation over r) is computed once, in a hidden auxiliary the elements share.
Everything downstream then works on scalars only.

Functions whose result for one element depends on a whole vector (VECTOR RANK,
VECTOR SORT ORDER, ALLOCATE ..., INVERT MATRIX) become one hidden "driver"
variable per vector: `@FUNC(scalars..., vector...)`, computed once per
evaluation into a scratch block of the kernel's state, and one `@ELEMENT(driver,
k)` read per element (see codegen). A driver `@PACK(vector...)` only stores a
vector, for per-element reads at a computed index (`@AT`, `@VSELECT`).

Vensim semantics followed here:
- a subscript in a reference is either an element (fixed) or a range name,
  which takes the element the left-hand side currently has for that range:
  the same range, an alias of it, a range mapped to or from it (`->`), or the
  range containing the left-hand side's element (subranges, single elements);
- a range name used as a value is the element's 1-based position in its
  family (the largest range containing the subscript's range);
- `range!` (or, inside an array function, a range the left-hand side does not
  bind) is iterated over by the enclosing array function.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace

from .. import ir, limits
from ..errors import ModelError, ParameterError
from ..ir.normalize import classify_flows
from ..ir.ranges import SubscriptSpace
from .array_functions import ARRAY_FUNCTIONS, ArrayFunctions, _row
from .binding import Binding
from .dense import densifier
from .flat_exprs import flat_name, in_order

ARRAY_REDUCERS = {"SUM": "+", "PROD": "*", "VMIN": "MIN", "VMAX": "MAX"}
# array functions whose value an equation's elements share when it does not depend on them
SHAREABLE = {*ARRAY_REDUCERS, "VECTOR SELECT"}


# ---- the pass ----------------------------------------------------------------------

@dataclass
class _Instance:
    var: ir.Variable
    defn: ir.Definition
    elements: tuple[str, ...]
    ctx: tuple[tuple[str | None, str], ...]   # per LHS position: (range or None, element)
    row_value: ir.Expr | None                   # from a number list


def _is_subscripted(var: ir.Variable) -> bool:
    return bool(var.dims) or any(d.subscripts for d in var.definitions)


class _Flattener(ArrayFunctions, Binding):
    def __init__(self, model: ir.Model, dense: set[str] | frozenset = frozenset()):
        self.model = model
        self.space = SubscriptSpace(model.subscript_ranges, model.spellings)
        # the variables the dense route keeps (passes/dense.py): rewritten by it, not expanded;
        # a flattened equation reads one of their elements as `name[e1,e2]` with subscripts
        self.dense = dense
        self.densify = densifier(model, set(dense)) if dense else None
        self.dense_dims = self.densify.dims if dense else {}
        self.subscripted: dict[str, set[tuple[str, ...]]] = {}
        self.instances: list[_Instance] = []
        self.drivers: dict[str, ir.Variable] = {}
        self.counted: dict[tuple, int] = {}     # (variable, kind, row) -> its hidden drivers (shared reductions) so far
        self.call: list | None = None           # the array function being instantiated (ArrayFunctions.for_call)
        self.driver_of: dict[tuple, str] = {}   # (variable, function, arguments) -> driver, shared by its elements
        self.shared: dict[str, ir.Variable] = {}
        self.shared_of: dict[tuple, ir.Ref] = {}  # (variable, call, iterated elements) -> its shared variable

    def expand_definitions(self, var: ir.Variable) -> None:
        seen: dict[tuple[str, ...], ir.Definition] = {}
        for d in var.definitions:
            if not d.subscripts:
                raise ModelError(f"{d.pos}: '{var.display}' is defined both with and without subscripts")
            options, combos = self.combos(var, d)
            values: list[ir.Expr | None] = [None] * len(combos)
            if d.rows:
                flat = [x for row in d.rows for x in row]
                if len(flat) != len(combos):
                    raise ModelError(f"{d.pos}: '{var.display}' is given {len(flat)} values but "
                                     f"{self.space.subscripts_shown(d.subscripts)} has {len(combos)} elements")
                values = flat
            for combo, value in zip(combos, values):
                if combo in seen:
                    raise ModelError(f"{d.pos}: '{flat_name(var.display, map(self.space.shown, combo))}' "
                                     "is defined twice "
                                     f"(first at {seen[combo].pos})")
                seen[combo] = d
                ctx = tuple((r, e) for (r, _), e in zip(options, combo))
                self.instances.append(_Instance(var, d, combo, ctx, value))
        if not seen:
            raise ModelError(f"{var.pos}: '{var.display}' has no elements: its :EXCEPT: clauses "
                             "exclude every one")
        self.subscripted[var.name] = set(seen)

    # -- references ----------------------------------------------------------------
    def free_ranges(self, e: ir.Expr, ctx, it) -> list[str]:
        """Ranges an array function iterates over: `r!`, or ranges nothing binds."""
        out: list[str] = []
        for node in ir.walk(e):
            subs = node.subscripts if isinstance(node, (ir.Ref, ir.LookupCall)) else ()
            for s in subs:
                if s.endswith("!"):
                    r = s[:-1]
                    if not self.space.is_range(r):
                        raise ModelError(f"{node.pos}: unknown subscript range '{self.space.shown(r)}' in "
                                         f"'{self.space.shown(r)}!'")
                    if s not in it and s not in out:
                        out.append(s)
                elif self.space.is_range(s) and s not in it and s not in out \
                        and self.bind(s, ctx, it, None) is None:
                    out.append(s)
        return out

    def ref_name(self, name: str, subs, ctx, it, pos, display: str) -> str:
        var = self.model.variables.get(name)
        if var is None or name not in self.subscripted:
            if subs:
                if var is None:
                    return name  # undefined; reported by the ordering pass
                raise ModelError(f"{pos}: '{var.display}' has no subscripts but is used as "
                                 f"'{var.display}[{','.join(subs)}]'")
            return name
        if name in self.dense_dims:
            dims = self.dense_dims[name]
            if len(subs) != len(dims):
                raise ModelError(f"{pos}: '{var.display}' has {len(dims)} subscript{'s' if len(dims) > 1 else ''}, "
                                 f"used with {len(subs)}")
            elements = tuple(self.resolve(s, ctx, it, i, pos) for i, s in enumerate(subs))
            for i, (e, d) in enumerate(zip(elements, dims)):
                if e not in self.space.elements[d]:
                    raise ModelError(f"{pos}: '{flat_name(var.display, map(self.space.shown, elements))}' is not "
                                     f"defined: element '{self.space.shown(e)}' is not among those "
                                     f"'{var.display}' is defined for in subscript {i + 1} (used in the "
                                     f"equation of '{display}')")
            return flat_name(name, elements)
        defined = self.subscripted[name]
        width = len(next(iter(defined)))
        if not subs:
            raise ModelError(f"{pos}: '{var.display}' is subscripted; a reference to it needs "
                             f"{width} subscript{'s' if width > 1 else ''}")
        if len(subs) != width:
            raise ModelError(f"{pos}: '{var.display}' has {width} subscript{'s' if width > 1 else ''}, "
                             f"used with {len(subs)}")
        elements = tuple(self.resolve(s, ctx, it, i, pos) for i, s in enumerate(subs))
        if elements not in defined:
            shown = flat_name(var.display, map(self.space.shown, elements))
            for i, e in enumerate(elements):
                if not any(c[i] == e for c in defined):
                    raise ModelError(f"{pos}: '{shown}' is not defined: "
                                     f"element '{self.space.shown(e)}' is not among those '{var.display}' is "
                                     f"defined for in subscript {i + 1} (used in the equation of '{display}')")
            raise ModelError(f"{pos}: '{shown}' is not defined "
                             f"(used in the equation of '{display}')")
        return flat_name(name, elements)

    def instantiate(self, e: ir.Expr | None, ctx, it: dict[str, str], display: str) -> ir.Expr | None:
        if e is None:
            return None
        inst = lambda x, it2=it: self.instantiate(x, ctx, it2, display)
        if isinstance(e, ir.Ref):
            if not e.subscripts and e.name not in self.model.variables and self.space.is_range(e.name):
                el = self.bind(e.name, ctx, it, None)
                if el is None:
                    raise ModelError(f"{e.pos}: subscript range '{self.space.range_shown(e.name)}' used as a value is not "
                                     "bound by the left-hand side of this equation")
                return ir.Num(float(self.space.family(e.name).index(el) + 1))
            if not e.subscripts and e.name not in self.model.variables \
                    and e.name in self.space.all_elements:
                # an element used as a value: its position in its range
                return ir.Num(float(self.space.element_family(e.name).index(e.name) + 1))
            name = self.ref_name(e.name, e.subscripts, ctx, it, e.pos, display)
            if e.name in self.dense_dims:   # an element of an array the dense route keeps
                return ir.Ref(e.name, tuple(name[len(e.name) + 1:-1].split(",")), e.pos)
            return ir.Ref(name, (), e.pos)
        if isinstance(e, ir.LookupCall):
            name = self.ref_name(e.table, e.subscripts, ctx, it, e.pos, display)
            return ir.LookupCall(name, inst(e.arg), e.pos)
        if isinstance(e, ir.Call):
            if e.func in SHAREABLE and ctx:
                used = self.lhs_positions(e, ctx, it)
                # shared by the elements that differ only in a subscript it does not read
                if used is not None and any(r is not None and i not in used for i, (r, _) in enumerate(ctx)):
                    return self.shared_call(e, ctx, it, display, used)
            if e.func in ARRAY_REDUCERS:
                return self.reduce(e, ctx, it, display)
            if e.func == "ELMCOUNT":
                if len(e.args) != 1 or not isinstance(e.args[0], ir.Ref) \
                        or not self.space.is_range(e.args[0].name.rstrip("!")):
                    raise ModelError(f"{e.pos}: ELMCOUNT takes one subscript range name")
                return ir.Num(float(len(self.space.elements[e.args[0].name.rstrip("!")])))
            if e.func == "VECTOR SELECT":
                return self.for_call(e, ctx, it, lambda: self.vector_select(e, ctx, it, display))
            if e.func in ARRAY_FUNCTIONS:
                return self.for_call(e, ctx, it, lambda: getattr(self, ARRAY_FUNCTIONS[e.func])(e, ctx, it, display))
            return replace(e, args=tuple(inst(a) for a in e.args))
        if isinstance(e, ir.BinOp):
            return replace(e, left=inst(e.left), right=inst(e.right))
        if isinstance(e, ir.UnaryOp):
            return replace(e, operand=inst(e.operand))
        return e

    def lhs_positions(self, e: ir.Expr, ctx, it, whole: bool = True) -> set[int] | None:
        """The positions of the left-hand side's subscripts that `e`'s instance depends on: those
        binding a range subscript of a reference, or a range used as a value; None (all of them)
        when `e` holds a whole-array function (they run over the left-hand side's last
        subscripts) and `whole`, else the positions its references bind too."""
        sp, used = self.space, set()
        for node in ir.walk(e):
            if whole and isinstance(node, ir.Call) and node.func in ARRAY_FUNCTIONS:
                return None
            if isinstance(node, ir.Ref) and not node.subscripts and node.name not in self.model.variables \
                    and sp.is_range(node.name):
                b = self.binding(node.name, ctx, it, None)
                if b is not None and b[0] is not None:
                    used.add(b[0])
            subs = node.subscripts if isinstance(node, (ir.Ref, ir.LookupCall)) else ()
            for k, s in enumerate(subs):
                if not s.endswith("!") and sp.is_range(s):
                    b = self.binding(s, ctx, it, k)
                    if b is not None and b[0] is not None:
                        used.add(b[0])
        return used

    def shared_call(self, e: ir.Call, ctx, it, display, used: set[int]) -> ir.Ref:
        """An array reduction (SUM, PROD, VMIN, VMAX, VECTOR SELECT) in an element's equation
        that does not read every subscript of the left-hand side (`SUM(x[r!])` in an equation
        over r, `SUM(m[r, c!])` in one over [r, s]): one hidden auxiliary per value of the
        subscripts it reads (`used`, positions in `ctx`) computes it once, and every element
        with those reads it, instead of a copy per element (n^2 terms over n elements)."""
        # one variable's only, named by it and its own count (as array_functions' drivers):
        # two variables' equal reductions of draws draw apart, and replacing one variable's
        # equation moves no other's draws
        owner = display.split("[", 1)[0]
        key = (owner, e, tuple(sorted(it.items())), tuple(ctx[i] for i in sorted(used)))
        ref = self.shared_of.get(key)
        if ref is None:
            value = self.for_call(e, ctx, it, lambda: self.vector_select(e, ctx, it, display)) \
                if e.func == "VECTOR SELECT" else self.reduce(e, ctx, it, display)
            # counted per elements it is shared by (those of the subscripts it reads), never
            # over the variable: replacing a whole row's equations moves no other row's draws
            row = _row(ctx[i][1] for i in sorted(used))
            count = self.counted[owner.lower(), "shared", row] = self.counted.get((owner.lower(), "shared", row), 0) + 1
            name = f"{owner} #{e.func.lower().replace(' ', '')}{count}{row}".lower()
            while name in self.model.variables or name in self.shared or name in self.drivers:
                name += "'"
            shown = f"{owner} ({e.func} at {e.pos.line}:{e.pos.column})" if e.pos is not None else owner
            self.shared[name] = ir.Variable(name, shown, ir.Kind.AUXILIARY, expr=value, pos=e.pos, hidden=True)
            ref = self.shared_of[key] = ir.Ref(name, (), e.pos)
        return ref

    def reduce(self, e: ir.Call, ctx, it, display) -> ir.Expr:
        if len(e.args) != 1:
            raise ModelError(f"{e.pos}: {e.func} takes 1 argument, got {len(e.args)}")
        arg = e.args[0]
        free = self.free_ranges(arg, ctx, it)
        if not free:
            raise ModelError(f"{e.pos}: {e.func} needs a subscript range to run over "
                             "(e.g. 'x[range!]')")
        terms = []
        for combo in itertools.product(*(self.space.elements[r.rstrip("!")] for r in free)):
            terms.append(self.instantiate(arg, ctx, {**it, **dict(zip(free, combo))}, display))
        if not terms:
            raise ModelError(f"{e.pos}: {e.func} runs over an empty range")
        return in_order(ARRAY_REDUCERS[e.func], terms, e.pos)

    # -- variables -------------------------------------------------------------------
    def element_variable(self, inst: _Instance) -> ir.Variable:
        var, d = inst.var, inst.defn
        name = flat_name(var.name, inst.elements)
        display = flat_name(var.display, (self.space.display.get(e, e) for e in inst.elements))
        if var.hidden and var.display.endswith(")") and " (" in var.display:
            # a hidden variable's note after its owner's element: `v[South] (its data)`
            owner, note = var.display.rsplit(" (", 1)
            display = flat_name(owner, (self.space.display.get(e, e) for e in inst.elements)) + " (" + note
        base = ir.Variable(name=name, display=display, kind=ir.Kind.AUXILIARY, units=var.units,
                           comment=var.comment, pos=d.pos, unchangeable=d.operator == "==",
                           hidden=var.hidden, series=var.series)
        if d.lookup is not None:
            if isinstance(d.lookup, ir.LookupTable):
                return replace(base, kind=ir.Kind.LOOKUP, lookup=d.lookup)
            return replace(base, kind=ir.Kind.DATA, expr=d.lookup)
        expr = inst.row_value if inst.row_value is not None else d.expr
        if d.operator == ":=" or (expr is None and not d.rows):
            return replace(base, kind=ir.Kind.DATA, expr=expr)
        expr = self.instantiate(expr, inst.ctx, {}, display)
        if isinstance(expr, ir.Call) and expr.func == "INTEG":
            if len(expr.args) != 2:
                raise ModelError(f"{d.pos}: INTEG takes 2 arguments (rate, initial value), "
                                 f"got {len(expr.args)}")
            return replace(base, kind=ir.Kind.STOCK, expr=expr.args[0], initial=expr.args[1])
        if isinstance(expr, ir.Num) or (isinstance(expr, ir.UnaryOp) and expr.op == "-"
                                        and isinstance(expr.operand, ir.Num)):
            return replace(base, kind=ir.Kind.CONSTANT, expr=expr)
        return replace(base, expr=expr)

    def check_expansion(self) -> None:
        """Refuse, before expanding anything, a model whose subscripts expand to more scalar
        equations than smartspec compiles (`limits`), naming the largest variable."""
        total, largest = 0, (0, None, "")
        for var in self.model.variables.values():
            if not _is_subscripted(var):
                continue
            for d in var.definitions:
                if d.subscripts:
                    n = math.prod(len(els) for _, els in self.lhs_options(d.subscripts, d.pos))
                    total += n
                    largest = max(largest, (n, d.pos, var.display), key=lambda x: x[0])
        n, pos, display = largest
        how = (f"its largest variable, '{display}', has {n:,} elements: use smaller subscript ranges "
               "or fewer subscripted variables")
        if total > limits.MAX_SCALAR_EQUATIONS:
            raise ParameterError(f"{pos}: the model's subscripts expand to {total:,} scalar equations; "
                                 f"smartspec compiles at most {limits.MAX_SCALAR_EQUATIONS:,}; {how}")
        limits.check_memory(f"compiling {total:,} scalar equations", total * limits.BYTES_PER_EQUATION,
                            how, str(pos))

    def run(self) -> ir.Model:
        model = self.model
        self.check_expansion()
        for var in model.variables.values():
            if _is_subscripted(var) and var.name not in self.dense:
                self.expand_definitions(var)
            elif _is_subscripted(var):
                self.subscripted[var.name] = set()
        out: dict[str, ir.Variable] = {}
        by_var: dict[str, list[_Instance]] = {}
        for inst in self.instances:
            by_var.setdefault(inst.var.name, []).append(inst)
        position: dict[str, int] = {}

        def element_order(inst):
            for e in inst.elements:
                if e not in position:
                    position[e] = self.space.element_family(e).index(e)
            return tuple(position[e] for e in inst.elements)

        for name, var in model.variables.items():
            if name in self.dense:
                out[name] = self.densify.variable(var)
            elif name in self.subscripted:
                # in element order, as Vensim lists them, whatever the order of the definitions
                for inst in sorted(by_var[name], key=element_order):
                    v = self.element_variable(inst)
                    out[v.name] = v
            else:
                out[name] = replace(var, expr=self.instantiate(var.expr, (), {}, var.display),
                                    initial=self.instantiate(var.initial, (), {}, var.display))
        out.update(self.drivers)
        out.update(self.shared)
        if self.densify is not None:
            out.update(self.densify.shared)
        self.check_profiles(out)
        return replace(model, variables=classify_flows(out))


def flatten(model: ir.Model, dense: set[str] | frozenset = frozenset()) -> ir.Model:
    """A model with no subscripts but the arrays of `dense` (passes/dense.py's `partition`,
    which the dense route keeps as arrays): one scalar variable per element combination."""
    if not model.subscript_ranges and not any(_is_subscripted(v) for v in model.variables.values()):
        return model
    return _Flattener(model, dense).run()
