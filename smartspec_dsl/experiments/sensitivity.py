"""Sensitivity indices of a Morris or Saltelli sweep (the `sensitivity` extra).

The sweep runs the design (`samplers.Morris`, `samplers.Saltelli`) through the
batch kernel; SALib's analysers turn the outputs at one saved time into indices:

* Morris: mu, mu_star (mean absolute elementary effect) and sigma per parameter,
  with the bootstrap confidence of mu_star; effects are per unit of the parameter's
  range scaled to [0, 1], as SALib computes them.
* Saltelli: first-order (S1) and total (ST) Sobol indices with their confidences.

    from smartspec_dsl import load
    from smartspec_dsl.experiments import sensitivity
    from smartspec_dsl.experiments.samplers import Saltelli
    res, idx = sensitivity.run(load("model.mdl"), Saltelli({"a": (0, 1), "b": (0, 2)}, 1024),
                               outputs=["y"])
    idx.to_pandas()

CLI: `smartspec sensitivity MODEL.mdl --spec SPEC.toml [--time T] [-o OUT.csv]`
with `sampler = "morris"` or `"saltelli"` in the spec, or `smartspec sensitivity
OUTDIR` for a sweep that `smartspec sweep` wrote with such a spec.
"""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import ir
from ..errors import SpecError
from ..runtime import load
from . import store
from .samplers import Morris, Saltelli
from .spec import read_spec
from .sweep import sweep

INDICES = {"morris": ("mu_star", "mu", "sigma", "mu_star_conf"),
           "saltelli": ("ST", "S1", "ST_conf", "S1_conf")}


@dataclass
class Indices:
    """`values[output][index]`: one number per parameter, in the order of `parameters`."""
    method: str                      # "morris" or "saltelli"
    time: float
    parameters: list[str]
    values: dict[str, dict[str, np.ndarray]]

    @property
    def columns(self) -> tuple[str, ...]:
        return INDICES[self.method]

    def rows(self):
        """(output, parameter, index values...) per output, the most influential parameter first."""
        main = self.columns[0]
        for out, table in self.values.items():
            for j in np.argsort(-np.nan_to_num(table[main], nan=-np.inf), kind="stable"):
                yield (out, self.parameters[j], *(float(table[c][j]) for c in self.columns))

    def __repr__(self) -> str:
        return format_table(self).rstrip("\n")

    def to_pandas(self):
        import pandas as pd
        return pd.DataFrame(list(self.rows()), columns=["output", "parameter", *self.columns])


def _method(design) -> str:
    if isinstance(design, Morris):
        return "morris"
    if isinstance(design, Saltelli):
        return "saltelli"
    raise SpecError(f"sensitivity indices need a morris or saltelli design, not {type(design).__name__}")


def analyze(result, design, outputs=None, time=None, seed: int = 0) -> Indices:
    """Indices of `outputs` at the saved `time` (default: the last) from a sweep of
    `design` run with keep_runs=True. Default outputs: every output of the result
    that varies across the runs, the design's own parameters left out."""
    method = _method(design)
    if result.values is None:
        raise SpecError("sensitivity indices need every run's values: sweep with keep_runs=True")
    k = len(result.time) - 1
    if time is not None:
        hits = np.flatnonzero(np.isclose(result.time, float(time), rtol=0, atol=1e-9))
        if not len(hits):
            raise SpecError(f"time {time:g} is not a saved time of the sweep "
                            f"({result.time[0]:g} to {result.time[-1]:g})")
        k = int(hits[0])
    by_key = {ir.canonical_reference(n): n for n in result.params}
    missing = [n for n in design.names if ir.canonical_reference(n) not in by_key]
    if missing:
        raise SpecError(f"the sweep has no values for the design's parameter(s) {missing}")
    x = np.column_stack([result.params[by_key[ir.canonical_reference(n)]] for n in design.names])
    problem = design.problem()
    from SALib.analyze import morris, sobol
    if outputs is None:
        own = {ir.canonical_reference(n) for n in design.names}
        outputs = [o for j, o in enumerate(result.outputs) if ir.canonical_reference(o) not in own
                   and np.ptp(result.values[:, k, j]) > 0]
    values = {}
    for out in outputs:
        j = result._out(out)
        out = result.outputs[j]          # as the model spells it, whatever the spec's spelling
        y = np.ascontiguousarray(result.values[:, k, j])
        y[y == ir.NA_VALUE] = np.nan     # Vensim's :NA: is no value: indices NaN, as for a NaN run
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # SALib warns on a constant output; its indices are NaN then
            if method == "morris":
                got = morris.analyze(problem, x, y, num_levels=design.levels, seed=seed)
            else:
                got = sobol.analyze(problem, y, calc_second_order=design.second, seed=seed)
        values[out] = {c: np.asarray(got[c], dtype=float) for c in INDICES[method]}
    return Indices(method, float(result.time[k]), [by_key[ir.canonical_reference(n)] for n in design.names], values)


def run(model, design, outputs=None, time=None, seed: int = 0, **sweep_kw):
    """Sweep `design` (only the saved time asked for is kept) and analyse it: (SweepResult, Indices)."""
    _method(design)
    res = sweep(model, design, outputs=outputs, times="final" if time is None else [float(time)],
                keep_runs=True, seed=seed, **sweep_kw)
    return res, analyze(res, design, outputs, seed=seed)


def format_table(idx: Indices) -> str:
    out = io.StringIO()
    width = max(len("parameter"), *(len(p) for p in idx.parameters))
    for output in idx.values:
        out.write(f"{output} at t = {idx.time:g} ({idx.method}):\n")
        out.write(f"  {'parameter':<{width}}" + "".join(f"{c:>14}" for c in idx.columns) + "\n")
        for row in idx.rows():
            if row[0] == output:
                out.write(f"  {row[1]:<{width}}" + "".join(f"{v:>14.6g}" for v in row[2:]) + "\n")
    return out.getvalue()


def design_of(spec):
    if not isinstance(spec.design, (Morris, Saltelli)):
        kind = spec.raw.get("sampler", "?")
        raise SpecError(f"{spec.path}: sampler: sensitivity needs \"morris\" or \"saltelli\", got {kind!r}")
    return spec.design


def from_store(directory, time=None, log=None):
    """Analyse a sweep written by `smartspec sweep` (its spec file names the design):
    (SweepResult, Indices), the same as `run` with the spec's seed. Every chunk must be there.
    `log` hears about a compile of the model, as in `load`."""
    m = store.read_manifest(directory)
    if not m.get("complete"):
        raise SpecError(f"{directory}: the sweep is incomplete ({len(m.get('chunks_done', []))} of "
                        f"{m.get('n_chunks')} chunks); finish it with smartspec sweep ... --resume")
    if not m.get("spec_file") or not Path(m["spec_file"]).is_file():
        raise SpecError(f"{directory}: its spec file ({m.get('spec_file')}) is needed to know the design")
    spec = read_spec(m["spec_file"], load(m["model"], log=log), default_seed=m.get("seed"))
    design = design_of(spec)
    res = store.load(directory)
    return res, analyze(res, design, spec.options.get("outputs"), time, spec.seed or 0)
