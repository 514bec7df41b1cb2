"""Pass 5: runtime. A compiled model (`Model`) runs its kernel once or in batches and
returns results as numpy arrays (`result.py`); `loader.py` builds it."""
from __future__ import annotations

import math
import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from .. import ir, limits
from ..backend.codegen import Kernel, table_vector
from ..passes.consteval import constant_value, constants_read, control_issues
from ..frontend.changes import Changes, read_changes
from ..errors import ModelError, ParameterError, did_you_mean, finite_number
from ..passes.elements import NUMBERS, literals, overlay, positions, select_shown, slots_of
from ..passes.stateful import decide
from ..passes.order import Schedule
from ..passes.edits import Edits
from . import doc as doc_table, params as params_mod, single
from .diagnostics import saveper_warning, warning_counts
from .params import State
from .result import BatchResult, Result, VariableInfo
from .single import METHODS, kernel_call as _kernel_call, seed_value as _seed_value
from .stepper import Stepper
from .tiers import Tiers


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
                 tiers: Tiers, compile_seconds: float, cached: bool, derived: dict | None = None,
                 origin=None):  # loader._Origin: what to compile again for other structure
        self.path = path
        self.ir = source_model
        self.schedule = sched
        self.kernel = kernel
        self._tiers = tiers
        self.compile_seconds = compile_seconds
        self.cached = cached               # the compiled model came from the kernel cache
        self.kernel_compiled = False       # the load compiled the kernel to machine code (loader.py)
        lowered = sched.model.variables
        self._outputs = None   # (names, displayed names) of the variables a run returns by default
        # the parameter vector: every constant, then the run seed (0 unless a sweep sets it)
        self.defaults = np.array(literals(lowered, sched.constants) + [0.0], dtype=np.float64)
        self._param_index = positions(sched.constants)
        # control variables the runtime computes for each run from their equations (see loader._pin_controls)
        self._derived = dict(derived or {})
        self._control_model = ir.Model(sched.model.source, overlay(lowered, {
            n: replace(lowered[n], kind=ir.Kind.AUXILIARY, expr=e) for n, e in self._derived.items()}))
        # structure read from constants (a SMOOTH N order): other values run another kernel
        self._origin = origin
        self._structure = tuple(d.result for d in sched.model.decisions)
        reads = constants_read(self._control_model, [a for d in sched.model.decisions for a in d.args])
        self._structure_inputs = np.array(sorted(self._param_index[c] for c in reads
                                                 if c in self._param_index), dtype=np.int64)
        self._variants: dict[tuple, Model] = {self._structure: self}
        self._watch_text: dict = {}   # diagnostics.run_warnings' words (per watch, per run)
        # A run's controls depend only on these constants and its own arguments: computed once
        # per distinct set of them (small models spend more time here than in the kernel).
        control_exprs = [self._control_model.variables[n].expr for n in ir.CONTROL_NAMES
                         if n in self._control_model.variables]
        reads = constants_read(self._control_model, control_exprs) | set(ir.CONTROL_NAMES)
        self._control_inputs = np.array(sorted(self._param_index[c] for c in reads if c in self._param_index),
                                        dtype=np.int64)
        self._control_cache: dict[tuple, tuple] = {}
        self._default_columns = None   # (names, save_idx, displayed names) of a run's default outputs
        self._run_columns = None       # the same for one run (single.py), every stock after them
        self._edited: dict[Edits, Model] = {}      # this model with equations a run replaces
        self._names: params_mod.Names | None = None
        self.last_state: State | None = None       # initial_condition='current' continues it

    @property
    def output_names(self) -> list[str]:
        """The flat names of the variables a run returns by default (no hidden one, no lookup)."""
        return self._output_columns()[0]

    def _output_columns(self) -> tuple[list[str], list[str]]:
        if self._outputs is None:
            self._outputs = select_shown(self.schedule.model.variables,
                                         lambda v: not v.hidden and v.kind is not ir.Kind.LOOKUP)
        return self._outputs

    @property
    def variables(self) -> list[VariableInfo]:
        return [VariableInfo(v.display, v.kind.value, v.units, v.comment) for v in self.ir.variables.values()]

    @property
    def constants(self) -> dict[str, float]:
        lowered = self.schedule.model.variables
        # not the unused elements of an array's hidden numbers (passes/elements.py's NUMBERS)
        return {lowered[c].display: float(x) for c, x in zip(self.schedule.constants, self.defaults)
                if not c.endswith(NUMBERS)}

    def display(self, name: str) -> str:
        return self.schedule.model.variables[name].display

    @property
    def names(self) -> params_mod.Names:
        """The model's variables by the modeller's names (subscripted ones' elements too)."""
        if self._names is None:
            self._names = params_mod.Names(self.ir, self.schedule.model, self.path)
        return self._names

    # -- documentation (runtime/doc.py) ------------------------------------------
    def doc_rows(self) -> list[doc_table.DocRow]:
        """The documentation table, one DocRow per variable, without pandas."""
        return doc_table.rows(self.ir)

    @property
    def doc(self):
        """The documentation table as a pandas DataFrame, as PySD's `model.doc`: Real Name,
        Name, Units, Limits, Type, Subtype, Comment, Subscripts."""
        return doc_table.frame(self.doc_rows())

    @property
    def dependencies(self):
        """The networkx DiGraph of the model's variables: u -> v where v's equation reads u."""
        return doc_table.dependencies(self.ir)

    def stepper(self, params=None, return_columns=None, initial_condition="original", final_time=None,
                time_step=None, saveper=None, method=None) -> Stepper:
        """PySD's set_stepper: runs the model a few time steps at a time (`Stepper.step`),
        values changed between steps (runtime/stepper.py)."""
        return Stepper(self, params, return_columns, initial_condition, final_time, time_step, saveper, method)

    # -- parameters -------------------------------------------------------
    def param_index(self, name: str) -> int:
        key = ir.canonical_reference(name)
        if key in self._param_index:
            var = self.schedule.model.variables[key]
            if var.unchangeable:
                raise ParameterError(f"'{var.display}' is defined with '==' at {var.pos}: Vensim's mark "
                                     "of a value that a run may not change")
            return self._param_index[key]
        var = self.schedule.model.variables.get(key)
        if var is None and key.endswith("]"):
            self.names.elements(name, settable=True)   # the element's own error (a partial definition's gap)
        if var is None:
            constants = {c: self.schedule.model.variables[c].display for c in self._param_index
                         if c in self.schedule.model.variables}
            raise ParameterError(f"'{name}' is not a variable of {self.path}" + did_you_mean(key, constants))
        article = "an" if var.kind.value[0] in "aeiou" else "a"
        raise ParameterError(f"'{var.display}' is {article} {var.kind.value}, not a constant of the model; "
                             "only constants can be set")

    def parameter_vector(self, params: dict | None = None) -> np.ndarray:
        p = self.defaults.copy()
        for name, value in (params or {}).items():
            p[self.param_index(name)] = finite_number(f"'{name}'", value)
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

    def control_source(self, name: str, args: dict[str, float | None]) -> str:
        """Where the control `name` of a run comes from, as ' (...)' for a message."""
        if args.get(name) is not None:
            return f" ({name.upper()} as given to this run)"
        pos = self.schedule.model.variables[name].pos if name in self.schedule.model.variables else None
        return f" ({name.upper()} is defined at {pos})" if pos else ""

    def saveper_warning(self, vals: dict[str, float], args: dict[str, float | None], save_every: int):
        """diagnostics.saveper_warning for a run with control values `vals` (None when
        SAVEPER is a whole number of TIME STEPs)."""
        where = "".join(self.control_source(n, args) for n in ("saveper", "time step"))
        return saveper_warning(vals["saveper"], vals["time step"], save_every, vals["initial time"], where)

    def _control(self, vals: dict[str, float], args: dict[str, float | None]) -> tuple:
        t0, t1, dt, save = (vals[n] for n in ir.CONTROL_NAMES)

        def defined(name):
            return self.control_source(name, args)
        for name, value in zip(ir.CONTROL_NAMES, (t0, t1, dt, save)):
            finite_number(name.upper(), value, note=defined(name))
        for name, message in control_issues(t0, t1, dt, save):
            raise ParameterError(message + defined(name))
        n_steps = int(math.floor((t1 - t0) / dt + 1e-9))
        save_every = max(1, int(round(min(save / dt, 2.0 ** 62))))  # a kernel int64
        return t0, dt, n_steps, save_every

    def integration_method(self, method: str | None = None) -> str:
        """The integration method a run uses: `method` when given, else the model
        file's own (XMILE sim_specs), else "euler". ParameterError for an unknown one."""
        method = str(method or self.ir.method or "euler").lower()
        if method not in METHODS:
            raise ParameterError(f"unknown integration method '{method}'; use one of {sorted(METHODS)}")
        return method

    def run_controls(self, p: np.ndarray, args: dict, explicit: set[str]) -> tuple[dict, tuple]:
        """(control_values, _control) of a run with parameter vector p, whose control values
        it sets; both depend only on a few constants and the run's own arguments, so they
        are computed once per distinct set of them (small models spend more time here than
        in the kernel)."""
        key = (p[self._control_inputs].tobytes(), tuple(args.values()),
               frozenset(explicit.intersection(self._derived)))
        cached = self._control_cache.get(key)
        if cached is None:
            vals = self.control_values(p, args, explicit)
            cached = vals, self._control(vals, args)
            if len(self._control_cache) < 256:
                self._control_cache[key] = cached
        vals = cached[0]
        for name in ir.CONTROL_NAMES:
            if name in self._param_index:
                p[self._param_index[name]] = vals[name]
        return cached

    def _prepare(self, params, args, return_columns):
        p = self.parameter_vector(params)
        explicit = {ir.canonical_reference(n) for n in (params or {})}
        vals, (t0, dt, n_steps, save_every) = self.run_controls(p, args, explicit)
        if return_columns is None:
            if self._default_columns is None:
                names, shown = self._output_columns()
                self._default_columns = (names, np.array(slots_of(self.kernel.slots, names), dtype=np.int64),
                                         shown)
            names, save_idx, _ = self._default_columns
        else:
            names = self.output_columns(return_columns)
            save_idx = np.array([self.kernel.slots[n] for n in names], dtype=np.int64)
        n_save = n_steps // save_every + 1
        return p, vals, t0, dt, n_steps, save_every, names, save_idx, n_save

    def output_columns(self, outputs) -> list[str]:
        """The flat names of the kernel's values `outputs` name (a batch's, a sweep's): a
        variable or element, or a subscripted variable whole or through a range, each of its
        elements (runtime/params.py::columns, as a run's return_columns)."""
        names: list[str] = []
        for c in outputs:
            key = ir.canonical_reference(c)
            if key in self.kernel.slots and not self.schedule.model.variables[key].hidden:
                names.append(key)
            else:
                names += params_mod.columns(self.names, [c], self.kernel.slots)
        return names

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

    @property
    def interpreter_unsupported(self) -> str | None:
        """Why the interpreter cannot run this model (its runs then use the compiled kernel), or None."""
        self._tiers.tape()
        return self._tiers.unsupported

    def choose_tier(self, tier: str = "auto", runs: int = 1, steps: int = 1) -> str:
        """The tier ("interpreter" or "compiled") that runs `runs` runs of `steps` steps when
        `tier` ("auto", "interpreter" or "compiled") is asked for; see runtime/tiers.py."""
        return self._tiers.choose(tier, runs, steps)

    def _values(self, p: np.ndarray, vals: dict[str, float]) -> dict[str, float]:
        return {**{c: float(x) for c, x in zip(self.schedule.constants, p)}, **vals}

    @property
    def structure_key(self) -> tuple:
        """The structural choices this kernel was lowered with (ir.Decision results)."""
        return self._structure

    def variant(self, structure: tuple) -> "Model":
        """The variant of this model already compiled for `structure` (or this model)."""
        return self._variants.get(structure, self)

    def param_slot(self, name: str) -> int:
        """The parameter vector's index of the constant with the flat canonical name `name`."""
        return self._param_index[name]

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

    def run(self, params: dict | None = None, final_time: float | None = None,
            time_step: float | None = None, saveper: float | None = None,
            return_columns: list[str] | None = None, method: str | None = None, seed: int | None = None,
            changes=None, initial_time: float | None = None, strict: bool = False,
            return_timestamps=None, initial_condition="original", until: float | None = None,
            tier: str = "auto") -> Result:
        """One run (runtime/single.py). `params`, by the modeller's names (runtime/params.py):
        a constant's value; an auxiliary's or flow's, which replaces its equation; a lookup's
        points (a pandas Series or (xs, ys)); a pandas Series of time, a time series; for a
        subscripted name one value for all its elements or one per element (list, array,
        xarray.DataArray, dict). `return_columns`: the variables to return (a subscripted
        name gives all its elements). `return_timestamps`: the times to return instead of
        SAVEPER's: a list, one time, or slice(start, stop, step); without final_time, a list
        or a time ends the run at its last time (as PySD). `initial_condition`: 'original',
        (t, {stock: value}) (INITIAL TIME = t, the other stocks from their equations), a
        `Result.final_state` to continue from, or 'current' (this model's last run's).
        `until`: stop at this time, FINAL TIME unchanged (a stepper's steps; a run to be
        continued ends so: its buffers then cover FINAL TIME, see single._check_regions). `method`:
        'euler', 'rk4' (Vensim's RK4 Fixed) or 'rk4auto' (Vensim's RK4 Auto: backend/kernel_step.py),
        any case. `seed` (an integer) varies the draws of the model's
        random functions; the same seed always gives the same run. `changes`: Vensim changes
        files (.cin paths or `Changes`), applied in order, before `params`. Every value given
        here gives the numbers of the model with that value written into its file: constants
        that decide the structure, and replaced equations, run a kernel compiled for them.
        `Result.warnings` lists what went wrong during the run (diagnostics.py); with
        `strict`, a value that becomes infinite or NaN raises NumericalError instead.
        `tier`: "auto" (the compiled kernel once it is ready, the interpreter until then),
        "interpreter" or "compiled" (runtime/tiers.py); `Result.tier` says which ran."""
        return single.run(self, params, final_time, time_step, saveper, return_columns, method, seed,
                          changes, initial_time, strict, return_timestamps, initial_condition, until, tier)

    # -- changes files ------------------------------------------------------
    def apply_changes(self, changes) -> tuple[dict[str, float], np.ndarray]:
        """Constants to set and the lookup-table vector, after Vensim changes files."""
        constants, tables = self.read_changes(changes)
        return constants, self.table_vector(tables)

    def read_changes(self, changes, notices: list[str] | None = None
                     ) -> tuple[dict[str, float], dict[str, ir.LookupTable]]:
        """Constants to set and lookup tables to replace (by name), after Vensim changes
        files (.cin paths or `Changes`), checked against the model; what reading their
        tables changed (a table read in x order) is appended to `notices`."""
        if changes is None:
            return {}, {}
        items = [changes] if isinstance(changes, (str, os.PathLike, Changes)) else list(changes)
        constants: dict[str, float] = {}
        tables: dict[str, ir.LookupTable] = {}
        for item in items:
            ch = item if isinstance(item, Changes) else read_changes(item)
            if notices is not None:
                notices += ch.notices
            for name, value in ch.constants.items():
                for flat in self.cin_constants(ch.written.get(name, name), f"{ch.source}:{ch.lines[name]}"):
                    constants[flat] = value
            for name, table in ch.tables.items():
                for flat in params_mod.changed_lookups(self.names, name, ch.written.get(name, name),
                                                       f"{ch.source}:{ch.lines[name]}"):
                    tables[flat] = table
        return constants, tables

    def cin_constants(self, name: str, at: str) -> list[str]:
        """The constants a changes file's line `name = number` (at `at`, file:line) sets
        (runtime/params.py::changed_constants: a subscripted constant's elements)."""
        return params_mod.changed_constants(self.names, self._param_index, ir.canonical_reference(name), name, at)

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
                         seeds: np.ndarray | None = None, first_run: int = 0) -> np.ndarray:
        """(runs, constants + 1): every constant at its default, the named ones set per run;
        the last column is each run's seed for the model's random functions. ParameterError
        for a value that is not a finite number, naming the constant and the run (counted
        from `first_run` + 1)."""
        if columns is not None and not isinstance(columns, dict):
            raise ParameterError(f"parameter_matrix takes {{constant name: a value per run}}, not "
                                 f"{type(columns).__name__} {columns!r:.80}")
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
        self.check_finite_rows(P, first_run)
        return P

    def check_finite_rows(self, P: np.ndarray, first_run: int = 0) -> None:
        """ParameterError for the first value of the parameter matrix P that is not a
        finite number (errors.finite_number), naming its constant and its run."""
        if np.isfinite(P.sum()):   # one pass, no temporary (an overflowing sum is checked below)
            return
        bad = np.argwhere(~np.isfinite(P))
        if len(bad):
            r, c = (int(i) for i in bad[0])
            what = f"'{self.display(self.schedule.constants[c])}'" if c < len(self.schedule.constants) \
                else "the seed"
            finite_number(what, float(P[r, c]), note=f" (run {first_run + r + 1})")

    def run_batch(self, P: np.ndarray, outputs: list[str] | None = None, times="all",
                  final_time=None, time_step=None, saveper=None, method: str | None = None,
                  tables: np.ndarray | None = None, out: np.ndarray | None = None,
                  initial_time=None, tier: str = "auto") -> BatchResult:
        """Run every row of P (from `parameter_matrix`) in parallel.

        Returns a BatchResult whose `values` is (runs, saved times, outputs);
        `times` is "all", "final", or a list of saved times to keep. `out`: a
        C-contiguous float64 array of shape (runs, rows, outputs), `rows` as in
        the BatchResult of the same call without it, for the kernel to write
        into; with times="all", `values` is then `out` itself. Rows whose
        constants change the model's structure (a SMOOTH N order) run on the
        kernel compiled for it; every row must give the same control values. `tier`: as in
        `run`; "auto" runs a batch whose interpreted time would exceed a compile on the
        compiled kernel (`BatchResult.tier` says which ran)."""
        method = self.integration_method(method)
        if self.kernel.dynamic_control:
            raise ParameterError("this model changes FINAL TIME, TIME STEP or SAVEPER during the run; "
                                 "batch runs need them constant")
        P = np.ascontiguousarray(P, dtype=np.float64)
        self.check_finite_rows(P)
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
            return self._run_groups(groups, P, outputs, times, args, method, tables, out, n_save, tier)
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
        tab = self.kernel.tables if tables is None else np.ascontiguousarray(tables, dtype=np.float64)
        diag = np.empty((P.shape[0], 5 * len(self.kernel.watches)))
        used = self._tiers.choose(tier, P.shape[0], n_steps)
        _kernel_call(self, self._tiers.simulate_batch(used), P, tab, out, save_idx, t0, dt, n_steps, save_every,
                     METHODS[method], diag)
        if keep is not None:
            out, all_times = out[:, keep, :], all_times[keep]
        return BatchResult(all_times, [self.display(n) for n in names], out, n_save, warning_counts(diag), used)

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

    def _run_groups(self, groups, P, outputs, times, args, method, tables, out, n_save, tier) -> BatchResult:
        """run_batch over groups of rows, each on its own kernel, into one result."""
        res = None
        named = None if tables is None else self._tables_of(tables)
        kw = dict(final_time=args["final time"], time_step=args["time step"], saveper=args["saveper"],
                  initial_time=args["initial time"], method=method, tier=tier)
        for model, rows in groups:
            tab = None if named is None else model.table_vector(named)
            part = model.run_batch(P if rows is None else P[rows], outputs, times, tables=tab, **kw)
            if res is None:
                shape = (len(P),) + part.values.shape[1:]
                if out is not None and out.shape != shape:
                    raise ValueError(f"out must be a writeable C-contiguous float64 array of shape {shape}, "
                                     f"not {out.dtype} {out.shape}")
                values = out if out is not None else np.empty(shape)
                res = BatchResult(part.time, part.columns, values, part.rows, np.zeros(len(P), dtype=np.int64),
                                  part.tier)
            if rows is None:
                res.values[...] = part.values
                res.warnings[...] = part.warnings
            else:
                res.values[rows] = part.values
                res.warnings[rows] = part.warnings
        return res

