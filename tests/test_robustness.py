"""Never a traceback, never a hang, nothing outside the model's folder: one test per
kind of fault, on a small example and on its generalisation. (The random side of
this is tests/test_fuzz.py.)"""
import json
import os
import re
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from fuzz_mutants import check_text
from smartspec_dsl import ir, limits
from smartspec_dsl.frontend import nesting
from smartspec_dsl.errors import ModelError, ParameterError
from smartspec_dsl.runtime import compile_model

from conftest import run_cli

ROOT = Path(__file__).resolve().parents[1]
TEACUP = ROOT / "tests" / "data" / "teacup.mdl"
CONTROLS = ("INITIAL TIME = 0 ~ Month ~|\nFINAL TIME = 4 ~ Month ~|\n"
            "TIME STEP = 1 ~ Month ~|\nSAVEPER = TIME STEP ~ Month ~|\n")


def _model(equations: str, controls: str = CONTROLS) -> str:
    return equations + "\n" + controls


def _error(text: str, filename: str = "m.mdl") -> str:
    """The message of the located error compiling `text` gives (fails otherwise)."""
    outcome, detail = check_text(text, filename, time_limit=60)
    assert outcome == "located", f"{outcome}: {detail}"
    return detail


# ---- 1. deep expressions ------------------------------------------------------------

def _deep(kind: str, n: int) -> str:
    return {"minus": "-" * n + "a", "paren": "(" * n + "a" + ")" * n,
            "abs": "ABS(" * n + "a" + ")" * n, "not": ":NOT: " * n + "a",
            "sum": " + ".join(["a"] * n), "mixed sum": " - ".join(["a"] * n),
            "product": " * ".join(["a"] * n), "and": " :AND: ".join(["a"] * n),
            "power": " ^ ".join(["a"] * n), "if": "IF THEN ELSE(a > 1, " * n + "a" + ", 0)" * n,
            "min": "MIN(a, " * n + "a" + ")" * n, "smooth": "SMOOTH(" * n + "a" + ", 1)" * n,
            "lookup": "lk(" * n + "a" + ")" * n}[kind]


@pytest.mark.parametrize("kind", ["minus", "paren", "sum", "mixed sum", "product", "and"])
@pytest.mark.parametrize("n", [3000])
def test_long_chains_compile(kind, n):
    text = _model(f"a = 2 ~~|\nlk((0,0),(10,10)) ~~|\nx = {_deep(kind, n)} ~~|\n")
    assert check_text(text, "m.mdl", time_limit=120)[0] == "accepted"


