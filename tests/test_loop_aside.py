"""A large kernel's first compile on two cores (backend/loop_aside.py): the time loop
compiled in a forked process, loaded from Numba's cache by the run that started it.

Each case runs in a fresh process with an empty kernel cache, as a first load does (the
test process has threads and Numba's thread pool, where no compile aside starts)."""
import json
import os
import subprocess
import sys
import time

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
forks = []
real_fork = os.fork
def counted_fork():
    forks.append(1)
    return real_fork()
os.fork = counted_fork
path, method = sys.argv[1:]
m = smartspec_dsl.load(path, tier="interpreter")
res = m.run(tier="compiled", method=method)
step = getattr(m._tiers.module(), "euler_loop" if method == "euler" else "advance_1")
stats = step.stats
try:
    os.waitpid(-1, os.WNOHANG)
    children = True
except ChildProcessError:
    children = False
words = [w for w in ("compile", "exec", "eval") if w in m.kernel.source.lower()]
print(json.dumps(dict(hits=sum(stats.cache_hits.values()), misses=sum(stats.cache_misses.values()),
                      forks=len(forks), words=words, children=children, digest=hashlib.sha256(res.values.tobytes()).hexdigest(),
                      total=res["total"].tolist())))
"""


def _probe(path, cache, aside: bool, method: str = "euler") -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SMARTSPEC_CACHE_DIR": str(cache),
           "SMARTSPEC_BACKGROUND_COMPILE": "0", "SMARTSPEC_COMPILE_ASIDE": "1" if aside else "0"}
    done = subprocess.run([sys.executable, "-c", _PROBE, str(path), method], capture_output=True, text=True,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""     # the forked process writes nothing
    return json.loads(done.stdout)


def _script(tmp_path, text: str, timeout: float) -> subprocess.CompletedProcess:
    """`text` run as a script in a fresh process, the compile aside forced on, with its own
    Numba cache (its functions' machine code: no other test's)."""
    (tmp_path / "script.py").write_text(text)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_CACHE_DIR": str(tmp_path / "numba"),
           "SMARTSPEC_COMPILE_ASIDE": "1"}
    return subprocess.run([sys.executable, str(tmp_path / "script.py")], capture_output=True, text=True, env=env,
                          timeout=timeout)


@pytest.mark.parametrize("method", ["euler", "rk4"])
@pytest.mark.parametrize("fixed_delay", [False, True], ids=["plain", "with buffers"])
def test_the_step_compiled_aside_is_loaded_from_the_cache_with_the_same_numbers(tmp_path, fixed_delay, method):
    path = model_file(tmp_path, _ring(fixed_delay))
    aside = _probe(path, tmp_path / "aside", True, method)
    alone = _probe(path, tmp_path / "alone", False, method)
    # the run that started the compile aside loaded the time loop (Euler's specialised
    # driver) or the step (the generic driver's, RK4) from the cache the other process
    # wrote; without it, the run compiled it itself
    assert (aside["forks"], aside["hits"], aside["misses"]) == (1, 1, 0)
    assert (alone["forks"], alone["hits"], alone["misses"]) == (0, 0, 1)
    assert not aside["children"]                 # waited for, nothing left behind
    assert aside["words"] == []      # the generated kernel, comments too, names no compile, exec, eval
    assert aside["digest"] == alone["digest"]    # the same machine code's numbers, bit for bit
    # the ring keeps its total, the initial values' sum, at every saved time
    assert aside["total"] == pytest.approx([sum(map(_start, range(N)))] * 11, rel=1e-12)
    # a later process finds the kernel in the cache: it forks nothing
    warm = _probe(path, tmp_path / "aside", True, method)
    assert warm["forks"] == 0 and warm["digest"] == aside["digest"]


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
    done = _script(tmp_path, _OTHER_TYPES, timeout=300)
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
    done = _script(tmp_path, _INTERRUPTED_WAIT, timeout=50)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"


_STUCK = """
import _thread, os, threading
from numba import njit
from smartspec_dsl.backend import loop_aside as aside_module
from smartspec_dsl.backend.loop_aside import loop_aside

