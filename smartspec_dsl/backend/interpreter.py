"""The interpreter tier: one generic Numba kernel that runs any model's tape.

Compiled once per install and kept in Numba's on-disk cache: its argument
types are the same for every model, so a new or edited model runs as soon as
its tape is built (backend/tape.py), without compiling. The runtime imports a
copy of this file kept per version of the kernel library (`tier0.load`,
absolute imports for that reason), since Numba's cache only notices changes
to the file that defines a function, not to the helpers it calls.

The drivers below mirror the generated kernel's (codegen `_DRIVER`,
`_euler_driver`): the same set-up, the same per-step order (dynamic, save,
rates, DELAY FIXED writes, stock update), Euler and RK4 with the same sums in
the same order, FINAL TIME, TIME STEP or SAVEPER read each step when they vary.
Every opcode calls the kernel library's own helper, so the two tiers give the
same numbers (see tests/test_interpreter.py).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from smartspec_dsl.backend.kernel_extra import (check_finite, gamma_ln, information_out, lookup_area, lookup_slope,
                                                material_in, material_out, material_size, restore_buffers,
                                                step_offset, vector_lookup, watch_setup)
from smartspec_dsl.backend.kernel_lib import (
    JIT, interrupted, ix, allocate_available, allocate_by_priority, bf, fand, fixed_delay_slots, fmax, fmin, fnot,
    forr, fstep, fxidz, fzidz, integer, invert_matrix, ld, log2, modulo, power, pulse, pulse_train, quantum, ramp,
    random_beta, random_binomial, random_exponential, random_gamma, random_lognormal, random_lookup,
    random_negative_binomial, random_normal, random_poisson, random_triangular, random_uniform,
    random_weibull, sel, st, tk, vector_at, vector_rank, vector_select, vector_sort_order, vsum,
    watched)
from smartspec_dsl.backend.kernel_queues import (conveyor_in, conveyor_out, parcels_size, profile_in, profile_out,
                                                queue_age, queue_attrib_in, queue_attrib_out, queue_in, queue_out)
from smartspec_dsl.backend.kernel_market import (alloc_p, demand_at_price, find_market_price, marketp,
                                                 supply_at_price)
from smartspec_dsl.backend.kernel_finance import irr_in, irr_out
from smartspec_dsl.backend.kernel_solve import solve_more
from smartspec_dsl.backend.interpreter_vector import lookup_by, vector
from smartspec_dsl.backend.tape import META, OPCODE, OPS, STEP_NOW
from smartspec_dsl.backend.kernel_step import rk4_auto_accepts, step_size_failed
from smartspec_dsl.ir.constants import DEFAULT_TOLERANCE, INTERRUPT_EVERY, RK4_AUTO_HALVINGS

(MOV, ADD, SUB, MUL, DIV, NEG, LOOKUP, SEL, LT, GT, LE, GE, EQ, NE, MIN, MAX, POW, AND, OR, NOT,
 XIDZ, ZIDZ, STEP, WATCH, VSUM, LDP, ABS, EXP, LN, SQRT, SIN, COS, TAN, ASIN, ACOS, ATAN, SINH, COSH,
 TANH, LOG10, INTEGER, MODULO, QUANTUM, LOG2, GAMMA_LN, RAMP, PULSE, PULSE_TRAIN, LOOKUP_EXTRAPOLATE,
 LOOKUP_FORWARD, LOOKUP_BACKWARD, LOOKUP_INVERT, LOOKUP_AREA, BUFREAD, BUFWRITE, MATERIAL_OUT,
 MATERIAL_IN, INFORMATION_OUT, MATERIAL_SIZE, LOOKUP_SLOPE, ALLOC_P, PARCELS_SIZE, CONVEYOR_OUT, CONVEYOR_IN,
 QUEUE_OUT, QUEUE_IN, PROFILE_OUT, PROFILE_IN, QUEUE_ATTRIB_OUT, QUEUE_ATTRIB_IN, QUEUE_AGE, VECTOR_RANK,
 VECTOR_SORT_ORDER, INVERT_MATRIX, ALLOCATE_AVAILABLE, ALLOCATE_BY_PRIORITY, FIND_MARKET_PRICE, DEMAND_AT_PRICE,
 SUPPLY_AT_PRICE, MARKETP, VECTOR_AT, VECTOR_SELECT, VECTOR_LOOKUP, RANDOM_UNIFORM,
 RANDOM_NORMAL, RANDOM_EXPONENTIAL, RANDOM_LOGNORMAL, RANDOM_TRIANGULAR, RANDOM_POISSON, RANDOM_GAMMA,
 RANDOM_BETA, RANDOM_WEIBULL, RANDOM_BINOMIAL, RANDOM_NEGATIVE_BINOMIAL, RANDOM_LOOKUP, SOLVE, JUMP, IRR_OUT,
 IRR_IN, LOOP, ENDLOOP, INDEX, VLOOP) = range(len(OPS))
assert OPCODE["RANDOM_LOOKUP"] == RANDOM_LOOKUP and OPCODE["LDP"] == LDP and OPCODE["VLOOP"] == VLOOP  # the order
# instruction lengths by opcode
LENGTH = np.array([2 + len(kinds) for kinds in OPS.values()], dtype=np.int64)
(N_MEM, N_SLOTS, RATE_BASE, CONST_BASE, N_CONT, N_DISC, N_FIXED, DYNAMIC_CONTROL, DT_SLOT,
 SAVEPER_SLOT, FINAL_SLOT, WATCH_BASE, FINITE_WATCH, INITIAL_SLOT, LOOPS, ABS_TOL_SLOT, REL_TOL_SLOT) = range(len(META))


@njit(**JIT)
def execute(code, pc, end, m, p, tab, buf, bi, istep):
    """Runs the instructions code[pc:end] over the memory vector m."""
    while pc < end:
        op = code[pc]
        d = code[pc + 1]
        if op == MOV:
            st(m, d, ld(m, code[pc + 2]))
        elif op == ADD:
            st(m, d, ld(m, code[pc + 2]) + ld(m, code[pc + 3]))
        elif op == SUB:
            st(m, d, ld(m, code[pc + 2]) - ld(m, code[pc + 3]))
        elif op == MUL:
            st(m, d, ld(m, code[pc + 2]) * ld(m, code[pc + 3]))
        elif op == DIV:
            st(m, d, ld(m, code[pc + 2]) / ld(m, code[pc + 3]))
        elif op == NEG:
            st(m, d, -ld(m, code[pc + 2]))
        elif op == LOOKUP or op == LOOKUP_EXTRAPOLATE or op == LOOKUP_FORWARD \
                or op == LOOKUP_BACKWARD or op == LOOKUP_INVERT:
            x = ld(m, code[pc + 2])
            k = code[pc + 3]
            w = code[pc + 4]
            if w >= 0:
                x = watched(m, w, x)
            st(m, d, lookup_by(op, x, tab, tk(tab, 2 * k), tk(tab, 2 * k + 1)))
        elif op == SEL:
            st(m, d, sel(ld(m, code[pc + 2]), ld(m, code[pc + 3]), ld(m, code[pc + 4])))
        elif op == LT:
            st(m, d, bf(ld(m, code[pc + 2]) < ld(m, code[pc + 3])))
        elif op == GT:
            st(m, d, bf(ld(m, code[pc + 2]) > ld(m, code[pc + 3])))
        elif op == LE:
            st(m, d, bf(ld(m, code[pc + 2]) <= ld(m, code[pc + 3])))
        elif op == GE:
            st(m, d, bf(ld(m, code[pc + 2]) >= ld(m, code[pc + 3])))
        elif op == EQ:
            st(m, d, bf(ld(m, code[pc + 2]) == ld(m, code[pc + 3])))
        elif op == NE:
            st(m, d, bf(ld(m, code[pc + 2]) != ld(m, code[pc + 3])))
        elif op == MIN:
            st(m, d, fmin(ld(m, code[pc + 2]), ld(m, code[pc + 3])))
        elif op == MAX:
            st(m, d, fmax(ld(m, code[pc + 2]), ld(m, code[pc + 3])))
        elif op == POW:
            st(m, d, power(ld(m, code[pc + 2]), ld(m, code[pc + 3])))
        elif op == AND:
            st(m, d, fand(ld(m, code[pc + 2]), ld(m, code[pc + 3])))
        elif op == OR:
            st(m, d, forr(ld(m, code[pc + 2]), ld(m, code[pc + 3])))
        elif op == NOT:
            st(m, d, fnot(ld(m, code[pc + 2])))
        elif op == XIDZ:
            st(m, d, fxidz(ld(m, code[pc + 2]), ld(m, code[pc + 3]), ld(m, code[pc + 4])))
        elif op == ZIDZ:
            st(m, d, fzidz(ld(m, code[pc + 2]), ld(m, code[pc + 3])))
        elif op == STEP:
            st(m, d, fstep(ld(m, code[pc + 2]), ld(m, code[pc + 3]), ld(m, code[pc + 4])))
        elif op == WATCH:
            st(m, d, watched(m, code[pc + 2], ld(m, code[pc + 3])))
        elif op == VSUM:
            st(m, d, vsum(m, code[pc + 2], code[pc + 3], code[pc + 4]))
        elif op == LDP:
            st(m, d, p[code[pc + 2]])
        elif op <= LOG10:
            x = ld(m, code[pc + 2])
            if op == ABS:
                y = abs(x)
            elif op == EXP:
                y = math.exp(x)
            elif op == LN:
                y = math.log(x)
            elif op == SQRT:
                y = math.sqrt(x)
            elif op == SIN:
                y = math.sin(x)
            elif op == COS:
                y = math.cos(x)
            elif op == TAN:
                y = math.tan(x)
            elif op == ASIN:
                y = math.asin(x)
            elif op == ACOS:
                y = math.acos(x)
            elif op == ATAN:
                y = math.atan(x)
            elif op == SINH:
                y = math.sinh(x)
            elif op == COSH:
                y = math.cosh(x)
            elif op == TANH:
                y = math.tanh(x)
            else:
                y = math.log10(x)
            st(m, d, y)
        elif op <= RANDOM_LOOKUP:
            _rare(op, code, pc, d, m, tab, buf, bi, istep)
        elif op == SOLVE:     # a solved loop: its body while the solver has a point to compute
            if not solve_more(m, code[pc + 2], code[pc + 3]):
                pc = code[pc + 4]
                continue
        elif op == JUMP:
            pc = code[pc + 2]
            continue
        elif op == IRR_OUT:
            j = code[pc + 2]
            st(m, d, irr_out(buf, bi[2 * j], bi[2 * j + 1], istep, ld(m, code[pc + 3]), ld(m, code[pc + 4]),
                             ld(m, code[pc + 5]), ld(m, code[pc + 6]), ld(m, code[pc + 7])))
        elif op == IRR_IN:
            j = code[pc + 2]
            irr_in(buf, bi[2 * j], bi[2 * j + 1], istep, ld(m, code[pc + 3]), ld(m, code[pc + 4]), ld(m, code[pc + 5]))
        elif op == INDEX:
            st(m, d, float(code[pc + 2]))
        elif op == ENDLOOP:     # the next iteration: the body's moving words advance (tape.kept_loop)
            h = pc - code[pc + 2]
            pairs = code[h + 4]
            body = h + 5 + 2 * pairs
            done = code[h + 1] + 1
            if done < code[h + 2]:
                code[h + 1] = done
                for j in range(pairs):
                    code[body + code[h + 5 + 2 * j]] += code[h + 6 + 2 * j]
                pc = body
                continue
            code[h + 1] = 0
            for j in range(pairs):
                code[body + code[h + 5 + 2 * j]] -= (done - 1) * code[h + 6 + 2 * j]
        elif op == LOOP:
            if code[pc + 2] <= 0:    # no iteration: past the body and its ENDLOOP
                pc += 5 + 2 * code[pc + 4] + code[pc + 3] + 3
                continue
            pc += 5 + 2 * code[pc + 4]
            continue
        elif op == VLOOP:       # each instruction over every iteration (tape.vectorized)
            n, length = code[pc + 2], code[pc + 3]
            q = pc + 4 + length
            pc = q + length
            while q < pc:
                vector(code, q, q - length, n, m, p, tab)
                q += LENGTH[code[q]]
            continue
        pc += LENGTH[op]


@njit(**JIT)
def _rare(op, code, pc, d, m, tab, buf, bi, istep):
    """The less frequent opcodes, kept out of the main loop's body."""
    if op == INTEGER:
        st(m, d, integer(ld(m, code[pc + 2])))
    elif op == MODULO:
        st(m, d, modulo(ld(m, code[pc + 2]), ld(m, code[pc + 3])))
    elif op == QUANTUM:
        st(m, d, quantum(ld(m, code[pc + 2]), ld(m, code[pc + 3])))
    elif op == LOG2:
        st(m, d, log2(ld(m, code[pc + 2]), ld(m, code[pc + 3])))
    elif op == GAMMA_LN:
        st(m, d, gamma_ln(ld(m, code[pc + 2])))
    elif op == RAMP:
        st(m, d, ramp(ld(m, code[pc + 2]), ld(m, code[pc + 3]), ld(m, code[pc + 4]), ld(m, code[pc + 5])))
    elif op == PULSE:
        st(m, d, pulse(ld(m, code[pc + 2]), ld(m, code[pc + 3]), ld(m, code[pc + 4]), ld(m, code[pc + 5])))
    elif op == PULSE_TRAIN:
        st(m, d, pulse_train(ld(m, code[pc + 2]), ld(m, code[pc + 3]), ld(m, code[pc + 4]),
                             ld(m, code[pc + 5]), ld(m, code[pc + 6]), ld(m, code[pc + 7])))
    elif op == LOOKUP_AREA:
        k = code[pc + 4]
        st(m, d, lookup_area(ld(m, code[pc + 2]), ld(m, code[pc + 3]), tab, tk(tab, 2 * k), tk(tab, 2 * k + 1)))
    elif op == BUFREAD:
        j = code[pc + 2]
        st(m, d, buf[bi[2 * j] + istep % bi[2 * j + 1]])
    elif op == BUFWRITE:
        j = code[pc + 2]
        buf[bi[2 * j] + istep % bi[2 * j + 1]] = ld(m, code[pc + 3])
    elif op == MATERIAL_OUT:
        j = code[pc + 2]
        st(m, d, material_out(buf, bi[2 * j], bi[2 * j + 1], istep, ld(m, code[pc + 3])))
    elif op == MATERIAL_IN:
        j = code[pc + 2]
        material_in(buf, bi[2 * j], bi[2 * j + 1], istep, ld(m, code[pc + 3]), ld(m, code[pc + 4]),
                    ld(m, code[pc + 5]), ld(m, code[pc + 6]))
    elif op == INFORMATION_OUT:
        j = code[pc + 2]
        st(m, d, information_out(buf, bi[2 * j], istep, ld(m, code[pc + 3]), ld(m, code[pc + 4]),
                                 ld(m, code[pc + 5])))
    elif op == MATERIAL_SIZE:
        st(m, d, material_size(ld(m, code[pc + 2]), ld(m, code[pc + 3]), ld(m, code[pc + 4])))
    elif op == LOOKUP_SLOPE:
        k = code[pc + 4]
        st(m, d, lookup_slope(ld(m, code[pc + 2]), ld(m, code[pc + 3]), tab, tk(tab, 2 * k), tk(tab, 2 * k + 1)))
    elif op == ALLOC_P:
        st(m, d, alloc_p(ld(m, code[pc + 2]), ld(m, code[pc + 3]), ld(m, code[pc + 4]), ld(m, code[pc + 5])))
    elif op <= QUEUE_AGE:
        _parcels(op, code, pc, d, m, tab, buf, bi, istep)
    elif op <= VECTOR_LOOKUP:
        b = code[pc + 2]
        n = code[pc + 3]
        if op == VECTOR_RANK:
            y = vector_rank(m, b, n, ld(m, code[pc + 4]))
        elif op == VECTOR_SORT_ORDER:
            y = vector_sort_order(m, b, n, ld(m, code[pc + 4]))
        elif op == INVERT_MATRIX:
            y = invert_matrix(m, b, n)
        elif op == ALLOCATE_AVAILABLE:
            y = allocate_available(m, b, n, ld(m, code[pc + 4]))
        elif op == ALLOCATE_BY_PRIORITY:
            y = allocate_by_priority(m, b, n, ld(m, code[pc + 4]), ld(m, code[pc + 5]))
        elif op == FIND_MARKET_PRICE:
            y = find_market_price(m, b, n, ld(m, code[pc + 4]))
        elif op == DEMAND_AT_PRICE:
            y = demand_at_price(m, b, n, ld(m, code[pc + 4]))
        elif op == SUPPLY_AT_PRICE:
            y = supply_at_price(m, b, n, ld(m, code[pc + 4]))
        elif op == MARKETP:
            y = marketp(m, b, n, ld(m, code[pc + 4]), ld(m, code[pc + 5]))
        elif op == VECTOR_AT:
            y = vector_at(m, b, n, ld(m, code[pc + 4]))
        elif op == VECTOR_SELECT:
            y = vector_select(m, b, n, ld(m, code[pc + 4]), ld(m, code[pc + 5]))
        else:
            y = vector_lookup(m, b, n, ld(m, code[pc + 4]), ld(m, code[pc + 5]), ld(m, code[pc + 6]),
                              ld(m, code[pc + 7]))
        st(m, d, y)
    else:
        _random(op, code, pc, d, m, tab, istep)


