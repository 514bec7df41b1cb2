"""Pass 1: model text -> parse tree -> model IR."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import lark
from lark import Token, Transformer_NonRecursive, v_args

from .. import ir
from ..errors import ModelError, SourcePos, SyntaxErrorInModel, UndefinedVariable, did_you_mean
from ..files import read_model_text  # noqa: F401  (where the front end's callers find it)
from ..limits import MAX_RANGE_ELEMENTS
from ..ir.normalize import classify_flows, resolve_lookup_calls
from .workbook import read_subscript
from .grammar import parser
from .expr_rules import ExprRules
from .nesting import bounded
from .mdl_settings import file_aliases, integration_method
from .syntax_errors import syntax_error

SKETCH_MARKER = re.compile(r"\\\\\\?---///")

def equations_text(text: str) -> str:
    """Everything before the sketch section, which Vensim says to ignore."""
    m = SKETCH_MARKER.search(text)
    return text[: m.start()] if m else text


_COMMENT_SYNTAX = re.compile(r'[{}"~|]')


def strip_comments(text: str, filename: str = "<model>") -> str:
    """The equations with every brace comment `{...}` blanked out (newlines kept, so
    line:column positions stay true). Vensim allows these comments anywhere in an
    equation, nested and over several lines, holding any text (often a commented-out
    equation). Braces inside a quoted name, or in the units and comment fields
    between '~' and '|', are the modeller's text and stay."""
    pieces, kept = [], 0            # text is copied up to `kept`; comments become blanks
    depth, opened, in_docs, in_quote = 0, 0, False, False
    for m in _COMMENT_SYNTAX.finditer(text):   # only the characters that change the state
        i, ch = m.start(), m.group()
        if depth:
            depth += 1 if ch == "{" else -1 if ch == "}" else 0
            if not depth:
                pieces.append(re.sub(r"[^\r\n]", " ", text[opened:i + 1]))
                kept = i + 1
        elif in_quote:
            in_quote = not (ch == '"' and text[i - 1] != "\\")
        elif in_docs:
            in_docs = ch != "|"
        elif ch == '"':
            in_quote = True
        elif ch == "~":
            in_docs = True
        elif ch == "{":
            pieces.append(text[kept:i])
            depth, opened = 1, i
    if depth:
        line = text.count("\n", 0, opened) + 1
        col = opened - (text.rfind("\n", 0, opened) + 1) + 1
        raise SyntaxErrorInModel(f"{filename}:{line}:{col}: syntax error: this comment '{{' is never "
                                 "closed with '}'")
    pieces.append(text[kept:])
    return "".join(pieces)


def parse_tree(text: str, filename: str = "<model>") -> lark.Tree:
    try:
        return parser().parse(strip_comments(equations_text(text), filename))
    except lark.exceptions.UnexpectedInput as err:
        raise syntax_error(err, text, filename) from None


# ---- parse tree -> items -------------------------------------------------------

@dataclass
class _Lhs:
    name: str
    display: str
    subscripts: tuple[str, ...]
    excepts: tuple[tuple[str, ...], ...]
    keyword: str
    pos: SourcePos


@dataclass
class _Item:
    kind: str  # equation | lookup | data | range | alias | macro | group | check
    lhs: _Lhs | None = None
    operator: str = ""
    rows: tuple = ()
    lookup: object = None
    units: str = ""
    comment: str = ""
    extra: dict = field(default_factory=dict)


def _num(x: float) -> ir.Num:
    return ir.Num(float(x))


