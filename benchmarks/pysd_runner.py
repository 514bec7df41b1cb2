"""Times PySD on one Vensim model. Run by the PySD venv's python (see pysd_env.sh):

    benchmarks/.venv-pysd/bin/python benchmarks/pysd_runner.py MODEL.mdl --runs 20 \
        [--warmup 1] [--vary '{"Room Temperature": [60, 70, 80]}']

PySD's read_vensim writes the translated .py next to the .mdl, so the model's
folder is first copied to a temporary directory (the source folder, e.g.
../shared, is read-only for the project and is never written).

Prints one JSON object on stdout:
    {"ok": true, "pysd_version", "load_s", "first_run_s", "per_run_s" (median of
     the timed runs), "min_run_s", "runs", "warmup", "shape"}
or {"ok": false, "stage": "load"|"run", "error": "..."} (exit status 0 either way).
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

MAX_COPY_BYTES = 50 * 2**20  # copy the whole model folder (data files) if it is small


def _stage_copy(model: Path, into: Path) -> Path:
    folder = model.parent
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    if size <= MAX_COPY_BYTES:
        dest = into / folder.name
        shutil.copytree(folder, dest, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
        return dest / model.name
    shutil.copy2(model, into / model.name)
    return into / model.name


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--runs", type=int, default=10, help="timed runs (default 10)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed runs first (default 1)")
    ap.add_argument("--vary", default=None,
                    help='JSON {"constant name": [values...]}: run i uses values[i %% len]')
    args = ap.parse_args(argv)

    warnings.simplefilter("ignore")  # PySD warns on every lookup extrapolation
    result: dict = {"ok": False, "model": args.model}
    vary = json.loads(args.vary) if args.vary else {}
    with tempfile.TemporaryDirectory(prefix="pysd-bench-") as tmp:
        try:
            import pysd
            result["pysd_version"] = pysd.__version__
            source = Path(args.model).resolve()
            if not source.is_file():
                raise FileNotFoundError(f"no model file {source}")
            path = _stage_copy(source, Path(tmp))
            t = time.perf_counter()
            model = pysd.read_vensim(str(path))
            result["load_s"] = time.perf_counter() - t
        except Exception as err:  # noqa: BLE001 - report, don't crash
            result.update(stage="load", error=f"{type(err).__name__}: {err}"[:500],
                          traceback=traceback.format_exc()[-2000:])
            print(json.dumps(result))
            return 0

        def params_for(i):
            return {k: v[i % len(v)] for k, v in vary.items()} or None

        try:
            times = []
            shape = None
            for i in range(args.warmup + args.runs):
                p = params_for(i)
                t = time.perf_counter()
                df = model.run(params=p, progress=False) if p else model.run(progress=False)
                dt = time.perf_counter() - t
                shape = list(df.shape)
                if i == 0:
                    result["first_run_s"] = dt
                if i >= args.warmup:
                    times.append(dt)
        except Exception as err:  # noqa: BLE001
            result.update(stage="run", error=f"{type(err).__name__}: {err}"[:500],
                          traceback=traceback.format_exc()[-2000:])
            print(json.dumps(result))
            return 0

    result.update(ok=True, runs=len(times), warmup=args.warmup, shape=shape,
                  per_run_s=statistics.median(times) if times else result["first_run_s"],
                  min_run_s=min(times) if times else result["first_run_s"],
                  varied=sorted(vary))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
