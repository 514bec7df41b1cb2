"""Writing a model IR as an XMILE 1.0 document (`smartspec convert`), so a
Vensim model can move to Stella and the other tools that read XMILE.

Only what XMILE can say with the same meaning is written; anything else
(Vensim's TREND, which divides by |average|, data variables, macros with
extra outputs, subscript mappings, arrays defined piecewise over ranges, ...) raises
UnsupportedFeature naming the variable and where it is defined, and no file is
written. Read back by `xmile.parse_xmile`, the document gives the same numbers.
"""
from __future__ import annotations

import itertools
import math
import re
from dataclasses import replace
from xml.sax.saxutils import escape, quoteattr

from .. import ir
from ..errors import UnsupportedFeature
from ..ir.ranges import SubscriptSpace
from .expr_write import ExprWriter

NAMESPACE = "http://docs.oasis-open.org/xmile/ns/XMILE/v1.0"
_KEYWORDS = {"if", "then", "else", "and", "or", "not", "mod", "time", "dt", "starttime",
             "stoptime", "pi", "inf"}
_SAME = {"ABS", "EXP", "LN", "SQRT", "SIN", "COS", "TAN", "ARCSIN", "ARCCOS", "ARCTAN", "SINH",
         "COSH", "TANH", "MIN", "MAX", "STEP", "RAMP", "NPV", "DELAY1", "DELAY3", "SUM", "PROD"}
# Vensim name -> (XMILE name, order of Vensim's arguments in XMILE's call)
_RENAMED = {
    "SMOOTH": ("SMTH1", (0, 1)), "SMOOTHI": ("SMTH1", (0, 1, 2)), "SMOOTH3": ("SMTH3", (0, 1)),
    "SMOOTH3I": ("SMTH3", (0, 1, 2)), "DELAY1I": ("DELAY1", (0, 1, 2)), "DELAY3I": ("DELAY3", (0, 1, 2)),
    "DELAY N": ("DELAYN", (0, 1, 3, 2)), "SMOOTH N": ("SMTHN", (0, 1, 3, 2)),
    "DELAY FIXED": ("DELAY", (0, 1, 2)), "INITIAL": ("INIT", (0,)), "XIDZ": ("SAFEDIV", (0, 1, 2)),
    "ZIDZ": ("SAFEDIV", (0, 1)), "VMIN": ("MIN", (0,)), "VMAX": ("MAX", (0,)),
    "FORECAST": ("FORCST", (0, 1, 2)), "RANDOM UNIFORM": ("UNIFORM", (0, 1, 2)),
    "GAMMA LN": ("GAMMALN", (0,)),
}
_CLOCK = {ir.TIME: "TIME"}


def _num(x: float) -> str:
    if math.isinf(x):
        return "INF" if x > 0 else "(-INF)"
    text = repr(float(x))
    return text[:-2] if text.endswith(".0") else text


def _true_name(display: str) -> str:
    """The name itself: Vensim prints a quoted name's quotes escaped (\\")."""
    return display.replace('\\"', '"')


def _attr_name(display: str) -> str:
    """A name as XMILE's name attribute writes it: backslash and newline escaped."""
    return _true_name(display).replace("\\", "\\\\").replace("\n", "\\n")


def _name(display: str) -> str:
    """A name as an equation writes it: underscores for spaces, or quoted with escapes."""
    true = _true_name(display)
    plain = re.sub(r"\s+", "_", true.strip())
    if re.fullmatch(r"[^\W\d][\w$]*", plain) and plain.lower() not in _KEYWORDS:
        return plain
    return '"' + _attr_name(true).replace('"', '\\"') + '"'