@njit(**JIT)
def _random(op, code, pc, d, m, tab, istep):
    site = code[pc + 2]
    step = istep if code[pc + 3] == STEP_NOW else code[pc + 3]
    if op == RANDOM_LOOKUP:
        k = site
        site = code[pc + 3]
        step = istep if code[pc + 4] == STEP_NOW else code[pc + 4]
        a = pc + 5
        st(m, d, random_lookup(tab, tk(tab, 2 * k), tk(tab, 2 * k + 1), ld(m, code[a + 1]), ld(m, code[a + 2]),
                               ld(m, code[a + 3]), ld(m, code[a + 4]), ld(m, code[a + 5]), site, step,
                               ld(m, code[a])))
        return
    seed = ld(m, code[pc + 4])
    a = pc + 5
    x0, x1, x2 = ld(m, code[a]), ld(m, code[a + 1]), ld(m, code[a + 2])
    if op == RANDOM_UNIFORM:
        y = random_uniform(x0, x1, x2, site, step, seed)
    elif op == RANDOM_NORMAL:
        y = random_normal(x0, x1, x2, ld(m, code[a + 3]), ld(m, code[a + 4]), site, step, seed)
    elif op == RANDOM_EXPONENTIAL:
        y = random_exponential(x0, x1, x2, ld(m, code[a + 3]), ld(m, code[a + 4]), site, step, seed)
    elif op == RANDOM_LOGNORMAL:
        y = random_lognormal(x0, x1, x2, ld(m, code[a + 3]), ld(m, code[a + 4]), site, step, seed)
    elif op == RANDOM_TRIANGULAR:
        y = random_triangular(x0, x1, x2, ld(m, code[a + 3]), ld(m, code[a + 4]), ld(m, code[a + 5]),
                              site, step, seed)
    elif op == RANDOM_POISSON:
        y = random_poisson(x0, x1, x2, ld(m, code[a + 3]), ld(m, code[a + 4]), ld(m, code[a + 5]),
                           site, step, seed)
    elif op == RANDOM_GAMMA:
        y = random_gamma(x0, x1, x2, ld(m, code[a + 3]), ld(m, code[a + 4]), ld(m, code[a + 5]),
                         site, step, seed)
    elif op == RANDOM_WEIBULL:
        y = random_weibull(x0, x1, x2, ld(m, code[a + 3]), ld(m, code[a + 4]), ld(m, code[a + 5]),
                           site, step, seed)
    elif op == RANDOM_BETA:
        y = random_beta(x0, x1, x2, ld(m, code[a + 3]), ld(m, code[a + 4]), ld(m, code[a + 5]),
                        ld(m, code[a + 6]), site, step, seed)
    elif op == RANDOM_BINOMIAL:
        y = random_binomial(x0, x1, x2, ld(m, code[a + 3]), ld(m, code[a + 4]), ld(m, code[a + 5]),
                            ld(m, code[a + 6]), site, step, seed)
    else:
        y = random_negative_binomial(x0, x1, x2, ld(m, code[a + 3]), ld(m, code[a + 4]),
                                     ld(m, code[a + 5]), ld(m, code[a + 6]), site, step, seed)
    st(m, d, y)


