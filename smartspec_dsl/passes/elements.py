"""The elements of a dense model (passes/dense.py) as the runtime reads them, made when asked.

The kernel of a dense model runs each array as one loop, but the runtime names every element:
a run's columns, parameters and final state are `name[e1,e2]` (displayed `Name[E1,E2]`). Those
names, their slots and their variables are computed from the array's one variable when asked
(`Elements`, `ElementOrder`, `Slots`), never laid out per element when a model loads or is
kept in the kernel cache: what a load builds, pickles and reads back follows the equations,
not the elements. An element's variable shares its array's equation (subscripts and all),
which documents it; an array of numbers gives each element its own number, the parameter's
default.

Element order is the kernel's: the last subscript fastest (`dense.elements`).
"""
from __future__ import annotations

import bisect
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import replace

from .. import ir
from ..ir.ranges import SubscriptSpace, parse_form, piece_at
from .flat_exprs import flat_name

INITIAL = "@initial"   # edits.initial_param's suffix: `stock[e1]@initial`
# dense_pieces.numbers_of's suffix: the hidden constant array of the numbers an array gives
# beside its equations (`x[a1] = 0.05`, `x[R] :EXCEPT: [a1] = ...`). Each of those numbers is
# a parameter by the element's own name (`x[a1]`: its variable a constant, its position in the
# parameters the hidden array's); the hidden array's other elements, never read, are
# `x[e]@numbers`.
NUMBERS = "@numbers"


