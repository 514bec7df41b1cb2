"""The kernel's solver of the loops SIMULTANEOUS and FIND ZERO mark (passes/solve.py).

The code generator writes a solved block as

    (the block's state reset, each unknown's guess, tolerances and scale)
    while solve_more(v, B, k):
        (each unknown's slot set to its point; the members; each unknown's residual)
    watched(v, W, v[B + 2])      # 1 when the block did not converge: a run-time warning

and `solve_more` decides, from the residuals of the point just computed, the next point to
compute, or that the block is solved. The members are evaluated by the generated code, not
called back, so the interpreter runs the same loop with two opcodes (backend/tape.py).

SIMULTANEOUS is solved as Vensim's help says, "running around the loop until nothing in the
loop changes any more": from the initial value, each pass sets every unknown to its
expression's value at the point just computed (x := f(x)). Where the passes settle, they give
the root Vensim's do, also where the loop has several (the stable one the passes reach, not
the one nearest the initial value). Where they do not settle (they diverge, x = 3 - 2x, or
cycle, x = 5 - x: after JUDGE_AFTER passes, passes whose changes do not shrink fast enough to
settle within MAX_PASSES, `_contracting`) or meet a value that is not finite, the block starts again
from the initial values with Newton's method, which finds such roots, and so does FIND ZERO
(and a block with any FIND ZERO unknown) from the start.

Newton's method uses a forward-difference Jacobian (k + 1 evaluations of the block per
iteration, k unknowns); where the Jacobian is singular the step is a plain pass around the
loop (x = the expression's value). The passes are done when every unknown is within
PASS_PRECISION x (A + Q x max(|x|, S)) of the fixed point they approach (its change over 1 -
the rate at which the changes shrink: `_settled`); Newton's method, for FIND ZERO, when every
unknown's residual r satisfies |r| <= A + Q x max(|x|, S), and for SIMULTANEOUS after a step
of at most that size (a bound on the distance left to the root, which the residual alone is
not where the loop's gain is near 1), or when a step no longer moves any unknown;
after M iterations (or a residual that is not finite) it is not solved: its unknowns, and so
the whole loop, are NaN for that evaluation and the watch records the time, so a run never
returns a number that does not satisfy the loop in silence.

The block's state, in the kernel's state vector from B (k unknowns):
    B: phase (0 start, 1 the base point computed, 2 + j the point with unknown j moved,
       -1 the last pass: at the point no step moves, or with NaN unknowns after a failure),
    B + 1: passes, then iterations, B + 2: not solved (0 or 1), B + 3: 1 while the block
    runs around the loop (set by the code generator for a block of SIMULTANEOUS alone), 2
    once it uses Newton's method after them, 0 for Newton's method from the start (FIND ZERO);
    then k values each of P (the point computed), R (its residuals, written by the block),
    X (the base point; while passing, the initial values),
    G (its residuals; while passing, the last pass's change), H (the difference steps), S
    (the scale), A and Q (absolute and relative tolerances), M (the iteration limit; one per
    unknown, the block uses the first), D (the Newton step), and the Jacobian (k x k, by
    rows): solve_layout.py.
"""
from __future__ import annotations

import math

from numba import njit

from .kernel_lib import JIT
from .solve_layout import FIELDS, HEADER, MAX_PASSES, PASS_PRECISION

assert FIELDS == ("P", "R", "X", "G", "H", "S", "A", "Q", "M", "D")   # the offsets below

_EPS = math.sqrt(2.220446049250313e-16)   # the relative step of a forward difference
# passes around the loop that run whatever their changes do: a loop's first passes may grow
# before they shrink (a lookup's flat end, a start far from the root); after these, passes
# that do not shrink, or shrink too slowly to settle within MAX_PASSES, give way to Newton's
# method at once rather than at every evaluation's MAX_PASSES-th pass
JUDGE_AFTER = 10


