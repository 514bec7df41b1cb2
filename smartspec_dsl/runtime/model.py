"""Pass 5: runtime. Loads a model (through the on-disk kernel cache), runs it,
and returns results as numpy arrays."""
from __future__ import annotations

import hashlib
import importlib.util
import math
import os
import pickle
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .. import ir, limits
from ..backend.codegen import Kernel, generate, table_vector
from ..passes.consteval import constant_value, constants_read
from ..frontend.changes import Changes, read_changes
from ..frontend.external import DataOptions, fingerprint as external_fingerprint
from ..files import write_bytes
from ..errors import ModelError, ParameterError, did_you_mean
from ..frontend.grammar import grammar_path, grammar_text
from ..passes.lower import decide
from ..passes.pipeline import lower
from ..passes.order import Schedule, is_delay_fixed, schedule
from ..frontend.parse import read_model_text
from ..frontend.source import parse_source
from ..passes.edits import Edits
from . import doc as doc_table, params as params_mod
from .diagnostics import bad_numbers, strict_error, watch_warnings, warning_counts
from .params import State
from .stepper import Stepper

METHODS = {"euler": 0, "rk4": 1}


def _compiler_fingerprint() -> str:
    """Changes whenever the compiler's own code changes, so stale kernels are never reused."""
    h = hashlib.sha256(grammar_text().encode())
    for f in sorted(grammar_path().parent.glob("*.lark")):
        h.update(f.read_bytes())
    for f in sorted(Path(__file__).resolve().parents[1].rglob("*.py")):
        h.update(f.read_bytes())
    import numba
    h.update(numba.__version__.encode())
    return h.hexdigest()


_FINGERPRINT = None


def cache_root() -> Path:
    env = os.environ.get("SMARTSPEC_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "smartspec"


@dataclass(frozen=True)
class VariableInfo:
    name: str
    kind: str
    units: str
    comment: str


@dataclass
class Result:
    time: np.ndarray
    columns: list[str]
    values: np.ndarray  # (saved times, columns)
    warnings: list = field(default_factory=list)   # diagnostics.SimulationWarning, by time
    # every stock at the last time the run computed (params.State), to continue from
    final_state: State | None = None

    def __getitem__(self, name: str) -> np.ndarray:
        key = ir.canonical_name(name)
        for i, c in enumerate(self.columns):
            if ir.canonical_name(c) == key:
                return self.values[:, i]
        raise KeyError(name)

    def to_pandas(self):
        try:
            import pandas as pd
        except ImportError as err:  # optional extra
            raise ImportError("Result.to_pandas() needs pandas: pip install 'smartspec[pandas]'") from err
        return pd.DataFrame(self.values, index=pd.Index(self.time, name="Time"), columns=self.columns)

    def plot(self, *names: str, ax=None):
        """Time series of `names` (default: every column but the control variables, at most
        eight) on a matplotlib Axes, a new figure's when `ax` is None; returns the Axes.
        Uses whatever matplotlib backend is active (inline in a notebook)."""
        try:
            import matplotlib.pyplot as plt
        except ImportError as err:  # optional extra
            raise ImportError("Result.plot() needs matplotlib: pip install 'smartspec[plot]'") from err
        if not names:
            names = tuple(c for c in self.columns if ir.canonical_name(c) not in ir.CONTROL_NAMES)[:8]
        if ax is None:
            _, ax = plt.subplots(figsize=(8, 4.5))
        for name in names:
            ax.plot(self.time, self[name], label=name)
        ax.set_xlabel("Time")
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize="small")
        return ax

    def __repr__(self) -> str:
        return (f"<Result: {span_text(self.time)} x {len(self.columns)} "
                f"columns: {some_names(self.columns)}>")


def span_text(time) -> str:
    """'241 saved times (t = 0 to 30)', '1 saved time (t = 30)'."""
    if len(time) == 1:
        return f"1 saved time (t = {time[0]:g})"
    return f"{len(time)} saved times" + (f" (t = {time[0]:g} to {time[-1]:g})" if len(time) else "")


def some_names(names, n: int = 4) -> str:
    shown = ", ".join(names[:n])
    return shown + (f", ... ({len(names) - n} more)" if len(names) > n else "")


@dataclass
class BatchResult:
    time: np.ndarray
    columns: list[str]
    values: np.ndarray  # (runs, saved times, columns)
    rows: int = 0       # saved times the kernel wrote per run, before `times` kept some
    warnings: np.ndarray | None = None   # per run: lookups and ranged variables that left their range


