"""Data equations, `name :KEYWORD: := expression`, as Vensim's help defines them ("Data
Equations", "X IF MISSING"): the expression is computed from other data and constants at the
times of their points only, and where some of its data have no point at a time it "will not
be computed at all"; so a data equation's points are the times at which every data series it
reads has one. Between them its keyword says what it is (":INTERPOLATE:", the default, a
straight line between the two points around; ":HOLD BACKWARD:" the last point's value;
":LOOK FORWARD:" the next one's; ":RAW:" :NA:), as for data read from a file
(frontend/external.py); beyond its first and last points it holds their values (:RAW: is :NA:).
`name := X IF MISSING(expression, number)` is computed at the points of any of its data, the
number in place of each series that has no point there (help, "X IF MISSING").

The front end and macro expansion mark each such expression (ir.data_equation); this pass,
after macro expansion (a macro's `Y :RAW: := input` is one too), replaces the mark. Its
series are the data variables read from files (their hidden '#data' tables give the points),
other data equations (already given theirs), and the model's aliases of them (a macro's
input); a data equation that reads anything else (an ordinary variable, which Vensim allows
inside macros only) or calls a data or stateful function (TIME SHIFT, CUMULATE, ...: they
take the series themselves) has no points of its own and is computed at every time, as an
ordinary equation.
"""
from __future__ import annotations

from dataclasses import replace

from .. import ir
from ..frontend.external import RAW_MATCH
from ..errors import ModelError
from ..ir.builtins import BUILTINS, KERNEL, RANDOM_DRAW
from ..ir.ranges import SubscriptSpace
from .edits import series_table
from .elements import element_equation
from .flat_exprs import flat_name, number as _number

_TABLE_SUFFIX = " #data"


def _marked(e: ir.Expr | None) -> bool:
    return isinstance(e, ir.Call) and e.func == ir.DATA_EQUATION


def _missing_filled(e: ir.Expr) -> tuple[ir.Expr, ir.Expr | None]:
    """(the expression, X IF MISSING's number) of `X IF MISSING(expression, number)`, else (e, None)."""
    if isinstance(e, ir.Call) and e.func == "X IF MISSING" and len(e.args) == 2:
        return e.args[0], e.args[1]
    return e, None


def _pure(e: ir.Expr) -> bool:
    """Whether `e` is a function of its references' values alone (no data or stateful
    function, nothing that reads the clock or draws a random number), so that it can be
    computed at another time from their values then."""
    for n in ir.walk(e):
        if isinstance(n, ir.Call):
            b = BUILTINS.get(n.func)
            if b is None or b.stage != KERNEL or b.clocked or b.emit == RANDOM_DRAW:
                return False
    return True


def _at_time(e: ir.Expr, when: ir.Expr) -> ir.Expr:
    """`e` with Time replaced by `when`."""
    return ir.map_expr(e, lambda n: when if isinstance(n, ir.Ref) and n.name == ir.TIME and not n.subscripts else n)


def _file_table(expr: ir.Expr | None, variables: dict[str, ir.Variable]) -> ir.LookupTable | None:
    """The table of points of a data variable read from a file (its hidden '#data' lookup),
    from its equation `expr`."""
    for node in ir.walk(expr) if expr is not None else ():
        name = node.table if isinstance(node, ir.LookupCall) else node.name if isinstance(node, ir.Ref) else ""
        if name.partition("[")[0].endswith(_TABLE_SUFFIX) and name in variables and variables[name].lookup is not None:
            return variables[name].lookup
    return None


def _value_at(expr: ir.Expr, when: ir.Expr, at, key) -> ir.Expr:
    """A data equation's expression at `when`, one of its points: each series it reads at
    `when` (`at`, by the series' `key`), and Time, which has a value at every time, `when` itself."""
    def visit(n):
        if isinstance(n, ir.Ref) and n.name == ir.TIME and not n.subscripts:
            return when
        if isinstance(n, ir.Ref) and key(n) is not None:
            return at(key(n), when)
        return n
    return ir.map_expr(expr, visit)


