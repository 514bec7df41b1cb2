"""The generic driver's templates: setup, the step by Euler, RK4 and RK4 Auto
(`advance_<m>`), the run by method (`simulate_generic_<m>`) with static or dynamic control
variables, the batch entry; codegen.generate fills them with the emitted statements (the
specialised Euler driver and the module header are driver.py's)."""
from __future__ import annotations

from .driver import SINGLE, indent

# The generic driver's step and run, once per method: `advance_0` and `simulate_generic_0`
# (Euler), `advance_1` and `simulate_generic_1` (RK4), so that a first run compiles only its
# method's (RK4 calls the phases three more times); `simulate_generic` picks one by `method`.
ADVANCE = '''
@njit(**JIT)
def advance_{m}(v, r, tab, buf, bi, istep, dt, y0, k, dnext, wnext):
    """Stocks from time t to t + dt by {name}, as Vensim does."""
{rates_4}
{fixed_write_4}
    for i in range({n_disc}):
        dnext[i] = r[{n_cont} + i]
{update}
    for i in range({n_disc}):
        v[{first_disc} + i] = dnext[i]
'''

EULER = '''\
    for i in range({n_cont}):
        v[1 + i] += dt * r[i]'''

# A DELAY FIXED output held over the sub-steps of a step (RK4 and RK4 Auto, below), and its
# slot given back after them.
HOLD_FIXED = '''\
    for j in range({n_fixed}):
        if FIXED_DELAY_PLAIN[j]:
            w = bi[2 * j] + istep % bi[2 * j + 1]
            wnext[j] = buf[w]
            buf[w] = v[FIXED_DELAY_OUTPUTS[j]]'''
RELEASE_FIXED = '''\
    for j in range({n_fixed}):
        if FIXED_DELAY_PLAIN[j]:
            buf[bi[2 * j] + istep % bi[2 * j + 1]] = wnext[j]'''

RK4 = '''\
    # The sub-steps lie within step istep, where a DELAY FIXED outputs the value it held at
    # the step's start (this step's dynamic() put it in v). fixed_write has just put the
    # step's input, due at step istep + delay, in the very slot dynamic() reads: hold the
    # output there while the sub-steps run. (DELAY MATERIAL never writes the slot it reads.)
{hold_fixed}
    t = v[0]
    for i in range({n_cont}):
        y0[i] = v[1 + i]
        k[i, 0] = r[i]
        v[1 + i] = y0[i] + 0.5 * dt * r[i]
    v[0] = t + 0.5 * dt
{dynamic_4}
{rates_4}
    for i in range({n_cont}):
        k[i, 1] = r[i]
        v[1 + i] = y0[i] + 0.5 * dt * r[i]
{dynamic_4}
{rates_4}
    for i in range({n_cont}):
        k[i, 2] = r[i]
        v[1 + i] = y0[i] + dt * r[i]
    v[0] = t + dt
{dynamic_4}
{rates_4}
    for i in range({n_cont}):
        v[1 + i] = y0[i] + dt / 6.0 * (k[i, 0] + 2.0 * k[i, 1] + 2.0 * k[i, 2] + r[i])
{release_fixed}'''

