"""Fewer, flatter loop nests in a phase's statements, the same values computed.

A dense array's equation is a loop nest per box of its elements (`dense_emit.py`), and Numba's
front end and LLVM take each loop level on its own: its range, its iterator, its blocks, the
index arithmetic of every access. The beer game's phases held 164 loops, most of them in nests
two deep over its 13 x 4 arrays, and their compile took most of its cold load (8 of 9 s of
CPU). Two rewrites of the emitted statements, both checked on the statements' syntax trees:

- `collapse`: the two outermost loops of a perfect nest, `for i0 in range(A): for i1 in
  range(B):`, become one loop over A * B iterations when every index computed from the two
  counters is `c * (i0 * B + i1)` (an array's whole trailing range), or one of them runs once.
- `fuse`: consecutive loops over the same range become one loop, the bodies in their order, when
  no iteration of a later statement touches a slot that an iteration after it of an earlier
  statement touches (one of them writing it): the loops of equations over the same ranges,
  each element reading the elements of the others at its own position.

Both read only the forms the emitters write: a slot is `ld(v, index)`, `st(v, index, value)`
or `st(r, ...)`, an index an integer affine form of loop counters; a statement that passes a
state vector to any other helper, or indexes one otherwise, is left as it is.
"""
from __future__ import annotations

import ast
import math
from dataclasses import dataclass

_ARRAYS = ("v", "r")                      # the vectors statements read and write by slot
_VECTORS = frozenset(_ARRAYS + ("buf", "bi"))   # ... and those they may reach otherwise
_SLOT_CALLS = {"ld": False, "st": True}   # helper -> writes its slot
# helpers given the state vector that write only the watch v[s:s+5] (and read the time, v[0])
_WATCHES = ("watched", "watched_lookup")
# statements per fused loop: each joining one is checked against all of them
MAX_FUSED = 32


def _loop(node: ast.AST) -> tuple[str, int] | None:
    """(counter, iterations) of `for counter in range(N):` with an integer N, else None."""
    if isinstance(node, ast.For) and isinstance(node.target, ast.Name) and not node.orelse \
            and isinstance(node.iter, ast.Call) and isinstance(node.iter.func, ast.Name) \
            and node.iter.func.id == "range" and len(node.iter.args) == 1 and not node.iter.keywords \
            and isinstance(node.iter.args[0], ast.Constant) and type(node.iter.args[0].value) is int:
        return node.target.id, node.iter.args[0].value
    return None


def _affine(node: ast.AST, counters: set[str]) -> dict[str, int] | None:
    """An integer expression of counters as {"": constant, counter: coefficient}, or None."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return {"": node.value}
    if isinstance(node, ast.Name) and node.id in counters:
        return {"": 0, node.id: 1}
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        a = _affine(node.operand, counters)
        return None if a is None else {k: -c for k, c in a.items()}
    if not (isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult))):
        return None
    a, b = _affine(node.left, counters), _affine(node.right, counters)
    if a is None or b is None:
        return None
    if isinstance(node.op, ast.Mult):
        if len(a) > 1 and len(b) > 1:
            return None
        k, x = (a[""], b) if len(a) == 1 else (b[""], a)
        return {n: k * c for n, c in x.items()}
    sign = -1 if isinstance(node.op, ast.Sub) else 1
    return {n: a.get(n, 0) + sign * b.get(n, 0) for n in {**a, **b}}


def _render(form: dict[str, int]) -> str:
    parts = [str(form[""])] if form[""] or len(form) == 1 else []
    parts += [n if c == 1 else f"{n} * {c}" for n, c in form.items() if n and c]
    return " + ".join(parts) or "0"


def _forms(tree: ast.AST, counters: set[str]):
    """The maximal integer affine forms of `tree` that read a counter: (node, form, parent)."""
    todo = [(tree, None)]
    while todo:
        node, parent = todo.pop()
        form = _affine(node, counters) if isinstance(node, (ast.BinOp, ast.Name, ast.UnaryOp)) else None
        if form is not None and len(form) > 1:
            yield node, form, parent
            continue
        todo += [(c, node) for c in ast.iter_child_nodes(node)]


def _edit(text: str, edits: list[tuple[ast.AST, str]]) -> list[str]:
    """The lines of `text` with each node's source replaced (nodes on one line each)."""
    lines = text.split("\n")
    for node, new in sorted(edits, key=lambda e: (e[0].lineno, e[0].col_offset), reverse=True):
        assert node.lineno == node.end_lineno
        ln = lines[node.lineno - 1]
        lines[node.lineno - 1] = ln[:node.col_offset] + new + ln[node.end_col_offset:]
    return lines


