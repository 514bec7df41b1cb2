"""Pass 4: code generation. A schedule becomes the source of a Numba module.

Nothing from the model's text reaches the generated source: variables become
slots of one float64 vector `v` (`v[12]`), numbers are emitted with repr(),
lookups become offsets into one table vector, functions come from a fixed
table. Model names appear only in comments, reduced to [A-Za-z0-9_ ].

Slot layout of `v`: [time | continuous stocks | discrete stocks | the rest],
so the integrator updates the stocks with one loop.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from .. import ir
from ..ir.builtins import ARGS, ARRAY_DRIVERS, ARRAY_READS, LOOKUP, RANDOM_DRAW, helpers
from ..errors import ModelError, UnsupportedFeature
from ..passes.order import Schedule, is_delay_fixed, is_delay_information, is_delay_material
from . import loops

# Statements per generated function: Numba's compile time grows faster than
# linearly with function size, and separate functions are compiled (and
# cached) separately.
CHUNK = 250

# Vensim function -> kernel helper, by how the call is written (ir/builtins.py)
_SIMPLE = helpers(ARGS)            # helper(same arguments)
_LOOKUP_FUNCS = helpers(LOOKUP)    # helper(x, table)
_RANDOM_FUNCS = helpers(RANDOM_DRAW)   # helper(arguments, call site, step, run seed)
_COMPARE = {"=": "==", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


@dataclass(frozen=True)
class Kernel:
    source: str
    slots: dict[str, int]          # variable -> index in v
    n_slots: int
    params: tuple[str, ...]        # constant names, in the order of the parameter vector
    tables: np.ndarray             # all lookup tables, xs then ys each
    n_continuous: int
    n_discrete: int
    n_fixed_delays: int
    dynamic_control: bool          # FINAL TIME, TIME STEP or SAVEPER vary during the run
    lookups: tuple = ()            # (lookup variable or None for an inline table, LookupTable), by index
    watches: tuple = ()            # per watch (five values of diag): see _Emitter.watch


def table_vector(tables) -> np.ndarray:
    """All lookup tables in one vector: a header of (offset, length) per table, then xs and ys."""
    head, data = [], []
    base = 2 * len(tables)
    for t in tables:
        head += [float(base + len(data)), float(len(t.xs))]
        data += list(t.xs) + list(t.ys)
    return np.array(head + data or [0.0], dtype=np.float64)


def _safe_comment(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_ ]", "?", text)[:60]


def _num(x: float) -> str:
    if math.isnan(x):
        return "math.nan"
    if math.isinf(x):
        return "math.inf" if x > 0 else "-math.inf"
    return repr(float(x))


class _Emitter:
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
        # each fixed delay also keeps its delay time, evaluated at initialisation
        self.fixed_delay_slot = {}
        for n in self.fixed:
            self.fixed_delay_slot[n] = len(self.slots) + len(self.fixed_delay_slot)
        # the run seed (the last entry of the parameter vector) keeps a slot for random draws
        self.run_seed_slot = len(self.slots) + len(self.fixed_delay_slot)
        self.n_slots = self.run_seed_slot + 1
        # whole-array functions (subscripts.py) compute into a scratch block each, after the slots
        self.scratch: dict[str, int] = {}
        for n, var in vs.items():
            if isinstance(var.expr, ir.Call) and var.expr.func in ARRAY_DRIVERS:
                self.scratch[n] = self.n_slots
                self.n_slots += len(var.expr.args) - ARRAY_DRIVERS[var.expr.func][1]
        # watches (kernel_intrinsics.watched): lookup inputs and variables with a declared range;
        # five slots each, after the scratch blocks
        self.watch_base = self.n_slots
        self.watches: list[tuple] = []
        self.watch_at: dict[tuple, int] = {}
        self.owner = ""           # the variable whose equation is being generated
        self.random_sites = 0
        self.pre: list[str] = []   # loops the statement being generated needs first
        self.n_acc = 0
        self.step_expr = "istep"  # initial statements draw with step -1
        self.lookups: list[tuple[str | None, ir.LookupTable]] = []
        self.table_at: dict[object, int] = {}

    def table(self, key, table: ir.LookupTable) -> str:
        """Table k's offset and length sit at tab[2k], tab[2k+1] (see `table_vector`),
        so a changes file can replace a table without recompiling."""
        if key not in self.table_at:
            self.table_at[key] = len(self.lookups)
            self.lookups.append((key if isinstance(key, str) else None, table))
        k = self.table_at[key]
        return f"tab, tk(tab, {2 * k}), tk(tab, {2 * k + 1})"

    def lookup_of(self, name: str, pos) -> str:
        var = self.schedule.model.variables[name]
        if var.lookup is None:
            raise UnsupportedFeature(f"{pos}: '{var.display}' is not a lookup table")
        return self.table(name, var.lookup)

    def watch(self, key: tuple) -> int:
        """The first slot of the watch for `key`: ("lookup", owner, lookup or None, pos, table
        index) or ("range", variable, lo, hi)."""
        if key not in self.watch_at:
            self.watch_at[key] = self.watch_base + 5 * len(self.watches)
            self.watches.append(key)
        return self.watch_at[key]

    def watched_lookup(self, arg: str, key, table: ir.LookupTable, name: str | None, pos) -> str:
        code = self.table(key, table)
        k = self.table_at[key]
        s = self.watch(("lookup", self.owner, name, pos, k))
        return f"lookup(watched(v, {s}, {arg}), {code})"

    def range_watches(self, names) -> list[str]:
        """A watch statement per variable of `names` whose units declare a range."""
        out = []
        for n in names:
            bounds = ir.declared_range(self.schedule.model.variables[n].units)
            if bounds is not None:
                s = self.watch(("range", n) + bounds)
                out.append(f"watched(v, {s}, ld(v, {self.slots[n]}))")
        return out

    # -- expressions ---------------------------------------------------------
    def expr(self, e: ir.Expr) -> str:
        if isinstance(e, ir.Num):
            return _num(e.value)
        if isinstance(e, ir.Ref):
            return f"ld(v, {self.slots[e.name]})"
        if isinstance(e, ir.UnaryOp):
            inner = self.expr(e.operand)
            return f"(-{inner})" if e.op == "-" else f"fnot({inner})"
        if isinstance(e, ir.BinOp):
            if e.op == "+" and loops.terms_at_least(e, loops.MIN_STRIDED_SUM):
                return self.long_sum(e)
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
            return self.watched_lookup(self.expr(e.arg), e.table, var.lookup, e.table, e.pos)
        if isinstance(e, ir.Call):
            return self.call(e)
        if isinstance(e, ir.Str):
            raise UnsupportedFeature(f"a text argument ('{e.value}') cannot be computed with")
        raise UnsupportedFeature(f"cannot generate code for {type(e).__name__}")

    def long_sum(self, e: ir.BinOp) -> str:
        """A sum of many terms (a flattened SUM): the terms' code, and wherever a run of
        loops.MIN_STRIDED_SUM or more terms differ only by evenly progressing numbers (slots,
        table indices, call sites), one loop for the run: `vsum(...)` when the terms are
        plain variables, otherwise a loop accumulating into `accN`, emitted before the
        statement (see `flush`). Terms are generated once, in order, as without loops."""
        terms, todo = [], [e]
        while todo:
            x = todo.pop()
            if loops.is_sum(x):
                todo += [x.right, x.left]
            else:
                terms.append(x)
        codes = [self.expr(x) for x in terms]
        shapes = [loops.shape(c) for c in codes]
        counts: dict[int, int] = {}

        def count(x):
            if id(x) not in counts:
                counts[id(x)] = count(x.left) + count(x.right) if loops.is_sum(x) else 1
            return counts[id(x)]

        def render(x, first):
            n = count(x)
            looped = self.loop_sum(shapes[first:first + n]) if n >= loops.MIN_STRIDED_SUM else None
            if looped:
                return looped
            if loops.is_sum(x):
                return f"({render(x.left, first)} + {render(x.right, first + count(x.left))})"
            return codes[first]

        return render(e, 0)

    def loop_sum(self, shapes: list[tuple]) -> str | None:
        """One loop for terms of the same template (`_shape`) whose numbers progress evenly, or None."""
        template, base = shapes[0]
        stride = [b - a for a, b in zip(base, shapes[1][1])]
        if any(t != template or not loops.progresses(xs, base, stride, k)
               for k, (t, xs) in enumerate(shapes)):
            return None
        if template == "ld(v, \0)":
            return f"vsum(v, ix({base[0]}), ix({len(shapes)}), ix({stride[0]}))"
        term = loops.fill(template, iter(zip(base, stride)), "kk")
        acc = f"acc{self.n_acc}"
        self.n_acc += 1
        self.pre += [f"{acc} = 0.0", f"for kk in range({len(shapes)}):", f"    {acc} += {term}"]
        return acc

    def flush(self, line: str) -> str:
        """`line` after the loops its sums need (`loop_sum`); nothing is pending afterwards."""
        if not self.pre:
            return line
        pre, self.pre, self.n_acc = self.pre, [], 0
        return "\n".join(pre + [line])

    def call(self, e: ir.Call) -> str:
        f, args = e.func, e.args
        if f in ARRAY_READS:
            return self.block_read(e)
        t, dt = f"ld(v, {self.slots[ir.TIME]})", f"ld(v, {self.slots['time step']})"
        if f == "LOG":
            a = [self.expr(x) for x in args]
            return f"log2({a[0]}, {a[1]})" if len(a) == 2 else f"math.log10({a[0]})"
        if f in _SIMPLE:
            inner = ", ".join(self.expr(x) for x in args)
            return f"{_SIMPLE[f]}({inner})"
        if f == "WITH LOOKUP":
            if not isinstance(args[1], ir.LookupTable):
                raise UnsupportedFeature(f"{e.pos}: WITH LOOKUP needs a lookup table as its second argument")
            return self.watched_lookup(self.expr(args[0]), id(args[1]), args[1], None, e.pos)
        if f in _LOOKUP_FUNCS:
            table = args[0]
            if not isinstance(table, ir.Ref):
                raise UnsupportedFeature(f"{e.pos}: {f} needs a lookup name as its first argument")
            return f"{_LOOKUP_FUNCS[f]}({self.expr(args[1])}, {self.lookup_of(table.name, e.pos)})"
        if f == "LOOKUP AREA":
            if not isinstance(args[0], ir.Ref):
                raise UnsupportedFeature(f"{e.pos}: LOOKUP AREA needs a lookup name as its first argument")
            return (f"lookup_area({self.expr(args[1])}, {self.expr(args[2])}, "
                    f"{self.lookup_of(args[0].name, e.pos)})")
        if f == "RANDOM LOOKUP":
            if not isinstance(args[0], ir.Ref):
                raise UnsupportedFeature(f"{e.pos}: RANDOM LOOKUP needs a lookup name as its first argument")
            table = self.lookup_of(args[0].name, e.pos)
            rest = ", ".join(self.expr(x) for x in args[1:5])
            self.random_sites += 1
            return (f"random_lookup({table}, {rest}, {self.expr(args[5])}, ix({self.random_sites}), "
                    f"ix({self.step_expr}), ld(v, {self.run_seed_slot}))")
        a = [self.expr(x) for x in args]
        if f in _RANDOM_FUNCS:
            self.random_sites += 1
            where = f"ix({self.random_sites}), ix({self.step_expr}), ld(v, {self.run_seed_slot})"
            if f == "RANDOM 0 1":
                return f"random_uniform(0.0, 1.0, 0.0, {where})"
            return f"{_RANDOM_FUNCS[f]}({', '.join(a)}, {where})"
        if f == "STEP":
            return f"fstep(({t} + 0.5 * {dt}), {a[0]}, {a[1]})"
        if f == "RAMP":
            return f"ramp({t}, {a[0]}, {a[1]}, {a[2]})"
        if f == "PULSE":
            return f"pulse({t}, {dt}, {a[0]}, {a[1]})"
        if f == "PULSE TRAIN":
            return f"pulse_train({t}, {dt}, {a[0]}, {a[1]}, {a[2]}, {a[3]})"
        raise UnsupportedFeature(f"{e.pos}: function '{f}' is not supported here")

    # -- statements ----------------------------------------------------------
    def assign(self, name: str, e: ir.Expr) -> str:
        self.owner = name
        try:
            if isinstance(e, ir.Call) and e.func in ARRAY_DRIVERS:
                return self.flush(self.array_driver(name, e))
            return self.flush(f"st(v, {self.slots[name]}, {self.expr(e)})  # {_safe_comment(name)}")
        except ModelError as err:   # an error without a place is placed at the equation
            pos = self.schedule.model.variables[name].pos
            if pos is None or re.match(r"\S.*:\d+:\d+: ", str(err)):
                raise
            raise type(err)(f"{pos}: {err}") from None

    # -- whole-array functions: one statement stores the vector in the variable's scratch
    # block and computes over it in place; elements read the block --------------------
    def array_driver(self, name: str, e: ir.Call) -> str:
        helper, n_scalars = ARRAY_DRIVERS[e.func]
        base, vector = self.scratch[name], e.args[n_scalars:]
        parts = [f"st(v, {base + i}, {self.expr(x)})" for i, x in enumerate(vector)]
        scalars = "".join(f", {self.expr(x)}" for x in e.args[:n_scalars])
        value = f"{helper}(v, ix({base}), ix({len(vector)}){scalars})" if helper else "0.0"
        parts.append(f"st(v, {self.slots[name]}, {value})  # {_safe_comment(name)}")
        return "; ".join(parts)

    def block_read(self, e: ir.Call) -> str:
        base = self.scratch[e.args[0].name]
        if e.func == "@ELEMENT":
            return f"ld(v, {base + int(e.args[1].value)})"
        n = int(e.args[1].value)
        rest = ", ".join(self.expr(x) for x in e.args[2:])
        helper = {"@AT": "vector_at", "@VSELECT": "vector_select", "@VLOOKUP": "vector_lookup"}[e.func]
        return f"{helper}(v, ix({base}), ix({n}), {rest})"

    def initial_statements(self) -> list[str]:
        vs = self.schedule.model.variables
        # constants sit in consecutive slots: one loop types and compiles far faster than a
        # statement per constant
        consts = self.schedule.constants
        first = self.slots[consts[0]] if consts else 0
        assert all(self.slots[c] == first + i for i, c in enumerate(consts))
        out = [f"for i in range({len(consts)}):\n    st(v, {first} + i, ld(p, i))"] if consts else []
        out.append(f"st(v, {self.run_seed_slot}, ld(p, {len(self.schedule.constants)}))")
        self.step_expr = "-1"
        for n in self.schedule.initial:
            var = vs[n]
            self.owner = n
            if is_delay_fixed(var):
                _, delay, init = var.expr.args[:3]
                size = self.expr(delay) if not self.whole_run(var) else self.material_size()
                out.append(self.flush(f"st(v, {self.fixed_delay_slot[n]}, {size})"))
                out.append(self.assign(n, init))
            else:
                out.append(self.assign(n, var.initial if var.initial is not None else var.expr))
        out += self.range_watches(n for n in self.schedule.initial if vs[n].kind is not ir.Kind.CONSTANT)
        self.step_expr = "istep"
        return out

    def dynamic_statements(self) -> list[str]:
        vs = self.schedule.model.variables
        out = []
        for n in self.schedule.dynamic:
            self.owner = n
            if is_delay_material(vs[n]):
                j = self.fixed.index(n)
                missing = self.expr(vs[n].expr.args[3])
                out.append(self.flush(f"st(v, {self.slots[n]}, material_out(buf, bi[{2 * j}], "
                                      f"bi[{2 * j + 1}], istep, {missing}))"))
            elif is_delay_information(vs[n]):
                j = self.fixed.index(n)
                delay, init = (self.expr(x) for x in vs[n].expr.args[1:3])
                out.append(self.flush(f"st(v, {self.slots[n]}, information_out(buf, bi[{2 * j}], istep, "
                                      f"{delay}, ld(v, {self.slots['time step']}), {init}))"))
            elif is_delay_fixed(vs[n]):
                j = self.fixed.index(n)
                out.append(f"st(v, {self.slots[n]}, buf[bi[{2 * j}] + istep % bi[{2 * j + 1}]])")
            else:
                out.append(self.assign(n, vs[n].expr))
        return out + self.range_watches(list(self.schedule.stocks) + list(self.schedule.dynamic))

    def rate(self, n: str) -> str:
        """The code of stock n's rate (or next value)."""
        self.owner = n
        return self.expr(self.schedule.model.variables[n].expr)

    def rate_statements(self) -> list[str]:
        return [self.flush(f"st(r, {i}, {self.rate(n)})  # {_safe_comment(n)}")
                for i, n in enumerate(self.cont + self.disc)]

    def fixed_write(self, j: int, n: str) -> str:
        self.owner = n
        if is_delay_material(self.schedule.model.variables[n]):
            return self.material_write(j, n)
        value = self.expr(self.schedule.model.variables[n].expr.args[0])
        return self.flush(f"buf[bi[{2 * j}] + istep % bi[{2 * j + 1}]] = {value}")

    def fixed_write_statements(self) -> list[str]:
        # DELAY INFORMATION keeps the input of every step (its buffer spans the run), as
        # DELAY FIXED keeps those of its delay time
        return [self.fixed_write(j, n) for j, n in enumerate(self.fixed)]

    @staticmethod
    def whole_run(var: ir.Variable) -> bool:
        """A buffer delay whose buffer spans the run (DELAY MATERIAL, DELAY INFORMATION)."""
        return is_delay_material(var) or is_delay_information(var)

    # DELAY MATERIAL: a pipeline in the fixed-delay buffer (see kernel_extra)
    def material_size(self) -> str:
        t0, t1, dt = (f"ld(v, {self.slots[c]})" for c in ("initial time", "final time", "time step"))
        return f"material_size({t0}, {t1}, {dt})"

    def material_write(self, j: int, n: str) -> str:
        inp, delay = (self.expr(x) for x in self.schedule.model.variables[n].expr.args[:2])
        dt = f"ld(v, {self.slots['time step']})"
        return (f"material_in(buf, bi[{2 * j}], bi[{2 * j + 1}], istep, {inp}, {delay}, {dt}, "
                f"ld(v, {self.slots[n]}))")