@njit(**JIT)
def _solved(v, b, k) -> bool:
    p, r, s, a, q = b + HEADER, b + HEADER + k, b + HEADER + 5 * k, b + HEADER + 6 * k, b + HEADER + 7 * k
    for j in range(k):
        if not abs(v[r + j]) <= v[a + j] + v[q + j] * max(abs(v[p + j]), v[s + j]):
            return False
    return True


@njit(**JIT)
def _exact(v, b, k) -> bool:
    """Every residual is 0: the point is a root (SIMULTANEOUS's Newton iterations otherwise
    stop on the size of the step left, which bounds the distance to the root)."""
    r = b + HEADER + k
    for j in range(k):
        if v[r + j] != 0.0:
            return False
    return True


@njit(**JIT)
def _settled(v, b, k) -> bool:
    """The passes around the loop are done: every unknown is within the tolerance of the
    fixed point they approach. A pass that shrinks the change by q (this residual over the
    last one, kept in G) leaves x within |r| / (1 - q) of it; a change that does not shrink
    (q >= 0.99: not contracting, or rounding noise; or no pass yet) counts 100 |r|. The bound
    must be PASS_PRECISION times the tolerance: what the loop computes from the unknowns can
    amplify their error (y = 10 x - 3)."""
    p, r, g, s, a, q = b + HEADER, b + HEADER + k, b + HEADER + 3 * k, b + HEADER + 5 * k, \
        b + HEADER + 6 * k, b + HEADER + 7 * k
    for j in range(k):
        change = abs(v[r + j])
        ratio = change / abs(v[g + j]) if abs(v[g + j]) > 0.0 else 1.0
        bound = change / (1.0 - ratio) if ratio < 0.99 else 100.0 * change
        if not bound <= PASS_PRECISION * (v[a + j] + v[q + j] * max(abs(v[p + j]), v[s + j])):
            return False
    return True


@njit(**JIT)
def _contracting(v, b, k) -> bool:
    """Whether the passes around the loop may go on: during the first JUDGE_AFTER passes,
    always; then only while every unknown's change shrinks (by q, this change over the last)
    fast enough to settle (`_settled`) within the passes left, about log(target / bound) /
    log(q) more. A loop that diverges, cycles (x = 5 - x) or oscillates between a lookup's
    bounds goes to Newton's method after JUDGE_AFTER passes, not MAX_PASSES."""
    if v[b + 1] < JUDGE_AFTER:
        return True
    p, r, g, s, a, q = b + HEADER, b + HEADER + k, b + HEADER + 3 * k, b + HEADER + 5 * k, \
        b + HEADER + 6 * k, b + HEADER + 7 * k
    left = MAX_PASSES - v[b + 1]
    for j in range(k):
        change, last = abs(v[r + j]), abs(v[g + j])
        if change == 0.0:
            continue
        if not change < last:
            return False
        ratio = change / last
        bound = change / (1.0 - ratio)
        target = PASS_PRECISION * (v[a + j] + v[q + j] * max(abs(v[p + j]), v[s + j]))
        if target > 0.0 and bound > target and math.log(target / bound) / math.log(ratio) > left:
            return False
    return True


@njit(**JIT)
def _newton_step(v, b, k) -> bool:
    """D := the Newton step from X, solving J D = -G by Gaussian elimination with partial
    pivoting (J overwritten); False when J is singular or the step is not finite."""
    g, d, jac = b + HEADER + 3 * k, b + HEADER + 9 * k, b + HEADER + 10 * k
    for c in range(k):
        v[d + c] = -v[g + c]
    for c in range(k):
        piv = c
        for row in range(c + 1, k):
            if abs(v[jac + row * k + c]) > abs(v[jac + piv * k + c]):
                piv = row
        if not abs(v[jac + piv * k + c]) > 0.0:
            return False
        if piv != c:
            for col in range(k):
                v[jac + c * k + col], v[jac + piv * k + col] = v[jac + piv * k + col], v[jac + c * k + col]
            v[d + c], v[d + piv] = v[d + piv], v[d + c]
        for row in range(c + 1, k):
            f = v[jac + row * k + c] / v[jac + c * k + c]
            for col in range(c, k):
                v[jac + row * k + col] -= f * v[jac + c * k + col]
            v[d + row] -= f * v[d + c]
    for c in range(k - 1, -1, -1):
        acc = v[d + c]
        for col in range(c + 1, k):
            acc -= v[jac + c * k + col] * v[d + col]
        v[d + c] = acc / v[jac + c * k + c]
        if not math.isfinite(v[d + c]):
            return False
    return True