def collapse(stmt: str) -> str:
    """`stmt` with its two outermost loops made one while they form a perfect nest whose
    indices allow it (see the module's doc); the outer counter counts the new loop."""
    return _collapse(stmt)[0]


def _collapse(stmt: str, tree: ast.Module | None = None) -> tuple[str, ast.Module]:
    """`collapse` of `stmt` (whose syntax tree is `tree` when given), with its syntax tree:
    each statement is parsed once where nothing changes (World3: 900 parses fewer, a tenth
    of its kernel's generation)."""
    while True:
        tree = ast.parse(stmt) if tree is None else tree
        outer = tree.body[0] if len(tree.body) == 1 else None
        a = _loop(outer) if outer is not None else None
        inner = outer.body[0] if a is not None and len(outer.body) == 1 else None
        b = _loop(inner) if inner is not None else None
        if b is None or b[0] == a[0]:
            return stmt, tree
        (ca, n_a), (cb, n_b) = a, b
        counters = {n.target.id for n in ast.walk(outer) if isinstance(n, ast.For)}
        edits = []
        for node, form, parent in (f for s in inner.body for f in _forms(s, counters)):
            x, y = form.get(ca, 0), form.get(cb, 0)
            if not (x or y):
                continue
            if n_a == 1:
                coef = y
            elif n_b == 1:
                coef = x
            elif x == n_b * y:
                coef = y
            else:
                return stmt, tree
            new = {k: c for k, c in form.items() if k not in (ca, cb)}
            new[ca] = coef
            text = _render(new)
            edits.append((node, text if isinstance(parent, ast.Call) or " " not in text else f"({text})"))
        lines = _edit(stmt, edits)
        header = lines[0].replace(f"range({n_a})", f"range({n_a * n_b})", 1)
        stmt, tree = "\n".join([header] + [ln[4:] for ln in lines[2:]]), None


@dataclass(frozen=True)
class _Access:
    array: str
    write: bool
    const: int       # the slot at iteration k: const + coef * k + (lo..hi, over inner loops)
    coef: int
    lo: int
    hi: int