class Elements(Mapping):
    """name -> ir.Variable over a dense model's `variables`: a scalar by its name, an array's
    element by `name[e1,e2]` (made on first use and kept for the next)."""

    def __init__(self, variables: dict[str, ir.Variable], ranges: dict):
        self.arrays = variables      # the dense model's own (scalars and arrays)
        self.ranges = ranges
        self._space: SubscriptSpace | None = None
        self._positions: dict[str, dict[str, int]] = {}
        self._made: dict[str, ir.Variable] = {}
        self._names: dict[str, list[str]] = {}

    def __reduce__(self):
        return Elements, (self.arrays, self.ranges)

    @property
    def space(self) -> SubscriptSpace:
        if self._space is None:
            self._space = SubscriptSpace(self.ranges)
        return self._space

    # -- one array ------------------------------------------------------------------
    def size(self, name: str) -> int:
        """The number of elements of `name` (1 for a scalar)."""
        n = 1
        for d in self.arrays[name].dims:
            n *= len(self.space.elements[d])
        return n

    def combos(self, name: str) -> list[tuple[str, ...]]:
        """An array's element combinations in slot order (the last subscript fastest)."""
        return elements(self.space, self.arrays[name].dims)

    def names(self, name: str) -> list[str]:
        """The flat names of a variable's elements (`name[e1,e2]`), or [name] for a scalar
        (made once; the list is shared: not to be changed)."""
        made = self._names.get(name)
        if made is None:
            dims = self.arrays[name].dims
            suffix = INITIAL if name.endswith(INITIAL) and dims else ""
            made = self._names[name] = _flat(name[:len(name) - len(suffix)], [self.space.elements[d] for d in dims],
                                             suffix) if dims else [name]
            if name.endswith(NUMBERS) and dims:
                base = name[:-len(NUMBERS)]
                made[:] = [e if self.is_number(base, k) else e + NUMBERS
                           for k, e in enumerate(_flat(base, [self.space.elements[d] for d in dims], ""))]
        return made

    def is_number(self, name: str, k: int) -> bool:
        """Whether element `k` (in slot order) of array `name` is one of the numbers it gives
        beside its equations (its piece reads its hidden array of numbers, `NUMBERS`)."""
        var = self.arrays.get(name)
        if var is None or name + NUMBERS not in self.arrays:
            return False
        positions = []
        for d in reversed(var.dims):
            k, j = divmod(k, len(self.space.elements[d]))
            positions.append(j)
        hit = piece_at(var.expr, tuple(positions[::-1]))
        return hit is not None and type(hit[0]) is ir.Ref and hit[0].name == name + NUMBERS

    def displays(self, name: str) -> list[str]:
        """The displayed names of a variable's elements (`Name[E1,E2]`), in slot order."""
        var = self.arrays[name]
        if not var.dims:
            return [var.display]
        shown = self.space.display
        return _flat(var.display, [[shown.get(e, e) for e in self.space.elements[d]] for d in var.dims], "")

    def name_at(self, name: str, k: int) -> str:
        """The flat name of element `k` (in slot order) of array `name`."""
        if name.endswith(NUMBERS):
            return self.names(name)[k]
        combo = []
        for d in reversed(self.arrays[name].dims):
            es = self.space.elements[d]
            k, j = divmod(k, len(es))
            combo.append(es[j])
        return element_name(name, combo[::-1])

    # -- flat names -----------------------------------------------------------------
    def split(self, key: str) -> tuple[str, int] | None:
        """(array, element position in slot order) of an element's flat name, or None."""
        suffix = INITIAL if key.endswith(INITIAL) else NUMBERS if key.endswith(NUMBERS) else ""
        flat = key[:len(key) - len(suffix)]
        if not flat.endswith("]"):
            return None
        at = flat.find("[")
        name = flat[:at] + suffix
        var = self.arrays.get(name)
        if at < 0 or var is None or not var.dims:
            return None
        combo = flat[at + 1:-1].split(",")
        if len(combo) != len(var.dims):
            return None
        k = 0
        for e, d in zip(combo, var.dims):
            where = self._positions.get(d)
            if where is None:
                where = self._positions[d] = {x: i for i, x in enumerate(self.space.elements[d])}
            j = where.get(e)
            if j is None:
                return None
            k = k * len(where) + j
        return name, k

    def display(self, key: str) -> str:
        """The displayed name of `key` without making its variable."""
        var = self.arrays.get(key)
        if var is not None and not var.dims:
            return var.display
        hit = self.split(key)
        if hit is None:
            raise KeyError(key)
        return self._display(hit[0], key)

    def _display(self, name: str, key: str) -> str:
        flat = key[:-len(INITIAL)] if key.endswith(INITIAL) else key
        shown = self.space.display
        return flat_name(self.arrays[name].display, (shown.get(e, e) for e in flat[flat.find("[") + 1:-1].split(",")))

    # -- the mapping ----------------------------------------------------------------
    def __getitem__(self, key: str) -> ir.Variable:
        var = self.arrays.get(key)
        if var is not None and not var.dims:
            return var
        made = self._made.get(key)
        if made is not None:
            return made
        hit = self.split(key)
        if hit is None:
            raise KeyError(key)
        name, k = hit
        var = self.arrays[name]
        if self.is_number(name, k):
            # a number beside equations: a constant, its number read from the hidden array
            numbers = self.arrays[name + NUMBERS]
            made = self._made[key] = replace(numbers, name=key, display=self._display(name, key), dims=(),
                                             expr=numbers.expr.args[k], hidden=var.hidden,
                                             pos=self._defined_at(var, k))
            return made
        values = var.expr.args if isinstance(var.expr, ir.Call) and var.expr.func == "@VALUES" else None
        made = self._made[key] = replace(var, name=key, display=self._display(name, key), dims=(),
                                         expr=values[k] if values is not None else var.expr,
                                         pos=self._defined_at(var, k))
        return made

    def _defined_at(self, var: ir.Variable, k: int):
        """Where element `k` of `var` is defined: the equation of its piece (passes/dense_pieces.py,
        each `@BOX` keeps its definition's position), else the array's."""
        if not (isinstance(var.expr, ir.Call) and var.expr.func == "@PIECES"):
            return var.pos
        positions = []
        for d in reversed(var.dims):
            k, j = divmod(k, len(self.space.elements[d]))
            positions.append(j)
        positions.reverse()
        for box in var.expr.args[::2]:
            at = [int(x.value) for x in box.args]
            if all(a <= p < a + n for a, n, p in zip(at[::2], at[1::2], positions)):
                return box.pos or var.pos
        return var.pos

    def __contains__(self, key) -> bool:
        var = self.arrays.get(key)
        if var is not None:
            return not var.dims
        return isinstance(key, str) and self.split(key) is not None

    def __iter__(self):
        for name, var in self.arrays.items():
            if var.dims:
                yield from self.names(name)
            else:
                yield name

    def __len__(self) -> int:
        return sum(self.size(n) for n in self.arrays)

    def overlay(self, scalars: dict[str, ir.Variable]) -> Elements:
        """These elements with the scalar variables `scalars` replacing or added to the model's."""
        return Elements({**self.arrays, **scalars}, self.ranges)


