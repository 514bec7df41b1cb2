"""The `smartspec` command: one module per command (its arguments in `add_parser`, its
work in `main`); this module assembles the parser and dispatches."""
from __future__ import annotations

import argparse
import gc
import importlib
import os
import signal
import sys
from pathlib import Path

from ..errors import ModelError, SpecError, interrupt_came, raise_interrupted
from ..files import check_writable
from .. import __version__

# command -> the module of this package that defines it, in the order `smartspec --help` lists them
COMMANDS = {"run": "run", "calibrate": "calibrate", "check": "check", "info": "info", "vars": "info",
            "convert": "convert", "sweep": "sweep", "plot": "plot", "sensitivity": "sensitivity",
            "bench": "bench", "explore": "explore", "cache": "cache"}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or only of `command` when it is one: a command imports
    only its own module (a run does not wait for what sweeps, plots or sensitivity need)."""
    ap = argparse.ArgumentParser(prog="smartspec", description="Compile and run Vensim models.")
    ap.add_argument("--version", action="version", version=f"smartspec {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)
    modules = [COMMANDS[command]] if command in COMMANDS else dict.fromkeys(COMMANDS.values())
    for name in modules:
        importlib.import_module(f"{__name__}.{name}").add_parser(sub)
    sub.add_parser("evaluate", help="entropy-weight TOPSIS evaluation (see smartspec evaluate -h)",
                   add_help=False)
    return ap


def check_outputs(args) -> None:
    """Before any work: the output named by -o can be written (a file for every command
    but sweep, whose output is a directory)."""
    out = getattr(args, "output", None)
    if not out or (out == "-" and args.command == "run"):     # `run -o -`: stdout
        return
    if args.command != "sweep":
        check_writable(out)
        return
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise SpecError(f"{out}: cannot write the sweep there: it is a file, and a sweep writes a "
                        "directory (of Parquet chunks and manifest.json)")
    existing = next((p for p in [path, *path.parents] if p.exists()), Path("."))
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise SpecError(f"{out}: cannot write the sweep there: {existing} is not a writable directory")


def end_quickly() -> None:
    """Called by the `smartspec` process once its command is done: Python's last garbage
    collection would walk every object Numba and LLVM made (a quarter of a second after
    the output is written, measured on World3); frozen, they are left to the end of the
    process. Atexit handlers and the outputs' closing (files.replacing) do not depend on it."""
    gc.freeze()


def run_process(argv=None, ending: bool = False) -> int:
    """The command as the `smartspec` process runs it: `main`, then `end_quickly`; a Ctrl-C
    that lands after the command's own handling, while it ends, is the same one line and 130.

    `ending` (the process's entry points, which end with the command): once the command's
    outcome is known, its output written (`main` flushes stdout), Ctrl-C is ignored. Python
    gives SIGINT back its default action early in its shutdown (before it frees the modules:
    tenths of a second with Numba loaded), and a Ctrl-C landing there killed the process by
    the signal: no line, status -2 instead of 130 or the command's own. And a Ctrl-C whose
    exception Python could only report (`_unraisable`) is not lost."""
    if ending:
        sys.unraisablehook = _unraisable(sys.unraisablehook)
    interrupted = False
    try:
        code = main(argv)
        end_quickly()
    except KeyboardInterrupt:
        interrupted = True
    except Exception:
        # Ctrl-C raised inside code that made it another error (an import interrupted
        # half way): still the user's interruption, not a failure of the command
        if not interrupt_came():
            raise
        interrupted = True
    if ending:
        for signum in (signal.SIGINT, signal.SIGALRM):      # SIGALRM: `_unraisable`'s
            signal.signal(signum, signal.SIG_IGN)
    if interrupted:
        print("\ninterrupted", file=sys.stderr)
        return 130
    return code


def _unraisable(report):
    """The hook for errors Python can only report (`sys.unraisablehook`): a finaliser's, a
    ctypes callback's, an atexit function's. Ctrl-C's handler runs at the first Python code
    after the signal, and while LLVM compiles in C that is often a callback of its own
    (llvmlite's object cache: a Ctrl-C during a compile was lost, reported as "Exception
    ignored on calling ctypes callback function ... Interrupted", and the command went on):
    such an interruption is raised again a millisecond later, by a timer (SIGALRM) whose
    handler is the same, in the code then running. Once Ctrl-C came, other such errors are
    the interruption's doing (llvmlite's half made objects failing in their finalisers),
    which the one line says: they are not reported. `report` reports the others."""
    def hook(info):
        if isinstance(info.exc_value, KeyboardInterrupt):
            if signal.getsignal(signal.SIGINT) is raise_interrupted:
                signal.signal(signal.SIGALRM, raise_interrupted)
                signal.setitimer(signal.ITIMER_REAL, 0.001)
        elif not interrupt_came():
            report(info)
    return hook


def main(argv=None) -> int:
    """The command line; every error a user can cause is one line on stderr and exit 2,
    Ctrl-C is one line and exit 130, and a closed pipe (`| head`) ends quietly."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "evaluate":
            from ..app import evaluate
            code = evaluate.main(argv[1:])
        else:
            args = build_parser(argv[0] if argv else None).parse_args(argv)
            check_outputs(args)
            code = args.func(args)
        sys.stdout.flush()      # written while Ctrl-C and a closed pipe are answered here
        return code
    except ModelError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`smartspec run m.mdl | head`): nothing left to say, and
        # Python must not complain when it flushes stdout at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except OSError as err:
        where = err.filename if err.filename is not None else "error"
        print(f"error: {where}: {err.strerror or err}", file=sys.stderr)
        return 2
    except MemoryError:
        print("error: out of memory (see the limits in the README: a larger SAVEPER, fewer "
              "variables, smaller subscript ranges)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
