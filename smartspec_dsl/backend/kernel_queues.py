"""Numba helpers for the functions whose state is a list of parcels of material, each
with its own entry: DELAY CONVEYOR, DELAY PROFILE and the FIFO queues (QUEUE FIFO, QUEUE
FIFO ATTRIB and the QUEUE AGE and QUEUE ATTRIB functions that read them). Their state lives in the kernel's delay buffer (one region per call,
sized for the whole run, see `parcels_size`), as DELAY MATERIAL's does.

Every helper takes the region (buf, off, n) and the step istep. The output (`*_out`)
only reads the region, so RK4 may read a step more than once; the step's input is
written once per step after the step's auxiliaries (`*_in`), and at step 0 that write
lays out the initial parcels first. Before the buffer exists (the initialisation,
istep -1, and step 0's output) the output comes from the arguments alone.

A region is a header of HEAD slots (the conveyor's progress or the queue's level,
the first live parcel, the number of parcels) then two slots per parcel (three in an
attribute queue)."""
from __future__ import annotations

import math

from numba import njit

from ..ir.constants import NA_VALUE

from .kernel_extra import lookup_area
from .kernel_lib import lookup
from .kernel_intrinsics import JIT

NA = NA_VALUE   # :NA:, an open side of QUEUE AGE IN RANGE

HEAD = 3
_EPS = 1e-9     # a parcel whose travel is within this of the conveyance time has arrived


@njit(**JIT)
def _whole_steps(x, dt):
    """x in whole TIME STEPs, one at least."""
    k = x / dt + 0.5
    if not k >= 1.0:
        return 1
    return int(math.floor(min(k, 1e9)))


@njit(**JIT)
def parcels_size(t0, t1, dt, span):
    """The region of a call whose parcels are one a step over the run, plus those of its
    initial content spread over `span` (a time): in the units fixed_delay_slots reads."""
    steps = (t1 - t0) / dt
    c = (math.floor(steps + 0.5) if math.isfinite(steps) and steps > 0 else 0.0) + 3.0
    return (HEAD + 3.0 * (c + _whole_steps(span, dt))) * dt


@njit(**JIT)
def _profile_share(i, k, tab, off, n):
    """The share of the i-th of k equal parts of a profile lookup's x range in its whole
    area (Vensim rescales the profile to the span and to the total); 1/k for a profile
    with no positive area."""
    x0, x1 = tab[off], tab[off + n - 1]
    total = lookup_area(x0, x1, tab, off, n) if x1 > x0 else 0.0
    if not total > 0.0:
        return 1.0 / k
    w = (x1 - x0) / k
    return lookup_area(x0 + i * w, x0 + (i + 1) * w, tab, off, n) / total


# ---- DELAY CONVEYOR ---------------------------------------------------------------
# Parcel p: its amount and the conveyor's progress when it entered. The progress grows
# by TIME STEP / ctime a step (ctime as it is that step), so a parcel leaves at the first
# step its travel reaches 1: all of the conveyor speeds up or slows down together.

@njit(**JIT)
def conveyor_out(buf, off, n, istep, inittot, initctime, dt, tab, toff, tn):
    """DELAY CONVEYOR's output at step istep: what leaves this step, / TIME STEP."""
    if istep <= 0:
        return inittot * _profile_share(0, _whole_steps(initctime, dt), tab, toff, tn) / dt
    progress = buf[off]
    out = 0.0
    for p in range(int(buf[off + 1]), int(buf[off + 2])):
        a = off + HEAD + 2 * p
        if progress - buf[a + 1] < 1.0 - _EPS:
            break
        out += buf[a]
    return out / dt


