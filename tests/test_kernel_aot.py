"""A model's kernel compiled ahead of time (backend/kernel_aot.py) gives Numba's kernel's
numbers bit for bit (the same jitted drivers, compiled by the same compiler): a model with
buffers (the held-state entry, a continued run), conformance cases with only
the generic driver (dynamic control variables; dense arrays), with Euler and RK4 (World3:
benchmarks/run_benchmarks.py compares its first run on both). Built in the background after a
first compiled run, it makes a later load and run of the compiled tier import no Numba
at all; a damaged one is removed (Numba's kernel runs); the kernel cache counts it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import smartspec_dsl
from smartspec_dsl.backend import aot, kernel_aot
from smartspec_dsl.runtime import cache, tiers

from conftest import ROOT, SHARED, assert_same_run
from conftest import equations
from test_buffer_state import CONTROLS
from test_interpreter import need

if not aot.have_compiler():
    pytest.skip("no C compiler: the compiled tier keeps Numba's kernels", allow_module_level=True)

# a DELAY FIXED fed by 1 + Time: inflow(t) = 1 + (t - 2) from t = 2, 0 before; s sums it
SMALL = ("s = INTEG(inflow, 0) ~~|\ninflow = DELAY FIXED(input, 2, 0) ~~|\ninput = 1 + Time ~~|\n"
         "INITIAL TIME = 0 ~~|\nFINAL TIME = 5 ~~|\nTIME STEP = 1 ~~|\nSAVEPER = 1 ~~|\n")
S_BY_HAND = [0.0, 0.0, 0.0, 1.0, 3.0, 6.0]
# buffers of two kinds: a plain ring (DELAY FIXED), the whole run's history (DELAY MATERIAL)
BUFFERS = equations("input = 5 + Time + 3 * PULSE(2, 1)", "fixed = DELAY FIXED(input, 1.5, 2)",
                    "material = DELAY MATERIAL(input, IF THEN ELSE(Time < 3, 2, 1), 4, -1)",
                    "total = INTEG(fixed + material, 0)", *CONTROLS)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Each model on the compiled tier (Numba's kernel, both drivers compiled by a run with
    Euler and RK4), the buffers model's continued runs (a model whose stocks start from the
    state: another kernel), and ONE module holding all their entries compiled ahead of time
    (one build instead of one per kernel), each kernel's as kernel_aot.load gives it."""
    folder = tmp_path_factory.mktemp("aot")
    (folder / "buffers.mdl").write_text(BUFFERS)
    tests = SHARED / "test-models" / "tests"
    paths = {"buffers": folder / "buffers.mdl",
             "dynamic final time": need(tests / "dynamic_final_time" / "test_dynamic_final_time.mdl"),
             "arrays": need(tests / "subscript_2d_arrays" / "test_subscript_2d_arrays.mdl")}
    loaded = {name: smartspec_dsl.load(path, tier="compiled") for name, path in paths.items()}
    for model in loaded.values():
        for method in METHODS:
            model.run(tier="compiled", method=method)
            if model.kernel.buffers:
                model.run(tier="compiled", method=method,
                          initial_condition=model.run(tier="compiled", method=method, until=4.5).final_state)
    kernels = [*loaded.values(), *loaded["buffers"]._edited.values()]
    exports = {f"{entry}{i}": signed for i, m in enumerate(kernels)
               for entry, signed in kernel_aot.exports(m._tiers.module()).items()}
    name, path = aot.module_path(folder, "smartspec_kernel_aot_test_", "several")
    module = aot.load(name, aot.build(name, path, exports), "a test")
    entries = {m._tiers: kernel_aot.Entry(SimpleNamespace(**{e: getattr(module, f"{e}{i}") for e in
                                                            kernel_aot.exports(m._tiers.module())}))
               for i, m in enumerate(kernels)}
    return loaded, entries


METHODS = ("euler", "rk4", "rk4auto")


def both(model, entries, **kw):
    """(the run compiled ahead of time, the run of Numba's kernel)."""
    for tiers_, entry in entries.items():
        tiers_._ahead = entry
    ahead = model.run(tier="compiled", **kw)
    for tiers_ in entries:
        tiers_._ahead = None
    return ahead, model.run(tier="compiled", **kw)


def assert_same(name, ahead, jit):
    assert_same_run(name, ahead, jit, "compiled")


def test_every_kernel_is_bit_identical_with_euler_rk4_and_rk4_auto(models):
    loaded, entries = models
    for name, model in loaded.items():
        for method in METHODS:
            assert_same(f"{name} {method}", *both(model, entries, method=method))


