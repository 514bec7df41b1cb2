"""The model IR: the contract between passes.

Expressions are immutable trees. Names in the IR are canonical (see
`canonical_name`); each variable keeps the modeller's spelling for output.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields
from enum import Enum
from functools import lru_cache
from typing import ClassVar, Iterator, TypeVar, Union

from ..errors import ModelError, SourcePos
from .constants import NA_VALUE  # noqa: F401  (Vensim's :NA:, here for the passes)


@lru_cache(maxsize=1 << 16)    # a pure function of the text, asked again for every use of a name
def canonical_name(text: str) -> str:
    """Vensim names ignore case and treat runs of spaces/underscores as one space."""
    text = text.strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        text = text[1:-1].replace('\\"', '"')
    text = re.sub(r"\\[ \t]*\r?\n", " ", text)
    return re.sub(r"[\s_]+", " ", text).strip().lower()


def _quoted_end(text: str, start: int) -> int:
    """The index of the quote closing the quoted name that opens at `start` (a backslash
    escapes a quote inside it, as in the model file); -1 when it is not closed."""
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i
        i += 1
    return -1


def split_reference(text: str) -> tuple[str, list[str] | None]:
    """A name as a modeller writes it outside the model file (a run's params, a changes
    file's line, `--set`, a sweep's spec, an output's name), as written: (the variable's name,
    its subscripts or None), each still in the modeller's spelling. The spellings the model
    file accepts are accepted: the name and each subscript bare or in double quotes
    (`"cost/unit"[r2]`, `Growth Rate["r3"]`), so a quoted name may hold brackets and commas.
    Text that is no name and subscript list is returned whole, with no subscripts, for the
    caller's "not a variable" message."""
    text = text.strip()
    if text.startswith('"'):
        end = _quoted_end(text, 0)
        if end < 0:
            return text, None
        head, rest = text[:end + 1], text[end + 1:].strip()
    else:
        cut = text.find("[")
        head, rest = (text, "") if cut < 0 else (text[:cut].strip(), text[cut:])
    if not rest:
        return head, None
    if not (rest.startswith("[") and rest.endswith("]")):
        return text, None
    subs, i, inner, start = [], 0, rest[1:-1], 0
    while i < len(inner):
        if inner[i] == '"':
            end = _quoted_end(inner, i)
            if end < 0:
                return text, None
            i = end + 1
            continue
        if inner[i] in "[]":
            return text, None
        if inner[i] == ",":
            subs.append(inner[start:i].strip())
            start = i + 1
        i += 1
    subs.append(inner[start:].strip())
    return head, subs


def read_reference(text: str) -> tuple[str, tuple[str, ...] | None]:
    """`split_reference` in canonical names: (the variable's canonical name, its subscripts'
    canonical names or None). The one reading of a modeller's name given from outside the
    model file: `canonical_reference` and the runtime's `Names.elements` use it."""
    head, subs = split_reference(text)
    return canonical_name(head), None if subs is None else tuple(canonical_name(s) for s in subs)


def canonical_reference(text: str) -> str:
    """canonical_name of a name as a modeller writes it, an element `Name[a, b]` too
    (`read_reference`: quoted or not, `"Name"["a", b]`): the flat name `name[a,b]`."""
    name, subs = read_reference(text)
    return name if subs is None else f"{name}[{','.join(subs)}]"


_ELEMENT = re.compile(r"(.+)(\[[^\[\]]*\])")


def split_element(name: str) -> tuple[str, str]:
    """A flattened element's name `x[e1,e2]` as its array's name and its subscripts,
    ("x", "[e1,e2]"); any other name as (name, "")."""
    m = _ELEMENT.fullmatch(name)
    return (m.group(1), m.group(2)) if m else (name, "")


def canonical_function(text: str) -> str:
    return re.sub(r"[\s_]+", " ", text).strip().upper()


_RANGE = re.compile(r"\[\s*([^,\]]*?)\s*,\s*([^,\]]*?)\s*(?:,[^\]]*)?\]\s*$")


