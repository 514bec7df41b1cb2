"""The paper's figures from a run of its scenarios: Figures 9 to 26 beside our
runs, the Monte Carlo fan and the paper's numbers against ours (matplotlib)."""
from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from ..experiments.plot import pyplot, save_figure

from .scenarios import (COMBINED_FIGURES, COUPLING, DECREASE, INCREASE, INDICATORS, MAIN,
                        SINGLE_FIGURE, SMART, SMART_IDS, SPEC, SPEC_IDS, SUFFIX_LABEL,
                        SUFFIX_STYLE, SUFFIXES, pairs, Experiments, scenario_section, Target)

# ---------------------------------------------------------------- figures


def _target_level(exp, targets, sid):
    """The paper's number for a scenario as a level (differences added to our benchmark)."""
    t = targets.get(sid)
    if t is None:
        return None
    return exp.benchmark + t.value if t.is_change else t.value


def _scenario_lines(ax, exp, targets, items, output=MAIN, relative=False):
    """items: [(scenario id, label, color, linestyle)], drawn with the benchmark in black;
    relative: the change from the benchmark instead of the level. The paper's
    number for a scenario is a diamond just right of t = 50."""
    t = exp.time
    base = exp.series["benchmark"][output] if relative else 0.0
    ax.plot(t, exp.series["benchmark"][output] - base, color="black", lw=2, label="benchmark")
    tx = t[-1]
    marked = False
    for sid, label, color, ls in items:
        ax.plot(t, exp.series[sid][output] - base, color=color, ls=ls, lw=1.6, label=label)
        y = _target_level(exp, targets, sid) if output == MAIN else None
        if y is not None:
            y = y - exp.benchmark if relative else y
            ax.plot([tx + 0.8], [y], marker="D", ms=6, color=color, mec="black", mew=0.6, ls="none",
                    clip_on=False)
            marked = True
    if marked:
        ax.plot([], [], marker="D", ms=6, color="lightgray", mec="black", mew=0.6, ls="none",
                label="paper's number (t = 50)")
    ax.set_xlim(t[0], tx + 2)
    ax.set_xlabel("Time (Year)")
    ax.set_ylabel("change from the benchmark" if relative else output)
    ax.grid(alpha=0.3)


def _figure(title, panels, path, exp, targets, note=None):
    """One column per panel: the level on top, its change from the benchmark below."""
    plt = pyplot()
    n = len(panels)
    fig, axes = plt.subplots(2, n, figsize=(5.8 * n if n > 1 else 8.5, 8), squeeze=False, sharey="row",
                             gridspec_kw={"height_ratios": [3, 2]})
    for j, (sub, items) in enumerate(panels):
        _scenario_lines(axes[0, j], exp, targets, items)
        _scenario_lines(axes[1, j], exp, targets, items, relative=True)
        if sub:
            axes[0, j].set_title(sub, fontsize="medium")
        axes[0, j].legend(loc="lower center", fontsize="small")
    fig.suptitle(title)
    _note(fig, note)
    save_figure(fig, path)
    return path


def _note(fig, note):
    """A grey footnote under the panels, wrapped to the figure's width, then tight_layout above it."""
    if not note:
        fig.tight_layout()
        return
    lines = textwrap.wrap(note, width=int(fig.get_figwidth() * 17))
    fig.text(0.01, 0.005, "\n".join(lines), fontsize="x-small", color="dimgray", va="bottom")
    fig.tight_layout(rect=(0, 0.022 * len(lines) * 8 / fig.get_figheight(), 1, 1))


def _flow_panel(ax, t, bench):
    """The two flows of the smart specialization level (Fig. 12's lower panel)."""
    ax.plot(t, bench[INCREASE], color="tab:green", lw=1.6, label=INCREASE)
    ax.plot(t, bench[DECREASE], color="tab:red", lw=1.6, label=DECREASE)
    ax.set_xlabel("Time (Year)")
    ax.set_ylabel("1/Year")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")


def _suffix_items(prefix):
    return [(f"{prefix}_{s}", SUFFIX_LABEL[s], *SUFFIX_STYLE[s]) for s in SUFFIXES]


FLOW_NOTE = ("As printed in section 4.2.4, the increase rate is multiplied by DELAY1I(EXP(-Time/3), 3, 4) "
             "= (4 + Time/3) EXP(-Time/3), which dies out, while the decrease rate keeps draining 1 % or 3 % "
             "of the level a year: the level peaks and then declines, for any constants. The paper's text "
             "calls the curve logarithmic; where the paper contradicts itself the model follows its "
             "equations.")