def element_equation(var: ir.Variable, subscripts: tuple[str, ...], space: SubscriptSpace) -> ir.Expr | None:
    """The equation of one element of `var` (an array the dense route kept, passes/dense.py)
    that a flattened equation names (`name[e1,e2]`): its entry of @VALUES, or the piece
    (@BOX) holding it (passes/dense_pieces.py), else the apply-to-all equation; a scalar's
    own equation; None when `subscripts` are not one element of each of its ranges."""
    if not var.dims:
        return None if subscripts else var.expr
    lists = [space.elements[d] for d in var.dims]
    if len(subscripts) != len(lists) or any(e not in es for e, es in zip(subscripts, lists)):
        return None
    at = [es.index(e) for e, es in zip(subscripts, lists)]
    e = var.expr
    if isinstance(e, ir.Call) and e.func == "@VALUES":
        k = 0
        for p, es in zip(at, lists):
            k = k * len(es) + p
        return e.args[k]
    if isinstance(e, ir.Call) and e.func == "@PIECES":
        for box, piece in zip(e.args[::2], e.args[1::2]):
            bounds = [int(x.value) for x in box.args]
            if all(a <= p < a + n for a, n, p in zip(bounds[::2], bounds[1::2], at)):
                return _lookups_at(piece, {}, lists, [p - a for a, p in zip(bounds[::2], at)])
        return None
    return _lookups_at(e, dict(zip(var.dims, subscripts)), lists, at)


def _lookups_at(e: ir.Expr, at: dict[str, str], lists, counters) -> ir.Expr:
    """`e` at one element of its array, the loop `counters` there: each lookup defined per
    element that it reads at the loop's element (passes/dense_lookups.py) reading the table
    of the element `at` (range -> element), or in a piece (its subscripts affine forms over
    the array's ranges' elements `lists`, dense_pieces.py) the element of its forms; a range
    used as a value (`@INDEX`, `@AFFINE`) the element's position, a number as the
    per-element route has it."""
    def element(j: int, s: str) -> str:
        if s[0] != "@":
            return at.get(s, s)
        c, coeffs = parse_form(s)
        return lists[j][c + sum(a * i for a, i in zip(coeffs, counters))]

    def flat(name: str, subscripts) -> str:
        return flat_name(name[:name.index("[")], (element(j, s) for j, s in enumerate(subscripts)))

    def visit(n):
        if type(n) is ir.Call and n.func == "@INDEX":
            return ir.Num(float(counters[int(n.args[0].value)] + 1))
        if type(n) is ir.Call and n.func == "@AFFINE":
            c, *coeffs = (x.value for x in n.args)
            return ir.Num(float(c + sum(a * i for a, i in zip(coeffs, counters))))
        if type(n) is ir.LookupCall and n.subscripts:
            return ir.LookupCall(flat(n.table, n.subscripts), n.arg, n.pos)
        if type(n) is ir.Ref and n.subscripts and "[" in n.name:    # a lookup function's table
            return ir.Ref(flat(n.name, n.subscripts), (), n.pos)
        return n
    return ir.map_expr(e, visit) if e is not None else None


