"""The interpreter's tape: a generated kernel's statements as three-address code.

`build_tape(kernel)` reads the four phase functions of a `codegen.Kernel`'s
source (init, dynamic, rates, fixed_write) with Python's `ast` (never
executing it) and turns every statement into opcodes over one float64 memory
vector `m`:

    m = [ the kernel's state vector v | rates | temporaries | loops' temporaries | constants ]

so a slot of the generated kernel (`ld(v, 12)`) is address 12 of the tape,
lookups are table indices into the same table vector, and kernel-library
calls are opcodes that call the very same `@njit` helpers. A loop of the
kernel (a dense array's equation, a loop over a flattened array's elements) stays a loop
when it is long and its iterations differ only by evenly advancing words
(`kept_loop`, `vectorized`), else it is unrolled; each expression is evaluated
operand by operand in the order
the generated code evaluates it, so the interpreter (backend/interpreter.py)
performs the specialised kernel's operations in the same order. The source
is the code generator's own output from the validated IR, a fixed and small
language; anything outside it raises `TapeUnsupported` (the runtime then
uses the compiled kernel, recording why).

An instruction is [opcode, destination, operands...]; `opcodes.OPS` gives each
opcode's operands.
"""
from __future__ import annotations

import ast
import re
import struct
from dataclasses import dataclass

import numpy as np

from ..errors import ModelError
from .codegen import Kernel
from .opcodes import NAMES, OPCODE, OPS, STEP_NOW, VECTOR_OPS
from .tape_forms import float_hole, float_literal, is_buffer_read, literal_list, name_of, overlap

__all__ = ["META", "OPCODE", "OPS", "STEP_NOW", "Tape", "TapeUnsupported", "build_tape"]

LOOP_MIN = 64          # a loop of at least this many iterations may stay a loop on the tape

# helper of the generated code -> opcode, for calls whose arguments are all values
_VALUE_CALLS = {
    "sel": "SEL", "fmin": "MIN", "fmax": "MAX", "power": "POW", "fand": "AND", "forr": "OR",
    "fnot": "NOT", "fxidz": "XIDZ", "fzidz": "ZIDZ", "fstep": "STEP", "abs": "ABS",
    "math.exp": "EXP", "math.log": "LN", "math.sqrt": "SQRT", "math.sin": "SIN", "math.cos": "COS",
    "math.tan": "TAN", "math.asin": "ASIN", "math.acos": "ACOS", "math.atan": "ATAN",
    "math.sinh": "SINH", "math.cosh": "COSH", "math.tanh": "TANH", "math.log10": "LOG10",
    "integer": "INTEGER", "modulo": "MODULO", "quantum": "QUANTUM", "log2": "LOG2",
    "gamma_ln": "GAMMA_LN", "ramp": "RAMP", "pulse": "PULSE", "pulse_train": "PULSE_TRAIN",
    "material_size": "MATERIAL_SIZE", "alloc_p": "ALLOC_P", "parcels_size": "PARCELS_SIZE",
}
# kernel_queues helpers `helper(buf, bi[2j], bi[2j + 1], istep, values..., tab, tk, tk)`, or
# `helper(v, ix(0), ix(0), ix(-1), ...)` while initialising (the interpreter's bi is 0 then)
_PARCELS = {"conveyor_out": "CONVEYOR_OUT", "conveyor_in": "CONVEYOR_IN", "queue_out": "QUEUE_OUT",
            "queue_in": "QUEUE_IN", "queue_age": "QUEUE_AGE", "profile_out": "PROFILE_OUT",
            "profile_in": "PROFILE_IN", "queue_attrib_out": "QUEUE_ATTRIB_OUT", "queue_attrib_in": "QUEUE_ATTRIB_IN",
            "irr_out": "IRR_OUT", "irr_in": "IRR_IN"}
_LOOKUPS = {"lookup": "LOOKUP", "lookup_extrapolate": "LOOKUP_EXTRAPOLATE",
            "lookup_forward": "LOOKUP_FORWARD", "lookup_backward": "LOOKUP_BACKWARD",
            "lookup_invert": "LOOKUP_INVERT"}