@njit(**JIT)
def _parcels(op, code, pc, d, m, tab, buf, bi, istep):
    """The opcodes of kernel_queues: [op, d, j, values..., table k (, second table k2)]
    (PARCELS_SIZE: values only)."""
    if op == PARCELS_SIZE:
        st(m, d, parcels_size(ld(m, code[pc + 2]), ld(m, code[pc + 3]), ld(m, code[pc + 4]), ld(m, code[pc + 5])))
        return
    j = code[pc + 2]
    off, n = bi[2 * j], bi[2 * j + 1]
    a = pc + 3
    two = op == QUEUE_ATTRIB_OUT or op == QUEUE_ATTRIB_IN or op == QUEUE_AGE
    k = code[pc + LENGTH[op] - 2] if two else code[pc + LENGTH[op] - 1]
    k2 = code[pc + LENGTH[op] - 1]
    to, tn, ao, an = tk(tab, 2 * k), tk(tab, 2 * k + 1), tk(tab, 2 * k2), tk(tab, 2 * k2 + 1)
    if op == CONVEYOR_OUT:
        y = conveyor_out(buf, off, n, istep, ld(m, code[a]), ld(m, code[a + 1]), ld(m, code[a + 2]), tab, to, tn)
    elif op == QUEUE_OUT:
        y = queue_out(buf, off, n, istep, ld(m, code[a]), ld(m, code[a + 1]), ld(m, code[a + 2]), tab, to, tn)
    elif op == CONVEYOR_IN:
        conveyor_in(buf, off, n, istep, ld(m, code[a]), ld(m, code[a + 1]), ld(m, code[a + 2]), ld(m, code[a + 3]),
                    ld(m, code[a + 4]), ld(m, code[a + 5]), tab, to, tn)
        return
    elif op == PROFILE_OUT:
        y = profile_out(buf, off, n, istep, ld(m, code[a]), ld(m, code[a + 1]), ld(m, code[a + 2]),
                        ld(m, code[a + 3]), tab, to, tn)
    elif op == PROFILE_IN:
        profile_in(buf, off, n, istep, ld(m, code[a]), ld(m, code[a + 1]), ld(m, code[a + 2]), ld(m, code[a + 3]),
                   ld(m, code[a + 4]), tab, to, tn)
        return
    elif op == QUEUE_IN:
        queue_in(buf, off, n, istep, ld(m, code[a]), ld(m, code[a + 1]), ld(m, code[a + 2]), ld(m, code[a + 3]),
                 ld(m, code[a + 4]), ld(m, code[a + 5]), tab, to, tn)
        return
    elif op == QUEUE_ATTRIB_OUT:
        y = queue_attrib_out(buf, off, n, istep, ld(m, code[a]), ld(m, code[a + 1]), ld(m, code[a + 2]), tab, to,
                             tn, tab, ao, an)
    elif op == QUEUE_ATTRIB_IN:
        queue_attrib_in(buf, off, n, istep, ld(m, code[a]), ld(m, code[a + 1]), ld(m, code[a + 2]),
                        ld(m, code[a + 3]), ld(m, code[a + 4]), ld(m, code[a + 5]), ld(m, code[a + 6]),
                        ld(m, code[a + 7]), ld(m, code[a + 8]), tab, to, tn, tab, ao, an)
        return
    else:
        y = queue_age(buf, off, n, istep, ld(m, code[a]), ld(m, code[a + 1]), ld(m, code[a + 2]),
                      ld(m, code[a + 3]), ld(m, code[a + 4]), ld(m, code[a + 5]), ld(m, code[a + 6]),
                      ld(m, code[a + 7]), ld(m, code[a + 8]), tab, to, tn, tab, ao, an)
    st(m, d, y)


