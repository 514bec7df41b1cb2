"""Solved blocks: the algebraic loops that SIMULTANEOUS and FIND ZERO mark, ordered as one
node each and solved by iteration within the time step (backend/kernel_solve.py).

A loop of auxiliaries with no stock on it is an error (order.py reports it), unless one of
its variables is defined by SIMULTANEOUS or FIND ZERO: that variable (an *unknown* of the
block) is guessed, the loop's other variables are computed from the guess in dependency
order, and the unknown's own equation gives a residual that the kernel drives to zero
(Vensim's help, "Simultaneous Equations" and the two functions' pages):

- `x = SIMULTANEOUS(expression, initial value)`: the residual is expression - x; the
  iteration starts from the initial value (computed before the block, so it must not read
  the loop). Vensim runs around the loop "until nothing in the loop changes any more", and so
  does the kernel (Newton's method only where those passes do not settle).
- `x = FIND ZERO(xs, z, zs, xi, n, skip, tol, max iter, method)`: the residual is z x zs,
  x starts from xi, and the search stops once |z x zs| <= tol; z is another variable of the
  loop (z = y - f(y) in Vensim's example). Vensim's function takes over the last subscript of
  x: flattened, each element is one unknown of the same block, solved together.

The block is the strongly connected component of the dependency graph that holds the
unknowns; every cycle of it must pass through an unknown, and the members are ordered with
the unknowns' own dependencies left out (they read the guess). `order` then sees the block as
a chain (each member after the previous and after everything the block reads; whatever
reads a member after the last one), so any topological order keeps the block's inputs
before its first member and its readers after its last: the code generator writes the whole
block where its first member falls.
"""
from __future__ import annotations

import heapq
import re
from dataclasses import dataclass

from .. import ir
from ..errors import AlgebraicLoop, ModelError, UnsupportedFeature
from ..ir.builtins import BUFFER, BUILTINS

SOLVERS = ("SIMULTANEOUS", "FIND ZERO")
# the arguments each reads before its block is solved (all but its residual's)
BEFORE = {"SIMULTANEOUS": (1,), "FIND ZERO": (0, 2, 3, 4, 5, 6, 7, 8)}


@dataclass(frozen=True)
class SolvedBlock:
    """One algebraic loop solved within the time step: its unknowns (the variables defined by
    SIMULTANEOUS or FIND ZERO, in order of definition) and all its members in the order the
    kernel computes them from the unknowns' guesses (the unknowns among them: their residual)."""
    unknowns: tuple[str, ...]
    members: tuple[str, ...]
    phase: str = "time step"          # or "initialisation": the graph it was found in
    held: tuple[str, ...] = ()        # FIND ZERO elements held at their initial value (skip, n)


def _buffered(var: ir.Variable) -> bool:
    """A function kept in the kernel's buffer (order.is_delay_fixed), which the step writes once."""
    return isinstance(var.expr, ir.Call) and var.expr.func in BUILTINS and BUILTINS[var.expr.func].stage == BUFFER


def solver_call(var: ir.Variable) -> ir.Call | None:
    """The SIMULTANEOUS or FIND ZERO call that defines `var`, or None."""
    e = var.expr
    return e if isinstance(e, ir.Call) and e.func in SOLVERS else None


def check_whole_equations(model: ir.Model) -> None:
    """SIMULTANEOUS and FIND ZERO are each the whole right-hand side of an auxiliary (Vensim:
    "must appear first on the right hand side as a defining function"); anywhere else the
    modeller is told so, at the call."""
    for var in model.variables.values():
        for e in (var.expr, var.initial):
            if e is None:
                continue
            for node in ir.walk(e):
                if isinstance(node, ir.Call) and node.func in SOLVERS and (
                        node is not var.expr or var.kind not in (ir.Kind.AUXILIARY, ir.Kind.FLOW)):
                    raise ModelError(f"{node.pos or var.pos}: {node.func} must be the whole equation of "
                                     f"'{var.display}' (write '{var.display} = {node.func}(...)' and use "
                                     f"'{var.display}' in other equations)")


