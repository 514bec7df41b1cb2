"""Pass 2: lowering. Stateful builtins become explicit stocks and auxiliaries.

After this pass no expression calls a stateful function: every piece of
memory in the model is a stock (continuous, `s += dt * rate`) or a discrete
stock (`s = next`, updated once per step). The equations are Vensim's own
definitions of each function.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from . import ir
from .builtins import check_call
from .consteval import constant_value, evaluate
from .errors import ModelError, UnsupportedFeature
from .external import resolve_external
from .subscripts import flatten

Num, Ref, Call, BinOp = ir.Num, ir.Ref, ir.Call, ir.BinOp

DT = Ref("time step")


def _add(a, b): return BinOp("+", a, b)
def _sub(a, b): return BinOp("-", a, b)
def _mul(a, b): return BinOp("*", a, b)
def _div(a, b): return BinOp("/", a, b)


@dataclass
class _Lowering:
    model: ir.Model
    new: dict[str, ir.Variable] = field(default_factory=dict)
    counter: int = 0

    def fresh(self, owner: str, what: str) -> str:
        self.counter += 1
        name = f"{owner} #{what}{self.counter}"
        while name in self.model.variables or name in self.new:
            name += "'"
        return name

    def stock(self, owner, what, rate_of, initial, pos, discrete=False) -> Ref:
        """Add a hidden stock; `rate_of(ref)` builds its rate (or next value) from itself."""
        name = self.fresh(owner, what)
        ref = Ref(name, (), pos)
        self.new[name] = ir.Variable(name, name, ir.Kind.STOCK, expr=rate_of(ref), initial=initial,
                                     pos=pos, hidden=True, discrete=discrete)
        return ref

    def aux(self, owner, what, expr, pos) -> Ref:
        name = self.fresh(owner, what)
        self.new[name] = ir.Variable(name, name, ir.Kind.AUXILIARY, expr=expr, pos=pos, hidden=True)
        return Ref(name, (), pos)

    # -- the stateful functions ------------------------------------------------
    def chain(self, owner, what, inp, delay, init_each, n, pos, smooth: bool,
              travelling_times: bool = False) -> ir.Expr:
        """n first-order stages in series, each with time constant delay/n.

        A material delay's stage holds quantity (output = level/stage time);
        an information smooth's stage holds the smoothed value itself.
        With `travelling_times` (Vensim's DELAY N) each stage keeps the stage
        time that was current when the material entered it: stage k's time is
        stage k-1's time one step earlier."""
        stage_time = delay if n == 1 else _div(delay, Num(float(n)))
        stage_time = self.aux(owner, what + "time", stage_time, pos) if n > 1 else stage_time
        times = [stage_time]
        for k in range(1, n if travelling_times else 0):
            times.append(self.stock(owner, f"{what}time{k + 1}_", lambda s, prev=times[-1]: prev,
                                    stage_time, pos, discrete=True))
        times += [stage_time] * (n - len(times))
        signal = inp
        for k in range(n):
            tau = times[k]
            if smooth:
                level = self.stock(owner, f"{what}{k + 1}_",
                                   lambda s, x=signal, tau=tau: _div(_sub(x, s), tau), init_each, pos)
                signal = level
            else:
                level = self.stock(owner, f"{what}{k + 1}_",
                                   lambda s, x=signal, tau=tau: _sub(x, _div(s, tau)),
                                   _mul(init_each, tau), pos)
                signal = self.aux(owner, f"{what}{k + 1}out", _div(level, tau), pos)
        return signal

    def lower_call(self, owner: str, node: Call) -> ir.Expr:
        f, a, pos = node.func, node.args, node.pos
        if f == "DELAY1":
            return self.chain(owner, "delay1", a[0], a[1], a[0], 1, pos, smooth=False)
        if f == "DELAY1I":
            return self.chain(owner, "delay1", a[0], a[1], a[2], 1, pos, smooth=False)
        if f == "DELAY3":
            return self.chain(owner, "delay3", a[0], a[1], a[0], 3, pos, smooth=False)
        if f == "DELAY3I":
            return self.chain(owner, "delay3", a[0], a[1], a[2], 3, pos, smooth=False)
        if f == "DELAY N":
            n = self.order_of(a[3], f, pos)
            try:
                # Vensim lowers the order until each stage is at least one TIME STEP long
                stages = self.initial_value(a[1]) / self.initial_value(DT)
                n = max(1, min(n, int(stages + 1e-9)))
            except ModelError:
                pass
            return self.chain(owner, "delayn", a[0], a[1], a[2], n, pos, smooth=False,
                              travelling_times=True)
        if f == "SMOOTH":
            return self.chain(owner, "smooth", a[0], a[1], a[0], 1, pos, smooth=True)
        if f == "SMOOTHI":
            return self.chain(owner, "smooth", a[0], a[1], a[2], 1, pos, smooth=True)
        if f == "SMOOTH3":
            return self.chain(owner, "smooth3", a[0], a[1], a[0], 3, pos, smooth=True)
        if f == "SMOOTH3I":
            return self.chain(owner, "smooth3", a[0], a[1], a[2], 3, pos, smooth=True)
        if f == "SMOOTH N":
            return self.chain(owner, "smoothn", a[0], a[1], a[2], self.order_of(a[3], f, pos), pos, smooth=True)
        if f in ("TREND", "FORECAST"):
            inp, avg_time = a[0], a[1]
            init = inp if f == "FORECAST" else _div(inp, _add(Num(1.0), _mul(a[2], avg_time)))
            average = self.stock(owner, "average", lambda s: _div(_sub(inp, s), avg_time), init, pos)
            if f == "TREND":  # Vensim divides by |average| here, and not in FORECAST
                return Call("ZIDZ", (_sub(inp, average), _mul(avg_time, Call("ABS", (average,), pos))), pos)
            trend = Call("ZIDZ", (_sub(inp, average), _mul(avg_time, average)), pos)
            return _mul(inp, _add(Num(1.0), _mul(trend, a[2])))
        if f == "NPV":
            stream, rate, init, factor = a
            df = self.stock(owner, "discount", lambda s: _sub(Num(0.0), _div(_mul(s, rate), _add(Num(1.0), _mul(rate, DT)))),
                            Num(1.0), pos)
            accum = self.stock(owner, "npv", lambda s: _mul(stream, df), init, pos)
            return _mul(_add(accum, _mul(_mul(stream, DT), df)), factor)
        if f == "INITIAL":
            return self.stock(owner, "initial", lambda s: s, a[0], pos, discrete=True)
        if f == "SAMPLE IF TRUE":
            cond, inp, init = a
            held = self.fresh(owner, "held")
            # Vensim treats the variable as a level: its own name in the arguments reads the held value
            cond, inp = (_rename(x, {owner: held}) for x in (cond, inp))
            out = self.aux(owner, "sample", Call("IF THEN ELSE", (cond, inp, Ref(held, (), pos)), pos), pos)
            self.new[held] = ir.Variable(held, held, ir.Kind.STOCK, expr=out, initial=init, pos=pos,
                                         hidden=True, discrete=True)
            return out
        if f == "DELAY FIXED":
            # A ring buffer the kernel keeps; the call stays, as its own hidden auxiliary.
            return self.aux(owner, "delayfixed", node, pos)
        if f == "ACTIVE INITIAL":
            raise ModelError(f"{pos}: ACTIVE INITIAL must be the whole equation of a variable")
        return node

    def initial_value(self, expr) -> float:
        return evaluate(self.model, expr, {}, constant_value(self.model, "initial time", {}))

    def order_of(self, expr, f, pos) -> int:
        """The number of stages: structure, so fixed when the model is compiled
        (Vensim too reads the order once, at the initial time)."""
        try:
            value = self.initial_value(expr)
        except ModelError:
            value = None
        if value is not None and value >= 1:
            return int(round(value))
        raise UnsupportedFeature(f"{pos}: {f} needs an order computable from constants at the initial time")

    def lower_expr(self, owner: str, e: ir.Expr | None) -> ir.Expr | None:
        if e is None:
            return None

        def visit(node):
            if isinstance(node, Call):
                check_call(node)
                return self.lower_call(owner, node)
            return node
        return ir.map_expr(e, visit)


STATEFUL = {"DELAY1", "DELAY1I", "DELAY3", "DELAY3I", "DELAY N", "SMOOTH", "SMOOTHI", "SMOOTH3",
            "SMOOTH3I", "SMOOTH N", "TREND", "FORECAST", "NPV", "INITIAL", "SAMPLE IF TRUE",
            "DELAY FIXED", "ACTIVE INITIAL"}


def _rename(e: ir.Expr | None, names: dict[str, str]) -> ir.Expr | None:
    def visit(node):
        if isinstance(node, Ref) and node.name in names:
            return replace(node, name=names[node.name])
        if isinstance(node, ir.LookupCall) and node.table in names:
            return replace(node, table=names[node.table])
        return node
    return None if e is None else ir.map_expr(e, visit)


def expand_macros(model: ir.Model) -> ir.Model:
    """Copy a macro's equations for each call, inputs bound to the call's arguments.

    A macro's variables are local to it: each call site gets its own hidden
    copies (stocks included), named after the call. A macro may call macros."""
    if not model.macros:
        return model
    count = 0
    done: dict[str, ir.Variable] = {}
    work = list(model.variables.values())
    while work:
        var = work.pop()
        added: list[ir.Variable] = []

        def visit(node):
            nonlocal count
            if not (isinstance(node, Call) and ir.canonical_name(node.func) in model.macros):
                return node
            macro = model.macros[ir.canonical_name(node.func)]
            if macro.outputs:
                raise UnsupportedFeature(f"{node.pos}: macro '{macro.name}' has extra outputs "
                                         "(':' in its header); these are not supported yet")
            if len(node.args) != len(macro.params):
                raise ModelError(f"{node.pos}: macro '{macro.name}' takes {len(macro.params)} "
                                 f"arguments, got {len(node.args)}")
            count += 1
            prefix = f"{macro.name} #call{count}"
            names = {p: f"{prefix} {p}" for p in macro.params}
            names.update({v.name: f"{prefix} {v.name}" for v in macro.variables})
            for p, arg in zip(macro.params, node.args):
                added.append(ir.Variable(names[p], names[p], ir.Kind.AUXILIARY, expr=arg,
                                         pos=node.pos, hidden=True))
            for body in macro.variables:
                added.append(replace(body, name=names[body.name], display=names[body.name],
                                     expr=_rename(body.expr, names),
                                     initial=_rename(body.initial, names), hidden=True))
            if macro.name not in names:
                raise ModelError(f"{macro.pos}: macro '{macro.name}' does not define its output "
                                 f"'{macro.name}'")
            return Ref(names[macro.name], (), node.pos)

        expr = None if var.expr is None else ir.map_expr(var.expr, visit)
        initial = None if var.initial is None else ir.map_expr(var.initial, visit)
        done[var.name] = replace(var, expr=expr, initial=initial)
        work.extend(added)
    return replace(model, variables=done, macros={})


def lower(model: ir.Model) -> ir.Model:
    """Return a model whose expressions hold no stateful calls."""
    model = flatten(resolve_external(model))
    for var in model.variables.values():
        if var.kind is ir.Kind.DATA:
            raise UnsupportedFeature(f"{var.pos}: '{var.display}' is a data variable; "
                                     "data variables are not supported yet")
    model = expand_macros(model)
    lw = _Lowering(model)
    out: dict[str, ir.Variable] = {}
    for name, var in model.variables.items():
        expr, initial = var.expr, var.initial
        if isinstance(expr, Call) and expr.func == "ACTIVE INITIAL":
            check_call(expr)
            expr, initial = expr.args
        out[name] = replace(var, expr=lw.lower_expr(name, expr), initial=lw.lower_expr(name, initial))
    out.update(lw.new)
    return replace(model, variables=out)
