"""Units check: the units each equation gives, worked out from the units its
inputs declare, against the units its own variable declares (as Vensim's units
check does, reported as warnings: `smartspec check MODEL --units`).

A pure function of the parsed model IR; nothing here changes what a run computes.

* A unit string is a product of powers of named units: `Person/year`,
  `$/(Person*year)`, `m^2`, `1/Month`; `Dmnl`, `dimensionless`, `fraction` and
  `1` are dimensionless. Names are compared case-insensitively, with runs of
  spaces collapsed, plurals made singular (`hectares` = `hectare`, `foxes` =
  `fox`, `people` = `person`) and Vensim's time unit equivalences (`hr` = `hour`,
  `s` = `sec` = `second`, `yr` = `year`, ...); anything else is a different unit.
  A units field that is prose (a comment in the wrong place) names no units.
* A number adapts: dimensionless in a product, the other side's units in a sum,
  a comparison, MIN/MAX or IF THEN ELSE. A variable without declared units, a
  random function and anything not listed below give no units and so are never
  reported.
* A stock's rate must give the stock's units per unit of time (the units of
  TIME STEP); its initial value the stock's units. A delay, smoothing or
  averaging time (SMOOTH*, DELAY*, TREND, FORECAST) must be a time.
* Functions: SMOOTH*, DELAY*, FORECAST, SAMPLE IF TRUE, INITIAL and ACTIVE
  INITIAL give their input's units; TREND 1/time; STEP its height; RAMP its
  slope times time; XIDZ and ZIDZ a quotient; SQRT and POWER with a number
  exponent powers; ABS, INTEGER, QUANTUM, MODULO, GAME, SUM, VMIN, VMAX their
  first argument's; EXP, LN, LOG, the trigonometric functions, PULSE, PULSE
  TRAIN and ELMCOUNT are dimensionless; a lookup gives the lookup's units.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from .. import ir
from ..errors import SourcePos
from ..ir.builtins import (ARGUMENTS_AGREE, BUILTINS, CHOICE, OF_TABLE, PER_TIME, POWER_OF, RATIO,
                           SAME_AS_FIRST, SAME_AS_SECOND, SQUARE_ROOT, TIME_UNITS, TIMES_TIME, units_rules)
from ..ir.builtins import DIMENSIONLESS as DIMENSIONLESS_RESULT

Dim = tuple  # sorted ((unit, exponent), ...); () is dimensionless

NUMBER = "number"          # a literal: adapts to what it meets
DIMENSIONLESS = ("dmnl", "1", "")

RULES = units_rules()   # function -> its units rule (ir/builtins.py)
TIMED = {n for n, b in BUILTINS.items() if b.time_argument}   # 2nd argument: a delay or averaging time


@dataclass(frozen=True)
class UnitIssue:
    pos: SourcePos | None
    variable: str
    message: str

    def __str__(self) -> str:
        return f"{self.pos}: units: '{self.variable}' {self.message}"


class _Unparsable(Exception):
    pass


# Vensim's built-in equivalences of time units, and spellings of the same unit
SYNONYMS = {"hr": "hour", "s": "second", "sec": "second", "min": "minute", "wk": "week", "mo": "month",
            "yr": "year", "people": "person", "dimensionless": "dmnl", "fraction": "dmnl"}
_WORD = re.compile(r"^[\w$%#&' -]+$")


def _name(text: str) -> str:
    """A unit's name for comparison: lower case, single spaces, singular, synonyms merged."""
    name = re.sub(r"\s+", " ", text.strip().lower())
    if not _WORD.match(name) or len(name) > 40 or name.count(" ") > 3:
        raise _Unparsable   # prose, not a unit (a comment in the units field)
    if name in SYNONYMS:
        return SYNONYMS[name]
    if len(name) > 3 and re.search(r"(x|ss|sh|ch|z)es$", name):
        name = name[:-2]
    elif len(name) > 3 and name.endswith("s") and not name.endswith("ss"):
        name = name[:-1]
    return SYNONYMS.get(name, name)