@v_args(meta=True)
class _ToIR(ExprRules, Transformer_NonRecursive):
    """Non-recursive, so a parse tree of any depth is fine; each expression is then
    bounded in depth (see `nesting`) for the passes that follow."""
    def __init__(self, filename: str):
        super().__init__()
        self.filename = filename
        self.notices: list[str] = []
        self.pending: list[str] = []   # notices of the tables of the equation being read
        self.owners: list[tuple[str, str]] = []   # ir.Model.notice_owners
        self.checks: list[tuple[_Lhs, int, int, list]] = []   # reality checks: lhs, span, expressions
        self.qualifiers: list[tuple[SourcePos, str, int]] = []   # :CROSSING: / :AT LEAST ONCE:
        self.spellings: dict[str, str] = {}   # a name read in an equation -> as first written
        # v_args binds a rule's callback anew at every node it is looked up for: bound once
        # here (World3's transform 0.024 -> 0.017 s)
        for name in dir(type(self)):
            if not name.startswith("_") and callable(getattr(self, name)):
                self.__dict__[name] = getattr(self, name)

    def read(self, raw: str) -> str:
        """The canonical name of a name read in an equation, its spelling kept (ir.Model.spellings)."""
        name = ir.canonical_name(raw)
        self.spellings.setdefault(name, _element_display(raw))
        return name

    def _pos(self, meta) -> SourcePos:
        return SourcePos(self.filename, getattr(meta, "line", 0), getattr(meta, "column", 0))

    # names and subscripts
    def name(self, meta, children):
        return str(children[0])

    def subscript(self, meta, children):
        text = self.read(children[0])
        return text + "!" if len(children) > 1 else text

    def number_element(self, meta, children):
        # an element named by a number (`Dim: 1, 20, 300`, `x[20]`), which Vensim writes too
        return str(children[0])

    def subscripts(self, meta, children):
        return tuple(children)

    def except_clause(self, meta, children):
        return ("except", tuple(children[1:]))

    def lhs(self, meta, children):
        raw = children[0]
        subs, excepts, keyword = (), (), ""
        for c in children[1:]:
            if isinstance(c, Token):
                keyword = str(c).strip(":").upper()
            elif isinstance(c, tuple) and c and c[0] == "except":
                excepts = c[1]
            else:
                subs = c
        display = re.sub(r"\\[ \t]*\r?\n[ \t]*", " ", raw.strip())
        if display.startswith('"') and display.endswith('"'):
            display = display[1:-1]  # as Vensim prints it, escapes included
        return _Lhs(ir.canonical_name(raw), display, subs, excepts, keyword, self._pos(meta))

    # expressions
    def number(self, meta, children):
        return _num(children[0])

    def na(self, meta, children):
        return ir.Num(ir.NA_VALUE)

    def string(self, meta, children):
        return ir.Str(str(children[0])[1:-1])

    def reference(self, meta, children):
        subs = children[1] if len(children) > 1 else ()
        return ir.Ref(self.read(children[0]), subs, self._pos(meta))

    def macro_call_outputs(self, meta, children):
        return ("outputs", tuple(_element_display(c) for c in children))

    def call(self, meta, children):
        name = children[0]
        rest = children[1:]
        subs, outputs = (), ()
        if rest and isinstance(rest[0], tuple):
            subs, rest = rest[0], rest[1:]
        if rest and isinstance(rest[-1], tuple) and rest[-1][0] == "outputs":
            outputs, rest = rest[-1][1], rest[:-1]
        call = ir.Call(ir.canonical_function(name), tuple(rest), self._pos(meta), outputs)
        if subs:
            # only lookups are called with subscripts; resolved in build_model
            return ir.LookupCall(self.read(name), rest[0] if rest else ir.Num(0.0),
                                 self._pos(meta), subs)
        return call

    def binary(self, meta, children):
        left, op, right = children
        return ir.BinOp(str(op[0]) if isinstance(op, lark.Tree) else str(op), left, right)

    def compare(self, meta, children):
        return self.binary(meta, children)

    def rc_compare(self, meta, children):
        # a Reality Check consequence's comparison; anywhere else it is refused (parse_model)
        token = children[2]
        self.qualifiers.append((SourcePos(self.filename, token.line, token.column),
                                " ".join(str(token).strip(":").upper().split()), token.start_pos))
        return self.binary(meta, (children[0], children[1], children[-1]))

    def comp_op(self, meta, children):
        return str(children[0])

    add_op = mul_op = eq_op = comp_op

    # lookups
    def signed_number(self, meta, children):
        value = float(children[-1])
        return -value if len(children) == 2 and str(children[0]) == "-" else value

    def point(self, meta, children):
        return (children[0], children[1])

    def lookup_range(self, meta, children):
        return ("range", children)

    def _table(self, meta, points) -> ir.LookupTable:
        points = [p for p in points if not (isinstance(p, tuple) and p and p[0] == "range")]
        table, notice = ir.table_in_x_order(points, self._pos(meta))
        if notice:
            self.notices.append(notice)
            self.pending.append(notice)
        return table

    def _owned(self, lhs: _Lhs) -> None:
        """The notices of the tables read since the last equation are this equation's:
        a run that replaces its variable does not use those points."""
        self.owners += [(notice, lhs.name) for notice in self.pending]
        self.pending.clear()

    def lookup_points(self, meta, children):
        return self._table(meta, children)

    def lookup_literal(self, meta, children):
        return self._table(meta, children)

    def lookup_vectors(self, meta, children):
        nums = [c for c in children if not (isinstance(c, tuple) and c and c[0] == "range")]
        if len(nums) % 2:
            raise ModelError(f"{self._pos(meta)}: a lookup given as x and y lists needs as many y values as x values")
        half = len(nums) // 2
        return self._table(meta, list(zip(nums[:half], nums[half:])))

    def lookup_call(self, meta, children):
        return children[0]

    # right-hand sides
    def expr_row(self, meta, children):
        return tuple(children)

    def rhs_list(self, meta, children):
        return tuple(children)

    def tabbed_array(self, meta, children):
        nums = [_num(c) for c in children[1:]]
        return ("tabbed", tuple(nums), meta)

    def docs(self, meta, children):
        texts = [str(c).strip() for c in children]
        return texts

    # items
    def _docs(self, item: _Item, docs) -> _Item:
        item.units = docs[0] if docs else ""
        item.comment = docs[1] if len(docs) > 1 else ""
        return item

    def equation(self, meta, children):
        lhs, op, rhs, docs = children
        self._owned(lhs)
        if isinstance(rhs, tuple) and rhs and rhs[0] == "tabbed":
            rows = (rhs[1],)
            item = _Item("equation", lhs, op, rows, extra={"tabbed": True})
        else:
            rows = tuple(tuple(bounded(e, lhs.pos) for e in row) for row in rhs)
            item = _Item("equation", lhs, op, rows)
        return self._docs(item, docs)

    def lookup_definition(self, meta, children):
        lhs, body, docs = children
        self._owned(lhs)
        if not isinstance(body, ir.LookupTable):
            body = bounded(body, lhs.pos)
        return self._docs(_Item("lookup", lhs, lookup=body), docs)

    def data_declaration(self, meta, children):
        lhs, docs = children
        return self._docs(_Item("data", lhs), docs)

    def reality_check(self, meta, children):
        self.checks.append((children[0], meta.start_pos, meta.end_pos,
                            [c for c in children[1:] if isinstance(c, ir.Expr)]))
        return _Item("check")

    def range_elements(self, meta, children):
        return ("elements", tuple(children))

    def range_call(self, meta, children):
        return ("call", children[0])

    def numbered_range(self, meta, children):
        first, last = children
        m1 = re.match(r"^(.*?)(\d+)$", first)
        m2 = re.match(r"^(.*?)(\d+)$", last)
        if not (m1 and m2 and m1.group(1) == m2.group(1)):
            raise ModelError(f"{self._pos(meta)}: numbered subscript range ({first}-{last}) "
                             "needs two names with the same prefix ending in numbers")
        if max(len(m1.group(2)), len(m2.group(2))) > 9:   # past any range we accept, and int() limits
            raise ModelError(f"{self._pos(meta)}: numbered subscript range ({first[:30]}-{last[:30]}) "
                             f"has numbers of more than 9 digits; smartspec accepts at most "
                             f"{MAX_RANGE_ELEMENTS:,} elements in one range")
        a, b = int(m1.group(2)), int(m2.group(2))
        if b < a:
            raise ModelError(f"{self._pos(meta)}: numbered subscript range ({first}-{last}) counts down; "
                             "write the smaller number first")
        if b - a + 1 > MAX_RANGE_ELEMENTS:
            raise ModelError(f"{self._pos(meta)}: numbered subscript range ({first}-{last}) has "
                             f"{b - a + 1:,} elements; smartspec accepts at most {MAX_RANGE_ELEMENTS:,} "
                             "in one range")
        return tuple(f"{m1.group(1)}{i}" for i in range(a, b + 1))

    def map_target(self, meta, children):
        return ir.canonical_name(children[0])

    def map_list(self, meta, children):
        return (ir.canonical_name(children[0]), tuple(ir.canonical_name(c) for c in children[1:]))

    def mapping(self, meta, children):
        return ("mapping", tuple(children))

    def subscript_range(self, meta, children):
        name, body = children[0], children[1]
        mapping = ()
        docs = children[-1]
        for c in children[2:-1]:
            if isinstance(c, tuple) and c[0] == "mapping":
                mapping = c[1]
        item = _Item("range", extra={"name": name, "body": body, "mapping": mapping,
                                     "pos": self._pos(meta)})
        return self._docs(item, docs)

    def subscript_alias(self, meta, children):
        return _Item("alias", extra={"name": children[0], "target": children[1],
                                     "pos": self._pos(meta)})

    def group(self, meta, children):
        # the header's name line: '.Agriculture.Loop1' between the lines of stars
        name = str(children[0]).strip("*").strip().split("\n")[0].strip().lstrip(".")
        return _Item("group", extra={"name": name})

    def macro_inputs(self, meta, children):
        return ("inputs", [ir.canonical_name(c) for c in children])

    def macro_outputs(self, meta, children):
        return ("outputs", [ir.canonical_name(c) for c in children])

    def macro_params(self, meta, children):
        return dict(children)

    def macro(self, meta, children):
        name, params = children[1], children[2]
        body = [c for c in children[3:] if isinstance(c, _Item)]
        return _Item("macro", extra={"name": name, "params": params, "body": body,
                                     "pos": self._pos(meta)})

    def start(self, meta, children):
        return children