TARGET_NOTE = ("Diamonds: the paper's number, read at t = 50 (the paper gives no time). The paper gives "
               "single-indicator results as changes from its benchmark: drawn from ours.")
LEVEL_NOTE = ("Diamonds: the paper's number, read at t = 50 (the paper gives no time); below, "
              "its difference from our benchmark.")


def figures(exp: Experiments, targets: dict[str, Target], out: Path) -> list[Path]:
    plt = pyplot()
    out = Path(out)
    paths = []
    t = exp.time
    bench = exp.series["benchmark"]
    # Figs 9-12: the benchmark
    bands = None
    if exp.mc is not None:
        y = exp.mc[MAIN]
        bands = np.percentile(y, [5, 50, 95], axis=0)
    for num, name, var, desc in (
            (9, "smart_level", SMART, "Evolution of the smart level (benchmark)"),
            (10, "specialization_level", SPEC, "Evolution of the specialization level (benchmark)"),
            (11, "coupling_level", COUPLING, "Evolution of the coupling level (benchmark)"),
            (12, "smart_specialization_level", MAIN,
             "Evolution of the smart specialization level (benchmark)")):
        if var == MAIN:
            fig, (ax, flows) = plt.subplots(2, 1, figsize=(8, 7), sharex=True,
                                            gridspec_kw={"height_ratios": [3, 2]})
            _flow_panel(flows, t, bench)
        else:
            fig, ax = plt.subplots(figsize=(8, 4.5))
        if var == MAIN and bands is not None:
            ax.fill_between(t, bands[0], bands[2], color="tab:blue", alpha=0.2, lw=0,
                            label=f"Monte Carlo p5-p95 ({len(exp.mc.runs):,} turbulence seeds)")
            ax.plot(t, bands[1], color="tab:blue", lw=1, ls=":", label="Monte Carlo median")
        ax.plot(t, bench[var], color="black", lw=2, label="benchmark (seed 0.5)")
        if var != MAIN:
            ax.set_xlabel("Time (Year)")
        ax.set_ylabel(var)
        ax.set_title(f"Fig. {num}: {desc}")
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize="small")
        if var == MAIN:
            _note(fig, FLOW_NOTE)
        else:
            fig.tight_layout()
        p = out / f"fig{num:02d}_{name}.png"
        save_figure(fig, p)
        paths.append(p)
    # Figs 13-15, 18-20: one indicator up / down
    for ind, num in sorted(SINGLE_FIGURE.items(), key=lambda kv: kv[1]):
        label = INDICATORS[ind][0]
        paths.append(_figure(f"Fig. {num}: smart specialization level after raising and lowering "
                             f"{label.lower()}", [("", _suffix_items(ind))],
                             out / f"fig{num:02d}_{ind}.png", exp, targets, TARGET_NOTE))
    # Figs 16, 21: pairs; 17, 22: triples
    for num, ids, lvl in ((16, SMART_IDS, "smart"), (21, SPEC_IDS, "specialization")):
        panels = [(f"{INDICATORS[a][0]} + {INDICATORS[b][0].lower()}", _suffix_items(f"pair_{a}+{b}"))
                  for a, b in pairs(ids)]
        paths.append(_figure(f"Fig. {num}: two {lvl} level indicators raised and lowered together",
                             panels, out / f"fig{num:02d}_{lvl}_pairs.png", exp, targets,
                             LEVEL_NOTE))
    for num, ids, lvl in ((17, SMART_IDS, "smart"), (22, SPEC_IDS, "specialization")):
        paths.append(_figure(f"Fig. {num}: all three {lvl} level indicators raised and lowered",
                             [("", _suffix_items("triple_" + "+".join(ids)))],
                             out / f"fig{num:02d}_{lvl}_triple.png", exp, targets,
                             LEVEL_NOTE))
    # Figs 23-26: section 5.4
    colors = ["tab:blue", "tab:purple", "tab:olive", "tab:red"]
    for num, (a, b, desc) in COMBINED_FIGURES.items():
        items = []
        k = 0
        for x in ("25", "75"):
            for y in ("25", "75"):
                sid = f"smart_{a}{x}_spec_{b}{y}"
                sa = ("+" if a == "up" else "\u2212") + x
                sb = ("+" if b == "up" else "\u2212") + y
                items.append((sid, f"smart {sa} %, specialization {sb} %", colors[k], "-" if x == y else "--"))
                k += 1
        paths.append(_figure(f"Fig. {num}: {desc}", [("", items)], out / f"fig{num}_smart_{a}_spec_{b}.png",
                             exp, targets,
                             LEVEL_NOTE))
    if exp.mc is not None:
        paths.append(_fan(exp, out / "monte_carlo_fan.png"))
    paths.append(_paper_vs_model(exp, targets, out / "paper_vs_model.png"))
    return paths