@njit(cache=True)
def twice(x):
    return x * 2

# a lock held, at the fork, by a thread that `threading` does not count (as C code's): the
# child's compile waits on it for good, using no CPU
held, release = threading.Lock(), threading.Lock()
release.acquire()
def holder():
    with held:
        release.acquire()
_thread.start_new_thread(holder, ())
while not held.locked():
    pass
real_compile = twice.compile
def blocked(sig):
    with held:
        return real_compile(sig)
twice.compile = blocked
aside_module.STALL = 0.5
with loop_aside(twice, (1.5,)) as aside:
    pid = aside.pid
release.release()
twice.compile = real_compile
print(pid is not None, aside.ok, os.path.exists(f"/proc/{pid}"), twice(1.5),
      sum(twice.stats.cache_misses.values()))
"""


def test_a_stuck_process_aside_is_killed_and_the_step_compiles_here(tmp_path):
    done = _script(tmp_path, _STUCK, timeout=120)
    assert done.returncode == 0, done.stderr
    # forked, killed when stuck (not ok, gone), then compiled here: the right number, a cache miss
    assert done.stdout.split() == ["True", "False", "False", "3.0", "1"]


# Ctrl-C (a SIGINT this process sends itself) as the process splits: it is handled once the new
# process is known to the `with` block, which then kills and collects it, and SIGINT's handler
# is the one before. The "compile" takes 30 s.
_CTRL_C = """
import os, signal, time
from numba import njit
from smartspec_dsl.backend.loop_aside import loop_aside

@njit(cache=True)
def slow(x):
    return x + 1
slow.compile = lambda sig: time.sleep(30)

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
    with loop_aside(slow, (1.5,)):
        print("block ran")
except KeyboardInterrupt:
    print("interrupted as it split", len(forks) == 1 and forks[0] > 0 and gone(forks[0]))
os.fork = real_fork
print("handler back", signal.getsignal(signal.SIGINT) is signal.default_int_handler)
"""


def test_ctrl_c_as_the_process_splits_leaves_no_compile(tmp_path):
    done = _script(tmp_path, _CTRL_C, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["interrupted as it split True", "handler back True"]


# The run killed while its compile aside runs (SIGKILL: no code of its own runs; a timeout's
# kill, an IDE's stop): the process compiling aside ends with it rather than compiling on.
_KILLED = """
import os, signal, sys, time
from numba import njit
from smartspec_dsl.backend.loop_aside import loop_aside

@njit(cache=True)
def slow(x):
    return x + 1
slow.compile = lambda sig: time.sleep(60)
with loop_aside(slow, (1.5,)) as aside:
    print(aside.pid, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_the_process_aside_ends_with_a_killed_run(tmp_path):
    done = _script(tmp_path, _KILLED, timeout=120)
    assert done.returncode == -9, done.stderr
    pid = int(done.stdout)
    deadline = time.monotonic() + 20      # its "compile" would last a minute
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(pid)


_CHILDREN_IGNORED = """
import os, signal, sys
signal.signal(signal.SIGCHLD, signal.SIG_IGN)      # as a daemon that starts this process may leave it
forks = []
real_fork = os.fork
def counted_fork():
    forks.append(1)
    return real_fork()
os.fork = counted_fork
import smartspec_dsl
res = smartspec_dsl.load(sys.argv[1], tier="compiled").run(tier="compiled")
print(len(forks), res["total"][-1])
"""


def test_a_process_that_ignores_its_children_runs_a_large_model(tmp_path):
    path = model_file(tmp_path, _ring(False))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SMARTSPEC_CACHE_DIR": str(tmp_path / "cache"),
           "SMARTSPEC_BACKGROUND_COMPILE": "0", "SMARTSPEC_COMPILE_ASIDE": "1"}
    done = subprocess.run([sys.executable, "-c", _CHILDREN_IGNORED, str(path)], capture_output=True, text=True,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    forks, total = done.stdout.split()
    # no process aside (its status would be lost), and the run's numbers: the ring's total
    assert forks == "0" and float(total) == pytest.approx(sum(map(_start, range(N))), rel=1e-12)