# ---- items -> model ------------------------------------------------------------

def _element_display(raw: str) -> str:
    text = re.sub(r"\\[ \t]*\r?\n[ \t]*", " ", raw.strip())
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


def _range_elements(body) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The canonical names of a range's items and their spelling as written."""
    kind, value = body
    if kind != "elements":
        return (), ()
    raw: list[str] = []
    for v in value:
        raw.extend(v if isinstance(v, tuple) else (v,))
    return tuple(ir.canonical_name(x) for x in raw), tuple(_element_display(x) for x in raw)


def _variable_from_items(items: list[_Item], lookup_names: set[str]) -> ir.Variable:
    first = items[0]
    lhs = first.lhs
    definitions = []
    for it in items:
        expr = None
        if it.kind == "equation" and len(it.rows) == 1 and len(it.rows[0]) == 1 and not it.extra.get("tabbed"):
            expr = it.rows[0][0]
        rows = () if expr is not None else tuple(it.rows)
        n_values = sum(len(row) for row in rows)
        if it.kind == "equation" and not it.lhs.subscripts and n_values > 1:
            raise ModelError(f"{it.lhs.pos}: '{it.lhs.display}' is given {n_values} values but has no "
                             "subscripts; a list of values needs a subscripted variable")
        definitions.append(ir.Definition(it.lhs.subscripts, it.lhs.excepts, it.operator, expr,
                                         rows, it.lookup, it.lhs.pos, it.lhs.keyword))
    units = next((it.units for it in items if it.units), "")
    comment = next((it.comment for it in items if it.comment), "")
    dims = lhs.subscripts
    scalar = len(items) == 1 and not lhs.subscripts
    d = definitions[0]
    expr, initial, lookup = d.expr, None, d.lookup
    if first.kind == "lookup":
        kind = ir.Kind.LOOKUP
        if not isinstance(lookup, ir.LookupTable):
            kind, expr, lookup = ir.Kind.DATA, lookup, None  # GET ... LOOKUPS call
    elif first.kind == "data" or d.operator == ":=":
        kind = ir.Kind.DATA
    elif isinstance(expr, ir.Call) and expr.func == "INTEG":
        kind = ir.Kind.STOCK
        if len(expr.args) != 2:
            raise ModelError(f"{lhs.pos}: INTEG takes 2 arguments (rate, initial value), got {len(expr.args)}")
        expr, initial = expr.args
    elif all(_is_number(x) for defn in definitions
             for x in ((defn.expr,) if defn.expr is not None else [e for row in defn.rows for e in row])):
        kind = ir.Kind.CONSTANT
    else:
        kind = ir.Kind.AUXILIARY
    if not scalar:
        expr = initial = None if kind is not ir.Kind.STOCK else None
    return ir.Variable(
        name=lhs.name, display=lhs.display, kind=kind, expr=expr, initial=initial,
        lookup=lookup if scalar else None, units=units, comment=comment, pos=lhs.pos,
        dims=dims, definitions=tuple(definitions), unchangeable=d.operator == "==",
        group=first.extra.get("group", ""))


