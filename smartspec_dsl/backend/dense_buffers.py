"""The kernel buffer's functions over an array (passes/dense_buffers.py): one loop per phase
over the array's elements, each element with its own buffer region, as the per-element route
gives each element's hidden auxiliary its own.

The regions of an array's elements are consecutive (`Emitter.fixed` lists them in element
order), so an element's region index is its slot's offset in the array plus the array's first
region, and the loop writes the statement the per-element route writes for one element
(backend/emit.py) with that index:

    for i0 in range(n):                                   # DELAY MATERIAL's output
        st(v, 40 + i0, material_out(buf, bi[2 * (40 + i0 - 37)], bi[2 * (40 + i0 - 37) + 1], istep, 0.0))

DELAY FIXED sizes an element's region by its own delay time at initialisation; DELAY MATERIAL
and DELAY INFORMATION by the run; DELAY CONVEYOR, DELAY PROFILE, the queues and INTERNAL RATE
OF RETURN (the functions of parcels, backend/kernel_queues.py) by the run plus their element's
own time argument.
"""
from __future__ import annotations

from .. import ir
from ..ir.builtins import BUILTINS, RANDOM_DRAW
from ..passes.order import buffer_of, is_delay_information, is_delay_material
from . import element_loops

# an expression standing for its arguments' code, comma-separated: one helper call's values
# computed in the loop (`BufferLoops.helper_values`; never in the IR)
VALUES = "@VALUES OF A CALL"
# the calls that draw a number each (Emitter.random_site)
_DRAWS = frozenset(n for n, b in BUILTINS.items() if b.emit == RANDOM_DRAW) | {"RANDOM 0 1", "RANDOM LOOKUP"}


def _draws(e: ir.Expr) -> int:
    return sum(type(n) is ir.Call and n.func in _DRAWS for n in ir.walk(e))


class BufferLoops:
    """The mixin of `DenseEmitter` for the buffer's functions over an array."""

    def helper_values(self, e: ir.Call) -> str:
        return ", ".join(self.expr(a) for a in e.args)

    def fixed_loop(self, n: str, phase: str) -> element_loops.Item:
        """The statement of buffer array `n` in `phase` (see `buffer_statement`), its draws
        numbered after those of the phase's statement before it, as the per-element route's
        statements of one element count theirs: "init" after "size", "write" after "read"."""
        before = {"init": "size", "write": "read"}.get(phase)
        first = _draws(self.buffer_statement(n, before)[1]) if before else 0
        target, e = self.buffer_statement(n, phase)
        return element_loops.Item(n, None, (), None, lambda: self.looped(n, target, e, first))

    def buffer_statement(self, n: str, phase: str) -> tuple[str, ir.Expr]:
        """The statement of buffer array `n` in `phase` (its target, a format of the slot `{0}`
        and the value `{1}` of its expression in the loop): "size" (each element's region
        length in its size slot), "init" (the output at initialisation), "read" (each element's
        output from its region) or "write" (each element's input into its region)."""
        var = self.schedule.model.variables[n]
        call, b = var.expr, buffer_of(var)
        args = call.args
        first = self.fixed.index(self.elements.names(n)[0])

        def shifted(k: int) -> str:   # the slot `{0}` moved by k
            return "{0}" + (f" + {k}" if k > 0 else f" - {-k}" if k else "")
        j = f"2 * ({shifted(first - self.base[n])})"
        region = f"buf, bi[{j}], bi[{j} + 1], istep"
        clock = [ir.Ref(ir.TIME, (), call.pos)] * b.clock + [ir.Ref("time step", (), call.pos)]
        dt = ir.Ref("time step", (), call.pos)
        tables = "".join(", " + self.profile(call, k) for k in b.tables)

        def listed(*es: ir.Expr) -> ir.Call:
            return ir.Call(VALUES, es, call.pos)
        if phase == "size":
            target = f"st(v, {shifted(self.fixed_delay_slot[self.fixed[first]] - self.base[n])}, {{1}})"
            if b.out:
                t0, t1, step = (f"ld(v, {self.slots[c]})" for c in ("initial time", "final time", "time step"))
                target = target.replace("{1}", f"parcels_size({t0}, {t1}, {step}, {{1}})")
                e = args[b.span]
            elif self.whole_run(var):
                target, e = target.replace("{1}", self.material_size()), ir.Num(0.0)
            else:
                e = args[1]
        elif phase == "init" and b.out:    # before the buffer exists: the helpers read no region then
            target = f"st(v, {{0}}, {b.out}(v, ix(0), ix(0), ix(-1), {{1}}{tables}))"
            e = listed(*(args[i] for i in b.out_args), *clock)
        elif phase == "init":    # the output's initial value
            target, e = "st(v, {0}, {1})", args[2]
        elif phase == "read" and b.out:
            target, e = f"st(v, {{0}}, {b.out}({region}, {{1}}{tables}))", listed(*(args[i] for i in b.out_args), *clock)
        elif phase == "read" and is_delay_material(var):
            target, e = f"st(v, {{0}}, material_out({region}, {{1}}))", args[3]
        elif phase == "read" and is_delay_information(var):
            target, e = f"st(v, {{0}}, information_out(buf, bi[{j}], istep, {{1}}))", listed(args[1], dt, args[2])
        elif phase == "read":
            target, e = f"st(v, {{0}}, buf[bi[{j}] + istep % bi[{j} + 1]])", None
        elif b.out:
            target, e = f"{b.write}({region}, {{1}}{tables})", listed(*(args[i] for i in b.write_args), *clock)
        elif is_delay_material(var):
            target, e = f"material_in({region}, {{1}}, ld(v, {{0}}))", listed(args[0], args[1], dt)
        else:    # DELAY FIXED, DELAY INFORMATION: the step's input into the ring
            target, e = f"buf[bi[{j}] + istep % bi[{j} + 1]] = {{1}}", args[0]
        return target, e or ir.Num(0.0)

    def fixed_write_statements(self) -> list[str]:
        vs = self.schedule.model.variables
        arrays = [self.fixed_loop(n, "write") for n in dict.fromkeys(r.split("[", 1)[0] for r in self.fixed)
                  if n in vs and vs[n].dims]
        return super().fixed_write_statements() + element_loops.statements(self, arrays)