@njit(**JIT)
def _setup(tape, p, tab, t0, dt):
    """The memory vector after initialisation, and the fixed-delay buffer (as codegen's setup)."""
    code, phases, consts, meta, fixed, w_slots, w_tables, w_lo, w_hi = tape
    m = np.zeros(meta[N_MEM])
    m[0] = t0
    cb = meta[CONST_BASE]
    m[cb:cb + consts.shape[0]] = consts
    watch_setup(m, tab, w_slots, w_tables, w_lo, w_hi)
    nf = meta[N_FIXED]
    bi = np.zeros(max(2, 2 * nf), dtype=np.int64)
    execute(code, phases[0], phases[1], m, p, tab, np.empty(0), bi, -1)
    total = 0
    for j in range(nf):
        n = fixed_delay_slots(m[fixed[0, j]], dt)
        bi[2 * j] = total
        bi[2 * j + 1] = n
        total += n
    buf = np.empty(total)
    for j in range(nf):
        buf[bi[2 * j]:bi[2 * j] + bi[2 * j + 1]] = m[fixed[1, j]]
    return m, buf, bi


@njit(**JIT)
def _stages(tape, m, p, tab, buf, bi, istep, t, dt, k, k0, ys):
    """One RK4 step of the stocks from (t, their values in m) to t + dt, as codegen's RK4 step:
    k0 the rates at its start (already computed; read before the first stage writes the rates'
    slots, so it may be a view of them), ys and k scratch."""
    code, phases, meta = tape[0], tape[1], tape[3]
    nc, r = meta[N_CONT], meta[RATE_BASE]
    for i in range(nc):
        ys[i] = m[1 + i]
        k[i, 0] = k0[i]
        m[1 + i] = ys[i] + 0.5 * dt * k0[i]
    m[0] = t + 0.5 * dt
    execute(code, phases[1], phases[2], m, p, tab, buf, bi, istep)
    execute(code, phases[2], phases[3], m, p, tab, buf, bi, istep)
    for i in range(nc):
        k[i, 1] = m[r + i]
        m[1 + i] = ys[i] + 0.5 * dt * m[r + i]
    execute(code, phases[1], phases[2], m, p, tab, buf, bi, istep)
    execute(code, phases[2], phases[3], m, p, tab, buf, bi, istep)
    for i in range(nc):
        k[i, 2] = m[r + i]
        m[1 + i] = ys[i] + dt * m[r + i]
    m[0] = t + dt
    execute(code, phases[1], phases[2], m, p, tab, buf, bi, istep)
    execute(code, phases[2], phases[3], m, p, tab, buf, bi, istep)
    for i in range(nc):
        m[1 + i] = ys[i] + dt / 6.0 * (k[i, 0] + 2.0 * k[i, 1] + 2.0 * k[i, 2] + m[r + i])


