"""Where a solved block keeps its state in the kernel's state vector, and the solver's
settings: shared by the code generator (emit.py), which writes the block, and the solver
(kernel_solve.py), which reads it; apart from the solver so that generating code does not
import Numba."""
from __future__ import annotations

# Each unknown's values, k of each, after the block's phase, iteration count and failure flag
# (see kernel_solve.py's docstring); then the k x k Jacobian.
FIELDS = ("P", "R", "X", "G", "H", "S", "A", "Q", "M", "D")

# SIMULTANEOUS: the residual r = expression - x is small when |r| <= TOLERANCE x max(|x|, |the
# initial value|), within MAX_ITERATIONS Newton iterations. Vensim's help names neither
# number; these are smartspec's choice: nine digits agree, far below any model's own error,
# and Newton's method needs a handful of iterations where it converges at all.
TOLERANCE = 1e-9
MAX_ITERATIONS = 100


def size(k: int) -> int:
    """The number of state slots of a block of k unknowns."""
    return 3 + len(FIELDS) * k + k * k


def field(base: int, k: int, name: str, j: int) -> int:
    """The slot of unknown j's value of `name` (one of FIELDS) in the block at `base`."""
    return base + 3 + FIELDS.index(name) * k + j