def _fan(exp, path):
    plt = pyplot()
    mc = exp.mc
    y = mc[MAIN]
    t = mc.time
    qs = [5, 25, 50, 75, 95]
    p = np.percentile(y, qs, axis=0)
    fig, (ax, hx) = plt.subplots(1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [2, 1]})
    ax.fill_between(t, p[0], p[4], color="tab:blue", alpha=0.2, lw=0, label="p5-p95")
    ax.fill_between(t, p[1], p[3], color="tab:blue", alpha=0.4, lw=0, label="p25-p75")
    ax.plot(t, p[2], color="tab:blue", lw=1.5, label="median")
    ax.plot(exp.time, exp.series["benchmark"][MAIN], color="black", lw=1, ls="--",
            label="benchmark (seed 0.5)")
    ax.set_xlabel("Time (Year)")
    ax.set_ylabel(MAIN)
    ax.set_title(f"Monte Carlo over the turbulence seed ({len(mc.runs):,} runs)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    last = y[:, -1]
    hx.hist(last, bins=60, color="tab:blue", alpha=0.7)
    hx.axvline(exp.benchmark, color="black", ls="--", lw=1, label="benchmark")
    for q, v in zip(qs, np.percentile(last, qs)):
        if q != 50:
            hx.axvline(v, color="tab:blue", lw=0.8, ls=":")
    hx.set_xlabel(f"{MAIN} at t = {t[-1]:g}")
    hx.set_ylabel("runs")
    hx.set_title(f"t = {t[-1]:g}: p5 {np.percentile(last, 5):.4f}, p95 {np.percentile(last, 95):.4f}",
                 fontsize="medium")
    hx.legend(fontsize="small")
    fig.tight_layout()
    save_figure(fig, path)
    return path


def _paper_vs_model(exp, targets, path):
    plt = pyplot()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 5.2), gridspec_kw={"width_ratios": [3, 2]})
    marks = {"5.3.1": ("tab:blue", "o"), "5.3.2": ("tab:green", "s"), "5.4": ("tab:red", "^")}
    levels = [(sid, t) for sid, t in targets.items() if not t.is_change]
    changes = [(sid, t) for sid, t in targets.items() if t.is_change]
    for key, (c, m) in marks.items():
        xs = [t.value for sid, t in levels if scenario_section(sid).startswith(key)]
        ys = [exp.final[sid] for sid, t in levels if scenario_section(sid).startswith(key)]
        if xs:
            ax.scatter(xs, ys, color=c, marker=m, label=f"section {key}", zorder=3)
    lo = min([t.value for _, t in levels] + [exp.final[s] for s, _ in levels]) - 0.02
    hi = max([t.value for _, t in levels] + [exp.final[s] for s, _ in levels]) + 0.02
    ax.plot([lo, hi], [lo, hi], color="gray", lw=1, ls="--", label="ours = paper")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("paper's level")
    ax.set_ylabel("our level at t = 50")
    ax.set_title(f"{len(levels)} reported levels (pairs, triples, section 5.4)", fontsize="medium")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    names = [sid.replace("_down75", " \u221275 %").replace("_up75", " +75 %").replace("_", " ")
             for sid, _ in changes]
    yy = np.arange(len(changes))
    bx.barh(yy - 0.2, [t.value for _, t in changes], height=0.4, color="lightgray", edgecolor="black",
            label="paper")
    bx.barh(yy + 0.2, [exp.final[sid] - exp.benchmark for sid, _ in changes], height=0.4,
            color="tab:blue", label="ours")
    bx.set_yticks(yy, names, fontsize="small")
    bx.invert_yaxis()
    bx.axvline(0, color="black", lw=0.8)
    bx.set_xlabel("change from the benchmark at t = 50")
    bx.set_title("single indicators (section 5.3): change from benchmark", fontsize="medium")
    bx.grid(alpha=0.3, axis="x")
    bx.legend(fontsize="small", loc="lower left")
    fig.suptitle("The paper's numbers against the model's")
    fig.tight_layout()
    save_figure(fig, path)
    return path