def _is_number(e) -> bool:
    return isinstance(e, ir.Num) or (isinstance(e, ir.UnaryOp) and e.op == "-" and isinstance(e.operand, ir.Num))


def _build_variables(items: list[_Item], filename: str) -> dict[str, ir.Variable]:
    grouped: dict[str, list[_Item]] = {}
    for it in items:
        if it.kind in ("equation", "lookup", "data"):
            grouped.setdefault(it.lhs.name, []).append(it)
    lookup_names = {n for n, its in grouped.items() if its[0].kind == "lookup"}
    variables = {}
    for name, its in grouped.items():
        if len(its) > 1 and not its[0].lhs.subscripts:
            a, b = its[0].lhs.pos, its[1].lhs.pos
            raise ModelError(f"{b}: '{its[1].lhs.display}' is defined twice (first at {a})")
        var = _variable_from_items(its, lookup_names)
        variables[name] = resolve_lookup_calls(var, lookup_names)
    return classify_flows(variables)


def _reality_checks(to_ir: _ToIR) -> None:
    """Refuse a Reality Check keyword outside a Reality Check, and note once that the
    model's Reality Check equations are not evaluated. Vensim itself tests them only in
    its Reality Check tool, by forcing each condition (and its test inputs) into the model
    and then checking the consequence (Vensim's help, "Reality Check": "Simulation and
    Reality Check", "Passive Constraint Checking"), never in a simulation run, so a
    run's values are those of the model without them."""
    for pos, keyword, offset in to_ir.qualifiers:
        if not any(start <= offset < end for _, start, end, _ in to_ir.checks):
            raise ModelError(f"{pos}: ':{keyword}:' qualifies a Reality Check consequence; it "
                             "belongs after ':IMPLIES:' in a ':THE CONDITION:' equation")
    if to_ir.checks:
        first = to_ir.checks[0][0]
        count = len(to_ir.checks)
        to_ir.notices.append(
            f"{first.pos}: {count} Reality Check equation{'s' if count > 1 else ''} (first "
            f"'{first.display}') not evaluated: Vensim tests them only in its Reality Check "
            "tool, never in a simulation run")