_HEADER = '''\
# Generated by smartspec from a validated model IR. Do not edit.
import math
import numpy as np
from numba import njit, prange, get_num_threads
from smartspec_dsl.backend.kernel_lib import (
    integer, modulo, quantum, log2, power, ramp, pulse, pulse_train, lookup,
    lookup_extrapolate, lookup_forward, lookup_backward, fixed_delay_slots, ld, st, tk, ix, vsum, sel, bf,
    fand, forr, fnot, fmin, fmax, fxidz, fzidz, fstep, parallel_cold_start, random_uniform,
    random_normal, random_exponential, random_lognormal, random_triangular, random_poisson, random_gamma,
    random_weibull, random_beta, random_binomial, random_negative_binomial, random_lookup, watched)
from smartspec_dsl.backend.kernel_extra import (lookup_invert, lookup_area, gamma_ln, vector_lookup,
    information_out, material_size, material_out, material_in, watch_setup)

from smartspec_dsl.backend.kernel_lib import (
    vector_rank, vector_sort_order, invert_matrix, allocate_available, allocate_by_priority,
    vector_at, vector_select)

JIT = dict(cache=True, nogil=True, error_model="numpy")
_COLD = [True]


def _cold_start(*args):
    if _COLD[0]:
        _COLD[0] = False
        parallel_cold_start(__file__, globals(), args)
'''

