"""Small expression builders the flattening passes share: flat names (`name[e1,e2]`),
balanced reductions and folding of constant arithmetic."""
from __future__ import annotations

from .. import ir
from ..errors import ModelError
from ..frontend.nesting import BLOCK
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
    kernel_lib.vector_select), so that the two routes round alike to the bit; beyond
    `nesting.BLOCK` terms, in consecutive blocks of that many combined as a balanced tree
    (`combine`), which bounds the expression's depth as the parser bounds a long chain's
    (frontend/nesting.py): a reduction over more elements may differ between the routes in
    the last bits of rounding."""
    make = (lambda a, b: ir.BinOp(op, a, b)) if op in "+*" else (lambda a, b: ir.Call(op, (a, b), pos))
    blocks = []
    for k in range(0, len(items), BLOCK):
        out = items[k]
        for x in items[k + 1:k + BLOCK]:
            out = make(out, x)
        blocks.append(out)
    return combine(op, blocks, pos)


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