_BLOCKS = {"vector_rank": "VECTOR_RANK", "vector_sort_order": "VECTOR_SORT_ORDER",
           "invert_matrix": "INVERT_MATRIX", "allocate_available": "ALLOCATE_AVAILABLE",
           "allocate_by_priority": "ALLOCATE_BY_PRIORITY", "vector_at": "VECTOR_AT",
           "find_market_price": "FIND_MARKET_PRICE", "demand_at_price": "DEMAND_AT_PRICE",
           "supply_at_price": "SUPPLY_AT_PRICE", "marketp": "MARKETP",
           "vector_select": "VECTOR_SELECT", "vector_lookup": "VECTOR_LOOKUP"}
_BINOPS = {ast.Add: "ADD", ast.Sub: "SUB", ast.Mult: "MUL", ast.Div: "DIV"}
_COMPARES = {ast.Lt: "LT", ast.Gt: "GT", ast.LtE: "LE", ast.GtE: "GE", ast.Eq: "EQ", ast.NotEq: "NE"}
_PHASES = ("init", "dynamic", "rates", "fixed_write")

# addresses of temporaries and constants are tagged while building, placed at the end
_TEMP, _CONST = 1 << 40, 1 << 41
_VTEMP = 1 << 39      # a vectorized loop's temporaries: one block of n values each
# (a random draw's call site, a word of its own, is negative: backend/sites.py)


class TapeUnsupported(ModelError):
    """The kernel holds a statement the interpreter has no opcode for; the compiled tier runs it."""


@dataclass(frozen=True)
class Tape:
    """A model's tape. `phases[k]:phases[k+1]` is the code of phase k (init, dynamic,
    rates, fixed_write); `meta` the layout the interpreter reads (see `META`)."""
    code: np.ndarray        # int64 instructions
    phases: np.ndarray      # int64 (5,)
    consts: np.ndarray      # float64, copied to m[const_base:] at the start of a run
    meta: np.ndarray        # int64, the fields of META
    fixed: np.ndarray       # int64 (3, n fixed delays): delay-time slot, output slot, plain (not whole run)
    watch_slots: np.ndarray
    watch_tables: np.ndarray
    watch_lo: np.ndarray
    watch_hi: np.ndarray

    def arrays(self) -> tuple:
        """The tape as the tuple the interpreter takes."""
        return (self.code, self.phases, self.consts, self.meta, self.fixed, self.watch_slots,
                self.watch_tables, self.watch_lo, self.watch_hi)


# meta fields, in order
META = ("n_mem", "n_slots", "rate_base", "const_base", "n_cont", "n_disc", "n_fixed",
        "dynamic_control", "dt_slot", "saveper_slot", "final_slot", "watch_base", "finite_watch", "initial_slot",
        "loops", "abs_tol_slot", "rel_tol_slot")


