"""Messages refusing a run that continues a saved state. `stocks_shown`: the stocks a state
lacks or has too many of, one entry a call and element. `span_changed`: why a run continuing a
saved state cannot keep the buffer of a call laid out by one of its
own arguments (runtime/single.py's check of the regions): a parcel buffer (DELAY PROFILE,
DELAY CONVEYOR, QUEUE FIFO, INTERNAL RATE OF RETURN) spans the run plus the time its `span`
argument gives when a run starts (backend/kernel_queues.parcels_size), so a continued run whose
start reads another value of that argument lays out a region of another size."""

from __future__ import annotations

import re

from .. import ir
from ..errors import ModelError
from ..ir.builtins import BUILTINS
from ..passes.consteval import buffer_argument, buffer_call
from .diagnostics import modeller_name


_LABELLED = re.compile(r"(.*) \((.*)\)(\[[^\]]*\])?")


def stocks_shown(displays: list[str]) -> list[str]:
    """The stocks named `displays` as a refusal lists them: the hidden stocks of one call for
    one element, which share a display ("x (DELAY3 call at 3:8)[a3]", DELAY3's three), as one
    entry with the element after the variable's name: "x[a3] (DELAY3 call at 3:8: its 3
    stocks)"; other names as they are. In the order of their first stock."""
    counts: dict[str, int] = {}
    for d in displays:
        counts[d] = counts.get(d, 0) + 1
    out = []
    for d, k in counts.items():
        m = _LABELLED.fullmatch(d)
        if m is None:
            out.append(d)
            continue
        name, label, element = m.group(1), m.group(2), m.group(3) or ""
        out.append(f"{name}{element} ({label}{f': its {k} stocks' if k > 1 else ''})")
    return out


def argument_name(func: str, k: int) -> str:
    """The name Vensim's help gives argument `k` of `func` ("delay time" of DELAY PROFILE),
    read from the function's description "NAME(a, b, ...): ..."; "argument k+1" without one."""
    head = BUILTINS[func].doc.partition(":")[0]
    names = head.partition("(")[2].rpartition(")")[0].split(",") if "(" in head else []
    return names[k].strip() if k < len(names) else f"argument {k + 1}"


def span_changed(model: ir.Model, region: str, k: int, sizes: tuple[int, int], vals: tuple[dict, dict],
                 start: float) -> str:
    """The refusal (without its 'file:line:column: ') of a continued run whose buffer region
    `region` has `sizes` (the state's, this run's) values, its call's argument `k` sizing it.
    `vals`: the run's control values (INITIAL TIME ...) and its constants by name; `start`: the
    continued run's start (the state's time)."""
    control, values = vals
    func = buffer_call(model, region).func

    def at(time: float) -> str:
        try:
            return f"{buffer_argument(model, region, k, values, time):g}"
        except (ModelError, ArithmeticError, ValueError, IndexError):
            return "not known before the run"

    first, now = at(control["initial time"]), at(start)
    arg = argument_name(func, k)
    who = modeller_name(model, region)
    old, new = sizes
    return (f"the buffer of {func} in the equation of '{who}' is sized, when a run starts, by its argument "
            f"'{arg}': {first} at INITIAL TIME {control['initial time']:g} (its {old} values in the state), "
            f"{now} at this run's start (time {start:g}: {new} values); a run continuing a state keeps its "
            f"buffer, so {func} cannot continue a state when that argument changes between the two starts: "
            f"run from the start")
