"""Cross-check subscript semantics against PySD on random subscripted models.

PySD is a second, independent implementation of Vensim's subscripts. This script
writes random models that use ranges, subranges, an equivalence (AA <-> A), a
mapping (M -> A), EXCEPT, piecewise definitions, number lists, ranges used as
values and SUM / VMIN / VMAX / PROD over '!' ranges; runs each with
`smartspec run` and with PySD; and compares every value PySD also gives.
Models PySD cannot run (several of its array limitations) are counted and skipped.

    bash benchmarks/pysd_env.sh      # once: the PySD venv
    benchmarks/.venv-pysd/bin/python benchmarks/crosscheck_subscripts.py [FIRST_SEED] [N]

Exit status 1 if any value differs or smartspec fails on a model PySD runs.
Not part of the test suite: PySD lives in its own venv.
"""
from __future__ import annotations

import random
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SMARTSPEC = ROOT / ".venv" / "bin" / "smartspec"

RANGES = {"A": ["a1", "a2", "a3", "a4"], "B": ["b1", "b2", "b3"], "SA": ["a2", "a4"],
          "SB": ["b1", "b2"], "M": ["m1", "m2", "m3", "m4"], "AA": ["a1", "a2", "a3", "a4"]}
FAMILY = {"A": "A", "AA": "A", "SA": "A", "B": "B", "SB": "B", "M": "M"}
HEADER = ["A: a1, a2, a3, a4 ~~|", "B: b1, b2, b3 ~~|", "SA: a2, a4 ~~|", "SB: b1, b2 ~~|",
          "AA <-> A ~~|", "M: m1, m2, m3, m4 -> A ~~|"]
CONTROL = ["INITIAL TIME = 0 ~~|", "FINAL TIME = 1 ~~|", "TIME STEP = 1 ~~|", "SAVEPER = 1 ~~|"]
LHS_CHOICES = [["A"], ["B"], ["A", "B"], ["SA"], ["A", "AA"], ["SB", "A"], ["B", "AA"]]


def reference(rnd, variables: dict, lhs: list[str], bang_ok: bool) -> tuple[str, bool]:
    """A reference to a random variable: each subscript a left-hand side range of the
    same family that it covers, a '!' range (inside a reduction), or an element."""
    name = rnd.choice(list(variables))
    subs, banged = [], False
    for d in variables[name]:
        if d in ("SA", "SB"):
            bindable = [r for r in lhs if r == d]
        else:
            bindable = [r for r in lhs if FAMILY[r] == FAMILY[d] and set(RANGES[r]) <= set(RANGES[d])
                        and r not in subs]
        r = rnd.random()
        if bindable and r < 0.7:
            subs.append(rnd.choice(bindable))
        elif bang_ok and r < 0.85 and f"{d}!" not in subs:
            subs.append(f"{d}!")
            banged = True
        else:
            subs.append(rnd.choice(RANGES[d]))
    return f"{name}[{', '.join(subs)}]", banged


def expression(rnd, variables: dict, lhs: list[str], depth: int) -> str:
    r = rnd.random()
    if depth == 0 or r < 0.25:
        if rnd.random() < 0.2:
            return str(round(rnd.uniform(-3, 3), 1))
        return reference(rnd, variables, lhs, False)[0]
    if r < 0.45:
        func = rnd.choice(["SUM", "VMAX", "VMIN", "PROD"])
        ref, banged = reference(rnd, variables, lhs, True)
        if not banged:
            return ref
        return f"PROD({ref} / 10 + 1)" if func == "PROD" else f"{func}({ref})"
    positions = [d for d in lhs if d in ("A", "B")]
    if r < 0.55 and positions:
        return f"({rnd.choice(positions)} * 1)"
    op = rnd.choice(["+", "-", "*"])
    return f"({expression(rnd, variables, lhs, depth - 1)} {op} {expression(rnd, variables, lhs, depth - 1)})"


def model(seed: int) -> str:
    rnd = random.Random(seed)
    lines, variables = list(HEADER), {}
    for k in range(3):
        dims = rnd.choice([["A"], ["B"], ["A", "B"], ["AA"], ["B", "A"]])
        width = len(RANGES[dims[-1]])
        n = width * (len(RANGES[dims[0]]) if len(dims) == 2 else 1)
        values = [str(round(rnd.uniform(-5, 5), 2)) for _ in range(n)]
        rows = [", ".join(values[i:i + width]) for i in range(0, n, width)]
        lines.append(f"c{k}[{', '.join(dims)}] = {'; '.join(rows) + (';' if len(dims) == 2 else '')} ~~|")
        variables[f"c{k}"] = dims
    for k in range(7):
        name, kind = f"v{k}", rnd.random()
        if kind < 0.15:
            lines.append(f"{name}[A] :EXCEPT: [SA] = {expression(rnd, variables, ['A'], 2)} ~~|")
            lines.append(f"{name}[SA] = {expression(rnd, variables, ['SA'], 2)} ~~|")
            variables[name] = ["A"]
        elif kind < 0.3:
            lines.append(f"{name}[SA] = {expression(rnd, variables, ['SA'], 2)} ~~|")
            lines += [f"{name}[{e}] = {expression(rnd, variables, [], 2)} ~~|" for e in ("a1", "a3")]
            variables[name] = ["A"]
        elif kind < 0.4:
            lines.append(f"{name}[M] = {expression(rnd, variables, ['A'], 2)} ~~|")
            variables[name] = ["M"]
        else:
            dims = rnd.choice(LHS_CHOICES)
            lines.append(f"{name}[{', '.join(dims)}] = {expression(rnd, variables, dims, 3)} ~~|")
            variables[name] = dims
    return "\n".join(lines + CONTROL) + "\n"


def main(first: int, n: int) -> int:
    import numpy as np
    import pandas as pd
    import pysd
    warnings.filterwarnings("ignore")
    work = Path(tempfile.mkdtemp(prefix="crosscheck-"))
    compared = matched_models = pysd_failed = 0
    problems = []
    try:
        for seed in range(first, first + n):
            path = work / f"m{seed}.mdl"
            path.write_text(model(seed))
            ours = subprocess.run([str(SMARTSPEC), "run", str(path), "-o", str(work / f"o{seed}.csv")],
                                  capture_output=True, text=True)
            try:
                ref = pysd.read_vensim(str(path)).run()
            except Exception:  # noqa: BLE001 - any PySD failure means "PySD cannot run it"
                pysd_failed += 1
                continue
            if ours.returncode != 0:
                problems.append(f"seed {seed}: smartspec failed: {ours.stderr.strip()}")
                continue
            got = pd.read_csv(work / f"o{seed}.csv")
            bad = [c for c in got.columns if c != "Time" and c in ref.columns
                   and not np.isclose(got[c].values[0], float(ref[c].values[0]), rtol=1e-9, atol=1e-12)]
            compared += sum(c != "Time" and c in ref.columns for c in got.columns)
            if bad:
                problems.append(f"seed {seed}: {bad[0]}: ours {got[bad[0]].values[0]!r}, "
                                f"PySD {float(ref[bad[0]].values[0])!r}")
            else:
                matched_models += 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{n} models (seeds {first}..{first + n - 1}): {matched_models} match PySD on all "
          f"{compared:,} values compared; PySD cannot run {pysd_failed}; {len(problems)} problems")
    for p in problems:
        print("  " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    sys.exit(main(*(args + [0, 100][len(args):])))