class _Builder:
    def __init__(self, kernel: Kernel):
        self.kernel = kernel
        self.code: list[int] = []
        self.rate_base = kernel.n_slots
        self.consts: dict[bytes, int] = {}
        self.const_values: list[float] = []
        self.top = 0          # next free temporary
        self.acc_top = 0      # temporaries 0..acc_top-1 hold the sums of accN
        self.max_temp = 0
        self.accs: dict[str, int] = {}
        self.last: tuple[int, int] | None = None   # (position, destination) of the last instruction
        self.counting = 0     # within a loop kept on the tape: the loop counter is INDEX
        self.loops = False    # whether the tape keeps a loop (the interpreter then runs a copy)
        self.max_vtemp = 0    # the vectorized loops' temporaries (VLOOP), after the others

    # -- addresses ------------------------------------------------------------
    def const(self, x: float) -> int:
        key = struct.pack("<d", x)
        if key not in self.consts:
            self.consts[key] = len(self.const_values)
            self.const_values.append(x)
        return _CONST + self.consts[key]

    def temp(self) -> int:
        t = self.top
        self.top += 1
        self.max_temp = max(self.max_temp, self.top)
        return _TEMP + t

    def emit(self, op: str, operands: list[int]) -> int:
        """Appends op with a new temporary as destination; returns the temporary."""
        if len(operands) != len(OPS[op]):
            raise TapeUnsupported(f"internal: {op} takes {len(OPS[op])} operands, got {len(operands)}")
        dst = self.temp()
        self.last = (len(self.code), dst)
        self.code += [OPCODE[op], dst, *operands]
        return dst

    def store(self, dst: int, node: ast.AST, env: dict) -> None:
        """dst = the value of node: the last instruction writes dst directly when it made the value."""
        addr = self.value(node, env)
        if self.last is not None and self.last[1] == addr and addr >= _TEMP + self.acc_top:
            self.code[self.last[0] + 1] = dst
        else:
            self.code += [OPCODE["MOV"], dst, addr]
        self.top = self.acc_top
        self.last = None

    # -- integers of the source (slots, loop counters, call sites) -------------
    def integer(self, node: ast.AST, env: dict) -> int:
        # by exact type: every slot of every unrolled loop iteration comes through here
        t = type(node)
        if t is ast.Constant:
            if type(node.value) is int:
                return node.value
        elif t is ast.Name:
            if node.id in env:
                return env[node.id]
        elif t is ast.BinOp:
            op = type(node.op)
            if op is ast.Add:
                return self.integer(node.left, env) + self.integer(node.right, env)
            if op is ast.Sub:
                return self.integer(node.left, env) - self.integer(node.right, env)
            if op is ast.Mult:
                return self.integer(node.left, env) * self.integer(node.right, env)
        elif t is ast.UnaryOp:
            if type(node.op) is ast.USub:
                return -self.integer(node.operand, env)
        elif t is ast.Call:
            if name_of(node.func) == "ix" and len(node.args) == 1:
                return self.integer(node.args[0], env)
        raise self.unsupported(node)

    def table(self, args: list[ast.AST], env: dict) -> int:
        """The table index k of the arguments `tab, tk(tab, 2k), tk(tab, 2k + 1)`."""
        if (len(args) == 3 and name_of(args[0]) == "tab" and all(
                isinstance(a, ast.Call) and name_of(a.func) == "tk" and len(a.args) == 2 for a in args[1:])):
            k2, k21 = (self.integer(a.args[1], env) for a in args[1:])
            if k2 % 2 == 0 and k21 == k2 + 1:
                return k2 // 2
        raise self.unsupported(args[0])

    def buffer_index(self, node: ast.AST, env: dict) -> int:
        """j of `bi[2j]`."""
        if isinstance(node, ast.Subscript) and name_of(node.value) == "bi":
            k = self.integer(node.slice, env)
            if k % 2 == 0:
                return k // 2
        raise self.unsupported(node)

    def step(self, node: ast.AST, env: dict) -> int:
        arg = node.args[0] if isinstance(node, ast.Call) and name_of(node.func) == "ix" and node.args else node
        if name_of(arg) == "istep":
            return STEP_NOW
        k = self.integer(arg, env)
        if k != -1:
            raise self.unsupported(node)
        return k

    @staticmethod
    def unsupported(node: ast.AST) -> TapeUnsupported:
        return TapeUnsupported(f"the interpreter has no operation for '{ast.unparse(node)[:80]}'")

    # -- values ---------------------------------------------------------------
    def value(self, node: ast.AST, env: dict) -> int:
        """The address holding node's value, after the instructions computing it."""
        if isinstance(node, ast.Constant) and isinstance(node.value, float):
            return self.const(node.value)
        if isinstance(node, ast.Attribute) and name_of(node) in ("math.nan", "math.inf"):
            return self.const(float(name_of(node)[5:]))
        if isinstance(node, ast.Name) and node.id in self.accs:
            return self.accs[node.id]
        if isinstance(node, ast.Name) and node.id in env:   # a loop counter used as a number
            if self.counting:
                return self.emit("INDEX", [env[node.id]])
            return self.const(float(env[node.id]))
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            fl = None if self.counting else float_hole(node, env)
            if fl is not None:
                return self.const(fl)
            a = self.value(node.left, env)
            b = self.value(node.right, env)
            self.release(a, b)
            return self.emit(_BINOPS[type(node.op)], [a, b])
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            inner = node.operand
            if isinstance(inner, ast.Attribute) or (isinstance(inner, ast.Constant) and isinstance(inner.value, float)):
                return self.const(-float(name_of(inner)[5:]) if isinstance(inner, ast.Attribute) else -inner.value)
            a = self.value(inner, env)
            self.release(a)
            return self.emit("NEG", [a])
        if isinstance(node, ast.Call):
            return self.call(node, env)
        raise self.unsupported(node)

    def values(self, nodes, env: dict) -> list[int]:
        out = [self.value(x, env) for x in nodes]
        self.release(*out)
        return out

    def release(self, *addrs: int) -> None:
        """The temporaries among addrs are consumed: the next instruction may write over them."""
        temps = [a - _TEMP for a in addrs if _TEMP + self.acc_top <= a < _CONST]
        if temps:
            self.top = min(self.top, min(temps))

    def call(self, node: ast.Call, env: dict) -> int:
        f, args = name_of(node.func), node.args
        if f == "ld":
            if name_of(args[0]) == "v":
                return self.integer(args[1], env)
            if name_of(args[0]) == "p":
                return self.emit("LDP", [self.integer(args[1], env)])
        if f in _VALUE_CALLS:
            return self.emit(_VALUE_CALLS[f], self.values(args, env))
        if f == "bf" and len(args) == 1 and isinstance(args[0], ast.Compare) \
                and len(args[0].ops) == 1 and type(args[0].ops[0]) in _COMPARES:
            c = args[0]
            return self.emit(_COMPARES[type(c.ops[0])], self.values([c.left, c.comparators[0]], env))
        if f in _LOOKUPS:
            x, watch = args[0], -1
            if isinstance(x, ast.Call) and name_of(x.func) == "watched" and name_of(x.args[0]) == "v":
                watch, x = self.integer(x.args[1], env), x.args[2]
            a = self.value(x, env)
            self.release(a)
            return self.emit(_LOOKUPS[f], [a, self.table(args[1:], env), watch])
        if f == "watched_lookup" and name_of(args[0]) == "v" and name_of(args[3]) == "tab":
            watch = self.integer(args[1], env)
            a = self.value(args[2], env)
            self.release(a)
            return self.emit("LOOKUP", [a, self.integer(args[4], env), watch])
        if f in ("lookup_area", "lookup_slope"):
            a, b = self.values(args[:2], env)
            return self.emit(f.upper(), [a, b, self.table(args[2:], env)])
        if f == "watched" and name_of(args[0]) == "v":
            s = self.integer(args[1], env)
            return self.emit("WATCH", [s, *self.values(args[2:], env)])
        if f == "vsum" and name_of(args[0]) == "v":
            return self.emit("VSUM", [self.integer(a, env) for a in args[1:]])
        if f in _BLOCKS and name_of(args[0]) == "v":
            b, n = self.integer(args[1], env), self.integer(args[2], env)
            return self.emit(_BLOCKS[f], [b, n, *self.values(args[3:], env)])
        if f == "random_lookup":
            k = self.table(args[:3], env)
            site, step = self.integer(args[8], env), self.step(args[9], env)
            vals = self.values([args[10], *args[3:8]], env)
            return self.emit("RANDOM_LOOKUP", [k, site, step, *vals])
        if f.startswith("random_") and f.upper() in OPS:
            site, step = self.integer(args[-3], env), self.step(args[-2], env)
            vals = self.values([args[-1], *args[:-3]], env)
            return self.emit(f.upper(), [site, step, *vals])
        if f == "material_out":
            j = self.buffer_index(args[1], env)
            return self.emit("MATERIAL_OUT", [j, *self.values(args[4:], env)])
        if f == "information_out":
            j = self.buffer_index(args[1], env)
            return self.emit("INFORMATION_OUT", [j, *self.values(args[3:], env)])
        if f == "material_in":
            j = self.buffer_index(args[1], env)
            return self.emit("MATERIAL_IN", [j, *self.values(args[4:], env)])
        if f in _PARCELS:
            j = self.buffer_index(args[1], env) if name_of(args[0]) == "buf" else 0
            n_tables = 0     # the trailing profile tables (tab, tk(...), tk(...)): none, one or two
            while len(args) >= 4 + 3 * (n_tables + 1) and name_of(args[len(args) - 3 * (n_tables + 1)]) == "tab":
                n_tables += 1
            tables = [self.table(args[len(args) - 3 * (t + 1):len(args) - 3 * t], env) for t in range(n_tables)]
            return self.emit(_PARCELS[f], [j, *self.values(args[4:len(args) - 3 * n_tables], env), *tables[::-1]])
        raise self.unsupported(node)

    # -- statements ------------------------------------------------------------
    def loop(self, s: ast.For, n: int, env: dict) -> None:
        """A loop: kept as a loop on the tape when it runs at least LOOP_MIN times and its
        iterations differ only by words advancing evenly (`kept_loop`), else unrolled."""
        if n >= LOOP_MIN and self.kept_loop(s, n, env):
            return
        self.unrolled(s, n, env)

    def kept_loop(self, s: ast.For, n: int, env: dict) -> bool:
        """LOOP, the body of iteration 0, ENDLOOP, when three iterations built in a row differ
        by the same words each time (slots advancing with the loop variable; the loop
        variable read as a number is an INDEX opcode whose operand advances) and make no
        new constant after the first; else nothing (False): the tape then grows with the
        iterations, and the loops of a dense array's equations would make it grow with the
        elements."""
        start, state = len(self.code), (self.top, self.acc_top, 0, dict(self.accs))
        bodies, consts = [], []
        self.counting += 1
        try:
            for k in range(3):
                at = len(self.code)
                self.statements(s.body, {**env, s.target.id: k})
                bodies.append(np.array(self.code[at:], dtype=np.int64))
                consts.append(len(self.const_values))
        finally:
            self.counting -= 1
        a, b, c = bodies
        del self.code[start:]
        self.last = None
        linear = len(a) == len(b) == len(c) and np.array_equal(c - b, b - a) and consts[0] == consts[2]
        step = b - a if linear else a
        words = np.flatnonzero(step)
        if not linear or np.any(a[words] >= _TEMP):    # a temporary or constant that moves: no loop
            self.top, self.acc_top, self.accs = state[0], state[1], state[3]
            return False
        self.loops = True
        vector = self.vectorized(a, step, n, state[1])
        if vector is not None:
            body, steps, width = vector
            self.max_vtemp = max(self.max_vtemp, width)
            self.code += [OPCODE["VLOOP"], 0, n, len(body), *steps.tolist(), *body.tolist()]
            self.top = self.acc_top
            return True
        pairs = np.column_stack([words, step[words]]).ravel().tolist()
        self.code += [OPCODE["LOOP"], 0, n, len(a), len(words), *pairs, *a.tolist()]
        self.code += [OPCODE["ENDLOOP"], 0, len(self.code) - start]
        self.top = self.acc_top
        return True

    def vectorized(self, body: np.ndarray, step: np.ndarray, n: int, acc_top: int):
        """(body, steps, vector temporaries' size) of a loop whose iterations are independent,
        so the interpreter may run each instruction over all of them before the next (VLOOP,
        a tight loop per instruction), or None. Each temporary the body makes gets a block of
        n values (iteration k's at k), so an iteration's values wait for the next instruction;
        an accumulator (a sum's, made before the loop) stays one value, added to in iteration
        order; a slot may be read and written in one iteration only (an array read at another
        element than the one written, or written twice, keeps the scalar loop). Every
        instruction then computes what it computed in the scalar loop, in the same order."""
        ops, q = [], 0
        while q < len(body):
            name = NAMES[int(body[q])]
            if name not in VECTOR_OPS:
                return None
            ops.append((q, name, [q + 1] + [q + 2 + j for j, kind in enumerate(OPS[name]) if kind == "a"]))
            q += 2 + len(OPS[name])
        body, step = body.copy(), step.copy()
        blocks: dict[int, int] = {}
        for _, _, words in ops:
            for w in words:
                x = int(body[w])
                if _TEMP + acc_top <= x < _CONST:
                    body[w] = _VTEMP + n * blocks.setdefault(x, len(blocks))
                    step[w] = 1
        slot = lambda x: x < _VTEMP
        writes = [(int(body[q + 1]), int(step[q + 1]), q, name) for q, name, _ in ops]
        reads = [(int(body[w]), int(step[w]), q) for q, _, words in ops for w in words[1:]]
        for wb, ws, q, name in writes:
            if ws == 0:
                # an accumulator: acc = acc + x, read nowhere else in the body
                if not (name in ("ADD", "MUL", "MIN", "MAX") and _TEMP <= wb < _TEMP + acc_top and body[q + 2] == wb
                        and body[q + 3] != wb and sum(rb == wb for rb, _, _ in reads) == 1):
                    return None
                continue
            if slot(wb):
                for rb, rs, _ in reads + [(b, s_, q2) for b, s_, q2, _ in writes if q2 != q]:
                    if slot(rb) and (rb, rs) != (wb, ws) and overlap(rb, rs, wb, ws, n):
                        return None
        return body, step, n * len(blocks)

    def unrolled(self, s: ast.For, n: int, env: dict) -> None:
        """A loop, unrolled. Its first three iterations are built statement by statement; when
        their code differs by the same words each time (slots advancing with the loop
        variable, everything else, constants' addresses too, the same) and they made no new
        constant, the code of the others is that progression, computed at once: a dense
        array's loop over thousands of elements costs three iterations (backend/dense_emit.py)."""
        marks: list[tuple[int, int]] = []    # (code position, constants) before each iteration
        for k in range(n):
            if k == 3 and self.last is None and marks[1][1] == marks[2][1] == len(self.const_values):
                a, b, c = (np.array(self.code[start:end], dtype=np.int64) for start, end in
                           zip((m[0] for m in marks), [m[0] for m in marks[1:]] + [len(self.code)]))
                # only slots may advance: a constant's address that moves (numbers the
                # iterations read that exist in the pool already) does not go on evenly
                if len(a) == len(b) == len(c) and np.array_equal(c - b, b - a) \
                        and not np.any(a[np.flatnonzero(b - a)] >= _TEMP):
                    self.code += (a + np.arange(3, n, dtype=np.int64)[:, None] * (b - a)).ravel().tolist()
                    return
            marks.append((len(self.code), len(self.const_values)))
            self.statements(s.body, {**env, s.target.id: k})

    def statements(self, body: list[ast.stmt], env: dict) -> None:
        for s in body:
            self.statement(s, env)

    def statement(self, s: ast.stmt, env: dict) -> None:
        if isinstance(s, ast.Pass) or isinstance(s, ast.Assign) and isinstance(s.value, ast.Name) \
                and s.value.id == name_of(s.targets[0]) + "_":      # `ld = ld_` (driver.bind_helpers)
            return
        if isinstance(s, ast.For) and isinstance(s.target, ast.Name) and isinstance(s.iter, ast.Call) \
                and name_of(s.iter.func) == "range" and len(s.iter.args) == 1 and not s.orelse:
            self.loop(s, self.integer(s.iter.args[0], env), env)
            return
        if isinstance(s, ast.While) and isinstance(s.test, ast.Call) and name_of(s.test.func) == "solve_more" \
                and name_of(s.test.args[0]) == "v" and not s.orelse:
            start = len(self.code)
            base, k = (self.integer(a, env) for a in s.test.args[1:3])
            self.code += [OPCODE["SOLVE"], 0, base, k, -1]
            self.statements(s.body, env)
            self.code += [OPCODE["JUMP"], 0, start]
            self.code[start + 4] = len(self.code)
            self.top = self.acc_top
            self.last = None
            return
        if isinstance(s, ast.Expr) and isinstance(s.value, ast.Call):
            call, f = s.value, name_of(s.value.func)
            if f == "st" and name_of(call.args[0]) in ("v", "r"):
                slot = self.integer(call.args[1], env)
                if name_of(call.args[0]) == "r":
                    slot += self.rate_base
                value = call.args[2]
                if is_buffer_read(value):
                    self.code += [OPCODE["BUFREAD"], slot, self.buffer_index(value.slice.left, env)]
                    self.top = self.acc_top
                    return
                self.store(slot, value, env)
                return
            if f in ("watched", "material_in", "conveyor_in", "queue_in", "profile_in", "queue_attrib_in", "irr_in"):
                self.value(call, env)
                self.top = self.acc_top
                self.last = None
                return
        if isinstance(s, ast.Assign) and len(s.targets) == 1:
            target = s.targets[0]
            start = float_literal(s.value)
            if isinstance(target, ast.Name) and re.fullmatch(r"acc\d+", target.id) and start is not None:
                # a reduction's accumulator (SUM 0, PROD 1, VMIN inf, VMAX -inf: dense_emit)
                if target.id == "acc0":
                    self.accs, self.acc_top, self.top = {}, 0, 0
                self.accs[target.id] = _TEMP + self.acc_top
                self.acc_top += 1
                self.top = self.acc_top
                self.max_temp = max(self.max_temp, self.top)
                self.code += [OPCODE["MOV"], self.accs[target.id], self.const(start)]
                return
            if isinstance(target, ast.Subscript) and is_buffer_read(target):
                j = self.buffer_index(target.slice.left, env)
                a = self.value(s.value, env)
                self.code += [OPCODE["BUFWRITE"], _TEMP + self.top, j, a]
                self.max_temp = max(self.max_temp, self.top + 1)
                self.top = self.acc_top
                self.last = None
                return
        update = _accumulation(s, self.accs)
        if update is not None:
            acc, op, term = update
            a = self.value(term, env)
            self.code += [OPCODE[op], acc, acc, a]
            self.top = self.acc_top
            self.last = None
            return
        raise self.unsupported(s)

    def placed(self) -> tuple[np.ndarray, int]:
        """The code with temporaries and constants at their addresses, and where the constants start."""
        k = self.kernel
        temp_base = k.n_slots + max(1, k.n_continuous + k.n_discrete)
        vtemp_base = temp_base + max(self.max_temp, 1)
        const_base = vtemp_base + self.max_vtemp
        code = np.array(self.code, dtype=np.int64)
        code = np.where(code >= _CONST, code - _CONST + const_base,
                        np.where(code >= _TEMP, code - _TEMP + temp_base,
                                 np.where(code >= _VTEMP, code - _VTEMP + vtemp_base, code)))
        return code, const_base


