"""The per-element route's long reductions: SUM, PROD, VMIN and VMAX (and VECTOR SELECT's count
and actions) over more than `frontend.nesting.BLOCK` terms, once flattened, are one call of
their terms in element order, `@SUM(t1, t2, ..., tn)` (`passes/flat_exprs.in_order`), not a
chain of binary operations: a chain combined strictly left to right is as deep as it is long,
which the recursive passes and Python's parser of the generated kernel do not take, and a
balanced tree of blocks rounds otherwise than the dense route's loop. The code generator
writes the call as the dense route writes its loop (backend/dense_emit.py): an accumulator
from the same start, updated with each term left to right (`backend/element_loops.in_order`),
so both routes and both tiers give the same bits at any size, and the sign of a SUM of -0.0
terms is the loop's, +0.0."""
from __future__ import annotations

# the flattening's call -> the operator it folds with (+ * MIN MAX, as ir.BinOp / ir.Call)
IN_ORDER = {"@SUM": "+", "@PROD": "*", "@VMIN": "MIN", "@VMAX": "MAX"}
BY_OPERATOR = {op: name for name, op in IN_ORDER.items()}