def declared_range(units: str) -> tuple[float, float] | None:
    """The range [min, max] (or [min, max, step]) a units field ends with, as
    (min, max) with -inf/inf for '?'; None when it declares none or only '?'s.
    Vensim's help, "Units and ranges": the range bounds the variable's values."""
    m = _RANGE.search(units or "")
    if m is None:
        return None
    bounds = []
    for text, missing in zip(m.groups(), (-math.inf, math.inf)):
        try:
            bounds.append(missing if text in ("", "?") else float(text))
        except ValueError:
            return None
    if bounds == [-math.inf, math.inf]:
        return None
    return bounds[0], bounds[1]


# ---- expressions -----------------------------------------------------------

@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Str:
    value: str


@dataclass(frozen=True)
class Ref:
    name: str
    subscripts: tuple[str, ...] = ()
    pos: SourcePos | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Call:
    """A builtin function call (`func` is canonical upper case, e.g. 'IF THEN ELSE')."""
    func: str
    args: tuple["Expr", ...]
    pos: SourcePos | None = field(default=None, compare=False)
    # a macro call's extra outputs `NAME(a, b : x, y)`: the model variables it defines, as written
    outputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class LookupCall:
    """Applying a lookup variable to an argument: `table(x)`."""
    table: str
    arg: "Expr"
    pos: SourcePos | None = field(default=None, compare=False)
    subscripts: tuple[str, ...] = ()


@dataclass(frozen=True)
class LookupTable:
    xs: tuple[float, ...]
    ys: tuple[float, ...]
    # the lookup (a flat name, `tbl[g2]`) whose table this is a copy of (passes/dense_lift.py's
    # hidden lookups): the code generator files it under that name, so that a run replacing
    # that lookup's table (params, a changes file) replaces the copy too
    source: str = field(default="", compare=False)


def check_increasing(xs, where, labels=None) -> None:
    """A lookup's x values, in Vensim's x order, must increase: a table with two points at
    one x gives that input two values, and interpolating it has no meaning. `labels`:
    where each x was read (a data file's cell), named in the error."""
    for i, (a, b) in enumerate(zip(xs, xs[1:])):
        if not b > a:
            at = f" ({labels[i]} and {labels[i + 1]})" if labels else ""
            raise ModelError(f"{where}: the x values of a lookup must be increasing: "
                             f"x = {a:g} is followed by x = {b:g}{at}")


def table_in_x_order(points, where, what: str = "a lookup", labels=None) -> tuple[LookupTable, str]:
    """The lookup of (x, y) `points` read in x order, as Vensim reads them (its output for
    a table written (2,-3),(1,-7),(0,-1) is the sorted table's: the SDXorg case
    subscripted_lookups), and the warning to give when that changed their order ("" when
    they were in order). A point written twice, (1986,46),(1986,46) in a published model
    that Vensim runs, is the same table read once (with a warning); two points at one x with
    different y values are an error (`check_increasing`). Every source of a lookup goes
    through this (the model's tables, XMILE's graphical functions, the GET ... LOOKUPS/DATA
    calls and data files, whose `labels` name each point's cell)."""
    points = list(points)
    labels = list(labels) if labels is not None else None
    notices = []
    for i, ((a, _), (b, _)) in enumerate(zip(points, points[1:])):
        if b < a:
            at = f" ({labels[i]} and {labels[i + 1]})" if labels else ""
            notices.append(f"{where}: the x values of {what} are not in increasing order (x = {a:g} "
                           f"is followed by x = {b:g}{at}): its points are read in x order, as Vensim reads them")
            break
    order = sorted(range(len(points)), key=lambda i: points[i][0])
    once = [i for k, i in enumerate(order) if k == 0 or points[i] != points[order[k - 1]]]
    if len(once) < len(order):
        twice = next(points[i] for k, i in enumerate(order) if k and points[i] == points[order[k - 1]])
        notices.append(f"{where}: {what} gives the point ({twice[0]:g}, {twice[1]:g}) more than once: "
                       "it is read once")
    for i, k in zip(once, once[1:]):
        if points[i][0] == points[k][0]:
            at = f" ({labels[i]} and {labels[k]})" if labels else ""
            raise ModelError(f"{where}: {what} gives two points at x = {points[i][0]:g} with different y "
                             f"values ({points[i][1]:g} and {points[k][1]:g}){at}: a lookup gives each "
                             "input one value")
    points = [points[i] for i in once]
    check_increasing([p[0] for p in points], where, [labels[i] for i in once] if labels else None)
    return LookupTable(tuple(p[0] for p in points), tuple(p[1] for p in points)), "; ".join(notices)