def strong_components(deps: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of the graph name -> what it reads (Tarjan's
    algorithm, without recursion: a flattened model's chains are long)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    for root in deps:
        if root in index:
            continue
        work = [(root, iter(sorted(d for d in deps[root] if d in deps)))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, kids = work[-1]
            kid = next(kids, None)
            if kid is not None:
                if kid not in index:
                    index[kid] = low[kid] = len(index)
                    stack.append(kid)
                    on_stack.add(kid)
                    work.append((kid, iter(sorted(d for d in deps[kid] if d in deps))))
                elif kid in on_stack:
                    low[node] = min(low[node], index[kid])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    n = stack.pop()
                    on_stack.discard(n)
                    comp.append(n)
                    if n == node:
                        break
                out.append(comp)
    return out


def _last_subscript_row(name: str) -> str:
    """`x[a1,` of `x[a1,r2]`: the elements that differ only in their last subscript share it."""
    return re.sub(r"[^,\[]*\]$", "", name)


def find_zero_held(model: ir.Model, var: ir.Variable, call: ir.Call) -> bool:
    """Whether FIND ZERO holds this element of `var` at its initial value xi: Vensim solves
    the elements skip to n - 1 of the last subscript (skip marks a system homogeneous of
    degree 0, n may be less than the elements); the others keep xi and their z need not be
    zero. n and skip must be numbers (or ELMCOUNT), within the elements: else a located error."""
    n, skip = call.args[4], call.args[5]
    row = _last_subscript_row(var.name)
    elements = [u for u, v in model.variables.items()
                if _last_subscript_row(u) == row and (u == var.name or "[" in u) and solver_call(v) is not None]
    where = f"{call.pos or var.pos}: FIND ZERO in the equation of '{var.display}'"
    if not (isinstance(n, ir.Num) and isinstance(skip, ir.Num)):
        raise UnsupportedFeature(f"{where}: its n and skip (arguments 5 and 6) must be numbers (or ELMCOUNT "
                                 "of a range)")
    if not 0 <= skip.value < n.value <= len(elements) or n.value != int(n.value) or skip.value != int(skip.value):
        raise ModelError(f"{where}: n = {n.value:g} and skip = {skip.value:g} must be whole numbers with 0 <= skip "
                         f"< n <= {len(elements)}, the elements of its last subscript")
    return not skip.value <= elements.index(var.name) < n.value


def _body_order(model: ir.Model, members: set[str], unknowns: set[str], deps: dict[str, set[str]],
                phase: str) -> list[str]:
    """The members in an order that computes each after what it reads within the block, the
    unknowns' guesses being known; a cycle left without an unknown is an algebraic loop."""
    position = {n: i for i, n in enumerate(model.variables)}
    inner = {n: {d for d in deps[n] if d in members and d not in unknowns} for n in members}
    readers: dict[str, list[str]] = {n: [] for n in members}
    for n, ds in inner.items():
        for d in ds:
            readers[d].append(n)
    waiting = {n: len(ds) for n, ds in inner.items()}
    ready = [(position[n], n) for n, k in waiting.items() if k == 0]
    heapq.heapify(ready)
    out = []
    while ready:
        _, n = heapq.heappop(ready)
        out.append(n)
        for r in readers[n]:
            waiting[r] -= 1
            if waiting[r] == 0:
                heapq.heappush(ready, (position[r], r))
    if len(out) < len(members):
        # name the loop itself, not what only waits on it (an unknown among them)
        rest = {n: inner[n] - set(out) for n in members if n not in out}
        left = sorted((n for comp in strong_components(rest) if len(comp) > 1 or comp[0] in rest[comp[0]]
                       for n in comp), key=position.__getitem__)
        lines = [f"  {model.variables[n].display} (defined at {model.variables[n].pos})" for n in left]
        where = model.variables[left[0]].pos or f"{model.source}:1:1"
        raise AlgebraicLoop(f"{where}: algebraic loop ({phase}): these variables depend on each other with no "
                            "stock between them, and no SIMULTANEOUS or FIND ZERO on the loop they form:\n"
                            + "\n".join(lines))
    return out


def solved_blocks(model: ir.Model, deps: dict[str, set[str]], phase: str
                  ) -> tuple[dict[str, set[str]], tuple[SolvedBlock, ...]]:
    """The blocks of `deps` (name -> the names it reads, in one phase's graph), and the
    dependencies `order` sorts instead: each block a chain (see the module docstring). A
    model without SIMULTANEOUS or FIND ZERO gets `deps` back unchanged, at no cost.
    Errors: AlgebraicLoop for a loop of a block that passes through no unknown; ModelError
    for a guess (or FIND ZERO's scaling, tolerance ...) that reads the loop it starts."""
    vs = model.variables
    unknowns = {n for n in deps if solver_call(vs[n]) is not None}
    if not unknowns:
        return deps, ()
    position = {n: i for i, n in enumerate(vs)}
    blocks = []
    for comp in strong_components(deps):
        members = set(comp)
        mine = members & unknowns
        if not mine or (len(comp) == 1 and comp[0] not in deps[comp[0]]):
            # no loop here: SIMULTANEOUS alone is its expression's value; FIND ZERO has nothing
            # to solve (the step's graph holds every auxiliary: no loop there, none at all)
            alone = comp[0]
            if mine and phase == "time step" and solver_call(vs[alone]).func == "FIND ZERO" \
                    and not find_zero_held(model, vs[alone], solver_call(vs[alone])):
                call = solver_call(vs[alone])
                raise ModelError(f"{call.pos or vs[alone].pos}: FIND ZERO in the equation of '{vs[alone].display}' "
                                 "has nothing to solve: its second argument (z) does not depend on the variable "
                                 "it defines, so no value of it can make z zero")
            continue
        buffered = next((m for m in sorted(members, key=position.__getitem__) if _buffered(vs[m])), None)
        if buffered is not None:
            raise UnsupportedFeature(f"{vs[buffered].pos}: '{vs[buffered].display}' is on a loop that SIMULTANEOUS or "
                                     f"FIND ZERO solves, and {vs[buffered].expr.func} cannot be computed within one")
        for u in sorted(mine, key=position.__getitem__):
            call = solver_call(vs[u])
            for k in BEFORE[call.func]:
                inside = ir.references(call.args[k]) & members if k < len(call.args) else set()
                if inside:
                    raise ModelError(f"{call.pos or vs[u].pos}: argument {k + 1} of {call.func} in the equation of "
                                     f"'{vs[u].display}' reads '{vs[min(inside, key=position.__getitem__)].display}', "
                                     "which is on the loop it solves: it must be known before the loop is solved")
        held = tuple(u for u in sorted(mine, key=position.__getitem__)
                     if solver_call(vs[u]).func == "FIND ZERO" and find_zero_held(model, vs[u], solver_call(vs[u])))
        body = _body_order(model, members, mine, deps, phase)
        blocks.append(SolvedBlock(tuple(sorted(mine, key=position.__getitem__)), tuple(body), phase, held))
    if not blocks:
        return deps, ()
    chained = dict(deps)
    block_of = {m: k for k, b in enumerate(blocks) for m in b.members}
    for b in blocks:
        members = set(b.members)
        outside = set().union(*(deps[m] for m in b.members)) - members
        for i, m in enumerate(b.members):
            chained[m] = outside | ({b.members[i - 1]} if i else set())
    for n, ds in chained.items():
        # a read of another block's member waits for that block's last member
        if any(d in block_of and block_of[d] != block_of.get(n) for d in ds):
            chained[n] = {blocks[block_of[d]].members[-1] if d in block_of and block_of[d] != block_of.get(n)
                          else d for d in ds}
    return chained, tuple(blocks)
