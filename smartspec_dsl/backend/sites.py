"""The call sites of random draws: what makes a draw's stream its own.

A draw is a hash of the call's seed argument, its call site, the step and the run seed
(backend/kernel_random.py). The site says which draw of which element of which variable it
is, by one rule on every route and tier, and from that draw's own variable alone: the j-th
draw of element e of an array of n elements is `first_site(phase, array) + j * n + e`.

- `array` names the variable: the modeller's, or the hidden one that stateful lowering or
  macro expansion made for it (`y #smooth1_1`, `pink noise #call1(y) white noise`, named by
  the variable whose equation made them and counted per variable, passes/stateful/base.py,
  passes/macros.py). Its first site is a hash of that name, so no other variable's draws,
  and no run's edit of another equation (params, a changes file, the stepper's switch, a
  sweep's scenario), moves it.
- `e` is the element's position in the modeller's array that made it (`y`'s elements, in
  definition order, which is element order; its dims' elements when it is kept whole) and
  `n` that array's number of elements: an edit that replaces one element's equation (and so
  leaves out the hidden variables it made) moves no other element's draws.
- `j` counts the element's draws in its own equation, in the order they are written.

Sites are negative 64-bit integers: the interpreter's tape tags the addresses it places
later with words from 2**39 up (backend/tape.py), which a site never is.
"""
from __future__ import annotations

import hashlib
import re

from .. import ir
from ..ir.ranges import SubscriptSpace
from ..passes.elements import element_name, elements

_CALL = re.compile(r"call\d+\(")
# the arrays the dense route makes before lowering (passes/dense_memory.py, dense_orders.py),
# which a run's edits of the array's elements keep: their elements' draws are theirs
_KEPT = re.compile(r"(?:memory|arg|order)\d+(?= #|$)")
_SPAN = 1 << 61          # the width of the first sites' range (below it, every array's draws)


def first_site(phase: int, array: str) -> int:
    """The first call site of `array`'s draws in `phase` (0: the step's, 1: the
    initialisation's, apart: a run that continues a saved state leaves out the
    initialisation's draws of its stocks, passes/edits.py): a 61-bit hash of both, shifted
    below -2**61, so that an array's sites (first + j * n + e, below 2**61 more) stay negative.
    Two arrays' sites meet only when their hashes fall within one array's range."""
    digest = hashlib.blake2b(f"{phase}\0{array}".encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "big") >> 3) - 2 * _SPAN


def owner_of(name: str) -> str:
    """The modeller's variable whose equation made the hidden variable `name` (an array's
    name, no element): `y` of `y #smooth1_1`, of a macro's copy `m #call1(y) local`, and of
    what those make in turn (`m #call1(y) local #delay3_1`, `n #call1(m #call1(y) x) z`);
    `name` itself for a modeller's variable. The dense route's hidden arrays made before
    lowering own what lowering makes of them (`y #memory1` of `y #memory1 #smooth1_1`)."""
    while " #" in name:
        head, rest = name.split(" #", 1)
        kept = _KEPT.match(rest)
        if kept:     # an array the dense route made of x's before lowering: an owner of its own
            return f"{head} #{kept.group(0)}"
        if not _CALL.match(rest):
            name = head
            continue
        depth, start = 0, rest.index("(")
        for i in range(start, len(rest)):
            depth += {"(": 1, ")": -1}.get(rest[i], 0)
            if depth == 0:
                break
        name = rest[start + 1:i]
    return name


def site_arrays(model: ir.Model, array_size) -> dict[str, tuple[str, int, int]]:
    """Each variable's array as the call sites see it: (array, element position, number of
    elements; see the module's doc). An array kept whole (`dims`) is one array of its own
    size, `array_size(name)` (its loop adds the element's position); a scalar is an array of
    one; an element of a flattened array (`x[e1,e2]`, the flattener's name, and so are
    `x #smooth1_3[e1,e2]`, `m #call1(x) y[e1,e2]`) belongs to its array's name, at the
    position of its element in the array that made it (`owner_of`); an element no such
    array lists (a hidden one of another shape) takes its rank in its own array."""
    vs = model.variables
    members: dict[str, list[tuple[str, str]]] = {}
    for n, var in vs.items():
        base, at = (n, "") if var.dims else ir.split_element(n)
        members.setdefault(base, []).append((n, at))
    out: dict[str, tuple[str, int, int]] = {}
    positions: dict[str, dict[str, int]] = {}
    space: list[SubscriptSpace] = []       # made once, if an array kept whole made flattened ones
    for base, names in members.items():
        if len(names) == 1 and not names[0][1]:
            n = names[0][0]
            out[n] = (base, 0, array_size(n) if vs[n].dims else 1)
            continue
        owner = owner_of(base)
        if owner not in positions:
            positions[owner] = _positions(model, owner, members.get(owner, []), space)
        at = positions[owner]
        if not all(a in at for _, a in names):
            at = {a: e for e, (_, a) in enumerate(names)}
        out.update((n, (base, at[a], len(at))) for n, a in names)
    return out


def _positions(model: ir.Model, owner: str, names: list[tuple[str, str]], space: list) -> dict[str, int]:
    """The position of each element (`[e1,e2]`) among the elements of the modeller's array
    `owner` (its flat `names`, or its dims' elements when it is kept whole; `space` holds the
    model's SubscriptSpace once made)."""
    var = model.variables.get(owner)
    if var is not None and var.dims:
        space[:] = space or [SubscriptSpace(model.subscript_ranges)]
        return {ir.split_element(element_name(owner, c))[1]: e for e, c in enumerate(elements(space[0], var.dims))}
    return {a: e for e, (_, a) in enumerate(names) if a}