def _accesses(loop: ast.For, counter: str) -> list[_Access] | None:
    """Every slot access of a loop's body, or None when one is not of the forms above."""
    ranges = {counter: 1}
    for node in ast.walk(loop):
        if node is not loop and isinstance(node, ast.For):
            inner = _loop(node)
            if inner is None:
                return None
            ranges[inner[0]] = inner[1]
    out, given_to = [], set()
    for node in ast.walk(loop):
        if not isinstance(node, ast.Call):
            continue
        f = node.func.id if isinstance(node.func, ast.Name) else ""
        given = [a for a in node.args if isinstance(a, ast.Name) and a.id in _ARRAYS]
        if not given:
            continue
        if f in _SLOT_CALLS and len(node.args) >= 2 and node.args[0] is given[0] and len(given) == 1:
            span, write = 1, _SLOT_CALLS[f]
        elif f in _WATCHES and node.args[0] is given[0] and len(given) == 1:
            span, write = 5, True
            out.append(_Access("v", False, 0, 0, 0, 0))
        else:
            return None
        given_to.add(id(given[0]))
        form = _affine(node.args[1], set(ranges))
        if form is None:
            return None
        lo = sum(min(0, c * (ranges[n] - 1)) for n, c in form.items() if n and n != counter)
        hi = sum(max(0, c * (ranges[n] - 1)) for n, c in form.items() if n and n != counter)
        out.append(_Access(given[0].id, write, form[""], form.get(counter, 0), lo, hi + span - 1))
    # a local carried from one iteration to the next (a reduction's accumulator started before
    # the loop) would be another statement's in a fused loop
    stored = {t.id for n in ast.walk(loop) if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    if any(isinstance(n, ast.AugAssign) and not (isinstance(n.target, ast.Name) and n.target.id in stored)
           for n in ast.walk(loop)):
        return None
    # the vectors (and a fixed delay's buffer) read or written any other way: not a form of ours
    if any(isinstance(n, ast.Name) and n.id in _VECTORS and id(n) not in given_to for n in ast.walk(loop)):
        return None
    return out


def _conflict(x: _Access, y: _Access, n: int) -> bool:
    """Whether `y`, of a later statement at iteration j, may touch a slot that `x`, of an earlier
    one, touches at an iteration j + d (1 <= d < n), one of them writing it."""
    if x.array != y.array or not (x.write or y.write) or n < 2:
        return False
    if x.coef != y.coef:
        # the slots over all n iterations (a falling index's lowest at the last one)
        spans = [(a.const + a.lo + min(0, a.coef * (n - 1)), a.const + a.hi + max(0, a.coef * (n - 1)))
                 for a in (x, y)]
        return spans[0][0] <= spans[1][1] and spans[1][0] <= spans[0][1]
    a = x.coef
    # x's slots at j + d: [x.const + x.lo + a d, x.const + x.hi + a d]; y's at j: [y.const + y.lo, ...]
    low, high = y.const + y.lo - x.const - x.hi, y.const + y.hi - x.const - x.lo    # a d in [low, high]
    if a == 0:
        return low <= 0 <= high
    d_lo, d_hi = (low, high) if a > 0 else (-high, -low)
    d_lo, d_hi = math.ceil(d_lo / abs(a)), math.floor(d_hi / abs(a))
    return max(d_lo, 1) <= min(d_hi, n - 1)


def _pieces(stmt: str) -> list[tuple[str, ast.Module | None]]:
    """A statement of several loops (an array's boxes, `dense_emit.looped`) as one per loop,
    each with its syntax tree when it is the statement's own (else None: parsed when needed)."""
    tree = ast.parse(stmt)
    body = tree.body
    if len(body) < 2 or not all(isinstance(n, ast.For) for n in body):
        return [(stmt, tree)]
    lines = stmt.split("\n")
    return [("\n".join(lines[n.lineno - 1:n.end_lineno]), None) for n in body]


def fuse(statements: list[str]) -> list[str]:
    """`statements` with consecutive loops over one range fused where the values stay the same
    (see the module's doc); every statement first collapsed."""
    out: list[str] = []
    group: list[tuple[str, list[_Access]]] = []
    key = None

    def close():
        if group:
            out.append("\n".join([group[0][0]] + [ln for s, _ in group[1:] for ln in s.split("\n")[1:]])
                       if len(group) > 1 else group[0][0])
            group.clear()

    for piece, parsed in (p for entry in statements for p in _pieces(entry)):
        stmt, tree = _collapse(piece, parsed)
        loop = tree.body[0] if len(tree.body) == 1 else None
        head = _loop(loop) if loop is not None else None
        acc = _accesses(loop, head[0]) if head is not None else None
        if acc is None:
            close()
            key = None
            out.append(stmt)
            continue
        if head != key or len(group) == MAX_FUSED or any(_conflict(x, y, head[1]) for _, prior in group for x in prior for y in acc):
            close()
        key = head
        group.append((stmt, acc))
    close()
    return out
