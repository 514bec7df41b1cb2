"""The interpreter compiled ahead of time (backend/interpreter_aot.py) gives the
Numba-cached interpreter's numbers bit for bit (the same function, compiled by the
same compiler with the same helpers): World3 with Euler and RK4, and a third of the
conformance cases; and with it in place a model loads and runs without importing
Numba at all, which is what makes it worth having."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from types import SimpleNamespace

import numpy as np
import pytest

from smartspec_dsl import load
from smartspec_dsl.errors import ParameterError
from smartspec_dsl.backend import aot, interpreter_aot, tier0

from conftest import ROOT, SHARED, assert_same_run
from test_interpreter import cases, need

LOAD = interpreter_aot.load


@pytest.fixture(scope="module")
def aot_folder(tmp_path_factory):
    """A folder laid out as the interpreter's cache, holding only the module built ahead of time."""
    if shutil.which(sysconfig.get_config_var("CC").split()[0]) is None:
        pytest.skip("no C compiler: the interpreter stays the Numba-cached one")
    root = tmp_path_factory.mktemp("interpreter-cache")
    folder = root / f"interpreter-{tier0.version()}"
    folder.mkdir()
    interpreter_aot.build(folder)
    return root


def both(model, monkeypatch, folder, **kw):
    """One run on the module built ahead of time, one on the Numba-cached interpreter."""
    aot = LOAD(folder / f"interpreter-{tier0.version()}")
    assert aot is not None
    monkeypatch.setattr(interpreter_aot, "load", lambda folder=None: aot)
    ahead = model.run(tier="interpreter", **kw)
    monkeypatch.setattr(interpreter_aot, "load", lambda folder=None: None)
    return ahead, model.run(tier="interpreter", **kw)


def assert_same(name, ahead, jit):
    assert_same_run(name, ahead, jit, "interpreter")


def test_its_type_is_the_numba_interpreters(aot_folder, monkeypatch):
    """The one signature compiled ahead of time is the one every run gives the Numba one."""
    from numba.core.sigutils import normalize_signature
    monkeypatch.setattr(interpreter_aot, "load", lambda folder=None: None)
    load(need(SHARED / "test-models" / "samples" / "teacup" / "teacup.mdl"), tier="interpreter").run()
    args, ret = normalize_signature(interpreter_aot.SIGNATURE)
    assert [(tuple(s.args), s.return_type) for s in tier0.load().simulate.nopython_signatures] == [(args, ret)]


def test_world3_is_bit_identical_with_euler_and_rk4(aot_folder, monkeypatch):
    model = load(need(SHARED / "real-models" / "WRLD3-03" / "wrld3-03.mdl"), tier="interpreter")
    for method in ("euler", "rk4"):
        assert_same(f"World3 {method}", *both(model, monkeypatch, aot_folder, method=method))


def test_rk4_auto_runs_and_stops_as_on_the_numba_interpreter(aot_folder, tmp_path, monkeypatch):
    """RK4 Auto's step-size error cannot be raised from code compiled ahead of time (the
    process crashed): its runs take the Numba-cached interpreter, with the same numbers, and a
    step no sub-step makes accurate (dx/dt = x^2 from 1, infinite at t = 1) stops the run."""
    path = tmp_path / "blowup.mdl"
    path.write_text("x = INTEG(x * x, 1) ~~|\nINITIAL TIME = 0 ~~|\nFINAL TIME = 2 ~~|\n"
                    "TIME STEP = 0.5 ~~|\nSAVEPER = 0.5 ~~|\n")
    model = load(path, tier="interpreter")
    ahead, jit = both(model, monkeypatch, aot_folder, method="rk4auto", final_time=0.5)
    assert_same("x' = x^2, RK4 Auto", ahead, jit)
    aot = LOAD(aot_folder / f"interpreter-{tier0.version()}")
    monkeypatch.setattr(interpreter_aot, "load", lambda folder=None: aot)
    with pytest.raises(ParameterError, match="RK4 Auto could not bring every stock's error"):
        model.run(tier="interpreter", method="rk4auto")


def test_conformance_cases_are_bit_identical(aot_folder, monkeypatch):
    sample = cases()[::3]
    if not sample:
        pytest.skip(f"{SHARED / 'test-models'} not found (clone with ../shared beside the project)")
    for name, mdl in sample:
        model = load(mdl, tier="interpreter")
        if model.interpreter_unsupported is None:
            assert_same(name, *both(model, monkeypatch, aot_folder))