@njit(**JIT)
def _rk4_auto(tape, m, p, tab, buf, bi, istep, dt, y0, k):
    """RK4 Auto over one TIME STEP, as codegen's RK4_AUTO (backend/kernel_step.py): y0 holds
    four blocks of the stocks' count (their values at the step's start, their rates there, the
    n sub-steps' result, a sub-step's start), then 1 in a single run (which may stop)."""
    code, phases, meta = tape[0], tape[1], tape[3]
    nc, r = meta[N_CONT], meta[RATE_BASE]
    abs_tol = m[meta[ABS_TOL_SLOT]] if meta[ABS_TOL_SLOT] >= 0 else DEFAULT_TOLERANCE
    rel_tol = m[meta[REL_TOL_SLOT]] if meta[REL_TOL_SLOT] >= 0 else DEFAULT_TOLERANCE
    t = m[0]
    for i in range(nc):
        y0[i] = m[1 + i]
        y0[nc + i] = m[r + i]
    n = 1
    while True:
        h = dt / n
        for i in range(nc):
            m[1 + i] = y0[i]
        for s in range(n):
            if s > 0:
                m[0] = t + s * h
                execute(code, phases[1], phases[2], m, p, tab, buf, bi, istep)
                execute(code, phases[2], phases[3], m, p, tab, buf, bi, istep)
                _stages(tape, m, p, tab, buf, bi, istep, t + s * h, h, k, m[r:r + nc], y0[3 * nc:])
            else:
                _stages(tape, m, p, tab, buf, bi, istep, t, h, k, y0[nc:2 * nc], y0[3 * nc:])
        if n > 1 and rk4_auto_accepts(m, y0, nc, abs_tol, rel_tol):
            break
        if n >= 2 ** RK4_AUTO_HALVINGS:
            step_size_failed(m, y0, nc, t, h)
            break
        for i in range(nc):
            y0[2 * nc + i] = m[1 + i]
        n *= 2
    for i in range(nc):
        m[1 + i] = y0[2 * nc + i]


