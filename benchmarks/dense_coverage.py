"""What the dense route still flattens per element, and what that costs in kernel size.

    .venv/bin/python benchmarks/dense_coverage.py            # both tables
    .venv/bin/python benchmarks/dense_coverage.py --models   # the models of ../shared only
    .venv/bin/python benchmarks/dense_coverage.py --sizes    # the constructs only

1. Every arrayed .mdl of ../shared (test-models and real-models): its arrays kept dense (one
   loop each) and those flattened per element, with why (passes/dense.py::flattened_arrays;
   a lookup defined per element is data, not counted), then the totals by reason.
2. Kernel lines (and characters, without the module-level arrays of numbers, the tables'
   watches) of small models of the constructs that used to flatten, at 10 and at 1,000
   elements: equal when the kernel's size follows the equations, not the elements.
"""
from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from smartspec_dsl import ir, load  # noqa: E402
from smartspec_dsl.frontend.external import DataOptions, resolve_external  # noqa: E402
from smartspec_dsl.frontend.source import parse_file  # noqa: E402
from smartspec_dsl.passes.array_functions import whole_matrices  # noqa: E402
from smartspec_dsl.passes.dense import flattened_arrays, has_arrays  # noqa: E402
from smartspec_dsl.passes.macros import declare_macro_outputs  # noqa: E402

SHARED = ROOT.parent / "shared"
CONTROL = "INITIAL TIME = 0 ~~| FINAL TIME = 4 ~~| TIME STEP = 1 ~~| SAVEPER = 1 ~~|\n"


def _tables(n: int) -> str:
    return "\n".join(f"tbl[r{k}]((0,{k}),(10,{k + 10})) ~~|" for k in range(1, n + 1))


# name -> the model over n elements
CONSTRUCTS = {
    "VECTOR SORT ORDER/RANK/REORDER through a mapping": lambda n: f"""
R: (r1-r{n}) -> S ~~|
S: (s1-s{n}) -> R ~~|
x[R] = MODULO(3 * R + Time, 1009) ~~|
so[S] = VECTOR SORT ORDER(x[R], 1) ~~|
rk[S] = VECTOR RANK(x[R], 0) ~~|
re[S] = VECTOR REORDER(x[R], so[S]) ~~|
""",
    "VECTOR RANK in a piece": lambda n: f"""
R: (r1-r{n}) ~~|
x[R] = MODULO(3 * R + Time, 1009) ~~|
rk[r1] = 0 ~~|
rk[R] :EXCEPT: [r1] = VECTOR RANK(x[R], 1) ~~|
""",
    "lookup of an array through a subrange": lambda n: f"""
R: (r1-r{n}) ~~|
Sub: (r2-r{n}) ~~|
{_tables(n)}
y[Sub] = tbl[Sub](Time) ~~|
""",
    "lookup of an array through a mapping": lambda n: f"""
R: (r1-r{n}) -> S ~~|
S: (s1-s{n}) -> R ~~|
{_tables(n)}
y[S] = tbl[R](Time) ~~|
""",
    "lookup of an array in pieces": lambda n: f"""
R: (r1-r{n}) ~~|
{_tables(n)}
y[r1] = tbl[r1](Time) ~~|
y[R] :EXCEPT: [r1] = tbl[R](2 * Time) ~~|
""",
    "DELAY FIXED in an array": lambda n: f"""
R: (r1-r{n}) ~~|
x[R] = R + Time ~~|
d[R] = DELAY FIXED(x[R], 2, x[R]) ~~|
""",
    "DELAY MATERIAL, INFORMATION, CONVEYOR, QUEUE FIFO": lambda n: f"""
R: (r1-r{n}) ~~|
flat((0, 1), (1, 1)) ~~|
x[R] = R + Time ~~|
m[R] = DELAY MATERIAL(x[R], 2, x[R], 0) + DELAY INFORMATION(x[R], 1 + R / 1000, 0) ~~|
c[R] = DELAY CONVEYOR(x[R], 2, 0, flat, R, 2) ~~|
q[R] = QUEUE FIFO(x[R], 1, flat, R, 2) ~~|
""",
    "SMOOTH, DELAY1, DELAY MATERIAL in pieces": lambda n: f"""
R: (r1-r{n}) ~~|
x[R] = R + Time ~~|
s[r1] = SMOOTH(x[r1], 2) ~~|
s[R] :EXCEPT: [r1] = 2 * x[R] + DELAY1(x[R], 3) ~~|
m[R] :EXCEPT: [r2] = DELAY MATERIAL(x[R], 2, 0, 0) ~~|
m[r2] = 0 ~~|
""",
    "data equation over an array": lambda n: f"""
R: (r1-r{n}) ~~|
x[R] = R * Time ~~|
d[R] := x[R] * 2 ~~|
""",
}


def models() -> None:
    files = sorted(list((SHARED / "test-models").rglob("*.mdl")) + list((SHARED / "real-models").rglob("*.mdl")))
    if not files:
        sys.exit(f"no models under {SHARED} (clone the project with ../shared beside it)")
    reasons: collections.Counter = collections.Counter()
    n_models = n_dense = n_flat = 0
    for path in files:
        try:
            model = parse_file(path)
            if not has_arrays(model):
                continue
            model = whole_matrices(declare_macro_outputs(resolve_external(model, options=DataOptions())))
            flat = flattened_arrays(model)
        except Exception as e:       # a model smartspec refuses: said, not counted
            print(f"{path.relative_to(SHARED)}: not counted ({type(e).__name__}: {str(e)[:80]})")
            continue
        n_models += 1
        arrays = [n for n, v in model.variables.items() if any(d.subscripts for d in v.definitions)
                  and not all(isinstance(d.lookup, ir.LookupTable) for d in v.definitions)]
        n_dense += len([n for n in arrays if n not in flat])
        n_flat += len(flat)
        for shown, why in sorted(flat.values()):
            print(f"{path.relative_to(SHARED)}: '{shown}' per element: {why}")
            reasons[why.replace(f"'{shown}'", "it")] += 1
    print(f"\n{n_models} arrayed models: {n_dense} arrays dense, {n_flat} flattened per element")
    for why, count in reasons.most_common():
        print(f"{count:5d}  {why}")


def _without_tables(source: str) -> str:
    return "\n".join(line for line in source.split("\n") if "= np.array([" not in line)


def sizes() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SMARTSPEC_CACHE_DIR"] = str(Path(tmp) / "cache")
        print(f"\n{'construct':52s} {'lines 10':>9s} {'lines 1000':>10s} {'chars 10':>9s} {'chars 1000':>10s}"
              f" {'CPU s 1000':>10s}")
        for name, make in CONSTRUCTS.items():
            row = []
            for n in (10, 1000):
                path = Path(tmp) / f"m{len(row)}{abs(hash(name))}.mdl"
                path.write_text(make(n) + CONTROL)
                start = time.process_time()
                kernel = load(path, tier="interpreter").kernel.source
                row.append((kernel.count("\n"), len(_without_tables(kernel)), time.process_time() - start))
            print(f"{name:52s} {row[0][0]:9d} {row[1][0]:10d} {row[0][1]:9d} {row[1][1]:10d} {row[1][2]:10.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", action="store_true", help="the models of ../shared only")
    parser.add_argument("--sizes", action="store_true", help="the constructs at 10 and 1,000 elements only")
    args = parser.parse_args()
    if not args.sizes:
        models()
    if not args.models:
        sizes()