def elements(space: SubscriptSpace, dims: tuple[str, ...]) -> list[tuple[str, ...]]:
    """An array's element combinations in its slots' order (the last subscript fastest)."""
    combos = [()]
    for d in dims:
        combos = [c + (e,) for c in combos for e in space.elements[d]]
    return combos


def _flat(name: str, lists: list, suffix: str) -> list[str]:
    """`name[e1,e2]suffix` for every combination of the elements in `lists`, the last fastest."""
    if len(lists) == 1:
        return [f"{name}[{e}]{suffix}" for e in lists[0]]
    return [f"{name}[{','.join(c)}]{suffix}" for c in itertools.product(*lists)]


def _literal(e: ir.Expr) -> float:
    return -e.operand.value if isinstance(e, ir.UnaryOp) else e.value


def element_name(name: str, combo) -> str:
    """An array element's flat name, `name[e1,e2]`; the initial values a run gives an
    array of stocks (passes/edits.py) are named after each stock element, as the runtime
    names them (`stock[e1]@initial`)."""
    if name.endswith(INITIAL):
        return flat_name(name[:-len(INITIAL)], combo) + INITIAL
    return flat_name(name, combo)


class ElementOrder(Sequence):
    """A schedule's order (constants, stocks, ...) of dense variables, read as the flat
    names of their elements."""

    def __init__(self, elements: Elements, names):
        self.elements = elements
        self.names = tuple(names)
        self._starts: list[int] | None = None
        self._set: frozenset | None = None
        self._index: dict[str, int] | None = None

    def __reduce__(self):
        return ElementOrder, (self.elements, self.names)

    @property
    def starts(self) -> list[int]:
        if self._starts is None:
            starts = [0]
            for n in self.names:
                starts.append(starts[-1] + self.elements.size(n))
            self._starts = starts
        return self._starts

    def __len__(self) -> int:
        return self.starts[-1]

    def __iter__(self):
        for n in self.names:
            yield from self.elements.names(n)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return list(self)[i]
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(i)
        j = bisect.bisect_right(self.starts, i) - 1
        name = self.names[j]
        return self.elements.name_at(name, i - self.starts[j]) if self.elements.arrays[name].dims else name

    def __contains__(self, key) -> bool:
        if self._set is None:
            self._set = frozenset(self.names)
        if key in self._set:
            return not self.elements.arrays[key].dims
        return self.position(key) is not None

    def position(self, key: str) -> int | None:
        """The position of the flat name `key` in this order, or None."""
        if self._set is None:
            self._set = frozenset(self.names)
        if key in self._set:
            return None if self.elements.arrays[key].dims else self.starts[self._at()[key]]
        hit = self.elements.split(key) if isinstance(key, str) else None
        if hit is not None and hit[0] not in self._set and hit[0] + NUMBERS in self._set \
                and self.elements.is_number(*hit):
            return self.starts[self._at()[hit[0] + NUMBERS]] + hit[1]
        if hit is None or hit[0] not in self._set:
            return None
        return self.starts[self._at()[hit[0]]] + hit[1]

    def _at(self) -> dict[str, int]:
        if self._index is None:
            self._index = {n: j for j, n in enumerate(self.names)}
        return self._index

    def __eq__(self, other) -> bool:
        if isinstance(other, ElementOrder) and other.elements.arrays is self.elements.arrays:
            return other.names == self.names
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    def __hash__(self) -> int:
        return hash(self.names)

    def __repr__(self) -> str:
        return f"ElementOrder({self.names!r})"


