"""Bounded expression depth, so that every later pass (lowering, ordering, code
generation, Python's own parser of the generated kernel) can walk expressions
recursively without running out of stack.

Two rules, applied to every expression as it is parsed:

- A chain of the same associative operator (`a + b - c + ...`, `a * b * ...`,
  `:AND:`, `:OR:`) of more than `BLOCK` terms is evaluated in consecutive
  blocks of `BLOCK` terms, strictly left to right inside each block, and the
  blocks are combined pairwise. A thousand-term sum is then about 42 levels
  deep instead of a thousand. Chains of up to `BLOCK` terms, nearly every
  equation, keep Vensim's exact left-to-right order; a longer sum may differ
  from it in the last bits of rounding.
- After that, an expression deeper than `MAX_DEPTH` levels (functions and
  operators nested inside each other: `ABS(ABS(...))`, `:NOT: :NOT: ...`,
  `a ^ (b ^ (c ^ ...))`) is a located error; the modeller splits it into
  intermediate variables. Real models nest a few dozen levels at most.

Doubled negations (`- - x`) cancel exactly and are removed first.
"""
from __future__ import annotations

from .. import ir
from ..errors import SyntaxErrorInModel

BLOCK = 32
MAX_DEPTH = 120

_FAMILY = {"+": "+", "-": "+", "*": "*", "and": "and", "or": "or"}
_FLIP = {"+": "-", "-": "+"}


def _fold(ops: list[str], terms: list) -> ir.Expr:
    """terms[0] ops[1] terms[1] ops[2] ... strictly left to right (ops[0] unused)."""
    out = terms[0]
    for op, t in zip(ops[1:], terms[1:]):
        out = ir.BinOp(op, out, t)
    return out


def _combine(joins: list[str], parts: list) -> ir.Expr:
    """parts[0] joins[1] parts[1] ... as a balanced tree (joins[0] unused). After a '-',
    the signs of what follows are flipped: `L - (r1 + r2)` is `L - r1 - r2`.
    Recursive, but only log2(len(parts)) deep."""
    if len(parts) == 1:
        return parts[0]
    mid = len(parts) // 2
    rest = joins[mid:]
    if rest[0] == "-":
        rest = ["+"] + [_FLIP[j] for j in rest[1:]]
    return ir.BinOp(joins[mid], _combine(joins[:mid], parts[:mid]), _combine(rest, parts[mid:]))


def _chain(ops: list[str], terms: list) -> ir.Expr:
    if len(terms) <= BLOCK:
        return _fold(ops, terms)
    joins, parts = [], []
    for k in range(0, len(terms), BLOCK):
        block_ops = ops[k:k + BLOCK]
        join = block_ops[0] if k else "+"
        if join == "-":
            block_ops = [join] + [_FLIP[o] for o in block_ops[1:]]
        joins.append(join)
        parts.append(_fold(block_ops, terms[k:k + BLOCK]))
    return _combine(joins, parts)


def balance(e: ir.Expr) -> ir.Expr:
    """`e` with long operator chains regrouped in blocks and doubled negations removed
    (see the module's docstring). Iterative: `e` may be any depth."""
    done: list = []
    todo: list = [("visit", e)]
    while todo:
        what, x = todo.pop()
        if what == "visit":
            while isinstance(x, ir.UnaryOp) and x.op == "-" and \
                    isinstance(x.operand, ir.UnaryOp) and x.operand.op == "-":
                x = x.operand.operand
            family = _FAMILY.get(x.op) if isinstance(x, ir.BinOp) else None
            if family is not None:
                ops, terms = [], []
                while isinstance(x, ir.BinOp) and _FAMILY.get(x.op) == family:
                    ops.append(x.op)
                    terms.append(x.right)
                    x = x.left
                terms.append(x)
                ops.append(None)
                ops.reverse()
                terms.reverse()
                todo.append(("chain", ops))
                todo.extend(("visit", t) for t in reversed(terms))
            else:
                kids = ir.children(x)
                todo.append(("node", x))
                todo.extend(("visit", k) for k in reversed(kids))
        elif what == "chain":
            n = len(x)
            terms = done[len(done) - n:]
            del done[len(done) - n:]
            done.append(_chain(x, terms))
        else:
            n = len(ir.children(x))
            kids = done[len(done) - n:] if n else []
            if n:
                del done[len(done) - n:]
            done.append(ir.with_children(x, kids) if n else x)
    return done[0]


def bounded(e: ir.Expr, pos) -> ir.Expr:
    """`balance(e)`, or a SyntaxErrorInModel at `pos` if it is still deeper than MAX_DEPTH."""
    e = balance(e)
    d = ir.depth(e)
    if d > MAX_DEPTH:
        raise SyntaxErrorInModel(
            f"{pos}: this equation nests functions and operators {d} levels deep; smartspec "
            f"accepts at most {MAX_DEPTH}: split it into intermediate variables")
    return e