def test_an_array_of_another_type_is_refused_not_misread(aot_folder, monkeypatch):
    """Code compiled ahead of time would read a float32 array's memory as float64: refused."""
    aot = LOAD(aot_folder / f"interpreter-{tier0.version()}")
    real, calls = aot.module.simulate, []
    monkeypatch.setattr(aot, "module", SimpleNamespace(simulate=lambda *a: calls.append(a) or real(*a)))
    monkeypatch.setattr(interpreter_aot, "load", lambda folder=None: aot)
    load(need(SHARED / "test-models" / "samples" / "teacup" / "teacup.mdl"), tier="interpreter").run(
        tier="interpreter")
    tape, *args = calls[0]
    assert aot.simulate(tape, *args)[0] > 0
    for k, bad in ((0, args[0].astype(np.float32)), (2, np.asfortranarray(args[2])), (3, args[3].astype(np.int32))):
        wrong = list(args)
        wrong[k] = bad
        with pytest.raises(TypeError, match="expected a C-contiguous"):
            aot.simulate(tape, *wrong)
    assert len(calls) == 2       # none of them reached the compiled code


def test_a_damaged_module_is_never_loaded_but_removed_to_be_built_again(aot_folder, tmp_path, capsys):
    """A truncated shared library would kill the process when loaded (SIGBUS): its bytes are
    checked against the digest its build wrote, and a damaged one is treated as missing."""
    name, built = interpreter_aot._paths(aot_folder / f"interpreter-{tier0.version()}")
    for kind, damage in (("truncated", lambda b: b[:20000]), ("one byte changed", lambda b: b[:-9] + b"x" + b[-8:])):
        folder = tmp_path / kind
        folder.mkdir()
        copy = folder / built.name
        copy.write_bytes(damage(built.read_bytes()))
        shutil.copy(built.with_name(built.name + ".sha256"), folder)
        assert LOAD(folder) is None
        assert not copy.exists()          # removed: the next run's background build makes it again
        assert f"warning: {copy}: a damaged file in the interpreter's cache" in capsys.readouterr().err
    intact = tmp_path / "intact"
    shutil.copytree(built.parent, intact)
    assert LOAD(intact) is not None


def test_a_first_run_with_it_never_imports_numba(aot_folder, tmp_path):
    model = tmp_path / "m.mdl"
    model.write_text("s = INTEG(f, 1) ~~|\nf = s / 2 ~~|\n"
                     "INITIAL TIME = 0 ~~|\nFINAL TIME = 2 ~~|\nTIME STEP = 1 ~~|\nSAVEPER = 1 ~~|\n")
    code = ("import sys, smartspec_dsl\n"
            f"r = smartspec_dsl.load({str(model)!r}, tier='interpreter').run()\n"
            "print(r['s'].tolist(), r.tier, 'numba' in sys.modules)\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT), SMARTSPEC_INTERPRETER_CACHE=str(aot_folder),
               SMARTSPEC_CACHE_DIR=str(tmp_path / "cache"), SMARTSPEC_BACKGROUND_COMPILE="0")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split("]")[1].split() == ["interpreter", "False"]
    assert out.stdout.startswith("[1.0, 1.5, 2.25]")    # s(t+1) = 1.5 s(t), by hand


def test_a_build_starts_only_when_none_is_there_running_or_failed(tmp_path, monkeypatch):
    """start_build's guards (no build runs here): the module present, a build under way
    (the install's build slot held by a live process), or a build that failed for this
    version (its reason kept) start nothing; a failing build records why and releases the slot."""
    monkeypatch.setenv("SMARTSPEC_INTERPRETER_CACHE", str(tmp_path))
    started = []

    class Started:
        pid = os.getpid()          # a live process holds the slot

        def __init__(self, *a, **k):
            started.append(a)

        def poll(self):
            return None
    monkeypatch.setattr(aot.subprocess, "Popen", Started)
    monkeypatch.setattr(aot, "_STARTED", [])
    _, path = interpreter_aot._paths()
    path.parent.mkdir(parents=True)
    slot, failed = aot.build_slot(), path.with_suffix(".failed")
    for present in (path, slot, failed):
        present.write_text(str(os.getpid()))
        assert interpreter_aot.start_build() is False
        present.unlink()
    assert started == []
    assert interpreter_aot.start_build() is True and len(started) == 1 and slot.is_file()
    assert interpreter_aot.start_build() is False and len(started) == 1     # the first one holds the slot

    def no_compiler(folder=None):
        raise OSError("no C compiler")
    monkeypatch.setattr(interpreter_aot, "build", no_compiler)
    interpreter_aot.build_worker(str(failed), str(slot))
    assert not slot.exists() and failed.read_text() == "OSError: no C compiler\n"
    assert interpreter_aot.start_build() is False and len(started) == 1