@njit(**JIT)
def solve_more(v, b, k):
    """True while the block at v[b] has another point to compute (set in its P slots);
    False once it is solved, or after the last pass of a block that could not be (see the
    module docstring)."""
    f = b + HEADER
    p, r, x, g, h, s = f, f + k, f + 2 * k, f + 3 * k, f + 4 * k, f + 5 * k
    d, jac = f + 9 * k, f + 10 * k
    phase = v[b]
    if phase == 0.0:                      # start: compute the guess
        for j in range(k):
            v[s + j] = abs(v[s + j])
            v[x + j] = v[p + j]           # kept for a restart with Newton's method
            v[g + j] = 0.0                # no pass yet: no rate of shrinking known
        v[b] = 1.0
        return True
    if phase == -1.0:                     # the last pass is done
        return False
    if phase == 1.0:                      # the base point is computed
        finite = True
        for j in range(k):
            finite = finite and math.isfinite(v[r + j])
        passing, stepwise = v[b + 3] == 1.0, v[b + 3] == 2.0
        if finite and (_settled(v, b, k) if passing else _exact(v, b, k) if stepwise else _solved(v, b, k)):
            return False
        if passing:                       # running around the loop: x := f(x) = x + r
            if finite and v[b + 1] < MAX_PASSES and _contracting(v, b, k):
                v[b + 1] += 1.0
                for j in range(k):
                    v[g + j] = v[r + j]   # this pass's change, to see the next one shrink
                    v[p + j] = v[p + j] + v[r + j]
                return True
            v[b + 3] = 2.0                # the passes did not settle: Newton from the start
            v[b + 1] = 0.0
            for j in range(k):
                v[p + j] = v[x + j]
            return True
        if not finite or v[b + 1] >= v[f + 8 * k]:
            v[b + 2] = 1.0                # not solved: one last pass with NaN unknowns
            v[b] = -1.0
            for j in range(k):
                v[p + j] = math.nan
            return True
        for j in range(k):
            v[x + j] = v[p + j]
            v[g + j] = v[r + j]
            step = _EPS * max(abs(v[p + j]), v[s + j])
            v[h + j] = step if step > 0.0 else _EPS
        v[p] = v[x] + v[h]
        v[b] = 2.0
        return True
    j = int(phase) - 2                    # the point with unknown j moved is computed
    for row in range(k):
        v[jac + row * k + j] = (v[r + row] - v[g + row]) / v[h + j]
    v[p + j] = v[x + j]
    if j + 1 < k:
        v[p + j + 1] = v[x + j + 1] + v[h + j + 1]
        v[b] = phase + 1.0
        return True
    v[b + 1] += 1.0
    v[b] = 1.0
    newton = _newton_step(v, b, k)
    moved, small = False, newton
    for c in range(k):
        # where the Jacobian is singular, once around the loop: x + (f(x) - x)
        v[p + c] = v[x + c] + (v[d + c] if newton else v[g + c])
        moved = moved or v[p + c] != v[x + c]
        small = small and abs(v[d + c]) <= v[f + 6 * k + c] + v[f + 7 * k + c] * max(abs(v[x + c]), v[s + c])
    if not moved or (small and v[b + 3] == 2.0):
        # no step moves the point, or (SIMULTANEOUS) the step left to the root is within the
        # tolerance: as solved as it gets, once more at the stepped point, then done
        v[b] = -1.0
    return True