class Slots(Mapping):
    """name -> slot of the kernel's state vector: scalars from a dict, an array's elements
    from its first slot (`base`) and their position."""

    def __init__(self, scalars: dict[str, int], base: dict[str, int], elements: Elements):
        self.scalars = scalars
        self.base = base             # every array's first slot
        self.elements = elements
        self._every: dict[str, int] | None = None

    def __reduce__(self):
        return Slots, (self.scalars, self.base, self.elements)

    def __getitem__(self, key: str) -> int:
        s = self.scalars.get(key)
        if s is not None:
            return s
        hit = self.elements.split(key) if isinstance(key, str) else None
        if hit is None or hit[0] not in self.base:
            raise KeyError(key)
        return self.base[hit[0]] + hit[1]

    def __contains__(self, key) -> bool:
        try:
            self[key]
        except KeyError:
            return False
        return True

    def __iter__(self):
        firsts = sorted([(s, n, False) for n, s in self.scalars.items()] + [(s, n, True) for n, s in self.base.items()])
        for _, n, array in firsts:
            if array:
                yield from self.elements.names(n)
            else:
                yield n

    def __len__(self) -> int:
        return len(self.scalars) + sum(self.elements.size(n) for n in self.base)

    def every(self) -> dict[str, int]:
        """Every name's slot in one dict (made once: for reading many elements at once)."""
        if self._every is None:
            every = dict(self.scalars)
            for n, b in self.base.items():
                every.update(zip(self.elements.names(n), range(b, b + self.elements.size(n))))
            self._every = every
        return self._every


def element_schedule(sched):
    """The schedule of a dense model as the runtime reads it: its model's variables and its
    orders by the elements' flat names (`Elements`, `ElementOrder`), made when asked."""
    model = sched.model
    el = Elements(model.variables, model.subscript_ranges)
    order = lambda names: ElementOrder(el, names)
    return replace(sched, model=replace(model, variables=el), constants=order(sched.constants),
                   initial=order(sched.initial), dynamic=order(sched.dynamic), stocks=order(sched.stocks))


def select(variables: Mapping, keep) -> list[str]:
    """The flat names of the variables (elements too) for which `keep(var)` holds, in the
    variables' order, judging each array once by its own variable."""
    if isinstance(variables, Elements):
        return [e for n, v in variables.arrays.items() if keep(v) for e in variables.names(n)]
    return [n for n, v in variables.items() if keep(v)]


def select_shown(variables: Mapping, keep) -> tuple[list[str], list[str]]:
    """`select`'s names and their displayed names."""
    if isinstance(variables, Elements):
        chosen = [n for n, v in variables.arrays.items() if keep(v)]
        return ([e for n in chosen for e in variables.names(n)],
                [e for n in chosen for e in variables.displays(n)])
    names = select(variables, keep)
    return names, [variables[n].display for n in names]


def overlay(variables: Mapping, scalars: dict[str, ir.Variable]) -> Mapping:
    """`variables` with `scalars` replacing or added to them (a dict stays a dict)."""
    if isinstance(variables, Elements):
        return variables.overlay(scalars)
    return {**variables, **scalars}


def slots_of(slots: Mapping[str, int], names) -> list[int]:
    """The slots of the flat names `names` (KeyError for a name with none)."""
    if isinstance(slots, Slots) and len(names) > 64:
        slots = slots.every()
    return [slots[n] for n in names]


def literals(variables: Mapping, order) -> list[float]:
    """The numbers of the constants of `order` (scalars or elements), in its order: an array
    of numbers' elements read from its one equation."""
    if isinstance(order, ElementOrder):
        out = []
        for n in order.names:
            e = order.elements.arrays[n].expr
            out.extend(_literal(x) for x in e.args) if order.elements.arrays[n].dims else out.append(_literal(e))
        return out
    return [_literal(variables[c].expr) for c in order]


class Positions(Mapping):
    """flat name -> position in an `ElementOrder` (the parameter vector's index of a constant)."""

    def __init__(self, order: ElementOrder):
        self.order = order

    def __getitem__(self, key: str) -> int:
        k = self.order.position(key)
        if k is None:
            raise KeyError(key)
        return k

    def __contains__(self, key) -> bool:
        return self.order.position(key) is not None

    def __iter__(self):
        return iter(self.order)

    def __len__(self) -> int:
        return len(self.order)


def positions(order) -> Mapping[str, int]:
    """name -> position in `order` (a schedule's constants), computed when asked for a dense one."""
    if isinstance(order, ElementOrder):
        return Positions(order)
    return {c: i for i, c in enumerate(order)}
