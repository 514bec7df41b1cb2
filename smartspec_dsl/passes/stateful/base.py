"""The builder every stateful lowering uses: hidden stocks and auxiliaries named after
the modeller's variable and the call, structure decisions recorded, and the walk that
sends each call to its family's lowering (a function `(Lowering, owner, call) -> Expr`
in one of the family modules beside this one)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ... import ir
from ...errors import ModelError
from ...ir.builtins import check_call
from ...ir.reductions import IN_ORDER
from ..consteval import evaluate
from ..dense import DENSE_CALLS
from .rules import decide

Num, Ref, Call, BinOp = ir.Num, ir.Ref, ir.Call, ir.BinOp

DT = Ref("time step")


def add(a, b): return BinOp("+", a, b)
def sub(a, b): return BinOp("-", a, b)
def mul(a, b): return BinOp("*", a, b)
def div(a, b): return BinOp("/", a, b)


@dataclass
class Lowering:
    model: ir.Model
    values: dict[str, float] = field(default_factory=dict)   # constants as a run sets them
    lowerings: dict[str, Callable] = field(default_factory=dict)   # Vensim function -> its lowering
    new: dict[str, ir.Variable] = field(default_factory=dict)
    made: dict[str, int] = field(default_factory=dict)     # owner -> its hidden variables so far
    decisions: list[ir.Decision] = field(default_factory=list)
    function: str = ""          # the call being lowered, for the hidden variables' display
    levels: list = field(default_factory=list)   # the stocks of the last chain built
    # stock -> (condition, shifted value, position) of the SHIFT IF TRUE that moves it (shifts.py)
    shifts: dict = field(default_factory=dict)
    dense: bool = False         # the model took the dense route: its SUM and @VALUES stay

    def shown(self, owner: str, pos) -> str:
        """How messages name a hidden variable: the modeller's variable and the call."""
        var = self.model.variables.get(owner)
        where = f" at {pos.line}:{pos.column}" if pos is not None else ""
        return f"{var.display if var is not None else owner} ({self.function or 'a function'} call{where})"

    def fresh(self, owner: str, what: str) -> str:
        """The name of the owner's next hidden variable, `owner #what<k>`, k counted per
        owner: a run that replaces another variable's equation (passes/edits.py) names it
        alike, so that a saved state continues it. An element of a flattened array (`y[e1]`)
        names its own as the elements of the dense route's (`y #what<k>[e1]`): both routes
        name the same variables alike (and number their random draws alike,
        `backend/sites.py`), and a state saved on one maps onto the other element by element."""
        base, element = ir.split_element(owner)
        k = self.made[owner] = self.made.get(owner, 0) + 1
        stem = f"{base} #{what}{k}"
        while stem + element in self.model.variables or stem + element in self.new:
            stem += "'"
        return stem + element

    def stock(self, owner, what, rate_of, initial, pos, discrete=False) -> Ref:
        """Add a hidden stock; `rate_of(ref)` builds its rate (or next value) from itself."""
        name, dims = self.fresh(owner, what), self.dims(owner)
        ref = Ref(name, dims, pos)
        self.new[name] = ir.Variable(name, self.shown(owner, pos), ir.Kind.STOCK, expr=rate_of(ref),
                                     initial=initial, pos=pos, hidden=True, discrete=discrete, dims=dims)
        return ref

    def aux(self, owner, what, expr, pos) -> Ref:
        name, dims = self.fresh(owner, what), self.dims(owner)
        self.new[name] = ir.Variable(name, self.shown(owner, pos), ir.Kind.AUXILIARY, expr=expr, pos=pos,
                                     hidden=True, dims=dims)
        return Ref(name, dims, pos)

    def dims(self, owner: str) -> tuple[str, ...]:
        """The ranges of an array the dense route kept (passes/dense.py): the hidden variables
        of a call in its equation are arrays over the same ranges, element for element."""
        var = self.model.variables.get(owner)
        return var.dims if var is not None else ()

    def shared(self, owner, expr, pos) -> ir.Expr:
        """`expr` to be used in several places, computed once a step: a random draw
        copied into two equations would be two call sites, two different draws."""
        if isinstance(expr, (Num, Ref)):
            return expr
        return self.aux(owner, "arg", expr, pos)

    def decide(self, rule: str, args: tuple, pos) -> tuple:
        """rules.RULES[rule] of `args` with this lowering's values, recorded as a Decision."""
        result = decide(self.model, rule, args, pos, self.values)
        self.decisions.append(ir.Decision(rule, tuple(args), result, pos))
        return result

    def check_constant_arguments(self, node: Call) -> None:
        """LOOKUP SLOPE's mode, when the model's constants give it, must be one the help
        defines (-1, 0 or 1): refused here, located; a mode computed during the run, or
        set by a run, makes the call NaN, which the run reports as a warning."""
        if node.func != "LOOKUP SLOPE":
            return
        mode = node.args[2]
        nodes = list(ir.walk(mode))
        if any(isinstance(n, Call) for n in nodes) or not all(
                n.name in self.model.variables and self.model.variables[n.name].kind is ir.Kind.CONSTANT
                for n in nodes if isinstance(n, Ref)):
            return
        try:
            value = evaluate(self.model, mode, self.values)
        except (ModelError, ArithmeticError, ValueError):
            return
        if value not in (-1.0, 0.0, 1.0):
            named = [self.model.variables[n.name].display for n in nodes if isinstance(n, Ref)]
            where = f" (from '{named[0]}')" if len(named) == 1 else ""
            raise ModelError(f"{node.pos}: LOOKUP SLOPE's mode (its third argument) must be -1, 0 or 1, "
                             f"got {value:g}{where}")

    def lower_call(self, owner: str, node: Call) -> ir.Expr:
        """A call's lowering, by its family's function; a call that keeps no state stays."""
        self.function = node.func
        lowering = self.lowerings.get(node.func)
        return node if lowering is None else lowering(self, owner, node)

    def lower_expr(self, owner: str, e: ir.Expr | None) -> ir.Expr | None:
        if e is None:
            return None

        def visit(node):
            if isinstance(node, Call):
                if self.dense and node.func in DENSE_CALLS or node.func in IN_ORDER:
                    return node
                check_call(node)
                self.check_constant_arguments(node)
                return self.lower_call(owner, node)
            return node
        return ir.map_expr(e, visit)