def test_a_continued_run_holds_its_buffers_as_numbas_kernel_does(models):
    """The held-state entry: a saved buffer in, the buffer at the end out."""
    loaded, entries = models
    model = loaded["buffers"]
    for method in METHODS:
        state = model.run(tier="compiled", method=method, until=4.5).final_state
        ahead, jit = both(model, entries, method=method, initial_condition=state)
        assert_same(f"continued {method}", ahead, jit)
        assert ahead.final_state.buffers.keys() == jit.final_state.buffers.keys() != set()
        for k, buf in ahead.final_state.buffers.items():
            assert np.array_equal(buf, jit.final_state.buffers[k]), k
        assert np.array_equal(ahead.values, model.run(tier="compiled", method=method).values[9:])


def test_an_array_of_another_type_is_refused_not_misread(models):
    loaded, entries = models
    entry = entries[loaded["arrays"]._tiers]
    seen = []
    real = entry.module.simulate
    entry = kernel_aot.Entry(SimpleNamespace(simulate=lambda *a: seen.append(a) or real(*a)))
    model = loaded["arrays"]
    model._tiers._ahead = entry
    model.run(tier="compiled")
    args = seen[0]
    for k, bad in ((0, args[0].astype(np.float32)), (2, np.asfortranarray(args[2])), (3, args[3].astype(np.int32))):
        wrong = list(args)
        wrong[k] = bad
        with pytest.raises(TypeError, match="compiled kernel: expected a C-contiguous"):
            entry.simulate(*wrong)
    assert len(seen) == 1       # none of them reached the compiled code


def _child(cache_dir: Path, model: Path, background: str) -> dict:
    code = ("import json, sys, smartspec_dsl\n"
            f"m = smartspec_dsl.load({str(model)!r}, tier='compiled')\n"
            "r = m.run(tier='compiled')\n"
            "print(json.dumps(dict(s=r['s'].tolist(), tier=r.tier, numba='numba' in sys.modules, "
            "dir=str(m._tiers.kernel_path.parent))))\n")
    # the install's build slot of its own: no other build (another test's) delays this one
    env = dict(os.environ, PYTHONPATH=str(ROOT), SMARTSPEC_CACHE_DIR=str(cache_dir),
               SMARTSPEC_BACKGROUND_COMPILE=background, SMARTSPEC_INTERPRETER_CACHE=str(cache_dir.parent / "install"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.splitlines()[-1]) | {"stderr": out.stderr}


def test_built_after_a_first_compiled_run_a_warm_load_never_imports_numba(tmp_path):
    model = tmp_path / "small.mdl"
    model.write_text(SMALL)
    cold = _child(tmp_path / "cache", model, "1")     # Numba's kernel; starts the build
    assert cold["numba"] and cold["s"] == S_BY_HAND
    kernel_dir = Path(cold["dir"])
    _, built = kernel_aot.paths(kernel_dir)
    deadline = time.monotonic() + 600
    slot = tmp_path / "install" / "aot-build.lock"
    while slot.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert built.is_file(), (built.with_suffix(".failed").read_text() if built.with_suffix(".failed").exists()
                             else "no module built")
    warm = _child(tmp_path / "cache", model, "0")
    assert (warm["s"], warm["tier"], warm["numba"]) == (S_BY_HAND, "compiled", False)

    # the cache counts the module with its kernel, and pruning removes it
    entry = next(e for e in cache.entries(tmp_path / "cache") if e.name == kernel_dir.name)
    assert entry.kind == "kernel" and entry.size > built.stat().st_size

    # a damaged module is removed (said in one line) and Numba's kernel runs
    built.write_bytes(built.read_bytes()[:20000])
    damaged = _child(tmp_path / "cache", model, "0")
    assert (damaged["s"], damaged["numba"]) == (S_BY_HAND, True) and not built.exists()
    assert f"warning: {built}: a damaged file in the kernel cache" in damaged["stderr"]

    assert [e.name for e in cache.prune(0, tmp_path / "cache") if e.name == kernel_dir.name] == [kernel_dir.name]
    assert not kernel_dir.exists()


def test_no_build_without_a_background_process_or_once_built(tmp_path, monkeypatch):
    started = []

    class Started:
        pid = os.getpid()

        def __init__(self, *a, **k):
            started.append(a)

        def poll(self):
            return None
    monkeypatch.setattr(aot.subprocess, "Popen", Started)
    monkeypatch.setenv("SMARTSPEC_INTERPRETER_CACHE", str(tmp_path / "install"))
    monkeypatch.setattr(aot, "_STARTED", [])
    t = tiers.Tiers(None, tmp_path / "k" / "kernel.py", None, None, aot_command=["code", "arg"])
    t._module = object()          # Numba's kernel ran
    monkeypatch.setenv("SMARTSPEC_BACKGROUND_COMPILE", "0")
    t.mark_ready()
    assert started == []
    monkeypatch.setenv("SMARTSPEC_BACKGROUND_COMPILE", "1")
    t.mark_ready()
    t.mark_ready()                # once per process
    assert len(started) == 1 and started[0][0][1:4] == ["-c", "code", "arg"]
