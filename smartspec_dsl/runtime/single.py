"""One run of a compiled model (`Model.run`): its params and initial condition
resolved (params.py), the model edited where a run replaces equations, the
kernel called, and the saved rows, the returned times and the final state
(every stock and the buffer's regions, to continue from) taken from what it wrote."""
from __future__ import annotations

import math
import signal

import numpy as np

from .. import ir, limits
from ..errors import ModelError, ParameterError, StepSizeError
from ..ir.constants import RK4_AUTO, RK4_AUTO_HALVINGS
from ..ir.builtins import RANDOM_DRAW, helpers
from ..passes.consteval import (TOLERANCES, buffer_delay, buffer_delay_reads, check_buffer_memory,
                               tolerance_issues)
from ..passes.edits import ReplacedSeries, made_by
from ..passes.elements import slots_of
from ..passes.order import buffer_of
from ..passes.pipeline import replaced_parts
from . import params as params_mod
from .diagnostics import SimulationWarning, modeller_name, run_warnings, strict_error
from .continue_messages import span_changed
from .params import Regions, State
from .result import Result, span_text

# Vensim's Euler, RK4 Fixed and RK4 Auto (backend/kernel_step.py)
METHODS = {"euler": 0, "rk4": 1, "rk4auto": RK4_AUTO}
_PLAIN = params_mod.Plan()   # a run that sets nothing (never changed: run_plan only reads a plan)
_NO_HELD = (np.empty(0), np.empty(0, dtype=np.int64))   # a run from the start: no saved buffer (read only)


def kernel_call(model, fn, *args, values=None):
    """A kernel call (`args`: parameters, tables, out, save_idx, t0, dt, n_steps, ...); its
    own allocations (the buffers of DELAY FIXED and the others, sized by the delay time over
    TIME STEP when a run starts) failing is reported like any other run too big for the
    memory, at the first delay's call as `smartspec check` reports it; `values()`: the run's
    constants by name (a batch's rows differ: None, the model's)."""
    try:
        return fn(*args)
    except MemoryError:
        pass
    except StepSizeError as e:
        t, h = e.args
        raise ParameterError(f"{model.schedule.model.source}: RK4 Auto could not bring every stock's error within ABSOLUTE TOLERANCE or "
                             f"RELATIVE TOLERANCE in the TIME STEP from time {t:g}, even in sub-steps of "
                             f"{h:g} (TIME STEP / 2^{RK4_AUTO_HALVINGS}): a rate that jumps within the step "
                             "(an IF THEN ELSE, a STEP or a lookup's kink), one that grows without bound, or "
                             "one too fast for any of those sub-steps (the stocks overflow); "
                             "larger tolerances, a shorter TIME STEP or --method rk4 (RK4 Fixed) run it") from None
    t0, dt, n_steps = args[4:7]
    lowered = model.schedule.model
    check_buffer_memory(lowered, t0, t0 + n_steps * dt, dt, values() if values else None)
    # a delay time the model computes as it starts (not a constant): its size is not known here
    first = lowered.variables[model.kernel.buffers[0]] if model.kernel.buffers else None
    where = f"{first.expr.pos or first.pos}: " if first is not None else ""
    raise ParameterError(f"{where}the run needs more memory than the {limits.available_memory() / 2**30:.1f} GB "
                         "available (its delay buffers hold delay time / TIME STEP values each): use a larger "
                         "TIME STEP or shorter delays") from None


def seed_value(seeds: np.ndarray) -> np.ndarray:
    """Run seeds as float64 (the parameter vector's type), each checked as `check_seed`
    checks one: a seed from 2**52 on would run the draws of another seed."""
    values = np.asarray(seeds).astype(np.float64)
    bad = np.flatnonzero(~((values >= 0) & (values < 2 ** 52) & (np.floor(values) == values)))
    if bad.size:
        check_seed(np.asarray(seeds)[bad[0]].item())
    return values


