"""Expression and statement emission: the IR of one equation becomes one line of kernel
code (`Emitter`), and the emitter assigns every variable its slot of the state vector `v`.

Nothing from the model's text reaches the generated source: variables become
slots of one float64 vector `v` (`v[12]`), numbers are emitted with repr(),
lookups become offsets into one table vector, functions come from a fixed
table (ir/builtins.py). Model names appear only in comments, reduced to
[A-Za-z0-9_ ].

Slot layout of `v`: [time | continuous stocks | discrete stocks | the rest],
so the integrator updates the stocks with one loop.
"""
from __future__ import annotations

import math
import re

from .. import ir
from ..errors import ModelError, UnsupportedFeature
from ..ir.builtins import ARGS, ARRAY_DRIVERS, ARRAY_READS, LOOKUP, RANDOM_DRAW, helpers
from ..passes.order import (Schedule, buffer_of, initial_reads, is_delay_fixed, is_delay_information,
                            is_delay_material)
from . import element_loops, emit_solve, sites

# Vensim function -> kernel helper, by how the call is written (ir/builtins.py)
_SIMPLE = helpers(ARGS)            # helper(same arguments)
_LOOKUP_FUNCS = helpers(LOOKUP)    # helper(x, table)
_RANDOM_FUNCS = helpers(RANDOM_DRAW)   # helper(arguments, call site, step, run seed)
_COMPARE = {"=": "==", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def safe_comment(text: str) -> str:
    """A model name as a code comment: [A-Za-z0-9_ ] only, at most 60 characters."""
    return re.sub(r"[^A-Za-z0-9_ ]", "?", text)[:60]


def num(x: float) -> str:
    """A float as a Python literal that reads back to the same float (nan and inf too)."""
    if math.isnan(x):
        return "math.nan"
    if math.isinf(x):
        return "math.inf" if x > 0 else "-math.inf"
    return repr(float(x))


class Emitter:
    """The code of one schedule's statements, and the slots, lookup tables, watches and
    scratch blocks they use."""

    def __init__(self, schedule: Schedule):
        self.schedule = schedule
        model = schedule.model
        vs = model.variables
        cont = [n for n in schedule.stocks if not vs[n].discrete]
        disc = [n for n in schedule.stocks if vs[n].discrete]
        order = [ir.TIME] + cont + disc + list(schedule.constants)
        stocks = set(cont) | set(disc)
        order += [n for n in schedule.initial if n not in stocks]
        self.slots = {n: i for i, n in enumerate(order)}
        self.cont, self.disc = cont, disc
        self.fixed = [n for n in schedule.initial if is_delay_fixed(vs[n])]
        self.after_slots(len(self.slots))
        self.watches: list[tuple] = []
        self.watch_at: dict[tuple, int] = {}
        self.owner = ""           # the variable whose equation is being generated
        self.draws: dict[tuple[int, str], int] = {}   # (phase, owner) -> its draws so far
        self.site_owners: dict[str, int] = {}
        self.pre: list[str] = []   # loops the statement being generated needs first
        self.moving: dict = {}   # node id -> its code (or what writes it) where a loop advances it (element_loops)
        self.outer: dict = {}    # (node id, role) -> the steps of the loops around it (element_loops)
        self._site_arrays = None
        self.n_acc = 0
        self.step_expr = "istep"  # initial statements draw with step -1
        self.lookups: list[tuple[str | None, ir.LookupTable]] = []
        self.table_at: dict[object, int] = {}

    def after_slots(self, first: int) -> None:
        """Lay out what follows the variables' slots, from slot `first` on: the fixed delays'
        delay times, the run seed, the scratch blocks, the solvers' states, the watches."""
        vs = self.schedule.model.variables
        # each fixed delay also keeps its delay time, evaluated at initialisation
        self.fixed_delay_slot = {n: first + j for j, n in enumerate(self.fixed)}
        # the run seed (the last entry of the parameter vector) keeps a slot for random draws
        self.run_seed_slot = first + len(self.fixed_delay_slot)
        self.n_slots = self.run_seed_slot + 1
        # whole-array functions (subscripts.py) compute into a scratch block each, after the slots
        self.scratch: dict[str, int] = {}
        for n, var in vs.items():
            if isinstance(var.expr, ir.Call) and var.expr.func in ARRAY_DRIVERS:
                self.scratch[n] = self.n_slots
                self.n_slots += len(var.expr.args) - ARRAY_DRIVERS[var.expr.func].scalars
        # the loops solved within the step (passes/solve.py): each its solver's state
        self.block_base: list[int] = []
        for b in self.schedule.blocks:
            self.block_base.append(self.n_slots)
            self.n_slots += emit_solve.size(len(b.unknowns))
        # watches (kernel_intrinsics.watched): lookup inputs and variables with a declared range;
        # five slots each, after the scratch blocks
        self.watch_base = self.n_slots

    def variable(self, name: str) -> ir.Variable:
        """The variable `name` (DenseEmitter: an element of a dense array too)."""
        return self.schedule.model.variables[name]

    def table(self, key, table: ir.LookupTable) -> str:
        """Table k's offset and length sit at tab[2k], tab[2k+1] (see `table_vector`),
        so a changes file can replace a table without recompiling; a copy of a lookup's
        table (`LookupTable.source`) is filed under that lookup's name, which a run replaces."""
        filed = table.source or key
        if filed not in self.table_at:
            self.table_at[filed] = len(self.lookups)
            self.lookups.append((filed if isinstance(filed, str) else None, table))
        k = self.table_at.setdefault(key, self.table_at[filed])
        return f"tab, tk(tab, {2 * k}), tk(tab, {2 * k + 1})"

    def lookup_of(self, name: str, pos) -> str:
        var = self.schedule.model.variables.get(name)   # None: Time, which no equation defines
        if var is None or var.lookup is None:
            shown = var.display if var is not None else "Time" if name == ir.TIME else name
            raise UnsupportedFeature(f"{pos}: '{shown}' is not a lookup table")
        return self.table(name, var.lookup)

    def watch(self, key: tuple) -> int:
        """The first slot of the watch for `key`: ("lookup", owner, lookup or None, pos, table
        index) or ("range", variable, lo, hi)."""
        if key not in self.watch_at:
            self.watch_at[key] = self.watch_base + 5 * len(self.watches)
            self.watches.append(key)
        return self.watch_at[key]

    def watched_lookup(self, arg: str, key, table: ir.LookupTable, name: str | None, pos) -> str:
        self.table(key, table)
        k = self.table_at[key]
        s = self.watch(("lookup", self.owner, name, pos, k))
        return f"watched_lookup(v, {s}, {arg}, tab, {k})"

    def range_watches(self, names) -> list[str]:
        """A watch statement per variable of `names` whose units declare a range (the elements
        of a flattened array in loops, element_loops.py)."""
        items = []
        for n in names:
            bounds = ir.declared_range(self.schedule.model.variables[n].units)
            if bounds is not None:
                items.append(self.range_watch(n, bounds))
        return element_loops.statements(self, items)

    def range_watch(self, n: str, bounds) -> element_loops.Item:
        s, slot = self.watch(("range", n) + bounds), self.slots[n]
        return element_loops.Item(n, None, (s, slot), "watched(v, {0}, ld(v, {1}))",
                                  lambda: f"watched(v, {s}, ld(v, {slot}))")

    # -- expressions ---------------------------------------------------------
    def expr(self, e: ir.Expr) -> str:
        if self.moving and id(e) in self.moving:   # a slot, number or lookup a loop advances (element_loops)
            code = self.moving[id(e)]
            return code if isinstance(code, str) else code()
        if isinstance(e, ir.Num):
            return num(e.value)
        if isinstance(e, ir.Ref):
            return f"ld(v, {self.slots[e.name]})"
        if isinstance(e, ir.UnaryOp):
            inner = self.expr(e.operand)
            return f"(-{inner})" if e.op == "-" else f"fnot({inner})"
        if isinstance(e, ir.BinOp):
            if e.op == "+" and element_loops.terms_at_least(e, element_loops.MIN_STRIDED_SUM):
                return element_loops.long_sum(self, e)
            a, b = self.expr(e.left), self.expr(e.right)
            if e.op in "+-*/":
                return f"({a} {e.op} {b})"
            if e.op == "^":
                return f"power({a}, {b})"
            if e.op == "and":
                return f"fand({a}, {b})"
            if e.op == "or":
                return f"forr({a}, {b})"
            return f"bf({a} {_COMPARE[e.op]} {b})"
        if isinstance(e, ir.LookupCall):
            var = self.schedule.model.variables[e.table]
            if var.lookup is None:
                raise UnsupportedFeature(f"{e.pos}: '{var.display}' is not a lookup table")
            if var.series:   # data, held beyond its points (ir.Variable.series): not watched
                return f"lookup({self.expr(e.arg)}, {self.table(e.table, var.lookup)})"
            return self.watched_lookup(self.expr(e.arg), e.table, var.lookup, e.table, e.pos)
        if isinstance(e, ir.Call):
            return self.call(e)
        if isinstance(e, ir.Str):
            raise UnsupportedFeature(f"a text argument ('{e.value}') cannot be computed with")
        raise UnsupportedFeature(f"cannot generate code for {type(e).__name__}")

    def flush(self, line: str) -> str:
        """`line` after the loops its sums need (element_loops.long_sum); nothing is pending afterwards."""
        if not self.pre:
            return line
        pre, self.pre, self.n_acc = self.pre, [], 0
        return "\n".join(pre + [line])

    def call(self, e: ir.Call) -> str:
        """A call: a block read of the flattening's internal calls, or a Vensim function
        written as the registry says (`emit`: ARGS, LOOKUP, RANDOM_DRAW, or OWN, a method
        of `OWN_EMITTERS`)."""
        f, args = e.func, e.args
        if f in ARRAY_READS:
            return self.block_read(e)
        if f in _SIMPLE:
            inner = ", ".join(self.expr(x) for x in args)
            return f"{_SIMPLE[f]}({inner})"
        if f in _LOOKUP_FUNCS:
            return f"{_LOOKUP_FUNCS[f]}({self.expr(args[1])}, {self.named_lookup(e)})"
        if f in _RANDOM_FUNCS:
            a = [self.expr(x) for x in args]
            return f"{_RANDOM_FUNCS[f]}({', '.join(a)}, {self.random_site()})"
        own = OWN_EMITTERS.get(f)
        if own is None:
            raise UnsupportedFeature(f"{e.pos}: function '{f}' is not supported here")
        return own(self, e)

    def random_site(self) -> str:
        """The arguments that make a draw counter-based: a new call site, the step, the run seed."""
        key = (int(self.step_expr == "-1"), self.owner)
        self.draws[key] = self.draws.get(key, 0) + 1
        return self.site()

    def site(self) -> str:
        """The call site of the owner's latest draw, a placeholder `number_sites` numbers once
        every statement is written."""
        phase = int(self.step_expr == "-1")
        oid = self.site_owners.setdefault(self.owner, len(self.site_owners))
        return f"ix(@SITE{phase}_{oid}_{self.draws[phase, self.owner] - 1}@), ix({self.step_expr}), " \
               f"ld(v, {self.run_seed_slot})"

    def site_arrays_of(self) -> dict[str, tuple[str, int, int]]:
        """Each variable's array as the call sites see it (`sites.site_arrays`), computed once."""
        if self._site_arrays is None:
            self._site_arrays = sites.site_arrays(self.schedule.model, self.array_size)
        return self._site_arrays

    def array_size(self, name: str) -> int:
        """The number of elements of an array kept whole (a dense emitter's; none here)."""
        return 1

    def number_sites(self, *blocks: list[str]) -> list[list[str]]:
        """The statements of `blocks` with their call sites numbered by one rule
        (backend/sites.py), whatever the order of the statements, whether an array is one
        loop or one statement per element, and whatever other equations the model has: the
        j-th draw of element e of an array of n elements is the array's first site (a hash
        of its name and phase) + j * n + e."""
        if not self.site_owners:    # no draw
            return list(blocks)
        arrays = self.site_arrays_of()
        owners = {i: o for o, i in self.site_owners.items()}

        def number(k: re.Match) -> str:
            phase, owner, j = int(k.group(1)), owners[int(k.group(2))], int(k.group(3))
            array, e, size = arrays.get(owner, (owner, 0, 1))
            site = sites.first_site(phase, array) + j * size + e
            return f"{site} + ({k.group(4)})" if k.group(4) else str(site)
        return [[re.sub(r"@SITE(\d)_(\d+)_(\d+)@(?:\{([^{}]*)\})?", number, line) for line in block]
                for block in blocks]

    def clock(self) -> tuple[str, str]:
        return f"ld(v, {self.slots[ir.TIME]})", f"ld(v, {self.slots['time step']})"

    # -- the functions with a way of their own (registry emit=OWN) -----------------------
    def log(self, e: ir.Call) -> str:
        a = [self.expr(x) for x in e.args]
        return f"log2({a[0]}, {a[1]})" if len(a) == 2 else f"math.log10({a[0]})"

    def with_lookup(self, e: ir.Call) -> str:
        x, table = e.args
        if not isinstance(table, ir.LookupTable):
            raise UnsupportedFeature(f"{e.pos}: WITH LOOKUP needs a lookup table as its second argument")
        return self.watched_lookup(self.expr(x), id(table), table, None, e.pos)

    def named_lookup(self, e: ir.Call) -> str:
        """The table (`tab, tk(...), tk(...)`) of a function whose first argument is a
        lookup's name (the registry's TAKES_LOOKUP); the dense route's loops read the row of
        a lookup defined per element here (DenseEmitter)."""
        if not isinstance(e.args[0], ir.Ref):
            raise UnsupportedFeature(f"{e.pos}: {e.func} needs a lookup name as its first argument")
        return self.lookup_of(e.args[0].name, e.pos)

    def lookup_area(self, e: ir.Call) -> str:
        table = self.named_lookup(e)
        return f"lookup_area({self.expr(e.args[1])}, {self.expr(e.args[2])}, {table})"

    def lookup_slope(self, e: ir.Call) -> str:
        table = self.named_lookup(e)
        return f"lookup_slope({self.expr(e.args[1])}, {self.expr(e.args[2])}, {table})"

    def random_lookup(self, e: ir.Call) -> str:
        table = self.named_lookup(e)
        rest = ", ".join(self.expr(x) for x in e.args[1:5])
        site = self.random_site()
        seed = self.expr(e.args[5])
        return f"random_lookup({table}, {rest}, {seed}, {site})"

    def random_0_1(self, e: ir.Call) -> str:
        return f"random_uniform(0.0, 1.0, 0.0, {self.random_site()})"

    def step(self, e: ir.Call) -> str:
        (t, dt), a = self.clock(), [self.expr(x) for x in e.args]
        return f"fstep(({t} + 0.5 * {dt}), {a[0]}, {a[1]})"

    def ramp(self, e: ir.Call) -> str:
        (t, _), a = self.clock(), [self.expr(x) for x in e.args]
        return f"ramp({t}, {a[0]}, {a[1]}, {a[2]})"

    def pulse(self, e: ir.Call) -> str:
        (t, dt), a = self.clock(), [self.expr(x) for x in e.args]
        return f"pulse({t}, {dt}, {a[0]}, {a[1]})"

    def pulse_train(self, e: ir.Call) -> str:
        (t, dt), a = self.clock(), [self.expr(x) for x in e.args]
        return f"pulse_train({t}, {dt}, {a[0]}, {a[1]}, {a[2]}, {a[3]})"

    # -- statements ----------------------------------------------------------
    def assign(self, name: str, e: ir.Expr) -> str:
        self.owner = name
        try:
            if isinstance(e, ir.Call) and e.func in ARRAY_DRIVERS:
                return self.flush(self.array_driver(name, e))
            return self.flush(f"st(v, {self.slots[name]}, {self.expr(e)})  # {safe_comment(name)}")
        except ModelError as err:   # an error without a place is placed at the equation
            pos = self.schedule.model.variables[name].pos
            if pos is None or re.match(r"\S.*:\d+:\d+: ", str(err)):
                raise
            raise type(err)(f"{pos}: {err}") from None

    # -- whole-array functions: one statement stores the vector in the variable's scratch
    # block and computes over it in place; elements read the block --------------------
    def array_driver(self, name: str, e: ir.Call) -> str:
        driver = ARRAY_DRIVERS[e.func]
        base, vector = self.scratch[name], e.args[driver.scalars:]
        parts = [f"st(v, {base + i}, {self.expr(x)})" for i, x in enumerate(vector)]
        scalars = "".join(f", {self.expr(x)}" for x in e.args[:driver.scalars])
        value = f"{driver.helper}(v, ix({base}), ix({len(vector)}){scalars})" if driver.helper else "0.0"
        parts.append(f"st(v, {self.slots[name]}, {value})  # {safe_comment(name)}")
        return "; ".join(parts)

    def block_read(self, e: ir.Call) -> str:
        read = ARRAY_READS[e.func]
        base = self.scratch[e.args[0].name]
        if not read.helper:   # the block's k-th value
            return f"ld(v, {base + int(e.args[1].value)})"
        n = int(e.args[1].value)
        rest = ", ".join(self.expr(x) for x in e.args[2:])
        return f"{read.helper}(v, ix({base}), ix({n}), {rest})"

    def constant_statements(self) -> list[str]:
        """The parameter vector into the constants' slots, and the run seed after them."""
        consts = self.schedule.constants
        first = self.slots[consts[0]] if consts else 0
        assert all(self.slots[c] == first + i for i, c in enumerate(consts))
        out = [f"for i in range({len(consts)}):\n    st(v, {first} + i, ld(p, i))"] if consts else []
        out.append(f"st(v, {self.run_seed_slot}, ld(p, {len(self.schedule.constants)}))")
        return out

    def initial_statements(self) -> list[str]:
        vs = self.schedule.model.variables
        # constants sit in consecutive slots: one loop types and compiles far faster than a
        # statement per constant
        out = self.constant_statements()
        self.step_expr = "-1"
        blocks = emit_solve.blocks_by_first(self.schedule, "initialisation")
        # every statement is written (so that the call sites, watches and tables are those of the
        # whole schedule) but only those of the values a run reads are kept (order.initial_reads)
        reads = initial_reads(self.schedule)
        pending: list[element_loops.Item] = []    # statements element_loops may loop over
        for n in self.schedule.initial:
            var = vs[n]
            self.owner = n
            if n in reads and n not in blocks and not (is_delay_fixed(var) and buffer_of(var).out and not var.dims):
                pending += element_loops.initial_items(self, n)
                continue
            if n in reads:
                out += element_loops.statements(self, pending)
                pending = []
            self.owner = n      # the pending statements written set theirs: n's draws are its own
            if n in blocks:
                stmts = [emit_solve.solved_block(self, blocks[n])] if blocks[n] is not None else []
            elif is_delay_fixed(var) and buffer_of(var).out:
                stmts = [self.flush(f"st(v, {self.fixed_delay_slot[n]}, {self.parcels_size(var)})"),
                         self.flush(f"st(v, {self.slots[n]}, {self.parcels_call(n, 'out')})")]
            elif is_delay_fixed(var):
                _, delay, init = var.expr.args[:3]
                size = self.expr(delay) if not self.whole_run(var) else self.material_size()
                stmts = [self.flush(f"st(v, {self.fixed_delay_slot[n]}, {size})"), self.assign(n, init)]
            else:
                stmts = [self.assign(n, var.initial if var.initial is not None else var.expr)]
            out += stmts if n in reads else []
        out += element_loops.statements(self, pending)
        out += self.range_watches(n for n in self.schedule.initial
                                  if vs[n].kind is not ir.Kind.CONSTANT and n in reads)
        self.step_expr = "istep"
        return out

    def dynamic_statements(self) -> list[str]:
        vs = self.schedule.model.variables
        out = []
        blocks = emit_solve.blocks_by_first(self.schedule, "time step")
        pending: list[element_loops.Item] = []    # statements element_loops may loop over
        for n in self.schedule.dynamic:
            self.owner = n
            if n not in blocks and not is_delay_fixed(vs[n]):
                pending.append(element_loops.item(self, n, vs[n].expr))
                continue
            if n not in blocks and vs[n].dims:    # over an array (dense_buffers.py): one loop over its regions
                pending.append(self.fixed_loop(n, "read"))
                continue
            if n not in blocks and not (buffer_of(vs[n]).out or is_delay_material(vs[n])
                                        or is_delay_information(vs[n])):
                j = self.fixed.index(n)
                read = "st(v, {0}, buf[bi[{1}] + istep % bi[{2}]])"
                pending.append(element_loops.Item(n, None, (self.slots[n], 2 * j, 2 * j + 1), read,
                                                  lambda n=n, j=j: read.format(self.slots[n], 2 * j, 2 * j + 1)))
                continue
            out += element_loops.statements(self, pending)
            pending = []
            self.owner = n      # the pending statements written set theirs: n's draws are its own
            if n in blocks:
                if blocks[n] is not None:
                    out.append(emit_solve.solved_block(self, blocks[n]))
            elif is_delay_fixed(vs[n]) and buffer_of(vs[n]).out:
                out.append(self.flush(f"st(v, {self.slots[n]}, {self.parcels_call(n, 'out')})"))
            elif is_delay_material(vs[n]):
                j = self.fixed.index(n)
                missing = self.expr(vs[n].expr.args[3])
                out.append(self.flush(f"st(v, {self.slots[n]}, material_out(buf, bi[{2 * j}], "
                                      f"bi[{2 * j + 1}], istep, {missing}))"))
            elif is_delay_information(vs[n]):
                j = self.fixed.index(n)
                delay, init = (self.expr(x) for x in vs[n].expr.args[1:3])
                out.append(self.flush(f"st(v, {self.slots[n]}, information_out(buf, bi[{2 * j}], istep, "
                                      f"{delay}, ld(v, {self.slots['time step']}), {init}))"))
        out += element_loops.statements(self, pending)
        return out + self.range_watches(list(self.schedule.stocks) + list(self.schedule.dynamic))

    # -- SIMULTANEOUS and FIND ZERO on no loop (on one: emit_solve.py writes the loop) ------
    def simultaneous_alone(self, e: ir.Call) -> str:
        """SIMULTANEOUS on no loop: its expression's value (nothing to iterate)."""
        return self.expr(e.args[0])

    def find_zero_alone(self, e: ir.Call) -> str:
        """FIND ZERO on no loop: an element it holds at its initial value xi (passes/solve.py
        refuses any other)."""
        return self.expr(e.args[3])

    def rate(self, n: str) -> str:
        """The code of stock n's rate (or next value), its draws counted from the first: the
        Euler driver writes the rates again, inline, at the rate statements' call sites."""
        self.owner = n
        self.draws.pop((int(self.step_expr == "-1"), n), None)
        return self.expr(self.schedule.model.variables[n].expr)

    def rate_statements(self) -> list[str]:
        vs = self.schedule.model.variables
        return element_loops.statements(self, [element_loops.Item(
            n, vs[n].expr, (self.slots[n] - 1,), "st(r, {0}, {value})",
            lambda n=n: self.flush(f"st(r, {self.slots[n] - 1}, {self.rate(n)})  # {safe_comment(n)}"))
            for n in self.cont + self.disc])

    def fixed_write(self, j: int, n: str) -> str:
        self.owner = n
        if buffer_of(self.schedule.model.variables[n]).out:
            return self.flush(self.parcels_call(n, "write"))
        if is_delay_material(self.schedule.model.variables[n]):
            return self.material_write(j, n)
        value = self.expr(self.schedule.model.variables[n].expr.args[0])
        return self.flush(f"buf[bi[{2 * j}] + istep % bi[{2 * j + 1}]] = {value}")

    def fixed_write_statements(self) -> list[str]:
        # DELAY INFORMATION keeps the input of every step (its buffer spans the run), as
        # DELAY FIXED keeps those of its delay time
        vs = self.schedule.model.variables
        return element_loops.statements(self, [element_loops.Item(
            n, None if buffer_of(vs[n]).out or is_delay_material(vs[n]) else vs[n].expr.args[0], (2 * j, 2 * j + 1),
            "buf[bi[{0}] + istep % bi[{1}]] = {value}", lambda j=j, n=n: self.fixed_write(j, n))
            for j, n in enumerate(self.fixed) if n in vs])   # an array's regions: DenseEmitter

    @staticmethod
    def whole_run(var: ir.Variable) -> bool:
        """A buffer delay whose buffer spans the run (DELAY MATERIAL, DELAY INFORMATION)."""
        return buffer_of(var).spans_run

    # DELAY MATERIAL: a pipeline in the fixed-delay buffer (see kernel_extra)
    def material_size(self) -> str:
        t0, t1, dt = (f"ld(v, {self.slots[c]})" for c in ("initial time", "final time", "time step"))
        return f"material_size({t0}, {t1}, {dt})"

    def material_write(self, j: int, n: str) -> str:
        inp, delay = (self.expr(x) for x in self.schedule.model.variables[n].expr.args[:2])
        dt = f"ld(v, {self.slots['time step']})"
        return (f"material_in(buf, bi[{2 * j}], bi[{2 * j + 1}], istep, {inp}, {delay}, {dt}, "
                f"ld(v, {self.slots[n]}))")

    # the functions of parcels (kernel_queues): DELAY CONVEYOR, QUEUE FIFO, DELAY PROFILE
    def region(self, n: str) -> str:
        """Buffer variable n's region and the step; before the buffer exists (the
        initialisation) none, which the helpers do not read then."""
        if self.step_expr != "istep":
            return "v, ix(0), ix(0), ix(-1)"
        j = self.fixed.index(n)
        return f"buf, bi[{2 * j}], bi[{2 * j + 1}], istep"

    def parcels_call(self, n: str, which: str) -> str:
        """The output (`which` "out") or the step's write ("write") of buffer variable n."""
        var = self.schedule.model.variables[n]
        b, args = buffer_of(var), var.expr.args
        values = [self.expr(args[i]) for i in (b.out_args if which == "out" else b.write_args)]
        values += ["ld(v, 0)"] * b.clock + [f"ld(v, {self.slots['time step']})"]
        values += [self.profile(var.expr, k) for k in b.tables]
        return f"{b.out if which == 'out' else b.write}({self.region(n)}, {', '.join(values)})"

    def parcels_size(self, var: ir.Variable) -> str:
        t0, t1, dt = (f"ld(v, {self.slots[c]})" for c in ("initial time", "final time", "time step"))
        return f"parcels_size({t0}, {t1}, {dt}, {self.expr(var.expr.args[buffer_of(var).span])})"

    def profile(self, call: ir.Call, k: int) -> str:
        """The table of the lookup named by argument k of `call` (lowering checked it names one)."""
        return self.lookup_of(call.args[k].name, call.pos)

    def queue_age(self, e: ir.Call) -> str:
        """The QUEUE AGE and QUEUE ATTRIB functions (queue, ...): read from the region of the
        queue, the hidden auxiliary its variable's equation names (lowering checked it is a
        QUEUE FIFO or QUEUE FIFO ATTRIB)."""
        vs = self.schedule.model.variables
        q = e.args[0]
        while isinstance(vs[q.name].expr, ir.Ref):
            q = vs[q.name].expr
        call = vs[q.name].expr
        mode = QUEUE_READS.index(e.func)
        ab = [self.expr(x) for x in e.args[1:3]] + ["0.0"] * (3 - len(e.args))
        if call.func == "QUEUE FIFO":   # init, age range, profile; attributes 1
            init, span, initatt, width, tables = call.args[3], call.args[4], ir.Num(1.0), 2.0, (2, 2)
        else:                           # init, initatt, age range, profile, attribute profile
            init, initatt, span, width, tables = call.args[6], call.args[7], call.args[8], 3.0, (4, 5)
        values = ", ".join(self.expr(x) for x in (init, span, initatt))
        dt = f"ld(v, {self.slots['time step']})"
        return (f"queue_age({self.region(q.name)}, {float(mode)!r}, {ab[0]}, {ab[1]}, ld(v, 0), {dt}, "
                f"{values}, {width!r}, {', '.join(self.profile(call, k) for k in tables)})")


# The registry's functions with emit=OWN -> their Emitter method (a test checks that every
# one has its entry).
OWN_EMITTERS = {
    "LOG": Emitter.log,
    "WITH LOOKUP": Emitter.with_lookup,
    "LOOKUP AREA": Emitter.lookup_area,
    "LOOKUP SLOPE": Emitter.lookup_slope,
    "RANDOM LOOKUP": Emitter.random_lookup,
    "RANDOM 0 1": Emitter.random_0_1,
    "STEP": Emitter.step, "RAMP": Emitter.ramp,
    "PULSE": Emitter.pulse,
    "PULSE TRAIN": Emitter.pulse_train,
    "SIMULTANEOUS": Emitter.simultaneous_alone,
    "FIND ZERO": Emitter.find_zero_alone,
    "QUEUE AGE AVERAGE": Emitter.queue_age,
    "QUEUE AGE IN RANGE": Emitter.queue_age,
    "QUEUE AGE OLDEST": Emitter.queue_age,
    "QUEUE ATTRIB AVERAGE": Emitter.queue_age,
    "QUEUE ATTRIB QUANTITY": Emitter.queue_age,
}
# the functions that read a queue, by their mode in kernel_queues.queue_age
QUEUE_READS = ("QUEUE AGE AVERAGE", "QUEUE AGE IN RANGE", "QUEUE AGE OLDEST", "QUEUE ATTRIB AVERAGE",
               "QUEUE ATTRIB QUANTITY")
