"""The expression rules the two front ends' grammars share (grammars/vensim.lark and
grammars/xmile_expr.lark name them alike): powers, signs and the logical operators,
into the same IR. parse.py and xmile_expr.py derive their transformers from `ExprRules`."""
from __future__ import annotations

import lark
from lark import Transformer, v_args

from .. import ir


@v_args(meta=True)
class ExprRules(Transformer):
    def power(self, meta, children):
        return ir.BinOp("^", children[0], children[1])

    def negate(self, meta, children):
        op, operand = children
        op = str(op.children[0]) if isinstance(op, lark.Tree) else str(op)
        if op == "+":
            return operand
        if isinstance(operand, ir.Num):
            return ir.Num(-operand.value)
        return ir.UnaryOp("-", operand)

    def logic_or(self, meta, children):
        return ir.BinOp("or", children[0], children[2])

    def logic_and(self, meta, children):
        return ir.BinOp("and", children[0], children[2])

    def logic_not(self, meta, children):
        return ir.UnaryOp("not", children[1])
