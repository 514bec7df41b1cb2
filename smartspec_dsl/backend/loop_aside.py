"""A large kernel's first compile on two cores: its time loop compiled aside.

A large model's Euler kernel is two functions compiled separately, its initialisation
(`euler_setup`) and its time loop (`euler_loop`, driver.euler_driver), and a first run
compiles them one after the other: World3 about 0.4 s and 0.7 s, the beer game 0.4 s and
0.9 s. Neither needs the other's machine code to be compiled, so a first run on a machine
with two cores or more forks a process that compiles the time loop into Numba's on-disk
cache (the kernel is `cache=True`) while this process compiles the initialisation and runs
it; this process then waits for the other and loads the loop from the cache instead of
compiling it. The machine code is the same either way: one compiler, one source, one
signature (the types of the very arguments the run passes).

The other process only saves time, it is never needed: if it cannot start, fails (a
compile error, reported when this process compiles the loop itself), is killed or
compiled other types, the loop is compiled here as before. It is not started where a fork
is unsafe or useless: outside Linux, with other Python threads running, once Numba's
parallel threads are started, on one core, in the background compile worker, or with
`SMARTSPEC_COMPILE_ASIDE=0`. It writes nothing to the terminal (its output goes to
/dev/null: this process says what it has to when it loads the loop), and Ctrl-C ends it
with this process. A fork copies only the thread that forks: a lock another thread held
stays held in the child for good. Numba's compiler lock is taken across the fork (so no
other thread is compiling), and a child that uses no CPU for `STALL` seconds (stuck on a
lock of a thread `threading` does not know of, started by C code) is killed, and this
process compiles the loop itself.
"""
from __future__ import annotations

import os
import select
import signal
import sys
import threading
import time

ENV = "SMARTSPEC_COMPILE_ASIDE"
STALL = 5.0      # seconds without CPU time after which the child counts as stuck


class Aside:
    """The process compiling a loop aside (`pid`, None when there is none): on leaving the
    `with` block this process waits for it; after an exception (Ctrl-C, a failed compile of
    the initialisation) it is killed first, so that no compile outlives the run that
    started it."""

    def __init__(self, pid: int | None = None):
        self.pid = pid
        self.ok = False        # it exited normally: the loop is in the cache

    def __enter__(self) -> "Aside":
        return self

    def __exit__(self, kind, err, tb) -> bool:
        if self.pid is None:
            return False
        pid, self.pid = self.pid, None
        try:
            if kind is not None:
                _kill(pid)
            status = _wait(pid)
        except BaseException:      # Ctrl-C while waiting: the compile ends with the run
            _kill(pid)
            os.waitpid(pid, 0)
            raise
        self.ok = kind is None and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        return False


def _wait(pid: int) -> int:
    """The child's exit status, once it ends or, stuck (no CPU time for STALL seconds), is
    killed. Woken by the child's end (a pidfd) where Linux has them, else every 10 ms."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = None
    try:
        ticks, since = _cpu_ticks(pid), time.monotonic()
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return status
            if fd is None:
                time.sleep(0.01)
            else:
                select.select([fd], [], [], 0.5)
            now, used = time.monotonic(), _cpu_ticks(pid)
            if used != ticks:
                ticks, since = used, now
            elif now - since > STALL:
                _kill(pid)
    finally:
        if fd is not None:
            os.close(fd)


def _cpu_ticks(pid: int) -> int:
    """The process's user + system CPU time in clock ticks (/proc/<pid>/stat), -1 if unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        return int(fields[11]) + int(fields[12])      # utime, stime: the stat's 14th and 15th
    except (OSError, IndexError, ValueError):
        return -1


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def forking_helps() -> bool:
    """Whether a compile aside may start here: Linux, two cores or more for this process, no
    other Python thread and no Numba thread pool (a forked child inherits none of their
    threads, only their locks), and not turned off (`SMARTSPEC_COMPILE_ASIDE=0`)."""
    if not sys.platform.startswith("linux") or os.environ.get(ENV, "1") == "0":
        return False
    if len(os.sched_getaffinity(0)) < 2 or threading.active_count() != 1:
        return False
    parallel = sys.modules.get("numba.np.ufunc.parallel")
    return not getattr(parallel, "_is_initialized", False)


def in_cache(function) -> bool:
    """Whether Numba's on-disk cache holds machine code of the jitted `function` (its index
    file, for any signature): a later process loads it sooner than a fork compiles it. True
    when the index cannot be found (another Numba's cache layout): then nothing forks."""
    cache_file = getattr(getattr(function, "_cache", None), "_cache_file", None)
    index = getattr(cache_file, "_index_path", None)
    return index is None or os.path.exists(index)


def uncached(function) -> bool:
    """Whether a call of the jitted `function` compiles it: no machine code in this process
    nor in Numba's cache."""
    return not function.overloads and not in_cache(function)


def loop_aside(loop, args: tuple) -> Aside:
    """Start compiling the jitted function `loop` for the types of `args` (as a call with
    them would compile it) in a forked process, which saves it in Numba's on-disk cache.
    Returns the `Aside` to leave once the caller's own compile is done, and before it
    calls `loop`; with no process when `loop` is compiled already (here or in the cache) or
    `forking_helps()` says no."""
    if loop.overloads or in_cache(loop) or not forking_helps():
        return Aside()
    from numba.core.compiler_lock import global_compiler_lock
    signature = tuple(loop.typeof_pyval(a) for a in args)
    try:
        with global_compiler_lock:       # no other thread compiling across the fork
            pid = os.fork()
    except OSError:
        return Aside()
    if pid:
        return Aside(pid)
    code = 1
    try:      # the child: never returns into the caller's code
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        loop.compile(signature)
        code = 0
    finally:
        os._exit(code)
