"""Pass 4, the dense route's lookups of arrays: a lookup defined per element
(`tbl[r]( (0,0),(1,1) )`) applied in an apply-to-all equation (`y[r] = tbl[r](x[r])`) keeps
the equation one array.

The lookup's elements stay the per-element route's lookup variables (`tbl[r1]`, ...: tables
are data, no statement of the kernel); the call is
`LookupCall(table=<its first element's name>, arg, subscripts=<the call's subscripts>)`, each
subscript a range of the left-hand side whose elements the lookup's range holds (the element
the loop is at: the lookup's own range, or a subrange of it) or a fixed element, and the code
generator reads the table of the loop's element (backend/dense_vectors.py: the elements'
tables laid out in a row of the table vector). A function of a lookup (`LOOKUP AREA(tbl[r], 0,
x[r])`, the registry's TAKES_LOOKUP) names its table the same way:
`Ref(<its first element's name>, <the call's subscripts>)`.

The data arrays read from files are such lookups of their tables (`x #data`, read at the
element); `data_equation` decides which data equations over arrays stay one array too.
"""
from __future__ import annotations

import itertools

from .. import ir
from .dense_pieces import Refuse
from .flat_exprs import flat_name, number


def lookup_dims(pieces, var: ir.Variable | None) -> tuple[str, ...] | None:
    """The ranges a lookup defined per element covers exactly (one per subscript), or None
    when `var` is no such lookup (`Pieces.lookup_dims`)."""
    return None if var is None else pieces.lookup_dims(var.name)


def is_table(checker, node: ir.Expr) -> bool:
    """Whether `node` names a lookup defined per element with subscripts (a lookup function's
    first argument, `tbl[r]`)."""
    return type(node) is ir.Ref and bool(node.subscripts) and \
        lookup_dims(checker.pieces, checker.model.variables.get(node.name)) is not None


def without_subscripts(checker, node: ir.Expr) -> None:
    """Refuse a read without subscripts (`tbl(x)`, `LOOKUP AREA(tbl, 0, 1)`) of a variable
    defined per element that the dense route does not keep as an array (a lookup defined per
    element): the flattener reports it, by the modeller's name and where it is read, as
    Vensim's help says ("You must use subscript values for a variable consistently throughout
    the model"). It was read as a variable the model does not define."""
    t = type(node)
    if (t is not ir.Ref and t is not ir.LookupCall) or node.subscripts:
        return
    name = node.name if t is ir.Ref else node.table
    var = None if name in checker.dims or name in checker.locals else checker.model.variables.get(name)
    if var is not None and var.definitions and var.definitions[0].subscripts:
        raise Refuse("a subscripted variable read without subscripts")


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


def data_equation(checker, var: ir.Variable) -> bool:
    """Whether `var` is a data equation over whole ranges (`y[R] :KEYWORD: := x[R] * 2`)
    whose points are the same at every element, so that data_equations.py derives them
    once for the array, as the per-element route does for each: each array it reads is a
    data array of one equation whose tables share their times (`x #data`), or one whose
    elements are the same kind of series on both routes (`_same_points`). X IF MISSING
    reads each series apart."""
    d = var.definitions[0]
    if len(var.definitions) != 1 or type(d.expr) is not ir.Call or d.expr.func != ir.DATA_EQUATION:
        return False
    for n in ir.walk(d.expr.args[0]):
        if type(n) is ir.Call and n.func == "X IF MISSING":
            return False
        if type(n) is not ir.Ref or not n.subscripts or n.name not in checker.model.variables:
            continue
        defs = checker.model.variables[n.name].definitions
        tables = checker.model.variables.get(n.name + " #data")
        if tables is not None:   # one equation, one set of times
            if len(defs) != 1 or len({t.lookup.xs for t in tables.definitions if t.lookup is not None}) != 1:
                return False
        elif not all(_same_points(checker.model, x) for x in defs):
            return False
    return True


def _same_points(model: ir.Model, d: ir.Definition) -> bool:
    """Whether definition `d`'s elements are the same kind of series on both routes: a data
    equation, numbers (constants on both), or an expression that is neither a bare range nor
    data read per element (`x[e1] #data`): an ordinary equation on both (a bare range,
    `x[R] = R`, is a constant per element but a loop on the dense route)."""
    e = d.expr
    if d.rows:
        return all(number(v) is not None for row in d.rows for v in row)
    if e is None or number(e) is not None or (type(e) is ir.Call and e.func == ir.DATA_EQUATION):
        return e is not None
    bare = e.operand if type(e) is ir.UnaryOp else e
    return not (type(bare) is ir.Ref and not bare.subscripts and bare.name not in model.variables) \
        and not any(" #data" in r for r in ir.references(e))
