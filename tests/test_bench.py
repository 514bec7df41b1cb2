"""`smartspec bench`: what it measures, where it compiles, and its comparison with PySD."""
import json
import os
from pathlib import Path

import numpy as np
import pytest

from smartspec_dsl.cli import main
from smartspec_dsl.experiments.benchmark import default_threads, largest_difference

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[1]
PYSD_PYTHON = ROOT / "benchmarks" / ".venv-pysd" / "bin" / "python"


def test_bench_measures_cold_in_a_private_cache(tmp_path, capsys):
    cache = Path(os.environ["SMARTSPEC_CACHE_DIR"])
    before = sorted(p.name for p in cache.iterdir()) if cache.exists() else []
    out = tmp_path / "bench.json"
    assert main(["bench", str(DATA / "teacup.mdl"), "--runs", "3", "--threads", "1,2", "-o", str(out)]) == 0
    report = json.loads(out.read_text())
    # the cold process compiled (an empty cache), the warm one read that cache back
    assert report["load"]["cold_was_compiled"] is True
    assert report["load"]["warm_was_cached"] is True
    # and the user's own kernel cache was not touched
    assert (sorted(p.name for p in cache.iterdir()) if cache.exists() else []) == before
    assert report["variables"] == 8 and report["saved_times"] == 241     # teacup: 0..30 every 0.125
    assert [t["threads"] for t in report["throughput"]] == [1, 2]
    assert all(t["runs_per_s"] > 0 for t in report["throughput"])
    assert report["run"]["batch_runs"] >= 3
    assert report["run"]["single_s"] > 0 and report["run"]["batch_per_run_s"] > 0
    assert report["peak_memory_bytes"]["warm"] > 20 * 2**20              # numba alone is more
    assert report["pysd"] is None
    table = capsys.readouterr().out
    assert "load, cold (empty kernel cache)" in table and "2 threads" in table


@pytest.mark.parametrize("argv, message", [
    (["--threads", "0"], "must be at least 1, got 0"),
    (["--runs", "0"], "must be at least 1, got 0"),
    (["-o", "bench.csv"], "bench writes JSON"),
    (["--threads", "1,4096"], "--threads: 4096 threads asked for; Numba runs at most"),
])
def test_bench_refuses_before_measuring(argv, message, capsys):
    try:
        code = main(["bench", str(DATA / "teacup.mdl")] + argv)
    except SystemExit as exit:            # argparse's own refusals
        code = exit.code
    assert code == 2
    assert message in capsys.readouterr().err


def test_bench_without_pysd_says_how_to_get_it(capsys):
    code = main(["bench", str(DATA / "teacup.mdl"), "--compare", "pysd", "--pysd-python", "/nonexistent/python"])
    assert code == 2
    assert "--compare pysd needs PySD" in capsys.readouterr().err


def test_default_threads():
    assert default_threads(1) == [1]
    assert default_threads(2) == [1, 2]
    assert default_threads(6) == [1, 2, 4, 6]
    assert default_threads(8) == [1, 2, 4, 8]


def test_largest_difference_by_hand():
    ours = {"time": np.array([0.0, 1.0, 2.0]), "columns": ["Stock", "Flow[A]", "Only Ours"],
            "values": np.array([[1.0, 0.0, 5.0], [2.0, 0.5, 5.0], [4.0, 1.0, 5.0]])}
    # PySD's names differ in case and spacing; it saved every half time unit
    theirs = {"time": [0.0, 0.5, 1.0, 1.5, 2.0], "columns": ["stock", "Flow [A]", "flow[a]"],
              "values": [[1.0, 9, 0.0], [9, 9, 9], [2.0, 9, 0.5], [9, 9, 9], [4.4, 9, 1.0]]}
    d = largest_difference(ours, theirs)
    assert d["variable"] == "Stock" and d["time"] == 2.0
    assert d["ours"] == 4.0 and d["pysd"] == 4.4
    assert d["relative"] == pytest.approx(0.4 / 4.4) and d["absolute"] == pytest.approx(0.4)
    assert d["times_compared"] == 3 and d["variables_compared"] == 2


@pytest.mark.skipif(not PYSD_PYTHON.exists(), reason="no PySD venv (bash benchmarks/pysd_env.sh makes one)")
def test_bench_compares_with_pysd(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", str(DATA / "teacup.mdl"), "--runs", "2", "--threads", "1", "--compare", "pysd",
                 "--pysd-python", str(PYSD_PYTHON), "-o", str(out)]) == 0
    p = json.loads(out.read_text())["pysd"]
    assert p["ok"] and p["load_s"] > 0 and p["per_run_s"] > 0
    d = p["largest_difference"]
    # teacup under Euler: PySD and smartspec compute the same sums; every variable is compared
    assert d["variables_compared"] == 8 and d["times_compared"] == 241
    assert d["relative"] < 1e-12
    assert "PySD one run" in capsys.readouterr().out
    assert not list(DATA.glob("*.py"))         # PySD wrote its translation into a copy


def test_bench_of_a_bad_model_is_its_located_error(tmp_path, capsys):
    bad = tmp_path / "bad.mdl"
    bad.write_text("x = 1 +\n~~|\n")
    assert main(["bench", str(bad)]) == 2
    assert f"error: {bad}:2:1: syntax error" in capsys.readouterr().err
