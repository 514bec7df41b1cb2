"""The interpreter's vectorized loops (VLOOP, backend/tape.py `_Builder.vectorized`): one
instruction over every iteration of a loop whose iterations are independent, each operand
advancing by its step, so that a dense array's equation costs the interpreter one dispatch
per instruction, not one per element. Every value is computed by the same helper, from the
same operands, as the scalar loop computes it (backend/interpreter.py)."""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from smartspec_dsl.backend.kernel_extra import gamma_ln, lookup_invert
from smartspec_dsl.backend.kernel_lib import (
    JIT, bf, fand, fmax, fmin, fnot, forr, fstep, fxidz, fzidz, integer, ld, log2, lookup, lookup_backward,
    lookup_extrapolate, lookup_forward, modulo, power, quantum, sel, st, tk, watched)
from smartspec_dsl.backend.opcodes import OPCODE, OPS

(MOV, ADD, SUB, MUL, DIV, NEG, LOOKUP, SEL, LT, GT, LE, GE, EQ, NE, MIN, MAX, POW, AND, OR, NOT, XIDZ, ZIDZ,
 STEP, LDP, ABS, EXP, LN, SQRT, SIN, COS, TAN, ASIN, ACOS, ATAN, SINH, COSH, TANH, LOG10, INTEGER, MODULO,
 QUANTUM, LOG2, GAMMA_LN, LOOKUP_EXTRAPOLATE, LOOKUP_FORWARD, LOOKUP_BACKWARD, LOOKUP_INVERT, INDEX) = (
    OPCODE[name] for name in (
        "MOV", "ADD", "SUB", "MUL", "DIV", "NEG", "LOOKUP", "SEL", "LT", "GT", "LE", "GE", "EQ", "NE", "MIN",
        "MAX", "POW", "AND", "OR", "NOT", "XIDZ", "ZIDZ", "STEP", "LDP", "ABS", "EXP", "LN", "SQRT", "SIN", "COS",
        "TAN", "ASIN", "ACOS", "ATAN", "SINH", "COSH", "TANH", "LOG10", "INTEGER", "MODULO", "QUANTUM", "LOG2",
        "GAMMA_LN", "LOOKUP_EXTRAPOLATE", "LOOKUP_FORWARD", "LOOKUP_BACKWARD", "LOOKUP_INVERT", "INDEX"))
BINARY = np.array([kinds == "aa" for kinds in OPS.values()])   # by opcode


