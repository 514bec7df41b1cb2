"""Loops over the elements of the arrays flattened per element, decided from the IR.

An array the dense route does not keep (passes/dense.py says why) is one scalar variable per
element, and the schedule lists its elements' statements one after the other, or in turn
with those of other arrays (`a[e1], b[e1], a[e2], b[e2], ...`). Consecutive blocks of up to
`MAX_PERIOD` statements whose equations have one form (`form`: the same operations,
functions and lookups, each variable's slot, each number, each lookup's table and watch
advancing by a fixed step from one block to the next) are one loop, its body the first
block's code with each advancing slot or number written `(b + d * q)` (the form the
interpreter's tape reads, tape_forms.float_hole); runs of such loops that repeat in turn (the
rows of a two-dimensional array) nest, up to `MAX_DEPTH` loops. A long sum (a flattened SUM)
is a loop the same way over its terms (`long_sum`). What a loop may hold: numbers,
variables, arithmetic and comparisons, the functions written with their own arguments (the
registry's emit ARGS) and lookups of a named table; a statement with anything else (a random
draw, a buffer, an array function) is a statement of its own, as is one that repeats fewer
than `MIN_RUN` times.

The form is read from the equations, never from generated code: a loop runs exactly the
statements it replaces, in their order, each with the code it would have had.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .. import ir
from ..ir.builtins import ARGS, ARRAY_DRIVERS, ARRAY_READS, LOOKUP, RANDOM_DRAW, helpers
from ..passes.flat_exprs import flat_name
from ..passes.order import is_delay_fixed

MIN_RUN = 3            # blocks from which a loop pays
MAX_PERIOD = 8         # statements per block
MAX_DEPTH = 4          # loops nested
MIN_STRIDED_SUM = 16   # terms from which a run of one form in a sum is a loop
_SIMPLE = frozenset(helpers(ARGS))
_RANDOM = frozenset(helpers(RANDOM_DRAW))
_TABLE_FUNCS = helpers(LOOKUP)     # helper(x, table)
# the functions of the clock emit.Emitter writes from their arguments alone
_CLOCKED = frozenset({"STEP", "RAMP", "PULSE", "PULSE TRAIN", "LOG"})


def is_sum(e) -> bool:
    return type(e) is ir.BinOp and e.op == "+"


def terms_at_least(e, n: int) -> bool:
    """The sum `e` has n or more terms (stops counting there)."""
    todo, terms = [e], 0
    while todo and terms < n:
        x = todo.pop()
        if is_sum(x):
            todo += [x.left, x.right]
        else:
            terms += 1
    return terms >= n


def form(e: ir.Expr, em, owner: str) -> tuple[tuple, list, list] | None:
    """(the shape of `e`, the equation of `owner`: its nodes in walk order with a hole for each
    variable, number and lookup; the holes' values: slots and lookups' watches and tables (int),
    numbers (float); the holes, as (node, role)) or None when `e` holds what a loop does not
    (module doc). A lookup's table and its watch
    are laid out here (`em.table`, `em.watch`), as the statement would lay them out."""
    shape, values, holes = [], [], []
    vs = em.schedule.model.variables
    skip: set[int] = set()     # the table names of the functions of a lookup
    for n in ir.walk(e):
        t = type(n)
        if id(n) in skip:
            shape.append("T")
        elif t is ir.Num:
            shape.append("N")
            values.append(float(n.value))
            holes.append((n, "num"))
        elif t is ir.Ref:
            # a scalar, or an element of an array kept dense (`name[e1]`, `name` with subscripts e1)
            name = flat_name(n.name, n.subscripts) if n.subscripts else n.name
            if name not in em.slots or (name in vs and vs[name].dims):
                return None
            shape.append("R")
            values.append(em.slots[name])
            holes.append((n, "ref"))
        elif t is ir.BinOp:
            shape.append(n.op)
        elif t is ir.UnaryOp:
            shape.append("u" + n.op)
        elif t is ir.Call and (n.func in _SIMPLE or n.func in _CLOCKED):
            shape.append((n.func, len(n.args)))
        elif t is ir.Call and n.func in _TABLE_FUNCS and n.args and type(n.args[0]) is ir.Ref \
                and n.args[0].name in vs and vs[n.args[0].name].lookup is not None:
            table = n.args[0].name        # not a variable read: its table's index
            em.table(table, vs[table].lookup)
            k = em.table_at[table]
            shape.append((n.func, len(n.args), "T"))
            values += [2 * k, 2 * k + 1]
            holes += [(n, "tk0"), (n, "tk1")]
            skip.add(id(n.args[0]))
        elif t is ir.Call and n.func == "WITH LOOKUP" and len(n.args) == 2 and type(n.args[1]) is ir.LookupTable:
            em.table(id(n.args[1]), n.args[1])
            k = em.table_at[id(n.args[1])]
            shape.append("W")
            values += [em.watch(("lookup", owner, None, n.pos, k)), k]
            holes += [(n, "watch"), (n, "table")]
        elif t is ir.LookupTable:
            shape.append("T")
        elif t is ir.Call and n.func in ARRAY_READS and type(n.args[0]) is ir.Ref and n.args[0].name in em.scratch:
            # a read of a whole-array function's block: the block, the position or the length
            base = em.scratch[n.args[0].name]
            skip.update((id(n.args[0]), id(n.args[1])))
            if ARRAY_READS[n.func].helper:
                shape.append((n.func, len(n.args), n.args[1].value))
                values.append(base)
                holes.append((n, "block"))
            else:
                shape.append(n.func)
                values.append(base + int(n.args[1].value))
                holes.append((n, "element"))
        elif t is ir.Call and n.func in ARRAY_DRIVERS and n is e and owner in em.scratch:
            # a whole-array function: its vector into its block, then its value
            base, width = em.scratch[owner], len(n.args) - ARRAY_DRIVERS[n.func].scalars
            shape.append((n.func, len(n.args)))
            values += [base + i for i in range(width)] + [em.slots[owner]]
            holes += [(n, ("part", i)) for i in range(width)] + [(n, "driven")]
        elif t is ir.Call and n.func in _RANDOM:
            # its call site follows the owner's position in its array (Emitter.number_sites)
            array, rank, _ = em.site_arrays_of().get(owner, (owner, 0, 1))
            shape.append((n.func, len(n.args), array))
            values.append(rank)
            holes.append((n, "site"))
        elif t is ir.LookupCall and not n.subscripts and n.table in vs and vs[n.table].series:
            # data, held beyond their points: read unwatched (ir.Variable.series, Emitter.expr)
            em.table(n.table, vs[n.table].lookup)
            shape.append("S")
            values.append(em.table_at[n.table])
            holes.append((n, "series"))
        elif t is ir.LookupCall and not n.subscripts and n.table in vs and vs[n.table].lookup is not None:
            em.table(n.table, vs[n.table].lookup)
            k = em.table_at[n.table]
            shape.append("L")
            values += [em.watch(("lookup", owner, n.table, n.pos, k)), k]
            holes += [(n, "watch"), (n, "table")]
        else:
            return None
    return tuple(shape), values, holes


def progresses(xs, base, steps, k) -> bool:
    """Block k's values are base + k * step, computed exactly as the loop computes them."""
    fk = float(k)
    for x, b, d in zip(xs, base, steps):
        if type(x) is not type(b) or x != (b + d * k if type(b) is int else b + d * fk):
            return False
    return True