_DRIVER = '''
@njit(**JIT)
def setup(p, tab, t0, dt):
    v = np.zeros({n_slots})
    v[0] = t0
    watch_setup(v, tab, WATCH_SLOTS, WATCH_TABLES, WATCH_LO, WATCH_HI)
    init(v, p, tab)
    bi = np.zeros({n_bi}, dtype=np.int64)
    total = 0
    for j in range({n_fixed}):
        n = fixed_delay_slots(v[FIXED_DELAY_SLOTS[j]], dt)
        bi[2 * j] = total
        bi[2 * j + 1] = n
        total += n
    buf = np.empty(total)
    for j in range({n_fixed}):
        buf[bi[2 * j]:bi[2 * j] + bi[2 * j + 1]] = v[FIXED_DELAY_OUTPUTS[j]]
    return v, buf, bi


@njit(**JIT)
def advance(v, r, tab, buf, bi, istep, dt, method, y0, k, dnext, wnext):
    \"\"\"Stocks from time t to t + dt: Euler (method 0) or RK4 (method 1), as Vensim does.\"\"\"
    rates(v, r, tab)
    fixed_write(v, tab, buf, bi, istep)
    for i in range({n_disc}):
        dnext[i] = r[{n_cont} + i]
    if method == 0:
        for i in range({n_cont}):
            v[1 + i] += dt * r[i]
    else:
        # The sub-steps lie within step istep, where a DELAY FIXED outputs the value it held at
        # the step's start (this step's dynamic() put it in v). fixed_write has just put the
        # step's input, due at step istep + delay, in the very slot dynamic() reads: hold the
        # output there while the sub-steps run. (DELAY MATERIAL never writes the slot it reads.)
        for j in range({n_fixed}):
            if FIXED_DELAY_PLAIN[j]:
                w = bi[2 * j] + istep % bi[2 * j + 1]
                wnext[j] = buf[w]
                buf[w] = v[FIXED_DELAY_OUTPUTS[j]]
        t = v[0]
        for i in range({n_cont}):
            y0[i] = v[1 + i]
            k[i, 0] = r[i]
            v[1 + i] = y0[i] + 0.5 * dt * r[i]
        v[0] = t + 0.5 * dt
        dynamic(v, tab, buf, bi, istep)
        rates(v, r, tab)
        for i in range({n_cont}):
            k[i, 1] = r[i]
            v[1 + i] = y0[i] + 0.5 * dt * r[i]
        dynamic(v, tab, buf, bi, istep)
        rates(v, r, tab)
        for i in range({n_cont}):
            k[i, 2] = r[i]
            v[1 + i] = y0[i] + dt * r[i]
        v[0] = t + dt
        dynamic(v, tab, buf, bi, istep)
        rates(v, r, tab)
        for i in range({n_cont}):
            v[1 + i] = y0[i] + dt / 6.0 * (k[i, 0] + 2.0 * k[i, 1] + 2.0 * k[i, 2] + r[i])
        for j in range({n_fixed}):
            if FIXED_DELAY_PLAIN[j]:
                buf[bi[2 * j] + istep % bi[2 * j + 1]] = wnext[j]
    for i in range({n_disc}):
        v[{first_disc} + i] = dnext[i]


@njit(**JIT)
def simulate_generic(p, tab, out, save_idx, t0, dt, n_steps, save_every, method, diag):
    \"\"\"One run, any method; returns the number of rows saved, or -1 when `out` is too short.
    The watches end in diag.\"\"\"
    v, buf, bi = setup(p, tab, t0, dt)
    r = np.zeros({n_rates})
    y0 = np.zeros({n_cont})
    k = np.zeros(({n_cont}, 3))
    dnext = np.zeros({n_disc})
    wnext = np.zeros({n_fixed})
{loop}
    diag[:] = v[{watch_base}:{watch_end}]
    return saved


@njit(parallel=True, cache=True, error_model="numpy")
def batch_generic(P, tab, OUT, save_idx, t0, dt, n_steps, save_every, method, DIAG):
    \"\"\"Runs P.shape[0] parameter sets in parallel, one output block each.\"\"\"
    for i in prange(P.shape[0]):
        simulate_generic(P[i], tab, OUT[i], save_idx, t0, dt, n_steps, save_every, method, DIAG[i])
'''

