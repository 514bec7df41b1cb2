"""What the explorer shows of a model: its constants as sliders, the default graphs,
and every variable's documentation with its causes and uses.

Everything here reads a loaded `runtime.Model` (its parsed IR `model.ir` and its
lowered schedule) and returns plain dicts and lists, ready to be sent as JSON.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .. import ir
from ..errors import ModelError
from ..frontend.mdl_write import equation_text
from ..frontend.parse import read_model_text

# Vensim's help, "Units and ranges": `units [min, max, step]`, '?' for an open bound
_RANGE = re.compile(r"\[\s*([^,\]]*?)\s*,\s*([^,\]]*?)\s*(?:,\s*([^,\]]*?)\s*)?\]\s*$")


@dataclass(frozen=True)
class Slider:
    """One constant the page may change: `name` its display name (the name the API
    takes), `min`/`max`/`step` the slider's range, `declared` whether the range is the
    model's own (its units field) rather than one made around the default."""
    name: str
    default: float
    min: float
    max: float
    step: float
    declared: bool
    units: str
    comment: str
    group: str
    note: str = ""      # why the units field's range was not used, when it gives one


def _number(text: str | None) -> float | None:
    if text is None or text.strip() in ("", "?"):
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _nice_step(span: float) -> float:
    """A round step giving about 100 positions over `span` (1, 2 or 5 times a power of ten)."""
    if not span > 0 or not math.isfinite(span):
        return 1.0
    raw = span / 100
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw * 0.999)


def slider_range(units: str, default: float) -> tuple[float, float, float, bool]:
    """(min, max, step, declared) of a constant's slider: the units field's
    `[min, max, step]` when it gives both bounds, else a range around the default
    (0 to twice the default, 0 to 1 for a default of 0) within the one bound it gives;
    always holding the default. The step, when not given, makes about 100 positions."""
    lo = hi = step = None
    m = _RANGE.search(units or "")
    if m:
        lo, hi, step = (_number(g) for g in m.groups())
    declared = lo is not None and hi is not None and lo < hi
    if lo is not None and hi is not None and not declared:
        lo = hi = None          # an empty or inverted range declares nothing (`range_note` says so)
    if not declared:
        a_lo, a_hi = (0.0, 2 * default) if default > 0 else (2 * default, 0.0) if default < 0 else (0.0, 1.0)
        lo = a_lo if lo is None else max(lo, a_lo)
        hi = a_hi if hi is None else min(hi, a_hi)
    lo, hi = min(lo, default), max(hi, default)
    if not hi > lo:
        hi = lo + 1.0
    if step is None or not step > 0:
        step = _nice_step(hi - lo)
    return lo, hi, step, declared


def range_note(units: str) -> str:
    """Why the units field's `[min, max]` is not a slider's range ('' when it is, or when
    it gives none): min above max, or both equal."""
    m = _RANGE.search(units or "")
    lo, hi = (_number(g) for g in m.groups()[:2]) if m else (None, None)
    if lo is None or hi is None or lo < hi:
        return ""
    why = "its minimum is above its maximum" if lo > hi else "its minimum equals its maximum"
    return f"the range [{lo:g}, {hi:g}] in its units field is ignored: {why}"


def _group_of(model, name: str) -> str:
    """The group of a (flattened) constant: its source variable's, by the name before '['."""
    var = model.ir.variables.get(name.split("[", 1)[0])
    return var.group if var is not None else ""


def sliders(model) -> list[Slider]:
    """Every constant a run may change, in the model's order: not the simulation controls
    (INITIAL TIME, FINAL TIME, TIME STEP, SAVEPER), not the internal constants of lowering,
    not the constants written with '==' (Vensim's mark of a value not to change)."""
    lowered = model.schedule.model.variables
    out = []
    for name, default in zip(model.schedule.constants, model.defaults):
        var = lowered[name]
        if var.hidden or var.unchangeable or name in ir.CONTROL_NAMES:
            continue
        lo, hi, step, declared = slider_range(var.units, float(default))
        out.append(Slider(var.display, float(default), lo, hi, step, declared, var.units, var.comment,
                          _group_of(model, name), range_note(var.units)))
    return out


def _units_key(units: str) -> str:
    return re.sub(r"\[[^\]]*\]\s*$", "", units or "").strip()


