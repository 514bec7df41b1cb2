"""Pass 1b: subscripts, by flattening.

Every subscripted variable becomes one scalar variable per element
combination, named `name[e1,e2]` (canonical elements) and displayed
`Display Name[E1,E2]` (elements as the modeller wrote them), each with its own
instantiated equation. References are resolved to those scalars, array
functions (SUM, PROD, VMIN, VMAX, ELMCOUNT) are expanded over their elements.
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
from .consteval import evaluate
from ..errors import ModelError, ParameterError, UnsupportedFeature
from ..ir.normalize import classify_flows
from ..ir.ranges import SubscriptSpace

ARRAY_REDUCERS = {"SUM": "+", "PROD": "*", "VMIN": "MIN", "VMAX": "MAX"}
# whole-array functions -> the _Flattener method that expands them
ARRAY_FUNCTIONS = {"VECTOR RANK": "vector_order", "VECTOR SORT ORDER": "vector_order",
                   "VECTOR REORDER": "vector_reorder", "VECTOR ELM MAP": "vector_elm_map",
                   "ALLOCATE BY PRIORITY": "allocate_by_priority",
                   "ALLOCATE AVAILABLE": "allocate_available", "INVERT MATRIX": "invert_matrix",
                   "VECTOR LOOKUP": "vector_lookup"}
PROFILE_TYPES = {0: "fixed quantity", 1: "rectangular", 2: "triangular", 3: "normal", 4: "exponential"}


def combine(op: str, items: list, pos) -> ir.Expr:
    """items combined with + * MIN or MAX as a balanced tree: its depth grows with
    log2 of the range's size, so a SUM over thousands of elements stays within the
    recursion limits of every later pass (a left-deep chain would not)."""
    make = (lambda a, b: ir.BinOp(op, a, b)) if op in "+*" else (lambda a, b: ir.Call(op, (a, b), pos))
    while len(items) > 1:
        items = [make(items[i], items[i + 1]) if i + 1 < len(items) else items[i]
                 for i in range(0, len(items), 2)]
    return items[0]


def flat_name(name: str, elements) -> str:
    return f"{name}[{','.join(elements)}]"


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


class _Flattener:
    def __init__(self, model: ir.Model):
        self.model = model
        self.space = SubscriptSpace(model.subscript_ranges)
        self.subscripted: dict[str, set[tuple[str, ...]]] = {}
        self.instances: list[_Instance] = []
        self.drivers: dict[str, ir.Variable] = {}
        self.driver_of: dict[tuple, str] = {}   # (function, arguments) -> driver, shared by elements

    # -- left-hand sides ------------------------------------------------------
    def lhs_options(self, subs, pos, what="subscript") -> list[tuple[str | None, tuple[str, ...]]]:
        out = []
        for s in subs:
            s = s.rstrip("!")
            if self.space.is_range(s):
                if not self.space.elements[s]:
                    r = self.space.raw.get(s)
                    raise UnsupportedFeature(f"{pos}: subscript range '{s}' (defined at "
                                             f"{r.pos if r else '?'}) has no elements listed; ranges "
                                             "defined by a function call are not supported yet")
                out.append((s, self.space.elements[s]))
            elif s in self.space.all_elements:
                out.append((None, (s,)))
            else:
                raise ModelError(f"{pos}: unknown {what} '{s}': not a subscript range or element")
        return out

    def expand_definitions(self, var: ir.Variable) -> None:
        seen: dict[tuple[str, ...], ir.Definition] = {}
        for d in var.definitions:
            if not d.subscripts:
                raise ModelError(f"{d.pos}: '{var.display}' is defined both with and without subscripts")
            options = self.lhs_options(d.subscripts, d.pos)
            excluded: set[tuple[str, ...]] = set()
            for ex in d.excepts:
                if len(ex) != len(d.subscripts):
                    raise ModelError(f"{d.pos}: :EXCEPT: [{','.join(ex)}] has {len(ex)} subscripts, "
                                     f"the equation has {len(d.subscripts)}")
                ex_opts = self.lhs_options(ex, d.pos, "subscript in :EXCEPT:")
                excluded.update(itertools.product(*(els for _, els in ex_opts)))
            combos = [c for c in itertools.product(*(els for _, els in options)) if c not in excluded]
            values: list[ir.Expr | None] = [None] * len(combos)
            if d.rows:
                flat = [x for row in d.rows for x in row]
                if len(flat) != len(combos):
                    raise ModelError(f"{d.pos}: '{var.display}' is given {len(flat)} values but "
                                     f"[{','.join(d.subscripts)}] has {len(combos)} elements")
                values = flat
            for combo, value in zip(combos, values):
                if combo in seen:
                    raise ModelError(f"{d.pos}: '{flat_name(var.display, combo)}' is defined twice "
                                     f"(first at {seen[combo].pos})")
                seen[combo] = d
                ctx = tuple((r, e) for (r, _), e in zip(options, combo))
                self.instances.append(_Instance(var, d, combo, ctx, value))
        if not seen:
            raise ModelError(f"{var.pos}: '{var.display}' has no elements: its :EXCEPT: clauses "
                             "exclude every one")
        self.subscripted[var.name] = set(seen)

    # -- references ----------------------------------------------------------------
    def bind(self, s: str, ctx, it: dict[str, str], position: int | None) -> str | None:
        """The element a range name stands for here, or None if nothing binds it."""
        sp = self.space
        if s in it:
            return it[s]
        root = sp.root.get(s, s)
        # the same range on the left-hand side, else an alias of it (in m[i, j] with j <-> i,
        # j is j's element, not i's)
        hits = [i for i, (r, _) in enumerate(ctx) if r == s] or \
            [i for i, (r, _) in enumerate(ctx) if r is not None and sp.root.get(r, r) == root]
        if hits:
            i = position if position in hits else hits[0]
            return ctx[i][1]
        # a mapping between a left-hand side range (or element) and this one
        for r, e in ctx:
            m = sp.mapped(r, e, s)
            if m is not None:
                return m
        # the left-hand side's element belongs to this range
        els = set(sp.elements[s])
        hits = [i for i, (_, e) in enumerate(ctx) if e in els]
        if hits:
            i = position if position in hits else hits[0]
            return ctx[i][1]
        return None

    def resolve(self, s: str, ctx, it, position, pos) -> str:
        sp = self.space
        if s.endswith("!"):
            r = s[:-1]
            if s in it:
                return it[s]
            if not sp.is_range(r):
                raise ModelError(f"{pos}: unknown subscript range '{r}' in '{s}'")
            raise ModelError(f"{pos}: '{s}' is only allowed inside an array function (SUM, PROD, VMIN, VMAX, ...)")
        if sp.is_range(s):
            e = self.bind(s, ctx, it, position)
            if e is None:
                raise ModelError(f"{pos}: subscript range '{s}' is not bound by the left-hand side "
                                 "of this equation (use an element, or '!' inside an array function)")
            return e
        if s in sp.all_elements:
            return s
        raise ModelError(f"{pos}: unknown subscript '{s}': not a subscript range or element")

    def free_ranges(self, e: ir.Expr, ctx, it) -> list[str]:
        """Ranges an array function iterates over: `r!`, or ranges nothing binds."""
        out: list[str] = []
        for node in ir.walk(e):
            subs = node.subscripts if isinstance(node, (ir.Ref, ir.LookupCall)) else ()
            for s in subs:
                if s.endswith("!"):
                    r = s[:-1]
                    if not self.space.is_range(r):
                        raise ModelError(f"{node.pos}: unknown subscript range '{r}' in '{s}'")
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
            for i, e in enumerate(elements):
                if not any(c[i] == e for c in defined):
                    raise ModelError(f"{pos}: '{flat_name(var.display, elements)}' is not defined: "
                                     f"element '{e}' is not among those '{var.display}' is defined "
                                     f"for in subscript {i + 1} (used in the equation of '{display}')")
            raise ModelError(f"{pos}: '{flat_name(var.display, elements)}' is not defined "
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
                    raise ModelError(f"{e.pos}: subscript range '{e.name}' used as a value is not "
                                     "bound by the left-hand side of this equation")
                return ir.Num(float(self.space.family(e.name).index(el) + 1))
            if not e.subscripts and e.name not in self.model.variables \
                    and e.name in self.space.all_elements:
                # an element used as a value: its position in its range
                return ir.Num(float(self.space.element_family(e.name).index(e.name) + 1))
            name = self.ref_name(e.name, e.subscripts, ctx, it, e.pos, display)
            return ir.Ref(name, (), e.pos)
        if isinstance(e, ir.LookupCall):
            name = self.ref_name(e.table, e.subscripts, ctx, it, e.pos, display)
            return ir.LookupCall(name, inst(e.arg), e.pos)
        if isinstance(e, ir.Call):
            if e.func in ARRAY_REDUCERS:
                return self.reduce(e, ctx, it, display)
            if e.func == "ELMCOUNT":
                if len(e.args) != 1 or not isinstance(e.args[0], ir.Ref) \
                        or not self.space.is_range(e.args[0].name.rstrip("!")):
                    raise ModelError(f"{e.pos}: ELMCOUNT takes one subscript range name")
                return ir.Num(float(len(self.space.elements[e.args[0].name.rstrip("!")])))
            if e.func == "VECTOR SELECT":
                return self.vector_select(e, ctx, it, display)
            if e.func in ARRAY_FUNCTIONS:
                return getattr(self, ARRAY_FUNCTIONS[e.func])(e, ctx, it, display)
            return replace(e, args=tuple(inst(a) for a in e.args))
        if isinstance(e, ir.BinOp):
            return replace(e, left=inst(e.left), right=inst(e.right))
        if isinstance(e, ir.UnaryOp):
            return replace(e, operand=inst(e.operand))
        return e

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
        return combine(ARRAY_REDUCERS[e.func], terms, e.pos)

    def vector_select(self, e: ir.Call, ctx, it, display) -> ir.Expr:
        """VECTOR SELECT(selection[r!], expression[r!], missing, action, error action),
        expanded over the ranges both arrays run over."""
        if len(e.args) != 5:
            raise ModelError(f"{e.pos}: VECTOR SELECT takes 5 arguments, got {len(e.args)}")
        sel, arr, missing, action, error = e.args
        # both arrays run over all their free ranges together (Vensim's behaviour:
        # over different ranges, every selection element meets every expression element)
        free = self.free_ranges(sel, ctx, it)
        free += [r for r in self.free_ranges(arr, ctx, it) if r not in free]
        if not free:
            raise ModelError(f"{e.pos}: VECTOR SELECT needs a subscript range to run over "
                             "(e.g. 'x[range!]')")
        error = _fold(self.instantiate(error, ctx, it, display))
        if isinstance(error, ir.Num) and error.value not in (0, 1, 2, 3):
            raise ModelError(f"{e.pos}: VECTOR SELECT's error action must be 0 to 3, got {error.value:g}")
        pairs = []
        for combo in itertools.product(*(self.space.elements[r.rstrip("!")] for r in free)):
            it2 = {**it, **dict(zip(free, combo))}
            pairs.append((self.instantiate(sel, ctx, it2, display),
                          self.instantiate(arr, ctx, it2, display)))
        missing = self.instantiate(missing, ctx, it, display)
        action = self.instantiate(action, ctx, it, display)
        ite = lambda c, a, b: ir.Call("IF THEN ELSE", (c, a, b), e.pos)
        picked = [ir.BinOp("<>", s, ir.Num(0.0)) for s, _ in pairs]

        count = combine("+", [ite(p, ir.Num(1.0), ir.Num(0.0)) for p in picked], e.pos)

        def result(k: int) -> ir.Expr:
            if k <= 4:
                vals = [ir.BinOp("*", s, x) for s, x in pairs]
            elif k == 5:
                vals = [ir.BinOp("^", x, s) for s, x in pairs]
            else:
                vals = [x for _, x in pairs]
            # 0 sum, 1 product, 2 min, 3 max, 4 mean
            kind = k if k <= 4 else 1 if k == 5 else k - 6
            if kind == 0 or kind == 4:
                total = combine("+", [ite(p, v, ir.Num(0.0)) for p, v in zip(picked, vals)], e.pos)
                value = total if kind == 0 else ir.BinOp("/", total, count)
            elif kind == 1:
                value = combine("*", [ite(p, v, ir.Num(1.0)) for p, v in zip(picked, vals)], e.pos)
            elif kind == 2:
                value = combine("MIN", [ite(p, v, ir.Num(math.inf)) for p, v in zip(picked, vals)], e.pos)
            else:
                value = combine("MAX", [ite(p, v, ir.Num(-math.inf)) for p, v in zip(picked, vals)], e.pos)
            return ite(ir.BinOp("=", count, ir.Num(0.0)), missing, value)

        if isinstance(action, ir.Num):
            k = action.value
            if k != int(k) or not 0 <= k <= 10:
                raise ModelError(f"{e.pos}: VECTOR SELECT's numerical action must be 0 to 10, got {k:g}")
            value = result(int(k))
        else:
            # an action known only at run time: the kernel picks it (kernel_lib.vector_select)
            packed = self.driver("@PACK", tuple(s for s, _ in pairs) + tuple(x for _, x in pairs),
                                 e.pos, display)
            value = ir.Call("@VSELECT", (packed, ir.Num(float(len(pairs))), missing, action), e.pos)
        # error action (Vensim help, "VECTOR SELECT"): a floating point error when nothing is
        # selected (1), more than one element is (2), or either (3): the value is NaN there,
        # which the run reports, instead of a number
        if isinstance(error, ir.Num) and error.value == 0:
            return value
        eq = lambda a, b: ir.BinOp("=", a, ir.Num(float(b)))
        none = ir.BinOp("and", ir.BinOp("or", eq(error, 1), eq(error, 3)), eq(count, 0))
        many = ir.BinOp("and", ir.BinOp("or", eq(error, 2), eq(error, 3)), ir.BinOp(">", count, ir.Num(1.0)))
        return ite(ir.BinOp("or", none, many), ir.Num(math.nan), value)

    # -- whole-array functions ---------------------------------------------------------
    def driver(self, func: str, args: tuple, pos, display: str) -> ir.Ref:
        """The hidden variable computing `func(args)`, shared by every element that reads it."""
        key = (func, args)
        name = self.driver_of.get(key)
        if name is None:
            name = f"{display} #{func.lstrip('@').lower()}{len(self.drivers) + 1}".lower()
            while name in self.model.variables or name in self.drivers:
                name += "'"
            # messages name the modeller's variable and the call, never the internal name
            what = "vector" if func == "@PACK" else func.lstrip("@")
            shown = f"{display} ({what} at {pos.line}:{pos.column})" if pos is not None else display
            self.drivers[name] = ir.Variable(name, shown, ir.Kind.AUXILIARY, expr=ir.Call(func, args, pos),
                                             pos=pos, hidden=True)
            self.driver_of[key] = name
        return ir.Ref(name, (), pos)

    @staticmethod
    def element(driver: ir.Ref, k: int, pos) -> ir.Expr:
        return ir.Call("@ELEMENT", (driver, ir.Num(float(k))), pos)

    def vector_contexts(self, e: ir.Call, ctx, ndim: int):
        """The left-hand side contexts of the vector (ndim 1) or matrix (ndim 2) this element
        belongs to: Vensim runs these functions over the left-hand side's last subscript(s).
        Returns (the contexts in row-major order, this element's index among them, sizes)."""
        what = "last subscript" if ndim == 1 else "last two subscripts"
        if len(ctx) < ndim:
            raise ModelError(f"{e.pos}: {e.func} gives an array: the left-hand side needs "
                             f"{'a subscript range' if ndim == 1 else 'two subscript ranges'} "
                             f"for it to run over (its {what})")
        head, tail = ctx[:len(ctx) - ndim], ctx[len(ctx) - ndim:]
        for r, el in tail:
            if r is None:
                raise ModelError(f"{e.pos}: {e.func} runs over the {what} of the left-hand side, "
                                 f"which must be a subscript range, not the element '{el}'")
        lists = [self.space.elements[r] for r, _ in tail]
        k = 0
        for (_, el), els in zip(tail, lists):
            k = k * len(els) + els.index(el)
        ctxs = [head + tuple((r, x) for (r, _), x in zip(tail, combo))
                for combo in itertools.product(*lists)]
        return ctxs, k, [len(els) for els in lists]

    def vector_of(self, e: ir.Call, arg, ctxs, it, display, what="first argument", check=True) -> list:
        vals = [self.instantiate(arg, c, it, display) for c in ctxs]
        if check and len(vals) > 1 and len(set(vals)) == 1:
            raise ModelError(f"{e.pos}: {e.func}'s {what} does not run over the left-hand side's "
                             "last subscript: give it that range (or one mapped to it) as its last subscript")
        return vals

    def check_size(self, e: ir.Call, size: ir.Expr, n: int, what: str) -> None:
        size = _fold(size)
        if not isinstance(size, ir.Num):
            raise UnsupportedFeature(f"{e.pos}: {e.func}'s size argument must be a number "
                                     "(or ELMCOUNT of a range)")
        if size.value != n:
            raise ModelError(f"{e.pos}: {e.func}'s size argument is {size.value:g}, but {what} "
                             f"has {n} elements")

    def pick(self, e: ir.Call, vec: list, index: ir.Expr, display: str, offset: int = 0) -> ir.Expr:
        """vec[offset + index]: resolved now for a number, else read in the kernel."""
        index = _fold(index)
        if isinstance(index, ir.Num):
            k = offset + round(index.value)
            if not 0 <= k < len(vec):
                raise ModelError(f"{e.pos}: {e.func} reads element {k} of a vector of {len(vec)} "
                                 "(counted from 0)")
            return vec[k]
        if offset:
            index = ir.BinOp("+", ir.Num(float(offset)), index)
        packed = self.driver("@PACK", tuple(vec), e.pos, display)
        return ir.Call("@AT", (packed, ir.Num(float(len(vec))), index), e.pos)

    def arity(self, e: ir.Call, n: int, names: str) -> None:
        if len(e.args) != n:
            raise ModelError(f"{e.pos}: {e.func} takes {n} arguments ({names}), got {len(e.args)}")

    def vector_order(self, e: ir.Call, ctx, it, display) -> ir.Expr:
        """VECTOR RANK / VECTOR SORT ORDER(vector, direction) over the left-hand side's last
        subscript: ranks from 1, sort order as 0-based positions; direction > 0 ascending."""
        self.arity(e, 2, "vector, direction")
        ctxs, k, _ = self.vector_contexts(e, ctx, 1)
        vec = self.vector_of(e, e.args[0], ctxs, it, display)
        direction = self.instantiate(e.args[1], ctx, it, display)
        return self.element(self.driver("@" + e.func, (direction, *vec), e.pos, display), k, e.pos)

    def vector_reorder(self, e: ir.Call, ctx, it, display) -> ir.Expr:
        """VECTOR REORDER(vector, order)[k] = vector[order[k]], order 0-based (as VECTOR SORT
        ORDER gives it)."""
        self.arity(e, 2, "vector, order")
        ctxs, _, _ = self.vector_contexts(e, ctx, 1)
        vec = self.vector_of(e, e.args[0], ctxs, it, display)
        return self.pick(e, vec, self.instantiate(e.args[1], ctx, it, display), display)

    def vector_elm_map(self, e: ir.Call, ctx, it, display) -> ir.Expr:
        """VECTOR ELM MAP(x[base], offset): x's element `offset` places after x[base], counted
        row-major over all of x's subscripts (offset 0 is x[base]); out of range is :NA:."""
        self.arity(e, 2, "vector, offset")
        ref, offset = e.args
        if not isinstance(ref, ir.Ref) or ref.name not in self.subscripted:
            raise ModelError(f"{e.pos}: VECTOR ELM MAP's first argument must be a subscripted "
                             "variable, like x[e1]")
        self.ref_name(ref.name, ref.subscripts, ctx, it, ref.pos, display)  # reports a bad reference
        base = tuple(self.resolve(s, ctx, it, i, ref.pos) for i, s in enumerate(ref.subscripts))
        defined = self.subscripted[ref.name]
        axes = []
        for i in range(len(base)):
            present = {c[i] for c in defined}
            ranges = [els for els in self.space.elements.values() if present <= set(els)]
            if not ranges:
                raise ModelError(f"{e.pos}: VECTOR ELM MAP: the elements of '{ref.name}' in "
                                 f"subscript {i + 1} are not all in one range")
            axes.append([x for x in max(ranges, key=len) if x in present])
        grid = list(itertools.product(*axes))
        vec = [ir.Ref(flat_name(ref.name, c), (), ref.pos) if c in defined else ir.Num(ir.NA_VALUE)
               for c in grid]
        offset = _fold(self.instantiate(offset, ctx, it, display))
        if not isinstance(offset, ir.Num):
            packed = self.driver("@PACK", tuple(vec), e.pos, display)
            index = ir.BinOp("+", ir.Num(float(grid.index(base))), offset)
            return ir.Call("@AT", (packed, ir.Num(float(len(vec))), index), e.pos)
        return self.pick(e, vec, offset, display, grid.index(base))

    def vector_lookup(self, e: ir.Call, ctx, it, display) -> ir.Expr:
        """VECTOR LOOKUP(vec[first], x, xmin, xmax, mode): vec's last subscript runs from the
        element given (the first, as the help asks) to the end of its range: those values are
        a lookup's y values over [xmin, xmax] (kernel_extra.vector_lookup reads it by mode)."""
        self.arity(e, 5, "vector, x, xmin, xmax, mode")
        ref, x, xmin, xmax, mode = e.args
        if not (isinstance(ref, ir.Ref) and ref.subscripts and ref.name in self.subscripted):
            raise ModelError(f"{e.pos}: VECTOR LOOKUP's first argument must be a subscripted variable "
                             "given with the first element of its last subscript, like y[s1]")
        last = len(ref.subscripts) - 1
        first = self.resolve(ref.subscripts[last], ctx, it, last, ref.pos)
        defined = {c[last] for c in self.subscripted[ref.name]}
        family = self.space.element_family(first)
        elements = [el for el in family[family.index(first):] if el in defined]
        if len(elements) < 2:
            raise ModelError(f"{e.pos}: VECTOR LOOKUP needs at least 2 values from '{first}' on")
        vec = tuple(self.instantiate(replace(ref, subscripts=ref.subscripts[:last] + (el,)), ctx, it, display)
                    for el in elements)
        mode = _fold(self.instantiate(mode, ctx, it, display))
        if isinstance(mode, ir.Num) and mode.value in (6, 8, 9):
            raise UnsupportedFeature(f"{e.pos}: VECTOR LOOKUP mode {mode.value:g} (slopes, and inversion "
                                     "with extrapolation) is not supported yet; modes 0-5 and 7 are")
        if isinstance(mode, ir.Num) and mode.value not in (0, 1, 2, 3, 4, 5, 7):
            raise ModelError(f"{e.pos}: VECTOR LOOKUP's mode must be a whole number from 0 to 9, "
                             f"got {mode.value:g}")
        packed = self.driver("@PACK", vec, e.pos, display)
        args = tuple(self.instantiate(a, ctx, it, display) for a in (x, xmin, xmax))
        return ir.Call("@VLOOKUP", (packed, ir.Num(float(len(vec))), *args, mode), e.pos)

    def allocate_by_priority(self, e: ir.Call, ctx, it, display) -> ir.Expr:
        """ALLOCATE BY PRIORITY(request, priority, size, width, supply): ALLOCATE AVAILABLE
        with a rectangular priority profile of that width for every requester."""
        self.arity(e, 5, "request, priority, size, width, supply")
        request, priority, size, width, supply = e.args
        ctxs, k, (n,) = self.vector_contexts(e, ctx, 1)
        self.check_size(e, self.instantiate(size, ctx, it, display), n,
                        "the left-hand side's last subscript")
        q = self.vector_of(e, request, ctxs, it, display, "request")
        p = self.vector_of(e, priority, ctxs, it, display, check=False)
        w = self.instantiate(width, ctx, it, display)
        s = self.instantiate(supply, ctx, it, display)
        return self.element(self.driver("@ALLOCATE BY PRIORITY", (w, s, *q, *p), e.pos, display), k, e.pos)

    def allocate_available(self, e: ir.Call, ctx, it, display) -> ir.Expr:
        """ALLOCATE AVAILABLE(request, pp, avail): pp's last subscript names the first of four
        consecutive elements of its range: ptype, ppriority, pwidth, pextra."""
        self.arity(e, 3, "request, priority profile, available")
        request, pp, avail = e.args
        ctxs, k, _ = self.vector_contexts(e, ctx, 1)
        q = self.vector_of(e, request, ctxs, it, display, "request")
        first = pp.subscripts[-1] if isinstance(pp, ir.Ref) and pp.subscripts else None
        if first is None or self.space.is_range(first) or first not in self.space.all_elements:
            raise ModelError(f"{e.pos}: ALLOCATE AVAILABLE's priority profile must be a variable "
                             "whose last subscript is the profile's first element, like pp[branch, ptype]")
        family = self.space.element_family(first)
        i = family.index(first)
        if i + 4 > len(family):
            raise ModelError(f"{e.pos}: ALLOCATE AVAILABLE's priority profile needs 4 elements from "
                             f"'{first}' on (ptype, ppriority, pwidth, pextra); its range has {len(family) - i}")
        profiles = [self.instantiate(replace(pp, subscripts=pp.subscripts[:-1] + (family[i + j],)),
                                     c, it, display)
                    for c in ctxs for j in range(4)]
        a = self.instantiate(avail, ctx, it, display)
        return self.element(self.driver("@ALLOCATE AVAILABLE", (a, *q, *profiles), e.pos, display),
                            k, e.pos)

    def invert_matrix(self, e: ir.Call, ctx, it, display) -> ir.Expr:
        """INVERT MATRIX(m, size) over the left-hand side's last two subscripts."""
        self.arity(e, 2, "matrix, size")
        ctxs, k, (rows, cols) = self.vector_contexts(e, ctx, 2)
        if rows != cols:
            raise ModelError(f"{e.pos}: INVERT MATRIX needs a square matrix: the left-hand side's "
                             f"last two subscripts have {rows} and {cols} elements")
        self.check_size(e, self.instantiate(e.args[1], ctx, it, display), rows,
                        "each of the left-hand side's last two subscripts")
        m = self.vector_of(e, e.args[0], ctxs, it, display)
        return self.element(self.driver("@INVERT MATRIX", tuple(m), e.pos, display), k, e.pos)

    def check_profiles(self, variables: dict[str, ir.Variable]) -> None:
        """Priority profiles given as constants are checked now, with their source position
        (ones computed during the run make the kernel's allocation NaN if invalid)."""
        def known(x):
            if isinstance(x, ir.Ref) and x.name in variables and variables[x.name].kind is ir.Kind.CONSTANT:
                return _number(variables[x.name].expr), variables[x.name]
            return _number(x), None

        for drv in self.drivers.values():
            call = drv.expr
            if call.func == "@ALLOCATE AVAILABLE":
                n = (len(call.args) - 1) // 5
                entries = [(call.args[1 + n + 4 * i], call.args[1 + n + 4 * i + 2]) for i in range(n)]
            elif call.func == "@ALLOCATE BY PRIORITY":
                entries = [(None, call.args[0])]
            else:
                continue
            for ptype, width in entries:
                t, var = known(ptype) if ptype is not None else (1.0, None)
                where = f" (from '{var.display}', {var.pos})" if var is not None else ""
                fname = call.func.lstrip("@")
                if t is not None and not (math.isfinite(t) and int(t) == t):
                    raise ModelError(f"{call.pos}: {fname}: priority type {t:g}{where} is not a whole number")
                if t is not None and int(t) not in PROFILE_TYPES:
                    what = {5: "5 (constant elasticity)"}.get(int(t), f"{t:g}")
                    if t >= 10:
                        what = f"{t:g} (integer allocation)"
                    known_types = ", ".join(f"{k} {v}" for k, v in PROFILE_TYPES.items())
                    raise UnsupportedFeature(f"{call.pos}: {fname}: priority type {what}{where} is not "
                                             f"supported; supported types: {known_types}")
                w, var = known(width)
                if w is not None and not w > 0:
                    where = f" (from '{var.display}', {var.pos})" if var is not None else ""
                    raise ModelError(f"{call.pos}: {fname}: the priority width must be positive, "
                                     f"got {w:g}{where}")

    # -- variables -------------------------------------------------------------------
    def element_variable(self, inst: _Instance) -> ir.Variable:
        var, d = inst.var, inst.defn
        name = flat_name(var.name, inst.elements)
        display = flat_name(var.display, (self.space.display.get(e, e) for e in inst.elements))
        base = ir.Variable(name=name, display=display, kind=ir.Kind.AUXILIARY, units=var.units,
                           comment=var.comment, pos=d.pos, unchangeable=d.operator == "==",
                           hidden=var.hidden)
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
            if _is_subscripted(var):
                self.expand_definitions(var)
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
            if name in self.subscripted:
                # in element order, as Vensim lists them, whatever the order of the definitions
                for inst in sorted(by_var[name], key=element_order):
                    v = self.element_variable(inst)
                    out[v.name] = v
            else:
                out[name] = replace(var, expr=self.instantiate(var.expr, (), {}, var.display),
                                    initial=self.instantiate(var.initial, (), {}, var.display))
        out.update(self.drivers)
        self.check_profiles(out)
        return replace(model, variables=classify_flows(out))


def _fold(e: ir.Expr) -> ir.Expr:
    """A number for arithmetic on numbers only (`D - 1` once the range D is a position)."""
    arithmetic = lambda n: (isinstance(n, ir.Num) or (isinstance(n, ir.BinOp) and n.op in ("+", "-", "*", "/", "^"))
                            or (isinstance(n, ir.UnaryOp) and n.op == "-"))
    if isinstance(e, ir.Num) or not all(arithmetic(n) for n in ir.walk(e)):
        return e
    try:
        return ir.Num(float(evaluate(None, e, {})))
    except (ModelError, ArithmeticError):
        return e


def _number(e: ir.Expr | None) -> float | None:
    if isinstance(e, ir.Num):
        return e.value
    if isinstance(e, ir.UnaryOp) and e.op == "-" and isinstance(e.operand, ir.Num):
        return -e.operand.value
    return None


def flatten(model: ir.Model) -> ir.Model:
    """A model with no subscripts: one scalar variable per element combination."""
    if not model.subscript_ranges and not any(_is_subscripted(v) for v in model.variables.values()):
        return model
    return _Flattener(model).run()
