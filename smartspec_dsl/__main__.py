"""The `smartspec` executable (and `python -m smartspec_dsl`). Ctrl-C is one line and
exit 130 from the process's first instant: the SIGINT handler is installed first
(errors.Interrupted says why it is ours) and the command line is imported inside the same
guard as the commands, so Ctrl-C while Python loads numpy and Numba is answered too."""
import signal
import sys

from .errors import raise_interrupted


def main(argv=None) -> int:
    """The command line of `argv` (the process's own when None: the process then ends with
    it, and keeps ignoring Ctrl-C once the command is done, cli.run_process)."""
    ending = argv is None
    previous = signal.signal(signal.SIGINT, raise_interrupted)
    try:
        try:
            from .cli import run_process
        except KeyboardInterrupt:
            if ending:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
            print("\ninterrupted", file=sys.stderr)
            return 130
        return run_process(argv, ending)
    finally:
        if not ending:
            signal.signal(signal.SIGINT, previous)


if __name__ == "__main__":
    sys.exit(main())