@njit(**JIT)
def _advance(tape, m, p, tab, buf, bi, istep, dt, method, y0, k, dnext, wnext):
    """Stocks from t to t + dt: Euler (method 0), RK4 (1) or RK4 Auto (2), as codegen's advance."""
    code, phases, meta, fixed = tape[0], tape[1], tape[3], tape[4]
    nc, nd, r = meta[N_CONT], meta[N_DISC], meta[RATE_BASE]
    execute(code, phases[2], phases[3], m, p, tab, buf, bi, istep)
    execute(code, phases[3], phases[4], m, p, tab, buf, bi, istep)
    for i in range(nd):
        dnext[i] = m[r + nc + i]
    if method == 0:
        for i in range(nc):
            m[1 + i] += dt * m[r + i]
    else:
        nf = meta[N_FIXED]
        for j in range(nf):
            if fixed[2, j]:
                w = bi[2 * j] + istep % bi[2 * j + 1]
                wnext[j] = buf[w]
                buf[w] = m[fixed[1, j]]
        if method == 1:
            _stages(tape, m, p, tab, buf, bi, istep, m[0], dt, k, m[r:r + nc], y0)
        else:
            _rk4_auto(tape, m, p, tab, buf, bi, istep, dt, y0, k)
        for j in range(nf):
            if fixed[2, j]:
                buf[bi[2 * j] + istep % bi[2 * j + 1]] = wnext[j]
    for i in range(nd):
        m[1 + nc + i] = dnext[i]


