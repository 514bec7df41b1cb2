"""Running a model a few steps at a time, changing values between steps: PySD's
`set_stepper` / `step`. Each `step` continues the previous one from its final
state (`Result.final_state`: every stock, the hidden ones of SMOOTH, DELAY,
INITIAL... too, and the buffers of DELAY FIXED and the others), so with unchanged
values the steps give the numbers of one run over the whole time, and a value
changed between steps gives those of one run with the change written into the
model (see `Stepper`)."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from ..errors import ParameterError
from . import params as params_mod


class Stepper:
    """`model.stepper(params=..., return_columns=..., ...)`; then `step(n, step_vars)`
    runs n time steps with `step_vars` (params, by name) changed first, and
    `result` is everything run so far, one row per saved time (SAVEPER's grid
    from the start, as one run saves them).

    As in PySD, the values at a time t are computed once: a change made at t
    (after the step that reached it) acts from t + TIME STEP on, the row at t and
    the rates that carry the stocks from t to t + TIME STEP being those before
    it. Steps with a change at t thus give the numbers of one run whose equation
    switches to the new value at t + TIME STEP."""

    def __init__(self, model, params=None, return_columns=None, initial_condition="original",
                 final_time=None, time_step=None, saveper=None, method=None):
        self.model = model
        self.params = dict(params or {})
        self.return_columns = return_columns
        self.options = dict(time_step=time_step, method=method, final_time=final_time, saveper=saveper)
        if isinstance(initial_condition, tuple):
            start = float(initial_condition[0])
        elif hasattr(initial_condition, "stocks"):
            start = float(initial_condition.time)
        else:
            start = model.control(model.defaults)[0]
        _, dt, n_steps, save_every = model.control(model.defaults, final_time=final_time, time_step=time_step,
                                                   saveper=saveper, initial_time=start)
        self.start, self.time_step, self.save_step = start, dt, save_every * dt
        self.final_time = start + n_steps * dt
        self.time = start          # the last time computed and recorded
        # the state is kept one step ahead of `time`: computed with the values in force at `time`
        first = model.run(self.params, return_columns=return_columns, initial_condition=initial_condition,
                          until=self._ahead(start), return_timestamps=[start], **self.options)
        self.state = first.final_state
        self._parts = [first]

    def _ahead(self, t: float) -> float:
        return min(t + self.time_step, self.final_time)

    def step(self, num_steps: int = 1, step_vars: dict | None = None):
        """Sets `step_vars` (kept for the steps after too), then runs `num_steps` time
        steps from `time`; returns this step's saved rows (after `time`)."""
        if not isinstance(num_steps, (int, np.integer)) or num_steps < 1:
            raise ParameterError(f"num_steps must be a whole number of time steps, at least 1, got {num_steps!r}")
        to = self.time + num_steps * self.time_step
        if to > self.final_time + 1e-9 * max(1.0, abs(self.final_time)):
            raise ParameterError(f"stepping to t = {to:g} goes past FINAL TIME ({self.final_time:g})")
        self._keep(step_vars or {})
        k0 = math.floor((self.time - self.start) / self.save_step + 1e-9) + 1
        k1 = math.floor((to - self.start) / self.save_step + 1e-9)
        saves = [self.start + k * self.save_step for k in range(k0, k1 + 1)]
        part = self.model.run(self.params, return_columns=self.return_columns, initial_condition=self.state,
                              until=self._ahead(to), return_timestamps=saves or [to], **self.options)
        self.state, self.time = part.final_state, to
        if not saves:
            part = replace(part, time=part.time[:0], values=part.values[:0])
        self._parts.append(part)
        return part

    def _keep(self, step_vars: dict) -> None:
        """`step_vars` in force from now on: each replaces what the values kept before gave for
        the same elements (a run refuses a value given twice), an array's value kept for its
        other elements."""
        names = self.model.names
        params_mod.resolve(names, step_vars)    # each value once in this step's too
        for text, value in step_vars.items():
            new = set(names.elements(text, settable=True)[2])
            for old in [k for k in self.params if isinstance(k, str)]:
                _, dims, flat = names.elements(old, settable=True)
                if new.isdisjoint(flat):
                    continue
                values = names.values(old, self.params.pop(old), dims, flat)
                self.params.update((f, v) for f, v in zip(flat, values) if f not in new and v is not None)
            self.params[text] = value

    def run_to(self, t: float, step_vars: dict | None = None):
        """`step` up to time t (a whole number of time steps from `time`)."""
        n = (float(t) - self.time) / self.time_step
        if abs(n - round(n)) > 1e-6 or round(n) < 1:
            raise ParameterError(f"t = {t:g} is not a later time on the TIME STEP grid "
                                 f"(from {self.time:g} every {self.time_step:g})")
        return self.step(int(round(n)), step_vars)

    @property
    def result(self):
        """Every saved row so far, from the start."""
        parts = self._parts
        warnings = [w for p in parts for w in p.warnings]
        return replace(parts[0], time=np.concatenate([p.time for p in parts]),
                       values=np.concatenate([p.values for p in parts]), warnings=warnings,
                       final_state=self.state)