@dataclass(frozen=True)
class BinOp:
    op: str  # + - * / ^ = <> < <= > >= and or
    left: "Expr"
    right: "Expr"


@dataclass(frozen=True)
class UnaryOp:
    op: str  # - not
    operand: "Expr"


Expr = Union[Num, Str, Ref, Call, LookupCall, LookupTable, BinOp, UnaryOp]


def children(e: Expr) -> tuple:
    kids = _CHILDREN.get(type(e))
    return kids(e) if kids is not None else ()


# by exact type: the expression classes have no subclasses, and one dictionary look-up is
# several times faster than a chain of isinstance tests (every pass walks every equation)
_CHILDREN = {Call: lambda e: e.args, LookupCall: lambda e: (e.arg,),
             BinOp: lambda e: (e.left, e.right), UnaryOp: lambda e: (e.operand,)}


def walk(e: Expr) -> Iterator[Expr]:
    stack = [e]
    pop, extend, get = stack.pop, stack.extend, _CHILDREN.get
    while stack:
        node = pop()
        yield node
        kids = get(type(node))
        if kids is not None:
            extend(kids(node))


def references(e: Expr | None) -> set[str]:
    """Variables an expression reads (lookups applied count as reads)."""
    if e is None:
        return set()
    out = set()
    for node in walk(e):
        if isinstance(node, Ref):
            out.add(node.name)
        elif isinstance(node, LookupCall):
            out.add(node.table)
    return out


def with_children(e: Expr, kids) -> Expr:
    """`e` with its children (as `children(e)` lists them) replaced by `kids`."""
    t = type(e)
    if t is Call:
        return _copied(e, args=tuple(kids))
    if t is LookupCall:
        return _copied(e, arg=kids[0])
    if t is BinOp:
        return _copied(e, left=kids[0], right=kids[1])
    if t is UnaryOp:
        return _copied(e, operand=kids[0])
    return e


def _copied(e: Expr, **changes) -> Expr:
    """dataclasses.replace for the expression classes (no __post_init__, no slots), several
    times faster: the passes rebuild every node they rewrite, hundreds of thousands in a
    flattened model."""
    new = object.__new__(type(e))
    new.__dict__.update(e.__dict__)
    new.__dict__.update(changes)
    return new


def map_expr(e: Expr, fn) -> Expr:
    """Rebuild `e` bottom-up, replacing each node by fn(node-with-new-children).
    Iterative, so an expression of any depth is fine."""
    done: list = []
    todo: list = [(e, False)]
    while todo:
        node, ready = todo.pop()
        kids = children(node)
        if ready:
            new = done[len(done) - len(kids):] if kids else []
            if kids:
                del done[len(done) - len(kids):]
            # a node whose children came back unchanged is kept, not copied: most
            # rewrites touch a few nodes, and rebuilding frozen dataclasses dominates
            changed = any(a is not b for a, b in zip(new, kids))
            done.append(fn(with_children(node, new) if changed else node))
        else:
            todo.append((node, True))
            todo.extend((k, False) for k in reversed(kids))
    return done[0]


def depth(e: Expr) -> int:
    """The number of nodes on the longest path from `e` to a leaf (iterative)."""
    deepest, todo = 0, [(e, 1)]
    while todo:
        node, d = todo.pop()
        deepest = max(deepest, d)
        todo.extend((k, d + 1) for k in children(node))
    return deepest


# ---- variables and models ----------------------------------------------------

