"""Small expression builders the flattening passes share: flat names (`name[e1,e2]`),
reductions in element order and folding of constant arithmetic."""
from __future__ import annotations

from .. import ir
from ..errors import ModelError
from ..frontend.nesting import BLOCK
from ..ir.reductions import BY_OPERATOR
from .consteval import evaluate


def combine(op: str, items: list, pos) -> ir.Expr:
    """items combined with + * MIN or MAX as a balanced tree: its depth grows with
    log2 of the range's size, so a SUM over thousands of elements stays within the
    recursion limits of every later pass (a left-deep chain would not)."""
    make = (lambda a, b: ir.BinOp(op, a, b)) if op in "+*" else (lambda a, b: ir.Call(op, (a, b), pos))
    while len(items) > 1:
        items = [make(items[i], items[i + 1]) if i + 1 < len(items) else items[i]
                 for i in range(0, len(items), 2)]
    return items[0]


def in_order(op: str, items: list, pos) -> ir.Expr:
    """items combined with + * MIN or MAX in their order, strictly left to right, as the dense
    route's loops of SUM, PROD, VMIN, VMAX and VECTOR SELECT accumulate them (backend/dense_emit.py,
    kernel_lib.vector_select), so that the two routes round alike to the bit at any size: up to
    `nesting.BLOCK` terms a left-deep chain, beyond one call of all the terms (`@SUM(t1, ...,
    tn)`, ir/reductions.py), whose depth is its deepest term's, which the code generator writes
    as the dense route's loop. A sum starts from 0.0 as the loop does: `t1 + ... + tn + 0.0`, the
    same bits but for the sign of a zero from -0.0 terms only, which is the loop's +0.0."""
    if len(items) > BLOCK:
        return ir.Call(BY_OPERATOR[op], tuple(items), pos)
    make = (lambda a, b: ir.BinOp(op, a, b)) if op in "+*" else (lambda a, b: ir.Call(op, (a, b), pos))
    out = items[0]
    for x in items[1:]:
        out = make(out, x)
    return ir.BinOp("+", out, ir.Num(0.0)) if op == "+" else out


def flat_name(name: str, elements) -> str:
    return f"{name}[{','.join(elements)}]"


def fold(e: ir.Expr) -> ir.Expr:
    """A number for arithmetic on numbers only (`D - 1` once the range D is a position)."""
    arithmetic = lambda n: (isinstance(n, ir.Num) or (isinstance(n, ir.BinOp) and n.op in ("+", "-", "*", "/", "^"))
                            or (isinstance(n, ir.UnaryOp) and n.op == "-"))
    if isinstance(e, ir.Num) or not all(arithmetic(n) for n in ir.walk(e)):
        return e
    try:
        return ir.Num(float(evaluate(None, e, {})))
    except (ModelError, ArithmeticError):
        return e


def number(e: ir.Expr | None) -> float | None:
    """The value of a number literal (`3`, `-3`), else None."""
    if isinstance(e, ir.Num):
        return e.value
    if isinstance(e, ir.UnaryOp) and e.op == "-" and isinstance(e.operand, ir.Num):
        return -e.operand.value
    return None