@dataclass(frozen=True)
class Unit:
    """A statement (`first`, its index; no `body`) or a loop of `count` iterations over the
    units of `body`, whose values advance by `steps` per iteration. `values`: those of the
    first iteration, the units' in order; `shape` compares units."""
    shape: tuple
    values: tuple
    first: int
    count: int = 0
    steps: tuple = ()
    body: tuple = ()
    depth: int = 0

    @property
    def size(self) -> int:
        return 1 if not self.body else self.count * sum(u.size for u in self.body)


def group(units: list) -> list:
    """`units` (of shape None: a statement no loop holds) with the runs of blocks of one shape whose
    values advance evenly as loops, nested while such loops repeat in turn."""
    for _ in range(MAX_DEPTH):
        out, i, changed = [], 0, False
        while i < len(units):
            best = (1, 0, 0, ())     # (units covered, period, repeats, steps)
            for period in range(1, MAX_PERIOD + 1):
                block = units[i:i + period]
                nxt = units[i + period:i + 2 * period]
                if len(nxt) < period or any(u.shape is None for u in block + nxt) \
                        or [u.shape for u in block] != [u.shape for u in nxt] \
                        or max(u.depth for u in block) >= MAX_DEPTH:
                    continue
                base = [x for u in block for x in u.values]
                steps = [b - a for a, b in zip(base, (x for u in nxt for x in u.values))]
                reps = 2
                while True:
                    again = units[i + reps * period:i + (reps + 1) * period]
                    if len(again) < period or any(u.shape != b.shape for u, b in zip(again, block)) \
                            or not progresses([x for u in again for x in u.values], base, steps, reps):
                        break
                    reps += 1
                if reps >= MIN_RUN and reps * period > best[0]:
                    best = (reps * period, period, reps, tuple(steps))
            covered, period, reps, steps = best
            if not period:
                out.append(units[i])
                i += 1
                continue
            block = tuple(units[i:i + period])
            out.append(Unit(("loop", reps, steps, tuple(u.shape for u in block)),
                            tuple(x for u in block for x in u.values), block[0].first, reps, steps, block,
                            1 + max(u.depth for u in block)))
            changed = True
            i += covered
        units = out
        if not changed:
            break
    return units