def check_seed(seed) -> int:
    """A run's seed as an integer in [0, 2**52) (a sweep's run seeds, `sweep.run_seeds`, are):
    the parameter vector holds it as a float64, which keeps integers exact only below 2**53;
    a seed outside that range or not whole would silently run the draws of another seed."""
    try:
        whole = float(seed).is_integer() and 0 <= int(seed) < 2 ** 52
    except (TypeError, ValueError, OverflowError):
        whole = False
    if isinstance(seed, bool) or not whole:
        raise ParameterError(f"seed must be a whole number from 0 to 2**52 - 1 "
                             f"(4503599627370495), got {seed!r}")
    return int(seed)


def run(model, params, final_time, time_step, saveper, return_columns, method, seed, changes,
        initial_time, strict, return_timestamps, initial_condition, until, tier="auto") -> Result:
    """Model.run (see its docstring for the arguments)."""
    method = model.integration_method(method)
    if isinstance(return_columns, str):
        return_columns = [return_columns]   # one name, not its characters
    args = {"initial time": initial_time, "final time": final_time, "time step": time_step,
            "saveper": saveper}
    if not params and changes is None and initial_condition == "original" and until is None \
            and return_timestamps is None:
        # the everyday run: nothing to resolve (small models spend more time here than in the kernel)
        result = run_plan(model, _PLAIN, args, return_columns, None, method, seed, strict, tier)
        model.last_state = result.final_state
        return result
    notices: list[str] = []
    constants, tables = model.read_changes(changes, notices)
    plan = params_mod.resolve(model.names, params, params_mod.Plan(dict(constants), dict(tables),
                                                                    notices=notices))
    if isinstance(initial_condition, str) and initial_condition.lower() in ("current", "c"):
        if model.last_state is None:
            raise ParameterError("initial_condition='current' continues this model's last run, "
                                 "and it has not run yet")
        initial_condition = model.last_state
    stocks = model.schedule.stocks
    if isinstance(initial_condition, State):
        stocks = model.variant(initial_condition.structure).schedule.stocks
    params_mod.initial(model.names, initial_condition, plan, stocks)
    if plan.initial_time is not None:
        if initial_time is not None and float(initial_time) != plan.initial_time:
            raise ParameterError(f"initial_time ({initial_time:g}) and the initial condition's time "
                                 f"({plan.initial_time:g}) differ")
        initial_time = plan.initial_time
    if final_time is None and until is None and return_timestamps is not None \
            and not isinstance(return_timestamps, slice):
        final_time = float(np.max(params_mod.timestamps(return_timestamps, 0.0, 0.0)))   # as PySD
    args["initial time"], args["final time"] = initial_time, final_time
    plan.stop = None if until is None else float(until)
    edited = plan.constant_edits or plan.series_edits or plan.stock_edits
    try:
        target = model.edited(plan.edits, plan.constants) if edited else model
    except ReplacedSeries as err:
        raise ParameterError(f"'{plan.given.get(err.element, err.element)}' given to the run (params, --set): {err}") from None
    result = run_plan(target, plan, args, return_columns, return_timestamps, method, seed, strict, tier)
    model.last_state = result.final_state
    return result


