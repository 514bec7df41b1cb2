"""Values read from Python locals in the specialised Euler driver's time loop.

Every statement of a step stores its value in the state vector (`st(v, 124, x)`: the saves,
the watches and the helpers read it there) and reads the values it needs from it
(`ld(v, 124)`). In Numba's front end each such read is a call (a constant, a call typed and
lowered on its own: two instructions of its IR, one call resolution), and the front end's
passes, not LLVM's, take most of a large kernel's cold compile. A local costs it nothing. So
in the time loop a value the step has computed is also held in a local, `v_124 = x`, and
every later read of it in the same step reads the local; the values the loop never writes
(constants, what only the initialisation computes) are read into locals once before the loop,
and the stocks and the time once at the top of each step. The stores all stay.

The rewrite runs on the emitter's statements, whose forms it knows (`emit.Emitter`): a value
is held only where the statement is one store of a slot written as a number, and a local is
read only between its definition and any other write of its slot written as a number, never
within a loop that writes it, nor across a helper given the vector (a solver's state, a
whole-array function's block are written in place); a slot written through a computed index
(a loop over an array's elements) is never one the step has held: each variable is computed
once per step, stocks are updated last.
"""
from __future__ import annotations

import ast
import re
from collections import Counter

_READ = re.compile(r"(?<![\w.])ld\(v, (\d+)\)")
_WRITE = re.compile(r"(?<![\w.])st\(v, (\d+),")
_HELPER = re.compile(r"(?<![\w.])(\w+)\(v\b")
# the calls given the state vector that write no slot of a variable (a watch writes its own)
_READERS = frozenset({"ld", "st", "watched", "watched_lookup", "vsum", "check_finite_skipping"})


def _store(line: str) -> tuple[int, str, str] | None:
    """(slot, the stored expression's text, the comment) of a line that is exactly one store
    of a slot written as a number, `st(v, 12, EXPR)  # comment`; otherwise None."""
    if not line.startswith("st(v, "):
        return None
    try:
        tree = ast.parse(line)
    except SyntaxError:
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Expr):
        return None
    call = tree.body[0].value
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "st"
            and len(call.args) == 3 and not call.keywords and isinstance(call.args[0], ast.Name)
            and call.args[0].id == "v" and isinstance(call.args[1], ast.Constant)
            and type(call.args[1].value) is int):
        return None
    return call.args[1].value, ast.get_source_segment(line, call.args[2]), line[call.end_col_offset:]


def name(slot: int) -> str:
    return f"v_{slot}"


def step_locals(step: list[str], invariant: set[int], at_top: set[int],
                in_loops: bool = True) -> tuple[list[str], list[str]]:
    """(the statements to run once before the time loop, the step's statements) with reads of
    the state vector taken from locals where they are known to hold the same value:
    `invariant`, slots the step never writes (read once before the loop); `at_top`, slots the
    step writes only after its last read (the stocks, read at its top, after `step[0]`, the
    time); a slot the step stores whole (`_store`) from that store until another write of it.
    `in_loops` False: the lines of loops read the vector as they did (see `initialisation`)."""
    def seen(ln: str) -> bool:
        return in_loops or not ln.startswith(" ")
    reads = Counter(int(m.group(1)) for stmt in step for ln in stmt.split("\n") if seen(ln) for m in _READ.finditer(ln))
    later = reads.copy()     # the reads still to come
    # a slot the step writes is not invariant, whatever the caller says: the local read before
    # the loop would be stale from the second step on
    invariant = invariant - {int(m.group(1)) for stmt in step for m in _WRITE.finditer(stmt)}
    before = [f"{name(s)} = ld(v, {s})" for s in sorted(invariant) if s in reads]
    top = [f"{name(s)} = ld(v, {s})" for s in sorted(at_top) if s in reads]
    held = {s for s in invariant | at_top if s in reads}
    out: list[str] = []
    for k, stmt in enumerate(step):
        new = []
        # a compound statement (a loop) runs its lines again: a slot any of them writes is read
        # from the vector in all of them; a helper given the vector (a solver, a whole-array
        # function) may write any slot of the step's: none is held across it
        if "\n" in stmt:
            held -= {int(m.group(1)) for m in _WRITE.finditer(stmt)}
        lines = stmt.split("\n")
        helper = [any(m.group(1) not in _READERS for m in _HELPER.finditer(ln)) for ln in lines]
        writer = any(helper)
        if writer:
            held &= invariant | at_top
        # a value is held from a store after the statement's last loop line or helper call only
        first_def = max((j + 1 for j, ln in enumerate(lines) if helper[j] or ln.startswith(" ")), default=0)
        for j, ln in enumerate(lines):
            if seen(ln):
                later.subtract(int(m.group(1)) for m in _READ.finditer(ln))
            store = _store(ln) if j >= first_def else None
            if store is not None and later[store[0]] > 0 and store[0] not in held:
                slot, value, comment = store
                new += [f"{name(slot)} = {_local(value, held)}{comment}", f"st(v, {slot}, {name(slot)})"]
                held.add(slot)
                continue
            new.append(_local(ln, held) if seen(ln) else ln)
            # any other write of a held slot ends its local (none in a schedule's step)
            held -= {int(m.group(1)) for m in _WRITE.finditer(ln)}
        out.append("\n".join(new))
        if writer:
            held &= invariant | at_top
        if k == 0:
            out += top
    return before, out