@dataclass(frozen=True)
class Item:
    """A statement a loop may hold: `template` (its text, `{0}`, `{1}`, ... its `targets`,
    slots or buffer indices, `{value}` the code of `expr`, the equation of variable `name`;
    None: no loop holds it), and what writes it as a statement of its own (`plain()`)."""
    name: str
    expr: ir.Expr | None
    targets: tuple[int, ...]
    template: str | None
    plain: Callable[[], str]


def statements(em, items: list[Item]) -> list[str]:
    """The statements of `items`, in order, the runs of one form (a template, and the `form`
    of the equation) as loops."""
    vs = em.schedule.model.variables
    units, holes = [], []
    for i, it in enumerate(items):
        f = None if it.template is None or vs[it.name].dims else ((), [], []) if "{value}" not in it.template \
            else form(it.expr, em, it.name) if it.expr is not None else None
        holes.append(None if f is None else f[2])
        units.append(Unit(None, (), i) if f is None else Unit((it.template,) + f[0], it.targets + tuple(f[1]), i))
    out = []
    for u in group(units):
        if not u.body:
            out.append(items[u.first].plain())
            continue
        lines = _loop(em, u, [], items, holes)
        if lines is None:   # a node at two holes that advance otherwise: statements of their own
            out += [items[k].plain() for k in range(u.first, u.first + u.size)]
        else:
            out.append("\n".join(lines))
    return out


def _loop(em, unit: Unit, enclosing: list, items, holes) -> list[str] | None:
    """The lines of loop `unit` inside the loops `enclosing` ((loop variable, each of the
    unit's values' step), the outermost first), or None (see `statements`)."""
    var = "q" if unit.depth == 1 else f"q{unit.depth - 1}"
    lines = [f"for {var} in range({unit.count}):"]
    at = 0
    for u in unit.body:
        width = len(u.values)
        inner = [(v, steps[at:at + width]) for v, steps in enclosing] + [(var, unit.steps[at:at + width])]
        body = _loop(em, u, inner, items, holes) if u.body else _statement(em, u, inner, items, holes)
        if body is None:
            return None
        lines += ["    " + line for line in body]
        at += width
    return lines


def _statement(em, unit: Unit, enclosing: list, items, holes) -> list[str] | None:
    """The statement `unit` in a loop (see `advancing`), or None."""
    it = items[unit.first]
    em.owner = it.name
    k = len(it.targets)
    targets = [code for code, _ in _codes(unit.values[:k], [(v, s[:k]) for v, s in enclosing])]
    value = "" if "{value}" not in it.template else \
        advancing(em, it.expr, unit.values[k:], holes[unit.first], [(v, s[k:]) for v, s in enclosing])
    if value is None:
        em.pre, em.n_acc = [], 0
        return None
    return em.flush(it.template.format(*targets, value=value)).split("\n")    # after the loops of its sums


def _codes(values, enclosing) -> list[tuple[str, bool]]:
    out = []
    for j, x in enumerate(values):
        code = repr(x)
        for var, steps in enclosing:
            if steps[j]:
                code = f"({code} + {steps[j]!r} * {var})"
        out.append((code, any(steps[j] for _, steps in enclosing)))
    return out


