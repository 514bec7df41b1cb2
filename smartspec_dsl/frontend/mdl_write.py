"""Writing a model IR as Vensim equations (`smartspec convert MODEL.xmile -o
MODEL.mdl`): the way back from XMILE.

The IR's functions are Vensim's, so every expression has a Vensim spelling;
data variables and data equations (`:=`, their keywords) are written as the
modeller wrote them; what the .mdl cannot carry is refused (macros are kept only by the Vensim
front end and never reach here from XMILE). A method other than Euler (XMILE's
sim_specs, a .mdl's settings) is not an equation in Vensim: a model that asks for RK4 is
written with the settings block Vensim reads after the sketch, which says RK4.
"""
from __future__ import annotations

import re

from .. import ir
from ..errors import UnsupportedFeature
from .expr_write import ExprWriter

_SIMPLE = re.compile(r"[^\W\d][\w ]*")
_KEYWORDS = {"time"}


def _num(x: float) -> str:
    text = repr(float(x))
    text = text[:-2] if text.endswith(".0") else text
    return f"({text})" if text.startswith("-") else text


def _name(display: str) -> str:
    """A Vensim name: as written when it is plain words, else quoted with \\" inside."""
    text = re.sub(r"\s+", " ", display.strip())
    if _SIMPLE.fullmatch(text) and text.lower() not in _KEYWORDS:
        return text
    return '"' + text.replace('"', '\\"') + '"'


def _doc(text: str) -> str:
    return re.sub(r"[~|]", " ", text).replace("\n", " ").strip()


class _Writer(ExprWriter):
    LOGIC = {"and": ":AND:", "or": ":OR:", "not": ":NOT:"}

    def __init__(self, model: ir.Model):
        self.model = model
        self.elements = {e: d for r in model.subscript_ranges.values()
                         for e, d in zip(r.elements, r.display or r.elements)}

    def display(self, name: str) -> str:
        if name == ir.TIME:
            return "Time"
        var = self.model.variables.get(name)
        return var.display if var is not None else self.elements.get(name, name)

    def ref(self, name: str, subs=()) -> str:
        text = _name(self.display(name))
        if subs:
            text += "[" + ", ".join(_name(self.display(s.rstrip("!"))) + ("!" if s.endswith("!") else "")
                                    for s in subs) + "]"
        return text

    def number(self, x: float) -> str:
        return _num(x)

    def lookup_call(self, e: ir.LookupCall) -> str:
        return f"{self.ref(e.table, e.subscripts)}({self.expr(e.arg)})"

    def call(self, e: ir.Call) -> str:
        return f"{e.func}({', '.join(self.expr(a) for a in e.args)})"

    def other(self, e) -> str:
        if isinstance(e, ir.LookupTable):
            return self.table(e)
        if isinstance(e, ir.Str) and "'" not in e.value:   # a GET call's file, sheet, cells
            return f"'{e.value}'"
        raise UnsupportedFeature(f"the value {e!r} has no Vensim spelling")

    @staticmethod
    def table(t: ir.LookupTable) -> str:
        def num(x):
            return _num(x).strip("()")
        return "(" + ",".join(f"({num(x)},{num(y)})" for x, y in zip(t.xs, t.ys)) + ")"

    def variable(self, var: ir.Variable) -> list[str]:
        docs = f"\n\t~\t{_doc(var.units)}\n\t~\t{_doc(var.comment)}\n\t|\n"
        defs = var.definitions or (ir.Definition((), (), "=", var.expr, lookup=var.lookup),)
        out = []
        for d in defs:
            lhs = self.ref(var.name, d.subscripts)
            if d.excepts:
                lhs += " :EXCEPT: " + ", ".join("[" + ", ".join(_name(self.display(s)) for s in ex) + "]"
                                                for ex in d.excepts)
            if d.keyword:        # a data variable's :RAW:, :HOLD BACKWARD: ... (Vensim's own place)
                lhs += f" :{d.keyword}:"
            lookup = d.lookup if d.lookup is not None else (var.lookup if var.kind is ir.Kind.LOOKUP else None)
            if lookup is not None:
                out.append(f"{lhs}{self.table(lookup)}{docs}")
                continue
            expr = d.expr
            if expr is None and var.kind is ir.Kind.STOCK and not d.subscripts:
                expr = ir.Call("INTEG", (var.expr, var.initial))
            if expr is None:
                if not d.rows:
                    if var.kind is ir.Kind.DATA:   # a data variable: its values come from a data file
                        out.append(f"{lhs}{docs}")
                        continue
                    raise UnsupportedFeature(f"{var.pos}: '{var.display}' has no equation to write")
                expr_text = ";\n\t".join(", ".join(self.expr(x) for x in row) for row in d.rows) + ";"
            else:
                expr_text = self.expr(expr)
            # `==` (a value no run may change) and `:=` (a data equation) as the modeller wrote them
            op = d.operator if d.operator in ("==", ":=") else "="
            out.append(f"{lhs} {op} {expr_text}{docs}")
        return out


def equation_text(model: ir.Model, var: ir.Variable) -> str:
    """`var`'s equations (one line per definition) in Vensim's spelling, without units or
    comment: how a variable read from XMILE is shown in Vensim's terms."""
    return "\n".join(text.split("\n\t~", 1)[0] for text in _Writer(model).variable(var))


def write_mdl(model: ir.Model) -> str:
    """The Vensim text of `model` (a parsed IR, before lowering)."""
    if model.macros:
        raise UnsupportedFeature(f"{model.source}: writing macros back to Vensim is not supported")
    w = _Writer(model)
    out = ["{UTF-8}\n"]
    for r in model.subscript_ranges.values():
        # a positional mapping (`sub: a, b -> target`) is written; listed ones and aliases are not
        if not r.elements or any(r.mapping_elements) or len(r.mapping) > 1:
            raise UnsupportedFeature(f"{r.pos or model.source}: subscript range '{r.name}' has a mapping "
                                     "or is an alias; writing those is not supported")
        elems = ", ".join(_name(d) for d in (r.display or r.elements))
        onto = f" -> {_name(r.mapping[0])}" if r.mapping else ""
        out.append(f"{_name(r.name)}: {elems}{onto}\n\t~\t\n\t~\t\n\t|\n")
    for var in model.variables.values():
        if var.name == ir.TIME:
            continue
        out.extend(w.variable(var))
    if model.method and model.method != "euler":
        # Vensim keeps the method in the settings block after the sketch (mdl_settings.py):
        # 5 is RK4 Fixed, the RK4 smartspec runs
        out.append(_SETTINGS_RK4)
    return "\n".join(out)


_SETTINGS_RK4 = ("\\\\\\---/// Sketch information - do not modify anything except names\n"
                 "V300  Do not put anything below this section - it will be ignored\n*View 1\n"
                 "$192-192-192,0,Times New Roman|12||0-0-0|0-0-0|0-0-255|-1--1--1|-1--1--1|96,96,100,0\n"
                 "///---\\\\\\\n:L\x7f<%^E!@\n15:0,0,0,5,0,0\n")