class _Writer(ExprWriter):
    LOGIC = {"and": "AND", "or": "OR", "not": "NOT"}

    def __init__(self, model: ir.Model):
        self.model = model
        self.owner = None
        self.owner_dims: set[str] = set()
        self.space = SubscriptSpace(model.subscript_ranges)

    def fail(self, what: str):
        where = f"{self.owner.pos}: " if self.owner is not None and self.owner.pos else ""
        who = f" (in '{self.owner.display}')" if self.owner is not None else ""
        raise UnsupportedFeature(f"{where}{what}{who}: XMILE cannot say this with the same meaning")

    def display(self, name: str) -> str:
        var = self.model.variables.get(name)
        if var is not None:
            return var.display
        if name in self.model.subscript_ranges:
            return name
        return self.space.display.get(name, name)

    def ref(self, name: str, subs=()) -> str:
        if name in _CLOCK:
            return _CLOCK[name]
        text = _name(self.display(name))
        if subs:
            # a range summed over: by its name, which XMILE reduces over unless the equation's
            # own variable spans it (then '*': all of that place's elements)
            parts = [("*" if s[:-1] in self.owner_dims else _name(s[:-1])) if s.endswith("!")
                     else _name(self.display(s)) for s in subs]
            text += "[" + ", ".join(parts) + "]"
        return text

    def number(self, x: float) -> str:
        return _num(x)

    def lookup_call(self, e: ir.LookupCall) -> str:
        if e.subscripts:
            self.fail("a subscripted lookup")
        return f"{self.ref(e.table)}({self.expr(e.arg)})"

    def other(self, e) -> str:
        if isinstance(e, ir.Str):
            self.fail(f"the text '{e.value}' (a GET function's data file or cell)")
        self.fail(f"the value {e!r}")

    def call(self, e: ir.Call) -> str:
        f, a = e.func, [self.expr(x) for x in e.args]
        if f in _SAME:
            return f"{f}({', '.join(a)})"
        if f in _RENAMED:
            name, order = _RENAMED[f]
            return f"{name}({', '.join(a[i] for i in order)})"
        if f == "IF THEN ELSE":
            return f"(IF {a[0]} THEN {a[1]} ELSE {a[2]})"
        if f == "MODULO":
            return f"(({a[0]}) MOD ({a[1]}))"
        if f == "POWER":
            return f"(({a[0]}) ^ ({a[1]}))"
        if f == "INTEGER":  # Vensim truncates toward zero; XMILE's INT rounds down
            return f"(IF ({a[0]}) >= 0 THEN INT({a[0]}) ELSE -INT(-({a[0]})))"
        if f == "LOG":
            return f"(LN({a[0]}) / LN({a[1]}))" if len(a) == 2 else f"LOG10({a[0]})"
        if f == "PULSE":  # Vensim: 1 while start < TIME + DT/2 < start + width (width 0: one DT)
            mid = "(TIME + DT / 2)"
            width = f"(IF ({a[1]}) > 0 THEN ({a[1]}) ELSE DT)"
            return f"(IF {mid} > ({a[0]}) AND {mid} < ({a[0]}) + {width} THEN 1 ELSE 0)"
        if f == "PULSE TRAIN":  # as kernel_lib.pulse_train
            start, width, between, end = a
            w = f"(IF ({width}) > 0 THEN ({width}) ELSE DT)"
            single = f"(IF TIME < ({start}) + {w} THEN 1 ELSE 0)"
            train = f"(IF ((TIME - ({start})) MOD ({between})) < {w} THEN 1 ELSE 0)"
            return (f"(IF TIME < ({start}) OR TIME > ({end}) THEN 0 ELSE "
                    f"(IF ({between}) <= 0 THEN {single} ELSE {train}))")
        macro = self.model.macros.get(ir.canonical_name(f))
        if macro is not None:
            if e.outputs:
                self.fail(f"macro {f} called with extra outputs")
            shown = next((v.display for v in macro.variables if v.name == macro.name), f)
            return f"{_name(shown)}({', '.join(a)})"
        if f == "ELMCOUNT" and isinstance(e.args[0], ir.Ref) and self.space.is_range(e.args[0].name):
            return _num(len(self.space.elements[e.args[0].name]))
        if f == "GAME":  # outside a game, the input itself
            return a[0]
        if f == "LOOKUP EXTRAPOLATE" or f == "LOOKUP BACKWARD":
            self.fail(f"{f} outside a graphical function's own equation")
        self.fail(f"Vensim's {f}")

    # -- variables ------------------------------------------------------------
    def definitions(self, var: ir.Variable) -> list[ir.Definition]:
        """The variable's definitions, apply-to-all when it has one over whole ranges, else
        one per element: ranges on the left expanded, :EXCEPT: left out, number lists
        spread in row-major order, and each range on the right bound to the element."""
        defs = var.definitions
        space = self.space
        if not defs or not defs[0].subscripts:
            return list(defs)
        if len(defs) == 1 and not defs[0].excepts and not defs[0].rows \
                and all(space.is_range(x) for x in defs[0].subscripts) \
                and len(set(defs[0].subscripts)) == len(defs[0].subscripts):
            return list(defs)
        out = []
        for d in defs:
            axes = [space.elements[x] if space.is_range(x) else (x,) for x in d.subscripts]
            skip = set()
            for ex in d.excepts:
                skip |= set(itertools.product(*(space.elements[x] if space.is_range(x) else (x,)
                                                  for x in ex)))
            combos = list(itertools.product(*axes))
            values = [x for row in d.rows for x in row] if d.rows else None
            if values is not None and len(values) != len(combos):
                self.fail("a list of numbers that does not fill its subscripts")
            for k, combo in enumerate(combos):
                if combo in skip:
                    continue
                bind = {x: e for x, e in zip(d.subscripts, combo) if space.is_range(x)}
                expr = values[k] if values is not None else self.bind(d.expr, bind)
                out.append(ir.Definition(combo, (), "=", expr, lookup=d.lookup, pos=d.pos))
        return out

    def bind(self, e: ir.Expr | None, bind: dict[str, str]) -> ir.Expr | None:
        def visit(node):
            if isinstance(node, (ir.Ref, ir.LookupCall)) and node.subscripts:
                subs = []
                for x in node.subscripts:
                    if x in bind:
                        subs.append(bind[x])
                    elif self.space.is_range(x) and not x.endswith("!"):
                        self.fail(f"subscript range '{x}' on the right that the left does not name")
                    else:
                        subs.append(x)
                return replace(node, subscripts=tuple(subs))
            return node
        return None if e is None else ir.map_expr(e, visit)

    def dims_of(self, var: ir.Variable, defs: list[ir.Definition]) -> tuple[str, ...]:
        """The dimensions a variable spans: its range names, or for element-by-element
        definitions the smallest declared range holding the elements used at each place."""
        if not defs or not defs[0].subscripts:
            return ()
        out = []
        for i in range(len(defs[0].subscripts)):
            used = {d.subscripts[i] for d in defs}
            if len(used) == 1 and self.space.is_range(next(iter(used))):
                out.append(next(iter(used)))
                continue
            covering = [r for r, els in self.space.elements.items() if used <= set(els)]
            if not covering:
                self.fail("subscripts that are not elements of one declared range")
            out.append(min(covering, key=lambda r: len(self.space.elements[r])))
        return tuple(out)

    def variable(self, var: ir.Variable, flows=((), ())) -> str:
        self.owner = var
        if var.kind is ir.Kind.DATA:
            self.fail("a data variable")
        defs = self.definitions(var)
        dims = self.dims_of(var, defs)
        if dims and var.kind is ir.Kind.LOOKUP:
            self.fail("an arrayed lookup")
        self.owner_dims = set(dims)
        parts = [(None if defs and tuple(d.subscripts) == tuple(dims) else tuple(d.subscripts), d)
                 for d in defs] or [(None, None)]
        tag = {ir.Kind.STOCK: "stock", ir.Kind.FLOW: "flow", ir.Kind.LOOKUP: "gf"}.get(var.kind, "aux")
        body = []
        if dims:
            body.append("<dimensions>" + "".join(f'<dim name={quoteattr(d)}/>' for d in dims) + "</dimensions>")
        for subs, d in parts:
            inner = self.definition(var, d)
            if subs is None:
                body.append(inner)
            else:
                body.append(f'<element subscript={quoteattr(", ".join(self.display(s) for s in subs))}>'
                            f"{inner}</element>")
        if var.kind is ir.Kind.STOCK:
            ins, outs = flows
            body += [f"<inflow>{escape(_name(self.display(f)))}</inflow>" for f in ins]
            body += [f"<outflow>{escape(_name(self.display(f)))}</outflow>" for f in outs]
        if var.units:
            body.append(f"<units>{escape(var.units)}</units>")
        if var.comment:
            body.append(f"<doc>{escape(var.comment)}</doc>")
        return f"<{tag} name={quoteattr(_attr_name(var.display))}>" + "".join(body) + f"</{tag}>"

    def definition(self, var: ir.Variable, d: ir.Definition | None) -> str:
        if var.kind is ir.Kind.LOOKUP:
            table = d.lookup if d is not None and d.lookup is not None else var.lookup
            return self.points(table)
        expr = d.expr if d is not None and d.expr is not None else var.expr
        if var.kind is ir.Kind.STOCK:
            init = expr.args[1] if isinstance(expr, ir.Call) and expr.func == "INTEG" else var.initial
            return f"<eqn>{escape(self.expr(init))}</eqn>"
        if expr is None:
            self.fail("an equation written as a list of numbers")
        if isinstance(expr, ir.Call) and expr.func == "WITH LOOKUP" and isinstance(expr.args[1], ir.LookupTable):
            return f"<eqn>{escape(self.expr(expr.args[0]))}</eqn>" + self.gf(expr.args[1])
        return f"<eqn>{escape(self.expr(expr))}</eqn>"

    @staticmethod
    def points(table: ir.LookupTable) -> str:
        return ("<xpts>" + ",".join(_num(x) for x in table.xs) + "</xpts><ypts>"
                + ",".join(_num(y) for y in table.ys) + "</ypts>")

    def gf(self, table: ir.LookupTable) -> str:
        return "<gf>" + self.points(table) + "</gf>"


