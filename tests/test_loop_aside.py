"""A large kernel's first compile on two cores (backend/loop_aside.py): the time loop
compiled in a forked process, loaded from Numba's cache by the run that started it.

Each case runs in a fresh process with an empty kernel cache, as a first load does (the
test process has threads and Numba's thread pool, where no compile aside starts)."""
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, equations, model_file

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux") or len(os.sched_getaffinity(0)) < 2,
                                reason="a compile aside starts on Linux with two cores or more")

N = 120   # stocks: more initialisation than driver.ONE_FUNCTION lines, the large model's driver


def _start(i: int) -> int:
    """Stock i's initial value: no affine sequence, which the code generator would roll
    into one loop of the initialisation"""
    return (31 * i * i + 7 * i) % 997 + 1


def _ring(fixed_delay: bool) -> str:
    """A ring of N stocks, each draining into the next (hand-checkable: the total is kept),
    with a DELAY FIXED (a kernel with buffers: simulate_held) when asked."""
    lines = ["INITIAL TIME = 0", "FINAL TIME = 10", "TIME STEP = 0.25", "SAVEPER = 1", "base = 1"]
    for i in range(N):
        lines += [f"s{i} = INTEG(inflow{i} - outflow{i}, start{i})", f"start{i} = base * {_start(i)}",
                  f"outflow{i} = s{i} * 0.1",
                  f"inflow{i} = outflow{(i - 1) % N}"]
    lines.append("total = " + " + ".join(f"s{i}" for i in range(N)))
    if fixed_delay:
        lines.append("late = DELAY FIXED(s0, 2, 1)")
    return equations(*lines)


_PROBE = """
import json, os, sys, hashlib
import smartspec_dsl
m = smartspec_dsl.load(sys.argv[1], tier="compiled")
loop = m._tiers.module().euler_loop
stats = loop.stats
res = m.run(tier="compiled")
try:
    os.waitpid(-1, os.WNOHANG)
    children = True
except ChildProcessError:
    children = False
print(json.dumps(dict(hits=sum(stats.cache_hits.values()), misses=sum(stats.cache_misses.values()),
                      children=children, digest=hashlib.sha256(res.values.tobytes()).hexdigest(),
                      total=res["total"].tolist(), columns=list(res.columns))))
"""


def _probe(path, cache, aside: bool) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SMARTSPEC_CACHE_DIR": str(cache),
           "SMARTSPEC_BACKGROUND_COMPILE": "0", "SMARTSPEC_COMPILE_ASIDE": "1" if aside else "0"}
    done = subprocess.run([sys.executable, "-c", _PROBE, str(path)], capture_output=True, text=True, env=env,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""     # the forked process writes nothing
    return json.loads(done.stdout)


@pytest.mark.parametrize("fixed_delay", [False, True], ids=["plain", "with buffers"])
def test_the_loop_compiled_aside_is_loaded_from_the_cache_with_the_same_numbers(tmp_path, fixed_delay):
    path = model_file(tmp_path, _ring(fixed_delay))
    aside = _probe(path, tmp_path / "aside", aside=True)
    alone = _probe(path, tmp_path / "alone", aside=False)
    # the run that started the compile aside loaded the loop from the cache the other
    # process wrote; without it, the run compiled the loop itself
    assert (aside["hits"], aside["misses"]) == (1, 0)
    assert (alone["hits"], alone["misses"]) == (0, 1)
    assert not aside["children"]                 # waited for, nothing left behind
    assert aside["digest"] == alone["digest"]    # the same machine code's numbers, bit for bit
    # the ring keeps its total, the initial values' sum, at every saved time
    assert aside["total"] == pytest.approx([sum(map(_start, range(N)))] * 11, rel=1e-12)


_OTHER_TYPES = """
import os, sys
from numba import njit
from smartspec_dsl.backend.loop_aside import loop_aside, forking_helps

@njit(cache=True)
def twice(x):
    return x * 2

assert forking_helps()
with loop_aside(twice, (1.5,)) as aside:
    pid = aside.pid
assert pid is not None and aside.ok
# compiled aside for a float; called with an int, it compiles that here
print(twice(21), sum(twice.stats.cache_hits.values()), sum(twice.stats.cache_misses.values()))
@njit(cache=True)
def thrice(x):
    return x * 3

try:
    with loop_aside(thrice, (1.5,)) as aside:
        killed = aside.pid
        raise KeyboardInterrupt
except KeyboardInterrupt:
    pass
print(killed is not None and not os.path.exists(f"/proc/{killed}"))
"""


def test_other_types_or_an_interrupt_compile_here(tmp_path):
    (tmp_path / "m.py").write_text(_OTHER_TYPES)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_CACHE_DIR": str(tmp_path / "numba"),
           "SMARTSPEC_COMPILE_ASIDE": "1"}
    done = subprocess.run([sys.executable, str(tmp_path / "m.py")], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.splitlines()
    assert first == "42 0 1"      # the int signature missed the cache and compiled here
    assert second == "True"       # the process compiling aside was killed and reaped with the interrupt


_INTERRUPTED_WAIT = """
import os, signal, threading
from numba import njit
from smartspec_dsl.backend.loop_aside import loop_aside

@njit(cache=True)
def slow(x):
    return x + 1

# the compile aside of `slow` made to last: its process sleeps before compiling
real_compile = slow.compile
def sleepy(sig):
    import time
    time.sleep(60)
    return real_compile(sig)
slow.compile = sleepy
try:
    with loop_aside(slow, (1.5,)) as aside:
        pid = aside.pid
        signal.setitimer(signal.ITIMER_REAL, 0.3)     # Ctrl-C while the run waits for it
        signal.signal(signal.SIGALRM, lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
except KeyboardInterrupt:
    print(pid is not None and not os.path.exists(f"/proc/{pid}"))
"""


def test_an_interrupt_while_waiting_ends_the_process_aside(tmp_path):
    (tmp_path / "m.py").write_text(_INTERRUPTED_WAIT)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_CACHE_DIR": str(tmp_path / "numba"),
           "SMARTSPEC_COMPILE_ASIDE": "1"}
    done = subprocess.run([sys.executable, str(tmp_path / "m.py")], capture_output=True, text=True, env=env,
                          timeout=50)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"


# Ctrl-C (a SIGINT this process sends itself) as the process splits: the signal waits until the
# new process is known to the `with` block, which then kills and collects it; the new process
# never handles it (it would raise into the caller's code there). The "compile" takes 30 s.
_CTRL_C = """
import os, signal, time
from smartspec_dsl.backend.loop_aside import loop_aside

class Slow:
    overloads = {}
    def typeof_pyval(self, value):
        return value
    def compile(self, signature):
        time.sleep(30)

def gone(pid):
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False

forks = []
real_fork = os.fork
def fork_after_ctrl_c():
    os.kill(os.getpid(), signal.SIGINT)
    forks.append(real_fork())
    return forks[-1]
os.fork = fork_after_ctrl_c
try:
    with loop_aside(Slow(), ()):
        print("block ran")
except KeyboardInterrupt:
    print("interrupted as it split", len(forks) == 1 and forks[0] > 0 and gone(forks[0]))
os.fork = real_fork
print("SIGINT held", signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, ()))
"""


def test_ctrl_c_as_the_process_splits_leaves_no_compile(tmp_path):
    (tmp_path / "ctrl_c.py").write_text(_CTRL_C)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SMARTSPEC_COMPILE_ASIDE": "1"}
    done = subprocess.run([sys.executable, str(tmp_path / "ctrl_c.py")], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["interrupted as it split True", "SIGINT held False"]