class Kind(str, Enum):
    STOCK = "stock"
    FLOW = "flow"
    AUXILIARY = "auxiliary"
    CONSTANT = "constant"
    LOOKUP = "lookup"
    DATA = "data"


@dataclass(frozen=True)
class Definition:
    """One equation of a variable as written, kept for subscripted variables
    (one variable may be defined piecewise over its subscript ranges)."""
    subscripts: tuple[str, ...]
    excepts: tuple[tuple[str, ...], ...]
    operator: str
    expr: Expr | None
    rows: tuple[tuple[Expr, ...], ...] = ()
    lookup: LookupTable | None = None
    pos: SourcePos | None = None
    keyword: str = ""              # a data variable's :INTERPOLATE: / :RAW: / ... (upper case)


@dataclass(frozen=True)
class Variable:
    name: str                      # canonical
    display: str                   # as first written, for output columns
    kind: Kind
    expr: Expr | None = None       # equation; for a stock, its net rate
    initial: Expr | None = None    # stock's initial value; ACTIVE INITIAL's initial value
    lookup: LookupTable | None = None
    units: str = ""
    comment: str = ""
    pos: SourcePos | None = None
    dims: tuple[str, ...] = ()     # subscript ranges this variable spans
    definitions: tuple[Definition, ...] = ()
    hidden: bool = False           # introduced by lowering; not an output column
    discrete: bool = False         # lowered stock whose `expr` is its next value, not a rate
    unchangeable: bool = False     # defined with '=='
    # a lookup that is a data series' points (x: times). Vensim's help ("Data Equations"): data
    # have values at their points only, the keyword fixes them between points; beyond the first
    # and last, Vensim's runs hold those values and say nothing: data are not a lookup called
    # out of its range, so no watch of its input (backend/emit.py); a lookup table's stays
    series: bool = False
    # the group (Vensim's `*** .Name ***` header) the equation is written under, "" for none;
    # documentation only, so two variables that differ only here are the same variable
    group: str = field(default="", compare=False)


@dataclass(frozen=True)
class SubscriptRange:
    name: str
    elements: tuple[str, ...]
    mapping: tuple[str, ...] = ()
    pos: SourcePos | None = None
    display: tuple[str, ...] = ()  # the elements as the modeller wrote them
    # per mapping target: the target elements listed for each element, or () for positional
    mapping_elements: tuple[tuple[str, ...], ...] = ()
    written: str = ""              # the range's name as the modeller wrote it (outputs' dimensions)


@dataclass(frozen=True)
class Macro:
    name: str
    params: tuple[str, ...]
    outputs: tuple[str, ...]
    variables: tuple[Variable, ...]
    pos: SourcePos | None = None


class Stage(str, Enum):
    """How far the passes have taken a model. passes/pipeline.py moves a model
    to the next stage only after checking the contract of the pass that ran."""
    PARSED = "parsed"                          # as written: subscripts, macros, GET ... calls
    EXTERNAL_READ = "external data read"       # no GET XLS/DIRECT call left
    FLAT = "flat"                              # nothing subscripted, no array function left
    MACROS_EXPANDED = "macros expanded"        # no macro left
    LOWERED = "lowered"                        # no stateful call left: memory is stocks


@dataclass(frozen=True)
class Decision:
    """A value the lowering computed from the model's constants because it shapes
    the equations (a SMOOTH N order, ...). `rule` names the function of
    `passes/stateful/rules.py::RULES` that computes `result` from `args`; a run whose constants give
    another result runs a kernel lowered with them (see runtime)."""
    rule: str
    args: tuple[Expr, ...]
    result: tuple
    pos: SourcePos | None = None