def _accumulation(s: ast.stmt, accs: dict) -> tuple | None:
    """(accumulator, opcode, term) of a reduction's update (`acc += x`, `acc *= x`,
    `acc = fmin(acc, x)`, `acc = fmax(acc, x)`: dense_emit), or None."""
    if isinstance(s, ast.AugAssign) and type(s.op) in (ast.Add, ast.Mult) and name_of(s.target) in accs:
        return accs[name_of(s.target)], _BINOPS[type(s.op)], s.value
    if isinstance(s, ast.Assign) and len(s.targets) == 1 and name_of(s.targets[0]) in accs \
            and isinstance(s.value, ast.Call) and name_of(s.value.func) in ("fmin", "fmax") \
            and len(s.value.args) == 2 and name_of(s.value.args[0]) == name_of(s.targets[0]):
        return accs[name_of(s.targets[0])], _VALUE_CALLS[name_of(s.value.func)], s.value.args[1]
    return None


def _module_array(tree: ast.Module, name: str) -> list:
    """The values of a module constant `NAME = np.array([...], ...)` (`[:n]`), or (codegen's
    watch arrays) `np.repeat(np.array([...]), np.array([...]))` or `np.arange(a, b, step, ...)`."""
    for s in tree.body:
        if isinstance(s, ast.Assign) and name_of(s.targets[0]) == name:
            node = s.value
            if isinstance(node, ast.Subscript):
                return literal_list(node.value)[:ast.literal_eval(node.slice.upper)]
            if name_of(node.func) == "np.array":
                return literal_list(node)
            if name_of(node.func) == "np.arange":
                return list(range(*(ast.literal_eval(a) for a in node.args)))
            values, counts = (literal_list(a) for a in node.args)
            return [x for x, c in zip(values, counts) for _ in range(int(c))]
    raise TapeUnsupported(f"the kernel defines no {name}")


