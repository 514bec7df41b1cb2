"""Numba helpers for Vensim's RK4 Auto: Runge-Kutta 4 whose step is shortened until every
stock's error is within ABSOLUTE TOLERANCE or RELATIVE TOLERANCE. Both tiers' drivers (the
generated kernel's `advance_2`, the interpreter's `_advance`) call them.

What Vensim's help says ("Special Variables", "Runge-Kutta Integration", "TIME STEP"): "the
step size is decreased until for every Level, the error in its computation is less than
ABSOLUTE TOLERANCE or RELATIVE TOLERANCE * Base Level Value", both 0.001 when the model does
not define them ("Absolute change allowed within a TIME STEP"); TIME STEP still decides when
exogenous values are computed; and Vensim "will automatically determine how small it needs to
make TIME STEP in order to achieve the desired accuracy or issue an error if it is unable to
do so". It does not say how the error is estimated nor how the step is decreased. smartspec
chose step doubling, the textbook error estimate of a fixed-order Runge-Kutta step: each TIME
STEP is integrated in n sub-steps of RK4 and in 2n (n = 1, 2, 4, ...); a stock's error is the
difference of the two results and its base value its value at the start of the TIME STEP.
The first n whose result is within the tolerances against 2n's is kept, so a TIME STEP the
control does not shorten gives RK4 Fixed's numbers exactly; after RK4_AUTO_HALVINGS halvings
(ir.constants) the run stops with an error naming the time (errors.StepSizeError)."""
from __future__ import annotations

import math

from numba import njit

from ..errors import StepSizeError
from .kernel_intrinsics import JIT


@njit(**JIT)
def rk4_auto_accepts(v, y0, nc, abs_tol, rel_tol):
    """Whether the stocks v[1:1+nc] (2n sub-steps) and y0[2nc:3nc] (n sub-steps) agree within
    the tolerances for every stock: |difference| <= abs_tol, or <= rel_tol * |the stock's value
    at the start of the step, y0[:nc]|. A NaN difference is accepted (the run's check of its
    values reports it; halving would not make it a number)."""
    for i in range(nc):
        err = abs(v[1 + i] - y0[2 * nc + i])
        if err > abs_tol and err > rel_tol * abs(y0[i]):
            return False
    return True


@njit(**JIT)
def step_size_failed(v, y0, nc, t, h):
    """No sub-step down to h brought the error within the tolerances: a single run stops with
    StepSizeError (y0[4nc] is 1: its time loop may raise); a batch's run, whose worker threads
    cannot raise, goes on with NaN stocks from this step, which the batch reports."""
    if y0[4 * nc] == 1.0:
        raise StepSizeError(t, h)
    for i in range(nc):
        v[1 + i] = math.nan
        y0[2 * nc + i] = math.nan