def derive_data(model: ir.Model) -> ir.Model:
    """Replace each data equation's mark by its value from its points (module docstring)."""
    variables = dict(model.variables)
    pending = [n for n, v in variables.items() if _marked(v.expr)]
    if not pending:
        return model
    points: dict[str, tuple[float, ...]] = {}      # a series' points, once known
    readers: dict = {}                             # a data equation's value at one of its points
    # one element of an array the dense route kept (a data array read from a file), named as a
    # flattened equation names it, `v[e1]`: (its equation, its display)
    elements: dict[str, tuple[ir.Expr, str]] = {}
    space = SubscriptSpace(model.subscript_ranges)

    def key(n: ir.Ref) -> str | None:
        """The series a reference reads: a variable's name, or an element's (`v[e1]`); None
        for a range of an array (not one series)."""
        var = variables.get(n.name)
        if not n.subscripts or var is None or not var.dims:
            return n.name if not n.subscripts else None
        if n.subscripts == var.dims:
            # a whole array, read at the element by a data equation over the same ranges, whose
            # points are the same at every element (passes/dense.py keeps only those)
            return n.name
        name = flat_name(n.name, n.subscripts)
        if name not in elements:
            e = element_equation(var, n.subscripts, space)
            if e is None:
                return None
            elements[name] = (e, flat_name(var.display, map(space.shown, n.subscripts)))
        return name

    def source(name: str) -> str:
        """Through the model's aliases (a macro's input: `input = historical`)."""
        seen = set()
        while name not in seen and name in variables:
            seen.add(name)
            e = variables[name].expr
            if not (isinstance(e, ir.Ref) and not e.subscripts and variables[name].kind is ir.Kind.AUXILIARY):
                break
            name = e.name
        return name

    def series_points(name: str):
        """A series' points; () for a constant; None for anything else (or not known yet)."""
        if name in elements:
            if _number(elements[name][0]) is not None:
                return ()     # a number, as the per-element route's constant element
            table = _file_table(elements[name][0], variables)
            return None if table is None else tuple(table.xs)
        name = source(name)
        var = variables.get(name)
        if var is None or name in pending:
            return None
        if name in points:
            return points[name]
        if var.kind is ir.Kind.CONSTANT:
            return ()
        table = _file_table(var.expr, variables)
        return None if table is None else tuple(table.xs)

    def at(name: str, when: ir.Expr) -> ir.Expr:
        """A series' value at `when`, one of its points."""
        if name in elements:
            return _at_time(elements[name][0], when)
        name = source(name)
        if name in readers:
            return readers[name](when)
        var = variables[name]
        return ir.Ref(name, var.dims, var.pos) if var.kind is ir.Kind.CONSTANT else _at_time(var.expr, when)

    def filled_at(number: ir.Expr):
        """X IF MISSING's reading of a series at `when`: its value where it has a point
        there, else `number`."""
        def read(name: str, when: ir.Expr) -> ir.Expr:
            xs = series_points(name)
            if not xs:
                return at(name, when)
            times = f"{source(name)} #data times"
            shown = elements[name][1] if name in elements else variables[source(name)].display
            if times not in variables:
                variables[times] = ir.Variable(times, f"{shown} (its data times)",
                                               ir.Kind.LOOKUP, lookup=ir.LookupTable(xs, xs), hidden=True)
            # read at the series' own last point (`when` itself on a point), never beyond its
            # data: the number stands in there, and the read is not a lookup out of range
            last = ir.Call("LOOKUP BACKWARD", (ir.Ref(times), when))
            return ir.Call("IF THEN ELSE", (_on_point(times, when), at(name, last), number))
        return read

    while pending:
        progressed = False
        for name in list(pending):
            var = variables[name]
            expr, keyword = var.expr.args[0], ir.DATA_KEYWORDS[int(var.expr.args[1].value)]
            expr, number = _missing_filled(expr)
            refs = {key(n) for n in ir.walk(expr) if isinstance(n, ir.Ref) and n.name != ir.TIME}
            if any(source(r) in pending and source(r) != name for r in refs):
                continue                           # after the data equations it reads
            pending.remove(name)
            progressed = True
            for r in refs:
                replaced = variables.get(source(r))
                if (replaced is not None and isinstance(replaced.expr, ir.LookupCall)
                        and replaced.expr.table == series_table(replaced.name)
                        and f"{replaced.name}{_TABLE_SUFFIX}" in variables):
                    # a run's time series has no points known before the run
                    raise ModelError(f"{var.pos}: the data equation of '{var.display}' reads the data "
                                     f"variable '{replaced.display}', which this run replaces by a time "
                                     "series: a data equation takes its points from the data, so give "
                                     "that series as a data file (--data) instead")
            found = [series_points(r) if r is not None else None for r in refs]
            if not _pure(expr) or any(p is None for p in found) or all(p == () for p in found):
                variables[name] = replace(var, kind=ir.Kind.AUXILIARY, expr=expr)   # not a series
                continue
            sets = [set(p) for p in found if p != ()]
            # X IF MISSING: at every point of any of its data (help, "X IF MISSING")
            xs = set.union(*sets) if number is not None else set.intersection(*sets)
            read = at if number is None else filled_at(number)
            readers[name] = lambda when, expr=expr, read=read: _value_at(expr, when, read, key)
            points[name] = tuple(sorted(xs))
            variables.update(_series(var, readers[name], keyword, points[name]))
        if not progressed:                         # data equations reading each other
            for name in pending:
                variables[name] = replace(variables[name], kind=ir.Kind.AUXILIARY,
                                          expr=variables[name].expr.args[0])
            break
    return replace(model, variables=variables)


