"""The code of a loop solved within the time step (passes/solve.py): one statement of the
kernel that iterates with `kernel_solve.solve_more` until the loop is solved."""
from __future__ import annotations

from .. import ir
from ..passes.order import Schedule
from ..passes.solve import solver_call
from .solve_layout import MAX_ITERATIONS, TOLERANCE, field, size

__all__ = ["blocks_by_first", "size", "solved_block"]


def blocks_by_first(schedule: Schedule, phase: str) -> dict[str, int | None]:
    """Each block member of `phase`'s order ("initialisation" or "time step") -> its block's
    index where the block is written (its first member in that order), None for the others."""
    order = schedule.initial if phase == "initialisation" else schedule.dynamic
    place = {n: i for i, n in enumerate(order)}
    out: dict[str, int | None] = {}
    for k, b in enumerate(schedule.blocks):
        if b.phase == phase:
            out.update((m, None) for m in b.members)
            out[min(b.members, key=place.__getitem__)] = k
    return out


def _settings(call: ir.Call) -> dict[str, ir.Expr]:
    """An unknown's guess (P), tolerances (A absolute, Q relative) and iteration limit (M)."""
    a = call.args
    if call.func == "SIMULTANEOUS":
        return {"P": a[1], "A": ir.Num(0.0), "Q": ir.Num(TOLERANCE), "M": ir.Num(float(MAX_ITERATIONS))}
    # FIND ZERO(xs, z, zs, xi, n, skip, tol, max iter, method)
    return {"P": a[3], "A": a[6], "Q": ir.Num(0.0), "M": a[7]}


def solved_block(em, k: int) -> str:
    """Block k of the schedule as one statement of the emitter `em` (emit.Emitter): the
    solver's state reset (a block of SIMULTANEOUS alone first runs around the loop, Vensim's
    way) and each unknown's guess, tolerances, iteration limit and scale
    (SIMULTANEOUS: its initial value; FIND ZERO: 1 / xs); then, while `solve_more` has a point
    to compute, the unknowns set to it, the members computed in order and, in each unknown's
    place, its residual (SIMULTANEOUS: expression - x; FIND ZERO: z x zs, or x - xi for an
    element it holds at xi, passes/solve.find_zero_held); after the loop, where the members
    watch lookup inputs, the members once more with their watches (the solver's trial points
    raise no warning); then the watch of the block's failure flag (a run-time warning,
    runtime/diagnostics)."""
    block = em.schedule.blocks[k]
    vs = em.schedule.model.variables
    base, n = em.block_base[k], len(block.unknowns)
    # phase, iterations, failure; then whether to run around the loop first (SIMULTANEOUS alone)
    passing = all(solver_call(vs[u]).func == "SIMULTANEOUS" for u in block.unknowns)
    head = [f"st(v, {base + i}, 0.0)" for i in range(3)] + [f"st(v, {base + 3}, {float(passing)})"]
    for j, u in enumerate(block.unknowns):
        em.owner = u
        call = solver_call(vs[u])
        for name, e in _settings(call).items():
            head.append(em.flush(f"st(v, {field(base, n, name, j)}, {em.expr(e)})"))
        scale = (f"ld(v, {field(base, n, 'P', j)})" if call.func == "SIMULTANEOUS"
                 else f"fxidz(1.0, {em.expr(call.args[0])}, 0.0)")
        head.append(em.flush(f"st(v, {field(base, n, 'S', j)}, {scale})"))
    body = [f"st(v, {em.slots[u]}, ld(v, {field(base, n, 'P', j)}))" for j, u in enumerate(block.unknowns)]
    for m in block.members:
        em.owner = m
        var = vs[m]
        if m in block.unknowns:
            j = block.unknowns.index(m)
            call = solver_call(var)
            if call.func == "SIMULTANEOUS":
                r = f"({em.expr(call.args[0])} - ld(v, {field(base, n, 'P', j)}))"
            elif m in block.held:   # x - xi: Newton's step puts it at xi
                r = f"(ld(v, {field(base, n, 'P', j)}) - {em.expr(call.args[3])})"
            else:
                r = f"({em.expr(call.args[1])} * {em.expr(call.args[2])})"
            body.append(em.flush(f"st(v, {field(base, n, 'R', j)}, {r})"))
        else:
            initial = block.phase == "initialisation" and var.initial is not None
            body.append(em.assign(m, var.initial if initial else var.expr))
    em.owner = block.unknowns[0]
    watch = em.watch(("solve", block.unknowns[0], block.members))
    # the members without their comments: the block is one statement of its phase
    body = [ln.split("  # ", 1)[0] for s in body for ln in s.split("\n")]
    # the points the solver tries are not the model's values: the watches of lookup inputs see
    # the accepted point only, once more after the loop (its last pass computed that point)
    trials = [_unwatched(ln) for ln in body]
    lines = head + [f"while solve_more(v, {base}, {n}):"] + ["    " + ln for ln in trials]
    if trials != body:
        lines += body
    return "\n".join(lines + [f"watched(v, {watch}, ld(v, {base + 2}))"])


def _unwatched(code: str) -> str:
    """`code` with every `watched(v, w, x)` (kernel_intrinsics.watched: x, and a record of it)
    replaced by x, and every `watched_lookup(v, w, x, tab, k)` by the same lookup unwatched."""
    start = min((i for i in (code.find("watched(v, "), code.find("watched_lookup(v, ")) if i >= 0), default=-1)
    if start < 0:
        return code
    lookup = code.startswith("watched_lookup(", start)
    depth, args = 0, [start + len("watched_lookup(" if lookup else "watched(")]
    for i in range(args[0], len(code)):
        c = code[i]
        if c == "(":
            depth += 1
        elif c == ")" and depth:
            depth -= 1
        elif c == "," and not depth:
            args.append(i + 1)
        elif c == ")":
            x = _unwatched(code[args[2]:(args[3] - 1 if lookup else i)].strip())
            if lookup:
                k = int(code[args[4]:i])
                x = f"lookup({x}, tab, tk(tab, {2 * k}), tk(tab, {2 * k + 1}))"
            return code[:start] + x + _unwatched(code[i + 1:])
    raise AssertionError(f"unbalanced watch in generated code: {code}")
