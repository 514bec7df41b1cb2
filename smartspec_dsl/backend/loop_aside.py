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
with this process.
"""
from __future__ import annotations

import os
import signal
import sys
import threading

ENV = "SMARTSPEC_COMPILE_ASIDE"


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
        # every signal held while the process splits: a Ctrl-C handled in the new process
        # before it gives SIGINT its default action would raise into the caller's code there
        # (a second "interrupted"), and one handled here before `pid` is set would leave the
        # new process unknown to the `with` block (the new process inherits the mask, not
        # the signals pending)
        held = signal.pthread_sigmask(signal.SIG_BLOCK, ())
        try:
            signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
            self.pid = os.fork()
        except OSError:
            pass
        except BaseException:     # a handler due from before the signals were held
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
            raise
        if self.pid == 0:
            _compile(self.loop, self.signature, held)
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)    # a Ctrl-C meanwhile: raised here
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
            _, status = os.waitpid(pid, 0)
        except BaseException:      # Ctrl-C while waiting: the compile ends with the run
            _kill(pid)
            os.waitpid(pid, 0)
            raise
        self.ok = kind is None and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        return False


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _compile(loop, signature: tuple, held) -> None:
    """The new process: compiles `loop` for `signature` into Numba's cache, exits 0 when it
    did; never returns into the caller's code. Its output goes to /dev/null, and Ctrl-C
    kills it (SIGINT's default action, as the terminal signals the process group), once
    the signals `held` by the parent are no longer."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        loop.compile(signature)
        code = 0
    finally:
        os._exit(code)


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


def loop_aside(loop, args: tuple) -> Aside:
    """The `Aside` that compiles the jitted function `loop` for the types of `args` (as a
    call with them would compile it) in a forked process, which saves it in Numba's on-disk
    cache: the process starts on entering the `with` block, to leave once the caller's own
    compile is done and before it calls `loop`. Without a process when `loop` is compiled
    already or `forking_helps()` says no."""
    if loop.overloads or not forking_helps():
        return Aside()
    return Aside(loop, tuple(loop.typeof_pyval(a) for a in args))