def advancing(em, e: ir.Expr, values, holes, enclosing: list) -> str | None:
    """The code of `e` (its `form`'s hole `values` and `holes`) inside the loops `enclosing`
    ((loop variable, each hole's step), the outermost first), each hole the loops advance
    written as code of their variables: `(b + d * q)`, nested `((b + d1 * q1) + d * q)`; None
    when one node sits at two holes that advance otherwise. A long sum in `e` reads the loops'
    steps of its terms' holes (`em.outer`) to loop over its terms inside them (`sum_loop`)."""
    code_of: dict[tuple, tuple] = {}      # (node id, role) -> (code, advances, node, the loops' steps)
    for (node, role), (code, moves), j in zip(holes, _codes(values, enclosing), range(len(values))):
        steps = tuple((var, s[j]) for var, s in enclosing)
        if role == "site":     # the offset from the first element's site
            code = _codes([0], [(var, [d]) for var, d in steps])[0][0]
        if code_of.setdefault((id(node), role), (code, moves, node, steps)) != (code, moves, node, steps):
            return None
    overrides: dict = {}
    for (key, role), (code, moves, node, _) in code_of.items():
        if role == "ref" and moves:
            overrides[key] = f"ld(v, {code})"
        elif role == "num" and moves:
            overrides[key] = code
        elif role == "watch" and type(node) is ir.LookupCall and (moves or code_of[key, "table"][1]):
            overrides[key] = _lookup(em, node, code, code_of[key, "table"][0])
        elif role == "series" and moves:
            overrides[key] = lambda node=node, k=code: \
                f"lookup({em.expr(node.arg)}, tab, tk(tab, 2 * {k}), tk(tab, 2 * {k} + 1))"
        elif role == "site" and moves:
            overrides[key] = _draw(em, node, code)
        elif role == "element" and moves:
            overrides[key] = f"ld(v, {code})"
        elif role == "block" and moves:
            overrides[key] = lambda node=node, b=code: f"{ARRAY_READS[node.func].helper}(v, ix({b}), " \
                f"ix({int(node.args[1].value)}), {', '.join(em.expr(x) for x in node.args[2:])})"
        elif role == "driven" and any(code_of[k2][1] for k2 in code_of if k2[0] == key):
            parts = [code_of[key, ("part", i)][0] for i in range(len(node.args) - ARRAY_DRIVERS[node.func].scalars)]
            overrides[key] = _driver(em, node, parts, code)
        elif role == "watch" and type(node) is ir.Call and (moves or code_of[key, "table"][1]):
            overrides[key] = lambda node=node, w=code, k=code_of[key, "table"][0]: \
                f"watched_lookup(v, {w}, {em.expr(node.args[0])}, tab, {k})"
        elif role == "tk0" and (moves or code_of[key, "tk1"][1]):
            overrides[key] = lambda node=node, a=code, b=code_of[key, "tk1"][0]: \
                f"{_TABLE_FUNCS[node.func]}({em.expr(node.args[1])}, tab, tk(tab, {a}), tk(tab, {b}))"
    saved = em.moving, em.outer
    em.moving, em.outer = overrides, {k: v[3] for k, v in code_of.items()}
    try:
        return em.expr(e)
    finally:
        em.moving, em.outer = saved


def _lookup(em, node: ir.LookupCall, watch: str, table: str):
    """What writes a lookup whose watch or table a loop advances (Emitter.watched_lookup)."""
    return lambda: f"watched_lookup(v, {watch}, {em.expr(node.arg)}, tab, {table})"


def _driver(em, node: ir.Call, parts: list[str], slot: str):
    """What writes a whole-array function's statement whose block and slot a loop advances
    (Emitter.array_driver): its vector into its block's `parts`, its value into `slot`."""
    driver = ARRAY_DRIVERS[node.func]

    def write():
        vector = [f"st(v, {p}, {em.expr(x)})" for p, x in zip(parts, node.args[driver.scalars:])]
        scalars = "".join(f", {em.expr(x)}" for x in node.args[:driver.scalars])
        value = f"{driver.helper}(v, ix({parts[0]}), ix({len(parts)}){scalars})" if driver.helper else "0.0"
        return "; ".join(vector + [f"st(v, {slot}, {value})"])
    return write


def _draw(em, node: ir.Call, offset: str):
    """What writes a random draw whose call site a loop advances: the first element's site
    plus `offset` (Emitter.number_sites reads `@SITE...@{offset}`)."""
    def write():
        head, _, tail = em.call(node).rpartition("@)")
        return f"{head}@{{{offset}}}){tail}"
    return write