# Control variables are constants: time is t0 + step * dt exactly, and the
# number of steps and saved rows is known before the run.
_STATIC_LOOP = '''\
    saved = 0
    for istep in range(n_steps + 1):
        v[0] = t0 + istep * dt
        dynamic(v, tab, buf, bi, istep)
        if istep % save_every == 0:
            for j in range(save_idx.shape[0]):
                out[saved, j] = v[save_idx[j]]
            saved += 1
        if istep == n_steps:
            break
        advance(v, r, tab, buf, bi, istep, dt, method, y0, k, dnext, wnext)'''

# FINAL TIME, TIME STEP or SAVEPER change during the run: read them each step.
_DYNAMIC_LOOP = '''\
    saved = 0
    t = t0
    next_save = t0
    istep = 0
    while True:
        v[0] = t
        dynamic(v, tab, buf, bi, istep)
        step_now = v[{dt_slot}]
        if t >= next_save - 1e-9 * step_now:
            if saved >= out.shape[0]:
                diag[:] = v[{watch_base}:{watch_end}]
                return -1
            for j in range(save_idx.shape[0]):
                out[saved, j] = v[save_idx[j]]
            saved += 1
            next_save = next_save + v[{saveper_slot}]
        if t >= v[{final_slot}] - 1e-9 * step_now:
            break
        advance(v, r, tab, buf, bi, istep, step_now, method, y0, k, dnext, wnext)
        t = t + step_now
        istep += 1'''


