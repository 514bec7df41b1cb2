"""PySD's side of `smartspec bench --compare pysd`, run by an interpreter that has PySD
(it imports nothing of smartspec, whose dependencies that interpreter may lack):

    python pysd_worker.py MODEL.mdl RUNS VALUES.json

PySD's `read_vensim` writes the translated `.py` beside the model, so the model's
folder (its data files with it, up to 50 MiB; else the model alone) is copied to a
temporary folder first. Times `read_vensim`, then `model.run()` `RUNS` times after
one untimed run (the median); writes the last run's values (time, columns, rows) to
VALUES.json and one JSON line on stdout: {"ok": true, "pysd_version", "load_s",
"first_run_s", "per_run_s"} or {"ok": false, "stage", "error"}.
"""
import json
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

MAX_COPY_BYTES = 50 * 2**20


def _copy(model: Path, into: Path) -> Path:
    folder = model.parent
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    if size <= MAX_COPY_BYTES:
        shutil.copytree(folder, into / "model", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
        return into / "model" / model.name
    shutil.copy2(model, into / model.name)
    return into / model.name


def main(argv) -> int:
    model_file, runs, values_file = Path(argv[0]).resolve(), int(argv[1]), argv[2]
    warnings.simplefilter("ignore")       # PySD warns on every lookup extrapolation
    reply = {"ok": False}
    with tempfile.TemporaryDirectory(prefix="smartspec-pysd-") as tmp:
        stage = "load"
        try:
            import pysd
            reply["pysd_version"] = pysd.__version__
            path = _copy(model_file, Path(tmp))
            t = time.perf_counter()
            model = pysd.read_vensim(str(path))
            reply["load_s"] = time.perf_counter() - t
            stage = "run"
            t = time.perf_counter()
            df = model.run(progress=False)
            reply["first_run_s"] = time.perf_counter() - t
            times = []
            for _ in range(runs):
                t = time.perf_counter()
                df = model.run(progress=False)
                times.append(time.perf_counter() - t)
            reply["per_run_s"] = statistics.median(times)
        except Exception as err:  # noqa: BLE001 - PySD fails in many ways; report, do not crash
            reply.update(stage=stage, error=f"{type(err).__name__}: {err}"[:500])
            print(json.dumps(reply))
            return 0
    numeric = df.apply(lambda col: col.map(lambda x: x if isinstance(x, (int, float)) else float("nan")))
    with open(values_file, "w", encoding="utf-8") as fh:
        json.dump({"time": [float(t) for t in df.index], "columns": [str(c) for c in df.columns],
                   "values": numeric.astype(float).values.tolist()}, fh)
    reply["ok"] = True
    print(json.dumps(reply))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
