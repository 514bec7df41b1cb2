"""The README's PySD migration table, checked side by side: each PySD call and
smartspec's beside it run on the same model file, and their values compared
with the conformance tolerance (../shared/conformance/compare.py: |ours - PySD|
<= rtol*|PySD| + rtol*1e-2*max|column|, rtol 1e-4) on every column and time
the two results share.

    .venv/bin/python benchmarks/pysd_migration.py             # check every case
    .venv/bin/python benchmarks/pysd_migration.py --markdown  # the README table

PySD runs in benchmarks/.venv-pysd (pysd_env.sh makes it); this file is also
its runner there (`--pysd-side`, reading the cases as JSON on stdin). PySD's
read_vensim writes a .py beside the model: the model is written to (or copied
into) a temporary folder first, never read in place from ../shared. Exit 0 when
every case agrees, 1 otherwise.
"""
from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
RTOL = 1e-4

# A model with what the table needs: subscripts, a lookup, an auxiliary, SMOOTH and DELAY3 state,
# and a DELAY FIXED's pipeline (a run continues and steps through it).
MODEL = """{UTF-8}
Region: East, West ~~|
Initial Population[Region] = 100, 200 ~ people [0, ?] ~ people at the start|
growth rate[Region] = 0.1, 0.2 ~ 1/Year ~|
Population[Region] = INTEG(births[Region] - deaths[Region], Initial Population[Region]) ~ people ~|
births[Region] = Population[Region] * growth rate[Region] * crowding effect ~ people/Year ~|
deaths[Region] = DELAY3(births[Region], 5) ~ people/Year ~|
crowding table((0,1),(1000,0.5),(2000,0)) ~ Dmnl ~|
crowding effect = crowding table(total population) ~ Dmnl [0, 1] ~ how crowding slows births|
total population = SUM(Population[Region!]) ~ people ~|
perceived population = SMOOTH(total population, 3) ~ people ~|
reported births[Region] = DELAY FIXED(births[Region], 2, births[Region]) ~ people/Year ~|
INITIAL TIME = 0 ~ Year ~|
FINAL TIME = 20 ~ Year ~|
TIME STEP = 0.25 ~ Year ~|
SAVEPER = 1 ~ Year ~|
"""

# (what, PySD's code, smartspec's code): each sets `df`, a DataFrame indexed by time.
# `model` is the loaded model (PySD: freshly loaded for each case, as its params persist).
CASES = [
    ("load a model and run it",
     "model = pysd.read_vensim(path)\ndf = model.run()",
     "model = smartspec_dsl.read_vensim(path)\ndf = model.run().to_pandas()"),
    ("a constant, one value for every element",
     'df = model.run(params={"Initial Population": 300})',
     'df = model.run(params={"Initial Population": 300}).to_pandas()'),
    ("a subscripted constant, per element",
     'df = model.run(params={"growth rate": xr.DataArray([0.05, 0.3], {"Region": ["East", "West"]}, ["Region"])})',
     'df = model.run(params={"growth rate": [0.05, 0.3]}).to_pandas()   # or the same DataArray, or a dict'),
    ("an auxiliary replaced by a constant",
     'df = model.run(params={"crowding effect": 0.8})',
     'df = model.run(params={"crowding effect": 0.8}).to_pandas()'),
    ("a time series for a constant",
     'df = model.run(params={"growth rate": pd.Series([0.1, 0.3], index=[0, 20])})',
     'df = model.run(params={"growth rate": pd.Series([0.1, 0.3], index=[0, 20])}).to_pandas()'),
    ("new points for a lookup",
     'df = model.run(params={"crowding table": pd.Series([1.0, 0.2], index=[0, 2000])})',
     'df = model.run(params={"crowding table": pd.Series([1.0, 0.2], index=[0, 2000])}).to_pandas()'),
    ("return_columns by a subscripted name",
     'df = model.run(return_columns=["Population", "perceived population"])',
     'df = model.run(return_columns=["Population", "perceived population"]).to_pandas()'),
    ("return_timestamps",
     'df = model.run(return_timestamps=[0, 2.5, 10])',
     'df = model.run(return_timestamps=[0, 2.5, 10]).to_pandas()'),
    ("initial_condition: a time and stocks' values",
     'df = model.run(initial_condition=(5, {"Population": xr.DataArray([150.0, 50.0], {"Region": ["East", "West"]}, ["Region"])}))',
     'df = model.run(initial_condition=(5, {"Population": [150, 50]})).to_pandas()'),
    ("continue a run from its final state",
     'model.run(final_time=8)\ndf = model.run(initial_condition="current", final_time=20)',
     'state = model.run(final_time=8).final_state   # or initial_condition="current"\n'
     'df = model.run(initial_condition=state, final_time=20).to_pandas()'),
    ("step, change a value, step on",
     'out = ModelOutput()\nmodel.set_stepper(out, step_vars=["growth_rate"], final_time=20)\n'
     'model.step(40)\nmodel.step(40, {"growth rate": 0.05})\ndf = out.collect(model)',
     'stepper = model.stepper(final_time=20)\n'
     'stepper.step(40)\nstepper.step(40, {"growth rate": 0.05})\ndf = stepper.result.to_pandas()'),
    ("the documentation table",
     'df = model.doc',
     'df = model.doc'),
]


def _canonical(name: str) -> str:
    return " ".join(str(name).replace("_", " ").lower().split()).replace(", ", ",")


def _frame_json(df) -> dict:
    if "Real Name" in df.columns:   # model.doc: units and limits by real name
        rows = {}
        for _, r in df.iterrows():
            limits = r["Limits"]
            limits = [None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)
                      for x in (limits if isinstance(limits, (tuple, list)) else (None, None))]
            rows[_canonical(r["Real Name"])] = [str(r["Units"] or ""), limits]
        return {"doc": rows}
    cols = [str(c) for c in df.columns]
    values = [[None if not isinstance(v, (int, float)) or math.isnan(v) else float(v) for v in row]
              for row in df.to_numpy().tolist()]
    return {"time": [float(t) for t in df.index], "columns": cols, "values": values}