def _functions(name: str, args: str, body: list[str]) -> str:
    """`name(args)` running `body`, split into parts compiled separately."""
    chunks = [body[i:i + CHUNK] for i in range(0, len(body), CHUNK)] or [[]]
    parts = []
    for i, chunk in enumerate(chunks):
        lines = _indent(chunk, 4) or "    pass"
        parts.append(f"@njit(**JIT)\ndef {name}_{i}({args}):\n{lines}\n")
    calls = "\n".join(f"    {name}_{i}({args})" for i in range(len(chunks)))
    parts.append(f"@njit(**JIT)\ndef {name}({args}):\n{calls}\n")
    return "\n\n".join(parts)


def _indent(lines: list[str], n: int) -> str:
    return "\n".join(" " * n + ln for s in lines for ln in s.split("\n"))


def _euler_driver(em: _Emitter, init: list[str], dynamic: list[str], writes: list[str]) -> str:
    """A driver specialised for Euler with constant control variables: phases that
    fit in one chunk are emitted inline in the time loop (rates as locals), saves
    use a counter, and batches reuse one state vector per thread."""
    n_cont, n_disc, n_fixed = len(em.cont), len(em.disc), len(em.fixed)
    stocks = em.cont + em.disc
    inline_rates = len(stocks) <= CHUNK
    inline_dyn = len(dynamic) <= CHUNK
    # one function for initialisation and time loop only while both together are small:
    # compile time grows faster than linearly with a function's size
    inline_init = len(init) + (len(dynamic) if inline_dyn else 0) <= CHUNK
    inline_writes = len(writes) <= CHUNK
    need_buf = n_fixed > 0 or not (inline_dyn and inline_writes and inline_init)
    n_v = em.n_slots + (0 if inline_rates else max(1, n_cont + n_disc))
    r0 = em.n_slots  # the rate scratch lives after the slots when rates are not inlined
    body = ["v[:] = 0.0", "v[0] = t0", "watch_setup(v, tab, WATCH_SLOTS, WATCH_TABLES, WATCH_LO, WATCH_HI)"]
    n_init_chunks = (len(init) + CHUNK - 1) // CHUNK
    body += init if inline_init else [f"init_{i}(v, p, tab)" for i in range(n_init_chunks)]
    if need_buf:
        body += [f"bi = np.zeros({max(2, 2 * n_fixed)}, dtype=np.int64)", "total = 0"]
        for j in range(n_fixed):
            body += [f"n = fixed_delay_slots(v[{em.fixed_delay_slot[em.fixed[j]]}], dt)",
                     f"bi[{2 * j}] = total", f"bi[{2 * j + 1}] = n", "total += n"]
        body += ["buf = np.empty(max(total, 1))"]
        for j, n in enumerate(em.fixed):
            body += [f"buf[bi[{2 * j}]:bi[{2 * j}] + bi[{2 * j + 1}]] = v[{em.slots[n]}]"]
    loop = ["v[0] = t0 + istep * dt"]
    loop += dynamic if inline_dyn else ["dynamic(v, tab, buf, bi, istep)"]
    loop += ["if sc == 0:",
             "    for j in range(save_idx.shape[0]):",
             "        out[saved, j] = v[save_idx[j]]",
             "    saved += 1",
             "sc += 1",
             "if sc == save_every:",
             "    sc = 0",
             "if istep == n_steps:",
             "    break"]
    if inline_rates:
        loop += [em.flush(f"r_{i} = {em.rate(n)}  # {_safe_comment(n)}") for i, n in enumerate(stocks)]
    else:
        loop += [f"r = v[{r0}:]", "rates(v, r, tab)"]
    loop += writes if inline_writes else ["fixed_write(v, tab, buf, bi, istep)"]
    updates = []
    for i in range(n_cont):
        rate = f"r_{i}" if inline_rates else f"ld(v, {r0 + i})"
        updates.append(f"st(v, {1 + i}, ld(v, {1 + i}) + dt * {rate})")
    for i in range(n_disc):
        rate = f"r_{n_cont + i}" if inline_rates else f"ld(v, {r0 + n_cont + i})"
        updates.append(f"st(v, {1 + n_cont + i}, {rate})")
    loop += loops.reroll(updates)
    loop_body = ["saved = 0", "sc = 0", "for istep in range(n_steps + 1):"]
    loop_body += [_indent(loop, 4), f"diag[:] = v[{em.watch_base}:{em.n_slots}]", "return saved"]
    if inline_init:
        core = f'''
@njit(**JIT)
def euler_core(p, tab, out, save_idx, t0, dt, n_steps, save_every, v, diag):
    """One Euler run in the scratch vector v; returns the number of rows saved."""
{_indent(body + loop_body, 4)}
'''
        entry = "simulate_euler(p, tab, out, save_idx, t0, dt, n_steps, save_every, diag)"
    else:
        # A large model: the time loop and the initialisation are compiled
        # separately, so that they can be compiled in parallel (see _cold_start).
        core = f'''
@njit(**JIT)
def euler_loop(v, tab, out, save_idx, t0, dt, n_steps, save_every, buf, bi, diag):
{_indent(loop_body, 4)}


@njit(**JIT)
def euler_setup(p, tab, t0, dt, v):
{_indent(body, 4)}
    return buf, bi


@njit(**JIT)
def euler_core(p, tab, out, save_idx, t0, dt, n_steps, save_every, v, diag):
    """One Euler run in the scratch vector v; returns the number of rows saved."""
    buf, bi = euler_setup(p, tab, t0, dt, v)
    return euler_loop(v, tab, out, save_idx, t0, dt, n_steps, save_every, buf, bi, diag)


def _simulate_large(p, tab, out, save_idx, t0, dt, n_steps, save_every, diag):
    # setup and loop called from Python: the first run links no third function
    _cold_start(p, tab, out, save_idx, t0, dt, n_steps, save_every)
    v = np.empty({n_v})
    buf, bi = euler_setup(p, tab, t0, dt, v)
    return euler_loop(v, tab, out, save_idx, t0, dt, n_steps, save_every, buf, bi, diag)
'''
        entry = "_simulate_large(p, tab, out, save_idx, t0, dt, n_steps, save_every, diag)"
    return core + f'''

@njit(**JIT)
def simulate_euler(p, tab, out, save_idx, t0, dt, n_steps, save_every, diag):
    return euler_core(p, tab, out, save_idx, t0, dt, n_steps, save_every, np.empty({n_v}), diag)


@njit(parallel=True, cache=True, error_model="numpy")
def batch_euler(P, tab, OUT, save_idx, t0, dt, n_steps, save_every, nb, DIAG):
    n = P.shape[0]
    nb = min(nb, n)
    for b in prange(nb):
        v = np.empty({n_v})
        for i in range(b * n // nb, (b + 1) * n // nb):
            euler_core(P[i], tab, OUT[i], save_idx, t0, dt, n_steps, save_every, v, DIAG[i])


def simulate(p, tab, out, save_idx, t0, dt, n_steps, save_every, method, diag=None):
    """One run; returns the number of rows saved. diag: N_DIAG floats for the watches."""
    if diag is None:
        diag = np.empty(N_DIAG)
    if method == 0:
        return {entry}
    return simulate_generic(p, tab, out, save_idx, t0, dt, n_steps, save_every, method, diag)


def simulate_batch(P, tab, OUT, save_idx, t0, dt, n_steps, save_every, method, DIAG=None):
    """Runs P.shape[0] parameter sets in parallel, one output block (and row of DIAG) each."""
    if DIAG is None:
        DIAG = np.empty((P.shape[0], N_DIAG))
    if method == 0:
        return batch_euler(P, tab, OUT, save_idx, t0, dt, n_steps, save_every, get_num_threads(), DIAG)
    return batch_generic(P, tab, OUT, save_idx, t0, dt, n_steps, save_every, method, DIAG)
'''


