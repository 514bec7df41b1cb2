"""What a run gives: `Result` (one run), `BatchResult` (many runs of one kernel) and
`VariableInfo` (a model's variables as the modeller named them)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import ir
from .params import State


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
    # every stock and buffer at the last time the run computed (params.State): a run can continue from it
    final_state: State | None = None
    tier: str = "compiled"   # what ran it: "interpreter" or "compiled" (runtime/tiers.py)

    def __getitem__(self, name: str) -> np.ndarray:
        """One column's values, by the modeller's name in any case and spacing
        ('Stock A[Entry 1, Column 1]'). KeyError naming the elements for a subscripted name."""
        key = ir.canonical_reference(name)
        for i, c in enumerate(self.columns):
            if ir.canonical_reference(c) == key:
                return self.values[:, i]
        elements = [c for c in self.columns if ir.canonical_reference(c).startswith(key + "[")]
        if elements:
            raise KeyError(f"'{name}' is subscripted: ask for one of its columns ({some_names(elements)})")
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
    # per run: watches that fired (a lookup input or a ranged variable left its range; a value
    # infinite or NaN)
    warnings: np.ndarray | None = None
    tier: str = "compiled"   # what ran it: "interpreter" or "compiled" (runtime/tiers.py)