class Model:
    """A compiled model. Use `smartspec_dsl.load(path)`."""

    def __repr__(self) -> str:
        kinds: dict[str, int] = {}
        for v in self.ir.variables.values():
            if not v.hidden and v.name not in ir.CONTROL_NAMES and v.name != ir.TIME:
                kinds[v.kind.value] = kinds.get(v.kind.value, 0) + 1
        plural = {"auxiliary": "auxiliaries"}
        counts = ", ".join(f"{n} {plural.get(k, k + 's') if n > 1 else k}" for k, n in sorted(kinds.items()))
        c = self.constants
        return (f"<Model {Path(self.path).name}: {counts}; t = {c['INITIAL TIME']:g} to {c['FINAL TIME']:g}, "
                f"TIME STEP {c['TIME STEP']:g}>")

    def __init__(self, path: str, source_model: ir.Model, sched: Schedule, kernel: Kernel,
                 module, compile_seconds: float, cached: bool, derived: dict | None = None,
                 origin: "_Origin | None" = None):
        self.path = path
        self.ir = source_model
        self.schedule = sched
        self.kernel = kernel
        self._module = module
        self.compile_seconds = compile_seconds
        self.cached = cached
        lowered = sched.model.variables
        self.output_names = [n for n, v in lowered.items()
                             if not v.hidden and v.kind is not ir.Kind.LOOKUP]
        # the parameter vector: every constant, then the run seed (0 unless a sweep sets it)
        self.defaults = np.array([_literal(lowered[c]) for c in sched.constants] + [0.0], dtype=np.float64)
        self._param_index = {c: i for i, c in enumerate(sched.constants)}
        # control variables the runtime computes for each run from their equations (see _pin_controls)
        self._derived = dict(derived or {})
        self._control_model = ir.Model(sched.model.source, {**lowered, **{
            n: replace(lowered[n], kind=ir.Kind.AUXILIARY, expr=e) for n, e in self._derived.items()}})
        # structure read from constants (a SMOOTH N order): other values run another kernel
        self._origin = origin
        self._structure = tuple(d.result for d in sched.model.decisions)
        reads = constants_read(self._control_model, [a for d in sched.model.decisions for a in d.args])
        self._structure_inputs = np.array(sorted(self._param_index[c] for c in reads
                                                 if c in self._param_index), dtype=np.int64)
        self._variants: dict[tuple, Model] = {self._structure: self}
        self._watch_text: dict[int, tuple] = {}   # diagnostics.watch_warnings' words per watch
        self._edited: dict[Edits, Model] = {}      # this model with equations a run replaces
        self._names: params_mod.Names | None = None
        self._last_state: State | None = None      # initial_condition='current'

    @property
    def variables(self) -> list[VariableInfo]:
        return [VariableInfo(v.display, v.kind.value, v.units, v.comment) for v in self.ir.variables.values()]

    @property
    def constants(self) -> dict[str, float]:
        lowered = self.schedule.model.variables
        return {lowered[c].display: float(x) for c, x in zip(self.schedule.constants, self.defaults)}

    def display(self, name: str) -> str:
        return self.schedule.model.variables[name].display

    @property
    def names(self) -> params_mod.Names:
        """The model's variables by the modeller's names (subscripted ones' elements too)."""
        if self._names is None:
            self._names = params_mod.Names(self.ir, self.schedule.model, self.path)
        return self._names

    # -- documentation --------------------------------------------------------
    def doc_rows(self) -> list[doc_table.DocRow]:
        """The documentation table (runtime/doc.py), one DocRow per variable."""
        return doc_table.rows(self.ir)

    @property
    def doc(self):
        """The documentation table as a pandas DataFrame, as PySD's `model.doc`: Real Name,
        Name, Units, Limits, Type, Subtype, Comment, Subscripts (runtime/doc.py)."""
        return doc_table.frame(self.doc_rows())

    @property
    def dependencies(self):
        """The networkx DiGraph of the model's variables: u -> v where v's equation reads u."""
        return doc_table.dependencies(self.ir)

    def stepper(self, params=None, return_columns=None, initial_condition="original", final_time=None,
                time_step=None, saveper=None, method=None) -> Stepper:
        """PySD's set_stepper: runs the model a few time steps at a time (`step`), values
        changed between steps (runtime/stepper.py)."""
        return Stepper(self, params, return_columns, initial_condition, final_time, time_step, saveper, method)

    # -- parameters -------------------------------------------------------
    def param_index(self, name: str) -> int:
        key = ir.canonical_name(name)
        if key in self._param_index:
            var = self.schedule.model.variables[key]
            if var.unchangeable:
                raise ParameterError(f"'{var.display}' is defined with '==' at {var.pos}: Vensim's mark "
                                     "of a value that a run may not change")
            return self._param_index[key]
        var = self.schedule.model.variables.get(key)
        if var is None:
            constants = {c: self.schedule.model.variables[c].display for c in self._param_index
                         if c in self.schedule.model.variables}
            raise ParameterError(f"'{name}' is not a variable of {self.path}" + did_you_mean(key, constants))
        article = "an" if var.kind.value[0] in "aeiou" else "a"
        raise ParameterError(f"'{name}' is {article} {var.kind.value}, not a constant of the model; "
                             "only constants can be set")

    def parameter_vector(self, params: dict | None = None) -> np.ndarray:
        p = self.defaults.copy()
        for name, value in (params or {}).items():
            try:
                p[self.param_index(name)] = float(value)
            except (TypeError, ValueError):
                raise ParameterError(f"value for '{name}' is not a number: {value!r}") from None
        return p

    def control_values(self, p: np.ndarray, args: dict[str, float | None],
                       explicit: set[str] = frozenset()) -> dict[str, float]:
        """INITIAL TIME, FINAL TIME, TIME STEP and SAVEPER of a run with parameter vector p:
        `args` (a run's own arguments, None when not given) first, then the constants of p,
        then the model's equations evaluated with those (SAVEPER = TIME STEP follows a
        given TIME STEP). `explicit`: the parameters the run sets itself."""
        model = self._control_model
        given = {c: float(x) for c, x in zip(self.schedule.constants, p)
                 if c not in self._derived or c in explicit}
        for name, value in args.items():
            if value is None:
                continue
            var = model.variables.get(name)
            if var is not None and var.kind is not ir.Kind.CONSTANT and name not in self._derived:
                raise ParameterError(
                    f"{name.upper()} is computed during the run by its equation ({var.pos}); a run's "
                    f"own {name.upper()} cannot replace it there: edit the model to change it")
            given[name] = float(value)
        t0 = constant_value(model, "initial time", given)
        return {name: constant_value(model, name, given, t0) for name in ir.CONTROL_NAMES}

    def control(self, p: np.ndarray, final_time=None, time_step=None, saveper=None,
                initial_time=None) -> tuple:
        """(initial time, time step, number of steps, steps between saves) of a run with
        parameter vector p and these arguments."""
        args = {"initial time": initial_time, "final time": final_time, "time step": time_step,
                "saveper": saveper}
        return self._control(self.control_values(p, args), args)

    def _control(self, vals: dict[str, float], args: dict[str, float | None]) -> tuple:
        model = self.schedule.model
        t0, t1, dt, save = (vals[n] for n in ir.CONTROL_NAMES)

        def defined(name):
            pos = model.variables[name].pos if name in model.variables else None
            if args.get(name) is not None:
                return f" ({name.upper()} as given to this run)"
            return f" ({name.upper()} is defined at {pos})" if pos else ""
        for name, value in zip(ir.CONTROL_NAMES, (t0, t1, dt, save)):
            if not math.isfinite(value):
                raise ParameterError(f"{name.upper()} must be a finite number, got {value:g}" + defined(name))
        if not dt > 0:
            raise ParameterError(f"TIME STEP must be positive, got {dt:g}" + defined("time step"))
        if not t1 >= t0:
            raise ParameterError(f"FINAL TIME ({t1:g}) is before INITIAL TIME ({t0:g})" + defined("final time"))
        if not math.isfinite(t1 - t0):
            raise ParameterError(f"FINAL TIME ({t1:g}) and INITIAL TIME ({t0:g}) must be finite"
                                 + defined("final time"))
        if not save > 0:
            raise ParameterError(f"SAVEPER must be positive, got {save:g}" + defined("saveper"))
        steps = (t1 - t0) / dt
        limits.check_steps(steps)
        n_steps = int(math.floor(steps + 1e-9))
        save_every = max(1, int(round(min(save / dt, 2.0 ** 62))))  # a kernel int64
        return t0, dt, n_steps, save_every

    def integration_method(self, method: str | None = None) -> str:
        """The integration method a run uses: `method` when given, else the model
        file's own (XMILE sim_specs), else "euler". ParameterError for an unknown one."""
        method = str(method or self.ir.method or "euler").lower()
        if method not in METHODS:
            raise ParameterError(f"unknown integration method '{method}'; use one of {sorted(METHODS)}")
        return method

    def _prepare(self, params, args, return_columns):
        p = self.parameter_vector(params)
        explicit = {ir.canonical_name(n) for n in (params or {})}
        vals = self.control_values(p, args, explicit)
        for name in ir.CONTROL_NAMES:
            if name in self._param_index:
                p[self._param_index[name]] = vals[name]
        t0, dt, n_steps, save_every = self._control(vals, args)
        if return_columns is None:
            names = self.output_names
        else:
            names = []
            for c in return_columns:
                key = ir.canonical_name(c)
                if key not in self.kernel.slots or self.schedule.model.variables[key].hidden:
                    raise ParameterError(f"'{c}' is not a variable of {self.path}")
                names.append(key)
        save_idx = np.array([self.kernel.slots[n] for n in names], dtype=np.int64)
        n_save = n_steps // save_every + 1
        return p, vals, t0, dt, n_steps, save_every, names, save_idx, n_save

    # -- structure decided by constants ------------------------------------------
    def structure(self, values: dict[str, float]) -> tuple:
        """The structural choices (ir.Decision) the constants `values` give; raises
        ParameterError, naming the function and its line, when they give none."""
        model = self._control_model
        try:
            return tuple(decide(model, d.rule, d.args, d.pos, values) for d in self.schedule.model.decisions)
        except ModelError as err:
            raise ParameterError(f"{err} (with this run's values)") from None

    def for_values(self, values: dict[str, float]) -> "Model":
        """This model, or the variant lowered with `values` when they change its structure
        (a SMOOTH N order, a DELAY N order reduced to whole TIME STEPs, ...): compiled once
        per structure, in memory and in the kernel cache."""
        if not self._structure:
            return self
        key = self.structure(values)
        variant = self._variants.get(key)
        if variant is None:
            if self._origin is None:
                raise ParameterError(f"{self.path}: these values change the model's structure, "
                                     "and this model was not loaded from a file it can be compiled from again")
            variant = self._origin.load_variant(values, key)
            if variant.schedule.constants != self.schedule.constants or variant._structure != key:
                raise AssertionError("a variant must keep the model's parameters")
            variant._variants = self._variants
            self._variants[key] = variant
        return variant

    def _values(self, p: np.ndarray, vals: dict[str, float]) -> dict[str, float]:
        return {**{c: float(x) for c, x in zip(self.schedule.constants, p)}, **vals}

    def run(self, params: dict | None = None, final_time: float | None = None,
            time_step: float | None = None, saveper: float | None = None,
            return_columns: list[str] | None = None, method: str | None = None, seed: int | None = None,
            changes=None, initial_time: float | None = None, strict: bool = False,
            return_timestamps=None, initial_condition="original", until: float | None = None) -> Result:
        """One run. `params` (by the modeller's names, see runtime/params.py): a constant's
        value; an auxiliary's or flow's, which replaces its equation; a lookup's points; a
        pandas Series of time for a time series; a subscripted name with one value for all
        its elements or one per element. `return_columns`: the variables to return (a
        subscripted name gives all its elements); `return_timestamps`: the times to return
        instead of SAVEPER's: a list, one time, or slice(start, stop, step) for a step (without
        final_time, a list or a time ends the run at its last time, as PySD). `initial_condition`: 'original', (t, {stock:
        value}), a `Result.final_state` to continue from, or 'current' (this model's last
        run's). `until`: stop at this time, FINAL TIME unchanged (what a stepper's steps
        need: an equation reading FINAL TIME sees the model's). `method`: 'euler' or 'rk4', any case. `seed` (an integer) varies the draws
        of the model's random functions; the same seed always gives the same run.
        `changes`: Vensim changes files (.cin paths or `Changes`), applied in order, before
        `params`. Every value given here gives the numbers of the model with that value
        written into its file: constants that decide the structure, and replaced equations,
        run a kernel compiled for them. `Result.warnings` lists what went wrong during the
        run (diagnostics.py); with `strict`, a value that becomes infinite or NaN raises
        NumericalError instead."""
        method = self.integration_method(method)
        constants, tables = self.read_changes(changes)
        plan = params_mod.resolve(self.names, params, params_mod.Plan(dict(constants), dict(tables)))
        if isinstance(initial_condition, str) and initial_condition.lower() in ("current", "c"):
            if self._last_state is None:
                raise ParameterError("initial_condition='current' continues this model's last run, "
                                     "and it has not run yet")
            initial_condition = self._last_state
        stocks = self.schedule.stocks
        if isinstance(initial_condition, State):
            stocks = self._variants.get(initial_condition.structure, self).schedule.stocks
        params_mod.initial(self.names, initial_condition, plan, stocks)
        if plan.initial_time is not None:
            if initial_time is not None and float(initial_time) != plan.initial_time:
                raise ParameterError(f"initial_time ({initial_time:g}) and the initial condition's time "
                                     f"({plan.initial_time:g}) differ")
            initial_time = plan.initial_time
        if final_time is None and until is None and return_timestamps is not None \
                and not isinstance(return_timestamps, slice):
            final_time = float(np.max(params_mod.timestamps(return_timestamps, 0.0, 0.0)))   # as PySD
        args = {"initial time": initial_time, "final time": final_time, "time step": time_step,
                "saveper": saveper}
        plan.stop = None if until is None else float(until)
        model = self.edited(plan.edits, plan.constants) if plan.edits else self
        result = model._run_plan(plan, args, return_columns, return_timestamps, method, seed, strict)
        self._last_state = result.final_state
        return result

    def edited(self, edits: Edits, values: dict[str, float]) -> "Model":
        """This model with the equations `edits` replaces (passes/edits.py), compiled once
        per edits (in memory and in the kernel cache); `values` for what decides structure."""
        model = self._edited.get(edits)
        if model is None:
            if self._origin is None:
                raise ParameterError(f"{self.path}: this run replaces equations, and this model was not "
                                     "loaded from a file it can be compiled from again")
            model = self._origin.load_edited(edits, values)
            self._edited[edits] = model
        return model

    def _run_plan(self, plan: params_mod.Plan, args: dict, return_columns, return_timestamps,
                  method: str, seed, strict: bool) -> Result:
        p = self.defaults.copy()
        for name, value in plan.constants.items():   # flat names, checked by params.resolve
            p[self._param_index[name]] = value
        vals = self.control_values(p, args, set(plan.constants) | plan.named)
        for name in ir.CONTROL_NAMES:
            if name in self._param_index:
                p[self._param_index[name]] = vals[name]
        model = self.for_values(self._values(p, vals)) if self._structure else self
        if model is not self:
            return model._run_plan(plan, args, return_columns, return_timestamps, method, seed, strict)
        run_vals = vals
        if plan.start is not None:
            # a continued run starts at the state's time; INITIAL TIME stays the model's
            self._check_continuable(plan.start, vals)
            run_vals = {**vals, "initial time": plan.start}
        if plan.stop is not None:
            if not run_vals["initial time"] <= plan.stop <= vals["final time"]:
                raise ParameterError(f"until = {plan.stop:g} is not between the run's first time "
                                     f"({run_vals['initial time']:g}) and FINAL TIME ({vals['final time']:g})")
            run_vals = {**run_vals, "final time": plan.stop}
        t0, dt, n_steps, save_every = self._control(run_vals, args)
        if return_columns is None:
            names = self.output_names
        else:
            names = params_mod.columns(self.names, return_columns, set(self.output_names))
        keep = None
        if return_timestamps is not None:
            want = params_mod.timestamps(return_timestamps, t0, t0 + n_steps * dt)
            save_every = 1
            if not self.kernel.dynamic_control:
                keep = self._steps_of(want, t0, dt, n_steps)
        stocks = list(self.schedule.stocks)
        save_idx = np.array([self.kernel.slots[n] for n in names + stocks], dtype=np.int64)
        n_save = n_steps // save_every + 1
        tab = self.table_vector(plan.tables)
        if seed is not None:
            p[-1] = _seed_value(np.array([seed]))[0]
        times, out, diag = self._simulate(p, tab, save_idx, t0, dt, n_steps, save_every, n_save, method)
        state = State(float(times[-1]), dict(zip(stocks, out[-1, len(names):].tolist())), self._structure,
                      self.path) if len(times) else None
        out = np.ascontiguousarray(out[:, :len(names)]) if stocks else out
        if return_timestamps is not None:
            if keep is None:
                keep = [self._saved_row(times, t) for t in want]
            times, out = times[keep], out[keep]
        lowered = self.schedule.model
        warnings = bad_numbers(lowered, names, times, out) + \
            watch_warnings(lowered, self.kernel.watches, diag, tab, self._watch_text)
        warnings.sort(key=lambda w: w.time)
        if strict and (err := strict_error(warnings)) is not None:
            raise err
        return Result(times, [self.display(n) for n in names], out, warnings, state)

    def _check_continuable(self, start: float, vals: dict) -> None:
        """A run continuing from a state: the state holds every stock, but not the pipeline
        of a DELAY FIXED, DELAY MATERIAL or DELAY INFORMATION."""
        buffers = [self.schedule.model.variables[n] for n in self.schedule.initial
                   if is_delay_fixed(self.schedule.model.variables[n])]
        if buffers:
            owner = buffers[0].display
            raise ParameterError(f"the model keeps a fixed delay's pipeline ({owner}), which a saved state "
                                 "does not hold: a run cannot continue from one; run from the start "
                                 "(a changed value can be a time series, see params)")
        if not start <= vals["final time"]:
            raise ParameterError(f"the state's time ({start:g}) is after FINAL TIME ({vals['final time']:g})")

    @staticmethod
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

    @staticmethod
    def _saved_row(times, t: float) -> int:
        hits = np.flatnonzero(np.isclose(times, t, rtol=0, atol=1e-9 * max(1.0, abs(t))))
        if not len(hits):
            raise ParameterError(f"time {t:g} is not a time of the run ({span_text(times)})")
        return int(hits[0])

    def _simulate(self, p, tab, save_idx, t0, dt, n_steps, save_every, n_save, method):
        """One kernel run: (saved times, saved values, the watches' diag)."""
        diag = np.empty(5 * len(self.kernel.watches))
        if not self.kernel.dynamic_control:
            limits.check_memory(f"a run of {n_save:,} saved times x {len(save_idx):,} variables",
                                8.0 * n_save * len(save_idx),
                                "save fewer times (a larger SAVEPER) or fewer variables (return_columns)")
            out = np.empty((n_save, len(save_idx)))
            _kernel_call(self._module.simulate, p, tab, out, save_idx, t0, dt, n_steps, save_every,
                         METHODS[method], diag)
            return t0 + np.arange(n_save) * (save_every * dt), out, diag
        # Control variables change during the run: the kernel saves Time too, and
        # we grow the output until it fits.
        idx = np.concatenate([[0], save_idx]).astype(np.int64)
        rows = max(n_save, 16)
        while True:
            limits.check_memory(f"a run of {rows:,} saved times x {len(idx):,} variables",
                                8.0 * rows * len(idx), "save fewer times (a larger SAVEPER) or fewer "
                                "variables (return_columns)")
            out = np.empty((rows, len(idx)))
            saved = _kernel_call(self._module.simulate, p, tab, out, idx, t0, dt, n_steps,
                                 save_every, METHODS[method], diag)
            if saved >= 0:
                break
            if rows > 50_000_000:
                raise ParameterError("the run saves more than 50 million rows; check FINAL TIME and SAVEPER")
            rows *= 4
        return out[:saved, 0].copy(), out[:saved, 1:], diag

    # -- changes files ------------------------------------------------------
    def apply_changes(self, changes) -> tuple[dict[str, float], np.ndarray]:
        """Constants to set and the lookup-table vector, after Vensim changes files."""
        constants, tables = self.read_changes(changes)
        return constants, self.table_vector(tables)

    def read_changes(self, changes) -> tuple[dict[str, float], dict[str, ir.LookupTable]]:
        """Constants to set and lookup tables to replace (by name), after Vensim changes
        files (.cin paths or `Changes`), checked against the model."""
        if changes is None:
            return {}, {}
        items = [changes] if isinstance(changes, (str, os.PathLike, Changes)) else list(changes)
        constants: dict[str, float] = {}
        tables: dict[str, ir.LookupTable] = {}
        lowered = self.schedule.model.variables
        for item in items:
            ch = item if isinstance(item, Changes) else read_changes(item)
            for name, value in ch.constants.items():
                if name not in self._param_index:
                    what = "not a variable" if name not in lowered else f"a {lowered[name].kind.value}"
                    raise ParameterError(f"{ch.source}:{ch.lines[name]}: '{name}' is {what} of "
                                         f"{self.path}, not a constant")
                constants[name] = value
            for name, table in ch.tables.items():
                var = lowered.get(name)
                if var is None or var.kind is not ir.Kind.LOOKUP:
                    raise ParameterError(f"{ch.source}:{ch.lines[name]}: '{name}' is not a lookup of {self.path}")
                tables[name] = table
        return constants, tables

    def table_vector(self, tables: dict[str, ir.LookupTable] | None = None) -> np.ndarray:
        """The kernel's lookup-table vector with `tables` (by name) replacing the model's."""
        if not tables:
            return self.kernel.tables
        return table_vector([tables.get(key, t) if key else t for key, t in self.kernel.lookups])

    def _tables_of(self, tab: np.ndarray) -> dict[str, ir.LookupTable]:
        """The named lookup tables in a table vector of this model (inverse of table_vector)."""
        out = {}
        for k, (key, _) in enumerate(self.kernel.lookups):
            if key:
                off, n = int(tab[2 * k]), int(tab[2 * k + 1])
                out[key] = ir.LookupTable(tuple(tab[off:off + n]), tuple(tab[off + n:off + 2 * n]))
        return out

    # -- batches ------------------------------------------------------------
    def parameter_matrix(self, columns: dict[str, np.ndarray] | None = None, n: int | None = None,
                         seeds: np.ndarray | None = None) -> np.ndarray:
        """(runs, constants + 1): every constant at its default, the named ones set per run;
        the last column is each run's seed for the model's random functions."""
        columns = {name: np.asarray(values, dtype=np.float64) for name, values in (columns or {}).items()}
        lengths = {len(v) for v in columns.values()}
        if len(lengths) > 1:
            raise ParameterError(f"parameter columns have different lengths: {sorted(lengths)}")
        runs = n if n is not None else (lengths.pop() if lengths else 1)
        P = np.tile(self.defaults, (runs, 1))
        for name, values in columns.items():
            idx = self.param_index(name)
            if self.schedule.constants[idx] in ir.CONTROL_NAMES:
                raise ParameterError(f"'{name}' is a simulation control; it cannot vary between runs")
            P[:, idx] = values
        if seeds is not None:
            P[:, -1] = _seed_value(np.asarray(seeds))
        return P

    def run_batch(self, P: np.ndarray, outputs: list[str] | None = None, times="all",
                  final_time=None, time_step=None, saveper=None, method: str | None = None,
                  tables: np.ndarray | None = None, out: np.ndarray | None = None,
                  initial_time=None) -> BatchResult:
        """Run every row of P (from `parameter_matrix`) in parallel.

        Returns a BatchResult whose `values` is (runs, saved times, outputs);
        `times` is "all", "final", or a list of saved times to keep. `out`: a
        C-contiguous float64 array of shape (runs, rows, outputs), `rows` as in
        the BatchResult of the same call without it, for the kernel to write
        into; with times="all", `values` is then `out` itself. Rows whose
        constants change the model's structure (a SMOOTH N order) run on the
        kernel compiled for it; every row must give the same control values."""
        method = self.integration_method(method)
        if self.kernel.dynamic_control:
            raise ParameterError("this model changes FINAL TIME, TIME STEP or SAVEPER during the run; "
                                 "batch runs need them constant")
        P = np.ascontiguousarray(P, dtype=np.float64)
        args = {"initial time": initial_time, "final time": final_time, "time step": time_step,
                "saveper": saveper}
        first = P[0] if len(P) else self.defaults
        p, vals, t0, dt, n_steps, save_every, names, save_idx, n_save = self._prepare(
            None, args, outputs)
        vals = self.control_values(first, args)
        self._check_same_control(P, vals, args)
        t0, dt, n_steps, save_every = self._control(vals, args)
        n_save = n_steps // save_every + 1
        P = P.copy() if any(n in self._param_index for n in ir.CONTROL_NAMES) else P
        for name in ir.CONTROL_NAMES:
            if name in self._param_index:
                P[:, self._param_index[name]] = vals[name]
        groups = self._structure_groups(P, vals)
        if len(groups) > 1 or groups[0][0] is not self:
            return self._run_groups(groups, P, outputs, times, args, method, tables, out, n_save)
        all_times = t0 + np.arange(n_save) * (save_every * dt)
        keep = None
        if isinstance(times, str) and times == "final":
            save_every, n_save = max(n_steps, 1), (2 if n_steps else 1)
            keep = [n_save - 1]
            all_times = np.array([t0, t0 + n_steps * dt])[:n_save]
        elif not (isinstance(times, str) and times == "all"):
            keep = []
            for t in times:
                hits = np.flatnonzero(np.isclose(all_times, float(t), rtol=0, atol=1e-9 * max(1.0, abs(t))))
                if not len(hits):
                    raise ParameterError(f"time {t} is not a saved time (from {all_times[0]:g} every "
                                         f"{save_every * dt:g} to {all_times[-1]:g})")
                keep.append(int(hits[0]))
        shape = (P.shape[0], n_save, len(names))
        if out is None:
            limits.check_memory(f"{P.shape[0]:,} runs x {n_save:,} saved times x {len(names):,} outputs",
                                8.0 * P.shape[0] * n_save * len(names),
                                "save fewer times (times='final', a larger SAVEPER), fewer outputs, or "
                                "run a sweep in chunks keeping statistics only")
            out = np.empty(shape)
        elif out.shape != shape or out.dtype != np.float64 or not out.flags.c_contiguous \
                or not out.flags.writeable:
            raise ValueError(f"out must be a writeable C-contiguous float64 array of shape {shape}, "
                             f"not {out.dtype} {out.shape}")
        tab = self.kernel.tables if tables is None else tables
        diag = np.empty((P.shape[0], 5 * len(self.kernel.watches)))
        _kernel_call(self._module.simulate_batch, P, tab, out, save_idx, t0, dt, n_steps, save_every,
                     METHODS[method], diag)
        if keep is not None:
            out, all_times = out[:, keep, :], all_times[keep]
        return BatchResult(all_times, [self.display(n) for n in names], out, n_save, warning_counts(diag))

    def _check_same_control(self, P: np.ndarray, vals: dict, args: dict) -> None:
        """A batch runs every row over the same times: a constant that a control variable
        is computed from may not vary between its rows."""
        if len(P) < 2 or not self._derived:
            return
        reads = constants_read(self._control_model, [self._control_model.variables[n].expr
                                                     for n in self._derived if args.get(n) is None])
        for c in sorted(reads):
            i = self._param_index.get(c)
            if i is not None and c not in ir.CONTROL_NAMES and np.any(P[:, i] != P[0, i]):
                users = [n.upper() for n in self._derived
                         if c in constants_read(self._control_model, [self._control_model.variables[n].expr])]
                raise ParameterError(f"'{self.display(c)}' varies between runs, but {', '.join(users)} "
                                     "is computed from it, and the runs of a batch share their times")

    def _structure_groups(self, P: np.ndarray, vals: dict) -> list[tuple["Model", np.ndarray | None]]:
        """[(model, rows)]: the rows of P by the kernel their structure needs (rows None: all)."""
        if not self._structure:
            return [(self, None)]
        cols = self._structure_inputs
        if not len(P) or not len(cols):
            return [(self.for_values(self._values(P[0] if len(P) else self.defaults, vals)), None)]
        combos, inverse = np.unique(P[:, cols], axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        by_model: dict[int, tuple[Model, list]] = {}
        for k in range(len(combos)):
            row = P[int(np.flatnonzero(inverse == k)[0])]
            model = self.for_values(self._values(row, vals))
            by_model.setdefault(id(model), (model, []))[1].append(k)
        if len(by_model) == 1:
            return [(next(iter(by_model.values()))[0], None)]
        return [(m, np.flatnonzero(np.isin(inverse, ks))) for m, ks in by_model.values()]

    def _run_groups(self, groups, P, outputs, times, args, method, tables, out, n_save) -> BatchResult:
        """run_batch over groups of rows, each on its own kernel, into one result."""
        res = None
        named = None if tables is None else self._tables_of(tables)
        kw = dict(final_time=args["final time"], time_step=args["time step"], saveper=args["saveper"],
                  initial_time=args["initial time"], method=method)
        for model, rows in groups:
            tab = None if named is None else model.table_vector(named)
            part = model.run_batch(P if rows is None else P[rows], outputs, times, tables=tab, **kw)
            if res is None:
                shape = (len(P),) + part.values.shape[1:]
                if out is not None and out.shape != shape:
                    raise ValueError(f"out must be a writeable C-contiguous float64 array of shape {shape}, "
                                     f"not {out.dtype} {out.shape}")
                values = out if out is not None else np.empty(shape)
                res = BatchResult(part.time, part.columns, values, part.rows, np.zeros(len(P), dtype=np.int64))
            if rows is None:
                res.values[...] = part.values
                res.warnings[...] = part.warnings
            else:
                res.values[rows] = part.values
                res.warnings[rows] = part.warnings
        return res


def _kernel_call(fn, *args):
    """A kernel call; its own allocations (DELAY FIXED buffers, sized by the delay time
    over TIME STEP) failing is reported like any other run too big for the memory."""
    try:
        return fn(*args)
    except MemoryError:
        raise ParameterError(f"the run needs more memory than the {limits.available_memory() / 2**30:.1f} GB "
                             "available (its DELAY FIXED buffers hold delay time / TIME STEP values "
                             "each): use a larger TIME STEP or shorter delays") from None


def _seed_value(seeds: np.ndarray) -> np.ndarray:
    """Integer seeds as exactly representable float64 (the parameter vector's type)."""
    return (seeds.astype(np.uint64) % np.uint64(2 ** 52)).astype(np.float64)


def _literal(var: ir.Variable) -> float:
    e = var.expr
    if isinstance(e, ir.UnaryOp):
        return -e.operand.value
    return e.value


# ---- loading --------------------------------------------------------------

def compile_model(text: str, filename: str, data: DataOptions | None = None) -> tuple[ir.Model, Schedule, Kernel]:
    """The pure part of loading: text -> IR -> lowered IR -> order -> kernel source."""
    return _compile(text, filename, data)[:3]


def _compile(text: str, filename: str, data: DataOptions | None = None,
             values: dict[str, float] | None = None,
             edits: Edits | None = None) -> tuple[ir.Model, Schedule, Kernel, dict[str, ir.Expr]]:
    """compile_model, lowering with `values` where they decide the structure (see
    lower.RULES) and the equations `edits` replaces, and the control variables the
    runtime computes (see _pin_controls)."""
    model = parse_source(text, filename)
    lowered = lower(model, data, values, edits)
    sched = schedule(lowered)
    lowered, derived = _pin_controls(sched)
    if derived:
        sched = schedule(lowered)
    return model, sched, generate(sched), derived


def _pin_controls(sched: Schedule) -> tuple[ir.Model, dict[str, ir.Expr]]:
    """Control variables computed from constants before the run (SAVEPER = TIME STEP)
    become parameters that the runtime computes for each run from their equations, so
    that a run's own SAVEPER (or FINAL TIME ...) reaches every equation that reads it,
    as writing it into the model would. Returns the model and their equations."""
    model = sched.model
    derived = {}
    variables = dict(model.variables)
    for name in ir.CONTROL_NAMES:
        var = variables.get(name)
        if var is None or var.kind is ir.Kind.CONSTANT or name in sched.dynamic or var.initial is not None:
            continue
        try:
            value = constant_value(model, name, {})
        except ModelError:
            continue  # computed in a way only the kernel knows: a run's own value is refused
        derived[name] = var.expr
        variables[name] = replace(var, kind=ir.Kind.CONSTANT, expr=ir.Num(value))
    return replace(model, variables=variables), derived


def _import_kernel(path: Path, key: str):
    name = f"smartspec_kernel_{key}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class _Origin:
    """What a loaded model was compiled from, to compile it again with other structure."""
    path: Path
    text: str
    key: str
    folder: Path
    data: DataOptions | None = None    # data files and aliases given to load
    edits: Edits | None = None         # equations a run replaces (passes/edits.py)

    def load(self, values: dict[str, float] | None, key: str, log=None) -> Model:
        meta_path = self.folder / key / "model.pkl"
        cached = meta_path.is_file()
        if cached:
            with open(meta_path, "rb") as f:
                model, sched, kernel, derived = pickle.load(f)
        else:
            model, sched, kernel, derived = _compile(self.text, str(self.path), self.data, values, self.edits)
            meta_path.parent.mkdir(parents=True, exist_ok=True)
            write_bytes(meta_path, pickle.dumps((model, sched, kernel, derived),
                                                  protocol=pickle.HIGHEST_PROTOCOL))
        # Kernels are kept by their source, which holds no constant's value: a model edited
        # in its constants, or lowered again with the same structure, reuses the machine code.
        source_key = hashlib.sha256((_FINGERPRINT + "\0" + kernel.source).encode()).hexdigest()[:24]
        kernel_path = self.folder / f"k{source_key}" / "kernel.py"
        if not kernel_path.is_file():
            if log is not None:
                log(f"{self.path}: compiling {len(sched.initial) + len(sched.dynamic)} equations to "
                    f"machine code (once: later loads use the kernel cache in {self.folder})")
            kernel_path.parent.mkdir(parents=True, exist_ok=True)
            write_bytes(kernel_path, kernel.source.encode())
        module = _import_kernel(kernel_path, source_key)
        m = Model(str(self.path), model, sched, kernel, module, 0.0, cached, derived, self)
        # First call compiles (or loads the cached machine code); count it as compile time.
        m.run(return_columns=[])
        return m

    def load_edited(self, edits: Edits, values: dict[str, float]) -> Model:
        key = hashlib.sha256((self.key + "\0edits\0" + edits.key()).encode()).hexdigest()[:24]
        return replace(self, key=key, edits=edits).load(values, key)

    def load_variant(self, values: dict[str, float], structure: tuple) -> Model:
        key = hashlib.sha256((self.key + "\0" + repr(structure)).encode()).hexdigest()[:24]
        return self.load(values, key)


def load(path: str | os.PathLike, cache_dir: str | os.PathLike | None = None, log=None,
         data: DataOptions | None = None) -> Model:
    """Parse, check, order and compile a model (Vensim .mdl or XMILE, see
    `frontend.source.model_format`); kernels are cached on disk.
    `log(message)`, when given, hears about a compile before it starts (large
    models take seconds to tens of seconds, once). `data`: data files and file
    aliases for the model's external data (external.DataOptions)."""
    global _FINGERPRINT
    started = time.perf_counter()
    path = Path(path)
    try:
        text = read_model_text(path)
    except OSError as err:
        raise ModelError(f"{path}: cannot read model: {err.strerror or err}") from None
    if _FINGERPRINT is None:
        _FINGERPRINT = _compiler_fingerprint()
    # data files the model reads are baked in at compile time, so they are part of the key
    digest = external_fingerprint(path, text, data)
    key = hashlib.sha256((_FINGERPRINT + "\0" + str(path) + "\0" + text + "\0" + digest).encode()).hexdigest()[:24]
    folder = Path(cache_dir) if cache_dir else cache_root()
    m = _Origin(path, text, key, folder, data).load(None, key, log)
    m.compile_seconds = time.perf_counter() - started
    return m