def _signed_terms(e: ir.Expr, sign: int = 1) -> list[tuple[int, ir.Expr]]:
    if isinstance(e, ir.BinOp) and e.op in "+-":
        return _signed_terms(e.left, sign) + _signed_terms(e.right, sign if e.op == "+" else -sign)
    if isinstance(e, ir.UnaryOp) and e.op == "-":
        return _signed_terms(e.operand, -sign)
    return [(sign, e)]


def _stock_flows(model: ir.Model, var: ir.Variable):
    """(inflows, outflows) when the stock's rate is a sum and difference of other
    variables, element by element; else None (the rate becomes a flow of its own)."""
    defs = var.definitions
    if len(defs) != 1 or not isinstance(defs[0].expr, ir.Call) or defs[0].expr.func != "INTEG":
        return None
    ins, outs = [], []
    for sign, term in _signed_terms(defs[0].expr.args[0]):
        flow = model.variables.get(term.name) if isinstance(term, ir.Ref) else None
        if flow is None or flow.kind in (ir.Kind.STOCK, ir.Kind.LOOKUP, ir.Kind.DATA) \
                or tuple(term.subscripts) != tuple(flow.dims) or tuple(flow.dims) != tuple(var.dims) \
                or term.name in ins + outs:
            return None
        (ins if sign > 0 else outs).append(term.name)
    return ins, outs