def _run_cases(side: str, model_path: Path, cases: list) -> list:
    import numpy as np  # noqa: F401 - for the cases
    import pandas as pd
    import xarray as xr
    out = []
    if side == "pysd":
        import pysd
        from pysd.py_backend.output import ModelOutput
        py = pysd.read_vensim(str(model_path)).py_model_file
        env = {"pysd": pysd, "pd": pd, "xr": xr, "ModelOutput": ModelOutput, "path": str(model_path)}
    else:
        import smartspec_dsl
        env = {"smartspec_dsl": smartspec_dsl, "pd": pd, "xr": xr, "path": str(model_path),
               "model": smartspec_dsl.load(model_path)}
    for _, pysd_code, ours_code in cases:
        ns = dict(env)
        if side == "pysd":
            ns["model"] = pysd.load(py)   # PySD keeps the params of a run for the next ones
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                exec(pysd_code if side == "pysd" else ours_code, ns)   # the cases above, not model text
            out.append({"ok": True, **_frame_json(ns["df"])})
        except Exception as err:  # noqa: BLE001 - report, don't crash
            out.append({"ok": False, "error": f"{type(err).__name__}: {err}"[:400]})
    return out


def compare(ours: dict, theirs: dict) -> tuple[bool, str]:
    """(agree, what was compared or what differs)."""
    if not ours["ok"] or not theirs["ok"]:
        return False, f"smartspec: {ours.get('error', 'ok')}; PySD: {theirs.get('error', 'ok')}"
    if "doc" in ours:
        common = sorted(set(ours["doc"]) & set(theirs["doc"]))
        bad = [n for n in common if ours["doc"][n] != theirs["doc"][n]]
        missing = sorted(set(theirs["doc"]) - set(ours["doc"]) - {"time"})   # PySD lists Time too
        if bad or missing or not common:
            return False, (f"differ: {[(n, ours['doc'][n], theirs['doc'][n]) for n in bad[:3]]}; "
                           f"missing: {missing[:5]}")
        return True, f"{len(common)} variables: the same units and limits"
    if ours["time"] != theirs["time"]:
        return False, f"times differ: {ours['time'][:6]} vs {theirs['time'][:6]}"
    mine = {_canonical(c): i for i, c in enumerate(ours["columns"])}
    cols = [(mine[_canonical(c)], j, c) for j, c in enumerate(theirs["columns"]) if _canonical(c) in mine]
    if not cols:
        return False, f"no common column: {ours['columns'][:4]} vs {theirs['columns'][:4]}"
    worst, where = 0.0, ""
    for i, j, name in cols:
        a = [row[i] for row in ours["values"]]
        e = [row[j] for row in theirs["values"]]
        scale = max((abs(x) for x in e if x is not None), default=0.0)
        for t, x, y in zip(ours["time"], a, e):
            if x is None or y is None:
                if (x is None) != (y is None):
                    return False, f"{name} at t = {t:g}: {x} vs {y}"
                continue
            tol = RTOL * abs(y) + RTOL * 1e-2 * scale + 1e-12
            if abs(x - y) / tol > worst:
                worst, where = abs(x - y) / tol, f"{name} at t = {t:g}: {x:.10g} vs {y:.10g}"
    extra = len(ours["columns"]) - len(cols)
    note = f"{len(cols)} columns x {len(ours['time'])} times" + (f" (+{extra} of ours only)" if extra else "")
    if worst > 1:
        return False, f"{note}; outside the tolerance: {where}"
    return True, note + f"; largest difference {worst:.2g} of the tolerance"


def markdown() -> str:
    lines = ["| what | PySD 3.14 | smartspec |", "|---|---|---|"]

    def cell(code):
        return "<br>".join(f"`{ln}`" for ln in code.replace("|", "\\|").split("\n"))
    for what, pysd_code, ours_code in CASES:
        lines.append(f"| {what} | {cell(pysd_code)} | {cell(ours_code)} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--markdown", action="store_true", help="print the README's table and stop")
    ap.add_argument("--pysd-side", metavar="MODEL", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.markdown:
        print(markdown())
        return 0
    if args.pysd_side:
        print(json.dumps(_run_cases("pysd", Path(args.pysd_side), CASES)))
        return 0
    sys.path.insert(0, str(HERE))
    from run_benchmarks import PYSD_PY, ensure_pysd
    problem = ensure_pysd(lambda m: print(m, file=sys.stderr))
    if problem:
        print(f"PySD is not available: {problem}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="pysd-migration-") as tmp:
        ours_path = Path(tmp) / "ours" / "population.mdl"
        theirs_path = Path(tmp) / "pysd" / "population.mdl"
        for p in (ours_path, theirs_path):
            p.parent.mkdir()
            p.write_text(MODEL)
        proc = subprocess.run([str(PYSD_PY), __file__, "--pysd-side", str(theirs_path)],
                              capture_output=True, text=True)
        if proc.returncode:
            print(proc.stderr[-2000:], file=sys.stderr)
            return 1
        theirs = json.loads(proc.stdout)
        ours = _run_cases("smartspec", ours_path, CASES)
    failures = 0
    for (what, _, _), a, b in zip(CASES, ours, theirs):
        ok, note = compare(a, b)
        failures += not ok
        print(f"{'same' if ok else 'DIFFERENT':9} {what}: {note}")
    print(f"{len(CASES) - failures} of {len(CASES)} cases give PySD's values (rtol {RTOL:g})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