def parse_units(text: str) -> Dim | None:
    """The units a declaration names, or None when it names none (empty, '?', unparsable)."""
    text = re.sub(r"\[[^\]]*\]\s*$", "", text).strip()   # a range [min, max, step] after the units
    if text in ("", "?"):
        return None
    tokens = re.findall(r"\(|\)|\*|/|\^\s*-?\d+(?:\.\d+)?|[^()*/^]+", text)
    pos = 0

    def expr():
        nonlocal pos
        out = power()
        while pos < len(tokens) and tokens[pos] in ("*", "/"):
            op = tokens[pos]
            pos += 1
            out = _mul(out, power(), 1 if op == "*" else -1)
        return out

    def power():
        nonlocal pos
        base = atom()
        if pos < len(tokens) and tokens[pos].startswith("^"):
            base = _pow(base, Fraction(tokens[pos][1:].strip()))
            pos += 1
        return base

    def atom():
        nonlocal pos
        if pos >= len(tokens):
            raise _Unparsable
        tok = tokens[pos]
        pos += 1
        if tok == "(":
            inner = expr()
            if pos >= len(tokens) or tokens[pos] != ")":
                raise _Unparsable
            pos += 1
            return inner
        if tok in (")", "*", "/") or tok.startswith("^"):
            raise _Unparsable
        name = _name(tok)
        return () if name in DIMENSIONLESS else ((name, Fraction(1)),)

    try:
        dim = expr()
    except (_Unparsable, ValueError, ZeroDivisionError):
        return None
    return dim if pos == len(tokens) else None


def _mul(a: Dim, b: Dim, sign: int = 1) -> Dim:
    exps = dict(a)
    for unit, e in b:
        exps[unit] = exps.get(unit, 0) + sign * e
    return tuple(sorted((u, e) for u, e in exps.items() if e != 0))


def _pow(a: Dim, k: Fraction) -> Dim:
    return tuple((u, e * k) for u, e in a if e * k != 0)


def format_units(d: Dim) -> str:
    if d == ():
        return "Dmnl"
    show = lambda u, e: u if e == 1 else f"{u}^{e}"
    num = "*".join(show(u, e) for u, e in d if e > 0) or "1"
    den = [show(u, -e) for u, e in d if e < 0]
    if not den:
        return num
    return f"{num}/{den[0]}" if len(den) == 1 else f"{num}/({'*'.join(den)})"


