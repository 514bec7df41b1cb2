"""The forms of a generated kernel's source (backend/codegen.py) that the interpreter tape
(tape.py) reads, as functions of their syntax tree: names, float literals, the numbers a
loop over a flattened array's elements advances (backend/element_loops.py), the fixed-delay
buffer's reads, overlapping address spans."""
from __future__ import annotations

import ast
import math


def float_literal(node: ast.AST) -> float | None:
    """The number a literal of the generated code writes (`0.0`, `math.inf`, `-math.inf`), or None."""
    sign = -1.0 if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) else 1.0
    node = node.operand if sign < 0 else node
    if isinstance(node, ast.Constant) and type(node.value) is float:
        return sign * node.value
    return sign * math.inf if name_of(node) == "math.inf" else None


def overlap(a: int, sa: int, b: int, sb: int, n: int) -> bool:
    """Whether the addresses a + k sa and b + k sb (0 <= k < n) may meet (their spans do)."""
    lo_a, hi_a = sorted((a, a + sa * (n - 1)))
    lo_b, hi_b = sorted((b, b + sb * (n - 1)))
    return lo_a <= hi_b and lo_b <= hi_a


def name_of(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return f"{node.value.id}.{node.attr}"
    return ""


def literal_list(node: ast.Call) -> list:
    """The values of `np.array([...], ...)`: numbers, `math.inf` and `-math.inf`, `math.nan`."""
    return [float(name_of(x)[5:]) if isinstance(x, ast.Attribute) else
            -float(name_of(x.operand)[5:]) if isinstance(x, ast.UnaryOp) and isinstance(x.operand, ast.Attribute)
            else ast.literal_eval(x) for x in node.args[0].elts]


def float_hole(node: ast.BinOp, env: dict) -> float | None:
    """A number a loop advances, `(b + d * q)` (element_loops.py): its value at this iteration,
    computed as the loop computes it."""
    if not (isinstance(node.op, ast.Add) and isinstance(node.left, ast.Constant)
            and isinstance(node.left.value, float) and isinstance(node.right, ast.BinOp)
            and isinstance(node.right.op, ast.Mult) and isinstance(node.right.left, ast.Constant)
            and isinstance(node.right.left.value, float) and isinstance(node.right.right, ast.Name)
            and node.right.right.id in env):
        return None
    return node.left.value + node.right.left.value * env[node.right.right.id]


def is_buffer_read(node: ast.AST) -> bool:
    """`buf[bi[2j] + istep % bi[2j + 1]]`."""
    return (isinstance(node, ast.Subscript) and name_of(node.value) == "buf" and isinstance(node.slice, ast.BinOp)
            and isinstance(node.slice.op, ast.Add) and isinstance(node.slice.right, ast.BinOp)
            and isinstance(node.slice.right.op, ast.Mod) and name_of(node.slice.right.left) == "istep")