@pytest.mark.parametrize("kind", ["abs", "not", "power", "if", "min", "smooth", "lookup"])
def test_nesting_past_the_limit_is_a_located_error(kind):
    eqs = "a = 2 ~~|\nlk((0,0),(10,10)) ~~|\nb = 1 ~~|\nx = {} ~~|\n"
    ok = check_text(_model(eqs.format(_deep(kind, nesting.MAX_DEPTH // 2 - 2))), "m.mdl", 60)
    assert ok[0] == "accepted", ok
    for n in (300, 5000):
        msg = _error(_model(eqs.format(_deep(kind, n))))
        assert msg.startswith("m.mdl:4:1: ") and f"at most {nesting.MAX_DEPTH}" in msg


def test_chains_keep_their_value_and_vensim_order():
    rng = np.random.default_rng(15)
    for n in (1, 2, 31, 32, 33, 64, 65, 1000, 1001):
        for family in ("+-", "*"):
            terms = [ir.Ref(f"x{i}") for i in range(n)]
            ops = [None] + [family[k] for k in rng.integers(0, len(family), n - 1)]
            chain = nesting._fold(ops, terms)
            balanced = nesting.balance(chain)
            env = {f"x{i}": Fraction(int(rng.integers(1, 9)), int(rng.integers(1, 5))) for i in range(n)}
            assert _value(balanced, env) == _value(chain, env)
            if n <= nesting.BLOCK:
                assert balanced == chain      # short chains: strictly left to right, as Vensim
            assert ir.depth(balanced) <= nesting.BLOCK + 1 + int(np.log2(n / nesting.BLOCK + 1)) + 1


def _value(e, env):
    todo, done = [(e, False)], []
    while todo:
        node, ready = todo.pop()
        if isinstance(node, ir.Ref):
            done.append(env[node.name])
        elif not ready:
            todo.append((node, True))
            todo += [(node.right, False), (node.left, False)]
        else:
            b, a = done.pop(), done.pop()
            done.append(a + b if node.op == "+" else a - b if node.op == "-" else a * b)
    return done[0]


def test_deep_and_long_expressions_run_right(tmp_path):
    """A 300-term sum and 100 subtractions (blocks of 32), 1,001 minus signs and 60 nested ABS
    give the hand-derived values."""
    from smartspec_dsl import load
    terms = " + ".join(f"c{i % 10}" for i in range(300)) + " - " + " - ".join(["c1"] * 100)
    consts = "".join(f"c{i} = {i} ~~|\n" for i in range(10))
    path = tmp_path / "deep.mdl"
    path.write_text(_model(consts + f"s = {terms} ~~|\nm = {'-' * 1001}c3 ~~|\n"
                           f"d = {'ABS(' * 60}-c2{')' * 60} ~~|\n"
                           "stock = INTEG(s, 0) ~~|\n"))
    res = load(path).run()
    assert res["s"][0] == 30 * 45 - 100 and res["m"][0] == -3 and res["d"][0] == 2
    assert res["stock"][-1] == 4 * (30 * 45 - 100)


# ---- 2. control variables ------------------------------------------------------------

@pytest.mark.parametrize("missing", ["INITIAL TIME", "FINAL TIME", "TIME STEP", "SAVEPER"])
def test_a_missing_control_is_a_located_error(missing):
    controls = "".join(line + "\n" for line in CONTROLS.splitlines() if not line.startswith(missing))
    msg = _error(_model("x = Time ~~|\n", controls))
    assert msg.startswith("m.mdl:1:1: ") and f"does not define {missing}" in msg


@pytest.mark.parametrize("equations, line, words", [
    ("variable = IF THEN ELSE(Time > 5, :NA:, Time) ~~|\n", 1, "does not define INITIAL TIME, FINAL TIME, TIME STEP"),
    ("c = 3 ~~|\nt = 2 ~~|\nFINAL TIME = IF THEN ELSE(c > 50, Time, t) ~~|\nINITIAL TIME = 0 ~~|\n"
     "TIME STEP = 1 ~~|\n", 1, "does not define SAVEPER"),
    ("s = 1 ~~|\nFINAL TIME = INTEG(s, 10) ~~|\nINITIAL TIME = 0 ~~|\nTIME STEP = 1 ~~|\n"
     "SAVEPER = 1 ~~|\n", 2, "FINAL TIME is a stock"),
    ("FINAL TIME((0,0),(1,1)) ~~|\nINITIAL TIME = 0 ~~|\nTIME STEP = 1 ~~|\nSAVEPER = 1 ~~|\n", 1,
     "FINAL TIME is a lookup"),
    ("A: a1, a2 ~~|\nTIME STEP[A] = 1 ~~|\nINITIAL TIME = 0 ~~|\nFINAL TIME = 1 ~~|\nSAVEPER = 1 ~~|\n", 2,
     "TIME STEP is subscripted"),
    ("x = 1 ~~|\nINITIAL TIME = 0 ~~|\nFINAL TIME = 1e999 ~~|\nTIME STEP = 1 ~~|\nSAVEPER = 1 ~~|\n", 3,
     "FINAL TIME is inf"),
    ("x = 1 ~~|\nINITIAL TIME = 0 ~~|\nFINAL TIME = 10 ~~|\nTIME STEP = (-8) ^ 0.5 ~~|\nSAVEPER = 1 ~~|\n",
     4, "TIME STEP cannot be computed"),
])
def test_controls_the_driver_cannot_use_are_located_errors(equations, line, words):
    msg = _error(equations)
    assert msg.startswith(f"m.mdl:{line}:") and words in msg


def test_controls_changing_during_the_run_still_work():
    text = ("x = Time ~~|\nFINAL TIME = IF THEN ELSE(Time < 5, 10, 50) ~~|\nINITIAL TIME = 0 ~~|\n"
            "TIME STEP = IF THEN ELSE(Time < 4, 1, 0.5) ~~|\nSAVEPER = TIME STEP ~~|\n")
    assert check_text(text, "m.mdl")[0] == "accepted"


# ---- 3. a lookup used as a plain value ------------------------------------------------------

@pytest.mark.parametrize("use", ["lk", "lk + 1", "MAX(lk, 2)", "SMOOTH(lk, 3)", "IF THEN ELSE(Time > 1, 1, lk)"])
def test_a_lookup_used_as_a_value_is_a_located_error(use):
    msg = _error(_model(f"lk((0,0),(1,1)) ~~|\ny = {use} ~~|\n"))
    assert re.match(r"m\.mdl:2:\d+: 'lk' is a lookup used as a plain value in the equation of 'y'", msg)


@pytest.mark.parametrize("use, column", [
    ("x[A] = tbl(Time)", 8),                     # an equation over the lookup's own range
    ("x[A] = 1 + tbl(Time)", 12),
    ("x[A] = LOOKUP AREA(tbl, 0, 1)", 20),       # a function that takes a lookup
    ("x = tbl(Time)", 5),                        # a scalar's
])
def test_a_lookup_defined_per_element_read_without_subscripts_is_a_located_error(use, column):
    """Vensim's help ("Subscripts"): "You must use subscript values for a variable consistently
    throughout the model. If you do not, Vensim returns error messages." A lookup defined per
    element read without its subscripts is said so where it is read; an equation over its range
    read it as a variable the model does not define ("undefined variable 'tbl'")."""
    msg = _error(_model(f"A: A1, A2 ~~|\ntbl[A1]((0,0),(1,1)) ~~|\ntbl[A2]((0,0),(1,2)) ~~|\n{use} ~~|\n"))
    assert msg == f"m.mdl:4:{column}: 'tbl' is subscripted; a reference to it needs 1 subscript"


def test_lookup_names_where_a_lookup_is_expected_still_work():
    text = _model("lk((0,0),(1,2)) ~~|\ny = LOOKUP INVERT(lk, 1) + lk(0.5) ~~|\n")
    assert check_text(text, "m.mdl")[0] == "accepted"


# ---- 4 and 6. files a model names -----------------------------------------------------------

def _get(tmp_path, name: str) -> str:
    path = tmp_path / "m" / "m.mdl"
    path.parent.mkdir(exist_ok=True)
    text = _model(f"x = GET DIRECT CONSTANTS('{name}', ',', 'B2') ~~|\n")
    outcome, detail = check_text(text, str(path), time_limit=20)
    assert outcome == "located", (outcome, detail)
    assert detail.startswith(f"{path}:1:5: ") and "\n" not in detail
    return detail


def test_bad_file_names_in_get_calls(tmp_path):
    assert "File name too long" in _get(tmp_path, "a" * 300 + ".csv")
    assert "too long" in _get(tmp_path, "/".join(["b" * 200] * 30))
    assert "NUL byte" in _get(tmp_path, "data\0.csv")
    assert "not found" in _get(tmp_path, "missing.csv")
    (tmp_path / "m" / "folder.csv").mkdir()
    assert "is a directory" in _get(tmp_path, "folder.csv")


def test_reads_stay_in_the_model_folder_whatever_the_path(tmp_path):
    (tmp_path / "outside.csv").write_text("a,b\n1,2\n")
    for name in ("../outside.csv", str(tmp_path / "outside.csv"), "/dev/zero", "sub/../../outside.csv"):
        assert "outside the model's folder" in _get(tmp_path, name)
    (tmp_path / "m").mkdir(exist_ok=True)
    os.symlink(tmp_path / "outside.csv", tmp_path / "m" / "link.csv")
    assert "outside the model's folder" in _get(tmp_path, "link.csv")
    os.symlink("/dev/zero", tmp_path / "m" / "zero.csv")     # would never end if read
    assert "outside the model's folder" in _get(tmp_path, "zero.csv")
    os.mkfifo(tmp_path / "m" / "pipe.csv")                  # would block if opened plainly
    assert "not a regular file" in _get(tmp_path, "pipe.csv")


def test_data_variables_obey_the_folder_rule(tmp_path):
    """The directory scan that fills data variables reads through the same check."""
    folder = tmp_path / "m"
    folder.mkdir()
    (tmp_path / "secret.csv").write_text("Time,d\n0,1\n10,2\n")
    text = _model("d :INTERPOLATE: ~~|\ny = d * 2 ~~|\n")
    (folder / "m.mdl").write_text(text)
    os.symlink(tmp_path / "secret.csv", folder / "data.csv")
    msg = _error(text, str(folder / "m.mdl"))
    assert msg.startswith(f"{folder / 'm.mdl'}:1:1: ") and "'data.csv' is outside the model's folder" in msg
    # the same file inside the folder is read
    (folder / "data.csv").unlink()
    (folder / "data.csv").write_text("Time,d\n0,1\n10,2\n")
    model, _, _ = compile_model(text, str(folder / "m.mdl"))
    assert model is not None


def test_the_model_file_itself_is_read_through_the_check(tmp_path):
    from smartspec_dsl.frontend.parse import read_model_text
    os.mkfifo(tmp_path / "pipe.mdl")
    for path, words in (("/dev/zero", "it is not a regular file"), (tmp_path / "pipe.mdl", "it is not a regular file"),
                        (tmp_path, "it is a directory"), (tmp_path / "none.mdl", "No such file")):
        with pytest.raises(ModelError) as err:
            read_model_text(path)
        assert str(err.value) == f"{path}: cannot read model: {words}" + (" or directory" if "No" in words else "")
    proc = run_cli("check", "/dev/zero", timeout=60)
    assert proc.returncode == 2 and proc.stderr == "error: /dev/zero: cannot read model: it is not a regular file\n"


# ---- 5. recursive macros --------------------------------------------------------------------

@pytest.mark.parametrize("macros, named, cycle", [
    (":MACRO: Grow(x)\nGrow = Grow(x) + 1 ~~|\n:END OF MACRO:\n", "Grow", "Grow -> Grow"),
    (":MACRO: F(x)\nF = G(x) ~~|\n:END OF MACRO:\n:MACRO: G(x)\nG = H(x) * 2 ~~|\n:END OF MACRO:\n"
     ":MACRO: H(x)\nH = 1 + F(x) ~~|\n:END OF MACRO:\n", "F", "F -> G -> H -> F"),
])
def test_recursive_macros_are_an_error_naming_the_macro(tmp_path, macros, named, cycle):
    call = "Grow" if "Grow" in macros else "G"
    text = _model(macros + f"y = {call}(2) ~~|\n")
    assert _error(text).startswith(f"m.mdl:1:1: macro '{named}' calls itself ({cycle})")
    if call == "Grow":      # `smartspec check` hung on it
        path = tmp_path / "m.mdl"
        path.write_text(text)
        proc = run_cli("check", str(path), timeout=60)
        assert proc.returncode == 2 and proc.stderr.startswith(f"error: {path}:1:1: macro 'Grow' calls itself")


def test_macros_multiplying_without_end_are_refused():
    # each level calls the one below twice: 2^40 copies
    macros = "".join(f":MACRO: M{i}(x)\nM{i} = M{i + 1}(x) + M{i + 1}(x) ~~|\n:END OF MACRO:\n" for i in range(40))
    macros += ":MACRO: M40(x)\nM40 = x ~~|\n:END OF MACRO:\n"
    msg = _error(_model(macros + "y = M0(1) ~~|\n"))
    assert "macro calls expand to more than" in msg


# ---- 7. resource limits ---------------------------------------------------------------------

def test_huge_ranges_are_refused_before_they_are_built():
    started = time.perf_counter()
    msg = _error(_model("A: (a1-a10000000) ~~|\nx[A] = 1 ~~|\n"))
    assert msg.startswith("m.mdl:1:4: ") and "10,000,000 elements" in msg
    msg = _error(_model("A: (a1-a3000) ~~|\nB: (b1-b3000) ~~|\nx[A,B] = 1 ~~|\n"))
    assert msg.startswith("m.mdl:3:1: ") and "9,000,000 scalar equations" in msg and "'x'" in msg
    assert time.perf_counter() - started < 30


@pytest.fixture(scope="module")
def teacup():
    from smartspec_dsl import load
    return load(TEACUP)


def test_a_parameter_matrix_of_another_type_is_refused(teacup):
    with pytest.raises(ParameterError, match=r"parameter_matrix takes \{constant name: a value per run\}, not list"):
        teacup.parameter_matrix([{"Room Temperature": 60}])
    assert teacup.parameter_matrix({"Room Temperature": [60, 70]}).shape[0] == 2


def test_runs_too_big_are_refused_with_what_they_need(teacup, monkeypatch):
    with pytest.raises(ParameterError, match="must be a finite number, got inf"):
        teacup.run(final_time=float("inf"))
    with pytest.raises(ParameterError, match=r"would take 3e\+301 time steps; .*larger TIME STEP"):
        teacup.run(time_step=1e-300)
    with pytest.raises(ParameterError, match=r"1,000,000,001 saved times .* needs about .* and .* "
                                             r"is available; save fewer times \(a larger SAVEPER\)"):
        teacup.run(final_time=1e9 * 0.125, saveper=0.125,
                   return_columns=["Teacup Temperature"] * 1000)
    monkeypatch.setattr(limits, "available_memory", lambda: 1 << 20)
    # Needs under 64 MiB are not checked (limits.SMALL_NEED), so these ask for more: 2,400,001 saved
    # times x (8 outputs + the stock kept for Result.final_state) x 8 bytes = 164.8 MiB.
    with pytest.raises(ParameterError, match=r"2,400,001 saved times x 9 variables needs about 164\.8 MB of memory "
                                             r"and 1\.0 MB is available"):
        teacup.run(final_time=30 * 10000)
    with pytest.raises(ParameterError, match="runs x .* outputs needs about .* statistics only"):
        teacup.run_batch(teacup.parameter_matrix(n=20000))
    assert teacup.run(final_time=30)["Teacup Temperature"][-1] > 70   # what fits still runs


# ---- 8 and 9. the command line ------------------------------------------------------------------

def _one_line_error(proc, starts: str):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith(f"error: {starts}"), proc.stderr


def test_cli_output_errors_name_the_users_path_and_come_before_any_work(tmp_path):
    cache = tmp_path / "cache"
    env = {"SMARTSPEC_CACHE_DIR": str(cache)}
    spec = tmp_path / "spec.toml"
    spec.write_text('sampler = "morris"\nruns = 4\n[parameters]\n"Room Temperature" = [60, 80]\n')
    nodir = tmp_path / "nodir"
    for command, out, words in ((["run", str(TEACUP)], nodir / "x.csv", "the folder"),
                                (["sensitivity", str(TEACUP), "--spec", str(spec)], nodir / "x.csv", "the folder"),
                                (["calibrate", str(TEACUP), "--spec", str(spec)], tmp_path, "it is a directory"),
                                (["plot", str(TEACUP)], nodir / "x.png", "the folder"),
                                (["plot", str(TEACUP)], tmp_path, "it is a directory")):
        proc = run_cli(*command, "-o", str(out), env=env)
        _one_line_error(proc, f"{out}: cannot write output: {words}")
    assert not cache.exists()      # refused before compiling anything
    existing = tmp_path / "existing"
    existing.write_text("keep me")
    proc = run_cli("sweep", str(TEACUP), "--spec", str(spec), "-o", str(existing), env=env)
    _one_line_error(proc, f"{existing}: cannot write the sweep there: it is a file")
    assert existing.read_text() == "keep me" and not cache.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]   # no temporary files left


def test_cli_closed_pipe_is_quiet():
    proc = subprocess.run(f"'{sys.executable}' -m smartspec_dsl.cli run '{TEACUP}' --final-time 200000 | head -2",
                          shell=True, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout.startswith("Time,") and proc.stdout.count("\n") == 2
    assert proc.stderr == ""


def test_cli_ctrl_c_is_one_line_and_exit_130(tmp_path):
    """Ctrl-C while Numba compiles the kernel (the kernel source is in the cache
    folder, the machine code not yet). On the compiled tier: kernel.py is written just before
    Numba compiles it, for a second or more; on the default tier without a background compile
    (the tests') the interpreter ran the model in a few milliseconds after it, so that the
    signal raced the end of the process (which Python had given SIGINT's default action back:
    killed, -2, cli.run_process). A signal after the end finds nothing to stop (skip); one
    landing while the process ends is ignored, so it exits 0 too."""
    cache = tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SMARTSPEC_CACHE_DIR": str(cache)}
    proc = subprocess.Popen([sys.executable, "-m", "smartspec_dsl.cli", "run", str(TEACUP), "--tier", "compiled"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    while not list(cache.glob("*/kernel.py")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=120)[1]
    if proc.returncode == 0:     # the machine was quicker than the signal
        pytest.skip("the run finished before the signal")
    assert proc.returncode == 130 and err.strip() == "interrupted", err


# Ctrl-C while the time loop runs (kernel_lib.interrupted), on each tier: the classic TIME STEP
# slip, 10**10 steps (the most a run takes). The kernel is compiled first in the same process
# (from the model with FINAL TIME 1, whose kernel's source is the same), so the signal, a second
# later, lands in the loop; the run stops within a moment, says "interrupted", exits 130 and
# writes no output.
_LOOP_INTERRUPT = """
import os, subprocess, sys, time
import smartspec_dsl
from smartspec_dsl import __main__ as entry
tier = sys.argv[1]
smartspec_dsl.load("short.mdl", tier=tier).run(tier=tier)
subprocess.Popen(["sh", "-c", f"sleep 1; kill -INT {os.getpid()}"])
start = time.monotonic()
code = entry.main(["run", "long.mdl", "-o", "out.csv", "--tier", tier])
print(f"{time.monotonic() - start:.2f}")
sys.exit(code)
"""
LONG = """x = Time ~~|
s = INTEG(x * 0.001 - s * 0.01, 0) ~~|
INITIAL TIME = 0 ~~| FINAL TIME = 1e+07 ~~| TIME STEP = 0.001 ~~| SAVEPER = 1e+06 ~~|
"""


@pytest.mark.parametrize("tier", ["interpreter", "compiled"])
def test_ctrl_c_stops_the_time_loop(tmp_path, tier):
    (tmp_path / "loop_interrupt.py").write_text(_LOOP_INTERRUPT)
    (tmp_path / "long.mdl").write_text(LONG)
    (tmp_path / "short.mdl").write_text(LONG.replace("FINAL TIME = 1e+07", "FINAL TIME = 1"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
           "SMARTSPEC_CACHE_DIR": str(tmp_path / "cache")}
    try:
        proc = subprocess.run([sys.executable, "-m", "loop_interrupt", tier], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=600)
    except subprocess.TimeoutExpired:
        pytest.fail("Ctrl-C did not stop the run")
    assert (proc.returncode, proc.stderr.strip()) == (130, "interrupted"), proc.stderr
    assert float(proc.stdout) < 10           # the run alone takes minutes
    assert not (tmp_path / "out.csv").exists()


# Ctrl-C while code run by a string `exec` or `eval` runs (Numba compiles that way, and so do
# dataclasses and namedtuples as they are made): CPython marks a process started with `-m` for
# death by SIGINT when a plain KeyboardInterrupt leaves such code, even when a caller catches
# it, so the command printed "interrupted" and then died of the signal (returncode -2). The
# signal is sent from inside an `exec` here, so the test does not depend on the timing.
_EXEC_INTERRUPT = """
import sys
from smartspec_dsl import cli, __main__ as entry
def interrupted_in_exec(args):
    exec("import os, signal, time\\nos.kill(os.getpid(), signal.SIGINT)\\ntime.sleep(30)", {})
cli.check_outputs = interrupted_in_exec
sys.exit(entry.main(["run", "m.mdl"]))
"""


def test_ctrl_c_inside_a_string_exec_still_exits_130(tmp_path):
    (tmp_path / "exec_interrupt.py").write_text(_EXEC_INTERRUPT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    proc = subprocess.run([sys.executable, "-m", "exec_interrupt"], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=60)
    assert (proc.returncode, proc.stderr.strip()) == (130, "interrupted"), proc.stderr



# Ctrl-C whose handler runs inside a callback from C (ctypes): Python can only report the
# exception there, and the command went on. LLVM calls back into Python as it compiles
# (llvmlite's object cache), so a Ctrl-C during a compile was lost that way about one time in
# five. The process's entry point (no argv: the process ends with the command) raises it again
# in the code that runs next, here a command's 30 s of work.
_CALLBACK_INTERRUPT = """
import ctypes, os, signal, sys, time
from smartspec_dsl import cli, __main__ as entry
@ctypes.CFUNCTYPE(None)
def from_c():
    os.kill(os.getpid(), signal.SIGINT)
def interrupted_in_a_callback(args):
    from_c()
    time.sleep(30)
cli.check_outputs = interrupted_in_a_callback
sys.argv = ["smartspec", "run", "m.mdl"]
sys.exit(entry.main())
"""


def test_ctrl_c_inside_a_callback_from_c_is_not_lost(tmp_path):
    (tmp_path / "callback_interrupt.py").write_text(_CALLBACK_INTERRUPT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    proc = subprocess.run([sys.executable, "-m", "callback_interrupt"], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=60)
    assert (proc.returncode, proc.stderr.strip()) == (130, "interrupted"), proc.stderr


# ---- 10. a damaged sweep store --------------------------------------------------------------------

SWEEP_SPEC = """
sampler = "lhs"
runs = 16000
seed = 11
outputs = ["Teacup Temperature"]
times = "all"
stats = ["mean", "p50"]
chunk_size = 200
[parameters]
"Characteristic Time" = { dist = "uniform", low = 5, high = 15 }
"""


def _tree(d: Path) -> dict:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    pytest.importorskip("pyarrow")
    d = tmp_path_factory.mktemp("sweep")
    (d / "spec.toml").write_text(SWEEP_SPEC)
    proc = run_cli("sweep", str(TEACUP), "--spec", str(d / "spec.toml"), "-o", str(d / "out"), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    return d


def _resume(d: Path, out: Path):
    return run_cli("sweep", str(TEACUP), "--spec", str(d / "spec.toml"), "-o", str(out), "--resume",
                "--no-progress")


@pytest.mark.parametrize("how", ["SIGINT", "SIGKILL"])
def test_interrupted_sweep_resumes_to_the_same_bytes(uninterrupted, tmp_path, how):
    d = uninterrupted
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "smartspec_dsl.cli", "sweep", str(TEACUP), "--spec",
                             str(d / "spec.toml"), "-o", str(out), "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None and \
            len(list((out / "chunks").glob("chunk-*.parquet")) if (out / "chunks").is_dir() else []) < 3:
        time.sleep(0.01)
    proc.send_signal(getattr(signal, how))
    err = proc.communicate(timeout=120)[1]
    if proc.returncode == 0:
        pytest.skip("the sweep finished before the signal")
    if how == "SIGINT":
        assert proc.returncode == 130 and "interrupted:" in err and "--resume" in err and "Traceback" not in err
    else:
        assert proc.returncode == -signal.SIGKILL
    done = len(list((out / "chunks").glob("chunk-*.parquet")))
    assert 3 <= done < 80, err
    proc = _resume(d, out)
    assert proc.returncode == 0, proc.stderr
    assert _tree(out) == _tree(d / "out")


def test_damaged_chunks_are_named_and_recomputed(uninterrupted, tmp_path):
    import shutil
    d = uninterrupted
    out = tmp_path / "out"
    shutil.copytree(d / "out", out)
    chunks = sorted((out / "chunks").glob("chunk-*.parquet"))
    truncated, garbled = chunks[3], chunks[7]
    truncated.write_bytes(truncated.read_bytes()[:len(truncated.read_bytes()) // 2])
    data = bytearray(garbled.read_bytes())
    data[len(data) // 2: len(data) // 2 + 64] = b"\xff" * 64
    garbled.write_bytes(bytes(data))
    (out / "params.parquet").write_bytes(b"PAR1")
    # a chunk written but never recorded (killed in between), and cut short
    unrecorded = chunks[5]
    manifest = json.loads((out / "manifest.json").read_text())
    del manifest["chunk_sha256"]["5"]
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    unrecorded.write_bytes(unrecorded.read_bytes()[:-100])
    (out / "chunks" / ".chunk-000009.parquet.abcd.tmp").write_bytes(b"half a chunk")
    proc = _resume(d, out)
    assert proc.returncode == 0, proc.stderr
    assert f"warning: {truncated}: damaged" in proc.stderr and "computed again" in proc.stderr
    assert f"{out / 'params.parquet'}: damaged" in proc.stderr and "Traceback" not in proc.stderr
    assert _tree(out) == _tree(d / "out")
    assert f"warning: {garbled}: damaged (its bytes changed" in proc.stderr
    assert f"warning: {unrecorded}: damaged (" in proc.stderr


# ---- kinds the fuzzing campaign found ------------------------------------------------------

@pytest.mark.parametrize("equation, words", [
    ("x = 1, 2 ~~|", "'x' is given 2 values but has no subscripts"),
    ("x = IF THEN ELSE, a :AND: b(1, 0) ~~|", "'x' is given 2 values but has no subscripts"),
    ("x = 1, 2; 3, 4; ~~|", "'x' is given 4 values but has no subscripts"),
    ("A: (a1-a99999999999) ~~|", "has numbers of more than 9 digits"),
    ("A: (a5-a1) ~~|", "counts down"),
    ("x = DELAY N(Time, 1, 0, 1e300) ~~|", "order 1e+300"),
    ("y[A] :EXCEPT: [a1] = 1 ~~|\nA: a1 ~~|", "'y' has no elements"),
    ("s = INTEG('text', 0) ~~|", "a text argument ('text') cannot be computed with"),
    ("x = DELAY FIXED(1, 'text', 0) ~~|", "a text argument ('text') cannot be computed with"),
])
def test_campaign_findings_are_located_errors(equation, words):
    msg = _error(_model("a = 1 ~~|\nb = 0 ~~|\n" + equation + "\n"))
    assert msg.startswith("m.mdl:3:") and words in msg


def test_ctrl_c_that_another_error_follows_is_still_the_interruption(monkeypatch, capsys):
    """Ctrl-C raised inside code that turns it into another error (CI once saw a SIGINT
    land in an import: TypeError 'expected a message argument') is still one line,
    'interrupted', and exit 130, no traceback; without a Ctrl-C the error is not hidden."""
    import signal
    from smartspec_dsl import cli
    from smartspec_dsl.errors import raise_interrupted

    def interrupted_then_other_error(args):
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:
            raise TypeError("expected a message argument") from None

    monkeypatch.setattr(cli, "main", interrupted_then_other_error)
    monkeypatch.setattr(raise_interrupted, "came", False, raising=False)
    # Python's own handler, which a process started in the background with Ctrl-C ignored
    # (`cmd &` in a script) does not have
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(TypeError):
            cli.run_process(["x"])        # no Ctrl-C came: the error is the error
    finally:
        signal.signal(signal.SIGINT, previous)
    previous = signal.signal(signal.SIGINT, raise_interrupted)
    try:
        assert cli.run_process(["x"]) == 130
    finally:
        signal.signal(signal.SIGINT, previous)
    assert capsys.readouterr().err.strip().splitlines()[-1] == "interrupted"
