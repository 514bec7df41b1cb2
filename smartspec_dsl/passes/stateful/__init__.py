"""Stateful lowering (the order of all passes is in pipeline.py): stateful builtins
become explicit stocks and auxiliaries.

After this pass no expression calls a stateful function: every piece of
memory in the model is a stock (continuous, `s += dt * rate`) or a discrete
stock (`s = next`, updated once per step). The equations are Vensim's own
definitions of each function. One module per family: `delays.py`, `smooths.py`,
`integration.py`, `data.py`, `other.py`, `batches.py`, `shifts.py` (SHIFT IF TRUE, which
moves another variable's stocks), each with a `LOWERINGS` table (Vensim
function -> its lowering); `base.py` is the builder they share and `rules.py`
the values that decide a lowering's structure.
"""
from __future__ import annotations

from dataclasses import replace

from ... import ir
from ...ir.builtins import DEPRECIATED, SHIFTED, check_call
from ..dense import is_dense
from . import batches, data, delays, integration, other, shifts, smooths
from .base import Lowering
from .rules import RULES, decide

LOWERINGS = {**delays.LOWERINGS, **smooths.LOWERINGS, **integration.LOWERINGS, **data.LOWERINGS,
             **other.LOWERINGS, **batches.LOWERINGS}

__all__ = ["LOWERINGS", "RULES", "decide", "lower_stateful"]


def lower_stateful(model: ir.Model, values: dict[str, float] | None = None) -> ir.Model:
    """A flat, macro-free model -> the same model with no stateful call: each
    becomes hidden stocks and auxiliaries (DELAY FIXED and DELAY MATERIAL a
    hidden auxiliary whose whole equation is the call: the kernel keeps their
    buffer). passes/pipeline.py runs it after flattening and macro expansion.
    `values` (canonical name -> number) override constants where a value decides
    the structure (a SMOOTH N order, see rules.RULES); the model lists those choices in
    `decisions`."""
    lw = Lowering(model, dict(values or {}), LOWERINGS, dense=is_dense(model))
    out: dict[str, ir.Variable] = {}
    for name, var in model.variables.items():
        expr, initial = var.expr, var.initial
        if isinstance(expr, ir.Call) and expr.func == "ACTIVE INITIAL":
            check_call(expr)
            expr, initial = expr.args
        if isinstance(expr, ir.Call) and expr.func == "SINTEG":
            out[name] = integration.sinteg(lw, var)
            continue
        if isinstance(expr, ir.Call) and expr.func == SHIFTED:
            out[name] = shifts.shift_if_true(lw, var)
            continue
        if isinstance(expr, ir.Call) and expr.func == DEPRECIATED:
            out[name] = other.depreciate_by_schedule(lw, var)
            continue
        out[name] = replace(var, expr=lw.lower_expr(name, expr), initial=lw.lower_expr(name, initial))
    shifts.apply_shifts(lw, out)
    out.update(lw.new)
    return replace(model, variables=out, decisions=tuple(lw.decisions))