@njit(**JIT)
def _copy_watches(m, wb, diag):
    # element by element, as the generated drivers do: a slice copy compiles a shape check
    for j in range(diag.shape[0]):
        diag[j] = m[wb + j]


@njit(cache=True, error_model="numpy")   # keeps the GIL: its time loop checks for Ctrl-C
def simulate(tape, p, tab, out, save_idx, t0, dt, n_steps, save_every, method, diag, held, held_bi):
    """One run of a tape (`Tape.arrays()`), with the generated kernel's `simulate_held`
    arguments (the buffers start from `held`, a saved state's, when it has regions); returns
    (the number of rows saved, or -1 when `out` is too short (control variables that change
    during the run), or -2 when Ctrl-C stopped it (`kernel_lib.interrupted`), the buffer at
    the end, its regions)."""
    return _run(tape, p, tab, out, save_idx, t0, dt, n_steps, save_every, method, diag, held, held_bi,
                ix(INTERRUPT_EVERY - 1))


@njit(**JIT)
def _run(tape, p, tab, out, save_idx, t0, dt, n_steps, save_every, method, diag, held, held_bi, stop):
    """`simulate`, its time loop asking every `stop` + 1 steps whether Ctrl-C came (a batch's
    worker threads, which cannot take a signal, never: -1)."""
    if tape[3][LOOPS]:
        # a kept loop advances its body's words as it runs (execute's ENDLOOP): this run's copy
        tape = (tape[0].copy(), tape[1], tape[2], tape[3], tape[4], tape[5], tape[6], tape[7], tape[8])
    code, phases, meta = tape[0], tape[1], tape[3]
    m, buf, bi = _setup(tape, p, tab, t0, dt)
    buf, bi = restore_buffers(buf, bi, held, held_bi, tape[4][2])
    nc, nd, nf = meta[N_CONT], meta[N_DISC], meta[N_FIXED]
    y0 = np.zeros(4 * nc + 1 if method == 2 else nc)
    if method == 2 and stop >= 0:
        y0[4 * nc] = 1.0    # a single run: RK4 Auto may stop it with an error (kernel_step.step_size_failed)
    k = np.zeros((nc, 3))
    dnext = np.zeros(nd)
    wnext = np.zeros(nf)
    wb, fw = meta[WATCH_BASE], meta[FINITE_WATCH]
    saved = 0
    if meta[DYNAMIC_CONTROL] == 0:
        # steps numbered from INITIAL TIME, as the generated drivers do (kernel_extra.step_offset)
        k0 = step_offset(m, t0, dt, meta[INITIAL_SLOT])
        tb = t0 if k0 == 0 else m[meta[INITIAL_SLOT]]
        for istep in range(k0, k0 + n_steps + 1):
            m[0] = tb + istep * dt
            execute(code, phases[1], phases[2], m, p, tab, buf, bi, istep)
            if (istep - k0) % save_every == 0:
                for j in range(save_idx.shape[0]):
                    out[saved, j] = m[save_idx[j]]
                saved += 1
                if fw >= 0:
                    check_finite(m, wb, fw)
            if istep == k0 + n_steps:
                break
            if (istep & stop) == stop and interrupted():
                saved = -2
                break
            _advance(tape, m, p, tab, buf, bi, istep, dt, method, y0, k, dnext, wnext)
    else:
        t = t0
        next_save = t0
        istep = 0
        while True:
            m[0] = t
            execute(code, phases[1], phases[2], m, p, tab, buf, bi, istep)
            step_now = m[meta[DT_SLOT]]
            if t >= next_save - 1e-9 * step_now:
                if saved >= out.shape[0]:
                    _copy_watches(m, wb, diag)
                    return -1, buf, bi
                for j in range(save_idx.shape[0]):
                    out[saved, j] = m[save_idx[j]]
                saved += 1
                if fw >= 0:
                    check_finite(m, wb, fw)
                next_save = next_save + m[meta[SAVEPER_SLOT]]
            if t >= m[meta[FINAL_SLOT]] - 1e-9 * step_now:
                break
            if (istep & stop) == stop and interrupted():
                saved = -2
                break
            _advance(tape, m, p, tab, buf, bi, istep, step_now, method, y0, k, dnext, wnext)
            t = t + step_now
            istep += 1
    _copy_watches(m, wb, diag)
    return saved, buf, bi


@njit(parallel=True, cache=True, error_model="numpy")
def simulate_batch(tape, P, tab, OUT, save_idx, t0, dt, n_steps, save_every, method, DIAG):
    """Runs P.shape[0] parameter sets in parallel, one output block (and row of DIAG) each."""
    held, held_bi = np.empty(0), np.empty(0, dtype=np.int64)
    for i in prange(P.shape[0]):
        _run(tape, P[i], tab, OUT[i], save_idx, t0, dt, n_steps, save_every, method, DIAG[i], held, held_bi, ix(-1))