@njit(**JIT)
def conveyor_in(buf, off, n, istep, x, ctime, leak, inittot, initctime, dt, tab, toff, tn):
    """Step istep's input onto the conveyor, after the step's output was read: what left
    goes, the input enters, the leakage takes leak x TIME STEP of everything on it (the
    new input too), and the conveyor moves on."""
    if istep == 0:
        # the initial material: k parcels of the profile, the i-th due at step i when the
        # conveyor runs at initctime
        k = _whole_steps(initctime, dt)
        cap = (n - HEAD) // 2
        k = min(k, cap - 1)
        buf[off] = 0.0
        buf[off + 1] = 0.0
        buf[off + 2] = k
        for i in range(k):
            a = off + HEAD + 2 * i
            buf[a] = inittot * _profile_share(i, k, tab, toff, tn)
            buf[a + 1] = i * dt / initctime - 1.0 if initctime > 0.0 else i - 1.0
    progress = buf[off]
    head, tail = int(buf[off + 1]), int(buf[off + 2])
    while head < tail and progress - buf[off + HEAD + 2 * head + 1] >= 1.0 - _EPS:
        head += 1
    if HEAD + 2 * tail + 1 < n:
        a = off + HEAD + 2 * tail
        buf[a] = x * dt
        buf[a + 1] = progress
        tail += 1
    elif tail > head:
        buf[off + HEAD + 2 * (tail - 1)] += x * dt   # past the run's end: never read
    if leak != 0.0:
        keep = 1.0 - leak * dt
        for p in range(head, tail):
            buf[off + HEAD + 2 * p] *= keep
    buf[off] = progress + (dt / ctime if ctime > dt else 1.0)
    buf[off + 1] = head
    buf[off + 2] = tail


# ---- QUEUE FIFO, QUEUE FIFO ATTRIB ----------------------------------------------------
# Parcel p: its amount and the time it entered (and, in an attribute queue, its attribute:
# width 3). The header's first slot is the queue's level, which changes as a Level's
# would: by TIME STEP x (inflow - outflow).

@njit(**JIT)
def queue_out(buf, off, n, istep, initial, now, dt, tab, toff, tn):
    """QUEUE FIFO's value at step istep (it changes only between steps); the initial value
    before the buffer exists."""
    if istep <= 0:
        return initial
    return buf[off]


@njit(**JIT)
def queue_attrib_out(buf, off, n, istep, initial, now, dt, tab, toff, tn, tab2, aoff, an):
    """QUEUE FIFO ATTRIB's value: as QUEUE FIFO's."""
    return queue_out(buf, off, n, istep, initial, now, dt, tab, toff, tn)


@njit(**JIT)
def queue_in(buf, off, n, istep, inflow, outflow, initial, age_range, now, dt, tab, toff, tn):
    """Step istep's flows into and out of a QUEUE FIFO (see `_queue_step`)."""
    _queue_step(buf, off, n, istep, 2, inflow, outflow, 0.0, 0.0, initial, 1.0, age_range, now, dt,
                tab, toff, tn, toff, tn)


@njit(**JIT)
def queue_attrib_in(buf, off, n, istep, inflow, outflow, inatt, attchg, initial, initatt, age_range, now, dt,
                    tab, toff, tn, tab2, aoff, an):
    """Step istep's flows into and out of a QUEUE FIFO ATTRIB (see `_queue_step`)."""
    _queue_step(buf, off, n, istep, 3, inflow, outflow, inatt, attchg, initial, initatt, age_range, now, dt,
                tab, toff, tn, aoff, an)


@njit(**JIT)
def _initial_attribute(i, k, initatt, tab, aoff, an):
    """The attribute of the initial parcel in part i of k: initatt x the attribute profile
    (its y values used as they are, its x range rescaled to the age range) at the part's middle."""
    x0, x1 = tab[aoff], tab[aoff + an - 1]
    return initatt * lookup(x0 + (i + 0.5) * (x1 - x0) / k, tab, aoff, an)