@njit(**JIT)
def vector(code, q, s, n, m, p, tab):
    """The instruction at code[q] for iterations 0..n-1 of a vectorized loop: each word
    advanced by its step, code[s + j] for word j."""
    op = code[q]
    d, sd = code[q + 1], code[s + 1]
    if op == ADD or op == SUB or op == MUL or op == DIV:
        a, sa, b, sb = code[q + 2], code[s + 2], code[q + 3], code[s + 3]
        if op == ADD:
            for k in range(n):
                st(m, d + k * sd, ld(m, a + k * sa) + ld(m, b + k * sb))
        elif op == SUB:
            for k in range(n):
                st(m, d + k * sd, ld(m, a + k * sa) - ld(m, b + k * sb))
        elif op == MUL:
            for k in range(n):
                st(m, d + k * sd, ld(m, a + k * sa) * ld(m, b + k * sb))
        else:
            for k in range(n):
                st(m, d + k * sd, ld(m, a + k * sa) / ld(m, b + k * sb))
    elif op == MOV:
        a, sa = code[q + 2], code[s + 2]
        for k in range(n):
            st(m, d + k * sd, ld(m, a + k * sa))
    elif op == NEG:
        a, sa = code[q + 2], code[s + 2]
        for k in range(n):
            st(m, d + k * sd, -ld(m, a + k * sa))
    elif op == INDEX:
        a, sa = code[q + 2], code[s + 2]
        for k in range(n):
            st(m, d + k * sd, float(a + k * sa))
    elif op == LDP:
        a, sa = code[q + 2], code[s + 2]
        for k in range(n):
            st(m, d + k * sd, p[a + k * sa])
    elif op == LOOKUP or op == LOOKUP_EXTRAPOLATE or op == LOOKUP_FORWARD or op == LOOKUP_BACKWARD \
            or op == LOOKUP_INVERT:
        a, sa, t, st_, w, sw = code[q + 2], code[s + 2], code[q + 3], code[s + 3], code[q + 4], code[s + 4]
        for k in range(n):
            # the table and the watch advance too (a flattened array of lookups, one per element)
            off, size = tk(tab, 2 * (t + k * st_)), tk(tab, 2 * (t + k * st_) + 1)
            x = ld(m, a + k * sa)
            if w >= 0:
                x = watched(m, w + k * sw, x)
            st(m, d + k * sd, lookup_by(op, x, tab, off, size))
    elif op == SEL or op == XIDZ or op == STEP:
        a, sa, b, sb, c, sc = code[q + 2], code[s + 2], code[q + 3], code[s + 3], code[q + 4], code[s + 4]
        for k in range(n):
            x, y, z = ld(m, a + k * sa), ld(m, b + k * sb), ld(m, c + k * sc)
            st(m, d + k * sd, sel(x, y, z) if op == SEL else fxidz(x, y, z) if op == XIDZ else fstep(x, y, z))
    elif BINARY[op]:        # the other binary operations (opcodes.VECTOR_OPS)
        a, sa, b, sb = code[q + 2], code[s + 2], code[q + 3], code[s + 3]
        for k in range(n):
            st(m, d + k * sd, _binary(op, ld(m, a + k * sa), ld(m, b + k * sb)))
    else:                     # the unary ones
        a, sa = code[q + 2], code[s + 2]
        for k in range(n):
            st(m, d + k * sd, _unary(op, ld(m, a + k * sa)))


@njit(**JIT)
def lookup_by(op, x, tab, off, size):
    """Lookup opcode `op`'s function of x on the table at tab[off:off + 2 * size] (the
    scalar interpreter's too)."""
    if op == LOOKUP:
        return lookup(x, tab, off, size)
    if op == LOOKUP_EXTRAPOLATE:
        return lookup_extrapolate(x, tab, off, size)
    if op == LOOKUP_FORWARD:
        return lookup_forward(x, tab, off, size)
    if op == LOOKUP_BACKWARD:
        return lookup_backward(x, tab, off, size)
    return lookup_invert(x, tab, off, size)


@njit(**JIT)
def _binary(op, x, y):
    if op == LT:
        return bf(x < y)
    if op == GT:
        return bf(x > y)
    if op == LE:
        return bf(x <= y)
    if op == GE:
        return bf(x >= y)
    if op == EQ:
        return bf(x == y)
    if op == NE:
        return bf(x != y)
    if op == MIN:
        return fmin(x, y)
    if op == MAX:
        return fmax(x, y)
    if op == POW:
        return power(x, y)
    if op == AND:
        return fand(x, y)
    if op == OR:
        return forr(x, y)
    if op == ZIDZ:
        return fzidz(x, y)
    if op == MODULO:
        return modulo(x, y)
    if op == QUANTUM:
        return quantum(x, y)
    return log2(x, y)


@njit(**JIT)
def _unary(op, x):
    if op == NOT:
        return fnot(x)
    if op == ABS:
        return abs(x)
    if op == EXP:
        return math.exp(x)
    if op == LN:
        return math.log(x)
    if op == SQRT:
        return math.sqrt(x)
    if op == SIN:
        return math.sin(x)
    if op == COS:
        return math.cos(x)
    if op == TAN:
        return math.tan(x)
    if op == ASIN:
        return math.asin(x)
    if op == ACOS:
        return math.acos(x)
    if op == ATAN:
        return math.atan(x)
    if op == SINH:
        return math.sinh(x)
    if op == COSH:
        return math.cosh(x)
    if op == TANH:
        return math.tanh(x)
    if op == LOG10:
        return math.log10(x)
    if op == INTEGER:
        return integer(x)
    return gamma_ln(x)