def run_plan(model, plan: params_mod.Plan, args: dict, return_columns, return_timestamps,
             method: str, seed, strict: bool, tier: str = "auto") -> Result:
    """The run of `plan` on `model` (already edited as the plan needs), or on the variant
    of it whose structure the plan's values decide."""
    p = model.defaults.copy()
    for name, value in plan.constants.items():   # flat names, checked by params.resolve
        p[model.param_slot(name)] = value
    vals, controls = model.run_controls(p, args, set(plan.constants) | plan.named)
    if method == "rk4auto":
        _check_tolerances(model, p, vals)
    if model._structure:
        variant = model.for_values(model._values(p, vals))
        if variant is not model:
            return run_plan(variant, plan, args, return_columns, return_timestamps, method, seed, strict, tier)
    if plan.start is not None or plan.stop is not None:
        run_vals = vals
        if plan.start is not None:
            # a continued run starts at the state's time; INITIAL TIME stays the model's
            replaced = plan.constant_edits | plan.series_edits
            _check_continuable(model, plan.state, vals, replaced | replaced_parts(model.names.source, replaced))
            run_vals = {**vals, "initial time": plan.start}
        if plan.stop is not None:
            if not run_vals["initial time"] <= plan.stop <= vals["final time"]:
                raise ParameterError(f"until = {plan.stop:g} is not between the run's first time "
                                     f"({run_vals['initial time']:g}) and FINAL TIME ({vals['final time']:g})")
            run_vals = {**run_vals, "final time": plan.stop}
        controls = model._control(run_vals, args)
    t0, dt, n_steps, save_every = controls
    stocks = list(model.schedule.stocks)
    if return_columns is None:
        if model._run_columns is None:
            # a run's default outputs, then every stock (for its final state), and their names
            names, shown = model._output_columns()
            model._run_columns = (names, np.array(slots_of(model.kernel.slots, names + stocks), dtype=np.int64),
                                  shown)
        names, save_idx, shown = model._run_columns
    else:
        names = params_mod.columns(model.names, return_columns, set(model.output_names))
        save_idx = np.array(slots_of(model.kernel.slots, names + stocks), dtype=np.int64)
        shown = [model.display(n) for n in names]
    keep = want = None
    if return_timestamps is not None:
        want = params_mod.timestamps(return_timestamps, t0, t0 + n_steps * dt)
        save_every = 1
        if not model.kernel.dynamic_control:
            keep = _steps_of(want, t0, dt, n_steps)
    n_save = n_steps // save_every + 1
    tab = model.table_vector(plan.tables)
    if seed is None and plan.state is not None:
        seed = plan.state.seed   # a continued run draws on with the seed of the run it continues
    if seed is not None:
        p[-1] = float(check_seed(seed))
    used = model.choose_tier(tier, 1, n_steps)
    held = None
    if model.kernel.buffers:
        held = _NO_HELD if plan.state is None else _held(model.kernel.buffers, plan.state)
        simulate = model._tiers.simulate_held(used)
    else:
        simulate = model._tiers.simulate(used)
    times, out, diag, kept = _simulate(model, p, tab, save_idx, t0, dt, n_steps, save_every, n_save, method,
                                       simulate, held, lambda: model._values(p, vals))
    if used == "compiled":
        model._tiers.mark_ready()
    regions = {}
    if kept is not None:
        regions = Regions(model.kernel.buffers, *kept)
        if plan.state is not None:
            _check_regions(model, plan.state, regions, vals, lambda: model._values(p, vals))
    state = State(float(times[-1]), dict(zip(stocks, out[-1, len(names):].tolist())), model.structure_key,
                  model.path, None if seed is None else check_seed(seed), regions, dt,
                  vals["final time"], _ended(times, t0 + n_steps * dt, regions)) if len(times) else None
    out = out[:, :len(names)]   # a view: the stocks' columns were for the final state
    if want is not None:
        if keep is None:
            keep = [_saved_row(times, t) for t in want]
        times, out = times[keep], out[keep]
    # a run of another method than the file's RK4 settings ask for is not told about them
    other = {ir.RK4_SETTINGS} if method != "rk4" else set()
    warnings = run_warnings(model.schedule.model, names, times, out, model.kernel, diag, tab,
                            model._watch_text, plan.notices, plan.named | set(plan.tables) | other)
    if plan.state is not None and plan.constants and model.kernel.buffers:
        warnings[:0] = _kept_delays(model, plan, model._values(p, vals), vals)
    if want is None and not model.kernel.dynamic_control \
            and (saving := model.saveper_warning(vals, args, save_every)) is not None:
        warnings.insert(0, saving)
    if strict and (err := strict_error(warnings)) is not None:
        raise err
    return Result(times, list(shown), out, warnings, state, used)