_GENERIC_ONLY = '''

def simulate(p, tab, out, save_idx, t0, dt, n_steps, save_every, method, diag=None):
    """One run; returns the number of rows saved (-1: out is too short). diag: N_DIAG floats."""
    if diag is None:
        diag = np.empty(N_DIAG)
    return simulate_generic(p, tab, out, save_idx, t0, dt, n_steps, save_every, method, diag)


def simulate_batch(P, tab, OUT, save_idx, t0, dt, n_steps, save_every, method, DIAG=None):
    if DIAG is None:
        DIAG = np.empty((P.shape[0], N_DIAG))
    return batch_generic(P, tab, OUT, save_idx, t0, dt, n_steps, save_every, method, DIAG)
'''


def _refuse_text(schedule: Schedule) -> None:
    """A 'text' value has no number to compute with: refused at its equation, whichever
    statement (rate, initial value, delay) would have carried it."""
    for var in schedule.model.variables.values():
        for e in (var.expr, var.initial):
            text = next((n for n in ir.walk(e) if isinstance(n, ir.Str)), None) if e is not None else None
            if text is not None:
                raise UnsupportedFeature(f"{var.pos or schedule.model.source + ':1:1'}: a text argument "
                                         f"('{text.value}') cannot be computed with")


def _watch_arrays(em: _Emitter) -> str:
    """The module constants watch_setup reads: each watch's first slot, its lookup table's
    index (or -1) and its declared range (for a variable)."""
    slots = [em.watch_base + 5 * j for j in range(len(em.watches))]
    tables = [key[4] if key[0] == "lookup" else -1 for key in em.watches]
    lo = [key[2] if key[0] == "range" else 0.0 for key in em.watches]
    hi = [key[3] if key[0] == "range" else 0.0 for key in em.watches]
    return "\n".join([
        f"WATCH_SLOTS = np.array({slots or [0]}, dtype=np.int64)[:{len(slots)}]",
        f"WATCH_TABLES = np.array({tables or [0]}, dtype=np.int64)[:{len(slots)}]",
        f"WATCH_LO = np.array([{', '.join(_num(x) for x in lo) or '0.0'}])[:{len(slots)}]",
        f"WATCH_HI = np.array([{', '.join(_num(x) for x in hi) or '0.0'}])[:{len(slots)}]"])