def _on_point(times: str, when: ir.Expr) -> ir.Expr:
    """Whether `when` is one of the points of the lookup `times` (up to Time's rounding)."""
    last = ir.Call("LOOKUP BACKWARD", (ir.Ref(times), when))
    return ir.BinOp("<=", ir.Call("ABS", (ir.BinOp("-", when, last),)),
                    ir.BinOp("*", ir.Num(RAW_MATCH), ir.Ref("time step")))


def _series(var: ir.Variable, value_at, keyword: str, xs: tuple[float, ...]) -> dict[str, ir.Variable]:
    """The data equation `var` (and its hidden helpers) from its points `xs` and its value at
    one of them (`value_at(when)`)."""
    pos = var.pos
    time = ir.Ref(ir.TIME, (), pos)
    if not xs:                                     # never computed: no value at any time
        return {var.name: replace(var, kind=ir.Kind.AUXILIARY, expr=ir.Num(ir.NA_VALUE))}
    times = f"{var.name} #data times"
    out = {times: ir.Variable(times, f"{var.display} (its data times)", ir.Kind.LOOKUP,
                              lookup=ir.LookupTable(xs, xs), pos=pos, hidden=True)}
    last = ir.Call("LOOKUP BACKWARD", (ir.Ref(times, (), pos), time), pos)
    following = ir.Call("LOOKUP FORWARD", (ir.Ref(times, (), pos), time), pos)

    if keyword == "RAW":
        value = ir.Call("IF THEN ELSE", (_on_point(times, time), value_at(last), ir.Num(ir.NA_VALUE)), pos)
    elif keyword == "HOLD BACKWARD":
        value = value_at(last)
    elif keyword == "LOOK FORWARD":
        value = value_at(following)
    else:                                          # a straight line between the points around
        # (over the array's ranges for a data equation the dense route keeps, passes/dense.py)
        before, after = f"{var.name} #at last point", f"{var.name} #at next point"
        out[before] = ir.Variable(before, f"{var.display} (at its last point)", ir.Kind.AUXILIARY,
                                  expr=value_at(last), pos=pos, hidden=True, dims=var.dims)
        out[after] = ir.Variable(after, f"{var.display} (at its next point)", ir.Kind.AUXILIARY,
                                 expr=value_at(following), pos=pos, hidden=True, dims=var.dims)
        b, a = ir.Ref(before, var.dims, pos), ir.Ref(after, var.dims, pos)
        span = ir.BinOp("-", following, last)
        line = ir.BinOp("+", b, ir.BinOp("/", ir.BinOp("*", ir.BinOp("-", a, b), ir.BinOp("-", time, last)), span))
        value = ir.Call("IF THEN ELSE", (ir.BinOp(">", span, ir.Num(0.0)), line, b), pos)
    out[var.name] = replace(var, kind=ir.Kind.AUXILIARY, expr=value)
    return out


def no_data_equations(model: ir.Model) -> str | None:
    """The pass's contract: no data equation left marked."""
    var = next((v for v in model.variables.values() if _marked(v.expr)), None)
    return None if var is None else f"'{var.display}' is still a marked data equation"