def _check_continuable(model, state: State, vals: dict, replaced: set[str]) -> None:
    """A run continuing from a state: the state holds every stock and the buffer's regions
    (of DELAY FIXED and the others, `Kernel.buffers`), laid out by the step's number from
    INITIAL TIME for the state's TIME STEP, which the run must keep. A random draw is a hash
    of the seed, the call site and the step's number, which a continued run counts from
    INITIAL TIME as the one run does (kernel_extra.step_offset), so its draws are the one
    run's; with TIME STEP changing during the run the steps have no such number. The buffer
    of an equation the run replaces (`replaced`, flat names) is not needed."""
    start = state.time
    lowered = model.schedule.model.variables
    new = next((n for n in model.schedule.stocks if n not in state.stocks), None)
    if new is not None:
        # a structure the run's values decide (a SMOOTH N order...) other than the state's
        raise ParameterError(f"the state (t = {start:g}) is not one of this run's model: it holds no value of a "
                             f"stock of '{modeller_name(model.schedule.model, new)}' that this run's values "
                             "make (another SMOOTH N or DELAY N order, ...); run from the start")
    buffers = model.kernel.buffers
    if buffers or state.buffers:
        missing = next((n for n in buffers if n not in state.buffers), None) or \
            next((n for n in state.buffers if n not in buffers and not made_by(n, replaced)), None)
        if missing is not None:
            owner = missing.split(" #")[0] + ir.split_element(missing)[1]
            shown = lowered[missing].display if missing in lowered else \
                f"'{modeller_name(model.schedule.model, owner) if owner in lowered else owner}'"
            raise ParameterError(f"the state (t = {start:g}) is not one of this model's: "
                                 f"{'it holds no' if missing in buffers else 'this model has no'} "
                                 f"buffer of {shown}")
    if buffers:
        at, first = _buffer_named(model.schedule.model, buffers[0])
        if state.ended is not None:
            raise ParameterError(f"{at}the state is the last saved row of a run that went on to t = {state.ended:g} "
                                 f"(FINAL TIME or until between two saved times): its stocks are those of "
                                 f"t = {start:g} and the {first} that of t = {state.ended:g}, so a run "
                                 "cannot continue from it; end the first run on a saved time (a multiple of "
                                 "SAVEPER from INITIAL TIME) or save every step (saveper = TIME STEP)")
        if model.kernel.dynamic_control:
            raise ParameterError(f"{at}the {first} is laid out by the time step's number, and TIME STEP, "
                                 "FINAL TIME or SAVEPER changes during this run: a run cannot continue from a "
                                 "saved state; run from the start")
        if state.time_step != vals["time step"]:
            raise ParameterError(f"{at}the state's {first} holds values a TIME STEP of {state.time_step:g} "
                                 f"apart, and this run's TIME STEP is {vals['time step']:g}: a run continuing a "
                                 "state keeps its TIME STEP")
    draws = helpers(RANDOM_DRAW)
    for var in lowered.values() if model.kernel.dynamic_control else ():
        call = next((c for e in (var.expr, var.initial) if e is not None for c in ir.walk(e)
                     if isinstance(c, ir.Call) and c.func in draws), None)
        if call is not None:
            raise ParameterError(f"{call.pos or var.pos}: '{var.display}' draws {call.func}, whose values "
                                 "depend on the time step's number, and TIME STEP or SAVEPER changes during "
                                 "this run: a run cannot continue from a saved state without drawing other "
                                 "numbers than one run; run from the start")
    if not start <= vals["final time"]:
        raise ParameterError(f"the state's time ({start:g}) is after FINAL TIME ({vals['final time']:g})")


