"""Pass 1b: subscripts, by flattening.

Every subscripted variable becomes one scalar variable per element
combination, named `name[e1,e2]` (canonical elements) and displayed
`Display Name[E1,E2]` (elements as the modeller wrote them), each with its own
instantiated equation. References are resolved to those scalars, array
functions (SUM, PROD, VMIN, VMAX, ELMCOUNT) are expanded over their elements.
Everything downstream then works on scalars only.

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

from . import ir
from .errors import ModelError, UnsupportedFeature

ARRAY_REDUCERS = {"SUM": "+", "PROD": "*", "VMIN": "MIN", "VMAX": "MAX"}


def flat_name(name: str, elements) -> str:
    return f"{name}[{','.join(elements)}]"


# ---- subscript ranges -------------------------------------------------------------

class _Space:
    """The model's ranges, expanded to elements."""

    def __init__(self, ranges: dict[str, ir.SubscriptRange]):
        self.raw = ranges
        self.elements: dict[str, tuple[str, ...]] = {}
        self.display: dict[str, str] = {}
        for r in ranges.values():
            for e, d in zip(r.elements, r.display or r.elements):
                if e not in ranges:
                    self.display.setdefault(e, d)
        for name in ranges:
            self._expand(name, ())
        self.all_elements = {e for els in self.elements.values() for e in els}
        # the root of an alias chain, so that aliases bind each other
        self.root = {n: self._alias_root(n) for n in ranges}
        self._family: dict[str, tuple[str, ...]] = {}

    def _alias_root(self, name: str) -> str:
        seen = set()
        while name in self.raw and not self.raw[name].elements and self.raw[name].mapping \
                and name not in seen:
            seen.add(name)
            name = self.raw[name].mapping[0]
        return name

    def _expand(self, name: str, stack: tuple[str, ...]) -> tuple[str, ...]:
        if name in self.elements:
            return self.elements[name]
        r = self.raw[name]
        if name in stack:
            raise ModelError(f"{r.pos}: subscript range '{name}' is defined in terms of itself")
        if not r.elements and r.mapping:  # alias
            target = r.mapping[0]
            if target not in self.raw:
                raise ModelError(f"{r.pos}: '{name}' is an alias of '{target}', "
                                 "which is not a subscript range")
            out = self._expand(target, stack + (name,))
        else:
            items: list[str] = []
            for e in r.elements:
                if e in self.raw and e != name:
                    items.extend(self._expand(e, stack + (name,)))
                else:
                    items.append(e)
            out = tuple(dict.fromkeys(items))
        self.elements[name] = out
        return out

    def element_family(self, element: str) -> tuple[str, ...]:
        """The first of the largest ranges holding an element."""
        best: tuple[str, ...] = ()
        for els in self.elements.values():
            if len(els) > len(best) and element in els:
                best = els
        return best

    def is_range(self, name: str) -> bool:
        return name in self.elements

    def family(self, name: str) -> tuple[str, ...]:
        """The largest range holding all of `name`'s elements (itself on a tie)."""
        if name not in self._family:
            mine = set(self.elements[name])
            best = self.elements[name]
            # the largest range holding them; on a tie the first range defined
            for other, els in self.elements.items():
                if len(els) > len(best) and mine <= set(els):
                    best = els
            best = next(els for els in self.elements.values()
                        if len(els) == len(best) and mine <= set(els))
            self._family[name] = best
        return self._family[name]

    def mapped(self, src: str, e: str, dst: str) -> str | None:
        """The element of `dst` that element `e` of range `src` corresponds to."""
        for a, b, forward in ((src, dst, True), (dst, src, False)):
            r = self.raw.get(a)
            if r is None or not r.elements:
                continue
            for k, target in enumerate(r.mapping):
                if self.root.get(target, target) != self.root.get(b, b) and target != b:
                    continue
                listed = r.mapping_elements[k] if k < len(r.mapping_elements) else ()
                a_els = self.elements[a]
                b_els = listed if listed else self.elements[target]
                pairs = list(zip(a_els, b_els))
                if forward:
                    hits = [y for x, y in pairs if x == e]
                else:
                    hits = [x for x, y in pairs if y == e]
                if hits:
                    return hits[0]
        return None


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
        self.space = _Space(model.subscript_ranges)
        self.subscripted: dict[str, set[tuple[str, ...]]] = {}
        self.instances: list[_Instance] = []

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
        self.subscripted[var.name] = set(seen)

    # -- references ----------------------------------------------------------------
    def bind(self, s: str, ctx, it: dict[str, str], position: int | None) -> str | None:
        """The element a range name stands for here, or None if nothing binds it."""
        sp = self.space
        if s in it:
            return it[s]
        root = sp.root.get(s, s)
        # the same range (or an alias of it) on the left-hand side
        hits = [i for i, (r, _) in enumerate(ctx) if r is not None and (r == s or sp.root.get(r, r) == root)]
        if hits:
            i = position if position in hits else hits[0]
            return ctx[i][1]
        # a mapping between a left-hand side range and this one
        for r, e in ctx:
            if r is not None:
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
            if e.func.startswith("VECTOR ") or e.func in ("ALLOCATE BY PRIORITY", "ALLOCATE AVAILABLE",
                                                         "INVERT MATRIX"):
                raise UnsupportedFeature(f"{e.pos}: function '{e.func}' is not supported yet")
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
        op = ARRAY_REDUCERS[e.func]
        out = terms[0]
        for t in terms[1:]:
            out = ir.BinOp(op, out, t) if op in "+*" else ir.Call(op, (out, t), e.pos)
        return out

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
        error = self.instantiate(error, ctx, it, display)
        if not (isinstance(error, ir.Num) and error.value == 0):
            raise UnsupportedFeature(f"{e.pos}: function 'VECTOR SELECT' with an error action "
                                     "other than 0 is not supported yet")
        pairs = []
        for combo in itertools.product(*(self.space.elements[r.rstrip("!")] for r in free)):
            it2 = {**it, **dict(zip(free, combo))}
            pairs.append((self.instantiate(sel, ctx, it2, display),
                          self.instantiate(arr, ctx, it2, display)))
        missing = self.instantiate(missing, ctx, it, display)
        action = self.instantiate(action, ctx, it, display)
        ite = lambda c, a, b: ir.Call("IF THEN ELSE", (c, a, b), e.pos)
        picked = [ir.BinOp("<>", s, ir.Num(0.0)) for s, _ in pairs]

        def fold(op, items):
            out = items[0]
            for x in items[1:]:
                out = ir.BinOp(op, out, x) if op in "+*" else ir.Call(op, (out, x), e.pos)
            return out

        count = fold("+", [ite(p, ir.Num(1.0), ir.Num(0.0)) for p in picked])

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
                total = fold("+", [ite(p, v, ir.Num(0.0)) for p, v in zip(picked, vals)])
                value = total if kind == 0 else ir.BinOp("/", total, count)
            elif kind == 1:
                value = fold("*", [ite(p, v, ir.Num(1.0)) for p, v in zip(picked, vals)])
            elif kind == 2:
                value = fold("MIN", [ite(p, v, ir.Num(math.inf)) for p, v in zip(picked, vals)])
            else:
                value = fold("MAX", [ite(p, v, ir.Num(-math.inf)) for p, v in zip(picked, vals)])
            return ite(ir.BinOp("=", count, ir.Num(0.0)), missing, value)

        if isinstance(action, ir.Num):
            k = action.value
            if k != int(k) or not 0 <= k <= 10:
                raise ModelError(f"{e.pos}: VECTOR SELECT's numerical action must be 0 to 10, got {k:g}")
            return result(int(k))
        raise UnsupportedFeature(f"{e.pos}: function 'VECTOR SELECT' with a numerical action that "
                                 "is not a number is not supported yet")

    # -- variables -------------------------------------------------------------------
    def element_variable(self, inst: _Instance) -> ir.Variable:
        var, d = inst.var, inst.defn
        name = flat_name(var.name, inst.elements)
        display = flat_name(var.display, (self.space.display.get(e, e) for e in inst.elements))
        base = ir.Variable(name=name, display=display, kind=ir.Kind.AUXILIARY, units=var.units,
                           comment=var.comment, pos=d.pos, unchangeable=d.operator == "==")
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

    def run(self) -> ir.Model:
        model = self.model
        for var in model.variables.values():
            if _is_subscripted(var):
                self.expand_definitions(var)
        out: dict[str, ir.Variable] = {}
        by_var: dict[str, list[_Instance]] = {}
        for inst in self.instances:
            by_var.setdefault(inst.var.name, []).append(inst)
        for name, var in model.variables.items():
            if name in self.subscripted:
                insts = by_var[name]
                # output in element order of the first definition's ranges
                for inst in insts:
                    v = self.element_variable(inst)
                    out[v.name] = v
            else:
                out[name] = replace(var, expr=self.instantiate(var.expr, (), {}, var.display),
                                    initial=self.instantiate(var.initial, (), {}, var.display))
        from .parse import _classify_flows
        return replace(model, variables=_classify_flows(out))


def flatten(model: ir.Model) -> ir.Model:
    """A model with no subscripts: one scalar variable per element combination."""
    if not model.subscript_ranges and not any(_is_subscripted(v) for v in model.variables.values()):
        return model
    return _Flattener(model).run()