def _net_flow(model: ir.Model, var: ir.Variable) -> ir.Variable:
    """The stock's rate as a flow of its own (XMILE stocks only add up named flows)."""
    name = f"{var.name} net flow"
    while name in model.variables:
        name += " 2"
    defs = tuple(ir.Definition(d.subscripts, d.excepts, "=", d.expr.args[0], pos=d.pos)
                 for d in var.definitions if isinstance(d.expr, ir.Call) and d.expr.func == "INTEG")
    return ir.Variable(name, f"{var.display} net flow", ir.Kind.FLOW,
                       expr=var.expr if not var.dims else None, pos=var.pos, dims=var.dims,
                       definitions=defs)


_ARITHMETIC = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
               "/": lambda a, b: a / b}


def _control(model: ir.Model, name: str, seen: tuple[str, ...]) -> float:
    """A simulation control's value for sim_specs: numbers, other controls and + - * /."""
    var = model.variables.get(name)

    def value(e) -> float:
        if isinstance(e, ir.Num):
            return e.value
        if isinstance(e, ir.UnaryOp) and e.op == "-":
            return -value(e.operand)
        if isinstance(e, ir.BinOp) and e.op in _ARITHMETIC:
            return _ARITHMETIC[e.op](value(e.left), value(e.right))
        if isinstance(e, ir.Ref) and not e.subscripts and e.name in ir.CONTROL_NAMES and e.name not in seen:
            return _control(model, e.name, seen + (name,))
        raise UnsupportedFeature(f"{var.pos if var else model.source}: {name.upper()} must be a "
                                 "constant to be written as XMILE's sim_specs")
    if var is None:
        if name == "saveper":
            return _control(model, "time step", seen)
        raise UnsupportedFeature(f"{model.source}: the model does not define {name.upper()}")
    try:
        return value(var.expr)
    except ZeroDivisionError:
        raise UnsupportedFeature(f"{var.pos}: {name.upper()} divides by zero") from None


