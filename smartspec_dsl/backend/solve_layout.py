"""Where a solved block keeps its state in the kernel's state vector, and the solver's
settings: shared by the code generator (emit.py), which writes the block, and the solver
(kernel_solve.py), which reads it; apart from the solver so that generating code does not
import Numba."""
from __future__ import annotations

# The block's phase, iteration count, failure flag and whether it still runs around the loop
# (see kernel_solve.py's docstring); then each unknown's values, k of each; then the k x k
# Jacobian.
HEADER = 4
FIELDS = ("P", "R", "X", "G", "H", "S", "A", "Q", "M", "D")

# SIMULTANEOUS: the residual r = expression - x is small when |r| <= TOLERANCE x max(|x|, |the
# initial value|), within MAX_PASSES passes around the loop (Vensim's way) or, where those do
# not settle, MAX_ITERATIONS Newton iterations from the initial value. Vensim's help names
# none of these numbers; they are smartspec's choice: nine digits agree, far below any
# model's own error; a pass that shrinks the change by a factor 0.97 settles within the
# passes; Newton's method needs a handful of iterations where it converges at all.
TOLERANCE = 1e-9
MAX_PASSES = 1000
# the passes settle this much closer than TOLERANCE: what the loop computes from the unknowns
# can amplify their error, and its values should agree with the root within TOLERANCE too
PASS_PRECISION = 1e-3
MAX_ITERATIONS = 100


def size(k: int) -> int:
    """The number of state slots of a block of k unknowns."""
    return HEADER + len(FIELDS) * k + k * k


def field(base: int, k: int, name: str, j: int) -> int:
    """The slot of unknown j's value of `name` (one of FIELDS) in the block at `base`."""
    return base + HEADER + FIELDS.index(name) * k + j
