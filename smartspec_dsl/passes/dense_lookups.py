"""Pass 4, the dense route's lookups of arrays: a lookup defined per element
(`tbl[r]( (0,0),(1,1) )`) applied in an apply-to-all equation (`y[r] = tbl[r](x[r])`) keeps
the equation one array.

The lookup's elements stay the per-element route's lookup variables (`tbl[r1]`, ...: tables
are data, no statement of the kernel); the call is
`LookupCall(table=<its first element's name>, arg, subscripts=<the call's subscripts>)`, each
subscript a range of the left-hand side whose elements the lookup's range holds (the element
the loop is at: the lookup's own range, or a subrange of it) or a fixed element, and the code generator reads the table of the loop's element
(backend/dense_vectors.py: the elements' tables laid out in a row of the table vector). A
function of a lookup (`LOOKUP BACKWARD(tbl[r], x[r])`, the registry's emit LOOKUP) names its
table the same way: `Ref(<its first element's name>, <the call's subscripts>)`.
"""
from __future__ import annotations

import itertools

from .. import ir
from .dense_pieces import Refuse
from .flat_exprs import flat_name


def lookup_dims(pieces, var: ir.Variable | None) -> tuple[str, ...] | None:
    """The ranges a lookup defined per element covers exactly (one per subscript), or None
    when `var` is no such lookup (`Pieces.lookup_dims`)."""
    return None if var is None else pieces.lookup_dims(var.name)


def is_table(checker, node: ir.Expr) -> bool:
    """Whether `node` names a lookup defined per element with subscripts (a lookup function's
    first argument, `tbl[r]`)."""
    return type(node) is ir.Ref and bool(node.subscripts) and \
        lookup_dims(checker.pieces, checker.model.variables.get(node.name)) is not None


def check(checker, node: ir.LookupCall | ir.Ref, lhs: tuple[str, ...]) -> None:
    """Refuse a call of a lookup of an array (or a function's reference to one) that the
    loop cannot read element by element."""
    table = node.table if type(node) is ir.LookupCall else node.name
    dims = lookup_dims(checker.pieces, checker.model.variables.get(table))
    if dims is None or len(dims) != len(node.subscripts):
        raise Refuse("a lookup of an array")
    sp = checker.space
    for s, d in zip(node.subscripts, dims):
        if sp.is_range(s):
            # the loop reads the tables of the left-hand side's elements by name (a subrange's)
            if s not in lhs or not set(sp.elements[s]) <= set(sp.elements[d]):
                raise Refuse("a lookup of an array through a mapping")
        elif s.endswith("!"):
            raise Refuse("a lookup of an array inside an array function")
        elif s not in sp.elements[d]:
            raise Refuse("a lookup of an array at an element of another range")


def rewrite(space, node: ir.LookupCall | ir.Ref, lhs: tuple[str, ...]) -> ir.LookupCall | ir.Ref:
    """The dense IR of a call (or a function's table) `check` took (see the module's doc)."""
    first = next(itertools.product(*(space.elements[s] if s in lhs else (s,) for s in node.subscripts)))
    subs = node.subscripts if any(s in lhs for s in node.subscripts) else ()
    if type(node) is ir.Ref:
        return ir.Ref(flat_name(node.name, first), subs, node.pos)
    return ir.LookupCall(flat_name(node.table, first), node.arg, node.pos, subs)
