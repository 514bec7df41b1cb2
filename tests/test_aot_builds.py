"""The background builds ahead of time (backend/aot.py): one at a time per install, a killed
one replaced and its leftovers removed, no warning about the process left running, and the
interpreter folders of earlier versions removed (backend/tier0.py)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from smartspec_dsl.backend import aot, tier0

from conftest import ROOT

SLEEP = "import time; time.sleep(60)"      # a build that runs until it is killed


@pytest.fixture
def install(tmp_path, monkeypatch):
    monkeypatch.setenv("SMARTSPEC_INTERPRETER_CACHE", str(tmp_path / "install"))
    monkeypatch.setattr(aot, "have_compiler", lambda: True)
    monkeypatch.setattr(aot, "_STARTED", [])
    yield tmp_path
    for proc in aot._STARTED:
        proc.kill()
        proc.wait()


def test_one_build_at_a_time_and_a_killed_one_is_replaced(install):
    a, b = install / "k1" / "a.so", install / "k2" / "b.so"
    assert aot.start_build(a, SLEEP, []) is True
    slot = aot.build_slot()
    assert slot.read_text() == str(aot._STARTED[0].pid)        # the build's own process holds it
    assert aot.start_build(b, SLEEP, []) is False               # another model's: waits its turn
    assert len(aot._STARTED) == 1

    aot._STARTED[0].kill()                                      # a build killed (shutdown, OOM)
    aot._STARTED[0].wait()
    leftover = b.parent / ".aot-build-x1y2"
    (leftover / "pycc-build").mkdir(parents=True)
    assert slot.exists()                                        # it could not release the slot
    assert aot.start_build(b, SLEEP, []) is True                # at once, not after 30 minutes
    assert not leftover.exists()
    assert slot.read_text() == str(aot._STARTED[-1].pid)


def test_a_build_releases_only_its_own_slot(install):
    slot = aot.build_slot()
    slot.parent.mkdir(parents=True)
    slot.write_text("1")                     # taken over meanwhile by another build
    aot.build_worker(lambda: None, str(install / "x.failed"), str(slot))
    assert slot.read_text() == "1"
    slot.write_text(str(os.getpid()))
    aot.build_worker(lambda: None, str(install / "x.failed"), str(slot))
    assert not slot.exists()


def test_no_warning_about_the_build_left_running(tmp_path):
    """A run that starts a build and exits says nothing about it (Python warns about a
    subprocess still running when its Popen is dropped, with -W default or under pytest)."""
    code = ("import sys; from pathlib import Path; from smartspec_dsl.backend import aot\n"
            "aot.have_compiler = lambda: True\n"
            f"assert aot.start_build(Path(sys.argv[1]), {SLEEP!r}, [])\n"
            "import gc; gc.collect()\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT), SMARTSPEC_INTERPRETER_CACHE=str(tmp_path / "install"))
    out = subprocess.run([sys.executable, "-W", "always", "-c", code, str(tmp_path / "k" / "m.so")],
                         capture_output=True, text=True, env=env, timeout=120)
    slot = tmp_path / "install" / "aot-build.lock"
    try:
        assert out.returncode == 0, out.stderr
        assert "ResourceWarning" not in out.stderr and "still running" not in out.stderr, out.stderr
    finally:
        os.kill(int(slot.read_text()), 9)


def test_the_interpreter_folders_of_other_versions_are_removed(tmp_path, monkeypatch):
    monkeypatch.setenv("SMARTSPEC_INTERPRETER_CACHE", str(tmp_path))
    key = tier0.version()
    for name in ("interpreter-0123456789abcdef0123", f"interpreter-{key}"):
        (tmp_path / name / "__pycache__").mkdir(parents=True)
        (tmp_path / name / "__pycache__" / "interpreter.simulate-461.py311.nbi").write_bytes(b"x")
    (tmp_path / "aot-build.lock").write_text("1")
    tier0.remove_other_versions(key)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["aot-build.lock", f"interpreter-{key}"]
    assert (tmp_path / f"interpreter-{key}" / "__pycache__" / "interpreter.simulate-461.py311.nbi").exists()


def test_loads_in_a_row_compile_one_kernel_at_a_time(install, monkeypatch):
    """Background compiles of the default tier (runtime/tiers.py) share the slot: the second
    model's waits (its runs stay on the interpreter), and starts once the first is done."""
    monkeypatch.setenv("SMARTSPEC_BACKGROUND_COMPILE", "1")
    from smartspec_dsl.runtime.tiers import Tiers
    first, second = (Tiers(None, install / f"k{i}" / "kernel.py", None, [SLEEP]) for i in (1, 2))
    assert first.start_worker() is True and first.start_worker() is True     # the same worker
    assert second.start_worker() is False and second.worker is None
    first.worker.kill()
    first.worker.wait()
    assert second.start_worker() is True
    assert aot.build_slot().read_text() == str(second.worker.pid)
