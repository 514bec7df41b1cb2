"""Running a model a few steps at a time, changing values between steps: PySD's
`set_stepper` / `step`. Each `step` continues the previous one from its final
state (`Result.final_state`: every stock, the hidden ones of SMOOTH, DELAY,
INITIAL... too), so with unchanged values the steps give the numbers of one run
over the whole time; a value changed at time t acts from t on, as in a model
whose equation switches to it at t (`x = a + STEP(b - a, t)`). The row at t
holds the values before the change, as PySD's stepper records them."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from ..errors import ParameterError


class Stepper:
    """`model.stepper(params=..., return_columns=..., ...)`; then `step(n, step_vars)`
    runs n time steps with `step_vars` (params, by name) changed first, and
    `result` is everything run so far, one row per saved time (SAVEPER's grid
    from the start, as one run saves them)."""

    def __init__(self, model, params=None, return_columns=None, initial_condition="original",
                 final_time=None, time_step=None, saveper=None, method=None):
        self.model = model
        self.params = dict(params or {})
        self.return_columns = return_columns
        self.options = dict(time_step=time_step, method=method, final_time=final_time, saveper=saveper)
        # the first "step": the state at the start (a run from the start to itself)
        if isinstance(initial_condition, tuple):
            start = float(initial_condition[0])
        elif hasattr(initial_condition, "stocks"):
            start = float(initial_condition.time)
        else:
            start = model.control(model.defaults)[0]
        first = model.run(self.params, return_columns=return_columns, initial_condition=initial_condition,
                          until=start, **self.options)
        self.state = first.final_state
        self.start = float(first.time[0])
        t0, dt, n_steps, save_every = model.control(model.defaults, final_time=final_time, time_step=time_step,
                                                    saveper=saveper, initial_time=self.start)
        self.time_step = dt
        self.final_time = self.start + n_steps * dt
        self.save_step = save_every * dt
        self._parts = [first]

    @property
    def time(self) -> float:
        """The time the next step starts from."""
        return self.state.time

    def step(self, num_steps: int = 1, step_vars: dict | None = None):
        """Runs `num_steps` time steps from `time`, after setting `step_vars` (kept for the
        steps after too); returns this step's rows (after its first time)."""
        if not isinstance(num_steps, (int, np.integer)) or num_steps < 1:
            raise ParameterError(f"num_steps must be a whole number of time steps, at least 1, got {num_steps!r}")
        self.params.update(step_vars or {})
        to = self.state.time + num_steps * self.time_step
        if to > self.final_time + 1e-9 * max(1.0, abs(self.final_time)):
            raise ParameterError(f"stepping to t = {to:g} goes past FINAL TIME ({self.final_time:g})")
        k0 = math.floor((self.state.time - self.start) / self.save_step + 1e-9) + 1
        k1 = math.floor((to - self.start) / self.save_step + 1e-9)
        saves = [self.start + k * self.save_step for k in range(k0, k1 + 1)]
        part = self.model.run(self.params, return_columns=self.return_columns, initial_condition=self.state,
                              until=to, return_timestamps=saves or [to], **self.options)
        self.state = part.final_state
        if not saves:
            part = replace(part, time=part.time[:0], values=part.values[:0])
        self._parts.append(part)
        return part

    def run_to(self, t: float, step_vars: dict | None = None):
        """`step` up to time t (a whole number of time steps from `time`)."""
        n = (float(t) - self.state.time) / self.time_step
        if abs(n - round(n)) > 1e-6 or round(n) < 1:
            raise ParameterError(f"t = {t:g} is not a later time on the TIME STEP grid "
                                 f"(from {self.state.time:g} every {self.time_step:g})")
        return self.step(int(round(n)), step_vars)

    @property
    def result(self):
        """Every saved row so far, from the start."""
        parts = self._parts
        warnings = [w for p in parts for w in p.warnings]
        return replace(parts[0], time=np.concatenate([p.time for p in parts]),
                       values=np.concatenate([p.values for p in parts]), warnings=warnings,
                       final_state=self.state)