def sum_loop(em, term: ir.Expr, forms: list, var: str) -> tuple[str, str, int] | None:
    """Terms of one form (`forms`, `term` the first) whose holes advance evenly, inside the
    loops of the statement (`em.outer`, each term's holes by the same steps): (the first term's
    code with its holes advancing by loop variable `var`, or "" when the terms are plain
    variables, then the first one's slot and the step), or None."""
    if any(f is None for f in forms):
        return None
    shape, base, holes = forms[0]
    steps = [b - a for a, b in zip(base, forms[1][1])]
    if any(f[0] != shape or not progresses(f[1], base, steps, k) for k, f in enumerate(forms)):
        return None
    outer = [em.outer.get((id(n), r), ()) for n, r in holes]
    for f in forms[1:]:
        if [em.outer.get((id(n), r), ()) for n, r in f[2]] != outer:
            return None
    names = [v for v, _ in outer[0]] if outer else []
    enclosing = [(v, [o[i][1] if o else 0 for o in outer]) for i, v in enumerate(names)]
    if any(type(x) is float and d and any(s[j] for _, s in enclosing) for j, (x, d) in enumerate(zip(base, steps))):
        return None      # a number advancing in both loops: not computed exactly as the terms are
    if shape == ("R",):
        return "", _codes(base[:1], [(v, s[:1]) for v, s in enclosing])[0][0], steps[0]
    code = advancing(em, term, base, holes, enclosing + [(var, steps)])
    return None if code is None else (code, "", 0)


def item(em, n: str, e: ir.Expr) -> Item:
    """The statement `n = e` (`em.assign`), as a loop may hold it."""
    if isinstance(e, ir.Call) and e.func in ARRAY_DRIVERS:    # its statements are its value's
        return Item(n, e, (), "{value}", lambda: em.assign(n, e))
    slot = () if em.schedule.model.variables[n].dims else (em.slots[n],)   # an array: its own loops
    return Item(n, e, slot, "st(v, {0}, {value})", lambda: em.assign(n, e))


def initial_items(em, n: str) -> list[Item]:
    """The initialisation's statements of `n` (a fixed delay's: its length, then its output)."""
    var = em.schedule.model.variables[n]
    if not is_delay_fixed(var):
        return [item(em, n, var.initial if var.initial is not None else var.expr)]
    _, delay, init = var.expr.args[:3]
    if var.dims:     # over an array (dense_buffers.py): each element's region length, in one loop
        return [em.fixed_loop(n, "size"), em.fixed_loop(n, "init")]
    slot = em.fixed_delay_slot[n]
    whole = em.whole_run(var)
    size = lambda: em.flush(f"st(v, {slot}, {em.material_size() if whole else em.expr(delay)})")
    return [Item(n, None if whole else delay, (slot,), "st(v, {0}, {value})", size), item(em, n, init)]


def long_sum(em, e: ir.BinOp) -> str:
    """A sum of many terms (a flattened SUM): the terms' code, and wherever a run of
    MIN_STRIDED_SUM or more terms has one form (`form`: the same operations, slots and numbers
    advancing evenly), one loop for the run: `vsum(...)` when the terms are plain variables,
    otherwise a loop accumulating into `accN`, emitted before the statement (`em.flush`).
    Terms are generated once, in order, as without loops."""
    terms, todo = [], [e]
    while todo:
        x = todo.pop()
        if is_sum(x):
            todo += [x.right, x.left]
        else:
            terms.append(x)
    codes = [em.expr(x) for x in terms]
    forms = [form(x, em, em.owner) for x in terms]
    counts: dict[int, int] = {}

    def count(x):
        if id(x) not in counts:
            counts[id(x)] = count(x.left) + count(x.right) if is_sum(x) else 1
        return counts[id(x)]

    def render(x, first):
        n = count(x)
        looped = _sum(em, terms[first], forms[first:first + n]) if n >= MIN_STRIDED_SUM else None
        if looped:
            return looped
        if is_sum(x):
            return f"({render(x.left, first)} + {render(x.right, first + count(x.left))})"
        return codes[first]

    return render(e, 0)


def _sum(em, term: ir.Expr, forms: list) -> str | None:
    """One loop for terms of one form (`term` the first) whose slots and numbers advance
    evenly (`sum_loop`), or None."""
    looped = sum_loop(em, term, forms, "kk")
    if looped is None:
        return None
    code, first, step = looped
    if not code:
        return f"vsum(v, ix({first}), ix({len(forms)}), ix({step}))"
    acc = f"acc{em.n_acc}"
    em.n_acc += 1
    em.pre += [f"{acc} = 0.0", f"for kk in range({len(forms)}):", f"    {acc} += {code}"]
    return acc