def write_xmile(model: ir.Model) -> str:
    """The XMILE 1.0 text of `model` (the IR of the front end, before lowering).
    Raises UnsupportedFeature for what XMILE cannot express with the same meaning."""
    for r in model.subscript_ranges.values():
        if r.mapping:
            raise UnsupportedFeature(f"{r.pos}: subscript range '{r.name}' has a mapping or is an alias, "
                                     "which XMILE 1.0 cannot say")
    w = _Writer(model)
    specs = {}
    for name in ir.CONTROL_NAMES:
        specs[name] = _control(model, name, ())
    out = ['<?xml version="1.0" encoding="utf-8"?>',
           f'<xmile version="1.0" xmlns="{NAMESPACE}">',
           "<header><vendor>smartspec</vendor><product version=\"1.0\">smartspec convert</product>"
           "</header>",
           f"<sim_specs><start>{_num(specs['initial time'])}</start><stop>{_num(specs['final time'])}</stop>"
           f"<dt>{_num(specs['time step'])}</dt><save_step>{_num(specs['saveper'])}</save_step></sim_specs>"]
    if model.subscript_ranges:
        out.append("<dimensions>")
        for r, elems in w.space.elements.items():
            out.append(f"<dim name={quoteattr(_attr_name(r))}>"
                       + "".join(f"<elem name={quoteattr(_attr_name(w.display(e)))}/>" for e in elems)
                       + "</dim>")
        out.append("</dimensions>")
    out += [_macro(model, m) for m in model.macros.values()]
    out.append("<model><variables>")
    out += _variables(w, model)
    out.append("</variables></model></xmile>")
    return "\n".join(out) + "\n"


def _variables(w: _Writer, model: ir.Model) -> list[str]:
    """The <stock>, <flow>, <aux> and <gf> elements of the model's variables."""
    out = []
    for var in model.variables.values():
        if var.hidden or var.name == ir.TIME:
            continue
        if var.kind is not ir.Kind.STOCK:
            out.append(w.variable(var))
            continue
        flows = _stock_flows(model, var)
        if flows is not None:
            out.append(w.variable(var, flows))
            continue
        net = _net_flow(model, var)
        out.append(w.variable(var, ([net.name], [])))
        w.model = replace(model, variables={**model.variables, net.name: net})
        out.append(w.variable(net))
        w.model = model
    return out


def _macro(model: ir.Model, macro: ir.Macro) -> str:
    """A Vensim macro as an XMILE macro (XMILE 1.0 section 4.8): its inputs are the
    parameters, its variables the macro's own (every call gets its copies), and its
    value variable (named like the macro, which an XMILE macro's variables cannot be)
    is written as '<name> value', which the macro's <eqn> names."""
    shown = next((v.display for v in macro.variables if v.name == macro.name), macro.name)
    if macro.outputs:
        raise UnsupportedFeature(f"{macro.pos}: macro '{shown}' has extra outputs after ':', which an "
                                 "XMILE macro cannot return")
    names = {v.name for v in macro.variables} | set(macro.params)
    value = macro.name + " value"
    while value in names:
        value += " 2"

    def rename(e):
        def visit(node):
            if isinstance(node, ir.Ref) and node.name.endswith("$"):
                raise UnsupportedFeature(f"{node.pos or macro.pos}: macro '{shown}' names the model's "
                                         f"'{node.name[:-1]}' ('$'), which an XMILE macro cannot see")
            return replace(node, name=value) if isinstance(node, ir.Ref) and node.name == macro.name else node
        return None if e is None else ir.map_expr(e, visit)

    variables = {}
    for v in macro.variables:
        v = replace(v, expr=rename(v.expr), initial=rename(v.initial),
                    definitions=tuple(replace(d, expr=rename(d.expr)) for d in v.definitions))
        if v.name == macro.name:
            v = replace(v, name=value, display=f"{v.display} value")
        variables[v.name] = v
    inner = replace(model, variables=variables)
    w = _Writer(inner)
    parms = "".join(f"<parm>{escape(_name(p))}</parm>" for p in macro.params)
    return (f"<macro name={quoteattr(_attr_name(shown))}>{parms}<eqn>{escape(_name(value))}</eqn>"
            "<variables>" + "".join(_variables(w, inner)) + "</variables></macro>")