def parse_model(text: str, filename: str = "<model>") -> ir.Model:
    tree = parse_tree(text, filename)
    to_ir = _ToIR(filename)
    try:
        items = to_ir.transform(tree)
    except lark.exceptions.VisitError as err:
        if isinstance(err.orig_exc, ModelError):
            raise err.orig_exc from None
        raise
    _reality_checks(to_ir)
    aliases = file_aliases(text)
    ranges, macros = {}, {}
    top = []
    group = ""
    for it in items:
        if it.kind == "group":
            group = it.extra["name"]
        elif it.lhs is not None and group:
            it.extra["group"] = group
        if it.kind == "range":
            name = ir.canonical_name(it.extra["name"])
            elements, display = _range_elements(it.extra["body"])
            if it.extra["body"][0] == "call":  # GET ... SUBSCRIPT: read when the model is parsed
                elements, display = read_subscript(it.extra["body"][1], filename, aliases)
            mapping = tuple(m if isinstance(m, str) else m[0] for m in it.extra["mapping"])
            mapped = tuple(() if isinstance(m, str) else m[1] for m in it.extra["mapping"])
            ranges[name] = ir.SubscriptRange(name, elements, mapping, it.extra["pos"], display, mapped,
                                              it.extra["name"].strip())
        elif it.kind == "alias":
            name = ir.canonical_name(it.extra["name"])
            ranges[name] = ir.SubscriptRange(name, (), (ir.canonical_name(it.extra["target"]),), it.extra["pos"],
                                             written=it.extra["name"].strip())
        elif it.kind == "macro":
            name = ir.canonical_name(it.extra["name"])
            params = it.extra["params"]
            body = _build_variables(it.extra["body"], filename)
            macros[name] = ir.Macro(name, tuple(params["inputs"]), tuple(params.get("outputs", ())),
                                    tuple(body.values()), it.extra["pos"])
        else:
            top.append(it)
    variables = _build_variables(top, filename)
    _resolve_checks(to_ir.checks, variables, ranges, to_ir.spellings)
    method, method_notices = integration_method(text, filename)
    elements = {e for r in ranges.values() for e in r.elements}
    unknown = tuple((n, w) for n, w in to_ir.spellings.items()
                    if n not in variables and n not in ranges and n not in elements and n != w)
    return ir.Model(filename, variables, ranges, macros, method=method, notices=tuple(to_ir.notices) + method_notices,
                    notice_owners=tuple(to_ir.owners) + tuple((n, ir.RK4_SETTINGS) for n in method_notices),
                    file_aliases=tuple(aliases.items()), spellings=unknown)


