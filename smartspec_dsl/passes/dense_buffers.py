"""Pass 4, the dense route: the functions the kernel keeps in its buffer, over an array.

DELAY MATERIAL, DELAY INFORMATION, DELAY CONVEYOR, DELAY PROFILE, QUEUE FIFO, QUEUE FIFO ATTRIB
and INTERNAL RATE OF RETURN in an apply-to-all equation keep it one array, as DELAY FIXED does:
stateful lowering makes the call a hidden auxiliary over the equation's ranges
(`y #delaymaterial1[R]`, passes/stateful/delays.py, batches.py), and the kernel keeps one buffer
region per element (`Kernel.buffers` names them `y #delaymaterial1[r1]`, as the per-element
route does), each laid out and written in one loop (backend/dense_buffers.py).

What stays per element, and why:
- a profile (a lookup named by the call: DELAY CONVEYOR's initial profile, QUEUE FIFO's and
  DELAY PROFILE's) must be one lookup, not a lookup defined per element: the loop passes one
  table to the helper;
- a queue that QUEUE AGE or QUEUE ATTRIB functions read (`QUEUE AGE OLDEST(q[r1])`) is
  flattened (those calls read a queue's region by its variable: one per element), and so is
  what reads its range.
"""
from __future__ import annotations

from .. import ir
from ..ir.builtins import BUFFER, BUILTINS, LOOKUP_ARGS
from .dense_pieces import Refuse

# the functions of the buffer an array equation keeps (DELAY FIXED: passes/dense.py's own)
BUFFERS = frozenset(n for n, b in BUILTINS.items() if b.stage == BUFFER) - {"DELAY FIXED"}
# the functions that read a queue's region (backend/emit.py QUEUE_READS)
_QUEUE_READS = frozenset(n for n in BUILTINS if n.startswith(("QUEUE AGE", "QUEUE ATTRIB ")))


def check(node: ir.Call, dims: dict) -> None:
    """Refuse a buffer call whose profile is not one lookup (`dims`: the arrays the route
    keeps)."""
    for k in LOOKUP_ARGS.get(node.func, ()):
        arg = node.args[k] if k < len(node.args) else None
        if not isinstance(arg, ir.Ref) or arg.subscripts or arg.name in dims:
            raise Refuse(f"{node.func} whose profile is a lookup defined per element")


def flag_queues(model: ir.Model, checker) -> None:
    """Flatten the arrays a QUEUE AGE or QUEUE ATTRIB function reads as its queue (`checker`:
    dense._Checker, its `dims`, `dense` and `why`)."""
    for var in model.variables.values():
        for e in [var.expr, var.initial] + [d.expr for d in var.definitions]:
            for node in ir.walk(e) if e is not None else ():
                q = node.args[0] if type(node) is ir.Call and node.func in _QUEUE_READS and node.args else None
                if type(q) is ir.Ref and q.name in checker.dims and q.name in checker.dense:
                    checker.why[q.name] = f"'{model.variables[q.name].display}': its queue is read by {node.func}"
                    checker.dense.discard(q.name)
