"""What the two writers share (mdl_write.py, xmile_write.py): an IR expression as equation
text, every operand in parentheses so that no precedence rule of either language matters.
A writer gives its spelling of the logical operators (`LOGIC`) and how it writes numbers,
references, lookup calls, calls and anything else."""
from __future__ import annotations

from .. import ir


class ExprWriter:
    LOGIC: dict[str, str] = {}    # "and", "or", "not" as the language spells them

    def expr(self, e: ir.Expr) -> str:
        if isinstance(e, ir.Num):
            return self.number(e.value)
        if isinstance(e, ir.Ref):
            return self.ref(e.name, e.subscripts)
        if isinstance(e, ir.BinOp):
            op = self.LOGIC.get(e.op, e.op)
            return f"({self.expr(e.left)}) {op} ({self.expr(e.right)})"
        if isinstance(e, ir.UnaryOp):
            return f"-({self.expr(e.operand)})" if e.op == "-" else f"{self.LOGIC['not']} ({self.expr(e.operand)})"
        if isinstance(e, ir.LookupCall):
            return self.lookup_call(e)
        if isinstance(e, ir.Call):
            return self.call(e)
        return self.other(e)

    def number(self, x: float) -> str:
        raise NotImplementedError

    def ref(self, name: str, subs=()) -> str:
        raise NotImplementedError

    def lookup_call(self, e: ir.LookupCall) -> str:
        raise NotImplementedError

    def call(self, e: ir.Call) -> str:
        raise NotImplementedError

    def other(self, e) -> str:
        raise NotImplementedError