def _resolve_checks(checks: list, variables: dict[str, ir.Variable], ranges: dict,
                    spellings: dict[str, str]) -> None:
    """A Reality Check equation, though never evaluated, is an equation of its own name that
    reads model variables and test inputs (Vensim's help, "Reality Check Equations"): a name
    it reads must be one of those, and its own name must not be a variable's or another check's."""
    elements = {e for r in ranges.values() for e in r.elements}
    names = {lhs.name for lhs, _, _, _ in checks}
    seen: dict[str, SourcePos] = {}
    for lhs, _, _, exprs in checks:
        first = variables[lhs.name].pos if lhs.name in variables else seen.get(lhs.name)
        if first is not None:
            raise ModelError(f"{lhs.pos}: '{lhs.display}' is defined twice (first at {first}): a Reality "
                             "Check is an equation with a name of its own")
        seen[lhs.name] = lhs.pos
        for e in exprs:
            for node in ir.walk(e):
                if isinstance(node, ir.Ref) and node.name not in variables and node.name != ir.TIME \
                        and node.name not in names and node.name not in ranges and node.name not in elements:
                    shown = {n: v.display for n, v in variables.items()}
                    raise UndefinedVariable(f"{node.pos or lhs.pos}: undefined variable "
                                            f"'{spellings.get(node.name, node.name)}' used in "
                                            f"the Reality Check '{lhs.display}'" + did_you_mean(node.name, shown))


def parse_file(path: str | Path) -> ir.Model:
    path = Path(path)
    return parse_model(read_model_text(path), str(path))