def generate(schedule: Schedule) -> Kernel:
    _refuse_text(schedule)
    em = _Emitter(schedule)
    init = loops.reroll_nested(em.initial_statements())
    dynamic = loops.reroll_nested(em.dynamic_statements())
    rates = loops.reroll_nested(em.rate_statements())
    writes = loops.reroll_nested(em.fixed_write_statements())
    n_watch = len(em.watches)
    em.n_slots = em.watch_base + 5 * n_watch
    n_cont, n_disc = len(em.cont), len(em.disc)
    fixed_slots = [em.fixed_delay_slot[n] for n in em.fixed]
    dynamic_control = any(n in schedule.dynamic for n in ir.CONTROL_NAMES)
    loop = _DYNAMIC_LOOP.format(dt_slot=em.slots["time step"], saveper_slot=em.slots["saveper"],
                                final_slot=em.slots["final time"], watch_base=em.watch_base,
                                watch_end=em.watch_base + 5 * n_watch) if dynamic_control else _STATIC_LOOP
    fixed_outputs = [em.slots[n] for n in em.fixed]
    fixed_plain = [not em.whole_run(schedule.model.variables[n]) for n in em.fixed]
    source = "\n".join([
        _HEADER,
        f"FIXED_DELAY_SLOTS = np.array({fixed_slots or [0]}, dtype=np.int64)",
        f"FIXED_DELAY_OUTPUTS = np.array({fixed_outputs or [0]}, dtype=np.int64)",
        f"FIXED_DELAY_PLAIN = np.array({fixed_plain or [0]}, dtype=np.bool_)",
        f"N_DIAG = {5 * n_watch}",
        _watch_arrays(em) + "\n\n",
        _functions("init", "v, p, tab", init),
        _functions("dynamic", "v, tab, buf, bi, istep", dynamic),
        _functions("rates", "v, r, tab", rates),
        _functions("fixed_write", "v, tab, buf, bi, istep", writes),
        _DRIVER.format(n_slots=em.n_slots, n_rates=max(1, n_cont + n_disc), n_cont=n_cont,
                       n_disc=n_disc, first_disc=1 + n_cont, n_fixed=len(em.fixed),
                       n_bi=max(2, 2 * len(em.fixed)), loop=loop, watch_base=em.watch_base,
                       n_watch=n_watch, watch_end=em.n_slots),
        _GENERIC_ONLY if dynamic_control else _euler_driver(em, init, dynamic, writes),
    ])
    return Kernel(source, dict(em.slots), em.n_slots, schedule.constants,
                  table_vector([t for _, t in em.lookups]), n_cont, n_disc, len(em.fixed),
                  dynamic_control, tuple(em.lookups), tuple(em.watches))