def _kept_delays(model, plan: params_mod.Plan, values: dict, vals: dict) -> list[SimulationWarning]:
    """A run continuing a state keeps each DELAY FIXED's pipeline, whose length the delay
    time gave when the one run started (Vensim reads it then, and only then): a warning for
    each whose delay time this run's own values (params, a changes file) would have made
    another length, as they are not used. `values`: the run's constants by name."""
    lowered = model.schedule.model
    dt, out = vals["time step"], []
    for name in model.kernel.buffers:
        var = lowered.variables[name]
        if buffer_of(var).spans_run:   # the others are laid out by the run's span, not a delay time
            continue
        given = sorted(set(plan.constants) & buffer_delay_reads(lowered, name))
        if not given:
            continue
        kept = len(plan.state.buffers[name])
        try:
            now = buffer_delay(lowered, name, values, vals["initial time"])
        except (ModelError, ArithmeticError, ValueError):
            now = math.nan
        if now == now and max(1, math.floor(now / dt + 0.5)) == kept:
            continue
        who, pos = modeller_name(lowered, name), var.expr.pos or var.pos
        shown = ", ".join(f"'{model.display(c)}' = {plan.constants[c]:g}" for c in given)
        out.append(SimulationWarning("state", who, plan.start, pos, (
            f"{pos}: {var.expr.func} in the equation of '{who}' reads its delay time when a run starts, and this run "
            f"continues a state: it keeps the state's delay ({kept * dt:g}); the delay time this run's {shown} "
            f"give{'s' if len(given) == 1 else ''} ({now:g}) is not used (run from the start to use it)")))
    return out


def _buffer_named(lowered: ir.Model, name: str) -> tuple[str, str]:
    """Where the call of the buffer `name` is ('file:line:column: ') and how messages name the
    buffer: "buffer of DELAY FIXED in the equation of 'out'"."""
    var = lowered.variables[name]
    pos = var.expr.pos or var.pos
    return (f"{pos}: " if pos is not None else "",
            f"buffer of {var.expr.func} in the equation of '{modeller_name(lowered, name)}'")


def _ended(times: np.ndarray, end: float, regions) -> float | None:
    """The time a run with buffers computed to, when its last saved row is earlier (State.ended)."""
    return end if regions and end > float(times[-1]) else None


def _held(buffers: tuple[str, ...], state: State) -> tuple[np.ndarray, np.ndarray]:
    """The saved regions a continued run's buffer starts from (kernel_extra.restore_buffers),
    in the order of the kernel's `buffers`: the state's."""
    regions = [np.asarray(state.buffers[n], dtype=np.float64) for n in buffers]
    lengths = np.array([len(r) for r in regions], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return np.concatenate(regions), np.column_stack([offsets, lengths]).ravel()


def _check_regions(model, state: State, regions: Regions, vals: dict, values) -> None:
    """After a run that continued `state`: each buffer region that spans the run must hold
    the state's as it was (this run's region as long; `Buffer.grows`: at least as long),
    else the run did not continue the state exactly and is refused. (A DELAY FIXED's region
    keeps the state's length: kernel_extra.restore_buffers.) `values()`: the run's constants by name."""
    lowered = model.schedule.model.variables
    for n, region in regions.items():
        old, new = len(state.buffers[n]), len(region)
        b = buffer_of(lowered[n])
        if new == old or not b.spans_run or (new > old and b.grows):
            continue
        at, buffer = _buffer_named(model.schedule.model, n)
        if b.span >= 0 and state.final_time == vals["final time"]:
            raise ParameterError(f"{at}{span_changed(model.schedule.model, n, b.span, (old, new), (vals, values()), state.time)}")
        advice = (f"continue to FINAL TIME {state.final_time:g}, ending this run with until= instead"
                  if new < old else "end the first run with until= rather than final_time= (as the stepper "
                  "does), so that its buffers cover FINAL TIME")
        raise ParameterError(
            f"{at}the {buffer} is laid out when a run starts for the run to FINAL TIME (and "
            f"by the function's own arguments): {old} values in the state (made by a run to FINAL TIME "
            f"{state.final_time:g}), {new} in this run (to FINAL TIME {vals['final time']:g}); a run "
            f"continuing a state must keep them: {advice}, or run from the start")


def _steps_of(want, t0: float, dt: float, n_steps: int) -> list[int]:
    """The step of each of the times `want` (on the TIME STEP grid of the run)."""
    out = []
    for t in want:
        k = (t - t0) / dt
        if abs(k - round(k)) > 1e-6 or not 0 <= round(k) <= n_steps:
            raise ParameterError(f"time {t:g} is not a time of the run (from {t0:g} every TIME STEP "
                                 f"{dt:g} to {t0 + n_steps * dt:g})")
        out.append(int(round(k)))
    return out


def _saved_row(times, t: float) -> int:
    hits = np.flatnonzero(np.isclose(times, t, rtol=0, atol=1e-9 * max(1.0, abs(t))))
    if not len(hits):
        raise ParameterError(f"time {t:g} is not a time of the run ({span_text(times)})")
    return int(hits[0])


def _check_tolerances(model, p, vals) -> None:
    """Refuse a run of RK4 Auto whose ABSOLUTE TOLERANCE and RELATIVE TOLERANCE no step can
    meet (consteval.tolerance_issues, which `smartspec check` reports too), naming where the
    value comes from."""
    values = model._values(p, vals)
    given = {n: values[n] for n in TOLERANCES if n in values}
    for name, message in tolerance_issues(given):
        pos = model.schedule.model.variables[name].pos
        raise ParameterError(f"{pos}: {message}" if pos else message)


def _stopped(saved: int) -> None:
    """After a run: the kernel's time loop returns -2 rows saved when Ctrl-C stopped it
    (kernel_lib.interrupted, which took the pending signal): Python's SIGINT handler runs
    now (the command line's, or KeyboardInterrupt), and whatever it does, the run has no
    result."""
    if saved != -2:
        return
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, None)
    raise KeyboardInterrupt