def _local(text: str, held: set[int]) -> str:
    return _READ.sub(lambda m: name(int(m.group(1))) if int(m.group(1)) in held else m.group(0), text)


# a store of a slot written as a number of a value that reads no vector: locals, numbers
_DEFERRABLE = re.compile(r"st\(v, (\d+), ((?:(?!\bv\b)[\w .+*/()-])+)\)")
_COMPUTED = re.compile(r"(?<![\w.])(?:ld|st)\(v, (?!\d+[,)])")
# the calls given the vector that read no slot of a variable's (a watch reads the time, slot 0)
_STORE_SAFE = frozenset({"ld", "st", "watched", "watched_lookup"})


# a line that binds a name: `v_12 = ...`, `acc0 += ...`
_BINDS = re.compile(r"\s*([A-Za-z_]\w*)\s*(?:\*\*|//|[-+*/%])?=(?!=)")


def _rebinds(line: str, pending: list[tuple[int, str]]) -> bool:
    """Whether `line` binds a name that a value waiting to be stored reads (`st(v, 5, v_3 *
    0.5)` waiting, `v_3 = ...`: the store must happen first, with the value it had)."""
    m = _BINDS.match(line)
    if m is None:
        return False
    named = re.compile(rf"(?<![\w.]){re.escape(m.group(1))}(?!\w)")
    return any(named.search(value) for _, value in pending)


def group_stores(step: list[str], named: dict[tuple[int, ...], str] | None = None) -> list[str]:
    """The step's statements with its stores of values held in locals (`st(v, 12, v_12)`, or
    of an expression of locals) made one call per run of them, `stm(v, (12, 14), (v_12,
    v_14))`, at the latest point where the vector must hold them: before a statement that reads
    one of them from it (`ld(v, 12)`, a read through a computed index, a helper given the
    vector, a subscript of it: the saves), writes one, binds a name one of them reads (a slot
    stored twice in the step: its local's next value), leaves the step (`break`), or any
    compound statement (a loop), and at the step's end. Each store still happens every step,
    in its order; a call costs Numba's front end instructions and a typed call each, and
    World3's step stored 205 values.

    `named`: the slots of each call are a module constant (`stm(v, STORE_SLOTS_0, (v_12,
    v_14))`), named in `named` (slots -> name; `slot_constants` writes them): Numba's front
    end takes a tuple written in a function as a constant per number (World3: 292
    instructions typed and lowered each), a module's `Slots` as one constant that lowers
    to nothing (kernel_intrinsics.Slots)."""
    out: list[str] = []
    pending: list[tuple[int, str]] = []

    def flush():
        if pending:
            slots, values = zip(*pending)
            where = f"({', '.join(map(str, slots))},)" if named is None else \
                named.setdefault(slots, f"STORE_SLOTS_{len(named)}")
            out.append(f"stm(v, {where}, ({', '.join(values)},))")
            pending.clear()

    def barrier(line: str) -> bool:
        waiting = {s for s, _ in pending}
        return (any(int(m.group(1)) in waiting for m in (*_READ.finditer(line), *_WRITE.finditer(line)))
                or _COMPUTED.search(line) is not None or "v[" in line
                or any(m.group(1) not in _STORE_SAFE for m in _HELPER.finditer(line))
                or re.search(r"\b(break|return|continue)\b", line) is not None
                or _rebinds(line, pending))

    for stmt in step:
        lines = stmt.split("\n")
        if any(ln.startswith(" ") or ln.rstrip().endswith(":") for ln in lines):
            flush()              # a compound statement: its lines run in their own order
            out.append(stmt)
            continue
        kept: list[str] = []
        for ln in lines:
            store = _DEFERRABLE.fullmatch(ln.split("  # ", 1)[0])
            if store is not None and int(store.group(1)) not in {s for s, _ in pending}:
                pending.append((int(store.group(1)), store.group(2)))
                continue
            if barrier(ln):
                if kept:
                    out.append("\n".join(kept))
                    kept = []
                flush()
            kept.append(ln)
        if kept:
            out.append("\n".join(kept))
    flush()
    return out


def slot_constants(named: dict[tuple[int, ...], str]) -> str:
    """The module constants `group_stores` named: `STORE_SLOTS_0 = Slots((12, 14))` (the
    kernel library's `Slots`), one a line."""
    return "".join(f"{name} = Slots(({', '.join(map(str, slots))},))\n" for slots, name in named.items())


_INDEXED_LD = re.compile(r"(?<![\w.])ld\((v|r), (\d+) \+ ([ikq]\d*)\)")
_INDEXED_ST = re.compile(r"(?<![\w.])st\((v|r), (\d+) \+ ([ikq]\d*), ")


def indexed(statements: list[str]) -> list[str]:
    """`ld(v, 12 + i0)` as `ldi(v, 12, i0)` and `st(v, 12 + i0, x)` as `sti(v, 12, i0, x)`:
    a loop's reads and writes at its counter, one call where the addition was an operator
    more for Numba's front end to type and lower (the beer game's loops make hundreds)."""
    return [_INDEXED_ST.sub(r"sti(\1, \2, \3, ", _INDEXED_LD.sub(r"ldi(\1, \2, \3)", s)) for s in statements]
