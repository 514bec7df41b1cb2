"""The `smartspec` executable (and `python -m smartspec_dsl`, `python -m smartspec_dsl.cli`).
Ctrl-C is one line and exit 130 from the process's first instant: the command line is
imported inside the same guard as the commands, so Ctrl-C while Python loads numpy and
Numba is answered too."""
import signal
import sys


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, as the command line's own SIGINT handler raises it.

    Not a plain KeyboardInterrupt because CPython (3.11, 3.12) marks the process for death
    by SIGINT when exactly a KeyboardInterrupt leaves code run by a string `exec`/`eval`
    (`run_eval_code_obj`), even when a caller catches it, and a `python -m` process then
    kills itself with the signal at exit instead of exiting 130; Numba compiles by string
    `exec`, and dataclasses and namedtuples are made that way. A subclass is caught by every
    `except KeyboardInterrupt` as before."""


def _interrupt(signum, frame):
    raise Interrupted


def main(argv=None) -> int:
    previous = signal.signal(signal.SIGINT, _interrupt)
    try:
        try:
            from .cli import end_quickly, main as cli_main
        except KeyboardInterrupt:
            print("\ninterrupted", file=sys.stderr)
            return 130
        try:
            return cli_main(argv)
        finally:
            end_quickly()
    finally:
        signal.signal(signal.SIGINT, previous)


if __name__ == "__main__":
    sys.exit(main())