def _simulate(model, p, tab, save_idx, t0, dt, n_steps, save_every, n_save, method, simulate, held=None,
              values=None):
    """One run of the kernel entry `simulate` (a tier's): (saved times, saved values, the watches'
    diag, None). With `held` (a saved buffer and its regions, `_held`), `simulate` is a tier's
    `simulate_held` and the last is (the buffer at the end, its regions). `values()`: the run's
    constants by name (for kernel_call's message)."""
    diag = np.empty(5 * len(model.kernel.watches))
    extra = () if held is None else held
    if not model.kernel.dynamic_control:
        limits.check_memory(f"a run of {n_save:,} saved times x {len(save_idx):,} variables",
                            8.0 * n_save * len(save_idx),
                            "save fewer times (a larger SAVEPER) or fewer variables (return_columns)")
        out = np.empty((n_save, len(save_idx)))
        got = kernel_call(model, simulate, p, tab, out, save_idx, t0, dt, n_steps, save_every, METHODS[method],
                          diag, *extra, values=values)
        _stopped(got if held is None else got[0])
        return t0 + np.arange(n_save) * (save_every * dt), out, diag, None if held is None else got[1:]
    # Control variables change during the run: the kernel saves Time too, and
    # we grow the output until it fits.
    idx = np.concatenate([[0], save_idx]).astype(np.int64)
    rows = max(n_save, 16)
    while True:
        limits.check_memory(f"a run of {rows:,} saved times x {len(idx):,} variables",
                            8.0 * rows * len(idx), "save fewer times (a larger SAVEPER) or fewer "
                            "variables (return_columns)")
        out = np.empty((rows, len(idx)))
        got = kernel_call(model, simulate, p, tab, out, idx, t0, dt, n_steps, save_every, METHODS[method], diag,
                          *extra, values=values)
        saved = got if held is None else got[0]
        _stopped(saved)
        if saved >= 0:
            break
        if rows > 50_000_000:
            raise ParameterError("the run saves more than 50 million rows; check FINAL TIME and SAVEPER")
        rows *= 4
    return out[:saved, 0].copy(), out[:saved, 1:], diag, None if held is None else got[1:]