# RK4 Auto (backend/kernel_step.py): the step's stocks by RK4 in n sub-steps and in 2n,
# n = 1, 2, 4, ..., until the two agree within the tolerances; the n sub-steps' result is kept
# (so a step the control does not shorten is RK4 Fixed's). y0 holds four blocks of n_cont: the
# stocks at the step's start, their rates there, the n sub-steps' result, a sub-step's start;
# then 1 in a single run, whose time loop may stop with an error (kernel_step.step_size_failed).
# DELAY FIXED outputs are held over the whole step as in RK4 (above).
RK4_AUTO = '''\
{hold_fixed}
    t = v[0]
    nc = {n_cont}
    for i in range(nc):
        y0[i] = v[1 + i]
        y0[nc + i] = r[i]
    n = 1
    while True:
        h = dt / n
        for i in range(nc):
            v[1 + i] = y0[i]
        for s in range(n):
            ts = t + s * h
            if s > 0:
                v[0] = ts
{dynamic_16}
{rates_16}
            for i in range(nc):
                k[i, 0] = y0[nc + i] if s == 0 else r[i]
                y0[3 * nc + i] = v[1 + i]
                v[1 + i] = y0[3 * nc + i] + 0.5 * h * k[i, 0]
            v[0] = ts + 0.5 * h
{dynamic_12}
{rates_12}
            for i in range(nc):
                k[i, 1] = r[i]
                v[1 + i] = y0[3 * nc + i] + 0.5 * h * r[i]
{dynamic_12}
{rates_12}
            for i in range(nc):
                k[i, 2] = r[i]
                v[1 + i] = y0[3 * nc + i] + h * r[i]
            v[0] = ts + h
{dynamic_12}
{rates_12}
            for i in range(nc):
                v[1 + i] = y0[3 * nc + i] + h / 6.0 * (k[i, 0] + 2.0 * k[i, 1] + 2.0 * k[i, 2] + r[i])
        if n > 1 and rk4_auto_accepts(v, y0, nc, {abs_tol}, {rel_tol}):
            break
        if n >= 2 ** RK4_AUTO_HALVINGS:
            step_size_failed(v, y0, nc, t, h)
            break
        for i in range(nc):
            y0[2 * nc + i] = v[1 + i]
        n *= 2
    for i in range(nc):
        v[1 + i] = y0[2 * nc + i]
{release_fixed}'''

SIMULATE_GENERIC = '''
@njit(**RUN)
def simulate_generic_{m}(p, tab, out, save_idx, t0, dt, n_steps, save_every, method, diag, stop{held}):
    """One run by {name}; returns the number of rows saved, or -1 when `out` is too short.
    The watches end in diag."""
    v, buf, bi = setup(p, tab, t0, dt)
{restore}    r = zeros(ix({n_rates}))
    y0 = zeros(ix({n_y0}))
{single_mark}    k = zeros_rk4(ix({n_cont}))
    dnext = zeros(ix({n_disc}))
    wnext = zeros(ix({n_fixed}))
{loop}
    for j in range(diag.shape[0]):
        diag[j] = v[{watch_base} + j]
    return saved{kept}
'''

PICK = '''
@njit(**JIT)
def simulate_generic(p, tab, out, save_idx, t0, dt, n_steps, save_every, method, diag{held}):
    """One run, Euler (method 0) or RK4 (1): the ahead-of-time module's entry. RK4 Auto (2),
    which few runs use, is left out of the module (a smaller build): runs of it take
    Numba's kernel (runtime/tiers.py)."""
    if method == 0:
        return simulate_generic_0(p, tab, out, save_idx, t0, dt, n_steps, save_every, method, diag, {single}{held})
    if method != 1:
        raise ValueError("RK4 Auto is not in the ahead-of-time module")
    return simulate_generic_1(p, tab, out, save_idx, t0, dt, n_steps, save_every, method, diag, {single}{held})
'''



DRIVER = '''
@njit(**ONCE)
def setup(p, tab, t0, dt):
    v = zeros(ix({n_slots}))
    v[0] = t0
    watch_setup(v, tab, WATCH_SLOTS, WATCH_TABLES, WATCH_LO, WATCH_HI)
{init_4}
    buf, bi = lay_out_buffers(v, dt, FIXED_DELAY_SLOTS, FIXED_DELAY_OUTPUTS, ix({n_fixed}), ix(0))
    return v, buf, bi


def _first_generic(run, advance, p, tab, t0, dt):
    # a large model's first run of a generic driver `run` (nothing in Numba's cache): its
    # step `advance` is built in a second process while this one builds the setup (by
    # calling it); `run` then loads the step from the cache (loop_aside)
    if uncached(run):
        f, i = np.empty(0), np.zeros(0, dtype=np.int64)
        with loop_aside(advance, (f, f, tab, f, i, 0, dt, f, np.empty((0, 3)), f, f)):
            setup(p, tab, t0, dt)


{generic}
@njit(parallel=True, cache=True, error_model="numpy")
def batch_generic(P, tab, OUT, save_idx, t0, dt, n_steps, save_every, method, DIAG{held}):
    \"\"\"Runs P.shape[0] parameter sets in parallel, one output block each.\"\"\"
    for i in prange(P.shape[0]):
        if method == 0:
            simulate_generic_0(P[i], tab, OUT[i], save_idx, t0, dt, n_steps, save_every, method, DIAG[i], ix(-1){held})
        elif method == 1:
            simulate_generic_1(P[i], tab, OUT[i], save_idx, t0, dt, n_steps, save_every, method, DIAG[i], ix(-1){held})
        else:
            simulate_generic_2(P[i], tab, OUT[i], save_idx, t0, dt, n_steps, save_every, method, DIAG[i], ix(-1){held})
'''

