"""A large kernel's first compile on two cores: its time loop compiled aside.

A large model's Euler kernel is two functions compiled separately, its initialisation
(`euler_setup`) and its time loop (`euler_loop`, driver.euler_driver), and a first run
compiles them one after the other: World3 about 0.4 s and 0.7 s, the beer game 0.4 s and
0.9 s. Neither needs the other's machine code to be compiled, so a first run on a machine
with a free second core forks a process that compiles the time loop into Numba's on-disk
cache (the kernel is `cache=True`) while this process compiles the initialisation and runs
it; this process then waits for the other and loads the loop from the cache instead of
compiling it. The generic driver's first run does the same with its step (`advance_<m>`,
driver_generic.DRIVER's `_first_generic`). The machine code is the same either way: one
compiler, one source, one signature (the types of the very arguments the run passes).

The other process only saves time, it is never needed: if it cannot start, fails (a
compile error, reported when this process compiles the loop itself), is killed or
compiled other types, the loop is compiled here as before. It is not started where a fork
is unsafe or useless (`forking_helps`): outside Linux, with other Python threads running,
once Numba's parallel threads are started, with SIGCHLD ignored or handled, on one core or
with no core free, in the background compile worker, with the loop already in Numba's
cache, or with `SMARTSPEC_COMPILE_ASIDE=0`. It writes nothing to the terminal (its output
goes to /dev/null: this process says what it has to when it loads the loop); it ends with
this process however this one ends (Ctrl-C, its SIGTERM or SIGKILL, an exception). A fork
copies only the thread that forks: a lock another thread held stays held in the child for
good. Numba's compiler lock is taken across the fork (so no other thread is compiling),
and a child that uses no CPU for `STALL` seconds (stuck on a lock of a thread `threading`
does not know of, started by C code) is killed, and this process compiles the loop itself.
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
FAILED = 1 << 8  # a wait status: exited with 1


class Aside:
    """The process compiling `loop` for `signature` aside, started on entering the `with`
    block (`pid`; None when there is none, and always without a `loop`): on leaving the
    block this process waits for it; after an exception (Ctrl-C, a failed compile of the
    initialisation), or Ctrl-C while it waits, it is killed first, so that no compile
    outlives the run that started it."""

    def __init__(self, loop=None, signature: tuple = ()):
        self.loop, self.signature = loop, signature
        self.pid: int | None = None
        self.ok = False        # it exited normally: the loop is in the cache

    def __enter__(self) -> "Aside":
        if self.loop is None:
            return self
        from numba.core.compiler_lock import global_compiler_lock
        # Ctrl-C put off while the process splits: handled in the new process before it gives
        # SIGINT its default action, it would raise into the caller's code there (a second
        # "interrupted"); handled here before `pid` is set, it would leave the new process
        # unknown to the `with` block. (Holding the signal with a mask would not do: a signal
        # sent to the process goes to another thread, numpy's, when this one holds it.)
        came, parent = [], os.getpid()
        previous = signal.getsignal(signal.SIGINT)
        try:
            signal.signal(signal.SIGINT, lambda *_: came.append(True))
            with global_compiler_lock:       # no other thread compiling across the fork
                self.pid = os.fork()
            if self.pid == 0:
                _compile(self.loop, self.signature, parent)
        except OSError:
            pass
        finally:
            try:        # this process (the new one never returns here)
                signal.signal(signal.SIGINT, previous)
                if came:
                    signal.raise_signal(signal.SIGINT)      # handled now, the process known
            except BaseException:
                self.__exit__(*sys.exc_info())
                raise
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
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
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
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:     # collected by another (a SIGCHLD handler): status unknown
                return FAILED
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
    """Whether a compile aside may start here: on Linux, with two cores or more for this
    process and one of them free (`_core_free`; `SMARTSPEC_COMPILE_ASIDE=1` skips that
    check, `=0` turns the aside off), no other Python thread and no Numba thread pool (a
    forked child inherits none of their threads, only their locks), SIGINT's handler one
    Python can set and put back (the main thread's, not one installed by C code), and
    SIGCHLD's the default (a process that ignores its children, or collects them in a
    handler, would take this one's status)."""
    choice = os.environ.get(ENV, "")
    if not sys.platform.startswith("linux") or choice == "0":
        return False
    cores = len(os.sched_getaffinity(0))
    if cores < 2 or threading.active_count() != 1 or not (choice == "1" or _core_free(cores)):
        return False
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is None:
        return False
    if signal.getsignal(signal.SIGCHLD) != signal.SIG_DFL:
        return False      # children ignored (collected by the kernel) or collected by a handler
    parallel = sys.modules.get("numba.np.ufunc.parallel")
    return not getattr(parallel, "_is_initialized", False)


def _core_free(cores: int) -> bool:
    """Whether a core is free for the process aside now: fewer processes running than
    cores, this one included (/proc/loadavg's count of running tasks, the least of three
    reads 2 ms apart, so that a task waking for a moment does not count). On a busy
    machine the child would only take turns with this process and the run would wait for
    it (World3 on a machine loaded with other work: 1.2x slower with a fork)."""
    least = None
    for _ in range(3):
        try:
            with open("/proc/loadavg") as loadavg:
                running = int(loadavg.read().split()[3].split("/")[0])
        except (OSError, ValueError, IndexError):
            return True
        least = running if least is None else min(least, running)
        time.sleep(0.002)
    return least < cores


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


def _compile(loop, signature: tuple, parent: int) -> None:
    """The new process: compiles `loop` for `signature` into Numba's cache, exits 0 when it
    did; never returns into the caller's code. Its output goes to /dev/null; Ctrl-C kills it
    (SIGINT's default action, as the terminal signals the process group), and so does the
    end of its `parent` (`_end_with`)."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        _end_with(parent)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        loop.compile(signature)
        code = 0
    finally:
        os._exit(code)


def _end_with(parent: int) -> None:
    """This process is killed when `parent`, the process that forked it, ends, even where no
    code of the parent's runs (SIGKILL, SIGTERM: a timeout's kill): Linux's
    PR_SET_PDEATHSIG, asked with prctl. It ends now if the parent has ended already."""
    import ctypes
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL))
    if os.getppid() != parent:
        os._exit(1)


def loop_aside(loop, args: tuple) -> Aside:
    """The `Aside` that compiles the jitted function `loop` for the types of `args` (as a
    call with them would compile it) in a forked process, which saves it in Numba's on-disk
    cache: the process starts on entering the `with` block, to leave once the caller's own
    compile is done and before it calls `loop`. Without a process when `loop` is compiled
    already (here or in the cache) or `forking_helps()` says no."""
    if loop.overloads or in_cache(loop) or not forking_helps():
        return Aside()
    return Aside(loop, tuple(loop.typeof_pyval(a) for a in args))