def _module_int(tree: ast.Module, name: str) -> int:
    """A module constant `NAME = n` (the check of infinite values at saves), -1 without one."""
    for s in tree.body:
        if isinstance(s, ast.Assign) and name_of(s.targets[0]) == name and isinstance(s.value, ast.Constant):
            return int(s.value.value)
    return -1


def build_tape(kernel: Kernel) -> Tape:
    """The tape of a generated kernel (see the module docstring). Raises TapeUnsupported
    when a statement has no opcode."""
    tree = ast.parse(kernel.source)
    funcs = {s.name: s for s in tree.body if isinstance(s, ast.FunctionDef)}
    b = _Builder(kernel)
    starts = []
    for phase in _PHASES:
        starts.append(len(b.code))
        i = 0
        while f"{phase}_{i}" in funcs:
            b.accs, b.acc_top, b.top = {}, 0, 0
            b.statements(funcs[f"{phase}_{i}"].body, {})
            i += 1
    starts.append(len(b.code))
    code, const_base = b.placed()
    consts = np.array(b.const_values, dtype=np.float64)
    n_fixed = kernel.n_fixed_delays
    fixed = np.array([_module_array(tree, "FIXED_DELAY_SLOTS")[:n_fixed],
                      _module_array(tree, "FIXED_DELAY_OUTPUTS")[:n_fixed],
                      [int(x) for x in _module_array(tree, "FIXED_DELAY_PLAIN")[:n_fixed]]],
                     dtype=np.int64).reshape(3, n_fixed)
    watch_slots = np.array(_module_array(tree, "WATCH_SLOTS"), dtype=np.int64)
    slots = kernel.slots
    meta = dict(n_mem=const_base + len(consts), n_slots=kernel.n_slots, rate_base=b.rate_base,
                const_base=const_base, n_cont=kernel.n_continuous, n_disc=kernel.n_discrete,
                n_fixed=n_fixed, dynamic_control=int(kernel.dynamic_control),
                dt_slot=slots.get("time step", 0), saveper_slot=slots.get("saveper", 0),
                final_slot=slots.get("final time", 0),
                watch_base=kernel.n_slots - 5 * len(kernel.watches), finite_watch=_module_int(tree, "FINITE_WATCH"),
                initial_slot=slots.get("initial time", 0), loops=int(b.loops),
                abs_tol_slot=slots.get("absolute tolerance", -1), rel_tol_slot=slots.get("relative tolerance", -1))
    return Tape(code, np.array(starts, dtype=np.int64), consts,
                np.array([meta[f] for f in META], dtype=np.int64), fixed, watch_slots,
                np.array(_module_array(tree, "WATCH_TABLES"), dtype=np.int64),
                np.array(_module_array(tree, "WATCH_LO"), dtype=np.float64),
                np.array(_module_array(tree, "WATCH_HI"), dtype=np.float64))