@dataclass(frozen=True)
class Model:
    """A model as the front end parsed it. Its class says its stage: each stage the
    passes reach has its own subclass below (same fields, `stage` its Stage), and
    passes/pipeline.py moves a model into the next one (`at_stage`) only after checking
    the contract of the pass that ran; `order.schedule` takes only a `LoweredModel`."""
    source: str
    variables: dict[str, Variable]
    subscript_ranges: dict[str, SubscriptRange] = field(default_factory=dict)
    macros: dict[str, Macro] = field(default_factory=dict)
    method: str = ""               # integration method the file asks for (XMILE sim_specs), "" = euler
    decisions: tuple[Decision, ...] = ()   # set by lowering
    # what the front end changed or doubts, located ("file:line:col: ..."): given with every
    # run's warnings (Result.warnings) and by `smartspec check`
    notices: tuple[str, ...] = ()
    # (notice, variable): a notice about the points of that variable's own lookup table,
    # which a run that replaces the variable does not use (it is not given with that run);
    # or (notice, RK4_SETTINGS): the file's RK4 settings, not given with a run of another method
    notice_owners: tuple[tuple[str, str], ...] = ()
    # the file each `?name` of a GET call stands for by the model's own settings (a Vensim
    # .mdl's settings block): (name in lower case, file beside the model)
    file_aliases: tuple[tuple[str, str], ...] = ()
    # (canonical name, as first written) of each name the equations read that the model does
    # not define (no variable, range or element): how messages quote an undefined name
    spellings: tuple[tuple[str, str], ...] = ()
    stage: ClassVar[Stage] = Stage.PARSED

    def written(self, name: str) -> str:
        """A name the equations read, as the modeller wrote it: a variable's display, a range's
        or an element's spelling, an undefined name's own (`spellings`); else `name`."""
        var = self.variables.get(name)
        if var is not None:
            return var.display
        r = self.subscript_ranges.get(name)
        if r is not None and r.written:
            return r.written
        for r in self.subscript_ranges.values():
            if name in r.elements and r.display:
                return r.display[r.elements.index(name)]
        return dict(self.spellings).get(name, name)

    def stocks(self) -> list[Variable]:
        return [v for v in self.variables.values() if v.kind is Kind.STOCK]


@dataclass(frozen=True)
class ExternalReadModel(Model):
    """No GET XLS/DIRECT call left: data files are read into constants and lookups."""
    stage: ClassVar[Stage] = Stage.EXTERNAL_READ


@dataclass(frozen=True)
class FlatModel(Model):
    """Nothing subscripted: one scalar variable per element, array functions expanded."""
    stage: ClassVar[Stage] = Stage.FLAT


@dataclass(frozen=True)
class MacroFreeModel(Model):
    """No macro left: every call has its own copy of the macro's variables."""
    stage: ClassVar[Stage] = Stage.MACROS_EXPANDED


@dataclass(frozen=True)
class LoweredModel(Model):
    """No stateful call left: memory is stocks (and the kernel buffers of DELAY FIXED,
    DELAY MATERIAL and DELAY INFORMATION); `decisions` lists the values that shaped it."""
    stage: ClassVar[Stage] = Stage.LOWERED


M = TypeVar("M", bound=Model)


def at_stage(model: Model, stage_type: type[M]) -> M:
    """The same model, as the type of a later stage (the caller has checked that stage's contract)."""
    return stage_type(**{f.name: getattr(model, f.name) for f in fields(model)})


# Names the simulator provides rather than the model.
TIME = "time"
RK4_SETTINGS = "@rk4 settings"     # the owner of the notice about a .mdl's RK4 settings (notice_owners)

# A data equation (`name :KEYWORD: := expression`) until passes/data_equations.py gives it
# its points: DATA EQUATION(expression, the keyword's index in DATA_KEYWORDS)
DATA_EQUATION = "DATA EQUATION"
DATA_KEYWORDS = ("INTERPOLATE", "RAW", "HOLD BACKWARD", "LOOK FORWARD")


def data_equation(expr: "Expr", keyword: str, pos: "SourcePos | None" = None) -> "Call":
    """`expr` marked as the right-hand side of a data equation with `keyword` ('' for the
    default, :INTERPOLATE:)."""
    return Call(DATA_EQUATION, (expr, Num(float(DATA_KEYWORDS.index(keyword or "INTERPOLATE")))), pos)
CONTROL_NAMES = ("initial time", "final time", "time step", "saveper")
