"""Loop re-rolling for the code generator.

Flattened arrays give runs of statements that differ only in their integer
literals (slots, table indices, random call sites), each by a fixed stride.
Emitted as a loop they compile many times faster; the loop runs exactly the
original statements in the original order. Sums of evenly spaced variables
(SUM over an array) become one loop the same way.
"""
from __future__ import annotations

import re

from .. import ir

_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d*)?(?:[eE][+-]?\d+)?(?![\w.])")
MAX_PERIOD = 8      # statements per repeated block
MIN_STRIDED_SUM = 16  # terms from which a sum of evenly spaced variables becomes a loop
MIN_REPEATS = 3     # blocks before a loop pays
MAX_DEPTH = 4       # loops nested by reroll_nested


def shape(line: str) -> tuple[str, tuple]:
    """A statement without its comment, as (template, numeric literals): integers
    (slots, table indices, call sites) leave a \0 hole, floats (a range position
    used as a value, per-element constants) a \1 hole."""
    code = line.split("  # ", 1)[0]
    nums: list = []

    def hole(m):
        text = m.group(0)
        if text.isdigit():
            nums.append(int(text))
            return "\0"
        nums.append(float(text))
        return "\1"
    return _NUMBER.sub(hole, code), tuple(nums)


def fill(template: str, values, var: str) -> str:
    """A template of `shape` with its holes filled from `values`, an iterator of
    (base, stride): the base, or base + stride * var."""
    out = ""
    for part in re.split("([\0\1])", template):
        if part in ("\0", "\1"):
            b, d = next(values)
            part = repr(b) if d == 0 else f"({b!r} + {d!r} * {var})"
        out += part
    return out


def is_sum(e) -> bool:
    return isinstance(e, ir.BinOp) and e.op == "+"


def terms_at_least(e, n: int) -> bool:
    """The sum `e` has n or more terms (stops counting there)."""
    todo, terms = [e], 0
    while todo and terms < n:
        x = todo.pop()
        if is_sum(x):
            todo += [x.left, x.right]
        else:
            terms += 1
    return terms >= n


def progresses(xs, base, stride, k) -> bool:
    """Block k's literals are base + k * stride, computed exactly as the loop will."""
    return all(x == (b + d * k if isinstance(b, int) or d == 0 else b + d * float(k))
               for x, b, d in zip(xs, base, stride))


def reroll(lines: list[str], var: str = "q") -> list[str]:
    """`lines` with repeated blocks of statements turned into loops. An entry may
    be several lines (a statement after the loop computing one of its sums); its
    numbers progress like a one-line statement's."""
    shapes = [shape(s) for s in lines]
    out, i, n = [], 0, len(lines)
    while i < n:
        best = (1, 1, None)  # (lines covered, period, stride)
        for period in range(1, MAX_PERIOD + 1):
            if i + 2 * period > n:
                break
            first = [t for t, _ in shapes[i:i + period]]
            if first != [t for t, _ in shapes[i + period:i + 2 * period]]:
                continue
            base = [x for _, xs in shapes[i:i + period] for x in xs]
            stride = [b - a for a, b in zip(base, (x for _, xs in shapes[i + period:i + 2 * period] for x in xs))]
            reps = 1
            while i + (reps + 1) * period <= n:
                block = shapes[i + reps * period:i + (reps + 1) * period]
                if [t for t, _ in block] != first or \
                        not progresses([x for _, ys in block for x in ys], base, stride, reps):
                    break
                reps += 1
            if reps >= MIN_REPEATS and reps * period > best[0]:
                best = (reps * period, period, stride)
        covered, period, stride = best
        if stride is None:
            out.append(lines[i])
            i += 1
            continue
        values = iter(zip((x for _, xs in shapes[i:i + period] for x in xs), stride))
        body = ["\n".join("    " + ln for ln in fill(template, values, var).split("\n"))
                for template, _ in shapes[i:i + period]]
        out.append(f"for {var} in range({covered // period}):\n" + "\n".join(body))
        i += covered
    return out


def reroll_nested(lines: list[str]) -> list[str]:
    """`reroll`, then again over the loops it made while they repeat in turn (the
    rows of a two- or more-dimensional array), each level with its own loop variable."""
    out = reroll(lines)
    for depth in range(1, MAX_DEPTH):
        again = reroll(out, f"q{depth}")
        if again == out:
            break
        out = again
    return out