class _Check:
    def __init__(self, model: ir.Model):
        self.model = model
        self.declared = {n: parse_units(v.units) for n, v in model.variables.items()}
        self.time = next((self.declared[n] for n in ("time step", "initial time", "final time")
                          if self.declared.get(n) is not None), None)
        self.issues: list[UnitIssue] = []
        self.var, self.pos = "", None   # the equation being checked

    def report(self, pos, message: str) -> None:
        self.issues.append(UnitIssue(pos or self.pos, self.var, message))

    def same(self, pos, a, b, what: str):
        """Two operands that must agree: the units they share (a number takes the other's)."""
        if a is None or b is None:
            return None
        if a == NUMBER:
            return b
        if b == NUMBER or a == b:
            return a
        self.report(pos, f"{what} {format_units(a)} and {format_units(b)}")
        return None

    def units(self, e):
        if isinstance(e, ir.Num):
            return NUMBER
        if isinstance(e, ir.Ref):
            if e.name == ir.TIME:
                return self.time
            if e.name not in self.model.variables:
                return NUMBER   # a subscript range or element used as a value: a position
            return self.declared.get(e.name)
        if isinstance(e, ir.LookupCall):
            self.units(e.arg)
            return self.declared.get(e.table)
        if isinstance(e, ir.UnaryOp):
            inner = self.units(e.operand)
            return inner if e.op == "-" else ()
        if isinstance(e, ir.BinOp):
            return self.binop(e)
        if isinstance(e, ir.Call):
            return self.call(e)
        return None

    def binop(self, e: ir.BinOp):
        a, b = self.units(e.left), self.units(e.right)
        if e.op in ("+", "-"):
            return self.same(None, a, b, "adds" if e.op == "+" else "subtracts")
        if e.op in ("*", "/"):
            return self.product(a, b, 1 if e.op == "*" else -1)
        if e.op == "^":
            return self.power(a, e.right)
        if e.op in ("and", "or"):
            return ()
        self.same(None, a, b, "compares")
        return ()

    @staticmethod
    def product(a, b, sign: int = 1):
        """a * b (sign 1) or a / b (sign -1); numbers alone stay numbers."""
        if a is None or b is None:
            return None
        if a == NUMBER and b == NUMBER:
            return NUMBER
        a, b = (() if x == NUMBER else x for x in (a, b))
        return _mul(a, b, sign)

    def power(self, base, exponent):
        if base is None or base == NUMBER:
            return base
        if isinstance(exponent, ir.Num):
            return _pow(base, Fraction(exponent.value).limit_denominator(1000))
        return None

    def call(self, e: ir.Call):
        f, args = e.func, e.args
        rule = RULES.get(f)
        if rule == OF_TABLE and isinstance(args[0], ir.Ref):
            self.units(args[1])
            return self.declared.get(args[0].name)
        units = [self.units(a) for a in args]
        if f in TIMED and len(units) > 1 and units[1] not in (None, NUMBER) and self.time is not None \
                and units[1] != self.time:
            self.report(e.pos, f"{f}'s time argument is {format_units(units[1])}, not {format_units(self.time)}")
        if rule == CHOICE:
            return self.same(e.pos, units[1], units[2], "chooses between")
        if rule == ARGUMENTS_AGREE:
            return self.same(e.pos, units[0], units[1], f"{f} of")
        if rule == SAME_AS_FIRST:
            return units[0]
        if rule == SAME_AS_SECOND:
            return units[1]
        if rule == DIMENSIONLESS_RESULT:
            return ()
        if rule == PER_TIME:
            return None if self.time is None else _pow(self.time, Fraction(-1))
        if rule == TIME_UNITS:
            return self.time
        if rule == TIMES_TIME:
            return units[0] if units[0] in (None, NUMBER) or self.time is None else \
                self.product(units[0], self.time)
        if rule == RATIO:
            return self.product(units[0], units[1], -1)
        if rule == SQUARE_ROOT:
            return self.power(units[0], ir.Num(0.5))
        if rule == POWER_OF:
            return self.power(units[0], args[1])
        return None

    # -- equations -------------------------------------------------------------------
    def equation(self, var: ir.Variable, expr, pos, declared, what="its equation gives") -> None:
        self.pos = pos
        got = self.units(expr)
        if got is None or got == NUMBER or declared is None or got == declared:
            return
        self.report(pos, f"{what} {format_units(got)}, but it is declared {format_units(declared)}")

    def variable(self, var: ir.Variable) -> None:
        self.var = var.display
        declared = self.declared.get(var.name)
        if var.kind is ir.Kind.LOOKUP or var.name in ir.CONTROL_NAMES:
            return
        # every definition holds its whole equation (a stock's is its INTEG call)
        for d in var.definitions:
            if isinstance(d.expr, ir.Call) and d.expr.func == "INTEG":
                rate, init = d.expr.args
                per_time = None if declared is None or self.time is None else _mul(declared, self.time, -1)
                self.equation(var, rate, d.pos, per_time, "its rate gives")
                self.equation(var, init, d.pos, declared, "its initial value gives")
            elif d.expr is not None:
                self.equation(var, d.expr, d.pos, declared)


def check_units(model: ir.Model) -> list[UnitIssue]:
    """Every units inconsistency of the model's equations, in model order."""
    c = _Check(model)
    for var in model.variables.values():
        c.variable(var)
    return c.issues