# Control variables are constants: time is t0 + step * dt exactly, and the
# number of steps and saved rows is known before the run.
STATIC_LOOP = '''\
    saved = 0
    k0 = step_offset(v, t0, dt, INITIAL_TIME_SLOT)
    tb = t0 if k0 == 0 else v[INITIAL_TIME_SLOT]
    for istep in range(k0, k0 + n_steps + 1):
        v[0] = tb + istep * dt
{dynamic_8}
        if (istep - k0) % save_every == 0:
            for j in range(save_idx.shape[0]):
                out[saved, j] = v[save_idx[j]]
            saved += 1
            check_finite_skipping(v, {watch_base}, FINITE_WATCH, CONSTANT_SLOTS, saved)
        if istep == k0 + n_steps:
            break
{stop_8}
        advance(v, r, tab, buf, bi, istep, dt, y0, k, dnext, wnext)'''

# FINAL TIME, TIME STEP or SAVEPER change during the run: read them each step.
DYNAMIC_LOOP = '''\
    saved = 0
    t = t0
    next_save = t0
    istep = 0
    while True:
        v[0] = t
{dynamic_8}
        step_now = v[{dt_slot}]
        if t >= next_save - 1e-9 * step_now:
            if saved >= out.shape[0]:
                for j in range(diag.shape[0]):
                    diag[j] = v[{watch_base} + j]
                return -1{kept}
            for j in range(save_idx.shape[0]):
                out[saved, j] = v[save_idx[j]]
            saved += 1
            check_finite_skipping(v, {watch_base}, FINITE_WATCH, CONSTANT_SLOTS, saved)
            next_save = next_save + v[{saveper_slot}]
        if t >= v[{final_slot}] - 1e-9 * step_now:
            break
{stop_8}
        advance(v, r, tab, buf, bi, istep, step_now, y0, k, dnext, wnext)
        t = t + step_now
        istep += 1'''


def generic_driver(fields: dict[str, str]) -> str:
    """The generic driver's functions by method (ADVANCE, SIMULATE_GENERIC, PICK), filled
    with the format fields of DRIVER (`loop`: the time loop, calling `advance`)."""
    parts = []
    held = dict(hold_fixed=HOLD_FIXED.format(**fields), release_fixed=RELEASE_FIXED.format(**fields))
    deeper = {f"{phase}_{n}": indent([fields[f"{phase}_8"]], n - 8) for phase in ("dynamic", "rates") for n in (12, 16)}
    for m, name, update in ((0, "Euler", EULER), (1, "RK4", RK4), (2, "RK4 Auto", RK4_AUTO)):
        per = dict(fields, **deeper, **held, m=m, name=name, n_y0=4 * fields["n_cont"] + 1 if m == 2 else fields["n_cont"],
                   single_mark=f"    y0[{4 * fields['n_cont']}] = 1.0 if stop >= 0 else 0.0\n" if m == 2 else "",
                   loop=fields["loop"].replace("advance(", f"advance_{m}("))
        parts.append(ADVANCE.format(update=update.format(**per), **per) + "\n" + SIMULATE_GENERIC.format(**per))
    return "\n".join(parts) + PICK.format(single=SINGLE, **fields)
