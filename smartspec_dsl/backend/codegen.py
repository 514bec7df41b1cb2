"""Pass 4: code generation. A schedule becomes the source of a Numba module: `emit.py`
writes the statements, `driver.py` the module around them; this module puts them together
into a `Kernel`.

Nothing from the model's text reaches the generated source: variables become
slots of one float64 vector `v` (`v[12]`), numbers are emitted with repr(),
lookups become offsets into one table vector, functions come from a fixed
table. Model names appear only in comments, reduced to [A-Za-z0-9_ ].

Slot layout of `v`: [time | continuous stocks | discrete stocks | the rest],
so the integrator updates the stocks with one loop.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .. import ir
from ..ir.constants import DEFAULT_TOLERANCE
from ..errors import UnsupportedFeature
from ..passes.dense import is_dense
from ..passes.order import Schedule
from . import nests
from .dense_emit import DenseEmitter
from .driver import (GENERIC_ONLY, HEADER, HELD, ONE_FUNCTION, STOP, euler_driver, first_generic, functions, held_fields,
                     indent, phase_calls, PHASE_ARGS)
from .driver_generic import DRIVER, DYNAMIC_LOOP, STATIC_LOOP, generic_driver
from .emit import Emitter, num

# the solver of SIMULTANEOUS and FIND ZERO loops, imported only by the kernels that have one
# (every other kernel's source, and so its cache key, stays as it was)
SOLVER_IMPORT = "from smartspec_dsl.backend.kernel_solve import solve_more\n"


@dataclass(frozen=True)
class Kernel:
    source: str
    slots: Mapping[str, int]       # variable -> index in v (a dense model's: elements.Slots)
    n_slots: int
    params: Sequence[str]          # constant names, in the order of the parameter vector
    tables: np.ndarray             # all lookup tables, xs then ys each
    n_continuous: int
    n_discrete: int
    n_fixed_delays: int
    dynamic_control: bool          # FINAL TIME, TIME STEP or SAVEPER vary during the run
    lookups: tuple = ()            # (lookup variable or None for an inline table, LookupTable), by index
    watches: tuple = ()            # per watch (five values of diag): see emit.Emitter.watch
    buffers: tuple = ()            # the variables kept in the buffer, by region (order.is_delay_fixed)


def table_vector(tables) -> np.ndarray:
    """All lookup tables in one vector: a header of (offset, length) per table, then xs and ys."""
    head, data = [], []
    base = 2 * len(tables)
    for t in tables:
        head += [float(base + len(data)), float(len(t.xs))]
        data += list(t.xs) + list(t.ys)
    return np.array(head + data or [0.0], dtype=np.float64)


def _refuse_text(schedule: Schedule) -> None:
    """A 'text' value has no number to compute with: refused at its equation, whichever
    statement (rate, initial value, delay) would have carried it."""
    for var in schedule.model.variables.values():
        for e in (var.expr, var.initial):
            text = next((n for n in ir.walk(e) if isinstance(n, ir.Str)), None) if e is not None else None
            if text is not None:
                raise UnsupportedFeature(f"{var.pos or schedule.model.source + ':1:1'}: a text argument "
                                         f"('{text.value}') cannot be computed with")


def _watch_arrays(em: Emitter) -> str:
    """The module constants watch_setup reads: each watch's first slot, its lookup table's
    index (or -1) and its declared range (for a variable). Written as runs of equal values
    (`np.repeat`), the slots as a range: an array's elements, watched one by one, add to the
    counts, not to the kernel's text."""
    n = len(em.watches)
    tables = [key[4] if key[0] == "lookup" else -1 for key in em.watches]
    lo = [key[2] if key[0] == "range" else 0.0 for key in em.watches]
    hi = [key[3] if key[0] == "range" else 0.0 for key in em.watches]

    def repeated(name: str, values: list, write, dtype: str) -> str:
        runs: list[list] = []
        for x in values:
            if runs and runs[-1][0] == x:
                runs[-1][1] += 1
            else:
                runs.append([x, 1])
        runs = runs or [[values[0] if values else 0, 0]]
        return (f"{name} = np.repeat(np.array([{', '.join(write(x) for x, _ in runs)}]{dtype}), "
                f"np.array({[c for _, c in runs]}, dtype=np.int64))")
    return "\n".join([
        f"WATCH_SLOTS = np.arange({em.watch_base}, {em.watch_base + 5 * n}, 5, dtype=np.int64)",
        repeated("WATCH_TABLES", tables, str, ", dtype=np.int64"),
        repeated("WATCH_LO", lo, num, ""), repeated("WATCH_HI", hi, num, "")])


def tolerance_slots(slots) -> tuple[int, int]:
    """The slots of the model's ABSOLUTE TOLERANCE and RELATIVE TOLERANCE, -1 for one it does
    not define (RK4 Auto then uses ir.constants.DEFAULT_TOLERANCE)."""
    return tuple(slots[n] if n in slots else -1 for n in ("absolute tolerance", "relative tolerance"))


