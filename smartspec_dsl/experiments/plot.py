"""Plots (matplotlib, Agg backend) as PNG, SVG or PDF, as the file's extension says:
a run's time series (panels of variables that share units), a sweep's fan chart
(percentile bands over time) and scatter plots of an output against each
parameter.

    smartspec plot MODEL.mdl -o run.svg [--var NAME ...] [--set NAME=VALUE ...]
    smartspec plot SWEEP_DIR -o fan.png [--var NAME] [--bands 5,25,50,75,95]
    smartspec plot SWEEP_DIR -o scatter.pdf --kind scatter [--var NAME] [--time T]
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import SpecError
from ..files import replacing

FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}


def pyplot():
    """matplotlib.pyplot on the Agg back end (files only, no display); SpecError without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise SpecError("plotting needs matplotlib: pip install 'smartspec[plot]'") from err
    return plt


def image_format(path) -> str:
    """'png', 'svg' or 'pdf' from `path`'s extension (case ignored); SpecError for any other,
    checked before anything is run."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        shown = f"'{suffix}'" if suffix else "no extension"
        raise SpecError(f"{path}: cannot write a plot as {shown}: the extension picks the format: "
                        ".png, .svg or .pdf")
    return FORMATS[suffix]


def save_figure(fig, path) -> None:
    """Write `fig` to `path` atomically in the format its extension names, then close it."""
    fmt = image_format(path)
    try:
        with replacing(path, "." + fmt) as tmp:
            fig.savefig(tmp, dpi=110, format=fmt)
    finally:
        pyplot().close(fig)


def series(result, panels, path, title="", time_unit="") -> None:
    """Time series of one run (a runtime.Result): `panels` is a list of (y label, columns),
    one panel each, stacked over a shared time axis labelled with `time_unit`."""
    plt = pyplot()
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 1.2 + 2.8 * len(panels)), sharex=True,
                             squeeze=False)
    for ax, (label, columns) in zip(axes[:, 0], panels):
        for c in columns:
            ax.plot(result.time, result[c], label=c)
        ax.set_ylabel(label)
        ax.legend(loc="best", fontsize="small", ncol=1 if len(columns) <= 8 else 2)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel(f"Time ({time_unit})" if time_unit else "Time")
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path)


def _with_units(name: str, units: dict) -> str:
    """'Teacup Temperature (Degrees Fahrenheit)', or the name alone when its units are unknown."""
    unit = units.get(name)
    return f"{name} ({unit})" if unit else name


def fan(sweep_result, output, path, bands=(5, 25, 50, 75, 95), title="", units=None) -> None:
    """Percentile bands over time of one output across the runs of a sweep. `units`: the units
    of the outputs and parameters, and of "Time", by name, for the axis labels."""
    units = units or {}
    plt = pyplot()
    j = sweep_result._out(output)
    t = sweep_result.time
    if len(t) < 2:
        raise SpecError(f"a fan chart needs several saved times; this sweep kept {len(t)} "
                        "(use --kind scatter, or times = \"all\" in the spec)")
    bands = sorted(float(b) for b in bands)
    if sweep_result.values is not None and len(sweep_result.values):
        pct = np.percentile(sweep_result.values[:, :, j], bands, axis=0)
    elif sweep_result.stats and all(f"p{b:g}" in sweep_result.stats for b in bands):
        pct = np.array([sweep_result.stats[f"p{b:g}"][:, j] for b in bands])
    else:
        raise SpecError("this sweep has neither runs nor the requested percentiles")
    fig, ax = plt.subplots(figsize=(8, 4.5))
    k = len(bands)
    for i in range(k // 2):
        alpha = 0.2 + 0.5 * (i + 1) / max(1, k // 2)
        ax.fill_between(t, pct[i], pct[k - 1 - i], color="tab:blue", alpha=alpha * 0.6, linewidth=0,
                        label=f"p{bands[i]:g}-p{bands[k - 1 - i]:g}")
    if k % 2:
        ax.plot(t, pct[k // 2], color="tab:blue", label=f"p{bands[k // 2]:g}")
    ax.set_xlabel(_with_units("Time", units))
    ax.set_ylabel(_with_units(sweep_result.outputs[j], units))
    ax.set_title(title or f"{sweep_result.outputs[j]} ({len(sweep_result.runs)} runs)")
    ax.legend(loc="best", fontsize="small")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path)


def scatter(sweep_result, output, path, at_time=None, title="", units=None) -> None:
    """An output at one saved time (default the last) against each swept parameter (`units`
    as for `fan`)."""
    units = units or {}
    plt = pyplot()
    if sweep_result.values is None:
        raise SpecError("a scatter plot needs the runs' values")
    j = sweep_result._out(output)
    t = sweep_result.time
    k = len(t) - 1 if at_time is None else int(np.argmin(np.abs(t - at_time)))
    if at_time is not None and not np.isclose(t[k], at_time):
        raise SpecError(f"time {at_time:g} is not a kept time of this sweep")
    params = list(sweep_result.params)
    if not params:
        raise SpecError("the sweep varies no parameters")
    cols = min(3, len(params))
    rows = -(-len(params) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), squeeze=False)
    y = sweep_result.values[:, k, j]
    for ax, p in zip(axes.flat, params):
        ax.scatter(sweep_result.params[p], y, s=4, alpha=0.5)
        ax.set_xlabel(_with_units(p, units))
        ax.set_ylabel(f"{_with_units(sweep_result.outputs[j], units)} @ {t[k]:g}")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(params):]:
        ax.axis("off")
    fig.suptitle(title or f"{sweep_result.outputs[j]} at time {t[k]:g}")
    fig.tight_layout()
    save_figure(fig, path)
