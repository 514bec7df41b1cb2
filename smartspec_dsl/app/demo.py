"""What `make demo` runs: compile and run the project's models, print a summary, then run the
paper's scenario experiments (smartspec_dsl.app.paper) into results/."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from ..runtime import load
from ..errors import ModelError
from . import paper, scenarios

ROOT = Path(__file__).resolve().parents[2]   # the project's checkout: ../shared sits beside it
SHARED = ROOT.parent / "shared"

MODELS = [
    ("teacup", SHARED / "test-models" / "samples" / "teacup" / "teacup.mdl", ["Teacup Temperature"]),
    ("World3", SHARED / "real-models" / "WRLD3-03" / "wrld3-03.mdl",
     ["population", "industrial output", "food", "persistent pollution index",
      "nonrenewable resources"]),
    ("smart specialization (paper)", scenarios.MODEL_PATH,
     ["Industry smart specialization level", "Industry smart level",
      "Industry specialization level", "Coupling level"]),
]


def main() -> int:
    failures = 0
    for title, path, show in MODELS:
        if not path.exists():
            print(f"{title}: skipped, {path} not found")
            continue
        try:
            started = time.perf_counter()
            model = load(path)
            loaded = time.perf_counter() - started
            started = time.perf_counter()
            result = model.run()
            ran = time.perf_counter() - started
        except ModelError as err:
            print(f"{title}: cannot run yet: {err}")
            failures += 1
            continue
        how = "kernel from cache" if model.cached else "compiled"
        print(f"{title}: {len(result.columns)} variables, t = {result.time[0]:g}..{result.time[-1]:g}; "
              f"load {loaded:.2f} s ({how}), run {ran * 1000:.2f} ms")
        for name in show:
            series = result[name]
            print(f"    {name:<40} start {series[0]:12.6g}   end {series[-1]:12.6g}")
    # every scenario of the paper: figures and scenarios.md in results/
    try:
        failures += paper.main(ROOT / "results") != 0
    except ModelError as err:
        print(f"paper experiments: cannot run: {err}")
        failures += 1
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