@njit(**JIT)
def _queue_step(buf, off, n, istep, w, inflow, outflow, inatt, attchg, initial, initatt, age_range, now, dt,
                tab, toff, tn, aoff, an):
    """After the step's auxiliaries: the outflow takes the oldest parcels first, the
    attributes change by attchg x TIME STEP (those of the parcels still in the queue and
    of the entering one), the inflow enters as a parcel of age 0 now. A negative inflow is
    an outflow and a negative outflow an inflow (Vensim's help)."""
    if istep == 0:
        # the initial content over ages TIME STEP .. age range by the profile, oldest first
        k = min(_whole_steps(age_range, dt), (n - HEAD) // w - 1)
        buf[off] = initial
        buf[off + 1] = 0.0
        buf[off + 2] = k
        for i in range(k):
            a = off + HEAD + w * i
            buf[a] = initial * _profile_share(k - 1 - i, k, tab, toff, tn)
            buf[a + 1] = now - (k - i) * dt
            if w == 3:
                buf[a + 2] = _initial_attribute(k - 1 - i, k, initatt, tab, aoff, an)
    head, tail = int(buf[off + 1]), int(buf[off + 2])
    added = max(inflow, 0.0) + max(-outflow, 0.0)
    taken = (max(outflow, 0.0) + max(-inflow, 0.0)) * dt
    while taken > 0.0 and head < tail:
        a = off + HEAD + w * head
        if buf[a] > taken:
            buf[a] -= taken
            taken = 0.0
        else:
            taken -= buf[a]
            head += 1
    if w == 3 and attchg != 0.0:
        for p in range(head, tail):
            buf[off + HEAD + 3 * p + 2] += attchg * dt
    if HEAD + w * (tail + 1) <= n:
        a = off + HEAD + w * tail
        # more taken than the queue held: the queue is negative, as if entered this step
        buf[a] = added * dt - taken
        buf[a + 1] = now
        if w == 3:
            buf[a + 2] = inatt + attchg * dt
        tail += 1
    buf[off] = buf[off] + dt * (inflow - outflow)
    buf[off + 1] = head
    buf[off + 2] = tail


@njit(**JIT)
def queue_age(buf, off, n, istep, mode, a, b, now, dt, initial, age_range, initatt, width,
              tab, toff, tn, tab2, aoff, an):
    """The functions that read a queue at step istep, oldest parcel first (a parcel's age is
    Time - its entry): mode 0 QUEUE AGE AVERAGE(queue, quant=a): the mean age of the oldest
    a (of all when a <= 0 or more than the queue holds); 1 QUEUE AGE IN RANGE(queue, min=a,
    max=b): the amount aged from a to b (:NA: leaves that side open); 2 QUEUE AGE OLDEST; 3
    QUEUE ATTRIB AVERAGE(queue, quant=a): the mean attribute of the oldest a; 4 QUEUE ATTRIB
    QUANTITY(queue, quant=a): the amount of the oldest whose attributes add up to a (all of
    the queue when they do not reach a). An empty queue gives 0."""
    total, acc = 0.0, 0.0
    w = int(width)
    if istep <= 0:      # the initial content
        k = _whole_steps(age_range, dt)
        for i in range(k - 1, -1, -1):
            att = _initial_attribute(i, k, initatt, tab, aoff, an) if w == 3 else 1.0
            total, acc, done = _take(mode, a, b, initial * _profile_share(i, k, tab, toff, tn),
                                     (i + 1) * dt, att, total, acc)
            if done:
                break
    else:
        base = off + HEAD
        for p in range(int(buf[off + 1]), int(buf[off + 2])):
            att = buf[base + w * p + 2] if w == 3 else 1.0
            total, acc, done = _take(mode, a, b, buf[base + w * p], now - buf[base + w * p + 1], att, total, acc)
            if done:
                break
    if mode == 1 or mode == 4:
        return total
    if mode == 2:
        return acc
    return acc / total if total != 0.0 else 0.0


@njit(**JIT)
def _take(mode, a, b, amount, age, att, total, acc):
    """One parcel, oldest first, into a queue statistic: (total, accumulator, done)."""
    if mode == 2:                       # the first parcel holding anything is the oldest
        return total, (age if amount != 0.0 else acc), amount != 0.0
    if mode == 1:
        if (a == NA or age >= a) and (b == NA or age <= b):
            total += amount
        return total, acc, False
    if mode == 4:                       # acc: the attributes taken so far
        if not a > acc:
            return total, acc, True
        if acc + amount * att >= a and att > 0.0:
            return total + (a - acc) / att, a, True
        return total + amount, acc + amount * att, False
    value = age if mode == 0 else att
    if a > 0.0 and total + amount >= a:
        return a, acc + (a - total) * value, True
    return total + amount, acc + amount * value, False


# ---- DELAY PROFILE ---------------------------------------------------------------
# The region holds, for every step of the run, the output due then: each step's input is
# spread over the steps after it by the response profile when it enters.

@njit(**JIT)
def _response_scale(delay, tab, off, n):
    """(the profile's area, the time one unit of its x stands for): Vensim rescales the
    profile to a distribution whose mean is the delay time. 0 area: a fixed delay."""
    total, moment = 0.0, 0.0
    for i in range(n - 1):
        xa, xb, ya, yb = tab[off + i], tab[off + i + 1], tab[off + n + i], tab[off + n + i + 1]
        total += 0.5 * (ya + yb) * (xb - xa)
        moment += (xb - xa) * (xa * (2.0 * ya + yb) + xb * (ya + 2.0 * yb)) / 6.0
    if not total > 0.0 or not moment > 0.0:
        return 0.0, 0.0
    return total, delay / (moment / total)


@njit(**JIT)
def _response(j, delay, dt, total, scale, tab, off, n):
    """The share of an input leaving j >= 1 steps after it entered: what of the response
    emerges during the j-th step after its entry."""
    if not total > 0.0:
        return 1.0 if j == _whole_steps(delay, dt) else 0.0
    if not scale > 0.0:
        return 1.0 if j == 1 else 0.0
    x0, x1 = tab[off], tab[off + n - 1]
    a, b = max((j - 1) * dt / scale, x0), min(j * dt / scale, x1)
    return lookup_area(a, b, tab, off, n) / total if b > a else 0.0


@njit(**JIT)
def _response_steps(delay, dt, total, scale, tab, off, n):
    if not total > 0.0:
        return _whole_steps(delay, dt)
    return max(1, int(math.ceil(tab[off + n - 1] * scale / dt - 1e-9)))


@njit(**JIT)
def profile_out(buf, off, n, istep, delay, init, grow, dt, tab, toff, tn):
    """DELAY PROFILE's output at step istep; before the buffer exists, that of an input
    that was init x exp(grow x (t - INITIAL TIME)) before the run."""
    if istep <= 0:
        total, scale = _response_scale(delay, tab, toff, tn)
        out = 0.0
        for j in range(1, _response_steps(delay, dt, total, scale, tab, toff, tn) + 1):
            out += _response(j, delay, dt, total, scale, tab, toff, tn) * init * math.exp(-grow * j * dt)
        return out
    return buf[off + HEAD + istep] if HEAD + istep < n else 0.0


@njit(**JIT)
def profile_in(buf, off, n, istep, x, delay, init, grow, dt, tab, toff, tn):
    """Step istep's input spread over the steps after it (at step 0, first what the inputs
    before the run, init x exp(grow x (t - INITIAL TIME)), still owe to the steps after 0)."""
    total, scale = _response_scale(delay, tab, toff, tn)
    steps = _response_steps(delay, dt, total, scale, tab, toff, tn)
    if istep == 0:
        for m in range(HEAD, n):
            buf[off + m] = 0.0
        # (once, at the start: response steps x the run's steps at most)
        for k in range(1, steps):
            before = init * math.exp(-grow * k * dt)
            for m in range(1, min(steps - k, n - HEAD - 1) + 1):
                buf[off + HEAD + m] += _response(m + k, delay, dt, total, scale, tab, toff, tn) * before
    for j in range(1, steps + 1):
        if HEAD + istep + j >= n:
            break
        buf[off + HEAD + istep + j] += _response(j, delay, dt, total, scale, tab, toff, tn) * x