def tolerances(slots) -> dict[str, str]:
    """The RK4 Auto driver's format fields `abs_tol` and `rel_tol`: the variable's slot read, or
    the default."""
    return {f: f"v[{slot}]" if slot >= 0 else repr(DEFAULT_TOLERANCE)
            for f, slot in zip(("abs_tol", "rel_tol"), tolerance_slots(slots))}


def generate(schedule: Schedule) -> Kernel:
    _refuse_text(schedule)
    dense = is_dense(schedule.model)
    em = DenseEmitter(schedule) if dense else Emitter(schedule)
    # a dense model's arrays are loops already; the elements of an array flattened per element
    # are loops where they share a form (element_loops.py, from the IR)
    blocks = em.number_sites(em.initial_statements(), em.dynamic_statements(), em.rate_statements(),
                             em.fixed_write_statements())
    # then a loop per run of equations over the same elements (nests.fuse)
    init, dynamic, rates, writes = (nests.fuse(b) for b in blocks)
    # the last watch: the first variable that is infinite or NaN at a saved time (check_finite)
    finite_watch = em.watch(("finite",))
    n_watch = len(em.watches)
    em.n_slots = em.watch_base + 5 * n_watch
    n_cont, n_disc = len(em.cont), len(em.disc)
    fixed_slots = [em.fixed_delay_slot[n] for n in em.fixed]
    dynamic_control = any(n in schedule.dynamic for n in ir.CONTROL_NAMES)
    held = held_fields(len(em.fixed))
    # the generic driver calls each phase's parts directly (driver.chunk_calls)
    calls = phase_calls({"init": init, "dynamic": dynamic, "rates": rates, "fixed_write": writes})
    loop = DYNAMIC_LOOP.format(dt_slot=em.slots["time step"], saveper_slot=em.slots["saveper"],
                                final_slot=em.slots["final time"], watch_base=em.watch_base,
                                kept=held["kept"], stop_8=indent([STOP], 8), **calls) if dynamic_control else \
        STATIC_LOOP.format(watch_base=em.watch_base, stop_8=indent([STOP], 8), **calls)
    params = em.params if dense else schedule.constants
    first_constant = em.slots[params[0]] if params else 1
    fixed_outputs = [em.slots[n] for n in em.fixed]
    fixed_plain = [not em.whole_run(em.variable(n)) for n in em.fixed]
    fields = dict(n_slots=em.n_slots, n_rates=max(1, n_cont + n_disc), n_cont=n_cont, n_disc=n_disc,
                  first_disc=1 + n_cont, n_fixed=len(em.fixed), loop=loop, watch_base=em.watch_base,
                  n_watch=n_watch, **tolerances(em.slots), **held, **calls)
    source = "\n".join([
        HEADER + (SOLVER_IMPORT if schedule.blocks else ""),
        f"FIXED_DELAY_SLOTS = np.array({fixed_slots or [0]}, dtype=np.int64)",
        f"FIXED_DELAY_OUTPUTS = np.array({fixed_outputs or [0]}, dtype=np.int64)",
        f"FIXED_DELAY_PLAIN = np.array({fixed_plain or [0]}, dtype=np.bool_)",
        f"N_DIAG = {5 * n_watch}",
        f"FINITE_WATCH = {finite_watch}",
        # the constants' slots (first, end): check_finite_skipping skips them after the first save
        f"CONSTANT_SLOTS = ({first_constant}, {first_constant + len(params)})",
        f"INITIAL_TIME_SLOT = {em.slots.get('initial time', 0)}",  # slot 0 (Time): no offset
        _watch_arrays(em) + "\n\n",
        functions("init", "v, p, tab", init, "ONCE"),
        functions("dynamic", "v, tab, buf, bi, istep", dynamic),
        functions("rates", PHASE_ARGS["rates"], rates),
        functions("fixed_write", "v, tab, buf, bi, istep", writes),
        *([HELD] if em.fixed else []),
        DRIVER.format(generic=generic_driver(fields), **fields),
        # the specialised Euler driver: the phases' statements inline, per stock element when few
        GENERIC_ONLY.format(**held, **dict(zip(("first_0", "first_1", "first_2"), first_generic(
            sum(s.count("\n") + 1 for s in init + dynamic) > ONE_FUNCTION))))
        if dynamic_control else euler_driver(em, init, dynamic, rates, writes),
    ])
    return Kernel(source, em.slots if dense else dict(em.slots), em.n_slots, params,
                  table_vector([t for _, t in em.lookups]), n_cont, n_disc, len(em.fixed),
                  dynamic_control, tuple(em.lookups), tuple(em.watches), tuple(em.fixed))