def default_graphs(model, per_graph: int = 6) -> list[dict]:
    """The graphs the page opens with: the stocks grouped by their units (at most
    `per_graph` a graph), or the first outputs when the model has no stock."""
    lowered = model.schedule.model.variables
    by_units: dict[str, list[str]] = {}
    for name in model.output_names:
        var = lowered[name]
        if var.kind is ir.Kind.STOCK and not var.hidden:
            by_units.setdefault(_units_key(var.units), []).append(var.display)
    graphs = []
    for units, names in by_units.items():
        for i in range(0, len(names), per_graph):
            graphs.append({"title": units or "(no units)", "variables": names[i:i + per_graph]})
    if not graphs:
        names = [lowered[n].display for n in model.output_names if n not in ir.CONTROL_NAMES and n != ir.TIME]
        graphs.append({"title": "", "variables": names[:per_graph]})
    return graphs


def outputs(model) -> list[dict]:
    """Every variable a run can return: display name, kind and units."""
    lowered = model.schedule.model.variables
    return [{"name": lowered[n].display, "kind": lowered[n].kind.value, "units": _units_key(lowered[n].units)}
            for n in model.output_names if n != ir.TIME]


def info(model) -> dict:
    """The model as the page first sees it (GET /api/model)."""
    c = model.constants
    sl = sliders(model)
    groups = list(dict.fromkeys(s.group for s in sl))
    return {
        "path": str(model.path),
        "name": str(model.path).replace("\\", "/").rsplit("/", 1)[-1],
        "time": {"initial": c.get("INITIAL TIME"), "final": c.get("FINAL TIME"),
                 "step": c.get("TIME STEP"), "saveper": c.get("SAVEPER")},
        "constants": [s.__dict__ for s in sl],
        "groups": groups,
        "graphs": default_graphs(model),
        "outputs": outputs(model),
    }


# ---- documentation -----------------------------------------------------------

def _source_text(model) -> list[str] | None:
    """The model file's lines as the parser numbers them (by '\n'); None if unreadable."""
    try:
        return [line.rstrip("\r") for line in read_model_text(model.path).split("\n")]
    except ModelError:
        return None


def _equation_text(lines: list[str] | None, model: ir.Model, var: ir.Variable) -> str:
    """The modeller's own text of each definition of `var` (from its position to the
    units' '~'), joined; for a model not read from Vensim text (`lines` None), its
    equations written in Vensim's spelling."""
    if lines is None:
        try:
            return equation_text(model, var)
        except ModelError:
            return ""
    out = []
    for d in var.definitions or (ir.Definition((), (), "=", var.expr, pos=var.pos),):
        pos = d.pos or var.pos
        if pos is None or not 1 <= pos.line <= len(lines):
            return ""
        text, line = lines[pos.line - 1][pos.column - 1:], pos.line
        while "~" not in text and line < len(lines) and line - pos.line < 200:
            text += "\n" + lines[line]
            line += 1
        out.append(_one_line(text.split("~", 1)[0]))
    return "\n".join(out)


def _one_line(text: str) -> str:
    """Text of the model file with its line continuations and runs of blanks as one space."""
    return re.sub(r"\s+", " ", re.sub(r"\\[ \t]*\r?\n", " ", text)).strip()


def _reads(var: ir.Variable) -> set[str]:
    names = ir.references(var.expr) | ir.references(var.initial)
    for d in var.definitions:
        names |= ir.references(d.expr)
        for row in d.rows:
            for e in row:
                names |= ir.references(e)
    return names


def documentation(model) -> list[dict]:
    """Each variable of the model as written (not the internal ones of lowering): name,
    kind, units, comment, group, its equation text, the variables it reads (`causes`)
    and those that read it (`uses`), by display name, in the model's order."""
    variables = {n: v for n, v in model.ir.variables.items() if n != ir.TIME}
    causes = {n: sorted((variables[r].display for r in _reads(v) if r in variables and r != n), key=str.lower)
              for n, v in variables.items()}
    uses: dict[str, list[str]] = {n: [] for n in variables}
    for n, v in variables.items():
        for r in _reads(v):
            if r in uses and r != n:
                uses[r].append(v.display)
    lines = _source_text(model) if str(model.path).lower().endswith(".mdl") else None
    return [{"name": v.display, "kind": v.kind.value, "units": _one_line(v.units), "comment": _one_line(v.comment),
             "group": v.group, "equation": _equation_text(lines, model.ir, v), "causes": causes[n],
             "uses": sorted(uses[n], key=str.lower)}
            for n, v in variables.items()]
